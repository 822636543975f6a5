/* The postgresql backend of the store: each operation of store.h is one
 * call of a SECURITY DEFINER function of pam_mfa's schema (sql/), made with
 * parameters only, bounded by store.timeout, its rows read strictly (a
 * summary is a row per factor).  The database checks the codes and keeps
 * the bound on factors; no secret ever comes back from it. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pg.h"
#include "recovery.h"
#include "secmem.h"

/* The password file's largest size, as email's. */
#define PG_PASSWORD_MAX 4096

static struct pg_store *pg(struct store *st)
{
	return (struct pg_store *)st;
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A message of libpq or the server as one log line of printable ASCII,
 * capped, after "postgresql: WHAT: ". */
static void set_clean_error(struct mfa_error *err, const char *what, const char *msg)
{
	char clean[600];
	size_t n = 0;

	for (const char *p = msg ? msg : ""; *p != '\0' && n < sizeof(clean) - 1; p++)
		clean[n++] = (*p >= ' ' && *p <= '~') ? *p : ' ';
	while (n > 0 && clean[n - 1] == ' ')
		n--;
	clean[n] = '\0';
	mfa_error_set(err, "postgresql: %s: %s", what, n > 0 ? clean : "no message");
}

/* A message of libpq about a connection being made.  Only for connecting:
 * nothing of a login has been sent on the connection yet, so the text
 * holds none of its arguments (the server's words about the role, the
 * database, TLS; with several hosts, each one's). */
static void set_connect_error(struct mfa_error *err, const char *msg)
{
	set_clean_error(err, "cannot connect", msg);
}

/* What a failed call's SQLSTATE says, in our words.  The server's own
 * text is never logged: it may quote an argument, and the arguments are
 * what users typed (a code, perhaps a mistyped password). */
static const char *sqlstate_words(const char *state)
{
	static const struct {
		const char *prefix;
		const char *words;
	} known[] = {
		{ "22023", "an argument was refused" },
		{ "22021", "an argument is not valid text in the database's encoding" },
		{ "57014", "stopped by the statement timeout (store.timeout)" },
		{ "55P03", "a lock was not granted in time (a decision under way did not end)" },
		{ "42501", "permission denied (is the login role granted pam_mfa_host or "
			   "pam_mfa_admin?)" },
		{ "42883", "no such function (is the schema of sql/ applied and current?)" },
		{ "3F000", "no schema pam_mfa (is the schema of sql/ applied?)" },
		{ "40", "the transaction was rolled back (deadlock or serialization)" },
		{ "08", "the connection failed" },
		{ "57P", "the server is shutting down or restarting" },
		{ "53", "the server is out of resources" },
		{ "P0", "a check of the schema's functions failed" },
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strncmp(state, known[i].prefix, strlen(known[i].prefix)) == 0)
			return known[i].words;
	return "the database refused the call";
}

static bool sqlstate_valid(const char *state)
{
	if (state == NULL || strlen(state) != 5)
		return false;
	for (const char *c = state; *c != '\0'; c++)
		if (!((*c >= '0' && *c <= '9') || (*c >= 'A' && *c <= 'Z')))
			return false;
	return true;
}

/* A failed call of fn: its SQLSTATE and our words for it, nothing of the
 * server's text. */
static void set_call_error(struct mfa_error *err, const char *fn, const char *state)
{
	if (sqlstate_valid(state))
		mfa_error_set(err, "postgresql: %s: %s (SQLSTATE %s)", fn, sqlstate_words(state),
			      state);
	else
		mfa_error_set(err, "postgresql: %s: the call failed (no SQLSTATE)", fn);
}

/* A server's NOTICE or WARNING: libpq would print it to stderr, which is
 * sshd's log or the user's terminal.  The functions raise none today; a
 * future one's text might quote an argument. */
static void ignore_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static void drop_connection(struct pg_store *p)
{
	if (p->conn != NULL)
		p->pq.finish(p->conn);
	p->conn = NULL;
}

/* Waits until the connection's socket is ready for events or deadline.
 * The socket is fetched afresh: while connecting, libpq moves from one
 * host to the next on a new one.  0 ready, -ETIMEDOUT, -EIO. */
static int wait_socket(struct pg_store *p, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = p->pq.socket(p->conn), .events = events };

	if (pfd.fd < 0)
		return -EIO;
	for (;;) {
		int64_t left = deadline - monotonic_ms();
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r > 0)
			return 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -EIO;
	}
}

/* The value conninfo gives keyword, NULL if none or empty. */
static const char *conninfo_value(const PQconninfoOption *given, const char *keyword)
{
	for (const PQconninfoOption *o = given; o != NULL && o->keyword != NULL; o++)
		if (strcmp(o->keyword, keyword) == 0)
			return o->val != NULL && o->val[0] != '\0' ? o->val : NULL;
	return NULL;
}

/* Whether conninfo sets keyword (to anything but nothing). */
static bool conninfo_sets(const PQconninfoOption *given, const char *keyword)
{
	return conninfo_value(given, keyword) != NULL;
}

/* libpq takes every setting that store.conninfo leaves out from PG*
 * variables of the environment, and su and sudo authenticate with the
 * invoking user's: PGHOSTADDR or PGSSLMODE from a local user would point
 * the module at a server that answers "ok" to every code.  So a variable
 * libpq would read for a keyword that conninfo does not set refuses the
 * connection (the admin sets the keyword in conninfo, which then wins). */
static int pg_environment_safe(struct pg_store *p, const PQconninfoOption *given,
			       struct mfa_error *err)
{
	const char *bad = NULL;

	/* given lists every keyword libpq knows, with its variable: unlike
	 * PQconndefaults(), no look-up of the user's passwd entry. */
	for (const PQconninfoOption *o = given; o->keyword != NULL && bad == NULL; o++) {
		/* Set by pam_mfa itself after the conninfo. */
		if (strcmp(o->keyword, "options") == 0 ||
		    strcmp(o->keyword, "fallback_application_name") == 0 ||
		    (p->password != NULL && strcmp(o->keyword, "password") == 0))
			continue;
		if (o->envvar != NULL && getenv(o->envvar) != NULL &&
		    !conninfo_sets(given, o->keyword))
			bad = o->envvar;
	}
	/* Where a service's settings come from. */
	if (bad == NULL && conninfo_sets(given, "service"))
		bad = getenv("PGSERVICEFILE") != NULL ? "PGSERVICEFILE" :
		      getenv("PGSYSCONFDIR") != NULL  ? "PGSYSCONFDIR" :
							NULL;
	if (bad != NULL) {
		mfa_error_set(err,
			      "postgresql: the environment sets %s, which libpq would use for a "
			      "setting store.conninfo leaves out: refusing to connect (set it "
			      "in store.conninfo)",
			      bad);
		return -EPERM;
	}
	return 0;
}

/* store.conninfo, parsed by libpq itself (so that a URI's user:password@
 * is seen as the keyword it is); NULL with err set if it cannot be. */
static PQconninfoOption *conninfo_parse(struct pg_store *p, struct mfa_error *err)
{
	PQconninfoOption *given = p->pq.conninfo_parse(p->conninfo, NULL);

	/* libpq's message would quote the text, which may hold a secret. */
	if (given == NULL)
		mfa_error_set(err, "postgresql: store.conninfo is not a valid libpq connection "
				   "string");
	return given;
}

/* --- Host names looked up within store.timeout ---
 *
 * libpq looks host names up itself, with a blocking getaddrinfo() inside
 * PQconnectStart() and PQconnectPoll(): a DNS server that does not answer
 * would hold a login for the resolver's own timeouts, far past
 * store.timeout.  So the names in store.conninfo's host are looked up
 * here, all at once, with getaddrinfo_a() and a wait bounded by the
 * deadline, and handed to libpq as hostaddr beside host: libpq then looks
 * nothing up, and still uses host for verify-full's check of the
 * certificate, for Kerberos and for the password file.  A name with
 * several addresses becomes as many entries of that host, in the
 * resolver's order, as libpq would have tried them; an entry with a
 * hostaddr, an address or a socket directory is passed on as it is. */

/* The most entries of host one connection tries, addresses included. */
#define PG_TARGETS_MAX 32
/* The most addresses taken from one name. */
#define PG_ADDRS_PER_NAME 8
/* A numeric address with an IPv6 zone: INET6_ADDRSTRLEN, %, IF_NAMESIZE. */
#define PG_ADDR_TEXT_MAX 64

/* A lookup and all it points to, for as long as the resolver's thread may
 * write to it: one that cannot be cancelled in time is left to that
 * thread, never freed (a few hundred bytes, once per timed-out connect). */
struct pg_lookup {
	struct gaicb cb;
	struct addrinfo hints;
	char name[];
};

struct pg_targets {
	char *copy[3]; /* host, hostaddr and port, cut at their commas */
	const char *host[PG_TARGETS_MAX];
	const char *hostaddr[PG_TARGETS_MAX];
	const char *port[PG_TARGETS_MAX];
	struct pg_lookup *lookup[PG_TARGETS_MAX]; /* NULL: nothing to look up */
	size_t n;
	/* What libpq is given: the entries with the addresses found. */
	const char *out_host[PG_TARGETS_MAX];
	const char *out_port[PG_TARGETS_MAX];
	char out_addr[PG_TARGETS_MAX][PG_ADDR_TEXT_MAX];
	size_t out_n;
	char *list[3]; /* host, hostaddr and port lists; NULL: conninfo as it is */
};

/* Cuts copy, a comma-separated list as libpq reads one, into items; their
 * count, or -1 if there are more than max. */
static int split_list(char *copy, const char **items, size_t max)
{
	size_t n = 0;

	for (char *s = copy;; s++) {
		if (n == max)
			return -1;
		items[n++] = s;
		s = strchr(s, ',');
		if (s == NULL)
			return (int)n;
		*s = '\0';
	}
}

/* Whether libpq would look host up over the network: a name, not an
 * address or a socket directory, with no hostaddr beside it. */
static bool needs_lookup(const char *host, const char *hostaddr)
{
	unsigned char addr[sizeof(struct in6_addr)];

	if (host[0] == '\0' || hostaddr[0] != '\0' || host[0] == '/' || host[0] == '@')
		return false;
	return inet_pton(AF_INET, host, addr) != 1 && inet_pton(AF_INET6, host, addr) != 1;
}

static void targets_free(struct pg_targets *t)
{
	for (size_t i = 0; i < 3; i++) {
		free(t->copy[i]);
		free(t->list[i]);
	}
	for (size_t i = 0; i < t->n; i++) {
		if (t->lookup[i] == NULL)
			continue;
		if (t->lookup[i]->cb.ar_result != NULL)
			freeaddrinfo(t->lookup[i]->cb.ar_result);
		free(t->lookup[i]);
	}
}

/* items joined by commas, in a new string; NULL if out of memory. */
static char *join_list(const char *const *items, size_t n)
{
	size_t len = 1;
	char *s, *at;

	for (size_t i = 0; i < n; i++)
		len += strlen(items[i]) + 1;
	s = at = malloc(len);
	if (s == NULL)
		return NULL;
	*s = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(items[i]);

		memcpy(at, items[i], l);
		at += l;
		*at++ = i + 1 < n ? ',' : '\0';
	}
	return s;
}

/* One entry for libpq: host at addr ("" for none), on port. */
static void target_add(struct pg_targets *t, const char *host, const char *addr, const char *port)
{
	if (t->out_n == PG_TARGETS_MAX)
		return;
	t->out_host[t->out_n] = host;
	t->out_port[t->out_n] = port;
	(void)snprintf(t->out_addr[t->out_n], PG_ADDR_TEXT_MAX, "%s", addr);
	t->out_n++;
}

/* The addresses lookup i found, at most PG_ADDRS_PER_NAME, each once. */
static void target_add_found(struct pg_targets *t, size_t i)
{
	size_t first = t->out_n;

	for (const struct addrinfo *ai = t->lookup[i]->cb.ar_result; ai != NULL; ai = ai->ai_next) {
		char text[PG_ADDR_TEXT_MAX];
		bool seen = false;

		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    getnameinfo(ai->ai_addr, ai->ai_addrlen, text, sizeof(text), NULL, 0,
				NI_NUMERICHOST) != 0)
			continue;
		for (size_t k = first; k < t->out_n && !seen; k++)
			seen = strcmp(t->out_addr[k], text) == 0;
		if (!seen && t->out_n - first < PG_ADDRS_PER_NAME)
			target_add(t, t->host[i], text, t->port[i]);
	}
}

/* Splits host, hostaddr and port of given into t's entries; 0, or 1 if
 * there is nothing to look up: no host (a socket directory), or lists
 * that libpq refuses itself, with its own message, before any lookup. */
static int targets_split(const PQconninfoOption *given, struct pg_targets *t, struct mfa_error *err)
{
	const char *v[3] = { conninfo_value(given, "host"), conninfo_value(given, "hostaddr"),
			     conninfo_value(given, "port") };
	const char **items[3] = { t->host, t->hostaddr, t->port };
	int n[3] = { 0, 0, 0 };

	if (v[0] == NULL)
		return 1;
	for (size_t k = 0; k < 3; k++) {
		if (v[k] == NULL)
			continue;
		t->copy[k] = strdup(v[k]);
		if (t->copy[k] == NULL) {
			mfa_error_set(err, "out of memory");
			return -ENOMEM;
		}
		n[k] = split_list(t->copy[k], items[k], PG_TARGETS_MAX);
	}
	if (n[0] < 0) {
		mfa_error_set(err, "postgresql: store.conninfo names more than %d hosts",
			      PG_TARGETS_MAX);
		return -EINVAL;
	}
	if ((v[1] != NULL && n[1] != n[0]) || (v[2] != NULL && n[2] != 1 && n[2] != n[0]))
		return 1;
	t->n = (size_t)n[0];
	for (size_t i = 0; i < t->n; i++) {
		if (v[1] == NULL)
			t->hostaddr[i] = "";
		t->port[i] = v[2] == NULL ? "" : t->port[n[2] == 1 ? 0 : i];
	}
	return 0;
}

/* Looks up the names of store.conninfo's host within deadline and makes
 * t->list, libpq's host, hostaddr and port (NULL: nothing to look up, the
 * conninfo goes as it is).  An entry whose name has no address, or none
 * in time, is left out, as libpq would go on to the next; none left is
 * -ETIMEDOUT or -EHOSTUNREACH, with err set. */
static int resolve_hosts(const PQconninfoOption *given, int64_t deadline, struct pg_targets *t,
			 struct mfa_error *err)
{
	struct gaicb *list[PG_TARGETS_MAX];
	const char *addrs[PG_TARGETS_MAX];
	const char *late = NULL, *unknown = NULL;
	int unknown_why = EAI_NONAME;
	size_t n = 0;
	int r;

	memset(t, 0, sizeof(*t));
	r = targets_split(given, t, err);
	if (r != 0)
		return r < 0 ? r : 0;
	for (size_t i = 0; i < t->n; i++) {
		struct pg_lookup *l;

		if (!needs_lookup(t->host[i], t->hostaddr[i]))
			continue;
		l = calloc(1, sizeof(*l) + strlen(t->host[i]) + 1);
		if (l == NULL) {
			mfa_error_set(err, "out of memory");
			return -ENOMEM;
		}
		memcpy(l->name, t->host[i], strlen(t->host[i]) + 1);
		l->hints.ai_family = AF_UNSPEC; /* as libpq asks */
		l->hints.ai_socktype = SOCK_STREAM;
		l->cb.ar_name = l->name;
		l->cb.ar_request = &l->hints;
		t->lookup[i] = l;
		list[n++] = &l->cb;
	}
	if (n == 0) {
		/* Nothing to look up: libpq gets the conninfo as it is, and
		 * the entries are there for pg_connect's host-by-host tries. */
		for (size_t i = 0; i < t->n; i++)
			target_add(t, t->host[i], t->hostaddr[i], t->port[i]);
		return 0;
	}
	/* A request it could not queue says so through gai_error(), as a
	 * finished one does. */
	(void)getaddrinfo_a(GAI_NOWAIT, list, (int)n, NULL);
	for (;;) {
		const struct gaicb *busy[PG_TARGETS_MAX];
		size_t waiting = 0;
		int64_t left = deadline - monotonic_ms();
		struct timespec ts;

		for (size_t k = 0; k < n; k++) {
			busy[k] = gai_error(list[k]) == EAI_INPROGRESS ? list[k] : NULL;
			waiting += busy[k] != NULL;
		}
		if (waiting == 0 || left <= 0)
			break;
		ts.tv_sec = (time_t)(left / 1000);
		ts.tv_nsec = (long)(left % 1000) * 1000000;
		(void)gai_suspend(busy, (int)n, &ts);
	}
	for (size_t i = 0; i < t->n; i++) {
		struct pg_lookup *l = t->lookup[i];
		int e;

		if (l == NULL) {
			target_add(t, t->host[i], t->hostaddr[i], t->port[i]);
			continue;
		}
		if (gai_error(&l->cb) == EAI_INPROGRESS && gai_cancel(&l->cb) == EAI_NOTCANCELED) {
			t->lookup[i] = NULL; /* the resolver's now: see struct pg_lookup */
			late = late != NULL ? late : t->host[i];
			continue;
		}
		e = gai_error(&l->cb);
		if (e == 0 && l->cb.ar_result != NULL) {
			target_add_found(t, i);
		} else if (e == EAI_INPROGRESS || e == EAI_CANCELED) {
			late = late != NULL ? late : t->host[i];
		} else if (unknown == NULL) {
			unknown = t->host[i];
			unknown_why = e != 0 ? e : EAI_NONAME;
		}
	}
	if (t->out_n == 0) {
		if (late != NULL) {
			mfa_error_set(err, "postgresql: no address for %s within store.timeout",
				      late);
			return -ETIMEDOUT;
		}
		/* unknown is NULL if the names gave only addresses that cannot
		 * be written as numbers (none of libpq's families). */
		mfa_error_set(err, "postgresql: cannot look up %s: %s",
			      unknown != NULL ? unknown : t->host[0], gai_strerror(unknown_why));
		return -EHOSTUNREACH;
	}
	for (size_t k = 0; k < t->out_n; k++)
		addrs[k] = t->out_addr[k];
	t->list[0] = join_list(t->out_host, t->out_n);
	t->list[1] = join_list(addrs, t->out_n);
	if (t->port[0][0] != '\0')
		t->list[2] = join_list(t->out_port, t->out_n);
	if (t->list[0] == NULL || t->list[1] == NULL ||
	    (t->port[0][0] != '\0' && t->list[2] == NULL)) {
		mfa_error_set(err, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

/* One connection with keys and values within deadline, as libpq's
 * documentation of PQconnectStart() says: wait for the socket to be
 * writable first, then as each PQconnectPoll() answer asks, on the socket
 * of the moment (a new one each time libpq moves on to the next host).
 * 0 (p->conn made), -ETIMEDOUT, -EIO or -ENOMEM, with err set. */
static int connect_one(struct pg_store *p, const char *const *keys, const char *const *values,
		       int64_t deadline, struct mfa_error *err)
{
	PostgresPollingStatusType ps;
	int r;

	p->conn = p->pq.connect_start_params(keys, values, 1);
	if (p->conn == NULL) {
		mfa_error_set(err, "postgresql: out of memory");
		return -ENOMEM;
	}
	if (p->pq.status(p->conn) == CONNECTION_BAD) {
		set_connect_error(err, p->pq.error_message(p->conn));
		r = -EIO;
		goto fail;
	}
	(void)p->pq.set_notice_processor(p->conn, ignore_notice, NULL);
	/* "If you have yet to call PQconnectPoll, i.e., just after the call
	 * to PQconnectStart, behave as if it last returned
	 * PGRES_POLLING_WRITING."  Polled before, libpq takes a connect still
	 * under way for made, and a failure that comes a moment later (an
	 * unreachable host, a refusal from afar) ends the whole connection at
	 * the startup packet instead of moving on to the next host. */
	ps = PGRES_POLLING_WRITING;
	for (;;) {
		r = wait_socket(p, ps == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
		if (r == -ETIMEDOUT) {
			mfa_error_set(err, "postgresql: no connection within store.timeout");
			goto fail;
		}
		if (r < 0) {
			set_connect_error(err, p->pq.error_message(p->conn));
			goto fail;
		}
		ps = p->pq.connect_poll(p->conn);
		if (ps == PGRES_POLLING_OK)
			break;
		if (ps == PGRES_POLLING_FAILED) {
			set_connect_error(err, p->pq.error_message(p->conn));
			r = -EIO;
			goto fail;
		}
	}
	if (p->pq.set_nonblocking(p->conn, 1) != 0) {
		set_connect_error(err, p->pq.error_message(p->conn));
		r = -EIO;
		goto fail;
	}
	return 0;
fail:
	drop_connection(p);
	return r;
}

/* The conninfo's connect_timeout in milliseconds, as libpq reads it (2 s
 * at least); 0: none. */
static int64_t connect_timeout_ms(const PQconninfoOption *given)
{
	for (const PQconninfoOption *o = given; o->keyword != NULL; o++) {
		char *end;
		long v;

		if (strcmp(o->keyword, "connect_timeout") != 0 || o->val == NULL)
			continue;
		errno = 0;
		v = strtol(o->val, &end, 10);
		if (errno != 0 || end == o->val || *end != '\0' || v <= 0)
			return 0;
		return (int64_t)(v < 2 ? 2 : v > 3600 ? 3600 : v) * 1000;
	}
	return 0;
}

/* Connects within deadline.  libpq's connect_timeout applies only to its
 * blocking connect, so where the conninfo sets one and names several
 * hosts, they are tried here one at a time, each for connect_timeout at
 * most, in libpq's order and with the conninfo's other settings
 * (target_session_attrs among them): a first host that drops every
 * packet then costs connect_timeout, not the whole of store.timeout.
 * Otherwise libpq goes through the hosts itself, within deadline. */
static int pg_connect(struct pg_store *p, int64_t deadline, struct mfa_error *err)
{
	char options[64];
	const char *keys[8], *values[8];
	size_t k = 0, common;
	PQconninfoOption *given;
	struct pg_targets *t;
	int64_t per_host;
	int r;

	(void)snprintf(options, sizeof(options), "-c statement_timeout=%u", p->timeout * 1000u);
	given = conninfo_parse(p, err);
	if (given == NULL)
		return -EINVAL;
	t = malloc(sizeof(*t));
	if (t == NULL) {
		p->pq.conninfo_free(given);
		mfa_error_set(err, "out of memory");
		return -ENOMEM;
	}
	per_host = connect_timeout_ms(given);
	r = pg_environment_safe(p, given, err);
	if (r == 0)
		r = resolve_hosts(given, deadline, t, err);
	else
		memset(t, 0, sizeof(*t));
	p->pq.conninfo_free(given);
	if (r < 0)
		goto out;
	keys[k] = "fallback_application_name";
	values[k++] = "pam_mfa";
	keys[k] = "dbname";
	values[k++] = p->conninfo;
	/* After the conninfo, so that they are ours: the password from the
	 * file, the server's bound on each statement, and the addresses
	 * found. */
	keys[k] = "options";
	values[k++] = options;
	if (p->password != NULL) {
		keys[k] = "password";
		values[k++] = p->password;
	}
	common = k;
	if (per_host > 0 && t->out_n > 1) {
		r = -ETIMEDOUT;
		for (size_t i = 0; i < t->out_n; i++) {
			int64_t now = monotonic_ms(), until = now + per_host;

			if (now >= deadline)
				break;
			k = common;
			keys[k] = "host";
			values[k++] = t->out_host[i];
			keys[k] = "hostaddr"; /* "": none, as libpq reads an empty value */
			values[k++] = t->out_addr[i];
			keys[k] = "port";
			values[k++] = t->out_port[i];
			keys[k] = NULL;
			values[k] = NULL;
			r = connect_one(p, keys, values, until < deadline ? until : deadline, err);
			if (r == 0 || r == -ENOMEM)
				break;
		}
		if (r == -ETIMEDOUT)
			mfa_error_set(err, "postgresql: no connection within %s",
				      monotonic_ms() >= deadline ? "store.timeout" :
								   "connect_timeout on any host");
		goto out;
	}
	if (t->list[0] != NULL) {
		keys[k] = "host";
		values[k++] = t->list[0];
		keys[k] = "hostaddr";
		values[k++] = t->list[1];
		if (t->list[2] != NULL) {
			keys[k] = "port";
			values[k++] = t->list[2];
		}
	}
	keys[k] = NULL;
	values[k] = NULL;
	r = connect_one(p, keys, values, deadline, err);
out:
	targets_free(t);
	free(t);
	return r;
}

/* The SQLSTATE of a failed call as -errno: invalid arguments are -EINVAL
 * (the database refused them and changed nothing), a statement stopped by
 * statement_timeout or a lock not granted within a function's
 * lock_timeout (reset_all) -ETIMEDOUT, anything else -EIO. */
static int sqlstate_errno(const char *state)
{
	if (state == NULL)
		return -EIO;
	if (strcmp(state, "22023") == 0)
		return -EINVAL;
	if (strcmp(state, "57014") == 0 || strcmp(state, "55P03") == 0)
		return -ETIMEDOUT;
	return -EIO;
}

int pg_exec(struct pg_store *p, const char *fn, const char *sql, int n, const char *const *params,
	    unsigned timeout, int flags, PGresult **out, struct pg_failure *why,
	    struct mfa_error *err)
{
	int64_t deadline = monotonic_ms() + (int64_t)timeout * 1000;
	PGresult *res = NULL, *next;
	ExecStatusType status;
	int r, sent;

	if (out != NULL)
		*out = NULL;
	if (why != NULL)
		*why = (struct pg_failure){ "", 0 };
	if (p->conn == NULL || p->pq.status(p->conn) != CONNECTION_OK) {
		drop_connection(p);
		r = pg_connect(p, deadline, err);
		if (r < 0)
			return r;
	}
	if (flags & PG_EXEC_SCRIPT)
		sent = p->pq.send_query(p->conn, sql);
	else
		sent = p->pq.send_query_params(p->conn, sql, n, NULL, params, NULL, NULL, 0);
	if (!sent) {
		mfa_error_set(err, "postgresql: %s: cannot send the call", fn);
		r = -EIO;
		goto fail;
	}
	while ((r = p->pq.flush(p->conn)) == 1)
		if ((r = wait_socket(p, POLLOUT | POLLIN, deadline)) < 0 ||
		    !p->pq.consume_input(p->conn))
			goto io_fail;
	if (r < 0)
		goto io_fail;
	/* A script answers each statement; after an error the server runs
	 * none of the rest, so the last result is the one that tells. */
	for (;;) {
		while (p->pq.is_busy(p->conn))
			if ((r = wait_socket(p, POLLIN, deadline)) < 0 ||
			    !p->pq.consume_input(p->conn))
				goto io_fail;
		next = p->pq.get_result(p->conn);
		if (next == NULL)
			break;
		if (res != NULL)
			p->pq.clear(res);
		res = next;
	}
	status = res != NULL ? p->pq.result_status(res) : PGRES_FATAL_ERROR;
	if (status != PGRES_TUPLES_OK && (out != NULL || status != PGRES_COMMAND_OK)) {
		const char *state = res ? p->pq.result_error_field(res, PG_DIAG_SQLSTATE) : NULL;
		const char *pos = res ? p->pq.result_error_field(res, PG_DIAG_STATEMENT_POSITION) :
					NULL;

		r = sqlstate_errno(state);
		if (why != NULL && state != NULL)
			(void)snprintf(why->sqlstate, sizeof(why->sqlstate), "%s", state);
		if (why != NULL && pos != NULL)
			why->position = atoi(pos);
		/* A migration's own text (db init) is the admin's and quotes
		 * no user's input: its error is worth reading whole.  Any
		 * other call's arguments may be what a user typed. */
		if (flags & PG_EXEC_SCRIPT)
			set_clean_error(err, fn,
					res ? p->pq.result_error_message(res) :
					      p->pq.error_message(p->conn));
		else
			set_call_error(err, fn, state);
		if (res != NULL)
			p->pq.clear(res);
		/* A refused argument leaves a healthy connection. */
		if (r == -EINVAL || (state != NULL && (flags & PG_EXEC_KEEP_ON_ERROR) &&
				     p->pq.status(p->conn) == CONNECTION_OK))
			return r;
		drop_connection(p);
		return r;
	}
	if (out != NULL)
		*out = res;
	else
		p->pq.clear(res);
	return 0;
io_fail:
	if (r == -ETIMEDOUT)
		mfa_error_set(err, "postgresql: no answer within %s (%s)",
			      timeout == p->timeout ? "store.timeout" : "the time allowed", fn);
	else
		mfa_error_set(err, "postgresql: the connection failed during the call (%s)", fn);
	r = r == -ETIMEDOUT ? -ETIMEDOUT : -EIO;
fail:
	if (res != NULL)
		p->pq.clear(res);
	drop_connection(p);
	return r;
}

/* One call of the login path, of function fn: connect and call together
 * within store.timeout, its result of rows in *out.  No message of the
 * server or of libpq about the call is kept: they may quote its
 * arguments. */
static int pg_call(struct pg_store *p, const char *fn, const char *sql, int n,
		   const char *const *params, PGresult **out, struct mfa_error *err)
{
	return pg_exec(p, fn, sql, n, params, p->timeout, 0, out, NULL, err);
}

/* --- Reading a result strictly: anything unexpected is a store error --- */

struct row {
	struct pg_store *p;
	PGresult *res;
	const char *fn; /* for messages */
	struct mfa_error *err;
	bool bad;
	int tuple, col0; /* the row of res read, and where its columns start */
};

static void row_bad(struct row *w, int col, const char *why)
{
	if (!w->bad)
		mfa_error_set(w->err, "postgresql: %s: column %d: %s", w->fn, col + 1, why);
	w->bad = true;
}

/* The one row of res, with ncols columns. */
static int row_start(struct row *w, struct pg_store *p, PGresult *res, const char *fn, int ncols,
		     struct mfa_error *err)
{
	*w = (struct row){ p, res, fn, err, false, 0, 0 };
	if (p->pq.ntuples(res) != 1 || p->pq.nfields(res) != ncols) {
		mfa_error_set(err, "postgresql: %s: expected one row of %d columns, got %d of %d",
			      fn, ncols, p->pq.ntuples(res), p->pq.nfields(res));
		return -EIO;
	}
	return 0;
}

/* The text of column col; NULL if it is NULL (and null_ok), else bad. */
static const char *row_text(struct row *w, int col, bool null_ok)
{
	if (w->p->pq.get_is_null(w->res, w->tuple, w->col0 + col)) {
		if (!null_ok)
			row_bad(w, col, "NULL");
		return NULL;
	}
	return w->p->pq.get_value(w->res, w->tuple, w->col0 + col);
}

static bool row_bool(struct row *w, int col)
{
	const char *v = row_text(w, col, false);

	if (v != NULL && strcmp(v, "t") == 0)
		return true;
	if (v != NULL && strcmp(v, "f") != 0)
		row_bad(w, col, "not a boolean");
	return false;
}

static int64_t row_int(struct row *w, int col, int64_t min, int64_t max)
{
	const char *v = row_text(w, col, false);
	char *end;
	long long n;

	if (v == NULL)
		return 0;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < min || n > max) {
		row_bad(w, col, "not an integer in range");
		return 0;
	}
	return (int64_t)n;
}

/* Copies column col into out (size bytes, with its NUL), or bad. */
static void row_copy(struct row *w, int col, char *out, size_t size)
{
	const char *v = row_text(w, col, false);

	out[0] = '\0';
	if (v == NULL)
		return;
	if (strlen(v) >= size) {
		row_bad(w, col, "too long");
		return;
	}
	memcpy(out, v, strlen(v) + 1);
}

static int row_end(struct row *w)
{
	w->p->pq.clear(w->res);
	w->res = NULL;
	return w->bad ? -EIO : 0;
}

/* A single text column, copied into out (NULL allowed if null_ok: out
 * empty and *was_null). */
static int call_text(struct pg_store *p, const char *fn, const char *sql, int n,
		     const char *const *params, char *out, size_t size, struct mfa_error *err)
{
	PGresult *res;
	struct row w;
	int r = pg_call(p, fn, sql, n, params, &res, err);

	if (r < 0)
		return r;
	if ((r = row_start(&w, p, res, fn, 1, err)) < 0) {
		p->pq.clear(res);
		return r;
	}
	row_copy(&w, 0, out, size);
	return row_end(&w);
}

static const char *bool_text(bool b)
{
	return b ? "true" : "false";
}

/* --- The operations --- */

static void pg_close(struct store *st)
{
	struct pg_store *p = pg(st);

	drop_connection(p);
	if (p->snapshot != NULL)
		p->pq.clear(p->snapshot);
	if (p->password != NULL)
		secure_free_string(p->password);
	free(p->conninfo);
	free(p);
}

/* summary()'s columns, and summaries()'s after its user_name: the user's
 * state (the same on each of the user's rows), then one factor per row
 * (NULL on the one row of a user without factors). */
#define SUMMARY_COLUMNS                                                                     \
	"user_exists, fail_count, locked_until, last_login, last_service, last_rhost, "     \
	"last_host, skip_since, factors_version, code_pending, code_factor, code_expires, " \
	"factor_id, method, label, dest, verified, by_admin, added, last_used, "            \
	"totp_algorithm, totp_digits, totp_period, recovery_left, recovery_made, "          \
	"recovery_since, recovery_source, bypass_uses_left, bypass_expires, bypass_made"
#define SUMMARY_NCOLS 30
#define SUMMARY_FACTOR_COL 12
/* The user's recovery and bypass columns (sql/009), after the factor's. */
#define SUMMARY_BACKUP_COL 23

static const char *const summary_sql = "SELECT " SUMMARY_COLUMNS " FROM pam_mfa.summary($1)";

/* One factor of row w (the columns from SUMMARY_FACTOR_COL), checked as
 * the store's own: a method, a label that factor_label_valid() takes (or
 * none), a destination of the method's form, an app's parameters. */
static void factor_from_row(struct row *w, struct store_factor *f)
{
	const int c = SUMMARY_FACTOR_COL;
	const char *method, *alg;

	f->id = (unsigned)row_int(w, c, 1, INT_MAX);
	method = row_text(w, c + 1, false);
	if (method != NULL && method_parse(method, &f->method) < 0)
		row_bad(w, c + 1, "not a method");
	row_copy(w, c + 2, f->label, sizeof(f->label));
	if (f->label[0] != '\0' && !factor_label_valid(f->label))
		row_bad(w, c + 2, "not a label");
	f->verified = row_bool(w, c + 4);
	f->by_admin = row_bool(w, c + 5);
	f->added = row_int(w, c + 6, 0, INT64_MAX);
	f->last_used = row_int(w, c + 7, 0, INT64_MAX);
	if (f->method == METHOD_TOTP) {
		if (row_text(w, c + 3, true) != NULL)
			row_bad(w, c + 3, "an app with a destination");
		alg = row_text(w, c + 8, false);
		if (alg != NULL && totp_algorithm_parse(alg, &f->params.algorithm) < 0)
			row_bad(w, c + 8, "not an algorithm");
		f->params.digits = (unsigned)row_int(w, c + 9, TOTP_DIGITS_MIN, TOTP_DIGITS_MAX);
		f->params.period = (unsigned)row_int(w, c + 10, 1, 3600);
		if (!f->verified)
			row_bad(w, c + 4, "an app not verified");
		return;
	}
	row_copy(w, c + 3, f->dest, sizeof(f->dest));
	if ((f->method == METHOD_EMAIL && !email_address_valid(f->dest)) ||
	    (f->method == METHOD_SMS && !sms_number_valid(f->dest)))
		row_bad(w, c + 3, "not a destination of the method");
	for (int k = 8; k <= 10; k++)
		if (row_text(w, c + k, true) != NULL)
			row_bad(w, c + k, "TOTP parameters of a sent code's factor");
}

/* Who made a recovery set, as summary() names it; -1 for no such word. */
static int recovery_source_parse(const char *text)
{
	return strcmp(text, "") == 0	     ? RECOVERY_NONE :
	       strcmp(text, "user") == 0     ? RECOVERY_USER :
	       strcmp(text, "admin") == 0    ? RECOVERY_ADMIN :
	       strcmp(text, "imported") == 0 ? RECOVERY_IMPORTED :
					       -1;
}

/* The recovery set's and the bypass code's columns of row w: counts
 * within their bounds, a set's source and time exactly when it has
 * codes. */
static void backup_from_row(struct row *w, struct store_summary *out)
{
	const int c = SUMMARY_BACKUP_COL;
	const char *source;
	int parsed = -1;

	out->recovery.left = (unsigned)row_int(w, c, 0, RECOVERY_CODES_MAX);
	out->recovery.made = (unsigned)row_int(w, c + 1, 0, RECOVERY_CODES_MAX);
	out->recovery.since = row_int(w, c + 2, 0, INT64_MAX);
	source = row_text(w, c + 3, false);
	if (source != NULL && (parsed = recovery_source_parse(source)) < 0)
		row_bad(w, c + 3, "not a source of recovery codes");
	out->recovery.source = parsed < 0 ? RECOVERY_NONE : (enum store_recovery_source)parsed;
	if (out->recovery.left > out->recovery.made ||
	    (out->recovery.made > 0) != (out->recovery.source != RECOVERY_NONE))
		row_bad(w, c, "a recovery set that does not add up");
	out->bypass.uses_left = (unsigned)row_int(w, c + 4, 0, STORE_BYPASS_USES_MAX);
	out->bypass.expires = row_int(w, c + 5, 0, INT64_MAX);
	out->bypass.made = row_int(w, c + 6, 0, INT64_MAX);
}

/* The summary of user from the n rows of res that start at first, their
 * columns from col0 (summary_sql's order).  Strict: the factors in rising
 * order of id, at most RECORD_FACTORS_MAX, a pending code naming one of
 * them; anything else is a store error. */
static int summary_from_rows(struct pg_store *p, PGresult *res, const char *fn, int first, int n,
			     int col0, const char *user, struct store_summary *out,
			     struct mfa_error *err)
{
	struct row w = { p, res, fn, err, false, first, col0 };

	(void)snprintf(out->user, sizeof(out->user), "%s", user);
	out->exists = row_bool(&w, 0);
	out->fail_count = (unsigned)row_int(&w, 1, 0, INT_MAX);
	out->locked_until = row_int(&w, 2, -1, INT64_MAX);
	out->last_login = row_int(&w, 3, 0, INT64_MAX);
	row_copy(&w, 4, out->last_service, sizeof(out->last_service));
	row_copy(&w, 5, out->last_rhost, sizeof(out->last_rhost));
	row_copy(&w, 6, out->last_host, sizeof(out->last_host));
	/* A role's name may hold any character: shown to admins, printable. */
	sanitize_printable(out->last_host, out->last_host, sizeof(out->last_host));
	out->skip_since = row_int(&w, 7, 0, INT64_MAX);
	out->basis.version = row_int(&w, 8, 0, INT64_MAX);
	out->code.pending = row_bool(&w, 9);
	out->code.factor = (unsigned)row_int(&w, 10, 0, INT_MAX);
	out->code.expires = row_int(&w, 11, 0, INT64_MAX);
	backup_from_row(&w, out);
	if (n > RECORD_FACTORS_MAX) {
		mfa_error_set(err, "postgresql: %s: more than %d factors", fn, RECORD_FACTORS_MAX);
		return -EIO;
	}
	for (int i = 0; i < n && !w.bad; i++) {
		w.tuple = first + i;
		if (row_text(&w, SUMMARY_FACTOR_COL, true) == NULL) {
			if (n != 1)
				row_bad(&w, SUMMARY_FACTOR_COL, "no factor on a row of several");
			continue;
		}
		factor_from_row(&w, &out->factors[out->n_factors]);
		if (out->n_factors > 0 &&
		    out->factors[out->n_factors].id <= out->factors[out->n_factors - 1].id)
			row_bad(&w, SUMMARY_FACTOR_COL, "factors out of order");
		out->n_factors++;
	}
	if (!w.bad && out->code.pending && store_summary_factor(out, out->code.factor) == NULL)
		row_bad(&w, 10, "a code pending for no factor");
	if (!w.bad && out->n_factors > 0 && !out->exists)
		row_bad(&w, 0, "factors of a user without state");
	return w.bad ? -EIO : 0;
}

/* From the snapshot: the user's rows, found by name (the rows are in
 * strcmp() order, as pg_snapshot checked); no row is no state, as
 * summary() answers for a user it does not know.  Reads the snapshot
 * only: safe from several threads at once. */
static int snapshot_summary(struct pg_store *p, const char *user, struct store_summary *out,
			    struct mfa_error *err)
{
	int lo = 0, hi = p->pq.ntuples(p->snapshot), n = 0, r;

	/* The first row of the user's, if any. */
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		if (strcmp(p->pq.get_value(p->snapshot, mid, 0), user) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo + n < p->pq.ntuples(p->snapshot) &&
	       strcmp(p->pq.get_value(p->snapshot, lo + n, 0), user) == 0)
		n++;
	if (n == 0) {
		(void)snprintf(out->user, sizeof(out->user), "%s", user);
		return 0;
	}
	r = summary_from_rows(p, p->snapshot, "summaries", lo, n, 1, user, out, err);
	if (r < 0)
		store_summary_wipe(out);
	return r;
}

static int pg_summary(struct store *st, const char *user, struct store_summary *out,
		      struct mfa_error *err)
{
	struct pg_store *p = pg(st);
	const char *params[] = { user };
	PGresult *res;
	int r;

	if (p->snapshot != NULL)
		return snapshot_summary(p, user, out, err);
	r = pg_call(p, "summary", summary_sql, 1, params, &res, err);
	if (r < 0)
		return r;
	if (p->pq.ntuples(res) < 1 || p->pq.nfields(res) != SUMMARY_NCOLS) {
		mfa_error_set(err, "postgresql: summary: expected rows of %d columns, got %d of %d",
			      SUMMARY_NCOLS, p->pq.ntuples(res), p->pq.nfields(res));
		r = -EIO;
	} else {
		r = summary_from_rows(p, res, "summary", 0, p->pq.ntuples(res), 0, user, out, err);
	}
	p->pq.clear(res);
	if (r < 0)
		store_summary_wipe(out);
	return r;
}

/* Every user's summary in one call (summaries()), kept for the store's
 * life.  Each name is checked, and the order, before any is used: a
 * lookup by halves needs them in order, a user's rows together. */
static int pg_snapshot(struct store *st, struct mfa_error *err)
{
	struct pg_store *p = pg(st);
	PGresult *res;
	int r = pg_call(p, "summaries",
			"SELECT user_name, " SUMMARY_COLUMNS " FROM pam_mfa.summaries()", 0, NULL,
			&res, err);
	int n;

	if (r < 0)
		return r;
	n = p->pq.ntuples(res);
	if (p->pq.nfields(res) != SUMMARY_NCOLS + 1) {
		mfa_error_set(err, "postgresql: summaries: expected %d columns, got %d",
			      SUMMARY_NCOLS + 1, p->pq.nfields(res));
		r = -EIO;
	}
	for (int i = 0; r == 0 && i < n; i++)
		if (p->pq.get_is_null(res, i, 0) || !user_name_valid(p->pq.get_value(res, i, 0)) ||
		    (i > 0 &&
		     strcmp(p->pq.get_value(res, i - 1, 0), p->pq.get_value(res, i, 0)) > 0)) {
			mfa_error_set(err,
				      "postgresql: summaries: row %d is not a user name in order",
				      i + 1);
			r = -EIO;
		}
	if (r < 0) {
		p->pq.clear(res);
		return r;
	}
	if (p->snapshot != NULL)
		p->pq.clear(p->snapshot);
	p->snapshot = res;
	return 0;
}

/* The outcome a store function's first column names. */
static enum verify_outcome row_outcome(struct row *w)
{
	static const struct {
		const char *name;
		enum verify_outcome outcome;
	} outcomes[] = {
		{ "ok", VERIFY_OK },
		{ "wrong", VERIFY_WRONG },
		{ "replay", VERIFY_REPLAY },
		{ "expired", VERIFY_EXPIRED },
		{ "locked", VERIFY_LOCKED },
		{ "not_enrolled", VERIFY_NOT_ENROLLED },
		{ "too_many", VERIFY_TOO_MANY },
	};
	const char *v = row_text(w, 0, false);

	for (size_t i = 0; v != NULL && i < sizeof(outcomes) / sizeof(outcomes[0]); i++)
		if (strcmp(v, outcomes[i].name) == 0)
			return outcomes[i].outcome;
	if (v != NULL)
		row_bad(w, 0, "not an outcome");
	return VERIFY_STORE_ERROR;
}

/* A verification's row: outcome, fail_count, locked_now[, step],
 * factor_id.  Only "ok" is VERIFY_OK; a row that cannot be read is
 * VERIFY_STORE_ERROR. */
static int verify_row(struct pg_store *p, const char *fn, int r, PGresult *res, bool has_step,
		      struct verify_result *out, struct mfa_error *err)
{
	enum verify_outcome outcome = VERIFY_STORE_ERROR;
	const int ncols = has_step ? 5 : 4;
	struct row w;

	memset(out, 0, sizeof(*out));
	out->outcome = VERIFY_STORE_ERROR;
	if (r < 0)
		return r == -ENOMEM ? r : 0;
	if (row_start(&w, p, res, fn, ncols, err) < 0) {
		p->pq.clear(res);
		return 0;
	}
	outcome = row_outcome(&w);
	out->fail_count = (unsigned)row_int(&w, 1, 0, INT_MAX);
	out->locked_now = row_bool(&w, 2);
	if (has_step && outcome == VERIFY_OK)
		out->step = (uint64_t)row_int(&w, 3, 1, INT64_MAX);
	if (outcome == VERIFY_OK)
		out->factor = (unsigned)row_int(&w, ncols - 1, 1, INT_MAX);
	if (row_end(&w) < 0)
		return 0; /* outcome stays VERIFY_STORE_ERROR */
	out->outcome = outcome;
	return 0;
}

/* What a login hands the database besides the code: service and rhost as
 * the files backend keeps them (record_set_text(): printable ASCII, cut at
 * STORE_TEXT_MAX), so that no byte of theirs fails a call on the
 * database's encoding. */
struct login_text {
	char service[STORE_TEXT_MAX + 1];
	char rhost[STORE_TEXT_MAX + 1];
};

static void login_text(const struct store_login *at, struct login_text *lt)
{
	record_set_text(lt->service, at->service);
	record_set_text(lt->rhost, at->rhost);
}

/* A typed code as the database can take it.  One with a byte that is not
 * printable ASCII is no factor's code: "x" goes instead, a wrong code,
 * counted, as the files backend counts it, not a call that the
 * database's encoding refuses (a password typed in Latin-1 at the code
 * prompt, say). */
static const char *code_param(const char *code)
{
	for (const unsigned char *c = (const unsigned char *)code; *c != '\0'; c++)
		if (*c < 0x20 || *c > 0x7e)
			return "x";
	return code;
}

/* A method's name as the functions take it; NULL for none of the three. */
static const char *method_text(unsigned method)
{
	return method == METHOD_TOTP  ? "totp" :
	       method == METHOD_EMAIL ? "email" :
	       method == METHOD_SMS   ? "sms" :
					NULL;
}

/* A method whose codes are sent, or -EINVAL. */
static int sent_method(unsigned method, struct mfa_error *err)
{
	if (method != METHOD_EMAIL && method != METHOD_SMS) {
		mfa_error_set(err, "codes are sent by email or sms only");
		return -EINVAL;
	}
	return 0;
}

static void uint_text(unsigned v, char *out, size_t size)
{
	(void)snprintf(out, size, "%u", v);
}

static int pg_verify_totp(struct store *st, const struct mfa_config *cfg, const char *user,
			  const char *code, const struct store_login *at, struct verify_result *res,
			  struct mfa_error *err)
{
	struct pg_store *p = pg(st);
	struct login_text lt;
	const char *params[] = { user, code_param(code), lt.service, lt.rhost };
	PGresult *pr = NULL;
	int r;

	(void)cfg; /* the window and the lockout are the server's settings */
	login_text(at, &lt);
	r = pg_call(p, "verify_totp",
		    "SELECT outcome, fail_count, locked_now, step, factor_id "
		    "FROM pam_mfa.verify_totp($1, $2, $3, $4)",
		    4, params, &pr, err);
	return verify_row(p, "verify_totp", r, pr, true, res, err);
}

static int pg_verify_sent(struct store *st, const struct mfa_config *cfg, const char *user,
			  const char *code, unsigned factor, const struct store_login *at,
			  struct verify_result *res, struct mfa_error *err)
{
	struct pg_store *p = pg(st);
	char id[12];
	struct login_text lt;
	const char *params[] = { user, code_param(code), id, lt.service, lt.rhost };
	PGresult *pr = NULL;
	int r;

	(void)cfg;
	login_text(at, &lt);
	uint_text(factor, id, sizeof(id));
	r = pg_call(p, "verify_sent",
		    "SELECT outcome, fail_count, locked_now, factor_id "
		    "FROM pam_mfa.verify_sent($1, $2, $3::integer, $4, $5)",
		    5, params, &pr, err);
	return verify_row(p, "verify_sent", r, pr, false, res, err);
}

static void version_text(const struct store_basis *basis, char *out, size_t size)
{
	(void)snprintf(out, size, "%" PRId64, basis->version);
}

/* bytea's text form of a secret: \x and hex, to be wiped. */
static void secret_text(const struct mfa_totp *t, char out[3 + 2 * TOTP_SECRET_MAX])
{
	memcpy(out, "\\x", 3);
	for (size_t i = 0; i < t->secret_len && i < TOTP_SECRET_MAX; i++)
		(void)snprintf(out + 2 + 2 * i, 3, "%02x", t->secret[i]);
}

/* A recovery or bypass code (verify_backup(), sql/009): outcome,
 * fail_count, locked_now, kind and what is left of it. */
static int pg_verify_backup(struct store *st, const struct mfa_config *cfg, const char *user,
			    const char *code, const struct store_login *at,
			    struct verify_result *res, struct mfa_error *err)
{
	struct pg_store *p = pg(st);
	enum verify_outcome outcome = VERIFY_STORE_ERROR;
	struct login_text lt;
	const char *params[] = { user, code_param(code), lt.service, lt.rhost };
	const char *kind;
	PGresult *pr = NULL;
	struct row w;
	int r;

	(void)cfg;
	memset(res, 0, sizeof(*res));
	res->outcome = VERIFY_STORE_ERROR;
	login_text(at, &lt);
	r = pg_call(p, "verify_backup",
		    "SELECT outcome, fail_count, locked_now, kind, remaining "
		    "FROM pam_mfa.verify_backup($1, $2, $3, $4)",
		    4, params, &pr, err);
	if (r < 0)
		return r == -ENOMEM ? r : 0;
	if (row_start(&w, p, pr, "verify_backup", 5, err) < 0) {
		p->pq.clear(pr);
		return 0;
	}
	outcome = row_outcome(&w);
	res->fail_count = (unsigned)row_int(&w, 1, 0, INT_MAX);
	res->locked_now = row_bool(&w, 2);
	kind = row_text(&w, 3, false);
	if (outcome == VERIFY_OK && kind != NULL) {
		if (strcmp(kind, "recovery") == 0) {
			res->backup = BACKUP_RECOVERY;
			res->remaining = (unsigned)row_int(&w, 4, 0, RECOVERY_CODES_MAX);
		} else if (strcmp(kind, "bypass") == 0) {
			res->backup = BACKUP_BYPASS;
			res->remaining = (unsigned)row_int(&w, 4, 0, STORE_BYPASS_USES_MAX);
		} else {
			row_bad(&w, 3, "not a kind of code");
		}
	}
	if (row_end(&w) < 0) {
		res->backup = BACKUP_NONE;
		res->remaining = 0;
		return 0; /* outcome stays VERIFY_STORE_ERROR */
	}
	res->outcome = outcome;
	return 0;
}

/* After a right code: the user's basis now, with the database's own proof
 * (a marker: the database keeps it, sql/008).  A summary that cannot be
 * read makes the success a store error. */
static int proof_basis(struct store *st, const char *user, struct verify_result *res,
		       struct store_basis *basis, struct mfa_error *err)
{
	struct store_summary sum;
	int r;

	memset(&sum, 0, sizeof(sum));
	r = pg_summary(st, user, &sum, err);
	if (r == 0) {
		basis->version = sum.basis.version;
		(void)snprintf(basis->proof, sizeof(basis->proof), "database");
	} else {
		res->outcome = VERIFY_STORE_ERROR;
	}
	store_summary_wipe(&sum);
	return r == -ENOMEM ? r : 0;
}

/* The database keeps the proof itself: a right code of this host's role
 * (an app's or a recovery or bypass code, where the user has an app)
 * lets that role change the user's factors for a while (sql/008, 009).
 * The basis carries only a marker. */
static int pg_prove(struct store *st, const struct mfa_config *cfg, const char *user,
		    unsigned factor, const char *code, const struct store_login *at,
		    struct verify_result *res, struct store_basis *basis, struct mfa_error *err)
{
	int r = factor == 0 ? pg_verify_totp(st, cfg, user, code, at, res, err) :
		factor == STORE_FACTOR_BACKUP ?
			      pg_verify_backup(st, cfg, user, code, at, res, err) :
			      pg_verify_sent(st, cfg, user, code, factor, at, res, err);

	if (r < 0 || res->outcome != VERIFY_OK)
		return r;
	return proof_basis(st, user, res, basis, err);
}

static int pg_enroll_totp(struct store *st, const struct mfa_config *cfg, const char *user,
			  const struct store_basis *basis, const struct mfa_totp *t,
			  const char *label, unsigned replaces, const char *code,
			  const struct store_login *at, struct verify_result *res,
			  struct mfa_error *err)
{
	struct pg_store *p = pg(st);
	char version[24], digits[12], period[12], replaced[12], secret[3 + 2 * TOTP_SECRET_MAX];
	struct login_text lt;
	const char *params[] = { user,
				 version,
				 secret,
				 totp_algorithm_name(t->params.algorithm),
				 digits,
				 period,
				 label,
				 replaced,
				 code_param(code),
				 lt.service,
				 lt.rhost };
	PGresult *pr = NULL;
	int r;

	(void)cfg; /* factors_per_method is the server's setting */
	login_text(at, &lt);
	version_text(basis, version, sizeof(version));
	uint_text(t->params.digits, digits, sizeof(digits));
	uint_text(t->params.period, period, sizeof(period));
	uint_text(replaces, replaced, sizeof(replaced));
	secret_text(t, secret);
	r = pg_call(p, "enroll_totp",
		    "SELECT outcome, fail_count, locked_now, step, factor_id FROM "
		    "pam_mfa.enroll_totp($1, $2::bigint, $3::bytea, $4, $5::integer, $6::integer, "
		    "$7, $8::integer, $9, $10, $11)",
		    11, params, &pr, err);
	secure_wipe(secret, sizeof(secret));
	r = verify_row(p, "enroll_totp", r, pr, true, res, err);
	/* The enrollment noted this host's proof on the factors it made. */
	if (r == 0 && res->outcome == VERIFY_OK)
		r = proof_basis(st, user, res, &res->basis, err);
	return r;
}

static int pg_enroll_sent(struct store *st, const struct mfa_config *cfg, const char *user,
			  const struct store_basis *basis, unsigned method, const char *dest,
			  const char *label, unsigned replaces, const char *code,
			  const struct store_login *at, struct verify_result *res,
			  struct mfa_error *err)
{
	struct pg_store *p = pg(st);
	char version[24], replaced[12];
	struct login_text lt;
	const char *params[] = { user,	   version,	     method_text(method), dest,	   label,
				 replaced, code_param(code), lt.service,	  lt.rhost };
	PGresult *pr = NULL;
	int r;

	(void)cfg;
	if (sent_method(method, err) < 0)
		return verify_row(p, "enroll_sent", -EINVAL, NULL, false, res, err);
	login_text(at, &lt);
	version_text(basis, version, sizeof(version));
	uint_text(replaces, replaced, sizeof(replaced));
	r = pg_call(p, "enroll_sent",
		    "SELECT outcome, fail_count, locked_now, factor_id FROM pam_mfa.enroll_sent("
		    "$1, $2::bigint, $3, $4, $5, $6::integer, $7, $8, $9)",
		    9, params, &pr, err);
	r = verify_row(p, "enroll_sent", r, pr, false, res, err);
	if (r == 0 && res->outcome == VERIFY_OK)
		r = proof_basis(st, user, res, &res->basis, err);
	return r;
}

static const char *use_text(enum email_code_use use)
{
	return use == EMAIL_CODE_ENROLL ? "enroll" : "login";
}

static int pg_code_book(struct store *st, const struct mfa_config *cfg, const char *user,
			enum email_code_use use, const struct store_basis *basis,
			const struct code_target *to, time_t now, struct email_booking *booking,
			long *wait, bool *sending, struct mfa_error *err)
{
	struct pg_store *p = pg(st);
	char version[24], id[12];
	/* A login code rests on its verified factor, not on a basis. */
	bool enroll = use == EMAIL_CODE_ENROLL;
	const char *params[] = { user,
				 use_text(use),
				 enroll && basis != NULL ? version : NULL,
				 method_text(to->method),
				 enroll ? NULL : id,
				 enroll ? to->dest : NULL };
	const char *result;
	PGresult *res;
	struct row w;
	int r;

	(void)cfg; /* the limits are the server's settings, and its clock */
	(void)now;
	if (sent_method(to->method, err) < 0)
		return -EINVAL;
	if (enroll && basis != NULL)
		version_text(basis, version, sizeof(version));
	uint_text(to->factor, id, sizeof(id));
	r = pg_call(p, "code_book",
		    "SELECT result, wait_seconds, sending, booked_at, record_existed, "
		    "enroll_codes, enroll_codes_since "
		    "FROM pam_mfa.code_book($1, $2, $3::bigint, $4, $5::integer, $6)",
		    6, params, &res, err);
	if (r < 0)
		return r;
	if ((r = row_start(&w, p, res, "code_book", 7, err)) < 0) {
		p->pq.clear(res);
		return r;
	}
	result = row_text(&w, 0, false);
	if (result != NULL && strcmp(result, "ok") == 0) {
		booking->use = use;
		booking->at = row_int(&w, 3, 1, INT64_MAX);
		booking->record_existed = row_bool(&w, 4);
		booking->enroll_codes = (unsigned)row_int(&w, 5, 0, INT_MAX);
		booking->enroll_codes_since = row_int(&w, 6, 0, INT64_MAX);
		r = 0;
	} else if (result != NULL && strcmp(result, "wait") == 0) {
		*wait = (long)row_int(&w, 1, 1, INT_MAX);
		*sending = row_bool(&w, 2);
		r = -EAGAIN;
	} else if (result != NULL && strcmp(result, "stale") == 0) {
		r = -ESTALE;
	} else if (result != NULL) {
		row_bad(&w, 0, "not a result");
	}
	if (row_end(&w) < 0) {
		memset(booking, 0, sizeof(*booking));
		*wait = 0;
		*sending = false;
		return -EIO;
	}
	if (r == -EAGAIN)
		mfa_error_set(err, "no new code for %ld seconds", *wait);
	else if (r == -ESTALE)
		mfa_error_set(err, "the user's factors changed meanwhile");
	return r;
}

/* A one-word answer of fn: 0 for "ok", else the error of the answer it
 * is, err saying why; -EIO for any other word. */
struct answer {
	const char *word;
	int error;
	const char *why;
};

static int answer_of(const char *fn, const char *result, const struct answer *answers, size_t n,
		     struct mfa_error *err)
{
	if (strcmp(result, "ok") == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(result, answers[i].word) == 0) {
			mfa_error_set(err, "%s", answers[i].why);
			return answers[i].error;
		}
	mfa_error_set(err, "postgresql: %s: unexpected result", fn);
	return -EIO;
}

/* An 'ok' | 'stale' answer of fn: 0, -ESTALE (err says stale_why), or
 * -EIO for anything else. */
static int ok_or_stale(const char *fn, const char *result, const char *stale_why,
		       struct mfa_error *err)
{
	const struct answer stale = { "stale", -ESTALE, stale_why };

	return answer_of(fn, result, &stale, 1, err);
}

static int pg_code_sent(struct store *st, const struct mfa_config *cfg, const char *user,
			const struct store_basis *basis, const struct code_target *to,
			const char *code, const struct email_booking *booking, time_t now,
			struct mfa_error *err)
{
	struct pg_store *p = pg(st);
	char version[24], id[12], booked[24], result[16];
	bool enroll = booking->use == EMAIL_CODE_ENROLL;
	const char *params[] = { user,
				 use_text(booking->use),
				 enroll && basis != NULL ? version : NULL,
				 method_text(to->method),
				 enroll ? NULL : id,
				 enroll ? to->dest : NULL,
				 code,
				 booked };
	int r;

	(void)cfg;
	(void)now;
	if (sent_method(to->method, err) < 0)
		return -EINVAL;
	if (enroll && basis != NULL)
		version_text(basis, version, sizeof(version));
	uint_text(to->factor, id, sizeof(id));
	(void)snprintf(booked, sizeof(booked), "%" PRId64, booking->at);
	r = call_text(p, "code_sent",
		      "SELECT pam_mfa.code_sent($1, $2, $3::bigint, $4, $5::integer, $6, $7, "
		      "$8::bigint)",
		      8, params, result, sizeof(result), err);
	if (r < 0)
		return r;
	return ok_or_stale("code_sent", result,
			   "the user's factors changed while the code was sent", err);
}

static int pg_code_unbook(struct store *st, const char *user, const struct email_booking *booking,
			  struct mfa_error *err)
{
	struct pg_store *p = pg(st);
	char booked[24], codes[12], since[24];
	const char *params[] = { user,	 use_text(booking->use),
				 booked, bool_text(booking->record_existed),
				 codes,	 since };
	PGresult *res;
	int r;

	(void)snprintf(booked, sizeof(booked), "%" PRId64, booking->at);
	uint_text(booking->enroll_codes, codes, sizeof(codes));
	(void)snprintf(since, sizeof(since), "%" PRId64, booking->enroll_codes_since);
	r = pg_call(p, "code_unbook",
		    "SELECT pam_mfa.code_unbook($1, $2, $3::bigint, $4::boolean, $5::integer, "
		    "$6::bigint)",
		    6, params, &res, err);
	if (r < 0)
		return r;
	if (p->pq.ntuples(res) != 1) {
		mfa_error_set(err, "postgresql: code_unbook: expected one row");
		r = -EIO;
	}
	p->pq.clear(res);
	return r;
}

static int pg_skip(struct store *st, const char *user, const struct store_basis *basis,
		   bool remember, time_t now, struct mfa_error *err)
{
	struct pg_store *p = pg(st);
	char version[24], result[16];
	const char *params[] = { user, version, bool_text(remember) };
	int r;

	(void)now;
	version_text(basis, version, sizeof(version));
	r = call_text(p, "skip", "SELECT pam_mfa.skip($1, $2::bigint, $3::boolean)", 3, params,
		      result, sizeof(result), err);
	if (r < 0)
		return r;
	return ok_or_stale("skip", result, "the user's factors changed meanwhile", err);
}

/* The database changes a user's factors for a host only right after that
 * host proved one of them (sql/README.md, What a compromised host can do). */
static const char unproved_why[] = "the database allows a change of the user's factors only "
				   "within 10 minutes of a code of one of them on this host (of "
				   "an app, where the user has one)";

static int pg_remove_factor(struct store *st, const char *user, const struct store_basis *basis,
			    unsigned factor, bool remember_skip, time_t now, struct mfa_error *err)
{
	static const struct answer answers[] = {
		{ "stale", -ESTALE, "the user's factors changed meanwhile" },
		{ "missing", -ENOENT, "the user has no such factor" },
		{ "unproved", -EPERM, unproved_why },
	};
	struct pg_store *p = pg(st);
	char version[24], id[12], result[16];
	const char *params[] = { user, version, id, bool_text(remember_skip) };
	int r;

	(void)now;
	version_text(basis, version, sizeof(version));
	uint_text(factor, id, sizeof(id));
	r = call_text(p, "remove_factor",
		      "SELECT pam_mfa.remove_factor($1, $2::bigint, $3::integer, $4::boolean)", 4,
		      params, result, sizeof(result), err);
	if (r < 0)
		return r;
	return answer_of("remove_factor", result, answers, sizeof(answers) / sizeof(answers[0]),
			 err);
}

static int pg_label_factor(struct store *st, const char *user, unsigned factor, const char *label,
			   struct mfa_error *err)
{
	static const struct answer missing = { "missing", -ENOENT, "the user has no such factor" };
	struct pg_store *p = pg(st);
	char id[12], result[16];
	const char *params[] = { user, id, label };
	int r;

	if (factor == 0) {
		mfa_error_set(err, "%s", missing.why);
		return -ENOENT;
	}
	uint_text(factor, id, sizeof(id));
	r = call_text(p, "label_factor", "SELECT pam_mfa.label_factor($1, $2::integer, $3)", 3,
		      params, result, sizeof(result), err);
	if (r < 0)
		return r;
	return answer_of("label_factor", result, &missing, 1, err);
}

static const char *mode_text(enum provision_mode mode)
{
	return mode == PROVISION_ADD ? "add" : mode == PROVISION_REPLACE ? "replace" : "new";
}

/* provisioned / replaced / exists / too_many, as the admin's provisioning
 * returns. */
static int provision_result(const char *fn, const char *result, enum provision_mode mode,
			    bool *replaced, struct mfa_error *err)
{
	static const struct answer answers[] = {
		{ "exists", -EEXIST, "the user has this factor already" },
		{ "too_many", -EDQUOT,
		  "the user holds as many factors of the method as the database's "
		  "factors_per_method allows" },
	};

	if (strcmp(result, "provisioned") == 0)
		return 0;
	if (strcmp(result, "replaced") == 0 && mode == PROVISION_REPLACE) {
		if (replaced != NULL)
			*replaced = true;
		return 0;
	}
	return answer_of(fn, result, answers, sizeof(answers) / sizeof(answers[0]), err);
}

static int pg_provision_totp(struct store *st, const struct mfa_config *cfg, const char *user,
			     const struct mfa_totp *t, const char *label, enum provision_mode mode,
			     time_t now, bool *replaced, struct mfa_error *err)
{
	struct pg_store *p = pg(st);
	char digits[12], period[12], step[24], result[16], secret[3 + 2 * TOTP_SECRET_MAX];
	const char *params[] = { user,	 secret,	 totp_algorithm_name(t->params.algorithm),
				 digits, period,	 step,
				 label,	 mode_text(mode) };
	int r;

	(void)cfg;
	(void)now;
	uint_text(t->params.digits, digits, sizeof(digits));
	uint_text(t->params.period, period, sizeof(period));
	(void)snprintf(step, sizeof(step), "%" PRIu64, t->last_step);
	secret_text(t, secret);
	r = call_text(p, "provision_totp",
		      "SELECT pam_mfa.provision_totp($1, $2::bytea, $3, $4::integer, $5::integer, "
		      "$6::bigint, $7, $8)",
		      8, params, result, sizeof(result), err);
	secure_wipe(secret, sizeof(secret));
	if (r < 0)
		return r;
	return provision_result("provision_totp", result, mode, replaced, err);
}

static int pg_provision_dest(struct store *st, const struct mfa_config *cfg, const char *user,
			     unsigned method, const char *dest, const char *label,
			     enum provision_mode mode, time_t now, struct mfa_error *err)
{
	struct pg_store *p = pg(st);
	char result[16];
	const char *params[] = { user, method_text(method), dest, label, mode_text(mode) };
	int r;

	(void)cfg;
	(void)now;
	if (sent_method(method, err) < 0)
		return -EINVAL;
	r = call_text(p, "provision_dest", "SELECT pam_mfa.provision_dest($1, $2, $3, $4, $5)", 5,
		      params, result, sizeof(result), err);
	if (r < 0)
		return r;
	return provision_result("provision_dest", result, mode, NULL, err);
}

static int pg_code_by_admin(struct store *st, const struct mfa_config *cfg, const char *user,
			    unsigned method, const char *dest, const char *code, bool replace,
			    time_t now, struct mfa_error *err)
{
	static const struct answer answers[] = {
		{ "stale", -ESTALE, "the user has a verified factor of the method" },
		{ "too_many", -EDQUOT, "the user holds as many factors as a summary can list" },
	};
	struct pg_store *p = pg(st);
	char result[16];
	const char *params[] = { user, method_text(method), dest, code, bool_text(replace) };
	int r;

	(void)cfg;
	(void)now;
	if (sent_method(method, err) < 0)
		return -EINVAL;
	r = call_text(p, "code_by_admin",
		      "SELECT pam_mfa.code_by_admin($1, $2, $3, $4, $5::boolean)", 5, params,
		      result, sizeof(result), err);
	if (r < 0)
		return r;
	return answer_of("code_by_admin", result, answers, sizeof(answers) / sizeof(answers[0]),
			 err);
}

/* --- Recovery and bypass codes, lockout notices (sql/009) --- */

/* codes as a text[] literal: canonical codes (store.c checked them) need
 * no quoting.  The text is a secret's: wiped by the caller. */
static int codes_array(const char *const *codes, unsigned n, char *out, size_t size,
		       struct mfa_error *err)
{
	size_t at = 0;

	out[at++] = '{';
	for (unsigned i = 0; i < n; i++) {
		size_t len = strlen(codes[i]);

		if (!recovery_code_is_canonical(codes[i]) || at + len + 3 > size) {
			secure_wipe(out, size);
			mfa_error_set(err, "a recovery code is not in its canonical form");
			return -EINVAL;
		}
		if (i > 0)
			out[at++] = ',';
		memcpy(out + at, codes[i], len);
		at += len;
	}
	out[at++] = '}';
	out[at] = '\0';
	return 0;
}

/* The largest text[] literal of a set: each code, a comma, the braces. */
#define CODES_ARRAY_MAX (RECOVERY_CODES_MAX * (RECOVERY_CANONICAL_MAX + 1) + 3)

static const char no_factor_why[] = "the user holds no verified factor";

static int pg_recovery_new(struct store *st, const char *user, const struct store_basis *basis,
			   const char *const *codes, unsigned n, time_t now, struct mfa_error *err)
{
	static const struct answer answers[] = {
		{ "missing", -ENOENT, no_factor_why },
		{ "stale", -ESTALE, "the user's factors changed meanwhile" },
		{ "unproved", -EPERM,
		  "the database takes a user's recovery codes from a host only "
		  "within 10 minutes of a code of one of the user's factors "
		  "on this host (of an app, where the user has one)" },
	};
	struct pg_store *p = pg(st);
	char version[24], set[CODES_ARRAY_MAX], result[16];
	const char *params[] = { user, version, set };
	int r;

	(void)now;
	version_text(basis, version, sizeof(version));
	r = codes_array(codes, n, set, sizeof(set), err);
	if (r < 0)
		return r;
	r = call_text(p, "recovery_new", "SELECT pam_mfa.recovery_new($1, $2::bigint, $3::text[])",
		      3, params, result, sizeof(result), err);
	secure_wipe(set, sizeof(set));
	if (r < 0)
		return r;
	return answer_of("recovery_new", result, answers, sizeof(answers) / sizeof(answers[0]),
			 err);
}

static int pg_recovery_admin(struct store *st, const char *user, const char *const *codes,
			     unsigned n, enum store_recovery_source source, time_t now,
			     struct mfa_error *err)
{
	static const struct answer missing = { "missing", -ENOENT, no_factor_why };
	struct pg_store *p = pg(st);
	char set[CODES_ARRAY_MAX], result[16];
	const char *params[] = { user, set, source == RECOVERY_IMPORTED ? "imported" : "admin" };
	int r;

	(void)now;
	r = codes_array(codes, n, set, sizeof(set), err);
	if (r < 0)
		return r;
	r = call_text(p, "recovery_admin", "SELECT pam_mfa.recovery_admin($1, $2::text[], $3)", 3,
		      params, result, sizeof(result), err);
	secure_wipe(set, sizeof(set));
	if (r < 0)
		return r;
	return answer_of("recovery_admin", result, &missing, 1, err);
}

static int pg_bypass_new(struct store *st, const char *user, const char *code, unsigned uses,
			 int64_t expires, time_t now, struct mfa_error *err)
{
	static const struct answer missing = { "missing", -ENOENT, no_factor_why };
	struct pg_store *p = pg(st);
	char times[12], until[24], result[16];
	const char *params[] = { user, code, times, until };
	int r;

	(void)now;
	uint_text(uses, times, sizeof(times));
	(void)snprintf(until, sizeof(until), "%" PRId64, expires);
	r = call_text(p, "bypass_new", "SELECT pam_mfa.bypass_new($1, $2, $3::integer, $4::bigint)",
		      4, params, result, sizeof(result), err);
	if (r < 0)
		return r;
	return answer_of("bypass_new", result, &missing, 1, err);
}

/* A single boolean answer of fn, in *out. */
static int call_bool(struct pg_store *p, const char *fn, const char *sql, int n,
		     const char *const *params, bool *out, struct mfa_error *err)
{
	char v[8];
	int r = call_text(p, fn, sql, n, params, v, sizeof(v), err);

	if (r < 0)
		return r;
	if (strcmp(v, "t") != 0 && strcmp(v, "f") != 0) {
		mfa_error_set(err, "postgresql: %s: not a boolean", fn);
		return -EIO;
	}
	*out = strcmp(v, "t") == 0;
	return 0;
}

static int pg_bypass_revoke(struct store *st, const char *user, time_t now, bool *had,
			    struct mfa_error *err)
{
	const char *params[] = { user };

	(void)now;
	return call_bool(pg(st), "bypass_revoke", "SELECT pam_mfa.bypass_revoke($1)", 1, params,
			 had, err);
}

/* The server's clock decides, for every host alike; interval is
 * notify.lockout_interval, within the bounds the database takes. */
static int pg_lock_notice_due(struct store *st, const char *user, time_t now, unsigned interval,
			      bool *due, struct mfa_error *err)
{
	char seconds[12];
	const char *params[] = { user, seconds };

	(void)now;
	uint_text(interval, seconds, sizeof(seconds));
	return call_bool(pg(st), "lock_notice_due",
			 "SELECT pam_mfa.lock_notice_due($1, $2::integer)", 2, params, due, err);
}

static int pg_reset(struct store *st, const char *user, const struct store_reset_what *what,
		    struct store_reset_result *out, struct mfa_error *err)
{
	struct pg_store *p = pg(st);
	const char *params[] = { user, what->method != 0 ? method_text(what->method) : NULL,
				 what->label };
	const char *notify;
	PGresult *res;
	struct row w;
	int r;

	if (what->method != 0 && method_text(what->method) == NULL) {
		mfa_error_set(err, "reset of an unknown method");
		return -EINVAL;
	}
	r = pg_call(p, "reset",
		    "SELECT had_state, had_factor, factors, notify FROM pam_mfa.reset($1, $2, $3)",
		    3, params, &res, err);
	if (r < 0)
		return r;
	if ((r = row_start(&w, p, res, "reset", 4, err)) < 0) {
		p->pq.clear(res);
		return r;
	}
	out->had_state = row_bool(&w, 0);
	out->had_factor = row_bool(&w, 1);
	out->factors = (unsigned)row_int(&w, 2, 0, INT_MAX);
	notify = row_text(&w, 3, true);
	if (notify != NULL) {
		if (strlen(notify) >= sizeof(out->notify))
			row_bad(&w, 3, "too long");
		else if (notify[0] != '\0' && !email_address_valid(notify))
			row_bad(&w, 3, "not an address");
		else
			memcpy(out->notify, notify, strlen(notify) + 1);
	}
	r = row_end(&w);
	if (r < 0) {
		memset(out, 0, sizeof(*out));
		return r;
	}
	/* A label that names no factor: nothing went. */
	if (what->label != NULL && !out->had_state) {
		mfa_error_set(err, "the user has no factor labelled so");
		return -ENOENT;
	}
	return 0;
}

static int pg_reset_all(struct store *st, unsigned *users, struct mfa_error *err)
{
	struct pg_store *p = pg(st);
	PGresult *res;
	struct row w;
	int r = pg_call(p, "reset_all", "SELECT pam_mfa.reset_all()", 0, NULL, &res, err);

	if (r < 0)
		return r;
	if ((r = row_start(&w, p, res, "reset_all", 1, err)) < 0) {
		p->pq.clear(res);
		return r;
	}
	*users = (unsigned)row_int(&w, 0, 0, INT_MAX);
	r = row_end(&w);
	if (r < 0)
		*users = 0;
	return r;
}

static int pg_unlock(struct store *st, const char *user, unsigned *failures, struct mfa_error *err)
{
	struct pg_store *p = pg(st);
	const char *params[] = { user };
	PGresult *res;
	struct row w;
	int r = pg_call(p, "unlock", "SELECT pam_mfa.unlock($1)", 1, params, &res, err);

	if (r < 0)
		return r;
	if ((r = row_start(&w, p, res, "unlock", 1, err)) < 0) {
		p->pq.clear(res);
		return r;
	}
	if (row_text(&w, 0, true) == NULL) {
		(void)row_end(&w);
		mfa_error_set(err, "no state for the user");
		return -ENOENT;
	}
	*failures = (unsigned)row_int(&w, 0, 0, INT_MAX);
	return row_end(&w);
}

static int pg_list(struct store *st, int (*cb)(const char *user, void *ctx), void *ctx,
		   struct mfa_error *err)
{
	struct pg_store *p = pg(st);
	PGresult *res;
	int r, n;

	if (p->snapshot != NULL) {
		/* A user's rows are together, one per factor: a name once. */
		n = p->pq.ntuples(p->snapshot);
		for (int i = 0, cr = 0; cr == 0 && i < n; i++)
			if ((i == 0 || strcmp(p->pq.get_value(p->snapshot, i - 1, 0),
					      p->pq.get_value(p->snapshot, i, 0)) != 0) &&
			    (cr = cb(p->pq.get_value(p->snapshot, i, 0), ctx)) != 0)
				return cr;
		return 0;
	}
	r = pg_call(p, "list", "SELECT pam_mfa.list()", 0, NULL, &res, err);
	if (r < 0)
		return r;
	n = p->pq.ntuples(res);
	if (p->pq.nfields(res) != 1) {
		mfa_error_set(err, "postgresql: list: expected one column");
		r = -EIO;
	}
	/* Every name is checked before any reaches cb: a list with a bad
	 * one is a store error, not a partial walk. */
	for (int i = 0; r == 0 && i < n; i++)
		if (p->pq.get_is_null(res, i, 0) || !user_name_valid(p->pq.get_value(res, i, 0))) {
			mfa_error_set(err, "postgresql: list: row %d is not a user name", i + 1);
			r = -EIO;
		}
	for (int i = 0; r == 0 && i < n; i++)
		r = cb(p->pq.get_value(res, i, 0), ctx);
	p->pq.clear(res);
	return r;
}

static int pg_check(struct store *st,
		    int (*cb)(const char *name, enum store_entry kind, const char *message,
			      void *ctx),
		    void *ctx, struct mfa_error *err)
{
	(void)st;
	(void)cb;
	(void)ctx;
	/* A database has no directory of records to walk: its health is the
	 * schema's version and the roles' rights, store_db_check(). */
	mfa_error_set(err, "postgresql: the schema version and the roles' rights are checked "
			   "by \"mfactl db check\", not by check");
	return -EOPNOTSUPP;
}

/* Each call commits in the database before it returns. */
static void pg_defer_sync(struct store *st)
{
	(void)st;
}

static int pg_sync(struct store *st, struct mfa_error *err)
{
	(void)st;
	(void)err;
	return 0;
}

static const struct store_ops pg_store_ops;

struct pg_store *pg_store_of(struct store *st)
{
	return st != NULL && st->ops == &pg_store_ops ? pg(st) : NULL;
}

static const struct store_ops pg_store_ops = {
	.name = "postgresql",
	.close = pg_close,
	.summary = pg_summary,
	.verify_totp = pg_verify_totp,
	.verify_sent = pg_verify_sent,
	.prove = pg_prove,
	.verify_backup = pg_verify_backup,
	.recovery_new = pg_recovery_new,
	.recovery_admin = pg_recovery_admin,
	.bypass_new = pg_bypass_new,
	.bypass_revoke = pg_bypass_revoke,
	.lock_notice_due = pg_lock_notice_due,
	.enroll_totp = pg_enroll_totp,
	.enroll_sent = pg_enroll_sent,
	.code_book = pg_code_book,
	.code_sent = pg_code_sent,
	.code_unbook = pg_code_unbook,
	.skip = pg_skip,
	.remove_factor = pg_remove_factor,
	.label_factor = pg_label_factor,
	.provision_totp = pg_provision_totp,
	.provision_dest = pg_provision_dest,
	.code_by_admin = pg_code_by_admin,
	.reset = pg_reset,
	.reset_all = pg_reset_all,
	.unlock = pg_unlock,
	.list = pg_list,
	.snapshot = pg_snapshot,
	.check = pg_check,
	.defer_sync = pg_defer_sync,
	.sync = pg_sync,
};

/* The password of store.password_file: root's, no one else's to read
 * (read_secret_file()), and not empty. */
static int read_password(const char *path, char **out, struct mfa_error *err)
{
	int r = read_secret_file(path, PG_PASSWORD_MAX, out, err);

	if (r == 0 && (*out)[0] == '\0') {
		free(*out);
		*out = NULL;
		mfa_error_set(err, "%s: is empty", path);
		return -EINVAL;
	}
	return r;
}

/* A password in store.conninfo would sit in pam_mfa.conf, which any
 * configuration tool may copy or show: it belongs in store.password_file,
 * root's alone.  libpq's own parser finds it, in any form it accepts (a
 * keyword, a URI's user:password@). */
static int conninfo_check(struct pg_store *p, struct mfa_error *err)
{
	PQconninfoOption *given = conninfo_parse(p, err);
	bool has_password;

	if (given == NULL)
		return -EINVAL;
	has_password = conninfo_sets(given, "password");
	p->pq.conninfo_free(given);
	if (has_password) {
		mfa_error_set(err, "postgresql: store.conninfo must not hold a password: put it in "
				   "store.password_file (owned by root, mode 0600)");
		return -EINVAL;
	}
	return 0;
}

int pg_store_open(const struct mfa_config *cfg, int flags, struct store **out,
		  struct mfa_error *err)
{
	const struct store_config *sc = &cfg->store;
	struct pg_store *p;
	int r;

	(void)flags; /* the schema is made by mfactl db init, never by a login */
	if (sc->conninfo == NULL) {
		mfa_error_set(err, "postgresql: store.conninfo is not set");
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		mfa_error_set(err, "out of memory");
		return -ENOMEM;
	}
	p->base.ops = &pg_store_ops;
	p->timeout = sc->timeout;
	r = pq_api_load(&p->pq, err);
	if (r < 0)
		goto fail;
	p->conninfo = strdup(sc->conninfo);
	if (p->conninfo == NULL) {
		mfa_error_set(err, "out of memory");
		r = -ENOMEM;
		goto fail;
	}
	r = conninfo_check(p, err);
	if (r < 0)
		goto fail;
	if (sc->password_file != NULL) {
		r = read_password(sc->password_file, &p->password, err);
		if (r < 0)
			goto fail;
	}
	/* Connected now, so that a database that is down fails the open,
	 * within store.timeout, as a files store that is missing would. */
	r = pg_connect(p, monotonic_ms() + (int64_t)p->timeout * 1000, err);
	if (r < 0)
		goto fail;
	*out = &p->base;
	return 0;
fail:
	pg_close(&p->base);
	return r;
}
