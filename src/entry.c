/* entry.c - entries: comparing, copying, advice words (entry.h). */
#include "entry.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *word;
	int advice;
} advice_words[] = {
	{ "normal", MADV_NORMAL },
	{ "sequential", MADV_SEQUENTIAL },
	{ "random", MADV_RANDOM },
	{ "willneed", MADV_WILLNEED },
	{ "hugepage", MADV_HUGEPAGE },
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

int entry_advice_by_name(const char *word)
{
	for (size_t i = 0; i < COUNT(advice_words); i++)
		if (strcasecmp(word, advice_words[i].word) == 0)
			return advice_words[i].advice;
	return -1;
}
