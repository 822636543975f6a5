/* mfactl: global options, verb dispatch and the helpers every verb shares. */
#include <errno.h>
#include <getopt.h>
#include <liboath/oath.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "build_config.h"
#include "mfactl.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: mfactl [--config PATH] VERB [ARGS...]\n"
		"       mfactl enroll USER [--method totp] [--label L] [--add|--force] [--qr STYLE]\n"
		"                     [--no-recovery-codes]\n"
		"       mfactl enroll USER --method email [--address ADDR] [--verified] [--label L]\n"
		"                     [--add|--force] [--no-recovery-codes]\n"
		"       mfactl enroll USER --method sms --phone NUMBER [--verified] [--label L]\n"
		"                     [--add|--force] [--no-recovery-codes]\n"
		"       mfactl status [--json] [--missing] [USER...]\n"
		"       mfactl policy USER\n"
		"       mfactl recovery-codes USER\n"
		"       mfactl bypass USER [--uses N] [--valid DURATION]\n"
		"       mfactl bypass USER --revoke\n"
		"       mfactl reset USER [--method totp|email|sms | --factor LABEL] [--logout]\n"
		"                    [--yes]\n"
		"       mfactl reset --all --yes\n"
		"       mfactl send-setup USER\n"
		"       mfactl import --from oath [--force] [--dry-run] FILE\n"
		"       mfactl import --from google-authenticator [--force] [--dry-run] USER FILE\n"
		"       mfactl unlock USER\n"
		"       mfactl check\n"
		"       mfactl db init [--sql-dir DIR]\n"
		"       mfactl db check\n"
		"       mfactl migrate --to postgresql [--force] [--dry-run]\n"
		"       mfactl help | --help | --version\n"
		"\n"
		"Global options (before the verb):\n"
		"  -c, --config PATH   configuration file (default %s)\n"
		"  -h, --help          this help; \"mfactl VERB --help\" for a verb's own\n"
		"  -V, --version       print the version\n"
		"\n"
		"Exit status: 0 success, 1 the operation failed or found problems,\n"
		"2 bad command line.  See mfactl(8).\n",
		PAM_MFA_DEFAULT_CONFIG);
}

int mfactl_load_config(struct mfactl *ctx)
{
	struct mfa_error err = { "" };

	if (ctx->cfg_loaded)
		return 0;
	if (config_load(ctx->config_path, &ctx->cfg, &err) < 0) {
		fprintf(stderr, "mfactl: %s\n", err.msg);
		return -1;
	}
	ctx->cfg_loaded = true;
	return 0;
}

int mfactl_open_store(struct mfactl *ctx, int flags, struct store **st)
{
	struct mfa_error err = { "" };
	int r;

	r = store_open(&ctx->cfg, flags, st, &err);
	if (r < 0)
		fprintf(stderr, "mfactl: %s\n", err.msg);
	return r;
}

void mfactl_log_action(const char *fmt, ...)
{
	char msg[512], admin[64] = "";
	const char *sudo_user = getenv("SUDO_USER");
	struct passwd *pw = getpwuid(getuid());
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sanitize_printable(pw ? pw->pw_name : "?", admin, sizeof(admin));
	if (sudo_user != NULL) {
		char shown[64];
		sanitize_printable(sudo_user, shown, sizeof(shown));
		syslog(LOG_AUTHPRIV | LOG_NOTICE, "admin=%s sudo_user=%s %s", admin, shown, msg);
	} else {
		syslog(LOG_AUTHPRIV | LOG_NOTICE, "admin=%s %s", admin, msg);
	}
}

bool mfactl_user_ok(const char *user, bool must_exist)
{
	if (!user_name_valid(user)) {
		char shown[64];
		sanitize_printable(user, shown, sizeof(shown));
		fprintf(stderr,
			"mfactl: \"%s\" is not a valid user name "
			"(letters, digits, '_', '.', '-', '@'; at most %d bytes; "
			"not starting with '.' or '-')\n",
			shown, USER_NAME_MAX);
		return false;
	}
	if (must_exist && getpwnam(user) == NULL) {
		fprintf(stderr, "mfactl: %s: no such user in the passwd database\n", user);
		return false;
	}
	return true;
}

const char *mfactl_one_user_arg(int argc, char **argv, const char *help, bool must_exist,
				int *status)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(help, stdout);
			*status = EXIT_OK;
			return NULL;
		}
		fputs(help, stderr);
		*status = EXIT_USAGE;
		return NULL;
	}
	if (optind != argc - 1) {
		fputs(help, stderr);
		*status = EXIT_USAGE;
		return NULL;
	}
	if (!mfactl_user_ok(argv[optind], must_exist)) {
		*status = EXIT_FAIL;
		return NULL;
	}
	return argv[optind];
}

const char *mfactl_method_title(unsigned method)
{
	return method == METHOD_TOTP  ? "TOTP" :
	       method == METHOD_EMAIL ? "email" :
	       method == METHOD_SMS   ? "SMS" :
					"?";
}

bool mfactl_label_ok(const char *verb, const char *label)
{
	char shown[64];

	if (factor_label_valid(label))
		return true;
	sanitize_printable(label, shown, sizeof(shown));
	fprintf(stderr,
		"mfactl %s: \"%s\" is not a label this system accepts (1 to %d letters, "
		"digits, spaces and .-_+@(), not starting or ending with a space)\n",
		verb, shown, FACTOR_LABEL_MAX);
	return false;
}

void mfactl_say_quota(const struct mfactl *ctx, const char *user, unsigned method)
{
	unsigned n = ctx->cfg.factors_per_method;

	fprintf(stderr, "mfactl enroll: %s already has %u %s factor%s (factors_per_method is %u)\n",
		user, n, mfactl_method_title(method), n == 1 ? "" : "s", n);
}

void mfactl_format_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL) {
		(void)snprintf(buf, len, "-");
		return;
	}
	(void)strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm);
}

static const struct verb {
	const char *name;
	int (*run)(struct mfactl *ctx, int argc, char **argv);
} verbs[] = {
	{ "enroll", cmd_enroll },
	{ "status", cmd_status },
	{ "reset", cmd_reset },
	{ "unlock", cmd_unlock },
	{ "check", cmd_check },
	{ "policy", cmd_policy },
	{ "send-setup", cmd_send_setup },
	{ "import", cmd_import },
	{ "db", cmd_db },
	{ "migrate", cmd_migrate },
	{ "recovery-codes", cmd_recovery_codes },
	{ "bypass", cmd_bypass },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct mfactl ctx = { .config_path = PAM_MFA_DEFAULT_CONFIG };
	const char *verb;
	int c, status;

	umask(077);
	while ((c = getopt_long(argc, argv, "+c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (optarg[0] != '/') {
				fprintf(stderr, "mfactl: --config needs an absolute path\n");
				return EXIT_USAGE;
			}
			ctx.config_path = optarg;
			break;
		case 'h': usage(stdout); return EXIT_OK;
		case 'V': printf("mfactl %s\n", PAM_MFA_VERSION); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	verb = argv[optind];
	if (strcmp(verb, "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	openlog("mfactl", LOG_PID, LOG_AUTHPRIV);
	if (oath_init() != OATH_OK) {
		fprintf(stderr, "mfactl: liboath failed to initialise\n");
		return EXIT_FAIL;
	}
	status = -1;
	for (const struct verb *v = verbs; v->name != NULL; v++) {
		if (strcmp(v->name, verb) == 0) {
			int first = optind;

			/* Each verb parses its own options, its name as argv[0];
			 * optind = 0 makes glibc's getopt start afresh. */
			optind = 0;
			status = v->run(&ctx, argc - first, argv + first);
			break;
		}
	}
	if (status < 0) {
		fprintf(stderr, "mfactl: unknown verb \"%s\"; see mfactl --help\n", verb);
		status = EXIT_USAGE;
	}
	if (ctx.cfg_loaded)
		config_free(&ctx.cfg);
	(void)oath_done();
	closelog();
	return status;
}
