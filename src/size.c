/* size.c - see size.h for the syntax. */
#include "size.h"

#include <ctype.h>
#include <errno.h>

static int digit_value(int c, unsigned base)
{
	int v;

	if (c >= '0' && c <= '9')
		v = c - '0';
	else if (base == 16 && isxdigit(c))
		v = tolower(c) - 'a' + 10;
	else
		return -1;
	return v < (int)base ? v : -1;
}

/* Shift for a K/M/G/T suffix, -1 for any other character. */
static int suffix_shift(char c)
{
	switch (toupper((unsigned char)c)) {
	case 'K': return 10;
	case 'M': return 20;
	case 'G': return 30;
	case 'T': return 40;
	default:  return -1;
	}
}

int size_parse(const char *text, uint64_t *out)
{
	const char *p = text;
	unsigned base = 10;
	uint64_t value = 0;
	int ndigits = 0, d, shift = 0;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	for (; (d = digit_value((unsigned char)*p, base)) >= 0; p++, ndigits++) {
		if (value > (UINT64_MAX - (uint64_t)d) / base)
			return ERANGE;
		value = value * base + (uint64_t)d;
	}
	if (ndigits == 0)
		return EINVAL;
	if (*p != '\0') {
		shift = suffix_shift(*p++);
		if (shift < 0 || *p != '\0')
			return EINVAL;
		if (value > (UINT64_MAX >> shift))
			return ERANGE;
	}
	*out = value << shift;
	return 0;
}
