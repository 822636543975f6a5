/* The postgresql backend's insides that its administration (pg_admin.c:
 * mfactl db init, db check, migrate) shares with the login path (pg.c):
 * the handle, its connection, and a statement bounded in time.  Only the
 * store's own files include this. */
#ifndef PAM_MFA_STORE_PG_H
#define PAM_MFA_STORE_PG_H

#include <stdbool.h>

#include "backend.h"
#include "dynload.h"
#include "record.h"

struct pg_store {
	struct store base;
	struct pq_api pq;
	PGconn *conn; /* NULL: closed after a failure, opened again by the next call */
	char *conninfo;
	char *password; /* NULL: none (a client certificate, or trust) */
	unsigned timeout;
	unsigned admin_timeout; /* pg_admin.c's bound while db init runs; 0: timeout */
	/* store_snapshot(): every user's summary, by name in strcmp() order;
	 * NULL: none, each summary is a call. */
	PGresult *snapshot;
};

/* The postgresql handle of st, or NULL if st is another backend's. */
struct pg_store *pg_store_of(struct store *st);

/* What a failed statement said, for callers that tell failures apart. */
struct pg_failure {
	char sqlstate[6]; /* empty: no answer from the server */
	int position;	  /* 1-based character of the statement text; 0: none */
};

enum pg_exec_flags {
	PG_EXEC_SCRIPT = 1,	   /* several statements, no parameters (simple protocol) */
	PG_EXEC_KEEP_ON_ERROR = 2, /* an error the server answered leaves the connection */
};

/* Runs sql, a call of fn (named in errors), with its text parameters, the
 * connect (if needed) and the statement within timeout seconds.  Errors
 * name the SQLSTATE in our words, never the server's text, which may quote
 * arguments, but for PG_EXEC_SCRIPT (a migration: the admin's own text).  With out, the last result must hold
 * rows (*out, to clear); without, a command's result is fine too.  A
 * failure drops the connection unless the server answered it and
 * PG_EXEC_KEEP_ON_ERROR is given; why (may be NULL) says what the server
 * said.  -EINVAL for SQLSTATE 22023, -ETIMEDOUT, -EIO. */
int pg_exec(struct pg_store *p, const char *fn, const char *sql, int n, const char *const *params,
	    unsigned timeout, int flags, PGresult **out, struct pg_failure *why,
	    struct mfa_error *err);

/* mfactl migrate (migrate.c): writes rec, which holds a factor or a skip,
 * through pam_mfa.import_user(): every factor of its list, the skip, the
 * recovery set and the bypass code (their hashes, as kept).
 * 0 (*replaced: the database's state for the user was replaced), -EEXIST
 * (it holds state and not replace: nothing written), or an error. */
int pg_import_record(struct pg_store *p, const struct mfa_record *rec, bool replace, bool *replaced,
		     struct mfa_error *err);

#endif
