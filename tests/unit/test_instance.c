/*
 * test_instance.c - cow instances (instance.h, region.h's cow-view calls)
 * and `changes`/`commit` (SPEC "Cow instances", "Control files") on real
 * files, with the region fixture of tests.h; and their inode numbers.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cow.h"
#include "ctl.h"
#include "instance.h"
#include "node.h"
#include "tests.h"

static uint64_t page;

static int init_suite(void)
{
	long size = sysconf(_SC_PAGESIZE);

	page = (uint64_t)size;
	return size > 0 ? 0 : -1;
}

static void teardown(void)
{
	cow_set_limit(0);
	region_fixture_teardown();
}

static struct instance_table *table(void)
{
	return region_instances(fixture.region);
}

/* Forks TAG from IN (NULL: cow/NAME); returns the errno. */
static int fork_tag(struct instance *in, const char *tag)
{
	char why[REASON_MAX];

	return region_cow_fork(fixture.region, in, tag, why, sizeof(why));
}

static struct instance *find(const char *tag)
{
	return instance_find(table(), tag);
}

static void put(struct instance *in)
{
	instance_put(table(), in);
}

static size_t changes(struct instance *in, char *buf, size_t len)
{
	return region_cow_changes(fixture.region, in, buf, len);
}

static int write_in(struct instance *in, uint64_t off, const char *text)
{
	size_t written;

	return region_cow_write(fixture.region, in, text, strlen(text), &off, 0, &written);
}

/* Asserts that IN's view holds TEXT at OFF. */
static void assert_holds(struct instance *in, uint64_t off, const char *text)
{
	const void *data;
	size_t len = region_cow_read_begin(fixture.region, in, off, strlen(text), &data);

	CHECK(len == strlen(text) && memcmp(data, text, len) == 0,
	      "view at %llu holds %s, want %s", (unsigned long long)off,
	      shown(data, len), text);
	region_read_end(fixture.region);
}

static void test_tags(void)
{
	char long_tag[INSTANCE_TAG_MAX + 2];

	CU_ASSERT_TRUE(instance_tag_valid("w1"));
	CU_ASSERT_TRUE(instance_tag_valid("a.b_c-D9"));
	CU_ASSERT_TRUE(instance_tag_valid("..."));
	CU_ASSERT_FALSE(instance_tag_valid(""));
	CU_ASSERT_FALSE(instance_tag_valid("."));
	CU_ASSERT_FALSE(instance_tag_valid(".."));
	CU_ASSERT_FALSE(instance_tag_valid("a/b"));
	CU_ASSERT_FALSE(instance_tag_valid("a@b"));
	CU_ASSERT_FALSE(instance_tag_valid("a b"));
	memset(long_tag, 'x', sizeof(long_tag));
	long_tag[INSTANCE_TAG_MAX] = '\0';
	CU_ASSERT_TRUE(instance_tag_valid(long_tag));
	long_tag[INSTANCE_TAG_MAX] = 'x';
	long_tag[INSTANCE_TAG_MAX + 1] = '\0';
	CU_ASSERT_FALSE(instance_tag_valid(long_tag));
}

static void test_fork_copies_the_view_and_is_independent(void)
{
	struct instance *a;

	make_data(4 * page);
	open_region();
	CU_ASSERT_EQUAL(write_in(NULL, 10, "main"), 0);
	CU_ASSERT_EQUAL(fork_tag(NULL, "a"), 0);
	a = find("a");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	assert_holds(a, 10, "main");
	CU_ASSERT_EQUAL(region_cow_size(fixture.region, a), 4 * page);
	CU_ASSERT_EQUAL(cow_private_bytes(&a->cow), page);
	CU_ASSERT_EQUAL(write_in(a, 10, "inst"), 0);
	CU_ASSERT_EQUAL(write_in(NULL, 20, "late"), 0);
	assert_holds(NULL, 10, "main");
	assert_holds(a, 10, "inst");
	ASSERT_FILE_UNTOUCHED(0, 4 * page);
	/* Pages it has not written still show the file. */
	CU_ASSERT_EQUAL(write_view(VIEW_RW, 3 * page, "file"), 4);
	assert_holds(a, 3 * page, "file");
	put(a);
}

static void test_fork_errors(void)
{
	char name[300];

	make_data(page);
	open_region();
	CU_ASSERT_EQUAL(fork_tag(NULL, "x"), 0);
	CU_ASSERT_EQUAL(fork_tag(NULL, "x"), EEXIST);
	CU_ASSERT_EQUAL(fork_tag(NULL, ".."), EINVAL);
	CU_ASSERT_EQUAL(fork_tag(NULL, "a/b"), EINVAL);
	memset(name, 'y', 64);
	name[64] = '\0';
	CU_ASSERT_EQUAL(fork_tag(NULL, name), 0);	/* e@ + 64 fits */
	memset(name, 'n', 251);
	name[251] = '\0';	/* NAME@TAG: 251 + 1 + 3 = 255 bytes fit, 256 do not */
	CU_ASSERT_EQUAL(instance_check(table(), name, "tag", NULL, 0), 0);
	CU_ASSERT_EQUAL(instance_check(table(), name, "tag2", NULL, 0), EINVAL);
}

static void test_a_thousand_instances_and_no_more(void)
{
	char tag[16];
	struct instance *in;

	make_data(page);
	open_region();
	for (int i = 0; i < INSTANCE_MAX; i++) {
		snprintf(tag, sizeof(tag), "t%d", i);
		CU_ASSERT_EQUAL_FATAL(fork_tag(NULL, tag), 0);
	}
	CU_ASSERT_EQUAL(fork_tag(NULL, "more"), ENOSPC);
	/* A dropped instance still held counts toward nothing but memory. */
	in = find("t0");
	CU_ASSERT_TRUE(instance_drop(table(), in));
	CU_ASSERT_FALSE(instance_drop(table(), in));
	CU_ASSERT_EQUAL(fork_tag(NULL, "more"), 0);
	CU_ASSERT_EQUAL(instance_count(table()), INSTANCE_MAX);
	put(in);
}

static void test_ids_are_never_reused(void)
{
	struct instance *a, *b;
	uint64_t first;

	make_data(page);
	open_region();
	CU_ASSERT_EQUAL(fork_tag(NULL, "t"), 0);
	a = find("t");
	first = a->id;
	instance_drop(table(), a);
	CU_ASSERT_PTR_NULL(find("t"));
	CU_ASSERT_PTR_EQUAL(instance_get(table(), first), a);	/* held: still there */
	put(a);
	put(a);		/* the last put frees it */
	CU_ASSERT_PTR_NULL(instance_get(table(), first));
	CU_ASSERT_EQUAL(fork_tag(NULL, "t"), 0);
	b = find("t");
	CU_ASSERT(b->id > first);
	put(b);
}

static void test_tags_in_creation_order(void)
{
	char tags[64], tag[INSTANCE_TAG_MAX + 1];
	struct instance *b;
	uint64_t id;

	make_data(page);
	open_region();
	instance_tags(table(), tags, sizeof(tags));
	CU_ASSERT_STRING_EQUAL(tags, "none");
	CU_ASSERT_EQUAL(fork_tag(NULL, "c"), 0);
	CU_ASSERT_EQUAL(fork_tag(NULL, "a"), 0);
	CU_ASSERT_EQUAL(fork_tag(NULL, "b"), 0);
	instance_tags(table(), tags, sizeof(tags));
	CU_ASSERT_STRING_EQUAL(tags, "c a b");
	b = find("a");
	instance_drop(table(), b);
	put(b);
	instance_tags(table(), tags, sizeof(tags));
	CU_ASSERT_STRING_EQUAL(tags, "c b");
	CU_ASSERT_TRUE(instance_nth(table(), 1, &id, tag, sizeof(tag)));
	CU_ASSERT_STRING_EQUAL(tag, "b");
	CU_ASSERT_FALSE(instance_nth(table(), 2, &id, tag, sizeof(tag)));
}

static void test_fork_past_cow_limit_is_enospc(void)
{
	make_data(4 * page);
	open_region();
	CU_ASSERT_EQUAL(write_in(NULL, 0, "x"), 0);
	CU_ASSERT_EQUAL(write_in(NULL, page, "x"), 0);
	cow_set_limit(3 * page);
	CU_ASSERT_EQUAL(fork_tag(NULL, "a"), ENOSPC);
	CU_ASSERT_EQUAL(cow_total_private(), 2 * page);
	CU_ASSERT_PTR_NULL(find("a"));
	cow_set_limit(4 * page);
	CU_ASSERT_EQUAL(fork_tag(NULL, "a"), 0);
	CU_ASSERT_EQUAL(cow_total_private(), 4 * page);
}

static void test_changes_lists_merged_runs(void)
{
	char text[256];

	make_data(8 * page);
	open_region();
	CU_ASSERT_EQUAL(changes(NULL, text, sizeof(text)), 0);
	CU_ASSERT_EQUAL(write_in(NULL, page + 5, "a"), 0);
	CU_ASSERT_EQUAL(write_in(NULL, 2 * page, "b"), 0);
	CU_ASSERT_EQUAL(write_in(NULL, 5 * page, "c"), 0);
	changes(NULL, text, sizeof(text));
	snprintf(text + 200, 56, "%llu %llu\n%llu %llu\n", (unsigned long long)page,
		 (unsigned long long)(2 * page), (unsigned long long)(5 * page),
		 (unsigned long long)page);
	CU_ASSERT_STRING_EQUAL(text, text + 200);
}

/* Cut to whole lines; the return says how long the whole text is. */
static void test_changes_cut_to_whole_lines(void)
{
	char text[256], want[256];
	size_t whole;

	make_data(8 * page);
	open_region();
	for (uint64_t p = 0; p < 8; p += 2)
		CU_ASSERT_EQUAL(write_in(NULL, p * page, "w"), 0);
	whole = changes(NULL, text, sizeof(text));
	CU_ASSERT_EQUAL(whole, strlen(text));
	snprintf(want, sizeof(want), "0 %llu\n%llu %llu\n", (unsigned long long)page,
		 (unsigned long long)(2 * page), (unsigned long long)page);
	CU_ASSERT_EQUAL(changes(NULL, text, strlen(want) + 1), whole);
	CU_ASSERT_STRING_EQUAL(text, want);
	CU_ASSERT_EQUAL(changes(NULL, text, strlen(want)), whole);
	CU_ASSERT_EQUAL(strlen(text), strlen(want) - strlen(strchr(want, '\n') + 1));
}

static void test_changes_past_the_base_cut_at_the_size(void)
{
	char text[128], want[128];

	make_data(2 * page);
	open_region();
	CU_ASSERT_EQUAL(region_cow_truncate(fixture.region, NULL, page + 100), 0);
	CU_ASSERT_EQUAL(region_cow_truncate(fixture.region, NULL, 3 * page + 7), 0);
	changes(NULL, text, sizeof(text));
	snprintf(want, sizeof(want), "%llu %llu\n", (unsigned long long)page,
		 (unsigned long long)(2 * page + 7));
	CU_ASSERT_STRING_EQUAL(text, want);
}

static void test_commit_writes_the_view_and_starts_afresh(void)
{
	char text[64], why[REASON_MAX];

	make_data(4 * page);
	open_region();
	CU_ASSERT_EQUAL(write_in(NULL, page + 1, "commit"), 0);
	CU_ASSERT_EQUAL(region_cow_truncate(fixture.region, NULL, 5 * page), 0);
	CU_ASSERT_EQUAL(region_cow_commit(fixture.region, NULL, why, sizeof(why)), 0);
	ASSERT_FILE_SIZE(5 * page);
	ASSERT_FILE_HOLDS(page + 1, "commit", 6);
	ASSERT_FILE_UNTOUCHED(0, page);
	ASSERT_VIEW_SIZE(VIEW_RW, 5 * page);
	CU_ASSERT_EQUAL(changes(NULL, text, sizeof(text)), 0);
	CU_ASSERT_EQUAL(cow_total_private(), 0);
	assert_holds(NULL, page + 1, "commit");
}

static void test_commit_of_an_instance_shows_in_the_others(void)
{
	char why[REASON_MAX];
	struct instance *a;

	make_data(4 * page);
	open_region();
	CU_ASSERT_EQUAL(fork_tag(NULL, "a"), 0);
	a = find("a");
	CU_ASSERT_EQUAL(write_in(a, 100, "from-a"), 0);
	CU_ASSERT_EQUAL(write_in(NULL, 3 * page, "mine"), 0);
	CU_ASSERT_EQUAL(region_cow_commit(fixture.region, a, why, sizeof(why)), 0);
	ASSERT_FILE_HOLDS(100, "from-a", 6);
	assert_holds(NULL, 100, "from-a");	/* not written there: the file */
	assert_holds(NULL, 3 * page, "mine");
	CU_ASSERT_EQUAL(a->counters.commits, 1);
	put(a);
}

/* A following entry's region takes the file's size; its cow view keeps
 * its own, which resizable = no cannot commit. */
static void test_commit_of_another_size_not_resizable_is_eperm(void)
{
	char why[REASON_MAX];
	bool changed;

	fixture.entry.resizable = false;
	make_data(2 * page);
	open_region();
	CU_ASSERT_EQUAL(write_in(NULL, 0, "x"), 0);
	CU_ASSERT_EQUAL(region_cow_commit(fixture.region, NULL, why, sizeof(why)), 0);
	ASSERT_FILE_HOLDS(0, "x", 1);
	CU_ASSERT_EQUAL(write_in(NULL, 0, "y"), 0);
	CU_ASSERT_EQUAL(truncate(fixture.path, 3 * (off_t)page), 0);
	CU_ASSERT_EQUAL(region_refresh(fixture.region, &changed), 0);
	CU_ASSERT_EQUAL(region_cow_commit(fixture.region, NULL, why, sizeof(why)), EPERM);
	ASSERT_FILE_HOLDS(0, "x", 1);
	assert_holds(NULL, 0, "y");
}

static void test_shrinking_commit_cuts_the_others_bases(void)
{
	char why[REASON_MAX], text[64], want[64];
	struct instance *a;

	make_data(4 * page);
	open_region();
	CU_ASSERT_EQUAL(write_in(NULL, 3 * page, "kept"), 0);
	CU_ASSERT_EQUAL(fork_tag(NULL, "a"), 0);
	a = find("a");
	CU_ASSERT_EQUAL(region_cow_truncate(fixture.region, a, 2 * page), 0);
	CU_ASSERT_EQUAL(region_cow_commit(fixture.region, a, why, sizeof(why)), 0);
	ASSERT_FILE_SIZE(2 * page);
	assert_holds(NULL, 3 * page, "kept");
	changes(NULL, text, sizeof(text));
	snprintf(want, sizeof(want), "%llu %llu\n", (unsigned long long)(2 * page),
		 (unsigned long long)(2 * page));
	CU_ASSERT_STRING_EQUAL(text, want);
	put(a);
}

/* A commit that fails on the way: its errno, the view as it was, and how
 * far it got (a file size limit stops the second page). */
static void test_a_failed_commit_says_how_far_it_got(void)
{
	struct rlimit old, low = { 2 * page, 2 * page };
	char why[REASON_MAX], before[128], after[128];
	void (*was)(int) = signal(SIGXFSZ, SIG_IGN);
	int err;

	make_data(4 * page);
	open_region();
	CU_ASSERT_EQUAL(write_in(NULL, 0, "first"), 0);
	CU_ASSERT_EQUAL(write_in(NULL, 3 * page, "last"), 0);
	changes(NULL, before, sizeof(before));
	getrlimit(RLIMIT_FSIZE, &old);
	low.rlim_max = old.rlim_max;
	CU_ASSERT_EQUAL_FATAL(setrlimit(RLIMIT_FSIZE, &low), 0);
	err = region_cow_commit(fixture.region, NULL, why, sizeof(why));
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, was);
	CU_ASSERT_EQUAL(err, EFBIG);
	CHECK(strstr(why, "copied") != NULL, "reason: %s", why);
	changes(NULL, after, sizeof(after));
	CU_ASSERT_STRING_EQUAL(after, before);
	assert_holds(NULL, 3 * page, "last");
	ASSERT_FILE_HOLDS(0, "first", 5);	/* part of the copy */
	ASSERT_FILE_UNTOUCHED(3 * page, page);
}

static void test_ctl_status_of_an_instance(void)
{
	struct ctl_effect effect;
	struct instance *a;
	char text[CTL_READ_MAX];

	make_data(page);
	open_region();
	CU_ASSERT_EQUAL(ctl_write(fixture.region, CTL_FORK, "w1\n", 3, 0, &effect), 0);
	a = find("w1");
	CU_ASSERT_EQUAL(ctl_write_in(fixture.region, a, CTL_FORK, "w2", 2, 0, &effect), 0);
	CU_ASSERT_EQUAL(ctl_write_in(fixture.region, a, CTL_FORK, "w2", 2, 0, &effect), EEXIST);
	ctl_read_in(fixture.region, a, CTL_STATUS, text, sizeof(text));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "name: e@w1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "forks: 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "errors: 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "instances: w1 w2\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "last_error: fork: e@w2 exists\n"));
	ctl_read(fixture.region, CTL_STATUS, text, sizeof(text));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "forks: 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "errors: 0\n"));
	CU_ASSERT_EQUAL(ctl_write_in(fixture.region, a, CTL_DROP, "", 0, 0, &effect), 0);
	CU_ASSERT_EQUAL(ctl_write_in(fixture.region, a, CTL_DROP, "", 0, 0, &effect), ESTALE);
	put(a);
}

static void test_ctl_without_views_is_erofs(void)
{
	struct ctl_effect effect;

	fixture.entry.views = VIEW_RO | VIEW_COW;
	make_data(page);
	open_region();
	CU_ASSERT_EQUAL(ctl_write(fixture.region, CTL_COMMIT, "", 0, 0, &effect), EROFS);
	CU_ASSERT_EQUAL(ctl_write(fixture.region, CTL_FORK, "a", 1, 0, &effect), 0);
	CU_ASSERT_EQUAL(ctl_write(fixture.region, CTL_CHANGES, "", 0, 0, &effect), EINVAL);
}

static void test_instance_numbers(void)
{
	size_t slot;
	enum node_kind kind;
	uint64_t ino = node_instance_ino(7, 12345, NODE_COW);

	CU_ASSERT((ino & NODE_INSTANCE_BIT) != 0);
	CU_ASSERT_TRUE(node_decode(ino, &slot, &kind));
	CU_ASSERT_EQUAL(slot, 7);
	CU_ASSERT_EQUAL(kind, NODE_COW);
	CU_ASSERT_EQUAL(node_instance_id(ino), 12345);
	CU_ASSERT_EQUAL(node_instance_id(node_ino(7, NODE_COW)), 0);
	CU_ASSERT_NOT_EQUAL(node_instance_ino(7, 12346, NODE_COW), ino);
	CU_ASSERT_NOT_EQUAL(node_instance_ino(8, 12345, NODE_COW), ino);
	ino = node_instance_ino(0, INSTANCE_ID_MAX, node_of_ctl_file(CTL_STATUS));
	CU_ASSERT_TRUE(node_decode(ino, &slot, &kind));
	CU_ASSERT_EQUAL(slot, 0);
	CU_ASSERT_EQUAL(node_ctl_file(kind), CTL_STATUS);
	CU_ASSERT_EQUAL(node_instance_ino(0, 0, NODE_COW), 0);
	CU_ASSERT_EQUAL(node_instance_ino(0, INSTANCE_ID_MAX + 1, NODE_COW), 0);
	CU_ASSERT_EQUAL(node_instance_ino((size_t)1 << NODE_INSTANCE_SLOT_BITS, 1, NODE_COW), 0);
	/* An instance has no ro or rw view. */
	CU_ASSERT_FALSE(node_decode(node_instance_ino(1, 1, NODE_COW) - NODE_COW + NODE_RO,
				    &slot, &kind));
}

/* ---- a reload's change of views ---- */

/* Changes the region's views to VIEWS, as a reload does; must succeed. */
static void change_views(unsigned views)
{
	struct region_views *v = NULL;
	char why[REASON_MAX] = "";

	CHECK_FATAL(region_views_prepare(fixture.region, views, &v, why, sizeof(why)) == 0,
		    "region_views_prepare(%#x): %s", views, why);
	region_views_apply(fixture.region, v);
}

/* SPEC "Cow instances": a reload that changes the views drops the
 * instances as drop does: their names go at once, what holds them goes on
 * until it lets go; cow/NAME keeps its writes. */
static void test_other_views_drop_the_instances(void)
{
	uint64_t before = cow_total_private();
	struct instance *a;

	make_data(2 * page);
	open_region();
	CU_ASSERT_EQUAL(write_in(NULL, 0, "main"), 0);
	CU_ASSERT_EQUAL(fork_tag(NULL, "a"), 0);
	a = find("a");		/* held, as by an open descriptor */
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(write_in(a, page, "inst"), 0);
	change_views(VIEW_RO | VIEW_COW);
	CU_ASSERT_EQUAL(instance_count(table()), 0);
	CU_ASSERT_PTR_NULL(find("a"));
	CU_ASSERT_FALSE(a->named);
	assert_holds(a, page, "inst");
	assert_holds(NULL, 0, "main");
	CU_ASSERT_EQUAL(fork_tag(NULL, "a"), 0);	/* the tag is free again */
	CU_ASSERT_EQUAL(cow_total_private(), before + 4 * page);
	put(a);			/* the last hold: freed */
	CU_ASSERT_EQUAL(cow_total_private(), before + 2 * page);
}

/* Without the cow view no node of an instance is served (fs: ESTALE, the
 * releases of their descriptors too), so none would ever be put: they
 * are freed at once, held ones included, their pages given back. */
static void test_views_without_cow_free_the_instances(void)
{
	uint64_t before = cow_total_private();
	struct instance *a;

	make_data(2 * page);
	open_region();
	CU_ASSERT_EQUAL(write_in(NULL, 0, "main"), 0);
	CU_ASSERT_EQUAL(fork_tag(NULL, "a"), 0);
	CU_ASSERT_EQUAL(fork_tag(NULL, "b"), 0);
	a = find("a");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	instance_opened(table(), a);	/* an open descriptor, never released */
	CU_ASSERT_EQUAL(cow_total_private(), before + 3 * page);
	change_views(VIEW_RO | VIEW_RW);
	CU_ASSERT_EQUAL(cow_total_private(), before);
	CU_ASSERT_EQUAL(instance_count(table()), 0);
	CU_ASSERT_FALSE(instance_any_open(table()));
	change_views(VIEW_ALL);
	CU_ASSERT_EQUAL(fork_tag(NULL, "a"), 0);
	CU_ASSERT_EQUAL(instance_count(table()), 1);
}

void add_instance_suite(void)
{
	CU_pSuite s = CU_add_suite_with_setup_and_teardown("instance", init_suite, NULL,
							   region_fixture_setup, teardown);

	CU_ADD_TEST(s, test_tags);
	CU_ADD_TEST(s, test_fork_copies_the_view_and_is_independent);
	CU_ADD_TEST(s, test_fork_errors);
	CU_ADD_TEST(s, test_a_thousand_instances_and_no_more);
	CU_ADD_TEST(s, test_ids_are_never_reused);
	CU_ADD_TEST(s, test_tags_in_creation_order);
	CU_ADD_TEST(s, test_fork_past_cow_limit_is_enospc);
	CU_ADD_TEST(s, test_changes_lists_merged_runs);
	CU_ADD_TEST(s, test_changes_cut_to_whole_lines);
	CU_ADD_TEST(s, test_changes_past_the_base_cut_at_the_size);
	CU_ADD_TEST(s, test_commit_writes_the_view_and_starts_afresh);
	CU_ADD_TEST(s, test_commit_of_an_instance_shows_in_the_others);
	CU_ADD_TEST(s, test_commit_of_another_size_not_resizable_is_eperm);
	CU_ADD_TEST(s, test_shrinking_commit_cuts_the_others_bases);
	CU_ADD_TEST(s, test_a_failed_commit_says_how_far_it_got);
	CU_ADD_TEST(s, test_ctl_status_of_an_instance);
	CU_ADD_TEST(s, test_ctl_without_views_is_erofs);
	CU_ADD_TEST(s, test_instance_numbers);
	CU_ADD_TEST(s, test_other_views_drop_the_instances);
	CU_ADD_TEST(s, test_views_without_cow_free_the_instances);
}
