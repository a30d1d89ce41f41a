/*
 * writeback.h - part of the FUSE side: makes the kernel write back what
 * clients dirtied in their own mappings of a view, and waits until the
 * daemon has answered every WRITE that this causes (coherence.h's jobs do
 * it before they change a region).
 *
 * The close of a descriptor of a view does both (FUSE's flush writes the
 * inode's dirty pages back, then waits for every page write in flight).
 * A descriptor opened for the purpose costs an OPEN and a RELEASE request,
 * and the open, without keep_cache, drops every page the kernel cached of
 * the view, unmapping them from the clients too. So where it can, this
 * keeps one descriptor per view and closes a duplicate of it: no request
 * at all where nothing is dirty.
 *
 * Kept descriptors are opened through a clone of the mount (open_tree(2),
 * a mount no path reaches): one held through the mount itself would make
 * every plain unmount (fusermount3 -u) fail with EBUSY. The clone keeps
 * the file system alive past such an unmount, so a descriptor is kept
 * only while its view may have dirty pages at all (open for writing) and
 * closed by writeback_sweep() once not. Where no clone can be made (no
 * CAP_SYS_ADMIN), each write-back opens and closes the view by its path.
 *
 * Not thread-safe: one thread (coherence's changer) uses it, except
 * writeback_kept(), which any thread may call.
 */
#ifndef MMAPFS_WRITEBACK_H
#define MMAPFS_WRITEBACK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct writeback;

/* For the mount on MOUNTPOINT (its real path), whose file system is DEV
 * (0: unknown, no descriptor is kept). NULL if out of memory. */
struct writeback *writeback_new(const char *mountpoint, dev_t dev);

/* Closes every kept descriptor and frees W. */
void writeback_free(struct writeback *w);

/* Writes back the dirty pages of the view at PATH under the mount (e.g.
 * "rw/data"), node INO, and waits for the daemon's answers. KEEP: the
 * descriptor may be kept for the next call. False if the view could not
 * be opened (e.g. its mode lets no one read or write it). */
bool writeback_view(struct writeback *w, uint64_t ino, const char *path, bool keep);

/* Closes each kept descriptor whose node NEEDED(ARG, INO) says no longer
 * needs one, and the clone with the last of them. */
void writeback_sweep(struct writeback *w, bool (*needed)(void *arg, uint64_t ino), void *arg);

/* How many descriptors are kept: counted before a descriptor is used, so
 * that a thread that sees 0 after a view lost its last writer knows that
 * no descriptor opened before is left for a sweep to miss. */
int writeback_kept(const struct writeback *w);

#endif
