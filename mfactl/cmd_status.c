/* mfactl status: one row per user, for every account in the passwd database
 * and every record in the store.  Reads without locking and creates nothing. */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lockout.h"
#include "mfactl.h"
#include "policy.h"

/* The users to show; an account in the passwd database comes with its
 * primary group, so that no user is looked up again (at 100,000 accounts,
 * a lookup each through a files or nss_wrapper source is quadratic). */
struct account {
	char *name;
	bool in_passwd;
	gid_t gid;
};

struct name_list {
	struct account *names;
	size_t len, cap;
};

static void status_usage(FILE *out)
{
	fprintf(out,
		"usage: mfactl status [--json] [--missing] [USER...]\n"
		"\n"
		"Shows, for each user (by default every account in the passwd database\n"
		"and every user with a record), the policy, the enrolled methods, when,\n"
		"a remembered opt-out skip, the last MFA login, failures and any\n"
		"lockout.  Reads only; creates nothing.\n"
		"\n"
		"  -j, --json      one JSON document instead of the table\n"
		"  -m, --missing   only users who must or may enroll and have not\n"
		"  -h, --help      this help\n");
}

static int list_add(struct name_list *l, const char *name, const struct passwd *pw)
{
	if (l->len == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 256;
		struct account *n = realloc(l->names, ncap * sizeof(*n));
		if (n == NULL)
			return -ENOMEM;
		l->names = n;
		l->cap = ncap;
	}
	l->names[l->len].name = strdup(name);
	if (l->names[l->len].name == NULL)
		return -ENOMEM;
	l->names[l->len].in_passwd = pw != NULL;
	l->names[l->len].gid = pw != NULL ? pw->pw_gid : 0;
	l->len++;
	return 0;
}

static int add_from_store(const char *user, void *ctx)
{
	return list_add(ctx, user, NULL);
}

/* By name, and the passwd entry of a name before its store entry, which
 * the listing then skips. */
static int cmp_names(const void *a, const void *b)
{
	const struct account *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c : (int)y->in_passwd - (int)x->in_passwd;
}

static void json_string(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

struct row {
	const char *user;
	bool in_passwd;
	bool error;
	char error_msg[sizeof(((struct mfa_error *)0)->msg)];
	struct mfa_record rec;
	bool have_policy;	/* false for users outside the passwd database */
	struct policy_decision policy;
};

static void print_json_row(const struct row *r, time_t now, bool first)
{
	const struct mfa_record *rec = &r->rec;

	printf("%s\n    {\"user\": ", first ? "" : ",");
	json_string(r->user);
	printf(", \"in_passwd\": %s", r->in_passwd ? "true" : "false");
	if (r->have_policy) {
		const char *sep = "";

		printf(", \"policy\": \"%s\", \"allowed_methods\": [",
		       policy_name(r->policy.policy));
		for (unsigned m = 1; m <= METHOD_ALL && m != 0; m <<= 1)
			if (r->policy.methods & m) {
				printf("%s\"%s\"", sep, method_name(m));
				sep = ", ";
			}
		printf("], \"rule\": ");
		if (r->policy.rule < 0)
			printf("null");
		else
			printf("%d", r->policy.rule + 1);
	} else {
		printf(", \"policy\": null, \"allowed_methods\": [], \"rule\": null");
	}
	if (r->error) {
		printf(", \"error\": ");
		json_string(r->error_msg);
		printf("}");
		return;
	}
	printf(", \"error\": null, \"methods\": [%s%s%s]", rec->totp.enrolled ? "\"totp\"" : "",
	       rec->totp.enrolled && rec->email.verified ? ", " : "",
	       rec->email.verified ? "\"email\"" : "");
	if (rec->email.address[0] != '\0') {
		printf(", \"email\": {\"address\": ");
		json_string(rec->email.address);
		printf(", \"verified\": %s, \"enrolled_at\": %lld}",
		       rec->email.verified ? "true" : "false", (long long)rec->email.enrolled_at);
	} else {
		printf(", \"email\": null");
	}
	if (rec->totp.enrolled)
		printf(", \"totp\": {\"enrolled_at\": %lld, \"algorithm\": \"%s\", "
		       "\"digits\": %u, \"period\": %u}",
		       (long long)rec->totp.enrolled_at,
		       totp_algorithm_name(rec->totp.params.algorithm),
		       rec->totp.params.digits, rec->totp.params.period);
	else
		printf(", \"totp\": null");
	if (rec->last_login > 0) {
		printf(", \"last_login\": {\"time\": %lld, \"service\": ", (long long)rec->last_login);
		json_string(rec->last_service);
		printf(", \"rhost\": ");
		json_string(rec->last_rhost);
		printf("}");
	} else {
		printf(", \"last_login\": null");
	}
	if (rec->skip_since > 0)
		printf(", \"skipped_since\": %lld", (long long)rec->skip_since);
	else
		printf(", \"skipped_since\": null");
	printf(", \"failures\": %u, \"locked\": %s, \"locked_until\": ",
	       rec->fail_count, lockout_active(rec, now) ? "true" : "false");
	if (rec->locked_until < 0)
		printf("\"admin\"}");
	else if (lockout_active(rec, now))
		printf("%lld}", (long long)rec->locked_until);
	else
		printf("null}");
}

static void print_table_row(const struct row *r, time_t now, int width)
{
	const struct mfa_record *rec = &r->rec;
	char enrolled[32], login[32], locked[32], where[80], methods[64];
	const char *policy = r->have_policy ? policy_name(r->policy.policy) : "?";
	int64_t since = rec->totp.enrolled ? rec->totp.enrolled_at : 0;

	if (r->error) {
		printf("%-*s  %-8s  ERROR  %s\n", width, r->user, policy, r->error_msg);
		return;
	}
	if (rec->email.verified && (since == 0 || rec->email.enrolled_at < since))
		since = rec->email.enrolled_at;
	mfactl_format_time(since, enrolled, sizeof(enrolled));
	(void)snprintf(methods, sizeof(methods), "%s%s%s%s",
		       rec->totp.enrolled ? "totp" : "",
		       rec->totp.enrolled && rec->email.address[0] ? "," : "",
		       rec->email.verified ? "email" : rec->email.address[0] ? "email?" : "",
		       !rec->totp.enrolled && !rec->email.address[0] ? "none" : "");
	mfactl_format_time(rec->last_login, login, sizeof(login));
	if (rec->locked_until < 0)
		(void)snprintf(locked, sizeof(locked), "until unlocked");
	else if (lockout_active(rec, now))
		mfactl_format_time(rec->locked_until, locked, sizeof(locked));
	else
		(void)snprintf(locked, sizeof(locked), "-");
	if (rec->last_login > 0)
		(void)snprintf(where, sizeof(where), "%.30s from %.40s", rec->last_service,
			       rec->last_rhost[0] ? rec->last_rhost : "local");
	else
		(void)snprintf(where, sizeof(where), "-");
	printf("%-*s  %-8s  %-10s  %-20s  %-4s  %-20s  %-8u  %-20s  %s\n", width, r->user,
	       policy, methods, enrolled,
	       rec->skip_since > 0 ? "yes" : "-", login, rec->fail_count, locked, where);
}

int cmd_status(struct mfactl *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "missing", no_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct name_list names = { NULL, 0, 0 };
	struct mfa_error err = { "" };
	struct store *st = NULL;
	struct policy_groups *pg = NULL;
	char pg_error[sizeof(err.msg)] = "";
	bool json = false, missing = false, failed = false, first = true;
	time_t now = time(NULL);
	int c, width = 4, status = EXIT_FAIL, r;

	while ((c = getopt_long(argc, argv, "jmh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'm':
			missing = true;
			break;
		case 'h':
			status_usage(stdout);
			return EXIT_OK;
		default:
			status_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (mfactl_load_config(ctx) < 0)
		return EXIT_FAIL;
	r = store_open(ctx->cfg.state_dir, STORE_READ_ONLY, &st, &err);
	if (r == -ENOENT) {
		fprintf(stderr, "mfactl: note: %s does not exist yet: nobody is enrolled\n",
			ctx->cfg.state_dir);
	} else if (r < 0) {
		fprintf(stderr, "mfactl: %s\n", err.msg);
		return EXIT_FAIL;
	}

	if (optind < argc) {
		for (int i = optind; i < argc; i++) {
			if (!mfactl_user_ok(argv[i], false))
				goto out;
			if (list_add(&names, argv[i], getpwnam(argv[i])) < 0)
				goto nomem;
		}
	} else {
		struct passwd *pw;

		setpwent();
		while ((pw = getpwent()) != NULL)
			if (user_name_valid(pw->pw_name) && list_add(&names, pw->pw_name, pw) < 0) {
				endpwent();
				goto nomem;
			}
		endpwent();
		if (st != NULL) {
			r = store_list(st, add_from_store, &names, &err);
			if (r == -ENOMEM)
				goto nomem;
			if (r < 0) {
				fprintf(stderr, "mfactl: %s\n", err.msg);
				goto out;
			}
		}
	}
	qsort(names.names, names.len, sizeof(*names.names), cmp_names);
	for (size_t i = 0; i < names.len; i++)
		if ((int)strlen(names.names[i].name) > width)
			width = (int)strlen(names.names[i].name);
	/* The groups of the rules, once for everyone. */
	if (policy_groups_load(&ctx->cfg, &pg, &err) < 0) {
		fprintf(stderr, "mfactl: cannot decide policies: %s\n", err.msg);
		memcpy(pg_error, err.msg, sizeof(pg_error));
		failed = true;
	}

	if (json) {
		printf("{\"state_dir\": ");
		json_string(ctx->cfg.state_dir);
		printf(", \"users\": [");
	}
	else
		printf("%-*s  %-8s  %-10s  %-20s  %-4s  %-20s  %-8s  %-20s  %s\n", width, "USER",
		       "POLICY", "METHODS", "ENROLLED", "SKIP", "LAST MFA LOGIN", "FAILURES",
		       "LOCKED UNTIL", "LAST LOGIN VIA");
	for (size_t i = 0; i < names.len; i++) {
		struct row row;

		if (i > 0 && strcmp(names.names[i].name, names.names[i - 1].name) == 0)
			continue;
		memset(&row, 0, sizeof(row));
		row.user = names.names[i].name;
		row.in_passwd = names.names[i].in_passwd;
		record_init(&row.rec, row.user);
		r = st ? store_load(st, row.user, &row.rec, &err) : -ENOENT;
		if (r == -ENOENT) {
			record_init(&row.rec, row.user);
		} else if (r < 0) {
			row.error = true;
			memcpy(row.error_msg, err.msg, sizeof(row.error_msg));
			failed = true;
		}
		/* Group rules need the account; without it the policy is unknown. */
		if (row.in_passwd) {
			if (pg != NULL && policy_for_account(&ctx->cfg, pg, row.user,
							     names.names[i].gid,
							     &row.policy) == 0) {
				row.have_policy = true;
			} else if (!row.error) {
				row.error = true;
				(void)snprintf(row.error_msg, sizeof(row.error_msg),
					       "cannot decide the policy: %.700s", pg_error);
				failed = true;
			}
		}
		/* --missing: who must or may enroll and has not. */
		if (missing && !row.error && (!row.have_policy ||
				row.policy.policy == POLICY_EXEMPT || row.rec.totp.enrolled ||
				row.rec.email.verified)) {
			record_wipe(&row.rec);
			continue;
		}
		if (json)
			print_json_row(&row, now, first);
		else
			print_table_row(&row, now, width);
		first = false;
		record_wipe(&row.rec);
	}
	if (json)
		printf("\n]}\n");
	status = failed ? EXIT_FAIL : EXIT_OK;
	goto out;
nomem:
	fprintf(stderr, "mfactl: out of memory\n");
out:
	for (size_t i = 0; i < names.len; i++)
		free(names.names[i].name);
	free(names.names);
	policy_groups_free(pg);
	store_close(st);
	return status;
}
