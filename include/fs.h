/*
 * fs.h - the FUSE side: libfuse's low-level operations over a table of
 * entries.
 *
 * The file system is the tree
 *   /ro/NAME  /rw/NAME  /cow/NAME   one regular file per configured view
 *   /ctl/NAME/                      the entry's control files
 * of the table's live entries. It only translates between FUSE requests and
 * table, region and ctl calls, and keeps the kernel's cached pages and
 * names coherent with the mappings.
 */
#ifndef MMAPFS_FS_H
#define MMAPFS_FS_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include "table.h"

struct fs;

/* The operations to hand to fuse_session_new(), with the fs as userdata. */
extern const struct fuse_lowlevel_ops fs_ops;

/* A file system over T, which must outlive it, asking the kernel for
 * READAHEAD bytes of readahead (0: the kernel's default). KERNEL_CACHE:
 * the backing files change only through the mount, so the kernel may keep
 * their views' pages across opens. NULL if out of memory. */
struct fs *fs_new(struct table *t, unsigned readahead, bool kernel_cache);

/* Starts the threads that tell SE's kernel side what is stale, for the
 * mount on MOUNTPOINT (its real path) of device DEV (0: unknown). */
int fs_start(struct fs *fs, struct fuse_session *se, const char *mountpoint, dev_t dev);

/* After table_reload(): makes the kernel forget the names that went away
 * and the cached pages of entries that were remapped. */
void fs_reloaded(struct fs *fs, const struct table_changes *changes);

/* Stops that thread and frees FS (not its table). */
void fs_destroy(struct fs *fs);

#endif
