/* mfa-setup: lets users manage their own second factors without an admin
 * and without opening the root-only store to them: set one up after a
 * skip, list them, add another (app, phone, email), replace an app, change
 * a number or address, remove one, or turn MFA off where the policy lets
 * them.  Every change of a user who holds a factor first proves one.  Installed setuid
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
#include "notify.h"
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
	fprintf(out,
		"usage: mfa-setup                set up a second factor (after a skip)\n"
		"       mfa-setup --list         list your second factors\n"
		"       mfa-setup --add          add another: an app, a phone or an email address\n"
		"       mfa-setup --replace [N]  replace your authenticator app (N: which one)\n"
		"       mfa-setup --change N     change phone number or email address N\n"
		"       mfa-setup --remove N     remove second factor N\n"
		"       mfa-setup --off          turn multi-factor authentication off for your\n"
		"                                account, where your policy allows it\n"
		"       mfa-setup --recovery-codes  make a new set of recovery codes (the old\n"
		"                                set stops working)\n"
		"       mfa-setup --status       show your own MFA status\n"
		"       mfa-setup --help | --version\n"
		"\n"
		"N is a factor's number in --list, or its label.  Acts only on your own\n"
		"account and asks for your password first; every change also asks for\n"
		"a code from a second factor you have.  See mfa-setup(1).\n");
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

enum action {
	ACT_SETUP,    /* no option: a first factor, or another */
	ACT_LIST,     /* --list */
	ACT_STATUS,   /* --status */
	ACT_ADD,      /* --add */
	ACT_REPLACE,  /* --replace [N]: an app */
	ACT_CHANGE,   /* --change N: a number or address */
	ACT_REMOVE,   /* --remove N */
	ACT_OFF,      /* --off */
	ACT_RECOVERY, /* --recovery-codes */
};

static const char *const action_names[] = {
	[ACT_SETUP] = "enroll",	 [ACT_LIST] = "list",	    [ACT_STATUS] = "status",
	[ACT_ADD] = "add",	 [ACT_REPLACE] = "replace", [ACT_CHANGE] = "change",
	[ACT_REMOVE] = "remove", [ACT_OFF] = "off",	    [ACT_RECOVERY] = "recovery-codes",
};

struct setup {
	char user[USER_NAME_MAX + 1];
	enum action action;
	const char *which; /* N: a number of --list, or a label; NULL: none */
	struct mfa_config cfg;
	struct policy_decision policy;
	struct store *st;
	pam_handle_t *pamh;
};

static const char *method_words(unsigned method)
{
	return method == METHOD_TOTP  ? "authenticator app" :
	       method == METHOD_SMS   ? "phone (text messages)" :
	       method == METHOD_EMAIL ? "email address" :
					"?";
}

/* "authenticator app \"tablet\"", "phone +1******0100": for messages and
 * notices, never a full number or address. */
static void describe(const struct store_factor *f, char *out, size_t len)
{
	char masked[FACTOR_DEST_MAX + 8] = "";

	if (f->method != METHOD_TOTP)
		notify_mask(f->method, f->dest, masked, sizeof(masked));
	(void)snprintf(out, len, "%s%s%s%s%s%s",
		       f->method == METHOD_TOTP ? "authenticator app" :
		       f->method == METHOD_SMS	? "phone" :
						  "email address",
		       masked[0] != '\0' ? " " : "", masked, f->label[0] != '\0' ? " \"" : "",
		       f->label, f->label[0] != '\0' ? "\"" : "");
}

static void print_date(const char *what, int64_t t)
{
	char when[32] = "never";
	time_t tt = (time_t)t;
	struct tm tm;

	if (t > 0 && gmtime_r(&tt, &tm) != NULL)
		(void)strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	printf("%s %s", what, when);
}

/* The user's own factors, numbered as --change, --remove and --replace
 * take them.  The user sees their own numbers and addresses in full. */
static void print_list(const struct store_summary *rec)
{
	unsigned n = 0;

	for (unsigned i = 0; i < rec->n_factors; i++) {
		const struct store_factor *f = &rec->factors[i];

		if (!f->verified)
			continue;
		printf("%u. %s%s%s%s%s%s\n   ", ++n, method_words(f->method),
		       f->dest[0] != '\0' ? " " : "", f->dest, f->label[0] != '\0' ? " \"" : "",
		       f->label, f->label[0] != '\0' ? "\"" : "");
		print_date("added", f->added);
		print_date(", last used", f->last_used);
		printf("\n");
	}
	if (n == 0)
		printf("You have no second factor set up.\n");
}

static void print_status(const struct setup *s, const struct store_summary *rec)
{
	unsigned have = store_summary_methods(rec);

	printf("user:     %s\n", s->user);
	printf("policy:   %s\n", policy_name(s->policy.policy));
	printf("enrolled: ");
	if (have == 0) {
		printf("no\n");
	} else {
		const char *sep = "";

		for (unsigned m = METHOD_TOTP; m <= METHOD_SMS; m <<= 1) {
			unsigned n = store_summary_count(rec, m);

			if (n == 0)
				continue;
			printf("%s%s", sep,
			       m == METHOD_TOTP ? "authenticator app" :
			       m == METHOD_SMS	? "phone" :
						  "email");
			if (n > 1)
				printf(" (%u)", n);
			sep = ", ";
		}
		printf("\n");
	}
	if (rec->skip_since > 0 && have == 0)
		printf("skipped:  yes; run mfa-setup to set it up\n");
	if (have != 0 && rec->recovery.made > 0)
		printf("recovery: %u of %u codes left%s\n", rec->recovery.left, rec->recovery.made,
		       rec->recovery.left <= 2 ? "; make new ones with mfa-setup --recovery-codes" :
						 "");
	else if (have != 0)
		printf("recovery: no codes; make them with mfa-setup --recovery-codes\n");
	if (have != 0 && store_bypass_outstanding(rec, (int64_t)time(NULL)))
		printf("bypass:   an administrator's bypass code works %u more time%s\n",
		       rec->bypass.uses_left, rec->bypass.uses_left == 1 ? "" : "s");
	if (have != 0 && lockout_until_active(rec->locked_until, time(NULL)))
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

/* The verified factor that N names: its number in --list, or its label.
 * NULL after saying why not. */
static const struct store_factor *find_factor(const struct store_summary *rec, const char *which)
{
	const struct store_factor *found = NULL;
	unsigned matches = 0, n = 0;
	char *end;
	unsigned long pick = strtoul(which, &end, 10);
	bool number = which[0] >= '1' && which[0] <= '9' && *end == '\0';

	for (unsigned i = 0; i < rec->n_factors; i++) {
		const struct store_factor *f = &rec->factors[i];

		if (!f->verified)
			continue;
		n++;
		if ((number && n == pick) || (!number && strcmp(f->label, which) == 0)) {
			found = f;
			matches++;
		}
	}
	if (matches == 1)
		return found;
	fprintf(stderr,
		matches > 1 ? "mfa-setup: more than one second factor is called that; use its "
			      "number from mfa-setup --list\n" :
			      "mfa-setup: you have no such second factor; see mfa-setup --list\n");
	return NULL;
}

/* What this run may do for a record, or -1 after saying why not:
 * *choices the methods it may set up, *target the factor it acts on (a
 * copy), *replaces the id a new factor takes the place of. */
static int plan(const struct setup *s, const struct store_summary *rec, unsigned *choices,
		struct store_factor *target)
{
	unsigned have = store_summary_methods(rec), room = 0;
	unsigned usable = have & s->policy.methods;
	const struct store_factor *f = NULL;
	struct login_facts facts;

	memset(target, 0, sizeof(*target));
	*choices = 0;
	for (unsigned m = METHOD_TOTP; m <= METHOD_SMS; m <<= 1)
		if ((s->policy.methods & m) &&
		    store_summary_count(rec, m) < s->cfg.factors_per_method)
			room |= m;
	/* The same first-login trust as at login, closed by the same date. */
	store_login_facts(rec, &s->policy, s->cfg.enroll_by, (int64_t)time(NULL), &facts);
	if (have == 0 && s->action != ACT_SETUP && s->action != ACT_ADD) {
		fprintf(stderr, "mfa-setup: you have no second factor yet; run mfa-setup to set "
				"one up\n");
		return -1;
	}
	if (have == 0 && login_enrollment_closed(&facts)) {
		fprintf(stderr, "mfa-setup: the time to set up multi-factor authentication "
				"yourself is over; contact your administrator\n");
		syslog(LOG_NOTICE, "user=%s action=enroll outcome=denied reason=enroll-deadline",
		       s->user);
		return -1;
	}
	if (have != 0 && usable == 0) {
		/* Nothing this system accepts proves the user: the admin. */
		fprintf(stderr, "mfa-setup: none of your second factors is one your policy "
				"accepts; contact your administrator\n");
		return -1;
	}
	switch (s->action) {
	case ACT_SETUP:
	case ACT_ADD:
		*choices = room;
		if (*choices == 0) {
			fprintf(stderr,
				"mfa-setup: there is nothing more your policy lets you set "
				"up (at most %u of each)\n",
				s->cfg.factors_per_method);
			return -1;
		}
		return 0;
	case ACT_REPLACE:
		if (s->which != NULL) {
			f = find_factor(rec, s->which);
		} else if (store_summary_count(rec, METHOD_TOTP) == 1) {
			f = store_summary_nth(rec, METHOD_TOTP, 0);
		} else {
			fprintf(stderr,
				store_summary_count(rec, METHOD_TOTP) == 0 ?
					"mfa-setup: you have no authenticator app set up; run "
					"mfa-setup --add\n" :
					"mfa-setup: you have several authenticator apps; say which: "
					"mfa-setup --replace N (see mfa-setup --list)\n");
			return -1;
		}
		if (f == NULL)
			return -1;
		if (f->method != METHOD_TOTP) {
			fprintf(stderr, "mfa-setup: that is not an authenticator app; to change a "
					"number or address, run mfa-setup --change N\n");
			return -1;
		}
		if (!(s->policy.methods & METHOD_TOTP)) {
			fprintf(stderr, "mfa-setup: your policy does not let you set up an "
					"authenticator app\n");
			return -1;
		}
		*choices = METHOD_TOTP;
		break;
	case ACT_CHANGE:
		if ((f = find_factor(rec, s->which)) == NULL)
			return -1;
		if (f->method == METHOD_TOTP) {
			fprintf(stderr, "mfa-setup: that is an authenticator app; to replace it, "
					"run mfa-setup --replace N\n");
			return -1;
		}
		if (!(s->policy.methods & f->method)) {
			fprintf(stderr,
				"mfa-setup: your policy does not let you set up that method\n");
			return -1;
		}
		*choices = f->method;
		break;
	case ACT_REMOVE:
		if ((f = find_factor(rec, s->which)) == NULL)
			return -1;
		/* What remains must still be a factor the policy accepts. */
		if (s->policy.policy == POLICY_REQUIRED) {
			unsigned left = 0;

			for (unsigned i = 0; i < rec->n_factors; i++)
				if (rec->factors[i].verified && rec->factors[i].id != f->id &&
				    (rec->factors[i].method & s->policy.methods))
					left++;
			if (left == 0) {
				fprintf(stderr, "mfa-setup: that is your last second factor, and "
						"your policy requires one; add another first\n");
				syslog(LOG_NOTICE,
				       "user=%s action=remove outcome=denied reason=last-factor",
				       s->user);
				return -1;
			}
		}
		break;
	case ACT_OFF:
		if (s->policy.policy == POLICY_REQUIRED) {
			fprintf(stderr, "mfa-setup: your policy requires multi-factor "
					"authentication; it cannot be turned off\n");
			syslog(LOG_NOTICE, "user=%s action=off outcome=denied reason=required",
			       s->user);
			return -1;
		}
		return 0;
	case ACT_RECOVERY:
		if (s->cfg.recovery.codes == 0) {
			fprintf(stderr, "mfa-setup: this system does not use recovery codes\n");
			return -1;
		}
		return 0;
	case ACT_LIST:
	case ACT_STATUS: return 0;
	}
	*target = *f;
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

static void report(const struct setup *s, enum enroll_outcome eo, unsigned method,
		   const struct mfa_error *err)
{
	const char *action = action_names[s->action];

	switch (eo) {
	case ENROLL_DONE:
		if (method == METHOD_EMAIL)
			printf("Your email address is set up. Logins can send a code to it.\n");
		else if (method == METHOD_SMS)
			printf("Your phone number is set up. Logins can send a code to it by text "
			       "message.\n");
		else
			printf("Your authenticator app is set up%s. From now on, log in with "
			       "a code from it.\n",
			       s->action == ACT_REPLACE ? " and the old one no longer works" : "");
		if (s->action == ACT_CHANGE)
			printf("The old one no longer gets codes.\n");
		syslog(LOG_NOTICE, "user=%s action=%s method=%s outcome=enrolled", s->user, action,
		       method_name(method));
		return;
	case ENROLL_FAILED:
		fprintf(stderr, "mfa-setup: no right code; nothing was changed\n");
		break;
	case ENROLL_CHANGED:
		fprintf(stderr, "mfa-setup: your account's second factors changed while you were "
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
	case ENROLL_TOO_MANY:
		fprintf(stderr,
			"mfa-setup: you have as many of these as this system allows (%u); "
			"nothing was changed\n",
			s->cfg.factors_per_method);
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
	syslog(LOG_NOTICE, "user=%s action=%s outcome=failure reason=%s", s->user, action,
	       eo == ENROLL_FAILED	 ? "not-confirmed" :
	       eo == ENROLL_CHANGED	 ? "enrolled-meanwhile" :
	       eo == ENROLL_CONV_ERROR	 ? "conversation" :
	       eo == ENROLL_RATE_LIMITED ? "enroll-mail-limit" :
	       eo == ENROLL_NO_ADDRESS	 ? "no-address" :
	       eo == ENROLL_MAIL_ERROR	 ? "mail" :
	       eo == ENROLL_TOO_MANY	 ? "too-many-factors" :
					   "error");
}

/* A name for a new factor, asked where the user may have several of it:
 * NULL for none.  -1: the conversation failed. */
static int ask_label(struct setup *s, char *out, size_t len, const char **label)
{
	*label = NULL;
	for (int attempt = 0; attempt < ENROLL_ATTEMPTS; attempt++) {
		char *answer = NULL;

		if (pam_prompt(s->pamh, PAM_PROMPT_ECHO_ON, &answer,
			       "A name for it, such as phone or tablet (Enter for none): ") !=
			    PAM_SUCCESS ||
		    answer == NULL) {
			secure_free_string(answer);
			return -1;
		}
		if (answer[0] == '\0') {
			free(answer);
			return 0;
		}
		if (factor_label_valid(answer) && strlen(answer) < len) {
			memcpy(out, answer, strlen(answer) + 1);
			free(answer);
			*label = out;
			return 0;
		}
		free(answer);
		(void)pam_error(s->pamh, "A name is up to 32 letters, digits, spaces or .-_+@().");
	}
	return -1;
}

/* The notice of a change, to the verified address the user had before it
 * (else the organisation's for the user): an attacker who changes the
 * factors is heard of where the user reads.  Not a condition: a mail that
 * cannot go is logged. */
static void notify_change(const struct setup *s, const struct store_summary *before,
			  enum notify_change change, const char *what)
{
	struct mfa_error err = { "" };
	char to[EMAIL_ADDRESS_MAX + 1];

	if (!enroll_notice_address(&s->cfg, before, s->user, to, sizeof(to)))
		return;
	if (notify_factor_changed(&s->cfg, to, s->user, change, what, SERVICE, &err) < 0)
		syslog(LOG_WARNING, "user=%s: no notice of the change: %s", s->user, err.msg);
}

/* A new set of recovery codes on basis (a proof's or an enrollment's),
 * shown once.  -1 after saying why not. */
static int new_recovery_codes(struct setup *s, const struct enroll_request *req,
			      const struct store_basis *basis)
{
	struct mfa_error err = { "" };
	enum enroll_outcome eo;

	if (enroll_recovery_codes(s->pamh, req, basis, &eo, &err) < 0)
		eo = ENROLL_ERROR;
	if (eo == ENROLL_DONE) {
		syslog(LOG_NOTICE, "user=%s action=recovery-codes outcome=made codes=%u", s->user,
		       s->cfg.recovery.codes);
		return 0;
	}
	if (eo == ENROLL_CONV_ERROR)
		fprintf(stderr, "mfa-setup: the new recovery codes could not be shown; run "
				"mfa-setup --recovery-codes again\n");
	else if (eo == ENROLL_CHANGED)
		fprintf(stderr, "mfa-setup: your account's second factors changed meanwhile; "
				"no recovery codes were made, run mfa-setup --recovery-codes\n");
	else
		fprintf(stderr, "mfa-setup: no recovery codes could be made; contact your "
				"administrator\n");
	syslog(eo == ENROLL_ERROR ? LOG_ERR : LOG_NOTICE,
	       "user=%s action=recovery-codes outcome=failure reason=%s", s->user,
	       eo == ENROLL_CONV_ERROR ? "conversation" :
	       eo == ENROLL_CHANGED    ? "changed-meanwhile" :
					 err.msg);
	return -1;
}

/* What a proof or an enrollment left to tell of: a recovery or bypass
 * code used, or a lockout. */
static void after_notices(const struct setup *s, const struct enroll_request *req)
{
	struct mfa_error err = { "" };
	const struct enroll_after *a = req->after;

	if (a->backup != BACKUP_NONE) {
		syslog(LOG_NOTICE, "user=%s action=%s outcome=proved method=%s remaining=%u",
		       s->user, action_names[s->action],
		       a->backup == BACKUP_BYPASS ? "bypass" : "recovery", a->remaining);
		if (a->backup == BACKUP_RECOVERY)
			printf("%u recovery code%s left.\n", a->remaining,
			       a->remaining == 1 ? " is" : "s are");
		if (enroll_backup_notice(req, a->backup, a->remaining, &err) < 0)
			syslog(LOG_WARNING, "user=%s: no notice of the code used: %s", s->user,
			       err.msg);
	}
	if (a->locked_now && enroll_lock_notice(req, a->failures, &err) < 0)
		syslog(LOG_WARNING, "user=%s: lockout notice: %s", s->user, err.msg);
}

/* --remove and --off: the store's removal, on the proved basis. */
static int remove_factors(struct setup *s, const struct store_basis *basis,
			  const struct store_factor *target)
{
	struct mfa_error err = { "" };
	bool off = s->action == ACT_OFF;
	int r = store_remove_factor(s->st, s->user, basis, off ? 0 : target->id,
				    off && s->policy.policy == POLICY_OPT_OUT, time(NULL), &err);

	if (r == 0) {
		if (off)
			printf("Multi-factor authentication is off for your account%s.\n",
			       s->policy.policy == POLICY_OPT_OUT ?
				       "; logins will not offer it again until an administrator "
				       "resets it" :
				       "; logins will offer to set it up again");
		else
			printf("It is removed.\n");
		syslog(LOG_NOTICE, "user=%s action=%s outcome=removed%s%s", s->user,
		       action_names[s->action],
		       off ? "" : " method=", off ? "" : method_name(target->method));
		return 0;
	}
	if (r == -ESTALE || r == -EPERM || r == -ENOENT) {
		fprintf(stderr, "mfa-setup: your account's second factors changed meanwhile; "
				"nothing was changed, run mfa-setup again\n");
		syslog(LOG_NOTICE, "user=%s action=%s outcome=failure reason=changed-meanwhile",
		       s->user, action_names[s->action]);
	} else {
		syslog(LOG_ERR, "%s", err.msg);
		fprintf(stderr, "mfa-setup: cannot change it; contact your administrator\n");
	}
	return -1;
}

static int run(struct setup *s)
{
	struct mfa_error err = { "" };
	struct store_summary rec;
	struct store_basis basis;
	struct enroll_request req;
	struct enroll_after after;
	struct store_factor target;
	enum enroll_outcome eo;
	unsigned choices = 0, method = METHOD_TOTP;
	char label_buf[FACTOR_LABEL_MAX + 1], what[FACTOR_DEST_MAX + FACTOR_LABEL_MAX + 40];
	const char *label = NULL;
	int r, status = EXIT_FAIL;

	memset(&basis, 0, sizeof(basis));
	memset(&after, 0, sizeof(after));
	memset(&rec, 0, sizeof(rec));
	memset(&target, 0, sizeof(target));
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
	if (s->action == ACT_STATUS || s->action == ACT_LIST) {
		if (s->action == ACT_STATUS)
			print_status(s, &rec);
		else
			print_list(&rec);
		status = EXIT_OK;
		goto out;
	}
	if (s->policy.policy == POLICY_EXEMPT) {
		fprintf(stderr, "mfa-setup: your account is exempt from multi-factor "
				"authentication: there is nothing to set up\n");
		goto out;
	}
	/* A user with a factor who runs plain mfa-setup adds another. */
	if (s->action == ACT_SETUP && store_summary_methods(&rec) != 0)
		s->action = ACT_ADD;
	/* Said before the password is asked, so nobody types it for nothing. */
	if (plan(s, &rec, &choices, &target) < 0 || authenticate_user(s) < 0)
		goto out;
	/* The password prompt waits as long as the user likes: the decision
	 * is taken again on a fresh read, which is also the basis that every
	 * write checks under the lock. */
	store_summary_wipe(&rec);
	if (load(s, &rec) < 0)
		goto out;
	if (s->action == ACT_SETUP && store_summary_methods(&rec) != 0)
		s->action = ACT_ADD;
	if (plan(s, &rec, &choices, &target) < 0)
		goto out;
	basis = rec.basis;
	memset(&req, 0, sizeof(req));
	req.cfg = &s->cfg;
	req.st = s->st;
	req.user = s->user;
	req.service = SERVICE;
	req.rhost = "";
	req.basis = &basis;
	req.allowed = s->policy.methods;
	req.after = &after;
	/* Whoever already has a factor proves one before any change: the
	 * password alone must not change how this account logs in. */
	if (store_summary_methods(&rec) != 0) {
		if (enroll_prove_conversation(s->pamh, &req, &rec, &basis, &eo, &err) < 0)
			eo = ENROLL_ERROR;
		after_notices(s, &req);
		if (eo != ENROLL_DONE) {
			if (eo == ENROLL_FAILED) {
				fprintf(stderr, "mfa-setup: nothing was changed\n");
				syslog(LOG_NOTICE, "user=%s action=%s outcome=failure %s", s->user,
				       action_names[s->action], err.msg);
			} else {
				report(s, eo, 0, &err);
			}
			goto out;
		}
		/* What was planned on must be what was proved: a change made
		 * while the code was asked (another mfa-setup, an admin) is
		 * decided on afresh, never on what was shown before. */
		if (!store_basis_same(&basis, &rec.basis)) {
			report(s, ENROLL_CHANGED, 0, &err);
			goto out;
		}
	}
	/* A helpdesk's bypass code lets a user in for a while, to set up a
	 * new device; it must not turn into codes that never expire. */
	if (s->action == ACT_RECOVERY && after.backup == BACKUP_BYPASS) {
		fprintf(stderr, "mfa-setup: a bypass code cannot make recovery codes; set up a new "
				"device first (mfa-setup --replace or --add)\n");
		syslog(LOG_NOTICE,
		       "user=%s action=recovery-codes outcome=denied reason=bypass-proof", s->user);
		goto out;
	}
	if (s->action == ACT_RECOVERY) {
		if (new_recovery_codes(s, &req, &basis) == 0) {
			notify_change(s, &rec, NOTIFY_RECOVERY_CODES, "");
			status = EXIT_OK;
		}
		goto out;
	}
	if (s->action == ACT_REMOVE || s->action == ACT_OFF) {
		if (remove_factors(s, &basis, &target) == 0) {
			describe(&target, what, sizeof(what));
			notify_change(s, &rec,
				      s->action == ACT_OFF ? NOTIFY_ALL_REMOVED : NOTIFY_REMOVED,
				      what);
			status = EXIT_OK;
		}
		goto out;
	}
	if (enroll_choose_method(s->pamh, choices, &method) < 0) {
		fprintf(stderr, "mfa-setup: no choice made; nothing was changed\n");
		goto out;
	}
	/* A name tells several apart: asked of a user who has one already. */
	if (s->action == ACT_ADD && ask_label(s, label_buf, sizeof(label_buf), &label) < 0) {
		fprintf(stderr, "mfa-setup: no answer; nothing was changed\n");
		goto out;
	}
	req.label = label != NULL ? label : target.label[0] != '\0' ? target.label : NULL;
	req.replaces = target.id;
	if ((method == METHOD_TOTP ?
		     enroll_totp_conversation(s->pamh, &req, &eo, &err) :
		     enroll_sent_conversation(s->pamh, &req, method, &eo, &err)) < 0)
		eo = ENROLL_ERROR;
	report(s, eo, method, &err);
	if (eo == ENROLL_FAILED)
		after_notices(s, &req);
	if (eo == ENROLL_DONE) {
		status = EXIT_OK;
		/* A first factor, or a user without a code left, gets a set:
		 * the way back should this device be lost. */
		if (enroll_wants_recovery(&s->cfg, &rec))
			(void)new_recovery_codes(s, &req, &after.basis);
		if (store_summary_methods(&rec) != 0) {
			if (target.id != 0)
				describe(&target, what, sizeof(what));
			else
				(void)snprintf(what, sizeof(what), "%s%s%s%s",
					       method == METHOD_TOTP ? "an authenticator app" :
					       method == METHOD_SMS  ? "a phone number" :
								       "an email address",
					       label != NULL ? " \"" : "",
					       label != NULL ? label : "",
					       label != NULL ? "\"" : "");
			notify_change(s, &rec, target.id != 0 ? NOTIFY_REPLACED : NOTIFY_ADDED,
				      what);
		}
	}
out:
	store_summary_wipe(&rec);
	secure_wipe(&basis, sizeof(basis));
	secure_wipe(&after, sizeof(after));
	secure_wipe(&target, sizeof(target));
	return status;
}

/* The factor an option names: a number or a label, nothing else. */
static bool which_valid(const char *which)
{
	return which != NULL && strlen(which) <= FACTOR_LABEL_MAX && factor_label_valid(which);
}

int main(int argc, char **argv)
{
	struct setup s;
	struct passwd *pw;
	int status;

	/* Nothing of the caller's environment is trusted or needed. */
	if (clearenv() != 0)
		return EXIT_FAIL;
	umask(077);
	(void)signal(SIGPIPE, SIG_IGN);
	memset(&s, 0, sizeof(s));
	s.action = ACT_SETUP;
	if (argc > 3) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (argc >= 2) {
		static const struct {
			const char *name;
			enum action action;
			int args; /* 0: none, 1: one, 2: one or none */
		} opts[] = {
			{ "--list", ACT_LIST, 0 },     { "--status", ACT_STATUS, 0 },
			{ "--add", ACT_ADD, 0 },       { "--replace", ACT_REPLACE, 2 },
			{ "--change", ACT_CHANGE, 1 }, { "--remove", ACT_REMOVE, 1 },
			{ "--off", ACT_OFF, 0 },       { "--recovery-codes", ACT_RECOVERY, 0 },
		};
		bool known = false;

		if (strcmp(argv[1], "--help") == 0 && argc == 2) {
			usage(stdout);
			return EXIT_OK;
		}
		if (strcmp(argv[1], "--version") == 0 && argc == 2) {
			printf("mfa-setup %s\n", PAM_MFA_VERSION);
			return EXIT_OK;
		}
		for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
			if (strcmp(argv[1], opts[i].name) != 0)
				continue;
			if ((opts[i].args == 0 && argc != 2) || (opts[i].args == 1 && argc != 3))
				break;
			s.action = opts[i].action;
			s.which = argc == 3 ? argv[2] : NULL;
			known = true;
		}
		if (!known) {
			usage(stderr);
			return EXIT_USAGE;
		}
		if (s.which != NULL && !which_valid(s.which)) {
			fprintf(stderr, "mfa-setup: name a second factor by its number in "
					"mfa-setup --list, or its label\n");
			return EXIT_USAGE;
		}
	}
	if (geteuid() != 0) {
		fprintf(stderr, "mfa-setup: must be installed setuid root\n");
		return EXIT_FAIL;
	}
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
	status = run(&s);
	if (s.pamh != NULL)
		pam_end(s.pamh, status == EXIT_OK ? PAM_SUCCESS : PAM_AUTH_ERR);
	store_close(s.st);
	config_free(&s.cfg);
	closelog();
	return status;
}
