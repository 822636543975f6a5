#!/usr/bin/python3
"""How the postgresql store connects and what it logs, through the real PAM
stack (pamrun, pam_mfa.so) and a throwaway PostgreSQL 15 (pgrig.py):
failover to a second host, host names looked up within store.timeout (a
private /etc/hosts and /etc/resolv.conf, bind-mounted in this test's own
mount namespace, and a DNS server on loopback that never answers), a
password in store.conninfo refused, and no typed code in the log.

It moves itself into mount and network namespaces of its own before it
mounts or links anything, so that neither is ever the machine's."""
import base64
import ctypes
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mfatest  # noqa: E402
import pgrig  # noqa: E402
from mfatest import World  # noqa: E402
from realclock import fresh_code  # noqa: E402

SQL_DIR = os.environ["MFA_SQL_DIR"]
TIMEOUT = 3
SLOW_NAME = "slow.pam-mfa.test"  # asked of the DNS server that never answers


UNREACHABLE = "10.9.9.2"  # on a veth of our own where no neighbour answers


def private_namespaces():
    """Moves this process into a mount and a network namespace of its own
    (whatever it was started in), so that its mounts and links are nobody
    else's; False if that is not possible."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x00020000 | 0x40000000) != 0:  # CLONE_NEWNS | CLONE_NEWNET
        return False
    return all(subprocess.run(cmd).returncode == 0 for cmd in (
        ["mount", "--make-rprivate", "/"], ["ip", "link", "set", "lo", "up"]))


def make_unreachable():
    """UNREACHABLE's connects fail after a moment, not at once: the
    neighbour is asked once, 200 ms, and never answers (EHOSTUNREACH)."""
    for cmd in (["ip", "link", "add", "mfa0", "type", "veth", "peer", "name", "mfa1"],
                ["ip", "addr", "add", "10.9.9.1/24", "dev", "mfa0"],
                ["ip", "link", "set", "mfa0", "up"], ["ip", "link", "set", "mfa1", "up"]):
        subprocess.run(cmd, check=True)
    for name, value in (("ucast_solicit", "1"), ("mcast_solicit", "1"),
                        ("retrans_time_ms", "200")):
        with open(f"/proc/sys/net/ipv4/neigh/mfa0/{name}", "w") as f:
            f.write(value)


class PgConnect(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not private_namespaces():
            raise unittest.SkipTest("cannot make mount and network namespaces of its own")
        make_unreachable()
        cls.etc = tempfile.mkdtemp(prefix="pam_mfa-etc-")
        hosts = os.path.join(cls.etc, "hosts")
        with open(hosts, "w") as f:
            f.write(f"127.0.0.1 localhost\n127.0.0.1 {pgrig.DB_NAME}\n")
        resolv = os.path.join(cls.etc, "resolv.conf")
        with open(resolv, "w") as f:
            # Long enough that a lookup libpq makes itself would hold a
            # login far past store.timeout.
            f.write("nameserver 127.0.0.1\noptions timeout:30 attempts:1\n")
        for path in (hosts, resolv):
            os.chmod(path, 0o644)
        subprocess.run(["mount", "--bind", hosts, "/etc/hosts"], check=True)
        subprocess.run(["mount", "--bind", resolv, "/etc/resolv.conf"], check=True)
        # A DNS server that takes every question and answers none.
        cls.dns = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM), socket.socket()]
        for s in cls.dns:
            s.bind(("127.0.0.1", 53))
        cls.dns[1].listen(16)
        cls.pg = pgrig.Cluster(SQL_DIR).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.pg.__exit__(None, None, None)
        for s in cls.dns:
            s.close()
        subprocess.run(["umount", "/etc/resolv.conf"], check=True)
        subprocess.run(["umount", "/etc/hosts"], check=True)
        for name in os.listdir(cls.etc):
            os.unlink(os.path.join(cls.etc, name))
        os.rmdir(cls.etc)

    def setUp(self):
        self.w = World(self.id().split(".")[-1])
        self.pwfile = os.path.join(self.w.root, "pgpass")
        with open(self.pwfile, "w", opener=lambda p, f: os.open(p, f, 0o600)) as f:
            f.write(self.pg.passwords["host_a"] + "\n")

    def tearDown(self):
        self.w.cleanup()

    def configure(self, conninfo):
        self.w.write_config({
            "default_policy": '"required"',
            "store": '{ backend = "postgresql"; conninfo = "%s"; password_file = "%s"; '
                     'timeout = %d; }' % (conninfo, self.pwfile, TIMEOUT),
        })

    def conninfo(self, host="127.0.0.1", port=None, extra=""):
        port = self.pg.port if port is None else port
        return (f"host={host} port={port} dbname=pam_mfa user=host_a sslmode=verify-full "
                f"sslrootcert={self.pg.dir}/ca.crt {extra}").strip()

    def provision(self, user):
        raw = secrets.token_bytes(20)
        got = self.pg.one(pgrig.ADMIN, "SELECT pam_mfa.provision_totp('%s', '\\x%s'::bytea, "
                          "'sha1', 6, 30, 0, NULL, 'replace')" % (user, raw.hex()))
        self.assertIn(got, (["provisioned"], ["replaced"]))
        return base64.b32encode(raw).decode().rstrip("=")

    def timed_login(self, user, answers):
        t0 = time.monotonic()
        res = self.w.login(user, answers, at=None)
        return res, time.monotonic() - t0

    # ------------------------------------------------------------ failover

    def test_failover_to_second_host(self):
        """host=a,b with nothing listening on a: libpq moves on to b, and
        the login is done within store.timeout."""
        secret = self.provision("alice")
        closed = pgrig.free_port()
        self.configure(self.conninfo("127.0.0.1,127.0.0.1", f"{closed},{self.pg.port}"))
        res, took = self.timed_login("alice", [fresh_code(secret)])
        self.assertEqual(res.pam, "PAM_SUCCESS", res)
        self.assertLess(took, TIMEOUT + 5, res)
        # The same with the names of both, looked up by the module
        # (localhost is not in the certificate, but it is not reached).
        secret = self.provision("erin")
        self.configure(self.conninfo(f"localhost,{pgrig.DB_NAME}", f"{closed},{self.pg.port}"))
        res, took = self.timed_login("erin", [fresh_code(secret)])
        self.assertEqual(res.pam, "PAM_SUCCESS", res)
        self.assertLess(took, TIMEOUT + 5, res)

    def test_failover_from_unreachable_host(self):
        """host=a,b where a's connect fails a moment later, not at once
        (no route answer, a RST from afar): libpq sees it only if polled
        once the socket is writable, and then moves on to b.  Polled
        before, it takes the connect for made and gives up on every host
        when the startup packet cannot be sent."""
        secret = self.provision("carol")
        self.configure(self.conninfo(f"{UNREACHABLE},127.0.0.1", f"{self.pg.port}"))
        res, took = self.timed_login("carol", [fresh_code(secret)])
        self.assertEqual(res.pam, "PAM_SUCCESS", res)
        self.assertLess(took, TIMEOUT + 5, res)

    def test_silent_first_host_bounded(self):
        """A first host that drops the connection's packets (a listener
        whose queue is full: the kernel drops further SYNs, as a firewall
        would) holds the login no longer than store.timeout.  Polled before
        its socket is writable, libpq takes the connect for done and blocks
        in its own wait for the TCP timeout, minutes."""
        secret = self.provision("alice")
        full = socket.socket()
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        fillers = []
        try:
            for _ in range(3):
                c = socket.socket()
                c.setblocking(False)
                c.connect_ex(full.getsockname())
                fillers.append(c)
            time.sleep(0.2)
            self.configure(self.conninfo("127.0.0.1,127.0.0.1",
                                         f"{full.getsockname()[1]},{self.pg.port}"))
            res, took = self.timed_login("alice", [fresh_code(secret)])
        finally:
            for c in fillers:
                c.close()
            full.close()
        self.assertLess(took, TIMEOUT + 5, res)
        # libpq's asynchronous connect has no timeout of its own per host:
        # the whole of store.timeout goes to the silent one.
        self.assertEqual(res.pam, "PAM_AUTHINFO_UNAVAIL", res)
        self.assertTrue(any("no connection within store.timeout" in l for l in res.log), res)

    # ------------------------------------------------------------ names

    def test_host_name_keeps_verify_full(self):
        """A name is looked up by the module and given to libpq as
        hostaddr, and verify-full still checks the certificate against
        the name."""
        secret = self.provision("bob")
        self.configure(self.conninfo(pgrig.DB_NAME))
        res = self.w.login("bob", [fresh_code(secret)], at=None)
        self.assertEqual(res.pam, "PAM_SUCCESS", res)
        # localhost is 127.0.0.1 too, but the certificate does not name it.
        self.configure(self.conninfo("localhost"))
        res = self.w.login("bob", [fresh_code(secret)], at=None)
        self.assertEqual(res.pam, "PAM_AUTHINFO_UNAVAIL", res)
        self.assertTrue(any("localhost" in l and "certificate" in l for l in res.log), res)

    def test_dns_lookup_bounded(self):
        """A DNS server that never answers holds a login no longer than
        store.timeout."""
        self.provision("carol")
        self.configure(self.conninfo(SLOW_NAME))
        res, took = self.timed_login("carol", ["123456"])
        self.assertEqual(res.pam, "PAM_AUTHINFO_UNAVAIL", res)
        self.assertLess(took, TIMEOUT + 5, res)
        self.assertTrue(any(f"no address for {SLOW_NAME} within store.timeout" in l
                            for l in res.log), res)
        # mfactl is bounded the same way.
        t0 = time.monotonic()
        proc = self.w.mfactl("status")
        self.assertNotEqual(proc.returncode, 0, proc.stderr)
        self.assertLess(time.monotonic() - t0, TIMEOUT + 5, proc.stderr)

    # ------------------------------------------------------------ password

    def test_password_in_conninfo_refused(self):
        secret = self.provision("dave")
        pw = self.pg.passwords["host_a"]
        for conninfo in (self.conninfo(extra=f"password={pw}"),
                         f"postgresql://host_a:{pw}@127.0.0.1:{self.pg.port}/pam_mfa"
                         f"?sslmode=verify-full&sslrootcert={self.pg.dir}/ca.crt"):
            self.configure(conninfo)
            res = self.w.login("dave", [fresh_code(secret)], at=None)
            self.assertEqual(res.pam, "PAM_AUTHINFO_UNAVAIL", res)
            self.assertTrue(any("store.conninfo must not hold a password" in l and
                                "store.password_file" in l for l in res.log), res)
            self.assertFalse(any(pw in l for l in res.log), res)
            proc = self.w.mfactl("status")
            self.assertNotEqual(proc.returncode, 0)
            self.assertIn("must not hold a password", proc.stderr)
            self.assertNotIn(pw, proc.stderr + proc.stdout)
        # A conninfo libpq cannot parse is refused without being quoted.
        self.configure(self.conninfo(extra="password='unterminated-secret"))
        res = self.w.login("dave", [fresh_code(secret)], at=None)
        self.assertEqual(res.pam, "PAM_AUTHINFO_UNAVAIL", res)
        self.assertTrue(any("not a valid libpq connection string" in l for l in res.log), res)
        self.assertFalse(any("unterminated-secret" in l for l in res.log), res)
        # An empty password is no secret, and the file's is used.
        self.configure(self.conninfo(extra="password="))
        self.assertEqual(self.w.login("dave", [fresh_code(secret)], at=None).pam, "PAM_SUCCESS")

    # ------------------------------------------------------------ log

    def login_bytes(self, user, data, rhost=None):
        """A login whose answers (and rhost) are raw bytes, not text."""
        logfile = os.path.join(self.w.root, "syslog.bytes")
        argv = ["unshare", "-m", "--propagation", "private", "/usr/bin/python3",
                mfatest.SYSLOG_NS, logfile] + mfatest.VALGRIND + [
                mfatest.PAMRUN, "--confdir", self.w.pamd, "--service", "pam_mfa_test",
                "--user", user]
        if rhost is not None:
            argv += ["--rhost", rhost]
        proc = subprocess.run(argv, input=data, capture_output=True, env=self.w.env(None),
                              timeout=180)
        with open(logfile, encoding="utf-8", errors="replace") as f:
            log = f.read().splitlines()
        stdout = proc.stdout.decode("utf-8", "replace")
        stderr = proc.stderr.decode("utf-8", "replace")
        self.assertNotIn("Sanitizer", stderr)
        m = re.search(r"^result: (\S+)$", stdout, re.M)
        return (m.group(1) if m else None), log, stdout + stderr

    def assert_not_logged(self, typed, log):
        text = "\n".join(log)
        for part in re.split(rb"[^ -~]", typed):
            if len(part) >= 3:
                self.assertNotIn(part.decode(), text)
        # The server quotes a bad sequence as hex: none of it either.
        for b in typed:
            self.assertNotIn("0x%02x" % b, text)
        self.assertNotIn("invalid byte sequence", text)

    def test_typed_code_not_logged(self):
        """A password typed in Latin-1 at the code prompt, say: the
        database's encoding cannot take it, and it failed the call, whose
        error quoted its bytes in the log.  It is a wrong code now, counted
        as in the files backend, and nothing of it is logged."""
        self.provision("erin")
        self.configure(self.conninfo())
        typed = b"ZQXJ\xe9VWKY"
        pam, log, out = self.login_bytes("erin", typed + b"\n")
        self.assertEqual(pam, "PAM_AUTH_ERR", out)
        self.assert_not_logged(typed, log)
        self.assertEqual(self.pg.one(pgrig.ADMIN, "SELECT fail_count FROM "
                                     "pam_mfa.summary('erin')"), ["1"])
        # An rhost the database could not take is kept as the files
        # backend keeps it: printable ASCII.
        secret = self.provision("erin")
        rhost = b"h\xe9st.example"
        pam, log, out = self.login_bytes("erin", (fresh_code(secret) + "\n").encode(), rhost)
        self.assertEqual(pam, "PAM_SUCCESS", out)
        self.assertEqual(self.pg.one(pgrig.ADMIN, "SELECT last_rhost FROM "
                                     "pam_mfa.summary('erin')"), ["h?st.example"])

    def test_call_error_in_our_words(self):
        """A call the server refuses is logged by its SQLSTATE and our
        words for it, never the server's text (which may quote arguments)."""
        secret = self.provision("alice")
        self.configure(self.conninfo())
        self.pg.sql(pgrig.SUPER, "REVOKE pam_mfa_host FROM host_a")
        try:
            res = self.w.login("alice", [fresh_code(secret)], at=None)
        finally:
            self.pg.sql(pgrig.SUPER, "GRANT pam_mfa_host TO host_a")
        self.assertEqual(res.pam, "PAM_AUTHINFO_UNAVAIL", res)
        self.assertTrue(any("postgresql: summary: permission denied (is the login role "
                            "granted pam_mfa_host or pam_mfa_admin?) (SQLSTATE 42501)" in l
                            for l in res.log), res)
        self.assertFalse(any("permission denied for" in l for l in res.log), res)


if __name__ == "__main__":
    unittest.main(verbosity=2)
