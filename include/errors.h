/*
 * errors.h - how mmapfs reports failure, in one place.
 *
 * Every function that can fail returns 0 or a positive errno value (never
 * -errno, never 1/0/-1 flags); what it produces comes back through
 * out-parameters. The FUSE module negates nothing: it hands the errno to
 * fuse_reply_err() as it is.
 *
 * Where a person needs the reason, the function also writes one line of
 * text into a caller's buffer WHY of WHYLEN bytes (WHY may be NULL: no
 * text). REASON_MAX holds any reason whole; callers declare their buffers
 * with it, so that one reason never gets cut by another's size.
 *
 * Config and reload errors are collected, not returned one at a time, so
 * that a user fixes them in one go: struct errors.
 */
#ifndef MMAPFS_ERRORS_H
#define MMAPFS_ERRORS_H

#include <stddef.h>

#define REASON_MAX 512

/* Writes a reason into WHY (a no-op if WHY is NULL). */
void reason_set(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A growing list of error lines. */
struct errors {
	char **lines;
	size_t count;
};

/* Appends one formatted line to ERRS (aborts when out of memory: errors
 * are reported at start and at reload, where no partial list will do). */
void errors_add(struct errors *errs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void errors_free(struct errors *errs);

#endif
