/*
 * entry.h - what one entry maps and how: the part of the config that the
 * core (region, table, ctl) works from. Where it was written (file lines,
 * --map arguments) stays in config.h.
 */
#ifndef MMAPFS_ENTRY_H
#define MMAPFS_ENTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "view.h"

struct entry {
	char *name;		/* NAME under ro/ rw/ cow/ ctl/ */
	char *path;		/* absolute path of the backing file; NULL if anonymous */
	bool anonymous;
	uint64_t offset;	/* page-aligned start of the window */
	uint64_t length;	/* 0: from offset to the end of the file, following it */
	bool create;
	bool resizable;
	unsigned views;		/* VIEW_* bits */
	int advice;		/* an MADV_* value */
};

/* Whether A and B map the same bytes: path, offset, length, anonymous.
 * (Their other keys are settings an existing mapping can take.) */
bool entry_same_mapping(const struct entry *a, const struct entry *b);

/* Whether every key of A and B is the same (names aside). */
bool entry_same(const struct entry *a, const struct entry *b);

/* A deep copy of E into *COPY (name and path duplicated); 0 or ENOMEM. */
int entry_copy(const struct entry *e, struct entry *copy);
void entry_free(struct entry *e);

/* The word for an MADV_* value as the config writes it ("normal", ...),
 * and back, any case (-1 if WORD is no advice of the config's). */
const char *entry_advice_name(int advice);
int entry_advice_by_name(const char *word);

/* Any word of Python's mmap.madvise (ctl/NAME/advise: the config's words,
 * dontneed, nohugepage, populate), any case; -1 for another word. */
int entry_madvise_by_name(const char *word);

#endif
