/*
 * fuzz_config.c - libFuzzer target for config_load: the input is the INI
 * text, read through a memfd so nothing touches the disk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct config cfg;
	struct errors errs = { 0 };
	char path[64];
	int fd = memfd_create("fuzz.ini", MFD_CLOEXEC), rc;

	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	log_setup(false, LOG_EMERG);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rc = config_load(path, &cfg, &errs);
	if ((rc == 0) != (errs.count == 0))
		abort();	/* failure and error lines go together */
	config_free(&cfg);
	errors_free(&errs);
	close(fd);
	return 0;
}
