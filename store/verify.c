/* Checking a TOTP code against a user's record; see verify.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lockout.h"
#include "secmem.h"
#include "verify.h"

int verify_totp_code(struct store *st, const struct mfa_config *cfg, const char *user,
		     const char *code, time_t now, const char *service, const char *rhost,
		     struct verify_result *res, struct mfa_error *err)
{
	struct mfa_record rec;
	struct store_txn *txn = NULL;
	bool exists;
	int v, r;

	memset(res, 0, sizeof(*res));
	/* Lock, then read afresh: of two logins racing with one code, the
	 * second sees the first's last_step and is refused. */
	r = store_begin(st, user, &txn, &rec, &exists, err);
	if (r < 0) {
		res->outcome = VERIFY_STORE_ERROR;
		return r == -ENOMEM ? r : 0;
	}
	if (!exists || !rec.totp.enrolled) {
		res->outcome = VERIFY_NOT_ENROLLED;
		goto out;
	}
	if (lockout_active(&rec, now)) {
		res->outcome = VERIFY_LOCKED;
		goto out;
	}
	v = totp_verify(rec.totp.secret, rec.totp.secret_len, &rec.totp.params, code, now,
			cfg->totp.window, rec.totp.last_step, &res->step);
	if (v == 1) {
		rec.totp.last_step = res->step;
		lockout_clear(&rec);
		rec.last_login = (int64_t)now;
		record_set_text(rec.last_service, service);
		record_set_text(rec.last_rhost, rhost);
		res->outcome = VERIFY_OK;
	} else {
		res->locked_now = lockout_record_failure(&rec, cfg, now);
		res->outcome = v == 0 ? VERIFY_REPLAY : VERIFY_WRONG;
	}
	res->fail_count = rec.fail_count;
	if (store_commit(txn, &rec, err) < 0)
		res->outcome = VERIFY_STORE_ERROR;
out:
	store_end(txn);
	record_wipe(&rec);
	return 0;
}

void code_from_answer(const char *answer, char *out)
{
	size_t o = 0;

	if (answer == NULL || strnlen(answer, CODE_INPUT_MAX + 1) > CODE_INPUT_MAX) {
		memcpy(out, "x", 2);
		return;
	}
	for (const char *p = answer; *p != '\0'; p++)
		if (*p != ' ')
			out[o++] = *p;
	out[o] = '\0';
}

int verify_email_code(struct store *st, const struct mfa_config *cfg, const char *user,
		      const char *code, const struct record_factors *enrolling, const char *address,
		      time_t now, const char *service, const char *rhost, struct verify_result *res,
		      struct mfa_error *err)
{
	unsigned char hash[EMAIL_HASH_LEN];
	struct mfa_record rec;
	struct store_txn *txn = NULL;
	struct mfa_email *e = &rec.email;
	bool exists, match;
	int r;

	memset(res, 0, sizeof(*res));
	r = store_begin_unchanged(st, user, enrolling, &txn, &rec, &exists, err);
	if (r == -ESTALE) {
		res->outcome = VERIFY_NOT_ENROLLED;
		return 0;
	}
	if (r < 0) {
		res->outcome = VERIFY_STORE_ERROR;
		return r == -ENOMEM ? r : 0;
	}
	if (enrolling ? e->verified || strcmp(e->address, address) != 0 : !e->verified) {
		res->outcome = VERIFY_NOT_ENROLLED;
		goto out;
	}
	if (lockout_active(&rec, now)) {
		res->outcome = VERIFY_LOCKED;
		goto out;
	}
	match = false;
	if (e->code_pending && email_code_hash(e->code_salt, code, hash) == 0)
		match = consttime_equal(hash, e->code_hash, EMAIL_HASH_LEN);
	secure_wipe(hash, sizeof(hash));
	if (match && (int64_t)now < e->code_expires) {
		res->outcome = VERIFY_OK;
		lockout_clear(&rec);
		rec.last_login = (int64_t)now;
		record_set_text(rec.last_service, service);
		record_set_text(rec.last_rhost, rhost);
		if (enrolling) {
			e->verified = true;
			e->enrolled_at = (int64_t)now;
			rec.skip_since = 0;
		}
	} else {
		res->locked_now = lockout_record_failure(&rec, cfg, now);
		res->outcome = match || !e->code_pending ? VERIFY_EXPIRED : VERIFY_WRONG;
	}
	/* Single use: a right code is spent, and so is an expired one. */
	if (res->outcome != VERIFY_WRONG) {
		e->code_pending = false;
		secure_wipe(e->code_salt, sizeof(e->code_salt));
		secure_wipe(e->code_hash, sizeof(e->code_hash));
		e->code_expires = 0;
	}
	res->fail_count = rec.fail_count;
	if (store_commit(txn, &rec, err) < 0)
		res->outcome = VERIFY_STORE_ERROR;
out:
	store_end(txn);
	record_wipe(&rec);
	return 0;
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

int store_email_code(struct store *st, const struct mfa_config *cfg, const char *user,
		     const char *address, const char *code, bool replace, time_t now,
		     struct mfa_error *err)
{
	struct mfa_record rec;
	struct store_txn *txn = NULL;
	struct mfa_email *e = &rec.email;
	bool exists;
	int r;

	r = store_begin(st, user, &txn, &rec, &exists, err);
	if (r < 0)
		return r;
	if (replace && e->verified) {
		e->verified = false;
		e->enrolled_at = 0;
	}
	if (e->verified) {
		mfa_error_set(err, "the user's email address changed meanwhile");
		r = -ESTALE;
		goto out;
	}
	set_unverified_address(e, address, true);
	r = set_pending_code(e, cfg, code, now, err);
	if (r == 0)
		r = store_commit(txn, &rec, err);
out:
	store_end(txn);
	record_wipe(&rec);
	return r;
}

/* A day, for the count of enrollment mails. */
#define ENROLL_MAIL_DAY 86400

int64_t email_booking_window(const struct mfa_config *cfg)
{
	return (int64_t)cfg->email.timeout + 5;
}

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

int email_code_book(struct store *st, const struct mfa_config *cfg, const char *user,
		    enum email_code_use use, const struct record_factors *basis,
		    const char *address, time_t now, struct email_booking *booking, long *wait,
		    bool *sending, struct mfa_error *err)
{
	struct mfa_record rec;
	struct store_txn *txn = NULL;
	struct mfa_email *e = &rec.email;
	bool exists;
	int r;

	memset(booking, 0, sizeof(*booking));
	*wait = 0;
	*sending = false;
	r = store_begin_unchanged(st, user, basis, &txn, &rec, &exists, err);
	if (r < 0)
		return r;
	if (!code_allowed(e, use, address)) {
		mfa_error_set(err, "the user's email address changed meanwhile");
		r = -ESTALE;
		goto out;
	}
	booking->use = use;
	booking->at = (int64_t)now;
	booking->record_existed = exists;
	booking->enroll_mails = e->enroll_mails;
	booking->enroll_mails_since = e->enroll_mails_since;
	*wait = code_wait(cfg, e, use, (int64_t)now, sending);
	if (*wait > 0) {
		mfa_error_set(err, "no new code for %ld seconds", *wait);
		r = -EAGAIN;
		goto out;
	}
	e->code_booked = (int64_t)now;
	if (use == EMAIL_CODE_ENROLL)
		e->enroll_mails++;
	r = store_commit(txn, &rec, err);
out:
	store_end(txn);
	record_wipe(&rec);
	return r;
}

int email_code_sent(struct store *st, const struct mfa_config *cfg, const char *user,
		    const struct record_factors *basis, const char *address, const char *code,
		    const struct email_booking *booking, time_t now, struct mfa_error *err)
{
	struct mfa_record rec;
	struct store_txn *txn = NULL;
	struct mfa_email *e = &rec.email;
	bool exists;
	int r;

	r = store_begin_unchanged(st, user, basis, &txn, &rec, &exists, err);
	if (r < 0)
		return r;
	if (!code_allowed(e, booking->use, address)) {
		mfa_error_set(err, "the user's email address changed meanwhile");
		r = -ESTALE;
		goto out;
	}
	if (e->code_booked == booking->at)
		e->code_booked = 0;
	if (booking->use == EMAIL_CODE_ENROLL)
		set_unverified_address(e, address, false);
	r = set_pending_code(e, cfg, code, now, err);
	if (r == 0)
		r = store_commit(txn, &rec, err);
out:
	store_end(txn);
	record_wipe(&rec);
	return r;
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

int email_code_unbook(struct store *st, const char *user, const struct email_booking *booking,
		      struct mfa_error *err)
{
	struct mfa_record rec;
	struct store_txn *txn = NULL;
	struct mfa_email *e = &rec.email;
	bool exists;
	int r;

	r = store_begin(st, user, &txn, &rec, &exists, err);
	if (r < 0)
		goto out;
	/* Another booking since (this one had timed out): not ours to end. */
	if (!exists || e->code_booked != booking->at)
		goto out;
	e->code_booked = 0;
	if (booking->use == EMAIL_CODE_ENROLL) {
		e->enroll_mails = booking->enroll_mails;
		e->enroll_mails_since = booking->enroll_mails_since;
	}
	if (booking->record_existed || !record_empty(&rec))
		r = store_commit(txn, &rec, err);
	else if ((r = store_remove(txn, err)) > 0)
		r = 0;
out:
	store_end(txn);
	record_wipe(&rec);
	return r;
}
