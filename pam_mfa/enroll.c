/* TOTP enrollment through a PAM conversation; see enroll.h.  The new secret
 * lives only in this function's memory until a code from the app proves it,
 * and is wiped on every path. */
#include <errno.h>
#include <security/pam_ext.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "enroll.h"
#include "lockout.h"
#include "qr.h"
#include "secmem.h"
#include "verify.h"

void enroll_account_label(const char *user, char *out, size_t len)
{
	char host[256] = "";

	if (gethostname(host, sizeof(host) - 1) < 0 || host[0] == '\0')
		(void)snprintf(out, len, "%s", user);
	else
		(void)snprintf(out, len, "%s@%s", user, host);
}

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

static enum enroll_outcome save_secret(const struct enroll_request *req,
				       const struct mfa_totp *t, uint64_t step,
				       struct mfa_error *err)
{
	struct mfa_record rec;
	struct store_txn *txn = NULL;
	enum enroll_outcome o = ENROLL_CHANGED;
	time_t now = time(NULL);
	bool exists;

	if (store_begin(req->st, req->user, &txn, &rec, &exists, err) < 0)
		return ENROLL_ERROR;
	if (req->old_secret != NULL ?
	    !rec.totp.enrolled || rec.totp.secret_len != req->old_secret_len ||
	    !consttime_equal(rec.totp.secret, req->old_secret, req->old_secret_len) :
	    rec.totp.enrolled)
		goto out;	/* another login or an admin got there first */
	rec.totp = *t;
	rec.totp.enrolled = true;
	rec.totp.enrolled_at = (int64_t)now;
	rec.totp.last_step = step;	/* the code that proved it is spent */
	rec.skip_since = 0;
	lockout_clear(&rec);
	rec.last_login = (int64_t)now;
	record_set_text(rec.last_service, req->service);
	record_set_text(rec.last_rhost, req->rhost);
	o = store_commit(txn, &rec, err) < 0 ? ENROLL_ERROR : ENROLL_DONE;
out:
	store_end(txn);
	record_wipe(&rec);
	return o;
}

int enroll_totp_conversation(pam_handle_t *pamh, const struct enroll_request *req,
			     enum enroll_outcome *outcome, struct mfa_error *err)
{
	struct mfa_totp t;
	char uri[1024], label[USER_NAME_MAX + 260], b32[TOTP_SECRET_B32_MAX + 1];
	char grouped[TOTP_SECRET_B32_MAX + TOTP_SECRET_B32_MAX / 4 + 1];
	char code[CODE_INPUT_MAX + 1];
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
	enroll_account_label(req->user, label, sizeof(label));
	if (totp_uri(req->cfg->issuer, label, t.secret, t.secret_len, &t.params,
		     uri, sizeof(uri)) < 0) {
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
	    pam_info(pamh, "or type in this key (time-based, %u digits): %s",
		     t.params.digits, grouped) != PAM_SUCCESS)
		goto out;

	for (int attempt = 1; attempt <= ENROLL_ATTEMPTS; attempt++) {
		char *answer = NULL;
		uint64_t step;
		int v;

		if (pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, &answer,
			       "Code shown by the app, to confirm: ") != PAM_SUCCESS ||
		    answer == NULL) {
			secure_free_string(answer);
			goto out;
		}
		code_from_answer(answer, code);
		secure_free_string(answer);
		v = totp_verify(t.secret, t.secret_len, &t.params, code, time(NULL),
				req->cfg->totp.window, 0, &step);
		secure_wipe(code, sizeof(code));
		if (v == 1) {
			*outcome = save_secret(req, &t, step, err);
			goto out;
		}
		if (attempt < ENROLL_ATTEMPTS)
			(void)pam_error(pamh, "That code is not right. Check that the phone sets "
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
