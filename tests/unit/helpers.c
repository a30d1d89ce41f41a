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
#include <sys/mman.h>
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
	char made[] = "/tmp/mmapfs-unit.XXXXXX";
	char *dir;

	if (!mkdtemp(made))
		die("mkdtemp");
	dir = realpath(made, NULL);
	if (!dir)
		die(made);
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

void file_vprintf(const char *path, const char *fmt, va_list ap)
{
	char *text;
	int len = vasprintf(&text, fmt, ap);

	CU_ASSERT_FATAL(len >= 0);
	file_write(path, text, (size_t)len);
	free(text);
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

const char *first_error(const struct errors *errs)
{
	return errs->count ? errs->lines[0] : "none";
}

/* ---- the region fixture ---- */

struct region_fixture fixture;

void region_fixture_setup(void)
{
	static char name[] = "e";

	fixture.dir = tmpdir_make();
	fixture.path = path_join(fixture.dir, "data");
	fixture.entry = (struct entry){
		.name = name,
		.path = fixture.path,
		.views = VIEW_ALL,
		.resizable = true,
		.advice = MADV_NORMAL,
	};
}

void region_fixture_teardown(void)
{
	if (fixture.region)
		region_close(fixture.region);
	fixture.region = NULL;
	free(fixture.path);
	tmpdir_remove(fixture.dir);
}

unsigned char pattern(uint64_t off)
{
	return (unsigned char)(off % 251);
}

void make_data(uint64_t size)
{
	unsigned char *data = malloc(size + 1);

	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	for (uint64_t i = 0; i < size; i++)
		data[i] = pattern(i);
	file_write(fixture.path, data, size);
	free(data);
}

void open_region(void)
{
	char why[256] = "";
	int err = region_open(&fixture.entry, &fixture.region, why, sizeof(why));

	CHECK_FATAL(err == 0, "region_open = %d: %s", err, why);
}

size_t read_view(unsigned view, uint64_t off, void *buf, size_t len)
{
	const void *data = NULL;
	size_t n = region_read_begin(fixture.region, view, off, len, &data), zeros, head;

	/* As fs.c replies: zeros where the view reads them though the
	 * mapping holds the file's bytes. */
	head = region_read_mapped(fixture.region, view, off, n, &zeros);
	if (n) {
		memcpy(buf, data, n);
		memset((char *)buf + head, 0, zeros);
	}
	region_read_end(fixture.region);
	return n;
}

ssize_t write_view(unsigned view, uint64_t off, const char *text)
{
	size_t written;
	int err = region_write(fixture.region, view, text, strlen(text), &off, 0, &written);

	return err ? -err : (ssize_t)written;
}

ssize_t read_file(uint64_t off, void *buf, size_t len)
{
	int fd = open(fixture.entry.path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = pread(fd, buf, len, (off_t)off);
	close(fd);
	return n;
}

void assert_view_holds(const char *file, unsigned line, unsigned view,
		       uint64_t off, const void *want, size_t len)
{
	unsigned char *got = malloc(len + 1);
	size_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	n = read_view(view, off, got, len);
	check_at(n == len && memcmp(got, want, len) == 0, false, file, line,
		 "view %u at %" PRIu64 ": %zu of %zu bytes read, %s", view, off,
		 n, len, n == len ? "not the expected ones" : "short");
	free(got);
}

void assert_file_holds(const char *file, unsigned line, uint64_t off,
		       const void *want, size_t len)
{
	unsigned char *got = malloc(len + 1);
	ssize_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	n = read_file(off, got, len);
	check_at(n == (ssize_t)len && memcmp(got, want, len) == 0, false, file,
		 line, "file at %" PRIu64 ": %zd of %zu bytes read, %s", off, n,
		 len, n == (ssize_t)len ? "not the expected ones" : "short");
	free(got);
}

void assert_file_untouched(const char *file, unsigned line, uint64_t off,
			   size_t len)
{
	unsigned char *want = malloc(len + 1);

	CU_ASSERT_PTR_NOT_NULL_FATAL(want);
	for (size_t i = 0; i < len; i++)
		want[i] = pattern(off + i);
	assert_file_holds(file, line, off, want, len);
	free(want);
}

/* LEN bytes of S with the unprintable ones as \xNN, for messages. */
const char *shown(const char *s, size_t len)
{
	static char bufs[4][200];
	static unsigned next;
	char *out = bufs[next++ % 4];
	size_t o = 0;

	for (size_t i = 0; i < len && o + 8 < sizeof(bufs[0]); i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, sizeof(bufs[0]) - o, "\\x%02x", c);
	}
	if (len > 0 && o + 8 >= sizeof(bufs[0]))
		strcpy(out + o, "...");
	else
		out[o] = '\0';
	return out;
}

/* LEN, or the length of the string TEXT if LEN is SIZE_MAX. */
size_t text_len(const char *text, size_t len)
{
	return len == SIZE_MAX ? strlen(text) : len;
}

/* Fills BUF with LEN bytes: TEXT, then spaces. */
void padded(char *buf, size_t len, const char *text)
{
	memset(buf, ' ', len);
	memcpy(buf, text, strlen(text));
}
