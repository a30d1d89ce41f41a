/* notify.c - the invalidation threads of the fs module (notify.h). */
#include "notify.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "thread.h"

#define WAIT_MS 1000
/* More than libfuse's worker threads (10 by default): every request that
 * blocks one invalidation can have its own batch served by another. */
#define MAX_THREADS 16

/* A request's invalidations; freed by whoever drops the last reference
 * (the waiter, or the thread that sends the last item after a timeout). */
struct inval_batch {
	int pending;	/* items not sent yet */
	int refs;	/* the waiter's (or the held list's), one per pending item */
	/* notifier_then's: called once all is sent, or at DEADLINE */
	void (*done)(void *);
	void *done_arg;
	struct timespec deadline;		/* CLOCK_MONOTONIC */
	struct inval_batch *next_held, *prev_held;
};

struct inval {
	struct inval_batch *batch;
	fuse_ino_t ino;		/* the inode, or for an entry its folder */
	off_t off, len;
	char *name;		/* NULL: an inode; else the entry's name */
};

struct notifier {
	struct fuse_session *se;
	pthread_mutex_t mu;
	pthread_cond_t work, sent;
	struct inval *queue;	/* a ring */
	size_t head, count, cap;
	pthread_t threads[MAX_THREADS];
	int n_threads, idle;
	bool started, stopping;
	/* Batches whose DONE waits, oldest first; the reaper calls DONE of
	 * one that is still not sent at its deadline. */
	struct inval_batch *held_head, *held_tail;
	pthread_cond_t held;
	pthread_t reaper;
	bool has_reaper;
};

struct notifier *notifier_new(void)
{
	struct notifier *n = calloc(1, sizeof(*n));
	pthread_condattr_t attr;

	if (!n)
		return NULL;
	pthread_mutex_init(&n->mu, NULL);
	pthread_cond_init(&n->work, NULL);
	pthread_cond_init(&n->sent, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&n->held, &attr);
	pthread_condattr_destroy(&attr);
	return n;
}

static void send_one(struct fuse_session *se, const struct inval *v)
{
	int err;

	if (v->name)
		err = fuse_lowlevel_notify_inval_entry(se, v->ino, v->name, strlen(v->name));
	else
		err = fuse_lowlevel_notify_inval_inode(se, v->ino, v->off, v->len);
	/* ENOENT: the kernel does not hold it; nothing to drop. */
	if (err && err != -ENOENT)
		log_msg(LOG_DEBUG, "invalidating %s of inode %lu: %s",
			v->name ? v->name : "pages", (unsigned long)v->ino, strerror(-err));
}

/* Drops N of B's references; the last one frees it. */
static void release_refs(struct inval_batch *b, int n)
{
	b->refs -= n;
	if (b->refs == 0)
		free(b);
}

static void release_batch(struct inval_batch *b)
{
	release_refs(b, 1);
}

static bool pop(struct notifier *n, struct inval *v)
{
	if (n->count == 0)
		return false;
	*v = n->queue[n->head];
	n->head = (n->head + 1) % n->cap;
	n->count--;
	return true;
}

/* Takes B off the held list and returns its DONE (NULL if the reaper
 * took it first); caller holds mu, and releases the held list's ref. */
static void (*unhold(struct notifier *n, struct inval_batch *b))(void *)
{
	void (*done)(void *) = b->done;

	b->done = NULL;
	if (b->prev_held)
		b->prev_held->next_held = b->next_held;
	else
		n->held_head = b->next_held;
	if (b->next_held)
		b->next_held->prev_held = b->prev_held;
	else
		n->held_tail = b->prev_held;
	return done;
}

/* Calls DONE(ARG) with mu dropped: it answers a request. */
static void call_done(struct notifier *n, void (*done)(void *), void *arg)
{
	pthread_mutex_unlock(&n->mu);
	done(arg);
	pthread_mutex_lock(&n->mu);
}

/* One item of B was sent; caller holds mu. */
static void finish_item(struct notifier *n, struct inval_batch *b)
{
	void (*done)(void *) = NULL;
	void *arg = b->done_arg;
	int refs = 1;	/* the item's */

	if (--b->pending == 0 && b->done) {
		done = unhold(n, b);
		refs++;	/* and the held list's */
	}
	release_refs(b, refs);
	pthread_cond_broadcast(&n->sent);
	if (done)
		call_done(n, done, arg);
}

static bool passed(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

/* Answers the held requests whose batch is still not sent at its deadline:
 * late rather than never, should it be stuck behind requests that cannot
 * be served (as notifier_wait's bound). */
static void *reaper_main(void *arg)
{
	struct notifier *n = arg;

	pthread_mutex_lock(&n->mu);
	while (!n->stopping) {
		struct inval_batch *b = n->held_head;
		void (*done)(void *);
		void *done_arg;

		if (!b) {
			pthread_cond_wait(&n->held, &n->mu);
			continue;
		}
		if (!passed(&b->deadline)) {
			pthread_cond_timedwait(&n->held, &n->mu, &b->deadline);
			continue;
		}
		done_arg = b->done_arg;
		done = unhold(n, b);
		release_batch(b);
		log_msg(LOG_WARNING, "replying before the kernel dropped stale pages "
			"(invalidation still pending after %d ms, reply held): a reader may "
			"see old bytes until it does", WAIT_MS);
		call_done(n, done, done_arg);
	}
	pthread_mutex_unlock(&n->mu);
	return NULL;
}

static void *notifier_main(void *arg)
{
	struct notifier *n = arg;
	struct inval v;

	pthread_mutex_lock(&n->mu);
	for (;;) {
		while (n->count == 0 && !n->stopping)
			pthread_cond_wait(&n->work, &n->mu);
		if (!pop(n, &v))
			break;	/* stopping, and nothing left */
		n->idle--;
		pthread_mutex_unlock(&n->mu);
		send_one(n->se, &v);
		free(v.name);
		pthread_mutex_lock(&n->mu);
		n->idle++;
		finish_item(n, v.batch);
	}
	pthread_mutex_unlock(&n->mu);
	return NULL;
}

/* Starts one more thread; caller holds mu. */
static void add_thread(struct notifier *n)
{
	if (thread_start(&n->threads[n->n_threads], notifier_main, n) == 0) {
		n->n_threads++;
		n->idle++;
	}
}

int notifier_start(struct notifier *n, struct fuse_session *se)
{
	pthread_mutex_lock(&n->mu);
	n->se = se;
	add_thread(n);
	n->has_reaper = thread_start(&n->reaper, reaper_main, n) == 0;
	n->started = n->n_threads > 0 && n->has_reaper;
	pthread_mutex_unlock(&n->mu);
	return n->started ? 0 : EAGAIN;
}

void notifier_free(struct notifier *n)
{
	pthread_mutex_lock(&n->mu);
	n->stopping = true;
	pthread_cond_broadcast(&n->work);
	pthread_cond_broadcast(&n->held);
	pthread_mutex_unlock(&n->mu);
	for (int i = 0; i < n->n_threads; i++)
		pthread_join(n->threads[i], NULL);
	if (n->has_reaper)
		pthread_join(n->reaper, NULL);
	free(n->queue);
	pthread_cond_destroy(&n->held);
	pthread_mutex_destroy(&n->mu);
	pthread_cond_destroy(&n->work);
	pthread_cond_destroy(&n->sent);
	free(n);
}

struct inval_batch *notifier_batch(struct notifier *n)
{
	struct inval_batch *b = calloc(1, sizeof(*b));

	(void)n;
	if (b)
		b->refs = 1;
	return b;
}

/* Makes room for one more item; caller holds mu. */
static bool reserve(struct notifier *n)
{
	struct inval *q;
	size_t cap;

	if (n->count < n->cap)
		return true;
	cap = n->cap ? 2 * n->cap : 16;
	q = malloc(cap * sizeof(*q));
	if (!q)
		return false;
	for (size_t i = 0; i < n->count; i++)
		q[i] = n->queue[(n->head + i) % n->cap];
	free(n->queue);
	n->queue = q;
	n->head = 0;
	n->cap = cap;
	return true;
}

static void post(struct notifier *n, struct inval v)
{
	pthread_mutex_lock(&n->mu);
	if (v.batch && n->started && !n->stopping && reserve(n)) {
		n->queue[(n->head + n->count++) % n->cap] = v;
		v.batch->pending++;
		v.batch->refs++;
		/* One idle thread per queued item: an item never waits behind
		 * another that may block in the kernel. */
		if (n->count > (size_t)n->idle && n->n_threads < MAX_THREADS)
			add_thread(n);
		pthread_cond_signal(&n->work);
	} else {
		free(v.name);
	}
	pthread_mutex_unlock(&n->mu);
}

void notifier_inval_inode(struct notifier *n, struct inval_batch *b, fuse_ino_t ino,
			  off_t off, off_t len)
{
	post(n, (struct inval){ .batch = b, .ino = ino, .off = off, .len = len });
}

void notifier_inval_entry(struct notifier *n, struct inval_batch *b, fuse_ino_t parent,
			  const char *name)
{
	struct inval v = { .batch = b, .ino = parent, .name = strdup(name) };

	if (v.name)
		post(n, v);	/* post() owns the copy */
}

void notifier_send(struct notifier *n, struct inval_batch *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&n->mu);
	release_batch(b);
	pthread_mutex_unlock(&n->mu);
}

void notifier_then(struct notifier *n, struct inval_batch *b, void (*done)(void *),
		   void *arg)
{
	bool now;

	if (!b) {
		done(arg);
		return;
	}
	pthread_mutex_lock(&n->mu);
	now = b->pending == 0;
	if (now) {
		release_batch(b);
	} else {	/* the waiter's ref becomes the held list's */
		b->done = done;
		b->done_arg = arg;
		clock_gettime(CLOCK_MONOTONIC, &b->deadline);
		b->deadline.tv_sec += WAIT_MS / 1000;
		b->prev_held = n->held_tail;
		if (n->held_tail)
			n->held_tail->next_held = b;
		else
			n->held_head = b;
		n->held_tail = b;
		pthread_cond_signal(&n->held);
	}
	pthread_mutex_unlock(&n->mu);
	if (now)
		done(arg);
}

void notifier_wait(struct notifier *n, struct inval_batch *b)
{
	struct timespec deadline;
	int err = 0;

	if (!b)
		return;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_nsec += (WAIT_MS % 1000) * 1000000L;
	deadline.tv_sec += WAIT_MS / 1000 + deadline.tv_nsec / 1000000000L;
	deadline.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&n->mu);
	while (b->pending > 0 && err == 0)
		err = pthread_cond_timedwait(&n->sent, &n->mu, &deadline);
	release_batch(b);
	pthread_mutex_unlock(&n->mu);
	if (err)
		log_msg(LOG_WARNING, "replying before the kernel dropped stale pages "
			"(invalidation still pending after %d ms): a reader may see old "
			"bytes until it does", WAIT_MS);
}
