/*
 * stable.h - an array whose elements never move.
 *
 * Elements live in fixed chunks found through a fixed array of chunk
 * pointers, so a thread may keep a pointer to an element, or index the
 * array without a lock, while others add chunks. Chunks come zeroed.
 */
#ifndef MMAPFS_STABLE_H
#define MMAPFS_STABLE_H

#include <stddef.h>

#define STABLE_CHUNK_ELEMS 256
#define STABLE_CHUNKS 4096	/* a million elements */

struct stable_array {
	void *_Atomic chunks[STABLE_CHUNKS];
	size_t elem_size;
};

void stable_init(struct stable_array *a, size_t elem_size);

/* Element I, making its chunk if need be (safe from many threads at
 * once); NULL past STABLE_CHUNKS * STABLE_CHUNK_ELEMS or out of memory. */
void *stable_at(struct stable_array *a, size_t i);

/* Element I if its chunk exists, else NULL; never allocates. */
void *stable_peek(const struct stable_array *a, size_t i);

/* Frees the chunks (what the elements own is the caller's). */
void stable_free(struct stable_array *a);

#endif
