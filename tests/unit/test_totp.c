/* Unit tests for totp.c: RFC 6238 vectors, the verification window and
 * replay rule, strict base32, and the otpauth:// URI. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "totp.h"

static const unsigned char key20[] = "12345678901234567890";
static const unsigned char key32[] = "12345678901234567890123456789012";
static const unsigned char key64[] =
	"1234567890123456789012345678901234567890123456789012345678901234";
static const unsigned char other_key[] = "abcdefghijklmnopqrst";

/* RFC 6238 appendix B. */
static const struct {
	int64_t time;
	enum totp_algorithm alg;
	const char *code;
} rfc6238[] = {
	{ 59, TOTP_SHA1, "94287082" },
	{ 59, TOTP_SHA256, "46119246" },
	{ 59, TOTP_SHA512, "90693936" },
	{ 1111111109, TOTP_SHA1, "07081804" },
	{ 1111111109, TOTP_SHA256, "68084774" },
	{ 1111111109, TOTP_SHA512, "25091201" },
	{ 1111111111, TOTP_SHA1, "14050471" },
	{ 1111111111, TOTP_SHA256, "67062674" },
	{ 1111111111, TOTP_SHA512, "99943326" },
	{ 1234567890, TOTP_SHA1, "89005924" },
	{ 1234567890, TOTP_SHA256, "91819424" },
	{ 1234567890, TOTP_SHA512, "93441116" },
	{ 2000000000, TOTP_SHA1, "69279037" },
	{ 2000000000, TOTP_SHA256, "90698825" },
	{ 2000000000, TOTP_SHA512, "38618901" },
	{ INT64_C(20000000000), TOTP_SHA1, "65353130" },
	{ INT64_C(20000000000), TOTP_SHA256, "77737706" },
	{ INT64_C(20000000000), TOTP_SHA512, "47863826" },
};

static const unsigned char *rfc_key(enum totp_algorithm alg, size_t *len)
{
	switch (alg) {
	case TOTP_SHA256: *len = 32; return key32;
	case TOTP_SHA512: *len = 64; return key64;
	case TOTP_SHA1: break;
	}
	*len = 20;
	return key20;
}

static void test_rfc6238_vectors(void **state)
{
	(void)state;
	assert_int_equal(sizeof(key20) - 1, 20);
	assert_int_equal(sizeof(key32) - 1, 32);
	assert_int_equal(sizeof(key64) - 1, 64);
	for (size_t i = 0; i < sizeof(rfc6238) / sizeof(rfc6238[0]); i++) {
		struct totp_params p = { rfc6238[i].alg, 8, 30 };
		char out[TOTP_DIGITS_MAX + 1];
		size_t len;
		const unsigned char *key = rfc_key(rfc6238[i].alg, &len);

		memset(out, 'x', sizeof(out));
		assert_int_equal(totp_code_for_step(key, len, &p, (uint64_t)rfc6238[i].time / 30,
						    out),
				 0);
		if (strcmp(out, rfc6238[i].code) != 0)
			fail_msg("vector %zu (T=%lld, %s): got %s, expected %s", i,
				 (long long)rfc6238[i].time, totp_algorithm_name(rfc6238[i].alg),
				 out, rfc6238[i].code);
		/* totp_step_at() must agree with the RFC's T = floor(time / 30). */
		assert_int_equal(totp_step_at(&p, (time_t)rfc6238[i].time),
				 (uint64_t)rfc6238[i].time / 30);
	}
}

/* A 6-digit code is the 8-digit code's dynamic truncation mod 10^6. */
static void test_six_digits_truncate(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rfc6238) / sizeof(rfc6238[0]); i++) {
		struct totp_params p = { rfc6238[i].alg, 6, 30 };
		char out[TOTP_DIGITS_MAX + 1];
		size_t len;
		const unsigned char *key = rfc_key(rfc6238[i].alg, &len);

		assert_int_equal(totp_code_for_step(key, len, &p, (uint64_t)rfc6238[i].time / 30,
						    out),
				 0);
		assert_string_equal(out, rfc6238[i].code + 2);
	}
}

static void test_code_bad_params(void **state)
{
	char out[32];
	struct totp_params p5 = { TOTP_SHA1, 5, 30 };
	struct totp_params p9 = { TOTP_SHA1, 9, 30 };
	struct totp_params p0 = { TOTP_SHA1, 6, 0 };
	struct totp_params ok = { TOTP_SHA1, 6, 30 };

	(void)state;
	assert_true(totp_code_for_step(key20, 20, &p5, 1, out) < 0);
	assert_true(totp_code_for_step(key20, 20, &p9, 1, out) < 0);
	assert_true(totp_code_for_step(key20, 20, &p0, 1, out) < 0);
	/* A step whose time does not fit time_t must not wrap around. */
	assert_true(totp_code_for_step(key20, 20, &ok, UINT64_MAX, out) < 0);
}

static void test_algorithm_names(void **state)
{
	enum totp_algorithm a;

	(void)state;
	assert_int_equal(totp_algorithm_parse("sha1", &a), 0);
	assert_int_equal(a, TOTP_SHA1);
	assert_int_equal(totp_algorithm_parse("sha256", &a), 0);
	assert_int_equal(a, TOTP_SHA256);
	assert_int_equal(totp_algorithm_parse("sha512", &a), 0);
	assert_int_equal(a, TOTP_SHA512);
	assert_int_equal(totp_algorithm_parse("md5", &a), -EINVAL);
	assert_int_equal(totp_algorithm_parse("", &a), -EINVAL);
	assert_int_equal(totp_algorithm_parse("sha1 ", &a), -EINVAL);
	assert_string_equal(totp_algorithm_name(TOTP_SHA1), "sha1");
	assert_string_equal(totp_algorithm_name(TOTP_SHA256), "sha256");
	assert_string_equal(totp_algorithm_name(TOTP_SHA512), "sha512");
	assert_int_equal(totp_secret_length(TOTP_SHA1), 20);
	assert_int_equal(totp_secret_length(TOTP_SHA256), 32);
	assert_int_equal(totp_secret_length(TOTP_SHA512), 64);
}

/* ---- totp_verify ---- */

static const struct totp_params vp = { TOTP_SHA1, 6, 30 };
#define VNOW ((time_t)1111111111)

static void code_at(int64_t step_offset, char *out)
{
	uint64_t step = totp_step_at(&vp, VNOW) + (uint64_t)step_offset;

	assert_int_equal(totp_code_for_step(key20, 20, &vp, step, out), 0);
}

static void test_verify_window(void **state)
{
	uint64_t now_step = totp_step_at(&vp, VNOW), matched;
	char code[TOTP_DIGITS_MAX + 1];

	(void)state;
	for (int64_t off = -1; off <= 1; off++) {
		code_at(off, code);
		matched = 0;
		assert_int_equal(totp_verify(key20, 20, &vp, code, VNOW, 1, 0, &matched), 1);
		assert_int_equal(matched, now_step + (uint64_t)off);
	}
	/* The last second of a step and the first of the next. */
	code_at(0, code);
	assert_int_equal(totp_verify(key20, 20, &vp, code, (time_t)(now_step * 30 + 29), 0, 0,
				     &matched),
			 1);
	assert_int_equal(totp_verify(key20, 20, &vp, code, (time_t)(now_step * 30 + 30), 0, 0,
				     &matched),
			 -1);
	/* Outside the window. */
	code_at(-2, code);
	assert_int_equal(totp_verify(key20, 20, &vp, code, VNOW, 1, 0, &matched), -1);
	code_at(2, code);
	assert_int_equal(totp_verify(key20, 20, &vp, code, VNOW, 1, 0, &matched), -1);
	/* Window 0 means the current step only. */
	code_at(1, code);
	assert_int_equal(totp_verify(key20, 20, &vp, code, VNOW, 0, 0, &matched), -1);
	code_at(0, code);
	assert_int_equal(totp_verify(key20, 20, &vp, code, VNOW, 0, 0, &matched), 1);
	/* A wider window reaches further. */
	code_at(-3, code);
	assert_int_equal(totp_verify(key20, 20, &vp, code, VNOW, 3, 0, &matched), 1);
	assert_int_equal(matched, now_step - 3);
	/* The wrong key does not verify. */
	code_at(0, code);
	assert_int_equal(totp_verify(other_key, 20, &vp, code, VNOW, 1, 0, &matched), -1);
}

static void test_verify_replay(void **state)
{
	uint64_t now_step = totp_step_at(&vp, VNOW), matched;
	char code[TOTP_DIGITS_MAX + 1];

	(void)state;
	/* The code of the last accepted step is a replay. */
	code_at(0, code);
	matched = 0;
	assert_int_equal(totp_verify(key20, 20, &vp, code, VNOW, 1, now_step, &matched), 0);
	assert_int_equal(matched, now_step);
	/* So is an older step inside the window. */
	code_at(-1, code);
	assert_int_equal(totp_verify(key20, 20, &vp, code, VNOW, 1, now_step, &matched), 0);
	assert_int_equal(matched, now_step - 1);
	/* A newer step is accepted. */
	code_at(1, code);
	assert_int_equal(totp_verify(key20, 20, &vp, code, VNOW, 1, now_step, &matched), 1);
	assert_int_equal(matched, now_step + 1);
	/* after_step just before the matching step: fresh. */
	code_at(0, code);
	assert_int_equal(totp_verify(key20, 20, &vp, code, VNOW, 1, now_step - 1, &matched), 1);
	assert_int_equal(matched, now_step);
	/* after_step in the future (a clock that went back): everything is old. */
	assert_int_equal(totp_verify(key20, 20, &vp, code, VNOW, 1, now_step + 5, &matched), 0);
}

static void test_verify_malformed(void **state)
{
	static const char *const bad[] = {
		"",	  "1",	    "12345",  "1234567", "12345a",	 "a12345",   " 12345",
		"12345 ", "+12345", "-12345", "12 345",	 "１２３４５６", "123456\n", "0x1234",
	};
	char code[TOTP_DIGITS_MAX + 1], longer[TOTP_DIGITS_MAX + 2];
	uint64_t matched;

	(void)state;
	assert_int_equal(totp_verify(key20, 20, &vp, NULL, VNOW, 1, 0, &matched), -1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (totp_verify(key20, 20, &vp, bad[i], VNOW, 1, 0, &matched) != -1)
			fail_msg("accepted malformed code \"%s\"", bad[i]);
	/* The right code with anything after it. */
	code_at(0, code);
	(void)snprintf(longer, sizeof(longer), "%s0", code);
	assert_int_equal(totp_verify(key20, 20, &vp, longer, VNOW, 1, 0, &matched), -1);
	/* Only its prefix. */
	code[5] = '\0';
	assert_int_equal(totp_verify(key20, 20, &vp, code, VNOW, 1, 0, &matched), -1);
}

/* 8 digits and SHA-256, from the RFC vectors: verify agrees with them. */
static void test_verify_rfc_vector(void **state)
{
	struct totp_params p = { TOTP_SHA256, 8, 30 };
	uint64_t matched;

	(void)state;
	assert_int_equal(totp_verify(key32, 32, &p, "67062674", 1111111111, 0, 0, &matched), 1);
	assert_int_equal(matched, 1111111111 / 30);
	/* The code of 1111111109 is one step earlier. */
	assert_int_equal(totp_verify(key32, 32, &p, "68084774", 1111111111, 1, 0, &matched), 1);
	assert_int_equal(matched, 1111111109 / 30);
	assert_int_equal(totp_verify(key32, 32, &p, "68084774", 1111111111, 0, 0, &matched), -1);
}

/* ---- base32 ---- */

static void test_base32_rfc4648(void **state)
{
	static const struct {
		const char *plain, *b32;
	} v[] = {
		{ "", "" },
		{ "f", "MY" },
		{ "fo", "MZXQ" },
		{ "foo", "MZXW6" },
		{ "foob", "MZXW6YQ" },
		{ "fooba", "MZXW6YTB" },
		{ "foobar", "MZXW6YTBOI" },
	};
	char enc[64];
	unsigned char dec[64];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = strlen(v[i].plain);

		base32_encode((const unsigned char *)v[i].plain, n, enc);
		assert_string_equal(enc, v[i].b32);
		assert_int_equal(base32_decode(v[i].b32, dec, sizeof(dec)), (int)n);
		assert_memory_equal(dec, v[i].plain, n);
	}
	assert_int_equal(base32_decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", dec, sizeof(dec)), 20);
	assert_memory_equal(dec, key20, 20);
}

static void test_base32_round_trip(void **state)
{
	unsigned char in[64], out[64];
	char enc[TOTP_SECRET_B32_MAX + 1 + 8];
	uint32_t x = 0x12345678;

	(void)state;
	for (size_t len = 0; len <= 64; len++) {
		for (int pattern = 0; pattern < 3; pattern++) {
			unsigned char *exact;

			for (size_t i = 0; i < len; i++) {
				x = x * 1103515245u + 12345u;
				in[i] = pattern == 0 ? 0x00 :
					pattern == 1 ? 0xff :
						       (unsigned char)(x >> 16);
			}
			memset(enc, '#', sizeof(enc));
			base32_encode(in, len, enc);
			assert_int_equal(strlen(enc), (len * 8 + 4) / 5);
			assert_int_equal(strspn(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
					 strlen(enc));
			/* An exactly sized output buffer, so that ASan sees any overrun. */
			exact = malloc(len ? len : 1);
			assert_non_null(exact);
			assert_int_equal(base32_decode(enc, exact, len), (int)len);
			assert_memory_equal(exact, in, len);
			free(exact);
			if (len > 0)
				assert_int_equal(base32_decode(enc, out, len - 1), -ENOBUFS);
		}
	}
}

static void test_base32_strict(void **state)
{
	static const char *const bad[] = {
		"MY======",				       /* padding */
		"MZXW6===",  "MZXW6YQ=", "=",	      "M1",    /* not in the alphabet */
		"M8",	     "M0",	 "M9",	      "MZ XW", /* spaces */
		" MZXQ",     "MZXQ ",	 "MZXQ\n",    "MZ-XQ",
		"M\xc3\x9c", /* non-ASCII */
		"MZ",	     /* non-canonical: the unused trailing bits are set */
		"MZXR",	     "MZXW7",	 "MZXW6YR",   "MZXW6YTBOJ",
		"M", /* lengths that no byte count encodes to */
		"MZX",	     "MZXW6Y",	 "MZXW6YTBO",
	};
	unsigned char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = base32_decode(bad[i], out, sizeof(out));
		if (r != -EINVAL)
			fail_msg("base32_decode(\"%s\") = %d, expected -EINVAL", bad[i], r);
	}
}

static void test_base32_lower_case_and_nobufs(void **state)
{
	unsigned char out[64];

	(void)state;
	assert_int_equal(base32_decode("mzxw6ytboi", out, sizeof(out)), 6);
	assert_memory_equal(out, "foobar", 6);
	assert_int_equal(base32_decode("MzXw6YtBoI", out, sizeof(out)), 6);
	assert_memory_equal(out, "foobar", 6);
	/* 20 bytes do not fit in 19. */
	assert_int_equal(base32_decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", out, 19), -ENOBUFS);
	assert_int_equal(base32_decode("MY", out, 0), -ENOBUFS);
	assert_int_equal(base32_decode("", out, 0), 0);
}

/* ---- totp_uri ---- */

#define URI_EXAMPLE                                                                   \
	"otpauth://totp/Example%20Corp:a%40b?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" \
	"&issuer=Example%20Corp&algorithm=SHA256&digits=6&period=30"

static void test_uri_example(void **state)
{
	struct totp_params p = { TOTP_SHA256, 6, 30 };
	char out[512];

	(void)state;
	assert_int_equal(totp_uri("Example Corp", "a@b", key20, 20, &p, out, sizeof(out)), 0);
	assert_string_equal(out, URI_EXAMPLE);
}

static void test_uri_params(void **state)
{
	struct totp_params p1 = { TOTP_SHA1, 8, 60 };
	struct totp_params p512 = { TOTP_SHA512, 7, 45 };
	char out[1024];

	(void)state;
	assert_int_equal(totp_uri("pam_mfa", "alice", key20, 20, &p1, out, sizeof(out)), 0);
	assert_string_equal(out,
			    "otpauth://totp/pam_mfa:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
			    "&issuer=pam_mfa&algorithm=SHA1&digits=8&period=60");
	assert_int_equal(totp_uri("i", "u", key64, 64, &p512, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "&algorithm=SHA512&digits=7&period=45"));
	assert_non_null(strstr(out, "?secret=GEZDGNBVGY3TQOJQ"));
	assert_int_equal(strlen(strstr(out, "?secret=") + 8) - strlen(strstr(out, "&issuer=")),
			 (64 * 8 + 4) / 5);
}

static void test_uri_escaping(void **state)
{
	struct totp_params p = { TOTP_SHA1, 6, 30 };
	char out[1024];

	(void)state;
	/* Everything but RFC 3986 unreserved characters is escaped; in
	 * particular the separators of the URI itself and of the label. */
	assert_int_equal(totp_uri("A&B=C?D#E/F:G+H%I", "x y\xc3\xbc~._-Z9", key20, 20, &p, out,
				  sizeof(out)),
			 0);
	assert_string_equal(out, "otpauth://totp/"
				 "A%26B%3DC%3FD%23E%2FF%3AG%2BH%25I:x%20y%C3%BC~._-Z9"
				 "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
				 "&issuer=A%26B%3DC%3FD%23E%2FF%3AG%2BH%25I"
				 "&algorithm=SHA1&digits=6&period=30");
}

static void test_account_label(void **state)
{
	char host[256] = "", want[512], out[512];

	(void)state;
	/* A factor kept on this host names the host; one kept in a store the
	 * fleet shares serves every host, so it names the user alone. */
	assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
	(void)snprintf(want, sizeof(want), "alice@%s", host);
	totp_account_label("alice", false, out, sizeof(out));
	assert_string_equal(out, want);
	totp_account_label("alice", true, out, sizeof(out));
	assert_string_equal(out, "alice");
	/* Truncated, never overrun. */
	totp_account_label("alice", true, out, 3);
	assert_string_equal(out, "al");
}

static void test_uri_nobufs(void **state)
{
	struct totp_params p = { TOTP_SHA256, 6, 30 };
	size_t need = strlen(URI_EXAMPLE) + 1;

	(void)state;
	/* Every buffer too small by any amount is refused without overrun
	 * (each is exactly sized on the heap, for ASan). */
	for (size_t outlen = 1; outlen < need; outlen++) {
		char *out = malloc(outlen);
		int r;

		assert_non_null(out);
		r = totp_uri("Example Corp", "a@b", key20, 20, &p, out, outlen);
		if (r != -ENOBUFS)
			fail_msg("outlen %zu: got %d, expected -ENOBUFS", outlen, r);
		free(out);
	}
	{
		char *out = malloc(need);

		assert_non_null(out);
		assert_int_equal(totp_uri("Example Corp", "a@b", key20, 20, &p, out, need), 0);
		assert_string_equal(out, URI_EXAMPLE);
		free(out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc6238_vectors),
		cmocka_unit_test(test_six_digits_truncate),
		cmocka_unit_test(test_code_bad_params),
		cmocka_unit_test(test_algorithm_names),
		cmocka_unit_test(test_verify_window),
		cmocka_unit_test(test_verify_replay),
		cmocka_unit_test(test_verify_malformed),
		cmocka_unit_test(test_verify_rfc_vector),
		cmocka_unit_test(test_base32_rfc4648),
		cmocka_unit_test(test_base32_round_trip),
		cmocka_unit_test(test_base32_strict),
		cmocka_unit_test(test_base32_lower_case_and_nobufs),
		cmocka_unit_test(test_uri_example),
		cmocka_unit_test(test_uri_params),
		cmocka_unit_test(test_uri_escaping),
		cmocka_unit_test(test_uri_nobufs),
		cmocka_unit_test(test_account_label),
	};

	return cmocka_run_group_tests_name("totp", tests, NULL, NULL);
}
