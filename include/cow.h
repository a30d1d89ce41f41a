/*
 * cow.h - the cow view as a private file of its own (SPEC "cow/NAME").
 *
 * One private mapping, in two parts: from 0 to the page that holds the
 * base, MAP_PRIVATE of the file (pages not written show the file; written
 * ones are the kernel's private copies); past it, anonymous memory, zeros
 * until written. The view's size is its own: it grows by writes and
 * truncates, and a file cut through the mount only cuts the base.
 *
 *   0                       base                   size
 *   |---- file (MAP_PRIVATE) --|------ anonymous zeros ----|
 *   [  f  |##W##|  f  |ff|z0000|#W#|  0  |  0  |#W#|  0 ]
 *                        ^ the page across an unaligned base: the file's
 *                          bytes below the base; past it, zeros (read as
 *                          zeros while unwritten, zeroed when written)
 *   W: written pages (the bitmap; cow_private_bytes, cow_limit)
 *
 * The base is the least of the size at mount or reset, every later file
 * size (from the entry's offset) and every truncate of the view: bytes
 * past it read as zeros until written, never as file data, however the
 * file grows later.
 *
 * Locking is the region's: cow_store without COW_GROW may run under its
 * lock held shared; everything else needs it exclusive.
 */
#ifndef MMAPFS_COW_H
#define MMAPFS_COW_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cow {
	char *map;			/* NULL: the entry has no cow view */
	_Atomic uint64_t size;		/* the view's own size; read without the lock */
	_Atomic uint64_t base;		/* bytes [0, base) map the file */
	uint64_t map_len;		/* bytes MAP holds: the view's pages, then
					 * zeros reserved for growth */
	uint64_t file_len;		/* bytes of MAP that map the file: page_up(base) or less */
	uint64_t page;
	_Atomic uint64_t *written;	/* one bit per private page */
	uint64_t words;			/* of WRITTEN */
	_Atomic uint64_t private_pages;	/* bits set in WRITTEN */
};

/* The most private bytes that all cow views together may hold (cow_limit);
 * 0: no limit. */
void cow_set_limit(uint64_t bytes);

/* Private bytes held by all cow views now. */
uint64_t cow_total_private(void);

/* Makes C a cow view of SIZE bytes over MAP, a MAP_PRIVATE mapping of the
 * file of map length (SIZE rounded up to PAGE, at least one page), which C
 * then owns. Returns 0 or an errno (MAP is then the caller's still). */
int cow_init(struct cow *c, char *map, uint64_t size, uint64_t page);

/* Unmaps C and gives its private pages back to the limit. */
void cow_release(struct cow *c);

/* Bytes of private pages C holds. */
uint64_t cow_private_bytes(const struct cow *c);

enum {
	COW_GROW = 1 << 0,	/* the lock is held exclusive: may grow the view */
	COW_WHOLE = 1 << 1,	/* all or nothing: ENOSPC rather than short */
};

/*
 * Copies LEN bytes of BUF (NULL: zeros) to OFF, with *STORED the bytes
 * stored. New private pages are taken from cow_limit first: past it the
 * store is short (ENOSPC when nothing fits, or with COW_WHOLE when not all
 * of it does). A store past the size grows the view with COW_GROW, and is
 * EAGAIN (nothing done) without it; so is one that makes the page across
 * the base private. EIO: a page past the end of a file cut
 * outside the mount.
 */
int cow_store(struct cow *c, const void *buf, size_t len, uint64_t off,
	      unsigned how, size_t *stored);

/* How to read LEN bytes at OFF: returns how many from OFF on the mapping
 * holds as they read; *ZEROS bytes of zeros follow (the part past the base
 * of the unwritten page across it, which maps the file), then the mapping
 * again for the rest. */
size_t cow_readable(const struct cow *c, uint64_t off, size_t len, size_t *zeros);

/* The view becomes SIZE bytes: what is cut off is gone (a regrown part
 * reads as zeros), what grows is zeros. Returns 0 or an errno. */
int cow_truncate(struct cow *c, uint64_t size);

/*
 * The file now ends, or is about to end, BASE bytes into the view (it is
 * cut through the mount, or was by another process): a base past it is
 * cut to it. Written pages past it move into anonymous memory at the same
 * place, out of the reach of the kernel's truncation, which drops private
 * copies too; one the kernel dropped already is lost (zeros). Unwritten
 * ones become zeros. The view's size never changes.
 */
int cow_cut_base(struct cow *c, uint64_t base);

/*
 * Makes C a copy of FROM (a fork: cow/NAME@TAG): its size, its base and
 * its private pages, copied into MAP, a MAP_PRIVATE mapping of the file of
 * FROM's map length, which C then owns; the rest keeps mapping the file,
 * so the cost grows with FROM's private pages, not with the file. Their
 * memory is taken from cow_limit all or nothing (ENOSPC). Returns 0 or an
 * errno (MAP is then the caller's still). FROM's lock held shared.
 */
int cow_fork(struct cow *c, const struct cow *from, char *map);

/* A run of pages whose bytes are the view's own (written, or past the
 * base): ctl/NAME/changes. The last run ends at the view's size. */
struct cow_run {
	uint64_t off, len;
};

/* Up to MAX runs from page FROM (a multiple of the page) on, ascending and
 * merged; returns how many. Runs are whole: a next call goes on from the
 * end of the last one. */
size_t cow_changes(const struct cow *c, struct cow_run *runs, size_t max, uint64_t from);

/* Copies LEN bytes at OFF as they read (zeros past the base) into BUF;
 * 0 or EIO. */
int cow_copy_out(const struct cow *c, uint64_t off, size_t len, char *buf);

#endif
