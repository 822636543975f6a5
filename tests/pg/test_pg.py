#!/usr/bin/python3
"""pam_mfa's SQL (sql/*.sql) on a real PostgreSQL 15: the TOTP code against
RFC 6238 and oathtool, the rights of the hosts' role, verification with its
replay step and lockout, enrollment on a basis, a race, codes sent by email
and SMS, several factors per user, resets, the proof a host's change of a
user's factors needs, the import of a user's factors, the upgrade of a
version 7 database to the factors of version 8, recovery and bypass codes
(version 9) and the upgrade from version 8, and the rights check of
mfactl db check (its query, read from store/pg_admin.c).  Each test starts
its own throwaway server (pgrig.py).  Usage: test_pg.py TEST."""

import hashlib
import hmac
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgrig  # noqa: E402
from pgrig import ADMIN, OWNER, SUPER, PgError  # noqa: E402

SQL_DIR = os.environ.get("MFA_SQL_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "sql")
SRC_DIR = os.path.join(os.path.dirname(os.path.abspath(SQL_DIR)))
HOST_A, HOST_B = pgrig.HOSTS


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def expect_error(fn, needle):
    try:
        fn()
    except PgError as e:
        check(needle in e.stderr, f"expected an error with {needle!r}, got {e.stderr.strip()!r}")
        return
    raise AssertionError(f"expected an error with {needle!r}, got none")


def oathtool(secret, t, algorithm="sha1", digits=6, period=30):
    return subprocess.run(["oathtool", f"--totp={algorithm}", "-d", str(digits), "-s", str(period),
                           "-N", f"@{t}", secret.hex()],
                          check=True, capture_output=True, text=True).stdout.strip()


def lit(b):
    return f"'\\x{b.hex()}'::bytea"


def quote(s):
    return "NULL" if s is None else "'" + s.replace("'", "''") + "'"


def provision(pg, user, secret, algorithm="sha1", digits=6, period=30, last_step=0, label=None,
              mode="new"):
    return pg.one(ADMIN, f"SELECT pam_mfa.provision_totp('{user}', {lit(secret)}, '{algorithm}', "
                         f"{digits}, {period}, {last_step}, {quote(label)}, '{mode}')")[0]


def provision_dest(pg, user, method, dest, label=None, mode="new"):
    return pg.one(ADMIN, f"SELECT pam_mfa.provision_dest('{user}', '{method}', {quote(dest)}, "
                         f"{quote(label)}, '{mode}')")[0]


def verify(pg, role, user, code, service="sshd", rhost="192.0.2.7"):
    """verify_totp: outcome, fail_count, locked_now, step (and .factor on
    the tuple's fifth)."""
    o, n, locked, step, _ = verify5(pg, role, user, code, service, rhost)
    return o, n, locked, step


def verify5(pg, role, user, code, service="sshd", rhost="192.0.2.7"):
    o, n, locked, step, fid = pg.one(role, f"SELECT * FROM pam_mfa.verify_totp('{user}', "
                                           f"'{code}', '{service}', '{rhost}')")
    return o, int(n), locked == "t", int(step), int(fid)


def enroll_totp(pg, user, version, secret, code, alg="sha1", digits=6, period=30, label=None,
                replaces=0, role=HOST_A):
    o, n, _, step, fid = pg.one(role, f"SELECT * FROM pam_mfa.enroll_totp('{user}', {version}, "
                                      f"{lit(secret)}, '{alg}', {digits}, {period}, "
                                      f"{quote(label)}, {replaces}, '{code}', 'login', "
                                      "'h.example')")
    return o, int(n), int(step), int(fid)


USER_COLUMNS = ("user_exists fail_count locked_until last_login last_service last_rhost "
                "last_host skip_since factors_version code_pending code_factor "
                "code_expires").split()
FACTOR_COLUMNS = ("id method label dest verified by_admin added last_used totp_algorithm "
                  "totp_digits totp_period").split()


def summary(pg, user, role=HOST_A):
    """summary(): the user's columns, with "factors" the list of factors
    (dicts), in the order of their ids."""
    rows = pg.sql(role, f"SELECT * FROM pam_mfa.summary('{user}')")
    check(len(rows) >= 1, f"summary: {rows}")
    s = dict(zip(USER_COLUMNS, rows[0][:len(USER_COLUMNS)]))
    s["factors"] = []
    for r in rows:
        check(dict(zip(USER_COLUMNS, r[:len(USER_COLUMNS)])) == {k: s[k] for k in USER_COLUMNS},
              f"the user's columns are the same on every row: {rows}")
        f = dict(zip(FACTOR_COLUMNS, r[len(USER_COLUMNS):]))
        if f["id"] != "":
            s["factors"].append(f)
        else:
            check(len(rows) == 1, f"no factor: one row {rows}")
    return s


def factor(pg, user, method, dest=None, verified=True, label=None):
    """The id of the user's factor of method (and dest, label)."""
    for f in summary(pg, user)["factors"]:
        if (f["method"] == method and (dest is None or f["dest"] == dest)
                and (f["verified"] == "t") == verified and (label is None or f["label"] == label)):
            return int(f["id"])
    raise AssertionError(f"no {method} factor {dest} of {user}: {summary(pg, user)}")


def methods(pg, user):
    return sorted((f["method"], f["dest"], f["verified"]) for f in summary(pg, user)["factors"])


def owner_value(pg, sql):
    return pg.one(OWNER, sql)[0]


def last_step(pg, user, fid):
    return int(owner_value(pg, f"SELECT last_step FROM pam_mfa.factors WHERE user_name = '{user}' "
                               f"AND id = {fid}"))


def code_now(secret, **kw):
    return oathtool(secret, int(time.time()), **kw)


def wrong_code(secret, digits=6, period=30):
    """A code that matches no step of the window around now."""
    now = int(time.time())
    near = {oathtool(secret, now + d * period, digits=digits, period=period) for d in range(-3, 4)}
    while True:
        c = "".join(random.choice("0123456789") for _ in range(digits))
        if c not in near:
            return c


def settle_step():
    """Waits out the end of a step, so that a code taken now stays in it."""
    if time.time() % 30 > 26:
        time.sleep(30 - time.time() % 30 + 0.3)


# ------------------------------------------------------------------ sent codes

def book(pg, user, use="login", version=None, method="email", fid=None, dest=None, role=HOST_A):
    v = "NULL" if version is None else str(version)
    f = "NULL" if fid is None else str(fid)
    r = pg.one(role, f"SELECT * FROM pam_mfa.code_book('{user}', '{use}', {v}, '{method}', {f}, "
                     f"{quote(dest)})")
    keys = ("result", "wait", "sending", "booked_at", "record_existed", "enroll_codes",
            "enroll_codes_since")
    b = dict(zip(keys, r))
    for k in ("wait", "booked_at", "enroll_codes", "enroll_codes_since"):
        b[k] = int(b[k])
    for k in ("sending", "record_existed"):
        b[k] = b[k] == "t"
    b.update(use=use, method=method, fid=fid, dest=dest)
    return b


def sent(pg, user, b, code, version=None, role=HOST_A):
    v = "NULL" if version is None else str(version)
    f = "NULL" if b["fid"] is None else str(b["fid"])
    return pg.one(role, f"SELECT pam_mfa.code_sent('{user}', '{b['use']}', {v}, '{b['method']}', "
                        f"{f}, {quote(b['dest'])}, '{code}', {b['booked_at']})")[0]


def unbook(pg, user, b, role=HOST_A):
    pg.sql(role, f"SELECT pam_mfa.code_unbook('{user}', '{b['use']}', {b['booked_at']}, "
                 f"{str(b['record_existed']).lower()}, {b['enroll_codes']}, "
                 f"{b['enroll_codes_since']})")


def verify_sent(pg, user, code, fid, role=HOST_A):
    o, n, locked, got = pg.one(role, f"SELECT * FROM pam_mfa.verify_sent('{user}', '{code}', "
                                     f"{fid}, 'sshd', '198.51.100.4')")
    check(got == (str(fid) if o == "ok" else "0"), f"verify_sent's factor: {got}")
    return o, int(n), locked == "t"


def enroll_sent(pg, user, version, code, dest, method="email", label=None, replaces=0,
                role=HOST_A):
    o, n, locked, fid = pg.one(role, f"SELECT * FROM pam_mfa.enroll_sent('{user}', {version}, "
                                     f"'{method}', {quote(dest)}, {quote(label)}, {replaces}, "
                                     f"'{code}', 'login', 'h.example')")
    check((fid != "0") == (o == "ok"), f"enroll_sent's factor {fid} for {o}")
    return o, int(n), locked == "t"


def send_code(pg, user, use="login", version=None, method="email", fid=None, dest=None,
              role=HOST_A):
    """A code booked and sent, as a host does it; the code."""
    b = book(pg, user, use, version, method, fid, dest, role=role)
    check(b["result"] == "ok", f"booked: {b}")
    code = "".join(random.choice("0123456789") for _ in range(6))
    check(sent(pg, user, b, code, version, role=role) == "ok", "sent")
    return code


def age(pg, user, seconds):
    """Moves the user's code times back: as if seconds had passed."""
    iv = f"pg_catalog.make_interval(secs => {seconds})"
    pg.sql(OWNER, f"UPDATE pam_mfa.users SET booked_at = booked_at - {iv}, "
                  f"code_sent_at = code_sent_at - {iv}, "
                  f"enroll_codes_since = enroll_codes_since - {iv}, "
                  f"proved_at = proved_at - {iv} WHERE user_name = '{user}';\n"
                  f"UPDATE pam_mfa.pending_code SET expires = expires - {iv} "
                  f"WHERE user_name = '{user}'")


def other_code(code):
    return f"{(int(code) + 1) % 1000000:06d}"


def version_of(pg, user):
    return summary(pg, user)["factors_version"]


# ------------------------------------------------------------------ tests

RFC6238_SEEDS = {
    "sha1": b"12345678901234567890",
    "sha256": b"12345678901234567890123456789012",
    "sha512": b"1234567890" * 6 + b"1234",
}
RFC6238 = [  # RFC 6238, appendix B
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


def test_totp_vectors(pg):
    n = 0
    for t, *codes in RFC6238:
        for alg, code in zip(("sha1", "sha256", "sha512"), codes):
            seed = RFC6238_SEEDS[alg]
            for digits in (8, 7, 6):
                got = owner_value(pg, f"SELECT pam_mfa.totp_code({lit(seed)}, {t // 30}, "
                                      f"'{alg}', {digits})")
                check(got == code[8 - digits:], f"{alg} T={t} digits={digits}: {got} != {code}")
                n += 1
    for bad in ("'md5', 6", "'sha1', 5", "'sha1', 9"):
        expect_error(lambda: owner_value(pg, f"SELECT pam_mfa.totp_code('\\x00'::bytea, 1, {bad})"),
                     "TOTP")
    expect_error(lambda: owner_value(pg, "SELECT pam_mfa.totp_code('\\x00'::bytea, -1, 'sha1', 6)"),
                 "negative")
    print(f"ok: {n} RFC 6238 codes")


def test_totp_oathtool(pg):
    rng = random.Random(int(os.environ.get("MFA_PG_SEED", time.time())))
    cases = []
    for _ in range(40):
        alg = rng.choice(("sha1", "sha256", "sha512"))
        secret = bytes(rng.randrange(256) for _ in range(rng.randrange(10, 65)))
        t = rng.randrange(0, 2 ** 34)
        digits = rng.choice((6, 7, 8))
        period = rng.choice((10, 30, 60, 300))
        cases.append((alg, secret, t, digits, period))
    values = ", ".join(f"({i}, {lit(s)}, {t // p}, '{a}', {d})"
                       for i, (a, s, t, d, p) in enumerate(cases))
    rows = pg.sql(OWNER, f"SELECT i, pam_mfa.totp_code(s, st, a, d) FROM (VALUES {values}) "
                         "AS v(i, s, st, a, d) ORDER BY i")
    check(len(rows) == len(cases), "one code per case")
    for (i, got), (alg, secret, t, digits, period) in zip(rows, cases):
        want = oathtool(secret, t, alg, digits, period)
        check(got == want, f"case {i} {alg} t={t} d={digits} p={period}: sql {got}, oathtool {want}")
    print(f"ok: {len(cases)} random codes agree with oathtool")



def test_host_rights(pg):
    tables = [r[0] for r in pg.sql(OWNER, "SELECT tablename FROM pg_catalog.pg_tables "
                                          "WHERE schemaname = 'pam_mfa' ORDER BY 1")]
    check(set(tables) == {"users", "factors", "pending_code", "settings", "schema_version",
                          "recovery_sets", "recovery_codes", "bypass_codes"},
          f"tables: {tables}")
    provision(pg, "alice", os.urandom(20))
    # A pending code, so that a read would show its hash.
    pg.sql(ADMIN, "SELECT pam_mfa.code_by_admin('alice', 'email', 'alice@example.org', '123456', "
                  "false)")
    check(owner_value(pg, "SELECT count(*) FROM pam_mfa.pending_code") == "1", "a hash to hide")
    for role in (HOST_A, ADMIN):
        for t in tables:
            for stmt in (f"SELECT * FROM pam_mfa.{t}",
                         f"UPDATE pam_mfa.{t} SET user_name = user_name"
                         if t in ("users", "factors", "pending_code", "recovery_sets",
                                  "recovery_codes", "bypass_codes")
                         else f"DELETE FROM pam_mfa.{t}",
                         f"INSERT INTO pam_mfa.{t} DEFAULT VALUES",
                         f"TRUNCATE pam_mfa.{t}"):
                expect_error(lambda: pg.sql(role, stmt), "permission denied")
        expect_error(lambda: pg.sql(role, "SELECT pg_catalog.nextval('pam_mfa.factors_version_seq')"),
                     "permission denied")
        expect_error(lambda: pg.sql(role, "SELECT pam_mfa_crypto.hmac('a', 'b', 'sha1')"),
                     "permission denied")
        expect_error(lambda: pg.sql(role, "CREATE TABLE pam_mfa.mine (x int)"), "permission denied")
        for helper in ("pam_mfa.totp_code('\\x00'::bytea, 1, 'sha1', 6)",
                       "pam_mfa.count_failure('alice', now())",
                       "pam_mfa.note_login('alice', now(), 's', 'r')",
                       "pam_mfa.lock_user('alice', true)",
                       "pam_mfa.record_login('alice', now(), 's', 'r')",
                       "pam_mfa.email_code_hash('\\x00'::bytea, '123456')",
                       "pam_mfa.set_pending_code('alice', 1, 'email', '123456', now())",
                       "pam_mfa.note_proof('alice', 'totp', now())",
                       "pam_mfa.proof_holds('alice', now())",
                       "pam_mfa.new_factor_id('alice')",
                       "pam_mfa.new_basis('alice')",
                       "pam_mfa.set_recovery('alice', '{abcdefghjkmn}', 'admin', now())",
                       "pam_mfa.holds_verified('alice')",
                       "pam_mfa_crypto.gen_random_bytes(16)"):
            expect_error(lambda: pg.sql(role, f"SELECT {helper}"), "permission denied")
    for admin_only in ("pam_mfa.provision_totp('mallory', '\\x00112233445566778899'::bytea, "
                       "'sha1', 6, 30, 0, NULL, 'replace')",
                       "pam_mfa.reset('alice', NULL, NULL)", "pam_mfa.reset_all()",
                       "pam_mfa.unlock('alice')", "pam_mfa.list()", "pam_mfa.summaries()",
                       "pam_mfa.provision_dest('alice', 'email', 'eve@example.org', NULL, "
                       "'replace')",
                       "pam_mfa.code_by_admin('alice', 'email', 'eve@example.org', '123456', true)",
                       "pam_mfa.set_settings(p_lockout_attempts => 1000)",
                       "pam_mfa.import_user('alice', '[]', 1, true)",
                       "pam_mfa.recovery_admin('alice', '{abcdefghjkmn}', 'admin')",
                       "pam_mfa.bypass_new('alice', 'abcdefghjkmn', 1, 4102444800)",
                       "pam_mfa.bypass_revoke('alice')"):
        expect_error(lambda: pg.sql(HOST_A, f"SELECT {admin_only}"), "permission denied")
    for host_only in ("pam_mfa.verify_totp('alice', '123456', 's', 'r')",
                      "pam_mfa.skip('alice', 0, true)",
                      "pam_mfa.code_book('alice', 'enroll', 0, 'email', NULL, 'eve@example.org')",
                      "pam_mfa.code_sent('alice', 'login', NULL, 'email', 2, NULL, '123456', 1)",
                      "pam_mfa.code_unbook('alice', 'login', 1, true, 0, 0)",
                      "pam_mfa.verify_sent('alice', '123456', 2, 's', 'r')",
                      "pam_mfa.enroll_sent('alice', 0, 'email', 'alice@example.org', NULL, 0, "
                      "'123456', 's', 'r')",
                      "pam_mfa.enroll_totp('alice', 0, '\\x00112233445566778899'::bytea, 'sha1', "
                      "6, 30, NULL, 0, '123456', 's', 'r')",
                      "pam_mfa.remove_factor('alice', 0, 0, false)",
                      "pam_mfa.verify_backup('alice', 'abcdefghjkmn', 's', 'r')",
                      "pam_mfa.recovery_new('alice', 0, '{abcdefghjkmn}')",
                      "pam_mfa.lock_notice_due('alice', 3600)"):
        expect_error(lambda: pg.sql(ADMIN, f"SELECT {host_only}"), "permission denied")
    # A function the owner makes later is nobody's until granted (001's
    # per-schema default privileges did not take PUBLIC's EXECUTE away).
    pg.sql(OWNER, "CREATE FUNCTION pam_mfa.made_later() RETURNS integer LANGUAGE sql "
                  "SET search_path = pg_catalog, pg_temp AS 'SELECT 1'")
    for role in (HOST_A, ADMIN):
        expect_error(lambda: pg.sql(role, "SELECT pam_mfa.made_later()"), "permission denied")
    check(pg.one(SUPER, "SELECT pg_catalog.has_function_privilege('public', "
                        "'pam_mfa.made_later()', 'EXECUTE')") == ["f"], "no EXECUTE for PUBLIC")
    pg.sql(OWNER, "DROP FUNCTION pam_mfa.made_later()")
    # What is granted works, so the refusals above are not a broken setup.
    s = summary(pg, "alice")
    check([f["method"] for f in s["factors"]] == ["totp", "email"], f"host reads alice's: {s}")
    check(pg.sql(ADMIN, "SELECT pam_mfa.list()") == [["alice"]], "admin lists alice")
    # Nor does any secret or hash leave through a summary.
    for rows in (pg.sql(HOST_A, "SELECT * FROM pam_mfa.summary('alice')"),
                 pg.sql(ADMIN, "SELECT * FROM pam_mfa.summaries()")):
        check(not any("\\x" in v for r in rows for v in r), f"no bytes in a summary: {rows}")
    # Only TLS gets in.
    p = subprocess.run(pg.psql_cmd(HOST_A)[:-1] + [pg.conninfo(HOST_A, sslmode="disable")],
                       input="SELECT 1", capture_output=True, text=True, env=pg.env())
    check(p.returncode != 0 and "no pg_hba.conf entry" in p.stderr, f"plain TCP: {p.stderr}")
    print(f"ok: hosts and admins read and write none of {tables}")


def test_verify(pg):
    secret = os.urandom(20)
    check(provision(pg, "alice", secret) == "provisioned", "provisioned")
    check(provision(pg, "alice", secret) == "exists", "not replaced in mode new")
    fid = factor(pg, "alice", "totp")
    check(verify(pg, HOST_A, "nobody", "123456")[0] == "not_enrolled", "unknown user")
    check(pg.sql(ADMIN, "SELECT pam_mfa.list()") == [["alice"]], "no row made by a lookup")
    for bad_user in ("../etc", "-x", ".x", "a b", "x" * 129, "é", ""):
        expect_error(lambda: verify(pg, HOST_A, bad_user, "123456"), "invalid user name")
    expect_error(lambda: verify(pg, HOST_A, "alice", "1" * 65), "invalid code")
    check(summary(pg, "alice")["fail_count"] == "0", "bad arguments count nothing")

    settle_step()
    code = code_now(secret)
    o, n, _, step, got = verify5(pg, HOST_A, "alice", code)
    check(o == "ok" and n == 0 and got == fid, f"right code: {o} {got}")
    now_step = int(time.time()) // 30
    check(abs(step - now_step) <= 1, f"step {step} near {now_step}")
    check(last_step(pg, "alice", fid) == step, "step recorded")
    s = summary(pg, "alice")
    check(s["last_service"] == "sshd" and s["last_rhost"] == "192.0.2.7", f"last login {s}")
    check(s["last_host"] == f"{HOST_A}@127.0.0.1", f"the calling host: {s['last_host']}")
    check(abs(int(s["last_login"]) - time.time()) < 60, "last login time")
    check(abs(int(s["factors"][0]["last_used"]) - time.time()) < 60, "the app's last use")

    o, n, _, rstep = verify(pg, HOST_B, "alice", code)
    check(o == "replay" and n == 1 and rstep == step, f"same code on another host: {o} {n}")
    o, n, _, _ = verify(pg, HOST_A, "alice", wrong_code(secret))
    check(o == "wrong" and n == 2, f"wrong code: {o} {n}")
    o, n, _, _ = verify(pg, HOST_A, "alice", "12a456")
    check(o == "wrong" and n == 3, f"malformed code counted: {o} {n}")
    o, n, _, _ = verify(pg, HOST_A, "alice", code[:5])
    check(o == "wrong" and n == 4, f"short code counted: {o} {n}")

    # The next step's code is fresh; then the old one is a replay, and the
    # step never goes back.
    nxt = oathtool(secret, (step + 1) * 30)
    o, n, _, step2 = verify(pg, HOST_B, "alice", nxt)
    check(o == "ok" and step2 == step + 1 and n == 0, f"next step: {o} {step2}")
    o, _, _, _ = verify(pg, HOST_A, "alice", code)
    check(o == "replay", f"older step after a newer: {o}")
    check(last_step(pg, "alice", fid) == step + 1, "step kept")
    expect_error(lambda: pg.sql(OWNER, "UPDATE pam_mfa.factors SET last_step = last_step - 1 "
                                       "WHERE method = 'totp'"), "may not move backwards")
    check(summary(pg, "alice", role=HOST_B)["last_host"] == f"{HOST_B}@127.0.0.1", "host b recorded")
    # Seven- and eight-digit, sha256 and sha512 factors verify too.
    for user, alg, digits, period in (("bob", "sha256", 8, 60), ("carol", "sha512", 7, 30)):
        sec = os.urandom(32)
        provision(pg, user, sec, alg, digits, period)
        f = summary(pg, user)["factors"][0]
        check((f["totp_algorithm"], f["totp_digits"], f["totp_period"])
              == (alg, str(digits), str(period)), f"params in the summary: {f}")
        o = verify(pg, HOST_A, user, oathtool(sec, int(time.time()), alg, digits, period))[0]
        check(o == "ok", f"{user} {alg}/{digits}/{period}: {o}")
    # A user with only an address has no app to check a TOTP code against.
    provision_dest(pg, "dan", "email", "dan@example.org")
    check(verify(pg, HOST_A, "dan", "123456")[:2] == ("not_enrolled", 0), "no app")
    print("ok: verify_totp accepts once, refuses replays, counts failures, records the host")


def test_lockout(pg):
    secret = os.urandom(20)
    provision(pg, "bob", secret)
    fid = factor(pg, "bob", "totp")
    results = []
    for i in range(5):  # three on one host, two on the other: one lockout
        results.append(verify(pg, HOST_A if i < 3 else HOST_B, "bob", wrong_code(secret)))
    check([r[1] for r in results] == [1, 2, 3, 4, 5], f"counts {results}")
    check([r[2] for r in results] == [False] * 4 + [True], f"locked_now {results}")
    o, n, ln, _ = verify(pg, HOST_A, "bob", wrong_code(secret))
    check(o == "locked" and n == 5 and not ln, f"while locked: {o} {n}")
    o, n, _, _ = verify(pg, HOST_B, "bob", code_now(secret))
    check(o == "locked" and n == 5, f"a right code while locked: {o}")
    check(last_step(pg, "bob", fid) == 0, "a locked check spends no step")
    s = summary(pg, "bob")
    check(int(s["locked_until"]) - time.time() > 800, f"locked for 900 s: {s['locked_until']}")
    check(pg.one(ADMIN, "SELECT pam_mfa.unlock('bob')") == ["5"], "unlock clears five")
    check(pg.one(ADMIN, "SELECT COALESCE(pam_mfa.unlock('nobody')::text, 'null')") == ["null"],
          "unlock of nobody: NULL")
    check(verify(pg, HOST_A, "bob", code_now(secret))[0] == "ok", "ok after unlock")

    # unlock_after 0: until an admin unlocks (-1 in the summary).
    pg.sql(ADMIN, "SELECT pam_mfa.set_settings(p_lockout_attempts => 2, "
                  "p_lockout_unlock_after => 0)")
    provision(pg, "carol", secret)
    verify(pg, HOST_A, "carol", wrong_code(secret))
    check(verify(pg, HOST_A, "carol", wrong_code(secret))[2], "locked at 2")
    check(summary(pg, "carol")["locked_until"] == "-1", "until an admin")
    # A lock with an end ends: the next right code works and clears it.
    pg.sql(OWNER, "UPDATE pam_mfa.settings SET lockout_unlock_after = 1")
    provision(pg, "dave", secret)
    verify(pg, HOST_A, "dave", wrong_code(secret))
    check(verify(pg, HOST_A, "dave", wrong_code(secret))[2], "dave locked")
    time.sleep(1.5)
    o, n, _, _ = verify(pg, HOST_A, "dave", code_now(secret))
    check(o == "ok" and n == 0, f"after the lock ended: {o} {n}")
    # A success forgives earlier failures; an interval past starts over.
    pg.sql(OWNER, "UPDATE pam_mfa.settings SET lockout_attempts = 3, lockout_interval = 1")
    provision(pg, "erin", secret)
    verify(pg, HOST_A, "erin", wrong_code(secret))
    verify(pg, HOST_A, "erin", wrong_code(secret))
    time.sleep(1.2)
    o, n, ln, _ = verify(pg, HOST_A, "erin", wrong_code(secret))
    check(n == 1 and not ln, f"new interval: {n} {ln}")
    print("ok: failures add up over hosts, the lock refuses a right code, unlock and expiry")


def test_enroll(pg):
    s0 = summary(pg, "erin")
    check(s0["user_exists"] == "f" and s0["factors_version"] == "0" and s0["factors"] == [],
          f"nobody yet: {s0}")
    s1, s2 = os.urandom(20), os.urandom(32)
    settle_step()

    # A wrong proving code: nothing written, not even a user row.
    check(enroll_totp(pg, "erin", 0, s1, wrong_code(s1))[0] == "wrong", "wrong proving code")
    check(summary(pg, "erin")["user_exists"] == "f", "nothing written for a wrong code")
    # A basis that cannot hold for a user with no row: nothing made.
    check(enroll_totp(pg, "erin", 7, s1, code_now(s1))[0] == "not_enrolled", "stale basis, no row")
    check(pg.sql(ADMIN, "SELECT pam_mfa.list()") == [], "no row made")
    expect_error(lambda: enroll_totp(pg, "erin", 0, s1, code_now(s1), label=" phone"),
                 "invalid label")
    expect_error(lambda: enroll_totp(pg, "erin", 0, s1, code_now(s1), label="x" * 33),
                 "invalid label")

    code1 = code_now(s1)
    o, _, step, fid1 = enroll_totp(pg, "erin", 0, s1, code1, label="phone")
    check(o == "ok" and fid1 == 1, f"enroll: {o} {fid1}")
    s = summary(pg, "erin")
    v1 = s["factors_version"]
    f = s["factors"][0]
    check(v1 != "0" and s["last_service"] == "login" and f["label"] == "phone"
          and f["by_admin"] == "f" and f["verified"] == "t", f"enrolled: {s}")
    check(verify(pg, HOST_B, "erin", code1)[0] == "replay", "the proving code is spent")

    # An enrollment on the old basis (another one happened meanwhile).
    o = enroll_totp(pg, "erin", 0, s2, code_now(s2, algorithm="sha256"), alg="sha256")[0]
    check(o == "not_enrolled", f"stale basis: {o}")
    check(version_of(pg, "erin") == v1, "version unchanged")
    # A wrong code on the right basis writes nothing either.
    before = pg.sql(OWNER, "SELECT u, f FROM pam_mfa.users u JOIN pam_mfa.factors f "
                           "USING (user_name) WHERE user_name = 'erin'")
    check(enroll_totp(pg, "erin", v1, s2, wrong_code(s2, 8), alg="sha512", digits=8)[0] == "wrong",
          "wrong")
    after = pg.sql(OWNER, "SELECT u, f FROM pam_mfa.users u JOIN pam_mfa.factors f "
                          "USING (user_name) WHERE user_name = 'erin'")
    check(before == after, "a wrong enrollment code changes nothing")
    # A second app on the current basis: this host enrolled the first a
    # moment ago, which proves the app (test_proof covers the rule).
    o, _, _, fid2 = enroll_totp(pg, "erin", v1, s2, code_now(s2, algorithm="sha512", digits=8),
                                alg="sha512", digits=8, label="tablet")
    check(o == "ok" and fid2 == 2, f"a second app: {o} {fid2}")
    v2 = version_of(pg, "erin")
    check(v2 not in ("0", v1), "the basis moved")
    # Replacing the first: a new id, the old one gone.
    s3 = os.urandom(20)
    expect_error(lambda: enroll_totp(pg, "erin", v2, s3, code_now(s3), replaces=9),
                 "not an app of the user")
    o, _, _, fid3 = enroll_totp(pg, "erin", v2, s3, code_now(s3), replaces=fid1)
    check(o == "ok" and fid3 == 3, f"replaced: {o} {fid3}")
    s = summary(pg, "erin")
    check([(f["id"], f["label"]) for f in s["factors"]] == [("2", "tablet"), ("3", "")],
          f"the first replaced: {s['factors']}")
    v3 = s["factors_version"]

    # A reset of a method moves the basis too; a reset of everything brings back 0.
    pg.sql(ADMIN, "SELECT pam_mfa.reset('erin', 'totp', NULL)")
    v4 = version_of(pg, "erin")
    check(v4 not in ("0", v1, v2, v3), f"reset bumps: {v4}")
    check(enroll_totp(pg, "erin", v3, s1, code_now(s1))[0] == "not_enrolled", "basis before the reset")

    # Skips: on the current basis only; a remembered one is kept.
    check(pg.one(HOST_A, f"SELECT pam_mfa.skip('erin', {v3}, true)") == ["stale"], "stale skip")
    check(summary(pg, "erin")["skip_since"] == "0", "a stale skip is not kept")
    check(pg.one(HOST_A, f"SELECT pam_mfa.skip('erin', {v4}, true)") == ["ok"], "skip")
    check(summary(pg, "erin")["skip_since"] != "0", "skip remembered")
    check(pg.one(HOST_A, "SELECT pam_mfa.skip('frank', 0, false)") == ["ok"], "skip once")
    check(summary(pg, "frank")["user_exists"] == "f", "a skip without remember writes nothing")
    # An enrollment forgets the skip, and ids are never reused.
    o, _, _, fid = enroll_totp(pg, "erin", v4, s1, code_now(s1))
    check(o == "ok" and fid == 4, f"enroll after skip: {o} {fid}")
    check(summary(pg, "erin")["skip_since"] == "0", "enrollment forgets the skip")
    r = pg.one(ADMIN, "SELECT * FROM pam_mfa.reset('erin', NULL, NULL)")
    check(r == ["t", "t", "1", ""], f"reset all: {r}")
    check(summary(pg, "erin")["user_exists"] == "f", "all gone")
    print("ok: enroll_totp saves only on its basis, labels, replaces, a wrong code writes nothing")


def test_race(pg):
    secret = os.urandom(20)
    provision(pg, "racer", secret)
    settle_step()
    code = code_now(secret)
    start = time.time() + 3  # every connection made and waiting by then

    def one(i):
        role = HOST_A if i % 2 else HOST_B
        rows = pg.sql(role, f"SELECT pg_catalog.pg_sleep_until(pg_catalog.to_timestamp({start}));\n"
                            f"SELECT outcome FROM pam_mfa.verify_totp('racer', '{code}', 'sshd', '')")
        return rows[-1][0]

    with ThreadPoolExecutor(16) as ex:
        outcomes = list(ex.map(one, range(16)))
    check(time.time() - start < 30, "the race did not wait on itself")
    oks = outcomes.count("ok")
    check(oks == 1, f"exactly one ok of 16: {outcomes}")
    check(set(outcomes) <= {"ok", "replay", "locked"}, f"outcomes {outcomes}")
    print(f"ok: 16 racing logins, one accepted: {sorted(outcomes)}")


GRANTED = {"summary": (True, True), "verify_totp": (True, False), "verify_sent": (True, False),
           "enroll_totp": (True, False), "enroll_sent": (True, False), "skip": (True, False),
           "code_book": (True, False), "code_sent": (True, False), "code_unbook": (True, False),
           "remove_factor": (True, False), "label_factor": (True, True),
           "provision_totp": (False, True), "provision_dest": (False, True),
           "code_by_admin": (False, True), "reset": (False, True), "reset_all": (False, True),
           "unlock": (False, True), "list": (False, True), "summaries": (False, True),
           "set_settings": (False, True), "schema_version": (True, True),
           "import_user": (False, True), "verify_backup": (True, False),
           "recovery_new": (True, False), "lock_notice_due": (True, False),
           "recovery_admin": (False, True), "bypass_new": (False, True),
           "bypass_revoke": (False, True)}


def test_migrations(pg):
    shipped = sorted(int(f[:3]) for f in os.listdir(SQL_DIR) if f.endswith(".sql"))
    check(shipped == list(range(1, len(shipped) + 1)), f"migrations numbered 1 to N: {shipped}")
    versions = [[str(v)] for v in shipped]
    check(pg.sql(OWNER, "SELECT version FROM pam_mfa.schema_version ORDER BY 1") == versions,
          f"versions 1 to {len(shipped)}")
    # A second run of a migration fails and changes nothing (its version
    # is taken): mfactl db init applies only what is missing.
    try:
        pg.psql_migrate()
        raise AssertionError("a migration applied twice")
    except subprocess.CalledProcessError as e:
        check("already exists" in e.stderr, f"second run: {e.stderr}")
    check(pg.sql(OWNER, "SELECT count(*) FROM pam_mfa.schema_version") == [[str(len(shipped))]],
          "unchanged")
    if pg.mfactl:
        proc = pg.db_init()
        check(proc.returncode == 0 and
              f"up to date at version {len(shipped)}" in proc.stdout, f"db init again: {proc}")
    # Every function the schema defines is SECURITY DEFINER with a fixed
    # search_path, or granted to nobody; one of a name, the old ones gone.
    rows = pg.sql(SUPER, "SELECT p.proname, p.prosecdef, p.proconfig::text, "
                         "pg_catalog.has_function_privilege('pam_mfa_host', p.oid, 'EXECUTE'), "
                         "pg_catalog.has_function_privilege('pam_mfa_admin', p.oid, 'EXECUTE') "
                         "FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n "
                         "ON n.oid = p.pronamespace WHERE n.nspname = 'pam_mfa' ORDER BY 1")
    granted = {}
    names = [r[0] for r in rows]
    check(len(names) == len(set(names)), f"one function of each name: {names}")
    for name, secdef, config, host, admin in rows:
        check("search_path=pg_catalog, pg_temp" in config, f"{name}: search_path {config}")
        if host == "t" or admin == "t":
            check(secdef == "t", f"{name} granted but not SECURITY DEFINER")
            granted[name] = (host == "t", admin == "t")
        elif name == "forget_backup":
            # 009's deferred trigger runs at the commit, as the calling
            # role: it needs the owner's rights, and only its trigger can
            # call it.
            check(secdef == "t", f"{name} runs as the owner")
        else:
            # Least privilege: a helper runs with its caller's rights.
            check(secdef == "f", f"{name} is SECURITY DEFINER but granted to nobody")
    check(granted == GRANTED, f"grants {granted}")
    for old in ("verify_email", "enroll_email", "email_book", "email_sent", "email_unbook",
                "provision_email", "email_code_by_admin", "check_email", "holds_factor",
                "code_allowed", "totp_step_forward"):
        check(old not in names, f"{old} dropped")
    owner_super = pg.one(SUPER, "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = "
                                f"'{OWNER}'")[0]
    check(owner_super == "f", "the functions' owner is no superuser")
    # Migrations are the owner's: another role is refused by 006's guard.
    for guarded in ("006_hardening.sql", "008_factors.sql", "009_recovery.sql"):
        try:
            pg.sql(SUPER, open(os.path.join(SQL_DIR, guarded)).read())
            raise AssertionError(f"{guarded} applied by a role that does not own the schema")
        except PgError as e:
            check("as the owner of schema pam_mfa" in e.stderr, f"{guarded} as {SUPER}: {e.stderr}")
    print("ok: versions recorded, grants and function settings as designed")


# ------------------------------------------------------------------ email

ALICE = "alice@example.org"


def test_email_booking(pg):
    check(pg.one(ADMIN, "SELECT email_code_ttl, email_resend_after, email_enroll_mails, "
                        "email_booking_window FROM pam_mfa.set_settings()")
          == ["300", "30", "5", "15"], "core/config.c's defaults, window = timeout 10 + 5")
    check(book(pg, "alice", fid=1)["result"] == "stale", "no verified address: no login code")
    provision_dest(pg, "alice", "email", ALICE)
    fid = factor(pg, "alice", "email")
    check(book(pg, "alice", fid=fid + 1)["result"] == "stale", "a login code to another factor")
    check(book(pg, "alice", method="sms", fid=fid)["result"] == "stale",
          "a login code by another method")
    # A booking in flight holds every other back, on any host.
    b = book(pg, "alice", fid=fid)
    check(b["result"] == "ok" and abs(b["booked_at"] - time.time()) < 60, f"booked {b}")
    b2 = book(pg, "alice", fid=fid, role=HOST_B)
    check(b2["result"] == "wait" and b2["sending"] and 0 < b2["wait"] <= 15, f"in flight: {b2}")
    check(sent(pg, "alice", b, "123456") == "ok", "sent")
    # One login code per resend_after while it is valid.
    b3 = book(pg, "alice", fid=fid, role=HOST_B)
    check(b3["result"] == "wait" and not b3["sending"] and 0 < b3["wait"] <= 30, f"resend: {b3}")
    age(pg, "alice", 31)
    b4 = book(pg, "alice", fid=fid)
    check(b4["result"] == "ok", f"after resend_after: {b4}")
    # A booking whose process died stops counting after the window.
    age(pg, "alice", 16)
    b5 = book(pg, "alice", fid=fid, role=HOST_B)
    check(b5["result"] == "ok", f"a dead booking holds nothing back: {b5}")
    check(sent(pg, "alice", b5, "654321", role=HOST_B) == "ok", "sent b5")
    # A spent code is no code: the next may go at once.
    check(verify_sent(pg, "alice", "654321", fid)[0] == "ok", "login")
    check(book(pg, "alice", fid=fid)["result"] == "ok", "after the code was used")

    # Enrollment codes: at most email_enroll_mails a day, counted at booking.
    bob = "bob@example.org"
    check(book(pg, "bob", "enroll", 3, dest=bob)["result"] == "stale", "stale basis")
    for i in range(5):
        b = book(pg, "bob", "enroll", 0, dest=bob)
        check(b["result"] == "ok" and b["enroll_codes"] == i, f"enroll code {i}: {b}")
        check(sent(pg, "bob", b, f"{i:06d}", 0) == "ok", "sent")
        b = book(pg, "bob", "enroll", 0, dest=bob)
        check(b["result"] == "wait" and 0 < b["wait"] <= 30, f"resend_after for enrolling: {b}")
        age(pg, "bob", 31)
    b = book(pg, "bob", "enroll", 0, dest=bob)
    check(b["result"] == "wait" and not b["sending"] and 86400 - 5 * 31 - 60 < b["wait"] <= 86400,
          f"the sixth code of the day: {b}")
    check(version_of(pg, "bob") == "0", "an unverified address is no factor")
    check(methods(pg, "bob") == [("email", bob, "f")], "one address being proved")
    age(pg, "bob", 86400)
    b = book(pg, "bob", "enroll", 0, dest=bob)
    check(b["result"] == "ok", f"a new day: {b}")
    check(int(owner_value(pg, "SELECT enroll_codes FROM pam_mfa.users WHERE user_name = 'bob'"))
          == 1, "the day's count starts over")
    # Once an address is verified, no enrollment code to it; to another, yes.
    provision_dest(pg, "bob", "email", bob, mode="replace")
    v = version_of(pg, "bob")
    age(pg, "bob", 31)
    check(book(pg, "bob", "enroll", v, dest=bob)["result"] == "stale", "verified")
    check(book(pg, "bob", "enroll", v, dest="bob2@example.org")["result"] == "ok", "another")
    expect_error(lambda: book(pg, "bob", "enroll", None, dest=bob), "factors_version")
    expect_error(lambda: book(pg, "bob", "sms", fid=1), "login or enroll")
    expect_error(lambda: book(pg, "bob", "enroll", v, dest="bob"), "invalid email address")
    expect_error(lambda: book(pg, "bob", "login", method="totp", fid=1), "unknown method")
    expect_error(lambda: book(pg, "bob", "login"), "a login code goes to a factor")
    print("ok: one code in flight, resend_after, a dead booking expires, enroll codes a day")


def test_email_verify(pg):
    secret = os.urandom(20)
    provision(pg, "alice", secret)
    check(provision_dest(pg, "alice", "email", ALICE) == "provisioned", "provisioned")
    fid = factor(pg, "alice", "email")
    code = send_code(pg, "alice", fid=fid)
    s = summary(pg, "alice")
    check(s["code_pending"] == "t" and s["code_factor"] == str(fid)
          and int(s["code_expires"]) - time.time() > 250, f"pending for 300 s: {s}")
    # The database keeps core/code_hash.c's HMAC-SHA256(salt, code), never the code.
    salt, h = pg.one(OWNER, "SELECT encode(salt, 'hex'), encode(hash, 'hex') "
                            "FROM pam_mfa.pending_code WHERE user_name = 'alice'")
    check(len(salt) == 32 and hmac.new(bytes.fromhex(salt), code.encode(), hashlib.sha256)
          .hexdigest() == h, "hash as core/code_hash.c")
    # The code of another factor is refused, and not counted.
    check(verify_sent(pg, "alice", code, fid - 1) == ("not_enrolled", 0, False), "the app's id")
    check(verify_sent(pg, "alice", code, 99) == ("not_enrolled", 0, False), "no such factor")
    check(verify_sent(pg, "nobody", code, fid) == ("not_enrolled", 0, False), "unknown user")
    # Wrong codes count toward the lockout TOTP shares; the pending code stays.
    check(verify_sent(pg, "alice", other_code(code), fid) == ("wrong", 1, False), "wrong")
    check(verify(pg, HOST_B, "alice", wrong_code(secret))[1] == 2, "a wrong TOTP code adds up")
    check(verify_sent(pg, "alice", "12ab56", fid, role=HOST_B) == ("wrong", 3, False), "malformed")
    o, n, _ = verify_sent(pg, "alice", code, fid, role=HOST_B)
    check((o, n) == ("ok", 3), f"right code after wrong ones, failures kept: {o} {n}")
    check(pg.one(ADMIN, "SELECT pam_mfa.unlock('alice')") == ["3"], "the admin clears them")
    s = summary(pg, "alice")
    check(s["last_service"] == "sshd" and s["last_host"] == f"{HOST_B}@127.0.0.1"
          and s["code_pending"] == "f" and s["factors"][1]["last_used"] != "0",
          f"login recorded, code spent: {s}")
    # Single use: the same code again is no code.
    check(verify_sent(pg, "alice", code, fid) == ("expired", 1, False), "used twice")
    # Expired: refused, counted, spent.
    age(pg, "alice", 31)
    code = send_code(pg, "alice", fid=fid)
    age(pg, "alice", 301)
    check(verify_sent(pg, "alice", code, fid) == ("expired", 2, False), "past its ttl")
    check(summary(pg, "alice")["code_pending"] == "f", "an expired code is spent")
    # Locked: a right code is refused, uncounted, and not spent.
    code = send_code(pg, "alice", fid=fid)
    for n in (3, 4):
        verify_sent(pg, "alice", other_code(code), fid)
    check(verify(pg, HOST_A, "alice", wrong_code(secret))[2], "the fifth failure locks")
    check(verify_sent(pg, "alice", code, fid) == ("locked", 5, False), "locked")
    check(summary(pg, "alice")["code_pending"] == "t", "a locked check spends nothing")
    pg.sql(ADMIN, "SELECT pam_mfa.unlock('alice')")
    check(verify_sent(pg, "alice", code, fid)[0] == "ok", "after unlock")
    expect_error(lambda: verify_sent(pg, "alice", "1" * 65, fid), "invalid code")
    expect_error(lambda: verify_sent(pg, "alice", "123456", 0), "invalid factor")
    # The factor going takes its code with it.
    age(pg, "alice", 31)
    code = send_code(pg, "alice", fid=fid)
    pg.sql(ADMIN, "SELECT pam_mfa.reset('alice', 'email', NULL)")
    check(owner_value(pg, "SELECT count(*) FROM pam_mfa.pending_code") == "0", "the code went")
    print("ok: verify_sent once, wrong counted with TOTP, expired, another factor refused")


def test_email_launder(pg):
    """A host makes, so knows, every code it sends: a compromised host must
    not clear the failures other hosts counted by sending itself one."""
    secret = os.urandom(20)
    provision(pg, "alice", secret)
    provision_dest(pg, "alice", "email", ALICE)
    fid = factor(pg, "alice", "email")
    # Guesses spread over the fleet, each host below the lockout alone.
    for role in (HOST_A, HOST_A, HOST_B, HOST_B):
        verify(pg, role, "alice", wrong_code(secret))
    check(summary(pg, "alice")["fail_count"] == "4", "four failures")
    # The compromised host mails itself a code and logs in with it.
    code = send_code(pg, "alice", fid=fid)
    check(verify_sent(pg, "alice", code, fid) == ("ok", 4, False), "email login, failures kept")
    s = summary(pg, "alice")
    check(s["fail_count"] == "4" and s["locked_until"] == "0", f"nothing forgiven: {s}")
    # So the fifth guess, on another host, locks as if nothing happened.
    o, n, locked, _ = verify(pg, HOST_B, "alice", wrong_code(secret))
    check((o, n, locked) == ("wrong", 5, True), f"the fifth failure locks: {o} {n} {locked}")
    # A lock refuses an email code, and no email success lifts it.
    age(pg, "alice", 31)
    code = send_code(pg, "alice", fid=fid)
    check(verify_sent(pg, "alice", code, fid) == ("locked", 5, False), "locked")
    check(int(summary(pg, "alice")["locked_until"]) > time.time() + 800, "still locked")
    # The admin's unlock clears it; a TOTP success forgives.
    check(pg.one(ADMIN, "SELECT pam_mfa.unlock('alice')") == ["5"], "unlock")
    check(verify(pg, HOST_A, "alice", wrong_code(secret))[1] == 1, "one failure")
    o, n, _, _ = verify(pg, HOST_A, "alice", code_now(secret))
    check((o, n) == ("ok", 0), f"a TOTP success forgives: {o} {n}")
    # Proving an address by email forgives nothing either.
    mail = "bob@example.org"
    code = send_code(pg, "bob", "enroll", 0, dest=mail)
    check(enroll_sent(pg, "bob", 0, other_code(code), mail) == ("wrong", 1, False), "wrong")
    check(enroll_sent(pg, "bob", 0, code, mail) == ("ok", 1, False), "proved, failure kept")
    check(summary(pg, "bob")["fail_count"] == "1", "kept")
    print("ok: an email code forgives no failure; a TOTP code or the admin does")


def test_email_unbook(pg):
    carol = "carol@example.org"
    # A first enrollment code that could not go leaves nothing behind.
    b = book(pg, "carol", "enroll", 0, dest=carol)
    check(b["result"] == "ok" and not b["record_existed"], f"booked: {b}")
    check(pg.sql(ADMIN, "SELECT pam_mfa.list()") == [["carol"]], "the booking made a row")
    unbook(pg, "carol", b)
    check(pg.sql(ADMIN, "SELECT pam_mfa.list()") == [], "unbook removed what it made")
    # A user with state keeps it.
    provision(pg, "carol", os.urandom(20))
    v = version_of(pg, "carol")
    b = book(pg, "carol", "enroll", v, dest=carol)
    check(b["record_existed"], "the user's row was there")
    # A booking is no factor: a reset finds none and moves nothing.
    check(pg.one(ADMIN, "SELECT * FROM pam_mfa.reset('carol', 'email', NULL)") == ["f", "f", "0", ""],
          "nothing to reset")
    check(version_of(pg, "carol") == v, "basis kept")
    unbook(pg, "carol", b)
    check(methods(pg, "carol") == [("totp", "", "t")] and
          pg.one(OWNER, "SELECT booked_at IS NULL, enroll_codes FROM pam_mfa.users "
                        "WHERE user_name = 'carol'") == ["t", "0"], "the booking ended, the rest stayed")
    # The day's count is as it was.
    send_code(pg, "carol", "enroll", v, dest=carol)
    age(pg, "carol", 31)
    b = book(pg, "carol", "enroll", v, dest=carol)
    check(b["result"] == "ok" and b["enroll_codes"] == 1, f"second code: {b}")
    unbook(pg, "carol", b)
    codes, booked = pg.one(OWNER, "SELECT enroll_codes, booked_at IS NULL FROM pam_mfa.users "
                                  "WHERE user_name = 'carol'")
    check((codes, booked) == ("1", "t"), f"restored: {codes} {booked}")
    check(("email", carol, "f") in methods(pg, "carol"), "the sent code's state stays")
    # A booking that timed out and was followed by another is not ours to end.
    old = book(pg, "carol", "enroll", v, dest=carol)
    age(pg, "carol", 16)
    old["booked_at"] -= 16  # the host's handle ages with the clock too
    new = book(pg, "carol", "enroll", v, dest=carol)
    check(new["result"] == "ok" and new["booked_at"] != old["booked_at"], f"rebooked {new}")
    unbook(pg, "carol", old)
    b = book(pg, "carol", "enroll", v, dest=carol)
    check(b["result"] == "wait" and b["sending"], f"the newer booking still holds: {b}")
    check(int(owner_value(pg, "SELECT enroll_codes FROM pam_mfa.users WHERE user_name = 'carol'"))
          == 3, "the count is the newer booking's")
    # Login bookings end too.
    provision_dest(pg, "dan", "email", "dan@example.org")
    fid = factor(pg, "dan", "email")
    b = book(pg, "dan", fid=fid)
    unbook(pg, "dan", b)
    check(book(pg, "dan", fid=fid)["result"] == "ok", "unbooked login code")
    print("ok: unbook restores the count and removes only what the booking made")


def test_email_enroll(pg):
    addr = "dave@example.org"
    code = send_code(pg, "dave", "enroll", 0, dest=addr)
    s = summary(pg, "dave")
    fid = factor(pg, "dave", "email", verified=False)
    check(s["factors"][0]["dest"] == addr and s["factors"][0]["verified"] == "f"
          and s["factors"][0]["added"] == "0" and s["factors_version"] == "0"
          and s["code_factor"] == str(fid), f"an address to prove: {s}")
    before = pg.sql(OWNER, "SELECT u, f FROM pam_mfa.users u JOIN pam_mfa.factors f USING (user_name)")
    # A stale basis saves nothing, counts nothing, spends nothing.
    check(enroll_sent(pg, "dave", 7, code, addr) == ("not_enrolled", 0, False), "stale basis")
    check(enroll_sent(pg, "dave", 0, code, "eve@example.org")[0] == "not_enrolled", "other address")
    expect_error(lambda: enroll_sent(pg, "dave", 0, code, addr, method="sms"),
                 "invalid phone number")
    after = pg.sql(OWNER, "SELECT u, f FROM pam_mfa.users u JOIN pam_mfa.factors f USING (user_name)")
    check(before == after, "nothing written")
    check(verify_sent(pg, "dave", code, fid)[0] == "not_enrolled", "an unverified address logs no one in")
    check(enroll_sent(pg, "dave", 0, other_code(code), addr) == ("wrong", 1, False), "wrong")
    check(pg.one(HOST_A, "SELECT pam_mfa.skip('dave', 0, true)") == ["ok"], "skip remembered")
    check(enroll_sent(pg, "dave", 0, code, addr, label="work") == ("ok", 1, False),
          "proved, failure kept")
    s = summary(pg, "dave")
    v1 = s["factors_version"]
    f = s["factors"][0]
    check(f["verified"] == "t" and f["label"] == "work" and f["added"] != "0"
          and int(f["id"]) == fid and v1 != "0" and s["skip_since"] == "0"
          and f["by_admin"] == "f" and s["code_pending"] == "f", f"enrolled: {s}")
    check(verify_sent(pg, "dave", code, fid)[0] == "expired", "the proving code is spent")
    check(enroll_sent(pg, "dave", v1, code, addr)[0] == "not_enrolled", "already verified")
    # Administrators: a code to a new address only with replace.
    check(pg.one(ADMIN, "SELECT pam_mfa.code_by_admin('dave', 'email', 'd2@example.org', "
                        "'111111', false)") == ["stale"], "no replace")
    check(version_of(pg, "dave") == v1, "unchanged")
    check(pg.one(ADMIN, "SELECT pam_mfa.code_by_admin('dave', 'email', 'd2@example.org', "
                        "'111111', true)") == ["ok"], "replace")
    s = summary(pg, "dave")
    v2 = s["factors_version"]
    check([(f["dest"], f["verified"], f["by_admin"]) for f in s["factors"]]
          == [("d2@example.org", "f", "t")] and v2 not in (v1, "0"),
          f"the verified address gave way: {s}")
    check(enroll_sent(pg, "dave", v2, "111111", "d2@example.org")[0] == "ok", "admin's code")
    v3 = version_of(pg, "dave")
    check(v3 not in (v1, v2) and summary(pg, "dave")["factors"][0]["by_admin"] == "t",
          "by admin, bumped")
    check(provision_dest(pg, "dave", "email", "d3@example.org") == "exists", "exists")
    check(version_of(pg, "dave") == v3, "exists writes nothing")
    check(provision_dest(pg, "dave", "email", "d3@example.org", mode="replace") == "replaced",
          "replaced")
    v4 = version_of(pg, "dave")
    check(v4 not in (v1, v2, v3), "provisioning bumps")
    check(methods(pg, "dave") == [("email", "d3@example.org", "t")], "in place of the other")
    # Another address beside it (mfa-setup, after proving one: test_proof).
    check(provision_dest(pg, "dave", "email", "d3@example.org", mode="add") == "exists",
          "the same one twice")
    check(provision_dest(pg, "dave", "email", "d4@example.org", "home", mode="add")
          == "provisioned", "added")
    # Resets: an unverified address is no factor, the basis stays.
    pg.sql(ADMIN, "SELECT pam_mfa.code_by_admin('fay', 'email', 'fay@example.org', '222222', false)")
    vf = version_of(pg, "fay")
    check(pg.one(ADMIN, "SELECT * FROM pam_mfa.reset('fay', 'email', NULL)") == ["t", "f", "0", ""],
          "reset of an unverified address")
    check(version_of(pg, "fay") == vf, "no factor went, no bump")
    check(pg.one(ADMIN, "SELECT * FROM pam_mfa.reset('dave', 'email', NULL)")
          == ["t", "t", "2", "d3@example.org"], "reset of two verified addresses")
    check(version_of(pg, "dave") not in (v1, v2, v3, v4), "bumped")
    # Addresses as core/email.c's email_address_valid().
    good = ["alice@example.org", "a.b-c+d_e@mail.example.co.uk", "x@a-b.io",
            "o'brien@example.org", "first.last@sub.domain.example", "a" * 64 + "@example.org",
            "a@" + ".".join(["b" * 50] * 4) + "." + "b" * 48]
    bad = ["", "alice", "@example.org", "alice@", "alice@example", "alice@@example.org",
           "a@b@example.org", ".alice@example.org", "alice.@example.org", "al..ice@example.org",
           "alice@.example.org", "alice@example..org", "alice@example.org.", "alice@-example.org",
           "alice@example-.org", "ali ce@example.org", '"alice"@example.org',
           "alice@exa mple.org", "alice@example.org\nBcc: x@evil.org", "alice@example.org>",
           "<alice@example.org>", "alice@example.org,bob@example.org", "alice;bob@example.org",
           "al(ice)@example.org", "alice@[127.0.0.1]", "aliçe@example.org", "alice@ex_ample.org",
           "a" * 65 + "@example.org", "a@" + ".".join(["b" * 50] * 4) + "." + "b" * 49,
           "a@" + "b" * 64 + ".org"]
    check(len(good[-1]) == 254 and len(bad[-2]) == 255, "the lengths at the edge")
    for a in good:
        check(provision_dest(pg, "gil", "email", a, mode="replace") in ("provisioned", "replaced"),
              f"accepted {a}")
    for a in bad:
        expect_error(lambda: pg.sql(ADMIN, "\\set VERBOSITY verbose\n"
                                           f"SELECT pam_mfa.provision_dest('gil', 'email', "
                                           f"{quote(a)}, NULL, 'replace')"),
                     "22023: invalid email address")
        # The table refuses it too, whoever writes.
        expect_error(lambda: pg.sql(OWNER, "INSERT INTO pam_mfa.factors (user_name, id, method, "
                                           f"dest) VALUES ('gil', 1000, 'email', {quote(a)})"),
                     "violates check constraint")
    expect_error(lambda: pg.sql(ADMIN, "SELECT pam_mfa.code_by_admin('gil', 'email', "
                                       "'gil@example.org', '12345', true)"), "invalid email code")
    # Settings within pam_mfa.conf's bounds only.
    for arg in ("p_email_code_ttl => 29", "p_email_resend_after => 3601",
                "p_email_enroll_mails => 0", "p_email_booking_window => 5",
                "p_lockout_attempts => 0", "p_totp_window => 11", "p_factors_per_method => 0",
                "p_factors_per_method => 9", "p_sms_code_ttl => 3601", "p_sms_resend_after => 4",
                "p_sms_enroll_messages => 101", "p_sms_timeout => 121"):
        expect_error(lambda: pg.sql(ADMIN, f"SELECT pam_mfa.set_settings({arg})"), "bounds")
    check(pg.one(ADMIN, "SELECT email_code_ttl, lockout_attempts, factors_per_method, "
                        "sms_code_ttl, sms_resend_after, sms_enroll_messages, sms_timeout FROM "
                        "pam_mfa.set_settings(p_email_code_ttl => 600)")
          == ["600", "5", "3", "300", "30", "5", "10"], "one setting changed, the rest kept")
    # A call by position as version 3 made it still means the same.
    check(pg.one(ADMIN, "SELECT totp_window, email_booking_window, factors_per_method FROM "
                        "pam_mfa.set_settings(2, 5, 900, 900, 300, 30, 5, 20)")
          == ["2", "20", "3"], "eight by position")
    print("ok: enroll_sent on its basis only, admin codes and provisioning, addresses, settings")


def test_email_race(pg):
    provision_dest(pg, "racer", "email", "racer@example.org")
    fid = factor(pg, "racer", "email")
    code = send_code(pg, "racer", fid=fid)
    start = time.time() + 3

    def one(i):
        role = HOST_A if i % 2 else HOST_B
        rows = pg.sql(role, f"SELECT pg_catalog.pg_sleep_until(pg_catalog.to_timestamp({start}));\n"
                            f"SELECT outcome FROM pam_mfa.verify_sent('racer', '{code}', {fid}, "
                            "'sshd', '')")
        return rows[-1][0]

    with ThreadPoolExecutor(16) as ex:
        outcomes = list(ex.map(one, range(16)))
    check(outcomes.count("ok") == 1, f"exactly one ok of 16: {outcomes}")
    check(set(outcomes) <= {"ok", "expired", "locked"}, f"outcomes {outcomes}")
    print(f"ok: 16 racing email logins, one accepted: {sorted(outcomes)}")


# ------------------------------------------------------------------ factors

def test_factors(pg):
    """Several apps: a code from either logs in, each its own replay step;
    the bound; removing one leaves the other; labels."""
    s1, s2, s3 = os.urandom(20), os.urandom(20), os.urandom(20)
    check(provision(pg, "alice", s1, label="phone") == "provisioned", "first app")
    check(provision(pg, "alice", s2, label="phone") == "exists", "mode new: has one")
    check(provision(pg, "alice", s1, mode="add") == "exists", "the same secret twice")
    check(provision(pg, "alice", s2, label="tablet", mode="add") == "provisioned", "second app")
    s = summary(pg, "alice")
    check([(f["id"], f["method"], f["label"], f["by_admin"]) for f in s["factors"]]
          == [("1", "totp", "phone", "t"), ("2", "totp", "tablet", "t")], f"two apps: {s}")
    settle_step()
    t = int(time.time())
    c1, c2 = oathtool(s1, t), oathtool(s2, t)
    o, _, _, step, fid = verify5(pg, HOST_B, "alice", c2)
    check((o, fid) == ("ok", 2), f"the tablet's code: {o} {fid}")
    check(verify5(pg, HOST_A, "alice", c2)[0] == "replay", "the tablet's code again")
    o, n, _, step1, fid = verify5(pg, HOST_A, "alice", c1)
    check((o, fid, n, step1) == ("ok", 1, 0, step), f"the phone's code of the same step: {o} {fid}")
    check(verify5(pg, HOST_B, "alice", c1)[:2] == ("replay", 1), "the phone's code again")
    check(last_step(pg, "alice", 1) == step and last_step(pg, "alice", 2) == step, "each its step")
    s = summary(pg, "alice")
    check(all(f["last_used"] != "0" for f in s["factors"]), f"both used: {s['factors']}")

    # The bound: factors_per_method, the server's.
    pg.sql(ADMIN, "SELECT pam_mfa.set_settings(p_factors_per_method => 2)")
    v = version_of(pg, "alice")
    check(provision(pg, "alice", s3, mode="add") == "too_many", "a third by the admin")
    o = enroll_totp(pg, "alice", v, s3, oathtool(s3, t))
    check(o[0] == "too_many" and o[3] == 0, f"a third by a host: {o}")
    check(version_of(pg, "alice") == v and len(summary(pg, "alice")["factors"]) == 2,
          "too many writes nothing")
    # ... in place of one is within it.
    o, _, _, fid3 = enroll_totp(pg, "alice", v, s3, oathtool(s3, t), label="new phone",
                                replaces=1)
    check(o == "ok" and fid3 == 3, f"replaced the phone: {o} {fid3}")
    s = summary(pg, "alice")
    check([(f["id"], f["label"]) for f in s["factors"]] == [("2", "tablet"), ("3", "new phone")],
          f"phone replaced: {s['factors']}")
    v = s["factors_version"]

    # Removing one leaves the other (mfa-setup; this host proved an app).
    check(pg.one(HOST_A, "SELECT pam_mfa.remove_factor('alice', 1, 2, false)") == ["stale"],
          "a stale basis")
    check(pg.one(HOST_A, f"SELECT pam_mfa.remove_factor('alice', {v}, 9, false)") == ["missing"],
          "no such factor")
    check(pg.one(HOST_A, f"SELECT pam_mfa.remove_factor('alice', {v}, 2, false)") == ["ok"],
          "removed the tablet")
    s = summary(pg, "alice")
    check([f["id"] for f in s["factors"]] == ["3"] and s["factors_version"] != v, f"one left: {s}")
    check(verify5(pg, HOST_A, "alice", oathtool(s2, t + 30))[0] == "wrong", "the tablet is gone")
    o, _, _, _, fid = verify5(pg, HOST_A, "alice", oathtool(s3, t + 30))
    check((o, fid) == ("ok", 3), f"the other still works: {o} {fid}")

    # Labels: by the user's host or the admin; a label is no part of the basis.
    v = version_of(pg, "alice")
    check(pg.one(HOST_A, "SELECT pam_mfa.label_factor('alice', 3, 'Pixel (work)')") == ["ok"],
          "relabelled")
    check(pg.one(ADMIN, "SELECT pam_mfa.label_factor('alice', 9, 'x')") == ["missing"], "missing")
    check(pg.one(ADMIN, "SELECT pam_mfa.label_factor('alice', 3, '')") == ["ok"], "label removed")
    pg.sql(ADMIN, "SELECT pam_mfa.label_factor('alice', 3, 'Pixel (work)')")
    for bad in (" x", "x ", "a\tb", "x" * 33, "é", "a;b", "a/b", "a\nb"):
        expect_error(lambda: pg.sql(HOST_A, f"SELECT pam_mfa.label_factor('alice', 3, {quote(bad)})"),
                     "invalid label")
    for good in ("x", "a" * 32, "tablet 2", "my.phone-1_+@()"):
        check(pg.one(HOST_A, f"SELECT pam_mfa.label_factor('alice', 3, {quote(good)})") == ["ok"],
              f"label {good!r}")
    s = summary(pg, "alice")
    check(s["factors"][0]["label"] == "my.phone-1_+@()" and s["factors_version"] == v,
          f"labelled, the basis kept: {s}")

    # The admin replaces every app; the same secret keeps its step.
    check(provision(pg, "alice", s3, last_step=0, mode="replace") == "replaced", "replaced")
    s = summary(pg, "alice")
    check(len(s["factors"]) == 1 and last_step(pg, "alice", int(s["factors"][0]["id"]))
          == step + 1, f"the step stays spent: {s}")
    # Turning MFA off for the account (factor 0), the skip remembered.
    v = s["factors_version"]
    check(pg.one(HOST_B, f"SELECT pam_mfa.remove_factor('alice', {v}, 0, true)")
          == ["unproved"], "host b proved nothing")
    # Host a's proof was of the factors before the admin's replacement.
    check(pg.one(HOST_A, f"SELECT pam_mfa.remove_factor('alice', {v}, 0, true)")
          == ["unproved"], "the admin's change ended host a's proof")
    s4 = os.urandom(20)
    check(provision(pg, "alice", s4, mode="replace") == "replaced", "a new app")
    check(verify5(pg, HOST_A, "alice", oathtool(s4, t + 30))[0] == "ok", "host a proves anew")
    v = version_of(pg, "alice")
    check(pg.one(HOST_A, f"SELECT pam_mfa.remove_factor('alice', {v}, 0, true)") == ["ok"], "all")
    s = summary(pg, "alice")
    check(s["factors"] == [] and s["skip_since"] != "0" and s["factors_version"] not in ("0", v),
          f"none left, the skip remembered: {s}")
    # No more than a summary lists (RECORD_FACTORS_MAX, 24), verified or
    # not: the bound per method keeps verified ones within it, an import
    # or factors being proved could pass it.
    many = [{"method": "totp", "label": "", "verified": True, "by_admin": True, "added": 0,
             "last_used": 0, "secret": os.urandom(20).hex(), "algorithm": "sha1", "digits": 6,
             "period": 30, "last_step": 0} for _ in range(24)]
    check(pg.one(ADMIN, f"SELECT pam_mfa.import_user('zed', {quote(json.dumps(many))}::jsonb, 0, "
                        "false)") == ["imported"], "24 apps")
    v = version_of(pg, "zed")
    check(len(summary(pg, "zed")["factors"]) == 24, "a summary of 24")
    check(provision_dest(pg, "zed", "email", "zed@example.org") == "too_many", "a 25th")
    check(provision(pg, "zed", os.urandom(20), mode="add") == "too_many", "nor an app")
    check(pg.one(ADMIN, "SELECT pam_mfa.code_by_admin('zed', 'sms', '+15551230100', '123456', "
                        "false)") == ["too_many"], "nor a number to prove")
    check(book(pg, "zed", "enroll", v, dest="zed@example.org")["result"] == "stale",
          "nor a code to a new address")
    check(provision(pg, "zed", os.urandom(20), mode="replace") == "replaced"
          and len(summary(pg, "zed")["factors"]) == 1, "in place of all of them")
    # Ids are never reused for the user.
    check(provision(pg, "alice", s1) == "provisioned" and
          summary(pg, "alice")["factors"][0]["id"] == "6", "a new id")
    check(summary(pg, "alice")["skip_since"] == "0", "a new factor forgets the skip")
    print("ok: two apps, either works, each its own replay step, the bound, remove, labels")


def test_proof(pg):
    """A host changes an enrolled user's factors only right after proving
    one of them itself, by an app where the user has one."""
    s1, s2 = os.urandom(20), os.urandom(20)
    provision(pg, "alice", s1)
    v = version_of(pg, "alice")
    settle_step()
    t = int(time.time())
    check(enroll_totp(pg, "alice", v, s2, oathtool(s2, t))[0] == "not_enrolled", "no proof")
    check(pg.one(HOST_A, f"SELECT pam_mfa.remove_factor('alice', {v}, 1, false)") == ["unproved"],
          "no removal without proof")
    check(verify(pg, HOST_A, "alice", oathtool(s1, t))[0] == "ok", "host a proves the app")
    check(enroll_totp(pg, "alice", v, s2, oathtool(s2, t), role=HOST_B)[0] == "not_enrolled",
          "host a's proof is not host b's")
    o, _, _, fid2 = enroll_totp(pg, "alice", v, s2, oathtool(s2, t))
    check(o == "ok", f"after proving: {o}")
    v = version_of(pg, "alice")
    # A proof lasts ten minutes.
    age(pg, "alice", 601)
    check(pg.one(HOST_A, f"SELECT pam_mfa.remove_factor('alice', {v}, {fid2}, false)")
          == ["unproved"], "a proof too old")
    # A sent code proves nothing a host could not forge, where there is an app.
    provision_dest(pg, "alice", "email", ALICE)
    efid = factor(pg, "alice", "email")
    code = send_code(pg, "alice", fid=efid)
    check(verify_sent(pg, "alice", code, efid)[0] == "ok", "an email login")
    v = version_of(pg, "alice")
    s3 = os.urandom(20)
    check(enroll_totp(pg, "alice", v, s3, oathtool(s3, t))[0] == "not_enrolled",
          "an email proof for a user with apps")
    phone = "+15551230100"
    age(pg, "alice", 31)  # resend_after since the email code
    code = send_code(pg, "alice", "enroll", v, method="sms", dest=phone)
    check(enroll_sent(pg, "alice", v, code, phone, method="sms")[0] == "not_enrolled",
          "nor a number beside them")
    check(pg.one(HOST_A, f"SELECT pam_mfa.remove_factor('alice', {v}, {efid}, false)")
          == ["unproved"], "nor a removal")
    check(verify(pg, HOST_A, "alice", oathtool(s1, t + 30))[0] == "ok", "the app again")
    check(enroll_sent(pg, "alice", v, code, phone, method="sms", label="mobile")[0] == "ok",
          "then the number")
    # A user without an app proves with a sent code.
    provision_dest(pg, "bob", "email", "bob@example.org")
    bfid = factor(pg, "bob", "email")
    v = version_of(pg, "bob")
    check(enroll_totp(pg, "bob", v, s3, oathtool(s3, t))[0] == "not_enrolled", "no proof yet")
    code = send_code(pg, "bob", fid=bfid, role=HOST_B)
    check(verify_sent(pg, "bob", code, bfid, role=HOST_B)[0] == "ok", "host b proves the address")
    check(enroll_totp(pg, "bob", v, s3, oathtool(s3, t), role=HOST_B)[0] == "ok", "an app added")
    # An unverified address is nothing to prove: a first factor needs none.
    code = send_code(pg, "carol", "enroll", 0, dest="carol@example.org")
    check(enroll_sent(pg, "carol", 0, code, "carol@example.org", role=HOST_B)[0] == "ok",
          "a first factor")
    print("ok: a host's change needs its own fresh proof, by an app where there is one")


def test_reset(pg):
    s1, s2 = os.urandom(20), os.urandom(20)
    provision(pg, "carol", s1, label="phone")
    provision(pg, "carol", s2, label="tablet", mode="add")
    provision_dest(pg, "carol", "email", "carol@example.org", label="work")
    pg.sql(ADMIN, "SELECT pam_mfa.code_by_admin('carol', 'sms', '+15551230100', '123456', false)")
    for _ in range(3):
        verify(pg, HOST_A, "carol", wrong_code(s1))
    v = version_of(pg, "carol")

    def reset(method=None, label=None, user="carol"):
        r = pg.one(ADMIN, f"SELECT * FROM pam_mfa.reset('{user}', {quote(method)}, {quote(label)})")
        return r[0] == "t", r[1] == "t", int(r[2]), r[3]

    check(reset(label="nothing") == (False, False, 0, "carol@example.org"), "no such label")
    check(version_of(pg, "carol") == v and summary(pg, "carol")["fail_count"] == "3",
          "nothing changed")
    check(reset(label="tablet") == (True, True, 1, "carol@example.org"), "the tablet")
    s = summary(pg, "carol")
    check([f["label"] for f in s["factors"]] == ["phone", "work", ""]
          and s["factors_version"] != v and s["fail_count"] == "0", f"tablet gone: {s}")
    check(reset("sms") == (True, False, 0, "carol@example.org"), "an unverified number")
    check(summary(pg, "carol")["code_pending"] == "f", "its code went with it")
    check(reset("totp", "work") == (False, False, 0, "carol@example.org"), "the label of another method")
    check(reset("email", "work") == (True, True, 1, "carol@example.org"), "the address")
    check(reset("email") == (False, False, 0, ""), "no address left")
    check(reset() == (True, True, 1, ""), "everything")
    check(summary(pg, "carol")["user_exists"] == "f", "all gone")
    check(reset() == (False, False, 0, ""), "nobody")
    expect_error(lambda: reset(label=""), "invalid label")
    expect_error(lambda: reset("pigeon"), "unknown method")

    # Forget all devices: every user, skips and failures too.
    provision(pg, "dan", s1)
    provision_dest(pg, "erin", "sms", "+4915112345678")
    check(pg.one(HOST_A, "SELECT pam_mfa.skip('fay', 0, true)") == ["ok"], "fay skips")
    code = send_code(pg, "gus", "enroll", 0, dest="gus@example.org")
    verify(pg, HOST_A, "dan", wrong_code(s1))
    # A decision that does not end (a session holding a user's row) makes
    # it give up after its lock_timeout, nothing forgotten, rather than
    # hold every login behind it.
    holder = subprocess.Popen(pg.psql_cmd(SUPER), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env=pg.env())
    try:
        holder.stdin.write("BEGIN;\nSELECT 'holding' FROM pam_mfa.users WHERE user_name = 'dan' "
                           "FOR UPDATE;\n")
        holder.stdin.flush()
        check(holder.stdout.readline().strip() == "holding", "a row held")
        t = time.monotonic()
        expect_error(lambda: pg.sql(ADMIN, "SELECT pam_mfa.reset_all()"), "lock timeout")
        check(time.monotonic() - t < 10, "gave up")
    finally:
        holder.kill()
        holder.wait()
    check(len(pg.sql(ADMIN, "SELECT pam_mfa.list()")) == 4, "nothing forgotten")
    check(pg.one(ADMIN, "SELECT pam_mfa.reset_all()") == ["4"], "four users")
    check(pg.sql(ADMIN, "SELECT pam_mfa.list()") == [], "nobody left")
    check(owner_value(pg, "SELECT (SELECT count(*) FROM pam_mfa.factors) + "
                          "(SELECT count(*) FROM pam_mfa.pending_code)") == "0", "nothing left")
    check(pg.one(ADMIN, "SELECT pam_mfa.reset_all()") == ["0"], "again: none")
    check(enroll_sent(pg, "gus", 0, code, "gus@example.org")[0] == "not_enrolled",
          "a code sent before is no code")
    print("ok: reset by label, method and all, notify, reset_all counts")


PHONE = "+15551230100"


def test_sms(pg):
    check(pg.one(ADMIN, "SELECT factors_per_method, sms_code_ttl, sms_resend_after, "
                        "sms_enroll_messages, sms_timeout FROM pam_mfa.set_settings()")
          == ["3", "300", "30", "5", "10"], "core/config.c's defaults")
    hostile = ["+1 555 123 0100", "+1555abc0100", "+" + "1" * 40, "+15551230100\r\n",
               "+15551230100\n", "15551230100", "+05551230100", "+1555123", "", "+",
               "++15551230100", "+1555123010O", "+1-555-123-0100", "+1555１230100",
               "+1555123010000000", "tel:+15551230100", "+15551230100;ext=1"]
    for bad in hostile:
        expect_error(lambda: provision_dest(pg, "alice", "sms", bad), "invalid phone number")
        expect_error(lambda: book(pg, "alice", "enroll", 0, method="sms", dest=bad),
                     "invalid phone number")
        expect_error(lambda: pg.sql(OWNER, "BEGIN; INSERT INTO pam_mfa.users (user_name) "
                                           "VALUES ('z'); INSERT INTO pam_mfa.factors "
                                           "(user_name, id, method, dest) VALUES ('z', 1, 'sms', "
                                           f"{quote(bad)})"), "violates check constraint")
    check(pg.sql(ADMIN, "SELECT pam_mfa.list()") == [], "nothing written")
    for good in ("+12345678", "+4915112345678", "+123456789012345"):
        check(provision_dest(pg, "zed", "sms", good, mode="replace") in ("provisioned", "replaced"),
              f"accepted {good}")
    expect_error(lambda: provision_dest(pg, "alice", "sms", "alice@example.org"),
                 "invalid phone number")
    expect_error(lambda: provision_dest(pg, "alice", "email", PHONE), "invalid email address")

    # Enrollment by SMS, the code's life and the limits the server's sms.*.
    pg.sql(ADMIN, "SELECT pam_mfa.set_settings(p_sms_code_ttl => 120, p_sms_resend_after => 60, "
                  "p_sms_timeout => 20, p_sms_enroll_messages => 1)")
    code = send_code(pg, "alice", "enroll", 0, method="sms", dest=PHONE)
    s = summary(pg, "alice")
    check(100 < int(s["code_expires"]) - time.time() <= 120, f"sms_code_ttl: {s}")
    check(methods(pg, "alice") == [("sms", PHONE, "f")], "a number being proved")
    b = book(pg, "alice", "enroll", 0, method="sms", dest=PHONE)
    check(b["result"] == "wait" and 30 < b["wait"] <= 60, f"sms_resend_after: {b}")
    check(enroll_sent(pg, "alice", 0, code, PHONE, method="sms", label="mobile")
          == ("ok", 0, False), "proved")
    fid = factor(pg, "alice", "sms")
    s = summary(pg, "alice")
    check(s["factors"][0]["label"] == "mobile" and s["factors_version"] != "0", f"enrolled {s}")
    # A login code: one on its way holds another back for sms_timeout + 5.
    age(pg, "alice", 61)
    b = book(pg, "alice", method="sms", fid=fid)
    check(b["result"] == "ok", f"booked: {b}")
    b2 = book(pg, "alice", method="sms", fid=fid, role=HOST_B)
    check(b2["result"] == "wait" and b2["sending"] and 15 < b2["wait"] <= 25, f"in flight: {b2}")
    check(sent(pg, "alice", b, "4242420") == "ok", "sent, seven digits")
    b3 = book(pg, "alice", method="sms", fid=fid)
    check(b3["result"] == "wait" and not b3["sending"] and 30 < b3["wait"] <= 60, f"resend {b3}")
    check(verify_sent(pg, "alice", "4242420", fid + 1)[0] == "not_enrolled", "another factor")
    check(verify_sent(pg, "alice", "4242421", fid) == ("wrong", 1, False), "wrong, counted")
    check(verify_sent(pg, "alice", "4242420", fid) == ("ok", 1, False), "ok, nothing forgiven")
    check(summary(pg, "alice")["factors"][0]["last_used"] != "0", "used")
    # Codes to destinations being proved count together, each method
    # against its own bound (email 5, sms 1 here).
    v = version_of(pg, "alice")
    age(pg, "alice", 61)
    b = book(pg, "alice", "enroll", v, method="sms", dest="+15551230101")
    check(b["result"] == "wait" and 86000 < b["wait"] <= 86400, f"the day's second sms: {b}")
    b = book(pg, "alice", "enroll", v, method="email", dest=ALICE)
    check(b["result"] == "ok" and b["enroll_codes"] == 1, f"an email still may: {b}")
    unbook(pg, "alice", b)
    # A new number in place of the old one (mfa-setup, after proving it).
    age(pg, "alice", 86400)
    pg.sql(OWNER, "UPDATE pam_mfa.users SET enroll_codes = 0, enroll_codes_since = NULL")
    code = send_code(pg, "alice", method="sms", fid=fid)
    check(verify_sent(pg, "alice", code, fid)[0] == "ok", "the number proves")
    age(pg, "alice", 61)
    new = "+15551230199"
    code = send_code(pg, "alice", "enroll", v, method="sms", dest=new)
    check(methods(pg, "alice") == [("sms", PHONE, "t"), ("sms", new, "f")], "the new one to prove")
    expect_error(lambda: enroll_sent(pg, "alice", v, code, new, method="sms", replaces=99),
                 "not a verified one of the method")
    check(enroll_sent(pg, "alice", v, code, new, method="sms", replaces=fid)[0] == "ok", "changed")
    s = summary(pg, "alice")
    check([(f["dest"], f["label"], f["verified"]) for f in s["factors"]] == [(new, "", "t")],
          f"the old number went: {s['factors']}")
    # A code pending for the number is no code for an address.
    provision_dest(pg, "alice", "email", ALICE)
    nfid, efid = factor(pg, "alice", "sms"), factor(pg, "alice", "email")
    age(pg, "alice", 61)
    code = send_code(pg, "alice", method="sms", fid=nfid)
    check(verify_sent(pg, "alice", code, efid)[0] == "not_enrolled", "not the address's")
    check(book(pg, "alice", method="email", fid=nfid)["result"] == "stale", "a number by email")
    print("ok: numbers in E.164 only, sms limits the server's, codes count with email's")


def test_import(pg):
    s1, s2 = os.urandom(20), os.urandom(32)
    factors = [
        {"method": "totp", "label": "phone", "verified": True, "by_admin": False,
         "added": 1790000000, "last_used": 1790000100, "secret": s1.hex(), "algorithm": "sha1",
         "digits": 6, "period": 30, "last_step": 59666670},
        {"method": "totp", "label": "", "verified": True, "by_admin": True, "added": 1790000200,
         "last_used": 0, "secret": s2.hex(), "algorithm": "sha256", "digits": 8, "period": 60,
         "last_step": 0},
        {"method": "email", "label": "work", "verified": True, "by_admin": True,
         "added": 1790000300, "last_used": 0, "dest": "alice@example.org"},
        {"method": "sms", "label": "", "verified": False, "by_admin": False, "added": 0,
         "last_used": 0, "dest": PHONE},
    ]

    def imp(user, fs, skip=0, replace=False, role=ADMIN):
        return pg.one(role, f"SELECT pam_mfa.import_user('{user}', "
                            f"{quote(json.dumps(fs))}::jsonb, {skip}, {str(replace).lower()})")[0]

    check(imp("alice", factors, skip=1790000400) == "imported", "imported")
    s = summary(pg, "alice")
    check([(f["id"], f["method"], f["label"], f["verified"], f["by_admin"], f["added"],
            f["last_used"], f["dest"], f["totp_algorithm"], f["totp_digits"], f["totp_period"])
           for f in s["factors"]]
          == [("1", "totp", "phone", "t", "f", "1790000000", "1790000100", "", "sha1", "6", "30"),
              ("2", "totp", "", "t", "t", "1790000200", "0", "", "sha256", "8", "60"),
              ("3", "email", "work", "t", "t", "1790000300", "0", "alice@example.org", "", "",
               ""),
              ("4", "sms", "", "f", "f", "0", "0", PHONE, "", "", "")], f"the factors: {s}")
    check(s["skip_since"] == "1790000400" and s["factors_version"] != "0", f"skip, basis: {s}")
    check(owner_value(pg, "SELECT encode(secret, 'hex') FROM pam_mfa.factors "
                          "WHERE user_name = 'alice' AND id = 1") == s1.hex(), "the secret")
    check(last_step(pg, "alice", 1) == 59666670, "the replay step")
    check(imp("alice", factors) == "exists", "exists")
    # Replaced: new ids, the same secret's step kept, failures kept.
    pg.sql(OWNER, "UPDATE pam_mfa.factors SET last_step = 59666680 WHERE user_name = 'alice' "
                  "AND id = 1")
    verify(pg, HOST_A, "alice", wrong_code(s1))
    v = version_of(pg, "alice")
    check(imp("alice", factors[:1], replace=True) == "replaced", "replaced")
    s = summary(pg, "alice")
    check([f["id"] for f in s["factors"]] == ["5"] and last_step(pg, "alice", 5) == 59666680
          and s["fail_count"] == "1" and s["skip_since"] == "0"
          and s["factors_version"] not in ("0", v), f"replaced: {s}")
    # A skip alone, and what is refused.
    check(imp("bob", [], skip=1790000000) == "imported", "a skip alone")
    check(summary(pg, "bob")["factors_version"] == "0", "no factor, no basis")
    app = factors[0]
    bad = [
        [], [{**app, "extra": 1}], [{**app, "digits": "6"}], [{**app, "secret": "00"}],
        [{**app, "secret": s1.hex().upper()}], [{**app, "method": "pigeon"}],
        [{**app, "dest": PHONE}], [{**app, "verified": False}], [{**app, "label": " x"}],
        [{**app, "last_step": -1}], [{**app, "last_step": 1.5}], [{**app, "added": -1}],
        [{k: x for k, x in app.items() if k != "verified"}],
        [factors[2], factors[2]], [factors[3], {**factors[3], "dest": "+15551230101"}],
        [{**factors[2], "dest": "nobody"}], [{**factors[3], "digits": 6}],
        [{**factors[2], "verified": "yes"}], [app] * 25, ["totp"], {"method": "totp"},
    ]
    for fs in bad:
        expect_error(lambda: imp("carol", fs), "ERROR")
    check(summary(pg, "carol")["user_exists"] == "f", "nothing written")
    expect_error(lambda: imp("carol", factors, role=HOST_A), "permission denied")
    print("ok: import_user takes a record's factors and skip, refuses the malformed")


def test_upgrade(pg):
    """Version 8 from a version 7 database that holds TOTP and email state:
    every factor, pending code, booking and count carried over."""
    old = tempfile.mkdtemp(prefix="pam_mfa-sql7-")
    try:
        for name in sorted(os.listdir(SQL_DIR)):
            if name.endswith(".sql") and int(name[:3]) <= 7:
                shutil.copy(os.path.join(SQL_DIR, name), old)
        pg.sql(SUPER, f"CREATE DATABASE v7 OWNER {OWNER}", db="postgres")
        for name in sorted(os.listdir(old)):
            pgrig.run(pg.psql_cmd(OWNER, db="v7", extra=("--single-transaction", "-f",
                                                         os.path.join(old, name))), env=pg.env())
    finally:
        shutil.rmtree(old)

    def q(role, sql):
        return pg.sql(role, sql, db="v7")

    s1, s2 = os.urandom(20), os.urandom(20)
    # alice: an app used once and a verified address with a pending code.
    q(ADMIN, f"SELECT pam_mfa.provision_totp('alice', {lit(s1)}, 'sha1', 6, 30, 0, false)")
    q(ADMIN, "SELECT pam_mfa.provision_email('alice', 'alice@example.org', false)")
    settle_step()
    code = code_now(s1)
    check(q(HOST_A, f"SELECT outcome FROM pam_mfa.verify_totp('alice', '{code}', 's', 'r')")
          == [["ok"]], "a v7 login")
    b = q(HOST_A, "SELECT booked_at FROM pam_mfa.email_book('alice', 'login', NULL, "
                  "'alice@example.org')")[0][0]
    check(q(HOST_A, f"SELECT pam_mfa.email_sent('alice', 'login', NULL, 'alice@example.org', "
                    f"'135791', {b})") == [["ok"]], "a v7 code")
    # bob: an address the admin sent a code to, not yet proved; a failure.
    q(ADMIN, "SELECT pam_mfa.email_code_by_admin('bob', 'bob@example.org', '246802', false)")
    check(q(HOST_A, "SELECT outcome FROM pam_mfa.enroll_email('bob', 0, 'bob@example.org', "
                    "'000000', 's', 'r')") == [["wrong"]], "a v7 failure")
    # carol: only a booking of an enrollment mail on its way (no address yet).
    check(q(HOST_A, "SELECT result FROM pam_mfa.email_book('carol', 'enroll', 0, "
                    "'carol@example.org')") == [["ok"]], "a v7 booking")
    # dave: an app never used.
    q(ADMIN, f"SELECT pam_mfa.provision_totp('dave', {lit(s2)}, 'sha256', 8, 60, 0, false)")
    users_before = q(OWNER, "SELECT user_name, factors_version, fail_count, last_login "
                            "FROM pam_mfa.users ORDER BY 1")
    totp_before = q(OWNER, "SELECT user_name, enrolled_at FROM pam_mfa.totp ORDER BY 1")

    pgrig.run(pg.psql_cmd(OWNER, db="v7", extra=("--single-transaction", "-f",
                                                 os.path.join(SQL_DIR, "008_factors.sql"))),
              env=pg.env())
    check(q(OWNER, "SELECT max(version) FROM pam_mfa.schema_version") == [["8"]], "at 8")
    check(q(OWNER, "SELECT pg_catalog.to_regclass('pam_mfa.totp') IS NULL AND "
                   "pg_catalog.to_regclass('pam_mfa.email') IS NULL") == [["t"]], "old tables gone")
    check(q(OWNER, "SELECT user_name, factors_version, fail_count, last_login "
                   "FROM pam_mfa.users ORDER BY 1") == users_before, "the users' rows as they were")
    rows = q(OWNER, "SELECT user_name, id, method, label, verified, by_admin, added, "
                    "encode(secret, 'hex'), algorithm, digits, period, last_step, dest "
                    "FROM pam_mfa.factors ORDER BY 1, 2")
    step = int(time.time()) // 30
    check(len(rows) == 4, f"four factors: {rows}")
    a1, a2, b1, d1 = rows
    check(a1[:6] == ["alice", "1", "totp", "", "t", "f"] and a1[7:10] == [s1.hex(), "sha1", "6"]
          and a1[10] == "30" and abs(int(a1[11]) - step) <= 1 and a1[12] == ""
          and a1[6] == totp_before[0][1], f"alice's app: {a1}")
    check(a2[:6] == ["alice", "2", "email", "", "t", "t"] and a2[6] != ""
          and a2[12] == "alice@example.org" and a2[7] == "", f"alice's address: {a2}")
    check(b1[:7] == ["bob", "1", "email", "", "f", "t", ""] and b1[12] == "bob@example.org",
          f"bob's address to prove: {b1}")
    check(d1[:3] == ["dave", "1", "totp"] and d1[8:12] == ["sha256", "8", "60", "0"], f"dave: {d1}")
    check(q(OWNER, "SELECT user_name, factor_id FROM pam_mfa.pending_code ORDER BY 1")
          == [["alice", "2"], ["bob", "1"]], "the pending codes name their factors")
    check(q(OWNER, "SELECT user_name, next_factor_id, booked_method, enroll_codes, "
                   "booked_at IS NOT NULL, code_sent_at IS NOT NULL FROM pam_mfa.users ORDER BY 1")
          == [["alice", "3", "", "0", "f", "t"], ["bob", "2", "", "0", "f", "t"],
              ["carol", "1", "email", "1", "t", "f"], ["dave", "2", "", "0", "f", "f"]],
          "the code state on the users' rows")
    # The state works through the new functions.
    check(q(HOST_A, f"SELECT outcome FROM pam_mfa.verify_totp('alice', '{code}', 's', 'r')")
          == [["replay"]], "the step used before stays spent")
    check(q(HOST_A, "SELECT outcome, factor_id FROM pam_mfa.verify_sent('alice', '135791', 2, "
                    "'s', 'r')") == [["ok", "2"]], "alice's pending code logs her in")
    check(q(HOST_A, "SELECT outcome, fail_count FROM pam_mfa.enroll_sent('bob', 0, 'email', "
                    "'bob@example.org', NULL, 0, '246802', 's', 'r')") == [["ok", "1"]],
          "bob proves his address with the admin's code")
    check(q(HOST_A, "SELECT result, sending FROM pam_mfa.code_book('carol', 'enroll', 0, 'email', "
                    "NULL, 'carol@example.org')") == [["wait", "t"]],
          "carol's booking still holds")
    # Nothing of the old functions is left to call, and the rights are as designed.
    for fn in ("verify_email('a', '1', 'a@b.cd', 's', 'r')", "email_book('a', 'login', NULL, 'a@b.cd')",
               "provision_email('a', 'a@b.cd', true)"):
        expect_error(lambda: q(ADMIN, f"SELECT pam_mfa.{fn}"), "does not exist")
    # db check knows the newest design: the migrations after 8 too.
    for name in sorted(os.listdir(SQL_DIR)):
        if name.endswith(".sql") and int(name[:3]) > 8:
            pgrig.run(pg.psql_cmd(OWNER, db="v7", extra=("--single-transaction", "-f",
                                                         os.path.join(SQL_DIR, name))),
                      env=pg.env())
    problems = rights_problems(pg, db="v7")
    check(problems == [], f"the rights as designed after the upgrade: {problems}")
    print("ok: version 7's apps, addresses, codes and bookings are version 8's factors")


# ------------------------------------------------------------------ db check

def c_string(src, name):
    """The C string constant name of src (adjacent literals joined)."""
    m = re.search(r"\b" + name + r"\[\]\s*=\s*((?:\s*\"(?:[^\"\\]|\\.)*\")+)\s*;", src)
    check(m is not None, f"{name} in store/pg_admin.c")
    parts = re.findall(r"\"((?:[^\"\\]|\\.)*)\"", m.group(1))
    return "".join(parts).encode().decode("unicode_escape")


def rights_problems(pg, role=ADMIN, db="pam_mfa"):
    """What mfactl db check would say of the rights: store/pg_admin.c's own
    query and designed lists, run as role."""
    src = open(os.path.join(SRC_DIR, "store", "pg_admin.c")).read()
    sql = c_string(src, "rights_sql")
    host, admin = c_string(src, "host_functions"), c_string(src, "admin_functions")
    sql = sql.replace("$1::text[]", quote(host) + "::text[]").replace(
        "$2::text[]", quote(admin) + "::text[]")
    check("$" not in sql.replace("$$", ""), "every parameter replaced")
    return [r[0] for r in pg.sql(role, sql, db=db)]


def test_db_rights(pg):
    for role in (ADMIN, HOST_A, OWNER):
        problems = rights_problems(pg, role)
        check(problems == [], f"as designed, seen by {role}: {problems}")
    changes = [
        ("GRANT SELECT ON pam_mfa.factors TO pam_mfa_host", "pam_mfa_host may SELECT pam_mfa.factors"),
        ("GRANT SELECT (user_name) ON pam_mfa.pending_code TO pam_mfa_admin",
         "pam_mfa_admin may SELECT pam_mfa.pending_code"),
        ("GRANT EXECUTE ON FUNCTION pam_mfa.reset_all() TO pam_mfa_host",
         "pam_mfa_host may EXECUTE pam_mfa.reset_all()"),
        ("GRANT EXECUTE ON FUNCTION pam_mfa.import_user(text, jsonb, bigint, boolean, jsonb, "
         "jsonb) TO pam_mfa_host",
         "pam_mfa_host may EXECUTE pam_mfa.import_user(text,jsonb,bigint,boolean,jsonb,jsonb)"),
        ("GRANT SELECT ON pam_mfa.recovery_codes TO pam_mfa_host",
         "pam_mfa_host may SELECT pam_mfa.recovery_codes"),
        ("GRANT EXECUTE ON FUNCTION pam_mfa.bypass_new(text, text, integer, bigint) TO "
         "pam_mfa_host", "pam_mfa_host may EXECUTE pam_mfa.bypass_new("),
        ("GRANT EXECUTE ON FUNCTION pam_mfa.remove_factor(text, bigint, integer, boolean) TO "
         "pam_mfa_admin", "pam_mfa_admin may EXECUTE pam_mfa.remove_factor("),
        ("GRANT EXECUTE ON FUNCTION pam_mfa.proof_holds(text, timestamptz) TO PUBLIC",
         "public may EXECUTE pam_mfa.proof_holds("),
        ("REVOKE EXECUTE ON FUNCTION pam_mfa.verify_sent(text, text, integer, text, text) "
         "FROM pam_mfa_host", "pam_mfa_host cannot EXECUTE pam_mfa.verify_sent"),
        ("ALTER FUNCTION pam_mfa.code_book(text, text, bigint, text, integer, text) "
         "RESET search_path", "is SECURITY DEFINER without SET search_path"),
    ]
    for change, undo_hint in changes:
        pg.sql(SUPER, change)
        problems = rights_problems(pg)
        check(any(p.startswith(undo_hint) or undo_hint in p for p in problems),
              f"{change}: {problems}")
    # An old function left behind with its right is caught by its name.
    pg.sql(OWNER, "CREATE FUNCTION pam_mfa.verify_email(text) RETURNS text LANGUAGE sql "
                  "SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS 'SELECT $1';\n"
                  "GRANT EXECUTE ON FUNCTION pam_mfa.verify_email(text) TO pam_mfa_host")
    check("pam_mfa_host may EXECUTE pam_mfa.verify_email(text)" in rights_problems(pg),
          "a stale function's right")
    print("ok: db check's query finds the rights as designed after 009, and each extra one")



def test_admin_change_ends_a_proof(pg):
    """A host's proof holds for the factors it was shown on only: after an
    administrator resets and replaces the user's apps (a host thought
    compromised), that host can neither add its own app nor remove the
    administrator's with the proof it had."""
    s1, s_admin, s_attacker = os.urandom(20), os.urandom(20), os.urandom(20)
    provision(pg, "alice", s1)
    settle_step()
    t = int(time.time())
    check(verify(pg, HOST_A, "alice", oathtool(s1, t))[0] == "ok", "the user logs in on host a")
    pg.one(ADMIN, "SELECT * FROM pam_mfa.reset('alice', 'totp', NULL)")
    check(provision(pg, "alice", s_admin) == "provisioned", "the admin's new app")
    v = version_of(pg, "alice")
    o = enroll_totp(pg, "alice", v, s_attacker, oathtool(s_attacker, t))
    check(o[0] == "not_enrolled", "host a cannot add its own app on the new basis: %r" % (o,))
    fid = summary(pg, "alice")["factors"][0]["id"]
    r = pg.one(HOST_A, "SELECT pam_mfa.remove_factor('alice', %s, %s, false)"
               % (version_of(pg, "alice"), fid))
    check(r == ["unproved"], "host a cannot remove the admin's app: %r" % (r,))
    check(len(summary(pg, "alice")["factors"]) == 1, "the admin's app alone stays")
    print("ok: an administrator's change ends a host's proof")


# ------------------------------------------------------------------ version 9

def kept(code, salt=None):
    """A recovery or bypass code as a files record keeps it: core/code_hash.c's
    HMAC-SHA256 keyed with a 16-byte salt, computed here without the
    database."""
    salt = salt or os.urandom(16)
    return salt.hex(), hmac.new(salt, code.encode(), hashlib.sha256).hexdigest()


def backup(pg, role, user, code):
    o, n, locked, kind, left = pg.one(role, f"SELECT * FROM pam_mfa.verify_backup('{user}', "
                                            f"{quote(code)}, 'sshd', '192.0.2.9')")
    return o, int(n), locked == "t", kind, int(left)


def recovery_of(pg, user):
    r = pg.one(ADMIN, f"SELECT max(recovery_left), max(recovery_made), max(recovery_source), "
                      f"max(bypass_uses_left) FROM pam_mfa.summary('{user}')")
    return int(r[0]), int(r[1]), r[2], int(r[3])


def test_recovery(pg):
    """Version 9's tables and functions as SQL: the trigger that drops the
    codes with the last verified factor (and keeps them through a
    replacement), import_user's hashes checked against an HMAC computed
    here, what import_user refuses."""
    codes = ["abcdefghjkmn", "23456789abcd", "pqrstuvwxyz2"]
    arr = "'{" + ",".join(codes) + "}'"
    s1, s2 = os.urandom(20), os.urandom(20)
    # An app alone: an administrator's set, an app in place of the app.
    provision(pg, "alice", s1)
    check(pg.one(ADMIN, f"SELECT pam_mfa.recovery_admin('alice', {arr}, 'admin')") == ["ok"],
          "the admin's set")
    check(pg.one(ADMIN, "SELECT pam_mfa.bypass_new('alice', 'zzzzzzzzzzzz', 3, "
                        f"{int(time.time()) + 3600})") == ["ok"], "a bypass code")
    check(recovery_of(pg, "alice") == (3, 3, "admin", 3), recovery_of(pg, "alice"))
    check(provision(pg, "alice", s2, mode="replace") == "replaced", "the app replaced")
    check(recovery_of(pg, "alice") == (3, 3, "admin", 3), "a replacement keeps them")
    # The hosts never see a salt or a hash, not even through summary().
    for rows in (pg.sql(HOST_A, "SELECT * FROM pam_mfa.summary('alice')"),
                 pg.sql(ADMIN, "SELECT * FROM pam_mfa.summaries()")):
        check(not any("\\x" in v for r in rows for v in r), f"no bytes: {rows}")
    for t in ("recovery_sets", "recovery_codes", "bypass_codes"):
        expect_error(lambda: pg.sql(HOST_A, f"SELECT * FROM pam_mfa.{t}"), "permission denied")
    # An address, then the app reset: the address still stands in.
    provision_dest(pg, "alice", "email", "alice@example.org")
    pg.one(ADMIN, "SELECT * FROM pam_mfa.reset('alice', 'totp', NULL)")
    check(recovery_of(pg, "alice") == (3, 3, "admin", 3), "a factor is left: kept")
    # The last verified factor reset: the set and the bypass code go.
    pg.one(ADMIN, "SELECT * FROM pam_mfa.reset('alice', 'email', NULL)")
    check(recovery_of(pg, "alice") == (0, 0, "", 0), recovery_of(pg, "alice"))
    check(owner_value(pg, "SELECT count(*) FROM pam_mfa.recovery_codes") == "0", "no code left")
    # An admin's code to a new address in place of the only one: nothing
    # verified is left.
    provision_dest(pg, "bob", "email", "bob@example.org")
    pg.one(ADMIN, f"SELECT pam_mfa.recovery_admin('bob', {arr}, 'admin')")
    check(pg.one(ADMIN, "SELECT pam_mfa.code_by_admin('bob', 'email', 'bob2@example.org', "
                        "'123456', true)") == ["ok"], "replaced by an address to prove")
    check(recovery_of(pg, "bob") == (0, 0, "", 0), "no verified factor: no codes")
    check(pg.one(ADMIN, f"SELECT pam_mfa.recovery_admin('bob', {arr}, 'admin')") == ["missing"],
          "no set without a verified factor")
    check(pg.one(ADMIN, "SELECT pam_mfa.bypass_new('bob', 'zzzzzzzzzzzz', 1, 4102444800)")
          == ["missing"], "nothing to bypass")
    for bad in ("'{}'", "'{abcdefghjkmn,abcdefghjkmn}'", "'{abcdefghijkl}'", "'{ABCDEFGHJKMN}'",
                "'{1234567}'", "'{{abcdefghjkmn}}'", "NULL",
                "'{" + ",".join(["%08d" % i for i in range(21)]) + "}'"):
        expect_error(lambda: pg.sql(ADMIN, f"SELECT pam_mfa.recovery_admin('alice', {bad}, "
                                           "'admin')"), "invalid recovery codes")
    expect_error(lambda: pg.sql(ADMIN, f"SELECT pam_mfa.recovery_admin('alice', {arr}, 'user')"),
                 "admin or imported")
    expect_error(lambda: pg.sql(HOST_A, "SELECT pam_mfa.lock_notice_due('alice', 59)"),
                 "interval")

    # import_user: the hashes as a files record keeps them, used or not.
    salt, h = kept("k7m9qrst2345")
    _, h_used = kept("k7m9qrst2346", bytes.fromhex(salt))
    bsalt, bh = kept("b3b3b3b3b3b3")
    rec = {"source": "user", "since": 1790000000,
           "codes": [{"salt": salt, "hash": h, "used": 0},
                     {"salt": salt, "hash": h_used, "used": 1790000100},
                     {"salt": kept("x")[0], "hash": kept("x")[1], "used": 0}]}
    byp = {"salt": bsalt, "hash": bh, "uses_left": 1, "expires": int(time.time()) + 600,
           "made": 1790000000}
    factors = json.dumps([{"method": "totp", "label": "", "verified": True, "by_admin": False,
                           "added": 1, "last_used": 0, "secret": s1.hex(),
                           "algorithm": "sha1", "digits": 6, "period": 30, "last_step": 0}])

    def imp(user, r, b, replace="false", f=factors):
        return pg.one(ADMIN, f"SELECT pam_mfa.import_user('{user}', {quote(f)}::jsonb, 0, "
                             f"{replace}, {quote(r and json.dumps(r))}::jsonb, "
                             f"{quote(b and json.dumps(b))}::jsonb)")[0]
    check(imp("carol", rec, byp) == "imported", "imported")
    check(recovery_of(pg, "carol") == (2, 3, "user", 1), recovery_of(pg, "carol"))
    check(owner_value(pg, "SELECT to_char(since, 'YYYY') FROM pam_mfa.recovery_sets "
                          "WHERE user_name = 'carol'") == "2026", "since kept")
    check(backup(pg, HOST_A, "carol", "k7m9qrst2346")[0] == "wrong", "a code used in files")
    check(backup(pg, HOST_A, "carol", "k7m9qrst2345")[:5] == ("ok", 0, False, "recovery", 1),
          "a code the files store made logs in")
    check(backup(pg, HOST_B, "carol", "k7m9qrst2345")[0] == "wrong", "once")
    check(backup(pg, HOST_B, "carol", "b3b3b3b3b3b3")[:5] == ("ok", 0, False, "bypass", 0),
          "the bypass code copied")
    # Replaced without a set: the database's goes.
    check(imp("carol", None, None, "true") == "replaced", "replaced")
    check(recovery_of(pg, "carol") == (0, 0, "", 0), "the record had none")
    # Without a verified factor a set is not kept.
    unverified = json.dumps([{"method": "email", "label": "", "verified": False,
                              "by_admin": False, "added": 0, "last_used": 0,
                              "dest": "d@example.org"}])
    check(imp("dave", rec, byp, f=unverified) == "imported", "imported")
    check(recovery_of(pg, "dave") == (0, 0, "", 0), "no factor, no set")
    for bad_r, bad_b in (({**rec, "extra": 1}, None), ({**rec, "source": "x"}, None),
                         ({**rec, "codes": []}, None),
                         ({**rec, "codes": [{"salt": salt, "hash": h}]}, None),
                         ({**rec, "codes": [{"salt": salt[:-2], "hash": h, "used": 0}]}, None),
                         ({**rec, "codes": [{"salt": salt, "hash": h.upper(), "used": 0}]}, None),
                         ({**rec, "codes": rec["codes"] * 7}, None),
                         (None, {**byp, "uses_left": 101}), (None, {**byp, "uses_left": 1.5}),
                         (None, {**byp, "hash": "00"}), (None, {**byp, "expires": 0}),
                         (None, {**byp, "other": 1})):
        expect_error(lambda: imp("erin", bad_r, bad_b), "invalid")
    check(pg.one(ADMIN, "SELECT count(*) FROM pam_mfa.list() x WHERE x = 'erin'") == ["0"],
          "nothing written")
    print("ok: the codes go with the last verified factor only; imported hashes work once")


def test_upgrade_9(pg):
    """mfactl db init from a version 8 database holding apps, an address, a
    pending code and a proof: every row kept, logins working, db check
    clean, and the new functions at work on the old users."""
    old = tempfile.mkdtemp(prefix="pam_mfa-sql8-")
    try:
        for name in sorted(os.listdir(SQL_DIR)):
            if name.endswith(".sql") and int(name[:3]) <= 8:
                shutil.copy(os.path.join(SQL_DIR, name), old)
        os.chmod(old, 0o755)
        pg.sql(SUPER, f"CREATE DATABASE v8 OWNER {OWNER}", db="postgres")
        proc = pg.db_init(sql_dir=old, db="v8")
        check(proc.returncode == 0 and "version 8" in proc.stdout, f"v8: {proc}")
    finally:
        shutil.rmtree(old)

    def q(role, sql):
        return pg.sql(role, sql, db="v8")

    s1 = os.urandom(20)
    q(ADMIN, f"SELECT pam_mfa.provision_totp('alice', {lit(s1)}, 'sha1', 6, 30, 0, 'phone', 'new')")
    q(ADMIN, "SELECT pam_mfa.provision_dest('alice', 'email', 'alice@example.org', NULL, 'add')")
    q(ADMIN, "SELECT pam_mfa.code_by_admin('bob', 'sms', '+15551230100', '246802', false)")
    settle_step()
    code = code_now(s1)
    check(q(HOST_A, f"SELECT outcome FROM pam_mfa.verify_totp('alice', '{code}', 's', 'r')")
          == [["ok"]], "a v8 login, and host a's proof")
    check(q(HOST_A, "SELECT outcome FROM pam_mfa.verify_totp('alice', '000000', 's', 'r')")
          in ([["wrong"]], [["replay"]]), "a failure")
    users_before = q(OWNER, "SELECT * FROM pam_mfa.users ORDER BY 1")
    factors_before = q(OWNER, "SELECT * FROM pam_mfa.factors ORDER BY 1, 2")
    pending_before = q(OWNER, "SELECT * FROM pam_mfa.pending_code ORDER BY 1")

    proc = pg.db_init(db="v8")
    check(proc.returncode == 0 and "version 9 (was 8)" in proc.stdout, f"upgrade: {proc}")
    check([r[:-1] for r in q(OWNER, "SELECT * FROM pam_mfa.users ORDER BY 1")] == users_before,
          "the users' rows as they were, lock_notice_at added")
    check(q(OWNER, "SELECT * FROM pam_mfa.factors ORDER BY 1, 2") == factors_before, "factors")
    check(q(OWNER, "SELECT * FROM pam_mfa.pending_code ORDER BY 1") == pending_before, "codes")
    check(rights_problems(pg, db="v8") == [], f"db check: {rights_problems(pg, db='v8')}")
    proc = pg.run_mfactl("db", "check", role=ADMIN, db="v8")
    check(proc.returncode == 0, f"mfactl db check: {proc}")
    check(q(HOST_A, f"SELECT outcome FROM pam_mfa.verify_totp('alice', '{code}', 's', 'r')")
          == [["replay"]], "the step used before stays spent")
    check(q(HOST_A, "SELECT outcome FROM pam_mfa.enroll_sent('bob', 0, 'sms', '+15551230100', "
                    "NULL, 0, '246802', 's', 'r')") == [["ok"]], "bob's pending code")
    # Host a's proof of version 8 holds for a set of recovery codes.
    v = q(HOST_A, "SELECT max(factors_version) FROM pam_mfa.summary('alice')")[0][0]
    check(q(HOST_B, f"SELECT pam_mfa.recovery_new('alice', {v}, '{{abcdefghjkmn}}')")
          == [["unproved"]], "not host b's proof")
    check(q(HOST_A, f"SELECT pam_mfa.recovery_new('alice', {v}, '{{abcdefghjkmn}}')")
          == [["ok"]], "host a's proof of version 8")
    check(q(HOST_B, "SELECT outcome, kind, remaining FROM pam_mfa.verify_backup('alice', "
                    "'abcdefghjkmn', 's', 'r')") == [["ok", "recovery", "0"]], "the code works")
    print("ok: a version 8 database upgraded by db init keeps its state and checks clean")


TESTS = {name[5:].replace("_", "-"): fn for name, fn in globals().items()
         if name.startswith("test_")}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in TESTS:
        print(f"usage: test_pg.py {{{','.join(TESTS)}}}", file=sys.stderr)
        return 2
    if not os.path.exists(f"{pgrig.PG_BIN}/initdb"):
        print("SKIP: postgresql-15 is not installed")
        return 77
    with pgrig.Cluster(os.path.abspath(SQL_DIR)) as pg:
        try:
            TESTS[sys.argv[1]](pg)
        except BaseException:
            log = os.path.join(pg.dir, "log")
            if os.path.exists(log):
                with open(log) as f:
                    sys.stderr.write("--- server log (tail) ---\n" + "".join(f.readlines()[-40:]))
            raise
    print("ok: server stopped, nothing left running, temporary directory removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
