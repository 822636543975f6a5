/* mfactl: the admin's tool over the pam_mfa state store.  Each verb lives in
 * its own file and returns the process exit status (see mfactl(8)). */
#ifndef MFACTL_H
#define MFACTL_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "store.h"

enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,	/* the operation failed or found problems */
	EXIT_USAGE = 2, /* bad command line */
};

struct mfactl {
	const char *config_path;
	struct mfa_config cfg;
	bool cfg_loaded;
};

/* Loads the configuration once; prints the error and returns -1 on failure. */
int mfactl_load_config(struct mfactl *ctx);
/* Opens the store for reading or writing; prints the error on failure. */
int mfactl_open_store(struct mfactl *ctx, int flags, struct store **st);
/* Logs an admin action to syslog (authpriv) with who ran it. */
void mfactl_log_action(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Checks a user name given on the command line; prints why it is refused. */
bool mfactl_user_ok(const char *user, bool must_exist);
/* Parses "VERB [--help] USER" for verbs that take one user and no option:
 * returns the user, or NULL with *status set (help, usage error, or a name
 * refused by mfactl_user_ok()). */
const char *mfactl_one_user_arg(int argc, char **argv, const char *help, bool must_exist,
				int *status);
/* Formats a time for people: "2026-11-22 06:32:00Z", or "-" for 0. */
void mfactl_format_time(int64_t t, char *buf, size_t len);

/* "totp", or "-" for none. */
void mfactl_format_methods(unsigned methods, char *buf, size_t len);
/* What a method is called in messages: "TOTP", "email", "SMS". */
const char *mfactl_method_title(unsigned method);
/* Checks a --label value; prints why it is refused. */
bool mfactl_label_ok(const char *verb, const char *label);
/* "mfactl enroll: USER already has N METHOD factors (factors_per_method
 * is N)": an enrollment refused at the bound. */
void mfactl_say_quota(const struct mfactl *ctx, const char *user, unsigned method);
/* "rule 2 at FILE:LINE (group "wheel")" or "default_policy (no rule matched)". */
void mfactl_describe_rule(const struct mfa_config *cfg, int rule, char *buf, size_t len);

/* An address or a number to enroll (cmd_enroll_sent.c). */
struct sent_enroll {
	const char *user;
	unsigned method;	  /* METHOD_EMAIL or METHOD_SMS */
	const char *dest;	  /* --address, --phone; NULL: the email.address template */
	const char *label;	  /* --label; NULL: none */
	bool verified;		  /* --verified: the administrator vouches for it */
	enum provision_mode mode; /* --add: PROVISION_ADD, --force: PROVISION_REPLACE */
	bool recovery_codes;	  /* not --no-recovery-codes */
};

/* enroll --method email|sms: see cmd_enroll_sent.c. */
int mfactl_enroll_sent(struct mfactl *ctx, const struct sent_enroll *e);
/* Tells the user, where an address is known, that an admin reset what
 * (NULL: everything, else "email codes", "the factor \"phone\""...);
 * address is the verified one on record before the reset. */
void mfactl_notify_reset(struct mfactl *ctx, const char *user, const char *address,
			 const char *what);

/* Makes a new set of recovery.codes recovery codes for user, the
 * administrator's (store_recovery_admin()), and only once the store kept
 * it prints intro and the codes, and logs it (without a code).  0, or
 * -errno with err set (-ENOENT: the user holds no verified factor). */
int mfactl_recovery_make(struct mfactl *ctx, struct store *st, const char *user, const char *intro,
			 struct mfa_error *err);
/* The end of mfactl enroll: makes and prints a set of recovery codes if
 * the user had no verified factor before (before: the summary read then)
 * or holds no unused code, unless recovery.codes is 0.  A failure is only
 * said: the factor is enrolled. */
void mfactl_enroll_recovery(struct mfactl *ctx, struct store *st, const char *user,
			    const struct store_summary *before);
/* Who made a set of recovery codes, as status says it: "user", "admin",
 * "imported", or "none". */
const char *mfactl_recovery_source(enum store_recovery_source source);
/* A duration: seconds, or a number with s, m, h or d ("30m"); 0, -EINVAL
 * or -ERANGE. */
int mfactl_parse_duration(const char *text, uint64_t *seconds);

int cmd_enroll(struct mfactl *ctx, int argc, char **argv);
int cmd_send_setup(struct mfactl *ctx, int argc, char **argv);
int cmd_policy(struct mfactl *ctx, int argc, char **argv);
int cmd_status(struct mfactl *ctx, int argc, char **argv);
int cmd_reset(struct mfactl *ctx, int argc, char **argv);
int cmd_unlock(struct mfactl *ctx, int argc, char **argv);
int cmd_check(struct mfactl *ctx, int argc, char **argv);
int cmd_import(struct mfactl *ctx, int argc, char **argv);
int cmd_db(struct mfactl *ctx, int argc, char **argv);
int cmd_migrate(struct mfactl *ctx, int argc, char **argv);
int cmd_recovery_codes(struct mfactl *ctx, int argc, char **argv);
int cmd_bypass(struct mfactl *ctx, int argc, char **argv);

#endif
