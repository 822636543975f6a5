/* Helpers shared by the unit tests; see unit_helpers.h.  The scratch base is
 * the test's build directory, so tests never collide with each other or
 * with anything outside the build tree. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "util.h"

static const char *scratch_base(void)
{
	return getenv("PAM_MFA_TEST_TMPDIR");
}

int unit_preflight(void)
{
	struct mfa_error err = { { 0 } };
	const char *base = scratch_base();
	int fd;

	if (geteuid() != 0) {
		fprintf(stderr, "skipped: these tests need root (the store and config "
				"accept only root-owned files)\n");
		return UNIT_EXIT_SKIP;
	}
	if (base == NULL || base[0] != '/') {
		fprintf(stderr, "PAM_MFA_TEST_TMPDIR must name an absolute directory\n");
		return 1;
	}
	/* Every test file lives below base, so base must pass the same checks
	 * the code under test applies, or every test would fail confusingly. */
	fd = open_trusted_dir(base, &err);
	if (fd < 0) {
		fprintf(stderr, "the scratch base is not trusted: %s\n", err.msg);
		return 1;
	}
	close(fd);
	return 0;
}

char *scratch_new(void)
{
	const char *base = scratch_base();
	char *path;

	assert_non_null(base);
	assert_true(asprintf(&path, "%s/scratch.XXXXXX", base) > 0);
	assert_non_null(mkdtemp(path));
	return path;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void scratch_remove(char *path)
{
	if (path == NULL)
		return;
	/* Tests may leave entries unreadable for others; we are root anyway. */
	(void)nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(path);
}

char *path_join(const char *dir, const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	const char *p = data;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		fail_msg("%s: %s", path, strerror(errno));
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail_msg("%s: write: %s", path, strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

void write_text(const char *path, const char *text, mode_t mode)
{
	write_file(path, text, strlen(text), mode);
}

size_t dir_entry_count(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

void unit_assert_contains(const char *haystack, const char *needle, const char *file, int line)
{
	if (haystack == NULL || strstr(haystack, needle) == NULL) {
		print_error("%s:%d: expected \"%s\" to contain \"%s\"\n", file, line,
			    haystack ? haystack : "(null)", needle);
		_fail(file, line);
	}
}
