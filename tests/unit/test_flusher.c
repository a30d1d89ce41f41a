/*
 * test_flusher.c - flusher.h and SPEC "flush_interval": every INTERVAL
 * seconds each rw region of the table is flushed, which its `flushes`
 * counter shows; 0 flushes nothing; a new interval takes effect at once;
 * stopping never waits for the interval to run out.
 *
 * Each test gets a fresh folder with a table of four entries: a file
 * without an rw view (ro.dat), which the flusher must leave alone, then
 * two files with an rw view (one/two.dat, two last) and an anonymous one
 * (rw too).
 */
#include <CUnit/CUnit.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flusher.h"
#include "table.h"
#include "tests.h"

#define RW_ENTRIES 3
static const char *const rw_names[RW_ENTRIES] = { "one", "two", "anon" };

static char *dir;
static struct table *t;
static struct flusher *f;

static void make_backing(const char *file, size_t size)
{
	char *path = path_join(dir, file), *data = calloc(1, size);

	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	file_write(path, data, size);
	free(data);
	free(path);
}

static void setup(void)
{
	char *made = tmpdir_make(), *ini;
	struct config cfg = { 0 };
	struct errors errs = { 0 };
	static const char text[] =
		"[ro]\npath = ro.dat\nviews = ro, cow\n"
		"[one]\npath = one.dat\n"
		"[anon]\nanonymous = yes\nlength = 4K\n"
		"[two]\npath = two.dat\nviews = rw\n";

	dir = realpath(made, NULL);
	free(made);
	make_backing("one.dat", 8192);
	make_backing("two.dat", 100);
	make_backing("ro.dat", 4096);
	ini = path_join(dir, "flush.ini");
	file_write(ini, text, strlen(text));
	if (config_load(ini, &cfg, &errs) == 0)
		t = table_new(&cfg, &errs);
	if (!t)
		fprintf(stderr, "flusher suite: %s\n", errs.count ? errs.lines[0] : "?");
	config_free(&cfg);
	errors_free(&errs);
	free(ini);
}

static void teardown(void)
{
	if (f)
		flusher_stop(f);
	f = NULL;
	if (t)
		table_free(t);
	t = NULL;
	tmpdir_remove(dir);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_for(double seconds)
{
	struct timespec ts = { (time_t)seconds,
			       (long)((seconds - (double)(time_t)seconds) * 1e9) };

	nanosleep(&ts, NULL);
}

/* The flushes counter of entry NAME. */
static uint64_t flushes(const char *name)
{
	long slot = table_find(t, name);
	struct region_stats st;
	struct region *r = slot >= 0 ? table_get(t, (size_t)slot) : NULL;

	if (!r)
		CHECK_FATAL(false, "no region for entry %s", name);
	region_get_stats(r, &st);
	table_put(t, (size_t)slot);
	return st.flushes;
}

/* How many rw entries have been flushed at least once (ro.dat never). */
static int rw_flushed(void)
{
	int n = 0;

	for (int i = 0; i < RW_ENTRIES; i++)
		n += flushes(rw_names[i]) > 0;
	return n;
}

/* Waits up to SECONDS for every rw entry to be flushed; the seconds it took. */
static double wait_for_flushes(double seconds)
{
	double start = now();

	while (rw_flushed() < RW_ENTRIES && now() - start < seconds)
		sleep_for(0.02);
	return now() - start;
}

/* Asserts that every rw entry was flushed within ~2.5 s, and ro.dat not. */
#define ASSERT_FLUSHED_SOON() \
	do { \
		double took_ = wait_for_flushes(2.5); \
		CHECK(rw_flushed() == RW_ENTRIES, "%d of %d rw entries flushed " \
		      "in %.1f s", rw_flushed(), RW_ENTRIES, took_); \
		CU_ASSERT_EQUAL(flushes("ro"), 0); \
	} while (0)

static void start_flusher(unsigned interval)
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	f = flusher_start(t, interval);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
}

static void *stop_thread(void *arg)
{
	flusher_stop(arg);
	return NULL;
}

/* Asserts that flusher_stop returns in under a second. It runs on a thread
 * of its own, so that a stop that hangs fails the test instead; the flusher
 * is then left as it is, and so is the table it uses. */
static void assert_stops_promptly(void)
{
	struct timespec until;
	double start = now(), took;
	pthread_t th;
	bool joined;

	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, stop_thread, f), 0);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 2;
	joined = pthread_timedjoin_np(th, NULL, &until) == 0;
	took = now() - start;
	if (!joined) {
		pthread_detach(th);
		t = NULL;	/* in use by the flusher that does not stop */
	}
	f = NULL;
	CHECK_FATAL(joined, "flusher_stop has not returned after %.2f s", took);
	CHECK(took < 1.0, "flusher_stop took %.2f s", took);
}

static void test_interval_1_flushes_every_rw_region(void)
{
	start_flusher(1);
	CU_ASSERT_EQUAL(rw_flushed(), 0);	/* not at once: after 1 s */
	ASSERT_FLUSHED_SOON();
	assert_stops_promptly();
}

static void test_interval_0_does_not_flush(void)
{
	start_flusher(0);
	sleep_for(1.5);
	CU_ASSERT_EQUAL(rw_flushed(), 0);
	CU_ASSERT_EQUAL(flushes("ro"), 0);
	assert_stops_promptly();
}

static void test_set_interval_from_0_to_1_starts_flushing(void)
{
	start_flusher(0);
	sleep_for(0.1);
	CU_ASSERT_EQUAL(rw_flushed(), 0);
	flusher_set_interval(f, 1);
	ASSERT_FLUSHED_SOON();
	assert_stops_promptly();
}

static void test_set_interval_shorter_takes_effect_at_once(void)
{
	start_flusher(3600);
	sleep_for(0.1);
	flusher_set_interval(f, 1);	/* not after the hour */
	ASSERT_FLUSHED_SOON();
	assert_stops_promptly();
}

static void test_stop_is_prompt_with_a_long_interval(void)
{
	start_flusher(3600);
	sleep_for(0.1);		/* the thread is waiting by now */
	assert_stops_promptly();
	CU_ASSERT_EQUAL(rw_flushed(), 0);
	start_flusher(0);
	sleep_for(0.1);
	assert_stops_promptly();
	start_flusher(3600);	/* and right after the start */
	assert_stops_promptly();
}

void add_flusher_suite(void)
{
	CU_pSuite s = CU_add_suite_with_setup_and_teardown("flusher", NULL, NULL,
							   setup, teardown);

	CU_ADD_TEST(s, test_interval_1_flushes_every_rw_region);
	CU_ADD_TEST(s, test_interval_0_does_not_flush);
	CU_ADD_TEST(s, test_set_interval_from_0_to_1_starts_flushing);
	CU_ADD_TEST(s, test_set_interval_shorter_takes_effect_at_once);
	CU_ADD_TEST(s, test_stop_is_prompt_with_a_long_interval);
}
