/* mfactl recovery-codes and bypass: ways back in for a user who lost a
 * device, without a reset.  A new set of one-time recovery codes for the
 * administrator to hand over, or the helpdesk's bypass code that works a
 * few times for a while.  A code is printed once, only after the store has
 * kept its hash, and never logged. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mfactl.h"
#include "recovery.h"
#include "secmem.h"

/* The shortest and longest life of a bypass code, and the default. */
#define BYPASS_VALID_MIN 60
#define BYPASS_VALID_MAX (30 * 86400)
#define BYPASS_VALID_DEFAULT 3600

const char *mfactl_recovery_source(enum store_recovery_source source)
{
	return source == RECOVERY_USER	   ? "user" :
	       source == RECOVERY_ADMIN	   ? "admin" :
	       source == RECOVERY_IMPORTED ? "imported" :
					     "none";
}

int mfactl_recovery_make(struct mfactl *ctx, struct store *st, const char *user, const char *intro,
			 struct mfa_error *err)
{
	char shown[RECOVERY_CODES_MAX][RECOVERY_CODE_TEXT];
	char canon[RECOVERY_CODES_MAX][RECOVERY_CANONICAL_MAX + 1];
	const char *codes[RECOVERY_CODES_MAX];
	unsigned n = ctx->cfg.recovery.codes;
	int r;

	if (n < 1 || n > RECOVERY_CODES_MAX) {
		mfa_error_set(err, "recovery.codes is %u in %s: no recovery codes are made", n,
			      ctx->config_path);
		return -EINVAL;
	}
	r = recovery_codes_make(n, shown, canon);
	if (r < 0) {
		mfa_error_set(err, "cannot get random bytes");
		return r;
	}
	for (unsigned i = 0; i < n; i++)
		codes[i] = canon[i];
	r = store_recovery_admin(st, user, codes, n, RECOVERY_ADMIN, time(NULL), err);
	if (r == 0) {
		/* Shown only now that the store keeps them: a set that was
		 * not saved must never reach a user's drawer. */
		printf("%s\n\n", intro);
		for (unsigned i = 0; i < n; i++)
			printf("    %s\n", shown[i]);
		putchar('\n');
		mfactl_log_action("action=recovery-codes user=%s codes=%u source=admin", user, n);
	}
	secure_wipe(shown, sizeof(shown));
	secure_wipe(canon, sizeof(canon));
	return r;
}

void mfactl_enroll_recovery(struct mfactl *ctx, struct store *st, const char *user,
			    const struct store_summary *before)
{
	struct mfa_error err = { "" };
	char intro[256];

	/* A user who keeps unused codes of an earlier enrollment keeps
	 * them: a new set would void the paper they hold. */
	if (ctx->cfg.recovery.codes == 0 ||
	    (store_summary_count(before, 0) > 0 && before->recovery.left > 0))
		return;
	(void)snprintf(intro, sizeof(intro),
		       "Recovery codes for %s: %u, each good for one login in place of a code, "
		       "in any order (hand them over too; they are not shown again):",
		       user, ctx->cfg.recovery.codes);
	if (mfactl_recovery_make(ctx, st, user, intro, &err) < 0)
		fprintf(stderr,
			"mfactl enroll: note: the factor is enrolled, but no recovery codes "
			"were made: %s; mfactl recovery-codes %s makes them\n",
			err.msg, user);
}

/* Recovery and bypass codes stand in for a factor the user holds: a user
 * who holds none is refused (an enrollment at login needs no code). */
static void say_not_enrolled(const char *verb, const char *user)
{
	fprintf(stderr,
		"mfactl %s: %s holds no verified factor: there is nothing to stand in for "
		"(enroll the user first, with mfactl enroll)\n",
		verb, user);
}

/* The user's summary, for a verb that needs a verified factor; false
 * after saying why (not enrolled, or the store failed). */
static bool load_enrolled(struct store *st, const char *verb, const char *user,
			  struct store_summary *sum)
{
	struct mfa_error err = { "" };

	if (store_summary(st, user, sum, &err) < 0) {
		fprintf(stderr, "mfactl: %s\n", err.msg);
		return false;
	}
	if (store_summary_count(sum, 0) > 0)
		return true;
	say_not_enrolled(verb, user);
	return false;
}

/* Opens the store for a verb on an enrolled user; false after saying why.
 * No state at all is a user without a factor. */
static bool open_enrolled(struct mfactl *ctx, const char *verb, const char *user, struct store **st,
			  struct store_summary *sum)
{
	struct mfa_error err = { "" };
	int r;

	r = store_open(&ctx->cfg, STORE_READ_ONLY, st, &err);
	if (r == -ENOENT) {
		say_not_enrolled(verb, user);
		return false;
	}
	if (r < 0) {
		fprintf(stderr, "mfactl: %s\n", err.msg);
		return false;
	}
	return load_enrolled(*st, verb, user, sum);
}

static const char recovery_help[] =
	"usage: mfactl recovery-codes USER\n"
	"\n"
	"Makes a new set of recovery codes for USER (recovery.codes of them, 10\n"
	"by default) and prints them once, for the administrator to hand over:\n"
	"each works once, in any order, in place of a code at a login or in\n"
	"mfa-setup.  The old set no longer works.  USER must hold a verified\n"
	"factor.  The codes are kept only as salted hashes and never logged.\n";

int cmd_recovery_codes(struct mfactl *ctx, int argc, char **argv)
{
	struct mfa_error err = { "" };
	struct store_summary sum;
	struct store *st = NULL;
	char intro[256];
	int status = EXIT_FAIL, r;
	const char *user = mfactl_one_user_arg(argc, argv, recovery_help, false, &status);

	if (user == NULL)
		return status;
	memset(&sum, 0, sizeof(sum));
	if (mfactl_load_config(ctx) < 0)
		return EXIT_FAIL;
	if (ctx->cfg.recovery.codes == 0) {
		fprintf(stderr,
			"mfactl recovery-codes: recovery.codes is 0 in %s: no recovery codes "
			"are made\n",
			ctx->config_path);
		return EXIT_FAIL;
	}
	if (!open_enrolled(ctx, "recovery-codes", user, &st, &sum))
		goto out;
	(void)snprintf(intro, sizeof(intro),
		       "New recovery codes for %s: %u, each good for one login in place of a "
		       "code, in any order:",
		       user, ctx->cfg.recovery.codes);
	r = mfactl_recovery_make(ctx, st, user, intro, &err);
	if (r == -ENOENT) { /* every factor removed meanwhile */
		say_not_enrolled("recovery-codes", user);
		goto out;
	}
	if (r < 0) {
		fprintf(stderr, "mfactl: %s\n", err.msg);
		goto out;
	}
	if (sum.recovery.made > 0)
		printf("The previous set (%u of %u unused) no longer works.\n", sum.recovery.left,
		       sum.recovery.made);
	else
		printf("%s had no recovery codes before.\n", user);
	printf("Hand these to %s now: they are not shown again.\n", user);
	status = EXIT_OK;
out:
	store_summary_wipe(&sum);
	store_close(st);
	return status;
}

int mfactl_parse_duration(const char *text, uint64_t *seconds)
{
	static const struct {
		char unit;
		uint64_t seconds;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 } };
	char digits[21];
	size_t n = strspn(text, "0123456789");
	uint64_t v, mult = 1;

	if (n == 0 || n >= sizeof(digits))
		return -EINVAL;
	if (text[n] != '\0') {
		bool known = false;

		if (text[n + 1] != '\0')
			return -EINVAL;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (text[n] == units[i].unit) {
				mult = units[i].seconds;
				known = true;
			}
		if (!known)
			return -EINVAL;
	}
	memcpy(digits, text, n);
	digits[n] = '\0';
	if (parse_u64(digits, UINT64_MAX / mult, &v) < 0)
		return -ERANGE;
	*seconds = v * mult;
	return 0;
}

/* "1 hour", "30 minutes", "2 days": a bypass code's life, for people. */
static void format_span(uint64_t s, char *buf, size_t len)
{
	const char *unit = "second";
	uint64_t v = s;

	if (s % 86400 == 0)
		v = s / 86400, unit = "day";
	else if (s % 3600 == 0)
		v = s / 3600, unit = "hour";
	else if (s % 60 == 0)
		v = s / 60, unit = "minute";
	(void)snprintf(buf, len, "%" PRIu64 " %s%s", v, unit, v == 1 ? "" : "s");
}

static const char bypass_help[] =
	"usage: mfactl bypass USER [--uses N] [--valid DURATION]\n"
	"       mfactl bypass USER --revoke\n"
	"\n"
	"Prints a temporary code for USER, who lost their device, to type in\n"
	"place of a code at a login: it works N times until DURATION from now,\n"
	"and replaces any earlier bypass code.  USER's factors and recovery codes\n"
	"stay.  USER must hold a verified factor.  The code is kept only as a\n"
	"salted hash and never logged.\n"
	"\n"
	"  -u, --uses N          how many logins it works for: 1 (default) to 100\n"
	"  -v, --valid DURATION  how long it works: 60 seconds to 30 days, in\n"
	"                        seconds or with a unit: 90s, 30m, 2h, 1d\n"
	"                        (default 1h)\n"
	"  -r, --revoke          revoke USER's bypass code instead\n"
	"  -h, --help            this help\n";

struct bypass_opts {
	const char *user;
	unsigned uses;
	uint64_t valid;
	bool revoke, uses_given, valid_given;
};

/* Reads the options and USER; false, with *status set, when the verb ends
 * here (--help, a usage error, a value out of bounds). */
static bool bypass_args(int argc, char **argv, struct bypass_opts *o, int *status)
{
	static const struct option opts[] = {
		{ "uses", required_argument, NULL, 'u' },
		{ "valid", required_argument, NULL, 'v' },
		{ "revoke", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char shown[64];
	uint64_t v;
	int c;

	*status = EXIT_USAGE;
	while ((c = getopt_long(argc, argv, "u:v:rh", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			if (parse_u64(optarg, STORE_BYPASS_USES_MAX, &v) < 0 || v < 1) {
				sanitize_printable(optarg, shown, sizeof(shown));
				fprintf(stderr,
					"mfactl bypass: --uses \"%s\": a number of logins, 1 to "
					"%d\n",
					shown, STORE_BYPASS_USES_MAX);
				return false;
			}
			o->uses = (unsigned)v;
			o->uses_given = true;
			break;
		case 'v':
			if (mfactl_parse_duration(optarg, &o->valid) < 0 ||
			    o->valid < BYPASS_VALID_MIN || o->valid > BYPASS_VALID_MAX) {
				sanitize_printable(optarg, shown, sizeof(shown));
				fprintf(stderr,
					"mfactl bypass: --valid \"%s\": 60 seconds to 30 days, in "
					"seconds or as 90s, 30m, 2h, 1d\n",
					shown);
				return false;
			}
			o->valid_given = true;
			break;
		case 'r': o->revoke = true; break;
		case 'h':
			fputs(bypass_help, stdout);
			*status = EXIT_OK;
			return false;
		default: fputs(bypass_help, stderr); return false;
		}
	}
	if (o->revoke && (o->uses_given || o->valid_given)) {
		fprintf(stderr, "mfactl bypass: --revoke takes no --uses or --valid\n");
		return false;
	}
	if (optind != argc - 1) {
		fputs(bypass_help, stderr);
		return false;
	}
	o->user = argv[optind];
	return true;
}

static int bypass_revoke(struct mfactl *ctx, const char *user)
{
	struct mfa_error err = { "" };
	struct store *st = NULL;
	bool had = false;
	int r;

	r = store_open(&ctx->cfg, STORE_READ_ONLY, &st, &err);
	if (r == -ENOENT) {
		printf("%s has no MFA state; no bypass code to revoke.\n", user);
		return EXIT_OK;
	}
	if (r == 0)
		r = store_bypass_revoke(st, user, time(NULL), &had, &err);
	store_close(st);
	if (r < 0) {
		fprintf(stderr, "mfactl: %s\n", err.msg);
		return EXIT_FAIL;
	}
	if (had)
		printf("Revoked %s's bypass code: it no longer works.\n", user);
	else
		printf("%s had no outstanding bypass code; nothing to revoke.\n", user);
	mfactl_log_action("action=bypass-revoke user=%s outstanding=%s", user, had ? "yes" : "no");
	return EXIT_OK;
}

static int bypass_new(struct mfactl *ctx, const struct bypass_opts *o)
{
	struct mfa_error err = { "" };
	struct store_summary sum;
	struct store *st = NULL;
	char shown[RECOVERY_CODE_TEXT], canon[RECOVERY_CODE_SYMBOLS + 1];
	char until[32], span[48];
	time_t now = time(NULL);
	int64_t expires = (int64_t)now + (int64_t)o->valid;
	int status = EXIT_FAIL, r;

	memset(&sum, 0, sizeof(sum));
	if (!open_enrolled(ctx, "bypass", o->user, &st, &sum))
		goto out;
	if (recovery_code_new(shown) < 0 || !recovery_code_normalize(shown, canon)) {
		fprintf(stderr, "mfactl: cannot get random bytes\n");
		goto out;
	}
	r = store_bypass_new(st, o->user, canon, o->uses, expires, now, &err);
	if (r == -ENOENT) { /* every factor removed meanwhile */
		say_not_enrolled("bypass", o->user);
		goto out;
	}
	if (r < 0) {
		fprintf(stderr, "mfactl: %s\n", err.msg);
		goto out;
	}
	mfactl_format_time(expires, until, sizeof(until));
	format_span(o->valid, span, sizeof(span));
	printf("Bypass code for %s: %s\n", o->user, shown);
	if (o->uses == 1)
		printf("It works once, until %s (%s from now), in place of a code at a login.\n",
		       until, span);
	else
		printf("It works %u times, until %s (%s from now), in place of a code at a "
		       "login.\n",
		       o->uses, until, span);
	printf("It replaces any earlier bypass code; %s's factors and recovery codes stay.\n",
	       o->user);
	mfactl_log_action("action=bypass user=%s uses=%u expires=%" PRId64, o->user, o->uses,
			  expires);
	status = EXIT_OK;
out:
	secure_wipe(shown, sizeof(shown));
	secure_wipe(canon, sizeof(canon));
	store_summary_wipe(&sum);
	store_close(st);
	return status;
}

int cmd_bypass(struct mfactl *ctx, int argc, char **argv)
{
	struct bypass_opts o = { .uses = 1, .valid = BYPASS_VALID_DEFAULT };
	int status;

	if (!bypass_args(argc, argv, &o, &status))
		return status;
	if (!mfactl_user_ok(o.user, false) || mfactl_load_config(ctx) < 0)
		return EXIT_FAIL;
	return o.revoke ? bypass_revoke(ctx, o.user) : bypass_new(ctx, &o);
}
