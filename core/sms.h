/* SMS one-time codes: phone numbers in E.164 and text messages sent through
 * an HTTPS gateway (a provider's HTTP API) with libcurl, loaded on first
 * use.  Never a shell; TLS always verified; the gateway's credentials come
 * from root-only files; nothing of the code in the URL or in an error.  The
 * sms settings of pam_mfa.conf are defined here, so that text messages
 * need nothing else of the configuration. */
#ifndef PAM_MFA_SMS_H
#define PAM_MFA_SMS_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* "+" and at most 15 digits (ITU-T E.164), and its NUL. */
#define SMS_NUMBER_MAX 16
#define SMS_FIELDS_MAX 16
#define SMS_STATUS_MAX 8

enum sms_format {
	SMS_FORMAT_FORM, /* application/x-www-form-urlencoded */
	SMS_FORMAT_JSON, /* application/json, every value a string */
};

/* One field of the request body: a name and a template in which
 * %{phone}, %{message}, %{code}, %{host}, %{ttl_minutes} and %% expand. */
struct sms_field {
	char *name;
	char *value;
};

/* The sms { ... } group of pam_mfa.conf; url NULL: no gateway. */
struct sms_config {
	char *url;    /* https:// only */
	char *method; /* "POST" (default) or "PUT" */
	enum sms_format format;
	struct sms_field fields[SMS_FIELDS_MAX];
	size_t n_fields;
	char *username;		 /* basic auth with password_file */
	char *password_file;	 /* root-owned, not group/other accessible */
	char *bearer_token_file; /* or: Authorization: Bearer <file> */
	char *ca_file;		 /* NULL: the system's CAs */
	unsigned success_status[SMS_STATUS_MAX];
	size_t n_success_status; /* default: 200, 201, 202 */
	char *message;		 /* %{code} %{host} %{ttl_minutes} %{user} %% */
	unsigned code_digits;
	unsigned code_ttl;
	unsigned resend_after;
	unsigned enroll_messages; /* a user's codes to new numbers a day */
	unsigned timeout;
};

/* "+" then 8 to 15 digits, the first not 0: nothing else (no spaces,
 * letters, separators or control characters). */
bool sms_number_valid(const char *number);

/* "+1******0100": for messages that must not disclose the number. */
void sms_mask(const char *number, char *out, size_t len);

/* What a message may say: the code, this host's name, the code's life. */
struct sms_message {
	const char *code;
	const char *host;
	const char *user;
	unsigned ttl_minutes;
};

/* Sends one message to number through the gateway of sc, within its
 * timeout: the request carries the fields expanded, the gateway's answer
 * must be one of the success statuses.  0, or -EIO (refused, an error
 * status), -ETIMEDOUT, -EINVAL (no gateway, a bad number, a template too
 * long) with err saying what happened, never with the code or a
 * credential in it. */
int sms_send(const struct sms_config *sc, const char *number, const struct sms_message *msg,
	     struct mfa_error *err);

#endif
