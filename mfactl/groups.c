/* Deciding many users' policies at once for mfactl status: the rules'
 * groups looked up once; see groups.h.  The rule loop is core/policy.c's
 * policy_decide(), the same that decides at login. */
#include <errno.h>
#include <grp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "groups.h"

/* One group named by a rule, looked up once: whether it exists, its gid and
 * its members, sorted for bsearch. */
struct rule_group {
	bool exists;
	gid_t gid;
	char **members;
	size_t n_members;
};

struct policy_groups {
	size_t n;
	struct rule_group groups[]; /* one per rule; unused for user rules */
};

static int cmp_member(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int take_members(const struct group *gr, void *ctx)
{
	struct rule_group *g = ctx;
	size_t n = 0;

	g->exists = true;
	g->gid = gr->gr_gid;
	while (gr->gr_mem[n] != NULL)
		n++;
	g->members = calloc(n + 1, sizeof(*g->members));
	if (g->members == NULL)
		return -ENOMEM;
	for (; g->n_members < n; g->n_members++) {
		g->members[g->n_members] = strdup(gr->gr_mem[g->n_members]);
		if (g->members[g->n_members] == NULL)
			return -ENOMEM;
	}
	qsort(g->members, g->n_members, sizeof(*g->members), cmp_member);
	return 0;
}

static int load_rule_group(const char *name, struct rule_group *g)
{
	int r = policy_lookup_group(name, take_members, g);

	return r < 0 ? r : 0;
}

void policy_groups_free(struct policy_groups *pg)
{
	if (pg == NULL)
		return;
	for (size_t i = 0; i < pg->n; i++) {
		for (size_t k = 0; k < pg->groups[i].n_members; k++)
			free(pg->groups[i].members[k]);
		free(pg->groups[i].members);
	}
	free(pg);
}

int policy_groups_load(const struct policy_config *pc, struct policy_groups **out,
		       struct mfa_error *err)
{
	struct policy_groups *pg;
	int r = 0;

	pg = calloc(1, sizeof(*pg) + pc->n_rules * sizeof(pg->groups[0]));
	if (pg == NULL)
		return -ENOMEM;
	pg->n = pc->n_rules;
	for (size_t i = 0; i < pc->n_rules && r == 0; i++) {
		if (pc->rules[i].kind != RULE_GROUP)
			continue;
		r = load_rule_group(pc->rules[i].name, &pg->groups[i]);
		if (r == -EIO)
			mfa_error_set(err, "cannot look up group \"%s\" of rule %zu",
				      pc->rules[i].name, i + 1);
		else if (r < 0)
			mfa_error_set(err, "out of memory");
	}
	if (r < 0) {
		policy_groups_free(pg);
		return r;
	}
	*out = pg;
	return 0;
}

struct listed_membership {
	const struct policy_groups *pg;
	const char *user;
	gid_t primary;
};

static int listed_in_group(size_t i, void *p, struct mfa_error *err)
{
	struct listed_membership *m = p;
	const struct rule_group *g = &m->pg->groups[i];

	if (!g->exists)
		return POLICY_NO_GROUP;
	if (g->gid == m->primary)
		return 1;
	return bsearch(&m->user, g->members, g->n_members, sizeof(*g->members), cmp_member) != NULL;
}

int policy_for_account(const struct policy_config *pc, const struct policy_groups *pg,
		       const char *user, gid_t primary, struct policy_decision *out)
{
	struct listed_membership m = { .pg = pg, .user = user, .primary = primary };
	struct mfa_error unused;

	int r = policy_decide(pc, user, listed_in_group, &m, out, &unused);

	out->account_found = true; /* listed from passwd */
	return r;
}
