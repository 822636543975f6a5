-- pam_mfa schema, version 5: the schema's version for the roles that only
-- execute functions, a user's whole state taken over from a host's files
-- store, and an administrator's replacement that keeps the replay step.
--
-- schema_version() lets mfactl db check (as pam_mfa_admin or a host's
-- role) compare the schema with the newest its build ships, without a
-- right on the table.  import_user() is mfactl migrate --to postgresql:
-- one user's files record (TOTP secret and parameters with its replay
-- step, the address and whether it is verified, a remembered skip) in one
-- transaction under the user's row lock.  provision_totp() (mfactl enroll,
-- import) is redefined so that a forced replacement with the same secret
-- works: 002's version wrote the given last_step, which the forward-only
-- trigger refused when it was lower.  Neither lowers the step of a secret
-- that stays: a step this database accepted was used and stays spent.
-- Hosts still only ever move it forward (verify_totp), and the trigger
-- still refuses any UPDATE that would move it back.

CREATE FUNCTION pam_mfa.schema_version() RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_catalog.max(v.version) FROM pam_mfa.schema_version v $$;

-- store_provision_totp() again (002's, same signature and grants): for the
-- same secret, the replay step is the later of the given one and the one
-- recorded; a new secret starts from the given one.
CREATE OR REPLACE FUNCTION pam_mfa.provision_totp(p_user text, p_secret bytea, p_algorithm text,
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
	       last_step = CASE WHEN y.secret = EXCLUDED.secret
				THEN GREATEST(y.last_step, EXCLUDED.last_step)
				ELSE EXCLUDED.last_step END;
	-- a new factor forgets an opt-out skip and the failures of the old
	UPDATE pam_mfa.users x
	   SET factors_version = pg_catalog.nextval('pam_mfa.factors_version_seq'),
	       skip_since = NULL, fail_count = 0, fail_since = NULL, locked_until = NULL
	 WHERE x.user_name = p_user;
	RETURN CASE WHEN had THEN 'replaced' ELSE 'provisioned' END;
END
$$;

-- Unix seconds as store.h gives them (0: none) to a time; 22023 for what no
-- record holds.
CREATE FUNCTION pam_mfa.import_time(p_seconds bigint) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_seconds IS NULL OR p_seconds < 0 OR p_seconds > 253402300799 THEN
		RAISE EXCEPTION 'invalid time' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN CASE WHEN p_seconds = 0 THEN NULL ELSE pg_catalog.to_timestamp(p_seconds) END;
END
$$;

-- mfactl migrate: the user's state as a host's files record holds it.  The
-- TOTP factor (all five of its arguments, or all NULL for none), the
-- address (NULL: none) with whether it is verified and the
-- administrator's, a remembered skip (0: none).  'imported'; 'exists'
-- (nothing written) if the database holds state for the user and not
-- p_replace; 'replaced' with p_replace: the factors and the skip become
-- the record's, a pending code or booking is dropped, and the failures,
-- lockout and last login the database recorded stay (an import never
-- unlocks anyone).
CREATE FUNCTION pam_mfa.import_user(p_user text,
	p_totp_secret bytea, p_totp_algorithm text, p_totp_digits integer, p_totp_period integer,
	p_totp_last_step bigint, p_totp_enrolled_at bigint,
	p_email_address text, p_email_verified boolean, p_email_by_admin boolean,
	p_email_enrolled_at bigint,
	p_skip_since bigint, p_replace boolean)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
	t pam_mfa.totp;
	had boolean;
	had_factor boolean;
	has_factor boolean;
	step bigint;
	skip timestamptz;
	totp_at timestamptz;
	email_at timestamptz;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	IF p_replace IS NULL THEN
		RAISE EXCEPTION 'invalid replace' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF p_totp_secret IS NOT NULL THEN
		PERFORM pam_mfa.check_totp_params(p_totp_secret, p_totp_algorithm, p_totp_digits,
						  p_totp_period);
		IF p_totp_last_step IS NULL OR p_totp_last_step < 0 THEN
			RAISE EXCEPTION 'invalid last_step' USING ERRCODE = 'invalid_parameter_value';
		END IF;
		totp_at := COALESCE(pam_mfa.import_time(p_totp_enrolled_at), pg_catalog.clock_timestamp());
	ELSIF p_totp_algorithm IS NOT NULL OR p_totp_digits IS NOT NULL OR p_totp_period IS NOT NULL
	      OR p_totp_last_step IS NOT NULL OR p_totp_enrolled_at IS NOT NULL THEN
		RAISE EXCEPTION 'TOTP parameters without a secret' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF p_email_address IS NOT NULL THEN
		PERFORM pam_mfa.check_address(p_email_address);
		IF p_email_verified IS NULL OR p_email_by_admin IS NULL THEN
			RAISE EXCEPTION 'an address needs verified and by_admin'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		email_at := pam_mfa.import_time(p_email_enrolled_at);
		IF p_email_verified THEN
			email_at := COALESCE(email_at, pg_catalog.clock_timestamp());
		ELSE
			email_at := NULL;
		END IF;
	ELSIF p_email_verified IS NOT NULL OR p_email_by_admin IS NOT NULL
	      OR p_email_enrolled_at IS NOT NULL THEN
		RAISE EXCEPTION 'email settings without an address' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	skip := pam_mfa.import_time(p_skip_since);
	IF p_totp_secret IS NULL AND p_email_address IS NULL AND skip IS NULL THEN
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
	SELECT * INTO t FROM pam_mfa.totp y WHERE y.user_name = p_user;
	had_factor := pam_mfa.holds_factor(p_user);

	IF p_totp_secret IS NULL THEN
		DELETE FROM pam_mfa.totp y WHERE y.user_name = p_user;
	ELSE
		step := p_totp_last_step;
		-- A step this database accepted for the same secret stays spent.
		IF t.user_name IS NOT NULL AND t.secret = p_totp_secret THEN
			step := GREATEST(step, t.last_step);
		END IF;
		INSERT INTO pam_mfa.totp AS y (user_name, secret, algorithm, digits, period,
					       enrolled_at, last_step)
		VALUES (p_user, p_totp_secret, p_totp_algorithm, p_totp_digits, p_totp_period,
			totp_at, step)
		ON CONFLICT (user_name) DO UPDATE
		   SET secret = EXCLUDED.secret, algorithm = EXCLUDED.algorithm,
		       digits = EXCLUDED.digits, period = EXCLUDED.period,
		       enrolled_at = EXCLUDED.enrolled_at, last_step = EXCLUDED.last_step;
	END IF;

	IF p_email_address IS NULL THEN
		DELETE FROM pam_mfa.email z WHERE z.user_name = p_user;
	ELSE
		INSERT INTO pam_mfa.email AS z (user_name, address, verified, by_admin, enrolled_at)
		VALUES (p_user, p_email_address, p_email_verified, p_email_by_admin, email_at)
		ON CONFLICT (user_name) DO UPDATE
		   SET address = EXCLUDED.address, verified = EXCLUDED.verified,
		       by_admin = EXCLUDED.by_admin, enrolled_at = EXCLUDED.enrolled_at,
		       code_salt = NULL, code_hash = NULL, code_expires = NULL,
		       code_sent_at = NULL, booked_at = NULL,
		       enroll_mails = 0, enroll_mails_since = NULL;
	END IF;

	has_factor := p_totp_secret IS NOT NULL OR COALESCE(p_email_verified, false);
	-- The basis moves whenever a factor was or is there: an enrollment
	-- offered on what the database held before must not land on this.
	UPDATE pam_mfa.users x
	   SET factors_version = CASE WHEN had_factor OR has_factor
				      THEN pg_catalog.nextval('pam_mfa.factors_version_seq')
				      ELSE x.factors_version END,
	       skip_since = skip
	 WHERE x.user_name = p_user;
	RETURN CASE WHEN had THEN 'replaced' ELSE 'imported' END;
END
$$;

REVOKE ALL ON FUNCTION pam_mfa.schema_version(), pam_mfa.import_time(bigint),
	pam_mfa.import_user(text, bytea, text, integer, integer, bigint, bigint, text, boolean,
			    boolean, bigint, bigint, boolean)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pam_mfa.schema_version() TO pam_mfa_host, pam_mfa_admin;
GRANT EXECUTE ON FUNCTION
	pam_mfa.import_user(text, bytea, text, integer, integer, bigint, bigint, text, boolean,
			    boolean, bigint, bigint, boolean)
	TO pam_mfa_admin;

INSERT INTO pam_mfa.schema_version (version) VALUES (5);
