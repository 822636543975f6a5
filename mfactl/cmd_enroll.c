/* mfactl enroll: creates a TOTP factor for a user and shows it as an
 * otpauth:// URI and a QR code for the user's authenticator app. */
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
#include "totp.h"

static void enroll_usage(FILE *out)
{
	fprintf(out,
		"usage: mfactl enroll USER [--method totp] [--qr STYLE] [--force]\n"
		"       mfactl enroll USER --method email [--address ADDR] [--verified] [--force]\n"
		"\n"
		"Creates a new TOTP secret for USER, saves it, and prints the otpauth://\n"
		"URI (alone on its own line) and a QR code of it to scan with an\n"
		"authenticator app.  Refuses to replace an existing enrollment unless\n"
		"--force is given.\n"
		"\n"
		"  -m, --method M      totp (default) or email\n"
		"  -q, --qr STYLE      utf8 (default; for dark terminals), ansi (explicit\n"
		"                      colours, any terminal), none, or png:FILE or\n"
		"                      svg:FILE to write an image to hand over (a new\n"
		"                      file, mode 0600)\n"
		"  -f, --force         replace an existing enrollment of that method\n"
		"  -a, --address ADDR  email: the address (default: the email.address\n"
		"                      template); a verification code is sent to it, which\n"
		"                      the user types at the next login\n"
		"  -v, --verified      email: the address is known to be right: no code\n"
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
	bool email; /* --method email; else TOTP */
	bool force;
	enum qr_style style;
	const char *image; /* --qr png:FILE or svg:FILE */
	const char *address;
	bool verified;
};

/* Reads the options and USER; returns false, with *status set, when the
 * verb ends here (--help, or a usage error). */
static bool enroll_args(int argc, char **argv, struct enroll_opts *o, int *status)
{
	static const struct option opts[] = {
		{ "method", required_argument, NULL, 'm' },
		{ "qr", required_argument, NULL, 'q' },
		{ "force", no_argument, NULL, 'f' },
		{ "address", required_argument, NULL, 'a' },
		{ "verified", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*status = EXIT_USAGE;
	while ((c = getopt_long(argc, argv, "m:q:fa:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (strcmp(optarg, "totp") != 0 && strcmp(optarg, "email") != 0) {
				fprintf(stderr,
					"mfactl enroll: unknown method \"%s\" (available: "
					"totp, email)\n",
					optarg);
				return false;
			}
			o->email = strcmp(optarg, "email") == 0;
			break;
		case 'a': o->address = optarg; break;
		case 'v': o->verified = true; break;
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
		case 'f': o->force = true; break;
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
	if (!o->email && (o->address != NULL || o->verified)) {
		fprintf(stderr, "mfactl enroll: --address and --verified go with --method email\n");
		return false;
	}
	return true;
}

/* Nobody is enrolled for a method the module would not offer them. */
static int enroll_email(struct mfactl *ctx, const struct enroll_opts *o)
{
	if (!(ctx->cfg.methods & METHOD_EMAIL) || ctx->cfg.email.smtp_url == NULL) {
		fprintf(stderr,
			"mfactl enroll: the email method is not enabled in %s "
			"(methods, email.smtp_url)\n",
			ctx->config_path);
		return EXIT_FAIL;
	}
	return mfactl_enroll_email(ctx, o->user, o->address, o->verified, o->force);
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
	printf("Enrolled %s for TOTP (%s, %u digits, %u-second period)%s.\n", o->user,
	       totp_algorithm_name(t->params.algorithm), t->params.digits, t->params.period,
	       replaced ? ", replacing the previous secret" : "");
	if (o->style != QR_STYLE_NONE)
		printf("Scan this QR code with an authenticator app:\n\n%s\n", qr);
	if (o->image != NULL)
		printf("Wrote the QR code to %s (mode 0600: it holds the secret).\n", o->image + 4);
	printf("Or open this URI on the device:\n%s\n", uri);
	print_secret_groups(b32);
	secure_wipe(b32, sizeof(b32));
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
	if (sum.totp.enrolled && !o->force)
		goto enrolled;
	if (new_totp_factor(ctx, &t) < 0 ||
	    totp_uri_and_qr(ctx, user, &t, o->style, uri, sizeof(uri), &qr) < 0)
		goto out;
	/* The image first: an enrollment the admin cannot hand over is none. */
	if (o->image != NULL && write_qr_image(o->image, uri) < 0)
		goto out;
	r = store_provision_totp(st, user, &t, o->force, time(NULL), &replaced, &err);
	if (r < 0) {
		if (o->image != NULL)
			(void)unlink(o->image + 4);
		if (r == -EEXIST) /* enrolled meanwhile */
			goto enrolled;
		fprintf(stderr, "mfactl: %s\n", err.msg);
		goto out;
	}
	mfactl_log_action("action=enroll user=%s method=totp%s", user,
			  replaced ? " replaced=yes" : "");
	print_totp_enrolled(o, &t, replaced, qr, uri);
	status = EXIT_OK;
	goto out;
enrolled:
	fprintf(stderr,
		"mfactl enroll: %s already has TOTP enrolled; "
		"use --force to replace it\n",
		user);
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
	struct enroll_opts o = { .style = QR_STYLE_UTF8 };
	int status;

	if (!enroll_args(argc, argv, &o, &status))
		return status;
	if (!mfactl_user_ok(o.user, true) || mfactl_load_config(ctx) < 0)
		return EXIT_FAIL;
	return o.email ? enroll_email(ctx, &o) : enroll_totp(ctx, &o);
}
