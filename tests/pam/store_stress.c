/* store_stress: hammers the real store with updates for the crash-safety
 * test.  For each update it takes a user's lock, reads, bumps a counter
 * (last_login), enrolls the user on its 5th update, commits, and only then
 * prints "USER COUNTER ENROLLED" on stdout: a line printed is an update the
 * store promised to keep, whenever this process is killed afterwards.
 *
 * usage: store_stress STATE_DIR USERS UPDATES
 *
 * With --hold USER it takes USER's lock, reads the record, prints
 * "holding" and stops itself (SIGSTOP) in the middle of the update, as a
 * user's suspended su or mfa-setup would; once continued, it commits. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "files.h"

static int hold(const char *dir, const char *user)
{
	struct mfa_error err = { "" };
	struct files_store *st = NULL;
	struct files_txn *txn = NULL;
	struct mfa_record rec;
	bool exists;

	if (files_open(dir, STORE_READ_ONLY, &st, &err) < 0 ||
	    files_begin(st, user, &txn, &rec, &exists, &err) < 0) {
		fprintf(stderr, "store_stress: %s\n", err.msg);
		return 1;
	}
	printf("holding\n");
	fflush(stdout);
	(void)raise(SIGSTOP);
	if (files_commit(txn, &rec, &err) < 0) {
		fprintf(stderr, "store_stress: %s\n", err.msg);
		return 1;
	}
	files_end(txn);
	record_wipe(&rec);
	files_close(st);
	return 0;
}

int main(int argc, char **argv)
{
	struct mfa_error err = { "" };
	struct files_store *st = NULL;
	int users, updates;

	if (argc == 4 && strcmp(argv[2], "--hold") == 0)
		return hold(argv[1], argv[3]);
	if (argc != 4)
		return 2;
	users = atoi(argv[2]);
	updates = atoi(argv[3]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (users < 1 || files_open(argv[1], STORE_CREATE, &st, &err) < 0) {
		fprintf(stderr, "store_stress: %s\n", err.msg);
		return 1;
	}
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	for (int i = 0; i < updates; i++) {
		struct files_txn *txn = NULL;
		struct mfa_record rec;
		char user[32];
		bool exists;

		(void)snprintf(user, sizeof(user), "user%d", rand() % users);
		if (files_begin(st, user, &txn, &rec, &exists, &err) < 0) {
			fprintf(stderr, "store_stress: %s\n", err.msg);
			return 1;
		}
		rec.last_login++;
		if (rec.last_login == 5 && record_count(&rec, METHOD_TOTP) == 0) {
			struct mfa_factor *f = record_add_factor(&rec, METHOD_TOTP);

			if (f == NULL || record_new_tag(&rec) < 0) {
				fprintf(stderr, "store_stress: cannot add the app\n");
				return 1;
			}
			f->verified = true;
			f->totp.params.algorithm = TOTP_SHA1;
			f->totp.params.digits = 6;
			f->totp.params.period = 30;
			f->totp.secret_len = 20;
			memset(f->totp.secret, 0x42, 20);
			f->added = f->totp.enrolled_at = 1700000000;
		}
		if (files_commit(txn, &rec, &err) < 0) {
			fprintf(stderr, "store_stress: %s\n", err.msg);
			return 1;
		}
		files_end(txn);
		printf("%s %lld %d\n", user, (long long)rec.last_login,
		       record_count(&rec, METHOD_TOTP) > 0);
		record_wipe(&rec);
	}
	files_close(st);
	return 0;
}
