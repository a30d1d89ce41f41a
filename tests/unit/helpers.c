/* helpers.c - see tests.h. */
#include "tests.h"

#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void check_at(bool ok, bool fatal, const char *file, unsigned line,
	      const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, line, msg, file, "",
				fatal ? CU_TRUE : CU_FALSE);
}

static void die(const char *what)
{
	perror(what);
	abort();
}

char *tmpdir_make(void)
{
	char *dir = strdup("/tmp/mmapfs-unit.XXXXXX");

	if (!dir || !mkdtemp(dir))
		die("mkdtemp");
	return dir;
}

static int remove_one(const char *path, const struct stat *st, int type,
		      struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

void tmpdir_remove(char *dir)
{
	if (nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		die(dir);
	free(dir);
}

char *path_join(const char *dir, const char *name)
{
	char *path;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		die("asprintf");
	return path;
}

void file_write(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "we");

	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		die(path);
}

long long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

char *busy_executable(void)
{
	char *path = realpath("/proc/self/exe", NULL);
	int fd;

	if (!path)
		die("/proc/self/exe");
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		free(path);
		return NULL;
	}
	return path;
}
