-- pam_mfa's PostgreSQL schema, version 3: the email factor.
--
-- Hosts (pam_mfa_host) book, send and unbook a code (store_email_book,
-- store_email_sent, store_email_unbook), log in with it (verify_email) and
-- prove an address with it (enroll_email); administrators (pam_mfa_admin)
-- set a verified address (provision_email), record a code they mailed
-- (email_code_by_admin) and change the organization's settings
-- (set_settings).  The semantics are those of store/files_ops.c, function
-- for function.  The database hashes and checks codes itself: a host hands
-- a code over in clear (over TLS) and never reads a hash back.  Same rules
-- as 002: SECURITY DEFINER, a fixed search_path, every name qualified, no
-- dynamic SQL, arguments checked (SQLSTATE 22023), each decision under the
-- users row's lock, the server's clock.

-- ---------------------------------------------------------------- tables

-- core/config.c's email defaults and bounds; the booking window is
-- email.timeout (10, 1 to 120) + 5, as store.c's email_booking_window().
ALTER TABLE pam_mfa.settings
	ADD COLUMN email_code_ttl integer NOT NULL DEFAULT 300
		CHECK (email_code_ttl BETWEEN 30 AND 3600),
	ADD COLUMN email_resend_after integer NOT NULL DEFAULT 30
		CHECK (email_resend_after BETWEEN 5 AND 3600),
	ADD COLUMN email_enroll_mails integer NOT NULL DEFAULT 5
		CHECK (email_enroll_mails BETWEEN 1 AND 100),
	ADD COLUMN email_booking_window integer NOT NULL DEFAULT 15
		CHECK (email_booking_window BETWEEN 6 AND 125);

-- An email row may exist before it has an address: the first booking of an
-- enrollment mail counts the day's mails before the address is on record
-- (files_ops.c book_code()).  '' is "no address", as in store_summary.
ALTER TABLE pam_mfa.email DROP CONSTRAINT email_address_check;
ALTER TABLE pam_mfa.email ADD CONSTRAINT email_address_check
	CHECK (address = '' OR pg_catalog.octet_length(address) BETWEEN 3 AND 254);
ALTER TABLE pam_mfa.email ADD CONSTRAINT email_verified_address
	CHECK (NOT verified OR address <> '');

-- ---------------------------------------------------------------- helpers

-- email_address_valid() of core/email.c: a conservative addr-spec, a
-- dot-atom local part of 1 to 64 bytes, a domain of two or more labels of
-- letters, digits and inner hyphens (1 to 63 each), 254 bytes in all.
CREATE FUNCTION pam_mfa.check_address(p_address text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_address IS NULL OR pg_catalog.octet_length(p_address) > 254
	   OR p_address !~ ('^[A-Za-z0-9!#$%&''*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&''*+/=?^_`{|}~-]+)*'
			    '@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
			    '(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$')
	   OR pg_catalog.octet_length(pg_catalog.split_part(p_address, '@', 1)) > 64 THEN
		RAISE EXCEPTION 'invalid email address' USING ERRCODE = 'invalid_parameter_value';
	END IF;
END
$$;

-- A code as a host makes it (core/code_hash.c: 6 to EMAIL_CODE_DIGITS_MAX
-- digits); only such a code is ever stored.
CREATE FUNCTION pam_mfa.check_new_code(p_code text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_code IS NULL OR p_code !~ '^[0-9]{6,10}$' THEN
		RAISE EXCEPTION 'invalid email code' USING ERRCODE = 'invalid_parameter_value';
	END IF;
END
$$;

CREATE FUNCTION pam_mfa.check_use(p_use text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_use IS NULL OR p_use NOT IN ('login', 'enroll') THEN
		RAISE EXCEPTION 'an email code is for login or enroll' USING ERRCODE = 'invalid_parameter_value';
	END IF;
END
$$;

-- core/code_hash.c's email_code_hash(): HMAC-SHA256 keyed with the salt.
CREATE FUNCTION pam_mfa.email_code_hash(p_salt bytea, p_code text) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pam_mfa_crypto.hmac(pg_catalog.convert_to(p_code, 'UTF8'), p_salt, 'sha256') $$;

-- files_ops.c set_pending_code(): code becomes the pending one of the
-- user's email row, with a fresh salt, sent now, valid for the settings'
-- ttl.  The caller holds the row lock and has made the row.
CREATE FUNCTION pam_mfa.set_pending_code(p_user text, p_code text, p_now timestamptz)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	salt bytea := pam_mfa_crypto.gen_random_bytes(16);
	ttl integer;
BEGIN
	SELECT s.email_code_ttl INTO STRICT ttl FROM pam_mfa.settings s;
	UPDATE pam_mfa.email z
	   SET code_salt = salt, code_hash = pam_mfa.email_code_hash(salt, p_code),
	       code_sent_at = p_now, code_expires = p_now + pg_catalog.make_interval(secs => ttl)
	 WHERE z.user_name = p_user;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no email row for the pending code';
	END IF;
END
$$;

-- Unix seconds of the server's clock, as files_ops.c counts bookings.
CREATE FUNCTION pam_mfa.now_seconds() RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_catalog.floor(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp()))::bigint $$;

-- The basis check of every write an enrollment rests on: NULL names none.
CREATE FUNCTION pam_mfa.basis_holds(u pam_mfa.users, p_factors_version bigint) RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT p_factors_version IS NULL OR COALESCE(u.factors_version, 0) = p_factors_version $$;

-- files_ops.c code_allowed(): a login code goes to the verified address,
-- an enrollment code only while no address is verified.
CREATE FUNCTION pam_mfa.code_allowed(e pam_mfa.email, p_use text, p_address text) RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN p_use = 'login' THEN COALESCE(e.verified, false) AND e.address = p_address
		    ELSE NOT COALESCE(e.verified, false) END
$$;

-- files_ops.c check_email(): an emailed code against the pending one of
-- address, single use (a right code is spent, an expired one too),
-- failures counted toward the lockout TOTP shares.  enrolling: the code
-- proves an unverified address, which then becomes the factor.
CREATE FUNCTION pam_mfa.check_email(p_user text, p_code text, p_address text, p_enrolling boolean,
	p_service text, p_rhost text,
	OUT outcome text, OUT fail_count integer, OUT locked_now boolean)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
	e pam_mfa.email;
	f record;
	now_ts timestamptz;
	pending boolean;
	match boolean := false;
BEGIN
	fail_count := 0;
	locked_now := false;
	u := pam_mfa.lock_user(p_user, false);
	IF u.user_name IS NULL THEN
		outcome := 'not_enrolled';
		RETURN;
	END IF;
	fail_count := u.fail_count;
	SELECT * INTO e FROM pam_mfa.email z WHERE z.user_name = p_user;
	IF (CASE WHEN p_enrolling THEN COALESCE(e.verified, false) ELSE NOT COALESCE(e.verified, false) END)
	   OR e.address IS DISTINCT FROM p_address THEN
		outcome := 'not_enrolled';
		RETURN;
	END IF;
	now_ts := pg_catalog.clock_timestamp();
	IF u.locked_until IS NOT NULL AND u.locked_until > now_ts THEN
		outcome := 'locked'; -- not checked, not counted
		RETURN;
	END IF;
	pending := e.code_hash IS NOT NULL;
	-- Only digits can be a code that was stored: anything else is never
	-- hashed, and is a wrong code.
	IF pending AND p_code ~ '^[0-9]{6,10}$' THEN
		match := pam_mfa.email_code_hash(e.code_salt, p_code) = e.code_hash;
	END IF;
	IF match AND now_ts < e.code_expires THEN
		outcome := 'ok';
		PERFORM pam_mfa.note_login(p_user, now_ts, p_service, p_rhost);
		fail_count := 0;
		IF p_enrolling THEN
			UPDATE pam_mfa.email z SET verified = true, enrolled_at = now_ts
			 WHERE z.user_name = p_user;
			-- the address is now a factor: the basis moves
			UPDATE pam_mfa.users x
			   SET skip_since = NULL,
			       factors_version = pg_catalog.nextval('pam_mfa.factors_version_seq')
			 WHERE x.user_name = p_user;
		END IF;
	ELSE
		SELECT * INTO STRICT f FROM pam_mfa.count_failure(p_user, now_ts);
		fail_count := f.fail_count;
		locked_now := f.locked_now;
		outcome := CASE WHEN match OR NOT pending THEN 'expired' ELSE 'wrong' END;
	END IF;
	IF outcome <> 'wrong' THEN
		UPDATE pam_mfa.email z SET code_salt = NULL, code_hash = NULL, code_expires = NULL
		 WHERE z.user_name = p_user;
	END IF;
END
$$;

-- ---------------------------------------------------------------- hosts

-- store_email_book(): books the mailing of a code so that the limits hold
-- for logins racing each other (files_ops.c book_code() and code_wait()).
-- 'stale': the code is not allowed (login: the address is not the verified
-- one; enroll: an address is verified, or the factors moved from
-- p_factors_version).  'wait': a limit holds, for wait_seconds; sending
-- says a code on its way holds it.  'ok': booked at booked_at (unix
-- seconds, to be handed back to email_sent or email_unbook with the rest
-- of the row).  The pending code is not touched.
CREATE FUNCTION pam_mfa.email_book(p_user text, p_use text, p_factors_version bigint, p_address text)
RETURNS TABLE (result text, wait_seconds integer, sending boolean, booked_at bigint,
	       record_existed boolean, enroll_mails integer, enroll_mails_since bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
	e pam_mfa.email;
	s pam_mfa.settings;
	t bigint;
	booked bigint;
	sent bigint;
	expires bigint;
	since bigint;
	mails integer;
	mails_since bigint;
	recent boolean;
	wait bigint := 0;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	PERFORM pam_mfa.check_use(p_use);
	PERFORM pam_mfa.check_address(p_address);
	IF p_use = 'enroll' AND p_factors_version IS NULL THEN
		RAISE EXCEPTION 'an enrollment code needs the factors_version it was offered on'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	result := 'stale';
	wait_seconds := 0;
	sending := false;
	booked_at := 0;
	enroll_mails := 0;
	enroll_mails_since := 0;
	-- A first enrollment mail makes the user's row (and version 0 is the
	-- only basis a user without one can have).
	u := pam_mfa.lock_user(p_user, false);
	record_existed := u.user_name IS NOT NULL;
	IF NOT record_existed AND p_use = 'enroll' AND p_factors_version = 0 THEN
		u := pam_mfa.lock_user(p_user, true);
	END IF;
	IF u.user_name IS NULL OR NOT pam_mfa.basis_holds(u, p_factors_version) THEN
		RETURN NEXT;
		RETURN;
	END IF;
	SELECT * INTO e FROM pam_mfa.email z WHERE z.user_name = p_user;
	IF NOT pam_mfa.code_allowed(e, p_use, p_address) THEN
		RETURN NEXT;
		RETURN;
	END IF;
	SELECT * INTO STRICT s FROM pam_mfa.settings;
	t := pam_mfa.now_seconds();
	mails := COALESCE(e.enroll_mails, 0);
	mails_since := pam_mfa.epoch(e.enroll_mails_since);
	enroll_mails := mails;
	enroll_mails_since := mails_since;
	booked := pam_mfa.epoch(e.booked_at);
	sent := pam_mfa.epoch(e.code_sent_at);
	expires := pam_mfa.epoch(e.code_expires);
	since := t - sent;
	recent := sent > 0 AND since >= 0 AND since < s.email_resend_after;
	sending := booked > 0 AND booked <= t AND t - booked < s.email_booking_window;
	IF sending THEN
		wait := booked + s.email_booking_window - t;
	ELSIF p_use = 'login' THEN
		-- An expired code is no code: the user may have another.
		IF recent AND e.code_hash IS NOT NULL AND t < expires THEN
			wait := LEAST(expires - t, s.email_resend_after - since);
		END IF;
	ELSE
		-- A clock set back starts the day afresh rather than never.
		IF mails_since > t OR t - mails_since >= 86400 THEN
			mails := 0;
			mails_since := t;
		END IF;
		IF recent THEN
			wait := s.email_resend_after - since;
		ELSIF mails >= s.email_enroll_mails THEN
			wait := mails_since + 86400 - t;
		END IF;
	END IF;
	IF wait > 0 THEN
		-- nothing written (the row a first enrollment mail made cannot
		-- be here: it has no limit to wait for)
		result := 'wait';
		wait_seconds := wait;
		RETURN NEXT;
		RETURN;
	END IF;
	IF p_use = 'enroll' THEN
		mails := mails + 1;
	END IF;
	INSERT INTO pam_mfa.email AS z (user_name, address, booked_at, enroll_mails, enroll_mails_since)
	VALUES (p_user, '', pg_catalog.to_timestamp(t), mails,
		CASE WHEN mails_since = 0 THEN NULL ELSE pg_catalog.to_timestamp(mails_since) END)
	ON CONFLICT (user_name) DO UPDATE
	   SET booked_at = EXCLUDED.booked_at, enroll_mails = EXCLUDED.enroll_mails,
	       enroll_mails_since = EXCLUDED.enroll_mails_since;
	result := 'ok';
	booked_at := t;
	RETURN NEXT;
END
$$;

-- store_email_sent(): the mail went out; p_code becomes the pending code
-- (hashed here, with a fresh salt), for an enrollment with p_address as
-- the unverified address on record; the booking ends.  'stale' (nothing
-- written) if the state no longer allows it.
CREATE FUNCTION pam_mfa.email_sent(p_user text, p_use text, p_factors_version bigint,
				   p_address text, p_code text, p_booked_at bigint)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
	e pam_mfa.email;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	PERFORM pam_mfa.check_use(p_use);
	PERFORM pam_mfa.check_address(p_address);
	PERFORM pam_mfa.check_new_code(p_code);
	IF p_booked_at IS NULL OR (p_use = 'enroll' AND p_factors_version IS NULL) THEN
		RAISE EXCEPTION 'a sent code needs its booking and, to enroll, its factors_version'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	u := pam_mfa.lock_user(p_user, p_use = 'enroll' AND p_factors_version = 0);
	IF u.user_name IS NULL OR NOT pam_mfa.basis_holds(u, p_factors_version) THEN
		RETURN 'stale';
	END IF;
	SELECT * INTO e FROM pam_mfa.email z WHERE z.user_name = p_user;
	IF NOT pam_mfa.code_allowed(e, p_use, p_address) THEN
		RETURN 'stale';
	END IF;
	IF e.user_name IS NULL THEN
		INSERT INTO pam_mfa.email (user_name, address) VALUES (p_user, p_address);
	ELSIF p_use = 'enroll' AND e.address <> p_address THEN
		-- a new address to prove is not the administrator's
		UPDATE pam_mfa.email z SET address = p_address, by_admin = false
		 WHERE z.user_name = p_user;
	END IF;
	UPDATE pam_mfa.email z SET booked_at = NULL
	 WHERE z.user_name = p_user AND pam_mfa.epoch(z.booked_at) = p_booked_at;
	PERFORM pam_mfa.set_pending_code(p_user, p_code, pg_catalog.clock_timestamp());
	RETURN 'ok';
END
$$;

-- store_email_unbook(): the mail could not be sent.  If the booking is
-- still the user's (not one made since, after it timed out), it ends, the
-- day's count of enrollment mails is as it was, and what only the booking
-- made (the email row, the user's row) is removed.
CREATE FUNCTION pam_mfa.email_unbook(p_user text, p_use text, p_booked_at bigint,
				     p_record_existed boolean, p_enroll_mails integer,
				     p_enroll_mails_since bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
	e pam_mfa.email;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	PERFORM pam_mfa.check_use(p_use);
	IF p_booked_at IS NULL OR p_booked_at <= 0 OR p_record_existed IS NULL
	   OR p_enroll_mails IS NULL OR p_enroll_mails < 0
	   OR p_enroll_mails_since IS NULL OR p_enroll_mails_since < 0 THEN
		RAISE EXCEPTION 'invalid booking' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	u := pam_mfa.lock_user(p_user, false);
	IF u.user_name IS NULL THEN
		RETURN;
	END IF;
	SELECT * INTO e FROM pam_mfa.email z WHERE z.user_name = p_user;
	IF e.user_name IS NULL OR pam_mfa.epoch(e.booked_at) <> p_booked_at THEN
		RETURN; -- another booking since: not ours to end
	END IF;
	UPDATE pam_mfa.email z SET booked_at = NULL WHERE z.user_name = p_user;
	IF p_use = 'enroll' THEN
		UPDATE pam_mfa.email z
		   SET enroll_mails = p_enroll_mails,
		       enroll_mails_since = CASE WHEN p_enroll_mails_since = 0 THEN NULL
					    ELSE pg_catalog.to_timestamp(p_enroll_mails_since) END
		 WHERE z.user_name = p_user;
	END IF;
	-- An email row that holds nothing is no state.
	DELETE FROM pam_mfa.email z
	 WHERE z.user_name = p_user AND z.address = '' AND z.code_hash IS NULL
	   AND z.booked_at IS NULL AND z.enroll_mails = 0 AND z.code_sent_at IS NULL;
	-- Nor is a user's row the booking made, if nothing else was put in it.
	IF NOT p_record_existed THEN
		DELETE FROM pam_mfa.users x
		 WHERE x.user_name = p_user AND x.factors_version = 0 AND x.fail_count = 0
		   AND x.fail_since IS NULL AND x.locked_until IS NULL AND x.skip_since IS NULL
		   AND x.last_login IS NULL
		   AND NOT EXISTS (SELECT 1 FROM pam_mfa.totp y WHERE y.user_name = p_user)
		   AND NOT EXISTS (SELECT 1 FROM pam_mfa.email z WHERE z.user_name = p_user);
	END IF;
END
$$;

-- store_verify_email(): a login with the code mailed to the verified
-- address p_address (another address: 'not_enrolled').
CREATE FUNCTION pam_mfa.verify_email(p_user text, p_code text, p_address text, p_service text,
				     p_rhost text,
	OUT outcome text, OUT fail_count integer, OUT locked_now boolean)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r record;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	PERFORM pam_mfa.check_code(p_code);
	PERFORM pam_mfa.check_address(p_address);
	SELECT * INTO STRICT r FROM pam_mfa.check_email(p_user, p_code, p_address, false,
							p_service, p_rhost);
	outcome := r.outcome;
	fail_count := r.fail_count;
	locked_now := r.locked_now;
END
$$;

-- store_enroll_email(): the code sent to the unverified p_address proves
-- it, and the address becomes the verified factor, if the user's factors
-- are still those of p_factors_version (else 'not_enrolled', nothing
-- written or counted).
CREATE FUNCTION pam_mfa.enroll_email(p_user text, p_factors_version bigint, p_address text,
				     p_code text, p_service text, p_rhost text,
	OUT outcome text, OUT fail_count integer, OUT locked_now boolean)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
	r record;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	PERFORM pam_mfa.check_code(p_code);
	PERFORM pam_mfa.check_address(p_address);
	IF p_factors_version IS NULL THEN
		RAISE EXCEPTION 'an enrollment needs the factors_version it was offered on'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	u := pam_mfa.lock_user(p_user, false);
	IF NOT pam_mfa.basis_holds(u, p_factors_version) THEN
		outcome := 'not_enrolled';
		fail_count := COALESCE(u.fail_count, 0);
		locked_now := false;
		RETURN;
	END IF;
	SELECT * INTO STRICT r FROM pam_mfa.check_email(p_user, p_code, p_address, true,
							p_service, p_rhost);
	outcome := r.outcome;
	fail_count := r.fail_count;
	locked_now := r.locked_now;
END
$$;

-- ---------------------------------------------------------------- admins

-- store_provision_email(): p_address becomes the user's verified address,
-- the administrator's, failures and any skip forgotten.  'exists' (nothing
-- written) if one is verified and not p_replace.
CREATE FUNCTION pam_mfa.provision_email(p_user text, p_address text, p_replace boolean)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	had boolean;
	now_ts timestamptz;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	PERFORM pam_mfa.check_address(p_address);
	IF p_replace IS NULL THEN
		RAISE EXCEPTION 'invalid replace' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM pam_mfa.lock_user(p_user, true);
	had := EXISTS (SELECT 1 FROM pam_mfa.email z WHERE z.user_name = p_user AND z.verified);
	IF had AND NOT p_replace THEN
		RETURN 'exists';
	END IF;
	now_ts := pg_catalog.clock_timestamp();
	INSERT INTO pam_mfa.email AS z (user_name, address, verified, by_admin, enrolled_at)
	VALUES (p_user, p_address, true, true, now_ts)
	ON CONFLICT (user_name) DO UPDATE
	   SET address = EXCLUDED.address, verified = true, by_admin = true,
	       enrolled_at = EXCLUDED.enrolled_at,
	       code_salt = NULL, code_hash = NULL, code_expires = NULL;
	UPDATE pam_mfa.users x
	   SET factors_version = pg_catalog.nextval('pam_mfa.factors_version_seq'),
	       skip_since = NULL, fail_count = 0, fail_since = NULL, locked_until = NULL
	 WHERE x.user_name = p_user;
	RETURN CASE WHEN had THEN 'replaced' ELSE 'provisioned' END;
END
$$;

-- store_email_code_by_admin(): a code an administrator just mailed to
-- p_address becomes the user's pending one, the address the unverified one
-- on record, marked as the administrator's.  With p_replace a verified
-- address gives way in the same transaction (the basis moves); without,
-- 'stale' and nothing written.
CREATE FUNCTION pam_mfa.email_code_by_admin(p_user text, p_address text, p_code text,
					    p_replace boolean)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e pam_mfa.email;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	PERFORM pam_mfa.check_address(p_address);
	PERFORM pam_mfa.check_new_code(p_code);
	IF p_replace IS NULL THEN
		RAISE EXCEPTION 'invalid replace' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM pam_mfa.lock_user(p_user, true);
	SELECT * INTO e FROM pam_mfa.email z WHERE z.user_name = p_user;
	IF COALESCE(e.verified, false) AND NOT p_replace THEN
		RETURN 'stale';
	END IF;
	IF e.user_name IS NULL THEN
		INSERT INTO pam_mfa.email (user_name, address, by_admin) VALUES (p_user, p_address, true);
	ELSE
		UPDATE pam_mfa.email z
		   SET address = p_address, by_admin = true, verified = false, enrolled_at = NULL
		 WHERE z.user_name = p_user;
		IF e.verified THEN
			-- the verified address was a factor: the basis moves
			UPDATE pam_mfa.users x
			   SET factors_version = pg_catalog.nextval('pam_mfa.factors_version_seq')
			 WHERE x.user_name = p_user;
		END IF;
	END IF;
	PERFORM pam_mfa.set_pending_code(p_user, p_code, pg_catalog.clock_timestamp());
	RETURN 'ok';
END
$$;

-- The organization's settings, pam_mfa.conf's bounds: each argument given
-- replaces one, NULL keeps it; out of bounds is an error and changes
-- nothing.  Returns the settings as they now are (with no argument: a
-- read).  email_booking_window is email.timeout + 5.
CREATE FUNCTION pam_mfa.set_settings(
	p_totp_window integer DEFAULT NULL,
	p_lockout_attempts integer DEFAULT NULL,
	p_lockout_interval integer DEFAULT NULL,
	p_lockout_unlock_after integer DEFAULT NULL,
	p_email_code_ttl integer DEFAULT NULL,
	p_email_resend_after integer DEFAULT NULL,
	p_email_enroll_mails integer DEFAULT NULL,
	p_email_booking_window integer DEFAULT NULL)
RETURNS TABLE (totp_window integer, lockout_attempts integer, lockout_interval integer,
	       lockout_unlock_after integer, email_code_ttl integer, email_resend_after integer,
	       email_enroll_mails integer, email_booking_window integer)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_totp_window NOT BETWEEN 0 AND 10
	   OR p_lockout_attempts NOT BETWEEN 1 AND 1000
	   OR p_lockout_interval NOT BETWEEN 1 AND 31536000
	   OR p_lockout_unlock_after NOT BETWEEN 0 AND 31536000
	   OR p_email_code_ttl NOT BETWEEN 30 AND 3600
	   OR p_email_resend_after NOT BETWEEN 5 AND 3600
	   OR p_email_enroll_mails NOT BETWEEN 1 AND 100
	   OR p_email_booking_window NOT BETWEEN 6 AND 125 THEN
		RAISE EXCEPTION 'a setting out of its bounds' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	UPDATE pam_mfa.settings s
	   SET totp_window = COALESCE(p_totp_window, s.totp_window),
	       lockout_attempts = COALESCE(p_lockout_attempts, s.lockout_attempts),
	       lockout_interval = COALESCE(p_lockout_interval, s.lockout_interval),
	       lockout_unlock_after = COALESCE(p_lockout_unlock_after, s.lockout_unlock_after),
	       email_code_ttl = COALESCE(p_email_code_ttl, s.email_code_ttl),
	       email_resend_after = COALESCE(p_email_resend_after, s.email_resend_after),
	       email_enroll_mails = COALESCE(p_email_enroll_mails, s.email_enroll_mails),
	       email_booking_window = COALESCE(p_email_booking_window, s.email_booking_window);
	RETURN QUERY
	SELECT s.totp_window, s.lockout_attempts, s.lockout_interval, s.lockout_unlock_after,
	       s.email_code_ttl, s.email_resend_after, s.email_enroll_mails, s.email_booking_window
	  FROM pam_mfa.settings s;
END
$$;

-- store_reset() again (002's, same signature and grants), now that an
-- email row may hold no address: as files_ops.c reset_method(), email state
-- is an address on record, and the basis moves only if a factor went (an
-- unverified address is none).
CREATE OR REPLACE FUNCTION pam_mfa.reset(p_user text, p_method text,
	OUT had_state boolean, OUT had_factor boolean, OUT notify text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
	t_had boolean;
	e pam_mfa.email;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	IF p_method IS NOT NULL AND p_method NOT IN ('totp', 'email') THEN
		RAISE EXCEPTION 'unknown method' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	had_state := false;
	had_factor := false;
	notify := '';
	u := pam_mfa.lock_user(p_user, false);
	IF u.user_name IS NULL THEN
		RETURN;
	END IF;
	t_had := EXISTS (SELECT 1 FROM pam_mfa.totp y WHERE y.user_name = p_user);
	SELECT * INTO e FROM pam_mfa.email z WHERE z.user_name = p_user;
	IF COALESCE(e.verified, false) THEN
		notify := e.address;
	END IF;
	IF p_method IS NULL THEN
		had_state := true;
		had_factor := t_had OR COALESCE(e.verified, false);
		DELETE FROM pam_mfa.users x WHERE x.user_name = p_user; -- the factors cascade
		RETURN;
	END IF;
	IF p_method = 'totp' THEN
		IF NOT t_had THEN
			RETURN;
		END IF;
		DELETE FROM pam_mfa.totp y WHERE y.user_name = p_user;
		had_factor := true;
	ELSE
		IF COALESCE(e.address, '') = '' THEN
			RETURN;
		END IF;
		DELETE FROM pam_mfa.email z WHERE z.user_name = p_user;
		had_factor := e.verified;
	END IF;
	had_state := true;
	UPDATE pam_mfa.users x
	   SET factors_version = CASE WHEN had_factor
				      THEN pg_catalog.nextval('pam_mfa.factors_version_seq')
				      ELSE x.factors_version END,
	       fail_count = 0, fail_since = NULL, locked_until = NULL
	 WHERE x.user_name = p_user;
END
$$;

-- ---------------------------------------------------------------- rights

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pam_mfa FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	pam_mfa.email_book(text, text, bigint, text),
	pam_mfa.email_sent(text, text, bigint, text, text, bigint),
	pam_mfa.email_unbook(text, text, bigint, boolean, integer, bigint),
	pam_mfa.verify_email(text, text, text, text, text),
	pam_mfa.enroll_email(text, bigint, text, text, text, text)
	TO pam_mfa_host;
GRANT EXECUTE ON FUNCTION
	pam_mfa.provision_email(text, text, boolean),
	pam_mfa.email_code_by_admin(text, text, text, boolean),
	pam_mfa.set_settings(integer, integer, integer, integer, integer, integer, integer, integer)
	TO pam_mfa_admin;

INSERT INTO pam_mfa.schema_version (version) VALUES (3);
