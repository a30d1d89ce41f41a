/* flusher.c - automatic flushes (flusher.h). */
#include "flusher.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "thread.h"

struct flusher {
	struct table *table;
	unsigned interval;
	bool stopping;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t wake;	/* a new interval, or stop */
};

static void flush_one(size_t slot, struct region *r, void *arg)
{
	char why[REASON_MAX];

	(void)slot, (void)arg;
	if ((region_entry(r)->views & VIEW_RW) &&
	    region_sync_all(r, why, sizeof(why)))
		log_msg(LOG_ERR, "[%s] automatic flush: %s", region_entry(r)->name, why);
}

static void *flusher_main(void *arg)
{
	struct flusher *f = arg;
	struct timespec next;

	pthread_mutex_lock(&f->mu);
	while (!f->stopping) {
		unsigned interval = f->interval;

		if (interval == 0) {
			pthread_cond_wait(&f->wake, &f->mu);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &next);
		next.tv_sec += interval;
		while (!f->stopping && f->interval == interval &&
		       pthread_cond_timedwait(&f->wake, &f->mu, &next) != ETIMEDOUT)
			;
		if (f->stopping || f->interval != interval)
			continue;
		pthread_mutex_unlock(&f->mu);
		table_each(f->table, flush_one, NULL);
		pthread_mutex_lock(&f->mu);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

struct flusher *flusher_start(struct table *t, unsigned interval)
{
	struct flusher *f = calloc(1, sizeof(*f));
	pthread_condattr_t attr;

	if (!f)
		return NULL;
	f->table = t;
	f->interval = interval;
	pthread_mutex_init(&f->mu, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&f->wake, &attr);
	pthread_condattr_destroy(&attr);
	if (thread_start(&f->thread, flusher_main, f)) {
		pthread_mutex_destroy(&f->mu);
		pthread_cond_destroy(&f->wake);
		free(f);
		return NULL;
	}
	return f;
}

void flusher_set_interval(struct flusher *f, unsigned interval)
{
	pthread_mutex_lock(&f->mu);
	f->interval = interval;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->mu);
}

void flusher_stop(struct flusher *f)
{
	pthread_mutex_lock(&f->mu);
	f->stopping = true;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->thread, NULL);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->wake);
	free(f);
}
