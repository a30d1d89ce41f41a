/*
 * view.h - the vocabulary of views: ro, rw and cow, Python mmap's
 * ACCESS_READ, ACCESS_WRITE and ACCESS_COPY.
 *
 * A view is one VIEW_* bit, a set of views an OR of them. Names are the
 * folder names under the mount and the words of the config's `views` key,
 * of status and of `move cow`; keywords are case-insensitive.
 */
#ifndef MMAPFS_VIEW_H
#define MMAPFS_VIEW_H

#include <stdbool.h>
#include <stddef.h>

enum {
	VIEW_RO = 1 << 0,
	VIEW_RW = 1 << 1,
	VIEW_COW = 1 << 2,
	VIEW_ALL = VIEW_RO | VIEW_RW | VIEW_COW,
	VIEW_COUNT = 3,
};

/* 0, 1, 2 for VIEW_RO, VIEW_RW, VIEW_COW: an index into per-view arrays. */
int view_index(unsigned view);

/* The view at INDEX (below VIEW_COUNT); view_at(view_index(v)) == v. */
unsigned view_at(int index);

/* "ro", "rw" or "cow". */
const char *view_name(unsigned view);

/* The view named by the LEN bytes of WORD, any case; 0 if none. */
unsigned view_by_name(const char *word, size_t len);

/* VIEWS as their names in ro, rw, cow order, SEP between them ("ro rw",
 * "ro,cow"); "" for none. Cut to fit BUFLEN. */
void view_list(unsigned views, char sep, char *buf, size_t buflen);

#endif
