#!/usr/bin/python3
"""Logins through the real PAM stack (pamrun, pam_mfa.so, nss_wrapper) with
the postgresql store: a throwaway PostgreSQL 15 (pgrig.py) with TLS and
scram, the host's login role granted pam_mfa_host, users provisioned by the
admin role through the schema's functions, codes from oathtool at the real
time (the database's clock decides)."""
import os
import secrets
import base64
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgrig  # noqa: E402
from mfatest import World  # noqa: E402
from realclock import fresh_code, wrong_code  # noqa: E402

SQL_DIR = os.environ["MFA_SQL_DIR"]
TIMEOUT = 3


class PgLogin(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = pgrig.Cluster(SQL_DIR).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.pg.__exit__(None, None, None)

    def setUp(self):
        self.w = World(self.id().split(".")[-1])
        self.pwfile = os.path.join(self.w.root, "pgpass")
        with open(self.pwfile, "w", opener=lambda p, f: os.open(p, f, 0o600)) as f:
            f.write(self.pg.passwords["host_a"] + "\n")
        self.configure(self.pg.port)

    def tearDown(self):
        self.w.cleanup()

    def configure(self, port, role="host_a", conninfo=None, password=True):
        if conninfo is None:
            conninfo = (f"host=127.0.0.1 port={port} dbname=pam_mfa user={role} "
                        f"sslmode=verify-full sslrootcert={self.pg.dir}/ca.crt")
        pwline = ' password_file = "%s";' % self.pwfile if password else ""
        self.w.write_config({
            "default_policy": '"required"',
            "rules": '( { user = "erin"; policy = "exempt"; } )',
            "store": '{ backend = "postgresql"; conninfo = "%s";%s timeout = %d; }'
                     % (conninfo, pwline, TIMEOUT),
        })

    def test_client_certificate_and_unix_socket(self):
        """libpq's conninfo as libpq documents it: a client certificate
        instead of a password, and a unix socket."""
        secret = self.provision("frank")
        d = self.pg.dir
        self.configure(None, password=False, conninfo=(
            f"host=127.0.0.1 port={self.pg.port} dbname=pam_mfa user={pgrig.CERT_HOST} "
            f"sslmode=verify-full sslrootcert={d}/ca.crt sslcert={d}/client.crt "
            f"sslkey={d}/client.key"))
        res = self.login("frank", [fresh_code(secret)])
        self.assertEqual(res.pam, "PAM_SUCCESS", res)
        self.assertEqual(self.pg.one(pgrig.ADMIN, "SELECT last_host FROM pam_mfa.summary('frank')"),
                         [f"{pgrig.CERT_HOST}@127.0.0.1"])
        # Without the certificate that role has no way in: fails closed.
        self.configure(None, password=False, conninfo=(
            f"host=127.0.0.1 port={self.pg.port} dbname=pam_mfa user={pgrig.CERT_HOST} "
            f"sslmode=verify-full sslrootcert={d}/ca.crt"))
        self.assertEqual(self.login("frank", [fresh_code(secret)]).pam, "PAM_AUTHINFO_UNAVAIL")
        # A unix socket: the directory as host=, the password from the file.
        self.configure(None, conninfo=f"host={d} port={self.pg.port} dbname=pam_mfa user=host_a")
        secret = self.provision("gina")
        res = self.login("gina", [fresh_code(secret)])
        self.assertEqual(res.pam, "PAM_SUCCESS", res)
        self.assertEqual(self.pg.one(pgrig.ADMIN, "SELECT last_host FROM pam_mfa.summary('gina')"),
                         ["host_a@local"])

    def provision(self, user):
        raw = secrets.token_bytes(20)
        got = self.pg.one(pgrig.ADMIN, "SELECT pam_mfa.provision_totp('%s', '\\x%s'::bytea, "
                          "'sha1', 6, 30, 0, NULL, 'new')" % (user, raw.hex()))
        self.assertEqual(got, ["provisioned"])
        return base64.b32encode(raw).decode().rstrip("=")

    def summary(self, user):
        return self.pg.one(pgrig.ADMIN, "SELECT fail_count, locked_until, last_service "
                           "FROM pam_mfa.summary('%s')" % user)

    def login(self, user, answers=(), options=()):
        return self.w.login(user, answers, at=None, options=options)

    def test_login_replay_lockout(self):
        secret = self.provision("alice")
        code = fresh_code(secret)
        res = self.login("alice", [code], options=["--maps"])
        self.assertIn("prompt-off: Verification code: ", res.stdout)
        self.assertEqual(res.pam, "PAM_SUCCESS", res)
        # libpq is loaded for this store (it is not for the files store:
        # pam-login's test_login_loads_no_optional_library).
        self.assertIn("loaded: libpq.so.5", res.stdout)
        self.assertEqual(self.summary("alice")[2], "pam_mfa_test")
        # The same code again: the database refuses the step it recorded.
        res = self.login("alice", [code])
        self.assertEqual(res.pam, "PAM_AUTH_ERR", res)
        # Wrong codes add up to the server's lockout (5 attempts).
        secret_b = self.provision("bob")
        for _ in range(5):
            self.assertEqual(self.login("bob", [wrong_code(secret_b)]).pam, "PAM_AUTH_ERR")
        fails, locked, _ = self.summary("bob")
        self.assertNotEqual(locked, "0")
        res = self.login("bob", [fresh_code(secret_b)])
        self.assertEqual(res.pam, "PAM_AUTH_ERR", res)
        self.assertIn("locked", res.stdout)

    def test_environment_cannot_redirect(self):
        """su and sudo authenticate with the caller's environment: a PG*
        variable for a setting the conninfo leaves out must not reach
        libpq (it would point the module at a server of the caller's)."""
        secret = self.provision("grace")
        res = self.w.login("grace", [fresh_code(secret)], at=None,
                           extra_env={"PGHOSTADDR": "127.0.0.9", "PGSSLMODE": "disable"})
        self.assertEqual(res.pam, "PAM_AUTHINFO_UNAVAIL", res)
        self.assertTrue(any("the environment sets PG" in l for l in res.log), res)
        # A variable for a setting the conninfo makes is harmless: ignored.
        res = self.w.login("grace", [fresh_code(secret)], at=None,
                           extra_env={"PGHOST": "192.0.2.1", "PGPORT": "1"})
        self.assertEqual(res.pam, "PAM_SUCCESS", res)

    def test_unreachable_and_slow_fail_closed(self):
        secret = self.provision("carol")
        # A server that accepts the connection and never answers: bounded
        # by store.timeout, then PAM_AUTHINFO_UNAVAIL.
        with socket.socket() as hole:
            hole.bind(("127.0.0.1", 0))
            hole.listen(8)
            self.configure(hole.getsockname()[1])
            t0 = time.monotonic()
            res = self.login("carol", [fresh_code(secret)])
            took = time.monotonic() - t0
        self.assertEqual(res.pam, "PAM_AUTHINFO_UNAVAIL", res)
        self.assertGreaterEqual(took, TIMEOUT - 0.5, res)
        self.assertLess(took, TIMEOUT + 5, res)
        self.assertTrue(any("store.timeout" in l for l in res.log), res)
        # The password never reaches the log.
        self.assertFalse(any(self.pg.passwords["host_a"] in l for l in res.log), res)
        # A wrong password: refused by the server, fails closed.
        self.configure(self.pg.port, role="host_b")
        res = self.login("carol", [fresh_code(secret)])
        self.assertEqual(res.pam, "PAM_AUTHINFO_UNAVAIL", res)
        self.assertTrue(any("postgresql" in l for l in res.log), res)

    def test_zz_database_stopped(self):
        # Last: it stops the server for the rest of the class.
        secret = self.provision("dave")
        self.assertEqual(self.login("dave", [fresh_code(secret)]).pam, "PAM_SUCCESS")
        self.pg._as_postgres([f"{pgrig.PG_BIN}/pg_ctl", "-D", self.pg.data, "-m", "fast",
                              "-w", "-t", "60", "stop"])
        self.pg.started = False
        t0 = time.monotonic()
        res = self.login("dave", [fresh_code(secret)])
        took = time.monotonic() - t0
        self.assertEqual(res.pam, "PAM_AUTHINFO_UNAVAIL", res)
        self.assertLess(took, TIMEOUT + 5, res)
        self.assertNotIn("prompt", res.stdout)
        self.assertIn("error: Multi-factor authentication is not available right now; try again "
                      "later or contact your administrator.", res.stdout)
        self.assertTrue(any("postgresql" in l for l in res.log), res)
        # Exempt users never open the store: they log in as before.
        res = self.login("erin")
        self.assertIn("info: pam_mfa-ignored", res.stdout, res)
        self.assertTrue(any("outcome=exempt" in l for l in res.log), res)


if __name__ == "__main__":
    unittest.main(verbosity=2)
