/*
 * test_fault.c - fault.h and SPEC "Lifecycle and faults": a backing file
 * cut by another process makes touching the pages past its new end raise
 * SIGBUS; copies through fault_copy() (and so region_write, region_move and
 * the move command) must turn that into EIO, fit the region to the file,
 * and leave the process running.
 *
 * The suite installs the handler once (fault_setup) for the whole process.
 * Each test gets a fresh folder with DIR/data holding pattern() bytes,
 * mapped either by the test itself (MAP_SHARED, 3 pages) or as region "e".
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"
#include "fault.h"
#include "region.h"
#include "tests.h"

#define MAP_PAGES 3
#define CUT_REASON "a page past the end of the file, which was cut outside the mount"

static uint64_t page;
static int fd = -1;		/* DIR/data, for the test's own mapping */
static unsigned char *map;	/* MAP_PAGES pages of DIR/data, MAP_SHARED */

static int init_suite(void)
{
	long size = sysconf(_SC_PAGESIZE);

	page = (uint64_t)size;
	return size > 0 && fault_setup() == 0 ? 0 : -1;
}

static void teardown(void)
{
	if (map)
		munmap(map, MAP_PAGES * page);
	map = NULL;
	if (fd >= 0)
		close(fd);
	fd = -1;
	region_fixture_teardown();
}

/* Cuts the data file to SIZE bytes, as another process would. */
static void cut_file(uint64_t size)
{
	CU_ASSERT_EQUAL_FATAL(truncate(fixture.path, (off_t)size), 0);
}

/* Maps the data file, MAP_PAGES pages of pattern(), then cuts it to CUT. */
static void map_then_cut(uint64_t cut)
{
	void *m;

	make_data(MAP_PAGES * page);
	fd = open(fixture.path, O_RDWR | O_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0);
	m = mmap(NULL, MAP_PAGES * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CU_ASSERT_FATAL(m != MAP_FAILED);
	map = m;
	cut_file(cut);
}

/* Asserts that BUF holds LEN bytes of pattern() from OFF. */
#define ASSERT_PATTERN(buf, off, len) assert_pattern(__LINE__, buf, off, len)

static void assert_pattern(unsigned at, const unsigned char *buf, uint64_t off,
			   size_t len)
{
	size_t i = 0;

	while (i < len && buf[i] == pattern(off + i))
		i++;
	check_at(i == len, false, __FILE__, at,
		 "byte %zu of %zu from %" PRIu64 " is not the file's", i, len, off);
}

/* ---- fault_copy on a mapping of its own ---- */

static void test_setup_installs_a_sigbus_handler(void)
{
	struct sigaction now;

	CU_ASSERT_EQUAL(fault_setup(), 0);	/* again: harmless */
	CU_ASSERT_EQUAL_FATAL(sigaction(SIGBUS, NULL, &now), 0);
	CU_ASSERT(now.sa_flags & SA_SIGINFO);
	CU_ASSERT_PTR_NOT_NULL(now.sa_sigaction);
}

static void test_copy_within_the_file_works(void)
{
	unsigned char buf[64];

	map_then_cut(page);
	CU_ASSERT_EQUAL(fault_copy(buf, map, sizeof(buf)), 0);
	ASSERT_PATTERN(buf, 0, sizeof(buf));
	CU_ASSERT_EQUAL(fault_copy(buf, map + page - sizeof(buf), sizeof(buf)), 0);
	ASSERT_PATTERN(buf, page - sizeof(buf), sizeof(buf));
	CU_ASSERT_EQUAL(fault_copy(map + 100, "into", 4), 0);
	ASSERT_FILE_HOLDS(100, "into", 4);
	ASSERT_FILE_SIZE(page);
}

static void test_copy_from_a_cut_page_is_eio(void)
{
	unsigned char buf[64];

	map_then_cut(page);
	memset(buf, 'z', sizeof(buf));
	CU_ASSERT_EQUAL(fault_copy(buf, map + 2 * page, 10), EIO);
	CU_ASSERT_EQUAL(buf[0], 'z');
	CU_ASSERT_EQUAL(fault_copy(buf, map + page, 1), EIO);
	CU_ASSERT_EQUAL(fault_copy(buf, map + 3 * page - 1, 1), EIO);
	/* the first page is still fine */
	CU_ASSERT_EQUAL(fault_copy(buf, map, 10), 0);
	ASSERT_PATTERN(buf, 0, 10);
	/* nothing to copy touches nothing */
	CU_ASSERT_EQUAL(fault_copy(buf, map + 2 * page, 0), 0);
}

static void test_copy_into_a_cut_page_is_eio(void)
{
	map_then_cut(page);
	CU_ASSERT_EQUAL(fault_copy(map + 2 * page, "lost", 4), EIO);
	CU_ASSERT_EQUAL(fault_copy(map + page, "lost", 1), EIO);
	ASSERT_FILE_SIZE(page);
	CU_ASSERT_EQUAL(fault_copy(map, "kept", 4), 0);
	ASSERT_FILE_HOLDS(0, "kept", 4);
	/* a copy within the mapping, from or to a cut page */
	CU_ASSERT_EQUAL(fault_copy(map, map + 2 * page, 10), EIO);
	CU_ASSERT_EQUAL(fault_copy(map + 2 * page, map, 10), EIO);
	ASSERT_FILE_HOLDS(0, "kept", 4);
}

static void test_copy_straddling_the_new_end_is_eio(void)
{
	unsigned char buf[64];

	map_then_cut(page);
	CU_ASSERT_EQUAL(fault_copy(buf, map + page - 8, 16), EIO);
	CU_ASSERT_EQUAL(fault_copy(map + page - 8, buf, 16), EIO);
	ASSERT_FILE_SIZE(page);
}

/* The handler must fire again and again: SIGBUS is not left blocked. */
static void test_many_faults_in_a_row(void)
{
	unsigned char buf[16];
	unsigned eio = 0;

	map_then_cut(page);
	for (int i = 0; i < 1000; i++) {
		eio += fault_copy(buf, map + 2 * page + (uint64_t)i, 1) == EIO;
		eio += fault_copy(map + page + (uint64_t)i, buf, 1) == EIO;
	}
	CU_ASSERT_EQUAL(eio, 2000);
	CU_ASSERT_EQUAL(fault_copy(buf, map + 5, sizeof(buf)), 0);
	ASSERT_PATTERN(buf, 5, sizeof(buf));
}

struct thread_copy {
	const unsigned char *bad, *good;
	int bad_err, good_err;
	unsigned char buf[8];
};

static void *copy_in_thread(void *arg)
{
	struct thread_copy *t = arg;

	t->bad_err = fault_copy(t->buf, t->bad, sizeof(t->buf));
	t->good_err = fault_copy(t->buf, t->good, sizeof(t->buf));
	return NULL;
}

static void test_fault_in_another_thread_is_eio(void)
{
	struct thread_copy t = { .bad_err = -1, .good_err = -1 };
	pthread_t th;

	map_then_cut(page);
	t.bad = map + 2 * page;
	t.good = map + 32;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, copy_in_thread, &t), 0);
	CU_ASSERT_EQUAL(pthread_join(th, NULL), 0);
	CU_ASSERT_EQUAL(t.bad_err, EIO);
	CU_ASSERT_EQUAL(t.good_err, 0);
	ASSERT_PATTERN(t.buf, 32, sizeof(t.buf));
}

static void test_copy_works_again_once_the_file_grows_back(void)
{
	static const unsigned char zeros[16];
	unsigned char buf[16];

	map_then_cut(page);
	CU_ASSERT_EQUAL(fault_copy(buf, map + 2 * page, sizeof(buf)), EIO);
	CU_ASSERT_EQUAL_FATAL(ftruncate(fd, (off_t)(MAP_PAGES * page)), 0);
	CU_ASSERT_EQUAL(fault_copy(buf, map + 2 * page, sizeof(buf)), 0);
	CU_ASSERT_EQUAL(memcmp(buf, zeros, sizeof(buf)), 0);
	CU_ASSERT_EQUAL(fault_copy(map + 2 * page, "back", 4), 0);
	ASSERT_FILE_HOLDS(2 * page, "back", 4);
}

/* fault.h: a SIGBUS outside fault_copy() kills, as without a handler. */
static void test_sigbus_outside_a_copy_still_kills(void)
{
	int status = 0;
	pid_t pid;

	map_then_cut(page);
	fflush(NULL);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };
		volatile unsigned char *p = map + 2 * page;

		setrlimit(RLIMIT_CORE, &no_core);
		(void)*p;
		_exit(0);
	}
	CU_ASSERT_EQUAL_FATAL(waitpid(pid, &status, 0), pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS,
	      "the child %s %d, want killed by SIGBUS (%d)",
	      WIFSIGNALED(status) ? "was killed by signal" : "exited with",
	      WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), SIGBUS);
}

/* ---- through the region ---- */

/* SPEC: a write touching pages past the new end fails with EIO; the
 * region then ends where the file does. */
static void test_rw_write_past_the_cut_end_is_eio(void)
{
	struct region_stats st;
	char buf[16];

	make_data(3 * page);
	open_region();
	cut_file(page);
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 2 * page, "abc"), -EIO);
	region_get_stats(fixture.region, &st);
	CU_ASSERT_EQUAL(st.errors, 0);	/* region.h: a fault is not a failed command */
	CU_ASSERT_EQUAL(st.writes, 1);
	ASSERT_VIEW_SIZE(VIEW_RO, page);
	ASSERT_VIEW_SIZE(VIEW_RW, page);
	ASSERT_VIEW_SIZE(VIEW_COW, 3 * page);
	ASSERT_FILE_SIZE(page);
	/* everything else keeps working */
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 10, "after"), 5);
	ASSERT_FILE_HOLDS(10, "after", 5);
	CU_ASSERT_EQUAL(read_view(VIEW_RO, 10, buf, 5), 5);
	CU_ASSERT_EQUAL(memcmp(buf, "after", 5), 0);
	CU_ASSERT_EQUAL(read_view(VIEW_RO, page, buf, sizeof(buf)), 0);
}

static void test_rw_write_past_a_cut_mid_page_is_eio(void)
{
	make_data(3 * page);
	open_region();
	cut_file(page + 100);
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 2 * page + 5, "abc"), -EIO);
	ASSERT_VIEW_SIZE(VIEW_RW, page + 100);
	ASSERT_VIEW_SIZE(VIEW_COW, 3 * page);
	ASSERT_FILE_SIZE(page + 100);
}

/* Asserts that a 64 KiB write at OFF of VIEW, over pages of the file cut
 * to one page outside the mount, is EIO, writes nothing and leaves the
 * file as cut. */
static void assert_large_write_is_eio(unsigned view, uint64_t off)
{
	size_t len = 64 << 10, written = 1;
	char *buf = malloc(len);

	CU_ASSERT_FATAL(buf != NULL);
	memset(buf, 'L', len);
	CU_ASSERT_EQUAL(region_write(fixture.region, view, buf, len, &off, 0, &written), EIO);
	CU_ASSERT_EQUAL(written, 0);
	ASSERT_FILE_SIZE(page);
	free(buf);
}

/* A write large enough to go by pwrite(2) (region.c's by_pwrite) never
 * extends a file cut outside the mount: it goes through the mapping, EIO. */
static void test_large_rw_write_past_the_cut_end_is_eio(void)
{
	make_data(2 * page + (64 << 10));
	open_region();
	cut_file(page);
	assert_large_write_is_eio(VIEW_RW, 2 * page);
	ASSERT_VIEW_SIZE(VIEW_RW, page);
}

/* A cow store large enough to make its pages private first (cow.c's
 * populate) over pages of a file cut outside the mount: EIO as for a
 * small one, and the view still takes writes below the cut. */
static void test_large_cow_write_over_the_cut_file_is_eio(void)
{
	make_data(2 * page + (64 << 10));
	open_region();
	cut_file(page);
	assert_large_write_is_eio(VIEW_COW, 0);
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 10, "below"), 5);
	ASSERT_VIEW_HOLDS(VIEW_COW, 10, "below", 5);
}

static void test_rw_write_following_from_an_offset(void)
{
	make_data(4 * page);
	fixture.entry.offset = page;
	open_region();
	ASSERT_VIEW_SIZE(VIEW_RW, 3 * page);
	cut_file(2 * page);
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 2 * page, "x"), -EIO);
	ASSERT_VIEW_SIZE(VIEW_RW, page);
	ASSERT_VIEW_SIZE(VIEW_COW, 3 * page);
	ASSERT_FILE_SIZE(2 * page);
}

/* A window of fixed length shrinks to what is left of it. */
static void test_fixed_window_shrinks_to_what_is_left(void)
{
	make_data(4 * page);
	fixture.entry.offset = page;
	fixture.entry.length = 2 * page;
	open_region();
	cut_file(2 * page);
	CU_ASSERT_EQUAL(write_view(VIEW_RW, page + 10, "abc"), -EIO);
	ASSERT_VIEW_SIZE(VIEW_RO, page);
	ASSERT_VIEW_SIZE(VIEW_RW, page);
	ASSERT_VIEW_SIZE(VIEW_COW, 2 * page);
	ASSERT_FILE_SIZE(2 * page);
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 10, "ok"), 2);
	ASSERT_FILE_HOLDS(page + 10, "ok", 2);
}

static void test_fixed_window_cut_before_its_start(void)
{
	make_data(4 * page);
	fixture.entry.offset = 2 * page;
	fixture.entry.length = page;
	open_region();
	cut_file(page);
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 0, "abc"), -EIO);
	ASSERT_VIEW_SIZE(VIEW_RW, 0);
	ASSERT_VIEW_SIZE(VIEW_COW, page);
	ASSERT_FILE_SIZE(page);
}

static void test_cow_write_on_a_cut_page_is_eio(void)
{
	struct region_stats st;

	make_data(3 * page);
	open_region();
	cut_file(page);
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 2 * page, "x"), -EIO);
	ASSERT_VIEW_SIZE(VIEW_COW, 3 * page);
	ASSERT_VIEW_SIZE(VIEW_RO, page);
	region_get_stats(fixture.region, &st);
	CU_ASSERT_EQUAL(st.cow_private_bytes, 0);
	CU_ASSERT_EQUAL(write_view(VIEW_COW, 0, "mine"), 4);
	ASSERT_FILE_HOLDS(0, "\0\1\2\3", 4);
}

/* The reader's side: region_read_begin hands out the mapping; a copy of a
 * cut page out of it fails, and region_fault fits the region. */
static void test_read_of_a_cut_page_then_region_fault(void)
{
	const void *data = NULL;
	unsigned char buf[16];
	size_t n;

	make_data(3 * page);
	open_region();
	cut_file(page);
	n = region_read_begin(fixture.region, VIEW_RO, 2 * page, sizeof(buf), &data);
	CU_ASSERT_EQUAL(n, sizeof(buf));
	CU_ASSERT_EQUAL(n ? fault_copy(buf, data, n) : -1, EIO);
	region_read_end(fixture.region);
	region_fault(fixture.region, "a read");
	ASSERT_VIEW_SIZE(VIEW_RO, page);
	ASSERT_VIEW_SIZE(VIEW_COW, 3 * page);
	CU_ASSERT_EQUAL(read_view(VIEW_RO, 2 * page, buf, sizeof(buf)), 0);
	CU_ASSERT_EQUAL(read_view(VIEW_RO, 0, buf, sizeof(buf)), sizeof(buf));
	ASSERT_PATTERN(buf, 0, sizeof(buf));
}

/* region_fault fits a window of fixed length only ever down, never past
 * its length, and a following entry to wherever the file now ends. */
static void test_region_fault_fits_a_window_only_down(void)
{
	make_data(3 * page);
	fixture.entry.length = page;
	open_region();
	region_fault(fixture.region, "a read");
	ASSERT_VIEW_SIZE(VIEW_RW, page);
	ASSERT_VIEW_SIZE(VIEW_COW, page);
	ASSERT_FILE_SIZE(3 * page);
}

static void test_region_fault_fits_a_following_entry_to_the_file(void)
{
	make_data(page);
	open_region();
	cut_file(3 * page);
	region_fault(fixture.region, "a read");
	ASSERT_VIEW_SIZE(VIEW_RO, 3 * page);
	ASSERT_VIEW_SIZE(VIEW_RW, 3 * page);
	ASSERT_VIEW_SIZE(VIEW_COW, page);	/* its own size */
	cut_file(100);
	region_fault(fixture.region, "a read");
	ASSERT_VIEW_SIZE(VIEW_RW, 100);
	ASSERT_VIEW_SIZE(VIEW_COW, page);
}

static void test_move_from_a_cut_page_is_eio(void)
{
	struct region_stats st;
	char why[256] = "";
	unsigned char want[64];

	make_data(3 * page);
	open_region();
	cut_file(page);
	CU_ASSERT_EQUAL(region_move(fixture.region, VIEW_RW, 0, 2 * page, 10, why, sizeof(why)),
			EIO);
	CU_ASSERT_STRING_EQUAL(why, CUT_REASON);
	ASSERT_VIEW_SIZE(VIEW_RW, page);
	ASSERT_VIEW_SIZE(VIEW_COW, 3 * page);
	for (size_t i = 0; i < sizeof(want); i++)
		want[i] = pattern(i);
	ASSERT_FILE_HOLDS(0, want, sizeof(want));
	region_get_stats(fixture.region, &st);
	CU_ASSERT_EQUAL(st.moves, 0);
	CU_ASSERT_EQUAL(st.size, page);
}

static void test_move_into_a_cut_page_is_eio(void)
{
	char why[256] = "";

	make_data(3 * page);
	open_region();
	cut_file(page);
	CU_ASSERT_EQUAL(region_move(fixture.region, VIEW_RW, 2 * page, 0, 10, why, sizeof(why)),
			EIO);
	CU_ASSERT_STRING_EQUAL(why, CUT_REASON);
	ASSERT_VIEW_SIZE(VIEW_RW, page);
	ASSERT_FILE_SIZE(page);
	/* once fitted, the same move is out of range */
	CU_ASSERT_EQUAL(region_move(fixture.region, VIEW_RW, 2 * page, 0, 10, NULL, 0), EINVAL);
	CU_ASSERT_EQUAL(region_move(fixture.region, VIEW_RW, 5, 0, 10, NULL, 0), 0);
}

static void test_move_cow_on_a_cut_page_is_eio(void)
{
	struct region_stats st;
	char why[256] = "";

	make_data(3 * page);
	open_region();
	cut_file(page);
	CU_ASSERT_EQUAL(region_move(fixture.region, VIEW_COW, 0, 2 * page, 10, why, sizeof(why)),
			EIO);
	CU_ASSERT_STRING_EQUAL(why, CUT_REASON);
	ASSERT_VIEW_SIZE(VIEW_COW, 3 * page);
	region_get_stats(fixture.region, &st);
	CU_ASSERT_EQUAL(st.cow_private_bytes, 0);
	CU_ASSERT_EQUAL(st.moves, 0);
}

/* Through ctl_write: the command fails with EIO, says why in last_error,
 * and counts as one failed command. */
static void test_move_command_on_a_cut_page(void)
{
	struct region_stats st;
	struct ctl_effect effect;
	char cmd[64];

	make_data(3 * page);
	open_region();
	cut_file(page);
	snprintf(cmd, sizeof(cmd), "0 %" PRIu64 " 10\n", 2 * page);
	CU_ASSERT_EQUAL(ctl_write(fixture.region, CTL_MOVE, cmd, strlen(cmd), 0, &effect), EIO);
	region_get_stats(fixture.region, &st);
	CU_ASSERT_STRING_EQUAL(st.last_error, "move: " CUT_REASON);
	CHECK(st.errors == 1, "errors %" PRIu64 " after one failed command", st.errors);
	CU_ASSERT_EQUAL(st.moves, 0);
	CU_ASSERT_EQUAL(st.size, page);
	CU_ASSERT_EQUAL(st.file_size, page);
}

static void test_region_keeps_working_after_faults(void)
{
	unsigned char buf[8];

	make_data(3 * page);
	open_region();
	cut_file(page);
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 2 * page, "x"), -EIO);
	CU_ASSERT_EQUAL(region_move(fixture.region, VIEW_RW, 0, 0, 1, NULL, 0), 0);
	CU_ASSERT_EQUAL(region_resize(fixture.region, 3 * page, NULL, 0), 0);
	ASSERT_FILE_SIZE(3 * page);
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 2 * page, "again"), 5);
	ASSERT_FILE_HOLDS(2 * page, "again", 5);
	CU_ASSERT_EQUAL(region_move(fixture.region, VIEW_RW, 0, 2 * page, 5, NULL, 0), 0);
	ASSERT_FILE_HOLDS(0, "again", 5);
	CU_ASSERT_EQUAL(read_view(VIEW_RO, 2 * page, buf, 5), 5);
	CU_ASSERT_EQUAL(memcmp(buf, "again", 5), 0);
	CU_ASSERT_EQUAL(region_sync(fixture.region, 0, 3 * page, NULL, 0), 0);
}

void add_fault_suite(void)
{
	CU_pSuite s = CU_add_suite_with_setup_and_teardown("fault", init_suite, NULL,
							   region_fixture_setup, teardown);

	CU_ADD_TEST(s, test_setup_installs_a_sigbus_handler);
	CU_ADD_TEST(s, test_copy_within_the_file_works);
	CU_ADD_TEST(s, test_copy_from_a_cut_page_is_eio);
	CU_ADD_TEST(s, test_copy_into_a_cut_page_is_eio);
	CU_ADD_TEST(s, test_copy_straddling_the_new_end_is_eio);
	CU_ADD_TEST(s, test_many_faults_in_a_row);
	CU_ADD_TEST(s, test_fault_in_another_thread_is_eio);
	CU_ADD_TEST(s, test_copy_works_again_once_the_file_grows_back);
	CU_ADD_TEST(s, test_sigbus_outside_a_copy_still_kills);
	CU_ADD_TEST(s, test_rw_write_past_the_cut_end_is_eio);
	CU_ADD_TEST(s, test_rw_write_past_a_cut_mid_page_is_eio);
	CU_ADD_TEST(s, test_large_rw_write_past_the_cut_end_is_eio);
	CU_ADD_TEST(s, test_large_cow_write_over_the_cut_file_is_eio);
	CU_ADD_TEST(s, test_rw_write_following_from_an_offset);
	CU_ADD_TEST(s, test_fixed_window_shrinks_to_what_is_left);
	CU_ADD_TEST(s, test_fixed_window_cut_before_its_start);
	CU_ADD_TEST(s, test_cow_write_on_a_cut_page_is_eio);
	CU_ADD_TEST(s, test_read_of_a_cut_page_then_region_fault);
	CU_ADD_TEST(s, test_region_fault_fits_a_window_only_down);
	CU_ADD_TEST(s, test_region_fault_fits_a_following_entry_to_the_file);
	CU_ADD_TEST(s, test_move_from_a_cut_page_is_eio);
	CU_ADD_TEST(s, test_move_into_a_cut_page_is_eio);
	CU_ADD_TEST(s, test_move_cow_on_a_cut_page_is_eio);
	CU_ADD_TEST(s, test_move_command_on_a_cut_page);
	CU_ADD_TEST(s, test_region_keeps_working_after_faults);
}
