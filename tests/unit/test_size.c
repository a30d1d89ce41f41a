/* test_size.c - size_parse(), the number syntax of configs and commands. */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <inttypes.h>

#include "size.h"
#include "tests.h"

/* Asserts that TEXT parses to WANT. */
#define ASSERT_SIZE(text, want) assert_size(__LINE__, text, want)
/* Asserts that TEXT is rejected with the errno WANT. */
#define ASSERT_SIZE_ERROR(text, want) assert_size_error(__LINE__, text, want)

static void assert_size(unsigned line, const char *text, uint64_t want)
{
	uint64_t got = 0;
	int err = size_parse(text, &got);

	check_at(err == 0 && got == want, false, __FILE__, line,
		 "size_parse(\"%s\") = %d, %" PRIu64 "; want 0, %" PRIu64,
		 text, err, got, want);
}

static void assert_size_error(unsigned line, const char *text, int want)
{
	uint64_t got = 0;
	int err = size_parse(text, &got);

	check_at(err == want, false, __FILE__, line,
		 "size_parse(\"%s\") = %d; want %d", text, err, want);
}

static void test_decimal(void)
{
	ASSERT_SIZE("0", 0);
	ASSERT_SIZE("7", 7);
	ASSERT_SIZE("4096", 4096);
	ASSERT_SIZE("123456789", 123456789);
}

static void test_leading_zeros_stay_decimal(void)
{
	ASSERT_SIZE("010", 10);
	ASSERT_SIZE("00", 0);
	ASSERT_SIZE("08", 8);
	ASSERT_SIZE("0009", 9);
}

static void test_hex(void)
{
	ASSERT_SIZE("0x10", 16);
	ASSERT_SIZE("0X10", 16);
	ASSERT_SIZE("0x0", 0);
	ASSERT_SIZE("0xfF", 255);
	ASSERT_SIZE("0XDEADbeef", 0xdeadbeef);
	ASSERT_SIZE("0x0010", 16);
}

static void test_suffixes_are_powers_of_1024(void)
{
	ASSERT_SIZE("1K", 1024);
	ASSERT_SIZE("1k", 1024);
	ASSERT_SIZE("2M", 2ULL << 20);
	ASSERT_SIZE("2m", 2ULL << 20);
	ASSERT_SIZE("3G", 3ULL << 30);
	ASSERT_SIZE("3g", 3ULL << 30);
	ASSERT_SIZE("4T", 4ULL << 40);
	ASSERT_SIZE("4t", 4ULL << 40);
	ASSERT_SIZE("0K", 0);
	ASSERT_SIZE("010K", 10240);
}

static void test_hex_with_suffix(void)
{
	ASSERT_SIZE("0x10K", 16 << 10);
	ASSERT_SIZE("0X1m", 1 << 20);
	ASSERT_SIZE("0xaG", 10ULL << 30);
}

static void test_largest_value(void)
{
	ASSERT_SIZE("18446744073709551615", UINT64_MAX);
	ASSERT_SIZE("0xFFFFFFFFFFFFFFFF", UINT64_MAX);
	ASSERT_SIZE("17179869183G", 17179869183ULL << 30);
	ASSERT_SIZE("16777215T", 16777215ULL << 40);
	ASSERT_SIZE("0x3FFFFFFFFFFFFFK", 0x3FFFFFFFFFFFFFULL << 10);
}

static void test_past_64_bits_is_erange(void)
{
	ASSERT_SIZE_ERROR("18446744073709551616", ERANGE);
	ASSERT_SIZE_ERROR("18446744073709551620", ERANGE);
	ASSERT_SIZE_ERROR("99999999999999999999", ERANGE);
	ASSERT_SIZE_ERROR("0x10000000000000000", ERANGE);
}

static void test_suffix_overflow_is_erange(void)
{
	ASSERT_SIZE_ERROR("17179869184G", ERANGE);
	ASSERT_SIZE_ERROR("16777216T", ERANGE);
	ASSERT_SIZE_ERROR("0x40000000000000K", ERANGE);
}

static void test_unknown_suffix_is_einval(void)
{
	ASSERT_SIZE_ERROR("16E", EINVAL);
	ASSERT_SIZE_ERROR("1P", EINVAL);
	ASSERT_SIZE_ERROR("12Q", EINVAL);
	ASSERT_SIZE_ERROR("1B", EINVAL);
}

static void test_malformed_is_einval(void)
{
	static const char *const bad[] = {
		"", "-1", "+1", "1.5", " 1", "1 ", "1\n", "1KB", "1KK", "0x",
		"0X", "0xK", "K", "x10", "0x-1", "0x 1", "1_000", "0b1", "1e3",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_SIZE_ERROR(bad[i], EINVAL);
}

void add_size_suite(void)
{
	CU_pSuite s = CU_add_suite("size", NULL, NULL);

	CU_ADD_TEST(s, test_decimal);
	CU_ADD_TEST(s, test_leading_zeros_stay_decimal);
	CU_ADD_TEST(s, test_hex);
	CU_ADD_TEST(s, test_suffixes_are_powers_of_1024);
	CU_ADD_TEST(s, test_hex_with_suffix);
	CU_ADD_TEST(s, test_largest_value);
	CU_ADD_TEST(s, test_past_64_bits_is_erange);
	CU_ADD_TEST(s, test_suffix_overflow_is_erange);
	CU_ADD_TEST(s, test_unknown_suffix_is_einval);
	CU_ADD_TEST(s, test_malformed_is_einval);
}
