/*
 * test_region.c - region.h on real files: what each view shows and what its
 * writes do, checked against the backing file with pread(2).
 *
 * Each test gets a fresh folder with DIR/data as the backing file, holding
 * pattern() bytes, and an entry "e" for it that the test adjusts before
 * opening the region.
 */
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cow.h"
#include "fault.h"
#include "region.h"
#include "tests.h"

static uint64_t page;
static char *exe;		/* busy_executable(), for the tests that use it */

static int init_suite(void)
{
	long size = sysconf(_SC_PAGESIZE);

	page = (uint64_t)size;
	return size > 0 ? 0 : -1;
}

static void teardown(void)
{
	cow_set_limit(0);	/* a test that set it may have failed midway */
	free(exe);
	exe = NULL;
	region_fixture_teardown();
}

static void close_region(void)
{
	int err = region_close(fixture.region);

	fixture.region = NULL;
	CU_ASSERT_EQUAL(err, 0);
}

/* Asserts that VIEW at OFF holds the file's LEN bytes at FILE_OFF. */
#define ASSERT_VIEW_IS_FILE(view, off, len, file_off) \
	assert_view_is_file(__LINE__, view, off, len, file_off)
/* Asserts that the file holds LEN zeros at OFF. */
#define ASSERT_FILE_ZEROS(off, len) assert_file_zeros(__LINE__, off, len)
/* Asserts that VIEW holds LEN zeros at OFF. */
#define ASSERT_VIEW_ZEROS(view, off, len) assert_view_zeros(__LINE__, view, off, len)

static void assert_view_is_file(unsigned at, unsigned view, uint64_t off,
				size_t len, uint64_t file_off)
{
	unsigned char *want = malloc(len);
	ssize_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(want);
	n = read_file(file_off, want, len);
	check_at(n == (ssize_t)len, false, __FILE__, at,
		 "file at %" PRIu64 ": %zd of %zu bytes read", file_off, n, len);
	assert_view_holds(__FILE__, at, view, off, want, len);
	free(want);
}

static void assert_file_zeros(unsigned at, uint64_t off, size_t len)
{
	unsigned char *want = calloc(1, len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(want);
	assert_file_holds(__FILE__, at, off, want, len);
	free(want);
}

static void assert_view_zeros(unsigned at, unsigned view, uint64_t off,
			      size_t len)
{
	unsigned char *want = calloc(1, len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(want);
	assert_view_holds(__FILE__, at, view, off, want, len);
	free(want);
}

/* Writes TEXT into the data file at OFF, as another process would. */
static void write_file(uint64_t off, const char *text)
{
	int fd = open(fixture.path, O_WRONLY | O_CLOEXEC);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(pwrite(fd, text, strlen(text), (off_t)off),
			(ssize_t)strlen(text));
	close(fd);
}

/* Asserts that region_resize(SIZE) succeeds. */
#define ASSERT_RESIZE(size) assert_resize(__LINE__, size)
/* Asserts that region_sync(OFF, LEN) succeeds. */
#define ASSERT_SYNC(off, len) assert_sync(__LINE__, off, len)

static void assert_resize(unsigned at, uint64_t size)
{
	char why[256] = "";
	int err = region_resize(fixture.region, size, why, sizeof(why));

	check_at(err == 0, false, __FILE__, at,
		 "region_resize(%" PRIu64 ") = %d: %s", size, err, why);
}

static void assert_sync(unsigned at, uint64_t off, uint64_t len)
{
	char why[256] = "";
	int err = region_sync(fixture.region, off, len, why, sizeof(why));

	check_at(err == 0, false, __FILE__, at,
		 "region_sync(%" PRIu64 ", %" PRIu64 ") = %d: %s", off, len, err, why);
}

/* ---- opening ---- */

static void test_open_file_entry(void)
{
	struct stat st;

	make_data(3 * page);
	open_region();
	ASSERT_VIEW_SIZE(VIEW_RO, 3 * page);
	ASSERT_VIEW_SIZE(VIEW_RW, 3 * page);
	ASSERT_VIEW_SIZE(VIEW_COW, 3 * page);
	ASSERT_VIEW_IS_FILE(VIEW_RO, 0, 3 * page, 0);
	ASSERT_VIEW_IS_FILE(VIEW_RW, 0, 3 * page, 0);
	ASSERT_VIEW_IS_FILE(VIEW_COW, 0, 3 * page, 0);
	CU_ASSERT_EQUAL(region_fstat(fixture.region, &st), 0);
	CU_ASSERT_TRUE(S_ISREG(st.st_mode));
	CU_ASSERT_EQUAL(st.st_size, (off_t)(3 * page));
	close_region();
}

static void test_region_keeps_its_own_copy_of_the_entry(void)
{
	const struct entry *copy;

	make_data(page);
	open_region();
	copy = region_entry(fixture.region);
	CU_ASSERT_PTR_NOT_EQUAL(copy, &fixture.entry);
	CU_ASSERT_PTR_NOT_EQUAL(copy->name, fixture.entry.name);
	CU_ASSERT_PTR_NOT_EQUAL(copy->path, fixture.entry.path);
	CU_ASSERT_STRING_EQUAL(copy->name, "e");
	CU_ASSERT_STRING_EQUAL(copy->path, fixture.path);
	CU_ASSERT_EQUAL(copy->views, VIEW_ALL);
	close_region();
}

static void test_reads_are_clamped_to_the_view(void)
{
	char buf[100];

	make_data(page);
	open_region();
	CU_ASSERT_EQUAL(read_view(VIEW_RO, page - 10, buf, sizeof(buf)), 10);
	CU_ASSERT_EQUAL(read_view(VIEW_RO, page, buf, sizeof(buf)), 0);
	CU_ASSERT_EQUAL(read_view(VIEW_COW, page + 1, buf, sizeof(buf)), 0);
	close_region();
}

static void test_open_window(void)
{
	char buf[100];

	make_data(4 * page);
	fixture.entry.offset = page;
	fixture.entry.length = page;
	open_region();
	ASSERT_VIEW_SIZE(VIEW_RO, page);
	ASSERT_VIEW_SIZE(VIEW_COW, page);
	ASSERT_VIEW_IS_FILE(VIEW_RO, 0, page, page);
	ASSERT_VIEW_IS_FILE(VIEW_RW, 0, page, page);
	ASSERT_VIEW_IS_FILE(VIEW_COW, 0, page, page);
	CU_ASSERT_EQUAL(read_view(VIEW_RO, page - 10, buf, sizeof(buf)), 10);
	CU_ASSERT_EQUAL(read_view(VIEW_RO, page, buf, sizeof(buf)), 0);
	close_region();
}

static void test_open_anonymous(void)
{
	struct stat st;

	fixture.entry.path = NULL;
	fixture.entry.anonymous = true;
	fixture.entry.length = 10000;
	open_region();
	ASSERT_VIEW_SIZE(VIEW_RO, 10000);
	ASSERT_VIEW_SIZE(VIEW_COW, 10000);
	ASSERT_VIEW_ZEROS(VIEW_RO, 0, 10000);
	ASSERT_VIEW_ZEROS(VIEW_COW, 0, 10000);
	CU_ASSERT_EQUAL(region_fstat(fixture.region, &st), 0);
	CU_ASSERT_EQUAL(st.st_size, 10000);
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 9000, "shared"), 6);
	ASSERT_VIEW_HOLDS(VIEW_RO, 9000, "shared", 6);
	ASSERT_VIEW_HOLDS(VIEW_COW, 9000, "shared", 6);
	close_region();
}

static void test_open_empty_file(void)
{
	char buf[10];

	make_data(0);
	open_region();
	ASSERT_VIEW_SIZE(VIEW_RO, 0);
	ASSERT_VIEW_SIZE(VIEW_COW, 0);
	CU_ASSERT_EQUAL(read_view(VIEW_RO, 0, buf, sizeof(buf)), 0);
	CU_ASSERT_EQUAL(read_view(VIEW_COW, 0, buf, sizeof(buf)), 0);
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 0, "xyz!"), 4);	/* grows the cow view alone */
	ASSERT_VIEW_SIZE(VIEW_COW, 4);
	ASSERT_VIEW_SIZE(VIEW_RO, 0);
	ASSERT_FILE_SIZE(0);
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 0, "abc"), 3);
	ASSERT_VIEW_SIZE(VIEW_RO, 3);
	ASSERT_FILE_SIZE(3);
	ASSERT_FILE_HOLDS(0, "abc", 3);
	ASSERT_VIEW_HOLDS(VIEW_RO, 0, "abc", 3);
	ASSERT_VIEW_HOLDS(VIEW_COW, 0, "xyz!", 4);
	close_region();
}

static void test_create_makes_offset_plus_length_zeros(void)
{
	fixture.entry.create = true;
	fixture.entry.offset = page;
	fixture.entry.length = 2 * page;
	open_region();
	ASSERT_FILE_SIZE(3 * page);
	ASSERT_FILE_ZEROS(0, 3 * page);
	ASSERT_VIEW_SIZE(VIEW_RO, 2 * page);
	ASSERT_VIEW_SIZE(VIEW_COW, 2 * page);
	close_region();
}

static void test_create_leaves_an_existing_file_alone(void)
{
	make_data(3 * page);
	fixture.entry.create = true;
	fixture.entry.length = 2 * page;
	open_region();
	ASSERT_FILE_SIZE(3 * page);
	ASSERT_FILE_UNTOUCHED(0, 3 * page);
	ASSERT_VIEW_SIZE(VIEW_RO, 2 * page);
	close_region();
}

/* SPEC: create makes the file whatever the views; ro and cow need no rw. */
static void test_create_without_rw_view(void)
{
	fixture.entry.create = true;
	fixture.entry.length = page;
	fixture.entry.views = VIEW_RO | VIEW_COW;
	open_region();
	ASSERT_FILE_SIZE(page);
	ASSERT_VIEW_SIZE(VIEW_COW, page);
	close_region();
}

static void test_ro_and_cow_need_no_write_access(void)
{
	unsigned char elf = 0x7f;

	exe = busy_executable();
	CU_ASSERT_PTR_NOT_NULL_FATAL(exe);
	fixture.entry.path = exe;
	fixture.entry.views = VIEW_RO | VIEW_COW;
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 0, "X"), 1);
	ASSERT_VIEW_HOLDS(VIEW_COW, 0, "X", 1);
	ASSERT_VIEW_HOLDS(VIEW_RO, 0, &elf, 1);
	ASSERT_FILE_HOLDS(0, &elf, 1);
	close_region();
}

static void test_every_advice_opens(void)
{
	static const int advice[] = {
		MADV_NORMAL, MADV_SEQUENTIAL, MADV_RANDOM, MADV_WILLNEED,
		MADV_HUGEPAGE,
	};

	make_data(2 * page);
	for (size_t i = 0; i < sizeof(advice) / sizeof(advice[0]); i++) {
		fixture.entry.advice = advice[i];
		open_region();
		ASSERT_VIEW_IS_FILE(VIEW_RO, 0, 2 * page, 0);
		ASSERT_VIEW_IS_FILE(VIEW_COW, 0, 2 * page, 0);
		ASSERT_RESIZE(3 * page);
		ASSERT_RESIZE(2 * page);
		close_region();
	}
}

/* ---- writing ---- */

static void test_rw_write_reaches_the_file_and_ro_at_once(void)
{
	make_data(2 * page);
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_RW, page + 100, "hello"), 5);
	ASSERT_FILE_HOLDS(page + 100, "hello", 5);
	ASSERT_VIEW_HOLDS(VIEW_RO, page + 100, "hello", 5);
	ASSERT_VIEW_HOLDS(VIEW_RW, page + 100, "hello", 5);
	ASSERT_FILE_SIZE(2 * page);
	close_region();
}

static void test_rw_write_in_a_window_lands_at_its_offset(void)
{
	make_data(3 * page);
	fixture.entry.offset = page;
	fixture.entry.length = page;
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 10, "abc"), 3);
	ASSERT_FILE_HOLDS(page + 10, "abc", 3);
	ASSERT_FILE_UNTOUCHED(0, page + 10);
	ASSERT_FILE_UNTOUCHED(page + 13, 2 * page - 13);
	close_region();
}

static void test_cow_write_stays_private(void)
{
	make_data(2 * page);
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 100, "secret"), 6);
	ASSERT_VIEW_HOLDS(VIEW_COW, 100, "secret", 6);
	ASSERT_FILE_UNTOUCHED(0, 2 * page);
	ASSERT_VIEW_IS_FILE(VIEW_RO, 0, 2 * page, 0);
	ASSERT_VIEW_IS_FILE(VIEW_RW, 0, 2 * page, 0);
	close_region();
}

static void test_cow_shows_file_bytes_it_has_not_written(void)
{
	make_data(3 * page);
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 0, "mine"), 4);
	write_file(page + 5, "outside");
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 2 * page + 5, "inside"), 6);
	ASSERT_VIEW_HOLDS(VIEW_COW, page + 5, "outside", 7);
	ASSERT_VIEW_HOLDS(VIEW_COW, 2 * page + 5, "inside", 6);
	ASSERT_VIEW_HOLDS(VIEW_COW, 0, "mine", 4);
	close_region();
}

static void test_cow_write_crossing_the_end_grows_the_cow_view(void)
{
	make_data(page);
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_COW, page - 4, "0123456789"), 10);
	ASSERT_VIEW_HOLDS(VIEW_COW, page - 4, "0123456789", 10);
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 3 * page, "end"), 3);
	ASSERT_VIEW_SIZE(VIEW_COW, 3 * page + 3);
	ASSERT_VIEW_ZEROS(VIEW_COW, page + 6, 2 * page - 6);
	ASSERT_VIEW_SIZE(VIEW_RO, page);
	ASSERT_FILE_SIZE(page);
	ASSERT_FILE_UNTOUCHED(0, page);
	close_region();
}

static void test_fixed_size_rw_write_is_short_then_enospc(void)
{
	make_data(page);
	fixture.entry.resizable = false;
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_RW, page - 4, "0123456789"), 4);
	ASSERT_FILE_HOLDS(page - 4, "0123", 4);
	CU_ASSERT_EQUAL(write_view(VIEW_RW, page, "0123456789"), -ENOSPC);
	ASSERT_VIEW_SIZE(VIEW_RW, page);
	ASSERT_FILE_SIZE(page);
	close_region();
}

static void test_fixed_size_resize_is_eperm(void)
{
	char why[256] = "";

	make_data(page);
	fixture.entry.resizable = false;
	open_region();
	CU_ASSERT_EQUAL(region_resize(fixture.region, 2 * page, why, sizeof(why)), EPERM);
	CU_ASSERT_NOT_EQUAL(why[0], '\0');
	CU_ASSERT_EQUAL(region_resize(fixture.region, 0, NULL, 0), EPERM);
	ASSERT_VIEW_SIZE(VIEW_RO, page);
	ASSERT_FILE_SIZE(page);
	close_region();
}

static void test_rw_write_past_the_end_grows_region_and_file(void)
{
	make_data(page);
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_RW, page + 100, "tail"), 4);
	ASSERT_VIEW_SIZE(VIEW_RO, page + 104);
	ASSERT_VIEW_SIZE(VIEW_RW, page + 104);
	ASSERT_VIEW_SIZE(VIEW_COW, page);
	ASSERT_FILE_SIZE(page + 104);
	ASSERT_FILE_UNTOUCHED(0, page);
	ASSERT_FILE_ZEROS(page, 100);
	ASSERT_FILE_HOLDS(page + 100, "tail", 4);
	ASSERT_VIEW_HOLDS(VIEW_RO, page + 100, "tail", 4);
	close_region();
}

static void test_rw_write_past_a_window_end_keeps_the_file_size(void)
{
	make_data(4 * page);
	fixture.entry.offset = page;
	fixture.entry.length = page;
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_RW, page - 2, "abcd"), 4);
	ASSERT_VIEW_SIZE(VIEW_RW, page + 2);
	ASSERT_FILE_SIZE(4 * page);
	ASSERT_FILE_HOLDS(2 * page - 2, "abcd", 4);
	ASSERT_FILE_UNTOUCHED(2 * page + 2, 2 * page - 2);
	close_region();
}

/* Like pwrite(2): a write of nothing changes nothing, wherever it points. */
static void test_empty_rw_write_past_the_end_changes_nothing(void)
{
	make_data(page);
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 2 * page, ""), 0);
	ASSERT_VIEW_SIZE(VIEW_RW, page);
	ASSERT_FILE_SIZE(page);
	close_region();
}

/* ---- resizing ---- */

static void test_resize_grow_extends_the_file(void)
{
	make_data(page);
	open_region();
	ASSERT_RESIZE(3 * page);
	ASSERT_VIEW_SIZE(VIEW_RO, 3 * page);
	ASSERT_VIEW_SIZE(VIEW_RW, 3 * page);
	ASSERT_VIEW_SIZE(VIEW_COW, page);
	ASSERT_FILE_SIZE(3 * page);
	ASSERT_FILE_UNTOUCHED(0, page);
	ASSERT_FILE_ZEROS(page, 2 * page);
	ASSERT_VIEW_IS_FILE(VIEW_RO, 0, 3 * page, 0);
	ASSERT_VIEW_ZEROS(VIEW_RW, page, 2 * page);
	close_region();
}

static void test_resize_shrink_cuts_the_file(void)
{
	char buf[10];

	make_data(3 * page);
	open_region();
	ASSERT_RESIZE(100);
	ASSERT_VIEW_SIZE(VIEW_RO, 100);
	ASSERT_FILE_SIZE(100);
	ASSERT_FILE_UNTOUCHED(0, 100);
	CU_ASSERT_EQUAL(read_view(VIEW_RO, 100, buf, sizeof(buf)), 0);
	close_region();
}

static void test_resize_to_zero_then_write(void)
{
	char buf[10];

	make_data(page);
	open_region();
	ASSERT_RESIZE(0);
	ASSERT_VIEW_SIZE(VIEW_RO, 0);
	ASSERT_FILE_SIZE(0);
	CU_ASSERT_EQUAL(read_view(VIEW_RO, 0, buf, sizeof(buf)), 0);
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 0, "x"), 1);
	ASSERT_VIEW_SIZE(VIEW_RO, 1);
	ASSERT_FILE_HOLDS(0, "x", 1);
	close_region();
}

static void test_resize_window_reaching_the_end_moves_the_end(void)
{
	make_data(3 * page);
	fixture.entry.offset = page;
	open_region();
	ASSERT_RESIZE(page / 2);
	ASSERT_FILE_SIZE(page + page / 2);
	ASSERT_RESIZE(3 * page);
	ASSERT_FILE_SIZE(4 * page);
	ASSERT_FILE_UNTOUCHED(0, page + page / 2);
	close_region();
}

static void test_resize_window_before_the_end_keeps_the_data_after_it(void)
{
	make_data(4 * page);
	fixture.entry.offset = page;
	fixture.entry.length = page;
	open_region();
	ASSERT_RESIZE(10);
	ASSERT_VIEW_SIZE(VIEW_RO, 10);
	ASSERT_VIEW_SIZE(VIEW_COW, page);
	ASSERT_FILE_SIZE(4 * page);
	ASSERT_FILE_UNTOUCHED(0, 4 * page);
	close_region();
}

static void test_resize_window_past_the_file_end_extends_the_file(void)
{
	make_data(4 * page);
	fixture.entry.offset = page;
	fixture.entry.length = page;
	open_region();
	ASSERT_RESIZE(5 * page);
	ASSERT_VIEW_SIZE(VIEW_RO, 5 * page);
	ASSERT_FILE_SIZE(6 * page);
	ASSERT_FILE_UNTOUCHED(0, 4 * page);
	ASSERT_FILE_ZEROS(4 * page, 2 * page);
	close_region();
}

static void test_resize_below_the_cow_size_cuts_only_its_base(void)
{
	make_data(3 * page);
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 2 * page, "private"), 7);
	ASSERT_RESIZE(page);
	ASSERT_VIEW_SIZE(VIEW_COW, 3 * page);
	ASSERT_VIEW_IS_FILE(VIEW_COW, 0, page, 0);
	ASSERT_VIEW_ZEROS(VIEW_COW, page, page);
	ASSERT_VIEW_HOLDS(VIEW_COW, 2 * page, "private", 7);
	ASSERT_RESIZE(3 * page);	/* the file's growth never shows past the base */
	write_file(page + 1, "file");
	ASSERT_VIEW_ZEROS(VIEW_COW, page, page);
	close_region();
}

static void test_resize_past_the_largest_file_size_is_einval(void)
{
	char why[256] = "";

	make_data(page);
	open_region();
	CU_ASSERT_EQUAL(region_resize(fixture.region, (uint64_t)INT64_MAX + 1, why, sizeof(why)),
			EINVAL);
	CU_ASSERT_NOT_EQUAL(why[0], '\0');
	CU_ASSERT_EQUAL(region_resize(fixture.region, UINT64_MAX, NULL, 0), EINVAL);
	ASSERT_VIEW_SIZE(VIEW_RO, page);
	ASSERT_FILE_SIZE(page);
	close_region();
}

static void test_resize_anonymous(void)
{
	struct stat st;

	fixture.entry.path = NULL;
	fixture.entry.anonymous = true;
	fixture.entry.length = page;
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 0, "keep"), 4);
	ASSERT_RESIZE(3 * page);
	ASSERT_VIEW_SIZE(VIEW_RO, 3 * page);
	ASSERT_VIEW_SIZE(VIEW_COW, page);
	ASSERT_VIEW_HOLDS(VIEW_RO, 0, "keep", 4);
	ASSERT_VIEW_ZEROS(VIEW_RO, page, 2 * page);
	CU_ASSERT_EQUAL(region_fstat(fixture.region, &st), 0);
	CU_ASSERT_EQUAL(st.st_size, (off_t)(3 * page));
	ASSERT_RESIZE(10);
	ASSERT_VIEW_SIZE(VIEW_RW, 10);
	ASSERT_VIEW_SIZE(VIEW_COW, page);	/* its own; zeros past 10 */
	ASSERT_VIEW_ZEROS(VIEW_COW, 10, page - 10);
	ASSERT_VIEW_HOLDS(VIEW_RW, 0, "keep", 4);
	close_region();
}

/* ---- following the file ---- */

/* Sets the data file to SIZE bytes behind the region's back. */
static void truncate_data(uint64_t size)
{
	CU_ASSERT_EQUAL_FATAL(truncate(fixture.path, (off_t)size), 0);
}

/* Refreshes the region: no error, and a size changed or not. */
#define ASSERT_REFRESH(want_changed) do { \
	bool changed_ = !(want_changed); \
	CU_ASSERT_EQUAL(region_refresh(fixture.region, &changed_), 0); \
	CU_ASSERT_EQUAL(changed_, (want_changed)); \
} while (0)

static void test_refresh_after_the_file_grew(void)
{
	make_data(page);
	open_region();
	truncate_data(3 * page);
	ASSERT_REFRESH(true);
	ASSERT_VIEW_SIZE(VIEW_RO, 3 * page);
	ASSERT_VIEW_SIZE(VIEW_RW, 3 * page);
	ASSERT_VIEW_SIZE(VIEW_COW, page);
	ASSERT_VIEW_IS_FILE(VIEW_RO, 0, 3 * page, 0);
	ASSERT_REFRESH(false);
	close_region();
}

static void test_refresh_after_the_file_shrank(void)
{
	make_data(3 * page);
	open_region();
	truncate_data(page);
	ASSERT_REFRESH(true);
	ASSERT_VIEW_SIZE(VIEW_RO, page);
	ASSERT_VIEW_SIZE(VIEW_COW, 3 * page);	/* its own; zeros past the file */
	ASSERT_VIEW_IS_FILE(VIEW_RO, 0, page, 0);
	ASSERT_VIEW_IS_FILE(VIEW_COW, 0, page, 0);
	ASSERT_VIEW_ZEROS(VIEW_COW, page, 2 * page);
	close_region();
}

static void test_refresh_follows_from_the_offset(void)
{
	make_data(2 * page);
	fixture.entry.offset = page;
	open_region();
	ASSERT_VIEW_SIZE(VIEW_RO, page);
	truncate_data(4 * page);
	ASSERT_REFRESH(true);
	ASSERT_VIEW_SIZE(VIEW_RO, 3 * page);
	truncate_data(page / 2);
	ASSERT_REFRESH(true);
	ASSERT_VIEW_SIZE(VIEW_RO, 0);
	ASSERT_VIEW_SIZE(VIEW_COW, page);
	ASSERT_VIEW_ZEROS(VIEW_COW, 0, page);
	close_region();
}

static void test_refresh_of_a_fixed_window_changes_nothing(void)
{
	make_data(3 * page);
	fixture.entry.length = page;
	open_region();
	truncate_data(5 * page);
	ASSERT_REFRESH(false);
	ASSERT_VIEW_SIZE(VIEW_RO, page);
	close_region();
}

static void test_refresh_of_anonymous_changes_nothing(void)
{
	fixture.entry.path = NULL;
	fixture.entry.anonymous = true;
	fixture.entry.length = 100;
	open_region();
	ASSERT_REFRESH(false);
	ASSERT_VIEW_SIZE(VIEW_RO, 100);
	close_region();
}

/* ---- flushing ---- */

static void test_sync(void)
{
	make_data(2 * page);
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_RW, page + 1, "synced"), 6);
	ASSERT_SYNC(0, 2 * page);
	ASSERT_SYNC(page + 1, 6);
	ASSERT_SYNC(2 * page, 0);
	ASSERT_FILE_HOLDS(page + 1, "synced", 6);
	close_region();
}

/* A large rw write goes by pwrite(2): the file, ro and rw hold it at once;
 * fsync and fdatasync of rw/ (region_fsync) count as flushes. */
static void test_large_rw_write_then_fsync_and_fdatasync(void)
{
	size_t len = 64 << 10, written = 0;
	uint64_t off = page;
	struct region_stats st;
	char *buf = malloc(len), *back = malloc(len);
	int fd;

	CU_ASSERT_FATAL(buf != NULL && back != NULL);
	memset(buf, 'P', len);
	make_data(2 * page + len);
	open_region();
	CU_ASSERT_EQUAL(region_write(fixture.region, VIEW_RW, buf, len, &off, 0, &written), 0);
	CU_ASSERT_EQUAL(written, len);
	fd = open(fixture.path, O_RDONLY | O_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(pread(fd, back, len, (off_t)page), (ssize_t)len);
	CU_ASSERT_EQUAL(memcmp(back, buf, len), 0);
	close(fd);
	ASSERT_VIEW_HOLDS(VIEW_RO, page, buf, len);
	ASSERT_VIEW_HOLDS(VIEW_RW, page, buf, len);
	ASSERT_FILE_SIZE(2 * page + len);
	CU_ASSERT_EQUAL(region_fsync(fixture.region, true), 0);
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 10, "small"), 5);	/* into the mapping */
	CU_ASSERT_EQUAL(region_fsync(fixture.region, false), 0);
	ASSERT_FILE_HOLDS(10, "small", 5);
	region_get_stats(fixture.region, &st);
	CU_ASSERT_EQUAL(st.flushes, 2);
	free(buf);
	free(back);
	close_region();
}

static void test_sync_outside_the_region_is_einval(void)
{
	char why[256] = "";

	make_data(2 * page);
	open_region();
	CU_ASSERT_EQUAL(region_sync(fixture.region, page, page + 1, why, sizeof(why)), EINVAL);
	CU_ASSERT_NOT_EQUAL(why[0], '\0');
	CU_ASSERT_EQUAL(region_sync(fixture.region, 2 * page + 1, 0, NULL, 0), EINVAL);
	CU_ASSERT_EQUAL(region_sync(fixture.region, UINT64_MAX, 2, NULL, 0), EINVAL);
	close_region();
}

static void test_sync_without_rw_view(void)
{
	make_data(page);
	fixture.entry.views = VIEW_RO;
	open_region();
	ASSERT_SYNC(0, page);
	close_region();
}

static void test_sync_anonymous(void)
{
	fixture.entry.path = NULL;
	fixture.entry.anonymous = true;
	fixture.entry.length = page;
	open_region();
	ASSERT_SYNC(0, page);
	close_region();
}

/* ---- limits, sentinels, allocation order (issue 11) ---- */

/* Sizes past what the file system (ext4: 16 TiB) or the address space
 * allows: EFBIG, and nothing changes. */
static void test_sizes_past_the_limits_are_efbig(void)
{
	const uint64_t far[] = { 1ULL << 46, 1ULL << 50 };
	char why[256];

	make_data(2 * page);
	open_region();
	for (size_t i = 0; i < sizeof(far) / sizeof(far[0]); i++) {
		uint64_t off = far[i];
		size_t written = 99;

		why[0] = '\0';
		CU_ASSERT_EQUAL(region_resize(fixture.region, far[i], why, sizeof(why)), EFBIG);
		CU_ASSERT_NOT_EQUAL(why[0], '\0');
		CU_ASSERT_EQUAL(region_write(fixture.region, VIEW_RW, "far", 3, &off, 0,
					     &written), EFBIG);
		CU_ASSERT_EQUAL(written, 0);
		ASSERT_VIEW_SIZE(VIEW_RO, 2 * page);
		ASSERT_VIEW_SIZE(VIEW_RW, 2 * page);
		ASSERT_VIEW_SIZE(VIEW_COW, 2 * page);
		ASSERT_FILE_SIZE(2 * page);
	}
	ASSERT_FILE_UNTOUCHED(0, 2 * page);
	/* Everything still works at the old size. */
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 2 * page, "end"), 3);
	ASSERT_VIEW_SIZE(VIEW_RO, 2 * page + 3);
	ASSERT_FILE_HOLDS(2 * page, "end", 3);
	close_region();
}

/* UINT64_MAX is a size like any other, not "to the end": only
 * region_sync_all says that. */
static void test_sync_of_size_2_64_minus_1_is_einval(void)
{
	char why[256] = "";

	make_data(2 * page);
	open_region();
	CU_ASSERT_EQUAL(region_sync(fixture.region, 0, UINT64_MAX, why, sizeof(why)), EINVAL);
	CU_ASSERT_NOT_EQUAL(why[0], '\0');
	CU_ASSERT_EQUAL(region_sync(fixture.region, 1, UINT64_MAX, NULL, 0), EINVAL);
	CU_ASSERT_EQUAL(region_sync(fixture.region, 2 * page, UINT64_MAX, NULL, 0), EINVAL);
	CU_ASSERT_EQUAL(write_view(VIEW_RW, page, "all"), 3);
	CU_ASSERT_EQUAL(region_sync_all(fixture.region, why, sizeof(why)), 0);
	ASSERT_FILE_HOLDS(page, "all", 3);
	close_region();
}

/* ---- the cow view as a file of its own (cow.h) ---- */

/* Asserts that region_truncate(VIEW, SIZE) returns WANT. */
#define ASSERT_TRUNCATE(view, size, want) \
	CU_ASSERT_EQUAL(region_truncate(fixture.region, view, size), want)

static uint64_t cow_private(void)
{
	struct region_stats st;

	region_get_stats(fixture.region, &st);
	return st.cow_private_bytes;
}

static void test_cow_grows_by_writes_and_truncates(void)
{
	make_data(2 * page + 100);
	open_region();
	ASSERT_TRUNCATE(VIEW_COW, 4 * page, 0);
	ASSERT_VIEW_SIZE(VIEW_COW, 4 * page);
	ASSERT_VIEW_IS_FILE(VIEW_COW, 0, 2 * page + 100, 0);
	ASSERT_VIEW_ZEROS(VIEW_COW, 2 * page + 100, 2 * page - 100);
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 5 * page, "far"), 3);
	ASSERT_VIEW_SIZE(VIEW_COW, 5 * page + 3);
	ASSERT_VIEW_ZEROS(VIEW_COW, 4 * page, page);
	ASSERT_VIEW_HOLDS(VIEW_COW, 5 * page, "far", 3);
	/* the file's later growth never shows past the base */
	write_file(2 * page + 100, "file data");
	ASSERT_VIEW_ZEROS(VIEW_COW, 2 * page + 100, 9);
	CU_ASSERT_EQUAL(cow_private(), page);
	ASSERT_VIEW_SIZE(VIEW_RO, 2 * page + 100);
	ASSERT_FILE_UNTOUCHED(0, 2 * page + 100);
	close_region();
}

static void test_cow_truncate_then_regrow_reads_zeros(void)
{
	make_data(3 * page);
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_COW, page + 10, "abc"), 3);
	ASSERT_TRUNCATE(VIEW_COW, page + 11, 0);
	ASSERT_TRUNCATE(VIEW_COW, 3 * page, 0);
	ASSERT_VIEW_IS_FILE(VIEW_COW, 0, page, 0);
	ASSERT_VIEW_HOLDS(VIEW_COW, page + 10, "a\0\0", 3);
	ASSERT_TRUNCATE(VIEW_COW, 100, 0);
	CU_ASSERT_EQUAL(cow_private(), 0);
	ASSERT_TRUNCATE(VIEW_COW, 2 * page, 0);
	ASSERT_VIEW_IS_FILE(VIEW_COW, 0, 100, 0);
	ASSERT_VIEW_ZEROS(VIEW_COW, 100, 2 * page - 100);
	ASSERT_TRUNCATE(VIEW_COW, 0, 0);
	ASSERT_TRUNCATE(VIEW_COW, page, 0);
	ASSERT_VIEW_ZEROS(VIEW_COW, 0, page);
	ASSERT_FILE_UNTOUCHED(0, 3 * page);
	close_region();
}

/* Where the cow view's bytes are mapped in the daemon now. */
static const void *cow_address(void)
{
	const void *data = NULL;

	region_read_begin(fixture.region, VIEW_COW, 0, 1, &data);
	region_read_end(fixture.region);
	return data;
}

/* Maps a page right after the cow view's pages, when that address is
 * free, as the daemon's other mappings come to lie there; returns it or
 * NULL. */
static void *neighbour_of_cow(void)
{
	struct region_stats st;
	char *at;
	void *got;

	region_get_stats(fixture.region, &st);
	at = (char *)cow_address() + (st.cow_size + page - 1) / page * page;
	got = mmap(at, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (got == MAP_FAILED)
		return NULL;
	if (got != at) {
		munmap(got, page);	/* a kernel that took it as a hint */
		return NULL;
	}
	return got;
}

/* A database grows its file a page at a time: each growth that moved the
 * private mapping (mremap) cost more than the write (SQLite INSERTs on
 * cow/ at 6-10x the plain file). Growth reserves ahead, so 2,000 growing
 * writes move it a handful of times, though the address after the view's
 * end is always taken when it is free, and every byte stays in place. */
static void test_cow_grown_a_page_at_a_time_rarely_moves(void)
{
	enum { WRITES = 2000 };
	void *neighbours[WRITES + 1];
	unsigned moves = 0, n = 0;
	const void *was;
	char text[32];

	make_data(page);
	open_region();
	was = cow_address();
	for (unsigned i = 1; i <= WRITES; i++) {
		if ((neighbours[n] = neighbour_of_cow()) != NULL)
			n++;
		snprintf(text, sizeof(text), "page %u", i);
		CU_ASSERT_EQUAL_FATAL(write_view(VIEW_COW, i * page, text), (ssize_t)strlen(text));
		moves += cow_address() != was;
		was = cow_address();
	}
	CU_ASSERT(moves <= 16);
	ASSERT_VIEW_SIZE(VIEW_COW, WRITES * page + strlen(text));
	ASSERT_VIEW_IS_FILE(VIEW_COW, 0, page, 0);
	for (unsigned i = 1; i <= WRITES; i += 97) {
		snprintf(text, sizeof(text), "page %u", i);
		ASSERT_VIEW_HOLDS(VIEW_COW, i * page, text, strlen(text));
		ASSERT_VIEW_ZEROS(VIEW_COW, i * page + strlen(text), page - strlen(text));
	}
	/* cut and grown again: the reservation held no old bytes */
	ASSERT_TRUNCATE(VIEW_COW, 2 * page, 0);
	ASSERT_TRUNCATE(VIEW_COW, 40 * page, 0);
	ASSERT_VIEW_ZEROS(VIEW_COW, 2 * page, 38 * page);
	CU_ASSERT_EQUAL(cow_private(), page);
	ASSERT_FILE_UNTOUCHED(0, page);
	close_region();
	while (n)
		munmap(neighbours[--n], page);
}

static void test_cow_file_shrink_keeps_its_size_and_written_pages(void)
{
	make_data(4 * page);
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 10, "kept"), 4);
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 3 * page, "also"), 4);
	ASSERT_RESIZE(page + 7);
	ASSERT_VIEW_SIZE(VIEW_COW, 4 * page);
	ASSERT_VIEW_HOLDS(VIEW_COW, 10, "kept", 4);
	ASSERT_VIEW_IS_FILE(VIEW_COW, page, 7, page);
	ASSERT_VIEW_ZEROS(VIEW_COW, page + 7, 2 * page - 7);
	ASSERT_VIEW_HOLDS(VIEW_COW, 3 * page, "also", 4);
	CU_ASSERT_EQUAL(cow_private(), 2 * page);
	ASSERT_RESIZE(4 * page);	/* grown again: the base stays cut */
	write_file(page + 7, "new");
	ASSERT_VIEW_ZEROS(VIEW_COW, page + 7, 3);
	/* an unwritten page below the base still follows the file */
	write_file(page, "follow");
	ASSERT_VIEW_HOLDS(VIEW_COW, page, "follow", 6);
	close_region();
}

static void test_cow_outside_truncation_loses_the_pages_past_it(void)
{
	bool changed;

	/* The daemon's handler: the kernel dropped the private page past the
	 * cut, and the region's copy of it faults. */
	CU_ASSERT_EQUAL_FATAL(fault_setup(), 0);
	make_data(4 * page);
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 10, "kept"), 4);
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 3 * page, "lost"), 4);
	truncate_data(page + 7);
	CU_ASSERT_EQUAL(region_refresh(fixture.region, &changed), 0);
	ASSERT_VIEW_SIZE(VIEW_COW, 4 * page);
	ASSERT_VIEW_HOLDS(VIEW_COW, 10, "kept", 4);
	ASSERT_VIEW_IS_FILE(VIEW_COW, page, 7, page);
	ASSERT_VIEW_ZEROS(VIEW_COW, page + 7, 3 * page - 7);
	CU_ASSERT_EQUAL(cow_private(), page);
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 3 * page, "again"), 5);
	ASSERT_VIEW_HOLDS(VIEW_COW, 3 * page, "again", 5);
	close_region();
}

static void test_cow_resizable_no_keeps_its_size(void)
{
	make_data(page);
	fixture.entry.resizable = false;
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_COW, page - 2, "abcd"), 2);
	CU_ASSERT_EQUAL(write_view(VIEW_COW, page, "x"), -ENOSPC);
	ASSERT_TRUNCATE(VIEW_COW, 10, EPERM);
	ASSERT_TRUNCATE(VIEW_COW, 2 * page, EPERM);
	ASSERT_TRUNCATE(VIEW_COW, page, 0);
	CU_ASSERT_EQUAL(region_fallocate(fixture.region, VIEW_COW, 0, 0, 2 * page), EPERM);
	CU_ASSERT_EQUAL(region_fallocate(fixture.region, VIEW_COW, FALLOC_FL_ZERO_RANGE, 0, 4), 0);
	ASSERT_VIEW_SIZE(VIEW_COW, page);
	ASSERT_VIEW_ZEROS(VIEW_COW, 0, 4);
	ASSERT_VIEW_HOLDS(VIEW_COW, page - 2, "ab", 2);
	close_region();
}

static void test_cow_limit_bounds_the_private_pages(void)
{
	cow_set_limit(3 * page);
	make_data(4 * page);
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 0, "a"), 1);
	CU_ASSERT_EQUAL(write_view(VIEW_COW, page, "b"), 1);
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 10, "again"), 5);	/* no new page */
	{
		char big[8192];

		memset(big, 'c', sizeof(big));
		big[sizeof(big) - 1] = '\0';
		/* from the middle of page 2 on: page 2 fits, page 3 does not */
		CU_ASSERT_EQUAL(write_view(VIEW_COW, 3 * page - 100, big), 100);
	}
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 3 * page, "d"), -ENOSPC);
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 9 * page, "d"), -ENOSPC);
	ASSERT_VIEW_SIZE(VIEW_COW, 4 * page);
	CU_ASSERT_EQUAL(region_fallocate(fixture.region, VIEW_COW, FALLOC_FL_ZERO_RANGE,
					 3 * page, 10), ENOSPC);
	CU_ASSERT_EQUAL(cow_private(), 3 * page);
	CU_ASSERT_EQUAL(cow_total_private(), 3 * page);
	ASSERT_TRUNCATE(VIEW_COW, page, 0);	/* gives pages back */
	CU_ASSERT_EQUAL(cow_total_private(), page);
	CU_ASSERT_EQUAL(region_reset(fixture.region, NULL, 0), 0);
	CU_ASSERT_EQUAL(cow_total_private(), 0);
	close_region();
	cow_set_limit(0);
}

/* The reference model of the cow view (SPEC "cow/NAME"): its written
 * pages, then the file below its base, then zeros. The entry follows its
 * file, so the file is the region. */
enum { MODEL_PAGES = 16 };

struct cow_model {
	unsigned char *file, *priv;
	bool written[MODEL_PAGES];
	uint64_t file_size, cow_size, base;
};

static unsigned char model_byte(const struct cow_model *m, uint64_t i)
{
	if (m->written[i / page])
		return m->priv[i];
	return i < m->base ? m->file[i] : 0;
}

static void model_cow_write(struct cow_model *m, uint64_t off, const char *text)
{
	size_t len = strlen(text);

	for (size_t i = 0; i < len; i++) {
		uint64_t p = (off + i) / page;

		for (uint64_t j = p * page; !m->written[p] && j < (p + 1) * page; j++)
			m->priv[j] = model_byte(m, j);
		m->written[p] = true;
		m->priv[off + i] = (unsigned char)text[i];
	}
	if (off + len > m->cow_size)
		m->cow_size = off + len;
}

static void model_cow_truncate(struct cow_model *m, uint64_t size)
{
	uint64_t tail = size % page;

	for (uint64_t p = (size + page - 1) / page; size < m->cow_size && p < MODEL_PAGES; p++)
		m->written[p] = false;
	if (tail && size < m->cow_size && m->written[size / page])
		memset(m->priv + size, 0, page - tail);
	if (size < m->base)
		m->base = size;
	m->cow_size = size;
}

static void model_resize(struct cow_model *m, uint64_t size)
{
	if (size < m->file_size)
		memset(m->file + size, 0, m->file_size - size);
	if (size < m->base)
		m->base = size;
	m->file_size = size;
}

static void model_rw_write(struct cow_model *m, uint64_t off, const char *text)
{
	memcpy(m->file + off, text, strlen(text));
	if (off + strlen(text) > m->file_size)
		m->file_size = off + strlen(text);
}

static void model_reset(struct cow_model *m)
{
	memset(m->written, 0, sizeof(m->written));
	m->cow_size = m->base = m->file_size;
}

/* Whether the region's cow view, file and private bytes are the model's. */
static bool model_matches(const struct cow_model *m, unsigned char *buf)
{
	uint64_t pages = 0;

	if (region_view_size(fixture.region, VIEW_COW) != m->cow_size ||
	    region_view_size(fixture.region, VIEW_RW) != m->file_size ||
	    read_view(VIEW_COW, 0, buf, MODEL_PAGES * page) != m->cow_size)
		return false;
	for (uint64_t i = 0; i < m->cow_size; i++)
		if (buf[i] != model_byte(m, i))
			return false;
	if (read_file(0, buf, MODEL_PAGES * page) != (ssize_t)m->file_size ||
	    memcmp(buf, m->file, m->file_size) != 0)
		return false;
	for (uint64_t p = 0; p < (m->cow_size + page - 1) / page; p++)
		pages += m->written[p];
	return cow_private() == pages * page;
}

/* One random step on both; returns its name, for the failure message. */
static const char *model_step(struct cow_model *m, unsigned *seed)
{
	static const char *texts[] = { "x", "seven!!", "a longer line of text crossing" };
	const char *text = texts[rand_r(seed) % 3];
	uint64_t off = (uint64_t)rand_r(seed) % (12 * page), size = off;
	uint64_t edges[] = { off, off / page * page, off / page * page + page - 3 };

	off = edges[rand_r(seed) % 3];
	switch (rand_r(seed) % 6) {
	case 0:
	case 1:
		CU_ASSERT_EQUAL(write_view(VIEW_COW, off, text), (ssize_t)strlen(text));
		model_cow_write(m, off, text);
		return "cow write";
	case 2:
		ASSERT_TRUNCATE(VIEW_COW, size, 0);
		model_cow_truncate(m, size);
		return "cow truncate";
	case 3:
		ASSERT_RESIZE(size);
		model_resize(m, size);
		return "resize";
	case 4:
		CU_ASSERT_EQUAL(write_view(VIEW_RW, off, text), (ssize_t)strlen(text));
		model_rw_write(m, off, text);
		return "rw write";
	default:
		CU_ASSERT_EQUAL(region_reset(fixture.region, NULL, 0), 0);
		model_reset(m);
		return "reset";
	}
}

static void test_cow_against_a_reference_model(void)
{
	struct cow_model m = { .file_size = 3 * page + 100 };
	unsigned char *buf = malloc(MODEL_PAGES * page);
	unsigned seed = 12;

	m.file = calloc(MODEL_PAGES, page);
	m.priv = calloc(MODEL_PAGES, page);
	CU_ASSERT_FATAL(buf && m.file && m.priv);
	make_data(m.file_size);
	for (uint64_t i = 0; i < m.file_size; i++)
		m.file[i] = pattern(i);
	m.cow_size = m.base = m.file_size;
	open_region();
	for (int step = 0; step < 3000; step++) {
		const char *what = model_step(&m, &seed);

		CHECK_FATAL(model_matches(&m, buf), "step %d (%s): the cow view differs from the "
			    "model", step, what);
	}
	close_region();
	free(buf);
	free(m.file);
	free(m.priv);
}

static void test_fallocate_modes_on_rw(void)
{
	struct stat st;

	make_data(2 * page);
	open_region();
	CU_ASSERT_EQUAL(region_fallocate(fixture.region, VIEW_RW, 0, page, 3 * page), 0);
	ASSERT_VIEW_SIZE(VIEW_RW, 4 * page);	/* grown first, as a resize */
	ASSERT_FILE_SIZE(4 * page);
	CU_ASSERT_EQUAL(region_fallocate(fixture.region, VIEW_RW, FALLOC_FL_KEEP_SIZE, 0,
					 8 * page), 0);
	ASSERT_FILE_SIZE(4 * page);
	CU_ASSERT_EQUAL(region_fallocate(fixture.region, VIEW_RW,
					 FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 10, 20), 0);
	ASSERT_FILE_ZEROS(10, 20);
	ASSERT_VIEW_ZEROS(VIEW_RO, 10, 20);
	CU_ASSERT_EQUAL(region_fallocate(fixture.region, VIEW_RW, FALLOC_FL_ZERO_RANGE,
					 4 * page - 5, 10), 0);
	ASSERT_VIEW_SIZE(VIEW_RO, 4 * page + 5);
	ASSERT_FILE_ZEROS(4 * page - 5, 10);
	ASSERT_FILE_UNTOUCHED(30, page - 30);
	CU_ASSERT_EQUAL(region_fallocate(fixture.region, VIEW_RW, FALLOC_FL_COLLAPSE_RANGE, 0,
					 page), EOPNOTSUPP);
	CU_ASSERT_EQUAL(region_fallocate(fixture.region, VIEW_RW, FALLOC_FL_PUNCH_HOLE, 0,
					 page), EOPNOTSUPP);	/* without KEEP_SIZE */
	CU_ASSERT_EQUAL(region_fstat(fixture.region, &st), 0);
	CU_ASSERT_EQUAL(st.st_size, (off_t)(4 * page + 5));
	ASSERT_VIEW_SIZE(VIEW_COW, 2 * page);	/* the cow view's own */
	close_region();
}

static void test_set_times_sets_the_files(void)
{
	struct timespec times[2] = { { 981173106, 5 }, { 1012615506, 7 } };
	struct stat st;

	make_data(page);
	open_region();
	CU_ASSERT_EQUAL(region_set_times(fixture.region, times), 0);
	CU_ASSERT_EQUAL(stat(fixture.path, &st), 0);
	CU_ASSERT_EQUAL(st.st_atim.tv_sec, times[0].tv_sec);
	CU_ASSERT_EQUAL(st.st_mtim.tv_sec, times[1].tv_sec);
	times[0].tv_nsec = UTIME_OMIT;
	times[1].tv_sec = 1;
	CU_ASSERT_EQUAL(region_set_times(fixture.region, times), 0);
	CU_ASSERT_EQUAL(stat(fixture.path, &st), 0);
	CU_ASSERT_EQUAL(st.st_atim.tv_sec, 981173106);
	CU_ASSERT_EQUAL(st.st_mtim.tv_sec, 1);
	close_region();
}

/* AddressSanitizer reserves its shadow memory up front and runs out of
 * address space under the cap: the test runs in the plain build only. */
#ifndef __SANITIZE_ADDRESS__
/* Bytes of address space this process has mapped (/proc/self/statm). */
static uint64_t mapped_bytes(void)
{
	unsigned long long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%llu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	return pages * page;
}

/* A reset that runs out of memory keeps the old cow view whole, its
 * written-pages bitmap included (the next cow write once dereferenced a
 * freed one). The address space is capped just above what a fresh 8 GiB
 * cow mapping needs, below that and its 256 KiB bitmap. Where the
 * allocator takes no new address space (a sanitizer's), the reset may
 * succeed: then the view is fresh, and works too. */
static void test_reset_out_of_memory_keeps_the_old_cow_view(void)
{
	const uint64_t big = 1ULL << 33;
	struct region_stats st;
	struct rlimit old, capped;
	char why[256] = "";
	int fd, err;

	make_data(page);
	fd = open(fixture.path, O_WRONLY | O_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(ftruncate(fd, (off_t)big) == 0);
	close(fd);
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 0, "private"), 7);
	CU_ASSERT_FATAL(getrlimit(RLIMIT_AS, &old) == 0);
	capped = old;
	capped.rlim_cur = (rlim_t)(mapped_bytes() + big + (64 << 10));
	if (old.rlim_cur != RLIM_INFINITY && old.rlim_cur < capped.rlim_cur)
		capped.rlim_cur = old.rlim_cur;
	CU_ASSERT_FATAL(setrlimit(RLIMIT_AS, &capped) == 0);
	err = region_reset(fixture.region, why, sizeof(why));
	CU_ASSERT_FATAL(setrlimit(RLIMIT_AS, &old) == 0);
	CU_ASSERT(err == ENOMEM || err == 0);
	if (err) {
		CU_ASSERT_NOT_EQUAL(why[0], '\0');
		ASSERT_VIEW_HOLDS(VIEW_COW, 0, "private", 7);
	}
	/* The cow view takes writes either way, and counts them. */
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 3 * page, "again"), 5);
	ASSERT_VIEW_HOLDS(VIEW_COW, 3 * page, "again", 5);
	region_get_stats(fixture.region, &st);
	CU_ASSERT_EQUAL(st.cow_private_bytes, (err ? 2 : 1) * page);
	CU_ASSERT_EQUAL(st.resets, err ? 0 : 1);
	ASSERT_FILE_UNTOUCHED(0, page);
	close_region();
}
#endif

/* ---- a reload's change of views ---- */

/* Changes the region's views to VIEWS (prepare, then apply); the prepare
 * must succeed. */
#define CHANGE_VIEWS(views) change_views(__LINE__, views)
static void change_views(unsigned at, unsigned views)
{
	struct region_views *v = NULL;
	char why[256] = "";
	int err = region_views_prepare(fixture.region, views, &v, why, sizeof(why));

	check_at(err == 0, true, __FILE__, at, "region_views_prepare(%#x) = %d: %s", views,
		 err, why);
	region_views_apply(fixture.region, v);
	check_at(region_entry(fixture.region)->views == views, false, __FILE__, at,
		 "views %#x, want %#x", region_entry(fixture.region)->views, views);
}

/* SPEC SIGHUP: cow/NAME keeps its written pages (and its own size) while
 * cow stays listed, whatever else comes or goes; rw added maps the file
 * writable though it was opened read-only. */
static void test_views_change_in_place_and_cow_keeps_its_writes(void)
{
	make_data(3 * page);
	fixture.entry.views = VIEW_RO | VIEW_COW;
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_COW, page, "private"), 7);
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 4 * page, "grown"), 5);
	CHANGE_VIEWS(VIEW_ALL);
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 10, "shared"), 6);
	ASSERT_FILE_HOLDS(10, "shared", 6);
	ASSERT_VIEW_HOLDS(VIEW_RO, 10, "shared", 6);
	ASSERT_VIEW_HOLDS(VIEW_COW, page, "private", 7);
	ASSERT_VIEW_HOLDS(VIEW_COW, 4 * page, "grown", 5);
	ASSERT_VIEW_SIZE(VIEW_COW, 4 * page + 5);
	CU_ASSERT_EQUAL(cow_private(), 2 * page);
	CHANGE_VIEWS(VIEW_RW | VIEW_COW);	/* ro goes: nothing to do */
	CHANGE_VIEWS(VIEW_RO | VIEW_COW);	/* rw goes */
	ASSERT_VIEW_HOLDS(VIEW_COW, page, "private", 7);
	ASSERT_VIEW_SIZE(VIEW_COW, 4 * page + 5);
	CU_ASSERT_EQUAL(cow_private(), 2 * page);
	ASSERT_FILE_HOLDS(10, "shared", 6);
	CHANGE_VIEWS(VIEW_ALL);			/* rw back, on the kept descriptor */
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 20, "again"), 5);
	ASSERT_FILE_HOLDS(20, "again", 5);
	close_region();
}

/* Cow leaving drops its writes; back, it starts afresh, as after a reset. */
static void test_views_without_cow_drop_its_writes(void)
{
	uint64_t before = cow_total_private();

	make_data(2 * page);
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 0, "private"), 7);
	CU_ASSERT_EQUAL(cow_total_private(), before + page);
	CHANGE_VIEWS(VIEW_RO | VIEW_RW);
	CU_ASSERT_EQUAL(cow_private(), 0);
	CU_ASSERT_EQUAL(cow_total_private(), before);
	CU_ASSERT_EQUAL(write_view(VIEW_RW, page, "shared"), 6);
	CHANGE_VIEWS(VIEW_ALL);
	ASSERT_VIEW_SIZE(VIEW_COW, 2 * page);
	ASSERT_VIEW_IS_FILE(VIEW_COW, 0, 2 * page, 0);
	ASSERT_VIEW_HOLDS(VIEW_COW, page, "shared", 6);
	CU_ASSERT_EQUAL(cow_private(), 0);
	close_region();
}

static void test_views_of_an_anonymous_entry(void)
{
	fixture.entry.anonymous = true;
	fixture.entry.path = NULL;
	fixture.entry.length = 2 * page;
	fixture.entry.views = VIEW_RO;
	open_region();
	CHANGE_VIEWS(VIEW_RO | VIEW_RW);
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 100, "memory"), 6);
	ASSERT_VIEW_HOLDS(VIEW_RO, 100, "memory", 6);
	CHANGE_VIEWS(VIEW_RO | VIEW_COW);
	ASSERT_VIEW_HOLDS(VIEW_COW, 100, "memory", 6);
	close_region();
}

/* How many descriptors this process has open. */
static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* A prepared change that its reload gives up leaves the region as it was,
 * and closes the read-write descriptor it opened. */
static void test_a_cancelled_change_of_views_changes_nothing(void)
{
	struct region_views *v = NULL;
	char why[256] = "";
	int fds;

	make_data(2 * page);
	fixture.entry.views = VIEW_RO;
	open_region();
	fds = open_fds();
	CU_ASSERT_EQUAL_FATAL(region_views_prepare(fixture.region, VIEW_ALL, &v, why,
						   sizeof(why)), 0);
	CU_ASSERT_EQUAL(open_fds(), fds + 1);
	region_views_cancel(v);
	CU_ASSERT_EQUAL(open_fds(), fds);
	CU_ASSERT_EQUAL(region_entry(fixture.region)->views, VIEW_RO);
	ASSERT_VIEW_IS_FILE(VIEW_RO, 0, 2 * page, 0);
	close_region();
}

/* SPEC Config: rw on a file the daemon cannot open for writing is an
 * error; here one that became so after the config was checked. */
static void test_rw_added_on_a_file_that_cannot_be_written_fails(void)
{
	struct region_views *v = NULL;
	char why[256] = "";
	int err;

	exe = busy_executable();
	CU_ASSERT_PTR_NOT_NULL_FATAL(exe);
	fixture.entry.path = exe;
	fixture.entry.views = VIEW_RO | VIEW_COW;
	open_region();
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 0, "X"), 1);
	err = region_views_prepare(fixture.region, VIEW_ALL, &v, why, sizeof(why));
	CU_ASSERT_EQUAL(err, ETXTBSY);
	CHECK(strstr(why, exe) && strstr(why, "for writing"), "why: %s", why);
	CU_ASSERT_EQUAL(region_entry(fixture.region)->views, VIEW_RO | VIEW_COW);
	ASSERT_VIEW_HOLDS(VIEW_COW, 0, "X", 1);
	close_region();
}

/* The read-write descriptor must be of the file the region maps. */
static void test_rw_added_on_a_file_renamed_over_is_estale(void)
{
	char *other = path_join(fixture.dir, "other");
	struct region_views *v = NULL;
	char why[256] = "";

	make_data(2 * page);
	fixture.entry.views = VIEW_RO;
	open_region();
	file_write(other, "another file", 12);
	CU_ASSERT_EQUAL_FATAL(rename(other, fixture.path), 0);
	CU_ASSERT_EQUAL(region_views_prepare(fixture.region, VIEW_ALL, &v, why, sizeof(why)),
			ESTALE);
	CU_ASSERT_EQUAL(region_entry(fixture.region)->views, VIEW_RO);
	free(other);
	close_region();
}

void add_region_suite(void)
{
	CU_pSuite s = CU_add_suite_with_setup_and_teardown("region", init_suite, NULL,
							   region_fixture_setup, teardown);

	CU_ADD_TEST(s, test_open_file_entry);
	CU_ADD_TEST(s, test_region_keeps_its_own_copy_of_the_entry);
	CU_ADD_TEST(s, test_reads_are_clamped_to_the_view);
	CU_ADD_TEST(s, test_open_window);
	CU_ADD_TEST(s, test_open_anonymous);
	CU_ADD_TEST(s, test_open_empty_file);
	CU_ADD_TEST(s, test_create_makes_offset_plus_length_zeros);
	CU_ADD_TEST(s, test_create_leaves_an_existing_file_alone);
	CU_ADD_TEST(s, test_create_without_rw_view);
	CU_ADD_TEST(s, test_ro_and_cow_need_no_write_access);
	CU_ADD_TEST(s, test_every_advice_opens);
	CU_ADD_TEST(s, test_rw_write_reaches_the_file_and_ro_at_once);
	CU_ADD_TEST(s, test_rw_write_in_a_window_lands_at_its_offset);
	CU_ADD_TEST(s, test_cow_write_stays_private);
	CU_ADD_TEST(s, test_cow_shows_file_bytes_it_has_not_written);
	CU_ADD_TEST(s, test_cow_write_crossing_the_end_grows_the_cow_view);
	CU_ADD_TEST(s, test_fixed_size_rw_write_is_short_then_enospc);
	CU_ADD_TEST(s, test_fixed_size_resize_is_eperm);
	CU_ADD_TEST(s, test_rw_write_past_the_end_grows_region_and_file);
	CU_ADD_TEST(s, test_rw_write_past_a_window_end_keeps_the_file_size);
	CU_ADD_TEST(s, test_empty_rw_write_past_the_end_changes_nothing);
	CU_ADD_TEST(s, test_resize_grow_extends_the_file);
	CU_ADD_TEST(s, test_resize_shrink_cuts_the_file);
	CU_ADD_TEST(s, test_resize_to_zero_then_write);
	CU_ADD_TEST(s, test_resize_window_reaching_the_end_moves_the_end);
	CU_ADD_TEST(s, test_resize_window_before_the_end_keeps_the_data_after_it);
	CU_ADD_TEST(s, test_resize_window_past_the_file_end_extends_the_file);
	CU_ADD_TEST(s, test_resize_below_the_cow_size_cuts_only_its_base);
	CU_ADD_TEST(s, test_resize_past_the_largest_file_size_is_einval);
	CU_ADD_TEST(s, test_resize_anonymous);
	CU_ADD_TEST(s, test_refresh_after_the_file_grew);
	CU_ADD_TEST(s, test_refresh_after_the_file_shrank);
	CU_ADD_TEST(s, test_refresh_follows_from_the_offset);
	CU_ADD_TEST(s, test_refresh_of_a_fixed_window_changes_nothing);
	CU_ADD_TEST(s, test_refresh_of_anonymous_changes_nothing);
	CU_ADD_TEST(s, test_sync);
	CU_ADD_TEST(s, test_large_rw_write_then_fsync_and_fdatasync);
	CU_ADD_TEST(s, test_sync_outside_the_region_is_einval);
	CU_ADD_TEST(s, test_sync_without_rw_view);
	CU_ADD_TEST(s, test_sync_anonymous);
	CU_ADD_TEST(s, test_sizes_past_the_limits_are_efbig);
	CU_ADD_TEST(s, test_sync_of_size_2_64_minus_1_is_einval);
#ifndef __SANITIZE_ADDRESS__
	CU_ADD_TEST(s, test_reset_out_of_memory_keeps_the_old_cow_view);
#endif
	CU_ADD_TEST(s, test_cow_grows_by_writes_and_truncates);
	CU_ADD_TEST(s, test_cow_truncate_then_regrow_reads_zeros);
	CU_ADD_TEST(s, test_cow_grown_a_page_at_a_time_rarely_moves);
	CU_ADD_TEST(s, test_cow_file_shrink_keeps_its_size_and_written_pages);
	CU_ADD_TEST(s, test_cow_outside_truncation_loses_the_pages_past_it);
	CU_ADD_TEST(s, test_cow_resizable_no_keeps_its_size);
	CU_ADD_TEST(s, test_cow_limit_bounds_the_private_pages);
	CU_ADD_TEST(s, test_cow_against_a_reference_model);
	CU_ADD_TEST(s, test_fallocate_modes_on_rw);
	CU_ADD_TEST(s, test_set_times_sets_the_files);
	CU_ADD_TEST(s, test_views_change_in_place_and_cow_keeps_its_writes);
	CU_ADD_TEST(s, test_views_without_cow_drop_its_writes);
	CU_ADD_TEST(s, test_views_of_an_anonymous_entry);
	CU_ADD_TEST(s, test_a_cancelled_change_of_views_changes_nothing);
	CU_ADD_TEST(s, test_rw_added_on_a_file_that_cannot_be_written_fails);
	CU_ADD_TEST(s, test_rw_added_on_a_file_renamed_over_is_estale);
}
