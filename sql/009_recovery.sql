-- pam_mfa schema, version 9: recovery codes, the helpdesk's bypass code
-- and lockout notices (issue 17).
--
-- A user who lost their phone has a way back that needs no reset: one of
-- a set of one-time recovery codes made at the end of an enrollment (or
-- by an administrator, or imported from google-authenticator's scratch
-- codes), or a bypass code the helpdesk made for a few uses and a short
-- while.  Both are kept as core/code_hash.c keeps a sent code: a random
-- 16-byte salt per code and HMAC-SHA256(salt, canonical code)
-- (email_code_hash()), so that mfactl migrate copies a files record's
-- hashes as they are; no function returns a salt or a hash.  A spent
-- recovery code stays, marked used, so that the set's size is known.
--
-- A recovery or bypass code is no factor: it stands in for the verified
-- factors the user holds, so a user without one has no use for them, and
-- every change that leaves none drops them (the constraint trigger on
-- pam_mfa.factors below, whichever function made the change).  A right
-- code logs in like an app's code (failures forgiven: a host cannot know
-- it in advance) and is a strong proof for a host's change of the
-- factors (proved_method 'backup', which proof_holds() takes as it takes
-- an app's); a wrong one counts toward the one lockout.
--
-- The last lockout notice (users.lock_notice_at) lets one host of a
-- fleet mail it: lock_notice_due() claims it under the row lock.
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
-- Their results or arguments change: dropped and made again below, so
-- that no stale right stays behind.

DROP FUNCTION pam_mfa.summary(text);
DROP FUNCTION pam_mfa.summaries();
DROP FUNCTION pam_mfa.import_user(text, jsonb, bigint, boolean);

-- ---------------------------------------------------------------- tables

-- When the last notice that the user was locked out went (any host).
ALTER TABLE pam_mfa.users ADD COLUMN lock_notice_at timestamptz;

-- A proof by a recovery or bypass code: as strong as an app's.
ALTER TABLE pam_mfa.users DROP CONSTRAINT users_proved_method_check;
ALTER TABLE pam_mfa.users ADD CONSTRAINT users_proved_method_check
	CHECK (proved_method IN ('totp', 'email', 'sms', 'backup'));

-- The user's set of recovery codes: when and by whom it was made (store.h's
-- enum store_recovery_source); its size is the count of its codes.
CREATE TABLE pam_mfa.recovery_sets (
	user_name text PRIMARY KEY REFERENCES pam_mfa.users ON DELETE CASCADE,
	since timestamptz NOT NULL,
	source text NOT NULL CHECK (source IN ('user', 'admin', 'imported'))
);

-- One code of the set (n: 1 to RECOVERY_CODES_MAX), its salt and hash, and
-- when it was used (NULL: not yet).  A used one never works again.
CREATE TABLE pam_mfa.recovery_codes (
	user_name text NOT NULL REFERENCES pam_mfa.recovery_sets ON DELETE CASCADE,
	n integer NOT NULL CHECK (n BETWEEN 1 AND 20),
	salt bytea NOT NULL CHECK (pg_catalog.length(salt) = 16),
	hash bytea NOT NULL CHECK (pg_catalog.length(hash) = 32),
	used_at timestamptz,
	PRIMARY KEY (user_name, n)
);

-- The helpdesk's bypass code: works uses_left more times until expires.
-- Kept when used up or expired, so that it is told apart from a wrong
-- code ('expired'), until revoked or replaced.
CREATE TABLE pam_mfa.bypass_codes (
	user_name text PRIMARY KEY REFERENCES pam_mfa.users ON DELETE CASCADE,
	salt bytea NOT NULL CHECK (pg_catalog.length(salt) = 16),
	hash bytea NOT NULL CHECK (pg_catalog.length(hash) = 32),
	uses_left integer NOT NULL CHECK (uses_left BETWEEN 0 AND 100),
	expires timestamptz NOT NULL,
	made timestamptz NOT NULL
);

REVOKE ALL ON pam_mfa.recovery_sets, pam_mfa.recovery_codes, pam_mfa.bypass_codes FROM PUBLIC;

-- Every change that leaves the user without a verified factor drops the
-- recovery set and the bypass code: a reset by method or label, a removal
-- of the last or all, an administrator's replacement that proves nothing
-- yet.  Checked when the transaction commits, not when a row goes, so that
-- an app replaced by another (delete, then insert) keeps them.  It runs at
-- the commit, outside the function that made the change, as the calling
-- role, which may touch no table: hence SECURITY DEFINER (a trigger
-- function cannot be called but by its trigger).  A reset of everything
-- removes the users row, and the rest cascades.
CREATE FUNCTION pam_mfa.forget_backup() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pam_mfa.factors f
			WHERE f.user_name = OLD.user_name AND f.verified) THEN
		DELETE FROM pam_mfa.recovery_sets r WHERE r.user_name = OLD.user_name;
		DELETE FROM pam_mfa.bypass_codes b WHERE b.user_name = OLD.user_name;
	END IF;
	RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER factors_forget_backup AFTER DELETE OR UPDATE OF verified
	ON pam_mfa.factors DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW EXECUTE FUNCTION pam_mfa.forget_backup();

-- ---------------------------------------------------------------- helpers

-- core/recovery.h's recovery_code_is_canonical(): 12 symbols of the
-- recovery alphabet (no 0, 1, i, l, o) in lower case, or the 8 digits of
-- an imported scratch code.  Only such a code is ever hashed.
CREATE FUNCTION pam_mfa.backup_code_valid(p_code text) RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT COALESCE(p_code ~ '^([2-9a-hjkmnp-z]{12}|[0-9]{8})$', false) $$;

-- A set of codes as store.c hands it over: 1 to RECOVERY_CODES_MAX (20),
-- each canonical, no two alike; else 22023.
CREATE FUNCTION pam_mfa.check_backup_codes(p_codes text[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF p_codes IS NULL OR pg_catalog.array_ndims(p_codes) IS DISTINCT FROM 1
	   OR pg_catalog.cardinality(p_codes) NOT BETWEEN 1 AND 20
	   OR EXISTS (SELECT 1 FROM pg_catalog.unnest(p_codes) c(v)
		       WHERE NOT pam_mfa.backup_code_valid(c.v))
	   OR (SELECT pg_catalog.count(DISTINCT c.v) FROM pg_catalog.unnest(p_codes) c(v))
	      <> pg_catalog.cardinality(p_codes) THEN
		RAISE EXCEPTION 'invalid recovery codes' USING ERRCODE = 'invalid_parameter_value';
	END IF;
END
$$;

-- The codes become the user's set, made by p_source now, in place of any
-- other; each with a fresh salt.  The caller holds the row lock.
CREATE FUNCTION pam_mfa.set_recovery(p_user text, p_codes text[], p_source text,
				     p_now timestamptz)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	salt bytea;
BEGIN
	DELETE FROM pam_mfa.recovery_sets r WHERE r.user_name = p_user;
	INSERT INTO pam_mfa.recovery_sets (user_name, since, source) VALUES (p_user, p_now, p_source);
	FOR i IN 1 .. pg_catalog.cardinality(p_codes) LOOP
		salt := pam_mfa_crypto.gen_random_bytes(16);
		INSERT INTO pam_mfa.recovery_codes (user_name, n, salt, hash)
		VALUES (p_user, i, salt, pam_mfa.email_code_hash(salt, p_codes[i]));
	END LOOP;
END
$$;

-- Whether the user holds a verified factor: recovery and bypass codes
-- stand in for one.
CREATE FUNCTION pam_mfa.holds_verified(p_user text) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT EXISTS (SELECT 1 FROM pam_mfa.factors f WHERE f.user_name = p_user AND f.verified)
$$;

-- 008's, and a proof by a recovery or bypass code counts as an app's: a
-- host cannot know one in advance.
CREATE OR REPLACE FUNCTION pam_mfa.proof_holds(p_user text, p_now timestamptz) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT NOT EXISTS (SELECT 1 FROM pam_mfa.factors f WHERE f.user_name = p_user AND f.verified)
	    OR EXISTS (SELECT 1 FROM pam_mfa.users u
		        WHERE u.user_name = p_user AND u.proved_by = SESSION_USER
			  AND u.proved_version = u.factors_version
			  AND u.proved_at <= p_now
			  AND u.proved_at > p_now - pg_catalog.make_interval(secs => 600)
			  AND (u.proved_method IN ('totp', 'backup')
			       OR pam_mfa.count_verified(p_user, 'totp') = 0))
$$;

-- ---------------------------------------------------------------- hosts

-- store_summary(): 008's columns, then the recovery set's (codes left
-- unused, made, since, by whom: '' none, 'user', 'admin', 'imported') and
-- the bypass code's (uses left, expires, made; 0 none), the same on every
-- row of the user.  Never a code, salt or hash.
CREATE FUNCTION pam_mfa.summary(p_user text,
	OUT user_exists boolean, OUT fail_count integer, OUT locked_until bigint,
	OUT last_login bigint, OUT last_service text, OUT last_rhost text, OUT last_host text,
	OUT skip_since bigint, OUT factors_version bigint,
	OUT code_pending boolean, OUT code_factor integer, OUT code_expires bigint,
	OUT factor_id integer, OUT method text, OUT label text, OUT dest text,
	OUT verified boolean, OUT by_admin boolean, OUT added bigint, OUT last_used bigint,
	OUT totp_algorithm text, OUT totp_digits integer, OUT totp_period integer,
	OUT recovery_left integer, OUT recovery_made integer, OUT recovery_since bigint,
	OUT recovery_source text, OUT bypass_uses_left integer, OUT bypass_expires bigint,
	OUT bypass_made bigint)
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
	       pam_mfa.epoch(f.last_used), f.algorithm, f.digits, f.period,
	       COALESCE(rc.unused, 0)::integer, COALESCE(rc.made, 0)::integer,
	       pam_mfa.epoch(r.since), COALESCE(r.source, ''), COALESCE(b.uses_left, 0),
	       pam_mfa.epoch(b.expires), pam_mfa.epoch(b.made)
	  FROM (SELECT p_user AS n) k
	  LEFT JOIN pam_mfa.users u ON u.user_name = k.n
	  LEFT JOIN pam_mfa.pending_code c ON c.user_name = k.n
	  LEFT JOIN pam_mfa.recovery_sets r ON r.user_name = k.n
	  LEFT JOIN (SELECT pg_catalog.count(*) FILTER (WHERE x.used_at IS NULL) AS unused,
			    pg_catalog.count(*) AS made
		       FROM pam_mfa.recovery_codes x WHERE x.user_name = p_user) rc ON true
	  LEFT JOIN pam_mfa.bypass_codes b ON b.user_name = k.n
	  LEFT JOIN pam_mfa.factors f ON f.user_name = k.n
	 ORDER BY f.id;
END
$$;

-- store_verify_backup(): a recovery code of the user's set not used yet
-- (any order) is spent, else an outstanding bypass code loses a use;
-- either logs in as an app's code does (the login recorded, failures
-- forgiven: the host could not know the code) and notes this host's
-- proof ('backup').  kind: 'recovery' or 'bypass', remaining: what is
-- left of it.  A spent recovery code is 'wrong', a bypass code used up or
-- expired 'expired', anything else 'wrong'; all counted like a wrong
-- TOTP code.  Locked: 'locked', not checked, not counted.  No verified
-- factor: 'not_enrolled'.  Only a canonical code is hashed.
CREATE FUNCTION pam_mfa.verify_backup(p_user text, p_code text, p_service text, p_rhost text,
	OUT outcome text, OUT fail_count integer, OUT locked_now boolean, OUT kind text,
	OUT remaining integer)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
	b pam_mfa.bypass_codes;
	f record;
	now_ts timestamptz;
	hit integer;
	spent boolean;
	dead_bypass boolean := false;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	PERFORM pam_mfa.check_code(p_code);
	fail_count := 0;
	locked_now := false;
	kind := '';
	remaining := 0;
	u := pam_mfa.lock_user(p_user, false);
	IF u.user_name IS NULL OR NOT pam_mfa.holds_verified(p_user) THEN
		outcome := 'not_enrolled';
		fail_count := COALESCE(u.fail_count, 0);
		RETURN;
	END IF;
	fail_count := u.fail_count;
	now_ts := pg_catalog.clock_timestamp();
	IF u.locked_until IS NOT NULL AND u.locked_until > now_ts THEN
		outcome := 'locked';
		RETURN;
	END IF;
	IF pam_mfa.backup_code_valid(p_code) THEN
		-- An unused code first: the same code twice in a set is refused
		-- when it is made, but never let a used one hide a fresh one.
		SELECT x.n, x.used_at IS NOT NULL INTO hit, spent
		  FROM pam_mfa.recovery_codes x
		 WHERE x.user_name = p_user AND pam_mfa.email_code_hash(x.salt, p_code) = x.hash
		 ORDER BY x.used_at IS NOT NULL, x.n LIMIT 1;
		IF hit IS NOT NULL AND NOT spent THEN
			UPDATE pam_mfa.recovery_codes x SET used_at = now_ts
			 WHERE x.user_name = p_user AND x.n = hit;
			PERFORM pam_mfa.note_login(p_user, now_ts, p_service, p_rhost);
			PERFORM pam_mfa.note_proof(p_user, 'backup', now_ts);
			outcome := 'ok';
			fail_count := 0;
			kind := 'recovery';
			remaining := (SELECT pg_catalog.count(*) FROM pam_mfa.recovery_codes x
				       WHERE x.user_name = p_user AND x.used_at IS NULL);
			RETURN;
		END IF;
		IF hit IS NULL THEN
			SELECT * INTO b FROM pam_mfa.bypass_codes x WHERE x.user_name = p_user;
			IF b.user_name IS NOT NULL AND pam_mfa.email_code_hash(b.salt, p_code) = b.hash THEN
				IF b.uses_left > 0 AND b.expires > now_ts THEN
					UPDATE pam_mfa.bypass_codes x SET uses_left = x.uses_left - 1
					 WHERE x.user_name = p_user;
					PERFORM pam_mfa.note_login(p_user, now_ts, p_service, p_rhost);
					PERFORM pam_mfa.note_proof(p_user, 'backup', now_ts);
					outcome := 'ok';
					fail_count := 0;
					kind := 'bypass';
					remaining := b.uses_left - 1;
					RETURN;
				END IF;
				dead_bypass := true;
			END IF;
		END IF;
	END IF;
	SELECT * INTO STRICT f FROM pam_mfa.count_failure(p_user, now_ts);
	fail_count := f.fail_count;
	locked_now := f.locked_now;
	outcome := CASE WHEN dead_bypass THEN 'expired' ELSE 'wrong' END;
END
$$;

-- store_recovery_new(): the user's own new set (the end of an enrollment,
-- mfa-setup --recovery-codes) in place of the old.  'missing': the user
-- holds no verified factor; 'stale': the factors are no longer those of
-- p_factors_version; 'unproved': this host has no fresh proof
-- (proof_holds(), as for a change of the factors: a compromised host must
-- not give itself codes that log the user in); else 'ok'.
CREATE FUNCTION pam_mfa.recovery_new(p_user text, p_factors_version bigint, p_codes text[])
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
	now_ts timestamptz := pg_catalog.clock_timestamp();
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	PERFORM pam_mfa.check_backup_codes(p_codes);
	IF p_factors_version IS NULL THEN
		RAISE EXCEPTION 'recovery codes need the factors_version they were made on'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	u := pam_mfa.lock_user(p_user, false);
	IF u.user_name IS NULL OR NOT pam_mfa.holds_verified(p_user) THEN
		RETURN 'missing';
	END IF;
	IF u.factors_version <> p_factors_version THEN
		RETURN 'stale';
	END IF;
	IF NOT pam_mfa.proof_holds(p_user, now_ts) THEN
		RETURN 'unproved';
	END IF;
	PERFORM pam_mfa.set_recovery(p_user, p_codes, 'user', now_ts);
	RETURN 'ok';
END
$$;

-- store_lock_notice_due(): whether a notice that the user is locked out
-- is due, that is none went in the last p_interval seconds (60 to 604800,
-- core/config.c's notify.lockout_interval) from any host; if so the time
-- is noted, under the row lock, so that of hosts racing one mails.  A
-- clock set back makes it due rather than never.  A user without state
-- cannot be locked: false, nothing written.
CREATE FUNCTION pam_mfa.lock_notice_due(p_user text, p_interval integer) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
	now_ts timestamptz := pg_catalog.clock_timestamp();
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	IF p_interval IS NULL OR p_interval NOT BETWEEN 60 AND 604800 THEN
		RAISE EXCEPTION 'a lockout notice interval of 60 to 604800 seconds'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	u := pam_mfa.lock_user(p_user, false);
	IF u.user_name IS NULL THEN
		RETURN false;
	END IF;
	IF u.lock_notice_at IS NOT NULL AND u.lock_notice_at <= now_ts
	   AND now_ts - u.lock_notice_at < pg_catalog.make_interval(secs => p_interval) THEN
		RETURN false;
	END IF;
	UPDATE pam_mfa.users x SET lock_notice_at = now_ts WHERE x.user_name = p_user;
	RETURN true;
END
$$;

-- store_enroll_sent(): 008's, but a proof by an app (or a recovery code)
-- that allowed the enrollment goes on with the factors it made, as
-- remove_factor's does: the code of the new address or number, which the
-- host made, must not weaken it to a proof that a user with an app cannot
-- use (the recovery codes that end the enrollment need it).
CREATE OR REPLACE FUNCTION pam_mfa.enroll_sent(p_user text, p_factors_version bigint,
	p_method text, p_dest text, p_label text, p_replaces integer, p_code text,
	p_service text, p_rhost text,
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
	strong boolean;
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
	strong := pam_mfa.holds_verified(p_user) AND u.proved_by = SESSION_USER
		  AND u.proved_version = u.factors_version
		  AND u.proved_method IN ('totp', 'backup');
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
	IF strong THEN
		UPDATE pam_mfa.users x SET proved_version = x.factors_version
		 WHERE x.user_name = p_user;
	ELSE
		PERFORM pam_mfa.note_proof(p_user, p_method, now_ts);
	END IF;
	factor_id := f.id;
END
$$;

-- ---------------------------------------------------------------- admins

-- store_recovery_admin(): a set by the administrator (mfactl
-- recovery-codes, enroll: 'admin'; import: 'imported'), no basis, no
-- proof.  'missing' if the user holds no verified factor, else 'ok'.
CREATE FUNCTION pam_mfa.recovery_admin(p_user text, p_codes text[], p_source text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	PERFORM pam_mfa.check_backup_codes(p_codes);
	IF p_source IS NULL OR p_source NOT IN ('admin', 'imported') THEN
		RAISE EXCEPTION 'an administrator''s recovery codes are admin or imported'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	u := pam_mfa.lock_user(p_user, false);
	IF u.user_name IS NULL OR NOT pam_mfa.holds_verified(p_user) THEN
		RETURN 'missing';
	END IF;
	PERFORM pam_mfa.set_recovery(p_user, p_codes, p_source, pg_catalog.clock_timestamp());
	RETURN 'ok';
END
$$;

-- store_bypass_new(): p_code works p_uses times (1 to 100) until
-- p_expires (unix seconds), in place of any other bypass code; the factors
-- and recovery codes stay.  'missing' if the user holds no verified
-- factor (nothing to bypass), else 'ok'.
CREATE FUNCTION pam_mfa.bypass_new(p_user text, p_code text, p_uses integer, p_expires bigint)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	u pam_mfa.users;
	salt bytea := pam_mfa_crypto.gen_random_bytes(16);
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	IF NOT pam_mfa.backup_code_valid(p_code) OR p_uses IS NULL OR p_uses NOT BETWEEN 1 AND 100
	   OR p_expires IS NULL OR p_expires < 1 OR p_expires > 253402300799 THEN
		RAISE EXCEPTION 'a bypass code, its uses (1 to 100) and expiry'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	u := pam_mfa.lock_user(p_user, false);
	IF u.user_name IS NULL OR NOT pam_mfa.holds_verified(p_user) THEN
		RETURN 'missing';
	END IF;
	INSERT INTO pam_mfa.bypass_codes AS x (user_name, salt, hash, uses_left, expires, made)
	VALUES (p_user, salt, pam_mfa.email_code_hash(salt, p_code), p_uses,
		pg_catalog.to_timestamp(p_expires), pg_catalog.clock_timestamp())
	ON CONFLICT (user_name) DO UPDATE
	   SET salt = EXCLUDED.salt, hash = EXCLUDED.hash, uses_left = EXCLUDED.uses_left,
	       expires = EXCLUDED.expires, made = EXCLUDED.made;
	RETURN 'ok';
END
$$;

-- store_bypass_revoke(): the user's bypass code goes; whether one was
-- outstanding (uses left, not expired).
CREATE FUNCTION pam_mfa.bypass_revoke(p_user text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	had boolean;
BEGIN
	PERFORM pam_mfa.check_user(p_user);
	PERFORM pam_mfa.lock_user(p_user, false);
	WITH gone AS (
		DELETE FROM pam_mfa.bypass_codes x WHERE x.user_name = p_user
		RETURNING x.uses_left > 0 AND x.expires > pg_catalog.clock_timestamp() AS live)
	SELECT COALESCE(pg_catalog.bool_or(g.live), false) INTO had FROM gone g;
	RETURN had;
END
$$;

-- store_reset_all(): 008's, with the new tables in the TRUNCATE (a
-- TRUNCATE of users must name every table that refers to it).
CREATE OR REPLACE FUNCTION pam_mfa.reset_all() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '2s'
AS $$
DECLARE
	n integer;
BEGIN
	LOCK TABLE pam_mfa.users, pam_mfa.factors, pam_mfa.pending_code, pam_mfa.recovery_sets,
		pam_mfa.recovery_codes, pam_mfa.bypass_codes IN ACCESS EXCLUSIVE MODE;
	SELECT pg_catalog.count(*) INTO n FROM pam_mfa.users;
	TRUNCATE pam_mfa.recovery_codes, pam_mfa.recovery_sets, pam_mfa.bypass_codes,
		pam_mfa.pending_code, pam_mfa.factors, pam_mfa.users;
	RETURN n;
END
$$;

-- store_snapshot(): summary()'s rows for every user, the user's name
-- first (as 008's), with the recovery and bypass columns.
CREATE FUNCTION pam_mfa.summaries(
	OUT user_name text, OUT user_exists boolean, OUT fail_count integer,
	OUT locked_until bigint, OUT last_login bigint, OUT last_service text,
	OUT last_rhost text, OUT last_host text, OUT skip_since bigint,
	OUT factors_version bigint, OUT code_pending boolean, OUT code_factor integer,
	OUT code_expires bigint, OUT factor_id integer, OUT method text, OUT label text,
	OUT dest text, OUT verified boolean, OUT by_admin boolean, OUT added bigint,
	OUT last_used bigint, OUT totp_algorithm text, OUT totp_digits integer,
	OUT totp_period integer, OUT recovery_left integer, OUT recovery_made integer,
	OUT recovery_since bigint, OUT recovery_source text, OUT bypass_uses_left integer,
	OUT bypass_expires bigint, OUT bypass_made bigint)
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
	       f.algorithm, f.digits, f.period,
	       COALESCE(rc.unused, 0)::integer, COALESCE(rc.made, 0)::integer,
	       CASE WHEN r.since IS NULL THEN 0 WHEN r.since = 'infinity' THEN -1
		    ELSE pg_catalog.floor(pg_catalog.date_part('epoch', r.since))::bigint END,
	       COALESCE(r.source, ''), COALESCE(b.uses_left, 0),
	       CASE WHEN b.expires IS NULL THEN 0 WHEN b.expires = 'infinity' THEN -1
		    ELSE pg_catalog.floor(pg_catalog.date_part('epoch', b.expires))::bigint END,
	       CASE WHEN b.made IS NULL THEN 0 WHEN b.made = 'infinity' THEN -1
		    ELSE pg_catalog.floor(pg_catalog.date_part('epoch', b.made))::bigint END
	  FROM pam_mfa.users u
	  LEFT JOIN pam_mfa.pending_code c ON c.user_name = u.user_name
	  LEFT JOIN pam_mfa.recovery_sets r ON r.user_name = u.user_name
	  LEFT JOIN (SELECT x.user_name,
			    pg_catalog.count(*) FILTER (WHERE x.used_at IS NULL) AS unused,
			    pg_catalog.count(*) AS made
		       FROM pam_mfa.recovery_codes x GROUP BY x.user_name) rc
		 ON rc.user_name = u.user_name
	  LEFT JOIN pam_mfa.bypass_codes b ON b.user_name = u.user_name
	  LEFT JOIN pam_mfa.factors f ON f.user_name = u.user_name
	 ORDER BY u.user_name COLLATE "C", f.id
$$;

-- mfactl migrate and import: 008's import_user, and the record's recovery
-- set and bypass code as they are kept (their hashes copied, never a
-- code).  p_recovery: NULL for none, or an object of source ('user',
-- 'admin', 'imported'), since (unix seconds) and codes, an array of 1 to
-- 20 objects of salt (16 bytes) and hash (32 bytes) in lower-case hex and
-- used (unix seconds, 0 not yet).  p_bypass: NULL, or an object of salt,
-- hash, uses_left (0 to 100), expires and made.  Every key and type
-- checked (22023) before anything is written.  With p_replace the
-- database's set and bypass code give way to the record's (or to none).
-- A record that holds them without a verified factor keeps neither: no
-- store keeps them without one.
CREATE FUNCTION pam_mfa.import_user(p_user text, p_factors jsonb, p_skip_since bigint,
				    p_replace boolean, p_recovery jsonb DEFAULT NULL,
				    p_bypass jsonb DEFAULT NULL)
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
	-- The recovery set: its keys, then each code's.
	IF p_recovery IS NOT NULL THEN
		IF pg_catalog.jsonb_typeof(p_recovery) <> 'object'
		   OR EXISTS (SELECT 1 FROM pg_catalog.jsonb_object_keys(p_recovery) x(key)
			       WHERE x.key NOT IN ('source', 'since', 'codes'))
		   OR pg_catalog.jsonb_typeof(p_recovery->'source') IS DISTINCT FROM 'string'
		   OR p_recovery->>'source' NOT IN ('user', 'admin', 'imported')
		   OR pg_catalog.jsonb_typeof(p_recovery->'since') IS DISTINCT FROM 'number'
		   OR pg_catalog.jsonb_typeof(p_recovery->'codes') IS DISTINCT FROM 'array'
		   OR pg_catalog.jsonb_array_length(p_recovery->'codes') NOT BETWEEN 1 AND 20 THEN
			RAISE EXCEPTION 'invalid recovery set' USING ERRCODE = 'invalid_parameter_value';
		END IF;
		PERFORM pam_mfa.import_time((p_recovery->>'since')::numeric::bigint);
		FOR e IN SELECT x.value FROM pg_catalog.jsonb_array_elements(p_recovery->'codes') x LOOP
			IF pg_catalog.jsonb_typeof(e) <> 'object'
			   OR EXISTS (SELECT 1 FROM pg_catalog.jsonb_object_keys(e) x(key)
				       WHERE x.key NOT IN ('salt', 'hash', 'used'))
			   OR pg_catalog.jsonb_typeof(e->'salt') IS DISTINCT FROM 'string'
			   OR pg_catalog.jsonb_typeof(e->'hash') IS DISTINCT FROM 'string'
			   OR pg_catalog.jsonb_typeof(e->'used') IS DISTINCT FROM 'number'
			   OR e->>'salt' !~ '^[0-9a-f]{32}$' OR e->>'hash' !~ '^[0-9a-f]{64}$' THEN
				RAISE EXCEPTION 'invalid recovery code' USING ERRCODE = 'invalid_parameter_value';
			END IF;
			PERFORM pam_mfa.import_time((e->>'used')::numeric::bigint);
		END LOOP;
	END IF;
	IF p_bypass IS NOT NULL THEN
		IF pg_catalog.jsonb_typeof(p_bypass) <> 'object'
		   OR EXISTS (SELECT 1 FROM pg_catalog.jsonb_object_keys(p_bypass) x(key)
			       WHERE x.key NOT IN ('salt', 'hash', 'uses_left', 'expires', 'made'))
		   OR pg_catalog.jsonb_typeof(p_bypass->'salt') IS DISTINCT FROM 'string'
		   OR pg_catalog.jsonb_typeof(p_bypass->'hash') IS DISTINCT FROM 'string'
		   OR p_bypass->>'salt' !~ '^[0-9a-f]{32}$' OR p_bypass->>'hash' !~ '^[0-9a-f]{64}$'
		   OR pg_catalog.jsonb_typeof(p_bypass->'uses_left') IS DISTINCT FROM 'number'
		   OR pg_catalog.jsonb_typeof(p_bypass->'expires') IS DISTINCT FROM 'number'
		   OR pg_catalog.jsonb_typeof(p_bypass->'made') IS DISTINCT FROM 'number'
		   OR (p_bypass->>'uses_left')::numeric NOT BETWEEN 0 AND 100
		   OR (p_bypass->>'uses_left')::numeric <> pg_catalog.trunc((p_bypass->>'uses_left')::numeric)
		   OR pam_mfa.import_time((p_bypass->>'expires')::numeric::bigint) IS NULL
		   OR pam_mfa.import_time((p_bypass->>'made')::numeric::bigint) IS NULL THEN
			RAISE EXCEPTION 'invalid bypass code' USING ERRCODE = 'invalid_parameter_value';
		END IF;
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
	DELETE FROM pam_mfa.recovery_sets r WHERE r.user_name = p_user;
	DELETE FROM pam_mfa.bypass_codes b WHERE b.user_name = p_user;
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
	IF has_factor AND p_recovery IS NOT NULL THEN
		INSERT INTO pam_mfa.recovery_sets (user_name, since, source)
		VALUES (p_user, COALESCE(pam_mfa.import_time((p_recovery->>'since')::numeric::bigint),
					 pg_catalog.clock_timestamp()),
			p_recovery->>'source');
		INSERT INTO pam_mfa.recovery_codes (user_name, n, salt, hash, used_at)
		SELECT p_user, x.ordinality, pg_catalog.decode(x.value->>'salt', 'hex'),
		       pg_catalog.decode(x.value->>'hash', 'hex'),
		       pam_mfa.import_time((x.value->>'used')::numeric::bigint)
		  FROM pg_catalog.jsonb_array_elements(p_recovery->'codes') WITH ORDINALITY x;
	END IF;
	IF has_factor AND p_bypass IS NOT NULL THEN
		INSERT INTO pam_mfa.bypass_codes (user_name, salt, hash, uses_left, expires, made)
		VALUES (p_user, pg_catalog.decode(p_bypass->>'salt', 'hex'),
			pg_catalog.decode(p_bypass->>'hash', 'hex'),
			(p_bypass->>'uses_left')::numeric::integer,
			pam_mfa.import_time((p_bypass->>'expires')::numeric::bigint),
			pam_mfa.import_time((p_bypass->>'made')::numeric::bigint));
	END IF;
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

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pam_mfa FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	pam_mfa.summary(text),
	pam_mfa.verify_backup(text, text, text, text),
	pam_mfa.recovery_new(text, bigint, text[]),
	pam_mfa.lock_notice_due(text, integer)
	TO pam_mfa_host;
GRANT EXECUTE ON FUNCTION
	pam_mfa.summary(text),
	pam_mfa.summaries(),
	pam_mfa.recovery_admin(text, text[], text),
	pam_mfa.bypass_new(text, text, integer, bigint),
	pam_mfa.bypass_revoke(text),
	pam_mfa.import_user(text, jsonb, bigint, boolean, jsonb, jsonb)
	TO pam_mfa_admin;

INSERT INTO pam_mfa.schema_version (version) VALUES (9);
