/* The file backend of the state store.  Layout of the state directory:
 *   USER            the user's record (format: pam_mfa.conf(5), STATE RECORDS)
 *   .lock.USER      the user's lock file; flock(2) on it serializes updates
 *   .tmp.USER.XXXX  a new record being written, renamed over USER when complete
 * User names never start with '.', so nothing else can be taken for a record.
 *
 * A record file holds two slots, each a checksummed, sequence-numbered copy
 * of the record text.  An update overwrites the older slot in place and
 * syncs it with one fdatasync(): a torn write fails its checksum and the
 * other slot, the previous state, is read instead.  Only a new record (or
 * one in the old single-text form, or one that outgrew its slots) is
 * created by temp file and rename. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "secmem.h"
#include "files.h"

struct files_store {
	struct store base; /* first: the handle store.h hands out */
	int dfd;
	char *path;
	bool deferred_sync; /* see files_defer_sync() */
	/* The one proof this handle gave (store_prove()): whose, until when. */
	char proof[STORE_PROOF_MAX + 1];
	char proof_user[USER_NAME_MAX + 1];
	int64_t proof_until;
};

/* A slot: "MFA1 SEQ LEN CRC\n" then LEN bytes of record text, zero padded.
 * SEQ is 16, LEN 4 and CRC 8 lower-case hex digits; the CRC-32 covers the
 * header up to CRC and the text.  A file is two slots of one size: the
 * smallest that holds the text when the file was made, so that the record
 * of a user with an app or two stays 4096 bytes (a listing reads 100,000
 * of them) and one with many factors and recovery codes still fits. */
#define SLOT_SIZE_MIN 2048
#define SLOT_SIZE_MAX 16384
#define SLOT_MAGIC "MFA1 "
#define SLOT_CRC_AT 27
#define SLOT_HEADER_LEN 36
#define SLOT_TEXT_MAX (SLOT_SIZE_MAX - SLOT_HEADER_LEN)
#define RECORD_FILE_MAX (2 * SLOT_SIZE_MAX)

_Static_assert(RECORD_FILE_MAX <= STORE_RECORD_MAX, "a record file must be readable");

/* What the open record file holds, for the next update in place. */
struct slots {
	bool slotted;	  /* in the two-slot form */
	size_t slot_size; /* 2048, 4096, 8192 or 16384 */
	int newest;	  /* the slot holding the record */
	uint64_t seq;	  /* its sequence number */
};

/* The slot size of a two-slot file of len bytes, or 0 if none has it. */
static size_t slot_size_of(size_t len)
{
	for (size_t s = SLOT_SIZE_MIN; s <= SLOT_SIZE_MAX; s *= 2)
		if (len == 2 * s)
			return s;
	return 0;
}

/* The smallest slot that holds a text of len bytes. */
static size_t slot_size_for(size_t len)
{
	size_t s = SLOT_SIZE_MIN;

	while (s < SLOT_SIZE_MAX && len > s - SLOT_HEADER_LEN)
		s *= 2;
	return s;
}

struct files_txn {
	struct files_store *st;
	int lock_fd;
	int rec_fd; /* the record, open for writing in place; -1: none */
	struct slots slots;
	char user[USER_NAME_MAX + 1];
};

int files_open(const char *dir, int flags, struct files_store **out, struct mfa_error *err)
{
	struct files_store *st;
	struct stat sb;
	int dfd, r;

	dfd = open_trusted_dir(dir, err);
	if (dfd == -ENOENT && (flags & STORE_CREATE)) {
		char parent[4096];
		const char *base = strrchr(dir, '/');
		int pfd;

		if (base == NULL || base == dir || strlen(dir) >= sizeof(parent)) {
			mfa_error_set(err, "%s: cannot create the state directory here", dir);
			return -EINVAL;
		}
		memcpy(parent, dir, (size_t)(base - dir));
		parent[base - dir] = '\0';
		pfd = open_trusted_dir(parent, err);
		if (pfd < 0)
			return pfd;
		if (mkdirat(pfd, base + 1, 0700) < 0 && errno != EEXIST) {
			r = -errno;
			close(pfd);
			mfa_error_set(err, "%s: cannot create: %s", dir, strerror(-r));
			return r;
		}
		(void)fsync(pfd);
		close(pfd);
		dfd = open_trusted_dir(dir, err);
	}
	if (dfd < 0)
		return dfd;
	if (fstat(dfd, &sb) < 0) {
		r = -errno;
		mfa_error_set(err, "%s: %s", dir, strerror(-r));
		close(dfd);
		return r;
	}
	if ((sb.st_mode & 077) != 0) {
		mfa_error_set(err, "%s: the state directory must have mode 0700, not %04o", dir,
			      (unsigned)(sb.st_mode & 07777));
		close(dfd);
		return -EPERM;
	}
	st = calloc(1, sizeof(*st));
	if (st == NULL || (st->path = strdup(dir)) == NULL) {
		free(st);
		close(dfd);
		mfa_error_set(err, "out of memory");
		return -ENOMEM;
	}
	st->base.ops = &files_store_ops;
	st->dfd = dfd;
	*out = st;
	return 0;
}

void files_defer_sync(struct files_store *st)
{
	st->deferred_sync = true;
}

int files_sync(struct files_store *st, struct mfa_error *err)
{
	int r;

	/* syncfs() writes back every file of the filesystem, which is what a
	 * batch of thousands of new records needs; then the directory. */
	if (syncfs(st->dfd) < 0 || fsync(st->dfd) < 0) {
		r = -errno;
		mfa_error_set(err, "%s: cannot sync the state directory: %s", st->path,
			      strerror(-r));
		return r;
	}
	return 0;
}

void files_close(struct files_store *st)
{
	if (st == NULL)
		return;
	close(st->dfd);
	free(st->path);
	free(st);
}

static int check_user(const char *user, struct mfa_error *err)
{
	if (!user_name_valid(user)) {
		mfa_error_set(err, "invalid user name");
		return -EINVAL;
	}
	return 0;
}

static int hex_field(const char *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++) {
		int c = p[i];
		if (c >= '0' && c <= '9')
			v = v * 16 + (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (uint64_t)(c - 'a' + 10);
		else
			return -EINVAL;
	}
	*out = v;
	return 0;
}

/* CRC-32 (the ISO-HDLC one of zlib and PNG), four bytes a step: zlib would
 * be one more library for every login to load, and a listing of 100,000
 * records checks 60 MB.  crc32_tables.h was made by this Python:
 *   t = [[0] * 256 for _ in range(4)]
 *   for n in range(256):
 *       c = n
 *       for _ in range(8): c = 0xEDB88320 ^ (c >> 1) if c & 1 else c >> 1
 *       t[0][n] = c
 *   for k in 1, 2, 3:
 *       for n in range(256): t[k][n] = t[k - 1][n] >> 8 ^ t[0][t[k - 1][n] & 0xff]
 * and test_store.c checks it against zlib's crc32(). */
#include "crc32_tables.h"

uint32_t files_crc32(uint32_t crc, const unsigned char *p, size_t len)
{
	crc = ~crc;
	for (; len >= 4; p += 4, len -= 4) {
		crc ^= (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		       (uint32_t)p[3] << 24;
		crc = crc_tables[3][crc & 0xff] ^ crc_tables[2][(crc >> 8) & 0xff] ^
		      crc_tables[1][(crc >> 16) & 0xff] ^ crc_tables[0][crc >> 24];
	}
	while (len-- > 0)
		crc = crc_tables[0][(crc ^ *p++) & 0xffu] ^ (crc >> 8);
	return ~crc;
}

static uint32_t slot_crc(const char *slot, size_t text_len)
{
	uint32_t crc = files_crc32(0, (const unsigned char *)slot, SLOT_CRC_AT);

	return files_crc32(crc, (const unsigned char *)slot + SLOT_HEADER_LEN, text_len);
}

/* Whether slot has a well-formed header, and its sequence number, length
 * and CRC. */
static bool slot_header(const char *slot, size_t slot_size, uint64_t *seq, size_t *text_len,
			uint32_t *crc)
{
	uint64_t len, c;

	if (memcmp(slot, SLOT_MAGIC, strlen(SLOT_MAGIC)) != 0 || slot[21] != ' ' ||
	    slot[26] != ' ' || slot[35] != '\n' || hex_field(slot + 5, 16, seq) < 0 ||
	    hex_field(slot + 22, 4, &len) < 0 || hex_field(slot + SLOT_CRC_AT, 8, &c) < 0 ||
	    len > slot_size - SLOT_HEADER_LEN)
		return false;
	*text_len = (size_t)len;
	*crc = (uint32_t)c;
	return true;
}

/* Whether slot i of the file in buf matches the CRC its header gave. */
static bool slot_intact(const char *buf, size_t slot_size, int i, const size_t tlen[2],
			const uint32_t crc[2])
{
	return slot_crc(buf + (size_t)i * slot_size, tlen[i]) == crc[i];
}

static void slot_fill(char *slot, size_t slot_size, uint64_t seq, const char *text, size_t len)
{
	char crc[10];

	memset(slot, 0, slot_size);
	/* len <= SLOT_TEXT_MAX: the mask only tells the compiler it fits. */
	(void)snprintf(slot, SLOT_CRC_AT + 1, SLOT_MAGIC "%016" PRIx64 " %04x ", seq,
		       (unsigned)(len & 0xffff));
	memcpy(slot + SLOT_HEADER_LEN, text, len);
	(void)snprintf(crc, sizeof(crc), "%08" PRIx32 "\n", slot_crc(slot, len));
	memcpy(slot + SLOT_CRC_AT, crc, 9);
}

/* Finds the record text in a file's contents: the newest intact slot, or
 * the whole file in the single-text form of earlier versions. */
static int record_text(const char *buf, size_t len, struct slots *sl, const char **text,
		       size_t *text_len, struct mfa_error *err)
{
	size_t size = slot_size_of(len);
	uint64_t seq[2];
	size_t tlen[2];
	uint32_t crc[2];
	bool ok[2];

	if (len < strlen(SLOT_MAGIC) || memcmp(buf, SLOT_MAGIC, strlen(SLOT_MAGIC)) != 0) {
		sl->slotted = false;
		*text = buf;
		*text_len = len;
		return 0;
	}
	if (size == 0) {
		mfa_error_set(err, "a two-slot record of %zu bytes, not %d, %d, %d or %d", len,
			      2 * SLOT_SIZE_MIN, 4 * SLOT_SIZE_MIN, 8 * SLOT_SIZE_MIN,
			      2 * SLOT_SIZE_MAX);
		return -EINVAL;
	}
	for (int i = 0; i < 2; i++)
		ok[i] = slot_header(buf + (size_t)i * size, size, &seq[i], &tlen[i], &crc[i]);
	/* The CRC of the newer slot only, unless it fails: a listing of
	 * 100,000 records checks one slot each. */
	if (ok[0] && ok[1] && seq[0] != seq[1]) {
		int newer = seq[1] > seq[0] ? 1 : 0;

		if (!slot_intact(buf, size, newer, tlen, crc)) {
			ok[newer] = false;
			ok[1 - newer] = slot_intact(buf, size, 1 - newer, tlen, crc);
		}
		/* else the older slot stays unchecked: the newer one wins. */
	} else {
		for (int i = 0; i < 2; i++)
			ok[i] = ok[i] && slot_intact(buf, size, i, tlen, crc);
	}
	if (!ok[0] && !ok[1]) {
		mfa_error_set(err, "neither slot is intact");
		return -EINVAL;
	}
	if (ok[0] && ok[1] && seq[0] == seq[1]) {
		mfa_error_set(err, "both slots have sequence number %" PRIu64, seq[0]);
		return -EINVAL;
	}
	sl->slotted = true;
	sl->slot_size = size;
	sl->newest = !ok[0] || (ok[1] && seq[1] > seq[0]) ? 1 : 0;
	sl->seq = seq[sl->newest];
	*text = buf + (size_t)sl->newest * size + SLOT_HEADER_LEN;
	*text_len = tlen[sl->newest];
	return 0;
}

static int record_file_parse_slots(const char *buf, size_t len, const char *expected_user,
				   struct mfa_record *rec, struct slots *sl, struct mfa_error *err)
{
	const char *text;
	size_t text_len;
	int r;

	r = record_text(buf, len, sl, &text, &text_len, err);
	if (r == 0)
		r = record_parse(text, text_len, expected_user, rec, err);
	return r;
}

int record_file_parse(const char *buf, size_t len, const char *expected_user,
		      struct mfa_record *rec, struct mfa_error *err)
{
	struct slots sl;

	return record_file_parse_slots(buf, len, expected_user, rec, &sl, err);
}

/* Opens and reads a user's record with every check.  With keep_fd, the
 * file is opened for writing too and left open in *keep_fd on success. */
static int load_record(struct files_store *st, const char *user, struct mfa_record *rec,
		       int *keep_fd, struct slots *sl, struct mfa_error *err)
{
	struct stat sb;
	struct slots unused;
	size_t len = 0;
	char *buf = NULL;
	int fd, r;

	r = check_user(user, err);
	if (r < 0)
		return r;
	if (sl == NULL)
		sl = &unused;
	fd = openat(st->dfd, user,
		    (keep_fd != NULL ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY |
			    O_NONBLOCK);
	if (fd < 0 && keep_fd != NULL &&
	    (errno == EPERM || errno == EACCES || errno == EROFS || errno == EISDIR)) {
		/* Not writable in place (immutable, read-only): read it, and
		 * let an update try to replace it, which fails as it must.  A
		 * directory is opened to be refused below like any non-file. */
		keep_fd = NULL;
		fd = openat(st->dfd, user,
			    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	}
	if (fd < 0) {
		r = -errno;
		if (r == -ELOOP)
			mfa_error_set(err, "%s/%s: is a symbolic link", st->path, user);
		else
			mfa_error_set(err, "%s/%s: %s", st->path, user, strerror(-r));
		return r;
	}
	if (fstat(fd, &sb) < 0) {
		r = -errno;
		mfa_error_set(err, "%s/%s: %s", st->path, user, strerror(-r));
		goto out;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_uid != 0 || (sb.st_mode & 077) != 0 || sb.st_nlink != 1) {
		mfa_error_set(err,
			      "%s/%s: refusing a record that is not a regular root-owned "
			      "file of mode 0600 with one link",
			      st->path, user);
		r = -EPERM;
		goto out;
	}
	if (sb.st_size > STORE_RECORD_MAX) {
		mfa_error_set(err, "%s/%s: corrupt record: larger than %d bytes", st->path, user,
			      STORE_RECORD_MAX);
		r = -EINVAL;
		goto out;
	}
	/* On the heap: the largest record would take 32 KiB of the stack of
	 * whatever thread of a daemon calls the module. */
	buf = malloc((size_t)sb.st_size + 1);
	if (buf == NULL) {
		mfa_error_set(err, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	/* As many bytes as fstat() told: a record never grows in place (a
	 * new one is a new file), and a listing of 100,000 records saves a
	 * read each that would only see the end. */
	while (len < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)sb.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			mfa_error_set(err, "%s/%s: %s", st->path, user, strerror(-r));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	r = record_file_parse_slots(buf, len, user, rec, sl, err);
	if (r < 0) {
		char why[sizeof(err->msg)];
		memcpy(why, err->msg, sizeof(why));
		mfa_error_set(err, "%s/%s: corrupt record: %s", st->path, user, why);
	}
out:
	if (buf != NULL) {
		secure_wipe(buf, (size_t)sb.st_size + 1);
		free(buf);
	}
	if (r == 0 && keep_fd != NULL)
		*keep_fd = fd;
	else
		close(fd);
	return r;
}

int files_load(struct files_store *st, const char *user, struct mfa_record *rec,
	       struct mfa_error *err)
{
	return load_record(st, user, rec, NULL, NULL, err);
}

/* flock() with a bound: polled, not blocking, since a module must not use
 * alarm() or signals of its host.  The first try costs what a plain flock()
 * does; a waiter then tries every 1 to 2 ms, the pause jittered so that
 * waiters do not move in step and none is starved for long.  0 or -errno
 * (-ETIMEDOUT). */
static int lock_within(int fd, unsigned seconds)
{
	struct timespec start, now, pause = { 0, 0 };

	if (clock_gettime(CLOCK_MONOTONIC, &start) < 0)
		return -errno;
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return -errno;
		if (clock_gettime(CLOCK_MONOTONIC, &now) < 0)
			return -errno;
		if (now.tv_sec - start.tv_sec > (time_t)seconds ||
		    (now.tv_sec - start.tv_sec == (time_t)seconds && now.tv_nsec >= start.tv_nsec))
			return -ETIMEDOUT;
		pause.tv_nsec = 1000000 + now.tv_nsec % 1000000;
		(void)nanosleep(&pause, NULL);
	}
}

/* The process holding the flock on fd's file, from /proc/locks, for the
 * message of a lock that was held too long; 0 if it cannot be told. */
static long lock_holder(int fd)
{
	char line[256];
	struct stat sb;
	long pid = 0;
	FILE *f;

	if (fstat(fd, &sb) < 0 || (f = fopen("/proc/locks", "re")) == NULL)
		return 0;
	while (pid == 0 && fgets(line, sizeof(line), f) != NULL) {
		unsigned maj, min;
		unsigned long ino;
		long who;

		if (sscanf(line, "%*d: FLOCK %*s WRITE %ld %x:%x:%lu", &who, &maj, &min, &ino) ==
			    4 &&
		    ino == (unsigned long)sb.st_ino && maj == major(sb.st_dev) &&
		    min == minor(sb.st_dev))
			pid = who;
	}
	fclose(f);
	return pid;
}

int files_lock(struct files_store *st, const char *user, struct files_txn **txn,
	       struct mfa_error *err)
{
	char lockname[USER_NAME_MAX + 8];
	struct files_txn *t;
	int fd = -1, r;

	r = check_user(user, err);
	if (r < 0)
		return r;
	(void)snprintf(lockname, sizeof(lockname), ".lock.%s", user);
	/* The lock file may be removed (by a reset) between our open and our
	 * flock: then we hold a lock nobody else can find, so try again. */
	for (;;) {
		struct stat a, b;

		fd = openat(st->dfd, lockname, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
			    0600);
		if (fd < 0) {
			r = -errno;
			mfa_error_set(err, "%s/%s: %s", st->path, lockname, strerror(-r));
			return r;
		}
		r = lock_within(fd, STORE_LOCK_WAIT_SECONDS);
		if (r == -ETIMEDOUT) {
			char holder[32] = "pid unknown";
			long pid = lock_holder(fd);

			if (pid > 0)
				(void)snprintf(holder, sizeof(holder), "pid %ld", pid);
			mfa_error_set(err,
				      "%s/%s: still locked by another process after %d "
				      "seconds (%s, stopped while it updated the record?)",
				      st->path, lockname, STORE_LOCK_WAIT_SECONDS, holder);
			close(fd);
			return r;
		}
		if (r < 0 || fstat(fd, &a) < 0) {
			r = r < 0 ? r : -errno;
			mfa_error_set(err, "%s/%s: %s", st->path, lockname, strerror(-r));
			close(fd);
			return r;
		}
		if (a.st_nlink == 0) {
			/* Removed while we waited for it: start over. */
			close(fd);
			continue;
		}
		if (!S_ISREG(a.st_mode) || a.st_uid != 0 || a.st_nlink != 1) {
			mfa_error_set(err,
				      "%s/%s: refusing a lock file that is not a regular "
				      "root-owned file with one link",
				      st->path, lockname);
			close(fd);
			return -EPERM;
		}
		if (fstatat(st->dfd, lockname, &b, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
			close(fd);
			if (r == -ENOENT)
				continue; /* removed after our flock: start over */
			/* Any other error would recur: retrying would spin. */
			mfa_error_set(err, "%s/%s: %s", st->path, lockname, strerror(-r));
			return r;
		}
		if (a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			break;
		close(fd); /* replaced after our flock: start over */
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		close(fd);
		mfa_error_set(err, "out of memory");
		return -ENOMEM;
	}
	t->st = st;
	t->lock_fd = fd;
	t->rec_fd = -1;
	memcpy(t->user, user, strlen(user) + 1);
	*txn = t;
	return 0;
}

int files_begin(struct files_store *st, const char *user, struct files_txn **txn,
		struct mfa_record *rec, bool *exists, struct mfa_error *err)
{
	/* files_lock() sets t whenever it returns 0.  NULL only for clang 14's
	 * analyzer: it does not know that a failed openat() sets errno, so it
	 * takes "return -errno" for a possible success. */
	struct files_txn *t = NULL;
	int r;

	r = files_lock(st, user, &t, err);
	if (r < 0)
		return r;
	/* For clang 14's analyzer, as above: it takes a failed openat() in
	 * load_record() for a success that read nothing. */
	rec->factors_tag = 0;
	r = load_record(st, user, rec, &t->rec_fd, &t->slots, err);
	if (r == -ENOENT) {
		record_init(rec, user);
		*exists = false;
	} else if (r < 0) {
		files_end(t);
		return r;
	} else {
		*exists = true;
	}
	*txn = t;
	return 0;
}

bool files_basis_holds(const struct store_basis *basis, const struct mfa_record *rec)
{
	return basis->version == (int64_t)rec->factors_tag;
}

int files_begin_unchanged(struct files_store *st, const char *user, const struct store_basis *basis,
			  struct files_txn **txn, struct mfa_record *rec, bool *exists,
			  struct mfa_error *err)
{
	int r = files_begin(st, user, txn, rec, exists, err);

	/* -ESTALE says the factors changed: a stale NFS handle is not that. */
	if (r == -ESTALE)
		return -EIO;
	/* A record that does not exist has the tag of a fresh one: 0. */
	if (r < 0 || basis == NULL || files_basis_holds(basis, rec))
		return r;
	files_end(*txn);
	*txn = NULL;
	record_wipe(rec);
	mfa_error_set(err, "the user's second factors changed meanwhile");
	return -ESTALE;
}

/* Overwrites the older slot of the open record and syncs it. */
static int commit_in_place(struct files_txn *txn, const char *text, size_t len,
			   struct mfa_error *err)
{
	struct files_store *st = txn->st;
	size_t size = txn->slots.slot_size, off = 0;
	char slot[SLOT_SIZE_MAX];
	int target = 1 - txn->slots.newest, r = 0;

	slot_fill(slot, size, txn->slots.seq + 1, text, len);
	while (off < size) {
		ssize_t n = pwrite(txn->rec_fd, slot + off, size - off,
				   (off_t)target * (off_t)size + (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)n;
	}
	if (r == 0 && !st->deferred_sync && fdatasync(txn->rec_fd) < 0)
		r = -errno;
	secure_wipe(slot, sizeof(slot));
	if (r < 0) {
		/* The slot may be torn: it fails its checksum and the record
		 * reads as before.  Nothing more goes through this file. */
		mfa_error_set(err, "%s/%s: cannot write the record: %s", st->path, txn->user,
			      strerror(-r));
		close(txn->rec_fd);
		txn->rec_fd = -1;
		txn->slots.slotted = false;
		return r;
	}
	txn->slots.newest = target;
	txn->slots.seq++;
	return 0;
}

/* Writes a whole new record file: a temporary file, synced, renamed over the
 * record, and the directory synced.  The new file stays open for updates. */
static int commit_new_file(struct files_txn *txn, const char *text, size_t len,
			   struct mfa_error *err)
{
	struct files_store *st = txn->st;
	size_t size = slot_size_for(len), image_len = 2 * size;
	char tmpname[USER_NAME_MAX + 32];
	char *image;
	int fd = -1, r = -EIO;

	/* Slot 0 holds the record; slot 1, all zeros, is allocated now so
	 * that later updates overwrite blocks in place. */
	image = calloc(1, image_len);
	if (image == NULL) {
		mfa_error_set(err, "out of memory");
		return -ENOMEM;
	}
	slot_fill(image, size, 1, text, len);
	for (int tries = 0; fd < 0 && tries < 16; tries++) {
		uint32_t rnd;
		r = secure_random(&rnd, sizeof(rnd));
		if (r < 0)
			break;
		(void)snprintf(tmpname, sizeof(tmpname), ".tmp.%s.%08x", txn->user, rnd);
		fd = openat(st->dfd, tmpname,
			    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
		r = fd < 0 ? -errno : 0;
		if (r != -EEXIST && fd < 0)
			break;
	}
	if (fd < 0) {
		mfa_error_set(err, "%s: cannot create a temporary record: %s", st->path,
			      strerror(-r));
		goto out;
	}
	for (size_t off = 0; off < image_len;) {
		ssize_t n = write(fd, image + off, image_len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			goto unlink;
		}
		off += (size_t)n;
	}
	if (!st->deferred_sync && fsync(fd) < 0) {
		r = -errno;
		goto unlink;
	}
	if (renameat(st->dfd, tmpname, st->dfd, txn->user) < 0) {
		r = -errno;
		goto unlink;
	}
	if (txn->rec_fd >= 0)
		close(txn->rec_fd);
	txn->rec_fd = fd;
	txn->slots = (struct slots){ .slotted = true, .slot_size = size, .newest = 0, .seq = 1 };
	fd = -1;
	if (!st->deferred_sync && fsync(st->dfd) < 0) {
		r = -errno;
		mfa_error_set(err, "%s: cannot sync the state directory: %s", st->path,
			      strerror(-r));
		goto out;
	}
	r = 0;
	goto out;
unlink:
	mfa_error_set(err, "%s/%s: cannot write the record: %s", st->path, txn->user, strerror(-r));
	(void)unlinkat(st->dfd, tmpname, 0);
out:
	secure_wipe(image, image_len);
	free(image);
	if (fd >= 0)
		close(fd);
	return r;
}

int files_commit(struct files_txn *txn, const struct mfa_record *rec, struct mfa_error *err)
{
	char text[SLOT_TEXT_MAX + 1];
	int len, r;

	if (strcmp(rec->user, txn->user) != 0) {
		mfa_error_set(err, "internal error: record and lock are for different users");
		return -EINVAL;
	}
	len = record_format(rec, text, sizeof(text));
	if (len < 0) {
		mfa_error_set(err, "%s/%s: record too large", txn->st->path, txn->user);
		return len;
	}
	/* A text that outgrew its slots makes a new file of larger ones. */
	if (txn->rec_fd >= 0 && txn->slots.slotted &&
	    (size_t)len <= txn->slots.slot_size - SLOT_HEADER_LEN)
		r = commit_in_place(txn, text, (size_t)len, err);
	else
		r = commit_new_file(txn, text, (size_t)len, err);
	secure_wipe(text, sizeof(text));
	return r;
}

int files_remove(struct files_txn *txn, struct mfa_error *err)
{
	struct files_store *st = txn->st;
	char lockname[USER_NAME_MAX + 8];
	int r, existed = 1;

	if (unlinkat(st->dfd, txn->user, 0) < 0) {
		if (errno != ENOENT) {
			r = -errno;
			mfa_error_set(err, "%s/%s: cannot remove: %s", st->path, txn->user,
				      strerror(-r));
			return r;
		}
		existed = 0;
	}
	if (txn->rec_fd >= 0)
		close(txn->rec_fd);
	txn->rec_fd = -1;
	txn->slots.slotted = false;
	/* Waiters on this lock see it unlinked once we release it, and retry. */
	(void)snprintf(lockname, sizeof(lockname), ".lock.%s", txn->user);
	(void)unlinkat(st->dfd, lockname, 0);
	if (fsync(st->dfd) < 0) {
		r = -errno;
		mfa_error_set(err, "%s: cannot sync the state directory: %s", st->path,
			      strerror(-r));
		return r;
	}
	return existed;
}

void files_end(struct files_txn *txn)
{
	if (txn == NULL)
		return;
	if (txn->rec_fd >= 0)
		close(txn->rec_fd);
	close(txn->lock_fd);
	free(txn);
}

static enum files_entry entry_kind(const char *name)
{
	if (user_name_valid(name))
		return FILES_ENTRY_RECORD;
	if (strncmp(name, ".lock.", 6) == 0 && user_name_valid(name + 6))
		return FILES_ENTRY_LOCK;
	if (strncmp(name, ".tmp.", 5) == 0)
		return FILES_ENTRY_TEMP;
	return FILES_ENTRY_OTHER;
}

int files_scan(struct files_store *st,
	       int (*cb)(const char *name, enum files_entry kind, void *ctx), void *ctx,
	       struct mfa_error *err)
{
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	fd = openat(st->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		mfa_error_set(err, "%s: %s", st->path, strerror(-r));
		return r;
	}
	errno = 0;
	while (r == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		r = cb(de->d_name, entry_kind(de->d_name), ctx);
		errno = 0;
	}
	if (r == 0 && errno != 0) {
		r = -errno;
		mfa_error_set(err, "%s: %s", st->path, strerror(-r));
	}
	closedir(d);
	return r;
}

struct list_ctx {
	int (*cb)(const char *user, void *ctx);
	void *ctx;
};

static int list_one(const char *name, enum files_entry kind, void *p)
{
	struct list_ctx *l = p;

	return kind == FILES_ENTRY_RECORD ? l->cb(name, l->ctx) : 0;
}

int files_list(struct files_store *st, int (*cb)(const char *user, void *ctx), void *ctx,
	       struct mfa_error *err)
{
	struct list_ctx l = { cb, ctx };

	return files_scan(st, list_one, &l, err);
}

int files_store_open(const struct mfa_config *cfg, int flags, struct store **out,
		     struct mfa_error *err)
{
	struct files_store *fs = NULL;
	int r = files_open(cfg->state_dir, flags, &fs, err);

	if (r == 0)
		*out = &fs->base;
	return r;
}

int files_update(struct files_store *st, const char *user, const struct store_basis *basis,
		 int (*change)(struct mfa_record *rec, bool exists, void *ctx), void *ctx,
		 struct mfa_error *err)
{
	struct files_txn *txn = NULL;
	struct mfa_record rec;
	bool exists = false;
	int r;

	r = files_begin_unchanged(st, user, basis, &txn, &rec, &exists, err);
	if (r < 0)
		return r;
	/* files_begin() sets txn whenever it returns 0: for clang 14's
	 * analyzer, which cannot see it through files_lock(). */
	if (txn == NULL) {
		record_wipe(&rec);
		mfa_error_set(err, "state store: no transaction");
		return -EIO;
	}
	r = change(&rec, exists, ctx);
	if (r == FILES_WRITE || r == FILES_REMOVE) {
		int w = r == FILES_WRITE ? files_commit(txn, &rec, err) : files_remove(txn, err);

		/* -ESTALE says the factors changed: a stale NFS handle of the
		 * write is not that. */
		r = w == -ESTALE ? -EIO : w < 0 ? w : 0;
	}
	files_end(txn);
	record_wipe(&rec);
	return r;
}

int files_proof_make(struct files_store *st, const char *user, int64_t now, char *out)
{
	unsigned char raw[STORE_PROOF_MAX / 2];
	static const char hex[] = "0123456789abcdef";

	if (secure_random(raw, sizeof(raw)) < 0)
		return -EIO;
	for (size_t i = 0; i < sizeof(raw); i++) {
		st->proof[2 * i] = hex[raw[i] >> 4];
		st->proof[2 * i + 1] = hex[raw[i] & 15];
	}
	st->proof[STORE_PROOF_MAX] = '\0';
	secure_wipe(raw, sizeof(raw));
	(void)snprintf(st->proof_user, sizeof(st->proof_user), "%s", user);
	st->proof_until = now + STORE_PROOF_SECONDS;
	memcpy(out, st->proof, STORE_PROOF_MAX + 1);
	return 0;
}

bool files_proof_holds(struct files_store *st, const char *user, const char *proof, int64_t now)
{
	return st->proof[0] != '\0' && strlen(proof) == STORE_PROOF_MAX &&
	       consttime_equal(st->proof, proof, STORE_PROOF_MAX) &&
	       strcmp(st->proof_user, user) == 0 && now >= st->proof_until - STORE_PROOF_SECONDS &&
	       now < st->proof_until;
}
