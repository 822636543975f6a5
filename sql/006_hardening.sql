-- pam_mfa schema, version 6: a security review's findings on the schema.
--
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

INSERT INTO pam_mfa.schema_version (version) VALUES (6);
