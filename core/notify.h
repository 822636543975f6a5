/* The emails pam_mfa sends to users: login and verification codes and the
 * confirmation of an enrollment.  An admin's reset notice and the setup
 * instructions are mfactl's (mfactl/notices.h). */
#ifndef PAM_MFA_NOTIFY_H
#define PAM_MFA_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

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
/* A factor was set up (method "totp" or "email") through service. */
int notify_enrolled(const struct mfa_config *cfg, const char *to, const char *user,
		    const char *method, const char *service, const char *rhost,
		    struct mfa_error *err);

#endif
