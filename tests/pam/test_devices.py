"""Several factors per user and codes by text message, through the real
libpam stack and a real HTTPS SMS gateway on loopback
(tests/lib/sms_gateway.py, a throwaway CA): the code read out of the
request the gateway recorded logs the user in.  Two apps, either works,
replays refused per app; several numbers picked by number; the gateway
down, failing, slow or answering nonsense changes nothing; enrollment of
a phone at login, with hostile numbers; a code from the apps of another
user.  The same tests run on both stores (pam-devices-pg)."""
import os
import re
import time

from mfatest import T0, VALGRIND, WorldTest, main, oathtool
from sms_gateway import Pki, SmsGateway

PASSWORD = "sms-gateway-password"
NUMBER = "+15550100123"
OTHER_NUMBER = "+447700900123"
SMS_PROMPT = "Code from the text message (or type resend for a new one): "
T1 = "2030-01-01 00:00:40"  # the next 30 s step


class DevicesTest(WorldTest):
    timeout = 3

    def setUp(self):
        super().setUp()
        self.pki = Pki(os.path.join(self.w.root, "pki"))
        self.gw = SmsGateway(os.path.join(self.w.root, "gw"), basic=("AC123", PASSWORD),
                             pki=self.pki).start()
        self.password_file = os.path.join(self.w.root, "sms.password")
        with open(self.password_file, "w") as f:
            f.write(PASSWORD + "\n")
        os.chmod(self.password_file, 0o600)
        self.configure()

    def tearDown(self):
        self.gw.stop()
        super().tearDown()

    def configure(self, methods='[ "totp", "sms" ]', **overrides):
        sms = {
            "url": '"%s"' % self.gw.url("/2010-04-01/Accounts/AC123/Messages.json"),
            "format": '"form"',
            "fields": '{ To = "%{phone}"; From = "+15550100"; Body = "%{message}"; }',
            "username": '"AC123"',
            "password_file": '"%s"' % self.password_file,
            "ca_file": '"%s"' % self.pki.ca_file,
            # A TLS handshake under valgrind's memcheck can take seconds.
            "timeout": "30" if VALGRIND else str(self.timeout),
        }
        sms.update(overrides)
        group = "{ " + " ".join("%s = %s;" % kv for kv in sms.items() if kv[1]) + " }"
        self.w.write_config({"methods": methods, "sms": group,
                             "default_policy": '"required"'})

    def enroll_phone(self, user, number=NUMBER, *extra):
        proc = self.w.mfactl("enroll", user, "--method", "sms", "--phone", number,
                             "--verified", *extra)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

    def code_responder(self, answers=()):
        """Answers prompts from the queue first, then code prompts with the
        code the gateway took last."""
        queue = list(answers)

        def respond(prompt, transcript):
            if queue:
                return queue.pop(0)
            return self.gw.last_code("Body")
        return respond


class Apps(DevicesTest):
    def test_either_app_works_replay_is_per_app(self):
        phone = self.w.enroll("alice", "--label", "phone")
        tablet = self.w.enroll("alice", "--add", "--label", "tablet")
        self.assertNotEqual(phone, tablet)
        self.assertPam(self.w.login("alice", [oathtool(tablet, T0)]), "PAM_SUCCESS")
        # The tablet's code of that step is spent: for the tablet only.
        res = self.w.login("alice", [oathtool(tablet, T0)])
        self.assertPam(res, "PAM_AUTH_ERR")
        self.assertTrue(any("reason=replayed-code" in l for l in res.log), res)
        self.assertPam(self.w.login("alice", [oathtool(phone, T0)]), "PAM_SUCCESS")
        self.assertPam(self.w.login("alice", [oathtool(phone, T0)]), "PAM_AUTH_ERR")
        self.assertPam(self.w.login("alice", [oathtool(tablet, T1)], at=T1), "PAM_SUCCESS")
        # Another user's app is nobody's here.
        bob = self.w.enroll("bob")
        self.assertPam(self.w.login("alice", [oathtool(bob, T1)], at=T1), "PAM_AUTH_ERR")

    def test_removing_one_leaves_the_other(self):
        phone = self.w.enroll("alice", "--label", "phone")
        tablet = self.w.enroll("alice", "--add", "--label", "tablet")
        proc = self.w.mfactl("reset", "alice", "--factor", "phone")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertPam(self.w.login("alice", [oathtool(phone, T0)]), "PAM_AUTH_ERR")
        self.assertPam(self.w.login("alice", [oathtool(tablet, T1)], at=T1), "PAM_SUCCESS")

    def test_user_left_with_no_factor_enrolls_again(self):
        """The last factor reset by an administrator: the next login offers
        enrollment, and it is saved (no proof asked of a user who holds
        none)."""
        self.w.enroll("alice")
        proc = self.w.mfactl("reset", "alice", "--method", "totp")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        shown = {}

        def respond(prompt, transcript):
            if prompt.startswith("Press Enter"):
                return ""
            if prompt.startswith("Type 1"):
                return "1"
            uri = [l[6:] for l in transcript if l.startswith("info: otpauth://")]
            shown["secret"] = re.search(r"secret=([A-Z2-7]+)", uri[-1]).group(1)
            return oathtool(shown["secret"], T0)

        res = self.w.login_interactive("alice", respond)
        self.assertPam(res, "PAM_SUCCESS")
        self.assertIn("Your authenticator app is set up.", res.stdout)
        self.assertEqual(self.w.state("alice")["totp_secret"], shown["secret"])

    def test_bound_per_method(self):
        self.w.write_config({"factors_per_method": "2"})
        self.w.enroll("alice")
        self.w.enroll("alice", "--add")
        proc = self.w.mfactl("enroll", "alice", "--qr", "none", "--add")
        self.assertEqual(proc.returncode, 1, proc.stdout)
        self.assertIn("factors_per_method", proc.stderr)


class SmsLogin(DevicesTest):
    def test_code_from_the_gateway_logs_in(self):
        self.enroll_phone("bob")
        res = self.w.login_interactive("bob", self.code_responder(), rhost="203.0.113.9")
        self.assertPam(res, "PAM_SUCCESS")
        self.assertIn("info: A code was sent to +1******0123.", res.stdout)
        self.assertIn("prompt-off: " + SMS_PROMPT, res.stdout)
        self.assertTrue(any("method=sms" in l and "outcome=success" in l for l in res.log), res)
        req = self.gw.last()
        self.assertEqual(req["method"], "POST")
        self.assertEqual(self.gw.fields(req)["To"], NUMBER)
        self.assertEqual(self.gw.fields(req)["From"], "+15550100")
        code = self.gw.last_code("Body")
        # Nothing of the code in the URL; nothing of it, or the number, in the log.
        self.assertNotIn(code, req["path"])
        self.assertFalse(any(code in l or NUMBER[2:] in l for l in res.log), res.log)
        # Single use.
        res = self.w.login_interactive("bob", self.code_responder([code]))
        self.assertPam(res, "PAM_AUTH_ERR")

    def test_wrong_codes_count_toward_the_lockout(self):
        self.enroll_phone("bob")
        for _ in range(5):
            res = self.w.login_interactive("bob", self.code_responder(["000000"]))
            self.assertPam(res, "PAM_AUTH_ERR")
        self.assertNotEqual(self.w.state("bob")["locked_until"], 0)
        res = self.w.login("bob", [])
        self.assertTrue(any("reason=locked" in l for l in res.log), res)

    def test_several_numbers_picked_by_number(self):
        self.enroll_phone("bob", NUMBER, "--label", "work")
        self.enroll_phone("bob", OTHER_NUMBER, "--add", "--label", "home")
        res = self.w.login_interactive("bob", self.code_responder(["2"]))
        self.assertPam(res, "PAM_SUCCESS")
        self.assertIn("info:   1. text message to +1******0123 (work)", res.stdout)
        self.assertIn("info:   2. text message to +4*******0123 (home)", res.stdout)
        self.assertIn("prompt-on: Send the code to (1-2): ", res.stdout)
        self.assertEqual(self.gw.fields(self.gw.last())["To"], OTHER_NUMBER)
        # A choice that is not one is asked again, and never sent anywhere.
        sent = len(self.gw.requests())
        res = self.w.login_interactive("bob", self.code_responder(["3", "+15550100999", "x"]))
        self.assertPam(res, "PAM_CONV_ERR")
        self.assertEqual(len(self.gw.requests()), sent)

    def test_switching_within_resend_after_keeps_the_code_sent(self):
        """A code went to one number; the user picks the other before
        resend_after: nothing new is sent, and the prompt names where the
        code that works went."""
        self.enroll_phone("bob", NUMBER, "--label", "work")
        self.enroll_phone("bob", OTHER_NUMBER, "--add", "--label", "home")
        res = self.w.login_interactive("bob", self.code_responder(["1", "sms", "2"]))
        self.assertPam(res, "PAM_SUCCESS")
        self.assertEqual(len(self.gw.requests()), 1)
        self.assertEqual(self.gw.fields(self.gw.last())["To"], NUMBER)
        self.assertIn("info: A code was sent to +1******0123 less than 30 seconds ago: use it.",
                      res.stdout)

    def test_app_user_switches_to_sms(self):
        self.w.enroll("carol")
        self.enroll_phone("carol")
        res = self.w.login_interactive("carol", self.code_responder(["sms"]))
        self.assertPam(res, "PAM_SUCCESS")
        self.assertIn("prompt-off: Verification code (or type sms to get one by text "
                      "message): ", res.stdout)


class GatewayFailures(DevicesTest):
    def assert_nothing_changed(self, res, before, reason="reason=sms"):
        self.assertPam(res, "PAM_AUTHINFO_UNAVAIL")
        self.assertIn("Could not send the code", res.stdout)
        self.assertTrue(any(reason in l for l in res.log), res)
        after = self.w.state("bob")
        self.assertEqual(after, before)

    def test_gateway_errors_change_nothing(self):
        self.enroll_phone("bob")
        before = self.w.state("bob")
        for mode in ("error", "nonsense"):
            with self.subTest(mode=mode):
                self.gw.behave(mode=mode)
                res = self.w.login_interactive("bob", self.code_responder(["000000"]))
                self.assert_nothing_changed(res, before)
        with self.subTest(mode="401"):
            self.gw.behave()
            with open(self.password_file, "w") as f:
                f.write("not the password\n")
            res = self.w.login_interactive("bob", self.code_responder(["000000"]))
            self.assert_nothing_changed(res, before)

    def test_gateway_slow_fails_within_timeout(self):
        self.enroll_phone("bob")
        before = self.w.state("bob")
        timeout = 30 if VALGRIND else self.timeout  # as configure() sets it
        self.gw.behave(mode="slow", delay=timeout + 3)
        start = time.monotonic()
        res = self.w.login_interactive("bob", self.code_responder(["000000"]))
        self.assertLess(time.monotonic() - start, timeout + 3)
        self.assert_nothing_changed(res, before)

    def test_gateway_down(self):
        self.enroll_phone("bob")
        before = self.w.state("bob")
        self.gw.stop()
        res = self.w.login_interactive("bob", self.code_responder(["000000"]))
        self.assert_nothing_changed(res, before)
        self.gw.start()


class SmsEnrollment(DevicesTest):
    def test_enroll_a_phone_at_login(self):
        res = self.w.login_interactive("dave", self.code_responder(["", "2", NUMBER]))
        self.assertPam(res, "PAM_SUCCESS")
        self.assertIn("Type 1 to use an authenticator app, or 2 to get codes by text message "
                      "(SMS): ", res.stdout)
        self.assertIn("Your phone number is set up.", res.stdout)
        self.assertEqual(self.gw.fields(self.gw.last())["To"], NUMBER)
        status = self.w.mfactl("status", "--json", "dave")
        self.assertIn(NUMBER, status.stdout)
        # The next login sends a code to it.
        res = self.w.login_interactive("dave", self.code_responder(), at=T1)
        self.assertPam(res, "PAM_SUCCESS")

    def test_hostile_numbers_are_asked_again_and_never_sent(self):
        hostile = ["+1 555 0100", "+1555O100123", "+" + "1" * 40, "+15550100\r\nX: y"]
        res = self.w.login_interactive("dave", self.code_responder(["", "2"] + hostile[:3]))
        self.assertPam(res, "PAM_AUTH_ERR")
        self.assertEqual(res.stdout.count("That is not a phone number this system accepts"), 3)
        self.assertEqual(self.gw.requests(), [])
        self.assertFalse(self.w.state("dave")["exists"])
        # A CR LF ends the answer (the conversation takes lines): what
        # comes of it is refused as well.
        res = self.w.login_interactive("dave", self.code_responder(["", "2", hostile[3], "abc",
                                                                    "def"]))
        self.assertNotEqual(res.pam, "PAM_SUCCESS")
        self.assertEqual(self.gw.requests(), [])

    def test_wrong_code_saves_nothing(self):
        res = self.w.login_interactive("dave", self.code_responder(
            ["", "2", NUMBER, "000000", "000001", "000002"]))
        self.assertPam(res, "PAM_AUTH_ERR")
        status = self.w.mfactl("status", "--json", "dave")
        self.assertNotIn('"verified": true', status.stdout)
        self.assertTrue(re.search(r"reason=enrollment-not-confirmed", "\n".join(res.log)), res)


if __name__ == "__main__":
    main()
