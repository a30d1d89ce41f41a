/*
 * tests.h - the unit test suites of mmapfs and the helpers they share.
 */
#ifndef MMAPFS_TESTS_H
#define MMAPFS_TESTS_H

#include <stdbool.h>
#include <stddef.h>

/* One per test_<module>.c: registers the module's suite with CUnit. */
void add_size_suite(void);
void add_config_suite(void);
void add_region_suite(void);
void add_ctl_suite(void);
void add_fault_suite(void);
void add_table_suite(void);
void add_flusher_suite(void);

/*
 * A CUnit assertion whose failure report is a printf-style message, so that
 * it can show the values it compared. FILE and LINE are the caller's; a
 * FATAL failure ends the test (the suite's teardown still runs).
 */
void check_at(bool ok, bool fatal, const char *file, unsigned line,
	      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
#define CHECK(ok, ...) check_at((ok), false, __FILE__, __LINE__, __VA_ARGS__)
#define CHECK_FATAL(ok, ...) check_at((ok), true, __FILE__, __LINE__, __VA_ARGS__)

/* A new empty folder under /tmp (malloc'd); aborts if none can be made. */
char *tmpdir_make(void);
/* Removes DIR with everything in it, and frees DIR. */
void tmpdir_remove(char *dir);

/* "DIR/NAME", malloc'd. */
char *path_join(const char *dir, const char *name);

/* Makes PATH hold exactly LEN bytes of DATA; aborts on failure. */
void file_write(const char *path, const void *data, size_t len);

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

#endif
