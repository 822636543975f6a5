/* A user's record and its text format: see record.c. */
#ifndef PAM_MFA_RECORD_H
#define PAM_MFA_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "email.h"
#include "policy.h"
#include "recovery.h"
#include "totp.h"
#include "util.h"

/* Version 2 added skip.since, version 3 the email.* keys, version 4 who set
 * the address and the count of enrollment mails, version 5 the factors as
 * a list (several apps, addresses and phone numbers) and the factors' tag,
 * version 6 the recovery codes, the bypass code and the last lockout
 * notice; older records are still read. */
#define STORE_RECORD_VERSION 6
/* The largest record read; a larger file is corrupt by definition.  Two
 * slots of the largest size (store/files.c): the largest record, with 24
 * factors and a set of 20 recovery codes, needs slots of 16384 bytes. */
#define STORE_RECORD_MAX 32768
#define STORE_TEXT_MAX 255

/* Factors a record may hold, of all methods, verified or not: above any
 * bound factors.per_method allows (3 methods x 8). */
#define RECORD_FACTORS_MAX 24
/* A factor's label: what the user calls it ("phone", "tablet"). */
#define FACTOR_LABEL_MAX 32
/* Where a sent code goes: an email address or an E.164 number. */
#define FACTOR_DEST_MAX EMAIL_ADDRESS_MAX

/* The TOTP part of a factor: the app's secret and its replay step. */
struct mfa_totp {
	bool enrolled;
	struct totp_params params;
	unsigned char secret[TOTP_SECRET_MAX];
	size_t secret_len;
	int64_t enrolled_at;
	uint64_t last_step; /* last accepted time step of this app; 0: none yet */
};

/* One second factor of a user: an authenticator app (METHOD_TOTP), an
 * email address (METHOD_EMAIL) or a phone number (METHOD_SMS).  An
 * address or number counts only once verified (proved with a code, or
 * set by an administrator as verified); an app is saved only proved. */
struct mfa_factor {
	unsigned id;	 /* 1..: unique in the record, never reused */
	unsigned method; /* one METHOD_* bit */
	char label[FACTOR_LABEL_MAX + 1];
	bool verified;
	bool by_admin;			/* an administrator set it (mfactl) */
	int64_t added;			/* when it was saved (an app) or verified */
	int64_t last_used;		/* last login with it; 0: never */
	struct mfa_totp totp;		/* METHOD_TOTP */
	char dest[FACTOR_DEST_MAX + 1]; /* METHOD_EMAIL, METHOD_SMS */
};

/* The one code a user has been sent (email or SMS) and not spent: to
 * which factor, its salted hash, expiry and sending, and for enrollment
 * the limits of codes to destinations not yet proved. */
struct mfa_sent_code {
	bool pending;
	unsigned factor; /* the factor's id it was sent to */
	unsigned char salt[EMAIL_SALT_LEN];
	unsigned char hash[EMAIL_HASH_LEN];
	int64_t expires;
	int64_t sent;
	/* A code another process is sending right now, since when; 0:
	 * none.  It holds other codes back for as long as that may take. */
	int64_t booked;
	/* Codes a user had sent to prove a destination: how many since when
	 * (email and SMS together; each method's own bound applies). */
	unsigned enroll_codes;
	int64_t enroll_codes_since;
};

/* A recovery or bypass code as kept: a salt of its own and
 * HMAC-SHA256(salt, canonical code) (recovery_code_hash()), never the
 * code. */
struct mfa_kept_code {
	unsigned char salt[EMAIL_SALT_LEN];
	unsigned char hash[EMAIL_HASH_LEN];
};

/* Who made a set of recovery codes: the values of store.h's enum
 * store_recovery_source, which core/ cannot see. */
enum record_codes_source {
	RECORD_CODES_NONE,
	RECORD_CODES_USER,
	RECORD_CODES_ADMIN,
	RECORD_CODES_IMPORTED,
};

/* The user's recovery codes: the whole set as made (n: 0, no set), each
 * code spent at most once and then kept as used, so that the set's size
 * stays known. */
struct mfa_recovery_set {
	unsigned n;
	enum record_codes_source source;
	int64_t since; /* when it was made */
	struct mfa_kept_code codes[RECOVERY_CODES_MAX];
	int64_t used[RECOVERY_CODES_MAX]; /* when each was used; 0: not yet */
};

/* The most uses of a bypass code (store.h's STORE_BYPASS_USES_MAX). */
#define RECORD_BYPASS_USES_MAX 100

/* The helpdesk's bypass code: kept when used up or expired, so that it is
 * told apart from a wrong code (VERIFY_EXPIRED), until revoked or
 * replaced. */
struct mfa_bypass {
	bool set;
	struct mfa_kept_code code;
	unsigned uses_left;
	int64_t expires;
	int64_t made;
};

struct mfa_record {
	char user[USER_NAME_MAX + 1];
	/* Changes, to a fresh random value, with every change of the
	 * verified factors, and never comes back: what an enrollment's or a
	 * skip's basis names (store.h).  Records before version 5 have one
	 * made of their factors when read. */
	uint64_t factors_tag;
	unsigned next_factor_id;
	struct mfa_factor factors[RECORD_FACTORS_MAX];
	unsigned n_factors;
	struct mfa_sent_code code;
	unsigned fail_count;  /* failures since fail_since */
	int64_t fail_since;   /* first failure of the current interval; 0: none */
	int64_t locked_until; /* 0: not locked; -1: until an admin unlocks */
	int64_t last_login;   /* last successful second factor; 0: never */
	char last_service[STORE_TEXT_MAX + 1];
	char last_rhost[STORE_TEXT_MAX + 1];
	int64_t skip_since; /* an opt-out skip remembered since; 0: none */
	struct mfa_recovery_set recovery;
	struct mfa_bypass bypass;
	int64_t lock_notice; /* the last lockout notice; 0: none */
};

void record_init(struct mfa_record *rec, const char *user);
/* The factors the record holds, as METHOD_* bits: verified ones only. */
unsigned record_methods(const struct mfa_record *rec);
/* How many verified factors of method the record holds. */
unsigned record_count(const struct mfa_record *rec, unsigned method);
/* The factor of that id, or NULL. */
struct mfa_factor *record_factor(struct mfa_record *rec, unsigned id);
/* Appends a factor (id from next_factor_id, the rest zero) and returns
 * it, or NULL if the record holds RECORD_FACTORS_MAX. */
struct mfa_factor *record_add_factor(struct mfa_record *rec, unsigned method);
/* Removes the factor of that id (wiping it); a code pending for it goes
 * too.  Whether it was there. */
bool record_remove_factor(struct mfa_record *rec, unsigned id);
/* A fresh factors_tag: after every change of the verified factors. */
int record_new_tag(struct mfa_record *rec);
/* A label a user or an administrator may give: 1 to FACTOR_LABEL_MAX
 * letters, digits, spaces and ".-_+@()", not starting or ending with a
 * space. */
bool factor_label_valid(const char *label);
/* Forgets the pending code (wiping its hash); the limits stay. */
void record_drop_code(struct mfa_record *rec);
/* How many of the recovery set's codes are not used yet. */
unsigned record_recovery_left(const struct mfa_record *rec);
/* Forgets the recovery set and the bypass code (wiping their hashes):
 * they belong to the verified factors they stand in for. */
void record_drop_backup(struct mfa_record *rec);
/* Wipes the whole record, secret included. */
void record_wipe(struct mfa_record *rec);
/* Sets a text field from an untrusted string, replacing what is not
 * printable ASCII and truncating. */
void record_set_text(char *field, const char *value);

/* Parses a record strictly.  expected_user, if not NULL, must match the
 * record's own user line.  0, or -EINVAL with err saying where. */
int record_parse(const char *buf, size_t len, const char *expected_user, struct mfa_record *rec,
		 struct mfa_error *err);

/* Formats rec into buf; returns the length or -ENOBUFS. */
int record_format(const struct mfa_record *rec, char *buf, size_t buflen);

#endif
