/* mfactl db: the PostgreSQL database of the postgresql store itself, as
 * opposed to the users in it: db init creates or upgrades pam_mfa's schema
 * from the migrations of sql/, db check compares its version and the
 * roles' rights with the design. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "build_config.h"
#include "mfactl.h"

static const char db_help[] =
	"usage: mfactl db init [--sql-dir DIR]\n"
	"       mfactl db check\n"
	"\n"
	"The PostgreSQL database of a postgresql store (store.backend), as the\n"
	"configuration's store section reaches it:\n"
	"\n"
	"init   creates pam_mfa's schema, or upgrades it: applies the migrations\n"
	"       the database has not recorded, in order, each in one transaction,\n"
	"       under a lock that makes a second init wait.  Run it with a\n"
	"       configuration whose store.conninfo names the schema's owner.\n"
	"check  compares the schema's version with the newest this mfactl ships\n"
	"       and the rights of pam_mfa_host, pam_mfa_admin and PUBLIC with the\n"
	"       design (sql/README.md); exits 1 with a line for each problem.\n"
	"\n"
	"  -S, --sql-dir DIR   the migrations (default " PAM_MFA_SQL_DIR ")\n"
	"  -h, --help          this help\n";

/* The configuration, and its store opened, which must be a database. */
static int open_database(struct mfactl *ctx, const char *verb, struct store **st)
{
	if (mfactl_load_config(ctx) < 0)
		return -1;
	if (ctx->cfg.store.backend != STORE_BACKEND_POSTGRESQL) {
		fprintf(stderr,
			"mfactl %s: the store of %s is not a database "
			"(store.backend is \"files\")\n",
			verb, ctx->config_path);
		return -1;
	}
	return mfactl_open_store(ctx, STORE_READ_ONLY, st) < 0 ? -1 : 0;
}

static void print_applied(unsigned version, const char *file, void *ctx)
{
	(void)ctx;
	printf("applied %s (version %u)\n", file, version);
	(void)fflush(stdout);
}

static int db_init(struct mfactl *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sql-dir", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sql_dir = PAM_MFA_SQL_DIR;
	struct mfa_error err = { "" };
	struct store *st = NULL;
	unsigned before, after;
	int c, r;

	while ((c = getopt_long(argc, argv, "S:h", opts, NULL)) != -1) {
		switch (c) {
		case 'S':
			if (optarg[0] != '/') {
				fprintf(stderr,
					"mfactl db init: --sql-dir needs an absolute path\n");
				return EXIT_USAGE;
			}
			sql_dir = optarg;
			break;
		case 'h': fputs(db_help, stdout); return EXIT_OK;
		default: fputs(db_help, stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs(db_help, stderr);
		return EXIT_USAGE;
	}
	if (open_database(ctx, "db init", &st) < 0)
		return EXIT_FAIL;
	r = store_db_init(st, sql_dir, print_applied, NULL, &before, &after, &err);
	store_close(st);
	if (after != before)
		mfactl_log_action("action=db-init from=%u to=%u", before, after);
	if (r < 0) {
		fprintf(stderr, "mfactl db init: %s\n", err.msg);
		if (after > 0)
			fprintf(stderr, "mfactl db init: the schema is at version %u\n", after);
		return EXIT_FAIL;
	}
	if (after == before)
		printf("pam_mfa schema up to date at version %u\n", after);
	else
		printf("pam_mfa schema at version %u (was %u)\n", after, before);
	return EXIT_OK;
}

struct check_count {
	unsigned problems;
};

static int print_problem(const char *what, void *p)
{
	struct check_count *c = p;
	char shown[512];

	sanitize_printable(what, shown, sizeof(shown));
	fprintf(stderr, "mfactl db check: %s\n", shown);
	c->problems++;
	return 0;
}

static int db_check(struct mfactl *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct check_count count = { 0 };
	struct mfa_error err = { "" };
	struct store *st = NULL;
	unsigned version;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(db_help, stdout);
			return EXIT_OK;
		}
		fputs(db_help, stderr);
		return EXIT_USAGE;
	}
	if (optind != argc) {
		fputs(db_help, stderr);
		return EXIT_USAGE;
	}
	if (open_database(ctx, "db check", &st) < 0)
		return EXIT_FAIL;
	r = store_db_check(st, &version, print_problem, &count, &err);
	store_close(st);
	if (r < 0) {
		fprintf(stderr, "mfactl db check: %s\n", err.msg);
		return EXIT_FAIL;
	}
	if (version == 0) {
		fprintf(stderr,
			"mfactl db check: the database has no pam_mfa.schema_version(): no "
			"schema, or one older than version 5 (this mfactl ships %d); run "
			"mfactl db init\n",
			PAM_MFA_SCHEMA_NEWEST);
		count.problems++;
	} else if (version != PAM_MFA_SCHEMA_NEWEST) {
		fprintf(stderr,
			"mfactl db check: the schema is at version %u, %s the %d this mfactl ships%s\n",
			version, version < PAM_MFA_SCHEMA_NEWEST ? "older than" : "newer than",
			PAM_MFA_SCHEMA_NEWEST,
			version < PAM_MFA_SCHEMA_NEWEST ? ": run mfactl db init" : "");
		count.problems++;
	}
	if (count.problems > 0) {
		fprintf(stderr, "mfactl db check: %u problem%s\n", count.problems,
			count.problems == 1 ? "" : "s");
		return EXIT_FAIL;
	}
	printf("pam_mfa schema at version %u, the newest this mfactl ships; the roles' rights "
	       "are as designed\n",
	       version);
	return EXIT_OK;
}

int cmd_db(struct mfactl *ctx, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "init") == 0)
		return db_init(ctx, argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return db_check(ctx, argc - 1, argv + 1);
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(db_help, stdout);
		return EXIT_OK;
	}
	if (argc >= 2)
		fprintf(stderr, "mfactl db: unknown command \"%s\"\n", argv[1]);
	fputs(db_help, stderr);
	return EXIT_USAGE;
}
