/* store.h's operations on the postgresql backend, through store.c and
 * store/pg.c, against a database the rig made (test_pg_store.py): what
 * the module, mfa-setup and mfactl see of version 8's functions, the
 * summary with its factors, every answer mapped to the contract's errors,
 * the snapshot, and pg_import_record's list.  No PAM, no mfactl.
 * Usage: pg_store HOST-CONNINFO HOST-PASSWORD-FILE ADMIN-CONNINFO
 * ADMIN-PASSWORD-FILE.  Each check is a line; exit status 1 if one failed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pg.h"
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
	CHECK(r == 0 && n == 0 && u == 8, "%d %d %u", r, n, u);
	store_summary_wipe(&sum);
}

int main(int argc, char **argv)
{
	struct mfa_config hc, ac;
	struct store *host, *admin;
	struct store_login at = { 0, "sshd", "192.0.2.1" };
	int r;

	if (argc != 5) {
		fprintf(stderr, "usage: pg_store HOST-CONNINFO HOST-PASSWORD-FILE "
				"ADMIN-CONNINFO ADMIN-PASSWORD-FILE\n");
		return 2;
	}
	hc = config_for(argv[1], argv[2]);
	ac = config_for(argv[3], argv[4]);
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
	store_close(host);
	store_close(admin);
	printf("%d failed\n", failures);
	return failures ? 1 : 0;
}
