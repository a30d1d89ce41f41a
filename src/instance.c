/* instance.c - an entry's cow instances (instance.h). */
#include "instance.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* Ids are the mount's, not a table's: a reload's new region goes on
 * counting, so no inode number comes back. */
static _Atomic uint64_t next_id = 1;

void cow_counters_init(struct cow_counters *k)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->error_mu, NULL);
	strcpy(k->last_error, "none");
}

void cow_counters_destroy(struct cow_counters *k)
{
	pthread_mutex_destroy(&k->error_mu);
}

void cow_counters_error(struct cow_counters *k, const char *file, const char *reason)
{
	atomic_fetch_add(&k->errors, 1);
	pthread_mutex_lock(&k->error_mu);
	snprintf(k->last_error, sizeof(k->last_error), "%s: %s", file, reason);
	pthread_mutex_unlock(&k->error_mu);
}

void instance_table_init(struct instance_table *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->mu, NULL);
}

static void free_instance(struct instance *in)
{
	cow_release(&in->cow);
	cow_counters_destroy(&in->counters);
	free(in);
}

void instance_table_free(struct instance_table *t)
{
	struct instance *in = t->first, *next;

	for (; in; in = next) {
		next = in->next;
		free_instance(in);
	}
	pthread_mutex_destroy(&t->mu);
	memset(t, 0, sizeof(*t));
}

void instance_table_lock(struct instance_table *t)
{
	pthread_mutex_lock(&t->mu);
}

void instance_table_unlock(struct instance_table *t)
{
	pthread_mutex_unlock(&t->mu);
}

bool instance_tag_valid(const char *tag)
{
	size_t len = strlen(tag);

	if (len == 0 || len > INSTANCE_TAG_MAX || strcmp(tag, ".") == 0 ||
	    strcmp(tag, "..") == 0)
		return false;
	return strspn(tag, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			   "0123456789._-") == len;
}

/* The named instance TAG; the mutex held. */
static struct instance *named(struct instance_table *t, const char *tag)
{
	for (struct instance *in = t->first; in; in = in->next)
		if (in->named && strcmp(in->tag, tag) == 0)
			return in;
	return NULL;
}

int instance_check(struct instance_table *t, const char *name, const char *tag,
		   char *why, size_t whylen)
{
	if (!instance_tag_valid(tag)) {
		reason_set(why, whylen, "tag '%.80s' is not 1 to %d letters, digits, '.', '_' "
			   "or '-' (nor . or ..)", tag, INSTANCE_TAG_MAX);
		return EINVAL;
	}
	if (strlen(name) + 1 + strlen(tag) > INSTANCE_NAME_MAX) {
		reason_set(why, whylen, "%s@%s is over %d bytes", name, tag, INSTANCE_NAME_MAX);
		return EINVAL;
	}
	if (named(t, tag)) {
		reason_set(why, whylen, "%s@%s exists", name, tag);
		return EEXIST;
	}
	if (t->named >= INSTANCE_MAX || atomic_load(&next_id) > INSTANCE_ID_MAX) {
		reason_set(why, whylen, "%s has %d instances, the most it may have", name,
			   INSTANCE_MAX);
		return ENOSPC;
	}
	return 0;
}

struct instance *instance_add(struct instance_table *t, const char *tag,
			      const struct cow *cow)
{
	struct instance *in = calloc(1, sizeof(*in));

	if (!in)
		return NULL;
	in->id = atomic_fetch_add(&next_id, 1);
	snprintf(in->tag, sizeof(in->tag), "%s", tag);
	in->named = true;
	in->cow = *cow;
	cow_counters_init(&in->counters);
	if (t->last)
		t->last->next = in;
	else
		t->first = in;
	t->last = in;
	t->named++;
	return in;
}

struct instance *instance_find(struct instance_table *t, const char *tag)
{
	struct instance *in;

	pthread_mutex_lock(&t->mu);
	in = named(t, tag);
	if (in)
		in->holds++;
	pthread_mutex_unlock(&t->mu);
	return in;
}

struct instance *instance_get(struct instance_table *t, uint64_t id)
{
	struct instance *in;

	pthread_mutex_lock(&t->mu);
	for (in = t->first; in && in->id != id; in = in->next)
		;
	if (in)
		in->holds++;
	pthread_mutex_unlock(&t->mu);
	return in;
}

void instance_get_again(struct instance_table *t, struct instance *in)
{
	pthread_mutex_lock(&t->mu);
	in->holds++;
	pthread_mutex_unlock(&t->mu);
}

/* Unlinks IN if nothing keeps it; returns whether it did. The mutex held. */
static bool unlink_unused(struct instance_table *t, struct instance *in)
{
	struct instance **at = &t->first, *prev = NULL;

	if (in->named || in->holds)
		return false;
	for (; *at != in; at = &(*at)->next)
		prev = *at;
	*at = in->next;
	if (t->last == in)
		t->last = prev;
	return true;
}

void instance_put(struct instance_table *t, struct instance *in)
{
	bool gone;

	pthread_mutex_lock(&t->mu);
	in->holds--;
	gone = unlink_unused(t, in);
	pthread_mutex_unlock(&t->mu);
	if (gone)
		free_instance(in);
}

bool instance_drop(struct instance_table *t, struct instance *in)
{
	bool was, gone;

	pthread_mutex_lock(&t->mu);
	was = in->named;
	if (was)
		t->named--;
	in->named = false;
	gone = unlink_unused(t, in);
	pthread_mutex_unlock(&t->mu);
	if (gone)
		free_instance(in);
	return was;
}

void instance_drop_all(struct instance_table *t)
{
	struct instance *in;

	do {
		pthread_mutex_lock(&t->mu);
		for (in = t->first; in && !in->named; in = in->next)
			;
		pthread_mutex_unlock(&t->mu);
	} while (in && instance_drop(t, in));
}

bool instance_nth(struct instance_table *t, size_t index, uint64_t *id,
		  char *tag, size_t taglen)
{
	struct instance *in;

	pthread_mutex_lock(&t->mu);
	for (in = t->first; in && (!in->named || index--); in = in->next)
		;
	if (in) {
		*id = in->id;
		snprintf(tag, taglen, "%s", in->tag);
	}
	pthread_mutex_unlock(&t->mu);
	return in != NULL;
}

void instance_opened(struct instance_table *t, struct instance *in)
{
	atomic_fetch_add(&in->opens, 1);
	atomic_fetch_add(&t->open_views, 1);
}

void instance_released(struct instance_table *t, struct instance *in)
{
	atomic_fetch_sub(&in->opens, 1);
	atomic_fetch_sub(&t->open_views, 1);
}

bool instance_any_open(struct instance_table *t)
{
	return atomic_load(&t->open_views) > 0;
}

size_t instance_open_ids(struct instance_table *t, uint64_t *ids, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&t->mu);
	for (struct instance *in = t->first; in && n < max; in = in->next)
		if (atomic_load(&in->opens))
			ids[n++] = in->id;
	pthread_mutex_unlock(&t->mu);
	return n;
}

size_t instance_count(struct instance_table *t)
{
	size_t n;

	pthread_mutex_lock(&t->mu);
	n = t->named;
	pthread_mutex_unlock(&t->mu);
	return n;
}

void instance_tags(struct instance_table *t, char *buf, size_t buflen)
{
	size_t used = 0;

	snprintf(buf, buflen, "none");
	pthread_mutex_lock(&t->mu);
	for (struct instance *in = t->first; in && used < buflen; in = in->next)
		if (in->named)
			used += (size_t)snprintf(buf + used, buflen - used, "%s%s",
						 used ? " " : "", in->tag);
	pthread_mutex_unlock(&t->mu);
}

int instance_each_cow(struct instance_table *t, int (*fn)(struct cow *c, void *arg),
		      void *arg)
{
	int err = 0;

	pthread_mutex_lock(&t->mu);
	for (struct instance *in = t->first; in && !err; in = in->next)
		err = fn(&in->cow, arg);
	pthread_mutex_unlock(&t->mu);
	return err;
}
