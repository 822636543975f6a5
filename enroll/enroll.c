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
#include "sms.h"
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
		r = store_enroll_totp(req->st, req->cfg, req->user, req->basis, &t, req->label,
				      req->replaces, code, &at, &res, err);
		secure_wipe(code, sizeof(code));
		if (r < 0)
			goto out;
		enroll_note_result(req, &res);
		if (res.outcome != VERIFY_WRONG) {
			*outcome = res.outcome == VERIFY_OK	      ? ENROLL_DONE :
				   res.outcome == VERIFY_NOT_ENROLLED ? ENROLL_CHANGED :
				   res.outcome == VERIFY_TOO_MANY     ? ENROLL_TOO_MANY :
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

/* The methods in the order they are offered: an app first (it needs no
 * gateway), then text messages, then email. */
static const struct {
	unsigned method;
	const char *words;
} offered_methods[] = {
	{ METHOD_TOTP, "use an authenticator app" },
	{ METHOD_SMS, "get codes by text message (SMS)" },
	{ METHOD_EMAIL, "get codes by email" },
};

int enroll_choose_method(pam_handle_t *pamh, unsigned allowed, unsigned *method)
{
	unsigned choice[3], n = 0;

	for (size_t i = 0; i < sizeof(offered_methods) / sizeof(offered_methods[0]); i++)
		if (allowed & offered_methods[i].method)
			choice[n++] = offered_methods[i].method;
	if (n == 0)
		return -1;
	if (n == 1) {
		*method = choice[0];
		return 0;
	}
	for (int attempt = 0; attempt < ENROLL_ATTEMPTS; attempt++) {
		char prompt[256], *answer = NULL, *a;
		size_t pos = 0;

		for (unsigned i = 0; i < n; i++) {
			const char *words = "";

			for (size_t j = 0; j < sizeof(offered_methods) / sizeof(offered_methods[0]);
			     j++)
				if (offered_methods[j].method == choice[i])
					words = offered_methods[j].words;
			pos += (size_t)snprintf(prompt + pos, sizeof(prompt) - pos, "%s%u to %s",
						i == 0	   ? "Type " :
						i + 1 == n ? ", or " :
							     ", ",
						i + 1, words);
		}
		(void)snprintf(prompt + pos, sizeof(prompt) - pos, ": ");
		if (pam_prompt(pamh, PAM_PROMPT_ECHO_ON, &answer, "%s", prompt) != PAM_SUCCESS ||
		    answer == NULL) {
			secure_free_string(answer);
			return -1;
		}
		a = trimmed(answer);
		*method = 0;
		for (unsigned i = 0; i < n; i++)
			if (a[0] == (char)('1' + i) && a[1] == '\0')
				*method = choice[i];
		if (*method == 0 && (strcasecmp(a, "app") == 0 || strcasecmp(a, "totp") == 0))
			*method = allowed & METHOD_TOTP;
		else if (*method == 0 && strcasecmp(a, "email") == 0)
			*method = allowed & METHOD_EMAIL;
		else if (*method == 0 && strcasecmp(a, "sms") == 0)
			*method = allowed & METHOD_SMS;
		/* With sshd's password method any answer may be the password. */
		secure_free_string(answer);
		if (*method != 0)
			return 0;
		(void)pam_error(pamh, "Please type a number from 1 to %u.", n);
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
			  const struct store_factor *on_record, char *out, size_t len)
{
	const char *offered = on_record != NULL ? on_record->dest : "";

	if (on_record != NULL && on_record->by_admin && strlen(offered) < len) {
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

/* The phone number for text messages: an administrator's on record is
 * used as it is; else the user types it in E.164 form, the unverified one
 * on record offered.  -1: the conversation failed; -2: no valid answer. */
static int choose_number(pam_handle_t *pamh, const struct store_factor *on_record, char *out,
			 size_t len)
{
	const char *offered = on_record != NULL ? on_record->dest : "";

	if (on_record != NULL && on_record->by_admin && strlen(offered) < len) {
		memcpy(out, offered, strlen(offered) + 1);
		return 0;
	}
	for (int attempt = 0; attempt < ENROLL_ATTEMPTS; attempt++) {
		char *answer = NULL, *a;
		int r;

		if (offered[0] != '\0')
			r = pam_prompt(pamh, PAM_PROMPT_ECHO_ON, &answer,
				       "Mobile number for text messages, with the country code "
				       "[%s]: ",
				       offered);
		else
			r = pam_prompt(pamh, PAM_PROMPT_ECHO_ON, &answer,
				       "Mobile number for text messages, with the country code "
				       "(+15550100123): ");
		if (r != PAM_SUCCESS || answer == NULL) {
			secure_free_string(answer);
			return -1;
		}
		a = trimmed(answer);
		if (a[0] == '\0' && offered[0] != '\0')
			a = (char *)offered;
		if (sms_number_valid(a) && strlen(a) < len) {
			memcpy(out, a, strlen(a) + 1);
			secure_free_string(answer);
			return 0;
		}
		secure_free_string(answer);
		(void)pam_error(pamh, "That is not a phone number this system accepts: a + and the "
				      "country code, then the number, digits only (+15550100123).");
	}
	return -2;
}

/* Sends a new code to dest: recorded first, within the user's limits and
 * on the basis of the enrollment, then sent; a code that cannot go out
 * leaves the record as it was. */
static enum enroll_outcome send_enroll_code(pam_handle_t *pamh, const struct enroll_request *req,
					    unsigned method, const char *dest, time_t now,
					    struct mfa_error *err)
{
	const struct mfa_config *cfg = req->cfg;
	struct code_target to = { method, 0, dest };
	struct email_booking booking;
	char code[EMAIL_CODE_DIGITS_MAX + 1];
	bool sending;
	long wait;
	int r;

	if (email_code_new(notify_code_digits(cfg, method), code) < 0) {
		secure_wipe(code, sizeof(code));
		mfa_error_set(err, "cannot get random bytes");
		return ENROLL_ERROR;
	}
	r = store_code_book(req->st, cfg, req->user, EMAIL_CODE_ENROLL, req->basis, &to, now,
			    &booking, &wait, &sending, err);
	if (r == 0) {
		r = notify_send_code(cfg, method, dest, req->user, code, true, req->service,
				     req->rhost, err);
		if (r == 0)
			r = store_code_sent(req->st, cfg, req->user, req->basis, &to, code,
					    &booking, time(NULL), err);
		else if (store_code_unbook(req->st, req->user, &booking, err) < 0)
			r = -ENOLCK; /* err says why the booking stays */
		else
			r = -EIO;
	}
	secure_wipe(code, sizeof(code));
	/* A code on its way holds others back for as long as sending it may
	 * take, which can be longer than resend_after. */
	if (r == -EAGAIN && (sending || wait <= (long)notify_resend_after(cfg, method)))
		(void)pam_error(pamh,
				"A code was sent moments ago; wait %ld seconds and "
				"log in again.",
				wait);
	else if (r == -EAGAIN)
		(void)pam_error(pamh,
				"Too many codes were sent to set up %s lately; "
				"try again in %ld minutes or contact your administrator.",
				method == METHOD_SMS ? "a phone number" : "an address",
				(wait + 59) / 60);
	return r == 0	    ? ENROLL_DONE :
	       r == -EAGAIN ? ENROLL_RATE_LIMITED :
	       r == -ESTALE ? ENROLL_CHANGED :
	       r == -EIO    ? ENROLL_MAIL_ERROR :
			      ENROLL_ERROR;
}

int enroll_sent_conversation(pam_handle_t *pamh, const struct enroll_request *req, unsigned method,
			     enum enroll_outcome *outcome, struct mfa_error *err)
{
	const struct mfa_config *cfg = req->cfg;
	const struct store_factor *on_record;
	struct store_summary rec;
	struct store_login at = { 0, req->service, req->rhost };
	char dest[FACTOR_DEST_MAX + 1], masked[FACTOR_DEST_MAX + 8];
	const char *where = method == METHOD_SMS ? "the text message" : "the email";
	unsigned ttl = notify_code_ttl(cfg, method);
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
	on_record = store_summary_unverified(&rec, method);
	r = method == METHOD_SMS ? choose_number(pamh, on_record, dest, sizeof(dest)) :
				   choose_address(pamh, req, on_record, dest, sizeof(dest));
	if (r < 0) {
		*outcome = r == -1 ? ENROLL_CONV_ERROR :
			   r == -3 ? ENROLL_NO_ADDRESS :
				     ENROLL_FAILED;
		goto out;
	}
	notify_mask(method, dest, masked, sizeof(masked));
	/* An unexpired code for this destination (sent by an admin, or
	 * another login) is the one to type: nothing new is sent. */
	if (on_record == NULL || strcmp(on_record->dest, dest) != 0 || !rec.code.pending ||
	    rec.code.factor != on_record->id || (int64_t)now >= rec.code.expires) {
		*outcome = send_enroll_code(pamh, req, method, dest, now, err);
		if (*outcome != ENROLL_DONE)
			goto out;
		*outcome = ENROLL_CONV_ERROR;
	}
	if (pam_info(pamh, "A code was sent to %s. It expires %u minute%s after it was sent.",
		     masked, (ttl + 59) / 60, ttl > 60 ? "s" : "") != PAM_SUCCESS)
		goto out;
	for (int attempt = 1; attempt <= ENROLL_ATTEMPTS; attempt++) {
		struct verify_result res;
		char *answer = NULL;
		char typed[CODE_INPUT_MAX + 1];

		if (pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, &answer,
			       "Code from %s, to confirm: ", where) != PAM_SUCCESS ||
		    answer == NULL) {
			secure_free_string(answer);
			goto out;
		}
		code_from_answer(answer, typed);
		secure_free_string(answer);
		at.now = time(NULL);
		r = store_enroll_sent(req->st, cfg, req->user, req->basis, method, dest, req->label,
				      req->replaces, typed, &at, &res, err);
		secure_wipe(typed, sizeof(typed));
		enroll_note_result(req, &res);
		if (r < 0 || res.outcome == VERIFY_STORE_ERROR) {
			*outcome = ENROLL_ERROR;
			goto out;
		}
		if (res.outcome == VERIFY_OK || res.outcome == VERIFY_NOT_ENROLLED ||
		    res.outcome == VERIFY_TOO_MANY) {
			*outcome = res.outcome == VERIFY_OK	  ? ENROLL_DONE :
				   res.outcome == VERIFY_TOO_MANY ? ENROLL_TOO_MANY :
								    ENROLL_CHANGED;
			goto out;
		}
		if (res.outcome == VERIFY_LOCKED || res.outcome == VERIFY_EXPIRED) {
			(void)pam_error(pamh,
					res.outcome == VERIFY_LOCKED ?
						"Too many wrong codes: try again later." :
						"That code has expired. Start again for a new one.");
			break;
		}
		if (attempt < ENROLL_ATTEMPTS)
			(void)pam_error(pamh,
					"That code is not right; check the latest %s and try "
					"again.",
					method == METHOD_SMS ? "text message" : "email");
	}
	*outcome = ENROLL_FAILED;
out:
	store_summary_wipe(&rec);
	return 0;
}
