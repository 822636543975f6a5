/* The store's operations, dispatched to the backend the configuration
 * names; see store.h for the contract and backend.h for a backend. */
#include <errno.h>
#include <string.h>

#include "backend.h"
#include "secmem.h"

int store_open(const struct mfa_config *cfg, int flags, struct store **out, struct mfa_error *err)
{
	*out = NULL;
	if (cfg->store.backend == STORE_BACKEND_POSTGRESQL)
		return pg_store_open(cfg, flags, out, err);
	return files_store_open(cfg, flags, out, err);
}

void store_close(struct store *st)
{
	if (st != NULL)
		st->ops->close(st);
}

unsigned store_summary_methods(const struct store_summary *sum)
{
	return (sum->totp.enrolled ? METHOD_TOTP : 0) | (sum->email.verified ? METHOD_EMAIL : 0);
}

bool store_basis_same(const struct store_basis *a, const struct store_basis *b)
{
	/* Both, and both always: not a shortcut that would time the factors. */
	bool factors = record_factors_equal(&a->factors, &b->factors);
	bool version = a->version == b->version;

	return factors & version;
}

void store_login_facts(const struct store_summary *sum, const struct policy_decision *pd,
		       int64_t enroll_by, int64_t now, struct login_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->policy = pd->policy;
	f->allowed = pd->methods;
	f->held = store_summary_methods(sum);
	f->skip_remembered = sum->skip_since > 0;
	f->locked_until = sum->locked_until;
	f->enroll_by = enroll_by;
	f->now = now;
}

void store_summary_wipe(struct store_summary *sum)
{
	secure_wipe(sum, sizeof(*sum));
}

/* A name that cannot be a user's never reaches a backend. */
static int check_user(const char *user, struct mfa_error *err)
{
	if (user == NULL || !user_name_valid(user)) {
		mfa_error_set(err, "invalid user name");
		return -EINVAL;
	}
	return 0;
}

int store_summary(struct store *st, const char *user, struct store_summary *out,
		  struct mfa_error *err)
{
	memset(out, 0, sizeof(*out));
	if (check_user(user, err) < 0)
		return -EINVAL;
	return st->ops->summary(st, user, out, err);
}

/* Every enrollment or skip write names its basis: without one it would be
 * an unchecked write behind the user's back. */
static int need_basis(const struct store_basis *basis, struct mfa_error *err)
{
	if (basis == NULL) {
		mfa_error_set(err, "an enrollment without the factors it was offered on");
		return -EINVAL;
	}
	return 0;
}

/* A check that never ran is a store error, never a pass. */
static int refuse(struct verify_result *res)
{
	memset(res, 0, sizeof(*res));
	res->outcome = VERIFY_STORE_ERROR;
	return 0;
}

int store_verify_totp(struct store *st, const struct mfa_config *cfg, const char *user,
		      const char *code, const struct store_login *at, struct verify_result *res,
		      struct mfa_error *err)
{
	if (check_user(user, err) < 0)
		return refuse(res);
	return st->ops->verify_totp(st, cfg, user, code, at, res, err);
}

int store_verify_email(struct store *st, const struct mfa_config *cfg, const char *user,
		       const char *code, const char *address, const struct store_login *at,
		       struct verify_result *res, struct mfa_error *err)
{
	if (check_user(user, err) < 0)
		return refuse(res);
	return st->ops->verify_email(st, cfg, user, code, address, at, res, err);
}

int store_enroll_totp(struct store *st, const struct mfa_config *cfg, const char *user,
		      const struct store_basis *basis, const struct mfa_totp *t, const char *code,
		      const struct store_login *at, struct verify_result *res,
		      struct mfa_error *err)
{
	if (check_user(user, err) < 0 || need_basis(basis, err) < 0)
		return refuse(res);
	return st->ops->enroll_totp(st, cfg, user, basis, t, code, at, res, err);
}

int store_enroll_email(struct store *st, const struct mfa_config *cfg, const char *user,
		       const struct store_basis *basis, const char *address, const char *code,
		       const struct store_login *at, struct verify_result *res,
		       struct mfa_error *err)
{
	if (check_user(user, err) < 0 || need_basis(basis, err) < 0)
		return refuse(res);
	return st->ops->enroll_email(st, cfg, user, basis, address, code, at, res, err);
}

int64_t email_booking_window(const struct mfa_config *cfg)
{
	return (int64_t)cfg->email.timeout + 5;
}

int store_email_book(struct store *st, const struct mfa_config *cfg, const char *user,
		     enum email_code_use use, const struct store_basis *basis, const char *address,
		     time_t now, struct email_booking *booking, long *wait, bool *sending,
		     struct mfa_error *err)
{
	memset(booking, 0, sizeof(*booking));
	*wait = 0;
	*sending = false;
	if (check_user(user, err) < 0 || (use == EMAIL_CODE_ENROLL && need_basis(basis, err) < 0))
		return -EINVAL;
	return st->ops->email_book(st, cfg, user, use, basis, address, now, booking, wait, sending,
				   err);
}

int store_email_sent(struct store *st, const struct mfa_config *cfg, const char *user,
		     const struct store_basis *basis, const char *address, const char *code,
		     const struct email_booking *booking, time_t now, struct mfa_error *err)
{
	if (check_user(user, err) < 0 ||
	    (booking->use == EMAIL_CODE_ENROLL && need_basis(basis, err) < 0))
		return -EINVAL;
	return st->ops->email_sent(st, cfg, user, basis, address, code, booking, now, err);
}

int store_email_unbook(struct store *st, const char *user, const struct email_booking *booking,
		       struct mfa_error *err)
{
	if (check_user(user, err) < 0)
		return -EINVAL;
	return st->ops->email_unbook(st, user, booking, err);
}

int store_skip(struct store *st, const char *user, const struct store_basis *basis, bool remember,
	       time_t now, struct mfa_error *err)
{
	if (check_user(user, err) < 0 || need_basis(basis, err) < 0)
		return -EINVAL;
	return st->ops->skip(st, user, basis, remember, now, err);
}

int store_provision_totp(struct store *st, const char *user, const struct mfa_totp *t, bool replace,
			 time_t now, bool *replaced, struct mfa_error *err)
{
	*replaced = false;
	if (check_user(user, err) < 0)
		return -EINVAL;
	return st->ops->provision_totp(st, user, t, replace, now, replaced, err);
}

int store_provision_email(struct store *st, const char *user, const char *address, bool replace,
			  time_t now, struct mfa_error *err)
{
	if (check_user(user, err) < 0)
		return -EINVAL;
	return st->ops->provision_email(st, user, address, replace, now, err);
}

int store_email_code_by_admin(struct store *st, const struct mfa_config *cfg, const char *user,
			      const char *address, const char *code, bool replace, time_t now,
			      struct mfa_error *err)
{
	if (check_user(user, err) < 0)
		return -EINVAL;
	return st->ops->email_code_by_admin(st, cfg, user, address, code, replace, now, err);
}

int store_reset(struct store *st, const char *user, unsigned method, struct store_reset_result *res,
		struct mfa_error *err)
{
	memset(res, 0, sizeof(*res));
	if (check_user(user, err) < 0)
		return -EINVAL;
	return st->ops->reset(st, user, method, res, err);
}

int store_unlock(struct store *st, const char *user, unsigned *failures, struct mfa_error *err)
{
	*failures = 0;
	if (check_user(user, err) < 0)
		return -EINVAL;
	return st->ops->unlock(st, user, failures, err);
}

int store_list(struct store *st, int (*cb)(const char *user, void *ctx), void *ctx,
	       struct mfa_error *err)
{
	return st->ops->list(st, cb, ctx, err);
}

int store_snapshot(struct store *st, struct mfa_error *err)
{
	if (st->ops->snapshot == NULL)
		return -EOPNOTSUPP;
	return st->ops->snapshot(st, err);
}

int store_check(struct store *st,
		int (*cb)(const char *name, enum store_entry kind, const char *message, void *ctx),
		void *ctx, struct mfa_error *err)
{
	return st->ops->check(st, cb, ctx, err);
}

void store_defer_sync(struct store *st)
{
	st->ops->defer_sync(st);
}

int store_sync(struct store *st, struct mfa_error *err)
{
	return st->ops->sync(st, err);
}
