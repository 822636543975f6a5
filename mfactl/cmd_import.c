/* mfactl import: enrollments taken over from the modules sysadmins run today,
 * pam_oath's usersfile and google-authenticator's ~/.google_authenticator,
 * so that switching to pam_mfa costs the users nothing: same secret, same
 * digits and period, and the last accepted code stays refused. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lockout.h"
#include "mfactl.h"
#include "recovery.h"
#include "secmem.h"
#include "totp.h"

/* A line longer than this is no usersfile line (the longest real one, with
 * a 64-byte secret and every optional field, is under 250 bytes). */
#define IMPORT_LINE_MAX 1024
/* google-authenticator limits its file to 1 kB; allow room, not a flood. */
#define GA_FILE_MAX 65536
/* How many steps around pam_oath's last login to look for its last code. */
#define OATH_LAST_CODE_SEARCH 5

struct name_set {
	char **slots;
	size_t size, used; /* size: a power of two */
};

struct importer {
	struct mfactl *ctx;
	struct store *st;
	const char *file;
	const char *from;
	bool force, dry_run;
	time_t now;
	struct name_set seen; /* users imported or skipped by an earlier line */
	unsigned long imported, enrolled, hotp, repeated, not_totp, bad, failed;
};

static void import_usage(FILE *out)
{
	fprintf(out,
		"usage: mfactl import --from oath [--force] [--dry-run] FILE\n"
		"       mfactl import --from google-authenticator [--force] [--dry-run] USER FILE\n"
		"\n"
		"Enrolls users with the TOTP secrets they already have, from pam_oath's\n"
		"usersfile (one line per user: TOTP lines are imported with their digits\n"
		"and period; HOTP lines are reported and skipped) or from a user's\n"
		"~/.google_authenticator (its secret and step size, and its scratch\n"
		"codes as the user's recovery codes, at most 20).  The code last\n"
		"accepted stays refused.  Users who have\n"
		"an app already are left alone unless --force is given, which replaces\n"
		"their apps with the imported secret.  Every line that is skipped or bad\n"
		"is reported with its number; a summary follows.\n"
		"\n"
		"  -F, --from FORMAT   oath or google-authenticator\n"
		"  -f, --force         replace the TOTP apps of users who have some\n"
		"  -n, --dry-run       check the file and report, change nothing\n"
		"  -h, --help          this help\n"
		"\n"
		"Exit status 0 when every line was imported or skipped for a reason\n"
		"shown, 1 when a line was bad or a record could not be written.\n");
}

/* FNV-1a: the set only needs to spread user names, not resist anyone (the
 * file comes from the admin). */
static size_t name_hash(const char *s)
{
	size_t h = (size_t)14695981039346656037ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * (size_t)1099511628211ULL;
	return h;
}

static char **name_set_slot(char **slots, size_t size, const char *name)
{
	size_t i = name_hash(name) & (size - 1);

	while (slots[i] != NULL && strcmp(slots[i], name) != 0)
		i = (i + 1) & (size - 1);
	return &slots[i];
}

/* Adds name; returns 1 if it was new, 0 if it was there, -ENOMEM. */
static int name_set_add(struct name_set *set, const char *name)
{
	char **slot;

	if (set->used + 1 > set->size / 2) {
		size_t size = set->size ? set->size * 2 : 1024;
		char **slots = calloc(size, sizeof(*slots));

		if (slots == NULL)
			return -ENOMEM;
		for (size_t i = 0; i < set->size; i++)
			if (set->slots[i] != NULL)
				*name_set_slot(slots, size, set->slots[i]) = set->slots[i];
		free(set->slots);
		set->slots = slots;
		set->size = size;
	}
	slot = name_set_slot(set->slots, set->size, name);
	if (*slot != NULL)
		return 0;
	if ((*slot = strdup(name)) == NULL)
		return -ENOMEM;
	set->used++;
	return 1;
}

static void name_set_free(struct name_set *set)
{
	for (size_t i = 0; i < set->size; i++)
		free(set->slots[i]);
	free(set->slots);
}

static void report(const struct importer *im, unsigned long line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void report(const struct importer *im, unsigned long line, const char *fmt, ...)
{
	va_list ap;

	if (line > 0)
		fprintf(stderr, "%s:%lu: ", im->file, line);
	else
		fprintf(stderr, "%s: ", im->file);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Opens the file to import from: a regular file, not a symlink, owned by
 * root or by owner, and writable by nobody else, for whoever could write
 * it could have planted a secret of their own for somebody's account. */
static FILE *open_import_file(const char *path, uid_t owner)
{
	struct stat sb;
	FILE *f;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		fprintf(stderr, "mfactl import: %s: %s\n", path,
			errno == ELOOP ? "is a symbolic link" : strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		fprintf(stderr, "mfactl import: %s: not a regular file\n", path);
		close(fd);
		return NULL;
	}
	if ((sb.st_uid != 0 && sb.st_uid != owner) || (sb.st_mode & 022) != 0) {
		fprintf(stderr,
			"mfactl import: %s: refusing a file that is owned by uid %u "
			"or writable by group or others (mode %04o): whoever can write it "
			"chooses the secrets\n",
			path, (unsigned)sb.st_uid, (unsigned)(sb.st_mode & 07777));
		close(fd);
		return NULL;
	}
	f = fdopen(fd, "r");
	if (f == NULL) {
		fprintf(stderr, "mfactl import: %s: %s\n", path, strerror(errno));
		close(fd);
	}
	return f;
}

/* Whether a dry run would import user: not if enrolled (without
 * --force); -1 if the user's state cannot be read. */
static int dry_run_check(struct importer *im, const char *user, bool *enrolled,
			 struct mfa_error *err)
{
	struct store_summary sum;
	int r;

	*enrolled = false;
	if (im->st == NULL) /* no state directory yet */
		return 0;
	r = store_summary(im->st, user, &sum, err);
	*enrolled = r == 0 && store_summary_count(&sum, METHOD_TOTP) > 0;
	store_summary_wipe(&sum);
	return r;
}

/* Enrolls user with the TOTP factor in t, unless already enrolled. */
static void import_totp(struct importer *im, unsigned long line, const char *user,
			const struct mfa_totp *t)
{
	struct mfa_error err = { "" };
	bool enrolled = false, replaced = false;
	int r;

	if (im->dry_run) {
		r = dry_run_check(im, user, &enrolled, &err);
		if (r == 0 && enrolled && !im->force)
			r = -EEXIST;
	} else {
		/* As for a new enrollment: a clean slate of failures, and an
		 * opt-out skip ends.  No label: which device holds the secret
		 * is not known here. */
		r = store_provision_totp(im->st, &im->ctx->cfg, user, t, NULL,
					 im->force ? PROVISION_REPLACE : PROVISION_NEW, im->now,
					 &replaced, &err);
	}
	if (r == -EEXIST) {
		report(im, line, "%s: skipped: already enrolled for TOTP (--force replaces)", user);
		im->enrolled++;
		return;
	}
	if (r < 0) {
		report(im, line, "%s: not imported: %s", user, err.msg);
		im->failed++;
		return;
	}
	if (!im->dry_run)
		mfactl_log_action("action=import user=%s method=totp from=%s%s", user, im->from,
				  replaced ? " replaced=yes" : "");
	im->imported++;
}

/* Reads a decimal number made of digits only; 0 or -EINVAL.  Not util's
 * parse_u64(), which refuses leading zeros: codes have them ("012345"),
 * and liboath reads its counters with strtoull(), which takes them. */
static int parse_decimal(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -EINVAL;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s) || v > (max - (uint64_t)(*s - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

static int hex_secret(const char *hex, unsigned char *out, size_t *len)
{
	size_t n = strlen(hex);

	if (n % 2 != 0 || n / 2 > TOTP_SECRET_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i += 2) {
		unsigned v = 0;
		for (size_t j = i; j < i + 2; j++) {
			int c = tolower((unsigned char)hex[j]);
			if (c >= '0' && c <= '9')
				v = v * 16 + (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v = v * 16 + (unsigned)(c - 'a' + 10);
			else
				return -EINVAL;
		}
		out[i / 2] = (unsigned char)v;
	}
	*len = n / 2;
	return 0;
}

/* pam_oath's token types: HOTP[/E][/D] is counter-based, HOTP/T30[/D] and
 * HOTP/T60[/D] time-based, D being 6, 7 or 8 digits. */
static int oath_type(const char *type, bool *totp, struct totp_params *p)
{
	const char *rest;

	p->algorithm = TOTP_SHA1;
	p->digits = 6;
	p->period = 0;
	if (strncmp(type, "HOTP", 4) != 0)
		return -EINVAL;
	rest = type + 4;
	if (strncmp(rest, "/T30", 4) == 0 || strncmp(rest, "/T60", 4) == 0) {
		p->period = rest[2] == '3' ? 30 : 60;
		rest += 4;
	} else if (strncmp(rest, "/E", 2) == 0) {
		rest += 2;
	}
	if (rest[0] == '/' && rest[1] >= '6' && rest[1] <= '8' && rest[2] == '\0')
		p->digits = (unsigned)(rest[1] - '0');
	else if (rest[0] != '\0')
		return -EINVAL;
	*totp = p->period != 0;
	return 0;
}

/* The step pam_oath last accepted: the one whose code is the line's last
 * OTP near the time of its last login, or that time's own step. */
static uint64_t oath_last_step(const struct mfa_totp *t, const char *last_otp, time_t when)
{
	uint64_t at = totp_step_at(&t->params, when), found = at;
	char code[TOTP_DIGITS_MAX + 1];

	if (last_otp == NULL)
		return at;
	for (uint64_t s = at + OATH_LAST_CODE_SEARCH; s + OATH_LAST_CODE_SEARCH >= at; s--) {
		if (totp_code_for_step(t->secret, t->secret_len, &t->params, s, code) == 0 &&
		    strcmp(code, last_otp) == 0) {
			found = s;
			break;
		}
		if (s == 0)
			break;
	}
	secure_wipe(code, sizeof(code));
	return found;
}

/* Splits a usersfile line at blanks: up to 8 fields, one more than a
 * line may have, so that a line with too many is seen. */
static size_t oath_fields(char *text, char **fields)
{
	char *save = NULL, *p;
	size_t n = 0;

	for (p = strtok_r(text, " \t\r\n", &save); p != NULL && n < 8;
	     p = strtok_r(NULL, " \t\r\n", &save))
		fields[n++] = p;
	return n;
}

/* TYPE and USER: a time-based token (its digits and period go to p) for
 * a valid user name; anything else is reported and counted. */
static int oath_token(struct importer *im, unsigned long line, char **fields, size_t n,
		      struct totp_params *p)
{
	char shown[64];
	bool totp;

	if (n < 4 || n > 7) {
		report(im, line,
		       "bad line: %zu fields, not 4 to 7 (TYPE USER PASSWORD "
		       "SECRET [COUNTER [OTP [TIME]]])",
		       n);
		im->bad++;
		return -1;
	}
	if (oath_type(fields[0], &totp, p) < 0) {
		sanitize_printable(fields[0], shown, sizeof(shown));
		report(im, line, "bad line: unknown token type \"%s\"", shown);
		im->bad++;
		return -1;
	}
	if (!user_name_valid(fields[1])) {
		sanitize_printable(fields[1], shown, sizeof(shown));
		report(im, line, "bad line: \"%s\" is not a valid user name", shown);
		im->bad++;
		return -1;
	}
	if (!totp) {
		report(im, line,
		       "%s: skipped: an HOTP (counter) token; pam_mfa has TOTP only, "
		       "so this user must enroll anew",
		       fields[1]);
		im->hotp++;
		return -1;
	}
	return 0;
}

/* The TIME field of a usersfile line. */
static int oath_time(const char *text, time_t *when)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(text, "%Y-%m-%dT%H:%M:%SL", &tm);
	tm.tm_isdst = -1;
	/* liboath writes its local time. */
	if (end == NULL || *end != '\0' || (*when = mktime(&tm)) == (time_t)-1)
		return -EINVAL;
	return 0;
}

/* SECRET [COUNTER [OTP [TIME]]]: the secret, and the step of the code
 * pam_oath last accepted; a bad field is reported and counted. */
static int oath_factor(struct importer *im, unsigned long line, char **fields, size_t n,
		       struct mfa_totp *t)
{
	uint64_t counter;
	time_t when = 0;

	if (hex_secret(fields[3], t->secret, &t->secret_len) < 0 ||
	    t->secret_len < TOTP_SECRET_MIN) {
		report(im, line, "bad line: the secret is not %d to %d bytes of hex",
		       TOTP_SECRET_MIN, TOTP_SECRET_MAX);
		im->bad++;
		return -1;
	}
	if (n > 4 && parse_decimal(fields[4], UINT64_MAX, &counter) < 0) {
		report(im, line, "bad line: the moving factor is not a number");
		im->bad++;
		return -1;
	}
	if (n > 5 && (strlen(fields[5]) != t->params.digits ||
		      parse_decimal(fields[5], UINT64_MAX, &counter) < 0)) {
		report(im, line, "bad line: the last OTP is not a %u-digit code", t->params.digits);
		im->bad++;
		return -1;
	}
	if (n > 6) {
		if (oath_time(fields[6], &when) < 0) {
			report(im, line, "bad line: the time is not YYYY-MM-DDTHH:MM:SSL");
			im->bad++;
			return -1;
		}
		t->last_step = oath_last_step(t, n > 5 ? fields[5] : NULL, when);
	}
	return 0;
}

/* One TOTP secret a user is imported, that of the first line: a later
 * one is reported and skipped (mfactl enroll --add gives another app). */
static bool oath_first_of_user(struct importer *im, unsigned long line, const char *user)
{
	int r = name_set_add(&im->seen, user);

	if (r < 0) {
		report(im, line, "out of memory");
		im->failed++;
		return false;
	}
	if (r == 0) {
		report(im, line,
		       "%s: skipped: the user has a token on an earlier line, and "
		       "import takes one TOTP secret a user",
		       user);
		im->repeated++;
		return false;
	}
	return true;
}

/* One line of a usersfile: TYPE USER PASSWORD SECRET [COUNTER [OTP [TIME]]]. */
static void import_oath_line(struct importer *im, unsigned long line, char *text)
{
	char *fields[8];
	struct mfa_totp t;
	size_t n;

	memset(&t, 0, sizeof(t));
	n = oath_fields(text, fields);
	if (n == 0 || fields[0][0] == '#')
		return;
	if (oath_token(im, line, fields, n, &t.params) < 0)
		return;
	if (oath_factor(im, line, fields, n, &t) == 0 && oath_first_of_user(im, line, fields[1])) {
		if (strcmp(fields[2], "-") != 0 && strcmp(fields[2], "+") != 0)
			report(im, line,
			       "%s: note: the token's PIN is not imported; pam_mfa relies on "
			       "the account's password",
			       fields[1]);
		import_totp(im, line, fields[1], &t);
	}
	secure_wipe(&t, sizeof(t));
}

static int import_oath(struct importer *im)
{
	FILE *f = open_import_file(im->file, 0);
	char *text = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned long line = 0;

	if (f == NULL)
		return -1;
	while ((len = getline(&text, &cap, f)) >= 0) {
		line++;
		if ((size_t)len > IMPORT_LINE_MAX || memchr(text, '\0', (size_t)len) != NULL) {
			report(im, line, "bad line: longer than %d bytes or not text",
			       IMPORT_LINE_MAX);
			im->bad++;
		} else {
			import_oath_line(im, line, text);
		}
		secure_wipe(text, cap);
	}
	if (ferror(f)) {
		report(im, 0, "read error after line %lu", line);
		im->failed++;
	}
	secure_wipe(text, cap);
	free(text);
	fclose(f);
	return 0;
}

/* What a ~/.google_authenticator file says, as it is read: the scratch
 * codes, the first RECOVERY_CODES_MAX of them kept (no two alike). */
struct ga_file {
	struct mfa_totp t;
	unsigned long line, scratch;
	bool totp_auth, hotp;
	char codes[RECOVERY_CODES_MAX][RECOVERY_SCRATCH_DIGITS + 1];
	unsigned n_codes;
	unsigned long repeated, dropped;
};

/* A scratch code (8 digits, checked) for the recovery set. */
static void ga_keep_scratch(struct ga_file *ga, const char *code)
{
	for (unsigned i = 0; i < ga->n_codes; i++)
		if (strcmp(ga->codes[i], code) == 0) {
			ga->repeated++;
			return;
		}
	if (ga->n_codes == RECOVERY_CODES_MAX) {
		ga->dropped++;
		return;
	}
	memcpy(ga->codes[ga->n_codes++], code, RECOVERY_SCRATCH_DIGITS + 1);
}

/* The first line: the secret, in base32. */
static void ga_secret(struct importer *im, struct ga_file *ga, const char *text)
{
	int slen = base32_decode(text, ga->t.secret, sizeof(ga->t.secret));

	if (slen < TOTP_SECRET_MIN) {
		report(im, ga->line,
		       "bad line: the secret is not base32 of %d to %d "
		       "bytes",
		       TOTP_SECRET_MIN, TOTP_SECRET_MAX);
		im->bad++;
	}
	ga->t.secret_len = slen > 0 ? (size_t)slen : 0;
}

/* DISALLOW_REUSE's arguments, the rest of the line that *arg tokenizes:
 * the steps of the codes used lately, the newest of which is ours. */
static void ga_disallow_reuse(struct importer *im, struct ga_file *ga, char **arg)
{
	uint64_t v;

	for (char *s = strtok_r(NULL, " ", arg); s != NULL; s = strtok_r(NULL, " ", arg)) {
		if (parse_decimal(s, UINT32_MAX, &v) < 0) {
			report(im, ga->line, "bad line: DISALLOW_REUSE lists a non-number");
			im->bad++;
			break;
		}
		if (v > ga->t.last_step)
			ga->t.last_step = v;
	}
}

/* A line "\" OPTION [ARG...]". */
static void ga_option(struct importer *im, struct ga_file *ga, char *text)
{
	char *opt, *arg;
	uint64_t v;

	opt = strtok_r(text + 2, " ", &arg);
	if (opt == NULL) {
		report(im, ga->line, "bad line: an empty option");
		im->bad++;
	} else if (strcmp(opt, "TOTP_AUTH") == 0) {
		ga->totp_auth = true;
	} else if (strcmp(opt, "HOTP_COUNTER") == 0) {
		ga->hotp = true;
	} else if (strcmp(opt, "STEP_SIZE") == 0) {
		if (parse_decimal(arg, 300, &v) < 0 || v < 10) {
			report(im, ga->line, "bad line: STEP_SIZE is not 10 to 300 seconds");
			im->bad++;
		} else {
			ga->t.params.period = (unsigned)v;
		}
	} else if (strcmp(opt, "DISALLOW_REUSE") == 0) {
		ga_disallow_reuse(im, ga, &arg);
	} else if (strcmp(opt, "RATE_LIMIT") != 0 && strcmp(opt, "WINDOW_SIZE") != 0) {
		char shown[64];
		sanitize_printable(opt, shown, sizeof(shown));
		report(im, ga->line, "bad line: unknown option \"%s\"", shown);
		im->bad++;
	}
}

/* Each line of the file in buf: the secret, then options and scratch
 * codes; a bad line is reported and counted. */
static void ga_parse(struct importer *im, struct ga_file *ga, char *buf)
{
	char *save = NULL, *text;

	for (text = strtok_r(buf, "\n", &save); text != NULL; text = strtok_r(NULL, "\n", &save)) {
		uint64_t v;

		ga->line++;
		if (ga->line == 1) {
			ga_secret(im, ga, text);
		} else if (strncmp(text, "\" ", 2) == 0) {
			ga_option(im, ga, text);
		} else {
			if (strlen(text) != 8 || parse_decimal(text, UINT64_MAX, &v) < 0) {
				report(im, ga->line,
				       "bad line: neither an option nor an 8-digit "
				       "scratch code");
				im->bad++;
			} else {
				ga_keep_scratch(ga, text);
			}
			ga->scratch++;
		}
	}
}

/* Whether the file, as parsed, is one TOTP enrollment; if not, says why.
 * bad_before: the count of bad lines before this file. */
static bool ga_importable(struct importer *im, const struct ga_file *ga, const char *user,
			  unsigned long bad_before)
{
	if (ga->line == 0) {
		report(im, 0, "bad file: empty");
		im->bad++;
	}
	if (im->bad != bad_before) {
		report(im, 0, "%s: not imported: the file has bad lines", user);
		return false;
	}
	if (ga->hotp || !ga->totp_auth) {
		report(im, 0,
		       "%s: skipped: %s; pam_mfa has TOTP only, so this user must "
		       "enroll anew",
		       user,
		       ga->hotp ? "an HOTP (counter) secret" :
				  "no TOTP_AUTH line: the secret is not for TOTP");
		if (ga->hotp)
			im->hotp++;
		else
			im->not_totp++;
		return false;
	}
	return true;
}

/* The file's scratch codes become the user's recovery codes, in place of
 * any set the user had: they are what the user keeps on paper. */
static void import_scratch_codes(struct importer *im, const char *user, const struct ga_file *ga)
{
	struct mfa_error err = { "" };
	const char *codes[RECOVERY_CODES_MAX];
	int r = 0;

	if (im->ctx->cfg.recovery.codes == 0) {
		report(im, 0,
		       "%s: note: %u scratch code%s not imported: recovery.codes is 0 "
		       "in %s",
		       user, ga->n_codes, ga->n_codes == 1 ? "" : "s", im->ctx->config_path);
		return;
	}
	if (ga->dropped > 0)
		report(im, 0,
		       "%s: note: the file has %lu scratch codes; only the first %d are "
		       "imported (the most a set of recovery codes holds)",
		       user, ga->scratch - ga->repeated, RECOVERY_CODES_MAX);
	if (ga->repeated > 0)
		report(im, 0, "%s: note: %lu scratch code%s repeated, imported once", user,
		       ga->repeated, ga->repeated == 1 ? "" : "s");
	for (unsigned i = 0; i < ga->n_codes; i++)
		codes[i] = ga->codes[i];
	if (!im->dry_run)
		r = store_recovery_admin(im->st, user, codes, ga->n_codes, RECOVERY_IMPORTED,
					 im->now, &err);
	if (r < 0) {
		report(im, 0, "%s: scratch codes not imported: %s", user, err.msg);
		im->failed++;
		return;
	}
	report(im, 0, "%s: %s %u scratch code%s as recovery codes", user,
	       im->dry_run ? "would import" : "imported", ga->n_codes, ga->n_codes == 1 ? "" : "s");
	if (!im->dry_run)
		mfactl_log_action("action=recovery-codes user=%s codes=%u source=imported", user,
				  ga->n_codes);
}

/* A ~/.google_authenticator file: the base32 secret on the first line, then
 * "\" OPTION ..." lines and scratch codes.  It is one enrollment: a bad line
 * anywhere imports nothing, for a wrong step size gives wrong codes. */
static int import_google_authenticator(struct importer *im, const char *user,
				       const struct passwd *pw)
{
	char buf[GA_FILE_MAX + 1];
	struct ga_file ga;
	unsigned long bad_before = im->bad;
	size_t len;
	FILE *f = open_import_file(im->file, pw->pw_uid);

	if (f == NULL)
		return -1;
	memset(&ga, 0, sizeof(ga));
	ga.t.params.algorithm = TOTP_SHA1;
	ga.t.params.digits = 6;
	ga.t.params.period = 30;
	len = fread(buf, 1, sizeof(buf), f);
	if (ferror(f) || len > GA_FILE_MAX || memchr(buf, '\0', len) != NULL) {
		report(im, 0, "bad file: unreadable, over %d bytes, or not text", GA_FILE_MAX);
		im->bad++;
		goto out;
	}
	buf[len] = '\0';
	ga_parse(im, &ga, buf);
	if (!ga_importable(im, &ga, user, bad_before))
		goto out;
	import_totp(im, 0, user, &ga.t);
	if (ga.n_codes > 0 && im->imported > 0)
		import_scratch_codes(im, user, &ga);
out:
	secure_wipe(buf, sizeof(buf));
	secure_wipe(&ga, sizeof(ga));
	fclose(f);
	return 0;
}

static void print_summary(const struct importer *im)
{
	const char *verb = im->dry_run ? "would import" : "imported";

	printf("%s: %s %lu user%s\n", im->file, verb, im->imported, im->imported == 1 ? "" : "s");
	if (im->enrolled > 0)
		printf("skipped, already enrolled: %lu\n", im->enrolled);
	if (im->hotp > 0)
		printf("skipped, HOTP (counter) tokens: %lu\n", im->hotp);
	if (im->not_totp > 0)
		printf("skipped, no TOTP secret: %lu\n", im->not_totp);
	if (im->repeated > 0)
		printf("skipped, user repeated: %lu\n", im->repeated);
	if (im->bad > 0)
		printf("bad lines: %lu\n", im->bad);
	if (im->failed > 0)
		printf("not written (store errors): %lu\n", im->failed);
}

/* Reads the options and the arguments (FILE, after USER for
 * google-authenticator) into im and *ga; returns false, with *status set,
 * when the verb ends here (--help, or a usage error). */
static bool import_args(int argc, char **argv, struct importer *im, bool *ga, int *status)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'F' },
		{ "force", no_argument, NULL, 'f' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*status = EXIT_USAGE;
	while ((c = getopt_long(argc, argv, "F:fnh", opts, NULL)) != -1) {
		switch (c) {
		case 'F':
			if (strcmp(optarg, "oath") == 0) {
				*ga = false;
			} else if (strcmp(optarg, "google-authenticator") == 0) {
				*ga = true;
			} else {
				fprintf(stderr,
					"mfactl import: unknown format \"%s\" (available: "
					"oath, google-authenticator)\n",
					optarg);
				return false;
			}
			im->from = optarg;
			break;
		case 'f': im->force = true; break;
		case 'n': im->dry_run = true; break;
		case 'h':
			import_usage(stdout);
			*status = EXIT_OK;
			return false;
		default: import_usage(stderr); return false;
		}
	}
	if (im->from == NULL || optind != argc - (*ga ? 2 : 1)) {
		import_usage(stderr);
		return false;
	}
	im->file = argv[argc - 1];
	return true;
}

/* After an import: one sync for all its records, then the summary and the
 * log line; -1 when the records may not survive a crash. */
static int import_report(struct importer *im)
{
	struct mfa_error err = { "" };

	if (!im->dry_run && im->st != NULL && store_sync(im->st, &err) < 0) {
		fprintf(stderr, "mfactl: %s: the imported records may not survive a crash\n",
			err.msg);
		return -1;
	}
	print_summary(im);
	if (!im->dry_run)
		mfactl_log_action("action=import from=%s imported=%lu skipped=%lu "
				  "bad=%lu failed=%lu",
				  im->from, im->imported,
				  im->enrolled + im->hotp + im->repeated + im->not_totp, im->bad,
				  im->failed);
	return 0;
}

int cmd_import(struct mfactl *ctx, int argc, char **argv)
{
	struct importer im = { .ctx = ctx };
	struct mfa_error err = { "" };
	const struct passwd *pw = NULL;
	const char *user = NULL;
	bool ga = false;
	int status, r;

	if (!import_args(argc, argv, &im, &ga, &status))
		return status;
	if (ga) {
		user = argv[optind];
		if (!mfactl_user_ok(user, true))
			return EXIT_FAIL;
		pw = getpwnam(user);
		if (pw == NULL)
			return EXIT_FAIL;
	}
	im.now = time(NULL);
	if (mfactl_load_config(ctx) < 0)
		return EXIT_FAIL;
	r = store_open(&ctx->cfg, im.dry_run ? STORE_READ_ONLY : STORE_CREATE, &im.st, &err);
	if (r < 0 && !(im.dry_run && r == -ENOENT)) {
		fprintf(stderr, "mfactl: %s\n", err.msg);
		return EXIT_FAIL;
	}
	/* Thousands of records: one sync at the end, not two per user. */
	if (im.st != NULL)
		store_defer_sync(im.st);

	r = ga ? import_google_authenticator(&im, user, pw) : import_oath(&im);
	if (r == 0)
		r = import_report(&im);
	name_set_free(&im.seen);
	store_close(im.st);
	if (r < 0)
		return EXIT_FAIL;
	return im.bad > 0 || im.failed > 0 ? EXIT_FAIL : EXIT_OK;
}
