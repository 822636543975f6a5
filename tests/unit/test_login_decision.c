/* Unit tests for login_decision.c: every cell of policy x factors held x
 * remembered skip x enroll_by x lockout, the answers to the enrollment
 * offer, and the edges (the deadline's last second, a lock that ends now).
 * The expected steps are written out, as pam_mfa.c decides them today. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lockout.h"
#include "login_decision.h"
#include "store.h"

#define NOW INT64_C(1893456010) /* 2030-01-01 00:00:10Z */

#define REQ POLICY_REQUIRED
#define OPT POLICY_OPTIONAL
#define OPTOUT POLICY_OPT_OUT
#define EXEMPT POLICY_EXEMPT

/* The factors a user holds, and the methods their policy allows. */
enum held {
	H_NONE,
	H_TOTP,
	H_EMAIL,
	H_BOTH,
	H_NOT_ALLOWED, /* an address, where the policy allows only TOTP */
};

static const struct {
	unsigned allowed, held, usable;
} helds[] = {
	[H_NONE] = { METHOD_ALL, 0, 0 },
	[H_TOTP] = { METHOD_ALL, METHOD_TOTP, METHOD_TOTP },
	[H_EMAIL] = { METHOD_ALL, METHOD_EMAIL, METHOD_EMAIL },
	[H_BOTH] = { METHOD_ALL, METHOD_ALL, METHOD_ALL },
	[H_NOT_ALLOWED] = { METHOD_TOTP, METHOD_EMAIL, 0 },
};

#define NO_SKIP false
#define SKIPPED true

enum deadline { DL_NONE, DL_AHEAD, DL_PASSED };

static const int64_t enroll_bys[] = {
	[DL_NONE] = 0,
	[DL_AHEAD] = NOW + 86400,
	[DL_PASSED] = NOW - 1,
};

#define UNLOCKED 0
#define LOCKED (NOW + 600)

struct expect {
	enum login_step step;
	bool may_skip, skip_is_remembered, sent_too;
};

#define X_EXEMPT                                  \
	{                                         \
		LOGIN_EXEMPT, false, false, false \
	}
#define X_NOT_ALLOWED                                              \
	{                                                          \
		LOGIN_DENY_FACTOR_NOT_ALLOWED, false, false, false \
	}
#define X_SKIP_REMEMBERED                                  \
	{                                                  \
		LOGIN_SKIP_REMEMBERED, false, false, false \
	}
#define X_DEADLINE                                       \
	{                                                \
		LOGIN_DENY_DEADLINE, false, false, false \
	}
#define X_OFFER_NO_SKIP                                     \
	{                                                   \
		LOGIN_OFFER_ENROLLMENT, false, false, false \
	}
#define X_OFFER_SKIP                                       \
	{                                                  \
		LOGIN_OFFER_ENROLLMENT, true, false, false \
	}
#define X_OFFER_SKIP_REMEMBERED                           \
	{                                                 \
		LOGIN_OFFER_ENROLLMENT, true, true, false \
	}
#define X_LOCKED                                  \
	{                                         \
		LOGIN_LOCKED, false, false, false \
	}
#define X_TOTP                                      \
	{                                           \
		LOGIN_ASK_TOTP, false, false, false \
	}
#define X_TOTP_EMAIL                               \
	{                                          \
		LOGIN_ASK_TOTP, false, false, true \
	}
#define X_EMAIL                                     \
	{                                           \
		LOGIN_ASK_SENT, false, false, false \
	}

static const struct cell {
	enum mfa_policy policy;
	enum held held;
	bool skip_remembered;
	enum deadline deadline;
	int64_t locked_until;
	struct expect x;
} cells[] = {
	/* required */
	{ REQ, H_NONE, NO_SKIP, DL_NONE, UNLOCKED, X_OFFER_NO_SKIP },
	{ REQ, H_NONE, NO_SKIP, DL_NONE, LOCKED, X_OFFER_NO_SKIP },
	{ REQ, H_NONE, NO_SKIP, DL_AHEAD, UNLOCKED, X_OFFER_NO_SKIP },
	{ REQ, H_NONE, NO_SKIP, DL_AHEAD, LOCKED, X_OFFER_NO_SKIP },
	{ REQ, H_NONE, NO_SKIP, DL_PASSED, UNLOCKED, X_DEADLINE },
	{ REQ, H_NONE, NO_SKIP, DL_PASSED, LOCKED, X_DEADLINE },
	{ REQ, H_NONE, SKIPPED, DL_NONE, UNLOCKED, X_OFFER_NO_SKIP },
	{ REQ, H_NONE, SKIPPED, DL_NONE, LOCKED, X_OFFER_NO_SKIP },
	{ REQ, H_NONE, SKIPPED, DL_AHEAD, UNLOCKED, X_OFFER_NO_SKIP },
	{ REQ, H_NONE, SKIPPED, DL_AHEAD, LOCKED, X_OFFER_NO_SKIP },
	{ REQ, H_NONE, SKIPPED, DL_PASSED, UNLOCKED, X_DEADLINE },
	{ REQ, H_NONE, SKIPPED, DL_PASSED, LOCKED, X_DEADLINE },
	{ REQ, H_TOTP, NO_SKIP, DL_NONE, UNLOCKED, X_TOTP },
	{ REQ, H_TOTP, NO_SKIP, DL_NONE, LOCKED, X_LOCKED },
	{ REQ, H_TOTP, NO_SKIP, DL_AHEAD, UNLOCKED, X_TOTP },
	{ REQ, H_TOTP, NO_SKIP, DL_AHEAD, LOCKED, X_LOCKED },
	{ REQ, H_TOTP, NO_SKIP, DL_PASSED, UNLOCKED, X_TOTP },
	{ REQ, H_TOTP, NO_SKIP, DL_PASSED, LOCKED, X_LOCKED },
	{ REQ, H_TOTP, SKIPPED, DL_NONE, UNLOCKED, X_TOTP },
	{ REQ, H_TOTP, SKIPPED, DL_NONE, LOCKED, X_LOCKED },
	{ REQ, H_TOTP, SKIPPED, DL_AHEAD, UNLOCKED, X_TOTP },
	{ REQ, H_TOTP, SKIPPED, DL_AHEAD, LOCKED, X_LOCKED },
	{ REQ, H_TOTP, SKIPPED, DL_PASSED, UNLOCKED, X_TOTP },
	{ REQ, H_TOTP, SKIPPED, DL_PASSED, LOCKED, X_LOCKED },
	{ REQ, H_EMAIL, NO_SKIP, DL_NONE, UNLOCKED, X_EMAIL },
	{ REQ, H_EMAIL, NO_SKIP, DL_NONE, LOCKED, X_LOCKED },
	{ REQ, H_EMAIL, NO_SKIP, DL_AHEAD, UNLOCKED, X_EMAIL },
	{ REQ, H_EMAIL, NO_SKIP, DL_AHEAD, LOCKED, X_LOCKED },
	{ REQ, H_EMAIL, NO_SKIP, DL_PASSED, UNLOCKED, X_EMAIL },
	{ REQ, H_EMAIL, NO_SKIP, DL_PASSED, LOCKED, X_LOCKED },
	{ REQ, H_EMAIL, SKIPPED, DL_NONE, UNLOCKED, X_EMAIL },
	{ REQ, H_EMAIL, SKIPPED, DL_NONE, LOCKED, X_LOCKED },
	{ REQ, H_EMAIL, SKIPPED, DL_AHEAD, UNLOCKED, X_EMAIL },
	{ REQ, H_EMAIL, SKIPPED, DL_AHEAD, LOCKED, X_LOCKED },
	{ REQ, H_EMAIL, SKIPPED, DL_PASSED, UNLOCKED, X_EMAIL },
	{ REQ, H_EMAIL, SKIPPED, DL_PASSED, LOCKED, X_LOCKED },
	{ REQ, H_BOTH, NO_SKIP, DL_NONE, UNLOCKED, X_TOTP_EMAIL },
	{ REQ, H_BOTH, NO_SKIP, DL_NONE, LOCKED, X_LOCKED },
	{ REQ, H_BOTH, NO_SKIP, DL_AHEAD, UNLOCKED, X_TOTP_EMAIL },
	{ REQ, H_BOTH, NO_SKIP, DL_AHEAD, LOCKED, X_LOCKED },
	{ REQ, H_BOTH, NO_SKIP, DL_PASSED, UNLOCKED, X_TOTP_EMAIL },
	{ REQ, H_BOTH, NO_SKIP, DL_PASSED, LOCKED, X_LOCKED },
	{ REQ, H_BOTH, SKIPPED, DL_NONE, UNLOCKED, X_TOTP_EMAIL },
	{ REQ, H_BOTH, SKIPPED, DL_NONE, LOCKED, X_LOCKED },
	{ REQ, H_BOTH, SKIPPED, DL_AHEAD, UNLOCKED, X_TOTP_EMAIL },
	{ REQ, H_BOTH, SKIPPED, DL_AHEAD, LOCKED, X_LOCKED },
	{ REQ, H_BOTH, SKIPPED, DL_PASSED, UNLOCKED, X_TOTP_EMAIL },
	{ REQ, H_BOTH, SKIPPED, DL_PASSED, LOCKED, X_LOCKED },
	{ REQ, H_NOT_ALLOWED, NO_SKIP, DL_NONE, UNLOCKED, X_NOT_ALLOWED },
	{ REQ, H_NOT_ALLOWED, NO_SKIP, DL_NONE, LOCKED, X_NOT_ALLOWED },
	{ REQ, H_NOT_ALLOWED, NO_SKIP, DL_AHEAD, UNLOCKED, X_NOT_ALLOWED },
	{ REQ, H_NOT_ALLOWED, NO_SKIP, DL_AHEAD, LOCKED, X_NOT_ALLOWED },
	{ REQ, H_NOT_ALLOWED, NO_SKIP, DL_PASSED, UNLOCKED, X_NOT_ALLOWED },
	{ REQ, H_NOT_ALLOWED, NO_SKIP, DL_PASSED, LOCKED, X_NOT_ALLOWED },
	{ REQ, H_NOT_ALLOWED, SKIPPED, DL_NONE, UNLOCKED, X_NOT_ALLOWED },
	{ REQ, H_NOT_ALLOWED, SKIPPED, DL_NONE, LOCKED, X_NOT_ALLOWED },
	{ REQ, H_NOT_ALLOWED, SKIPPED, DL_AHEAD, UNLOCKED, X_NOT_ALLOWED },
	{ REQ, H_NOT_ALLOWED, SKIPPED, DL_AHEAD, LOCKED, X_NOT_ALLOWED },
	{ REQ, H_NOT_ALLOWED, SKIPPED, DL_PASSED, UNLOCKED, X_NOT_ALLOWED },
	{ REQ, H_NOT_ALLOWED, SKIPPED, DL_PASSED, LOCKED, X_NOT_ALLOWED },
	/* optional */
	{ OPT, H_NONE, NO_SKIP, DL_NONE, UNLOCKED, X_OFFER_SKIP },
	{ OPT, H_NONE, NO_SKIP, DL_NONE, LOCKED, X_OFFER_SKIP },
	{ OPT, H_NONE, NO_SKIP, DL_AHEAD, UNLOCKED, X_OFFER_SKIP },
	{ OPT, H_NONE, NO_SKIP, DL_AHEAD, LOCKED, X_OFFER_SKIP },
	{ OPT, H_NONE, NO_SKIP, DL_PASSED, UNLOCKED, X_OFFER_SKIP },
	{ OPT, H_NONE, NO_SKIP, DL_PASSED, LOCKED, X_OFFER_SKIP },
	{ OPT, H_NONE, SKIPPED, DL_NONE, UNLOCKED, X_OFFER_SKIP },
	{ OPT, H_NONE, SKIPPED, DL_NONE, LOCKED, X_OFFER_SKIP },
	{ OPT, H_NONE, SKIPPED, DL_AHEAD, UNLOCKED, X_OFFER_SKIP },
	{ OPT, H_NONE, SKIPPED, DL_AHEAD, LOCKED, X_OFFER_SKIP },
	{ OPT, H_NONE, SKIPPED, DL_PASSED, UNLOCKED, X_OFFER_SKIP },
	{ OPT, H_NONE, SKIPPED, DL_PASSED, LOCKED, X_OFFER_SKIP },
	{ OPT, H_TOTP, NO_SKIP, DL_NONE, UNLOCKED, X_TOTP },
	{ OPT, H_TOTP, NO_SKIP, DL_NONE, LOCKED, X_LOCKED },
	{ OPT, H_TOTP, NO_SKIP, DL_AHEAD, UNLOCKED, X_TOTP },
	{ OPT, H_TOTP, NO_SKIP, DL_AHEAD, LOCKED, X_LOCKED },
	{ OPT, H_TOTP, NO_SKIP, DL_PASSED, UNLOCKED, X_TOTP },
	{ OPT, H_TOTP, NO_SKIP, DL_PASSED, LOCKED, X_LOCKED },
	{ OPT, H_TOTP, SKIPPED, DL_NONE, UNLOCKED, X_TOTP },
	{ OPT, H_TOTP, SKIPPED, DL_NONE, LOCKED, X_LOCKED },
	{ OPT, H_TOTP, SKIPPED, DL_AHEAD, UNLOCKED, X_TOTP },
	{ OPT, H_TOTP, SKIPPED, DL_AHEAD, LOCKED, X_LOCKED },
	{ OPT, H_TOTP, SKIPPED, DL_PASSED, UNLOCKED, X_TOTP },
	{ OPT, H_TOTP, SKIPPED, DL_PASSED, LOCKED, X_LOCKED },
	{ OPT, H_EMAIL, NO_SKIP, DL_NONE, UNLOCKED, X_EMAIL },
	{ OPT, H_EMAIL, NO_SKIP, DL_NONE, LOCKED, X_LOCKED },
	{ OPT, H_EMAIL, NO_SKIP, DL_AHEAD, UNLOCKED, X_EMAIL },
	{ OPT, H_EMAIL, NO_SKIP, DL_AHEAD, LOCKED, X_LOCKED },
	{ OPT, H_EMAIL, NO_SKIP, DL_PASSED, UNLOCKED, X_EMAIL },
	{ OPT, H_EMAIL, NO_SKIP, DL_PASSED, LOCKED, X_LOCKED },
	{ OPT, H_EMAIL, SKIPPED, DL_NONE, UNLOCKED, X_EMAIL },
	{ OPT, H_EMAIL, SKIPPED, DL_NONE, LOCKED, X_LOCKED },
	{ OPT, H_EMAIL, SKIPPED, DL_AHEAD, UNLOCKED, X_EMAIL },
	{ OPT, H_EMAIL, SKIPPED, DL_AHEAD, LOCKED, X_LOCKED },
	{ OPT, H_EMAIL, SKIPPED, DL_PASSED, UNLOCKED, X_EMAIL },
	{ OPT, H_EMAIL, SKIPPED, DL_PASSED, LOCKED, X_LOCKED },
	{ OPT, H_BOTH, NO_SKIP, DL_NONE, UNLOCKED, X_TOTP_EMAIL },
	{ OPT, H_BOTH, NO_SKIP, DL_NONE, LOCKED, X_LOCKED },
	{ OPT, H_BOTH, NO_SKIP, DL_AHEAD, UNLOCKED, X_TOTP_EMAIL },
	{ OPT, H_BOTH, NO_SKIP, DL_AHEAD, LOCKED, X_LOCKED },
	{ OPT, H_BOTH, NO_SKIP, DL_PASSED, UNLOCKED, X_TOTP_EMAIL },
	{ OPT, H_BOTH, NO_SKIP, DL_PASSED, LOCKED, X_LOCKED },
	{ OPT, H_BOTH, SKIPPED, DL_NONE, UNLOCKED, X_TOTP_EMAIL },
	{ OPT, H_BOTH, SKIPPED, DL_NONE, LOCKED, X_LOCKED },
	{ OPT, H_BOTH, SKIPPED, DL_AHEAD, UNLOCKED, X_TOTP_EMAIL },
	{ OPT, H_BOTH, SKIPPED, DL_AHEAD, LOCKED, X_LOCKED },
	{ OPT, H_BOTH, SKIPPED, DL_PASSED, UNLOCKED, X_TOTP_EMAIL },
	{ OPT, H_BOTH, SKIPPED, DL_PASSED, LOCKED, X_LOCKED },
	{ OPT, H_NOT_ALLOWED, NO_SKIP, DL_NONE, UNLOCKED, X_NOT_ALLOWED },
	{ OPT, H_NOT_ALLOWED, NO_SKIP, DL_NONE, LOCKED, X_NOT_ALLOWED },
	{ OPT, H_NOT_ALLOWED, NO_SKIP, DL_AHEAD, UNLOCKED, X_NOT_ALLOWED },
	{ OPT, H_NOT_ALLOWED, NO_SKIP, DL_AHEAD, LOCKED, X_NOT_ALLOWED },
	{ OPT, H_NOT_ALLOWED, NO_SKIP, DL_PASSED, UNLOCKED, X_NOT_ALLOWED },
	{ OPT, H_NOT_ALLOWED, NO_SKIP, DL_PASSED, LOCKED, X_NOT_ALLOWED },
	{ OPT, H_NOT_ALLOWED, SKIPPED, DL_NONE, UNLOCKED, X_NOT_ALLOWED },
	{ OPT, H_NOT_ALLOWED, SKIPPED, DL_NONE, LOCKED, X_NOT_ALLOWED },
	{ OPT, H_NOT_ALLOWED, SKIPPED, DL_AHEAD, UNLOCKED, X_NOT_ALLOWED },
	{ OPT, H_NOT_ALLOWED, SKIPPED, DL_AHEAD, LOCKED, X_NOT_ALLOWED },
	{ OPT, H_NOT_ALLOWED, SKIPPED, DL_PASSED, UNLOCKED, X_NOT_ALLOWED },
	{ OPT, H_NOT_ALLOWED, SKIPPED, DL_PASSED, LOCKED, X_NOT_ALLOWED },
	/* opt-out */
	{ OPTOUT, H_NONE, NO_SKIP, DL_NONE, UNLOCKED, X_OFFER_SKIP_REMEMBERED },
	{ OPTOUT, H_NONE, NO_SKIP, DL_NONE, LOCKED, X_OFFER_SKIP_REMEMBERED },
	{ OPTOUT, H_NONE, NO_SKIP, DL_AHEAD, UNLOCKED, X_OFFER_SKIP_REMEMBERED },
	{ OPTOUT, H_NONE, NO_SKIP, DL_AHEAD, LOCKED, X_OFFER_SKIP_REMEMBERED },
	{ OPTOUT, H_NONE, NO_SKIP, DL_PASSED, UNLOCKED, X_OFFER_SKIP_REMEMBERED },
	{ OPTOUT, H_NONE, NO_SKIP, DL_PASSED, LOCKED, X_OFFER_SKIP_REMEMBERED },
	{ OPTOUT, H_NONE, SKIPPED, DL_NONE, UNLOCKED, X_SKIP_REMEMBERED },
	{ OPTOUT, H_NONE, SKIPPED, DL_NONE, LOCKED, X_SKIP_REMEMBERED },
	{ OPTOUT, H_NONE, SKIPPED, DL_AHEAD, UNLOCKED, X_SKIP_REMEMBERED },
	{ OPTOUT, H_NONE, SKIPPED, DL_AHEAD, LOCKED, X_SKIP_REMEMBERED },
	{ OPTOUT, H_NONE, SKIPPED, DL_PASSED, UNLOCKED, X_SKIP_REMEMBERED },
	{ OPTOUT, H_NONE, SKIPPED, DL_PASSED, LOCKED, X_SKIP_REMEMBERED },
	{ OPTOUT, H_TOTP, NO_SKIP, DL_NONE, UNLOCKED, X_TOTP },
	{ OPTOUT, H_TOTP, NO_SKIP, DL_NONE, LOCKED, X_LOCKED },
	{ OPTOUT, H_TOTP, NO_SKIP, DL_AHEAD, UNLOCKED, X_TOTP },
	{ OPTOUT, H_TOTP, NO_SKIP, DL_AHEAD, LOCKED, X_LOCKED },
	{ OPTOUT, H_TOTP, NO_SKIP, DL_PASSED, UNLOCKED, X_TOTP },
	{ OPTOUT, H_TOTP, NO_SKIP, DL_PASSED, LOCKED, X_LOCKED },
	{ OPTOUT, H_TOTP, SKIPPED, DL_NONE, UNLOCKED, X_TOTP },
	{ OPTOUT, H_TOTP, SKIPPED, DL_NONE, LOCKED, X_LOCKED },
	{ OPTOUT, H_TOTP, SKIPPED, DL_AHEAD, UNLOCKED, X_TOTP },
	{ OPTOUT, H_TOTP, SKIPPED, DL_AHEAD, LOCKED, X_LOCKED },
	{ OPTOUT, H_TOTP, SKIPPED, DL_PASSED, UNLOCKED, X_TOTP },
	{ OPTOUT, H_TOTP, SKIPPED, DL_PASSED, LOCKED, X_LOCKED },
	{ OPTOUT, H_EMAIL, NO_SKIP, DL_NONE, UNLOCKED, X_EMAIL },
	{ OPTOUT, H_EMAIL, NO_SKIP, DL_NONE, LOCKED, X_LOCKED },
	{ OPTOUT, H_EMAIL, NO_SKIP, DL_AHEAD, UNLOCKED, X_EMAIL },
	{ OPTOUT, H_EMAIL, NO_SKIP, DL_AHEAD, LOCKED, X_LOCKED },
	{ OPTOUT, H_EMAIL, NO_SKIP, DL_PASSED, UNLOCKED, X_EMAIL },
	{ OPTOUT, H_EMAIL, NO_SKIP, DL_PASSED, LOCKED, X_LOCKED },
	{ OPTOUT, H_EMAIL, SKIPPED, DL_NONE, UNLOCKED, X_EMAIL },
	{ OPTOUT, H_EMAIL, SKIPPED, DL_NONE, LOCKED, X_LOCKED },
	{ OPTOUT, H_EMAIL, SKIPPED, DL_AHEAD, UNLOCKED, X_EMAIL },
	{ OPTOUT, H_EMAIL, SKIPPED, DL_AHEAD, LOCKED, X_LOCKED },
	{ OPTOUT, H_EMAIL, SKIPPED, DL_PASSED, UNLOCKED, X_EMAIL },
	{ OPTOUT, H_EMAIL, SKIPPED, DL_PASSED, LOCKED, X_LOCKED },
	{ OPTOUT, H_BOTH, NO_SKIP, DL_NONE, UNLOCKED, X_TOTP_EMAIL },
	{ OPTOUT, H_BOTH, NO_SKIP, DL_NONE, LOCKED, X_LOCKED },
	{ OPTOUT, H_BOTH, NO_SKIP, DL_AHEAD, UNLOCKED, X_TOTP_EMAIL },
	{ OPTOUT, H_BOTH, NO_SKIP, DL_AHEAD, LOCKED, X_LOCKED },
	{ OPTOUT, H_BOTH, NO_SKIP, DL_PASSED, UNLOCKED, X_TOTP_EMAIL },
	{ OPTOUT, H_BOTH, NO_SKIP, DL_PASSED, LOCKED, X_LOCKED },
	{ OPTOUT, H_BOTH, SKIPPED, DL_NONE, UNLOCKED, X_TOTP_EMAIL },
	{ OPTOUT, H_BOTH, SKIPPED, DL_NONE, LOCKED, X_LOCKED },
	{ OPTOUT, H_BOTH, SKIPPED, DL_AHEAD, UNLOCKED, X_TOTP_EMAIL },
	{ OPTOUT, H_BOTH, SKIPPED, DL_AHEAD, LOCKED, X_LOCKED },
	{ OPTOUT, H_BOTH, SKIPPED, DL_PASSED, UNLOCKED, X_TOTP_EMAIL },
	{ OPTOUT, H_BOTH, SKIPPED, DL_PASSED, LOCKED, X_LOCKED },
	{ OPTOUT, H_NOT_ALLOWED, NO_SKIP, DL_NONE, UNLOCKED, X_NOT_ALLOWED },
	{ OPTOUT, H_NOT_ALLOWED, NO_SKIP, DL_NONE, LOCKED, X_NOT_ALLOWED },
	{ OPTOUT, H_NOT_ALLOWED, NO_SKIP, DL_AHEAD, UNLOCKED, X_NOT_ALLOWED },
	{ OPTOUT, H_NOT_ALLOWED, NO_SKIP, DL_AHEAD, LOCKED, X_NOT_ALLOWED },
	{ OPTOUT, H_NOT_ALLOWED, NO_SKIP, DL_PASSED, UNLOCKED, X_NOT_ALLOWED },
	{ OPTOUT, H_NOT_ALLOWED, NO_SKIP, DL_PASSED, LOCKED, X_NOT_ALLOWED },
	{ OPTOUT, H_NOT_ALLOWED, SKIPPED, DL_NONE, UNLOCKED, X_NOT_ALLOWED },
	{ OPTOUT, H_NOT_ALLOWED, SKIPPED, DL_NONE, LOCKED, X_NOT_ALLOWED },
	{ OPTOUT, H_NOT_ALLOWED, SKIPPED, DL_AHEAD, UNLOCKED, X_NOT_ALLOWED },
	{ OPTOUT, H_NOT_ALLOWED, SKIPPED, DL_AHEAD, LOCKED, X_NOT_ALLOWED },
	{ OPTOUT, H_NOT_ALLOWED, SKIPPED, DL_PASSED, UNLOCKED, X_NOT_ALLOWED },
	{ OPTOUT, H_NOT_ALLOWED, SKIPPED, DL_PASSED, LOCKED, X_NOT_ALLOWED },
	/* exempt */
	{ EXEMPT, H_NONE, NO_SKIP, DL_NONE, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_NONE, NO_SKIP, DL_NONE, LOCKED, X_EXEMPT },
	{ EXEMPT, H_NONE, NO_SKIP, DL_AHEAD, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_NONE, NO_SKIP, DL_AHEAD, LOCKED, X_EXEMPT },
	{ EXEMPT, H_NONE, NO_SKIP, DL_PASSED, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_NONE, NO_SKIP, DL_PASSED, LOCKED, X_EXEMPT },
	{ EXEMPT, H_NONE, SKIPPED, DL_NONE, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_NONE, SKIPPED, DL_NONE, LOCKED, X_EXEMPT },
	{ EXEMPT, H_NONE, SKIPPED, DL_AHEAD, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_NONE, SKIPPED, DL_AHEAD, LOCKED, X_EXEMPT },
	{ EXEMPT, H_NONE, SKIPPED, DL_PASSED, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_NONE, SKIPPED, DL_PASSED, LOCKED, X_EXEMPT },
	{ EXEMPT, H_TOTP, NO_SKIP, DL_NONE, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_TOTP, NO_SKIP, DL_NONE, LOCKED, X_EXEMPT },
	{ EXEMPT, H_TOTP, NO_SKIP, DL_AHEAD, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_TOTP, NO_SKIP, DL_AHEAD, LOCKED, X_EXEMPT },
	{ EXEMPT, H_TOTP, NO_SKIP, DL_PASSED, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_TOTP, NO_SKIP, DL_PASSED, LOCKED, X_EXEMPT },
	{ EXEMPT, H_TOTP, SKIPPED, DL_NONE, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_TOTP, SKIPPED, DL_NONE, LOCKED, X_EXEMPT },
	{ EXEMPT, H_TOTP, SKIPPED, DL_AHEAD, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_TOTP, SKIPPED, DL_AHEAD, LOCKED, X_EXEMPT },
	{ EXEMPT, H_TOTP, SKIPPED, DL_PASSED, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_TOTP, SKIPPED, DL_PASSED, LOCKED, X_EXEMPT },
	{ EXEMPT, H_EMAIL, NO_SKIP, DL_NONE, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_EMAIL, NO_SKIP, DL_NONE, LOCKED, X_EXEMPT },
	{ EXEMPT, H_EMAIL, NO_SKIP, DL_AHEAD, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_EMAIL, NO_SKIP, DL_AHEAD, LOCKED, X_EXEMPT },
	{ EXEMPT, H_EMAIL, NO_SKIP, DL_PASSED, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_EMAIL, NO_SKIP, DL_PASSED, LOCKED, X_EXEMPT },
	{ EXEMPT, H_EMAIL, SKIPPED, DL_NONE, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_EMAIL, SKIPPED, DL_NONE, LOCKED, X_EXEMPT },
	{ EXEMPT, H_EMAIL, SKIPPED, DL_AHEAD, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_EMAIL, SKIPPED, DL_AHEAD, LOCKED, X_EXEMPT },
	{ EXEMPT, H_EMAIL, SKIPPED, DL_PASSED, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_EMAIL, SKIPPED, DL_PASSED, LOCKED, X_EXEMPT },
	{ EXEMPT, H_BOTH, NO_SKIP, DL_NONE, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_BOTH, NO_SKIP, DL_NONE, LOCKED, X_EXEMPT },
	{ EXEMPT, H_BOTH, NO_SKIP, DL_AHEAD, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_BOTH, NO_SKIP, DL_AHEAD, LOCKED, X_EXEMPT },
	{ EXEMPT, H_BOTH, NO_SKIP, DL_PASSED, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_BOTH, NO_SKIP, DL_PASSED, LOCKED, X_EXEMPT },
	{ EXEMPT, H_BOTH, SKIPPED, DL_NONE, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_BOTH, SKIPPED, DL_NONE, LOCKED, X_EXEMPT },
	{ EXEMPT, H_BOTH, SKIPPED, DL_AHEAD, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_BOTH, SKIPPED, DL_AHEAD, LOCKED, X_EXEMPT },
	{ EXEMPT, H_BOTH, SKIPPED, DL_PASSED, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_BOTH, SKIPPED, DL_PASSED, LOCKED, X_EXEMPT },
	{ EXEMPT, H_NOT_ALLOWED, NO_SKIP, DL_NONE, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_NOT_ALLOWED, NO_SKIP, DL_NONE, LOCKED, X_EXEMPT },
	{ EXEMPT, H_NOT_ALLOWED, NO_SKIP, DL_AHEAD, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_NOT_ALLOWED, NO_SKIP, DL_AHEAD, LOCKED, X_EXEMPT },
	{ EXEMPT, H_NOT_ALLOWED, NO_SKIP, DL_PASSED, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_NOT_ALLOWED, NO_SKIP, DL_PASSED, LOCKED, X_EXEMPT },
	{ EXEMPT, H_NOT_ALLOWED, SKIPPED, DL_NONE, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_NOT_ALLOWED, SKIPPED, DL_NONE, LOCKED, X_EXEMPT },
	{ EXEMPT, H_NOT_ALLOWED, SKIPPED, DL_AHEAD, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_NOT_ALLOWED, SKIPPED, DL_AHEAD, LOCKED, X_EXEMPT },
	{ EXEMPT, H_NOT_ALLOWED, SKIPPED, DL_PASSED, UNLOCKED, X_EXEMPT },
	{ EXEMPT, H_NOT_ALLOWED, SKIPPED, DL_PASSED, LOCKED, X_EXEMPT },
};

static void check_decision(const char *what, const struct login_decision *d, const struct expect *x,
			   unsigned usable)
{
	if (d->step != x->step || d->may_skip != x->may_skip ||
	    d->skip_is_remembered != x->skip_is_remembered || d->sent_too != x->sent_too ||
	    d->usable != usable)
		fail_msg("%s: got step %d may_skip %d remembered %d sent_too %d usable %u, "
			 "expected step %d may_skip %d remembered %d sent_too %d usable %u",
			 what, d->step, d->may_skip, d->skip_is_remembered, d->sent_too, d->usable,
			 x->step, x->may_skip, x->skip_is_remembered, x->sent_too, usable);
}

static void test_every_cell(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cells) / sizeof(cells[0]); i++) {
		const struct cell *c = &cells[i];
		struct login_facts f = {
			.policy = c->policy,
			.allowed = helds[c->held].allowed,
			.held = helds[c->held].held,
			.skip_remembered = c->skip_remembered,
			.locked_until = c->locked_until,
			.enroll_by = enroll_bys[c->deadline],
			.now = NOW,
		};
		struct login_decision d;
		char what[96];

		login_decide(&f, &d);
		(void)snprintf(what, sizeof(what),
			       "cell %zu (policy %d held %d skip %d deadline %d locked %d)", i,
			       c->policy, c->held, c->skip_remembered, c->deadline,
			       c->locked_until != 0);
		check_decision(what, &d, &c->x, helds[c->held].usable);
		assert_false(d.locked_until_admin);
	}
}

/* What the table does not vary: the edges of enroll_by and of a lock, and
 * factors of which the policy allows only some. */
static void test_edges(void **state)
{
	static const struct {
		const char *what;
		struct login_facts f;
		struct expect x;
		unsigned usable;
		bool until_admin;
	} edges[] = {
		/* facts: policy, allowed, held, skip_remembered, locked_until,
		 * enroll_by, now */
		{ "enroll_by's last second is still open",
		  { REQ, METHOD_ALL, 0, false, 0, NOW, NOW },
		  X_OFFER_NO_SKIP,
		  0,
		  false },
		{ "the second after enroll_by is closed",
		  { REQ, METHOD_ALL, 0, false, 0, NOW - 1, NOW },
		  X_DEADLINE,
		  0,
		  false },
		{ "a deadline does not close a factor the policy disallows",
		  { REQ, METHOD_EMAIL, METHOD_TOTP, false, 0, NOW - 1, NOW },
		  X_NOT_ALLOWED,
		  0,
		  false },
		{ "a remembered skip under opt-out outlasts enroll_by",
		  { OPTOUT, METHOD_ALL, 0, true, 0, NOW - 1, NOW },
		  X_SKIP_REMEMBERED,
		  0,
		  false },
		{ "a lock until an admin unlocks",
		  { REQ, METHOD_ALL, METHOD_TOTP, false, -1, 0, NOW },
		  X_LOCKED,
		  METHOD_TOTP,
		  true },
		{ "a lock that ends now has ended",
		  { REQ, METHOD_ALL, METHOD_TOTP, false, NOW, 0, NOW },
		  X_TOTP,
		  METHOD_TOTP,
		  false },
		{ "a lock that ends in a second",
		  { REQ, METHOD_ALL, METHOD_EMAIL, false, NOW + 1, 0, NOW },
		  X_LOCKED,
		  METHOD_EMAIL,
		  false },
		{ "a lock that ended",
		  { OPT, METHOD_ALL, METHOD_EMAIL, false, NOW - 600, 0, NOW },
		  X_EMAIL,
		  METHOD_EMAIL,
		  false },
		{ "a lock does not hide a factor the policy disallows",
		  { REQ, METHOD_TOTP, METHOD_EMAIL, false, -1, 0, NOW },
		  X_NOT_ALLOWED,
		  0,
		  false },
		{ "both held, TOTP allowed: no email switch",
		  { REQ, METHOD_TOTP, METHOD_ALL, false, 0, 0, NOW },
		  X_TOTP,
		  METHOD_TOTP,
		  false },
		{ "both held, email allowed: email",
		  { OPT, METHOD_EMAIL, METHOD_ALL, false, 0, 0, NOW },
		  X_EMAIL,
		  METHOD_EMAIL,
		  false },
		{ "an app, where only email is allowed",
		  { OPTOUT, METHOD_EMAIL, METHOD_TOTP, true, 0, 0, NOW },
		  X_NOT_ALLOWED,
		  0,
		  false },
		{ "exempt, with factors and a lock",
		  { EXEMPT, METHOD_TOTP, METHOD_ALL, false, -1, 0, NOW },
		  X_EXEMPT,
		  METHOD_TOTP,
		  false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
		struct login_decision d;

		login_decide(&edges[i].f, &d);
		check_decision(edges[i].what, &d, &edges[i].x, edges[i].usable);
		if (d.locked_until_admin != edges[i].until_admin)
			fail_msg("%s: locked_until_admin %d", edges[i].what, d.locked_until_admin);
	}
}

/* The lock the decision sees is the lock the module counts. */
static void test_lock_agrees_with_lockout_active(void **state)
{
	static const int64_t until[] = { -1, 0, 1, NOW - 1, NOW, NOW + 1, INT64_MAX };
	struct policy_decision pd = { .policy = POLICY_REQUIRED, .methods = METHOD_ALL };
	struct store_summary rec;

	(void)state;
	memset(&rec, 0, sizeof(rec));
	rec.factors[0].method = METHOD_TOTP;
	rec.factors[0].verified = true;
	rec.n_factors = 1;
	for (size_t i = 0; i < sizeof(until) / sizeof(until[0]); i++) {
		struct login_facts f;
		struct login_decision d;

		rec.locked_until = until[i];
		store_login_facts(&rec, &pd, 0, NOW, &f);
		login_decide(&f, &d);
		if ((d.step == LOGIN_LOCKED) != lockout_until_active(rec.locked_until, (time_t)NOW))
			fail_msg("locked_until %lld: step %d", (long long)until[i], d.step);
	}
}

static void test_facts_from_summary(void **state)
{
	struct policy_decision pd = { .policy = POLICY_OPT_OUT, .methods = METHOD_EMAIL };
	struct store_summary rec;
	struct login_facts f;

	(void)state;
	memset(&rec, 0, sizeof(rec));
	store_login_facts(&rec, &pd, 0, NOW, &f);
	assert_int_equal(f.policy, POLICY_OPT_OUT);
	assert_int_equal(f.allowed, METHOD_EMAIL);
	assert_int_equal(f.held, 0);
	assert_false(f.skip_remembered);
	assert_int_equal(f.locked_until, 0);
	assert_int_equal(f.enroll_by, 0);
	assert_int_equal(f.now, NOW);

	/* An address not proved yet is not a factor. */
	rec.factors[0].id = 1;
	rec.factors[0].method = METHOD_EMAIL;
	(void)snprintf(rec.factors[0].dest, sizeof(rec.factors[0].dest), "alice@example.org");
	rec.n_factors = 1;
	rec.skip_since = NOW - 86400;
	rec.locked_until = -1;
	store_login_facts(&rec, &pd, NOW + 5, NOW, &f);
	assert_int_equal(f.held, 0);
	assert_true(f.skip_remembered);
	assert_int_equal(f.locked_until, -1);
	assert_int_equal(f.enroll_by, NOW + 5);

	rec.factors[0].verified = true;
	rec.factors[1].id = 2;
	rec.factors[1].method = METHOD_TOTP;
	rec.factors[1].verified = true;
	/* Several of one method are still that method. */
	rec.factors[2] = rec.factors[0];
	rec.factors[2].id = 3;
	rec.n_factors = 3;
	store_login_facts(&rec, &pd, 0, NOW, &f);
	assert_int_equal(f.held, METHOD_TOTP | METHOD_EMAIL);
	assert_int_equal(store_summary_count(&rec, METHOD_EMAIL), 2);
	assert_int_equal(store_summary_count(&rec, 0), 3);
	assert_int_equal(store_summary_nth(&rec, METHOD_EMAIL, 1)->id, 3);
	assert_null(store_summary_nth(&rec, METHOD_EMAIL, 2));
	assert_null(store_summary_unverified(&rec, METHOD_SMS));
	rec.factors[1].verified = false; /* an unverified factor is none */
	rec.factors[1].method = METHOD_SMS;
	store_login_facts(&rec, &pd, 0, NOW, &f);
	assert_int_equal(f.held, METHOD_EMAIL);
	assert_int_equal(store_summary_unverified(&rec, METHOD_SMS)->id, 2);
}

/* mfa-setup's rule: a user who holds any factor, even one the policy does
 * not allow, is not closed out by the deadline. */
static void test_enrollment_closed(void **state)
{
	static const struct {
		struct login_facts f;
		bool closed;
	} cases[] = {
		/* as in test_edges() */
		{ { REQ, METHOD_ALL, 0, false, 0, NOW - 1, NOW }, true },
		{ { REQ, METHOD_ALL, 0, false, 0, NOW, NOW }, false },
		{ { REQ, METHOD_ALL, 0, false, 0, NOW + 1, NOW }, false },
		{ { REQ, METHOD_ALL, 0, false, 0, 0, NOW }, false },
		{ { REQ, METHOD_TOTP, METHOD_EMAIL, false, 0, NOW - 1, NOW }, false },
		{ { REQ, METHOD_ALL, METHOD_TOTP, false, 0, NOW - 1, NOW }, false },
		{ { REQ, METHOD_ALL, 0, true, -1, NOW - 1, NOW }, true },
		{ { OPT, METHOD_ALL, 0, false, 0, NOW - 1, NOW }, false },
		{ { OPTOUT, METHOD_ALL, 0, false, 0, NOW - 1, NOW }, false },
		{ { EXEMPT, METHOD_ALL, 0, false, 0, NOW - 1, NOW }, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (login_enrollment_closed(&cases[i].f) != cases[i].closed)
			fail_msg("case %zu: closed %d", i, !cases[i].closed);
}

static void test_offer_answers(void **state)
{
	static const struct {
		enum mfa_policy policy;
		enum offer_answer answer;
		enum offer_step step;
	} cases[] = {
		{ REQ, OFFER_ANSWER_NONE, OFFER_DENY_NON_INTERACTIVE },
		{ REQ, OFFER_ANSWER_SKIP, OFFER_ENROLL_SKIP_REFUSED },
		{ REQ, OFFER_ANSWER_ENTER, OFFER_ENROLL },
		{ OPT, OFFER_ANSWER_NONE, OFFER_SKIP_NON_INTERACTIVE },
		{ OPT, OFFER_ANSWER_SKIP, OFFER_SKIP_THIS_TIME },
		{ OPT, OFFER_ANSWER_ENTER, OFFER_ENROLL },
		{ OPTOUT, OFFER_ANSWER_NONE, OFFER_SKIP_NON_INTERACTIVE },
		{ OPTOUT, OFFER_ANSWER_SKIP, OFFER_SKIP_REMEMBERED },
		{ OPTOUT, OFFER_ANSWER_ENTER, OFFER_ENROLL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct login_facts f = { cases[i].policy, METHOD_ALL, 0, false, 0, 0, NOW };
		struct login_decision d;
		enum offer_step step;

		login_decide(&f, &d);
		assert_int_equal(d.step, LOGIN_OFFER_ENROLLMENT);
		step = login_offer_answer(&d, cases[i].answer);
		if (step != cases[i].step)
			fail_msg("case %zu: step %d, expected %d", i, step, cases[i].step);
	}
}

/* A decision that is not an offer allows no skip, whatever it carries. */
static void test_offer_answers_without_an_offer(void **state)
{
	static const enum login_step steps[] = {
		LOGIN_EXEMPT,	       LOGIN_DENY_FACTOR_NOT_ALLOWED,
		LOGIN_SKIP_REMEMBERED, LOGIN_DENY_DEADLINE,
		LOGIN_LOCKED,	       LOGIN_ASK_TOTP,
		LOGIN_ASK_SENT,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct login_decision d = {
			.step = steps[i],
			.may_skip = true,
			.skip_is_remembered = true,
		};

		assert_int_equal(login_offer_answer(&d, OFFER_ANSWER_NONE),
				 OFFER_DENY_NON_INTERACTIVE);
		assert_int_equal(login_offer_answer(&d, OFFER_ANSWER_SKIP),
				 OFFER_ENROLL_SKIP_REFUSED);
		assert_int_equal(login_offer_answer(&d, OFFER_ANSWER_ENTER), OFFER_ENROLL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_cell),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_lock_agrees_with_lockout_active),
		cmocka_unit_test(test_facts_from_summary),
		cmocka_unit_test(test_enrollment_closed),
		cmocka_unit_test(test_offer_answers),
		cmocka_unit_test(test_offer_answers_without_an_offer),
	};

	return cmocka_run_group_tests_name("login_decision", tests, NULL, NULL);
}
