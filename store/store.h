/* The state store as the module, mfactl and mfa-setup see it: operations on
 * a user's MFA state, never records, files or locks.  Each operation is one
 * decision of the store, atomic for that user: it reads the state afresh,
 * decides, and writes its result durably before it returns, or changes
 * nothing.
 *
 * The contract every backend keeps:
 * - Secrets stay in the store.  A summary holds no TOTP secret and no code
 *   hash; codes are handed to the store, which checks them (store_verify_*,
 *   store_enroll_totp) and records the result in the same transaction: the
 *   replay step, the failure count and lockout, the last login.  A backend
 *   that keeps secrets on a server (PostgreSQL) never returns them at all.
 * - A code is accepted at most once: of two callers racing with one code,
 *   exactly one gets VERIFY_OK.  A result that could not be recorded is
 *   VERIFY_STORE_ERROR, never VERIFY_OK.
 * - Every write that an enrollment or a skip rests on names the basis the
 *   user was shown (store_summary's basis) and is refused with -ESTALE if the
 *   user's factors are no longer those: nothing is saved behind the back of
 *   an enrollment made meanwhile.
 * - Errors are -errno with err saying why in words fit for a log; nothing
 *   here logs or prints.  -ETIMEDOUT: the user's state stayed busy (a
 *   stopped process holding it) past STORE_LOCK_WAIT_SECONDS.
 * - User names are checked by the store too (user_name_valid()).
 *
 * The files backend (files.c, files_ops.c) keeps one root-only record per
 * user in the state directory; see pam_mfa.conf(5), STATE RECORDS.  The
 * postgresql backend (pg.c) calls the functions of sql/ in a database that
 * keeps the state of a fleet and checks the codes itself. */
#ifndef PAM_MFA_STORE_H
#define PAM_MFA_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "login_decision.h"
#include "record.h"
#include "util.h"

struct store;

enum store_open_flags {
	STORE_READ_ONLY = 0,
	STORE_CREATE = 1, /* create the state directory (mode 0700) if missing */
};

/* How long an operation waits for a user's state held by another before it
 * gives up: a process stopped while it holds it (a suspended su or
 * mfa-setup) must not hang every later login of that user. */
#define STORE_LOCK_WAIT_SECONDS 5

/* Opens the store the configuration names.  -ENOENT (err set) if it does
 * not exist and STORE_CREATE is not given. */
int store_open(const struct mfa_config *cfg, int flags, struct store **out, struct mfa_error *err);
void store_close(struct store *st);

/* A proof's text: 32 random bytes in hex. */
#define STORE_PROOF_MAX 64
/* How long a proof is good for: the user chooses and proves a new factor
 * meanwhile. */
#define STORE_PROOF_SECONDS 600

/* What a decision to enroll, skip, replace or remove saw of the user's
 * factors.  Opaque: only the backend reads it.  Both backends keep a
 * version that changes with every change of the user's verified factors
 * and never comes back: the files record's factors_tag (random, so that a
 * record removed and made anew does not repeat it), the database's
 * factors_version. */
struct store_basis {
	int64_t version;
	/* What store_prove() gave: that the user has recently shown one of the
	 * factors of this version.  A change to the factors of a user who
	 * holds one (store_enroll_*, store_remove_factor) needs it; "": none,
	 * which only a user without a verified factor may go without. */
	char proof[STORE_PROOF_MAX + 1];
};

/* Whether two summaries' bases are the same factors. */
bool store_basis_same(const struct store_basis *a, const struct store_basis *b);

/* Who made a user's set of recovery codes. */
enum store_recovery_source {
	RECOVERY_NONE,	   /* no set */
	RECOVERY_USER,	   /* the user: at the end of an enrollment, mfa-setup */
	RECOVERY_ADMIN,	   /* mfactl recovery-codes, mfactl enroll */
	RECOVERY_IMPORTED, /* google-authenticator's scratch codes (mfactl import) */
};

/* One factor as the store tells of it: never a secret. */
struct store_factor {
	unsigned id;	 /* stable for the user: how a factor is named to the store */
	unsigned method; /* one METHOD_* bit */
	char label[FACTOR_LABEL_MAX + 1]; /* "": none given (show the masked dest) */
	char dest[FACTOR_DEST_MAX + 1];	  /* email, sms: the address or number */
	bool verified;
	bool by_admin;
	int64_t added;
	int64_t last_used;	   /* 0: never */
	struct totp_params params; /* totp */
};

/* What the store tells of a user: no secret, no code hash. */
struct store_summary {
	char user[USER_NAME_MAX + 1];
	bool exists; /* the store holds state for the user */
	struct store_factor factors[RECORD_FACTORS_MAX];
	unsigned n_factors;
	struct {
		bool pending;	 /* a code was sent and is not spent */
		unsigned factor; /* to which factor */
		int64_t expires;
	} code;
	unsigned fail_count;
	int64_t locked_until; /* 0: not locked; -1: until an admin unlocks */
	int64_t last_login;   /* 0: never */
	char last_service[STORE_TEXT_MAX + 1];
	char last_rhost[STORE_TEXT_MAX + 1];
	/* The host that recorded that login, where the store is shared: its
	 * database role and address ("web1@192.0.2.10"); "" on the files
	 * store, whose logins are all this host's. */
	char last_host[STORE_TEXT_MAX + 1];
	int64_t skip_since; /* a remembered opt-out skip; 0: none */
	/* The user's recovery codes (store_recovery_new()): how many of the
	 * set are unused, how many it had (0: no set), when and by whom it
	 * was made.  Never the codes or their hashes. */
	struct {
		unsigned left;
		unsigned made;
		int64_t since;
		enum store_recovery_source source;
	} recovery;
	/* The helpdesk's bypass code (store_bypass_new()): uses left (0:
	 * none, or used up), until when, since when.  Outstanding only while
	 * uses_left > 0 and expires is ahead (store_bypass_outstanding()). */
	struct {
		unsigned uses_left;
		int64_t expires;
		int64_t made;
	} bypass;
	struct store_basis basis;
};

/* Whether the summary shows a bypass code that still works at now. */
bool store_bypass_outstanding(const struct store_summary *sum, int64_t now);

/* The factors the summary shows, as METHOD_* bits: verified ones only. */
unsigned store_summary_methods(const struct store_summary *sum);
/* How many verified factors of method (0: of any) the summary shows. */
unsigned store_summary_count(const struct store_summary *sum, unsigned method);
/* The factor of that id, or NULL. */
const struct store_factor *store_summary_factor(const struct store_summary *sum, unsigned id);
/* The n-th (from 0) verified factor of the methods in mask, in the
 * order of the summary, or NULL. */
const struct store_factor *store_summary_nth(const struct store_summary *sum, unsigned mask,
					     unsigned n);
/* The unverified factor of method (email, sms) on record, or NULL: an
 * address or number waiting to be proved. */
const struct store_factor *store_summary_unverified(const struct store_summary *sum,
						    unsigned method);
void store_summary_wipe(struct store_summary *sum);

/* The facts of the login decision (core/login_decision.h) from a summary
 * under a policy: the store's side of it, so that the module, mfa-setup
 * and mfactl see a user the same way. */
void store_login_facts(const struct store_summary *sum, const struct policy_decision *pd,
		       int64_t enroll_by, int64_t now, struct login_facts *f);

/* Reads the user's summary.  A user the store knows nothing of has
 * exists false and nothing enrolled.  -EINVAL: the state is corrupt. */
int store_summary(struct store *st, const char *user, struct store_summary *out,
		  struct mfa_error *err);

enum verify_outcome {
	VERIFY_OK,
	VERIFY_WRONG,	     /* wrong or malformed code: counted */
	VERIFY_REPLAY,	     /* a code of an already used step: counted */
	VERIFY_EXPIRED,	     /* a sent code past its expiry, or none: counted */
	VERIFY_LOCKED,	     /* locked out: not checked, not counted */
	VERIFY_NOT_ENROLLED, /* reset (or enrolled) while the user was typing */
	VERIFY_STORE_ERROR,  /* err says why; nothing was accepted */
	VERIFY_TOO_MANY,     /* enrollment: factors.per_method reached; nothing saved */
};

/* Which kind of one-time code store_verify_backup() accepted. */
enum store_backup_kind {
	BACKUP_NONE,
	BACKUP_RECOVERY, /* one of the user's recovery codes */
	BACKUP_BYPASS,	 /* the helpdesk's bypass code */
};

struct verify_result {
	enum verify_outcome outcome;
	unsigned fail_count; /* after this attempt */
	bool locked_now;     /* this failure locked the user */
	uint64_t step;	     /* the accepted step */
	unsigned factor;     /* VERIFY_OK: the id of the factor that was used */
	/* VERIFY_OK of store_verify_backup() (and of store_prove() with
	 * STORE_FACTOR_BACKUP): which kind of code it was, and what is left
	 * of it after this use (recovery codes of the set, or the bypass
	 * code's uses). */
	enum store_backup_kind backup;
	unsigned remaining;
	/* VERIFY_OK of store_enroll_totp() and store_enroll_sent(): the
	 * user's factors now, with a proof as store_prove() gives one (on
	 * the files store this handle's; on the shared store the database's
	 * own, for this host), for the recovery codes that end an enrollment
	 * (store_recovery_new()). */
	struct store_basis basis;
};

/* Where and when a code is typed: recorded as the last login on success. */
struct store_login {
	time_t now;
	const char *service;
	const char *rhost;
};

/* Checks a TOTP code against every app of the user: on success records the
 * step as that app's (it can never be used with that app again), the
 * app's last use and the login; a code no app accepts counts toward the
 * lockout (VERIFY_REPLAY if an app had accepted its step already).
 * 0 with res set, or -ENOMEM. */
int store_verify_totp(struct store *st, const struct mfa_config *cfg, const char *user,
		      const char *code, const struct store_login *at, struct verify_result *res,
		      struct mfa_error *err);

/* Checks a sent code (email, SMS) against the pending one, which must have
 * been sent to the verified factor of that id (else VERIFY_NOT_ENROLLED).
 * Single use; failures count like wrong TOTP codes; a right code records
 * the factor's last use and the login. */
int store_verify_sent(struct store *st, const struct mfa_config *cfg, const char *user,
		      const char *code, unsigned factor, const struct store_login *at,
		      struct verify_result *res, struct mfa_error *err);

/* Checks a code of a factor the user holds, as a login would (a TOTP code
 * of any app with factor 0, a recovery or bypass code with
 * STORE_FACTOR_BACKUP, else the sent code of the factor of that id;
 * failures count, the step is spent, the login is recorded), and on
 * success fills basis with the user's factors now and a proof, good for
 * STORE_PROOF_SECONDS, that a change of those factors needs
 * when the user holds any: on the store a fleet shares, the database
 * checks it, so that a host cannot change a user's factors without a code
 * the user has just typed.  The proof is this store handle's own on the
 * files store. */
int store_prove(struct store *st, const struct mfa_config *cfg, const char *user, unsigned factor,
		const char *code, const struct store_login *at, struct verify_result *res,
		struct store_basis *basis, struct mfa_error *err);

/* --- Recovery and bypass codes --- */

/* A recovery or bypass code as the store takes it: canonical (see
 * recovery_code_canonical()): 12 symbols of the recovery alphabet in lower
 * case, or 8 digits (a google-authenticator scratch code, imported).  The
 * store refuses any other text with -EINVAL (a verification: VERIFY_WRONG,
 * counted).  It keeps only salted hashes (HMAC-SHA256, a salt of its own
 * per code or per set): a code cannot be read back. */

/* store_prove()'s factor for a proof by a recovery or bypass code: the
 * code is spent, as at a login. */
#define STORE_FACTOR_BACKUP 0xffffffffu

/* Checks a recovery code or a bypass code, as a login's code: a code of
 * the user's set that was not used yet (any order) is spent, else an
 * outstanding bypass code loses a use; either records the login, clears
 * failures, and fills res->backup and res->remaining.  A code neither is
 * counts toward the lockout like a wrong TOTP code (VERIFY_WRONG); a
 * spent recovery code is VERIFY_WRONG too, and so is an expired or used
 * up bypass code (VERIFY_EXPIRED).  Locked: VERIFY_LOCKED, not checked.  A
 * user without a verified factor: VERIFY_NOT_ENROLLED (recovery codes are
 * no factor: they stand in for one the user holds). */
int store_verify_backup(struct store *st, const struct mfa_config *cfg, const char *user,
			const char *code, const struct store_login *at, struct verify_result *res,
			struct mfa_error *err);

/* The user makes a new set of recovery codes (the end of an enrollment,
 * mfa-setup --recovery-codes): the n codes (canonical, 1 to
 * RECOVERY_CODES_MAX, no two alike: else -EINVAL) replace the old set as
 * RECOVERY_USER's, if the user holds a verified factor (else -ENOENT), the
 * factors are still those of basis (else -ESTALE) and basis holds a good
 * proof (store_prove(), or an enrollment's res->basis; else -EPERM). */
int store_recovery_new(struct store *st, const char *user, const struct store_basis *basis,
		       const char *const *codes, unsigned n, time_t now, struct mfa_error *err);

/* The same by an administrator (mfactl recovery-codes, enroll, import):
 * no basis, no proof; source RECOVERY_ADMIN or RECOVERY_IMPORTED. */
int store_recovery_admin(struct store *st, const char *user, const char *const *codes, unsigned n,
			 enum store_recovery_source source, time_t now, struct mfa_error *err);

/* A bypass code for a user who lost their device (mfactl bypass): code
 * (canonical, a fresh recovery-form code) works uses times (1 to
 * STORE_BYPASS_USES_MAX) until expires, replacing any other; the user's
 * factors and recovery codes stay.  -ENOENT: the user holds no verified
 * factor (there is nothing to bypass: enrollment at login needs none). */
#define STORE_BYPASS_USES_MAX 100
int store_bypass_new(struct store *st, const char *user, const char *code, unsigned uses,
		     int64_t expires, time_t now, struct mfa_error *err);
/* Revokes the user's bypass code; *had: one was outstanding at now. */
int store_bypass_revoke(struct store *st, const char *user, time_t now, bool *had,
			struct mfa_error *err);

/* Every change that leaves a user without a verified factor (a reset, the
 * last factor removed) forgets the recovery codes and the bypass code with
 * them: they belonged to that enrollment. */

/* Whether a notice that the user was locked out is due: *due is true, and
 * the time noted, if none was sent in the last interval seconds (for the
 * user, on every host the store serves); the claim is atomic, so that of
 * logins racing each other one mails. */
int store_lock_notice_due(struct store *st, const char *user, time_t now, unsigned interval,
			  bool *due, struct mfa_error *err);

/* Finishes a TOTP enrollment: t is the new secret the user's app was
 * shown, code the app's answer.  The store checks the code against t and,
 * if it is right and the factors are still those of basis, saves t as a
 * new app labelled label (NULL: none) (the proving step spent, failures cleared, a skip
 * forgotten, the login recorded), in place of the app of id replaces if
 * not 0.  VERIFY_WRONG: not saved, not counted; VERIFY_NOT_ENROLLED: the
 * factors changed, nothing saved; VERIFY_TOO_MANY: the user holds
 * factors.per_method apps (and replaces nothing).  A user who holds a
 * verified factor needs basis's proof (store_prove()): without a good one
 * VERIFY_NOT_ENROLLED, nothing saved. */
int store_enroll_totp(struct store *st, const struct mfa_config *cfg, const char *user,
		      const struct store_basis *basis, const struct mfa_totp *t, const char *label,
		      unsigned replaces, const char *code, const struct store_login *at,
		      struct verify_result *res, struct mfa_error *err);

/* Finishes the proof of a destination (email, sms): the code sent to the
 * unverified factor of method and dest on record is checked like a
 * login's, and on success that factor becomes verified and labelled label
 * (NULL: kept), in place of the factor of id replaces if not 0 (a changed
 * number), if the factors are still those of basis (else
 * VERIFY_NOT_ENROLLED), and within factors.per_method (else
 * VERIFY_TOO_MANY, not counted). */
int store_enroll_sent(struct store *st, const struct mfa_config *cfg, const char *user,
		      const struct store_basis *basis, unsigned method, const char *dest,
		      const char *label, unsigned replaces, const char *code,
		      const struct store_login *at, struct verify_result *res,
		      struct mfa_error *err);

enum email_code_use {
	EMAIL_CODE_LOGIN,  /* a login code, to a verified factor */
	EMAIL_CODE_ENROLL, /* the user proves a destination (login, mfa-setup) */
};

/* Where a code goes: a login code to the verified factor of that id; an
 * enrollment code to dest, of method (email, sms), which becomes the
 * unverified factor of that method on record (replacing another
 * unverified one of the method) once sent. */
struct code_target {
	unsigned method;
	unsigned factor; /* EMAIL_CODE_LOGIN */
	const char *dest;
};

/* A code about to be sent, booked by store_code_book(). */
struct email_booking {
	enum email_code_use use;
	int64_t at; /* when it was booked */
	bool record_existed;
	unsigned enroll_codes; /* the day's count before it */
	int64_t enroll_codes_since;
};

/* How long a booked code may be on its way, in seconds: the method's
 * bound (email.timeout, sms.timeout) and a margin.  A booking older than
 * that was never finished (its process was killed) and holds nothing
 * back. */
int64_t email_booking_window(const struct mfa_config *cfg, unsigned method);

/* Books the sending of a code, so that the limits hold for logins racing
 * each other: while a code is on its way (booked less than the booking
 * window ago) no other is (*sending).  A login code goes to a verified
 * factor (else -ESTALE), no sooner than the method's resend_after after
 * the last sent while that one is valid.  To prove a destination (on
 * basis: -ESTALE if the factors changed), no sooner than resend_after
 * after the last code, and at most email.enroll_mails (sms.
 * enroll_messages) a day, counted here.  Past a limit: -EAGAIN, *wait in
 * seconds.  The pending code is not touched: until the code has gone out
 * (store_code_sent()), the user's last code works.  basis NULL for a
 * login code. */
int store_code_book(struct store *st, const struct mfa_config *cfg, const char *user,
		    enum email_code_use use, const struct store_basis *basis,
		    const struct code_target *to, time_t now, struct email_booking *booking,
		    long *wait, bool *sending, struct mfa_error *err);
/* The code went out: it becomes the pending one (replacing any other),
 * for an enrollment with to->dest as the unverified factor of its method;
 * the booking ends.  -ESTALE if the state no longer allows it (the
 * factors changed, the factor was removed). */
int store_code_sent(struct store *st, const struct mfa_config *cfg, const char *user,
		    const struct store_basis *basis, const struct code_target *to, const char *code,
		    const struct email_booking *booking, time_t now, struct mfa_error *err);
/* The code could not be sent: the booking ends, the day's count is as it
 * was, and state that only the booking made is removed.  A booking that is
 * not ending (its process killed) stops counting by itself. */
int store_code_unbook(struct store *st, const char *user, const struct email_booking *booking,
		      struct mfa_error *err);

/* A skip of the enrollment offer.  remember (opt-out): the skip is kept
 * until reset.  Either way -ESTALE if the factors are no longer those of
 * basis: a login must not pass without a code past an enrollment made
 * while the offer waited. */
int store_skip(struct store *st, const char *user, const struct store_basis *basis, bool remember,
	       time_t now, struct mfa_error *err);

/* The user removes a factor (mfa-setup): the factor of id factor, or with
 * factor 0 all of them (MFA turned off for the account, where the policy
 * allows it), with remember_skip (opt-out) remembered as the skip, if the
 * factors are still those of basis (else -ESTALE; the caller decided on
 * basis whether the policy allows it) and basis holds a good proof (else
 * -EPERM).  -ENOENT: no such factor. */
int store_remove_factor(struct store *st, const char *user, const struct store_basis *basis,
			unsigned factor, bool remember_skip, time_t now, struct mfa_error *err);

/* Relabels the factor of id factor; -ENOENT if there is none. */
int store_label_factor(struct store *st, const char *user, unsigned factor, const char *label,
		       struct mfa_error *err);

/* --- The administrator's operations (mfactl) --- */

enum provision_mode {
	PROVISION_NEW,	   /* -EEXIST if the user has a verified factor of the method */
	PROVISION_ADD,	   /* another, within factors.per_method (else -EDQUOT) */
	PROVISION_REPLACE, /* in place of every factor of the method */
};

/* Saves an app with t's secret, params and last_step (mfactl enroll,
 * import), labelled label, clearing failures and any skip.  *replaced
 * says whether PROVISION_REPLACE replaced one. */
int store_provision_totp(struct store *st, const struct mfa_config *cfg, const char *user,
			 const struct mfa_totp *t, const char *label, enum provision_mode mode,
			 time_t now, bool *replaced, struct mfa_error *err);
/* Saves dest as a verified factor of method (email, sms), as the
 * administrator's, labelled label (NULL: none), clearing
 * failures and any skip.  The same dest already verified: -EEXIST. */
int store_provision_dest(struct store *st, const struct mfa_config *cfg, const char *user,
			 unsigned method, const char *dest, const char *label,
			 enum provision_mode mode, time_t now, struct mfa_error *err);
/* Records a code just sent by an administrator to dest as the user's
 * pending one, dest becoming the unverified factor of method on record,
 * marked as the administrator's; with replace, verified factors of the
 * method give way in the same write.  -ESTALE if the user has a verified
 * factor of the method (and not replace). */
int store_code_by_admin(struct store *st, const struct mfa_config *cfg, const char *user,
			unsigned method, const char *dest, const char *code, bool replace,
			time_t now, struct mfa_error *err);

/* What a reset forgets: everything of the user (method 0, label NULL),
 * every factor of a method, or the factor of that label. */
struct store_reset_what {
	unsigned method;
	const char *label;
};

struct store_reset_result {
	bool had_state;			    /* there was something to reset */
	bool had_factor;		    /* ... and it was an enrolled factor */
	bool unreadable;		    /* the state was corrupt (reset all removes it) */
	unsigned factors;		    /* how many factors went */
	char notify[EMAIL_ADDRESS_MAX + 1]; /* a verified address it had */
};

/* Forgets what what says, failures with it; everything of the user,
 * corrupt or not, with what NULL or empty.  -ENOENT: no factor of that
 * label. */
int store_reset(struct store *st, const char *user, const struct store_reset_what *what,
		struct store_reset_result *res, struct mfa_error *err);
/* Forgets every user's state: factors, codes, failures, remembered skips
 * ("forget all devices").  *users: how many users had state. */
int store_reset_all(struct store *st, unsigned *users, struct mfa_error *err);
/* Clears the user's failures and lockout.  *failures: how many were
 * cleared; -ENOENT if the store has no state for the user. */
int store_unlock(struct store *st, const char *user, unsigned *failures, struct mfa_error *err);

/* Calls cb for every user the store holds state for, in no set order.  A
 * non-zero return from cb stops the walk and is returned. */
int store_list(struct store *st, int (*cb)(const char *user, void *ctx), void *ctx,
	       struct mfa_error *err);

/* For a listing of every user (mfactl status): reads every user's summary
 * at once, in one snapshot, from which store_summary() and store_list()
 * answer until the store is closed, and store_summary() is then safe to
 * call from several threads at once.  -EOPNOTSUPP: the backend has no
 * snapshot, reads each record as asked, and its store_summary() is safe
 * from several threads (files); any other error: store_summary() must be
 * called from one thread at a time. */
int store_snapshot(struct store *st, struct mfa_error *err);

enum store_entry {
	STORE_ENTRY_RECORD, /* a user's state, readable */
	STORE_ENTRY_BAD,    /* a user's state that cannot be read */
	STORE_ENTRY_LOCK,   /* the backend's own, harmless */
	STORE_ENTRY_TEMP,   /* left by an interrupted write, harmless */
	STORE_ENTRY_OTHER,  /* anything else: not the store's */
};

/* Checks the store's own health: calls cb for each entry with what it is
 * (name printable, message for a bad one). */
int store_check(struct store *st,
		int (*cb)(const char *name, enum store_entry kind, const char *message, void *ctx),
		void *ctx, struct mfa_error *err);

/* --- The postgresql database itself (store/pg_admin.c, for mfactl) --- */

/* Creates or upgrades pam_mfa's schema in the store's database: applies the
 * migrations of sql_dir (NNN_name.sql, numbered 1 to N without a gap;
 * README.md is ignored, any other entry refused) that the database has not
 * recorded in pam_mfa.schema_version, in order, each in one transaction
 * that must record exactly its own number, under an advisory lock so that
 * two at once are safe.  applied is called after each commit.  *before and
 * *after: the version found and the one reached.  A migration that fails is
 * rolled back and stops the run (err names the file); -EPROTO if the
 * database is newer than sql_dir; -EOPNOTSUPP for a files store.  Runs as
 * store.conninfo's role, which must own the schema (or may create it). */
int store_db_init(struct store *st, const char *sql_dir,
		  void (*applied)(unsigned version, const char *file, void *ctx), void *ctx,
		  unsigned *before, unsigned *after, struct mfa_error *err);

/* Reads the schema's version (pam_mfa.schema_version(), since version 5;
 * *version 0 without it) and calls problem for each way the rights differ
 * from sql/README.md's design, read from the catalog with the connecting
 * role: pam_mfa_host, pam_mfa_admin or PUBLIC with a right on a table or
 * sequence of the schema, or on pgcrypto's schema, EXECUTE on a function
 * beyond its role's (PUBLIC: none), a designed function it cannot
 * execute, a SECURITY DEFINER function without its fixed search_path or
 * owned by a superuser.  A non-zero return of problem stops and is
 * returned. */
int store_db_check(struct store *st, unsigned *version, int (*problem)(const char *what, void *ctx),
		   void *ctx, struct mfa_error *err);

/* --- This host's files store into a postgresql store (store/migrate.c) --- */

enum store_migrate_outcome {
	MIGRATE_COPIED,	  /* written (a dry run: would be) */
	MIGRATE_REPLACED, /* the database's state for the user replaced (force) */
	MIGRATE_CONFLICT, /* the database holds state for the user: skipped */
	MIGRATE_EMPTY,	  /* no factor, address or skip in the record: nothing to copy */
	MIGRATE_BAD,	  /* the record cannot be read (error says why) */
	MIGRATE_FAILED,	  /* the database refused or failed (error says why) */
};

/* What became of one user's record; never a secret. */
struct store_migrate_user {
	const char *user;
	enum store_migrate_outcome outcome;
	/* What the record holds: an app, an address (a verified one), a
	 * phone number, a remembered skip. */
	bool totp, email, email_verified, sms, skip;
	struct mfa_error error;
};

/* Copies the records of cfg's state_dir (the files backend) into target,
 * a postgresql store, one user and one transaction at a time, in the
 * order of their names: every factor (apps with their secrets, parameters
 * and replay steps, addresses and phone numbers with whether they are
 * verified, labels, whether the administrator's, when added and last
 * used), a remembered skip (pending codes, failures, lockouts and last
 * logins are not copied).  A user the database holds state for is skipped, or with
 * force replaced (its failures and lockout stay).  dry_run writes nothing
 * and says what would be done.  cb is called for each user; its non-zero
 * return stops and is returned. */
int store_migrate_files(const struct mfa_config *cfg, struct store *target, bool force,
			bool dry_run, int (*cb)(const struct store_migrate_user *u, void *ctx),
			void *ctx, struct mfa_error *err);

/* For bulk writers (mfactl import): writes stop being synced one by one;
 * nothing written is durable until store_sync() returns 0. */
void store_defer_sync(struct store *st);
int store_sync(struct store *st, struct mfa_error *err);

#endif
