/*
 * notify.h - part of the fs module: the thread that tells the kernel to
 * drop what it caches (fuse_lowlevel_notify_inval_inode and _entry).
 *
 * The kernel takes page and folder locks to carry out an invalidation, and
 * one of them may be held by a request that waits for a reply from the
 * thread that would write it: so no request handler writes one. Handlers
 * post them here and wait, boundedly, until this thread has sent them.
 */
#ifndef MMAPFS_NOTIFY_H
#define MMAPFS_NOTIFY_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <stdint.h>

struct notifier;

struct notifier *notifier_new(void);
/* Starts sending to SE's kernel side; returns 0 or an errno. */
int notifier_start(struct notifier *n, struct fuse_session *se);
/* Sends what is queued, stops the thread, frees N. */
void notifier_free(struct notifier *n);

/* Queue: drop INO's cached attributes and pages [OFF, OFF + LEN) (LEN 0:
 * to the end); or the cached name NAME in folder PARENT. Each returns a
 * ticket for notifier_wait, 0 when nothing was queued (not started). */
uint64_t notifier_inval_inode(struct notifier *n, fuse_ino_t ino, off_t off, off_t len);
uint64_t notifier_inval_entry(struct notifier *n, fuse_ino_t parent, const char *name);

/* Waits until every invalidation up to TICKET was sent, at most one second;
 * past that it logs a warning and returns. */
void notifier_wait(struct notifier *n, uint64_t ticket);

#endif
