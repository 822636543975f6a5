/* Per-user policy: which rule of pam_mfa.conf applies to a user (the first
 * that matches, in file order) and what it allows. */
#ifndef PAM_MFA_POLICY_H
#define PAM_MFA_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util.h"

enum mfa_policy {
	POLICY_REQUIRED, /* must enroll; no skip */
	POLICY_OPTIONAL, /* offered at each login; may skip this time */
	POLICY_OPT_OUT,	 /* offered; a skip is remembered until reset */
	POLICY_EXEMPT,	 /* no MFA at all */
};

/* Second factors, as a bit set. */
#define METHOD_TOTP 0x1u
#define METHOD_EMAIL 0x2u
#define METHOD_SMS 0x4u
#define METHOD_ALL (METHOD_TOTP | METHOD_EMAIL | METHOD_SMS)
/* The methods whose codes are sent to a destination (an address, a
 * number) rather than made by the user's device. */
#define METHOD_SENT (METHOD_EMAIL | METHOD_SMS)

enum rule_kind {
	RULE_USER,
	RULE_GROUP,
};

struct mfa_rule {
	enum rule_kind kind;
	char *name; /* the user or group it matches */
	enum mfa_policy policy;
	unsigned methods; /* 0: the org-wide methods */
	unsigned line;	  /* where it stands in the file */
};

/* What a policy is decided from: the org-wide default and the rules of
 * pam_mfa.conf.  The members are a macro so that struct mfa_config can
 * hold them both one by one and as this struct (see config.h). */
#define POLICY_CONFIG_MEMBERS                                         \
	enum mfa_policy default_policy;                               \
	unsigned methods;	/* allowed org-wide */                \
	struct mfa_rule *rules; /* first match wins, in file order */ \
	size_t n_rules;

struct policy_config {
	POLICY_CONFIG_MEMBERS
};

struct policy_decision {
	enum mfa_policy policy;
	unsigned methods;   /* allowed methods: never 0 */
	int rule;	    /* index into rules[], or -1 for default_policy */
	int missing_group;  /* first rule passed over because its group does
				 * not exist (a typo?), or -1 */
	bool account_found; /* a group rule looked the account up and found it */
};

const char *policy_name(enum mfa_policy p);
/* "required", "optional", "opt-out", "exempt"; 0 or -EINVAL. */
int policy_parse(const char *name, enum mfa_policy *p);
const char *method_name(unsigned method);
/* "totp", "email", "sms"; 0 or -EINVAL. */
int method_parse(const char *name, unsigned *method);

/* Decides the policy for a user from the rules: a user rule matches by name,
 * a group rule by primary or supplementary membership through NSS.  A group
 * that does not exist matches nobody; an NSS failure is an error (-EIO), so
 * that an unreachable directory never becomes a weaker policy. */
int policy_for_user(const struct policy_config *pc, const char *user, struct policy_decision *out,
		    struct mfa_error *err);

/* The rule loop shared by every way of deciding, whatever says who is in a
 * group: in_group() answers for group rule i with 1 (a member), 0 (not),
 * POLICY_NO_GROUP (the group does not exist), or -errno with err set, which
 * policy_decide() returns.  Leaves out->account_found false. */
#define POLICY_NO_GROUP 2
int policy_decide(const struct policy_config *pc, const char *user,
		  int (*in_group)(size_t rule, void *ctx, struct mfa_error *err), void *ctx,
		  struct policy_decision *out, struct mfa_error *err);

/* 1 if the group exists, 0 if not, -EIO if NSS could not tell. */
int policy_group_exists(const char *name);

/* Looks up a group with a buffer that grows as getgrnam_r() asks, and
 * hands it to found() while the buffer lives.  1 if the group exists (and
 * found() returned 0), 0 if it does not, -EIO if NSS could not tell, or
 * found()'s negative result. */
struct group;
int policy_lookup_group(const char *name, int (*found)(const struct group *gr, void *ctx),
			void *ctx);

#endif
