/*
 * test_ctl.c - ctl.h against SPEC "Control files": the commands run on
 * real regions (ctl_write), the errno order, the reasons kept in
 * last_error, and what ctl_read shows. The command language alone is
 * test_ctl_parse.c's.
 *
 * Each test gets a fresh folder with DIR/data as the backing file, holding
 * pattern() bytes, and an entry "e" for it that the test adjusts before
 * opening the region. A failed command is checked to change nothing but
 * the errors counter and last_error: the file's bytes and size, both views'
 * bytes and sizes and every other counter are compared before and after.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "region.h"
#include "tests.h"

static uint64_t page;
static struct ctl_effect effect;	/* what the last ctl_write reported */

static int init_suite(void)
{
	long size = sysconf(_SC_PAGESIZE);

	page = (uint64_t)size;
	return size > 0 ? 0 : -1;
}

/* Makes the data file SIZE bytes of a hole (no page in memory). */
static void make_sparse(uint64_t size)
{
	file_write(fixture.path, "", 0);
	CU_ASSERT_EQUAL_FATAL(truncate(fixture.path, (off_t)size), 0);
}

static void open_anonymous(uint64_t length)
{
	fixture.entry.path = NULL;
	fixture.entry.anonymous = true;
	fixture.entry.length = length;
	open_region();
}

/* printf into one of 8 static buffers, for command texts and reasons. */
static const char *__attribute__((format(printf, 1, 2)))
fmt_text(const char *fmt, ...)
{
	static char bufs[8][256];
	static unsigned next;
	char *buf = bufs[next++ % 8];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(bufs[0]), fmt, ap);
	va_end(ap);
	return buf;
}


/* ---- reading the region and its file ---- */

/* All of VIEW's bytes, malloc'd (at least one byte). */
static unsigned char *view_bytes(unsigned view)
{
	uint64_t size = region_view_size(fixture.region, view);
	unsigned char *buf = malloc(size + 1);

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	CU_ASSERT_EQUAL(read_view(view, 0, buf, size), size);
	return buf;
}

/* All of the data file's bytes, malloc'd (at least one byte); *SIZE set. */
static unsigned char *file_bytes(uint64_t *size)
{
	long long n = file_size(fixture.path);
	unsigned char *buf;
	int fd;

	CU_ASSERT_FATAL(n >= 0);
	buf = malloc((size_t)n + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	fd = open(fixture.path, O_RDONLY | O_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(pread(fd, buf, (size_t)n, 0), (ssize_t)n);
	close(fd);
	*size = (uint64_t)n;
	return buf;
}

/* ---- status ---- */

/* Copies the value of KEY in the status text into OUT; false if no line
 * "KEY: VALUE" is there. */
static bool status_get(const char *key, char *out, size_t outlen)
{
	char text[CTL_READ_MAX];
	size_t klen = strlen(key), n = ctl_read(fixture.region, CTL_STATUS, text, sizeof(text));
	char *line = text;

	text[n < sizeof(text) ? n : sizeof(text) - 1] = '\0';
	while (*line) {
		char *end = strchr(line, '\n');

		if (!end)
			end = line + strlen(line);
		if (strncmp(line, key, klen) == 0 && line[klen] == ':' &&
		    line[klen + 1] == ' ') {
			snprintf(out, outlen, "%.*s", (int)(end - line - (long)klen - 2),
				 line + klen + 2);
			return true;
		}
		line = *end ? end + 1 : end;
	}
	return false;
}

/* Asserts that status shows KEY: WANT. */
#define ASSERT_STATUS(key, want) assert_status(__LINE__, key, want)
/* The decimal value of KEY in status (asserting that it is one). */
#define STATUS_NUMBER(key) status_number(__LINE__, key)

static void assert_status(unsigned at, const char *key, const char *want)
{
	char got[1024] = "";
	bool found = status_get(key, got, sizeof(got));

	check_at(found && strcmp(got, want) == 0, false, __FILE__, at,
		 "status %s: '%s'%s, want '%s'", key, got,
		 found ? "" : " (missing)", want);
}

static uint64_t status_number(unsigned at, const char *key)
{
	char got[1024] = "", *end = NULL;
	bool found = status_get(key, got, sizeof(got));
	unsigned long long v = found ? strtoull(got, &end, 10) : 0;
	bool ok = found && got[0] >= '0' && got[0] <= '9' && end && *end == '\0';

	check_at(ok, false, __FILE__, at, "status %s: '%s' is not a decimal number%s",
		 key, got, found ? "" : " (missing)");
	return ok ? (uint64_t)v : UINT64_MAX;
}

/* ---- running commands ---- */

/* Writes LEN bytes of TEXT to FILE at OFFSET; effect is refilled. */
static int ctl_n(enum ctl_file file, const char *text, size_t len, uint64_t offset)
{
	memset(&effect, 0xa5, sizeof(effect));
	return ctl_write(fixture.region, file, text, len, offset, &effect);
}


/* Asserts that writing the string TEXT to FILE succeeds. */
#define ASSERT_CTL(file, text) assert_ctl(__LINE__, file, text, SIZE_MAX)
#define ASSERT_CTL_N(file, text, len) assert_ctl(__LINE__, file, text, len)

/* LEN SIZE_MAX: TEXT is a string. */
static void assert_ctl(unsigned at, enum ctl_file file, const char *text, size_t len)
{
	char last[1024] = "";
	int err;

	len = text_len(text, len);
	err = ctl_n(file, text, len, 0);

	if (err)
		status_get("last_error", last, sizeof(last));
	check_at(err == 0, false, __FILE__, at, "%s '%s' = %d (%s)",
		 ctl_file_name(file), shown(text, len), err, last);
}

/* Asserts that the last command reported it changed VIEWS over OFF+LEN. */
#define ASSERT_EFFECT(v, o, l) \
	check_at(effect.views == (unsigned)(v) && effect.off == (uint64_t)(o) && \
		 effect.len == (uint64_t)(l), false, __FILE__, __LINE__, \
		 "effect %#x %" PRIu64 "+%" PRIu64 ", want %#x %" PRIu64 "+%" PRIu64, \
		 effect.views, effect.off, effect.len, (unsigned)(v), (uint64_t)(o), \
		 (uint64_t)(l))

/* Asserts that the last command reported no change to any view. */
#define ASSERT_NO_EFFECT() \
	check_at(effect.views == 0, false, __FILE__, __LINE__, \
		 "effect on views %#x, want none", effect.views)

/* Everything a failed command must leave as it was. */
struct snapshot {
	uint64_t size, cow_size;
	uint64_t file_len;
	unsigned char *file;	/* the data file's bytes; NULL if anonymous */
	unsigned char *ro, *cow;	/* the views' bytes; cow NULL without it */
	unsigned reads_made;	/* region reads the snapshot made itself */
	struct region_stats st;
};

static void snapshot_take(struct snapshot *s)
{
	memset(s, 0, sizeof(*s));
	region_get_stats(fixture.region, &s->st);
	s->size = region_view_size(fixture.region, VIEW_RO);
	s->cow_size = region_entry(fixture.region)->views & VIEW_COW ?
		      region_view_size(fixture.region, VIEW_COW) : 0;
	if (!region_entry(fixture.region)->anonymous)
		s->file = file_bytes(&s->file_len);
	s->ro = view_bytes(VIEW_RO);
	s->reads_made++;
	if (region_entry(fixture.region)->views & VIEW_COW) {
		s->cow = view_bytes(VIEW_COW);
		s->reads_made++;
	}
}

static void snapshot_free(struct snapshot *s)
{
	free(s->file);
	free(s->ro);
	free(s->cow);
}

/* Asserts that AFTER is BEFORE with one more error and nothing else. */
static void snapshot_same(unsigned at, const struct snapshot *before,
			  const struct snapshot *after)
{
	const struct region_stats *b = &before->st, *a = &after->st;

	check_at(after->size == before->size && after->cow_size == before->cow_size,
		 false, __FILE__, at, "sizes %" PRIu64 "/%" PRIu64 " became %" PRIu64
		 "/%" PRIu64, before->size, before->cow_size, after->size,
		 after->cow_size);
	check_at(after->file_len == before->file_len &&
		 (!before->file || memcmp(after->file, before->file, before->file_len) == 0),
		 false, __FILE__, at, "the file changed (%" PRIu64 " -> %" PRIu64 " bytes)",
		 before->file_len, after->file_len);
	check_at(after->size != before->size ||
		 memcmp(after->ro, before->ro, before->size) == 0, false, __FILE__, at,
		 "the ro view's bytes changed");
	check_at(after->cow_size != before->cow_size || !before->cow ||
		 memcmp(after->cow, before->cow, before->cow_size) == 0, false,
		 __FILE__, at, "the cow view's bytes changed");
	check_at(a->errors == b->errors + 1, false, __FILE__, at,
		 "errors %" PRIu64 " -> %" PRIu64 ", want +1", b->errors, a->errors);
	check_at(a->reads == b->reads + before->reads_made && a->writes == b->writes &&
		 a->flushes == b->flushes && a->resizes == b->resizes &&
		 a->moves == b->moves && a->resets == b->resets &&
		 a->cow_private_bytes == b->cow_private_bytes &&
		 a->size == b->size && a->cow_size == b->cow_size &&
		 a->file_size == b->file_size, false, __FILE__, at,
		 "a counter or size in status changed");
}

/*
 * Asserts that writing LEN bytes of TEXT to FILE at OFFSET fails with WANT,
 * changes nothing but errors (+1 in status) and last_error, which is then
 * "FILE: REASON".
 */
#define ASSERT_CTL_FAILS(file, text, want, reason) \
	assert_ctl_fails(__LINE__, file, text, SIZE_MAX, 0, want, reason)
#define ASSERT_CTL_FAILS_N(file, text, len, offset, want, reason) \
	assert_ctl_fails(__LINE__, file, text, len, offset, want, reason)

static void assert_ctl_fails(unsigned at, enum ctl_file file, const char *text,
			     size_t len, uint64_t offset, int want, const char *reason)
{
	struct snapshot before, after;
	char last[1024] = "", want_last[1024];
	uint64_t errors_before = status_number(at, "errors");
	int err;

	len = text_len(text, len);
	snapshot_take(&before);
	err = ctl_n(file, text, len, offset);
	snapshot_take(&after);
	check_at(err == want, false, __FILE__, at, "%s '%s' = %d, want %d",
		 ctl_file_name(file), shown(text, len), err, want);
	snapshot_same(at, &before, &after);
	check_at(status_number(at, "errors") == errors_before + 1, false, __FILE__,
		 at, "status errors: not %" PRIu64, errors_before + 1);
	snprintf(want_last, sizeof(want_last), "%s: %s", ctl_file_name(file), reason);
	status_get("last_error", last, sizeof(last));
	check_at(strcmp(last, want_last) == 0, false, __FILE__, at,
		 "%s '%s': last_error '%s', want '%s'", ctl_file_name(file),
		 shown(text, len), shown(last, strlen(last)), want_last);
	snapshot_free(&before);
	snapshot_free(&after);
}

static void drop_cached_pages(void);

/* ---- flush ---- */

static void test_flush_whole(void)
{
	make_data(2 * page);
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_RW, page + 1, "flushed"), 7);
	ASSERT_CTL(CTL_FLUSH, "");
	ASSERT_NO_EFFECT();
	CU_ASSERT_EQUAL(STATUS_NUMBER("flushes"), 1);
	ASSERT_CTL(CTL_FLUSH, "\n");
	ASSERT_CTL(CTL_FLUSH, " \t \r\n");
	CU_ASSERT_EQUAL(STATUS_NUMBER("flushes"), 3);
	ASSERT_FILE_HOLDS(page + 1, "flushed", 7);
	ASSERT_FILE_SIZE(2 * page);
	ASSERT_VIEW_SIZE(VIEW_RW, 2 * page);
	CU_ASSERT_EQUAL(STATUS_NUMBER("errors"), 0);
	ASSERT_STATUS("last_error", "none");
}

static void test_flush_range_inside(void)
{
	make_data(3 * page);
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_RW, page + 1, "range"), 5);
	ASSERT_CTL(CTL_FLUSH, fmt_text("%" PRIu64 " 5\n", page + 1));
	ASSERT_NO_EFFECT();
	ASSERT_CTL(CTL_FLUSH, fmt_text("0 %" PRIu64, 3 * page));
	ASSERT_CTL(CTL_FLUSH, fmt_text("%" PRIu64 " 0", 3 * page));	/* at the end */
	ASSERT_CTL(CTL_FLUSH, "0 0");
	ASSERT_CTL(CTL_FLUSH, "0x0 1k");
	CU_ASSERT_EQUAL(STATUS_NUMBER("flushes"), 5);
	ASSERT_FILE_HOLDS(page + 1, "range", 5);
	ASSERT_VIEW_SIZE(VIEW_RW, 3 * page);
	CU_ASSERT_EQUAL(STATUS_NUMBER("errors"), 0);
}

/* SPEC: OFFSET is rounded down to a page; it need not be aligned. */
static void test_flush_offset_is_rounded_down(void)
{
	make_data(2 * page);
	open_region();
	ASSERT_CTL(CTL_FLUSH, "100 10");
	ASSERT_CTL(CTL_FLUSH, fmt_text("%" PRIu64 " 1", page + 1));
	ASSERT_CTL(CTL_FLUSH, fmt_text("%" PRIu64 " 1", 2 * page - 1));
	CU_ASSERT_EQUAL(STATUS_NUMBER("flushes"), 3);
	CU_ASSERT_EQUAL(STATUS_NUMBER("errors"), 0);
}

static void test_flush_range_outside_is_einval(void)
{
	make_data(2 * page);
	open_region();
	ASSERT_CTL_FAILS(CTL_FLUSH, fmt_text("%" PRIu64 " 0", 2 * page + 1), EINVAL,
			 fmt_text("range %" PRIu64 "+0 is past the end (%" PRIu64 ")",
				  2 * page + 1, 2 * page));
	ASSERT_CTL_FAILS(CTL_FLUSH, fmt_text("%" PRIu64 " %" PRIu64, page, page + 1),
			 EINVAL, fmt_text("range %" PRIu64 "+%" PRIu64 " is past the end (%"
					  PRIu64 ")", page, page + 1, 2 * page));
	ASSERT_CTL_FAILS(CTL_FLUSH, "0 1T", EINVAL,
			 fmt_text("range 0+1099511627776 is past the end (%" PRIu64 ")",
				  2 * page));
	ASSERT_CTL_FAILS(CTL_FLUSH, "18446744073709551615 2", EINVAL,
			 "range 18446744073709551615+2 overflows");
	CU_ASSERT_EQUAL(STATUS_NUMBER("flushes"), 0);
	CU_ASSERT_EQUAL(STATUS_NUMBER("errors"), 4);
}

static void test_flush_anonymous(void)
{
	open_anonymous(10000);
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 0, "mem"), 3);
	ASSERT_CTL(CTL_FLUSH, "");
	ASSERT_CTL(CTL_FLUSH, "0 10000");
	ASSERT_CTL(CTL_FLUSH, "9999 1\n");
	ASSERT_NO_EFFECT();
	CU_ASSERT_EQUAL(STATUS_NUMBER("flushes"), 3);
	ASSERT_CTL_FAILS(CTL_FLUSH, "10000 1", EINVAL,
			 "range 10000+1 is past the end (10000)");
	ASSERT_VIEW_HOLDS(VIEW_RO, 0, "mem", 3);
	ASSERT_VIEW_SIZE(VIEW_RW, 10000);
}

/* SPEC: "flush async" starts the writeback and returns; it counts as a
 * flush, has a flush's bounds and needs no write-back of clients' pages. */
static void test_flush_async(void)
{
	make_data(3 * page);
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_RW, page + 1, "later"), 5);
	ASSERT_CTL(CTL_FLUSH, "async");
	ASSERT_NO_EFFECT();
	ASSERT_CTL(CTL_FLUSH, "ASYNC\n");
	ASSERT_CTL(CTL_FLUSH, fmt_text("async %" PRIu64 " 5", page + 1));
	ASSERT_CTL(CTL_FLUSH, fmt_text("async %" PRIu64 " 0", 3 * page));
	CU_ASSERT_EQUAL(STATUS_NUMBER("flushes"), 4);
	ASSERT_CTL_FAILS(CTL_FLUSH, fmt_text("async %" PRIu64 " 1", 3 * page), EINVAL,
			 fmt_text("range %" PRIu64 "+1 is past the end (%" PRIu64 ")",
				  3 * page, 3 * page));
	ASSERT_CTL_FAILS(CTL_FLUSH, "async 18446744073709551615 2", EINVAL,
			 "range 18446744073709551615+2 overflows");
	ASSERT_CTL_FAILS(CTL_FLUSH, "async 1", EINVAL, USAGE_FLUSH_ASYNC ", got 2 fields");
	CU_ASSERT_EQUAL(STATUS_NUMBER("flushes"), 4);
	ASSERT_FILE_HOLDS(page + 1, "later", 5);	/* the same page cache */
	CU_ASSERT_EQUAL(ctl_write_back_views(CTL_FLUSH, "async", 5), 0);
	CU_ASSERT_EQUAL(ctl_write_back_views(CTL_FLUSH, " Async 0 1\n", 11), 0);
	CU_ASSERT_EQUAL(ctl_write_back_views(CTL_FLUSH, "", 0), VIEW_RW);
	CU_ASSERT_EQUAL(ctl_write_back_views(CTL_FLUSH, "0 1", 3), VIEW_RW);
}

static void test_flush_async_anonymous_and_without_rw(void)
{
	open_anonymous(10000);
	ASSERT_CTL(CTL_FLUSH, "async");
	ASSERT_CTL(CTL_FLUSH, "async 9999 1");
	CU_ASSERT_EQUAL(STATUS_NUMBER("flushes"), 2);
	ASSERT_CTL_FAILS(CTL_FLUSH, "async 10000 1", EINVAL,
			 "range 10000+1 is past the end (10000)");
	region_fixture_teardown();
	region_fixture_setup();
	make_data(page);
	fixture.entry.views = VIEW_RO | VIEW_COW;
	open_region();
	ASSERT_CTL_FAILS(CTL_FLUSH, "async", EROFS, "the entry has no rw view");
}

/* ---- advise ---- */

static void test_advise_populate_faults_the_range_in(void)
{
	uint64_t resident;

	make_sparse(8 * page);
	open_region();
	drop_cached_pages();
	ASSERT_STATUS("resident_bytes", "0");
	ASSERT_CTL(CTL_ADVISE, fmt_text("populate %" PRIu64 " %" PRIu64, 2 * page, 3 * page));
	ASSERT_NO_EFFECT();
	resident = STATUS_NUMBER("resident_bytes");	/* readahead may bring more */
	CHECK(resident >= 3 * page, "resident_bytes %" PRIu64 " after populating 3 pages",
	      resident);
	ASSERT_CTL(CTL_ADVISE, "POPULATE\n");
	ASSERT_STATUS("resident_bytes", fmt_text("%" PRIu64, 8 * page));
	CU_ASSERT_EQUAL(STATUS_NUMBER("errors"), 0);
}

/* SPEC: every word, on the shared mappings only: neither the cow view's
 * private pages nor what was written through rw are lost. */
static void test_advise_every_word_keeps_every_byte(void)
{
	static const char *const words[] = {
		"normal", "sequential", "random", "willneed", "dontneed", "Hugepage",
		"nohugepage", "populate", "DONTNEED",
	};

	make_data(4 * page);
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_RW, page, "shared"), 6);
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 2 * page, "private"), 7);
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		ASSERT_CTL(CTL_ADVISE, words[i]);
		ASSERT_CTL(CTL_ADVISE, fmt_text("%s %" PRIu64 " %" PRIu64, words[i], page,
						3 * page));
	}
	ASSERT_VIEW_HOLDS(VIEW_RO, page, "shared", 6);
	ASSERT_VIEW_HOLDS(VIEW_COW, 2 * page, "private", 7);
	ASSERT_VIEW_HOLDS(VIEW_COW, page, "shared", 6);
	CU_ASSERT_EQUAL(STATUS_NUMBER("cow_private_bytes"), page);
	CU_ASSERT_EQUAL(STATUS_NUMBER("errors"), 0);
	CU_ASSERT_EQUAL(ctl_write_back_views(CTL_ADVISE, "dontneed", 8), 0);
}

static void test_advise_bounds_are_einval(void)
{
	make_data(2 * page + 100);
	open_region();
	ASSERT_CTL(CTL_ADVISE, fmt_text("willneed %" PRIu64 " 100", 2 * page));
	ASSERT_CTL(CTL_ADVISE, fmt_text("willneed %" PRIu64 " 0", 2 * page));
	ASSERT_CTL_FAILS(CTL_ADVISE, "willneed 100 10", EINVAL,
			 fmt_text("offset 100 is not a multiple of the page size (%" PRIu64 ")",
				  page));
	ASSERT_CTL_FAILS(CTL_ADVISE, fmt_text("normal %" PRIu64 " 101", 2 * page), EINVAL,
			 fmt_text("range %" PRIu64 "+101 is past the end (%" PRIu64 ")",
				  2 * page, 2 * page + 100));
	ASSERT_CTL_FAILS(CTL_ADVISE, fmt_text("normal %" PRIu64 " 0", 3 * page), EINVAL,
			 fmt_text("range %" PRIu64 "+0 is past the end (%" PRIu64 ")",
				  3 * page, 2 * page + 100));
	ASSERT_CTL_FAILS(CTL_ADVISE, "random 0 18446744073709551615", EINVAL,
			 fmt_text("range 0+18446744073709551615 is past the end (%" PRIu64 ")",
				  2 * page + 100));
	ASSERT_CTL_FAILS(CTL_ADVISE, "free", EINVAL, "'free' is no advice (normal, "
			 "sequential, random, willneed, dontneed, hugepage, nohugepage, populate)");
	ASSERT_CTL_FAILS(CTL_ADVISE, "normal 0", EINVAL, USAGE_ADVISE ", got 2 fields");
	ASSERT_CTL_FAILS_N(CTL_ADVISE, "normal", 6, 1, EINVAL,
			   "written at offset 1; a command is one write at offset 0");
}

/* SPEC: any entry, whatever its views. */
static void test_advise_any_entry(void)
{
	make_data(page);
	fixture.entry.views = VIEW_RO;
	fixture.entry.resizable = false;
	open_region();
	ASSERT_CTL(CTL_ADVISE, "dontneed");
	ASSERT_CTL(CTL_ADVISE, "populate");
	ASSERT_VIEW_HOLDS(VIEW_RO, 0, "\0\1\2", 3);
	region_fixture_teardown();
	region_fixture_setup();
	open_anonymous(3 * page);
	CU_ASSERT_EQUAL(write_view(VIEW_RW, page, "memory"), 6);
	ASSERT_CTL(CTL_ADVISE, "dontneed");
	ASSERT_CTL(CTL_ADVISE, fmt_text("dontneed %" PRIu64 " %" PRIu64, page, page));
	ASSERT_VIEW_HOLDS(VIEW_RO, page, "memory", 6);
	CU_ASSERT_EQUAL(STATUS_NUMBER("errors"), 0);
}

/* ---- resize ---- */

static void test_resize_grows_region_and_file(void)
{
	char buf[64];

	make_data(page);
	open_region();
	ASSERT_CTL(CTL_RESIZE, fmt_text("%" PRIu64 "\n", 3 * page));
	ASSERT_EFFECT(VIEW_ALL, page, 0);	/* nothing below the old size changed */
	ASSERT_VIEW_SIZE(VIEW_RO, 3 * page);
	ASSERT_VIEW_SIZE(VIEW_RW, 3 * page);
	ASSERT_VIEW_SIZE(VIEW_COW, page);	/* growth shows after reset */
	ASSERT_FILE_SIZE(3 * page);
	ASSERT_FILE_UNTOUCHED(0, page);
	CU_ASSERT_EQUAL(STATUS_NUMBER("resizes"), 1);
	CU_ASSERT_EQUAL(STATUS_NUMBER("size"), 3 * page);
	CU_ASSERT_EQUAL(STATUS_NUMBER("file_size"), 3 * page);
	CU_ASSERT_EQUAL(STATUS_NUMBER("cow_size"), page);
	CU_ASSERT_EQUAL(ctl_read(fixture.region, CTL_RESIZE, buf, sizeof(buf)),
			strlen(fmt_text("%" PRIu64 "\n", 3 * page)));
	CU_ASSERT_STRING_EQUAL(buf, fmt_text("%" PRIu64 "\n", 3 * page));
}

static void test_resize_shrinks_region_and_file_not_cow(void)
{
	make_data(3 * page);
	open_region();
	ASSERT_CTL(CTL_RESIZE, fmt_text("%" PRIu64, 2 * page + 100));
	ASSERT_EFFECT(VIEW_ALL, 2 * page, 0);	/* from the new end's page on */
	ASSERT_CTL(CTL_RESIZE, "100");
	ASSERT_EFFECT(VIEW_ALL, 0, 0);
	ASSERT_VIEW_SIZE(VIEW_RO, 100);
	ASSERT_VIEW_SIZE(VIEW_RW, 100);
	ASSERT_VIEW_SIZE(VIEW_COW, 3 * page);	/* its own; zeros past the base */
	ASSERT_FILE_SIZE(100);
	ASSERT_FILE_UNTOUCHED(0, 100);
	ASSERT_CTL(CTL_RESIZE, "0");
	ASSERT_VIEW_SIZE(VIEW_RO, 0);
	ASSERT_VIEW_SIZE(VIEW_COW, 3 * page);
	ASSERT_FILE_SIZE(0);
	CU_ASSERT_EQUAL(STATUS_NUMBER("resizes"), 3);
}

static void test_resize_takes_every_number_form(void)
{
	make_data(page);
	open_region();
	ASSERT_CTL(CTL_RESIZE, "2k");
	ASSERT_FILE_SIZE(2048);
	ASSERT_CTL(CTL_RESIZE, "0x3000\r\n");
	ASSERT_FILE_SIZE(0x3000);
	ASSERT_CTL(CTL_RESIZE, " \t0010\t ");
	ASSERT_FILE_SIZE(10);
	ASSERT_CTL(CTL_RESIZE, "1M");
	ASSERT_FILE_SIZE(1 << 20);
	ASSERT_VIEW_SIZE(VIEW_RW, 1 << 20);
}

/* SPEC: a window that reached the end of the file sets the file to
 * offset + SIZE, as Python's resize does. */
static void test_resize_window_reaching_the_end_moves_the_end(void)
{
	make_data(3 * page);
	fixture.entry.offset = page;
	open_region();
	ASSERT_CTL(CTL_RESIZE, fmt_text("%" PRIu64, page / 2));
	ASSERT_FILE_SIZE(page + page / 2);
	ASSERT_VIEW_SIZE(VIEW_RW, page / 2);
	ASSERT_VIEW_SIZE(VIEW_COW, 2 * page);
	ASSERT_FILE_UNTOUCHED(0, page + page / 2);
	ASSERT_CTL(CTL_RESIZE, fmt_text("%" PRIu64, 3 * page));
	ASSERT_FILE_SIZE(4 * page);
	ASSERT_VIEW_SIZE(VIEW_RW, 3 * page);
	CU_ASSERT_EQUAL(STATUS_NUMBER("offset"), page);
	CU_ASSERT_EQUAL(STATUS_NUMBER("file_size"), 4 * page);
}

static void test_resize_fixed_window_at_the_end_moves_the_end(void)
{
	make_data(3 * page);
	fixture.entry.offset = page;
	fixture.entry.length = 2 * page;
	open_region();
	ASSERT_CTL(CTL_RESIZE, fmt_text("%" PRIu64, page));
	ASSERT_FILE_SIZE(2 * page);
	ASSERT_VIEW_SIZE(VIEW_RO, page);
	ASSERT_VIEW_SIZE(VIEW_COW, 2 * page);
	ASSERT_FILE_UNTOUCHED(0, 2 * page);
}

/* SPEC: a window that ends before the file's end never cuts the data after
 * it; growing past the file's end extends the file. */
static void test_resize_window_before_the_end(void)
{
	make_data(4 * page);
	fixture.entry.offset = page;
	fixture.entry.length = page;
	open_region();
	ASSERT_CTL(CTL_RESIZE, "10");
	ASSERT_VIEW_SIZE(VIEW_RW, 10);
	ASSERT_VIEW_SIZE(VIEW_COW, page);
	ASSERT_FILE_SIZE(4 * page);
	ASSERT_FILE_UNTOUCHED(0, 4 * page);
	ASSERT_CTL(CTL_RESIZE, fmt_text("%" PRIu64, 2 * page));
	ASSERT_VIEW_SIZE(VIEW_RW, 2 * page);
	ASSERT_FILE_SIZE(4 * page);
	ASSERT_FILE_UNTOUCHED(0, 4 * page);
	ASSERT_CTL(CTL_RESIZE, fmt_text("%" PRIu64, 5 * page));
	ASSERT_VIEW_SIZE(VIEW_RW, 5 * page);
	ASSERT_FILE_SIZE(6 * page);
	ASSERT_FILE_UNTOUCHED(0, 4 * page);
	CU_ASSERT_EQUAL(STATUS_NUMBER("resizes"), 3);
}

static void test_resize_anonymous(void)
{
	open_anonymous(10000);
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 0, "keep"), 4);
	ASSERT_CTL(CTL_RESIZE, "5M");
	ASSERT_VIEW_SIZE(VIEW_RO, 5 << 20);
	ASSERT_VIEW_SIZE(VIEW_COW, 10000);
	CU_ASSERT_EQUAL(STATUS_NUMBER("file_size"), 5 << 20);
	ASSERT_VIEW_HOLDS(VIEW_RO, 0, "keep", 4);
	ASSERT_CTL(CTL_RESIZE, "2");
	ASSERT_VIEW_SIZE(VIEW_RO, 2);
	ASSERT_VIEW_SIZE(VIEW_COW, 10000);
	CU_ASSERT_EQUAL(STATUS_NUMBER("file_size"), 2);
	ASSERT_VIEW_HOLDS(VIEW_RW, 0, "ke", 2);
}

static void test_resize_past_the_largest_file_is_einval(void)
{
	make_data(page);
	open_region();
	ASSERT_CTL_FAILS(CTL_RESIZE, "18446744073709551615", EINVAL,
			 "size 18446744073709551615 is past the largest file size");
	ASSERT_CTL_FAILS(CTL_RESIZE, "0x8000000000000000", EINVAL,
			 "size 9223372036854775808 is past the largest file size");
	CU_ASSERT_EQUAL(STATUS_NUMBER("resizes"), 0);
}

static void test_resize_read_shows_the_size_and_a_newline(void)
{
	char buf[64];

	make_data(page);
	open_region();
	CU_ASSERT_EQUAL(ctl_read(fixture.region, CTL_RESIZE, buf, sizeof(buf)),
			strlen(fmt_text("%" PRIu64 "\n", page)));
	CU_ASSERT_STRING_EQUAL(buf, fmt_text("%" PRIu64 "\n", page));
	ASSERT_CTL(CTL_RESIZE, "0");
	CU_ASSERT_EQUAL(ctl_read(fixture.region, CTL_RESIZE, buf, sizeof(buf)), 2);
	CU_ASSERT_STRING_EQUAL(buf, "0\n");
	/* A size of many digits that valgrind, too, can map (1T it cannot). */
	ASSERT_CTL(CTL_RESIZE, "1G");
	CU_ASSERT_EQUAL(ctl_read(fixture.region, CTL_RESIZE, buf, sizeof(buf)), 11);
	CU_ASSERT_STRING_EQUAL(buf, "1073741824\n");
	ASSERT_CTL(CTL_RESIZE, "12345");
	CU_ASSERT_EQUAL(ctl_read(fixture.region, CTL_RESIZE, buf, 4), 3);	/* cut to fit */
	CU_ASSERT_STRING_EQUAL(buf, "123");
}

static void test_write_only_files_read_empty(void)
{
	char buf[64];

	make_data(page);
	open_region();
	CU_ASSERT_EQUAL(ctl_read(fixture.region, CTL_FLUSH, buf, sizeof(buf)), 0);
	CU_ASSERT_EQUAL(ctl_read(fixture.region, CTL_MOVE, buf, sizeof(buf)), 0);
	CU_ASSERT_EQUAL(ctl_read(fixture.region, CTL_RESET, buf, sizeof(buf)), 0);
}

/* ---- move ---- */

/* Runs "move DEST SRC COUNT" in the rw view of a 3-page file and checks
 * the file, ro and rw against memmove on a copy of the file. */
static void check_rw_move(unsigned at, uint64_t dest, uint64_t src, uint64_t count)
{
	uint64_t len;
	unsigned char *want = file_bytes(&len), *got;

	memmove(want + dest, want + src, count);
	assert_ctl(at, CTL_MOVE, fmt_text("%" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
					  dest, src, count), SIZE_MAX);
	/* A move onto itself changes nothing, so it invalidates nothing. */
	check_at(dest == src ? effect.views == 0
			     : effect.views == VIEW_ALL && effect.off == dest && effect.len == count,
		 false, __FILE__, at, "effect %#x %" PRIu64 "+%" PRIu64, effect.views,
		 effect.off, effect.len);
	got = file_bytes(&len);
	check_at(len == 3 * page && memcmp(got, want, len) == 0, false, __FILE__, at,
		 "move %" PRIu64 " %" PRIu64 " %" PRIu64 ": the file is not memmove's",
		 dest, src, count);
	assert_view_holds(__FILE__, at, VIEW_RO, 0, want, 3 * page);
	assert_view_holds(__FILE__, at, VIEW_RW, 0, want, 3 * page);
	free(got);
	free(want);
}

static void test_move_both_directions_match_memmove(void)
{
	make_data(3 * page);
	open_region();
	/* DEST after SRC, overlapping, across pages. */
	check_rw_move(__LINE__, 1000, 100, page + 500);
	/* DEST before SRC, overlapping, across pages. */
	check_rw_move(__LINE__, 7, page - 3, page + 11);
	/* Disjoint, up to the very end. */
	check_rw_move(__LINE__, 0, 2 * page, page);
	check_rw_move(__LINE__, 2 * page, 0, page);
	/* The whole region onto itself. */
	check_rw_move(__LINE__, 0, 0, 3 * page);
	/* One byte. */
	check_rw_move(__LINE__, 3 * page - 1, 0, 1);
	CU_ASSERT_EQUAL(STATUS_NUMBER("moves"), 6);
	CU_ASSERT_EQUAL(STATUS_NUMBER("errors"), 0);
	ASSERT_VIEW_SIZE(VIEW_RW, 3 * page);
	ASSERT_FILE_SIZE(3 * page);
}

static void test_move_reports_its_destination(void)
{
	make_data(3 * page);
	open_region();
	ASSERT_CTL(CTL_MOVE, fmt_text("%" PRIu64 " 0 300", page + 5));
	ASSERT_EFFECT(VIEW_ALL, page + 5, 300);
	ASSERT_CTL(CTL_MOVE, "cow 10 2000 77");
	ASSERT_EFFECT(VIEW_COW, 10, 77);
	CU_ASSERT_EQUAL(STATUS_NUMBER("moves"), 2);
}

/* A move in the rw view shows through ro and the cow pages not written. */
static void test_rw_move_shows_through_unwritten_cow_pages(void)
{
	make_data(2 * page);
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 0, "c"), 1);
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 10, "moved!"), 6);
	ASSERT_CTL(CTL_MOVE, fmt_text("%" PRIu64 " 10 6", page + 20));
	ASSERT_FILE_HOLDS(page + 20, "moved!", 6);
	ASSERT_VIEW_HOLDS(VIEW_RO, page + 20, "moved!", 6);
	ASSERT_VIEW_HOLDS(VIEW_COW, page + 20, "moved!", 6);
	ASSERT_VIEW_HOLDS(VIEW_COW, 0, "c", 1);
}

static void test_move_in_a_window_lands_at_its_offset(void)
{
	make_data(4 * page);
	fixture.entry.offset = page;
	fixture.entry.length = 2 * page;
	open_region();
	ASSERT_CTL(CTL_MOVE, "0 100 50");
	{
		unsigned char want[50];

		for (int i = 0; i < 50; i++)
			want[i] = pattern(page + 100 + (uint64_t)i);
		ASSERT_FILE_HOLDS(page, want, 50);
	}
	ASSERT_FILE_UNTOUCHED(0, page);
	ASSERT_FILE_UNTOUCHED(page + 50, 3 * page - 50);
}

static void test_move_cow_changes_only_the_cow_view(void)
{
	uint64_t len;
	unsigned char *want, *got;

	make_data(3 * page);
	open_region();
	want = file_bytes(&len);
	memmove(want + 10, want + page + 1, page);
	ASSERT_CTL(CTL_MOVE, fmt_text("cow 10 %" PRIu64 " %" PRIu64, page + 1, page));
	ASSERT_EFFECT(VIEW_COW, 10, page);
	got = view_bytes(VIEW_COW);
	CU_ASSERT_EQUAL(memcmp(got, want, 3 * page), 0);
	free(got);
	ASSERT_FILE_UNTOUCHED(0, 3 * page);
	ASSERT_FILE_SIZE(3 * page);
	free(want);
	want = file_bytes(&len);
	ASSERT_VIEW_HOLDS(VIEW_RO, 0, want, 3 * page);
	ASSERT_VIEW_HOLDS(VIEW_RW, 0, want, 3 * page);
	free(want);
	/* DEST [10, page + 10) covers pages 0 and 1. */
	CU_ASSERT_EQUAL(STATUS_NUMBER("cow_private_bytes"), 2 * page);
	CU_ASSERT_EQUAL(STATUS_NUMBER("moves"), 1);
}

/* docs: a move onto itself writes nothing, so the cow pages it covers
 * stay unwritten and keep showing the file's later changes. */
static void test_move_cow_onto_itself_writes_nothing(void)
{
	make_data(2 * page);
	open_region();
	/* short and long moves: memmove may store or not depending on COUNT */
	ASSERT_CTL(CTL_MOVE, "cow 5 5 100");
	ASSERT_CTL(CTL_MOVE, fmt_text("cow %" PRIu64 " %" PRIu64 " 1", page + 3, page + 3));
	ASSERT_CTL(CTL_MOVE, fmt_text("cow %" PRIu64 " %" PRIu64 " %" PRIu64, page, page,
				      page));
	CU_ASSERT_EQUAL(STATUS_NUMBER("cow_private_bytes"), 0);
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 1, "early"), 5);
	CU_ASSERT_EQUAL(write_view(VIEW_RW, page + 1, "later"), 5);
	ASSERT_VIEW_HOLDS(VIEW_COW, 1, "early", 5);
	ASSERT_VIEW_HOLDS(VIEW_COW, page + 1, "later", 5);
	ASSERT_CTL(CTL_MOVE, "7 7 100");	/* rw: nothing changes either */
	ASSERT_FILE_HOLDS(1, "early", 5);
	ASSERT_FILE_UNTOUCHED(6, page - 6);
}

/* SPEC: the cow view's own size bounds "move cow". */
static void test_move_cow_is_bounded_by_the_cow_size(void)
{
	make_data(page);
	open_region();
	ASSERT_CTL(CTL_RESIZE, fmt_text("%" PRIu64, 3 * page));
	ASSERT_CTL(CTL_MOVE, fmt_text("0 %" PRIu64 " 10", 2 * page));
	ASSERT_CTL_FAILS(CTL_MOVE, fmt_text("cow 0 %" PRIu64 " 10", page), EINVAL,
			 fmt_text("source %" PRIu64 "+10 is past the end (%" PRIu64 ")",
				  page, page));
	ASSERT_CTL_FAILS(CTL_MOVE, fmt_text("COW %" PRIu64 " 0 1", page), EINVAL,
			 fmt_text("destination %" PRIu64 "+1 is past the end (%" PRIu64 ")",
				  page, page));
	ASSERT_CTL(CTL_MOVE, fmt_text("cow 0 %" PRIu64 " 0", page));
}

static void test_move_count_0_at_the_end_is_a_no_op(void)
{
	struct snapshot before, after;

	make_data(4096);
	open_region();
	snapshot_take(&before);
	ASSERT_CTL(CTL_MOVE, "4096 0 0");
	ASSERT_NO_EFFECT();
	ASSERT_CTL(CTL_MOVE, "0 4096 0");
	ASSERT_CTL(CTL_MOVE, "4096 4096 0");
	ASSERT_CTL(CTL_MOVE, "cow 4096 4096 0");
	ASSERT_NO_EFFECT();
	snapshot_take(&after);
	CU_ASSERT_EQUAL(memcmp(before.file, after.file, 4096), 0);
	CU_ASSERT_EQUAL(memcmp(before.cow, after.cow, 4096), 0);
	CU_ASSERT_EQUAL(after.st.cow_private_bytes, 0);
	CU_ASSERT_EQUAL(STATUS_NUMBER("errors"), 0);
	snapshot_free(&before);
	snapshot_free(&after);
}

static void test_move_count_0_past_the_end_is_einval(void)
{
	make_data(4096);
	open_region();
	ASSERT_CTL_FAILS(CTL_MOVE, "4097 0 0", EINVAL,
			 "destination 4097+0 is past the end (4096)");
	ASSERT_CTL_FAILS(CTL_MOVE, "0 4097 0", EINVAL,
			 "source 4097+0 is past the end (4096)");
	ASSERT_CTL_FAILS(CTL_MOVE, "cow 4097 0 0", EINVAL,
			 "destination 4097+0 is past the end (4096)");
	ASSERT_CTL_FAILS(CTL_MOVE, "cow 0 4097 0", EINVAL,
			 "source 4097+0 is past the end (4096)");
	CU_ASSERT_EQUAL(STATUS_NUMBER("moves"), 0);
}

static void test_move_past_the_end_is_einval(void)
{
	char status[CTL_READ_MAX];
	size_t n;

	make_data(4096);
	open_region();
	ASSERT_CTL_FAILS(CTL_MOVE, "0 4096 100", EINVAL,
			 "source 4096+100 is past the end (4096)");
	n = ctl_read(fixture.region, CTL_STATUS, status, sizeof(status));
	CU_ASSERT(n > 0 && strstr(status, "\nlast_error: move: source 4096+100 is "
				  "past the end (4096)\n") != NULL);
	ASSERT_CTL_FAILS(CTL_MOVE, "4000 0 97", EINVAL,
			 "destination 4000+97 is past the end (4096)");
	ASSERT_CTL_FAILS(CTL_MOVE, "0 1 4096", EINVAL,
			 "source 1+4096 is past the end (4096)");
	ASSERT_CTL_FAILS(CTL_MOVE, "cow 0 1 4096\n", EINVAL,
			 "source 1+4096 is past the end (4096)");
	CU_ASSERT_EQUAL(STATUS_NUMBER("errors"), 4);
}

static void test_move_overflowing_sum_is_einval(void)
{
	make_data(4096);
	open_region();
	ASSERT_CTL_FAILS(CTL_MOVE, "18446744073709551615 0 1", EINVAL,
			 "destination 18446744073709551615+1 overflows");
	ASSERT_CTL_FAILS(CTL_MOVE, "0 18446744073709551615 1", EINVAL,
			 "source 18446744073709551615+1 overflows");
	ASSERT_CTL_FAILS(CTL_MOVE, "0 0 18446744073709551615", EINVAL,
			 "destination 0+18446744073709551615 is past the end (4096)");
	ASSERT_CTL_FAILS(CTL_MOVE, "1 0 0xffffffffffffffff", EINVAL,
			 "destination 1+18446744073709551615 overflows");
	ASSERT_CTL_FAILS(CTL_MOVE, "cow 16777215T 0 1T", EINVAL,
			 "destination 18446742974197923840+1099511627776 overflows");
}

/* ---- reset ---- */

static void test_reset_drops_cow_writes(void)
{
	static const char binary[] = "\0\xff\n\x01 x";

	make_data(2 * page);
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 5, "private"), 7);
	ASSERT_CTL(CTL_MOVE, fmt_text("cow %" PRIu64 " 0 10", page));
	CU_ASSERT_EQUAL(STATUS_NUMBER("cow_private_bytes"), 2 * page);
	ASSERT_CTL(CTL_RESET, "\n");
	ASSERT_EFFECT(VIEW_COW, 0, 0);
	{
		unsigned char *want, *got;
		uint64_t len;

		want = file_bytes(&len);
		got = view_bytes(VIEW_COW);
		CU_ASSERT_EQUAL(len, 2 * page);
		CU_ASSERT_EQUAL(memcmp(got, want, len), 0);
		free(want);
		free(got);
	}
	CU_ASSERT_EQUAL(STATUS_NUMBER("cow_private_bytes"), 0);
	CU_ASSERT_EQUAL(STATUS_NUMBER("resets"), 1);
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 0, "again"), 5);
	ASSERT_CTL_N(CTL_RESET, binary, sizeof(binary) - 1);
	ASSERT_VIEW_HOLDS(VIEW_COW, 0, "\0\1\2\3\4", 5);
	CU_ASSERT_EQUAL(STATUS_NUMBER("resets"), 2);
	ASSERT_FILE_UNTOUCHED(0, 2 * page);
}

static void test_reset_takes_the_current_size(void)
{
	make_data(page);
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 0, "old"), 3);
	ASSERT_CTL(CTL_RESIZE, fmt_text("%" PRIu64, 3 * page));
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 2 * page, "grown"), 5);
	ASSERT_VIEW_SIZE(VIEW_COW, page);
	ASSERT_CTL(CTL_RESET, "anything at all");
	ASSERT_VIEW_SIZE(VIEW_COW, 3 * page);
	CU_ASSERT_EQUAL(STATUS_NUMBER("cow_size"), 3 * page);
	ASSERT_VIEW_HOLDS(VIEW_COW, 2 * page, "grown", 5);
	ASSERT_VIEW_HOLDS(VIEW_COW, 0, "\0\1\2", 3);
	ASSERT_CTL(CTL_RESIZE, "100");
	ASSERT_CTL(CTL_RESET, "");
	ASSERT_VIEW_SIZE(VIEW_COW, 100);
}

static void test_reset_anonymous(void)
{
	open_anonymous(3 * page);
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 0, "shared"), 6);
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 0, "mine"), 4);
	ASSERT_VIEW_HOLDS(VIEW_COW, 0, "mineed", 6);
	ASSERT_CTL(CTL_RESET, "");
	ASSERT_VIEW_HOLDS(VIEW_COW, 0, "shared", 6);
	ASSERT_VIEW_HOLDS(VIEW_RO, 0, "shared", 6);
	CU_ASSERT_EQUAL(STATUS_NUMBER("cow_private_bytes"), 0);
}

/* ---- the errno order ---- */

/* A command: the string TEXT written to FILE. */
struct command {
	enum ctl_file file;
	const char *text;
};

/* Asserts that each of COMMANDS (an array) fails as ASSERT_CTL_FAILS says:
 * with WANT, changing nothing, and REASON in last_error. */
#define ASSERT_EACH_FAILS(commands, want, reason) \
	assert_each_fails(__LINE__, commands, sizeof(commands) / sizeof((commands)[0]), \
			  want, reason)

static void assert_each_fails(unsigned at, const struct command *commands, size_t n,
			      int want, const char *reason)
{
	for (size_t i = 0; i < n; i++)
		assert_ctl_fails(at, commands[i].file, commands[i].text, SIZE_MAX, 0, want,
				 reason);
}

static void test_no_rw_view_is_erofs_before_anything(void)
{
	static const struct command refused[] = {
		{ CTL_FLUSH, "" }, { CTL_FLUSH, "junk" }, { CTL_RESIZE, "0" },
		{ CTL_RESIZE, "-1 x" }, { CTL_MOVE, "0 0 0" }, { CTL_MOVE, "" },
		{ CTL_MOVE, "cowx 1 2" },
	};

	make_data(page);
	fixture.entry.views = VIEW_RO | VIEW_COW;
	open_region();
	ASSERT_EACH_FAILS(refused, EROFS, "the entry has no rw view");
	ASSERT_CTL_FAILS_N(CTL_RESIZE, "0", 1, 1, EROFS, "the entry has no rw view");
	/* cow works without rw */
	ASSERT_CTL(CTL_MOVE, "cow 0 100 10");
	ASSERT_CTL(CTL_RESET, "");
	CU_ASSERT_EQUAL(STATUS_NUMBER("errors"), 8);
}

static void test_no_cow_view_is_erofs_before_anything(void)
{
	static const struct command refused[] = {
		{ CTL_MOVE, "cow 0 0 0" }, { CTL_MOVE, " COW 1 2" }, { CTL_MOVE, "cow\t-1" },
		{ CTL_RESET, "" }, { CTL_RESET, "anything" },
	};

	make_data(page);
	fixture.entry.views = VIEW_RO | VIEW_RW;
	open_region();
	ASSERT_EACH_FAILS(refused, EROFS, "the entry has no cow view");
	ASSERT_CTL(CTL_MOVE, "0 100 10");
	ASSERT_CTL(CTL_FLUSH, "");
	ASSERT_CTL(CTL_RESIZE, "2k");
	ASSERT_FILE_SIZE(2048);
}

static void test_ro_only_entry_refuses_every_command(void)
{
	static const struct command need_rw[] = {
		{ CTL_FLUSH, "" }, { CTL_RESIZE, "abc" }, { CTL_MOVE, "0 0 0" },
	};
	static const struct command need_cow[] = {
		{ CTL_MOVE, "cow 0 0 0" }, { CTL_RESET, "" },
	};

	make_data(page);
	fixture.entry.views = VIEW_RO;
	fixture.entry.resizable = false;
	open_region();
	ASSERT_EACH_FAILS(need_rw, EROFS, "the entry has no rw view");
	ASSERT_EACH_FAILS(need_cow, EROFS, "the entry has no cow view");
	ASSERT_STATUS("views", "ro");
	ASSERT_STATUS("cow_size", "0");
}

static void test_not_resizable_is_eperm_before_parsing(void)
{
	const struct command refused[] = {
		{ CTL_RESIZE, fmt_text("%" PRIu64, 2 * page) }, { CTL_RESIZE, "abc" },
		{ CTL_RESIZE, "" },
	};

	make_data(page);
	fixture.entry.resizable = false;
	open_region();
	ASSERT_EACH_FAILS(refused, EPERM, "the entry is not resizable (resizable = no)");
	ASSERT_CTL_FAILS_N(CTL_RESIZE, "1\0", 2, 0, EPERM,
			   "the entry is not resizable (resizable = no)");
	ASSERT_CTL_FAILS_N(CTL_RESIZE, "0", 1, 7, EPERM,
			   "the entry is not resizable (resizable = no)");
	/* the others work */
	ASSERT_CTL(CTL_FLUSH, "");
	ASSERT_CTL(CTL_MOVE, "0 1 2");
	ASSERT_CTL(CTL_RESET, "");
	ASSERT_STATUS("resizable", "no");
}

static void test_not_resizable_without_rw_is_erofs(void)
{
	make_data(page);
	fixture.entry.resizable = false;
	fixture.entry.views = VIEW_RO | VIEW_COW;
	open_region();
	ASSERT_CTL_FAILS(CTL_RESIZE, "abc", EROFS, "the entry has no rw view");
	ASSERT_CTL_FAILS(CTL_RESIZE, "1", EROFS, "the entry has no rw view");
}

static void test_malformed_is_einval_and_changes_nothing(void)
{
	char *big = malloc(CTL_MAX_COMMAND + 1);

	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	make_data(2 * page);
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 0, "cow"), 3);
	ASSERT_CTL_FAILS(CTL_RESIZE, "1 2", EINVAL, USAGE_RESIZE ", got 2 fields");
	ASSERT_CTL_FAILS(CTL_RESIZE, "-1", EINVAL, "'-1" NOT_A_NUMBER);
	ASSERT_CTL_FAILS(CTL_RESIZE, "+1", EINVAL, "'+1" NOT_A_NUMBER);
	ASSERT_CTL_FAILS(CTL_RESIZE, "1.5", EINVAL, "'1.5" NOT_A_NUMBER);
	ASSERT_CTL_FAILS(CTL_RESIZE, "12Q", EINVAL, "'12Q" NOT_A_NUMBER);
	ASSERT_CTL_FAILS(CTL_RESIZE, "18446744073709551616", EINVAL,
			 "'18446744073709551616' is past 2^64 - 1");
	ASSERT_CTL_FAILS(CTL_RESIZE, "\n", EINVAL, USAGE_RESIZE ", got 0 fields");
	ASSERT_CTL_FAILS(CTL_MOVE, "", EINVAL, USAGE_MOVE ", got 0 fields");
	ASSERT_CTL_FAILS(CTL_MOVE, "0 1 2 3", EINVAL, USAGE_MOVE ", got 4 fields");
	ASSERT_CTL_FAILS(CTL_MOVE, "cow 0 1", EINVAL, "'cow" NOT_A_NUMBER);
	ASSERT_CTL_FAILS(CTL_FLUSH, "1", EINVAL, USAGE_FLUSH ", got 1 field");
	ASSERT_CTL_FAILS(CTL_FLUSH, "0 1 2", EINVAL, USAGE_FLUSH ", got 3 fields");
	ASSERT_CTL_FAILS_N(CTL_RESIZE, "0\0", 2, 0, EINVAL, "command holds a NUL byte");
	ASSERT_CTL_FAILS(CTL_RESIZE, "0\xe9", EINVAL,
			 "field 1 holds byte 0xe9, which is not printable ASCII");
	ASSERT_CTL_FAILS(CTL_MOVE, "0 1\n2", EINVAL,
			 "field 2 holds byte 0x0a, which is not printable ASCII");
	padded(big, CTL_MAX_COMMAND + 1, "0");
	ASSERT_CTL_FAILS_N(CTL_RESIZE, big, CTL_MAX_COMMAND + 1, 0, EINVAL,
			   "command is 4097 bytes, at most 4096");
	ASSERT_CTL_FAILS_N(CTL_RESET, big, CTL_MAX_COMMAND + 1, 0, EINVAL,
			   "command is 4097 bytes, at most 4096");
	CU_ASSERT_EQUAL(STATUS_NUMBER("errors"), 17);
	ASSERT_VIEW_HOLDS(VIEW_COW, 0, "cow", 3);
	/* 4096 bytes exactly are fine. */
	padded(big, CTL_MAX_COMMAND, "0");
	ASSERT_CTL_N(CTL_RESIZE, big, CTL_MAX_COMMAND);
	ASSERT_VIEW_SIZE(VIEW_RW, 0);
	ASSERT_CTL_N(CTL_RESET, big, CTL_MAX_COMMAND);
	free(big);
}

static void test_write_at_another_offset_is_einval(void)
{
	make_data(page);
	open_region();
	ASSERT_CTL_FAILS_N(CTL_RESIZE, "0", 1, 1, EINVAL,
			   "written at offset 1; a command is one write at offset 0");
	ASSERT_CTL_FAILS_N(CTL_FLUSH, "", 0, 1, EINVAL,
			   "written at offset 1; a command is one write at offset 0");
	ASSERT_CTL_FAILS_N(CTL_MOVE, "0 1 2", 5, 4096, EINVAL,
			   "written at offset 4096; a command is one write at offset 0");
	ASSERT_CTL_FAILS_N(CTL_RESET, "x", 1, 2, EINVAL,
			   "written at offset 2; a command is one write at offset 0");
	ASSERT_VIEW_SIZE(VIEW_RW, page);
}

static void test_status_write_is_einval(void)
{
	make_data(page);
	open_region();
	ASSERT_CTL_FAILS(CTL_STATUS, "", EINVAL, "status is read-only");
	ASSERT_CTL_FAILS(CTL_STATUS, "reset", EINVAL, "status is read-only");
}

/* SPEC: last_error is the latest failed command; a success keeps it. */
static void test_last_error_is_the_latest_failure(void)
{
	make_data(page);
	open_region();
	ASSERT_STATUS("last_error", "none");
	ASSERT_CTL_FAILS(CTL_RESIZE, "abc", EINVAL, "'abc" NOT_A_NUMBER);
	ASSERT_CTL(CTL_RESIZE, "100");
	ASSERT_STATUS("last_error", "resize: 'abc" NOT_A_NUMBER);
	ASSERT_CTL_FAILS(CTL_FLUSH, "1", EINVAL, USAGE_FLUSH ", got 1 field");
	ASSERT_STATUS("last_error", "flush: " USAGE_FLUSH ", got 1 field");
	CU_ASSERT_EQUAL(STATUS_NUMBER("errors"), 2);
}

/* ---- status ---- */

static const char *const status_keys[] = {
	"name", "path", "views", "offset", "size", "cow_size", "file_size",
	"resizable", "resident_bytes", "cow_private_bytes", "reads", "writes",
	"flushes", "resizes", "moves", "resets", "errors", "last_error",
};
#define N_STATUS_KEYS (sizeof(status_keys) / sizeof(status_keys[0]))

/* Asserts that status is "key: value" lines, each ending in a newline,
 * holding each key of the SPEC exactly once. */
#define ASSERT_STATUS_LINES() assert_status_lines(__LINE__)

static void assert_status_lines(unsigned at)
{
	char text[CTL_READ_MAX];
	size_t n = ctl_read(fixture.region, CTL_STATUS, text, sizeof(text));
	unsigned seen[N_STATUS_KEYS] = { 0 }, lines = 0;
	char *line = text;

	check_at(n > 0 && n < sizeof(text) && text[n - 1] == '\n' && strlen(text) == n,
		 false, __FILE__, at, "status: %zu bytes, not ending in a newline", n);
	while (n > 0 && n < sizeof(text) && *line) {
		char *end = strchr(line, '\n'), *colon;

		if (!end)
			break;
		*end = '\0';
		lines++;
		colon = strstr(line, ": ");
		check_at(colon && colon > line && strcspn(line, " :") == (size_t)(colon - line),
			 false, __FILE__, at, "status line '%s' is not 'key: value'",
			 shown(line, strlen(line)));
		for (size_t k = 0; colon && k < N_STATUS_KEYS; k++)
			if (strlen(status_keys[k]) == (size_t)(colon - line) &&
			    strncmp(line, status_keys[k], (size_t)(colon - line)) == 0)
				seen[k]++;
		line = end + 1;
	}
	for (size_t k = 0; k < N_STATUS_KEYS; k++)
		check_at(seen[k] == 1, false, __FILE__, at, "status key %s shown %u times",
			 status_keys[k], seen[k]);
	check_at(lines >= N_STATUS_KEYS, false, __FILE__, at, "status: %u lines", lines);
}

static void test_status_of_a_file_entry(void)
{
	make_data(3 * page);
	open_region();
	ASSERT_STATUS_LINES();
	ASSERT_STATUS("name", "e");
	ASSERT_STATUS("path", fixture.path);
	CU_ASSERT_EQUAL(fixture.path[0], '/');
	ASSERT_STATUS("views", "ro rw cow");
	ASSERT_STATUS("offset", "0");
	ASSERT_STATUS("size", fmt_text("%" PRIu64, 3 * page));
	ASSERT_STATUS("cow_size", fmt_text("%" PRIu64, 3 * page));
	ASSERT_STATUS("file_size", fmt_text("%" PRIu64, 3 * page));
	ASSERT_STATUS("resizable", "yes");
	/* Just written: every page of the file is in the page cache. */
	ASSERT_STATUS("resident_bytes", fmt_text("%" PRIu64, 3 * page));
	ASSERT_STATUS("cow_private_bytes", "0");
	ASSERT_STATUS("reads", "0");
	ASSERT_STATUS("writes", "0");
	ASSERT_STATUS("flushes", "0");
	ASSERT_STATUS("resizes", "0");
	ASSERT_STATUS("moves", "0");
	ASSERT_STATUS("resets", "0");
	ASSERT_STATUS("errors", "0");
	ASSERT_STATUS("last_error", "none");
}

static void test_status_of_a_window(void)
{
	make_data(5 * page);
	fixture.entry.offset = page;
	fixture.entry.length = 2 * page;
	fixture.entry.views = VIEW_RO | VIEW_COW;
	fixture.entry.resizable = false;
	open_region();
	ASSERT_STATUS_LINES();
	ASSERT_STATUS("views", "ro cow");
	ASSERT_STATUS("offset", fmt_text("%" PRIu64, page));
	ASSERT_STATUS("size", fmt_text("%" PRIu64, 2 * page));
	ASSERT_STATUS("cow_size", fmt_text("%" PRIu64, 2 * page));
	ASSERT_STATUS("file_size", fmt_text("%" PRIu64, 5 * page));
	ASSERT_STATUS("resizable", "no");
}

static void test_status_without_cow_view(void)
{
	make_data(page);
	fixture.entry.views = VIEW_RO | VIEW_RW;
	open_region();
	ASSERT_STATUS_LINES();
	ASSERT_STATUS("views", "ro rw");
	ASSERT_STATUS("cow_size", "0");
	ASSERT_STATUS("cow_private_bytes", "0");
}

static void test_status_of_an_anonymous_entry(void)
{
	open_anonymous(10000);
	ASSERT_STATUS_LINES();
	ASSERT_STATUS("name", "e");
	ASSERT_STATUS("path", "anonymous");
	ASSERT_STATUS("views", "ro rw cow");
	ASSERT_STATUS("offset", "0");
	ASSERT_STATUS("size", "10000");
	ASSERT_STATUS("cow_size", "10000");
	ASSERT_STATUS("file_size", "10000");
	ASSERT_STATUS("resident_bytes", "0");
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 5000, "x"), 1);
	ASSERT_STATUS("resident_bytes", fmt_text("%" PRIu64, page));
}

static void test_status_counters(void)
{
	char buf[16];

	make_data(2 * page);
	open_region();
	CU_ASSERT_EQUAL(read_view(VIEW_RO, 0, buf, sizeof(buf)), sizeof(buf));
	CU_ASSERT_EQUAL(read_view(VIEW_COW, 0, buf, sizeof(buf)), sizeof(buf));
	CU_ASSERT_EQUAL(read_view(VIEW_RW, 2 * page, buf, sizeof(buf)), 0);
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 0, "w"), 1);
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 0, "w"), 1);
	ASSERT_CTL(CTL_FLUSH, "");
	ASSERT_CTL(CTL_FLUSH, "0 1");
	ASSERT_CTL(CTL_RESIZE, fmt_text("%" PRIu64, 3 * page));
	ASSERT_CTL(CTL_MOVE, "0 1 1");
	ASSERT_CTL(CTL_MOVE, "cow 0 1 1");
	ASSERT_CTL(CTL_MOVE, "cow 1 2 3");
	ASSERT_CTL(CTL_RESET, "");
	CU_ASSERT_EQUAL(ctl_n(CTL_RESIZE, "x", 1, 0), EINVAL);
	CU_ASSERT_EQUAL(ctl_n(CTL_MOVE, "0 0 1G", 6, 0), EINVAL);
	CU_ASSERT_EQUAL(ctl_n(CTL_FLUSH, "", 0, 1), EINVAL);
	ASSERT_STATUS_LINES();
	ASSERT_STATUS("reads", "3");
	ASSERT_STATUS("writes", "2");
	ASSERT_STATUS("flushes", "2");
	ASSERT_STATUS("resizes", "1");
	ASSERT_STATUS("moves", "3");
	ASSERT_STATUS("resets", "1");
	ASSERT_STATUS("errors", "3");
	ASSERT_STATUS("last_error",
		      "flush: written at offset 1; a command is one write at offset 0");
	ASSERT_STATUS("size", fmt_text("%" PRIu64, 3 * page));
	ASSERT_STATUS("cow_size", fmt_text("%" PRIu64, 3 * page));
	ASSERT_STATUS("file_size", fmt_text("%" PRIu64, 3 * page));
}

/*
 * Evicts the data file's pages from the page cache. Nothing reads a new hole
 * into memory when it is mapped, unless a tool does: valgrind reads the
 * start of every file mapped (looking for debug information), which brings
 * in pages as any read(2) would. None of them is mapped in yet, so the
 * kernel can drop them all.
 */
static void drop_cached_pages(void)
{
	int fd = open(fixture.path, O_RDONLY | O_CLOEXEC);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	close(fd);
}

static void test_status_resident_bytes(void)
{
	static const char zeros[16];
	char buf[16];
	uint64_t resident;

	make_sparse(8 * page);
	open_region();
	drop_cached_pages();
	ASSERT_STATUS("resident_bytes", "0");	/* a hole: nothing in memory */
	/* The bytes read are checked, so the reads cannot be optimized out. */
	CU_ASSERT_EQUAL(read_view(VIEW_RO, 0, buf, sizeof(buf)), sizeof(buf));
	CU_ASSERT_EQUAL(memcmp(buf, zeros, sizeof(buf)), 0);
	CU_ASSERT_EQUAL(read_view(VIEW_RO, 5 * page, buf, sizeof(buf)), sizeof(buf));
	CU_ASSERT_EQUAL(memcmp(buf, zeros, sizeof(buf)), 0);
	resident = STATUS_NUMBER("resident_bytes");
	CHECK(resident >= 2 * page && resident <= 8 * page && resident % page == 0,
	      "resident_bytes %" PRIu64 " after reading 2 of 8 pages", resident);
	ASSERT_CTL(CTL_RESIZE, "100");
	resident = STATUS_NUMBER("resident_bytes");
	CHECK(resident == page, "resident_bytes %" PRIu64 " of a 100-byte region",
	      resident);
	ASSERT_CTL(CTL_RESIZE, "0");
	ASSERT_STATUS("resident_bytes", "0");
}

static void test_status_cow_private_bytes(void)
{
	make_data(4 * page);
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 0, "a"), 1);
	CU_ASSERT_EQUAL(STATUS_NUMBER("cow_private_bytes"), page);
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 10, "again"), 5);	/* same page */
	CU_ASSERT_EQUAL(STATUS_NUMBER("cow_private_bytes"), page);
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 2 * page - 1, "ab"), 2);	/* 1 and 2 */
	CU_ASSERT_EQUAL(STATUS_NUMBER("cow_private_bytes"), 3 * page);
	ASSERT_CTL(CTL_MOVE, fmt_text("cow %" PRIu64 " 0 1", 3 * page + 7));
	CU_ASSERT_EQUAL(STATUS_NUMBER("cow_private_bytes"), 4 * page);
	ASSERT_CTL(CTL_RESET, "");
	/* docs: a move onto itself writes nothing, so it copies no page */
	ASSERT_CTL(CTL_MOVE, fmt_text("cow 5 5 %" PRIu64, 2 * page));
	CU_ASSERT_EQUAL(STATUS_NUMBER("cow_private_bytes"), 0);
	ASSERT_CTL(CTL_MOVE, fmt_text("cow %" PRIu64 " 0 1", 3 * page + 7));
	CU_ASSERT_EQUAL(STATUS_NUMBER("cow_private_bytes"), page);
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 0, "a"), 1);
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 2 * page - 1, "ab"), 2);
	CU_ASSERT_EQUAL(STATUS_NUMBER("cow_private_bytes"), 4 * page);
	/* rw writes and moves are not cow's */
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 0, "rw"), 2);
	ASSERT_CTL(CTL_MOVE, "0 1 1");
	CU_ASSERT_EQUAL(STATUS_NUMBER("cow_private_bytes"), 4 * page);
	ASSERT_CTL(CTL_RESET, "");
	CU_ASSERT_EQUAL(STATUS_NUMBER("cow_private_bytes"), 0);
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 3 * page, "x"), 1);
	CU_ASSERT_EQUAL(write_view(VIEW_COW, page, "x"), 1);
	CU_ASSERT_EQUAL(STATUS_NUMBER("cow_private_bytes"), 2 * page);
	/* A resize that cuts the file keeps the cow view's pages. */
	ASSERT_CTL(CTL_RESIZE, fmt_text("%" PRIu64, 2 * page + 1));
	ASSERT_VIEW_SIZE(VIEW_COW, 4 * page);
	CU_ASSERT_EQUAL(STATUS_NUMBER("cow_private_bytes"), 2 * page);
	ASSERT_CTL(CTL_RESIZE, "10");
	CU_ASSERT_EQUAL(STATUS_NUMBER("cow_private_bytes"), 2 * page);
	ASSERT_VIEW_HOLDS(VIEW_COW, 3 * page, "x", 1);
	ASSERT_CTL(CTL_RESIZE, fmt_text("%" PRIu64, 4 * page));
	CU_ASSERT_EQUAL(STATUS_NUMBER("cow_private_bytes"), 2 * page);
}

/*
 * SPEC: status is one "key: value" a line. A rejected command's reason
 * goes into last_error, so bytes of the command that are not printable
 * (an inner newline above all) must not end up raw in it.
 */
static void test_status_stays_one_key_a_line_after_control_bytes(void)
{
	make_data(page);
	open_region();
	CU_ASSERT_EQUAL(ctl_n(CTL_RESIZE, "1\n2", 3, 0), EINVAL);
	ASSERT_STATUS_LINES();
	CU_ASSERT_EQUAL(ctl_n(CTL_MOVE, "0\r0 0", 5, 0), EINVAL);
	ASSERT_STATUS_LINES();
	CU_ASSERT_EQUAL(ctl_n(CTL_FLUSH, "1\n\n\nerrors: 0\nx 2", 16, 0), EINVAL);
	ASSERT_STATUS_LINES();
	ASSERT_STATUS("errors", "3");
}

void add_ctl_suite(void)
{
	CU_pSuite s = CU_add_suite_with_setup_and_teardown("ctl", init_suite, NULL,
							   region_fixture_setup,
							   region_fixture_teardown);

	CU_ADD_TEST(s, test_flush_whole);
	CU_ADD_TEST(s, test_flush_range_inside);
	CU_ADD_TEST(s, test_flush_offset_is_rounded_down);
	CU_ADD_TEST(s, test_flush_range_outside_is_einval);
	CU_ADD_TEST(s, test_flush_anonymous);
	CU_ADD_TEST(s, test_flush_async);
	CU_ADD_TEST(s, test_flush_async_anonymous_and_without_rw);
	CU_ADD_TEST(s, test_advise_populate_faults_the_range_in);
	CU_ADD_TEST(s, test_advise_every_word_keeps_every_byte);
	CU_ADD_TEST(s, test_advise_bounds_are_einval);
	CU_ADD_TEST(s, test_advise_any_entry);
	CU_ADD_TEST(s, test_resize_grows_region_and_file);
	CU_ADD_TEST(s, test_resize_shrinks_region_and_file_not_cow);
	CU_ADD_TEST(s, test_resize_takes_every_number_form);
	CU_ADD_TEST(s, test_resize_window_reaching_the_end_moves_the_end);
	CU_ADD_TEST(s, test_resize_fixed_window_at_the_end_moves_the_end);
	CU_ADD_TEST(s, test_resize_window_before_the_end);
	CU_ADD_TEST(s, test_resize_anonymous);
	CU_ADD_TEST(s, test_resize_past_the_largest_file_is_einval);
	CU_ADD_TEST(s, test_resize_read_shows_the_size_and_a_newline);
	CU_ADD_TEST(s, test_write_only_files_read_empty);
	CU_ADD_TEST(s, test_move_both_directions_match_memmove);
	CU_ADD_TEST(s, test_move_reports_its_destination);
	CU_ADD_TEST(s, test_rw_move_shows_through_unwritten_cow_pages);
	CU_ADD_TEST(s, test_move_in_a_window_lands_at_its_offset);
	CU_ADD_TEST(s, test_move_cow_changes_only_the_cow_view);
	CU_ADD_TEST(s, test_move_cow_onto_itself_writes_nothing);
	CU_ADD_TEST(s, test_move_cow_is_bounded_by_the_cow_size);
	CU_ADD_TEST(s, test_move_count_0_at_the_end_is_a_no_op);
	CU_ADD_TEST(s, test_move_count_0_past_the_end_is_einval);
	CU_ADD_TEST(s, test_move_past_the_end_is_einval);
	CU_ADD_TEST(s, test_move_overflowing_sum_is_einval);
	CU_ADD_TEST(s, test_reset_drops_cow_writes);
	CU_ADD_TEST(s, test_reset_takes_the_current_size);
	CU_ADD_TEST(s, test_reset_anonymous);
	CU_ADD_TEST(s, test_no_rw_view_is_erofs_before_anything);
	CU_ADD_TEST(s, test_no_cow_view_is_erofs_before_anything);
	CU_ADD_TEST(s, test_ro_only_entry_refuses_every_command);
	CU_ADD_TEST(s, test_not_resizable_is_eperm_before_parsing);
	CU_ADD_TEST(s, test_not_resizable_without_rw_is_erofs);
	CU_ADD_TEST(s, test_malformed_is_einval_and_changes_nothing);
	CU_ADD_TEST(s, test_write_at_another_offset_is_einval);
	CU_ADD_TEST(s, test_status_write_is_einval);
	CU_ADD_TEST(s, test_last_error_is_the_latest_failure);
	CU_ADD_TEST(s, test_status_of_a_file_entry);
	CU_ADD_TEST(s, test_status_of_a_window);
	CU_ADD_TEST(s, test_status_without_cow_view);
	CU_ADD_TEST(s, test_status_of_an_anonymous_entry);
	CU_ADD_TEST(s, test_status_counters);
	CU_ADD_TEST(s, test_status_resident_bytes);
	CU_ADD_TEST(s, test_status_cow_private_bytes);
	CU_ADD_TEST(s, test_status_stays_one_key_a_line_after_control_bytes);
}
