#!/usr/bin/python3
"""The email factor and mfactl end to end on the postgresql store: a
throwaway PostgreSQL 15 (pgrig.py), a real SMTP server on loopback
(tests/lib/smtp_server.py), logins through pamrun and pam_mfa.so as the
host role, mfactl as the admin role."""
import base64
import json
import os
import re
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgrig  # noqa: E402
from mfatest import World, parse_uri, read_maildir  # noqa: E402
from realclock import fresh_code, next_step_code  # noqa: E402

SQL_DIR = os.environ["MFA_SQL_DIR"]
SMTP_SERVER = os.path.join(os.environ["PYTHONPATH"].split(":")[0], "smtp_server.py")
TIMEOUT = 5
CODE_PROMPT = "Code from the email (or type resend for a new one): "


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgE2E(unittest.TestCase):
    methods = '[ "totp", "email" ]'
    extra = {}

    @classmethod
    def setUpClass(cls):
        cls.pg = pgrig.Cluster(SQL_DIR).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.pg.__exit__(None, None, None)

    def setUp(self):
        self.w = World(self.id().split(".")[-1])
        self.maildir = os.path.join(self.w.root, "mail")
        self.port = free_port()
        self.server = subprocess.Popen(["/usr/bin/python3", SMTP_SERVER, str(self.port),
                                        self.maildir], stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL, text=True)
        self.assertEqual(self.server.stdout.readline().strip(), "ready")
        self.pwfiles = {}
        for role in ("host_a", pgrig.ADMIN):
            path = os.path.join(self.w.root, "pgpass." + role)
            with open(path, "w", opener=lambda p, f: os.open(p, f, 0o600)) as f:
                f.write(self.pg.passwords[role] + "\n")
            self.pwfiles[role] = path
        self.configure()

    def tearDown(self):
        self.server.kill()
        self.server.wait()
        self.w.cleanup()

    def configure(self, role="host_a"):
        conninfo = (f"host=127.0.0.1 port={self.pg.port} dbname=pam_mfa user={role} "
                    f"sslmode=verify-full sslrootcert={self.pg.dir}/ca.crt")
        email = {"smtp_url": '"smtp://127.0.0.1:%d"' % self.port, "starttls": '"off"',
                 "from": '"Login security <no-reply@example.org>"', "code_digits": "6",
                 "timeout": "3"}
        email.update(self.extra)
        cfg = {
            "default_policy": '"required"',
            "methods": self.methods,
            "email": "{ " + " ".join("%s = %s;" % kv for kv in email.items()) + " }",
            "store": '{ backend = "postgresql"; conninfo = "%s"; password_file = "%s"; '
                     'timeout = %d; }' % (conninfo, self.pwfiles[role], TIMEOUT),
        }
        self.w.write_config(cfg)

    def mfactl(self, *args):
        self.configure(pgrig.ADMIN)
        try:
            return self.w.mfactl(*args)
        finally:
            self.configure()

    def admin(self, sql):
        return self.pg.one(pgrig.ADMIN, sql)

    def summary(self, user, cols="fail_count, locked_until"):
        return self.admin(pgrig.summary_sql(user, cols))

    def messages(self):
        return read_maildir(self.maildir)

    def last_code(self):
        body = self.messages()[-1].get_content()
        return re.search(r"^    (\d{6,10})$", body, re.M).group(1)

    def responder(self, answers=()):
        queue = list(answers)

        def respond(prompt, transcript):
            if queue:
                return queue.pop(0)
            return self.last_code()
        return respond

    def login(self, user, respond):
        return self.w.login_interactive(user, respond, at=None)

    def provision_email(self, user, address):
        self.assertEqual(self.admin("SELECT pam_mfa.provision_dest('%s', 'email', '%s', NULL, "
                                    "'new')" % (user, address)), ["provisioned"])


class EmailLogin(PgE2E):
    methods = '[ "email" ]'

    def test_code_by_mail_once_and_lockout(self):
        self.provision_email("alice", "alice@example.org")
        res = self.login("alice", self.responder())
        self.assertEqual(res.pam, "PAM_SUCCESS", res)
        self.assertIn("prompt-off: " + CODE_PROMPT, res.stdout)
        self.assertEqual(len(self.messages()), 1)
        msg = self.messages()[-1]
        self.assertEqual(msg["To"].addresses[0].addr_spec, "alice@example.org")
        used = self.last_code()
        self.assertEqual(self.summary("alice", "last_service, email_code_pending"),
                         ["pam_mfa_test", "f"])
        # The spent code again: a new one is mailed, the old one refused.
        res = self.login("alice", self.responder([used]))
        self.assertEqual(res.pam, "PAM_AUTH_ERR", res)
        self.assertEqual(len(self.messages()), 2)
        self.assertNotEqual(self.last_code(), used)
        self.assertEqual(self.summary("alice")[0], "1")
        # A wrong code counts, and the pending code stays for the next try.
        res = self.login("alice", self.responder(["999999" if self.last_code() != "999999"
                                                  else "888888"]))
        self.assertEqual(res.pam, "PAM_AUTH_ERR", res)
        self.assertEqual(self.summary("alice")[0], "2")
        res = self.login("alice", self.responder())
        self.assertEqual(res.pam, "PAM_SUCCESS", res)
        # An email code forgives no failure (the host that mailed it knows
        # it): the administrator does.
        self.assertEqual(self.summary("alice"), ["2", "0"])
        self.assertEqual(self.admin("SELECT pam_mfa.unlock('alice')"), ["2"])
        self.assertEqual(self.summary("alice"), ["0", "0"])
        # Five wrong codes lock (the server's lockout_attempts), even the right one.
        for _ in range(5):
            res = self.login("alice", self.responder(["000000x"]))
            self.assertEqual(res.pam, "PAM_AUTH_ERR", res)
        self.assertNotEqual(self.summary("alice")[1], "0")
        sent = len(self.messages())
        res = self.login("alice", self.responder())
        self.assertEqual(res.pam, "PAM_AUTH_ERR", res)
        self.assertEqual(len(self.messages()), sent, "a locked user gets no mail")


class EmailEnrollment(PgE2E):
    methods = '[ "email" ]'
    extra = {"address": '"%u@example.org"'}

    def test_enroll_at_login(self):
        def respond(prompt, transcript):
            if prompt.startswith("Press Enter"):
                return ""
            if prompt.startswith("Type 1"):
                return "1"
            if prompt.startswith("Email address"):
                return "bob@example.org"
            return self.last_code()

        self.assertEqual(self.summary("bob", "user_exists"), ["f"])
        res = self.login("bob", respond)
        self.assertEqual(res.pam, "PAM_SUCCESS", res)
        self.assertEqual(self.summary("bob", "email_address, email_verified, email_by_admin"),
                         ["bob@example.org", "t", "f"])
        self.assertTrue(self.messages()[0]["Subject"].startswith("Confirm your email address"),
                        [m["Subject"] for m in self.messages()])
        # Next time, a login code by email.
        res = self.login("bob", lambda p, t: self.last_code())
        self.assertEqual(res.pam, "PAM_SUCCESS", res)


class Mfactl(PgE2E):
    def test_enroll_status_unlock_reset(self):
        proc = self.mfactl("enroll", "carol", "--method", "totp", "--qr", "none")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        uri, params = parse_uri(proc.stdout)
        secret = params["secret"]
        # One enrollment serves the fleet: the label names no host.
        self.assertEqual(uri.path, "/Example%20Corp:carol")
        self.assertEqual(self.summary("carol", "totp_enrolled"), ["t"])
        res = self.login("carol", self.responder([fresh_code(secret)]))
        self.assertEqual(res.pam, "PAM_SUCCESS", res)
        self.provision_email("carol", "carol@example.org")
        self.provision_email("dan", "dan@example.org")
        proc = self.mfactl("status")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertRegex(proc.stdout, r"(?m)^carol +required +totp,email ")
        # Where carol last logged in: the host's role and address.
        self.assertRegex(proc.stdout, r"(?m)^carol .* pam_mfa_test from local on host_a@127\.0\.0\.1$")
        # dan is in the store only (not in passwd): listed by store_list.
        self.assertRegex(proc.stdout, r"(?m)^dan +\S+ +email ")
        proc = self.mfactl("status", "--json", "carol")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn('"address": "carol@example.org"', proc.stdout)
        self.assertIn('"host": "host_a@127.0.0.1"', proc.stdout)
        # Locked by wrong codes; unlocked by the admin.
        for _ in range(5):
            self.login("carol", self.responder(["000000x"]))
        self.assertNotEqual(self.summary("carol")[1], "0")
        proc = self.mfactl("unlock", "carol")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(self.summary("carol"), ["0", "0"])
        res = self.login("carol", self.responder([next_step_code(secret)]))
        self.assertEqual(res.pam, "PAM_SUCCESS", res)
        proc = self.mfactl("unlock", "nobody")
        self.assertIn("nobody has no MFA state", proc.stdout)
        # reset of one method, then of all.
        proc = self.mfactl("reset", "carol", "--method", "totp")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(self.summary("carol", "totp_enrolled, email_verified"), ["f", "t"])
        proc = self.mfactl("reset", "carol")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(self.summary("carol", "user_exists"), ["f"])
        proc = self.mfactl("status")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertRegex(proc.stdout, r"(?m)^carol +required +none ")
        self.assertRegex(proc.stdout, r"(?m)^dan +\S+ +email ")

    def test_status_many_users(self):
        # More users than a chunk of mfactl status's loader (256), read by
        # several threads: on postgresql from one call of summaries().
        self.assertEqual(self.admin(
            "SELECT count(pam_mfa.provision_totp('p' || pg_catalog.lpad(i::text, 4, '0'), "
            "decode(pg_catalog.lpad(pg_catalog.to_hex(i), 40, '0'), 'hex'), 'sha1', 6, 30, "
            "0, NULL, 'new')) FROM pg_catalog.generate_series(1, 600) i"), ["600"])
        self.pg.sql(pgrig.SUPER, "UPDATE pam_mfa.users SET fail_count = 2 "
                                 "WHERE user_name = 'p0007'")
        self.provision_email("p0300", "p300@example.org")
        proc = self.mfactl("status", "--json")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        rows = {r["user"]: r for r in json.loads(proc.stdout)["users"]}
        for i in range(1, 601):
            row = rows["p%04d" % i]
            self.assertEqual(row["methods"], ["totp", "email"] if i == 300 else ["totp"], row)
            self.assertEqual(row["totp"]["digits"], 6)
            self.assertEqual(row["failures"], 2 if i == 7 else 0, row)
            self.assertFalse(row["in_passwd"])
        self.assertEqual(rows["p0300"]["email"]["address"], "p300@example.org")
        # A user named alone is read by summary(): the same row.
        for user in ("p0007", "p0300"):
            one = json.loads(self.mfactl("status", "--json", user).stdout)["users"]
            self.assertEqual(one, [rows[user]])

    def test_check_refused_import_works(self):
        proc = self.mfactl("check")
        self.assertNotEqual(proc.returncode, 0, proc.stdout)
        self.assertIn("mfactl check: postgresql:", proc.stderr)
        self.assertIn('"mfactl db check"', proc.stderr)
        # import writes through store.h: it works on postgresql too.
        raw = bytes(range(1, 21))
        src = os.path.join(self.w.root, "usersfile")
        with open(src, "w") as f:
            f.write("HOTP/T30 erin - %s\n" % raw.hex())
        proc = self.mfactl("import", "--from", "oath", src)
        self.assertEqual(proc.returncode, 0, proc)
        self.assertEqual(self.summary("erin", "totp_enrolled"), ["t"])
        secret = base64.b32encode(raw).decode()
        res = self.login("erin", self.responder([fresh_code(secret)]))
        self.assertEqual(res.pam, "PAM_SUCCESS", res)

    def test_recovery_and_bypass_codes(self):
        code = r"[2-9a-hjkmnp-z]{4}-[2-9a-hjkmnp-z]{4}-[2-9a-hjkmnp-z]{4}"

        def backup(user):
            proc = self.mfactl("status", "--json", user)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            row = json.loads(proc.stdout)["users"][0]
            return row["recovery"], row["bypass"]

        proc = self.mfactl("recovery-codes", "carol")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("carol holds no verified factor", proc.stderr)
        # enroll gives a first factor a set; recovery-codes replaces it.
        proc = self.mfactl("enroll", "carol", "--qr", "none")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        first = re.findall(r"(?m)^    (%s)$" % code, proc.stdout)
        self.assertEqual(len(first), 10, proc.stdout + proc.stderr)
        proc = self.mfactl("recovery-codes", "carol")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        second = re.findall(r"(?m)^    (%s)$" % code, proc.stdout)
        self.assertEqual(len(second), 10)
        self.assertFalse(set(first) & set(second))
        self.assertIn("The previous set (10 of 10 unused) no longer works.", proc.stdout)
        recovery, bypass = backup("carol")
        self.assertEqual((recovery["left"], recovery["made"], recovery["source"]),
                         (10, 10, "admin"))
        self.assertIsNone(bypass)
        proc = self.mfactl("bypass", "carol", "--uses", "2", "--valid", "30m")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertRegex(proc.stdout, r"(?m)^Bypass code for carol: %s$" % code)
        self.assertEqual(backup("carol")[1]["uses_left"], 2)
        proc = self.mfactl("bypass", "carol", "--revoke")
        self.assertIn("Revoked carol's bypass code", proc.stdout)
        self.assertIsNone(backup("carol")[1])
        # A reset forgets the set with the factors.
        self.assertEqual(self.mfactl("reset", "carol").returncode, 0)
        self.assertEqual(backup("carol"), (None, None))

    def test_reset_logout_says_other_hosts_are_not_reached(self):
        uid = 40000 + os.getpid() % 20000
        with open(self.w.passwd, "a") as f:
            f.write("tossed:x:%d:%d::/nonexistent:/bin/sh\n" % (uid, uid))
        victim = subprocess.Popen(["setsid", "sleep", "300"], user=uid, group=uid,
                                  extra_groups=[], cwd="/", stdin=subprocess.DEVNULL)
        try:
            self.assertEqual(self.mfactl("enroll", "tossed", "--qr", "none",
                                         "--no-recovery-codes").returncode, 0)
            proc = self.mfactl("reset", "tossed", "--logout")
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertIn("Reset tossed: removed 1 factor", proc.stdout)
            self.assertIn("tossed: 1 session ended on this host (1 process).", proc.stdout)
            self.assertIn("Only this host's sessions were ended.", proc.stdout)
            self.assertIn('"loginctl terminate-user tossed"', proc.stdout)
            self.assertEqual(victim.wait(timeout=10), -15)
        finally:
            if victim.poll() is None:
                victim.kill()
                victim.wait()


class AdminEmail(PgE2E):
    def test_admin_code_then_enroll_at_login(self):
        proc = self.mfactl("enroll", "erin", "--method", "email", "--address", "erin@example.org")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(self.summary("erin", "email_address, email_verified, email_code_pending"),
                         ["erin@example.org", "f", "t"])
        self.assertEqual(len(self.messages()), 1)
        code = self.last_code()

        def respond(prompt, transcript):
            if prompt.startswith("Press Enter"):
                return ""
            if prompt.startswith("Type 1"):
                return "2"
            if prompt.startswith("Email address"):
                self.assertIn("[erin@example.org]", prompt)
                return ""
            return code

        res = self.login("erin", respond)
        self.assertEqual(res.pam, "PAM_SUCCESS", res)
        # The administrator's address, proven by the user (as files_ops.c).
        self.assertEqual(self.summary("erin", "email_verified, email_by_admin"), ["t", "t"])

    def test_verified_status_and_reset_notice(self):
        proc = self.mfactl("enroll", "bob", "--method", "email", "--address", "bob@example.org",
                           "--verified")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(self.summary("bob", "email_verified, email_by_admin"), ["t", "t"])
        doc = json.loads(self.mfactl("status", "--json", "bob").stdout)
        self.assertEqual(doc["users"][0]["email"]["address"], "bob@example.org")
        self.assertTrue(doc["users"][0]["email"]["verified"])
        self.assertEqual(doc["users"][0]["methods"], ["email"])
        # Provisioned twice without --force: refused, nothing changed.
        proc = self.mfactl("enroll", "bob", "--method", "email", "--address", "b2@example.org",
                           "--verified")
        self.assertNotEqual(proc.returncode, 0, proc.stdout)
        self.assertEqual(self.summary("bob", "email_address"), ["bob@example.org"])
        n = len(self.messages())
        proc = self.mfactl("reset", "bob", "--method", "email")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(self.summary("bob", "email_address, email_verified"), ["", "f"])
        self.assertEqual(len(self.messages()), n + 1)
        self.assertIn("reset", self.messages()[-1]["Subject"])
        self.assertEqual(self.messages()[-1]["To"].addresses[0].addr_spec, "bob@example.org")
        proc = self.mfactl("reset", "bob", "--method", "email")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(len(self.messages()), n + 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
