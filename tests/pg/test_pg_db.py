#!/usr/bin/python3
"""mfactl db on a real PostgreSQL 15 (pgrig.py): db init creates and
upgrades the schema, idempotently, safely twice at once, and a migration
that fails, has an unexpected name or records another number changes
nothing; db check finds every right that is not as designed; an admin's
forced replacement keeps the replay step of the same secret; migrate
carries a host's files store into the database, and logins go on through
pam_mfa.so (pamrun) with the replay step carried over."""
import base64
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgrig  # noqa: E402
from pgrig import ADMIN, HOSTS, OWNER, SUPER  # noqa: E402
from mfatest import World  # noqa: E402
from realclock import fresh_code, next_step_code  # noqa: E402

SQL_DIR = os.path.abspath(os.environ["MFA_SQL_DIR"])
SHIPPED = sorted(f for f in os.listdir(SQL_DIR) if f.endswith(".sql"))
NEWEST = len(SHIPPED)


class DbInit(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = pgrig.Cluster(SQL_DIR).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.pg.__exit__(None, None, None)

    def setUp(self):
        # Root's, as db init demands of the files it runs.
        self.dir = tempfile.mkdtemp(prefix="pam_mfa-sql-")
        os.chmod(self.dir, 0o755)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def fresh_db(self, name):
        self.pg.sql(SUPER, f"CREATE DATABASE {name} OWNER {OWNER}", db="postgres")
        return name

    def sql_dir(self, extra=None, upto=NEWEST):
        """A copy of the first upto migrations, with extra {name: text}."""
        for name in SHIPPED[:upto]:
            shutil.copy(os.path.join(SQL_DIR, name), self.dir)
        for name, text in (extra or {}).items():
            with open(os.path.join(self.dir, name), "w") as f:
                f.write(text)
        return self.dir

    def versions(self, db):
        return [int(r[0]) for r in self.pg.sql(
            OWNER, "SELECT version FROM pam_mfa.schema_version ORDER BY 1", db=db)]

    def test_fresh_then_up_to_date(self):
        db = self.fresh_db("fresh")
        proc = self.pg.db_init(db=db)
        self.assertEqual(proc.returncode, 0, proc)
        for i, name in enumerate(SHIPPED, 1):
            self.assertIn(f"applied {name} (version {i})", proc.stdout)
        self.assertIn(f"schema at version {NEWEST} (was 0)", proc.stdout)
        self.assertEqual(self.versions(db), list(range(1, NEWEST + 1)))
        before = self.pg.sql(OWNER, "SELECT version, applied_at FROM pam_mfa.schema_version",
                             db=db)
        proc = self.pg.db_init(db=db)
        self.assertEqual(proc.returncode, 0, proc)
        self.assertEqual(proc.stdout, f"pam_mfa schema up to date at version {NEWEST}\n")
        self.assertEqual(self.pg.sql(OWNER, "SELECT version, applied_at FROM "
                                            "pam_mfa.schema_version", db=db), before)

    def test_upgrade_from_older(self):
        db = self.fresh_db("older")
        proc = self.pg.db_init(sql_dir=self.sql_dir(upto=2), db=db)
        self.assertEqual(proc.returncode, 0, proc)
        self.assertEqual(self.versions(db), [1, 2])
        proc = self.pg.db_init(db=db)
        self.assertEqual(proc.returncode, 0, proc)
        self.assertNotIn("applied " + SHIPPED[0], proc.stdout)
        self.assertIn(f"applied {SHIPPED[2]} (version 3)", proc.stdout)
        self.assertIn(f"schema at version {NEWEST} (was 2)", proc.stdout)

    def test_failing_migration_rolled_back(self):
        db = self.fresh_db("failing")
        self.assertEqual(self.pg.db_init(db=db).returncode, 0)
        bad = "%03d_broken.sql" % (NEWEST + 1)
        text = ("CREATE TABLE pam_mfa.half_done (x integer);\n"
                "INSERT INTO pam_mfa.half_done VALUES (1);\n"
                "SELECT 1/0;\n"
                f"INSERT INTO pam_mfa.schema_version (version) VALUES ({NEWEST + 1});\n")
        proc = self.pg.db_init(sql_dir=self.sql_dir({bad: text}), db=db)
        self.assertEqual(proc.returncode, 1, proc)
        self.assertIn(f"mfactl db init: {bad}: ", proc.stderr)
        self.assertIn("division by zero", proc.stderr)
        self.assertIn(f"the schema is at version {NEWEST}", proc.stderr)
        self.assertEqual(self.versions(db), list(range(1, NEWEST + 1)))
        self.assertEqual(self.pg.sql(OWNER, "SELECT pg_catalog.to_regclass("
                                            "'pam_mfa.half_done') IS NULL", db=db), [["t"]])

    def test_syntax_error_names_the_line(self):
        db = self.fresh_db("syntax")
        bad = "%03d_typo.sql" % (NEWEST + 1)
        text = ("-- a comment\n"
                "CREATE TABLE pam_mfa.typo (x integer);\n"
                "SELEC 1;\n")
        proc = self.pg.db_init(sql_dir=self.sql_dir({bad: text}), db=db)
        self.assertEqual(proc.returncode, 1, proc)
        self.assertIn(f"mfactl db init: {bad}: line 3: ", proc.stderr)
        self.assertIn("syntax error", proc.stderr)
        # What came before it was applied, each in its own transaction.
        self.assertEqual(self.versions(db), list(range(1, NEWEST + 1)))
        self.assertIn(f"the schema is at version {NEWEST}", proc.stderr)

    def test_version_must_match_name(self):
        db = self.fresh_db("mismatch")
        wrong = "%03d_wrong.sql" % (NEWEST + 1)
        text = ("CREATE TABLE pam_mfa.wrong (x integer);\n"
                f"INSERT INTO pam_mfa.schema_version (version) VALUES ({NEWEST + 2});\n")
        proc = self.pg.db_init(sql_dir=self.sql_dir({wrong: text}), db=db)
        self.assertEqual(proc.returncode, 1, proc)
        # Everything before it is applied; it is not.
        self.assertIn(f'{wrong}: records version "{NEWEST + 2}" in pam_mfa.schema_version, '
                      f'not {NEWEST + 1}', proc.stderr)
        self.assertEqual(self.versions(db), list(range(1, NEWEST + 1)))
        self.assertEqual(self.pg.sql(OWNER, "SELECT pg_catalog.to_regclass('pam_mfa.wrong') "
                                            "IS NULL", db=db), [["t"]])
        # One that records nothing is refused too.
        os.unlink(os.path.join(self.dir, wrong))
        silent = "%03d_silent.sql" % (NEWEST + 1)
        proc = self.pg.db_init(sql_dir=self.sql_dir({silent: "SELECT 1;\n"}), db=db)
        self.assertEqual(proc.returncode, 1, proc)
        self.assertIn(f'{silent}: records version "" in pam_mfa.schema_version', proc.stderr)
        # One with a transaction of its own is refused before anything
        # runs; plpgsql's BEGIN and END, quotes and comments are no such.
        os.unlink(os.path.join(self.dir, silent))
        commits = "%03d_commits.sql" % (NEWEST + 1)
        text = ("-- COMMIT; in a comment\n/* and /* nested */ ROLLBACK; */\n"
                "CREATE FUNCTION pam_mfa.f() RETURNS text LANGUAGE plpgsql AS $f$\n"
                "BEGIN\n  RETURN 'COMMIT; $$ END;';\nEND\n$f$;\n"
                "SELECT 'it''s; begin', \"end\" FROM (SELECT 1 AS \"end\") x;\n"
                "  commit ;\n")
        proc = self.pg.db_init(sql_dir=self.sql_dir({commits: text}), db=db)
        self.assertEqual(proc.returncode, 1, proc)
        self.assertIn(f"{commits}: line 9: COMMIT: a migration runs in db init's transaction",
                      proc.stderr)
        self.assertEqual(self.pg.sql(OWNER, "SELECT pg_catalog.to_regprocedure('pam_mfa.f()') "
                                            "IS NULL", db=db), [["t"]])
        with open(os.path.join(self.dir, commits), "w") as f:
            f.write(text.replace("  commit ;\n", "INSERT INTO pam_mfa.schema_version (version) "
                                                 f"VALUES ({NEWEST + 1});\n"))
        proc = self.pg.db_init(sql_dir=self.dir, db=db)
        self.assertEqual(proc.returncode, 0, proc)
        self.assertIn(f"applied {commits}", proc.stdout)

    def test_unexpected_names_refused(self):
        db = self.fresh_db("names")
        for name in ("6_short.sql", "%03d-dash.sql" % (NEWEST + 1), "%03d_Upper.sql" % (NEWEST + 1),
                     "Notes.SQL", "%03d_x.sql.orig" % (NEWEST + 1)):
            d = tempfile.mkdtemp(prefix="pam_mfa-sql-")
            os.chmod(d, 0o755)
            try:
                for f in SHIPPED:
                    shutil.copy(os.path.join(SQL_DIR, f), d)
                with open(os.path.join(d, name), "w") as f:
                    f.write("SELECT 1;\n")
                proc = self.pg.db_init(sql_dir=d, db=db)
            finally:
                shutil.rmtree(d)
            self.assertEqual(proc.returncode, 1, proc)
            self.assertIn(f'"{name}" is not a migration\'s name', proc.stderr)
        # Nothing was applied: the directory is refused before anything runs.
        self.assertEqual(self.pg.sql(OWNER, "SELECT pg_catalog.to_regclass("
                                            "'pam_mfa.schema_version') IS NULL", db=db), [["t"]])
        # Files that are no migration are none of its business.
        proc = self.pg.db_init(sql_dir=self.sql_dir({"notes.txt": "x", "README.md": "y"}),
                               db=db)
        self.assertEqual(proc.returncode, 0, proc)
        # A gap, and two files of one version.
        proc = self.pg.db_init(sql_dir=self.sql_dir({"%03d_gap.sql" % (NEWEST + 2): "SELECT 1;"}),
                               db=db)
        self.assertEqual(proc.returncode, 1, proc)
        self.assertIn(f"version {NEWEST + 1} is missing", proc.stderr)
        os.unlink(os.path.join(self.dir, "%03d_gap.sql" % (NEWEST + 2)))
        proc = self.pg.db_init(sql_dir=self.sql_dir({"001_again.sql": "SELECT 1;"}), db=db)
        self.assertEqual(proc.returncode, 1, proc)
        self.assertIn("are both version 1", proc.stderr)
        # A file others may write runs nowhere.
        os.unlink(os.path.join(self.dir, "001_again.sql"))
        os.chmod(os.path.join(self.dir, SHIPPED[0]), 0o666)
        proc = self.pg.db_init(sql_dir=self.dir, db=db)
        self.assertEqual(proc.returncode, 1, proc)
        self.assertIn("writable by group or others", proc.stderr)

    def test_two_at_once(self):
        db = self.fresh_db("racing")
        results = [None, None]

        def init(i):
            results[i] = self.pg.db_init(db=db)
        threads = [threading.Thread(target=init, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for proc in results:
            self.assertEqual(proc.returncode, 0, proc)
        applied = [line for proc in results for line in proc.stdout.splitlines()
                   if line.startswith("applied ")]
        self.assertEqual(sorted(applied), sorted(f"applied {n} (version {i})"
                                                 for i, n in enumerate(SHIPPED, 1)), results)
        self.assertEqual(self.versions(db), list(range(1, NEWEST + 1)))

    def test_newer_database_and_wrong_role(self):
        db = self.fresh_db("newer")
        self.assertEqual(self.pg.db_init(db=db).returncode, 0)
        proc = self.pg.db_init(sql_dir=self.sql_dir(upto=NEWEST - 1), db=db)
        self.assertEqual(proc.returncode, 1, proc)
        self.assertIn(f"at version {NEWEST}, newer than the {NEWEST - 1}", proc.stderr)
        # The admin's role may not touch the table: said so.
        proc = self.pg.db_init(db=db, role=pgrig.ADMIN)
        self.assertEqual(proc.returncode, 1, proc)
        self.assertIn("db init runs as the schema's owner", proc.stderr)
        # A files store is no database.
        cfg = os.path.join(self.pg.admin_dir, "files.conf")
        with open(cfg, "w", opener=lambda p, f: os.open(p, f, 0o600)) as f:
            f.write('store = { backend = "files"; };\n')
        proc = self.pg.run_mfactl("db", "init", config=cfg)
        self.assertEqual(proc.returncode, 1, proc)
        self.assertIn("is not a database", proc.stderr)
        proc = self.pg.run_mfactl("db", "init", "--sql-dir", "relative/sql")
        self.assertEqual(proc.returncode, 2, proc)



class DbCheck(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = pgrig.Cluster(SQL_DIR).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.pg.__exit__(None, None, None)

    def check(self, role=ADMIN, db="pam_mfa"):
        return self.pg.run_mfactl("db", "check", role=role, db=db)

    def assertProblems(self, proc, *lines):
        self.assertEqual(proc.returncode, 1, proc)
        for line in lines:
            self.assertIn("mfactl db check: " + line + "\n", proc.stderr)

    def test_as_designed_then_not(self):
        for role in (ADMIN, HOSTS[0], OWNER):
            proc = self.check(role)
            self.assertEqual(proc.returncode, 0, proc)
            self.assertEqual(proc.stdout, f"pam_mfa schema at version {NEWEST}, the newest "
                             "this mfactl ships; the roles' rights are as designed\n")
        changes = [
            ("GRANT SELECT ON pam_mfa.factors TO pam_mfa_host",
             "pam_mfa_host may SELECT pam_mfa.factors"),
            ("GRANT UPDATE (fail_count) ON pam_mfa.users TO pam_mfa_admin",
             "pam_mfa_admin may UPDATE pam_mfa.users"),
            ("GRANT DELETE ON pam_mfa.pending_code TO PUBLIC",
             "public may DELETE pam_mfa.pending_code"),
            ("GRANT USAGE ON SEQUENCE pam_mfa.factors_version_seq TO pam_mfa_host",
             "pam_mfa_host may USAGE sequence pam_mfa.factors_version_seq"),
            ("GRANT USAGE ON SCHEMA pam_mfa_crypto TO pam_mfa_admin",
             "pam_mfa_admin may USAGE in schema pam_mfa_crypto"),
            ("GRANT EXECUTE ON FUNCTION pam_mfa.reset(text, text, text) TO pam_mfa_host",
             "pam_mfa_host may EXECUTE pam_mfa.reset(text,text,text)"),
            ("GRANT EXECUTE ON FUNCTION pam_mfa.remove_factor(text, bigint, integer, boolean) "
             "TO pam_mfa_admin", "pam_mfa_admin may EXECUTE pam_mfa.remove_factor("),
            ("GRANT EXECUTE ON FUNCTION pam_mfa.unlock(text) TO PUBLIC",
             "public may EXECUTE pam_mfa.unlock(text)"),
            ("REVOKE EXECUTE ON FUNCTION pam_mfa.verify_totp(text, text, text, text) "
             "FROM pam_mfa_host", "pam_mfa_host cannot EXECUTE pam_mfa.verify_totp"),
            ("ALTER FUNCTION pam_mfa.list() RESET search_path",
             "pam_mfa.list() is SECURITY DEFINER without SET search_path = pg_catalog, pg_temp"),
            ("GRANT pam_mfa_admin TO pam_mfa_host",
             "pam_mfa_host may EXECUTE pam_mfa.provision_totp("),
        ]
        try:
            for change, problem in changes:
                self.pg.sql(SUPER, change)
                proc = self.check()
                self.assertEqual(proc.returncode, 1, (change, proc))
                self.assertIn("mfactl db check: " + problem, proc.stderr, change)
        finally:
            # Memberships are the cluster's: the other tests' databases too.
            self.pg.sql(SUPER, "REVOKE pam_mfa_admin FROM pam_mfa_host")
        self.assertRegex(proc.stderr, r"mfactl db check: \d+ problems\n$")
        self.assertNotIn("schema is at version", proc.stderr)

    def test_old_schema(self):
        self.pg.sql(SUPER, f"CREATE DATABASE old4 OWNER {OWNER}", db="postgres")
        d = tempfile.mkdtemp(prefix="pam_mfa-sql-")
        os.chmod(d, 0o755)
        try:
            for name in SHIPPED[:4]:
                shutil.copy(os.path.join(SQL_DIR, name), d)
            self.assertEqual(self.pg.db_init(sql_dir=d, db="old4").returncode, 0)
        finally:
            shutil.rmtree(d)
        proc = self.check(db="old4")
        self.assertProblems(proc, "the database has no pam_mfa.schema_version(): no schema, "
                            f"or one older than version 5 (this mfactl ships {NEWEST}); run "
                            "mfactl db init")
        self.assertEqual(self.pg.db_init(db="old4").returncode, 0)
        proc = self.check(db="old4")
        self.assertEqual(proc.returncode, 0, proc)
        # No schema at all: said so, not a crash.
        self.pg.sql(SUPER, f"CREATE DATABASE empty OWNER {OWNER}", db="postgres")
        proc = self.check(db="empty")
        self.assertProblems(proc, "schema pam_mfa does not exist")


def oathtool(secret, t):
    return subprocess.run(["oathtool", "--totp", "-N", f"@{t}", secret.hex()], check=True,
                          capture_output=True, text=True).stdout.strip()


class AdminReplace(unittest.TestCase):
    """An admin's forced replacement (mfactl import --force, enroll
    --force) of the same secret with an older step: it works, and the
    step the database recorded stays spent."""
    @classmethod
    def setUpClass(cls):
        cls.pg = pgrig.Cluster(SQL_DIR).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.pg.__exit__(None, None, None)

    def last_step(self, user):
        return int(self.pg.one(OWNER, f"SELECT last_step FROM pam_mfa.factors "
                                      f"WHERE user_name = '{user}' AND method = 'totp'")[0])

    def test_import_force_keeps_the_step(self):
        import time
        secret = os.urandom(20)
        d = tempfile.mkdtemp(prefix="pam_mfa-imp-")
        try:
            src = os.path.join(d, "usersfile")
            with open(src, "w", opener=lambda p, f: os.open(p, f, 0o600)) as f:
                f.write("HOTP/T30 erin - %s\n" % secret.hex())
            proc = self.pg.run_mfactl("import", "--from", "oath", src, role=ADMIN)
            self.assertEqual(proc.returncode, 0, proc)
            if time.time() % 30 > 27:
                time.sleep(3.5)
            t = int(time.time())
            code = oathtool(secret, t)
            got = self.pg.one(HOSTS[0], f"SELECT outcome FROM pam_mfa.verify_totp('erin', "
                                        f"'{code}', 'sshd', '')")
            self.assertEqual(got, ["ok"])
            used = self.last_step("erin")
            self.assertEqual(used, t // 30)
            # The file says step 0: a forced import of the same secret works
            # and keeps the step that was used.
            proc = self.pg.run_mfactl("import", "--force", "--from", "oath", src, role=ADMIN)
            self.assertEqual(proc.returncode, 0, proc)
            self.assertIn("imported 1 user", proc.stdout)
            self.assertEqual(self.last_step("erin"), used)
            got = self.pg.one(HOSTS[0], f"SELECT outcome FROM pam_mfa.verify_totp('erin', "
                                        f"'{code}', 'sshd', '')")
            self.assertEqual(got, ["replay"])
        finally:
            shutil.rmtree(d)
        # A new secret starts from the step given, lower or not.
        other = os.urandom(20)
        got = self.pg.one(ADMIN, f"SELECT pam_mfa.provision_totp('erin', '\\x{other.hex()}'"
                                 f"::bytea, 'sha1', 6, 30, 7, NULL, 'replace')")
        self.assertEqual(got, ["replaced"])
        self.assertEqual(self.last_step("erin"), 7)
        # A host still cannot move the step back: the trigger refuses it.
        with self.assertRaises(pgrig.PgError) as e:
            self.pg.sql(OWNER, "UPDATE pam_mfa.factors SET last_step = 6 WHERE user_name = 'erin'")
        self.assertIn("may not move backwards", e.exception.stderr)


def raw(secret):
    return base64.b32decode(secret + "=" * (-len(secret) % 8))


class Migrate(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = pgrig.Cluster(SQL_DIR).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.pg.__exit__(None, None, None)

    def setUp(self):
        self.w = World(self.id().split(".")[-1])
        self.pwfiles = {}
        for role in (HOSTS[0], ADMIN):
            path = os.path.join(self.w.root, "pgpass." + role)
            with open(path, "w", opener=lambda p, f: os.open(p, f, 0o600)) as f:
                f.write(self.pg.passwords[role] + "\n")
            self.pwfiles[role] = path

    def tearDown(self):
        self.w.cleanup()

    def configure(self, role=None):
        """The files store (role None), or the database as role; state_dir
        is the world's either way."""
        cfg = {"methods": '[ "totp", "email" ]',
               "email": '{ smtp_url = "smtp://127.0.0.1:1"; starttls = "off"; '
                        'from = "Login security <no-reply@example.org>"; timeout = 1; }'}
        if role is not None:
            cfg["store"] = ('{ backend = "postgresql"; conninfo = "%s"; password_file = "%s"; '
                            'timeout = 5; }' % (self.pg.conninfo(role), self.pwfiles[role]))
        self.w.write_config(cfg)

    def summary(self, user, cols):
        return self.pg.one(ADMIN, pgrig.summary_sql(user, cols))

    def secret_in_db(self, user):
        return self.pg.one(OWNER, f"SELECT pg_catalog.encode(secret, 'hex') FROM pam_mfa.factors "
                                  f"WHERE user_name = '{user}' AND method = 'totp'")[0]

    def write_record(self, user, text):
        path = os.path.join(self.w.state_dir, user)
        with open(path, "w", opener=lambda p, f: os.open(p, f, 0o600)) as f:
            f.write(text)

    def test_files_to_postgresql(self):
        self.configure()
        secret_a = self.w.enroll("alice", at=None)
        proc = self.w.mfactl("enroll", "bob", "--method", "email", "--address",
                             "bob@example.org", "--verified")
        self.assertEqual(proc.returncode, 0, proc)
        secret_d = self.w.enroll("dave", at=None)
        # erin: a record that holds nothing worth copying.
        self.w.enroll("erin", at=None)
        self.assertEqual(self.w.mfactl("reset", "erin", "--method", "totp").returncode, 0)
        # carol: only a remembered opt-out skip (the record's text form).
        text = self.w.record_text("erin").replace("user=erin", "user=carol")
        self.assertIn("skip.since=0\n", text)
        self.write_record("carol", text.replace("skip.since=0\n", "skip.since=1790000000\n"))
        # dave is in the database already, with another secret.
        other = os.urandom(20)
        self.assertEqual(self.pg.one(ADMIN, f"SELECT pam_mfa.provision_totp('dave', "
                                            f"'\\x{other.hex()}'::bytea, 'sha1', 6, 30, 0, "
                                            f"NULL, 'new')"), ["provisioned"])
        # alice logs in on the files store: that code's step is spent.
        used = fresh_code(secret_a, left=8)
        res = self.w.login("alice", [used], at=None)
        self.assertEqual(res.pam, "PAM_SUCCESS", res)

        self.configure(ADMIN)
        proc = self.w.mfactl("migrate", "--to", "postgresql", "--dry-run")
        self.assertEqual(proc.returncode, 0, proc)
        self.assertEqual(proc.stdout.splitlines(), [
            "would migrate alice (totp)",
            "would migrate bob (email)",
            "would migrate carol (remembered skip)",
            f"{self.w.state_dir}: would migrate 3 users to postgresql (0 replacing the "
            "database's); skipped 1 already in the database, 1 with nothing to copy; 0 failed"])
        self.assertIn("mfactl migrate: dave: skipped: the database already holds state for "
                      "the user (--force replaces it)", proc.stderr)
        self.assertIn("mfactl migrate: erin: skipped: no factor, address or skip to copy",
                      proc.stderr)
        self.assertEqual(self.summary("alice", "user_exists"), ["f"])

        proc = self.w.mfactl("migrate", "--to", "postgresql")
        self.assertEqual(proc.returncode, 0, proc)
        self.assertIn("migrated alice (totp)\n", proc.stdout)
        self.assertIn(f"{self.w.state_dir}: migrated 3 users to postgresql (0 replacing the "
                      "database's); skipped 1 already in the database, 1 with nothing to "
                      "copy; 0 failed\n", proc.stdout)
        self.assertIn("dave: skipped", proc.stderr)
        for s in (secret_a, secret_d):
            for shown in (s, raw(s).hex(), raw(s).hex().upper()):
                self.assertNotIn(shown, proc.stdout + proc.stderr)
        self.assertEqual(self.summary("alice", "totp_enrolled, totp_digits, totp_period"),
                         ["t", "6", "30"])
        self.assertEqual(self.secret_in_db("alice"), raw(secret_a).hex())
        self.assertEqual(self.summary("bob", "totp_enrolled, email_address, email_verified, "
                                             "email_by_admin"),
                         ["f", "bob@example.org", "t", "t"])
        self.assertEqual(self.summary("carol", "totp_enrolled, skip_since"), ["f", "1790000000"])
        self.assertEqual(self.summary("erin", "user_exists"), ["f"])
        self.assertEqual(self.secret_in_db("dave"), other.hex())
        # Again: everyone is there now.
        proc = self.w.mfactl("migrate", "--to", "postgresql")
        self.assertEqual(proc.returncode, 0, proc)
        self.assertIn("migrated 0 users to postgresql (0 replacing the database's); skipped 4 "
                      "already in the database, 1 with nothing to copy", proc.stdout)
        # --force: the files' state wins.
        proc = self.w.mfactl("migrate", "--to", "postgresql", "--force")
        self.assertEqual(proc.returncode, 0, proc)
        self.assertIn("migrated dave (totp), replacing the database's state of the user\n",
                      proc.stdout)
        self.assertIn("migrated 4 users to postgresql (4 replacing the database's)", proc.stdout)
        self.assertEqual(self.secret_in_db("dave"), raw(secret_d).hex())

        # The host now logs in through the database: alice's code used on
        # the files store is refused, a new one works; dave's files secret
        # is his.
        self.configure(HOSTS[0])
        res = self.w.login("alice", [used], at=None)
        self.assertEqual(res.pam, "PAM_AUTH_ERR", res)
        self.assertEqual(self.summary("alice", "fail_count"), ["1"])
        res = self.w.login("dave", [fresh_code(secret_d, left=8)], at=None)
        self.assertEqual(res.pam, "PAM_SUCCESS", res)
        res = self.w.login("alice", [next_step_code(secret_a)], at=None)
        self.assertEqual(res.pam, "PAM_SUCCESS", res)

    def test_refusals(self):
        self.configure()
        proc = self.w.mfactl("migrate", "--to", "postgresql")
        self.assertEqual(proc.returncode, 1, proc)
        self.assertIn("is not a database", proc.stderr)
        self.configure(ADMIN)
        for args in ([], ["--to", "files"], ["--to", "postgresql", "extra"]):
            proc = self.w.mfactl("migrate", *args)
            self.assertEqual(proc.returncode, 2, (args, proc))
        # A record that cannot be read: reported, the rest goes on, exit 1.
        self.configure()
        secret = self.w.enroll("erin", at=None)
        self.write_record("bob", "version=4\nuser=bob\ngarbage\n")
        self.configure(ADMIN)
        proc = self.w.mfactl("migrate", "--to", "postgresql")
        self.assertEqual(proc.returncode, 1, proc)
        self.assertIn("mfactl migrate: bob: not migrated: ", proc.stderr)
        self.assertIn("migrated 1 user to postgresql", proc.stdout)
        self.assertIn("; 1 failed\n", proc.stdout)
        self.assertEqual(self.secret_in_db("erin"), raw(secret).hex())
        # import_user checks what it is given, whoever calls it.
        app = ('{"method": "totp", "label": "", "verified": true, "by_admin": false, '
               '"added": 0, "last_used": 0, "secret": "%s", "algorithm": "sha1", "digits": 6, '
               '"period": 30, "last_step": 0}')
        for args in ("'x y', '[]', 1, false", "'z', '[]', 0, false",
                     "'z', '[%s]', 0, false" % (app % "00"),
                     "'z', '[%s]', 0, false" % (app % ("00" * 20)).replace('"totp"', '"email"'),
                     "'z', '[{\"method\": \"email\", \"label\": \"\", \"verified\": true, "
                     "\"by_admin\": false, \"added\": 0, \"last_used\": 0, "
                     "\"dest\": \"not an address\"}]', 0, false",
                     "'z', '[]', -1, false"):
            with self.assertRaises(pgrig.PgError) as e:
                self.pg.sql(ADMIN, f"SELECT pam_mfa.import_user({args})")
            self.assertTrue(any(why in e.exception.stderr for why in (
                "invalid user name", "nothing to import", "invalid app",
                "TOTP parameters without a secret", "invalid email address", "invalid time")),
                e.exception.stderr)
        with self.assertRaises(pgrig.PgError) as e:
            self.pg.sql(HOSTS[0], "SELECT pam_mfa.import_user('z', '[]', 1, false)")
        self.assertIn("permission denied", e.exception.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
