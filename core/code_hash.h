/* One-time codes: a fresh random code, and its salted HMAC-SHA256 through
 * libcrypto loaded on first use (dynload.h).  A record keeps only the salt
 * and the hash, so that reading the state does not give away a code. */
#ifndef PAM_MFA_CODE_HASH_H
#define PAM_MFA_CODE_HASH_H

#define EMAIL_CODE_DIGITS_MAX 10
#define EMAIL_SALT_LEN 16
#define EMAIL_HASH_LEN 32

/* A fresh code of digits decimal digits, uniform, from getrandom. */
int email_code_new(unsigned digits, char *out);

/* HMAC-SHA256(salt, code); 0 or -EIO. */
int email_code_hash(const unsigned char salt[EMAIL_SALT_LEN], const char *code,
		    unsigned char out[EMAIL_HASH_LEN]);

#endif
