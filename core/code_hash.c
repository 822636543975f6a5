/* One-time codes and their hashes; see code_hash.h.  libcrypto is loaded
 * by dynload.c only when a code is hashed: most logins never need it. */
#include <errno.h>
#include <string.h>

#include "code_hash.h"
#include "dynload.h"
#include "secmem.h"

int email_code_new(unsigned digits, char *out)
{
	for (unsigned i = 0; i < digits; i++) {
		unsigned char b;
		int r;

		/* Rejection sampling: 250 = 25 * 10 keeps the digits uniform. */
		do {
			r = secure_random(&b, 1);
			if (r < 0)
				return r;
		} while (b >= 250);
		out[i] = (char)('0' + b % 10);
	}
	out[digits] = '\0';
	return 0;
}

static int hmac_sha256(const unsigned char *key, size_t key_len, const unsigned char *data,
		       size_t len, unsigned char out[32])
{
	struct crypto_api api;
	unsigned int n = 0;

	if (crypto_api_load(&api) < 0 || key_len > 1024 ||
	    api.hmac(api.sha256(), key, (int)key_len, data, len, out, &n) == NULL || n != 32)
		return -EIO;
	return 0;
}

int email_code_hash(const unsigned char salt[EMAIL_SALT_LEN], const char *code,
		    unsigned char out[EMAIL_HASH_LEN])
{
	_Static_assert(EMAIL_HASH_LEN == 32, "the hash is HMAC-SHA256");
	return hmac_sha256(salt, EMAIL_SALT_LEN, (const unsigned char *)code, strlen(code), out);
}
