/* TOTP (RFC 6238) on top of liboath: code generation and verification with
 * replay protection, base32 for secrets, and the otpauth:// URI. */
#ifndef PAM_MFA_TOTP_H
#define PAM_MFA_TOTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum totp_algorithm {
	TOTP_SHA1,
	TOTP_SHA256,
	TOTP_SHA512,
};

/* The largest secret we generate or accept: 64 bytes, as for HMAC-SHA512. */
#define TOTP_SECRET_MAX 64
/* The shortest secret a record may hold: 80 bits, what Google Authenticator
 * has always generated, so that its users can be imported.  We generate the
 * HMAC's output size (RFC 4226 asks for at least 128 bits). */
#define TOTP_SECRET_MIN 10
#define TOTP_SECRET_B32_MAX ((TOTP_SECRET_MAX * 8 + 4) / 5)
#define TOTP_DIGITS_MIN 6
#define TOTP_DIGITS_MAX 8

struct totp_params {
	enum totp_algorithm algorithm;
	unsigned digits;
	unsigned period;
};

const char *totp_algorithm_name(enum totp_algorithm alg);
/* "sha1", "sha256", "sha512" (lower case); 0 or -EINVAL. */
int totp_algorithm_parse(const char *name, enum totp_algorithm *alg);
/* Secret length we generate for an algorithm: its HMAC output size (RFC 6238). */
size_t totp_secret_length(enum totp_algorithm alg);

/* The code for one time step, NUL-terminated in out (size > digits). */
int totp_code_for_step(const unsigned char *secret, size_t secret_len, const struct totp_params *p,
		       uint64_t step, char *out);

/* Returns 1 and the step in *matched when code is the code of a step in
 * [now_step - window, now_step + window] that is newer than after_step;
 * 0 if the code matches only steps at or before after_step (a replay, and
 * *matched holds that step); -1 if it matches nothing or is malformed.
 * Comparisons are constant-time; every step of the window is computed. */
int totp_verify(const unsigned char *secret, size_t secret_len, const struct totp_params *p,
		const char *code, time_t now, unsigned window, uint64_t after_step,
		uint64_t *matched);

uint64_t totp_step_at(const struct totp_params *p, time_t now);

/* RFC 4648 base32 without padding, upper case.  out must hold
 * (len * 8 + 4) / 5 + 1 bytes. */
void base32_encode(const unsigned char *in, size_t len, char *out);
/* Strict decoding: A-Z and 2-7 only (lower case accepted), no padding, and
 * unused trailing bits must be zero.  Returns the length or -EINVAL/-ENOBUFS. */
int base32_decode(const char *in, unsigned char *out, size_t outlen);

/* The label authenticator apps show under the issuer: user@host for a
 * factor kept on this host; the user name alone when the store is shared by
 * a fleet (shared), since one enrollment then serves every host and the
 * issuer names the organization. */
void totp_account_label(const char *user, bool shared, char *out, size_t len);

/* Builds otpauth://totp/ISSUER:ACCOUNT?secret=..&issuer=..&algorithm=..&digits=..&period=..
 * into out; 0 or -ENOBUFS. */
int totp_uri(const char *issuer, const char *account, const unsigned char *secret,
	     size_t secret_len, const struct totp_params *p, char *out, size_t outlen);

#endif
