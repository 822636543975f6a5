/* Deciding many users' policies at once for mfactl status: the groups the
 * rules name are looked up once, with their members, instead of every
 * user's groups (see groups.c). */
#ifndef MFACTL_GROUPS_H
#define MFACTL_GROUPS_H

#include <sys/types.h>

#include "policy.h"

/* Membership is the primary gid or the group's member list, which is what
 * getgrouplist() reports for the files and LDAP sources; -EIO if NSS could
 * not tell about a group. */
struct policy_groups;
int policy_groups_load(const struct policy_config *pc, struct policy_groups **out,
		       struct mfa_error *err);
void policy_groups_free(struct policy_groups *pg);
/* policy_for_user() for an account whose primary gid is known. */
int policy_for_account(const struct policy_config *pc, const struct policy_groups *pg,
		       const char *user, gid_t primary, struct policy_decision *out);

#endif
