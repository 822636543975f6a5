"""The test that keeps the README's first command true: runs scripts/demo.sh
unattended (no stdin) against an already built tree (MFA_DEMO_BUILD, set by
tests/meson.build, which also gives it a private loopback with unshare -n)
and checks what the user saw: the QR code (decoded, it is the otpauth://
URI shown under it), the enrollment, the confirmation mail, a login with a
fresh code that ran the command, the replay and the wrong code refused,
mfactl status; and that the demo stopped everything and left nothing."""
import os
import re
import subprocess
import sys
import unittest

from mfatest import decode_terminal_qr

DEMO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo.sh")
HELLO = "Hello from the demo sshd: logged in as demo, uid 4242."
QR_CHARS = set(" \u2580\u2584\u2588")


class Demo(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        assert os.environ.get("MFA_DEMO_BUILD"), "MFA_DEMO_BUILD: the built tree to use"
        proc = subprocess.run(["sh", DEMO], stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=240)
        cls.out = proc.stdout
        cls.err = proc.stderr
        cls.rc = proc.returncode
        sys.stdout.write(cls.out + cls.err)
        # "== N. heading" -> the text under it.
        cls.scenes = {}
        for part in re.split(r"^== ", cls.out, flags=re.M)[1:]:
            head, _, body = part.partition("\n")
            m = re.match(r"(\d)\. ", head)
            cls.scenes[m.group(1) if m else head] = body

    def scene(self, n):
        self.assertIn(n, self.scenes, self.out)
        return self.scenes[n]

    def test_ran_to_the_end(self):
        self.assertEqual(self.rc, 0, self.err)
        self.assertRegex(self.out, r"== Done: sshd and the mail catcher stopped")

    def test_enrollment_shows_a_qr_code_that_scans(self):
        first = self.scene("1")
        self.assertIn("Multi-factor authentication is required for your account", first)
        qr = []
        inside = False
        for line in first.splitlines():
            text = line[len("  | "):] if line.startswith("  | ") else None
            if text is not None and "Scan this QR code" in text:
                inside = True
            elif inside and text is not None and text and set(text) <= QR_CHARS:
                qr.append(text)
            elif inside and qr:
                break
        self.assertGreater(len(qr), 10, first)
        uri = re.search(r"^  \| (otpauth://totp/\S+)$", first, re.M)
        self.assertIsNotNone(uri, first)
        self.assertEqual(decode_terminal_qr(qr), uri.group(1))

    def test_enrollment_succeeds_and_logs_in(self):
        first = self.scene("1")
        self.assertIn("Your authenticator app is set up.", first)
        self.assertIn("  | " + HELLO, first)
        self.assertIn("(ssh exit status 0)", first)

    def test_confirmation_mail_is_caught(self):
        mail = self.scene("2")
        self.assertIn("To: <demo@demo.invalid>", mail)
        self.assertIn("Subject: Multi-factor authentication set up for demo", mail)
        self.assertIn("with an authenticator app.", mail)

    def test_login_with_a_fresh_code_runs_the_command(self):
        second = self.scene("3")
        self.assertIn("Verification code:", second)
        self.assertIn("  | " + HELLO, second)
        self.assertIn("(ssh exit status 0)", second)

    def test_replay_and_wrong_code_are_refused(self):
        for n, code in (("4", None), ("5", "000000")):
            text = self.scene(n)
            if code:
                self.assertIn("types the code " + code, text)
            self.assertIn("Permission denied (keyboard-interactive)", text)
            self.assertIn("(ssh exit status 255: the login was refused)", text)
            self.assertNotIn(HELLO, text)

    def test_status(self):
        self.assertRegex(self.scene("7"), r"(?m)^demo +required +totp .* 2 ")

    def test_nothing_left_behind(self):
        dirs = set(re.findall(r"/tmp/pam_mfa-demo\.\w+", self.out))
        self.assertEqual(len(dirs), 1, dirs)
        demo_dir = dirs.pop()
        self.assertFalse(os.path.exists(demo_dir))
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    cmdline = f.read().decode(errors="replace")
            except OSError:
                continue
            self.assertNotIn(demo_dir, cmdline, "pid %s still runs" % pid)


if __name__ == "__main__":
    unittest.main(verbosity=2)
