/* loginbench: times logins through the real libpam, in-process, with the
 * stack read by pam_start_confdir(); see bench/README.md.  One login is
 * pam_start_confdir + pam_authenticate + pam_end, as an sshd child does it,
 * answered with a valid TOTP code computed here (RFC 6238, HMAC-SHA-1).
 * The harness links no library a module under test uses (liboath): one
 * already in the process would not be loaded at each login, as it is in sshd.
 *
 *   loginbench gen  --dir DIR --users N
 *   loginbench seq  --confdir D --service S --secrets F --logins L [options]
 *   loginbench alt  ... --service A,B,...  (the services in turn, login by login)
 *   loginbench par  ... --workers W      (W processes, distinct users)
 *   loginbench race ... --workers W --rounds R   (W processes, ONE user, ONE code)
 *   loginbench nss  --secrets F --logins L      (getpwnam + getgrouplist alone)
 *
 * A code is single-use, so each user logs in once per 30 s step.  When a
 * run needs more logins than there are users, the harness moves a
 * controlled clock: it defines time(), gettimeofday() and clock_gettime()
 * itself, and the modules it dlopens bind to these (the executable comes
 * first in the global symbol scope), shifted by whole periods.  --clock FILE
 * keeps the latest time used, so that a later run on the same state starts
 * in a step no user has used yet. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <security/pam_appl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define PERIOD 30
#define DIGITS 6
#define SECRET_LEN 20

/* ---- the controlled clock ------------------------------------------- */

static int64_t clock_offset; /* seconds added to the real wall clock */
/* --real-clock: never moved, for a store that reads its own clock (the
 * postgresql backend's database); codes are then for the real step only. */
static bool real_clock;
static int (*real_clock_gettime)(clockid_t, struct timespec *);
static bool drop_syslog; /* LOGINBENCH_NO_SYSLOG=1: for profiling only */
static void (*real_vsyslog)(int, const char *, va_list);

__attribute__((constructor)) static void resolve_real(void)
{
	real_clock_gettime =
		(int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
	real_vsyslog = (void (*)(int, const char *, va_list))dlsym(RTLD_NEXT, "vsyslog");
	drop_syslog = getenv("LOGINBENCH_NO_SYSLOG") != NULL;
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
	int r = real_clock_gettime(id, ts);

	if (r == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
		ts->tv_sec += clock_offset;
	return r;
}

time_t time(time_t *t)
{
	struct timespec ts;
	time_t now;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	now = ts.tv_sec;
	if (t != NULL)
		*t = now;
	return now;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	struct timespec ts;

	(void)tz;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = ts.tv_nsec / 1000;
	return 0;
}

/* Profiling only: LOGINBENCH_NO_SYSLOG=1 makes every log line a no-op, to
 * see what logging costs.  Otherwise the lines go to the real syslog(). */
void vsyslog(int pri, const char *fmt, va_list ap)
{
	if (!drop_syslog)
		real_vsyslog(pri, fmt, ap);
}

void __vsyslog_chk(int pri, int flag, const char *fmt, va_list ap);
void __vsyslog_chk(int pri, int flag, const char *fmt, va_list ap)
{
	(void)flag;
	vsyslog(pri, fmt, ap);
}

void syslog(int pri, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsyslog(pri, fmt, ap);
	va_end(ap);
}

void __syslog_chk(int pri, int flag, const char *fmt, ...);
void __syslog_chk(int pri, int flag, const char *fmt, ...)
{
	va_list ap;

	(void)flag;
	va_start(ap, fmt);
	vsyslog(pri, fmt, ap);
	va_end(ap);
}

static double mono_us(void)
{
	struct timespec ts;

	real_clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Profiling only (bench/profile): with LOGINBENCH_SYSCALL_TIMES=1 the
 * harness times the calls that make a write durable or serialise it, as
 * the modules it loads make them; LOGINBENCH_NO_FSYNC=1 makes fsync and
 * fdatasync no-ops, to see what durability costs.  Neither is ever set by
 * bench/run. */
enum { SC_FSYNC_FILE, SC_FSYNC_DIR, SC_FDATASYNC, SC_RENAME, SC_FLOCK, SC_COUNT };
static const char *const sc_names[SC_COUNT] = {
	"fsync_file", "fsync_dir", "fdatasync", "rename", "flock",
};
static bool sc_timing, sc_no_fsync;
static double sc_us[SC_COUNT];
static unsigned long sc_calls[SC_COUNT];
static int (*real_fsync)(int), (*real_fdatasync)(int), (*real_flock)(int, int);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_rename)(const char *, const char *);

__attribute__((constructor)) static void resolve_syscalls(void)
{
	real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	real_flock = (int (*)(int, int))dlsym(RTLD_NEXT, "flock");
	real_renameat = (int (*)(int, const char *, int, const char *))dlsym(RTLD_NEXT, "renameat");
	real_rename = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
	sc_timing = getenv("LOGINBENCH_SYSCALL_TIMES") != NULL;
	sc_no_fsync = getenv("LOGINBENCH_NO_FSYNC") != NULL;
}

static void sc_note(int which, double t0)
{
	sc_us[which] += mono_us() - t0;
	sc_calls[which]++;
}

int fsync(int fd)
{
	struct stat st;
	double t0 = mono_us();
	int r = sc_no_fsync ? 0 : real_fsync(fd);

	if (sc_timing)
		sc_note(fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) ? SC_FSYNC_DIR : SC_FSYNC_FILE,
			t0);
	return r;
}

int fdatasync(int fd)
{
	double t0 = mono_us();
	int r = sc_no_fsync ? 0 : real_fdatasync(fd);

	if (sc_timing)
		sc_note(SC_FDATASYNC, t0);
	return r;
}

int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
	double t0 = mono_us();
	int r = real_renameat(olddirfd, oldpath, newdirfd, newpath);

	if (sc_timing)
		sc_note(SC_RENAME, t0);
	return r;
}

int rename(const char *oldpath, const char *newpath)
{
	double t0 = mono_us();
	int r = real_rename(oldpath, newpath);

	if (sc_timing)
		sc_note(SC_RENAME, t0);
	return r;
}

int flock(int fd, int op)
{
	double t0 = mono_us();
	int r = real_flock(fd, op);

	if (sc_timing)
		sc_note(SC_FLOCK, t0);
	return r;
}

static void sc_reset(void)
{
	memset(sc_us, 0, sizeof(sc_us));
	memset(sc_calls, 0, sizeof(sc_calls));
}

/* Per login, the time in each kind of call: the median is printed, since a
 * shared disk's outliers would swamp a mean. */
static double *sc_per_login[SC_COUNT];
static double sc_before[SC_COUNT];

static void sc_login_start(void)
{
	memcpy(sc_before, sc_us, sizeof(sc_before));
}

static void sc_login_end(size_t i, size_t logins)
{
	if (!sc_timing)
		return;
	for (int k = 0; k < SC_COUNT; k++) {
		if (sc_per_login[k] == NULL)
			sc_per_login[k] = calloc(logins, sizeof(double));
		sc_per_login[k][i] = sc_us[k] - sc_before[k];
	}
}

static int cmp_double(const void *a, const void *b);

/* " NAME_us=MEDIAN NAME_calls=C" per kind, per login. */
static void sc_print(size_t logins)
{
	if (!sc_timing)
		return;
	for (int i = 0; i < SC_COUNT; i++)
		if (sc_calls[i] && sc_per_login[i] != NULL) {
			qsort(sc_per_login[i], logins, sizeof(double), cmp_double);
			printf(" %s_us=%.1f %s_calls=%.2f", sc_names[i],
			       sc_per_login[i][logins / 2], sc_names[i],
			       (double)sc_calls[i] / (double)logins);
		}
}

static double cpu_us(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("loginbench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* ---- users and codes ------------------------------------------------ */

struct user {
	char name[32];
	char secret[SECRET_LEN];
};

struct users {
	struct user *v;
	size_t n;
};

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The secrets file: "NAME HEXSECRET" per line, as gen writes it. */
static void load_users(const char *path, struct users *u)
{
	FILE *f = fopen(path, "r");
	char name[64], hex[2 * SECRET_LEN + 8];
	size_t cap = 1024;

	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	u->n = 0;
	u->v = malloc(cap * sizeof(*u->v));
	while (fscanf(f, "%63s %47s", name, hex) == 2) {
		struct user *x;

		if (u->n == cap)
			u->v = realloc(u->v, (cap *= 2) * sizeof(*u->v));
		x = &u->v[u->n++];
		if (strlen(name) >= sizeof(x->name) || strlen(hex) != 2 * SECRET_LEN)
			die("%s: bad line for %s", path, name);
		memcpy(x->name, name, strlen(name) + 1);
		for (int i = 0; i < SECRET_LEN; i++) {
			int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
			if (hi < 0 || lo < 0)
				die("%s: bad secret for %s", path, name);
			x->secret[i] = (char)(hi << 4 | lo);
		}
	}
	fclose(f);
	if (u->n == 0)
		die("%s: no users", path);
}

/* A fixed-seed shuffle: logins spread over the whole passwd file and
 * store, the same order on every run. */
static size_t *shuffled(size_t n, uint64_t seed)
{
	size_t *o = malloc(n * sizeof(*o));

	for (size_t i = 0; i < n; i++)
		o[i] = i;
	for (size_t i = n; i > 1; i--) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		size_t j = (size_t)(seed % i), t = o[i - 1];
		o[i - 1] = o[j];
		o[j] = t;
	}
	return o;
}

/* ---- TOTP codes: SHA-1 (FIPS 180-4), HMAC (RFC 2104), RFC 4226/6238 ---- */

struct sha1 {
	uint32_t h[5];
	uint64_t len;
	unsigned char buf[64];
	size_t fill;
};

static uint32_t rol32(uint32_t x, int n)
{
	return x << n | x >> (32 - n);
}

static void sha1_block(struct sha1 *c, const unsigned char *p)
{
	uint32_t w[80], a = c->h[0], b = c->h[1], d = c->h[3], e = c->h[4], cc = c->h[2];

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	for (int i = 0; i < 80; i++) {
		uint32_t f, k, t;

		if (i < 20) {
			f = (b & cc) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ cc ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & cc) | (b & d) | (cc & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ cc ^ d;
			k = 0xca62c1d6;
		}
		t = rol32(a, 5) + f + e + k + w[i];
		e = d;
		d = cc;
		cc = rol32(b, 30);
		b = a;
		a = t;
	}
	c->h[0] += a;
	c->h[1] += b;
	c->h[2] += cc;
	c->h[3] += d;
	c->h[4] += e;
}

static void sha1_init(struct sha1 *c)
{
	static const uint32_t h0[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476,
					0xc3d2e1f0 };

	memcpy(c->h, h0, sizeof(h0));
	c->len = 0;
	c->fill = 0;
}

static void sha1_update(struct sha1 *c, const unsigned char *p, size_t n)
{
	c->len += n;
	while (n > 0) {
		size_t take = 64 - c->fill < n ? 64 - c->fill : n;

		memcpy(c->buf + c->fill, p, take);
		c->fill += take;
		p += take;
		n -= take;
		if (c->fill == 64) {
			sha1_block(c, c->buf);
			c->fill = 0;
		}
	}
}

static void sha1_final(struct sha1 *c, unsigned char out[20])
{
	uint64_t bits = c->len * 8;
	unsigned char pad = 0x80, len[8];

	sha1_update(c, &pad, 1);
	pad = 0;
	while (c->fill != 56)
		sha1_update(c, &pad, 1);
	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)(bits >> (56 - 8 * i));
	sha1_update(c, len, 8);
	for (int i = 0; i < 20; i++)
		out[i] = (unsigned char)(c->h[i / 4] >> (24 - 8 * (i % 4)));
}

static void hmac_sha1(const unsigned char *key, size_t klen, const unsigned char *msg, size_t mlen,
		      unsigned char out[20])
{
	unsigned char k[64] = { 0 }, pad[64], inner[20];
	struct sha1 c;

	if (klen > 64)
		die("HMAC keys longer than a block are not needed here");
	memcpy(k, key, klen);
	for (int i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x36;
	sha1_init(&c);
	sha1_update(&c, pad, 64);
	sha1_update(&c, msg, mlen);
	sha1_final(&c, inner);
	for (int i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x5c;
	sha1_init(&c);
	sha1_update(&c, pad, 64);
	sha1_update(&c, inner, 20);
	sha1_final(&c, out);
}

static void code_for(const struct user *u, time_t now, char out[DIGITS + 1])
{
	uint64_t step = (uint64_t)now / PERIOD;
	unsigned char msg[8], mac[20];
	uint32_t bin, mod = 1;
	int off;

	for (int i = 0; i < 8; i++)
		msg[i] = (unsigned char)(step >> (56 - 8 * i));
	hmac_sha1((const unsigned char *)u->secret, SECRET_LEN, msg, sizeof(msg), mac);
	off = mac[19] & 0x0f;
	bin = (uint32_t)(mac[off] & 0x7f) << 24 | (uint32_t)mac[off + 1] << 16 |
	      (uint32_t)mac[off + 2] << 8 | mac[off + 3];
	for (int i = 0; i < DIGITS; i++)
		mod *= 10;
	(void)snprintf(out, DIGITS + 1, "%0*" PRIu32, DIGITS, bin % mod);
}

/* RFC 4648 base32, no padding (what google-authenticator's files hold). */
static void base32_encode(const unsigned char *in, size_t n, char *out)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	unsigned buffer = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		buffer = (buffer << 8 | in[i]) & 0xfff;
		bits += 8;
		while (bits >= 5) {
			*out++ = alphabet[(buffer >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		*out++ = alphabet[(buffer << (5 - bits)) & 31];
	*out = '\0';
}

/* ---- the clock file ---------------------------------------------------- */

static const char *clock_file; /* --clock; for alt, a prefix: FILE.SERVICE */
static const char *clock_files[8];
static size_t nclock_files;
static time_t clock_latest; /* the latest fake time a code was made for */
static pid_t main_pid;	    /* the process that saves the clock files */
static void clock_save(void);

/* Start in a step after every step used by earlier runs on this state (on
 * any of the states, for alt). */
static void clock_start(void)
{
	long long latest = 0;
	struct timespec ts;

	main_pid = getpid();
	if (atexit(clock_save) != 0)
		die("atexit failed");
	clock_offset = 0;
	for (size_t i = 0; i < nclock_files; i++) {
		long long saved = 0;
		FILE *f = fopen(clock_files[i], "r");

		if (f == NULL)
			continue;
		if (fscanf(f, "%lld", &saved) != 1)
			saved = 0;
		fclose(f);
		if (saved > latest)
			latest = saved;
	}
	/* What clock_save() writes back if no login makes a code: never less
	 * than what the files held. */
	clock_latest = (time_t)latest - PERIOD;
	real_clock_gettime(CLOCK_REALTIME, &ts);
	if (latest / PERIOD >= ts.tv_sec / PERIOD)
		clock_offset = (latest / PERIOD + 1) * PERIOD - ts.tv_sec;
}

static void clock_note(time_t t)
{
	if (t > clock_latest)
		clock_latest = t;
}

/* Registered with atexit(), so that a run that dies (die() exits) still
 * records the steps it used: the next run on the same state would
 * otherwise start in them, and its first logins would be replays.
 * Workers leave with _exit(); a worker that dies writes nothing. */
static void clock_save(void)
{
	if (getpid() != main_pid)
		return;
	/* Leave one step of margin: a login may have been accepted in the
	 * step after the one its code was made for. */
	for (size_t i = 0; i < nclock_files; i++) {
		FILE *f = fopen(clock_files[i], "w");

		if (f == NULL)
			die("%s: %s", clock_files[i], strerror(errno));
		fprintf(f, "%lld\n", (long long)clock_latest + PERIOD);
		fclose(f);
	}
}

/* ---- one login --------------------------------------------------------- */

struct conv_data {
	const char *answer;
	int prompts;
};

static int converse(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct conv_data *cd = data;
	struct pam_response *r = calloc((size_t)n, sizeof(*r));

	if (r == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++)
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF ||
		    msg[i]->msg_style == PAM_PROMPT_ECHO_ON) {
			r[i].resp = strdup(cd->answer);
			cd->prompts++;
		}
	*resp = r;
	return PAM_SUCCESS;
}

/* libpam calls this instead of sleeping after a failure. */
static void no_delay(int status, unsigned usec, void *appdata)
{
	(void)status, (void)usec, (void)appdata;
}

struct target {
	const char *confdir, *service;
};

static pam_handle_t *login_start(const struct target *t, const char *user, struct conv_data *cd)
{
	struct pam_conv conv = { converse, cd };
	pam_handle_t *pamh = NULL;
	int r = pam_start_confdir(t->service, user, &conv, t->confdir, &pamh);

	if (r != PAM_SUCCESS)
		die("pam_start_confdir(%s, %s): %d", t->confdir, t->service, r);
	(void)pam_set_item(pamh, PAM_FAIL_DELAY, (const void *)no_delay);
	(void)pam_set_item(pamh, PAM_RHOST, "192.0.2.1");
	return pamh;
}

/* The phases of a login: pam_start (the modules loaded), pam_authenticate,
 * pam_end (unloaded).  sshd starts PAM when the connection opens and ends
 * it when the session closes: a user who typed a code waits for the middle
 * one only. */
enum { PH_START, PH_AUTH, PH_END, PH_COUNT };

/* Returns the PAM result; *us gets the wall time of the whole login, and
 * phase[], when not NULL, that of each phase. */
static int login_phases(const struct target *t, const struct user *u, double *us, double *phase)
{
	char code[DIGITS + 1];
	struct conv_data cd = { code, 0 };
	time_t now = time(NULL);
	pam_handle_t *pamh;
	double t0, t1, t2, t3;
	int r;

	code_for(u, now, code);
	clock_note(now);
	t0 = mono_us();
	pamh = login_start(t, u->name, &cd);
	t1 = mono_us();
	r = pam_authenticate(pamh, 0);
	t2 = mono_us();
	pam_end(pamh, r);
	t3 = mono_us();
	*us = t3 - t0;
	if (phase != NULL) {
		phase[PH_START] = t1 - t0;
		phase[PH_AUTH] = t2 - t1;
		phase[PH_END] = t3 - t2;
	}
	return r;
}

/* --fork-each: each login in a fresh child process, as sshd makes one per
 * connection; the child times its login as login_phases() does, so what a
 * module loads on first use (libpq and its libraries, which pam_mfa keeps
 * loaded once loaded) is paid at every login, as in sshd, and fork and exit
 * are not counted.  --before-each CMD: a shell command run before each
 * login, untimed (its CPU is left out too). */
static bool fork_each;
static const char *before_each;
static double hook_cpu_us;

static double cpu_us(int who);

/* The CPU of this process, and with --fork-each that of its logins'
 * children, less the --before-each commands'. */
static double cpu_now(void)
{
	return cpu_us(RUSAGE_SELF) + (fork_each || before_each ? cpu_us(RUSAGE_CHILDREN) : 0) -
	       hook_cpu_us;
}

static void run_before_each(void)
{
	double c0 = cpu_us(RUSAGE_CHILDREN);
	int st = system(before_each);

	hook_cpu_us += cpu_us(RUSAGE_CHILDREN) - c0;
	if (st != 0)
		die("--before-each: the command failed (status %d)", st);
}

struct forked_login {
	int r;
	double us;
};

/* Runs fn(ctx, us) in a fresh child, as a fresh sshd child would run a
 * login: its result, or fail if the child did not report one and exit 0. */
static int in_fresh_child(int (*fn)(const void *ctx, double *us), const void *ctx, int fail,
			  double *us)
{
	struct forked_login fl = { fail, 0 };
	int p[2], status;
	pid_t pid;

	if (pipe(p) < 0)
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		close(p[0]);
		fl.r = fn(ctx, &fl.us);
		(void)write(p[1], &fl, sizeof(fl));
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &fl, sizeof(fl)) != (ssize_t)sizeof(fl))
		fl.r = fail;
	close(p[0]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fl.r = fail;
	*us = fl.us;
	return fl.r;
}

struct login_args {
	const struct target *t;
	const struct user *u;
};

static int login_in_child(const void *ctx, double *us)
{
	const struct login_args *a = ctx;

	return login_phases(a->t, a->u, us, NULL);
}

static int login_once(const struct target *t, const struct user *u, double *us)
{
	struct login_args a = { t, u };
	int r;

	if (before_each != NULL)
		run_before_each();
	if (!fork_each)
		return login_phases(t, u, us, NULL);
	r = in_fresh_child(login_in_child, &a, PAM_SYSTEM_ERR, us);
	clock_note(time(NULL));
	return r;
}

/* ---- statistics -------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v. */
static double pct(const double *v, size_t n, double p)
{
	size_t k = (size_t)((p / 100.0) * (double)n + 0.999999);

	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

static void report(const char *mode, const char *label, size_t users, size_t n, double *lat,
		   size_t ok, double cpu_total, double wall_us, int workers)
{
	double sum = 0;

	qsort(lat, n, sizeof(*lat), cmp_double);
	for (size_t i = 0; i < n; i++)
		sum += lat[i];
	printf("mode=%s label=%s users=%zu workers=%d logins=%zu ok=%zu fail=%zu "
	       "median_us=%.1f p99_us=%.1f mean_us=%.1f min_us=%.1f max_us=%.1f "
	       "cpu_us=%.1f wall_s=%.3f throughput=%.1f",
	       mode, label, users, workers, n, ok, n - ok, pct(lat, n, 50), pct(lat, n, 99),
	       sum / (double)n, lat[0], lat[n - 1], cpu_total / (double)n, wall_us / 1e6,
	       (double)ok / (wall_us / 1e6));
	sc_print(n);
	printf("\n");
	fflush(stdout);
}

/* ---- gen --------------------------------------------------------------- */

static FILE *create(const char *dir, const char *name, mode_t mode)
{
	char path[4096];
	FILE *f;
	int fd;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0 || fchmod(fd, mode) < 0 || (f = fdopen(fd, "w")) == NULL)
		die("%s: %s", path, strerror(errno));
	return f;
}

/* Accounts for nss_wrapper, one pam_oath usersfile for everyone, and a
 * google-authenticator secret file per user, from one set of secrets. */
static int cmd_gen(const char *dir, size_t n)
{
	char gadir[4096], hex[2 * SECRET_LEN + 1], b32[(8 * SECRET_LEN + 4) / 5 + 1];
	FILE *pw = create(dir, "passwd", 0644), *gr = create(dir, "group", 0644);
	FILE *uf = create(dir, "users.oath", 0600), *sf = create(dir, "secrets", 0600);

	(void)snprintf(gadir, sizeof(gadir), "%s/ga", dir);
	if (mkdir(gadir, 0700) < 0 && errno != EEXIST)
		die("%s: %s", gadir, strerror(errno));
	fprintf(pw, "root:x:0:0:root:/root:/bin/sh\n");
	fprintf(gr, "root:x:0:\nusers:x:100:\n");
	for (size_t i = 0; i < n; i++) {
		unsigned char s[SECRET_LEN];
		char name[32];
		FILE *ga;

		if (getrandom(s, sizeof(s), 0) != (ssize_t)sizeof(s))
			die("getrandom: %s", strerror(errno));
		for (int k = 0; k < SECRET_LEN; k++)
			sprintf(hex + 2 * k, "%02x", s[k]);
		(void)snprintf(name, sizeof(name), "u%06zu", i + 1);
		fprintf(pw, "%s:x:%zu:100:bench user:/nonexistent:/bin/sh\n", name, 100000 + i);
		fprintf(uf, "HOTP/T30/6\t%s\t-\t%s\n", name, hex);
		fprintf(sf, "%s %s\n", name, hex);
		base32_encode(s, sizeof(s), b32);
		ga = create(gadir, name, 0600);
		fprintf(ga, "%s\n\" TOTP_AUTH\n\" DISALLOW_REUSE\n", b32);
		if (fclose(ga) != 0)
			die("write %s/%s failed", gadir, name);
	}
	if (fclose(pw) || fclose(gr) || fclose(uf) || fclose(sf))
		die("write failed in %s", dir);
	return 0;
}

/* ---- seq, par, race, nss ----------------------------------------------- */

struct run {
	struct target t;
	struct users u;
	size_t logins, warmup, skip;
	int workers, rounds;
	const char *label, *keep_loaded;
	size_t *order;
};

/* The next user in the shuffled order; past the end, start again one
 * period later so that every code is still fresh. */
static const struct user *next_user(struct run *run, size_t *cursor)
{
	size_t i = *cursor, n = run->u.n;

	if (i > 0 && i % n == 0 && !real_clock)
		clock_offset += PERIOD;
	(*cursor)++;
	return &run->u.v[run->order[i % n]];
}

/* run->warmup logins, each user through each of the k stacks t[]. */
static void warm_up(struct run *run, size_t *cursor, const struct target *t, size_t k)
{
	for (size_t i = 0; i < run->warmup; i++) {
		const struct user *u = next_user(run, cursor);

		for (size_t j = 0; j < k; j++) {
			double us;
			int r = login_once(&t[j], u, &us);

			if (r != PAM_SUCCESS)
				die("warm-up login of %s (%s) failed: %s", u->name, t[j].service,
				    pam_strerror(NULL, r));
		}
	}
}

static int cmd_seq(struct run *run)
{
	double *lat = calloc(run->logins, sizeof(*lat)), c0, t0;
	size_t ok = 0, cursor = run->skip;

	warm_up(run, &cursor, &run->t, 1);
	sc_reset();
	c0 = cpu_now();
	t0 = mono_us();
	for (size_t i = 0; i < run->logins; i++) {
		const struct user *u = next_user(run, &cursor);
		int r;

		sc_login_start();
		r = login_once(&run->t, u, &lat[i]);
		sc_login_end(i, run->logins);
		if (r == PAM_SUCCESS)
			ok++;
		else if (i + 1 - ok <= 3) /* the first three */
			fprintf(stderr, "loginbench: %s: login of %s: %s\n", run->label, u->name,
				pam_strerror(NULL, r));
	}
	report("seq", run->label, run->u.n, run->logins, lat, ok, cpu_now() - c0, mono_us() - t0,
	       1);
	return ok == run->logins ? 0 : 1;
}

/* alt: the services in turn, one login each per round, the round's user
 * the same for all (their states are apart) and each round starting with
 * the next service.  On a shared machine whose load drifts over seconds,
 * every service then sees the same moments, and the ratio between two of
 * them is no longer a ratio between two stretches of time. */
#define ALT_MAX 4

static void alt_pairs(const struct target *t, size_t k, double *const *lat, size_t n, size_t users)
{
	double *d = calloc(n, sizeof(*d));

	if (d == NULL)
		die("out of memory");
	for (size_t a = 0; a < k; a++)
		for (size_t b = a + 1; b < k; b++) {
			size_t faster = 0;

			for (size_t i = 0; i < n; i++) {
				d[i] = lat[a][i] - lat[b][i];
				faster += d[i] < 0;
			}
			qsort(d, n, sizeof(*d), cmp_double);
			printf("mode=altpair a=%s b=%s users=%zu rounds=%zu median_diff_us=%.1f "
			       "p25_diff_us=%.1f p75_diff_us=%.1f a_faster_share=%.3f\n",
			       t[a].service, t[b].service, users, n, pct(d, n, 50), pct(d, n, 25),
			       pct(d, n, 75), (double)faster / (double)n);
		}
	free(d);
}

static int cmd_alt(struct run *run, const char *const *services, size_t k)
{
	static const char *const phase_names[PH_COUNT] = { "start", "auth", "end" };
	struct target t[ALT_MAX];
	double *lat[ALT_MAX], *ph[ALT_MAX][PH_COUNT], cpu[ALT_MAX] = { 0 }, wall[ALT_MAX] = { 0 };
	size_t ok[ALT_MAX] = { 0 }, cursor = run->skip, all_ok = 0;

	for (size_t j = 0; j < k; j++) {
		t[j] = (struct target){ run->t.confdir, services[j] };
		lat[j] = calloc(run->logins, sizeof(double));
		if (lat[j] == NULL)
			die("out of memory");
		for (int p = 0; p < PH_COUNT; p++)
			if ((ph[j][p] = calloc(run->logins, sizeof(double))) == NULL)
				die("out of memory");
	}
	warm_up(run, &cursor, t, k);
	for (size_t i = 0; i < run->logins; i++) {
		const struct user *u = next_user(run, &cursor);

		for (size_t s = 0; s < k; s++) {
			/* Every order, each service before every other alike:
			 * k rounds rotating forwards, then k backwards. */
			size_t j = (i / k) % 2 ? (i + k - s) % k : (i + s) % k;
			double c0 = cpu_us(RUSAGE_SELF), phase[PH_COUNT];
			int r = login_phases(&t[j], u, &lat[j][i], phase);

			for (int p = 0; p < PH_COUNT; p++)
				ph[j][p][i] = phase[p];

			cpu[j] += cpu_us(RUSAGE_SELF) - c0;
			wall[j] += lat[j][i];
			if (r == PAM_SUCCESS)
				ok[j]++;
			else if (i + 1 - ok[j] <= 3) /* the first three */
				fprintf(stderr, "loginbench: alt: %s: login of %s: %s\n",
					t[j].service, u->name, pam_strerror(NULL, r));
		}
	}
	alt_pairs(t, k, lat, run->logins, run->u.n); /* before report() sorts */
	for (size_t j = 0; j < k; j++) {
		report("alt", t[j].service, run->u.n, run->logins, lat[j], ok[j], cpu[j], wall[j],
		       1);
		printf("mode=altphase label=%s users=%zu logins=%zu", t[j].service, run->u.n,
		       run->logins);
		for (int p = 0; p < PH_COUNT; p++) {
			qsort(ph[j][p], run->logins, sizeof(double), cmp_double);
			printf(" %s_median_us=%.1f", phase_names[p],
			       pct(ph[j][p], run->logins, 50));
			free(ph[j][p]);
		}
		printf("\n");
		all_ok += ok[j] == run->logins;
		free(lat[j]);
	}
	return all_ok == k ? 0 : 1;
}

struct shared {
	double cpu_us[1024];
	size_t ok[1024];
	int result[1024];
	double lat[];
};

static struct shared *shared_map(size_t nlat)
{
	void *p = mmap(NULL, sizeof(struct shared) + nlat * sizeof(double), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	return p;
}

static void wait_all(int n)
{
	int status;

	for (int i = 0; i < n; i++) {
		if (wait(&status) < 0)
			die("wait: %s", strerror(errno));
		if (!WIFEXITED(status) || WEXITSTATUS(status) > 1)
			die("a worker died (status %d)", status);
	}
}

/* W processes, as sshd forks one per connection; each logs in its own
 * distinct users; they start together at a barrier (a pipe closed). */
static int cmd_par(struct run *run)
{
	int go[2];
	size_t cursor = run->skip, base, ok = 0;
	struct shared *sh = shared_map(run->logins);
	double t0, wall;

	if (run->workers < 1 || run->workers > 1024)
		die("--workers: 1 to 1024");
	warm_up(run, &cursor, &run->t, 1);
	base = cursor;
	if (base + run->logins > run->u.n)
		die("par needs distinct users: %zu + %zu logins > %zu users", base, run->logins,
		    run->u.n);
	if (pipe(go) < 0)
		die("pipe: %s", strerror(errno));
	for (int w = 0; w < run->workers; w++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (pid == 0) {
			char c;
			double c0;
			size_t failed = 0;

			close(go[1]);
			(void)read(go[0], &c, 1);
			c0 = cpu_now();
			for (size_t i = (size_t)w; i < run->logins; i += (size_t)run->workers) {
				const struct user *u = &run->u.v[run->order[base + i]];
				int r = login_once(&run->t, u, &sh->lat[i]);

				if (r == PAM_SUCCESS)
					sh->ok[w]++;
				else if (failed++ == 0) /* the first of each worker */
					fprintf(stderr, "loginbench: %s: login of %s: %s\n",
						run->label, u->name, pam_strerror(NULL, r));
			}
			sh->cpu_us[w] = cpu_now() - c0;
			_exit(0);
		}
	}
	close(go[0]);
	t0 = mono_us();
	close(go[1]);
	wait_all(run->workers);
	wall = mono_us() - t0;
	clock_note(time(NULL));
	double cpu = 0;
	for (int w = 0; w < run->workers; w++) {
		cpu += sh->cpu_us[w];
		ok += sh->ok[w];
	}
	report("par", run->label, run->u.n, run->logins, sh->lat, ok, cpu, wall, run->workers);
	return ok == run->logins ? 0 : 1;
}

/* W processes, each with its PAM handle and modules loaded, wait at a
 * barrier, then all present the same code for the same user. */
static int cmd_race(struct run *run)
{
	struct shared *sh = shared_map(0);
	size_t cursor = run->skip;
	bool pass = true;
	char counts[4096] = "";

	if (run->workers < 2 || run->workers > 1024)
		die("--workers: 2 to 1024");
	for (int round = 0; round < run->rounds; round++) {
		const struct user *u = next_user(run, &cursor);
		char code[DIGITS + 1];
		int go[2], ready[2], wins = 0, other = 0;
		time_t now = time(NULL);

		code_for(u, now, code);
		clock_note(now);
		if (pipe(go) < 0 || pipe(ready) < 0)
			die("pipe: %s", strerror(errno));
		for (int w = 0; w < run->workers; w++) {
			pid_t pid = fork();

			if (pid < 0)
				die("fork: %s", strerror(errno));
			if (pid == 0) {
				struct conv_data cd = { code, 0 };
				pam_handle_t *pamh;
				char c = 1;

				close(go[1]);
				close(ready[0]);
				pamh = login_start(&run->t, u->name, &cd);
				(void)write(ready[1], &c, 1);
				(void)read(go[0], &c, 1);
				sh->result[w] = pam_authenticate(pamh, 0);
				pam_end(pamh, sh->result[w]);
				_exit(0);
			}
		}
		close(go[0]);
		close(ready[1]);
		for (int w = 0; w < run->workers; w++) {
			char c;
			if (read(ready[0], &c, 1) != 1)
				die("a racer died before the start");
		}
		close(ready[0]);
		close(go[1]);
		wait_all(run->workers);
		for (int w = 0; w < run->workers; w++) {
			if (sh->result[w] == PAM_SUCCESS)
				wins++;
			else if (sh->result[w] != PAM_AUTH_ERR)
				other++;
		}
		if (wins != 1)
			pass = false;
		(void)snprintf(counts + strlen(counts), sizeof(counts) - strlen(counts), "%s%d",
			       round ? "," : "", wins);
		if (other)
			fprintf(stderr,
				"loginbench: %s: round %d: %d results neither success "
				"nor PAM_AUTH_ERR\n",
				run->label, round, other);
	}
	printf("mode=race label=%s users=%zu workers=%d rounds=%d successes=%s result=%s\n",
	       run->label, run->u.n, run->workers, run->rounds, counts, pass ? "PASS" : "FAIL");
	return 0;
}

/* What loading a shared object costs, as libpam loads a module at
 * pam_start and unloads it at pam_end: dlopen(RTLD_NOW) + dlclose. */
static int cmd_dlopen(const char *path, size_t n)
{
	double *lat = calloc(n, sizeof(*lat)), c0, t0;

	c0 = cpu_us(RUSAGE_SELF);
	t0 = mono_us();
	for (size_t i = 0; i < n; i++) {
		double s = mono_us();
		void *h = dlopen(path, RTLD_NOW);

		if (h == NULL)
			die("dlopen %s: %s", path, dlerror());
		dlclose(h);
		lat[i] = mono_us() - s;
	}
	report("dlopen", path, 0, n, lat, n, cpu_us(RUSAGE_SELF) - c0, mono_us() - t0, 1);
	return 0;
}

/* What the account lookup alone costs at this many users: a getpwnam and
 * a getgrouplist per login, through whatever NSS is configured. */
static int cmd_nss(struct run *run)
{
	double *lat = calloc(run->logins, sizeof(*lat)), c0, t0;
	size_t ok = 0;

	c0 = cpu_us(RUSAGE_SELF);
	t0 = mono_us();
	for (size_t i = 0; i < run->logins; i++) {
		const struct user *u = &run->u.v[run->order[i % run->u.n]];
		struct passwd pw, *res = NULL;
		char buf[16384];
		gid_t groups[64];
		int ng = 64;
		double s = mono_us();

		if (getpwnam_r(u->name, &pw, buf, sizeof(buf), &res) == 0 && res != NULL &&
		    getgrouplist(u->name, pw.pw_gid, groups, &ng) >= 0)
			ok++;
		lat[i] = mono_us() - s;
	}
	report("nss", run->label, run->u.n, run->logins, lat, ok, cpu_us(RUSAGE_SELF) - c0,
	       mono_us() - t0, 1);
	return 0;
}

/* ---- pgfloor: what any login through PostgreSQL costs at least ------------ */

/* libpq, by dlopen as pam_mfa loads it: the harness links no library a
 * module under test uses.  Only what the floor calls, by prototype. */
struct pq {
	void *(*connectdb_params)(const char *const *keys, const char *const *values, int expand);
	int (*status)(const void *conn);
	void *(*exec)(void *conn, const char *sql);
	int (*result_status)(const void *res);
	void (*clear)(void *res);
	void (*finish)(void *conn);
	char *(*error_message)(const void *conn);
};

#define PQ_CONNECTION_OK 0
#define PQ_PGRES_TUPLES_OK 2

static void pq_load(struct pq *q)
{
	void *h = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);

	if (h == NULL)
		die("dlopen libpq.so.5: %s", dlerror());
	*(void **)&q->connectdb_params = dlsym(h, "PQconnectdbParams");
	*(void **)&q->status = dlsym(h, "PQstatus");
	*(void **)&q->exec = dlsym(h, "PQexec");
	*(void **)&q->result_status = dlsym(h, "PQresultStatus");
	*(void **)&q->clear = dlsym(h, "PQclear");
	*(void **)&q->finish = dlsym(h, "PQfinish");
	*(void **)&q->error_message = dlsym(h, "PQerrorMessage");
	if (!q->connectdb_params || !q->status || !q->exec || !q->result_status || !q->clear ||
	    !q->finish || !q->error_message)
		die("libpq.so.5 lacks a function");
}

struct floor_args {
	const char *conninfo, *password;
	unsigned timeout;
	const char *query; /* --query; SELECT 1 by default */
};

/* One connection as store/pg.c makes it (the same conninfo, then
 * fallback_application_name, options and password after it), one
 * SELECT 1, closed.  0 or -1; *us the wall time, libpq's loading
 * included when it is loaded here. */
static int floor_once(const struct floor_args *a, struct pq *q, double *us)
{
	char options[64];
	const char *keys[] = { "fallback_application_name", "dbname", "options", "password", NULL };
	const char *values[] = { "pam_mfa", a->conninfo, options, a->password, NULL };
	double t0 = mono_us();
	struct pq loaded;
	void *conn, *res;
	int r = 0;

	(void)snprintf(options, sizeof(options), "-c statement_timeout=%u", a->timeout * 1000u);
	if (a->password == NULL)
		keys[3] = NULL;
	if (q == NULL) {
		pq_load(&loaded);
		q = &loaded;
	}
	conn = q->connectdb_params(keys, values, 1);
	if (conn == NULL || q->status(conn) != PQ_CONNECTION_OK) {
		fprintf(stderr, "loginbench: pgfloor: %s",
			conn ? q->error_message(conn) : "no memory\n");
		r = -1;
	} else {
		res = q->exec(conn, a->query != NULL ? a->query : "SELECT 1");
		if (q->result_status(res) != PQ_PGRES_TUPLES_OK) {
			fprintf(stderr, "loginbench: pgfloor: %s", q->error_message(conn));
			r = -1;
		}
		q->clear(res);
	}
	if (conn != NULL)
		q->finish(conn);
	*us = mono_us() - t0;
	return r;
}

static int floor_in_child(const void *ctx, double *us)
{
	return floor_once(ctx, NULL, us);
}

/* One connection from a fresh child that loads libpq, as a fresh sshd
 * child would. */
static int floor_forked(const struct floor_args *a, double *us)
{
	return in_fresh_child(floor_in_child, a, -1, us);
}

/* --fork-each: each connection from a fresh child that loads libpq, as a
 * fresh sshd child would; otherwise libpq loaded once, here. */
static int cmd_pgfloor(struct run *run, const struct floor_args *a)
{
	double *lat = calloc(run->logins, sizeof(*lat)), c0, t0, us;
	struct pq q;
	size_t ok = 0;

	if (!fork_each)
		pq_load(&q);
	for (size_t i = 0; i < run->warmup; i++)
		if (!fork_each && floor_once(a, &q, &us) < 0)
			die("pgfloor: the warm-up connection failed");
	c0 = cpu_now();
	t0 = mono_us();
	for (size_t i = 0; i < run->logins; i++)
		ok += (fork_each ? floor_forked(a, &lat[i]) : floor_once(a, &q, &lat[i])) == 0;
	report("pgfloor", run->label, 0, run->logins, lat, ok, cpu_now() - c0, mono_us() - t0, 1);
	return ok == run->logins ? 0 : 1;
}

/* pgalt: logins through each PAM service and bare connections to each
 * conninfo, in turn, round by round, each in a fresh process, each round
 * starting with the next one (as alt): the machine's drift falls on all
 * alike.  Service j is paired with conninfo j: the median over rounds of
 * the ratio of their times in the same round.  Each conninfo runs the
 * --query given before it (SELECT 1 if none).  A service takes a user of
 * its own each round: the services share one database. */
#define PGALT_MAX 6

static int cmd_pgalt(struct run *run, const char *const *services, size_t ns,
		     const struct floor_args *floors, size_t nf)
{
	size_t k = ns + nf, cursor = run->skip, ok[PGALT_MAX] = { 0 }, all = 0;
	double *lat[PGALT_MAX], cpu[PGALT_MAX] = { 0 }, wall[PGALT_MAX] = { 0 }, us;
	struct target t[PGALT_MAX];
	char label[PGALT_MAX][32];

	fork_each = true;
	for (size_t j = 0; j < k; j++) {
		if ((lat[j] = calloc(run->logins, sizeof(double))) == NULL)
			die("out of memory");
		if (j < ns) {
			t[j] = (struct target){ run->t.confdir, services[j] };
			(void)snprintf(label[j], sizeof(label[j]), "%s", services[j]);
		} else {
			(void)snprintf(label[j], sizeof(label[j]), "floor%zu", j - ns + 1);
		}
	}
	for (size_t i = 0; i < run->warmup; i++)
		for (size_t j = 0; j < k; j++)
			if ((j < ns ? login_once(&t[j], next_user(run, &cursor), &us) !=
					      PAM_SUCCESS :
				      floor_forked(&floors[j - ns], &us) < 0))
				die("pgalt: the warm-up of %s failed", label[j]);
	for (size_t i = 0; i < run->logins; i++)
		for (size_t s = 0; s < k; s++) {
			size_t j = (i / k) % 2 ? (i + k - s) % k : (i + s) % k;
			double c0 = cpu_now();
			int r;

			if (j < ns) {
				const struct user *u = next_user(run, &cursor);

				r = login_once(&t[j], u, &lat[j][i]) == PAM_SUCCESS ? 0 : -1;
				if (r < 0 && i + 1 - ok[j] <= 3)
					fprintf(stderr,
						"loginbench: pgalt: %s: login of %s failed\n",
						label[j], u->name);
			} else {
				r = floor_forked(&floors[j - ns], &lat[j][i]);
			}
			cpu[j] += cpu_now() - c0;
			wall[j] += lat[j][i];
			ok[j] += r == 0;
		}
	for (size_t j = 0; j < ns && j < nf; j++) {
		double *ratio = calloc(run->logins, sizeof(double));

		if (ratio == NULL)
			die("out of memory");
		for (size_t i = 0; i < run->logins; i++)
			ratio[i] = lat[ns + j][i] > 0 ? lat[j][i] / lat[ns + j][i] : 0;
		qsort(ratio, run->logins, sizeof(double), cmp_double);
		printf("mode=pgpair a=%s b=%s users=%zu rounds=%zu median_ratio=%.3f p25_ratio=%.3f "
		       "p75_ratio=%.3f\n",
		       label[j], label[ns + j], run->u.n, run->logins, pct(ratio, run->logins, 50),
		       pct(ratio, run->logins, 25), pct(ratio, run->logins, 75));
		free(ratio);
	}
	for (size_t j = 0; j < k; j++) {
		report("pgalt", label[j], run->u.n, run->logins, lat[j], ok[j], cpu[j], wall[j], 1);
		all += ok[j] == run->logins;
		free(lat[j]);
	}
	return all == k ? 0 : 1;
}

/* The first line of a file, without its newline; NULL for no file. */
static char *read_line_file(const char *path)
{
	char buf[4096];
	FILE *f;

	if (path == NULL)
		return NULL;
	if ((f = fopen(path, "r")) == NULL)
		die("%s: %s", path, strerror(errno));
	if (fgets(buf, sizeof(buf), f) == NULL)
		die("%s: empty", path);
	fclose(f);
	buf[strcspn(buf, "\r\n")] = '\0';
	return strdup(buf);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: loginbench gen --dir DIR --users N\n"
		"       loginbench seq  --confdir DIR --service NAME --secrets FILE --logins N\n"
		"       loginbench alt  --confdir DIR --service A,B[,C,D] --secrets FILE --logins N\n"
		"                       (--clock PREFIX: one file per service, PREFIX.NAME)\n"
		"       loginbench par  --confdir DIR --service NAME --secrets FILE --logins N --workers W\n"
		"       loginbench race --confdir DIR --service NAME --secrets FILE --workers W [--rounds R]\n"
		"       loginbench nss  --secrets FILE --logins N\n"
		"       loginbench dlopen --keep-loaded FILE.so --logins N\n"
		"       loginbench pgfloor --conninfo STR [--password-file F] [--timeout S] [--query SQL] --logins N\n"
		"       loginbench pgalt --confdir DIR --service A[,B] --secrets FILE --conninfo X [--conninfo Y] ...\n"
		"common: --label TEXT  --clock FILE  --warmup N  --skip N  --keep-loaded MODULE.so\n"
		"        --fork-each (each login in a fresh process)  --before-each CMD (untimed)\n"
		"        --real-clock (never move the clock)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'D' },
		{ "users", required_argument, NULL, 'n' },
		{ "confdir", required_argument, NULL, 'd' },
		{ "service", required_argument, NULL, 's' },
		{ "secrets", required_argument, NULL, 'S' },
		{ "logins", required_argument, NULL, 'l' },
		{ "workers", required_argument, NULL, 'w' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "label", required_argument, NULL, 'L' },
		{ "clock", required_argument, NULL, 'c' },
		{ "warmup", required_argument, NULL, 'W' },
		{ "skip", required_argument, NULL, 'k' },
		{ "keep-loaded", required_argument, NULL, 'K' },
		{ "fork-each", no_argument, NULL, 'F' },
		{ "real-clock", no_argument, NULL, 'R' },
		{ "before-each", required_argument, NULL, 'B' },
		{ "conninfo", required_argument, NULL, 'C' },
		{ "password-file", required_argument, NULL, 'P' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "query", required_argument, NULL, 'Q' },
		{ NULL, 0, NULL, 0 },
	};
	struct run run = { .logins = 100, .warmup = 5, .workers = 2, .rounds = 5, .label = "-" };
	const char *mode, *dir = NULL, *secrets = NULL, *password_file = NULL;
	struct floor_args floor = { NULL, NULL, 5, NULL };
	const char *conninfos[PGALT_MAX], *queries[PGALT_MAX];
	size_t nconninfos = 0;
	size_t nusers = 0;
	int c, r;

	if (argc < 2)
		usage();
	mode = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'D': dir = optarg; break;
		case 'n': nusers = strtoul(optarg, NULL, 10); break;
		case 'd': run.t.confdir = optarg; break;
		case 's': run.t.service = optarg; break;
		case 'S': secrets = optarg; break;
		case 'l': run.logins = strtoul(optarg, NULL, 10); break;
		case 'w': run.workers = atoi(optarg); break;
		case 'r': run.rounds = atoi(optarg); break;
		case 'L': run.label = optarg; break;
		case 'c': clock_file = optarg; break;
		case 'W': run.warmup = strtoul(optarg, NULL, 10); break;
		case 'k': run.skip = strtoul(optarg, NULL, 10); break;
		case 'K': run.keep_loaded = optarg; break;
		case 'F': fork_each = true; break;
		case 'R': real_clock = true; break;
		case 'B': before_each = optarg; break;
		case 'C':
			floor.conninfo = optarg;
			if (nconninfos == PGALT_MAX)
				die("at most %d --conninfo", PGALT_MAX);
			queries[nconninfos] = floor.query; /* the --query before it */
			conninfos[nconninfos++] = optarg;
			break;
		case 'Q': floor.query = optarg; break;
		case 'P': password_file = optarg; break;
		case 'T': floor.timeout = (unsigned)strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (strcmp(mode, "gen") == 0) {
		if (dir == NULL || nusers == 0)
			usage();
		return cmd_gen(dir, nusers);
	}
	if (strcmp(mode, "dlopen") == 0) {
		if (run.keep_loaded == NULL)
			usage();
		return cmd_dlopen(run.keep_loaded, run.logins);
	}
	if (strcmp(mode, "pgfloor") == 0) {
		if (floor.conninfo == NULL || run.logins == 0)
			usage();
		floor.password = read_line_file(password_file);
		return cmd_pgfloor(&run, &floor);
	}
	if (secrets == NULL || run.logins == 0)
		usage();
	load_users(secrets, &run.u);
	run.order = shuffled(run.u.n, 0x9e3779b97f4a7c15ull);
	if (strcmp(mode, "nss") == 0)
		return cmd_nss(&run);
	if (run.t.confdir == NULL || run.t.service == NULL)
		usage();
	/* A long-lived daemon keeps the module loaded; sshd's per-connection
	 * process loads it for each login.  This holds it open, to tell the
	 * two costs apart. */
	if (run.keep_loaded != NULL && dlopen(run.keep_loaded, RTLD_NOW | RTLD_NODELETE) == NULL)
		die("dlopen %s: %s", run.keep_loaded, dlerror());
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(mode, "pgalt") == 0) {
		char *list = run.t.service != NULL ? strdup(run.t.service) : NULL, *save = NULL;
		const char *services[PGALT_MAX];
		struct floor_args floors[PGALT_MAX];
		size_t k = 0;

		if (list == NULL || run.t.confdir == NULL)
			usage();
		for (char *sv = strtok_r(list, ",", &save); sv != NULL;
		     sv = strtok_r(NULL, ",", &save)) {
			if (k + nconninfos == PGALT_MAX)
				die("pgalt: at most %d services and conninfos", PGALT_MAX);
			services[k++] = sv;
		}
		floor.password = read_line_file(password_file);
		for (size_t j = 0; j < nconninfos; j++) {
			floors[j] = floor;
			floors[j].conninfo = conninfos[j];
			floors[j].query = queries[j];
		}
		clock_start();
		return cmd_pgalt(&run, services, k, floors, nconninfos);
	}
	if (strcmp(mode, "alt") == 0) {
		char *list = run.t.service != NULL ? strdup(run.t.service) : NULL, *save = NULL;
		const char *services[ALT_MAX];
		size_t k = 0;

		if (list == NULL)
			usage();
		for (char *s = strtok_r(list, ",", &save); s != NULL;
		     s = strtok_r(NULL, ",", &save)) {
			if (k == ALT_MAX)
				die("alt: at most %d services", ALT_MAX);
			/* The same state twice would see its own codes as replays. */
			for (size_t j = 0; j < k; j++)
				if (strcmp(services[j], s) == 0)
					die("alt: %s named twice", s);
			services[k] = s;
			if (clock_file != NULL) {
				size_t len = strlen(clock_file) + strlen(s) + 2;
				char *f = malloc(len);

				if (f == NULL)
					die("out of memory");
				snprintf(f, len, "%s.%s", clock_file, s);
				clock_files[nclock_files++] = f;
			}
			k++;
		}
		if (k < 2)
			die("alt: name two services or more, comma-separated");
		clock_start();
		return cmd_alt(&run, services, k);
	}
	if (clock_file != NULL)
		clock_files[nclock_files++] = clock_file;
	clock_start();
	if (strcmp(mode, "seq") == 0)
		r = cmd_seq(&run);
	else if (strcmp(mode, "par") == 0)
		r = cmd_par(&run);
	else if (strcmp(mode, "race") == 0)
		r = cmd_race(&run);
	else
		usage();
	return r;
}
