/* Ends a user's sessions on this host, for mfactl reset --logout: through
 * systemd-logind where it runs, then by signalling every process left
 * whose real or effective uid is the user's.  Never root's, a system
 * account's or the caller's own. */
#ifndef MFACTL_LOGOUT_H
#define MFACTL_LOGOUT_H

#include <stdbool.h>
#include <sys/types.h>

#include "util.h"

/* The lowest uid whose processes may be ended: below it are the system's
 * accounts, whose processes are services, not sessions. */
#define LOGOUT_UID_MIN 1000
/* How long the processes have after SIGTERM, before SIGKILL. */
#define LOGOUT_GRACE_SECONDS 3

struct logout_result {
	bool logind;	    /* systemd-logind ended the user's sessions */
	unsigned sessions;  /* logind's sessions, plus the distinct session ids of
			      * the processes outside them */
	unsigned processes; /* the processes signalled */
	unsigned survivors; /* still there after SIGKILL (stuck in the kernel) */
	bool logind_failed; /* loginctl terminate-user failed: said in err */
};

/* Whether the processes of uid may be ended: -EPERM (err says why) for
 * root, a system account (below LOGOUT_UID_MIN), the overflow uid
 * (nobody) and the user running mfactl (or sudo's SUDO_UID). */
int logout_check(uid_t uid, struct mfa_error *err);

/* Ends the sessions and processes of uid (logout_check() first); 0 with
 * res filled, even when some survived or logind failed (res and err say
 * so), or -errno when /proc cannot be read. */
int logout_user(uid_t uid, struct logout_result *res, struct mfa_error *err);

#endif
