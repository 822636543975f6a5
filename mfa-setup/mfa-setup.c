/* mfa-setup: lets users set up their own second factor after skipping it, or
 * replace their authenticator after proving the current one, without an
 * admin and without opening the root-only store to them.  Installed setuid
 * root, it is kept as small as chsh or unix_chkpwd: it acts only on the
 * account of the real uid, clears its environment first, takes no path or
 * user name from the caller, and re-authenticates through PAM. */
#include <errno.h>
#include <liboath/oath.h>
#include <pwd.h>
#include <security/pam_appl.h>
#include <security/pam_ext.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "build_config.h"
#include "answer.h"
#include "config.h"
#include "enroll.h"
#include "lockout.h"
#include "login_decision.h"
#include "policy.h"
#include "secmem.h"
#include "store.h"

/* Compiled in, never taken from the caller.  The test build sets its own. */
#ifndef MFA_SETUP_CONFIG
#define MFA_SETUP_CONFIG PAM_MFA_DEFAULT_CONFIG
#endif
#ifndef MFA_SETUP_PAM_CONFDIR
#define MFA_SETUP_PAM_CONFDIR NULL /* libpam's own: /etc/pam.d */
#endif
#define SERVICE "mfa-setup"
#define ANSWER_MAX 1024

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

static void usage(FILE *out)
{
	fprintf(out, "usage: mfa-setup            set up your second factor (after a skip)\n"
		     "       mfa-setup --replace  replace your authenticator app\n"
		     "       mfa-setup --status   show your own MFA status\n"
		     "       mfa-setup --help | --version\n"
		     "\n"
		     "Acts only on your own account and asks for your password first;\n"
		     "--replace also asks for a code from your current app.  See mfa-setup(1).\n");
}

/* Reads one answer; with echo off on a terminal.  NULL at end of input or
 * for an answer longer than ANSWER_MAX. */
static char *read_answer(bool echo)
{
	struct termios old, quiet;
	bool tty = !echo && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (tty) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	n = getline(&line, &cap, stdin);
	if (tty) {
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		putchar('\n');
	}
	if (n < 0 || n > ANSWER_MAX) {
		if (line != NULL)
			secure_wipe(line, cap);
		free(line);
		return NULL;
	}
	if (n > 0 && line[n - 1] == '\n')
		line[n - 1] = '\0';
	return line;
}

static int converse(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct pam_response *r = calloc((size_t)n, sizeof(*r));

	if (r == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
		case PAM_PROMPT_ECHO_ON:
			fputs(msg[i]->msg, stdout);
			fflush(stdout);
			r[i].resp = read_answer(msg[i]->msg_style == PAM_PROMPT_ECHO_ON);
			if (r[i].resp == NULL)
				goto fail;
			break;
		case PAM_ERROR_MSG:
			fflush(stdout);
			fprintf(stderr, "%s\n", msg[i]->msg);
			break;
		case PAM_TEXT_INFO: printf("%s\n", msg[i]->msg); break;
		default: goto fail;
		}
	}
	fflush(stdout);
	*resp = r;
	return PAM_SUCCESS;
fail:
	for (int i = 0; i < n; i++)
		secure_free_string(r[i].resp);
	free(r);
	return PAM_CONV_ERR;
}

struct setup {
	char user[USER_NAME_MAX + 1];
	struct mfa_config cfg;
	struct policy_decision policy;
	struct store *st;
	pam_handle_t *pamh;
};

static void print_status(const struct setup *s, const struct store_summary *rec)
{
	printf("user:     %s\n", s->user);
	printf("policy:   %s\n", policy_name(s->policy.policy));
	printf("enrolled: %s%s%s\n", rec->totp.enrolled ? "authenticator app" : "",
	       rec->totp.enrolled && rec->email.verified ? ", " : "",
	       rec->email.verified ? "email" :
	       rec->totp.enrolled  ? "" :
				     "no");
	if (rec->skip_since > 0 && !rec->totp.enrolled)
		printf("skipped:  yes; run mfa-setup to set it up\n");
	if (rec->totp.enrolled && lockout_until_active(rec->locked_until, time(NULL)))
		printf("locked:   yes, after too many wrong codes\n");
}

/* The password, and whatever else the admin's mfa-setup stack asks. */
static int authenticate_user(struct setup *s)
{
	const char *tty = isatty(STDIN_FILENO) ? ttyname(STDIN_FILENO) : NULL;
	struct pam_conv conv = { converse, NULL };
	int r;

	r = pam_start_confdir(SERVICE, s->user, &conv, MFA_SETUP_PAM_CONFDIR, &s->pamh);
	if (r != PAM_SUCCESS) {
		fprintf(stderr, "mfa-setup: cannot start PAM\n");
		s->pamh = NULL;
		return -1;
	}
	(void)pam_set_item(s->pamh, PAM_RUSER, s->user);
	if (tty != NULL)
		(void)pam_set_item(s->pamh, PAM_TTY, tty);
	r = pam_authenticate(s->pamh, 0);
	if (r == PAM_SUCCESS)
		r = pam_acct_mgmt(s->pamh, 0);
	if (r != PAM_SUCCESS) {
		fprintf(stderr, "mfa-setup: authentication failed: %s\n", pam_strerror(s->pamh, r));
		syslog(LOG_NOTICE, "user=%s outcome=failure reason=authentication", s->user);
		return -1;
	}
	return 0;
}

/* --replace: a code from the current app, counted like a login's. */
static int prove_current(struct setup *s)
{
	struct mfa_error err = { "" };
	struct store_login at = { 0, SERVICE, "" };
	struct verify_result res;
	char code[CODE_INPUT_MAX + 1];
	char *answer = NULL;

	if (pam_prompt(s->pamh, PAM_PROMPT_ECHO_OFF, &answer,
		       "Code from your current authenticator app: ") != PAM_SUCCESS ||
	    answer == NULL) {
		secure_free_string(answer);
		return -1;
	}
	code_from_answer(answer, code);
	secure_free_string(answer);
	at.now = time(NULL);
	if (store_verify_totp(s->st, &s->cfg, s->user, code, &at, &res, &err) < 0)
		res.outcome = VERIFY_STORE_ERROR;
	secure_wipe(code, sizeof(code));
	if (res.outcome == VERIFY_OK)
		return 0;
	if (res.outcome == VERIFY_STORE_ERROR)
		syslog(LOG_ERR, "%s", err.msg);
	fprintf(stderr, "mfa-setup: %s\n",
		res.outcome == VERIFY_LOCKED ? "too many wrong codes: your account is locked" :
		res.outcome == VERIFY_STORE_ERROR ?
					       "cannot check the code; contact your administrator" :
					       "that code is not right");
	syslog(LOG_NOTICE, "user=%s action=replace outcome=failure reason=%s failures=%u%s",
	       s->user, res.outcome == VERIFY_LOCKED ? "locked" : "current-code", res.fail_count,
	       res.locked_now ? " locked=yes" : "");
	return -1;
}

/* What this run may set up for a record, or -1 after saying why not: the
 * methods the policy allows that the user does not have yet, or with
 * --replace the authenticator app. */
static int plan(const struct setup *s, const struct store_summary *rec, bool replace,
		unsigned *choices)
{
	unsigned have = store_summary_methods(rec);
	struct login_facts facts;

	if (replace && !rec->totp.enrolled) {
		fprintf(stderr, "mfa-setup: you have no authenticator app set up yet; run "
				"mfa-setup without --replace\n");
		return -1;
	}
	if (!replace && rec->totp.enrolled &&
	    (rec->email.verified || !(s->policy.methods & METHOD_EMAIL))) {
		fprintf(stderr, "mfa-setup: your authenticator app is already set up; to "
				"change it, run mfa-setup --replace\n");
		return -1;
	}
	/* The same first-login trust as at login, closed by the same date. */
	store_login_facts(rec, &s->policy, s->cfg.enroll_by, (int64_t)time(NULL), &facts);
	if (!replace && login_enrollment_closed(&facts)) {
		fprintf(stderr, "mfa-setup: the time to set up multi-factor authentication "
				"yourself is over; contact your administrator\n");
		syslog(LOG_NOTICE, "user=%s action=enroll outcome=denied reason=enroll-deadline",
		       s->user);
		return -1;
	}
	/* On the store a fleet shares, a host may enroll a first factor only
	 * (sql/004): one that replaced or added a factor after a proof it
	 * checked itself would let a compromised host turn one typed code
	 * into a factor of its own for every host.  The admin does it. */
	if (have != 0 && s->cfg.store.backend == STORE_BACKEND_POSTGRESQL) {
		fprintf(stderr,
			"mfa-setup: your second factor serves every host of your "
			"organization; to %s, ask your administrator\n",
			replace ? "replace it" : "add another");
		syslog(LOG_NOTICE, "user=%s action=%s outcome=denied reason=shared-store", s->user,
		       replace ? "replace" : "enroll");
		return -1;
	}
	if (have == METHOD_EMAIL && !replace) {
		/* Proving an email code here is not supported: ask for the app
		 * at the next login instead, where the email code is asked. */
		fprintf(stderr, "mfa-setup: you log in with email codes; to add an "
				"authenticator app, ask your administrator\n");
		return -1;
	}
	*choices = replace ? METHOD_TOTP : s->policy.methods & ~have;
	if (*choices == 0 || (replace && !(s->policy.methods & METHOD_TOTP))) {
		fprintf(stderr, "mfa-setup: there is nothing more your policy lets you set up\n");
		return -1;
	}
	return 0;
}

/* Reads the user's summary; a user the store does not know has none. */
static int load(struct setup *s, struct store_summary *rec)
{
	struct mfa_error err = { "" };
	int r = store_summary(s->st, s->user, rec, &err);

	if (r < 0) {
		syslog(LOG_ERR, "%s", err.msg);
		fprintf(stderr,
			"mfa-setup: cannot read your MFA state; contact your administrator\n");
		return -1;
	}
	return 0;
}

static void report(const struct setup *s, enum enroll_outcome eo, unsigned method, bool replace,
		   const struct mfa_error *err)
{
	switch (eo) {
	case ENROLL_DONE:
		if (method == METHOD_EMAIL)
			printf("Your email address is set up. Logins can send a code to it.\n");
		else
			printf("Your authenticator app is set up%s. From now on, log in with "
			       "a code from it.\n",
			       replace ? " and the old one no longer works" : "");
		syslog(LOG_NOTICE, "user=%s action=%s outcome=enrolled", s->user,
		       replace ? "replace" : "enroll");
		return;
	case ENROLL_FAILED:
		fprintf(stderr, "mfa-setup: no right code; nothing was changed\n");
		break;
	case ENROLL_CHANGED:
		fprintf(stderr, "mfa-setup: your account's second factor changed while you were "
				"setting it up; nothing was changed, run mfa-setup again\n");
		break;
	case ENROLL_RATE_LIMITED:
		fprintf(stderr, "mfa-setup: no code was sent; nothing was changed\n");
		break;
	case ENROLL_NO_ADDRESS:
		fprintf(stderr, "mfa-setup: your email address cannot be set up here; ask your "
				"administrator to set it with mfactl\n");
		break;
	case ENROLL_CONV_ERROR:
		fprintf(stderr, "mfa-setup: no answer; nothing was changed\n");
		break;
	case ENROLL_ERROR:
		syslog(LOG_ERR, "%s", err->msg);
		fprintf(stderr, "mfa-setup: cannot set it up; contact your administrator\n");
		break;
	case ENROLL_MAIL_ERROR:
		syslog(LOG_ERR, "%s", err->msg);
		fprintf(stderr, "mfa-setup: could not send the code; try again later or "
				"contact your administrator\n");
		break;
	}
	syslog(LOG_NOTICE, "user=%s action=%s outcome=failure reason=%s", s->user,
	       replace ? "replace" : "enroll",
	       eo == ENROLL_FAILED	 ? "not-confirmed" :
	       eo == ENROLL_CHANGED	 ? "enrolled-meanwhile" :
	       eo == ENROLL_CONV_ERROR	 ? "conversation" :
	       eo == ENROLL_RATE_LIMITED ? "enroll-mail-limit" :
	       eo == ENROLL_NO_ADDRESS	 ? "no-address" :
	       eo == ENROLL_MAIL_ERROR	 ? "mail" :
					   "error");
}

static int run(struct setup *s, bool replace, bool status_only)
{
	struct mfa_error err = { "" };
	struct store_summary rec;
	struct store_basis basis;
	struct enroll_request req;
	enum enroll_outcome eo;
	unsigned choices = 0, method = METHOD_TOTP, have_methods;
	int r, status = EXIT_FAIL;

	memset(&basis, 0, sizeof(basis));
	memset(&rec, 0, sizeof(rec));
	if (config_load(MFA_SETUP_CONFIG, &s->cfg, &err) < 0) {
		syslog(LOG_ERR, "configuration error: %s", err.msg);
		fprintf(stderr, "mfa-setup: multi-factor authentication is not configured "
				"correctly; contact your administrator\n");
		return EXIT_FAIL;
	}
	if (policy_for_user(&s->cfg.policy, s->user, &s->policy, &err) < 0) {
		syslog(LOG_ERR, "user=%s: cannot decide the policy: %s", s->user, err.msg);
		fprintf(stderr, "mfa-setup: cannot look up your account's policy\n");
		return EXIT_FAIL;
	}
	r = store_open(&s->cfg, STORE_READ_ONLY, &s->st, &err);
	if (r < 0) {
		/* A missing directory too: the module refuses every login then. */
		syslog(LOG_ERR, "state store: %s", err.msg);
		fprintf(stderr, "mfa-setup: cannot open the MFA state store; contact your "
				"administrator\n");
		return EXIT_FAIL;
	}
	if (load(s, &rec) < 0)
		goto out;
	if (status_only) {
		print_status(s, &rec);
		status = EXIT_OK;
		goto out;
	}
	if (s->policy.policy == POLICY_EXEMPT) {
		fprintf(stderr, "mfa-setup: your account is exempt from multi-factor "
				"authentication: there is nothing to set up\n");
		goto out;
	}
	/* Said before the password is asked, so nobody types it for nothing. */
	if (plan(s, &rec, replace, &choices) < 0 || authenticate_user(s) < 0)
		goto out;
	/* The password prompt waits as long as the user likes: the decision
	 * is taken again on a fresh read, which is also the basis that every
	 * write of the enrollment checks under the lock. */
	store_summary_wipe(&rec);
	if (load(s, &rec) < 0 || plan(s, &rec, replace, &choices) < 0)
		goto out;
	basis = rec.basis;
	have_methods = store_summary_methods(&rec);
	store_summary_wipe(&rec);
	/* Whoever already has a factor proves it before adding or replacing
	 * one: the password alone must not change how this account logs in. */
	if ((have_methods & METHOD_TOTP) && prove_current(s) < 0)
		goto out;
	memset(&req, 0, sizeof(req));
	req.cfg = &s->cfg;
	req.st = s->st;
	req.user = s->user;
	req.service = SERVICE;
	req.rhost = "";
	req.basis = &basis;
	if (enroll_choose_method(s->pamh, choices, &method) < 0) {
		fprintf(stderr, "mfa-setup: no choice made; nothing was changed\n");
		goto out;
	}
	if ((method == METHOD_TOTP ? enroll_totp_conversation(s->pamh, &req, &eo, &err) :
				     enroll_email_conversation(s->pamh, &req, &eo, &err)) < 0)
		eo = ENROLL_ERROR;
	report(s, eo, method, replace, &err);
	if (eo == ENROLL_DONE)
		status = EXIT_OK;
out:
	store_summary_wipe(&rec);
	secure_wipe(&basis, sizeof(basis));
	return status;
}

int main(int argc, char **argv)
{
	struct setup s;
	struct passwd *pw;
	bool replace = false, status_only = false;
	int status;

	/* Nothing of the caller's environment is trusted or needed. */
	if (clearenv() != 0)
		return EXIT_FAIL;
	umask(077);
	(void)signal(SIGPIPE, SIG_IGN);
	if (argc > 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (argc == 2) {
		if (strcmp(argv[1], "--replace") == 0) {
			replace = true;
		} else if (strcmp(argv[1], "--status") == 0) {
			status_only = true;
		} else if (strcmp(argv[1], "--help") == 0) {
			usage(stdout);
			return EXIT_OK;
		} else if (strcmp(argv[1], "--version") == 0) {
			printf("mfa-setup %s\n", PAM_MFA_VERSION);
			return EXIT_OK;
		} else {
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (geteuid() != 0) {
		fprintf(stderr, "mfa-setup: must be installed setuid root\n");
		return EXIT_FAIL;
	}
	memset(&s, 0, sizeof(s));
	/* The real uid, never a name from the caller. */
	pw = getpwuid(getuid());
	if (pw == NULL || !user_name_valid(pw->pw_name)) {
		fprintf(stderr, "mfa-setup: cannot find your account\n");
		return EXIT_FAIL;
	}
	memcpy(s.user, pw->pw_name, strlen(pw->pw_name) + 1);
	openlog("mfa-setup", LOG_PID, LOG_AUTHPRIV);
	if (oath_init() != OATH_OK) {
		fprintf(stderr, "mfa-setup: liboath failed to initialise\n");
		return EXIT_FAIL;
	}
	status = run(&s, replace, status_only);
	if (s.pamh != NULL)
		pam_end(s.pamh, status == EXIT_OK ? PAM_SUCCESS : PAM_AUTH_ERR);
	store_close(s.st);
	config_free(&s.cfg);
	closelog();
	return status;
}
