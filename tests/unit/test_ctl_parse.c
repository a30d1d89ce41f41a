/*
 * test_ctl_parse.c - the control files' command language (ctl_parse) and
 * their names and modes, against SPEC "Control files"; no region needed.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ctl.h"
#include "tests.h"

/* Asserts that TEXT parses for FILE with WHOLE, VIEW and ARGS. */
#define ASSERT_PARSE(file, text, whole, view, a0, a1, a2) \
	assert_parse(__LINE__, file, text, SIZE_MAX, whole, view, a0, a1, a2)
#define ASSERT_FLUSH_WHOLE(text) \
	ASSERT_PARSE(CTL_FLUSH, text, true, VIEW_RW, 0, 0, 0)
#define ASSERT_FLUSH_RANGE(text, off, len) \
	ASSERT_PARSE(CTL_FLUSH, text, false, VIEW_RW, off, len, 0)
#define ASSERT_RESIZE_TO(text, size) \
	ASSERT_PARSE(CTL_RESIZE, text, false, VIEW_RW, size, 0, 0)
#define ASSERT_MOVE(text, view, d, s, c) \
	ASSERT_PARSE(CTL_MOVE, text, false, view, d, s, c)

static void assert_parse(unsigned at, enum ctl_file file, const char *text,
			 size_t len, bool whole, unsigned view, uint64_t a0,
			 uint64_t a1, uint64_t a2)
{
	struct ctl_command c;
	char why[400] = "";
	int err;

	len = text_len(text, len);
	err = ctl_parse(file, text, len, &c, why, sizeof(why));
	check_at(err == 0, false, __FILE__, at, "%s '%s' = %d: %s",
		 ctl_file_name(file), shown(text, len), err, why);
	if (err)
		return;
	check_at(c.file == file && c.whole == whole &&
		 (file != CTL_MOVE || c.view == view), false, __FILE__, at,
		 "%s '%s': file %d whole %d view %u, want %d %d %u",
		 ctl_file_name(file), shown(text, len), c.file, c.whole, c.view,
		 file, whole, view);
	check_at(c.arg[0] == a0 && c.arg[1] == a1 && c.arg[2] == a2, false,
		 __FILE__, at, "%s '%s': %" PRIu64 " %" PRIu64 " %" PRIu64 ", want %"
		 PRIu64 " %" PRIu64 " %" PRIu64, ctl_file_name(file),
		 shown(text, len), c.arg[0], c.arg[1], c.arg[2], a0, a1, a2);
}

/* Asserts that LEN bytes of TEXT do not parse for FILE, for reason WANT. */
#define ASSERT_PARSE_ERROR(file, text, want) \
	assert_parse_error(__LINE__, file, text, SIZE_MAX, want)
#define ASSERT_PARSE_ERROR_N(file, text, len, want) \
	assert_parse_error(__LINE__, file, text, len, want)

static void assert_parse_error(unsigned at, enum ctl_file file, const char *text,
			       size_t len, const char *want)
{
	struct ctl_command c;
	char why[400] = "";
	int err;

	len = text_len(text, len);
	err = ctl_parse(file, text, len, &c, why, sizeof(why));
	check_at(err == EINVAL && strcmp(why, want) == 0, false, __FILE__, at,
		 "%s '%s' = %d, '%s'; want EINVAL, '%s'", ctl_file_name(file),
		 shown(text, len), err, shown(why, strlen(why)), shown(want, strlen(want)));
}

static void test_file_names(void)
{
	static const char *const names[CTL_FILES] = {
		[CTL_FLUSH] = "flush", [CTL_RESIZE] = "resize", [CTL_MOVE] = "move",
		[CTL_RESET] = "reset", [CTL_FORK] = "fork", [CTL_DROP] = "drop",
		[CTL_CHANGES] = "changes", [CTL_COMMIT] = "commit", [CTL_ADVISE] = "advise",
		[CTL_STATUS] = "status",
	};

	for (int f = 0; f < CTL_FILES; f++) {
		CU_ASSERT_STRING_EQUAL(ctl_file_name((enum ctl_file)f), names[f]);
		CU_ASSERT_EQUAL(ctl_file_by_name(names[f]), f);
	}
	CU_ASSERT_EQUAL(ctl_file_by_name(""), -1);
	CU_ASSERT_EQUAL(ctl_file_by_name("FLUSH"), -1);
	CU_ASSERT_EQUAL(ctl_file_by_name("flus"), -1);
	CU_ASSERT_EQUAL(ctl_file_by_name("flushes"), -1);
	CU_ASSERT_EQUAL(ctl_file_by_name("ctl"), -1);
}

static void test_file_modes(void)
{
	CU_ASSERT_EQUAL(ctl_file_mode(CTL_FLUSH), 0200);
	CU_ASSERT_EQUAL(ctl_file_mode(CTL_MOVE), 0200);
	CU_ASSERT_EQUAL(ctl_file_mode(CTL_RESET), 0200);
	CU_ASSERT_EQUAL(ctl_file_mode(CTL_ADVISE), 0200);
	CU_ASSERT_EQUAL(ctl_file_mode(CTL_RESIZE), 0600);
	CU_ASSERT_EQUAL(ctl_file_mode(CTL_STATUS), 0400);
	CU_ASSERT_EQUAL(ctl_file_mode(CTL_FORK), 0200);
	CU_ASSERT_EQUAL(ctl_file_mode(CTL_DROP), 0200);
	CU_ASSERT_EQUAL(ctl_file_mode(CTL_COMMIT), 0200);
	CU_ASSERT_EQUAL(ctl_file_mode(CTL_CHANGES), 0400);
	CU_ASSERT_FALSE(ctl_file_of_entry(CTL_DROP));
	CU_ASSERT_TRUE(ctl_file_of_instance(CTL_DROP));
	CU_ASSERT_FALSE(ctl_file_of_instance(CTL_FLUSH));
	CU_ASSERT_FALSE(ctl_file_of_instance(CTL_ADVISE));
}

static void test_parse_flush_empty(void)
{
	ASSERT_FLUSH_WHOLE("");
	ASSERT_FLUSH_WHOLE(" ");
	ASSERT_FLUSH_WHOLE("\t");
	ASSERT_FLUSH_WHOLE("\n");
	ASSERT_FLUSH_WHOLE("\r\n");
	ASSERT_FLUSH_WHOLE("  \t \t  \r\n");
	ASSERT_FLUSH_WHOLE("\n\n\n");
}

static void test_parse_flush_range(void)
{
	ASSERT_FLUSH_RANGE("0 4096", 0, 4096);
	ASSERT_FLUSH_RANGE("0x1000 4096\n", 4096, 4096);
	ASSERT_FLUSH_RANGE("  100\t\t 7 \r\n", 100, 7);
	ASSERT_FLUSH_RANGE("0 0", 0, 0);
	ASSERT_FLUSH_RANGE("\t010 \t 0X10\t", 10, 16);
}

/* Asserts that TEXT parses for FILE as ASYNC (flush) or ADVICE (advise),
 * WHOLE or over OFF, LEN. */
#define ASSERT_FLUSH_ASYNC(text, whole, off, len) \
	assert_parse_word(__LINE__, CTL_FLUSH, text, true, 0, whole, off, len)
#define ASSERT_ADVISE(text, advice, whole, off, len) \
	assert_parse_word(__LINE__, CTL_ADVISE, text, false, advice, whole, off, len)

static void assert_parse_word(unsigned at, enum ctl_file file, const char *text,
			      bool async, int advice, bool whole, uint64_t off, uint64_t len)
{
	struct ctl_command c;
	char why[400] = "";
	int err = ctl_parse(file, text, strlen(text), &c, why, sizeof(why));

	check_at(err == 0, false, __FILE__, at, "%s '%s' = %d: %s", ctl_file_name(file),
		 shown(text, strlen(text)), err, why);
	if (err)
		return;
	check_at(c.async == async && c.advice == advice && c.whole == whole &&
		 c.arg[0] == off && c.arg[1] == len, false, __FILE__, at,
		 "%s '%s': async %d advice %d whole %d %" PRIu64 " %" PRIu64
		 ", want %d %d %d %" PRIu64 " %" PRIu64, ctl_file_name(file),
		 shown(text, strlen(text)), c.async, c.advice, c.whole, c.arg[0],
		 c.arg[1], async, advice, whole, off, len);
}

static void test_parse_flush_async(void)
{
	ASSERT_FLUSH_ASYNC("async", true, 0, 0);
	ASSERT_FLUSH_ASYNC("async\n", true, 0, 0);
	ASSERT_FLUSH_ASYNC(" \tASYNC \r\n", true, 0, 0);
	ASSERT_FLUSH_ASYNC("Async 4096 1K", false, 4096, 1024);
	ASSERT_FLUSH_ASYNC("async 0 0\n", false, 0, 0);
	ASSERT_FLUSH_RANGE("0 4096", 0, 4096);	/* no word: a plain flush */
	ASSERT_PARSE_ERROR(CTL_FLUSH, "async 1", USAGE_FLUSH_ASYNC ", got 2 fields");
	ASSERT_PARSE_ERROR(CTL_FLUSH, "async 1 2 3", USAGE_FLUSH_ASYNC ", got 4 fields");
	ASSERT_PARSE_ERROR(CTL_FLUSH, "async async", USAGE_FLUSH_ASYNC ", got 2 fields");
	ASSERT_PARSE_ERROR(CTL_FLUSH, "async x 1", "'x" NOT_A_NUMBER);
	ASSERT_PARSE_ERROR(CTL_FLUSH, "0 1 async", USAGE_FLUSH ", got 3 fields");
	ASSERT_PARSE_ERROR(CTL_FLUSH, "asyncx", USAGE_FLUSH ", got 1 field");
	ASSERT_PARSE_ERROR(CTL_FLUSH, "sync", USAGE_FLUSH ", got 1 field");
}

static void test_parse_advise_words(void)
{
	ASSERT_ADVISE("normal", MADV_NORMAL, true, 0, 0);
	ASSERT_ADVISE("sequential\n", MADV_SEQUENTIAL, true, 0, 0);
	ASSERT_ADVISE("RANDOM", MADV_RANDOM, true, 0, 0);
	ASSERT_ADVISE("WillNeed", MADV_WILLNEED, true, 0, 0);
	ASSERT_ADVISE("dontneed", MADV_DONTNEED, true, 0, 0);
	ASSERT_ADVISE("hugepage", MADV_HUGEPAGE, true, 0, 0);
	ASSERT_ADVISE("nohugepage", MADV_NOHUGEPAGE, true, 0, 0);
	ASSERT_ADVISE(" populate \r\n", 22 /* MADV_POPULATE_READ */, true, 0, 0);
	ASSERT_ADVISE("willneed 4096 8K", MADV_WILLNEED, false, 4096, 8192);
	ASSERT_ADVISE("dontneed\t0x1000\t0\n", MADV_DONTNEED, false, 4096, 0);
}

static void test_parse_advise_errors(void)
{
	ASSERT_PARSE_ERROR(CTL_ADVISE, "", USAGE_ADVISE ", got 0 fields");
	ASSERT_PARSE_ERROR(CTL_ADVISE, "\n", USAGE_ADVISE ", got 0 fields");
	ASSERT_PARSE_ERROR(CTL_ADVISE, "normal 0", USAGE_ADVISE ", got 2 fields");
	ASSERT_PARSE_ERROR(CTL_ADVISE, "normal 0 1 2", USAGE_ADVISE ", got 4 fields");
	ASSERT_PARSE_ERROR(CTL_ADVISE, "normal 0 -1", "'-1" NOT_A_NUMBER);
	ASSERT_PARSE_ERROR(CTL_ADVISE, "normal 0x 1", "'0x" NOT_A_NUMBER);
	ASSERT_PARSE_ERROR(CTL_ADVISE, "free", "'free' is no advice (normal, sequential, "
			   "random, willneed, dontneed, hugepage, nohugepage, populate)");
	ASSERT_PARSE_ERROR(CTL_ADVISE, "0 0 4096", "'0' is no advice (normal, sequential, "
			   "random, willneed, dontneed, hugepage, nohugepage, populate)");
	ASSERT_PARSE_ERROR(CTL_ADVISE, "normal 0 18446744073709551616",
			   "'18446744073709551616' is past 2^64 - 1");
}

static void test_parse_resize_numbers(void)
{
	ASSERT_RESIZE_TO("0", 0);
	ASSERT_RESIZE_TO("4096", 4096);
	ASSERT_RESIZE_TO("4096\n", 4096);
	ASSERT_RESIZE_TO("4096\r\n", 4096);
	ASSERT_RESIZE_TO(" \t 4096 \t \n", 4096);
	ASSERT_RESIZE_TO("010", 10);
	ASSERT_RESIZE_TO("00010\r\n", 10);
	ASSERT_RESIZE_TO("0x10", 16);
	ASSERT_RESIZE_TO("0X10", 16);
	ASSERT_RESIZE_TO("0xfF", 255);
	ASSERT_RESIZE_TO("18446744073709551615", UINT64_MAX);
	ASSERT_RESIZE_TO("0xffffffffffffffff", UINT64_MAX);
}

static void test_parse_suffixes_either_case(void)
{
	ASSERT_RESIZE_TO("1k", 1024);
	ASSERT_RESIZE_TO("1K", 1024);
	ASSERT_RESIZE_TO("4k", 4096);
	ASSERT_RESIZE_TO("1m", 1ULL << 20);
	ASSERT_RESIZE_TO("1M", 1ULL << 20);
	ASSERT_RESIZE_TO("1g", 1ULL << 30);
	ASSERT_RESIZE_TO("1G\n", 1ULL << 30);
	ASSERT_RESIZE_TO("1t", 1ULL << 40);
	ASSERT_RESIZE_TO("3T", 3ULL << 40);
	ASSERT_RESIZE_TO("0x10K", 16384);
	ASSERT_RESIZE_TO("0X10k", 16384);
	ASSERT_RESIZE_TO("010k", 10240);
	ASSERT_RESIZE_TO("16777215T", 16777215ULL << 40);
}

static void test_parse_suffixes_on_every_field(void)
{
	ASSERT_FLUSH_RANGE("1k 2M", 1024, 2ULL << 20);
	ASSERT_FLUSH_RANGE("0x1G 1t", 1ULL << 30, 1ULL << 40);
	ASSERT_MOVE("1k 2M 3g", VIEW_RW, 1024, 2ULL << 20, 3ULL << 30);
	ASSERT_MOVE("1T 0x2m 3K", VIEW_RW, 1ULL << 40, 2ULL << 20, 3072);
	ASSERT_MOVE("cow 1K 2m 3G", VIEW_COW, 1024, 2ULL << 20, 3ULL << 30);
	ASSERT_MOVE("\t1K  2k\t3M\n", VIEW_RW, 1024, 2048, 3ULL << 20);
}

static void test_parse_move(void)
{
	ASSERT_MOVE("0 4096 100", VIEW_RW, 0, 4096, 100);
	ASSERT_MOVE("0 4096 100\n", VIEW_RW, 0, 4096, 100);
	ASSERT_MOVE("  1 \t 2\t\t3  \r\n", VIEW_RW, 1, 2, 3);
	ASSERT_MOVE("010 0x10 0", VIEW_RW, 10, 16, 0);
	ASSERT_MOVE("18446744073709551615 18446744073709551615 18446744073709551615",
		    VIEW_RW, UINT64_MAX, UINT64_MAX, UINT64_MAX);
	ASSERT_MOVE("cow 0 4096 100", VIEW_COW, 0, 4096, 100);
	ASSERT_MOVE("COW 0 4096 100", VIEW_COW, 0, 4096, 100);
	ASSERT_MOVE("Cow\t5 6 7\r\n", VIEW_COW, 5, 6, 7);
	ASSERT_MOVE(" \tcow  1 2 3 ", VIEW_COW, 1, 2, 3);
}

static void test_parse_reset_takes_anything(void)
{
	static const char binary[] = "\0\xff\x01\n junk \r\n\x80";
	char *big = malloc(CTL_MAX_COMMAND);

	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	ASSERT_PARSE(CTL_RESET, "", false, VIEW_RW, 0, 0, 0);
	ASSERT_PARSE(CTL_RESET, "\n", false, VIEW_RW, 0, 0, 0);
	ASSERT_PARSE(CTL_RESET, "anything at all", false, VIEW_RW, 0, 0, 0);
	ASSERT_PARSE(CTL_RESET, "1.5 -1 12Q 18446744073709551616", false, VIEW_RW, 0, 0, 0);
	assert_parse(__LINE__, CTL_RESET, binary, sizeof(binary) - 1, false, VIEW_RW,
		     0, 0, 0);
	memset(big, 'x', CTL_MAX_COMMAND);
	big[100] = '\0';
	assert_parse(__LINE__, CTL_RESET, big, CTL_MAX_COMMAND, false, VIEW_RW, 0, 0, 0);
	free(big);
}

static void test_parse_extra_field(void)
{
	ASSERT_PARSE_ERROR(CTL_RESIZE, "1 2", USAGE_RESIZE ", got 2 fields");
	ASSERT_PARSE_ERROR(CTL_RESIZE, "4096 junk\n", USAGE_RESIZE ", got 2 fields");
	ASSERT_PARSE_ERROR(CTL_MOVE, "1 2 3 4", USAGE_MOVE ", got 4 fields");
	ASSERT_PARSE_ERROR(CTL_MOVE, "move 1 2 3", USAGE_MOVE ", got 4 fields");
	ASSERT_PARSE_ERROR(CTL_MOVE, "cow 1 2 3 4", "too many fields");
	ASSERT_PARSE_ERROR(CTL_FLUSH, "1 2 3", USAGE_FLUSH ", got 3 fields");
}

static void test_parse_wrong_field_counts(void)
{
	ASSERT_PARSE_ERROR(CTL_FLUSH, "1", USAGE_FLUSH ", got 1 field");
	ASSERT_PARSE_ERROR(CTL_FLUSH, " 4096\n", USAGE_FLUSH ", got 1 field");
	ASSERT_PARSE_ERROR(CTL_FLUSH, "1 2 3", USAGE_FLUSH ", got 3 fields");
	ASSERT_PARSE_ERROR(CTL_MOVE, "1 2", USAGE_MOVE ", got 2 fields");
	ASSERT_PARSE_ERROR(CTL_MOVE, "cow 1 2", "'cow" NOT_A_NUMBER);
	ASSERT_PARSE_ERROR(CTL_MOVE, "cow", USAGE_MOVE ", got 1 field");
}

static void test_parse_empty_where_fields_are_needed(void)
{
	ASSERT_PARSE_ERROR(CTL_RESIZE, "", USAGE_RESIZE ", got 0 fields");
	ASSERT_PARSE_ERROR(CTL_RESIZE, " \t\r\n", USAGE_RESIZE ", got 0 fields");
	ASSERT_PARSE_ERROR(CTL_MOVE, "", USAGE_MOVE ", got 0 fields");
	ASSERT_PARSE_ERROR(CTL_MOVE, "\n", USAGE_MOVE ", got 0 fields");
}

static void test_parse_sign_and_fraction(void)
{
	ASSERT_PARSE_ERROR(CTL_RESIZE, "-1", "'-1" NOT_A_NUMBER);
	ASSERT_PARSE_ERROR(CTL_RESIZE, "+1", "'+1" NOT_A_NUMBER);
	ASSERT_PARSE_ERROR(CTL_RESIZE, "-0\n", "'-0" NOT_A_NUMBER);
	ASSERT_PARSE_ERROR(CTL_RESIZE, "1.5", "'1.5" NOT_A_NUMBER);
	ASSERT_PARSE_ERROR(CTL_RESIZE, "1.0K", "'1.0K" NOT_A_NUMBER);
	ASSERT_PARSE_ERROR(CTL_FLUSH, "0 -4096", "'-4096" NOT_A_NUMBER);
	ASSERT_PARSE_ERROR(CTL_MOVE, "0 +1 2", "'+1" NOT_A_NUMBER);
	ASSERT_PARSE_ERROR(CTL_MOVE, "cow 0 1 2.5", "'2.5" NOT_A_NUMBER);
}

static void test_parse_not_numbers(void)
{
	ASSERT_PARSE_ERROR(CTL_RESIZE, "12Q", "'12Q" NOT_A_NUMBER);
	ASSERT_PARSE_ERROR(CTL_RESIZE, "abc", "'abc" NOT_A_NUMBER);
	ASSERT_PARSE_ERROR(CTL_RESIZE, "0x", "'0x" NOT_A_NUMBER);
	ASSERT_PARSE_ERROR(CTL_RESIZE, "K", "'K" NOT_A_NUMBER);
	ASSERT_PARSE_ERROR(CTL_RESIZE, "1KK", "'1KK" NOT_A_NUMBER);
	ASSERT_PARSE_ERROR(CTL_RESIZE, "1KB", "'1KB" NOT_A_NUMBER);
	ASSERT_PARSE_ERROR(CTL_RESIZE, "1e3", "'1e3" NOT_A_NUMBER);
	ASSERT_PARSE_ERROR(CTL_FLUSH, "0 12Q", "'12Q" NOT_A_NUMBER);
	ASSERT_PARSE_ERROR(CTL_MOVE, "1 2 x", "'x" NOT_A_NUMBER);
	ASSERT_PARSE_ERROR(CTL_MOVE, "cow cow 1 2", "'cow" NOT_A_NUMBER);
}

static void test_parse_past_2_to_the_64(void)
{
	ASSERT_PARSE_ERROR(CTL_RESIZE, "18446744073709551616",
			   "'18446744073709551616' is past 2^64 - 1");
	ASSERT_PARSE_ERROR(CTL_RESIZE, "99999999999999999999999",
			   "'99999999999999999999999' is past 2^64 - 1");
	ASSERT_PARSE_ERROR(CTL_RESIZE, "0x10000000000000000",
			   "'0x10000000000000000' is past 2^64 - 1");
	ASSERT_PARSE_ERROR(CTL_RESIZE, "16777216T", "'16777216T' is past 2^64 - 1");
	ASSERT_PARSE_ERROR(CTL_FLUSH, "0 18446744073709551616",
			   "'18446744073709551616' is past 2^64 - 1");
	ASSERT_PARSE_ERROR(CTL_MOVE, "cow 0 0 18446744073709551616",
			   "'18446744073709551616' is past 2^64 - 1");
}

static void test_parse_nul_byte(void)
{
	ASSERT_PARSE_ERROR_N(CTL_RESIZE, "1\0", 2, "command holds a NUL byte");
	ASSERT_PARSE_ERROR_N(CTL_RESIZE, "\0" "1", 2, "command holds a NUL byte");
	ASSERT_PARSE_ERROR_N(CTL_FLUSH, "\0", 1, "command holds a NUL byte");
	ASSERT_PARSE_ERROR_N(CTL_MOVE, "1 2\0 3", 6, "command holds a NUL byte");
}

/* The reason names the byte and never echoes it (status stays text). */
static void test_parse_non_ascii_byte(void)
{
	ASSERT_PARSE_ERROR(CTL_RESIZE, "1\xff",
			   "field 1 holds byte 0xff, which is not printable ASCII");
	ASSERT_PARSE_ERROR(CTL_RESIZE, "\xc3\xa9",
			   "field 1 holds byte 0xc3, which is not printable ASCII");
	ASSERT_PARSE_ERROR(CTL_MOVE, "1 2 3\x7f",
			   "field 3 holds byte 0x7f, which is not printable ASCII");
	ASSERT_PARSE_ERROR(CTL_MOVE, "cow 1 \x80 3",
			   "field 3 holds byte 0x80, which is not printable ASCII");
	ASSERT_PARSE_ERROR(CTL_FLUSH, "\x01 2",
			   "field 1 holds byte 0x01, which is not printable ASCII");
}

static void test_parse_inner_newline(void)
{
	ASSERT_PARSE_ERROR(CTL_RESIZE, "1\n2",
			   "field 1 holds byte 0x0a, which is not printable ASCII");
	ASSERT_PARSE_ERROR(CTL_RESIZE, "1\r\n2\r\n",
			   "field 1 holds byte 0x0d, which is not printable ASCII");
	ASSERT_PARSE_ERROR(CTL_FLUSH, "0 1\n0 1\n",
			   "field 2 holds byte 0x0a, which is not printable ASCII");
	ASSERT_PARSE_ERROR(CTL_FLUSH, "\n\n1\n2\n\n",
			   "field 1 holds byte 0x0a, which is not printable ASCII");
	ASSERT_PARSE_ERROR(CTL_MOVE, "1 2\n3",
			   "field 2 holds byte 0x0a, which is not printable ASCII");
}

static void test_parse_4096_bytes_at_most(void)
{
	char *buf = malloc(CTL_MAX_COMMAND + 2);

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	padded(buf, CTL_MAX_COMMAND, "1");
	assert_parse(__LINE__, CTL_RESIZE, buf, CTL_MAX_COMMAND, false, VIEW_RW, 1, 0, 0);
	padded(buf, CTL_MAX_COMMAND, "");
	memcpy(buf + CTL_MAX_COMMAND - 2, "77", 2);
	assert_parse(__LINE__, CTL_RESIZE, buf, CTL_MAX_COMMAND, false, VIEW_RW, 77, 0, 0);
	padded(buf, CTL_MAX_COMMAND, "");
	assert_parse(__LINE__, CTL_FLUSH, buf, CTL_MAX_COMMAND, true, VIEW_RW, 0, 0, 0);

	padded(buf, CTL_MAX_COMMAND + 1, "1");
	ASSERT_PARSE_ERROR_N(CTL_RESIZE, buf, CTL_MAX_COMMAND + 1,
			     "command is 4097 bytes, at most 4096");
	ASSERT_PARSE_ERROR_N(CTL_FLUSH, buf, CTL_MAX_COMMAND + 1,
			     "command is 4097 bytes, at most 4096");
	ASSERT_PARSE_ERROR_N(CTL_RESET, buf, CTL_MAX_COMMAND + 1,
			     "command is 4097 bytes, at most 4096");
	padded(buf, CTL_MAX_COMMAND + 2, "0 0 0");
	ASSERT_PARSE_ERROR_N(CTL_MOVE, buf, CTL_MAX_COMMAND + 2,
			     "command is 4098 bytes, at most 4096");
	free(buf);
}

static void test_parse_status_is_read_only(void)
{
	ASSERT_PARSE_ERROR(CTL_STATUS, "", "status is read-only");
	ASSERT_PARSE_ERROR(CTL_STATUS, "1", "status is read-only");
}

void add_ctl_parse_suite(void)
{
	CU_pSuite s = CU_add_suite("ctl_parse", NULL, NULL);

	CU_ADD_TEST(s, test_file_names);
	CU_ADD_TEST(s, test_file_modes);
	CU_ADD_TEST(s, test_parse_flush_empty);
	CU_ADD_TEST(s, test_parse_flush_range);
	CU_ADD_TEST(s, test_parse_flush_async);
	CU_ADD_TEST(s, test_parse_advise_words);
	CU_ADD_TEST(s, test_parse_advise_errors);
	CU_ADD_TEST(s, test_parse_resize_numbers);
	CU_ADD_TEST(s, test_parse_suffixes_either_case);
	CU_ADD_TEST(s, test_parse_suffixes_on_every_field);
	CU_ADD_TEST(s, test_parse_move);
	CU_ADD_TEST(s, test_parse_reset_takes_anything);
	CU_ADD_TEST(s, test_parse_extra_field);
	CU_ADD_TEST(s, test_parse_wrong_field_counts);
	CU_ADD_TEST(s, test_parse_empty_where_fields_are_needed);
	CU_ADD_TEST(s, test_parse_sign_and_fraction);
	CU_ADD_TEST(s, test_parse_not_numbers);
	CU_ADD_TEST(s, test_parse_past_2_to_the_64);
	CU_ADD_TEST(s, test_parse_nul_byte);
	CU_ADD_TEST(s, test_parse_non_ascii_byte);
	CU_ADD_TEST(s, test_parse_inner_newline);
	CU_ADD_TEST(s, test_parse_4096_bytes_at_most);
	CU_ADD_TEST(s, test_parse_status_is_read_only);
}
