/* Handling of secrets in memory: wiping and constant-time comparison.
 * Every buffer that held a secret or a code goes through secure_wipe(). */
#ifndef PAM_MFA_SECMEM_H
#define PAM_MFA_SECMEM_H

#include <stdbool.h>
#include <stddef.h>

void secure_wipe(void *buf, size_t len);
/* Wipes and frees a NUL-terminated string; NULL is fine. */
void secure_free_string(char *s);
/* Compares two buffers of equal length in time independent of their contents. */
bool consttime_equal(const void *a, const void *b, size_t len);
/* Fills buf with len bytes from the kernel's CSPRNG; 0 or -errno. */
int secure_random(void *buf, size_t len);

#endif
