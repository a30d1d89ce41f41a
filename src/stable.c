/* stable.c - arrays whose elements never move (stable.h). */
#include "stable.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

void stable_init(struct stable_array *a, size_t elem_size)
{
	memset(a, 0, sizeof(*a));
	a->elem_size = elem_size;
}

void *stable_peek(const struct stable_array *a, size_t i)
{
	char *chunk;

	if (i / STABLE_CHUNK_ELEMS >= STABLE_CHUNKS)
		return NULL;
	chunk = atomic_load(&((struct stable_array *)a)->chunks[i / STABLE_CHUNK_ELEMS]);
	return chunk ? chunk + (i % STABLE_CHUNK_ELEMS) * a->elem_size : NULL;
}

void *stable_at(struct stable_array *a, size_t i)
{
	if (i / STABLE_CHUNK_ELEMS >= STABLE_CHUNKS)
		return NULL;
	if (!atomic_load(&a->chunks[i / STABLE_CHUNK_ELEMS])) {
		void *chunk = calloc(STABLE_CHUNK_ELEMS, a->elem_size), *expected = NULL;

		if (!chunk)
			return NULL;
		/* Two threads may make the same chunk: one keeps its own. */
		if (!atomic_compare_exchange_strong(&a->chunks[i / STABLE_CHUNK_ELEMS],
						    &expected, chunk))
			free(chunk);
	}
	return stable_peek(a, i);
}

void stable_free(struct stable_array *a)
{
	for (size_t c = 0; c < STABLE_CHUNKS; c++)
		free(atomic_load(&a->chunks[c]));
	memset(a->chunks, 0, sizeof(a->chunks));
}
