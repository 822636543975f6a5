/* pam_mfa.so: asks an enrolled user for a TOTP code and checks it against the
 * state store, with replay protection and the module's own lockout.  Every
 * PAM return code is chosen in one place, map_result(); see pam_mfa(8). */
#include <errno.h>
#include <liboath/oath.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define PAM_SM_AUTH
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <security/pam_modutil.h>

#include "build_config.h"
#include "config.h"
#include "lockout.h"
#include "secmem.h"
#include "store.h"
#include "totp.h"
#include "util.h"

/* Longest answer examined; anything longer is refused unread. */
#define CODE_INPUT_MAX 64

struct module_options {
	const char *config_path;
	bool debug;
};

/* What one authentication came to, before it becomes a PAM code. */
enum outcome {
	OUT_SUCCESS,
	OUT_NOT_ENROLLED,	/* PAM_IGNORE: the one case the man page names */
	OUT_BAD_CODE,		/* wrong, malformed, expired or replayed code */
	OUT_LOCKED,
	OUT_USER_UNKNOWN,
	OUT_CONV_ERR,
	OUT_CONFIG_ERR,
	OUT_STORE_ERR,
	OUT_NOMEM,
};

struct login {
	pam_handle_t *pamh;
	struct module_options opt;
	struct mfa_config cfg;
	const char *user;
	char service[STORE_TEXT_MAX + 1];
	char rhost[STORE_TEXT_MAX + 1];
	bool silent;
};

static int map_result(enum outcome o)
{
	switch (o) {
	case OUT_SUCCESS: return PAM_SUCCESS;
	case OUT_NOT_ENROLLED: return PAM_IGNORE;
	case OUT_BAD_CODE: return PAM_AUTH_ERR;
	case OUT_LOCKED: return PAM_AUTH_ERR;
	case OUT_USER_UNKNOWN: return PAM_USER_UNKNOWN;
	case OUT_CONV_ERR: return PAM_CONV_ERR;
	case OUT_CONFIG_ERR: return PAM_SERVICE_ERR;
	case OUT_STORE_ERR: return PAM_AUTHINFO_UNAVAIL;
	case OUT_NOMEM: return PAM_BUF_ERR;
	}
	return PAM_SERVICE_ERR;
}

static int parse_args(pam_handle_t *pamh, int argc, const char **argv,
		      struct module_options *opt)
{
	opt->config_path = PAM_MFA_DEFAULT_CONFIG;
	opt->debug = false;
	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "config=", 7) == 0 && argv[i][7] == '/') {
			opt->config_path = argv[i] + 7;
		} else if (strcmp(argv[i], "debug") == 0) {
			opt->debug = true;
		} else {
			char shown[64];
			sanitize_printable(argv[i], shown, sizeof(shown));
			pam_syslog(pamh, LOG_ERR, "unknown or malformed module argument \"%s\"", shown);
			return -EINVAL;
		}
	}
	return 0;
}

/* One line per decision, in a fixed shape that log tools can parse. */
static void log_outcome(struct login *l, int priority, const char *outcome,
			const char *detail)
{
	pam_syslog(l->pamh, priority, "user=%s service=%s rhost=%s method=totp outcome=%s%s%s",
		   l->user, l->service, l->rhost[0] ? l->rhost : "-", outcome,
		   detail ? " " : "", detail ? detail : "");
}

static void tell_user(struct login *l, const char *msg)
{
	if (!l->silent)
		(void)pam_error(l->pamh, "%s", msg);
}

/* 1 if the user exists, 0 if not, -ENOMEM or -EIO if NSS could not tell
 * (a directory server down is not an unknown user). */
static int user_exists(const char *user)
{
	struct passwd pw, *res = NULL;
	size_t len = 16384;
	int r;

	for (;;) {
		char *buf = malloc(len);

		if (buf == NULL)
			return -ENOMEM;
		r = getpwnam_r(user, &pw, buf, len, &res);
		free(buf);
		if (r != ERANGE || len >= (1u << 20))
			break;
		len *= 2;
	}
	if (r == 0)
		return res != NULL;
	if (r == ENOENT || r == ESRCH || r == EBADF || r == EPERM)
		return 0;
	return r == ENOMEM ? -ENOMEM : -EIO;
}

/* Reads the answer, dropping the spaces that apps show inside codes.
 * Returns false for no answer at all (a conversation failure). */
static bool read_code(struct login *l, char *code, size_t codelen)
{
	char *resp = NULL;
	size_t o = 0;
	int r;

	r = pam_prompt(l->pamh, PAM_PROMPT_ECHO_OFF, &resp, "Verification code: ");
	if (r != PAM_SUCCESS || resp == NULL) {
		secure_free_string(resp);
		return false;
	}
	code[0] = '\0';
	if (strnlen(resp, CODE_INPUT_MAX + 1) <= CODE_INPUT_MAX) {
		for (const char *p = resp; *p != '\0' && o + 1 < codelen; p++)
			if (*p != ' ')
				code[o++] = *p;
		code[o] = '\0';
	} else {
		/* Overlong: keep a marker that can never verify. */
		(void)snprintf(code, codelen, "x");
	}
	secure_free_string(resp);
	return true;
}

static enum outcome check_code(struct login *l, struct store *st, const char *code)
{
	struct mfa_record rec;
	struct store_txn *txn = NULL;
	struct mfa_error err = { "" };
	time_t now = time(NULL);
	uint64_t step = 0;
	enum outcome o;
	bool exists, locked_now = false;
	int v, r;

	/* Lock, then read afresh: of two logins racing with one code, the
	 * second sees the first's last_step and is refused. */
	r = store_begin(st, l->user, &txn, &rec, &exists, &err);
	if (r < 0) {
		pam_syslog(l->pamh, LOG_ERR, "%s", err.msg);
		log_outcome(l, LOG_ERR, "error", "reason=store");
		return r == -ENOMEM ? OUT_NOMEM : OUT_STORE_ERR;
	}
	if (!exists || !rec.totp.enrolled) {
		/* Reset by an admin while the user was typing. */
		log_outcome(l, LOG_NOTICE, "failure", "reason=reset-during-login");
		o = OUT_BAD_CODE;
		goto out;
	}
	if (lockout_active(&rec, now)) {
		log_outcome(l, LOG_NOTICE, "failure", "reason=locked");
		o = OUT_LOCKED;
		goto out;
	}
	v = totp_verify(rec.totp.secret, rec.totp.secret_len, &rec.totp.params, code,
			now, l->cfg.totp.window, rec.totp.last_step, &step);
	if (v == 1) {
		rec.totp.last_step = step;
		lockout_clear(&rec);
		rec.last_login = (int64_t)now;
		record_set_text(rec.last_service, l->service);
		record_set_text(rec.last_rhost, l->rhost);
		o = OUT_SUCCESS;
	} else {
		locked_now = lockout_record_failure(&rec, &l->cfg, now);
		o = OUT_BAD_CODE;
	}
	r = store_commit(txn, &rec, &err);
	if (r < 0) {
		/* Without the record of this step a replay would pass: fail. */
		pam_syslog(l->pamh, LOG_ERR, "%s", err.msg);
		log_outcome(l, LOG_ERR, "error", "reason=store-write");
		o = OUT_STORE_ERR;
		goto out;
	}
	if (o == OUT_SUCCESS) {
		log_outcome(l, LOG_INFO, "success", NULL);
	} else {
		char detail[96];
		(void)snprintf(detail, sizeof(detail), "reason=%s failures=%u%s",
			       v == 0 ? "replayed-code" : "wrong-code", rec.fail_count,
			       locked_now ? " locked=yes" : "");
		log_outcome(l, LOG_NOTICE, "failure", detail);
	}
	if (l->opt.debug && o == OUT_SUCCESS)
		pam_syslog(l->pamh, LOG_DEBUG, "user=%s accepted step %llu",
			   l->user, (unsigned long long)step);
out:
	store_end(txn);
	record_wipe(&rec);
	return o;
}

static enum outcome authenticate(struct login *l)
{
	struct mfa_error err = { "" };
	struct mfa_record rec;
	struct store *st = NULL;
	char code[CODE_INPUT_MAX + 1];
	enum outcome o;
	int r;

	record_init(&rec, NULL);
	r = store_open(l->cfg.state_dir, STORE_READ_ONLY, &st, &err);
	if (r < 0) {
		pam_syslog(l->pamh, LOG_ERR, "state store: %s", err.msg);
		log_outcome(l, LOG_ERR, "error", "reason=store");
		return r == -ENOMEM ? OUT_NOMEM : OUT_STORE_ERR;
	}
	/* A first look without the lock, so nobody holds it while typing. */
	r = store_load(st, l->user, &rec, &err);
	if (r == -ENOENT || (r == 0 && !rec.totp.enrolled)) {
		log_outcome(l, LOG_NOTICE, "not-enrolled", NULL);
		o = OUT_NOT_ENROLLED;
		goto out;
	}
	if (r < 0) {
		pam_syslog(l->pamh, LOG_ERR, "%s", err.msg);
		log_outcome(l, LOG_ERR, "error", "reason=store");
		o = OUT_STORE_ERR;
		goto out;
	}
	if (lockout_active(&rec, time(NULL))) {
		log_outcome(l, LOG_NOTICE, "failure", "reason=locked");
		tell_user(l, rec.locked_until < 0 ?
			  "Too many failed verification codes: this account is locked "
			  "until an administrator unlocks it." :
			  "Too many failed verification codes: this account is "
			  "temporarily locked. Try again later or contact your administrator.");
		o = OUT_LOCKED;
		goto out;
	}
	record_wipe(&rec);
	if (!read_code(l, code, sizeof(code))) {
		log_outcome(l, LOG_NOTICE, "error", "reason=conversation");
		o = OUT_CONV_ERR;
		goto out;
	}
	o = check_code(l, st, code);
	secure_wipe(code, sizeof(code));
out:
	record_wipe(&rec);
	store_close(st);
	return o;
}

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
				   const char **argv)
{
	struct mfa_error err = { "" };
	struct login l;
	const void *item = NULL;
	enum outcome o;
	int r;

	memset(&l, 0, sizeof(l));
	l.pamh = pamh;
	l.silent = (flags & PAM_SILENT) != 0;
	if (parse_args(pamh, argc, argv, &l.opt) < 0)
		return map_result(OUT_CONFIG_ERR);

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
		return map_result(r == -ENOMEM ? OUT_NOMEM : OUT_CONFIG_ERR);
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
	r = user_exists(l.user);
	if (r <= 0) {
		if (r == 0)
			pam_syslog(pamh, LOG_NOTICE, "refusing an unknown user");
		else
			pam_syslog(pamh, LOG_ERR, "cannot look up the user in the passwd "
				   "database: %s", strerror(-r));
		o = r == 0 ? OUT_USER_UNKNOWN : r == -ENOMEM ? OUT_NOMEM : OUT_STORE_ERR;
		goto out;
	}
	if (oath_init() != OATH_OK) {
		pam_syslog(pamh, LOG_ERR, "liboath failed to initialise");
		o = OUT_CONFIG_ERR;
		goto out;
	}
	if (l.opt.debug)
		pam_syslog(pamh, LOG_DEBUG, "user=%s config=%s", l.user, l.opt.config_path);
	o = authenticate(&l);
out:
	config_free(&l.cfg);
	return map_result(o);
}

PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc,
			      const char **argv)
{
	return PAM_SUCCESS;
}
