/*
 * coherence.h - part of the FUSE side: keeps what the kernel caches of the
 * views (pages, attributes, names) true to the regions (SPEC "Coherence").
 *
 * Each view is its own inode with its own page cache in the kernel. When
 * the daemon changes a region through one view or a control file, the
 * other views' cached pages go stale: coherence_changed() asks the kernel
 * to drop them and waits until they are gone, so the request that made
 * the change replies only after. Views nobody has open are skipped; the
 * change is noted instead, and their next open is without keep_cache, so
 * the kernel drops their pages then.
 *
 * An open keeps the cache only when nothing changed the view since its
 * previous open. For anonymous entries the daemon's notes tell, as nobody
 * else can write them. A file can also be changed by other processes, and
 * a write through their own mapping changes no file time after its first
 * one to a page, so a file entry's cache is dropped at every open
 * (close-to-open) unless the mount says no one else writes them
 * (-o kernel_cache).
 */
#ifndef MMAPFS_COHERENCE_H
#define MMAPFS_COHERENCE_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ctl.h"
#include "region.h"
#include "table.h"

struct coherence;

/* KERNEL_CACHE: file entries change only through the mount. NULL if out
 * of memory. */
struct coherence *coherence_new(bool kernel_cache);

/* Starts sending to SE's kernel side, the mount on MOUNTPOINT (its real
 * path, kept) of device DEV (0: unknown); returns 0 or an errno. */
int coherence_start(struct coherence *c, struct fuse_session *se, const char *mountpoint,
		    dev_t dev);

/* Sends what is pending, stops the threads, frees C. */
void coherence_free(struct coherence *c);

/* A handle of SLOT's VIEW (one VIEW_* bit) is opened or released, WRITING
 * if it was opened for writing. An open counts itself before anything it
 * does can change the view. */
void coherence_open(struct coherence *c, size_t slot, unsigned view, bool writing);
void coherence_release(struct coherence *c, size_t slot, unsigned view, bool writing);

/* Whether TID, a request's caller, is coherence's changer thread: its
 * opens are its write-backs (writeback.h), which must not drop the
 * kernel's cached pages as a client's open may. */
bool coherence_is_changer(struct coherence *c, pid_t tid);

/* How many handles of SLOT's VIEW are open. */
int coherence_opens(struct coherence *c, size_t slot, unsigned view);

/* At an open of SLOT's VIEW over R: whether the kernel may keep the pages
 * it cached, i.e. nothing changed the view since its previous open. The
 * open's state is remembered for the next one. */
bool coherence_keep_cache(struct coherence *c, size_t slot, unsigned view,
			  const struct region *r);

/* The daemon changed SLOT's VIEWS (VIEW_* bits) over [OFF, OFF + LEN)
 * (LEN 0: to the end): the kernel drops its cached pages and attributes of
 * them, and this waits for it. Call it holding no region: the kernel may
 * need a request served (one that writes back a dirty page) to finish. */
void coherence_changed(struct coherence *c, size_t slot, unsigned views,
		       uint64_t off, uint64_t len);

/* As coherence_changed, without waiting: for the view a write request is
 * writing, whose pages the kernel keeps locked until the reply. */
void coherence_changed_later(struct coherence *c, size_t slot, unsigned views,
			     uint64_t off, uint64_t len);

/* As coherence_changed for each of the N CHANGES, but instead of waiting
 * calls DONE(ARG) once the kernel has dropped the pages (at once, from
 * this thread, where no view is open; else from a notifier thread; late,
 * with a warning, past one second). A request that answers from DONE
 * frees its thread meanwhile: with -s, the kernel may need that thread to
 * serve a WRITE (a client's dirty page of a view it drops) to finish. */
void coherence_changed_then(struct coherence *c, size_t slot,
			    const struct ctl_effect *changes, size_t n,
			    void (*done)(void *), void *arg);

/*
 * A change of a region that clients' own mappings must not undo (SPEC:
 * what a client wrote through its mapping lands before any control command
 * that comes after it). The kernel holds a client's dirty pages of a view
 * and writes them back whenever it likes; one written back after the
 * change would put old bytes over it. So a change runs in three steps:
 * the kernel writes back the dirty pages of the views in WRITE_BACK and
 * the daemon answers every such WRITE (writeback.h),
 * RUN changes the region, and the pages that RUN made stale are dropped.
 * Then REQ is answered.
 *
 * Request threads must not wait for those writebacks (with -s, or with
 * every worker busy, no thread would be left to serve them), so the steps
 * run on a thread of their own and the request is answered from there.
 * Where there is nothing to write back (no view in WRITE_BACK is open for
 * writing, and the job is not an instance's), RUN runs at once on the
 * calling thread, and REQ is answered once the stale pages are dropped,
 * as after a write (coherence_changed_then).
 */
struct coherence_job {
	struct coherence_job *next;	/* coherence's queue */
	fuse_req_t req;
	size_t slot;
	const char *name;		/* the entry's, valid for the mount's life */
	unsigned write_back;		/* VIEW_* bits */
	/* A cow instance's job: its view, cow/INSTANCE, is written back for
	 * VIEW_COW (whatever the open counts, which do not cover it). */
	const char *instance;		/* NAME@TAG, valid while JOB is */
	/* Changes the region: returns 0 or an errno, what it changed in
	 * *CHANGED and the byte count a successful write replies in *REPLY.
	 * Nodes that coherence does not count (cow instances) whose pages it
	 * made stale over CHANGED's range go in STALE (malloc'd, N_STALE of
	 * them): they are dropped too before REQ is answered. */
	int (*run)(struct coherence_job *job, struct ctl_effect *changed, size_t *reply);
	uint64_t *stale;
	size_t n_stale;
	int err;			/* coherence's: RUN's answer */
	size_t reply;
};

/* As coherence_changed_later for INO, one node coherence does not count. */
void coherence_inode_changed_later(struct coherence *c, uint64_t ino, uint64_t off,
				   uint64_t len);

/* Runs JOB or queues it (above), which was malloc'd with the job as its
 * first member, zeroed past RUN; JOB is freed once REQ is answered. */
void coherence_defer(struct coherence *c, struct coherence_job *job);

/* After table_reload(): the kernel forgets the names that went away and
 * the cached pages of entries that were remapped. */
void coherence_reloaded(struct coherence *c, struct table *t,
			const struct table_changes *changes);

#endif
