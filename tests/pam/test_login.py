"""Logins through the real libpam (pam_start_confdir) with pam_mfa.so in the
stack, the clock from faketime and the codes from oathtool."""
import os
import stat
import subprocess
import threading

from mfatest import ON_PG, T0, WorldTest, files_only, main, oathtool

T_PREV = "2030-01-01 00:00:00"      # the step before... same step as T0 (0-29 s)
STEP_MINUS_1 = "2029-12-31 23:59:40"
STEP_MINUS_2 = "2029-12-31 23:59:10"
STEP_PLUS_1 = "2030-01-01 00:00:40"
STEP_PLUS_2 = "2030-01-01 00:01:10"


class Login(WorldTest):
    def test_right_code_accepted_and_logged(self):
        secret = self.w.enroll("alice")
        code = oathtool(secret, T0)
        res = self.w.login("alice", [code], rhost="198.51.100.7")
        self.assertPam(res, "PAM_SUCCESS")
        self.assertIn("prompt-off: Verification code: ", res.stdout)
        self.assertIn("setcred: PAM_SUCCESS", res.stdout)
        lines = [l for l in res.log if "outcome=success" in l]
        self.assertEqual(len(lines), 1, res)
        self.assertIn("user=alice service=pam_mfa_test rhost=198.51.100.7 method=totp", lines[0])
        self.assertNotIn(code, "\n".join(res.log))
        self.assertNotIn(secret, "\n".join(res.log))
        st = self.w.state("alice")
        self.assertEqual(st["last_service"], "pam_mfa_test")
        self.assertEqual(st["last_rhost"], "198.51.100.7")
        self.assertEqual(st["totp_last_step"], 1893456010 // 30)

    def test_login_loads_no_optional_library(self):
        # libcurl (mail), libcrypto, libqrencode and libpq are loaded only
        # when mail is sent, a QR code drawn or the store is a database:
        # a TOTP login on the files store maps none of them.  Builds with
        # sanitizers link them (core/meson.build): this runs in the release
        # build's pass (scripts/test.sh).
        needed = subprocess.run(["readelf", "-d", os.environ["PAM_MFA_SO"]],
                                capture_output=True, text=True, check=True).stdout
        if "libpq.so" in needed:
            self.skipTest("this build links the optional libraries (sanitizers)")
        secret = self.w.enroll("alice")
        res = self.w.login("alice", [oathtool(secret, T0)], options=["--maps"])
        self.assertPam(res, "PAM_SUCCESS")
        loaded = [l.split(": ", 1)[1] for l in res.stdout.splitlines()
                  if l.startswith("loaded: ")]
        self.assertTrue(any(n.startswith("liboath.so") for n in loaded), loaded)
        self.assertTrue(any(n.startswith("pam_mfa.so") for n in loaded), loaded)
        optional = ("libpq.so", "libcurl", "libcrypto.so", "libssl.so", "libqrencode.so")
        if ON_PG:
            # The store is the database: libpq, and the TLS it speaks.
            self.assertTrue(any(n.startswith("libpq.so") for n in loaded), loaded)
            optional = ("libcurl", "libqrencode.so")
        for lib in optional:
            self.assertFalse(any(n.startswith(lib) for n in loaded), (lib, loaded))

    def test_replay_refused(self):
        secret = self.w.enroll("alice")
        code = oathtool(secret, T0)
        self.assertPam(self.w.login("alice", [code]), "PAM_SUCCESS")
        res = self.w.login("alice", [code])
        self.assertPam(res, "PAM_AUTH_ERR")
        self.assertTrue(any("reason=replayed-code" in l for l in res.log), res)
        # The same code later in its window is still a replay.
        self.assertPam(self.w.login("alice", [code], at=STEP_PLUS_1), "PAM_AUTH_ERR")
        # A code of a newer step is fine.
        self.assertPam(self.w.login("alice", [oathtool(secret, STEP_PLUS_1)], at=STEP_PLUS_1),
                       "PAM_SUCCESS")

    def test_older_step_after_newer_refused(self):
        secret = self.w.enroll("alice")
        self.assertPam(self.w.login("alice", [oathtool(secret, STEP_PLUS_1)]), "PAM_SUCCESS")
        # The previous step's code is inside the window but not newer.
        self.assertPam(self.w.login("alice", [oathtool(secret, STEP_MINUS_1)]), "PAM_AUTH_ERR")

    def test_window(self):
        secret = self.w.enroll("alice")
        for at in (STEP_MINUS_2, STEP_PLUS_2):
            res = self.w.login("alice", [oathtool(secret, at)])
            self.assertPam(res, "PAM_AUTH_ERR")
            self.assertTrue(any("reason=wrong-code" in l for l in res.log), res)
        self.w.mfactl("unlock", "alice")
        self.assertPam(self.w.login("alice", [oathtool(secret, STEP_MINUS_1)]), "PAM_SUCCESS")
        self.assertPam(self.w.login("alice", [oathtool(secret, STEP_PLUS_1)]), "PAM_SUCCESS")

    def test_window_zero(self):
        self.w.write_config({"totp": '{ digits = 6; period = 30; window = 0; algorithm = "sha1"; }'})
        secret = self.w.enroll("alice")
        self.assertPam(self.w.login("alice", [oathtool(secret, STEP_PLUS_1)]), "PAM_AUTH_ERR")
        self.assertPam(self.w.login("alice", [oathtool(secret, T0)]), "PAM_SUCCESS")

    def test_spaces_inside_code_ignored(self):
        secret = self.w.enroll("alice")
        code = oathtool(secret, T0)
        self.assertPam(self.w.login("alice", [code[:3] + " " + code[3:]]), "PAM_SUCCESS")

    def test_bad_codes_refused_and_counted(self):
        self.w.write_config({"lockout": "{ attempts = 100; interval = 900; unlock_after = 600; }"})
        secret = self.w.enroll("alice")
        good = oathtool(secret, T0)
        wrong = "%06d" % ((int(good) + 1) % 1000000)
        bad = [wrong, "", "abcdef", good + "0", good[:5], "1" * 10000,
               good[:3] + "\u00e9" + good[3:], "\u0661" * 6, "-" + good[1:],
               good + "\t", "0x" + good[2:], "%s%%n%%s" % good[:2]]
        for i, answer in enumerate(bad):
            res = self.w.login("alice", [answer])
            self.assertPam(res, "PAM_AUTH_ERR")
            self.assertEqual(self.w.state("alice")["fail_count"], i + 1)
        # A NUL byte ends the C string: what is left is a wrong code.
        res = self.w.login("alice", raw_input=good[:3] + "\0" + good[3:] + "\n")
        self.assertPam(res, "PAM_AUTH_ERR")
        # None of them used up the good code.
        self.assertPam(self.w.login("alice", [good]), "PAM_SUCCESS")
        self.assertEqual(self.w.state("alice")["fail_count"], 0)

    def test_lockout_then_unlock(self):
        secret = self.w.enroll("alice")
        for _ in range(3):
            self.assertPam(self.w.login("alice", ["000000" if oathtool(secret, T0) != "000000"
                                                  else "111111"]), "PAM_AUTH_ERR")
        self.assertEqual(self.w.state("alice")["locked_until"], 1893456010 + 600)
        # Locked: even the right code is refused, without being asked.
        res = self.w.login("alice", [oathtool(secret, T0)])
        self.assertPam(res, "PAM_AUTH_ERR")
        self.assertNotIn("prompt-off", res.stdout)
        self.assertIn("temporarily locked", res.stdout)
        self.assertTrue(any("reason=locked" in l for l in res.log), res)
        # PAM_SILENT keeps the message from the user, not from the log.
        res = self.w.login("alice", [], options=["--silent"])
        self.assertPam(res, "PAM_AUTH_ERR")
        self.assertNotIn("locked", res.stdout)
        # mfactl status shows the lock; unlock clears it and keeps the factor.
        status = self.w.mfactl("status", "alice", at=T0)
        self.assertIn("2030-01-01 00:10:10Z", status.stdout)
        self.assertEqual(self.w.mfactl("unlock", "alice").returncode, 0)
        self.assertPam(self.w.login("alice", [oathtool(secret, T0)]), "PAM_SUCCESS")

    def test_lockout_expires(self):
        secret = self.w.enroll("alice")
        for _ in range(3):
            self.w.login("alice", ["abc"])
        self.assertPam(self.w.login("alice", [oathtool(secret, "2030-01-01 00:09:00")],
                                    at="2030-01-01 00:09:00"), "PAM_AUTH_ERR")
        later = "2030-01-01 00:10:20"
        self.assertPam(self.w.login("alice", [oathtool(secret, later)], at=later), "PAM_SUCCESS")

    def test_lockout_until_admin(self):
        self.w.write_config({"lockout": "{ attempts = 2; interval = 900; unlock_after = 0; }"})
        secret = self.w.enroll("alice")
        for _ in range(2):
            self.w.login("alice", ["abc"])
        self.assertEqual(self.w.state("alice")["locked_until"], -1)
        far = "2031-06-01 00:00:10"
        res = self.w.login("alice", [oathtool(secret, far)], at=far)
        self.assertPam(res, "PAM_AUTH_ERR")
        self.assertIn("until an administrator unlocks it", res.stdout)
        self.w.mfactl("unlock", "alice")
        self.assertPam(self.w.login("alice", [oathtool(secret, far)], at=far), "PAM_SUCCESS")

    def test_failures_outside_interval_do_not_add_up(self):
        self.w.write_config({"lockout": "{ attempts = 3; interval = 60; unlock_after = 600; }"})
        secret = self.w.enroll("alice")
        self.w.login("alice", ["abc"], at="2030-01-01 00:00:10")
        self.w.login("alice", ["abc"], at="2030-01-01 00:00:20")
        self.w.login("alice", ["abc"], at="2030-01-01 00:01:30")  # a new interval
        self.assertEqual(self.w.state("alice")["fail_count"], 1)
        at = "2030-01-01 00:01:40"
        self.assertPam(self.w.login("alice", [oathtool(secret, at)], at=at), "PAM_SUCCESS")

    def test_fail_delay_requested(self):
        self.w.write_config({"fail_delay_ms": "2000"})
        self.w.enroll("alice")
        res = self.w.login("alice", ["abc"])
        self.assertPam(res, "PAM_AUTH_ERR")
        delays = [int(l.split()[1]) for l in res.stdout.splitlines() if l.startswith("fail-delay:")]
        self.assertEqual(len(delays), 1, res)
        # libpam randomises the delay around the largest one asked for.
        self.assertTrue(1000000 <= delays[0] <= 3000000, delays)
        # Refusals before any code is asked are delayed too.
        for user in ("mallory", "../x"):
            res = self.w.login(user, [])
            self.assertPam(res, "PAM_USER_UNKNOWN")
            self.assertIn("fail-delay: ", res.stdout)
            self.assertNotIn("fail-delay: 0\n", res.stdout)
        # With the configuration unreadable, the built-in default applies.
        os.chmod(self.w.config_path, 0o666)
        res = self.w.login("alice", [])
        self.assertPam(res, "PAM_SERVICE_ERR")
        self.assertNotIn("fail-delay: 0\n", res.stdout)

    def test_algorithms_digits_period(self):
        for alg, digits, period in (("sha256", 8, 60), ("sha512", 7, 30), ("sha1", 8, 15)):
            with self.subTest(alg=alg):
                self.w.write_config({"totp": '{ digits = %d; period = %d; window = 1; '
                                             'algorithm = "%s"; }' % (digits, period, alg)})
                secret = self.w.enroll("bob", "--force")
                code = oathtool(secret, T0, alg, digits, period)
                self.assertEqual(len(code), digits)
                self.assertPam(self.w.login("bob", [code]), "PAM_SUCCESS")

    def test_enrollment_parameters_stay_with_the_user(self):
        secret = self.w.enroll("alice")
        # The org moves to 8 digits: alice's enrolled app still shows 6.
        self.w.write_config({"totp": '{ digits = 8; period = 30; window = 1; algorithm = "sha256"; }'})
        self.assertPam(self.w.login("alice", [oathtool(secret, T0)]), "PAM_SUCCESS")

    def test_unknown_and_invalid_users(self):
        self.w.enroll("alice")
        for user in ("mallory", "../alice", "alice/..", "a b", "-alice", ".alice",
                     "al\u00efce", "x" * 300, "alice\x1b[31m"):
            with self.subTest(user=user):
                res = self.w.login(user, ["123456"])
                self.assertPam(res, "PAM_USER_UNKNOWN")
                self.assertNotIn("prompt", res.stdout)
                # Never logged by name: it may be a mistyped password.
                self.assertFalse(any(user in l for l in res.log), res)
        self.assertEqual(self.w.users_with_state(), ["alice"])

    def test_record_stands_for_the_account(self):
        # An enrolled user's login does not look the account up (a files
        # source reads all of passwd for it); one with no record does.
        secret = self.w.enroll("bob")
        self.w.users = [u for u in self.w.users if u not in ("bob", "carol")]
        self.w._write_nss()
        self.assertPam(self.w.login("bob", [oathtool(secret, T0)]), "PAM_SUCCESS")
        self.assertPam(self.w.login("carol", ["123456"]), "PAM_USER_UNKNOWN")

    def test_conversation_failures(self):
        secret = self.w.enroll("alice")
        before = self.w.stored_text("alice")
        self.assertPam(self.w.login("alice", options=["--conv-fail"]), "PAM_CONV_ERR")
        self.assertPam(self.w.login("alice", options=["--null-answer"]), "PAM_CONV_ERR")
        self.assertPam(self.w.login("alice", []), "PAM_CONV_ERR")
        self.assertEqual(self.w.stored_text("alice"), before)
        self.assertPam(self.w.login("alice", [oathtool(secret, T0)]), "PAM_SUCCESS")

    def test_hostile_rhost_sanitized(self):
        secret = self.w.enroll("alice")
        res = self.w.login("alice", [oathtool(secret, T0)], rhost="evil\nhost=x\x07 y")
        self.assertPam(res, "PAM_SUCCESS")
        self.assertEqual(self.w.state("alice")["last_rhost"], "evil?host=x? y")
        self.assertTrue(any("rhost=evil?host=x? y" in l for l in res.log), res)
        self.assertStoreChecks()


class FailClosed(WorldTest):
    def setUp(self):
        super().setUp()
        self.secret = self.w.enroll("alice")
        self.code = oathtool(self.secret, T0)

    def assertRefused(self, expected, log_text):
        res = self.w.login("alice", [self.code])
        self.assertPam(res, expected)
        self.assertNotIn("prompt", res.stdout)
        self.assertTrue(any(log_text in l for l in res.log), res)
        return res

    @files_only("a corrupt record file")
    def test_corrupt_record(self):
        path = os.path.join(self.w.state_dir, "alice")
        with open(path) as f:
            good = f.read()
        self.assertIn("version=6", good)
        self.assertIn(" secret=", good)
        for bad in (good.replace("version=6", "version=99"), good[:-4], good[:40],
                    good.replace("fail.count=0", "fail.count=-1"),
                    good.replace(" secret=", " secret=!"),
                    good.replace("user=alice", "user=bob"), "", "\0" * 100,
                    good + "x" * 5000):
            with self.subTest(bad=bad[:30]):
                with open(path, "w") as f:
                    f.write(bad)
                self.assertRefused("PAM_AUTHINFO_UNAVAIL", "corrupt record")
                with open(path) as f:
                    self.assertEqual(f.read(), bad)
                self.assertNotEqual(self.w.mfactl("check").returncode, 0)

    @files_only("a record file's mode, owner and links")
    def test_record_permissions(self):
        path = os.path.join(self.w.state_dir, "alice")
        os.chmod(path, 0o644)
        self.assertRefused("PAM_AUTHINFO_UNAVAIL", "refusing a record")
        os.chmod(path, 0o600)
        os.chown(path, 65534, 65534)
        self.assertRefused("PAM_AUTHINFO_UNAVAIL", "refusing a record")
        os.chown(path, 0, 0)
        os.link(path, os.path.join(self.w.root, "hardlink"))
        self.assertRefused("PAM_AUTHINFO_UNAVAIL", "refusing a record")

    @files_only("a record file replaced by a symbolic link")
    def test_record_symlink(self):
        path = os.path.join(self.w.state_dir, "alice")
        os.rename(path, os.path.join(self.w.root, "elsewhere"))
        os.symlink(os.path.join(self.w.root, "elsewhere"), path)
        self.assertRefused("PAM_AUTHINFO_UNAVAIL", "symbolic link")

    @files_only("links planted as the state directory's lock file")
    def test_planted_links_write_nothing_outside(self):
        outside = os.path.join(self.w.root, "outside")
        target = os.path.join(outside, "victim")
        os.mkdir(outside)
        with open(target, "w") as f:
            f.write("untouched")
        lock = os.path.join(self.w.state_dir, ".lock.alice")
        os.unlink(lock)
        # The lock is taken after the code is typed (nobody holds it while
        # typing), so the code is asked, then the login fails closed.
        for planted, text in ((target, ".lock.alice"),
                              (os.path.join(outside, "created-by-us"), ".lock.alice"),
                              (None, "refusing a lock file")):
            with self.subTest(planted=planted):
                if planted:
                    os.symlink(planted, lock)
                else:
                    os.link(target, lock)
                try:
                    res = self.w.login("alice", [self.code])
                finally:
                    os.unlink(lock)
                self.assertPam(res, "PAM_AUTHINFO_UNAVAIL")
                self.assertTrue(any(text in l for l in res.log), res)
        with open(target) as f:
            self.assertEqual(f.read(), "untouched")
        self.assertEqual(sorted(os.listdir(outside)), ["victim"])
        # With the plants gone, the right code still works.
        self.assertPam(self.w.login("alice", [self.code]), "PAM_SUCCESS")

    @files_only("the state directory's mode, owner, and path")
    def test_state_dir_insecure(self):
        os.chmod(self.w.state_dir, 0o755)
        self.assertRefused("PAM_AUTHINFO_UNAVAIL", "must have mode 0700")
        os.chmod(self.w.state_dir, 0o700)
        os.chmod(self.w.var, 0o775)
        self.assertRefused("PAM_AUTHINFO_UNAVAIL", "writable by group or others")
        os.chmod(self.w.var, 0o755)
        os.chown(self.w.var, 65534, 0)
        self.assertRefused("PAM_AUTHINFO_UNAVAIL", "not owned by root")
        os.chown(self.w.var, 0, 0)
        os.rename(self.w.state_dir, self.w.state_dir + ".real")
        os.symlink(self.w.state_dir + ".real", self.w.state_dir)
        self.assertRefused("PAM_AUTHINFO_UNAVAIL", "symbolic link")
        os.unlink(self.w.state_dir)
        # A missing directory is an error, not "nobody is enrolled": a typo
        # in state_dir must not switch MFA off for everyone.
        self.assertRefused("PAM_AUTHINFO_UNAVAIL", "No such file or directory")

    def test_config_errors(self):
        cases = [
            ({"totp": '{ digits = 9; period = 30; window = 1; algorithm = "sha1"; }'},
             "totp.digits: 9 is out of range"),
            ({"lockout": "{ attempts = 5; intervall = 900; unlock_after = 60; }"},
             "lockout.intervall: unknown key"),
            ({"fail_delay_ms": '"2000"'}, "fail_delay_ms: expected an integer"),
            ({"issuer": "Example"}, "syntax error"),
            ({"state_dir": '"relative/path"'}, "state_dir: must be an absolute path"),
        ]
        for overrides, text in cases:
            with self.subTest(text=text):
                self.w.write_config(overrides)
                res = self.assertRefused("PAM_SERVICE_ERR", text)
                self.assertTrue(any(self.w.config_path + ":" in l for l in res.log), res)
                self.assertIn("contact your administrator", res.stdout)
        self.w.write_config({})
        os.chmod(self.w.config_path, 0o620)
        self.assertRefused("PAM_SERVICE_ERR", "writable by group or others")
        os.unlink(self.w.config_path)
        self.assertRefused("PAM_SERVICE_ERR", "No such file or directory")

    def test_bad_module_arguments(self):
        for args in ("debg", "config=relative.conf", "config="):
            with self.subTest(args=args):
                self.w.write_stack("pam_mfa_test", args)
                self.assertRefused("PAM_SERVICE_ERR", "module argument")

    def test_debug_argument(self):
        self.w.write_stack("pam_mfa_test", "debug")
        res = self.w.login("alice", [self.code])
        self.assertPam(res, "PAM_SUCCESS")
        self.assertTrue(any("accepted step" in l for l in res.log), res)

    @files_only("a record file that cannot be written (chattr +i)")
    def test_write_failure_fails_closed(self):
        # Without room to record the accepted step, a replay would pass.
        # The record is updated in place, or else replaced: neither can be.
        record = os.path.join(self.w.state_dir, "alice")
        os.chmod(self.w.state_dir, 0o500)
        subprocess.run(["chattr", "+i", record], check=False)
        subprocess.run(["chattr", "+i", self.w.state_dir], check=False)
        try:
            attrs = subprocess.run(["lsattr", "-d", self.w.state_dir], capture_output=True,
                                   text=True).stdout
            if "i" not in attrs.split()[0] if attrs else True:
                self.skipTest("chattr +i is not available on this file system")
            res = self.w.login("alice", [self.code])
            self.assertPam(res, "PAM_AUTHINFO_UNAVAIL")
            self.assertTrue(any("reason=store-write" in l for l in res.log), res)
        finally:
            subprocess.run(["chattr", "-i", self.w.state_dir], check=False)
            subprocess.run(["chattr", "-i", record], check=False)
            os.chmod(self.w.state_dir, 0o700)


class Race(WorldTest):
    def test_one_code_many_logins(self):
        secret = self.w.enroll("alice")
        code = oathtool(secret, T0)
        results = []

        def one():
            results.append(self.w.login("alice", [code]).pam)

        threads = [threading.Thread(target=one) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results.count("PAM_SUCCESS"), 1, results)
        self.assertEqual(results.count("PAM_AUTH_ERR"), 11, results)


if __name__ == "__main__":
    main()
