"""Per-group policy and enrollment inside the login, through the real libpam:
required, optional, opt-out and exempt, for users enrolled or not, who skip,
enroll or fail; rule precedence; supplementary groups; non-interactive
conversations; enroll_by; and an enrollment driven end to end with codes
from oathtool."""

from mfatest import (ON_PG, T0, WorldTest, decode_terminal_qr, main, oathtool, parse_uri,
                     qr_lines_between)

POLICIES = ("required", "optional", "opt-out", "exempt")
OFFER = "prompt-on: Press Enter to set it up now"
CONFIRM = "Code shown by the app, to confirm: "
LATER = "2030-01-01 00:00:40"   # the next time step after T0


def uri_in(transcript):
    return parse_uri("\n".join(l[len("info: "):] for l in transcript
                               if l.startswith("info: ")))


class Enroller:
    """Answers the conversation like a person with an authenticator app:
    Enter at the offer, then the code oathtool computes from the URI shown,
    after `wrong` wrong codes."""

    def __init__(self, at=T0, wrong=0, offer_answer=""):
        self.at, self.wrong, self.offer_answer = at, wrong, offer_answer
        self.secret = None

    def __call__(self, prompt, transcript):
        if prompt.startswith("Press Enter"):
            return self.offer_answer
        if prompt == CONFIRM:
            _, params = uri_in(transcript)
            self.secret = params["secret"]
            if self.wrong > 0:
                self.wrong -= 1
                code = oathtool(self.secret, self.at)
                return "%06d" % ((int(code) + 1) % 1000000)
            return oathtool(self.secret, self.at)
        raise AssertionError("unexpected prompt %r" % prompt)


class PolicyMatrix(WorldTest):
    def set_policy(self, policy, **extra):
        cfg = {"default_policy": '"%s"' % policy}
        cfg.update(extra)
        self.w.write_config(cfg)

    def test_enrolled_users(self):
        secret = self.w.enroll("alice")
        at = T0
        for policy in POLICIES:
            with self.subTest(policy=policy):
                self.set_policy(policy)
                res = self.w.login("alice", [oathtool(secret, at)], at=at)
                if policy == "exempt":
                    # Exempt: no second factor at all, even when enrolled.
                    self.assertIgnored(res)
                    self.assertNotIn("prompt", res.stdout)
                    self.assertTrue(any("outcome=exempt" in l for l in res.log), res)
                    continue
                self.assertIn("prompt-off: Verification code: ", res.stdout)
                self.assertPam(res, "PAM_SUCCESS")
                self.assertTrue(any("policy=%s outcome=success" % policy in l
                                    for l in res.log), res)
                # Whatever the policy, an enrolled user cannot skip.
                self.assertPam(self.w.login("alice", ["skip"], at=at), "PAM_AUTH_ERR")
                self.w.mfactl("unlock", "alice")
                at = {T0: LATER, LATER: "2030-01-01 00:01:10",
                      "2030-01-01 00:01:10": "2030-01-01 00:01:40"}[at]

    def test_not_enrolled_skip(self):
        for policy in POLICIES:
            with self.subTest(policy=policy):
                self.set_policy(policy)
                res = self.w.login("bob", ["skip"])
                if policy == "exempt":
                    self.assertIgnored(res)
                    self.assertNotIn("prompt", res.stdout)
                elif policy == "required":
                    # No skip is offered, and typing it does not skip.
                    self.assertIn("prompt-on: Press Enter to set it up now: ", res.stdout)
                    self.assertNotIn("type skip", res.stdout)
                    self.assertIn("Skipping is not possible", res.stdout)
                    self.assertIn("prompt-off: " + CONFIRM, res.stdout)
                    self.assertPam(res, "PAM_CONV_ERR")
                else:
                    self.assertIn(OFFER + ", or type skip: ", res.stdout)
                    self.assertIgnored(res)
                    self.assertTrue(any("outcome=skipped" in l for l in res.log), res)
                # Only opt-out remembers anything.
                st = self.w.state("bob")
                self.assertEqual(st["exists"], policy == "opt-out", policy)
                if st["exists"]:
                    self.assertNotEqual(st["skip_since"], 0)
                    self.w.mfactl("reset", "bob")

    def test_not_enrolled_enroll(self):
        for policy in ("required", "optional", "opt-out"):
            with self.subTest(policy=policy):
                self.set_policy(policy)
                who = Enroller()
                res = self.w.login_interactive("carol", who)
                self.assertPam(res, "PAM_SUCCESS")
                self.assertIn("Your authenticator app is set up", res.stdout)
                self.assertTrue(any("outcome=enrolled" in l for l in res.log), res)
                st = self.w.state("carol")
                self.assertEqual(st["totp_secret"], who.secret)
                self.assertEqual(st["skip_since"], 0)
                # The code that confirmed the enrollment is spent...
                self.assertPam(self.w.login("carol", [oathtool(who.secret, T0)]),
                               "PAM_AUTH_ERR")
                # ...and the next one logs in.
                self.assertPam(self.w.login("carol", [oathtool(who.secret, LATER)], at=LATER),
                               "PAM_SUCCESS")
                self.w.mfactl("reset", "carol")

    def test_not_enrolled_fail(self):
        for policy in ("required", "optional", "opt-out"):
            with self.subTest(policy=policy):
                self.set_policy(policy)
                res = self.w.login_interactive("dave", Enroller(wrong=3))
                self.assertPam(res, "PAM_AUTH_ERR")
                self.assertEqual(res.stdout.count("prompt-off: " + CONFIRM), 3)
                self.assertIn("nothing was saved", res.stdout)
                self.assertFalse(self.w.state("dave")["exists"])
                self.assertTrue(any("reason=enrollment-not-confirmed" in l for l in res.log))

    def test_wrong_then_right_code(self):
        self.set_policy("required")
        who = Enroller(wrong=2)
        res = self.w.login_interactive("dave", who)
        self.assertPam(res, "PAM_SUCCESS")
        self.assertEqual(res.stdout.count("That code is not right"), 2)
        self.assertEqual(self.w.state("dave")["totp_secret"], who.secret)

    def test_skip_answer_forms(self):
        self.set_policy("optional")
        for answer in ("SKIP", "  skip  ", "Skip\t"):
            self.assertIgnored(self.w.login("bob", [answer]))
        # Anything else starts the enrollment.
        res = self.w.login("bob", ["skipp"])
        self.assertIn("prompt-off: " + CONFIRM, res.stdout)

    def test_skip_result_success(self):
        self.set_policy("optional")
        self.w.write_stack("pam_mfa_test", "skip_result=success")
        self.assertPam(self.w.login("bob", ["skip"]), "PAM_SUCCESS")
        self.set_policy("exempt")
        self.assertPam(self.w.login("bob", []), "PAM_SUCCESS")
        self.w.write_stack("pam_mfa_test", "skip_result=ignore")
        self.assertIgnored(self.w.login("bob", []))
        # A wrong code is still a failure.
        self.set_policy("optional")
        self.w.write_stack("pam_mfa_test", "skip_result=success")
        secret = self.w.enroll("bob")
        self.assertPam(self.w.login("bob", ["000000" if oathtool(secret, T0) != "000000"
                                            else "111111"]), "PAM_AUTH_ERR")


class OptOut(WorldTest):
    config = {"default_policy": '"opt-out"'}

    def test_skip_remembered_until_reset(self):
        self.assertIgnored(self.w.login("erin", ["skip"]))
        self.assertNotEqual(self.w.state("erin")["skip_since"], 0)
        for _ in range(2):
            res = self.w.login("erin", [])
            self.assertIgnored(res)
            self.assertNotIn("prompt", res.stdout)
            self.assertTrue(any("reason=remembered" in l for l in res.log), res)
        status = self.w.mfactl("status", "erin")
        self.assertRegex(status.stdout, r"(?m)^erin\s+opt-out\s+none\s+-\s+yes")
        self.assertEqual(self.w.mfactl("reset", "erin").returncode, 0)
        res = self.w.login("erin", ["skip"])
        self.assertIn(OFFER, res.stdout)

    def test_admin_enrollment_ends_the_skip(self):
        self.assertIgnored(self.w.login("erin", ["skip"]))
        secret = self.w.enroll("erin")
        self.assertEqual(self.w.state("erin")["skip_since"], 0)
        # Even with the factor reset, the old skip does not come back.
        self.w.mfactl("reset", "erin", "--method", "totp")
        res = self.w.login("erin", ["skip"])
        self.assertIn(OFFER, res.stdout)
        self.assertTrue(secret)

    def test_skip_after_enrolling_elsewhere(self):
        for policy in ("optional", "opt-out"):
            with self.subTest(policy=policy):
                self.w.write_config({"default_policy": '"%s"' % policy})

                def respond(prompt, transcript):
                    # While this login waits at the offer, the user enrolls
                    # (another session, or an admin).
                    self.w.enroll("bob", "--force")
                    return "skip"

                res = self.w.login_interactive("bob", respond)
                self.assertPam(res, "PAM_AUTH_ERR")
                self.assertIn("second factor changed while you were setting it up", res.stdout)
                self.assertTrue(any("reason=enrolled-meanwhile" in l for l in res.log), res)
                self.assertEqual(self.w.state("bob")["skip_since"], 0)
                self.w.mfactl("reset", "bob")

    def test_policy_change_takes_effect_next_login(self):
        self.assertIgnored(self.w.login("erin", ["skip"]))
        self.w.write_config({"default_policy": '"required"'})
        res = self.w.login("erin", ["skip"])
        self.assertIn("prompt-on: Press Enter to set it up now: ", res.stdout)
        self.assertIn("Skipping is not possible", res.stdout)
        who = Enroller()
        self.assertPam(self.w.login_interactive("erin", who), "PAM_SUCCESS")
        self.assertEqual(self.w.state("erin")["skip_since"], 0)


class Rules(WorldTest):
    groups = {"wheel": ["alice"], "contractors": ["alice", "bob"], "svc-bots": ["carol"]}

    def setUp(self):
        super().setUp()
        self.w.write_config({
            "default_policy": '"optional"',
            "rules": '''(
  { group = "wheel";       policy = "required"; },
  { group = "contractors"; policy = "opt-out"; },
  { group = "svc-bots";    policy = "exempt"; },
  { user  = "deploy";      policy = "exempt"; },
  { user  = "bob";         policy = "required"; },
  { group = "dave";        policy = "required"; methods = [ "totp" ]; }
)'''})

    def policy(self, user):
        out = self.w.mfactl("policy", user)
        self.assertEqual(out.returncode, 0, out.stderr)
        return dict(l.split(":", 1) for l in out.stdout.splitlines())

    def test_first_match_wins_with_supplementary_groups(self):
        # alice: wheel (supplementary) before contractors.
        p = self.policy("alice")
        self.assertEqual(p["policy"].strip(), "required")
        self.assertIn("rule 1 at %s:" % self.w.admin_config_path, p["matched"])
        self.assertIn('(group "wheel")', p["matched"])
        # bob: the contractors rule comes before his user rule.
        self.assertEqual(self.policy("bob")["policy"].strip(), "opt-out")
        self.assertEqual(self.policy("carol")["policy"].strip(), "exempt")
        # dave: his primary group.
        self.assertEqual(self.policy("dave")["policy"].strip(), "required")
        self.assertIn("rule 6", self.policy("dave")["matched"])
        p = self.policy("erin")
        self.assertEqual(p["policy"].strip(), "optional")
        self.assertIn("default_policy", p["matched"])
        self.assertEqual(p["methods"].strip(), "totp")

    def test_at_login(self):
        res = self.w.login("alice", ["skip"])
        self.assertIn("Skipping is not possible", res.stdout)
        self.assertTrue(any("policy=required" in l for l in res.log), res)
        self.assertIgnored(self.w.login("bob", ["skip"]))
        self.assertNotEqual(self.w.state("bob")["skip_since"], 0)
        res = self.w.login("carol", [])
        self.assertIgnored(res)
        self.assertNotIn("prompt", res.stdout)

    def test_status_and_missing(self):
        import json
        secret = self.w.enroll("erin")
        self.assertTrue(secret)
        self.w.login("bob", ["skip"])
        doc = json.loads(self.w.mfactl("status", "--json").stdout)
        users = {u["user"]: u for u in doc["users"]}
        self.assertEqual(users["alice"]["policy"], "required")
        self.assertEqual(users["alice"]["rule"], 1)
        self.assertEqual(users["erin"]["rule"], None)
        self.assertEqual(users["carol"]["allowed_methods"], ["totp"])
        self.assertIsNotNone(users["bob"]["skipped_since"])
        self.assertIsNone(users["alice"]["skipped_since"])
        missing = json.loads(self.w.mfactl("status", "--json", "--missing").stdout)
        names = sorted(u["user"] for u in missing["users"])
        # Not erin (enrolled), not carol (exempt); bob (opted out) may still enroll.
        self.assertEqual(names, ["alice", "bob", "dave", "root"])
        table = self.w.mfactl("status", "--missing").stdout
        self.assertNotRegex(table, r"(?m)^(carol|erin)\s")
        # status decides from the rules' groups looked up once; the login
        # and mfactl policy ask NSS for the user's groups: they agree.
        for user in self.w.users + ["root"]:
            self.assertEqual(users[user]["policy"], self.policy(user)["policy"].strip(), user)

    def test_check_flags_rules_that_match_nobody(self):
        self.assertEqual(self.w.mfactl("check").returncode, 1)  # user "deploy" is unknown
        self.w.write_config({"rules": '( { group = "wheeel"; policy = "required"; } )'})
        proc = self.w.mfactl("check")
        self.assertEqual(proc.returncode, 1)
        self.assertIn('rule 1: group "wheeel" does not exist, so the rule matches nobody',
                      proc.stderr)
        res = self.w.login("alice", ["skip"])
        self.assertTrue(any('names group "wheeel", which does not exist' in l
                            for l in res.log), res)

    def test_rule_config_errors(self):
        cases = [
            ('( { group = "wheel"; } )', "rules.[1]: a rule needs a policy"),
            ('( { policy = "required"; } )', "rules.[1]: a rule needs a user or a group"),
            ('( { user = "a"; group = "b"; policy = "exempt"; } )', "not both"),
            ('( { group = "wheel"; policy = "mandatory"; } )',
             'rules.[1].policy: "mandatory" is not one of'),
            ('( { group = "wheel"; polcy = "required"; } )', "rules.[1].polcy: unknown key"),
            ('( { user = "../x"; policy = "exempt"; } )', "is not a valid user name"),
            ('( { group = "wheel"; policy = "required"; methods = [ "fax" ]; } )',
             'unknown method "fax"'),
            ('( { group = "wheel"; policy = "required"; methods = [ "sms" ]; } )',
             'allows a method that the org-wide "methods" does not'),
            ('( { group = "wheel"; policy = "required"; methods = [ ]; } )',
             "must name at least one method"),
            ('{ group = "wheel"; }', "rules: expected a list of rules"),
        ]
        for rules, text in cases:
            with self.subTest(text=text):
                self.w.write_config({"rules": rules})
                proc = self.w.mfactl("check")
                self.assertEqual(proc.returncode, 1)
                self.assertIn(text, proc.stderr)
                self.assertIn(self.w.admin_config_path + ":", proc.stderr)
                self.assertPam(self.w.login("alice", []), "PAM_SERVICE_ERR")
        for key, value, text in (("default_policy", '"sometimes"', "is not one of"),
                                 ("methods", '[ "totp", "totp" ]', "listed twice"),
                                 ("methods", '"totp"', "expected a list"),
                                 ("enroll_by", '"2027-02-30"', "not a valid date"),
                                 ("enroll_by", '"03/01/2027"', "YYYY-MM-DD")):
            with self.subTest(key=key, value=value):
                self.w.write_config({key: value})
                proc = self.w.mfactl("check")
                self.assertEqual(proc.returncode, 1)
                self.assertIn(key, proc.stderr)
                self.assertIn(text, proc.stderr)


class NonInteractive(WorldTest):
    def test_required_denied_with_instructions(self):
        self.w.write_config({"default_policy": '"required"'})
        res = self.w.login("bob", options=["--null-answer"])
        self.assertPam(res, "PAM_PERM_DENIED")
        self.assertIn("ask your administrator to enroll you with mfactl", res.stdout)
        self.assertTrue(any("outcome=denied reason=non-interactive" in l for l in res.log))
        self.assertPam(self.w.login("bob", options=["--conv-fail"]), "PAM_PERM_DENIED")
        self.assertEqual(self.w.users_with_state(), [])

    def test_silent_is_non_interactive(self):
        self.w.write_config({"default_policy": '"required"'})
        res = self.w.login("bob", ["", "123456"], options=["--silent"])
        self.assertPam(res, "PAM_PERM_DENIED")
        self.assertNotIn("prompt", res.stdout)
        self.assertNotIn("info:", res.stdout)
        self.w.write_config({"default_policy": '"optional"'})
        # pam_echo is silent too, so the log tells that pam_mfa skipped.
        res = self.w.login("bob", [], options=["--silent"])
        self.assertPam(res, "PAM_AUTH_ERR")
        self.assertTrue(any("outcome=skipped reason=non-interactive" in l for l in res.log), res)

    def test_optional_skips_without_remembering(self):
        for policy in ("optional", "opt-out"):
            self.w.write_config({"default_policy": '"%s"' % policy})
            res = self.w.login("bob", options=["--null-answer"])
            self.assertIgnored(res)
            self.assertTrue(any("reason=non-interactive" in l for l in res.log))
            self.assertEqual(self.w.users_with_state(), [])


class EnrollBy(WorldTest):
    config = {"default_policy": '"required"', "enroll_by": '"2030-01-01"'}

    def test_before_and_after_the_date(self):
        # Until the end of the day (UTC), enrollment at login is open.
        res = self.w.login_interactive("bob", Enroller(at="2030-01-01 23:59:50"),
                                       at="2030-01-01 23:59:50")
        self.assertPam(res, "PAM_SUCCESS")
        after = "2030-01-02 00:00:05"
        res = self.w.login("carol", ["", "123456"], at=after)
        self.assertPam(res, "PAM_PERM_DENIED")
        self.assertIn("Contact your administrator", res.stdout)
        self.assertNotIn("prompt", res.stdout)
        self.assertTrue(any("reason=enroll-deadline" in l for l in res.log), res)
        # The admin provisions her, and she logs in with a code.
        secret = self.w.enroll("carol", at=after)
        self.assertPam(self.w.login("carol", [oathtool(secret, after)], at=after), "PAM_SUCCESS")
        # Enrolled users are not concerned by the date.
        self.assertPam(self.w.login("bob", ["000000"], at=after), "PAM_AUTH_ERR")
        # Nor are users who may skip.
        self.w.write_config({"default_policy": '"optional"', "enroll_by": '"2030-01-01"'})
        self.assertIgnored(self.w.login("dave", ["skip"], at=after))
        policy = self.w.mfactl("policy", "erin", at=after)
        self.assertIn("enroll_by: 2030-01-01 23:59:59Z", policy.stdout)


class EnrollmentEndToEnd(WorldTest):
    config = {"default_policy": '"required"', "issuer": '"ACME Ops"'}

    def test_qr_uri_and_second_login(self):
        who = Enroller()
        res = self.w.login_interactive("alice", who, rhost="192.0.2.44")
        self.assertPam(res, "PAM_SUCCESS")
        lines = res.stdout.splitlines()
        # The URI stands alone on its own line.
        uri_lines = [l for l in lines if "otpauth://" in l]
        self.assertEqual(len(uri_lines), 1)
        # alice@host, or alice alone on a store a fleet shares.
        self.assertTrue(uri_lines[0].startswith("info: otpauth://totp/ACME%20Ops:alice" +
                                                ("?" if ON_PG else "%40")), uri_lines)
        uri, params = uri_in(lines)
        self.assertEqual(params["issuer"], "ACME Ops")
        self.assertEqual(params["secret"], who.secret)
        # The QR code drawn in the conversation scans to that URI.
        qr = qr_lines_between(lines, "Scan this QR code", "If you cannot scan it")
        self.assertGreater(len(qr), 10)
        self.assertEqual(decode_terminal_qr(qr), uri_lines[0][len("info: "):])
        # The key typed by hand is the same secret.
        key = [l for l in lines if "or type in this key" in l][0].split(": ")[-1]
        self.assertEqual(key.replace(" ", ""), who.secret)
        self.assertEqual(self.w.state("alice")["last_rhost"], "192.0.2.44")
        # Then a normal login with a fresh code from the same app.
        res = self.w.login("alice", [oathtool(who.secret, LATER)], at=LATER)
        self.assertPam(res, "PAM_SUCCESS")
        self.assertIn("prompt-off: Verification code: ", res.stdout)
        self.assertNotIn(who.secret, "\n".join(res.log))

    def test_nothing_saved_when_conversation_ends(self):
        res = self.w.login("alice", [""])
        self.assertPam(res, "PAM_CONV_ERR")
        self.assertEqual(self.w.users_with_state(), [])

    def test_admin_enrolled_meanwhile(self):
        other = []

        def respond(prompt, transcript):
            if prompt.startswith("Press Enter"):
                return ""
            # While the user reads the QR code, an admin enrolls them.
            other.append(self.w.enroll("alice"))
            _, params = uri_in(transcript)
            return oathtool(params["secret"], T0)

        res = self.w.login_interactive("alice", respond)
        self.assertPam(res, "PAM_AUTH_ERR")
        self.assertIn("second factor changed while you were setting it up", res.stdout)
        self.assertEqual(self.w.state("alice")["totp_secret"], other[0])


if __name__ == "__main__":
    main()
