/* libFuzzer: the state-record parser, from the file's two slots down to the
 * text, of every version.  Anything may come in; nothing may crash, and a
 * record that parses must format back (as version 6) to what parses the
 * same (the format is canonical), its factors' tag, recovery codes and
 * bypass code included. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_factor(const struct mfa_factor *a, const struct mfa_factor *b)
{
	return a->id == b->id && a->method == b->method && a->verified == b->verified &&
	       a->by_admin == b->by_admin && a->added == b->added && a->last_used == b->last_used &&
	       strcmp(a->label, b->label) == 0 && strcmp(a->dest, b->dest) == 0 &&
	       a->totp.secret_len == b->totp.secret_len &&
	       memcmp(a->totp.secret, b->totp.secret, sizeof(a->totp.secret)) == 0 &&
	       a->totp.last_step == b->totp.last_step &&
	       a->totp.params.digits == b->totp.params.digits &&
	       a->totp.params.period == b->totp.params.period &&
	       a->totp.params.algorithm == b->totp.params.algorithm;
}

static bool same_backup(const struct mfa_record *a, const struct mfa_record *b)
{
	const struct mfa_recovery_set *x = &a->recovery, *y = &b->recovery;

	if (x->n != y->n || x->source != y->source || x->since != y->since ||
	    memcmp(x->codes, y->codes, sizeof(x->codes)) != 0 ||
	    memcmp(x->used, y->used, sizeof(x->used)) != 0)
		return false;
	return a->bypass.set == b->bypass.set &&
	       memcmp(&a->bypass.code, &b->bypass.code, sizeof(a->bypass.code)) == 0 &&
	       a->bypass.uses_left == b->bypass.uses_left &&
	       a->bypass.expires == b->bypass.expires && a->bypass.made == b->bypass.made &&
	       a->lock_notice == b->lock_notice;
}

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
	/* What parses is of its methods' form, ids below next_id, at most
	 * RECORD_FACTORS_MAX. */
	if (rec.n_factors > RECORD_FACTORS_MAX)
		abort();
	for (unsigned i = 0; i < rec.n_factors; i++)
		if (rec.factors[i].id == 0 || rec.factors[i].id >= rec.next_factor_id ||
		    (rec.factors[i].method == METHOD_TOTP && !rec.factors[i].verified))
			abort();
	if (rec.code.pending && record_factor(&rec, rec.code.factor) == NULL)
		abort();
	/* At most RECOVERY_CODES_MAX codes, of a known maker; a bypass code
	 * of at most its uses. */
	if (rec.recovery.n > RECOVERY_CODES_MAX ||
	    (rec.recovery.n > 0) != (rec.recovery.source != RECORD_CODES_NONE) ||
	    rec.bypass.uses_left > RECORD_BYPASS_USES_MAX)
		abort();
	len = record_format(&rec, buf, sizeof(buf));
	if (len < 0 || record_parse(buf, (size_t)len, rec.user, &again, &err) != 0)
		abort();
	if (rec.factors_tag != again.factors_tag || rec.next_factor_id != again.next_factor_id ||
	    rec.n_factors != again.n_factors || rec.fail_count != again.fail_count ||
	    rec.locked_until != again.locked_until || rec.skip_since != again.skip_since ||
	    rec.code.pending != again.code.pending || rec.code.factor != again.code.factor ||
	    memcmp(rec.code.hash, again.code.hash, sizeof(rec.code.hash)) != 0 ||
	    rec.code.expires != again.code.expires || rec.code.booked != again.code.booked ||
	    rec.code.enroll_codes != again.code.enroll_codes ||
	    rec.code.enroll_codes_since != again.code.enroll_codes_since)
		abort();
	for (unsigned i = 0; i < rec.n_factors; i++)
		if (!same_factor(&rec.factors[i], &again.factors[i]))
			abort();
	if (!same_backup(&rec, &again))
		abort();
	record_wipe(&rec);
	record_wipe(&again);
	return 0;
}
