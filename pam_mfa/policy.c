/* Per-user policy over NSS; see policy.h. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
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
		POLICY_REQUIRED, POLICY_OPTIONAL, POLICY_OPT_OUT, POLICY_EXEMPT,
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
	return method == METHOD_TOTP ? "totp" : method == METHOD_EMAIL ? "email" : "?";
}

int method_parse(const char *name, unsigned *method)
{
	if (strcmp(name, "totp") == 0)
		*method = METHOD_TOTP;
	else if (strcmp(name, "email") == 0)
		*method = METHOD_EMAIL;
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

/* 1 if the group exists and has gid *gid, 0 if it does not exist, -EIO if
 * NSS could not tell. */
static int group_gid(const char *name, gid_t *gid)
{
	struct group gr, *res = NULL;
	size_t len = 16384;
	int r;

	for (;;) {
		char *buf = malloc(len);

		if (buf == NULL)
			return -ENOMEM;
		r = getgrnam_r(name, &gr, buf, len, &res);
		if (r == 0 && res != NULL)
			*gid = gr.gr_gid;
		free(buf);
		if (r != ERANGE || len >= (1u << 22))
			break;
		len *= 2;
	}
	if (r == 0)
		return res != NULL;
	return nss_not_found(r) ? 0 : -EIO;
}

int policy_group_exists(const char *name)
{
	gid_t gid;

	return group_gid(name, &gid);
}

int policy_for_user(const struct mfa_config *cfg, const char *user,
		    struct policy_decision *out, struct mfa_error *err)
{
	gid_t *groups = NULL;
	int ngroups = 0, r = 0;

	out->policy = cfg->default_policy;
	out->methods = cfg->methods;
	out->rule = -1;
	out->missing_group = -1;
	for (size_t i = 0; i < cfg->n_rules; i++) {
		const struct mfa_rule *rule = &cfg->rules[i];
		bool match = false;

		if (rule->kind == RULE_USER) {
			match = strcmp(rule->name, user) == 0;
		} else {
			gid_t gid;
			int found;

			if (groups == NULL) {
				r = user_groups(user, &groups, &ngroups, err);
				if (r < 0)
					goto out;
			}
			found = group_gid(rule->name, &gid);
			if (found < 0) {
				r = found;
				mfa_error_set(err, "cannot look up group \"%s\" of rule %zu",
					      rule->name, i + 1);
				goto out;
			}
			if (!found && out->missing_group < 0)
				out->missing_group = (int)i;
			for (int g = 0; found && g < ngroups && !match; g++)
				match = groups[g] == gid;
		}
		if (match) {
			out->policy = rule->policy;
			out->methods = rule->methods ? rule->methods : cfg->methods;
			out->rule = (int)i;
			break;
		}
	}
out:
	free(groups);
	return r;
}
