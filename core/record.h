/* A user's record and its text format: see record.c. */
#ifndef PAM_MFA_RECORD_H
#define PAM_MFA_RECORD_H

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
/* Whether a and b are the same factors (secrets compared in constant time). */
bool record_factors_equal(const struct record_factors *a, const struct record_factors *b);
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

/* Formats rec into buf; returns the length or -ENOBUFS. */
int record_format(const struct mfa_record *rec, char *buf, size_t buflen);

#endif
