/* Unit tests for recovery.c: the codes' form, their spread over the
 * alphabet, what typed answers are taken for one, and their hashes. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "recovery.h"

static const char alphabet[] = "23456789abcdefghjkmnpqrstuvwxyz";

static void test_form(void **state)
{
	char code[RECOVERY_CODE_TEXT], canon[RECOVERY_CODE_SYMBOLS + 1];

	(void)state;
	for (int i = 0; i < 200; i++) {
		assert_int_equal(recovery_code_new(code), 0);
		assert_int_equal(strlen(code), 14);
		assert_int_equal(code[4], '-');
		assert_int_equal(code[9], '-');
		for (int j = 0; j < 14; j++)
			if (j != 4 && j != 9)
				assert_non_null(strchr(alphabet, code[j]));
		assert_true(recovery_code_normalize(code, canon));
		assert_int_equal(strlen(canon), RECOVERY_CODE_SYMBOLS);
	}
}

/* Every symbol turns up, none outside the alphabet, none much more often
 * than the others: a broken sampler shows here. */
static void test_spread(void **state)
{
	unsigned count[256] = { 0 };
	char code[RECOVERY_CODE_TEXT];
	const unsigned rounds = 3000, expect = rounds * RECOVERY_CODE_SYMBOLS / 31;

	(void)state;
	for (unsigned i = 0; i < rounds; i++) {
		assert_int_equal(recovery_code_new(code), 0);
		for (const char *p = code; *p != '\0'; p++)
			if (*p != '-')
				count[(unsigned char)*p]++;
	}
	for (unsigned c = 0; c < 256; c++) {
		bool in = c != 0 && strchr(alphabet, (int)c) != NULL;

		if (!in)
			assert_int_equal(count[c], 0);
		else if (count[c] < expect * 7 / 10 || count[c] > expect * 13 / 10)
			fail_msg("symbol %c came %u times, about %u expected", c, count[c], expect);
	}
}

static void test_normalize(void **state)
{
	static const char *const good[] = {
		"7kq3-m9xa-bz4t", "7KQ3-M9XA-BZ4T", "7kq3m9xabz4t",
		"7kq3 m9xa bz4t", "7kq3--m9xabz4t",
	};
	static const char *const bad[] = {
		"",
		"7kq3-m9xa-bz4",
		"7kq3-m9xa-bz4tt",
		"0kq3-m9xa-bz4t",
		"1kq3-m9xa-bz4t",
		"lkq3-m9xa-bz4t",
		"ikq3-m9xa-bz4t",
		"okq3-m9xa-bz4t",
		"7kq3_m9xa_bz4t",
		"123456",
		"12345678",
		"7kq3-m9xa-bz4\n",
		"7kq3-m9xa-bz4\xc3",
		"----------------",
	};
	char canon[RECOVERY_CODE_SYMBOLS + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_true(recovery_code_normalize(good[i], canon));
		assert_string_equal(canon, "7kq3m9xabz4t");
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (recovery_code_normalize(bad[i], canon))
			fail_msg("\"%s\" taken for a recovery code", bad[i]);
}

static void test_hash(void **state)
{
	unsigned char salt[EMAIL_SALT_LEN] = { 1, 2, 3 }, other[EMAIL_SALT_LEN] = { 3, 2, 1 };
	unsigned char a[EMAIL_HASH_LEN], b[EMAIL_HASH_LEN], c[EMAIL_HASH_LEN];

	(void)state;
	assert_int_equal(recovery_code_hash(salt, "7kq3m9xabz4t", a), 0);
	assert_int_equal(recovery_code_hash(salt, "7kq3m9xabz4t", b), 0);
	assert_memory_equal(a, b, sizeof(a));
	assert_int_equal(recovery_code_hash(other, "7kq3m9xabz4t", c), 0);
	assert_memory_not_equal(a, c, sizeof(a));
	assert_int_equal(recovery_code_hash(salt, "7kq3m9xabz4u", c), 0);
	assert_memory_not_equal(a, c, sizeof(a));
}

/* What a code prompt takes as a recovery or bypass code, against the
 * prompt's own codes. */
static void test_canonical(void **state)
{
	char out[RECOVERY_CANONICAL_MAX + 1];

	(void)state;
	assert_true(recovery_code_canonical("7KQ3-m9xa-bz4t", 6, out));
	assert_string_equal(out, "7kq3m9xabz4t");
	assert_true(recovery_code_canonical(" 7kq3 m9xa bz4t ", 8, out));
	/* An imported scratch code: 8 digits, where codes are not 8 long. */
	assert_true(recovery_code_canonical("12345678", 6, out));
	assert_string_equal(out, "12345678");
	assert_true(recovery_code_canonical(" 12345678\t", 7, out));
	assert_string_equal(out, "12345678");
	assert_false(recovery_code_canonical("12345678", 8, out));
	assert_false(recovery_code_canonical("123456", 6, out));
	assert_false(recovery_code_canonical("1234 5678", 6, out));
	assert_false(recovery_code_canonical("123456789", 6, out));
	assert_false(recovery_code_canonical("", 6, out));
	assert_false(recovery_code_canonical("resend", 6, out));
	assert_false(recovery_code_canonical("7kq3-m9xa-bz4", 6, out));

	assert_true(recovery_code_is_canonical("7kq3m9xabz4t"));
	assert_true(recovery_code_is_canonical("00000000"));
	assert_false(recovery_code_is_canonical("7KQ3M9XABZ4T"));
	assert_false(recovery_code_is_canonical("7kq3-m9xa-bz4t"));
	assert_false(recovery_code_is_canonical("0kq3m9xabz4t")); /* 0 is not a symbol */
	assert_false(recovery_code_is_canonical("1234567"));
	assert_false(recovery_code_is_canonical(""));
}

static void test_make_set(void **state)
{
	char shown[RECOVERY_CODES_MAX][RECOVERY_CODE_TEXT];
	char canon[RECOVERY_CODES_MAX][RECOVERY_CANONICAL_MAX + 1];
	char again[RECOVERY_CANONICAL_MAX + 1];

	(void)state;
	assert_int_equal(recovery_codes_make(0, shown, canon), -EINVAL);
	assert_int_equal(recovery_codes_make(RECOVERY_CODES_MAX + 1, shown, canon), -EINVAL);
	assert_int_equal(recovery_codes_make(RECOVERY_CODES_MAX, shown, canon), 0);
	for (unsigned i = 0; i < RECOVERY_CODES_MAX; i++) {
		assert_int_equal(strlen(shown[i]), RECOVERY_CODE_TEXT - 1);
		assert_true(recovery_code_is_canonical(canon[i]));
		assert_true(recovery_code_normalize(shown[i], again));
		assert_string_equal(again, canon[i]);
		for (unsigned j = 0; j < i; j++)
			assert_string_not_equal(canon[i], canon[j]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_form),	  cmocka_unit_test(test_spread),
		cmocka_unit_test(test_normalize), cmocka_unit_test(test_hash),
		cmocka_unit_test(test_canonical), cmocka_unit_test(test_make_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
