/* Checking a TOTP code against a user's record: under the user's lock, on a
 * fresh read, with replay protection and the lockout, recording the result.
 * Shared by the module and the self-service helper. */
#ifndef PAM_MFA_VERIFY_H
#define PAM_MFA_VERIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "store.h"

enum verify_outcome {
	VERIFY_OK,
	VERIFY_WRONG,	     /* wrong or malformed code: counted */
	VERIFY_REPLAY,	     /* a code of an already used step: counted */
	VERIFY_EXPIRED,	     /* an email code past its expiry, or none: counted */
	VERIFY_LOCKED,	     /* locked out: not checked, not counted */
	VERIFY_NOT_ENROLLED, /* reset while the user was typing */
	VERIFY_STORE_ERROR,  /* err says why; nothing was accepted */
};

struct verify_result {
	enum verify_outcome outcome;
	unsigned fail_count; /* after this attempt */
	bool locked_now;     /* this failure locked the user */
	uint64_t step;	     /* the accepted step */
};

/* Checks code for user at time now; on success records the step and the
 * login (service, rhost); on failure counts it.  A result that could not be
 * written is VERIFY_STORE_ERROR: without the step on disk a replay would
 * pass.  Returns 0, or -ENOMEM. */
int verify_totp_code(struct store *st, const struct mfa_config *cfg, const char *user,
		     const char *code, time_t now, const char *service, const char *rhost,
		     struct verify_result *res, struct mfa_error *err);

/* Checks an emailed code against the pending one of the record: for a
 * login (enrolling NULL: the address must be verified), or to prove an
 * address (the address on record must be address, and is marked verified
 * on success, if the record's factors are still those of *enrolling: else
 * VERIFY_NOT_ENROLLED).  The code is single-use; failures count toward the
 * lockout like wrong TOTP codes. */
int verify_email_code(struct store *st, const struct mfa_config *cfg, const char *user,
		      const char *code, const struct record_factors *enrolling, const char *address,
		      time_t now, const char *service, const char *rhost, struct verify_result *res,
		      struct mfa_error *err);

/* Records a code just sent by an administrator (mfactl enroll) to address
 * as the user's pending one (salted hash, expiry, time sent), replacing any
 * other: the address becomes the unverified one on record, marked as the
 * administrator's; with replace, a verified one gives way in the same
 * write.  0 or -errno; -ESTALE if the user has a verified address (and not
 * replace). */
int store_email_code(struct store *st, const struct mfa_config *cfg, const char *user,
		     const char *address, const char *code, bool replace, time_t now,
		     struct mfa_error *err);

enum email_code_use {
	EMAIL_CODE_LOGIN,  /* a login code, to the verified address */
	EMAIL_CODE_ENROLL, /* the user proves an address (login, mfa-setup) */
};

/* A code about to be mailed, booked by email_code_book(). */
struct email_booking {
	enum email_code_use use;
	int64_t at; /* when it was booked */
	bool record_existed;
	unsigned enroll_mails; /* the day's count before it */
	int64_t enroll_mails_since;
};

/* How long a booked code may be on its way, in seconds: the mail's own
 * bound (email.timeout) and a margin.  A booking older than that was never
 * finished (its process was killed) and holds nothing back. */
int64_t email_booking_window(const struct mfa_config *cfg);

/* Books the mailing of a code, under the lock, so that the limits hold for
 * logins racing each other: while a code is on its way (booked less than
 * email.timeout + 5 seconds ago) no other is (*sending).  A login code
 * goes to the verified address (else -ESTALE), no sooner than
 * email.resend_after after the last sent while that one is valid.  To
 * prove an address (on basis, like every enrollment write: -ESTALE if the
 * factors changed), no sooner than email.resend_after after the last code,
 * and at most email.enroll_mails a day, counted here.  Past a limit:
 * -EAGAIN, *wait in seconds.  The pending code is not touched: until the
 * mail has gone out (email_code_sent()), the user's last code works. */
int email_code_book(struct store *st, const struct mfa_config *cfg, const char *user,
		    enum email_code_use use, const struct record_factors *basis,
		    const char *address, time_t now, struct email_booking *booking, long *wait,
		    bool *sending, struct mfa_error *err);
/* The mail went out: code becomes the pending one (replacing any other),
 * for an enrollment with address as the unverified one on record; the
 * booking ends.  -ESTALE if the record no longer allows it (the factors
 * changed, the address was verified or reset). */
int email_code_sent(struct store *st, const struct mfa_config *cfg, const char *user,
		    const struct record_factors *basis, const char *address, const char *code,
		    const struct email_booking *booking, time_t now, struct mfa_error *err);
/* The mail could not be sent: the booking ends, the day's count is as it
 * was, and a record that only the booking made is removed.  A booking
 * that is not ending (its process killed) stops counting by itself. */
int email_code_unbook(struct store *st, const char *user, const struct email_booking *booking,
		      struct mfa_error *err);

/* The longest answer examined; anything longer is refused unread. */
#define CODE_INPUT_MAX 64

/* Turns a typed answer into a code: drops the spaces apps show inside
 * codes; an overlong answer becomes one that can never verify.  out must
 * hold CODE_INPUT_MAX + 1 bytes. */
void code_from_answer(const char *answer, char *out);

#endif
