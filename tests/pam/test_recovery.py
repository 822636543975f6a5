"""Recovery codes, helpdesk bypass codes and lockout notices through the
real libpam stack, with a real SMTP server on loopback (aiosmtpd) that
the notices are read from.  A recovery code logs in once and never again,
in any order and as typed from paper; a new set ends the old; wrong ones
count toward the same lockout as wrong TOTP codes; the set is no factor of
its own.  A bypass code works its uses until it expires.  A lockout mails
the user and the security team once per notify.lockout_interval, with
where and until when, and never a code.  The same tests run on both
stores (pam-recovery-pg)."""
import re
import socket

from mfatest import ON_PG, T0, WorldTest, main, oathtool
from test_email import EmailTest

CODE_RE = re.compile(r"\b([2-9a-hjkmnp-z]{4}-[2-9a-hjkmnp-z]{4}-[2-9a-hjkmnp-z]{4})\b")
HELP = "info: Lost your device? A recovery code works here too."
TEAM = "security@example.org"
T_LATER = "2030-01-01 00:05:10"   # past a 60 s lock
T_HOUR = "2030-01-01 01:10:10"    # past notify.lockout_interval
T_DAY = "2030-01-02 00:00:10"


def codes_in(text):
    return CODE_RE.findall(text)


class RecoveryTest(EmailTest):
    methods = '[ "totp", "email" ]'

    def configure(self, **overrides):
        self.w.write_config({"methods": self.methods, "email": self.email_group(**overrides),
                             "default_policy": '"required"',
                             "lockout": "{ attempts = 3; interval = 900; unlock_after = 60; }",
                             "notify": '{ lockout_to = "%s"; }' % TEAM})

    def email_group(self, **overrides):
        settings = {
            "smtp_url": '"smtp://127.0.0.1:%d"' % self.port,
            "starttls": '"off"',
            "from": '"pam_mfa <mfa@example.org>"',
            "address": '"%u@example.org"',
            "timeout": "3",
        }
        settings.update(overrides)
        return "{ " + " ".join("%s = %s;" % kv for kv in settings.items() if kv[1]) + " }"

    def new_codes(self, user="alice", at=T0):
        proc = self.w.mfactl("recovery-codes", user, at=at)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        codes = codes_in(proc.stdout)
        self.assertEqual(len(codes), 10, proc.stdout)
        return codes

    def mails_to(self, addr):
        return [m for m in self.messages() if m["To"].addresses[0].addr_spec == addr]


class RecoveryCodes(RecoveryTest):
    def test_a_code_logs_in_once_and_never_again(self):
        self.w.enroll("alice")
        codes = self.new_codes()
        before = len(self.messages())
        res = self.w.login("alice", [codes[3]], rhost="198.51.100.7")
        self.assertPam(res, "PAM_SUCCESS")
        self.assertIn(HELP, res.stdout)
        self.assertIn("info: Logged in with a recovery code; 9 are left.", res.stdout)
        self.assertTrue(any("method=recovery" in l and "outcome=success" in l and
                            "remaining=9" in l for l in res.log), res)
        self.assertFalse(any(codes[3] in l or codes[3].replace("-", "") in l
                             for l in res.log), res)
        # The notice: to the user's address, where and how many are left,
        # never the code.
        notes = self.messages()[before:]
        self.assertEqual(len(notes), 1, [m["Subject"] for m in notes])
        self.assertEqual(notes[0]["To"].addresses[0].addr_spec, "alice@example.org")
        self.assertIn("recovery code", notes[0]["Subject"])
        body = notes[0].get_content()
        for word in (socket.gethostname(), "pam_mfa_test", "198.51.100.7", "9 recovery codes"):
            self.assertIn(word, body)
        for c in codes:
            self.assertNotIn(c, body)
            self.assertNotIn(c.replace("-", ""), body)
        # Spent: counted as a wrong code, and no login.
        res = self.w.login("alice", [codes[3]])
        self.assertPam(res, "PAM_AUTH_ERR")
        self.assertTrue(any("reason=wrong-code failures=1" in l for l in res.log), res)
        # Any other, in any order, as typed from paper.
        self.assertPam(self.w.login("alice", [codes[9].upper()]), "PAM_SUCCESS")
        self.assertPam(self.w.login("alice", [" " + codes[0].replace("-", " ") + " "]),
                       "PAM_SUCCESS")
        self.assertPam(self.w.login("alice", [codes[5].replace("-", "")]), "PAM_SUCCESS")

    def test_few_left_tells_to_make_new_ones(self):
        self.w.enroll("alice")
        codes = self.new_codes()
        for c in codes[:7]:
            res = self.w.login("alice", [c])
            self.assertPam(res, "PAM_SUCCESS")
            self.assertNotIn("mfa-setup --recovery-codes", res.stdout)
        res = self.w.login("alice", [codes[7]])
        self.assertIn("info: Logged in with a recovery code; 2 are left. Make new ones with "
                      "mfa-setup --recovery-codes.", res.stdout)
        res = self.w.login("alice", [codes[8]])
        self.assertIn("1 is left. Make new ones", res.stdout)
        res = self.w.login("alice", [codes[9]])
        self.assertIn("0 are left. Make new ones", res.stdout)
        # None left: no help line, and nothing works any more.
        res = self.w.login("alice", [codes[9]])
        self.assertPam(res, "PAM_AUTH_ERR")
        self.assertNotIn(HELP, res.stdout)

    def test_a_new_set_ends_the_old(self):
        self.w.enroll("alice")
        old = self.new_codes()
        new = self.new_codes()
        self.assertFalse(set(old) & set(new))
        for c in old[:2]:
            self.assertPam(self.w.login("alice", [c]), "PAM_AUTH_ERR")
        self.assertPam(self.w.login("alice", [new[0]]), "PAM_SUCCESS")

    def test_app_still_works_and_totp_prompt_unchanged(self):
        secret = self.w.enroll("alice")
        self.new_codes()
        res = self.w.login("alice", [oathtool(secret, T0)])
        self.assertPam(res, "PAM_SUCCESS")
        self.assertIn("prompt-off: Verification code", res.stdout)
        self.assertNotIn("recovery", res.stdout.split("prompt-off:")[1].lower())

    def test_no_help_line_without_codes(self):
        secret = self.w.enroll("alice", "--no-recovery-codes")
        res = self.w.login("alice", [oathtool(secret, T0)])
        self.assertPam(res, "PAM_SUCCESS")
        self.assertNotIn(HELP, res.stdout)

    def test_garbage_and_overlong_answers_change_nothing_but_the_count(self):
        self.w.enroll("alice")
        codes = self.new_codes()
        for junk in ("zzzz-zzzz-zzzz", "0000-0000-0000", "a" * 5000, "\x01\x02-abcd"):
            res = self.w.login("alice", [junk])
            self.assertPam(res, "PAM_AUTH_ERR")
            self.w.mfactl("unlock", "alice")
        self.assertPam(self.w.login("alice", [codes[0]]), "PAM_SUCCESS")

    def test_brute_force_hits_the_same_lockout(self):
        secret = self.w.enroll("alice")
        codes = self.new_codes()
        wrong = ["%s-%s-%s" % (c[:4], c[5:9], "zzzz") for c in codes[:3]]
        for i, w in enumerate(wrong):
            res = self.w.login("alice", [w])
            self.assertPam(res, "PAM_AUTH_ERR")
        self.assertTrue(any("locked=yes" in l for l in res.log), res)
        # Locked: neither a right recovery code nor the app gets in.
        res = self.w.login("alice", [codes[5]])
        self.assertPam(res, "PAM_AUTH_ERR")
        self.assertPam(self.w.login("alice", [oathtool(secret, T0)]), "PAM_AUTH_ERR")
        # The code tried while locked was not spent.
        self.assertPam(self.w.login("alice", [codes[5]], at=T_LATER), "PAM_SUCCESS")

    def test_wrong_totp_and_recovery_codes_share_the_count(self):
        secret = self.w.enroll("alice")
        self.new_codes()
        self.assertPam(self.w.login("alice", ["000000"]), "PAM_AUTH_ERR")
        self.assertPam(self.w.login("alice", ["zzzz-zzzz-zzzz"]), "PAM_AUTH_ERR")
        res = self.w.login("alice", ["000001"])
        self.assertTrue(any("locked=yes" in l for l in res.log), res)
        self.assertPam(self.w.login("alice", [oathtool(secret, T0)]), "PAM_AUTH_ERR")

    def test_codes_are_not_a_factor(self):
        """The last factor reset: the user is not enrolled, the set went with
        it, and the next login offers enrollment."""
        self.w.enroll("alice")
        codes = self.new_codes()
        proc = self.w.mfactl("reset", "alice", "--method", "totp")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        res = self.w.login_interactive("alice", lambda p, t: codes[0] if "code" in p.lower()
                                       else None)
        self.assertNotEqual(res.pam, "PAM_SUCCESS")
        self.assertNotIn(HELP, res.stdout)
        self.assertIn("set up", res.stdout.lower())

    def test_at_the_email_prompt_too(self):
        """An email-only user whose mailbox is lost types a recovery code at
        the email code's prompt."""
        proc = self.w.mfactl("enroll", "bob", "--method", "email", "--address",
                             "bob@example.org", "--verified", "--no-recovery-codes")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        codes = self.new_codes("bob")
        res = self.w.login("bob", [codes[0]])
        self.assertPam(res, "PAM_SUCCESS")
        self.assertIn(HELP, res.stdout)
        self.assertIn("prompt-off: Code from the email", res.stdout)
        self.assertTrue(any("method=recovery" in l and "outcome=success" in l
                            for l in res.log), res)


class EnrollmentAtLogin(RecoveryTest):
    def test_enrollment_ends_with_a_set_that_works(self):
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
        codes = codes_in(res.stdout)
        self.assertEqual(len(codes), 10, res.stdout)
        self.assertEqual(len(set(codes)), 10)
        self.assertIn("they are not shown again", res.stdout)
        self.assertTrue(any("10 recovery codes made" in l for l in res.log), res)
        for c in codes:
            self.assertFalse(any(c in l for l in res.log))
        # Kept hashed: the store's text holds none of them.
        stored = self.w.stored_text("alice")
        for c in codes:
            self.assertNotIn(c.replace("-", ""), stored)
        self.assertPam(self.w.login("alice", [codes[4]], at=T_LATER), "PAM_SUCCESS")
        self.assertPam(self.w.login("alice", [codes[4]], at=T_LATER), "PAM_AUTH_ERR")

    def test_set_size_follows_the_configuration(self):
        self.w.write_config({"methods": self.methods, "email": self.email_group(),
                             "default_policy": '"required"', "recovery": "{ codes = 4; }"})
        self.w.enroll("alice")
        proc = self.w.mfactl("recovery-codes", "alice")
        self.assertEqual(len(codes_in(proc.stdout)), 4, proc.stdout)


class BypassCodes(RecoveryTest):
    def bypass(self, *extra, user="alice", at=T0):
        proc = self.w.mfactl("bypass", user, *extra, at=at)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        codes = codes_in(proc.stdout)
        self.assertEqual(len(codes), 1, proc.stdout)
        return codes[0]

    def test_one_use_by_default(self):
        self.w.enroll("alice", "--no-recovery-codes")
        code = self.bypass()
        before = len(self.messages())
        res = self.w.login("alice", [code], rhost="198.51.100.8")
        self.assertPam(res, "PAM_SUCCESS")
        self.assertIn(HELP, res.stdout)
        self.assertTrue(any("method=bypass" in l and "outcome=success" in l
                            for l in res.log), res)
        notes = self.messages()[before:]
        self.assertEqual(len(notes), 1)
        self.assertIn("bypass", notes[0]["Subject"])
        self.assertIn("198.51.100.8", notes[0].get_content())
        self.assertNotIn(code, notes[0].get_content())
        res = self.w.login("alice", [code])
        self.assertPam(res, "PAM_AUTH_ERR")
        self.assertNotIn(HELP, res.stdout)

    def test_uses_and_expiry(self):
        self.w.enroll("alice", "--no-recovery-codes")
        code = self.bypass("--uses", "3", "--valid", "1h")
        res = self.w.login("alice", [code])
        self.assertPam(res, "PAM_SUCCESS")
        self.assertIn("works 2 more times", res.stdout)
        self.assertPam(self.w.login("alice", [code], at=T_LATER), "PAM_SUCCESS")
        # Past its hour: expired, with a use left.
        res = self.w.login("alice", [code], at=T_HOUR)
        self.assertPam(res, "PAM_AUTH_ERR")
        self.assertTrue(any("outcome=failure" in l for l in res.log), res)

    def test_revoked(self):
        self.w.enroll("alice", "--no-recovery-codes")
        code = self.bypass("--uses", "5")
        proc = self.w.mfactl("bypass", "alice", "--revoke")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertPam(self.w.login("alice", [code]), "PAM_AUTH_ERR")

    def test_enrollment_and_recovery_codes_stay(self):
        secret = self.w.enroll("alice")
        codes = self.new_codes()
        self.assertPam(self.w.login("alice", [self.bypass()]), "PAM_SUCCESS")
        self.assertPam(self.w.login("alice", [oathtool(secret, T_LATER)], at=T_LATER),
                       "PAM_SUCCESS")
        self.assertPam(self.w.login("alice", [codes[0]], at=T_LATER), "PAM_SUCCESS")

    def test_refused_for_a_user_not_enrolled(self):
        proc = self.w.mfactl("bypass", "carol")
        self.assertNotEqual(proc.returncode, 0)
        self.assertEqual(codes_in(proc.stdout), [])


class LockoutNotices(RecoveryTest):
    def lock(self, user="alice", at=T0, rhost="203.0.113.5"):
        for i in range(3):
            res = self.w.login(user, ["00000%d" % i], at=at, rhost=rhost)
            self.assertPam(res, "PAM_AUTH_ERR")
        self.assertTrue(any("locked=yes" in l for l in res.log), res)
        return res

    def test_user_and_team_hear_once_per_interval(self):
        self.w.enroll("alice", "--no-recovery-codes")
        self.lock()
        user_notes = self.mails_to("alice@example.org")
        team_notes = self.mails_to(TEAM)
        self.assertEqual(len(user_notes), 1, [m["Subject"] for m in self.messages()])
        self.assertEqual(len(team_notes), 1)
        for m in user_notes + team_notes:
            self.assertIn("locked", m["Subject"])
            self.assertIn("alice", m["Subject"])
            body = m.get_content()
            for word in (socket.gethostname(), "pam_mfa_test", "203.0.113.5",
                         "2030-01-01 00:01", "locked until"):
                self.assertIn(word, body)
            for i in range(3):
                self.assertNotIn("00000%d" % i, body)
        self.assertIn("mfactl unlock", team_notes[0].get_content())
        # Locked again within the hour: no more mail.
        self.lock(at=T_LATER)
        self.assertEqual(len(self.mails_to("alice@example.org")), 1)
        self.assertEqual(len(self.mails_to(TEAM)), 1)
        # After it: told again.
        self.lock(at=T_HOUR)
        self.assertEqual(len(self.mails_to("alice@example.org")), 2)
        self.assertEqual(len(self.mails_to(TEAM)), 2)

    def test_each_user_counts_alone(self):
        self.w.enroll("alice", "--no-recovery-codes")
        self.w.enroll("bob", "--no-recovery-codes")
        self.lock("alice")
        self.lock("bob")
        self.assertEqual(len(self.mails_to("alice@example.org")), 1)
        self.assertEqual(len(self.mails_to("bob@example.org")), 1)
        self.assertEqual(len(self.mails_to(TEAM)), 2)

    def test_a_dead_mail_server_changes_nothing(self):
        secret = self.w.enroll("alice", "--no-recovery-codes")
        self.server.kill()
        self.server.wait()
        res = self.lock()
        self.assertTrue(any("lockout notice" in l for l in res.log), res)
        # Still locked, as the count said; unlocked later as ever.
        self.assertPam(self.w.login("alice", [oathtool(secret, T0)]), "PAM_AUTH_ERR")
        self.assertPam(self.w.login("alice", [oathtool(secret, T_LATER)], at=T_LATER),
                       "PAM_SUCCESS")

    def test_no_team_address_only_the_user(self):
        self.w.write_config({"methods": self.methods, "email": self.email_group(),
                             "default_policy": '"required"',
                             "lockout": "{ attempts = 3; interval = 900; unlock_after = 0; }"})
        self.w.enroll("alice", "--no-recovery-codes")
        self.lock()
        self.assertEqual(len(self.mails_to(TEAM)), 0)
        notes = self.mails_to("alice@example.org")
        self.assertEqual(len(notes), 1)
        self.assertIn("an administrator unlocks it", notes[0].get_content())


if __name__ == "__main__":
    assert WorldTest and ON_PG in (True, False)
    main()
