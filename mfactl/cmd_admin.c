/* mfactl reset, unlock and check: the admin's repairs and the health check. */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#include "lockout.h"
#include "mfactl.h"
#include "policy.h"
#include "secmem.h"

/* Opens the store for an operation on user; 1 (nothing to do, said so)
 * if there is no state directory, -1 after an error. */
static int open_for(struct mfactl *ctx, const char *user, struct store **st)
{
	struct mfa_error err = { "" };
	int r;

	if (mfactl_load_config(ctx) < 0)
		return -1;
	r = store_open(&ctx->cfg, STORE_READ_ONLY, st, &err);
	if (r == -ENOENT) {
		printf("%s has no MFA state (%s does not exist)\n", user, ctx->cfg.state_dir);
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, "mfactl: %s\n", err.msg);
		return -1;
	}
	return 0;
}

/* Removes all of the user's state, even state the store can no longer
 * read: it is the admin's way out of a corrupt record. */
static int do_reset(struct mfactl *ctx, const char *user)
{
	struct mfa_error err = { "" };
	struct store_reset_result res = { .had_state = false };
	struct store *st = NULL;
	int r;

	if (mfactl_load_config(ctx) < 0)
		return EXIT_FAIL;
	r = store_open(&ctx->cfg, STORE_READ_ONLY, &st, &err);
	if (r == -ENOENT) {
		printf("%s has no MFA state; nothing to reset.\n", user);
		return EXIT_OK;
	}
	if (r == 0)
		r = store_reset(st, user, 0, &res, &err);
	store_close(st);
	if (r < 0) {
		fprintf(stderr, "mfactl: %s\n", err.msg);
		return EXIT_FAIL;
	}
	if (!res.had_state) {
		printf("%s has no MFA state; nothing to reset.\n", user);
		return EXIT_OK;
	}
	printf("Reset %s: removed %s; they must enroll again.\n", user,
	       res.had_factor ? "the enrolled factors and all MFA state" :
	       res.unreadable ? "an unreadable record" :
				"all MFA state");
	mfactl_log_action("action=reset user=%s", user);
	mfactl_notify_reset(ctx, user, res.notify, NULL);
	return EXIT_OK;
}

/* reset --method: one factor goes, the rest of the user's state stays. */
static int reset_one(struct mfactl *ctx, const char *user, unsigned method)
{
	struct mfa_error err = { "" };
	struct store_reset_result res = { .had_state = false };
	struct store *st = NULL;
	const char *name = method == METHOD_EMAIL ? "email" : "TOTP";
	int r = open_for(ctx, user, &st);

	if (r != 0)
		return r > 0 ? EXIT_OK : EXIT_FAIL;
	r = store_reset(st, user, method, &res, &err);
	store_close(st);
	if (r < 0) {
		fprintf(stderr, "mfactl: %s\n", err.msg);
		return EXIT_FAIL;
	}
	if (!res.had_state) {
		printf("%s has no %s enrollment; nothing to reset.\n", user, name);
		return EXIT_OK;
	}
	printf("Reset %s: removed the %s enrollment; other state is kept.\n", user, name);
	mfactl_log_action("action=reset user=%s method=%s", user,
			  method == METHOD_EMAIL ? "email" : "totp");
	mfactl_notify_reset(ctx, user, res.notify, method == METHOD_EMAIL ? "email" : "totp");
	return EXIT_OK;
}

static const char reset_help[] =
	"usage: mfactl reset USER [--method totp|email]\n"
	"\n"
	"Removes USER's factors and all their MFA state (failures, lockout, last\n"
	"login, a remembered opt-out skip), even a record that can no longer be\n"
	"read; they must enroll again at their next login or with mfactl enroll.\n"
	"\n"
	"  -m, --method M      remove only that factor (totp or email), keep the rest\n"
	"\n"
	"Where an address is known, the user is told by email.\n"
	"  -h, --help          this help\n";

int cmd_reset(struct mfactl *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "method", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned method = 0;
	bool only_one = false;
	const char *user;
	int c;

	while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (method_parse(optarg, &method) < 0) {
				fprintf(stderr,
					"mfactl reset: unknown method \"%s\" (available: "
					"totp, email)\n",
					optarg);
				return EXIT_USAGE;
			}
			only_one = true;
			break;
		case 'h': fputs(reset_help, stdout); return EXIT_OK;
		default: fputs(reset_help, stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fputs(reset_help, stderr);
		return EXIT_USAGE;
	}
	user = argv[optind];
	if (!mfactl_user_ok(user, false))
		return EXIT_FAIL;
	return only_one ? reset_one(ctx, user, method) : do_reset(ctx, user);
}

static int do_unlock(struct mfactl *ctx, const char *user)
{
	struct mfa_error err = { "" };
	struct store *st = NULL;
	unsigned failures;
	int r = open_for(ctx, user, &st);

	if (r != 0)
		return r > 0 ? EXIT_OK : EXIT_FAIL;
	r = store_unlock(st, user, &failures, &err);
	store_close(st);
	if (r == -ENOENT) {
		printf("%s has no MFA state; nothing to unlock.\n", user);
		return EXIT_OK;
	}
	if (r < 0) {
		fprintf(stderr, "mfactl: %s\n", err.msg);
		return EXIT_FAIL;
	}
	printf("Unlocked %s (cleared %u failure%s); the enrollment is kept.\n", user, failures,
	       failures == 1 ? "" : "s");
	mfactl_log_action("action=unlock user=%s failures=%u", user, failures);
	return EXIT_OK;
}

int cmd_unlock(struct mfactl *ctx, int argc, char **argv)
{
	int status = EXIT_FAIL;
	const char *user =
		mfactl_one_user_arg(argc, argv,
				    "usage: mfactl unlock USER\n"
				    "\n"
				    "Clears USER's failure count and lockout; the enrollment is kept.\n",
				    false, &status);

	return user ? do_unlock(ctx, user) : status;
}

struct check_walk {
	unsigned records, bad, stray;
};

static int check_entry(const char *name, enum store_entry kind, const char *message, void *p)
{
	struct check_walk *w = p;
	char shown[64];

	sanitize_printable(name, shown, sizeof(shown));
	switch (kind) {
	case STORE_ENTRY_RECORD: w->records++; break;
	case STORE_ENTRY_BAD:
		w->records++;
		fprintf(stderr, "mfactl check: %s\n", message);
		w->bad++;
		break;
	case STORE_ENTRY_LOCK: break;
	case STORE_ENTRY_TEMP:
		/* Harmless: a write interrupted before its rename. */
		fprintf(stderr,
			"mfactl check: note: %s is left from an interrupted "
			"write and may be removed\n",
			shown);
		break;
	case STORE_ENTRY_OTHER:
		fprintf(stderr,
			"mfactl check: \"%s\" does not belong in the state "
			"directory\n",
			shown);
		w->stray++;
		break;
	}
	return 0;
}

int cmd_check(struct mfactl *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct check_walk walk = { 0, 0, 0 };
	struct mfa_error err = { "" };
	struct store *st = NULL;
	unsigned config_problems = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			printf("usage: mfactl check\n"
			       "\n"
			       "Validates the configuration file and the state directory (ownership\n"
			       "and modes of it and every directory above it, and every record).\n"
			       "Exits 1 if anything is wrong, printing each problem.\n");
			return EXIT_OK;
		}
		fprintf(stderr, "usage: mfactl check\n");
		return EXIT_USAGE;
	}
	if (optind != argc) {
		fprintf(stderr, "usage: mfactl check\n");
		return EXIT_USAGE;
	}
	if (mfactl_load_config(ctx) < 0)
		return EXIT_FAIL;
	/* A rule that can never match is most likely a typo, and a typo must
	 * not quietly leave its users under a weaker default. */
	for (size_t i = 0; i < ctx->cfg.n_rules; i++) {
		const struct mfa_rule *rule = &ctx->cfg.rules[i];
		int found = rule->kind == RULE_GROUP ? policy_group_exists(rule->name) :
						       user_lookup(rule->name);

		if (found <= 0) {
			fprintf(stderr, "mfactl check: %s:%u: rule %zu: %s \"%s\" %s\n",
				ctx->config_path, rule->line, i + 1,
				rule->kind == RULE_GROUP ? "group" : "user", rule->name,
				found < 0 ? "cannot be looked up" :
					    "does not exist, so the rule "
					    "matches nobody");
			config_problems++;
		}
	}
	if (config_problems == 0)
		printf("%s: OK\n", ctx->config_path);
	r = store_open(&ctx->cfg, STORE_READ_ONLY, &st, &err);
	if (r < 0) {
		fprintf(stderr, "mfactl check: %s\n", err.msg);
		return EXIT_FAIL;
	}
	r = store_check(st, check_entry, &walk, &err);
	store_close(st);
	if (r < 0) {
		fprintf(stderr, "mfactl check: %s\n", err.msg);
		return EXIT_FAIL;
	}
	if (walk.bad > 0)
		fprintf(stderr, "mfactl check: %u of %u records are unreadable\n", walk.bad,
			walk.records);
	if (walk.bad > 0 || walk.stray > 0 || config_problems > 0)
		return EXIT_FAIL;
	printf("%s: OK (%u record%s)\n", ctx->cfg.state_dir, walk.records,
	       walk.records == 1 ? "" : "s");
	return EXIT_OK;
}
