/* The login decision; see login_decision.h.  The order of the checks is
 * the policy: each one below decides before any that follows it. */
#include <string.h>

#include "login_decision.h"

bool login_enrollment_closed(const struct login_facts *f)
{
	return f->policy == POLICY_REQUIRED && f->held == 0 && f->enroll_by > 0 &&
	       f->now > f->enroll_by;
}

void login_decide(const struct login_facts *f, struct login_decision *out)
{
	memset(out, 0, sizeof(*out));
	/* A factor counts only where the policy allows its method. */
	out->usable = f->held & f->allowed;
	/* Exempt does not depend on the record: the module decides it
	 * before reading one. */
	if (f->policy == POLICY_EXEMPT) {
		out->step = LOGIN_EXEMPT;
		return;
	}
	/* Factors the policy does not allow are no reason to offer
	 * enrollment: the password alone must not add one beside them. */
	if (out->usable == 0 && f->held != 0) {
		out->step = LOGIN_DENY_FACTOR_NOT_ALLOWED;
		return;
	}
	if (out->usable == 0) {
		/* A remembered skip counts only under opt-out: a policy made
		 * stricter since asks again. */
		if (f->policy == POLICY_OPT_OUT && f->skip_remembered)
			out->step = LOGIN_SKIP_REMEMBERED;
		else if (login_enrollment_closed(f))
			out->step = LOGIN_DENY_DEADLINE;
		else
			out->step = LOGIN_OFFER_ENROLLMENT;
		out->may_skip = out->step == LOGIN_OFFER_ENROLLMENT && f->policy != POLICY_REQUIRED;
		out->skip_is_remembered = out->may_skip && f->policy == POLICY_OPT_OUT;
		return;
	}
	/* The lock guards the codes, so it is looked at only where a code
	 * would be asked; lockout_active() says the same of a record. */
	if (f->locked_until < 0 || f->locked_until > f->now) {
		out->step = LOGIN_LOCKED;
		out->locked_until_admin = f->locked_until < 0;
		return;
	}
	if (out->usable & METHOD_TOTP) {
		out->step = LOGIN_ASK_TOTP;
		out->sent_too = (out->usable & METHOD_SENT) != 0;
	} else {
		out->step = LOGIN_ASK_SENT;
	}
}

enum offer_step login_offer_answer(const struct login_decision *d, enum offer_answer answer)
{
	bool may_skip = d->step == LOGIN_OFFER_ENROLLMENT && d->may_skip;

	switch (answer) {
	case OFFER_ANSWER_NONE:
		/* Not remembered: a client that cannot show the offer has not
		 * answered it. */
		return may_skip ? OFFER_SKIP_NON_INTERACTIVE : OFFER_DENY_NON_INTERACTIVE;
	case OFFER_ANSWER_SKIP:
		if (!may_skip)
			return OFFER_ENROLL_SKIP_REFUSED;
		return d->skip_is_remembered ? OFFER_SKIP_REMEMBERED : OFFER_SKIP_THIS_TIME;
	case OFFER_ANSWER_ENTER: break;
	}
	return OFFER_ENROLL;
}
