/*
 * test_config.c - config_load() against SPEC "Config": defaults, every key,
 * every rule and the "FILE:LINE: [NAME] message" form of its errors.
 *
 * Each test gets a fresh folder holding the config (test.ini) and whatever
 * backing files it makes; entries name them relative to the config.
 */
#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "tests.h"

static long page;
static char *dir;		/* this test's folder, absolute and real */
static char *ini;		/* DIR/test.ini */
static const char *given;	/* the config path last given to config_load */
static char *exe;		/* busy_executable(), for the tests that use it */
static struct config cfg;
static struct errors errs;

static int init_suite(void)
{
	page = sysconf(_SC_PAGESIZE);
	return page > 0 ? 0 : -1;
}

static void setup(void)
{
	dir = tmpdir_make();
	ini = path_join(dir, "test.ini");
}

static void teardown(void)
{
	config_free(&cfg);
	errors_free(&errs);
	free(exe);
	exe = NULL;
	free(ini);
	tmpdir_remove(dir);
}

/* DIR/NAME, SIZE bytes long. */
static void make_file(const char *name, long long size)
{
	char *path = path_join(dir, name);
	int rc;

	file_write(path, "", 0);
	rc = truncate(path, size);
	free(path);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
}

static void make_folder(const char *name)
{
	char *path = path_join(dir, name);
	int rc = mkdir(path, 0755);

	free(path);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
}

/* Writes the config text FMT to FILE and loads it afresh into cfg/errs. */
static int __attribute__((format(printf, 2, 0)))
vload(const char *file, const char *fmt, va_list ap)
{
	file_vprintf(file, fmt, ap);
	config_free(&cfg);
	errors_free(&errs);
	given = file;
	return config_load(file, &cfg, &errs);
}

/* Loads the config text FMT from INI; it must load without an error. */
static void __attribute__((format(printf, 1, 2))) load_ok(const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vload(ini, fmt, ap);
	va_end(ap);
	CHECK_FATAL(rc == 0 && errs.count == 0,
		    "config_load = %d with %zu errors, the first: %s",
		    rc, errs.count, first_error(&errs));
}

/* Loads the config text FMT from INI; it must fail with N errors. */
static void __attribute__((format(printf, 2, 3)))
load_fails(size_t n, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vload(ini, fmt, ap);
	va_end(ap);
	CHECK(rc == -1 && errs.count == n,
	      "config_load = %d with %zu errors (want -1 with %zu), the first: %s",
	      rc, errs.count, n, first_error(&errs));
}

/*
 * Asserts that one of the errors starts with "FILE:LINE: [NAME] " (or
 * "FILE:LINE: " for a NULL NAME, an error outside any entry), FILE being the
 * config path as given, and that the rest of it holds PART.
 */
#define ASSERT_ERROR(line, name, part) assert_error(__LINE__, line, name, part)

static void assert_error(unsigned at, int line, const char *name,
			 const char *part)
{
	char *prefix;
	size_t len;
	bool found = false;
	int n = name ? asprintf(&prefix, "%s:%d: [%s] ", given, line, name)
		     : asprintf(&prefix, "%s:%d: ", given, line);

	CU_ASSERT_FATAL(n >= 0);
	len = (size_t)n;
	for (size_t i = 0; i < errs.count && !found; i++)
		found = strncmp(errs.lines[i], prefix, len) == 0 &&
			strstr(errs.lines[i] + len, part);
	check_at(found, false, __FILE__, at,
		 "no error \"%s...%s...\" among %zu, the first: %s",
		 prefix, part, errs.count, first_error(&errs));
	free(prefix);
}

static const struct config_entry *entry(const char *name)
{
	for (size_t i = 0; i < cfg.n_entries; i++)
		if (strcmp(cfg.entries[i].entry.name, name) == 0)
			return &cfg.entries[i];
	CHECK_FATAL(false, "no entry [%s]", name);
	return NULL;
}

/* Asserts that entry NAME's path is DIR/RELATIVE. */
static void assert_path(const char *name, const char *relative)
{
	const char *got = entry(name)->entry.path;
	char *want = path_join(dir, relative);

	CHECK(got && strcmp(got, want) == 0, "[%s] path %s; want %s", name,
	      got ? got : "NULL", want);
	free(want);
}

/* ---- defaults and values ---- */

static void test_empty_config_has_defaults_and_no_entries(void)
{
	load_ok("; only comments\n\n# and blank lines\n");
	CU_ASSERT_EQUAL(cfg.n_entries, 0);
	CU_ASSERT_EQUAL(cfg.log_level, LOG_INFO);
	CU_ASSERT_EQUAL(cfg.flush_interval, 0);
	CU_ASSERT_STRING_EQUAL(cfg.file, ini);
}

static void test_entry_defaults(void)
{
	const struct config_entry *e;

	make_file("data", page);
	load_ok("[a]\npath = data\n");
	CU_ASSERT_EQUAL_FATAL(cfg.n_entries, 1);
	e = entry("a");
	assert_path("a", "data");
	CU_ASSERT_FALSE(e->entry.anonymous);
	CU_ASSERT_EQUAL(e->entry.offset, 0);
	CU_ASSERT_EQUAL(e->entry.length, 0);
	CU_ASSERT_FALSE(e->entry.create);
	CU_ASSERT_EQUAL(e->entry.views, VIEW_ALL);
	CU_ASSERT_TRUE(e->entry.resizable);
	CU_ASSERT_EQUAL(e->entry.advice, MADV_NORMAL);
	CU_ASSERT_EQUAL(cfg.log_level, LOG_INFO);
	CU_ASSERT_EQUAL(cfg.flush_interval, 0);
}

static void test_global_keys(void)
{
	load_ok("log_level = debug\nflush_interval = 30\n");
	CU_ASSERT_EQUAL(cfg.log_level, LOG_DEBUG);
	CU_ASSERT_EQUAL(cfg.flush_interval, 30);
}

static void test_log_levels(void)
{
	static const struct {
		const char *word;
		int level;
	} levels[] = {
		{ "error", LOG_ERR }, { "warn", LOG_WARNING },
		{ "info", LOG_INFO }, { "debug", LOG_DEBUG },
	};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		load_ok("log_level = %s\n", levels[i].word);
		CHECK(cfg.log_level == levels[i].level, "log_level = %s gave %d",
		      levels[i].word, cfg.log_level);
	}
}

static void test_entry_keys_and_their_lines(void)
{
	const struct config_entry *e;

	make_file("data", 4 * page);
	load_ok("[e]\n"				/* 1 */
		"path = data\n"			/* 2 */
		"offset = %ld\n"		/* 3 */
		"length = %ld\n"		/* 4 */
		"create = yes\n"		/* 5 */
		"views = ro, cow\n"		/* 6 */
		"resizable = no\n"		/* 7 */
		"advice = random\n",		/* 8 */
		page, 2 * page);
	e = entry("e");
	assert_path("e", "data");
	CU_ASSERT_FALSE(e->entry.anonymous);
	CU_ASSERT_EQUAL(e->entry.offset, (uint64_t)page);
	CU_ASSERT_EQUAL(e->entry.length, 2 * (uint64_t)page);
	CU_ASSERT_TRUE(e->entry.create);
	CU_ASSERT_EQUAL(e->entry.views, VIEW_RO | VIEW_COW);
	CU_ASSERT_FALSE(e->entry.resizable);
	CU_ASSERT_EQUAL(e->entry.advice, MADV_RANDOM);
	CU_ASSERT_EQUAL(e->line.header, 1);
	CU_ASSERT_EQUAL(e->line.path, 2);
	CU_ASSERT_EQUAL(e->line.anonymous, 0);
	CU_ASSERT_EQUAL(e->line.offset, 3);
	CU_ASSERT_EQUAL(e->line.length, 4);
	CU_ASSERT_EQUAL(e->line.create, 5);
	CU_ASSERT_EQUAL(e->line.views, 6);
	CU_ASSERT_EQUAL(e->line.resizable, 7);
	CU_ASSERT_EQUAL(e->line.advice, 8);
}

static void test_anonymous_entry(void)
{
	const struct config_entry *e;

	load_ok("[mem]\nanonymous = yes\nlength = 1M\n");
	e = entry("mem");
	CU_ASSERT_TRUE(e->entry.anonymous);
	CU_ASSERT_PTR_NULL(e->entry.path);
	CU_ASSERT_EQUAL(e->entry.length, 1 << 20);
	CU_ASSERT_EQUAL(e->line.anonymous, 2);
	CU_ASSERT_EQUAL(e->line.length, 3);
}

static void test_advice_words(void)
{
	static const struct {
		const char *word;
		int advice;
	} advice[] = {
		{ "normal", MADV_NORMAL }, { "sequential", MADV_SEQUENTIAL },
		{ "random", MADV_RANDOM }, { "willneed", MADV_WILLNEED },
		{ "hugepage", MADV_HUGEPAGE },
	};

	for (size_t i = 0; i < sizeof(advice) / sizeof(advice[0]); i++) {
		load_ok("[m]\nanonymous = yes\nlength = 1\nadvice = %s\n",
			advice[i].word);
		CHECK(entry("m")->entry.advice == advice[i].advice,
		      "advice = %s gave %d", advice[i].word, entry("m")->entry.advice);
		CU_ASSERT_STRING_EQUAL(entry_advice_name(advice[i].advice),
				       advice[i].word);
	}
}

static void test_views_lists(void)
{
	static const struct {
		const char *text;
		unsigned views;
	} lists[] = {
		{ "ro", VIEW_RO }, { "rw", VIEW_RW }, { "cow", VIEW_COW },
		{ "rw,cow", VIEW_RW | VIEW_COW }, { "cow, ro", VIEW_RO | VIEW_COW },
		{ "ro, rw, cow", VIEW_ALL },
	};

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		load_ok("[m]\nanonymous = yes\nlength = 1\nviews = %s\n",
			lists[i].text);
		CHECK(entry("m")->entry.views == lists[i].views,
		      "views = %s gave %#x", lists[i].text, entry("m")->entry.views);
	}
}

static void test_keywords_are_case_insensitive(void)
{
	const struct config_entry *e;

	load_ok("log_level = DeBuG\n"
		"[m]\n"
		"anonymous = YES\n"
		"length = 1\n"
		"create = No\n"
		"resizable = nO\n"
		"views = RO, Rw, COW\n"
		"advice = WillNeed\n");
	e = entry("m");
	CU_ASSERT_EQUAL(cfg.log_level, LOG_DEBUG);
	CU_ASSERT_TRUE(e->entry.anonymous);
	CU_ASSERT_FALSE(e->entry.create);
	CU_ASSERT_FALSE(e->entry.resizable);
	CU_ASSERT_EQUAL(e->entry.views, VIEW_ALL);
	CU_ASSERT_EQUAL(e->entry.advice, MADV_WILLNEED);
}

static void test_sizes_take_hex_and_suffixes(void)
{
	make_file("data", 2 * page);
	load_ok("[hex]\npath = data\noffset = 0x%lx\n"
		"[kilo]\npath = data\noffset = %ldk\n"
		"[mega]\nanonymous = yes\nlength = 2M\n"
		"[giga]\nanonymous = yes\nlength = 3g\n"
		"[tera]\nanonymous = yes\nlength = 1T\n"
		"[zeros]\nanonymous = yes\nlength = 010\n",
		page, page / 1024);
	CU_ASSERT_EQUAL(entry("hex")->entry.offset, (uint64_t)page);
	CU_ASSERT_EQUAL(entry("kilo")->entry.offset, (uint64_t)page);
	CU_ASSERT_EQUAL(entry("mega")->entry.length, 2ULL << 20);
	CU_ASSERT_EQUAL(entry("giga")->entry.length, 3ULL << 30);
	CU_ASSERT_EQUAL(entry("tera")->entry.length, 1ULL << 40);
	CU_ASSERT_EQUAL(entry("zeros")->entry.length, 10);
}

static void test_relative_paths_are_taken_from_the_config_folder(void)
{
	make_folder("sub");
	make_file("sub/data", page);
	make_file("data", page);
	load_ok("[rel]\npath = sub/data\n[abs]\npath = %s/data\n", dir);
	assert_path("rel", "sub/data");
	assert_path("abs", "data");
}

/* Runs config_load on a config given as a path relative to the working
 * folder: "conf/test.ini" seen from DIR. */
static int __attribute__((format(printf, 1, 2)))
load_relative(const char *fmt, ...)
{
	int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = -2;

	CU_ASSERT_FATAL(cwd >= 0);
	if (chdir(dir) == 0) {
		va_list ap;

		va_start(ap, fmt);
		rc = vload("conf/test.ini", fmt, ap);
		va_end(ap);
		CU_ASSERT_EQUAL(fchdir(cwd), 0);
	}
	close(cwd);
	return rc;
}

static void test_config_given_relative_resolves_paths_absolute(void)
{
	make_folder("conf");
	make_file("conf/data", page);
	CU_ASSERT_EQUAL_FATAL(load_relative("[a]\npath = data\n"), 0);
	CU_ASSERT_STRING_EQUAL(cfg.file, "conf/test.ini");
	assert_path("a", "conf/data");
}

static void test_errors_name_the_config_as_given(void)
{
	make_folder("conf");
	CU_ASSERT_EQUAL(load_relative("\n[a]\nviews = ro\n"), -1);
	CU_ASSERT_EQUAL(errs.count, 1);
	ASSERT_ERROR(2, "a", "no path");
}

static void test_missing_config_file(void)
{
	char *missing = path_join(dir, "none.ini"), *want;

	CU_ASSERT_EQUAL(config_load(missing, &cfg, &errs), -1);
	CU_ASSERT_FATAL(asprintf(&want, "%s: cannot read the config", missing) > 0);
	CU_ASSERT_EQUAL(errs.count, 1);
	CHECK(strncmp(first_error(&errs), want, strlen(want)) == 0,
	      "error \"%s\"; want \"%s...\"", first_error(&errs), want);
	free(want);
	free(missing);
}

/* ---- errors ---- */

static void test_unknown_global_key(void)
{
	load_fails(1, "log_level = info\ncolour = blue\n");
	ASSERT_ERROR(2, NULL, "unknown global key 'colour'");
}

static void test_unknown_entry_key(void)
{
	make_file("data", page);
	load_fails(1, "[a]\npath = data\nsize = 4\n");
	ASSERT_ERROR(3, "a", "unknown key 'size'");
}

static void test_key_given_twice_in_a_section(void)
{
	make_file("data", page);
	load_fails(1, "[a]\npath = data\nviews = ro\nviews = rw\n");
	ASSERT_ERROR(4, "a", "key 'views' given twice (first on line 3)");
}

static void test_key_given_twice_among_globals(void)
{
	load_fails(1, "log_level = info\nflush_interval = 1\nlog_level = debug\n");
	ASSERT_ERROR(3, NULL, "key 'log_level' given twice (first on line 1)");
}

static void test_same_key_in_two_sections_is_fine(void)
{
	make_file("data", page);
	load_ok("[a]\npath = data\n[b]\npath = data\n");
	CU_ASSERT_EQUAL(cfg.n_entries, 2);
}

static void test_section_named_twice(void)
{
	make_file("data", page);
	load_fails(1, "[a]\npath = data\n"
		      "[b]\npath = data\n"
		      "[a]\npath = data\n");
	ASSERT_ERROR(5, "a", "section named twice (first on line 1)");
}

static void test_section_named_three_times(void)
{
	make_file("data", page);
	load_fails(2, "[a]\npath = data\n"
		      "[a]\npath = data\n"
		      "[a]\npath = data\n");
	ASSERT_ERROR(3, "a", "section named twice (first on line 1)");
	ASSERT_ERROR(5, "a", "section named twice (first on line 1)");
}

static void test_empty_name(void)
{
	make_file("data", page);
	load_fails(1, "[]\npath = data\n");
	ASSERT_ERROR(1, "", "section name is empty");
}

static void test_dot_names(void)
{
	make_file("data", page);
	load_fails(2, "[.]\npath = data\n[..]\npath = data\n");
	ASSERT_ERROR(1, ".", "'.' or '..'");
	ASSERT_ERROR(3, "..", "'.' or '..'");
}

static void test_name_with_slash(void)
{
	make_file("data", page);
	load_fails(1, "[a/b]\npath = data\n");
	ASSERT_ERROR(1, "a/b", "cannot hold '/'");
}

/* '@' names cow instances (cow/NAME@TAG). */
static void test_name_with_at(void)
{
	make_file("data", page);
	load_fails(1, "[db@w1]\npath = data\n");
	ASSERT_ERROR(1, "db@w1", "cannot hold '@'");
}

/* Makes NAME LEN bytes of 'n'. */
static void long_name(char *name, size_t len)
{
	memset(name, 'n', len);
	name[len] = '\0';
}

static void test_name_over_255_bytes(void)
{
	char name[257];

	long_name(name, 256);
	make_file("data", page);
	load_fails(1, "; too long\n[%s]\npath = data\n", name);
	ASSERT_ERROR(2, name, "over 255 bytes");
}

static void test_name_of_255_bytes_is_kept_whole(void)
{
	char name[256];

	long_name(name, 255);
	make_file("data", page);
	load_ok("[%s]\npath = data\n", name);
	CU_ASSERT_EQUAL(cfg.n_entries, 1);
	CU_ASSERT_STRING_EQUAL(cfg.entries[0].entry.name, name);
}

static void test_header_without_closing_bracket(void)
{
	load_fails(1, "[a\n");
	ASSERT_ERROR(1, NULL, "no closing ']'");
}

static void test_line_without_equals(void)
{
	make_file("data", page);
	load_fails(1, "[a]\npath = data\njunk\n");
	ASSERT_ERROR(3, NULL, "expected 'key = value'");
}

static void test_bad_sizes(void)
{
	make_file("data", page);
	load_fails(3, "[a]\npath = data\noffset = 12Q\nlength = -1\n"
		      "[b]\npath = data\nlength = 18446744073709551616\n");
	ASSERT_ERROR(3, "a", "offset '12Q'");
	ASSERT_ERROR(4, "a", "length '-1'");
	ASSERT_ERROR(7, "b", "length '18446744073709551616'");
}

static void test_bad_yes_no(void)
{
	make_file("data", page);
	load_fails(3, "[a]\npath = data\nanonymous = maybe\ncreate = 1\n"
		      "resizable = true\n");
	ASSERT_ERROR(3, "a", "anonymous 'maybe' is not yes or no");
	ASSERT_ERROR(4, "a", "create '1' is not yes or no");
	ASSERT_ERROR(5, "a", "resizable 'true' is not yes or no");
}

static void test_bad_advice(void)
{
	make_file("data", page);
	load_fails(1, "[a]\npath = data\nadvice = fast\n");
	ASSERT_ERROR(3, "a", "advice 'fast'");
}

static void test_bad_log_level(void)
{
	load_fails(1, "log_level = verbose\n");
	ASSERT_ERROR(1, NULL, "log_level 'verbose'");
}

static void test_bad_flush_interval(void)
{
	load_fails(1, "\nflush_interval = soon\n");
	ASSERT_ERROR(2, NULL, "flush_interval 'soon'");
}

static void test_bad_views(void)
{
	make_file("data", page);
	load_fails(1, "[a]\npath = data\nviews = ro, rx\n");
	ASSERT_ERROR(3, "a", "views 'ro, rx'");
}

static void test_path_with_anonymous_points_at_the_later_key(void)
{
	make_file("data", page);
	load_fails(1, "[a]\npath = data\nlength = 1\nanonymous = yes\n");
	ASSERT_ERROR(4, "a", "path cannot go with 'anonymous = yes'");
	load_fails(1, "[a]\nanonymous = yes\nlength = 1\npath = data\n");
	ASSERT_ERROR(4, "a", "path cannot go with 'anonymous = yes'");
}

static void test_anonymous_without_length(void)
{
	load_fails(1, "[m]\n; memory\nanonymous = yes\n");
	ASSERT_ERROR(1, "m", "an anonymous entry needs a length");
}

static void test_missing_path(void)
{
	load_fails(1, "[a]\nviews = ro\n");
	ASSERT_ERROR(1, "a", "no path");
}

static void test_offset_not_a_multiple_of_the_page_size(void)
{
	char *want;

	make_file("data", page);
	CU_ASSERT_FATAL(asprintf(&want, "offset 100 is not a multiple of the page size (%ld)",
				 page) > 0);
	load_fails(1, "[a]\npath = data\noffset = 100\n");
	ASSERT_ERROR(3, "a", want);
	free(want);
}

static void test_missing_file_without_create(void)
{
	char *want = path_join(dir, "nothing: ");

	load_fails(1, "[a]\npath = nothing\n");
	ASSERT_ERROR(2, "a", want);
	free(want);
}

static void test_missing_file_with_create_is_fine(void)
{
	char *missing;

	load_ok("[a]\npath = new\nlength = %ld\ncreate = yes\n", page);
	missing = path_join(dir, "new");
	CU_ASSERT_EQUAL(file_size(missing), -1);	/* nothing made yet */
	free(missing);
}

/* SPEC: a missing key is reported on the section's header line. */
static void test_create_without_length(void)
{
	load_fails(1, "[a]\npath = new\ncreate = yes\n");
	ASSERT_ERROR(1, "a", "needs a length");
}

static void test_path_is_a_folder(void)
{
	char *want = path_join(dir, "sub is not a regular file");

	make_folder("sub");
	load_fails(1, "[a]\npath = sub\n");
	ASSERT_ERROR(2, "a", want);
	free(want);
}

static void test_window_reaching_the_end_is_fine(void)
{
	make_file("data", 2 * page);
	load_ok("[a]\npath = data\noffset = %ld\nlength = %ld\n", page, page);
	CU_ASSERT_EQUAL(entry("a")->entry.length, (uint64_t)page);
}

static void test_window_past_the_end_points_at_the_later_key(void)
{
	make_file("data", 2 * page);
	load_fails(1, "[a]\npath = data\noffset = %ld\nlength = %ld\n",
		   page, 2 * page);
	ASSERT_ERROR(4, "a", "offset + length");
	ASSERT_ERROR(4, "a", "is past the end of");
	load_fails(1, "[a]\npath = data\nlength = %ld\noffset = %ld\n",
		   2 * page, page);
	ASSERT_ERROR(4, "a", "offset + length");
	load_fails(1, "[a]\npath = data\nlength = %ld\n", 2 * page + 1);
	ASSERT_ERROR(3, "a", "offset + length");
}

static void test_existing_file_with_create_must_be_long_enough(void)
{
	make_file("data", page);
	load_fails(1, "[a]\npath = data\nlength = %ld\ncreate = yes\n", 2 * page);
	ASSERT_ERROR(3, "a", "offset + length");
}

static void test_offset_past_the_end(void)
{
	char *want;

	make_file("data", page);
	CU_ASSERT_FATAL(asprintf(&want, "offset %ld is past the end", 2 * page) > 0);
	load_fails(1, "[a]\npath = data\noffset = %ld\n", 2 * page);
	ASSERT_ERROR(3, "a", want);
	free(want);
}

static void test_empty_file_is_fine(void)
{
	make_file("empty", 0);
	load_ok("[a]\npath = empty\n");
	CU_ASSERT_EQUAL(cfg.n_entries, 1);
}

static void test_rw_view_on_an_unwritable_file(void)
{
	exe = busy_executable();
	CU_ASSERT_PTR_NOT_NULL_FATAL(exe);
	load_fails(1, "; the running test binary\n[a]\npath = %s\n", exe);
	ASSERT_ERROR(2, "a", "the rw view needs");
}

static void test_ro_and_cow_views_need_no_write_access(void)
{
	exe = busy_executable();
	CU_ASSERT_PTR_NOT_NULL_FATAL(exe);
	load_ok("[a]\npath = %s\nviews = ro, cow\n", exe);
	CU_ASSERT_EQUAL(entry("a")->entry.views, VIEW_RO | VIEW_COW);
}

static void test_all_errors_are_reported_at_once(void)
{
	make_file("data", page);
	load_fails(3, "colour = blue\n"		/* 1 */
		      "[a]\n"			/* 2 */
		      "path = data\n"		/* 3 */
		      "offset = 100\n"		/* 4 */
		      "[b]\n"			/* 5 */
		      "path = nothing\n");	/* 6 */
	ASSERT_ERROR(1, NULL, "unknown global key 'colour'");
	ASSERT_ERROR(4, "a", "offset 100 is not a multiple of the page size");
	ASSERT_ERROR(6, "b", "nothing");
}

/* ---- the mount's own files ---- */

/* Loads the config text TEXT from INI for MOUNT; returns config_load_all's. */
static int load_for_mount(const struct config_mount *mount, const char *text)
{
	file_write(ini, text, strlen(text));
	config_free(&cfg);
	errors_free(&errs);
	given = ini;
	return config_load_all(ini, NULL, 0, NULL, mount, &cfg, &errs);
}

/* Before mounting: a path under the mount point, however it is spelled
 * (relative, absolute, through a symlink, a file to create), is an error
 * at its path line; a folder whose name only starts like it is not. */
static void test_a_path_under_the_mount_point_is_an_error_before_mounting(void)
{
	char *mnt = path_join(dir, "mnt"), *abs_path, *text, *link = path_join(dir, "link");
	struct config_mount mount = { mnt, false };
	const char *paths[] = { "mnt/data", NULL, "link/data", "mnt/sub/../data" };
	int rc;

	make_folder("mnt");
	make_folder("mnt/sub");
	make_folder("mntx");
	make_file("mnt/data", page);
	make_file("mntx/data", page);
	make_file("outside", page);
	CU_ASSERT_EQUAL_FATAL(symlink("mnt", link), 0);
	abs_path = path_join(mnt, "data");
	paths[1] = abs_path;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		CU_ASSERT_FATAL(asprintf(&text, "[a]\npath = outside\n\n[b]\npath = %s\n",
					 paths[i]) > 0);
		rc = load_for_mount(&mount, text);	/* before first_error(): it frees */

		CHECK(rc == -1 && errs.count == 1, "path %s: %zu errors, the first: %s",
		      paths[i], errs.count, first_error(&errs));
		ASSERT_ERROR(5, "b", "is on the mount itself");
		ASSERT_ERROR(5, "b", mnt);
		free(text);
	}
	/* A file to create there, and the mount point itself. */
	CU_ASSERT_EQUAL(load_for_mount(&mount, "[n]\npath = mnt/new\ncreate = yes\nlength = 4K\n"), -1);
	ASSERT_ERROR(2, "n", "is on the mount itself");
	CU_ASSERT_EQUAL(load_for_mount(&mount, "[m]\npath = mnt\n"), -1);
	ASSERT_ERROR(2, "m", "is on the mount itself");
	/* Next to it, or with no mount to check against: fine. */
	rc = load_for_mount(&mount, "[a]\npath = mntx/data\n\n[b]\npath = outside\n");
	CHECK(rc == 0, "first error: %s", first_error(&errs));
	rc = load_for_mount(NULL, "[b]\npath = mnt/data\n");
	CHECK(rc == 0, "first error: %s", first_error(&errs));
	/* A mount point that is not there is the command line's error, later. */
	free(abs_path);
	abs_path = path_join(dir, "missing");
	mount.point = abs_path;
	rc = load_for_mount(&mount, "[b]\npath = mnt/data\n");
	CHECK(rc == 0, "first error: %s", first_error(&errs));
	free(abs_path);
	free(link);
	free(mnt);
}

/* While serving: a file on the mount's device (found in mountinfo, never by
 * looking at the mount point) is an error; here /proc stands for the mount. */
static void test_a_file_on_the_mount_is_an_error_while_serving(void)
{
	struct config_mount mount = { "/proc", true };
	struct stat st;
	int rc;

	make_file("outside", page);
	CU_ASSERT_FATAL(stat("/proc/self/status", &st) == 0);
	CU_ASSERT_EQUAL(load_for_mount(&mount, "[a]\npath = outside\n\n"
				       "[p]\nviews = ro\npath = /proc/self/status\n"), -1);
	CU_ASSERT_EQUAL(errs.count, 1);
	ASSERT_ERROR(6, "p", "/proc/self/status is on the mount itself (/proc)");
	/* A mount point with nothing mounted on it checks nothing. */
	mount.point = dir;
	rc = load_for_mount(&mount, "[a]\npath = outside\n");
	CHECK(rc == 0, "first error: %s", first_error(&errs));
}

void add_config_suite(void)
{
	CU_pSuite s = CU_add_suite_with_setup_and_teardown("config", init_suite,
							   NULL, setup, teardown);

	CU_ADD_TEST(s, test_empty_config_has_defaults_and_no_entries);
	CU_ADD_TEST(s, test_entry_defaults);
	CU_ADD_TEST(s, test_global_keys);
	CU_ADD_TEST(s, test_log_levels);
	CU_ADD_TEST(s, test_entry_keys_and_their_lines);
	CU_ADD_TEST(s, test_anonymous_entry);
	CU_ADD_TEST(s, test_advice_words);
	CU_ADD_TEST(s, test_views_lists);
	CU_ADD_TEST(s, test_keywords_are_case_insensitive);
	CU_ADD_TEST(s, test_sizes_take_hex_and_suffixes);
	CU_ADD_TEST(s, test_relative_paths_are_taken_from_the_config_folder);
	CU_ADD_TEST(s, test_config_given_relative_resolves_paths_absolute);
	CU_ADD_TEST(s, test_errors_name_the_config_as_given);
	CU_ADD_TEST(s, test_missing_config_file);
	CU_ADD_TEST(s, test_unknown_global_key);
	CU_ADD_TEST(s, test_unknown_entry_key);
	CU_ADD_TEST(s, test_key_given_twice_in_a_section);
	CU_ADD_TEST(s, test_key_given_twice_among_globals);
	CU_ADD_TEST(s, test_same_key_in_two_sections_is_fine);
	CU_ADD_TEST(s, test_section_named_twice);
	CU_ADD_TEST(s, test_section_named_three_times);
	CU_ADD_TEST(s, test_empty_name);
	CU_ADD_TEST(s, test_dot_names);
	CU_ADD_TEST(s, test_name_with_slash);
	CU_ADD_TEST(s, test_name_with_at);
	CU_ADD_TEST(s, test_name_over_255_bytes);
	CU_ADD_TEST(s, test_name_of_255_bytes_is_kept_whole);
	CU_ADD_TEST(s, test_header_without_closing_bracket);
	CU_ADD_TEST(s, test_line_without_equals);
	CU_ADD_TEST(s, test_bad_sizes);
	CU_ADD_TEST(s, test_bad_yes_no);
	CU_ADD_TEST(s, test_bad_advice);
	CU_ADD_TEST(s, test_bad_log_level);
	CU_ADD_TEST(s, test_bad_flush_interval);
	CU_ADD_TEST(s, test_bad_views);
	CU_ADD_TEST(s, test_path_with_anonymous_points_at_the_later_key);
	CU_ADD_TEST(s, test_anonymous_without_length);
	CU_ADD_TEST(s, test_missing_path);
	CU_ADD_TEST(s, test_offset_not_a_multiple_of_the_page_size);
	CU_ADD_TEST(s, test_missing_file_without_create);
	CU_ADD_TEST(s, test_missing_file_with_create_is_fine);
	CU_ADD_TEST(s, test_create_without_length);
	CU_ADD_TEST(s, test_path_is_a_folder);
	CU_ADD_TEST(s, test_window_reaching_the_end_is_fine);
	CU_ADD_TEST(s, test_window_past_the_end_points_at_the_later_key);
	CU_ADD_TEST(s, test_existing_file_with_create_must_be_long_enough);
	CU_ADD_TEST(s, test_offset_past_the_end);
	CU_ADD_TEST(s, test_empty_file_is_fine);
	CU_ADD_TEST(s, test_rw_view_on_an_unwritable_file);
	CU_ADD_TEST(s, test_ro_and_cow_views_need_no_write_access);
	CU_ADD_TEST(s, test_all_errors_are_reported_at_once);
	CU_ADD_TEST(s, test_a_path_under_the_mount_point_is_an_error_before_mounting);
	CU_ADD_TEST(s, test_a_file_on_the_mount_is_an_error_while_serving);
}
