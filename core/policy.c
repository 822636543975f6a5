/* Per-user policy over NSS; see policy.h. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

const char *policy_name(enum mfa_policy p)
{
	switch (p) {
	case POLICY_REQUIRED: return "required";
	case POLICY_OPTIONAL: return "optional";
	case POLICY_OPT_OUT: return "opt-out";
	case POLICY_EXEMPT: return "exempt";
	}
	return "?";
}

int policy_parse(const char *name, enum mfa_policy *p)
{
	static const enum mfa_policy all[] = {
		POLICY_REQUIRED,
		POLICY_OPTIONAL,
		POLICY_OPT_OUT,
		POLICY_EXEMPT,
	};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(name, policy_name(all[i])) == 0) {
			*p = all[i];
			return 0;
		}
	return -EINVAL;
}

const char *method_name(unsigned method)
{
	return method == METHOD_TOTP  ? "totp" :
	       method == METHOD_EMAIL ? "email" :
	       method == METHOD_SMS   ? "sms" :
					"?";
}

int method_parse(const char *name, unsigned *method)
{
	if (strcmp(name, "totp") == 0)
		*method = METHOD_TOTP;
	else if (strcmp(name, "email") == 0)
		*method = METHOD_EMAIL;
	else if (strcmp(name, "sms") == 0)
		*method = METHOD_SMS;
	else
		return -EINVAL;
	return 0;
}

/* The user's primary and supplementary groups, from NSS. */
static int user_groups(const char *user, gid_t **out, int *count, struct mfa_error *err)
{
	gid_t *groups = NULL, primary;
	int n = 64, r;

	r = user_primary_gid(user, &primary);
	if (r <= 0) {
		mfa_error_set(err, "cannot look up the user's account: %s",
			      r < 0 ? strerror(-r) : "not found");
		return r < 0 ? r : -ENOENT;
	}
	for (;;) {
		int want = n;
		gid_t *g = realloc(groups, (size_t)n * sizeof(*g));

		if (g == NULL) {
			free(groups);
			return -ENOMEM;
		}
		groups = g;
		if (getgrouplist(user, primary, groups, &want) >= 0) {
			n = want;
			break;
		}
		if (want <= n || want > 65536) {
			free(groups);
			mfa_error_set(err, "cannot list the user's groups");
			return -EIO;
		}
		n = want;
	}
	*out = groups;
	*count = n;
	return 0;
}

int policy_lookup_group(const char *name, int (*found)(const struct group *gr, void *ctx),
			void *ctx)
{
	struct group gr, *res = NULL;
	size_t len = 16384;
	int r;

	for (;;) {
		char *buf = malloc(len);

		if (buf == NULL)
			return -ENOMEM;
		r = getgrnam_r(name, &gr, buf, len, &res);
		if (r == 0 && res != NULL) {
			r = found(&gr, ctx);
			free(buf);
			return r < 0 ? r : 1;
		}
		free(buf);
		if (r != ERANGE || len >= (1u << 24)) /* 16 MB: some 800,000 members */
			break;
		len *= 2;
	}
	if (r == 0)
		return 0;
	return nss_not_found(r) ? 0 : -EIO;
}

static int take_gid(const struct group *gr, void *ctx)
{
	*(gid_t *)ctx = gr->gr_gid;
	return 0;
}

/* 1 if the group exists and has gid *gid, 0 if it does not exist, -EIO if
 * NSS could not tell. */
static int group_gid(const char *name, gid_t *gid)
{
	return policy_lookup_group(name, take_gid, gid);
}

int policy_group_exists(const char *name)
{
	gid_t gid;

	return group_gid(name, &gid);
}

int policy_decide(const struct policy_config *pc, const char *user,
		  int (*in_group)(size_t rule, void *ctx, struct mfa_error *err), void *ctx,
		  struct policy_decision *out, struct mfa_error *err)
{
	out->policy = pc->default_policy;
	out->methods = pc->methods;
	out->rule = -1;
	out->missing_group = -1;
	out->account_found = false;
	for (size_t i = 0; i < pc->n_rules; i++) {
		const struct mfa_rule *rule = &pc->rules[i];
		bool match;

		if (rule->kind == RULE_USER) {
			match = strcmp(rule->name, user) == 0;
		} else {
			int m = in_group(i, ctx, err);

			if (m < 0)
				return m;
			if (m == POLICY_NO_GROUP && out->missing_group < 0)
				out->missing_group = (int)i;
			match = m == 1;
		}
		if (match) {
			out->policy = rule->policy;
			out->methods = rule->methods ? rule->methods : pc->methods;
			out->rule = (int)i;
			break;
		}
	}
	return 0;
}

struct nss_membership {
	const struct policy_config *pc;
	const char *user;
	gid_t *groups; /* the user's groups, looked up at the first group rule */
	int ngroups;
};

static int nss_in_group(size_t i, void *p, struct mfa_error *err)
{
	struct nss_membership *m = p;
	const char *name = m->pc->rules[i].name;
	gid_t gid;
	int found, r;

	if (m->groups == NULL) {
		r = user_groups(m->user, &m->groups, &m->ngroups, err);
		if (r < 0)
			return r;
	}
	found = group_gid(name, &gid);
	if (found < 0) {
		mfa_error_set(err, "cannot look up group \"%s\" of rule %zu", name, i + 1);
		return found;
	}
	if (!found)
		return POLICY_NO_GROUP;
	for (int g = 0; g < m->ngroups; g++)
		if (m->groups[g] == gid)
			return 1;
	return 0;
}

int policy_for_user(const struct policy_config *pc, const char *user, struct policy_decision *out,
		    struct mfa_error *err)
{
	struct nss_membership m = { .pc = pc, .user = user };
	int r = policy_decide(pc, user, nss_in_group, &m, out, err);

	out->account_found = m.groups != NULL;
	free(m.groups);
	return r;
}
