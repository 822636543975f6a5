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
	VERIFY_WRONG,		/* wrong or malformed code: counted */
	VERIFY_REPLAY,		/* a code of an already used step: counted */
	VERIFY_EXPIRED,		/* an email code past its expiry, or none: counted */
	VERIFY_LOCKED,		/* locked out: not checked, not counted */
	VERIFY_NOT_ENROLLED,	/* reset while the user was typing */
	VERIFY_STORE_ERROR,	/* err says why; nothing was accepted */
};

struct verify_result {
	enum verify_outcome outcome;
	unsigned fail_count;	/* after this attempt */
	bool locked_now;	/* this failure locked the user */
	uint64_t step;		/* the accepted step */
};

/* Checks code for user at time now; on success records the step and the
 * login (service, rhost); on failure counts it.  A result that could not be
 * written is VERIFY_STORE_ERROR: without the step on disk a replay would
 * pass.  Returns 0, or -ENOMEM. */
int verify_totp_code(struct store *st, const struct mfa_config *cfg, const char *user,
		     const char *code, time_t now, const char *service, const char *rhost,
		     struct verify_result *res, struct mfa_error *err);

/* Checks an emailed code against the pending one of the record: for a
 * login (enrolling false: the address must be verified), or to prove an
 * address (enrolling true: the address on record must be address, and is
 * marked verified on success).  The code is single-use; failures count
 * toward the lockout like wrong TOTP codes. */
int verify_email_code(struct store *st, const struct mfa_config *cfg, const char *user,
		      const char *code, bool enrolling, const char *address, time_t now,
		      const char *service, const char *rhost, struct verify_result *res,
		      struct mfa_error *err);

enum email_code_use {
	EMAIL_CODE_LOGIN,	/* to the verified address */
	EMAIL_CODE_ENROLL,	/* to prove an address: the user has no verified one */
	EMAIL_CODE_REENROLL,	/* an admin's --force: replaces a verified address */
};

/* Records a code just sent to address as the user's pending one (salted
 * hash, expiry, time sent), replacing any other.  For a login the address
 * must be the verified one; to enroll it becomes the unverified address on
 * record (and for EMAIL_CODE_REENROLL a verified one gives way, in the same
 * write).  0 or -errno; -ESTALE if the record changed so that the code no
 * longer applies. */
int store_email_code(struct store *st, const struct mfa_config *cfg, const char *user,
		     const char *address, const char *code, enum email_code_use use,
		     time_t now, struct mfa_error *err);

/* The longest answer examined; anything longer is refused unread. */
#define CODE_INPUT_MAX 64

/* Turns a typed answer into a code: drops the spaces apps show inside
 * codes; an overlong answer becomes one that can never verify.  out must
 * hold CODE_INPUT_MAX + 1 bytes. */
void code_from_answer(const char *answer, char *out);

#endif
