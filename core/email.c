/* Email one-time codes; see email.h.  Everything that goes into a header is
 * validated here or built from validated parts, so no input can add a
 * header or a recipient. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dynload.h"
#include "email.h"
#include "secmem.h"

static bool atext(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL);
}

bool email_address_valid(const char *addr)
{
	const char *at, *p;
	size_t len;

	if (addr == NULL)
		return false;
	len = strnlen(addr, EMAIL_ADDRESS_MAX + 1);
	at = strchr(addr, '@');
	if (len == 0 || len > EMAIL_ADDRESS_MAX || at == NULL || strchr(at + 1, '@') != NULL)
		return false;
	/* Local part: dot-atom, 1 to 64 bytes. */
	if (at == addr || at - addr > 64 || addr[0] == '.' || at[-1] == '.')
		return false;
	for (p = addr; p < at; p++)
		if (!(atext(*p) || (*p == '.' && p[1] != '.')))
			return false;
	/* Domain: at least two labels of letters, digits and inner hyphens. */
	p = at + 1;
	if (strchr(p, '.') == NULL)
		return false;
	while (*p != '\0') {
		size_t label = strcspn(p, ".");
		if (label == 0 || label > 63 || p[0] == '-' || p[label - 1] == '-')
			return false;
		for (size_t i = 0; i < label; i++) {
			char c = p[i];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '-'))
				return false;
		}
		p += label;
		if (*p == '.') {
			p++;
			if (*p == '\0')
				return false;
		}
	}
	return true;
}

int email_address_from_template(const struct email_config *ec, const char *user, char *out,
				size_t len)
{
	const char *t = ec->address_template;
	size_t o = 0;

	if (t == NULL)
		return -ENOENT;
	for (; *t != '\0'; t++) {
		const char *piece = NULL;
		char one[2] = { *t, '\0' };

		if (*t == '%' && t[1] == 'u') {
			piece = user;
			t++;
		} else if (*t == '%' && t[1] == '%') {
			piece = "%";
			t++;
		} else {
			piece = one;
		}
		if (o + strlen(piece) >= len)
			return -EINVAL;
		memcpy(out + o, piece, strlen(piece));
		o += strlen(piece);
	}
	out[o] = '\0';
	return email_address_valid(out) ? 0 : -EINVAL;
}

void email_mask(const char *addr, char *out, size_t len)
{
	const char *at = strchr(addr, '@');

	if (at == NULL || at == addr)
		(void)snprintf(out, len, "your address");
	else
		(void)snprintf(out, len, "%c***%s", addr[0], at);
}

/* The addr-spec inside "Name <addr>" or a bare addr; false if malformed. */
static bool from_address(const char *from, char *out, size_t len)
{
	const char *lt = strchr(from, '<');
	size_t n;

	if (lt == NULL) {
		n = strlen(from);
	} else {
		const char *gt = strchr(lt, '>');
		if (gt == NULL || gt[1] != '\0')
			return false;
		from = lt + 1;
		n = (size_t)(gt - from);
	}
	if (n >= len)
		return false;
	memcpy(out, from, n);
	out[n] = '\0';
	return email_address_valid(out);
}

/* The message, read by libcurl from pos; cap bytes to wipe (it holds a
 * code). */
struct upload {
	char *data;
	size_t len, pos, cap;
};

static size_t read_message(char *buf, size_t size, size_t nitems, void *p)
{
	struct upload *u = p;
	size_t n = size * nitems;

	if (n > u->len - u->pos)
		n = u->len - u->pos;
	memcpy(buf, u->data + u->pos, n);
	u->pos += n;
	return n;
}

/* RFC 5322 date, in UTC and in English whatever the locale. */
static void mail_date(char *out, size_t len)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	(void)snprintf(out, len, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
		       tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		       tm.tm_sec);
}

/* The message: RFC 5322 headers, then the body with CRLF line ends. */
static int compose_message(const char *from, const char *to, const char *subject, const char *body,
			   struct upload *up, struct mfa_error *err)
{
	char date[64], host[256] = "localhost";
	unsigned char rnd[12];
	char msgid[64];
	size_t cap;
	char *message;
	int n;

	(void)gethostname(host, sizeof(host) - 1);
	if (secure_random(rnd, sizeof(rnd)) < 0) {
		mfa_error_set(err, "cannot get random bytes");
		return -EIO;
	}
	n = 0;
	for (size_t i = 0; i < sizeof(rnd); i++)
		n += snprintf(msgid + n, sizeof(msgid) - (size_t)n, "%02x", rnd[i]);
	mail_date(date, sizeof(date));
	cap = strlen(body) * 2 + strlen(subject) + strlen(from) + strlen(to) + 1024;
	message = malloc(cap);
	if (message == NULL)
		return -ENOMEM;
	n = snprintf(message, cap,
		     "Date: %s\r\n"
		     "Message-ID: <%s.%lld@%s>\r\n"
		     "From: %s\r\n"
		     "To: <%s>\r\n"
		     "Subject: %s\r\n"
		     "MIME-Version: 1.0\r\n"
		     "Content-Type: text/plain; charset=UTF-8\r\n"
		     "Content-Transfer-Encoding: 8bit\r\n"
		     "Auto-Submitted: auto-generated\r\n"
		     "\r\n",
		     date, msgid, (long long)time(NULL), host, from, to, subject);
	/* The body with CRLF line ends. */
	for (const char *p = body; *p != '\0' && (size_t)n + 3 < cap; p++) {
		if (*p == '\n')
			message[n++] = '\r';
		message[n++] = *p;
	}
	message[n] = '\0';
	*up = (struct upload){ message, (size_t)n, 0, cap };
	return 0;
}

/* Hands the message to the SMTP server of ec for one recipient. */
static int smtp_send(const struct email_config *ec, const char *sender, const char *to,
		     const char *password, struct upload *up, struct mfa_error *err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *rcpt = NULL;
	CURL *curl = NULL;
	struct curl_api api;
	CURLcode cr;
	int r;

	r = curl_api_load(&api, err);
	if (r < 0)
		return r;
	/* Thread-safe since libcurl 7.84, and a no-op once done. */
	if (api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		mfa_error_set(err, "libcurl failed to initialise");
		return -EIO;
	}
	curl = api.easy_init();
	if (curl == NULL || (rcpt = api.slist_append(NULL, to)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	(void)api.easy_setopt(curl, CURLOPT_URL, ec->smtp_url);
	(void)api.easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	(void)api.easy_setopt(curl, CURLOPT_MAIL_FROM, sender);
	(void)api.easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
	(void)api.easy_setopt(curl, CURLOPT_READFUNCTION, read_message);
	(void)api.easy_setopt(curl, CURLOPT_READDATA, up);
	(void)api.easy_setopt(curl, CURLOPT_UPLOAD, 1L);
	(void)api.easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	(void)api.easy_setopt(curl, CURLOPT_TIMEOUT, (long)ec->timeout);
	(void)api.easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)ec->timeout);
	(void)api.easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	(void)api.easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	(void)api.easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	(void)api.easy_setopt(curl, CURLOPT_USE_SSL,
			      ec->starttls == STARTTLS_REQUIRED	     ? (long)CURLUSESSL_ALL :
			      ec->starttls == STARTTLS_OPPORTUNISTIC ? (long)CURLUSESSL_TRY :
								       (long)CURLUSESSL_NONE);
	if (ec->ca_file != NULL)
		(void)api.easy_setopt(curl, CURLOPT_CAINFO, ec->ca_file);
	if (ec->username != NULL)
		(void)api.easy_setopt(curl, CURLOPT_USERNAME, ec->username);
	if (password != NULL)
		(void)api.easy_setopt(curl, CURLOPT_PASSWORD, password);
	cr = api.easy_perform(curl);
	if (cr != CURLE_OK) {
		mfa_error_set(err, "cannot send mail through %s: %s", ec->smtp_url,
			      errbuf[0] ? errbuf : api.easy_strerror(cr));
		r = cr == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
		goto out;
	}
	r = 0;
out:
	if (rcpt != NULL)
		api.slist_free_all(rcpt);
	if (curl != NULL)
		api.easy_cleanup(curl);
	return r;
}

int email_send(const struct email_config *ec, const char *to, const char *subject, const char *body,
	       struct mfa_error *err)
{
	char sender[EMAIL_ADDRESS_MAX + 1];
	struct upload up = { NULL, 0, 0, 0 };
	char *password = NULL;
	int r;

	if (ec->smtp_url == NULL || ec->from == NULL) {
		mfa_error_set(err, "email is not configured (email.smtp_url, email.from)");
		return -EINVAL;
	}
	if (!email_address_valid(to) || !from_address(ec->from, sender, sizeof(sender))) {
		mfa_error_set(err, "refusing to send to an invalid address");
		return -EINVAL;
	}
	/* The CA file decides whom we trust: root's, like the config. */
	if (ec->ca_file != NULL) {
		int fd = open_trusted_file(ec->ca_file, 16 * 1024 * 1024, err);
		if (fd < 0)
			return fd;
		close(fd);
	}
	if (ec->password_file != NULL) {
		r = read_secret_file(ec->password_file, 4096, &password, err);
		if (r < 0)
			return r;
	}
	r = compose_message(ec->from, to, subject, body, &up, err);
	if (r == 0)
		r = smtp_send(ec, sender, to, password, &up, err);
	if (up.data != NULL) {
		secure_wipe(up.data, up.cap);
		free(up.data);
	}
	secure_free_string(password);
	return r;
}
