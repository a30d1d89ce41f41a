/* helpers.c - see tests.h. */
#include "tests.h"

#include <CUnit/CUnit.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* The holder: a child running this binary with HOLD_ARG, until HOLD_FD
 * (the write end of its stdin) is closed. */
static pid_t holder = -1;
static int hold_fd = -1;

static void stop_holder(void)
{
	close(hold_fd);
	waitpid(holder, NULL, 0);
	hold_fd = -1;
	holder = -1;
}

/* Starts the holder on PATH and returns once it runs PATH (or failed to). */
static void start_holder(const char *path)
{
	int ready[2], hold[2];
	char c;

	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(hold, O_CLOEXEC) < 0)
		die("pipe2");
	holder = fork();
	if (holder < 0)
		die("fork");
	if (holder == 0) {
		/* READY's write end closes at exec, or when this child ends. */
		if (dup2(hold[0], STDIN_FILENO) >= 0)
			execl(path, path, HOLD_ARG, (char *)NULL);
		_exit(127);
	}
	close(ready[1]);
	close(hold[0]);
	while (read(ready[0], &c, 1) < 0 && errno == EINTR)
		;
	close(ready[0]);
	hold_fd = hold[1];
	atexit(stop_holder);
}

static bool opens_for_writing(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

char *busy_executable(void)
{
	char *path = realpath("/proc/self/exe", NULL);

	if (!path)
		die("/proc/self/exe");
	/* Under valgrind the kernel runs valgrind, not this file: run it. */
	if (opens_for_writing(path) && holder < 0)
		start_holder(path);
	if (opens_for_writing(path)) {
		free(path);
		return NULL;
	}
	return path;
}

int hold_until_eof(void)
{
	char buf[64];
	ssize_t n;

	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		;
	return 0;
}
