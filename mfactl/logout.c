/* Ending a user's sessions on this host (see logout.h): logind's first,
 * when it runs, then the processes of the uid found in /proc, SIGTERM and
 * after a grace time SIGKILL.  Each process is signalled through a pidfd
 * opened before its uid is read, so that a pid reused meanwhile by another
 * user's process is never hit.  loginctl runs without a shell, with a
 * clean environment and no descriptor of ours. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "logout.h"

/* The overflow uid, "nobody": shared by daemons that drop privileges. */
#define OVERFLOW_UID 65534
/* How long loginctl may take before it is killed. */
#define LOGINCTL_TIMEOUT_MS 10000
/* Rounds of SIGKILL for processes forked while the last was sent. */
#define KILL_ROUNDS 5

static const char *const loginctl_paths[] = { "/usr/bin/loginctl", "/bin/loginctl", NULL };

int logout_check(uid_t uid, struct mfa_error *err)
{
	const char *sudo_uid = getenv("SUDO_UID");
	uint64_t su;

	if (uid == 0) {
		mfa_error_set(err, "root's processes are the system's: they are never ended");
		return -EPERM;
	}
	if (uid < LOGOUT_UID_MIN || uid == OVERFLOW_UID) {
		mfa_error_set(err,
			      "uid %u is a system account (below %d, or nobody): its processes "
			      "are services, not sessions; they are not ended",
			      (unsigned)uid, LOGOUT_UID_MIN);
		return -EPERM;
	}
	if (uid == getuid() ||
	    (sudo_uid != NULL && parse_u64(sudo_uid, UINT32_MAX, &su) == 0 && su == uid)) {
		mfa_error_set(err, "uid %u runs this mfactl: it would end its own session",
			      (unsigned)uid);
		return -EPERM;
	}
	return 0;
}

/* A set of pids or session ids, kept sorted. */
struct id_set {
	pid_t *v;
	size_t n, cap;
};

/* Adds id; 1 if it was new, 0 if it was there, -ENOMEM. */
static int id_set_add(struct id_set *s, pid_t id)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (s->v[mid] == id)
			return 0;
		if (s->v[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		pid_t *v = realloc(s->v, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	memmove(s->v + lo + 1, s->v + lo, (s->n - lo) * sizeof(*s->v));
	s->v[lo] = id;
	s->n++;
	return 1;
}

/* Reads a small file of /proc into buf; 0 or -errno. */
static int read_proc_file(int procfd, const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = openat(procfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = '\0';
	return 0;
}

/* What /proc says of a process: whether it is alive (not a zombie) and
 * runs with uid as its real uid, as pkill -U matches.  Not the effective
 * uid alone: a root daemon that takes on the user's for a moment (mail
 * delivery reading ~/.forward) could be made to stall there by the user
 * and would be killed at their choosing. */
static bool proc_is_users(int procfd, const char *pid, uid_t uid)
{
	char path[64], buf[4096];
	const char *state, *uids;
	unsigned long real, eff;

	(void)snprintf(path, sizeof(path), "%s/status", pid);
	if (read_proc_file(procfd, path, buf, sizeof(buf)) < 0)
		return false;
	state = strstr(buf, "\nState:\t");
	uids = strstr(buf, "\nUid:\t");
	if (state == NULL || uids == NULL || sscanf(uids, "\nUid:\t%lu\t%lu", &real, &eff) != 2)
		return false;
	if (state[8] == 'Z' || state[8] == 'X')
		return false;
	(void)eff;
	return real == uid;
}

/* The session id of a process, from /proc/PID/stat (after the command's
 * name, which may hold anything, even ") "); -1 if unknown. */
static pid_t proc_session(int procfd, const char *pid)
{
	char path[64], buf[1024];
	const char *p;
	int ppid, pgrp, sid;
	char state;

	(void)snprintf(path, sizeof(path), "%s/stat", pid);
	if (read_proc_file(procfd, path, buf, sizeof(buf)) < 0 || (p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %c %d %d %d", &state, &ppid, &pgrp, &sid) != 4)
		return -1;
	return sid;
}

/* Whether the process is in a logind session's scope (whose ending logind
 * already counted). */
static bool proc_in_logind_session(int procfd, const char *pid)
{
	char path[64], buf[4096];

	(void)snprintf(path, sizeof(path), "%s/cgroup", pid);
	return read_proc_file(procfd, path, buf, sizeof(buf)) == 0 &&
	       strstr(buf, "/session-") != NULL;
}

/* What one pass over /proc saw and did. */
struct pass {
	unsigned alive;	    /* processes of the uid found in this pass */
	struct id_set pids; /* every process signalled, over all passes */
	struct id_set sids; /* their sessions, outside logind's */
	bool skip_logind;   /* logind ended its sessions: not counted again */
};

/* Signals one process named by its /proc entry, if it is the uid's: its
 * pidfd first, then its uid, then the signal through the pidfd, which
 * refuses (ESRCH) if the process it names is gone, whoever has its pid
 * now.  sig 0 only counts. */
static int signal_one(int procfd, const char *name, uid_t uid, int sig, struct pass *p)
{
	char *end;
	long v = strtol(name, &end, 10);
	pid_t pid = (pid_t)v;
	int fd, r;

	if (*end != '\0' || v <= 1 || v > INT32_MAX || pid == getpid())
		return 0;
	fd = pidfd_open(pid, 0);
	if (fd < 0 && errno != ENOSYS)
		return 0; /* gone */
	if (!proc_is_users(procfd, name, uid)) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	r = fd >= 0 ? pidfd_send_signal(fd, 0, NULL, 0) : kill(pid, 0);
	if (r == 0 && sig != 0)
		r = fd >= 0 ? pidfd_send_signal(fd, sig, NULL, 0) : kill(pid, sig);
	/* A stopped process (^Z) would sit on its SIGTERM until SIGKILL:
	 * woken, it can end cleanly. */
	if (r == 0 && sig == SIGTERM)
		(void)(fd >= 0 ? pidfd_send_signal(fd, SIGCONT, NULL, 0) : kill(pid, SIGCONT));
	if (fd >= 0)
		close(fd);
	if (r < 0)
		return 0; /* exited meanwhile */
	p->alive++;
	if (sig == 0)
		return 0;
	if (id_set_add(&p->pids, pid) > 0 &&
	    !(p->skip_logind && proc_in_logind_session(procfd, name))) {
		pid_t sid = proc_session(procfd, name);

		if (sid > 0 && id_set_add(&p->sids, sid) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* One pass over /proc, each process of uid sent sig (0: counted only). */
static int signal_pass(uid_t uid, int sig, struct pass *p, struct mfa_error *err)
{
	struct dirent *de;
	int procfd, r = 0;
	DIR *d;

	procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (procfd < 0 || (d = fdopendir(dup(procfd))) == NULL) {
		mfa_error_set(err, "cannot read /proc: %s", strerror(errno));
		if (procfd >= 0)
			close(procfd);
		return -EIO;
	}
	p->alive = 0;
	while (r == 0 && (de = readdir(d)) != NULL)
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9')
			r = signal_one(procfd, de->d_name, uid, sig, p);
	closedir(d);
	close(procfd);
	if (r < 0)
		mfa_error_set(err, "out of memory");
	return r;
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* SIGTERM, up to LOGOUT_GRACE_SECONDS for them to go, then SIGKILL for
 * what is left, again for what was forked meanwhile. */
static int end_processes(uid_t uid, struct logout_result *res, struct pass *p,
			 struct mfa_error *err)
{
	int64_t deadline;
	int r;

	r = signal_pass(uid, SIGTERM, p, err);
	deadline = monotonic_ms() + LOGOUT_GRACE_SECONDS * 1000;
	while (r == 0 && p->alive > 0 && monotonic_ms() < deadline) {
		sleep_ms(100);
		r = signal_pass(uid, 0, p, err);
	}
	for (unsigned i = 0; r == 0 && p->alive > 0 && i < KILL_ROUNDS; i++) {
		r = signal_pass(uid, SIGKILL, p, err);
		sleep_ms(100);
		if (r == 0)
			r = signal_pass(uid, 0, p, err);
	}
	res->processes = (unsigned)p->pids.n;
	res->sessions += (unsigned)p->sids.n;
	res->survivors = p->alive;
	return r;
}

/* The first loginctl that exists, or NULL. */
static const char *loginctl_path(void)
{
	for (const char *const *p = loginctl_paths; *p != NULL; p++)
		if (access(*p, X_OK) == 0)
			return *p;
	return NULL;
}

/* Runs loginctl with args (no shell; stdin and stderr /dev/null, a clean
 * environment) and reads what it prints into out; its exit status, or
 * -errno if it could not run or took too long. */
static int run_loginctl(const char *path, const char *const *args, char *out, size_t len)
{
	static char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C",
				      "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0", NULL };
	char *argv[8], rest[256];
	size_t n = 0, got = 0;
	int pipefd[2], status, r = 0;
	int64_t deadline;
	pid_t pid;

	argv[n++] = (char *)path;
	argv[n++] = (char *)"--no-pager";
	for (; *args != NULL && n < 7; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return r;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (null < 0 || dup2(null, 0) < 0 || dup2(pipefd[1], 1) < 0 || dup2(null, 2) < 0)
			_exit(127);
		(void)close_range(3, ~0U, 0);
		execve(path, argv, envp);
		_exit(127);
	}
	close(pipefd[1]);
	deadline = monotonic_ms() + LOGINCTL_TIMEOUT_MS;
	for (;;) {
		struct pollfd pfd = { .fd = pipefd[0], .events = POLLIN };
		int64_t left = deadline - monotonic_ms();
		ssize_t k;

		if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
			r = -ETIMEDOUT;
			(void)kill(pid, SIGKILL);
			break;
		}
		/* What does not fit is read and dropped: loginctl must not
		 * block on a full pipe. */
		k = got < len - 1 ? read(pipefd[0], out + got, len - 1 - got) :
				    read(pipefd[0], rest, sizeof(rest));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		if (got < len - 1)
			got += (size_t)k;
	}
	out[got] = '\0';
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -ECHILD;
	if (r < 0)
		return r;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -EINTR;
}

/* How many words the text has: the session ids loginctl listed. */
static unsigned count_words(const char *s)
{
	unsigned n = 0;

	while (*s != '\0') {
		s += strspn(s, " \t\n");
		if (*s == '\0')
			break;
		n++;
		s += strcspn(s, " \t\n");
	}
	return n;
}

/* Whether logind runs here: sd_booted()'s test, and a loginctl to ask. */
static const char *logind_loginctl(void)
{
	struct stat sb;

	if (lstat("/run/systemd/system", &sb) < 0 || !S_ISDIR(sb.st_mode))
		return NULL;
	return loginctl_path();
}

/* logind's part: counts the user's sessions and ends them all (a user
 * that logind has no sessions of is not an error: the processes are). */
static void end_logind_sessions(const char *loginctl, uid_t uid, struct logout_result *res,
				struct mfa_error *err)
{
	char uidtext[16], out[4096];
	const char *show[] = { "show-user", uidtext, "-p", "Sessions", "--value", NULL };
	const char *terminate[] = { "terminate-user", uidtext, NULL };
	int r;

	(void)snprintf(uidtext, sizeof(uidtext), "%u", (unsigned)uid);
	unsigned sessions;

	r = run_loginctl(loginctl, show, out, sizeof(out));
	if (r != 0)
		return; /* logind knows no such user logged in */
	sessions = count_words(out);
	r = run_loginctl(loginctl, terminate, out, sizeof(out));
	if (r != 0) {
		mfa_error_set(err, "loginctl terminate-user %s failed (%s)", uidtext,
			      r < 0 ? strerror(-r) : "exit status not 0");
		res->logind_failed = true;
		return;
	}
	res->logind = true;
	res->sessions = sessions;
}

int logout_user(uid_t uid, struct logout_result *res, struct mfa_error *err)
{
	struct pass p;
	const char *loginctl = logind_loginctl();
	int r;

	memset(res, 0, sizeof(*res));
	memset(&p, 0, sizeof(p));
	if (logout_check(uid, err) < 0)
		return -EPERM;
	if (loginctl != NULL) {
		char shown[sizeof(err->msg)] = "";

		end_logind_sessions(loginctl, uid, res, err);
		if (res->logind_failed)
			memcpy(shown, err->msg, sizeof(shown));
		p.skip_logind = res->logind;
		r = end_processes(uid, res, &p, err);
		if (r == 0 && res->logind_failed)
			memcpy(err->msg, shown, sizeof(shown));
	} else {
		r = end_processes(uid, res, &p, err);
	}
	free(p.pids.v);
	free(p.sids.v);
	return r;
}
