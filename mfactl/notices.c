/* The mails only mfactl sends users; see notices.h.  They take the host
 * and the time from core/notify.c, as the module's mails do. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "notices.h"
#include "notify.h"

int notify_reset(const struct mfa_config *cfg, const char *to, const char *user, const char *what,
		 struct mfa_error *err)
{
	char host[128], when[32], subject[256], body[2048];

	notify_host_name(host, sizeof(host));
	notify_utc_now(when, sizeof(when));
	(void)snprintf(subject, sizeof(subject), "Multi-factor authentication reset for %s on %s",
		       user, host);
	(void)snprintf(body, sizeof(body),
		       "An administrator reset %s for %s on %s at %s.\n"
		       "\n"
		       "At your next login you may be asked to set it up again.\n"
		       "If you did not ask for this, tell your administrator.\n",
		       what == NULL ? "multi-factor authentication" : what, user, host, when);
	return email_send(&cfg->email, to, subject, body, err);
}

int notify_setup(const struct mfa_config *cfg, const char *to, const char *user, const char *policy,
		 struct mfa_error *err)
{
	char host[128], subject[256], body[4096], deadline[64] = "";
	bool totp = cfg->methods & METHOD_TOTP, email = cfg->methods & METHOD_EMAIL,
	     sms = (cfg->methods & METHOD_SMS) && cfg->sms.url != NULL;
	int n;

	notify_host_name(host, sizeof(host));
	if (cfg->enroll_by > 0 && strcmp(policy, "required") == 0) {
		time_t t = (time_t)cfg->enroll_by;
		struct tm tm;
		gmtime_r(&t, &tm);
		(void)strftime(deadline, sizeof(deadline), "%Y-%m-%d", &tm);
	}
	(void)snprintf(subject, sizeof(subject), "Set up multi-factor authentication for %s on %s",
		       user, host);
	n = snprintf(body, sizeof(body),
		     "Multi-factor authentication is %s for your account %s on %s.\n"
		     "At your next login, after your password, you will be asked to set it up.\n"
		     "\n",
		     strcmp(policy, "required") == 0 ? "required" : "available", user, host);
	if (totp && n > 0 && (size_t)n < sizeof(body))
		n += snprintf(body + n, sizeof(body) - (size_t)n,
			      "With an authenticator app: install one on your phone first, for\n"
			      "example Google Authenticator, Microsoft Authenticator, Authy, Duo\n"
			      "Mobile or Okta Verify.  The login shows a QR code: scan it with the\n"
			      "app (or open the otpauth:// link, or type the key), then type the\n"
			      "%u-digit code the app shows.  Later logins ask for a fresh code.\n"
			      "\n",
			      cfg->totp.digits);
	if (email && n > 0 && (size_t)n < sizeof(body))
		n += snprintf(body + n, sizeof(body) - (size_t)n,
			      "With email: the login sends a code to your address; type it in.\n"
			      "Later logins send a new code each time.\n"
			      "\n");
	if (sms && n > 0 && (size_t)n < sizeof(body))
		n += snprintf(body + n, sizeof(body) - (size_t)n,
			      "With text messages: the login asks for your mobile number in\n"
			      "international form (+ and the country code, such as +15550100),\n"
			      "sends a code to it to confirm it, and you type that code in.\n"
			      "Later logins send a new code each time.\n"
			      "\n");
	if (deadline[0] != '\0' && n > 0 && (size_t)n < sizeof(body))
		n += snprintf(body + n, sizeof(body) - (size_t)n,
			      "Please do it by %s: after that date, logins without it are\n"
			      "refused until your administrator sets it up for you.\n\n",
			      deadline);
	if (n > 0 && (size_t)n < sizeof(body))
		(void)snprintf(body + n, sizeof(body) - (size_t)n,
			       "Questions: ask your administrator.\n");
	return email_send(&cfg->email, to, subject, body, err);
}
