/* fault_login: systematic failure injection.  pam_mfa's own calls to the
 * allocator and to open/read/write/fsync/rename/flock/stat are wrapped at link
 * time (--wrap); run k fails the k-th such call of a complete login with a
 * right code, for every k the login reaches.  Each run must end in one of
 * the codes pam_mfa(8) documents and never in PAM_SUCCESS (fail closed), the
 * record must stay readable, and ASan/LSan watch for crashes and leaks.
 * A last run without faults must then succeed.
 *
 * usage: fault_login DIR   (DIR: an empty root-owned directory) */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <security/pam_appl.h>
#include <security/pam_modules.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "files.h"
#include "totp.h"

static long calls, fail_at;
static const char *failed_call; /* the call that was made to fail */

/* The wrapped calls a login must reach: if a --wrap stops taking effect
 * (another libc, other symbol names), injection would silently miss them. */
static const char *const must_reach[] = {
	"malloc", "openat64", "read", "pwrite64", "fdatasync", "flock", "fstat64", "fstatat64",
};
static bool reached[sizeof(must_reach) / sizeof(must_reach[0])];

static bool inject_call(const char *name)
{
	for (size_t i = 0; i < sizeof(must_reach) / sizeof(must_reach[0]); i++)
		if (strcmp(name, must_reach[i]) == 0)
			reached[i] = true;
	if (fail_at > 0 && ++calls == fail_at) {
		failed_call = name;
		return true;
	}
	return false;
}

#define inject() inject_call(__func__ + sizeof("__wrap_") - 1)

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
int __real_open(const char *p, int f, ...);
int __real_openat(int d, const char *p, int f, ...);
int __real_open64(const char *p, int f, ...);
int __real_openat64(int d, const char *p, int f, ...);
ssize_t __real_read(int fd, void *b, size_t n);
ssize_t __real_write(int fd, const void *b, size_t n);
ssize_t __real_pwrite(int fd, const void *b, size_t n, off_t o);
ssize_t __real_pwrite64(int fd, const void *b, size_t n, off_t o);
int __real_fsync(int fd);
int __real_fdatasync(int fd);
int __real_renameat(int a, const char *b, int c, const char *d);
int __real_flock(int fd, int op);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
int __wrap_open(const char *p, int f, ...);
int __wrap_openat(int d, const char *p, int f, ...);
int __wrap_open64(const char *p, int f, ...);
int __wrap_openat64(int d, const char *p, int f, ...);
ssize_t __wrap_read(int fd, void *b, size_t n);
ssize_t __wrap_write(int fd, const void *b, size_t n);
ssize_t __wrap_pwrite(int fd, const void *b, size_t n, off_t o);
ssize_t __wrap_pwrite64(int fd, const void *b, size_t n, off_t o);
int __wrap_fsync(int fd);
int __wrap_fdatasync(int fd);
int __wrap_renameat(int a, const char *b, int c, const char *d);
/* With _FILE_OFFSET_BITS=64 fstat() and fstatat() are these. */
int __real_fstat64(int fd, struct stat *st);
int __real_fstatat64(int d, const char *p, struct stat *st, int f);
int __wrap_fstat64(int fd, struct stat *st);
int __wrap_fstatat64(int d, const char *p, struct stat *st, int f);
int __wrap_flock(int fd, int op);

void *__wrap_malloc(size_t n)
{
	if (inject()) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m)
{
	if (inject()) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n)
{
	if (inject()) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_realloc(p, n);
}
ssize_t __wrap_read(int fd, void *b, size_t n)
{
	if (inject()) {
		errno = EIO;
		return -1;
	}
	return __real_read(fd, b, n);
}
ssize_t __wrap_write(int fd, const void *b, size_t n)
{
	if (inject()) {
		errno = ENOSPC;
		return -1;
	}
	return __real_write(fd, b, n);
}
ssize_t __wrap_pwrite(int fd, const void *b, size_t n, off_t o)
{
	if (inject()) {
		errno = EIO;
		return -1;
	}
	return __real_pwrite(fd, b, n, o);
}
ssize_t __wrap_pwrite64(int fd, const void *b, size_t n, off_t o)
{
	if (inject()) {
		errno = EIO;
		return -1;
	}
	return __real_pwrite64(fd, b, n, o);
}
int __wrap_fsync(int fd)
{
	if (inject()) {
		errno = EIO;
		return -1;
	}
	return __real_fsync(fd);
}
int __wrap_fdatasync(int fd)
{
	if (inject()) {
		errno = EIO;
		return -1;
	}
	return __real_fdatasync(fd);
}
int __wrap_renameat(int a, const char *b, int c, const char *d)
{
	if (inject()) {
		errno = EIO;
		return -1;
	}
	return __real_renameat(a, b, c, d);
}
int __wrap_flock(int fd, int op)
{
	if (inject()) {
		errno = ENOLCK;
		return -1;
	}
	return __real_flock(fd, op);
}
int __wrap_fstat64(int fd, struct stat *st)
{
	if (inject()) {
		errno = EIO;
		return -1;
	}
	return __real_fstat64(fd, st);
}
int __wrap_fstatat64(int d, const char *p, struct stat *st, int f)
{
	if (inject()) {
		errno = EIO;
		return -1;
	}
	return __real_fstatat64(d, p, st, f);
}

int __wrap_open(const char *p, int f, ...)
{
	va_list ap;
	mode_t m;

	va_start(ap, f);
	m = (mode_t)va_arg(ap, int);
	va_end(ap);
	if (inject()) {
		errno = EMFILE;
		return -1;
	}
	return __real_open(p, f, m);
}

int __wrap_openat(int d, const char *p, int f, ...)
{
	va_list ap;
	mode_t m;

	va_start(ap, f);
	m = (mode_t)va_arg(ap, int);
	va_end(ap);
	if (inject()) {
		errno = EMFILE;
		return -1;
	}
	return __real_openat(d, p, f, m);
}

/* With _FILE_OFFSET_BITS=64 the code calls these names. */
int __wrap_open64(const char *p, int f, ...)
{
	va_list ap;
	mode_t m;

	va_start(ap, f);
	m = (mode_t)va_arg(ap, int);
	va_end(ap);
	if (inject()) {
		errno = EMFILE;
		return -1;
	}
	return __real_open64(p, f, m);
}

int __wrap_openat64(int d, const char *p, int f, ...)
{
	va_list ap;
	mode_t m;

	va_start(ap, f);
	m = (mode_t)va_arg(ap, int);
	va_end(ap);
	if (inject()) {
		errno = EMFILE;
		return -1;
	}
	return __real_openat64(d, p, f, m);
}

static char code[16];

static int converse(int n, const struct pam_message **msg, struct pam_response **resp,
		    void *appdata)
{
	struct pam_response *r = __real_calloc((size_t)n, sizeof(*r));

	if (r == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++)
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF)
			r[i].resp = strdup(code);
	*resp = r;
	return PAM_SUCCESS;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0 || chmod(path, mode) < 0) {
		perror(path);
		exit(2);
	}
}

static int login(const char *dir, const char *config_arg)
{
	struct pam_conv conv = { converse, NULL };
	const char *argv[1] = { config_arg };
	pam_handle_t *pamh = NULL;
	int r;

	if (pam_start_confdir("fault", "root", &conv, dir, &pamh) != PAM_SUCCESS)
		exit(2);
	r = pam_sm_authenticate(pamh, 0, 1, argv);
	pam_end(pamh, r);
	return r;
}

/* Rewrites the record through the store, which writes the two-slot form. */
static int rewrite_in_two_slots(const char *dir, const struct mfa_record *rec)
{
	struct mfa_error err;
	struct files_store *st = NULL;
	struct files_txn *txn = NULL;
	struct mfa_record cur;
	bool exists;
	int r;

	r = files_open(dir, STORE_READ_ONLY, &st, &err);
	if (r == 0)
		r = files_begin(st, rec->user, &txn, &cur, &exists, &err);
	if (r == 0)
		r = files_commit(txn, rec, &err);
	if (r < 0)
		fprintf(stderr, "fault_login: %s\n", err.msg);
	record_wipe(&cur);
	files_end(txn);
	files_close(st);
	return r;
}

int main(int argc, char **argv)
{
	char path[PATH_MAX], text[PATH_MAX + 256], record[PATH_MAX], config_arg[PATH_MAX + 8];
	char state_dir[PATH_MAX];
	static const unsigned char secret[20] = "12345678901234567890";
	struct totp_params p = { TOTP_SHA1, 6, 30 };
	struct mfa_record rec;
	struct mfa_factor *f;
	struct mfa_error err;
	char buf[STORE_RECORD_MAX];
	int len, faults = 0;
	long k;

	if (argc != 2)
		return 2;
	(void)snprintf(path, sizeof(path), "%s/state", argv[1]);
	(void)snprintf(state_dir, sizeof(state_dir), "%s", path);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return 2;
	(void)snprintf(text, sizeof(text),
		       "state_dir = \"%s\";\nfail_delay_ms = 0;\n"
		       "lockout = { attempts = 1000; interval = 60; unlock_after = 60; };\n",
		       path);
	(void)snprintf(path, sizeof(path), "%s/pam_mfa.conf", argv[1]);
	write_text(path, text, 0600);
	(void)snprintf(config_arg, sizeof(config_arg), "config=%s", path);
	(void)snprintf(path, sizeof(path), "%s/fault", argv[1]);
	write_text(path, "auth required pam_permit.so\n", 0644);
	(void)snprintf(record, sizeof(record), "%s/state/root", argv[1]);

	/* Twice: a record of the older single-text form, which the login
	 * replaces with a new file, then a two-slot one updated in place. */
	for (int form = 0; form < 2; form++)
		for (k = 1;; k++) {
			int r;

			/* A fresh enrolled record each run, and the code of this step. */
			record_init(&rec, "root");
			f = record_add_factor(&rec, METHOD_TOTP);
			if (f == NULL)
				return 2;
			f->verified = true;
			f->totp.params = p;
			memcpy(f->totp.secret, secret, sizeof(secret));
			f->totp.secret_len = sizeof(secret);
			f->added = f->totp.enrolled_at = 1700000000;
			len = record_format(&rec, buf, sizeof(buf));
			if (len < 0)
				return 2;
			buf[len] = '\0';
			write_text(record, buf, 0600);
			if (form == 1 && rewrite_in_two_slots(state_dir, &rec) < 0)
				return 2;
			if (totp_code_for_step(secret, sizeof(secret), &p,
					       totp_step_at(&p, time(NULL)), code) < 0)
				return 2;
			calls = 0;
			fail_at = k;
			r = login(argv[1], config_arg);
			fail_at = 0;
			if (calls < k) {
				/* The login made fewer than k calls: every point is done,
			 * and this run had no fault: it must have succeeded. */
				if (r != PAM_SUCCESS) {
					fprintf(stderr, "fault_login: without a fault: %s\n",
						pam_strerror(NULL, r));
					return 1;
				}
				break;
			}
			faults++;
			switch (r) {
			case PAM_AUTH_ERR:
			case PAM_SERVICE_ERR:
			case PAM_AUTHINFO_UNAVAIL:
			case PAM_BUF_ERR:
			case PAM_USER_UNKNOWN:
			case PAM_CONV_ERR: break;
			default:
				fprintf(stderr,
					"fault_login: call %ld (%s) failed, result %d (%s)\n", k,
					failed_call, r,
					r == PAM_SUCCESS ? "PAM_SUCCESS: not fail-closed" :
							   "undocumented");
				return 1;
			}
			/* Whatever failed, the record is whole. */
			{
				struct files_store *st = NULL;

				if (files_open(state_dir, STORE_READ_ONLY, &st, &err) != 0 ||
				    files_load(st, "root", &rec, &err) != 0) {
					fprintf(stderr, "fault_login: call %ld: record: %s\n", k,
						err.msg);
					return 1;
				}
				files_close(st);
				record_wipe(&rec);
			}
		}
	for (size_t i = 0; i < sizeof(must_reach) / sizeof(must_reach[0]); i++)
		if (!reached[i]) {
			fprintf(stderr,
				"fault_login: no login reached %s(): its --wrap did not "
				"take effect, and its failures were never injected\n",
				must_reach[i]);
			return 1;
		}
	printf("%d failure points, each failed closed; the login without a fault succeeded\n",
	       faults);
	return 0;
}
