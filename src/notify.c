/* notify.c - the invalidation thread of the fs module (notify.h). */
#include "notify.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define WAIT_MS 1000

struct inval {
	fuse_ino_t ino;		/* the inode, or for an entry its folder */
	off_t off, len;
	char *name;		/* NULL: an inode; else the entry's name */
};

struct notifier {
	struct fuse_session *se;
	pthread_t thread;
	bool running, stopping;
	pthread_mutex_t mu;
	pthread_cond_t wake, done;
	struct inval *queue;
	size_t n, cap;
	uint64_t posted, sent;	/* tickets */
};

struct notifier *notifier_new(void)
{
	struct notifier *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	pthread_mutex_init(&n->mu, NULL);
	pthread_cond_init(&n->wake, NULL);
	pthread_cond_init(&n->done, NULL);
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

static void *notifier_main(void *arg)
{
	struct notifier *n = arg;

	pthread_mutex_lock(&n->mu);
	for (;;) {
		struct inval *batch;
		size_t count;
		uint64_t last;

		while (n->n == 0 && !n->stopping)
			pthread_cond_wait(&n->wake, &n->mu);
		if (n->n == 0)
			break;
		batch = n->queue;
		count = n->n;
		last = n->posted;
		n->queue = NULL;
		n->n = n->cap = 0;
		pthread_mutex_unlock(&n->mu);

		for (size_t i = 0; i < count; i++) {
			send_one(n->se, &batch[i]);
			free(batch[i].name);
		}
		free(batch);

		pthread_mutex_lock(&n->mu);
		n->sent = last;
		pthread_cond_broadcast(&n->done);
	}
	pthread_mutex_unlock(&n->mu);
	return NULL;
}

int notifier_start(struct notifier *n, struct fuse_session *se)
{
	sigset_t all, old;
	int err;

	n->se = se;
	/* Every signal blocked: those that end the mount must reach the
	 * threads of libfuse's loop, which wake up on them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&n->thread, NULL, notifier_main, n);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	n->running = err == 0;
	return err;
}

void notifier_free(struct notifier *n)
{
	pthread_mutex_lock(&n->mu);
	n->stopping = true;
	pthread_cond_signal(&n->wake);
	pthread_mutex_unlock(&n->mu);
	if (n->running)
		pthread_join(n->thread, NULL);
	for (size_t i = 0; i < n->n; i++)
		free(n->queue[i].name);
	free(n->queue);
	pthread_mutex_destroy(&n->mu);
	pthread_cond_destroy(&n->wake);
	pthread_cond_destroy(&n->done);
	free(n);
}

static uint64_t post(struct notifier *n, struct inval v)
{
	uint64_t ticket = 0;

	pthread_mutex_lock(&n->mu);
	if (n->running && n->n == n->cap) {
		size_t cap = n->cap ? 2 * n->cap : 16;
		struct inval *q = realloc(n->queue, cap * sizeof(*q));

		if (q) {
			n->queue = q;
			n->cap = cap;
		}
	}
	if (n->running && n->n < n->cap) {
		n->queue[n->n++] = v;
		ticket = ++n->posted;
		pthread_cond_signal(&n->wake);
	} else {
		free(v.name);
	}
	pthread_mutex_unlock(&n->mu);
	return ticket;
}

uint64_t notifier_inval_inode(struct notifier *n, fuse_ino_t ino, off_t off, off_t len)
{
	return post(n, (struct inval){ .ino = ino, .off = off, .len = len });
}

uint64_t notifier_inval_entry(struct notifier *n, fuse_ino_t parent, const char *name)
{
	struct inval v = { .ino = parent, .name = strdup(name) };

	return v.name ? post(n, v) : 0;	/* post() owns the copy */
}

void notifier_wait(struct notifier *n, uint64_t ticket)
{
	struct timespec deadline;
	int err = 0;

	if (ticket == 0)
		return;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_nsec += (WAIT_MS % 1000) * 1000000L;
	deadline.tv_sec += WAIT_MS / 1000 + deadline.tv_nsec / 1000000000L;
	deadline.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&n->mu);
	while (n->sent < ticket && err == 0)
		err = pthread_cond_timedwait(&n->done, &n->mu, &deadline);
	pthread_mutex_unlock(&n->mu);
	if (err)
		log_msg(LOG_WARNING, "replying before the kernel dropped stale pages "
			"(invalidation still pending after %d ms): a reader may see old "
			"bytes until it does", WAIT_MS);
}
