/* Unit tests for config.c: every value read back, the defaults, and every
 * way a configuration file is refused, with a message naming file, line
 * and key, and nothing left allocated afterwards. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "build_config.h"
#include "config.h"
#include "unit_helpers.h"

struct fixture {
	char *dir;
	char *path; /* dir/pam_mfa.conf */
	struct mfa_config cfg;
	struct mfa_error err;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->dir = scratch_new();
	f->path = path_join(f->dir, "pam_mfa.conf");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	config_free(&f->cfg);
	free(f->path);
	scratch_remove(f->dir);
	free(f);
	return 0;
}

static int load_text(struct fixture *f, const char *text)
{
	write_text(f->path, text, 0600);
	memset(f->err.msg, 0, sizeof(f->err.msg));
	return config_load(f->path, &f->cfg, &f->err);
}

/* After a failed load the configuration holds nothing, and freeing it
 * (again) is harmless; ASan reports anything leaked or freed twice. */
static void assert_cfg_empty(struct fixture *f)
{
	assert_null(f->cfg.path);
	assert_null(f->cfg.state_dir);
	assert_null(f->cfg.issuer);
	assert_null(f->cfg.rules);
	assert_int_equal(f->cfg.n_rules, 0);
	config_free(&f->cfg);
	config_free(&f->cfg);
}

/* Loads text, which must fail; the message must name the file, "file:line:"
 * when line > 0, and key when not NULL. */
static void expect_failure(struct fixture *f, const char *text, unsigned line, const char *key)
{
	char where[4200];
	int r = load_text(f, text);

	if (r >= 0)
		fail_msg("accepted:\n%s", text);
	assert_cfg_empty(f);
	assert_contains(f->err.msg, f->path);
	if (line > 0) {
		(void)snprintf(where, sizeof(where), "%s:%u:", f->path, line);
		assert_contains(f->err.msg, where);
	}
	if (key != NULL)
		assert_contains(f->err.msg, key);
}

static const char full_config[] = "# pam_mfa test configuration\n"
				  "state_dir = \"/var/lib/pam_mfa-test\";\n"
				  "issuer = \"Example Corp\";\n"
				  "fail_delay_ms = 250;\n"
				  "totp = {\n"
				  "  digits = 8;\n"
				  "  period = 60;\n"
				  "  window = 3;\n"
				  "  algorithm = \"sha512\";\n"
				  "};\n"
				  "lockout = {\n"
				  "  attempts = 7;\n"
				  "  interval = 1200;\n"
				  "  unlock_after = 0;\n"
				  "};\n";

static void test_full_file(void **state)
{
	struct fixture *f = *state;
	struct totp_params p;

	assert_int_equal(load_text(f, full_config), 0);
	assert_string_equal(f->cfg.path, f->path);
	assert_string_equal(f->cfg.state_dir, "/var/lib/pam_mfa-test");
	assert_string_equal(f->cfg.issuer, "Example Corp");
	assert_int_equal(f->cfg.fail_delay_ms, 250);
	assert_int_equal(f->cfg.totp.digits, 8);
	assert_int_equal(f->cfg.totp.period, 60);
	assert_int_equal(f->cfg.totp.window, 3);
	assert_int_equal(f->cfg.totp.algorithm, TOTP_SHA512);
	assert_int_equal(f->cfg.lockout.attempts, 7);
	assert_int_equal(f->cfg.lockout.interval, 1200);
	assert_int_equal(f->cfg.lockout.unlock_after, 0);
	p = config_totp_params(&f->cfg);
	assert_int_equal(p.algorithm, TOTP_SHA512);
	assert_int_equal(p.digits, 8);
	assert_int_equal(p.period, 60);
}

static void assert_defaults(const struct mfa_config *cfg)
{
	assert_string_equal(cfg->state_dir, PAM_MFA_DEFAULT_STATE_DIR);
	assert_string_equal(cfg->issuer, "pam_mfa");
	assert_int_equal(cfg->totp.digits, 6);
	assert_int_equal(cfg->totp.period, 30);
	assert_int_equal(cfg->totp.window, 1);
	assert_int_equal(cfg->totp.algorithm, TOTP_SHA1);
	assert_int_equal(cfg->lockout.attempts, 5);
	assert_int_equal(cfg->lockout.interval, 900);
	assert_int_equal(cfg->lockout.unlock_after, 900);
	assert_int_equal(cfg->fail_delay_ms, 2000);
}

static void test_defaults(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load_text(f, ""), 0);
	assert_defaults(&f->cfg);
	config_free(&f->cfg);
	assert_int_equal(load_text(f, "# only a comment\n\n// and another\n"), 0);
	assert_defaults(&f->cfg);
	config_free(&f->cfg);
	assert_int_equal(load_text(f, "totp = { };\nlockout = { };\n"), 0);
	assert_defaults(&f->cfg);
	config_free(&f->cfg);
}

/* Keys a file leaves out keep their defaults, even inside a group it sets. */
static void test_partial_groups(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load_text(f, "totp = { digits = 8; };\nlockout = { attempts = 3; };\n"),
			 0);
	assert_int_equal(f->cfg.totp.digits, 8);
	assert_int_equal(f->cfg.totp.period, 30);
	assert_int_equal(f->cfg.totp.window, 1);
	assert_int_equal(f->cfg.totp.algorithm, TOTP_SHA1);
	assert_int_equal(f->cfg.lockout.attempts, 3);
	assert_int_equal(f->cfg.lockout.interval, 900);
	assert_int_equal(f->cfg.lockout.unlock_after, 900);
	assert_string_equal(f->cfg.issuer, "pam_mfa");
	assert_string_equal(f->cfg.state_dir, PAM_MFA_DEFAULT_STATE_DIR);
	assert_int_equal(f->cfg.fail_delay_ms, 2000);
}

static void test_algorithms(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load_text(f, "totp = { algorithm = \"sha1\"; };\n"), 0);
	assert_int_equal(f->cfg.totp.algorithm, TOTP_SHA1);
	config_free(&f->cfg);
	assert_int_equal(load_text(f, "totp = { algorithm = \"sha256\"; };\n"), 0);
	assert_int_equal(f->cfg.totp.algorithm, TOTP_SHA256);
	config_free(&f->cfg);
	expect_failure(f, "\ntotp = {\n  algorithm = \"md5\";\n};\n", 3, "totp.algorithm");
	assert_contains(f->err.msg, "md5");
	expect_failure(f, "totp = { algorithm = \"\"; };\n", 1, "totp.algorithm");
	expect_failure(f, "totp = { algorithm = 256; };\n", 1, "totp.algorithm");
}

/* Each integer key: both limits accepted and read back, one past either
 * limit refused with file, line and key named. */
static const struct {
	const char *group; /* NULL: top level */
	const char *key;
	long long min, max;
	size_t offset;
} int_keys[] = {
	{ "totp", "digits", 6, 8, offsetof(struct mfa_config, totp.digits) },
	{ "totp", "period", 10, 300, offsetof(struct mfa_config, totp.period) },
	{ "totp", "window", 0, 10, offsetof(struct mfa_config, totp.window) },
	{ "lockout", "attempts", 1, 1000, offsetof(struct mfa_config, lockout.attempts) },
	{ "lockout", "interval", 1, 31536000, offsetof(struct mfa_config, lockout.interval) },
	{ "lockout", "unlock_after", 0, 31536000,
	  offsetof(struct mfa_config, lockout.unlock_after) },
	{ NULL, "fail_delay_ms", 0, 60000, offsetof(struct mfa_config, fail_delay_ms) },
	{ NULL, "factors_per_method", 1, 8, offsetof(struct mfa_config, factors_per_method) },
	{ "sms", "code_digits", 6, 10, offsetof(struct mfa_config, sms.code_digits) },
	{ "sms", "code_ttl", 30, 3600, offsetof(struct mfa_config, sms.code_ttl) },
	{ "sms", "resend_after", 5, 3600, offsetof(struct mfa_config, sms.resend_after) },
	{ "sms", "enroll_messages", 1, 100, offsetof(struct mfa_config, sms.enroll_messages) },
	{ "sms", "timeout", 1, 120, offsetof(struct mfa_config, sms.timeout) },
	{ "recovery", "codes", 0, 20, offsetof(struct mfa_config, recovery.codes) },
	{ "notify", "lockout_interval", 60, 604800,
	  offsetof(struct mfa_config, notify.lockout_interval) },
};

static void format_int_setting(char *buf, size_t size, size_t i, const char *value)
{
	/* The value sits on line 3 in both layouts. */
	if (int_keys[i].group != NULL)
		(void)snprintf(buf, size, "# test\n%s = {\n  %s = %s;\n};\n", int_keys[i].group,
			       int_keys[i].key, value);
	else
		(void)snprintf(buf, size, "# test\n\n%s = %s;\n", int_keys[i].key, value);
}

static void test_integer_ranges(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(int_keys) / sizeof(int_keys[0]); i++) {
		const long long ok[] = { int_keys[i].min, int_keys[i].max };
		const long long bad[] = { int_keys[i].min - 1, int_keys[i].max + 1, -1,
					  INT64_C(4294967296) + int_keys[i].min };
		char full[64], text[256], value[32];

		if (int_keys[i].group != NULL)
			(void)snprintf(full, sizeof(full), "%s.%s", int_keys[i].group,
				       int_keys[i].key);
		else
			(void)snprintf(full, sizeof(full), "%s", int_keys[i].key);
		for (size_t j = 0; j < 2; j++) {
			(void)snprintf(value, sizeof(value), "%lld", ok[j]);
			format_int_setting(text, sizeof(text), i, value);
			if (load_text(f, text) != 0)
				fail_msg("%s = %s refused: %s", full, value, f->err.msg);
			assert_int_equal(*(const unsigned *)(const void *)((const char *)&f->cfg +
									   int_keys[i].offset),
					 ok[j]);
			config_free(&f->cfg);
		}
		for (size_t j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
			/* The last one needs 64 bits: it must not wrap to min. */
			(void)snprintf(value, sizeof(value), "%lld%s", bad[j], j == 3 ? "L" : "");
			format_int_setting(text, sizeof(text), i, value);
			expect_failure(f, text, 3, full);
		}
	}
}

/* A value of the wrong type is an error, never converted. */
static void test_wrong_types(void **state)
{
	static const struct {
		const char *text;
		unsigned line;
		const char *key;
	} cases[] = {
		{ "totp = {\n  digits = \"6\";\n};\n", 2, "totp.digits" },
		{ "totp = {\n  digits = 6.0;\n};\n", 2, "totp.digits" },
		{ "totp = {\n  digits = 6.5;\n};\n", 2, "totp.digits" },
		{ "totp = {\n  digits = true;\n};\n", 2, "totp.digits" },
		{ "totp = {\n  digits = [6];\n};\n", 2, "totp.digits" },
		{ "totp = {\n  digits = (6);\n};\n", 2, "totp.digits" },
		{ "fail_delay_ms = 1e3;\n", 1, "fail_delay_ms" },
		{ "lockout = {\n\n  interval = \"900\";\n};\n", 3, "lockout.interval" },
		{ "\nstate_dir = { a = 1; };\n", 2, "state_dir" },
		{ "\nstate_dir = 5;\n", 2, "state_dir" },
		{ "issuer = 5;\n", 1, "issuer" },
		{ "issuer = false;\n", 1, "issuer" },
		{ "issuer = [\"a\"];\n", 1, "issuer" },
		{ "\n\ntotp = 5;\n", 3, "totp" },
		{ "lockout = \"x\";\n", 1, "lockout" },
		{ "lockout = [1, 2];\n", 1, "lockout" },
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_failure(f, cases[i].text, cases[i].line, cases[i].key);
	/* The message says what was expected. */
	expect_failure(f, "totp = { digits = 6.0; };\n", 1, "totp.digits");
	assert_contains(f->err.msg, "integer");
}

static void test_policy_keys(void **state)
{
	struct fixture *f = *state;

	/* Defaults: optional for everyone, TOTP, no rules, no deadline. */
	assert_int_equal(load_text(f, ""), 0);
	assert_int_equal(f->cfg.default_policy, POLICY_OPTIONAL);
	assert_int_equal(f->cfg.methods, METHOD_TOTP);
	assert_int_equal(f->cfg.n_rules, 0);
	assert_int_equal(f->cfg.enroll_by, 0);
	config_free(&f->cfg);

	assert_int_equal(load_text(f,
				   "default_policy = \"opt-out\";\n"
				   "methods = [ \"totp\" ];\n"
				   "rules = (\n"
				   "  { group = \"wheel\"; policy = \"required\"; },\n"
				   "  { user = \"deploy\"; policy = \"exempt\"; methods = [ \"totp\" ]; },\n"
				   "  { group = \"Domain Users\"; policy = \"optional\"; }\n"
				   ");\n"
				   "enroll_by = \"2027-03-01\";\n"),
			 0);
	assert_int_equal(f->cfg.default_policy, POLICY_OPT_OUT);
	assert_int_equal(f->cfg.n_rules, 3);
	assert_int_equal(f->cfg.rules[0].kind, RULE_GROUP);
	assert_string_equal(f->cfg.rules[0].name, "wheel");
	assert_int_equal(f->cfg.rules[0].policy, POLICY_REQUIRED);
	assert_int_equal(f->cfg.rules[0].methods, 0);
	assert_int_equal(f->cfg.rules[0].line, 4);
	assert_int_equal(f->cfg.rules[1].kind, RULE_USER);
	assert_int_equal(f->cfg.rules[1].policy, POLICY_EXEMPT);
	assert_int_equal(f->cfg.rules[1].methods, METHOD_TOTP);
	assert_string_equal(f->cfg.rules[2].name, "Domain Users");
	/* The last second of 2027-03-01, UTC. */
	assert_int_equal(f->cfg.enroll_by, 1803945599);
	config_free(&f->cfg);

	/* Leap days: a real one is fine, a false one is not. */
	assert_int_equal(load_text(f, "enroll_by = \"2028-02-29\";\n"), 0);
	assert_int_equal(f->cfg.enroll_by, 1835481599);
	config_free(&f->cfg);
	expect_failure(f, "enroll_by = \"2027-02-29\";\n", 1, "enroll_by");
	expect_failure(f, "enroll_by = \"2027-3-1\";\n", 1, "enroll_by");
	expect_failure(f, "enroll_by = \"2027-03-01T00:00\";\n", 1, "enroll_by");
	expect_failure(f, "enroll_by = \"1969-12-31\";\n", 1, "enroll_by");
	expect_failure(f, "enroll_by = 20270301;\n", 1, "enroll_by");

	expect_failure(f, "default_policy = \"Required\";\n", 1, "default_policy");
	expect_failure(f, "default_policy = 1;\n", 1, "default_policy");
	expect_failure(f, "methods = [ ];\n", 1, "methods");
	expect_failure(f, "methods = [ \"fax\" ];\n", 1, "methods");
	assert_contains(f->err.msg, "available: totp, email, sms");
	/* "sms" is a method, which needs a gateway. */
	expect_failure(f, "methods = [ \"sms\" ];\n", 1, "methods");
	assert_contains(f->err.msg, "sms.url");
	expect_failure(f, "methods = [ \"totp\", \"totp\" ];\n", 1, "methods");
	expect_failure(f, "methods = [ 1 ];\n", 1, "methods");
	expect_failure(f, "methods = \"totp\";\n", 1, "methods");
	expect_failure(f, "rules = { group = \"wheel\"; };\n", 1, "rules");
	expect_failure(f, "rules = ( \"wheel\" );\n", 1, "rules.[1]");
	expect_failure(f,
		       "\nrules = (\n { group = \"a\"; policy = \"exempt\"; },\n"
		       " { group = \"b\"; policcy = \"exempt\"; }\n);\n",
		       4, "rules.[2].policcy");
	expect_failure(f, "rules = ( { group = \"a\"; } );\n", 1, "needs a policy");
	expect_failure(f, "rules = ( { policy = \"exempt\"; } );\n", 1, "needs a user or a group");
	expect_failure(f, "rules = ( { user = \"a\"; group = \"b\"; policy = \"exempt\"; } );\n", 1,
		       "not both");
	expect_failure(f, "rules = ( { user = \"a/b\"; policy = \"exempt\"; } );\n", 1,
		       "rules.[1].user");
	expect_failure(f, "rules = ( { group = \"\"; policy = \"exempt\"; } );\n", 1,
		       "rules.[1].group");
	expect_failure(f, "rules = ( { group = \"a\\nb\"; policy = \"exempt\"; } );\n", 1,
		       "control character");
	expect_failure(f, "rules = ( { group = \"a\"; policy = 3; } );\n", 1, "rules.[1].policy");
}

static void test_unknown_keys(void **state)
{
	struct fixture *f = *state;

	expect_failure(f, "issuer = \"x\";\nstatedir = \"/var/lib/x\";\n", 2, "statedir");
	assert_contains(f->err.msg, "unknown");
	expect_failure(f, "totp = {\n  digits = 6;\n  digitz = 8;\n};\n", 3, "totp.digitz");
	assert_contains(f->err.msg, "unknown");
	expect_failure(f, "\n\n\n\nlockout = {\n  attempt = 3;\n};\n", 6, "lockout.attempt");
	assert_contains(f->err.msg, "unknown");
	/* A nested group where none belongs. */
	expect_failure(f, "totp = {\n  extra = { a = 1; };\n};\n", 2, "totp.extra");
	/* A key valid in one group is unknown in another, and at the top. */
	expect_failure(f, "lockout = { digits = 6; };\n", 1, "lockout.digits");
	expect_failure(f, "digits = 6;\n", 1, "digits");
	expect_failure(f, "totp = { state_dir = \"/x/y\"; };\n", 1, "totp.state_dir");
}

/* The store group: files by default; postgresql needs its conninfo, and
 * files takes none of the database's keys. */
static void test_store_keys(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load_text(f, ""), 0);
	assert_int_equal(f->cfg.store.backend, STORE_BACKEND_FILES);
	assert_int_equal(f->cfg.store.timeout, 5);
	assert_null(f->cfg.store.conninfo);
	config_free(&f->cfg);
	assert_int_equal(load_text(f, "store = {\n  backend = \"postgresql\";\n"
				      "  conninfo = \"host=db1,db2 dbname=pam_mfa\";\n"
				      "  password_file = \"/etc/security/pam_mfa.pgpass\";\n"
				      "  timeout = 60;\n};\n"),
			 0);
	assert_int_equal(f->cfg.store.backend, STORE_BACKEND_POSTGRESQL);
	assert_string_equal(f->cfg.store.conninfo, "host=db1,db2 dbname=pam_mfa");
	assert_string_equal(f->cfg.store.password_file, "/etc/security/pam_mfa.pgpass");
	assert_int_equal(f->cfg.store.timeout, 60);
	config_free(&f->cfg);

	expect_failure(f, "\nstore = {\n  backend = \"postgresql\";\n};\n", 2, "store.conninfo");
	expect_failure(f, "store = {\n  backend = \"mysql\";\n};\n", 2, "store.backend");
	expect_failure(f, "store = {\n  backend = 1;\n};\n", 2, "store.backend");
	expect_failure(f, "store = {\n  timeout = 0;\n};\n", 2, "store.timeout");
	expect_failure(f, "store = {\n  timeout = 61;\n};\n", 2, "store.timeout");
	expect_failure(f, "store = {\n  timeout = \"5\";\n};\n", 2, "store.timeout");
	expect_failure(f, "store = {\n  host = \"db1\";\n};\n", 2, "store.host");
	expect_failure(f,
		       "store = { backend = \"postgresql\"; conninfo = \"a=b\";\n"
		       "  password_file = \"relative\"; };\n",
		       2, "store.password_file");
	expect_failure(f, "store = { conninfo = \"host=db1\"; };\n", 1, "store.conninfo");
	expect_failure(f, "store = \"postgresql\";\n", 1, "store");
}

/* ---- sms ---- */

static const char twilio[] =
	"methods = [ \"totp\", \"sms\" ];\n"
	"sms = {\n"
	"  url = \"https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json\";\n"
	"  method = \"POST\";\n"
	"  format = \"form\";\n"
	"  fields = { To = \"%{phone}\"; From = \"+15550100\"; Body = \"%{message}\"; };\n"
	"  username = \"AC123\";\n"
	"  password_file = \"/etc/security/pam_mfa.sms\";\n"
	"  ca_file = \"/etc/ssl/certs/ca-certificates.crt\";\n"
	"  success_status = [ 201 ];\n"
	"  response = \"json\";\n"
	"  success_contains = \"\\\"status\\\": \\\"queued\\\"\";\n"
	"  message = \"%{code} is the code of %{user} on %{host} (%{ttl_minutes} min) 100%%\";\n"
	"  code_digits = 8;\n"
	"  code_ttl = 600;\n"
	"  resend_after = 60;\n"
	"  enroll_messages = 3;\n"
	"  timeout = 20;\n"
	"};\n"
	"factors_per_method = 2;\n";

static void test_sms_defaults(void **state)
{
	struct fixture *f = *state;
	const struct sms_config *sc = &f->cfg.sms;

	assert_int_equal(load_text(f, ""), 0);
	assert_int_equal(f->cfg.factors_per_method, 3);
	assert_null(sc->url);
	assert_string_equal(sc->method, "POST");
	assert_int_equal(sc->format, SMS_FORMAT_FORM);
	assert_int_equal(sc->n_fields, 0);
	assert_null(sc->username);
	assert_null(sc->password_file);
	assert_null(sc->bearer_token_file);
	assert_null(sc->ca_file);
	assert_int_equal(sc->n_success_status, 3);
	assert_int_equal(sc->success_status[0], 200);
	assert_int_equal(sc->success_status[1], 201);
	assert_int_equal(sc->success_status[2], 202);
	assert_int_equal(sc->response, SMS_RESPONSE_JSON);
	assert_null(sc->success_contains);
	assert_string_equal(sc->message, "%{code} is your login code for %{host}. It expires in "
					 "%{ttl_minutes} minutes.");
	assert_int_equal(sc->code_digits, 6);
	assert_int_equal(sc->code_ttl, 300);
	assert_int_equal(sc->resend_after, 30);
	assert_int_equal(sc->enroll_messages, 5);
	assert_int_equal(sc->timeout, 10);
	config_free(&f->cfg);
	/* An sms group without a gateway is fine while no one uses SMS. */
	assert_int_equal(load_text(f, "sms = { code_ttl = 60; };\n"), 0);
	assert_null(sc->url);
	assert_int_equal(sc->code_ttl, 60);
}

static void test_sms_twilio(void **state)
{
	struct fixture *f = *state;
	const struct sms_config *sc = &f->cfg.sms;

	if (load_text(f, twilio) != 0)
		fail_msg("refused: %s", f->err.msg);
	assert_int_equal(f->cfg.methods, METHOD_TOTP | METHOD_SMS);
	assert_int_equal(f->cfg.factors_per_method, 2);
	assert_string_equal(sc->url,
			    "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json");
	assert_string_equal(sc->method, "POST");
	assert_int_equal(sc->format, SMS_FORMAT_FORM);
	assert_int_equal(sc->n_fields, 3);
	assert_string_equal(sc->fields[0].name, "To");
	assert_string_equal(sc->fields[0].value, "%{phone}");
	assert_string_equal(sc->fields[1].name, "From");
	assert_string_equal(sc->fields[1].value, "+15550100");
	assert_string_equal(sc->fields[2].name, "Body");
	assert_string_equal(sc->fields[2].value, "%{message}");
	assert_string_equal(sc->username, "AC123");
	assert_string_equal(sc->password_file, "/etc/security/pam_mfa.sms");
	assert_null(sc->bearer_token_file);
	assert_string_equal(sc->ca_file, "/etc/ssl/certs/ca-certificates.crt");
	assert_int_equal(sc->n_success_status, 1);
	assert_int_equal(sc->success_status[0], 201);
	assert_int_equal(sc->response, SMS_RESPONSE_JSON);
	assert_string_equal(sc->success_contains, "\"status\": \"queued\"");
	assert_string_equal(sc->message,
			    "%{code} is the code of %{user} on %{host} (%{ttl_minutes} min) 100%%");
	assert_int_equal(sc->code_digits, 8);
	assert_int_equal(sc->code_ttl, 600);
	assert_int_equal(sc->resend_after, 60);
	assert_int_equal(sc->enroll_messages, 3);
	assert_int_equal(sc->timeout, 20);
}

static void test_sms_json_bearer(void **state)
{
	struct fixture *f = *state;
	const struct sms_config *sc = &f->cfg.sms;

	if (load_text(f, "methods = [ \"sms\" ];\n"
			 "rules = ( { group = \"staff\"; policy = \"required\"; methods = [ "
			 "\"sms\" ]; } );\n"
			 "sms = {\n"
			 "  url = \"https://sms.example.com:8443/v1/messages?api=2\";\n"
			 "  method = \"PUT\";\n"
			 "  format = \"json\";\n"
			 "  fields = {\n"
			 "    to = \"%{phone}\";\n"
			 "    text = \"Code %{code}\";\n"
			 "    sender-id = \"IT\";\n"
			 "    note = \"\";\n"
			 "  };\n"
			 "  bearer_token_file = \"/etc/security/pam_mfa.token\";\n"
			 "  success_status = [ 200, 202, 204 ];\n"
			 "  response = \"any\";\n"
			 "};\n") != 0)
		fail_msg("refused: %s", f->err.msg);
	assert_int_equal(f->cfg.methods, METHOD_SMS);
	assert_int_equal(f->cfg.rules[0].methods, METHOD_SMS);
	assert_string_equal(sc->method, "PUT");
	assert_int_equal(sc->format, SMS_FORMAT_JSON);
	assert_int_equal(sc->n_fields, 4);
	assert_string_equal(sc->fields[1].name, "text");
	assert_string_equal(sc->fields[1].value, "Code %{code}");
	assert_string_equal(sc->fields[2].name, "sender-id");
	assert_string_equal(sc->fields[3].value, "");
	assert_null(sc->username);
	assert_string_equal(sc->bearer_token_file, "/etc/security/pam_mfa.token");
	assert_int_equal(sc->n_success_status, 3);
	assert_int_equal(sc->success_status[2], 204);
	assert_int_equal(sc->response, SMS_RESPONSE_ANY);
	config_free(&f->cfg);
	/* SMS_FIELDS_MAX fields, and SMS_STATUS_MAX statuses, are fine. */
	{
		char text[2048];
		int n = snprintf(text, sizeof(text),
				 "sms = { url = \"https://x.example\"; success_status = [ 200, 201, "
				 "202, 203, 204, 205, 206, 299 ];\n fields = { a = \"%%{phone}\"; "
				 "b = \"%%{code}\";");

		for (int i = 2; i < SMS_FIELDS_MAX; i++)
			n += snprintf(text + n, sizeof(text) - (size_t)n, " f%d = \"x\";", i);
		(void)snprintf(text + n, sizeof(text) - (size_t)n, " }; };\n");
		if (load_text(f, text) != 0)
			fail_msg("refused: %s", f->err.msg);
		assert_int_equal(f->cfg.sms.n_fields, SMS_FIELDS_MAX);
		assert_int_equal(f->cfg.sms.n_success_status, SMS_STATUS_MAX);
		config_free(&f->cfg);
		/* One more of either is not. */
		(void)snprintf(text + n, sizeof(text) - (size_t)n, " z = \"x\"; }; };\n");
		expect_failure(f, text, 2, "sms.fields");
	}
	expect_failure(f,
		       "sms = { url = \"https://x.example\"; fields = { a = \"%{phone} %{code}\"; "
		       "};\n success_status = [ 200, 201, 202, 203, 204, 205, 206, 207, 208 ]; "
		       "};\n",
		       2, "sms.success_status");
}

/* A group around a gateway that is fine but for what one test adds. */
static void expect_sms_failure(struct fixture *f, const char *inside, const char *key,
			       const char *why)
{
	char text[8192];

	(void)snprintf(text, sizeof(text),
		       "methods = [ \"sms\" ];\n"
		       "sms = {\n"
		       "  fields = { To = \"%%{phone}\"; Body = \"%%{message}\"; };\n"
		       "%s\n"
		       "};\n",
		       inside);
	expect_failure(f, text, 4, key);
	if (why != NULL)
		assert_contains(f->err.msg, why);
}

static void test_sms_values(void **state)
{
	static const struct {
		const char *inside, *key, *why;
	} cases[] = {
		{ "url = \"http://sms.example.com/send\";", "sms.url", "https://" },
		{ "url = \"HTTPS://sms.example.com/send\";", "sms.url", "https://" },
		{ "url = \"ftp://sms.example.com/send\";", "sms.url", "https://" },
		{ "url = \"https://\";", "sms.url", NULL },
		{ "url = \"https:///send\";", "sms.url", "no host" },
		{ "url = \"https://:443/send\";", "sms.url", "no host" },
		{ "url = \"https://?a=b\";", "sms.url", "no host" },
		{ "url = \"https://AC1:secret@api.example.com/x\";", "sms.url", "credentials" },
		{ "url = \"https://api.example.com/x?to=%{phone}\";", "sms.url", "%{" },
		{ "url = \"https://api.example.com/%{code}\";", "sms.url", "%{" },
		{ "url = \"https://api.example.com/a b\";", "sms.url", "space" },
		{ "url = \"https://api.example.com/a\\nb\";", "sms.url", "control" },
		{ "url = \"https://api.example.com/caf\xc3\xa9\";", "sms.url", "ASCII" },
		{ "url = 443;", "sms.url", "string" },
		{ "method = \"GET\";", "sms.method", "POST" },
		{ "method = \"post\";", "sms.method", "POST" },
		{ "method = \"PATCH\";", "sms.method", NULL },
		{ "method = \"\";", "sms.method", NULL },
		{ "format = \"xml\";", "sms.format", "form, json" },
		{ "format = \"JSON\";", "sms.format", NULL },
		{ "format = 1;", "sms.format", NULL },
		{ "username = \"AC1:x\";", "sms.username", ":" },
		{ "username = \"\";", "sms.username", NULL },
		{ "username = \"a\\tb\";", "sms.username", "control" },
		{ "password_file = \"pam_mfa.sms\";", "sms.password_file", "absolute" },
		{ "bearer_token_file = \"token\";", "sms.bearer_token_file", "absolute" },
		{ "ca_file = \"ca.pem\";", "sms.ca_file", "absolute" },
		{ "success_status = [ ];", "sms.success_status", "1 to 8" },
		{ "success_status = [ 99 ];", "sms.success_status", "out of range" },
		{ "success_status = [ 600 ];", "sms.success_status", "out of range" },
		{ "success_status = [ 200, 200 ];", "sms.success_status", "twice" },
		{ "success_status = [ \"200\" ];", "sms.success_status", "integers" },
		{ "success_status = [ 200.0 ];", "sms.success_status", "integers" },
		{ "success_status = ( 200, \"x\" );", "sms.success_status", "integers" },
		{ "success_status = 200;", "sms.success_status", "list" },
		{ "success_status = [ 4294967496L ];", "sms.success_status", "out of range" },
		{ "response = \"xml\";", "sms.response", "json, any" },
		{ "response = true;", "sms.response", NULL },
		{ "success_contains = \"\";", "sms.success_contains", NULL },
		{ "success_contains = \"a\\nb\";", "sms.success_contains", "control" },
		{ "message = \"Your login code\";", "sms.message", "%{code}" },
		{ "message = \"%{code} %{message}\";", "sms.message", "%{message}" },
		{ "message = \"%{code} %{nope}\";", "sms.message", "unknown" },
		{ "message = \"%{code} 50% off\";", "sms.message", "%%" },
		{ "message = \"%{code\";", "sms.message", "closed" },
		{ "message = \"%{code}\\t\";", "sms.message", "control" },
		{ "message = \"%{code} \\xff\";", "sms.message", "UTF-8" },
		{ "message = \"\";", "sms.message", NULL },
		{ "message = 5;", "sms.message", NULL },
		{ "urls = \"https://x.example\";", "sms.urls", "unknown" },
		{ "address = \"%u@example.org\";", "sms.address", "unknown" },
	};
	struct fixture *f = *state;
	char text[2048], longest[1100];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char inside[512];

		/* A valid url first, unless the case sets its own. */
		(void)snprintf(inside, sizeof(inside), "%s %s",
			       strncmp(cases[i].inside, "url", 3) == 0 ?
				       "" :
				       "url = \"https://sms.example.com/send\";",
			       cases[i].inside);
		expect_sms_failure(f, inside, cases[i].key, cases[i].why);
	}
	/* 320 characters of message are accepted, 321 are not. */
	memset(longest, 'm', 320);
	memcpy(longest, "%{code}", 7);
	longest[320] = '\0';
	(void)snprintf(text, sizeof(text),
		       "sms = { url = \"https://x.example\"; fields = { a = \"%%{phone}\"; b = "
		       "\"%%{message}\"; };\n message = \"%s\"; };\n",
		       longest);
	if (load_text(f, text) != 0)
		fail_msg("refused: %s", f->err.msg);
	assert_int_equal(strlen(f->cfg.sms.message), 320);
	config_free(&f->cfg);
	longest[320] = 'm';
	longest[321] = '\0';
	(void)snprintf(text, sizeof(text),
		       "sms = { url = \"https://x.example\"; fields = { a = \"%%{phone}\"; b = "
		       "\"%%{message}\"; };\n message = \"%s\"; };\n",
		       longest);
	expect_failure(f, text, 2, "sms.message");
}

/* The strings of sms: as long as their limits allow, and no longer. */
static void test_sms_string_lengths(void **state)
{
#define SMS_GATEWAY "url = \"https://x.example\"; fields = { a = \"%{phone} %{code}\"; };"
	static const struct {
		const char *key;
		size_t min, max;
		char fill;	    /* what makes up the length */
		const char *prefix; /* and what it starts with */
		const char *others; /* the keys it needs besides */
	} keys[] = {
		{ "url", 9, 1024, 'a', "https://", "fields = { a = \"%{phone} %{code}\"; };" },
		{ "username", 1, 256, 'u', "", SMS_GATEWAY " password_file = \"/p\";" },
		{ "password_file", 2, 512, 'p', "/", SMS_GATEWAY " username = \"u\";" },
		{ "bearer_token_file", 2, 512, 't', "/", SMS_GATEWAY },
		{ "ca_file", 2, 512, 'c', "/", SMS_GATEWAY },
		{ "success_contains", 1, 256, 's', "", SMS_GATEWAY },
		{ "message", 7, 320, 'm', "%{code}", SMS_GATEWAY },
	};
#undef SMS_GATEWAY
	struct fixture *f = *state;
	char value[1100], text[2048];

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		for (size_t len = keys[i].min; len <= keys[i].max + 1;
		     len += len == keys[i].min ? keys[i].max - keys[i].min : 1) {
			size_t plen = strlen(keys[i].prefix);

			memset(value, keys[i].fill, len);
			memcpy(value, keys[i].prefix, plen);
			value[len] = '\0';
			(void)snprintf(text, sizeof(text), "sms = {\n  %s = \"%s\";\n  %s\n};\n",
				       keys[i].key, value, keys[i].others);
			if (len <= keys[i].max) {
				if (load_text(f, text) != 0)
					fail_msg("sms.%s of %zu refused: %s", keys[i].key, len,
						 f->err.msg);
				config_free(&f->cfg);
			} else {
				char full[64];

				(void)snprintf(full, sizeof(full), "sms.%s", keys[i].key);
				expect_failure(f, text, 2, full);
			}
		}
	}
	/* Shorter than the least is refused too, where there is one. */
	expect_failure(f, "sms = {\n  url = \"https://\";\n};\n", 2, "sms.url");
	expect_failure(f, "sms = {\n  password_file = \"/\";\n};\n", 2, "sms.password_file");
}

/* The fields: a group of name = "template" pairs, which must say where
 * the message goes and what it says. */
static void test_sms_fields(void **state)
{
	/* line: the field's own, 3, or the group's, 1, for the cross-checks. */
	static const struct {
		const char *fields;
		unsigned line;
		const char *key, *why;
	} cases[] = {
		{ "fields = { };", 3, "sms.fields", "1 to 16" },
		{ "fields = 5;", 3, "sms.fields", "group" },
		{ "fields = [ \"%{phone}\" ];", 3, "sms.fields", "group" },
		{ "fields = { To = 5; Body = \"%{message}\"; };", 3, "sms.fields.To", "string" },
		{ "fields = { To = \"%{phone}\"; Body = [ \"%{message}\" ]; };", 3,
		  "sms.fields.Body", "string" },
		{ "fields = { To = \"%{phone}\"; Body = { a = 1; }; };", 3, "sms.fields.Body",
		  "string" },
		{ "fields = { To = \"%{phone}\"; Body = \"%{mesage}\"; };", 3, "sms.fields.Body",
		  "unknown" },
		{ "fields = { To = \"%{phone}\"; Body = \"100% %{code}\"; };", 3, "sms.fields.Body",
		  "%%" },
		{ "fields = { To = \"%{phone}\"; Body = \"%{code}\\r\"; };", 3, "sms.fields.Body",
		  "control" },
		{ "fields = { To* = \"%{phone}\"; Body = \"%{code}\"; };", 3, "sms.fields.To*",
		  "name" },
		{ "fields = { Body = \"%{message}\"; };", 1, "sms.fields", "%{phone}" },
		{ "fields = { To = \"%%{phone}\"; Body = \"%{message}\"; };", 1, "sms.fields",
		  "%{phone}" },
		{ "fields = { To = \"%{phone}\"; From = \"+15550100\"; };", 1, "sms.fields",
		  "%{message} or %{code}" },
		{ "fields = { To = \"%{phone}\"; Body = \"%{host} %{user}\"; };", 1, "sms.fields",
		  "%{message} or %{code}" },
	};
	struct fixture *f = *state;
	char text[4096], value[1100];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		(void)snprintf(text, sizeof(text),
			       "sms = {\n  url = \"https://sms.example.com/send\";\n  %s\n};\n",
			       cases[i].fields);
		expect_failure(f, text, cases[i].line, cases[i].key);
		assert_contains(f->err.msg, cases[i].why);
	}
	/* A name of 64 characters is fine, 65 are not; values of 1024 are,
	 * 1025 not. */
	memset(value, 'n', 65);
	value[64] = '\0';
	(void)snprintf(text, sizeof(text),
		       "sms = { url = \"https://x.example\"; fields = { %s = \"%%{phone}\"; b = "
		       "\"%%{code}\"; }; };\n",
		       value);
	if (load_text(f, text) != 0)
		fail_msg("refused: %s", f->err.msg);
	config_free(&f->cfg);
	value[64] = 'n';
	value[65] = '\0';
	(void)snprintf(text, sizeof(text),
		       "sms = { url = \"https://x.example\"; fields = { %s = \"%%{phone}\"; b = "
		       "\"%%{code}\"; }; };\n",
		       value);
	expect_failure(f, text, 1, "sms.fields.nnnn");
	memset(value, 'v', 1024);
	memcpy(value, "%{code}", 7);
	value[1024] = '\0';
	(void)snprintf(text, sizeof(text),
		       "sms = { url = \"https://x.example\"; fields = { a = \"%%{phone}\"; b = "
		       "\"%s\"; }; };\n",
		       value);
	if (load_text(f, text) != 0)
		fail_msg("refused: %s", f->err.msg);
	config_free(&f->cfg);
	value[1024] = 'v';
	value[1025] = '\0';
	(void)snprintf(text, sizeof(text),
		       "sms = { url = \"https://x.example\"; fields = { a = \"%%{phone}\"; b = "
		       "\"%s\"; }; };\n",
		       value);
	expect_failure(f, text, 1, "sms.fields.b");
}

/* The keys that go together, and the gateway that "sms" needs. */
static void test_sms_together(void **state)
{
	struct fixture *f = *state;
	static const char fields[] = "fields = { To = \"%{phone}\"; Body = \"%{message}\"; };";
	char text[2048];

	/* methods has "sms": url and fields are required. */
	expect_failure(f, "\n\nmethods = [ \"totp\", \"sms\" ];\n", 3, "methods");
	assert_contains(f->err.msg, "sms.url and sms.fields are required");
	(void)snprintf(text, sizeof(text), "methods = [ \"sms\" ];\nsms = { %s };\n", fields);
	expect_failure(f, text, 1, "methods");
	expect_failure(f, "methods = [ \"sms\" ];\nsms = { url = \"https://x.example\"; };\n", 1,
		       "methods");
	/* A rule may not allow "sms" when the top-level methods do not. */
	(void)snprintf(text, sizeof(text),
		       "sms = { url = \"https://x.example\"; %s };\n"
		       "rules = (\n { group = \"a\"; policy = \"required\"; methods = [ \"sms\" ]; "
		       "}\n);\n",
		       fields);
	expect_failure(f, text, 3, "rules.[1].methods");
	/* url and fields go together, whatever the methods. */
	expect_failure(f, "\nsms = {\n url = \"https://x.example\";\n};\n", 2, "sms.fields");
	(void)snprintf(text, sizeof(text), "\nsms = {\n %s\n};\n", fields);
	expect_failure(f, text, 2, "sms.url");
	/* username and password_file go together; a token is the other way. */
	(void)snprintf(text, sizeof(text),
		       "sms = { url = \"https://x.example\"; %s username = \"AC1\"; };\n", fields);
	expect_failure(f, text, 1, "sms.username and sms.password_file");
	(void)snprintf(text, sizeof(text),
		       "sms = { url = \"https://x.example\"; %s password_file = \"/etc/p\"; };\n",
		       fields);
	expect_failure(f, text, 1, "sms.username and sms.password_file");
	(void)snprintf(text, sizeof(text),
		       "sms = { url = \"https://x.example\"; %s username = \"AC1\";\n"
		       "  password_file = \"/etc/p\"; bearer_token_file = \"/etc/t\"; };\n",
		       fields);
	expect_failure(f, text, 1, "sms.bearer_token_file");
	/* The same with everything in place loads. */
	(void)snprintf(text, sizeof(text),
		       "methods = [ \"sms\" ];\nsms = { url = \"https://x.example\"; %s "
		       "username = \"AC1\";\n  password_file = \"/etc/p\"; };\n",
		       fields);
	if (load_text(f, text) != 0)
		fail_msg("refused: %s", f->err.msg);
	config_free(&f->cfg);
	(void)snprintf(text, sizeof(text),
		       "methods = [ \"sms\" ];\nsms = { url = \"https://x.example\"; %s "
		       "bearer_token_file = \"/etc/t\"; };\n",
		       fields);
	if (load_text(f, text) != 0)
		fail_msg("refused: %s", f->err.msg);
	config_free(&f->cfg);
	/* factors_per_method is a number of 1 to 8. */
	expect_failure(f, "factors_per_method = \"3\";\n", 1, "factors_per_method");
	expect_failure(f, "factors_per_method = 0;\n", 1, "factors_per_method");
	expect_failure(f, "sms = 5;\n", 1, "sms");
	expect_failure(f, "sms = { url = \"https://x.example\"; };\nsms = { };\n", 2, NULL);
}

/* Recovery codes and the notices: defaults, and a security team's address
 * only where mail is set up. */
static void test_recovery_notify(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load_text(f, ""), 0);
	assert_int_equal(f->cfg.recovery.codes, 10);
	assert_null(f->cfg.notify.lockout_to);
	assert_int_equal(f->cfg.notify.lockout_interval, 3600);
	config_free(&f->cfg);
	assert_int_equal(load_text(f, "email = { smtp_url = \"smtp://127.0.0.1:2525\";\n"
				      "  from = \"mfa@example.org\"; starttls = \"off\"; };\n"
				      "notify = { lockout_to = \"security@example.org\";\n"
				      "  lockout_interval = 600; };\nrecovery = { codes = 0; };\n"),
			 0);
	assert_string_equal(f->cfg.notify.lockout_to, "security@example.org");
	assert_int_equal(f->cfg.notify.lockout_interval, 600);
	assert_int_equal(f->cfg.recovery.codes, 0);
	config_free(&f->cfg);
	expect_failure(f, "notify = { lockout_to = \"security@example.org\"; };\n", 0,
		       "lockout_to needs mail");
	expect_failure(f, "notify = { lockout_to = \"not an address\"; };\n", 1,
		       "notify.lockout_to");
	expect_failure(f, "notify = { lockout_to = \"a@b.example\\r\\nBcc: x@y.example\"; };\n", 1,
		       "notify.lockout_to");
	expect_failure(f, "recovery = { codes = 21; };\n", 1, "recovery.codes");
	expect_failure(f, "recovery = { count = 5; };\n", 1, "recovery.count");
}

static void test_syntax_errors(void **state)
{
	struct fixture *f = *state;

	expect_failure(f, "issuer = \"x\";\n\nwindow 1;\n", 3, NULL);
	assert_contains(f->err.msg, "syntax");
	expect_failure(f, "totp = {\n  digits = 8;\n", 0, NULL);
	assert_contains(f->err.msg, "syntax");
	expect_failure(f, "issuer = \"unterminated;\n", 0, NULL);
	/* libconfig refuses a setting given twice; so must we. */
	expect_failure(f, "fail_delay_ms = 1;\nfail_delay_ms = 2;\n", 2, NULL);
	expect_failure(f, "totp = { digits = 6; };\ntotp = { digits = 8; };\n", 2, NULL);
}

/* Comments are dropped before libconfig parses (config.c): the same
 * result as libconfig's own handling, line numbers kept. */
static void test_comments(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load_text(f,
				   "# a\n// b\n/* c\n d */ issuer = \"A # B // C /* D */ \\\" E\"; # e\n"
				   "totp = { digits /* inline */ = 8; }; // f\n"),
			 0);
	assert_string_equal(f->cfg.issuer, "A # B // C /* D */ \" E");
	assert_int_equal(f->cfg.totp.digits, 8);
	config_free(&f->cfg);
	/* Errors after comments, block comments included, keep their lines. */
	expect_failure(f, "# one\n/* two\nthree */\nwindow 1;\n", 4, NULL);
	expect_failure(f, "/* 1\n2\n3 */ fail_delay_ms = \"x\";\n", 3, "fail_delay_ms");
	/* A block comment with no end would hide every later setting. */
	expect_failure(f, "issuer = \"x\";\n/* no end\nfail_delay_ms = 1;\n", 2, NULL);
	assert_contains(f->err.msg, "never closed");
	/* A comment cannot hide an @include from the check. */
	expect_failure(f, "/* x */ @include \"/etc/passwd\"\n", 1, "@include");
}

static void test_include_refused(void **state)
{
	struct fixture *f = *state;
	char *other = path_join(f->dir, "other.conf");

	write_text(other, "issuer = \"included\";\n", 0600);
	{
		char text[4200];

		(void)snprintf(text, sizeof(text), "# x\n@include \"%s\"\n", other);
		expect_failure(f, text, 2, "@include");
		(void)snprintf(text, sizeof(text), "# x\n\n  \t@include \"%s\"\n", other);
		expect_failure(f, text, 3, "@include");
	}
	free(other);
}

static void test_nul_byte(void **state)
{
	struct fixture *f = *state;
	static const char text[] = "issuer = \"a\";\n\0fail_delay_ms = 1;\n";

	write_file(f->path, text, sizeof(text) - 1, 0600);
	assert_true(config_load(f->path, &f->cfg, &f->err) < 0);
	assert_cfg_empty(f);
	assert_contains(f->err.msg, f->path);
	assert_contains(f->err.msg, "NUL");
	/* Inside a string, where it would silently truncate the value. */
	{
		static const char text2[] = "issuer = \"a\0b\";\n";

		write_file(f->path, text2, sizeof(text2) - 1, 0600);
		assert_true(config_load(f->path, &f->cfg, &f->err) < 0);
		assert_cfg_empty(f);
	}
}

static void test_state_dir_values(void **state)
{
	static const char *const bad[] = {
		"var/lib/pam_mfa",
		"",
		"/",
		"/var/lib/../etc",
		"/var/..",
		"/var/./lib",
		"/var/.",
		"../x",
		"/var/lib/pam\\tmfa",
		"/var/lib/pam\\nmfa",
		"/var/lib/pam\\x7fmfa",
		"//",
		"/var//lib",
		"/var/lib/",
	};
	struct fixture *f = *state;
	char text[512], longest[202];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)snprintf(text, sizeof(text), "\nstate_dir = \"%s\";\n", bad[i]);
		expect_failure(f, text, 2, "state_dir");
	}
	/* Names that only look like "." or ".." components are fine. */
	assert_int_equal(load_text(f, "state_dir = \"/var/lib/..mfa/.state\";\n"), 0);
	assert_string_equal(f->cfg.state_dir, "/var/lib/..mfa/.state");
	config_free(&f->cfg);
	/* 200 characters are accepted, 201 are not. */
	longest[0] = '/';
	memset(longest + 1, 'd', 199);
	longest[200] = '\0';
	(void)snprintf(text, sizeof(text), "state_dir = \"%s\";\n", longest);
	assert_int_equal(load_text(f, text), 0);
	assert_string_equal(f->cfg.state_dir, longest);
	config_free(&f->cfg);
	longest[200] = 'd';
	longest[201] = '\0';
	(void)snprintf(text, sizeof(text), "state_dir = \"%s\";\n", longest);
	expect_failure(f, text, 1, "state_dir");
}

static void test_issuer_values(void **state)
{
	struct fixture *f = *state;
	char text[512], name[66];

	expect_failure(f, "\n\nissuer = \"\";\n", 3, "issuer");
	expect_failure(f, "issuer = \"Example:Corp\";\n", 1, "issuer");
	expect_failure(f, "issuer = \"Example\\tCorp\";\n", 1, "issuer");
	expect_failure(f, "issuer = \"Example\\x7fCorp\";\n", 1, "issuer");
	memset(name, 'i', 64);
	name[64] = '\0';
	(void)snprintf(text, sizeof(text), "issuer = \"%s\";\n", name);
	assert_int_equal(load_text(f, text), 0);
	assert_string_equal(f->cfg.issuer, name);
	config_free(&f->cfg);
	name[64] = 'i';
	name[65] = '\0';
	(void)snprintf(text, sizeof(text), "issuer = \"%s\";\n", name);
	expect_failure(f, text, 1, "issuer");
	/* Characters the URI escapes are fine in the configuration. */
	assert_int_equal(load_text(f, "issuer = \"ACME & Co. @ HQ\";\n"), 0);
	assert_string_equal(f->cfg.issuer, "ACME & Co. @ HQ");
}

/* A later error must not leave the earlier, valid values behind. */
static void test_error_after_valid_values(void **state)
{
	struct fixture *f = *state;

	expect_failure(f, "state_dir = \"/srv/mfa\";\nissuer = \"Corp\";\nbogus = 1;\n", 3,
		       "bogus");
}

/* ---- the file itself ---- */

static void test_file_modes(void **state)
{
	struct fixture *f = *state;

	write_text(f->path, full_config, 0644);
	assert_int_equal(config_load(f->path, &f->cfg, &f->err), 0);
	config_free(&f->cfg);
	write_text(f->path, full_config, 0400);
	assert_int_equal(config_load(f->path, &f->cfg, &f->err), 0);
	config_free(&f->cfg);
	for (mode_t m = 0; m < 2; m++) {
		mode_t mode = m == 0 ? 0664 : 0606;

		write_text(f->path, full_config, mode);
		assert_int_equal(config_load(f->path, &f->cfg, &f->err), -EPERM);
		assert_cfg_empty(f);
		assert_contains(f->err.msg, f->path);
	}
}

static void test_file_not_root_owned(void **state)
{
	struct fixture *f = *state;
	int fd;

	write_text(f->path, full_config, 0600);
	fd = open(f->path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fchown(fd, 65534, 0), 0);
	close(fd);
	assert_int_equal(config_load(f->path, &f->cfg, &f->err), -EPERM);
	assert_cfg_empty(f);
	assert_contains(f->err.msg, f->path);
	assert_contains(f->err.msg, "root");
	/* Group ownership does not matter; the group cannot write. */
	assert_int_equal(chown(f->path, 0, 65534), 0);
	assert_int_equal(config_load(f->path, &f->cfg, &f->err), 0);
}

static void test_file_symlink(void **state)
{
	struct fixture *f = *state;
	char *target = path_join(f->dir, "real.conf");

	write_text(target, full_config, 0600);
	assert_int_equal(symlink(target, f->path), 0);
	assert_int_equal(config_load(f->path, &f->cfg, &f->err), -ELOOP);
	assert_cfg_empty(f);
	assert_contains(f->err.msg, f->path);
	assert_contains(f->err.msg, "symbolic link");
	/* The target itself loads. */
	assert_int_equal(config_load(target, &f->cfg, &f->err), 0);
	free(target);
}

static void test_file_hard_links(void **state)
{
	struct fixture *f = *state;
	char *other = path_join(f->dir, "second-link");

	write_text(f->path, full_config, 0600);
	assert_int_equal(link(f->path, other), 0);
	assert_int_equal(config_load(f->path, &f->cfg, &f->err), -EPERM);
	assert_cfg_empty(f);
	assert_contains(f->err.msg, f->path);
	assert_contains(f->err.msg, "link");
	assert_int_equal(unlink(other), 0);
	assert_int_equal(config_load(f->path, &f->cfg, &f->err), 0);
	free(other);
}

static void test_parent_dir_writable(void **state)
{
	struct fixture *f = *state;
	char *sub = path_join(f->dir, "etc");
	char *path = path_join(sub, "pam_mfa.conf");

	assert_int_equal(mkdir(sub, 0755), 0);
	write_text(path, full_config, 0600);
	assert_int_equal(chmod(sub, 0775), 0);
	assert_int_equal(config_load(path, &f->cfg, &f->err), -EPERM);
	assert_cfg_empty(f);
	assert_contains(f->err.msg, sub);
	/* Even sticky: only a root-owned sticky directory above the last
	 * component is trusted, never the file's own directory. */
	assert_int_equal(chmod(sub, 01777), 0);
	assert_true(config_load(path, &f->cfg, &f->err) < 0);
	assert_cfg_empty(f);
	assert_int_equal(chmod(sub, 0757), 0);
	assert_true(config_load(path, &f->cfg, &f->err) < 0);
	assert_cfg_empty(f);
	/* Not root-owned. */
	assert_int_equal(chmod(sub, 0755), 0);
	assert_int_equal(chown(sub, 65534, 0), 0);
	assert_true(config_load(path, &f->cfg, &f->err) < 0);
	assert_cfg_empty(f);
	assert_int_equal(chown(sub, 0, 0), 0);
	assert_int_equal(config_load(path, &f->cfg, &f->err), 0);
	free(path);
	free(sub);
}

static void test_missing_and_bad_paths(void **state)
{
	struct fixture *f = *state;
	char *sub;

	assert_int_equal(config_load(f->path, &f->cfg, &f->err), -ENOENT);
	assert_cfg_empty(f);
	assert_contains(f->err.msg, f->path);
	assert_true(config_load("pam_mfa.conf", &f->cfg, &f->err) < 0);
	assert_cfg_empty(f);
	/* A directory is not a configuration file. */
	assert_int_equal(mkdir(f->path, 0700), 0);
	assert_true(config_load(f->path, &f->cfg, &f->err) < 0);
	assert_cfg_empty(f);
	assert_int_equal(rmdir(f->path), 0);
	/* Nor is a FIFO (and opening one must not hang). */
	assert_int_equal(mkfifo(f->path, 0600), 0);
	assert_true(config_load(f->path, &f->cfg, &f->err) < 0);
	assert_cfg_empty(f);
	assert_int_equal(unlink(f->path), 0);
	/* A ".." component, even one that leads to a good file. */
	write_text(f->path, full_config, 0600);
	sub = path_join(f->dir, "d");
	assert_int_equal(mkdir(sub, 0700), 0);
	free(sub);
	sub = path_join(f->dir, "d/../pam_mfa.conf");
	assert_true(config_load(sub, &f->cfg, &f->err) < 0);
	assert_cfg_empty(f);
	free(sub);
	assert_int_equal(config_load(f->path, &f->cfg, &f->err), 0);
}

static void test_size_limit(void **state)
{
	struct fixture *f = *state;
	size_t size = CONFIG_MAX_SIZE;
	char *text = malloc(size + 1);

	assert_non_null(text);
	/* Exactly CONFIG_MAX_SIZE bytes of comment lines are read. */
	memset(text, ' ', size);
	for (size_t i = 0; i < size; i += 64) {
		text[i] = '#';
		text[(i + 63 < size ? i + 63 : size - 1)] = '\n';
	}
	write_file(f->path, text, size, 0600);
	if (config_load(f->path, &f->cfg, &f->err) != 0)
		fail_msg("a file of exactly CONFIG_MAX_SIZE refused: %s", f->err.msg);
	config_free(&f->cfg);
	/* One byte more is not. */
	text[size] = '\n';
	write_file(f->path, text, size + 1, 0600);
	assert_int_equal(config_load(f->path, &f->cfg, &f->err), -EFBIG);
	assert_cfg_empty(f);
	assert_contains(f->err.msg, f->path);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_full_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_groups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_algorithms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_integer_ranges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syntax_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_comments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_include_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nul_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_dir_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_issuer_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_after_valid_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_not_root_owned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_hard_links, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parent_dir_writable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_and_bad_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sms_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sms_twilio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sms_json_bearer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sms_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sms_string_lengths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sms_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sms_together, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovery_notify, setup, teardown),
	};
	int r = unit_preflight();

	if (r != 0)
		return r;
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
