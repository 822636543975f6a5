/* Email one-time codes: addresses and RFC 5322 messages sent through
 * libcurl's SMTP (never a shell).  The email settings of pam_mfa.conf are
 * defined here, so that mail needs nothing else of the configuration. */
#ifndef PAM_MFA_EMAIL_H
#define PAM_MFA_EMAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The codes a mail carries, and their hashes the record keeps. */
#include "code_hash.h"
#include "util.h"

#define EMAIL_ADDRESS_MAX 254

enum email_starttls {
	STARTTLS_REQUIRED,
	STARTTLS_OPPORTUNISTIC,
	STARTTLS_OFF,
};

/* The email { ... } group of pam_mfa.conf. */
struct email_config {
	char *smtp_url; /* smtp:// or smtps:// */
	enum email_starttls starttls;
	char *ca_file;
	char *username;
	char *password_file;
	char *from;		/* "Name <addr>" or "addr" */
	char *address_template; /* "%u@example.org"; NULL: none */
	unsigned code_digits;
	unsigned code_ttl;
	unsigned resend_after;
	unsigned enroll_mails; /* a user's codes to new addresses a day */
	unsigned timeout;
};

/* A conservative addr-spec: local@domain with dot-atom parts, no quotes,
 * comments, spaces, control characters or anything that could end a
 * header; at most EMAIL_ADDRESS_MAX bytes. */
bool email_address_valid(const char *addr);

/* The address from the "address" template (%u: the user name, %% a '%'),
 * -ENOENT if there is no template, -EINVAL if the result is not valid. */
int email_address_from_template(const struct email_config *ec, const char *user, char *out,
				size_t len);

/* "a***@example.org": for messages that must not disclose the address. */
void email_mask(const char *addr, char *out, size_t len);

/* Sends a text/plain UTF-8 message to one address, through the SMTP server
 * of ec, within its timeout.  0, or -EIO/-ETIMEDOUT/-EINVAL with err
 * saying what the server or libcurl said. */
int email_send(const struct email_config *ec, const char *to, const char *subject, const char *body,
	       struct mfa_error *err);

#endif
