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

/* The longest number: "+" and 15 digits (ITU-T E.164).  A length, as
 * EMAIL_ADDRESS_MAX is: a buffer for one is SMS_NUMBER_MAX + 1 bytes. */
#define SMS_NUMBER_MAX 16
#define SMS_FIELDS_MAX 16
#define SMS_STATUS_MAX 8

enum sms_format {
	SMS_FORMAT_FORM, /* application/x-www-form-urlencoded */
	SMS_FORMAT_JSON, /* application/json, every value a string */
};

/* One field of the request body: a name and a template in which
 * %{phone}, %{message}, %{code}, %{host}, %{ttl_minutes}, %{user} and %%
 * expand. */
struct sms_field {
	char *name;
	char *value;
};

/* What a gateway's answer of a success status must hold besides. */
enum sms_response {
	SMS_RESPONSE_JSON, /* nothing, or a well-formed JSON object */
	SMS_RESPONSE_ANY,  /* anything */
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
	size_t n_success_status; /* 0: the default, 200, 201, 202 */
	enum sms_response response;
	char *success_contains; /* NULL: nothing more asked of the answer */
	char *message;		/* NULL: SMS_DEFAULT_MESSAGE */
	unsigned code_digits;
	unsigned code_ttl;
	unsigned resend_after;
	unsigned enroll_messages; /* a user's codes to new numbers a day */
	unsigned timeout;	  /* seconds; 0: the default, 10 */
};

/* sms.message unless the configuration says otherwise. */
#define SMS_DEFAULT_MESSAGE \
	"%{code} is your login code for %{host}. It expires in %{ttl_minutes} minutes."

/* The largest message sent, and the largest field, once expanded. */
#define SMS_MESSAGE_MAX 1024
#define SMS_FIELD_MAX 2048
/* The most of a gateway's answer read; a longer answer is a failure. */
#define SMS_ANSWER_MAX (64 * 1024)

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

/* The placeholders of the templates, as bits. */
#define SMS_VAR_PHONE 0x01u
#define SMS_VAR_MESSAGE 0x02u
#define SMS_VAR_CODE 0x04u
#define SMS_VAR_HOST 0x08u
#define SMS_VAR_TTL 0x10u
#define SMS_VAR_USER 0x20u
#define SMS_VARS_FIELD 0x3fu			    /* what a field may hold */
#define SMS_VARS_MESSAGE (0x3fu & ~SMS_VAR_MESSAGE) /* and the message */

/* Checks a template for config.c: NULL if it holds only the placeholders
 * of allowed (SMS_VAR_* bits) and %%, with the ones it holds in *used;
 * else why not (a lone '%', an unknown, unclosed or unallowed %{...}). */
const char *sms_template_check(const char *tmpl, unsigned allowed, unsigned *used);

/* Expands tmpl into out (size bytes) with number, the message's text
 * (text: NULL for the message itself) and msg.  0, -EINVAL for a template
 * sms_template_check() refuses, -ENOSPC if it does not fit. */
int sms_expand(const char *tmpl, const char *number, const char *text,
	       const struct sms_message *msg, char *out, size_t size);

/* Whether text (len bytes, NULs included) is nothing but white space, or
 * one well-formed JSON object (RFC 8259, UTF-8, nested at most 32 deep):
 * what SMS_RESPONSE_JSON accepts. */
bool sms_json_valid(const char *text, size_t len);

/* The body of the request that sends msg to number: the fields of sc
 * expanded and encoded in its format.  0 with a new string in *body, of
 * *len bytes, that holds the code (wipe it); or -EINVAL, -ENOMEM with err
 * saying why, never with the code or the number. */
int sms_request_body(const struct sms_config *sc, const char *number, const struct sms_message *msg,
		     char **body, size_t *len, struct mfa_error *err);

/* Sends one message to number through the gateway of sc, within its
 * timeout: the request carries the fields expanded, the gateway's answer
 * must be one of the success statuses, with a body that response and
 * success_contains accept.  0, or -EIO (refused, an error status, an
 * answer not accepted, a credential file not trusted), -ETIMEDOUT,
 * -EINVAL (no gateway, a bad number, a template too long), -ENOMEM, with
 * err saying
 * what happened, never with the code, the message, the number in full or
 * a credential in it. */
int sms_send(const struct sms_config *sc, const char *number, const struct sms_message *msg,
	     struct mfa_error *err);

#endif
