/*
 * test_coherence.c - what the kernel may keep of the views (coherence.h),
 * without a kernel: no session is started, so invalidations go nowhere and
 * what is tested is the bookkeeping that decides them.
 */
#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "coherence.h"
#include "tests.h"

static struct coherence *c;

static void setup(void)
{
	region_fixture_setup();
}

static void teardown(void)
{
	if (c)
		coherence_free(c);
	c = NULL;
	region_fixture_teardown();
}

static bool open_keeps(size_t slot, unsigned view)
{
	coherence_open(c, slot, view, false);
	return coherence_keep_cache(c, slot, view, fixture.region);
}

/* Sets the backing file's times to SECONDS after the epoch, and waits
 * until its ctime, which that sets to now, is older than a clock tick, so
 * that the file's stamp can be trusted. */
static void set_file_times(time_t seconds)
{
	struct timespec times[2] = { { seconds, 0 }, { seconds, 0 } };
	struct timespec tick = { 0, 150 * 1000 * 1000 };

	CU_ASSERT_EQUAL_FATAL(utimensat(AT_FDCWD, fixture.entry.path, times, 0), 0);
	nanosleep(&tick, NULL);
}

static void test_opens_count_each_view_and_slot_apart(void)
{
	c = coherence_new(false);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(coherence_opens(c, 0, VIEW_RO), 0);
	coherence_open(c, 0, VIEW_RO, false);
	coherence_open(c, 0, VIEW_RO, false);
	coherence_open(c, 0, VIEW_COW, false);
	coherence_open(c, 300, VIEW_RW, false);	/* a slot in another chunk */
	CU_ASSERT_EQUAL(coherence_opens(c, 0, VIEW_RO), 2);
	CU_ASSERT_EQUAL(coherence_opens(c, 0, VIEW_RW), 0);
	CU_ASSERT_EQUAL(coherence_opens(c, 0, VIEW_COW), 1);
	CU_ASSERT_EQUAL(coherence_opens(c, 1, VIEW_RO), 0);
	CU_ASSERT_EQUAL(coherence_opens(c, 300, VIEW_RW), 1);
	coherence_release(c, 0, VIEW_RO, false);
	coherence_release(c, 300, VIEW_RW, false);
	CU_ASSERT_EQUAL(coherence_opens(c, 0, VIEW_RO), 1);
	CU_ASSERT_EQUAL(coherence_opens(c, 300, VIEW_RW), 0);
}

static void test_anonymous_views_keep_their_cache_until_changed(void)
{
	fixture.entry.path = NULL;
	fixture.entry.anonymous = true;
	fixture.entry.length = 4096;
	open_region();
	c = coherence_new(false);
	CU_ASSERT_FALSE(open_keeps(0, VIEW_RO));	/* a first open never */
	CU_ASSERT_TRUE(open_keeps(0, VIEW_RO));
	CU_ASSERT_FALSE(open_keeps(0, VIEW_RW));
	CU_ASSERT_TRUE(open_keeps(0, VIEW_RW));
	coherence_changed(c, 0, VIEW_RO, 0, 0);
	CU_ASSERT_FALSE(open_keeps(0, VIEW_RO));
	CU_ASSERT_TRUE(open_keeps(0, VIEW_RW));	/* only what changed */
	CU_ASSERT_TRUE(open_keeps(0, VIEW_RO));
	CU_ASSERT_FALSE(open_keeps(1, VIEW_RO));	/* another slot: its own */
}

/* A file can be written by others through their own mappings, which
 * changes no file time: close-to-open drops the cache at every open. */
static void test_file_views_never_keep_their_cache_by_default(void)
{
	make_data(4096);
	set_file_times(1000000000);
	open_region();
	c = coherence_new(false);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_FALSE(open_keeps(0, VIEW_RO));
}

static void test_kernel_cache_keeps_file_views_until_the_file_changes(void)
{
	make_data(4096);
	set_file_times(1000000000);
	open_region();
	c = coherence_new(true);
	CU_ASSERT_FALSE(open_keeps(0, VIEW_RO));
	CU_ASSERT_TRUE(open_keeps(0, VIEW_RO));
	set_file_times(1000000001);
	CU_ASSERT_FALSE(open_keeps(0, VIEW_RO));
	CU_ASSERT_TRUE(open_keeps(0, VIEW_RO));
	coherence_changed(c, 0, VIEW_ALL, 0, 0);
	CU_ASSERT_FALSE(open_keeps(0, VIEW_RO));
}

/* Times within a clock tick of now may have a twin: never trusted. */
static void test_a_file_changed_just_now_is_never_trusted(void)
{
	make_data(4096);
	open_region();
	c = coherence_new(true);
	CU_ASSERT_FALSE(open_keeps(0, VIEW_RO));
	CU_ASSERT_FALSE(open_keeps(0, VIEW_RO));
}

static void count_call(void *arg)
{
	(*(int *)arg)++;
}

/* Without a kernel nothing is sent: a held reply goes at once, whether or
 * not a view is open, and exactly once. */
static void test_a_held_reply_goes_once_nothing_is_left_to_drop(void)
{
	const struct ctl_effect stale[] = { { VIEW_RO, 0, 0 }, { VIEW_RW, 4096, 4096 } };
	int calls = 0;

	c = coherence_new(false);
	coherence_changed_then(c, 0, stale, 2, count_call, &calls);
	CU_ASSERT_EQUAL(calls, 1);
	coherence_open(c, 0, VIEW_RO, false);
	coherence_changed_then(c, 0, stale, 2, count_call, &calls);
	CU_ASSERT_EQUAL(calls, 2);
	coherence_changed_then(c, 0, stale, 0, count_call, &calls);
	CU_ASSERT_EQUAL(calls, 3);
}

void add_coherence_suite(void)
{
	CU_pSuite s = CU_add_suite_with_setup_and_teardown("coherence", NULL, NULL,
							   setup, teardown);

	CU_ADD_TEST(s, test_opens_count_each_view_and_slot_apart);
	CU_ADD_TEST(s, test_anonymous_views_keep_their_cache_until_changed);
	CU_ADD_TEST(s, test_file_views_never_keep_their_cache_by_default);
	CU_ADD_TEST(s, test_kernel_cache_keeps_file_views_until_the_file_changes);
	CU_ADD_TEST(s, test_a_file_changed_just_now_is_never_trusted);
	CU_ADD_TEST(s, test_a_held_reply_goes_once_nothing_is_left_to_drop);
}
