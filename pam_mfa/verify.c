/* Checking a TOTP code against a user's record; see verify.h. */
#include <errno.h>
#include <string.h>

#include "lockout.h"
#include "verify.h"

int verify_totp_code(struct store *st, const struct mfa_config *cfg, const char *user,
		     const char *code, time_t now, const char *service, const char *rhost,
		     struct verify_result *res, struct mfa_error *err)
{
	struct mfa_record rec;
	struct store_txn *txn = NULL;
	bool exists;
	int v, r;

	memset(res, 0, sizeof(*res));
	/* Lock, then read afresh: of two logins racing with one code, the
	 * second sees the first's last_step and is refused. */
	r = store_begin(st, user, &txn, &rec, &exists, err);
	if (r < 0) {
		res->outcome = VERIFY_STORE_ERROR;
		return r == -ENOMEM ? r : 0;
	}
	if (!exists || !rec.totp.enrolled) {
		res->outcome = VERIFY_NOT_ENROLLED;
		goto out;
	}
	if (lockout_active(&rec, now)) {
		res->outcome = VERIFY_LOCKED;
		goto out;
	}
	v = totp_verify(rec.totp.secret, rec.totp.secret_len, &rec.totp.params, code, now,
			cfg->totp.window, rec.totp.last_step, &res->step);
	if (v == 1) {
		rec.totp.last_step = res->step;
		lockout_clear(&rec);
		rec.last_login = (int64_t)now;
		record_set_text(rec.last_service, service);
		record_set_text(rec.last_rhost, rhost);
		res->outcome = VERIFY_OK;
	} else {
		res->locked_now = lockout_record_failure(&rec, cfg, now);
		res->outcome = v == 0 ? VERIFY_REPLAY : VERIFY_WRONG;
	}
	res->fail_count = rec.fail_count;
	if (store_commit(txn, &rec, err) < 0)
		res->outcome = VERIFY_STORE_ERROR;
out:
	store_end(txn);
	record_wipe(&rec);
	return 0;
}

void code_from_answer(const char *answer, char *out)
{
	size_t o = 0;

	if (answer == NULL || strnlen(answer, CODE_INPUT_MAX + 1) > CODE_INPUT_MAX) {
		memcpy(out, "x", 2);
		return;
	}
	for (const char *p = answer; *p != '\0'; p++)
		if (*p != ' ')
			out[o++] = *p;
	out[o] = '\0';
}
