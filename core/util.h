/* Small helpers shared by the module and mfactl: error messages, user-name
 * validation, log-safe strings, number parsing, and opening paths whose every
 * component is trusted (root-owned, not writable by others). */
#ifndef PAM_MFA_UTIL_H
#define PAM_MFA_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Library code never logs: it returns -errno and fills one of these, and the
 * caller (module or CLI) decides where the message goes. */
struct mfa_error {
	char msg[768];
};

void mfa_error_set(struct mfa_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Longest user name accepted; longer ones are refused, never truncated. */
#define USER_NAME_MAX 128

/* A user name becomes a file name, so only [A-Za-z0-9_.@-] are allowed, it
 * must not start with '.' or '-', and it is at most USER_NAME_MAX bytes. */
bool user_name_valid(const char *name);

/* True if the errno of a get*nam_r() call means "no such entry": glibc
 * returns 0 with no result, but some NSS modules use these instead. */
bool nss_not_found(int r);

/* 1 if the user is in the passwd database, 0 if not, -ENOMEM or -EIO if
 * NSS could not tell (a directory server down is not an unknown user). */
int user_lookup(const char *user);
/* The same, and the user's primary group in *gid when found. */
int user_primary_gid(const char *user, gid_t *gid);

/* Copies in to out (size outlen > 0) with every byte that is not printable
 * ASCII replaced by '?', truncated to fit: for logging untrusted strings. */
void sanitize_printable(const char *in, char *out, size_t outlen);

/* Strict unsigned decimal: no sign, no spaces, no leading zeros (but "0"),
 * at most max. 0 or -EINVAL / -ERANGE. */
int parse_u64(const char *s, uint64_t max, uint64_t *out);

/* Opens the directory at the absolute path, refusing symbolic links, "." and
 * ".." components, and any component not owned by root or writable by group
 * or others (unless it is a sticky directory such as /tmp).  Returns an
 * O_DIRECTORY fd or -errno with err filled. */
int open_trusted_dir(const char *path, struct mfa_error *err);

/* Opens a regular file read-only through a trusted directory path: root-owned,
 * not writable by group or others, one link, at most max_size bytes.  Returns
 * an fd or -errno with err filled. */
int open_trusted_file(const char *path, off_t max_size, struct mfa_error *err);

/* Reads the whole of fd (at most max bytes, else -EFBIG) into a new
 * NUL-terminated buffer. */
int read_all(int fd, size_t max, char **out, size_t *out_len);

/* Reads a secret (a password, a token) from a file trusted as
 * open_trusted_file() trusts one, that in addition no one but root may
 * read (no permission for group or others), of at most max bytes and no
 * NUL: its contents less the line ends at its end, in a new string to free
 * with secure_free_string().  0 or -errno with err filled (never with the
 * secret). */
int read_secret_file(const char *path, size_t max, char **out, struct mfa_error *err);

#endif
