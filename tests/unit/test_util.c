/* Unit tests for util.c (user names, log-safe strings, strict numbers) and
 * lockout.c (counting failures, locking, unlocking). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lockout.h"
#include "util.h"

static void test_user_name_valid(void **state)
{
	static const char *const good[] = {
		"a",   "alice",		"Alice", "a1",	   "a.b", "a-b",
		"a_b", "a@example.com", "_svc",	 "9lives", "a.",  "a-",
	};
	static const char *const bad[] = {
		"",   ".",   "..",   ".hidden", "-x",	    "../x",	 "a/b",
		"/",  "a b", "a\n",  "a\t",	"\xc3\xbc", "a\xc3\xbc", "a:b",
		"a*", "a$",  "a\\b", "a\x7f",	"a+b",
	};
	char name[USER_NAME_MAX + 2];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!user_name_valid(good[i]))
			fail_msg("refused \"%s\"", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (user_name_valid(bad[i]))
			fail_msg("accepted \"%s\"", bad[i]);
	assert_false(user_name_valid(NULL));
	memset(name, 'u', sizeof(name));
	name[USER_NAME_MAX] = '\0';
	assert_true(user_name_valid(name));
	name[USER_NAME_MAX] = 'u';
	name[USER_NAME_MAX + 1] = '\0';
	assert_false(user_name_valid(name));
}

static void test_sanitize_printable(void **state)
{
	char out[16];

	(void)state;
	sanitize_printable("sshd", out, sizeof(out));
	assert_string_equal(out, "sshd");
	sanitize_printable("a\x01"
			   "b\x7f"
			   "c\n\t\xc3\xbc~ ",
			   out, sizeof(out));
	assert_string_equal(out, "a?b?c????~ ");
	/* Truncated to fit, always terminated. */
	sanitize_printable("abcdefghijklmnopqrstuvwxyz", out, 5);
	assert_string_equal(out, "abcd");
	memset(out, 'x', sizeof(out));
	sanitize_printable("abc", out, 1);
	assert_string_equal(out, "");
	memset(out, 'x', sizeof(out));
	sanitize_printable(NULL, out, sizeof(out));
	assert_string_equal(out, "");
	/* outlen 0 writes nothing. */
	memset(out, 'x', sizeof(out));
	sanitize_printable("abc", out, 0);
	assert_int_equal(out[0], 'x');
}

static void test_parse_u64(void **state)
{
	static const char *const invalid[] = {
		"",   "00", "01",   "007", "-1",  "+1",	 " 1",
		"1 ", "1a", "0x10", "1.0", "1e3", "\t1", "１",
	};
	uint64_t v;

	(void)state;
	assert_int_equal(parse_u64("0", 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_u64("10", 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(parse_u64("11", 10, &v), -ERANGE);
	assert_int_equal(parse_u64("1234567890", UINT64_MAX, &v), 0);
	assert_int_equal(v, 1234567890);
	assert_int_equal(parse_u64("18446744073709551615", UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(parse_u64("18446744073709551616", UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_u64("99999999999999999999999", UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_u64(NULL, 10, &v), -EINVAL);
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
		if (parse_u64(invalid[i], UINT64_MAX, &v) != -EINVAL)
			fail_msg("parse_u64(\"%s\") did not return -EINVAL", invalid[i]);
	/* A failed parse leaves the output alone. */
	v = 42;
	assert_true(parse_u64("x", 100, &v) < 0);
	assert_true(parse_u64("101", 100, &v) < 0);
	assert_int_equal(v, 42);
}

static void test_error_message(void **state)
{
	struct mfa_error err;
	char longer[2000];

	(void)state;
	mfa_error_set(&err, "%s:%d: %s", "/etc/x", 3, "bad");
	assert_string_equal(err.msg, "/etc/x:3: bad");
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	mfa_error_set(&err, "%s", longer);
	assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
	mfa_error_set(NULL, "%s", "ignored");
}

/* ---- lockout ---- */

static struct mfa_config lockout_cfg(unsigned attempts, unsigned interval, unsigned unlock_after)
{
	struct mfa_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.lockout.attempts = attempts;
	cfg.lockout.interval = interval;
	cfg.lockout.unlock_after = unlock_after;
	return cfg;
}

static void test_lockout_within_interval(void **state)
{
	struct mfa_config cfg = lockout_cfg(3, 60, 300);
	struct mfa_record rec;

	(void)state;
	record_init(&rec, "alice");
	assert_false(lockout_active(&rec, 1000));
	assert_false(lockout_record_failure(&rec, &cfg, 1000));
	assert_int_equal(rec.fail_count, 1);
	assert_int_equal(rec.fail_since, 1000);
	assert_false(lockout_record_failure(&rec, &cfg, 1010));
	assert_false(lockout_active(&rec, 1010));
	assert_true(lockout_record_failure(&rec, &cfg, 1059));
	assert_int_equal(rec.fail_count, 3);
	assert_int_equal(rec.locked_until, 1059 + 300);
	assert_true(lockout_active(&rec, 1059));
	assert_true(lockout_active(&rec, 1358));
	assert_false(lockout_active(&rec, 1359));
	/* More failures while locked neither report a new lock nor extend it. */
	assert_false(lockout_record_failure(&rec, &cfg, 1100));
	assert_int_equal(rec.locked_until, 1359);
	assert_true(lockout_active(&rec, 1100));
}

static void test_lockout_interval_restarts(void **state)
{
	struct mfa_config cfg = lockout_cfg(3, 60, 300);
	struct mfa_record rec;

	(void)state;
	record_init(&rec, "alice");
	assert_false(lockout_record_failure(&rec, &cfg, 1000));
	assert_false(lockout_record_failure(&rec, &cfg, 1030));
	/* 60 s after the first failure the interval is over: a new count. */
	assert_false(lockout_record_failure(&rec, &cfg, 1060));
	assert_int_equal(rec.fail_count, 1);
	assert_int_equal(rec.fail_since, 1060);
	assert_false(lockout_record_failure(&rec, &cfg, 1061));
	assert_int_equal(rec.locked_until, 0);
	assert_true(lockout_record_failure(&rec, &cfg, 1062));
	assert_int_equal(rec.locked_until, 1362);
}

static void test_lockout_clock_backwards(void **state)
{
	struct mfa_config cfg = lockout_cfg(3, 60, 300);
	struct mfa_record rec;

	(void)state;
	record_init(&rec, "alice");
	assert_false(lockout_record_failure(&rec, &cfg, 1000));
	assert_false(lockout_record_failure(&rec, &cfg, 1001));
	assert_false(lockout_record_failure(&rec, &cfg, 900));
	assert_int_equal(rec.fail_count, 1);
	assert_int_equal(rec.fail_since, 900);
}

static void test_lockout_admin_unlock(void **state)
{
	struct mfa_config cfg = lockout_cfg(2, 60, 0);
	struct mfa_record rec;

	(void)state;
	record_init(&rec, "alice");
	assert_false(lockout_record_failure(&rec, &cfg, 1000));
	assert_true(lockout_record_failure(&rec, &cfg, 1001));
	assert_int_equal(rec.locked_until, -1);
	/* Until an admin unlocks: forever. */
	assert_true(lockout_active(&rec, 1001));
	assert_true(lockout_active(&rec, (time_t)INT64_C(253402300799)));
	assert_false(lockout_record_failure(&rec, &cfg, 5000));
	assert_int_equal(rec.locked_until, -1);
	lockout_clear(&rec);
	assert_false(lockout_active(&rec, 5000));
	assert_int_equal(rec.fail_count, 0);
	assert_int_equal(rec.fail_since, 0);
	assert_int_equal(rec.locked_until, 0);
}

static void test_lockout_expired_lock_new_count(void **state)
{
	struct mfa_config cfg = lockout_cfg(2, 600, 100);
	struct mfa_record rec;

	(void)state;
	record_init(&rec, "alice");
	assert_false(lockout_record_failure(&rec, &cfg, 1000));
	assert_true(lockout_record_failure(&rec, &cfg, 1001));
	assert_int_equal(rec.locked_until, 1101);
	/* The lock expired, but the interval (600 s) has not: the count must
	 * still start over, or one more failure would lock again at once. */
	assert_false(lockout_active(&rec, 1101));
	assert_false(lockout_record_failure(&rec, &cfg, 1102));
	assert_int_equal(rec.fail_count, 1);
	assert_int_equal(rec.locked_until, 0);
	assert_false(lockout_active(&rec, 1102));
	/* And it locks again after the full number of attempts. */
	assert_true(lockout_record_failure(&rec, &cfg, 1103));
	assert_int_equal(rec.locked_until, 1203);
}

static void test_lockout_single_attempt(void **state)
{
	struct mfa_config cfg = lockout_cfg(1, 60, 30);
	struct mfa_record rec;

	(void)state;
	record_init(&rec, "alice");
	assert_true(lockout_record_failure(&rec, &cfg, 1000));
	assert_int_equal(rec.locked_until, 1030);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user_name_valid),
		cmocka_unit_test(test_sanitize_printable),
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_error_message),
		cmocka_unit_test(test_lockout_within_interval),
		cmocka_unit_test(test_lockout_interval_restarts),
		cmocka_unit_test(test_lockout_clock_backwards),
		cmocka_unit_test(test_lockout_admin_unlock),
		cmocka_unit_test(test_lockout_expired_lock_new_count),
		cmocka_unit_test(test_lockout_single_attempt),
	};

	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
