/* libFuzzer: the state-record parser, from the file's two slots down to the
 * text.  Anything may come in; nothing may crash, and a record that parses
 * must format back to what parses the same (the format is canonical). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mfa_record rec, again;
	struct mfa_error err;
	char buf[STORE_RECORD_MAX + 1];
	int len;

	if (size > STORE_RECORD_MAX)
		return 0;
	if (record_file_parse((const char *)data, size, NULL, &rec, &err) != 0)
		return 0;
	len = record_format(&rec, buf, sizeof(buf));
	if (len < 0 || record_parse(buf, (size_t)len, rec.user, &again, &err) != 0)
		abort();
	if (rec.totp.enrolled != again.totp.enrolled || rec.fail_count != again.fail_count ||
	    rec.locked_until != again.locked_until || rec.email.verified != again.email.verified ||
	    rec.email.by_admin != again.email.by_admin ||
	    rec.email.enroll_mails != again.email.enroll_mails ||
	    rec.email.enroll_mails_since != again.email.enroll_mails_since ||
	    rec.email.code_booked != again.email.code_booked ||
	    memcmp(rec.totp.secret, again.totp.secret, sizeof(rec.totp.secret)) != 0)
		abort();
	record_wipe(&rec);
	record_wipe(&again);
	return 0;
}
