"""Shared rig for pam_mfa's PAM-stack and mfactl tests.

Each test gets a throwaway world under the build directory: a config file,
a state directory, a PAM stack directory read by pam_start_confdir(), and
passwd/group files served by nss_wrapper, so nothing of the machine's own
/etc/pam.d, /etc/ssh or passwd is touched.  The clock is faketime's; codes
come from oathtool, never from pam_mfa's own code.

MFA_TEST_BACKEND=postgresql runs the same tests on the postgresql store: one
throwaway PostgreSQL 15 per test process (tests/pg/pgrig.py, started by the
first World, stopped by main()), emptied for each World; every config gets a
store section (the module logs in as a host role, mfactl as the admin role,
each with a config of its own); the server's settings (TOTP window, lockout,
email limits), which that backend takes from the database and not from
pam_mfa.conf, are set from the config World writes; and the server's clock
follows each call's `at`, as the client's does (libfaketime reading a
timestamp file).  Tests read users' state through World.state(), which
means the same on both backends.
"""
import base64
import email
import email.policy
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
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

BACKEND = os.environ.get("MFA_TEST_BACKEND", "files")
if BACKEND not in ("files", "postgresql"):
    raise SystemExit("MFA_TEST_BACKEND: %r is neither files nor postgresql" % BACKEND)
ON_PG = BACKEND == "postgresql"
PG_HOST_ROLE = "host_a"
if ON_PG:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pg"))
    import pgrig  # noqa: E402

_cluster = None
_cluster_error = None


def pg_cluster():
    """This process's PostgreSQL, started at the first call.  One that
    cannot start fails every test at once, not each after its own try."""
    global _cluster, _cluster_error
    if _cluster_error is not None:
        raise AssertionError("the test cluster did not start: %s" % _cluster_error)
    if _cluster is None:
        try:
            _cluster = pgrig.Cluster(os.environ["MFA_SQL_DIR"], clock=True).__enter__()
        except Exception as e:
            _cluster_error = e
            raise
        # Tests on the real clock would pass or fail for the wrong reasons.
        _cluster.set_clock(server_clock(T0))
        now = _cluster.one(pgrig.SUPER, "SELECT floor(extract(epoch FROM clock_timestamp()))")
        if int(float(now[0])) != 1893456010:
            raise AssertionError("the server's clock does not follow the tests': %r" % now)
    return _cluster


def files_only(reason):
    """For a test of the files backend itself (its records, their modes,
    the state directory, its lock files): skipped on postgresql, saying why."""
    return unittest.skipIf(ON_PG, "files backend only: " + reason)


def pg_expected_failure(reason):
    """A test that fails on postgresql because of a known product bug
    (reason names it): expected to fail there until it is fixed."""
    def mark(test):
        if not ON_PG:
            return test
        test.__doc__ = ((test.__doc__ or "") + "\n\nExpected to fail on postgresql: " +
                        reason).strip()
        return unittest.expectedFailure(test)
    return mark


def _config_group(text):
    """The key = value pairs of a libconfig group as World writes them."""
    return dict(re.findall(r'(\w+)\s*=\s*("[^"]*"|[^;]*?)\s*;', text or ""))


def _server_settings(cfg):
    """pam_mfa.set_settings()'s arguments for what a config says: on the
    postgresql store the window, the lockout and the email limits are the
    server's, so the test world makes them what the host's config says."""
    totp = _config_group(cfg.get("totp"))
    lockout = _config_group(cfg.get("lockout"))
    mail = _config_group(cfg.get("email"))
    sms = _config_group(cfg.get("sms"))
    return (int(totp.get("window", 1)),
            int(lockout.get("attempts", 5)), int(lockout.get("interval", 900)),
            int(lockout.get("unlock_after", 900)),
            int(mail.get("code_ttl", 300)), int(mail.get("resend_after", 30)),
            int(mail.get("enroll_mails", 5)), int(mail.get("timeout", 10)) + 5,
            int(cfg.get("factors_per_method", 3)),
            int(sms.get("code_ttl", 300)), int(sms.get("resend_after", 30)),
            int(sms.get("enroll_messages", 5)), int(sms.get("timeout", 10)))


def server_clock(at):
    """The libfaketime specification of the server's clock for a call the
    client makes at `at` (T0's form: frozen; "@... xN": running from then,
    N times as fast; None: the real time).  "@" restarts the clock when its
    text changes, so each one is made unique by a nanosecond count: the
    server's then starts when it first looks at the time after the change,
    at the call's first connection (a fraction of a second after the
    client's, which x20 makes a second or two).  An explicit rate, since
    libfaketime keeps the last one it read."""
    if at is None:
        return "+0 x1"
    if at.startswith("@"):
        server_clock.n = getattr(server_clock, "n", 0) + 1
        m = re.match(r"@(\S+ [0-9:]+)(.*)$", at)
        rest = m.group(2) if "x" in m.group(2) else m.group(2) + " x1"
        return "@%s.%09d%s" % (m.group(1), server_clock.n, rest)
    return at + " x1"


def oathtool(secret, at, algorithm="sha1", digits=6, period=30):
    """The independent reference: oathtool's code for base32 secret at time."""
    out = subprocess.run(
        ["oathtool", "--totp=" + algorithm, "--digits=%d" % digits,
         "--time-step-size=%ds" % period, "-N", at + " UTC", "-b", secret],
        check=True, capture_output=True, text=True)
    return out.stdout.strip()


SLOT_SIZES = (2048, 4096, 8192, 16384)
SLOT_HEADER = re.compile(rb"MFA1 ([0-9a-f]{16}) ([0-9a-f]{4}) ([0-9a-f]{8})\n")


def record_text(path):
    """The text of a record file, read independently of pam_mfa's code: the
    intact slot with the highest sequence number of a two-slot record
    (pam_mfa.conf(5), STATE RECORDS), or the whole file of the older form."""
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(b"MFA1 "):
        return data.decode()
    assert len(data) // 2 in SLOT_SIZES and len(data) % 2 == 0, "%s: %d bytes" % (
        path, len(data))
    size = len(data) // 2
    best = None
    for i in range(2):
        slot = data[i * size:(i + 1) * size]
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
        self.admin_config_path = self.config_path
        self.pg = None
        if ON_PG:
            self._pg_setup()
        self._write_nss()
        self.write_config(config or {})
        self.write_stack("pam_mfa_test")

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def _pg_setup(self):
        """An empty database for this world, password files for the host's
        and the admin's roles, and the admin's config beside the host's."""
        self.pg = pg_cluster()
        self._settings = None  # the first write_config empties the database too
        self.admin_config_path = os.path.join(self.root, "pam_mfa.admin.conf")
        self.pg_password_files = {}
        for role in (PG_HOST_ROLE, pgrig.ADMIN):
            path = os.path.join(self.root, "pgpass." + role)
            with open(path, "w", opener=lambda p, f: os.open(p, f, 0o600)) as f:
                f.write(self.pg.passwords[role] + "\n")
            self.pg_password_files[role] = path

    def pg_store_section(self, role=PG_HOST_ROLE, timeout=None):
        if timeout is None:
            timeout = 30 if VALGRIND else 10
        return ('{ backend = "postgresql"; conninfo = "%s"; password_file = "%s"; timeout = %d; }'
                % (self.pg.conninfo(role), self.pg_password_files[role], timeout))

    def pg_hold_row_lock(self, user):
        """A database session that locks user's row (as every decision
        about the user does) and is then stopped (SIGSTOP), lock held: kill
        it to let go."""
        proc = subprocess.Popen(self.pg.psql_cmd(pgrig.SUPER), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, env=self.pg.env())
        proc.stdin.write("BEGIN;\nSELECT 'holding' FROM pam_mfa.users WHERE user_name = '%s' "
                         "FOR UPDATE;\n" % user)
        proc.stdin.flush()
        line = proc.stdout.readline().strip()
        if line != "holding":
            proc.kill()
            proc.wait()
            raise AssertionError("no lock on %s's row: %r" % (user, line))
        os.kill(proc.pid, signal.SIGSTOP)
        return proc

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
        cfg = None
        if raw is None:
            cfg = dict(DEFAULT_CONFIG)
            cfg["state_dir"] = '"%s"' % self.state_dir
            if self.pg is not None:
                cfg["store"] = self.pg_store_section()
            cfg.update(overrides)
            raw = "".join("%s = %s;\n" % (k, v) for k, v in cfg.items() if v is not None)
        with open(self.config_path, "w") as f:
            f.write(raw)
        os.chmod(self.config_path, 0o600)
        if self.pg is not None:
            admin = raw
            if cfg is not None and "store" not in overrides:
                admin = raw.replace(self.pg_store_section(), self.pg_store_section(pgrig.ADMIN))
            with open(self.admin_config_path, "w", opener=lambda p, f: os.open(p, f, 0o600)) as f:
                f.write(admin)
            settings = _server_settings(cfg) if cfg is not None else _server_settings({})
            if settings != self._settings:
                # One psql call (about 0.15 s here) for both.
                empty = ("TRUNCATE pam_mfa.users, pam_mfa.factors, pam_mfa.pending_code, "
                         "pam_mfa.recovery_sets, pam_mfa.recovery_codes, "
                         "pam_mfa.bypass_codes; "
                         if self._settings is None else "")
                self.pg.sql(pgrig.SUPER, "%sSELECT pam_mfa.set_settings(%s)"
                            % (empty, ", ".join(str(v) for v in settings)))
                self._settings = settings

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
        self.follow_clock(at)
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

    def follow_clock(self, at):
        """The database decides with its own clock: it reads the time the
        program under test is given.  One server, one clock: calls that run
        at once must be made at the same `at` (the tests' threads are)."""
        if self.pg is not None:
            self.pg.set_clock(server_clock(at))

    def mfactl(self, *args, at=None, extra_env=None):
        return self._run([MFACTL, "--config", self.admin_config_path] + list(args), at=at,
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
        self.follow_clock(at)
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
        assert self.pg is None, "a record file is the files backend's: use state()"
        return record_text(os.path.join(self.state_dir, user))

    def record(self, user):
        return dict(l.split("=", 1) for l in self.record_text(user).splitlines() if "=" in l)

    def record_factors(self, user):
        """The factor lines of a version 5 or 6 record, each as a dict: id,
        method, the named fields, and label (the rest of the line)."""
        out = []
        for line in self.record_text(user).splitlines():
            if not line.startswith("factor="):
                continue
            head, _, label = line[len("factor="):].partition(" label=")
            words = head.split(" ")
            f = {"id": int(words[0]), "method": words[1], "label": label}
            f.update(w.split("=", 1) for w in words[2:])
            out.append(f)
        return out

    def state(self, user):
        """What the store holds for user, the same on both backends (read
        behind the product's back: the record file, or the tables as the
        database's superuser).  Times are unix seconds, 0 for none;
        locked_until is -1 for "until an administrator unlocks"."""
        st = {"exists": False, "totp_secret": None, "totp_last_step": 0, "fail_count": 0,
              "locked_until": 0, "skip_since": 0, "last_login": 0, "last_service": "",
              "last_rhost": "", "email_address": "", "email_verified": False,
              "email_by_admin": False, "email_code_pending": False, "email_code_booked": False}
        if self.pg is None:
            if not os.path.exists(os.path.join(self.state_dir, user)):
                return st
            rec = self.record(user)
            lock = rec.get("lock.until", "0")
            if rec.get("version") in ("5", "6"):
                # The first app and the first address stand for "the" app
                # and address of the older records (verified ones first).
                factors = self.record_factors(user)
                apps = [f for f in factors if f["method"] == "totp"]
                mails = sorted((f for f in factors if f["method"] == "email"),
                               key=lambda f: f["verified"] != "1")
                code = rec.get("code", "")
                rec.update({"totp.secret": apps[0]["secret"], "totp.last_step": apps[0]["step"]}
                           if apps else {})
                if mails:
                    rec.update({"email.address": mails[0]["dest"],
                                "email.verified": mails[0]["verified"],
                                "email.by_admin": mails[0]["by_admin"]})
                rec["email.code"] = code if code.split(" ")[0] in (
                    str(f["id"]) for f in mails) else ""
                rec["email.code_booked"] = rec.get("code.booked", "0")
            st.update(exists=True, totp_secret=rec.get("totp.secret"),
                      totp_last_step=int(rec.get("totp.last_step", 0)),
                      fail_count=int(rec.get("fail.count", 0)),
                      locked_until=-1 if lock == "admin" else int(lock),
                      skip_since=int(rec.get("skip.since", 0)),
                      last_login=int(rec.get("login.time", 0)),
                      last_service=rec.get("login.service", ""),
                      last_rhost=rec.get("login.rhost", ""),
                      email_address=rec.get("email.address", ""),
                      email_verified=rec.get("email.verified", "0") == "1",
                      email_by_admin=rec.get("email.by_admin", "0") == "1",
                      email_code_pending=rec.get("email.code", "") != "",
                      email_code_booked=rec.get("email.code_booked", "0") != "0")
            return st
        rows = self.pg.sql(pgrig.SUPER, """
            SELECT u.fail_count,
                   CASE WHEN u.locked_until = 'infinity' THEN -1
                        ELSE coalesce(floor(extract(epoch FROM u.locked_until)), 0) END,
                   coalesce(floor(extract(epoch FROM u.skip_since)), 0),
                   coalesce(floor(extract(epoch FROM u.last_login)), 0),
                   u.last_service, u.last_rhost,
                   encode(t.secret, 'hex'), coalesce(t.last_step, 0),
                   coalesce(e.dest, ''), coalesce(e.verified, false),
                   coalesce(e.by_admin, false), c.factor_id IS NOT NULL, u.booked_at IS NOT NULL
              FROM pam_mfa.users u
              LEFT JOIN LATERAL (SELECT * FROM pam_mfa.factors f WHERE f.user_name = u.user_name
                                   AND f.method = 'totp' ORDER BY f.id LIMIT 1) t ON true
              LEFT JOIN LATERAL (SELECT * FROM pam_mfa.factors f WHERE f.user_name = u.user_name
                                   AND f.method = 'email' ORDER BY f.verified DESC, f.id
                                   LIMIT 1) e ON true
              LEFT JOIN pam_mfa.pending_code c
                ON c.user_name = u.user_name AND c.factor_id = e.id
             WHERE u.user_name = '%s'""" % user.replace("'", "''"))
        if not rows:
            return st
        r = rows[0]
        st.update(exists=True, fail_count=int(r[0]), locked_until=int(float(r[1])),
                  skip_since=int(float(r[2])), last_login=int(float(r[3])),
                  last_service=r[4], last_rhost=r[5],
                  totp_secret=base64.b32encode(bytes.fromhex(r[6])).decode().rstrip("=")
                  if r[6] else None,
                  totp_last_step=int(r[7]), email_address=r[8], email_verified=r[9] == "t",
                  email_by_admin=r[10] == "t", email_code_pending=r[11] == "t",
                  email_code_booked=r[12] == "t")
        return st

    def users_with_state(self):
        """The users the store holds anything for, sorted."""
        if self.pg is None:
            return sorted(n for n in os.listdir(self.state_dir) if not n.startswith("."))
        return [r[0] for r in self.pg.sql(pgrig.SUPER,
                                          "SELECT user_name FROM pam_mfa.users ORDER BY 1")]

    def stored_text(self, user):
        """Everything the store keeps for user, as text: the record file,
        or the user's rows of every table."""
        if self.pg is None:
            path = os.path.join(self.state_dir, user)
            if not os.path.exists(path):
                return ""
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        q = user.replace("'", "''")
        return "\n".join(",".join(r) for r in self.pg.sql(pgrig.SUPER, """
            SELECT row_to_json(x)::text FROM pam_mfa.users x WHERE user_name = '%s'
            UNION ALL SELECT row_to_json(x)::text FROM pam_mfa.factors x WHERE user_name = '%s'
            UNION ALL SELECT row_to_json(x)::text FROM pam_mfa.pending_code x WHERE user_name = '%s'
            UNION ALL SELECT row_to_json(x)::text FROM pam_mfa.recovery_sets x WHERE user_name = '%s'
            UNION ALL SELECT row_to_json(x)::text FROM pam_mfa.recovery_codes x WHERE user_name = '%s'
            UNION ALL SELECT row_to_json(x)::text FROM pam_mfa.bypass_codes x WHERE user_name = '%s'
            """ % (q, q, q, q, q, q)))

    def break_store(self):
        """Makes the store refuse to open: an insecure state directory, or
        the host's database password wrong."""
        if self.pg is None:
            os.chmod(self.state_dir, 0o755)
        else:
            with open(self.pg_password_files[PG_HOST_ROLE], "w") as f:
                f.write("not-the-password\n")


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

    def assertStoreChecks(self):
        """The store is found sound: by mfactl check on the files store; on
        postgresql by mfactl db check (schema version, the roles' rights),
        since mfactl check refuses there and says so."""
        if ON_PG:
            proc = self.w.mfactl("check")
            self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
            self.assertIn('"mfactl db check"', proc.stderr)
            proc = self.w.mfactl("db", "check")
        else:
            proc = self.w.mfactl("check")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)


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
    # meson's timeout sends SIGTERM: the server is stopped all the same.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    ok = False
    try:
        if ON_PG:
            print("backend: postgresql", file=sys.stderr)
        ok = unittest.main(verbosity=2, exit=False).result.wasSuccessful()
    finally:
        if _cluster is not None:
            _cluster.__exit__(None, None, None)
    sys.exit(0 if ok else 1)
