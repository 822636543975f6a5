/* Helpers shared by the unit tests: a private scratch directory under the
 * build tree that passes pam_mfa's trust checks (root-owned, mode 0700),
 * and small file utilities that fail the current cmocka test on error. */
#ifndef PAM_MFA_UNIT_HELPERS_H
#define PAM_MFA_UNIT_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/types.h>
#include <cmocka.h>

/* Exit status that makes meson report a test as skipped. */
#define UNIT_EXIT_SKIP 77

/* Returns 0 when the tests can run (root, a trusted scratch base), else
 * prints why and returns UNIT_EXIT_SKIP or 1 for main() to return. */
int unit_preflight(void);

/* A new directory of mode 0700 under $PAM_MFA_TEST_TMPDIR; free with
 * scratch_remove(). */
char *scratch_new(void);
/* Removes the tree (without following symbolic links) and frees path. */
void scratch_remove(char *path);

/* dir + "/" + name, newly allocated. */
char *path_join(const char *dir, const char *name);
/* Creates or truncates path, writes len bytes and sets mode exactly
 * (regardless of the umask). */
void write_file(const char *path, const void *data, size_t len, mode_t mode);
void write_text(const char *path, const char *text, mode_t mode);
/* Number of entries in dir, "." and ".." not counted. */
size_t dir_entry_count(const char *dir);

/* Fails the test unless haystack contains needle, showing both. */
#define assert_contains(haystack, needle) \
	unit_assert_contains((haystack), (needle), __FILE__, __LINE__)
void unit_assert_contains(const char *haystack, const char *needle, const char *file, int line);

#endif
