/* mfactl status: one row per user, for every account in the passwd database
 * and every record in the store.  Reads without locking and creates nothing. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "groups.h"
#include "lockout.h"
#include "mfactl.h"
#include "notify.h"
#include "policy.h"
#include "secmem.h"

/* The users to show; an account in the passwd database comes with its
 * primary group, so that no user is looked up again (at 100,000 accounts,
 * a lookup each through a files or nss_wrapper source is quadratic). */
struct account {
	char *name;
	bool in_passwd;
	gid_t gid;
};

struct name_list {
	struct account *names;
	size_t len, cap;
};

static void status_usage(FILE *out)
{
	fprintf(out, "usage: mfactl status [--json] [--missing] [USER...]\n"
		     "\n"
		     "Shows, for each user (by default every account in the passwd database\n"
		     "and every user with a record), the policy, the enrolled methods, when,\n"
		     "a remembered opt-out skip, the last MFA login, failures and any\n"
		     "lockout, and under the row each method's factors: how many apps,\n"
		     "the numbers and addresses (masked; --json has them whole), verified\n"
		     "or not, and each factor's last use; then how many recovery codes are\n"
		     "left of how many made, and an outstanding bypass code (its uses left\n"
		     "and when it expires).  Reads only; creates nothing.\n"
		     "\n"
		     "  -j, --json      one JSON document instead of the table\n"
		     "  -m, --missing   only users who must or may enroll and have not\n"
		     "  -h, --help      this help\n");
}

static int list_add(struct name_list *l, const char *name, const struct passwd *pw)
{
	if (l->len == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 256;
		struct account *n = realloc(l->names, ncap * sizeof(*n));
		if (n == NULL)
			return -ENOMEM;
		l->names = n;
		l->cap = ncap;
	}
	l->names[l->len].name = strdup(name);
	if (l->names[l->len].name == NULL)
		return -ENOMEM;
	l->names[l->len].in_passwd = pw != NULL;
	l->names[l->len].gid = pw != NULL ? pw->pw_gid : 0;
	l->len++;
	return 0;
}

/* By name, and the passwd entry of a name before its store entry, which
 * the listing then skips. */
static int cmp_names(const void *a, const void *b)
{
	const struct account *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c : (int)y->in_passwd - (int)x->in_passwd;
}

static int cmp_name_key(const void *key, const void *elem)
{
	return strcmp(key, ((const struct account *)elem)->name);
}

static void name_list_free(struct name_list *l)
{
	for (size_t i = 0; i < l->len; i++)
		free(l->names[i].name);
	free(l->names);
}

static int add_from_store(const char *user, void *ctx)
{
	return list_add(ctx, user, NULL);
}

/* The store is listed by a thread while the main one reads the passwd
 * database: at 100,000 users each takes a tenth of a second or more. */
struct store_walk {
	struct store *st;
	struct name_list names;
	struct mfa_error err;
	int r;
};

static void *walk_store(void *arg)
{
	struct store_walk *w = arg;

	w->r = store_list(w->st, add_from_store, &w->names, &w->err);
	return NULL;
}

/* The listing writes only from the main thread: stdout's lock once, and
 * no format strings for 100,000 rows. */
static void out(const char *s)
{
	fputs_unlocked(s, stdout);
}

static void out_i64(int64_t v)
{
	char buf[24], *p = buf + sizeof(buf);
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	*--p = '\0';
	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--p = '-';
	out(p);
}

static void json_string(const char *s)
{
	static const char hex[] = "0123456789abcdef";

	putchar_unlocked('"');
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\') {
			putchar_unlocked('\\');
			putchar_unlocked(*p);
		} else if (*p < 0x20 || *p == 0x7f) {
			out("\\u00");
			putchar_unlocked(hex[*p >> 4]);
			putchar_unlocked(hex[*p & 15]);
		} else {
			putchar_unlocked(*p);
		}
	}
	putchar_unlocked('"');
}

/* A time of the store, or null for none. */
static void json_time(int64_t t)
{
	if (t > 0)
		out_i64(t);
	else
		out("null");
}

static void json_method_list(unsigned methods)
{
	const char *sep = "";

	putchar_unlocked('[');
	for (unsigned m = 1; m <= METHOD_ALL && m != 0; m <<= 1)
		if (methods & m) {
			out(sep);
			putchar_unlocked('"');
			out(method_name(m));
			putchar_unlocked('"');
			sep = ", ";
		}
	putchar_unlocked(']');
}

struct row {
	const char *user;
	bool in_passwd;
	bool error;
	char error_msg[sizeof(((struct mfa_error *)0)->msg)];
	const struct store_summary *rec;
	bool have_policy; /* false for users outside the passwd database */
	struct policy_decision policy;
};

/* "policy", "allowed_methods" and "rule": null for users outside the
 * passwd database, whose policy is unknown. */
static void print_json_policy(const struct row *r)
{
	if (!r->have_policy) {
		out(", \"policy\": null, \"allowed_methods\": [], \"rule\": null");
		return;
	}
	out(", \"policy\": \"");
	out(policy_name(r->policy.policy));
	out("\", \"allowed_methods\": ");
	json_method_list(r->policy.methods);
	out(", \"rule\": ");
	if (r->policy.rule < 0)
		out("null");
	else
		out_i64(r->policy.rule + 1);
}

/* One factor, whole: the administrator may see every address and number. */
static void print_json_factor(const struct store_factor *f)
{
	out("{\"id\": ");
	out_i64(f->id);
	out(", \"method\": \"");
	out(method_name(f->method));
	out("\", \"label\": ");
	if (f->label[0] != '\0')
		json_string(f->label);
	else
		out("null");
	out(", \"dest\": ");
	if (f->method & METHOD_SENT)
		json_string(f->dest);
	else
		out("null");
	out(f->verified ? ", \"verified\": true" : ", \"verified\": false");
	out(f->by_admin ? ", \"by_admin\": true, \"added\": " :
			  ", \"by_admin\": false, \"added\": ");
	json_time(f->added);
	out(", \"last_used\": ");
	json_time(f->last_used);
	if (f->method == METHOD_TOTP) {
		out(", \"totp\": {\"algorithm\": \"");
		out(totp_algorithm_name(f->params.algorithm));
		out("\", \"digits\": ");
		out_i64(f->params.digits);
		out(", \"period\": ");
		out_i64(f->params.period);
		out("}}");
	} else {
		out(", \"totp\": null}");
	}
}

/* "email" and "totp" as they were when a user had at most one of each:
 * the first address (a verified one before one waiting to be proved) and
 * the first app, for the scripts written then.  "factors" has them all. */
static void print_json_first_factors(const struct store_summary *rec)
{
	const struct store_factor *mail = store_summary_nth(rec, METHOD_EMAIL, 0);
	const struct store_factor *app = store_summary_nth(rec, METHOD_TOTP, 0);

	if (mail == NULL)
		mail = store_summary_unverified(rec, METHOD_EMAIL);
	if (mail != NULL) {
		out(", \"email\": {\"address\": ");
		json_string(mail->dest);
		out(mail->verified ? ", \"verified\": true, \"enrolled_at\": " :
				     ", \"verified\": false, \"enrolled_at\": ");
		out_i64(mail->verified ? mail->added : 0);
		out("}");
	} else {
		out(", \"email\": null");
	}
	if (app != NULL) {
		out(", \"totp\": {\"enrolled_at\": ");
		out_i64(app->added);
		out(", \"algorithm\": \"");
		out(totp_algorithm_name(app->params.algorithm));
		out("\", \"digits\": ");
		out_i64(app->params.digits);
		out(", \"period\": ");
		out_i64(app->params.period);
		out("}");
	} else {
		out(", \"totp\": null");
	}
}

/* "methods", "counts", "factors", and the first "email" and "totp": what
 * the user has enrolled. */
static void print_json_factors(const struct store_summary *rec)
{
	out(", \"error\": null, \"methods\": ");
	json_method_list(store_summary_methods(rec));
	out(", \"counts\": {\"totp\": ");
	out_i64(store_summary_count(rec, METHOD_TOTP));
	out(", \"email\": ");
	out_i64(store_summary_count(rec, METHOD_EMAIL));
	out(", \"sms\": ");
	out_i64(store_summary_count(rec, METHOD_SMS));
	out("}, \"factors\": [");
	for (unsigned i = 0; i < rec->n_factors; i++) {
		out(i > 0 ? ", " : "");
		print_json_factor(&rec->factors[i]);
	}
	out("]");
	print_json_first_factors(rec);
}

/* "last_login", "skipped_since", "failures" and the lockout, which ends
 * the row's object. */
static void print_json_activity(const struct store_summary *rec, time_t now)
{
	if (rec->last_login > 0) {
		out(", \"last_login\": {\"time\": ");
		out_i64(rec->last_login);
		out(", \"service\": ");
		json_string(rec->last_service);
		out(", \"rhost\": ");
		json_string(rec->last_rhost);
		if (rec->last_host[0] != '\0') {
			out(", \"host\": ");
			json_string(rec->last_host);
		}
		out("}");
	} else {
		out(", \"last_login\": null");
	}
	if (rec->skip_since > 0) {
		out(", \"skipped_since\": ");
		out_i64(rec->skip_since);
	} else {
		out(", \"skipped_since\": null");
	}
	out(", \"failures\": ");
	out_i64(rec->fail_count);
	out(lockout_until_active(rec->locked_until, now) ?
		    ", \"locked\": true, \"locked_until\": " :
		    ", \"locked\": false, \"locked_until\": ");
	if (rec->locked_until < 0) {
		out("\"admin\"}");
	} else if (lockout_until_active(rec->locked_until, now)) {
		out_i64(rec->locked_until);
		out("}");
	} else {
		out("null}");
	}
}

/* "recovery" and "bypass": what the user holds of the ways back in (the
 * counts, never a code). */
static void print_json_backup(const struct store_summary *rec, time_t now)
{
	if (rec->recovery.made > 0) {
		out(", \"recovery\": {\"left\": ");
		out_i64(rec->recovery.left);
		out(", \"made\": ");
		out_i64(rec->recovery.made);
		out(", \"since\": ");
		json_time(rec->recovery.since);
		out(", \"source\": \"");
		out(mfactl_recovery_source(rec->recovery.source));
		out("\"}");
	} else {
		out(", \"recovery\": null");
	}
	if (store_bypass_outstanding(rec, now)) {
		out(", \"bypass\": {\"uses_left\": ");
		out_i64(rec->bypass.uses_left);
		out(", \"expires\": ");
		json_time(rec->bypass.expires);
		out(", \"made\": ");
		json_time(rec->bypass.made);
		out("}");
	} else {
		out(", \"bypass\": null");
	}
}

static void print_json_row(const struct row *r, time_t now, bool first)
{
	out(first ? "\n    {\"user\": " : ",\n    {\"user\": ");
	json_string(r->user);
	out(r->in_passwd ? ", \"in_passwd\": true" : ", \"in_passwd\": false");
	print_json_policy(r);
	if (r->error) {
		out(", \"error\": ");
		json_string(r->error_msg);
		out("}");
		return;
	}
	print_json_factors(r->rec);
	print_json_backup(r->rec, now);
	print_json_activity(r->rec, now);
}

/* The METHODS column: the methods of the verified factors, or with a
 * "?" those only waiting to be proved ("totp,email?"), or "none". */
static void table_methods(const struct store_summary *rec, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (unsigned m = 1; m <= METHOD_ALL && m != 0; m <<= 1) {
		bool held = store_summary_count(rec, m) > 0;

		if (held || store_summary_unverified(rec, m) != NULL)
			o += (size_t)snprintf(buf + o, len - o, "%s%s%s", o ? "," : "",
					      method_name(m), held ? "" : "?");
		if (o >= len)
			break;
	}
	if (buf[0] == '\0')
		(void)snprintf(buf, len, "none");
}

/* When the first of the verified factors was enrolled; 0: none. */
static int64_t first_enrolled(const struct store_summary *rec)
{
	int64_t since = 0;

	for (unsigned i = 0; i < rec->n_factors; i++) {
		const struct store_factor *f = &rec->factors[i];

		if (f->verified && f->added > 0 && (since == 0 || f->added < since))
			since = f->added;
	}
	return since;
}

/* A factor in a method's line: an app by its label, an address or a
 * number masked (the table may be shown or pasted anywhere; --json has
 * them whole) with its label, and its last use where known. */
static void table_factor(const struct store_factor *f)
{
	char shown[FACTOR_DEST_MAX + 1], when[32];

	if (f->method == METHOD_TOTP) {
		sanitize_printable(f->label[0] != '\0' ? f->label : "unlabelled", shown,
				   sizeof(shown));
		out(shown);
	} else {
		notify_mask(f->method, f->dest, shown, sizeof(shown));
		out(shown);
		if (f->label[0] != '\0') {
			sanitize_printable(f->label, shown, sizeof(shown));
			out(" \"");
			out(shown);
			out("\"");
		}
	}
	if (f->last_used > 0) {
		mfactl_format_time(f->last_used, when, sizeof(when));
		out(", last used ");
		out(when);
	}
}

/* One line for the factors of a method, as an admin console shows them:
 *   authenticator app: 2 configured (phone, last used ...; tablet)
 *   phone: verified +1******0100
 *   email: 2 verified (a***@example.org; b***@example.org)
 *   email: not verified a***@example.org
 * and nothing if the user has none. */
static void table_method_line(const struct store_summary *rec, unsigned method)
{
	unsigned held = store_summary_count(rec, method), k = 0;
	const char *sep = "";
	char n[16];

	/* An app is saved only once proved: none waits unverified. */
	if (held == 0 && (method == METHOD_TOTP || store_summary_unverified(rec, method) == NULL))
		return;
	out(method == METHOD_TOTP ? "  authenticator app: " :
	    method == METHOD_SMS  ? "  phone: " :
				    "  email: ");
	(void)snprintf(n, sizeof(n), "%u ", held);
	if (method == METHOD_TOTP || held > 1) {
		out(n);
		out(method == METHOD_TOTP ? "configured (" : "verified (");
	} else if (held == 1) {
		out("verified ");
	}
	for (const struct store_factor *f; (f = store_summary_nth(rec, method, k)) != NULL; k++) {
		out(sep);
		table_factor(f);
		sep = "; ";
	}
	if (method == METHOD_TOTP || held > 1)
		out(")");
	sep = held > 0 ? "; " : "";
	for (unsigned i = 0; i < rec->n_factors; i++) {
		const struct store_factor *f = &rec->factors[i];

		if (f->method != method || f->verified)
			continue;
		out(sep);
		out("not verified ");
		table_factor(f);
		sep = "; ";
	}
	out("\n");
}

/* The lines of the ways back in, under the methods':
 *   recovery codes: 8 of 10 left (made by an administrator 2030-01-01 00:00:10Z)
 *   bypass code: 1 use left, until 2030-01-01 01:00:10Z
 * and nothing for a user who holds neither. */
static void table_backup_lines(const struct store_summary *rec, time_t now)
{
	char n[48], when[32];
	enum store_recovery_source src = rec->recovery.source;

	if (rec->recovery.made > 0) {
		(void)snprintf(n, sizeof(n), "%u of %u left (", rec->recovery.left,
			       rec->recovery.made);
		out("  recovery codes: ");
		out(n);
		out(src == RECOVERY_USER     ? "made by the user" :
		    src == RECOVERY_ADMIN    ? "made by an administrator" :
		    src == RECOVERY_IMPORTED ? "imported" :
					       "made");
		if (rec->recovery.since > 0) {
			mfactl_format_time(rec->recovery.since, when, sizeof(when));
			out(" ");
			out(when);
		}
		out(")\n");
	}
	if (store_bypass_outstanding(rec, now)) {
		(void)snprintf(n, sizeof(n), "%u use%s left", rec->bypass.uses_left,
			       rec->bypass.uses_left == 1 ? "" : "s");
		mfactl_format_time(rec->bypass.expires, when, sizeof(when));
		out("  bypass code: ");
		out(n);
		out(", until ");
		out(when);
		out("\n");
	}
}

static void print_table_row(const struct row *r, time_t now, int width)
{
	const struct store_summary *rec = r->rec;
	char enrolled[32], login[32], locked[32], where[176], methods[64];
	const char *policy = r->have_policy ? policy_name(r->policy.policy) : "?";

	if (r->error) {
		printf("%-*s  %-8s  ERROR  %s\n", width, r->user, policy, r->error_msg);
		return;
	}
	mfactl_format_time(first_enrolled(rec), enrolled, sizeof(enrolled));
	table_methods(rec, methods, sizeof(methods));
	mfactl_format_time(rec->last_login, login, sizeof(login));
	if (rec->locked_until < 0)
		(void)snprintf(locked, sizeof(locked), "until unlocked");
	else if (lockout_until_active(rec->locked_until, now))
		mfactl_format_time(rec->locked_until, locked, sizeof(locked));
	else
		(void)snprintf(locked, sizeof(locked), "-");
	if (rec->last_login > 0 && rec->last_host[0] != '\0')
		(void)snprintf(where, sizeof(where), "%.30s from %.40s on %.80s", rec->last_service,
			       rec->last_rhost[0] ? rec->last_rhost : "local", rec->last_host);
	else if (rec->last_login > 0)
		(void)snprintf(where, sizeof(where), "%.30s from %.40s", rec->last_service,
			       rec->last_rhost[0] ? rec->last_rhost : "local");
	else
		(void)snprintf(where, sizeof(where), "-");
	printf("%-*s  %-8s  %-14s  %-20s  %-4s  %-20s  %-8u  %-20s  %s\n", width, r->user, policy,
	       methods, enrolled, rec->skip_since > 0 ? "yes" : "-", login, rec->fail_count, locked,
	       where);
	table_method_line(rec, METHOD_TOTP);
	table_method_line(rec, METHOD_SMS);
	table_method_line(rec, METHOD_EMAIL);
	table_backup_lines(rec, now);
}

/* The records are read by worker threads, a chunk of users at a time, and
 * printed in order by the main thread, which decides the policies.  At
 * 100,000 users a listing is bound by the system calls that open and read
 * each record, and those run in parallel. */
#define LOAD_CHUNK 256
#define LOAD_WINDOW 8 /* chunks read ahead of the one printed */
#define LOAD_THREADS_MAX 8

struct loaded {
	int r; /* store_summary()'s result; 1: a repeated name, skipped */
	struct mfa_error err;
	struct store_summary rec;
};

struct loader {
	struct store *st; /* NULL: no state directory, nobody enrolled */
	const struct account *names;
	size_t len, nchunks;
	struct loaded *buf; /* LOAD_WINDOW chunks of LOAD_CHUNK */
	bool ready[LOAD_WINDOW];
	size_t next;	/* the next chunk to read */
	size_t printed; /* chunks printed, their buffers free again */
	bool stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t threads[LOAD_THREADS_MAX]; /* the workers, for loader_finish() */
	unsigned nthreads;
	bool one_thread; /* the store's summaries must be read one at a time */
};

static struct loaded *chunk_buf(struct loader *l, size_t c)
{
	return l->buf + (c % LOAD_WINDOW) * LOAD_CHUNK;
}

static void load_chunk(struct loader *l, size_t c)
{
	struct loaded *b = chunk_buf(l, c);
	size_t first = c * LOAD_CHUNK;

	for (size_t i = first; i < l->len && i < first + LOAD_CHUNK; i++) {
		struct loaded *e = &b[i - first];
		const char *user = l->names[i].name;

		if (i > 0 && strcmp(user, l->names[i - 1].name) == 0) {
			e->r = 1;
			continue;
		}
		e->err.msg[0] = '\0';
		if (l->st != NULL) {
			e->r = store_summary(l->st, user, &e->rec, &e->err);
		} else {
			memset(&e->rec, 0, sizeof(e->rec));
			e->r = 0;
		}
	}
}

/* Takes the next chunk and reads it.  Called, and returns, with mu held;
 * drops it while reading. */
static void take_and_load(struct loader *l)
{
	size_t c = l->next++;

	pthread_mutex_unlock(&l->mu);
	load_chunk(l, c);
	pthread_mutex_lock(&l->mu);
	l->ready[c % LOAD_WINDOW] = true;
	pthread_cond_broadcast(&l->cv);
}

static void *load_worker(void *arg)
{
	struct loader *l = arg;

	pthread_mutex_lock(&l->mu);
	for (;;) {
		while (!l->stop && l->next < l->nchunks && l->next >= l->printed + LOAD_WINDOW)
			pthread_cond_wait(&l->cv, &l->mu);
		if (l->stop || l->next >= l->nchunks)
			break;
		take_and_load(l);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* Waits for chunk c, reading it here if no worker has taken it (there may
 * be no workers at all). */
static void chunk_wait(struct loader *l, size_t c)
{
	pthread_mutex_lock(&l->mu);
	while (!l->ready[c % LOAD_WINDOW]) {
		if (l->next == c)
			take_and_load(l);
		else
			pthread_cond_wait(&l->cv, &l->mu);
	}
	pthread_mutex_unlock(&l->mu);
}

static void chunk_done(struct loader *l, size_t c)
{
	pthread_mutex_lock(&l->mu);
	l->ready[c % LOAD_WINDOW] = false;
	l->printed = c + 1;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

static void loader_stop(struct loader *l)
{
	pthread_mutex_lock(&l->mu);
	l->stop = true;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

/* At most one worker per online CPU, and none for a short listing. */
static unsigned loader_threads(size_t nchunks)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (nchunks < 2 || cpus < 1)
		return 0;
	return cpus > LOAD_THREADS_MAX ? LOAD_THREADS_MAX : (unsigned)cpus;
}

/* Sets the loader over the names and starts its workers, if any. */
static int loader_start(struct loader *l, struct store *st, const struct name_list *names)
{
	l->st = st;
	l->names = names->names;
	l->len = names->len;
	l->nchunks = (names->len + LOAD_CHUNK - 1) / LOAD_CHUNK;
	l->buf = calloc(LOAD_WINDOW * LOAD_CHUNK, sizeof(*l->buf));
	if (l->buf == NULL)
		return -ENOMEM;
	for (unsigned t = l->one_thread ? 0 : loader_threads(l->nchunks); l->nthreads < t;
	     l->nthreads++)
		if (pthread_create(&l->threads[l->nthreads], NULL, load_worker, l) != 0)
			break; /* fewer workers; the main thread reads what is left */
	return 0;
}

/* Stops the workers and wipes what they read: the records hold secrets. */
static void loader_finish(struct loader *l)
{
	loader_stop(l);
	for (unsigned t = 0; t < l->nthreads; t++)
		pthread_join(l->threads[t], NULL);
	if (l->buf != NULL) {
		secure_wipe(l->buf, LOAD_WINDOW * LOAD_CHUNK * sizeof(*l->buf));
		free(l->buf);
	}
}

/* One run of mfactl status: what the options asked for, the users, and
 * what their rows share. */
struct listing {
	struct mfactl *ctx;
	bool json, missing;
	char **users; /* the USER arguments; none: everybody */
	int nusers;
	struct name_list names;
	size_t sorted;		  /* the first names already in order */
	struct policy_groups *pg; /* NULL: no policy can be decided */
	char pg_error[sizeof(((struct mfa_error *)0)->msg)];
	time_t now;
	int width;
	bool failed, first_row;
};

/* Reads the options; returns false, with *status set, when the verb ends
 * here (--help, or a usage error). */
static bool status_args(int argc, char **argv, struct listing *ls, int *status)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "missing", no_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "jmh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': ls->json = true; break;
		case 'm': ls->missing = true; break;
		case 'h':
			status_usage(stdout);
			*status = EXIT_OK;
			return false;
		default:
			status_usage(stderr);
			*status = EXIT_USAGE;
			return false;
		}
	}
	ls->users = argv + optind;
	ls->nusers = argc - optind;
	return true;
}

/* The users named on the command line, in the passwd database or not;
 * -EINVAL for a name refused (and said why). */
static int names_from_args(struct listing *ls)
{
	for (int i = 0; i < ls->nusers; i++) {
		if (!mfactl_user_ok(ls->users[i], false))
			return -EINVAL;
		if (list_add(&ls->names, ls->users[i], getpwnam(ls->users[i])) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int names_from_passwd(struct name_list *names)
{
	struct passwd *pw;
	int r = 0;

	setpwent();
	while ((pw = getpwent()) != NULL)
		if (user_name_valid(pw->pw_name) && list_add(names, pw->pw_name, pw) < 0) {
			r = -ENOMEM;
			break;
		}
	endpwent();
	return r;
}

/* Adds the users with a record who are not in the passwd database, whose
 * accounts are the first ls->sorted names. */
static int names_outside_passwd(struct listing *ls, const struct name_list *stored)
{
	struct name_list *names = &ls->names;

	for (size_t i = 0; i < stored->len; i++)
		if ((ls->sorted == 0 || bsearch(stored->names[i].name, names->names, ls->sorted,
						sizeof(*names->names), cmp_name_key) == NULL) &&
		    list_add(names, stored->names[i].name, NULL) < 0)
			return -ENOMEM;
	return 0;
}

/* Every account in the passwd database and every user with a record; -EIO
 * when the store cannot be listed (and said why). */
static int names_of_everybody(struct listing *ls, struct store *st)
{
	struct store_walk walk = { .st = st, .r = 0 };
	pthread_t walker;
	bool walking = st != NULL && pthread_create(&walker, NULL, walk_store, &walk) == 0;
	int r;

	if (st != NULL && !walking)
		walk_store(&walk);
	r = names_from_passwd(&ls->names);
	/* names.names is NULL until the first add, and qsort() and
	 * bsearch() take no NULL array, not even one of no elements. */
	ls->sorted = ls->names.len;
	if (ls->sorted > 0)
		qsort(ls->names.names, ls->sorted, sizeof(*ls->names.names), cmp_names);
	if (walking)
		pthread_join(walker, NULL);
	if (r == 0)
		r = names_outside_passwd(ls, &walk.names);
	name_list_free(&walk.names);
	if (r == -ENOMEM || walk.r == -ENOMEM)
		return -ENOMEM;
	if (walk.r < 0) {
		fprintf(stderr, "mfactl: %s\n", walk.err.msg);
		return -EIO;
	}
	return 0;
}

/* In order, each account before the record of the same name, which the
 * listing skips; and the width of the table's first column. */
static void sort_names(struct listing *ls)
{
	struct name_list *names = &ls->names;

	if (names->len > ls->sorted)
		qsort(names->names, names->len, sizeof(*names->names), cmp_names);
	for (size_t i = 0; i < names->len; i++)
		if ((int)strlen(names->names[i].name) > ls->width)
			ls->width = (int)strlen(names->names[i].name);
}

/* A user's row, unless --missing leaves it out.  Wipes the record. */
static void print_user(struct listing *ls, const struct account *a, struct loaded *e)
{
	struct row row;

	memset(&row, 0, sizeof(row));
	row.user = a->name;
	row.in_passwd = a->in_passwd;
	row.rec = &e->rec;
	if (e->r < 0) {
		row.error = true;
		memcpy(row.error_msg, e->err.msg, sizeof(row.error_msg));
		ls->failed = true;
	}
	/* Group rules need the account; without it the policy is unknown. */
	if (row.in_passwd) {
		if (ls->pg != NULL && policy_for_account(&ls->ctx->cfg.policy, ls->pg, row.user,
							 a->gid, &row.policy) == 0) {
			row.have_policy = true;
		} else if (!row.error) {
			row.error = true;
			(void)snprintf(row.error_msg, sizeof(row.error_msg),
				       "cannot decide the policy: %.700s", ls->pg_error);
			ls->failed = true;
		}
	}
	/* --missing: who must or may enroll and has not. */
	if (ls->missing && !row.error &&
	    (!row.have_policy || row.policy.policy == POLICY_EXEMPT ||
	     store_summary_methods(&e->rec) != 0)) {
		store_summary_wipe(&e->rec);
		return;
	}
	if (ls->json)
		print_json_row(&row, ls->now, ls->first_row);
	else
		print_table_row(&row, ls->now, ls->width);
	ls->first_row = false;
	store_summary_wipe(&e->rec);
}

/* The header, each user's row as the loader has the records read, in
 * order, and the end. */
static void print_listing(struct listing *ls, struct loader *ld)
{
	flockfile(stdout);
	if (ls->json) {
		printf("{\"state_dir\": ");
		json_string(ls->ctx->cfg.state_dir);
		printf(", \"users\": [");
	} else
		printf("%-*s  %-8s  %-14s  %-20s  %-4s  %-20s  %-8s  %-20s  %s\n", ls->width,
		       "USER", "POLICY", "METHODS", "ENROLLED", "SKIP", "LAST MFA LOGIN",
		       "FAILURES", "LOCKED UNTIL", "LAST LOGIN VIA");
	for (size_t k = 0; k < ld->nchunks; k++) {
		struct loaded *b = chunk_buf(ld, k);
		size_t first = k * LOAD_CHUNK;

		chunk_wait(ld, k);
		for (size_t i = first; i < ls->names.len && i < first + LOAD_CHUNK; i++)
			if (b[i - first].r != 1) /* 1: a repeated name */
				print_user(ls, &ls->names.names[i], &b[i - first]);
		chunk_done(ld, k);
	}
	if (ls->json)
		out("\n]}\n");
	funlockfile(stdout);
}

int cmd_status(struct mfactl *ctx, int argc, char **argv)
{
	struct listing ls = { .ctx = ctx, .now = time(NULL), .width = 4, .first_row = true };
	struct mfa_error err = { "" };
	struct store *st = NULL;
	struct loader ld = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
	int status = EXIT_FAIL, r;

	if (!status_args(argc, argv, &ls, &status))
		return status;
	if (mfactl_load_config(ctx) < 0)
		return EXIT_FAIL;
	r = store_open(&ctx->cfg, STORE_READ_ONLY, &st, &err);
	if (r == -ENOENT) {
		fprintf(stderr, "mfactl: note: %s does not exist yet: nobody is enrolled\n",
			ctx->cfg.state_dir);
	} else if (r < 0) {
		fprintf(stderr, "mfactl: %s\n", err.msg);
		return EXIT_FAIL;
	}
	/* A database's store answers every user's summary in one call, and
	 * then from several threads; one without (an older schema) is read
	 * user by user, on one connection, from one thread.  A few users
	 * named (one chunk, no threads) are read one by one. */
	if (st != NULL && (ls.nusers == 0 || ls.nusers > LOAD_CHUNK) &&
	    (r = store_snapshot(st, &err)) < 0 && r != -EOPNOTSUPP) {
		fprintf(stderr, "mfactl: note: %s: reading each user's state in turn\n", err.msg);
		ld.one_thread = true;
	}

	r = ls.nusers > 0 ? names_from_args(&ls) : names_of_everybody(&ls, st);
	if (r == 0) {
		sort_names(&ls);
		/* The groups of the rules, once for everyone. */
		if (policy_groups_load(&ctx->cfg.policy, &ls.pg, &err) < 0) {
			fprintf(stderr, "mfactl: cannot decide policies: %s\n", err.msg);
			memcpy(ls.pg_error, err.msg, sizeof(ls.pg_error));
			ls.failed = true;
		}
		r = loader_start(&ld, st, &ls.names);
	}
	if (r == 0) {
		print_listing(&ls, &ld);
		status = ls.failed ? EXIT_FAIL : EXIT_OK;
	} else if (r == -ENOMEM) {
		fprintf(stderr, "mfactl: out of memory\n");
	}
	loader_finish(&ld);
	name_list_free(&ls.names);
	policy_groups_free(ls.pg);
	store_close(st);
	return status;
}
