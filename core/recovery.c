/* Recovery codes; see recovery.h. */
#include <errno.h>
#include <string.h>

#include "recovery.h"
#include "secmem.h"

/* 31 symbols: digits and lower-case letters without 0, 1, i, l and o. */
static const char alphabet[] = "23456789abcdefghjkmnpqrstuvwxyz";
#define ALPHABET_SIZE (sizeof(alphabet) - 1)

int recovery_code_new(char out[RECOVERY_CODE_TEXT])
{
	size_t o = 0;

	for (unsigned i = 0; i < RECOVERY_CODE_SYMBOLS; i++) {
		unsigned char b;
		int r;

		if (i > 0 && i % 4 == 0)
			out[o++] = '-';
		/* Rejection sampling: 248 = 8 * 31 keeps the symbols uniform. */
		do {
			r = secure_random(&b, 1);
			if (r < 0) {
				secure_wipe(out, RECOVERY_CODE_TEXT);
				return r;
			}
		} while (b >= 248);
		out[o++] = alphabet[b % ALPHABET_SIZE];
	}
	out[o] = '\0';
	return 0;
}

bool recovery_code_normalize(const char *typed, char out[RECOVERY_CODE_SYMBOLS + 1])
{
	size_t n = 0;

	for (const char *p = typed; *p != '\0'; p++) {
		char c = *p;

		if (c == '-' || c == ' ')
			continue;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c == '\0' || strchr(alphabet, c) == NULL || n == RECOVERY_CODE_SYMBOLS) {
			secure_wipe(out, RECOVERY_CODE_SYMBOLS + 1);
			return false;
		}
		out[n++] = c;
	}
	out[n] = '\0';
	if (n != RECOVERY_CODE_SYMBOLS) {
		secure_wipe(out, RECOVERY_CODE_SYMBOLS + 1);
		return false;
	}
	return true;
}

int recovery_code_hash(const unsigned char salt[EMAIL_SALT_LEN], const char *canonical,
		       unsigned char out[EMAIL_HASH_LEN])
{
	/* The same HMAC as a sent code's, over a text that no sent code (all
	 * digits, at most EMAIL_CODE_DIGITS_MAX) can be. */
	return email_code_hash(salt, canonical, out);
}

bool recovery_code_is_canonical(const char *text)
{
	size_t n = strlen(text);

	if (n == RECOVERY_SCRATCH_DIGITS && strspn(text, "0123456789") == n)
		return true;
	return n == RECOVERY_CODE_SYMBOLS && strspn(text, alphabet) == n;
}

bool recovery_code_canonical(const char *typed, unsigned code_digits,
			     char out[RECOVERY_CANONICAL_MAX + 1])
{
	const char *p = typed + strspn(typed, " \t");
	size_t n = strspn(p, "0123456789");

	if (recovery_code_normalize(typed, out))
		return true;
	if (code_digits == RECOVERY_SCRATCH_DIGITS || n != RECOVERY_SCRATCH_DIGITS ||
	    p[n + strspn(p + n, " \t")] != '\0')
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

int recovery_codes_make(unsigned n, char shown[][RECOVERY_CODE_TEXT],
			char canon[][RECOVERY_CANONICAL_MAX + 1])
{
	if (n < 1 || n > RECOVERY_CODES_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		bool again;

		do {
			int r = recovery_code_new(shown[i]);

			if (r < 0 || !recovery_code_normalize(shown[i], canon[i])) {
				secure_wipe(shown, n * sizeof(shown[0]));
				secure_wipe(canon, n * sizeof(canon[0]));
				return -EIO;
			}
			/* Two alike in 59 bits is all but impossible; a set
			 * must still never hold one twice. */
			again = false;
			for (unsigned j = 0; j < i; j++)
				again = again || strcmp(canon[i], canon[j]) == 0;
		} while (again);
	}
	return 0;
}
