/* The postgresql database's own administration, for mfactl: creating or
 * upgrading pam_mfa's schema from the migrations of sql/ (db init),
 * checking its version and the roles' rights (db check), and a user's
 * whole record written by import_user (migrate, store/migrate.c).  It
 * runs on the backend's connection (pg.h) as whatever role store.conninfo
 * names; the login path never calls any of it. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "pg.h"
#include "secmem.h"

/* sql/ holds 001_schema.sql and so on: three digits, the version. */
#define MIGRATIONS_MAX 999
#define MIGRATION_NAME_MAX 64
#define MIGRATION_FILE_MAX (1024 * 1024)
/* How long db init waits for another db init's lock, and how long one
 * migration may take: an upgrade may rewrite a table, far longer than a
 * login's store.timeout. */
#define DB_INIT_LOCK_WAIT_SECONDS 60
#define DB_INIT_STEP_SECONDS 600
/* The session lock two db inits take: "pam_mfa" in ASCII, as a number. */
#define DB_INIT_LOCK_KEY "31632319771928161"
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

static const char lock_timeout_sql[] =
	"SET lock_timeout = '" STRINGIFY(DB_INIT_LOCK_WAIT_SECONDS) "s'";

struct migration {
	unsigned version;
	char name[MIGRATION_NAME_MAX + 1];
	char *text;
};

/* NNN_name.sql: three digits (not 000), an underscore, then lower-case
 * letters, digits and underscores. */
static bool migration_name(const char *name, unsigned *version)
{
	size_t len = strlen(name);

	if (len < 9 || len > MIGRATION_NAME_MAX || strcmp(name + len - 4, ".sql") != 0)
		return false;
	for (size_t i = 0; i < 3; i++)
		if (!isdigit((unsigned char)name[i]))
			return false;
	if (name[3] != '_')
		return false;
	for (size_t i = 4; i < len - 4; i++)
		if (!(islower((unsigned char)name[i]) || isdigit((unsigned char)name[i]) ||
		      name[i] == '_'))
			return false;
	*version = (unsigned)((name[0] - '0') * 100 + (name[1] - '0') * 10 + (name[2] - '0'));
	return *version > 0;
}

/* What is meant as a migration: a name that starts with a digit or ends in
 * .sql.  Such a name that is not NNN_name.sql is refused, for a typo must
 * not skip a migration quietly; the rest (README.md, the build's
 * meson.build) is not the schema's. */
static bool looks_like_migration(const char *name)
{
	size_t len = strlen(name);

	return isdigit((unsigned char)name[0]) ||
	       (len >= 4 && strcasecmp(name + len - 4, ".sql") == 0);
}

static int migration_cmp(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;

	return x->version < y->version ? -1 : x->version > y->version;
}

/* The migrations of dir, in order, numbered 1 to *n without a gap. */
static int scan_migrations(const char *dir, struct migration **out, size_t *n,
			   struct mfa_error *err)
{
	struct migration *list = NULL;
	struct dirent *e;
	size_t count = 0;
	DIR *d;
	int fd, r = 0;

	*out = NULL;
	*n = 0;
	fd = open_trusted_dir(dir, err);
	if (fd < 0)
		return fd;
	d = fdopendir(fd);
	if (d == NULL) {
		r = -errno;
		close(fd);
		mfa_error_set(err, "%s: %s", dir, strerror(-r));
		return r;
	}
	list = calloc(MIGRATIONS_MAX, sizeof(*list));
	if (list == NULL) {
		closedir(d);
		mfa_error_set(err, "out of memory");
		return -ENOMEM;
	}
	while (r == 0 && (e = readdir(d)) != NULL) {
		unsigned version;
		char shown[MIGRATION_NAME_MAX + 1];

		if (!looks_like_migration(e->d_name))
			continue;
		if (!migration_name(e->d_name, &version)) {
			sanitize_printable(e->d_name, shown, sizeof(shown));
			mfa_error_set(err,
				      "%s: \"%s\" is not a migration's name (NNN_name.sql, lower "
				      "case): refusing the directory",
				      dir, shown);
			r = -EINVAL;
			break;
		}
		for (size_t i = 0; i < count && r == 0; i++)
			if (list[i].version == version) {
				mfa_error_set(err, "%s: %s and %s are both version %u", dir,
					      list[i].name, e->d_name, version);
				r = -EINVAL;
			}
		if (r == 0) {
			list[count].version = version;
			memcpy(list[count].name, e->d_name, strlen(e->d_name) + 1);
			count++;
		}
	}
	closedir(d);
	if (r == 0 && count == 0) {
		mfa_error_set(err, "%s: no migrations (NNN_name.sql) in it", dir);
		r = -ENOENT;
	}
	if (r == 0) {
		qsort(list, count, sizeof(*list), migration_cmp);
		for (size_t i = 0; i < count && r == 0; i++)
			if (list[i].version != i + 1) {
				mfa_error_set(err, "%s: version %zu is missing before %s", dir,
					      i + 1, list[i].name);
				r = -EINVAL;
			}
	}
	if (r < 0) {
		free(list);
		return r;
	}
	*out = list;
	*n = count;
	return 0;
}

/* The text of a migration: a root-owned file that nobody else may write, as
 * every file pam_mfa trusts, for it runs with the schema owner's rights. */
static int read_migration(const char *dir, const char *name, char **text, struct mfa_error *err)
{
	char path[4096];
	size_t len;
	int fd, r;

	if ((size_t)snprintf(path, sizeof(path), "%s%s%s", dir,
			     dir[strlen(dir) - 1] == '/' ? "" : "/", name) >= sizeof(path)) {
		mfa_error_set(err, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	fd = open_trusted_file(path, MIGRATION_FILE_MAX, err);
	if (fd < 0)
		return fd;
	r = read_all(fd, MIGRATION_FILE_MAX, text, &len);
	close(fd);
	if (r < 0) {
		mfa_error_set(err, "%s: %s", path, strerror(-r));
		return r;
	}
	if (strlen(*text) != len) {
		mfa_error_set(err, "%s: contains a NUL byte", path);
		free(*text);
		*text = NULL;
		return -EINVAL;
	}
	return 0;
}

/* Past a dollar-quoted body ($$...$$, $tag$...$tag$) at c, counting its
 * lines; NULL if c starts no dollar quote (a parameter such as $1). */
static const char *past_dollar_quote(const char *c, unsigned *line)
{
	const char *tag_end = c + 1, *close;
	size_t tag_len;

	while (isalnum((unsigned char)*tag_end) || *tag_end == '_')
		tag_end++;
	if (*tag_end != '$' || isdigit((unsigned char)c[1]))
		return NULL;
	tag_len = (size_t)(tag_end - c) + 1;
	for (close = tag_end + 1; *close != '\0'; close++) {
		if (strncmp(close, c, tag_len) == 0)
			return close + tag_len;
		if (*close == '\n')
			(*line)++;
	}
	return close;
}

/* The first statement of text that would end db init's transaction
 * (BEGIN, COMMIT, ROLLBACK, END, START, ABORT), outside comments, quotes
 * and dollar-quoted bodies (where plpgsql's BEGIN and END are), with its
 * line; NULL if there is none.  Found before anything runs, for what a
 * file's own COMMIT made durable could not be rolled back. */
static const char *transaction_control(const char *text, unsigned *line)
{
	static const char *const words[] = {
		"BEGIN", "COMMIT", "ROLLBACK", "END", "START", "ABORT"
	};
	bool statement_start = true;
	const char *c = text, *after;

	*line = 1;
	while (*c != '\0') {
		if (*c == '\n') {
			(*line)++;
			c++;
		} else if (isspace((unsigned char)*c)) {
			c++;
		} else if (c[0] == '-' && c[1] == '-') {
			while (*c != '\0' && *c != '\n')
				c++;
		} else if (c[0] == '/' && c[1] == '*') {
			unsigned depth = 1;

			for (c += 2; *c != '\0' && depth > 0; c++) {
				if (*c == '\n')
					(*line)++;
				if (c[0] == '/' && c[1] == '*')
					depth++, c++;
				else if (c[0] == '*' && c[1] == '/')
					depth--, c++;
			}
		} else if (*c == '\'' || *c == '"') {
			char quote = *c;

			for (c++; *c != '\0'; c++) {
				if (*c == '\n')
					(*line)++;
				if (*c == quote && c[1] == quote)
					c++;
				else if (*c == quote)
					break;
			}
			if (*c != '\0')
				c++;
			statement_start = false;
		} else if (*c == '$' && (after = past_dollar_quote(c, line)) != NULL) {
			c = after;
			statement_start = false;
		} else if (*c == ';') {
			statement_start = true;
			c++;
		} else if (statement_start && isalpha((unsigned char)*c)) {
			const char *w = c;

			while (isalnum((unsigned char)*c) || *c == '_')
				c++;
			for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
				if ((size_t)(c - w) == strlen(words[i]) &&
				    strncasecmp(w, words[i], strlen(words[i])) == 0)
					return words[i];
			statement_start = false;
		} else {
			statement_start = false;
			c++;
		}
	}
	return NULL;
}

/* The line of text where the server's 1-based character position falls. */
static unsigned line_of(const char *text, int position)
{
	unsigned line = 1;
	int chars = 0;

	for (const char *c = text; *c != '\0'; c++) {
		/* UTF-8: a character starts at every byte but a continuation. */
		if (((unsigned char)*c & 0xc0) != 0x80 && ++chars >= position)
			break;
		if (*c == '\n')
			line++;
	}
	return line;
}

/* One statement of the administration's own: bounded like a migration
 * while db init runs, else like a login's call (p->timeout). */
static int admin_exec(struct pg_store *p, const char *sql, int n, const char *const *params,
		      PGresult **out, struct pg_failure *why, struct mfa_error *err)
{
	return pg_exec(p, "administration", sql, n, params,
		       p->admin_timeout ? p->admin_timeout : p->timeout, PG_EXEC_KEEP_ON_ERROR, out,
		       why, err);
}

/* A single value of a one-row, one-column result, copied. */
static int admin_value(struct pg_store *p, const char *sql, int n, const char *const *params,
		       char *out, size_t size, struct pg_failure *why, struct mfa_error *err)
{
	PGresult *res;
	const char *v;
	int r = admin_exec(p, sql, n, params, &res, why, err);

	if (r < 0)
		return r;
	if (p->pq.ntuples(res) != 1 || p->pq.nfields(res) != 1 || p->pq.get_is_null(res, 0, 0) ||
	    strlen(v = p->pq.get_value(res, 0, 0)) >= size) {
		p->pq.clear(res);
		mfa_error_set(err, "postgresql: an unexpected answer to: %s", sql);
		return -EIO;
	}
	memcpy(out, v, strlen(v) + 1);
	p->pq.clear(res);
	return 0;
}

/* The versions the database records: 0 without a schema; -EINVAL unless
 * they are 1 to N without a gap. */
static int recorded_version(struct pg_store *p, unsigned *version, struct mfa_error *err)
{
	char has[8], text[64];
	struct pg_failure why;
	unsigned count, low, high;
	int r;

	*version = 0;
	r = admin_value(p, "SELECT pg_catalog.to_regclass('pam_mfa.schema_version') IS NOT NULL", 0,
			NULL, has, sizeof(has), NULL, err);
	if (r < 0 || strcmp(has, "t") != 0)
		return r;
	r = admin_value(p,
			"SELECT pg_catalog.format('%s %s %s', pg_catalog.count(*), "
			"COALESCE(pg_catalog.min(version), 0), COALESCE(pg_catalog.max(version), 0)) "
			"FROM pam_mfa.schema_version",
			0, NULL, text, sizeof(text), &why, err);
	if (r < 0 && strcmp(why.sqlstate, "42501") == 0)
		mfa_error_set(err, "postgresql: the role of store.conninfo may not read "
				   "pam_mfa.schema_version: db init runs as the schema's owner");
	if (r < 0)
		return r;
	if (sscanf(text, "%u %u %u", &count, &low, &high) != 3 || high != count ||
	    (count > 0 && low != 1)) {
		mfa_error_set(err,
			      "postgresql: pam_mfa.schema_version records versions that are not 1 "
			      "to N without a gap (count, lowest, highest: %s): not touching it",
			      text);
		return -EINVAL;
	}
	*version = high;
	return 0;
}

/* Applies one migration in one transaction: its statements, then the check
 * that it recorded its own number and nothing else, then the commit; on any
 * failure the transaction is rolled back (or dies with the connection). */
static int apply_migration(struct pg_store *p, const struct migration *m, struct mfa_error *err)
{
	const char *text = m->text;
	char before[16], recorded[64], expected[16];
	const char *params[] = { before };
	struct pg_failure why;
	struct mfa_error inner = { "" };
	int r;

	(void)snprintf(before, sizeof(before), "%u", m->version - 1);
	(void)snprintf(expected, sizeof(expected), "%u", m->version);
	r = admin_exec(p, "BEGIN", 0, NULL, NULL, NULL, err);
	if (r < 0)
		return r;
	r = pg_exec(p, m->name, text, 0, NULL, DB_INIT_STEP_SECONDS,
		    PG_EXEC_SCRIPT | PG_EXEC_KEEP_ON_ERROR, NULL, &why, &inner);
	if (r < 0) {
		if (why.position > 0)
			mfa_error_set(err, "%s: line %u: %s", m->name, line_of(text, why.position),
				      inner.msg);
		else
			mfa_error_set(err, "%s: %s", m->name, inner.msg);
		goto rollback;
	}
	if (p->pq.transaction_status(p->conn) != PQTRANS_INTRANS) {
		/* Its own COMMIT or ROLLBACK: what it did is beyond recall. */
		mfa_error_set(err,
			      "%s: ends the transaction itself (BEGIN, COMMIT or ROLLBACK in the "
			      "file); stopping",
			      m->name);
		r = -EINVAL;
		goto rollback;
	}
	r = admin_value(p,
			"SELECT COALESCE(pg_catalog.string_agg(version::text, ',' ORDER BY version), "
			"'') FROM pam_mfa.schema_version WHERE version > $1::integer",
			1, params, recorded, sizeof(recorded), NULL, &inner);
	if (r < 0) {
		mfa_error_set(err, "%s: %s", m->name, inner.msg);
		goto rollback;
	}
	if (strcmp(recorded, expected) != 0) {
		mfa_error_set(err,
			      "%s: records version%s \"%s\" in pam_mfa.schema_version, not %s as "
			      "its name says",
			      m->name, strchr(recorded, ',') ? "s" : "", recorded, expected);
		r = -EINVAL;
		goto rollback;
	}
	r = admin_exec(p, "COMMIT", 0, NULL, NULL, NULL, &inner);
	if (r < 0)
		mfa_error_set(err, "%s: the commit failed: %s", m->name, inner.msg);
	return r;
rollback:
	if (p->conn != NULL)
		(void)admin_exec(p, "ROLLBACK", 0, NULL, NULL, NULL, &inner);
	return r;
}

int store_db_init(struct store *st, const char *sql_dir,
		  void (*applied)(unsigned version, const char *file, void *ctx), void *ctx,
		  unsigned *before, unsigned *after, struct mfa_error *err)
{
	struct pg_store *p = pg_store_of(st);
	struct migration *list = NULL;
	struct pg_failure why;
	bool locked = false;
	size_t n = 0;
	unsigned version = 0;
	int r;

	*before = *after = 0;
	if (p == NULL) {
		mfa_error_set(err, "the store is not a postgresql database (store.backend)");
		return -EOPNOTSUPP;
	}
	r = scan_migrations(sql_dir, &list, &n, err);
	if (r < 0)
		return r;
	p->admin_timeout = DB_INIT_STEP_SECONDS;
	/* Every file is checked and read before anything runs, the ones the
	 * database has already too: a file others could write is a problem
	 * whether or not this run applies it. */
	for (size_t i = 0; i < n && r == 0; i++) {
		const char *word;
		unsigned line;

		r = read_migration(sql_dir, list[i].name, &list[i].text, err);
		if (r == 0 && (word = transaction_control(list[i].text, &line)) != NULL) {
			mfa_error_set(err,
				      "%s: line %u: %s: a migration runs in db init's transaction "
				      "and must not begin or end one",
				      list[i].name, line, word);
			r = -EINVAL;
		}
	}
	if (r < 0)
		goto out;
	/* The migrations and db init's own statements have their own bounds;
	 * a lock held by another db init is waited for, a while. */
	r = admin_exec(p, "SET statement_timeout = 0", 0, NULL, NULL, NULL, err);
	if (r == 0)
		r = admin_exec(p, lock_timeout_sql, 0, NULL, NULL, NULL, err);
	if (r == 0) {
		r = admin_exec(p, "SELECT pg_catalog.pg_advisory_lock(" DB_INIT_LOCK_KEY ")", 0,
			       NULL, NULL, &why, err);
		if (r < 0 && strcmp(why.sqlstate, "55P03") == 0)
			mfa_error_set(err,
				      "another mfactl db init has held the database's lock for %d "
				      "seconds: try again later",
				      DB_INIT_LOCK_WAIT_SECONDS);
		locked = r == 0;
	}
	if (r == 0)
		r = recorded_version(p, &version, err);
	if (r < 0)
		goto out;
	*before = *after = version;
	if (version > n) {
		mfa_error_set(err,
			      "the database's schema is at version %u, newer than the %zu of %s: "
			      "not touching it (is this mfactl older than the schema?)",
			      version, n, sql_dir);
		r = -EPROTO;
		goto out;
	}
	for (size_t i = version; i < n; i++) {
		r = apply_migration(p, &list[i], err);
		if (r < 0)
			break;
		*after = list[i].version;
		if (applied != NULL)
			applied(list[i].version, list[i].name, ctx);
	}
out:
	/* The lock ends with the session too; a failed unlock is no failure. */
	if (locked && p->conn != NULL) {
		struct mfa_error ignored = { "" };

		(void)admin_exec(p, "SELECT pg_catalog.pg_advisory_unlock_all()", 0, NULL, NULL,
				 NULL, &ignored);
	}
	for (size_t i = 0; i < n; i++)
		free(list[i].text);
	free(list);
	p->admin_timeout = 0;
	return r;
}

/* sql/README.md's Roles: the functions each role executes, and no other
 * (version 9's; a function of an older version left behind is caught by
 * its name). */
static const char host_functions[] = "{summary,verify_totp,verify_sent,enroll_totp,"
				     "enroll_sent,skip,code_book,code_sent,code_unbook,"
				     "remove_factor,label_factor,schema_version,verify_backup,"
				     "recovery_new,lock_notice_due}";
static const char admin_functions[] = "{summary,summaries,provision_totp,provision_dest,"
				      "code_by_admin,label_factor,reset,reset_all,unlock,list,"
				      "set_settings,schema_version,import_user,recovery_admin,"
				      "bypass_new,bypass_revoke}";

/* Every way the rights differ from the design, one line each, from the
 * catalog: has_*_privilege() for the two roles and PUBLIC (membership and
 * column grants included), pg_proc for SECURITY DEFINER's settings.  Any
 * role may read all of it. */
static const char rights_sql[] =
	"WITH roles(r) AS (SELECT x.r::name FROM (VALUES ('pam_mfa_host'), ('pam_mfa_admin'), "
	"    ('public')) x(r) WHERE x.r = 'public' "
	"    OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles a WHERE a.rolname = x.r)), "
	"rels AS (SELECT c.oid, c.relkind FROM pg_catalog.pg_class c "
	"    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
	"    WHERE n.nspname IN ('pam_mfa', 'pam_mfa_crypto')), "
	"fns AS (SELECT p.oid, p.proname, p.prosecdef, p.proconfig, p.proowner "
	"    FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
	"    WHERE n.nspname = 'pam_mfa') "
	"SELECT m FROM ( "
	"SELECT pg_catalog.format('role %s does not exist', x.r) "
	"  FROM (VALUES ('pam_mfa_host'), ('pam_mfa_admin')) x(r) "
	"  WHERE NOT EXISTS (SELECT 1 FROM roles WHERE roles.r = x.r) "
	"UNION ALL "
	"SELECT 'schema pam_mfa does not exist' "
	"  WHERE pg_catalog.to_regnamespace('pam_mfa') IS NULL "
	"UNION ALL "
	"SELECT pg_catalog.format('%s may %s %s', roles.r, v.priv, rels.oid::regclass) "
	"  FROM rels CROSS JOIN roles CROSS JOIN (VALUES ('SELECT'), ('INSERT'), ('UPDATE'), "
	"    ('DELETE'), ('TRUNCATE'), ('REFERENCES'), ('TRIGGER')) v(priv) "
	"  WHERE rels.relkind IN ('r', 'p', 'v', 'm', 'f') AND CASE "
	"    WHEN v.priv IN ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES') "
	"    THEN pg_catalog.has_any_column_privilege(roles.r, rels.oid, v.priv) "
	"    ELSE pg_catalog.has_table_privilege(roles.r, rels.oid, v.priv) END "
	"UNION ALL "
	"SELECT pg_catalog.format('%s may %s sequence %s', roles.r, v.priv, rels.oid::regclass) "
	"  FROM rels CROSS JOIN roles CROSS JOIN (VALUES ('USAGE'), ('SELECT'), ('UPDATE')) v(priv) "
	"  WHERE rels.relkind = 'S' "
	"    AND pg_catalog.has_sequence_privilege(roles.r, rels.oid, v.priv) "
	"UNION ALL "
	"SELECT pg_catalog.format('%s may %s in schema %s', roles.r, v.priv, s.nsp) "
	"  FROM roles CROSS JOIN (VALUES ('pam_mfa', 'CREATE'), ('pam_mfa_crypto', 'CREATE'), "
	"    ('pam_mfa_crypto', 'USAGE')) v(nsp, priv) "
	"  CROSS JOIN LATERAL (SELECT v.nsp::name AS nsp) s "
	"  WHERE pg_catalog.to_regnamespace(v.nsp) IS NOT NULL "
	"    AND pg_catalog.has_schema_privilege(roles.r, v.nsp, v.priv) "
	"UNION ALL "
	"SELECT 'public may use schema pam_mfa' WHERE pg_catalog.to_regnamespace('pam_mfa') IS "
	"    NOT NULL AND pg_catalog.has_schema_privilege('public', 'pam_mfa', 'USAGE') "
	"UNION ALL "
	"SELECT pg_catalog.format('%s may EXECUTE %s', roles.r, fns.oid::regprocedure) "
	"  FROM fns CROSS JOIN roles "
	"  WHERE pg_catalog.has_function_privilege(roles.r, fns.oid, 'EXECUTE') "
	"    AND NOT (roles.r = 'pam_mfa_host' AND fns.proname = ANY ($1::text[])) "
	"    AND NOT (roles.r = 'pam_mfa_admin' AND fns.proname = ANY ($2::text[])) "
	"UNION ALL "
	"SELECT pg_catalog.format('%s cannot EXECUTE pam_mfa.%s', d.r, d.f) "
	"  FROM (SELECT 'pam_mfa_host'::name, pg_catalog.unnest($1::text[]) "
	"        UNION ALL SELECT 'pam_mfa_admin'::name, pg_catalog.unnest($2::text[])) d(r, f) "
	"  WHERE EXISTS (SELECT 1 FROM roles WHERE roles.r = d.r) "
	"    AND pg_catalog.to_regnamespace('pam_mfa') IS NOT NULL "
	"    AND NOT EXISTS (SELECT 1 FROM fns WHERE fns.proname = d.f "
	"        AND pg_catalog.has_function_privilege(d.r, fns.oid, 'EXECUTE')) "
	"UNION ALL "
	"SELECT pg_catalog.format('%s is SECURITY DEFINER without SET search_path = "
	"pg_catalog, pg_temp', fns.oid::regprocedure) "
	"  FROM fns WHERE fns.prosecdef "
	"    AND NOT ('search_path=pg_catalog, pg_temp' = ANY (COALESCE(fns.proconfig, '{}'))) "
	"UNION ALL "
	"SELECT pg_catalog.format('%s is SECURITY DEFINER and owned by the superuser %s', "
	"    fns.oid::regprocedure, a.rolname) "
	"  FROM fns JOIN pg_catalog.pg_roles a ON a.oid = fns.proowner "
	"  WHERE fns.prosecdef AND a.rolsuper "
	") problems(m) ORDER BY 1";

int store_db_check(struct store *st, unsigned *version, int (*problem)(const char *what, void *ctx),
		   void *ctx, struct mfa_error *err)
{
	struct pg_store *p = pg_store_of(st);
	const char *params[] = { host_functions, admin_functions };
	char has[8], text[16];
	PGresult *res;
	int r, n;

	*version = 0;
	if (p == NULL) {
		mfa_error_set(err, "the store is not a postgresql database (store.backend)");
		return -EOPNOTSUPP;
	}
	r = admin_value(p,
			"SELECT pg_catalog.to_regprocedure('pam_mfa.schema_version()') IS NOT NULL",
			0, NULL, has, sizeof(has), NULL, err);
	if (r == 0 && strcmp(has, "t") == 0) {
		r = admin_value(p, "SELECT COALESCE(pam_mfa.schema_version(), 0)", 0, NULL, text,
				sizeof(text), NULL, err);
		if (r == 0 && sscanf(text, "%u", version) != 1) {
			mfa_error_set(err, "postgresql: schema_version() is not a number");
			r = -EIO;
		}
	}
	if (r < 0)
		return r;
	r = admin_exec(p, rights_sql, 2, params, &res, NULL, err);
	if (r < 0)
		return r;
	n = p->pq.ntuples(res);
	for (int i = 0; i < n && r == 0; i++)
		r = problem(p->pq.get_value(res, i, 0), ctx);
	p->pq.clear(res);
	return r;
}

/* The largest JSON text of one factor: its keys, punctuation and numbers
 * (under 512), a label and a destination each escaped at worst (6 bytes a
 * character), a secret in hex. */
#define FACTOR_JSON_MAX (512 + 6 * FACTOR_LABEL_MAX + 6 * FACTOR_DEST_MAX + 2 * TOTP_SECRET_MAX)

/* s as a JSON string at *at, escaped (a record's text is checked when it
 * is read, but a quote must never end the string early). */
static void json_string(char **at, const char *s)
{
	*(*at)++ = '"';
	for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++) {
		if (*c == '"' || *c == '\\') {
			*(*at)++ = '\\';
			*(*at)++ = (char)*c;
		} else if (*c < 0x20 || *c > 0x7e) {
			*at += sprintf(*at, "\\u%04x", *c);
		} else {
			*(*at)++ = (char)*c;
		}
	}
	*(*at)++ = '"';
	**at = '\0';
}

/* One factor of a record as import_user takes it (sql/008_factors.sql):
 * an app with its secret in hex, or an address or number. */
static void factor_json(char **at, const struct mfa_factor *f)
{
	const char *method = f->method == METHOD_TOTP  ? "totp" :
			     f->method == METHOD_EMAIL ? "email" :
			     f->method == METHOD_SMS   ? "sms" :
							 "?";

	*at += sprintf(*at, "{\"method\": \"%s\", \"label\": ", method);
	json_string(at, f->label);
	*at += sprintf(*at,
		       ", \"verified\": %s, \"by_admin\": %s, \"added\": %" PRId64
		       ", \"last_used\": %" PRId64,
		       f->verified ? "true" : "false", f->by_admin ? "true" : "false",
		       f->added > 0 ? f->added : 0, f->last_used > 0 ? f->last_used : 0);
	if (f->method == METHOD_TOTP) {
		*at += sprintf(*at, ", \"secret\": \"");
		for (size_t i = 0; i < f->totp.secret_len && i < TOTP_SECRET_MAX; i++)
			*at += sprintf(*at, "%02x", f->totp.secret[i]);
		*at += sprintf(*at,
			       "\", \"algorithm\": \"%s\", \"digits\": %u, \"period\": %u, "
			       "\"last_step\": %" PRIu64,
			       totp_algorithm_name(f->totp.params.algorithm), f->totp.params.digits,
			       f->totp.params.period, f->totp.last_step);
	} else {
		*at += sprintf(*at, ", \"dest\": ");
		json_string(at, f->dest);
	}
	*at += sprintf(*at, "}");
}

/* The largest JSON text of a recovery set: its keys and numbers, and per
 * code a salt and a hash in hex with their keys and the time used. */
#define RECOVERY_JSON_MAX \
	(128 + (size_t)RECOVERY_CODES_MAX * (2 * EMAIL_SALT_LEN + 2 * EMAIL_HASH_LEN + 96))
#define BYPASS_JSON_MAX (256 + 2 * EMAIL_SALT_LEN + 2 * EMAIL_HASH_LEN)

static void hex_json(char **at, const char *key, const unsigned char *b, size_t n)
{
	*at += sprintf(*at, "\"%s\": \"", key);
	for (size_t i = 0; i < n; i++)
		*at += sprintf(*at, "%02x", b[i]);
	*at += sprintf(*at, "\"");
}

/* The record's recovery set as import_user takes it (sql/009): who made
 * it, when, and each code's salt, hash and time of use, copied as kept:
 * never a code.  -EINVAL for a set without a source. */
static int recovery_json(char *out, const struct mfa_recovery_set *set, struct mfa_error *err)
{
	const char *source = set->source == RECORD_CODES_USER	  ? "user" :
			     set->source == RECORD_CODES_ADMIN	  ? "admin" :
			     set->source == RECORD_CODES_IMPORTED ? "imported" :
								    NULL;
	char *at = out;

	if (source == NULL || set->n > RECOVERY_CODES_MAX) {
		mfa_error_set(err, "the record's recovery codes have no source");
		return -EINVAL;
	}
	at += sprintf(at, "{\"source\": \"%s\", \"since\": %" PRId64 ", \"codes\": [", source,
		      set->since > 0 ? set->since : 0);
	for (unsigned i = 0; i < set->n; i++) {
		at += sprintf(at, "%s{", i > 0 ? ", " : "");
		hex_json(&at, "salt", set->codes[i].salt, EMAIL_SALT_LEN);
		at += sprintf(at, ", ");
		hex_json(&at, "hash", set->codes[i].hash, EMAIL_HASH_LEN);
		at += sprintf(at, ", \"used\": %" PRId64 "}", set->used[i] > 0 ? set->used[i] : 0);
	}
	(void)sprintf(at, "]}");
	return 0;
}

/* The record's bypass code, kept used up or expired as the record keeps
 * it. */
static void bypass_json(char *out, const struct mfa_bypass *b)
{
	char *at = out;

	at += sprintf(at, "{");
	hex_json(&at, "salt", b->code.salt, EMAIL_SALT_LEN);
	at += sprintf(at, ", ");
	hex_json(&at, "hash", b->code.hash, EMAIL_HASH_LEN);
	(void)sprintf(at, ", \"uses_left\": %u, \"expires\": %" PRId64 ", \"made\": %" PRId64 "}",
		      b->uses_left, b->expires, b->made);
}

/* import_user's answer for rec, which holds something to copy: 0
 * (*replaced set), -EEXIST (the database holds state for the user and not
 * replace: nothing written), or an error.  The factors go as one JSON
 * parameter, every one of them (apps with their secrets, parameters and
 * replay steps, addresses and numbers verified or not, labels, whose they
 * are, when added and last used), with the recovery set and the bypass
 * code as their hashes; the text, which holds the secrets, is wiped. */
int pg_import_record(struct pg_store *p, const struct mfa_record *rec, bool replace, bool *replaced,
		     struct mfa_error *err)
{
	size_t size = 3 + (size_t)RECORD_FACTORS_MAX * (FACTOR_JSON_MAX + 2);
	char skip[24], result[16], bypass[BYPASS_JSON_MAX];
	char *factors, *at, *recovery = NULL;
	const char *params[6];
	PGresult *res;
	const char *v;
	int r;

	*replaced = false;
	if (rec->n_factors > RECORD_FACTORS_MAX) {
		mfa_error_set(err, "the record holds more than %d factors", RECORD_FACTORS_MAX);
		return -EINVAL;
	}
	factors = malloc(size);
	if (factors == NULL) {
		mfa_error_set(err, "out of memory");
		return -ENOMEM;
	}
	at = factors;
	*at++ = '[';
	for (unsigned i = 0; i < rec->n_factors; i++) {
		if (i > 0)
			*at++ = ',';
		factor_json(&at, &rec->factors[i]);
	}
	*at++ = ']';
	*at = '\0';
	if (rec->recovery.n > 0) {
		recovery = malloc(RECOVERY_JSON_MAX);
		r = recovery == NULL ? -ENOMEM : recovery_json(recovery, &rec->recovery, err);
		if (r < 0) {
			if (r == -ENOMEM)
				mfa_error_set(err, "out of memory");
			secure_wipe(factors, size);
			free(factors);
			free(recovery);
			return r;
		}
	}
	if (rec->bypass.set)
		bypass_json(bypass, &rec->bypass);
	(void)snprintf(skip, sizeof(skip), "%" PRId64, rec->skip_since > 0 ? rec->skip_since : 0);
	params[0] = rec->user;
	params[1] = factors;
	params[2] = skip;
	params[3] = replace ? "true" : "false";
	params[4] = recovery;
	params[5] = rec->bypass.set ? bypass : NULL;
	r = pg_exec(p, "import_user",
		    "SELECT pam_mfa.import_user($1, $2::jsonb, $3::bigint, $4::boolean, $5::jsonb, "
		    "$6::jsonb)",
		    6, params, p->timeout, 0, &res, NULL, err);
	secure_wipe(factors, size);
	free(factors);
	if (recovery != NULL) {
		secure_wipe(recovery, RECOVERY_JSON_MAX);
		free(recovery);
	}
	secure_wipe(bypass, sizeof(bypass));
	if (r < 0)
		return r;
	if (p->pq.ntuples(res) != 1 || p->pq.nfields(res) != 1 || p->pq.get_is_null(res, 0, 0) ||
	    strlen(v = p->pq.get_value(res, 0, 0)) >= sizeof(result)) {
		p->pq.clear(res);
		mfa_error_set(err, "postgresql: import_user: an unexpected answer");
		return -EIO;
	}
	memcpy(result, v, strlen(v) + 1);
	p->pq.clear(res);
	if (strcmp(result, "imported") == 0)
		return 0;
	if (strcmp(result, "replaced") == 0 && replace) {
		*replaced = true;
		return 0;
	}
	if (strcmp(result, "exists") == 0 && !replace) {
		mfa_error_set(err, "the database holds state for %s", rec->user);
		return -EEXIST;
	}
	mfa_error_set(err, "postgresql: import_user: an unexpected answer");
	return -EIO;
}
