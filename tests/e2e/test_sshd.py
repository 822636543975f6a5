"""End to end with real clients: a real sshd on loopback reading its PAM
stack from a test directory (pam_wrapper; never /etc/pam.d or /etc/ssh),
the real OpenSSH client driven with pexpect, a real SMTP server for email
codes, and pamtester for su- and sudo-style stacks.  Run through isolate.sh
(see meson.build): the loopback and its ports are private, and so are /run,
/var/log and /tmp, where sshd keeps its login records and pam_wrapper its
copies of the PAM stack; each test checks that none of its copies reached
the machine's /tmp."""
import glob
import os
import re
import signal
import subprocess
import sys
import time

import pexpect

from mfatest import World, WorldTest, main, oathtool, parse_uri

HERE = os.path.dirname(os.path.abspath(__file__))
SMTP_SERVER = os.path.join(HERE, "..", "lib", "smtp_server.py")
PAM_MFA_SO = os.environ["PAM_MFA_SO"]
SSH_PORT = 2222
RECOVERY_RE = re.compile(r"\b([2-9a-hjkmnp-z]{4}-[2-9a-hjkmnp-z]{4}-[2-9a-hjkmnp-z]{4})\b")
SMTP_PORT = 2525


def sanitizer_preload():
    """An ASan-built module needs its runtimes first in sshd and pamtester."""
    ldd = subprocess.run(["ldd", PAM_MFA_SO], capture_output=True, text=True).stdout
    libs = []
    for name in ("libasan.so", "libubsan.so"):
        if name.split(".")[0] in ldd:
            libs.append(subprocess.run(["gcc", "-print-file-name=" + name], capture_output=True,
                                       text=True).stdout.strip())
    return libs


def setUpModule():
    """Refuses to run where sshd and pam_wrapper would write to the machine:
    /run, /var/log and /tmp must be isolate.sh's own mounts."""
    top = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            top[fields[4]] = fields[sep + 2]     # the last mount on a path wins
    for path in ("/run", "/var/log", "/tmp"):
        want = "mfatest-" + path.rsplit("/", 1)[1]
        if top.get(path) != want:
            raise AssertionError(
                "%s is not a private mount (%s): run through tests/e2e/isolate.sh "
                "(meson test e2e-sshd)" % (path, top.get(path)))
    if not os.path.isdir(os.environ.get("MFATEST_MACHINE_TMP", "")):
        raise AssertionError("MFATEST_MACHINE_TMP: the machine's /tmp, from isolate.sh")


def leaked_pam_dirs(root):
    """pam_wrapper's directories in the machine's /tmp whose stack names
    something under root: there must be none."""
    leaked = []
    for d in glob.glob(os.path.join(os.environ["MFATEST_MACHINE_TMP"], "pam.*")):
        try:
            names = os.listdir(d)
        except OSError:
            continue      # someone else's, gone already
        for name in names:
            try:
                with open(os.path.join(d, name), errors="replace") as f:
                    if root in f.read():
                        leaked.append(d)
                        break
            except OSError:
                pass
    return leaked


class E2ETest(WorldTest):
    def tearDown(self):
        leaked = leaked_pam_dirs(self.w.root)
        super().tearDown()
        self.assertEqual(leaked, [], "pam_wrapper wrote to the machine's /tmp")


def now_utc(offset=0):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() + offset))


class SshTest(E2ETest):
    """A World with sshd on 127.0.0.1:2222; passwords are "pw-USER"."""
    methods = "keyboard-interactive"

    def setUp(self):
        super().setUp()
        r = self.w.root
        self.hostkey = os.path.join(r, "hostkey")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.hostkey],
                       check=True)
        with open(self.w.passwd, "a") as f:
            f.write("sshd:x:105:65534::/run/sshd:/usr/sbin/nologin\n")
        with open(self.w.group, "a") as f:
            f.write("nogroup:x:65534:\n")
        self.checker = os.path.join(r, "check-password")
        with open(self.checker, "w") as f:
            f.write('#!/bin/sh\n[ "$(tr -d \'\\000\')" = "pw-$PAM_USER" ]\n')
        os.chmod(self.checker, 0o755)
        self.keys = os.path.join(r, "authorized_keys")
        os.mkdir(self.keys)
        self.mfa_args = ""
        self.with_password = True
        self.sshd = None
        self.smtp = None

    def tearDown(self):
        for p in (self.sshd, self.smtp):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=10)
        super().tearDown()

    def write_sshd_stack(self):
        lines = []
        if self.with_password:
            lines.append("auth required pam_exec.so expose_authtok quiet %s" % self.checker)
        lines += ["auth required %s config=%s %s" % (PAM_MFA_SO, self.w.config_path,
                                                     self.mfa_args),
                  "account required pam_permit.so",
                  "session required pam_permit.so",
                  "password required pam_deny.so"]
        self.w.write_stack("sshd", lines=lines)

    def start_sshd(self):
        self.write_sshd_stack()
        conf = os.path.join(self.w.root, "sshd_config")
        with open(conf, "w") as f:
            f.write("\n".join([
                "Port %d" % SSH_PORT, "ListenAddress 127.0.0.1", "HostKey " + self.hostkey,
                "PidFile " + os.path.join(self.w.root, "sshd.pid"), "UsePAM yes",
                "KbdInteractiveAuthentication yes", "PasswordAuthentication no",
                "PubkeyAuthentication yes", "AuthenticationMethods " + self.methods,
                "AuthorizedKeysFile %s/%%u" % self.keys, "StrictModes no",
                "AllowUsers " + " ".join(self.w.users), "PermitRootLogin no",
                "LogLevel VERBOSE", ""]))
        env = self.w.env()
        env.pop("MFATEST_CHILD_LD_PRELOAD", None)
        env.update({
            "LD_PRELOAD": " ".join(sanitizer_preload() + ["libpam_wrapper.so",
                                                          "libnss_wrapper.so"]),
            "PAM_WRAPPER": "1", "PAM_WRAPPER_SERVICE_DIR": self.w.pamd,
            "PAM_WRAPPER_DISABLE_DEEPBIND": "1",
            # sshd exits without freeing what it keeps for the session.
            "ASAN_OPTIONS": "detect_leaks=0:verify_asan_link_order=0:exitcode=86",
        })
        self.sshd_log = os.path.join(self.w.root, "sshd.log")
        self.sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", conf], env=env,
                                     stderr=open(self.sshd_log, "w"))
        for _ in range(100):
            if "Server listening" in open(self.sshd_log).read():
                return
            time.sleep(0.05)
        self.fail("sshd did not start:\n" + open(self.sshd_log).read())

    def ssh(self, user, steps, key=None, command="echo LOGGED-IN-$(id -u)"):
        """Logs in with the real ssh client; steps is a list of (pattern,
        answer) where answer may be a callable of the text seen so far.
        Returns (logged_in, transcript)."""
        opts = ["-p", str(SSH_PORT), "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "NumberOfPasswordPrompts=1",
                "-o", "LogLevel=ERROR"]
        if key:
            opts += ["-i", key, "-o", "PreferredAuthentications=publickey,keyboard-interactive"]
        else:
            opts += ["-o", "PreferredAuthentications=keyboard-interactive"]
        child = pexpect.spawn("ssh", opts + ["%s@127.0.0.1" % user, command],
                              encoding="utf-8", timeout=30)
        seen = ""
        for pattern, answer in steps:
            i = child.expect([pattern, pexpect.EOF])
            seen += child.before + (child.after if isinstance(child.after, str) else "")
            if i == 1:
                break
            child.sendline(answer(seen) if callable(answer) else answer)
        child.expect(pexpect.EOF)
        seen += child.before
        child.close()
        return "LOGGED-IN-" in seen, seen

    def sshd_log_text(self):
        return open(self.sshd_log).read()


class PasswordAndCode(SshTest):
    def test_password_and_totp(self):
        self.start_sshd()
        secret = self.w.enroll("alice", at=None)
        ok, out = self.ssh("alice", [("Password:", "pw-alice"),
                                     ("Verification code:", oathtool(secret, now_utc()))])
        self.assertTrue(ok, out)
        self.assertIn("LOGGED-IN-2001", out)
        # A wrong code keeps the door shut.
        ok, out = self.ssh("alice", [("Password:", "pw-alice"), ("Verification code:", "000000")])
        self.assertFalse(ok, out)
        self.assertIn("Accepted keyboard-interactive/pam for alice", self.sshd_log_text())

    def test_enrollment_over_ssh(self):
        self.w.write_config({"default_policy": '"required"'})
        self.start_sshd()
        shown = {}

        def code(seen):
            _, params = parse_uri("\n".join(l.strip() for l in seen.splitlines()
                                            if l.strip().startswith("otpauth://")))
            shown["secret"] = params["secret"]
            return oathtool(params["secret"], now_utc())

        ok, out = self.ssh("bob", [("Password:", "pw-bob"),
                                   ("Press Enter to set it up now: ", ""),
                                   ("Code shown by the app, to confirm: ", code),
                                   ("Press Enter once you have written them down: ", "")])
        self.assertTrue(ok, out)
        self.assertIn("Scan this QR code", out)
        # The recovery codes reach the client's terminal, with a prompt.
        codes = RECOVERY_RE.findall(out)
        self.assertEqual(len(codes), 10, out)
        self.assertIn("\u2588", out)    # the QR code drawn in the client's terminal
        self.assertEqual(self.w.state("bob")["totp_secret"], shown["secret"])
        # A second login with a later code from the same app (one step ahead
        # is inside the window, and newer than the step just used).
        ok, out = self.ssh("bob", [("Password:", "pw-bob"),
                                   ("Verification code:", oathtool(shown["secret"],
                                                                   now_utc(30)))])
        self.assertTrue(ok, out)

    def test_recovery_and_bypass_codes(self):
        """A recovery code from the set mfactl enroll printed logs in over
        ssh once and never again; a helpdesk's bypass code likewise."""
        self.start_sshd()
        proc = self.w.mfactl("enroll", "alice", "--qr", "none")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        codes = RECOVERY_RE.findall(proc.stdout)
        self.assertEqual(len(codes), 10, proc.stdout)
        steps = [("Password:", "pw-alice"), ("Verification code:", codes[2])]
        ok, out = self.ssh("alice", steps)
        self.assertTrue(ok, out)
        self.assertIn("A recovery code works here too", out)
        ok, out = self.ssh("alice", steps)
        self.assertFalse(ok, out)
        proc = self.w.mfactl("bypass", "alice")
        bypass = RECOVERY_RE.findall(proc.stdout)
        self.assertEqual(len(bypass), 1, proc.stdout + proc.stderr)
        steps = [("Password:", "pw-alice"), ("Verification code:", bypass[0])]
        ok, out = self.ssh("alice", steps)
        self.assertTrue(ok, out)
        ok, out = self.ssh("alice", steps)
        self.assertFalse(ok, out)
        log = self.sshd_log_text()
        self.assertEqual(log.count("Accepted keyboard-interactive/pam for alice"), 2, log)

    def test_opt_out_skip_remembered_exempt_and_lockout(self):
        self.w.write_config({"default_policy": '"opt-out"', "lockout":
                             "{ attempts = 2; interval = 900; unlock_after = 900; }",
                             "rules": '( { user = "erin"; policy = "exempt"; } )'})
        self.start_sshd()
        ok, out = self.ssh("carol", [("Password:", "pw-carol"), ("type skip: ", "skip")])
        self.assertTrue(ok, out)
        # Remembered: the next login asks only the password.
        ok, out = self.ssh("carol", [("Password:", "pw-carol")])
        self.assertTrue(ok, out)
        self.assertNotIn("set it up", out)
        # Exempt: the password alone, even when enrolled.
        self.w.enroll("erin", at=None)
        ok, out = self.ssh("erin", [("Password:", "pw-erin")])
        self.assertTrue(ok, out)
        # Locked out: refused even with the right code.
        secret = self.w.enroll("dave", at=None)
        for _ in range(2):
            self.ssh("dave", [("Password:", "pw-dave"), ("Verification code:", "999999x")])
        ok, out = self.ssh("dave", [("Password:", "pw-dave"),
                                    ("Verification code:", oathtool(secret, now_utc()))])
        self.assertFalse(ok, out)
        # sshd shows PAM messages only with a following prompt, so the
        # lockout message reaches the log, not this client.
        self.assertNotIn("Verification code", out)


class KeyAndCode(SshTest):
    methods = "publickey,keyboard-interactive"

    def test_publickey_then_totp(self):
        self.with_password = False
        self.mfa_args = "skip_result=success"
        self.start_sshd()
        key = os.path.join(self.w.root, "id_alice")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
        with open(os.path.join(self.keys, "alice"), "w") as f:
            f.write(open(key + ".pub").read())
        secret = self.w.enroll("alice", at=None)
        ok, out = self.ssh("alice", [("Verification code:", oathtool(secret, now_utc()))],
                           key=key)
        self.assertTrue(ok, out)
        self.assertNotIn("Password", out)
        self.assertIn("Partial publickey for alice", self.sshd_log_text())
        self.assertIn("Accepted keyboard-interactive/pam for alice", self.sshd_log_text())
        # Without the key, keyboard-interactive alone is not enough.
        ok, out = self.ssh("alice", [("Verification code:", oathtool(secret, now_utc(30)))])
        self.assertFalse(ok, out)


class EmailOverSsh(SshTest):
    def test_email_code(self):
        maildir = os.path.join(self.w.root, "mail")
        self.smtp = subprocess.Popen(["/usr/bin/python3", SMTP_SERVER, str(SMTP_PORT), maildir],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.assertEqual(self.smtp.stdout.readline().strip(), "ready")
        self.w.write_config({"methods": '[ "totp", "email" ]', "email":
                             '{ smtp_url = "smtp://127.0.0.1:%d"; starttls = "off"; '
                             'from = "Login <no-reply@example.org>"; timeout = 5; }' % SMTP_PORT})
        self.start_sshd()
        proc = self.w.mfactl("enroll", "alice", "--method", "email", "--address",
                             "alice@example.org", "--verified")
        self.assertEqual(proc.returncode, 0, proc.stderr)

        def code(seen):
            newest = max(glob.glob(os.path.join(maildir, "new", "*")), key=os.path.getmtime)
            return re.search(r"^    (\d{6})$", open(newest).read(), re.M).group(1)

        ok, out = self.ssh("alice", [("Password:", "pw-alice"),
                                     ("Code from the email", code)])
        self.assertTrue(ok, out)
        self.assertIn("A code was sent to a***@example.org", out)


class SuAndSudo(E2ETest):
    """su- and sudo-style stacks through pamtester, the way those programs
    call PAM (password of the target or invoking user, then the code)."""

    def test_su_and_sudo_stacks(self):
        checker = os.path.join(self.w.root, "check-password")
        with open(checker, "w") as f:
            f.write('#!/bin/sh\n[ "$(tr -d \'\\000\')" = "pw-$PAM_USER" ]\n')
        os.chmod(checker, 0o755)
        for service in ("su", "sudo"):
            self.w.write_stack(service, lines=[
                "auth required pam_exec.so expose_authtok quiet %s" % checker,
                "auth required %s config=%s" % (PAM_MFA_SO, self.w.config_path),
                "account required pam_permit.so"])
        secret = self.w.enroll("alice", at=None)
        env = self.w.env()
        env.pop("MFATEST_CHILD_LD_PRELOAD", None)
        env.update({"LD_PRELOAD": " ".join(sanitizer_preload() + ["libpam_wrapper.so",
                                                                  "libnss_wrapper.so"]),
                    "PAM_WRAPPER": "1", "PAM_WRAPPER_SERVICE_DIR": self.w.pamd,
                    "PAM_WRAPPER_DISABLE_DEEPBIND": "1",
                    "ASAN_OPTIONS": "detect_leaks=0:verify_asan_link_order=0:exitcode=86"})

        def pamtester(service, answers):
            argv = ["pamtester", service, "alice", "authenticate"]
            return subprocess.run(argv, input="".join(a + "\n" for a in answers), env=env,
                                  capture_output=True, text=True)

        # sudo (run here as root; sudo itself is setuid): password + code.
        ok = pamtester("sudo", ["pw-alice", oathtool(secret, now_utc())])
        self.assertEqual(ok.returncode, 0, ok.stdout + ok.stderr)
        bad = pamtester("sudo", ["pw-alice", "000000"])
        self.assertNotEqual(bad.returncode, 0)
        # su to alice: her password + her code.  (su is setuid root, so this
        # runs as root; Debian's stack puts pam_rootok first, which lets root
        # itself through without either.)
        ok = pamtester("su", ["pw-alice", oathtool(secret, now_utc(30))])
        self.assertEqual(ok.returncode, 0, ok.stdout + ok.stderr)
        self.assertIn("successfully authenticated", ok.stdout)
        bad = pamtester("su", ["wrong", oathtool(secret, now_utc(30))])
        self.assertNotEqual(bad.returncode, 0)


if __name__ == "__main__":
    main()
