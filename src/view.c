/* view.c - the view vocabulary (view.h). */
#include "view.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const names[VIEW_COUNT] = { "ro", "rw", "cow" };

int view_index(unsigned view)
{
	return view == VIEW_RW ? 1 : view == VIEW_COW ? 2 : 0;
}

unsigned view_at(int index)
{
	return 1u << index;
}

const char *view_name(unsigned view)
{
	return names[view_index(view)];
}

unsigned view_by_name(const char *word, size_t len)
{
	for (int i = 0; i < VIEW_COUNT; i++)
		if (strlen(names[i]) == len && strncasecmp(word, names[i], len) == 0)
			return view_at(i);
	return 0;
}

void view_list(unsigned views, char sep, char *buf, size_t buflen)
{
	size_t used = 0;

	if (buflen)
		buf[0] = '\0';
	for (int i = 0; i < VIEW_COUNT && used < buflen; i++) {
		int n;

		if (!(views & view_at(i)))
			continue;
		n = snprintf(buf + used, buflen - used, "%s%s", used ? (char[]){ sep, 0 } : "",
			     names[i]);
		used += n > 0 ? (size_t)n : 0;
	}
}
