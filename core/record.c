/* A user's record: what the state keeps of one user (factors, lockout,
 * last login, skip, email code), and its text format (pam_mfa.conf(5),
 * STATE RECORDS), parsed strictly.  Backends store it; nothing here knows
 * of files or locks. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "secmem.h"

enum rec_key {
	K_VERSION,
	K_USER,
	K_TOTP_SECRET,
	K_TOTP_ALGORITHM,
	K_TOTP_DIGITS,
	K_TOTP_PERIOD,
	K_TOTP_ENROLLED,
	K_TOTP_LAST_STEP,
	K_FAIL_COUNT,
	K_FAIL_SINCE,
	K_LOCK_UNTIL,
	K_LOGIN_TIME,
	K_LOGIN_SERVICE,
	K_LOGIN_RHOST,
	K_SKIP_SINCE,
	K_EMAIL_ADDRESS,
	K_EMAIL_VERIFIED,
	K_EMAIL_ENROLLED,
	K_EMAIL_CODE,
	K_EMAIL_CODE_EXPIRES,
	K_EMAIL_CODE_SENT,
	K_EMAIL_BY_ADMIN,
	K_EMAIL_ENROLL_MAILS,
	K_EMAIL_ENROLL_MAILS_SINCE,
	K_EMAIL_CODE_BOOKED,
	K_COUNT
};

static const char *const rec_key_names[K_COUNT] = {
	[K_VERSION] = "version",
	[K_USER] = "user",
	[K_TOTP_SECRET] = "totp.secret",
	[K_TOTP_ALGORITHM] = "totp.algorithm",
	[K_TOTP_DIGITS] = "totp.digits",
	[K_TOTP_PERIOD] = "totp.period",
	[K_TOTP_ENROLLED] = "totp.enrolled_at",
	[K_TOTP_LAST_STEP] = "totp.last_step",
	[K_FAIL_COUNT] = "fail.count",
	[K_FAIL_SINCE] = "fail.since",
	[K_LOCK_UNTIL] = "lock.until",
	[K_LOGIN_TIME] = "login.time",
	[K_LOGIN_SERVICE] = "login.service",
	[K_LOGIN_RHOST] = "login.rhost",
	[K_SKIP_SINCE] = "skip.since",
	[K_EMAIL_ADDRESS] = "email.address",
	[K_EMAIL_VERIFIED] = "email.verified",
	[K_EMAIL_ENROLLED] = "email.enrolled_at",
	[K_EMAIL_CODE] = "email.code",
	[K_EMAIL_CODE_EXPIRES] = "email.code_expires",
	[K_EMAIL_CODE_SENT] = "email.code_sent",
	[K_EMAIL_BY_ADMIN] = "email.by_admin",
	[K_EMAIL_ENROLL_MAILS] = "email.enroll_mails",
	[K_EMAIL_ENROLL_MAILS_SINCE] = "email.enroll_mails_since",
	[K_EMAIL_CODE_BOOKED] = "email.code_booked",
};

/* Times are seconds since the epoch, bounded well inside int64_t. */
#define TIME_MAX UINT64_C(253402300799) /* 9999-12-31 */

void record_init(struct mfa_record *rec, const char *user)
{
	memset(rec, 0, sizeof(*rec));
	if (user != NULL)
		(void)snprintf(rec->user, sizeof(rec->user), "%s", user);
}

unsigned record_methods(const struct mfa_record *rec)
{
	return (rec->totp.enrolled ? METHOD_TOTP : 0u) | (rec->email.verified ? METHOD_EMAIL : 0u);
}

void record_factors_take(const struct mfa_record *rec, struct record_factors *out)
{
	memset(out, 0, sizeof(*out));
	out->methods = record_methods(rec);
	if (rec->totp.enrolled) {
		memcpy(out->totp_secret, rec->totp.secret, rec->totp.secret_len);
		out->totp_secret_len = rec->totp.secret_len;
		out->totp_enrolled_at = rec->totp.enrolled_at;
	}
	if (rec->email.verified) {
		memcpy(out->email_address, rec->email.address, sizeof(out->email_address));
		out->email_enrolled_at = rec->email.enrolled_at;
	}
}

bool record_factors_equal(const struct record_factors *a, const struct record_factors *b)
{
	return a->methods == b->methods && a->totp_secret_len == b->totp_secret_len &&
	       a->totp_enrolled_at == b->totp_enrolled_at &&
	       consttime_equal(a->totp_secret, b->totp_secret, sizeof(a->totp_secret)) &&
	       a->email_enrolled_at == b->email_enrolled_at &&
	       strcmp(a->email_address, b->email_address) == 0;
}

bool record_factors_held(const struct record_factors *basis, const struct mfa_record *rec)
{
	struct record_factors now;
	bool same;

	record_factors_take(rec, &now);
	same = record_factors_equal(&now, basis);
	record_factors_wipe(&now);
	return same;
}

void record_factors_wipe(struct record_factors *f)
{
	secure_wipe(f, sizeof(*f));
}

void record_wipe(struct mfa_record *rec)
{
	secure_wipe(rec, sizeof(*rec));
}

void record_set_text(char *field, const char *value)
{
	sanitize_printable(value, field, STORE_TEXT_MAX + 1);
}

static bool value_printable(const char *v, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
			return false;
	return true;
}

static int parse_number(const char *v, uint64_t max, uint64_t *out, const char *key,
			struct mfa_error *err)
{
	if (parse_u64(v, max, out) < 0) {
		mfa_error_set(err, "%s: not a number in range", key);
		return -EINVAL;
	}
	return 0;
}

static int hex_decode(const char *hex, unsigned char *out, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned v = 0;
		for (int j = 0; j < 2; j++) {
			char c = hex[2 * i + (size_t)j];
			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else
				return -EINVAL;
		}
		out[i] = (unsigned char)v;
	}
	return hex[2 * len] == '\0' ? 0 : -EINVAL;
}

static void hex_encode(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

/* email.code is "SALT:HASH" in lower-case hex, or empty for no code. */
static int parse_email(char values[K_COUNT][STORE_TEXT_MAX + 1], struct mfa_email *e,
		       struct mfa_error *err)
{
	const char *code = values[K_EMAIL_CODE];
	uint64_t n;

	if (values[K_EMAIL_ADDRESS][0] != '\0' && !email_address_valid(values[K_EMAIL_ADDRESS])) {
		mfa_error_set(err, "email.address: not a valid address");
		return -EINVAL;
	}
	memcpy(e->address, values[K_EMAIL_ADDRESS], strlen(values[K_EMAIL_ADDRESS]) + 1);
	if (parse_number(values[K_EMAIL_VERIFIED], 1, &n, "email.verified", err) < 0)
		return -EINVAL;
	e->verified = n == 1;
	if (e->verified && e->address[0] == '\0') {
		mfa_error_set(err, "email.verified: set without an address");
		return -EINVAL;
	}
	if (parse_number(values[K_EMAIL_ENROLLED], TIME_MAX, &n, "email.enrolled_at", err) < 0)
		return -EINVAL;
	e->enrolled_at = (int64_t)n;
	if (code[0] != '\0') {
		if (strlen(code) != 2 * EMAIL_SALT_LEN + 1 + 2 * EMAIL_HASH_LEN ||
		    code[2 * EMAIL_SALT_LEN] != ':') {
			mfa_error_set(err, "email.code: malformed");
			return -EINVAL;
		}
		char salt[2 * EMAIL_SALT_LEN + 1];
		memcpy(salt, code, 2 * EMAIL_SALT_LEN);
		salt[2 * EMAIL_SALT_LEN] = '\0';
		if (hex_decode(salt, e->code_salt, EMAIL_SALT_LEN) < 0 ||
		    hex_decode(code + 2 * EMAIL_SALT_LEN + 1, e->code_hash, EMAIL_HASH_LEN) < 0) {
			mfa_error_set(err, "email.code: malformed");
			return -EINVAL;
		}
		if (e->address[0] == '\0') {
			mfa_error_set(err, "email.code: a code without an address");
			return -EINVAL;
		}
		e->code_pending = true;
	}
	if (parse_number(values[K_EMAIL_CODE_EXPIRES], TIME_MAX, &n, "email.code_expires", err) < 0)
		return -EINVAL;
	e->code_expires = (int64_t)n;
	if (parse_number(values[K_EMAIL_CODE_SENT], TIME_MAX, &n, "email.code_sent", err) < 0)
		return -EINVAL;
	e->code_sent = (int64_t)n;
	return 0;
}

/* Version 4: who set the address, and the enrollment mails counted. */
static int parse_email_v4(char values[K_COUNT][STORE_TEXT_MAX + 1], struct mfa_email *e,
			  struct mfa_error *err)
{
	uint64_t n;

	if (parse_number(values[K_EMAIL_BY_ADMIN], 1, &n, "email.by_admin", err) < 0)
		return -EINVAL;
	e->by_admin = n == 1;
	if (e->by_admin && e->address[0] == '\0') {
		mfa_error_set(err, "email.by_admin: set without an address");
		return -EINVAL;
	}
	if (parse_number(values[K_EMAIL_ENROLL_MAILS], 1000000, &n, "email.enroll_mails", err) < 0)
		return -EINVAL;
	e->enroll_mails = (unsigned)n;
	if (parse_number(values[K_EMAIL_ENROLL_MAILS_SINCE], TIME_MAX, &n,
			 "email.enroll_mails_since", err) < 0)
		return -EINVAL;
	e->enroll_mails_since = (int64_t)n;
	if (parse_number(values[K_EMAIL_CODE_BOOKED], TIME_MAX, &n, "email.code_booked", err) < 0)
		return -EINVAL;
	e->code_booked = (int64_t)n;
	return 0;
}

/* The index of the key of line (1-based) in rec_key_names, or K_COUNT. */
static int find_key(const char *key, size_t klen, unsigned line)
{
	/* Records are written in key order: try the line's own key first (a
	 * listing parses 100,000 of them). */
	int k = (int)line - 1;

	if (k < K_COUNT && strlen(rec_key_names[k]) == klen &&
	    memcmp(rec_key_names[k], key, klen) == 0)
		return k;
	for (k = 0; k < K_COUNT; k++)
		if (strlen(rec_key_names[k]) == klen && memcmp(rec_key_names[k], key, klen) == 0)
			break;
	return k;
}

/* Splits the text into its key=value lines, which must end with "end",
 * each key known and given once, the version first: values[k] is key k's
 * value if seen[k]. */
static int split_lines(const char *buf, size_t len, char values[K_COUNT][STORE_TEXT_MAX + 1],
		       bool seen[K_COUNT], struct mfa_error *err)
{
	const char *p = buf, *end = buf + len;
	unsigned line = 0;

	if (len < 4 || memcmp(end - 4, "end\n", 4) != 0 || (len > 4 && end[-5] != '\n')) {
		mfa_error_set(err, "record is truncated (no final \"end\" line)");
		return -EINVAL;
	}
	end -= 4;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eq;
		size_t klen, vlen;
		int k;

		line++;
		if (nl == NULL) {
			mfa_error_set(err, "line %u: not terminated", line);
			return -EINVAL;
		}
		eq = memchr(p, '=', (size_t)(nl - p));
		if (eq == NULL) {
			mfa_error_set(err, "line %u: expected key=value", line);
			return -EINVAL;
		}
		klen = (size_t)(eq - p);
		vlen = (size_t)(nl - eq - 1);
		k = find_key(p, klen, line);
		if (k == K_COUNT) {
			mfa_error_set(err, "line %u: unknown key", line);
			return -EINVAL;
		}
		if (seen[k]) {
			mfa_error_set(err, "line %u: %s given twice", line, rec_key_names[k]);
			return -EINVAL;
		}
		if ((k == K_VERSION) != (line == 1)) {
			mfa_error_set(err, "line %u: the version must come first, and only there",
				      line);
			return -EINVAL;
		}
		if (vlen > STORE_TEXT_MAX || !value_printable(eq + 1, vlen)) {
			mfa_error_set(err, "line %u: %s: value too long or not printable", line,
				      rec_key_names[k]);
			return -EINVAL;
		}
		seen[k] = true;
		memcpy(values[k], eq + 1, vlen);
		values[k][vlen] = '\0';
		p = nl + 1;
	}
	return 0;
}

/* The record's version, and that it has exactly the keys of that version:
 * the totp keys all or none. */
static int check_keys(char values[K_COUNT][STORE_TEXT_MAX + 1], const bool seen[K_COUNT],
		      unsigned *version, struct mfa_error *err)
{
	uint64_t n;

	if (!seen[K_VERSION]) {
		mfa_error_set(err, "no version line");
		return -EINVAL;
	}
	if (parse_u64(values[K_VERSION], UINT32_MAX, &n) < 0 || n < 1 || n > STORE_RECORD_VERSION) {
		mfa_error_set(err, "unsupported record version \"%s\" (this build reads 1 to %d)",
			      values[K_VERSION], STORE_RECORD_VERSION);
		return -EINVAL;
	}
	*version = (unsigned)n;
	for (int k = 0; k < K_COUNT; k++) {
		bool totp_key = k >= K_TOTP_SECRET && k <= K_TOTP_LAST_STEP;
		/* Keys a version does not have must be absent. */
		bool in_version = k < K_SKIP_SINCE || (k == K_SKIP_SINCE && *version >= 2) ||
				  (k >= K_EMAIL_ADDRESS && k < K_EMAIL_BY_ADMIN && *version >= 3) ||
				  (k >= K_EMAIL_BY_ADMIN && *version >= 4);

		if (!in_version && seen[k]) {
			mfa_error_set(err, "%s is not part of version %u records", rec_key_names[k],
				      *version);
			return -EINVAL;
		}
		if (!totp_key && in_version && !seen[k]) {
			mfa_error_set(err, "missing %s", rec_key_names[k]);
			return -EINVAL;
		}
		if (totp_key && seen[k] != seen[K_TOTP_SECRET]) {
			mfa_error_set(err, "incomplete totp entry (%s)", rec_key_names[k]);
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_totp(char values[K_COUNT][STORE_TEXT_MAX + 1], struct mfa_totp *t,
		      struct mfa_error *err)
{
	uint64_t n;
	int slen;

	if (totp_algorithm_parse(values[K_TOTP_ALGORITHM], &t->params.algorithm) < 0) {
		mfa_error_set(err, "totp.algorithm: unknown algorithm");
		return -EINVAL;
	}
	if (parse_number(values[K_TOTP_DIGITS], TOTP_DIGITS_MAX, &n, "totp.digits", err) < 0 ||
	    n < TOTP_DIGITS_MIN) {
		mfa_error_set(err, "totp.digits: out of range");
		return -EINVAL;
	}
	t->params.digits = (unsigned)n;
	if (parse_number(values[K_TOTP_PERIOD], 300, &n, "totp.period", err) < 0 || n < 10) {
		mfa_error_set(err, "totp.period: out of range");
		return -EINVAL;
	}
	t->params.period = (unsigned)n;
	if (parse_number(values[K_TOTP_ENROLLED], TIME_MAX, &n, "totp.enrolled_at", err) < 0)
		return -EINVAL;
	t->enrolled_at = (int64_t)n;
	if (parse_number(values[K_TOTP_LAST_STEP], TIME_MAX, &t->last_step, "totp.last_step", err) <
	    0)
		return -EINVAL;
	slen = base32_decode(values[K_TOTP_SECRET], t->secret, sizeof(t->secret));
	if (slen < TOTP_SECRET_MIN) {
		mfa_error_set(err, "totp.secret: not a valid secret");
		return -EINVAL;
	}
	t->secret_len = (size_t)slen;
	t->enrolled = true;
	return 0;
}

/* fail.* and lock.until: "admin" is a lock only an administrator lifts. */
static int parse_lockout(char values[K_COUNT][STORE_TEXT_MAX + 1], struct mfa_record *rec,
			 struct mfa_error *err)
{
	uint64_t n;

	if (parse_number(values[K_FAIL_COUNT], 1000000, &n, "fail.count", err) < 0)
		return -EINVAL;
	rec->fail_count = (unsigned)n;
	if (parse_number(values[K_FAIL_SINCE], TIME_MAX, &n, "fail.since", err) < 0)
		return -EINVAL;
	rec->fail_since = (int64_t)n;
	if (strcmp(values[K_LOCK_UNTIL], "admin") == 0) {
		rec->locked_until = -1;
	} else {
		if (parse_number(values[K_LOCK_UNTIL], TIME_MAX, &n, "lock.until", err) < 0)
			return -EINVAL;
		rec->locked_until = (int64_t)n;
	}
	return 0;
}

static int parse_login(char values[K_COUNT][STORE_TEXT_MAX + 1], struct mfa_record *rec,
		       struct mfa_error *err)
{
	uint64_t n;

	if (parse_number(values[K_LOGIN_TIME], TIME_MAX, &n, "login.time", err) < 0)
		return -EINVAL;
	rec->last_login = (int64_t)n;
	memcpy(rec->last_service, values[K_LOGIN_SERVICE], sizeof(rec->last_service));
	memcpy(rec->last_rhost, values[K_LOGIN_RHOST], sizeof(rec->last_rhost));
	return 0;
}

int record_parse(const char *buf, size_t len, const char *expected_user, struct mfa_record *rec,
		 struct mfa_error *err)
{
	char values[K_COUNT][STORE_TEXT_MAX + 1];
	bool seen[K_COUNT] = { false };
	unsigned version;
	uint64_t n;
	int r = -EINVAL;

	record_init(rec, NULL);
	memset(values, 0, sizeof(values));
	if (split_lines(buf, len, values, seen, err) < 0 ||
	    check_keys(values, seen, &version, err) < 0)
		goto out;
	if (!user_name_valid(values[K_USER]) ||
	    (expected_user != NULL && strcmp(values[K_USER], expected_user) != 0)) {
		mfa_error_set(err, "record names another user");
		goto out;
	}
	memcpy(rec->user, values[K_USER], strlen(values[K_USER]) + 1);
	if (seen[K_TOTP_SECRET] && parse_totp(values, &rec->totp, err) < 0)
		goto out;
	if (parse_lockout(values, rec, err) < 0 || parse_login(values, rec, err) < 0)
		goto out;
	if (version >= 2) {
		if (parse_number(values[K_SKIP_SINCE], TIME_MAX, &n, "skip.since", err) < 0)
			goto out;
		rec->skip_since = (int64_t)n;
	}
	if (version >= 3 && parse_email(values, &rec->email, err) < 0)
		goto out;
	if (version >= 4 && parse_email_v4(values, &rec->email, err) < 0)
		goto out;
	r = 0;
out:
	secure_wipe(values, sizeof(values));
	if (r < 0)
		record_wipe(rec);
	return r;
}

int record_format(const struct mfa_record *rec, char *buf, size_t buflen)
{
	char secret[TOTP_SECRET_B32_MAX + 1];
	char code[2 * EMAIL_SALT_LEN + 1 + 2 * EMAIL_HASH_LEN + 1];
	char lock[24];
	size_t pos = 0;
	int n;

	n = snprintf(buf, buflen, "version=%d\nuser=%s\n", STORE_RECORD_VERSION, rec->user);
	if (n < 0 || (size_t)n >= buflen)
		return -ENOBUFS;
	pos = (size_t)n;
	if (rec->totp.enrolled) {
		const struct mfa_totp *t = &rec->totp;

		base32_encode(t->secret, t->secret_len, secret);
		n = snprintf(buf + pos, buflen - pos,
			     "totp.secret=%s\ntotp.algorithm=%s\ntotp.digits=%u\n"
			     "totp.period=%u\ntotp.enrolled_at=%" PRId64 "\n"
			     "totp.last_step=%" PRIu64 "\n",
			     secret, totp_algorithm_name(t->params.algorithm), t->params.digits,
			     t->params.period, t->enrolled_at, t->last_step);
		secure_wipe(secret, sizeof(secret));
		if (n < 0 || (size_t)n >= buflen - pos)
			goto nobufs;
		pos += (size_t)n;
	}
	if (rec->locked_until < 0)
		(void)snprintf(lock, sizeof(lock), "admin");
	else
		(void)snprintf(lock, sizeof(lock), "%" PRId64, rec->locked_until);
	if (rec->email.code_pending) {
		hex_encode(rec->email.code_salt, EMAIL_SALT_LEN, code);
		code[2 * EMAIL_SALT_LEN] = ':';
		hex_encode(rec->email.code_hash, EMAIL_HASH_LEN, code + 2 * EMAIL_SALT_LEN + 1);
	} else {
		code[0] = '\0';
	}
	n = snprintf(buf + pos, buflen - pos,
		     "fail.count=%u\nfail.since=%" PRId64 "\nlock.until=%s\n"
		     "login.time=%" PRId64 "\nlogin.service=%s\nlogin.rhost=%s\n"
		     "skip.since=%" PRId64 "\n"
		     "email.address=%s\nemail.verified=%d\nemail.enrolled_at=%" PRId64 "\n"
		     "email.code=%s\nemail.code_expires=%" PRId64 "\nemail.code_sent=%" PRId64 "\n"
		     "email.by_admin=%d\nemail.enroll_mails=%u\nemail.enroll_mails_since=%" PRId64
		     "\nemail.code_booked=%" PRId64 "\n"
		     "end\n",
		     rec->fail_count, rec->fail_since, lock, rec->last_login, rec->last_service,
		     rec->last_rhost, rec->skip_since, rec->email.address,
		     rec->email.verified ? 1 : 0, rec->email.enrolled_at, code,
		     rec->email.code_expires, rec->email.code_sent, rec->email.by_admin ? 1 : 0,
		     rec->email.enroll_mails, rec->email.enroll_mails_since,
		     rec->email.code_booked);
	secure_wipe(code, sizeof(code));
	if (n < 0 || (size_t)n >= buflen - pos)
		goto nobufs;
	return (int)(pos + (size_t)n);
nobufs:
	secure_wipe(buf, buflen);
	return -ENOBUFS;
}
