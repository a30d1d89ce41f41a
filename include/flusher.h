/*
 * flusher.h - the global flush_interval: a thread that flushes every rw
 * region of a table (msync MS_SYNC, then fsync) each INTERVAL seconds.
 */
#ifndef MMAPFS_FLUSHER_H
#define MMAPFS_FLUSHER_H

#include "table.h"

struct flusher;

/* Starts flushing T every INTERVAL seconds (0: not until set otherwise).
 * NULL on failure. */
struct flusher *flusher_start(struct table *t, unsigned interval);

/* Changes the period; 0 stops the flushes, not the thread. */
void flusher_set_interval(struct flusher *f, unsigned interval);

/* Stops the thread and frees F. */
void flusher_stop(struct flusher *f);

#endif
