/* Enrollment of a TOTP factor through a PAM conversation: show the QR code,
 * the otpauth:// URI and the secret, ask for a code from the app, and save
 * the secret only once a code proves it.  Used by the module at login and by
 * the mfa-setup helper. */
#ifndef PAM_MFA_ENROLL_H
#define PAM_MFA_ENROLL_H

#include <security/pam_appl.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "store.h"

/* Wrong codes allowed while proving a new factor. */
#define ENROLL_ATTEMPTS 3

enum enroll_outcome {
	ENROLL_DONE,	     /* saved: the user proved the new factor */
	ENROLL_FAILED,	     /* no right code; nothing saved */
	ENROLL_CONV_ERROR,   /* the conversation failed; nothing saved */
	ENROLL_CHANGED,	     /* the factors changed meanwhile; nothing saved */
	ENROLL_RATE_LIMITED, /* too many codes sent lately; nothing sent */
	ENROLL_NO_ADDRESS,   /* the template makes no address of the name */
	ENROLL_ERROR,	     /* err says why (the store, random bytes); nothing saved */
	ENROLL_MAIL_ERROR,   /* the code could not be sent; err says why */
	ENROLL_TOO_MANY,     /* factors_per_method reached; nothing saved */
};

/* What an enrollment or a proof leaves for its caller: after ENROLL_DONE
 * the basis with its proof (an enrollment's res.basis, for the recovery
 * codes that end it) and what kind of code proved the user (a proof by a
 * recovery or bypass code is told of); after a wrong code, whether it
 * locked the user (the lockout notice). */
struct enroll_after {
	struct store_basis basis;
	enum store_backup_kind backup;
	unsigned remaining;
	bool locked_now;
	unsigned failures;
};

struct enroll_request {
	const struct mfa_config *cfg;
	struct store *st;
	const char *user;
	const char *service;
	const char *rhost;
	/* The factors the user was shown when they chose to enroll (or to
	 * replace one): every write checks that the record still holds these,
	 * under its lock (the store).  Never NULL. */
	const struct store_basis *basis;
	const char *label; /* what the user calls the new factor; NULL: none */
	unsigned replaces; /* the factor it replaces (mfa-setup); 0: another */
	/* The methods the policy accepts: only these prove the user
	 * (enroll_prove_conversation()); 0: every method. */
	unsigned allowed;
	/* Filled in if not NULL. */
	struct enroll_after *after;
};

/* Runs the enrollment conversation; 0 with *outcome set, or -ENOMEM. */
int enroll_totp_conversation(pam_handle_t *pamh, const struct enroll_request *req,
			     enum enroll_outcome *outcome, struct mfa_error *err);

/* Sets up codes sent to a destination, by email or sms (method): the
 * destination (an administrator's on record, for email else the
 * template's, never asked where there is a template; else asked, with the
 * unverified one on record offered), a code sent to it within the
 * per-user limits, and the code typed back, which makes it a verified
 * factor.  Wrong codes count toward the lockout, as they do at login. */
int enroll_sent_conversation(pam_handle_t *pamh, const struct enroll_request *req, unsigned method,
			     enum enroll_outcome *outcome, struct mfa_error *err);

/* Sends a login code to the verified factor f (email, sms), booked first
 * within the limits (-EAGAIN, *wait: the last code is still the one to
 * use; *sending: it is on its way), then sent, then made the pending one.
 * -ECOMM: it could not be sent (err says why), and nothing changed;
 * -ESTALE: the factor went meanwhile. */
int enroll_send_login_code(const struct enroll_request *req, const struct store_factor *f,
			   long *wait, bool *sending, struct mfa_error *err);

/* Where a code goes, among the verified factors of mask in sum: the one
 * there is, or the one the user picks by number from a list of masked
 * destinations (silent: without its heading).  0 with *out a copy; -1:
 * the conversation failed or no valid choice was made; -ENOENT: none. */
int enroll_pick_dest(pam_handle_t *pamh, const struct store_summary *sum, unsigned mask,
		     bool silent, struct store_factor *out);

/* Before a change of the factors of a user who holds some (sum): a code
 * from one of them, an app's or one sent where the user picks, checked by
 * store_prove(), which fills basis with the proof the change needs.
 * ENROLL_DONE: proved; ENROLL_FAILED: a wrong or expired code, or locked
 * (counted; err says "reason=... failures=N" for the log), and the other
 * outcomes as for an enrollment.  0, or -ENOMEM. */
int enroll_prove_conversation(pam_handle_t *pamh, const struct enroll_request *req,
			      const struct store_summary *sum, struct store_basis *basis,
			      enum enroll_outcome *outcome, struct mfa_error *err);

/* Whether an enrollment's end hands the user a new set of recovery codes:
 * recovery.codes is not 0, and the user had no verified factor before it
 * (sum, what it was offered on) or has no unused recovery code. */
bool enroll_wants_recovery(const struct mfa_config *cfg, const struct store_summary *sum);

/* How long the codes of the user's apps (sum) are, as far as telling
 * them from an imported 8-digit scratch code goes: 8 if any app's are
 * (an import may keep an app's own digits), else totp.digits. */
unsigned enroll_app_digits(const struct mfa_config *cfg, const struct store_summary *sum);

/* A fresh set of recovery.codes recovery codes, kept by the store on
 * basis (a proof's: store_prove(), or an enrollment's enroll_after) in
 * place of the old set, then shown once through the conversation.
 * ENROLL_DONE: kept and shown; ENROLL_CHANGED: the factors changed or the
 * proof does not hold (nothing kept); ENROLL_CONV_ERROR: kept, but the
 * conversation failed while showing them (they are lost: make new ones);
 * ENROLL_ERROR: err says why.  0, or -ENOMEM. */
int enroll_recovery_codes(pam_handle_t *pamh, const struct enroll_request *req,
			  const struct store_basis *basis, enum enroll_outcome *outcome,
			  struct mfa_error *err);

/* Where a notice to the user goes: the first verified address of sum,
 * else the template's.  false: none is known, or mail is not set up. */
bool enroll_notice_address(const struct mfa_config *cfg, const struct store_summary *sum,
			   const char *user, char *to, size_t len);

/* The code prompt's help text, said before the prompt and never in it,
 * where sum shows an unused recovery code or an outstanding bypass
 * code. */
void enroll_backup_help(pam_handle_t *pamh, const struct store_summary *sum);

/* A recovery or bypass code was used (kind, remaining: as the store said):
 * a notice to the user's verified address (or the template's), where mail
 * is set up.  0 (also: nowhere to send it), or an error with err. */
int enroll_backup_notice(const struct enroll_request *req, enum store_backup_kind kind,
			 unsigned remaining, struct mfa_error *err);

/* A wrong code just locked the user (failures of them): where the store
 * says a notice is due (store_lock_notice_due(), notify.lockout_interval),
 * one to the user's verified address and one to notify.lockout_to.  0
 * (also: none due, or mail not set up), or an error with err (the
 * notices that could be sent were). */
int enroll_lock_notice(const struct enroll_request *req, unsigned failures, struct mfa_error *err);

/* For the enrollment's own files: keeps what res says for req->after. */
void enroll_note_result(const struct enroll_request *req, const struct verify_result *res);

/* Asks which method to set up when allowed holds several; 0 with *method
 * set, or -1 if the conversation failed or no valid choice was made. */
int enroll_choose_method(pam_handle_t *pamh, unsigned allowed, unsigned *method);

#endif
