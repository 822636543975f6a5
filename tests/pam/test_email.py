"""Email one-time codes through the real libpam and a real SMTP server on
loopback (aiosmtpd): the code read out of the delivered message logs the
user in; reuse, expiry, wrong codes, the resend limit, dead and hanging
servers, STARTTLS with a self-signed CA and AUTH, and header injection."""
import json
import os
import re
import socket
import subprocess
import threading
import time

from mfatest import T0, VALGRIND, WorldTest, main, oathtool, parse_uri, read_maildir

HERE = os.path.dirname(os.path.abspath(__file__))
SMTP_SERVER = os.path.join(HERE, "..", "lib", "smtp_server.py")
FROM = "Login security <no-reply@example.org>"
CODE_PROMPT = "Code from the email (or type resend for a new one): "


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmailTest(WorldTest):
    tls = False
    auth = None
    email_extra = {}
    methods = '[ "totp", "email" ]'

    def setUp(self):
        super().setUp()
        self.maildir = os.path.join(self.w.root, "mail")
        self.port = free_port()
        argv = ["/usr/bin/python3", SMTP_SERVER, str(self.port), self.maildir]
        if self.tls:
            self.make_ca()
            argv += ["--tls", self.cert, self.key]
        if self.auth:
            argv += ["--auth"] + list(self.auth)
        self.server = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                       text=True)
        self.assertEqual(self.server.stdout.readline().strip(), "ready")
        self.configure()

    def tearDown(self):
        self.server.kill()
        self.server.wait()
        super().tearDown()

    def make_ca(self):
        d = self.w.root
        self.ca, self.cert, self.key = (os.path.join(d, n) for n in ("ca.pem", "cert.pem", "key.pem"))
        ca_key = os.path.join(d, "ca.key")
        run = lambda *a: subprocess.run(a, check=True, capture_output=True)
        # Valid for a century: the module runs under faketime in 2030.
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", ca_key, "-out", self.ca, "-subj", "/CN=pam_mfa test CA",
            "-days", "36500")
        csr = os.path.join(d, "cert.csr")
        run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", self.key, "-out", csr, "-subj", "/CN=127.0.0.1")
        ext = os.path.join(d, "ext.cnf")
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        run("openssl", "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", ca_key,
            "-CAcreateserial", "-out", self.cert, "-days", "36500", "-extfile", ext)

    def configure(self, **overrides):
        settings = {
            "smtp_url": '"smtp://127.0.0.1:%d"' % self.port,
            "starttls": '"required"' if self.tls else '"off"',
            "from": '"%s"' % FROM,
            "code_digits": "6", "code_ttl": "300", "resend_after": "30",
            # A TLS handshake under valgrind's memcheck can take seconds.
            "timeout": "30" if VALGRIND else "3",
        }
        if self.tls:
            settings["ca_file"] = '"%s"' % self.ca
        if self.auth:
            pw = os.path.join(self.w.root, "smtp.password")
            with open(pw, "w") as f:
                f.write(self.auth[1] + "\n")
            os.chmod(pw, 0o600)
            settings.update(username='"%s"' % self.auth[0], password_file='"%s"' % pw)
        settings.update(self.email_extra)
        settings.update(overrides)
        group = "{ " + " ".join("%s = %s;" % kv for kv in settings.items() if kv[1]) + " }"
        self.w.write_config({"methods": self.methods, "email": group,
                             "default_policy": '"optional"'})

    def messages(self):
        return read_maildir(self.maildir)

    def last_code(self):
        body = self.messages()[-1].get_content()
        return re.search(r"^    (\d{6,10})$", body, re.M).group(1)

    def enroll_email(self, user="alice", address="alice@example.org"):
        proc = self.w.mfactl("enroll", user, "--method", "email", "--address", address,
                             "--verified")
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def code_responder(self, answers=()):
        """Answers code prompts with the latest code in the mailbox (or the
        queued answers first)."""
        queue = list(answers)

        def respond(prompt, transcript):
            if queue:
                a = queue.pop(0)
                return a() if callable(a) else a
            return self.last_code()
        return respond


class EmailLogin(EmailTest):
    def test_code_from_the_delivered_message(self):
        self.enroll_email()
        self.assertEqual(len(self.messages()), 1)  # the confirmation
        res = self.w.login_interactive("alice", self.code_responder(), rhost="203.0.113.9")
        self.assertPam(res, "PAM_SUCCESS")
        self.assertIn("info: A code was sent to a***@example.org.", res.stdout)
        self.assertIn("prompt-off: " + CODE_PROMPT, res.stdout)
        self.assertTrue(any("method=email" in l and "outcome=success" in l for l in res.log), res)
        msg = self.messages()[-1]
        self.assertEqual(msg["To"].addresses[0].addr_spec, "alice@example.org")
        self.assertEqual(msg["From"], FROM)
        self.assertIn("Your login code for ", msg["Subject"])
        self.assertTrue(msg["Date"] and msg["Message-ID"])
        self.assertEqual(msg["MIME-Version"], "1.0")
        self.assertEqual(msg.get_content_type(), "text/plain")
        self.assertEqual(msg.get_content_charset(), "utf-8")
        body = msg.get_content()
        self.assertIn(socket.gethostname(), body)
        self.assertIn("pam_mfa_test", body)
        self.assertIn("203.0.113.9", body)
        code = self.last_code()
        # Only a salted hash is stored; the code never is, nor logged.
        self.assertNotIn(code, self.w.stored_text("alice"))
        self.assertNotIn(code, "\n".join(res.log))

    def test_reuse_refused(self):
        self.enroll_email()
        self.assertPam(self.w.login_interactive("alice", self.code_responder()), "PAM_SUCCESS")
        used = self.last_code()
        sent = len(self.messages())
        res = self.w.login_interactive("alice", self.code_responder([used]))
        # The used code is spent: a new one was sent, and the old one fails.
        self.assertEqual(len(self.messages()), sent + 1)
        self.assertPam(res, "PAM_AUTH_ERR")
        self.assertEqual(self.w.state("alice")["fail_count"], 1)

    def test_wrong_codes_count_toward_lockout(self):
        self.enroll_email()
        for i in range(3):
            res = self.w.login_interactive("alice", self.code_responder(["000000x"]))
            self.assertPam(res, "PAM_AUTH_ERR")
        self.assertNotEqual(self.w.state("alice")["locked_until"], 0)
        sent = len(self.messages())
        res = self.w.login("alice", ["123456"])
        self.assertPam(res, "PAM_AUTH_ERR")
        self.assertIn("locked", res.stdout)
        # A locked user gets no mail.
        self.assertEqual(len(self.messages()), sent)

    def test_expiry(self):
        self.enroll_email()
        self.configure(code_ttl="30", resend_after="5")

        def late():
            time.sleep(2.2)     # x20: 44 fake seconds, past code_ttl
            return self.last_code()

        res = self.w.login_interactive("alice", self.code_responder([late]),
                                       at="@2030-01-01 00:00:10 x20")
        self.assertPam(res, "PAM_AUTH_ERR")
        self.assertIn("That code has expired", res.stdout)
        self.assertTrue(any("reason=expired-code" in l for l in res.log), res)

    def test_resend_limit(self):
        self.enroll_email()
        before = len(self.messages())

        def later():
            time.sleep(1.8)     # x20: 36 fake seconds, past resend_after
            return "resend"

        res = self.w.login_interactive("alice", self.code_responder(["resend", later]),
                                       at="@2030-01-01 00:00:10 x20")
        self.assertPam(res, "PAM_SUCCESS")
        self.assertIn("Wait ", res.stdout)
        # The first code, then one more: the early resend sent nothing.
        self.assertEqual(len(self.messages()), before + 2)
        # Opening another login at once does not send another mail either.
        self.w.login("alice", [], at="2030-01-01 00:00:20")
        n = len(self.messages())
        res = self.w.login("alice", [], at="2030-01-01 00:00:25")
        self.assertIn("less than 30 seconds ago", res.stdout)
        self.assertEqual(len(self.messages()), n)

    def test_totp_user_switches_to_email(self):
        secret = self.w.enroll("alice")
        self.enroll_email()
        res = self.w.login_interactive("alice", self.code_responder(["email"]))
        self.assertIn("Verification code (or type email to get one by email): ", res.stdout)
        self.assertPam(res, "PAM_SUCCESS")
        # The app still works too.
        self.assertPam(self.w.login("alice", [oathtool(secret, T0)]), "PAM_SUCCESS")

    def test_email_not_allowed_by_policy(self):
        self.enroll_email()
        secret = self.w.enroll("alice")
        self.w.write_config({"methods": '[ "totp" ]'})
        res = self.w.login("alice", ["email"])
        self.assertNotIn("type email", res.stdout)
        self.assertPam(res, "PAM_AUTH_ERR")
        self.assertTrue(secret)


class DeadServers(EmailTest):
    def test_server_down(self):
        self.enroll_email()
        self.w.enroll("alice")
        self.server.kill()
        self.server.wait()
        start = time.monotonic()
        res = self.w.login("alice", ["email"])
        self.assertLess(time.monotonic() - start, 15)
        self.assertPam(res, "PAM_AUTHINFO_UNAVAIL")
        self.assertIn("Could not send the code: use your authenticator app or contact "
                      "your administrator.", res.stdout)
        # Someone with no app is not told to use one.
        self.w.mfactl("reset", "alice", "--method", "totp")
        res = self.w.login("alice", [])
        self.assertPam(res, "PAM_AUTHINFO_UNAVAIL")
        self.assertIn("Could not send the code: try again later", res.stdout)
        self.assertNotIn("prompt", res.stdout)
        self.assertTrue(any("reason=mail" in l for l in res.log), res)
        self.assertTrue(any("cannot send mail" in l for l in res.log), res)
        st = self.w.state("alice")
        self.assertEqual((st["fail_count"], st["email_code_pending"]), (0, False))

    def test_server_hangs(self):
        self.enroll_email()
        hang = socket.socket()
        hang.bind(("127.0.0.1", 0))
        hang.listen(5)      # accepts connections, never says a word
        self.configure(smtp_url='"smtp://127.0.0.1:%d"' % hang.getsockname()[1], timeout="2")
        try:
            start = time.monotonic()
            res = self.w.login("alice", ["123456"])
            elapsed = time.monotonic() - start
        finally:
            hang.close()
        self.assertPam(res, "PAM_AUTHINFO_UNAVAIL")
        self.assertIn("Could not send the code", res.stdout)
        # Ends within the timeout (2 s), plus process start-up and ASan.
        self.assertLess(elapsed, 12)
        self.assertEqual(self.w.state("alice")["fail_count"], 0)


class StartTlsAuth(EmailTest):
    tls = True
    auth = ("pam_mfa", "s3cret pass")

    def test_login_through_starttls_and_auth(self):
        self.enroll_email()
        res = self.w.login_interactive("alice", self.code_responder())
        self.assertPam(res, "PAM_SUCCESS")

    def test_bad_password_or_ca(self):
        self.enroll_email()
        self.auth = ("pam_mfa", "wrong")
        self.configure()
        res = self.w.login("alice", ["123456"])
        self.assertPam(res, "PAM_AUTHINFO_UNAVAIL")
        self.auth = ("pam_mfa", "s3cret pass")
        # A CA that did not sign the server's certificate: refused.
        self.configure(ca_file='"/etc/ssl/certs/ca-certificates.crt"')
        res = self.w.login("alice", ["123456"])
        self.assertPam(res, "PAM_AUTHINFO_UNAVAIL")
        self.assertTrue(any("cannot send mail" in l for l in res.log), res)

    def test_no_credentials_in_the_url(self):
        self.configure(smtp_url='"smtp://user:secret@127.0.0.1:%d"' % self.port)
        proc = self.w.mfactl("check")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("email.smtp_url: must not hold credentials", proc.stderr)
        self.assertNotIn("secret", proc.stderr.split("must not")[1])

    def test_password_file_must_be_private(self):
        self.enroll_email()
        os.chmod(os.path.join(self.w.root, "smtp.password"), 0o644)
        res = self.w.login("alice", ["123456"])
        self.assertPam(res, "PAM_AUTHINFO_UNAVAIL")
        self.assertTrue(any("must not be readable by group or others" in l for l in res.log), res)


class EmailEnrollment(EmailTest):
    def test_enroll_at_login_with_typed_address(self):
        def respond(prompt, transcript):
            if prompt.startswith("Press Enter"):
                return ""
            if prompt.startswith("Type 1"):
                return "2"
            if prompt.startswith("Email address"):
                return "bob.b@example.org"
            return self.last_code()

        res = self.w.login_interactive("bob", respond)
        self.assertPam(res, "PAM_SUCCESS")
        self.assertIn("Your email address is set up", res.stdout)
        st = self.w.state("bob")
        self.assertEqual((st["email_address"], st["email_verified"]), ("bob.b@example.org", True))
        subjects = [m["Subject"] for m in self.messages()]
        self.assertTrue(subjects[0].startswith("Confirm your email address"), subjects)
        self.assertTrue(subjects[1].startswith("Multi-factor authentication set up for bob"),
                        subjects)
        # Next time, a login code by email.
        res = self.w.login_interactive("bob", self.code_responder(), at="2030-01-01 00:05:00")
        self.assertPam(res, "PAM_SUCCESS")

    def test_hostile_addresses_refused(self):
        hostile = ["a@b.c\r\nBcc: x@evil.org", "a@b.c>\r\nBcc:x@y.z", "a@b.c, x@evil.org",
                   "\"a b\"@example.org", "a@b@c.org", "a@localhost", "a@-b.org", "", "x" * 300]
        for addr in hostile:
            proc = self.w.mfactl("enroll", "alice", "--method", "email", "--address", addr)
            self.assertNotEqual(proc.returncode, 0, addr)
        answers = iter(hostile[:3])

        def respond(prompt, transcript):
            if prompt.startswith("Press Enter"):
                return ""
            if prompt.startswith("Type 1"):
                return "email"
            return next(answers)

        res = self.w.login_interactive("carol", respond)
        self.assertPam(res, "PAM_AUTH_ERR")
        self.assertEqual(res.stdout.count("That is not an email address"), 3)
        self.assertEqual(self.messages(), [])
        self.assertFalse(self.w.state("carol")["exists"])
        # A template that could inject a header is a config error.
        self.configure(address='"%u@example.org\\nBcc: x@evil.org"')
        self.assertEqual(self.w.mfactl("check").returncode, 1)

    def test_template_address_and_confirmation_after_totp(self):
        self.configure(address='"%u@corp.example.org"')

        def respond(prompt, transcript):
            if prompt.startswith("Press Enter"):
                return ""
            if prompt.startswith("Type 1"):
                return "1"
            _, params = parse_uri("\n".join(l[6:] for l in transcript if l.startswith("info: ")))
            return oathtool(params["secret"], T0)

        res = self.w.login_interactive("dave", respond)
        self.assertPam(res, "PAM_SUCCESS")
        msgs = self.messages()
        self.assertEqual(len(msgs), 1)
        self.assertEqual(msgs[0]["To"].addresses[0].addr_spec, "dave@corp.example.org")
        self.assertIn("an authenticator app", msgs[0].get_content())

    def test_admin_sends_verification_code(self):
        proc = self.w.mfactl("enroll", "erin", "--method", "email", "--address", "erin@example.org")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertFalse(self.w.state("erin")["email_verified"])
        code = self.last_code()
        # At the next login the address on record is offered and the code
        # from the admin's mail proves it (no second mail so soon).

        def respond(prompt, transcript):
            if prompt.startswith("Press Enter"):
                return ""
            if prompt.startswith("Type 1"):
                return "2"
            if prompt.startswith("Email address"):
                self.assertIn("[erin@example.org]", prompt)
                return ""
            return code

        res = self.w.login_interactive("erin", respond, at=None)
        self.assertPam(res, "PAM_SUCCESS")
        self.assertTrue(self.w.state("erin")["email_verified"])

    def test_dead_server_during_enrollment_saves_nothing(self):
        self.server.kill()
        self.server.wait()

        def respond(prompt, transcript):
            return {"P": "", "T": "2", "E": "fay@example.org"}.get(prompt[0], "")

        res = self.w.login_interactive("alice", respond)
        self.assertPam(res, "PAM_AUTHINFO_UNAVAIL")
        self.assertFalse(self.w.state("alice")["exists"])


class AdminMail(EmailTest):
    email_extra = {"address": '"%u@corp.example.org"'}

    def test_send_setup_reset_and_status(self):
        self.w.write_config({"methods": self.methods, "default_policy": '"required"',
                             "enroll_by": '"2031-01-31"', "email": self.w_email()})
        proc = self.w.mfactl("send-setup", "bob")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        msg = self.messages()[-1]
        self.assertEqual(msg["To"].addresses[0].addr_spec, "bob@corp.example.org")
        body = msg.get_content()
        self.assertIn("required", body)
        self.assertIn("2031-01-31", body)
        self.assertIn("Google Authenticator", body)
        self.assertTrue(any("action=send-setup user=bob" in l for l in proc.log))
        self.enroll_email("bob", "bob@example.org")
        doc = json.loads(self.w.mfactl("status", "--json", "bob").stdout)
        self.assertEqual(doc["users"][0]["email"]["address"], "bob@example.org")
        self.assertTrue(doc["users"][0]["email"]["verified"])
        self.assertEqual(doc["users"][0]["methods"], ["email"])
        n = len(self.messages())
        self.assertEqual(self.w.mfactl("reset", "bob").returncode, 0)
        self.assertEqual(len(self.messages()), n + 1)
        self.assertIn("reset", self.messages()[-1]["Subject"])
        self.assertEqual(self.messages()[-1]["To"].addresses[0].addr_spec, "bob@example.org")

    def w_email(self):
        return ("{ smtp_url = \"smtp://127.0.0.1:%d\"; starttls = \"off\"; from = \"%s\"; "
                "address = \"%%u@corp.example.org\"; timeout = %d; }"
                % (self.port, FROM, 30 if VALGRIND else 3))


if __name__ == "__main__":
    main()
