"""A throwaway PostgreSQL 15 for the pg suite: a cluster in a temporary
directory owned by the postgres user, on loopback only, TLS from a throwaway
CA, scram-sha-256 for every role, pam_mfa's migrations applied by a
non-superuser owner (through "mfactl db init" when the test has mfactl,
else with psql), and login roles for hosts and an administrator.  It is
stopped and its directory removed at the end, and the end checks both.
With standby=True a second server streams from the first (pg_basebackup -R)
as its synchronous standby, so that a commit the primary acknowledged is on
the standby too: what a failover test needs.

Never touches the machine's own clusters: its own data directory, port,
socket directory and configuration, nothing under /etc or /var."""

import csv
import io
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time

PG_BIN = "/usr/lib/postgresql/15/bin"
PSQL = "/usr/bin/psql"
SUPER = "mfa_super"  # the cluster's superuser: makes roles and the database
OWNER = "mfa_owner"  # owns the schema: its functions run with its rights
HOSTS = ("host_a", "host_b")
ADMIN = "admin1"
CERT_HOST = "host_cert"  # a host that logs in with a client certificate, no password
# A name the server's certificate holds too: tests that give the server a
# name (in a private /etc/hosts) check it against verify-full.
DB_NAME = "db.pam-mfa.test"
FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


# Version 8's summary() is a row per factor.  The tests that drive logins
# and mfactl ask for a user's state and what the factors amount to, by the
# names summary() had before (one app, one address): each is an aggregate
# over the user's rows, the user's own columns the same on every row.
SUMMARY_AGGREGATES = {
    "user_exists": "pg_catalog.bool_or(user_exists)",
    "code_pending": "pg_catalog.bool_or(code_pending)",
    "totp_enrolled": "COALESCE(pg_catalog.bool_or(method = 'totp'), false)",
    "email_address": "COALESCE(pg_catalog.max(dest) FILTER (WHERE method = 'email'), '')",
    "email_verified": "COALESCE(pg_catalog.bool_or(verified) FILTER (WHERE method = 'email'), "
                      "false)",
    "email_by_admin": "COALESCE(pg_catalog.bool_or(by_admin) FILTER (WHERE method = 'email'), "
                      "false)",
    "email_code_pending": "COALESCE(pg_catalog.bool_or(code_pending) "
                          "FILTER (WHERE code_factor = factor_id AND method = 'email'), false)",
}


def summary_sql(user, cols):
    """A query of summary() for user: one row of cols, each a user's column
    or one of SUMMARY_AGGREGATES."""
    parts = [SUMMARY_AGGREGATES.get(c.strip(), "pg_catalog.max(%s)" % c.strip())
             for c in cols.split(",")]
    return "SELECT %s FROM pam_mfa.summary('%s')" % (", ".join(parts), user.replace("'", "''"))


class PgError(Exception):
    def __init__(self, role, sql, stderr):
        super().__init__(f"psql as {role} failed: {stderr.strip()}\nSQL: {sql}")
        self.stderr = stderr


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


class Cluster:
    """sql_dir: the migrations.  standby: also a synchronous streaming
    standby (failover tests).  mfactl: applies the schema with "mfactl db
    init" (default $MFACTL; psql without).  For bench/pg: base_dir, where
    the cluster's directory goes (default: the system's temporary
    directory); settings, server settings that replace the defaults below
    (fsync is off unless asked for).  Roles also get in through the
    cluster's own socket directory (scram-sha-256 as over TCP).  clock:
    the server runs under libfaketime and its time is what set_clock()
    last wrote (the real time until then)."""

    def __init__(self, sql_dir, standby=False, mfactl=None, base_dir=None, settings=None,
                 unix_socket=True, clock=False):
        self.sql_dir = sql_dir
        self.clock = clock
        self._clock_lock = threading.Lock()  # tests log in from several threads
        self._clock_spec = None
        self.want_standby = standby
        # mfactl db init applies the schema when the test has mfactl.
        self.mfactl = mfactl if mfactl is not None else os.environ.get("MFACTL") or None
        self.base_dir = base_dir
        self.settings = {"fsync": "off", "max_connections": "60", **(settings or {})}
        if clock:
            # A frozen clock never lets autovacuum's schedule come due.
            self.settings["autovacuum"] = "off"
        self.unix_socket = unix_socket
        self.dir = None
        self.admin_dir = None
        self.started = False
        self.standby_started = False
        self.standby_data = None

    # ------------------------------------------------------------ set-up

    def __enter__(self):
        try:
            self._start()
        except BaseException:
            self._teardown()
            raise
        return self

    def __exit__(self, *exc):
        self._teardown()
        return False

    def _start(self):
        pg = pwd.getpwnam("postgres")
        self.dir = tempfile.mkdtemp(prefix="pam_mfa-pg-", dir=self.base_dir)
        os.chown(self.dir, pg.pw_uid, pg.pw_gid)
        os.chmod(self.dir, 0o711)  # postgres works here; root reads the CA
        self.port = free_port()
        self.standby_port = free_port() if self.want_standby else None
        self.passwords = {r: secrets.token_hex(16) for r in (SUPER, OWNER, ADMIN) + HOSTS}
        # mfactl's configuration and password files: root's, as it demands
        # (the cluster's directory is the postgres user's).
        self.admin_dir = tempfile.mkdtemp(prefix="pam_mfa-pgadm-")
        self._make_tls(pg)
        pwfile = os.path.join(self.dir, "pw")
        with open(pwfile, "w", opener=lambda p, f: os.open(p, f, 0o600)) as f:
            f.write(self.passwords[SUPER] + "\n")
        os.chown(pwfile, pg.pw_uid, pg.pw_gid)
        data = os.path.join(self.dir, "data")
        self.data = data
        self._as_postgres([f"{PG_BIN}/initdb", "-D", data, "-A", "scram-sha-256",
                           f"--pwfile={pwfile}", "-U", SUPER, "--no-sync", "-E", "UTF8",
                           "--locale=C"])
        os.unlink(pwfile)
        # Only TLS over loopback, scram everywhere; nothing else gets in.
        hba = os.path.join(data, "pg_hba.conf")
        with open(hba, "w") as f:
            f.write(f"hostssl all {CERT_HOST} 127.0.0.1/32 cert\n"
                    "hostssl all all 127.0.0.1/32 scram-sha-256\n"
                    "local all all scram-sha-256\n")
            if self.want_standby:
                f.write(f"hostssl replication {SUPER} 127.0.0.1/32 scram-sha-256\n")
        os.chown(hba, pg.pw_uid, pg.pw_gid)
        self.start()
        self._write_passfile()
        self.sql(SUPER, f"CREATE ROLE {OWNER} LOGIN CREATEROLE PASSWORD '{self.passwords[OWNER]}'",
                 db="postgres")
        self.sql(SUPER, f"CREATE DATABASE pam_mfa OWNER {OWNER}", db="postgres")
        self.migrate()
        for h in HOSTS:
            self.sql(SUPER, f"CREATE ROLE {h} LOGIN PASSWORD '{self.passwords[h]}' IN ROLE pam_mfa_host")
        self.sql(SUPER, f"CREATE ROLE {ADMIN} LOGIN PASSWORD '{self.passwords[ADMIN]}' IN ROLE pam_mfa_admin")
        self.sql(SUPER, f"CREATE ROLE {CERT_HOST} LOGIN IN ROLE pam_mfa_host")
        if self.want_standby:
            self._make_standby(pg)

    def _server_opts(self, port):
        # Both servers share the certificate (its name is 127.0.0.1) and
        # the socket directory (the socket's name holds the port).
        return " ".join([
            "-c listen_addresses=127.0.0.1", f"-c port={port}",
            f"-c unix_socket_directories={self.dir}", "-c ssl=on",
            f"-c ssl_cert_file={self.dir}/server.crt", f"-c ssl_key_file={self.dir}/server.key",
            f"-c ssl_ca_file={self.dir}/ca.crt",
        ] + [f"-c {k}={v}" for k, v in self.settings.items()])

    def _pg_ctl(self, data, *args):
        faked = []
        if self.clock:
            # The server's clock (every clock_timestamp() of the functions)
            # is read from clock_file at each call (FAKETIME_NO_CACHE);
            # the monotonic clock stays real, so that postgres' own waits
            # and timeouts keep working.
            self.clock_file = os.path.join(self.dir, "clock")
            if self._clock_spec is None:
                self.set_clock("+0 x1")
            faked = ["env", f"LD_PRELOAD={FAKETIME_LIB}",
                     f"FAKETIME_TIMESTAMP_FILE={self.clock_file}", "FAKETIME_NO_CACHE=1",
                     "FAKETIME_DONT_FAKE_MONOTONIC=1", "TZ=UTC"]
        return self._as_postgres(faked + [f"{PG_BIN}/pg_ctl", "-D", data, "-w", "-t", "60",
                                          *args])

    def set_clock(self, spec):
        """Sets the server's clock to a libfaketime specification, read by
        every server process at its next look at the time; replaced
        atomically, so no process reads half of it."""
        with self._clock_lock:
            if spec == self._clock_spec:
                return
            tmp = self.clock_file + ".new"
            with open(tmp, "w") as f:
                f.write(spec + "\n")
            os.chmod(tmp, 0o644)
            os.rename(tmp, self.clock_file)
            self._clock_spec = spec

    def start(self):
        """Starts the primary (again, after stop())."""
        self._pg_ctl(self.data, "-o", self._server_opts(self.port), "-l",
                     os.path.join(self.dir, "log"), "start")
        self.started = True

    def stop(self, mode="fast"):
        """Stops the primary: "fast" ends its sessions cleanly, "immediate"
        as a crash would (no shutdown checkpoint, sessions cut)."""
        self._pg_ctl(self.data, "-m", mode, "stop")
        self.started = False

    def restart(self, settings=None, mode="fast"):
        """Restarts the primary, with settings over the current ones (a
        value of None drops a setting)."""
        if settings:
            self.settings = {k: v for k, v in {**self.settings, **settings}.items()
                             if v is not None}
        self._pg_ctl(self.data, "-m", mode, "-o", self._server_opts(self.port), "-l",
                     os.path.join(self.dir, "log"), "restart")
        self.started = True

    def _make_standby(self, pg):
        """A copy of the primary by pg_basebackup -R, started on its own
        port, then named the primary's synchronous standby.  The name is
        set only after the copy is taken: a standby that inherited it would,
        once promoted, wait for a standby of its own at every commit."""
        # pg_basebackup runs as postgres, which cannot read our 0600 file.
        passfile = os.path.join(self.dir, "pgpass.postgres")
        with open(passfile, "w", opener=lambda p, f: os.open(p, f, 0o600)) as f:
            f.write(f"127.0.0.1:{self.port}:*:{SUPER}:{self.passwords[SUPER]}\n")
        os.chown(passfile, pg.pw_uid, pg.pw_gid)
        self.standby_data = os.path.join(self.dir, "standby")
        self._as_postgres([f"{PG_BIN}/pg_basebackup", "-R", "-c", "fast", "--no-sync",
                           "-D", self.standby_data, "-d",
                           f"host=127.0.0.1 port={self.port} user={SUPER} "
                           f"sslmode=verify-full sslrootcert={self.dir}/ca.crt "
                           f"passfile={passfile} application_name=standby1"])
        self._pg_ctl(self.standby_data, "-o", self._server_opts(self.standby_port), "-l",
                     os.path.join(self.dir, "standby.log"), "start")
        self.standby_started = True
        self.sql(SUPER, "ALTER SYSTEM SET synchronous_standby_names = 'standby1'",
                 db="postgres")
        self.sql(SUPER, "SELECT pg_catalog.pg_reload_conf()", db="postgres")
        for _ in range(200):
            rows = self.sql(SUPER, "SELECT sync_state FROM pg_catalog.pg_stat_replication "
                                   "WHERE application_name = 'standby1'", db="postgres")
            if rows == [["sync"]]:
                return
            time.sleep(0.05)
        raise AssertionError(f"the standby never became synchronous: {rows}")

    def promote(self):
        """Promotes the standby; waits until it takes writes."""
        self._pg_ctl(self.standby_data, "promote")

    def _as_postgres(self, cmd):
        return run(["runuser", "-u", "postgres", "--"] + cmd, cwd="/")

    def _make_tls(self, pg):
        d = self.dir
        # Clients under faketime (years ahead) check the certificates at
        # their time: then they are valid for a century.
        days = "36500" if self.clock else "2"
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", days,
             "-subj", "/CN=pam_mfa test CA", "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.crt"])
        run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", f"{d}/server.key", "-out", f"{d}/server.csr"])
        ext = f"{d}/server.ext"
        with open(ext, "w") as f:
            f.write(f"subjectAltName=IP:127.0.0.1,DNS:{DB_NAME}\n")
        run(["openssl", "x509", "-req", "-in", f"{d}/server.csr", "-CA", f"{d}/ca.crt",
             "-CAkey", f"{d}/ca.key", "-CAcreateserial", "-days", days, "-extfile", ext,
             "-out", f"{d}/server.crt"])
        # A client certificate for CERT_HOST (root's, as a host's would be).
        run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={CERT_HOST}",
             "-keyout", f"{d}/client.key", "-out", f"{d}/client.csr"])
        run(["openssl", "x509", "-req", "-in", f"{d}/client.csr", "-CA", f"{d}/ca.crt",
             "-CAkey", f"{d}/ca.key", "-CAcreateserial", "-days", days,
             "-out", f"{d}/client.crt"])
        os.chmod(f"{d}/client.key", 0o600)
        os.unlink(f"{d}/ca.key")  # nothing else is ever signed by it
        for name in ("server.key", "server.crt"):
            os.chown(f"{d}/{name}", pg.pw_uid, pg.pw_gid)
        os.chmod(f"{d}/server.key", 0o600)

    def _write_passfile(self):
        # Passwords reach psql through a 0600 file, never argv or environment.
        self.passfile = os.path.join(self.dir, "pgpass")
        with open(self.passfile, "w", opener=lambda p, f: os.open(p, f, 0o600)) as f:
            for role, pw in self.passwords.items():
                for port in (self.port, self.standby_port):
                    if port is not None:
                        f.write(f"127.0.0.1:{port}:*:{role}:{pw}\n")

    def socket_conninfo(self, role, db="pam_mfa"):
        """Through the cluster's unix socket: no TLS."""
        return f"host={self.dir} port={self.port} dbname={db} user={role} connect_timeout=10"

    def conninfo(self, role, db="pam_mfa", sslmode="verify-full", port=None):
        return (f"host=127.0.0.1 port={port or self.port} dbname={db} user={role} "
                f"sslmode={sslmode} sslrootcert={self.dir}/ca.crt connect_timeout=10")

    def psql_cmd(self, role, db="pam_mfa", extra=(), port=None):
        return [PSQL, "-X", "-q", "-t", "--csv", "-v", "ON_ERROR_STOP=1",
                *extra, self.conninfo(role, db, port=port)]

    def env(self):
        return {"PATH": "/usr/bin:/bin", "PGPASSFILE": self.passfile, "LC_ALL": "C",
                "PGCONNECT_TIMEOUT": "10"}

    def migrate(self):
        """Applies the schema: mfactl db init if there is mfactl, else psql."""
        if self.mfactl:
            proc = self.db_init()
            if proc.returncode != 0:
                raise AssertionError(f"mfactl db init failed: {proc.stdout}{proc.stderr}")
            return sorted(f for f in os.listdir(self.sql_dir) if f.endswith(".sql"))
        return self.psql_migrate()

    def psql_migrate(self):
        files = sorted(f for f in os.listdir(self.sql_dir) if f.endswith(".sql"))
        for name in files:
            run(self.psql_cmd(OWNER, extra=("--single-transaction", "-f",
                                            os.path.join(self.sql_dir, name))), env=self.env())
        return files

    def mfactl_config(self, role=OWNER, db="pam_mfa", timeout=10):
        """A configuration whose store is this database as role: its path."""
        pwfile = os.path.join(self.admin_dir, f"pw.{role}")
        with open(pwfile, "w", opener=lambda p, f: os.open(p, f, 0o600)) as f:
            f.write(self.passwords[role] + "\n")
        path = os.path.join(self.admin_dir, f"pam_mfa.{role}.{db}.conf")
        with open(path, "w", opener=lambda p, f: os.open(p, f, 0o600)) as f:
            f.write('store = { backend = "postgresql"; conninfo = "%s"; password_file = "%s"; '
                    'timeout = %d; };\n' % (self.conninfo(role, db), pwfile, timeout))
        return path

    def run_mfactl(self, *args, role=OWNER, db="pam_mfa", config=None):
        """mfactl with a configuration for role on db; the finished process."""
        env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C",
               "ASAN_OPTIONS": "verify_asan_link_order=0:detect_leaks=1",
               "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"}
        return subprocess.run([self.mfactl, "--config", config or self.mfactl_config(role, db)]
                              + list(args), capture_output=True, text=True, env=env, timeout=300)

    def db_init(self, sql_dir=None, db="pam_mfa", role=OWNER):
        return self.run_mfactl("db", "init", "--sql-dir", sql_dir or self.sql_dir, role=role,
                               db=db)

    # ------------------------------------------------------------ queries

    def sql(self, role, sql, db="pam_mfa", port=None):
        """Runs sql (read from stdin) as role, on the primary or the server
        on port; the rows, as lists of text."""
        p = subprocess.run(self.psql_cmd(role, db, port=port), input=sql, capture_output=True,
                           text=True, env=self.env())
        if p.returncode != 0:
            raise PgError(role, sql, p.stderr)
        return [row for row in csv.reader(io.StringIO(p.stdout)) if row]

    def one(self, role, sql):
        rows = self.sql(role, sql)
        if len(rows) != 1:
            raise AssertionError(f"expected one row, got {rows!r} from {sql}")
        return rows[0]

    # ------------------------------------------------------------ end

    def _teardown(self):
        problems = []
        servers = [(getattr(self, "data", None), self.started),
                   (self.standby_data, self.standby_started)]
        for data, started in servers:
            if data is None:
                continue
            if started:
                try:
                    self._pg_ctl(data, "-m", "fast", "stop")
                except subprocess.CalledProcessError as e:
                    problems.append(f"pg_ctl stop: {e.stderr}")
            pidfile = os.path.join(data, "postmaster.pid")
            if os.path.exists(pidfile):
                problems.append(f"{pidfile} still there after stop")
            # Nothing of ours left running: no process has our data directory.
            left = subprocess.run(["pgrep", "-u", "postgres", "-f", data],
                                  capture_output=True, text=True).stdout.split()
            if left:
                problems.append(f"processes left running: {left}")
        self.started = self.standby_started = False
        if self.admin_dir is not None:
            shutil.rmtree(self.admin_dir, ignore_errors=True)
            self.admin_dir = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            if os.path.exists(self.dir):
                problems.append(f"{self.dir} not removed")
            self.dir_removed = self.dir
            self.dir = None
        if problems:
            raise AssertionError("; ".join(problems))
