/* The module's own lockout: lockout.attempts failures within
 * lockout.interval seconds lock the user for lockout.unlock_after seconds
 * (0: until an admin runs mfactl unlock). */
#ifndef PAM_MFA_LOCKOUT_H
#define PAM_MFA_LOCKOUT_H

#include <stdbool.h>
#include <time.h>

#include "config.h"
#include "record.h"

bool lockout_active(const struct mfa_record *rec, time_t now);
/* The same, from when the lock ends (0: none; -1: until an admin unlocks). */
bool lockout_until_active(int64_t locked_until, time_t now);
/* Counts one failure; returns true if this failure locked the user. */
bool lockout_record_failure(struct mfa_record *rec, const struct mfa_config *cfg, time_t now);
void lockout_clear(struct mfa_record *rec);

#endif
