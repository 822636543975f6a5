/* The emails pam_mfa sends to users: login and verification codes and the
 * confirmation of an enrollment.  An admin's reset notice and the setup
 * instructions are mfactl's (mfactl/notices.h). */
#ifndef PAM_MFA_NOTIFY_H
#define PAM_MFA_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* This host's name in printable ASCII (see sanitize_printable()), or
 * "this system" if it has none: safe in a subject or a body. */
void notify_host_name(char *out, size_t len);
/* The time now, as "2026-11-22 06:32:00 UTC". */
void notify_utc_now(char *out, size_t len);

/* The address to write to: the verified one (NULL or empty: none), else
 * the template's; false if none is known. */
bool notify_address(const struct mfa_config *cfg, const char *verified, const char *user, char *out,
		    size_t len);

/* A one-time code: for a login, or to prove the address (verify true). */
int notify_code(const struct mfa_config *cfg, const char *to, const char *user, const char *code,
		bool verify, const char *service, const char *rhost, struct mfa_error *err);
/* A code by the method's channel: notify_code() for METHOD_EMAIL, a text
 * message through the SMS gateway (sms.message) for METHOD_SMS. */
int notify_send_code(const struct mfa_config *cfg, unsigned method, const char *to,
		     const char *user, const char *code, bool verify, const char *service,
		     const char *rhost, struct mfa_error *err);
/* The destination as users may be shown it: email_mask() or sms_mask(). */
void notify_mask(unsigned method, const char *dest, char *out, size_t len);
/* The method's code settings: email.* or sms.*. */
unsigned notify_code_digits(const struct mfa_config *cfg, unsigned method);
unsigned notify_code_ttl(const struct mfa_config *cfg, unsigned method);
unsigned notify_resend_after(const struct mfa_config *cfg, unsigned method);

/* What a user did to their own factors (mfa-setup), for the notice. */
enum notify_change {
	NOTIFY_ADDED,
	NOTIFY_REMOVED,
	NOTIFY_REPLACED,
	NOTIFY_ALL_REMOVED,    /* MFA turned off for the account */
	NOTIFY_RECOVERY_CODES, /* a new set of recovery codes (what: "") */
};
/* Tells to (the user's verified address) that a factor (what: "an
 * authenticator app \"phone\"", "the phone number +1******0100") changed
 * through service. */
int notify_factor_changed(const struct mfa_config *cfg, const char *to, const char *user,
			  enum notify_change change, const char *what, const char *service,
			  struct mfa_error *err);
/* The user was locked out after too many wrong codes: where (this host,
 * service, remote host) and until when (-1: until an administrator
 * unlocks).  To the user, or with team to the security team
 * (notify.lockout_to).  Never a code. */
int notify_locked(const struct mfa_config *cfg, const char *to, const char *user, bool team,
		  const char *service, const char *rhost, int64_t until, unsigned failures,
		  struct mfa_error *err);
/* A recovery code (or with bypass the helpdesk's bypass code) was used to
 * log in: where, and how many are left (remaining).  Never the code. */
int notify_backup_used(const struct mfa_config *cfg, const char *to, const char *user, bool bypass,
		       unsigned remaining, const char *service, const char *rhost,
		       struct mfa_error *err);
/* A factor was set up (method "totp", "email" or "sms") through service. */
int notify_enrolled(const struct mfa_config *cfg, const char *to, const char *user,
		    const char *method, const char *service, const char *rhost,
		    struct mfa_error *err);

#endif
