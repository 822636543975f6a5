/* The files backend of the store: one record per user in a root-only
 * directory, read whole, replaced atomically, updated under a per-user
 * lock.  Only the backend (files.c, files_ops.c) and its tests use this;
 * everyone else asks store.h. */
#ifndef PAM_MFA_STORE_FILES_H
#define PAM_MFA_STORE_FILES_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "record.h"
#include "util.h"

/* Parses the contents of a record file: the newest intact of its two slots,
 * or the text alone in the single-text form of earlier versions (see
 * pam_mfa.conf(5), STATE RECORDS).  0, or -EINVAL with err saying why. */
int record_file_parse(const char *buf, size_t len, const char *expected_user,
		      struct mfa_record *rec, struct mfa_error *err);
/* The CRC-32 of the slots (zlib's crc32(), which it equals). */
uint32_t files_crc32(uint32_t crc, const unsigned char *p, size_t len);

enum files_entry {
	FILES_ENTRY_RECORD, /* a valid user name */
	FILES_ENTRY_LOCK,   /* .lock.USER */
	FILES_ENTRY_TEMP,   /* .tmp.*: left by an interrupted write */
	FILES_ENTRY_OTHER,  /* anything else: nothing of ours */
};

struct files_store;
struct files_txn;

/* Opens the state directory after checking every path component; the
 * directory itself must be root-owned with no group or other access.
 * -ENOENT (with err set) if it does not exist and STORE_CREATE is not given. */
int files_open(const char *dir, int flags, struct files_store **out, struct mfa_error *err);
void files_close(struct files_store *st);

/* store_prove()'s proof on the files store: this handle's own, for one
 * user, good for STORE_PROOF_SECONDS (a wrong code while proving the new
 * factor must not spend it).  make writes it to out (STORE_PROOF_MAX + 1
 * bytes); holds says whether proof is it and still good. */
int files_proof_make(struct files_store *st, const char *user, int64_t now, char *out);
bool files_proof_holds(struct files_store *st, const char *user, const char *proof, int64_t now);
/* For bulk writers (mfactl import): files_commit() stops syncing each record;
 * nothing written is durable until files_sync() returns 0. */
void files_defer_sync(struct files_store *st);
int files_sync(struct files_store *st, struct mfa_error *err);

/* Reads a user's record without locking (records are replaced atomically).
 * -ENOENT if the user has none; -EINVAL if it is corrupt; err says which. */
int files_load(struct files_store *st, const char *user, struct mfa_record *rec,
	       struct mfa_error *err);

/* Locks the user's record without reading it: for removing a record that
 * may be corrupt.  The lock is held until files_end().  -ETIMEDOUT (err
 * says so) if another process held it for STORE_LOCK_WAIT_SECONDS. */
int files_lock(struct files_store *st, const char *user, struct files_txn **txn,
	       struct mfa_error *err);
/* Locks the user's record and reads it: *exists tells whether there was one
 * (if not, rec is freshly initialised).  The lock is held until files_end(). */
int files_begin(struct files_store *st, const char *user, struct files_txn **txn,
		struct mfa_record *rec, bool *exists, struct mfa_error *err);
/* Whether rec still holds the factors of basis: its factors_tag is the
 * basis's version (a record that does not exist has the tag 0 of a fresh
 * one). */
bool files_basis_holds(const struct store_basis *basis, const struct mfa_record *rec);
/* files_begin() for a write that a decision to enroll, skip or replace
 * rests on: the one check every such write makes.  basis is what the user
 * was shown; if the record's factors are no longer those (another login,
 * mfa-setup or an admin changed them meanwhile), nothing is locked and it
 * returns -ESTALE with err saying so.  basis NULL: files_begin(). */
int files_begin_unchanged(struct files_store *st, const char *user, const struct store_basis *basis,
			  struct files_txn **txn, struct mfa_record *rec, bool *exists,
			  struct mfa_error *err);
/* Replaces the record atomically and durably. */
int files_commit(struct files_txn *txn, const struct mfa_record *rec, struct mfa_error *err);
/* Removes the record (and its lock file) durably; returns 1 if there was a
 * record, 0 if there was none. */
int files_remove(struct files_txn *txn, struct mfa_error *err);
void files_end(struct files_txn *txn);

/* Calls cb for every user that has a record (whatever the type of the entry:
 * files_load() judges it), in directory order.  Creates nothing.  A non-zero
 * return from cb stops the walk and is returned. */
int files_list(struct files_store *st, int (*cb)(const char *user, void *ctx), void *ctx,
	       struct mfa_error *err);

/* Like files_list(), for every entry of the directory and its kind. */
int files_scan(struct files_store *st,
	       int (*cb)(const char *name, enum files_entry kind, void *ctx), void *ctx,
	       struct mfa_error *err);

/* The one read-modify-write of a user's record: locks it, reads it afresh
 * (a fresh record if there is none), checks it still holds the factors of
 * basis (NULL: no check; -ESTALE if not), and calls change(rec, exists,
 * ctx), which returns FILES_WRITE to commit the changed record, FILES_KEEP
 * to leave it as it was, FILES_REMOVE to remove it, or -errno.  The record
 * is wiped and the lock released on every path. */
enum { FILES_KEEP = 0, FILES_WRITE = 1, FILES_REMOVE = 2 };
int files_update(struct files_store *st, const char *user, const struct store_basis *basis,
		 int (*change)(struct mfa_record *rec, bool exists, void *ctx), void *ctx,
		 struct mfa_error *err);

/* The backend's operations (files_ops.c). */
extern const struct store_ops files_store_ops;

#endif
