/* Unit tests of the store's operations (store.h) on the files backend:
 * the contract every backend keeps, asked through the public interface
 * only, with codes from the same TOTP code as an app would show.  Several
 * apps, addresses and numbers per user; the basis's tag; the limits of
 * sent codes per method; resets by method, label and of everyone;
 * recovery and bypass codes, and lockout notices. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "files.h"
#include "recovery.h"
#include "secmem.h"
#include "store.h"
#include "totp.h"
#include "unit_helpers.h"

#define NOW ((time_t)1700000000)

struct fixture {
	char *dir;
	char *state_dir;
	struct mfa_config cfg;
	struct store *st;
	struct mfa_error err;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char *conf, text[1024];

	assert_non_null(f);
	f->dir = scratch_new();
	conf = path_join(f->dir, "pam_mfa.conf");
	f->state_dir = path_join(f->dir, "state");
	(void)snprintf(text, sizeof(text),
		       "state_dir = \"%s\";\nlockout = { attempts = 3; interval = 600; "
		       "unlock_after = 300; };\n",
		       f->state_dir);
	write_text(conf, text, 0600);
	assert_int_equal(config_load(conf, &f->cfg, &f->err), 0);
	/* The settings these tests count on, whatever the defaults. */
	f->cfg.factors_per_method = 3;
	f->cfg.email.code_ttl = 300;
	f->cfg.email.resend_after = 60;
	f->cfg.email.enroll_mails = 5;
	f->cfg.email.timeout = 10;
	f->cfg.sms.code_ttl = 120;
	f->cfg.sms.resend_after = 30;
	f->cfg.sms.enroll_messages = 2;
	f->cfg.sms.timeout = 20;
	assert_int_equal(store_open(&f->cfg, STORE_CREATE, &f->st, &f->err), 0);
	free(conf);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->st);
	config_free(&f->cfg);
	scratch_remove(f->dir);
	free(f->state_dir);
	free(f);
	return 0;
}

static void app(struct mfa_totp *t, unsigned char fill)
{
	memset(t, 0, sizeof(*t));
	t->params.algorithm = TOTP_SHA1;
	t->params.digits = 6;
	t->params.period = 30;
	t->secret_len = 20;
	memset(t->secret, fill, t->secret_len);
}

static void code_at(const struct mfa_totp *t, time_t when, char *out)
{
	assert_int_equal(totp_code_for_step(t->secret, t->secret_len, &t->params,
					    (uint64_t)when / t->params.period, out),
			 0);
}

/* The summary, and the proof of a factor that a change of a user who holds
 * one needs: given here as store_prove() would, so that the tests of the
 * operations need not each prove a code (test_proof does). */
static void summary(struct fixture *f, const char *user, struct store_summary *sum)
{
	if (store_summary(f->st, user, sum, &f->err) != 0)
		fail_msg("store_summary(%s): %s", user, f->err.msg);
	if (sum->basis.version != 0)
		assert_int_equal(files_proof_make((struct files_store *)f->st, user, NOW,
						  sum->basis.proof),
				 0);
}

static int64_t tag_of(struct fixture *f, const char *user)
{
	struct store_summary sum;

	summary(f, user, &sum);
	return sum.basis.version;
}

/* Enrolls app t for user at when, on the basis of a fresh summary. */
static enum verify_outcome enroll_app(struct fixture *f, const char *user, const struct mfa_totp *t,
				      const char *label, unsigned replaces, time_t when,
				      unsigned *id)
{
	struct store_login at = { when, "sshd", "" };
	struct store_summary sum;
	struct verify_result res;
	char code[16];

	summary(f, user, &sum);
	code_at(t, when, code);
	assert_int_equal(store_enroll_totp(f->st, &f->cfg, user, &sum.basis, t, label, replaces,
					   code, &at, &res, &f->err),
			 0);
	if (id != NULL)
		*id = res.factor;
	return res.outcome;
}

static enum verify_outcome login_app(struct fixture *f, const char *user, const struct mfa_totp *t,
				     time_t when, unsigned *id)
{
	struct store_login at = { when, "sshd", "192.0.2.1" };
	struct verify_result res;
	char code[16];

	code_at(t, when, code);
	assert_int_equal(store_verify_totp(f->st, &f->cfg, user, code, &at, &res, &f->err), 0);
	if (id != NULL)
		*id = res.outcome == VERIFY_OK ? res.factor : 0;
	return res.outcome;
}

/* Books and sends a code; 0 or the error of the booking. */
static int send_code(struct fixture *f, const char *user, enum email_code_use use,
		     const struct code_target *to, const char *code, time_t now)
{
	struct email_booking booking;
	struct store_summary sum;
	bool sending;
	long wait;
	int r;

	summary(f, user, &sum);
	r = store_code_book(f->st, &f->cfg, user, use, &sum.basis, to, now, &booking, &wait,
			    &sending, &f->err);
	if (r < 0)
		return r;
	assert_int_equal(store_code_sent(f->st, &f->cfg, user, &sum.basis, to, code, &booking, now,
					 &f->err),
			 0);
	return 0;
}

/* Proves dest of method with the code sent to it. */
static enum verify_outcome prove(struct fixture *f, const char *user, unsigned method,
				 const char *dest, const char *label, unsigned replaces,
				 const char *code, time_t now, unsigned *id)
{
	struct store_login at = { now, "mfa-setup", "" };
	struct store_summary sum;
	struct verify_result res;

	summary(f, user, &sum);
	assert_int_equal(store_enroll_sent(f->st, &f->cfg, user, &sum.basis, method, dest, label,
					   replaces, code, &at, &res, &f->err),
			 0);
	if (id != NULL)
		*id = res.factor;
	return res.outcome;
}

/* A user the store does not know: a summary with nothing, and no file. */
static void test_summary_of_nobody(void **state)
{
	struct fixture *f = *state;
	struct store_summary sum;

	summary(f, "alice", &sum);
	assert_false(sum.exists);
	assert_string_equal(sum.user, "alice");
	assert_int_equal(store_summary_methods(&sum), 0);
	assert_int_equal(sum.n_factors, 0);
	assert_int_equal(sum.basis.version, 0);
	assert_int_equal(store_summary(f->st, "../etc", &sum, &f->err), -EINVAL);
	assert_int_equal(dir_entry_count(f->state_dir), 0);
}

/* Enrollment: the store checks the proving code, and saves only on the
 * basis the user was shown; the proving code is spent. */
static void test_enroll_then_login(void **state)
{
	struct fixture *f = *state;
	struct store_login at = { NOW, "sshd", "192.0.2.1" };
	struct store_summary sum;
	struct verify_result res;
	struct mfa_totp t;
	unsigned id;
	char code[16];

	app(&t, 0x11);
	summary(f, "alice", &sum);
	assert_int_equal(store_enroll_totp(f->st, &f->cfg, "alice", &sum.basis, &t, NULL, 0,
					   "000000", &at, &res, &f->err),
			 0);
	if (res.outcome == VERIFY_OK) { /* 000000 may be right, once in 10^6 */
		skip();
	}
	assert_int_equal(res.outcome, VERIFY_WRONG);
	summary(f, "alice", &sum);
	assert_false(sum.exists);
	assert_int_equal(dir_entry_count(f->state_dir), 0);

	assert_int_equal(enroll_app(f, "alice", &t, "phone", 0, NOW, &id), VERIFY_OK);
	assert_int_equal(id, 1);
	summary(f, "alice", &sum);
	assert_true(sum.exists);
	assert_int_equal(store_summary_methods(&sum), METHOD_TOTP);
	assert_int_equal(sum.n_factors, 1);
	assert_int_equal(sum.factors[0].id, 1);
	assert_string_equal(sum.factors[0].label, "phone");
	assert_true(sum.factors[0].verified);
	assert_false(sum.factors[0].by_admin);
	assert_int_equal(sum.factors[0].added, NOW);
	assert_int_equal(sum.factors[0].params.digits, 6);
	assert_int_equal(sum.last_login, NOW);
	assert_string_equal(sum.last_service, "sshd");
	assert_true(sum.basis.version != 0);

	/* The code that proved the app is spent; the next step's is good once. */
	code_at(&t, NOW, code);
	assert_int_equal(store_verify_totp(f->st, &f->cfg, "alice", code, &at, &res, &f->err), 0);
	assert_int_equal(res.outcome, VERIFY_REPLAY);
	assert_int_equal(res.fail_count, 1);
	assert_int_equal(login_app(f, "alice", &t, NOW + 30, &id), VERIFY_OK);
	assert_int_equal(id, 1);
	assert_int_equal(login_app(f, "alice", &t, NOW + 30, NULL), VERIFY_REPLAY);
	summary(f, "alice", &sum);
	assert_int_equal(sum.factors[0].last_used, NOW + 30);
}

/* A basis from before another enrollment is refused, and saves nothing. */
static void test_stale_basis_refused(void **state)
{
	struct fixture *f = *state;
	struct store_login at = { NOW, "sshd", "" };
	struct store_summary before, after;
	struct verify_result res;
	struct mfa_totp first, second;
	char code[16];

	summary(f, "bob", &before);
	app(&first, 0x22);
	assert_int_equal(enroll_app(f, "bob", &first, NULL, 0, NOW, NULL), VERIFY_OK);

	app(&second, 0x33);
	code_at(&second, NOW, code);
	/* No basis is no enrollment: never an unchecked write. */
	assert_int_equal(store_enroll_totp(f->st, &f->cfg, "bob", NULL, &second, NULL, 0, code, &at,
					   &res, &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_STORE_ERROR);
	assert_int_equal(store_skip(f->st, "bob", NULL, false, NOW, &f->err), -EINVAL);
	assert_int_equal(store_enroll_totp(f->st, &f->cfg, "bob", &before.basis, &second, NULL, 0,
					   code, &at, &res, &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_NOT_ENROLLED);
	assert_int_equal(store_skip(f->st, "bob", &before.basis, true, NOW, &f->err), -ESTALE);
	assert_int_equal(store_skip(f->st, "bob", &before.basis, false, NOW, &f->err), -ESTALE);
	assert_int_equal(store_remove_factor(f->st, "bob", &before.basis, 1, false, NOW, &f->err),
			 -ESTALE);

	/* Still the first app: its next code works, the second's does not. */
	summary(f, "bob", &after);
	assert_false(store_basis_same(&before.basis, &after.basis));
	assert_int_equal(after.n_factors, 1);
	assert_int_equal(login_app(f, "bob", &second, NOW + 60, NULL), VERIFY_WRONG);
	assert_int_equal(login_app(f, "bob", &first, NOW + 60, NULL), VERIFY_OK);
}

static void test_skip_remembered(void **state)
{
	struct fixture *f = *state;
	struct store_summary sum;

	summary(f, "carol", &sum);
	assert_int_equal(store_skip(f->st, "carol", &sum.basis, false, NOW, &f->err), 0);
	summary(f, "carol", &sum);
	assert_false(sum.exists); /* a skip this time writes nothing */
	assert_int_equal(store_skip(f->st, "carol", &sum.basis, true, NOW, &f->err), 0);
	summary(f, "carol", &sum);
	assert_int_equal(sum.skip_since, NOW);
	/* A skip is no factor: the basis holds. */
	assert_int_equal(sum.basis.version, 0);
	assert_int_equal(store_skip(f->st, "carol", &sum.basis, true, NOW + 1, &f->err), 0);
}

/* Two apps: a code of either logs in, each app's steps are its own, and
 * a code an app accepted is a replay for it only. */
static void test_two_apps(void **state)
{
	struct fixture *f = *state;
	struct store_summary sum;
	struct mfa_totp phone, tablet;
	unsigned a, b, id;

	app(&phone, 0x41);
	app(&tablet, 0x42);
	assert_int_equal(enroll_app(f, "dora", &phone, "phone", 0, NOW, &a), VERIFY_OK);
	assert_int_equal(enroll_app(f, "dora", &tablet, "tablet", 0, NOW + 30, &b), VERIFY_OK);
	assert_true(a != b);
	summary(f, "dora", &sum);
	assert_int_equal(store_summary_count(&sum, METHOD_TOTP), 2);
	assert_string_equal(store_summary_factor(&sum, a)->label, "phone");
	assert_string_equal(store_summary_factor(&sum, b)->label, "tablet");
	assert_int_equal(store_summary_nth(&sum, METHOD_TOTP, 1)->id, b);

	/* The same step, from each app once. */
	assert_int_equal(login_app(f, "dora", &phone, NOW + 90, &id), VERIFY_OK);
	assert_int_equal(id, a);
	assert_int_equal(login_app(f, "dora", &tablet, NOW + 90, &id), VERIFY_OK);
	assert_int_equal(id, b);
	assert_int_equal(login_app(f, "dora", &phone, NOW + 90, NULL), VERIFY_REPLAY);
	assert_int_equal(login_app(f, "dora", &tablet, NOW + 90, NULL), VERIFY_REPLAY);
	summary(f, "dora", &sum);
	assert_int_equal(sum.fail_count, 2);
	assert_int_equal(store_summary_factor(&sum, a)->last_used, NOW + 90);
	/* The tablet's proving step is spent for the tablet, not the phone. */
	assert_int_equal(login_app(f, "dora", &tablet, NOW + 30, NULL), VERIFY_REPLAY);
	/* A right code of either forgives the failures. */
	assert_int_equal(login_app(f, "dora", &tablet, NOW + 120, NULL), VERIFY_OK);
	summary(f, "dora", &sum);
	assert_int_equal(sum.fail_count, 0);
	assert_int_equal(store_summary_factor(&sum, b)->last_used, NOW + 120);
	assert_int_equal(store_summary_factor(&sum, a)->last_used, NOW + 90);
	/* An older step of the phone, after a newer one of the tablet: the
	 * phone's own last step decides. */
	assert_int_equal(login_app(f, "dora", &phone, NOW + 95, NULL), VERIFY_REPLAY);
	assert_int_equal(login_app(f, "dora", &phone, NOW + 150, NULL), VERIFY_OK);
}

/* Removing one app leaves the other; removing all turns MFA off. */
static void test_remove_factor(void **state)
{
	struct fixture *f = *state;
	struct store_summary sum;
	struct mfa_totp phone, tablet;
	unsigned a, b;

	app(&phone, 0x51);
	app(&tablet, 0x52);
	assert_int_equal(enroll_app(f, "emil", &phone, "phone", 0, NOW, &a), VERIFY_OK);
	assert_int_equal(enroll_app(f, "emil", &tablet, "tablet", 0, NOW, &b), VERIFY_OK);
	summary(f, "emil", &sum);
	assert_int_equal(store_remove_factor(f->st, "emil", &sum.basis, 99, false, NOW, &f->err),
			 -ENOENT);
	assert_int_equal(store_remove_factor(f->st, "emil", &sum.basis, a, false, NOW, &f->err), 0);
	assert_int_equal(login_app(f, "emil", &phone, NOW + 30, NULL), VERIFY_WRONG);
	assert_int_equal(login_app(f, "emil", &tablet, NOW + 30, NULL), VERIFY_OK);
	/* On the old basis: refused. */
	assert_int_equal(store_remove_factor(f->st, "emil", &sum.basis, b, false, NOW, &f->err),
			 -ESTALE);
	summary(f, "emil", &sum);
	assert_int_equal(sum.n_factors, 1);
	assert_int_equal(sum.factors[0].id, b);
	assert_int_equal(sum.skip_since, 0);
	/* All of them, the opt-out skip remembered. */
	assert_int_equal(store_remove_factor(f->st, "emil", &sum.basis, 0, true, NOW + 40, &f->err),
			 0);
	summary(f, "emil", &sum);
	assert_int_equal(sum.n_factors, 0);
	assert_int_equal(store_summary_methods(&sum), 0);
	assert_int_equal(sum.skip_since, NOW + 40);
	assert_int_equal(login_app(f, "emil", &tablet, NOW + 60, NULL), VERIFY_NOT_ENROLLED);
	/* An id is never given again. */
	assert_int_equal(enroll_app(f, "emil", &phone, NULL, 0, NOW + 90, &a), VERIFY_OK);
	assert_int_equal(a, 3);
	summary(f, "emil", &sum);
	assert_int_equal(sum.skip_since, 0);
	/* Nothing of a user the store does not know, and no file made. */
	summary(f, "nobody", &sum);
	assert_int_equal(store_remove_factor(f->st, "nobody", &sum.basis, 1, false, NOW, &f->err),
			 -ENOENT);
	assert_int_equal(store_remove_factor(f->st, "nobody", &sum.basis, 0, false, NOW, &f->err),
			 0);
	summary(f, "nobody", &sum);
	assert_false(sum.exists);
	assert_int_equal(dir_entry_count(f->state_dir), 2);
}

/* factors_per_method bounds each method: an enrollment past it saves
 * nothing, unless it replaces one. */
static void test_factors_per_method(void **state)
{
	struct fixture *f = *state;
	struct store_summary sum;
	struct mfa_totp t[4];
	unsigned ids[4], id;
	bool replaced;

	f->cfg.factors_per_method = 2;
	for (int i = 0; i < 4; i++)
		app(&t[i], (unsigned char)(0x61 + i));
	assert_int_equal(enroll_app(f, "finn", &t[0], "a", 0, NOW, &ids[0]), VERIFY_OK);
	assert_int_equal(enroll_app(f, "finn", &t[1], "b", 0, NOW, &ids[1]), VERIFY_OK);
	assert_int_equal(enroll_app(f, "finn", &t[2], "c", 0, NOW, &id), VERIFY_TOO_MANY);
	summary(f, "finn", &sum);
	assert_int_equal(sum.n_factors, 2);
	assert_int_equal(login_app(f, "finn", &t[2], NOW + 30, NULL), VERIFY_WRONG);
	/* In place of the first: the same place in the list. */
	assert_int_equal(enroll_app(f, "finn", &t[2], "c", ids[0], NOW + 60, &ids[2]), VERIFY_OK);
	summary(f, "finn", &sum);
	assert_int_equal(sum.n_factors, 2);
	assert_int_equal(sum.factors[0].id, ids[2]);
	assert_string_equal(sum.factors[0].label, "c");
	assert_int_equal(sum.factors[1].id, ids[1]);
	assert_int_equal(login_app(f, "finn", &t[0], NOW + 90, NULL), VERIFY_WRONG);
	assert_int_equal(login_app(f, "finn", &t[2], NOW + 90, NULL), VERIFY_OK);
	/* Replacing what is not there, or not an app: nothing saved. */
	assert_int_equal(enroll_app(f, "finn", &t[3], NULL, 99, NOW, NULL), VERIFY_NOT_ENROLLED);
	/* The administrator's: -EDQUOT past the bound, -EEXIST for NEW. */
	assert_int_equal(store_provision_totp(f->st, &f->cfg, "finn", &t[3], NULL, PROVISION_ADD,
					      NOW, &replaced, &f->err),
			 -EDQUOT);
	assert_int_equal(store_provision_totp(f->st, &f->cfg, "finn", &t[3], NULL, PROVISION_NEW,
					      NOW, &replaced, &f->err),
			 -EEXIST);
	assert_int_equal(store_provision_totp(f->st, &f->cfg, "finn", &t[3], "only",
					      PROVISION_REPLACE, NOW, &replaced, &f->err),
			 0);
	assert_true(replaced);
	summary(f, "finn", &sum);
	assert_int_equal(sum.n_factors, 1);
	assert_true(sum.factors[0].by_admin);
	assert_string_equal(sum.factors[0].label, "only");
	assert_int_equal(store_provision_totp(f->st, &f->cfg, "finn", &t[0], NULL, PROVISION_ADD,
					      NOW, &replaced, &f->err),
			 0);
	assert_false(replaced);
	/* The same secret twice would take each code twice. */
	f->cfg.factors_per_method = 3;
	assert_int_equal(store_provision_totp(f->st, &f->cfg, "finn", &t[0], NULL, PROVISION_ADD,
					      NOW, &replaced, &f->err),
			 -EEXIST);
}

static void test_labels(void **state)
{
	static const char *const bad[] = {
		"", " x", "x ", "a/b", "caf\xc3\xa9", "a\nb", "123456789012345678901234567890123"
	};
	struct fixture *f = *state;
	struct store_login at = { NOW, "sshd", "" };
	struct store_summary sum;
	struct verify_result res;
	struct mfa_totp t;
	int64_t tag;
	unsigned id;
	char code[16];

	app(&t, 0x71);
	summary(f, "gina", &sum);
	code_at(&t, NOW, code);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(store_enroll_totp(f->st, &f->cfg, "gina", &sum.basis, &t, bad[i],
						   0, code, &at, &res, &f->err),
				 0);
		assert_int_equal(res.outcome, VERIFY_STORE_ERROR);
		assert_contains(f->err.msg, "label");
	}
	summary(f, "gina", &sum);
	assert_false(sum.exists);
	assert_int_equal(enroll_app(f, "gina", &t, "My Phone (2)", 0, NOW, &id), VERIFY_OK);
	tag = tag_of(f, "gina");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(store_label_factor(f->st, "gina", id, bad[i], &f->err), -EINVAL);
	assert_int_equal(store_label_factor(f->st, "gina", id, NULL, &f->err), -EINVAL);
	assert_int_equal(store_label_factor(f->st, "gina", id + 1, "x", &f->err), -ENOENT);
	assert_int_equal(store_label_factor(f->st, "nobody", 1, "x", &f->err), -ENOENT);
	assert_int_equal(store_label_factor(f->st, "gina", id, "work+home@x.org", &f->err), 0);
	summary(f, "gina", &sum);
	assert_string_equal(sum.factors[0].label, "work+home@x.org");
	/* A label is no factor: the basis holds. */
	assert_true(sum.basis.version == tag);
}

/* The tag moves with every change of the verified factors, and with
 * nothing else. */
static void test_basis_tag(void **state)
{
	struct fixture *f = *state;
	struct code_target mail = { METHOD_EMAIL, 0, "hana@example.org" };
	struct code_target number = { METHOD_SMS, 0, "+15550100123" };
	struct store_reset_what totp_only = { METHOD_TOTP, NULL };
	struct store_reset_result reset;
	struct store_summary sum;
	struct mfa_totp t, u;
	int64_t tag, seen[16];
	unsigned n = 0, id, failures;
	bool replaced;

	app(&t, 0x81);
	app(&u, 0x82);
#define CHANGED()                                            \
	do {                                                 \
		int64_t now_tag = tag_of(f, "hana");         \
		assert_true(now_tag != tag && now_tag != 0); \
		for (unsigned k = 0; k < n; k++)             \
			assert_true(seen[k] != now_tag);     \
		seen[n++] = tag = now_tag;                   \
	} while (0)
#define SAME() assert_true(tag_of(f, "hana") == tag)
	tag = tag_of(f, "hana");
	assert_int_equal(tag, 0);
	assert_int_equal(enroll_app(f, "hana", &t, NULL, 0, NOW, &id), VERIFY_OK);
	CHANGED();
	/* Logins, right and wrong, are no change of the factors. */
	assert_int_equal(login_app(f, "hana", &t, NOW + 30, NULL), VERIFY_OK);
	assert_int_equal(login_app(f, "hana", &u, NOW + 60, NULL), VERIFY_WRONG);
	SAME();
	assert_int_equal(store_unlock(f->st, "hana", &failures, &f->err), 0);
	SAME();
	summary(f, "hana", &sum);
	assert_int_equal(store_skip(f->st, "hana", &sum.basis, true, NOW, &f->err), 0);
	SAME();
	assert_int_equal(store_label_factor(f->st, "hana", id, "x", &f->err), 0);
	SAME();
	/* An address being proved is no factor yet; proved, it is. */
	assert_int_equal(send_code(f, "hana", EMAIL_CODE_ENROLL, &mail, "123456", NOW), 0);
	SAME();
	assert_int_equal(prove(f, "hana", METHOD_EMAIL, mail.dest, NULL, 0, "123456", NOW, &id),
			 VERIFY_OK);
	CHANGED();
	assert_int_equal(send_code(f, "hana", EMAIL_CODE_ENROLL, &number, "654321", NOW + 100), 0);
	SAME();
	assert_int_equal(prove(f, "hana", METHOD_SMS, number.dest, "cell", 0, "654321", NOW + 100,
			       &id),
			 VERIFY_OK);
	CHANGED();
	assert_int_equal(store_provision_totp(f->st, &f->cfg, "hana", &u, NULL, PROVISION_ADD, NOW,
					      &replaced, &f->err),
			 0);
	CHANGED();
	assert_int_equal(store_provision_dest(f->st, &f->cfg, "hana", METHOD_EMAIL,
					      "hana2@example.org", NULL, PROVISION_ADD, NOW,
					      &f->err),
			 0);
	CHANGED();
	summary(f, "hana", &sum);
	assert_int_equal(store_remove_factor(f->st, "hana", &sum.basis, id, false, NOW, &f->err),
			 0);
	CHANGED();
	assert_int_equal(store_reset(f->st, "hana", &totp_only, &reset, &f->err), 0);
	CHANGED();
	/* An administrator's code to a new address, replacing the verified
	 * ones: they are gone at once. */
	assert_int_equal(store_code_by_admin(f->st, &f->cfg, "hana", METHOD_EMAIL, "h@example.org",
					     "111111", false, NOW, &f->err),
			 -ESTALE);
	SAME();
	assert_int_equal(store_code_by_admin(f->st, &f->cfg, "hana", METHOD_EMAIL, "h@example.org",
					     "111111", true, NOW, &f->err),
			 0);
	/* No verified factor left: the tag of no factors at all, which a
	 * first enrollment needs no proof for. */
	assert_int_equal(tag_of(f, "hana"), 0);
	tag = 0;
	summary(f, "hana", &sum);
	assert_int_equal(store_summary_methods(&sum), 0);
	assert_true(store_summary_unverified(&sum, METHOD_EMAIL)->by_admin);
	/* A wrong proof changes nothing; the right one does. */
	assert_int_equal(prove(f, "hana", METHOD_EMAIL, "h@example.org", NULL, 0, "222222", NOW,
			       NULL),
			 VERIFY_WRONG);
	SAME();
	assert_int_equal(prove(f, "hana", METHOD_EMAIL, "h@example.org", NULL, 0, "111111", NOW,
			       NULL),
			 VERIFY_OK);
	CHANGED();
#undef CHANGED
#undef SAME
}

/* A version 4 record, as an older pam_mfa wrote it: read as factors, its
 * basis the same before and after it is written as version 6. */
static void test_version_4_upgraded(void **state)
{
	static const char v4[] = "version=4\nuser=olga\n"
				 "totp.secret=CEIRCEIRCEIRCEIRCEIRCEIRCEIRCEIR\n"
				 "totp.algorithm=sha1\ntotp.digits=6\ntotp.period=30\n"
				 "totp.enrolled_at=1600000000\ntotp.last_step=0\n"
				 "fail.count=0\nfail.since=0\nlock.until=0\n"
				 "login.time=0\nlogin.service=\nlogin.rhost=\nskip.since=0\n"
				 "email.address=olga@example.org\nemail.verified=1\n"
				 "email.enrolled_at=1600000100\nemail.code=\n"
				 "email.code_expires=0\nemail.code_sent=0\nemail.by_admin=0\n"
				 "email.enroll_mails=0\nemail.enroll_mails_since=0\n"
				 "email.code_booked=0\nend\n";
	struct fixture *f = *state;
	struct store_summary before, after;
	struct mfa_totp t, second;
	char *path, text[4096];
	FILE *in;
	size_t len;

	app(&t, 0x11); /* CEIRCEIR... is twenty 0x11 bytes */
	path = path_join(f->state_dir, "olga");
	write_text(path, v4, 0600);
	summary(f, "olga", &before);
	assert_true(before.exists);
	assert_int_equal(before.n_factors, 2);
	assert_int_equal(store_summary_methods(&before), METHOD_TOTP | METHOD_EMAIL);
	assert_int_equal(before.factors[1].added, 1600000100);
	assert_true(before.basis.version != 0);
	/* A login writes the record, as version 6: the basis holds. */
	assert_int_equal(login_app(f, "olga", &t, NOW, NULL), VERIFY_OK);
	in = fopen(path, "r");
	assert_non_null(in);
	len = fread(text, 1, sizeof(text) - 1, in);
	fclose(in);
	text[len] = '\0';
	assert_non_null(memmem(text, len, "version=6\n", 10));
	summary(f, "olga", &after);
	assert_true(store_basis_same(&before.basis, &after.basis));
	/* An enrollment on the basis taken from the old record goes through. */
	app(&second, 0x12);
	{
		struct store_login at = { NOW + 30, "sshd", "" };
		struct verify_result res;
		char code[16];

		code_at(&second, NOW + 30, code);
		assert_int_equal(store_enroll_totp(f->st, &f->cfg, "olga", &after.basis, &second,
						   "new", 0, code, &at, &res, &f->err),
				 0);
		assert_int_equal(res.outcome, VERIFY_OK);
		assert_int_equal(res.factor, 3);
	}
	summary(f, "olga", &after);
	assert_false(store_basis_same(&before.basis, &after.basis));
	free(path);
}

/* A change of the factors of a user who holds one needs store_prove()'s
 * proof: none, another user's, an expired one, or one a wrong code did
 * not give, changes nothing. */
static void test_proof(void **state)
{
	struct fixture *f = *state;
	struct store_summary sum;
	struct store_basis basis;
	struct verify_result res;
	struct mfa_totp phone, tablet;
	struct store_login at = { NOW + 60, "mfa-setup", "" };
	char code[16];

	app(&phone, 0x51);
	app(&tablet, 0x52);
	assert_int_equal(enroll_app(f, "pia", &phone, "phone", 0, NOW, NULL), VERIFY_OK);
	assert_int_equal(enroll_app(f, "quin", &phone, "phone", 0, NOW, NULL), VERIFY_OK);
	assert_int_equal(store_summary(f->st, "pia", &sum, &f->err), 0);
	/* No proof. */
	code_at(&tablet, NOW + 60, code);
	assert_int_equal(store_enroll_totp(f->st, &f->cfg, "pia", &sum.basis, &tablet, NULL, 0,
					   code, &at, &res, &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_NOT_ENROLLED);
	assert_int_equal(store_remove_factor(f->st, "pia", &sum.basis, 1, false, NOW + 60, &f->err),
			 -EPERM);
	/* A wrong code proves nothing, and counts. */
	assert_int_equal(store_prove(f->st, &f->cfg, "pia", 0, "000000", &at, &res, &basis,
				     &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_WRONG);
	assert_int_equal(res.fail_count, 1);
	assert_string_equal(basis.proof, "");
	/* Another user's proof is not pia's. */
	code_at(&phone, NOW + 60, code);
	assert_int_equal(store_prove(f->st, &f->cfg, "quin", 0, code, &at, &res, &basis, &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_OK);
	basis.version = sum.basis.version;
	code_at(&tablet, NOW + 60, code);
	assert_int_equal(store_enroll_totp(f->st, &f->cfg, "pia", &basis, &tablet, NULL, 0, code,
					   &at, &res, &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_NOT_ENROLLED);
	/* Pia's own: the wrong new code keeps it, a right one saves. */
	code_at(&phone, NOW + 60, code);
	assert_int_equal(store_prove(f->st, &f->cfg, "pia", 0, code, &at, &res, &basis, &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_OK);
	assert_int_equal(basis.version, sum.basis.version);
	assert_int_equal(strlen(basis.proof), STORE_PROOF_MAX);
	assert_int_equal(store_enroll_totp(f->st, &f->cfg, "pia", &basis, &tablet, NULL, 0,
					   "123456", &at, &res, &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_WRONG);
	code_at(&tablet, NOW + 60, code);
	/* Past its time: refused. */
	at.now = NOW + 60 + STORE_PROOF_SECONDS;
	code_at(&tablet, at.now, code);
	assert_int_equal(store_enroll_totp(f->st, &f->cfg, "pia", &basis, &tablet, NULL, 0, code,
					   &at, &res, &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_NOT_ENROLLED);
	at.now = NOW + 90;
	code_at(&tablet, at.now, code);
	assert_int_equal(store_enroll_totp(f->st, &f->cfg, "pia", &basis, &tablet, NULL, 0, code,
					   &at, &res, &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_OK);
	store_summary_wipe(&sum);
}

/* Failures add up to the lockout; unlock clears them; reset forgets. */
static void test_lockout_unlock_reset(void **state)
{
	struct fixture *f = *state;
	struct store_login at = { NOW, "sshd", "" };
	struct store_reset_what email_only = { METHOD_EMAIL, NULL };
	struct store_reset_what totp_only = { METHOD_TOTP, NULL };
	struct store_reset_result reset;
	struct store_summary sum;
	struct verify_result res;
	struct mfa_totp t;
	unsigned failures;
	bool replaced;

	app(&t, 0x44);
	assert_int_equal(store_provision_totp(f->st, &f->cfg, "dave", &t, NULL, PROVISION_NEW, NOW,
					      &replaced, &f->err),
			 0);
	assert_false(replaced);
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(store_verify_totp(f->st, &f->cfg, "dave", "x", &at, &res, &f->err),
				 0);
		assert_int_equal(res.outcome, VERIFY_WRONG);
		assert_int_equal(res.fail_count, i);
		assert_int_equal(res.locked_now, i == 3);
	}
	assert_int_equal(login_app(f, "dave", &t, NOW, NULL), VERIFY_LOCKED);
	summary(f, "dave", &sum);
	assert_int_equal(sum.locked_until, NOW + 300);

	assert_int_equal(store_unlock(f->st, "dave", &failures, &f->err), 0);
	assert_int_equal(failures, 3);
	assert_int_equal(login_app(f, "dave", &t, NOW, NULL), VERIFY_OK);
	assert_int_equal(store_unlock(f->st, "nobody", &failures, &f->err), -ENOENT);

	assert_int_equal(store_reset(f->st, "dave", &email_only, &reset, &f->err), 0);
	assert_false(reset.had_state);
	assert_int_equal(reset.factors, 0);
	assert_int_equal(store_reset(f->st, "dave", &totp_only, &reset, &f->err), 0);
	assert_true(reset.had_state);
	assert_true(reset.had_factor);
	assert_int_equal(reset.factors, 1);
	summary(f, "dave", &sum);
	assert_true(sum.exists);
	assert_int_equal(store_summary_methods(&sum), 0);
	assert_int_equal(store_reset(f->st, "dave", NULL, &reset, &f->err), 0);
	assert_true(reset.had_state);
	assert_false(reset.had_factor);
	summary(f, "dave", &sum);
	assert_false(sum.exists);
	assert_int_equal(dir_entry_count(f->state_dir), 0);
}

/* Resets by method, by label, and of everything: how many factors went,
 * and which verified address to tell. */
static void test_reset_some(void **state)
{
	struct fixture *f = *state;
	struct store_reset_what by_method = { METHOD_TOTP, NULL };
	struct store_reset_what by_label = { 0, "work" };
	struct store_reset_what unknown = { 0, "nothing" };
	struct store_reset_what bad_label = { 0, "a/b" };
	struct store_reset_what everything = { 0, NULL };
	struct store_reset_result reset;
	struct store_summary sum;
	struct mfa_totp t, u;
	bool replaced;

	app(&t, 0x91);
	app(&u, 0x92);
	assert_int_equal(store_provision_totp(f->st, &f->cfg, "ivan", &t, "phone", PROVISION_ADD,
					      NOW, &replaced, &f->err),
			 0);
	assert_int_equal(store_provision_totp(f->st, &f->cfg, "ivan", &u, "tablet", PROVISION_ADD,
					      NOW, &replaced, &f->err),
			 0);
	assert_int_equal(store_provision_dest(f->st, &f->cfg, "ivan", METHOD_EMAIL,
					      "ivan@example.org", "work", PROVISION_NEW, NOW,
					      &f->err),
			 0);
	assert_int_equal(store_provision_dest(f->st, &f->cfg, "ivan", METHOD_SMS, "+15550100123",
					      "cell", PROVISION_NEW, NOW, &f->err),
			 0);
	assert_int_equal(store_verify_totp(f->st, &f->cfg, "ivan", "x",
					   &(struct store_login){ NOW, "sshd", "" },
					   &(struct verify_result){ 0 }, &f->err),
			 0);
	summary(f, "ivan", &sum);
	assert_int_equal(sum.fail_count, 1);

	assert_int_equal(store_reset(f->st, "ivan", &unknown, &reset, &f->err), -ENOENT);
	assert_contains(f->err.msg, "nothing");
	assert_int_equal(store_reset(f->st, "ivan", &bad_label, &reset, &f->err), -EINVAL);
	assert_int_equal(store_reset(f->st, "ivan", &by_method, &reset, &f->err), 0);
	assert_true(reset.had_state);
	assert_true(reset.had_factor);
	assert_int_equal(reset.factors, 2);
	/* The address that stays is where the notice goes. */
	assert_string_equal(reset.notify, "ivan@example.org");
	summary(f, "ivan", &sum);
	assert_int_equal(sum.n_factors, 2);
	assert_int_equal(sum.fail_count, 0);
	assert_int_equal(store_summary_methods(&sum), METHOD_EMAIL | METHOD_SMS);
	/* The address itself by its label: the notice still goes to it. */
	assert_int_equal(store_reset(f->st, "ivan", &by_label, &reset, &f->err), 0);
	assert_int_equal(reset.factors, 1);
	assert_string_equal(reset.notify, "ivan@example.org");
	summary(f, "ivan", &sum);
	assert_int_equal(store_summary_methods(&sum), METHOD_SMS);
	assert_int_equal(store_reset(f->st, "ivan", &by_label, &reset, &f->err), -ENOENT);
	assert_int_equal(store_reset(f->st, "ivan", &everything, &reset, &f->err), 0);
	assert_true(reset.had_state);
	assert_true(reset.had_factor);
	assert_int_equal(reset.factors, 1);
	assert_string_equal(reset.notify, "");
	summary(f, "ivan", &sum);
	assert_false(sum.exists);
	/* Of a user with no state: nothing, and no file. */
	assert_int_equal(store_reset(f->st, "nobody", &by_method, &reset, &f->err), 0);
	assert_false(reset.had_state);
	assert_int_equal(store_reset(f->st, "nobody", &by_label, &reset, &f->err), -ENOENT);
	assert_int_equal(dir_entry_count(f->state_dir), 0);
}

/* Everyone's state goes: records, corrupt ones, lock files. */
static void test_reset_all(void **state)
{
	struct fixture *f = *state;
	struct store_summary sum;
	struct mfa_totp t;
	unsigned users = 99;
	char *path;

	app(&t, 0xa1);
	assert_int_equal(store_reset_all(f->st, &users, &f->err), 0);
	assert_int_equal(users, 0);
	assert_int_equal(enroll_app(f, "u1", &t, NULL, 0, NOW, NULL), VERIFY_OK);
	assert_int_equal(enroll_app(f, "u2", &t, NULL, 0, NOW, NULL), VERIFY_OK);
	summary(f, "u3", &sum);
	assert_int_equal(store_skip(f->st, "u3", &sum.basis, true, NOW, &f->err), 0);
	path = path_join(f->state_dir, "u4");
	write_text(path, "garbage\n", 0600);
	free(path);
	path = path_join(f->state_dir, ".lock.u5");
	write_text(path, "", 0600);
	free(path);
	path = path_join(f->state_dir, "not a user");
	write_text(path, "", 0600);
	free(path);
	assert_int_equal(store_reset_all(f->st, &users, &f->err), 0);
	assert_int_equal(users, 4);
	/* What is not the store's stays. */
	assert_int_equal(dir_entry_count(f->state_dir), 1);
	summary(f, "u1", &sum);
	assert_false(sum.exists);
	assert_int_equal(login_app(f, "u1", &t, NOW + 30, NULL), VERIFY_NOT_ENROLLED);
	summary(f, "u3", &sum);
	assert_int_equal(sum.skip_since, 0);
}

/* An email code: booked, sent, then good once; the limits hold. */
static void test_email_code(void **state)
{
	struct fixture *f = *state;
	struct store_login at = { NOW, "sshd", "" };
	struct code_target to = { METHOD_EMAIL, 0, NULL };
	struct email_booking booking, other;
	struct store_summary sum;
	struct verify_result res;
	bool sending;
	long wait;

	assert_int_equal(store_provision_dest(f->st, &f->cfg, "erin", METHOD_EMAIL,
					      "erin@example.org", NULL, PROVISION_NEW, NOW,
					      &f->err),
			 0);
	assert_int_equal(store_provision_dest(f->st, &f->cfg, "erin", METHOD_EMAIL,
					      "erin@example.org", NULL, PROVISION_ADD, NOW,
					      &f->err),
			 -EEXIST);
	summary(f, "erin", &sum);
	assert_int_equal(sum.n_factors, 1);
	assert_true(sum.factors[0].verified);
	assert_true(sum.factors[0].by_admin);
	assert_string_equal(sum.factors[0].dest, "erin@example.org");
	to.factor = sum.factors[0].id;
	/* A login code to a factor there is not: refused. */
	to.factor = 7;
	assert_int_equal(store_code_book(f->st, &f->cfg, "erin", EMAIL_CODE_LOGIN, NULL, &to, NOW,
					 &booking, &wait, &sending, &f->err),
			 -ESTALE);
	to.factor = sum.factors[0].id;
	assert_int_equal(store_code_book(f->st, &f->cfg, "erin", EMAIL_CODE_LOGIN, NULL, &to, NOW,
					 &booking, &wait, &sending, &f->err),
			 0);
	/* Another login meanwhile waits for the code on its way. */
	assert_int_equal(store_code_book(f->st, &f->cfg, "erin", EMAIL_CODE_LOGIN, NULL, &to,
					 NOW + 1, &other, &wait, &sending, &f->err),
			 -EAGAIN);
	assert_true(sending);
	assert_true(wait > 0);
	assert_int_equal(store_code_sent(f->st, &f->cfg, "erin", NULL, &to, "123456", &booking, NOW,
					 &f->err),
			 0);
	summary(f, "erin", &sum);
	assert_true(sum.code.pending);
	assert_int_equal(sum.code.factor, to.factor);
	assert_int_equal(sum.code.expires, NOW + 300);
	/* The code of that factor only: not of another one. */
	assert_int_equal(store_verify_sent(f->st, &f->cfg, "erin", "123456", to.factor + 1, &at,
					   &res, &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_NOT_ENROLLED);
	assert_int_equal(store_verify_sent(f->st, &f->cfg, "erin", "654321", to.factor, &at, &res,
					   &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_WRONG);
	assert_int_equal(store_verify_sent(f->st, &f->cfg, "erin", "123456", to.factor, &at, &res,
					   &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_OK);
	assert_int_equal(res.factor, to.factor);
	assert_int_equal(store_verify_sent(f->st, &f->cfg, "erin", "123456", to.factor, &at, &res,
					   &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_EXPIRED);
	summary(f, "erin", &sum);
	assert_int_equal(sum.factors[0].last_used, NOW);
	assert_false(sum.code.pending);
	/* Past its expiry, a code is spent and counted. */
	assert_int_equal(send_code(f, "erin", EMAIL_CODE_LOGIN, &to, "777777", NOW + 100), 0);
	at.now = NOW + 401;
	assert_int_equal(store_verify_sent(f->st, &f->cfg, "erin", "777777", to.factor, &at, &res,
					   &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_EXPIRED);
}

/* An email code forgives no failure (a host makes the codes it sends);
 * a right TOTP code does, as in the postgresql backend. */
static void test_email_keeps_failures(void **state)
{
	struct fixture *f = *state;
	struct store_login at = { NOW, "sshd", "" };
	struct code_target to = { METHOD_EMAIL, 0, NULL };
	struct store_summary sum;
	struct verify_result res;
	struct mfa_totp t;
	bool replaced;

	app(&t, 0x55);
	assert_int_equal(store_provision_totp(f->st, &f->cfg, "gus", &t, NULL, PROVISION_NEW, NOW,
					      &replaced, &f->err),
			 0);
	assert_int_equal(store_provision_dest(f->st, &f->cfg, "gus", METHOD_EMAIL,
					      "gus@example.org", NULL, PROVISION_NEW, NOW, &f->err),
			 0);
	for (int i = 1; i <= 2; i++) {
		assert_int_equal(store_verify_totp(f->st, &f->cfg, "gus", "x", &at, &res, &f->err),
				 0);
		assert_int_equal(res.fail_count, i);
	}
	summary(f, "gus", &sum);
	to.factor = store_summary_nth(&sum, METHOD_SENT, 0)->id;
	assert_int_equal(send_code(f, "gus", EMAIL_CODE_LOGIN, &to, "123456", NOW), 0);
	assert_int_equal(store_verify_sent(f->st, &f->cfg, "gus", "123456", to.factor, &at, &res,
					   &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_OK);
	assert_int_equal(res.fail_count, 2);
	summary(f, "gus", &sum);
	assert_int_equal(sum.fail_count, 2);
	assert_int_equal(sum.last_login, NOW);
	/* The third failure locks, as if no email login had happened. */
	assert_int_equal(store_verify_totp(f->st, &f->cfg, "gus", "x", &at, &res, &f->err), 0);
	assert_true(res.locked_now);
	/* After the lock, a right TOTP code forgives. */
	assert_int_equal(login_app(f, "gus", &t, NOW + 301, NULL), VERIFY_OK);
	summary(f, "gus", &sum);
	assert_int_equal(sum.fail_count, 0);
}

/* A phone number: the code sent to it proves it, then logs in with it;
 * a changed number takes the old one's place. */
static void test_sms_enrollment(void **state)
{
	struct fixture *f = *state;
	struct code_target to = { METHOD_SMS, 0, "+15550100123" };
	struct code_target bad = { METHOD_SMS, 0, "+1 555 0100" };
	struct store_login at = { NOW, "sshd", "" };
	struct email_booking booking;
	struct store_summary sum;
	struct verify_result res;
	struct mfa_totp t;
	const struct store_factor *sf;
	unsigned id, id2;
	bool sending;
	long wait;

	app(&t, 0xb1);
	assert_int_equal(enroll_app(f, "jana", &t, NULL, 0, NOW, NULL), VERIFY_OK);
	summary(f, "jana", &sum);
	assert_int_equal(store_code_book(f->st, &f->cfg, "jana", EMAIL_CODE_ENROLL, &sum.basis,
					 &bad, NOW, &booking, &wait, &sending, &f->err),
			 -EINVAL);
	assert_int_equal(send_code(f, "jana", EMAIL_CODE_ENROLL, &to, "424242", NOW), 0);
	summary(f, "jana", &sum);
	sf = store_summary_unverified(&sum, METHOD_SMS);
	assert_non_null(sf);
	assert_string_equal(sf->dest, "+15550100123");
	assert_false(sf->by_admin);
	assert_true(sum.code.pending);
	assert_int_equal(sum.code.factor, sf->id);
	assert_int_equal(sum.code.expires, NOW + 120); /* sms.code_ttl */
	assert_int_equal(store_summary_count(&sum, METHOD_SMS), 0);
	/* Not a login factor until proved. */
	assert_int_equal(store_verify_sent(f->st, &f->cfg, "jana", "424242", sf->id, &at, &res,
					   &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_NOT_ENROLLED);
	assert_int_equal(prove(f, "jana", METHOD_SMS, "+15550100999", NULL, 0, "424242", NOW, NULL),
			 VERIFY_NOT_ENROLLED);
	assert_int_equal(prove(f, "jana", METHOD_SMS, to.dest, "cell", 0, "000001", NOW, NULL),
			 VERIFY_WRONG);
	summary(f, "jana", &sum);
	assert_int_equal(sum.fail_count, 1);
	assert_int_equal(prove(f, "jana", METHOD_SMS, to.dest, "cell", 0, "424242", NOW, &id),
			 VERIFY_OK);
	summary(f, "jana", &sum);
	sf = store_summary_factor(&sum, id);
	assert_non_null(sf);
	assert_true(sf->verified);
	assert_string_equal(sf->label, "cell");
	assert_int_equal(sf->added, NOW);
	assert_int_equal(sum.fail_count, 1); /* a sent code forgives nothing */
	assert_false(sum.code.pending);
	/* A login with it. */
	to.factor = id;
	at.now = NOW + 200;
	assert_int_equal(send_code(f, "jana", EMAIL_CODE_LOGIN, &to, "135790", at.now), 0);
	assert_int_equal(store_verify_sent(f->st, &f->cfg, "jana", "135790", id, &at, &res,
					   &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_OK);
	summary(f, "jana", &sum);
	assert_int_equal(store_summary_factor(&sum, id)->last_used, NOW + 200);
	/* A changed number: the new one in place of the old. */
	to.dest = "+15550100999";
	assert_int_equal(send_code(f, "jana", EMAIL_CODE_ENROLL, &to, "246802", NOW + 300), 0);
	assert_int_equal(prove(f, "jana", METHOD_SMS, to.dest, NULL, id, "246802", NOW + 300, &id2),
			 VERIFY_OK);
	summary(f, "jana", &sum);
	assert_int_equal(sum.n_factors, 2);
	assert_null(store_summary_factor(&sum, id));
	assert_int_equal(sum.factors[1].id, id2);
	assert_string_equal(sum.factors[1].dest, "+15550100999");
	assert_string_equal(sum.factors[1].label, "");
	/* Past factors_per_method: nothing saved, nothing counted. */
	f->cfg.factors_per_method = 1;
	to.dest = "+15550100777";
	assert_int_equal(send_code(f, "jana", EMAIL_CODE_ENROLL, &to, "112233", NOW + 400),
			 -EAGAIN);
	f->cfg.sms.enroll_messages = 10;
	assert_int_equal(send_code(f, "jana", EMAIL_CODE_ENROLL, &to, "112233", NOW + 400), 0);
	assert_int_equal(prove(f, "jana", METHOD_SMS, to.dest, NULL, 0, "112233", NOW + 400, NULL),
			 VERIFY_TOO_MANY);
	summary(f, "jana", &sum);
	assert_int_equal(store_summary_count(&sum, METHOD_SMS), 1);
	assert_true(sum.code.pending);
	assert_int_equal(sum.fail_count, 1);
}

/* Each method's limits: resend_after and codes to new destinations a day
 * (counted for both methods together), and a code on its way holds the
 * others back. */
static void test_code_book_limits(void **state)
{
	struct fixture *f = *state;
	struct code_target mail = { METHOD_EMAIL, 0, NULL };
	struct code_target phone = { METHOD_SMS, 0, NULL };
	struct code_target new_phone = { METHOD_SMS, 0, "+15550100555" };
	struct code_target new_mail = { METHOD_EMAIL, 0, "kurt2@example.org" };
	struct email_booking booking;
	struct store_summary sum;
	bool sending;
	long wait;

	assert_int_equal(store_provision_dest(f->st, &f->cfg, "kurt", METHOD_EMAIL,
					      "kurt@example.org", NULL, PROVISION_NEW, NOW,
					      &f->err),
			 0);
	assert_int_equal(store_provision_dest(f->st, &f->cfg, "kurt", METHOD_SMS, "+15550100444",
					      NULL, PROVISION_NEW, NOW, &f->err),
			 0);
	summary(f, "kurt", &sum);
	mail.factor = sum.factors[0].id;
	phone.factor = sum.factors[1].id;
	/* A login code by text: the next no sooner than sms.resend_after. */
	assert_int_equal(send_code(f, "kurt", EMAIL_CODE_LOGIN, &phone, "111111", NOW), 0);
	assert_int_equal(store_code_book(f->st, &f->cfg, "kurt", EMAIL_CODE_LOGIN, NULL, &phone,
					 NOW + 10, &booking, &wait, &sending, &f->err),
			 -EAGAIN);
	assert_false(sending);
	assert_int_equal(wait, 20);
	/* By email, the email's: 60 seconds. */
	assert_int_equal(store_code_book(f->st, &f->cfg, "kurt", EMAIL_CODE_LOGIN, NULL, &mail,
					 NOW + 31, &booking, &wait, &sending, &f->err),
			 -EAGAIN);
	assert_int_equal(wait, 29);
	assert_int_equal(send_code(f, "kurt", EMAIL_CODE_LOGIN, &phone, "222222", NOW + 31), 0);
	/* The code by text replaced the one before. */
	summary(f, "kurt", &sum);
	assert_int_equal(sum.code.factor, phone.factor);
	/* A booking holds every other back for the longest sending. */
	assert_int_equal(store_code_book(f->st, &f->cfg, "kurt", EMAIL_CODE_LOGIN, NULL, &mail,
					 NOW + 100, &booking, &wait, &sending, &f->err),
			 0);
	{
		struct email_booking other;

		assert_int_equal(store_code_book(f->st, &f->cfg, "kurt", EMAIL_CODE_LOGIN, NULL,
						 &phone, NOW + 110, &other, &wait, &sending,
						 &f->err),
				 -EAGAIN);
		assert_true(sending);
		assert_int_equal(wait, 15); /* sms.timeout + 5 from NOW + 100 */
	}
	assert_int_equal(store_code_unbook(f->st, "kurt", &booking, &f->err), 0);
	/* Codes to new numbers: sms.enroll_messages (2) a day ... */
	assert_int_equal(send_code(f, "kurt", EMAIL_CODE_ENROLL, &new_phone, "333333", NOW + 200),
			 0);
	assert_int_equal(send_code(f, "kurt", EMAIL_CODE_ENROLL, &new_phone, "444444", NOW + 210),
			 -EAGAIN);
	assert_int_equal(send_code(f, "kurt", EMAIL_CODE_ENROLL, &new_phone, "444444", NOW + 240),
			 0);
	summary(f, "kurt", &sum);
	assert_int_equal(store_code_book(f->st, &f->cfg, "kurt", EMAIL_CODE_ENROLL, &sum.basis,
					 &new_phone, NOW + 300, &booking, &wait, &sending, &f->err),
			 -EAGAIN);
	assert_int_equal(wait, 86400 - 100);
	/* ... while an address may still have its email.enroll_mails (5),
	 * the count being of both. */
	assert_int_equal(send_code(f, "kurt", EMAIL_CODE_ENROLL, &new_mail, "555555", NOW + 300),
			 0);
	assert_int_equal(send_code(f, "kurt", EMAIL_CODE_ENROLL, &new_mail, "666666", NOW + 400),
			 0);
	assert_int_equal(send_code(f, "kurt", EMAIL_CODE_ENROLL, &new_mail, "777777", NOW + 500),
			 0);
	assert_int_equal(send_code(f, "kurt", EMAIL_CODE_ENROLL, &new_mail, "888888", NOW + 600),
			 -EAGAIN);
	/* A day later, the count starts afresh. */
	assert_int_equal(send_code(f, "kurt", EMAIL_CODE_ENROLL, &new_phone, "999999",
				   NOW + 200 + 86400),
			 0);
	/* One of each method waits to be proved: a number being proved does
	 * not replace an address being proved. */
	summary(f, "kurt", &sum);
	assert_non_null(store_summary_unverified(&sum, METHOD_SMS));
	assert_non_null(store_summary_unverified(&sum, METHOD_EMAIL));
	assert_int_equal(sum.code.factor, store_summary_unverified(&sum, METHOD_SMS)->id);
}

/* A code that could not be sent: the booking ends, the count is as it was,
 * and a record only the booking made goes. */
static void test_unbook(void **state)
{
	struct fixture *f = *state;
	struct code_target to = { METHOD_SMS, 0, "+15550100321" };
	struct email_booking booking, later;
	struct store_summary sum;
	bool sending;
	long wait;

	summary(f, "lena", &sum);
	assert_int_equal(store_code_book(f->st, &f->cfg, "lena", EMAIL_CODE_ENROLL, &sum.basis, &to,
					 NOW, &booking, &wait, &sending, &f->err),
			 0);
	assert_false(booking.record_existed);
	summary(f, "lena", &sum);
	assert_true(sum.exists);
	assert_int_equal(store_code_unbook(f->st, "lena", &booking, &f->err), 0);
	summary(f, "lena", &sum);
	assert_false(sum.exists);
	assert_int_equal(dir_entry_count(f->state_dir), 0);
	/* On a record there was: the count restored, the record kept. */
	assert_int_equal(send_code(f, "lena", EMAIL_CODE_ENROLL, &to, "123123", NOW), 0);
	summary(f, "lena", &sum);
	assert_int_equal(store_code_book(f->st, &f->cfg, "lena", EMAIL_CODE_ENROLL, &sum.basis, &to,
					 NOW + 40, &booking, &wait, &sending, &f->err),
			 0);
	assert_true(booking.record_existed);
	assert_int_equal(booking.enroll_codes, 1);
	/* The day's two are spent while it is booked ... */
	assert_int_equal(store_code_book(f->st, &f->cfg, "lena", EMAIL_CODE_ENROLL, &sum.basis, &to,
					 NOW + 100, &later, &wait, &sending, &f->err),
			 -EAGAIN);
	assert_int_equal(store_code_unbook(f->st, "lena", &booking, &f->err), 0);
	/* ... and not once it is ended: one more may go. */
	assert_int_equal(send_code(f, "lena", EMAIL_CODE_ENROLL, &to, "321321", NOW + 100), 0);
	summary(f, "lena", &sum);
	assert_true(sum.exists);
	assert_true(sum.code.pending);
	/* A booking that timed out and was followed by another is not ended
	 * by its own late unbook. */
	f->cfg.sms.enroll_messages = 10;
	assert_int_equal(store_code_book(f->st, &f->cfg, "lena", EMAIL_CODE_ENROLL, &sum.basis, &to,
					 NOW + 200, &booking, &wait, &sending, &f->err),
			 0);
	assert_int_equal(store_code_book(f->st, &f->cfg, "lena", EMAIL_CODE_ENROLL, &sum.basis, &to,
					 NOW + 300, &later, &wait, &sending, &f->err),
			 0);
	assert_int_equal(store_code_unbook(f->st, "lena", &booking, &f->err), 0);
	assert_int_equal(store_code_book(f->st, &f->cfg, "lena", EMAIL_CODE_ENROLL, &sum.basis, &to,
					 NOW + 301, &booking, &wait, &sending, &f->err),
			 -EAGAIN);
	assert_true(sending);
}

/* --- Recovery and bypass codes (issue 17) --- */

/* A fresh set of n codes, canonical, and pointers to them for the store. */
struct code_set {
	char shown[RECOVERY_CODES_MAX][RECOVERY_CODE_TEXT];
	char canon[RECOVERY_CODES_MAX][RECOVERY_CANONICAL_MAX + 1];
	const char *codes[RECOVERY_CODES_MAX];
};

static void make_codes(struct code_set *s, unsigned n)
{
	assert_int_equal(recovery_codes_make(n, s->shown, s->canon), 0);
	for (unsigned i = 0; i < n; i++)
		s->codes[i] = s->canon[i];
}

static enum verify_outcome use_backup(struct fixture *f, const char *user, const char *code,
				      time_t when, struct verify_result *res)
{
	struct store_login at = { when, "sshd", "198.51.100.7" };

	assert_int_equal(store_verify_backup(f->st, &f->cfg, user, code, &at, res, &f->err), 0);
	return res->outcome;
}

/* The tag of the user's factors, without summary()'s proof: that would
 * take the place of the one under test. */
static int64_t plain_tag(struct fixture *f, const char *user)
{
	struct store_summary sum;

	assert_int_equal(store_summary(f->st, user, &sum, &f->err), 0);
	return sum.basis.version;
}

/* An app enrolled, and its enrollment's basis with a proof for the codes
 * that end it, as the module and mfa-setup use it. */
static void enroll_with_basis(struct fixture *f, const char *user, const struct mfa_totp *t,
			      time_t when, struct store_basis *basis)
{
	struct store_login at = { when, "sshd", "" };
	struct store_summary sum;
	struct verify_result res;
	char code[16];

	summary(f, user, &sum);
	code_at(t, when, code);
	assert_int_equal(store_enroll_totp(f->st, &f->cfg, user, &sum.basis, t, "phone", 0, code,
					   &at, &res, &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_OK);
	assert_true(res.basis.version != 0);
	assert_int_equal(res.basis.version, plain_tag(f, user));
	assert_int_equal(strlen(res.basis.proof), STORE_PROOF_MAX);
	*basis = res.basis;
}

/* Recovery codes: made at the end of an enrollment on its proof, each
 * good once in any order, a spent or wrong one counted like a wrong code;
 * a new set ends the old; the summary counts them. */
static void test_recovery_codes(void **state)
{
	struct fixture *f = *state;
	struct store_summary sum;
	struct store_basis basis;
	struct verify_result res;
	struct mfa_totp t;
	struct code_set s, again;

	app(&t, 0xb1);
	enroll_with_basis(f, "rita", &t, NOW, &basis);
	make_codes(&s, 5);
	assert_int_equal(store_recovery_new(f->st, "rita", &basis, s.codes, 5, NOW, &f->err), 0);
	summary(f, "rita", &sum);
	assert_int_equal(sum.recovery.left, 5);
	assert_int_equal(sum.recovery.made, 5);
	assert_int_equal(sum.recovery.since, NOW);
	assert_int_equal(sum.recovery.source, RECOVERY_USER);
	/* No factor: the codes are none, and the basis holds. */
	assert_int_equal(sum.n_factors, 1);
	assert_int_equal(sum.basis.version, basis.version);
	assert_false(store_bypass_outstanding(&sum, NOW));

	/* Any order; each once; the login recorded, failures forgiven. */
	assert_int_equal(store_verify_totp(f->st, &f->cfg, "rita", "x",
					   &(struct store_login){ NOW, "sshd", "" }, &res, &f->err),
			 0);
	assert_int_equal(res.fail_count, 1);
	assert_int_equal(use_backup(f, "rita", s.canon[3], NOW + 10, &res), VERIFY_OK);
	assert_int_equal(res.backup, BACKUP_RECOVERY);
	assert_int_equal(res.remaining, 4);
	assert_int_equal(res.fail_count, 0);
	summary(f, "rita", &sum);
	assert_int_equal(sum.recovery.left, 4);
	assert_int_equal(sum.recovery.made, 5);
	assert_int_equal(sum.last_login, NOW + 10);
	assert_string_equal(sum.last_rhost, "198.51.100.7");
	assert_int_equal(sum.fail_count, 0);
	assert_int_equal(sum.basis.version, basis.version);
	/* Spent: refused, and counted. */
	assert_int_equal(use_backup(f, "rita", s.canon[3], NOW + 20, &res), VERIFY_WRONG);
	assert_int_equal(res.backup, BACKUP_NONE);
	assert_int_equal(res.fail_count, 1);
	assert_int_equal(use_backup(f, "rita", s.canon[0], NOW + 30, &res), VERIFY_OK);
	assert_int_equal(res.remaining, 3);
	assert_int_equal(use_backup(f, "rita", s.canon[4], NOW + 40, &res), VERIFY_OK);
	assert_int_equal(res.remaining, 2);
	/* The store takes canonical codes only: the form shown is a wrong
	 * code, as any other text. */
	assert_int_equal(use_backup(f, "rita", s.shown[1], NOW + 50, &res), VERIFY_WRONG);
	assert_int_equal(res.fail_count, 1);
	assert_int_equal(use_backup(f, "rita", "", NOW + 50, &res), VERIFY_WRONG);
	assert_int_equal(res.fail_count, 2);
	assert_int_equal(use_backup(f, "rita", s.canon[1], NOW + 60, &res), VERIFY_OK);
	assert_int_equal(res.remaining, 1);

	/* A new set, on a proof of a factor (here a code of the old set),
	 * ends every code of the old. */
	assert_int_equal(store_prove(f->st, &f->cfg, "rita", STORE_FACTOR_BACKUP, s.canon[2],
				     &(struct store_login){ NOW + 70, "mfa-setup", "" }, &res,
				     &basis, &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_OK);
	assert_int_equal(res.backup, BACKUP_RECOVERY);
	assert_int_equal(res.remaining, 0);
	assert_int_equal(basis.version, sum.basis.version);
	assert_int_equal(strlen(basis.proof), STORE_PROOF_MAX);
	/* A spent code proves nothing. */
	{
		struct store_basis none;

		assert_int_equal(store_prove(f->st, &f->cfg, "rita", STORE_FACTOR_BACKUP,
					     s.canon[2], &(struct store_login){ NOW + 75, "", "" },
					     &res, &none, &f->err),
				 0);
		assert_int_equal(res.outcome, VERIFY_WRONG);
		assert_string_equal(none.proof, "");
	}
	make_codes(&again, RECOVERY_CODES_MAX);
	assert_int_equal(store_recovery_new(f->st, "rita", &basis, again.codes, RECOVERY_CODES_MAX,
					    NOW + 80, &f->err),
			 0);
	summary(f, "rita", &sum);
	assert_int_equal(sum.recovery.left, RECOVERY_CODES_MAX);
	assert_int_equal(sum.recovery.made, RECOVERY_CODES_MAX);
	assert_int_equal(sum.recovery.since, NOW + 80);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(use_backup(f, "rita", s.canon[i], NOW + 90, &res),
				 i < 2 ? VERIFY_WRONG : VERIFY_LOCKED);
	assert_int_equal(res.outcome, VERIFY_LOCKED);
	/* Locked: not checked, and nothing spent. */
	assert_int_equal(use_backup(f, "rita", again.canon[0], NOW + 95, &res), VERIFY_LOCKED);
	summary(f, "rita", &sum);
	assert_int_equal(sum.recovery.left, RECOVERY_CODES_MAX);
	assert_int_equal(use_backup(f, "rita", again.canon[0], NOW + 90 + 300, &res), VERIFY_OK);
	assert_int_equal(res.remaining, RECOVERY_CODES_MAX - 1);
	store_summary_wipe(&sum);
	secure_wipe(&s, sizeof(s));
	secure_wipe(&again, sizeof(again));
}

/* What store_recovery_new() and the administrator's refuse. */
static void test_recovery_refused(void **state)
{
	struct fixture *f = *state;
	struct store_summary sum;
	struct store_basis basis, stale;
	struct verify_result res;
	struct mfa_totp t, u;
	struct code_set s;
	const char *bad[2];
	bool replaced;

	app(&t, 0xc1);
	app(&u, 0xc2);
	make_codes(&s, 3);
	/* A user without a verified factor has nothing to recover: no
	 * record is made for the asking. */
	summary(f, "sam", &sum);
	assert_int_equal(store_recovery_new(f->st, "sam", &sum.basis, s.codes, 3, NOW, &f->err),
			 -ENOENT);
	assert_int_equal(store_recovery_admin(f->st, "sam", s.codes, 3, RECOVERY_ADMIN, NOW,
					      &f->err),
			 -ENOENT);
	assert_int_equal(use_backup(f, "sam", s.canon[0], NOW, &res), VERIFY_NOT_ENROLLED);
	assert_int_equal(dir_entry_count(f->state_dir), 0);
	/* A skip alone is no factor either. */
	assert_int_equal(store_skip(f->st, "sam", &sum.basis, true, NOW, &f->err), 0);
	assert_int_equal(store_recovery_admin(f->st, "sam", s.codes, 3, RECOVERY_ADMIN, NOW,
					      &f->err),
			 -ENOENT);
	assert_int_equal(use_backup(f, "sam", s.canon[0], NOW, &res), VERIFY_NOT_ENROLLED);

	enroll_with_basis(f, "tom", &t, NOW, &basis);
	/* No proof: the summary's basis alone. */
	assert_int_equal(store_summary(f->st, "tom", &sum, &f->err), 0);
	assert_int_equal(store_recovery_new(f->st, "tom", &sum.basis, s.codes, 3, NOW, &f->err),
			 -EPERM);
	/* Another user's proof. */
	enroll_with_basis(f, "uma", &t, NOW, &stale);
	stale.version = basis.version;
	assert_int_equal(store_recovery_new(f->st, "tom", &stale, s.codes, 3, NOW, &f->err),
			 -EPERM);
	/* A proof past its time. */
	summary(f, "tom", &sum);
	assert_int_equal(store_recovery_new(f->st, "tom", &sum.basis, s.codes, 3,
					    NOW + STORE_PROOF_SECONDS, &f->err),
			 -EPERM);
	/* Stale: the factors changed since the proof (an administrator). */
	summary(f, "tom", &sum);
	stale = sum.basis;
	assert_int_equal(store_provision_totp(f->st, &f->cfg, "tom", &u, "tablet", PROVISION_ADD,
					      NOW + 30, &replaced, &f->err),
			 0);
	assert_int_equal(store_recovery_new(f->st, "tom", &stale, s.codes, 3, NOW + 30, &f->err),
			 -ESTALE);
	/* Not canonical, twice, none, too many. */
	summary(f, "tom", &sum);
	bad[0] = s.shown[0];
	assert_int_equal(store_recovery_new(f->st, "tom", &sum.basis, bad, 1, NOW + 30, &f->err),
			 -EINVAL);
	bad[0] = bad[1] = s.canon[0];
	assert_int_equal(store_recovery_new(f->st, "tom", &sum.basis, bad, 2, NOW + 30, &f->err),
			 -EINVAL);
	assert_int_equal(store_recovery_new(f->st, "tom", &sum.basis, s.codes, 0, NOW + 30,
					    &f->err),
			 -EINVAL);
	assert_int_equal(store_recovery_admin(f->st, "tom", s.codes, RECOVERY_CODES_MAX + 1,
					      RECOVERY_ADMIN, NOW, &f->err),
			 -EINVAL);
	assert_int_equal(store_recovery_admin(f->st, "tom", s.codes, 3, RECOVERY_USER, NOW,
					      &f->err),
			 -EINVAL);
	summary(f, "tom", &sum);
	assert_int_equal(sum.recovery.made, 0);
	assert_int_equal(sum.recovery.source, RECOVERY_NONE);
	/* The administrator's need no proof; an imported scratch code is 8
	 * digits. */
	bad[0] = "12345678";
	bad[1] = s.canon[1];
	assert_int_equal(store_recovery_admin(f->st, "tom", bad, 2, RECOVERY_IMPORTED, NOW + 40,
					      &f->err),
			 0);
	summary(f, "tom", &sum);
	assert_int_equal(sum.recovery.made, 2);
	assert_int_equal(sum.recovery.source, RECOVERY_IMPORTED);
	assert_int_equal(use_backup(f, "tom", "12345678", NOW + 50, &res), VERIFY_OK);
	assert_int_equal(res.remaining, 1);
	assert_int_equal(use_backup(f, "tom", "1234567", NOW + 50, &res), VERIFY_WRONG);
	assert_int_equal(store_recovery_admin(f->st, "tom", s.codes, 3, RECOVERY_ADMIN, NOW + 60,
					      &f->err),
			 0);
	summary(f, "tom", &sum);
	assert_int_equal(sum.recovery.source, RECOVERY_ADMIN);
	assert_int_equal(sum.recovery.left, 3);
	assert_int_equal(use_backup(f, "tom", "12345678", NOW + 70, &res), VERIFY_WRONG);
	store_summary_wipe(&sum);
	secure_wipe(&s, sizeof(s));
}

/* A bypass code: its uses and its time; replaced, revoked; the factors
 * and the recovery codes stay. */
static void test_bypass_code(void **state)
{
	struct fixture *f = *state;
	struct store_summary sum;
	struct verify_result res;
	struct mfa_totp t;
	struct code_set s;
	int64_t tag;
	bool had, replaced;

	app(&t, 0xd1);
	make_codes(&s, 4);
	assert_int_equal(store_bypass_new(f->st, "vera", s.canon[0], 1, NOW + 3600, NOW, &f->err),
			 -ENOENT);
	assert_int_equal(dir_entry_count(f->state_dir), 0);
	assert_int_equal(store_provision_totp(f->st, &f->cfg, "vera", &t, "phone", PROVISION_NEW,
					      NOW, &replaced, &f->err),
			 0);
	assert_int_equal(store_recovery_admin(f->st, "vera", &s.codes[3], 1, RECOVERY_ADMIN, NOW,
					      &f->err),
			 0);
	tag = tag_of(f, "vera");
	assert_int_equal(store_bypass_new(f->st, "vera", s.canon[0], 0, NOW + 3600, NOW, &f->err),
			 -EINVAL);
	assert_int_equal(store_bypass_new(f->st, "vera", s.canon[0], STORE_BYPASS_USES_MAX + 1,
					  NOW + 3600, NOW, &f->err),
			 -EINVAL);
	assert_int_equal(store_bypass_new(f->st, "vera", s.canon[0], 1, NOW, NOW, &f->err),
			 -EINVAL);
	assert_int_equal(store_bypass_new(f->st, "vera", s.shown[0], 1, NOW + 1, NOW, &f->err),
			 -EINVAL);
	assert_int_equal(store_bypass_new(f->st, "vera", s.canon[0], 2, NOW + 3600, NOW, &f->err),
			 0);
	summary(f, "vera", &sum);
	assert_int_equal(sum.bypass.uses_left, 2);
	assert_int_equal(sum.bypass.expires, NOW + 3600);
	assert_int_equal(sum.bypass.made, NOW);
	assert_true(store_bypass_outstanding(&sum, NOW));
	assert_false(store_bypass_outstanding(&sum, NOW + 3600));
	assert_int_equal(sum.basis.version, tag);
	assert_int_equal(sum.recovery.left, 1);

	/* Used up: the third use is expired, and counted. */
	assert_int_equal(use_backup(f, "vera", s.canon[0], NOW + 10, &res), VERIFY_OK);
	assert_int_equal(res.backup, BACKUP_BYPASS);
	assert_int_equal(res.remaining, 1);
	assert_int_equal(use_backup(f, "vera", s.canon[0], NOW + 20, &res), VERIFY_OK);
	assert_int_equal(res.remaining, 0);
	assert_int_equal(use_backup(f, "vera", s.canon[0], NOW + 30, &res), VERIFY_EXPIRED);
	assert_int_equal(res.fail_count, 1);
	summary(f, "vera", &sum);
	assert_int_equal(sum.bypass.uses_left, 0);
	assert_false(store_bypass_outstanding(&sum, NOW + 30));
	assert_int_equal(sum.last_login, NOW + 20);
	/* Another replaces it; past its time it is expired. */
	assert_int_equal(store_bypass_new(f->st, "vera", s.canon[1], 5, NOW + 100, NOW + 40,
					  &f->err),
			 0);
	assert_int_equal(use_backup(f, "vera", s.canon[0], NOW + 50, &res), VERIFY_WRONG);
	assert_int_equal(use_backup(f, "vera", s.canon[1], NOW + 99, &res), VERIFY_OK);
	assert_int_equal(res.remaining, 4);
	assert_int_equal(res.fail_count, 0);
	assert_int_equal(use_backup(f, "vera", s.canon[1], NOW + 100, &res), VERIFY_EXPIRED);
	/* The recovery code still works beside it. */
	assert_int_equal(use_backup(f, "vera", s.canon[3], NOW + 110, &res), VERIFY_OK);
	assert_int_equal(res.backup, BACKUP_RECOVERY);
	/* Revoked: a wrong code since; revoking none says so. */
	assert_int_equal(store_bypass_new(f->st, "vera", s.canon[2], 3, NOW + 3600, NOW + 120,
					  &f->err),
			 0);
	assert_int_equal(store_bypass_revoke(f->st, "vera", NOW + 130, &had, &f->err), 0);
	assert_true(had);
	assert_int_equal(use_backup(f, "vera", s.canon[2], NOW + 140, &res), VERIFY_WRONG);
	summary(f, "vera", &sum);
	assert_int_equal(sum.bypass.uses_left, 0);
	assert_int_equal(sum.bypass.made, 0);
	assert_int_equal(store_bypass_revoke(f->st, "vera", NOW + 150, &had, &f->err), 0);
	assert_false(had);
	/* One expired is revoked, but was not outstanding. */
	assert_int_equal(store_bypass_new(f->st, "vera", s.canon[2], 3, NOW + 200, NOW + 150,
					  &f->err),
			 0);
	assert_int_equal(store_bypass_revoke(f->st, "vera", NOW + 200, &had, &f->err), 0);
	assert_false(had);
	assert_int_equal(store_bypass_revoke(f->st, "nobody", NOW, &had, &f->err), 0);
	assert_false(had);
	/* Locked: not checked, nothing spent. */
	assert_int_equal(store_bypass_new(f->st, "vera", s.canon[2], 1, NOW + 3600, NOW + 200,
					  &f->err),
			 0);
	assert_int_equal(store_verify_totp(f->st, &f->cfg, "vera", "x",
					   &(struct store_login){ NOW + 205, "sshd", "" }, &res,
					   &f->err),
			 0);
	assert_int_equal(res.fail_count, 2);
	assert_int_equal(use_backup(f, "vera", "aaaaaaaaaaaa", NOW + 210, &res), VERIFY_WRONG);
	assert_int_equal(res.fail_count, 3);
	assert_true(res.locked_now);
	assert_int_equal(use_backup(f, "vera", s.canon[2], NOW + 220, &res), VERIFY_LOCKED);
	summary(f, "vera", &sum);
	assert_int_equal(sum.bypass.uses_left, 1);
	assert_int_equal(sum.basis.version, tag);
	assert_int_equal(dir_entry_count(f->state_dir), 2); /* vera and her lock */
	store_summary_wipe(&sum);
	secure_wipe(&s, sizeof(s));
}

/* The codes stand in for the verified factors: whatever leaves the user
 * with none takes them along, and nothing short of that does. */
static void test_backup_dropped_with_factors(void **state)
{
	struct fixture *f = *state;
	struct store_reset_what mail = { METHOD_EMAIL, NULL };
	struct store_reset_what phone = { 0, "phone" };
	struct store_reset_what everything = { 0, NULL };
	struct store_reset_result reset;
	struct store_summary sum;
	struct verify_result res;
	struct mfa_totp t;
	struct code_set s;
	unsigned users;
	bool replaced;

	app(&t, 0xe1);
	make_codes(&s, 3);
	for (int round = 0; round < 4; round++) {
		assert_int_equal(store_provision_totp(f->st, &f->cfg, "will", &t, "phone",
						      PROVISION_NEW, NOW, &replaced, &f->err),
				 0);
		assert_int_equal(store_provision_dest(f->st, &f->cfg, "will", METHOD_EMAIL,
						      "will@example.org", "mail", PROVISION_NEW,
						      NOW, &f->err),
				 0);
		assert_int_equal(store_recovery_admin(f->st, "will", s.codes, 2, RECOVERY_ADMIN,
						      NOW, &f->err),
				 0);
		assert_int_equal(store_bypass_new(f->st, "will", s.canon[2], 1, NOW + 3600, NOW,
						  &f->err),
				 0);
		/* One factor of two goes: the codes stay. */
		assert_int_equal(store_reset(f->st, "will", &mail, &reset, &f->err), 0);
		summary(f, "will", &sum);
		assert_int_equal(sum.recovery.made, 2);
		assert_int_equal(sum.bypass.uses_left, 1);
		switch (round) {
		case 0: /* the last by its label */
			assert_int_equal(store_reset(f->st, "will", &phone, &reset, &f->err), 0);
			break;
		case 1: /* the last by the user, with a proof */
			assert_int_equal(store_remove_factor(f->st, "will", &sum.basis,
							     sum.factors[0].id, true, NOW, &f->err),
					 0);
			break;
		case 2: /* everything */
			assert_int_equal(store_reset(f->st, "will", &everything, &reset, &f->err),
					 0);
			break;
		case 3: /* everyone */
			assert_int_equal(store_reset_all(f->st, &users, &f->err), 0);
			break;
		}
		summary(f, "will", &sum);
		assert_int_equal(store_summary_count(&sum, 0), 0);
		assert_int_equal(sum.recovery.made, 0);
		assert_int_equal(sum.recovery.left, 0);
		assert_int_equal(sum.recovery.source, RECOVERY_NONE);
		assert_int_equal(sum.bypass.uses_left, 0);
		assert_int_equal(sum.bypass.expires, 0);
		/* Enrolled again, the old codes are no codes of the new. */
		assert_int_equal(store_provision_totp(f->st, &f->cfg, "will", &t, "phone",
						      PROVISION_REPLACE, NOW, &replaced, &f->err),
				 0);
		for (int i = 0; i < 3; i++)
			assert_int_equal(use_backup(f, "will", s.canon[i], NOW + 10, &res),
					 VERIFY_WRONG);
		assert_int_equal(store_reset(f->st, "will", &everything, &reset, &f->err), 0);
	}
	/* Replacing the only factor keeps a verified one: the codes stay. */
	assert_int_equal(store_provision_totp(f->st, &f->cfg, "will", &t, "phone", PROVISION_NEW,
					      NOW, &replaced, &f->err),
			 0);
	assert_int_equal(store_recovery_admin(f->st, "will", s.codes, 2, RECOVERY_ADMIN, NOW,
					      &f->err),
			 0);
	app(&t, 0xe2);
	assert_int_equal(store_provision_totp(f->st, &f->cfg, "will", &t, "new", PROVISION_REPLACE,
					      NOW, &replaced, &f->err),
			 0);
	assert_true(replaced);
	summary(f, "will", &sum);
	assert_int_equal(sum.recovery.left, 2);
	/* An administrator's code to a new address in place of the only
	 * one: no verified factor is left, nor codes. */
	assert_int_equal(store_reset(f->st, "will", &everything, &reset, &f->err), 0);
	assert_int_equal(store_provision_dest(f->st, &f->cfg, "will", METHOD_EMAIL,
					      "will@example.org", NULL, PROVISION_NEW, NOW,
					      &f->err),
			 0);
	assert_int_equal(store_recovery_admin(f->st, "will", s.codes, 2, RECOVERY_ADMIN, NOW,
					      &f->err),
			 0);
	assert_int_equal(store_code_by_admin(f->st, &f->cfg, "will", METHOD_EMAIL,
					     "new@example.org", "123456", true, NOW, &f->err),
			 0);
	summary(f, "will", &sum);
	assert_int_equal(store_summary_count(&sum, 0), 0);
	assert_int_equal(sum.recovery.made, 0);
	store_summary_wipe(&sum);
	secure_wipe(&s, sizeof(s));
}

/* A lockout notice is due once per interval, noted as it is claimed. */
static void test_lock_notice(void **state)
{
	struct fixture *f = *state;
	struct store_reset_what mail = { METHOD_EMAIL, NULL };
	struct store_reset_result reset;
	struct mfa_totp t;
	bool due, replaced;

	app(&t, 0xf1);
	/* No record: no lockout to tell of, and no record made. */
	assert_int_equal(store_lock_notice_due(f->st, "xena", NOW, 3600, &due, &f->err), 0);
	assert_false(due);
	assert_int_equal(dir_entry_count(f->state_dir), 0);
	assert_int_equal(store_provision_totp(f->st, &f->cfg, "xena", &t, NULL, PROVISION_NEW, NOW,
					      &replaced, &f->err),
			 0);
	assert_int_equal(store_lock_notice_due(f->st, "xena", NOW, 3600, &due, &f->err), 0);
	assert_true(due);
	assert_int_equal(store_lock_notice_due(f->st, "xena", NOW, 3600, &due, &f->err), 0);
	assert_false(due);
	assert_int_equal(store_lock_notice_due(f->st, "xena", NOW + 3599, 3600, &due, &f->err), 0);
	assert_false(due);
	/* A change of factors short of all of them keeps the time. */
	assert_int_equal(store_reset(f->st, "xena", &mail, &reset, &f->err), 0);
	assert_int_equal(store_lock_notice_due(f->st, "xena", NOW + 3600, 3600, &due, &f->err), 0);
	assert_true(due);
	assert_int_equal(store_lock_notice_due(f->st, "xena", NOW + 3660, 60, &due, &f->err), 0);
	assert_true(due);
	/* A clock set back starts afresh rather than never. */
	assert_int_equal(store_lock_notice_due(f->st, "xena", NOW, 3600, &due, &f->err), 0);
	assert_true(due);
	assert_int_equal(store_lock_notice_due(f->st, "xena", NOW + 1, 3600, &due, &f->err), 0);
	assert_false(due);
	assert_int_equal(store_lock_notice_due(f->st, "../x", NOW, 3600, &due, &f->err), -EINVAL);
}

/* An address's enrollment gives its basis and proof too; a version 5
 * record reads without codes and is written as version 6 with them. */
static void test_enroll_sent_basis_and_v5(void **state)
{
	static const char v5[] = "version=5\nuser=yuri\ntag=0123456789abcdef\nnext_id=2\n"
				 "factor=1 totp verified=1 by_admin=0 added=1600000000 used=0 "
				 "alg=sha1 digits=6 period=30 step=0 "
				 "secret=CEIRCEIRCEIRCEIRCEIRCEIRCEIRCEIR label=\n"
				 "code=\ncode.expires=0\ncode.sent=0\ncode.booked=0\n"
				 "enroll_codes=0 0\nfail.count=0\nfail.since=0\nlock.until=0\n"
				 "login.time=0\nlogin.service=\nlogin.rhost=\nskip.since=0\nend\n";
	struct fixture *f = *state;
	struct code_target to = { METHOD_EMAIL, 0, "zoe@example.org" };
	struct store_login at = { NOW + 10, "sshd", "" };
	struct store_summary sum;
	struct verify_result res;
	struct code_set s;
	char *path, text[8192];
	FILE *in;
	size_t len;

	make_codes(&s, 2);
	assert_int_equal(send_code(f, "zoe", EMAIL_CODE_ENROLL, &to, "424242", NOW), 0);
	summary(f, "zoe", &sum);
	assert_int_equal(store_enroll_sent(f->st, &f->cfg, "zoe", &sum.basis, METHOD_EMAIL,
					   "zoe@example.org", NULL, 0, "424242", &at, &res,
					   &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_OK);
	assert_int_equal(res.basis.version, plain_tag(f, "zoe"));
	assert_int_equal(store_recovery_new(f->st, "zoe", &res.basis, s.codes, 2, NOW + 10,
					    &f->err),
			 0);
	summary(f, "zoe", &sum);
	assert_int_equal(sum.recovery.left, 2);
	assert_int_equal(sum.recovery.source, RECOVERY_USER);

	path = path_join(f->state_dir, "yuri");
	write_text(path, v5, 0600);
	summary(f, "yuri", &sum);
	assert_true(sum.exists);
	assert_int_equal(sum.recovery.made, 0);
	assert_int_equal(sum.bypass.uses_left, 0);
	assert_int_equal(store_recovery_admin(f->st, "yuri", s.codes, 2, RECOVERY_ADMIN, NOW,
					      &f->err),
			 0);
	in = fopen(path, "r");
	assert_non_null(in);
	len = fread(text, 1, sizeof(text) - 1, in);
	fclose(in);
	text[len] = '\0';
	assert_non_null(memmem(text, len, "version=6\n", 10));
	assert_non_null(memmem(text, len, "\nrecovery=admin ", 16));
	/* The codes are kept hashed only. */
	assert_null(memmem(text, len, s.canon[0], strlen(s.canon[0])));
	assert_int_equal(tag_of(f, "yuri"), 0x0123456789abcdef);
	assert_int_equal(use_backup(f, "yuri", s.canon[1], NOW + 5, &res), VERIFY_OK);
	free(path);
	store_summary_wipe(&sum);
	secure_wipe(&s, sizeof(s));
}

/* The administrator's addresses and numbers: NEW, ADD within the bound,
 * REPLACE; one being proved is vouched for instead. */
static void test_provision_dest(void **state)
{
	struct fixture *f = *state;
	struct code_target to = { METHOD_EMAIL, 0, "mia@example.org" };
	struct store_summary sum;

	f->cfg.factors_per_method = 2;
	assert_int_equal(send_code(f, "mia", EMAIL_CODE_ENROLL, &to, "123456", NOW), 0);
	assert_int_equal(store_provision_dest(f->st, &f->cfg, "mia", METHOD_EMAIL,
					      "mia@example.org", "main", PROVISION_NEW, NOW,
					      &f->err),
			 0);
	summary(f, "mia", &sum);
	assert_int_equal(sum.n_factors, 1);
	assert_true(sum.factors[0].verified);
	assert_true(sum.factors[0].by_admin);
	assert_string_equal(sum.factors[0].label, "main");
	assert_false(sum.code.pending);
	assert_int_equal(store_provision_dest(f->st, &f->cfg, "mia", METHOD_EMAIL,
					      "mia@example.net", NULL, PROVISION_NEW, NOW, &f->err),
			 -EEXIST);
	assert_int_equal(store_provision_dest(f->st, &f->cfg, "mia", METHOD_EMAIL,
					      "mia@example.net", NULL, PROVISION_ADD, NOW, &f->err),
			 0);
	assert_int_equal(store_provision_dest(f->st, &f->cfg, "mia", METHOD_EMAIL,
					      "mia@example.com", NULL, PROVISION_ADD, NOW, &f->err),
			 -EDQUOT);
	assert_int_equal(store_provision_dest(f->st, &f->cfg, "mia", METHOD_SMS, "+15550100888",
					      NULL, PROVISION_ADD, NOW, &f->err),
			 0);
	assert_int_equal(store_provision_dest(f->st, &f->cfg, "mia", METHOD_EMAIL,
					      "mia@example.com", NULL, PROVISION_REPLACE, NOW,
					      &f->err),
			 0);
	summary(f, "mia", &sum);
	assert_int_equal(store_summary_count(&sum, METHOD_EMAIL), 1);
	assert_int_equal(store_summary_count(&sum, METHOD_SMS), 1);
	assert_string_equal(store_summary_nth(&sum, METHOD_EMAIL, 0)->dest, "mia@example.com");
	assert_int_equal(store_provision_dest(f->st, &f->cfg, "mia", METHOD_SMS, "+1 555", NULL,
					      PROVISION_ADD, NOW, &f->err),
			 -EINVAL);
	assert_int_equal(store_provision_dest(f->st, &f->cfg, "mia", METHOD_TOTP, "x@example.org",
					      NULL, PROVISION_ADD, NOW, &f->err),
			 -EINVAL);
}

static int count_entry(const char *name, enum store_entry kind, const char *message, void *ctx)
{
	unsigned *n = ctx;

	n[kind]++;
	return 0;
}

static void test_check(void **state)
{
	struct fixture *f = *state;
	struct store_summary sum;
	unsigned n[STORE_ENTRY_OTHER + 1] = { 0 };

	summary(f, "frank", &sum);
	assert_int_equal(store_skip(f->st, "frank", &sum.basis, true, NOW, &f->err), 0);
	assert_int_equal(store_check(f->st, count_entry, n, &f->err), 0);
	assert_int_equal(n[STORE_ENTRY_RECORD], 1);
	assert_int_equal(n[STORE_ENTRY_BAD], 0);
	assert_int_equal(n[STORE_ENTRY_OTHER], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_summary_of_nobody, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enroll_then_login, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_basis_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_skip_remembered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_apps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_factor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_factors_per_method, setup, teardown),
		cmocka_unit_test_setup_teardown(test_labels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_basis_tag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version_4_upgraded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lockout_unlock_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_some, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_email_code, setup, teardown),
		cmocka_unit_test_setup_teardown(test_email_keeps_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sms_enrollment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_code_book_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unbook, setup, teardown),
		cmocka_unit_test_setup_teardown(test_provision_dest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovery_codes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovery_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bypass_code, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backup_dropped_with_factors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_notice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enroll_sent_basis_and_v5, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check, setup, teardown),
	};
	int r = unit_preflight();

	if (r != 0)
		return r;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
