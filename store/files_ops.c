/* The store's operations over the files backend's records (files.c): each
 * one read-modify-write of a user's record under its lock, through
 * files_update().  What a successful login writes is record_login(), and
 * note_login() for a TOTP code, which also forgives failures; where an
 * email code's salted hash is kept, set_pending_code(). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "code_hash.h"
#include "files.h"
#include "lockout.h"
#include "secmem.h"

static struct files_store *files(struct store *st)
{
	return (struct files_store *)st;
}

/* What every successful second factor writes: the login, where and when. */
static void record_login(struct mfa_record *rec, const struct store_login *at)
{
	rec->last_login = (int64_t)at->now;
	record_set_text(rec->last_service, at->service);
	record_set_text(rec->last_rhost, at->rhost);
}

/* A right TOTP code also forgives the failures.  An email code does not
 * (record_login() alone): the host that mailed it made it, so its success
 * proves nothing about the failures counted before, as sql/006 has it. */
static void note_login(struct mfa_record *rec, const struct store_login *at)
{
	lockout_clear(rec);
	record_login(rec, at);
}

/* A new factor forgets an opt-out skip and the failures of the old. */
static void note_new_factor(struct mfa_record *rec)
{
	lockout_clear(rec);
	rec->skip_since = 0;
}

static void files_close_op(struct store *st)
{
	files_close(files(st));
}

static void summarize(const struct mfa_record *rec, struct store_summary *out)
{
	memcpy(out->user, rec->user, sizeof(out->user));
	out->totp.enrolled = rec->totp.enrolled;
	out->totp.params = rec->totp.params;
	out->totp.enrolled_at = rec->totp.enrolled_at;
	memcpy(out->email.address, rec->email.address, sizeof(out->email.address));
	out->email.verified = rec->email.verified;
	out->email.by_admin = rec->email.by_admin;
	out->email.enrolled_at = rec->email.enrolled_at;
	out->email.code_pending = rec->email.code_pending;
	out->email.code_expires = rec->email.code_expires;
	out->fail_count = rec->fail_count;
	out->locked_until = rec->locked_until;
	out->last_login = rec->last_login;
	memcpy(out->last_service, rec->last_service, sizeof(out->last_service));
	memcpy(out->last_rhost, rec->last_rhost, sizeof(out->last_rhost));
	out->skip_since = rec->skip_since;
	record_factors_take(rec, &out->basis.factors);
}

/* Without the lock: records are replaced atomically, so a read sees every
 * change committed before it, and nobody holds the lock while typing. */
static int files_summary(struct store *st, const char *user, struct store_summary *out,
			 struct mfa_error *err)
{
	struct mfa_record rec;
	int r = files_load(files(st), user, &rec, err);

	if (r == -ENOENT) {
		record_init(&rec, user);
		r = 0;
	} else if (r == 0) {
		out->exists = true;
	}
	if (r == 0)
		summarize(&rec, out);
	record_wipe(&rec);
	return r;
}

/* A verification's result becomes the outcome: a check that could not be
 * recorded accepted nothing. */
static int verify_done(int r, struct verify_result *res)
{
	if (r == -ESTALE) {
		res->outcome = VERIFY_NOT_ENROLLED;
		return 0;
	}
	if (r < 0) {
		res->outcome = VERIFY_STORE_ERROR;
		return r == -ENOMEM ? r : 0;
	}
	return 0;
}

struct totp_check {
	const struct mfa_config *cfg;
	const char *code;
	const struct store_login *at;
	struct verify_result *res;
};

/* Under the lock, on a fresh read: of two logins racing with one code,
 * the second sees the first's last_step and is refused. */
static int check_totp(struct mfa_record *rec, bool exists, void *p)
{
	struct totp_check *c = p;
	struct verify_result *res = c->res;
	int v;

	if (!exists || !rec->totp.enrolled) {
		res->outcome = VERIFY_NOT_ENROLLED;
		return FILES_KEEP;
	}
	if (lockout_active(rec, c->at->now)) {
		res->outcome = VERIFY_LOCKED;
		return FILES_KEEP;
	}
	v = totp_verify(rec->totp.secret, rec->totp.secret_len, &rec->totp.params, c->code,
			c->at->now, c->cfg->totp.window, rec->totp.last_step, &res->step);
	if (v == 1) {
		rec->totp.last_step = res->step;
		note_login(rec, c->at);
		res->outcome = VERIFY_OK;
	} else {
		res->locked_now = lockout_record_failure(rec, c->cfg, c->at->now);
		res->outcome = v == 0 ? VERIFY_REPLAY : VERIFY_WRONG;
	}
	res->fail_count = rec->fail_count;
	return FILES_WRITE;
}

static int files_verify_totp(struct store *st, const struct mfa_config *cfg, const char *user,
			     const char *code, const struct store_login *at,
			     struct verify_result *res, struct mfa_error *err)
{
	struct totp_check c = { cfg, code, at, res };

	memset(res, 0, sizeof(*res));
	return verify_done(files_update(files(st), user, NULL, check_totp, &c, err), res);
}

struct email_check {
	const struct mfa_config *cfg;
	const char *code;
	const char *address;
	bool enrolling; /* proving address, not logging in with it */
	const struct store_login *at;
	struct verify_result *res;
};

/* An emailed code against the pending one: single use, a right code
 * spent and an expired one too; failures count toward the lockout. */
static int check_email(struct mfa_record *rec, bool exists, void *p)
{
	struct email_check *c = p;
	struct verify_result *res = c->res;
	struct mfa_email *e = &rec->email;
	unsigned char hash[EMAIL_HASH_LEN];
	bool match = false;

	if (c->enrolling ? e->verified : !e->verified) {
		res->outcome = VERIFY_NOT_ENROLLED;
		return FILES_KEEP;
	}
	if (strcmp(e->address, c->address) != 0) {
		res->outcome = VERIFY_NOT_ENROLLED;
		return FILES_KEEP;
	}
	if (lockout_active(rec, c->at->now)) {
		res->outcome = VERIFY_LOCKED;
		return FILES_KEEP;
	}
	if (e->code_pending && email_code_hash(e->code_salt, c->code, hash) == 0)
		match = consttime_equal(hash, e->code_hash, EMAIL_HASH_LEN);
	secure_wipe(hash, sizeof(hash));
	if (match && (int64_t)c->at->now < e->code_expires) {
		res->outcome = VERIFY_OK;
		record_login(rec, c->at);
		if (c->enrolling) {
			e->verified = true;
			e->enrolled_at = (int64_t)c->at->now;
			rec->skip_since = 0;
		}
	} else {
		res->locked_now = lockout_record_failure(rec, c->cfg, c->at->now);
		res->outcome = match || !e->code_pending ? VERIFY_EXPIRED : VERIFY_WRONG;
	}
	if (res->outcome != VERIFY_WRONG) {
		e->code_pending = false;
		secure_wipe(e->code_salt, sizeof(e->code_salt));
		secure_wipe(e->code_hash, sizeof(e->code_hash));
		e->code_expires = 0;
	}
	res->fail_count = rec->fail_count;
	return FILES_WRITE;
}

static int files_verify_email(struct store *st, const struct mfa_config *cfg, const char *user,
			      const char *code, const char *address, const struct store_login *at,
			      struct verify_result *res, struct mfa_error *err)
{
	struct email_check c = { cfg, code, address, false, at, res };

	memset(res, 0, sizeof(*res));
	return verify_done(files_update(files(st), user, NULL, check_email, &c, err), res);
}

static int files_enroll_email(struct store *st, const struct mfa_config *cfg, const char *user,
			      const struct store_basis *basis, const char *address,
			      const char *code, const struct store_login *at,
			      struct verify_result *res, struct mfa_error *err)
{
	struct email_check c = { cfg, code, address, true, at, res };

	memset(res, 0, sizeof(*res));
	return verify_done(files_update(files(st), user, &basis->factors, check_email, &c, err),
			   res);
}

struct totp_save {
	const struct mfa_totp *t;
	uint64_t step;
	const struct store_login *at;
};

static int save_totp(struct mfa_record *rec, bool exists, void *p)
{
	struct totp_save *s = p;

	rec->totp = *s->t;
	rec->totp.enrolled = true;
	rec->totp.enrolled_at = (int64_t)s->at->now;
	rec->totp.last_step = s->step; /* the code that proved it is spent */
	rec->skip_since = 0;
	note_login(rec, s->at);
	return FILES_WRITE;
}

/* The code is checked first, without the lock: a wrong one writes nothing
 * and counts nothing, as the app may not be set up yet. */
static int files_enroll_totp(struct store *st, const struct mfa_config *cfg, const char *user,
			     const struct store_basis *basis, const struct mfa_totp *t,
			     const char *code, const struct store_login *at,
			     struct verify_result *res, struct mfa_error *err)
{
	struct totp_save s = { t, 0, at };

	memset(res, 0, sizeof(*res));
	if (totp_verify(t->secret, t->secret_len, &t->params, code, at->now, cfg->totp.window, 0,
			&s.step) != 1) {
		res->outcome = VERIFY_WRONG;
		return 0;
	}
	res->step = s.step;
	res->outcome = VERIFY_OK;
	return verify_done(files_update(files(st), user, &basis->factors, save_totp, &s, err), res);
}

/* Makes code the pending one of e: a fresh salt, its hash, the times. */
static int set_pending_code(struct mfa_email *e, const struct mfa_config *cfg, const char *code,
			    time_t now, struct mfa_error *err)
{
	int r = secure_random(e->code_salt, sizeof(e->code_salt));

	if (r == 0)
		r = email_code_hash(e->code_salt, code, e->code_hash);
	if (r < 0) {
		mfa_error_set(err, "cannot make the code's hash");
		return r;
	}
	e->code_pending = true;
	e->code_sent = (int64_t)now;
	e->code_expires = (int64_t)now + (int64_t)cfg->email.code_ttl;
	return 0;
}

/* The address to prove: a new one is not the administrator's. */
static void set_unverified_address(struct mfa_email *e, const char *address, bool by_admin)
{
	if (strcmp(e->address, address) != 0) {
		(void)snprintf(e->address, sizeof(e->address), "%s", address);
		e->by_admin = false;
	}
	if (by_admin)
		e->by_admin = true;
}

/* A day, for the count of enrollment mails. */
#define ENROLL_MAIL_DAY 86400

/* Seconds before another code may go out, by the limits of use; 0: now.
 * *sending: what holds it back is a code on its way.  Counts the day's
 * enrollment mails afresh once a day has passed. */
static long code_wait(const struct mfa_config *cfg, struct mfa_email *e, enum email_code_use use,
		      int64_t t, bool *sending)
{
	int64_t since = t - e->code_sent, left;
	bool recent = e->code_sent > 0 && since >= 0 && since < (int64_t)cfg->email.resend_after;

	*sending = e->code_booked > 0 && e->code_booked <= t &&
		   t - e->code_booked < email_booking_window(cfg);
	if (*sending)
		return (long)(e->code_booked + email_booking_window(cfg) - t);
	if (use == EMAIL_CODE_LOGIN) {
		/* An expired code is no code: the user may have another. */
		if (!recent || !e->code_pending || t >= e->code_expires)
			return 0;
		left = (int64_t)cfg->email.resend_after - since;
		return (long)(e->code_expires - t < left ? e->code_expires - t : left);
	}
	/* A clock set back starts the day afresh rather than never. */
	if (e->enroll_mails_since > t || t - e->enroll_mails_since >= ENROLL_MAIL_DAY) {
		e->enroll_mails = 0;
		e->enroll_mails_since = t;
	}
	if (recent)
		return (long)((int64_t)cfg->email.resend_after - since);
	if (e->enroll_mails >= cfg->email.enroll_mails)
		return (long)(e->enroll_mails_since + ENROLL_MAIL_DAY - t);
	return 0;
}

/* Whether the record allows a code of use to address now. */
static bool code_allowed(const struct mfa_email *e, enum email_code_use use, const char *address)
{
	return use == EMAIL_CODE_LOGIN ? e->verified && strcmp(e->address, address) == 0 :
					 !e->verified;
}

struct email_mailing {
	const struct mfa_config *cfg;
	enum email_code_use use;
	const char *address;
	const char *code;
	time_t now;
	struct email_booking *booking; /* book: filled; sent, unbook: read */
	long *wait;
	bool *sending;
	struct mfa_error *err;
};

static int book_code(struct mfa_record *rec, bool exists, void *p)
{
	struct email_mailing *m = p;
	struct mfa_email *e = &rec->email;
	struct email_booking *b = m->booking;

	if (!code_allowed(e, m->use, m->address)) {
		mfa_error_set(m->err, "the user's email address changed meanwhile");
		return -ESTALE;
	}
	b->use = m->use;
	b->at = (int64_t)m->now;
	b->record_existed = exists;
	b->enroll_mails = e->enroll_mails;
	b->enroll_mails_since = e->enroll_mails_since;
	*m->wait = code_wait(m->cfg, e, m->use, (int64_t)m->now, m->sending);
	if (*m->wait > 0) {
		mfa_error_set(m->err, "no new code for %ld seconds", *m->wait);
		return -EAGAIN;
	}
	e->code_booked = (int64_t)m->now;
	if (m->use == EMAIL_CODE_ENROLL)
		e->enroll_mails++;
	return FILES_WRITE;
}

static int files_email_book(struct store *st, const struct mfa_config *cfg, const char *user,
			    enum email_code_use use, const struct store_basis *basis,
			    const char *address, time_t now, struct email_booking *booking,
			    long *wait, bool *sending, struct mfa_error *err)
{
	struct email_mailing m = { cfg, use, address, NULL, now, booking, wait, sending, err };

	return files_update(files(st), user, basis ? &basis->factors : NULL, book_code, &m, err);
}

static int code_sent(struct mfa_record *rec, bool exists, void *p)
{
	struct email_mailing *m = p;
	struct mfa_email *e = &rec->email;
	int r;

	if (!code_allowed(e, m->booking->use, m->address)) {
		mfa_error_set(m->err, "the user's email address changed meanwhile");
		return -ESTALE;
	}
	if (e->code_booked == m->booking->at)
		e->code_booked = 0;
	if (m->booking->use == EMAIL_CODE_ENROLL)
		set_unverified_address(e, m->address, false);
	r = set_pending_code(e, m->cfg, m->code, m->now, m->err);
	return r < 0 ? r : FILES_WRITE;
}

static int files_email_sent(struct store *st, const struct mfa_config *cfg, const char *user,
			    const struct store_basis *basis, const char *address, const char *code,
			    const struct email_booking *booking, time_t now, struct mfa_error *err)
{
	struct email_mailing m = {
		cfg,  booking->use, address, code, now, (struct email_booking *)booking,
		NULL, NULL,	    err,
	};

	return files_update(files(st), user, basis ? &basis->factors : NULL, code_sent, &m, err);
}

/* Whether rec holds nothing but its user name: a record that is no more
 * than a fresh one need not be kept. */
static bool record_empty(const struct mfa_record *rec)
{
	char a[STORE_RECORD_MAX], b[STORE_RECORD_MAX];
	struct mfa_record fresh;
	bool empty;
	int la, lb;

	record_init(&fresh, rec->user);
	la = record_format(rec, a, sizeof(a));
	lb = record_format(&fresh, b, sizeof(b));
	empty = la >= 0 && la == lb && memcmp(a, b, (size_t)la) == 0;
	secure_wipe(a, sizeof(a));
	return empty;
}

static int unbook_code(struct mfa_record *rec, bool exists, void *p)
{
	const struct email_booking *b = p;
	struct mfa_email *e = &rec->email;

	/* Another booking since (this one had timed out): not ours to end. */
	if (!exists || e->code_booked != b->at)
		return FILES_KEEP;
	e->code_booked = 0;
	if (b->use == EMAIL_CODE_ENROLL) {
		e->enroll_mails = b->enroll_mails;
		e->enroll_mails_since = b->enroll_mails_since;
	}
	return b->record_existed || !record_empty(rec) ? FILES_WRITE : FILES_REMOVE;
}

static int files_email_unbook(struct store *st, const char *user,
			      const struct email_booking *booking, struct mfa_error *err)
{
	return files_update(files(st), user, NULL, unbook_code, (void *)booking, err);
}

static int remember_skip(struct mfa_record *rec, bool exists, void *p)
{
	rec->skip_since = (int64_t) * (const time_t *)p;
	return FILES_WRITE;
}

static int files_skip(struct store *st, const char *user, const struct store_basis *basis,
		      bool remember, time_t now, struct mfa_error *err)
{
	struct mfa_record rec;
	int r;

	if (remember)
		return files_update(files(st), user, &basis->factors, remember_skip, &now, err);
	/* Nothing to write: a fresh read, without creating a lock file. */
	r = files_load(files(st), user, &rec, err);
	if (r == -ENOENT) {
		record_init(&rec, user);
		r = 0;
	}
	if (r == 0 && !record_factors_held(&basis->factors, &rec)) {
		mfa_error_set(err, "the user's second factors changed meanwhile");
		r = -ESTALE;
	}
	record_wipe(&rec);
	return r;
}

struct provision {
	const struct mfa_totp *t;
	const char *address;
	bool replace;
	time_t now;
	bool *replaced;
	const struct mfa_config *cfg;
	const char *code;
	struct mfa_error *err;
};

static int provision_totp(struct mfa_record *rec, bool exists, void *p)
{
	struct provision *v = p;

	if (rec->totp.enrolled && !v->replace) {
		mfa_error_set(v->err, "%s already has TOTP enrolled", rec->user);
		return -EEXIST;
	}
	*v->replaced = rec->totp.enrolled;
	rec->totp = *v->t;
	rec->totp.enrolled = true;
	rec->totp.enrolled_at = (int64_t)v->now;
	note_new_factor(rec);
	return FILES_WRITE;
}

static int files_provision_totp(struct store *st, const char *user, const struct mfa_totp *t,
				bool replace, time_t now, bool *replaced, struct mfa_error *err)
{
	struct provision v = {
		.t = t, .replace = replace, .now = now, .replaced = replaced, .err = err
	};

	return files_update(files(st), user, NULL, provision_totp, &v, err);
}

static int provision_email(struct mfa_record *rec, bool exists, void *p)
{
	struct provision *v = p;
	struct mfa_email *e = &rec->email;

	if (e->verified && !v->replace) {
		mfa_error_set(v->err, "%s already has email enrolled", rec->user);
		return -EEXIST;
	}
	(void)snprintf(e->address, sizeof(e->address), "%s", v->address);
	e->by_admin = true;
	e->verified = true;
	e->enrolled_at = (int64_t)v->now;
	e->code_pending = false;
	e->code_expires = 0;
	note_new_factor(rec);
	return FILES_WRITE;
}

static int files_provision_email(struct store *st, const char *user, const char *address,
				 bool replace, time_t now, struct mfa_error *err)
{
	struct provision v = { .address = address, .replace = replace, .now = now, .err = err };

	return files_update(files(st), user, NULL, provision_email, &v, err);
}

static int admin_code(struct mfa_record *rec, bool exists, void *p)
{
	struct provision *v = p;
	struct mfa_email *e = &rec->email;
	int r;

	if (v->replace && e->verified) {
		e->verified = false;
		e->enrolled_at = 0;
	}
	if (e->verified) {
		mfa_error_set(v->err, "the user's email address changed meanwhile");
		return -ESTALE;
	}
	set_unverified_address(e, v->address, true);
	r = set_pending_code(e, v->cfg, v->code, v->now, v->err);
	return r < 0 ? r : FILES_WRITE;
}

static int files_email_code_by_admin(struct store *st, const struct mfa_config *cfg,
				     const char *user, const char *address, const char *code,
				     bool replace, time_t now, struct mfa_error *err)
{
	struct provision v = { .address = address,
			       .replace = replace,
			       .now = now,
			       .cfg = cfg,
			       .code = code,
			       .err = err };

	return files_update(files(st), user, NULL, admin_code, &v, err);
}

/* Reset of everything takes the lock without parsing, so that it also
 * removes a corrupt record: it is the admin's way out of one. */
static int reset_all(struct files_store *fs, const char *user, struct store_reset_result *res,
		     struct mfa_error *err)
{
	struct mfa_error load_err = { "" };
	struct files_txn *txn = NULL;
	struct mfa_record rec;
	int r;

	r = files_lock(fs, user, &txn, err);
	if (r < 0)
		return r;
	r = files_load(fs, user, &rec, &load_err);
	res->unreadable = r < 0 && r != -ENOENT;
	if (r == 0) {
		res->had_factor = rec.totp.enrolled || rec.email.verified;
		if (rec.email.verified)
			memcpy(res->notify, rec.email.address, sizeof(res->notify));
		record_wipe(&rec);
	}
	r = files_remove(txn, err);
	files_end(txn);
	if (r < 0)
		return r;
	res->had_state = r > 0;
	return 0;
}

struct reset_one {
	unsigned method;
	struct store_reset_result *res;
};

/* One factor goes, the rest of the record stays. */
static int reset_method(struct mfa_record *rec, bool exists, void *p)
{
	struct reset_one *o = p;
	bool email = o->method == METHOD_EMAIL;

	if (email ? rec->email.address[0] == '\0' : !rec->totp.enrolled)
		/* Nor leave behind the lock file made for the look. */
		return exists ? FILES_KEEP : FILES_REMOVE;
	o->res->had_state = true;
	o->res->had_factor = email ? rec->email.verified : true;
	/* Where to tell the user about it: the address they proved. */
	if (rec->email.verified)
		memcpy(o->res->notify, rec->email.address, sizeof(o->res->notify));
	if (email)
		secure_wipe(&rec->email, sizeof(rec->email));
	else
		secure_wipe(&rec->totp, sizeof(rec->totp));
	/* The failures counted against the old factor go with it. */
	lockout_clear(rec);
	return FILES_WRITE;
}

static int files_reset(struct store *st, const char *user, unsigned method,
		       struct store_reset_result *res, struct mfa_error *err)
{
	struct reset_one o = { method, res };

	if (method == 0)
		return reset_all(files(st), user, res, err);
	return files_update(files(st), user, NULL, reset_method, &o, err);
}

struct unlock {
	bool found;
	unsigned failures;
};

static int unlock_user(struct mfa_record *rec, bool exists, void *p)
{
	struct unlock *u = p;

	if (!exists)
		return FILES_REMOVE; /* the lock file made for the look */
	u->found = true;
	u->failures = rec->fail_count;
	lockout_clear(rec);
	return FILES_WRITE;
}

static int files_unlock(struct store *st, const char *user, unsigned *failures,
			struct mfa_error *err)
{
	struct unlock u = { false, 0 };
	int r = files_update(files(st), user, NULL, unlock_user, &u, err);

	*failures = u.failures;
	/* -ENOENT says "no state": the store's own failures are not that. */
	if (r < 0)
		return r == -ENOENT ? -EIO : r;
	return u.found ? 0 : -ENOENT;
}

static int files_list_op(struct store *st, int (*cb)(const char *user, void *ctx), void *ctx,
			 struct mfa_error *err)
{
	return files_list(files(st), cb, ctx, err);
}

struct check_walk {
	struct files_store *fs;
	int (*cb)(const char *name, enum store_entry kind, const char *message, void *ctx);
	void *ctx;
};

static int check_one(const char *name, enum files_entry kind, void *p)
{
	struct check_walk *w = p;
	struct mfa_error err = { "" };
	struct mfa_record rec;

	switch (kind) {
	case FILES_ENTRY_RECORD:
		if (files_load(w->fs, name, &rec, &err) < 0)
			return w->cb(name, STORE_ENTRY_BAD, err.msg, w->ctx);
		record_wipe(&rec);
		return w->cb(name, STORE_ENTRY_RECORD, NULL, w->ctx);
	case FILES_ENTRY_LOCK: return w->cb(name, STORE_ENTRY_LOCK, NULL, w->ctx);
	case FILES_ENTRY_TEMP: return w->cb(name, STORE_ENTRY_TEMP, NULL, w->ctx);
	case FILES_ENTRY_OTHER: break;
	}
	return w->cb(name, STORE_ENTRY_OTHER, NULL, w->ctx);
}

static int files_check(struct store *st,
		       int (*cb)(const char *name, enum store_entry kind, const char *message,
				 void *ctx),
		       void *ctx, struct mfa_error *err)
{
	struct check_walk w = { files(st), cb, ctx };

	return files_scan(files(st), check_one, &w, err);
}

static void files_defer_sync_op(struct store *st)
{
	files_defer_sync(files(st));
}

static int files_sync_op(struct store *st, struct mfa_error *err)
{
	return files_sync(files(st), err);
}

const struct store_ops files_store_ops = {
	.name = "files",
	.close = files_close_op,
	.summary = files_summary,
	.verify_totp = files_verify_totp,
	.verify_email = files_verify_email,
	.enroll_totp = files_enroll_totp,
	.enroll_email = files_enroll_email,
	.email_book = files_email_book,
	.email_sent = files_email_sent,
	.email_unbook = files_email_unbook,
	.skip = files_skip,
	.provision_totp = files_provision_totp,
	.provision_email = files_provision_email,
	.email_code_by_admin = files_email_code_by_admin,
	.reset = files_reset,
	.unlock = files_unlock,
	.list = files_list_op,
	.check = files_check,
	.defer_sync = files_defer_sync_op,
	.sync = files_sync_op,
};
