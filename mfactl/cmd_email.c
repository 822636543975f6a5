/* mfactl's email side: enroll --method email, send-setup, and the notices
 * sent to users when an admin changes their factors. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mfactl.h"
#include "notices.h"
#include "notify.h"
#include "policy.h"
#include "secmem.h"

/* The address to enroll: --address, else the email.address template's;
 * returns false, with *status set, when there is none acceptable. */
static bool enroll_address(struct mfactl *ctx, const char *user, const char *address, char *addr,
			   size_t len, int *status)
{
	if (address != NULL) {
		if (!email_address_valid(address)) {
			fprintf(stderr,
				"mfactl enroll: \"%.80s\" is not an email address this "
				"system accepts (name@example.org: no spaces, quotes, commas or "
				"line breaks)\n",
				address);
			*status = EXIT_FAIL;
			return false;
		}
		(void)snprintf(addr, len, "%s", address);
	} else if (email_address_from_template(&ctx->cfg.email, user, addr, len) < 0) {
		fprintf(stderr,
			"mfactl enroll: no address: give --address, or set the "
			"email.address template in %s\n",
			ctx->config_path);
		*status = EXIT_USAGE;
		return false;
	}
	return true;
}

/* Refuses to replace an enrolled address without --force. */
static int email_replace_ok(struct store *st, const char *user, bool force,
			    struct store_summary *rec)
{
	struct mfa_error err = { "" };
	int r;

	r = store_summary(st, user, rec, &err);
	if (r < 0) {
		fprintf(stderr, "mfactl: %s\n", err.msg);
		return -1;
	}
	if (rec->email.verified && !force) {
		fprintf(stderr,
			"mfactl enroll: %s already has email enrolled (%s); use "
			"--force to replace it\n",
			user, rec->email.address);
		return -1;
	}
	return 0;
}

/* --verified: the address is enrolled at once, and the user is sent a
 * confirmation. */
static int enroll_verified(struct mfactl *ctx, struct store *st, const char *user, const char *addr,
			   bool force)
{
	struct mfa_error err = { "" };

	if (store_provision_email(st, user, addr, force, time(NULL), &err) < 0) {
		fprintf(stderr, "mfactl: %s\n", err.msg);
		return EXIT_FAIL;
	}
	printf("Enrolled %s for email codes to %s (verified by the administrator).\n", user, addr);
	mfactl_log_action("action=enroll user=%s method=email verified=admin", user);
	if (notify_enrolled(&ctx->cfg, addr, user, "email", "mfactl", "", &err) < 0)
		fprintf(stderr, "mfactl: note: no confirmation email: %s\n", err.msg);
	return EXIT_OK;
}

/* Unverified: the code goes out first, and only then (with --force) does
 * an enrolled address give way, in the same write as the code. */
static int enroll_pending(struct mfactl *ctx, struct store *st, const char *user, const char *addr,
			  bool force)
{
	struct mfa_error err = { "" };
	char code[EMAIL_CODE_DIGITS_MAX + 1];
	int r;

	if (email_code_new(ctx->cfg.email.code_digits, code) < 0) {
		fprintf(stderr, "mfactl: cannot get random bytes\n");
		return EXIT_FAIL;
	}
	r = notify_code(&ctx->cfg, addr, user, code, true, "mfactl", "", &err);
	if (r == 0)
		r = store_email_code_by_admin(st, &ctx->cfg, user, addr, code, force, time(NULL),
					      &err);
	secure_wipe(code, sizeof(code));
	if (r < 0) {
		fprintf(stderr, "mfactl: %s\n", err.msg);
		return EXIT_FAIL;
	}
	printf("Sent a verification code to %s. %s proves the address by typing it at "
	       "the next login within %u minute%s (a later login sends a new code).\n",
	       addr, user, (ctx->cfg.email.code_ttl + 59) / 60,
	       ctx->cfg.email.code_ttl > 60 ? "s" : "");
	mfactl_log_action("action=enroll user=%s method=email verified=pending", user);
	return EXIT_OK;
}

/* Sets the user's email address: verified at once (--verified), or with a
 * code sent to it that the user types at the next login.  The code goes
 * out before anything is written, so a mail failure changes nothing. */
int mfactl_enroll_email(struct mfactl *ctx, const char *user, const char *address, bool verified,
			bool force)
{
	struct store *st = NULL;
	struct store_summary rec;
	char addr[EMAIL_ADDRESS_MAX + 1];
	int status = EXIT_FAIL;

	memset(&rec, 0, sizeof(rec));
	if (!enroll_address(ctx, user, address, addr, sizeof(addr), &status))
		return status;
	if (mfactl_open_store(ctx, STORE_CREATE, &st) < 0)
		return EXIT_FAIL;
	if (email_replace_ok(st, user, force, &rec) < 0)
		goto out;
	if (verified)
		status = enroll_verified(ctx, st, user, addr, force);
	else
		status = enroll_pending(ctx, st, user, addr, force);
out:
	store_summary_wipe(&rec);
	store_close(st);
	return status;
}

void mfactl_notify_reset(struct mfactl *ctx, const char *user, const char *address,
			 const char *method)
{
	struct mfa_error err = { "" };
	char to[EMAIL_ADDRESS_MAX + 1];

	if (ctx->cfg.email.smtp_url == NULL || ctx->cfg.email.from == NULL)
		return;
	if (address != NULL && address[0] != '\0')
		(void)snprintf(to, sizeof(to), "%s", address);
	else if (email_address_from_template(&ctx->cfg.email, user, to, sizeof(to)) < 0)
		return;
	if (notify_reset(&ctx->cfg, to, user, method, &err) < 0)
		fprintf(stderr, "mfactl: note: no email to %s about the reset: %s\n", user,
			err.msg);
	else
		printf("Told %s by email at %s.\n", user, to);
}

static const char send_setup_help[] =
	"usage: mfactl send-setup USER\n"
	"\n"
	"Emails USER instructions to set up multi-factor authentication at their\n"
	"next login: the methods allowed, the apps to use, what they will see, and\n"
	"the enroll_by deadline if their policy is required.  The address is the\n"
	"verified one on record, else the email.address template's.\n";

int cmd_send_setup(struct mfactl *ctx, int argc, char **argv)
{
	struct mfa_error err = { "" };
	struct policy_decision d;
	struct store_summary rec;
	struct store *st = NULL;
	char to[EMAIL_ADDRESS_MAX + 1];
	const char *user;
	bool known;
	int status = EXIT_FAIL, r;

	user = mfactl_one_user_arg(argc, argv, send_setup_help, true, &status);
	if (user == NULL)
		return status;
	if (mfactl_load_config(ctx) < 0)
		return EXIT_FAIL;
	if (ctx->cfg.email.smtp_url == NULL || ctx->cfg.email.from == NULL) {
		fprintf(stderr,
			"mfactl send-setup: email is not configured (email.smtp_url, "
			"email.from in %s)\n",
			ctx->config_path);
		return EXIT_FAIL;
	}
	if (policy_for_user(&ctx->cfg.policy, user, &d, &err) < 0) {
		fprintf(stderr, "mfactl: %s: %s\n", user, err.msg);
		return EXIT_FAIL;
	}
	if (d.policy == POLICY_EXEMPT) {
		fprintf(stderr, "mfactl send-setup: %s is exempt: there is nothing to set up\n",
			user);
		return EXIT_FAIL;
	}
	memset(&rec, 0, sizeof(rec));
	r = store_open(&ctx->cfg, STORE_READ_ONLY, &st, &err);
	if (r == 0 && store_summary(st, user, &rec, &err) < 0)
		memset(&rec, 0, sizeof(rec));
	store_close(st);
	known = notify_address(&ctx->cfg, rec.email.verified ? rec.email.address : NULL, user, to,
			       sizeof(to));
	if (store_summary_methods(&rec) & d.methods) {
		store_summary_wipe(&rec);
		fprintf(stderr,
			"mfactl send-setup: %s has already set up multi-factor "
			"authentication\n",
			user);
		return EXIT_FAIL;
	}
	store_summary_wipe(&rec);
	if (!known) {
		fprintf(stderr,
			"mfactl send-setup: no address known for %s: set the "
			"email.address template, or mfactl enroll %s --method email --address ADDR\n",
			user, user);
		return EXIT_FAIL;
	}
	if (notify_setup(&ctx->cfg, to, user, policy_name(d.policy), &err) < 0) {
		fprintf(stderr, "mfactl: %s\n", err.msg);
		return EXIT_FAIL;
	}
	printf("Sent setup instructions to %s at %s.\n", user, to);
	mfactl_log_action("action=send-setup user=%s", user);
	return EXIT_OK;
}
