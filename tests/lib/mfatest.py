"""Shared rig for pam_mfa's PAM-stack and mfactl tests.

Each test gets a throwaway world under the build directory: a config file,
a state directory, a PAM stack directory read by pam_start_confdir(), and
passwd/group files served by nss_wrapper, so nothing of the machine's own
/etc/pam.d, /etc/ssh or passwd is touched.  The clock is faketime's; codes
come from oathtool, never from pam_mfa's own code.
"""
import email
import email.policy
import glob
import os
import re
import shutil
import subprocess
import tempfile
import unittest
import urllib.parse
import zlib

PAMRUN = os.environ.get("PAMRUN", "")
MFACTL = os.environ.get("MFACTL", "")
PAM_MFA_SO = os.environ.get("PAM_MFA_SO", "")
TMP_BASE = os.environ.get("TEST_TMPDIR") or tempfile.gettempdir()
SYSLOG_NS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "syslog_ns.py")
FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
NSS_WRAPPER_LIB = "libnss_wrapper.so"

# Sanitizer reports make the process exit with these, never with a code the
# programs use themselves.
ASAN_EXIT = 86
LSAN_EXIT = 23
VALGRIND_EXIT = 87

# MFATEST_VALGRIND=1 runs every program under test in valgrind's memcheck
# (for a build without sanitizers): errors and definite leaks fail the test.
VALGRIND = ["valgrind", "-q", "--leak-check=full", "--errors-for-leak-kinds=definite",
            "--error-exitcode=%d" % VALGRIND_EXIT, "--trace-children=no",
            "--suppressions=" + os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                             "valgrind.supp")] \
    if os.environ.get("MFATEST_VALGRIND") == "1" else []

T0 = "2030-01-01 00:00:10"  # 10 s into a 30 s step: room on both sides

DEFAULT_CONFIG = {
    "issuer": '"Example Corp"',
    "totp": '{ digits = 6; period = 30; window = 1; algorithm = "sha1"; }',
    "lockout": "{ attempts = 3; interval = 900; unlock_after = 600; }",
    "fail_delay_ms": "0",
}

USERS = ["alice", "bob", "carol", "dave", "erin"]


def oathtool(secret, at, algorithm="sha1", digits=6, period=30):
    """The independent reference: oathtool's code for base32 secret at time."""
    out = subprocess.run(
        ["oathtool", "--totp=" + algorithm, "--digits=%d" % digits,
         "--time-step-size=%ds" % period, "-N", at + " UTC", "-b", secret],
        check=True, capture_output=True, text=True)
    return out.stdout.strip()


SLOT_SIZE = 2048
SLOT_HEADER = re.compile(rb"MFA1 ([0-9a-f]{16}) ([0-9a-f]{4}) ([0-9a-f]{8})\n")


def record_text(path):
    """The text of a record file, read independently of pam_mfa's code: the
    intact slot with the highest sequence number of a two-slot record
    (pam_mfa.conf(5), STATE RECORDS), or the whole file of the older form."""
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(b"MFA1 "):
        return data.decode()
    assert len(data) == 2 * SLOT_SIZE, "%s: %d bytes" % (path, len(data))
    best = None
    for i in range(2):
        slot = data[i * SLOT_SIZE:(i + 1) * SLOT_SIZE]
        m = SLOT_HEADER.match(slot)
        if not m:
            continue
        seq, length, crc = (int(g, 16) for g in m.groups())
        text = slot[36:36 + length]
        if zlib.crc32(slot[:27] + text) != crc:
            continue
        if best is None or seq > best[0]:
            best = (seq, text)
    assert best is not None, "%s: no intact slot" % path
    return best[1].decode()


def read_maildir(maildir):
    """The messages delivered to a Maildir, oldest first."""
    out = []
    for path in sorted(glob.glob(os.path.join(maildir, "new", "*")), key=os.path.getmtime):
        with open(path, "rb") as f:
            out.append(email.message_from_binary_file(f, policy=email.policy.default))
    return out


def parse_uri(text):
    """Finds the otpauth:// URI, which must stand alone on its own line."""
    lines = [l for l in text.splitlines() if l.startswith("otpauth://")]
    if len(lines) != 1:
        raise AssertionError("expected one otpauth:// line in:\n" + text)
    uri = urllib.parse.urlparse(lines[0])
    params = dict(urllib.parse.parse_qsl(uri.query))
    return uri, params


class Result:
    def __init__(self, proc):
        self.returncode = proc.returncode
        self.log = proc.log
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        m = re.search(r"^result: (\S+)$", proc.stdout, re.M)
        self.pam = m.group(1) if m else None

    @property
    def messages(self):
        return [l for l in self.stdout.splitlines() if not l.startswith("result:")]

    def __repr__(self):
        return "<rc=%s pam=%s\nstdout:\n%s\nstderr:\n%s\nsyslog:\n%s>" % (
            self.returncode, self.pam, self.stdout, self.stderr, "\n".join(self.log))


class World:
    """A private config + state + PAM stack + user database."""

    def __init__(self, name="t", config=None, users=USERS, groups=None, root=None):
        if root is not None:
            # A fixed place, for programs whose paths are compiled in.
            shutil.rmtree(root, ignore_errors=True)
            os.makedirs(root, mode=0o755)
            self.root = os.path.realpath(root)
        else:
            os.makedirs(TMP_BASE, mode=0o755, exist_ok=True)
            self.root = os.path.realpath(tempfile.mkdtemp(prefix=name + ".", dir=TMP_BASE))
        os.chmod(self.root, 0o755)
        # As the package lays it out: a root-only directory under a
        # root-owned parent of its own.
        self.var = os.path.join(self.root, "var")
        os.mkdir(self.var, 0o755)
        self.state_dir = os.path.join(self.var, "pam_mfa")
        os.mkdir(self.state_dir, 0o700)
        self.config_path = os.path.join(self.root, "pam_mfa.conf")
        self.pamd = os.path.join(self.root, "pam.d")
        os.mkdir(self.pamd, 0o755)
        self.users = list(users)
        # Supplementary groups: name -> members (the gid is assigned here).
        self.groups = dict(groups or {})
        self._runs = 0
        self._write_nss()
        self.write_config(config or {})
        self.write_stack("pam_mfa_test")

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def _write_nss(self):
        self.passwd = os.path.join(self.root, "passwd")
        self.group = os.path.join(self.root, "group")
        with open(self.passwd, "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\n")
            for i, u in enumerate(self.users):
                f.write("%s:x:%d:%d:%s:/home/%s:/bin/sh\n" % (u, 2001 + i, 2001 + i, u, u))
        with open(self.group, "w") as f:
            f.write("root:x:0:\n")
            for i, u in enumerate(self.users):
                f.write("%s:x:%d:\n" % (u, 2001 + i))
            for i, (g, members) in enumerate(self.groups.items()):
                f.write("%s:x:%d:%s\n" % (g, 3001 + i, ",".join(members)))

    def write_config(self, overrides, raw=None):
        """Writes pam_mfa.conf from DEFAULT_CONFIG with overrides (None
        removes a key), or raw text; root-owned, mode 0600."""
        if raw is None:
            cfg = dict(DEFAULT_CONFIG)
            cfg["state_dir"] = '"%s"' % self.state_dir
            cfg.update(overrides)
            raw = "".join("%s = %s;\n" % (k, v) for k, v in cfg.items() if v is not None)
        with open(self.config_path, "w") as f:
            f.write(raw)
        os.chmod(self.config_path, 0o600)

    def write_stack(self, service, args="", lines=None):
        """A stack whose result tells PAM_IGNORE apart from everything else:
        pam_mfa's own code is returned as is, except that PAM_IGNORE falls
        through to pam_echo's marker and then pam_deny."""
        if lines is None:
            lines = [
                "auth [success=done ignore=ignore default=die] %s config=%s %s"
                % (PAM_MFA_SO, self.config_path, args),
                "auth optional pam_echo.so pam_mfa-ignored",
                "auth required pam_deny.so",
            ]
        with open(os.path.join(self.pamd, service), "w") as f:
            f.write("\n".join(lines) + "\n")
        with open(os.path.join(self.pamd, "other"), "w") as f:
            f.write("auth required pam_deny.so\naccount required pam_deny.so\n")

    def env(self, at=None, extra=None):
        env = dict(os.environ)
        preload = [NSS_WRAPPER_LIB]
        if at is not None:
            preload.append(FAKETIME_LIB)
            env["MFATEST_CHILD_FAKETIME"] = at  # frozen: the clock does not move
            env["TZ"] = "UTC"
            # libcurl times its SMTP exchange on the monotonic clock, which a
            # frozen clock would stop: only the wall clock is faked.
            env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
        # syslog_ns.py moves these into place for the command alone.
        env["MFATEST_CHILD_LD_PRELOAD"] = " ".join(preload)
        env["NSS_WRAPPER_PASSWD"] = self.passwd
        env["NSS_WRAPPER_GROUP"] = self.group
        env["NSS_WRAPPER_DISABLE_DEEPBIND"] = "1"  # ASan refuses RTLD_DEEPBIND
        env["ASAN_OPTIONS"] = ("verify_asan_link_order=0:exitcode=%d:detect_leaks=1"
                               % ASAN_EXIT)
        env["LSAN_OPTIONS"] = "exitcode=%d" % LSAN_EXIT
        # See pamrun.c: keeps the module mapped after pam_end.
        env["PAMRUN_KEEP_LOADED"] = PAM_MFA_SO
        env["UBSAN_OPTIONS"] = "halt_on_error=1:print_stacktrace=1:exitcode=%d" % ASAN_EXIT
        if extra:
            env.update(extra)
        return env

    def _run(self, argv, at=None, input_text=None, extra_env=None, timeout=180):
        """Runs argv with the world's environment, its syslog captured
        through a private /dev/log (see syslog_ns.py) into proc.log."""
        logfile = os.path.join(self.root, "syslog.%d" % self._runs)
        self._runs += 1
        wrapped = ["unshare", "-m", "--propagation", "private", "/usr/bin/python3",
                   SYSLOG_NS, logfile] + VALGRIND + list(argv)
        proc = subprocess.run(wrapped, input=input_text, capture_output=True,
                              env=self.env(at, extra_env), timeout=timeout,
                              errors="replace")
        with open(logfile) as f:
            proc.log = f.read().splitlines()
        sanitizer = (proc.returncode in (ASAN_EXIT, LSAN_EXIT, VALGRIND_EXIT) or
                     "Sanitizer" in proc.stderr or "runtime error:" in proc.stderr)
        if sanitizer:
            raise AssertionError("sanitizer report from %s:\n%s" % (argv, proc.stderr))
        return proc

    def mfactl(self, *args, at=None, extra_env=None):
        return self._run([MFACTL, "--config", self.config_path] + list(args), at=at,
                         extra_env=extra_env)

    def login(self, user, answers=(), at=T0, service="pam_mfa_test", rhost=None,
              options=(), raw_input=None, extra_env=None):
        argv = [PAMRUN, "--confdir", self.pamd, "--service", service, "--user", user]
        if rhost is not None:
            argv += ["--rhost", rhost]
        argv += list(options)
        text = raw_input if raw_input is not None else "".join(a + "\n" for a in answers)
        res = Result(self._run(argv, at=at, input_text=text, extra_env=extra_env))
        if res.returncode != 0 or res.pam is None:
            raise AssertionError("pamrun failed: %r" % res)
        return res

    def login_interactive(self, user, respond, at=T0, service="pam_mfa_test",
                          rhost=None, options=()):
        """Drives pamrun prompt by prompt: respond(prompt, transcript) is
        called for each prompt with everything shown so far and returns
        the answer, or None to end the conversation."""
        logfile = os.path.join(self.root, "syslog.%d" % self._runs)
        self._runs += 1
        argv = [PAMRUN, "--confdir", self.pamd, "--service", service, "--user", user]
        if rhost is not None:
            argv += ["--rhost", rhost]
        argv += list(options)
        wrapped = ["unshare", "-m", "--propagation", "private", "/usr/bin/python3",
                   SYSLOG_NS, logfile] + VALGRIND + argv
        proc = subprocess.Popen(wrapped, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self.env(at), text=True,
                                errors="replace")
        transcript = []
        try:
            for line in proc.stdout:
                line = line.rstrip("\n")
                transcript.append(line)
                if line.startswith("prompt-"):
                    answer = respond(line.split(": ", 1)[1] if ": " in line else "",
                                     transcript)
                    if answer is None:
                        proc.stdin.close()
                    else:
                        proc.stdin.write(answer + "\n")
                        proc.stdin.flush()
            stderr = proc.stderr.read()
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        done = subprocess.CompletedProcess(argv, proc.returncode, "\n".join(transcript) + "\n",
                                           stderr)
        with open(logfile) as f:
            done.log = f.read().splitlines()
        if proc.returncode in (ASAN_EXIT, LSAN_EXIT, VALGRIND_EXIT) or "Sanitizer" in stderr \
                or "runtime error:" in stderr:
            raise AssertionError("sanitizer report from pamrun:\n" + stderr)
        res = Result(done)
        if res.returncode != 0 or res.pam is None:
            raise AssertionError("pamrun failed: %r" % res)
        return res

    def enroll(self, user, *extra, at=T0):
        proc = self.mfactl("enroll", user, "--qr", "none", *extra, at=at)
        if proc.returncode != 0:
            raise AssertionError("enroll failed: %s%s" % (proc.stdout, proc.stderr))
        uri, params = parse_uri(proc.stdout)
        return params["secret"]

    def record_text(self, user):
        return record_text(os.path.join(self.state_dir, user))

    def record(self, user):
        return dict(l.split("=", 1) for l in self.record_text(user).splitlines() if "=" in l)


class WorldTest(unittest.TestCase):
    """A TestCase with a fresh World in self.w."""
    config = None
    groups = None

    def setUp(self):
        self.w = World(self.id().split(".")[-1], config=self.config, groups=self.groups)

    def tearDown(self):
        self.w.cleanup()

    def assertPam(self, res, expected):
        self.assertEqual(res.pam, expected, res)

    def assertIgnored(self, res):
        self.assertIn("info: pam_mfa-ignored", res.stdout, res)
        self.assertEqual(res.pam, "PAM_AUTH_ERR", res)


def decode_terminal_qr(lines):
    """Turns a QR code drawn with half blocks (light modules drawn, as
    pam_mfa does) back into an image, and returns what zbarimg reads in it:
    the proof that what the user sees on the terminal scans."""
    cells = {" ": (0, 0), "\u2580": (1, 0), "\u2584": (0, 1), "\u2588": (1, 1)}
    rows = []
    for line in lines:
        top, bottom = [], []
        for ch in line:
            t, b = cells[ch]
            top.append(t)
            bottom.append(b)
        rows += [top, bottom]
    scale, border = 6, 24
    width = len(rows[0]) * scale + 2 * border
    height = len(rows) * scale + 2 * border
    pixels = bytearray([255]) * (width * height)
    for y, row in enumerate(rows):
        for x, light in enumerate(row):
            if not light:
                for dy in range(scale):
                    start = (border + y * scale + dy) * width + border + x * scale
                    pixels[start:start + scale] = bytes(scale)
    fd, path = tempfile.mkstemp(suffix=".pgm", dir=TMP_BASE)
    with os.fdopen(fd, "wb") as f:
        f.write(b"P5 %d %d 255\n" % (width, height))
        f.write(bytes(pixels))
    try:
        out = subprocess.run(["zbarimg", "-q", "--raw", path], capture_output=True, text=True)
        return out.stdout.strip()
    finally:
        os.unlink(path)


def qr_lines_between(transcript, start, end):
    """The info lines of a QR code between two marker messages."""
    lines, inside = [], False
    for line in transcript:
        if line.startswith("info: ") and start in line:
            inside = True
            continue
        if inside and end in line:
            break
        if inside and line.startswith("info: "):
            lines.append(line[len("info: "):])
    return lines


def main():
    unittest.main(verbosity=2)
