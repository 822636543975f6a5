/* A user's record: what the state keeps of one user (factors, lockout,
 * last login, skip, the code sent, recovery and bypass codes), and its text
 * format (pam_mfa.conf(5), STATE RECORDS), parsed strictly.  Version 5
 * holds a list of factors, a line each, version 6 adds the recovery codes
 * (a line each), the bypass code and the last lockout notice; versions 1
 * to 4 (one app, one address) are still read and become the list.
 * Backends store it; nothing here knows of files or locks. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "code_hash.h"
#include "record.h"
#include "secmem.h"
#include "sms.h"

/* In the order version 6 writes them, which the parser tries first. */
enum rec_key {
	K_VERSION,
	K_USER,
	/* Versions 5 and 6. */
	K_TAG,
	K_NEXT_ID,
	K_FACTOR, /* repeated: one line per factor */
	K_CODE,
	K_CODE_EXPIRES,
	K_CODE_SENT,
	K_CODE_BOOKED,
	K_ENROLL_CODES,
	/* Every version (skip.since since 2). */
	K_FAIL_COUNT,
	K_FAIL_SINCE,
	K_LOCK_UNTIL,
	K_LOGIN_TIME,
	K_LOGIN_SERVICE,
	K_LOGIN_RHOST,
	K_SKIP_SINCE,
	/* Version 6. */
	K_RECOVERY,
	K_RECOVERY_CODE, /* repeated: one line per code of the set */
	K_BYPASS,
	K_LOCK_NOTICE,
	/* Versions 1 to 4: one app (all six or none), ... */
	K_TOTP_SECRET,
	K_TOTP_ALGORITHM,
	K_TOTP_DIGITS,
	K_TOTP_PERIOD,
	K_TOTP_ENROLLED,
	K_TOTP_LAST_STEP,
	/* ... one address (versions 3 and 4) ... */
	K_EMAIL_ADDRESS,
	K_EMAIL_VERIFIED,
	K_EMAIL_ENROLLED,
	K_EMAIL_CODE,
	K_EMAIL_CODE_EXPIRES,
	K_EMAIL_CODE_SENT,
	/* ... and who set it, the enrollment mails (version 4). */
	K_EMAIL_BY_ADMIN,
	K_EMAIL_ENROLL_MAILS,
	K_EMAIL_ENROLL_MAILS_SINCE,
	K_EMAIL_CODE_BOOKED,
	K_COUNT
};

/* The keys, with their lengths for the parser. */
#define KEY(k, name) [k] = { name, sizeof(name) - 1 }
static const struct {
	const char *name;
	size_t len;
} rec_keys[K_COUNT] = {
	KEY(K_VERSION, "version"),
	KEY(K_USER, "user"),
	KEY(K_TAG, "tag"),
	KEY(K_NEXT_ID, "next_id"),
	KEY(K_FACTOR, "factor"),
	KEY(K_CODE, "code"),
	KEY(K_CODE_EXPIRES, "code.expires"),
	KEY(K_CODE_SENT, "code.sent"),
	KEY(K_CODE_BOOKED, "code.booked"),
	KEY(K_ENROLL_CODES, "enroll_codes"),
	KEY(K_FAIL_COUNT, "fail.count"),
	KEY(K_FAIL_SINCE, "fail.since"),
	KEY(K_LOCK_UNTIL, "lock.until"),
	KEY(K_LOGIN_TIME, "login.time"),
	KEY(K_LOGIN_SERVICE, "login.service"),
	KEY(K_LOGIN_RHOST, "login.rhost"),
	KEY(K_SKIP_SINCE, "skip.since"),
	KEY(K_RECOVERY, "recovery"),
	KEY(K_RECOVERY_CODE, "recovery.code"),
	KEY(K_BYPASS, "bypass"),
	KEY(K_LOCK_NOTICE, "lock.notice"),
	KEY(K_TOTP_SECRET, "totp.secret"),
	KEY(K_TOTP_ALGORITHM, "totp.algorithm"),
	KEY(K_TOTP_DIGITS, "totp.digits"),
	KEY(K_TOTP_PERIOD, "totp.period"),
	KEY(K_TOTP_ENROLLED, "totp.enrolled_at"),
	KEY(K_TOTP_LAST_STEP, "totp.last_step"),
	KEY(K_EMAIL_ADDRESS, "email.address"),
	KEY(K_EMAIL_VERIFIED, "email.verified"),
	KEY(K_EMAIL_ENROLLED, "email.enrolled_at"),
	KEY(K_EMAIL_CODE, "email.code"),
	KEY(K_EMAIL_CODE_EXPIRES, "email.code_expires"),
	KEY(K_EMAIL_CODE_SENT, "email.code_sent"),
	KEY(K_EMAIL_BY_ADMIN, "email.by_admin"),
	KEY(K_EMAIL_ENROLL_MAILS, "email.enroll_mails"),
	KEY(K_EMAIL_ENROLL_MAILS_SINCE, "email.enroll_mails_since"),
	KEY(K_EMAIL_CODE_BOOKED, "email.code_booked"),
};
#undef KEY

/* Times are seconds since the epoch, bounded well inside int64_t. */
#define TIME_MAX UINT64_C(253402300799) /* 9999-12-31 */
/* A factor's line: an address of EMAIL_ADDRESS_MAX, a label and the rest
 * fit; every other value is at most STORE_TEXT_MAX. */
#define FACTOR_LINE_MAX 512
/* A code's salt and hash, "SALT:HASH" in lower-case hex. */
#define CODE_HEX_LEN (2 * EMAIL_SALT_LEN + 1 + 2 * EMAIL_HASH_LEN)
#define COUNT_MAX 1000000

void record_init(struct mfa_record *rec, const char *user)
{
	memset(rec, 0, sizeof(*rec));
	rec->next_factor_id = 1;
	if (user != NULL)
		(void)snprintf(rec->user, sizeof(rec->user), "%s", user);
}

unsigned record_methods(const struct mfa_record *rec)
{
	unsigned m = 0;

	for (unsigned i = 0; i < rec->n_factors; i++)
		if (rec->factors[i].verified)
			m |= rec->factors[i].method;
	return m;
}

unsigned record_count(const struct mfa_record *rec, unsigned method)
{
	unsigned n = 0;

	for (unsigned i = 0; i < rec->n_factors; i++)
		if (rec->factors[i].verified && (method == 0 || rec->factors[i].method == method))
			n++;
	return n;
}

struct mfa_factor *record_factor(struct mfa_record *rec, unsigned id)
{
	for (unsigned i = 0; i < rec->n_factors; i++)
		if (rec->factors[i].id == id)
			return &rec->factors[i];
	return NULL;
}

struct mfa_factor *record_add_factor(struct mfa_record *rec, unsigned method)
{
	struct mfa_factor *f;

	/* An id is never given twice: at the top of its range, no more. */
	if (rec->n_factors >= RECORD_FACTORS_MAX || rec->next_factor_id == 0 ||
	    rec->next_factor_id == UINT32_MAX)
		return NULL;
	f = &rec->factors[rec->n_factors++];
	memset(f, 0, sizeof(*f));
	f->id = rec->next_factor_id++;
	f->method = method;
	f->totp.enrolled = method == METHOD_TOTP;
	return f;
}

void record_drop_code(struct mfa_record *rec)
{
	struct mfa_sent_code *c = &rec->code;

	c->pending = false;
	c->factor = 0;
	secure_wipe(c->salt, sizeof(c->salt));
	secure_wipe(c->hash, sizeof(c->hash));
	c->expires = 0;
}

bool record_remove_factor(struct mfa_record *rec, unsigned id)
{
	for (unsigned i = 0; i < rec->n_factors; i++) {
		if (rec->factors[i].id != id)
			continue;
		if (rec->code.factor == id)
			record_drop_code(rec);
		secure_wipe(&rec->factors[i], sizeof(rec->factors[i]));
		/* The order is the user's: the others keep theirs. */
		memmove(&rec->factors[i], &rec->factors[i + 1],
			(rec->n_factors - i - 1) * sizeof(rec->factors[0]));
		rec->n_factors--;
		secure_wipe(&rec->factors[rec->n_factors], sizeof(rec->factors[0]));
		return true;
	}
	return false;
}

int record_new_tag(struct mfa_record *rec)
{
	uint64_t tag = 0;

	/* No verified factor is the same factors as no record: a user left
	 * with none enrolls again on the trust of a first enrollment, which
	 * asks no proof (files_ops.c, proved()). */
	if (record_methods(rec) == 0) {
		rec->factors_tag = 0;
		return 0;
	}
	/* 0 is the tag of no record at all: a record with factors never has
	 * it, nor does a new tag repeat the one it replaces. */
	while (tag == 0 || tag == rec->factors_tag) {
		int r = secure_random(&tag, sizeof(tag));

		if (r < 0)
			return r;
	}
	rec->factors_tag = tag;
	return 0;
}

bool factor_label_valid(const char *label)
{
	size_t len = strlen(label);

	if (len == 0 || len > FACTOR_LABEL_MAX || label[0] == ' ' || label[len - 1] == ' ')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = label[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr(" .-_+@()", c) != NULL))
			return false;
	}
	return true;
}

unsigned record_recovery_left(const struct mfa_record *rec)
{
	unsigned n = 0;

	for (unsigned i = 0; i < rec->recovery.n && i < RECOVERY_CODES_MAX; i++)
		if (rec->recovery.used[i] == 0)
			n++;
	return n;
}

void record_drop_backup(struct mfa_record *rec)
{
	secure_wipe(&rec->recovery, sizeof(rec->recovery));
	secure_wipe(&rec->bypass, sizeof(rec->bypass));
}

void record_wipe(struct mfa_record *rec)
{
	secure_wipe(rec, sizeof(*rec));
}

void record_set_text(char *field, const char *value)
{
	sanitize_printable(value, field, STORE_TEXT_MAX + 1);
}

/* ---- parsing ---- */

/* A value as it lies in the text: not NUL-terminated. */
struct span {
	const char *p; /* NULL: the key was not given */
	size_t len;
};

static bool value_printable(const char *v, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
			return false;
	return true;
}

/* Copies a span into out (size bytes) as a string; false if it does not
 * fit. */
static bool span_copy(const char *p, size_t len, char *out, size_t size)
{
	if (len >= size)
		return false;
	if (len > 0)
		memcpy(out, p, len);
	out[len] = '\0';
	return true;
}

static int number_of(const char *p, size_t len, uint64_t max, uint64_t *out, const char *what,
		     struct mfa_error *err)
{
	char tmp[24];

	if (!span_copy(p, len, tmp, sizeof(tmp)) || parse_u64(tmp, max, out) < 0) {
		mfa_error_set(err, "%s: not a number in range", what);
		return -EINVAL;
	}
	return 0;
}

static int parse_number(const struct span *s, uint64_t max, uint64_t *out, const char *key,
			struct mfa_error *err)
{
	return number_of(s->p, s->len, max, out, key, err);
}

static int parse_time(const struct span *s, int64_t *out, const char *key, struct mfa_error *err)
{
	uint64_t n;

	if (parse_number(s, TIME_MAX, &n, key, err) < 0)
		return -EINVAL;
	*out = (int64_t)n;
	return 0;
}

static int hex_decode(const char *hex, size_t hexlen, unsigned char *out, size_t len)
{
	if (hexlen != 2 * len)
		return -EINVAL;
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
	return 0;
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

/* "SALT:HASH" in lower-case hex into a salt and a hash. */
static int parse_salt_hash(const char *p, size_t len, unsigned char salt[EMAIL_SALT_LEN],
			   unsigned char hash[EMAIL_HASH_LEN])
{
	if (len != CODE_HEX_LEN || p[2 * EMAIL_SALT_LEN] != ':' ||
	    hex_decode(p, 2 * EMAIL_SALT_LEN, salt, EMAIL_SALT_LEN) < 0 ||
	    hex_decode(p + 2 * EMAIL_SALT_LEN + 1, 2 * EMAIL_HASH_LEN, hash, EMAIL_HASH_LEN) < 0)
		return -EINVAL;
	return 0;
}

static int parse_code_hex(const char *p, size_t len, struct mfa_sent_code *c)
{
	return parse_salt_hash(p, len, c->salt, c->hash);
}

/* Splits a value into exactly n words, one space between each: false if
 * it has more or fewer, or an empty one. */
static bool split_words(const char *p, size_t len, struct span *w, size_t n)
{
	const char *end = p + len;

	for (size_t i = 0; i < n; i++) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		const char *stop = i + 1 < n ? sp : end;

		if (stop == NULL || (i + 1 == n && sp != NULL) || stop == p)
			return false;
		w[i].p = p;
		w[i].len = (size_t)(stop - p);
		p = stop + 1;
	}
	return true;
}

/* "SALT:HASH USED": one code of the recovery set, as it comes. */
static int parse_recovery_code(const char *v, size_t vlen, unsigned line, struct mfa_record *rec,
			       struct mfa_error *err)
{
	struct mfa_recovery_set *set = &rec->recovery;
	struct span w[2];
	uint64_t used;

	if (set->n >= RECOVERY_CODES_MAX) {
		mfa_error_set(err, "line %u: more than %d recovery codes", line,
			      RECOVERY_CODES_MAX);
		return -EINVAL;
	}
	if (!split_words(v, vlen, w, 2) ||
	    parse_salt_hash(w[0].p, w[0].len, set->codes[set->n].salt, set->codes[set->n].hash) <
		    0 ||
	    number_of(w[1].p, w[1].len, TIME_MAX, &used, "recovery.code", err) < 0) {
		mfa_error_set(err, "line %u: recovery.code: not SALT:HASH and a time", line);
		return -EINVAL;
	}
	/* A salt is drawn afresh for every code: twice is a copied line. */
	for (unsigned i = 0; i < set->n; i++)
		if (memcmp(set->codes[i].salt, set->codes[set->n].salt, EMAIL_SALT_LEN) == 0) {
			mfa_error_set(err, "line %u: recovery.code: a code given twice", line);
			return -EINVAL;
		}
	set->used[set->n] = (int64_t)used;
	set->n++;
	return 0;
}

/* A destination of its method's form. */
static bool dest_valid(unsigned method, const char *dest)
{
	return method == METHOD_EMAIL ? email_address_valid(dest) :
	       method == METHOD_SMS   ? sms_number_valid(dest) :
					false;
}

/* The words of a factor's line, one after another. */
struct cursor {
	const char *p, *end;
	unsigned line, id;
	struct mfa_error *err;
};

/* The next word (up to a space or the end of the line); the space is
 * passed.  false at the end of the line. */
static bool next_word(struct cursor *c, const char **w, size_t *len)
{
	const char *sp;

	if (c->p >= c->end)
		return false;
	sp = memchr(c->p, ' ', (size_t)(c->end - c->p));
	*w = c->p;
	*len = (size_t)((sp != NULL ? sp : c->end) - c->p);
	c->p = sp != NULL ? sp + 1 : c->end;
	return true;
}

static int factor_error(struct cursor *c, const char *what)
{
	if (c->id != 0)
		mfa_error_set(c->err, "line %u: factor %u: %s", c->line, c->id, what);
	else
		mfa_error_set(c->err, "line %u: factor: %s", c->line, what);
	return -EINVAL;
}

/* The next word, which must be name=VALUE: VALUE's span. */
static int next_field(struct cursor *c, const char *name, const char **v, size_t *vlen)
{
	size_t nlen = strlen(name), len;
	const char *w;

	*v = NULL;
	*vlen = 0;
	if (!next_word(c, &w, &len) || len <= nlen || memcmp(w, name, nlen) != 0 ||
	    w[nlen] != '=') {
		char what[48];

		(void)snprintf(what, sizeof(what), "expected %s=", name);
		return factor_error(c, what);
	}
	*v = w + nlen + 1;
	*vlen = len - nlen - 1;
	return 0;
}

static int field_number(struct cursor *c, const char *name, uint64_t max, uint64_t *out)
{
	const char *v;
	size_t len;
	char tmp[24];

	*out = 0;
	if (next_field(c, name, &v, &len) < 0)
		return -EINVAL;
	if (!span_copy(v, len, tmp, sizeof(tmp)) || parse_u64(tmp, max, out) < 0) {
		char what[48];

		(void)snprintf(what, sizeof(what), "%s: not a number in range", name);
		return factor_error(c, what);
	}
	return 0;
}

/* alg= digits= period= step= secret= of an app. */
static int parse_factor_totp(struct cursor *c, struct mfa_factor *f)
{
	char text[TOTP_SECRET_B32_MAX + 2];
	const char *v;
	size_t len;
	uint64_t n;
	int slen;

	if (next_field(c, "alg", &v, &len) < 0)
		return -EINVAL;
	if (!span_copy(v, len, text, sizeof(text)) ||
	    totp_algorithm_parse(text, &f->totp.params.algorithm) < 0)
		return factor_error(c, "alg: unknown algorithm");
	if (field_number(c, "digits", TOTP_DIGITS_MAX, &n) < 0)
		return -EINVAL;
	if (n < TOTP_DIGITS_MIN)
		return factor_error(c, "digits: out of range");
	f->totp.params.digits = (unsigned)n;
	if (field_number(c, "period", 300, &n) < 0)
		return -EINVAL;
	if (n < 10)
		return factor_error(c, "period: out of range");
	f->totp.params.period = (unsigned)n;
	if (field_number(c, "step", TIME_MAX, &f->totp.last_step) < 0)
		return -EINVAL;
	if (next_field(c, "secret", &v, &len) < 0)
		return -EINVAL;
	slen = span_copy(v, len, text, sizeof(text)) ?
		       base32_decode(text, f->totp.secret, sizeof(f->totp.secret)) :
		       -EINVAL;
	secure_wipe(text, sizeof(text));
	if (slen < TOTP_SECRET_MIN)
		return factor_error(c, "secret: not a valid secret");
	f->totp.secret_len = (size_t)slen;
	f->totp.enrolled = true;
	f->totp.enrolled_at = f->added;
	return 0;
}

/* "ID METHOD verified=V by_admin=B added=T used=T", then an app's
 * parameters and secret or a destination, then "label=" and the label to
 * the end of the line. */
static int parse_factor(const char *v, size_t vlen, unsigned line, struct mfa_factor *f,
			struct mfa_error *err)
{
	struct cursor c = { v, v + vlen, line, 0, err };
	const char *w;
	size_t len;
	uint64_t n;
	char word[16];

	memset(f, 0, sizeof(*f));
	if (!next_word(&c, &w, &len) || number_of(w, len, UINT32_MAX - 1, &n, "id", err) < 0 ||
	    n == 0)
		return factor_error(&c, "not an id");
	f->id = c.id = (unsigned)n;
	if (!next_word(&c, &w, &len) || !span_copy(w, len, word, sizeof(word)) ||
	    method_parse(word, &f->method) < 0)
		return factor_error(&c, "unknown method");
	if (field_number(&c, "verified", 1, &n) < 0)
		return -EINVAL;
	f->verified = n == 1;
	if (field_number(&c, "by_admin", 1, &n) < 0)
		return -EINVAL;
	f->by_admin = n == 1;
	if (field_number(&c, "added", TIME_MAX, &n) < 0)
		return -EINVAL;
	f->added = (int64_t)n;
	if (field_number(&c, "used", TIME_MAX, &n) < 0)
		return -EINVAL;
	f->last_used = (int64_t)n;
	if (f->method == METHOD_TOTP) {
		/* An app is saved only once a code of it was right. */
		if (!f->verified)
			return factor_error(&c, "an app is saved only verified");
		if (parse_factor_totp(&c, f) < 0)
			return -EINVAL;
	} else {
		if (next_field(&c, "dest", &w, &len) < 0)
			return -EINVAL;
		if (!span_copy(w, len, f->dest, sizeof(f->dest)) || !dest_valid(f->method, f->dest))
			return factor_error(&c, f->method == METHOD_SMS ?
							"dest: not a phone number" :
							"dest: not a valid address");
	}
	/* The label is the rest of the line, spaces and all. */
	if ((size_t)(c.end - c.p) < 6 || memcmp(c.p, "label=", 6) != 0)
		return factor_error(&c, "expected label= last");
	c.p += 6;
	if (!span_copy(c.p, (size_t)(c.end - c.p), f->label, sizeof(f->label)) ||
	    (f->label[0] != '\0' && !factor_label_valid(f->label)))
		return factor_error(&c, "label: not a valid label");
	return 0;
}

/* The key's index, or K_COUNT.  Records are written in key order: the
 * key after the previous one (or the same, for factors) is tried first,
 * since a listing parses 100,000 records. */
static int find_key(const char *key, size_t klen, int prev)
{
	int k;

	for (k = prev; k <= prev + 1 && k < K_COUNT; k++)
		if (k >= 0 && rec_keys[k].len == klen && memcmp(rec_keys[k].name, key, klen) == 0)
			return k;
	for (k = 0; k < K_COUNT; k++)
		if (rec_keys[k].len == klen && memcmp(rec_keys[k].name, key, klen) == 0)
			break;
	return k;
}

/* Whether key k belongs in records of version v. */
static bool key_in_version(int k, unsigned v)
{
	if (k <= K_USER || (k >= K_FAIL_COUNT && k < K_SKIP_SINCE))
		return true;
	if (k >= K_TAG && k <= K_ENROLL_CODES)
		return v >= 5;
	if (k == K_SKIP_SINCE)
		return v >= 2;
	if (k >= K_RECOVERY && k <= K_LOCK_NOTICE)
		return v >= 6;
	if (k >= K_TOTP_SECRET && k <= K_TOTP_LAST_STEP)
		return v <= 4;
	if (k >= K_EMAIL_ADDRESS && k <= K_EMAIL_CODE_SENT)
		return v == 3 || v == 4;
	return v == 4;
}

static int parse_version(const char *p, size_t len, unsigned *version, struct mfa_error *err)
{
	char tmp[24];
	uint64_t n;

	if (!span_copy(p, len, tmp, sizeof(tmp)) || parse_u64(tmp, UINT32_MAX, &n) < 0 || n < 1 ||
	    n > STORE_RECORD_VERSION) {
		mfa_error_set(err, "unsupported record version \"%.*s\" (this build reads 1 to %d)",
			      (int)(len < 32 ? len : 32), p, STORE_RECORD_VERSION);
		return -EINVAL;
	}
	*version = (unsigned)n;
	return 0;
}

/* Splits the text into its key=value lines, which must end with "end",
 * each key known, of the record's version and given once (factor lines
 * excepted), the version first.  Factor lines are parsed as they come;
 * the other values are left in vals. */
static int split_lines(const char *buf, size_t len, struct span vals[K_COUNT], unsigned *version,
		       struct mfa_record *rec, struct mfa_error *err)
{
	const char *p = buf, *end = buf + len;
	unsigned line = 0;
	int prev = -1;

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
		k = find_key(p, klen, prev);
		if (k == K_COUNT) {
			mfa_error_set(err, "line %u: unknown key", line);
			return -EINVAL;
		}
		if ((k == K_VERSION) != (line == 1)) {
			mfa_error_set(err, "line %u: the version must come first, and only there",
				      line);
			return -EINVAL;
		}
		if (vals[k].p != NULL && k != K_FACTOR && k != K_RECOVERY_CODE) {
			mfa_error_set(err, "line %u: %s given twice", line, rec_keys[k].name);
			return -EINVAL;
		}
		if (vlen > (k == K_FACTOR ? FACTOR_LINE_MAX : STORE_TEXT_MAX) ||
		    !value_printable(eq + 1, vlen)) {
			mfa_error_set(err, "line %u: %s: value too long or not printable", line,
				      rec_keys[k].name);
			return -EINVAL;
		}
		if (k == K_VERSION && parse_version(eq + 1, vlen, version, err) < 0)
			return -EINVAL;
		if (!key_in_version(k, *version)) {
			mfa_error_set(err, "line %u: %s is not part of version %u records", line,
				      rec_keys[k].name, *version);
			return -EINVAL;
		}
		if (k == K_FACTOR) {
			if (rec->n_factors >= RECORD_FACTORS_MAX) {
				mfa_error_set(err, "line %u: more than %d factors", line,
					      RECORD_FACTORS_MAX);
				return -EINVAL;
			}
			if (parse_factor(eq + 1, vlen, line, &rec->factors[rec->n_factors], err) <
			    0)
				return -EINVAL;
			rec->n_factors++;
		}
		if (k == K_RECOVERY_CODE && parse_recovery_code(eq + 1, vlen, line, rec, err) < 0)
			return -EINVAL;
		vals[k].p = eq + 1;
		vals[k].len = vlen;
		prev = k;
		p = nl + 1;
	}
	if (line == 0) {
		mfa_error_set(err, "no version line");
		return -EINVAL;
	}
	return 0;
}

/* Every key of the version is there: the totp keys of earlier versions all
 * or none, factor and recovery code lines any number. */
static int check_keys(const struct span vals[K_COUNT], unsigned version, struct mfa_error *err)
{
	for (int k = 0; k < K_COUNT; k++) {
		bool totp_key = k >= K_TOTP_SECRET && k <= K_TOTP_LAST_STEP;

		if (!key_in_version(k, version) || k == K_FACTOR || k == K_RECOVERY_CODE)
			continue;
		if (totp_key && (vals[k].p != NULL) != (vals[K_TOTP_SECRET].p != NULL)) {
			mfa_error_set(err, "incomplete totp entry (%s)", rec_keys[k].name);
			return -EINVAL;
		}
		if (!totp_key && vals[k].p == NULL) {
			mfa_error_set(err, "missing %s", rec_keys[k].name);
			return -EINVAL;
		}
	}
	return 0;
}

/* fail.* and lock.until: "admin" is a lock only an administrator lifts. */
static int parse_lockout(const struct span vals[K_COUNT], struct mfa_record *rec,
			 struct mfa_error *err)
{
	const struct span *lock = &vals[K_LOCK_UNTIL];
	uint64_t n;

	if (parse_number(&vals[K_FAIL_COUNT], COUNT_MAX, &n, "fail.count", err) < 0)
		return -EINVAL;
	rec->fail_count = (unsigned)n;
	if (parse_time(&vals[K_FAIL_SINCE], &rec->fail_since, "fail.since", err) < 0)
		return -EINVAL;
	if (lock->len == 5 && memcmp(lock->p, "admin", 5) == 0)
		rec->locked_until = -1;
	else if (parse_time(lock, &rec->locked_until, "lock.until", err) < 0)
		return -EINVAL;
	return 0;
}

static int parse_login(const struct span vals[K_COUNT], struct mfa_record *rec,
		       struct mfa_error *err)
{
	if (parse_time(&vals[K_LOGIN_TIME], &rec->last_login, "login.time", err) < 0)
		return -EINVAL;
	/* At most STORE_TEXT_MAX bytes, as split_lines() checked. */
	(void)span_copy(vals[K_LOGIN_SERVICE].p, vals[K_LOGIN_SERVICE].len, rec->last_service,
			sizeof(rec->last_service));
	(void)span_copy(vals[K_LOGIN_RHOST].p, vals[K_LOGIN_RHOST].len, rec->last_rhost,
			sizeof(rec->last_rhost));
	return 0;
}

/* Version 5: the tag, the ids, the code and its limits, and that the
 * factors hang together. */
static int parse_v5(const struct span vals[K_COUNT], struct mfa_record *rec, struct mfa_error *err)
{
	const struct span *code = &vals[K_CODE], *tag = &vals[K_TAG], *ec = &vals[K_ENROLL_CODES];
	unsigned char raw[8];
	const char *sp;
	uint64_t n, since;

	if (hex_decode(tag->p, tag->len, raw, sizeof(raw)) < 0) {
		mfa_error_set(err, "tag: not 16 lower-case hexadecimal digits");
		return -EINVAL;
	}
	rec->factors_tag = 0;
	for (size_t i = 0; i < sizeof(raw); i++)
		rec->factors_tag = rec->factors_tag << 8 | raw[i];
	if (parse_number(&vals[K_NEXT_ID], UINT32_MAX, &n, "next_id", err) < 0 || n == 0) {
		mfa_error_set(err, "next_id: not a number in range");
		return -EINVAL;
	}
	rec->next_factor_id = (unsigned)n;
	for (unsigned i = 0; i < rec->n_factors; i++) {
		if (rec->factors[i].id >= rec->next_factor_id) {
			mfa_error_set(err, "factor %u: an id not below next_id",
				      rec->factors[i].id);
			return -EINVAL;
		}
		for (unsigned j = 0; j < i; j++) {
			const struct mfa_factor *a = &rec->factors[j], *b = &rec->factors[i];

			if (a->id == b->id) {
				mfa_error_set(err, "factor %u given twice", b->id);
				return -EINVAL;
			}
			/* One destination of a method is proved at a time. */
			if (!a->verified && !b->verified && a->method == b->method) {
				mfa_error_set(err, "factor %u: a second %s not verified", b->id,
					      method_name(b->method));
				return -EINVAL;
			}
		}
	}
	if (code->len > 0) {
		const struct mfa_factor *f;

		sp = memchr(code->p, ' ', code->len);
		if (sp == NULL ||
		    number_of(code->p, (size_t)(sp - code->p), UINT32_MAX, &n, "code", err) < 0 ||
		    parse_code_hex(sp + 1, code->len - (size_t)(sp + 1 - code->p), &rec->code) <
			    0) {
			mfa_error_set(err, "code: malformed");
			return -EINVAL;
		}
		f = record_factor(rec, (unsigned)n);
		if (f == NULL || !(f->method & METHOD_SENT)) {
			mfa_error_set(err,
				      "code: for a factor that does not exist or is sent no code");
			return -EINVAL;
		}
		rec->code.pending = true;
		rec->code.factor = (unsigned)n;
	}
	if (parse_time(&vals[K_CODE_EXPIRES], &rec->code.expires, "code.expires", err) < 0 ||
	    parse_time(&vals[K_CODE_SENT], &rec->code.sent, "code.sent", err) < 0 ||
	    parse_time(&vals[K_CODE_BOOKED], &rec->code.booked, "code.booked", err) < 0)
		return -EINVAL;
	sp = memchr(ec->p, ' ', ec->len);
	if (sp == NULL ||
	    number_of(ec->p, (size_t)(sp - ec->p), COUNT_MAX, &n, "enroll_codes", err) < 0 ||
	    number_of(sp + 1, ec->len - (size_t)(sp + 1 - ec->p), TIME_MAX, &since, "enroll_codes",
		      err) < 0) {
		mfa_error_set(err, "enroll_codes: not a count and a time");
		return -EINVAL;
	}
	rec->code.enroll_codes = (unsigned)n;
	rec->code.enroll_codes_since = (int64_t)since;
	return 0;
}

static const char *const codes_sources[] = {
	[RECORD_CODES_USER] = "user",
	[RECORD_CODES_ADMIN] = "admin",
	[RECORD_CODES_IMPORTED] = "imported",
};

/* "recovery=SOURCE SINCE" (or empty: no set, nor code lines), as many
 * code lines as the set was made with. */
static int parse_recovery(const struct span *v, struct mfa_record *rec, struct mfa_error *err)
{
	struct mfa_recovery_set *set = &rec->recovery;
	struct span w[2];
	uint64_t since;

	if (v->len == 0) {
		if (set->n > 0) {
			mfa_error_set(err, "recovery.code: without a set of recovery codes");
			return -EINVAL;
		}
		return 0;
	}
	if (!split_words(v->p, v->len, w, 2)) {
		mfa_error_set(err, "recovery: not a source and a time");
		return -EINVAL;
	}
	for (unsigned s = RECORD_CODES_USER; s <= RECORD_CODES_IMPORTED; s++)
		if (w[0].len == strlen(codes_sources[s]) &&
		    memcmp(w[0].p, codes_sources[s], w[0].len) == 0)
			set->source = (enum record_codes_source)s;
	if (set->source == RECORD_CODES_NONE) {
		mfa_error_set(err, "recovery: an unknown source");
		return -EINVAL;
	}
	if (number_of(w[1].p, w[1].len, TIME_MAX, &since, "recovery", err) < 0)
		return -EINVAL;
	set->since = (int64_t)since;
	if (set->n == 0) {
		mfa_error_set(err, "recovery: a set without a recovery.code line");
		return -EINVAL;
	}
	return 0;
}

/* "bypass=SALT:HASH USES EXPIRES MADE", or empty: none. */
static int parse_bypass(const struct span *v, struct mfa_record *rec, struct mfa_error *err)
{
	struct mfa_bypass *b = &rec->bypass;
	struct span w[4];
	uint64_t uses, expires, made;

	if (v->len == 0)
		return 0;
	if (!split_words(v->p, v->len, w, 4) ||
	    parse_salt_hash(w[0].p, w[0].len, b->code.salt, b->code.hash) < 0 ||
	    number_of(w[1].p, w[1].len, RECORD_BYPASS_USES_MAX, &uses, "bypass", err) < 0 ||
	    number_of(w[2].p, w[2].len, TIME_MAX, &expires, "bypass", err) < 0 ||
	    number_of(w[3].p, w[3].len, TIME_MAX, &made, "bypass", err) < 0) {
		mfa_error_set(err, "bypass: not SALT:HASH, uses, expiry and time made");
		return -EINVAL;
	}
	b->set = true;
	b->uses_left = (unsigned)uses;
	b->expires = (int64_t)expires;
	b->made = (int64_t)made;
	return 0;
}

/* Version 6: the recovery set, the bypass code, the last lockout notice. */
static int parse_v6(const struct span vals[K_COUNT], struct mfa_record *rec, struct mfa_error *err)
{
	if (parse_recovery(&vals[K_RECOVERY], rec, err) < 0 ||
	    parse_bypass(&vals[K_BYPASS], rec, err) < 0 ||
	    parse_time(&vals[K_LOCK_NOTICE], &rec->lock_notice, "lock.notice", err) < 0)
		return -EINVAL;
	return 0;
}

/* Versions 1 to 4: the one app becomes a verified factor, last used when
 * its last step was. */
static int parse_legacy_totp(const struct span vals[K_COUNT], struct mfa_record *rec,
			     struct mfa_error *err)
{
	struct mfa_factor *f = record_add_factor(rec, METHOD_TOTP);
	struct mfa_totp *t;
	char text[TOTP_SECRET_B32_MAX + 2];
	uint64_t n;
	int slen;

	/* The first factor of the record: there is room. */
	if (f == NULL) {
		mfa_error_set(err, "totp: no room for the app");
		return -EINVAL;
	}
	t = &f->totp;
	f->verified = true;
	if (!span_copy(vals[K_TOTP_ALGORITHM].p, vals[K_TOTP_ALGORITHM].len, text, sizeof(text)) ||
	    totp_algorithm_parse(text, &t->params.algorithm) < 0) {
		mfa_error_set(err, "totp.algorithm: unknown algorithm");
		return -EINVAL;
	}
	if (parse_number(&vals[K_TOTP_DIGITS], TOTP_DIGITS_MAX, &n, "totp.digits", err) < 0 ||
	    n < TOTP_DIGITS_MIN) {
		mfa_error_set(err, "totp.digits: out of range");
		return -EINVAL;
	}
	t->params.digits = (unsigned)n;
	if (parse_number(&vals[K_TOTP_PERIOD], 300, &n, "totp.period", err) < 0 || n < 10) {
		mfa_error_set(err, "totp.period: out of range");
		return -EINVAL;
	}
	t->params.period = (unsigned)n;
	if (parse_time(&vals[K_TOTP_ENROLLED], &t->enrolled_at, "totp.enrolled_at", err) < 0 ||
	    parse_number(&vals[K_TOTP_LAST_STEP], TIME_MAX, &t->last_step, "totp.last_step", err) <
		    0)
		return -EINVAL;
	slen = span_copy(vals[K_TOTP_SECRET].p, vals[K_TOTP_SECRET].len, text, sizeof(text)) ?
		       base32_decode(text, t->secret, sizeof(t->secret)) :
		       -EINVAL;
	secure_wipe(text, sizeof(text));
	if (slen < TOTP_SECRET_MIN) {
		mfa_error_set(err, "totp.secret: not a valid secret");
		return -EINVAL;
	}
	t->secret_len = (size_t)slen;
	f->added = t->enrolled_at;
	if (t->last_step > 0 && t->last_step <= TIME_MAX / t->params.period)
		f->last_used = (int64_t)(t->last_step * t->params.period);
	return 0;
}

/* Versions 3 and 4: the address becomes a factor, verified or not, and its
 * code the record's. */
static int parse_legacy_email(const struct span vals[K_COUNT], unsigned version,
			      struct mfa_record *rec, struct mfa_error *err)
{
	const struct span *code = &vals[K_EMAIL_CODE];
	char address[EMAIL_ADDRESS_MAX + 1];
	int64_t enrolled_at, t;
	bool verified, by_admin = false;
	uint64_t n;

	if (!span_copy(vals[K_EMAIL_ADDRESS].p, vals[K_EMAIL_ADDRESS].len, address,
		       sizeof(address)) ||
	    (address[0] != '\0' && !email_address_valid(address))) {
		mfa_error_set(err, "email.address: not a valid address");
		return -EINVAL;
	}
	if (parse_number(&vals[K_EMAIL_VERIFIED], 1, &n, "email.verified", err) < 0)
		return -EINVAL;
	verified = n == 1;
	if (verified && address[0] == '\0') {
		mfa_error_set(err, "email.verified: set without an address");
		return -EINVAL;
	}
	if (parse_time(&vals[K_EMAIL_ENROLLED], &enrolled_at, "email.enrolled_at", err) < 0)
		return -EINVAL;
	if (code->len > 0) {
		if (parse_code_hex(code->p, code->len, &rec->code) < 0) {
			mfa_error_set(err, "email.code: malformed");
			return -EINVAL;
		}
		if (address[0] == '\0') {
			mfa_error_set(err, "email.code: a code without an address");
			return -EINVAL;
		}
		rec->code.pending = true;
	}
	if (parse_time(&vals[K_EMAIL_CODE_EXPIRES], &rec->code.expires, "email.code_expires", err) <
		    0 ||
	    parse_time(&vals[K_EMAIL_CODE_SENT], &rec->code.sent, "email.code_sent", err) < 0)
		return -EINVAL;
	if (version >= 4) {
		if (parse_number(&vals[K_EMAIL_BY_ADMIN], 1, &n, "email.by_admin", err) < 0)
			return -EINVAL;
		by_admin = n == 1;
		if (by_admin && address[0] == '\0') {
			mfa_error_set(err, "email.by_admin: set without an address");
			return -EINVAL;
		}
		if (parse_number(&vals[K_EMAIL_ENROLL_MAILS], COUNT_MAX, &n, "email.enroll_mails",
				 err) < 0 ||
		    parse_time(&vals[K_EMAIL_ENROLL_MAILS_SINCE], &t, "email.enroll_mails_since",
			       err) < 0)
			return -EINVAL;
		rec->code.enroll_codes = (unsigned)n;
		rec->code.enroll_codes_since = t;
		if (parse_time(&vals[K_EMAIL_CODE_BOOKED], &rec->code.booked, "email.code_booked",
			       err) < 0)
			return -EINVAL;
	}
	if (address[0] != '\0') {
		struct mfa_factor *f = record_add_factor(rec, METHOD_EMAIL);

		if (f == NULL) {
			mfa_error_set(err, "email.address: no room for the address");
			return -EINVAL;
		}
		memcpy(f->dest, address, sizeof(f->dest));
		f->verified = verified;
		f->by_admin = by_admin;
		f->added = enrolled_at;
		if (rec->code.pending)
			rec->code.factor = f->id;
	}
	return 0;
}

/* FNV-1a, 64 bits. */
static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

static uint64_t fnv1a_u64(uint64_t h, uint64_t v)
{
	unsigned char le[8];

	for (int i = 0; i < 8; i++)
		le[i] = (unsigned char)(v >> (8 * i));
	return fnv1a(h, le, sizeof(le));
}

/* The tag of a record written before tags existed: made of its verified
 * factors (their secrets, addresses and times), so that every read of the
 * same record gives the same one, and a basis taken on it holds until
 * the factors change; no factor, no tag, as for no record. */
static uint64_t legacy_tag(const struct mfa_record *rec)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	bool any = false;

	for (unsigned i = 0; i < rec->n_factors; i++) {
		const struct mfa_factor *f = &rec->factors[i];

		if (!f->verified)
			continue;
		any = true;
		h = fnv1a_u64(h, f->method);
		h = fnv1a_u64(h, (uint64_t)f->added);
		if (f->method == METHOD_TOTP) {
			h = fnv1a_u64(h, f->totp.secret_len);
			h = fnv1a(h, f->totp.secret, f->totp.secret_len);
		} else {
			h = fnv1a(h, f->dest, strlen(f->dest) + 1);
		}
	}
	return !any ? 0 : h != 0 ? h : 1;
}

int record_parse(const char *buf, size_t len, const char *expected_user, struct mfa_record *rec,
		 struct mfa_error *err)
{
	struct span vals[K_COUNT];
	unsigned version = 0;
	int r = -EINVAL;

	record_init(rec, NULL);
	memset(vals, 0, sizeof(vals));
	if (split_lines(buf, len, vals, &version, rec, err) < 0 ||
	    check_keys(vals, version, err) < 0)
		goto out;
	if (!span_copy(vals[K_USER].p, vals[K_USER].len, rec->user, sizeof(rec->user)) ||
	    !user_name_valid(rec->user) ||
	    (expected_user != NULL && strcmp(rec->user, expected_user) != 0)) {
		mfa_error_set(err, "record names another user");
		goto out;
	}
	if (parse_lockout(vals, rec, err) < 0 || parse_login(vals, rec, err) < 0)
		goto out;
	if (version >= 2 &&
	    parse_time(&vals[K_SKIP_SINCE], &rec->skip_since, "skip.since", err) < 0)
		goto out;
	if (version >= 5) {
		if (parse_v5(vals, rec, err) < 0 || (version >= 6 && parse_v6(vals, rec, err) < 0))
			goto out;
	} else {
		rec->next_factor_id = 1;
		if (vals[K_TOTP_SECRET].p != NULL && parse_legacy_totp(vals, rec, err) < 0)
			goto out;
		if (version >= 3 && parse_legacy_email(vals, version, rec, err) < 0)
			goto out;
		rec->factors_tag = legacy_tag(rec);
	}
	r = 0;
out:
	if (r < 0)
		record_wipe(rec);
	return r;
}

/* ---- formatting ---- */

struct out {
	char *buf;
	size_t size, pos;
	bool full;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->pos, o->size - o->pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->size - o->pos)
		o->full = true;
	else
		o->pos += (size_t)n;
}

static void put_factor(struct out *o, const struct mfa_factor *f)
{
	char secret[TOTP_SECRET_B32_MAX + 1];

	put(o, "factor=%u %s verified=%d by_admin=%d added=%" PRId64 " used=%" PRId64, f->id,
	    method_name(f->method), f->verified ? 1 : 0, f->by_admin ? 1 : 0, f->added,
	    f->last_used);
	if (f->method == METHOD_TOTP) {
		base32_encode(f->totp.secret, f->totp.secret_len, secret);
		put(o, " alg=%s digits=%u period=%u step=%" PRIu64 " secret=%s",
		    totp_algorithm_name(f->totp.params.algorithm), f->totp.params.digits,
		    f->totp.params.period, f->totp.last_step, secret);
		secure_wipe(secret, sizeof(secret));
	} else {
		put(o, " dest=%s", f->dest);
	}
	put(o, " label=%s\n", f->label);
}

/* "SALT:HASH" in lower-case hex, into out (CODE_HEX_LEN + 1 bytes). */
static void format_salt_hash(const unsigned char *salt, const unsigned char *hash, char *out)
{
	hex_encode(salt, EMAIL_SALT_LEN, out);
	out[2 * EMAIL_SALT_LEN] = ':';
	hex_encode(hash, EMAIL_HASH_LEN, out + 2 * EMAIL_SALT_LEN + 1);
}

/* The version 6 lines: the recovery set, the bypass code, the notice. */
static void put_backup(struct out *o, const struct mfa_record *rec)
{
	const struct mfa_recovery_set *set = &rec->recovery;
	const struct mfa_bypass *b = &rec->bypass;
	/* A set of no known maker is not one: written, it would not read. */
	bool any = set->n > 0 && set->source >= RECORD_CODES_USER &&
		   set->source <= RECORD_CODES_IMPORTED;
	char code[CODE_HEX_LEN + 1];

	if (any)
		put(o, "recovery=%s %" PRId64 "\n", codes_sources[set->source], set->since);
	else
		put(o, "recovery=\n");
	for (unsigned i = 0; any && i < set->n && i < RECOVERY_CODES_MAX; i++) {
		format_salt_hash(set->codes[i].salt, set->codes[i].hash, code);
		put(o, "recovery.code=%s %" PRId64 "\n", code, set->used[i]);
	}
	if (b->set) {
		format_salt_hash(b->code.salt, b->code.hash, code);
		put(o, "bypass=%s %u %" PRId64 " %" PRId64 "\n", code, b->uses_left, b->expires,
		    b->made);
	} else {
		put(o, "bypass=\n");
	}
	put(o, "lock.notice=%" PRId64 "\n", rec->lock_notice);
	secure_wipe(code, sizeof(code));
}

int record_format(const struct mfa_record *rec, char *buf, size_t buflen)
{
	struct out o = { buf, buflen, 0, false };
	char code[CODE_HEX_LEN + 1];

	if (buflen == 0)
		return -ENOBUFS;
	put(&o, "version=%d\nuser=%s\ntag=%016" PRIx64 "\nnext_id=%u\n", STORE_RECORD_VERSION,
	    rec->user, rec->factors_tag, rec->next_factor_id);
	for (unsigned i = 0; i < rec->n_factors; i++)
		put_factor(&o, &rec->factors[i]);
	if (rec->code.pending) {
		format_salt_hash(rec->code.salt, rec->code.hash, code);
		put(&o, "code=%u %s\n", rec->code.factor, code);
		secure_wipe(code, sizeof(code));
	} else {
		put(&o, "code=\n");
	}
	put(&o,
	    "code.expires=%" PRId64 "\ncode.sent=%" PRId64 "\ncode.booked=%" PRId64
	    "\nenroll_codes=%u %" PRId64 "\n",
	    rec->code.expires, rec->code.sent, rec->code.booked, rec->code.enroll_codes,
	    rec->code.enroll_codes_since);
	put(&o, "fail.count=%u\nfail.since=%" PRId64 "\n", rec->fail_count, rec->fail_since);
	if (rec->locked_until < 0)
		put(&o, "lock.until=admin\n");
	else
		put(&o, "lock.until=%" PRId64 "\n", rec->locked_until);
	put(&o,
	    "login.time=%" PRId64 "\nlogin.service=%s\nlogin.rhost=%s\nskip.since=%" PRId64 "\n",
	    rec->last_login, rec->last_service, rec->last_rhost, rec->skip_since);
	put_backup(&o, rec);
	put(&o, "end\n");
	if (o.full) {
		secure_wipe(buf, buflen);
		return -ENOBUFS;
	}
	return (int)o.pos;
}
