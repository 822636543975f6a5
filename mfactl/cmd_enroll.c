/* mfactl enroll: reads what to enroll, and creates a TOTP factor for a
 * user, shown as an otpauth:// URI and a QR code for the user's
 * authenticator app; addresses and numbers are cmd_enroll_sent.c's. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lockout.h"
#include "mfactl.h"
#include "qr.h"
#include "qr_image.h"
#include "secmem.h"
#include "sms.h"
#include "totp.h"

static void enroll_usage(FILE *out)
{
	fprintf(out,
		"usage: mfactl enroll USER [--method totp] [--label L] [--add|--force] [--qr STYLE]\n"
		"       mfactl enroll USER --method email [--address ADDR] [--verified] [--label L]\n"
		"                     [--add|--force]\n"
		"       mfactl enroll USER --method sms --phone NUMBER [--verified] [--label L]\n"
		"                     [--add|--force]\n"
		"       mfactl enroll ... [--no-recovery-codes]\n"
		"\n"
		"Creates a new TOTP secret for USER, saves it, and prints the otpauth://\n"
		"URI (alone on its own line) and a QR code of it to scan with an\n"
		"authenticator app; or sets up codes by email or text message.  A user\n"
		"who has a factor of the method keeps it: --add adds another (up to\n"
		"factors_per_method), --force replaces them all.  A user who had no\n"
		"verified factor, or no unused recovery code, is given a new set of\n"
		"recovery codes too, printed at the end.\n"
		"\n"
		"  -m, --method M      totp (default), email or sms\n"
		"  -l, --label L       what the user calls the factor (\"phone\", \"tablet\")\n"
		"  -A, --add           another factor of the method beside those held\n"
		"  -f, --force         replace every factor of the method\n"
		"  -q, --qr STYLE      utf8 (default; for dark terminals), ansi (explicit\n"
		"                      colours, any terminal), none, or png:FILE or\n"
		"                      svg:FILE to write an image to hand over (a new\n"
		"                      file, mode 0600)\n"
		"  -a, --address ADDR  email: the address (default: the email.address\n"
		"                      template)\n"
		"  -p, --phone NUMBER  sms: the number, in E.164 form (+15550100)\n"
		"  -v, --verified      email, sms: the address or number is known to be\n"
		"                      right: no code.  Without it a verification code is\n"
		"                      sent to it, which the user types at the next login\n"
		"      --no-recovery-codes\n"
		"                      make no recovery codes (mfactl recovery-codes makes\n"
		"                      them later)\n"
		"  -h, --help          this help\n");
}

/* Writes the QR image for --qr png:FILE or svg:FILE: a new file of mode
 * 0600 (it encodes the secret), never one that exists or a symlink. */
static int write_qr_image(const char *spec, const char *uri)
{
	bool png = strncmp(spec, "png:", 4) == 0;
	const char *path = spec + 4;
	int fd, r;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		fprintf(stderr, "mfactl enroll: %s: %s%s\n", path, strerror(errno),
			errno == EEXIST ? " (the image is never written over a file)" : "");
		return -1;
	}
	r = png ? qr_write_png(uri, fd) : qr_write_svg(uri, fd);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0) {
		fprintf(stderr, "mfactl enroll: %s: %s\n", path, strerror(-r));
		(void)unlink(path);
		return -1;
	}
	return 0;
}

static void print_secret_groups(const char *b32)
{
	printf("Secret (for typing in by hand): ");
	for (size_t i = 0; b32[i] != '\0'; i++) {
		if (i > 0 && i % 4 == 0)
			putchar(' ');
		putchar(b32[i]);
	}
	putchar('\n');
}

/* What the command line asked for. */
struct enroll_opts {
	const char *user;
	unsigned method; /* METHOD_TOTP unless --method says otherwise */
	bool add, force;
	enum qr_style style;
	const char *image; /* --qr png:FILE or svg:FILE */
	const char *address, *phone, *label;
	bool verified;
	bool no_recovery; /* --no-recovery-codes */
};

/* The options that go together, and what each method needs; false (a
 * usage error, said why) if the command line is not one of the forms. */
static bool enroll_combination_ok(const struct enroll_opts *o)
{
	const char *why = NULL;

	if (o->add && o->force)
		why = "--add and --force do not go together";
	else if (o->address != NULL && o->method != METHOD_EMAIL)
		why = "--address goes with --method email";
	else if (o->phone != NULL && o->method != METHOD_SMS)
		why = "--phone goes with --method sms";
	else if (o->verified && !(o->method & METHOD_SENT))
		why = "--verified goes with --method email or sms";
	else if (o->method == METHOD_SMS && o->phone == NULL)
		why = "--method sms needs --phone NUMBER";
	/* A login proves a pending address only for a user without a factor
	 * of its method: a further one is the user's to prove (mfa-setup),
	 * or the administrator's to vouch for. */
	else if (o->add && (o->method & METHOD_SENT) && !o->verified)
		why = "--add needs --verified for email and sms: the user proves a further "
		      "address or number with mfa-setup";
	if (why == NULL)
		return true;
	fprintf(stderr, "mfactl enroll: %s\n", why);
	return false;
}

/* Reads the options and USER; returns false, with *status set, when the
 * verb ends here (--help, or a usage error). */
static bool enroll_args(int argc, char **argv, struct enroll_opts *o, int *status)
{
	enum { OPT_NO_RECOVERY = 256 };
	static const struct option opts[] = {
		{ "method", required_argument, NULL, 'm' },
		{ "label", required_argument, NULL, 'l' },
		{ "add", no_argument, NULL, 'A' },
		{ "force", no_argument, NULL, 'f' },
		{ "qr", required_argument, NULL, 'q' },
		{ "address", required_argument, NULL, 'a' },
		{ "phone", required_argument, NULL, 'p' },
		{ "verified", no_argument, NULL, 'v' },
		{ "no-recovery-codes", no_argument, NULL, OPT_NO_RECOVERY },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*status = EXIT_USAGE;
	while ((c = getopt_long(argc, argv, "m:l:Afq:a:p:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (method_parse(optarg, &o->method) < 0) {
				char shown[64];
				sanitize_printable(optarg, shown, sizeof(shown));
				fprintf(stderr,
					"mfactl enroll: unknown method \"%s\" (available: "
					"totp, email, sms)\n",
					shown);
				return false;
			}
			break;
		case 'l': o->label = optarg; break;
		case 'A': o->add = true; break;
		case 'f': o->force = true; break;
		case 'a': o->address = optarg; break;
		case 'p': o->phone = optarg; break;
		case 'v': o->verified = true; break;
		case OPT_NO_RECOVERY: o->no_recovery = true; break;
		case 'q':
			if ((strncmp(optarg, "png:", 4) == 0 || strncmp(optarg, "svg:", 4) == 0) &&
			    optarg[4] != '\0') {
				o->image = optarg;
				o->style = QR_STYLE_NONE;
			} else if (qr_style_parse(optarg, &o->style) < 0) {
				fprintf(stderr, "mfactl enroll: --qr takes utf8, ansi, none, "
						"png:FILE or svg:FILE\n");
				return false;
			}
			break;
		case 'h':
			enroll_usage(stdout);
			*status = EXIT_OK;
			return false;
		default: enroll_usage(stderr); return false;
		}
	}
	if (optind != argc - 1) {
		enroll_usage(stderr);
		return false;
	}
	o->user = argv[optind];
	return enroll_combination_ok(o);
}

static enum provision_mode enroll_mode(const struct enroll_opts *o)
{
	return o->add ? PROVISION_ADD : o->force ? PROVISION_REPLACE : PROVISION_NEW;
}

/* The values given, checked before anything is read or written: a bad
 * one is refused (exit 1, said why) and changes nothing. */
static bool enroll_values_ok(const struct enroll_opts *o)
{
	if (!mfactl_user_ok(o->user, true))
		return false;
	if (o->label != NULL && !mfactl_label_ok("enroll", o->label))
		return false;
	if (o->phone != NULL && !sms_number_valid(o->phone)) {
		char shown[64];
		sanitize_printable(o->phone, shown, sizeof(shown));
		fprintf(stderr,
			"mfactl enroll: \"%s\" is not a phone number this system accepts "
			"(E.164: + and 8 to 15 digits, the first not 0; no spaces, letters "
			"or separators)\n",
			shown);
		return false;
	}
	return true;
}

/* Nobody is enrolled for a method the module would not offer them. */
static int enroll_sent(struct mfactl *ctx, const struct enroll_opts *o)
{
	struct sent_enroll e = {
		.user = o->user,
		.method = o->method,
		.dest = o->method == METHOD_SMS ? o->phone : o->address,
		.label = o->label,
		.verified = o->verified,
		.mode = enroll_mode(o),
		.recovery_codes = !o->no_recovery,
	};
	bool enabled = o->method == METHOD_SMS ? ctx->cfg.sms.url != NULL :
						 ctx->cfg.email.smtp_url != NULL;

	if (!(ctx->cfg.methods & o->method) || !enabled) {
		fprintf(stderr, "mfactl enroll: the %s method is not enabled in %s (methods, %s)\n",
			method_name(o->method), ctx->config_path,
			o->method == METHOD_SMS ? "sms.url" : "email.smtp_url");
		return EXIT_FAIL;
	}
	return mfactl_enroll_sent(ctx, &e);
}

/* A new secret with the configured parameters. */
static int new_totp_factor(struct mfactl *ctx, struct mfa_totp *t)
{
	memset(t, 0, sizeof(*t));
	t->params = config_totp_params(&ctx->cfg);
	t->secret_len = totp_secret_length(t->params.algorithm);
	if (secure_random(t->secret, t->secret_len) < 0) {
		fprintf(stderr, "mfactl: cannot get random bytes\n");
		return -1;
	}
	t->enrolled = true;
	return 0;
}

/* The otpauth:// URI of the factor and its QR code as text (NULL for
 * --qr none); both hold the secret. */
static int totp_uri_and_qr(struct mfactl *ctx, const char *user, const struct mfa_totp *t,
			   enum qr_style style, char *uri, size_t uri_len, char **qr)
{
	char label[USER_NAME_MAX + 260];

	totp_account_label(user, ctx->cfg.store.backend == STORE_BACKEND_POSTGRESQL, label,
			   sizeof(label));
	if (totp_uri(ctx->cfg.issuer, label, t->secret, t->secret_len, &t->params, uri, uri_len) <
	    0) {
		fprintf(stderr, "mfactl: the otpauth URI does not fit\n");
		return -1;
	}
	if (qr_render_text(uri, style, qr) < 0) {
		fprintf(stderr, "mfactl: cannot draw the QR code\n");
		return -1;
	}
	return 0;
}

/* Tells the admin what to hand over: the QR code, the URI and the secret. */
static void print_totp_enrolled(const struct enroll_opts *o, const struct mfa_totp *t,
				bool replaced, const char *qr, const char *uri)
{
	char b32[TOTP_SECRET_B32_MAX + 1];

	base32_encode(t->secret, t->secret_len, b32);
	printf("Enrolled %s for TOTP (%s, %u digits, %u-second period%s%s%s)%s.\n", o->user,
	       totp_algorithm_name(t->params.algorithm), t->params.digits, t->params.period,
	       o->label != NULL ? ", labelled \"" : "", o->label != NULL ? o->label : "",
	       o->label != NULL ? "\"" : "",
	       replaced ? ", replacing the previous app" :
	       o->add	? ", beside the apps the user has" :
			  "");
	if (o->style != QR_STYLE_NONE)
		printf("Scan this QR code with an authenticator app:\n\n%s\n", qr);
	if (o->image != NULL)
		printf("Wrote the QR code to %s (mode 0600: it holds the secret).\n", o->image + 4);
	printf("Or open this URI on the device:\n%s\n", uri);
	print_secret_groups(b32);
	secure_wipe(b32, sizeof(b32));
}

static void say_totp_held(const char *user)
{
	fprintf(stderr,
		"mfactl enroll: %s already has TOTP enrolled; use --add for another app or "
		"--force to replace it\n",
		user);
}

/* Whether the mode allows another app; says why not.  The store decides
 * again under its lock: this only spares a secret shown for nothing. */
static bool totp_mode_ok(struct mfactl *ctx, const struct enroll_opts *o,
			 const struct store_summary *sum)
{
	unsigned held = store_summary_count(sum, METHOD_TOTP);

	if (enroll_mode(o) == PROVISION_NEW && held > 0) {
		say_totp_held(o->user);
		return false;
	}
	if (enroll_mode(o) == PROVISION_ADD && held >= ctx->cfg.factors_per_method) {
		mfactl_say_quota(ctx, o->user, METHOD_TOTP);
		return false;
	}
	return true;
}

static int enroll_totp(struct mfactl *ctx, const struct enroll_opts *o)
{
	struct mfa_error err = { "" };
	struct store *st = NULL;
	struct store_summary sum;
	struct mfa_totp t;
	char uri[1024];
	char *qr = NULL;
	const char *user = o->user;
	bool replaced = false;
	int status = EXIT_FAIL, r;

	memset(&sum, 0, sizeof(sum));
	memset(&t, 0, sizeof(t));
	if (mfactl_open_store(ctx, STORE_CREATE, &st) < 0)
		return EXIT_FAIL;
	if (store_summary(st, user, &sum, &err) < 0) {
		fprintf(stderr, "mfactl: %s\n", err.msg);
		goto out;
	}
	if (!totp_mode_ok(ctx, o, &sum))
		goto out;
	if (new_totp_factor(ctx, &t) < 0 ||
	    totp_uri_and_qr(ctx, user, &t, o->style, uri, sizeof(uri), &qr) < 0)
		goto out;
	/* The image first: an enrollment the admin cannot hand over is none. */
	if (o->image != NULL && write_qr_image(o->image, uri) < 0)
		goto out;
	r = store_provision_totp(st, &ctx->cfg, user, &t, o->label, enroll_mode(o), time(NULL),
				 &replaced, &err);
	if (r < 0) {
		if (o->image != NULL)
			(void)unlink(o->image + 4);
		/* Enrolled meanwhile, by a login or another admin. */
		if (r == -EEXIST)
			say_totp_held(user);
		else if (r == -EDQUOT)
			mfactl_say_quota(ctx, user, METHOD_TOTP);
		else
			fprintf(stderr, "mfactl: %s\n", err.msg);
		goto out;
	}
	mfactl_log_action("action=enroll user=%s method=totp%s", user,
			  replaced ? " replaced=yes" :
			  o->add   ? " added=yes" :
				     "");
	print_totp_enrolled(o, &t, replaced, qr, uri);
	if (!o->no_recovery)
		mfactl_enroll_recovery(ctx, st, user, &sum);
	status = EXIT_OK;
out:
	secure_wipe(uri, sizeof(uri));
	secure_wipe(&t, sizeof(t));
	secure_free_string(qr);
	store_summary_wipe(&sum);
	store_close(st);
	return status;
}

int cmd_enroll(struct mfactl *ctx, int argc, char **argv)
{
	struct enroll_opts o = { .method = METHOD_TOTP, .style = QR_STYLE_UTF8 };
	int status;

	if (!enroll_args(argc, argv, &o, &status))
		return status;
	if (!enroll_values_ok(&o) || mfactl_load_config(ctx) < 0)
		return EXIT_FAIL;
	return o.method == METHOD_TOTP ? enroll_totp(ctx, &o) : enroll_sent(ctx, &o);
}
