/* Recovery codes: the one-time codes a user keeps on paper for when the
 * phone is lost.  Made here, shown once, kept only as salted hashes (the
 * HMAC of code_hash.h); each works once, in any order.  Twelve symbols of
 * an alphabet without look-alikes (no 0/o, 1/l/i), in three groups of
 * four: 59 bits each, typed in either case, with or without the dashes. */
#ifndef PAM_MFA_RECOVERY_H
#define PAM_MFA_RECOVERY_H

#include <stdbool.h>

#include "code_hash.h"

/* The symbols of a code, and the code as shown: "7kq3-m9xa-bz4t". */
#define RECOVERY_CODE_SYMBOLS 12
#define RECOVERY_CODE_TEXT (RECOVERY_CODE_SYMBOLS + 2 + 1)
/* The most codes a set may hold; recovery.codes says how many are made. */
#define RECOVERY_CODES_MAX 20

/* A fresh code, uniform over the alphabet, as shown (with the dashes). */
int recovery_code_new(char out[RECOVERY_CODE_TEXT]);

/* Whether typed has the form of a recovery code (12 symbols of the
 * alphabet, in either case, dashes and spaces ignored); if so, its
 * canonical form (lower case, no dashes) in out. */
bool recovery_code_normalize(const char *typed, char out[RECOVERY_CODE_SYMBOLS + 1]);

/* A google-authenticator scratch code, imported as a recovery code: 8
 * digits, canonical as they are. */
#define RECOVERY_SCRATCH_DIGITS 8
/* The longest canonical code. */
#define RECOVERY_CANONICAL_MAX RECOVERY_CODE_SYMBOLS

/* Whether text is a canonical code the store may keep: 12 symbols of the
 * alphabet in lower case, or 8 digits. */
bool recovery_code_is_canonical(const char *text);

/* What a user typed at a code prompt, if it is a recovery or bypass code
 * rather than a code of code_digits digits (the prompt's own): the
 * recovery form (recovery_code_normalize()), or 8 digits where the
 * prompt's codes are not 8 digits long (an imported scratch code).  Its
 * canonical form in out. */
bool recovery_code_canonical(const char *typed, unsigned code_digits,
			     char out[RECOVERY_CANONICAL_MAX + 1]);

/* A fresh set of n codes (1 to RECOVERY_CODES_MAX, no two alike): as
 * shown in shown, canonical in canon.  0, or -EIO (wiped). */
int recovery_codes_make(unsigned n, char shown[][RECOVERY_CODE_TEXT],
			char canon[][RECOVERY_CANONICAL_MAX + 1]);

/* HMAC-SHA256(salt, canonical code); 0 or -EIO. */
int recovery_code_hash(const unsigned char salt[EMAIL_SALT_LEN], const char *canonical,
		       unsigned char out[EMAIL_HASH_LEN]);

#endif
