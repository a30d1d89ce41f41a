/*
 * fs.h - the FUSE side: libfuse's low-level operations over the regions.
 *
 * The file system is a fixed tree built from the config:
 *   /ro/NAME  /rw/NAME  /cow/NAME   one regular file per configured view
 *   /ctl/NAME/                      the entry's control files
 * It only translates between FUSE requests and region calls, and keeps the
 * kernel's cached pages of every view coherent with the mappings.
 */
#ifndef MMAPFS_FS_H
#define MMAPFS_FS_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include "config.h"

struct fs;

/* The operations to hand to fuse_session_new(), with the fs as userdata. */
extern const struct fuse_lowlevel_ops fs_ops;

/* Maps every entry of CFG. NULL with "FILE:LINE: [NAME] reason" lines in
 * ERRS if any entry cannot be mapped. */
struct fs *fs_new(const struct config *cfg, struct errors *errs);

/* Starts the thread that sends invalidations to SE's kernel side. */
int fs_start(struct fs *fs, struct fuse_session *se);

/* Stops that thread, flushes every rw region and unmaps all. Returns 0, or
 * an errno if a flush failed. */
int fs_destroy(struct fs *fs);

#endif
