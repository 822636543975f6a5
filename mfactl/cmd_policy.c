/* mfactl policy: which rule of pam_mfa.conf applies to a user, and what the
 * module will do with them at their next login. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "login_decision.h"
#include "mfactl.h"
#include "policy.h"

static const char policy_help[] =
	"usage: mfactl policy USER\n"
	"\n"
	"Shows the policy that applies to USER (required, optional, opt-out or\n"
	"exempt), the methods allowed, which rule of the configuration matched\n"
	"(the first that matches, in file order), and what the next login will\n"
	"do.\n";

void mfactl_format_methods(unsigned methods, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (unsigned m = 1; m <= METHOD_ALL && m != 0; m <<= 1)
		if (methods & m)
			o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? "," : "",
					      method_name(m));
	if (o == 0)
		(void)snprintf(buf, len, "-");
}

void mfactl_describe_rule(const struct mfa_config *cfg, int rule, char *buf, size_t len)
{
	const struct mfa_rule *r;

	if (rule < 0) {
		(void)snprintf(buf, len, "default_policy (no rule matched)");
		return;
	}
	r = &cfg->rules[rule];
	(void)snprintf(buf, len, "rule %d at %s:%u (%s \"%s\")", rule + 1, cfg->path, r->line,
		       r->kind == RULE_USER ? "user" : "group", r->name);
}

/* The next-login line for a decision. */
static const char *next_login(const struct login_decision *ld)
{
	switch (ld->step) {
	case LOGIN_EXEMPT: return "no second factor (exempt)";
	case LOGIN_DENY_FACTOR_NOT_ALLOWED:
		return "refused: enrolled only in methods the policy does not allow";
	case LOGIN_SKIP_REMEMBERED:
		return "no second factor (the user opted out; mfactl reset asks again)";
	case LOGIN_DENY_DEADLINE: return "refused: not enrolled after enroll_by (mfactl enroll)";
	case LOGIN_OFFER_ENROLLMENT:
		return ld->may_skip ? "offers enrollment, with a skip" :
				      "enrollment, without a skip";
	case LOGIN_LOCKED: return "refused: locked out (mfactl unlock)";
	case LOGIN_ASK_TOTP: return "asks for a code from the authenticator app";
	case LOGIN_ASK_SENT:
		if (!(ld->usable & METHOD_EMAIL))
			return "sends a code by text message";
		return ld->usable & METHOD_SMS ? "sends a code by email or text message" :
						 "sends a code by email";
	}
	return "?";
}

int cmd_policy(struct mfactl *ctx, int argc, char **argv)
{
	struct mfa_error err = { "" };
	struct policy_decision d;
	struct login_facts facts;
	struct login_decision ld;
	struct store_summary rec;
	struct store *st = NULL;
	char methods[64], enrolled[64], rule[512], when[32];
	const char *user, *next;
	time_t now = time(NULL);
	bool no_state_dir = false;
	int status = EXIT_FAIL, r;

	user = mfactl_one_user_arg(argc, argv, policy_help, true, &status);
	if (user == NULL)
		return status;
	if (mfactl_load_config(ctx) < 0)
		return EXIT_FAIL;
	if (policy_for_user(&ctx->cfg.policy, user, &d, &err) < 0) {
		fprintf(stderr, "mfactl: %s: cannot decide the policy: %s\n", user, err.msg);
		return EXIT_FAIL;
	}
	memset(&rec, 0, sizeof(rec));
	r = store_open(&ctx->cfg, STORE_READ_ONLY, &st, &err);
	no_state_dir = r == -ENOENT;
	if (r == 0)
		r = store_summary(st, user, &rec, &err);
	store_close(st);
	if (r < 0 && r != -ENOENT) {
		fprintf(stderr, "mfactl: %s\n", err.msg);
		return EXIT_FAIL;
	}
	store_login_facts(&rec, &d, ctx->cfg.enroll_by, (int64_t)now, &facts);
	login_decide(&facts, &ld);

	mfactl_format_methods(d.methods, methods, sizeof(methods));
	mfactl_format_methods(store_summary_methods(&rec), enrolled, sizeof(enrolled));
	mfactl_describe_rule(&ctx->cfg, d.rule, rule, sizeof(rule));
	/* The module decides exempt before it opens the store. */
	if (ld.step != LOGIN_EXEMPT && no_state_dir)
		next = "refused: the state directory does not exist";
	else
		next = next_login(&ld);
	printf("user:      %s\n", user);
	printf("policy:    %s\n", policy_name(d.policy));
	printf("methods:   %s\n", methods);
	printf("matched:   %s\n", rule);
	printf("enrolled:  %s\n", store_summary_methods(&rec) != 0 ? enrolled : "no");
	if (rec.skip_since > 0) {
		mfactl_format_time(rec.skip_since, when, sizeof(when));
		printf("skipped:   since %s%s\n", when,
		       d.policy == POLICY_OPT_OUT ? "" : " (ignored: the policy is not opt-out)");
	}
	if (ctx->cfg.enroll_by > 0) {
		mfactl_format_time(ctx->cfg.enroll_by, when, sizeof(when));
		printf("enroll_by: %s\n", when);
	}
	printf("next login: %s\n", next);
	store_summary_wipe(&rec);
	return EXIT_OK;
}
