"""mfa-setup, the setuid self-service helper, run setuid root as the
unprivileged user nobody: opting in after a skip, replacing the
authenticator after proving the current one, and hostile input.  Its paths
are compiled in (the test build points them at MFA_SETUP_WORLD); the
password check of its PAM stack is a real pam_exec with expose_authtok."""
import os
import re
import shutil
import socket
import stat
import subprocess
import time
import unittest

from mfatest import ON_PG, World, files_only, main, oathtool, parse_uri, read_maildir


SETUP_BIN = os.environ["MFA_SETUP_TEST"]
SETUP_WORLD = os.environ["MFA_SETUP_WORLD"]
PASSWORD = "correct horse"
USER = "nobody"
ATTACKER = "mallory@evil.example"
SMTP_SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib",
                           "smtp_server.py")


def utc(offset=0):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() + offset))


class SetupWorld(unittest.TestCase):
    """The fixed world, the setuid copy, and ways to drive it."""

    def setUp(self):
        self.w = World("setup", users=[USER, "alice"], root=SETUP_WORLD)
        checker = os.path.join(self.w.root, "check-password")
        with open(checker, "w") as f:
            # pam_exec hands over the password and a NUL byte.
            f.write('#!/bin/sh\n[ "$(tr -d \'\\000\')" = "%s" ]\n' % PASSWORD)
        os.chmod(checker, 0o755)
        with open(os.path.join(self.w.pamd, "mfa-setup"), "w") as f:
            f.write("auth required pam_exec.so expose_authtok quiet %s\n" % checker)
            f.write("account required pam_permit.so\n")
        self.bin = os.path.join(self.w.root, "mfa-setup")
        shutil.copy(SETUP_BIN, self.bin)
        os.chown(self.bin, 0, 0)
        os.chmod(self.bin, 0o4755)
        if not os.stat(self.bin).st_mode & stat.S_ISUID:
            self.skipTest("cannot make a setuid binary here")

    def tearDown(self):
        shutil.rmtree(self.w.root, ignore_errors=True)

    def run_as_nobody(self, args, answers=None, respond=None, env=None, binary=None):
        """Runs the helper as nobody; answers are fed in order, or respond
        (prompt, output so far) is asked at each prompt."""
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                binary or self.bin] + list(args)
        self.w.follow_clock(None)  # the helper runs at the real time
        base = {"PATH": "/usr/bin:/bin",
                "ASAN_OPTIONS": "detect_leaks=0", "UBSAN_OPTIONS": "halt_on_error=1"}
        base.update(env or {})
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=base, text=True, errors="replace")
        out = ""
        pending = list(answers or [])
        buf = ""
        while True:
            ch = proc.stdout.read(1)
            if ch == "":
                break
            out += ch
            buf += ch
            if ch == "\n":
                buf = ""
            elif buf.endswith(": ") and buf.startswith(("Password", "Code", "Press", "Type",
                                                         "Email", "A name", "Mobile",
                                                         "Send")):
                answer = respond(buf, out) if respond else (pending.pop(0) if pending else None)
                buf = ""
                if answer is None:
                    proc.stdin.close()
                else:
                    proc.stdin.write(answer + "\n")
                    proc.stdin.flush()
        if not proc.stdin.closed:
            proc.stdin.close()
        proc.stdout.close()
        proc.wait(timeout=60)
        self.assertNotIn("Sanitizer", out)
        self.assertNotIn("runtime error:", out)
        return proc.returncode, out

    def enroller(self, current=None):
        """Answers: the password, the current code if asked, then the code
        for the secret shown."""
        shown = {}

        def respond(prompt, out):
            if prompt.startswith("Password"):
                return PASSWORD
            if prompt.startswith("Code from your authenticator app"):
                return oathtool(current, utc(30))  # a step newer than the last used
            if prompt.startswith("Press Enter once"):
                return ""
            _, params = parse_uri("\n".join(l for l in out.splitlines()
                                            if l.startswith("otpauth://")))
            shown["secret"] = params["secret"]
            return oathtool(params["secret"], utc())
        return respond, shown


class Setup(SetupWorld):
    def test_opt_in_after_skip(self):
        self.w.write_config({"default_policy": '"opt-out"'})
        self.assertIn("info: pam_mfa-ignored", self.w.login(USER, ["skip"], at=None).stdout)
        self.assertNotEqual(self.w.state(USER)["skip_since"], 0)
        code, out = self.run_as_nobody(["--status"])
        self.assertEqual(code, 0, out)
        self.assertIn("policy:   opt-out", out)
        self.assertIn("skipped:  yes", out)
        respond, shown = self.enroller()
        code, out = self.run_as_nobody([], respond=respond)
        self.assertEqual(code, 0, out)
        self.assertIn("Scan this QR code", out)
        state = self.w.state(USER)
        self.assertEqual(state["totp_secret"], shown["secret"])
        self.assertEqual(state["skip_since"], 0)
        if not ON_PG:   # a record file's owner and mode
            st = os.stat(os.path.join(self.w.state_dir, USER))
            self.assertEqual((st.st_uid, st.st_mode & 0o777), (0, 0o600))
        # The module now asks nobody for a code from the new app.
        later = utc(60)
        res = self.w.login(USER, [oathtool(shown["secret"], later)], at=later)
        self.assertEqual(res.pam, "PAM_SUCCESS", res)

    def test_wrong_password_changes_nothing(self):
        code, out = self.run_as_nobody([], answers=["wrong"])
        self.assertEqual(code, 1, out)
        self.assertIn("authentication failed", out)
        self.assertNotIn("otpauth://", out)
        self.assertEqual(self.w.users_with_state(), [])

    def test_replace_after_proving_current(self):
        alice = self.w.enroll("alice", at=None)
        alice_before = self.w.stored_text("alice")
        first, first_shown = self.enroller()
        self.assertEqual(self.run_as_nobody([], respond=first)[0], 0)
        old = first_shown["secret"]
        # Set up already: plain mfa-setup adds another, after a proof; no
        # proof, no change.
        code, out = self.run_as_nobody([], answers=[PASSWORD])
        self.assertEqual(code, 1)
        self.assertIn("Code from your authenticator app", out)
        self.assertIn("nothing was changed", out)
        # A wrong current code is refused and counted like a login's, on
        # both stores (the database checks it there).
        code, out = self.run_as_nobody(["--replace"], answers=[PASSWORD, "000000"])
        self.assertEqual(code, 1, out)
        self.assertIn("That code is not right", out)
        self.assertEqual(self.w.state(USER)["totp_secret"], old)
        self.assertEqual(self.w.state(USER)["fail_count"], 1)
        second, second_shown = self.enroller(current=old)
        code, out = self.run_as_nobody(["--replace"], respond=second)
        self.assertEqual(code, 0, out)
        self.assertIn("the old one no longer works", out)
        self.assertNotEqual(second_shown["secret"], old)
        self.assertEqual(self.w.state(USER)["totp_secret"], second_shown["secret"])
        # Only nobody's own record was touched.
        self.assertEqual(self.w.stored_text("alice"), alice_before)
        self.assertTrue(alice)

    def test_locked_user_cannot_replace(self):
        first, shown = self.enroller()
        self.assertEqual(self.run_as_nobody([], respond=first)[0], 0)
        for _ in range(3):
            self.run_as_nobody(["--replace"], answers=[PASSWORD, "abc"])
        second, _ = self.enroller(current=shown["secret"])
        code, out = self.run_as_nobody(["--replace"], respond=second)
        self.assertEqual(code, 1)
        self.assertIn("locked", out)
        self.assertEqual(self.w.state(USER)["totp_secret"], shown["secret"])

    def test_no_answer_saves_nothing(self):
        code, out = self.run_as_nobody([], answers=[PASSWORD])  # then end of input
        self.assertEqual(code, 1, out)
        self.assertIn("nothing was changed", out)
        self.assertFalse(self.w.state(USER)["exists"])

    def test_enroll_by_closes_self_enrollment(self):
        self.w.write_config({"default_policy": '"required"', "enroll_by": '"2020-01-01"'})
        code, out = self.run_as_nobody([], answers=[PASSWORD])
        self.assertEqual(code, 1)
        self.assertIn("contact your administrator", out)
        self.assertNotIn("Password", out)
        self.assertEqual(self.w.users_with_state(), [])
        # Users who may skip can still opt in after the date.
        self.w.write_config({"default_policy": '"opt-out"', "enroll_by": '"2020-01-01"'})
        respond, _ = self.enroller()
        self.assertEqual(self.run_as_nobody([], respond=respond)[0], 0)

    @files_only("a missing state directory")
    def test_missing_state_dir(self):
        os.rmdir(self.w.state_dir)
        for args in ([], ["--status"]):
            code, out = self.run_as_nobody(args, answers=[PASSWORD])
            self.assertEqual(code, 1, out)
            self.assertIn("cannot open the MFA state store", out)
            self.assertNotIn("otpauth://", out)
        self.assertFalse(os.path.exists(self.w.state_dir))

    def test_exempt(self):
        self.w.write_config({"default_policy": '"exempt"'})
        code, out = self.run_as_nobody([], answers=[PASSWORD])
        self.assertEqual(code, 1)
        self.assertIn("exempt", out)
        self.assertEqual(self.w.users_with_state(), [])

    def test_hostile_arguments_and_environment(self):
        for args in (["alice"], ["--replace", "alice", "x"], ["--config=/tmp/x.conf"],
                     ["--status", "--status"], [""], ["x" * 100000], ["-"], ["--replac"]):
            with self.subTest(args=args[0][:20]):
                code, out = self.run_as_nobody(args)
                self.assertEqual(code, 2, out)
                self.assertIn("usage: mfa-setup", out)
        # What the caller puts in the environment changes nothing.
        env = {"LD_PRELOAD": "/nonexistent/evil.so", "LD_LIBRARY_PATH": "/tmp",
               "PAM_MFA_CONFIG": "/tmp/evil.conf", "HOME": "/tmp", "IFS": "/",
               "LANG": "xx_XX.EVIL", "TZ": "../../../../tmp/evil", "NSS_WRAPPER_PASSWD": "/tmp/x"}
        code, out = self.run_as_nobody(["--status"], env=env)
        self.assertEqual(code, 0, out)
        self.assertIn("user:     nobody", out)
        self.assertEqual(self.w.users_with_state(), [])

    def test_refuses_without_setuid(self):
        plain = os.path.join(self.w.root, "mfa-setup-plain")
        shutil.copy(SETUP_BIN, plain)
        os.chmod(plain, 0o755)
        code, out = self.run_as_nobody(["--status"], binary=plain)
        self.assertEqual(code, 1)
        self.assertIn("must be installed setuid root", out)

    def test_help(self):
        code, out = self.run_as_nobody(["--help"])
        self.assertEqual(code, 0)
        self.assertIn("mfa-setup --replace", out)


class SetupRaces(SetupWorld):
    """The decisions of mfa-setup are taken again after the password, which
    waits as long as the user likes, and every write checks them: someone
    who has the password cannot add a factor beside one the user set up
    meanwhile."""

    def user_enrolls_totp_at_login(self):
        """nobody enrolls an authenticator app in a login meanwhile."""
        shown = {}

        def respond(prompt, transcript):
            if prompt.startswith("Press Enter"):
                return ""
            if prompt.startswith("Type 1"):
                return "1"
            _, params = parse_uri("\n".join(l[6:] for l in transcript
                                            if l.startswith("info: otpauth://")))
            shown["secret"] = params["secret"]
            return oathtool(shown["secret"], utc())

        res = self.w.login_interactive(USER, respond, at=None)
        self.assertEqual(res.pam, "PAM_SUCCESS", res)
        return shown["secret"]

    def with_mail(self, **extra):
        """Methods totp and email, through a real SMTP server on loopback."""
        self.maildir = os.path.join(self.w.root, "mail")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.smtp = subprocess.Popen(["/usr/bin/python3", SMTP_SERVER, str(port), self.maildir],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.addCleanup(self.smtp.wait)
        self.addCleanup(self.smtp.kill)
        self.assertEqual(self.smtp.stdout.readline().strip(), "ready")
        cfg = {"default_policy": '"optional"', "methods": '[ "totp", "email" ]',
               "email": '{ smtp_url = "smtp://127.0.0.1:%d"; starttls = "off"; '
                        'from = "no-reply@example.org"; timeout = 30; }' % port}
        cfg.update(extra)
        self.w.write_config(cfg)

    def mails(self):
        return read_maildir(self.maildir)

    def attacker(self, meanwhile, at_prompt):
        """Has the password and nothing else; picks email, and their own
        address; meanwhile() runs at the first prompt starting at_prompt."""
        state = {"done": False}

        def respond(prompt, out):
            if prompt.startswith(at_prompt) and not state["done"]:
                state["done"] = True
                meanwhile()
            if prompt.startswith("Password"):
                return PASSWORD
            if prompt.startswith("Code from your authenticator app"):
                return "000000"
            if prompt.startswith("Type 1"):
                return "2"
            if prompt.startswith("A name"):
                return ""
            if prompt.startswith("Email address"):
                return ATTACKER
            if prompt.startswith("Code from the email"):
                body = self.mails()[-1].get_content()
                return re.search(r"^    (\d{6,10})$", body, re.M).group(1)
            raise AssertionError("unexpected prompt %r" % prompt)
        return respond

    def test_enrolled_at_login_while_password_waits(self):
        secret = {}
        code, out = self.run_as_nobody([], respond=self.attacker(
            lambda: secret.update(s=self.user_enrolls_totp_at_login()), "Password"))
        # The fresh record has a factor: it must be proved first.
        self.assertEqual(code, 1, out)
        self.assertIn("That code is not right", out)
        self.assertNotIn("otpauth://", out)
        self.assertEqual(self.w.state(USER)["totp_secret"], secret["s"])

    def test_email_needs_the_app_enrolled_while_password_waits(self):
        self.with_mail()
        code, out = self.run_as_nobody([], respond=self.attacker(
            self.user_enrolls_totp_at_login, "Password"))
        self.assertEqual(code, 1, out)
        # The fresh record has a factor: it must be proved first.
        self.assertIn("Code from your authenticator app", out)
        self.assertIn("That code is not right", out)
        st = self.w.state(USER)
        self.assertFalse(st["email_verified"])
        self.assertNotEqual(st["email_address"], ATTACKER)
        self.assertEqual(self.mails(), [])

    def test_a_change_is_mailed_to_the_verified_address(self):
        self.with_mail(totp='{ window = 10; }')
        app = self.user_enrolls_totp_at_login()
        proc = self.w.mfactl("enroll", USER, "--method", "email", "--address",
                             "nobody@example.org", "--verified", "--add")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        before = len(self.mails())

        def respond(prompt, out):
            if prompt.startswith("Password"):
                return PASSWORD
            if prompt.startswith("Code from your authenticator app"):
                return oathtool(app, utc(30))
            if prompt.startswith("Type 1"):
                return "1"
            if prompt.startswith("A name"):
                return "tablet"
            _, params = parse_uri("\n".join(l for l in out.splitlines()
                                            if l.startswith("otpauth://")))
            return oathtool(params["secret"], utc())

        code, out = self.run_as_nobody(["--add"], respond=respond)
        self.assertEqual(code, 0, out)
        notices = self.mails()[before:]
        self.assertEqual(len(notices), 1, [m["Subject"] for m in notices])
        msg = notices[0]
        self.assertEqual(msg["To"].addresses[0].addr_spec, "nobody@example.org")
        self.assertIn("Your second factors for", msg["Subject"])
        body = msg.get_content()
        self.assertIn('a second factor was added: an authenticator app "tablet"', body)
        self.assertIn("through mfa-setup", body)

    def test_app_user_adds_email_after_enroll_by(self):
        # The date closes the trust in a password alone: a user who proves
        # their app may still add an address after it.
        self.w.write_config({"default_policy": '"optional"'})
        app = self.user_enrolls_totp_at_login()
        self.with_mail(default_policy='"required"', enroll_by='"2020-01-01"')

        def respond(prompt, out):
            if prompt.startswith("Password"):
                return PASSWORD
            if prompt.startswith("Code from your authenticator app"):
                return oathtool(app, utc(30))
            if prompt.startswith("Type 1"):
                return "2"
            if prompt.startswith("A name"):
                return "work"
            if prompt.startswith("Email address"):
                return "nobody@example.org"
            body = self.mails()[-1].get_content()
            return re.search(r"^    (\d{6,10})$", body, re.M).group(1)

        code, out = self.run_as_nobody([], respond=respond)
        st = self.w.state(USER)
        self.assertEqual(code, 0, out)
        self.assertEqual((st["email_address"], st["email_verified"]), ("nobody@example.org", True))

    def test_app_replaced_while_address_is_asked(self):
        self.with_mail()
        old = self.user_enrolls_totp_at_login()
        new = {}

        def admin_replaces():
            self.w.mfactl("reset", USER)
            new["s"] = self.w.enroll(USER, at=None)

        respond = self.attacker(admin_replaces, "Email address")
        # This one has the current code: what changes is the app itself.
        proving = respond

        def respond_with_code(prompt, out):
            if prompt.startswith("Code from your authenticator app"):
                return oathtool(old, utc(30))
            return proving(prompt, out)

        code, out = self.run_as_nobody([], respond=respond_with_code)
        self.assertEqual(code, 1, out)
        self.assertIn("second factors changed while you were setting it up", out)
        st = self.w.state(USER)
        self.assertEqual(st["totp_secret"], new["s"])
        self.assertFalse(st["email_verified"])
        self.assertFalse([m for m in self.mails()
                          if m["To"].addresses[0].addr_spec == ATTACKER])


class SetupDevices(SetupWorld):
    """A user's own factors: list, add, replace, remove, off, each after a
    proof of a factor held, and arguments that are no factor's."""

    def manager(self, app, label=None, new=None, proof_at=30):
        """Answers: the password, a code of app proof_at seconds ahead (the
        proof; each app's steps are spent one by one), a label, and the new
        app's code (its secret kept in new)."""
        def respond(prompt, out):
            if prompt.startswith("Password"):
                return PASSWORD
            if prompt.startswith("Code from your authenticator app"):
                return oathtool(app, utc(proof_at))
            if prompt.startswith("A name"):
                return label or ""
            if prompt.startswith("Press Enter once"):
                return ""
            _, params = parse_uri("\n".join(l for l in out.splitlines()
                                            if l.startswith("otpauth://")))
            if new is not None:
                new["secret"] = params["secret"]
            return oathtool(params["secret"], utc())
        return respond

    def first_app(self, policy='"required"'):
        # A wide window: the helper runs at the real time, and each proof
        # spends a step of an app.
        self.w.write_config({"default_policy": policy, "totp": '{ window = 10; }'})
        respond, shown = self.enroller()
        code, out = self.run_as_nobody([], respond=respond)
        self.assertEqual(code, 0, out)
        return shown["secret"]

    def test_add_list_replace_remove(self):
        phone = self.first_app()
        tablet = {}
        code, out = self.run_as_nobody(["--add"], respond=self.manager(phone, "tablet", tablet))
        self.assertEqual(code, 0, out)
        code, out = self.run_as_nobody(["--list"])
        self.assertEqual(code, 0, out)
        self.assertIn("1. authenticator app\n", out)
        self.assertIn('2. authenticator app "tablet"', out)
        # Either app logs in.
        later = utc(60)
        self.assertEqual(self.w.login(USER, [oathtool(tablet["secret"], later)],
                                      at=later).pam, "PAM_SUCCESS")
        # Replace the tablet's app by name: the old secret stops working.
        newer = {}
        code, out = self.run_as_nobody(["--replace", "tablet"],
                                       respond=self.manager(phone, None, newer, 60))
        self.assertEqual(code, 0, out)
        code, out = self.run_as_nobody(["--list"])
        self.assertIn('2. authenticator app "tablet"', out)
        later = utc(150)
        self.assertEqual(self.w.login(USER, [oathtool(tablet["secret"], later)],
                                      at=later).pam, "PAM_AUTH_ERR")
        # Remove the phone's app: the other stays; the last cannot go.
        code, out = self.run_as_nobody(["--remove", "1"],
                                       respond=self.manager(phone, proof_at=90))
        self.assertEqual(code, 0, out)
        self.assertIn("It is removed.", out)
        code, out = self.run_as_nobody(["--list"])
        self.assertNotIn("2.", out)
        self.assertIn('1. authenticator app "tablet"', out)
        code, out = self.run_as_nobody(["--remove", "tablet"], answers=[])
        self.assertEqual(code, 1, out)
        self.assertIn("that is your last second factor", out)
        self.assertNotIn("Password", out)
        code, out = self.run_as_nobody(["--off"], answers=[])
        self.assertEqual(code, 1, out)
        self.assertIn("cannot be turned off", out)

    def test_a_change_needs_a_proof(self):
        phone = self.first_app()
        self.run_as_nobody(["--add"], respond=self.manager(phone, "tablet"))
        before = self.w.stored_text(USER)
        code, out = self.run_as_nobody(["--remove", "2"], answers=[PASSWORD, "000000"])
        self.assertEqual(code, 1, out)
        self.assertIn("That code is not right", out)
        code, out = self.run_as_nobody(["--list"])
        self.assertIn('2. authenticator app "tablet"', out)
        self.assertEqual(self.w.state(USER)["fail_count"], 1)
        # The password alone adds nothing either.
        code, out = self.run_as_nobody(["--add"], answers=[PASSWORD])
        self.assertEqual(code, 1, out)
        self.assertNotIn("otpauth://", out)
        self.assertTrue(before)

    def test_off_under_opt_out_is_the_remembered_skip(self):
        phone = self.first_app('"opt-out"')
        code, out = self.run_as_nobody(["--off"], respond=self.manager(phone))
        self.assertEqual(code, 0, out)
        self.assertIn("Multi-factor authentication is off for your account", out)
        st = self.w.state(USER)
        self.assertIsNone(st["totp_secret"])
        self.assertNotEqual(st["skip_since"], 0)
        res = self.w.login(USER, [], at=None)
        self.assertIn("info: pam_mfa-ignored", res.stdout)

    def test_names_that_are_no_factor(self):
        phone = self.first_app()
        for args in (["--remove", "3"], ["--remove", "nosuch"], ["--change", "1"]):
            with self.subTest(args=args):
                code, out = self.run_as_nobody(args, answers=[])
                self.assertEqual(code, 1, out)
                self.assertNotIn("Password", out)
        for args in (["--remove", "../x"], ["--remove", "$(id)"], ["--remove", "x" * 40],
                     ["--remove", ""], ["--remove", "a\nb"], ["--remove"], ["--off", "1"],
                     ["--change"], ["--list", "1"], ["--remove", "1", "2"]):
            with self.subTest(args=args):
                code, out = self.run_as_nobody(args, answers=[])
                self.assertEqual(code, 2, out)
                self.assertNotIn("Password", out)
        self.assertEqual(self.w.state(USER)["totp_secret"], phone)



RECOVERY_RE = re.compile(r"\b([2-9a-hjkmnp-z]{4}-[2-9a-hjkmnp-z]{4}-[2-9a-hjkmnp-z]{4})\b")


class SetupRecovery(SetupWorld):
    """Recovery codes in mfa-setup: a set at the first factor, a new one
    after a proof, and a code that proves a user whose phone is lost."""
    manager = SetupDevices.manager

    def first_app_codes(self):
        self.w.write_config({"default_policy": '"required"', "totp": '{ window = 10; }'})
        respond, shown = self.enroller()
        code, out = self.run_as_nobody([], respond=respond)
        self.assertEqual(code, 0, out)
        codes = RECOVERY_RE.findall(out)
        self.assertEqual(len(codes), 10, out)
        self.assertIn("Press Enter once you have written them down", out)
        return shown["secret"], codes

    def test_first_factor_gives_a_set_and_a_new_one_needs_a_proof(self):
        phone, codes = self.first_app_codes()
        code, out = self.run_as_nobody(["--status"])
        self.assertIn("recovery: 10 of 10 codes left", out)
        # No proof, no new set.
        code, out = self.run_as_nobody(["--recovery-codes"], answers=[PASSWORD, "000000"])
        self.assertEqual(code, 1, out)
        self.assertEqual(RECOVERY_RE.findall(out), [])
        code, out = self.run_as_nobody(["--recovery-codes"], respond=self.manager(phone))
        self.assertEqual(code, 0, out)
        new = RECOVERY_RE.findall(out)
        self.assertEqual(len(new), 10, out)
        self.assertFalse(set(new) & set(codes))
        later = utc(90)
        self.assertEqual(self.w.login(USER, [codes[0]], at=later).pam, "PAM_AUTH_ERR")
        self.assertEqual(self.w.login(USER, [new[0]], at=later).pam, "PAM_SUCCESS")
        # Adding a factor keeps the set the user has.
        code, out = self.run_as_nobody(["--add"], respond=self.manager(phone, "tablet",
                                                                        proof_at=120))
        self.assertEqual(code, 0, out)
        self.assertEqual(RECOVERY_RE.findall(out), [])
        self.assertEqual(self.w.login(USER, [new[1]], at=later).pam, "PAM_SUCCESS")

    def test_a_recovery_code_proves_a_user_whose_phone_is_lost(self):
        phone, codes = self.first_app_codes()
        new = {}

        def respond(prompt, out):
            if prompt.startswith("Password"):
                return PASSWORD
            if prompt.startswith("Code from your authenticator app"):
                return codes[4]
            if prompt.startswith("Press"):
                return ""
            _, params = parse_uri("\n".join(l for l in out.splitlines()
                                            if l.startswith("otpauth://")))
            new["secret"] = params["secret"]
            return oathtool(params["secret"], utc())

        code, out = self.run_as_nobody(["--replace"], respond=respond)
        self.assertEqual(code, 0, out)
        self.assertIn("Lost your device? A recovery code works here too.", out)
        self.assertIn("9 recovery codes are left.", out)
        self.assertEqual(self.w.state(USER)["totp_secret"], new["secret"])
        # Spent by the proof.
        self.assertEqual(self.w.login(USER, [codes[4]], at=utc(60)).pam, "PAM_AUTH_ERR")
        self.assertEqual(self.w.login(USER, [oathtool(new["secret"], utc(60))],
                                      at=utc(60)).pam, "PAM_SUCCESS")

    def test_a_bypass_code_cannot_make_recovery_codes(self):
        self.first_app_codes()
        proc = self.w.mfactl("bypass", USER)
        bypass = RECOVERY_RE.findall(proc.stdout)
        self.assertEqual(len(bypass), 1, proc.stdout + proc.stderr)
        code, out = self.run_as_nobody(["--recovery-codes"], answers=[PASSWORD, bypass[0]])
        self.assertEqual(code, 1, out)
        self.assertIn("a bypass code cannot make recovery codes", out)
        self.assertEqual(RECOVERY_RE.findall(out), [])

    def test_refused_without_a_factor_or_when_not_used(self):
        code, out = self.run_as_nobody(["--recovery-codes"], answers=[])
        self.assertEqual(code, 1, out)
        self.assertIn("no second factor yet", out)
        self.assertNotIn("Password", out)
        self.first_app_codes()
        self.w.write_config({"default_policy": '"required"', "recovery": "{ codes = 0; }"})
        code, out = self.run_as_nobody(["--recovery-codes"], answers=[])
        self.assertEqual(code, 1, out)
        self.assertIn("does not use recovery codes", out)


if __name__ == "__main__":
    main()
