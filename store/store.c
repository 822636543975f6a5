/* The store's operations, dispatched to the backend the configuration
 * names; see store.h for the contract and backend.h for a backend. */
#include <errno.h>
#include <string.h>

#include "backend.h"
#include "recovery.h"
#include "secmem.h"
#include "sms.h"

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
	unsigned m = 0;

	for (unsigned i = 0; i < sum->n_factors; i++)
		if (sum->factors[i].verified)
			m |= sum->factors[i].method;
	return m;
}

unsigned store_summary_count(const struct store_summary *sum, unsigned method)
{
	unsigned n = 0;

	for (unsigned i = 0; i < sum->n_factors; i++)
		if (sum->factors[i].verified && (method == 0 || sum->factors[i].method == method))
			n++;
	return n;
}

const struct store_factor *store_summary_factor(const struct store_summary *sum, unsigned id)
{
	for (unsigned i = 0; i < sum->n_factors; i++)
		if (sum->factors[i].id == id)
			return &sum->factors[i];
	return NULL;
}

const struct store_factor *store_summary_nth(const struct store_summary *sum, unsigned mask,
					     unsigned n)
{
	for (unsigned i = 0; i < sum->n_factors; i++)
		if (sum->factors[i].verified && (sum->factors[i].method & mask) && n-- == 0)
			return &sum->factors[i];
	return NULL;
}

const struct store_factor *store_summary_unverified(const struct store_summary *sum,
						    unsigned method)
{
	for (unsigned i = 0; i < sum->n_factors; i++)
		if (!sum->factors[i].verified && sum->factors[i].method == method)
			return &sum->factors[i];
	return NULL;
}

bool store_basis_same(const struct store_basis *a, const struct store_basis *b)
{
	/* The factors, not whether a proof was shown for them. */
	return a->version == b->version;
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

int store_verify_sent(struct store *st, const struct mfa_config *cfg, const char *user,
		      const char *code, unsigned factor, const struct store_login *at,
		      struct verify_result *res, struct mfa_error *err)
{
	if (check_user(user, err) < 0)
		return refuse(res);
	return st->ops->verify_sent(st, cfg, user, code, factor, at, res, err);
}

int store_prove(struct store *st, const struct mfa_config *cfg, const char *user, unsigned factor,
		const char *code, const struct store_login *at, struct verify_result *res,
		struct store_basis *basis, struct mfa_error *err)
{
	memset(basis, 0, sizeof(*basis));
	if (check_user(user, err) < 0)
		return refuse(res);
	if (st->ops->prove == NULL) {
		mfa_error_set(err, "the %s store cannot prove a factor", st->ops->name);
		return refuse(res);
	}
	return st->ops->prove(st, cfg, user, factor, code, at, res, basis, err);
}

bool store_bypass_outstanding(const struct store_summary *sum, int64_t now)
{
	return sum->bypass.uses_left > 0 && sum->bypass.expires > now;
}

/* A backend without an operation yet says so; it never passes. */
static int unsupported(const struct store *st, const char *what, struct mfa_error *err)
{
	mfa_error_set(err, "the %s store cannot %s", st->ops->name, what);
	return -EOPNOTSUPP;
}

/* Recovery and bypass codes reach a backend canonical only. */
static int check_codes(const char *const *codes, unsigned n, struct mfa_error *err)
{
	if (n < 1 || n > RECOVERY_CODES_MAX) {
		mfa_error_set(err, "a set of recovery codes holds 1 to %d codes",
			      RECOVERY_CODES_MAX);
		return -EINVAL;
	}
	for (unsigned i = 0; i < n; i++) {
		if (!recovery_code_is_canonical(codes[i])) {
			mfa_error_set(err, "a recovery code is not in its canonical form");
			return -EINVAL;
		}
		for (unsigned j = 0; j < i; j++)
			if (strcmp(codes[i], codes[j]) == 0) {
				mfa_error_set(err, "a set of recovery codes holds a code twice");
				return -EINVAL;
			}
	}
	return 0;
}

int store_verify_backup(struct store *st, const struct mfa_config *cfg, const char *user,
			const char *code, const struct store_login *at, struct verify_result *res,
			struct mfa_error *err)
{
	if (check_user(user, err) < 0)
		return refuse(res);
	if (st->ops->verify_backup == NULL) {
		(void)unsupported(st, "check recovery codes", err);
		return refuse(res);
	}
	return st->ops->verify_backup(st, cfg, user, code, at, res, err);
}

int store_recovery_new(struct store *st, const char *user, const struct store_basis *basis,
		       const char *const *codes, unsigned n, time_t now, struct mfa_error *err)
{
	if (check_user(user, err) < 0 || need_basis(basis, err) < 0 ||
	    check_codes(codes, n, err) < 0)
		return -EINVAL;
	if (st->ops->recovery_new == NULL)
		return unsupported(st, "keep recovery codes", err);
	return st->ops->recovery_new(st, user, basis, codes, n, now, err);
}

int store_recovery_admin(struct store *st, const char *user, const char *const *codes, unsigned n,
			 enum store_recovery_source source, time_t now, struct mfa_error *err)
{
	if (check_user(user, err) < 0 || check_codes(codes, n, err) < 0)
		return -EINVAL;
	if (source != RECOVERY_ADMIN && source != RECOVERY_IMPORTED) {
		mfa_error_set(err, "an administrator's recovery codes are the admin's or imported");
		return -EINVAL;
	}
	if (st->ops->recovery_admin == NULL)
		return unsupported(st, "keep recovery codes", err);
	return st->ops->recovery_admin(st, user, codes, n, source, now, err);
}

int store_bypass_new(struct store *st, const char *user, const char *code, unsigned uses,
		     int64_t expires, time_t now, struct mfa_error *err)
{
	if (check_user(user, err) < 0 || check_codes(&code, 1, err) < 0)
		return -EINVAL;
	if (uses < 1 || uses > STORE_BYPASS_USES_MAX || expires <= (int64_t)now) {
		mfa_error_set(err, "a bypass code works 1 to %d times, until a time ahead",
			      STORE_BYPASS_USES_MAX);
		return -EINVAL;
	}
	if (st->ops->bypass_new == NULL)
		return unsupported(st, "keep bypass codes", err);
	return st->ops->bypass_new(st, user, code, uses, expires, now, err);
}

int store_bypass_revoke(struct store *st, const char *user, time_t now, bool *had,
			struct mfa_error *err)
{
	*had = false;
	if (check_user(user, err) < 0)
		return -EINVAL;
	if (st->ops->bypass_revoke == NULL)
		return unsupported(st, "keep bypass codes", err);
	return st->ops->bypass_revoke(st, user, now, had, err);
}

int store_lock_notice_due(struct store *st, const char *user, time_t now, unsigned interval,
			  bool *due, struct mfa_error *err)
{
	*due = false;
	if (check_user(user, err) < 0)
		return -EINVAL;
	if (st->ops->lock_notice_due == NULL)
		return unsupported(st, "keep lockout notices", err);
	return st->ops->lock_notice_due(st, user, now, interval, due, err);
}

/* A label is checked here for every backend: it is shown in listings. */
static int check_label(const char *label, struct mfa_error *err)
{
	if (label != NULL && !factor_label_valid(label)) {
		mfa_error_set(err, "a label is 1 to %d letters, digits, spaces or .-_+@()",
			      FACTOR_LABEL_MAX);
		return -EINVAL;
	}
	return 0;
}

int store_enroll_totp(struct store *st, const struct mfa_config *cfg, const char *user,
		      const struct store_basis *basis, const struct mfa_totp *t, const char *label,
		      unsigned replaces, const char *code, const struct store_login *at,
		      struct verify_result *res, struct mfa_error *err)
{
	if (check_user(user, err) < 0 || need_basis(basis, err) < 0 || check_label(label, err) < 0)
		return refuse(res);
	return st->ops->enroll_totp(st, cfg, user, basis, t, label, replaces, code, at, res, err);
}

/* A destination of the method's own form: an address, or an E.164 number. */
static int check_dest(unsigned method, const char *dest, struct mfa_error *err)
{
	if (method == METHOD_EMAIL && dest != NULL && email_address_valid(dest))
		return 0;
	if (method == METHOD_SMS && dest != NULL && sms_number_valid(dest))
		return 0;
	mfa_error_set(err, method == METHOD_SMS ?
				   "not a phone number in E.164 form (+ and digits)" :
			   method == METHOD_EMAIL ? "not a valid email address" :
						    "codes are sent by email or sms only");
	return -EINVAL;
}

int store_enroll_sent(struct store *st, const struct mfa_config *cfg, const char *user,
		      const struct store_basis *basis, unsigned method, const char *dest,
		      const char *label, unsigned replaces, const char *code,
		      const struct store_login *at, struct verify_result *res,
		      struct mfa_error *err)
{
	if (check_user(user, err) < 0 || need_basis(basis, err) < 0 ||
	    check_dest(method, dest, err) < 0 || check_label(label, err) < 0)
		return refuse(res);
	return st->ops->enroll_sent(st, cfg, user, basis, method, dest, label, replaces, code, at,
				    res, err);
}

int64_t email_booking_window(const struct mfa_config *cfg, unsigned method)
{
	return (int64_t)(method == METHOD_SMS ? cfg->sms.timeout : cfg->email.timeout) + 5;
}

int store_code_book(struct store *st, const struct mfa_config *cfg, const char *user,
		    enum email_code_use use, const struct store_basis *basis,
		    const struct code_target *to, time_t now, struct email_booking *booking,
		    long *wait, bool *sending, struct mfa_error *err)
{
	memset(booking, 0, sizeof(*booking));
	*wait = 0;
	*sending = false;
	if (check_user(user, err) < 0 || (use == EMAIL_CODE_ENROLL && need_basis(basis, err) < 0))
		return -EINVAL;
	if (use == EMAIL_CODE_ENROLL && check_dest(to->method, to->dest, err) < 0)
		return -EINVAL;
	return st->ops->code_book(st, cfg, user, use, basis, to, now, booking, wait, sending, err);
}

int store_code_sent(struct store *st, const struct mfa_config *cfg, const char *user,
		    const struct store_basis *basis, const struct code_target *to, const char *code,
		    const struct email_booking *booking, time_t now, struct mfa_error *err)
{
	if (check_user(user, err) < 0 ||
	    (booking->use == EMAIL_CODE_ENROLL && need_basis(basis, err) < 0))
		return -EINVAL;
	return st->ops->code_sent(st, cfg, user, basis, to, code, booking, now, err);
}

int store_code_unbook(struct store *st, const char *user, const struct email_booking *booking,
		      struct mfa_error *err)
{
	if (check_user(user, err) < 0)
		return -EINVAL;
	return st->ops->code_unbook(st, user, booking, err);
}

int store_skip(struct store *st, const char *user, const struct store_basis *basis, bool remember,
	       time_t now, struct mfa_error *err)
{
	if (check_user(user, err) < 0 || need_basis(basis, err) < 0)
		return -EINVAL;
	return st->ops->skip(st, user, basis, remember, now, err);
}

int store_remove_factor(struct store *st, const char *user, const struct store_basis *basis,
			unsigned factor, bool remember_skip, time_t now, struct mfa_error *err)
{
	if (check_user(user, err) < 0 || need_basis(basis, err) < 0)
		return -EINVAL;
	return st->ops->remove_factor(st, user, basis, factor, remember_skip, now, err);
}

int store_label_factor(struct store *st, const char *user, unsigned factor, const char *label,
		       struct mfa_error *err)
{
	if (check_user(user, err) < 0 || label == NULL || check_label(label, err) < 0)
		return -EINVAL;
	return st->ops->label_factor(st, user, factor, label, err);
}

int store_provision_totp(struct store *st, const struct mfa_config *cfg, const char *user,
			 const struct mfa_totp *t, const char *label, enum provision_mode mode,
			 time_t now, bool *replaced, struct mfa_error *err)
{
	*replaced = false;
	if (check_user(user, err) < 0 || check_label(label, err) < 0)
		return -EINVAL;
	return st->ops->provision_totp(st, cfg, user, t, label, mode, now, replaced, err);
}

int store_provision_dest(struct store *st, const struct mfa_config *cfg, const char *user,
			 unsigned method, const char *dest, const char *label,
			 enum provision_mode mode, time_t now, struct mfa_error *err)
{
	if (check_user(user, err) < 0 || check_dest(method, dest, err) < 0 ||
	    check_label(label, err) < 0)
		return -EINVAL;
	return st->ops->provision_dest(st, cfg, user, method, dest, label, mode, now, err);
}

int store_code_by_admin(struct store *st, const struct mfa_config *cfg, const char *user,
			unsigned method, const char *dest, const char *code, bool replace,
			time_t now, struct mfa_error *err)
{
	if (check_user(user, err) < 0 || check_dest(method, dest, err) < 0)
		return -EINVAL;
	return st->ops->code_by_admin(st, cfg, user, method, dest, code, replace, now, err);
}

int store_reset(struct store *st, const char *user, const struct store_reset_what *what,
		struct store_reset_result *res, struct mfa_error *err)
{
	static const struct store_reset_what everything = { 0, NULL };

	memset(res, 0, sizeof(*res));
	if (check_user(user, err) < 0 || (what != NULL && check_label(what->label, err) < 0))
		return -EINVAL;
	return st->ops->reset(st, user, what != NULL ? what : &everything, res, err);
}

int store_reset_all(struct store *st, unsigned *users, struct mfa_error *err)
{
	*users = 0;
	return st->ops->reset_all(st, users, err);
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
