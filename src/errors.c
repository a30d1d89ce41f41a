/* errors.c - reasons and error lists (errors.h). */
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void reason_set(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!why || !whylen)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

void errors_add(struct errors *errs, const char *fmt, ...)
{
	char **lines = realloc(errs->lines, (errs->count + 1) * sizeof(*lines));
	va_list ap;

	if (!lines)
		abort();
	errs->lines = lines;
	va_start(ap, fmt);
	if (vasprintf(&errs->lines[errs->count], fmt, ap) < 0)
		abort();
	va_end(ap);
	errs->count++;
}

void errors_free(struct errors *errs)
{
	for (size_t i = 0; i < errs->count; i++)
		free(errs->lines[i]);
	free(errs->lines);
	errs->lines = NULL;
	errs->count = 0;
}
