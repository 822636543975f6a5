/* The mails only mfactl sends users: the notice that an administrator
 * reset their factors, and how to set up MFA at the next login.  The
 * module's own mails are core/notify.h's. */
#ifndef MFACTL_NOTICES_H
#define MFACTL_NOTICES_H

#include "config.h"

/* An administrator reset what of the user's factors ("email codes", "the
 * factor \"phone\""; NULL: all of them). */
int notify_reset(const struct mfa_config *cfg, const char *to, const char *user, const char *what,
		 struct mfa_error *err);
/* How to set up MFA at the next login. */
int notify_setup(const struct mfa_config *cfg, const char *to, const char *user, const char *policy,
		 struct mfa_error *err);

#endif
