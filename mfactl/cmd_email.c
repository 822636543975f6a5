/* mfactl's mail to users: send-setup, and the notice sent to a user when
 * an admin resets their factors. */
#include <stdio.h>
#include <string.h>

#include "mfactl.h"
#include "notices.h"
#include "notify.h"
#include "policy.h"

void mfactl_notify_reset(struct mfactl *ctx, const char *user, const char *address,
			 const char *what)
{
	struct mfa_error err = { "" };
	char to[EMAIL_ADDRESS_MAX + 1];

	if (ctx->cfg.email.smtp_url == NULL || ctx->cfg.email.from == NULL)
		return;
	if (address != NULL && address[0] != '\0')
		(void)snprintf(to, sizeof(to), "%s", address);
	else if (email_address_from_template(&ctx->cfg.email, user, to, sizeof(to)) < 0)
		return;
	if (notify_reset(&ctx->cfg, to, user, what, &err) < 0)
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
	const struct store_factor *mail;
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
	mail = store_summary_nth(&rec, METHOD_EMAIL, 0);
	known = notify_address(&ctx->cfg, mail != NULL ? mail->dest : NULL, user, to, sizeof(to));
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
