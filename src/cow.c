/*
 * cow.c - the cow view as a private file of its own (cow.h).
 *
 * Two things make it work. The kernel's truncation of a file drops the
 * private copies of its pages past the new end too (truncate_pagecache
 * unmaps even COW pages), so before the daemon cuts a file, written pages
 * past the cut move into anonymous memory at the same place; and the
 * unwritten ones become anonymous zeros, so that later growth of the file
 * never shows through. Growth maps anonymous memory after the end, in
 * place when the address space allows, else the pieces move (mremap) into
 * a larger reservation: written pages are never copied for it. Each
 * growth reserves as much again, so a view that grows by small writes
 * moves a logarithmic number of times, not at every write.
 */
#include "cow.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fault.h"

static _Atomic uint64_t limit_bytes, total_private;

void cow_set_limit(uint64_t bytes)
{
	atomic_store(&limit_bytes, bytes);
}

uint64_t cow_total_private(void)
{
	return atomic_load(&total_private);
}

/* Takes up to WANT bytes (whole pages of PAGE) of the limit; returns how
 * many it took. */
static uint64_t charge(uint64_t want, uint64_t page)
{
	uint64_t limit = atomic_load(&limit_bytes), total = atomic_load(&total_private), take;

	do {
		take = want;
		if (limit && total + take > limit)
			take = total >= limit ? 0 : (limit - total) / page * page;
	} while (take && !atomic_compare_exchange_weak(&total_private, &total, total + take));
	return take;
}

static void refund(uint64_t bytes)
{
	atomic_fetch_sub(&total_private, bytes);
}

static uint64_t page_up(const struct cow *c, uint64_t n)
{
	return (n + c->page - 1) & ~(c->page - 1);
}

/* Mapping lengths are whole pages, never 0 (as region.c's). */
static uint64_t map_length(const struct cow *c, uint64_t size)
{
	uint64_t len = page_up(c, size);

	return len ? len : c->page;
}

/* ---- the bitmap of private pages ---- */

static bool is_written(const struct cow *c, uint64_t p)
{
	return p / 64 < c->words && (atomic_load(&c->written[p / 64]) >> (p % 64) & 1);
}

/* Sets page P's bit; true if it was clear. The bitmap covers P. */
static bool set_written(struct cow *c, uint64_t p)
{
	uint64_t bit = 1ULL << (p % 64);

	if (atomic_fetch_or(&c->written[p / 64], bit) & bit)
		return false;
	atomic_fetch_add(&c->private_pages, 1);
	return true;
}

/* Clears the bits of pages [FROM, TO) and gives their memory back. */
static void forget_written(struct cow *c, uint64_t from, uint64_t to)
{
	uint64_t gone = 0;

	for (uint64_t p = from; p < to && p / 64 < c->words; p++) {
		uint64_t bit = 1ULL << (p % 64);

		if (p % 64 == 0 && to - p >= 64 && !atomic_load(&c->written[p / 64])) {
			p += 63;	/* a clear word: skip it whole */
			continue;
		}
		if (atomic_fetch_and(&c->written[p / 64], ~bit) & bit)
			gone++;
	}
	atomic_fetch_sub(&c->private_pages, gone);
	refund(gone * c->page);
}

/* Makes the bitmap cover SIZE bytes; the new words are clear. */
static int fit_bitmap(struct cow *c, uint64_t size)
{
	uint64_t words = (page_up(c, size) / c->page + 63) / 64;
	_Atomic uint64_t *grown;

	if (words <= c->words)
		return 0;
	/* calloc, not realloc: its untouched pages cost no memory until
	 * written, so a view grown to a terabyte holds no 32 MiB bitmap. */
	grown = calloc(words, sizeof(*grown));
	if (!grown)
		return ENOMEM;
	if (c->words)
		memcpy((void *)grown, (const void *)c->written, c->words * sizeof(*grown));
	free(c->written);
	c->written = grown;
	c->words = words;
	return 0;
}

/* Pages of [OFF, OFF + LEN) not written yet. */
static uint64_t unwritten_pages(const struct cow *c, uint64_t off, size_t len)
{
	uint64_t n = 0;

	for (uint64_t p = off / c->page; len && p <= (off + len - 1) / c->page; p++)
		n += !is_written(c, p);
	return n;
}

/* The longest part of LEN bytes at OFF that needs at most PAGES new pages. */
static size_t fitting_prefix(const struct cow *c, uint64_t off, size_t len, uint64_t pages)
{
	for (uint64_t p = off / c->page; p <= (off + len - 1) / c->page; p++) {
		if (is_written(c, p))
			continue;
		if (pages-- == 0)
			return p * c->page > off ? (size_t)(p * c->page - off) : 0;
	}
	return len;
}

/* Marks the pages of [OFF, OFF + LEN); returns how many were new. */
static uint64_t mark_written(struct cow *c, uint64_t off, size_t len)
{
	uint64_t n = 0;

	for (uint64_t p = off / c->page; len && p <= (off + len - 1) / c->page; p++)
		n += set_written(c, p);
	return n;
}

/* ---- the mapping ---- */

static char *anonymous(uint64_t len)
{
	/* NORESERVE: a view grown to a terabyte holds nothing until written. */
	void *map = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return map == MAP_FAILED ? NULL : map;
}

/* mremap of [FROM, FROM + LEN) onto TO. mremap may move only one mapping
 * at a time (EFAULT across two before Linux 6.17; EINVAL under valgrind),
 * so a range of several moves in halves. */
static int move_range(char *from, char *to, uint64_t len, uint64_t page)
{
	uint64_t half = len / 2 & ~(page - 1);
	int err;

	if (mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to) != MAP_FAILED)
		return 0;
	if ((errno != EFAULT && errno != EINVAL) || len <= page)
		return errno;
	err = move_range(from, to, half, page);
	return err ? err : move_range(from + half, to + half, len - half, page);
}

/* Address space a growth reserves past the new end, so that the writes
 * that follow (a database growing a page at a time) find it mapped: as
 * much again as the new length, up to 1 GiB. NORESERVE zeros cost nothing
 * until written. */
static uint64_t reserve_for(uint64_t new_len)
{
	const uint64_t most = 1ULL << 30;

	return new_len + (new_len < most ? new_len : most);
}

/* Makes the mapping hold at least NEW_LEN bytes, zeros past OLD_LEN (the
 * view's pages now). Within the reservation there is nothing to do; past
 * it, the reservation grows in place when the address space after it is
 * free, else the view's pages move (mremap) into a larger one. */
static int extend(struct cow *c, uint64_t old_len, uint64_t new_len)
{
	uint64_t cap = reserve_for(new_len);
	char *want = c->map + c->map_len, *fresh;
	void *got;
	int err;

	if (new_len <= c->map_len)
		return 0;
	got = mmap(want, cap - c->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE |
		   MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	if (got == want) {
		c->map_len = cap;
		return 0;
	}
	if (got != MAP_FAILED)
		munmap(got, cap - c->map_len);	/* a kernel that took it as a hint */
	fresh = anonymous(cap);
	if (!fresh)
		return errno;
	err = move_range(c->map, fresh, old_len, c->page);
	if (err) {
		munmap(fresh, cap);
		return err;
	}
	if (c->map_len > old_len)
		munmap(c->map + old_len, c->map_len - old_len);	/* zeros left behind */
	c->map = fresh;
	c->map_len = cap;
	return 0;
}

/*
 * Pages [FROM, file_len) stop mapping the file: they become anonymous,
 * written ones copied over when KEEP (one the kernel already dropped, past
 * the end of a file cut outside the mount, faults and is lost), the rest
 * zeros. FROM is a multiple of the page.
 */
static int unmap_file_past(struct cow *c, uint64_t from, bool keep)
{
	uint64_t len = c->file_len - from;
	char *fresh;

	if (from >= c->file_len)
		return 0;
	fresh = anonymous(len);
	if (!fresh)
		return errno;
	for (uint64_t p = from / c->page; p < c->file_len / c->page; p++) {
		if (p % 64 == 0 && (p / 64 >= c->words || !atomic_load(&c->written[p / 64]))) {
			p += 63;	/* no written page in this word */
			continue;
		}
		if (is_written(c, p) && (!keep || fault_copy(fresh + (p * c->page - from),
							     c->map + p * c->page, c->page)))
			forget_written(c, p, p + 1);
	}
	if (mremap(fresh, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, c->map + from) == MAP_FAILED) {
		int err = errno;

		munmap(fresh, len);
		return err;
	}
	c->file_len = from;
	return 0;
}

/*
 * The page across an unaligned base maps the file past the base too, where
 * the file may grow later. While unwritten it follows the file below the
 * base, and reads give zeros past it (cow_readable); the store that makes
 * it private zeroes that tail first, since the kernel's copy takes the
 * file's bytes there. Charged whatever the limit: the store that needs it
 * has its own pages charged already, this page among them.
 */
static int seal_base(struct cow *c)
{
	uint64_t base = c->base, p = base / c->page, tail = base % c->page;
	int err;

	if (!tail || is_written(c, p))
		return 0;
	err = fault_zero(c->map + base, c->page - tail);
	if (!err && set_written(c, p))
		atomic_fetch_add(&total_private, c->page);
	return err;
}

/* Whether [OFF, OFF + LEN) touches the unwritten page across the base. */
static bool touches_base_page(const struct cow *c, uint64_t off, uint64_t len)
{
	uint64_t first = c->base & ~(c->page - 1);

	return len && c->base % c->page && !is_written(c, first / c->page) &&
	       off < first + c->page && off + len > first;
}

size_t cow_readable(const struct cow *c, uint64_t off, size_t len, size_t *zeros)
{
	uint64_t base = c->base, tail_end = page_up(c, base);
	uint64_t from = off > base ? off : base, to = off + len < tail_end ? off + len : tail_end;

	*zeros = 0;
	if (!touches_base_page(c, off, len) || from >= to)
		return len;
	*zeros = (size_t)(to - from);
	return (size_t)(from - off);
}

/* ---- the operations ---- */

int cow_init(struct cow *c, char *map, uint64_t size, uint64_t page)
{
	int err;

	memset(c, 0, sizeof(*c));
	c->page = page;
	c->map = map;
	c->size = c->base = size;
	c->file_len = c->map_len = map_length(c, size);
	err = fit_bitmap(c, size);
	if (!err && !c->written)
		err = fit_bitmap(c, page);
	/* An empty view's one page maps the file past its base. */
	if (!err)
		err = unmap_file_past(c, page_up(c, size), false);
	if (err) {
		free(c->written);
		c->map = NULL;
	}
	return err;
}

void cow_release(struct cow *c)
{
	if (c->map)
		munmap(c->map, c->map_len);
	refund(c->private_pages * c->page);
	free(c->written);
	memset(c, 0, sizeof(*c));
}

uint64_t cow_private_bytes(const struct cow *c)
{
	return c->map ? atomic_load(&c->private_pages) * c->page : 0;
}

static int grow(struct cow *c, uint64_t size)
{
	uint64_t old_len = map_length(c, c->size), new_len = map_length(c, size);
	int err = fit_bitmap(c, size);

	if (!err && new_len > old_len)
		err = extend(c, old_len, new_len);
	if (err)
		return err;
	c->size = size;
	return 0;
}

static int shrink(struct cow *c, uint64_t size)
{
	uint64_t keep_len = map_length(c, size), old_len = map_length(c, c->size);
	int err = 0;

	forget_written(c, page_up(c, size) / c->page, old_len / c->page);
	/* The reservation goes too: what it held past the size must read as
	 * zeros when the view grows again, and a fresh one gives that. */
	if (keep_len < c->map_len)
		munmap(c->map + keep_len, c->map_len - keep_len);
	c->map_len = keep_len;
	if (c->file_len > keep_len)
		c->file_len = keep_len;
	if (size < c->base) {
		err = unmap_file_past(c, page_up(c, size), false);
		c->base = size;
	}
	c->size = size;
	/* What was written past the new end must not come back with growth. */
	if (!err && size % c->page && is_written(c, size / c->page))
		err = fault_zero(c->map + size, c->page - size % c->page);
	return err;
}

int cow_truncate(struct cow *c, uint64_t size)
{
	if (size > c->size)
		return grow(c, size);
	return size < c->size ? shrink(c, size) : 0;
}

int cow_cut_base(struct cow *c, uint64_t base)
{
	int err;

	if (base >= c->base)
		return 0;
	err = unmap_file_past(c, page_up(c, base), true);
	if (err)
		return err;
	c->base = base;
	return 0;
}

/* How much of the store fits the limit: the bytes in *LEN, the bytes
 * charged in *TAKEN. ENOSPC: nothing (or, WHOLE, not all of it). */
static int take_pages(struct cow *c, uint64_t off, size_t *len, bool whole,
		      uint64_t *taken)
{
	uint64_t want = unwritten_pages(c, off, *len) * c->page;

	*taken = charge(want, c->page);
	if (*taken < want)
		*len = whole ? 0 : fitting_prefix(c, off, *len, *taken / c->page);
	if (*len == 0) {
		refund(*taken);
		return ENOSPC;
	}
	return 0;
}

/* Stores that make at least this many bytes of new private pages make
 * them private first. */
#define POPULATE_MIN ((uint64_t)64 << 10)

/*
 * Makes the pages of a store that makes NEW bytes of private pages private
 * in one system call (MADV_POPULATE_WRITE, Linux 5.14), instead of one
 * write fault per page during the copy: 1 MiB copies into a fresh private
 * mapping of a file run 1.4x as fast so. Only pages the store writes
 * anyway, and only when enough of them are new: pages written before
 * fault no more. Where it fails (a page past the end of a file cut outside
 * the mount, an older kernel) the copy faults them in as before, and says
 * EIO where it must.
 */
static void populate(struct cow *c, uint64_t off, size_t len, uint64_t new)
{
	uint64_t from = off & ~(c->page - 1), to = page_up(c, off + len);

	if (new >= POPULATE_MIN)
		(void)madvise(c->map + from, to - from, MADV_POPULATE_WRITE);
}

int cow_store(struct cow *c, const void *buf, size_t len, uint64_t off,
	      unsigned how, size_t *stored)
{
	uint64_t taken;
	int err;

	*stored = 0;
	if (len == 0)
		return 0;
	err = take_pages(c, off, &len, how & COW_WHOLE, &taken);
	if (err)
		return err;
	if (off + len > c->size)
		err = (how & COW_GROW) ? grow(c, off + len) : EAGAIN;
	if (!err && touches_base_page(c, off, len))
		err = (how & COW_GROW) ? seal_base(c) : EAGAIN;
	if (!err)
		populate(c, off, len, taken);
	if (!err)
		err = buf ? fault_copy(c->map + off, buf, len) : fault_zero(c->map + off, len);
	if (err) {
		refund(taken);
		return err;
	}
	refund(taken - mark_written(c, off, len) * c->page);
	*stored = len;
	return 0;
}

/* ---- forks and changes ---- */

/* Copies FROM's private pages into C at the same places. */
static int copy_written(struct cow *c, const struct cow *from)
{
	uint64_t pages = page_up(c, c->size) / c->page;
	int err = 0;

	for (uint64_t p = 0; !err && p < pages; p++) {
		if (p % 64 == 0 && !atomic_load(&from->written[p / 64])) {
			p += 63;	/* no written page in this word */
			continue;
		}
		if (is_written(from, p))
			err = fault_copy(c->map + p * c->page, from->map + p * c->page, c->page);
		if (!err && is_written(from, p))
			set_written(c, p);
	}
	return err;
}

int cow_fork(struct cow *c, const struct cow *from, char *map)
{
	uint64_t bytes = atomic_load(&from->private_pages) * from->page, taken;
	int err;

	memset(c, 0, sizeof(*c));
	c->page = from->page;
	c->map = map;
	c->size = from->size;
	c->base = from->base;
	c->file_len = c->map_len = map_length(c, c->size);
	err = fit_bitmap(c, c->size > c->page ? c->size : c->page);
	/* Past what FROM maps of the file, anonymous zeros, as in FROM. */
	if (!err)
		err = unmap_file_past(c, from->file_len, false);
	if (!err && (taken = charge(bytes, c->page)) != bytes) {
		refund(taken);	/* all or nothing */
		err = ENOSPC;
	}
	if (!err)
		err = copy_written(c, from);
	if (!err)
		refund(bytes - atomic_load(&c->private_pages) * c->page);
	else if (err != ENOSPC)
		refund(bytes);
	if (err) {
		free(c->written);
		memset(c, 0, sizeof(*c));
	}
	return err;
}

/* Whether page P holds bytes of the view's own: written, or past the base. */
static bool is_own(const struct cow *c, uint64_t p)
{
	return is_written(c, p) || (c->base < c->size && (p + 1) * c->page > c->base);
}

size_t cow_changes(const struct cow *c, struct cow_run *runs, size_t max, uint64_t from)
{
	uint64_t pages = page_up(c, c->size) / c->page, p = from / c->page;
	size_t n = 0;

	while (n < max && p < pages) {
		uint64_t start;

		if (!is_own(c, p)) {
			/* a clear word below the base: skip it whole */
			p += p % 64 == 0 && (p + 64) * c->page <= c->base &&
			     (p / 64 >= c->words || !atomic_load(&c->written[p / 64])) ? 64 : 1;
			continue;
		}
		for (start = p; p < pages && is_own(c, p); p++)
			;
		runs[n].off = start * c->page;
		runs[n].len = (p < pages ? p * c->page : c->size) - runs[n].off;
		n++;
	}
	return n;
}

int cow_copy_out(const struct cow *c, uint64_t off, size_t len, char *buf)
{
	size_t zeros, head = cow_readable(c, off, len, &zeros);
	int err = fault_copy(buf, c->map + off, head);

	memset(buf + head, 0, zeros);
	if (!err && head + zeros < len)
		err = fault_copy(buf + head + zeros, c->map + off + head + zeros,
				 len - head - zeros);
	return err;
}
