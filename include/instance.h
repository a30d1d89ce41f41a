/*
 * instance.h - an entry's cow instances, cow/NAME@TAG (SPEC "Cow
 * instances"): each a cow view of its own (cow.h) with its own counters,
 * kept in creation order.
 *
 * An instance is named from its fork until it is dropped (rm, ctl drop, a
 * reload that changes the entry's views); then its names are gone at
 * once, but whoever holds it (an open descriptor, a mapping) keeps using
 * it until the last instance_put(), which frees it. Ids are never reused
 * during the mount: inode numbers are made from them (node.h). Only named
 * instances count toward INSTANCE_MAX; every instance's pages count
 * toward cow_limit until freed.
 *
 * The table has its own mutex, taken after the region's lock; an
 * instance's cow view is under the region's lock like the entry's.
 */
#ifndef MMAPFS_INSTANCE_H
#define MMAPFS_INSTANCE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cow.h"
#include "errors.h"

#define INSTANCE_TAG_MAX 64
#define INSTANCE_MAX 1000
#define INSTANCE_NAME_MAX 255	/* NAME@TAG, as any file name */
#define INSTANCE_ID_MAX 0xffffffffULL	/* what node.h's numbers hold */

/* What each cow view counts: its control folder's commands and requests. */
struct cow_counters {
	_Atomic uint64_t reads, writes, resizes, resets, forks, commits, errors;
	pthread_mutex_t error_mu;
	char last_error[REASON_MAX + 16];	/* "none" or "FILE: reason" */
};

struct instance {
	struct instance *next;		/* the table's list, in creation order */
	uint64_t id;			/* 1 on; never reused during the mount */
	char tag[INSTANCE_TAG_MAX + 1];
	bool named;			/* false once dropped */
	unsigned holds;			/* instance_get()s not yet put */
	_Atomic unsigned opens;		/* descriptors open on its view (mappings too) */
	struct cow cow;
	struct cow_counters counters;
};

struct instance_table {
	pthread_mutex_t mu;
	struct instance *first, *last;
	size_t named;
	_Atomic size_t open_views;	/* the sum of the instances' OPENS */
};

void cow_counters_init(struct cow_counters *k);
void cow_counters_destroy(struct cow_counters *k);
/* Counts a failed command of FILE and keeps "FILE: REASON". */
void cow_counters_error(struct cow_counters *k, const char *file, const char *reason);

void instance_table_init(struct instance_table *t);
/* Frees every instance, held or not (at the end of the region, or of its
 * cow view). */
void instance_table_free(struct instance_table *t);

/* Whether TAG is a valid tag: 1 to 64 bytes of letters, digits, '.', '_',
 * '-', and not "." or "..". */
bool instance_tag_valid(const char *tag);

/*
 * Checks that NAME@TAG can be made: EINVAL for a bad tag or a name over
 * 255 bytes, EEXIST for a named instance TAG, ENOSPC past INSTANCE_MAX or
 * when ids run out; the reason in WHY. Then instance_add() with the
 * table's mutex still held by the caller (instance_table_lock).
 */
int instance_check(struct instance_table *t, const char *name, const char *tag,
		   char *why, size_t whylen);

/* A new named instance TAG around COW (moved into it); NULL when out of
 * memory (COW is the caller's still). Call with the mutex held. */
struct instance *instance_add(struct instance_table *t, const char *tag,
			      const struct cow *cow);

void instance_table_lock(struct instance_table *t);
void instance_table_unlock(struct instance_table *t);

/* The named instance TAG, or the instance (named or dropped but held) of
 * id ID, held until instance_put(); NULL if none. */
struct instance *instance_find(struct instance_table *t, const char *tag);
struct instance *instance_get(struct instance_table *t, uint64_t id);
void instance_get_again(struct instance_table *t, struct instance *in);

/* Lets IN go; the last put of a dropped instance frees it. */
void instance_put(struct instance_table *t, struct instance *in);

/* Takes IN's names away (its holders keep it); false if it had none. */
bool instance_drop(struct instance_table *t, struct instance *in);

/* Drops every named instance. */
void instance_drop_all(struct instance_table *t);

/* The id and tag of the named instance at place INDEX in creation order;
 * false past the last. */
bool instance_nth(struct instance_table *t, size_t index, uint64_t *id,
		  char *tag, size_t taglen);

/* A descriptor of IN's view is opened, or released (IN held meanwhile). */
void instance_opened(struct instance_table *t, struct instance *in);
void instance_released(struct instance_table *t, struct instance *in);

/* Whether any instance's view is open: read without the mutex. */
bool instance_any_open(struct instance_table *t);

/* The ids of up to MAX instances whose view is open (named or dropped),
 * into IDS; returns how many. */
size_t instance_open_ids(struct instance_table *t, uint64_t *ids, size_t max);

/* How many instances are named. */
size_t instance_count(struct instance_table *t);

/* The named tags in creation order, separated by spaces ("none" if none),
 * cut to fit BUFLEN. */
void instance_tags(struct instance_table *t, char *buf, size_t buflen);

/* Calls FN on every instance's cow view, named or held (a resize cuts
 * their bases); the mutex is held meanwhile. */
int instance_each_cow(struct instance_table *t, int (*fn)(struct cow *c, void *arg),
		      void *arg);

#endif
