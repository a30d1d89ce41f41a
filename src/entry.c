/* entry.c - entries: comparing, copying, advice words (entry.h). */
#include "entry.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Python's mmap.madvise words; the config's `advice` key takes those that
 * are a lasting hint about the mapping, not an act on its pages now. */
static const struct {
	const char *word;
	int advice;
	bool in_config;
} advice_words[] = {
	{ "normal", MADV_NORMAL, true },
	{ "sequential", MADV_SEQUENTIAL, true },
	{ "random", MADV_RANDOM, true },
	{ "willneed", MADV_WILLNEED, true },
	{ "hugepage", MADV_HUGEPAGE, true },
	{ "dontneed", MADV_DONTNEED, false },
	{ "nohugepage", MADV_NOHUGEPAGE, false },
	{ "populate", MADV_POPULATE_READ, false },
};

static bool same_string(const char *a, const char *b)
{
	return a && b ? strcmp(a, b) == 0 : a == b;
}

bool entry_same_mapping(const struct entry *a, const struct entry *b)
{
	return a->anonymous == b->anonymous && same_string(a->path, b->path) &&
	       a->offset == b->offset && a->length == b->length;
}

bool entry_same(const struct entry *a, const struct entry *b)
{
	return entry_same_mapping(a, b) && a->create == b->create &&
	       a->resizable == b->resizable && a->views == b->views &&
	       a->advice == b->advice;
}

int entry_copy(const struct entry *e, struct entry *copy)
{
	*copy = *e;
	copy->name = strdup(e->name);
	copy->path = e->path ? strdup(e->path) : NULL;
	if (copy->name && (copy->path || !e->path))
		return 0;
	entry_free(copy);
	return ENOMEM;
}

void entry_free(struct entry *e)
{
	free(e->name);
	free(e->path);
	e->name = e->path = NULL;
}

const char *entry_advice_name(int advice)
{
	for (size_t i = 0; i < COUNT(advice_words); i++)
		if (advice_words[i].advice == advice)
			return advice_words[i].word;
	return "?";
}

static int advice_by_name(const char *word, bool config_only)
{
	for (size_t i = 0; i < COUNT(advice_words); i++)
		if (strcasecmp(word, advice_words[i].word) == 0 &&
		    (advice_words[i].in_config || !config_only))
			return advice_words[i].advice;
	return -1;
}

int entry_advice_by_name(const char *word)
{
	return advice_by_name(word, true);
}

int entry_madvise_by_name(const char *word)
{
	return advice_by_name(word, false);
}
