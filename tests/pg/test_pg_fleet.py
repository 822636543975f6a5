#!/usr/bin/python3
"""A fleet of hosts on one PostgreSQL store (pgrig.py: a throwaway
PostgreSQL 15 with TLS and scram): what the postgresql backend promises a
fleet, driven through real logins.

  FleetSsh      two real sshd on loopback, each with its own pam_mfa.conf
                and its own login role (host_a, host_b), the real ssh
                client: enrollment at login on A, login on B, B's code
                refused on A, failures on both adding up to one lockout,
                mfactl status as the admin role; exempt users (by user and
                by group, the break-glass account) logging in while the
                database is down.  Run through tests/e2e/isolate.sh.
  FleetRace     16 logins (pamrun) on the two hosts, every one waiting at
                the prompt with its connection open, answering one code at
                the same moment: exactly one PAM_SUCCESS.
  FleetFaults   the server stopped, restarted, unreachable, slow (a row
                lock held), or the network silent (a stalling proxy) in
                the middle of a login: each fails closed within
                store.timeout with a log line, and the next login works.
  FleetFailover a primary and its synchronous streaming standby behind a
                multi-host conninfo with target_session_attrs=read-write:
                the primary crashes, the standby is promoted, logins go on
                and a code accepted before the failover is refused after it;
                a first host that drops every packet costs connect_timeout,
                then the second host takes the login.

Codes come from oathtool at the real time: the database's clock decides.
usage: test_pg_fleet.py CLASS (meson runs one class per test)."""
import base64
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

import pexpect

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgrig  # noqa: E402
from mfatest import World, oathtool, parse_uri  # noqa: E402
from realclock import fresh_code, now_utc, wrong_code  # noqa: E402

SQL_DIR = os.environ["MFA_SQL_DIR"]
PAM_MFA_SO = os.environ["PAM_MFA_SO"]
TIMEOUT = 3      # store.timeout where a test waits for it to run out
BUSY_TIMEOUT = 20  # where it must not: 16 logins connecting at once on 2 busy cores
MARGIN = 3       # what a login may take beyond store.timeout (ASan, 2 busy cores)
USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan"]
# erin is exempt by name, frank by the break-glass group.
RULES = ('( { user = "erin"; policy = "exempt"; }, '
         '{ group = "breakglass"; policy = "exempt"; } )')
STORE_LINE = re.compile(r"postgresql: ")


def lines(log, *needles):
    """The log lines that contain every needle."""
    return [l for l in log if all(n in l for n in needles)]


def process_start(pid):
    """The start time of pid (to tell it from a later process with its
    number), or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except OSError:
        return None


def descendants(root):
    """(pid, start time) of every process below root."""
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(name))
    found, todo = [], [root]
    while todo:
        for pid in children.get(todo.pop(), []):
            found.append((pid, process_start(pid)))
            todo.append(pid)
    return found


def sanitizer_preload():
    """An ASan-built module needs its runtimes first in sshd."""
    ldd = subprocess.run(["ldd", PAM_MFA_SO], capture_output=True, text=True).stdout
    libs = []
    for name in ("libasan.so", "libubsan.so"):
        if name.split(".")[0] in ldd:
            libs.append(subprocess.run(["gcc", "-print-file-name=" + name],
                                       capture_output=True, text=True).stdout.strip())
    return libs


class Host:
    """One host of the fleet: a World (its own pam_mfa.conf, PAM stack and
    passwd) whose store is the shared database, as login role `role`."""

    def __init__(self, test, name, pg, role, conninfo=None, timeout=TIMEOUT):
        self.w = World(name, users=USERS, groups={"breakglass": ["frank"]})
        self.pg = pg
        self.role = role
        self.timeout = timeout
        self.pwfile = os.path.join(self.w.root, "pgpass")
        with open(self.pwfile, "w", opener=lambda p, f: os.open(p, f, 0o600)) as f:
            f.write(pg.passwords[role] + "\n")
        self.configure(conninfo)
        test.addCleanup(self.w.cleanup)

    def conninfo(self, port=None):
        return (f"host=127.0.0.1 port={port or self.pg.port} dbname=pam_mfa user={self.role} "
                f"sslmode=verify-full sslrootcert={self.pg.dir}/ca.crt")

    def configure(self, conninfo=None):
        self.w.write_config({
            "default_policy": '"required"',
            "rules": RULES,
            "store": '{ backend = "postgresql"; conninfo = "%s"; password_file = "%s"; '
                     'timeout = %d; }' % (conninfo or self.conninfo(), self.pwfile,
                                          self.timeout),
        })

    def login(self, user, answers=()):
        return self.w.login(user, answers, at=None)

    def login_at_prompt(self, user, at_prompt):
        """A login that waits at its first prompt for at_prompt(prompt),
        which returns the answer; *.took is the time from the answer to the
        end of the login, or from the start if no prompt came."""
        marks = {"t0": time.monotonic()}

        def respond(prompt, transcript):
            if "answered" in marks:
                return None
            answer = at_prompt(prompt)
            marks["answered"] = True
            marks["t0"] = time.monotonic()
            return answer

        res = self.w.login_interactive(user, respond, at=None)
        res.took = time.monotonic() - marks["t0"]
        res.prompted = "answered" in marks
        return res


class FleetTest(unittest.TestCase):
    standby = False

    @classmethod
    def setUpClass(cls):
        cls.pg = pgrig.Cluster(SQL_DIR, standby=cls.standby).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.pg.__exit__(None, None, None)

    def provision(self, user):
        raw = os.urandom(20)
        got = self.pg.one(pgrig.ADMIN, "SELECT pam_mfa.provision_totp('%s', '\\x%s'::bytea, "
                          "'sha1', 6, 30, 0, NULL, 'new')" % (user, raw.hex()))
        self.assertEqual(got, ["provisioned"])
        return base64.b32encode(raw).decode().rstrip("=")

    def summary(self, user, cols="fail_count, locked_until, last_service, last_rhost, last_host"):
        return self.pg.one(pgrig.ADMIN, pgrig.summary_sql(user, cols))

    def server_setting(self, name):
        return int(self.pg.one(pgrig.OWNER, "SELECT %s FROM pam_mfa.settings" % name)[0])

    def assertFailedClosed(self, res, what):
        """Not let in, PAM_AUTHINFO_UNAVAIL (pam_mfa.conf(5), store.timeout),
        within the timeout, with the store's reason and the outcome logged."""
        self.assertEqual(res.pam, "PAM_AUTHINFO_UNAVAIL", "%s: %r" % (what, res))
        self.assertLess(res.took, TIMEOUT + MARGIN, "%s took %.1f s: %r" % (what, res.took, res))
        said = [l for l in res.log if STORE_LINE.search(l)]
        self.assertTrue(said, "%s: %r" % (what, res))
        self.assertTrue(lines(res.log, "outcome=error", "reason=store"), "%s: %r" % (what, res))
        print("%s: %s in %.1f s: %s" % (what, res.pam, res.took,
                                        said[0].split("pam_mfa(", 1)[-1]), flush=True)


# --------------------------------------------------------------- two sshd


RECOVERY_RE = re.compile(r"\b([2-9a-hjkmnp-z]{4}-[2-9a-hjkmnp-z]{4}-[2-9a-hjkmnp-z]{4})\b")


class FleetSsh(FleetTest):
    """Host A and host B: two sshd on loopback; passwords are "pw-USER"."""

    def setUp(self):
        self.daemons = []
        self.a = self.start_host("fleet-a", "host_a")
        self.b = self.start_host("fleet-b", "host_b")
        # A third configuration, the administrator's: mfactl as admin1.
        self.admin = Host(self, "fleet-admin", self.pg, pgrig.ADMIN)

    def tearDown(self):
        # sshd's per-connection processes outlive the listener: end those
        # it started too, found before it goes (then they are init's).
        for p in self.daemons:
            left = descendants(p.pid)
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            for pid, start in left:
                if process_start(pid) == start:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass

    def start_host(self, name, role):
        host = Host(self, name, self.pg, role)
        w = host.w
        with open(w.passwd, "a") as f:
            f.write("sshd:x:105:65534::/run/sshd:/usr/sbin/nologin\n")
        with open(w.group, "a") as f:
            f.write("nogroup:x:65534:\n")
        checker = os.path.join(w.root, "check-password")
        with open(checker, "w") as f:
            f.write('#!/bin/sh\n[ "$(tr -d \'\\000\')" = "pw-$PAM_USER" ]\n')
        os.chmod(checker, 0o755)
        w.write_stack("sshd", lines=[
            "auth required pam_exec.so expose_authtok quiet " + checker,
            "auth required %s config=%s" % (PAM_MFA_SO, w.config_path),
            "account required pam_permit.so", "session required pam_permit.so",
            "password required pam_deny.so"])
        hostkey = os.path.join(w.root, "hostkey")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostkey],
                       check=True)
        host.port = pgrig.free_port()
        conf = os.path.join(w.root, "sshd_config")
        with open(conf, "w") as f:
            f.write("\n".join([
                "Port %d" % host.port, "ListenAddress 127.0.0.1", "HostKey " + hostkey,
                "PidFile " + os.path.join(w.root, "sshd.pid"), "UsePAM yes",
                "KbdInteractiveAuthentication yes", "PasswordAuthentication no",
                "PubkeyAuthentication no", "AuthenticationMethods keyboard-interactive",
                "AllowUsers " + " ".join(USERS), "PermitRootLogin no", "LogLevel VERBOSE",
                "LoginGraceTime 30",
                ""]))
        env = w.env()
        env.pop("MFATEST_CHILD_LD_PRELOAD", None)
        preload = sanitizer_preload()
        if preload:
            # Right after libasan: see sshd_nogettext.c (under a preloaded
            # libasan, sshd hangs in libpq's first message lookup).
            preload.append(os.environ["SSHD_NOGETTEXT"])
        env.update({"LD_PRELOAD": " ".join(preload + ["libpam_wrapper.so", "libnss_wrapper.so"]),
                    "PAM_WRAPPER": "1", "PAM_WRAPPER_SERVICE_DIR": w.pamd,
                    "PAM_WRAPPER_DISABLE_DEEPBIND": "1",
                    # sshd exits without freeing what it keeps for the session.
                    "ASAN_OPTIONS": "detect_leaks=0:verify_asan_link_order=0:exitcode=86"})
        host.sshd_log = os.path.join(w.root, "sshd.log")
        with open(host.sshd_log, "w") as log:
            proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", conf], env=env,
                                    stderr=log)
        self.daemons.append(proc)
        for _ in range(200):
            if any("Server listening" in l for l in self.sshd_log(host)):
                return host
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        self.fail("sshd did not start:\n" + "\n".join(self.sshd_log(host)))

    def sshd_log(self, host):
        with open(host.sshd_log, errors="replace") as f:
            return f.read().splitlines()

    def ssh(self, host, user, steps):
        """Logs in to host with the real ssh client, answering steps, a list
        of (prompt pattern, answer or callable of what was shown).  Returns
        (logged_in, transcript, seconds, what sshd logged meanwhile).

        sshd's log is its own lines and pam_wrapper's: sshd runs PAM in a
        child with an emptied environment, where pam_wrapper sends
        pam_syslog() to stderr and only at LOG_ERR ("PWRAP_ERROR ...
        SYSLOG(3): ..."); pam_mfa's other lines are lost, so the outcome of
        a login is read from sshd and from the database."""
        before = len(self.sshd_log(host))
        opts = ["-F", "none", "-p", str(host.port), "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "NumberOfPasswordPrompts=1",
                "-o", "LogLevel=ERROR", "-o", "PreferredAuthentications=keyboard-interactive"]
        t0 = time.monotonic()
        # The session has no nss_wrapper (sshd gives it a fresh
        # environment): the uid stands for the name.
        child = pexpect.spawn("ssh", opts + ["%s@127.0.0.1" % user, "echo LOGGED-IN-$(id -u)"],
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
        took = time.monotonic() - t0
        verdict = re.compile(r"(Accepted|Failed) keyboard-interactive/pam for %s " % user)
        for _ in range(40):        # sshd may log a moment after the client ends
            new = self.sshd_log(host)[before:]
            if any(verdict.search(l) for l in new):
                break
            time.sleep(0.05)
        return ("LOGGED-IN-%d" % (2001 + USERS.index(user))) in seen, seen, took, new

    def accepted(self, log, user):
        return len(lines(log, "Accepted keyboard-interactive/pam for %s " % user))

    def failed(self, log, user):
        return len(lines(log, "Failed keyboard-interactive/pam for %s " % user))

    def test_1_enroll_on_a_login_on_b_replay_lockout_status(self):
        a, b = self.a, self.b
        # Enrollment at login on A: bob has no factor; A shows the URI and
        # the QR code, and bob answers with the app's first code.
        shown = {}

        def first_code(seen):
            uri = "\n".join(l.strip() for l in seen.splitlines()
                            if l.strip().startswith("otpauth://"))
            _, params = parse_uri(uri)
            shown.update(params)
            return oathtool(params["secret"], now_utc())

        self.assertEqual(self.summary("bob", "user_exists, totp_enrolled"), ["f", "f"])
        ok, out, _, log = self.ssh(a, "bob", [("Password:", "pw-bob"),
                                              ("Press Enter to set it up now: ", ""),
                                              ("Code shown by the app, to confirm: ", first_code),
                                              ("Press Enter once you have written them down: ",
                                               "")])
        self.assertTrue(ok, out)
        self.assertEqual(self.accepted(log, "bob"), 1, log)
        self.assertIn("Scan this QR code", out)
        self.assertIn("\u2588", out)
        self.assertEqual(shown.get("issuer"), "Example Corp", shown)
        secret = shown["secret"]
        self.assertEqual(self.summary("bob", "totp_enrolled, fail_count, last_host"),
                         ["t", "0", "host_a@127.0.0.1"])

        # The recovery codes A made reach the client; one works on B, once
        # in the fleet: A refuses it after.
        codes = RECOVERY_RE.findall(out)
        self.assertEqual(len(codes), 10, out)
        steps = [("Password:", "pw-bob"), ("Verification code:", codes[7])]
        ok, seen, _, seen_log = self.ssh(b, "bob", steps)
        self.assertTrue(ok, seen)
        self.assertIn("A recovery code works here too", seen)
        ok, seen, _, seen_log = self.ssh(a, "bob", steps)
        self.assertFalse(ok, seen)
        self.assertEqual(self.failed(seen_log, "bob"), 1, seen_log)

        # The same secret on B, a later code from the app (the next step is
        # inside the window and newer than the step the enrollment spent).
        code_b = oathtool(secret, now_utc(30))
        t_b = int(time.time())
        ok, out, _, log = self.ssh(b, "bob", [("Password:", "pw-bob"),
                                              ("Verification code:", code_b)])
        self.assertTrue(ok, out)
        self.assertEqual(self.accepted(log, "bob"), 1, log)
        self.assertEqual(self.summary("bob"), ["0", "0", "sshd", "127.0.0.1", "host_b@127.0.0.1"])

        # B's code on A: the step is spent fleet-wide.  The replay counts
        # as a failure (as in the files backend) and is no login.
        ok, out, _, log = self.ssh(a, "bob", [("Password:", "pw-bob"),
                                              ("Verification code:", code_b)])
        self.assertFalse(ok, out)
        self.assertEqual(self.failed(log, "bob"), 1, log)
        self.assertEqual(self.summary("bob", "fail_count, locked_until, last_host"),
                         ["1", "0", "host_b@127.0.0.1"])

        # Failures on A and B add up to the server's lockout_attempts.  The
        # hosts' own pam_mfa.conf say lockout.attempts = 3 (mfatest's
        # default): with postgresql the lockout is the server's setting
        # (sql/README.md, store/pg.c), so the third failure does not lock.
        attempts = self.server_setting("lockout_attempts")
        self.assertEqual(attempts, 5)
        with open(a.w.config_path) as f:
            self.assertIn("attempts = 3", f.read())
        for n, host in enumerate([b, a, b, a], start=2):
            ok, out, _, log = self.ssh(host, "bob", [("Password:", "pw-bob"),
                                                     ("Verification code:", wrong_code(secret))])
            self.assertFalse(ok, out)
            self.assertEqual(self.failed(log, "bob"), 1, log)
            fails, locked = self.summary("bob", "fail_count, locked_until")
            self.assertEqual(int(fails), n, "failure %d, on %s" % (n, host.role))
            if n < attempts:
                self.assertEqual(locked, "0", "failure %d, on %s" % (n, host.role))
        self.assertGreater(int(locked), time.time())
        # Locked on both hosts: not even asked for a code, nothing counted.
        for host in (a, b):
            ok, out, _, log = self.ssh(host, "bob", [("Password:", "pw-bob"),
                                                     ("Verification code:",
                                                      oathtool(secret, now_utc(30)))])
            self.assertFalse(ok, out)
            self.assertNotIn("Verification code", out)
            self.assertEqual(self.failed(log, "bob"), 1, log)
        self.assertEqual(self.summary("bob", "fail_count"), [str(attempts)])

        # mfactl status with the administrator's configuration (admin1):
        # the last login (B's), the failures of both hosts, the lockout.
        proc = self.admin.w.mfactl("status", "--json", "bob")
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        row = json.loads(proc.stdout)
        row = row["users"][0] if isinstance(row, dict) and "users" in row else row
        row = row[0] if isinstance(row, list) else row
        self.assertEqual(row["user"], "bob", proc.stdout)
        self.assertEqual(row["last_login"]["service"], "sshd", proc.stdout)
        self.assertEqual(row["last_login"]["rhost"], "127.0.0.1", proc.stdout)
        self.assertLessEqual(abs(row["last_login"]["time"] - t_b), 5, proc.stdout)
        self.assertEqual(row["failures"], attempts, proc.stdout)
        self.assertTrue(row["locked"], proc.stdout)
        table = self.admin.w.mfactl("status", "bob")
        self.assertEqual(table.returncode, 0, table.stdout + table.stderr)
        # Which host it was: B's role and address.
        self.assertRegex(table.stdout, r"(?m)^bob\s+required\s+totp\s.*\s%d\s.*"
                         r"sshd from 127\.0\.0\.1 on host_b@127\.0\.0\.1$" % attempts)
        self.assertEqual(row["last_login"]["host"], "host_b@127.0.0.1", proc.stdout)
        print("mfactl status bob:\n" + table.stdout, flush=True)

    def test_2_exempt_logs_in_while_database_down(self):
        a, b = self.a, self.b
        secret = self.provision("alice")
        self.pg.stop()
        try:
            # By name (erin) and by the break-glass group (frank): the
            # password alone, on both hosts, and no word from the store.
            for host, user in ((a, "erin"), (b, "frank"), (b, "erin"), (a, "frank")):
                ok, out, took, log = self.ssh(host, user, [("Password:", "pw-" + user)])
                self.assertTrue(ok, "%s on %s: %s" % (user, host.role, out))
                self.assertNotIn("Verification code", out)
                self.assertEqual(self.accepted(log, user), 1, log)
                self.assertEqual(lines(log, "PWRAP_ERROR"), [], log)
            # An enrolled user under required is refused at once, with the
            # store's reason and the outcome in the log (LOG_ERR, which
            # pam_wrapper shows).
            ok, out, took, log = self.ssh(a, "alice", [("Password:", "pw-alice"),
                                                       ("Verification code:",
                                                        fresh_code(secret))])
            self.assertFalse(ok, out)
            self.assertNotIn("Verification code", out)
            self.assertLess(took, TIMEOUT + MARGIN, out)
            self.assertEqual(self.failed(log, "alice"), 1, log)
            self.assertEqual(len(lines(log, "SYSLOG(3): state store: postgresql: cannot connect",
                                       "Connection refused")), 1, log)
            self.assertEqual(len(lines(log, "SYSLOG(3): user=alice service=sshd",
                                       "outcome=error reason=store")), 1, log)
        finally:
            if not self.pg.started:
                self.pg.start()
        # Back: alice logs in on B.
        ok, out, _, log = self.ssh(b, "alice", [("Password:", "pw-alice"),
                                                ("Verification code:", fresh_code(secret))])
        self.assertTrue(ok, out)
        self.assertEqual(self.summary("alice", "last_host"), ["host_b@127.0.0.1"])


# --------------------------------------------------------------- the race


RACER = "ivan"


class FleetRace(FleetTest):
    RACERS = 16

    def test_one_code_sixteen_logins_two_hosts(self):
        secret = self.provision(RACER)
        hosts = [Host(self, "race%02d" % i, self.pg, pgrig.HOSTS[i % 2], timeout=BUSY_TIMEOUT)
                 for i in range(self.RACERS)]
        barrier = threading.Barrier(self.RACERS + 1, timeout=60)
        results = [None] * self.RACERS
        code = {}

        def at_prompt(prompt):
            # Every login has read the summary and holds its connection:
            # the answers go out together.
            barrier.wait()
            barrier.wait()
            return code["code"]

        def run(i):
            try:
                results[i] = hosts[i].login_at_prompt(RACER, at_prompt)
                if not results[i].prompted:
                    barrier.abort()
            except Exception as e:  # reported below, with the others
                results[i] = e
                barrier.abort()

        threads = [threading.Thread(target=run, args=(i,)) for i in range(self.RACERS)]
        for t in threads:
            t.start()
        try:
            barrier.wait()             # all 16 at the prompt
            code["code"] = fresh_code(secret)
            t0 = time.monotonic()
            barrier.wait()             # go
        except threading.BrokenBarrierError:
            barrier.abort()
            for t in threads:
                t.join(60)
            self.fail("not all %d logins reached the prompt: %r" % (self.RACERS, results))
        for t in threads:
            t.join(120)
        took = time.monotonic() - t0
        errors = [r for r in results if not hasattr(r, "pam")]
        self.assertEqual(errors, [], results)
        outcomes = [r.pam for r in results]
        self.assertEqual(outcomes.count("PAM_SUCCESS"), 1, results)
        self.assertEqual(outcomes.count("PAM_AUTH_ERR"), self.RACERS - 1, results)
        winner = next(i for i, r in enumerate(results) if r.pam == "PAM_SUCCESS")
        self.assertTrue(lines(results[winner].log, "user=" + RACER, "outcome=success"),
                        results[winner])
        # The first to take the user's row lock wins (all hold the same
        # fresh code); each after it finds the step spent: a replay, counted,
        # until the server's lockout, then locked (refused, not counted).
        attempts = self.server_setting("lockout_attempts")
        reasons = []
        for r in results:
            if r.pam == "PAM_AUTH_ERR":
                got = [m.group(1) for l in r.log for m in [re.search(r"reason=(\S+)", l)] if m]
                reasons.append(got[-1] if got else repr(r))
        self.assertEqual(sorted(reasons), sorted(["replayed-code"] * min(attempts, 15) +
                                                 ["locked"] * (15 - min(attempts, 15))), results)
        self.assertEqual(self.summary(RACER, "fail_count, last_host"),
                         [str(min(attempts, 15)),
                          "%s@127.0.0.1" % pgrig.HOSTS[winner % 2]])
        print("16 racing logins on two hosts in %.2f s: one success, %s" % (took, sorted(reasons)))


# --------------------------------------------------------------- faults


class StallingProxy:
    """A TCP proxy to the server that can go silent: cut() stops carrying
    bytes either way (both ends still connected, as in a network
    partition); heal() closes the connections that were cut, never
    delivering what they held, and carries new ones again."""

    def __init__(self, upstream_port):
        self.upstream = upstream_port
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(32)
        self.port = self.listener.getsockname()[1]
        self.cut_now = threading.Event()
        self.closing = threading.Event()
        self.lock = threading.Lock()
        self.pairs = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.closing.is_set():
            r, _, _ = select.select([self.listener], [], [], 0.1)
            if not r:
                continue
            client, _ = self.listener.accept()
            server = socket.create_connection(("127.0.0.1", self.upstream))
            with self.lock:
                self.pairs.append((client, server))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, client, server):
        other = {client: server, server: client}
        try:
            while not self.closing.is_set():
                if self.cut_now.is_set():
                    time.sleep(0.05)
                    continue
                r, _, _ = select.select([client, server], [], [], 0.05)
                if self.cut_now.is_set():
                    continue
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        return
                    other[s].sendall(data)
        except OSError:
            pass
        finally:
            client.close()
            server.close()

    def cut(self):
        self.cut_now.set()

    def heal(self):
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for c, s in pairs:
            for sock in (c, s):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self.cut_now.clear()

    def close(self):
        self.closing.set()
        self.heal()
        self.thread.join(5)
        self.listener.close()


class FleetFaults(FleetTest):
    def setUp(self):
        self.host = Host(self, self.id().split(".")[-1], self.pg, "host_a")

    def tearDown(self):
        if not self.pg.started:
            self.pg.start()

    def backends(self, role):
        return int(self.pg.one(pgrig.SUPER, "SELECT count(*) FROM pg_catalog.pg_stat_activity "
                                            "WHERE usename = '%s'" % role)[0])

    def test_server_stopped_mid_login(self):
        secret = self.provision("alice")
        code = fresh_code(secret)

        def stop(prompt):
            self.assertEqual(prompt, "Verification code: ")
            self.pg.stop()
            return code

        res = self.host.login_at_prompt("alice", stop)
        self.assertTrue(res.prompted, res)
        self.assertFailedClosed(res, "server stopped at the prompt")
        self.assertTrue(lines(res.log, "user=alice", "outcome=error", "reason=store-write"), res)
        self.pg.start()
        # Nothing was recorded: the same code now logs in.
        res = self.host.login("alice", [code])
        self.assertEqual(res.pam, "PAM_SUCCESS", res)
        self.assertEqual(self.summary("alice", "fail_count, last_host"), ["0", "host_a@127.0.0.1"])

    def test_server_restarted_mid_login(self):
        secret = self.provision("bob")
        code = fresh_code(secret)

        def restart(prompt):
            self.pg.restart()
            return code

        res = self.host.login_at_prompt("bob", restart)
        self.assertTrue(res.prompted, res)
        self.assertFailedClosed(res, "server restarted at the prompt")
        self.assertTrue(lines(res.log, "user=bob", "outcome=error", "reason=store-write"), res)
        res = self.host.login("bob", [code])
        self.assertEqual(res.pam, "PAM_SUCCESS", res)

    def test_server_unreachable(self):
        secret = self.provision("carol")
        closed = pgrig.free_port()     # nothing listens there
        self.host.configure(self.host.conninfo(port=closed))
        t0 = time.monotonic()
        res = self.host.login("carol", [fresh_code(secret)])
        res.took = time.monotonic() - t0
        self.assertFailedClosed(res, "closed port")
        self.assertNotIn("prompt", res.stdout)
        self.assertTrue(lines(res.log, "postgresql: cannot connect", "Connection refused"), res)
        self.host.configure()
        res = self.host.login("carol", [fresh_code(secret)])
        self.assertEqual(res.pam, "PAM_SUCCESS", res)

    def test_server_slow_row_locked(self):
        """The superuser holds dave's row (SELECT ... FOR UPDATE in an open
        transaction): verify_totp waits for the lock past store.timeout."""
        secret = self.provision("dave")
        code = fresh_code(secret)
        holder = subprocess.Popen(self.pg.psql_cmd(pgrig.SUPER), stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=self.pg.env())
        try:
            holder.stdin.write("BEGIN;\nSELECT user_name FROM pam_mfa.users "
                               "WHERE user_name = 'dave' FOR UPDATE;\n")
            holder.stdin.flush()
            for _ in range(100):
                if self.pg.one(pgrig.SUPER, "SELECT count(*) FROM pg_catalog.pg_stat_activity "
                                            "WHERE usename = '%s' AND state = 'idle in "
                                            "transaction'" % pgrig.SUPER) == ["1"]:
                    break
                time.sleep(0.05)
            else:
                self.fail("the superuser's transaction did not start: " + holder.stderr.read())
            res = self.host.login_at_prompt("dave", lambda prompt: code)
            self.assertTrue(res.prompted, res)
            self.assertFailedClosed(res, "row locked")
            self.assertGreaterEqual(res.took, TIMEOUT - 0.5, res)
            self.assertTrue(lines(res.log, "postgresql: ", "store.timeout") or
                            lines(res.log, "postgresql: ", "statement timeout"), res)
            # The server gave up the call too (statement_timeout): nobody
            # of host_a waits for the row any more.
            for _ in range(100):
                waiting = self.pg.one(pgrig.SUPER, "SELECT count(*) FROM "
                                      "pg_catalog.pg_stat_activity WHERE usename = 'host_a' "
                                      "AND wait_event_type = 'Lock'")
                if waiting == ["0"]:
                    break
                time.sleep(0.05)
            self.assertEqual(waiting, ["0"], "a cut-short call still waits on the server")
        finally:
            holder.stdin.close()       # psql ends: the transaction rolls back
            holder.wait(timeout=30)
            holder.stdout.close()
            holder.stderr.close()
        # The call that timed out changed nothing: the same code logs in.
        self.assertEqual(self.summary("dave", "fail_count"), ["0"])
        res = self.host.login("dave", [code])
        self.assertEqual(res.pam, "PAM_SUCCESS", res)

    def test_network_silent_mid_login(self):
        """Connected through a proxy that goes silent once the code is
        asked: no answer, no error, only store.timeout ends it."""
        secret = self.provision("grace")
        code = fresh_code(secret)
        proxy = StallingProxy(self.pg.port)
        self.addCleanup(proxy.close)
        self.host.configure(self.host.conninfo(port=proxy.port))

        def go_silent(prompt):
            proxy.cut()
            return code

        res = self.host.login_at_prompt("grace", go_silent)
        self.assertTrue(res.prompted, res)
        self.assertFailedClosed(res, "network silent")
        self.assertGreaterEqual(res.took, TIMEOUT - 0.5, res)
        self.assertTrue(lines(res.log, "postgresql: no answer within store.timeout"), res)
        proxy.heal()
        # The call never reached the server: the same code logs in through
        # the proxy, on a new connection.
        res = self.host.login("grace", [code])
        self.assertEqual(res.pam, "PAM_SUCCESS", res)


# --------------------------------------------------------------- failover


class FleetFailover(FleetTest):
    standby = True

    # libpq's polling API ignores connect_timeout (its documentation of
    # PQconnectPoll): store/pg.c tries the hosts one at a time, each for
    # connect_timeout, so a silent first host does not take all of
    # store.timeout.  A refused first host (test_1) fails over either way.
    def test_0_first_host_silent(self):
        """The first host of the conninfo is gone without a word (a machine
        powered off: its packets are dropped, nothing refuses), and the
        conninfo's connect_timeout says how long to give each host.  With
        store.timeout above it, the login should reach the second host.
        Runs first: it needs the primary up."""
        pg = self.pg
        links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True,
                               check=True).stdout.splitlines()
        self.assertEqual([l.split(":")[1].strip() for l in links], ["lo"],
                         "not in a private network namespace (unshare -n): refusing to add "
                         "a route")
        # In this namespace only: 10.9.9.0/24 goes to lo, where nothing has
        # those addresses, so every packet to 10.9.9.2 is dropped.
        subprocess.run(["ip", "route", "replace", "10.9.9.0/24", "dev", "lo"], check=True)
        conninfo = (f"host=10.9.9.2,127.0.0.1 port=5432,{pg.port} dbname=pam_mfa user=host_a "
                    f"sslmode=verify-full sslrootcert={pg.dir}/ca.crt connect_timeout=2 "
                    f"target_session_attrs=read-write")
        host = Host(self, "silent", pg, "host_a", conninfo=conninfo)
        host.w.write_config({
            "default_policy": '"required"', "rules": RULES,
            "store": '{ backend = "postgresql"; conninfo = "%s"; password_file = "%s"; '
                     'timeout = 6; }' % (conninfo, host.pwfile)})
        secret = self.provision("carol")
        t0 = time.monotonic()
        res = host.login("carol", [fresh_code(secret)])
        took = time.monotonic() - t0
        self.assertEqual(res.pam, "PAM_SUCCESS",
                         "no login through the second host after %.1f s with the first "
                         "silent (connect_timeout=2, store.timeout=6): %r" % (took, res))
        self.assertLess(took, 6 + MARGIN, res)
        self.assertGreaterEqual(took, 2 - 0.2, res)  # the first host had its 2 s

    def test_1_failover_to_promoted_standby(self):
        pg = self.pg
        multi = (f"host=127.0.0.1,127.0.0.1 port={pg.port},{pg.standby_port} dbname=pam_mfa "
                 f"user=host_a sslmode=verify-full sslrootcert={pg.dir}/ca.crt "
                 f"target_session_attrs=read-write")
        host = Host(self, "failover", pg, "host_a", conninfo=multi)
        secret = self.provision("alice")
        secret_b = self.provision("bob")
        code = fresh_code(secret)
        res = host.login("alice", [code])
        self.assertEqual(res.pam, "PAM_SUCCESS", res)
        # Synchronous: the step is on the standby once the login is in.
        step = pg.one(pgrig.SUPER, "SELECT last_step FROM pam_mfa.factors WHERE "
                      "user_name = 'alice' AND method = 'totp'")
        self.assertNotEqual(step, ["0"])
        self.assertEqual(pg.sql(pgrig.SUPER, "SELECT last_step FROM pam_mfa.factors WHERE "
                                "user_name = 'alice' AND method = 'totp'", port=pg.standby_port),
                         [step])
        # The standby listed first: read-write passes it over for the primary.
        host.configure(multi.replace(f"port={pg.port},{pg.standby_port}",
                                     f"port={pg.standby_port},{pg.port}"))
        res = host.login("bob", [fresh_code(secret_b)])
        self.assertEqual(res.pam, "PAM_SUCCESS", res)
        host.configure(multi)

        # The primary crashes.  Until the standby is promoted there is no
        # server that can record a login: logins fail closed.
        pg.stop("immediate")
        t0 = time.monotonic()
        res = host.login("alice", [oathtool(secret, now_utc(30))])
        took = time.monotonic() - t0
        self.assertEqual(res.pam, "PAM_AUTHINFO_UNAVAIL", res)
        self.assertLess(took, TIMEOUT + MARGIN, res)
        # Both hosts tried.  (Why the second was refused, "session is
        # read-only", is past the 200 characters store/pg.c keeps of
        # libpq's message, so the log does not say.)
        self.assertTrue(lines(res.log, "postgresql: cannot connect",
                              "port %d failed: Connection refused" % pg.port,
                              "port %d failed" % pg.standby_port), res)
        pg.promote()
        self.assertEqual(pg.sql(pgrig.SUPER, "SELECT pg_catalog.pg_is_in_recovery()",
                                port=pg.standby_port), [["f"]])
        # The first host is down: libpq goes on to the second.  The code
        # accepted before the failover is refused after it.
        t0 = time.monotonic()
        res = host.login("alice", [code])
        took = time.monotonic() - t0
        self.assertNotEqual(res.pam, "PAM_AUTHINFO_UNAVAIL",
                            "no connection to the promoted standby through the multi-host "
                            "conninfo (first host down): %r" % res)
        self.assertEqual(res.pam, "PAM_AUTH_ERR", res)
        self.assertEqual(len(lines(res.log, "user=alice", "outcome=failure",
                                   "reason=replayed-code")), 1, res)
        self.assertLess(took, TIMEOUT + MARGIN, res)
        # And logins go on: the app's next code.
        res = host.login("alice", [oathtool(secret, now_utc(30))])
        self.assertEqual(res.pam, "PAM_SUCCESS", res)
        self.assertEqual(pg.sql(pgrig.ADMIN, "SELECT fail_count, last_host FROM "
                                "pam_mfa.summary('alice')", port=pg.standby_port),
                         [["0", "host_a@127.0.0.1"]])


if __name__ == "__main__":
    unittest.main(verbosity=2)
