/*
 * region.h - one entry's mapped memory, shared by its three views.
 *
 * A region owns the backing descriptor (the file, or a memfd for anonymous
 * entries) and up to three mappings of the same window of it:
 *   ro   MAP_SHARED  PROT_READ               always mapped
 *   rw   MAP_SHARED  PROT_READ | PROT_WRITE  when the rw view is configured
 *   cow  MAP_PRIVATE PROT_READ | PROT_WRITE  when the cow view is configured
 * ro and rw share the page cache with the file, so they agree at once; cow
 * shows the file with this region's private writes on top, and has a size
 * of its own (cow.h).
 *
 * Locking: a writer-preferring rwlock. Copies to and from the mappings hold
 * it shared; anything that moves a mapping (resize, refresh) holds it
 * exclusive, so no reader ever sees a mapping while mremap moves it.
 * Sizes can be read at any time without the lock.
 */
#ifndef MMAPFS_REGION_H
#define MMAPFS_REGION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "entry.h"
#include "errors.h"

struct region;

/*
 * Opens E's backing file (creating it when E says so) or a memfd, and maps
 * it. Returns 0, or an errno with the reason in WHY.
 */
int region_open(const struct entry *e, struct region **out,
		char *why, size_t whylen);

/* Flushes the rw mapping to the file (as region_sync) and unmaps all.
 * Returns 0, or the errno of a failed flush. */
int region_close(struct region *r);

/* The entry this region was opened from. */
const struct entry *region_entry(const struct region *r);

/* Bytes visible through VIEW (one VIEW_* bit): ro and rw share a size. */
uint64_t region_view_size(const struct region *r, unsigned view);

/* fstat of the backing descriptor (for owner, mode and times). */
int region_fstat(const struct region *r, struct stat *st);

/* Whether the entry's path still names the file the region has open (false
 * once it was replaced, e.g. renamed over, or removed). Anonymous: true. */
bool region_file_is_current(const struct region *r);

/*
 * Zero-copy reads: points *DATA at VIEW's bytes [OFF, OFF + return value),
 * clamped to the view's size, and holds the region's lock shared until
 * region_read_end(), so the caller may hand *DATA to the kernel directly.
 */
size_t region_read_begin(struct region *r, unsigned view, uint64_t off,
			 size_t len, const void **data);
void region_read_end(struct region *r);

/* Between the two: of the LEN bytes at OFF that region_read_begin gave,
 * how many the mapping holds as they read; *ZEROS bytes of zeros follow
 * (cow: past the base, in the unwritten page across it, which maps the
 * file), then the mapping again for the rest. */
size_t region_read_mapped(const struct region *r, unsigned view, uint64_t off,
			  size_t len, size_t *zeros);

/*
 * Between region_read_begin and region_read_end, when the mapping could not
 * give the LEN bytes at OFF (a page faulted: fault_probe), copies them into
 * BUF with pread(2) on the region's own descriptor, which reaches the same
 * page-cache pages and reads a hole as zeros where a full tmpfs cannot
 * give a page to map it. Only for ro and rw of a file, and only where the
 * bytes lie inside the file: bytes past the end of a file cut outside the
 * mount, and cow bytes, which live only in the private mapping, are EIO.
 */
int region_read_fallback(struct region *r, unsigned view, uint64_t off,
			 size_t len, void *buf);

/*
 * Copies BUF into VIEW (VIEW_RW or VIEW_COW) at *OFF, and says in *WRITTEN
 * how many bytes it copied. An rw write ending past the end grows the
 * region first, as region_resize does; a cow write past the end grows the
 * cow view alone (cow.h). With resizable = no, only the part before the end
 * is written (ENOSPC when none fits); a cow write short of cow_limit is
 * short too (ENOSPC when none fits).
 * FLAGS:
 *   REGION_WRITE_APPEND    at the view's end as it is when the write runs,
 *                          whatever *OFF says; *OFF is set to where it went
 *   REGION_WRITE_IN_PLACE  never grows the view: a page written back from a
 *                          client's mapping is cut at the end (SPEC: it never
 *                          changes a view's size)
 */
enum {
	REGION_WRITE_APPEND = 1 << 0,
	REGION_WRITE_IN_PLACE = 1 << 1,
};

int region_write(struct region *r, unsigned view, const void *buf, size_t len,
		 uint64_t *off, unsigned flags, size_t *written);

/*
 * The operations below return 0 or an errno (errors.h), with the reason in
 * WHY. Bounds are those of Python's mmap: a range that does not lie
 * inside the view, or a sum that overflows, is EINVAL, and changes nothing.
 */

/*
 * Makes the region SIZE bytes: the file is extended or cut (a window that
 * ends before the file's end never cuts the data after it), both shared
 * mappings follow. The cow view keeps its size and its written pages; a
 * cut of the file cuts its base (cow_cut_base, before the file is cut, so
 * that the kernel's truncation cannot drop them). EPERM with resizable = no.
 */
int region_resize(struct region *r, uint64_t size, char *why, size_t whylen);

/* truncate(2) of VIEW (VIEW_RW or VIEW_COW) to SIZE: a resize for rw, the
 * cow view's own size for cow. With resizable = no, EPERM unless SIZE is
 * the view's size already (then nothing changes). */
int region_truncate(struct region *r, unsigned view, uint64_t size);

/* fallocate(2) of VIEW (VIEW_RW or VIEW_COW) with MODE (SPEC "rw/NAME"):
 * 0 and KEEP_SIZE allocate in the file (cow: only its size may change),
 * PUNCH_HOLE|KEEP_SIZE and ZERO_RANGE zero the range (cow: privately);
 * without KEEP_SIZE a range past the end grows the view first. Other
 * modes EOPNOTSUPP; another size with resizable = no, EPERM. */
int region_fallocate(struct region *r, unsigned view, int mode, uint64_t off,
		     uint64_t len);

/* futimens(2) of the backing descriptor: TIMES as utimensat takes them. */
int region_set_times(struct region *r, const struct timespec times[2]);

/* msync(MS_SYNC) of [OFF, OFF + LEN) of the rw mapping (OFF rounded down
 * to a page), then fsync of the file; a no-op for anonymous regions. Every
 * OFF and LEN is a range like any other (UINT64_MAX included): one that
 * does not lie inside the region is EINVAL. */
int region_sync(struct region *r, uint64_t off, uint64_t len, char *why,
		size_t whylen);

/* As region_sync of the whole region, as large as it is when the flush
 * runs. */
int region_sync_all(struct region *r, char *why, size_t whylen);

/* fsync(2)/fdatasync(2) of rw/NAME (SPEC "rw/NAME"): as region_sync_all,
 * with fdatasync of the file instead of fsync when DATASYNC, and the msync
 * skipped while nothing was stored into the rw mapping since the last one
 * (large rw writes, and all of them near an fsync, go by pwrite(2) on the
 * descriptor: region_write). Code in region.c that stores into the rw
 * mapping must set map_dirty after the store. */
int region_fsync(struct region *r, bool datasync);

/* flush async: starts writing [OFF, OFF + LEN) of the rw region to disk
 * (sync_file_range SYNC_FILE_RANGE_WRITE, OFF rounded down to a page), or
 * all of it when WHOLE, and returns without waiting nor fsync. Bounds as
 * region_sync; a no-op for anonymous regions. Counts as a flush. */
int region_sync_start(struct region *r, bool whole, uint64_t off, uint64_t len,
		      char *why, size_t whylen);

/* madvise(2) ADVICE (an MADV_* value) of [OFF, OFF + LEN) of the shared
 * mappings, ro and rw, or of all the region when WHOLE; never of the cow
 * view's private pages. OFF must be a multiple of the page size and the
 * range inside the region (EINVAL). */
int region_advise(struct region *r, int advice, bool whole, uint64_t off,
		  uint64_t len, char *why, size_t whylen);

/* memmove of COUNT bytes from SRC to DEST within VIEW (VIEW_RW or
 * VIEW_COW); both ranges must lie inside that view. */
int region_move(struct region *r, unsigned view, uint64_t dest, uint64_t src,
		uint64_t count, char *why, size_t whylen);

/* Drops every cow write: the cow view maps the file afresh at the region's
 * current size. */
int region_reset(struct region *r, char *why, size_t whylen);

/*
 * Cow views: IN is a cow instance (instance.h), or NULL for cow/NAME. The
 * calls are those of VIEW_COW above, on IN's view, counted in IN's
 * counters.
 */
struct instance;
struct region_stats;
struct instance_table *region_instances(struct region *r);
uint64_t region_cow_size(struct region *r, struct instance *in);
size_t region_cow_read_begin(struct region *r, struct instance *in, uint64_t off,
			     size_t len, const void **data);	/* then region_read_end */
size_t region_cow_read_mapped(struct region *r, struct instance *in, uint64_t off,
			      size_t len, size_t *zeros);
int region_cow_write(struct region *r, struct instance *in, const void *buf, size_t len,
		     uint64_t *off, unsigned flags, size_t *written);
int region_cow_truncate(struct region *r, struct instance *in, uint64_t size);
int region_cow_fallocate(struct region *r, struct instance *in, int mode, uint64_t off,
			 uint64_t len);
int region_cow_reset(struct region *r, struct instance *in, char *why, size_t whylen);

/* Makes the instance TAG, a copy of IN's view as it is now (instance.h's
 * errors: EINVAL, EEXIST, ENOSPC; ENOSPC too past cow_limit). */
int region_cow_fork(struct region *r, struct instance *in, const char *tag,
		    char *why, size_t whylen);

/* IN's changes as "OFFSET LENGTH" lines (cow_changes) into BUF, as many
 * whole lines as fit BUFLEN with a NUL; returns the whole text's length
 * (BUFLEN or more: it was cut), as snprintf does. */
size_t region_cow_changes(struct region *r, struct instance *in, char *buf, size_t buflen);

/*
 * Writes IN's view into the file through the rw region: the region takes
 * its size (as region_resize; EPERM with resizable = no), every run of its
 * changes is copied in, msync(MS_SYNC) and fsync, then the view starts
 * afresh (region_cow_reset). On failure the view is as it was and WHY
 * says how far the copy got.
 */
int region_cow_commit(struct region *r, struct instance *in, char *why, size_t whylen);

/* Takes E's settings that a mapping can change in place (resizable, create,
 * advice), E mapping the same bytes: the region, its cow writes and its
 * instances stay (SPEC: a reload that changed other keys keeps the inode
 * numbers, and cow/NAME its written pages). Views change by
 * region_views_apply, before. */
void region_retune(struct region *r, const struct entry *e);

/*
 * A reload's change of the views of an entry that maps the same bytes, in
 * two steps, so that a reload stays all or nothing (table.h):
 * region_views_prepare makes what VIEWS need that R lacks (an rw mapping,
 * on a read-write descriptor of the same file; a fresh cow view, as after
 * a reset) or fails with the reason in WHY (an rw view on a file that
 * cannot be opened for writing, as open(2) says; ESTALE for a file
 * renamed over the path since the reload compared them); then either
 * region_views_apply puts them in, which cannot fail, or
 * region_views_cancel undoes them. Either frees V. The caller holds R's
 * slot exclusive from the prepare on, so that no request uses R or
 * changes its size meanwhile.
 *
 * Applied: a view that leaves goes (rw is flushed first, as a removed
 * entry's is; cow/NAME's writes go with it, and if it comes back it
 * starts afresh); cow/NAME staying keeps its size, base and written
 * pages. The instances are dropped as `drop` does, or freed with the cow
 * view (SPEC "Cow instances").
 */
struct region_views;
int region_views_prepare(struct region *r, unsigned views, struct region_views **v,
			 char *why, size_t whylen);
void region_views_apply(struct region *r, struct region_views *v);
void region_views_cancel(struct region_views *v);

/* Status of IN's view: the entry's, with IN's own sizes and counters. */
void region_cow_stats(struct region *r, struct instance *in, struct region_stats *st);
void region_cow_note_error(struct region *r, struct instance *in, const char *file,
			   const char *reason);

/* Counters and sizes for ctl/NAME/status. */
struct region_stats {
	uint64_t size, cow_size, file_size;
	uint64_t resident_bytes;	/* mincore(2) of the shared mapping */
	uint64_t cow_private_bytes;	/* cow pages written since mount or reset */
	uint64_t reads, writes, flushes, resizes, moves, resets, forks, commits, errors;
	char last_error[REASON_MAX + 16];	/* "none" or "FILE: reason" */
};

void region_get_stats(struct region *r, struct region_stats *st);

/* Records a copy out of or into the mapping (WHAT: "a read", ...) that hit
 * a page past the end of a file cut outside the mount: logs it and fits
 * the region to the file's new size. region_write and region_move
 * call it themselves; the caller of region_read_begin does when the
 * kernel's copy of the reply failed (EFAULT). */
void region_fault(struct region *r, const char *what);

/* Records a failed command of control file FILE: counts it and keeps
 * "FILE: REASON" as last_error. */
void region_note_error(struct region *r, const char *file, const char *reason);

/* Fits the region to its file as it is now: an entry that follows its file
 * (length 0) takes the file's size; a window shows its size (as configured
 * or last resized) or, while the file is cut short outside the mount, what
 * is left of it; the cow view's base is cut to the file (its size stays).
 * *CHANGED tells whether a size or the base changed. */
int region_refresh(struct region *r, bool *changed);

#endif
