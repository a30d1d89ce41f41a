/* coherence.c - the kernel's caches of the views (coherence.h). */
#include "coherence.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "node.h"
#include "notify.h"
#include "stable.h"
#include "thread.h"
#include "writeback.h"

/* What the kernel may hold of one entry's views, per view index. */
struct view_state {
	_Atomic int opens;		/* open handles */
	_Atomic int writers;		/* of them, open for writing: only those
					 * can have a client's dirty pages */
	_Atomic uint64_t generation;	/* changes the daemon made */
	_Atomic uint64_t seen;		/* file stamp ^ generation at the last open */
};

struct slot_state {
	struct view_state view[VIEW_COUNT];
};

/* The thread that runs deferred changes, one at a time, in order. */
struct changer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t work;
	struct coherence_job *head, *tail;
	_Atomic pid_t tid;	/* 0 until it runs */
	bool sweep;		/* a view lost its last writer: see writeback.h */
	bool started, stopping;
};

struct coherence {
	struct fuse_session *se;
	struct writeback *writeback;	/* the changer's; NULL until started */
	struct notifier *notifier;
	struct changer changer;
	struct stable_array slots;	/* struct slot_state, by table slot */
	bool kernel_cache;
};

struct coherence *coherence_new(bool kernel_cache)
{
	struct coherence *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->notifier = notifier_new();
	if (!c->notifier) {
		free(c);
		return NULL;
	}
	stable_init(&c->slots, sizeof(struct slot_state));
	pthread_mutex_init(&c->changer.mu, NULL);
	pthread_cond_init(&c->changer.work, NULL);
	c->kernel_cache = kernel_cache;
	return c;
}

static void *changer_main(void *arg);

int coherence_start(struct coherence *c, struct fuse_session *se, const char *mountpoint,
		    dev_t dev)
{
	int err;

	c->se = se;
	c->writeback = writeback_new(mountpoint, dev);
	if (!c->writeback)
		return ENOMEM;
	err = notifier_start(c->notifier, se);
	if (!err)
		err = thread_start(&c->changer.thread, changer_main, c);
	c->changer.started = !err;
	return err;
}

void coherence_free(struct coherence *c)
{
	struct changer *ch = &c->changer;

	if (ch->started) {
		pthread_mutex_lock(&ch->mu);
		ch->stopping = true;
		pthread_cond_signal(&ch->work);
		pthread_mutex_unlock(&ch->mu);
		pthread_join(ch->thread, NULL);
	}
	pthread_mutex_destroy(&ch->mu);
	pthread_cond_destroy(&ch->work);
	notifier_free(c->notifier);
	stable_free(&c->slots);
	if (c->writeback)
		writeback_free(c->writeback);
	free(c);
}

/* SLOT's VIEW state; NULL only when out of memory, where every use below
 * degrades to "changed, and maybe open": correct, only slower. */
static struct view_state *state_of(struct coherence *c, size_t slot, unsigned view)
{
	struct slot_state *s = stable_at(&c->slots, slot);

	return s ? &s->view[view_index(view)] : NULL;
}

void coherence_open(struct coherence *c, size_t slot, unsigned view, bool writing)
{
	struct view_state *v = state_of(c, slot, view);

	if (v) {
		atomic_fetch_add(&v->opens, 1);
		atomic_fetch_add(&v->writers, writing);
	}
}

static void wake_sweep(struct coherence *c);

void coherence_release(struct coherence *c, size_t slot, unsigned view, bool writing)
{
	struct view_state *v = state_of(c, slot, view);

	if (!v)
		return;
	atomic_fetch_sub(&v->opens, 1);
	/* The last writer gone: a write-back descriptor kept for the view
	 * must not outlive it (writeback.h), so the changer closes it. */
	if (writing && atomic_fetch_sub(&v->writers, 1) == 1 && c->writeback &&
	    writeback_kept(c->writeback) > 0)
		wake_sweep(c);
}

bool coherence_is_changer(struct coherence *c, pid_t tid)
{
	return tid != 0 && atomic_load(&c->changer.tid) == tid;
}

int coherence_opens(struct coherence *c, size_t slot, unsigned view)
{
	struct view_state *v = state_of(c, slot, view);

	return v ? atomic_load(&v->opens) : 0;
}

/* File times tick coarsely (the kernel's clock tick): a change less than
 * this old may have a twin with the same times. */
#define STAMP_TRUST_NS 100000000LL

static long long ns_since(const struct timespec *then, const struct timespec *now)
{
	return (now->tv_sec - then->tv_sec) * 1000000000LL + (now->tv_nsec - then->tv_nsec);
}

/* What the backing file looks like now, folded into 64 bits; a value never
 * seen before when its last change is too recent to be told apart. */
static uint64_t file_stamp(const struct region *r)
{
	static _Atomic uint64_t unique = 1ULL << 63;
	struct timespec now;
	struct stat st;
	uint64_t h = 0;

	clock_gettime(CLOCK_REALTIME, &now);
	if (region_fstat(r, &st) != 0 || ns_since(&st.st_mtim, &now) < STAMP_TRUST_NS ||
	    ns_since(&st.st_ctim, &now) < STAMP_TRUST_NS)
		return atomic_fetch_add(&unique, 1);
	uint64_t parts[] = { st.st_ino, (uint64_t)st.st_size,
			     (uint64_t)st.st_mtim.tv_sec, (uint64_t)st.st_mtim.tv_nsec,
			     (uint64_t)st.st_ctim.tv_sec, (uint64_t)st.st_ctim.tv_nsec };
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		h = (h ^ parts[i]) * 0x100000001B3ULL;	/* FNV-1a, by words */
	return h;
}

bool coherence_keep_cache(struct coherence *c, size_t slot, unsigned view,
			  const struct region *r)
{
	struct view_state *v = state_of(c, slot, view);
	uint64_t now;

	/* The stamp (an fstat) only where the cache may be kept at all; when
	 * it is skipped, the next open cannot match the last one it saw. */
	if (!v || !(region_entry(r)->anonymous || c->kernel_cache)) {
		if (v)
			atomic_store(&v->seen, 0);
		return false;
	}
	/* Nobody but the daemon writes anonymous memory: its notes suffice. */
	now = region_entry(r)->anonymous ? 0 : file_stamp(r);
	now ^= atomic_load(&v->generation) * 0x9E3779B97F4A7C15ULL;
	now = now ? now : 1;	/* seen starts at 0: a first open never matches */
	return atomic_exchange(&v->seen, now) == now;
}

/* Notes a change of SLOT's VIEW; returns whether a handle of it is open.
 * Noted before the open count is read, while an open counts itself before
 * it reads the note: one of the two sees the other. */
static bool note_change(struct coherence *c, size_t slot, unsigned view)
{
	struct view_state *v = state_of(c, slot, view);

	if (!v)
		return true;
	atomic_fetch_add(&v->generation, 1);
	return atomic_load(&v->opens) > 0;
}

/* Adds to *BATCH (made on first use) the invalidations of SLOT's open
 * VIEWS over [OFF, OFF + LEN). */
static void post_change(struct coherence *c, struct inval_batch **batch, size_t slot,
			unsigned views, uint64_t off, uint64_t len)
{
	for (int i = 0; i < VIEW_COUNT; i++) {
		unsigned view = view_at(i);

		if (!(views & view) || !note_change(c, slot, view))
			continue;
		if (!*batch)
			*batch = notifier_batch(c->notifier);
		notifier_inval_inode(c->notifier, *batch, node_ino(slot, node_of_view(view)),
				     (off_t)off, (off_t)len);
	}
}

/* The batch of SLOT's open VIEWS over [OFF, OFF + LEN), or NULL where no
 * view is open. */
static struct inval_batch *post_changes(struct coherence *c, size_t slot, unsigned views,
					uint64_t off, uint64_t len)
{
	struct inval_batch *batch = NULL;

	post_change(c, &batch, slot, views, off, len);
	return batch;
}

void coherence_changed(struct coherence *c, size_t slot, unsigned views,
		       uint64_t off, uint64_t len)
{
	notifier_wait(c->notifier, post_changes(c, slot, views, off, len));
}

void coherence_changed_later(struct coherence *c, size_t slot, unsigned views,
			     uint64_t off, uint64_t len)
{
	notifier_send(c->notifier, post_changes(c, slot, views, off, len));
}

void coherence_changed_then(struct coherence *c, size_t slot,
			    const struct ctl_effect *changes, size_t n,
			    void (*done)(void *), void *arg)
{
	struct inval_batch *batch = NULL;

	for (size_t i = 0; i < n; i++)
		post_change(c, &batch, slot, changes[i].views, changes[i].off, changes[i].len);
	notifier_then(c->notifier, batch, done, arg);
}

/* ---- deferred changes ---- */

/* Whether SLOT's VIEW is open for writing: a shared writable mapping
 * needs such a handle, so only then can a client hold dirty pages. */
static bool has_writers(struct coherence *c, size_t slot, unsigned view)
{
	struct view_state *v = state_of(c, slot, view);

	return !v || atomic_load(&v->writers) > 0;
}

/* Drops, and first writes back, the kernel's pages of SLOT's open VIEWS
 * over [OFF, OFF + LEN), from this thread and waiting for it: the changer
 * serves no request, so the writebacks are served by the loop meanwhile.
 * DIRTY_ONLY: only where clients may hold dirty pages, changing nothing. */
static void invalidate_now(struct coherence *c, size_t slot, unsigned views,
			   uint64_t off, uint64_t len, bool dirty_only)
{
	for (int i = 0; i < VIEW_COUNT; i++) {
		unsigned view = view_at(i);
		int err;

		if (!(views & view) || (dirty_only && !has_writers(c, slot, view)) ||
		    (!dirty_only && !note_change(c, slot, view)))
			continue;
		err = fuse_lowlevel_notify_inval_inode(c->se, node_ino(slot, node_of_view(view)),
						       (off_t)off, (off_t)len);
		if (err && err != -ENOENT)
			log_msg(LOG_DEBUG, "invalidating pages of %s view of slot %zu: %s",
				view_name(view), slot, strerror(-err));
	}
}

/* Writes back what clients dirtied in their mappings of NAME's VIEW, node
 * INO, and waits until the daemon has answered every WRITE of it
 * (writeback.h). From the changer thread only: the loop serves the
 * requests this makes meanwhile. KEEP: the view has writers, whose
 * release sweeps the descriptor kept for it. */
static bool write_back_view(struct coherence *c, const char *name, unsigned view,
			    uint64_t ino, bool keep)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", view_name(view), name) >= (int)sizeof(path))
		return false;
	return writeback_view(c->writeback, ino, path, keep);
}

/* Whether node INO, a view with a kept write-back descriptor, still needs
 * it: only while it is open for writing. */
static bool still_written(void *arg, uint64_t ino)
{
	struct coherence *c = arg;
	struct view_state *v;
	enum node_kind kind;
	size_t slot;

	if (!node_decode(ino, &slot, &kind) || !node_is_view(kind))
		return false;
	v = state_of(c, slot, node_view(kind));
	return v && atomic_load(&v->writers) > 0;
}

/* Step 1 of a job: the clients' dirty pages of the views it names, where a
 * view is open for writing (only then can a client have mapped it shared
 * and writable); an invalidation where the view cannot be opened. */
static void write_back_views(struct coherence *c, const struct coherence_job *job)
{
	for (int i = 0; i < VIEW_COUNT; i++) {
		unsigned view = view_at(i);

		if (view == VIEW_COW && job->instance && (job->write_back & view)) {
			write_back_view(c, job->instance, view, 0, false);
			continue;
		}
		if ((job->write_back & view) && has_writers(c, job->slot, view) &&
		    !write_back_view(c, job->name, view,
				     node_ino(job->slot, node_of_view(view)), true))
			invalidate_now(c, job->slot, view, 0, 0, true);
	}
	/* A writer may have gone while its descriptor was being kept. */
	if (writeback_kept(c->writeback) > 0)
		writeback_sweep(c->writeback, still_written, c);
}

void coherence_inode_changed_later(struct coherence *c, uint64_t ino, uint64_t off,
				   uint64_t len)
{
	struct inval_batch *batch = notifier_batch(c->notifier);

	notifier_inval_inode(c->notifier, batch, ino, (off_t)off, (off_t)len);
	notifier_send(c->notifier, batch);
}

static void answer(struct coherence_job *job)
{
	if (job->err)
		fuse_reply_err(job->req, job->err);
	else
		fuse_reply_write(job->req, job->reply);
	free(job->stale);
	free(job);
}

static void answer_later(void *job)
{
	answer(job);
}

/* The changer's way: write back, change, drop, answer. */
static void run_job(struct coherence *c, struct coherence_job *job)
{
	struct ctl_effect changed = { 0 };

	write_back_views(c, job);
	job->err = job->run(job, &changed, &job->reply);
	if (changed.views)
		invalidate_now(c, job->slot, changed.views, changed.off, changed.len, false);
	for (size_t i = 0; i < job->n_stale; i++) {
		int err = fuse_lowlevel_notify_inval_inode(c->se, job->stale[i],
							   (off_t)changed.off, (off_t)changed.len);

		if (err && err != -ENOENT)
			log_msg(LOG_DEBUG, "invalidating pages of node %llu: %s",
				(unsigned long long)job->stale[i], strerror(-err));
	}
	answer(job);
}

/* Whether JOB has pages to write back first: a view it names is open for
 * writing, or it is an instance's, whose view no open count covers. */
static bool needs_write_back(struct coherence *c, const struct coherence_job *job)
{
	if (job->instance)
		return true;
	for (int i = 0; i < VIEW_COUNT; i++)
		if ((job->write_back & view_at(i)) && has_writers(c, job->slot, view_at(i)))
			return true;
	return false;
}

/* The way of a job with nothing to write back: on this request thread,
 * answered once the notifier has dropped what it made stale. */
static void run_here(struct coherence *c, struct coherence_job *job)
{
	struct ctl_effect changed = { 0 };
	struct inval_batch *batch = NULL;

	job->err = job->run(job, &changed, &job->reply);
	if (changed.views)
		post_change(c, &batch, job->slot, changed.views, changed.off, changed.len);
	for (size_t i = 0; i < job->n_stale; i++) {
		if (!batch)
			batch = notifier_batch(c->notifier);
		notifier_inval_inode(c->notifier, batch, job->stale[i], (off_t)changed.off,
				     (off_t)changed.len);
	}
	notifier_then(c->notifier, batch, answer_later, job);
}

static void *changer_main(void *arg)
{
	struct coherence *c = arg;
	struct changer *ch = &c->changer;
	struct coherence_job *job;

	atomic_store(&ch->tid, gettid());
	pthread_mutex_lock(&ch->mu);
	for (;;) {
		while (!ch->head && !ch->stopping && !ch->sweep)
			pthread_cond_wait(&ch->work, &ch->mu);
		if (ch->sweep) {
			ch->sweep = false;
			pthread_mutex_unlock(&ch->mu);
			writeback_sweep(c->writeback, still_written, c);
			pthread_mutex_lock(&ch->mu);
			continue;
		}
		job = ch->head;
		if (!job)
			break;	/* stopping, and nothing left */
		ch->head = job->next;
		if (!ch->head)
			ch->tail = NULL;
		pthread_mutex_unlock(&ch->mu);
		run_job(c, job);
		pthread_mutex_lock(&ch->mu);
	}
	pthread_mutex_unlock(&ch->mu);
	return NULL;
}

static void wake_sweep(struct coherence *c)
{
	struct changer *ch = &c->changer;

	pthread_mutex_lock(&ch->mu);
	ch->sweep = true;
	pthread_cond_signal(&ch->work);
	pthread_mutex_unlock(&ch->mu);
}

void coherence_defer(struct coherence *c, struct coherence_job *job)
{
	struct changer *ch = &c->changer;

	if (!needs_write_back(c, job)) {
		run_here(c, job);
		return;
	}
	job->next = NULL;
	pthread_mutex_lock(&ch->mu);
	if (ch->tail)
		ch->tail->next = job;
	else
		ch->head = job;
	ch->tail = job;
	pthread_cond_signal(&ch->work);
	pthread_mutex_unlock(&ch->mu);
}

/* Whether VIEWS hold VIEW; 0 stands for ctl/, which every entry has. */
static bool has_view(unsigned views, unsigned view)
{
	return view == 0 || (views & view);
}

void coherence_reloaded(struct coherence *c, struct table *t,
			const struct table_changes *changes)
{
	/* Names and a changed entry's pages are gone before the reply to any
	 * later request; a removed entry's pages are only dropped, as its
	 * nodes answer ESTALE from now on (and what clients wrote through its
	 * mappings was written back before the reload). */
	struct inval_batch *now = notifier_batch(c->notifier);
	struct inval_batch *later = notifier_batch(c->notifier);

	for (size_t i = 0; i < changes->count; i++) {
		const struct table_change *ch = &changes->list[i];
		const char *name = table_name(t, ch->slot);

		for (size_t d = 0; d < NODE_TOPS; d++) {
			unsigned view = node_tops[d].view;
			bool was = ch->views_before && has_view(ch->views_before, view);
			bool is = ch->views_after && has_view(ch->views_after, view);

			if (view)
				note_change(c, ch->slot, view);
			/* A name that went: the kernel forgets it, and the
			 * pages of the inode it named. */
			if (was && !is)
				notifier_inval_entry(c->notifier, now, node_tops[d].ino, name);
			if (was && view)
				notifier_inval_inode(c->notifier, ch->views_after ? now : later,
						     node_ino(ch->slot, node_of_view(view)), 0, 0);
		}
	}
	notifier_send(c->notifier, later);
	notifier_wait(c->notifier, now);
}
