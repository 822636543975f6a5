/* mfactl migrate --to postgresql: this host's users, from the files store
 * of state_dir into the PostgreSQL database of the store section of the
 * same configuration, so that a host joins a fleet without its users
 * enrolling again and without a used code becoming usable again. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "mfactl.h"

static const char migrate_help[] =
	"usage: mfactl migrate --to postgresql [--force] [--dry-run]\n"
	"\n"
	"Copies this host's users from the files store of the configuration's\n"
	"state_dir into the database of its store section (store.backend must be\n"
	"postgresql, store.conninfo the administrator's role): every factor (apps\n"
	"with their secrets, parameters and last accepted steps, addresses and\n"
	"phone numbers with whether they are verified, labels), a remembered\n"
	"opt-out skip.  A user the database already holds is reported and skipped\n"
	"unless --force.  Secrets are never shown.\n"
	"\n"
	"  -t, --to BACKEND    postgresql, the only one\n"
	"  -f, --force         replace the database's state of users it holds\n"
	"  -n, --dry-run       say what would be done, change nothing\n"
	"  -h, --help          this help\n"
	"\n"
	"Exit status 0 when every user was migrated or skipped for a reason\n"
	"shown, 1 when a record could not be read or written.\n";

struct migration_counts {
	bool dry_run;
	unsigned long copied, replaced, conflict, empty, failed;
};

/* "totp, email, sms, remembered skip": what the record holds, never a
 * secret. */
static void describe(const struct store_migrate_user *u, char *buf, size_t len)
{
	const char *parts[4];
	size_t n = 0, o = 0;

	if (u->totp)
		parts[n++] = "totp";
	if (u->email)
		parts[n++] = u->email_verified ? "email" : "email address not verified";
	if (u->sms)
		parts[n++] = "sms";
	if (u->skip)
		parts[n++] = "remembered skip";
	buf[0] = '\0';
	for (size_t i = 0; i < n && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i > 0 ? ", " : "", parts[i]);
}

static int report(const struct store_migrate_user *u, void *p)
{
	struct migration_counts *c = p;
	const char *would = c->dry_run ? "would migrate" : "migrated";
	char what[96];

	describe(u, what, sizeof(what));
	switch (u->outcome) {
	case MIGRATE_COPIED:
		printf("%s %s (%s)\n", would, u->user, what);
		c->copied++;
		break;
	case MIGRATE_REPLACED:
		printf("%s %s (%s), replacing the database's state of the user\n", would, u->user,
		       what);
		c->replaced++;
		break;
	case MIGRATE_CONFLICT:
		fprintf(stderr,
			"mfactl migrate: %s: skipped: the database already holds state for the "
			"user (--force replaces it)\n",
			u->user);
		c->conflict++;
		break;
	case MIGRATE_EMPTY:
		fprintf(stderr, "mfactl migrate: %s: skipped: no factor, address or skip to copy\n",
			u->user);
		c->empty++;
		break;
	case MIGRATE_BAD:
	case MIGRATE_FAILED:
		fprintf(stderr, "mfactl migrate: %s: not migrated: %s\n", u->user, u->error.msg);
		c->failed++;
		break;
	}
	if (!c->dry_run && (u->outcome == MIGRATE_COPIED || u->outcome == MIGRATE_REPLACED))
		mfactl_log_action("action=migrate user=%s to=postgresql%s", u->user,
				  u->outcome == MIGRATE_REPLACED ? " replaced=yes" : "");
	return 0;
}

int cmd_migrate(struct mfactl *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "force", no_argument, NULL, 'f' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct migration_counts counts = { .dry_run = false };
	struct mfa_error err = { "" };
	struct store *st = NULL;
	bool to = false, force = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "t:fnh", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (strcmp(optarg, "postgresql") != 0) {
				fprintf(stderr,
					"mfactl migrate: unknown backend \"%s\" (available: "
					"postgresql)\n",
					optarg);
				return EXIT_USAGE;
			}
			to = true;
			break;
		case 'f': force = true; break;
		case 'n': counts.dry_run = true; break;
		case 'h': fputs(migrate_help, stdout); return EXIT_OK;
		default: fputs(migrate_help, stderr); return EXIT_USAGE;
		}
	}
	if (!to || optind != argc) {
		fputs(migrate_help, stderr);
		return EXIT_USAGE;
	}
	if (mfactl_load_config(ctx) < 0)
		return EXIT_FAIL;
	if (ctx->cfg.store.backend != STORE_BACKEND_POSTGRESQL) {
		fprintf(stderr,
			"mfactl migrate: the store of %s is not a database (store.backend is "
			"\"files\"): its store section names where to, its state_dir where from\n",
			ctx->config_path);
		return EXIT_FAIL;
	}
	if (mfactl_open_store(ctx, STORE_READ_ONLY, &st) < 0)
		return EXIT_FAIL;
	r = store_migrate_files(&ctx->cfg, st, force, counts.dry_run, report, &counts, &err);
	store_close(st);
	if (r < 0) {
		fprintf(stderr, "mfactl migrate: %s\n", err.msg);
		return EXIT_FAIL;
	}
	printf("%s: %s %lu user%s to postgresql (%lu replacing the database's); skipped %lu "
	       "already in the database, %lu with nothing to copy; %lu failed\n",
	       ctx->cfg.state_dir, counts.dry_run ? "would migrate" : "migrated",
	       counts.copied + counts.replaced, counts.copied + counts.replaced == 1 ? "" : "s",
	       counts.replaced, counts.conflict, counts.empty, counts.failed);
	if (!counts.dry_run)
		mfactl_log_action("action=migrate to=postgresql migrated=%lu replaced=%lu "
				  "skipped=%lu failed=%lu",
				  counts.copied + counts.replaced, counts.replaced,
				  counts.conflict + counts.empty, counts.failed);
	return counts.failed > 0 ? EXIT_FAIL : EXIT_OK;
}
