/* Unit tests of the store's operations (store.h) on the files backend:
 * the contract every backend keeps, asked through the public interface
 * only, with codes from the same TOTP code as an app would show. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "config.h"
#include "store.h"
#include "totp.h"
#include "unit_helpers.h"

#define NOW ((time_t)1700000000)

struct fixture {
	char *dir;
	struct mfa_config cfg;
	struct store *st;
	struct mfa_error err;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char *conf, *statedir, text[1024];

	assert_non_null(f);
	f->dir = scratch_new();
	conf = path_join(f->dir, "pam_mfa.conf");
	statedir = path_join(f->dir, "state");
	(void)snprintf(text, sizeof(text),
		       "state_dir = \"%s\";\nlockout = { attempts = 3; interval = 600; "
		       "unlock_after = 300; };\n",
		       statedir);
	write_text(conf, text, 0600);
	assert_int_equal(config_load(conf, &f->cfg, &f->err), 0);
	assert_int_equal(store_open(&f->cfg, STORE_CREATE, &f->st, &f->err), 0);
	free(conf);
	free(statedir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->st);
	config_free(&f->cfg);
	scratch_remove(f->dir);
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

static void summary(struct fixture *f, const char *user, struct store_summary *sum)
{
	assert_int_equal(store_summary(f->st, user, sum, &f->err), 0);
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
	assert_int_equal(store_summary(f->st, "../etc", &sum, &f->err), -EINVAL);
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
	char code[16];

	app(&t, 0x11);
	summary(f, "alice", &sum);
	assert_int_equal(store_enroll_totp(f->st, &f->cfg, "alice", &sum.basis, &t, "000000", &at,
					   &res, &f->err),
			 0);
	if (res.outcome == VERIFY_OK) { /* 000000 may be right, once in 10^6 */
		skip();
	}
	assert_int_equal(res.outcome, VERIFY_WRONG);
	summary(f, "alice", &sum);
	assert_false(sum.exists);

	code_at(&t, NOW, code);
	assert_int_equal(store_enroll_totp(f->st, &f->cfg, "alice", &sum.basis, &t, code, &at, &res,
					   &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_OK);
	summary(f, "alice", &sum);
	assert_true(sum.exists);
	assert_int_equal(store_summary_methods(&sum), METHOD_TOTP);
	assert_int_equal(sum.last_login, NOW);
	assert_string_equal(sum.last_service, "sshd");

	/* The code that proved the app is spent; the next step's is good once. */
	assert_int_equal(store_verify_totp(f->st, &f->cfg, "alice", code, &at, &res, &f->err), 0);
	assert_int_equal(res.outcome, VERIFY_REPLAY);
	at.now = NOW + 30;
	code_at(&t, at.now, code);
	assert_int_equal(store_verify_totp(f->st, &f->cfg, "alice", code, &at, &res, &f->err), 0);
	assert_int_equal(res.outcome, VERIFY_OK);
	assert_int_equal(res.fail_count, 0);
	assert_int_equal(store_verify_totp(f->st, &f->cfg, "alice", code, &at, &res, &f->err), 0);
	assert_int_equal(res.outcome, VERIFY_REPLAY);
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
	code_at(&first, NOW, code);
	assert_int_equal(store_enroll_totp(f->st, &f->cfg, "bob", &before.basis, &first, code, &at,
					   &res, &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_OK);

	app(&second, 0x33);
	code_at(&second, NOW, code);
	/* No basis is no enrollment: never an unchecked write. */
	assert_int_equal(store_enroll_totp(f->st, &f->cfg, "bob", NULL, &second, code, &at, &res,
					   &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_STORE_ERROR);
	assert_int_equal(store_skip(f->st, "bob", NULL, false, NOW, &f->err), -EINVAL);
	assert_int_equal(store_enroll_totp(f->st, &f->cfg, "bob", &before.basis, &second, code, &at,
					   &res, &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_NOT_ENROLLED);
	assert_int_equal(store_skip(f->st, "bob", &before.basis, true, NOW, &f->err), -ESTALE);
	assert_int_equal(store_skip(f->st, "bob", &before.basis, false, NOW, &f->err), -ESTALE);

	/* Still the first app: its next code works, the second's does not. */
	summary(f, "bob", &after);
	assert_false(store_basis_same(&before.basis, &after.basis));
	at.now = NOW + 60;
	code_at(&second, at.now, code);
	assert_int_equal(store_verify_totp(f->st, &f->cfg, "bob", code, &at, &res, &f->err), 0);
	assert_int_equal(res.outcome, VERIFY_WRONG);
	code_at(&first, at.now, code);
	assert_int_equal(store_verify_totp(f->st, &f->cfg, "bob", code, &at, &res, &f->err), 0);
	assert_int_equal(res.outcome, VERIFY_OK);
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
}

/* Failures add up to the lockout; unlock clears them; reset forgets. */
static void test_lockout_unlock_reset(void **state)
{
	struct fixture *f = *state;
	struct store_login at = { NOW, "sshd", "" };
	struct store_reset_result reset;
	struct store_summary sum;
	struct verify_result res;
	struct mfa_totp t;
	unsigned failures;
	bool replaced;
	char code[16];

	app(&t, 0x44);
	assert_int_equal(store_provision_totp(f->st, "dave", &t, false, NOW, &replaced, &f->err),
			 0);
	assert_false(replaced);
	assert_int_equal(store_provision_totp(f->st, "dave", &t, false, NOW, &replaced, &f->err),
			 -EEXIST);
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(store_verify_totp(f->st, &f->cfg, "dave", "x", &at, &res, &f->err),
				 0);
		assert_int_equal(res.outcome, VERIFY_WRONG);
		assert_int_equal(res.fail_count, i);
		assert_int_equal(res.locked_now, i == 3);
	}
	code_at(&t, NOW, code);
	assert_int_equal(store_verify_totp(f->st, &f->cfg, "dave", code, &at, &res, &f->err), 0);
	assert_int_equal(res.outcome, VERIFY_LOCKED);
	summary(f, "dave", &sum);
	assert_int_equal(sum.locked_until, NOW + 300);

	assert_int_equal(store_unlock(f->st, "dave", &failures, &f->err), 0);
	assert_int_equal(failures, 3);
	assert_int_equal(store_verify_totp(f->st, &f->cfg, "dave", code, &at, &res, &f->err), 0);
	assert_int_equal(res.outcome, VERIFY_OK);
	assert_int_equal(store_unlock(f->st, "nobody", &failures, &f->err), -ENOENT);

	assert_int_equal(store_reset(f->st, "dave", METHOD_EMAIL, &reset, &f->err), 0);
	assert_false(reset.had_state);
	assert_int_equal(store_reset(f->st, "dave", METHOD_TOTP, &reset, &f->err), 0);
	assert_true(reset.had_state);
	assert_true(reset.had_factor);
	summary(f, "dave", &sum);
	assert_true(sum.exists);
	assert_int_equal(store_summary_methods(&sum), 0);
	assert_int_equal(store_reset(f->st, "dave", 0, &reset, &f->err), 0);
	assert_true(reset.had_state);
	summary(f, "dave", &sum);
	assert_false(sum.exists);
}

/* An email code: booked, sent, then good once; the limits hold. */
static void test_email_code(void **state)
{
	struct fixture *f = *state;
	struct store_login at = { NOW, "sshd", "" };
	struct email_booking booking;
	struct store_summary sum;
	struct verify_result res;
	bool sending;
	long wait;

	assert_int_equal(store_provision_email(f->st, "erin", "erin@example.org", false, NOW,
					       &f->err),
			 0);
	summary(f, "erin", &sum);
	assert_true(sum.email.verified);
	assert_true(sum.email.by_admin);
	assert_int_equal(store_email_book(f->st, &f->cfg, "erin", EMAIL_CODE_LOGIN, NULL,
					  "erin@example.org", NOW, &booking, &wait, &sending,
					  &f->err),
			 0);
	/* Another login meanwhile waits for the code on its way. */
	{
		struct email_booking other;

		assert_int_equal(store_email_book(f->st, &f->cfg, "erin", EMAIL_CODE_LOGIN, NULL,
						  "erin@example.org", NOW + 1, &other, &wait,
						  &sending, &f->err),
				 -EAGAIN);
		assert_true(sending);
		assert_true(wait > 0);
	}
	assert_int_equal(store_email_sent(f->st, &f->cfg, "erin", NULL, "erin@example.org",
					  "123456", &booking, NOW, &f->err),
			 0);
	/* The code of the verified address only: not of another one. */
	assert_int_equal(store_verify_email(f->st, &f->cfg, "erin", "123456", "eve@example.org",
					    &at, &res, &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_NOT_ENROLLED);
	assert_int_equal(store_verify_email(f->st, &f->cfg, "erin", "654321", "erin@example.org",
					    &at, &res, &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_WRONG);
	assert_int_equal(store_verify_email(f->st, &f->cfg, "erin", "123456", "erin@example.org",
					    &at, &res, &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_OK);
	assert_int_equal(store_verify_email(f->st, &f->cfg, "erin", "123456", "erin@example.org",
					    &at, &res, &f->err),
			 0);
	assert_int_equal(res.outcome, VERIFY_EXPIRED);
}

/* An email code forgives no failure (a host makes the codes it mails);
 * a right TOTP code does, as in the postgresql backend. */
static void test_email_keeps_failures(void **state)
{
	struct fixture *f = *state;
	struct store_login at = { NOW, "sshd", "" };
	struct email_booking booking;
	struct store_summary sum;
	struct verify_result res;
	struct mfa_totp t;
	bool sending, replaced;
	long wait;
	char code[16];

	app(&t, 0x55);
	assert_int_equal(store_provision_totp(f->st, "gus", &t, false, NOW, &replaced, &f->err), 0);
	assert_int_equal(store_provision_email(f->st, "gus", "gus@example.org", false, NOW,
					       &f->err),
			 0);
	for (int i = 1; i <= 2; i++) {
		assert_int_equal(store_verify_totp(f->st, &f->cfg, "gus", "x", &at, &res, &f->err),
				 0);
		assert_int_equal(res.fail_count, i);
	}
	assert_int_equal(store_email_book(f->st, &f->cfg, "gus", EMAIL_CODE_LOGIN, NULL,
					  "gus@example.org", NOW, &booking, &wait, &sending,
					  &f->err),
			 0);
	assert_int_equal(store_email_sent(f->st, &f->cfg, "gus", NULL, "gus@example.org", "123456",
					  &booking, NOW, &f->err),
			 0);
	assert_int_equal(store_verify_email(f->st, &f->cfg, "gus", "123456", "gus@example.org", &at,
					    &res, &f->err),
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
	at.now = NOW + 301;
	code_at(&t, at.now, code);
	assert_int_equal(store_verify_totp(f->st, &f->cfg, "gus", code, &at, &res, &f->err), 0);
	assert_int_equal(res.outcome, VERIFY_OK);
	assert_int_equal(res.fail_count, 0);
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
		cmocka_unit_test_setup_teardown(test_lockout_unlock_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_email_code, setup, teardown),
		cmocka_unit_test_setup_teardown(test_email_keeps_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check, setup, teardown),
	};
	int r = unit_preflight();

	if (r != 0)
		return r;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
