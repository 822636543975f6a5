/* pam_mfa.conf parsing over libconfig.  The schema is a table, so a key the
 * table does not name is an error rather than silently ignored. */
#include <errno.h>
#include <libconfig.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "build_config.h"
#include "config.h"
#include "recovery.h"

enum key_kind {
	KEY_UINT,
	KEY_STRING,
	KEY_ALGORITHM,
	KEY_GROUP,
	KEY_POLICY,
	KEY_METHODS,
	KEY_RULES,
	KEY_DATE,
	KEY_STARTTLS,
	KEY_BACKEND,
	KEY_SMS_FORMAT,
	KEY_SMS_RESPONSE,
	KEY_SMS_FIELDS,	   /* a group of name = "template" pairs */
	KEY_HTTP_STATUSES, /* a list of integers */
};

struct key_spec {
	const char *name;
	enum key_kind kind;
	size_t offset;		      /* into struct mfa_config */
	long long min, max;	      /* KEY_UINT range; KEY_STRING length */
	const struct key_spec *group; /* KEY_GROUP members, ending in a NULL name */
	/* KEY_STRING: returns NULL if the value is fine, else why not. */
	const char *(*check)(const char *value);
};

static const char *check_state_dir(const char *v)
{
	if (v[0] != '/')
		return "must be an absolute path";
	for (const char *p = v; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return "contains a control character";
	if (strstr(v, "/./") || strstr(v, "/../") ||
	    (strlen(v) >= 2 && strcmp(v + strlen(v) - 2, "/.") == 0) ||
	    (strlen(v) >= 3 && strcmp(v + strlen(v) - 3, "/..") == 0))
		return "must not contain \".\" or \"..\" components";
	if (strcmp(v, "/") == 0)
		return "must not be the root directory";
	if (strstr(v, "//") != NULL || v[strlen(v) - 1] == '/')
		return "must not contain \"//\" or end in \"/\"";
	return NULL;
}

static const char *check_issuer(const char *v)
{
	for (const char *p = v; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return "contains a control character";
		if (*p == ':')
			return "must not contain ':' (it separates issuer and account in authenticator apps)";
	}
	return NULL;
}

static const char *check_no_controls(const char *v)
{
	for (const char *p = v; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return "contains a control character";
	return NULL;
}

static const char *check_smtp_url(const char *v)
{
	const char *host;

	if (strncmp(v, "smtp://", 7) == 0)
		host = v + 7;
	else if (strncmp(v, "smtps://", 8) == 0)
		host = v + 8;
	else
		return "must start with smtp:// or smtps://";
	if (*host == '\0' || *host == '/' || *host == ':')
		return "names no host";
	if (strchr(host, '@') != NULL)
		return "must not hold credentials (use email.username and email.password_file)";
	for (const char *p = v; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return "contains a space or a control character";
	return NULL;
}

static const char *check_abs_path(const char *v)
{
	if (v[0] != '/')
		return "must be an absolute path";
	return check_no_controls(v);
}

static const char *check_from(const char *v)
{
	char addr[EMAIL_ADDRESS_MAX + 1];
	const char *lt = strchr(v, '<');
	size_t n;

	if (check_no_controls(v) != NULL)
		return "contains a control character";
	if (lt == NULL) {
		n = strlen(v);
	} else {
		const char *gt = strchr(lt, '>');
		if (gt == NULL || gt[1] != '\0')
			return "must be \"Name <address>\" or an address";
		for (const char *p = v; p < lt; p++)
			if (strchr("\"<>,;:@.()[]\\", *p) != NULL || (unsigned char)*p >= 0x80)
				return "the name may not contain quotes, <>,;:@.()[]\\ or non-ASCII";
		v = lt + 1;
		n = (size_t)(gt - v);
	}
	if (n >= sizeof(addr))
		return "the address is too long";
	memcpy(addr, v, n);
	addr[n] = '\0';
	return email_address_valid(addr) ? NULL : "the address is not valid";
}

static const char *check_template(const char *v)
{
	char sample[EMAIL_ADDRESS_MAX + 1];
	const char *why = check_no_controls(v);
	struct email_config probe;

	if (why != NULL)
		return why;
	if (strstr(v, "%u") == NULL)
		return "must contain %u, the user name";
	memset(&probe, 0, sizeof(probe));
	probe.address_template = (char *)v;
	if (email_address_from_template(&probe, "user.name", sample, sizeof(sample)) < 0)
		return "does not make a valid address (try \"%u@example.org\")";
	return NULL;
}

/* An https:// URL without credentials or placeholders: nothing of a
 * message, least of all its code, goes into a URL, which servers log. */
static const char *check_https_url(const char *v)
{
	const char *host;
	size_t authority;

	if (strncmp(v, "https://", 8) != 0)
		return "must start with https://";
	host = v + 8;
	authority = strcspn(host, "/?#");
	if (authority == 0 || *host == ':')
		return "names no host";
	if (memchr(host, '@', authority) != NULL)
		return "must not hold credentials (use sms.username and sms.password_file, "
		       "or sms.bearer_token_file)";
	for (const char *p = v; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return "contains a space or a control character";
		if ((unsigned char)*p >= 0x80)
			return "contains a byte that is not ASCII (percent-encode it)";
	}
	if (strstr(v, "%{") != NULL)
		return "must not hold a %{...}: the number and the message go in sms.fields, "
		       "never in the URL";
	return NULL;
}

static const char *check_http_method(const char *v)
{
	if (strcmp(v, "POST") != 0 && strcmp(v, "PUT") != 0)
		return "must be \"POST\" or \"PUT\"";
	return NULL;
}

/* Basic authentication joins the user name and the password with ':'. */
static const char *check_http_user(const char *v)
{
	if (strchr(v, ':') != NULL)
		return "must not contain ':'";
	return check_no_controls(v);
}

static const char *check_sms_message(const char *v)
{
	unsigned used = 0;
	const char *why = sms_template_check(v, SMS_VARS_MESSAGE, &used);

	if (why != NULL)
		return why;
	if (!(used & SMS_VAR_CODE))
		return "must contain %{code}";
	return NULL;
}

#define OFF(field) offsetof(struct mfa_config, field)

static const struct key_spec totp_keys[] = {
	{ "digits", KEY_UINT, OFF(totp.digits), TOTP_DIGITS_MIN, TOTP_DIGITS_MAX, NULL, NULL },
	{ "period", KEY_UINT, OFF(totp.period), 10, 300, NULL, NULL },
	{ "window", KEY_UINT, OFF(totp.window), 0, 10, NULL, NULL },
	{ "algorithm", KEY_ALGORITHM, OFF(totp.algorithm), 0, 0, NULL, NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL },
};

static const struct key_spec lockout_keys[] = {
	{ "attempts", KEY_UINT, OFF(lockout.attempts), 1, 1000, NULL, NULL },
	{ "interval", KEY_UINT, OFF(lockout.interval), 1, 31536000, NULL, NULL },
	{ "unlock_after", KEY_UINT, OFF(lockout.unlock_after), 0, 31536000, NULL, NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL },
};

static const struct key_spec email_keys[] = {
	{ "smtp_url", KEY_STRING, OFF(email.smtp_url), 8, 512, NULL, check_smtp_url },
	{ "starttls", KEY_STARTTLS, OFF(email.starttls), 0, 0, NULL, NULL },
	{ "ca_file", KEY_STRING, OFF(email.ca_file), 2, 512, NULL, check_abs_path },
	{ "username", KEY_STRING, OFF(email.username), 1, 256, NULL, check_no_controls },
	{ "password_file", KEY_STRING, OFF(email.password_file), 2, 512, NULL, check_abs_path },
	{ "from", KEY_STRING, OFF(email.from), 3, 320, NULL, check_from },
	{ "address", KEY_STRING, OFF(email.address_template), 3, 200, NULL, check_template },
	{ "code_digits", KEY_UINT, OFF(email.code_digits), 6, EMAIL_CODE_DIGITS_MAX, NULL, NULL },
	{ "code_ttl", KEY_UINT, OFF(email.code_ttl), 30, 3600, NULL, NULL },
	{ "resend_after", KEY_UINT, OFF(email.resend_after), 5, 3600, NULL, NULL },
	{ "enroll_mails", KEY_UINT, OFF(email.enroll_mails), 1, 100, NULL, NULL },
	{ "timeout", KEY_UINT, OFF(email.timeout), 1, 120, NULL, NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL },
};

static const struct key_spec sms_keys[] = {
	{ "url", KEY_STRING, OFF(sms.url), 9, 1024, NULL, check_https_url },
	{ "method", KEY_STRING, OFF(sms.method), 3, 4, NULL, check_http_method },
	{ "format", KEY_SMS_FORMAT, OFF(sms.format), 0, 0, NULL, NULL },
	{ "fields", KEY_SMS_FIELDS, 0, 1, SMS_FIELDS_MAX, NULL, NULL },
	{ "username", KEY_STRING, OFF(sms.username), 1, 256, NULL, check_http_user },
	{ "password_file", KEY_STRING, OFF(sms.password_file), 2, 512, NULL, check_abs_path },
	{ "bearer_token_file", KEY_STRING, OFF(sms.bearer_token_file), 2, 512, NULL,
	  check_abs_path },
	{ "ca_file", KEY_STRING, OFF(sms.ca_file), 2, 512, NULL, check_abs_path },
	{ "success_status", KEY_HTTP_STATUSES, 0, 100, 599, NULL, NULL },
	{ "response", KEY_SMS_RESPONSE, OFF(sms.response), 0, 0, NULL, NULL },
	{ "success_contains", KEY_STRING, OFF(sms.success_contains), 1, 256, NULL,
	  check_no_controls },
	{ "message", KEY_STRING, OFF(sms.message), 1, 320, NULL, check_sms_message },
	{ "code_digits", KEY_UINT, OFF(sms.code_digits), 6, EMAIL_CODE_DIGITS_MAX, NULL, NULL },
	{ "code_ttl", KEY_UINT, OFF(sms.code_ttl), 30, 3600, NULL, NULL },
	{ "resend_after", KEY_UINT, OFF(sms.resend_after), 5, 3600, NULL, NULL },
	{ "enroll_messages", KEY_UINT, OFF(sms.enroll_messages), 1, 100, NULL, NULL },
	{ "timeout", KEY_UINT, OFF(sms.timeout), 1, 120, NULL, NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL },
};

static const char *check_address(const char *v)
{
	return email_address_valid(v) ? NULL : "is not a valid address";
}

static const struct key_spec recovery_keys[] = {
	{ "codes", KEY_UINT, OFF(recovery.codes), 0, RECOVERY_CODES_MAX, NULL, NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL },
};

static const struct key_spec notify_keys[] = {
	{ "lockout_to", KEY_STRING, OFF(notify.lockout_to), 3, EMAIL_ADDRESS_MAX, NULL,
	  check_address },
	{ "lockout_interval", KEY_UINT, OFF(notify.lockout_interval), 60, 604800, NULL, NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL },
};

static const struct key_spec store_keys[] = {
	{ "backend", KEY_BACKEND, OFF(store.backend), 0, 0, NULL, NULL },
	{ "conninfo", KEY_STRING, OFF(store.conninfo), 1, 4096, NULL, check_no_controls },
	{ "password_file", KEY_STRING, OFF(store.password_file), 2, 512, NULL, check_abs_path },
	{ "timeout", KEY_UINT, OFF(store.timeout), 1, 60, NULL, NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL },
};

static const struct key_spec rule_keys[] = {
	{ "user", KEY_STRING, 0, 1, USER_NAME_MAX, NULL, NULL },
	{ "group", KEY_STRING, 0, 1, 256, NULL, NULL },
	{ "policy", KEY_POLICY, 0, 0, 0, NULL, NULL },
	{ "methods", KEY_METHODS, 0, 0, 0, NULL, NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL },
};

static const struct key_spec root_keys[] = {
	{ "state_dir", KEY_STRING, OFF(state_dir), 2, 200, NULL, check_state_dir },
	{ "issuer", KEY_STRING, OFF(issuer), 1, 64, NULL, check_issuer },
	{ "totp", KEY_GROUP, 0, 0, 0, totp_keys, NULL },
	{ "lockout", KEY_GROUP, 0, 0, 0, lockout_keys, NULL },
	{ "fail_delay_ms", KEY_UINT, OFF(fail_delay_ms), 0, 60000, NULL, NULL },
	{ "default_policy", KEY_POLICY, OFF(default_policy), 0, 0, NULL, NULL },
	{ "methods", KEY_METHODS, OFF(methods), 0, 0, NULL, NULL },
	{ "rules", KEY_RULES, 0, 0, 0, rule_keys, NULL },
	{ "enroll_by", KEY_DATE, OFF(enroll_by), 0, 0, NULL, NULL },
	{ "factors_per_method", KEY_UINT, OFF(factors_per_method), 1, 8, NULL, NULL },
	{ "email", KEY_GROUP, 0, 0, 0, email_keys, NULL },
	{ "sms", KEY_GROUP, 0, 0, 0, sms_keys, NULL },
	{ "recovery", KEY_GROUP, 0, 0, 0, recovery_keys, NULL },
	{ "notify", KEY_GROUP, 0, 0, 0, notify_keys, NULL },
	{ "store", KEY_GROUP, 0, 0, 0, store_keys, NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL },
};

static int set_defaults(struct mfa_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->state_dir = strdup(PAM_MFA_DEFAULT_STATE_DIR);
	cfg->issuer = strdup("pam_mfa");
	cfg->totp.digits = 6;
	cfg->totp.period = 30;
	cfg->totp.window = 1;
	cfg->totp.algorithm = TOTP_SHA1;
	cfg->lockout.attempts = 5;
	cfg->lockout.interval = 900;
	cfg->lockout.unlock_after = 900;
	cfg->fail_delay_ms = PAM_MFA_DEFAULT_FAIL_DELAY_MS;
	cfg->default_policy = POLICY_OPTIONAL;
	cfg->methods = METHOD_TOTP;
	cfg->email.starttls = STARTTLS_REQUIRED;
	cfg->email.code_digits = 6;
	cfg->email.code_ttl = 300;
	cfg->email.resend_after = 30;
	cfg->email.enroll_mails = 5;
	cfg->email.timeout = 10;
	cfg->factors_per_method = 3;
	cfg->recovery.codes = 10;
	cfg->notify.lockout_interval = 3600;
	cfg->sms.method = strdup("POST");
	cfg->sms.format = SMS_FORMAT_FORM;
	cfg->sms.success_status[0] = 200;
	cfg->sms.success_status[1] = 201;
	cfg->sms.success_status[2] = 202;
	cfg->sms.n_success_status = 3;
	cfg->sms.response = SMS_RESPONSE_JSON;
	cfg->sms.message = strdup(SMS_DEFAULT_MESSAGE);
	cfg->sms.code_digits = 6;
	cfg->sms.code_ttl = 300;
	cfg->sms.resend_after = 30;
	cfg->sms.enroll_messages = 5;
	cfg->sms.timeout = 10;
	cfg->store.backend = STORE_BACKEND_FILES;
	cfg->store.timeout = 5;
	if (cfg->state_dir == NULL || cfg->issuer == NULL || cfg->sms.method == NULL ||
	    cfg->sms.message == NULL)
		return -ENOMEM;
	return 0;
}

static const char *type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP: return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: return "an integer";
	case CONFIG_TYPE_FLOAT: return "a floating-point number";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_ARRAY: return "an array";
	case CONFIG_TYPE_LIST: return "a list";
	}
	return "an unknown type";
}

static int apply_group(const char *path, const config_setting_t *group,
		       const struct key_spec *specs, const char *prefix, struct mfa_config *cfg,
		       struct mfa_error *err);
static void join_key(char *out, size_t size, const char *prefix, const char *name);

static int parse_policy(const char *path, const config_setting_t *s, const char *full,
			enum mfa_policy *out, struct mfa_error *err)
{
	const char *v = config_setting_get_string(s);

	if (policy_parse(v, out) < 0) {
		mfa_error_set(err,
			      "%s:%u: %s: \"%s\" is not one of required, optional, "
			      "opt-out, exempt",
			      path, config_setting_source_line(s), full, v);
		return -EINVAL;
	}
	return 0;
}

static int parse_methods(const char *path, const config_setting_t *s, const char *full,
			 unsigned *out, struct mfa_error *err)
{
	unsigned line = config_setting_source_line(s), methods = 0;
	int n = config_setting_length(s);

	if (n == 0) {
		mfa_error_set(err, "%s:%u: %s: must name at least one method", path, line, full);
		return -EINVAL;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = e ? config_setting_get_string(e) : NULL;
		unsigned m;

		if (v == NULL) {
			mfa_error_set(err, "%s:%u: %s: expected strings such as \"totp\"", path,
				      line, full);
			return -EINVAL;
		}
		if (method_parse(v, &m) < 0) {
			mfa_error_set(err,
				      "%s:%u: %s: unknown method \"%s\" (available: totp, email, sms)",
				      path, line, full, v);
			return -EINVAL;
		}
		if (methods & m) {
			mfa_error_set(err, "%s:%u: %s: \"%s\" is listed twice", path, line, full,
				      v);
			return -EINVAL;
		}
		methods |= m;
	}
	*out = methods;
	return 0;
}

/* "YYYY-MM-DD": enrollment at login is allowed up to the end of that day, UTC. */
static int parse_date(const char *path, const config_setting_t *s, const char *full, int64_t *out,
		      struct mfa_error *err)
{
	const char *v = config_setting_get_string(s);
	struct tm tm;
	char *end;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	end = strptime(v, "%Y-%m-%d", &tm);
	if (end == NULL || *end != '\0' || strlen(v) != 10 || tm.tm_year < 70 ||
	    tm.tm_year > 8000) {
		mfa_error_set(err, "%s:%u: %s: \"%s\" is not a date of the form YYYY-MM-DD", path,
			      config_setting_source_line(s), full, v);
		return -EINVAL;
	}
	{
		/* strptime accepts 2027-02-31; a round trip does not. */
		struct tm check = tm;
		t = timegm(&check);
		if (t == (time_t)-1 || check.tm_mday != tm.tm_mday || check.tm_mon != tm.tm_mon) {
			mfa_error_set(err, "%s:%u: %s: \"%s\" is not a valid date", path,
				      config_setting_source_line(s), full, v);
			return -EINVAL;
		}
	}
	*out = (int64_t)t + 86399;
	return 0;
}

/* The user or group a rule matches: one of the two, by a valid name. */
static int parse_rule_name(const char *path, const config_setting_t *e, const struct key_spec *spec,
			   const char *full, struct mfa_rule *rule, struct mfa_error *err)
{
	const char *v = config_setting_get_string(e);
	unsigned eline = config_setting_source_line(e);
	bool is_user = strcmp(spec->name, "user") == 0;

	if (rule->name != NULL) {
		mfa_error_set(err, "%s:%u: %s: a rule matches either a user or a group, not both",
			      path, eline, full);
		return -EINVAL;
	}
	if (is_user ? !user_name_valid(v) : strlen(v) == 0 || strlen(v) > 256) {
		mfa_error_set(err, "%s:%u: %s: \"%s\" is not a valid %s name", path, eline, full, v,
			      spec->name);
		return -EINVAL;
	}
	for (const char *c = v; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			mfa_error_set(err, "%s:%u: %s: contains a control character", path, eline,
				      full);
			return -EINVAL;
		}
	rule->kind = is_user ? RULE_USER : RULE_GROUP;
	rule->name = strdup(v);
	if (rule->name == NULL)
		return -ENOMEM;
	return 0;
}

/* Rule number nth (from 1): a group of rule_keys with a user or a group
 * and a policy. */
static int parse_rule(const char *path, const config_setting_t *rs, int nth, struct mfa_rule *rule,
		      struct mfa_error *err)
{
	unsigned line = config_setting_source_line(rs);
	bool have_policy = false;
	char full[64];
	int m = config_setting_length(rs);

	rule->line = line;
	if (config_setting_type(rs) != CONFIG_TYPE_GROUP) {
		mfa_error_set(err, "%s:%u: rules.[%d]: expected a group { ... }", path, line, nth);
		return -EINVAL;
	}
	for (int k = 0; k < m; k++) {
		const config_setting_t *e = config_setting_get_elem(rs, (unsigned)k);
		const char *name = config_setting_name(e);
		const struct key_spec *spec = NULL;
		unsigned eline = config_setting_source_line(e);
		int type = config_setting_type(e);
		int r;

		(void)snprintf(full, sizeof(full), "rules.[%d].%s", nth, name ? name : "?");
		for (const struct key_spec *ks = rule_keys; name && ks->name; ks++)
			if (strcmp(ks->name, name) == 0)
				spec = ks;
		if (spec == NULL) {
			mfa_error_set(err, "%s:%u: %s: unknown key", path, eline, full);
			return -EINVAL;
		}
		if (spec->kind == KEY_METHODS ?
			    type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST :
			    type != CONFIG_TYPE_STRING) {
			mfa_error_set(err, "%s:%u: %s: expected %s, found %s", path, eline, full,
				      spec->kind == KEY_METHODS ? "a list such as [ \"totp\" ]" :
								  "a string",
				      type_name(type));
			return -EINVAL;
		}
		if (spec->kind == KEY_POLICY) {
			r = parse_policy(path, e, full, &rule->policy, err);
			have_policy = true;
		} else if (spec->kind == KEY_METHODS) {
			r = parse_methods(path, e, full, &rule->methods, err);
		} else {
			r = parse_rule_name(path, e, spec, full, rule, err);
		}
		if (r < 0)
			return r;
	}
	if (rule->name == NULL || !have_policy) {
		mfa_error_set(err, "%s:%u: rules.[%d]: a rule needs %s", path, line, nth,
			      rule->name == NULL ? "a user or a group" : "a policy");
		return -EINVAL;
	}
	return 0;
}

static int parse_rules(const char *path, const config_setting_t *s, struct mfa_config *cfg,
		       struct mfa_error *err)
{
	int n = config_setting_length(s);

	if (n > CONFIG_RULES_MAX) {
		mfa_error_set(err, "%s:%u: rules: more than %d rules", path,
			      config_setting_source_line(s), CONFIG_RULES_MAX);
		return -EINVAL;
	}
	cfg->rules = calloc(n > 0 ? (size_t)n : 1, sizeof(*cfg->rules));
	if (cfg->rules == NULL)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		int r;

		/* Counted first: config_free() frees the name of a rule that fails. */
		cfg->n_rules = (size_t)i + 1;
		r = parse_rule(path, config_setting_get_elem(s, (unsigned)i), i + 1, &cfg->rules[i],
			       err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_uint(const char *path, const config_setting_t *s, const struct key_spec *spec,
		      const char *full, unsigned *out, struct mfa_error *err)
{
	long long v = config_setting_get_int64(s);

	if (v < spec->min || v > spec->max) {
		mfa_error_set(err, "%s:%u: %s: %lld is out of range (%lld to %lld)", path,
			      config_setting_source_line(s), full, v, spec->min, spec->max);
		return -ERANGE;
	}
	*out = (unsigned)v;
	return 0;
}

static int parse_starttls(const char *path, const config_setting_t *s, const char *full,
			  enum email_starttls *out, struct mfa_error *err)
{
	const char *v = config_setting_get_string(s);

	if (strcmp(v, "required") == 0)
		*out = STARTTLS_REQUIRED;
	else if (strcmp(v, "opportunistic") == 0)
		*out = STARTTLS_OPPORTUNISTIC;
	else if (strcmp(v, "off") == 0)
		*out = STARTTLS_OFF;
	else {
		mfa_error_set(err,
			      "%s:%u: %s: \"%s\" is not one of required, "
			      "opportunistic, off",
			      path, config_setting_source_line(s), full, v);
		return -EINVAL;
	}
	return 0;
}

static int parse_backend(const char *path, const config_setting_t *s, const char *full,
			 enum store_backend *out, struct mfa_error *err)
{
	const char *v = config_setting_get_string(s);

	if (strcmp(v, "files") == 0)
		*out = STORE_BACKEND_FILES;
	else if (strcmp(v, "postgresql") == 0)
		*out = STORE_BACKEND_POSTGRESQL;
	else {
		mfa_error_set(err, "%s:%u: %s: \"%s\" is not one of files, postgresql", path,
			      config_setting_source_line(s), full, v);
		return -EINVAL;
	}
	return 0;
}

static int parse_sms_format(const char *path, const config_setting_t *s, const char *full,
			    enum sms_format *out, struct mfa_error *err)
{
	const char *v = config_setting_get_string(s);

	if (strcmp(v, "form") == 0)
		*out = SMS_FORMAT_FORM;
	else if (strcmp(v, "json") == 0)
		*out = SMS_FORMAT_JSON;
	else {
		mfa_error_set(err, "%s:%u: %s: \"%s\" is not one of form, json", path,
			      config_setting_source_line(s), full, v);
		return -EINVAL;
	}
	return 0;
}

static int parse_sms_response(const char *path, const config_setting_t *s, const char *full,
			      enum sms_response *out, struct mfa_error *err)
{
	const char *v = config_setting_get_string(s);

	if (strcmp(v, "json") == 0)
		*out = SMS_RESPONSE_JSON;
	else if (strcmp(v, "any") == 0)
		*out = SMS_RESPONSE_ANY;
	else {
		mfa_error_set(err, "%s:%u: %s: \"%s\" is not one of json, any", path,
			      config_setting_source_line(s), full, v);
		return -EINVAL;
	}
	return 0;
}

/* A field's name goes into the body as it is written: [A-Za-z0-9_.-],
 * 1 to 64 of them. */
static bool sms_field_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 64)
		return false;
	for (const char *p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
			return false;
	return true;
}

/* sms.fields: a group of name = "template" pairs, the request's body. */
static int parse_sms_fields(const char *path, const config_setting_t *s,
			    const struct key_spec *spec, const char *full, struct sms_config *sc,
			    struct mfa_error *err)
{
	unsigned line = config_setting_source_line(s);
	int n = config_setting_length(s);

	if (n < spec->min || n > spec->max) {
		mfa_error_set(err, "%s:%u: %s: must hold %lld to %lld fields", path, line, full,
			      spec->min, spec->max);
		return -EINVAL;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_name(e), *v, *why;
		unsigned eline = config_setting_source_line(e);
		struct sms_field *field;
		char fname[128];

		join_key(fname, sizeof(fname), full, name != NULL ? name : "?");
		if (name == NULL || !sms_field_name_valid(name)) {
			mfa_error_set(err,
				      "%s:%u: %s: a field's name is 1 to 64 letters, digits and "
				      "\"_.-\"",
				      path, eline, fname);
			return -EINVAL;
		}
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			mfa_error_set(err, "%s:%u: %s: expected a string, found %s", path, eline,
				      fname, type_name(config_setting_type(e)));
			return -EINVAL;
		}
		v = config_setting_get_string(e);
		if (strlen(v) > 1024) {
			mfa_error_set(err, "%s:%u: %s: must be 0 to 1024 characters long", path,
				      eline, fname);
			return -EINVAL;
		}
		why = sms_template_check(v, SMS_VARS_FIELD, NULL);
		if (why != NULL) {
			mfa_error_set(err, "%s:%u: %s: %s", path, eline, fname, why);
			return -EINVAL;
		}
		/* Counted first: config_free() frees a half-made field. */
		field = &sc->fields[sc->n_fields++];
		field->name = strdup(name);
		field->value = strdup(v);
		if (field->name == NULL || field->value == NULL)
			return -ENOMEM;
	}
	return 0;
}

/* sms.success_status: the HTTP statuses that mean the message was taken. */
static int parse_http_statuses(const char *path, const config_setting_t *s,
			       const struct key_spec *spec, const char *full, struct sms_config *sc,
			       struct mfa_error *err)
{
	unsigned line = config_setting_source_line(s);
	int n = config_setting_length(s);

	if (n < 1 || n > SMS_STATUS_MAX) {
		mfa_error_set(err, "%s:%u: %s: must list 1 to %d statuses", path, line, full,
			      SMS_STATUS_MAX);
		return -EINVAL;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		int type = config_setting_type(e);
		long long v;

		if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64) {
			mfa_error_set(err, "%s:%u: %s: expected integers such as 200, found %s",
				      path, line, full, type_name(type));
			return -EINVAL;
		}
		v = config_setting_get_int64(e);
		if (v < spec->min || v > spec->max) {
			mfa_error_set(err, "%s:%u: %s: %lld is out of range (%lld to %lld)", path,
				      line, full, v, spec->min, spec->max);
			return -ERANGE;
		}
		for (int k = 0; k < i; k++)
			if (sc->success_status[k] == (unsigned)v) {
				mfa_error_set(err, "%s:%u: %s: %lld is listed twice", path, line,
					      full, v);
				return -EINVAL;
			}
		sc->success_status[i] = (unsigned)v;
	}
	sc->n_success_status = (size_t)n;
	return 0;
}

static int parse_algorithm(const char *path, const config_setting_t *s, const char *full,
			   enum totp_algorithm *out, struct mfa_error *err)
{
	const char *v = config_setting_get_string(s);

	if (totp_algorithm_parse(v, out) < 0) {
		mfa_error_set(err, "%s:%u: %s: \"%s\" is not one of sha1, sha256, sha512", path,
			      config_setting_source_line(s), full, v);
		return -EINVAL;
	}
	return 0;
}

/* A string as long as spec allows that passes its check, in place of what
 * *slot held. */
static int parse_string(const char *path, const config_setting_t *s, const struct key_spec *spec,
			const char *full, char **slot, struct mfa_error *err)
{
	const char *v = config_setting_get_string(s), *why;
	unsigned line = config_setting_source_line(s);
	size_t len = strlen(v);
	char *copy;

	if ((long long)len < spec->min || (long long)len > spec->max) {
		mfa_error_set(err, "%s:%u: %s: must be %lld to %lld characters long", path, line,
			      full, spec->min, spec->max);
		return -EINVAL;
	}
	if (spec->check != NULL && (why = spec->check(v)) != NULL) {
		mfa_error_set(err, "%s:%u: %s: %s", path, line, full, why);
		return -EINVAL;
	}
	copy = strdup(v);
	if (copy == NULL)
		return -ENOMEM;
	free(*slot);
	*slot = copy;
	return 0;
}

/* Sets the field spec names from s, if s is of the type the spec wants. */
static int apply_setting(const char *path, const config_setting_t *s, const struct key_spec *spec,
			 const char *full, struct mfa_config *cfg, struct mfa_error *err)
{
	int type = config_setting_type(s);
	char *field = (char *)cfg + spec->offset;

	switch (spec->kind) {
	case KEY_GROUP:
		if (type != CONFIG_TYPE_GROUP)
			break;
		return apply_group(path, s, spec->group, full, cfg, err);
	case KEY_UINT:
		if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
			break;
		return parse_uint(path, s, spec, full, (unsigned *)(void *)field, err);
	case KEY_STARTTLS:
		if (type != CONFIG_TYPE_STRING)
			break;
		return parse_starttls(path, s, full, (enum email_starttls *)(void *)field, err);
	case KEY_POLICY:
		if (type != CONFIG_TYPE_STRING)
			break;
		return parse_policy(path, s, full, (enum mfa_policy *)(void *)field, err);
	case KEY_METHODS:
		if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
			break;
		return parse_methods(path, s, full, (unsigned *)(void *)field, err);
	case KEY_DATE:
		if (type != CONFIG_TYPE_STRING)
			break;
		return parse_date(path, s, full, (int64_t *)(void *)field, err);
	case KEY_RULES:
		if (type != CONFIG_TYPE_LIST)
			break;
		return parse_rules(path, s, cfg, err);
	case KEY_BACKEND:
		if (type != CONFIG_TYPE_STRING)
			break;
		return parse_backend(path, s, full, (enum store_backend *)(void *)field, err);
	case KEY_ALGORITHM:
		if (type != CONFIG_TYPE_STRING)
			break;
		return parse_algorithm(path, s, full, (enum totp_algorithm *)(void *)field, err);
	case KEY_SMS_FORMAT:
		if (type != CONFIG_TYPE_STRING)
			break;
		return parse_sms_format(path, s, full, (enum sms_format *)(void *)field, err);
	case KEY_SMS_RESPONSE:
		if (type != CONFIG_TYPE_STRING)
			break;
		return parse_sms_response(path, s, full, (enum sms_response *)(void *)field, err);
	case KEY_SMS_FIELDS:
		if (type != CONFIG_TYPE_GROUP)
			break;
		return parse_sms_fields(path, s, spec, full, &cfg->sms, err);
	case KEY_HTTP_STATUSES:
		if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
			break;
		return parse_http_statuses(path, s, spec, full, &cfg->sms, err);
	case KEY_STRING:
		if (type != CONFIG_TYPE_STRING)
			break;
		return parse_string(path, s, spec, full, (char **)(void *)field, err);
	}
	mfa_error_set(err, "%s:%u: %s: expected %s, found %s", path, config_setting_source_line(s),
		      full,
		      spec->kind == KEY_GROUP || spec->kind == KEY_SMS_FIELDS ? "a group { ... }" :
		      spec->kind == KEY_HTTP_STATUSES ? "a list such as [ 200, 201 ]" :
		      spec->kind == KEY_UINT	      ? "an integer" :
		      spec->kind == KEY_METHODS	      ? "a list such as [ \"totp\" ]" :
		      spec->kind == KEY_RULES	      ? "a list of rules ( { ... }, ... )" :
		      spec->kind == KEY_DATE	      ? "a string \"YYYY-MM-DD\"" :
							"a string",
		      type_name(type));
	return -EINVAL;
}

/* "prefix.name", or "name" at the top, truncated to fit (it only names
 * the setting in messages).  Not snprintf(): a login applies every
 * setting, and formatting was a tenth of its instructions. */
static void join_key(char *out, size_t size, const char *prefix, const char *name)
{
	size_t plen = strlen(prefix), nlen = strlen(name), pos = 0;

	if (plen > 0) {
		if (plen > size - 2)
			plen = size - 2;
		memcpy(out, prefix, plen);
		out[plen] = '.';
		pos = plen + 1;
	}
	if (nlen > size - 1 - pos)
		nlen = size - 1 - pos;
	memcpy(out + pos, name, nlen);
	out[pos + nlen] = '\0';
}

static int apply_group(const char *path, const config_setting_t *group,
		       const struct key_spec *specs, const char *prefix, struct mfa_config *cfg,
		       struct mfa_error *err)
{
	int n = config_setting_length(group);

	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(s);
		const struct key_spec *spec = NULL;
		char full[128];
		int r;

		join_key(full, sizeof(full), prefix, name ? name : "?");
		for (const struct key_spec *k = specs; name != NULL && k->name != NULL; k++)
			if (strcmp(k->name, name) == 0)
				spec = k;
		if (spec == NULL) {
			mfa_error_set(err, "%s:%u: %s: unknown key", path,
				      config_setting_source_line(s), full);
			return -EINVAL;
		}
		r = apply_setting(path, s, spec, full, cfg, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Drops the comments (#, // and / * * /, as libconfig knows them) outside
 * strings, in place, keeping every newline so that errors keep their line
 * numbers.  libconfig's scanner then reads the 300 bytes of settings of the
 * commented example config instead of its 7 KB: parsing was over half of
 * a login's instructions (bench/).  A block comment with no end is an
 * error: libconfig would quietly drop every setting after it. */
static int drop_comments(const char *path, char *text, struct mfa_error *err)
{
	const char *r = text;
	char *w = text;
	unsigned line = 1;

	while (*r != '\0') {
		if (*r == '"') {
			*w++ = *r++;
			while (*r != '\0' && *r != '"') {
				if (*r == '\\' && r[1] != '\0')
					*w++ = *r++;
				line += *r == '\n';
				*w++ = *r++;
			}
			if (*r == '"')
				*w++ = *r++;
		} else if (*r == '#' || (r[0] == '/' && r[1] == '/')) {
			r += strcspn(r, "\n");
		} else if (r[0] == '/' && r[1] == '*') {
			const char *end = strstr(r + 2, "*/");

			if (end == NULL) {
				mfa_error_set(err, "%s:%u: a comment that is never closed", path,
					      line);
				return -EINVAL;
			}
			for (; r < end; r++)
				if (*r == '\n') {
					*w++ = '\n';
					line++;
				}
			r = end + 2;
		} else {
			line += *r == '\n';
			*w++ = *r++;
		}
	}
	*w = '\0';
	return 0;
}

/* libconfig would follow @include to files whose ownership nobody checked. */
static int refuse_include(const char *path, const char *text, struct mfa_error *err)
{
	unsigned line = 1;

	if (strstr(text, "@include") == NULL)
		return 0;
	for (const char *p = text; *p != '\0'; line++) {
		const char *q = p + strspn(p, " \t");
		if (strncmp(q, "@include", 8) == 0) {
			mfa_error_set(err, "%s:%u: @include is not supported", path, line);
			return -EINVAL;
		}
		p = strchr(p, '\n');
		if (p == NULL)
			break;
		p++;
	}
	return 0;
}

/* The store group's keys that go together: a database needs its conninfo,
 * and the files backend takes none of the database's keys, which would
 * otherwise be silently ignored. */
static int check_store(const char *path, const config_t *lc, const struct store_config *sc,
		       struct mfa_error *err)
{
	const config_setting_t *g = config_lookup(lc, "store");
	unsigned line = g != NULL ? config_setting_source_line(g) : 0;

	if (sc->backend == STORE_BACKEND_POSTGRESQL && sc->conninfo == NULL) {
		mfa_error_set(err, "%s:%u: store.conninfo: required with backend \"postgresql\"",
			      path, line);
		return -EINVAL;
	}
	if (sc->backend == STORE_BACKEND_FILES &&
	    (sc->conninfo != NULL || sc->password_file != NULL)) {
		mfa_error_set(err, "%s:%u: store.%s: only for backend \"postgresql\"", path, line,
			      sc->conninfo != NULL ? "conninfo" : "password_file");
		return -EINVAL;
	}
	return 0;
}

/* The sms group's keys that go together, and the gateway that "sms" in
 * methods needs: checked once the whole file is read, since the keys may
 * come in any order.  The rules' methods need no check of their own:
 * they may not allow what the top-level methods do not. */
static int check_sms(const char *path, const config_t *lc, const struct mfa_config *cfg,
		     struct mfa_error *err)
{
	const struct sms_config *sc = &cfg->sms;
	const config_setting_t *g = config_lookup(lc, "sms");
	unsigned line = g != NULL ? config_setting_source_line(g) : 0;
	unsigned phone = 0, text = 0;

	if (cfg->methods & METHOD_SMS && (sc->url == NULL || sc->n_fields == 0)) {
		const config_setting_t *m = config_lookup(lc, "methods");

		mfa_error_set(err,
			      "%s:%u: methods: has \"sms\", so sms.url and sms.fields are "
			      "required",
			      path, m != NULL ? config_setting_source_line(m) : 0);
		return -EINVAL;
	}
	if ((sc->url == NULL) != (sc->n_fields == 0)) {
		mfa_error_set(err, "%s:%u: sms.%s: required with sms.%s", path, line,
			      sc->url == NULL ? "url" : "fields",
			      sc->url == NULL ? "fields" : "url");
		return -EINVAL;
	}
	if ((sc->username == NULL) != (sc->password_file == NULL)) {
		mfa_error_set(err, "%s:%u: sms.username and sms.password_file go together", path,
			      line);
		return -EINVAL;
	}
	if (sc->username != NULL && sc->bearer_token_file != NULL) {
		mfa_error_set(err,
			      "%s:%u: sms.bearer_token_file: not with sms.username and "
			      "sms.password_file: one way to log in to the gateway",
			      path, line);
		return -EINVAL;
	}
	for (size_t i = 0; i < sc->n_fields; i++) {
		unsigned used = 0;

		(void)sms_template_check(sc->fields[i].value, SMS_VARS_FIELD, &used);
		phone |= used & SMS_VAR_PHONE;
		text |= used & (SMS_VAR_MESSAGE | SMS_VAR_CODE);
	}
	if (sc->n_fields > 0 && (phone == 0 || text == 0)) {
		mfa_error_set(err, "%s:%u: sms.fields: %s", path, line,
			      phone == 0 ? "no field holds %{phone}, the number to send to" :
					   "no field holds %{message} or %{code}");
		return -EINVAL;
	}
	return 0;
}

int config_load(const char *path, struct mfa_config *cfg, struct mfa_error *err)
{
	config_t lc;
	char *text = NULL;
	size_t len;
	int fd, r;

	r = set_defaults(cfg);
	if (r < 0) {
		mfa_error_set(err, "out of memory");
		goto fail;
	}
	cfg->path = strdup(path);
	if (cfg->path == NULL) {
		mfa_error_set(err, "out of memory");
		r = -ENOMEM;
		goto fail;
	}
	fd = open_trusted_file(path, CONFIG_MAX_SIZE, err);
	if (fd < 0) {
		r = fd;
		goto fail;
	}
	r = read_all(fd, CONFIG_MAX_SIZE, &text, &len);
	close(fd);
	if (r < 0) {
		mfa_error_set(err, "%s: %s", path, strerror(-r));
		goto fail;
	}
	if (strlen(text) != len) {
		mfa_error_set(err, "%s: contains a NUL byte", path);
		r = -EINVAL;
		goto fail;
	}
	r = drop_comments(path, text, err);
	if (r < 0)
		goto fail;
	r = refuse_include(path, text, err);
	if (r < 0)
		goto fail;

	config_init(&lc);
	/* No autoconvert: a float where an integer belongs is an error. */
	config_set_options(&lc, 0);
	if (config_read_string(&lc, text) != CONFIG_TRUE) {
		mfa_error_set(err, "%s:%d: syntax error: %s", path, config_error_line(&lc),
			      config_error_text(&lc));
		config_destroy(&lc);
		r = -EINVAL;
		goto fail;
	}
	r = apply_group(path, config_root_setting(&lc), root_keys, "", cfg, err);
	if (r == 0)
		r = check_store(path, &lc, &cfg->store, err);
	if (r == 0)
		r = check_sms(path, &lc, cfg, err);
	config_destroy(&lc);
	if (r == 0 && (cfg->methods & METHOD_EMAIL) &&
	    (cfg->email.smtp_url == NULL || cfg->email.from == NULL)) {
		mfa_error_set(err,
			      "%s: email: methods has \"email\", so email.smtp_url and "
			      "email.from are required",
			      path);
		r = -EINVAL;
	}
	if (r == 0 && cfg->notify.lockout_to != NULL &&
	    (cfg->email.smtp_url == NULL || cfg->email.from == NULL)) {
		mfa_error_set(err,
			      "%s: notify: lockout_to needs mail: email.smtp_url and email.from "
			      "are required",
			      path);
		r = -EINVAL;
	}
	if (r == 0 && (cfg->email.username == NULL) != (cfg->email.password_file == NULL)) {
		mfa_error_set(err, "%s: email: username and password_file go together", path);
		r = -EINVAL;
	}
	if (r == 0 && cfg->email.username != NULL && cfg->email.starttls != STARTTLS_REQUIRED &&
	    strncmp(cfg->email.smtp_url, "smtps://", 8) != 0) {
		mfa_error_set(err,
			      "%s: email: with a username, starttls must be \"required\" "
			      "(or use smtps://): the password must not travel in clear",
			      path);
		r = -EINVAL;
	}
	for (size_t i = 0; r == 0 && i < cfg->n_rules; i++) {
		const struct mfa_rule *rule = &cfg->rules[i];
		/* A rule may narrow the org-wide methods, never widen them. */
		if (rule->methods & ~cfg->methods) {
			mfa_error_set(err,
				      "%s:%u: rules.[%zu].methods: allows a method that "
				      "the org-wide \"methods\" does not",
				      path, rule->line, i + 1);
			r = -EINVAL;
		}
	}
	if (r == -ENOMEM)
		mfa_error_set(err, "out of memory");
	if (r < 0)
		goto fail;
	free(text);
	return 0;
fail:
	free(text);
	config_free(cfg);
	return r;
}

void config_free(struct mfa_config *cfg)
{
	for (size_t i = 0; i < cfg->n_rules; i++)
		free(cfg->rules[i].name);
	free(cfg->rules);
	free(cfg->email.smtp_url);
	free(cfg->email.ca_file);
	free(cfg->email.username);
	free(cfg->email.password_file);
	free(cfg->email.from);
	free(cfg->email.address_template);
	free(cfg->notify.lockout_to);
	free(cfg->sms.url);
	free(cfg->sms.method);
	for (size_t i = 0; i < cfg->sms.n_fields; i++) {
		free(cfg->sms.fields[i].name);
		free(cfg->sms.fields[i].value);
	}
	free(cfg->sms.username);
	free(cfg->sms.password_file);
	free(cfg->sms.bearer_token_file);
	free(cfg->sms.ca_file);
	free(cfg->sms.success_contains);
	free(cfg->sms.message);
	free(cfg->store.conninfo);
	free(cfg->store.password_file);
	free(cfg->path);
	free(cfg->state_dir);
	free(cfg->issuer);
	memset(cfg, 0, sizeof(*cfg));
}

struct totp_params config_totp_params(const struct mfa_config *cfg)
{
	struct totp_params p = {
		.algorithm = cfg->totp.algorithm,
		.digits = cfg->totp.digits,
		.period = cfg->totp.period,
	};
	return p;
}
