/* pam_mfa.conf: defaults, then the file, strictly checked.  Any unknown key,
 * wrong type or out-of-range value is an error naming file, line and key. */
#ifndef PAM_MFA_CONFIG_H
#define PAM_MFA_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "email.h"
#include "policy.h"
#include "sms.h"
#include "totp.h"
#include "util.h"

/* The failure delay when the configuration cannot be read. */
#define PAM_MFA_DEFAULT_FAIL_DELAY_MS 2000u

/* The largest configuration file read. */
#define CONFIG_MAX_SIZE (256 * 1024)

#define CONFIG_RULES_MAX 1000

/* Where users' MFA state lives (store/store.h): this host's state_dir, or a
 * PostgreSQL database that verifies codes for a whole fleet. */
enum store_backend {
	STORE_BACKEND_FILES,
	STORE_BACKEND_POSTGRESQL,
};

struct store_config {
	enum store_backend backend;
	char *conninfo;	     /* libpq's connection string; postgresql only */
	char *password_file; /* root-owned 0600: the role's password */
	unsigned timeout;    /* seconds for the connection and one call */
};

struct mfa_config {
	char *path;
	char *state_dir;
	char *issuer;
	struct {
		unsigned digits;
		unsigned period;
		unsigned window;
		enum totp_algorithm algorithm;
	} totp;
	struct {
		unsigned attempts;
		unsigned interval;
		unsigned unlock_after;
	} lockout;
	unsigned fail_delay_ms;
	/* The policy's settings, by name (cfg->rules) and as the one struct
	 * that policy.c takes (&cfg->policy): both name the same memory, as
	 * with the kernel's struct_group(). */
	union {
		struct {
			POLICY_CONFIG_MEMBERS
		};
		struct policy_config policy;
	};
	int64_t enroll_by; /* last second of enrollment at login; 0: none */
	/* How many factors of one method a user may hold (apps, addresses,
	 * numbers). */
	unsigned factors_per_method;
	/* Recovery codes: how many a set holds (0: none are made; a set
	 * made before still works until reset). */
	struct {
		unsigned codes;
	} recovery;
	/* Notices beyond the user's own: the security team's address for
	 * lockouts (NULL: none), and how often one user's lockout is told
	 * at most, in seconds. */
	struct {
		char *lockout_to;
		unsigned lockout_interval;
	} notify;
	struct email_config email;
	struct sms_config sms;
	struct store_config store;
};

/* Loads path (which must be trusted: see open_trusted_file()) over the
 * built-in defaults.  On error cfg holds nothing to free and err says why. */
int config_load(const char *path, struct mfa_config *cfg, struct mfa_error *err);
void config_free(struct mfa_config *cfg);

struct totp_params config_totp_params(const struct mfa_config *cfg);

#endif
