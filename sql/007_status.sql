-- pam_mfa schema, version 7: every user's summary in one call, for
-- mfactl status.
--
-- mfactl status called summary() once per user: at 100,000 users, 100,000
-- round trips, each a statement and a plpgsql call.  summaries() returns
-- the same columns as summary(), last_host last,
-- for every user the store holds state for, in one statement and one
-- snapshot, ordered by name byte by byte (COLLATE "C": strcmp()'s order,
-- whatever the database's collation), so that the caller can look a name
-- up.  A user without a row here has no state: summary() would answer
-- user_exists false and zeros.  No secret, no code hash, as summary().
-- For the administrator only.

CREATE FUNCTION pam_mfa.summaries(
	OUT user_name text, OUT user_exists boolean,
	OUT totp_enrolled boolean, OUT totp_algorithm text, OUT totp_digits integer,
	OUT totp_period integer, OUT totp_enrolled_at bigint,
	OUT email_address text, OUT email_verified boolean, OUT email_by_admin boolean,
	OUT email_enrolled_at bigint, OUT email_code_pending boolean, OUT email_code_expires bigint,
	OUT fail_count integer, OUT locked_until bigint,
	OUT last_login bigint, OUT last_service text, OUT last_rhost text,
	OUT skip_since bigint, OUT factors_version bigint, OUT last_host text)
RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT u.user_name, true,
	       t.user_name IS NOT NULL, COALESCE(t.algorithm, ''), COALESCE(t.digits, 0),
	       COALESCE(t.period, 0), pam_mfa.epoch(t.enrolled_at),
	       COALESCE(e.address, ''), COALESCE(e.verified, false), COALESCE(e.by_admin, false),
	       pam_mfa.epoch(e.enrolled_at), e.code_hash IS NOT NULL, pam_mfa.epoch(e.code_expires),
	       u.fail_count, pam_mfa.epoch(u.locked_until),
	       pam_mfa.epoch(u.last_login), u.last_service, u.last_rhost,
	       pam_mfa.epoch(u.skip_since), u.factors_version,
	       CASE WHEN u.last_login IS NULL THEN ''
		    ELSE u.last_host_role || '@' || COALESCE(pg_catalog.host(u.last_host_addr), 'local') END
	  FROM pam_mfa.users u
	  LEFT JOIN pam_mfa.totp t ON t.user_name = u.user_name
	  LEFT JOIN pam_mfa.email e ON e.user_name = u.user_name
	 ORDER BY u.user_name COLLATE "C"
$$;

REVOKE ALL ON FUNCTION pam_mfa.summaries() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pam_mfa.summaries() TO pam_mfa_admin;

INSERT INTO pam_mfa.schema_version (version) VALUES (7);
