/* What a backend of the store provides: one function per operation of
 * store.h, with the same contract.  A backend's handle starts with a
 * struct store whose ops point at its table; store.c dispatches.  Only
 * the store's own files include this. */
#ifndef PAM_MFA_STORE_BACKEND_H
#define PAM_MFA_STORE_BACKEND_H

#include "store.h"

struct store_ops {
	const char *name;
	void (*close)(struct store *st);
	int (*summary)(struct store *st, const char *user, struct store_summary *out,
		       struct mfa_error *err);
	int (*verify_totp)(struct store *st, const struct mfa_config *cfg, const char *user,
			   const char *code, const struct store_login *at,
			   struct verify_result *res, struct mfa_error *err);
	int (*verify_sent)(struct store *st, const struct mfa_config *cfg, const char *user,
			   const char *code, unsigned factor, const struct store_login *at,
			   struct verify_result *res, struct mfa_error *err);
	/* NULL: the backend has no proofs yet; store_prove() fails. */
	int (*prove)(struct store *st, const struct mfa_config *cfg, const char *user,
		     unsigned factor, const char *code, const struct store_login *at,
		     struct verify_result *res, struct store_basis *basis, struct mfa_error *err);
	int (*verify_backup)(struct store *st, const struct mfa_config *cfg, const char *user,
			     const char *code, const struct store_login *at,
			     struct verify_result *res, struct mfa_error *err);
	int (*recovery_new)(struct store *st, const char *user, const struct store_basis *basis,
			    const char *const *codes, unsigned n, time_t now,
			    struct mfa_error *err);
	int (*recovery_admin)(struct store *st, const char *user, const char *const *codes,
			      unsigned n, enum store_recovery_source source, time_t now,
			      struct mfa_error *err);
	int (*bypass_new)(struct store *st, const char *user, const char *code, unsigned uses,
			  int64_t expires, time_t now, struct mfa_error *err);
	int (*bypass_revoke)(struct store *st, const char *user, time_t now, bool *had,
			     struct mfa_error *err);
	int (*lock_notice_due)(struct store *st, const char *user, time_t now, unsigned interval,
			       bool *due, struct mfa_error *err);
	int (*enroll_totp)(struct store *st, const struct mfa_config *cfg, const char *user,
			   const struct store_basis *basis, const struct mfa_totp *t,
			   const char *label, unsigned replaces, const char *code,
			   const struct store_login *at, struct verify_result *res,
			   struct mfa_error *err);
	int (*enroll_sent)(struct store *st, const struct mfa_config *cfg, const char *user,
			   const struct store_basis *basis, unsigned method, const char *dest,
			   const char *label, unsigned replaces, const char *code,
			   const struct store_login *at, struct verify_result *res,
			   struct mfa_error *err);
	int (*code_book)(struct store *st, const struct mfa_config *cfg, const char *user,
			 enum email_code_use use, const struct store_basis *basis,
			 const struct code_target *to, time_t now, struct email_booking *booking,
			 long *wait, bool *sending, struct mfa_error *err);
	int (*code_sent)(struct store *st, const struct mfa_config *cfg, const char *user,
			 const struct store_basis *basis, const struct code_target *to,
			 const char *code, const struct email_booking *booking, time_t now,
			 struct mfa_error *err);
	int (*code_unbook)(struct store *st, const char *user, const struct email_booking *booking,
			   struct mfa_error *err);
	int (*skip)(struct store *st, const char *user, const struct store_basis *basis,
		    bool remember, time_t now, struct mfa_error *err);
	int (*remove_factor)(struct store *st, const char *user, const struct store_basis *basis,
			     unsigned factor, bool remember_skip, time_t now,
			     struct mfa_error *err);
	int (*label_factor)(struct store *st, const char *user, unsigned factor, const char *label,
			    struct mfa_error *err);
	int (*provision_totp)(struct store *st, const struct mfa_config *cfg, const char *user,
			      const struct mfa_totp *t, const char *label, enum provision_mode mode,
			      time_t now, bool *replaced, struct mfa_error *err);
	int (*provision_dest)(struct store *st, const struct mfa_config *cfg, const char *user,
			      unsigned method, const char *dest, const char *label,
			      enum provision_mode mode, time_t now, struct mfa_error *err);
	int (*code_by_admin)(struct store *st, const struct mfa_config *cfg, const char *user,
			     unsigned method, const char *dest, const char *code, bool replace,
			     time_t now, struct mfa_error *err);
	int (*reset)(struct store *st, const char *user, const struct store_reset_what *what,
		     struct store_reset_result *res, struct mfa_error *err);
	int (*reset_all)(struct store *st, unsigned *users, struct mfa_error *err);
	int (*unlock)(struct store *st, const char *user, unsigned *failures,
		      struct mfa_error *err);
	int (*list)(struct store *st, int (*cb)(const char *user, void *ctx), void *ctx,
		    struct mfa_error *err);
	/* NULL: store_snapshot() is -EOPNOTSUPP. */
	int (*snapshot)(struct store *st, struct mfa_error *err);
	int (*check)(struct store *st,
		     int (*cb)(const char *name, enum store_entry kind, const char *message,
			       void *ctx),
		     void *ctx, struct mfa_error *err);
	void (*defer_sync)(struct store *st);
	int (*sync)(struct store *st, struct mfa_error *err);
};

struct store {
	const struct store_ops *ops;
};

/* The files backend: opens the state directory of cfg. */
int files_store_open(const struct mfa_config *cfg, int flags, struct store **out,
		     struct mfa_error *err);

/* The postgresql backend (pg.c): loads libpq and connects to the database
 * of cfg's store.conninfo, within store.timeout. */
int pg_store_open(const struct mfa_config *cfg, int flags, struct store **out,
		  struct mfa_error *err);

#endif
