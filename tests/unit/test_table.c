/*
 * test_table.c - table.h: the mount's slots (numbers, names, name order,
 * regions held between table_get and table_put, open counts) and
 * table_reload against docs/design.md "Reloading (SIGHUP)": added, removed,
 * changed and replaced entries, a reload that fails changing nothing, slot
 * numbers never reused, a reload waiting for the requests on a slot (and
 * going before those that come after it), and reloads racing requests.
 *
 * Each test gets a fresh folder holding the config (mmapfs.ini) and one
 * backing file per entry, NAME.dat, two pages that start with NAME. The
 * base config has five entries, written out of name order; in strcmp order
 * they are Mid, alpha, anon, beta, zeta.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "table.h"
#include "tests.h"

#define ZETA "[zeta]\npath = zeta.dat\n"
#define ALPHA "[alpha]\npath = alpha.dat\n"
#define MID "[Mid]\npath = Mid.dat\nviews = ro\n"
#define ANON "[anon]\nanonymous = yes\nlength = 8K\n"
#define BETA "[beta]\npath = beta.dat\n"
#define BASE ZETA ALPHA MID ANON BETA

#define MAX_SLOTS 32

static const char *const base_order[] = { "Mid", "alpha", "anon", "beta", "zeta" };
#define BASE_ENTRIES (sizeof(base_order) / sizeof(base_order[0]))

static uint64_t page;
static char *dir;		/* this test's folder, absolute and real */
static char *ini;		/* DIR/mmapfs.ini */
static struct config cfg;	/* the config last loaded */
static struct errors errs;
static struct table *t;
static struct table_changes changes;	/* what the last reload did */
static bool stuck;		/* a thread is still blocked in T: leave T be */

/* A strdup() that fails (ENOMEM) the FAIL_AT-th time it copies VICTIM, for
 * the reload that runs out of memory half way; the table's copies of
 * names go through it (the binary's own definition wins over libc's). */
static const char *strdup_victim;
static int strdup_fail_at, strdup_calls;

char *strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *copy;

	if (strdup_victim && strcmp(s, strdup_victim) == 0 &&
	    ++strdup_calls == strdup_fail_at) {
		errno = ENOMEM;
		return NULL;
	}
	copy = malloc(n);
	if (copy)
		memcpy(copy, s, n);
	return copy;
}

static int init_suite(void)
{
	long size = sysconf(_SC_PAGESIZE);

	page = (uint64_t)size;
	return size > 0 ? 0 : -1;
}

/* DIR/NAME.dat: two pages, starting with NAME and then zeros. */
static void make_backing(const char *name)
{
	char file[64], *path, *data = calloc(1, 2 * page);

	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	snprintf(file, sizeof(file), "%s.dat", name);
	path = path_join(dir, file);
	memcpy(data, name, strlen(name));
	file_write(path, data, 2 * page);
	free(path);
	free(data);
}

static void setup(void)
{
	static const char *const files[] = { "zeta", "alpha", "Mid", "beta", "gamma" };
	dir = tmpdir_make();
	ini = path_join(dir, "mmapfs.ini");
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		make_backing(files[i]);
	stuck = false;
}

static void teardown(void)
{
	if (stuck) {
		/* The blocked thread uses T, CFG and ERRS: keep them. */
		fprintf(stderr, "\n    a thread is stuck in the table; leaking it\n");
		return;
	}
	if (t)
		CU_ASSERT_EQUAL(table_free(t), 0);
	t = NULL;
	table_changes_free(&changes);
	config_free(&cfg);
	memset(&cfg, 0, sizeof(cfg));
	errors_free(&errs);
	free(ini);
	tmpdir_remove(dir);
}

/* Loads INI into CFG afresh; it must load. */
static void load_ini(unsigned at)
{
	int rc;

	config_free(&cfg);
	memset(&cfg, 0, sizeof(cfg));
	errors_free(&errs);
	rc = config_load(ini, &cfg, &errs);
	check_at(rc == 0 && errs.count == 0, true, __FILE__, at,
		 "config_load = %d, first error: %s", rc, first_error(&errs));
}

/* Writes the config text FMT to INI and loads it into CFG; it must load. */
#define LOAD(...) load(__LINE__, __VA_ARGS__)
static void __attribute__((format(printf, 2, 3))) load(unsigned at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	file_vprintf(ini, fmt, ap);
	va_end(ap);
	load_ini(at);
}

/* Makes T from the base config. */
static void start(void)
{
	LOAD(BASE);
	t = table_new(&cfg, &errs);
	CHECK_FATAL(t != NULL, "table_new failed: %s", first_error(&errs));
	CU_ASSERT_EQUAL(errs.count, 0);
}

/* Reloads T from the config text FMT; the reload must succeed. */
#define RELOAD(...) reload(__LINE__, __VA_ARGS__)
static void __attribute__((format(printf, 2, 3))) reload(unsigned at, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	file_vprintf(ini, fmt, ap);
	va_end(ap);
	load_ini(at);
	table_changes_free(&changes);
	rc = table_reload(t, &cfg, &changes, &errs);
	check_at(rc == 0 && errs.count == 0, true, __FILE__, at,
		 "table_reload = %d, first error: %s", rc, first_error(&errs));
}

/* The live slot named NAME; the test ends if there is none. */
#define SLOT_OF(name) slot_of(__LINE__, name)
static size_t slot_of(unsigned at, const char *name)
{
	long slot = table_find(t, name);

	check_at(slot >= 0, true, __FILE__, at, "table_find(\"%s\") = %ld", name, slot);
	return (size_t)slot;
}

/* SLOT's region at this moment (for comparing pointers only), or NULL. */
static struct region *region_of(size_t slot)
{
	struct region *r = table_get(t, slot);

	if (r)
		table_put(t, slot);
	return r;
}

/* Whether R has VIEW and it holds TEXT at OFF. */
static bool region_holds(struct region *r, unsigned view, uint64_t off,
			 const char *text)
{
	size_t len = strlen(text), n;
	const void *data = NULL;
	bool same;

	if (!(region_entry(r)->views & view) && view != VIEW_RO)
		return false;	/* not mapped: nothing to read */
	n = region_read_begin(r, view, off, len, &data);
	same = n == len && data && memcmp(data, text, len) == 0;
	region_read_end(r);
	return same;
}

/* Asserts that SLOT's VIEW holds TEXT at OFF (between get and put). */
#define ASSERT_SLOT_HOLDS(slot, view, off, text) \
	assert_slot_holds(__LINE__, slot, view, off, text)
static void assert_slot_holds(unsigned at, size_t slot, unsigned view,
			      uint64_t off, const char *text)
{
	struct region *r = table_get(t, slot);

	check_at(r != NULL, false, __FILE__, at, "table_get(%zu) = NULL", slot);
	if (!r)
		return;
	check_at(region_holds(r, view, off, text), false, __FILE__, at,
		 "slot %zu (%s), view %u at %" PRIu64 " does not hold '%s'", slot,
		 table_name(t, slot), view, off, text);
	table_put(t, slot);
}

/* Asserts that table_get(SLOT) is NULL (and puts back what it was not). */
#define ASSERT_NO_REGION(slot) assert_no_region(__LINE__, slot)
static void assert_no_region(unsigned at, size_t slot)
{
	struct region *r = table_get(t, slot);

	check_at(r == NULL, false, __FILE__, at, "table_get(%zu) = %p, want NULL",
		 slot, (void *)r);
	if (r)
		table_put(t, slot);
}

/* Writes TEXT into SLOT's VIEW at OFF through the region. */
#define WRITE_SLOT(slot, view, off, text) write_slot(__LINE__, slot, view, off, text)
static void write_slot(unsigned at, size_t slot, unsigned view, uint64_t off,
		       const char *text)
{
	struct region *r = table_get(t, slot);
	size_t n = 0;
	int err;

	check_at(r != NULL, true, __FILE__, at, "table_get(%zu) = NULL", slot);
	err = region_write(r, view, text, strlen(text), &off, 0, &n);
	table_put(t, slot);
	check_at(err == 0 && n == strlen(text), false, __FILE__, at,
		 "region_write of '%s' = %d, %zu bytes", text, err, n);
}

/* Asserts that the live slots in name order are the NAMES (NULL-ended). */
#define ASSERT_NAMES(...) assert_names(__LINE__, (const char *const[]){ __VA_ARGS__, NULL })
static void assert_names(unsigned at, const char *const *names)
{
	size_t i;

	for (i = 0; names[i]; i++) {
		long slot = table_nth(t, i);

		check_at(slot >= 0 && (size_t)slot < table_slots(t) &&
			 strcmp(table_name(t, (size_t)slot), names[i]) == 0,
			 false, __FILE__, at, "table_nth(%zu) = %ld (%s), want %s", i,
			 slot, slot >= 0 ? table_name(t, (size_t)slot) : "-", names[i]);
		check_at(slot >= 0 && table_find(t, names[i]) == slot, false, __FILE__,
			 at, "table_find(\"%s\") = %ld, table_nth(%zu) = %ld", names[i],
			 table_find(t, names[i]), i, slot);
	}
	check_at(table_nth(t, i) == -1, false, __FILE__, at,
		 "table_nth(%zu) = %ld past the last live slot", i, table_nth(t, i));
}

/* The change listed for SLOT, or NULL. */
static const struct table_change *change_of(size_t slot)
{
	for (size_t i = 0; i < changes.count; i++)
		if (changes.list[i].slot == slot)
			return &changes.list[i];
	return NULL;
}

/* Asserts the counts of the last reload's changes. */
#define ASSERT_CHANGES(count_, added_, removed_, changed_) \
	check_at(changes.count == (count_) && changes.added == (added_) && \
		 changes.removed == (removed_) && changes.changed == (changed_), \
		 false, __FILE__, __LINE__, \
		 "changes: %zu listed, %zu added, %zu removed, %zu changed; " \
		 "want %d, %d, %d, %d", changes.count, changes.added, \
		 changes.removed, changes.changed, count_, added_, removed_, changed_)

/* Asserts that the last reload listed SLOT with views BEFORE and AFTER. */
#define ASSERT_CHANGE(slot, before, after) assert_change(__LINE__, slot, before, after)
static void assert_change(unsigned at, size_t slot, unsigned before, unsigned after)
{
	const struct table_change *c = change_of(slot);

	check_at(c != NULL, false, __FILE__, at, "slot %zu is not in the changes", slot);
	if (c)
		check_at(c->views_before == before && c->views_after == after, false,
			 __FILE__, at, "slot %zu: views %#x -> %#x, want %#x -> %#x",
			 slot, c->views_before, c->views_after, before, after);
}

/* Every slot's region and name, and the name order, at one moment. */
struct snapshot {
	size_t slots;
	struct region *region[MAX_SLOTS];
	char name[MAX_SLOTS][32];
	long nth[MAX_SLOTS + 1];
};

static void take_snapshot(struct snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->slots = table_slots(t);
	CU_ASSERT_FATAL(s->slots <= MAX_SLOTS);
	for (size_t i = 0; i < s->slots; i++) {
		s->region[i] = region_of(i);
		snprintf(s->name[i], sizeof(s->name[i]), "%s", table_name(t, i));
	}
	for (size_t i = 0; i <= MAX_SLOTS; i++)
		if ((s->nth[i] = table_nth(t, i)) < 0)
			break;
}

/* Asserts that every slot of BEFORE but EXCEPT (-1: none) has the same
 * region and name, and is not in the last reload's changes. */
#define ASSERT_KEPT(before, except) assert_kept(__LINE__, before, except)
static void assert_kept(unsigned at, const struct snapshot *before, long except)
{
	for (size_t i = 0; i < before->slots; i++) {
		if ((long)i == except)
			continue;
		check_at(region_of(i) == before->region[i], false, __FILE__, at,
			 "slot %zu (%s): region %p, was %p", i, before->name[i],
			 (void *)region_of(i), (void *)before->region[i]);
		check_at(strcmp(table_name(t, i), before->name[i]) == 0, false,
			 __FILE__, at, "slot %zu: name '%s', was '%s'", i,
			 table_name(t, i), before->name[i]);
		check_at(!before->region[i] || !change_of(i), false, __FILE__, at,
			 "slot %zu (%s) is in the changes", i, before->name[i]);
	}
}

/* Asserts that T is exactly as in BEFORE: slots, regions, names, order. */
#define ASSERT_SAME_TABLE(before) assert_same_table(__LINE__, before)
static void assert_same_table(unsigned at, const struct snapshot *before)
{
	struct snapshot now;

	take_snapshot(&now);
	check_at(now.slots == before->slots, false, __FILE__, at,
		 "%zu slots, were %zu", now.slots, before->slots);
	assert_kept(at, before, -1);
	check_at(memcmp(now.nth, before->nth, sizeof(now.nth)) == 0, false,
		 __FILE__, at, "the name order changed");
}

/* How many of this process's mappings and descriptors are of PATH. */
static int uses_of(const char *path)
{
	FILE *maps = fopen("/proc/self/maps", "re");
	char line[PATH_MAX + 200], link[PATH_MAX], fdpath[64];
	int n = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(maps);
	while (fgets(line, sizeof(line), maps)) {
		char *name = strchr(line, '/');

		line[strcspn(line, "\n")] = '\0';
		n += name && strcmp(name, path) == 0;
	}
	fclose(maps);
	for (int fd = 0; fd < 1024; fd++) {
		ssize_t len;

		snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
		len = readlink(fdpath, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		n += strcmp(link, path) == 0;
	}
	return n;
}

/* ---- slots, names, regions ---- */

static void test_new_maps_every_entry(void)
{
	bool seen[BASE_ENTRIES] = { false };

	start();
	CU_ASSERT_EQUAL(table_slots(t), BASE_ENTRIES);
	for (size_t i = 0; i < BASE_ENTRIES; i++) {
		size_t slot = SLOT_OF(base_order[i]);

		CU_ASSERT_TRUE_FATAL(slot < BASE_ENTRIES);
		CHECK(!seen[slot], "slot %zu given twice", slot);
		seen[slot] = true;
		CU_ASSERT_STRING_EQUAL(table_name(t, slot), base_order[i]);
	}
	CU_ASSERT_EQUAL(table_find(t, "gamma"), -1);	/* a file, not an entry */
	CU_ASSERT_EQUAL(table_find(t, "ALPHA"), -1);	/* names are exact */
	CU_ASSERT_EQUAL(table_find(t, "alph"), -1);
	CU_ASSERT_EQUAL(table_find(t, "alphaa"), -1);
	CU_ASSERT_EQUAL(table_find(t, ""), -1);
	CU_ASSERT_EQUAL(table_find(t, "~"), -1);	/* after every name */
	CU_ASSERT_EQUAL(table_find(t, "A"), -1);	/* before every name */
}

static void test_new_with_no_entries(void)
{
	LOAD("log_level = debug\n");
	t = table_new(&cfg, &errs);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(table_slots(t), 0);
	CU_ASSERT_EQUAL(table_nth(t, 0), -1);
	CU_ASSERT_EQUAL(table_find(t, "alpha"), -1);
	ASSERT_NO_REGION(0);
}

static void test_new_fails_with_the_entry_that_cannot_be_mapped(void)
{
	char *gone = path_join(dir, "gone");

	CU_ASSERT_EQUAL_FATAL(mkdir(gone, 0755), 0);
	LOAD(ALPHA "[new]\npath = gone/new.dat\ncreate = yes\nlength = 4K\n" BETA);
	CU_ASSERT_EQUAL_FATAL(rmdir(gone), 0);
	free(gone);
	t = table_new(&cfg, &errs);
	CU_ASSERT_PTR_NULL(t);
	CHECK(errs.count == 1 && strstr(errs.lines[0], "[new]") &&
	      strncmp(errs.lines[0], ini, strlen(ini)) == 0,
	      "%zu errors, the first: %s", errs.count, first_error(&errs));
}

static void test_nth_lists_live_slots_in_name_order(void)
{
	start();
	/* strcmp order: upper case before lower case. */
	ASSERT_NAMES("Mid", "alpha", "anon", "beta", "zeta");
	CU_ASSERT_EQUAL(table_nth(t, 1000), -1);
	CU_ASSERT_EQUAL(table_nth(t, SIZE_MAX), -1);
}

static void test_get_returns_the_entry_region(void)
{
	start();
	for (size_t i = 0; i < BASE_ENTRIES; i++) {
		size_t slot = SLOT_OF(base_order[i]);
		struct region *r = table_get(t, slot);

		CU_ASSERT_PTR_NOT_NULL_FATAL(r);
		CU_ASSERT_STRING_EQUAL(region_entry(r)->name, base_order[i]);
		if (strcmp(base_order[i], "anon") == 0) {
			CU_ASSERT_TRUE(region_entry(r)->anonymous);
			CU_ASSERT_EQUAL(region_view_size(r, VIEW_RO), 8192);
		} else {
			CU_ASSERT_TRUE(region_holds(r, VIEW_RO, 0, base_order[i]));
			CU_ASSERT_EQUAL(region_view_size(r, VIEW_RO), 2 * page);
		}
		table_put(t, slot);
	}
	CU_ASSERT_EQUAL(region_entry(region_of(SLOT_OF("Mid")))->views, VIEW_RO);
	CU_ASSERT_EQUAL(region_entry(region_of(SLOT_OF("alpha")))->views, VIEW_ALL);
}

static atomic_bool reload_done;	/* reload_thread has returned */
static int reload_rc;		/* and what table_reload returned */

/* Reloads T from CFG on a thread of its own, as the daemon does. */
static void *reload_thread(void *arg)
{
	(void)arg;
	table_changes_free(&changes);
	reload_rc = table_reload(t, &cfg, &changes, &errs);
	atomic_store(&reload_done, true);
	return NULL;
}

/* Starts reloading T from CFG on thread *TH. */
static void start_reload(pthread_t *th)
{
	reload_rc = -2;
	atomic_store(&reload_done, false);
	CU_ASSERT_EQUAL_FATAL(pthread_create(th, NULL, reload_thread, NULL), 0);
}

/* Joins TH within SECONDS; false (the test cannot clean up) if it hangs. */
static bool join_within(pthread_t th, int seconds)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += seconds;
	if (pthread_timedjoin_np(th, NULL, &until) == 0)
		return true;
	stuck = true;
	return false;
}

/* Reloads T from CFG; false (the test cannot clean up) if it takes more
 * than SECONDS. */
static bool reload_within(int seconds)
{
	pthread_t th;

	start_reload(&th);
	return join_within(th, seconds);
}

static void test_put_releases_and_a_second_get_works(void)
{
	size_t slot;
	struct region *r;

	start();
	slot = SLOT_OF("alpha");
	r = table_get(t, slot);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	table_put(t, slot);
	CU_ASSERT_PTR_EQUAL(table_get(t, slot), r);
	table_put(t, slot);
	/* Requests on other threads hold a slot at once: gets nest. */
	CU_ASSERT_PTR_EQUAL(table_get(t, slot), r);
	CU_ASSERT_PTR_EQUAL(table_get(t, slot), r);
	table_put(t, slot);
	table_put(t, slot);
	/* Released: a reload may now replace the region. */
	LOAD(ZETA "[alpha]\npath = alpha.dat\nviews = ro\n" MID ANON BETA);
	CHECK_FATAL(reload_within(5), "the reload did not end: the slot is still held");
	CU_ASSERT_EQUAL(reload_rc, 0);
	ASSERT_CHANGES(1, 0, 0, 1);
	r = table_get(t, slot);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(region_entry(r)->views, VIEW_RO);
	table_put(t, slot);
}

static void test_get_past_the_last_slot_is_null(void)
{
	start();
	ASSERT_NO_REGION(table_slots(t));
	ASSERT_NO_REGION(table_slots(t) + 1);
	ASSERT_NO_REGION(256);		/* past the first chunk */
	ASSERT_NO_REGION(SIZE_MAX);
	/* The last real slot still works. */
	CU_ASSERT_PTR_NOT_NULL(region_of(table_slots(t) - 1));
}

/* ---- a reload waits for the requests on a slot ---- */

static void test_a_held_region_is_not_replaced_until_put(void)
{
	struct timespec pause = { 0, 200 * 1000 * 1000 };
	struct region *r;
	pthread_t th;
	size_t slot;

	start();
	slot = SLOT_OF("alpha");
	r = table_get(t, slot);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_TRUE_FATAL(region_holds(r, VIEW_RO, 0, "alpha"));
	LOAD(ZETA "[alpha]\npath = alpha.dat\nviews = ro\n" MID ANON BETA);
	start_reload(&th);
	nanosleep(&pause, NULL);
	/* Fatal: had the reload ended, the region would be closed under us. */
	CHECK_FATAL(!atomic_load(&reload_done), "the reload ended while the region was held");
	/* Still whole and usable, views and all. */
	CU_ASSERT_TRUE(region_holds(r, VIEW_RO, 0, "alpha"));
	CU_ASSERT_TRUE(region_holds(r, VIEW_COW, 0, "alpha"));
	CU_ASSERT_EQUAL(region_entry(r)->views, VIEW_ALL);
	table_put(t, slot);
	CHECK_FATAL(join_within(th, 5), "the reload did not end after table_put");
	CU_ASSERT_EQUAL(reload_rc, 0);
	ASSERT_CHANGES(1, 0, 0, 1);
	CU_ASSERT_EQUAL(region_entry(region_of(slot))->views, VIEW_RO);
}

/* A request on its own thread: gets SLOT, notes what it got, puts it. */
struct getter {
	size_t slot;
	atomic_bool done;
	bool got;
	unsigned views;		/* of the region it got */
};

static void *get_thread(void *arg)
{
	struct getter *g = arg;
	struct region *r = table_get(t, g->slot);

	g->got = r != NULL;
	if (r) {
		g->views = region_entry(r)->views;
		table_put(t, g->slot);
	}
	atomic_store(&g->done, true);
	return NULL;
}

/*
 * A request that comes while a reload waits for its slot waits behind the
 * reload. Were it let in ahead (a reader-preferring lock), requests that
 * overlap one another could put the reload off for ever, and the reload
 * holds the name index meanwhile, so every lookup in the mount would wait
 * with it.
 */
static void test_a_waiting_reload_goes_before_later_requests(void)
{
	struct timespec pause = { 0, 200 * 1000 * 1000 };
	struct getter g = { 0 };
	pthread_t reloader, getter;
	bool early;

	start();
	g.slot = SLOT_OF("alpha");
	CU_ASSERT_PTR_NOT_NULL_FATAL(table_get(t, g.slot));	/* a request in flight */
	LOAD(ZETA "[alpha]\npath = alpha.dat\nviews = ro\n" MID ANON BETA);
	start_reload(&reloader);
	nanosleep(&pause, NULL);
	CHECK_FATAL(!atomic_load(&reload_done), "the reload ended while the region was held");
	CU_ASSERT_EQUAL_FATAL(pthread_create(&getter, NULL, get_thread, &g), 0);
	nanosleep(&pause, NULL);
	early = atomic_load(&g.done);
	CHECK(!early, "a table_get made while a reload waited for the slot went "
	      "ahead of it (got the old region, views %#x)", g.views);
	table_put(t, g.slot);	/* the first request ends */
	CHECK_FATAL(join_within(reloader, 5), "the reload did not end after table_put");
	CHECK_FATAL(join_within(getter, 5), "the later table_get did not return");
	CU_ASSERT_EQUAL(reload_rc, 0);
	ASSERT_CHANGES(1, 0, 0, 1);
	CU_ASSERT_TRUE(g.got);
	if (!early)
		CHECK(g.views == VIEW_RO, "the later request got views %#x, not the "
		      "new region's", g.views);
}

/* ---- reloading ---- */

static void test_reload_adds_an_entry(void)
{
	struct snapshot before;
	size_t slot;

	start();
	take_snapshot(&before);
	RELOAD(BASE "[gamma]\npath = gamma.dat\nviews = ro, rw\n");
	ASSERT_CHANGES(1, 1, 0, 0);
	CU_ASSERT_EQUAL_FATAL(changes.count, 1);
	slot = changes.list[0].slot;
	CHECK(slot >= before.slots, "new slot %zu, not after the %zu before", slot,
	      before.slots);
	CU_ASSERT_EQUAL(table_slots(t), before.slots + 1);
	CU_ASSERT_EQUAL(table_find(t, "gamma"), (long)slot);
	ASSERT_CHANGE(slot, 0, VIEW_RO | VIEW_RW);
	CU_ASSERT_STRING_EQUAL(table_name(t, slot), "gamma");
	ASSERT_NAMES("Mid", "alpha", "anon", "beta", "gamma", "zeta");
	ASSERT_SLOT_HOLDS(slot, VIEW_RO, 0, "gamma");
	CU_ASSERT_EQUAL(region_entry(region_of(slot))->views, VIEW_RO | VIEW_RW);
	ASSERT_KEPT(&before, -1);
}

static void test_reload_removes_an_entry(void)
{
	struct snapshot before;
	char *path = path_join(dir, "alpha.dat");
	char buf[32] = "";
	size_t slot;
	int fd;

	start();
	slot = SLOT_OF("alpha");
	WRITE_SLOT(slot, VIEW_RW, page + 10, "written before the reload");
	take_snapshot(&before);
	CU_ASSERT(uses_of(path) > 0);
	RELOAD(ZETA MID ANON BETA);
	ASSERT_CHANGES(1, 0, 1, 0);
	ASSERT_CHANGE(slot, VIEW_ALL, 0);
	ASSERT_NO_REGION(slot);
	CU_ASSERT_EQUAL(table_find(t, "alpha"), -1);
	ASSERT_NAMES("Mid", "anon", "beta", "zeta");
	CU_ASSERT_EQUAL(table_slots(t), before.slots);
	CU_ASSERT_STRING_EQUAL(table_name(t, slot), "alpha");	/* still valid */
	ASSERT_KEPT(&before, (long)slot);
	/* Closed: neither mapped nor open any more; its writes in the file. */
	CHECK(uses_of(path) == 0, "%s still mapped or open %d times", path,
	      uses_of(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(pread(fd, buf, 25, (off_t)(page + 10)), 25);
	CU_ASSERT_STRING_EQUAL(buf, "written before the reload");
	close(fd);
	free(path);
	/* And a removed entry stays away across later reloads. */
	RELOAD(ZETA MID ANON BETA);
	ASSERT_CHANGES(0, 0, 0, 0);
	ASSERT_NO_REGION(slot);
}

static void test_reload_removes_every_entry(void)
{
	start();
	RELOAD("flush_interval = 5\n");
	ASSERT_CHANGES(5, 0, 5, 0);
	CU_ASSERT_EQUAL(table_nth(t, 0), -1);
	for (size_t i = 0; i < BASE_ENTRIES; i++) {
		ASSERT_NO_REGION(i);
		CU_ASSERT_EQUAL(table_find(t, base_order[i]), -1);
	}
}

/* alpha's section with one setting changed, and what the region shows.
 * REMAPS: it maps other bytes now (SPEC: a new entry under the same name,
 * in a new slot, with new inode numbers). */
struct variant {
	const char *section;
	unsigned views;
	uint64_t offset, length, size;	/* SIZE 0: two pages */
	int advice;
	bool resizable, remaps;
};

/* Asserts that a reload changed alpha from BEFORE_VIEWS to AFTER_VIEWS,
 * in place or, where REMAPS, into a new slot; returns alpha's slot now. */
static size_t assert_alpha_changed(unsigned at, size_t slot, unsigned before_views,
				   unsigned after_views, bool remaps)
{
	size_t now = (size_t)table_find(t, "alpha");

	check_at(changes.added == 0 && changes.removed == 0 && changes.changed == 1 &&
		 changes.count == (remaps ? 2u : 1u), false, __FILE__, at,
		 "changes: %zu listed, %zu added, %zu removed, %zu changed",
		 changes.count, changes.added, changes.removed, changes.changed);
	if (!remaps) {
		assert_change(at, slot, before_views, after_views);
		check_at(now == slot, false, __FILE__, at, "alpha moved to slot %zu", now);
		return slot;
	}
	assert_change(at, slot, before_views, 0);
	assert_change(at, now, 0, after_views);
	check_at(now != slot && region_of(slot) == NULL, false, __FILE__, at,
		 "alpha remapped in its old slot %zu", slot);
	check_at(strcmp(table_name(t, now), "alpha") == 0, false, __FILE__, at,
		 "the new slot is %s", table_name(t, now));
	return now;
}

static void test_reload_changes_settings_in_place_and_remaps_what_maps_other_bytes(void)
{
	const struct variant variants[] = {
		{ "[alpha]\npath = alpha.dat\nviews = ro, cow\n", VIEW_RO | VIEW_COW,
		  0, 0, 0, MADV_NORMAL, true, false },
		{ "[alpha]\npath = alpha.dat\nlength = 100\n", VIEW_ALL,
		  0, 100, 100, MADV_NORMAL, true, true },
		{ "[alpha]\npath = alpha.dat\nadvice = random\n", VIEW_ALL,
		  0, 0, 0, MADV_RANDOM, true, false },
		{ "[alpha]\npath = alpha.dat\nresizable = no\n", VIEW_ALL,
		  0, 0, 0, MADV_NORMAL, false, false },
		{ "[alpha]\npath = alpha.dat\noffset = 4K\n", VIEW_ALL,
		  4096, 0, 4096, MADV_NORMAL, true, true },
		{ "[alpha]\npath = alpha.dat\ncreate = yes\nlength = 8K\n", VIEW_ALL,
		  0, 8192, 8192, MADV_NORMAL, true, true },
	};
	struct snapshot before;
	size_t slot, slots = BASE_ENTRIES;

	start();
	slot = SLOT_OF("alpha");
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		const struct variant *v = &variants[i];
		uint64_t size = v->size ? v->size : 2 * page;
		struct region *r;

		if (v->offset && v->offset != page)
			continue;	/* offset = 4K needs 4K pages */
		/* A cow write lives in its region only: gone in a new one. */
		WRITE_SLOT(slot, VIEW_COW, 0, "ALPHA");
		take_snapshot(&before);
		RELOAD(ZETA "%s" MID ANON BETA, v->section);
		ASSERT_KEPT(&before, (long)slot);
		slot = assert_alpha_changed(__LINE__, slot, VIEW_ALL, v->views, v->remaps);
		slots += v->remaps;
		CU_ASSERT_EQUAL(table_slots(t), slots);
		ASSERT_NAMES("Mid", "alpha", "anon", "beta", "zeta");
		r = table_get(t, slot);
		CU_ASSERT_PTR_NOT_NULL_FATAL(r);
		CHECK(region_entry(r)->views == v->views &&
		      region_entry(r)->offset == v->offset &&
		      region_entry(r)->length == v->length &&
		      region_entry(r)->advice == v->advice &&
		      region_entry(r)->resizable == v->resizable,
		      "variant %zu: the region has the old settings", i);
		CHECK(region_view_size(r, VIEW_RO) == size, "variant %zu: size %" PRIu64
		      ", want %" PRIu64, i, region_view_size(r, VIEW_RO), size);
		/* SPEC: keys changed in place keep cow/NAME's written pages
		 * while cow stays listed; a new region (other bytes) has none. */
		CHECK(region_holds(r, VIEW_COW, 0, "ALPHA") == (!v->remaps && (v->views & VIEW_COW)),
		      "variant %zu: the cow write %s", i,
		      region_holds(r, VIEW_COW, 0, "ALPHA") ? "shows" : "is gone");
		if (!v->offset)
			CU_ASSERT_TRUE(region_holds(r, VIEW_RO, 0, "alpha"));
		table_put(t, slot);
		/* And back: a change again. */
		RELOAD(BASE);
		slot = assert_alpha_changed(__LINE__, slot, v->views, VIEW_ALL, v->remaps);
		slots += v->remaps;
		CU_ASSERT_EQUAL(region_view_size(region_of(slot), VIEW_RO), 2 * page);
	}
	CU_ASSERT_EQUAL(table_slots(t), slots);
}

/* SLOT's cow_private_bytes. */
static uint64_t cow_private_of(size_t slot)
{
	struct region_stats st;
	struct region *r = table_get(t, slot);

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	region_get_stats(r, &st);
	table_put(t, slot);
	return st.cow_private_bytes;
}

/*
 * SPEC SIGHUP: an entry whose views changed keeps its slot (so its inode
 * numbers) and its region: cow/NAME keeps its written pages while cow
 * stays listed; cow leaving drops them, and back it starts afresh.
 */
static void test_reload_changes_views_in_place(void)
{
	static const struct {
		const char *views;
		unsigned bits;
		bool cow_kept;
	} steps[] = {
		{ "ro, cow", VIEW_RO | VIEW_COW, true },
		{ "rw, cow", VIEW_RW | VIEW_COW, true },
		{ "ro, rw, cow", VIEW_ALL, true },
		{ "ro, rw", VIEW_RO | VIEW_RW, false },
		{ "ro, rw, cow", VIEW_ALL, false },
	};
	unsigned before = VIEW_ALL;
	uint64_t written;
	struct region *r;
	size_t slot;

	start();
	slot = SLOT_OF("alpha");
	r = region_of(slot);
	WRITE_SLOT(slot, VIEW_COW, 0, "ALPHA");
	written = cow_private_of(slot);
	CU_ASSERT_EQUAL(written, page);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		RELOAD(ZETA "[alpha]\npath = alpha.dat\nviews = %s\n" MID ANON BETA,
		       steps[i].views);
		ASSERT_CHANGES(1, 0, 0, 1);
		ASSERT_CHANGE(slot, before, steps[i].bits);
		CHECK(region_of(slot) == r, "step %zu: alpha has another region", i);
		CU_ASSERT_EQUAL(region_entry(r)->views, steps[i].bits);
		if (steps[i].bits & VIEW_COW)
			CHECK(region_holds(r, VIEW_COW, 0, steps[i].cow_kept ? "ALPHA" : "alpha"),
			      "step %zu: the cow write %s", i, steps[i].cow_kept ? "is gone" : "stays");
		CU_ASSERT_EQUAL(cow_private_of(slot), steps[i].cow_kept ? written : 0);
		if (steps[i].bits & VIEW_RW) {
			char text[16];

			snprintf(text, sizeof(text), "rw step %zu", i);
			WRITE_SLOT(slot, VIEW_RW, page, text);
			ASSERT_SLOT_HOLDS(slot, VIEW_RO, page, text);
		}
		before = steps[i].bits;
	}
}

/* Adding rw to an entry opened read-only opens its file read-write (in
 * place of the read-only descriptor); taking rw away flushes and unmaps
 * it. */
static void test_reload_adds_and_takes_away_rw(void)
{
	char *path = path_join(dir, "Mid.dat"), buf[16] = "";
	size_t slot;
	int uses, fd;

	start();
	slot = SLOT_OF("Mid");
	uses = uses_of(path);		/* the descriptor and the ro mapping */
	RELOAD(ZETA ALPHA "[Mid]\npath = Mid.dat\nviews = ro, rw\n" ANON BETA);
	ASSERT_CHANGE(slot, VIEW_RO, VIEW_RO | VIEW_RW);
	CHECK(uses_of(path) == uses + 1, "%s used %d times, want %d", path, uses_of(path),
	      uses + 1);
	WRITE_SLOT(slot, VIEW_RW, 10, "MID WRITE");
	RELOAD(BASE);
	ASSERT_CHANGE(slot, VIEW_RO | VIEW_RW, VIEW_RO);
	CHECK(uses_of(path) == uses, "%s used %d times, want %d", path, uses_of(path), uses);
	ASSERT_SLOT_HOLDS(slot, VIEW_RO, 10, "MID WRITE");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(pread(fd, buf, 9, 10), 9);
	CU_ASSERT_STRING_EQUAL(buf, "MID WRITE");
	close(fd);
	free(path);
}

/* New views that cannot be made (rw on a file no one may open for
 * writing, which the config check let pass: it became so since) refuse
 * the reload, and another entry's views prepared before are undone (its
 * slot let go: the snapshot's table_get would wait for ever). */
static void test_a_reload_whose_views_cannot_be_made_changes_nothing(void)
{
	struct snapshot before;
	char *exe = busy_executable();
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(exe);
	LOAD(BASE "[exe]\npath = %s\nviews = ro, cow\n", exe);
	t = table_new(&cfg, &errs);
	CHECK_FATAL(t != NULL, "table_new failed: %s", first_error(&errs));
	WRITE_SLOT(SLOT_OF("exe"), VIEW_COW, 0, "X");
	WRITE_SLOT(SLOT_OF("alpha"), VIEW_COW, 0, "ALPHA");
	take_snapshot(&before);
	LOAD(ZETA "[alpha]\npath = alpha.dat\nviews = ro\n" MID ANON BETA
	     "[exe]\npath = %s\nviews = ro, cow\n[fresh]\nanonymous = yes\nlength = 4K\n", exe);
	CU_ASSERT_STRING_EQUAL_FATAL(cfg.entries[5].entry.name, "exe");
	cfg.entries[5].entry.views = VIEW_ALL;
	table_changes_free(&changes);
	rc = table_reload(t, &cfg, &changes, &errs);
	CU_ASSERT_EQUAL(rc, -1);
	CHECK(errs.count == 1 && strstr(errs.lines[0], "[exe] views not changed") &&
	      strstr(errs.lines[0], "for writing"), "%zu errors, the first: %s", errs.count,
	      first_error(&errs));
	ASSERT_CHANGES(0, 0, 0, 0);
	ASSERT_SAME_TABLE(&before);
	CU_ASSERT_EQUAL(table_find(t, "fresh"), -1);
	CU_ASSERT_EQUAL(region_entry(region_of(SLOT_OF("alpha")))->views, VIEW_ALL);
	CU_ASSERT_EQUAL(region_entry(region_of(SLOT_OF("exe")))->views, VIEW_RO | VIEW_COW);
	ASSERT_SLOT_HOLDS(SLOT_OF("alpha"), VIEW_COW, 0, "ALPHA");
	ASSERT_SLOT_HOLDS(SLOT_OF("exe"), VIEW_COW, 0, "X");
	free(exe);
}

static void test_reload_keeps_unchanged_entries_as_they_are(void)
{
	struct snapshot before;
	char *beta = path_join(dir, "beta.dat");
	int fd;

	start();
	/* Writes that live in the region (cow), or in memory only (anon). */
	WRITE_SLOT(SLOT_OF("alpha"), VIEW_COW, 0, "ALPHA");
	WRITE_SLOT(SLOT_OF("anon"), VIEW_RW, 100, "anonymous data");
	WRITE_SLOT(SLOT_OF("zeta"), VIEW_COW, 10, "private");
	/* A file written in place is the same file: no change. */
	fd = open(beta, O_WRONLY | O_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(pwrite(fd, "BETA", 4, 0), 4);
	close(fd);
	free(beta);
	take_snapshot(&before);
	/* The same entries in another order, on other lines. */
	RELOAD("; reordered\nlog_level = info\n" BETA "\n\n" ANON MID
	       "[zeta]\n; comment\npath = %s/zeta.dat\n" ALPHA, dir);
	ASSERT_CHANGES(0, 0, 0, 0);
	CU_ASSERT_PTR_NULL(changes.list);
	ASSERT_SAME_TABLE(&before);
	ASSERT_SLOT_HOLDS(SLOT_OF("alpha"), VIEW_COW, 0, "ALPHA");
	ASSERT_SLOT_HOLDS(SLOT_OF("anon"), VIEW_RO, 100, "anonymous data");
	ASSERT_SLOT_HOLDS(SLOT_OF("zeta"), VIEW_COW, 10, "private");
	ASSERT_SLOT_HOLDS(SLOT_OF("beta"), VIEW_RO, 0, "BETA");
}

static void test_reload_remaps_a_file_renamed_over_the_path(void)
{
	char *path = path_join(dir, "beta.dat"), *tmp = path_join(dir, "beta.new");
	struct snapshot before;
	size_t slot;
	char *data = calloc(1, 3 * page);

	CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	start();
	slot = SLOT_OF("beta");
	ASSERT_SLOT_HOLDS(slot, VIEW_RO, 0, "beta");
	memcpy(data, "new beta", 8);
	file_write(tmp, data, 3 * page);
	CU_ASSERT_EQUAL_FATAL(rename(tmp, path), 0);
	/* Before the reload the region still has the old file open. */
	ASSERT_SLOT_HOLDS(slot, VIEW_RO, 0, "beta");
	ASSERT_SLOT_HOLDS(slot, VIEW_RW, 0, "beta");
	CU_ASSERT_EQUAL(region_view_size(region_of(slot), VIEW_RO), 2 * page);
	take_snapshot(&before);
	RELOAD(BASE);
	ASSERT_CHANGES(2, 0, 0, 1);
	ASSERT_KEPT(&before, (long)slot);
	ASSERT_NO_REGION(slot);		/* its old nodes answer ESTALE */
	slot = (size_t)table_find(t, "beta");
	CU_ASSERT_EQUAL(slot, BASE_ENTRIES);	/* a new slot: new inode numbers */
	ASSERT_SLOT_HOLDS(slot, VIEW_RO, 0, "new beta");
	ASSERT_SLOT_HOLDS(slot, VIEW_RW, 0, "new beta");
	ASSERT_SLOT_HOLDS(slot, VIEW_COW, 0, "new beta");
	CU_ASSERT_EQUAL(region_view_size(region_of(slot), VIEW_RO), 3 * page);
	/* Once remapped, the same file is no change. */
	RELOAD(BASE);
	ASSERT_CHANGES(0, 0, 0, 0);
	free(data);
	free(tmp);
	free(path);
}

static void test_failed_reload_changes_nothing(void)
{
	struct snapshot before;
	char *gone = path_join(dir, "gone"), *want;
	bool named = false;
	int rc;

	start();
	WRITE_SLOT(SLOT_OF("alpha"), VIEW_COW, 0, "ALPHA");
	take_snapshot(&before);
	CU_ASSERT_EQUAL_FATAL(mkdir(gone, 0755), 0);
	/* alpha changed, beta removed, two added: one fine, one not. */
	LOAD(ZETA "[alpha]\npath = alpha.dat\nviews = ro\n" MID ANON
	     "[fresh]\nanonymous = yes\nlength = 4K\n"
	     "[new]\npath = gone/new.dat\ncreate = yes\nlength = 4K\n");
	CU_ASSERT_EQUAL_FATAL(rmdir(gone), 0);	/* config_load was content */
	free(gone);
	table_changes_free(&changes);
	rc = table_reload(t, &cfg, &changes, &errs);
	CU_ASSERT_EQUAL(rc, -1);
	CU_ASSERT_EQUAL_FATAL(errs.count, 1);
	CU_ASSERT_FATAL(asprintf(&want, "%s:%d: [new] ", ini, 15) > 0);
	named = strncmp(errs.lines[0], want, strlen(want)) == 0;
	CHECK(named, "error '%s', want it to start with '%s'", errs.lines[0], want);
	free(want);
	ASSERT_CHANGES(0, 0, 0, 0);
	CU_ASSERT_PTR_NULL(changes.list);
	ASSERT_SAME_TABLE(&before);
	ASSERT_NAMES("Mid", "alpha", "anon", "beta", "zeta");
	CU_ASSERT_EQUAL(table_find(t, "fresh"), -1);
	CU_ASSERT_EQUAL(table_find(t, "new"), -1);
	CU_ASSERT_EQUAL(region_entry(region_of(SLOT_OF("alpha")))->views, VIEW_ALL);
	ASSERT_SLOT_HOLDS(SLOT_OF("alpha"), VIEW_COW, 0, "ALPHA");
	ASSERT_SLOT_HOLDS(SLOT_OF("beta"), VIEW_RO, 0, "beta");
	/* The table goes on working: the next good reload does it all. */
	RELOAD(ZETA "[alpha]\npath = alpha.dat\nviews = ro\n" MID ANON
	       "[fresh]\nanonymous = yes\nlength = 4K\n");
	ASSERT_CHANGES(3, 1, 1, 1);
	ASSERT_NAMES("Mid", "alpha", "anon", "fresh", "zeta");
	CU_ASSERT_EQUAL(table_slots(t), BASE_ENTRIES + 1);
}

/* A copy of a new entry's name that cannot be made, wherever the reload
 * makes it, refuses the whole reload with the entry named and the reason;
 * nothing of it applies (design.md: all or nothing). */
static void test_a_reload_out_of_memory_for_one_entry_changes_nothing(void)
{
	static const char *const text =
		ZETA "[alpha]\npath = alpha.dat\nviews = ro\n" MID ANON
		"[fresh]\nanonymous = yes\nlength = 4K\n"
		"[victim]\npath = gamma.dat\n";
	struct snapshot before;
	int calls;

	start();
	WRITE_SLOT(SLOT_OF("alpha"), VIEW_COW, 0, "ALPHA");
	take_snapshot(&before);
	LOAD("%s", text);
	strdup_victim = "victim";
	/* Fails the K-th copy of the name, K = 1, 2, ... until a reload makes
	 * fewer copies than K: that one, with memory enough, does it all. */
	for (calls = 1;; calls++) {
		bool named;
		int rc;

		strdup_calls = 0;
		strdup_fail_at = calls;
		errors_free(&errs);
		table_changes_free(&changes);
		rc = table_reload(t, &cfg, &changes, &errs);
		if (rc == 0 && strdup_calls < calls)
			break;
		CHECK_FATAL(rc == -1, "copy %d failing: table_reload = %d", calls, rc);
		CU_ASSERT_EQUAL_FATAL(errs.count, 1);
		named = strstr(errs.lines[0], "[victim]") && strstr(errs.lines[0], "memory");
		CHECK(named, "copy %d failing: error '%s' names neither victim nor memory",
		      calls, errs.lines[0]);
		ASSERT_CHANGES(0, 0, 0, 0);
		CU_ASSERT_PTR_NULL(changes.list);
		ASSERT_SAME_TABLE(&before);
		ASSERT_NAMES("Mid", "alpha", "anon", "beta", "zeta");
		CU_ASSERT_EQUAL(table_slots(t), BASE_ENTRIES);
		CU_ASSERT_EQUAL(region_entry(region_of(SLOT_OF("alpha")))->views, VIEW_ALL);
		ASSERT_SLOT_HOLDS(SLOT_OF("alpha"), VIEW_COW, 0, "ALPHA");
		ASSERT_SLOT_HOLDS(SLOT_OF("beta"), VIEW_RO, 0, "beta");
	}
	strdup_victim = NULL;
	/* The region's copy of the entry and the slot's name, at least. */
	CHECK(calls > 2, "only %d copies of the name failed", calls - 1);
	CU_ASSERT_EQUAL(errs.count, 0);
	ASSERT_CHANGES(4, 2, 1, 1);
	ASSERT_NAMES("Mid", "alpha", "anon", "fresh", "victim", "zeta");
	CU_ASSERT_EQUAL(table_slots(t), BASE_ENTRIES + 2);
	ASSERT_SLOT_HOLDS(SLOT_OF("victim"), VIEW_RO, 0, "gamma");
}

static void test_slot_numbers_are_never_reused(void)
{
	size_t first, second, third;

	start();
	first = SLOT_OF("alpha");
	RELOAD(ZETA MID ANON BETA);
	ASSERT_CHANGES(1, 0, 1, 0);
	CU_ASSERT_EQUAL(table_find(t, "alpha"), -1);
	RELOAD(BASE);
	ASSERT_CHANGES(1, 1, 0, 0);
	second = SLOT_OF("alpha");
	CHECK(second != first && second >= BASE_ENTRIES,
	      "alpha back in slot %zu, was %zu", second, first);
	ASSERT_CHANGE(second, 0, VIEW_ALL);
	ASSERT_NO_REGION(first);
	CU_ASSERT_STRING_EQUAL(table_name(t, first), "alpha");
	CU_ASSERT_STRING_EQUAL(table_name(t, second), "alpha");
	ASSERT_SLOT_HOLDS(second, VIEW_RO, 0, "alpha");
	ASSERT_NAMES("Mid", "alpha", "anon", "beta", "zeta");
	/* Once more, as an anonymous entry this time. */
	RELOAD(ZETA MID ANON BETA);
	RELOAD(ZETA MID ANON BETA "[alpha]\nanonymous = yes\nlength = 1\n");
	third = SLOT_OF("alpha");
	CHECK(third != first && third != second && third == BASE_ENTRIES + 1,
	      "alpha in slot %zu, after %zu and %zu", third, first, second);
	CU_ASSERT_EQUAL(table_slots(t), BASE_ENTRIES + 2);
	ASSERT_NO_REGION(second);
}

/* ---- reloads racing requests ---- */

struct reader {
	size_t slot;
	atomic_bool stop;
	long gets, nulls, bad, lost;
};

/* Uses READER's slot as a request would, until told to stop. */
static void *read_loop(void *arg)
{
	struct reader *rd = arg;

	while (!atomic_load(&rd->stop)) {
		struct region *r = table_get(t, rd->slot);
		const void *data = NULL;
		size_t n;

		if (!r) {
			rd->nulls++;
			continue;
		}
		n = region_read_begin(r, VIEW_RO, 0, 5, &data);
		if (n != 5 || memcmp(data, "alpha", 5) != 0 ||
		    strcmp(region_entry(r)->name, "alpha") != 0)
			rd->bad++;
		region_read_end(r);
		table_put(t, rd->slot);
		rd->gets++;
		if (table_find(t, "alpha") != (long)rd->slot)
			rd->lost++;
	}
	return NULL;
}

static void test_reloads_race_requests(void)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	struct reader rd = { 0 };
	pthread_t th;
	int failed = 0;

	start();
	rd.slot = SLOT_OF("alpha");
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, read_loop, &rd), 0);
	for (int i = 0; i < 50; i++) {
		int rc;

		if (i % 2)
			LOAD(BASE);
		else
			LOAD(ZETA "[alpha]\npath = alpha.dat\nviews = ro, cow\n"
			     "advice = random\n" MID ANON BETA);	/* in place */
		table_changes_free(&changes);
		rc = table_reload(t, &cfg, &changes, &errs);
		failed += rc != 0 || changes.changed != 1 || changes.count != 1;
		nanosleep(&pause, NULL);	/* 50 of them: over 0.5 s */
	}
	atomic_store(&rd.stop, true);
	CHECK_FATAL(join_within(th, 10), "the reader did not stop");
	CHECK(failed == 0, "%d of 50 reloads failed or did not change alpha", failed);
	CHECK(rd.gets > 0, "no table_get succeeded");
	CHECK(rd.nulls == 0, "%ld of %ld gets NULL for an entry never removed",
	      rd.nulls, rd.gets + rd.nulls);
	CHECK(rd.bad == 0, "%ld of %ld regions not alpha's", rd.bad, rd.gets);
	CHECK(rd.lost == 0, "alpha not found %ld times", rd.lost);
	CU_ASSERT_EQUAL(table_slots(t), BASE_ENTRIES);
}

void add_table_suite(void)
{
	CU_pSuite s = CU_add_suite_with_setup_and_teardown("table", init_suite,
							   NULL, setup, teardown);

	CU_ADD_TEST(s, test_new_maps_every_entry);
	CU_ADD_TEST(s, test_new_with_no_entries);
	CU_ADD_TEST(s, test_new_fails_with_the_entry_that_cannot_be_mapped);
	CU_ADD_TEST(s, test_nth_lists_live_slots_in_name_order);
	CU_ADD_TEST(s, test_get_returns_the_entry_region);
	CU_ADD_TEST(s, test_put_releases_and_a_second_get_works);
	CU_ADD_TEST(s, test_get_past_the_last_slot_is_null);
	CU_ADD_TEST(s, test_a_held_region_is_not_replaced_until_put);
	CU_ADD_TEST(s, test_a_waiting_reload_goes_before_later_requests);
	CU_ADD_TEST(s, test_reload_adds_an_entry);
	CU_ADD_TEST(s, test_reload_removes_an_entry);
	CU_ADD_TEST(s, test_reload_removes_every_entry);
	CU_ADD_TEST(s, test_reload_changes_settings_in_place_and_remaps_what_maps_other_bytes);
	CU_ADD_TEST(s, test_reload_changes_views_in_place);
	CU_ADD_TEST(s, test_reload_adds_and_takes_away_rw);
	CU_ADD_TEST(s, test_a_reload_whose_views_cannot_be_made_changes_nothing);
	CU_ADD_TEST(s, test_reload_keeps_unchanged_entries_as_they_are);
	CU_ADD_TEST(s, test_reload_remaps_a_file_renamed_over_the_path);
	CU_ADD_TEST(s, test_failed_reload_changes_nothing);
	CU_ADD_TEST(s, test_a_reload_out_of_memory_for_one_entry_changes_nothing);
	CU_ADD_TEST(s, test_slot_numbers_are_never_reused);
	CU_ADD_TEST(s, test_reloads_race_requests);
}
