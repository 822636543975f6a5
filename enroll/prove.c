/* Proving a factor the user holds, through a PAM conversation, before a
 * change of their factors (mfa-setup): a code from an app, or a code sent
 * to one of their addresses or numbers, checked by the store, which hands
 * back the proof that the change needs.  And the sending of a login code,
 * which the module's login and this share. */
#include <errno.h>
#include <security/pam_ext.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "answer.h"
#include "enroll.h"
#include "notify.h"
#include "recovery.h"
#include "secmem.h"

int enroll_send_login_code(const struct enroll_request *req, const struct store_factor *f,
			   long *wait, bool *sending, struct mfa_error *err)
{
	struct code_target to = { f->method, f->id, f->dest };
	struct email_booking booking;
	char code[EMAIL_CODE_DIGITS_MAX + 1];
	int r;

	*wait = 0;
	*sending = false;
	if (email_code_new(notify_code_digits(req->cfg, f->method), code) < 0) {
		secure_wipe(code, sizeof(code));
		mfa_error_set(err, "cannot get random bytes for a code");
		return -EIO;
	}
	r = store_code_book(req->st, req->cfg, req->user, EMAIL_CODE_LOGIN, NULL, &to, time(NULL),
			    &booking, wait, sending, err);
	if (r == 0) {
		r = notify_send_code(req->cfg, f->method, f->dest, req->user, code, false,
				     req->service, req->rhost, err);
		if (r == 0) {
			r = store_code_sent(req->st, req->cfg, req->user, NULL, &to, code, &booking,
					    time(NULL), err);
		} else {
			struct mfa_error undo = { "" };

			if (store_code_unbook(req->st, req->user, &booking, &undo) < 0)
				mfa_error_set(err,
					      "%s; and %s (the code that was not sent holds "
					      "others back for %lld seconds)",
					      err->msg, undo.msg,
					      (long long)email_booking_window(req->cfg, f->method));
			r = -ECOMM;
		}
	}
	secure_wipe(code, sizeof(code));
	return r;
}

int enroll_pick_dest(pam_handle_t *pamh, const struct store_summary *sum, unsigned mask,
		     bool silent, struct store_factor *out)
{
	const struct store_factor *f;
	unsigned n = 0;

	while (store_summary_nth(sum, mask, n) != NULL)
		n++;
	if (n == 0)
		return -ENOENT;
	if (n == 1) {
		*out = *store_summary_nth(sum, mask, 0);
		return 0;
	}
	if (!silent)
		(void)pam_info(pamh, "Where should the code go?");
	for (unsigned i = 0; i < n; i++) {
		char masked[FACTOR_DEST_MAX + 8];

		f = store_summary_nth(sum, mask, i);
		notify_mask(f->method, f->dest, masked, sizeof(masked));
		if (pam_info(pamh, "  %u. %s %s%s%s%s", i + 1,
			     f->method == METHOD_SMS ? "text message to" : "email to", masked,
			     f->label[0] != '\0' ? " (" : "", f->label,
			     f->label[0] != '\0' ? ")" : "") != PAM_SUCCESS)
			return -1;
	}
	for (int attempt = 0; attempt < ENROLL_ATTEMPTS; attempt++) {
		char *answer = NULL, *end;
		unsigned long pick;

		if (pam_prompt(pamh, PAM_PROMPT_ECHO_ON, &answer, "Send the code to (1-%u): ", n) !=
			    PAM_SUCCESS ||
		    answer == NULL) {
			secure_free_string(answer);
			return -1;
		}
		pick = strtoul(answer, &end, 10);
		if (end != answer && *end == '\0' && pick >= 1 && pick <= n) {
			secure_free_string(answer);
			*out = *store_summary_nth(sum, mask, (unsigned)pick - 1);
			return 0;
		}
		/* With sshd's password method any answer may be the password. */
		secure_free_string(answer);
		(void)pam_error(pamh, "Please type a number from 1 to %u.", n);
	}
	return -1;
}

static bool answer_is(const char *answer, const char *word)
{
	size_t n = strlen(word);

	answer += strspn(answer, " \t");
	if (strncasecmp(answer, word, n) != 0)
		return false;
	answer += n;
	return answer[strspn(answer, " \t")] == '\0';
}

/* Sends a login code to a destination of mask and reads it back. */
static enum enroll_outcome prove_sent(pam_handle_t *pamh, const struct enroll_request *req,
				      const struct store_summary *sum, unsigned mask,
				      struct store_factor *f, char *typed, struct mfa_error *err)
{
	char masked[FACTOR_DEST_MAX + 8], *answer = NULL;
	bool sending;
	long wait;
	int r;

	if (enroll_pick_dest(pamh, sum, mask, false, f) < 0)
		return ENROLL_CONV_ERROR;
	notify_mask(f->method, f->dest, masked, sizeof(masked));
	r = enroll_send_login_code(req, f, &wait, &sending, err);
	if (r == -ECOMM)
		return ENROLL_MAIL_ERROR;
	if (r == -ESTALE)
		return ENROLL_CHANGED;
	if (r < 0 && r != -EAGAIN)
		return ENROLL_ERROR;
	if (r == -EAGAIN)
		(void)pam_info(pamh, "A code was sent to %s moments ago: use it%s.", masked,
			       sending ? " when it comes" : "");
	else
		(void)pam_info(pamh, "A code was sent to %s.", masked);
	if (pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, &answer, "Code from the %s: ",
		       f->method == METHOD_SMS ? "text message" : "email") != PAM_SUCCESS ||
	    answer == NULL) {
		secure_free_string(answer);
		return ENROLL_CONV_ERROR;
	}
	if (recovery_code_canonical(answer, notify_code_digits(req->cfg, f->method), typed))
		f->id = STORE_FACTOR_BACKUP;
	else
		code_from_answer(answer, typed);
	secure_free_string(answer);
	return ENROLL_DONE;
}

int enroll_prove_conversation(pam_handle_t *pamh, const struct enroll_request *req,
			      const struct store_summary *sum, struct store_basis *basis,
			      enum enroll_outcome *outcome, struct mfa_error *err)
{
	struct store_login at = { 0, req->service, req->rhost };
	struct verify_result res;
	struct store_factor f;
	/* A factor of a method the policy no longer accepts proves nothing. */
	unsigned held = store_summary_methods(sum) & (req->allowed ? req->allowed : METHOD_ALL);
	unsigned sent = held & METHOD_SENT, factor = 0;
	char typed[CODE_INPUT_MAX + 1];
	int r;

	memset(&f, 0, sizeof(f));
	memset(typed, 0, sizeof(typed));
	*outcome = ENROLL_CONV_ERROR;
	/* The database a fleet shares takes only an app's code as proof from
	 * a user who has one: a host makes every code it sends (sql/008). */
	if ((held & METHOD_TOTP) && req->cfg->store.backend == STORE_BACKEND_POSTGRESQL)
		sent = 0;
	enroll_backup_help(pamh, sum);
	if (held & METHOD_TOTP) {
		char *answer = NULL;

		if (pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, &answer, "%s",
			       sent == METHOD_SENT ?
				       "Code from your authenticator app (or type "
				       "email or sms to get one sent): " :
			       sent == METHOD_EMAIL ?
				       "Code from your authenticator app (or type email to "
				       "get one by email): " :
			       sent == METHOD_SMS ?
				       "Code from your authenticator app (or type sms "
				       "to get one by text message): " :
				       "Code from your authenticator app: ") != PAM_SUCCESS ||
		    answer == NULL) {
			secure_free_string(answer);
			goto out;
		}
		if ((sent & METHOD_EMAIL) && answer_is(answer, "email"))
			sent = METHOD_EMAIL;
		else if ((sent & METHOD_SMS) && answer_is(answer, "sms"))
			sent = METHOD_SMS;
		else
			sent = 0;
		if (sent == 0 &&
		    recovery_code_canonical(answer, enroll_app_digits(req->cfg, sum), typed))
			factor = STORE_FACTOR_BACKUP;
		else if (sent == 0)
			code_from_answer(answer, typed);
		secure_free_string(answer);
	}
	if (held == 0) {
		mfa_error_set(err, "no factor the policy accepts to prove");
		*outcome = ENROLL_ERROR;
		goto out;
	}
	if ((!(held & METHOD_TOTP) || sent != 0) && factor != STORE_FACTOR_BACKUP) {
		*outcome = prove_sent(pamh, req, sum, sent ? sent : held & METHOD_SENT, &f, typed,
				      err);
		if (*outcome != ENROLL_DONE)
			goto out;
		factor = f.id;
	}
	at.now = time(NULL);
	r = store_prove(req->st, req->cfg, req->user, factor, typed, &at, &res, basis, err);
	if (r == 0)
		enroll_note_result(req, &res);
	if (r < 0 || res.outcome == VERIFY_STORE_ERROR) {
		*outcome = ENROLL_ERROR;
		goto out;
	}
	switch (res.outcome) {
	case VERIFY_OK: *outcome = ENROLL_DONE; break;
	case VERIFY_NOT_ENROLLED: *outcome = ENROLL_CHANGED; break;
	case VERIFY_LOCKED:
		(void)pam_error(pamh, "Too many wrong codes: your account is locked for now.");
		*outcome = ENROLL_FAILED;
		break;
	default:
		(void)pam_error(pamh, res.outcome == VERIFY_EXPIRED ? "That code has expired." :
								      "That code is not right.");
		*outcome = ENROLL_FAILED;
		break;
	}
	if (*outcome == ENROLL_FAILED)
		mfa_error_set(err, "reason=%s failures=%u%s",
			      res.outcome == VERIFY_LOCKED ? "locked" : "current-code",
			      res.fail_count, res.locked_now ? " locked=yes" : "");
out:
	secure_wipe(typed, sizeof(typed));
	secure_wipe(&f, sizeof(f));
	return 0;
}
