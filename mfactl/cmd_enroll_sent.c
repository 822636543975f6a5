/* mfactl enroll --method email|sms: an address or a phone number for the
 * codes of a user, vouched for by the administrator (--verified) or put on
 * record unverified with a code sent to it now, which the user types at
 * the next login to prove it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mfactl.h"
#include "notify.h"
#include "secmem.h"

/* "address" or "number": what the destination of method is. */
static const char *dest_kind(unsigned method)
{
	return method == METHOD_SMS ? "number" : "address";
}

/* The destination to enroll: --phone (checked already), --address, else
 * the email.address template's; false, with *status set, when there is
 * none acceptable. */
static bool sent_dest(struct mfactl *ctx, const struct sent_enroll *e, char *dest, size_t len,
		      int *status)
{
	if (e->method == METHOD_SMS || e->dest != NULL) {
		if (e->method == METHOD_EMAIL && !email_address_valid(e->dest)) {
			char shown[96];
			sanitize_printable(e->dest, shown, sizeof(shown));
			fprintf(stderr,
				"mfactl enroll: \"%.80s\" is not an email address this "
				"system accepts (name@example.org: no spaces, quotes, commas or "
				"line breaks)\n",
				shown);
			*status = EXIT_FAIL;
			return false;
		}
		(void)snprintf(dest, len, "%s", e->dest);
	} else if (email_address_from_template(&ctx->cfg.email, e->user, dest, len) < 0) {
		fprintf(stderr,
			"mfactl enroll: no address: give --address, or set the "
			"email.address template in %s\n",
			ctx->config_path);
		*status = EXIT_USAGE;
		return false;
	}
	return true;
}

/* The user has a verified factor of the method: the one of sum, masked
 * (sum NULL: not known which). */
static void say_held(const struct sent_enroll *e, const struct store_summary *sum)
{
	const struct store_factor *f = sum != NULL ? store_summary_nth(sum, e->method, 0) : NULL;
	char masked[FACTOR_DEST_MAX + 1], shown[FACTOR_DEST_MAX + 4] = "";

	if (f != NULL) {
		notify_mask(e->method, f->dest, masked, sizeof(masked));
		(void)snprintf(shown, sizeof(shown), " (%s)", masked);
	}
	fprintf(stderr,
		"mfactl enroll: %s already has %s enrolled%s; use %s for another or "
		"--force to replace it\n",
		e->user, method_name(e->method), shown, e->verified ? "--add" : "--add --verified");
}

/* Whether the mode allows the destination, as the store holds the user's
 * factors now; says why not.  The store decides again under its lock:
 * this spares the user a code sent for nothing. */
static bool sent_mode_ok(struct mfactl *ctx, const struct sent_enroll *e,
			 const struct store_summary *sum, const char *dest)
{
	unsigned held = store_summary_count(sum, e->method);

	for (unsigned i = 0; i < sum->n_factors; i++) {
		const struct store_factor *f = &sum->factors[i];

		if (f->verified && f->method == e->method && strcmp(f->dest, dest) == 0 &&
		    e->mode != PROVISION_REPLACE) {
			fprintf(stderr, "mfactl enroll: %s already has %s enrolled\n", e->user,
				dest);
			return false;
		}
	}
	if (e->mode == PROVISION_NEW && held > 0) {
		say_held(e, sum);
		return false;
	}
	if (e->mode == PROVISION_ADD && held >= ctx->cfg.factors_per_method) {
		mfactl_say_quota(ctx, e->user, e->method);
		return false;
	}
	return true;
}

/* A confirmation where the user reads mail: the new address itself, or
 * for a number the verified address on record (else the template's). */
static void confirm_enrolled(struct mfactl *ctx, const struct sent_enroll *e,
			     const struct store_summary *sum, const char *dest)
{
	const struct store_factor *mail = store_summary_nth(sum, METHOD_EMAIL, 0);
	struct mfa_error err = { "" };
	char to[EMAIL_ADDRESS_MAX + 1];

	if (ctx->cfg.email.smtp_url == NULL || ctx->cfg.email.from == NULL)
		return;
	if (e->method == METHOD_EMAIL)
		(void)snprintf(to, sizeof(to), "%s", dest);
	else if (!notify_address(&ctx->cfg, mail != NULL ? mail->dest : NULL, e->user, to,
				 sizeof(to)))
		return;
	if (notify_enrolled(&ctx->cfg, to, e->user, method_name(e->method), "mfactl", "", &err) < 0)
		fprintf(stderr, "mfactl: note: no confirmation email: %s\n", err.msg);
}

/* --verified: the destination is enrolled at once, and the user is sent
 * a confirmation. */
static int enroll_verified(struct mfactl *ctx, struct store *st, const struct sent_enroll *e,
			   const struct store_summary *sum, const char *dest)
{
	struct mfa_error err = { "" };
	int r;

	r = store_provision_dest(st, &ctx->cfg, e->user, e->method, dest, e->label, e->mode,
				 time(NULL), &err);
	if (r == -EDQUOT) {
		mfactl_say_quota(ctx, e->user, e->method);
		return EXIT_FAIL;
	}
	/* Enrolled meanwhile: a factor of the method for a new one, the same
	 * destination otherwise. */
	if (r == -EEXIST && e->mode == PROVISION_NEW) {
		say_held(e, NULL);
		return EXIT_FAIL;
	}
	if (r == -EEXIST) {
		fprintf(stderr, "mfactl enroll: %s already has %s enrolled\n", e->user, dest);
		return EXIT_FAIL;
	}
	if (r < 0) {
		fprintf(stderr, "mfactl: %s\n", err.msg);
		return EXIT_FAIL;
	}
	printf("Enrolled %s for %s codes to %s%s%s%s (verified by the administrator)%s.\n", e->user,
	       mfactl_method_title(e->method), dest, e->label ? ", labelled \"" : "",
	       e->label ? e->label : "", e->label ? "\"" : "",
	       e->mode == PROVISION_REPLACE ? ", replacing the previous ones" : "");
	mfactl_log_action("action=enroll user=%s method=%s verified=admin%s", e->user,
			  method_name(e->method),
			  e->mode == PROVISION_REPLACE ? " replaced=yes" :
			  e->mode == PROVISION_ADD     ? " added=yes" :
							 "");
	confirm_enrolled(ctx, e, sum, dest);
	if (e->recovery_codes)
		mfactl_enroll_recovery(ctx, st, e->user, sum);
	return EXIT_OK;
}

/* The label of the unverified factor just put on record, if it is still
 * ours: store_code_by_admin() takes none.  A label lost is only said. */
static void label_pending(struct store *st, const struct sent_enroll *e, const char *dest)
{
	struct mfa_error err = { "" };
	struct store_summary sum;
	const struct store_factor *f;
	int r;

	r = store_summary(st, e->user, &sum, &err);
	f = r == 0 ? store_summary_unverified(&sum, e->method) : NULL;
	if (f != NULL && strcmp(f->dest, dest) == 0) {
		r = store_label_factor(st, e->user, f->id, e->label, &err);
	} else if (r == 0) {
		mfa_error_set(&err, "the %s is no longer on record", dest_kind(e->method));
		r = -ENOENT;
	}
	if (r < 0)
		fprintf(stderr, "mfactl: note: the %s is not labelled: %s\n", dest_kind(e->method),
			err.msg);
	store_summary_wipe(&sum);
}

/* Unverified: the code goes out first, and only then (with --force) do
 * the verified factors of the method give way, in the same write as the
 * code: a code that cannot be sent changes nothing. */
static int enroll_pending(struct mfactl *ctx, struct store *st, const struct sent_enroll *e,
			  const char *dest)
{
	struct mfa_error err = { "" };
	char code[EMAIL_CODE_DIGITS_MAX + 1];
	unsigned digits = notify_code_digits(&ctx->cfg, e->method);
	unsigned ttl = notify_code_ttl(&ctx->cfg, e->method);
	int r;

	if (digits > EMAIL_CODE_DIGITS_MAX || email_code_new(digits, code) < 0) {
		fprintf(stderr, "mfactl: cannot get random bytes\n");
		return EXIT_FAIL;
	}
	r = notify_send_code(&ctx->cfg, e->method, dest, e->user, code, true, "mfactl", "", &err);
	if (r == 0)
		r = store_code_by_admin(st, &ctx->cfg, e->user, e->method, dest, code,
					e->mode == PROVISION_REPLACE, time(NULL), &err);
	secure_wipe(code, sizeof(code));
	if (r == -ESTALE) {
		fprintf(stderr,
			"mfactl enroll: %s has enrolled %s meanwhile; the code sent is void "
			"(--force replaces it)\n",
			e->user, method_name(e->method));
		return EXIT_FAIL;
	}
	if (r < 0) {
		fprintf(stderr, "mfactl: %s\n", err.msg);
		return EXIT_FAIL;
	}
	if (e->label != NULL)
		label_pending(st, e, dest);
	printf("Sent a verification code to %s. %s proves the %s by typing it at "
	       "the next login within %u minute%s (a later login sends a new code).\n",
	       dest, e->user, dest_kind(e->method), (ttl + 59) / 60, ttl > 60 ? "s" : "");
	mfactl_log_action("action=enroll user=%s method=%s verified=pending%s", e->user,
			  method_name(e->method),
			  e->mode == PROVISION_REPLACE ? " replaced=yes" : "");
	return EXIT_OK;
}

int mfactl_enroll_sent(struct mfactl *ctx, const struct sent_enroll *e)
{
	struct mfa_error err = { "" };
	struct store *st = NULL;
	struct store_summary sum;
	char dest[FACTOR_DEST_MAX + 1];
	int status = EXIT_FAIL;

	memset(&sum, 0, sizeof(sum));
	if (!sent_dest(ctx, e, dest, sizeof(dest), &status))
		return status;
	if (mfactl_open_store(ctx, STORE_CREATE, &st) < 0)
		return EXIT_FAIL;
	if (store_summary(st, e->user, &sum, &err) < 0)
		fprintf(stderr, "mfactl: %s\n", err.msg);
	else if (sent_mode_ok(ctx, e, &sum, dest))
		status = e->verified ? enroll_verified(ctx, st, e, &sum, dest) :
				       enroll_pending(ctx, st, e, dest);
	store_summary_wipe(&sum);
	store_close(st);
	return status;
}
