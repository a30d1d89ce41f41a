/*
 * fuzz_ctl.c - libFuzzer target for the control-command parser and the
 * number syntax. The first byte picks the control file; the rest is what
 * was written to it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "size.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct ctl_command cmd;
	char why[400], *text;
	uint64_t value;
	int err;

	if (size == 0)
		return 0;
	err = ctl_parse((enum ctl_file)(data[0] % CTL_FILES), (const char *)data + 1,
			size - 1, &cmd, why, sizeof(why));
	if (err != 0 && err != EINVAL)
		abort();
	if (err && why[0] == '\0')
		abort();	/* every refusal says why */

	text = strndup((const char *)data + 1, size - 1);
	if (text) {
		err = size_parse(text, &value);
		if (err != 0 && err != EINVAL && err != ERANGE)
			abort();
		free(text);
	}
	return 0;
}
