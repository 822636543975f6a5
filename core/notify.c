/* The emails pam_mfa sends to users; see notify.h.  Host, service and
 * remote host are sanitized before they reach a subject or a body. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"
#include "secmem.h"
#include "sms.h"
#include "util.h"

void notify_host_name(char *out, size_t len)
{
	char host[256] = "";

	if (gethostname(host, sizeof(host) - 1) < 0 || host[0] == '\0')
		(void)snprintf(host, sizeof(host), "this system");
	sanitize_printable(host, out, len);
}

void notify_utc_now(char *out, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	(void)strftime(out, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

bool notify_address(const struct mfa_config *cfg, const char *verified, const char *user, char *out,
		    size_t len)
{
	if (verified != NULL && verified[0] != '\0') {
		(void)snprintf(out, len, "%s", verified);
		return true;
	}
	return email_address_from_template(&cfg->email, user, out, len) == 0;
}

int notify_code(const struct mfa_config *cfg, const char *to, const char *user, const char *code,
		bool verify, const char *service, const char *rhost, struct mfa_error *err)
{
	char host[128], svc[64], from[128], when[32], subject[256], body[2048];
	unsigned minutes = (cfg->email.code_ttl + 59) / 60;
	int r;

	notify_host_name(host, sizeof(host));
	sanitize_printable(service, svc, sizeof(svc));
	sanitize_printable(rhost && rhost[0] ? rhost : "this machine", from, sizeof(from));
	notify_utc_now(when, sizeof(when));
	(void)snprintf(subject, sizeof(subject),
		       verify ? "Confirm your email address for logins to %s" :
				"Your login code for %s",
		       host);
	(void)snprintf(body, sizeof(body),
		       "%s\n"
		       "\n"
		       "    %s\n"
		       "\n"
		       "It was asked for by a login of %s to %s (%s) from %s at %s.\n"
		       "It works once and expires in %u minute%s.\n"
		       "\n"
		       "If this was not you, someone knows your password: change it and\n"
		       "tell your administrator.  Never give this code to anyone.\n",
		       verify ? "Your code to confirm this email address for multi-factor\n"
				"authentication is:" :
				"Your one-time login code is:",
		       code, user, host, svc, from, when, minutes, minutes == 1 ? "" : "s");
	r = email_send(&cfg->email, to, subject, body, err);
	secure_wipe(body, sizeof(body));
	return r;
}

int notify_enrolled(const struct mfa_config *cfg, const char *to, const char *user,
		    const char *method, const char *service, const char *rhost,
		    struct mfa_error *err)
{
	char host[128], svc[64], from[128], when[32], subject[256], body[2048];

	notify_host_name(host, sizeof(host));
	sanitize_printable(service, svc, sizeof(svc));
	sanitize_printable(rhost && rhost[0] ? rhost : "this machine", from, sizeof(from));
	notify_utc_now(when, sizeof(when));
	(void)snprintf(subject, sizeof(subject), "Multi-factor authentication set up for %s on %s",
		       user, host);
	(void)snprintf(body, sizeof(body),
		       "Multi-factor authentication was set up for %s on %s at %s,\n"
		       "through %s from %s, with %s.\n"
		       "\n"
		       "From now on, logins ask for a code from it.\n"
		       "\n"
		       "If this was not you, tell your administrator at once: someone who\n"
		       "knows your password has set up their own second factor.\n",
		       user, host, when, svc, from,
		       strcmp(method, "email") == 0 ? "codes sent to this email address" :
		       strcmp(method, "sms") == 0   ? "codes sent by text message to a phone" :
						      "an authenticator app");
	return email_send(&cfg->email, to, subject, body, err);
}

unsigned notify_code_digits(const struct mfa_config *cfg, unsigned method)
{
	return method == METHOD_SMS ? cfg->sms.code_digits : cfg->email.code_digits;
}

unsigned notify_code_ttl(const struct mfa_config *cfg, unsigned method)
{
	return method == METHOD_SMS ? cfg->sms.code_ttl : cfg->email.code_ttl;
}

unsigned notify_resend_after(const struct mfa_config *cfg, unsigned method)
{
	return method == METHOD_SMS ? cfg->sms.resend_after : cfg->email.resend_after;
}

void notify_mask(unsigned method, const char *dest, char *out, size_t len)
{
	if (method == METHOD_SMS)
		sms_mask(dest, out, len);
	else
		email_mask(dest, out, len);
}

int notify_send_code(const struct mfa_config *cfg, unsigned method, const char *to,
		     const char *user, const char *code, bool verify, const char *service,
		     const char *rhost, struct mfa_error *err)
{
	char host[128];
	struct sms_message msg;

	if (method != METHOD_SMS)
		return notify_code(cfg, to, user, code, verify, service, rhost, err);
	notify_host_name(host, sizeof(host));
	msg.code = code;
	msg.host = host;
	msg.user = user;
	msg.ttl_minutes = (cfg->sms.code_ttl + 59) / 60;
	return sms_send(&cfg->sms, to, &msg, err);
}

int notify_factor_changed(const struct mfa_config *cfg, const char *to, const char *user,
			  enum notify_change change, const char *what, const char *service,
			  struct mfa_error *err)
{
	char host[128], svc[64], when[32], subject[256], body[2048], thing[128];

	notify_host_name(host, sizeof(host));
	sanitize_printable(service, svc, sizeof(svc));
	sanitize_printable(what, thing, sizeof(thing));
	notify_utc_now(when, sizeof(when));
	(void)snprintf(subject, sizeof(subject), "Your second factors for %s changed", host);
	(void)snprintf(body, sizeof(body),
		       "On %s at %s, through %s, for the account %s:\n"
		       "\n"
		       "    %s%s\n"
		       "\n"
		       "If this was not you, tell your administrator at once: someone who\n"
		       "knows your password and one of your codes is changing how your\n"
		       "account logs in.\n",
		       host, when, svc, user,
		       change == NOTIFY_ADDED	 ? "a second factor was added: " :
		       change == NOTIFY_REMOVED	 ? "a second factor was removed: " :
		       change == NOTIFY_REPLACED ? "a second factor was replaced: " :
		       change == NOTIFY_RECOVERY_CODES ?
						   "new recovery codes were made; the old ones no "
						   "longer work" :
						   "multi-factor authentication was turned off",
		       change == NOTIFY_ALL_REMOVED || change == NOTIFY_RECOVERY_CODES ? "" :
											 thing);
	return email_send(&cfg->email, to, subject, body, err);
}

int notify_locked(const struct mfa_config *cfg, const char *to, const char *user, bool team,
		  const char *service, const char *rhost, int64_t until, unsigned failures,
		  struct mfa_error *err)
{
	char host[128], svc[64], from[128], when[32], end[40], subject[256], body[2048];
	time_t t = (time_t)until;
	struct tm tm;

	notify_host_name(host, sizeof(host));
	sanitize_printable(service, svc, sizeof(svc));
	sanitize_printable(rhost && rhost[0] ? rhost : "this machine", from, sizeof(from));
	notify_utc_now(when, sizeof(when));
	if (until < 0 || gmtime_r(&t, &tm) == NULL)
		(void)snprintf(end, sizeof(end), "an administrator unlocks it");
	else
		(void)strftime(end, sizeof(end), "%Y-%m-%d %H:%M:%S UTC", &tm);
	(void)snprintf(subject, sizeof(subject), "Account %s locked on %s after wrong codes", user,
		       host);
	(void)snprintf(body, sizeof(body),
		       "The account %s was locked for multi-factor authentication after\n"
		       "%u wrong codes, at %s.\n"
		       "\n"
		       "    host:         %s\n"
		       "    service:      %s\n"
		       "    from:         %s\n"
		       "    locked until: %s\n"
		       "\n"
		       "%s",
		       user, failures, when, host, svc, from, end,
		       team ? "Whoever typed them knew the account's password.  An administrator\n"
			      "unlocks it early with: mfactl unlock USER\n" :
			      "Whoever typed them knew your password.  If it was not you, change\n"
			      "your password and tell your administrator.\n");
	return email_send(&cfg->email, to, subject, body, err);
}

int notify_backup_used(const struct mfa_config *cfg, const char *to, const char *user, bool bypass,
		       unsigned remaining, const char *service, const char *rhost,
		       struct mfa_error *err)
{
	char host[128], svc[64], from[128], when[32], subject[256], body[2048], left[160];

	notify_host_name(host, sizeof(host));
	sanitize_printable(service, svc, sizeof(svc));
	sanitize_printable(rhost && rhost[0] ? rhost : "this machine", from, sizeof(from));
	notify_utc_now(when, sizeof(when));
	if (bypass)
		(void)snprintf(left, sizeof(left), "The bypass code works %u more time%s.",
			       remaining, remaining == 1 ? "" : "s");
	else
		(void)snprintf(left, sizeof(left), "%u recovery code%s left%s", remaining,
			       remaining == 1 ? " is" : "s are",
			       remaining <= 2 ? ": make new ones with mfa-setup --recovery-codes." :
						".");
	(void)snprintf(subject, sizeof(subject), "A %s code was used to log in to %s as %s",
		       bypass ? "bypass" : "recovery", host, user);
	(void)snprintf(body, sizeof(body),
		       "A %s was used in place of a second factor to log in as\n"
		       "%s to %s (%s) from %s at %s.\n"
		       "%s\n"
		       "\n"
		       "If this was not you, tell your administrator at once: someone who\n"
		       "knows your password has one of your %s.\n",
		       bypass ? "bypass code from your administrator" : "recovery code", user, host,
		       svc, from, when, left, bypass ? "bypass codes" : "recovery codes");
	return email_send(&cfg->email, to, subject, body, err);
}
