/*
 * notify.h - part of the fs module: the threads that tell the kernel to
 * drop what it caches (fuse_lowlevel_notify_inval_inode and _entry).
 *
 * The kernel takes page and folder locks to carry out an invalidation, and
 * one of them may be held by a request that waits for a reply from the
 * thread that would write it: so no request handler writes one. Handlers
 * post them here as a batch and wait, boundedly, until their own batch is
 * sent. One invalidation may wait for a client's write in flight, whose
 * handler waits for its own batch: so the notifier is a small pool that
 * grows when every thread is busy, and batches are never queued behind
 * each other.
 */
#ifndef MMAPFS_NOTIFY_H
#define MMAPFS_NOTIFY_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

struct notifier;
struct inval_batch;

struct notifier *notifier_new(void);
/* Starts sending to SE's kernel side; returns 0 or an errno. */
int notifier_start(struct notifier *n, struct fuse_session *se);
/* Sends what is queued, stops the threads, frees N. */
void notifier_free(struct notifier *n);

/* A new, empty batch; NULL if out of memory (its posts are then no-ops). */
struct inval_batch *notifier_batch(struct notifier *n);

/* Adds to B: drop INO's cached attributes and pages [OFF, OFF + LEN) (LEN
 * 0: to the end); or the cached name NAME in folder PARENT. */
void notifier_inval_inode(struct notifier *n, struct inval_batch *b, fuse_ino_t ino,
			  off_t off, off_t len);
void notifier_inval_entry(struct notifier *n, struct inval_batch *b, fuse_ino_t parent,
			  const char *name);

/* Waits until all of B was sent, at most one second (past that it logs a
 * warning), and releases B. */
void notifier_wait(struct notifier *n, struct inval_batch *b);

/* Releases B without waiting: its items are sent when a thread can. */
void notifier_send(struct notifier *n, struct inval_batch *b);

/* Releases B and calls DONE(ARG) once all of B was sent: at once, from
 * this thread, if it already was (or B is NULL), else from the notifier
 * thread that sends its last item. No time bound: nothing waits. */
void notifier_then(struct notifier *n, struct inval_batch *b, void (*done)(void *),
		   void *arg);

#endif
