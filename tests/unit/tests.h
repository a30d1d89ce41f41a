/*
 * tests.h - the unit test suites of mmapfs and the helpers they share.
 */
#ifndef MMAPFS_TESTS_H
#define MMAPFS_TESTS_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "region.h"

/* One per test_<module>.c: registers the module's suite with CUnit. Test
 * functions are static: one that is not registered is unused, which
 * -Wall -Werror refuses to build. */
void add_size_suite(void);
void add_node_suite(void);
void add_coherence_suite(void);
void add_config_suite(void);
void add_region_suite(void);
void add_ctl_suite(void);
void add_ctl_parse_suite(void);
void add_fault_suite(void);
void add_table_suite(void);
void add_flusher_suite(void);
void add_instance_suite(void);

/*
 * A CUnit assertion whose failure report is a printf-style message, so that
 * it can show the values it compared. FILE and LINE are the caller's; a
 * FATAL failure ends the test (the suite's teardown still runs).
 */
void check_at(bool ok, bool fatal, const char *file, unsigned line,
	      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
#define CHECK(ok, ...) check_at((ok), false, __FILE__, __LINE__, __VA_ARGS__)
#define CHECK_FATAL(ok, ...) check_at((ok), true, __FILE__, __LINE__, __VA_ARGS__)

/* A new empty folder under /tmp, by its real path (malloc'd); aborts on failure. */
char *tmpdir_make(void);
/* Removes DIR with everything in it, and frees DIR. */
void tmpdir_remove(char *dir);

/* "DIR/NAME", malloc'd. */
char *path_join(const char *dir, const char *name);

/* Makes PATH hold exactly LEN bytes of DATA; aborts on failure. */
void file_write(const char *path, const void *data, size_t len);

/* Makes PATH hold the text FMT and AP format. */
void file_vprintf(const char *path, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* PATH's size in bytes, or -1 if it cannot be stat'ed. */
long long file_size(const char *path);

/*
 * The running test binary (malloc'd): a regular file that no one, root
 * included, may open for writing while it runs (ETXTBSY). Where the kernel
 * does not run it itself (under valgrind, which loads it), a child runs it
 * with HOLD_ARG until the tests end. NULL on a kernel that lets it be
 * opened for writing after all.
 */
char *busy_executable(void);

/* The test binary's argument that makes it a holder for busy_executable():
 * main() then returns hold_until_eof(), which waits for its stdin to end. */
#define HOLD_ARG "--hold-busy"
int hold_until_eof(void);

/* The first of ERRS's lines, or "none": for failure messages. */
const char *first_error(const struct errors *errs);

/*
 * The fixture of the suites on one region over a real file (test_region.c,
 * test_ctl.c, test_fault.c): each test gets a fresh folder with DIR/data as
 * the backing file, which make_data() fills with pattern() bytes, and an
 * entry "e" for it that the test adjusts before open_region().
 */
struct region_fixture {
	char *dir;			/* this test's folder */
	char *path;			/* DIR/data */
	struct entry entry;	/* every view, resizable, MADV_NORMAL */
	struct region *region;		/* open region; teardown closes it */
};
extern struct region_fixture fixture;

/* A CUnit setup: a fresh fixture. */
void region_fixture_setup(void);
/* A CUnit teardown: closes the fixture's region and removes its folder. */
void region_fixture_teardown(void);

/* The byte at OFF of the data file; 251 is prime, so pages differ. */
unsigned char pattern(uint64_t off);
/* Makes the data file SIZE bytes of pattern(). */
void make_data(uint64_t size);
/* Opens the fixture's entry as its region; a failure ends the test. */
void open_region(void);

/* Copies up to LEN bytes of VIEW at OFF into BUF; returns how many. */
size_t read_view(unsigned view, uint64_t off, void *buf, size_t len);
/* Writes the string TEXT into VIEW at OFF: what region_write returns. */
ssize_t write_view(unsigned view, uint64_t off, const char *text);
/* pread(2) of the entry's backing file; -1 if it cannot be opened. */
ssize_t read_file(uint64_t off, void *buf, size_t len);

/* Asserts that VIEW's size is WANT. */
#define ASSERT_VIEW_SIZE(view, want) \
	check_at(region_view_size(fixture.region, view) == (uint64_t)(want), false, \
		 __FILE__, __LINE__, "view %u is %" PRIu64 " bytes, want %" PRIu64, \
		 view, region_view_size(fixture.region, view), (uint64_t)(want))

/* Asserts that the entry's backing file is WANT bytes long. */
#define ASSERT_FILE_SIZE(want) \
	check_at(file_size(fixture.entry.path) == (long long)(want), false, __FILE__, \
		 __LINE__, "the file is %lld bytes, want %lld", \
		 file_size(fixture.entry.path), (long long)(want))

/* Asserts that VIEW holds LEN bytes of WANT at OFF. */
#define ASSERT_VIEW_HOLDS(view, off, want, len) \
	assert_view_holds(__FILE__, __LINE__, view, off, want, len)
void assert_view_holds(const char *file, unsigned line, unsigned view,
		       uint64_t off, const void *want, size_t len);

/* Asserts that the entry's backing file holds LEN bytes of WANT at OFF. */
#define ASSERT_FILE_HOLDS(off, want, len) \
	assert_file_holds(__FILE__, __LINE__, off, want, len)
void assert_file_holds(const char *file, unsigned line, uint64_t off,
		       const void *want, size_t len);

/* Asserts that the backing file still holds pattern() in [OFF, OFF + LEN). */
#define ASSERT_FILE_UNTOUCHED(off, len) \
	assert_file_untouched(__FILE__, __LINE__, off, len)
void assert_file_untouched(const char *file, unsigned line, uint64_t off,
			   size_t len);

/* LEN bytes of S with the unprintable ones as \xNN, for messages (one of
 * 4 static buffers, so that one message can show a few). */
const char *shown(const char *s, size_t len);

/* Fills BUF with LEN bytes: TEXT, then spaces. */
void padded(char *buf, size_t len, const char *text);

/* LEN, or the length of the string TEXT if LEN is SIZE_MAX. */
size_t text_len(const char *text, size_t len);

/* The reasons ctl.c gives for malformed commands, as tests expect them. */
#define USAGE_FLUSH "expected nothing or OFFSET SIZE"
#define USAGE_RESIZE "expected SIZE"
#define USAGE_MOVE "expected DEST SRC COUNT or cow DEST SRC COUNT"
#define USAGE_FLUSH_ASYNC "expected async or async OFFSET SIZE"
#define USAGE_ADVISE "expected ADVICE or ADVICE OFFSET LENGTH"
#define NOT_A_NUMBER "' is not a number (decimal or 0x hex, optional K/M/G/T suffix)"

#endif
