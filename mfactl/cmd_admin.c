/* mfactl reset, unlock and check: the admin's repairs and the health check. */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#include "lockout.h"
#include "logout.h"
#include "mfactl.h"
#include "policy.h"
#include "secmem.h"

/* Opens the store for an operation on user; 1 (nothing to do) if there
 * is no state directory, said so unless quiet, -1 after an error. */
static int open_for(struct mfactl *ctx, const char *user, bool quiet, struct store **st)
{
	struct mfa_error err = { "" };
	int r;

	if (mfactl_load_config(ctx) < 0)
		return -1;
	r = store_open(&ctx->cfg, STORE_READ_ONLY, st, &err);
	if (r == -ENOENT) {
		if (!quiet)
			printf("%s has no MFA state (%s does not exist)\n", user,
			       ctx->cfg.state_dir);
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
static int reset_user(struct mfactl *ctx, const char *user)
{
	struct mfa_error err = { "" };
	struct store_reset_result res;
	struct store *st = NULL;
	int r = open_for(ctx, user, true, &st);

	memset(&res, 0, sizeof(res));
	if (r < 0)
		return EXIT_FAIL;
	if (r == 0)
		r = store_reset(st, user, NULL, &res, &err);
	store_close(st);
	if (r < 0) {
		fprintf(stderr, "mfactl: %s\n", err.msg);
		return EXIT_FAIL;
	}
	if (!res.had_state) {
		printf("%s has no MFA state; nothing to reset.\n", user);
		return EXIT_OK;
	}
	if (res.had_factor)
		printf("Reset %s: removed %u factor%s and all MFA state; they must enroll again.\n",
		       user, res.factors, res.factors == 1 ? "" : "s");
	else
		printf("Reset %s: removed %s; they must enroll again.\n", user,
		       res.unreadable ? "an unreadable record" : "all MFA state");
	mfactl_log_action("action=reset user=%s factors=%u", user, res.factors);
	mfactl_notify_reset(ctx, user, res.notify, NULL);
	return EXIT_OK;
}

/* What the reset notice says was reset, for the factors of a method. */
static const char *method_reset_what(unsigned method, unsigned factors)
{
	if (method == METHOD_TOTP)
		return factors == 1 ? "the authenticator app" : "the authenticator apps";
	return method == METHOD_EMAIL ? "email codes" : "codes by text message";
}

/* reset --method: the factors of a method go, the rest of the user's state
 * stays. */
static int reset_method(struct mfactl *ctx, const char *user, unsigned method)
{
	struct store_reset_what what = { .method = method, .label = NULL };
	struct mfa_error err = { "" };
	struct store_reset_result res;
	struct store *st = NULL;
	int r = open_for(ctx, user, false, &st);

	memset(&res, 0, sizeof(res));
	if (r != 0)
		return r > 0 ? EXIT_OK : EXIT_FAIL;
	r = store_reset(st, user, &what, &res, &err);
	store_close(st);
	if (r < 0) {
		fprintf(stderr, "mfactl: %s\n", err.msg);
		return EXIT_FAIL;
	}
	if (res.factors == 0) {
		printf("%s has no %s enrollment; nothing to reset.\n", user,
		       mfactl_method_title(method));
		return EXIT_OK;
	}
	printf("Reset %s: removed %u %s factor%s; other state is kept.\n", user, res.factors,
	       mfactl_method_title(method), res.factors == 1 ? "" : "s");
	mfactl_log_action("action=reset user=%s method=%s factors=%u", user, method_name(method),
			  res.factors);
	mfactl_notify_reset(ctx, user, res.notify, method_reset_what(method, res.factors));
	return EXIT_OK;
}

/* reset --factor: the factor of that label goes, the rest stays.  A label
 * the user has no factor of is an error: the admin meant another. */
static int reset_label(struct mfactl *ctx, const char *user, const char *label)
{
	struct store_reset_what what = { .method = 0, .label = label };
	struct mfa_error err = { "" };
	struct store_reset_result res;
	struct store *st = NULL;
	char notice[FACTOR_LABEL_MAX + 16];
	int r = open_for(ctx, user, true, &st);

	memset(&res, 0, sizeof(res));
	if (r < 0)
		return EXIT_FAIL;
	r = r > 0 ? -ENOENT : store_reset(st, user, &what, &res, &err);
	store_close(st);
	if (r == -ENOENT || (r == 0 && res.factors == 0)) {
		fprintf(stderr,
			"mfactl reset: %s has no factor labelled \"%s\"; nothing was reset\n", user,
			label);
		return EXIT_FAIL;
	}
	if (r < 0) {
		fprintf(stderr, "mfactl: %s\n", err.msg);
		return EXIT_FAIL;
	}
	printf("Reset %s: removed %u factor%s labelled \"%s\"; other state is kept.\n", user,
	       res.factors, res.factors == 1 ? "" : "s", label);
	mfactl_log_action("action=reset user=%s label=\"%s\" factors=%u", user, label, res.factors);
	(void)snprintf(notice, sizeof(notice), "the factor \"%s\"", label);
	mfactl_notify_reset(ctx, user, res.notify, notice);
	return EXIT_OK;
}

/* reset --all --yes: every user's state, remembered skips with it
 * ("forget all devices").  No mail: an organization that starts over
 * tells its users itself, and thousands of notices at once would be
 * taken for an attack. */
static int reset_all(struct mfactl *ctx)
{
	struct mfa_error err = { "" };
	struct store *st = NULL;
	unsigned users = 0;
	int r;

	if (mfactl_load_config(ctx) < 0)
		return EXIT_FAIL;
	r = store_open(&ctx->cfg, STORE_READ_ONLY, &st, &err);
	if (r == -ENOENT) {
		printf("No MFA state (%s does not exist); nothing to reset.\n", ctx->cfg.state_dir);
		return EXIT_OK;
	}
	if (r == 0)
		r = store_reset_all(st, &users, &err);
	store_close(st);
	if (r < 0) {
		fprintf(stderr, "mfactl: %s\n", err.msg);
		if (users > 0)
			fprintf(stderr, "mfactl reset: %u user%s reset before that\n", users,
				users == 1 ? " was" : "s were");
		mfactl_log_action("action=reset-all users=%u failed=yes", users);
		return EXIT_FAIL;
	}
	printf("Forgot all devices: reset %u user%s (their factors, pending codes, failures, "
	       "lockouts and remembered skips); no notice was sent.\n",
	       users, users == 1 ? "" : "s");
	mfactl_log_action("action=reset-all users=%u", users);
	return EXIT_OK;
}

static const char reset_help[] =
	"usage: mfactl reset USER [--method totp|email|sms | --factor LABEL] [--logout]\n"
	"                    [--yes]\n"
	"       mfactl reset --all --yes\n"
	"\n"
	"Removes USER's factors and all their MFA state (failures, lockout, last\n"
	"login, a remembered opt-out skip), even a record that can no longer be\n"
	"read; they must enroll again at their next login or with mfactl enroll.\n"
	"Where an address is known, the user is told by email.\n"
	"\n"
	"  -m, --method M      remove only the factors of that method (totp, email\n"
	"                      or sms), keep the rest\n"
	"  -F, --factor LABEL  remove only the factor of that label, keep the rest\n"
	"  -L, --logout        then end USER's sessions on this host (through\n"
	"                      systemd-logind where it runs, else by signalling\n"
	"                      USER's processes); not for root or system accounts\n"
	"  -a, --all           forget all devices: every user's factors and state,\n"
	"                      remembered skips too; no mail is sent\n"
	"  -y, --yes           confirms --all (which refuses without it); accepted\n"
	"                      and not needed for one user\n"
	"  -h, --help          this help\n";

/* What the command line asked for. */
struct reset_opts {
	unsigned method;
	const char *label;
	bool all, yes, logout;
	const char *user;
};

/* Reads the options and USER; false, with *status set, when the verb ends
 * here (--help, a usage error, --all without --yes). */
static bool reset_args(int argc, char **argv, struct reset_opts *o, int *status)
{
	static const struct option opts[] = {
		{ "method", required_argument, NULL, 'm' },
		{ "factor", required_argument, NULL, 'F' },
		{ "all", no_argument, NULL, 'a' },
		{ "yes", no_argument, NULL, 'y' },
		{ "logout", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*status = EXIT_USAGE;
	while ((c = getopt_long(argc, argv, "m:F:ayLh", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (method_parse(optarg, &o->method) < 0) {
				char shown[64];
				sanitize_printable(optarg, shown, sizeof(shown));
				fprintf(stderr,
					"mfactl reset: unknown method \"%s\" (available: "
					"totp, email, sms)\n",
					shown);
				return false;
			}
			break;
		case 'F': o->label = optarg; break;
		case 'a': o->all = true; break;
		case 'y': o->yes = true; break;
		case 'L': o->logout = true; break;
		case 'h':
			fputs(reset_help, stdout);
			*status = EXIT_OK;
			return false;
		default: fputs(reset_help, stderr); return false;
		}
	}
	if (o->method != 0 && o->label != NULL) {
		fprintf(stderr, "mfactl reset: --method and --factor do not go together\n");
		return false;
	}
	if (o->all) {
		if (optind != argc || o->method != 0 || o->label != NULL || o->logout) {
			fprintf(stderr,
				"mfactl reset: --all is every user's everything: it takes no "
				"USER, --method, --factor or --logout\n");
			return false;
		}
		/* Never a question on stdin: scripts and the tests run it too. */
		if (!o->yes) {
			fprintf(stderr,
				"mfactl reset: --all would forget all devices of every user: "
				"their factors, pending codes, failures, lockouts and remembered "
				"skips, at once and for good; nothing was changed.  Give --yes "
				"to do it.\n");
			return false;
		}
		return true;
	}
	if (optind != argc - 1) {
		fputs(reset_help, stderr);
		return false;
	}
	o->user = argv[optind];
	return true;
}

/* --logout is checked before the reset: a user whose sessions cannot be
 * ended is refused with nothing changed.  The uid, in *uid. */
static bool logout_allowed(const char *user, uid_t *uid)
{
	struct mfa_error err = { "" };
	struct passwd *pw = getpwnam(user);

	if (pw == NULL) {
		fprintf(stderr,
			"mfactl reset: --logout: %s is not in the passwd database, so no "
			"process of theirs can be found; nothing was reset\n",
			user);
		return false;
	}
	*uid = pw->pw_uid;
	if (logout_check(*uid, &err) < 0) {
		fprintf(stderr, "mfactl reset: --logout refused for %s: %s; nothing was reset\n",
			user, err.msg);
		return false;
	}
	return true;
}

/* After the reset is durable: the user's sessions on this host end, and
 * the output says how many.  On the shared store the reset holds on every
 * host at once, but the sessions there are beyond this host's reach. */
static int logout_after_reset(struct mfactl *ctx, const char *user, uid_t uid)
{
	struct mfa_error err = { "" };
	struct logout_result res;
	int r = logout_user(uid, &res, &err);

	if (r < 0) {
		fprintf(stderr, "mfactl reset: %s's sessions were not ended: %s\n", user, err.msg);
		mfactl_log_action("action=logout user=%s failed=yes", user);
		return EXIT_FAIL;
	}
	printf("%s: %u session%s ended on this host (%u process%s%s).\n", user, res.sessions,
	       res.sessions == 1 ? "" : "s", res.processes, res.processes == 1 ? "" : "es",
	       res.logind ? "; through systemd-logind" : "");
	if (res.logind_failed)
		fprintf(stderr, "mfactl reset: note: %s; %s's processes were signalled instead\n",
			err.msg, user);
	if (res.survivors > 0)
		fprintf(stderr,
			"mfactl reset: %u process%s of %s could not be ended (stuck in the "
			"kernel?): see ps -u %s\n",
			res.survivors, res.survivors == 1 ? "" : "es", user, user);
	if (ctx->cfg.store.backend == STORE_BACKEND_POSTGRESQL)
		printf("Only this host's sessions were ended.  The store is shared: %s may still "
		       "be logged in\n"
		       "on other hosts, which this command does not reach (the reset itself holds "
		       "on every\n"
		       "host already).  End them on each host with \"loginctl terminate-user %s\" "
		       "(or\n"
		       "\"pkill -KILL -U %s\" where systemd-logind does not run), e.g. from "
		       "configuration\n"
		       "management or an ssh loop over the fleet.\n",
		       user, user, user);
	mfactl_log_action("action=logout user=%s sessions=%u processes=%u survivors=%u%s", user,
			  res.sessions, res.processes, res.survivors,
			  res.logind ? " logind=yes" : "");
	return res.survivors > 0 ? EXIT_FAIL : EXIT_OK;
}

int cmd_reset(struct mfactl *ctx, int argc, char **argv)
{
	struct reset_opts o = { .method = 0 };
	uid_t uid = 0;
	int status;

	if (!reset_args(argc, argv, &o, &status))
		return status;
	if (o.all)
		return reset_all(ctx);
	if (!mfactl_user_ok(o.user, false))
		return EXIT_FAIL;
	if (o.label != NULL && !mfactl_label_ok("reset", o.label))
		return EXIT_FAIL;
	if (o.logout && !logout_allowed(o.user, &uid))
		return EXIT_FAIL;
	if (o.label != NULL)
		status = reset_label(ctx, o.user, o.label);
	else
		status = o.method != 0 ? reset_method(ctx, o.user, o.method) :
					 reset_user(ctx, o.user);
	if (status == EXIT_OK && o.logout)
		status = logout_after_reset(ctx, o.user, uid);
	return status;
}

static int do_unlock(struct mfactl *ctx, const char *user)
{
	struct mfa_error err = { "" };
	struct store *st = NULL;
	unsigned failures;
	int r = open_for(ctx, user, false, &st);

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
