-- pam_mfa schema, version 8: factors as a list, and SMS (issue 16).
--
-- A user may hold several authenticator apps, email addresses and phone
-- numbers, each a row of pam_mfa.factors with an id that is never reused
-- for the user (users.next_factor_id), a label, when it was added and last
-- used, and whether it is verified.  Versions 1 to 7 kept one app
-- (pam_mfa.totp) and one address (pam_mfa.email, with its pending code):
-- their rows move into pam_mfa.factors here, the pending code into
-- pam_mfa.pending_code (which names the factor it was sent to), the
-- booking and the count of enrollment codes onto the users row, and the
-- two tables are dropped with every function that read them.  The
-- functions are those of store/backend.h after issue 16, one for each
-- operation; the rules of 002-007 stay: SECURITY DEFINER only for what a
-- role executes, SET search_path = pg_catalog, pg_temp, every name
-- qualified, no dynamic SQL, arguments checked (SQLSTATE 22023), each
-- decision under the users row's lock (FOR UPDATE), the server's clock and
-- settings.
--
-- A host may now add, replace and remove factors of an enrolled user
-- (mfa-setup), which version 4 refused outright: a compromised host
-- could otherwise take over an enrolled user fleet-wide.  The database
-- lets a host do it only right after that host proved one of the user's
-- factors in it (a right code through verify_totp, verify_sent or an
-- enrollment, recorded as users.proved_*), and where the user holds an
-- app only a proof by an app counts: a host makes every email or SMS code
-- it sends, so it knows it, and could forge that proof for anyone.
--
-- Apply as the schema's owner, in one transaction (mfactl db init).

DO $owner$
BEGIN
	IF (SELECT n.nspowner FROM pg_catalog.pg_namespace n WHERE n.nspname = 'pam_mfa')
	   <> (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = CURRENT_USER) THEN
		RAISE EXCEPTION 'apply pam_mfa''s migrations as the owner of schema pam_mfa, not as %',
			CURRENT_USER;
	END IF;
END
$owner$;

-- ---------------------------------------------------------------- old functions
--
-- Every function whose signature or results change, or that read the two
-- tables that go: dropped, so that no stale EXECUTE right stays behind
-- (plpgsql bodies are not dependencies: a leftover would fail only when
-- called).  What replaces them is created below under new names or the
-- same ones.

DROP FUNCTION pam_mfa.summary(text);
DROP FUNCTION pam_mfa.summaries();
DROP FUNCTION pam_mfa.verify_totp(text, text, text, text);
DROP FUNCTION pam_mfa.enroll_totp(text, bigint, bytea, text, integer, integer, text, text, text);
DROP FUNCTION pam_mfa.provision_totp(text, bytea, text, integer, integer, bigint, boolean);
DROP FUNCTION pam_mfa.reset(text, text);
DROP FUNCTION pam_mfa.email_book(text, text, bigint, text);
DROP FUNCTION pam_mfa.email_sent(text, text, bigint, text, text, bigint);
DROP FUNCTION pam_mfa.email_unbook(text, text, bigint, boolean, integer, bigint);
DROP FUNCTION pam_mfa.verify_email(text, text, text, text, text);
DROP FUNCTION pam_mfa.enroll_email(text, bigint, text, text, text, text);
DROP FUNCTION pam_mfa.provision_email(text, text, boolean);
DROP FUNCTION pam_mfa.email_code_by_admin(text, text, text, boolean);
DROP FUNCTION pam_mfa.set_settings(integer, integer, integer, integer, integer, integer, integer,
				   integer);
DROP FUNCTION pam_mfa.import_user(text, bytea, text, integer, integer, bigint, bigint, text,
				  boolean, boolean, bigint, bigint, boolean);
DROP FUNCTION pam_mfa.check_email(text, text, text, boolean, text, text);
DROP FUNCTION pam_mfa.code_allowed(pam_mfa.email, text, text);
DROP FUNCTION pam_mfa.set_pending_code(text, text, timestamptz);
DROP FUNCTION pam_mfa.holds_factor(text);

-- ---------------------------------------------------------------- tables

-- core/config.c's bounds and defaults: factors.per_method and the sms
-- group's limits (the booking window of a text message is sms.timeout + 5,
-- as store.c's email_booking_window()).
ALTER TABLE pam_mfa.settings
	ADD COLUMN factors_per_method integer NOT NULL DEFAULT 3
		CHECK (factors_per_method BETWEEN 1 AND 8),
	ADD COLUMN sms_code_ttl integer NOT NULL DEFAULT 300
		CHECK (sms_code_ttl BETWEEN 30 AND 3600),
	ADD COLUMN sms_resend_after integer NOT NULL DEFAULT 30
		CHECK (sms_resend_after BETWEEN 5 AND 3600),
	ADD COLUMN sms_enroll_messages integer NOT NULL DEFAULT 5
		CHECK (sms_enroll_messages BETWEEN 1 AND 100),
	ADD COLUMN sms_timeout integer NOT NULL DEFAULT 10
		CHECK (sms_timeout BETWEEN 1 AND 120);

-- The user's code state that is no factor's (store.h's struct
-- mfa_sent_code but the pending code itself): when the last code went,
-- a booking on its way and its method, the day's count of codes to
-- destinations being proved (email and SMS together); and the last proof
-- of a factor, by which host, that a host's change of the factors needs.
ALTER TABLE pam_mfa.users
	ADD COLUMN next_factor_id integer NOT NULL DEFAULT 1 CHECK (next_factor_id >= 1),
	ADD COLUMN code_sent_at timestamptz,
	ADD COLUMN booked_at timestamptz,
	ADD COLUMN booked_method text CHECK (booked_method IN ('email', 'sms')),
	ADD COLUMN enroll_codes integer NOT NULL DEFAULT 0 CHECK (enroll_codes >= 0),
	ADD COLUMN enroll_codes_since timestamptz,
	ADD COLUMN proved_at timestamptz,
	ADD COLUMN proved_by text NOT NULL DEFAULT '',
	ADD COLUMN proved_method text CHECK (proved_method IN ('totp', 'email', 'sms')),
	-- The factors_version the proof was shown on: a change of the factors
	-- since (an admin's reset or replacement) ends it.
	ADD COLUMN proved_version bigint,
	ADD CONSTRAINT users_booking CHECK ((booked_at IS NULL) = (booked_method IS NULL));

-- One factor of a user: an app (its secret, parameters and replay step),
-- or an address or phone number (dest) with whether it is proved.  The
-- label is core/record.h's factor_label_valid(), or '' for none; an
-- address as check_address(), a number in E.164 as core/sms.h's
-- sms_number_valid().  An app is saved only proved.
CREATE TABLE pam_mfa.factors (
	user_name text NOT NULL REFERENCES pam_mfa.users ON DELETE CASCADE,
	id integer NOT NULL CHECK (id >= 1),
	method text NOT NULL CHECK (method IN ('totp', 'email', 'sms')),
	label text NOT NULL DEFAULT ''
		CHECK (label = '' OR label ~ '^[A-Za-z0-9.()@+_-]([A-Za-z0-9 .()@+_-]{0,30}[A-Za-z0-9.()@+_-])?$'),
	verified boolean NOT NULL DEFAULT false,
	by_admin boolean NOT NULL DEFAULT false,
	added timestamptz, -- saved (an app) or proved (a destination); NULL while unproved
	last_used timestamptz,
	secret bytea CHECK (pg_catalog.length(secret) BETWEEN 10 AND 64),
	algorithm text CHECK (algorithm IN ('sha1', 'sha256', 'sha512')),
	digits integer CHECK (digits BETWEEN 6 AND 8),
	period integer CHECK (period BETWEEN 10 AND 300),
	last_step bigint CHECK (last_step >= 0),
	dest text,
	PRIMARY KEY (user_name, id),
	CHECK ((NOT verified) = (added IS NULL)),
	CONSTRAINT factors_totp CHECK (method <> 'totp' OR (verified AND secret IS NOT NULL
		AND algorithm IS NOT NULL AND digits IS NOT NULL AND period IS NOT NULL
		AND last_step IS NOT NULL AND dest IS NULL)),
	CONSTRAINT factors_sent CHECK (method = 'totp' OR (secret IS NULL AND algorithm IS NULL
		AND digits IS NULL AND period IS NULL AND last_step IS NULL AND dest IS NOT NULL)),
	CONSTRAINT factors_email CHECK (method <> 'email' OR (pg_catalog.octet_length(dest) <= 254
		AND pg_catalog.octet_length(pg_catalog.split_part(dest, '@', 1)) <= 64
		AND dest ~ ('^[A-Za-z0-9!#$%&''*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&''*+/=?^_`{|}~-]+)*'
			    '@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
			    '(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$'))),
	CONSTRAINT factors_sms CHECK (method <> 'sms' OR dest ~ '^\+[1-9][0-9]{7,14}$')
);
-- A destination is a factor of the user once, proved or being proved;
-- one is being proved per method at a time.
CREATE UNIQUE INDEX factors_dest ON pam_mfa.factors (user_name, method, dest)
	WHERE dest IS NOT NULL;
CREATE UNIQUE INDEX factors_unverified ON pam_mfa.factors (user_name, method)
	WHERE NOT verified;

-- The one code a user has been sent and not spent: to which factor, its
-- salted hash (core/code_hash.c) and expiry.  It goes with its factor.
CREATE TABLE pam_mfa.pending_code (
	user_name text PRIMARY KEY REFERENCES pam_mfa.users ON DELETE CASCADE,
	factor_id integer NOT NULL,
	salt bytea NOT NULL CHECK (pg_catalog.length(salt) = 16),
	hash bytea NOT NULL CHECK (pg_catalog.length(hash) = 32),
	expires timestamptz NOT NULL,
	FOREIGN KEY (user_name, factor_id) REFERENCES pam_mfa.factors (user_name, id)
		ON DELETE CASCADE
);

REVOKE ALL ON pam_mfa.factors, pam_mfa.pending_code FROM PUBLIC;

-- ---------------------------------------------------------------- the old rows

-- The app first (id 1), then the address (1 or 2), as the files backend
-- reads a version 4 record; an email row without an address held only a
-- booking or the day's count, which the users row takes.  No factor
-- changes, so no basis moves.
INSERT INTO pam_mfa.factors (user_name, id, method, verified, by_admin, added, secret, algorithm,
			     digits, period, last_step)
SELECT t.user_name, 1, 'totp', true, false, t.enrolled_at, t.secret, t.algorithm, t.digits,
       t.period, t.last_step
  FROM pam_mfa.totp t;
INSERT INTO pam_mfa.factors (user_name, id, method, verified, by_admin, added, dest)
SELECT e.user_name,
       CASE WHEN EXISTS (SELECT 1 FROM pam_mfa.totp t WHERE t.user_name = e.user_name)
	    THEN 2 ELSE 1 END,
       'email', e.verified, e.by_admin,
       CASE WHEN e.verified THEN COALESCE(e.enrolled_at, u.created_at) END, e.address
  FROM pam_mfa.email e JOIN pam_mfa.users u ON u.user_name = e.user_name
 WHERE e.address <> '';
INSERT INTO pam_mfa.pending_code (user_name, factor_id, salt, hash, expires)
SELECT e.user_name, f.id, e.code_salt, e.code_hash, e.code_expires
  FROM pam_mfa.email e
  JOIN pam_mfa.factors f ON f.user_name = e.user_name AND f.method = 'email'
 WHERE e.code_hash IS NOT NULL;
UPDATE pam_mfa.users u
   SET code_sent_at = e.code_sent_at, booked_at = e.booked_at,
       booked_method = CASE WHEN e.booked_at IS NOT NULL THEN 'email' END,
       enroll_codes = e.enroll_mails, enroll_codes_since = e.enroll_mails_since
  FROM pam_mfa.email e
 WHERE e.user_name = u.user_name;
UPDATE pam_mfa.users u
   SET next_factor_id = 1 + (SELECT pg_catalog.count(*) FROM pam_mfa.factors f
			      WHERE f.user_name = u.user_name);

DROP TABLE pam_mfa.email;
DROP TABLE pam_mfa.totp; -- and its trigger
DROP FUNCTION pam_mfa.totp_step_forward();

-- A replay step only moves forward: refuse, never clamp (FreeIPA).  A new
-- secret starts its own count.
CREATE FUNCTION pam_mfa.factor_step_forward() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NEW.secret = OLD.secret AND NEW.last_step < OLD.last_step THEN
		RAISE EXCEPTION 'the TOTP replay step of %''s factor % may not move backwards',
			OLD.user_name, OLD.id USING ERRCODE = 'check_violation';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER factor_step_forward BEFORE UPDATE ON pam_mfa.factors
	FOR EACH ROW EXECUTE FUNCTION pam_mfa.factor_step_forward();

-- ---------------------------------------------------------------- helpers

-- A method's name; p_sent: only those whose codes are sent (email, sms).
CREATE FUNCTION pam_mfa.check_method(p_method text, p_sent boolean) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_method IS NULL OR p_method NOT IN ('totp', 'email', 'sms')
	   OR (p_sent AND p_method = 'totp') THEN
		RAISE EXCEPTION 'unknown method' USING ERRCODE = 'invalid_parameter_value';
	END IF;
END
$$;

-- factor_label_valid() of core/record.c, or '' (none): the label to
-- store, '' for NULL.
CREATE FUNCTION pam_mfa.check_label(p_label text) RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_label IS NULL THEN
		RETURN '';
	END IF;
	IF p_label <> ''
	   AND p_label !~ '^[A-Za-z0-9.()@+_-]([A-Za-z0-9 .()@+_-]{0,30}[A-Za-z0-9.()@+_-])?$' THEN
		RAISE EXCEPTION 'invalid label' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN p_label;
END
$$;

-- A destination of the method's own form: an address (check_address()),
-- or a number as core/sms.h's sms_number_valid().
CREATE FUNCTION pam_mfa.check_dest(p_method text, p_dest text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM pam_mfa.check_method(p_method, true);
	IF p_method = 'email' THEN
		PERFORM pam_mfa.check_address(p_dest);
	ELSIF p_dest IS NULL OR p_dest !~ '^\+[1-9][0-9]{7,14}$' THEN
		RAISE EXCEPTION 'invalid phone number' USING ERRCODE = 'invalid_parameter_value';
	END IF;
END
$$;

-- A provisioning's mode (store.h's enum provision_mode).
CREATE FUNCTION pam_mfa.check_mode(p_mode text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_mode IS NULL OR p_mode NOT IN ('new', 'add', 'replace') THEN
		RAISE EXCEPTION 'a provisioning is new, add or replace'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
END
$$;

-- The settings of a method's sent codes: the email.* or sms.* limits.
CREATE FUNCTION pam_mfa.sent_limits(p_method text,
	OUT ttl integer, OUT resend_after integer, OUT booking_window integer,
	OUT enroll_bound integer)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN p_method = 'sms' THEN s.sms_code_ttl ELSE s.email_code_ttl END,
	       CASE WHEN p_method = 'sms' THEN s.sms_resend_after ELSE s.email_resend_after END,
	       CASE WHEN p_method = 'sms' THEN s.sms_timeout + 5 ELSE s.email_booking_window END,
	       CASE WHEN p_method = 'sms' THEN s.sms_enroll_messages ELSE s.email_enroll_mails END
	  FROM pam_mfa.settings s
$$;

-- An id for a new factor of the user, never one the user had: the
-- caller holds the row lock.
CREATE FUNCTION pam_mfa.new_factor_id(p_user text) RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
	UPDATE pam_mfa.users x SET next_factor_id = x.next_factor_id + 1
	 WHERE x.user_name = p_user
	RETURNING x.next_factor_id - 1
$$;

-- The verified factors changed: a new basis, never one seen before.
CREATE FUNCTION pam_mfa.new_basis(p_user text) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
	UPDATE pam_mfa.users x SET factors_version = pg_catalog.nextval('pam_mfa.factors_version_seq')
	 WHERE x.user_name = p_user
$$;

-- How many verified factors of a method the user holds.
CREATE FUNCTION pam_mfa.count_verified(p_user text, p_method text) RETURNS integer
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_catalog.count(*)::integer FROM pam_mfa.factors f
	 WHERE f.user_name = p_user AND f.method = p_method AND f.verified
$$;

-- Whether a factor more would leave the user above RECORD_FACTORS_MAX
-- (24) factors, verified or not, once those that keep set aside go: a
-- store_summary holds no more, and a user it could not read could not log
-- in.  The bound per method keeps verified ones within it, but factors
-- being proved and an import are not bounded by it.
CREATE FUNCTION pam_mfa.factors_full(p_user text, p_going_method text, p_going_dest text,
				     p_going_verified boolean)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT pg_catalog.count(*) >= 24 FROM pam_mfa.factors f
	 WHERE f.user_name = p_user
	   AND NOT (f.method IS NOT DISTINCT FROM p_going_method
		    AND (p_going_dest IS NULL OR f.dest = p_going_dest)
		    AND (p_going_verified IS NULL OR f.verified = p_going_verified))
$$;

-- A right code of a factor was typed on this host: what a host's change
-- of the user's factors needs (proof_holds()).
CREATE FUNCTION pam_mfa.note_proof(p_user text, p_method text, p_now timestamptz) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
	UPDATE pam_mfa.users x
	   SET proved_at = p_now, proved_by = SESSION_USER, proved_method = p_method,
	       proved_version = x.factors_version
	 WHERE x.user_name = p_user
$$;

-- Whether the calling host may change the user's factors: the user holds
-- none yet (the trust of enrollment at login), or this host's login role
-- proved one of the factors it holds now in the last 10 minutes
-- (mfa-setup's proof, then its change; an administrator's change since
-- ends the proof), by an app where the user holds an app: a host knows every code
-- it sent, so a sent code proves nothing a compromised host could not
-- forge.
CREATE FUNCTION pam_mfa.proof_holds(p_user text, p_now timestamptz) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT NOT EXISTS (SELECT 1 FROM pam_mfa.factors f WHERE f.user_name = p_user AND f.verified)
	    OR EXISTS (SELECT 1 FROM pam_mfa.users u
		        WHERE u.user_name = p_user AND u.proved_by = SESSION_USER
			  AND u.proved_version = u.factors_version
			  AND u.proved_at <= p_now
			  AND u.proved_at > p_now - pg_catalog.make_interval(secs => 600)
			  AND (u.proved_method = 'totp'
			       OR pam_mfa.count_verified(p_user, 'totp') = 0))
$$;

-- code becomes the user's pending one, sent to factor p_factor of
-- p_method now, with a fresh salt, valid for the method's code_ttl.  The
-- caller holds the row lock.
CREATE FUNCTION pam_mfa.set_pending_code(p_user text, p_factor integer, p_method text,
					 p_code text, p_now timestamptz)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	salt bytea := pam_mfa_crypto.gen_random_bytes(16);
	ttl integer := (pam_mfa.sent_limits(p_method)).ttl;
BEGIN
	INSERT INTO pam_mfa.pending_code AS c (user_name, factor_id, salt, hash, expires)
	VALUES (p_user, p_factor, salt, pam_mfa.email_code_hash(salt, p_code),
		p_now + pg_catalog.make_interval(secs => ttl))
	ON CONFLICT (user_name) DO UPDATE
	   SET factor_id = EXCLUDED.factor_id, salt = EXCLUDED.salt, hash = EXCLUDED.hash,
	       expires = EXCLUDED.expires;
	UPDATE pam_mfa.users x SET code_sent_at = p_now WHERE x.user_name = p_user;
END
$$;

-- A sent code (email, SMS) typed for factor p_factor, against the pending
-- one; u is the user's row, locked.  A code pending for another factor:
-- 'not_enrolled', not counted.  Locked: 'locked', not counted.  Else a
-- right code in time is 'ok' (spent; the caller writes what it proves),
-- a wrong one 'wrong' (counted, the code stays), and a right one too late
-- or none pending 'expired' (counted, spent).  Only digits are ever
-- hashed.
CREATE FUNCTION pam_mfa.check_sent_code(u pam_mfa.users, p_factor integer, p_code text,
					p_now timestamptz,
	OUT outcome text, OUT fail_count integer, OUT locked_now boolean)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c pam_mfa.pending_code;
	f record;
	match boolean := false;
BEGIN
	fail_count := u.fail_count;
	locked_now := false;
	SELECT * INTO c FROM pam_mfa.pending_code y WHERE y.user_name = u.user_name;
	IF c.user_name IS NOT NULL AND c.factor_id <> p_factor THEN
		outcome := 'not_enrolled';
		RETURN;
	END IF;
	IF u.locked_until IS NOT NULL AND u.locked_until > p_now THEN
		outcome := 'locked';
		RETURN;
	END IF;
	IF c.user_name IS NOT NULL AND p_code ~ '^[0-9]{6,10}$' THEN
		match := pam_mfa.email_code_hash(c.salt, p_code) = c.hash;
	END IF;
	IF match AND p_now < c.expires THEN
		outcome := 'ok';
	ELSE
		SELECT * INTO STRICT f FROM pam_mfa.count_failure(u.user_name, p_now);
		fail_count := f.fail_count;
		locked_now := f.locked_now;
		outcome := CASE WHEN match OR c.user_name IS NULL THEN 'expired' ELSE 'wrong' END;
	END IF;
	IF outcome <> 'wrong' THEN
		DELETE FROM pam_mfa.pending_code y WHERE y.user_name = u.user_name;
	END IF;
END
$$;

-- ---------------------------------------------------------------- hosts

-- store_summary(): the user's state and factors, one row per factor in
-- the order of their ids (the factor's columns NULL on the one row of a
-- user without factors), in one statement's snapshot.  No secret, no code
-- hash.  A user the store does not know: user_exists false, zeros.  The
-- destinations are whole: the host sends the codes.
CREATE FUNCTION pam_mfa.summary(p_user text,
	OUT user_exists boolean, OUT fail_count integer, OUT locked_until bigint,
	OUT last_login bigint, OUT last_service text, OUT last_rhost text, OUT last_host text,
	OUT skip_since bigint, OUT factors_version bigint,
	OUT code_pending boolean, OUT code_factor integer, OUT code_expires bigint,
	OUT factor_id integer, OUT method text, OUT label text, OUT dest text,
	OUT verified boolean, OUT by_admin boolean, OUT added bigint, OUT last_used bigint,
	OUT totp_algorithm text, OUT totp_digits integer, OUT totp_period integer)
RETURNS SETOF record
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	RETURN QUERY
	SELECT u.user_name IS NOT NULL, COALESCE(u.fail_count, 0), pam_mfa.epoch(u.locked_until),
	       pam_mfa.epoch(u.last_login), COALESCE(u.last_service, ''),
	       COALESCE(u.last_rhost, ''),
	       CASE WHEN u.last_login IS NULL THEN ''
		    ELSE u.last_host_role || '@' || COALESCE(pg_catalog.host(u.last_host_addr), 'local') END,
	       pam_mfa.epoch(u.skip_since), COALESCE(u.factors_version, 0),
	       c.user_name IS NOT NULL, COALESCE(c.factor_id, 0), pam_mfa.epoch(c.expires),
	       f.id, f.method, f.label, f.dest, f.verified, f.by_admin, pam_mfa.epoch(f.added),
	       pam_mfa.epoch(f.last_used), f.algorithm, f.digits, f.period
	  FROM (SELECT p_user AS n) k
	  LEFT JOIN pam_mfa.users u ON u.user_name = k.n
	  LEFT JOIN pam_mfa.pending_code c ON c.user_name = k.n
	  LEFT JOIN pam_mfa.factors f ON f.user_name = k.n
	 ORDER BY f.id;
END
$$;

-- store_verify_totp(): the code against every app of the user, in the
-- order of their ids, each with its own replay step.  The first app whose
-- fresh step matches takes it (its step, its last use), the login is
-- recorded and failures forgiven (a host cannot make an app's code), and
-- this host's proof of the user noted.  A code that only a spent step of
-- some app matches is a replay; none: wrong; both counted.
CREATE FUNCTION pam_mfa.verify_totp(p_user text, p_code text, p_service text, p_rhost text,
	OUT outcome text, OUT fail_count integer, OUT locked_now boolean, OUT step bigint,
	OUT factor_id integer)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
	s pam_mfa.settings;
	app record;
	m record;
	f record;
	now_ts timestamptz;
	held boolean := false;
	replay_step bigint;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	PERFORM pam_mfa.check_code(p_code);
	fail_count := 0;
	locked_now := false;
	step := 0;
	factor_id := 0;
	u := pam_mfa.lock_user(p_user, false);
	IF u.user_name IS NULL THEN
		outcome := 'not_enrolled';
		RETURN;
	END IF;
	fail_count := u.fail_count;
	IF pam_mfa.count_verified(p_user, 'totp') = 0 THEN
		outcome := 'not_enrolled';
		RETURN;
	END IF;
	-- the time once the lock is held: a wait does not age the code
	now_ts := pg_catalog.clock_timestamp();
	IF u.locked_until IS NOT NULL AND u.locked_until > now_ts THEN
		outcome := 'locked'; -- not checked, not counted
		RETURN;
	END IF;
	SELECT * INTO STRICT s FROM pam_mfa.settings;
	FOR app IN SELECT a.id, a.secret, a.algorithm, a.digits, a.period, a.last_step
		     FROM pam_mfa.factors a
		    WHERE a.user_name = p_user AND a.method = 'totp' AND a.verified
		    ORDER BY a.id LOOP
		SELECT * INTO STRICT m FROM pam_mfa.totp_match(app.secret, app.algorithm, app.digits,
							       app.period, p_code, now_ts,
							       s.totp_window, app.last_step);
		IF m.fresh THEN
			UPDATE pam_mfa.factors a SET last_step = m.step, last_used = now_ts
			 WHERE a.user_name = p_user AND a.id = app.id AND a.last_step < m.step;
			IF NOT FOUND THEN
				RAISE EXCEPTION 'the replay step did not move forward';
			END IF;
			PERFORM pam_mfa.note_login(p_user, now_ts, p_service, p_rhost);
			PERFORM pam_mfa.note_proof(p_user, 'totp', now_ts);
			outcome := 'ok';
			fail_count := 0;
			step := m.step;
			factor_id := app.id;
			RETURN;
		END IF;
		IF m.step IS NOT NULL AND replay_step IS NULL THEN
			replay_step := m.step;
		END IF;
	END LOOP;
	SELECT * INTO STRICT f FROM pam_mfa.count_failure(p_user, now_ts);
	fail_count := f.fail_count;
	locked_now := f.locked_now;
	outcome := CASE WHEN replay_step IS NULL THEN 'wrong' ELSE 'replay' END;
	step := COALESCE(replay_step, 0);
END
$$;

-- store_verify_sent(): a login with the code sent to the verified factor
-- p_factor (email, sms); another factor's code, or no such factor:
-- 'not_enrolled'.  A right code records the login and the factor's use
-- and forgives nothing: the host that sent it made it.
CREATE FUNCTION pam_mfa.verify_sent(p_user text, p_code text, p_factor integer, p_service text,
				    p_rhost text,
	OUT outcome text, OUT fail_count integer, OUT locked_now boolean, OUT factor_id integer)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
	f pam_mfa.factors;
	r record;
	now_ts timestamptz;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	PERFORM pam_mfa.check_code(p_code);
	IF p_factor IS NULL OR p_factor < 1 THEN
		RAISE EXCEPTION 'invalid factor' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	fail_count := 0;
	locked_now := false;
	factor_id := 0;
	u := pam_mfa.lock_user(p_user, false);
	IF u.user_name IS NULL THEN
		outcome := 'not_enrolled';
		RETURN;
	END IF;
	fail_count := u.fail_count;
	SELECT * INTO f FROM pam_mfa.factors a WHERE a.user_name = p_user AND a.id = p_factor;
	IF f.user_name IS NULL OR NOT f.verified OR f.method = 'totp' THEN
		outcome := 'not_enrolled';
		RETURN;
	END IF;
	now_ts := pg_catalog.clock_timestamp();
	SELECT * INTO STRICT r FROM pam_mfa.check_sent_code(u, p_factor, p_code, now_ts);
	outcome := r.outcome;
	fail_count := r.fail_count;
	locked_now := r.locked_now;
	IF outcome = 'ok' THEN
		UPDATE pam_mfa.factors a SET last_used = now_ts
		 WHERE a.user_name = p_user AND a.id = p_factor;
		PERFORM pam_mfa.record_login(p_user, now_ts, p_service, p_rhost);
		PERFORM pam_mfa.note_proof(p_user, f.method, now_ts);
		factor_id := p_factor;
	END IF;
END
$$;

-- store_enroll_totp(): the app's code checked against the secret it was
-- shown first (wrong: nothing written, nothing counted); then, if the
-- factors are still those of p_factors_version and this host may change
-- them (proof_holds(), else 'not_enrolled'), and within
-- factors_per_method apps ('too_many', nothing written), the secret saved
-- as a new app labelled p_label, in place of the app p_replaces (0: none),
-- its proving step spent, failures and a skip forgotten, the login
-- recorded.
CREATE FUNCTION pam_mfa.enroll_totp(p_user text, p_factors_version bigint, p_secret bytea,
	p_algorithm text, p_digits integer, p_period integer, p_label text, p_replaces integer,
	p_code text, p_service text, p_rhost text,
	OUT outcome text, OUT fail_count integer, OUT locked_now boolean, OUT step bigint,
	OUT factor_id integer)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
	s pam_mfa.settings;
	m record;
	now_ts timestamptz;
	label text;
	apps integer;
	id integer;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	PERFORM pam_mfa.check_code(p_code);
	PERFORM pam_mfa.check_totp_params(p_secret, p_algorithm, p_digits, p_period);
	label := pam_mfa.check_label(p_label);
	IF p_factors_version IS NULL OR p_replaces IS NULL OR p_replaces < 0 THEN
		RAISE EXCEPTION 'an enrollment needs the factors_version it was offered on'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	fail_count := 0;
	locked_now := false;
	step := 0;
	factor_id := 0;
	now_ts := pg_catalog.clock_timestamp();
	SELECT * INTO STRICT s FROM pam_mfa.settings;
	SELECT * INTO STRICT m FROM pam_mfa.totp_match(p_secret, p_algorithm, p_digits, p_period,
						       p_code, now_ts, s.totp_window, 0);
	IF NOT m.fresh THEN
		outcome := 'wrong';
		RETURN;
	END IF;
	-- No row is made for a basis that could not hold: version 0 is "none".
	u := pam_mfa.lock_user(p_user, p_factors_version = 0);
	IF u.user_name IS NULL OR u.factors_version <> p_factors_version
	   OR NOT pam_mfa.proof_holds(p_user, now_ts) THEN
		outcome := 'not_enrolled';
		fail_count := COALESCE(u.fail_count, 0);
		RETURN;
	END IF;
	fail_count := u.fail_count;
	apps := pam_mfa.count_verified(p_user, 'totp');
	IF p_replaces > 0 THEN
		IF NOT EXISTS (SELECT 1 FROM pam_mfa.factors a WHERE a.user_name = p_user
				  AND a.id = p_replaces AND a.method = 'totp') THEN
			RAISE EXCEPTION 'the factor replaced is not an app of the user'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		apps := apps - 1;
	END IF;
	IF apps >= s.factors_per_method
	   OR (p_replaces = 0 AND pam_mfa.factors_full(p_user, NULL, NULL, NULL)) THEN
		outcome := 'too_many';
		RETURN;
	END IF;
	IF p_replaces > 0 THEN
		DELETE FROM pam_mfa.factors a WHERE a.user_name = p_user AND a.id = p_replaces;
	END IF;
	id := pam_mfa.new_factor_id(p_user);
	INSERT INTO pam_mfa.factors (user_name, id, method, label, verified, added, last_used,
				     secret, algorithm, digits, period, last_step)
	VALUES (p_user, id, 'totp', label, true, now_ts, now_ts, p_secret, p_algorithm,
		p_digits, p_period, m.step);
	PERFORM pam_mfa.new_basis(p_user);
	UPDATE pam_mfa.users x SET skip_since = NULL WHERE x.user_name = p_user;
	PERFORM pam_mfa.note_login(p_user, now_ts, p_service, p_rhost);
	PERFORM pam_mfa.note_proof(p_user, 'totp', now_ts);
	outcome := 'ok';
	fail_count := 0;
	step := m.step;
	factor_id := id;
END
$$;

-- store_enroll_sent(): the code sent to the unverified factor of p_method
-- and p_dest proves it: it becomes verified, labelled p_label (NULL: kept),
-- in place of the factor p_replaces (0: none), if the factors are still
-- those of p_factors_version and this host may change them (else
-- 'not_enrolled', nothing written or counted) and within
-- factors_per_method ('too_many', not counted).  The code is checked like
-- a login's (check_sent_code()); a right one records the login and
-- forgives nothing.
CREATE FUNCTION pam_mfa.enroll_sent(p_user text, p_factors_version bigint, p_method text,
	p_dest text, p_label text, p_replaces integer, p_code text, p_service text, p_rhost text,
	OUT outcome text, OUT fail_count integer, OUT locked_now boolean, OUT factor_id integer)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
	f pam_mfa.factors;
	r record;
	now_ts timestamptz;
	held integer;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	PERFORM pam_mfa.check_code(p_code);
	PERFORM pam_mfa.check_dest(p_method, p_dest);
	PERFORM pam_mfa.check_label(p_label);
	IF p_factors_version IS NULL OR p_replaces IS NULL OR p_replaces < 0 THEN
		RAISE EXCEPTION 'an enrollment needs the factors_version it was offered on'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	fail_count := 0;
	locked_now := false;
	factor_id := 0;
	now_ts := pg_catalog.clock_timestamp();
	u := pam_mfa.lock_user(p_user, false);
	fail_count := COALESCE(u.fail_count, 0);
	SELECT * INTO f FROM pam_mfa.factors a
	 WHERE a.user_name = p_user AND a.method = p_method AND a.dest = p_dest AND NOT a.verified;
	IF u.user_name IS NULL OR NOT pam_mfa.basis_holds(u, p_factors_version)
	   OR f.user_name IS NULL OR NOT pam_mfa.proof_holds(p_user, now_ts) THEN
		outcome := 'not_enrolled';
		RETURN;
	END IF;
	held := pam_mfa.count_verified(p_user, p_method);
	IF p_replaces > 0 THEN
		IF NOT EXISTS (SELECT 1 FROM pam_mfa.factors a WHERE a.user_name = p_user
				  AND a.id = p_replaces AND a.method = p_method AND a.verified) THEN
			RAISE EXCEPTION 'the factor replaced is not a verified one of the method'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		held := held - 1;
	END IF;
	IF held >= (SELECT s.factors_per_method FROM pam_mfa.settings s) THEN
		outcome := 'too_many';
		RETURN;
	END IF;
	SELECT * INTO STRICT r FROM pam_mfa.check_sent_code(u, f.id, p_code, now_ts);
	outcome := r.outcome;
	fail_count := r.fail_count;
	locked_now := r.locked_now;
	IF outcome <> 'ok' THEN
		RETURN;
	END IF;
	IF p_replaces > 0 THEN
		DELETE FROM pam_mfa.factors a WHERE a.user_name = p_user AND a.id = p_replaces;
	END IF;
	UPDATE pam_mfa.factors a
	   SET verified = true, added = now_ts, last_used = now_ts,
	       label = COALESCE(p_label, a.label)
	 WHERE a.user_name = p_user AND a.id = f.id;
	PERFORM pam_mfa.new_basis(p_user);
	UPDATE pam_mfa.users x SET skip_since = NULL WHERE x.user_name = p_user;
	-- The host that sent the code knows it: its success is no proof
	-- that the failures counted elsewhere were the user's.
	PERFORM pam_mfa.record_login(p_user, now_ts, p_service, p_rhost);
	PERFORM pam_mfa.note_proof(p_user, p_method, now_ts);
	factor_id := f.id;
END
$$;

-- store_code_book(): books the sending of a code so that the limits hold
-- for logins racing each other.  A login code (p_use 'login') goes to the
-- verified factor p_factor of p_method; a code to prove p_dest ('enroll')
-- to a destination that is not a verified factor of the user, on
-- p_factors_version.  Else 'stale'.  'wait': a limit holds, for
-- wait_seconds; sending: a code on its way holds it (any method's).
-- 'ok': booked at booked_at (unix seconds), to be handed back to
-- code_sent or code_unbook with the rest of the row.  The pending code is
-- not touched.  Limits: the method's resend_after after the last code
-- (a login code: while that one is valid), the method's enrollment codes
-- a day (email and SMS counted together, each against its own bound).
CREATE FUNCTION pam_mfa.code_book(p_user text, p_use text, p_factors_version bigint,
				  p_method text, p_factor integer, p_dest text)
RETURNS TABLE (result text, wait_seconds integer, sending boolean, booked_at bigint,
	       record_existed boolean, enroll_codes integer, enroll_codes_since bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
	lim record;
	window_s integer;
	t bigint;
	booked bigint;
	sent bigint;
	expires bigint;
	since bigint;
	codes integer;
	codes_since bigint;
	recent boolean;
	wait bigint := 0;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	PERFORM pam_mfa.check_use(p_use);
	PERFORM pam_mfa.check_method(p_method, true);
	IF p_use = 'login' AND (p_factor IS NULL OR p_factor < 1) THEN
		RAISE EXCEPTION 'a login code goes to a factor' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF p_use = 'enroll' THEN
		PERFORM pam_mfa.check_dest(p_method, p_dest);
		IF p_factors_version IS NULL THEN
			RAISE EXCEPTION 'an enrollment code needs the factors_version it was offered on'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
	END IF;
	result := 'stale';
	wait_seconds := 0;
	sending := false;
	booked_at := 0;
	enroll_codes := 0;
	enroll_codes_since := 0;
	-- A first enrollment code makes the user's row (and version 0 is
	-- the only basis a user without one can have).
	u := pam_mfa.lock_user(p_user, false);
	record_existed := u.user_name IS NOT NULL;
	IF NOT record_existed AND p_use = 'enroll' AND p_factors_version = 0 THEN
		u := pam_mfa.lock_user(p_user, true);
	END IF;
	IF u.user_name IS NULL
	   OR (p_use = 'enroll' AND NOT pam_mfa.basis_holds(u, p_factors_version))
	   OR (p_use = 'login' AND NOT EXISTS (
		SELECT 1 FROM pam_mfa.factors a WHERE a.user_name = p_user AND a.id = p_factor
		   AND a.method = p_method AND a.verified))
	   OR (p_use = 'enroll' AND EXISTS (
		SELECT 1 FROM pam_mfa.factors a WHERE a.user_name = p_user
		   AND a.method = p_method AND a.dest = p_dest AND a.verified))
	   OR (p_use = 'enroll' AND pam_mfa.factors_full(p_user, p_method, NULL, false)) THEN
		RETURN NEXT;
		RETURN;
	END IF;
	SELECT * INTO STRICT lim FROM pam_mfa.sent_limits(p_method);
	t := pam_mfa.now_seconds();
	codes := u.enroll_codes;
	codes_since := pam_mfa.epoch(u.enroll_codes_since);
	enroll_codes := codes;
	enroll_codes_since := codes_since;
	booked := pam_mfa.epoch(u.booked_at);
	window_s := (pam_mfa.sent_limits(u.booked_method)).booking_window;
	sent := pam_mfa.epoch(u.code_sent_at);
	SELECT pam_mfa.epoch(c.expires) INTO expires
	  FROM pam_mfa.pending_code c WHERE c.user_name = p_user;
	since := t - sent;
	recent := sent > 0 AND since >= 0 AND since < lim.resend_after;
	sending := booked > 0 AND booked <= t AND t - booked < window_s;
	IF sending THEN
		wait := booked + window_s - t;
	ELSIF p_use = 'login' THEN
		-- An expired code is no code: the user may have another.
		IF recent AND expires IS NOT NULL AND t < expires THEN
			wait := LEAST(expires - t, lim.resend_after - since);
		END IF;
	ELSE
		-- A clock set back starts the day afresh rather than never.
		IF codes_since > t OR t - codes_since >= 86400 THEN
			codes := 0;
			codes_since := t;
		END IF;
		IF recent THEN
			wait := lim.resend_after - since;
		ELSIF codes >= lim.enroll_bound THEN
			wait := codes_since + 86400 - t;
		END IF;
	END IF;
	IF wait > 0 THEN
		-- nothing written (a row a first enrollment code made has no
		-- limit to wait for)
		result := 'wait';
		wait_seconds := wait;
		RETURN NEXT;
		RETURN;
	END IF;
	IF p_use = 'enroll' THEN
		codes := codes + 1;
	END IF;
	UPDATE pam_mfa.users x
	   SET booked_at = pg_catalog.to_timestamp(t), booked_method = p_method,
	       enroll_codes = codes,
	       enroll_codes_since = CASE WHEN codes_since = 0 THEN NULL
				    ELSE pg_catalog.to_timestamp(codes_since) END
	 WHERE x.user_name = p_user;
	result := 'ok';
	booked_at := t;
	RETURN NEXT;
END
$$;

-- store_code_sent(): the code went out; p_code becomes the pending one
-- (hashed here, with a fresh salt), for a login code to the factor
-- p_factor, for an enrollment to p_dest, which becomes the unverified
-- factor of p_method (replacing another unverified one of the method;
-- the same one kept, with whose it was); the booking ends.  'stale'
-- (nothing written) if the state no longer allows it.
CREATE FUNCTION pam_mfa.code_sent(p_user text, p_use text, p_factors_version bigint,
				  p_method text, p_factor integer, p_dest text, p_code text,
				  p_booked_at bigint)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
	f pam_mfa.factors;
	target integer;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	PERFORM pam_mfa.check_use(p_use);
	PERFORM pam_mfa.check_method(p_method, true);
	PERFORM pam_mfa.check_new_code(p_code);
	IF p_booked_at IS NULL OR (p_use = 'enroll' AND p_factors_version IS NULL)
	   OR (p_use = 'login' AND (p_factor IS NULL OR p_factor < 1)) THEN
		RAISE EXCEPTION 'a sent code needs its booking, its factor or, to enroll, its factors_version'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF p_use = 'enroll' THEN
		PERFORM pam_mfa.check_dest(p_method, p_dest);
	END IF;
	u := pam_mfa.lock_user(p_user, p_use = 'enroll' AND p_factors_version = 0);
	IF u.user_name IS NULL OR (p_use = 'enroll' AND NOT pam_mfa.basis_holds(u, p_factors_version)) THEN
		RETURN 'stale';
	END IF;
	IF p_use = 'login' THEN
		SELECT * INTO f FROM pam_mfa.factors a
		 WHERE a.user_name = p_user AND a.id = p_factor AND a.method = p_method AND a.verified;
		IF f.user_name IS NULL THEN
			RETURN 'stale';
		END IF;
		target := f.id;
	ELSE
		IF EXISTS (SELECT 1 FROM pam_mfa.factors a WHERE a.user_name = p_user
			      AND a.method = p_method AND a.dest = p_dest AND a.verified)
		   OR pam_mfa.factors_full(p_user, p_method, NULL, false) THEN
			RETURN 'stale';
		END IF;
		-- A new destination to prove replaces the one being proved (and
		-- is not the administrator's).
		DELETE FROM pam_mfa.factors a
		 WHERE a.user_name = p_user AND a.method = p_method AND NOT a.verified
		   AND a.dest <> p_dest;
		SELECT a.id INTO target FROM pam_mfa.factors a
		 WHERE a.user_name = p_user AND a.method = p_method AND NOT a.verified;
		IF target IS NULL THEN
			target := pam_mfa.new_factor_id(p_user);
			INSERT INTO pam_mfa.factors (user_name, id, method, dest)
			VALUES (p_user, target, p_method, p_dest);
		END IF;
	END IF;
	UPDATE pam_mfa.users x SET booked_at = NULL, booked_method = NULL
	 WHERE x.user_name = p_user AND pam_mfa.epoch(x.booked_at) = p_booked_at;
	PERFORM pam_mfa.set_pending_code(p_user, target, p_method, p_code,
					 pg_catalog.clock_timestamp());
	RETURN 'ok';
END
$$;

-- store_code_unbook(): the code could not be sent.  If the booking is
-- still the user's (not one made since, after it timed out), it ends, the
-- day's count is as it was, and a users row that only the booking made is
-- removed.
CREATE FUNCTION pam_mfa.code_unbook(p_user text, p_use text, p_booked_at bigint,
				    p_record_existed boolean, p_enroll_codes integer,
				    p_enroll_codes_since bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	PERFORM pam_mfa.check_use(p_use);
	IF p_booked_at IS NULL OR p_booked_at <= 0 OR p_record_existed IS NULL
	   OR p_enroll_codes IS NULL OR p_enroll_codes < 0
	   OR p_enroll_codes_since IS NULL OR p_enroll_codes_since < 0 THEN
		RAISE EXCEPTION 'invalid booking' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	u := pam_mfa.lock_user(p_user, false);
	IF u.user_name IS NULL OR pam_mfa.epoch(u.booked_at) <> p_booked_at THEN
		RETURN; -- another booking since: not ours to end
	END IF;
	UPDATE pam_mfa.users x
	   SET booked_at = NULL, booked_method = NULL,
	       enroll_codes = CASE WHEN p_use = 'enroll' THEN p_enroll_codes ELSE x.enroll_codes END,
	       enroll_codes_since = CASE WHEN p_use <> 'enroll' THEN x.enroll_codes_since
					 WHEN p_enroll_codes_since = 0 THEN NULL
					 ELSE pg_catalog.to_timestamp(p_enroll_codes_since) END
	 WHERE x.user_name = p_user;
	-- A user's row the booking made is no state, if nothing else was put
	-- in it.
	IF NOT p_record_existed THEN
		DELETE FROM pam_mfa.users x
		 WHERE x.user_name = p_user AND x.factors_version = 0 AND x.fail_count = 0
		   AND x.fail_since IS NULL AND x.locked_until IS NULL AND x.skip_since IS NULL
		   AND x.last_login IS NULL AND x.code_sent_at IS NULL AND x.enroll_codes = 0
		   AND NOT EXISTS (SELECT 1 FROM pam_mfa.factors a WHERE a.user_name = p_user);
	END IF;
END
$$;

-- store_remove_factor(): the user removes the factor p_factor, or with 0
-- every factor (MFA turned off for the account), then with
-- p_remember_skip the opt-out skip remembered, if the factors are still
-- those of p_factors_version ('stale') and this host may change them
-- ('unproved'); 'missing': no such factor.  The basis moves if a
-- verified factor went.
CREATE FUNCTION pam_mfa.remove_factor(p_user text, p_factors_version bigint, p_factor integer,
				      p_remember_skip boolean)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
	gone_verified boolean;
	now_ts timestamptz := pg_catalog.clock_timestamp();
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	IF p_factors_version IS NULL OR p_factor IS NULL OR p_factor < 0
	   OR p_remember_skip IS NULL THEN
		RAISE EXCEPTION 'a removal needs its factor and factors_version'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	u := pam_mfa.lock_user(p_user, p_factor = 0 AND p_remember_skip AND p_factors_version = 0);
	IF NOT pam_mfa.basis_holds(u, p_factors_version) THEN
		RETURN 'stale';
	END IF;
	IF u.user_name IS NULL THEN
		RETURN CASE WHEN p_factor = 0 THEN 'ok' ELSE 'missing' END;
	END IF;
	IF NOT pam_mfa.proof_holds(p_user, now_ts) THEN
		RETURN 'unproved';
	END IF;
	IF p_factor > 0 AND NOT EXISTS (SELECT 1 FROM pam_mfa.factors a
					WHERE a.user_name = p_user AND a.id = p_factor) THEN
		RETURN 'missing';
	END IF;
	WITH gone AS (
		DELETE FROM pam_mfa.factors a
		 WHERE a.user_name = p_user AND (p_factor = 0 OR a.id = p_factor)
		RETURNING a.verified)
	SELECT COALESCE(pg_catalog.bool_or(g.verified), false) INTO gone_verified FROM gone g;
	IF gone_verified THEN
		PERFORM pam_mfa.new_basis(p_user);
		-- The change this host's proof allowed: the proof goes on with
		-- the factors it left, as after an enrollment (note_proof()),
		-- and no other host's or an administrator's change keeps it.
		UPDATE pam_mfa.users x SET proved_version = x.factors_version
		 WHERE x.user_name = p_user AND x.proved_by = SESSION_USER
		   AND x.proved_version IS NOT NULL;
	END IF;
	IF p_remember_skip THEN
		UPDATE pam_mfa.users x SET skip_since = now_ts WHERE x.user_name = p_user;
	END IF;
	RETURN 'ok';
END
$$;

-- store_label_factor(): 'ok', or 'missing' if the user has no factor
-- p_factor.  A label is no part of the basis.
CREATE FUNCTION pam_mfa.label_factor(p_user text, p_factor integer, p_label text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	new_label text;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	IF p_label IS NULL OR p_factor IS NULL OR p_factor < 1 THEN
		RAISE EXCEPTION 'a label for a factor' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	new_label := pam_mfa.check_label(p_label);
	PERFORM pam_mfa.lock_user(p_user, false);
	UPDATE pam_mfa.factors a SET label = new_label
	 WHERE a.user_name = p_user AND a.id = p_factor;
	RETURN CASE WHEN FOUND THEN 'ok' ELSE 'missing' END;
END
$$;

-- ---------------------------------------------------------------- admins

-- store_provision_totp(): an app with p_secret, its parameters and replay
-- step, the administrator's, labelled p_label.  'new': 'exists' if the
-- user has an app; 'add': another, 'exists' for a secret the user has
-- already, 'too_many' past factors_per_method; 'replace': in place of
-- every app, 'replaced' if there was one (the same secret keeps the later
-- of the given and the recorded step: a step once accepted stays spent).
-- Failures and a skip are forgotten.  Nothing is written but for
-- 'provisioned' and 'replaced'.
CREATE FUNCTION pam_mfa.provision_totp(p_user text, p_secret bytea, p_algorithm text,
	p_digits integer, p_period integer, p_last_step bigint, p_label text, p_mode text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	label text;
	apps integer;
	step bigint := p_last_step;
	now_ts timestamptz := pg_catalog.clock_timestamp();
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	PERFORM pam_mfa.check_totp_params(p_secret, p_algorithm, p_digits, p_period);
	PERFORM pam_mfa.check_mode(p_mode);
	label := pam_mfa.check_label(p_label);
	IF p_last_step IS NULL OR p_last_step < 0 THEN
		RAISE EXCEPTION 'invalid last_step' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM pam_mfa.lock_user(p_user, true);
	apps := pam_mfa.count_verified(p_user, 'totp');
	IF p_mode = 'new' AND apps > 0 THEN
		RETURN 'exists';
	END IF;
	IF p_mode = 'add' THEN
		IF EXISTS (SELECT 1 FROM pam_mfa.factors a WHERE a.user_name = p_user
			      AND a.method = 'totp' AND a.secret = p_secret) THEN
			RETURN 'exists';
		END IF;
		IF apps >= (SELECT s.factors_per_method FROM pam_mfa.settings s) THEN
			RETURN 'too_many';
		END IF;
	END IF;
	IF pam_mfa.factors_full(p_user, CASE WHEN p_mode = 'replace' THEN 'totp' END, NULL, NULL) THEN
		RETURN 'too_many';
	END IF;
	IF p_mode = 'replace' THEN
		SELECT GREATEST(step, pg_catalog.max(a.last_step)) INTO step FROM pam_mfa.factors a
		 WHERE a.user_name = p_user AND a.method = 'totp' AND a.secret = p_secret;
		step := COALESCE(step, p_last_step);
		DELETE FROM pam_mfa.factors a WHERE a.user_name = p_user AND a.method = 'totp';
	END IF;
	INSERT INTO pam_mfa.factors (user_name, id, method, label, verified, by_admin, added,
				     secret, algorithm, digits, period, last_step)
	VALUES (p_user, pam_mfa.new_factor_id(p_user), 'totp', label, true, true, now_ts,
		p_secret, p_algorithm, p_digits, p_period, step);
	-- a new factor forgets an opt-out skip and the failures of the old
	PERFORM pam_mfa.new_basis(p_user);
	UPDATE pam_mfa.users x
	   SET skip_since = NULL, fail_count = 0, fail_since = NULL, locked_until = NULL
	 WHERE x.user_name = p_user;
	RETURN CASE WHEN p_mode = 'replace' AND apps > 0 THEN 'replaced' ELSE 'provisioned' END;
END
$$;

-- store_provision_dest(): p_dest becomes a verified factor of p_method
-- (email, sms), the administrator's, labelled p_label.  'new': 'exists'
-- if the user has a verified one of the method; 'add': 'exists' if p_dest
-- is one, 'too_many' past factors_per_method; 'replace': in place of
-- every factor of the method.  The destination being proved, if it is
-- p_dest, becomes this one.  Failures and a skip are forgotten.
CREATE FUNCTION pam_mfa.provision_dest(p_user text, p_method text, p_dest text, p_label text,
				       p_mode text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	label text;
	held integer;
	now_ts timestamptz := pg_catalog.clock_timestamp();
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	PERFORM pam_mfa.check_dest(p_method, p_dest);
	PERFORM pam_mfa.check_mode(p_mode);
	label := pam_mfa.check_label(p_label);
	PERFORM pam_mfa.lock_user(p_user, true);
	held := pam_mfa.count_verified(p_user, p_method);
	IF (p_mode = 'new' AND held > 0)
	   OR (p_mode = 'add' AND EXISTS (SELECT 1 FROM pam_mfa.factors a
					  WHERE a.user_name = p_user AND a.method = p_method
					    AND a.dest = p_dest AND a.verified)) THEN
		RETURN 'exists';
	END IF;
	IF (p_mode = 'add' AND held >= (SELECT s.factors_per_method FROM pam_mfa.settings s))
	   OR pam_mfa.factors_full(p_user, p_method,
				   CASE WHEN p_mode = 'replace' THEN NULL ELSE p_dest END, NULL) THEN
		RETURN 'too_many';
	END IF;
	DELETE FROM pam_mfa.factors a
	 WHERE a.user_name = p_user AND a.method = p_method
	   AND (p_mode = 'replace' OR a.dest = p_dest);
	INSERT INTO pam_mfa.factors (user_name, id, method, label, verified, by_admin, added, dest)
	VALUES (p_user, pam_mfa.new_factor_id(p_user), p_method, label, true, true, now_ts, p_dest);
	PERFORM pam_mfa.new_basis(p_user);
	UPDATE pam_mfa.users x
	   SET skip_since = NULL, fail_count = 0, fail_since = NULL, locked_until = NULL
	 WHERE x.user_name = p_user;
	RETURN CASE WHEN p_mode = 'replace' AND held > 0 THEN 'replaced' ELSE 'provisioned' END;
END
$$;

-- store_code_by_admin(): a code an administrator just sent to p_dest
-- becomes the user's pending one, p_dest the unverified factor of
-- p_method on record, the administrator's.  With p_replace the verified
-- factors of the method give way in the same transaction (the basis
-- moves); without, 'stale' and nothing written if there is one.
CREATE FUNCTION pam_mfa.code_by_admin(p_user text, p_method text, p_dest text, p_code text,
				      p_replace boolean)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	target integer;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	PERFORM pam_mfa.check_dest(p_method, p_dest);
	PERFORM pam_mfa.check_new_code(p_code);
	IF p_replace IS NULL THEN
		RAISE EXCEPTION 'invalid replace' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM pam_mfa.lock_user(p_user, true);
	IF pam_mfa.count_verified(p_user, p_method) > 0 AND NOT p_replace THEN
		RETURN 'stale';
	END IF;
	-- What goes: the method's factor being proved, and with p_replace its
	-- verified ones.
	IF pam_mfa.factors_full(p_user, p_method, NULL, CASE WHEN p_replace THEN NULL ELSE false END) THEN
		RETURN 'too_many';
	END IF;
	IF pam_mfa.count_verified(p_user, p_method) > 0 THEN
		DELETE FROM pam_mfa.factors a
		 WHERE a.user_name = p_user AND a.method = p_method AND a.verified;
		PERFORM pam_mfa.new_basis(p_user);
	END IF;
	DELETE FROM pam_mfa.factors a
	 WHERE a.user_name = p_user AND a.method = p_method AND NOT a.verified AND a.dest <> p_dest;
	UPDATE pam_mfa.factors a SET by_admin = true
	 WHERE a.user_name = p_user AND a.method = p_method AND NOT a.verified
	RETURNING a.id INTO target;
	IF target IS NULL THEN
		target := pam_mfa.new_factor_id(p_user);
		INSERT INTO pam_mfa.factors (user_name, id, method, by_admin, dest)
		VALUES (p_user, target, p_method, true, p_dest);
	END IF;
	PERFORM pam_mfa.set_pending_code(p_user, target, p_method, p_code,
					 pg_catalog.clock_timestamp());
	RETURN 'ok';
END
$$;

-- store_reset(): with p_method and p_label NULL everything of the user
-- (its row, the factors cascading); else the factors of p_method, or
-- those labelled p_label (of p_method, if given too), with the failures
-- and a code pending for them.  had_state: something went; had_factor:
-- a verified factor among it; factors: how many verified ones; notify: a
-- verified address the user had, to tell them.  A label that names no
-- factor: had_state false (store.h's -ENOENT).
CREATE FUNCTION pam_mfa.reset(p_user text, p_method text, p_label text,
	OUT had_state boolean, OUT had_factor boolean, OUT factors integer, OUT notify text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
	gone integer;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	IF p_method IS NOT NULL THEN
		PERFORM pam_mfa.check_method(p_method, false);
	END IF;
	IF p_label IS NOT NULL AND (p_label = '' OR pam_mfa.check_label(p_label) <> p_label) THEN
		RAISE EXCEPTION 'invalid label' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	had_state := false;
	had_factor := false;
	factors := 0;
	notify := '';
	u := pam_mfa.lock_user(p_user, false);
	IF u.user_name IS NULL THEN
		RETURN;
	END IF;
	SELECT a.dest INTO notify FROM pam_mfa.factors a
	 WHERE a.user_name = p_user AND a.method = 'email' AND a.verified ORDER BY a.id LIMIT 1;
	notify := COALESCE(notify, '');
	IF p_method IS NULL AND p_label IS NULL THEN
		factors := (SELECT pg_catalog.count(*) FROM pam_mfa.factors a
			     WHERE a.user_name = p_user AND a.verified);
		had_state := true;
		had_factor := factors > 0;
		DELETE FROM pam_mfa.users x WHERE x.user_name = p_user; -- the rest cascades
		RETURN;
	END IF;
	WITH g AS (
		DELETE FROM pam_mfa.factors a
		 WHERE a.user_name = p_user AND (p_method IS NULL OR a.method = p_method)
		   AND (p_label IS NULL OR a.label = p_label)
		RETURNING a.verified)
	SELECT pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE g.verified)
	  INTO gone, factors FROM g;
	IF gone = 0 THEN
		RETURN;
	END IF;
	had_state := true;
	had_factor := factors > 0;
	IF had_factor THEN
		PERFORM pam_mfa.new_basis(p_user);
	END IF;
	UPDATE pam_mfa.users x SET fail_count = 0, fail_since = NULL, locked_until = NULL
	 WHERE x.user_name = p_user;
END
$$;

-- store_reset_all(): every user's state goes ("forget all devices"):
-- factors, codes, failures, remembered skips.  How many users had state.
-- The sequence goes on: no basis seen before can come back.  TRUNCATE
-- (0.1 s at 100,000 users where a DELETE and its cascades took 2 s, past
-- a store.timeout) takes the tables whole: it waits for the decisions
-- under way and holds the next ones back, so it gives up after
-- lock_timeout rather than stall every login behind one that is stuck.
CREATE FUNCTION pam_mfa.reset_all() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '2s'
AS $$
DECLARE
	n integer;
BEGIN
	LOCK TABLE pam_mfa.users, pam_mfa.factors, pam_mfa.pending_code IN ACCESS EXCLUSIVE MODE;
	SELECT pg_catalog.count(*) INTO n FROM pam_mfa.users;
	TRUNCATE pam_mfa.pending_code, pam_mfa.factors, pam_mfa.users;
	RETURN n;
END
$$;

-- store_snapshot(): every user's summary in one statement, as summary()'s
-- rows with the user's name first, ordered by name byte by byte (COLLATE
-- "C": strcmp()'s order) and then by factor id, so that the caller can
-- look a name up; a user without a row has no state.  No secret, no code
-- hash.  The times are epoch()'s expression written out (007: epoch()'s
-- own search_path keeps it from being inlined, three to four times as
-- slow at 100,000 users).
CREATE FUNCTION pam_mfa.summaries(
	OUT user_name text, OUT user_exists boolean, OUT fail_count integer,
	OUT locked_until bigint, OUT last_login bigint, OUT last_service text,
	OUT last_rhost text, OUT last_host text, OUT skip_since bigint,
	OUT factors_version bigint, OUT code_pending boolean, OUT code_factor integer,
	OUT code_expires bigint, OUT factor_id integer, OUT method text, OUT label text,
	OUT dest text, OUT verified boolean, OUT by_admin boolean, OUT added bigint,
	OUT last_used bigint, OUT totp_algorithm text, OUT totp_digits integer,
	OUT totp_period integer)
RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT u.user_name, true, u.fail_count,
	       CASE WHEN u.locked_until IS NULL THEN 0 WHEN u.locked_until = 'infinity' THEN -1
		    ELSE pg_catalog.floor(pg_catalog.date_part('epoch', u.locked_until))::bigint END,
	       CASE WHEN u.last_login IS NULL THEN 0 WHEN u.last_login = 'infinity' THEN -1
		    ELSE pg_catalog.floor(pg_catalog.date_part('epoch', u.last_login))::bigint END,
	       u.last_service, u.last_rhost,
	       CASE WHEN u.last_login IS NULL THEN ''
		    ELSE u.last_host_role || '@' || COALESCE(pg_catalog.host(u.last_host_addr), 'local') END,
	       CASE WHEN u.skip_since IS NULL THEN 0 WHEN u.skip_since = 'infinity' THEN -1
		    ELSE pg_catalog.floor(pg_catalog.date_part('epoch', u.skip_since))::bigint END,
	       u.factors_version,
	       c.user_name IS NOT NULL, COALESCE(c.factor_id, 0),
	       CASE WHEN c.expires IS NULL THEN 0 WHEN c.expires = 'infinity' THEN -1
		    ELSE pg_catalog.floor(pg_catalog.date_part('epoch', c.expires))::bigint END,
	       f.id, f.method, f.label, f.dest, f.verified, f.by_admin,
	       CASE WHEN f.added IS NULL THEN 0 WHEN f.added = 'infinity' THEN -1
		    ELSE pg_catalog.floor(pg_catalog.date_part('epoch', f.added))::bigint END,
	       CASE WHEN f.last_used IS NULL THEN 0 WHEN f.last_used = 'infinity' THEN -1
		    ELSE pg_catalog.floor(pg_catalog.date_part('epoch', f.last_used))::bigint END,
	       f.algorithm, f.digits, f.period
	  FROM pam_mfa.users u
	  LEFT JOIN pam_mfa.pending_code c ON c.user_name = u.user_name
	  LEFT JOIN pam_mfa.factors f ON f.user_name = u.user_name
	 ORDER BY u.user_name COLLATE "C", f.id
$$;

-- The organization's settings, pam_mfa.conf's bounds: each argument given
-- replaces one, NULL keeps it; out of bounds is an error and changes
-- nothing.  Returns the settings as they now are (with no argument: a
-- read).  003's eight come first, in their order, so that a call by
-- position made for version 3 still means the same.
CREATE FUNCTION pam_mfa.set_settings(
	p_totp_window integer DEFAULT NULL,
	p_lockout_attempts integer DEFAULT NULL,
	p_lockout_interval integer DEFAULT NULL,
	p_lockout_unlock_after integer DEFAULT NULL,
	p_email_code_ttl integer DEFAULT NULL,
	p_email_resend_after integer DEFAULT NULL,
	p_email_enroll_mails integer DEFAULT NULL,
	p_email_booking_window integer DEFAULT NULL,
	p_factors_per_method integer DEFAULT NULL,
	p_sms_code_ttl integer DEFAULT NULL,
	p_sms_resend_after integer DEFAULT NULL,
	p_sms_enroll_messages integer DEFAULT NULL,
	p_sms_timeout integer DEFAULT NULL)
RETURNS TABLE (totp_window integer, lockout_attempts integer, lockout_interval integer,
	       lockout_unlock_after integer, email_code_ttl integer, email_resend_after integer,
	       email_enroll_mails integer, email_booking_window integer,
	       factors_per_method integer, sms_code_ttl integer, sms_resend_after integer,
	       sms_enroll_messages integer, sms_timeout integer)
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
	   OR p_email_booking_window NOT BETWEEN 6 AND 125
	   OR p_factors_per_method NOT BETWEEN 1 AND 8
	   OR p_sms_code_ttl NOT BETWEEN 30 AND 3600
	   OR p_sms_resend_after NOT BETWEEN 5 AND 3600
	   OR p_sms_enroll_messages NOT BETWEEN 1 AND 100
	   OR p_sms_timeout NOT BETWEEN 1 AND 120 THEN
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
	       email_booking_window = COALESCE(p_email_booking_window, s.email_booking_window),
	       factors_per_method = COALESCE(p_factors_per_method, s.factors_per_method),
	       sms_code_ttl = COALESCE(p_sms_code_ttl, s.sms_code_ttl),
	       sms_resend_after = COALESCE(p_sms_resend_after, s.sms_resend_after),
	       sms_enroll_messages = COALESCE(p_sms_enroll_messages, s.sms_enroll_messages),
	       sms_timeout = COALESCE(p_sms_timeout, s.sms_timeout);
	RETURN QUERY
	SELECT s.totp_window, s.lockout_attempts, s.lockout_interval, s.lockout_unlock_after,
	       s.email_code_ttl, s.email_resend_after, s.email_enroll_mails, s.email_booking_window,
	       s.factors_per_method, s.sms_code_ttl, s.sms_resend_after, s.sms_enroll_messages,
	       s.sms_timeout
	  FROM pam_mfa.settings s;
END
$$;

-- mfactl migrate and import: a user's state as a host's files record
-- holds it.  p_factors is a JSON array of the record's factors, each an
-- object of method, label, verified, by_admin, added and last_used (unix
-- seconds, 0 none), and for an app secret (hex), algorithm, digits,
-- period and last_step, for an address or number dest; nothing else.  A
-- remembered skip (0: none).  'imported'; 'exists' (nothing written) if
-- the database holds state for the user and not p_replace; 'replaced'
-- with p_replace: the factors and the skip become the record's (each a new
-- id: a user's ids are never reused), a pending code, booking and the
-- day's count go, and the failures, lockout and last login the database
-- recorded stay (an import never unlocks anyone).  An app whose secret
-- the user held keeps the later replay step.
CREATE FUNCTION pam_mfa.import_user(p_user text, p_factors jsonb, p_skip_since bigint,
				    p_replace boolean)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
	e jsonb;
	k record;
	f record;
	had boolean;
	had_factor boolean;
	has_factor boolean := false;
	skip timestamptz;
	secret bytea;
	step bigint;
	old_steps jsonb;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	IF p_replace IS NULL OR p_factors IS NULL OR pg_catalog.jsonb_typeof(p_factors) <> 'array'
	   OR pg_catalog.jsonb_array_length(p_factors) > 24 THEN
		RAISE EXCEPTION 'invalid factors' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- Every element, key and type checked before anything is written.
	FOR e IN SELECT x.value FROM pg_catalog.jsonb_array_elements(p_factors) x LOOP
		IF pg_catalog.jsonb_typeof(e) <> 'object' THEN
			RAISE EXCEPTION 'invalid factors' USING ERRCODE = 'invalid_parameter_value';
		END IF;
		FOR k IN SELECT x.key, pg_catalog.jsonb_typeof(x.value) AS t
			   FROM pg_catalog.jsonb_each(e) x LOOP
			IF NOT ((k.key IN ('method', 'label', 'secret', 'algorithm', 'dest')
				 AND k.t = 'string')
				OR (k.key IN ('verified', 'by_admin') AND k.t = 'boolean')
				OR (k.key IN ('added', 'last_used', 'digits', 'period', 'last_step')
				    AND k.t = 'number')) THEN
				RAISE EXCEPTION 'invalid factor field' USING ERRCODE = 'invalid_parameter_value';
			END IF;
		END LOOP;
		PERFORM pam_mfa.check_method(e->>'method', false);
		PERFORM pam_mfa.check_label(COALESCE(e->>'label', ''));
		PERFORM pam_mfa.import_time((e->>'added')::numeric::bigint);
		PERFORM pam_mfa.import_time((e->>'last_used')::numeric::bigint);
		IF NOT (e ? 'verified' AND e ? 'by_admin' AND e ? 'added' AND e ? 'last_used') THEN
			RAISE EXCEPTION 'a factor without its state' USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF e->>'method' = 'totp' THEN
			IF e ? 'dest' OR NOT (e->'verified')::boolean
			   OR COALESCE(e->>'secret', '') !~ '^([0-9a-f]{2}){10,64}$'
			   OR (e->>'last_step')::numeric IS DISTINCT FROM (e->>'last_step')::numeric::bigint
			   OR (e->>'last_step')::numeric < 0 THEN
				RAISE EXCEPTION 'invalid app' USING ERRCODE = 'invalid_parameter_value';
			END IF;
			PERFORM pam_mfa.check_totp_params(pg_catalog.decode(e->>'secret', 'hex'),
							  e->>'algorithm',
							  (e->>'digits')::numeric::integer,
							  (e->>'period')::numeric::integer);
		ELSE
			IF e ? 'secret' OR e ? 'algorithm' OR e ? 'digits' OR e ? 'period'
			   OR e ? 'last_step' THEN
				RAISE EXCEPTION 'TOTP parameters without a secret'
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
			PERFORM pam_mfa.check_dest(e->>'method', e->>'dest');
		END IF;
		has_factor := has_factor OR (e->'verified')::boolean;
	END LOOP;
	IF (SELECT pg_catalog.count(*) FROM (SELECT DISTINCT x.value->>'method', x.value->>'dest'
					       FROM pg_catalog.jsonb_array_elements(p_factors) x
					      WHERE x.value ? 'dest') d)
	   <> (SELECT pg_catalog.count(*) FROM pg_catalog.jsonb_array_elements(p_factors) x
		WHERE x.value ? 'dest')
	   OR EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(p_factors) x
		       WHERE NOT (x.value->'verified')::boolean
		       GROUP BY x.value->>'method' HAVING pg_catalog.count(*) > 1) THEN
		RAISE EXCEPTION 'a destination twice, or two being proved of a method'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	skip := pam_mfa.import_time(p_skip_since);
	IF pg_catalog.jsonb_array_length(p_factors) = 0 AND skip IS NULL THEN
		RAISE EXCEPTION 'nothing to import' USING ERRCODE = 'invalid_parameter_value';
	END IF;

	u := pam_mfa.lock_user(p_user, false);
	had := u.user_name IS NOT NULL;
	IF had AND NOT p_replace THEN
		RETURN 'exists';
	END IF;
	IF NOT had THEN
		u := pam_mfa.lock_user(p_user, true);
	END IF;
	had_factor := EXISTS (SELECT 1 FROM pam_mfa.factors a WHERE a.user_name = p_user AND a.verified);
	-- A step this database accepted for a secret stays spent.
	SELECT pg_catalog.jsonb_object_agg(pg_catalog.encode(a.secret, 'hex'), a.last_step)
	  INTO old_steps
	  FROM (SELECT b.secret, pg_catalog.max(b.last_step) AS last_step FROM pam_mfa.factors b
		 WHERE b.user_name = p_user AND b.method = 'totp' GROUP BY b.secret) a;
	DELETE FROM pam_mfa.factors a WHERE a.user_name = p_user;
	FOR f IN SELECT x.value AS v FROM pg_catalog.jsonb_array_elements(p_factors)
		 WITH ORDINALITY x ORDER BY x.ordinality LOOP
		secret := NULL;
		step := NULL;
		IF f.v->>'method' = 'totp' THEN
			secret := pg_catalog.decode(f.v->>'secret', 'hex');
			step := GREATEST((f.v->>'last_step')::numeric::bigint,
					 (old_steps->>(f.v->>'secret'))::bigint);
		END IF;
		INSERT INTO pam_mfa.factors (user_name, id, method, label, verified, by_admin, added,
					     last_used, secret, algorithm, digits, period,
					     last_step, dest)
		VALUES (p_user, pam_mfa.new_factor_id(p_user), f.v->>'method',
			COALESCE(f.v->>'label', ''), (f.v->'verified')::boolean,
			(f.v->'by_admin')::boolean,
			CASE WHEN (f.v->'verified')::boolean
			     THEN COALESCE(pam_mfa.import_time((f.v->>'added')::numeric::bigint),
					   pg_catalog.clock_timestamp()) END,
			pam_mfa.import_time((f.v->>'last_used')::numeric::bigint),
			secret, f.v->>'algorithm', (f.v->>'digits')::numeric::integer,
			(f.v->>'period')::numeric::integer, step, f.v->>'dest');
	END LOOP;
	-- The basis moves whenever a factor was or is there: an enrollment
	-- offered on what the database held before must not land on this.
	IF had_factor OR has_factor THEN
		PERFORM pam_mfa.new_basis(p_user);
	END IF;
	UPDATE pam_mfa.users x
	   SET skip_since = skip, code_sent_at = NULL, booked_at = NULL, booked_method = NULL,
	       enroll_codes = 0, enroll_codes_since = NULL
	 WHERE x.user_name = p_user;
	RETURN CASE WHEN had THEN 'replaced' ELSE 'imported' END;
END
$$;

-- ---------------------------------------------------------------- rights

-- The global default privileges of 006 withhold EXECUTE from PUBLIC on
-- all of the above; again, explicitly, for a database whose owner
-- changed.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pam_mfa FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	pam_mfa.summary(text),
	pam_mfa.verify_totp(text, text, text, text),
	pam_mfa.verify_sent(text, text, integer, text, text),
	pam_mfa.enroll_totp(text, bigint, bytea, text, integer, integer, text, integer, text, text,
			    text),
	pam_mfa.enroll_sent(text, bigint, text, text, text, integer, text, text, text),
	pam_mfa.code_book(text, text, bigint, text, integer, text),
	pam_mfa.code_sent(text, text, bigint, text, integer, text, text, bigint),
	pam_mfa.code_unbook(text, text, bigint, boolean, integer, bigint),
	pam_mfa.remove_factor(text, bigint, integer, boolean),
	pam_mfa.label_factor(text, integer, text)
	TO pam_mfa_host;
GRANT EXECUTE ON FUNCTION
	pam_mfa.summary(text),
	pam_mfa.summaries(),
	pam_mfa.provision_totp(text, bytea, text, integer, integer, bigint, text, text),
	pam_mfa.provision_dest(text, text, text, text, text),
	pam_mfa.code_by_admin(text, text, text, text, boolean),
	pam_mfa.label_factor(text, integer, text),
	pam_mfa.reset(text, text, text),
	pam_mfa.reset_all(),
	pam_mfa.set_settings(integer, integer, integer, integer, integer, integer, integer, integer,
			     integer, integer, integer, integer, integer),
	pam_mfa.import_user(text, jsonb, bigint, boolean)
	TO pam_mfa_admin;

INSERT INTO pam_mfa.schema_version (version) VALUES (8);
