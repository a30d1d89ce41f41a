/*
 * fault.h - copies to and from mappings that survive SIGBUS.
 *
 * Touching a file mapping past the file's end raises SIGBUS: another
 * process may truncate a backing file at any time. fault_copy() turns that
 * into an error return instead of the daemon's death.
 *
 * fault_setup() installs one process-wide SIGBUS handler. While a thread is
 * inside fault_copy(), the handler jumps back to it (siglongjmp); a SIGBUS
 * anywhere else is re-raised with the default action, as if there were no
 * handler. Installing the handler once, rather than around each copy,
 * keeps the hot path free of system calls.
 */
#ifndef MMAPFS_FAULT_H
#define MMAPFS_FAULT_H

#include <stddef.h>

/* Installs the SIGBUS handler; returns 0 or an errno. */
int fault_setup(void);

/* memmove(DST, SRC, LEN); returns 0, or EIO if a page of either faulted. */
int fault_copy(void *dst, const void *src, size_t len);

/* memset(DST, 0, LEN); returns 0, or EIO if a page faulted. */
int fault_zero(void *dst, size_t len);

/* Reads one byte of every PAGE-byte page of [SRC, SRC + LEN), so that each
 * is faulted in; returns 0, or EIO if one faulted. */
int fault_probe(const void *src, size_t len, size_t page);

#endif
