/* Unit tests for sms.c without a gateway: the E.164 numbers it accepts
 * (hostile ones refused), masking, the templates and their expansion, the
 * request bodies byte for byte in both formats, and the JSON check of a
 * gateway's answer.  tests/unit/test_sms_gateway.py sends for real. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sms.h"

static void test_numbers(void **state)
{
	static const char *const good[] = {
		"+15555550100", "+12345678", "+123456789012345", "+447700900123", "+33612345678",
	};
	static const char *const bad[] = {
		"",
		"+",
		"+1 555 555 0100",
		"+1 5555550100",
		"+1555555010a",
		"+1555555O100",
		"15555550100",
		"+0123456789",
		"+1234567",
		"+1234567890123456",
		"+1234567890123456789012345678901234567890",
		"+1555\r\n5550100",
		"+15555550100\r\n",
		"+15555550100\n",
		"+15555550100 ",
		" +15555550100",
		"++15555550100",
		"+1-555-555-0100",
		"+1(555)5550100",
		"+1.555.555.0100",
		"tel:+15555550100",
		"00445555550100",
		"+\xef\xbc\x91\xef\xbc\x95\xef\xbc\x95\xef\xbc\x95\xef\xbc\x95\xef\xbc\x95\xef\xbc"
		"\x95\xef\xbc\x95",
		"+15555550100;ext=1",
		"+15555550100,bob@example.org",
		"+1555555%0A0100",
		"-15555550100",
		"+-5555550100",
		"+\t5555550100",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!sms_number_valid(good[i]))
			fail_msg("refused %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sms_number_valid(bad[i]))
			fail_msg("accepted \"%s\"", bad[i]);
	assert_false(sms_number_valid(NULL));
	/* Forty digits, the first not 0. */
	{
		char forty[42] = "+";

		memset(forty + 1, '7', 40);
		forty[41] = '\0';
		assert_false(sms_number_valid(forty));
		forty[16] = '\0';
		assert_true(sms_number_valid(forty));
	}
}

static void test_mask(void **state)
{
	char out[32];

	(void)state;
	sms_mask("+15555550100", out, sizeof(out));
	assert_string_equal(out, "+1******0100");
	sms_mask("+447700900123", out, sizeof(out));
	assert_string_equal(out, "+4*******0123");
	sms_mask("+123456789012345", out, sizeof(out));
	assert_string_equal(out, "+1**********2345");
	/* A short number shows less of itself. */
	sms_mask("+12345678", out, sizeof(out));
	assert_string_equal(out, "+1*****78");
	/* Nothing of a number that is not one. */
	sms_mask("+1 555 555 0100", out, sizeof(out));
	assert_string_equal(out, "your number");
	sms_mask("", out, sizeof(out));
	assert_string_equal(out, "your number");
	sms_mask(NULL, out, sizeof(out));
	assert_string_equal(out, "your number");
	/* Cut short, still terminated. */
	sms_mask("+15555550100", out, 5);
	assert_string_equal(out, "+1**");
}

static void test_template_check(void **state)
{
	static const struct {
		const char *tmpl;
		unsigned used;
	} good[] = {
		{ "", 0 },
		{ "plain text", 0 },
		{ "%{phone}", SMS_VAR_PHONE },
		{ "%{message}", SMS_VAR_MESSAGE },
		{ "%{code} for %{host} (%{ttl_minutes} min) %{user} %{phone}",
		  SMS_VAR_CODE | SMS_VAR_HOST | SMS_VAR_TTL | SMS_VAR_USER | SMS_VAR_PHONE },
		{ "100%% sure", 0 },
		/* "%%{phone}" is the text "%{phone}", not the number. */
		{ "%%{phone}", 0 },
		{ "%%%{code}", SMS_VAR_CODE },
		{ "Code: %{code}\n\n@example.org #%{code}", SMS_VAR_CODE },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91 %{code}", SMS_VAR_CODE },
		{ "{code} }{ %{code}", SMS_VAR_CODE },
	};
	static const char *const bad[] = {
		"%",
		"50% off",
		"%u",
		"%{",
		"%{phone",
		"%{phone %{code}",
		"%{}",
		"%{nope}",
		"%{PHONE}",
		"%{ phone}",
		"%{phone }",
		"%{code}%",
		"tab\there",
		"cr\rhere",
		"del\x7fhere",
		"esc\x1b[31m",
		"\xff",
		"\xc0\xaf",
		"\xe0\x80\xaf",
		"\xed\xa0\x80",
		"\xf4\x90\x80\x80",
		"\xc3",
		"abc\xe2\x82",
	};
	unsigned used;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const char *why;

		used = 0xff;
		why = sms_template_check(good[i].tmpl, SMS_VARS_FIELD, &used);
		if (why != NULL)
			fail_msg("refused \"%s\": %s", good[i].tmpl, why);
		assert_int_equal(used, good[i].used);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sms_template_check(bad[i], SMS_VARS_FIELD, &used) == NULL)
			fail_msg("accepted \"%s\"", bad[i]);
	/* The message cannot hold itself; a field can. */
	assert_non_null(sms_template_check("%{message}", SMS_VARS_MESSAGE, &used));
	assert_null(sms_template_check("%{code} %{phone}", SMS_VARS_MESSAGE, &used));
	assert_non_null(sms_template_check("%{code}", SMS_VAR_PHONE, &used));
	assert_null(sms_template_check("%{code}", SMS_VARS_MESSAGE, NULL));
}

static void test_expand(void **state)
{
	const struct sms_message msg = { "123456", "web1.example.org", "alice", 5 };
	char out[256], small[8];

	(void)state;
	assert_int_equal(sms_expand("%{code} is your code for %{host} (%{user}), %{ttl_minutes} "
				    "min, to %{phone}; 100%%",
				    "+15555550100", NULL, &msg, out, sizeof(out)),
			 0);
	assert_string_equal(out, "123456 is your code for web1.example.org (alice), 5 min, to "
				 "+15555550100; 100%");
	assert_int_equal(sms_expand("[%{message}]", "+15555550100", "the text", &msg, out,
				    sizeof(out)),
			 0);
	assert_string_equal(out, "[the text]");
	assert_int_equal(sms_expand("%%{code}", "+15555550100", NULL, &msg, out, sizeof(out)), 0);
	assert_string_equal(out, "%{code}");
	/* The host and user names are not ours: a byte that is not printable
	 * ASCII does not get through. */
	{
		const struct sms_message odd = { "1", "evil\r\nhost\x7f", NULL, 0 };

		assert_int_equal(sms_expand("%{host}|%{user}|%{ttl_minutes}", "+15555550100", NULL,
					    &odd, out, sizeof(out)),
				 0);
		assert_string_equal(out, "evil??host?||0");
	}
	/* The message itself has no %{message}. */
	assert_int_equal(sms_expand("%{message}", "+15555550100", NULL, &msg, out, sizeof(out)),
			 -EINVAL);
	assert_int_equal(sms_expand("%{nope}", "+15555550100", NULL, &msg, out, sizeof(out)),
			 -EINVAL);
	assert_int_equal(sms_expand("50% off", "+15555550100", NULL, &msg, out, sizeof(out)),
			 -EINVAL);
	/* Exactly filling the buffer is fine, one more is not, and what did
	 * not fit is wiped rather than left half written. */
	assert_int_equal(sms_expand("ab%{code}", "+1", NULL, &msg, small, sizeof(small)), -ENOSPC);
	for (size_t i = 0; i < sizeof(small); i++)
		assert_int_equal(small[i], 0);
	assert_int_equal(sms_expand("a%{code}", "+1", NULL, &msg, small, sizeof(small)), 0);
	assert_string_equal(small, "a123456");
	assert_int_equal(sms_expand("", "+1", NULL, &msg, small, 1), 0);
	assert_string_equal(small, "");
	assert_int_equal(sms_expand("x", "+1", NULL, &msg, small, 1), -ENOSPC);
}

static void test_json_valid(void **state)
{
	static const char *const good[] = {
		"",
		" \t\r\n",
		"{}",
		" { } \n",
		"{\"a\":1}",
		"{\"sid\":\"SM123\",\"status\":\"queued\",\"price\":null,\"n\":-0.5e+10,"
		"\"ok\":true,\"no\":false,\"list\":[1,2,[3,{}],[]],\"o\":{\"p\":{\"q\":[]}}}",
		"{\"esc\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00\"}",
		"{\"utf8\":\"caf\xc3\xa9 \xf0\x9f\x94\x91\"}",
		"{\"n\":0,\"m\":-0,\"x\":1E3,\"y\":1.25e-3,\"z\":123}",
		"{\"\":\"\"}",
	};
	static const char *const bad[] = {
		"nonsense",
		"OK",
		"<html><body>Queued</body></html>",
		"[]",
		"[{}]",
		"null",
		"true",
		"1",
		"\"queued\"",
		"{",
		"}",
		"{\"a\"}",
		"{\"a\":}",
		"{\"a\":1,}",
		"{,}",
		"{\"a\":1 \"b\":2}",
		"{'a':1}",
		"{a:1}",
		"{\"a\":01}",
		"{\"a\":1.}",
		"{\"a\":.5}",
		"{\"a\":-}",
		"{\"a\":1e}",
		"{\"a\":+1}",
		"{\"a\":0x10}",
		"{\"a\":NaN}",
		"{\"a\":tru}",
		"{\"a\":nul}",
		"{\"a\":\"\\x\"}",
		"{\"a\":\"\\u12\"}",
		"{\"a\":\"\\u12g4\"}",
		"{\"a\":\"unterminated}",
		"{\"a\":\"tab\there\"}",
		"{\"a\":\"\x01\"}",
		"{\"a\":\"\xff\"}",
		"{\"a\":\"\xc0\xaf\"}",
		"{} x",
		"{}{}",
		"{\"a\":[1,2}",
		"{\"a\":[1,2,]}",
		"{\"a\":{\"b\":1}",
		"\xef\xbb\xbf{}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!sms_json_valid(good[i], strlen(good[i])))
			fail_msg("refused %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sms_json_valid(bad[i], strlen(bad[i])))
			fail_msg("accepted %s", bad[i]);
	/* A NUL, after an object or inside a string, is not JSON. */
	assert_false(sms_json_valid("{}\0", 3));
	assert_false(sms_json_valid("{\"a\":\"x\0y\"}", 11));
	assert_true(sms_json_valid("{}\0", 2));
	/* Nothing is read past len. */
	assert_false(sms_json_valid("{\"a\":1}", 6));
	assert_false(sms_json_valid("{\"a\":tr", 7));
	/* 32 levels of nesting are read, 33 are refused, and 100000 do not
	 * overflow the stack. */
	{
		size_t deep = 100000;
		char *text = malloc(2 * deep + 1);
		size_t n;

		assert_non_null(text);
		for (size_t levels = 32; levels <= 33; levels++) {
			n = 0;
			text[n++] = '{';
			text[n++] = '"';
			text[n++] = 'a';
			text[n++] = '"';
			text[n++] = ':';
			for (size_t i = 1; i < levels; i++)
				text[n++] = '[';
			for (size_t i = 1; i < levels; i++)
				text[n++] = ']';
			text[n++] = '}';
			assert_int_equal(sms_json_valid(text, n), levels == 32);
		}
		memcpy(text, "{\"a\":", 5);
		memset(text + 5, '[', deep - 5);
		memset(text + deep, ']', deep - 5);
		text[2 * deep - 5] = '}';
		assert_false(sms_json_valid(text, 2 * deep - 4));
		free(text);
	}
}

static void twilio_like(struct sms_config *sc, struct sms_field *fields)
{
	memset(sc, 0, sizeof(*sc));
	fields[0] = (struct sms_field){ "To", "%{phone}" };
	fields[1] = (struct sms_field){ "From", "+15550100" };
	fields[2] = (struct sms_field){ "Body", "%{message}" };
	for (size_t i = 0; i < 3; i++)
		sc->fields[i] = fields[i];
	sc->n_fields = 3;
	sc->url = "https://api.example.com/v1/messages";
	sc->format = SMS_FORMAT_FORM;
	sc->message = SMS_DEFAULT_MESSAGE;
	sc->timeout = 10;
}

static void test_form_body(void **state)
{
	const struct sms_message msg = { "123456", "web1.example.org", "alice", 5 };
	struct sms_field fields[SMS_FIELDS_MAX];
	struct mfa_error err;
	struct sms_config sc;
	size_t len;
	char *body;

	(void)state;
	twilio_like(&sc, fields);
	assert_int_equal(sms_request_body(&sc, "+15555550100", &msg, &body, &len, &err), 0);
	assert_string_equal(body,
			    "To=%2B15555550100&From=%2B15550100&Body=123456%20is%20your%20"
			    "login%20code%20for%20web1.example.org.%20It%20expires%20in%205%20"
			    "minutes.");
	assert_int_equal(len, strlen(body));
	free(body);
	/* Everything that means something in a form is encoded: '&', '=',
	 * '+', '%', a line break, UTF-8. */
	sc.message = "a&b=c+d %% e\nf caf\xc3\xa9 ~-._ %{code}";
	assert_int_equal(sms_request_body(&sc, "+15555550100", &msg, &body, &len, &err), 0);
	assert_string_equal(body, "To=%2B15555550100&From=%2B15550100&Body=a%26b%3Dc%2Bd%20%25%20e"
				  "%0Af%20caf%C3%A9%20~-._%20123456");
	free(body);
}

static void test_json_body(void **state)
{
	const struct sms_message msg = { "0042", "web1", "o'brien", 2 };
	struct sms_field fields[SMS_FIELDS_MAX];
	struct mfa_error err;
	struct sms_config sc;
	size_t len;
	char *body;

	(void)state;
	twilio_like(&sc, fields);
	sc.format = SMS_FORMAT_JSON;
	sc.fields[1] = (struct sms_field){ "sender.id", "Corp \"IT\" \\ %%" };
	sc.fields[3] = (struct sms_field){ "code", "%{code}" };
	sc.fields[4] = (struct sms_field){ "empty", "" };
	sc.n_fields = 5;
	sc.message = "%{code}\tfor %{user}\n@web1 #%{code}\x01\x7f";
	/* The template check would refuse the tab and the controls; the
	 * encoder must still keep them inside the string. */
	assert_int_equal(sms_request_body(&sc, "+15555550100", &msg, &body, &len, &err), 0);
	assert_string_equal(body, "{\"To\":\"+15555550100\",\"sender.id\":\"Corp \\\"IT\\\" \\\\ "
				  "%\",\"Body\":\"0042\\tfor o'brien\\n@web1 "
				  "#0042\\u0001\\u007f\",\"code\":\"0042\",\"empty\":\"\"}");
	assert_true(sms_json_valid(body, len));
	free(body);
}

static void test_body_refusals(void **state)
{
	const struct sms_message msg = { "123456", "web1", "alice", 5 };
	struct sms_field fields[SMS_FIELDS_MAX];
	struct mfa_error err;
	struct sms_config sc;
	char longest[400];
	size_t len;
	char *body = (char *)"untouched";

	(void)state;
	twilio_like(&sc, fields);
	/* A bad number: refused, and not repeated in the message. */
	assert_int_equal(sms_request_body(&sc, "+1 555 555 0199", &msg, &body, &len, &err),
			 -EINVAL);
	assert_null(body);
	assert_null(strstr(err.msg, "0199"));
	assert_non_null(strstr(err.msg, "phone number"));
	assert_int_equal(sms_request_body(&sc, "+1555\r\n5550199", &msg, &body, &len, &err),
			 -EINVAL);
	/* A code that is not digits. */
	{
		const struct sms_message odd = { "12&To=+19990000000", "web1", "alice", 5 };

		assert_int_equal(sms_request_body(&sc, "+15555550100", &odd, &body, &len, &err),
				 -EINVAL);
		assert_null(strstr(err.msg, "1999"));
	}
	{
		const struct sms_message none = { "", "web1", "alice", 5 };

		assert_int_equal(sms_request_body(&sc, "+15555550100", &none, &body, &len, &err),
				 -EINVAL);
	}
	/* A message longer than SMS_MESSAGE_MAX once expanded. */
	for (size_t i = 0; i + 7 < sizeof(longest); i += 7)
		memcpy(longest + i, "%{host}", 7);
	longest[sizeof(longest) - 1 - (sizeof(longest) - 1) % 7] = '\0';
	{
		char host[256];
		const struct sms_message big = { "123456", host, "alice", 5 };

		memset(host, 'h', sizeof(host) - 1);
		host[sizeof(host) - 1] = '\0';
		sc.message = longest;
		assert_int_equal(sms_request_body(&sc, "+15555550100", &big, &body, &len, &err),
				 -EINVAL);
		assert_non_null(strstr(err.msg, "sms.message"));
		/* And a field that grows past SMS_FIELD_MAX. */
		sc.message = "%{code}";
		sc.fields[1] = (struct sms_field){ "From", longest };
		assert_int_equal(sms_request_body(&sc, "+15555550100", &big, &body, &len, &err),
				 -EINVAL);
		assert_non_null(strstr(err.msg, "sms.fields.From"));
	}
	/* No fields, or no gateway: nothing to send with. */
	sc.n_fields = 0;
	assert_int_equal(sms_request_body(&sc, "+15555550100", &msg, &body, &len, &err), -EINVAL);
	twilio_like(&sc, fields);
	sc.url = NULL;
	assert_int_equal(sms_send(&sc, "+15555550100", &msg, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not configured"));
	twilio_like(&sc, fields);
	assert_int_equal(sms_send(&sc, "+15555550100x", &msg, &err), -EINVAL);
	/* https only, even if the configuration were bypassed: libcurl
	 * refuses the scheme before connecting anywhere. */
	sc.url = "http://127.0.0.1:1/v1/messages";
	assert_int_equal(sms_send(&sc, "+15555550100", &msg, &err), -EIO);
	assert_non_null(strstr(err.msg, "cannot connect to the SMS gateway"));
	assert_null(strstr(err.msg, "Couldn't connect"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers),	       cmocka_unit_test(test_mask),
		cmocka_unit_test(test_template_check), cmocka_unit_test(test_expand),
		cmocka_unit_test(test_json_valid),     cmocka_unit_test(test_form_body),
		cmocka_unit_test(test_json_body),      cmocka_unit_test(test_body_refusals),
	};

	return cmocka_run_group_tests_name("sms", tests, NULL, NULL);
}
