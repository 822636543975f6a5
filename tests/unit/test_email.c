/* Unit tests for email.c: the address grammar that keeps headers closed,
 * the template, masking, code generation and the salted hash. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "email.h"

static void test_address_grammar(void **state)
{
	static const char *const good[] = {
		"alice@example.org",   "a.b-c+d_e@mail.example.co.uk",	"x@a-b.io",
		"o'brien@example.org", "first.last@sub.domain.example",
	};
	static const char *const bad[] = {
		"",
		"alice",
		"@example.org",
		"alice@",
		"alice@example",
		"alice@@example.org",
		"a@b@example.org",
		".alice@example.org",
		"alice.@example.org",
		"al..ice@example.org",
		"alice@.example.org",
		"alice@example..org",
		"alice@example.org.",
		"alice@-example.org",
		"alice@example-.org",
		"ali ce@example.org",
		"\"alice\"@example.org",
		"alice@exa mple.org",
		"alice@example.org\r\nBcc: x@evil.org",
		"alice@example.org\n",
		"alice@example.org>",
		"<alice@example.org>",
		"alice@example.org,bob@example.org",
		"alice;bob@example.org",
		"al(ice)@example.org",
		"alice@[127.0.0.1]",
		("ali\xc3\xa7"
		 "e@example.org"),
		"alice@ex_ample.org",
	};
	char longest[300];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!email_address_valid(good[i]))
			fail_msg("refused %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (email_address_valid(bad[i]))
			fail_msg("accepted \"%s\"", bad[i]);
	assert_false(email_address_valid(NULL));
	/* 64 bytes of local part are fine, 65 are not. */
	memset(longest, 'a', 64);
	strcpy(longest + 64, "@example.org");
	assert_true(email_address_valid(longest));
	memset(longest, 'a', 65);
	strcpy(longest + 65, "@example.org");
	assert_false(email_address_valid(longest));
	/* 254 bytes in all at most: "a@" and labels of 50 (+ '.') up to it. */
	for (size_t total = 254; total <= 255; total++) {
		size_t i = 2;

		memcpy(longest, "a@", 2);
		while (i < total) {
			size_t n = total - i > 51 ? 50 : total - i;
			memset(longest + i, 'b', n);
			i += n;
			if (i < total)
				longest[i++] = '.';
		}
		longest[total] = '\0';
		assert_int_equal(strlen(longest), total);
		assert_int_equal(email_address_valid(longest), total == 254);
	}
}

static void test_template(void **state)
{
	struct email_config cfg;
	char out[EMAIL_ADDRESS_MAX + 1];

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(email_address_from_template(&cfg, "alice", out, sizeof(out)), -ENOENT);
	cfg.address_template = "%u@example.org";
	assert_int_equal(email_address_from_template(&cfg, "alice", out, sizeof(out)), 0);
	assert_string_equal(out, "alice@example.org");
	cfg.address_template = "mfa+%u%%x@example.org";
	assert_int_equal(email_address_from_template(&cfg, "bob.b", out, sizeof(out)), 0);
	assert_string_equal(out, "mfa+bob.b%x@example.org");
	/* A user name that makes an invalid address gives no address. */
	cfg.address_template = "%u@example.org";
	assert_int_equal(email_address_from_template(&cfg, "a@b", out, sizeof(out)), -EINVAL);
	assert_int_equal(email_address_from_template(&cfg, "alice", out, 8), -EINVAL);
}

static void test_mask(void **state)
{
	char out[64];

	(void)state;
	email_mask("alice@example.org", out, sizeof(out));
	assert_string_equal(out, "a***@example.org");
	email_mask("nonsense", out, sizeof(out));
	assert_string_equal(out, "your address");
}

static void test_codes(void **state)
{
	unsigned counts[10] = { 0 };
	char code[EMAIL_CODE_DIGITS_MAX + 1], other[EMAIL_CODE_DIGITS_MAX + 1];
	int same = 0;

	(void)state;
	for (int i = 0; i < 20000; i++) {
		assert_int_equal(email_code_new(6, code), 0);
		assert_int_equal(strlen(code), 6);
		for (int d = 0; d < 6; d++) {
			assert_true(code[d] >= '0' && code[d] <= '9');
			counts[code[d] - '0']++;
		}
	}
	/* 120000 digits: each expected 12000; uniform within a wide margin. */
	for (int d = 0; d < 10; d++)
		assert_true(counts[d] > 11000 && counts[d] < 13000);
	assert_int_equal(email_code_new(EMAIL_CODE_DIGITS_MAX, code), 0);
	assert_int_equal(strlen(code), EMAIL_CODE_DIGITS_MAX);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(email_code_new(10, other), 0);
		same += strcmp(code, other) == 0;
	}
	assert_int_equal(same, 0);
}

static void test_hash(void **state)
{
	unsigned char salt[EMAIL_SALT_LEN], a[EMAIL_HASH_LEN], b[EMAIL_HASH_LEN];

	(void)state;
	memset(salt, 1, sizeof(salt));
	assert_int_equal(email_code_hash(salt, "123456", a), 0);
	assert_int_equal(email_code_hash(salt, "123456", b), 0);
	assert_memory_equal(a, b, sizeof(a));
	assert_int_equal(email_code_hash(salt, "123457", b), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	salt[0] = 2;
	assert_int_equal(email_code_hash(salt, "123456", b), 0);
	assert_memory_not_equal(a, b, sizeof(a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_address_grammar),
		cmocka_unit_test(test_template),
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_codes),
		cmocka_unit_test(test_hash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
