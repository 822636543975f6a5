/* The module's own lockout; see lockout.h. */
#include "lockout.h"

bool lockout_until_active(int64_t locked_until, time_t now)
{
	return locked_until < 0 || locked_until > (int64_t)now;
}

bool lockout_active(const struct mfa_record *rec, time_t now)
{
	return lockout_until_active(rec->locked_until, now);
}

bool lockout_record_failure(struct mfa_record *rec, const struct mfa_config *cfg, time_t now)
{
	int64_t t = (int64_t)now;

	if (rec->locked_until > 0 && rec->locked_until <= t) {
		/* An expired lock starts a new count. */
		rec->locked_until = 0;
		rec->fail_count = 0;
		rec->fail_since = 0;
	}
	/* A clock that went backwards also starts a new interval. */
	if (rec->fail_since == 0 || t < rec->fail_since ||
	    t - rec->fail_since >= (int64_t)cfg->lockout.interval) {
		rec->fail_since = t;
		rec->fail_count = 0;
	}
	if (rec->fail_count < 1000000)
		rec->fail_count++;
	if (rec->fail_count >= cfg->lockout.attempts && rec->locked_until == 0) {
		rec->locked_until = cfg->lockout.unlock_after == 0 ?
					    -1 :
					    t + (int64_t)cfg->lockout.unlock_after;
		return true;
	}
	return false;
}

void lockout_clear(struct mfa_record *rec)
{
	rec->fail_count = 0;
	rec->fail_since = 0;
	rec->locked_until = 0;
}
