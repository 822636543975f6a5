/* mfactl migrate --to postgresql: this host's files store, read through the
 * files backend, copied user by user into a postgresql store through its
 * admin function import_user: every factor of a record (apps, addresses
 * and numbers, verified or not, with their labels), a remembered skip, and
 * the recovery codes and bypass code as their salted hashes, which both
 * backends make alike (core/code_hash.c), so that a code works once on
 * either.
 * Secrets go from one backend to the other inside store/ and are wiped
 * after each user; nothing here returns one. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "pg.h"
#include "secmem.h"

struct names {
	char **v;
	size_t n, cap;
};

static int collect(const char *user, void *p)
{
	struct names *names = p;

	if (names->n == names->cap) {
		size_t cap = names->cap ? names->cap * 2 : 64;
		char **v = realloc(names->v, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		names->v = v;
		names->cap = cap;
	}
	if ((names->v[names->n] = strdup(user)) == NULL)
		return -ENOMEM;
	names->n++;
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One user: what the record holds, then the database's answer (or, for a
 * dry run, whether the database holds state for the user). */
static void migrate_one(struct files_store *fs, struct store *target, const char *user, bool force,
			bool dry_run, struct store_migrate_user *u)
{
	struct mfa_record rec;
	struct store_summary sum;
	bool replaced = false;
	int r;

	memset(&rec, 0, sizeof(rec));
	r = files_load(fs, user, &rec, &u->error);
	if (r < 0) {
		u->outcome = MIGRATE_BAD;
		goto out;
	}
	for (unsigned i = 0; i < rec.n_factors; i++) {
		const struct mfa_factor *f = &rec.factors[i];

		u->totp |= f->method == METHOD_TOTP;
		u->email |= f->method == METHOD_EMAIL;
		u->email_verified |= f->method == METHOD_EMAIL && f->verified;
		u->sms |= f->method == METHOD_SMS;
	}
	u->skip = rec.skip_since > 0;
	/* Every factor goes, verified or not, whatever its method. */
	if (rec.n_factors == 0 && !u->skip) {
		u->outcome = MIGRATE_EMPTY;
		goto out;
	}
	if (dry_run) {
		r = store_summary(target, user, &sum, &u->error);
		if (r < 0)
			u->outcome = MIGRATE_FAILED;
		else if (sum.exists)
			u->outcome = force ? MIGRATE_REPLACED : MIGRATE_CONFLICT;
		else
			u->outcome = MIGRATE_COPIED;
		store_summary_wipe(&sum);
		goto out;
	}
	r = pg_import_record(pg_store_of(target), &rec, force, &replaced, &u->error);
	if (r == -EEXIST)
		u->outcome = MIGRATE_CONFLICT;
	else if (r < 0)
		u->outcome = MIGRATE_FAILED;
	else
		u->outcome = replaced ? MIGRATE_REPLACED : MIGRATE_COPIED;
out:
	record_wipe(&rec);
}

int store_migrate_files(const struct mfa_config *cfg, struct store *target, bool force,
			bool dry_run, int (*cb)(const struct store_migrate_user *u, void *ctx),
			void *ctx, struct mfa_error *err)
{
	struct files_store *fs = NULL;
	struct names names = { NULL, 0, 0 };
	int r;

	if (pg_store_of(target) == NULL) {
		mfa_error_set(err, "the store to migrate to is not a postgresql database");
		return -EOPNOTSUPP;
	}
	r = files_open(cfg->state_dir, STORE_READ_ONLY, &fs, err);
	if (r < 0)
		return r;
	/* The names first, in order: each user is then read afresh. */
	r = files_list(fs, collect, &names, err);
	if (r == -ENOMEM)
		mfa_error_set(err, "out of memory");
	if (r == 0)
		qsort(names.v, names.n, sizeof(*names.v), name_cmp);
	for (size_t i = 0; r == 0 && i < names.n; i++) {
		struct store_migrate_user u = { .user = names.v[i] };

		migrate_one(fs, target, names.v[i], force, dry_run, &u);
		r = cb(&u, ctx);
	}
	for (size_t i = 0; i < names.n; i++)
		free(names.v[i]);
	free(names.v);
	files_close(fs);
	return r;
}
