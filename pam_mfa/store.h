/* The on-disk state store: one record per user in a root-only directory.
 * Callers see records and transactions, never files, so that another backend
 * (a networked one for fleets) can stand behind the same interface. */
#ifndef PAM_MFA_STORE_H
#define PAM_MFA_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "email.h"
#include "policy.h"
#include "totp.h"
#include "util.h"

/* Version 2 added skip.since, version 3 the email.* keys, version 4 who set
 * the address and the count of enrollment mails; older records are still
 * read. */
#define STORE_RECORD_VERSION 4
/* The largest record read; a larger file is corrupt by definition. */
#define STORE_RECORD_MAX 4096
#define STORE_TEXT_MAX 255

struct mfa_totp {
	bool enrolled;
	struct totp_params params;
	unsigned char secret[TOTP_SECRET_MAX];
	size_t secret_len;
	int64_t enrolled_at;
	uint64_t last_step; /* last accepted time step; 0: none yet */
};

struct mfa_email {
	char address[EMAIL_ADDRESS_MAX + 1]; /* empty: none */
	bool verified;			     /* proved with a code: the factor is enrolled */
	int64_t enrolled_at;		     /* when it was proved */
	/* One pending code at a time: its salted hash, expiry and sending. */
	bool code_pending;
	unsigned char code_salt[EMAIL_SALT_LEN];
	unsigned char code_hash[EMAIL_HASH_LEN];
	int64_t code_expires;
	int64_t code_sent;
	bool by_admin; /* an administrator set the address (mfactl) */
	/* Codes a user had sent to prove an address: how many since when. */
	unsigned enroll_mails;
	int64_t enroll_mails_since;
	/* A code another process is mailing right now, since when; 0: none.
	 * It holds other codes back for as long as that mail may take. */
	int64_t code_booked;
};

struct mfa_record {
	char user[USER_NAME_MAX + 1];
	struct mfa_totp totp;
	unsigned fail_count;  /* failures since fail_since */
	int64_t fail_since;   /* first failure of the current interval; 0: none */
	int64_t locked_until; /* 0: not locked; -1: until an admin unlocks */
	int64_t last_login;   /* last successful second factor; 0: never */
	char last_service[STORE_TEXT_MAX + 1];
	char last_rhost[STORE_TEXT_MAX + 1];
	int64_t skip_since; /* an opt-out skip remembered since; 0: none */
	struct mfa_email email;
};

void record_init(struct mfa_record *rec, const char *user);
/* The factors the record holds, as METHOD_* bits: TOTP when enrolled, email
 * once the address is verified. */
unsigned record_methods(const struct mfa_record *rec);

/* The factors a record holds, as a decision to enroll, skip or replace saw
 * them: the enrolled TOTP secret and the verified address, with when each
 * was enrolled.  An unverified address is not a factor. */
struct record_factors {
	unsigned methods;
	unsigned char totp_secret[TOTP_SECRET_MAX];
	size_t totp_secret_len;
	int64_t totp_enrolled_at;
	char email_address[EMAIL_ADDRESS_MAX + 1];
	int64_t email_enrolled_at;
};

void record_factors_take(const struct mfa_record *rec, struct record_factors *out);
/* Whether rec holds exactly the factors of basis (secrets compared in
 * constant time). */
bool record_factors_held(const struct record_factors *basis, const struct mfa_record *rec);
void record_factors_wipe(struct record_factors *f);
/* Wipes the whole record, secret included. */
void record_wipe(struct mfa_record *rec);
/* Sets a text field from an untrusted string, replacing what is not
 * printable ASCII and truncating. */
void record_set_text(char *field, const char *value);

/* Parses a record strictly.  expected_user, if not NULL, must match the
 * record's own user line.  0, or -EINVAL with err saying where. */
int record_parse(const char *buf, size_t len, const char *expected_user, struct mfa_record *rec,
		 struct mfa_error *err);
/* Parses the contents of a record file: the newest intact of its two slots,
 * or the text alone in the single-text form of earlier versions (see
 * pam_mfa.conf(5), STATE RECORDS).  0, or -EINVAL with err saying why. */
int record_file_parse(const char *buf, size_t len, const char *expected_user,
		      struct mfa_record *rec, struct mfa_error *err);
/* The CRC-32 of the slots (zlib's crc32(), which it equals). */
uint32_t store_crc32(uint32_t crc, const unsigned char *p, size_t len);
/* Formats rec into buf; returns the length or -ENOBUFS. */
int record_format(const struct mfa_record *rec, char *buf, size_t buflen);

struct store;
struct store_txn;

enum store_open_flags {
	STORE_READ_ONLY = 0,
	STORE_CREATE = 1, /* create the state directory (mode 0700) if missing */
};

/* Opens the state directory after checking every path component; the
 * directory itself must be root-owned with no group or other access.
 * -ENOENT (with err set) if it does not exist and STORE_CREATE is not given. */
int store_open(const char *dir, int flags, struct store **out, struct mfa_error *err);
void store_close(struct store *st);
/* For bulk writers (mfactl import): store_commit() stops syncing each record;
 * nothing written is durable until store_sync() returns 0. */
void store_defer_sync(struct store *st);
int store_sync(struct store *st, struct mfa_error *err);

/* Reads a user's record without locking (records are replaced atomically).
 * -ENOENT if the user has none; -EINVAL if it is corrupt; err says which. */
int store_load(struct store *st, const char *user, struct mfa_record *rec, struct mfa_error *err);

/* How long a writer waits for a user's lock before it gives up: a process
 * stopped while it holds the lock (a suspended su or mfa-setup) must not
 * hang every later login of that user. */
#define STORE_LOCK_WAIT_SECONDS 5

/* Locks the user's record without reading it: for removing a record that
 * may be corrupt.  The lock is held until store_end().  -ETIMEDOUT (err
 * says so) if another process held it for STORE_LOCK_WAIT_SECONDS. */
int store_lock(struct store *st, const char *user, struct store_txn **txn, struct mfa_error *err);
/* Locks the user's record and reads it: *exists tells whether there was one
 * (if not, rec is freshly initialised).  The lock is held until store_end(). */
int store_begin(struct store *st, const char *user, struct store_txn **txn, struct mfa_record *rec,
		bool *exists, struct mfa_error *err);
/* store_begin() for a write that a decision to enroll, skip or replace
 * rests on: the one check every such write makes.  basis is what the user
 * was shown; if the record's factors are no longer those (another login,
 * mfa-setup or an admin changed them meanwhile), nothing is locked and it
 * returns -ESTALE with err saying so.  basis NULL: store_begin(). */
int store_begin_unchanged(struct store *st, const char *user, const struct record_factors *basis,
			  struct store_txn **txn, struct mfa_record *rec, bool *exists,
			  struct mfa_error *err);
/* Replaces the record atomically and durably. */
int store_commit(struct store_txn *txn, const struct mfa_record *rec, struct mfa_error *err);
/* Removes the record (and its lock file) durably; returns 1 if there was a
 * record, 0 if there was none. */
int store_remove(struct store_txn *txn, struct mfa_error *err);
void store_end(struct store_txn *txn);

/* Calls cb for every user that has a record (whatever the type of the entry:
 * store_load() judges it), in directory order.  Creates nothing.  A non-zero
 * return from cb stops the walk and is returned. */
int store_list(struct store *st, int (*cb)(const char *user, void *ctx), void *ctx,
	       struct mfa_error *err);

enum store_entry {
	STORE_ENTRY_RECORD, /* a valid user name */
	STORE_ENTRY_LOCK,   /* .lock.USER */
	STORE_ENTRY_TEMP,   /* .tmp.*: left by an interrupted write */
	STORE_ENTRY_OTHER,  /* anything else: nothing of ours */
};

/* Like store_list(), for every entry of the directory and its kind. */
int store_scan(struct store *st, int (*cb)(const char *name, enum store_entry kind, void *ctx),
	       void *ctx, struct mfa_error *err);

#endif
