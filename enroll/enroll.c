/* TOTP enrollment through a PAM conversation; see enroll.h.  The new secret
 * lives only in this function's memory until a code from the app proves it,
 * and is wiped on every path. */
#include <errno.h>
#include <security/pam_ext.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "enroll.h"
#include "notify.h"
#include "qr.h"
#include "secmem.h"
#include "answer.h"

/* Sends text one line per message: some applications cap a message at
 * PAM_MAX_MSG_SIZE (512 bytes), and a QR code is several kilobytes. */
static int info_lines(pam_handle_t *pamh, const char *text)
{
	const char *p = text;

	while (*p != '\0') {
		size_t len = strcspn(p, "\n");
		int r = pam_info(pamh, "%.*s", (int)len, p);

		if (r != PAM_SUCCESS)
			return r;
		p += len;
		if (*p == '\n')
			p++;
	}
	return PAM_SUCCESS;
}

int enroll_totp_conversation(pam_handle_t *pamh, const struct enroll_request *req,
			     enum enroll_outcome *outcome, struct mfa_error *err)
{
	struct mfa_totp t;
	char uri[1024], label[USER_NAME_MAX + 260], b32[TOTP_SECRET_B32_MAX + 1];
	char grouped[TOTP_SECRET_B32_MAX + TOTP_SECRET_B32_MAX / 4 + 1];
	char code[CODE_INPUT_MAX + 1];
	struct store_login at = { 0, req->service, req->rhost };
	char *qr = NULL;
	size_t g = 0;
	int r = 0;

	*outcome = ENROLL_CONV_ERROR;
	memset(&t, 0, sizeof(t));
	t.params = config_totp_params(req->cfg);
	t.secret_len = totp_secret_length(t.params.algorithm);
	if (secure_random(t.secret, t.secret_len) < 0) {
		mfa_error_set(err, "cannot get random bytes");
		*outcome = ENROLL_ERROR;
		goto out;
	}
	totp_account_label(req->user, req->cfg->store.backend == STORE_BACKEND_POSTGRESQL, label,
			   sizeof(label));
	if (totp_uri(req->cfg->issuer, label, t.secret, t.secret_len, &t.params, uri, sizeof(uri)) <
	    0) {
		mfa_error_set(err, "the otpauth URI does not fit");
		*outcome = ENROLL_ERROR;
		goto out;
	}
	r = qr_render_text(uri, QR_STYLE_UTF8, &qr);
	if (r < 0) {
		mfa_error_set(err, "cannot draw the QR code: %s", strerror(-r));
		*outcome = ENROLL_ERROR;
		goto out;
	}
	base32_encode(t.secret, t.secret_len, b32);
	for (size_t i = 0; b32[i] != '\0'; i++) {
		if (i > 0 && i % 4 == 0)
			grouped[g++] = ' ';
		grouped[g++] = b32[i];
	}
	grouped[g] = '\0';

	if (pam_info(pamh, "Scan this QR code with your authenticator app:") != PAM_SUCCESS ||
	    info_lines(pamh, qr) != PAM_SUCCESS ||
	    pam_info(pamh, "If you cannot scan it, open this link on the phone:") != PAM_SUCCESS ||
	    pam_info(pamh, "%s", uri) != PAM_SUCCESS ||
	    pam_info(pamh, "or type in this key (time-based, %u digits): %s", t.params.digits,
		     grouped) != PAM_SUCCESS)
		goto out;

	for (int attempt = 1; attempt <= ENROLL_ATTEMPTS; attempt++) {
		struct verify_result res;
		char *answer = NULL;

		if (pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, &answer,
			       "Code shown by the app, to confirm: ") != PAM_SUCCESS ||
		    answer == NULL) {
			secure_free_string(answer);
			goto out;
		}
		code_from_answer(answer, code);
		secure_free_string(answer);
		at.now = time(NULL);
		r = store_enroll_totp(req->st, req->cfg, req->user, req->basis, &t, code, &at, &res,
				      err);
		secure_wipe(code, sizeof(code));
		if (r < 0)
			goto out;
		if (res.outcome != VERIFY_WRONG) {
			*outcome = res.outcome == VERIFY_OK	      ? ENROLL_DONE :
				   res.outcome == VERIFY_NOT_ENROLLED ? ENROLL_CHANGED :
									ENROLL_ERROR;
			goto out;
		}
		if (attempt < ENROLL_ATTEMPTS)
			(void)pam_error(pamh,
					"That code is not right. Check that the phone sets "
					"its clock automatically, wait for the next code, and "
					"try again.");
	}
	*outcome = ENROLL_FAILED;
out:
	secure_wipe(&t, sizeof(t));
	secure_wipe(uri, sizeof(uri));
	secure_wipe(b32, sizeof(b32));
	secure_wipe(grouped, sizeof(grouped));
	secure_free_string(qr);
	return r == -ENOMEM ? r : 0;
}

/* An answer without its surrounding blanks, in place. */
static char *trimmed(char *s)
{
	char *end;

	s += strspn(s, " \t");
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

int enroll_choose_method(pam_handle_t *pamh, unsigned allowed, unsigned *method)
{
	if (allowed == METHOD_TOTP || allowed == METHOD_EMAIL) {
		*method = allowed;
		return 0;
	}
	for (int attempt = 0; attempt < ENROLL_ATTEMPTS; attempt++) {
		char *answer = NULL, *a;

		if (pam_prompt(pamh, PAM_PROMPT_ECHO_ON, &answer,
			       "Type 1 to use an "
			       "authenticator app, or 2 to get codes by email: ") != PAM_SUCCESS ||
		    answer == NULL) {
			secure_free_string(answer);
			return -1;
		}
		a = trimmed(answer);
		*method = strcmp(a, "1") == 0 || strcasecmp(a, "app") == 0 ||
					  strcasecmp(a, "totp") == 0 ?
				  METHOD_TOTP :
			  strcmp(a, "2") == 0 || strcasecmp(a, "email") == 0 ? METHOD_EMAIL :
									       0;
		/* With sshd's password method any answer may be the password. */
		secure_free_string(answer);
		if (*method != 0)
			return 0;
		(void)pam_error(pamh, "Please type 1 or 2.");
	}
	return -1;
}

/* The address for the codes.  An administrator's address on record
 * (mfactl enroll --address) is used as it is, and where the organisation
 * has a template, its address: the user is never asked, so that a password
 * alone cannot name another (-3 for a name the template makes no address
 * of).  Without either, the user types it, and the unverified one on
 * record is offered.  -1: the conversation failed; -2: no valid answer. */
static int choose_address(pam_handle_t *pamh, const struct enroll_request *req,
			  const struct store_summary *rec, char *out, size_t len)
{
	const char *offered = rec->email.address;

	if (rec->email.by_admin && strlen(offered) < len) {
		memcpy(out, offered, strlen(offered) + 1);
		return 0;
	}
	if (req->cfg->email.address_template != NULL)
		return email_address_from_template(&req->cfg->email, req->user, out, len) ? -3 : 0;
	for (int attempt = 0; attempt < ENROLL_ATTEMPTS; attempt++) {
		char *answer = NULL, *a;
		int r;

		if (offered[0] != '\0')
			r = pam_prompt(pamh, PAM_PROMPT_ECHO_ON, &answer,
				       "Email address for your login codes [%s]: ", offered);
		else
			r = pam_prompt(pamh, PAM_PROMPT_ECHO_ON, &answer,
				       "Email address for your login codes: ");
		if (r != PAM_SUCCESS || answer == NULL) {
			secure_free_string(answer);
			return -1;
		}
		a = trimmed(answer);
		if (a[0] == '\0' && offered[0] != '\0')
			a = (char *)offered;
		if (email_address_valid(a) && strlen(a) < len) {
			memcpy(out, a, strlen(a) + 1);
			secure_free_string(answer);
			return 0;
		}
		secure_free_string(answer);
		(void)pam_error(pamh, "That is not an email address this system accepts "
				      "(name@example.org, without spaces or quotes).");
	}
	return -2;
}

/* Sends a new code to address: recorded first, within the user's limits and
 * on the basis of the enrollment, then mailed; a mail that cannot go out
 * leaves the record as it was. */
static enum enroll_outcome send_enroll_code(pam_handle_t *pamh, const struct enroll_request *req,
					    const char *address, time_t now, struct mfa_error *err)
{
	const struct mfa_config *cfg = req->cfg;
	struct email_booking booking;
	char code[EMAIL_CODE_DIGITS_MAX + 1];
	bool sending;
	long wait;
	int r;

	if (email_code_new(cfg->email.code_digits, code) < 0) {
		secure_wipe(code, sizeof(code));
		mfa_error_set(err, "cannot get random bytes");
		return ENROLL_ERROR;
	}
	r = store_email_book(req->st, cfg, req->user, EMAIL_CODE_ENROLL, req->basis, address, now,
			     &booking, &wait, &sending, err);
	if (r == 0) {
		r = notify_code(cfg, address, req->user, code, true, req->service, req->rhost, err);
		if (r == 0)
			r = store_email_sent(req->st, cfg, req->user, req->basis, address, code,
					     &booking, time(NULL), err);
		else if (store_email_unbook(req->st, req->user, &booking, err) < 0)
			r = -ENOLCK; /* err says why the booking stays */
		else
			r = -EIO;
	}
	secure_wipe(code, sizeof(code));
	/* A code on its way holds others back for as long as its mail may
	 * take, which can be longer than resend_after. */
	if (r == -EAGAIN && (sending || wait <= (long)cfg->email.resend_after))
		(void)pam_error(pamh,
				"A code was sent moments ago; wait %ld seconds and "
				"log in again.",
				wait);
	else if (r == -EAGAIN)
		(void)pam_error(pamh,
				"Too many codes were sent to set up an address lately; "
				"try again in %ld minutes or contact your administrator.",
				(wait + 59) / 60);
	return r == 0	    ? ENROLL_DONE :
	       r == -EAGAIN ? ENROLL_RATE_LIMITED :
	       r == -ESTALE ? ENROLL_CHANGED :
	       r == -EIO    ? ENROLL_MAIL_ERROR :
			      ENROLL_ERROR;
}

int enroll_email_conversation(pam_handle_t *pamh, const struct enroll_request *req,
			      enum enroll_outcome *outcome, struct mfa_error *err)
{
	const struct mfa_config *cfg = req->cfg;
	struct store_summary rec;
	struct store_login at = { 0, req->service, req->rhost };
	char address[EMAIL_ADDRESS_MAX + 1], masked[EMAIL_ADDRESS_MAX + 8];
	time_t now = time(NULL);
	int r;

	*outcome = ENROLL_CONV_ERROR;
	r = store_summary(req->st, req->user, &rec, err);
	if (r < 0) {
		*outcome = ENROLL_ERROR;
		return 0;
	}
	/* Changed since the choice was made: nothing to ask, nothing to send. */
	if (!store_basis_same(req->basis, &rec.basis)) {
		*outcome = ENROLL_CHANGED;
		goto out;
	}
	r = choose_address(pamh, req, &rec, address, sizeof(address));
	if (r < 0) {
		*outcome = r == -1 ? ENROLL_CONV_ERROR :
			   r == -3 ? ENROLL_NO_ADDRESS :
				     ENROLL_FAILED;
		goto out;
	}
	email_mask(address, masked, sizeof(masked));
	/* An unexpired code for this address (sent by an admin, or another
	 * login) is the one to type: no new mail. */
	if (!rec.email.code_pending || strcmp(rec.email.address, address) != 0 ||
	    (int64_t)now >= rec.email.code_expires) {
		*outcome = send_enroll_code(pamh, req, address, now, err);
		if (*outcome != ENROLL_DONE)
			goto out;
		*outcome = ENROLL_CONV_ERROR;
	}
	if (pam_info(pamh, "A code was sent to %s. It expires %u minute%s after it was sent.",
		     masked, (cfg->email.code_ttl + 59) / 60,
		     cfg->email.code_ttl > 60 ? "s" : "") != PAM_SUCCESS)
		goto out;
	for (int attempt = 1; attempt <= ENROLL_ATTEMPTS; attempt++) {
		struct verify_result res;
		char *answer = NULL;
		char typed[CODE_INPUT_MAX + 1];

		if (pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, &answer,
			       "Code from the email, to confirm: ") != PAM_SUCCESS ||
		    answer == NULL) {
			secure_free_string(answer);
			goto out;
		}
		code_from_answer(answer, typed);
		secure_free_string(answer);
		at.now = time(NULL);
		r = store_enroll_email(req->st, cfg, req->user, req->basis, address, typed, &at,
				       &res, err);
		secure_wipe(typed, sizeof(typed));
		if (r < 0 || res.outcome == VERIFY_STORE_ERROR) {
			*outcome = ENROLL_ERROR;
			goto out;
		}
		if (res.outcome == VERIFY_OK) {
			*outcome = ENROLL_DONE;
			goto out;
		}
		if (res.outcome == VERIFY_NOT_ENROLLED) {
			*outcome = ENROLL_CHANGED;
			goto out;
		}
		if (res.outcome == VERIFY_LOCKED || res.outcome == VERIFY_EXPIRED) {
			(void)pam_error(pamh,
					res.outcome == VERIFY_LOCKED ?
						"Too many wrong codes: try again later." :
						"That code has expired. Log in again for a new one.");
			break;
		}
		if (attempt < ENROLL_ATTEMPTS)
			(void)pam_error(pamh, "That code is not right; check the latest email "
					      "and try again.");
	}
	*outcome = ENROLL_FAILED;
out:
	store_summary_wipe(&rec);
	return 0;
}
