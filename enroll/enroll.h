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

/* Asks which method to set up when allowed holds several; 0 with *method
 * set, or -1 if the conversation failed or no valid choice was made. */
int enroll_choose_method(pam_handle_t *pamh, unsigned allowed, unsigned *method);

#endif
