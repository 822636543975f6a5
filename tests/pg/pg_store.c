/* store.h's operations on the postgresql backend, through store.c and
 * store/pg.c, against a database the rig made (test_pg_store.py): what
 * the module, mfa-setup and mfactl see of version 8's functions, the
 * summary with its factors, every answer mapped to the contract's errors,
 * the snapshot, pg_import_record's list, and version 9's recovery and
 * bypass codes and lockout notices across two hosts.  No PAM, no mfactl.
 * Usage: pg_store HOST-CONNINFO HOST-PASSWORD-FILE ADMIN-CONNINFO
 * ADMIN-PASSWORD-FILE HOST-B-CONNINFO HOST-B-PASSWORD-FILE.  Each check is
 * a line; exit status 1 if one failed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pg.h"
#include "recovery.h"
#include "secmem.h"
#include "store.h"

static int failures;
static struct mfa_error err;

#define CHECK(cond, ...)                                               \
	do {                                                           \
		if (cond) {                                            \
			printf("ok: %s\n", #cond);                     \
		} else {                                               \
			printf("FAIL line %d: %s: ", __LINE__, #cond); \
			printf(__VA_ARGS__);                           \
			printf(" (store: %s)\n", err.msg);             \
			failures++;                                    \
		}                                                      \
	} while (0)

static struct mfa_config config_for(const char *conninfo, const char *password_file)
{
	struct mfa_config c;

	memset(&c, 0, sizeof(c));
	c.store.backend = STORE_BACKEND_POSTGRESQL;
	c.store.conninfo = (char *)conninfo;
	c.store.password_file = (char *)password_file;
	c.store.timeout = 10;
	c.factors_per_method = 3;
	c.email.timeout = 10;
	c.sms.timeout = 10;
	return c;
}

static void app(struct mfa_totp *t, unsigned char seed)
{
	memset(t, 0, sizeof(*t));
	t->enrolled = true;
	t->params.algorithm = TOTP_SHA1;
	t->params.digits = 6;
	t->params.period = 30;
	t->secret_len = 20;
	for (int i = 0; i < 20; i++)
		t->secret[i] = (unsigned char)(seed * 31 + i * 7);
}

static void code_of(const struct mfa_totp *t, time_t at, char *out)
{
	(void)totp_code_for_step(t->secret, t->secret_len, &t->params, totp_step_at(&t->params, at),
				 out);
}

static int count_user(const char *user, void *ctx)
{
	(void)user;
	(*(int *)ctx)++;
	return 0;
}

static int count_problem(const char *what, void *ctx)
{
	printf("db check: %s\n", what);
	(*(int *)ctx)++;
	return 0;
}

/* Apps: provisioning with modes and the bound, the summary's list, a
 * code of either app, a replay per app, a host's enrollment in place of
 * one, removal and labels. */
static void apps(struct store *host, const struct mfa_config *hc, struct store *admin,
		 const struct mfa_config *ac, struct store_login *at)
{
	struct mfa_totp t1, t2, t3, t4, t5;
	struct store_summary sum;
	struct store_basis old;
	struct verify_result vr;
	bool replaced;
	char c[16];
	int r;

	app(&t1, 1), app(&t2, 2), app(&t3, 3), app(&t4, 4), app(&t5, 5);
	r = store_provision_totp(admin, ac, "alice", &t1, "phone", PROVISION_NEW, 0, &replaced,
				 &err);
	CHECK(r == 0 && !replaced, "%d", r);
	r = store_provision_totp(admin, ac, "alice", &t2, NULL, PROVISION_NEW, 0, &replaced, &err);
	CHECK(r == -EEXIST, "%d", r);
	r = store_provision_totp(admin, ac, "alice", &t2, "tablet", PROVISION_ADD, 0, &replaced,
				 &err);
	CHECK(r == 0, "%d", r);
	r = store_provision_totp(admin, ac, "alice", &t3, NULL, PROVISION_ADD, 0, &replaced, &err);
	CHECK(r == 0, "%d", r);
	r = store_provision_totp(admin, ac, "alice", &t4, NULL, PROVISION_ADD, 0, &replaced, &err);
	CHECK(r == -EDQUOT, "%d", r);
	r = store_provision_totp(admin, ac, "alice", &t1, "bad label ", PROVISION_ADD, 0, &replaced,
				 &err);
	CHECK(r == -EINVAL, "%d", r);

	r = store_summary(host, "alice", &sum, &err);
	CHECK(r == 0 && sum.exists && sum.n_factors == 3 && sum.basis.version > 0, "%d %u", r,
	      sum.n_factors);
	CHECK(sum.factors[0].id == 1 && strcmp(sum.factors[0].label, "phone") == 0 &&
		      sum.factors[0].method == METHOD_TOTP && sum.factors[0].verified &&
		      sum.factors[0].by_admin && sum.factors[0].params.digits == 6 &&
		      sum.factors[0].params.period == 30 && sum.factors[0].added > 0 &&
		      sum.factors[0].last_used == 0 && sum.factors[0].dest[0] == '\0',
	      "the first app");
	CHECK(strcmp(sum.factors[1].label, "tablet") == 0 && sum.factors[2].label[0] == '\0',
	      "labels");
	CHECK(store_summary_methods(&sum) == METHOD_TOTP &&
		      store_summary_count(&sum, METHOD_TOTP) == 3,
	      "methods");

	code_of(&t2, at->now, c);
	r = store_verify_totp(host, hc, "alice", c, at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_OK && vr.factor == 2 && vr.step > 0, "%d %d %u", r,
	      vr.outcome, vr.factor);
	r = store_verify_totp(host, hc, "alice", c, at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_REPLAY && vr.fail_count == 1 && vr.factor == 0,
	      "%d %d", r, vr.outcome);
	code_of(&t1, at->now, c);
	r = store_verify_totp(host, hc, "alice", c, at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_OK && vr.factor == 1 && vr.fail_count == 0, "%d %d %u",
	      r, vr.outcome, vr.factor);
	r = store_verify_totp(host, hc, "alice", "12345x", at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_WRONG, "%d %d", r, vr.outcome);
	r = store_verify_totp(host, hc, "alice", "\xe9\xe9\xe9", at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_WRONG, "Latin-1: %d %d", r, vr.outcome);

	/* The host proved an app just now: it may change the apps. */
	(void)store_summary(host, "alice", &sum, &err);
	code_of(&t4, at->now, c);
	r = store_enroll_totp(host, hc, "alice", &sum.basis, &t4, NULL, 0, c, at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_TOO_MANY, "%d %d", r, vr.outcome);
	r = store_enroll_totp(host, hc, "alice", &sum.basis, &t4, "new one", 3, c, at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_OK && vr.factor == 4, "%d %d %u", r, vr.outcome,
	      vr.factor);
	r = store_enroll_totp(host, hc, "alice", &sum.basis, &t5, NULL, 1, c, at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_WRONG, "%d %d", r, vr.outcome);
	code_of(&t5, at->now, c);
	r = store_enroll_totp(host, hc, "alice", &sum.basis, &t5, NULL, 1, c, at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_NOT_ENROLLED, "a stale basis: %d %d", r, vr.outcome);

	(void)store_summary(host, "alice", &sum, &err);
	CHECK(sum.n_factors == 3 && sum.factors[2].id == 4 &&
		      strcmp(sum.factors[2].label, "new one") == 0 &&
		      sum.factors[2].last_used > 0 && !sum.factors[2].by_admin,
	      "in place of the third");
	old = sum.basis;
	r = store_remove_factor(host, "alice", &sum.basis, 2, false, 0, &err);
	CHECK(r == 0, "%d", r);
	r = store_remove_factor(host, "alice", &old, 1, false, 0, &err);
	CHECK(r == -ESTALE, "%d", r);
	(void)store_summary(host, "alice", &sum, &err);
	r = store_remove_factor(host, "alice", &sum.basis, 99, false, 0, &err);
	CHECK(r == -ENOENT, "%d", r);
	r = store_label_factor(host, "alice", 1, "my (old) phone", &err);
	CHECK(r == 0, "%d", r);
	r = store_label_factor(host, "alice", 99, "x", &err);
	CHECK(r == -ENOENT, "%d", r);
	r = store_label_factor(host, "alice", 0, "x", &err);
	CHECK(r == -ENOENT, "%d", r);
	/* Removal is a host's (mfa-setup's), not the administrator's. */
	r = store_remove_factor(admin, "alice", &sum.basis, 1, false, 0, &err);
	CHECK(r == -EIO && strstr(err.msg, "42501") != NULL, "the admin's role: %d", r);
	store_summary_wipe(&sum);
}

/* Codes sent: an address and a number provisioned, a login code booked
 * and its limits; SMS enrollment from nothing; an unbooking that removes
 * what it made; an administrator's code. */
static void sent(struct store *host, const struct mfa_config *hc, struct store *admin,
		 const struct mfa_config *ac, struct store_login *at)
{
	const struct store_factor *email, *sms, *unverified;
	struct store_summary sum;
	struct verify_result vr;
	struct email_booking bk;
	struct code_target to;
	bool sending;
	long wait;
	int r;

	r = store_provision_dest(admin, ac, "alice", METHOD_EMAIL, "alice@example.org", "work",
				 PROVISION_NEW, 0, &err);
	CHECK(r == 0, "%d", r);
	r = store_provision_dest(admin, ac, "alice", METHOD_EMAIL, "alice@example.org", NULL,
				 PROVISION_ADD, 0, &err);
	CHECK(r == -EEXIST, "%d", r);
	r = store_provision_dest(admin, ac, "alice", METHOD_SMS, "+15551230100", NULL,
				 PROVISION_ADD, 0, &err);
	CHECK(r == 0, "%d", r);
	(void)store_summary(host, "alice", &sum, &err);
	email = store_summary_nth(&sum, METHOD_SENT, 0);
	sms = store_summary_nth(&sum, METHOD_SENT, 1);
	CHECK(email != NULL && email->method == METHOD_EMAIL &&
		      strcmp(email->dest, "alice@example.org") == 0 &&
		      strcmp(email->label, "work") == 0,
	      "the address");
	CHECK(sms != NULL && sms->method == METHOD_SMS && strcmp(sms->dest, "+15551230100") == 0,
	      "the number");
	if (email == NULL)
		return;
	to = (struct code_target){ METHOD_EMAIL, email->id, NULL };
	r = store_code_book(host, hc, "alice", EMAIL_CODE_LOGIN, NULL, &to, 0, &bk, &wait, &sending,
			    &err);
	CHECK(r == 0 && bk.at > 0 && bk.record_existed, "%d", r);
	r = store_code_sent(host, hc, "alice", NULL, &to, "2468024", &bk, 0, &err);
	CHECK(r == 0, "%d", r);
	r = store_code_book(host, hc, "alice", EMAIL_CODE_LOGIN, NULL, &to, 0, &bk, &wait, &sending,
			    &err);
	CHECK(r == -EAGAIN && wait > 0 && wait <= 30 && !sending, "%d %ld", r, wait);
	r = store_verify_sent(host, hc, "alice", "2468024", email->id + 100, at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_NOT_ENROLLED, "another factor: %d", vr.outcome);
	r = store_verify_sent(host, hc, "alice", "2468024", email->id, at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_OK && vr.factor == email->id, "%d %d", r, vr.outcome);
	to = (struct code_target){ METHOD_SMS, email->id, NULL };
	r = store_code_book(host, hc, "alice", EMAIL_CODE_LOGIN, NULL, &to, 0, &bk, &wait, &sending,
			    &err);
	CHECK(r == -ESTALE, "an address by sms: %d", r);

	(void)store_summary(host, "bob", &sum, &err);
	CHECK(!sum.exists && sum.n_factors == 0 && sum.basis.version == 0, "bob has nothing");
	to = (struct code_target){ METHOD_SMS, 0, "+4915112345678" };
	r = store_code_book(host, hc, "bob", EMAIL_CODE_ENROLL, &sum.basis, &to, 0, &bk, &wait,
			    &sending, &err);
	CHECK(r == 0 && !bk.record_existed && bk.enroll_codes == 0, "%d", r);
	r = store_code_sent(host, hc, "bob", &sum.basis, &to, "4711471", &bk, 0, &err);
	CHECK(r == 0, "%d", r);
	(void)store_summary(host, "bob", &sum, &err);
	unverified = store_summary_unverified(&sum, METHOD_SMS);
	CHECK(unverified != NULL && strcmp(unverified->dest, "+4915112345678") == 0 &&
		      sum.code.pending && sum.code.factor == unverified->id && sum.code.expires > 0,
	      "a number to prove");
	r = store_enroll_sent(host, hc, "bob", &sum.basis, METHOD_SMS, "+4915112345678", "mobile",
			      0, "4711470", at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_WRONG && vr.fail_count == 1, "%d %d", r, vr.outcome);
	r = store_enroll_sent(host, hc, "bob", &sum.basis, METHOD_SMS, "+4915112345678", "mobile",
			      0, "4711471", at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_OK && vr.factor == 1 && vr.fail_count == 1, "%d %d %u",
	      r, vr.outcome, vr.factor);
	(void)store_summary(host, "bob", &sum, &err);
	CHECK(sum.n_factors == 1 && sum.factors[0].verified &&
		      strcmp(sum.factors[0].label, "mobile") == 0 &&
		      store_summary_methods(&sum) == METHOD_SMS && !sum.code.pending,
	      "bob's number");
	r = store_skip(host, "bob", &sum.basis, true, 0, &err);
	CHECK(r == 0, "%d", r);

	(void)store_summary(host, "carol", &sum, &err);
	to = (struct code_target){ METHOD_EMAIL, 0, "carol@example.org" };
	r = store_code_book(host, hc, "carol", EMAIL_CODE_ENROLL, &sum.basis, &to, 0, &bk, &wait,
			    &sending, &err);
	CHECK(r == 0, "%d", r);
	r = store_code_unbook(host, "carol", &bk, &err);
	CHECK(r == 0, "%d", r);
	(void)store_summary(host, "carol", &sum, &err);
	CHECK(!sum.exists, "the booking's row went");
	to = (struct code_target){ METHOD_SMS, 0, "+1 555" };
	r = store_code_book(host, hc, "carol", EMAIL_CODE_ENROLL, &sum.basis, &to, 0, &bk, &wait,
			    &sending, &err);
	CHECK(r == -EINVAL, "%d", r);

	r = store_code_by_admin(admin, ac, "dave", METHOD_SMS, "+15551239999", "123456", false, 0,
				&err);
	CHECK(r == 0, "%d", r);
	(void)store_summary(admin, "dave", &sum, &err);
	CHECK(sum.n_factors == 1 && !sum.factors[0].verified && sum.factors[0].by_admin &&
		      sum.code.pending,
	      "the admin's code");
	r = store_enroll_sent(host, hc, "dave", &sum.basis, METHOD_SMS, "+15551239999", NULL, 0,
			      "123456", at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_OK, "%d %d", r, vr.outcome);
	r = store_code_by_admin(admin, ac, "dave", METHOD_SMS, "+15551238888", "123456", false, 0,
				&err);
	CHECK(r == -ESTALE, "%d", r);
	store_summary_wipe(&sum);
}

/* mfactl migrate's writer: a record's list, again, replaced. */
static void import(struct store *admin)
{
	struct store_summary sum;
	struct mfa_record rec;
	bool replaced;
	int r;

	memset(&rec, 0, sizeof(rec));
	(void)snprintf(rec.user, sizeof(rec.user), "erin");
	rec.n_factors = 3;
	rec.factors[0].id = 7;
	rec.factors[0].method = METHOD_TOTP;
	(void)snprintf(rec.factors[0].label, sizeof(rec.factors[0].label), "phone");
	rec.factors[0].verified = true;
	rec.factors[0].added = 1790000000;
	app(&rec.factors[0].totp, 1);
	rec.factors[0].totp.last_step = 12345;
	rec.factors[1].id = 8;
	rec.factors[1].method = METHOD_EMAIL;
	(void)snprintf(rec.factors[1].dest, sizeof(rec.factors[1].dest), "o'brien@example.org");
	rec.factors[1].verified = true;
	rec.factors[1].by_admin = true;
	rec.factors[1].added = 1790000001;
	rec.factors[2].id = 9;
	rec.factors[2].method = METHOD_SMS;
	(void)snprintf(rec.factors[2].dest, sizeof(rec.factors[2].dest), "+15551230100");
	rec.skip_since = 1790000002;
	r = pg_import_record(pg_store_of(admin), &rec, false, &replaced, &err);
	CHECK(r == 0 && !replaced, "%d", r);
	r = pg_import_record(pg_store_of(admin), &rec, false, &replaced, &err);
	CHECK(r == -EEXIST, "%d", r);
	r = pg_import_record(pg_store_of(admin), &rec, true, &replaced, &err);
	CHECK(r == 0 && replaced, "%d", r);
	(void)store_summary(admin, "erin", &sum, &err);
	CHECK(sum.n_factors == 3 && sum.factors[0].id == 4 && sum.factors[0].added == 1790000000 &&
		      strcmp(sum.factors[0].label, "phone") == 0 &&
		      strcmp(sum.factors[1].dest, "o'brien@example.org") == 0 &&
		      sum.factors[1].by_admin && !sum.factors[2].verified &&
		      sum.skip_since == 1790000002,
	      "erin's factors, new ids (%u)", sum.n_factors);
	/* A quote is escaped, and the database refuses the label. */
	(void)snprintf(rec.factors[0].label, sizeof(rec.factors[0].label), "bad\"label");
	r = pg_import_record(pg_store_of(admin), &rec, true, &replaced, &err);
	CHECK(r == -EINVAL, "%d", r);
	secure_wipe(&rec, sizeof(rec));
	store_summary_wipe(&sum);
}

/* mfactl status's snapshot, resets, unlock, forget all devices, db check. */
static void admin_ops(struct store *host, struct store *admin)
{
	struct store_reset_what nothing = { 0, "nothing" }, old = { 0, "my (old) phone" },
				email = { METHOD_EMAIL, NULL };
	struct store_reset_result rr;
	struct store_summary sum;
	unsigned u;
	int r, n = 0;

	r = store_snapshot(admin, &err);
	CHECK(r == 0, "%d", r);
	(void)store_list(admin, count_user, &n, &err);
	CHECK(n == 4, "alice, bob, dave and erin, once each: %d", n);
	r = store_summary(admin, "erin", &sum, &err);
	CHECK(r == 0 && sum.n_factors == 3 && sum.factors[2].method == METHOD_SMS, "erin");
	r = store_summary(admin, "alice", &sum, &err);
	CHECK(r == 0 && sum.n_factors == 4, "alice: %u", sum.n_factors);
	r = store_summary(admin, "nobody", &sum, &err);
	CHECK(r == 0 && !sum.exists && sum.n_factors == 0, "nobody");
	r = store_summary(admin, "bob", &sum, &err);
	CHECK(r == 0 && sum.skip_since > 0 && sum.fail_count == 1, "bob");

	r = store_reset(admin, "alice", &nothing, &rr, &err);
	CHECK(r == -ENOENT, "%d", r);
	r = store_reset(admin, "alice", &old, &rr, &err);
	CHECK(r == 0 && rr.had_factor && rr.factors == 1 &&
		      strcmp(rr.notify, "alice@example.org") == 0,
	      "%d", r);
	r = store_reset(admin, "alice", &email, &rr, &err);
	CHECK(r == 0 && rr.had_factor && rr.factors == 1, "%d", r);
	r = store_reset(admin, "alice", NULL, &rr, &err);
	CHECK(r == 0 && rr.had_state && rr.factors == 2 && rr.notify[0] == '\0', "%d %u", r,
	      rr.factors);
	r = store_unlock(admin, "bob", &u, &err);
	CHECK(r == 0 && u == 1, "%d %u", r, u);
	r = store_unlock(admin, "zoe", &u, &err);
	CHECK(r == -ENOENT, "%d", r);
	r = store_reset_all(host, &u, &err);
	CHECK(r == -EIO && strstr(err.msg, "42501") != NULL, "a host's: %d", r);
	r = store_reset_all(admin, &u, &err);
	CHECK(r == 0 && u == 3, "%d %u", r, u);
	n = 0;
	r = store_db_check(admin, &u, count_problem, &n, &err);
	CHECK(r == 0 && n == 0 && u == 9, "%d %d %u", r, n, u);
	store_summary_wipe(&sum);
}

/* Whether role may run sql: the SQLSTATE it fails with, "" if it ran. */
static const char *refusal(struct store *st, const char *sql)
{
	static struct pg_failure why;
	struct mfa_error ignored = { "" };
	PGresult *res = NULL;
	int r = pg_exec(pg_store_of(st), "test", sql, 0, NULL, 10, PG_EXEC_KEEP_ON_ERROR, &res,
			&why, &ignored);

	if (r == 0) {
		pg_store_of(st)->pq.clear(res);
		return "";
	}
	return why.sqlstate;
}

/* A fresh set of n codes, canonical, and pointers to them. */
static void make_set(unsigned n, char canon[][RECOVERY_CANONICAL_MAX + 1], const char **ptrs)
{
	char shown[RECOVERY_CODES_MAX][RECOVERY_CODE_TEXT];

	if (recovery_codes_make(n, shown, canon) < 0)
		abort();
	for (unsigned i = 0; i < n; i++)
		ptrs[i] = canon[i];
}

static unsigned recovery_left(struct store *st, const char *user, unsigned *made,
			      enum store_recovery_source *source, unsigned *bypass_uses)
{
	struct store_summary sum;
	unsigned left;

	(void)store_summary(st, user, &sum, &err);
	left = sum.recovery.left;
	if (made != NULL)
		*made = sum.recovery.made;
	if (source != NULL)
		*source = sum.recovery.source;
	if (bypass_uses != NULL)
		*bypass_uses = sum.bypass.uses_left;
	store_summary_wipe(&sum);
	return left;
}

/* mfactl migrate's writer with a record of version 6: the set's and the
 * bypass code's hashes copied as the files store keeps them (a salt and
 * recovery_code_hash() each), so that the codes made there work here once
 * and a code used there does not. */
static void migrated(struct store *host, const struct mfa_config *hc, struct store *hostb,
		     const struct mfa_config *hbc, struct store *admin, struct store_login *at)
{
	static const char *const kept[] = { "k7m9qrst2345", "12345670", "abcdefghjkmn" };
	struct mfa_record rec;
	struct verify_result vr;
	enum store_recovery_source source;
	unsigned made, uses;
	bool replaced;
	int r;

	memset(&rec, 0, sizeof(rec));
	(void)snprintf(rec.user, sizeof(rec.user), "uma");
	rec.n_factors = 1;
	rec.factors[0].id = 1;
	rec.factors[0].method = METHOD_TOTP;
	rec.factors[0].verified = true;
	rec.factors[0].added = 1790000000;
	app(&rec.factors[0].totp, 21);
	rec.recovery.n = 3;
	rec.recovery.source = RECORD_CODES_IMPORTED;
	rec.recovery.since = 1790000000;
	for (unsigned i = 0; i < 3; i++) {
		memset(rec.recovery.codes[i].salt, (int)(0x40 + i), EMAIL_SALT_LEN);
		r = recovery_code_hash(rec.recovery.codes[i].salt, kept[i],
				       rec.recovery.codes[i].hash);
		CHECK(r == 0, "the hash");
	}
	rec.recovery.used[2] = 1790000100;
	rec.bypass.set = true;
	memset(rec.bypass.code.salt, 0x7e, EMAIL_SALT_LEN);
	r = recovery_code_hash(rec.bypass.code.salt, "pqrstuvwxyz2", rec.bypass.code.hash);
	CHECK(r == 0, "the bypass hash");
	rec.bypass.uses_left = 1;
	rec.bypass.expires = time(NULL) + 600;
	rec.bypass.made = 1790000000;
	r = pg_import_record(pg_store_of(admin), &rec, false, &replaced, &err);
	CHECK(r == 0 && !replaced, "%d", r);
	CHECK(recovery_left(hostb, "uma", &made, &source, &uses) == 2 && made == 3 &&
		      source == RECOVERY_IMPORTED && uses == 1,
	      "uma's set and bypass code: %u %d %u", made, source, uses);
	r = store_verify_backup(host, hc, "uma", kept[2], at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_WRONG, "used on the files store: %d", vr.outcome);
	r = store_verify_backup(host, hc, "uma", kept[1], at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_OK && vr.backup == BACKUP_RECOVERY &&
		      vr.remaining == 1,
	      "a scratch code made there: %d %u", vr.outcome, vr.remaining);
	r = store_verify_backup(hostb, hbc, "uma", kept[1], at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_WRONG, "once: %d", vr.outcome);
	r = store_verify_backup(hostb, hbc, "uma", "pqrstuvwxyz2", at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_OK && vr.backup == BACKUP_BYPASS && vr.remaining == 0,
	      "the bypass code: %d", vr.outcome);
	/* A set without a source is no record's. */
	rec.recovery.source = RECORD_CODES_NONE;
	r = pg_import_record(pg_store_of(admin), &rec, true, &replaced, &err);
	CHECK(r == -EINVAL, "%d", r);
	/* Replaced by a record without them: the database's go. */
	rec.recovery.n = 0;
	rec.bypass.set = false;
	r = pg_import_record(pg_store_of(admin), &rec, true, &replaced, &err);
	CHECK(r == 0 && replaced, "%d", r);
	CHECK(recovery_left(hostb, "uma", &made, NULL, &uses) == 0 && made == 0 && uses == 0,
	      "none now");
	secure_wipe(&rec, sizeof(rec));
}

/* Version 9: recovery codes made by a host on its own fresh proof only,
 * each logging in once from any host, wrong ones counted and locking
 * across hosts, a backup code as a proof, the basis an enrollment hands
 * back, bypass codes used up and expired, the lockout notice claimed by
 * one host, what a reset drops, and what a host may not touch. */
static void backups(struct store *host, const struct mfa_config *hc, struct store *hostb,
		    const struct mfa_config *hbc, struct store *admin, const struct mfa_config *ac,
		    struct store_login *at)
{
	char set[RECOVERY_CODES_MAX][RECOVERY_CANONICAL_MAX + 1], c[16];
	char set2[RECOVERY_CODES_MAX][RECOVERY_CANONICAL_MAX + 1];
	char set3[RECOVERY_CODES_MAX][RECOVERY_CANONICAL_MAX + 1];
	const char *codes[RECOVERY_CODES_MAX], *codes2[RECOVERY_CODES_MAX];
	const char *codes3[RECOVERY_CODES_MAX];
	struct store_summary sum;
	struct store_basis basis, stale, proved;
	struct verify_result vr;
	struct email_booking bk;
	struct code_target to;
	struct mfa_totp t1, t2, t3;
	struct store_reset_what totp_only = { METHOD_TOTP, NULL };
	struct store_reset_result rr;
	enum store_recovery_source source;
	unsigned made, uses, u;
	bool replaced, due, had, sending;
	long wait;
	int r;

	app(&t1, 11), app(&t2, 12), app(&t3, 13);
	make_set(10, set, codes);
	make_set(3, set2, codes2);
	make_set(2, set3, codes3);

	/* No verified factor: no set, nothing to bypass, nothing to check. */
	r = store_recovery_admin(admin, "rita", codes, 10, RECOVERY_ADMIN, at->now, &err);
	CHECK(r == -ENOENT, "%d", r);
	r = store_bypass_new(admin, "rita", codes2[0], 1, at->now + 3600, at->now, &err);
	CHECK(r == -ENOENT, "%d", r);
	r = store_verify_backup(host, hc, "rita", codes[0], at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_NOT_ENROLLED && vr.fail_count == 0, "%d %d", r,
	      vr.outcome);

	r = store_provision_totp(admin, ac, "rita", &t1, NULL, PROVISION_NEW, 0, &replaced, &err);
	CHECK(r == 0, "%d", r);
	(void)store_summary(host, "rita", &sum, &err);
	CHECK(sum.recovery.made == 0 && sum.recovery.source == RECOVERY_NONE &&
		      sum.bypass.uses_left == 0 && sum.bypass.expires == 0,
	      "no set yet");
	basis = sum.basis;
	/* A basis without a proof of this host's. */
	r = store_recovery_new(host, "rita", &basis, codes, 10, at->now, &err);
	CHECK(r == -EPERM, "no proof: %d", r);
	code_of(&t1, at->now, c);
	r = store_prove(host, hc, "rita", 0, c, at, &vr, &proved, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_OK && strcmp(proved.proof, "database") == 0, "%d %d",
	      r, vr.outcome);
	stale = proved;
	stale.version += 1000;
	r = store_recovery_new(host, "rita", &stale, codes, 10, at->now, &err);
	CHECK(r == -ESTALE, "a stale basis: %d", r);
	r = store_recovery_new(hostb, "rita", &proved, codes, 10, at->now, &err);
	CHECK(r == -EPERM, "another host's proof: %d", r);
	r = store_recovery_new(host, "rita", &proved, codes, 10, at->now, &err);
	CHECK(r == 0, "%d", r);
	(void)store_summary(hostb, "rita", &sum, &err);
	CHECK(sum.recovery.made == 10 && sum.recovery.left == 10 &&
		      sum.recovery.source == RECOVERY_USER && sum.recovery.since > 0 &&
		      sum.n_factors == 1 && store_basis_same(&sum.basis, &proved),
	      "the set: %u %u %d", sum.recovery.made, sum.recovery.left, sum.recovery.source);

	/* A code once, from any host; a spent one is wrong elsewhere. */
	r = store_verify_backup(hostb, hbc, "rita", codes[0], at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_OK && vr.backup == BACKUP_RECOVERY &&
		      vr.remaining == 9 && vr.fail_count == 0,
	      "%d %d %d %u", r, vr.outcome, vr.backup, vr.remaining);
	(void)store_summary(host, "rita", &sum, &err);
	CHECK(strstr(sum.last_host, "host_b@") == sum.last_host && sum.last_login > 0 &&
		      strcmp(sum.last_service, "sshd") == 0 && sum.recovery.left == 9,
	      "the login recorded: %s", sum.last_host);
	r = store_verify_backup(host, hc, "rita", codes[0], at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_WRONG && vr.fail_count == 1 &&
		      vr.backup == BACKUP_NONE,
	      "spent, on host a: %d %d %u", r, vr.outcome, vr.fail_count);
	/* Wrong ones count with the TOTP failures, across hosts, to a lock. */
	r = store_verify_backup(host, hc, "rita", "not a code", at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_WRONG && vr.fail_count == 2, "%d %d %u", r, vr.outcome,
	      vr.fail_count);
	r = store_verify_backup(hostb, hbc, "rita", codes2[0], at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_WRONG && vr.fail_count == 3, "%d %d %u", r, vr.outcome,
	      vr.fail_count);
	r = store_verify_totp(host, hc, "rita", "000000", at, &vr, &err);
	CHECK(r == 0 && vr.fail_count == 4, "a TOTP failure: %u", vr.fail_count);
	r = store_verify_backup(hostb, hbc, "rita", "12345678", at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_WRONG && vr.fail_count == 5 && vr.locked_now,
	      "locked: %d %d %u %d", r, vr.outcome, vr.fail_count, vr.locked_now);
	r = store_verify_backup(host, hc, "rita", codes[1], at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_LOCKED, "a right code while locked: %d", vr.outcome);
	CHECK(recovery_left(hostb, "rita", NULL, NULL, NULL) == 9, "not spent while locked");

	/* One host of two mails the notice. */
	r = store_lock_notice_due(hostb, "rita", at->now, 3600, &due, &err);
	CHECK(r == 0 && due, "host b claims it: %d", r);
	r = store_lock_notice_due(host, "rita", at->now, 3600, &due, &err);
	CHECK(r == 0 && !due, "host a does not: %d", r);
	r = store_lock_notice_due(hostb, "rita", at->now, 3600, &due, &err);
	CHECK(r == 0 && !due, "nor host b again: %d", r);
	r = store_lock_notice_due(host, "nobody", at->now, 3600, &due, &err);
	CHECK(r == 0 && !due, "no state, no lock: %d", r);
	r = store_lock_notice_due(host, "rita", at->now, 10, &due, &err);
	CHECK(r == -EINVAL && !due, "an interval below notify.lockout_interval's: %d", r);
	r = store_unlock(admin, "rita", &u, &err);
	CHECK(r == 0 && u == 5, "%d %u", r, u);

	/* The typed form is the module's to make canonical: upper case or
	 * dashes are no code here. */
	r = store_verify_backup(host, hc, "rita", "ABCD-EFGH-JKMN", at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_WRONG && vr.fail_count == 1, "%d", vr.outcome);
	r = store_verify_backup(host, hc, "rita", codes[1], at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_OK && vr.remaining == 8 && vr.fail_count == 0,
	      "after the unlock: %d %u", vr.outcome, vr.remaining);

	/* A recovery code as the proof for a new set, on host b. */
	r = store_prove(hostb, hbc, "rita", STORE_FACTOR_BACKUP, codes[2], at, &vr, &proved, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_OK && vr.backup == BACKUP_RECOVERY &&
		      vr.remaining == 7 && strcmp(proved.proof, "database") == 0,
	      "%d %d", r, vr.outcome);
	r = store_recovery_new(hostb, "rita", &proved, codes2, 3, at->now, &err);
	CHECK(r == 0, "a backup code is a strong proof: %d", r);
	r = store_verify_backup(host, hc, "rita", codes[3], at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_WRONG, "the old set is gone: %d", vr.outcome);
	r = store_prove(host, hc, "rita", STORE_FACTOR_BACKUP, codes[4], at, &vr, &proved, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_WRONG && proved.proof[0] == '\0',
	      "no proof by an old code: %d", vr.outcome);
	CHECK(recovery_left(hostb, "rita", &made, &source, NULL) == 3 && made == 3 &&
		      source == RECOVERY_USER,
	      "the new set");
	r = store_recovery_admin(admin, "rita", codes3, 2, RECOVERY_IMPORTED, at->now, &err);
	CHECK(r == 0, "%d", r);
	CHECK(recovery_left(host, "rita", &made, &source, NULL) == 2 && made == 2 &&
		      source == RECOVERY_IMPORTED,
	      "the admin's");
	r = store_recovery_admin(host, "rita", codes3, 2, RECOVERY_ADMIN, at->now, &err);
	CHECK(r == -EIO && strstr(err.msg, "42501") != NULL, "a host's: %d", r);

	/* The helpdesk's bypass code: two uses, then used up. */
	r = store_bypass_new(host, "rita", codes[5], 2, at->now + 3600, at->now, &err);
	CHECK(r == -EIO && strstr(err.msg, "42501") != NULL, "a host's: %d", r);
	r = store_bypass_new(admin, "rita", codes[5], 2, at->now + 3600, at->now, &err);
	CHECK(r == 0, "%d", r);
	(void)store_summary(host, "rita", &sum, &err);
	CHECK(sum.bypass.uses_left == 2 && sum.bypass.expires == at->now + 3600 &&
		      sum.bypass.made > 0 && store_bypass_outstanding(&sum, at->now) &&
		      sum.recovery.made == 2,
	      "outstanding: %u %lld", sum.bypass.uses_left, (long long)sum.bypass.expires);
	r = store_verify_backup(host, hc, "rita", codes[5], at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_OK && vr.backup == BACKUP_BYPASS && vr.remaining == 1,
	      "%d %d %u", vr.outcome, vr.backup, vr.remaining);
	r = store_verify_backup(hostb, hbc, "rita", codes[5], at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_OK && vr.backup == BACKUP_BYPASS && vr.remaining == 0,
	      "%d %d %u", vr.outcome, vr.backup, vr.remaining);
	r = store_verify_backup(host, hc, "rita", codes[5], at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_EXPIRED && vr.fail_count == 1, "used up: %d %u",
	      vr.outcome, vr.fail_count);
	/* One that expires. */
	r = store_bypass_new(admin, "rita", codes[6], 5, time(NULL) + 2, time(NULL), &err);
	CHECK(r == 0, "%d", r);
	sleep(3);
	r = store_verify_backup(hostb, hbc, "rita", codes[6], at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_EXPIRED && vr.fail_count == 2, "expired: %d %u",
	      vr.outcome, vr.fail_count);
	r = store_bypass_revoke(admin, "rita", time(NULL), &had, &err);
	CHECK(r == 0 && !had, "an expired one was not outstanding: %d", r);
	r = store_bypass_new(admin, "rita", codes[7], 1, time(NULL) + 600, time(NULL), &err);
	CHECK(r == 0, "%d", r);
	r = store_bypass_revoke(admin, "rita", time(NULL), &had, &err);
	CHECK(r == 0 && had, "revoked: %d", r);
	r = store_bypass_revoke(admin, "rita", time(NULL), &had, &err);
	CHECK(r == 0 && !had, "again: %d", r);
	r = store_verify_backup(host, hc, "rita", codes[7], at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_WRONG, "a revoked code: %d", vr.outcome);

	/* The host reads no table of them, and calls no admin function. */
	CHECK(strcmp(refusal(host, "SELECT * FROM pam_mfa.recovery_codes"), "42501") == 0,
	      "recovery_codes");
	CHECK(strcmp(refusal(host, "SELECT * FROM pam_mfa.recovery_sets"), "42501") == 0,
	      "recovery_sets");
	CHECK(strcmp(refusal(host, "SELECT * FROM pam_mfa.bypass_codes"), "42501") == 0,
	      "bypass_codes");
	CHECK(strcmp(refusal(host, "SELECT pam_mfa.bypass_revoke('rita')"), "42501") == 0,
	      "bypass_revoke");
	CHECK(strcmp(refusal(admin, "SELECT * FROM pam_mfa.verify_backup('rita', 'x', 's', 'r')"),
		     "42501") == 0,
	      "the admin logs in nobody");

	/* A reset that leaves no verified factor drops the set and the code. */
	r = store_bypass_new(admin, "rita", codes[8], 1, time(NULL) + 600, time(NULL), &err);
	CHECK(r == 0, "%d", r);
	r = store_reset(admin, "rita", &totp_only, &rr, &err);
	CHECK(r == 0 && rr.had_factor, "%d", r);
	CHECK(recovery_left(hostb, "rita", &made, &source, &uses) == 0 && made == 0 &&
		      source == RECOVERY_NONE && uses == 0,
	      "dropped with the last factor: %u %u", made, uses);
	r = store_verify_backup(host, hc, "rita", codes3[0], at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_NOT_ENROLLED, "%d", vr.outcome);

	/* An enrollment at login hands back a basis its set may use; an app
	 * in place of the only app keeps the set; an address added after an
	 * app's proof keeps the app's proof for the next set. */
	(void)store_summary(host, "sam", &sum, &err);
	code_of(&t2, at->now, c);
	r = store_enroll_totp(host, hc, "sam", &sum.basis, &t2, NULL, 0, c, at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_OK && vr.basis.version > 0 &&
		      strcmp(vr.basis.proof, "database") == 0,
	      "%d %d", r, vr.outcome);
	basis = vr.basis;
	(void)store_summary(hostb, "sam", &sum, &err);
	CHECK(store_basis_same(&sum.basis, &basis), "the basis after it");
	r = store_recovery_new(hostb, "sam", &basis, codes, 10, at->now, &err);
	CHECK(r == -EPERM, "not on host b: %d", r);
	r = store_recovery_new(host, "sam", &basis, codes, 10, at->now, &err);
	CHECK(r == 0, "the enrollment's set: %d", r);
	code_of(&t3, at->now, c);
	r = store_enroll_totp(host, hc, "sam", &basis, &t3, NULL, vr.factor, c, at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_OK, "the app replaced: %d %d", r, vr.outcome);
	CHECK(recovery_left(hostb, "sam", &made, NULL, NULL) == 10 && made == 10,
	      "a replacement keeps the set");
	basis = vr.basis;
	to = (struct code_target){ METHOD_EMAIL, 0, "sam@example.org" };
	r = store_code_book(host, hc, "sam", EMAIL_CODE_ENROLL, &basis, &to, 0, &bk, &wait,
			    &sending, &err);
	CHECK(r == 0, "%d", r);
	r = store_code_sent(host, hc, "sam", &basis, &to, "5432109", &bk, 0, &err);
	CHECK(r == 0, "%d", r);
	r = store_enroll_sent(host, hc, "sam", &basis, METHOD_EMAIL, "sam@example.org", NULL, 0,
			      "5432109", at, &vr, &err);
	CHECK(r == 0 && vr.outcome == VERIFY_OK && vr.basis.version != basis.version &&
		      strcmp(vr.basis.proof, "database") == 0,
	      "%d %d", r, vr.outcome);
	r = store_recovery_new(host, "sam", &vr.basis, codes2, 3, at->now, &err);
	CHECK(r == 0, "the app's proof goes on past the address: %d", r);
	r = store_remove_factor(host, "sam", &vr.basis, 0, false, 0, &err);
	CHECK(r == 0, "all removed: %d", r);
	CHECK(recovery_left(hostb, "sam", &made, NULL, NULL) == 0 && made == 0,
	      "a removal of all drops the set");
	migrated(host, hc, hostb, hbc, admin, at);
	r = store_reset_all(admin, &u, &err);
	CHECK(r == 0, "%d", r);
	secure_wipe(set, sizeof(set));
	secure_wipe(set2, sizeof(set2));
	secure_wipe(set3, sizeof(set3));
	store_summary_wipe(&sum);
}

int main(int argc, char **argv)
{
	struct mfa_config hc, ac, hbc;
	struct store *host, *admin, *hostb;
	struct store_login at = { 0, "sshd", "192.0.2.1" };
	int r;

	if (argc != 7) {
		fprintf(stderr, "usage: pg_store HOST-CONNINFO HOST-PASSWORD-FILE "
				"ADMIN-CONNINFO ADMIN-PASSWORD-FILE HOST-B-CONNINFO "
				"HOST-B-PASSWORD-FILE\n");
		return 2;
	}
	hc = config_for(argv[1], argv[2]);
	ac = config_for(argv[3], argv[4]);
	hbc = config_for(argv[5], argv[6]);
	r = store_open(&hc, STORE_READ_ONLY, &host, &err);
	CHECK(r == 0, "the host's: %d", r);
	if (r < 0)
		return 1;
	r = store_open(&ac, STORE_READ_ONLY, &admin, &err);
	CHECK(r == 0, "the admin's: %d", r);
	if (r < 0) {
		store_close(host);
		return 1;
	}
	/* The codes of the apps must stay in their step a while. */
	while (time(NULL) % 30 > 20)
		sleep(1);
	at.now = time(NULL);
	apps(host, &hc, admin, &ac, &at);
	sent(host, &hc, admin, &ac, &at);
	import(admin);
	admin_ops(host, admin);
	r = store_open(&hbc, STORE_READ_ONLY, &hostb, &err);
	CHECK(r == 0, "host b's: %d", r);
	if (r == 0) {
		while (time(NULL) % 30 > 20)
			sleep(1);
		at.now = time(NULL);
		backups(host, &hc, hostb, &hbc, admin, &ac, &at);
		store_close(hostb);
	}
	store_close(host);
	store_close(admin);
	printf("%d failed\n", failures);
	return failures ? 1 : 0;
}
