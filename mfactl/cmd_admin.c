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

/* Runs fn on the user's record under its lock; arg is fn's own. */
static int with_record(struct mfactl *ctx, const char *user,
		       int (*fn)(struct store_txn *txn, struct mfa_record *rec, bool exists,
				 void *arg, struct mfa_error *err),
		       void *arg)
{
	struct mfa_error err = { "" };
	struct store *st = NULL;
	struct store_txn *txn = NULL;
	struct mfa_record rec;
	bool exists = false;
	int r;

	record_init(&rec, NULL);
	if (mfactl_load_config(ctx) < 0)
		return EXIT_FAIL;
	r = store_open(ctx->cfg.state_dir, STORE_READ_ONLY, &st, &err);
	if (r == -ENOENT) {
		printf("%s has no MFA state (%s does not exist)\n", user, ctx->cfg.state_dir);
		return EXIT_OK;
	}
	if (r < 0) {
		fprintf(stderr, "mfactl: %s\n", err.msg);
		return EXIT_FAIL;
	}
	r = store_begin(st, user, &txn, &rec, &exists, &err);
	if (r == 0)
		r = fn(txn, &rec, exists, arg, &err);
	if (r < 0)
		fprintf(stderr, "mfactl: %s\n", err.msg);
	record_wipe(&rec);
	store_end(txn);
	store_close(st);
	return r < 0 ? EXIT_FAIL : EXIT_OK;
}

/* Reset takes the lock without parsing, so that it also removes a corrupt
 * record: it is the admin's way out of one. */
static int do_reset(struct mfactl *ctx, const char *user)
{
	struct mfa_error err = { "" }, load_err = { "" };
	struct store *st = NULL;
	struct store_txn *txn = NULL;
	struct mfa_record rec;
	char address[EMAIL_ADDRESS_MAX + 1];
	const char *what;
	int r;

	if (mfactl_load_config(ctx) < 0)
		return EXIT_FAIL;
	r = store_open(ctx->cfg.state_dir, STORE_READ_ONLY, &st, &err);
	if (r == -ENOENT) {
		printf("%s has no MFA state; nothing to reset.\n", user);
		return EXIT_OK;
	}
	if (r < 0 || store_lock(st, user, &txn, &err) < 0) {
		fprintf(stderr, "mfactl: %s\n", err.msg);
		store_close(st);
		return EXIT_FAIL;
	}
	r = store_load(st, user, &rec, &load_err);
	what = r == 0 && (rec.totp.enrolled || rec.email.verified) ?
		       "the enrolled factors and all MFA state" :
	       r == 0 || r == -ENOENT ? "all MFA state" :
					"an unreadable record";
	address[0] = '\0';
	if (r == 0) {
		if (rec.email.verified)
			memcpy(address, rec.email.address, sizeof(address));
		record_wipe(&rec);
	}
	r = store_remove(txn, &err);
	store_end(txn);
	store_close(st);
	if (r < 0) {
		fprintf(stderr, "mfactl: %s\n", err.msg);
		return EXIT_FAIL;
	}
	if (r == 0) {
		printf("%s has no MFA state; nothing to reset.\n", user);
		return EXIT_OK;
	}
	printf("Reset %s: removed %s; they must enroll again.\n", user, what);
	mfactl_log_action("action=reset user=%s", user);
	mfactl_notify_reset(ctx, user, address, NULL);
	return EXIT_OK;
}

/* reset --method: one factor goes, the rest of the record stays.  What
 * the reset found is kept for the notice, which is sent after the record's
 * lock is released. */
struct factor_reset {
	unsigned method;
	char address[EMAIL_ADDRESS_MAX + 1];
	bool done;
};

static int reset_one(struct store_txn *txn, struct mfa_record *rec, bool exists, void *arg,
		     struct mfa_error *err)
{
	struct factor_reset *fr = arg;
	bool email = fr->method == METHOD_EMAIL;
	int r;

	if (email ? rec->email.address[0] == '\0' : !rec->totp.enrolled) {
		printf("%s has no %s enrollment; nothing to reset.\n", rec->user,
		       email ? "email" : "TOTP");
		return exists ? 0 : store_remove(txn, err) < 0 ? -EIO : 0;
	}
	/* Where to tell the user about it: the address they proved. */
	if (rec->email.verified)
		memcpy(fr->address, rec->email.address, sizeof(fr->address));
	if (email) {
		secure_wipe(&rec->email, sizeof(rec->email));
	} else {
		secure_wipe(&rec->totp, sizeof(rec->totp));
	}
	/* The failures counted against the old factor go with it. */
	lockout_clear(rec);
	r = store_commit(txn, rec, err);
	if (r < 0)
		return r;
	fr->done = true;
	printf("Reset %s: removed the %s enrollment; other state is kept.\n", rec->user,
	       email ? "email" : "TOTP");
	mfactl_log_action("action=reset user=%s method=%s", rec->user, email ? "email" : "totp");
	return 0;
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
	struct factor_reset fr = { .method = 0 };
	bool only_one = false;
	const char *user;
	int c;

	while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (method_parse(optarg, &fr.method) < 0) {
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
	if (!only_one)
		return do_reset(ctx, user);
	c = with_record(ctx, user, reset_one, &fr);
	if (c == EXIT_OK && fr.done)
		mfactl_notify_reset(ctx, user, fr.address,
				    fr.method == METHOD_EMAIL ? "email" : "totp");
	return c;
}

static int do_unlock(struct store_txn *txn, struct mfa_record *rec, bool exists, void *arg,
		     struct mfa_error *err)
{
	unsigned failures = rec->fail_count;
	int r;

	(void)arg;
	if (!exists) {
		/* Do not leave behind the lock file store_begin() made. */
		printf("%s has no MFA state; nothing to unlock.\n", rec->user);
		r = store_remove(txn, err);
		return r < 0 ? r : 0;
	}
	lockout_clear(rec);
	r = store_commit(txn, rec, err);
	if (r < 0)
		return r;
	printf("Unlocked %s (cleared %u failure%s); the enrollment is kept.\n", rec->user, failures,
	       failures == 1 ? "" : "s");
	mfactl_log_action("action=unlock user=%s failures=%u", rec->user, failures);
	return 0;
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

	return user ? with_record(ctx, user, do_unlock, NULL) : status;
}

struct check_walk {
	struct store *st;
	unsigned records, bad, stray;
};

static int check_entry(const char *name, enum store_entry kind, void *p)
{
	struct check_walk *w = p;
	struct mfa_error err = { "" };
	struct mfa_record rec;
	char shown[64];

	sanitize_printable(name, shown, sizeof(shown));
	switch (kind) {
	case STORE_ENTRY_RECORD:
		w->records++;
		if (store_load(w->st, name, &rec, &err) < 0) {
			fprintf(stderr, "mfactl check: %s\n", err.msg);
			w->bad++;
		} else {
			record_wipe(&rec);
		}
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
	struct check_walk walk = { NULL, 0, 0, 0 };
	struct mfa_error err = { "" };
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
	r = store_open(ctx->cfg.state_dir, STORE_READ_ONLY, &walk.st, &err);
	if (r < 0) {
		fprintf(stderr, "mfactl check: %s\n", err.msg);
		return EXIT_FAIL;
	}
	r = store_scan(walk.st, check_entry, &walk, &err);
	store_close(walk.st);
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
