/* Email one-time codes: addresses, codes and their salted hashes, and
 * RFC 5322 messages sent through libcurl's SMTP (never a shell). */
#ifndef PAM_MFA_EMAIL_H
#define PAM_MFA_EMAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define EMAIL_ADDRESS_MAX 254
#define EMAIL_CODE_DIGITS_MAX 10
#define EMAIL_SALT_LEN 16
#define EMAIL_HASH_LEN 32

struct mfa_config;

enum email_starttls {
	STARTTLS_REQUIRED,
	STARTTLS_OPPORTUNISTIC,
	STARTTLS_OFF,
};

/* A conservative addr-spec: local@domain with dot-atom parts, no quotes,
 * comments, spaces, control characters or anything that could end a
 * header; at most EMAIL_ADDRESS_MAX bytes. */
bool email_address_valid(const char *addr);

/* The address from the "address" template (%u: the user name, %% a '%'),
 * -ENOENT if there is no template, -EINVAL if the result is not valid. */
int email_address_from_template(const struct mfa_config *cfg, const char *user, char *out,
				size_t len);

/* "a***@example.org": for messages that must not disclose the address. */
void email_mask(const char *addr, char *out, size_t len);

/* A fresh code of digits decimal digits, uniform, from getrandom. */
int email_code_new(unsigned digits, char *out);

/* HMAC-SHA256(salt, code). */
int email_code_hash(const unsigned char salt[EMAIL_SALT_LEN], const char *code,
		    unsigned char out[EMAIL_HASH_LEN]);

/* Sends a text/plain UTF-8 message to one address, through the SMTP server
 * of the configuration, within its timeout.  0, or -EIO/-ETIMEDOUT/-EINVAL
 * with err saying what the server or libcurl said. */
int email_send(const struct mfa_config *cfg, const char *to, const char *subject, const char *body,
	       struct mfa_error *err);

#endif
