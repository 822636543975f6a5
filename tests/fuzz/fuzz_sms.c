/* libFuzzer: what sms.c makes of input it does not control.  The input is
 * a gateway's answer for the JSON check, and a template (as the
 * configuration could hold) for the template check, its expansion and the
 * request bodies, with these invariants: a template the check accepts
 * always expands (or is too long), its JSON body is always JSON, and its
 * form body holds nothing but the form's own characters. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_body(struct sms_config *sc, const struct sms_message *msg)
{
	struct mfa_error err;
	char *body;
	size_t len;
	int r = sms_request_body(sc, "+15555550100", msg, &body, &len, &err);

	if (r == -EINVAL) /* too long once expanded */
		return;
	if (r < 0 || strlen(body) != len)
		abort();
	if (sc->format == SMS_FORMAT_JSON && !sms_json_valid(body, len))
		abort();
	if (sc->format == SMS_FORMAT_FORM &&
	    strspn(body, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%=&") !=
		    len)
		abort();
	free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct sms_message msg = { "123456", "host\"&=\n", "user\\", 5 };
	char *tmpl, out[SMS_FIELD_MAX + 1];
	unsigned used = 0;

	(void)sms_json_valid((const char *)data, size);
	tmpl = malloc(size + 1);
	if (tmpl == NULL)
		return 0;
	memcpy(tmpl, data, size);
	tmpl[size] = '\0';
	if (sms_template_check(tmpl, SMS_VARS_FIELD, &used) == NULL) {
		struct sms_config sc;
		struct sms_field to = { "To", "%{phone}" }, field = { "x-y_z", tmpl };
		int r = sms_expand(tmpl, "+15555550100", "the message", &msg, out, sizeof(out));

		if (r != 0 && r != -ENOSPC)
			abort();
		memset(&sc, 0, sizeof(sc));
		sc.fields[0] = to;
		sc.fields[1] = field;
		sc.n_fields = 2;
		sc.message = "%{code}";
		/* A message template too, where it may be one. */
		if (sms_template_check(tmpl, SMS_VARS_MESSAGE, NULL) == NULL)
			sc.message = tmpl;
		sc.format = SMS_FORMAT_JSON;
		check_body(&sc, &msg);
		sc.format = SMS_FORMAT_FORM;
		check_body(&sc, &msg);
	}
	free(tmpl);
	return 0;
}
