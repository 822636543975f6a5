/* pam_mfa.so: the second factor at login.  An enrolled user is asked for a
 * TOTP code; a user who is not enrolled is offered enrollment, may skip it,
 * or is denied, as the policy of pam_mfa.conf says.  Every PAM return code
 * is chosen in one place, map_result(); see pam_mfa(8). */
#include <errno.h>
#include <liboath/oath.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define PAM_SM_AUTH
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <security/pam_modutil.h>

#include "build_config.h"
#include "config.h"
#include "answer.h"
#include "enroll.h"
#include "login_decision.h"
#include "notify.h"
#include "policy.h"
#include "recovery.h"
#include "secmem.h"
#include "store.h"
#include "totp.h"
#include "util.h"

struct module_options {
	const char *config_path;
	bool debug;
	bool skip_succeeds; /* skip_result=success */
};

/* What one authentication came to, before it becomes a PAM code. */
enum outcome {
	OUT_SUCCESS,  /* a right code, or an enrollment proved by one */
	OUT_SKIP,     /* exempt, or skipped as the policy allows */
	OUT_BAD_CODE, /* wrong, malformed or replayed code; failed enrollment */
	OUT_LOCKED,
	OUT_DENIED, /* must enroll but cannot do it in this login */
	OUT_USER_UNKNOWN,
	OUT_CONV_ERR,
	OUT_CONFIG_ERR,
	OUT_STORE_ERR,
	OUT_MAIL_ERR, /* the code could not be sent: not the user's fault */
	OUT_NOMEM,
};

struct login {
	pam_handle_t *pamh;
	struct module_options opt;
	struct mfa_config cfg;
	struct policy_decision policy;
	const char *user;
	char service[STORE_TEXT_MAX + 1];
	char rhost[STORE_TEXT_MAX + 1];
	const char *method;  /* for the log: "totp", "email" or "-" */
	bool has_totp;	     /* a usable authenticator app: for messages */
	unsigned app_digits; /* enroll_app_digits(): what an app's code looks like */
	bool silent;
	bool told; /* an error was already told to the user */
	/* Whether the account is known to exist: until then its name is not
	 * logged, for it may be a password typed at the user prompt. */
	bool account_known;
	/* The factors the user had when offered enrollment: what every write
	 * of the enrollment or skip checks (the store refuses them if the
	 * factors changed meanwhile). */
	struct store_basis basis;
};

/* The user's name as the log may show it. */
static const char *logged_user(const struct login *l)
{
	return l->account_known ? l->user : "?";
}

static int map_result(const struct login *l, enum outcome o)
{
	switch (o) {
	case OUT_SUCCESS: return PAM_SUCCESS;
	case OUT_SKIP: return l->opt.skip_succeeds ? PAM_SUCCESS : PAM_IGNORE;
	case OUT_BAD_CODE: return PAM_AUTH_ERR;
	case OUT_LOCKED: return PAM_AUTH_ERR;
	case OUT_DENIED: return PAM_PERM_DENIED;
	case OUT_USER_UNKNOWN: return PAM_USER_UNKNOWN;
	case OUT_CONV_ERR: return PAM_CONV_ERR;
	case OUT_CONFIG_ERR: return PAM_SERVICE_ERR;
	case OUT_STORE_ERR: return PAM_AUTHINFO_UNAVAIL;
	case OUT_MAIL_ERR: return PAM_AUTHINFO_UNAVAIL;
	case OUT_NOMEM: return PAM_BUF_ERR;
	}
	return PAM_SERVICE_ERR;
}

static int parse_args(pam_handle_t *pamh, int argc, const char **argv, struct module_options *opt)
{
	opt->config_path = PAM_MFA_DEFAULT_CONFIG;
	opt->debug = false;
	opt->skip_succeeds = false;
	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "config=", 7) == 0 && argv[i][7] == '/') {
			opt->config_path = argv[i] + 7;
		} else if (strcmp(argv[i], "debug") == 0) {
			opt->debug = true;
		} else if (strcmp(argv[i], "skip_result=ignore") == 0) {
			opt->skip_succeeds = false;
		} else if (strcmp(argv[i], "skip_result=success") == 0) {
			opt->skip_succeeds = true;
		} else {
			char shown[64];
			sanitize_printable(argv[i], shown, sizeof(shown));
			pam_syslog(pamh, LOG_ERR, "unknown or malformed module argument \"%s\"",
				   shown);
			return -EINVAL;
		}
	}
	return 0;
}

/* One line per decision, in a fixed shape that log tools can parse. */
static void log_outcome(struct login *l, int priority, const char *outcome, const char *detail)
{
	pam_syslog(l->pamh, priority,
		   "user=%s service=%s rhost=%s method=%s policy=%s outcome=%s%s%s", logged_user(l),
		   l->service, l->rhost[0] ? l->rhost : "-", l->method,
		   policy_name(l->policy.policy), outcome, detail ? " " : "", detail ? detail : "");
}

static void tell_user(struct login *l, const char *msg)
{
	if (!l->silent)
		(void)pam_error(l->pamh, "%s", msg);
	l->told = true;
}

/* True if answer is word, in any case, with blanks around it. */
static bool answer_is(const char *answer, const char *word)
{
	size_t len = strlen(word);

	answer += strspn(answer, " \t");
	if (strncasecmp(answer, word, len) != 0)
		return false;
	answer += len;
	return answer[strspn(answer, " \t")] == '\0';
}

/* The request the enrollment's shared parts (enroll/) take for this
 * login. */
static struct enroll_request login_request(const struct login *l, struct store *st)
{
	struct enroll_request req = {
		.cfg = &l->cfg,
		.st = st,
		.user = l->user,
		.service = l->service,
		.rhost = l->rhost,
	};

	return req;
}

/* Wrong codes just locked the user: the notices (enroll_lock_notice()),
 * rate limited by the store.  A notice is no condition of the outcome. */
static void lock_notice(struct login *l, struct store *st, unsigned failures)
{
	struct mfa_error err = { "" };
	struct enroll_request req = login_request(l, st);

	if (enroll_lock_notice(&req, failures, &err) < 0)
		pam_syslog(l->pamh, LOG_WARNING, "user=%s: lockout notice: %s", logged_user(l),
			   err.msg);
}

/* Logs and maps what a code check came to, TOTP or email alike. */
static enum outcome code_result(struct login *l, struct store *st, const struct verify_result *res,
				const struct mfa_error *err)
{
	char detail[96];

	switch (res->outcome) {
	case VERIFY_OK:
		log_outcome(l, LOG_INFO, "success", NULL);
		if (l->opt.debug && strcmp(l->method, "totp") == 0)
			pam_syslog(l->pamh, LOG_DEBUG, "user=%s accepted step %llu", logged_user(l),
				   (unsigned long long)res->step);
		return OUT_SUCCESS;
	case VERIFY_WRONG:
	case VERIFY_REPLAY:
	case VERIFY_EXPIRED:
		(void)snprintf(detail, sizeof(detail), "reason=%s failures=%u%s",
			       res->outcome == VERIFY_REPLAY  ? "replayed-code" :
			       res->outcome == VERIFY_EXPIRED ? "expired-code" :
								"wrong-code",
			       res->fail_count, res->locked_now ? " locked=yes" : "");
		log_outcome(l, LOG_NOTICE, "failure", detail);
		if (res->outcome == VERIFY_EXPIRED)
			tell_user(l, "That code has expired.");
		if (res->locked_now)
			lock_notice(l, st, res->fail_count);
		return OUT_BAD_CODE;
	case VERIFY_LOCKED:
		log_outcome(l, LOG_NOTICE, "failure", "reason=locked");
		return OUT_LOCKED;
	case VERIFY_NOT_ENROLLED:
		log_outcome(l, LOG_NOTICE, "failure", "reason=reset-during-login");
		return OUT_BAD_CODE;
	case VERIFY_TOO_MANY: /* an enrollment's, never a login's */
	case VERIFY_STORE_ERROR: break;
	}
	/* Without the record of this result a replay would pass: fail. */
	pam_syslog(l->pamh, LOG_ERR, "%s", err->msg);
	log_outcome(l, LOG_ERR, "error", "reason=store-write");
	return OUT_STORE_ERR;
}

/* Sends a fresh login code to the verified factor f (email or sms).  The
 * sending is booked first, under the lock, so that logins racing each
 * other cannot send more than one code per resend_after: *wait > 0 says
 * how long until another may go (*sending: one is on its way now), and
 * nothing was sent.  The code replaces the pending one only once it has
 * gone out, so a login killed while it sends leaves the user's last code
 * working; a server or gateway that is down changes nothing and counts
 * nothing. */
static enum outcome send_login_code(struct login *l, struct store *st, const struct store_factor *f,
				    long *wait, bool *sending)
{
	struct mfa_error err = { "" };
	struct enroll_request req = login_request(l, st);
	char masked[FACTOR_DEST_MAX + 8];
	int r = enroll_send_login_code(&req, f, wait, sending, &err);

	if (r == -EAGAIN)
		r = 0;
	if (r == -ESTALE) {
		log_outcome(l, LOG_NOTICE, "failure", "reason=reset-during-login");
		return OUT_BAD_CODE;
	}
	if (r == -ECOMM) {
		pam_syslog(l->pamh, LOG_ERR, "%s", err.msg);
		log_outcome(l, LOG_ERR, "error",
			    f->method == METHOD_SMS ? "reason=sms" : "reason=mail");
		tell_user(l,
			  l->has_totp ?
				  "Could not send the code: use your authenticator app or contact "
				  "your administrator." :
				  "Could not send the code: try again later or contact your administrator.");
		return OUT_MAIL_ERR;
	}
	if (r < 0) {
		pam_syslog(l->pamh, LOG_ERR, "%s", err.msg);
		log_outcome(l, LOG_ERR, "error", "reason=store-write");
		return r == -ENOMEM ? OUT_NOMEM : OUT_STORE_ERR;
	}
	notify_mask(f->method, f->dest, masked, sizeof(masked));
	if (*wait == 0 && !l->silent)
		(void)pam_info(l->pamh, "A code was sent to %s.", masked);
	return OUT_SUCCESS;
}

/* Where the code goes, among the user's verified destinations of mask
 * the policy allows (enroll_pick_dest()). */
static int choose_dest(struct login *l, const struct store_summary *rec, unsigned mask,
		       struct store_factor *out)
{
	return enroll_pick_dest(l->pamh, rec, mask & l->policy.methods & METHOD_SENT, l->silent,
				out);
}

/* The words that switch to another way at the code prompt. */
static void other_ways(const struct login *l, unsigned held, unsigned current, char *out,
		       size_t len)
{
	unsigned usable = held & l->policy.methods;

	out[0] = '\0';
	if ((usable & METHOD_EMAIL) && current != METHOD_EMAIL)
		(void)snprintf(out + strlen(out), len - strlen(out), ", email for one by email");
	if ((usable & METHOD_SMS) && current != METHOD_SMS)
		(void)snprintf(out + strlen(out), len - strlen(out),
			       ", sms for one by text message");
}

/* The code prompt for factor f, with the words that switch to another. */
static void code_prompt(const struct login *l, const struct store_factor *f, unsigned held,
			char *prompt, size_t len)
{
	char others[96];

	other_ways(l, held, f->method, others, sizeof(others));
	(void)snprintf(prompt, len, "Code from the %s (or type resend for a new one%s): ",
		       f->method == METHOD_SMS ? "text message" : "email", others);
}

/* Where the pending code went, if that is another verified factor than
 * *f: it becomes *f, with its mask and prompt. */
static void pending_dest(struct login *l, struct store *st, struct store_factor *f, char *masked,
			 size_t mlen, char *prompt, size_t plen)
{
	struct mfa_error err = { "" };
	struct store_summary rec;
	const struct store_factor *to;

	if (store_summary(st, l->user, &rec, &err) == 0 && rec.code.pending &&
	    rec.code.factor != f->id &&
	    (to = store_summary_factor(&rec, rec.code.factor)) != NULL && to->verified &&
	    (to->method & l->policy.methods)) {
		*f = *to;
		l->method = method_name(f->method);
		notify_mask(f->method, f->dest, masked, mlen);
		code_prompt(l, f, store_summary_methods(&rec), prompt, plen);
	}
	store_summary_wipe(&rec);
}

/* A recovery or bypass code typed at a code prompt (canonical): checked
 * by the store, which counts a wrong one like any wrong code; a right one
 * logs in, is logged and told of, and the user hears what is left. */
static enum outcome backup_login(struct login *l, struct store *st, const char *canonical)
{
	struct mfa_error err = { "" };
	struct store_login at = { time(NULL), l->service, l->rhost };
	struct enroll_request req = login_request(l, st);
	struct verify_result res;
	char detail[64];
	bool bypass;

	l->method = "recovery";
	if (store_verify_backup(st, &l->cfg, l->user, canonical, &at, &res, &err) < 0)
		return OUT_NOMEM;
	if (res.outcome != VERIFY_OK)
		return code_result(l, st, &res, &err);
	bypass = res.backup == BACKUP_BYPASS;
	l->method = bypass ? "bypass" : "recovery";
	(void)snprintf(detail, sizeof(detail), "remaining=%u", res.remaining);
	log_outcome(l, LOG_NOTICE, "success", detail);
	if (!l->silent && bypass)
		(void)pam_info(l->pamh, "Logged in with a bypass code; it works %u more time%s.",
			       res.remaining, res.remaining == 1 ? "" : "s");
	else if (!l->silent)
		(void)pam_info(l->pamh, "Logged in with a recovery code; %u %s left.%s",
			       res.remaining, res.remaining == 1 ? "is" : "are",
			       res.remaining <= 2 ?
				       " Make new ones with mfa-setup --recovery-codes." :
				       "");
	if (enroll_backup_notice(&req, res.backup, res.remaining, &err) < 0)
		pam_syslog(l->pamh, LOG_WARNING, "user=%s: no notice of the %s code: %s",
			   logged_user(l), l->method, err.msg);
	return OUT_SUCCESS;
}

/* Login by a sent code: to a destination of mask (the user picks one
 * where there are several), "resend" for another (no sooner than
 * resend_after after the last), "email" or "sms" to switch, then the
 * code. */
static enum outcome sent_login(struct login *l, struct store *st, unsigned mask)
{
	struct mfa_error err = { "" };
	struct store_summary rec;
	struct store_login at = { 0, l->service, l->rhost };
	struct verify_result res;
	struct store_factor f;
	char masked[FACTOR_DEST_MAX + 8], prompt[256];
	enum outcome o;
	unsigned held;
	bool sending, choose = true;
	long wait;
	int r;

	memset(&f, 0, sizeof(f));
	for (int round = 0; round < 6; round++) {
		char code[CODE_INPUT_MAX + 1];
		char *answer = NULL;

		if (choose) {
			choose = false;
			r = store_summary(st, l->user, &rec, &err);
			if (r == 0)
				r = choose_dest(l, &rec, mask, &f);
			held = store_summary_methods(&rec);
			store_summary_wipe(&rec);
			if (r == -1) {
				log_outcome(l, LOG_NOTICE, "error", "reason=conversation");
				return OUT_CONV_ERR;
			}
			if (r < 0) {
				if (r != -ENOENT)
					pam_syslog(l->pamh, LOG_ERR, "%s", err.msg);
				log_outcome(l, LOG_ERR, "error",
					    r != -ENOENT ? "reason=store" :
							   "reason=reset-during-login");
				return r != -ENOENT ? OUT_STORE_ERR : OUT_BAD_CODE;
			}
			l->method = method_name(f.method);
			notify_mask(f.method, f.dest, masked, sizeof(masked));
			code_prompt(l, &f, held, prompt, sizeof(prompt));
			if ((o = send_login_code(l, st, &f, &wait, &sending)) != OUT_SUCCESS)
				goto out;
			/* Nothing new went out: the code to use is the one sent
			 * moments ago, which may have gone to another of the
			 * user's destinations. */
			if (wait > 0)
				pending_dest(l, st, &f, masked, sizeof(masked), prompt,
					     sizeof(prompt));
			/* A code sent moments ago is still the one to use. */
			if (wait > 0 && !l->silent && sending)
				(void)pam_info(l->pamh,
					       "A code is on its way to %s: use it when it comes.",
					       masked);
			else if (wait > 0 && !l->silent)
				(void)pam_info(l->pamh,
					       "A code was sent to %s less than %u seconds "
					       "ago: use it.",
					       masked, notify_resend_after(&l->cfg, f.method));
		}
		if (pam_prompt(l->pamh, PAM_PROMPT_ECHO_OFF, &answer, "%s", prompt) !=
			    PAM_SUCCESS ||
		    answer == NULL) {
			secure_free_string(answer);
			log_outcome(l, LOG_NOTICE, "error", "reason=conversation");
			o = OUT_CONV_ERR;
			goto out;
		}
		if (answer_is(answer, "resend")) {
			secure_free_string(answer);
			if ((o = send_login_code(l, st, &f, &wait, &sending)) != OUT_SUCCESS)
				goto out;
			if (wait > 0) {
				tell_user(l, "A new code can be sent only a little later.");
				if (!l->silent)
					(void)pam_info(l->pamh,
						       "Wait %ld more seconds, or use the "
						       "code already sent.",
						       wait);
			}
			continue;
		}
		if ((answer_is(answer, "email") && (held & l->policy.methods & METHOD_EMAIL)) ||
		    (answer_is(answer, "sms") && (held & l->policy.methods & METHOD_SMS))) {
			mask = answer_is(answer, "sms") ? METHOD_SMS : METHOD_EMAIL;
			secure_free_string(answer);
			choose = true;
			continue;
		}
		if (recovery_code_canonical(answer, notify_code_digits(&l->cfg, f.method), code)) {
			secure_free_string(answer);
			o = backup_login(l, st, code);
			secure_wipe(code, sizeof(code));
			goto out;
		}
		code_from_answer(answer, code);
		secure_free_string(answer);
		at.now = time(NULL);
		r = store_verify_sent(st, &l->cfg, l->user, code, f.id, &at, &res, &err);
		secure_wipe(code, sizeof(code));
		if (r < 0) {
			o = OUT_NOMEM;
			goto out;
		}
		if (res.outcome == VERIFY_NOT_ENROLLED) {
			log_outcome(l, LOG_NOTICE, "failure", "reason=reset-during-login");
			o = OUT_BAD_CODE;
			goto out;
		}
		o = code_result(l, st, &res, &err);
		goto out;
	}
	log_outcome(l, LOG_NOTICE, "failure", "reason=too-many-resends");
	o = OUT_BAD_CODE;
out:
	secure_wipe(&f, sizeof(f));
	return o;
}

/* The TOTP prompt; where email or sms also works, "email" or "sms"
 * switches to a sent code. */
static enum outcome ask_code(struct login *l, struct store *st, unsigned sent)
{
	struct mfa_error err = { "" };
	struct store_login at = { 0, l->service, l->rhost };
	struct verify_result res;
	char code[CODE_INPUT_MAX + 1];
	char *answer = NULL;

	l->method = "totp";
	if (pam_prompt(l->pamh, PAM_PROMPT_ECHO_OFF, &answer, "%s",
		       sent == (METHOD_EMAIL | METHOD_SMS) ?
			       "Verification code (or type email or sms to get one sent): " :
		       sent == METHOD_EMAIL ?
			       "Verification code (or type email to get one by email): " :
		       sent == METHOD_SMS ?
			       "Verification code (or type sms to get one by text message): " :
			       "Verification code: ") != PAM_SUCCESS ||
	    answer == NULL) {
		secure_free_string(answer);
		log_outcome(l, LOG_NOTICE, "error", "reason=conversation");
		return OUT_CONV_ERR;
	}
	if ((sent & METHOD_EMAIL) && answer_is(answer, "email")) {
		secure_free_string(answer);
		return sent_login(l, st, METHOD_EMAIL);
	}
	if ((sent & METHOD_SMS) && answer_is(answer, "sms")) {
		secure_free_string(answer);
		return sent_login(l, st, METHOD_SMS);
	}
	if (recovery_code_canonical(answer, l->app_digits, code)) {
		enum outcome o;

		secure_free_string(answer);
		o = backup_login(l, st, code);
		secure_wipe(code, sizeof(code));
		return o;
	}
	code_from_answer(answer, code);
	secure_free_string(answer);
	at.now = time(NULL);
	if (store_verify_totp(st, &l->cfg, l->user, code, &at, &res, &err) < 0) {
		secure_wipe(code, sizeof(code));
		return OUT_NOMEM;
	}
	secure_wipe(code, sizeof(code));
	return code_result(l, st, &res, &err);
}

/* The one answer to a decision whose basis changed while the user was
 * asked: nothing was saved, log in again. */
static enum outcome changed_meanwhile(struct login *l)
{
	tell_user(l, "Your account's second factor changed while you were setting it up; "
		     "nothing was saved. Log in again.");
	log_outcome(l, LOG_NOTICE, "failure", "reason=enrolled-meanwhile");
	return OUT_BAD_CODE;
}

/* A skip, answered at the offer or by a conversation that could not show
 * it: the user's factors may have changed while the offer waited (another
 * session enrolled), and then this login must not pass without a code.
 * Under opt-out an answered skip is remembered. */
static enum outcome take_skip(struct login *l, struct store *st, bool remember, const char *reason)
{
	struct mfa_error err = { "" };
	int r = store_skip(st, l->user, &l->basis, remember, time(NULL), &err);

	if (r == -ESTALE)
		return changed_meanwhile(l);
	if (r < 0) {
		pam_syslog(l->pamh, LOG_ERR, "%s", err.msg);
		log_outcome(l, LOG_ERR, "error", "reason=store-write");
		return r == -ENOMEM ? OUT_NOMEM : OUT_STORE_ERR;
	}
	log_outcome(l, LOG_NOTICE, "skipped", reason);
	return OUT_SKIP;
}

/* The confirmation after an enrollment, where an address is known.  It is
 * a notice, not a condition: a mail failure is logged, not fatal. */
static void confirm_enrollment(struct login *l, struct store *st)
{
	struct mfa_error err = { "" };
	struct store_summary rec;
	char to[EMAIL_ADDRESS_MAX + 1];
	bool known;

	if (l->cfg.email.smtp_url == NULL || l->cfg.email.from == NULL)
		return;
	if (store_summary(st, l->user, &rec, &err) < 0 || !rec.exists)
		return;
	known = enroll_notice_address(&l->cfg, &rec, l->user, to, sizeof(to));
	store_summary_wipe(&rec);
	if (known &&
	    notify_enrolled(&l->cfg, to, l->user, l->method, l->service, l->rhost, &err) < 0)
		pam_syslog(l->pamh, LOG_WARNING, "user=%s: no confirmation email: %s",
			   logged_user(l), err.msg);
	/* An address the user just typed may be the attacker's own: the
	 * organisation's address for the user hears of it too. */
	{
		char org[EMAIL_ADDRESS_MAX + 1];

		if (email_address_from_template(&l->cfg.email, l->user, org, sizeof(org)) == 0 &&
		    (!known || strcmp(org, to) != 0) &&
		    notify_enrolled(&l->cfg, org, l->user, l->method, l->service, l->rhost, &err) <
			    0)
			pam_syslog(l->pamh, LOG_WARNING, "user=%s: no confirmation email: %s",
				   logged_user(l), err.msg);
	}
}

/* The set of recovery codes that ends an enrollment.  The factor is set
 * up whatever becomes of it: a failure is logged and the user told how to
 * make them later. */
static void recovery_codes(struct login *l, const struct enroll_request *req,
			   const struct store_basis *basis)
{
	struct mfa_error err = { "" };
	enum enroll_outcome eo;

	if (l->cfg.recovery.codes == 0)
		return;
	if (enroll_recovery_codes(l->pamh, req, basis, &eo, &err) < 0)
		eo = ENROLL_ERROR;
	if (eo == ENROLL_DONE) {
		pam_syslog(l->pamh, LOG_NOTICE, "user=%s: %u recovery codes made", logged_user(l),
			   l->cfg.recovery.codes);
		return;
	}
	pam_syslog(l->pamh, LOG_WARNING, "user=%s: no recovery codes made: %s", logged_user(l),
		   eo == ENROLL_CONV_ERROR ? "the conversation failed while showing them" :
		   eo == ENROLL_CHANGED	   ? "the factors changed meanwhile" :
					     err.msg);
	/* After a conversation that failed, nothing more reaches the user. */
	if (!l->silent && eo != ENROLL_CONV_ERROR)
		(void)pam_info(l->pamh, "No recovery codes could be made now: make them with "
					"mfa-setup --recovery-codes.");
}

static enum outcome enroll(struct login *l, struct store *st)
{
	struct mfa_error err = { "" };
	struct enroll_request req = login_request(l, st);
	struct enroll_after after;
	enum enroll_outcome eo;
	unsigned method;

	memset(&after, 0, sizeof(after));
	req.basis = &l->basis;
	req.after = &after;

	if (enroll_choose_method(l->pamh, l->policy.methods, &method) < 0) {
		log_outcome(l, LOG_NOTICE, "error", "reason=conversation");
		return OUT_CONV_ERR;
	}
	l->method = method_name(method);
	if ((method == METHOD_TOTP ?
		     enroll_totp_conversation(l->pamh, &req, &eo, &err) :
		     enroll_sent_conversation(l->pamh, &req, method, &eo, &err)) < 0)
		return OUT_NOMEM;
	switch (eo) {
	case ENROLL_DONE:
		(void)pam_info(l->pamh,
			       method == METHOD_TOTP ?
				       "Your authenticator app is set up. From now on, log in with "
				       "a code from it." :
			       method == METHOD_SMS ?
				       "Your phone number is set up. From now on, logins send a "
				       "code to it by text message." :
				       "Your email address is set up. From now on, logins send a "
				       "code to it.");
		log_outcome(l, LOG_NOTICE, "enrolled", NULL);
		confirm_enrollment(l, st);
		recovery_codes(l, &req, &after.basis);
		secure_wipe(&after, sizeof(after));
		return OUT_SUCCESS;
	case ENROLL_FAILED:
		if (after.locked_now)
			lock_notice(l, st, after.failures);
		tell_user(l, "Setup did not succeed and nothing was saved. "
			     "Log in again to start over.");
		log_outcome(l, LOG_NOTICE, "failure", "reason=enrollment-not-confirmed");
		return OUT_BAD_CODE;
	case ENROLL_CHANGED: return changed_meanwhile(l);
	case ENROLL_RATE_LIMITED:
		log_outcome(l, LOG_NOTICE, "failure", "reason=enroll-mail-limit");
		return OUT_BAD_CODE;
	case ENROLL_NO_ADDRESS:
		tell_user(l, "Your email address cannot be set up at login. Ask your "
			     "administrator to set it with mfactl.");
		log_outcome(l, LOG_NOTICE, "denied", "reason=no-address");
		return OUT_DENIED;
	case ENROLL_CONV_ERROR:
		log_outcome(l, LOG_NOTICE, "error", "reason=conversation");
		return OUT_CONV_ERR;
	case ENROLL_TOO_MANY:
		tell_user(l, "You have as many of these as this system allows; nothing was saved.");
		log_outcome(l, LOG_NOTICE, "failure", "reason=too-many-factors");
		return OUT_BAD_CODE;
	case ENROLL_MAIL_ERROR:
		pam_syslog(l->pamh, LOG_ERR, "%s", err.msg);
		log_outcome(l, LOG_ERR, "error",
			    method == METHOD_SMS ? "reason=sms" : "reason=mail");
		tell_user(l, "Could not send the code: try again later or contact your "
			     "administrator.");
		return OUT_MAIL_ERR;
	case ENROLL_ERROR: break;
	}
	pam_syslog(l->pamh, LOG_ERR, "%s", err.msg);
	log_outcome(l, LOG_ERR, "error", "reason=enrollment");
	return OUT_STORE_ERR;
}

/* What the offer says of the methods the policy allows. */
static const char *offer_words(unsigned methods)
{
	switch (methods & METHOD_ALL) {
	case METHOD_EMAIL: return "The codes will come by email.";
	case METHOD_SMS: return "The codes will come by text message.";
	case METHOD_SENT: return "The codes will come by text message or email.";
	case METHOD_TOTP:
		return "You need an authenticator app on your phone, such as Google "
		       "Authenticator, Microsoft Authenticator or Authy.";
	case METHOD_TOTP | METHOD_EMAIL:
		return "You can use an authenticator app on your phone, such as Google "
		       "Authenticator, Microsoft Authenticator or Authy, or get codes by email.";
	case METHOD_TOTP | METHOD_SMS:
		return "You can use an authenticator app on your phone, such as Google "
		       "Authenticator, Microsoft Authenticator or Authy, or get codes by text "
		       "message.";
	default: break;
	}
	return "You can use an authenticator app on your phone, such as Google Authenticator, "
	       "Microsoft Authenticator or Authy, or get codes by text message or email.";
}

/* The user has no factor: offer enrollment, with a skip where the
 * decision allows one (and under opt-out, remembered). */
static enum outcome offer_enrollment(struct login *l, struct store *st,
				     const struct login_decision *d)
{
	enum mfa_policy p = l->policy.policy;
	enum offer_answer a = OFFER_ANSWER_NONE;
	char *answer = NULL;
	int r;

	/* The offer is the first prompt: a conversation that cannot answer it
	 * cannot show a QR code either (a non-interactive service).  A caller
	 * that asked for silence (PAM_SILENT) cannot be shown one either. */
	if (!l->silent &&
	    pam_info(l->pamh,
		     "Multi-factor authentication is %s for your "
		     "account and is not set up yet. %s",
		     p == POLICY_REQUIRED ? "required" : "available",
		     offer_words(l->policy.methods)) == PAM_SUCCESS &&
	    (!d->may_skip ||
	     pam_info(l->pamh, d->skip_is_remembered ?
				       "Type \"skip\" to skip it; you will not be asked again." :
				       "Type \"skip\" to skip it for this login.") == PAM_SUCCESS))
		r = pam_prompt(l->pamh, PAM_PROMPT_ECHO_ON, &answer,
			       d->may_skip ? "Press Enter to set it up now, or type skip: " :
					     "Press Enter to set it up now: ");
	else
		r = PAM_CONV_ERR;
	if (r == PAM_SUCCESS && answer != NULL)
		a = answer_is(answer, "skip") ? OFFER_ANSWER_SKIP : OFFER_ANSWER_ENTER;
	/* With sshd's password method this answer is the password itself. */
	secure_free_string(answer);
	switch (login_offer_answer(d, a)) {
	case OFFER_SKIP_NON_INTERACTIVE: return take_skip(l, st, false, "reason=non-interactive");
	case OFFER_DENY_NON_INTERACTIVE:
		tell_user(l, "Multi-factor authentication is required for your account and is "
			     "not set up yet. Log in with an interactive client (ssh) to set it "
			     "up, or ask your administrator to enroll you with mfactl.");
		log_outcome(l, LOG_NOTICE, "denied", "reason=non-interactive");
		return OUT_DENIED;
	case OFFER_SKIP_REMEMBERED: return take_skip(l, st, true, "reason=opt-out remembered=yes");
	case OFFER_SKIP_THIS_TIME: return take_skip(l, st, false, "reason=optional");
	case OFFER_ENROLL_SKIP_REFUSED:
		(void)pam_error(l->pamh, "Skipping is not possible: multi-factor "
					 "authentication is required for your account.");
		break;
	case OFFER_ENROLL: break;
	}
	return enroll(l, st);
}

/* Whether the user is in the passwd database: OUT_SUCCESS if so.  Asked
 * only where no record vouches for the account (and no group rule has
 * looked it up already): through a files source, each lookup reads the
 * whole passwd file, the largest part of a login at 100,000 accounts. */
static enum outcome check_account(struct login *l)
{
	int r = user_lookup(l->user);

	if (r > 0) {
		l->account_known = true;
		return OUT_SUCCESS;
	}
	if (r == 0)
		pam_syslog(l->pamh, LOG_NOTICE, "refusing an unknown user");
	else
		pam_syslog(l->pamh, LOG_ERR,
			   "cannot look up the user in the passwd "
			   "database: %s",
			   strerror(-r));
	return r == 0 ? OUT_USER_UNKNOWN : r == -ENOMEM ? OUT_NOMEM : OUT_STORE_ERR;
}

/* Before an error is logged: whether the name may be. */
static void learn_account(struct login *l)
{
	if (!l->account_known && user_lookup(l->user) > 0)
		l->account_known = true;
}

/* A record that cannot be read, logged without the name of an account
 * that does not exist: the store's message holds the file name. */
static void log_store_error(struct login *l, int r, const struct mfa_error *err)
{
	learn_account(l);
	if (l->account_known)
		pam_syslog(l->pamh, LOG_ERR, "%s", err->msg);
	else
		pam_syslog(l->pamh, LOG_ERR,
			   "state store: cannot read the record of an "
			   "unknown user: %s",
			   strerror(-r));
}

/* The user's policy, logged as the debug option asks; OUT_SUCCESS to go
 * on. */
static enum outcome decide_policy(struct login *l)
{
	struct mfa_error err = { "" };
	int r = policy_for_user(&l->cfg.policy, l->user, &l->policy, &err);

	if (r == -ENOENT) {
		/* A group rule looked for the account: there is none. */
		pam_syslog(l->pamh, LOG_NOTICE, "refusing an unknown user");
		return OUT_USER_UNKNOWN;
	}
	l->account_known = l->policy.account_found;
	if (r < 0) {
		/* Not knowing the user's groups is not knowing their policy. */
		learn_account(l);
		pam_syslog(l->pamh, LOG_ERR, "user=%s: cannot decide the policy: %s",
			   logged_user(l), err.msg);
		return r == -ENOMEM ? OUT_NOMEM : OUT_STORE_ERR;
	}
	if (l->policy.missing_group >= 0) {
		const struct mfa_rule *rule = &l->cfg.rules[l->policy.missing_group];
		char shown[64];

		sanitize_printable(rule->name, shown, sizeof(shown));
		pam_syslog(l->pamh, LOG_WARNING,
			   "%s:%u: rule %d names group \"%s\", which "
			   "does not exist: it matches nobody",
			   l->cfg.path, rule->line, l->policy.missing_group + 1, shown);
	}
	if (l->opt.debug)
		pam_syslog(l->pamh, LOG_DEBUG, "user=%s policy=%s rule=%d", logged_user(l),
			   policy_name(l->policy.policy), l->policy.rule + 1);
	return OUT_SUCCESS;
}

/* Opens the store and reads the user's summary, without the lock, so that
 * nobody holds it while typing.  A user the store does not know must
 * exist in passwd. */
static enum outcome read_summary(struct login *l, struct store **st, struct store_summary *rec)
{
	struct mfa_error err = { "" };
	int r = store_open(&l->cfg, STORE_READ_ONLY, st, &err);

	if (r < 0) {
		pam_syslog(l->pamh, LOG_ERR, "state store: %s", err.msg);
		learn_account(l);
		log_outcome(l, LOG_ERR, "error", "reason=store");
		return r == -ENOMEM ? OUT_NOMEM : OUT_STORE_ERR;
	}
	r = store_summary(*st, l->user, rec, &err);
	if (r < 0) {
		log_store_error(l, r, &err);
		log_outcome(l, LOG_ERR, "error", "reason=store");
		return r == -ENOMEM ? OUT_NOMEM : OUT_STORE_ERR;
	}
	if (!rec->exists)
		return check_account(l);
	l->account_known = true; /* the store's state stands for the account */
	return OUT_SUCCESS;
}

/* The code prompt's help text, where the user has a way back: said
 * before the prompt, never in it. */
static void backup_help(struct login *l, const struct store_summary *rec)
{
	if (!l->silent)
		enroll_backup_help(l->pamh, rec);
}

/* Follows the login decision.  The summary is wiped before any code is
 * asked: nothing of it is kept while the user types. */
static enum outcome follow(struct login *l, struct store *st, struct store_summary *rec,
			   const struct login_decision *d)
{
	switch (d->step) {
	case LOGIN_EXEMPT: break;
	case LOGIN_DENY_FACTOR_NOT_ALLOWED:
		/* Nor can mfa-setup help: none of the factors can prove the
		 * user (enroll_request.allowed). */
		tell_user(l, "Your account's second factor is not one this system accepts "
			     "for you. Contact your administrator.");
		log_outcome(l, LOG_NOTICE, "denied", "reason=factor-not-allowed");
		return OUT_DENIED;
	case LOGIN_SKIP_REMEMBERED:
		log_outcome(l, LOG_INFO, "skipped", "reason=remembered");
		return OUT_SKIP;
	case LOGIN_DENY_DEADLINE:
		tell_user(l, "Multi-factor authentication is required for your account, but "
			     "it is not set up and the time to set it up at login is over. "
			     "Contact your administrator.");
		log_outcome(l, LOG_NOTICE, "denied", "reason=enroll-deadline");
		return OUT_DENIED;
	case LOGIN_OFFER_ENROLLMENT:
		l->basis = rec->basis;
		store_summary_wipe(rec);
		return offer_enrollment(l, st, d);
	case LOGIN_LOCKED:
		log_outcome(l, LOG_NOTICE, "failure", "reason=locked");
		tell_user(l,
			  d->locked_until_admin ?
				  "Too many failed verification codes: this account is locked "
				  "until an administrator unlocks it." :
				  "Too many failed verification codes: this account is "
				  "temporarily locked. Try again later or contact your administrator.");
		return OUT_LOCKED;
	case LOGIN_ASK_TOTP:
		backup_help(l, rec);
		l->app_digits = enroll_app_digits(&l->cfg, rec);
		store_summary_wipe(rec);
		l->has_totp = true;
		return ask_code(l, st, d->usable & METHOD_SENT);
	case LOGIN_ASK_SENT:
		backup_help(l, rec);
		store_summary_wipe(rec);
		return sent_login(l, st, METHOD_SENT);
	}
	log_outcome(l, LOG_INFO, "exempt", NULL);
	return OUT_SKIP;
}

static enum outcome authenticate(struct login *l)
{
	struct store_summary rec;
	struct login_facts facts;
	struct login_decision d;
	struct store *st = NULL;
	enum outcome o;

	o = decide_policy(l);
	if (o != OUT_SUCCESS)
		return o;
	/* Exempt needs no store: break-glass accounts log in without one. */
	if (l->policy.policy == POLICY_EXEMPT) {
		o = check_account(l);
		if (o != OUT_SUCCESS)
			return o;
		log_outcome(l, LOG_INFO, "exempt", NULL);
		return OUT_SKIP;
	}
	memset(&rec, 0, sizeof(rec));
	o = read_summary(l, &st, &rec);
	if (o == OUT_SUCCESS) {
		store_login_facts(&rec, &l->policy, l->cfg.enroll_by, (int64_t)time(NULL), &facts);
		login_decide(&facts, &d);
		o = follow(l, st, &rec, &d);
	}
	store_summary_wipe(&rec);
	secure_wipe(&l->basis, sizeof(l->basis));
	store_close(st);
	return o;
}

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct mfa_error err = { "" };
	struct login l;
	const void *item = NULL;
	enum outcome o;
	int r;

	memset(&l, 0, sizeof(l));
	l.pamh = pamh;
	l.silent = (flags & PAM_SILENT) != 0;
	l.method = "-";
	if (parse_args(pamh, argc, argv, &l.opt) < 0)
		return map_result(&l, OUT_CONFIG_ERR);

	r = pam_get_user(pamh, &l.user, NULL);
	if (r != PAM_SUCCESS)
		return r;
	if (pam_get_item(pamh, PAM_SERVICE, &item) == PAM_SUCCESS && item != NULL)
		sanitize_printable(item, l.service, sizeof(l.service));
	item = NULL;
	if (pam_get_item(pamh, PAM_RHOST, &item) == PAM_SUCCESS && item != NULL)
		sanitize_printable(item, l.rhost, sizeof(l.rhost));
	if (l.service[0] == '\0')
		(void)snprintf(l.service, sizeof(l.service), "-");

	/* The configuration comes first, so that every failure below gets
	 * the configured delay; without one, the default delay applies. */
	r = config_load(l.opt.config_path, &l.cfg, &err);
	if (r < 0) {
		(void)pam_fail_delay(pamh, PAM_MFA_DEFAULT_FAIL_DELAY_MS * 1000u);
		pam_syslog(pamh, LOG_ERR, "configuration error: %s", err.msg);
		tell_user(&l, "Multi-factor authentication is not configured correctly; "
			      "contact your administrator.");
		return map_result(&l, r == -ENOMEM ? OUT_NOMEM : OUT_CONFIG_ERR);
	}
	if (l.cfg.fail_delay_ms > 0)
		(void)pam_fail_delay(pamh, l.cfg.fail_delay_ms * 1000u);

	/* Like pam_faillock, never log a name we do not know: it may be a
	 * password typed into the login prompt. */
	if (l.user == NULL || !user_name_valid(l.user)) {
		pam_syslog(pamh, LOG_NOTICE, "refusing an invalid user name");
		o = OUT_USER_UNKNOWN;
		goto out;
	}
	if (oath_init() != OATH_OK) {
		pam_syslog(pamh, LOG_ERR, "liboath failed to initialise");
		o = OUT_CONFIG_ERR;
		goto out;
	}
	if (l.opt.debug)
		pam_syslog(pamh, LOG_DEBUG, "user=%s config=%s", logged_user(&l),
			   l.opt.config_path);
	o = authenticate(&l);
	/* The store could not be read or written (a database down, a full
	 * disk): the log says why, the user learns it is not their code. */
	if (o == OUT_STORE_ERR && !l.told)
		tell_user(&l, "Multi-factor authentication is not available right now; "
			      "try again later or contact your administrator.");
out:
	config_free(&l.cfg);
	return map_result(&l, o);
}

PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return PAM_SUCCESS;
}
