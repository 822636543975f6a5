-- pam_mfa schema, version 4: a host enrolls a user's first factor only.
--
-- Versions 2 and 3 let a host replace an enrolled user's TOTP secret, or
-- add an email factor beside one, on the current factors_version: the
-- files backend's module never offers that, but a compromised host could
-- call enroll_totp()/enroll_email() itself, take over any enrolled user's
-- second factor and log in as them on every host.  Now both refuse
-- ('not_enrolled', nothing written, nothing counted) when the user already
-- holds a factor: a TOTP secret or a verified address.  Replacing or
-- adding a factor for an enrolled user is the administrator's
-- (provision_totp, provision_email, reset), until a host can carry the
-- proof of the current factor into the same transaction.

CREATE FUNCTION pam_mfa.holds_factor(p_user text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT EXISTS (SELECT 1 FROM pam_mfa.totp t WHERE t.user_name = p_user)
	    OR EXISTS (SELECT 1 FROM pam_mfa.email e
		       WHERE e.user_name = p_user AND e.verified)
$$;
REVOKE ALL ON FUNCTION pam_mfa.holds_factor(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION pam_mfa.enroll_totp(p_user text, p_factors_version bigint, p_secret bytea,
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
	-- A host may enroll a first factor only: replacing or adding one
	-- would let a compromised host take over an enrolled user fleet-wide.
	IF u.user_name IS NULL OR u.factors_version <> p_factors_version
	   OR pam_mfa.holds_factor(p_user) THEN
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

CREATE OR REPLACE FUNCTION pam_mfa.enroll_email(p_user text, p_factors_version bigint, p_address text,
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
	-- A first factor only, as enroll_totp().
	IF NOT pam_mfa.basis_holds(u, p_factors_version) OR pam_mfa.holds_factor(p_user) THEN
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

INSERT INTO pam_mfa.schema_version (version) VALUES (4);
