/* The end of an enrollment and the notices around codes: a new set of
 * recovery codes, kept and then shown once; the mail that tells a user a
 * recovery or bypass code was used, or that wrong codes locked the
 * account.  Notices are never conditions: a mail that fails is the
 * caller's to log. */
#include <errno.h>
#include <security/pam_ext.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "enroll.h"
#include "notify.h"
#include "recovery.h"
#include "secmem.h"

void enroll_note_result(const struct enroll_request *req, const struct verify_result *res)
{
	struct enroll_after *a = req->after;

	if (a == NULL)
		return;
	memset(a, 0, sizeof(*a));
	if (res->outcome == VERIFY_OK) {
		a->basis = res->basis;
		a->backup = res->backup;
		a->remaining = res->remaining;
	}
	a->locked_now = res->locked_now;
	a->failures = res->fail_count;
}

bool enroll_wants_recovery(const struct mfa_config *cfg, const struct store_summary *sum)
{
	return cfg->recovery.codes > 0 &&
	       (store_summary_methods(sum) == 0 || sum->recovery.left == 0);
}

unsigned enroll_app_digits(const struct mfa_config *cfg, const struct store_summary *sum)
{
	for (unsigned i = 0; i < sum->n_factors; i++)
		if (sum->factors[i].verified && sum->factors[i].method == METHOD_TOTP &&
		    sum->factors[i].params.digits == RECOVERY_SCRATCH_DIGITS)
			return RECOVERY_SCRATCH_DIGITS;
	return cfg->totp.digits;
}

/* The set as one message: a list two codes to a line. */
static int show_codes(pam_handle_t *pamh, char shown[][RECOVERY_CODE_TEXT], unsigned n)
{
	char text[RECOVERY_CODES_MAX * (RECOVERY_CODE_TEXT + 12) + 512];
	char *answer = NULL;
	size_t o;
	int r;

	o = (size_t)snprintf(text, sizeof(text),
			     "Your recovery codes. Each works once, in place of a code, if you "
			     "lose your device.\nWrite them down and keep them away from it: "
			     "they are not shown again.\n");
	for (unsigned i = 0; i < n && o < sizeof(text); i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "   %2u. %s%s", i + 1, shown[i],
				      i % 2 == 1 || i + 1 == n ? "\n" : "");
	if (o < sizeof(text))
		(void)snprintf(text + o, sizeof(text) - o,
			       "Any older recovery codes no longer work.");
	r = pam_info(pamh, "%s", text);
	secure_wipe(text, sizeof(text));
	if (r != PAM_SUCCESS)
		return -1;
	/* A prompt after them: sshd shows a PAM message to the client only
	 * with a prompt that follows it, and the user should say they have
	 * them before the login goes on. */
	r = pam_prompt(pamh, PAM_PROMPT_ECHO_ON, &answer,
		       "Press Enter once you have written them down: ");
	secure_free_string(answer);
	return r == PAM_SUCCESS ? 0 : -1;
}

int enroll_recovery_codes(pam_handle_t *pamh, const struct enroll_request *req,
			  const struct store_basis *basis, enum enroll_outcome *outcome,
			  struct mfa_error *err)
{
	char shown[RECOVERY_CODES_MAX][RECOVERY_CODE_TEXT];
	char canon[RECOVERY_CODES_MAX][RECOVERY_CANONICAL_MAX + 1];
	const char *codes[RECOVERY_CODES_MAX];
	unsigned n = req->cfg->recovery.codes;
	int r;

	*outcome = ENROLL_ERROR;
	if (n == 0 || n > RECOVERY_CODES_MAX) {
		mfa_error_set(err, "recovery codes are not made here (recovery.codes = %u)", n);
		return 0;
	}
	if (recovery_codes_make(n, shown, canon) < 0) {
		mfa_error_set(err, "cannot get random bytes for recovery codes");
		return 0;
	}
	for (unsigned i = 0; i < n; i++)
		codes[i] = canon[i];
	r = store_recovery_new(req->st, req->user, basis, codes, n, time(NULL), err);
	secure_wipe(canon, sizeof(canon));
	/* Shown only once kept: a code the store does not hold would fail
	 * the user on the day it is needed. */
	if (r == -ESTALE || r == -EPERM)
		*outcome = ENROLL_CHANGED;
	else if (r < 0)
		*outcome = ENROLL_ERROR;
	else
		*outcome = show_codes(pamh, shown, n) == 0 ? ENROLL_DONE : ENROLL_CONV_ERROR;
	secure_wipe(shown, sizeof(shown));
	return r == -ENOMEM ? -ENOMEM : 0;
}

bool enroll_notice_address(const struct mfa_config *cfg, const struct store_summary *sum,
			   const char *user, char *to, size_t len)
{
	const struct store_factor *e = store_summary_nth(sum, METHOD_EMAIL, 0);

	if (cfg->email.smtp_url == NULL || cfg->email.from == NULL)
		return false;
	return notify_address(cfg, e != NULL ? e->dest : NULL, user, to, len);
}

void enroll_backup_help(pam_handle_t *pamh, const struct store_summary *sum)
{
	if (sum->recovery.left > 0 || store_bypass_outstanding(sum, (int64_t)time(NULL)))
		(void)pam_info(pamh, "Lost your device? A recovery code works here too.");
}

/* The user's notice address, from a fresh summary (enroll_notice_address()),
 * with the summary's lock end in *until if not NULL. */
static bool user_address(const struct enroll_request *req, char *to, size_t len, int64_t *until)
{
	struct mfa_error err = { "" };
	struct store_summary sum;
	bool known = false;

	if (store_summary(req->st, req->user, &sum, &err) == 0) {
		known = enroll_notice_address(req->cfg, &sum, req->user, to, len);
		if (until != NULL)
			*until = sum.locked_until;
	}
	store_summary_wipe(&sum);
	return known;
}

int enroll_backup_notice(const struct enroll_request *req, enum store_backup_kind kind,
			 unsigned remaining, struct mfa_error *err)
{
	char to[EMAIL_ADDRESS_MAX + 1];

	if (!user_address(req, to, sizeof(to), NULL))
		return 0;
	return notify_backup_used(req->cfg, to, req->user, kind == BACKUP_BYPASS, remaining,
				  req->service, req->rhost, err);
}

int enroll_lock_notice(const struct enroll_request *req, unsigned failures, struct mfa_error *err)
{
	const struct mfa_config *cfg = req->cfg;
	struct mfa_error e2 = { "" };
	char to[EMAIL_ADDRESS_MAX + 1];
	int64_t until = 0;
	bool due = false;
	int r, r2 = 0;

	if (cfg->email.smtp_url == NULL || cfg->email.from == NULL)
		return 0;
	r = store_lock_notice_due(req->st, req->user, time(NULL), cfg->notify.lockout_interval,
				  &due, err);
	if (r < 0 || !due)
		return r;
	/* One read for both: where the user hears of it, and until when. */
	if (user_address(req, to, sizeof(to), &until))
		r = notify_locked(cfg, to, req->user, false, req->service, req->rhost, until,
				  failures, err);
	if (cfg->notify.lockout_to != NULL)
		r2 = notify_locked(cfg, cfg->notify.lockout_to, req->user, true, req->service,
				   req->rhost, until, failures, r < 0 ? &e2 : err);
	return r < 0 ? r : r2;
}
