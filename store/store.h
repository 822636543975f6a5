/* The on-disk state store: one record per user in a root-only directory.
 * Callers see records and transactions, never files, so that another backend
 * (a networked one for fleets) can stand behind the same interface. */
#ifndef PAM_MFA_STORE_H
#define PAM_MFA_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "record.h"
#include "util.h"

/* Parses the contents of a record file: the newest intact of its two slots,
 * or the text alone in the single-text form of earlier versions (see
 * pam_mfa.conf(5), STATE RECORDS).  0, or -EINVAL with err saying why. */
int record_file_parse(const char *buf, size_t len, const char *expected_user,
		      struct mfa_record *rec, struct mfa_error *err);
/* The CRC-32 of the slots (zlib's crc32(), which it equals). */
uint32_t store_crc32(uint32_t crc, const unsigned char *p, size_t len);

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
