/* The store's operations over the files backend's records (files.c): each
 * one read-modify-write of a user's record under its lock, through
 * files_update().  What a successful login writes is record_login(), and
 * note_login() for a TOTP code, which also forgives failures; where a sent
 * code's salted hash is kept, set_pending_code(); every change of the
 * verified factors draws a new tag, factors_changed(), which also drops the
 * recovery and bypass codes of a user left without one; a recovery or
 * bypass code at a login, check_backup(). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "code_hash.h"
#include "files.h"
#include "lockout.h"
#include "recovery.h"
#include "secmem.h"

_Static_assert(RECORD_BYPASS_USES_MAX == STORE_BYPASS_USES_MAX,
	       "a bypass code the store takes must fit the record");

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

/* A right TOTP code also forgives the failures.  A sent code does not
 * (record_login() alone): the host that sent it made it, so its success
 * proves nothing about the failures counted before, as sql/006 has it. */
static void note_login(struct mfa_record *rec, const struct store_login *at)
{
	lockout_clear(rec);
	record_login(rec, at);
}

/* A factor an administrator sets forgets an opt-out skip and the failures
 * of the old. */
static void note_new_factor(struct mfa_record *rec)
{
	lockout_clear(rec);
	rec->skip_since = 0;
}

/* The verified factors changed: a basis taken before no longer holds.
 * Recovery and bypass codes stand in for the verified factors: a user left
 * with none loses them too, or they would outlive the enrollment they
 * belonged to (a reset user would still log in with a code of the old). */
static int factors_changed(struct mfa_record *rec, struct mfa_error *err)
{
	int r;

	if (record_count(rec, 0) == 0)
		record_drop_backup(rec);
	r = record_new_tag(rec);

	if (r < 0)
		mfa_error_set(err, "cannot draw the factors' tag: %s", strerror(-r));
	return r;
}

static void set_label(struct mfa_factor *f, const char *label)
{
	(void)snprintf(f->label, sizeof(f->label), "%s", label != NULL ? label : "");
}

/* The settings of a method whose codes are sent. */
struct sent_settings {
	unsigned code_ttl, resend_after, enroll_limit;
};

static struct sent_settings sent_settings(const struct mfa_config *cfg, unsigned method)
{
	if (method == METHOD_SMS)
		return (struct sent_settings){ cfg->sms.code_ttl, cfg->sms.resend_after,
					       cfg->sms.enroll_messages };
	return (struct sent_settings){ cfg->email.code_ttl, cfg->email.resend_after,
				       cfg->email.enroll_mails };
}

/* Moves the factor at index from to index to, the others keeping their
 * order: a replacement takes the place of what it replaces. */
static void move_factor(struct mfa_record *rec, unsigned from, unsigned to)
{
	struct mfa_factor f;

	if (from == to || from >= rec->n_factors || to >= rec->n_factors)
		return;
	f = rec->factors[from];
	if (from > to)
		memmove(&rec->factors[to + 1], &rec->factors[to],
			(from - to) * sizeof(rec->factors[0]));
	else
		memmove(&rec->factors[from], &rec->factors[from + 1],
			(to - from) * sizeof(rec->factors[0]));
	rec->factors[to] = f;
	secure_wipe(&f, sizeof(f));
}

static unsigned factor_index(const struct mfa_record *rec, unsigned id)
{
	unsigned i;

	for (i = 0; i < rec->n_factors; i++)
		if (rec->factors[i].id == id)
			break;
	return i;
}

/* The unverified factor of method (an address or number being proved),
 * or NULL. */
static struct mfa_factor *unverified_factor(struct mfa_record *rec, unsigned method)
{
	for (unsigned i = 0; i < rec->n_factors; i++)
		if (!rec->factors[i].verified && rec->factors[i].method == method)
			return &rec->factors[i];
	return NULL;
}

/* The verified factor of method with that destination, or NULL. */
static struct mfa_factor *verified_dest(struct mfa_record *rec, unsigned method, const char *dest,
					unsigned except)
{
	for (unsigned i = 0; i < rec->n_factors; i++) {
		struct mfa_factor *f = &rec->factors[i];

		if (f->verified && f->method == method && f->id != except &&
		    strcmp(f->dest, dest) == 0)
			return f;
	}
	return NULL;
}

/* Removes every factor of method (verified ones only, if verified_only);
 * how many went, and in *verified whether a verified one did. */
static unsigned remove_method(struct mfa_record *rec, unsigned method, bool verified_only,
			      bool *verified)
{
	unsigned n = 0;

	for (unsigned i = rec->n_factors; i-- > 0;) {
		struct mfa_factor *f = &rec->factors[i];

		if (f->method != method || (verified_only && !f->verified))
			continue;
		if (f->verified)
			*verified = true;
		(void)record_remove_factor(rec, f->id);
		n++;
	}
	return n;
}

static void files_close_op(struct store *st)
{
	files_close(files(st));
}

static enum store_recovery_source source_of(enum record_codes_source s)
{
	switch (s) {
	case RECORD_CODES_USER: return RECOVERY_USER;
	case RECORD_CODES_ADMIN: return RECOVERY_ADMIN;
	case RECORD_CODES_IMPORTED: return RECOVERY_IMPORTED;
	case RECORD_CODES_NONE: break;
	}
	return RECOVERY_NONE;
}

static void summarize(const struct mfa_record *rec, struct store_summary *out)
{
	memcpy(out->user, rec->user, sizeof(out->user));
	out->n_factors = rec->n_factors;
	for (unsigned i = 0; i < rec->n_factors; i++) {
		const struct mfa_factor *f = &rec->factors[i];
		struct store_factor *o = &out->factors[i];

		o->id = f->id;
		o->method = f->method;
		memcpy(o->label, f->label, sizeof(o->label));
		memcpy(o->dest, f->dest, sizeof(o->dest));
		o->verified = f->verified;
		o->by_admin = f->by_admin;
		o->added = f->added;
		o->last_used = f->last_used;
		if (f->method == METHOD_TOTP)
			o->params = f->totp.params;
	}
	out->code.pending = rec->code.pending;
	out->code.factor = rec->code.factor;
	out->code.expires = rec->code.expires;
	out->fail_count = rec->fail_count;
	out->locked_until = rec->locked_until;
	out->last_login = rec->last_login;
	memcpy(out->last_service, rec->last_service, sizeof(out->last_service));
	memcpy(out->last_rhost, rec->last_rhost, sizeof(out->last_rhost));
	out->skip_since = rec->skip_since;
	out->recovery.left = record_recovery_left(rec);
	out->recovery.made = rec->recovery.n;
	out->recovery.since = rec->recovery.since;
	out->recovery.source = rec->recovery.n > 0 ? source_of(rec->recovery.source) :
						     RECOVERY_NONE;
	if (rec->bypass.set) {
		out->bypass.uses_left = rec->bypass.uses_left;
		out->bypass.expires = rec->bypass.expires;
		out->bypass.made = rec->bypass.made;
	}
	out->basis.version = (int64_t)rec->factors_tag;
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
		memset(res, 0, sizeof(*res));
		res->outcome = VERIFY_NOT_ENROLLED;
		return 0;
	}
	if (r < 0) {
		memset(res, 0, sizeof(*res));
		res->outcome = VERIFY_STORE_ERROR;
		return r == -ENOMEM ? r : 0;
	}
	return 0;
}

/* A failed code: counted toward the lockout. */
static void count_failure(struct mfa_record *rec, const struct mfa_config *cfg, time_t now,
			  struct verify_result *res, enum verify_outcome outcome)
{
	res->locked_now = lockout_record_failure(rec, cfg, now);
	res->outcome = outcome;
}

struct totp_check {
	const struct mfa_config *cfg;
	const char *code;
	const struct store_login *at;
	struct verify_result *res;
};

/* Under the lock, on a fresh read: of two logins racing with one code,
 * the second sees the first's last_step and is refused.  Every app is
 * tried, each against its own last step: a code is spent for the app that
 * accepted it, not for an app it was never shown by. */
static int check_totp(struct mfa_record *rec, bool exists, void *p)
{
	struct totp_check *c = p;
	struct verify_result *res = c->res;
	struct mfa_factor *used = NULL;
	uint64_t used_step = 0;
	bool replay = false;

	if (!exists || record_count(rec, METHOD_TOTP) == 0) {
		res->outcome = VERIFY_NOT_ENROLLED;
		return FILES_KEEP;
	}
	if (lockout_active(rec, c->at->now)) {
		res->outcome = VERIFY_LOCKED;
		return FILES_KEEP;
	}
	for (unsigned i = 0; i < rec->n_factors; i++) {
		struct mfa_factor *f = &rec->factors[i];
		uint64_t step;
		int v;

		if (f->method != METHOD_TOTP || !f->verified)
			continue;
		/* Every app is computed, the first that accepts wins: the
		 * time taken does not tell which one it was. */
		v = totp_verify(f->totp.secret, f->totp.secret_len, &f->totp.params, c->code,
				c->at->now, c->cfg->totp.window, f->totp.last_step, &step);
		if (v == 1 && used == NULL) {
			used = f;
			used_step = step;
		} else if (v == 0) {
			replay = true;
		}
	}
	if (used != NULL) {
		used->totp.last_step = used_step;
		used->last_used = (int64_t)c->at->now;
		note_login(rec, c->at);
		res->outcome = VERIFY_OK;
		res->step = used_step;
		res->factor = used->id;
	} else {
		count_failure(rec, c->cfg, c->at->now, res, replay ? VERIFY_REPLAY : VERIFY_WRONG);
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

/* Whether code is the pending one (its hash, in constant time). */
static bool code_matches(const struct mfa_sent_code *sc, const char *code)
{
	unsigned char hash[EMAIL_HASH_LEN];
	bool match = false;

	if (sc->pending && email_code_hash(sc->salt, code, hash) == 0)
		match = consttime_equal(hash, sc->hash, EMAIL_HASH_LEN);
	secure_wipe(hash, sizeof(hash));
	return match;
}

/* A sent code typed for factor f: single use, a right code spent and an
 * expired one too; failures count toward the lockout.  VERIFY_OK leaves
 * the rest to the caller. */
static void check_sent_code(struct mfa_record *rec, const struct mfa_config *cfg,
			    const struct mfa_factor *f, const char *code, time_t now,
			    struct verify_result *res)
{
	bool mine = rec->code.pending && rec->code.factor == f->id;
	bool match = mine && code_matches(&rec->code, code);

	if (match && (int64_t)now < rec->code.expires)
		res->outcome = VERIFY_OK;
	else
		count_failure(rec, cfg, now, res, match || !mine ? VERIFY_EXPIRED : VERIFY_WRONG);
	/* Another factor's code is not this one's to spend. */
	if (mine && res->outcome != VERIFY_WRONG)
		record_drop_code(rec);
	res->fail_count = rec->fail_count;
}

struct sent_check {
	const struct mfa_config *cfg;
	unsigned factor;
	const char *code;
	const struct store_login *at;
	struct verify_result *res;
};

static int check_sent(struct mfa_record *rec, bool exists, void *p)
{
	struct sent_check *c = p;
	struct verify_result *res = c->res;
	struct mfa_factor *f = record_factor(rec, c->factor);

	/* A code sent to another factor (a code to prove a new address) is
	 * not this factor's: the user was not asked for it. */
	if (!exists || f == NULL || !f->verified || !(f->method & METHOD_SENT) ||
	    (rec->code.pending && rec->code.factor != f->id)) {
		res->outcome = VERIFY_NOT_ENROLLED;
		return FILES_KEEP;
	}
	if (lockout_active(rec, c->at->now)) {
		res->outcome = VERIFY_LOCKED;
		return FILES_KEEP;
	}
	check_sent_code(rec, c->cfg, f, c->code, c->at->now, res);
	if (res->outcome == VERIFY_OK) {
		f->last_used = (int64_t)c->at->now;
		record_login(rec, c->at);
		res->factor = f->id;
	}
	return FILES_WRITE;
}

static int files_verify_sent(struct store *st, const struct mfa_config *cfg, const char *user,
			     const char *code, unsigned factor, const struct store_login *at,
			     struct verify_result *res, struct mfa_error *err)
{
	struct sent_check c = { cfg, factor, code, at, res };

	memset(res, 0, sizeof(*res));
	return verify_done(files_update(files(st), user, NULL, check_sent, &c, err), res);
}

/* How many verified factors of method the user would hold beside a new
 * one: the one it replaces, and one of the same destination, give way. */
static unsigned others_of_method(struct mfa_record *rec, unsigned method, unsigned replaces,
				 const char *dest)
{
	unsigned n = 0;

	for (unsigned i = 0; i < rec->n_factors; i++) {
		const struct mfa_factor *f = &rec->factors[i];

		if (f->verified && f->method == method && f->id != replaces &&
		    (dest == NULL || strcmp(f->dest, dest) != 0))
			n++;
	}
	return n;
}

/* A change of the factors of a user who holds one (the basis names a
 * version: the tag of verified factors) needs the proof this handle gave;
 * the basis check under the lock then says they are still those. */
static bool proved(struct store *st, const char *user, const struct store_basis *basis, time_t now)
{
	return basis->version == 0 ||
	       files_proof_holds(files(st), user, basis->proof, (int64_t)now);
}

struct sent_enroll {
	const struct mfa_config *cfg;
	unsigned method;
	const char *dest;
	const char *label;
	unsigned replaces;
	const char *code;
	const struct store_login *at;
	struct verify_result *res;
	struct mfa_error *err;
};

/* The code sent to the unverified factor of method and dest proves it:
 * it becomes verified in the place of the factor it replaces (and of a
 * verified one of the same destination: one factor per destination). */
static int prove_dest(struct mfa_record *rec, bool exists, void *p)
{
	struct sent_enroll *e = p;
	struct verify_result *res = e->res;
	struct mfa_factor *f = unverified_factor(rec, e->method), *twin;
	unsigned id, at;
	int r;

	if (f == NULL || strcmp(f->dest, e->dest) != 0 || e->replaces == f->id ||
	    (e->replaces != 0 && record_factor(rec, e->replaces) == NULL)) {
		res->outcome = VERIFY_NOT_ENROLLED;
		return FILES_KEEP;
	}
	if (lockout_active(rec, e->at->now)) {
		res->outcome = VERIFY_LOCKED;
		return FILES_KEEP;
	}
	if (others_of_method(rec, e->method, e->replaces, e->dest) >= e->cfg->factors_per_method) {
		res->outcome = VERIFY_TOO_MANY;
		return FILES_KEEP;
	}
	check_sent_code(rec, e->cfg, f, e->code, e->at->now, res);
	if (res->outcome != VERIFY_OK)
		return FILES_WRITE;
	f->verified = true;
	f->added = f->last_used = (int64_t)e->at->now;
	if (e->label != NULL)
		set_label(f, e->label);
	id = f->id;
	record_login(rec, e->at);
	rec->skip_since = 0;
	twin = verified_dest(rec, e->method, e->dest, id);
	if (twin != NULL && twin->id != e->replaces)
		(void)record_remove_factor(rec, twin->id);
	if (e->replaces != 0) {
		at = factor_index(rec, e->replaces);
		(void)record_remove_factor(rec, e->replaces);
		move_factor(rec, factor_index(rec, id),
			    at < rec->n_factors ? at : rec->n_factors - 1);
	}
	res->factor = id;
	r = factors_changed(rec, e->err);
	res->basis.version = (int64_t)rec->factors_tag;
	return r < 0 ? r : FILES_WRITE;
}

/* After an enrollment, the proof of the factors it left: the user just
 * proved one, and the recovery codes that end it need a proof
 * (store_recovery_new()).  Without random bytes there is none, and the
 * enrollment, already saved, stands: the codes are then refused. */
static void enrolled_proof(struct store *st, const char *user, const struct store_login *at,
			   struct verify_result *res)
{
	if (res->outcome != VERIFY_OK)
		return;
	if (files_proof_make(files(st), user, (int64_t)at->now, res->basis.proof) < 0)
		memset(res->basis.proof, 0, sizeof(res->basis.proof));
}

static int files_enroll_sent(struct store *st, const struct mfa_config *cfg, const char *user,
			     const struct store_basis *basis, unsigned method, const char *dest,
			     const char *label, unsigned replaces, const char *code,
			     const struct store_login *at, struct verify_result *res,
			     struct mfa_error *err)
{
	struct sent_enroll e = { cfg, method, dest, label, replaces, code, at, res, err };
	int r;

	memset(res, 0, sizeof(*res));
	if (!proved(st, user, basis, at->now)) {
		res->outcome = VERIFY_NOT_ENROLLED;
		return 0;
	}
	r = verify_done(files_update(files(st), user, basis, prove_dest, &e, err), res);
	enrolled_proof(st, user, at, res);
	return r;
}

struct totp_save {
	const struct mfa_config *cfg;
	const struct mfa_totp *t;
	const char *label;
	unsigned replaces;
	uint64_t step;
	const struct store_login *at;
	struct verify_result *res;
	struct mfa_error *err;
};

static int save_totp(struct mfa_record *rec, bool exists, void *p)
{
	struct totp_save *s = p;
	const struct mfa_factor *old = s->replaces != 0 ? record_factor(rec, s->replaces) : NULL;
	struct mfa_factor *f;
	unsigned at = rec->n_factors;
	int r;

	if (s->replaces != 0 && (old == NULL || old->method != METHOD_TOTP)) {
		s->res->outcome = VERIFY_NOT_ENROLLED;
		return FILES_KEEP;
	}
	if (others_of_method(rec, METHOD_TOTP, s->replaces, NULL) >= s->cfg->factors_per_method) {
		s->res->outcome = VERIFY_TOO_MANY;
		return FILES_KEEP;
	}
	if (old != NULL) {
		at = factor_index(rec, s->replaces);
		(void)record_remove_factor(rec, s->replaces);
	}
	f = record_add_factor(rec, METHOD_TOTP);
	if (f == NULL) {
		s->res->outcome = VERIFY_TOO_MANY;
		return FILES_KEEP;
	}
	f->totp = *s->t;
	f->totp.enrolled = true;
	f->totp.enrolled_at = (int64_t)s->at->now;
	f->totp.last_step = s->step; /* the code that proved it is spent */
	f->verified = true;
	f->added = f->last_used = (int64_t)s->at->now;
	set_label(f, s->label);
	s->res->factor = f->id;
	s->res->step = s->step;
	s->res->outcome = VERIFY_OK;
	move_factor(rec, rec->n_factors - 1, at < rec->n_factors ? at : rec->n_factors - 1);
	rec->skip_since = 0;
	note_login(rec, s->at);
	r = factors_changed(rec, s->err);
	s->res->basis.version = (int64_t)rec->factors_tag;
	return r < 0 ? r : FILES_WRITE;
}

/* The code is checked first, without the lock: a wrong one writes nothing
 * and counts nothing, as the app may not be set up yet. */
static int files_enroll_totp(struct store *st, const struct mfa_config *cfg, const char *user,
			     const struct store_basis *basis, const struct mfa_totp *t,
			     const char *label, unsigned replaces, const char *code,
			     const struct store_login *at, struct verify_result *res,
			     struct mfa_error *err)
{
	struct totp_save s = { cfg, t, label, replaces, 0, at, res, err };
	int r;

	memset(res, 0, sizeof(*res));
	if (totp_verify(t->secret, t->secret_len, &t->params, code, at->now, cfg->totp.window, 0,
			&s.step) != 1) {
		res->outcome = VERIFY_WRONG;
		return 0;
	}
	if (!proved(st, user, basis, at->now)) {
		res->outcome = VERIFY_NOT_ENROLLED;
		return 0;
	}
	r = verify_done(files_update(files(st), user, basis, save_totp, &s, err), res);
	enrolled_proof(st, user, at, res);
	return r;
}

/* Makes code the pending one, sent to factor f: a fresh salt, its hash,
 * the times of its method. */
static int set_pending_code(struct mfa_record *rec, const struct mfa_config *cfg,
			    const struct mfa_factor *f, const char *code, time_t now,
			    struct mfa_error *err)
{
	struct mfa_sent_code *c = &rec->code;
	int r = secure_random(c->salt, sizeof(c->salt));

	if (r == 0)
		r = email_code_hash(c->salt, code, c->hash);
	if (r < 0) {
		record_drop_code(rec);
		mfa_error_set(err, "cannot make the code's hash");
		return r;
	}
	c->pending = true;
	c->factor = f->id;
	c->sent = (int64_t)now;
	c->expires = (int64_t)now + (int64_t)sent_settings(cfg, f->method).code_ttl;
	return 0;
}

/* dest as the unverified factor of method on record: the one there if it
 * is dest (an administrator's marks it theirs), else a new one in place of
 * it, which is not the administrator's. */
static struct mfa_factor *set_unverified(struct mfa_record *rec, unsigned method, const char *dest,
					 bool by_admin, struct mfa_error *err)
{
	struct mfa_factor *f = unverified_factor(rec, method);

	if (f != NULL && strcmp(f->dest, dest) != 0) {
		(void)record_remove_factor(rec, f->id);
		f = NULL;
	}
	if (f == NULL) {
		f = record_add_factor(rec, method);
		if (f == NULL) {
			mfa_error_set(err, "%s holds %d factors: no more", rec->user,
				      RECORD_FACTORS_MAX);
			return NULL;
		}
		(void)snprintf(f->dest, sizeof(f->dest), "%s", dest);
	}
	if (by_admin)
		f->by_admin = true;
	return f;
}

/* A day, for the count of enrollment codes. */
#define ENROLL_CODE_DAY 86400

/* How long a booking holds others back: the longest either method's
 * sending may take, as the record does not say which method booked. */
static int64_t booking_window(const struct mfa_config *cfg)
{
	int64_t e = email_booking_window(cfg, METHOD_EMAIL),
		s = email_booking_window(cfg, METHOD_SMS);

	return e > s ? e : s;
}

/* Seconds before another code of method may go out, by the limits of use;
 * 0: now.  *sending: what holds it back is a code on its way.  Counts the
 * day's enrollment codes afresh once a day has passed. */
static long code_wait(const struct mfa_config *cfg, struct mfa_sent_code *c, unsigned method,
		      enum email_code_use use, int64_t t, bool *sending)
{
	struct sent_settings s = sent_settings(cfg, method);
	int64_t since = t - c->sent, left, window = booking_window(cfg);
	bool recent = c->sent > 0 && since >= 0 && since < (int64_t)s.resend_after;

	*sending = c->booked > 0 && c->booked <= t && t - c->booked < window;
	if (*sending)
		return (long)(c->booked + window - t);
	if (use == EMAIL_CODE_LOGIN) {
		/* An expired code is no code: the user may have another. */
		if (!recent || !c->pending || t >= c->expires)
			return 0;
		left = (int64_t)s.resend_after - since;
		return (long)(c->expires - t < left ? c->expires - t : left);
	}
	/* A clock set back starts the day afresh rather than never. */
	if (c->enroll_codes_since > t || t - c->enroll_codes_since >= ENROLL_CODE_DAY) {
		c->enroll_codes = 0;
		c->enroll_codes_since = t;
	}
	if (recent)
		return (long)((int64_t)s.resend_after - since);
	if (c->enroll_codes >= s.enroll_limit)
		return (long)(c->enroll_codes_since + ENROLL_CODE_DAY - t);
	return 0;
}

/* The verified factor a login code goes to, or NULL. */
static struct mfa_factor *login_target(struct mfa_record *rec, const struct code_target *to)
{
	struct mfa_factor *f = record_factor(rec, to->factor);

	if (f == NULL || !f->verified || !(f->method & METHOD_SENT) ||
	    (to->method != 0 && f->method != to->method))
		return NULL;
	return f;
}

struct code_sending {
	const struct mfa_config *cfg;
	enum email_code_use use;
	const struct code_target *to;
	const char *code;
	time_t now;
	struct email_booking *booking; /* book: filled; sent, unbook: read */
	long *wait;
	bool *sending;
	struct mfa_error *err;
};

static int book_code(struct mfa_record *rec, bool exists, void *p)
{
	struct code_sending *m = p;
	struct email_booking *b = m->booking;
	unsigned method = m->to->method;

	if (m->use == EMAIL_CODE_LOGIN) {
		const struct mfa_factor *f = login_target(rec, m->to);

		if (f == NULL) {
			mfa_error_set(m->err, "the user's factor changed meanwhile");
			return -ESTALE;
		}
		method = f->method;
	}
	b->use = m->use;
	b->at = (int64_t)m->now;
	b->record_existed = exists;
	b->enroll_codes = rec->code.enroll_codes;
	b->enroll_codes_since = rec->code.enroll_codes_since;
	*m->wait = code_wait(m->cfg, &rec->code, method, m->use, (int64_t)m->now, m->sending);
	if (*m->wait > 0) {
		mfa_error_set(m->err, "no new code for %ld seconds", *m->wait);
		return -EAGAIN;
	}
	rec->code.booked = (int64_t)m->now;
	if (m->use == EMAIL_CODE_ENROLL)
		rec->code.enroll_codes++;
	return FILES_WRITE;
}

static int files_code_book(struct store *st, const struct mfa_config *cfg, const char *user,
			   enum email_code_use use, const struct store_basis *basis,
			   const struct code_target *to, time_t now, struct email_booking *booking,
			   long *wait, bool *sending, struct mfa_error *err)
{
	struct code_sending m = { cfg, use, to, NULL, now, booking, wait, sending, err };

	return files_update(files(st), user, use == EMAIL_CODE_ENROLL ? basis : NULL, book_code, &m,
			    err);
}

static int code_sent(struct mfa_record *rec, bool exists, void *p)
{
	struct code_sending *m = p;
	struct mfa_factor *f;
	int r;

	if (m->booking->use == EMAIL_CODE_LOGIN) {
		f = login_target(rec, m->to);
		if (f == NULL) {
			mfa_error_set(m->err, "the user's factor changed meanwhile");
			return -ESTALE;
		}
	} else {
		f = set_unverified(rec, m->to->method, m->to->dest, false, m->err);
		if (f == NULL)
			return -ENOSPC;
	}
	if (rec->code.booked == m->booking->at)
		rec->code.booked = 0;
	r = set_pending_code(rec, m->cfg, f, m->code, m->now, m->err);
	return r < 0 ? r : FILES_WRITE;
}

static int files_code_sent(struct store *st, const struct mfa_config *cfg, const char *user,
			   const struct store_basis *basis, const struct code_target *to,
			   const char *code, const struct email_booking *booking, time_t now,
			   struct mfa_error *err)
{
	struct code_sending m = {
		cfg, booking->use, to, code, now, (struct email_booking *)booking, NULL, NULL, err,
	};

	return files_update(files(st), user, booking->use == EMAIL_CODE_ENROLL ? basis : NULL,
			    code_sent, &m, err);
}

/* Whether rec holds nothing a fresh record does not: a record that is no
 * more than that need not be kept. */
static bool record_empty(const struct mfa_record *rec)
{
	const struct mfa_sent_code *c = &rec->code;

	return rec->n_factors == 0 && rec->factors_tag == 0 && rec->next_factor_id <= 1 &&
	       !c->pending && c->expires == 0 && c->sent == 0 && c->booked == 0 &&
	       c->enroll_codes == 0 && c->enroll_codes_since == 0 && rec->fail_count == 0 &&
	       rec->fail_since == 0 && rec->locked_until == 0 && rec->last_login == 0 &&
	       rec->last_service[0] == '\0' && rec->last_rhost[0] == '\0' && rec->skip_since == 0 &&
	       rec->recovery.n == 0 && !rec->bypass.set && rec->lock_notice == 0;
}

static int unbook_code(struct mfa_record *rec, bool exists, void *p)
{
	const struct email_booking *b = p;

	/* Another booking since (this one had timed out): not ours to end. */
	if (!exists || rec->code.booked != b->at)
		return exists ? FILES_KEEP : FILES_REMOVE;
	rec->code.booked = 0;
	if (b->use == EMAIL_CODE_ENROLL) {
		rec->code.enroll_codes = b->enroll_codes;
		rec->code.enroll_codes_since = b->enroll_codes_since;
	}
	return b->record_existed || !record_empty(rec) ? FILES_WRITE : FILES_REMOVE;
}

static int files_code_unbook(struct store *st, const char *user,
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
		return files_update(files(st), user, basis, remember_skip, &now, err);
	/* Nothing to write: a fresh read, without creating a lock file. */
	r = files_load(files(st), user, &rec, err);
	if (r == -ENOENT) {
		record_init(&rec, user);
		r = 0;
	}
	if (r == 0 && !files_basis_holds(basis, &rec)) {
		mfa_error_set(err, "the user's second factors changed meanwhile");
		r = -ESTALE;
	}
	record_wipe(&rec);
	return r;
}

struct removal {
	unsigned factor;
	bool remember_skip;
	time_t now;
	bool missing;
	struct mfa_error *err;
};

static int remove_one(struct mfa_record *rec, bool exists, void *p)
{
	struct removal *v = p;
	bool verified = false;
	int r;

	if (v->factor == 0) {
		if (rec->n_factors == 0 && !v->remember_skip)
			return exists ? FILES_KEEP : FILES_REMOVE;
		for (unsigned i = 0; i < rec->n_factors; i++)
			verified = verified || rec->factors[i].verified;
		while (rec->n_factors > 0)
			(void)record_remove_factor(rec, rec->factors[0].id);
		record_drop_code(rec);
	} else {
		const struct mfa_factor *f = record_factor(rec, v->factor);

		if (f == NULL) {
			v->missing = true;
			/* Nor leave behind the lock file made for the look. */
			return exists ? FILES_KEEP : FILES_REMOVE;
		}
		verified = f->verified;
		(void)record_remove_factor(rec, v->factor);
	}
	if (v->remember_skip)
		rec->skip_since = (int64_t)v->now;
	if (verified && (r = factors_changed(rec, v->err)) < 0)
		return r;
	return FILES_WRITE;
}

static int files_remove_factor(struct store *st, const char *user, const struct store_basis *basis,
			       unsigned factor, bool remember_skip, time_t now,
			       struct mfa_error *err)
{
	struct removal v = { factor, remember_skip, now, false, err };
	int r;

	if (!proved(st, user, basis, now)) {
		mfa_error_set(err, "a change of %s's factors without a proof of one", user);
		return -EPERM;
	}
	r = files_update(files(st), user, basis, remove_one, &v, err);

	/* -ENOENT says "no such factor": the store's own failures are not
	 * that. */
	if (r < 0)
		return r == -ENOENT ? -EIO : r;
	if (v.missing) {
		mfa_error_set(err, "%s has no factor %u", user, factor);
		return -ENOENT;
	}
	return 0;
}

struct relabel {
	unsigned factor;
	const char *label;
	bool missing;
};

static int relabel(struct mfa_record *rec, bool exists, void *p)
{
	struct relabel *v = p;
	struct mfa_factor *f = record_factor(rec, v->factor);

	if (f == NULL) {
		v->missing = true;
		return exists ? FILES_KEEP : FILES_REMOVE;
	}
	/* A label is no factor: a basis taken before it still holds. */
	set_label(f, v->label);
	return FILES_WRITE;
}

static int files_label_factor(struct store *st, const char *user, unsigned factor,
			      const char *label, struct mfa_error *err)
{
	struct relabel v = { factor, label, false };
	int r = files_update(files(st), user, NULL, relabel, &v, err);

	if (r < 0)
		return r == -ENOENT ? -EIO : r;
	if (v.missing) {
		mfa_error_set(err, "%s has no factor %u", user, factor);
		return -ENOENT;
	}
	return 0;
}

struct provision {
	const struct mfa_config *cfg;
	const struct mfa_totp *t;
	unsigned method;
	const char *dest;
	const char *label;
	enum provision_mode mode;
	time_t now;
	bool *replaced;
	const char *code;
	bool replace;
	struct mfa_error *err;
};

/* What a mode asks before a factor of method is saved: -EEXIST, -EDQUOT,
 * or the factors of the method removed for PROVISION_REPLACE. */
static int provision_room(struct mfa_record *rec, const struct provision *v, bool *removed)
{
	unsigned held = record_count(rec, v->method);

	switch (v->mode) {
	case PROVISION_NEW:
		if (held > 0) {
			mfa_error_set(v->err, "%s already has %s enrolled", rec->user,
				      method_name(v->method));
			return -EEXIST;
		}
		break;
	case PROVISION_ADD:
		if (held >= v->cfg->factors_per_method) {
			mfa_error_set(v->err, "%s already has %u of %s (factors_per_method)",
				      rec->user, held, method_name(v->method));
			return -EDQUOT;
		}
		break;
	case PROVISION_REPLACE: (void)remove_method(rec, v->method, false, removed); break;
	}
	return 0;
}

static int provision_totp(struct mfa_record *rec, bool exists, void *p)
{
	struct provision *v = p;
	struct mfa_factor *f;
	bool removed = false;
	int r;

	/* The same secret twice would accept each code twice. */
	for (unsigned i = 0; v->mode != PROVISION_REPLACE && i < rec->n_factors; i++) {
		const struct mfa_totp *t = &rec->factors[i].totp;

		if (rec->factors[i].method == METHOD_TOTP && t->secret_len == v->t->secret_len &&
		    consttime_equal(t->secret, v->t->secret, t->secret_len)) {
			mfa_error_set(v->err, "%s already has that app", rec->user);
			return -EEXIST;
		}
	}
	r = provision_room(rec, v, &removed);
	if (r < 0)
		return r;
	*v->replaced = removed;
	f = record_add_factor(rec, METHOD_TOTP);
	if (f == NULL) {
		mfa_error_set(v->err, "%s holds %d factors: no more", rec->user,
			      RECORD_FACTORS_MAX);
		return -EDQUOT;
	}
	f->totp = *v->t;
	f->totp.enrolled = true;
	f->totp.enrolled_at = (int64_t)v->now;
	f->verified = true;
	f->by_admin = true;
	f->added = (int64_t)v->now;
	set_label(f, v->label);
	note_new_factor(rec);
	r = factors_changed(rec, v->err);
	return r < 0 ? r : FILES_WRITE;
}

static int files_provision_totp(struct store *st, const struct mfa_config *cfg, const char *user,
				const struct mfa_totp *t, const char *label,
				enum provision_mode mode, time_t now, bool *replaced,
				struct mfa_error *err)
{
	struct provision v = { .cfg = cfg,
			       .t = t,
			       .method = METHOD_TOTP,
			       .label = label,
			       .mode = mode,
			       .now = now,
			       .replaced = replaced,
			       .err = err };

	return files_update(files(st), user, NULL, provision_totp, &v, err);
}

static int provision_dest(struct mfa_record *rec, bool exists, void *p)
{
	struct provision *v = p;
	struct mfa_factor *f;
	bool removed = false;
	int r;

	if (v->mode != PROVISION_REPLACE && verified_dest(rec, v->method, v->dest, 0) != NULL) {
		mfa_error_set(v->err, "%s already has %s verified", rec->user, v->dest);
		return -EEXIST;
	}
	r = provision_room(rec, v, &removed);
	if (r < 0)
		return r;
	/* The address or number being proved is vouched for instead. */
	f = unverified_factor(rec, v->method);
	if (f != NULL && strcmp(f->dest, v->dest) == 0) {
		if (rec->code.factor == f->id)
			record_drop_code(rec);
	} else {
		f = record_add_factor(rec, v->method);
		if (f == NULL) {
			mfa_error_set(v->err, "%s holds %d factors: no more", rec->user,
				      RECORD_FACTORS_MAX);
			return -EDQUOT;
		}
		(void)snprintf(f->dest, sizeof(f->dest), "%s", v->dest);
	}
	f->verified = true;
	f->by_admin = true;
	f->added = (int64_t)v->now;
	set_label(f, v->label);
	note_new_factor(rec);
	r = factors_changed(rec, v->err);
	return r < 0 ? r : FILES_WRITE;
}

static int files_provision_dest(struct store *st, const struct mfa_config *cfg, const char *user,
				unsigned method, const char *dest, const char *label,
				enum provision_mode mode, time_t now, struct mfa_error *err)
{
	struct provision v = { .cfg = cfg,
			       .method = method,
			       .dest = dest,
			       .label = label,
			       .mode = mode,
			       .now = now,
			       .err = err };

	return files_update(files(st), user, NULL, provision_dest, &v, err);
}

static int admin_code(struct mfa_record *rec, bool exists, void *p)
{
	struct provision *v = p;
	struct mfa_factor *f;
	bool removed = false;
	int r;

	if (v->replace)
		(void)remove_method(rec, v->method, true, &removed);
	if (record_count(rec, v->method) > 0) {
		mfa_error_set(v->err, "the user's %s factors changed meanwhile",
			      method_name(v->method));
		return -ESTALE;
	}
	f = set_unverified(rec, v->method, v->dest, true, v->err);
	if (f == NULL)
		return -EDQUOT;
	r = set_pending_code(rec, v->cfg, f, v->code, v->now, v->err);
	if (r == 0 && removed)
		r = factors_changed(rec, v->err);
	return r < 0 ? r : FILES_WRITE;
}

static int files_code_by_admin(struct store *st, const struct mfa_config *cfg, const char *user,
			       unsigned method, const char *dest, const char *code, bool replace,
			       time_t now, struct mfa_error *err)
{
	struct provision v = { .cfg = cfg,
			       .method = method,
			       .dest = dest,
			       .now = now,
			       .code = code,
			       .replace = replace,
			       .err = err };

	return files_update(files(st), user, NULL, admin_code, &v, err);
}

/* The first verified address of the record, if any: where the notice of
 * a reset goes. */
static void note_address(const struct mfa_record *rec, char *out, size_t len)
{
	for (unsigned i = 0; i < rec->n_factors; i++)
		if (rec->factors[i].verified && rec->factors[i].method == METHOD_EMAIL) {
			(void)snprintf(out, len, "%s", rec->factors[i].dest);
			return;
		}
}

/* Reset of everything takes the lock without parsing, so that it also
 * removes a corrupt record: it is the admin's way out of one. */
static int reset_user(struct files_store *fs, const char *user, struct store_reset_result *res,
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
		res->had_factor = record_count(&rec, 0) > 0;
		res->factors = rec.n_factors;
		note_address(&rec, res->notify, sizeof(res->notify));
		record_wipe(&rec);
	}
	r = files_remove(txn, err);
	files_end(txn);
	if (r < 0)
		return r;
	res->had_state = r > 0;
	return 0;
}

struct reset_some {
	const struct store_reset_what *what;
	struct store_reset_result *res;
	bool missing;
	struct mfa_error *err;
};

/* The factors of a method or a label go, the rest of the record stays. */
static int reset_factors(struct mfa_record *rec, bool exists, void *p)
{
	struct reset_some *o = p;
	const struct store_reset_what *w = o->what;
	char gone[EMAIL_ADDRESS_MAX + 1] = "";
	bool verified = false;
	int r;

	for (unsigned i = rec->n_factors; i-- > 0;) {
		const struct mfa_factor *f = &rec->factors[i];

		if ((w->method != 0 && f->method != w->method) ||
		    (w->label != NULL && strcmp(f->label, w->label) != 0))
			continue;
		if (f->verified) {
			verified = true;
			if (f->method == METHOD_EMAIL)
				(void)snprintf(gone, sizeof(gone), "%s", f->dest);
		}
		(void)record_remove_factor(rec, f->id);
		o->res->factors++;
	}
	if (o->res->factors == 0) {
		o->missing = w->label != NULL;
		/* Nor leave behind the lock file made for the look. */
		return exists ? FILES_KEEP : FILES_REMOVE;
	}
	o->res->had_state = true;
	o->res->had_factor = verified;
	/* Where to tell the user about it: an address they keep, else the
	 * one that went. */
	note_address(rec, o->res->notify, sizeof(o->res->notify));
	if (o->res->notify[0] == '\0')
		memcpy(o->res->notify, gone, sizeof(o->res->notify));
	/* The failures counted against the old factors go with them. */
	lockout_clear(rec);
	if (verified && (r = factors_changed(rec, o->err)) < 0)
		return r;
	return FILES_WRITE;
}

static int files_reset(struct store *st, const char *user, const struct store_reset_what *what,
		       struct store_reset_result *res, struct mfa_error *err)
{
	struct reset_some o = { what, res, false, err };
	int r;

	if (what->method == 0 && what->label == NULL)
		return reset_user(files(st), user, res, err);
	r = files_update(files(st), user, NULL, reset_factors, &o, err);
	if (r < 0)
		return r == -ENOENT ? -EIO : r;
	if (o.missing) {
		mfa_error_set(err, "%s has no factor labelled \"%s\"", user, what->label);
		return -ENOENT;
	}
	return 0;
}

/* The users of the state directory, for reset_all: read before anything is
 * removed, as a directory changed while it is read may be read in part. */
struct name_list {
	char **names;
	size_t n, cap;
};

static int collect_user(const char *name, enum files_entry kind, void *p)
{
	struct name_list *l = p;
	const char *user = kind == FILES_ENTRY_LOCK ? name + 6 : name;

	if (kind != FILES_ENTRY_RECORD && kind != FILES_ENTRY_LOCK)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		char **names = realloc(l->names, cap * sizeof(*names));

		if (names == NULL)
			return -ENOMEM;
		l->names = names;
		l->cap = cap;
	}
	l->names[l->n] = strdup(user);
	if (l->names[l->n] == NULL)
		return -ENOMEM;
	l->n++;
	return 0;
}

/* Every user's record and lock file go, each under the user's lock: a
 * login that read a record before gets -ESTALE or no state afterwards,
 * never a half.  Corrupt records go too.  *users: the records removed. */
static int files_reset_all(struct store *st, unsigned *users, struct mfa_error *err)
{
	struct name_list l = { NULL, 0, 0 };
	int r, first = 0;

	r = files_scan(files(st), collect_user, &l, err);
	if (r == -ENOMEM)
		mfa_error_set(err, "out of memory");
	for (size_t i = 0; r == 0 && i < l.n; i++) {
		struct mfa_error one = { "" };
		struct files_txn *txn = NULL;
		int w = files_lock(files(st), l.names[i], &txn, &one);

		if (w == 0) {
			w = files_remove(txn, &one);
			files_end(txn);
		}
		if (w > 0)
			(*users)++;
		/* The others still go: the first error is told at the end. */
		if (w < 0 && first == 0) {
			first = w;
			memcpy(err->msg, one.msg, sizeof(err->msg));
		}
	}
	for (size_t i = 0; i < l.n; i++)
		free(l.names[i]);
	free(l.names);
	return r < 0 ? r : first;
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

/* --- Recovery and bypass codes --- */

/* Whether code is the kept one: its hash, compared in constant time. */
static bool kept_matches(const struct mfa_kept_code *k, const char *code)
{
	unsigned char hash[EMAIL_HASH_LEN];
	bool match = false;

	if (recovery_code_hash(k->salt, code, hash) == 0)
		match = consttime_equal(hash, k->hash, EMAIL_HASH_LEN);
	secure_wipe(hash, sizeof(hash));
	return match;
}

/* A fresh salt and the hash of code under it; -EIO with err set. */
static int keep_code(struct mfa_kept_code *k, const char *code, struct mfa_error *err)
{
	int r = secure_random(k->salt, sizeof(k->salt));

	if (r == 0)
		r = recovery_code_hash(k->salt, code, k->hash);
	if (r < 0) {
		secure_wipe(k, sizeof(*k));
		mfa_error_set(err, "cannot make a code's hash");
		return -EIO;
	}
	return 0;
}

static bool bypass_works(const struct mfa_bypass *b, time_t now)
{
	return b->set && b->uses_left > 0 && b->expires > (int64_t)now;
}

struct backup_check {
	const struct mfa_config *cfg;
	const char *code;
	const struct store_login *at;
	struct verify_result *res;
};

/* Under the lock, on a fresh read, as check_totp(): of two logins racing
 * with one code, the second sees it spent.  Every code of the set and the
 * bypass code are hashed, whichever matches: the time taken does not tell
 * which one it was. */
static int check_backup(struct mfa_record *rec, bool exists, void *p)
{
	struct backup_check *c = p;
	struct verify_result *res = c->res;
	struct mfa_recovery_set *set = &rec->recovery;
	struct mfa_bypass *b = &rec->bypass;
	time_t now = c->at->now;
	bool bypass = false;
	int found = -1;

	/* Recovery codes are no factor: they stand in for one held.  Nor
	 * is a lock file left behind for a user the store does not know. */
	if (!exists || record_count(rec, 0) == 0) {
		res->outcome = VERIFY_NOT_ENROLLED;
		return exists ? FILES_KEEP : FILES_REMOVE;
	}
	if (lockout_active(rec, now)) {
		res->outcome = VERIFY_LOCKED;
		return FILES_KEEP;
	}
	/* Text of another form is no code the store keeps: a wrong one. */
	if (recovery_code_is_canonical(c->code)) {
		for (unsigned i = 0; i < set->n && i < RECOVERY_CODES_MAX; i++)
			if (kept_matches(&set->codes[i], c->code) && found < 0)
				found = (int)i;
		bypass = b->set && kept_matches(&b->code, c->code);
	}
	if (found >= 0 && set->used[found] == 0) {
		set->used[found] = (int64_t)now;
		res->backup = BACKUP_RECOVERY;
		res->remaining = record_recovery_left(rec);
	} else if (bypass && bypass_works(b, now)) {
		b->uses_left--;
		res->backup = BACKUP_BYPASS;
		res->remaining = b->uses_left;
	} else {
		/* A spent recovery code is as wrong as any; the bypass code
		 * past its time or uses says so. */
		count_failure(rec, c->cfg, now, res, bypass ? VERIFY_EXPIRED : VERIFY_WRONG);
		res->fail_count = rec->fail_count;
		return FILES_WRITE;
	}
	note_login(rec, c->at);
	res->outcome = VERIFY_OK;
	res->fail_count = rec->fail_count;
	return FILES_WRITE;
}

static int files_verify_backup(struct store *st, const struct mfa_config *cfg, const char *user,
			       const char *code, const struct store_login *at,
			       struct verify_result *res, struct mfa_error *err)
{
	struct backup_check c = { cfg, code, at, res };

	memset(res, 0, sizeof(*res));
	return verify_done(files_update(files(st), user, NULL, check_backup, &c, err), res);
}

struct recovery_make {
	const char *const *codes;
	unsigned n;
	enum record_codes_source source;
	time_t now;
	bool no_factor;
	struct mfa_error *err;
};

/* A new set replaces the old whole: a code of the old never works again. */
static int make_recovery(struct mfa_record *rec, bool exists, void *p)
{
	struct recovery_make *m = p;
	struct mfa_recovery_set *set = &rec->recovery;

	if (record_count(rec, 0) == 0) {
		m->no_factor = true;
		/* Nor leave behind the lock file made for the look. */
		return exists ? FILES_KEEP : FILES_REMOVE;
	}
	secure_wipe(set, sizeof(*set));
	for (unsigned i = 0; i < m->n; i++) {
		int r = keep_code(&set->codes[i], m->codes[i], m->err);

		/* The record is not written: the old set stays. */
		if (r < 0)
			return r;
	}
	set->n = m->n;
	set->source = m->source;
	set->since = (int64_t)m->now;
	return FILES_WRITE;
}

static int recovery_update(struct store *st, const char *user, const struct store_basis *basis,
			   struct recovery_make *m, struct mfa_error *err)
{
	int r;

	if (m->n < 1 || m->n > RECOVERY_CODES_MAX) {
		mfa_error_set(err, "a set of recovery codes holds 1 to %d codes",
			      RECOVERY_CODES_MAX);
		return -EINVAL;
	}
	r = files_update(files(st), user, basis, make_recovery, m, err);
	/* -ENOENT says "no factor": the store's own failures are not that. */
	if (r < 0)
		return r == -ENOENT ? -EIO : r;
	if (m->no_factor) {
		mfa_error_set(err, "%s holds no verified factor", user);
		return -ENOENT;
	}
	return 0;
}

static int files_recovery_new(struct store *st, const char *user, const struct store_basis *basis,
			      const char *const *codes, unsigned n, time_t now,
			      struct mfa_error *err)
{
	struct recovery_make m = { codes, n, RECORD_CODES_USER, now, false, err };

	if (!proved(st, user, basis, now)) {
		mfa_error_set(err, "new recovery codes for %s without a proof of a factor", user);
		return -EPERM;
	}
	return recovery_update(st, user, basis, &m, err);
}

static int files_recovery_admin(struct store *st, const char *user, const char *const *codes,
				unsigned n, enum store_recovery_source source, time_t now,
				struct mfa_error *err)
{
	struct recovery_make m = {
		codes,
		n,
		source == RECOVERY_IMPORTED ? RECORD_CODES_IMPORTED : RECORD_CODES_ADMIN,
		now,
		false,
		err
	};

	return recovery_update(st, user, NULL, &m, err);
}

struct bypass_make {
	const char *code;
	unsigned uses;
	int64_t expires;
	time_t now;
	bool no_factor;
	bool had;
	struct mfa_error *err;
};

static int make_bypass(struct mfa_record *rec, bool exists, void *p)
{
	struct bypass_make *m = p;
	struct mfa_bypass *b = &rec->bypass;
	int r;

	/* There is nothing to bypass: enrollment at login needs no code. */
	if (record_count(rec, 0) == 0) {
		m->no_factor = true;
		return exists ? FILES_KEEP : FILES_REMOVE;
	}
	secure_wipe(b, sizeof(*b));
	r = keep_code(&b->code, m->code, m->err);
	if (r < 0)
		return r;
	b->set = true;
	b->uses_left = m->uses;
	b->expires = m->expires;
	b->made = (int64_t)m->now;
	return FILES_WRITE;
}

static int files_bypass_new(struct store *st, const char *user, const char *code, unsigned uses,
			    int64_t expires, time_t now, struct mfa_error *err)
{
	struct bypass_make m = { code, uses, expires, now, false, false, err };
	int r;

	/* The record's times end with the year 9999. */
	if (uses < 1 || uses > RECORD_BYPASS_USES_MAX || expires <= (int64_t)now ||
	    expires > INT64_C(253402300799)) {
		mfa_error_set(err, "a bypass code works 1 to %d times, until a time ahead",
			      RECORD_BYPASS_USES_MAX);
		return -EINVAL;
	}
	r = files_update(files(st), user, NULL, make_bypass, &m, err);
	if (r < 0)
		return r == -ENOENT ? -EIO : r;
	if (m.no_factor) {
		mfa_error_set(err, "%s holds no verified factor", user);
		return -ENOENT;
	}
	return 0;
}

static int revoke_bypass(struct mfa_record *rec, bool exists, void *p)
{
	struct bypass_make *m = p;

	if (!exists || !rec->bypass.set)
		return exists ? FILES_KEEP : FILES_REMOVE;
	m->had = bypass_works(&rec->bypass, m->now);
	secure_wipe(&rec->bypass, sizeof(rec->bypass));
	return FILES_WRITE;
}

static int files_bypass_revoke(struct store *st, const char *user, time_t now, bool *had,
			       struct mfa_error *err)
{
	struct bypass_make m = { .now = now, .err = err };
	int r = files_update(files(st), user, NULL, revoke_bypass, &m, err);

	*had = r == 0 && m.had;
	return r;
}

struct notice_claim {
	time_t now;
	unsigned interval;
	bool due;
};

/* A lockout is kept in the record: a user without one has none to tell
 * of, and gets no record for the asking. */
static int claim_notice(struct mfa_record *rec, bool exists, void *p)
{
	struct notice_claim *c = p;
	int64_t t = (int64_t)c->now, last = rec->lock_notice;

	if (!exists)
		return FILES_REMOVE;
	/* A clock set back starts afresh rather than never. */
	if (last > 0 && last <= t && t - last < (int64_t)c->interval)
		return FILES_KEEP;
	rec->lock_notice = t;
	c->due = true;
	return FILES_WRITE;
}

static int files_lock_notice_due(struct store *st, const char *user, time_t now, unsigned interval,
				 bool *due, struct mfa_error *err)
{
	struct notice_claim c = { now, interval, false };
	int r = files_update(files(st), user, NULL, claim_notice, &c, err);

	*due = r == 0 && c.due;
	return r;
}

static int files_prove(struct store *st, const struct mfa_config *cfg, const char *user,
		       unsigned factor, const char *code, const struct store_login *at,
		       struct verify_result *res, struct store_basis *basis, struct mfa_error *err)
{
	struct store_summary sum;
	int r = factor == 0 ? files_verify_totp(st, cfg, user, code, at, res, err) :
		factor == STORE_FACTOR_BACKUP ?
			      files_verify_backup(st, cfg, user, code, at, res, err) :
			      files_verify_sent(st, cfg, user, code, factor, at, res, err);

	if (r < 0 || res->outcome != VERIFY_OK)
		return r;
	r = files_summary(st, user, &sum, err);
	if (r == 0) {
		basis->version = sum.basis.version;
		r = files_proof_make(files(st), user, (int64_t)at->now, basis->proof);
		if (r < 0)
			mfa_error_set(err, "cannot get random bytes for a proof");
	}
	store_summary_wipe(&sum);
	if (r < 0) {
		res->outcome = VERIFY_STORE_ERROR;
		return r == -ENOMEM ? r : 0;
	}
	return 0;
}

const struct store_ops files_store_ops = {
	.name = "files",
	.close = files_close_op,
	.summary = files_summary,
	.verify_totp = files_verify_totp,
	.verify_sent = files_verify_sent,
	.prove = files_prove,
	.verify_backup = files_verify_backup,
	.recovery_new = files_recovery_new,
	.recovery_admin = files_recovery_admin,
	.bypass_new = files_bypass_new,
	.bypass_revoke = files_bypass_revoke,
	.lock_notice_due = files_lock_notice_due,
	.enroll_totp = files_enroll_totp,
	.enroll_sent = files_enroll_sent,
	.code_book = files_code_book,
	.code_sent = files_code_sent,
	.code_unbook = files_code_unbook,
	.skip = files_skip,
	.remove_factor = files_remove_factor,
	.label_factor = files_label_factor,
	.provision_totp = files_provision_totp,
	.provision_dest = files_provision_dest,
	.code_by_admin = files_code_by_admin,
	.reset = files_reset,
	.reset_all = files_reset_all,
	.unlock = files_unlock,
	.list = files_list_op,
	.check = files_check,
	.defer_sync = files_defer_sync_op,
	.sync = files_sync_op,
};
