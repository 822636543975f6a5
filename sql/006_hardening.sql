-- pam_mfa schema, version 6: a security review's findings on the schema.
--
-- - An email code no longer forgives failures.  A host makes every code
--   it mails, so a compromised host knows it: with version 3's rule (any
--   successful second factor clears the count and the lock) it could
--   mail itself a code for a user and clear the failures that other
--   hosts had counted, again and again, so that guesses spread over the
--   fleet never added up to a lockout.  Now only what a host cannot forge
--   clears them: a right TOTP code (verify_totp, enroll_totp), an
--   administrator's unlock, provisioning or reset, or time (the
--   interval, unlock_after).  A lock refuses an email code as before.
-- - New functions are nobody's by default.  001's ALTER DEFAULT PRIVILEGES
--   IN SCHEMA ... REVOKE did nothing: per-schema default privileges can
--   only add to the global ones, and the global default gives PUBLIC
--   EXECUTE on every new function.  The owner's global default now
--   withholds it (in this database: the owner is pam_mfa's own role).
-- - holds_factor() is SECURITY INVOKER: only definer functions call it,
--   which run as the owner already; no helper needs more rights than its
--   caller's.
--
-- Apply as the schema's owner (ALTER DEFAULT PRIVILEGES is the current
-- role's), in one transaction.

DO $owner$
BEGIN
	IF (SELECT n.nspowner FROM pg_catalog.pg_namespace n WHERE n.nspname = 'pam_mfa')
	   <> (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = CURRENT_USER) THEN
		RAISE EXCEPTION 'apply pam_mfa''s migrations as the owner of schema pam_mfa, not as %',
			CURRENT_USER;
	END IF;
END
$owner$;

-- ---------------------------------------------------------------- rights

-- Global (no IN SCHEMA): the only form that can take PUBLIC's EXECUTE
-- away from the functions this role creates later.
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
-- 001's per-schema entries were no-ops; nothing of them to undo.  What
-- exists already was revoked by 002 and 003; again, for what came since.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pam_mfa FROM PUBLIC;

-- ---------------------------------------------------------------- helpers

ALTER FUNCTION pam_mfa.holds_factor(text) SECURITY INVOKER;

-- ---------------------------------------------------------------- email

-- The login recorded with the host that made it, failures left as they
-- are: what an email code's success writes.  note_login() (002) is this
-- and the failures forgiven, for TOTP.
CREATE FUNCTION pam_mfa.record_login(p_user text, p_now timestamptz, p_service text, p_rhost text)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
	UPDATE pam_mfa.users x
	   SET last_login = p_now,
	       last_service = pam_mfa.clean_text(p_service),
	       last_rhost = pam_mfa.clean_text(p_rhost),
	       last_host_role = SESSION_USER,
	       last_host_addr = pg_catalog.inet_client_addr()
	 WHERE x.user_name = p_user
$$;
REVOKE ALL ON FUNCTION pam_mfa.record_login(text, timestamptz, text, text) FROM PUBLIC;

-- check_email() of 003, but a right code records the login and forgives
-- nothing: fail_count is returned as it stays.
CREATE OR REPLACE FUNCTION pam_mfa.check_email(p_user text, p_code text, p_address text,
	p_enrolling boolean, p_service text, p_rhost text,
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
		-- The host that mailed the code knows it: its success is no
		-- proof that the failures counted elsewhere were the user's.
		PERFORM pam_mfa.record_login(p_user, now_ts, p_service, p_rhost);
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
REVOKE ALL ON FUNCTION pam_mfa.check_email(text, text, text, boolean, text, text) FROM PUBLIC;

INSERT INTO pam_mfa.schema_version (version) VALUES (6);
