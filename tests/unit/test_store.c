/* Unit tests for the record (core/record.c) and the files backend
 * (store/files.c): the record format (round trips, strict parsing, the
 * versions before the factors' list), the factor list's helpers, the state
 * directory's checks, the slots, transactions, listing, and that the
 * per-user lock really serializes concurrent read-modify-write. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <zlib.h>

#include "files.h"
#include "unit_helpers.h"

/* ---- record format ---- */

static const unsigned char secret20[20] = "12345678901234567890";

/* Hexadecimal text of 16 and 32 bytes alike. */
#define HEX16(b) b b b b b b b b b b b b b b b b
#define HEX32(b) HEX16(b) HEX16(b)
/* alice's recovery codes and bypass code as the record holds them. */
#define RCODE(i, used) "recovery.code=" HEX16("1" #i) ":" HEX32("2" #i) " " used "\n"
#define RCODES RCODE(0, "0") RCODE(1, "1700000150") RCODE(2, "0")
#define BYPASS "bypass=" HEX16("44") ":" HEX32("55") " 2 1700003600 1700000000\n"

/* alice: an app (id 1) and a verified address (id 3; 2 was removed), three
 * recovery codes (the second used), a bypass code with two uses left, and
 * a lockout notice. */
static void enrolled_record(struct mfa_record *rec)
{
	struct mfa_factor *f;

	record_init(rec, "alice");
	rec->factors_tag = UINT64_C(0x0123456789abcdef);
	f = record_add_factor(rec, METHOD_TOTP);
	assert_non_null(f);
	assert_int_equal(f->id, 1);
	f->verified = true;
	(void)snprintf(f->label, sizeof(f->label), "my phone");
	f->added = 1700000000;
	f->last_used = 1700000200;
	f->totp.params.algorithm = TOTP_SHA256;
	f->totp.params.digits = 8;
	f->totp.params.period = 60;
	memcpy(f->totp.secret, secret20, sizeof(secret20));
	f->totp.secret_len = sizeof(secret20);
	f->totp.enrolled_at = 1700000000;
	f->totp.last_step = 28333333;
	rec->next_factor_id = 3;
	f = record_add_factor(rec, METHOD_EMAIL);
	assert_non_null(f);
	f->verified = true;
	f->by_admin = true;
	f->added = 1700000050;
	(void)snprintf(f->dest, sizeof(f->dest), "alice@example.org");
	rec->fail_count = 3;
	rec->fail_since = 1700000100;
	rec->locked_until = -1;
	rec->last_login = 1700000200;
	record_set_text(rec->last_service, "sshd");
	record_set_text(rec->last_rhost, "192.0.2.1");
	rec->recovery.n = 3;
	rec->recovery.source = RECORD_CODES_USER;
	rec->recovery.since = 1700000100;
	for (unsigned i = 0; i < 3; i++) {
		memset(rec->recovery.codes[i].salt, (int)(0x10 + i), EMAIL_SALT_LEN);
		memset(rec->recovery.codes[i].hash, (int)(0x20 + i), EMAIL_HASH_LEN);
	}
	rec->recovery.used[1] = 1700000150;
	rec->bypass.set = true;
	memset(rec->bypass.code.salt, 0x44, EMAIL_SALT_LEN);
	memset(rec->bypass.code.hash, 0x55, EMAIL_HASH_LEN);
	rec->bypass.uses_left = 2;
	rec->bypass.expires = 1700003600;
	rec->bypass.made = 1700000000;
	rec->lock_notice = 1700000120;
}

/* bob: an address being proved, with its pending code, and a number. */
static void plain_record(struct mfa_record *rec)
{
	struct mfa_factor *f;

	record_init(rec, "bob.smith@example.com");
	rec->locked_until = 1700001000;
	rec->skip_since = 1700002000;
	f = record_add_factor(rec, METHOD_EMAIL);
	assert_non_null(f);
	(void)snprintf(f->dest, sizeof(f->dest), "bob.smith+mfa@example.com");
	f->by_admin = true;
	f = record_add_factor(rec, METHOD_SMS);
	assert_non_null(f);
	(void)snprintf(f->dest, sizeof(f->dest), "+15550100123");
	(void)snprintf(f->label, sizeof(f->label), "work (old)");
	f->verified = true;
	f->added = 1700001500;
	f->last_used = 1700001600;
	rec->factors_tag = UINT64_C(0xfedcba9876543210);
	rec->code.pending = true;
	rec->code.factor = 1;
	memset(rec->code.salt, 0xa5, EMAIL_SALT_LEN);
	memset(rec->code.hash, 0x3c, EMAIL_HASH_LEN);
	rec->code.expires = 1700002300;
	rec->code.sent = 1700002000;
	rec->code.booked = 1700002010;
	rec->code.enroll_codes = 3;
	rec->code.enroll_codes_since = 1700001900;
}

static void assert_factors_equal(const struct mfa_factor *a, const struct mfa_factor *b)
{
	assert_int_equal(a->id, b->id);
	assert_int_equal(a->method, b->method);
	assert_string_equal(a->label, b->label);
	assert_int_equal(a->verified, b->verified);
	assert_int_equal(a->by_admin, b->by_admin);
	assert_int_equal(a->added, b->added);
	assert_int_equal(a->last_used, b->last_used);
	assert_string_equal(a->dest, b->dest);
	if (a->method == METHOD_TOTP) {
		assert_true(b->totp.enrolled);
		assert_int_equal(a->totp.params.algorithm, b->totp.params.algorithm);
		assert_int_equal(a->totp.params.digits, b->totp.params.digits);
		assert_int_equal(a->totp.params.period, b->totp.params.period);
		assert_int_equal(a->totp.secret_len, b->totp.secret_len);
		assert_memory_equal(a->totp.secret, b->totp.secret, a->totp.secret_len);
		assert_int_equal(a->totp.last_step, b->totp.last_step);
		assert_int_equal(b->totp.enrolled_at, b->added);
	}
}

static void assert_records_equal(const struct mfa_record *a, const struct mfa_record *b)
{
	assert_string_equal(a->user, b->user);
	assert_true(a->factors_tag == b->factors_tag);
	assert_int_equal(a->next_factor_id, b->next_factor_id);
	assert_int_equal(a->n_factors, b->n_factors);
	for (unsigned i = 0; i < a->n_factors; i++)
		assert_factors_equal(&a->factors[i], &b->factors[i]);
	assert_int_equal(a->code.pending, b->code.pending);
	if (a->code.pending) {
		assert_int_equal(a->code.factor, b->code.factor);
		assert_memory_equal(a->code.hash, b->code.hash, EMAIL_HASH_LEN);
		assert_memory_equal(a->code.salt, b->code.salt, EMAIL_SALT_LEN);
	}
	assert_int_equal(a->code.expires, b->code.expires);
	assert_int_equal(a->code.sent, b->code.sent);
	assert_int_equal(a->code.booked, b->code.booked);
	assert_int_equal(a->code.enroll_codes, b->code.enroll_codes);
	assert_int_equal(a->code.enroll_codes_since, b->code.enroll_codes_since);
	assert_int_equal(a->fail_count, b->fail_count);
	assert_int_equal(a->fail_since, b->fail_since);
	assert_int_equal(a->locked_until, b->locked_until);
	assert_int_equal(a->last_login, b->last_login);
	assert_string_equal(a->last_service, b->last_service);
	assert_string_equal(a->last_rhost, b->last_rhost);
	assert_int_equal(a->skip_since, b->skip_since);
	assert_int_equal(a->recovery.n, b->recovery.n);
	assert_int_equal(a->recovery.source, b->recovery.source);
	assert_int_equal(a->recovery.since, b->recovery.since);
	for (unsigned i = 0; i < a->recovery.n; i++) {
		assert_memory_equal(&a->recovery.codes[i], &b->recovery.codes[i],
				    sizeof(a->recovery.codes[i]));
		assert_int_equal(a->recovery.used[i], b->recovery.used[i]);
	}
	assert_int_equal(a->bypass.set, b->bypass.set);
	if (a->bypass.set)
		assert_memory_equal(&a->bypass.code, &b->bypass.code, sizeof(a->bypass.code));
	assert_int_equal(a->bypass.uses_left, b->bypass.uses_left);
	assert_int_equal(a->bypass.expires, b->bypass.expires);
	assert_int_equal(a->bypass.made, b->bypass.made);
	assert_int_equal(a->lock_notice, b->lock_notice);
}

static int format_record(const struct mfa_record *rec, char *buf, size_t size)
{
	int len = record_format(rec, buf, size);

	assert_true(len > 0);
	assert_int_equal(strlen(buf), (size_t)len);
	return len;
}

/* Parses exactly len bytes from a heap copy of that size, so that ASan
 * catches any read past the end. */
static int parse_exact(const char *text, size_t len, const char *expected_user,
		       struct mfa_record *rec, struct mfa_error *err)
{
	char *copy = malloc(len ? len : 1);
	int r;

	assert_non_null(copy);
	memcpy(copy, text, len);
	r = record_parse(copy, len, expected_user, rec, err);
	free(copy);
	return r;
}

static void test_record_round_trip(void **state)
{
	struct mfa_record in, out;
	struct mfa_error err;
	char buf[STORE_RECORD_MAX], again[STORE_RECORD_MAX];
	int len;

	(void)state;
	enrolled_record(&in);
	len = format_record(&in, buf, sizeof(buf));
	assert_contains(buf, "version=6\nuser=alice\ntag=0123456789abcdef\nnext_id=4\n"
			     "factor=1 totp verified=1 by_admin=0 added=1700000000 used=1700000200 "
			     "alg=sha256 digits=8 period=60 step=28333333 "
			     "secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ label=my phone\n"
			     "factor=3 email verified=1 by_admin=1 added=1700000050 used=0 "
			     "dest=alice@example.org label=\ncode=\n");
	assert_contains(buf, "lock.until=admin\n");
	assert_contains(buf, "\nskip.since=0\nrecovery=user 1700000100\n" RCODES BYPASS
			     "lock.notice=1700000120\nend\n");
	assert_int_equal(parse_exact(buf, (size_t)len, "alice", &out, &err), 0);
	assert_int_equal(record_recovery_left(&out), 2);
	assert_int_equal(record_methods(&out), METHOD_TOTP | METHOD_EMAIL);
	assert_records_equal(&in, &out);
	/* The format is canonical: formatting what was parsed gives the same. */
	assert_int_equal(format_record(&out, again, sizeof(again)), len);
	assert_string_equal(again, buf);
	/* Without an expected user, too. */
	assert_int_equal(parse_exact(buf, (size_t)len, NULL, &out, &err), 0);
	assert_records_equal(&in, &out);

	plain_record(&in);
	len = format_record(&in, buf, sizeof(buf));
	assert_contains(buf, "\nfactor=2 sms verified=1 by_admin=0 added=1700001500 "
			     "used=1700001600 dest=+15550100123 label=work (old)\ncode=1 a5a5");
	assert_contains(buf, "\nenroll_codes=3 1700001900\n");
	assert_int_equal(parse_exact(buf, (size_t)len, "bob.smith@example.com", &out, &err), 0);
	assert_int_equal(record_methods(&out), METHOD_SMS);
	assert_records_equal(&in, &out);

	/* A fresh record: no factor, the tag of no record, no codes. */
	record_init(&in, "carol");
	len = format_record(&in, buf, sizeof(buf));
	assert_contains(buf, "tag=0000000000000000\nnext_id=1\ncode=\n");
	assert_contains(buf, "\nrecovery=\nbypass=\nlock.notice=0\nend\n");
	assert_int_equal(parse_exact(buf, (size_t)len, "carol", &out, &err), 0);
	assert_records_equal(&in, &out);

	/* Every algorithm, and the longest secret. */
	for (int alg = TOTP_SHA1; alg <= TOTP_SHA512; alg++) {
		struct mfa_factor *f;

		enrolled_record(&in);
		f = &in.factors[0];
		f->totp.params.algorithm = (enum totp_algorithm)alg;
		f->totp.params.digits = 6;
		f->totp.params.period = 30;
		f->totp.secret_len = alg == TOTP_SHA512 ? TOTP_SECRET_MAX : 16;
		for (size_t i = 0; i < f->totp.secret_len; i++)
			f->totp.secret[i] = (unsigned char)(i * 37 + 11);
		in.locked_until = 0;
		len = format_record(&in, buf, sizeof(buf));
		assert_int_equal(parse_exact(buf, (size_t)len, "alice", &out, &err), 0);
		assert_records_equal(&in, &out);
	}
	record_wipe(&in);
	record_wipe(&out);
}

static void test_record_text_fields(void **state)
{
	struct mfa_record in, out;
	struct mfa_error err;
	char buf[STORE_RECORD_MAX], longer[400];
	int len;

	(void)state;
	plain_record(&in);
	/* Untrusted text cannot add lines or keys to a record. */
	record_set_text(in.last_service, "ss\thd\n\x01\xc3\xbc");
	assert_string_equal(in.last_service, "ss?hd????");
	record_set_text(in.last_rhost, "host\nfail.count=0\nend");
	assert_null(strchr(in.last_rhost, '\n'));
	len = format_record(&in, buf, sizeof(buf));
	assert_int_equal(parse_exact(buf, (size_t)len, NULL, &out, &err), 0);
	assert_records_equal(&in, &out);
	/* '=' in a value is just part of the value. */
	record_set_text(in.last_rhost, "a=b=c");
	len = format_record(&in, buf, sizeof(buf));
	assert_int_equal(parse_exact(buf, (size_t)len, NULL, &out, &err), 0);
	assert_string_equal(out.last_rhost, "a=b=c");
	/* Long text is truncated to STORE_TEXT_MAX and still round-trips. */
	memset(longer, 'h', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	record_set_text(in.last_rhost, longer);
	assert_int_equal(strlen(in.last_rhost), STORE_TEXT_MAX);
	record_set_text(in.last_service, "");
	len = format_record(&in, buf, sizeof(buf));
	assert_int_equal(parse_exact(buf, (size_t)len, NULL, &out, &err), 0);
	assert_records_equal(&in, &out);
}

static void test_record_format_nobufs(void **state)
{
	struct mfa_record rec;
	char buf[STORE_RECORD_MAX];
	int len;

	(void)state;
	enrolled_record(&rec);
	len = format_record(&rec, buf, sizeof(buf));
	for (size_t size = 0; size <= (size_t)len; size++) {
		char *small = malloc(size + 1);
		int r;

		assert_non_null(small);
		r = record_format(&rec, small, size);
		if (r != -ENOBUFS)
			fail_msg("buffer of %zu for a %d-byte record: %d", size, len, r);
		free(small);
	}
	{
		char *exact = malloc((size_t)len + 1);

		assert_non_null(exact);
		assert_int_equal(record_format(&rec, exact, (size_t)len + 1), len);
		assert_string_equal(exact, buf);
		free(exact);
	}
}

static void test_record_truncations(void **state)
{
	struct mfa_record recs[2], out;
	struct mfa_error err;
	char buf[STORE_RECORD_MAX];

	(void)state;
	enrolled_record(&recs[0]);
	plain_record(&recs[1]);
	for (int i = 0; i < 2; i++) {
		size_t len = (size_t)format_record(&recs[i], buf, sizeof(buf));

		memset(&out, 0x5a, sizeof(out)); /* what the failed parses must wipe */
		for (size_t cut = 0; cut < len; cut++)
			if (parse_exact(buf, cut, NULL, &out, &err) == 0)
				fail_msg("record %d accepted when cut to %zu of %zu bytes", i, cut,
					 len);
		/* A failed parse leaves nothing of the record behind. */
		assert_int_equal(out.n_factors, 0);
		assert_int_equal(out.factors[0].totp.secret_len, 0);
		assert_int_equal(out.factors[0].totp.secret[0], 0);
		assert_int_equal(out.user[0], '\0');
		assert_int_equal(parse_exact(buf, len, NULL, &out, &err), 0);
	}
}

/* Replaces the first occurrence of from (newline included where it ends a
 * line) in a freshly formatted enrolled record by to, and parses the
 * result. */
static int parse_edited(const char *from, const char *to, const char *expected_user,
			struct mfa_error *err)
{
	struct mfa_record rec;
	char buf[STORE_RECORD_MAX], edited[STORE_RECORD_MAX * 2];
	const char *at;
	int r;

	enrolled_record(&rec);
	rec.locked_until = 1700000300;
	(void)format_record(&rec, buf, sizeof(buf));
	at = strstr(buf, from);
	if (at == NULL)
		fail_msg("\"%s\" not in the record:\n%s", from, buf);
	(void)snprintf(edited, sizeof(edited), "%.*s%s%s", (int)(at - buf), buf, to,
		       at + strlen(from));
	r = parse_exact(edited, strlen(edited), expected_user, &rec, err);
	record_wipe(&rec);
	return r;
}

static void expect_parse_failure(const char *from, const char *to)
{
	struct mfa_error err;

	memset(&err, 0, sizeof(err));
	if (parse_edited(from, to, "alice", &err) != -EINVAL)
		fail_msg("accepted a record with \"%s\" replaced by \"%s\"", from, to);
	assert_true(err.msg[0] != '\0');
}

#define APP "factor=1 totp verified=1 by_admin=0 added=1700000000 used=1700000200 "
#define APP_TAIL \
	"alg=sha256 digits=8 period=60 step=28333333 secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
#define MAIL "factor=3 email verified=1 by_admin=1 added=1700000050 used=0 dest=alice@example.org"
#define HEXCODE                             \
	"00112233445566778899aabbccddeeff:" \
	"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static void test_record_edits_refused(void **state)
{
	static const struct {
		const char *from, *to;
	} cases[] = {
		/* Unknown and duplicate keys. */
		{ "user=alice\n", "user=alice\nfoo=bar\n" },
		{ "user=alice\n", "user=alice\nTAG=x\n" },
		{ "user=alice\n", "user=alice\n=x\n" },
		{ "fail.count=3\n", "fail.count=3\nfail.count=3\n" },
		{ "user=alice\n", "user=alice\nuser=alice\n" },
		{ "next_id=4\n", "next_id=4\nnext_id=4\n" },
		{ "tag=0123456789abcdef\n", "tag=0123456789abcdef\ntag=0123456789abcdef\n" },
		{ "code=\n", "code=\ncode=\n" },
		{ "enroll_codes=0 0\n", "enroll_codes=0 0\nenroll_codes=0 0\n" },
		/* The version. */
		{ "version=6\n", "version=7\n" },
		{ "version=6\n", "version=06\n" },
		{ "version=6\n", "version=0\n" },
		{ "version=6\n", "version=\n" },
		{ "version=6\n", "version=6.0\n" },
		{ "version=6\n", "version= 6\n" },
		{ "version=6\n", "version=4294967302\n" },
		{ "version=6\nuser=alice\n", "user=alice\nversion=6\n" },
		{ "version=6\n", "" },
		{ "version=6\n", "version=6\nversion=6\n" },
		/* Keys of versions 5 and 6 in earlier versions, and theirs in 6. */
		{ "version=6\n", "version=5\n" },
		{ "version=6\n", "version=4\n" },
		{ "version=6\n", "version=3\n" },
		{ "version=6\n", "version=1\n" },
		{ "user=alice\n", "user=alice\ntotp.secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n" },
		{ "user=alice\n", "user=alice\nemail.address=\n" },
		{ "user=alice\n", "user=alice\nemail.code_booked=0\n" },
		/* Missing keys of version 5. */
		{ "tag=0123456789abcdef\n", "" },
		{ "next_id=4\n", "" },
		{ "code=\n", "" },
		{ "code.expires=0\n", "" },
		{ "code.sent=0\n", "" },
		{ "code.booked=0\n", "" },
		{ "enroll_codes=0 0\n", "" },
		{ "skip.since=0\n", "" },
		/* Missing keys of version 6. */
		{ "recovery=user 1700000100\n", "" },
		{ "recovery=user 1700000100\n" RCODES, "" },
		{ BYPASS, "" },
		{ "lock.notice=1700000120\n", "" },
		/* The recovery set: its maker and time, then its codes. */
		{ "recovery=user 1700000100\n", "recovery=\n" },
		{ RCODES, "" },
		{ "recovery=user ", "recovery=User " },
		{ "recovery=user ", "recovery=none " },
		{ "recovery=user ", "recovery=users " },
		{ "recovery=user ", "recovery= " },
		{ "recovery=user ", "recovery=user  " },
		{ "recovery=user 1700000100\n", "recovery=user\n" },
		{ "recovery=user 1700000100\n", "recovery=user 1700000100 \n" },
		{ "recovery=user 1700000100\n", "recovery=user 1700000100 1\n" },
		{ "recovery=user 1700000100\n", "recovery=user -1\n" },
		{ "recovery=user 1700000100\n", "recovery=user 253402300800\n" },
		{ "recovery=user 1700000100\n",
		  "recovery=user 1700000100\nrecovery=user 1700000100\n" },
		/* Each code: salt, hash and use, a salt never twice. */
		{ RCODE(0, "0"), RCODE(0, "0") RCODE(0, "0") },
		{ RCODE(2, "0"), RCODE(0, "1") },
		{ RCODE(0, "0"), "recovery.code=" HEX16("10") ":" HEX32("20") "\n" },
		{ RCODE(0, "0"), "recovery.code=" HEX16("10") ":" HEX32("20") " \n" },
		{ RCODE(0, "0"), "recovery.code=" HEX16("10") ":" HEX32("20") "  0\n" },
		{ RCODE(0, "0"), "recovery.code=" HEX16("10") ":" HEX32("20") " -1\n" },
		{ RCODE(0, "0"), "recovery.code=" HEX16("10") ":" HEX32("20") " 00\n" },
		{ RCODE(0, "0"), "recovery.code=" HEX16("10") ":" HEX32("20") " 253402300800\n" },
		{ RCODE(0, "0"), "recovery.code=" HEX16("10") ":" HEX32("20") " 0 0\n" },
		{ RCODE(0, "0"), "recovery.code=" HEX16("1A") ":" HEX32("20") " 0\n" },
		{ RCODE(0, "0"), "recovery.code=" HEX16("10") ":" HEX32("2g") " 0\n" },
		{ RCODE(0, "0"), "recovery.code=" HEX16("10") HEX32("20") " 0\n" },
		{ RCODE(0, "0"), "recovery.code=" HEX16("10") ":" HEX16("20") " 0\n" },
		{ RCODE(0, "0"), "recovery.code=" HEX16("10") "10:" HEX32("20") " 0\n" },
		{ RCODE(0, "0"), "recovery.code=0 " HEX16("10") ":" HEX32("20") "\n" },
		{ RCODE(0, "0"), "recovery.code=\n" },
		/* The bypass code: salt and hash, uses, expiry, time made. */
		{ BYPASS, BYPASS BYPASS },
		{ BYPASS, "bypass=" HEX16("44") ":" HEX32("55") " 101 1700003600 1700000000\n" },
		{ BYPASS, "bypass=" HEX16("44") ":" HEX32("55") " -1 1700003600 1700000000\n" },
		{ BYPASS, "bypass=" HEX16("44") ":" HEX32("55") " 02 1700003600 1700000000\n" },
		{ BYPASS, "bypass=" HEX16("44") ":" HEX32("55") " 2 253402300800 1700000000\n" },
		{ BYPASS, "bypass=" HEX16("44") ":" HEX32("55") " 2 1700003600 x\n" },
		{ BYPASS, "bypass=" HEX16("44") ":" HEX32("55") " 2 1700003600\n" },
		{ BYPASS, "bypass=" HEX16("44") ":" HEX32("55") " 2 1700003600 1700000000 \n" },
		{ BYPASS, "bypass=" HEX16("44") ":" HEX32("55") " 2  1700003600 1700000000\n" },
		{ BYPASS, "bypass=" HEX16("44") ":" HEX32("55") "\n" },
		{ BYPASS, "bypass=" HEX16("44") ":" HEX16("55") " 2 1700003600 1700000000\n" },
		{ BYPASS, "bypass=2 1700003600 1700000000\n" },
		{ BYPASS, "bypass= \n" },
		{ "lock.notice=1700000120\n", "lock.notice=\n" },
		{ "lock.notice=1700000120\n", "lock.notice=-1\n" },
		{ "lock.notice=1700000120\n", "lock.notice=253402300800\n" },
		/* The tag: 16 lower-case hexadecimal digits. */
		{ "tag=0123456789abcdef\n", "tag=0123456789ABCDEF\n" },
		{ "tag=0123456789abcdef\n", "tag=0123456789abcde\n" },
		{ "tag=0123456789abcdef\n", "tag=0123456789abcdef0\n" },
		{ "tag=0123456789abcdef\n", "tag=\n" },
		{ "tag=0123456789abcdef\n", "tag=0x23456789abcdef\n" },
		{ "tag=0123456789abcdef\n", "tag=81985529216486895\n" },
		/* Ids: next_id above every id, ids unique, 1 and up. */
		{ "next_id=4\n", "next_id=3\n" },
		{ "next_id=4\n", "next_id=0\n" },
		{ "next_id=4\n", "next_id=\n" },
		{ "next_id=4\n", "next_id=04\n" },
		{ "next_id=4\n", "next_id=-4\n" },
		{ "next_id=4\n", "next_id=4294967296\n" },
		{ "factor=3 ", "factor=1 " },
		{ "factor=3 ", "factor=0 " },
		{ "factor=3 ", "factor=03 " },
		{ "factor=3 ", "factor=-3 " },
		{ "factor=3 ", "factor= 3 " },
		{ "factor=3 ", "factor=x " },
		{ "factor=3 ", "factor=" },
		/* Methods and flags. */
		{ "factor=3 email ", "factor=3 hotp " },
		{ "factor=3 email ", "factor=3 EMAIL " },
		{ "factor=3 email ", "factor=3 totp " },
		{ "factor=3 email ", "factor=3 sms " },
		{ "factor=1 totp ", "factor=1 email " },
		{ "factor=1 totp verified=1", "factor=1 totp verified=0" },
		{ "code=\n",
		  "factor=4 email verified=0 by_admin=0 added=0 used=0 dest=a@example.org "
		  "label=\nfactor=5 email verified=0 by_admin=0 added=0 used=0 "
		  "dest=b@example.org label=\ncode=\n" },
		{ "factor=3 email verified=1", "factor=3 email verified=2" },
		{ "by_admin=1", "by_admin=2" },
		{ "by_admin=1", "by_admin=" },
		{ "added=1700000050", "added=253402300800" },
		{ "added=1700000050", "added=-1" },
		{ "used=1700000200", "used=01700000200" },
		/* The fields in their order, one space apart, none missing. */
		{ "verified=1 by_admin=1", "by_admin=1 verified=1" },
		{ "factor=3 email", "factor=3  email" },
		{ "factor=3 email", "factor=3\temail" },
		{ " label=\n", "  label=\n" },
		{ " label=\n", "\n" },
		{ " label=\n", " lab=\n" },
		{ " label=my phone\n", " label=my phone \n" },
		{ " label=my phone\n", " label= my phone\n" },
		{ " label=my phone\n", " label=my/phone\n" },
		{ " label=my phone\n", " label=my\"phone\n" },
		{ " label=my phone\n", " label=123456789012345678901234567890123\n" },
		{ " label=my phone\n", " label=my phone\x7f\n" },
		{ " used=0 ", " " },
		{ " used=0 ", " used=0 used=0 " },
		{ " used=0 ", " used=0 x=1 " },
		/* Destinations of their method's form. */
		{ "dest=alice@example.org", "dest=" },
		{ "dest=alice@example.org", "dest=alice" },
		{ "dest=alice@example.org", "dest=+15550100123" },
		{ "dest=alice@example.org", "dest=alice@example.org x" },
		{ MAIL, "factor=3 sms verified=1 by_admin=1 added=1700000050 used=0 dest=+1 555" },
		{ MAIL,
		  "factor=3 sms verified=1 by_admin=1 added=1700000050 used=0 dest=+1555010a" },
		{ MAIL, "factor=3 sms verified=1 by_admin=1 added=1700000050 used=0 "
			"dest=+1234567890123456" },
		{ MAIL,
		  "factor=3 sms verified=1 by_admin=1 added=1700000050 used=0 dest=15550100123" },
		{ MAIL, "factor=3 sms verified=1 by_admin=1 added=1700000050 used=0" },
		/* An app's parameters. */
		{ "alg=sha256", "alg=md5" },
		{ "alg=sha256", "alg=SHA256" },
		{ "alg=sha256", "alg=" },
		{ "alg=sha256 digits=8", "digits=8 alg=sha256" },
		{ "digits=8", "digits=5" },
		{ "digits=8", "digits=9" },
		{ "digits=8", "digits=08" },
		{ "period=60", "period=9" },
		{ "period=60", "period=301" },
		{ "step=28333333", "step=-5" },
		{ "step=28333333", "step=253402300800" },
		{ " secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "" },
		{ "secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
		  "secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1" },
		{ "secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
		  "secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ====" },
		{ "secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "secret=GEZDGNBVGY3TQOI" },
		{ "secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "secret=" },
		{ "secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", /* 65 bytes */
		  "secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
		  "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBV" },
		{ APP APP_TAIL, APP "dest=alice@example.org" },
		{ MAIL, MAIL " " APP_TAIL },
		/* The code: of a factor there is, sent codes, well formed. */
		{ "code=\n", "code=9 " HEXCODE "\n" },
		{ "code=\n", "code=1 " HEXCODE "\n" },
		{ "code=\n", "code=0 " HEXCODE "\n" },
		{ "code=\n", "code=" HEXCODE "\n" },
		{ "code=\n", "code=3\n" },
		{ "code=\n", "code=3 \n" },
		{ "code=\n", "code=3 00\n" },
		{ "code=\n", "code=3  " HEXCODE "\n" },
		{ "code=\n", "code=03 " HEXCODE "\n" },
		{ "code=\n", "code=3 00112233445566778899AABBCCDDEEFF:"
			     "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n" },
		{ "code.booked=0\n", "code.booked=-1\n" },
		{ "code.expires=0\n", "code.expires=x\n" },
		{ "code.sent=0\n", "code.sent=253402300800\n" },
		{ "enroll_codes=0 0\n", "enroll_codes=0\n" },
		{ "enroll_codes=0 0\n", "enroll_codes=\n" },
		{ "enroll_codes=0 0\n", "enroll_codes=0 0 0\n" },
		{ "enroll_codes=0 0\n", "enroll_codes=1000001 0\n" },
		{ "enroll_codes=0 0\n", "enroll_codes=0  0\n" },
		{ "enroll_codes=0 0\n", "enroll_codes=0 -1\n" },
		/* Numbers: not numeric, negative, leading zeros, out of range. */
		{ "skip.since=0\n", "skip.since=-1\n" },
		{ "skip.since=0\n", "skip.since=x\n" },
		{ "fail.count=3\n", "fail.count=abc\n" },
		{ "fail.count=3\n", "fail.count=-1\n" },
		{ "fail.count=3\n", "fail.count=03\n" },
		{ "fail.count=3\n", "fail.count=+3\n" },
		{ "fail.count=3\n", "fail.count=3 \n" },
		{ "fail.count=3\n", "fail.count=\n" },
		{ "fail.count=3\n", "fail.count=1000001\n" },
		{ "fail.since=1700000100\n", "fail.since=-1700000100\n" },
		{ "fail.since=1700000100\n", "fail.since=0x10\n" },
		{ "lock.until=1700000300\n", "lock.until=-1\n" },
		{ "lock.until=1700000300\n", "lock.until=Admin\n" },
		{ "lock.until=1700000300\n", "lock.until=\n" },
		{ "login.time=1700000200\n", "login.time=99999999999999999999\n" },
		{ "login.time=1700000200\n", "login.time=253402300800\n" },
		/* Users. */
		{ "user=alice\n", "user=mallory\n" },
		{ "user=alice\n", "user=alice \n" },
		{ "user=alice\n", "user=Alice\n" },
		{ "user=alice\n", "user=\n" },
		/* Non-printable bytes and broken lines. */
		{ "login.service=sshd\n", "login.service=ss\x01hd\n" },
		{ "login.service=sshd\n", "login.service=ss\thd\n" },
		{ "login.service=sshd\n", "login.service=ss\x7fhd\n" },
		{ "login.service=sshd\n", "login.service=ss\xc3\xbchd\n" },
		{ "label=my phone\n", "label=my phon\xc3\xa9\n" },
		{ "fail.count=3\n", "fail.count=3\r\n" },
		{ "fail.count=3\n", "fail.count=3\n\n" },
		{ "fail.count=3\n", "fail.count 3\n" },
		{ "fail.count=3\n", "fail.count=3\ngarbage\n" },
		{ "user=alice\n", "user=alice\n#comment\n" },
		{ "user=alice\n", "user=alice\n end\n" },
		{ "label=\n", "label=\r\n" },
		{ "end\n", "end\nend\n" },
		{ "end\n", "end\nx" },
		{ "end\n", "END\n" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_parse_failure(cases[i].from, cases[i].to);
}

static void test_record_edits_accepted(void **state)
{
	struct mfa_error err;

	(void)state;
	/* The control for test_record_edits_refused: the edit machinery itself
	 * works, and the boundaries just inside the limits are accepted. */
	assert_int_equal(parse_edited("fail.count=3\n", "fail.count=3\n", "alice", &err), 0);
	assert_int_equal(parse_edited("fail.count=3\n", "fail.count=1000000\n", "alice", &err), 0);
	assert_int_equal(parse_edited("fail.count=3\n", "fail.count=0\n", "alice", &err), 0);
	assert_int_equal(parse_edited("login.time=1700000200\n", "login.time=253402300799\n",
				      "alice", &err),
			 0);
	assert_int_equal(parse_edited("digits=8", "digits=6", "alice", &err), 0);
	assert_int_equal(parse_edited("period=60", "period=300", "alice", &err), 0);
	assert_int_equal(parse_edited("period=60", "period=10", "alice", &err), 0);
	/* Secrets of 10 (the shortest) to 64 bytes, in either case. */
	assert_int_equal(parse_edited("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
				      "secret=GEZDGNBVGY3TQOJQ", "alice", &err),
			 0);
	assert_int_equal(parse_edited("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
				      "secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
				      "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNA",
				      "alice", &err),
			 0);
	assert_int_equal(parse_edited("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
				      "secret=gezdgnbvgy3tqojqgezdgnbvgy3tqojq", "alice", &err),
			 0);
	/* Labels: every character allowed, 32 of them; none. */
	assert_int_equal(parse_edited("label=my phone\n", "label=A-z_0.9+@(x) y\n", "alice", &err),
			 0);
	assert_int_equal(parse_edited("label=my phone\n",
				      "label=12345678901234567890123456789012\n", "alice", &err),
			 0);
	assert_int_equal(parse_edited("label=my phone\n", "label=\n", "alice", &err), 0);
	assert_int_equal(parse_edited(" label=\n", " label=x\n", "alice", &err), 0);
	/* A number, an unverified address, ids up to next_id - 1. */
	assert_int_equal(parse_edited(MAIL,
				      "factor=3 sms verified=1 by_admin=0 added=0 used=0 "
				      "dest=+15550100123",
				      "alice", &err),
			 0);
	assert_int_equal(parse_edited("factor=3 email verified=1", "factor=3 email verified=0",
				      "alice", &err),
			 0);
	/* One address and one number being proved. */
	assert_int_equal(parse_edited(MAIL,
				      "factor=3 email verified=0 by_admin=1 added=1700000050 used=0 "
				      "dest=alice@example.org label=\n"
				      "factor=2 sms verified=0 by_admin=0 added=0 used=0 "
				      "dest=+15550100123",
				      "alice", &err),
			 0);
	assert_int_equal(parse_edited("next_id=4\n", "next_id=4294967295\n", "alice", &err), 0);
	assert_int_equal(parse_edited("next_id=4\nfactor=1 ",
				      "next_id=4294967295\nfactor=4294967294 ", "alice", &err),
			 0);
	/* A code for the address, whatever its expiry and sending. */
	assert_int_equal(parse_edited("code=\n", "code=3 " HEXCODE "\n", "alice", &err), 0);
	assert_int_equal(parse_edited("code.expires=0\n", "code.expires=253402300799\n", "alice",
				      &err),
			 0);
	assert_int_equal(parse_edited("enroll_codes=0 0\n", "enroll_codes=1000000 253402300799\n",
				      "alice", &err),
			 0);
	/* Keys may come in any order after the version, factors too. */
	assert_int_equal(parse_edited("login.service=sshd\nlogin.rhost=192.0.2.1\n",
				      "login.rhost=192.0.2.1\nlogin.service=sshd\n", "alice", &err),
			 0);
	/* Every maker of a set; codes in any order and place, all used;
	 * none; a bypass code used up, or none. */
	assert_int_equal(parse_edited("recovery=user ", "recovery=admin ", "alice", &err), 0);
	assert_int_equal(parse_edited("recovery=user ", "recovery=imported ", "alice", &err), 0);
	assert_int_equal(parse_edited(RCODE(0, "0") RCODE(1, "1700000150"),
				      RCODE(1, "253402300799") RCODE(0, "1"), "alice", &err),
			 0);
	assert_int_equal(parse_edited("user=alice\n" /* before the set's line */,
				      "user=alice\n" RCODE(3, "0"), "alice", &err),
			 0);
	assert_int_equal(parse_edited("recovery=user 1700000100\n" RCODES, "recovery=\n", "alice",
				      &err),
			 0);
	assert_int_equal(parse_edited(BYPASS, "bypass=" HEX16("44") ":" HEX32("55") " 0 0 0\n",
				      "alice", &err),
			 0);
	assert_int_equal(parse_edited(BYPASS,
				      "bypass=" HEX16("44") ":" HEX32("55") " 100 253402300799 0\n",
				      "alice", &err),
			 0);
	assert_int_equal(parse_edited(BYPASS, "bypass=\n", "alice", &err), 0);
	assert_int_equal(parse_edited("lock.notice=1700000120\n", "lock.notice=0\n", "alice", &err),
			 0);
	assert_int_equal(parse_edited("code=\n", "", "alice", &err), -EINVAL);
	assert_int_equal(parse_edited("next_id=4\n", "", "alice", &err), -EINVAL);
	assert_int_equal(parse_edited("user=alice\n", "user=alice\n", NULL, &err), 0);
}

/* A record of n factor lines (numbers), the most it may hold and one more. */
static void test_record_factors_max(void **state)
{
	struct mfa_record rec;
	struct mfa_error err;
	char buf[STORE_RECORD_MAX];

	(void)state;
	for (unsigned n = RECORD_FACTORS_MAX; n <= RECORD_FACTORS_MAX + 1; n++) {
		int len = snprintf(buf, sizeof(buf),
				   "version=5\nuser=alice\ntag=0000000000000001\n"
				   "next_id=%u\n",
				   n + 1);

		for (unsigned i = 1; i <= n; i++)
			len += snprintf(buf + len, sizeof(buf) - (size_t)len,
					"factor=%u sms verified=1 by_admin=0 added=0 used=0 "
					"dest=+1555010%04u label=\n",
					i, i);
		len += snprintf(buf + len, sizeof(buf) - (size_t)len,
				"code=\ncode.expires=0\ncode.sent=0\ncode.booked=0\n"
				"enroll_codes=0 0\nfail.count=0\nfail.since=0\nlock.until=0\n"
				"login.time=0\nlogin.service=\nlogin.rhost=\nskip.since=0\nend\n");
		if (n == RECORD_FACTORS_MAX) {
			assert_int_equal(parse_exact(buf, (size_t)len, "alice", &rec, &err), 0);
			/* A version 5 record has no codes, nor a notice. */
			assert_int_equal(rec.recovery.n, 0);
			assert_false(rec.bypass.set);
			assert_int_equal(rec.lock_notice, 0);
			assert_int_equal(rec.n_factors, RECORD_FACTORS_MAX);
			assert_int_equal(record_count(&rec, METHOD_SMS), RECORD_FACTORS_MAX);
			assert_null(record_add_factor(&rec, METHOD_TOTP));
		} else {
			assert_int_equal(parse_exact(buf, (size_t)len, "alice", &rec, &err),
					 -EINVAL);
			assert_contains(err.msg, "more than");
		}
	}
	/* A factor line may be long (an address of 254 bytes), not endless. */
	{
		char line[700];

		memset(line, 'x', sizeof(line));
		memcpy(line, " label=", 7);
		line[sizeof(line) - 2] = '\n';
		line[sizeof(line) - 1] = '\0';
		assert_int_equal(parse_edited(" label=\n", line, "alice", &err), -EINVAL);
		assert_contains(err.msg, "too long");
	}
	record_wipe(&rec);
}

/* A set of RECOVERY_CODES_MAX codes, the most a record holds, and one more;
 * the helpers that count and drop them. */
static void test_record_recovery_max(void **state)
{
	struct mfa_record rec, out;
	struct mfa_error err;
	char buf[STORE_RECORD_MAX], more[STORE_RECORD_MAX + 200];
	const char *at;
	int len;

	(void)state;
	enrolled_record(&rec);
	rec.recovery.n = RECOVERY_CODES_MAX;
	rec.recovery.source = RECORD_CODES_IMPORTED;
	for (unsigned i = 0; i < RECOVERY_CODES_MAX; i++) {
		memset(rec.recovery.codes[i].salt, (int)(0x80 + i), EMAIL_SALT_LEN);
		memset(rec.recovery.codes[i].hash, (int)(0xc0 + i), EMAIL_HASH_LEN);
		rec.recovery.used[i] = i % 3 == 0 ? 1700000000 + i : 0;
	}
	assert_int_equal(record_recovery_left(&rec), RECOVERY_CODES_MAX - 7);
	len = format_record(&rec, buf, sizeof(buf));
	assert_contains(buf, "\nrecovery=imported 1700000100\n");
	assert_int_equal(parse_exact(buf, (size_t)len, "alice", &out, &err), 0);
	assert_records_equal(&rec, &out);
	/* One more code line is refused. */
	at = strstr(buf, "\nbypass=");
	assert_non_null(at);
	(void)snprintf(more, sizeof(more), "%.*s\n%s%s", (int)(at - buf), buf,
		       "recovery.code=" HEX16("ff") ":" HEX32("ff") " 0", at);
	assert_int_equal(parse_exact(more, strlen(more), "alice", &out, &err), -EINVAL);
	assert_contains(err.msg, "more than 20 recovery codes");
	/* Dropped, they are gone, hashes and all, and the record says so. */
	record_drop_backup(&rec);
	assert_int_equal(rec.recovery.n, 0);
	assert_int_equal(rec.recovery.source, RECORD_CODES_NONE);
	assert_int_equal(rec.recovery.codes[0].hash[0], 0);
	assert_false(rec.bypass.set);
	assert_int_equal(rec.bypass.code.hash[0], 0);
	assert_int_equal(record_recovery_left(&rec), 0);
	assert_int_equal(rec.lock_notice, 1700000120);
	assert_int_equal(rec.n_factors, 2);
	len = format_record(&rec, buf, sizeof(buf));
	assert_contains(buf, "\nrecovery=\nbypass=\nlock.notice=1700000120\nend\n");
	assert_int_equal(parse_exact(buf, (size_t)len, "alice", &out, &err), 0);
	assert_records_equal(&rec, &out);
	/* A set of no known maker is no set: never written half. */
	enrolled_record(&rec);
	rec.recovery.source = RECORD_CODES_NONE;
	len = format_record(&rec, buf, sizeof(buf));
	assert_null(strstr(buf, "recovery.code="));
	assert_int_equal(parse_exact(buf, (size_t)len, "alice", &out, &err), 0);
	assert_int_equal(out.recovery.n, 0);
	record_wipe(&rec);
	record_wipe(&out);
	/* record_wipe wipes the codes too. */
	assert_int_equal(out.recovery.codes[0].salt[0], 0);
}

/* The list's helpers: ids never given twice, removal takes its code along,
 * the tag is never 0 and always new. */
static void test_record_factor_list(void **state)
{
	struct mfa_record rec;
	struct mfa_factor *f;
	uint64_t tags[64];

	(void)state;
	plain_record(&rec);
	assert_int_equal(record_count(&rec, METHOD_EMAIL), 0);
	assert_int_equal(record_count(&rec, METHOD_SMS), 1);
	assert_int_equal(record_count(&rec, 0), 1);
	assert_int_equal(record_methods(&rec), METHOD_SMS);
	assert_non_null(record_factor(&rec, 1));
	assert_null(record_factor(&rec, 3));
	assert_null(record_factor(&rec, 0));
	/* The address's code goes with it; the limits stay. */
	assert_true(record_remove_factor(&rec, 1));
	assert_false(record_remove_factor(&rec, 1));
	assert_false(rec.code.pending);
	assert_int_equal(rec.code.factor, 0);
	assert_int_equal(rec.code.expires, 0);
	assert_int_equal(rec.code.sent, 1700002000);
	assert_int_equal(rec.code.enroll_codes, 3);
	assert_int_equal(rec.n_factors, 1);
	assert_int_equal(rec.factors[0].id, 2);
	assert_string_equal(rec.factors[0].dest, "+15550100123");
	assert_int_equal(rec.factors[1].id, 0); /* wiped */
	f = record_add_factor(&rec, METHOD_TOTP);
	assert_non_null(f);
	assert_int_equal(f->id, 3);
	assert_int_equal(rec.next_factor_id, 4);
	assert_true(f->totp.enrolled);
	assert_false(f->verified);
	/* A code of another factor stays when one goes. */
	rec.code.pending = true;
	rec.code.factor = 2;
	assert_true(record_remove_factor(&rec, 3));
	assert_true(rec.code.pending);
	record_drop_code(&rec);
	assert_false(rec.code.pending);
	/* The top of the id range: no more. */
	rec.next_factor_id = UINT32_MAX - 1;
	assert_non_null(record_add_factor(&rec, METHOD_SMS));
	assert_null(record_add_factor(&rec, METHOD_SMS));
	/* Tags. */
	rec.factors_tag = 0;
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		uint64_t before = rec.factors_tag;

		assert_int_equal(record_new_tag(&rec), 0);
		assert_true(rec.factors_tag != 0);
		assert_true(rec.factors_tag != before);
		tags[i] = rec.factors_tag;
		for (size_t j = 0; j < i; j++)
			assert_true(tags[j] != tags[i]);
	}
	record_wipe(&rec);
}

static void test_factor_label_valid(void **state)
{
	static const char *const good[] = {
		"phone",
		"a",
		"My Phone (2)",
		"work+home",
		"x@y.z",
		"under_score-dash.dot",
		"12345678901234567890123456789012",
		"a b",
	};
	static const char *const bad[] = {
		"",	   " phone",	  "phone ",
		" ",	   "ph/one",	  "ph\tone",
		"ph\none", "caf\xc3\xa9", "a\"b",
		"a'b",	   "a;b",	  "a=b",
		"a,b",	   "a#b",	  "a%b",
		"<a>",	   "a\\b",	  "123456789012345678901234567890123",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!factor_label_valid(good[i]))
			fail_msg("refused the label \"%s\"", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (factor_label_valid(bad[i]))
			fail_msg("accepted the label \"%s\"", bad[i]);
}

/* A version 4 record: the app and the address, the code, the booking and
 * the count of enrollment mails, as a factor list with a tag made of the
 * factors; written back as version 5 with the same tag. */
static const char v4_text[] = "version=4\nuser=alice\n"
			      "totp.secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n"
			      "totp.algorithm=sha1\ntotp.digits=6\ntotp.period=30\n"
			      "totp.enrolled_at=1700000000\ntotp.last_step=56666700\n"
			      "fail.count=2\nfail.since=1700000100\nlock.until=0\n"
			      "login.time=1700001000\nlogin.service=sshd\nlogin.rhost=192.0.2.9\n"
			      "skip.since=0\n"
			      "email.address=alice@example.org\nemail.verified=1\n"
			      "email.enrolled_at=1700000500\n"
			      "email.code=" HEXCODE "\n"
			      "email.code_expires=1700002300\nemail.code_sent=1700002000\n"
			      "email.by_admin=1\nemail.enroll_mails=2\n"
			      "email.enroll_mails_since=1700001900\nemail.code_booked=1700002010\n"
			      "end\n";

/* v4_text with from replaced by to. */
static int parse_v4_edited(const char *from, const char *to, struct mfa_record *rec,
			   struct mfa_error *err)
{
	char edited[2 * sizeof(v4_text)];
	const char *at = strstr(v4_text, from);

	assert_non_null(at);
	(void)snprintf(edited, sizeof(edited), "%.*s%s%s", (int)(at - v4_text), v4_text, to,
		       at + strlen(from));
	return parse_exact(edited, strlen(edited), "alice", rec, err);
}

static void test_record_version_4_read(void **state)
{
	struct mfa_record rec, again, other;
	struct mfa_error err;
	char buf[STORE_RECORD_MAX];
	const struct mfa_factor *app, *mail;
	uint64_t tag;
	int len;

	(void)state;
	assert_int_equal(parse_exact(v4_text, strlen(v4_text), "alice", &rec, &err), 0);
	assert_int_equal(rec.n_factors, 2);
	assert_int_equal(rec.next_factor_id, 3);
	app = &rec.factors[0];
	assert_int_equal(app->id, 1);
	assert_int_equal(app->method, METHOD_TOTP);
	assert_true(app->verified);
	assert_false(app->by_admin);
	assert_string_equal(app->label, "");
	assert_int_equal(app->added, 1700000000);
	assert_int_equal(app->last_used, 56666700 * 30);
	assert_int_equal(app->totp.last_step, 56666700);
	assert_int_equal(app->totp.secret_len, 20);
	assert_memory_equal(app->totp.secret, secret20, 20);
	mail = &rec.factors[1];
	assert_int_equal(mail->id, 2);
	assert_int_equal(mail->method, METHOD_EMAIL);
	assert_true(mail->verified);
	assert_true(mail->by_admin);
	assert_string_equal(mail->dest, "alice@example.org");
	assert_int_equal(mail->added, 1700000500);
	assert_true(rec.code.pending);
	assert_int_equal(rec.code.factor, 2);
	assert_int_equal(rec.code.expires, 1700002300);
	assert_int_equal(rec.code.sent, 1700002000);
	assert_int_equal(rec.code.booked, 1700002010);
	assert_int_equal(rec.code.enroll_codes, 2);
	assert_int_equal(rec.code.enroll_codes_since, 1700001900);
	assert_int_equal(rec.fail_count, 2);
	assert_int_equal(rec.last_login, 1700001000);
	tag = rec.factors_tag;
	assert_true(tag != 0);
	/* The same record gives the same tag every time it is read ... */
	assert_int_equal(parse_exact(v4_text, strlen(v4_text), "alice", &again, &err), 0);
	assert_true(again.factors_tag == tag);
	/* ... and keeps it written as version 6. */
	len = format_record(&rec, buf, sizeof(buf));
	assert_contains(buf, "version=6\n");
	assert_int_equal(parse_exact(buf, (size_t)len, "alice", &again, &err), 0);
	assert_records_equal(&rec, &again);
	/* What is no factor does not make the tag: the failures, the login,
	 * the code; what is does: the secret, the address, when each came. */
	assert_int_equal(parse_v4_edited("fail.count=2\n", "fail.count=4\n", &other, &err), 0);
	assert_true(other.factors_tag == tag);
	assert_int_equal(parse_v4_edited("email.code=" HEXCODE, "email.code=", &other, &err), 0);
	assert_true(other.factors_tag == tag);
	assert_int_equal(parse_v4_edited("totp.last_step=56666700", "totp.last_step=1", &other,
					 &err),
			 0);
	assert_true(other.factors_tag == tag);
	assert_int_equal(parse_v4_edited("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
					 "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJA", &other, &err),
			 0);
	assert_true(other.factors_tag != tag);
	assert_int_equal(parse_v4_edited("totp.enrolled_at=1700000000",
					 "totp.enrolled_at=1700000001", &other, &err),
			 0);
	assert_true(other.factors_tag != tag);
	assert_int_equal(parse_v4_edited("email.address=alice@", "email.address=alicia@", &other,
					 &err),
			 0);
	assert_true(other.factors_tag != tag);
	assert_int_equal(parse_v4_edited("email.enrolled_at=1700000500", "email.enrolled_at=1",
					 &other, &err),
			 0);
	assert_true(other.factors_tag != tag);
	/* An unverified address is no factor: the tag of the app alone. */
	assert_int_equal(parse_v4_edited("email.verified=1", "email.verified=0", &other, &err), 0);
	assert_false(other.factors[1].verified);
	assert_true(other.code.pending);
	assert_true(other.factors_tag != tag && other.factors_tag != 0);
	assert_int_equal(parse_v4_edited("email.address=alice@example.org\nemail.verified=1",
					 "email.address=\nemail.verified=0", &other, &err),
			 -EINVAL); /* a code and by_admin without an address */
	record_wipe(&rec);
	record_wipe(&again);
	record_wipe(&other);
}

/* Versions 1 to 3, without the keys of later ones, are still read; no
 * factor at all is the tag of no record. */
static void test_record_older_versions_read(void **state)
{
	static const char v1[] = "version=1\nuser=alice\nfail.count=0\nfail.since=0\nlock.until=0\n"
				 "login.time=0\nlogin.service=\nlogin.rhost=\nend\n";
	static const char v3[] =
		"version=3\nuser=alice\n"
		"fail.count=0\nfail.since=0\nlock.until=0\n"
		"login.time=0\nlogin.service=\nlogin.rhost=\nskip.since=1700000000\n"
		"email.address=alice@example.org\nemail.verified=0\n"
		"email.enrolled_at=0\nemail.code=\nemail.code_expires=0\n"
		"email.code_sent=1700000000\nend\n";
	struct mfa_record rec;
	struct mfa_error err;

	(void)state;
	assert_int_equal(parse_exact(v1, strlen(v1), "alice", &rec, &err), 0);
	assert_int_equal(rec.n_factors, 0);
	assert_int_equal(rec.skip_since, 0);
	assert_true(rec.factors_tag == 0);
	assert_int_equal(rec.next_factor_id, 1);
	assert_int_equal(parse_exact(v3, strlen(v3), "alice", &rec, &err), 0);
	assert_int_equal(rec.n_factors, 1);
	assert_false(rec.factors[0].verified);
	assert_false(rec.factors[0].by_admin);
	assert_int_equal(rec.code.sent, 1700000000);
	assert_int_equal(rec.skip_since, 1700000000);
	assert_true(rec.factors_tag == 0);
	/* Keys of version 4 in a version 3 record, of 3 in 2. */
	{
		char buf[sizeof(v3) + 64];

		(void)snprintf(buf, sizeof(buf), "%.*semail.by_admin=0\nend\n",
			       (int)(sizeof(v3) - 5), v3);
		assert_int_equal(parse_exact(buf, strlen(buf), "alice", &rec, &err), -EINVAL);
		memcpy(buf, v3, sizeof(v3));
		buf[8] = '2';
		assert_int_equal(parse_exact(buf, strlen(buf), "alice", &rec, &err), -EINVAL);
		buf[8] = '4';
		assert_int_equal(parse_exact(buf, strlen(buf), "alice", &rec, &err), -EINVAL);
		assert_contains(err.msg, "missing email.by_admin");
	}
	/* Version 4's own strictness stays. */
	assert_int_equal(parse_v4_edited("email.by_admin=1", "email.by_admin=2", &rec, &err),
			 -EINVAL);
	assert_int_equal(parse_v4_edited("email.address=alice@example.org", "email.address=alice",
					 &rec, &err),
			 -EINVAL);
	assert_int_equal(parse_v4_edited("totp.digits=6\n", "", &rec, &err), -EINVAL);
	assert_int_equal(parse_v4_edited("email.code=" HEXCODE, "email.code=00", &rec, &err),
			 -EINVAL);
	assert_int_equal(parse_v4_edited("totp.period=30", "totp.period=301", &rec, &err), -EINVAL);
	assert_int_equal(parse_v4_edited("email.enroll_mails=2", "email.enroll_mails=1000001", &rec,
					 &err),
			 -EINVAL);
	assert_int_equal(parse_v4_edited("user=alice\n", "user=alice\ntag=0000000000000000\n", &rec,
					 &err),
			 -EINVAL);
	assert_int_equal(parse_v4_edited("user=alice\n", "user=alice\nfactor=1 sms\n", &rec, &err),
			 -EINVAL);
	/* Without the totp lines: the address alone. */
	{
		char buf[sizeof(v4_text)];
		const char *from = strstr(v4_text, "totp.secret"), *to = strstr(v4_text, "fail.");

		(void)snprintf(buf, sizeof(buf), "%.*s%s", (int)(from - v4_text), v4_text, to);
		assert_int_equal(parse_exact(buf, strlen(buf), "alice", &rec, &err), 0);
		assert_int_equal(rec.n_factors, 1);
		assert_int_equal(rec.factors[0].id, 1);
		assert_int_equal(rec.code.factor, 1);
	}
	record_wipe(&rec);
}

/* Each line of a record is needed, but factor and recovery code lines:
 * without one, it is a record with one factor or code less. */
static void test_record_missing_lines(void **state)
{
	struct mfa_record rec, out;
	struct mfa_error err;
	char buf[STORE_RECORD_MAX], edited[STORE_RECORD_MAX];

	(void)state;
	enrolled_record(&rec);
	(void)format_record(&rec, buf, sizeof(buf));
	for (const char *line = buf; *line != '\0'; line = strchr(line, '\n') + 1) {
		const char *next = strchr(line, '\n') + 1;
		int n = snprintf(edited, sizeof(edited), "%.*s%s", (int)(line - buf), buf, next);
		int r = parse_exact(edited, (size_t)n, "alice", &out, &err);

		if (strncmp(line, "factor=", 7) == 0) {
			assert_int_equal(r, 0);
			assert_int_equal(out.n_factors, 1);
		} else if (strncmp(line, "recovery.code=", 14) == 0) {
			assert_int_equal(r, 0);
			assert_int_equal(out.recovery.n, 2);
		} else if (r == 0) {
			fail_msg("accepted without the line \"%.*s\"", (int)(next - line - 1),
				 line);
		}
	}
}

static void test_record_misc_refused(void **state)
{
	static const char nul_record[] =
		"version=1\nuser=alice\nfail.count=0\nfail.since=0\nlock.until=0\n"
		"login.time=0\nlogin.service=ss\0hd\nlogin.rhost=\nend\n";
	static const char minimal[] =
		"version=1\nuser=alice\nfail.count=0\nfail.since=0\nlock.until=0\n"
		"login.time=0\nlogin.service=\nlogin.rhost=\nend\n";
	struct mfa_record out;
	struct mfa_error err;
	char big[STORE_TEXT_MAX + 200];
	int n;

	(void)state;
	assert_int_equal(parse_exact(minimal, strlen(minimal), "alice", &out, &err), 0);
	assert_int_equal(parse_exact("end\n", 4, NULL, &out, &err), -EINVAL);
	assert_int_equal(parse_exact("\nend\n", 5, NULL, &out, &err), -EINVAL);
	assert_int_equal(parse_exact("", 0, NULL, &out, &err), -EINVAL);
	/* A NUL byte inside a value. */
	assert_int_equal(parse_exact(nul_record, sizeof(nul_record) - 1, "alice", &out, &err),
			 -EINVAL);
	/* A user name that is not valid, even with no expected user. */
	n = snprintf(big, sizeof(big), "%s",
		     "version=1\nuser=al/ce\nfail.count=0\nfail.since=0\nlock.until=0\n"
		     "login.time=0\nlogin.service=\nlogin.rhost=\nend\n");
	assert_int_equal(parse_exact(big, (size_t)n, NULL, &out, &err), -EINVAL);
	n = snprintf(big, sizeof(big), "%s",
		     "version=1\nuser=.lock.x\nfail.count=0\nfail.since=0\nlock.until=0\n"
		     "login.time=0\nlogin.service=\nlogin.rhost=\nend\n");
	assert_int_equal(parse_exact(big, (size_t)n, NULL, &out, &err), -EINVAL);
	/* A value longer than STORE_TEXT_MAX. */
	n = snprintf(big, sizeof(big),
		     "version=1\nuser=alice\nfail.count=0\nfail.since=0\nlock.until=0\n"
		     "login.time=0\nlogin.service=%0*d\nlogin.rhost=\nend\n",
		     STORE_TEXT_MAX + 1, 0);
	assert_int_equal(parse_exact(big, (size_t)n, "alice", &out, &err), -EINVAL);
	n = snprintf(big, sizeof(big),
		     "version=1\nuser=alice\nfail.count=0\nfail.since=0\nlock.until=0\n"
		     "login.time=0\nlogin.service=%0*d\nlogin.rhost=\nend\n",
		     STORE_TEXT_MAX, 0);
	assert_int_equal(parse_exact(big, (size_t)n, "alice", &out, &err), 0);
	assert_int_equal(strlen(out.last_service), STORE_TEXT_MAX);
}

/* ---- the store ---- */

struct fixture {
	char *base; /* scratch directory (0700) */
	char *dir;  /* base/state, the state directory */
	struct files_store *st;
	struct mfa_error err;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->base = scratch_new();
	f->dir = path_join(f->base, "state");
	*state = f;
	return 0;
}

/* setup, plus an open store. */
static int setup_open(void **state)
{
	struct fixture *f;

	setup(state);
	f = *state;
	if (files_open(f->dir, STORE_CREATE, &f->st, &f->err) != 0)
		fail_msg("files_open: %s", f->err.msg);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	files_close(f->st);
	free(f->dir);
	scratch_remove(f->base);
	free(f);
	return 0;
}

static char *record_path(struct fixture *f, const char *name)
{
	return path_join(f->dir, name);
}

/* Writes a record for user through a transaction. */
static void put_record(struct fixture *f, const struct mfa_record *rec)
{
	struct files_txn *txn = NULL;
	struct mfa_record cur;
	bool exists;

	if (files_begin(f->st, rec->user, &txn, &cur, &exists, &f->err) != 0)
		fail_msg("files_begin: %s", f->err.msg);
	if (files_commit(txn, rec, &f->err) != 0)
		fail_msg("files_commit: %s", f->err.msg);
	files_end(txn);
	record_wipe(&cur);
}

static void test_open_missing(void **state)
{
	struct fixture *f = *state;
	struct files_store *st = NULL;
	struct stat sb;

	assert_int_equal(files_open(f->dir, STORE_READ_ONLY, &st, &f->err), -ENOENT);
	assert_null(st);
	assert_contains(f->err.msg, f->dir);
	assert_int_equal(stat(f->dir, &sb), -1);

	assert_int_equal(files_open(f->dir, STORE_CREATE, &st, &f->err), 0);
	assert_non_null(st);
	assert_int_equal(stat(f->dir, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0700);
	assert_int_equal(sb.st_uid, 0);
	files_close(st);
	/* Again, now that it exists, with and without STORE_CREATE. */
	assert_int_equal(files_open(f->dir, STORE_CREATE, &st, &f->err), 0);
	files_close(st);
	assert_int_equal(files_open(f->dir, STORE_READ_ONLY, &st, &f->err), 0);
	files_close(st);
	files_close(NULL);
}

static void test_open_create_umask(void **state)
{
	struct fixture *f = *state;
	struct files_store *st = NULL;
	struct stat sb;
	mode_t old = umask(0);

	/* A permissive umask must not widen the new directory. */
	assert_int_equal(files_open(f->dir, STORE_CREATE, &st, &f->err), 0);
	(void)umask(old);
	assert_int_equal(stat(f->dir, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	files_close(st);
}

static void test_open_refuses_bad_dirs(void **state)
{
	static const mode_t bad_modes[] = { 0755, 0750, 0701, 0710, 0770, 0707, 01777 };
	struct fixture *f = *state;
	struct files_store *st = NULL;
	char *link, *sub, *deep;

	assert_int_equal(mkdir(f->dir, 0700), 0);
	for (size_t i = 0; i < sizeof(bad_modes) / sizeof(bad_modes[0]); i++) {
		assert_int_equal(chmod(f->dir, bad_modes[i]), 0);
		if (files_open(f->dir, STORE_CREATE, &st, &f->err) >= 0)
			fail_msg("accepted a state directory of mode %04o", (unsigned)bad_modes[i]);
		assert_null(st);
		assert_contains(f->err.msg, f->dir);
	}
	assert_int_equal(chmod(f->dir, 0700), 0);
	/* Not owned by root. */
	assert_int_equal(chown(f->dir, 65534, 0), 0);
	assert_true(files_open(f->dir, STORE_CREATE, &st, &f->err) < 0);
	assert_null(st);
	assert_int_equal(chown(f->dir, 0, 65534), 0);
	assert_int_equal(files_open(f->dir, STORE_READ_ONLY, &st, &f->err), 0);
	files_close(st);
	st = NULL;
	/* A symbolic link to a good directory. */
	link = path_join(f->base, "link");
	assert_int_equal(symlink(f->dir, link), 0);
	assert_int_equal(files_open(link, STORE_CREATE, &st, &f->err), -ELOOP);
	assert_null(st);
	/* A parent that others may write to; and creating below it. */
	sub = path_join(f->base, "open");
	assert_int_equal(mkdir(sub, 0777), 0);
	assert_int_equal(chmod(sub, 0777), 0);
	deep = path_join(sub, "state");
	assert_int_equal(mkdir(deep, 0700), 0);
	assert_true(files_open(deep, STORE_READ_ONLY, &st, &f->err) < 0);
	assert_int_equal(rmdir(deep), 0);
	assert_true(files_open(deep, STORE_CREATE, &st, &f->err) < 0);
	assert_int_equal(access(deep, F_OK), -1);
	assert_null(st);
	/* Relative and ".." paths. */
	assert_true(files_open("state", STORE_CREATE, &st, &f->err) < 0);
	free(deep);
	deep = path_join(f->base, "state/../state");
	assert_true(files_open(deep, STORE_READ_ONLY, &st, &f->err) < 0);
	assert_null(st);
	/* A regular file. */
	free(deep);
	deep = path_join(f->base, "file");
	write_text(deep, "", 0600);
	assert_true(files_open(deep, STORE_CREATE, &st, &f->err) < 0);
	assert_null(st);
	/* ... nor is a directory below one. */
	free(deep);
	deep = path_join(f->base, "file/state");
	assert_int_equal(files_open(deep, STORE_READ_ONLY, &st, &f->err), -ENOTDIR);
	assert_contains(f->err.msg, "ot a directory");
	assert_null(st);
	/* A symbolic link above the state directory, to a good parent. */
	free(deep);
	deep = path_join(link, "state");
	assert_int_equal(unlink(link), 0);
	assert_int_equal(symlink(f->base, link), 0);
	assert_int_equal(files_open(f->dir, STORE_READ_ONLY, &st, &f->err), 0);
	files_close(st);
	st = NULL;
	assert_int_equal(files_open(deep, STORE_READ_ONLY, &st, &f->err), -ELOOP);
	assert_contains(f->err.msg, "symbolic link");
	assert_null(st);
	/* A root-owned sticky directory (as /tmp) may lie above, with a
	 * root-owned directory below it. */
	assert_int_equal(chmod(sub, 01777), 0);
	free(deep);
	deep = path_join(sub, "state");
	assert_int_equal(mkdir(deep, 0700), 0);
	assert_int_equal(files_open(deep, STORE_READ_ONLY, &st, &f->err), 0);
	files_close(st);
	st = NULL;
	assert_int_equal(rmdir(deep), 0);
	free(deep);
	free(sub);
	free(link);
}

static void test_begin_commit_load(void **state)
{
	struct fixture *f = *state;
	struct files_txn *txn = NULL;
	struct mfa_record rec, loaded;
	struct stat sb;
	bool exists = true;
	char *path;

	assert_int_equal(files_load(f->st, "alice", &rec, &f->err), -ENOENT);
	assert_int_equal(files_begin(f->st, "alice", &txn, &rec, &exists, &f->err), 0);
	assert_false(exists);
	assert_string_equal(rec.user, "alice");
	assert_int_equal(rec.n_factors, 0);
	assert_true(rec.factors_tag == 0);
	assert_int_equal(rec.fail_count, 0);
	/* Beginning creates only the lock file. */
	assert_int_equal(files_load(f->st, "alice", &loaded, &f->err), -ENOENT);
	enrolled_record(&rec);
	assert_int_equal(files_commit(txn, &rec, &f->err), 0);
	files_end(txn);

	assert_int_equal(files_load(f->st, "alice", &loaded, &f->err), 0);
	assert_records_equal(&rec, &loaded);
	path = record_path(f, "alice");
	assert_int_equal(lstat(path, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(sb.st_uid, 0);
	assert_int_equal(sb.st_nlink, 1);
	free(path);
	path = record_path(f, ".lock.alice");
	assert_int_equal(lstat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	free(path);
	/* The record and its lock, and no temporary file left over. */
	assert_int_equal(dir_entry_count(f->dir), 2);

	/* A second transaction sees the record and replaces it. */
	assert_int_equal(files_begin(f->st, "alice", &txn, &loaded, &exists, &f->err), 0);
	assert_true(exists);
	assert_records_equal(&rec, &loaded);
	loaded.fail_count = 9;
	loaded.locked_until = 0;
	assert_int_equal(files_commit(txn, &loaded, &f->err), 0);
	/* Committing twice within one transaction is fine too. */
	loaded.fail_count = 10;
	assert_int_equal(files_commit(txn, &loaded, &f->err), 0);
	files_end(txn);
	assert_int_equal(files_load(f->st, "alice", &rec, &f->err), 0);
	assert_int_equal(rec.fail_count, 10);
	assert_int_equal(rec.locked_until, 0);
	assert_int_equal(dir_entry_count(f->dir), 2);
	/* A transaction ended without a commit changes nothing. */
	assert_int_equal(files_begin(f->st, "alice", &txn, &loaded, &exists, &f->err), 0);
	files_end(txn);
	assert_int_equal(files_load(f->st, "alice", &loaded, &f->err), 0);
	assert_records_equal(&rec, &loaded);
	files_end(NULL);
	record_wipe(&rec);
	record_wipe(&loaded);
}

static void test_commit_other_user_refused(void **state)
{
	struct fixture *f = *state;
	struct files_txn *txn = NULL;
	struct mfa_record rec;
	bool exists;

	assert_int_equal(files_begin(f->st, "alice", &txn, &rec, &exists, &f->err), 0);
	plain_record(&rec); /* names bob.smith@example.com */
	assert_int_equal(files_commit(txn, &rec, &f->err), -EINVAL);
	files_end(txn);
	assert_int_equal(files_load(f->st, "alice", &rec, &f->err), -ENOENT);
	assert_int_equal(files_load(f->st, "bob.smith@example.com", &rec, &f->err), -ENOENT);
}

/* files_load and files_begin must both refuse the record at name, and
 * files_begin must not replace it. */
static void expect_record_refused(struct fixture *f, const char *user, int expected)
{
	struct files_txn *txn = NULL;
	struct mfa_record rec;
	bool exists;
	int r;

	r = files_load(f->st, user, &rec, &f->err);
	if (r != expected)
		fail_msg("files_load(%s) = %d, expected %d (%s)", user, r, expected, f->err.msg);
	assert_contains(f->err.msg, user);
	assert_contains(f->err.msg, f->dir);
	r = files_begin(f->st, user, &txn, &rec, &exists, &f->err);
	if (r != expected)
		fail_msg("files_begin(%s) = %d, expected %d (%s)", user, r, expected, f->err.msg);
	assert_null(txn);
}

static void test_load_refuses_bad_files(void **state)
{
	struct fixture *f = *state;
	struct mfa_record rec;
	char buf[STORE_RECORD_MAX], *path, *other, *big;
	int len;

	enrolled_record(&rec);
	put_record(f, &rec);
	path = record_path(f, "alice");
	other = record_path(f, "alice.real");
	len = format_record(&rec, buf, sizeof(buf));

	/* Mode 0644, 0640, 0604. */
	assert_int_equal(chmod(path, 0644), 0);
	expect_record_refused(f, "alice", -EPERM);
	assert_int_equal(chmod(path, 0640), 0);
	expect_record_refused(f, "alice", -EPERM);
	assert_int_equal(chmod(path, 0604), 0);
	expect_record_refused(f, "alice", -EPERM);
	/* 0400 is fine: root reads it regardless. */
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(files_load(f->st, "alice", &rec, &f->err), 0);
	assert_int_equal(chmod(path, 0600), 0);
	/* Owned by someone else. */
	assert_int_equal(chown(path, 65534, 0), 0);
	expect_record_refused(f, "alice", -EPERM);
	assert_int_equal(chown(path, 0, 0), 0);
	assert_int_equal(files_load(f->st, "alice", &rec, &f->err), 0);
	/* Two hard links. */
	assert_int_equal(link(path, other), 0);
	expect_record_refused(f, "alice", -EPERM);
	assert_int_equal(unlink(path), 0);
	/* A symbolic link to a good record. */
	assert_int_equal(symlink(other, path), 0);
	expect_record_refused(f, "alice", -ELOOP);
	assert_int_equal(unlink(path), 0);
	/* A directory and a FIFO (which must not block). */
	assert_int_equal(mkdir(path, 0700), 0);
	expect_record_refused(f, "alice", -EPERM);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(mkfifo(path, 0600), 0);
	expect_record_refused(f, "alice", -EPERM);
	assert_int_equal(unlink(path), 0);
	/* The good record again, as a control. */
	write_file(path, buf, (size_t)len, 0600);
	assert_int_equal(files_load(f->st, "alice", &rec, &f->err), 0);
	/* Corrupt: garbage, truncated, another user's record, too large. */
	write_text(path, "garbage\n", 0600);
	expect_record_refused(f, "alice", -EINVAL);
	write_file(path, buf, (size_t)len - 1, 0600);
	expect_record_refused(f, "alice", -EINVAL);
	write_file(path, "", 0, 0600);
	expect_record_refused(f, "alice", -EINVAL);
	write_file(path, buf, (size_t)len, 0600);
	assert_int_equal(rename(path, other), 0);
	free(path);
	path = record_path(f, "mallory");
	assert_int_equal(rename(other, path), 0);
	expect_record_refused(f, "mallory", -EINVAL);
	big = malloc(STORE_RECORD_MAX + 2);
	assert_non_null(big);
	memset(big, 'x', STORE_RECORD_MAX + 1);
	memcpy(big, buf, (size_t)len);
	memcpy(big + STORE_RECORD_MAX + 1 - 4, "end\n", 4);
	write_file(path, big, STORE_RECORD_MAX + 1, 0600);
	expect_record_refused(f, "mallory", -EINVAL);
	free(big);
	free(other);
	free(path);
	record_wipe(&rec);
}

/* The two-slot record file (pam_mfa.conf(5), STATE RECORDS), read here
 * with plain file I/O. */
#define SLOT 2048

static void read_record_file(struct fixture *f, const char *user, char *buf, size_t size,
			     size_t *len)
{
	char *path = record_path(f, user);
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, size);
	assert_true(n >= 0);
	*len = (size_t)n;
	close(fd);
	free(path);
}

static void write_record_file(struct fixture *f, const char *user, const char *buf, size_t len)
{
	char *path = record_path(f, user);

	write_file(path, buf, len, 0600);
	free(path);
}

static unsigned long long slot_seq(const char *slot)
{
	char hex[17];

	memcpy(hex, slot + 5, 16);
	hex[16] = '\0';
	return strtoull(hex, NULL, 16);
}

static void test_slots_in_place(void **state)
{
	struct fixture *f = *state;
	struct mfa_record rec, got;
	char file[2 * SLOT + 16], before[2 * SLOT];
	size_t len;
	struct stat a, b;
	char *path = record_path(f, "alice");

	enrolled_record(&rec);
	put_record(f, &rec);
	/* A new record: slot 0 with sequence 1, slot 1 empty, 4096 bytes. */
	read_record_file(f, "alice", file, sizeof(file), &len);
	assert_int_equal(len, 2 * SLOT);
	assert_memory_equal(file, "MFA1 0000000000000001 ", 22);
	for (size_t i = SLOT; i < 2 * SLOT; i++)
		assert_int_equal(file[i], 0);
	assert_int_equal(stat(path, &a), 0);

	/* Updates alternate between the slots, in the same file. */
	for (unsigned i = 1; i <= 5; i++) {
		rec.fail_count = 10 + i;
		put_record(f, &rec);
		read_record_file(f, "alice", file, sizeof(file), &len);
		assert_int_equal(len, 2 * SLOT);
		assert_int_equal(slot_seq(file + (i % 2) * SLOT), i + 1);
		assert_int_equal(slot_seq(file + ((i + 1) % 2) * SLOT), i);
		assert_int_equal(files_load(f->st, "alice", &got, &f->err), 0);
		assert_int_equal(got.fail_count, 10 + i);
	}
	assert_int_equal(stat(path, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);

	/* A torn newest slot (fail.count=15 in slot 1, sequence 6): the
	 * previous state is read. */
	memcpy(before, file, sizeof(before));
	file[SLOT + 40] ^= 0x20;
	write_record_file(f, "alice", file, 2 * SLOT);
	assert_int_equal(files_load(f->st, "alice", &got, &f->err), 0);
	assert_int_equal(got.fail_count, 14);
	/* The next update overwrites the torn slot. */
	rec.fail_count = 20;
	put_record(f, &rec);
	read_record_file(f, "alice", file, sizeof(file), &len);
	assert_int_equal(slot_seq(file + SLOT), 6);
	assert_int_equal(files_load(f->st, "alice", &got, &f->err), 0);
	assert_int_equal(got.fail_count, 20);

	/* Both slots torn, a slot's header mangled, two slots of one
	 * sequence number, a wrong size: corrupt. */
	memcpy(file, before, sizeof(before));
	file[40] ^= 0x20;
	file[SLOT + 40] ^= 0x20;
	write_record_file(f, "alice", file, 2 * SLOT);
	expect_record_refused(f, "alice", -EINVAL);
	assert_contains(f->err.msg, "neither slot is intact");
	memcpy(file, before, sizeof(before));
	memcpy(file + SLOT, "MFA2", 4);
	write_record_file(f, "alice", file, 2 * SLOT);
	assert_int_equal(files_load(f->st, "alice", &got, &f->err), 0);
	assert_int_equal(got.fail_count, 14);
	memcpy(file, before, sizeof(before));
	memcpy(file + SLOT, file, SLOT);
	write_record_file(f, "alice", file, 2 * SLOT);
	expect_record_refused(f, "alice", -EINVAL);
	assert_contains(f->err.msg, "both slots");
	write_record_file(f, "alice", before, 2 * SLOT - 1);
	expect_record_refused(f, "alice", -EINVAL);
	write_record_file(f, "alice", before, 2 * SLOT);
	assert_int_equal(files_load(f->st, "alice", &got, &f->err), 0);

	/* A record of the single-text form is read, and the next update
	 * turns it into the two-slot form. */
	len = (size_t)format_record(&rec, file, sizeof(file));
	write_record_file(f, "alice", file, len);
	assert_int_equal(files_load(f->st, "alice", &got, &f->err), 0);
	assert_int_equal(got.fail_count, 20);
	rec.fail_count = 21;
	put_record(f, &rec);
	read_record_file(f, "alice", file, sizeof(file), &len);
	assert_int_equal(len, 2 * SLOT);
	assert_int_equal(slot_seq(file), 1);
	assert_int_equal(files_load(f->st, "alice", &got, &f->err), 0);
	assert_int_equal(got.fail_count, 21);
	record_wipe(&rec);
	record_wipe(&got);
	free(path);
}

/* The slots' CRC-32 is zlib's, for every length and alignment. */
static void test_crc32_is_zlibs(void **state)
{
	unsigned char buf[600];

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 7919u >> 3);
	assert_int_equal(files_crc32(0, (const unsigned char *)"123456789", 9), 0xcbf43926u);
	for (size_t off = 0; off < 4; off++)
		for (size_t len = 0; len + off <= sizeof(buf); len += 37)
			assert_int_equal(files_crc32(files_crc32(0, buf, off), buf + off, len),
					 (uint32_t)crc32(0, buf, (uInt)(off + len)));
}

/* The largest record the operations can make fits in the largest slots:
 * 8 apps, 8 addresses and 7 numbers verified (factors_per_method at its
 * highest) and an address being proved, a set of 20 recovery codes and a
 * bypass code, every field at its longest. */
static void test_largest_record_fits(void **state)
{
	struct fixture *f = *state;
	struct mfa_record rec, got;
	char name[USER_NAME_MAX + 1], text[STORE_TEXT_MAX + 1], file[STORE_RECORD_MAX];
	size_t len;
	int tlen;

	memset(name, 'u', USER_NAME_MAX);
	name[USER_NAME_MAX] = '\0';
	memset(text, 'x', STORE_TEXT_MAX);
	text[STORE_TEXT_MAX] = '\0';
	record_init(&rec, name);
	rec.factors_tag = UINT64_MAX;
	rec.next_factor_id = UINT32_MAX - RECORD_FACTORS_MAX - 1;
	for (unsigned i = 0; i < RECORD_FACTORS_MAX; i++) {
		unsigned method = i < 8 ? METHOD_TOTP : i < 17 ? METHOD_EMAIL : METHOD_SMS;
		struct mfa_factor *x = record_add_factor(&rec, method);

		assert_non_null(x);
		x->verified = i != 16;
		x->by_admin = true;
		x->added = x->last_used = INT64_C(253402300799);
		(void)snprintf(x->label, sizeof(x->label), "%.*s", FACTOR_LABEL_MAX, text);
		if (method == METHOD_TOTP) {
			x->totp.params.algorithm = TOTP_SHA512;
			x->totp.params.digits = 8;
			x->totp.params.period = 300;
			memset(x->totp.secret, 0xee, TOTP_SECRET_MAX);
			x->totp.secret_len = TOTP_SECRET_MAX;
			x->totp.last_step = UINT64_C(253402300799);
		} else if (method == METHOD_EMAIL) {
			/* 254 bytes: a 64-byte local part and labels of at most 63. */
			(void)snprintf(x->dest, sizeof(x->dest), "%.64s@%.63s.%.63s.%.57s.org",
				       text, text, text, text);
			assert_int_equal(strlen(x->dest), EMAIL_ADDRESS_MAX);
		} else {
			(void)snprintf(x->dest, sizeof(x->dest), "+999999999999999");
		}
	}
	rec.code.pending = true;
	rec.code.factor = rec.factors[16].id;
	rec.code.expires = rec.code.sent = rec.code.booked = rec.code.enroll_codes_since =
		INT64_C(253402300799);
	rec.code.enroll_codes = 1000000;
	rec.fail_count = 1000000;
	rec.fail_since = rec.locked_until = rec.last_login = rec.skip_since = INT64_C(253402300799);
	record_set_text(rec.last_service, text);
	record_set_text(rec.last_rhost, text);
	rec.recovery.n = RECOVERY_CODES_MAX;
	rec.recovery.source = RECORD_CODES_IMPORTED;
	rec.recovery.since = INT64_C(253402300799);
	for (unsigned i = 0; i < RECOVERY_CODES_MAX; i++) {
		memset(rec.recovery.codes[i].salt, (int)(0xe0 + i), EMAIL_SALT_LEN);
		memset(rec.recovery.codes[i].hash, 0xff, EMAIL_HASH_LEN);
		rec.recovery.used[i] = INT64_C(253402300799);
	}
	rec.bypass.set = true;
	memset(&rec.bypass.code, 0xff, sizeof(rec.bypass.code));
	rec.bypass.uses_left = RECORD_BYPASS_USES_MAX;
	rec.bypass.expires = rec.bypass.made = INT64_C(253402300799);
	rec.lock_notice = INT64_C(253402300799);
	tlen = format_record(&rec, file, sizeof(file));
	/* 10434 bytes, of the 16348 a slot holds. */
	if (tlen > 16384 - 36)
		fail_msg("the largest record is %d bytes", tlen);
	put_record(f, &rec);
	if (files_load(f->st, name, &got, &f->err) != 0)
		fail_msg("files_load: %s", f->err.msg);
	assert_records_equal(&rec, &got);
	read_record_file(f, name, file, sizeof(file), &len);
	assert_int_equal(len, 32768);
	record_wipe(&rec);
	record_wipe(&got);
}

/* A record that outgrows its slots moves to a file of larger ones (by
 * rename, as a new record), and is updated in place there. */
static void test_slots_grow(void **state)
{
	struct fixture *f = *state;
	struct mfa_record rec, got;
	char file[STORE_RECORD_MAX];
	struct stat a, b;
	size_t len;
	char *path = record_path(f, "alice");

	enrolled_record(&rec);
	put_record(f, &rec);
	read_record_file(f, "alice", file, sizeof(file), &len);
	assert_int_equal(len, 4096);
	assert_int_equal(stat(path, &a), 0);
	/* Addresses until the text no longer fits 2048 - 36 bytes. */
	for (unsigned i = 0; i < 16 && len == 4096; i++) {
		struct mfa_factor *x = record_add_factor(&rec, METHOD_EMAIL);

		assert_non_null(x);
		x->verified = true;
		(void)snprintf(x->dest, sizeof(x->dest),
			       "someone.with.a.rather.long.name.%u@mail.department.example.org", i);
		(void)snprintf(x->label, sizeof(x->label), "address number %u of many", i);
		put_record(f, &rec);
		assert_int_equal(files_load(f->st, "alice", &got, &f->err), 0);
		assert_records_equal(&rec, &got);
		read_record_file(f, "alice", file, sizeof(file), &len);
	}
	assert_int_equal(len, 8192);
	assert_int_equal(slot_seq(file), 1);
	assert_int_equal(stat(path, &b), 0);
	assert_true(a.st_ino != b.st_ino);
	/* Then in place, the slots alternating. */
	rec.fail_count = 42;
	put_record(f, &rec);
	read_record_file(f, "alice", file, sizeof(file), &len);
	assert_int_equal(len, 8192);
	assert_int_equal(slot_seq(file + 4096), 2);
	assert_int_equal(stat(path, &a), 0);
	assert_true(a.st_ino == b.st_ino);
	assert_int_equal(files_load(f->st, "alice", &got, &f->err), 0);
	assert_int_equal(got.fail_count, 42);
	/* A smaller record stays in the larger file. */
	while (rec.n_factors > 1)
		assert_true(record_remove_factor(&rec, rec.factors[1].id));
	put_record(f, &rec);
	read_record_file(f, "alice", file, sizeof(file), &len);
	assert_int_equal(len, 8192);
	assert_int_equal(files_load(f->st, "alice", &got, &f->err), 0);
	assert_records_equal(&rec, &got);
	/* Sizes other than 4096, 8192 and 16384 are corrupt. */
	memset(file + 4096, 0, 4096);
	write_record_file(f, "alice", file, 6144);
	expect_record_refused(f, "alice", -EINVAL);
	assert_contains(f->err.msg, "two-slot record of 6144 bytes");
	write_record_file(f, "alice", file, 8192);
	assert_int_equal(files_load(f->st, "alice", &got, &f->err), 0);
	record_wipe(&rec);
	record_wipe(&got);
	free(path);
}

static void test_remove(void **state)
{
	struct fixture *f = *state;
	struct files_txn *txn = NULL;
	struct mfa_record rec;
	bool exists;

	enrolled_record(&rec);
	put_record(f, &rec);
	plain_record(&rec);
	put_record(f, &rec);
	assert_int_equal(dir_entry_count(f->dir), 4);
	assert_int_equal(files_begin(f->st, "alice", &txn, &rec, &exists, &f->err), 0);
	assert_true(exists);
	/* 1: there was a record. */
	assert_int_equal(files_remove(txn, &f->err), 1);
	files_end(txn);
	assert_int_equal(files_load(f->st, "alice", &rec, &f->err), -ENOENT);
	{
		char *lock = record_path(f, ".lock.alice");
		assert_int_equal(access(lock, F_OK), -1);
		assert_int_equal(errno, ENOENT);
		free(lock);
	}
	/* The other user is untouched. */
	assert_int_equal(files_load(f->st, "bob.smith@example.com", &rec, &f->err), 0);
	assert_int_equal(dir_entry_count(f->dir), 2);
	/* Removing a user without a record is fine and leaves nothing. */
	assert_int_equal(files_begin(f->st, "carol", &txn, &rec, &exists, &f->err), 0);
	assert_false(exists);
	assert_int_equal(files_remove(txn, &f->err), 0);
	files_end(txn);
	assert_int_equal(dir_entry_count(f->dir), 2);
	record_wipe(&rec);
}

/* files_lock() takes the lock without reading, so that a corrupt record
 * (which files_begin() refuses) can still be removed. */
static void test_lock_and_remove_corrupt(void **state)
{
	struct fixture *f = *state;
	struct files_txn *txn = NULL;
	struct mfa_record rec;
	char *path = record_path(f, "alice");
	bool exists;

	write_text(path, "version=1\ngarbage\n", 0600);
	assert_int_equal(files_begin(f->st, "alice", &txn, &rec, &exists, &f->err), -EINVAL);
	assert_null(txn);
	assert_int_equal(files_lock(f->st, "alice", &txn, &f->err), 0);
	assert_non_null(txn);
	assert_int_equal(files_remove(txn, &f->err), 1);
	files_end(txn);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(dir_entry_count(f->dir), 0);
	/* It validates the user name like the rest. */
	txn = NULL;
	assert_int_equal(files_lock(f->st, "../alice", &txn, &f->err), -EINVAL);
	assert_null(txn);
	assert_int_equal(dir_entry_count(f->dir), 0);
	free(path);
}

struct name_list {
	char names[16][USER_NAME_MAX + 1];
	size_t count;
	size_t stop_after; /* 0: never */
};

static int collect_name(const char *user, void *ctx)
{
	struct name_list *l = ctx;

	if (l->count >= 16)
		return -E2BIG;
	(void)snprintf(l->names[l->count], sizeof(l->names[0]), "%s", user);
	l->count++;
	if (l->stop_after != 0 && l->count == l->stop_after)
		return 42;
	return 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void test_list(void **state)
{
	static const char *const not_records[] = {
		".lock.dave", ".tmp.alice.0123abcd", ".hidden", "-x", "a b", "x\xc3\xbc",
	};
	struct fixture *f = *state;
	struct name_list l;
	struct mfa_record rec;
	char *path;
	size_t before;

	memset(&l, 0, sizeof(l));
	assert_int_equal(files_list(f->st, collect_name, &l, &f->err), 0);
	assert_int_equal(l.count, 0);

	enrolled_record(&rec);
	put_record(f, &rec);
	plain_record(&rec);
	put_record(f, &rec);
	for (size_t i = 0; i < sizeof(not_records) / sizeof(not_records[0]); i++) {
		path = record_path(f, not_records[i]);
		write_text(path, "x\n", 0600);
		free(path);
	}
	/* An entry with a valid user name is listed whatever its type, so that
	 * files_load() can judge (and mfactl report) a bad one (store.h). */
	path = record_path(f, "erin");
	assert_int_equal(mkdir(path, 0700), 0);
	free(path);
	before = dir_entry_count(f->dir);

	memset(&l, 0, sizeof(l));
	assert_int_equal(files_list(f->st, collect_name, &l, &f->err), 0);
	qsort(l.names, l.count, sizeof(l.names[0]), compare_names);
	if (l.count != 3)
		fail_msg("listed %zu names: %s, %s, %s, %s", l.count, l.names[0], l.names[1],
			 l.names[2], l.names[3]);
	assert_string_equal(l.names[0], "alice");
	assert_string_equal(l.names[1], "bob.smith@example.com");
	assert_string_equal(l.names[2], "erin");
	/* Listing creates nothing. */
	assert_int_equal(dir_entry_count(f->dir), before);
	/* A callback's non-zero return stops the walk and is returned. */
	memset(&l, 0, sizeof(l));
	l.stop_after = 1;
	assert_int_equal(files_list(f->st, collect_name, &l, &f->err), 42);
	assert_int_equal(l.count, 1);
	record_wipe(&rec);
}

struct scan_seen {
	char names[16][USER_NAME_MAX + 8];
	enum files_entry kinds[16];
	size_t count;
};

static int collect_scan(const char *name, enum files_entry kind, void *ctx)
{
	struct scan_seen *s = ctx;

	if (s->count >= 16)
		return -E2BIG;
	(void)snprintf(s->names[s->count], sizeof(s->names[0]), "%s", name);
	s->kinds[s->count] = kind;
	s->count++;
	return 0;
}

static void test_scan_kinds(void **state)
{
	static const struct {
		const char *name;
		enum files_entry kind;
	} expected[] = {
		{ "alice", FILES_ENTRY_RECORD },
		{ ".lock.alice", FILES_ENTRY_LOCK },
		{ ".lock.dave", FILES_ENTRY_LOCK },
		{ ".lock.-x", FILES_ENTRY_OTHER },
		{ ".tmp.alice.0123abcd", FILES_ENTRY_TEMP },
		{ ".hidden", FILES_ENTRY_OTHER },
		{ "-x", FILES_ENTRY_OTHER },
		{ "a b", FILES_ENTRY_OTHER },
	};
	struct fixture *f = *state;
	struct scan_seen seen;
	struct mfa_record rec;
	const size_t want = sizeof(expected) / sizeof(expected[0]);

	enrolled_record(&rec);
	put_record(f, &rec);
	for (size_t i = 1; i < sizeof(expected) / sizeof(expected[0]); i++) {
		char *path;

		if (strcmp(expected[i].name, ".lock.alice") == 0)
			continue; /* put_record() made it */
		path = record_path(f, expected[i].name);
		write_text(path, "x\n", 0600);
		free(path);
	}
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(files_scan(f->st, collect_scan, &seen, &f->err), 0);
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		bool found = false;

		for (size_t j = 0; j < seen.count; j++) {
			if (strcmp(seen.names[j], expected[i].name) != 0)
				continue;
			found = true;
			if (seen.kinds[j] != expected[i].kind)
				fail_msg("%s: kind %d, expected %d", expected[i].name,
					 (int)seen.kinds[j], (int)expected[i].kind);
		}
		if (!found)
			fail_msg("%s was not scanned", expected[i].name);
	}
	/* "." and ".." are not entries. */
	assert_int_equal(seen.count, want);
	record_wipe(&rec);
}

static void test_invalid_user_names(void **state)
{
	static const char *const bad[] = {
		"../x",
		"a/b",
		".hidden",
		"-x",
		"",
		"\xc3\xbc",
		"a b",
		"a\n",
		".",
		"..",
		".lock.alice",
		".tmp.alice.00000000",
		"/etc/passwd",
	};
	const size_t nbad = sizeof(bad) / sizeof(bad[0]);
	struct fixture *f = *state;
	struct files_txn *txn = NULL;
	struct mfa_record rec;
	char longest[USER_NAME_MAX + 2];
	bool exists;

	/* One byte too long. */
	memset(longest, 'u', USER_NAME_MAX + 1);
	longest[USER_NAME_MAX + 1] = '\0';
	for (size_t i = 0; i <= nbad; i++) {
		const char *name = i < nbad ? bad[i] : longest;

		if (files_load(f->st, name, &rec, &f->err) != -EINVAL)
			fail_msg("files_load accepted the user name \"%s\"", name);
		if (files_begin(f->st, name, &txn, &rec, &exists, &f->err) != -EINVAL)
			fail_msg("files_begin accepted the user name \"%s\"", name);
		assert_null(txn);
	}
	assert_int_equal(dir_entry_count(f->dir), 0);
	/* The longest valid name works. */
	longest[USER_NAME_MAX] = '\0';
	assert_int_equal(files_begin(f->st, longest, &txn, &rec, &exists, &f->err), 0);
	assert_int_equal(files_commit(txn, &rec, &f->err), 0);
	files_end(txn);
	assert_int_equal(files_load(f->st, longest, &rec, &f->err), 0);
}

/* ---- concurrency ---- */

#define CHILDREN 8
#define ITERATIONS 200

static int child_increment(const char *dir)
{
	struct mfa_error err;
	struct files_store *st = NULL;

	if (files_open(dir, STORE_READ_ONLY, &st, &err) != 0)
		return 10;
	for (int i = 0; i < ITERATIONS; i++) {
		struct files_txn *txn = NULL;
		struct mfa_record rec;
		bool exists;

		if (files_begin(st, "alice", &txn, &rec, &exists, &err) != 0)
			return 11;
		rec.fail_count++;
		if (files_commit(txn, &rec, &err) != 0)
			return 12;
		files_end(txn);
	}
	files_close(st);
	return 0;
}

static void test_concurrent_increments(void **state)
{
	struct fixture *f = *state;
	struct mfa_record rec;
	pid_t pids[CHILDREN];

	for (int i = 0; i < CHILDREN; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0)
			_exit(child_increment(f->dir));
	}
	for (int i = 0; i < CHILDREN; i++) {
		int status;

		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("child %d failed: status 0x%x", i, (unsigned)status);
	}
	assert_int_equal(files_load(f->st, "alice", &rec, &f->err), 0);
	assert_int_equal(rec.fail_count, CHILDREN * ITERATIONS);
	/* The record and its lock file: no temporary files left behind. */
	assert_int_equal(dir_entry_count(f->dir), 2);
}

/* True once pid has alice's lock file open while we hold the lock: it is
 * then waiting for it (the store polls for a lock, so /proc/locks shows no
 * blocked waiter). */
static bool waiting_for_lock(pid_t pid)
{
	char dir[64], link[64 + NAME_MAX + 2], target[PATH_MAX];
	struct dirent *de;
	bool found = false;
	DIR *d;

	(void)snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (d == NULL)
		return false;
	while (!found && (de = readdir(d)) != NULL) {
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		(void)snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		found = strstr(target, "/.lock.alice") != NULL;
	}
	closedir(d);
	return found;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The child waits for alice's lock, which the parent holds and then
 * removes with the record.  The child must then lock the new lock file, so
 * that a third transaction (the parent's again) waits for it.  The child is
 * forked before the parent locks: a child that inherited the parent's lock
 * descriptor would hold the lock itself. */
static int child_after_remove(const char *dir, int go_fd, int ready_fd)
{
	struct mfa_error err;
	struct files_store *st = NULL;
	struct files_txn *txn = NULL;
	struct mfa_record rec;
	bool exists;
	char c;

	if (files_open(dir, STORE_READ_ONLY, &st, &err) != 0)
		return 10;
	if (read(go_fd, &c, 1) != 1)
		return 15;
	if (files_begin(st, "alice", &txn, &rec, &exists, &err) != 0) {
		fprintf(stderr, "child: files_begin: %s\n", err.msg);
		return 11;
	}
	if (exists)
		return 12; /* it read the removed record */
	if (write(ready_fd, "x", 1) != 1)
		return 13;
	sleep_ms(300);
	rec.fail_count = 77;
	if (files_commit(txn, &rec, &err) != 0)
		return 14;
	files_end(txn);
	files_close(st);
	return 0;
}

/* A login that waits for the lock while "mfactl reset" removes the user
 * wakes holding an unlinked lock file (st_nlink == 0): it must retry on a
 * fresh one, not refuse the file as insecure. */
static void test_remove_while_waiting(void **state)
{
	struct fixture *f = *state;
	struct files_txn *txn = NULL;
	struct mfa_record rec;
	bool exists, waited = false;
	int pipefd[2], gofd[2], status;
	char c;
	pid_t pid;

	enrolled_record(&rec);
	put_record(f, &rec);
	assert_int_equal(pipe(pipefd), 0);
	assert_int_equal(pipe(gofd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pipefd[0]);
		close(gofd[1]);
		_exit(child_after_remove(f->dir, gofd[0], pipefd[1]));
	}
	close(pipefd[1]);
	close(gofd[0]);
	assert_int_equal(files_begin(f->st, "alice", &txn, &rec, &exists, &f->err), 0);
	assert_true(exists);
	assert_int_equal(write(gofd[1], "g", 1), 1);
	close(gofd[1]);
	for (int i = 0; i < 500 && !waited; i++) {
		waited = waiting_for_lock(pid);
		if (!waited)
			sleep_ms(10);
	}
	if (!waited) {
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, &status, 0);
		fail_msg("the child never waited for the lock");
	}
	assert_int_equal(files_remove(txn, &f->err), 1);
	files_end(txn);
	/* Once the child holds the new lock, our next transaction waits for
	 * its commit and sees it. */
	if (read(pipefd[0], &c, 1) != 1) {
		assert_int_equal(waitpid(pid, &status, 0), pid);
		fail_msg("the child failed before taking the lock: status 0x%x", (unsigned)status);
	}
	close(pipefd[0]);
	assert_int_equal(files_begin(f->st, "alice", &txn, &rec, &exists, &f->err), 0);
	assert_true(exists);
	assert_int_equal(rec.fail_count, 77);
	assert_int_equal(rec.n_factors, 0);
	files_end(txn);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("child failed: status 0x%x", (unsigned)status);
	record_wipe(&rec);
}

/* files_lock() excludes files_begin() in another process, which then sees
 * what was committed under the lock. */
static void test_lock_excludes_begin(void **state)
{
	struct fixture *f = *state;
	struct files_txn *txn = NULL;
	struct mfa_record rec;
	bool waited = false;
	int gofd[2], status;
	pid_t pid;

	assert_int_equal(pipe(gofd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct files_store *st = NULL;
		struct files_txn *t2 = NULL;
		struct mfa_record r2;
		struct mfa_error e2;
		bool ex;
		char c;

		close(gofd[1]);
		if (read(gofd[0], &c, 1) != 1)
			_exit(9);
		if (files_open(f->dir, STORE_READ_ONLY, &st, &e2) != 0 ||
		    files_begin(st, "alice", &t2, &r2, &ex, &e2) != 0)
			_exit(10);
		_exit(ex && r2.fail_count == 5 ? 0 : 11);
	}
	close(gofd[0]);
	assert_int_equal(files_lock(f->st, "alice", &txn, &f->err), 0);
	assert_int_equal(write(gofd[1], "g", 1), 1);
	close(gofd[1]);
	for (int i = 0; i < 500 && !waited; i++) {
		waited = waiting_for_lock(pid);
		if (!waited)
			sleep_ms(10);
	}
	record_init(&rec, "alice");
	rec.fail_count = 5;
	assert_int_equal(files_commit(txn, &rec, &f->err), 0);
	files_end(txn);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(waited);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* A decision to enroll rests on the factors it saw: a write on that basis
 * goes through while the record's tag is the basis's, and not once it
 * moved. */
static void test_begin_unchanged(void **state)
{
	struct fixture *f = *state;
	struct files_txn *txn = NULL;
	struct store_basis none = { 0 }, tagged;
	struct mfa_record rec;
	bool exists;

	/* No record yet: the empty basis holds. */
	assert_int_equal(files_begin_unchanged(f->st, "alice", &none, &txn, &rec, &exists, &f->err),
			 0);
	assert_false(exists);
	files_end(txn);
	/* A record without a tag (no factor ever verified) holds it too. */
	record_init(&rec, "alice");
	rec.skip_since = 1700000000;
	put_record(f, &rec);
	assert_true(files_basis_holds(&none, &rec));
	assert_int_equal(files_begin_unchanged(f->st, "alice", &none, &txn, &rec, &exists, &f->err),
			 0);
	assert_true(exists);
	files_end(txn);
	/* Enrolled meanwhile: refused, nothing held. */
	enrolled_record(&rec);
	put_record(f, &rec);
	txn = NULL;
	assert_int_equal(files_begin_unchanged(f->st, "alice", &none, &txn, &rec, &exists, &f->err),
			 -ESTALE);
	assert_null(txn);
	assert_non_null(strstr(f->err.msg, "changed meanwhile"));
	/* The lock was given back. */
	assert_int_equal(files_begin(f->st, "alice", &txn, &rec, &exists, &f->err), 0);
	files_end(txn);
	tagged.version = (int64_t)rec.factors_tag;
	assert_int_equal(files_begin_unchanged(f->st, "alice", &tagged, &txn, &rec, &exists,
					       &f->err),
			 0);
	files_end(txn);
	/* Whatever else changed, the tag says. */
	rec.factors[0].totp.secret[0] ^= 1;
	put_record(f, &rec);
	assert_int_equal(files_begin_unchanged(f->st, "alice", &tagged, &txn, &rec, &exists,
					       &f->err),
			 0);
	files_end(txn);
	assert_int_equal(record_new_tag(&rec), 0);
	put_record(f, &rec);
	assert_int_equal(files_begin_unchanged(f->st, "alice", &tagged, &txn, &rec, &exists,
					       &f->err),
			 -ESTALE);
	/* Removed and made anew: the tag of no record, not the old one. */
	assert_int_equal(files_begin(f->st, "alice", &txn, &rec, &exists, &f->err), 0);
	assert_int_equal(files_remove(txn, &f->err), 1);
	files_end(txn);
	assert_int_equal(files_begin_unchanged(f->st, "alice", &tagged, &txn, &rec, &exists,
					       &f->err),
			 -ESTALE);
	/* NULL: no basis, files_begin(). */
	assert_int_equal(files_begin_unchanged(f->st, "alice", NULL, &txn, &rec, &exists, &f->err),
			 0);
	files_end(txn);
	record_wipe(&rec);
}

/* A lock held by a stopped process costs a waiter a bounded wait, then an
 * error that says so. */
static void test_lock_wait_bounded(void **state)
{
	struct fixture *f = *state;
	struct files_txn *txn = NULL;
	int status;
	pid_t pid;

	assert_int_equal(files_lock(f->st, "alice", &txn, &f->err), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct files_store *st = NULL;
		struct files_txn *t2 = NULL;
		struct mfa_error e2;
		struct timespec a, b;
		double waited;
		int r;

		if (files_open(f->dir, STORE_READ_ONLY, &st, &e2) != 0)
			_exit(10);
		(void)clock_gettime(CLOCK_MONOTONIC, &a);
		r = files_lock(st, "alice", &t2, &e2);
		(void)clock_gettime(CLOCK_MONOTONIC, &b);
		waited = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
		if (r != -ETIMEDOUT || strstr(e2.msg, "still locked") == NULL)
			_exit(11);
		_exit(waited >= STORE_LOCK_WAIT_SECONDS && waited < STORE_LOCK_WAIT_SECONDS + 3 ?
			      0 :
			      12);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	files_end(txn);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* Once it is given back, the next one takes it at once. */
	assert_int_equal(files_lock(f->st, "alice", &txn, &f->err), 0);
	files_end(txn);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_begin_unchanged, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_lock_wait_bounded, setup_open, teardown),
		cmocka_unit_test(test_record_round_trip),
		cmocka_unit_test(test_record_text_fields),
		cmocka_unit_test(test_record_format_nobufs),
		cmocka_unit_test(test_record_truncations),
		cmocka_unit_test(test_record_edits_refused),
		cmocka_unit_test(test_record_edits_accepted),
		cmocka_unit_test(test_record_factors_max),
		cmocka_unit_test(test_record_recovery_max),
		cmocka_unit_test(test_record_factor_list),
		cmocka_unit_test(test_factor_label_valid),
		cmocka_unit_test(test_record_version_4_read),
		cmocka_unit_test(test_record_older_versions_read),
		cmocka_unit_test(test_record_missing_lines),
		cmocka_unit_test(test_record_misc_refused),
		cmocka_unit_test_setup_teardown(test_open_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_create_umask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_refuses_bad_dirs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_begin_commit_load, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_commit_other_user_refused, setup_open,
						teardown),
		cmocka_unit_test_setup_teardown(test_load_refuses_bad_files, setup_open, teardown),
		cmocka_unit_test(test_crc32_is_zlibs),
		cmocka_unit_test_setup_teardown(test_slots_in_place, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_largest_record_fits, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_slots_grow, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_remove, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_lock_and_remove_corrupt, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_list, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_scan_kinds, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_user_names, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_increments, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_remove_while_waiting, setup_open, teardown),
		cmocka_unit_test_setup_teardown(test_lock_excludes_begin, setup_open, teardown),
	};
	int r = unit_preflight();

	if (r != 0)
		return r;
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
