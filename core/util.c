/* Small helpers shared by the module and mfactl; see util.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secmem.h"
#include "util.h"

void mfa_error_set(struct mfa_error *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

bool user_name_valid(const char *name)
{
	size_t len;

	if (name == NULL)
		return false;
	len = strnlen(name, USER_NAME_MAX + 1);
	if (len == 0 || len > USER_NAME_MAX)
		return false;
	if (name[0] == '.' || name[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '.' || c == '-' || c == '@')
			continue;
		return false;
	}
	return true;
}

int user_primary_gid(const char *user, gid_t *gid)
{
	struct passwd pw, *res = NULL;
	size_t len = 16384;
	int r;

	for (;;) {
		char *buf = malloc(len);

		if (buf == NULL)
			return -ENOMEM;
		r = getpwnam_r(user, &pw, buf, len, &res);
		if (r == 0 && res != NULL)
			*gid = pw.pw_gid;
		free(buf);
		if (r != ERANGE || len >= (1u << 20))
			break;
		len *= 2;
	}
	if (r == 0)
		return res != NULL;
	if (nss_not_found(r))
		return 0;
	return r == ENOMEM ? -ENOMEM : -EIO;
}

bool nss_not_found(int r)
{
	return r == ENOENT || r == ESRCH || r == EBADF || r == EPERM;
}

int user_lookup(const char *user)
{
	gid_t gid;

	return user_primary_gid(user, &gid);
}

void sanitize_printable(const char *in, char *out, size_t outlen)
{
	size_t i = 0;

	if (outlen == 0)
		return;
	if (in != NULL) {
		for (; in[i] != '\0' && i + 1 < outlen; i++) {
			unsigned char c = (unsigned char)in[i];
			out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
		}
	}
	out[i] = '\0';
}

int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || s[0] == '\0')
		return -EINVAL;
	if (s[0] == '0' && s[1] != '\0')
		return -EINVAL;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* A directory others could write to lets them swap what lies below it; a
 * root-owned sticky directory (/tmp) does not, as only root may rename or
 * remove root's entries there. */
static int check_trusted_dir(int fd, const char *shown, bool last, struct mfa_error *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		int r = -errno;
		mfa_error_set(err, "%s: %s", shown, strerror(-r));
		return r;
	}
	if (!S_ISDIR(st.st_mode)) {
		mfa_error_set(err, "%s: not a directory", shown);
		return -ENOTDIR;
	}
	if (st.st_uid != 0) {
		mfa_error_set(err, "%s: not owned by root", shown);
		return -EPERM;
	}
	if ((st.st_mode & 022) != 0 && (last || !(st.st_mode & S_ISVTX))) {
		mfa_error_set(err, "%s: writable by group or others (mode %04o)", shown,
			      (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

/* Each component is opened from the previous one and checked through its
 * fd.  Not fstatat() by name, which would save two calls a component:
 * stat() does not trigger an automount, so it would check an automount
 * point's trigger while the next lookup mounts, and walks into, a root
 * nobody checked. */
int open_trusted_dir(const char *path, struct mfa_error *err)
{
	char shown[PATH_MAX];
	size_t shown_len = 0;
	const char *p;
	int fd, r;

	if (path == NULL || path[0] != '/') {
		mfa_error_set(err, "%s: not an absolute path", path ? path : "(null)");
		return -EINVAL;
	}
	if (strlen(path) >= sizeof(shown)) {
		mfa_error_set(err, "path too long");
		return -ENAMETOOLONG;
	}
	fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		mfa_error_set(err, "/: %s", strerror(-r));
		return r;
	}
	shown[0] = '/';
	shown[1] = '\0';
	shown_len = 1;
	p = path;
	while (*p == '/')
		p++;
	r = check_trusted_dir(fd, "/", *p == '\0', err);
	while (r == 0 && *p != '\0') {
		char comp[NAME_MAX + 1];
		size_t len = strcspn(p, "/");
		bool last;
		int nfd;

		if (len > NAME_MAX) {
			mfa_error_set(err, "%s: name too long", path);
			r = -ENAMETOOLONG;
			break;
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		p += len;
		while (*p == '/')
			p++;
		last = (*p == '\0');
		if (strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0) {
			mfa_error_set(err, "%s: \".\" and \"..\" are not allowed in the path",
				      path);
			r = -EINVAL;
			break;
		}
		/* The path so far, for messages; it fits, being no longer
		 * than path. */
		if (shown_len > 1)
			shown[shown_len++] = '/';
		memcpy(shown + shown_len, comp, len + 1);
		shown_len += len;
		nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0) {
			r = -errno;
			if (r == -ELOOP || r == -ENOTDIR) {
				struct stat lst;
				if (fstatat(fd, comp, &lst, AT_SYMLINK_NOFOLLOW) == 0 &&
				    S_ISLNK(lst.st_mode)) {
					mfa_error_set(
						err,
						"%s: is a symbolic link, which is not allowed here",
						shown);
					r = -ELOOP;
					break;
				}
			}
			mfa_error_set(err, "%s: %s", shown, strerror(-r));
			break;
		}
		close(fd);
		fd = nfd;
		r = check_trusted_dir(fd, shown, last, err);
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

int open_trusted_file(const char *path, off_t max_size, struct mfa_error *err)
{
	char dir[PATH_MAX];
	const char *base;
	struct stat st;
	int dfd, fd, r;

	if (path == NULL || path[0] != '/') {
		mfa_error_set(err, "%s: not an absolute path", path ? path : "(null)");
		return -EINVAL;
	}
	base = strrchr(path, '/') + 1;
	if (*base == '\0' || strlen(path) >= sizeof(dir)) {
		mfa_error_set(err, "%s: not a file name", path);
		return -EINVAL;
	}
	memcpy(dir, path, (size_t)(base - path));
	dir[base - path] = '\0';
	dfd = open_trusted_dir(dir, err);
	if (dfd < 0)
		return dfd;
	fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	r = -errno;
	close(dfd);
	if (fd < 0) {
		if (r == -ELOOP)
			mfa_error_set(err, "%s: is a symbolic link, which is not allowed here",
				      path);
		else
			mfa_error_set(err, "%s: %s", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		mfa_error_set(err, "%s: %s", path, strerror(-r));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		mfa_error_set(err, "%s: not a regular file", path);
		r = -EINVAL;
		goto fail;
	}
	if (st.st_uid != 0) {
		mfa_error_set(err, "%s: not owned by root", path);
		r = -EPERM;
		goto fail;
	}
	if ((st.st_mode & 022) != 0) {
		mfa_error_set(err, "%s: writable by group or others (mode %04o)", path,
			      (unsigned)(st.st_mode & 07777));
		r = -EPERM;
		goto fail;
	}
	if (st.st_nlink != 1) {
		mfa_error_set(err, "%s: has %lu hard links, expected 1", path,
			      (unsigned long)st.st_nlink);
		r = -EPERM;
		goto fail;
	}
	if (st.st_size > max_size) {
		mfa_error_set(err, "%s: larger than %lld bytes", path, (long long)max_size);
		r = -EFBIG;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return r;
}

int read_all(int fd, size_t max, char **out, size_t *out_len)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap + 1);

	if (buf == NULL)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nbuf;
			if (cap >= max + 1) {
				free(buf);
				return -EFBIG;
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			nbuf = realloc(buf, cap + 1);
			if (nbuf == NULL) {
				free(buf);
				return -ENOMEM;
			}
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			int r = -errno;
			if (r == -EINTR)
				continue;
			free(buf);
			/* Never 0: that would be success without *out. */
			return r < 0 ? r : -EIO;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		free(buf);
		return -EFBIG;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
}

int read_secret_file(const char *path, size_t max, char **out, struct mfa_error *err)
{
	struct stat st;
	char *text = NULL;
	size_t len;
	int fd, r;

	fd = open_trusted_file(path, (off_t)max, err);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0 || (st.st_mode & 077) != 0) {
		close(fd);
		mfa_error_set(err, "%s: must not be readable by group or others", path);
		return -EPERM;
	}
	r = read_all(fd, max, &text, &len);
	close(fd);
	if (r < 0) {
		mfa_error_set(err, "%s: %s", path, strerror(-r));
		return r;
	}
	/* A NUL would cut the secret short without a word. */
	if (strlen(text) != len) {
		secure_wipe(text, len);
		free(text);
		mfa_error_set(err, "%s: contains a NUL byte", path);
		return -EINVAL;
	}
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	*out = text;
	return 0;
}
