/* The login decision: what the next step of a login is, from the user's
 * policy, factors, lockout and the enroll_by deadline.  Pure (no I/O, no
 * clock: the time is one of the facts), so that pam_mfa, mfa-setup and
 * mfactl policy take it from one place and cannot disagree. */
#ifndef PAM_MFA_LOGIN_DECISION_H
#define PAM_MFA_LOGIN_DECISION_H

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"

/* What the decision looks at. */
struct login_facts {
	enum mfa_policy policy;
	unsigned allowed;     /* methods the policy allows (METHOD_*) */
	unsigned held;	      /* factors the user holds (METHOD_*) */
	bool skip_remembered; /* an opt-out skip on record */
	int64_t locked_until; /* 0: none; -1: until an admin unlocks; else a time */
	int64_t enroll_by;    /* last second of enrollment at login; 0: none */
	int64_t now;
};

enum login_step {
	LOGIN_EXEMPT,		       /* no second factor */
	LOGIN_DENY_FACTOR_NOT_ALLOWED, /* holds factors, none the policy allows */
	LOGIN_SKIP_REMEMBERED,	       /* opt-out, skipped at an earlier login */
	LOGIN_DENY_DEADLINE,	       /* must enroll, and enroll_by has passed */
	LOGIN_OFFER_ENROLLMENT,	       /* may_skip, skip_is_remembered say more */
	LOGIN_LOCKED,
	LOGIN_ASK_TOTP, /* sent_too: "email" or "sms" switches to a sent code */
	LOGIN_ASK_SENT, /* a code by email or sms */
};

struct login_decision {
	enum login_step step;
	unsigned usable;	 /* held & allowed */
	bool may_skip;		 /* LOGIN_OFFER_ENROLLMENT: a skip is offered */
	bool skip_is_remembered; /* LOGIN_OFFER_ENROLLMENT: ...and remembered */
	bool locked_until_admin; /* LOGIN_LOCKED: no end but mfactl unlock */
	bool sent_too;		 /* LOGIN_ASK_TOTP: email or sms is usable too */
};

/* LOGIN_EXEMPT depends on the policy alone: a caller may decide it on facts
 * with nothing held, before it reads the store (pam_mfa opens no store for exempt
 * users). */
void login_decide(const struct login_facts *f, struct login_decision *out);

/* Whether enroll_by closes enrollment without an admin: the policy is
 * required, the user holds no factor at all, and the deadline has passed.
 * The same date closes the login's offer and mfa-setup. */
bool login_enrollment_closed(const struct login_facts *f);

/* The answer to LOGIN_OFFER_ENROLLMENT's prompt. */
enum offer_answer {
	OFFER_ANSWER_NONE,  /* the conversation failed, or may not be shown */
	OFFER_ANSWER_SKIP,  /* "skip" */
	OFFER_ANSWER_ENTER, /* anything else: set it up */
};

enum offer_step {
	OFFER_ENROLL,
	OFFER_ENROLL_SKIP_REFUSED, /* "skip" where none is allowed: say so, enroll */
	OFFER_SKIP_THIS_TIME,
	OFFER_SKIP_REMEMBERED, /* record the skip: later logins do not ask */
	OFFER_SKIP_NON_INTERACTIVE,
	OFFER_DENY_NON_INTERACTIVE,
};

/* What an answer to the offer leads to.  A decision that is not an offer
 * allows no skip: answers to it enroll or deny. */
enum offer_step login_offer_answer(const struct login_decision *d, enum offer_answer answer);

#endif
