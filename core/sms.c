/* SMS one-time codes; see sms.h.  The request is built here from checked
 * parts: each value is encoded by our own form or JSON encoder, so no
 * input can add a field, a header or a parameter, and nothing of the code
 * goes into the URL.  The gateway's answer is judged by its status and,
 * as configured, its body; neither the body nor the request ever reaches
 * an error message. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build_config.h"
#include "code_hash.h"
#include "dynload.h"
#include "secmem.h"
#include "sms.h"

/* sms.timeout's default, also for a timeout of 0, which libcurl would
 * take as none at all. */
#define SMS_TIMEOUT_DEFAULT 10u
/* JSON nesting beyond this is refused rather than recursed into. */
#define JSON_DEPTH_MAX 32
/* A credential file's largest size. */
#define SMS_SECRET_MAX 4096

bool sms_number_valid(const char *number)
{
	size_t n;

	if (number == NULL || number[0] != '+' || number[1] < '1' || number[1] > '9')
		return false;
	n = strnlen(number + 1, SMS_NUMBER_MAX);
	if (n < 8 || n > SMS_NUMBER_MAX - 1)
		return false;
	for (size_t i = 1; i <= n; i++)
		if (number[i] < '0' || number[i] > '9')
			return false;
	return true;
}

void sms_mask(const char *number, char *out, size_t len)
{
	size_t n, shown, o = 0;
	char masked[SMS_NUMBER_MAX + 1];

	if (len == 0)
		return;
	if (!sms_number_valid(number)) {
		(void)snprintf(out, len, "your number");
		return;
	}
	/* The first digit (a hint of the country) and the last four, or two
	 * of a short number, so that a user knows which of their numbers. */
	n = strlen(number + 1);
	shown = n >= 10 ? 4 : 2;
	masked[o++] = '+';
	masked[o++] = number[1];
	for (size_t i = 1; i < n - shown; i++)
		masked[o++] = '*';
	memcpy(masked + o, number + 1 + n - shown, shown);
	o += shown;
	masked[o] = '\0';
	(void)snprintf(out, len, "%s", masked);
}

/* ---- templates ---- */

static const struct {
	const char *name;
	unsigned bit;
} template_vars[] = {
	{ "phone", SMS_VAR_PHONE }, { "message", SMS_VAR_MESSAGE }, { "code", SMS_VAR_CODE },
	{ "host", SMS_VAR_HOST },   { "ttl_minutes", SMS_VAR_TTL }, { "user", SMS_VAR_USER },
};

/* The length of the UTF-8 sequence at p (before end): 1 to 4, or 0 if it
 * is not well formed (overlong, a surrogate, past U+10FFFF, cut short). */
static size_t utf8_sequence(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* The placeholder whose name starts at name (after "%{"): its bit, and
 * in *len the bytes up to and including its '}'; 0 if unknown or not
 * closed. */
static unsigned template_var(const char *name, size_t *len)
{
	const char *close = strchr(name, '}');

	if (close == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(template_vars) / sizeof(template_vars[0]); i++)
		if ((size_t)(close - name) == strlen(template_vars[i].name) &&
		    strncmp(name, template_vars[i].name, (size_t)(close - name)) == 0) {
			*len = (size_t)(close - name) + 1;
			return template_vars[i].bit;
		}
	return 0;
}

const char *sms_template_check(const char *tmpl, unsigned allowed, unsigned *used)
{
	const unsigned char *end = (const unsigned char *)tmpl + strlen(tmpl);
	unsigned seen = 0;

	for (const char *p = tmpl; *p != '\0';) {
		unsigned char c = (unsigned char)*p;
		size_t len;
		unsigned bit;

		/* A line break is fine in a message (it is encoded like the
		 * rest); no other control character is. */
		if ((c < 0x20 && c != '\n') || c == 0x7f)
			return "contains a control character";
		if (c >= 0x80) {
			len = utf8_sequence((const unsigned char *)p, end);
			if (len == 0)
				return "is not valid UTF-8";
			p += len;
			continue;
		}
		if (c != '%') {
			p++;
			continue;
		}
		if (p[1] == '%') {
			p += 2;
			continue;
		}
		if (p[1] != '{')
			return "has a '%' that starts no %{name}: write %% for a percent sign";
		if (strchr(p + 2, '}') == NULL)
			return "has a %{ that is not closed by '}'";
		bit = template_var(p + 2, &len);
		if (bit == 0)
			return "has an unknown %{...}: the known ones are %{phone}, %{message}, "
			       "%{code}, %{host}, %{ttl_minutes} and %{user}";
		if (!(bit & allowed))
			return bit == SMS_VAR_MESSAGE ?
				       "cannot hold %{message}: it is the message" :
				       "holds a %{...} not allowed here";
		seen |= bit;
		p += 2 + len;
	}
	if (used != NULL)
		*used = seen;
	return NULL;
}

/* Appends s to out at *o, leaving room for a NUL; a byte that is not
 * printable ASCII becomes '?' when printable (for the host and user
 * names, which are not ours). */
static int append(char *out, size_t size, size_t *o, const char *s, bool printable)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (*o + 1 >= size)
			return -ENOSPC;
		out[(*o)++] = printable && (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	return 0;
}

int sms_expand(const char *tmpl, const char *number, const char *text,
	       const struct sms_message *msg, char *out, size_t size)
{
	size_t o = 0;
	int r = 0;

	if (size == 0)
		return -ENOSPC;
	for (const char *p = tmpl; *p != '\0' && r == 0;) {
		const char *piece;
		bool printable = false;
		char ttl[16];
		size_t len;
		unsigned bit;

		/* A character as it is, or '%' for "%%". */
		if (*p != '%' || p[1] == '%') {
			if (o + 1 >= size) {
				r = -ENOSPC;
				break;
			}
			out[o++] = *p;
			p += *p == '%' ? 2 : 1;
			continue;
		}
		if (p[1] != '{' || (bit = template_var(p + 2, &len)) == 0) {
			r = -EINVAL;
			break;
		}
		p += 2 + len;
		switch (bit) {
		case SMS_VAR_PHONE: piece = number; break;
		case SMS_VAR_MESSAGE: piece = text; break;
		case SMS_VAR_CODE: piece = msg->code; break;
		case SMS_VAR_HOST:
			piece = msg->host;
			printable = true;
			break;
		case SMS_VAR_USER:
			piece = msg->user;
			printable = true;
			break;
		default:
			(void)snprintf(ttl, sizeof(ttl), "%u", msg->ttl_minutes);
			piece = ttl;
			break;
		}
		if (piece == NULL && bit == SMS_VAR_MESSAGE)
			r = -EINVAL;
		else
			r = append(out, size, &o, piece != NULL ? piece : "", printable);
	}
	if (r < 0) {
		secure_wipe(out, size);
		return r;
	}
	out[o] = '\0';
	return 0;
}

/* ---- the JSON check of an answer ---- */

struct json_cursor {
	const unsigned char *p, *end;
};

static void json_space(struct json_cursor *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static bool json_is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool json_string(struct json_cursor *j)
{
	if (j->p >= j->end || *j->p != '"')
		return false;
	j->p++;
	while (j->p < j->end) {
		unsigned char c = *j->p;
		size_t n;

		if (c == '"') {
			j->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			if (j->end - j->p < 2)
				return false;
			c = j->p[1];
			if (c == 'u') {
				if (j->end - j->p < 6)
					return false;
				for (int i = 2; i < 6; i++)
					if (!json_is_hex(j->p[i]))
						return false;
				j->p += 6;
			} else if (c != '"' && c != '\\' && c != '/' && c != 'b' && c != 'f' &&
				   c != 'n' && c != 'r' && c != 't') {
				return false;
			} else {
				j->p += 2;
			}
			continue;
		}
		n = utf8_sequence(j->p, j->end);
		if (n == 0)
			return false;
		j->p += n;
	}
	return false;
}

static bool json_digits(struct json_cursor *j)
{
	const unsigned char *start = j->p;

	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > start;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_number(struct json_cursor *j)
{
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (!(j->p < j->end && *j->p >= '1' && *j->p <= '9') || !json_digits(j))
		return false;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (!json_digits(j))
			return false;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (!json_digits(j))
			return false;
	}
	return true;
}

static bool json_word(struct json_cursor *j, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return false;
	j->p += n;
	return true;
}

static bool json_value(struct json_cursor *j, unsigned depth);

/* An object or an array at j->p (open is '{' or '['), depth deep. */
static bool json_container(struct json_cursor *j, unsigned depth, unsigned char open)
{
	unsigned char close = open == '{' ? '}' : ']';

	if (depth > JSON_DEPTH_MAX || j->p >= j->end || *j->p != open)
		return false;
	j->p++;
	json_space(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return true;
	}
	for (;;) {
		if (open == '{') {
			if (!json_string(j))
				return false;
			json_space(j);
			if (j->p >= j->end || *j->p != ':')
				return false;
			j->p++;
		}
		if (!json_value(j, depth))
			return false;
		json_space(j);
		if (j->p >= j->end)
			return false;
		if (*j->p == close) {
			j->p++;
			return true;
		}
		if (*j->p != ',')
			return false;
		j->p++;
		json_space(j);
	}
}

static bool json_value(struct json_cursor *j, unsigned depth)
{
	json_space(j);
	if (j->p >= j->end)
		return false;
	switch (*j->p) {
	case '{':
	case '[': return json_container(j, depth + 1, *j->p);
	case '"': return json_string(j);
	case 't': return json_word(j, "true");
	case 'f': return json_word(j, "false");
	case 'n': return json_word(j, "null");
	default: return json_number(j);
	}
}

bool sms_json_valid(const char *text, size_t len)
{
	struct json_cursor j = { (const unsigned char *)text, (const unsigned char *)text + len };

	json_space(&j);
	if (j.p == j.end)
		return true;
	if (*j.p != '{' || !json_container(&j, 1, '{'))
		return false;
	json_space(&j);
	return j.p == j.end;
}

/* ---- the request ---- */

/* application/x-www-form-urlencoded: all but the unreserved characters
 * of RFC 3986 as %XX, a space too (every decoder knows %20). */
static size_t form_encode(const char *s, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 0xf];
		}
	}
	return o;
}

/* A JSON string, quotes included: '"', '\' and every control character
 * escaped; the rest (UTF-8, checked by the templates) as it is. */
static size_t json_encode(const char *s, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	out[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		const char *esc = NULL;

		switch (*p) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		}
		if (esc != NULL) {
			memcpy(out + o, esc, 2);
			o += 2;
		} else if (*p < 0x20 || *p == 0x7f) {
			memcpy(out + o, "\\u00", 4);
			out[o + 4] = hex[*p >> 4];
			out[o + 5] = hex[*p & 0xf];
			o += 6;
		} else {
			out[o++] = (char)*p;
		}
	}
	out[o++] = '"';
	return o;
}

static bool code_valid(const char *code)
{
	size_t n;

	if (code == NULL)
		return false;
	n = strnlen(code, EMAIL_CODE_DIGITS_MAX + 1);
	if (n == 0 || n > EMAIL_CODE_DIGITS_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (code[i] < '0' || code[i] > '9')
			return false;
	return true;
}

int sms_request_body(const struct sms_config *sc, const char *number, const struct sms_message *msg,
		     char **body, size_t *len, struct mfa_error *err)
{
	const size_t slot = SMS_FIELD_MAX + 1;
	char text[SMS_MESSAGE_MAX + 1];
	char *values = NULL, *out = NULL;
	size_t cap = 3, o = 0;
	int r;

	*body = NULL;
	*len = 0;
	if (sc->n_fields == 0 || sc->n_fields > SMS_FIELDS_MAX) {
		mfa_error_set(err, "SMS is not configured (sms.fields)");
		return -EINVAL;
	}
	if (!sms_number_valid(number)) {
		mfa_error_set(err, "refusing to send a text message to an invalid phone number");
		return -EINVAL;
	}
	if (!code_valid(msg->code)) {
		mfa_error_set(err, "refusing to send a code that is not 1 to %d digits",
			      EMAIL_CODE_DIGITS_MAX);
		return -EINVAL;
	}
	r = sms_expand(sc->message != NULL ? sc->message : SMS_DEFAULT_MESSAGE, number, NULL, msg,
		       text, sizeof(text));
	if (r == -ENOSPC)
		mfa_error_set(err, "sms.message is longer than %d bytes once expanded",
			      SMS_MESSAGE_MAX);
	else if (r < 0)
		mfa_error_set(err, "sms.message is not a valid template");
	if (r < 0) {
		r = -EINVAL;
		goto out;
	}
	values = malloc(sc->n_fields * slot);
	if (values == NULL) {
		r = -ENOMEM;
		mfa_error_set(err, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < sc->n_fields; i++) {
		char *v = values + i * slot;

		r = sms_expand(sc->fields[i].value, number, text, msg, v, slot);
		if (r == -ENOSPC)
			mfa_error_set(err, "sms.fields.%s is longer than %d bytes once expanded",
				      sc->fields[i].name, SMS_FIELD_MAX);
		else if (r < 0)
			mfa_error_set(err, "sms.fields.%s is not a valid template",
				      sc->fields[i].name);
		if (r < 0) {
			r = -EINVAL;
			goto out;
		}
		/* The most each encoding may make of it: %XX or \u00XX a
		 * byte, quotes, ':' or '=', and a separator. */
		cap += 6 * (strlen(sc->fields[i].name) + strlen(v)) + 6;
	}
	out = malloc(cap);
	if (out == NULL) {
		r = -ENOMEM;
		mfa_error_set(err, "out of memory");
		goto out;
	}
	if (sc->format == SMS_FORMAT_JSON)
		out[o++] = '{';
	for (size_t i = 0; i < sc->n_fields; i++) {
		const char *v = values + i * slot;

		if (i > 0)
			out[o++] = sc->format == SMS_FORMAT_JSON ? ',' : '&';
		if (sc->format == SMS_FORMAT_JSON) {
			o += json_encode(sc->fields[i].name, out + o);
			out[o++] = ':';
			o += json_encode(v, out + o);
		} else {
			o += form_encode(sc->fields[i].name, out + o);
			out[o++] = '=';
			o += form_encode(v, out + o);
		}
	}
	if (sc->format == SMS_FORMAT_JSON)
		out[o++] = '}';
	out[o] = '\0';
	*body = out;
	*len = o;
	out = NULL;
	r = 0;
out:
	secure_wipe(text, sizeof(text));
	if (values != NULL) {
		secure_wipe(values, sc->n_fields * slot);
		free(values);
	}
	free(out); /* NULL, or never written */
	return r;
}

/* The gateway's answer, up to SMS_ANSWER_MAX bytes; it may echo the
 * message, so it is wiped. */
struct answer {
	char *data;
	size_t len;
	bool too_long;
};

static size_t take_answer(char *buf, size_t size, size_t nitems, void *p)
{
	struct answer *a = p;
	size_t n = size * nitems;

	if (n > SMS_ANSWER_MAX - a->len) {
		a->too_long = true;
		return 0; /* libcurl stops: CURLE_WRITE_ERROR */
	}
	memcpy(a->data + a->len, buf, n);
	a->len += n;
	return n;
}

/* An empty list (a configuration not made by config.c) is the default's. */
static bool status_listed(const struct sms_config *sc, long status)
{
	if (sc->n_success_status == 0)
		return status >= 200 && status <= 202;
	for (size_t i = 0; i < sc->n_success_status && i < SMS_STATUS_MAX; i++)
		if ((long)sc->success_status[i] == status)
			return true;
	return false;
}

/* The bearer token: one line of printable ASCII without spaces, as
 * RFC 6750 writes it; anything else could end or add a header. */
static bool token_valid(const char *token)
{
	if (token[0] == '\0')
		return false;
	for (const char *p = token; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return false;
	return true;
}

/* Judges the answer of a finished exchange. */
static int judge_answer(const struct sms_config *sc, long status, const struct answer *a,
			struct mfa_error *err)
{
	if (!status_listed(sc, status)) {
		mfa_error_set(err, "the SMS gateway answered HTTP %ld%s", status,
			      status == 401 || status == 403 ?
				      " (it refused the credentials of sms.username, "
				      "sms.password_file or sms.bearer_token_file)" :
				      "");
		return -EIO;
	}
	if (sc->response == SMS_RESPONSE_JSON && !sms_json_valid(a->data, a->len)) {
		mfa_error_set(err, "the SMS gateway answered %ld with a body that is not JSON",
			      status);
		return -EIO;
	}
	if (sc->success_contains != NULL &&
	    memmem(a->data, a->len, sc->success_contains, strlen(sc->success_contains)) == NULL) {
		mfa_error_set(err,
			      "the SMS gateway answered %ld with a body that does not contain "
			      "sms.success_contains",
			      status);
		return -EIO;
	}
	return 0;
}

/* One HTTPS request with body to the gateway, and its answer judged. */
static int https_send(const struct sms_config *sc, const char *password, const char *token,
		      const char *body, size_t len, struct mfa_error *err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL;
	struct answer a = { NULL, 0, false };
	unsigned timeout = sc->timeout > 0 ? sc->timeout : SMS_TIMEOUT_DEFAULT;
	struct curl_api api;
	CURL *curl = NULL;
	long status = 0;
	CURLcode cr;
	int r;

	r = curl_api_load(&api, err);
	if (r < 0)
		return -EIO;
	/* Thread-safe since libcurl 7.84, and a no-op once done. */
	if (api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		mfa_error_set(err, "libcurl failed to initialise");
		return -EIO;
	}
	a.data = malloc(SMS_ANSWER_MAX + 1);
	curl = api.easy_init();
	if (a.data == NULL || curl == NULL)
		goto nomem;
	/* Some APIs answer in the format asked for; and no "Expect:
	 * 100-continue", which costs a second with servers that ignore it. */
	{
		const char *const lines[] = {
			sc->format == SMS_FORMAT_JSON ?
				"Content-Type: application/json" :
				"Content-Type: application/x-www-form-urlencoded",
			sc->response == SMS_RESPONSE_JSON ? "Accept: application/json" :
							    "Accept: */*",
			"Expect:",
		};

		for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
			struct curl_slist *h = api.slist_append(headers, lines[i]);

			if (h == NULL)
				goto nomem;
			headers = h;
		}
	}
	/* What keeps the request to TLS with a verified peer is refused
	 * outright if this libcurl will not take it. */
	if (api.easy_setopt(curl, CURLOPT_URL, sc->url) != CURLE_OK ||
	    api.easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK ||
	    api.easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "https") != CURLE_OK ||
	    api.easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    api.easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK) {
		mfa_error_set(err, "libcurl refused the SMS gateway's https-only settings");
		r = -EIO;
		goto out;
	}
	(void)api.easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	/* Not the environment's https_proxy: a login's environment is not
	 * root's to trust. */
	(void)api.easy_setopt(curl, CURLOPT_PROXY, "");
	(void)api.easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	(void)api.easy_setopt(curl, CURLOPT_TIMEOUT, (long)timeout);
	(void)api.easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)timeout);
	(void)api.easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	(void)api.easy_setopt(curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (sc->ca_file != NULL)
		(void)api.easy_setopt(curl, CURLOPT_CAINFO, sc->ca_file);
	(void)api.easy_setopt(curl, CURLOPT_USERAGENT, "pam_mfa/" PAM_MFA_VERSION);
	(void)api.easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	/* Not copied by libcurl: our buffer, which we wipe. */
	(void)api.easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	(void)api.easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	if (sc->method != NULL && strcmp(sc->method, "PUT") == 0)
		(void)api.easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PUT");
	(void)api.easy_setopt(curl, CURLOPT_WRITEFUNCTION, take_answer);
	(void)api.easy_setopt(curl, CURLOPT_WRITEDATA, &a);
	if (password != NULL) {
		(void)api.easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		(void)api.easy_setopt(curl, CURLOPT_USERNAME, sc->username);
		(void)api.easy_setopt(curl, CURLOPT_PASSWORD, password);
	} else if (token != NULL) {
		(void)api.easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
		(void)api.easy_setopt(curl, CURLOPT_XOAUTH2_BEARER, token);
	}
	cr = api.easy_perform(curl);
	(void)api.easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (cr == CURLE_WRITE_ERROR && a.too_long) {
		mfa_error_set(err, "the SMS gateway answered %ld with a body over %d KiB", status,
			      SMS_ANSWER_MAX / 1024);
		r = -EIO;
	} else if (cr == CURLE_OPERATION_TIMEDOUT) {
		mfa_error_set(err, "the SMS gateway did not answer within %u s", timeout);
		r = -ETIMEDOUT;
	} else if (cr != CURLE_OK) {
		mfa_error_set(err, "cannot connect to the SMS gateway: %s",
			      errbuf[0] != '\0' ? errbuf : api.easy_strerror(cr));
		r = -EIO;
	} else {
		r = judge_answer(sc, status, &a, err);
	}
	goto out;
nomem:
	mfa_error_set(err, "out of memory");
	r = -ENOMEM;
out:
	if (curl != NULL)
		api.easy_cleanup(curl);
	if (headers != NULL)
		api.slist_free_all(headers);
	if (a.data != NULL) {
		secure_wipe(a.data, a.len);
		free(a.data);
	}
	return r;
}

int sms_send(const struct sms_config *sc, const char *number, const struct sms_message *msg,
	     struct mfa_error *err)
{
	char *password = NULL, *token = NULL, *body = NULL;
	size_t len = 0;
	int r;

	if (sc->url == NULL || sc->n_fields == 0) {
		mfa_error_set(err, "SMS is not configured (sms.url, sms.fields)");
		return -EINVAL;
	}
	r = sms_request_body(sc, number, msg, &body, &len, err);
	if (r < 0)
		return r;
	/* The CA file decides whom we trust: root's, like the config. */
	if (sc->ca_file != NULL) {
		int fd = open_trusted_file(sc->ca_file, 16 * 1024 * 1024, err);

		if (fd < 0) {
			r = -EIO;
			goto out;
		}
		close(fd);
	}
	if (sc->password_file != NULL && sc->username != NULL) {
		r = read_secret_file(sc->password_file, SMS_SECRET_MAX, &password, err);
		if (r < 0) {
			r = r == -ENOMEM ? r : -EIO;
			goto out;
		}
	} else if (sc->bearer_token_file != NULL) {
		r = read_secret_file(sc->bearer_token_file, SMS_SECRET_MAX, &token, err);
		if (r < 0) {
			r = r == -ENOMEM ? r : -EIO;
			goto out;
		}
		if (!token_valid(token)) {
			mfa_error_set(err,
				      "%s: the token must be one line of printable characters "
				      "without spaces",
				      sc->bearer_token_file);
			r = -EIO;
			goto out;
		}
	}
	r = https_send(sc, password, token, body, len, err);
out:
	if (body != NULL) {
		secure_wipe(body, len);
		free(body);
	}
	secure_free_string(password);
	secure_free_string(token);
	return r;
}
