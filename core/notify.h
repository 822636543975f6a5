/* The emails pam_mfa sends to users: login and verification codes, the
 * confirmation of an enrollment, an admin's reset, and setup instructions. */
#ifndef PAM_MFA_NOTIFY_H
#define PAM_MFA_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

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
/* An administrator reset the user's factors (method NULL: all of them). */
int notify_reset(const struct mfa_config *cfg, const char *to, const char *user, const char *method,
		 struct mfa_error *err);
/* How to set up MFA at the next login. */
int notify_setup(const struct mfa_config *cfg, const char *to, const char *user, const char *policy,
		 struct mfa_error *err);

#endif
