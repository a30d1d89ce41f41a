/*
 * region.c - mappings of one entry and the operations on them (region.h).
 *
 * Mapping lengths are whole pages and never zero: a region of 0 bytes keeps
 * one page mapped past the end of the file. Nothing ever touches bytes at or
 * past the region's size, so that page is never faulted in; keeping it
 * spares every path a special case for "no mapping".
 */
#include "region.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cow.h"
#include "fault.h"
#include "instance.h"
#include "log.h"
#include "thread.h"

struct region {
	struct entry entry;		/* deep copy: name and path are ours */
	int fd;
	uint64_t page;
	/* Taken after the slot's lifetime lock (table.h) and before error_mu;
	 * never held while waiting for the kernel. */
	pthread_rwlock_t lock;

	/* Mappings and their sizes change only under the exclusive lock; the
	 * sizes are atomic so that getattr can read them without it. */
	char *ro_map, *rw_map;
	_Atomic uint64_t size;
	struct cow cow;			/* cow.map NULL: no cow view */
	/* A window's size as configured or last resized: what it shows again
	 * once a file cut outside the mount has grown back. */
	_Atomic uint64_t intended;
	/* Whether something stored into rw_map since the last msync of it
	 * (SPEC "rw/NAME": msync where the mapping holds dirty pages). Set
	 * after each store, cleared by the sync before its msync; writes that
	 * go by pwrite(2) leave it as it is. */
	_Atomic bool map_dirty;
	/* CLOCK_MONOTONIC_COARSE ns of the last fsync/fdatasync of rw/NAME:
	 * while they come often, small writes go by pwrite too. */
	_Atomic int64_t last_fsync;

	/* cow/NAME@TAG: their cow views are under LOCK too. */
	struct instance_table instances;

	_Atomic uint64_t reads, writes, flushes, resizes, moves, resets, forks, commits, errors;
	pthread_mutex_t error_mu;
	char last_error[REASON_MAX + 16];	/* "FILE: reason" */
};

/* Counts one FIELD of the cow view IN is (NULL: cow/NAME, whose counters
 * are the entry's). */
#define COUNT(r, in, field) \
	atomic_fetch_add((in) ? &(in)->counters.field : &(r)->field, 1)

/* The cow view of instance IN, or cow/NAME's for NULL. */
static struct cow *cow_of(struct region *r, struct instance *in)
{
	return in ? &in->cow : &r->cow;
}

static uint64_t map_length(const struct region *r, uint64_t size)
{
	uint64_t len = (size + r->page - 1) & ~(r->page - 1);

	return len ? len : r->page;
}

static uint64_t page_count(const struct region *r, uint64_t size)
{
	return (size + r->page - 1) / r->page;
}

static void advise(const struct region *r, void *map, uint64_t len)
{
	if (r->entry.advice != MADV_NORMAL && madvise(map, len, r->entry.advice) < 0)
		log_msg(LOG_DEBUG, "[%s] madvise(%s): %s", r->entry.name,
			entry_advice_name(r->entry.advice), strerror(errno));
}

/* Maps SIZE bytes of FD (R's file) at the entry's offset; NULL (errno
 * set) on failure. */
static char *map_fd(struct region *r, int fd, uint64_t size, int prot, int flags)
{
	uint64_t len = map_length(r, size);
	void *map = mmap(NULL, len, prot, flags, fd, (off_t)r->entry.offset);

	if (map == MAP_FAILED)
		return NULL;
	advise(r, map, len);
	return map;
}

static char *map_view(struct region *r, uint64_t size, int prot, int flags)
{
	return map_fd(r, r->fd, size, prot, flags);
}

/* Moves MAP from OLD_SIZE to NEW_SIZE bytes; NULL (errno set) on failure. */
static char *remap_view(struct region *r, char *map, uint64_t old_size,
			uint64_t new_size)
{
	uint64_t old_len = map_length(r, old_size), new_len = map_length(r, new_size);
	void *moved;

	if (old_len == new_len)
		return map;
	moved = mremap(map, old_len, new_len, MREMAP_MAYMOVE);
	if (moved == MAP_FAILED)
		return NULL;
	if (new_len > old_len)
		advise(r, moved, new_len);
	return moved;
}

/* Creates E's file, if missing, as offset + length bytes of zeros. */
static int create_file(const struct entry *e, char *why, size_t whylen)
{
	int fd = open(e->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666), err;

	if (fd < 0 && errno == EEXIST)
		return 0;
	if (fd < 0) {
		reason_set(why, whylen, "cannot create %s: %s", e->path, strerror(errno));
		return errno;
	}
	err = ftruncate(fd, (off_t)(e->offset + e->length)) < 0 ? errno : 0;
	close(fd);
	if (err) {
		reason_set(why, whylen, "cannot size the new file %s: %s", e->path, strerror(err));
		unlink(e->path);
	}
	return err;
}

static int open_backing(struct region *r, char *why, size_t whylen)
{
	const struct entry *e = &r->entry;
	int mode = (e->views & VIEW_RW) ? O_RDWR : O_RDONLY;

	if (e->anonymous) {
		r->fd = memfd_create(e->name, MFD_CLOEXEC);
		if (r->fd < 0 || ftruncate(r->fd, (off_t)e->length) < 0) {
			reason_set(why, whylen, "cannot make %llu bytes of anonymous memory: %s",
			    (unsigned long long)e->length, strerror(errno));
			return errno;
		}
		return 0;
	}
	if (e->create) {
		int err = create_file(e, why, whylen);

		if (err)
			return err;
	}
	r->fd = open(e->path, mode | O_CLOEXEC);
	if (r->fd < 0) {
		reason_set(why, whylen, "cannot open %s: %s", e->path, strerror(errno));
		return errno;
	}
	return 0;
}

/* The backing file's size now (fstat), whole, not the region's. */
static int current_file_size(const struct region *r, uint64_t *out)
{
	struct stat st;

	if (fstat(r->fd, &st) < 0)
		return errno;
	*out = (uint64_t)st.st_size;
	return 0;
}

static uint64_t following_size(const struct region *r, uint64_t file_size)
{
	return file_size > r->entry.offset ? file_size - r->entry.offset : 0;
}

static int map_all(struct region *r, char *why, size_t whylen)
{
	uint64_t size = r->entry.length, file_size;

	if (!r->entry.anonymous && r->entry.length == 0) {
		if (current_file_size(r, &file_size)) {
			reason_set(why, whylen, "cannot stat %s: %s", r->entry.path, strerror(errno));
			return errno;
		}
		size = following_size(r, file_size);
	}
	r->size = r->intended = size;
	r->ro_map = map_view(r, size, PROT_READ, MAP_SHARED);
	if (r->ro_map && (r->entry.views & VIEW_RW))
		r->rw_map = map_view(r, size, PROT_READ | PROT_WRITE, MAP_SHARED);
	if (r->ro_map && (r->entry.views & VIEW_COW)) {
		char *cow = map_view(r, size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
		int err = cow ? cow_init(&r->cow, cow, size, r->page) : 0;

		if (err) {
			munmap(cow, map_length(r, size));
			reason_set(why, whylen, "cannot make the cow view: %s", strerror(err));
			return err;
		}
	}
	if (!r->ro_map || (!r->rw_map && (r->entry.views & VIEW_RW)) ||
	    (!r->cow.map && (r->entry.views & VIEW_COW))) {
		reason_set(why, whylen, "cannot map %llu bytes: %s", (unsigned long long)size,
		    strerror(errno));
		return errno;
	}
	return 0;
}

static void unmap_all(struct region *r)
{
	if (r->ro_map)
		munmap(r->ro_map, map_length(r, r->size));
	if (r->rw_map)
		munmap(r->rw_map, map_length(r, r->size));
	cow_release(&r->cow);
	instance_table_free(&r->instances);
}

static void free_region(struct region *r)
{
	unmap_all(r);
	if (r->fd >= 0)
		close(r->fd);
	pthread_rwlock_destroy(&r->lock);
	pthread_mutex_destroy(&r->error_mu);
	entry_free(&r->entry);
	free(r);
}

int region_open(const struct entry *e, struct region **out,
		char *why, size_t whylen)
{
	struct region *r = calloc(1, sizeof(*r));
	int err;

	if (!r) {
		reason_set(why, whylen, "out of memory");
		return ENOMEM;
	}
	r->fd = -1;
	r->page = (uint64_t)sysconf(_SC_PAGESIZE);
	rwlock_init_writer_first(&r->lock);
	pthread_mutex_init(&r->error_mu, NULL);
	instance_table_init(&r->instances);
	strcpy(r->last_error, "none");
	if (entry_copy(e, &r->entry)) {
		free_region(r);
		reason_set(why, whylen, "out of memory");
		return ENOMEM;
	}
	err = open_backing(r, why, whylen);
	if (!err)
		err = map_all(r, why, whylen);
	if (err) {
		free_region(r);
		return err;
	}
	*out = r;
	return 0;
}

void region_retune(struct region *r, const struct entry *e)
{
	pthread_rwlock_wrlock(&r->lock);
	r->entry.resizable = e->resizable;
	r->entry.create = e->create;
	r->entry.advice = e->advice;
	/* The old advice goes too: normal first, then the new one. */
	madvise(r->ro_map, map_length(r, r->size), MADV_NORMAL);
	if (r->rw_map)
		madvise(r->rw_map, map_length(r, r->size), MADV_NORMAL);
	advise(r, r->ro_map, map_length(r, r->size));
	if (r->rw_map)
		advise(r, r->rw_map, map_length(r, r->size));
	pthread_rwlock_unlock(&r->lock);
}

int region_close(struct region *r)
{
	int err = 0;

	if (r->rw_map)
		err = region_sync_all(r, NULL, 0);
	if (err)
		log_msg(LOG_ERR, "[%s] flush at unmount failed: %s", r->entry.name,
			strerror(err));
	free_region(r);
	return err;
}

bool region_file_is_current(const struct region *r)
{
	struct stat open_file, named;

	if (r->entry.anonymous)
		return true;
	return fstat(r->fd, &open_file) == 0 && stat(r->entry.path, &named) == 0 &&
	       open_file.st_dev == named.st_dev && open_file.st_ino == named.st_ino;
}

const struct entry *region_entry(const struct region *r)
{
	return &r->entry;
}

uint64_t region_view_size(const struct region *r, unsigned view)
{
	return view == VIEW_COW ? r->cow.size : r->size;
}

int region_fstat(const struct region *r, struct stat *st)
{
	return fstat(r->fd, st) < 0 ? errno : 0;
}

static char *view_map(const struct region *r, unsigned view)
{
	switch (view) {
	case VIEW_RW:  return r->rw_map;
	case VIEW_COW: return r->cow.map;
	default:       return r->ro_map;
	}
}

size_t region_read_begin(struct region *r, unsigned view, uint64_t off,
			 size_t len, const void **data)
{
	uint64_t size;

	atomic_fetch_add(&r->reads, 1);
	pthread_rwlock_rdlock(&r->lock);
	size = region_view_size(r, view);
	if (off >= size)
		return 0;
	if (len > size - off)
		len = (size_t)(size - off);
	*data = view_map(r, view) + off;
	return len;
}

size_t region_read_mapped(const struct region *r, unsigned view, uint64_t off,
			  size_t len, size_t *zeros)
{
	*zeros = 0;
	return view == VIEW_COW ? cow_readable(&r->cow, off, len, zeros) : len;
}

void region_read_end(struct region *r)
{
	pthread_rwlock_unlock(&r->lock);
}

int region_read_fallback(struct region *r, unsigned view, uint64_t off,
			 size_t len, void *buf)
{
	uint64_t file_size;
	ssize_t n;

	if (view == VIEW_COW || r->entry.anonymous ||
	    current_file_size(r, &file_size) || r->entry.offset + off + len > file_size)
		return EIO;
	n = pread(r->fd, buf, len, (off_t)(r->entry.offset + off));
	if (n < 0)
		return errno;
	return (size_t)n == len ? 0 : EIO;
}

/* ---- resizing; all of it under the exclusive lock ---- */

/* The file is about to end, or has ended, at FILE_SIZE: the cow view's
 * base follows it; its size and written pages stay (cow.h). */
static int cut_base_to(struct cow *c, void *base)
{
	return cow_cut_base(c, *(const uint64_t *)base);
}

static int cut_cow_base(struct region *r, uint64_t file_size)
{
	uint64_t base = following_size(r, file_size);
	int err = r->cow.map ? cow_cut_base(&r->cow, base) : 0;

	return err ? err : instance_each_cow(&r->instances, cut_base_to, &base);
}

/* The file size a resize to SIZE leaves: a window that reached the end of
 * the file moves the end; one that ends before it only ever extends it. */
static uint64_t file_size_after(const struct region *r, uint64_t file_size,
				uint64_t size)
{
	uint64_t old_end = r->entry.offset + r->size, new_end = r->entry.offset + size;

	if (r->entry.anonymous || old_end >= file_size)
		return new_end;
	return new_end > file_size ? new_end : file_size;
}

/* Whether ERR, from ftruncate, pwrite or mremap on the way to a larger
 * size, says that the size is past what the file system or the address
 * space allows (SPEC: EFBIG). */
static int past_the_limits(int err)
{
	return err == EFBIG || err == EINVAL || err == ENOMEM ? EFBIG : err;
}

/* Moves both shared mappings to SIZE bytes; on failure nothing has moved. */
static int remap_shared(struct region *r, uint64_t size)
{
	char *ro = remap_view(r, r->ro_map, r->size, size), *rw = r->rw_map;

	if (!ro)
		return errno;
	r->ro_map = ro;
	if (rw) {
		rw = remap_view(r, rw, r->size, size);
		if (!rw) {
			int err = errno;

			r->ro_map = remap_view(r, ro, size, r->size);
			return err;
		}
		r->rw_map = rw;
	}
	r->size = size;
	return 0;
}

static int resize_locked(struct region *r, uint64_t size, char *why, size_t whylen)
{
	uint64_t file_size, target, old_size = r->size;
	bool growing = size > old_size;
	int err;

	if (size > (uint64_t)INT64_MAX - r->entry.offset) {
		reason_set(why, whylen, "size %llu is past the largest file size",
		    (unsigned long long)size);
		return EINVAL;
	}
	err = current_file_size(r, &file_size);
	if (err) {
		reason_set(why, whylen, "cannot stat the file: %s", strerror(err));
		return err;
	}
	target = file_size_after(r, file_size, size);
	/* Growing, the mappings move first (nothing touches them past the
	 * file's end): a size the address space cannot take fails before the
	 * file changes. Shrinking, the file goes first, as before. */
	if (growing) {
		err = remap_shared(r, size);
		if (err) {
			reason_set(why, whylen, "cannot map %llu bytes: %s",
			    (unsigned long long)size, strerror(err));
			return past_the_limits(err);
		}
	}
	/* The kernel's truncation drops the cow view's private pages past
	 * the new end: they move out of its reach first. */
	if (target < file_size && (err = cut_cow_base(r, target)) != 0) {
		reason_set(why, whylen, "cannot keep the cow view's pages: %s", strerror(err));
		return err;
	}
	if (target != file_size && ftruncate(r->fd, (off_t)target) < 0) {
		err = errno;
		reason_set(why, whylen, "cannot make the file %llu bytes: %s",
		    (unsigned long long)target, strerror(err));
		if (growing && remap_shared(r, old_size))
			log_msg(LOG_ERR, "[%s] cannot map the old %llu bytes again: %s",
				r->entry.name, (unsigned long long)old_size, strerror(errno));
		return target > file_size ? past_the_limits(err) : err;
	}
	if (!growing) {
		err = remap_shared(r, size);
		if (err) {
			reason_set(why, whylen, "cannot map %llu bytes: %s",
			    (unsigned long long)size, strerror(err));
			if (target != file_size && ftruncate(r->fd, (off_t)file_size) < 0)
				log_msg(LOG_ERR, "[%s] cannot restore the file's size: %s",
					r->entry.name, strerror(errno));
			return err;
		}
	}
	r->intended = size;
	return 0;
}

int region_resize(struct region *r, uint64_t size, char *why, size_t whylen)
{
	int err;

	if (!r->entry.resizable) {
		reason_set(why, whylen, "the entry is not resizable (resizable = no)");
		return EPERM;
	}
	pthread_rwlock_wrlock(&r->lock);
	err = resize_locked(r, size, why, whylen);
	pthread_rwlock_unlock(&r->lock);
	if (!err)
		atomic_fetch_add(&r->resizes, 1);
	return err;
}

static bool follows_file(const struct region *r)
{
	return !r->entry.anonymous && r->entry.length == 0;
}

/* The size the region has over a file of FILE_SIZE bytes: a following
 * entry everything from its offset on, a window its intended size or what
 * is left of it. */
static uint64_t size_over(const struct region *r, uint64_t file_size)
{
	uint64_t left = following_size(r, file_size);

	return follows_file(r) || left < r->intended ? left : r->intended;
}

static int is_past(struct cow *c, void *base)
{
	return c->base > *(const uint64_t *)base;
}

static bool cow_past_end(struct region *r, uint64_t file_size)
{
	uint64_t base = following_size(r, file_size);

	return r->cow.map && (r->cow.base > base ||
			      instance_each_cow(&r->instances, is_past, &base));
}

int region_refresh(struct region *r, bool *changed)
{
	uint64_t file_size;
	int err;

	*changed = false;
	if (r->entry.anonymous)
		return 0;
	err = current_file_size(r, &file_size);
	/* The usual case, at every open: nothing to do, no exclusive lock. */
	if (err || (size_over(r, file_size) == r->size && !cow_past_end(r, file_size)))
		return err;
	pthread_rwlock_wrlock(&r->lock);
	err = current_file_size(r, &file_size);
	if (!err && size_over(r, file_size) != r->size) {
		err = remap_shared(r, size_over(r, file_size));
		*changed = true;
	}
	if (!err && cow_past_end(r, file_size)) {
		err = cut_cow_base(r, file_size);
		*changed = true;
	}
	pthread_rwlock_unlock(&r->lock);
	return err;
}

void region_fault(struct region *r, const char *what)
{
	bool changed = false;

	region_refresh(r, &changed);
	log_msg(LOG_WARNING, "[%s] %s touched a page past the end of %s, which was "
		"cut outside the mount: EIO%s", r->entry.name, what,
		r->entry.path ? r->entry.path : "its memory",
		changed ? "; the views now end where the file does" : "");
}

/* ---- writing ---- */

/* How many bytes of a LEN-byte write at OFF fit in VIEW: 0 or ENOSPC. */
static int fitting(const struct region *r, unsigned view, size_t len, uint64_t off,
		   size_t *fits)
{
	uint64_t size = region_view_size(r, view);

	if (off >= size)
		return ENOSPC;
	*fits = len < size - off ? len : (size_t)(size - off);
	return 0;
}

/* Whether N bytes at the region's OFF lie inside the backing file as it is
 * now (not cut short outside the mount). */
static bool inside_the_file(const struct region *r, uint64_t off, size_t n)
{
	uint64_t file_size;

	return current_file_size(r, &file_size) == 0 &&
	       r->entry.offset + off + n <= file_size;
}

/* Writes of at least this many bytes inside the region go by pwrite(2),
 * and smaller ones too within SYNCED_NS of a client's fsync. */
#define PWRITE_MIN ((size_t)64 << 10)
#define SYNCED_NS ((int64_t)1000000000)

static int64_t coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Whether a LEN-byte write inside the region goes by pwrite(2). A store
 * into a page of the mapping that writeback cleaned takes a write fault
 * and a page_mkwrite, and every page the mapping holds dirty must be
 * write-protected again (TLB shootdowns across the daemon's threads) at
 * the next sync; pwrite(2) has neither, but costs a system call, which
 * for one small write costs more than the fault: measured in
 * docs/performance.md. */
static bool by_pwrite(const struct region *r, size_t len)
{
	int64_t last;

	if (len >= PWRITE_MIN)
		return true;
	last = atomic_load_explicit(&r->last_fsync, memory_order_relaxed);
	return last && coarse_ns() - last < SYNCED_NS;
}

/*
 * An rw write into a file, under the lock (exclusive when it grows the
 * region). Both ways reach the very pages the shared mappings map (SPEC
 * "What it is"): pwrite(2) into the region's own descriptor, which says
 * ENOSPC (or writes short) where the file system is full, where a store
 * into the mapping would raise SIGBUS, or a store into the rw mapping
 * (by_pwrite says which).
 * A write that grows the region first moves the mappings to the new end
 * (nothing touches them past the file's end), so that a size the mapping
 * cannot take fails before the file changes; then the mappings are fitted
 * to what was actually written, and the file grew by exactly that.
 * A write inside the region goes by pwrite only where its bytes all lie
 * inside the file (never extending a file cut outside the mount); through
 * the mapping, pages past the end of a file cut outside the mount say EIO,
 * as for reads, and a page that faults although it lies inside the file
 * (a hole a full file system cannot give a block) goes by pwrite.
 */
static int write_file_rw(struct region *r, const void *buf, size_t len,
			 uint64_t off, bool grow, size_t *written)
{
	uint64_t old_size = r->size;
	ssize_t n;
	int err;

	if (!grow) {
		size_t fits;

		err = fitting(r, VIEW_RW, len, off, &fits);
		if (err)
			return err;
		len = fits;
		if (!by_pwrite(r, len) || !inside_the_file(r, off, len)) {
			err = fault_copy(r->rw_map + off, buf, len);
			atomic_store(&r->map_dirty, true);
			if (!err)
				*written = len;
			if (err != EIO || !inside_the_file(r, off, len))
				return err;
		}
	} else {
		err = remap_shared(r, off + len);
		if (err)
			return past_the_limits(err);
	}
	n = pwrite(r->fd, buf, len, (off_t)(r->entry.offset + off));
	err = n < 0 ? errno : 0;
	if (grow) {
		uint64_t end = n > 0 && off + (uint64_t)n > old_size ? off + (uint64_t)n : old_size;

		if (remap_shared(r, end))
			log_msg(LOG_ERR, "[%s] cannot fit the mappings to %llu bytes: %s",
				r->entry.name, (unsigned long long)end, strerror(errno));
		else if (end != old_size)
			r->intended = end;
		err = past_the_limits(err);
	}
	if (!err)
		*written = (size_t)n;
	return err;
}

/* Whether a LEN-byte write at OFF passes the largest file size. */
static bool too_big(const struct region *r, size_t len, uint64_t off)
{
	return len > (uint64_t)SSIZE_MAX || off > INT64_MAX - len ||
	       off + len > INT64_MAX - r->entry.offset;
}

/* An rw write, under the lock (exclusive when it grows the region). */
static int write_rw(struct region *r, const void *buf, size_t len, uint64_t *off,
		    unsigned flags, size_t *written)
{
	bool grow = r->entry.resizable && !(flags & REGION_WRITE_IN_PLACE);
	bool file_rw = !r->entry.anonymous;
	unsigned view = VIEW_RW;
	size_t n = 0;
	int err = 0;

	pthread_rwlock_rdlock(&r->lock);
	if (flags & REGION_WRITE_APPEND)
		*off = region_view_size(r, view);
	if (too_big(r, len, *off))
		err = EFBIG;
	else if (grow && *off + len > r->size) {
		/* Growing moves mappings: the lock is taken again, exclusive,
		 * and kept so for the copy. */
		pthread_rwlock_unlock(&r->lock);
		pthread_rwlock_wrlock(&r->lock);
		if (flags & REGION_WRITE_APPEND)
			*off = region_view_size(r, view);
		if (*off + len > r->size && file_rw) {
			err = write_file_rw(r, buf, len, *off, true, &n);
			goto done;
		}
		if (*off + len > r->size)
			err = resize_locked(r, *off + len, NULL, 0);
	}
	if (!err && file_rw) {
		err = write_file_rw(r, buf, len, *off, false, &n);
		goto done;
	}
	if (!err)
		err = fitting(r, view, len, *off, &n);
	if (!err)
		err = fault_copy(view_map(r, view) + *off, buf, n);
	atomic_store(&r->map_dirty, true);
done:
	pthread_rwlock_unlock(&r->lock);
	if (!err)
		*written = n;
	return err;
}

/* One try of a cow write, under the lock; EXCLUSIVE: it may grow the view
 * (without, EAGAIN says that it must). */
static int store_cow(struct region *r, struct cow *c, const void *buf, size_t len,
		     uint64_t *off, unsigned flags, bool exclusive, size_t *written)
{
	bool fixed = !r->entry.resizable || (flags & REGION_WRITE_IN_PLACE);
	uint64_t size = c->size;

	if (flags & REGION_WRITE_APPEND)
		*off = size;
	if (too_big(r, len, *off))
		return EFBIG;
	if (fixed && *off >= size)
		return ENOSPC;
	if (fixed && len > size - *off)
		len = (size_t)(size - *off);
	return cow_store(c, buf, len, *off, exclusive ? COW_GROW : 0, written);
}

/* A cow write: under the lock shared, exclusive when it grows the view. */
static int write_cow(struct region *r, struct cow *c, const void *buf, size_t len,
		     uint64_t *off, unsigned flags, size_t *written)
{
	int err;

	pthread_rwlock_rdlock(&r->lock);
	err = store_cow(r, c, buf, len, off, flags, false, written);
	if (err == EAGAIN) {
		pthread_rwlock_unlock(&r->lock);
		pthread_rwlock_wrlock(&r->lock);
		err = store_cow(r, c, buf, len, off, flags, true, written);
	}
	pthread_rwlock_unlock(&r->lock);
	return err;
}

int region_write(struct region *r, unsigned view, const void *buf, size_t len,
		 uint64_t *off, unsigned flags, size_t *written)
{
	int err;

	atomic_fetch_add(&r->writes, 1);
	*written = 0;
	if (len == 0)
		return 0;	/* as write(2) of nothing: no growth either */
	err = view == VIEW_COW ? write_cow(r, &r->cow, buf, len, off, flags, written)
			       : write_rw(r, buf, len, off, flags, written);
	if (err == EIO)
		region_fault(r, "a write");
	return err;
}

/* ---- control operations ---- */

/* Whether [OFF, OFF + LEN) lies inside SIZE bytes; says why not. */
static bool range_inside(const char *what, uint64_t off, uint64_t len,
			 uint64_t size, char *why, size_t whylen)
{
	if (off + len < off) {
		reason_set(why, whylen, "%s %llu+%llu overflows", what,
		    (unsigned long long)off, (unsigned long long)len);
		return false;
	}
	if (off + len > size) {
		reason_set(why, whylen, "%s %llu+%llu is past the end (%llu)", what,
		    (unsigned long long)off, (unsigned long long)len,
		    (unsigned long long)size);
		return false;
	}
	return true;
}

/* Under the lock: the whole region when WHOLE, else [*OFF, *OFF + *LEN),
 * which must lie inside it. */
static bool command_range(const struct region *r, bool whole, uint64_t *off,
			  uint64_t *len, char *why, size_t whylen)
{
	if (whole) {
		*off = 0;
		*len = r->size;
	}
	return range_inside("range", *off, *len, r->size, why, whylen);
}

/* ---- truncate, fallocate, times ---- */

static int truncate_cow(struct region *r, struct cow *c, uint64_t size)
{
	int err;

	pthread_rwlock_wrlock(&r->lock);
	err = cow_truncate(c, size);
	pthread_rwlock_unlock(&r->lock);
	if (err == EIO)
		region_fault(r, "a truncate");
	return err == ENOMEM || err == EINVAL ? EFBIG : err;
}

/* A truncate of VIEW, whose cow view, if VIEW_COW, is IN's. */
static int truncate_view(struct region *r, unsigned view, struct instance *in, uint64_t size)
{
	int err;

	if (!r->entry.resizable &&
	    size == (view == VIEW_COW ? cow_of(r, in)->size : r->size))
		return 0;	/* LMDB ftruncates to the size it has */
	if (view != VIEW_COW)
		return region_resize(r, size, NULL, 0);
	if (!r->entry.resizable)
		return EPERM;
	if (size > (uint64_t)INT64_MAX)
		return EFBIG;
	err = truncate_cow(r, cow_of(r, in), size);
	if (!err)
		COUNT(r, in, resizes);
	return err;
}

int region_truncate(struct region *r, unsigned view, uint64_t size)
{
	return truncate_view(r, view, NULL, size);
}

/* The fallocate(2) modes of SPEC "rw/NAME". */
static bool known_mode(int mode)
{
	switch (mode) {
	case 0:
	case FALLOC_FL_KEEP_SIZE:
	case FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE:
	case FALLOC_FL_ZERO_RANGE:
	case FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE:
		return true;
	default:
		return false;
	}
}

/* fallocate of the file at the region's [OFF, OFF + LEN). */
static int file_fallocate(const struct region *r, int mode, uint64_t off, uint64_t len)
{
	off_t at = (off_t)(r->entry.offset + off);

	if (fallocate(r->fd, mode, at, (off_t)len) == 0)
		return 0;
	/* tmpfs and memfds have no ZERO_RANGE; a punched hole reads as zeros. */
	if (errno == EOPNOTSUPP && (mode & FALLOC_FL_ZERO_RANGE) &&
	    fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, at, (off_t)len) == 0)
		return 0;
	return errno;
}

/* After any growth: allocates in the file, or zeroes what lies inside the
 * view (in the file for rw, privately for cow: a store of zeros). */
static int fallocate_range(struct region *r, unsigned view, struct cow *c, int mode,
			   uint64_t off, uint64_t end)
{
	bool zeroing = mode & ~FALLOC_FL_KEEP_SIZE;
	uint64_t size;
	size_t n;
	int err = 0;

	if (view == VIEW_COW && !zeroing)
		return 0;	/* the cow view's memory is taken as it is written */
	/* Zeroing the cow view may make the page across its base private,
	 * which takes the lock exclusive (cow.h); rare enough to always. */
	if (view == VIEW_COW)
		pthread_rwlock_wrlock(&r->lock);
	else
		pthread_rwlock_rdlock(&r->lock);
	size = view == VIEW_COW ? c->size : r->size;
	if (zeroing && end > size)
		end = size;	/* never past the view: a window's file goes on */
	if (off < end && view == VIEW_COW)
		err = cow_store(c, NULL, end - off, off, COW_GROW | COW_WHOLE, &n);
	else if (off < end)
		err = file_fallocate(r, mode, off, end - off);
	pthread_rwlock_unlock(&r->lock);
	if (err == EIO)
		region_fault(r, "a fallocate");
	return err;
}

/* A fallocate of VIEW, whose cow view, if VIEW_COW, is IN's. */
static int fallocate_view(struct region *r, unsigned view, struct instance *in, int mode,
			  uint64_t off, uint64_t len)
{
	uint64_t size = view == VIEW_COW ? cow_of(r, in)->size : r->size;

	if (!known_mode(mode))
		return EOPNOTSUPP;
	if (len == 0 || off > (uint64_t)INT64_MAX - len ||
	    (view != VIEW_COW && off + len > (uint64_t)INT64_MAX - r->entry.offset))
		return len ? EFBIG : EINVAL;
	if (!(mode & FALLOC_FL_KEEP_SIZE) && off + len > size) {
		int err = r->entry.resizable ? truncate_view(r, view, in, off + len) : EPERM;
		if (err)
			return err;
	}
	return fallocate_range(r, view, cow_of(r, in), mode, off, off + len);
}

int region_fallocate(struct region *r, unsigned view, int mode, uint64_t off,
		     uint64_t len)
{
	return fallocate_view(r, view, NULL, mode, off, len);
}

int region_set_times(struct region *r, const struct timespec times[2])
{
	return futimens(r->fd, times) < 0 ? errno : 0;
}

/* How sync_range syncs: ctl/NAME/flush, the automatic flush and unmount
 * msync the range, then fsync (SPEC "Control files"); a client's fsync or
 * fdatasync of rw/NAME msyncs only where the rw mapping holds pages stored
 * into since the last msync (map_dirty), then fsyncs or fdatasyncs (SPEC
 * "rw/NAME"). Writes by pwrite(2) dirty the page cache alone, which the
 * fsync writes out (on Linux an msync of a shared file mapping is an fsync
 * of its range). */
enum sync_mode { SYNC_COMMAND, SYNC_FSYNC, SYNC_FDATASYNC };

/* msync of [OFF, OFF + LEN), or of the whole region when WHOLE (OFF and LEN
 * then unused), as MODE says, then fsync or fdatasync. */
static int sync_range(struct region *r, bool whole, uint64_t off, uint64_t len,
		      enum sync_mode mode, char *why, size_t whylen)
{
	uint64_t start;
	bool inside;
	int err = 0;

	pthread_rwlock_rdlock(&r->lock);
	inside = command_range(r, whole, &off, &len, why, whylen);
	start = off & ~(r->page - 1);
	if (!inside) {
		err = EINVAL;
	} else if (r->rw_map && !r->entry.anonymous && len &&
		   (atomic_exchange(&r->map_dirty, false) || mode == SYNC_COMMAND)) {
		if (msync(r->rw_map + start, off + len - start, MS_SYNC) < 0)
			err = errno;
		/* Failed, or a range: stored pages may be left unsynced. */
		if (err || !whole)
			atomic_store(&r->map_dirty, true);
	}
	pthread_rwlock_unlock(&r->lock);
	if (!err && !r->entry.anonymous &&
	    (mode == SYNC_FDATASYNC ? fdatasync(r->fd) : fsync(r->fd)) < 0)
		err = errno;
	if (err == EINVAL)
		return err;
	if (err)
		reason_set(why, whylen, "cannot flush %s: %s", r->entry.path, strerror(err));
	else
		atomic_fetch_add(&r->flushes, 1);
	return err;
}

int region_sync(struct region *r, uint64_t off, uint64_t len, char *why,
		size_t whylen)
{
	return sync_range(r, false, off, len, SYNC_COMMAND, why, whylen);
}

int region_sync_all(struct region *r, char *why, size_t whylen)
{
	return sync_range(r, true, 0, 0, SYNC_COMMAND, why, whylen);
}

int region_fsync(struct region *r, bool datasync)
{
	atomic_store_explicit(&r->last_fsync, coarse_ns(), memory_order_relaxed);
	return sync_range(r, true, 0, 0, datasync ? SYNC_FDATASYNC : SYNC_FSYNC, NULL, 0);
}

int region_sync_start(struct region *r, bool whole, uint64_t off, uint64_t len,
		      char *why, size_t whylen)
{
	int err = 0;

	pthread_rwlock_rdlock(&r->lock);
	if (!command_range(r, whole, &off, &len, why, whylen)) {
		err = EINVAL;
	} else if (!r->entry.anonymous && len) {
		uint64_t start = off & ~(r->page - 1);

		if (sync_file_range(r->fd, (off_t)(r->entry.offset + start),
				    (off_t)(off + len - start), SYNC_FILE_RANGE_WRITE) < 0) {
			err = errno;
			reason_set(why, whylen, "cannot start writing %s: %s", r->entry.path,
				   strerror(err));
		}
	}
	pthread_rwlock_unlock(&r->lock);
	if (!err)
		atomic_fetch_add(&r->flushes, 1);
	return err;
}

/* madvise of LEN bytes at OFF of MAP, if mapped. */
static int advise_map(char *map, uint64_t off, uint64_t len, int advice)
{
	return map && len && madvise(map + off, len, advice) < 0 ? errno : 0;
}

int region_advise(struct region *r, int advice, bool whole, uint64_t off,
		  uint64_t len, char *why, size_t whylen)
{
	int err = EINVAL;

	if (off % r->page) {
		reason_set(why, whylen, "offset %llu is not a multiple of the page size (%llu)",
			   (unsigned long long)off, (unsigned long long)r->page);
		return EINVAL;
	}
	pthread_rwlock_rdlock(&r->lock);
	if (command_range(r, whole, &off, &len, why, whylen)) {
		err = advise_map(r->ro_map, off, len, advice);
		if (!err)
			err = advise_map(r->rw_map, off, len, advice);
		if (err)
			reason_set(why, whylen, "madvise: %s", strerror(err));
	}
	pthread_rwlock_unlock(&r->lock);
	return err;
}

/* A move in the cow view, whose new private pages are taken whole or not
 * at all; under the lock held exclusive (cow_store may seal the base). */
static int move_cow(struct region *r, uint64_t dest, uint64_t src, uint64_t count)
{
	size_t zeros, head = cow_readable(&r->cow, src, count, &zeros), stored;
	char *copy;
	int err;

	if (!zeros)
		return cow_store(&r->cow, r->cow.map + src, count, dest, COW_GROW | COW_WHOLE,
				 &stored);
	/* Part of the source reads as zeros where the mapping holds the
	 * file's bytes (past the base): the bytes are moved as they read. */
	copy = malloc(count);
	if (!copy)
		return ENOMEM;
	err = fault_copy(copy, r->cow.map + src, count);
	if (!err) {
		memset(copy + head, 0, zeros);
		err = cow_store(&r->cow, copy, count, dest, COW_GROW | COW_WHOLE, &stored);
	}
	free(copy);
	return err;
}

int region_move(struct region *r, unsigned view, uint64_t dest, uint64_t src,
		uint64_t count, char *why, size_t whylen)
{
	uint64_t size;
	int err = EINVAL;

	/* A cow move may make the page across the base private (cow.h). */
	if (view == VIEW_COW)
		pthread_rwlock_wrlock(&r->lock);
	else
		pthread_rwlock_rdlock(&r->lock);
	size = region_view_size(r, view);
	if (range_inside("destination", dest, count, size, why, whylen) &&
	    range_inside("source", src, count, size, why, whylen)) {
		/* A move onto itself writes nothing, so it copies no cow page
		 * (memmove alone would store or not depending on COUNT); a cow
		 * move takes its new private pages whole or not at all. */
		if (dest == src)
			err = 0;
		else if (view == VIEW_COW)
			err = move_cow(r, dest, src, count);
		else {
			err = fault_copy(view_map(r, view) + dest, view_map(r, view) + src, count);
			atomic_store(&r->map_dirty, true);
		}
	}
	pthread_rwlock_unlock(&r->lock);
	if (err == ENOSPC) {
		reason_set(why, whylen, "the cow views hold cow_limit bytes already");
	} else if (err == EIO) {
		reason_set(why, whylen, "a page past the end of the file, which was cut "
		    "outside the mount");
		region_fault(r, "a move");
	} else if (!err) {
		atomic_fetch_add(&r->moves, 1);
	}
	return err;
}

/* Makes C a cow view of the file at the region's size, its base all of
 * it, no private pages: as at mount. 0 or an errno. */
static int fresh_cow(struct region *r, struct cow *c)
{
	char *map = map_view(r, r->size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	int err;

	if (!map)
		return errno;
	err = cow_init(c, map, r->size, r->page);
	if (err)
		munmap(map, map_length(r, r->size));
	return err;
}

/* Maps C afresh over the file at the region's size; the lock held
 * exclusive. On failure the old view stays as it was. */
static int reset_locked(struct region *r, struct cow *c, char *why, size_t whylen)
{
	struct cow fresh;
	int err = fresh_cow(r, &fresh);

	if (err) {
		reason_set(why, whylen, "cannot map the cow view afresh: %s", strerror(err));
		return err;
	}
	cow_release(c);
	*c = fresh;
	return 0;
}

int region_cow_reset(struct region *r, struct instance *in, char *why, size_t whylen)
{
	int err;

	pthread_rwlock_wrlock(&r->lock);
	err = reset_locked(r, cow_of(r, in), why, whylen);
	pthread_rwlock_unlock(&r->lock);
	if (!err)
		COUNT(r, in, resets);
	return err;
}

int region_reset(struct region *r, char *why, size_t whylen)
{
	return region_cow_reset(r, NULL, why, whylen);
}

/* Bytes of the shared mapping in the page cache, asked in slices so that a
 * terabyte region needs no terabyte/4096 vector. */
static uint64_t resident_bytes(const struct region *r)
{
	enum { SLICE_PAGES = 4096 };
	unsigned char vec[SLICE_PAGES];
	uint64_t pages = page_count(r, r->size), resident = 0;

	for (uint64_t p = 0; p < pages; p += SLICE_PAGES) {
		uint64_t n = pages - p < SLICE_PAGES ? pages - p : SLICE_PAGES;

		if (mincore(r->ro_map + p * r->page, n * r->page, vec) < 0)
			break;
		for (uint64_t i = 0; i < n; i++)
			resident += vec[i] & 1;
	}
	return resident * r->page;
}

void region_get_stats(struct region *r, struct region_stats *st)
{
	uint64_t file_size = 0;

	pthread_rwlock_rdlock(&r->lock);
	st->size = r->size;
	st->cow_size = r->cow.map ? r->cow.size : 0;
	st->resident_bytes = resident_bytes(r);
	st->cow_private_bytes = cow_private_bytes(&r->cow);
	pthread_rwlock_unlock(&r->lock);
	st->file_size = current_file_size(r, &file_size) ? 0 : file_size;
	st->reads = r->reads;
	st->writes = r->writes;
	st->flushes = r->flushes;
	st->resizes = r->resizes;
	st->moves = r->moves;
	st->resets = r->resets;
	st->forks = r->forks;
	st->commits = r->commits;
	st->errors = r->errors;
	pthread_mutex_lock(&r->error_mu);
	snprintf(st->last_error, sizeof(st->last_error), "%s", r->last_error);
	pthread_mutex_unlock(&r->error_mu);
}

void region_note_error(struct region *r, const char *file, const char *reason)
{
	atomic_fetch_add(&r->errors, 1);
	pthread_mutex_lock(&r->error_mu);
	snprintf(r->last_error, sizeof(r->last_error), "%s: %s", file, reason);
	pthread_mutex_unlock(&r->error_mu);
	log_msg(LOG_INFO, "[%s] %s: %s", r->entry.name, file, reason);
}

/* ---- cow views of instances, forks, changes, commits ---- */

struct instance_table *region_instances(struct region *r)
{
	return &r->instances;
}

uint64_t region_cow_size(struct region *r, struct instance *in)
{
	return cow_of(r, in)->size;
}

size_t region_cow_read_begin(struct region *r, struct instance *in, uint64_t off,
			     size_t len, const void **data)
{
	struct cow *c = cow_of(r, in);

	COUNT(r, in, reads);
	pthread_rwlock_rdlock(&r->lock);
	if (off >= c->size)
		return 0;
	if (len > c->size - off)
		len = (size_t)(c->size - off);
	*data = c->map + off;
	return len;
}

size_t region_cow_read_mapped(struct region *r, struct instance *in, uint64_t off,
			      size_t len, size_t *zeros)
{
	return cow_readable(cow_of(r, in), off, len, zeros);
}

int region_cow_write(struct region *r, struct instance *in, const void *buf, size_t len,
		     uint64_t *off, unsigned flags, size_t *written)
{
	int err;

	COUNT(r, in, writes);
	*written = 0;
	if (len == 0)
		return 0;
	err = write_cow(r, cow_of(r, in), buf, len, off, flags, written);
	if (err == EIO)
		region_fault(r, "a write");
	return err;
}

int region_cow_truncate(struct region *r, struct instance *in, uint64_t size)
{
	return truncate_view(r, VIEW_COW, in, size);
}

int region_cow_fallocate(struct region *r, struct instance *in, int mode, uint64_t off,
			 uint64_t len)
{
	return fallocate_view(r, VIEW_COW, in, mode, off, len);
}

/* Makes FROM's copy TAG; the lock held exclusive, the table's mutex too. */
static int fork_locked(struct region *r, struct cow *from, const char *tag,
		       char *why, size_t whylen)
{
	char *map = map_view(r, from->size, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	struct cow fresh;
	int err;

	if (!map)
		err = errno;
	else if ((err = cow_fork(&fresh, from, map)) != 0)
		munmap(map, map_length(r, from->size));
	if (!err && !instance_add(&r->instances, tag, &fresh)) {
		cow_release(&fresh);
		err = ENOMEM;
	}
	if (err == ENOSPC)
		reason_set(why, whylen, "copying %llu bytes of written pages would pass "
			   "cow_limit", (unsigned long long)cow_private_bytes(from));
	else if (err)
		reason_set(why, whylen, "cannot make the copy: %s", strerror(err));
	return err;
}

int region_cow_fork(struct region *r, struct instance *from, const char *tag,
		    char *why, size_t whylen)
{
	int err;

	pthread_rwlock_wrlock(&r->lock);
	instance_table_lock(&r->instances);
	err = instance_check(&r->instances, r->entry.name, tag, why, whylen);
	if (!err)
		err = fork_locked(r, cow_of(r, from), tag, why, whylen);
	instance_table_unlock(&r->instances);
	pthread_rwlock_unlock(&r->lock);
	if (!err)
		COUNT(r, from, forks);
	return err;
}

size_t region_cow_changes(struct region *r, struct instance *in, char *buf, size_t buflen)
{
	struct cow_run runs[64];
	uint64_t from = 0;
	size_t used = 0, kept = 0, n;
	char line[48];

	pthread_rwlock_rdlock(&r->lock);
	do {
		n = cow_changes(cow_of(r, in), runs, 64, from);
		for (size_t i = 0; i < n; i++) {
			size_t len = (size_t)snprintf(line, sizeof(line), "%llu %llu\n",
						      (unsigned long long)runs[i].off,
						      (unsigned long long)runs[i].len);

			if (used == kept && kept + len < buflen) {
				memcpy(buf + kept, line, len);
				kept += len;
			}
			used += len;
		}
		if (n)
			from = runs[n - 1].off + runs[n - 1].len;
	} while (n == 64);
	pthread_rwlock_unlock(&r->lock);
	if (buflen)
		buf[kept] = '\0';
	return used;
}

/* Copies LEN bytes of C at OFF into the rw region: pwrite into a file (a
 * full file system says ENOSPC), or into the memfd's mapping. */
static int commit_bytes(struct region *r, const struct cow *c, uint64_t off, size_t len,
			char *buf)
{
	size_t zeros;
	const char *from = c->map + off;
	ssize_t n;

	if (cow_readable(c, off, len, &zeros) != len || r->entry.anonymous) {
		int err = cow_copy_out(c, off, len, buf);

		if (err || r->entry.anonymous)
			return err ? err : fault_copy(r->rw_map + off, buf, len);
		from = buf;
	}
	n = pwrite(r->fd, from, len, (off_t)(r->entry.offset + off));
	if (n < 0)
		return errno == EFAULT ? EIO : errno;
	return (size_t)n == len ? 0 : ENOSPC;
}

enum { COMMIT_CHUNK = 1 << 20 };

/* Copies every run of C's changes into the rw region, *DONE the bytes. */
static int commit_runs(struct region *r, const struct cow *c, char *buf, uint64_t *done)
{
	struct cow_run runs[64];
	uint64_t from = 0;
	size_t n;
	int err = 0;

	do {
		n = cow_changes(c, runs, 64, from);
		for (size_t i = 0; i < n && !err; i++)
			for (uint64_t at = runs[i].off, end = at + runs[i].len; at < end && !err;) {
				size_t len = end - at < COMMIT_CHUNK ? end - at : COMMIT_CHUNK;

				err = commit_bytes(r, c, at, len, buf);
				*done += err ? 0 : len;
				at += len;
			}
		if (n)
			from = runs[n - 1].off + runs[n - 1].len;
	} while (n == 64 && !err);
	return err;
}

/* msync of the rw mapping, then fsync, the lock held: what a commit copied
 * went by pwrite, so the msync has pages to write only where something was
 * stored into the mapping since the last one (map_dirty); a clean mapping
 * of a big file would cost a walk of all its pages for nothing. */
static int flush_locked(struct region *r)
{
	if (r->rw_map && atomic_exchange(&r->map_dirty, false) &&
	    msync(r->rw_map, map_length(r, r->size), MS_SYNC) < 0) {
		atomic_store(&r->map_dirty, true);
		return errno;
	}
	return fsync(r->fd) < 0 ? errno : 0;
}

/* The whole commit, the lock held exclusive; WHY says how far it got. */
static int commit_locked(struct region *r, struct cow *c, char *buf, char *why, size_t whylen)
{
	uint64_t done = 0;
	int err = 0;

	if (c->size != r->size && !r->entry.resizable) {
		reason_set(why, whylen, "the cow view is %llu bytes, the region %llu, and the "
			   "entry is not resizable (resizable = no)",
			   (unsigned long long)c->size, (unsigned long long)r->size);
		return EPERM;
	}
	if (c->size != r->size && (err = resize_locked(r, c->size, why, whylen)) != 0)
		return err;
	err = commit_runs(r, c, buf, &done);
	if (!err && !r->entry.anonymous)
		err = flush_locked(r);
	if (err) {
		reason_set(why, whylen, "%llu changed bytes copied into the file, then: %s",
			   (unsigned long long)done, strerror(err));
		return err;
	}
	return reset_locked(r, c, why, whylen);
}

int region_cow_commit(struct region *r, struct instance *in, char *why, size_t whylen)
{
	char *buf = malloc(COMMIT_CHUNK);
	int err;

	if (!buf) {
		reason_set(why, whylen, "out of memory");
		return ENOMEM;
	}
	pthread_rwlock_wrlock(&r->lock);
	err = commit_locked(r, cow_of(r, in), buf, why, whylen);
	pthread_rwlock_unlock(&r->lock);
	free(buf);
	if (!err)
		COUNT(r, in, commits);
	return err;
}

/* ---- a reload's change of views ---- */

struct region_views {
	unsigned views;
	int fd;			/* a read-write descriptor for R, or -1: R's own will do */
	char *rw_map;		/* the new rw mapping, or NULL */
	uint64_t rw_len;
	struct cow cow;		/* the new cow view (map NULL: none) */
};

/* Opens R's file read-write into *FD. It must be the file R has open: one
 * renamed over it since the reload looked is another entry (ESTALE). */
static int open_writable(const struct region *r, int *fd, char *why, size_t whylen)
{
	struct stat open_file, opened;

	*fd = open(r->entry.path, O_RDWR | O_CLOEXEC);
	if (*fd < 0) {
		int err = errno;

		reason_set(why, whylen, "cannot open %s for writing: %s", r->entry.path,
			   strerror(err));
		return err;
	}
	if (fstat(r->fd, &open_file) == 0 && fstat(*fd, &opened) == 0 &&
	    open_file.st_dev == opened.st_dev && open_file.st_ino == opened.st_ino)
		return 0;
	reason_set(why, whylen, "%s was replaced during the reload", r->entry.path);
	close(*fd);
	*fd = -1;
	return ESTALE;
}

/* The rw mapping an added rw view needs, on a read-write descriptor: R's
 * own when it is one (a memfd, or an rw view listed before), else one
 * opened now, as the file was opened read-only without rw. */
static int prepare_rw(struct region *r, struct region_views *v, char *why, size_t whylen)
{
	int flags = fcntl(r->fd, F_GETFL), fd = r->fd, err;

	if (flags < 0 || (flags & O_ACCMODE) != O_RDWR) {
		err = open_writable(r, &v->fd, why, whylen);
		if (err)
			return err;
		fd = v->fd;
	}
	v->rw_len = map_length(r, r->size);
	v->rw_map = map_fd(r, fd, r->size, PROT_READ | PROT_WRITE, MAP_SHARED);
	if (!v->rw_map) {
		err = errno;
		reason_set(why, whylen, "cannot map %llu bytes for the rw view: %s",
			   (unsigned long long)r->size, strerror(err));
		return err;
	}
	return 0;
}

int region_views_prepare(struct region *r, unsigned views, struct region_views **out,
			 char *why, size_t whylen)
{
	struct region_views *v = calloc(1, sizeof(*v));
	unsigned added = views & ~r->entry.views;
	int err = 0;

	if (!v) {
		reason_set(why, whylen, "out of memory");
		return ENOMEM;
	}
	v->views = views;
	v->fd = -1;
	if (added & VIEW_RW)
		err = prepare_rw(r, v, why, whylen);
	if (!err && (added & VIEW_COW) && (err = fresh_cow(r, &v->cow)) != 0)
		reason_set(why, whylen, "cannot make the cow view: %s", strerror(err));
	if (err) {
		region_views_cancel(v);
		return err;
	}
	*out = v;
	return 0;
}

void region_views_cancel(struct region_views *v)
{
	if (v->rw_map)
		munmap(v->rw_map, v->rw_len);
	if (v->fd >= 0)
		close(v->fd);
	cow_release(&v->cow);
	free(v);
}

/* Other views: the instances are dropped, as `drop` does (their names go,
 * their open views go on until closed). With the cow view gone as well,
 * none of their nodes is served any more (a view not listed is ESTALE,
 * the release of its descriptors included), so no hold would ever be
 * put back: they are freed now, their pages going back to cow_limit. */
static void drop_instances(struct region *r, bool cow_gone)
{
	if (!cow_gone) {
		instance_drop_all(&r->instances);
		return;
	}
	instance_table_free(&r->instances);
	instance_table_init(&r->instances);
}

void region_views_apply(struct region *r, struct region_views *v)
{
	unsigned gone = r->entry.views & ~v->views;
	char why[REASON_MAX];

	/* As a removed entry's at its close: what went through rw/NAME is on
	 * disk before its mapping goes. */
	if ((gone & VIEW_RW) && region_sync_all(r, why, sizeof(why)))
		log_msg(LOG_ERR, "[%s] flush as the rw view goes failed: %s", r->entry.name, why);
	pthread_rwlock_wrlock(&r->lock);
	if (gone & VIEW_RW) {
		munmap(r->rw_map, map_length(r, r->size));
		r->rw_map = NULL;
	}
	if (v->fd >= 0) {
		close(r->fd);
		r->fd = v->fd;
	}
	if (v->rw_map)
		r->rw_map = v->rw_map;
	drop_instances(r, gone & VIEW_COW);
	if (gone & VIEW_COW)
		cow_release(&r->cow);	/* cow/NAME's writes go with the view */
	if (v->cow.map)
		r->cow = v->cow;
	r->entry.views = v->views;
	pthread_rwlock_unlock(&r->lock);
	free(v);
}

void region_cow_stats(struct region *r, struct instance *in, struct region_stats *st)
{
	region_get_stats(r, st);
	if (!in)
		return;
	pthread_rwlock_rdlock(&r->lock);
	st->cow_size = in->cow.size;
	st->cow_private_bytes = cow_private_bytes(&in->cow);
	pthread_rwlock_unlock(&r->lock);
	st->reads = in->counters.reads;
	st->writes = in->counters.writes;
	st->resizes = in->counters.resizes;
	st->resets = in->counters.resets;
	st->forks = in->counters.forks;
	st->commits = in->counters.commits;
	st->errors = in->counters.errors;
	st->flushes = st->moves = 0;
	pthread_mutex_lock(&in->counters.error_mu);
	snprintf(st->last_error, sizeof(st->last_error), "%s", in->counters.last_error);
	pthread_mutex_unlock(&in->counters.error_mu);
}

void region_cow_note_error(struct region *r, struct instance *in, const char *file,
			   const char *reason)
{
	if (!in) {
		region_note_error(r, file, reason);
		return;
	}
	cow_counters_error(&in->counters, file, reason);
	log_msg(LOG_INFO, "[%s@%s] %s: %s", r->entry.name, in->tag, file, reason);
}
