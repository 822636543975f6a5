-- pam_mfa's PostgreSQL schema, version 2: the functions, the only way in.
--
-- Hosts (pam_mfa_host) may call summary, verify_totp, enroll_totp and skip;
-- administrators (pam_mfa_admin) summary, provision_totp, reset, unlock and
-- list.  Each maps onto one operation of store/store.h.  All are SECURITY
-- DEFINER with a fixed search_path, no dynamic SQL, their arguments checked
-- here, and every decision taken under the users row's lock (FOR UPDATE) in
-- the caller's one transaction.  The server's clock decides, never the
-- host's.  The helpers below them are granted to nobody.

-- ---------------------------------------------------------------- helpers

-- RFC 4226's HOTP of step (RFC 6238: step = unix time / period).
CREATE FUNCTION pam_mfa.totp_code(secret bytea, step bigint, algorithm text, digits integer)
RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	mac bytea;
	off integer;
	bin bigint;
BEGIN
	IF algorithm NOT IN ('sha1', 'sha256', 'sha512') THEN
		RAISE EXCEPTION 'unknown TOTP algorithm' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF digits NOT BETWEEN 6 AND 8 THEN
		RAISE EXCEPTION 'TOTP digits must be 6 to 8' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF step < 0 THEN
		RAISE EXCEPTION 'negative TOTP step' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	mac := pam_mfa_crypto.hmac(pg_catalog.int8send(step), secret, algorithm);
	off := pg_catalog.get_byte(mac, pg_catalog.length(mac) - 1) & 15;
	-- Every operator here has the same precedence in PostgreSQL: the
	-- parentheses are the arithmetic.
	bin := ((pg_catalog.get_byte(mac, off)::bigint & 127) << 24)
	     | (pg_catalog.get_byte(mac, off + 1)::bigint << 16)
	     | (pg_catalog.get_byte(mac, off + 2)::bigint << 8)
	     | pg_catalog.get_byte(mac, off + 3)::bigint;
	RETURN pg_catalog.lpad((bin % (CASE digits WHEN 6 THEN 1000000 WHEN 7 THEN 10000000
						 ELSE 100000000 END))::text, digits, '0');
END
$$;

-- user_name_valid() of core/util.c; a bad name is an error, never a lookup.
CREATE FUNCTION pam_mfa.check_user(p_user text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_user IS NULL OR p_user !~ '^[A-Za-z0-9_@][A-Za-z0-9_.@-]*$'
	   OR pg_catalog.octet_length(p_user) > 128 THEN
		RAISE EXCEPTION 'invalid user name' USING ERRCODE = 'invalid_parameter_value';
	END IF;
END
$$;

-- A typed code as the module hands it over (core/answer.h: at most 64
-- characters).  Anything else that is not the factor's digits is a wrong
-- code, counted, as in the files backend; it is never hashed.
CREATE FUNCTION pam_mfa.check_code(p_code text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_code IS NULL OR pg_catalog.length(p_code) > 64 THEN
		RAISE EXCEPTION 'invalid code' USING ERRCODE = 'invalid_parameter_value';
	END IF;
END
$$;

CREATE FUNCTION pam_mfa.check_totp_params(p_secret bytea, p_algorithm text, p_digits integer,
					  p_period integer) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_secret IS NULL OR pg_catalog.length(p_secret) NOT BETWEEN 10 AND 64
	   OR p_algorithm IS NULL OR p_algorithm NOT IN ('sha1', 'sha256', 'sha512')
	   OR p_digits IS NULL OR p_digits NOT BETWEEN 6 AND 8
	   OR p_period IS NULL OR p_period NOT BETWEEN 10 AND 300 THEN
		RAISE EXCEPTION 'invalid TOTP parameters' USING ERRCODE = 'invalid_parameter_value';
	END IF;
END
$$;

-- Like record_set_text(): printable ASCII, at most STORE_TEXT_MAX.
CREATE FUNCTION pam_mfa.clean_text(p text) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_catalog.regexp_replace(pg_catalog.left(COALESCE(p, ''), 255), '[^ -~]', '?', 'g') $$;

-- store.h's times: 0 none, -1 forever (an admin's lock), else unix seconds.
CREATE FUNCTION pam_mfa.epoch(t timestamptz) RETURNS bigint
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN t IS NULL THEN 0
		    WHEN t = 'infinity'::timestamptz THEN -1
		    ELSE pg_catalog.floor(pg_catalog.date_part('epoch', t))::bigint END
$$;

-- totp_verify() of core/totp.c: the whole window is walked, whatever
-- matches; the oldest step after after_step is fresh, a match at or before
-- it is a replay (step set, fresh false); no match: step NULL.
CREATE FUNCTION pam_mfa.totp_match(p_secret bytea, p_algorithm text, p_digits integer,
				   p_period integer, p_code text, p_now timestamptz,
				   p_window integer, p_after_step bigint,
				   OUT step bigint, OUT fresh boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	now_step bigint;
	s bigint;
	last bigint;
	best_new bigint;
	best_old bigint;
BEGIN
	fresh := false;
	IF p_code IS NULL OR pg_catalog.length(p_code) <> p_digits OR p_code !~ '^[0-9]+$' THEN
		RETURN;
	END IF;
	now_step := pg_catalog.floor(pg_catalog.date_part('epoch', p_now) / p_period)::bigint;
	s := GREATEST(now_step - p_window, 0);
	last := now_step + p_window;
	WHILE s <= last LOOP
		IF pam_mfa.totp_code(p_secret, s, p_algorithm, p_digits) = p_code THEN
			IF s > p_after_step AND best_new IS NULL THEN
				best_new := s; -- the oldest fresh match: a later code stays usable
			ELSIF s <= p_after_step THEN
				best_old := s;
			END IF;
		END IF;
		s := s + 1;
	END LOOP;
	IF best_new IS NOT NULL THEN
		step := best_new;
		fresh := true;
	ELSE
		step := best_old;
	END IF;
END
$$;

-- The user's row, locked: every decision about a user starts here, so two
-- decisions about one user are never interleaved.  create: make an empty
-- row if there is none (a racing insert wins, and is then locked).
CREATE FUNCTION pam_mfa.lock_user(p_user text, p_create boolean) RETURNS pam_mfa.users
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
BEGIN
	SELECT * INTO u FROM pam_mfa.users x WHERE x.user_name = p_user FOR UPDATE;
	IF NOT FOUND AND p_create THEN
		INSERT INTO pam_mfa.users (user_name) VALUES (p_user) ON CONFLICT (user_name) DO NOTHING;
		SELECT * INTO u FROM pam_mfa.users x WHERE x.user_name = p_user FOR UPDATE;
	END IF;
	RETURN u; -- all NULL: no such user
END
$$;

-- What every successful second factor writes (files_ops.c note_login()):
-- failures forgiven, the login recorded with the host that made it.
CREATE FUNCTION pam_mfa.note_login(p_user text, p_now timestamptz, p_service text, p_rhost text)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
	UPDATE pam_mfa.users x
	   SET fail_count = 0, fail_since = NULL, locked_until = NULL,
	       last_login = p_now,
	       last_service = pam_mfa.clean_text(p_service),
	       last_rhost = pam_mfa.clean_text(p_rhost),
	       last_host_role = SESSION_USER,
	       last_host_addr = pg_catalog.inet_client_addr()
	 WHERE x.user_name = p_user
$$;

-- One failure, by core/lockout.c's rules; the caller holds the row lock.
CREATE FUNCTION pam_mfa.count_failure(p_user text, p_now timestamptz,
				      OUT fail_count integer, OUT locked_now boolean)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
	s pam_mfa.settings;
BEGIN
	SELECT * INTO STRICT u FROM pam_mfa.users x WHERE x.user_name = p_user FOR UPDATE;
	SELECT * INTO STRICT s FROM pam_mfa.settings;
	IF u.locked_until IS NOT NULL AND u.locked_until <= p_now THEN
		-- an expired lock starts a new count
		u.locked_until := NULL;
		u.fail_count := 0;
		u.fail_since := NULL;
	END IF;
	-- a clock that went backwards also starts a new interval
	IF u.fail_since IS NULL OR p_now < u.fail_since
	   OR p_now - u.fail_since >= pg_catalog.make_interval(secs => s.lockout_interval) THEN
		u.fail_since := p_now;
		u.fail_count := 0;
	END IF;
	IF u.fail_count < 1000000 THEN
		u.fail_count := u.fail_count + 1;
	END IF;
	locked_now := false;
	IF u.fail_count >= s.lockout_attempts AND u.locked_until IS NULL THEN
		u.locked_until := CASE WHEN s.lockout_unlock_after = 0 THEN 'infinity'::timestamptz
				  ELSE p_now + pg_catalog.make_interval(secs => s.lockout_unlock_after) END;
		locked_now := true;
	END IF;
	UPDATE pam_mfa.users x
	   SET fail_count = u.fail_count, fail_since = u.fail_since, locked_until = u.locked_until
	 WHERE x.user_name = p_user;
	fail_count := u.fail_count;
END
$$;

-- A replay step only moves forward: refuse, never clamp (FreeIPA).  A new
-- secret starts its own count.
CREATE FUNCTION pam_mfa.totp_step_forward() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NEW.secret = OLD.secret AND NEW.last_step < OLD.last_step THEN
		RAISE EXCEPTION 'the TOTP replay step of % may not move backwards', OLD.user_name
			USING ERRCODE = 'check_violation';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER totp_step_forward BEFORE UPDATE ON pam_mfa.totp
	FOR EACH ROW EXECUTE FUNCTION pam_mfa.totp_step_forward();

-- ---------------------------------------------------------------- hosts

-- store_summary(): no secret, no code hash.  A user the store does not
-- know: user_exists false, factors_version 0.  The address is whole: the
-- host mails the code to it and names it to store_verify_email().
CREATE FUNCTION pam_mfa.summary(p_user text,
	OUT user_exists boolean,
	OUT totp_enrolled boolean, OUT totp_algorithm text, OUT totp_digits integer,
	OUT totp_period integer, OUT totp_enrolled_at bigint,
	OUT email_address text, OUT email_verified boolean, OUT email_by_admin boolean,
	OUT email_enrolled_at bigint, OUT email_code_pending boolean, OUT email_code_expires bigint,
	OUT fail_count integer, OUT locked_until bigint,
	OUT last_login bigint, OUT last_service text, OUT last_rhost text, OUT last_host text,
	OUT skip_since bigint, OUT factors_version bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
	t pam_mfa.totp;
	e pam_mfa.email;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	SELECT * INTO u FROM pam_mfa.users x WHERE x.user_name = p_user;
	user_exists := FOUND;
	SELECT * INTO t FROM pam_mfa.totp y WHERE y.user_name = p_user;
	totp_enrolled := FOUND;
	SELECT * INTO e FROM pam_mfa.email z WHERE z.user_name = p_user;
	totp_algorithm := COALESCE(t.algorithm, '');
	totp_digits := COALESCE(t.digits, 0);
	totp_period := COALESCE(t.period, 0);
	totp_enrolled_at := pam_mfa.epoch(t.enrolled_at);
	email_address := COALESCE(e.address, '');
	email_verified := COALESCE(e.verified, false);
	email_by_admin := COALESCE(e.by_admin, false);
	email_enrolled_at := pam_mfa.epoch(e.enrolled_at);
	email_code_pending := e.code_hash IS NOT NULL;
	email_code_expires := pam_mfa.epoch(e.code_expires);
	fail_count := COALESCE(u.fail_count, 0);
	locked_until := pam_mfa.epoch(u.locked_until);
	last_login := pam_mfa.epoch(u.last_login);
	last_service := COALESCE(u.last_service, '');
	last_rhost := COALESCE(u.last_rhost, '');
	last_host := CASE WHEN u.last_login IS NULL THEN ''
			  ELSE u.last_host_role || '@' || COALESCE(pg_catalog.host(u.last_host_addr), 'local') END;
	skip_since := pam_mfa.epoch(u.skip_since);
	factors_version := COALESCE(u.factors_version, 0);
END
$$;

-- store_verify_totp(): the code checked, and its result recorded (replay
-- step, failures and lockout, last login), in one decision.
CREATE FUNCTION pam_mfa.verify_totp(p_user text, p_code text, p_service text, p_rhost text,
	OUT outcome text, OUT fail_count integer, OUT locked_now boolean, OUT step bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
	t pam_mfa.totp;
	s pam_mfa.settings;
	m record;
	f record;
	now_ts timestamptz;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	PERFORM pam_mfa.check_code(p_code);
	fail_count := 0;
	locked_now := false;
	step := 0;
	u := pam_mfa.lock_user(p_user, false);
	IF u.user_name IS NULL THEN
		outcome := 'not_enrolled';
		RETURN;
	END IF;
	fail_count := u.fail_count;
	SELECT * INTO t FROM pam_mfa.totp y WHERE y.user_name = p_user;
	IF NOT FOUND THEN
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
	SELECT * INTO STRICT m FROM pam_mfa.totp_match(t.secret, t.algorithm, t.digits, t.period,
						       p_code, now_ts, s.totp_window, t.last_step);
	IF m.fresh THEN
		UPDATE pam_mfa.totp y SET last_step = m.step
		 WHERE y.user_name = p_user AND y.last_step < m.step;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'the replay step did not move forward';
		END IF;
		PERFORM pam_mfa.note_login(p_user, now_ts, p_service, p_rhost);
		outcome := 'ok';
		fail_count := 0;
		step := m.step;
	ELSE
		SELECT * INTO STRICT f FROM pam_mfa.count_failure(p_user, now_ts);
		fail_count := f.fail_count;
		locked_now := f.locked_now;
		outcome := CASE WHEN m.step IS NULL THEN 'wrong' ELSE 'replay' END;
		step := COALESCE(m.step, 0);
	END IF;
END
$$;

-- store_enroll_totp(): the app's code checked against the secret it was
-- shown first (wrong: nothing written, nothing counted); then, only if the
-- user's factors are still those of factors_version, the secret saved with
-- the proving step spent, failures cleared, a skip forgotten, the login
-- recorded.  Changed factors: 'not_enrolled', nothing saved.
CREATE FUNCTION pam_mfa.enroll_totp(p_user text, p_factors_version bigint, p_secret bytea,
	p_algorithm text, p_digits integer, p_period integer, p_code text,
	p_service text, p_rhost text,
	OUT outcome text, OUT fail_count integer, OUT locked_now boolean, OUT step bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
	s pam_mfa.settings;
	m record;
	now_ts timestamptz;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	PERFORM pam_mfa.check_code(p_code);
	PERFORM pam_mfa.check_totp_params(p_secret, p_algorithm, p_digits, p_period);
	IF p_factors_version IS NULL THEN
		RAISE EXCEPTION 'an enrollment needs the factors_version it was offered on'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	fail_count := 0;
	locked_now := false;
	step := 0;
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
	IF u.user_name IS NULL OR u.factors_version <> p_factors_version THEN
		outcome := 'not_enrolled';
		fail_count := COALESCE(u.fail_count, 0);
		RETURN;
	END IF;
	INSERT INTO pam_mfa.totp AS y (user_name, secret, algorithm, digits, period, enrolled_at, last_step)
	VALUES (p_user, p_secret, p_algorithm, p_digits, p_period, now_ts, m.step)
	ON CONFLICT (user_name) DO UPDATE
	   SET secret = EXCLUDED.secret, algorithm = EXCLUDED.algorithm, digits = EXCLUDED.digits,
	       period = EXCLUDED.period, enrolled_at = EXCLUDED.enrolled_at,
	       last_step = EXCLUDED.last_step;
	UPDATE pam_mfa.users x
	   SET factors_version = pg_catalog.nextval('pam_mfa.factors_version_seq'), skip_since = NULL
	 WHERE x.user_name = p_user;
	PERFORM pam_mfa.note_login(p_user, now_ts, p_service, p_rhost);
	outcome := 'ok';
	step := m.step;
END
$$;

-- store_skip(): 'ok', or 'stale' if the factors are no longer those of
-- factors_version.  remember: the opt-out skip is kept until a reset.
CREATE FUNCTION pam_mfa.skip(p_user text, p_factors_version bigint, p_remember boolean)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	IF p_factors_version IS NULL OR p_remember IS NULL THEN
		RAISE EXCEPTION 'a skip needs its factors_version' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	u := pam_mfa.lock_user(p_user, p_remember AND p_factors_version = 0);
	IF COALESCE(u.factors_version, 0) <> p_factors_version THEN
		RETURN 'stale';
	END IF;
	IF p_remember THEN
		UPDATE pam_mfa.users x SET skip_since = pg_catalog.clock_timestamp()
		 WHERE x.user_name = p_user;
	END IF;
	RETURN 'ok';
END
$$;

-- ---------------------------------------------------------------- admins

-- store_provision_totp(): 'provisioned', 'replaced', or 'exists' (nothing
-- written) when the user has TOTP and not replace.
CREATE FUNCTION pam_mfa.provision_totp(p_user text, p_secret bytea, p_algorithm text,
	p_digits integer, p_period integer, p_last_step bigint, p_replace boolean)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	had boolean;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	PERFORM pam_mfa.check_totp_params(p_secret, p_algorithm, p_digits, p_period);
	IF p_last_step IS NULL OR p_last_step < 0 OR p_replace IS NULL THEN
		RAISE EXCEPTION 'invalid last_step or replace' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM pam_mfa.lock_user(p_user, true);
	had := EXISTS (SELECT 1 FROM pam_mfa.totp y WHERE y.user_name = p_user);
	IF had AND NOT p_replace THEN
		RETURN 'exists';
	END IF;
	INSERT INTO pam_mfa.totp AS y (user_name, secret, algorithm, digits, period, enrolled_at, last_step)
	VALUES (p_user, p_secret, p_algorithm, p_digits, p_period, pg_catalog.clock_timestamp(), p_last_step)
	ON CONFLICT (user_name) DO UPDATE
	   SET secret = EXCLUDED.secret, algorithm = EXCLUDED.algorithm, digits = EXCLUDED.digits,
	       period = EXCLUDED.period, enrolled_at = EXCLUDED.enrolled_at,
	       last_step = EXCLUDED.last_step;
	-- a new factor forgets an opt-out skip and the failures of the old
	UPDATE pam_mfa.users x
	   SET factors_version = pg_catalog.nextval('pam_mfa.factors_version_seq'),
	       skip_since = NULL, fail_count = 0, fail_since = NULL, locked_until = NULL
	 WHERE x.user_name = p_user;
	RETURN CASE WHEN had THEN 'replaced' ELSE 'provisioned' END;
END
$$;

-- store_reset(): method 'totp' or 'email' forgets that factor and the
-- failures with it; NULL forgets all the user's state.  notify: the
-- verified address the user had, to tell them.
CREATE FUNCTION pam_mfa.reset(p_user text, p_method text,
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
		IF e.user_name IS NULL THEN
			RETURN;
		END IF;
		DELETE FROM pam_mfa.email z WHERE z.user_name = p_user;
		had_factor := e.verified;
	END IF;
	had_state := true;
	UPDATE pam_mfa.users x
	   SET factors_version = pg_catalog.nextval('pam_mfa.factors_version_seq'),
	       fail_count = 0, fail_since = NULL, locked_until = NULL
	 WHERE x.user_name = p_user;
END
$$;

-- store_unlock(): how many failures were cleared; NULL if the store holds
-- no state for the user (-ENOENT).
CREATE FUNCTION pam_mfa.unlock(p_user text) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	u := pam_mfa.lock_user(p_user, false);
	IF u.user_name IS NULL THEN
		RETURN NULL;
	END IF;
	UPDATE pam_mfa.users x SET fail_count = 0, fail_since = NULL, locked_until = NULL
	 WHERE x.user_name = p_user;
	RETURN u.fail_count;
END
$$;

-- store_list(): every user the store holds state for.
CREATE FUNCTION pam_mfa.list() RETURNS SETOF text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT x.user_name FROM pam_mfa.users x ORDER BY x.user_name $$;

-- ---------------------------------------------------------------- rights

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pam_mfa FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	pam_mfa.summary(text),
	pam_mfa.verify_totp(text, text, text, text),
	pam_mfa.enroll_totp(text, bigint, bytea, text, integer, integer, text, text, text),
	pam_mfa.skip(text, bigint, boolean)
	TO pam_mfa_host;
GRANT EXECUTE ON FUNCTION
	pam_mfa.summary(text),
	pam_mfa.provision_totp(text, bytea, text, integer, integer, bigint, boolean),
	pam_mfa.reset(text, text),
	pam_mfa.unlock(text),
	pam_mfa.list()
	TO pam_mfa_admin;

INSERT INTO pam_mfa.schema_version (version) VALUES (2);
