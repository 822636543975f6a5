/* TOTP (RFC 6238) on top of liboath; see totp.h.  Verification walks the
 * whole window so that its time does not depend on where a code matched. */
#include <errno.h>
#include <liboath/oath.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "secmem.h"
#include "totp.h"

const char *totp_algorithm_name(enum totp_algorithm alg)
{
	switch (alg) {
	case TOTP_SHA256: return "sha256";
	case TOTP_SHA512: return "sha512";
	case TOTP_SHA1: break;
	}
	return "sha1";
}

int totp_algorithm_parse(const char *name, enum totp_algorithm *alg)
{
	if (strcmp(name, "sha1") == 0)
		*alg = TOTP_SHA1;
	else if (strcmp(name, "sha256") == 0)
		*alg = TOTP_SHA256;
	else if (strcmp(name, "sha512") == 0)
		*alg = TOTP_SHA512;
	else
		return -EINVAL;
	return 0;
}

size_t totp_secret_length(enum totp_algorithm alg)
{
	switch (alg) {
	case TOTP_SHA256: return 32;
	case TOTP_SHA512: return 64;
	case TOTP_SHA1: break;
	}
	return 20;
}

static int oath_flags(enum totp_algorithm alg)
{
	switch (alg) {
	case TOTP_SHA256: return OATH_TOTP_HMAC_SHA256;
	case TOTP_SHA512: return OATH_TOTP_HMAC_SHA512;
	case TOTP_SHA1: break;
	}
	return 0;
}

uint64_t totp_step_at(const struct totp_params *p, time_t now)
{
	return now < 0 ? 0 : (uint64_t)now / p->period;
}

int totp_code_for_step(const unsigned char *secret, size_t secret_len, const struct totp_params *p,
		       uint64_t step, char *out)
{
	int r;

	if (p->digits < TOTP_DIGITS_MIN || p->digits > TOTP_DIGITS_MAX || p->period == 0)
		return -EINVAL;
	/* liboath derives the step from a time: give it the step's first second. */
	if (step > (uint64_t)INT64_MAX / p->period)
		return -ERANGE;
	r = oath_totp_generate2((const char *)secret, secret_len, (time_t)(step * p->period),
				p->period, 0, p->digits, oath_flags(p->algorithm), out);
	return r == OATH_OK ? 0 : -EIO;
}

int totp_verify(const unsigned char *secret, size_t secret_len, const struct totp_params *p,
		const char *code, time_t now, unsigned window, uint64_t after_step,
		uint64_t *matched)
{
	char expected[TOTP_DIGITS_MAX + 1];
	uint64_t now_step, first, best_new = 0, best_old = 0;
	bool found_new = false, found_old = false;

	if (code == NULL || strlen(code) != p->digits)
		return -1;
	for (size_t i = 0; i < p->digits; i++)
		if (code[i] < '0' || code[i] > '9')
			return -1;
	now_step = totp_step_at(p, now);
	first = now_step > window ? now_step - window : 0;
	for (uint64_t step = first; step <= now_step + window; step++) {
		bool eq;

		if (totp_code_for_step(secret, secret_len, p, step, expected) < 0)
			break;
		eq = consttime_equal(expected, code, p->digits);
		if (eq && step > after_step && !found_new) {
			/* The oldest fresh match: a later code stays usable. */
			best_new = step;
			found_new = true;
		} else if (eq && step <= after_step) {
			best_old = step;
			found_old = true;
		}
	}
	secure_wipe(expected, sizeof(expected));
	if (found_new) {
		*matched = best_new;
		return 1;
	}
	if (found_old) {
		*matched = best_old;
		return 0;
	}
	return -1;
}

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void base32_encode(const unsigned char *in, size_t len, char *out)
{
	unsigned buffer = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		buffer = (buffer << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = b32_alphabet[(buffer >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = b32_alphabet[(buffer << (5 - bits)) & 31];
	out[o] = '\0';
	buffer = 0;
	secure_wipe(&buffer, sizeof(buffer));
}

int base32_decode(const char *in, unsigned char *out, size_t outlen)
{
	unsigned buffer = 0;
	int bits = 0;
	size_t o = 0;
	int r = 0;

	for (const char *p = in; *p != '\0'; p++) {
		unsigned v;
		char c = *p;

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c >= 'A' && c <= 'Z')
			v = (unsigned)(c - 'A');
		else if (c >= '2' && c <= '7')
			v = (unsigned)(c - '2' + 26);
		else {
			r = -EINVAL;
			goto out;
		}
		buffer = ((buffer << 5) | v) & 0xffff;
		bits += 5;
		if (bits >= 8) {
			if (o >= outlen) {
				r = -ENOBUFS;
				goto out;
			}
			out[o++] = (unsigned char)(buffer >> (bits - 8));
			bits -= 8;
		}
	}
	/* Leftover bits must be padding zeros, and fewer than a whole symbol
	 * would have produced: anything else is not a canonical encoding. */
	if (bits >= 5 || (buffer & ((1u << bits) - 1)) != 0)
		r = -EINVAL;
	else
		r = (int)o;
out:
	buffer = 0;
	secure_wipe(&buffer, sizeof(buffer));
	return r;
}

/* Percent-encodes everything but RFC 3986 unreserved characters. */
static int uri_escape(const char *in, char *out, size_t outlen, size_t *pos)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)in; *p != '\0'; p++) {
		bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			     (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' ||
			     *p == '~';
		size_t need = plain ? 1 : 3;

		if (*pos + need >= outlen)
			return -ENOBUFS;
		if (plain) {
			out[(*pos)++] = (char)*p;
		} else {
			out[(*pos)++] = '%';
			out[(*pos)++] = hex[*p >> 4];
			out[(*pos)++] = hex[*p & 15];
		}
	}
	out[*pos] = '\0';
	return 0;
}

static int append(char *out, size_t outlen, size_t *pos, const char *s)
{
	size_t len = strlen(s);

	if (*pos + len >= outlen)
		return -ENOBUFS;
	memcpy(out + *pos, s, len + 1);
	*pos += len;
	return 0;
}

int totp_uri(const char *issuer, const char *account, const unsigned char *secret,
	     size_t secret_len, const struct totp_params *p, char *out, size_t outlen)
{
	char b32[TOTP_SECRET_B32_MAX + 1];
	char tail[96];
	size_t pos = 0;
	int r;

	if (secret_len > TOTP_SECRET_MAX || outlen == 0)
		return -EINVAL;
	base32_encode(secret, secret_len, b32);
	(void)snprintf(tail, sizeof(tail), "&algorithm=%s&digits=%u&period=%u",
		       p->algorithm == TOTP_SHA256 ? "SHA256" :
		       p->algorithm == TOTP_SHA512 ? "SHA512" :
						     "SHA1",
		       p->digits, p->period);
	if ((r = append(out, outlen, &pos, "otpauth://totp/")) < 0 ||
	    (r = uri_escape(issuer, out, outlen, &pos)) < 0 ||
	    (r = append(out, outlen, &pos, ":")) < 0 ||
	    (r = uri_escape(account, out, outlen, &pos)) < 0 ||
	    (r = append(out, outlen, &pos, "?secret=")) < 0 ||
	    (r = append(out, outlen, &pos, b32)) < 0 ||
	    (r = append(out, outlen, &pos, "&issuer=")) < 0 ||
	    (r = uri_escape(issuer, out, outlen, &pos)) < 0 ||
	    (r = append(out, outlen, &pos, tail)) < 0)
		secure_wipe(out, outlen);
	secure_wipe(b32, sizeof(b32));
	return r;
}

void totp_account_label(const char *user, bool shared, char *out, size_t len)
{
	char host[256] = "";

	if (shared || gethostname(host, sizeof(host) - 1) < 0 || host[0] == '\0')
		(void)snprintf(out, len, "%s", user);
	else
		(void)snprintf(out, len, "%s@%s", user, host);
}
