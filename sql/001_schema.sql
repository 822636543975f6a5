-- pam_mfa's PostgreSQL schema, version 1: the tables of users' MFA state,
-- the settings the server decides with, and the two group roles.
--
--   pam_mfa.schema_version  one row per migration applied
--   pam_mfa.settings        one row: TOTP window and lockout rules (the
--                           defaults of core/config.c); hosts cannot change it
--   pam_mfa.users           a user's lockout, last login, remembered skip and
--                           factors_version (store.h's basis); its row is the
--                           lock every decision about the user takes
--   pam_mfa.totp            the TOTP factor: secret, params, replay step
--   pam_mfa.email           the email factor and its pending code (salt+hash)
--
-- Times are timestamptz; locked_until 'infinity' means until an admin
-- unlocks.  Nobody but the owner reads a table: pam_mfa_host and
-- pam_mfa_admin only execute functions (002_functions.sql).  Apply with
-- psql -v ON_ERROR_STOP=1 --single-transaction, as the schema's owner.

DO $roles$
BEGIN
	-- Roles are the cluster's, not the database's: a site may have made
	-- them already (then the owner needs no CREATEROLE).
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'pam_mfa_host') THEN
		CREATE ROLE pam_mfa_host NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'pam_mfa_admin') THEN
		CREATE ROLE pam_mfa_admin NOLOGIN;
	END IF;
END
$roles$;

CREATE SCHEMA pam_mfa;
REVOKE ALL ON SCHEMA pam_mfa FROM PUBLIC;

-- pgcrypto in a schema of its own that nobody else may use: hosts get no
-- hmac() or gen_random_bytes() to play with, only our functions.
DO $crypto$
DECLARE
	where_now name;
BEGIN
	SELECT n.nspname INTO where_now
	  FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
	 WHERE e.extname = 'pgcrypto';
	IF where_now IS NOT NULL THEN
		RAISE EXCEPTION 'pgcrypto is installed in schema %; pam_mfa needs it in its own schema pam_mfa_crypto', where_now
			USING HINT = 'ALTER EXTENSION pgcrypto SET SCHEMA pam_mfa_crypto (after CREATE SCHEMA pam_mfa_crypto), or use another database';
	END IF;
END
$crypto$;
CREATE SCHEMA pam_mfa_crypto;
REVOKE ALL ON SCHEMA pam_mfa_crypto FROM PUBLIC;
CREATE EXTENSION pgcrypto WITH SCHEMA pam_mfa_crypto;

CREATE TABLE pam_mfa.schema_version (
	version integer PRIMARY KEY CHECK (version > 0),
	applied_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);

-- The bounds are those of pam_mfa.conf (core/config.c).
CREATE TABLE pam_mfa.settings (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	totp_window integer NOT NULL DEFAULT 1 CHECK (totp_window BETWEEN 0 AND 10),
	lockout_attempts integer NOT NULL DEFAULT 5 CHECK (lockout_attempts BETWEEN 1 AND 1000),
	lockout_interval integer NOT NULL DEFAULT 900 CHECK (lockout_interval BETWEEN 1 AND 31536000),
	-- 0: a lock lasts until an admin unlocks
	lockout_unlock_after integer NOT NULL DEFAULT 900 CHECK (lockout_unlock_after BETWEEN 0 AND 31536000)
);
INSERT INTO pam_mfa.settings DEFAULT VALUES;

-- Never reused, not even after a reset removes a user: a basis seen before
-- a change can never match again (except "no factors at all", 0, which is
-- the same factors).
CREATE SEQUENCE pam_mfa.factors_version_seq AS bigint;

CREATE TABLE pam_mfa.users (
	-- core/util.c user_name_valid(): ASCII letters, digits, _ . - @, not
	-- starting with . or -, at most USER_NAME_MAX (128) bytes
	user_name text PRIMARY KEY
		CHECK (user_name ~ '^[A-Za-z0-9_@][A-Za-z0-9_.@-]*$' AND pg_catalog.octet_length(user_name) <= 128),
	factors_version bigint NOT NULL DEFAULT 0,
	fail_count integer NOT NULL DEFAULT 0 CHECK (fail_count >= 0),
	fail_since timestamptz,
	locked_until timestamptz, -- NULL: not locked; 'infinity': until an admin unlocks
	skip_since timestamptz,   -- a remembered opt-out skip
	last_login timestamptz,
	last_service text NOT NULL DEFAULT '' CHECK (pg_catalog.length(last_service) <= 255),
	last_rhost text NOT NULL DEFAULT '' CHECK (pg_catalog.length(last_rhost) <= 255),
	last_host_role text NOT NULL DEFAULT '', -- the login role of the host that recorded it
	last_host_addr inet,                     -- its address (NULL: a unix socket)
	created_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);

CREATE TABLE pam_mfa.totp (
	user_name text PRIMARY KEY REFERENCES pam_mfa.users ON DELETE CASCADE,
	secret bytea NOT NULL CHECK (pg_catalog.length(secret) BETWEEN 10 AND 64),
	algorithm text NOT NULL CHECK (algorithm IN ('sha1', 'sha256', 'sha512')),
	digits integer NOT NULL CHECK (digits BETWEEN 6 AND 8),
	period integer NOT NULL CHECK (period BETWEEN 10 AND 300),
	enrolled_at timestamptz NOT NULL,
	last_step bigint NOT NULL DEFAULT 0 CHECK (last_step >= 0)
);

CREATE TABLE pam_mfa.email (
	user_name text PRIMARY KEY REFERENCES pam_mfa.users ON DELETE CASCADE,
	address text NOT NULL CHECK (pg_catalog.length(address) BETWEEN 3 AND 254),
	verified boolean NOT NULL DEFAULT false,
	by_admin boolean NOT NULL DEFAULT false,
	enrolled_at timestamptz,
	code_salt bytea, -- the pending code, as core/code_hash.c keeps it
	code_hash bytea,
	code_expires timestamptz,
	code_sent_at timestamptz,
	booked_at timestamptz, -- a code on its way (store_email_book)
	enroll_mails integer NOT NULL DEFAULT 0 CHECK (enroll_mails >= 0),
	enroll_mails_since timestamptz,
	CHECK ((code_hash IS NULL) = (code_salt IS NULL)),
	CHECK (code_hash IS NULL OR code_expires IS NOT NULL)
);

REVOKE ALL ON ALL TABLES IN SCHEMA pam_mfa FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA pam_mfa FROM PUBLIC;
-- What the owner creates here later is nobody else's either.
ALTER DEFAULT PRIVILEGES IN SCHEMA pam_mfa REVOKE ALL ON TABLES FROM PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA pam_mfa REVOKE ALL ON SEQUENCES FROM PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA pam_mfa REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
GRANT USAGE ON SCHEMA pam_mfa TO pam_mfa_host, pam_mfa_admin;

INSERT INTO pam_mfa.schema_version (version) VALUES (1);
