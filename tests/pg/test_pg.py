#!/usr/bin/python3
"""pam_mfa's SQL (sql/*.sql) on a real PostgreSQL 15: the TOTP code against
RFC 6238 and oathtool, the rights of the hosts' role, verification with its
replay step and lockout, enrollment on a basis, and a race.  Each test starts
its own throwaway server (pgrig.py).  Usage: test_pg.py TEST."""

import hashlib
import hmac
import os
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgrig  # noqa: E402
from pgrig import ADMIN, OWNER, SUPER, PgError  # noqa: E402

SQL_DIR = os.environ.get("MFA_SQL_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "sql")
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


def provision(pg, user, secret, algorithm="sha1", digits=6, period=30, last_step=0, replace=False):
    return pg.one(ADMIN, f"SELECT pam_mfa.provision_totp('{user}', {lit(secret)}, '{algorithm}', "
                         f"{digits}, {period}, {last_step}, {str(replace).lower()})")[0]


def verify(pg, role, user, code, service="sshd", rhost="192.0.2.7"):
    o, n, locked, step = pg.one(role, f"SELECT * FROM pam_mfa.verify_totp('{user}', '{code}', "
                                      f"'{service}', '{rhost}')")
    return o, int(n), locked == "t", int(step)


SUMMARY_COLUMNS = ("user_exists totp_enrolled totp_algorithm totp_digits totp_period "
                   "totp_enrolled_at email_address email_verified email_by_admin "
                   "email_enrolled_at email_code_pending email_code_expires fail_count "
                   "locked_until last_login last_service last_rhost last_host skip_since "
                   "factors_version").split()


def summary(pg, user, role=HOST_A):
    return dict(zip(SUMMARY_COLUMNS, pg.one(role, f"SELECT * FROM pam_mfa.summary('{user}')")))


def owner_value(pg, sql):
    return pg.one(OWNER, sql)[0]


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
    check({"users", "totp", "email", "settings", "schema_version"} <= set(tables),
          f"tables: {tables}")
    provision(pg, "alice", os.urandom(20))
    # Email state with a code hash in it, so that a read would show it.
    pg.sql(ADMIN, "SELECT pam_mfa.email_code_by_admin('alice', 'alice@example.org', '123456', "
                  "false)")
    check(owner_value(pg, "SELECT count(*) FROM pam_mfa.email WHERE code_hash IS NOT NULL") == "1",
          "a hash to hide")
    for role in (HOST_A, ADMIN):
        for t in tables:
            for stmt in (f"SELECT * FROM pam_mfa.{t}",
                         f"UPDATE pam_mfa.{t} SET user_name = user_name" if t in ("users", "totp", "email")
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
                       "pam_mfa.holds_factor('alice')",
                       "pam_mfa.email_code_hash('\\x00'::bytea, '123456')",
                       "pam_mfa.set_pending_code('alice', '123456', now())",
                       "pam_mfa.check_email('alice', '123456', 'alice@example.org', false, "
                       "'s', 'r')",
                       "pam_mfa_crypto.gen_random_bytes(16)"):
            expect_error(lambda: pg.sql(role, f"SELECT {helper}"), "permission denied")
    for admin_only in ("pam_mfa.provision_totp('mallory', '\\x00112233445566778899'::bytea, "
                       "'sha1', 6, 30, 0, true)",
                       "pam_mfa.reset('alice', NULL)", "pam_mfa.unlock('alice')", "pam_mfa.list()",
                       "pam_mfa.provision_email('alice', 'eve@example.org', true)",
                       "pam_mfa.email_code_by_admin('alice', 'eve@example.org', '123456', true)",
                       "pam_mfa.set_settings(p_lockout_attempts => 1000)"):
        expect_error(lambda: pg.sql(HOST_A, f"SELECT {admin_only}"), "permission denied")
    for host_only in ("pam_mfa.verify_totp('alice', '123456', 's', 'r')",
                      "pam_mfa.skip('alice', 0, true)",
                      "pam_mfa.email_book('alice', 'enroll', 0, 'eve@example.org')",
                      "pam_mfa.email_sent('alice', 'login', NULL, 'alice@example.org', "
                      "'123456', 1)",
                      "pam_mfa.email_unbook('alice', 'login', 1, true, 0, 0)",
                      "pam_mfa.verify_email('alice', '123456', 'alice@example.org', 's', 'r')",
                      "pam_mfa.enroll_email('alice', 0, 'alice@example.org', '123456', 's', 'r')"):
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
    check(summary(pg, "alice")["totp_enrolled"] == "t", "host reads alice's summary")
    check(pg.sql(ADMIN, "SELECT pam_mfa.list()") == [["alice"]], "admin lists alice")
    # Nor does any secret leave through the summary.
    check(not any("\\x" in v for v in summary(pg, "alice").values()), "no bytes in a summary")
    # Only TLS gets in.
    p = subprocess.run(pg.psql_cmd(HOST_A) [:-1] + [pg.conninfo(HOST_A, sslmode="disable")],
                       input="SELECT 1", capture_output=True, text=True, env=pg.env())
    check(p.returncode != 0 and "no pg_hba.conf entry" in p.stderr, f"plain TCP: {p.stderr}")
    print(f"ok: hosts and admins read and write none of {tables}")


def test_verify(pg):
    secret = os.urandom(20)
    check(provision(pg, "alice", secret) == "provisioned", "provisioned")
    check(provision(pg, "alice", secret) == "exists", "not replaced without replace")
    check(verify(pg, HOST_A, "nobody", "123456")[0] == "not_enrolled", "unknown user")
    check(pg.sql(ADMIN, "SELECT pam_mfa.list()") == [["alice"]], "no row made by a lookup")
    for bad_user in ("../etc", "-x", ".x", "a b", "x" * 129, "é", ""):
        expect_error(lambda: verify(pg, HOST_A, bad_user, "123456"), "invalid user name")
    expect_error(lambda: verify(pg, HOST_A, "alice", "1" * 65), "invalid code")
    check(summary(pg, "alice")["fail_count"] == "0", "bad arguments count nothing")

    code = code_now(secret)
    o, n, _, step = verify(pg, HOST_A, "alice", code)
    check(o == "ok" and n == 0, f"right code: {o}")
    now_step = int(time.time()) // 30
    check(abs(step - now_step) <= 1, f"step {step} near {now_step}")
    check(int(owner_value(pg, "SELECT last_step FROM pam_mfa.totp WHERE user_name = 'alice'")) == step,
          "step recorded")
    s = summary(pg, "alice")
    check(s["last_service"] == "sshd" and s["last_rhost"] == "192.0.2.7", f"last login {s}")
    check(s["last_host"] == f"{HOST_A}@127.0.0.1", f"the calling host: {s['last_host']}")
    check(abs(int(s["last_login"]) - time.time()) < 60, "last login time")

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
    check(int(owner_value(pg, "SELECT last_step FROM pam_mfa.totp WHERE user_name = 'alice'"))
          == step + 1, "step kept")
    expect_error(lambda: pg.sql(OWNER, "UPDATE pam_mfa.totp SET last_step = last_step - 1"),
                 "may not move backwards")
    check(summary(pg, "alice", role=HOST_B)["last_host"] == f"{HOST_B}@127.0.0.1", "host b recorded")
    # Seven- and eight-digit, sha256 and sha512 factors verify too.
    for user, alg, digits, period in (("bob", "sha256", 8, 60), ("carol", "sha512", 7, 30)):
        sec = os.urandom(32)
        provision(pg, user, sec, alg, digits, period)
        o = verify(pg, HOST_A, user, oathtool(sec, int(time.time()), alg, digits, period))[0]
        check(o == "ok", f"{user} {alg}/{digits}/{period}: {o}")
    print("ok: verify_totp accepts once, refuses replays, counts failures, records the host")


def test_lockout(pg):
    secret = os.urandom(20)
    provision(pg, "bob", secret)
    results = []
    for i in range(5):  # three on one host, two on the other: one lockout
        results.append(verify(pg, HOST_A if i < 3 else HOST_B, "bob", wrong_code(secret)))
    check([r[1] for r in results] == [1, 2, 3, 4, 5], f"counts {results}")
    check([r[2] for r in results] == [False] * 4 + [True], f"locked_now {results}")
    o, n, ln, _ = verify(pg, HOST_A, "bob", wrong_code(secret))
    check(o == "locked" and n == 5 and not ln, f"while locked: {o} {n}")
    o, n, _, _ = verify(pg, HOST_B, "bob", code_now(secret))
    check(o == "locked" and n == 5, f"a right code while locked: {o}")
    check(owner_value(pg, "SELECT last_step FROM pam_mfa.totp WHERE user_name = 'bob'") == "0",
          "a locked check spends no step")
    s = summary(pg, "bob")
    check(int(s["locked_until"]) - time.time() > 800, f"locked for 900 s: {s['locked_until']}")
    check(pg.one(ADMIN, "SELECT pam_mfa.unlock('bob')") == ["5"], "unlock clears five")
    check(pg.one(ADMIN, "SELECT COALESCE(pam_mfa.unlock('nobody')::text, 'null')") == ["null"],
          "unlock of nobody: NULL")
    check(verify(pg, HOST_A, "bob", code_now(secret))[0] == "ok", "ok after unlock")

    # unlock_after 0: until an admin unlocks (-1 in the summary).
    pg.sql(OWNER, "UPDATE pam_mfa.settings SET lockout_attempts = 2, lockout_unlock_after = 0")
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
    check(s0["user_exists"] == "f" and s0["factors_version"] == "0", f"nobody yet: {s0}")
    s1, s2 = os.urandom(20), os.urandom(32)

    def enroll(version, secret, code, alg="sha1", digits=6, period=30, role=HOST_A):
        o, n, _, step = pg.one(role, f"SELECT * FROM pam_mfa.enroll_totp('erin', {version}, "
                                     f"{lit(secret)}, '{alg}', {digits}, {period}, '{code}', "
                                     "'login', 'h.example')")
        return o, int(n), int(step)

    # A wrong proving code: nothing written, not even a user row.
    check(enroll(0, s1, wrong_code(s1))[0] == "wrong", "wrong proving code")
    check(summary(pg, "erin")["user_exists"] == "f", "nothing written for a wrong code")
    # A basis that cannot hold for a user with no row: nothing made.
    check(enroll(7, s1, code_now(s1))[0] == "not_enrolled", "stale basis, no row")
    check(pg.sql(ADMIN, "SELECT pam_mfa.list()") == [], "no row made")

    code1 = code_now(s1)
    o, _, step = enroll(0, s1, code1)
    check(o == "ok", f"enroll: {o}")
    s = summary(pg, "erin")
    v1 = s["factors_version"]
    check(s["totp_enrolled"] == "t" and v1 != "0" and s["last_service"] == "login", f"enrolled: {s}")
    check(verify(pg, HOST_B, "erin", code1)[0] == "replay", "the proving code is spent")

    # An enrollment on the old basis (another one happened meanwhile).
    o, _, _ = enroll(0, s2, code_now(s2, algorithm="sha256"), alg="sha256")
    check(o == "not_enrolled", f"stale basis: {o}")
    check(owner_value(pg, f"SELECT secret = {lit(s1)} FROM pam_mfa.totp WHERE user_name = 'erin'")
          == "t", "the first secret kept")
    check(summary(pg, "erin")["factors_version"] == v1, "version unchanged")
    # A wrong code on the right basis writes nothing either.
    before = pg.one(OWNER, "SELECT u, t FROM pam_mfa.users u, pam_mfa.totp t "
                           "WHERE u.user_name = 'erin' AND t.user_name = 'erin'")
    check(enroll(v1, s2, wrong_code(s2, 8), alg="sha512", digits=8)[0] == "wrong", "wrong")
    after = pg.one(OWNER, "SELECT u, t FROM pam_mfa.users u, pam_mfa.totp t "
                          "WHERE u.user_name = 'erin' AND t.user_name = 'erin'")
    check(before == after, "a wrong enrollment code changes nothing")
    # Even on the current basis a host replaces no factor (version 4): a
    # compromised host must not take over an enrolled user.
    o, _, _ = enroll(v1, s2, code_now(s2, algorithm="sha512", digits=8), alg="sha512", digits=8)
    check(o == "not_enrolled", f"a host replaced an enrolled secret: {o}")
    check(owner_value(pg, f"SELECT secret = {lit(s1)} FROM pam_mfa.totp WHERE user_name = 'erin'")
          == "t", "the first secret kept")
    v2 = summary(pg, "erin")["factors_version"]
    check(v2 == v1, "version unchanged")
    # Nor adds an address beside the app.
    b = book(pg, "erin", "enroll", version=v1)
    check(b["result"] == "ok", f"book: {b}")
    check(sent(pg, "erin", b, "424242", version=v1) == "ok", "sent")
    o, _, _ = enroll_email(pg, "erin", v1, "424242")
    check(o == "not_enrolled", f"a host added an address beside the app: {o}")
    check(summary(pg, "erin")["email_verified"] == "f", "no address verified")

    # A reset changes the basis too; a reset of everything brings back 0.
    pg.sql(ADMIN, "SELECT pam_mfa.reset('erin', 'totp')")
    v3 = summary(pg, "erin")["factors_version"]
    check(v3 not in ("0", v1, v2), f"reset bumps: {v3}")
    check(enroll(v2, s1, code_now(s1))[0] == "not_enrolled", "basis before the reset")

    # Skips: on the current basis only; a remembered one is kept.
    check(pg.one(HOST_A, f"SELECT pam_mfa.skip('erin', {v2}, true)") == ["stale"], "stale skip")
    check(summary(pg, "erin")["skip_since"] == "0", "a stale skip is not kept")
    check(pg.one(HOST_A, f"SELECT pam_mfa.skip('erin', {v3}, true)") == ["ok"], "skip")
    check(summary(pg, "erin")["skip_since"] != "0", "skip remembered")
    check(pg.one(HOST_A, "SELECT pam_mfa.skip('frank', 0, false)") == ["ok"], "skip once")
    check(summary(pg, "frank")["user_exists"] == "f", "a skip without remember writes nothing")
    # An enrollment forgets the skip.
    check(enroll(v3, s1, code_now(s1))[0] == "ok", "enroll after skip")
    check(summary(pg, "erin")["skip_since"] == "0", "enrollment forgets the skip")
    r = pg.one(ADMIN, "SELECT * FROM pam_mfa.reset('erin', NULL)")
    check(r == ["t", "t", ""], f"reset all: {r}")
    check(summary(pg, "erin")["user_exists"] == "f", "all gone")
    print("ok: enroll_totp saves only on its basis, a wrong code writes nothing, skips likewise")


def test_race(pg):
    secret = os.urandom(20)
    provision(pg, "racer", secret)
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
    # search_path, or granted to nobody.
    rows = pg.sql(SUPER, "SELECT p.proname, p.prosecdef, p.proconfig::text, "
                         "pg_catalog.has_function_privilege('pam_mfa_host', p.oid, 'EXECUTE'), "
                         "pg_catalog.has_function_privilege('pam_mfa_admin', p.oid, 'EXECUTE') "
                         "FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n "
                         "ON n.oid = p.pronamespace WHERE n.nspname = 'pam_mfa' ORDER BY 1")
    granted = {}
    for name, secdef, config, host, admin in rows:
        check("search_path=pg_catalog, pg_temp" in config, f"{name}: search_path {config}")
        if host == "t" or admin == "t":
            check(secdef == "t", f"{name} granted but not SECURITY DEFINER")
            granted[name] = (host == "t", admin == "t")
        else:
            # Least privilege: a helper runs with its caller's rights.
            check(secdef == "f", f"{name} is SECURITY DEFINER but granted to nobody")
    check(granted == {"summary": (True, True), "verify_totp": (True, False),
                      "enroll_totp": (True, False), "skip": (True, False),
                      "provision_totp": (False, True), "reset": (False, True),
                      "unlock": (False, True), "list": (False, True),
                      "summaries": (False, True),
                      "email_book": (True, False), "email_sent": (True, False),
                      "email_unbook": (True, False), "verify_email": (True, False),
                      "enroll_email": (True, False), "provision_email": (False, True),
                      "email_code_by_admin": (False, True), "set_settings": (False, True),
                      "schema_version": (True, True), "import_user": (False, True)},
          f"grants {granted}")
    owner_super = pg.one(SUPER, "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = "
                                f"'{OWNER}'")[0]
    check(owner_super == "f", "the functions' owner is no superuser")
    # Migrations are the owner's: another role is refused by 006's guard.
    try:
        pg.sql(SUPER, open(os.path.join(SQL_DIR, "006_hardening.sql")).read())
        raise AssertionError("006 applied by a role that does not own the schema")
    except PgError as e:
        check("as the owner of schema pam_mfa" in e.stderr, f"006 as {SUPER}: {e.stderr}")
    print("ok: versions recorded, grants and function settings as designed")


# ------------------------------------------------------------------ email

def book(pg, user, use="login", version=None, address="alice@example.org", role=HOST_A):
    v = "NULL" if version is None else str(version)
    r = pg.one(role, f"SELECT * FROM pam_mfa.email_book('{user}', '{use}', {v}, '{address}')")
    keys = ("result", "wait", "sending", "booked_at", "record_existed", "enroll_mails",
            "enroll_mails_since")
    b = dict(zip(keys, r))
    for k in ("wait", "booked_at", "enroll_mails", "enroll_mails_since"):
        b[k] = int(b[k])
    for k in ("sending", "record_existed"):
        b[k] = b[k] == "t"
    b["use"] = use
    return b


def sent(pg, user, b, code, version=None, address="alice@example.org", role=HOST_A):
    v = "NULL" if version is None else str(version)
    return pg.one(role, f"SELECT pam_mfa.email_sent('{user}', '{b['use']}', {v}, '{address}', "
                        f"'{code}', {b['booked_at']})")[0]


def unbook(pg, user, b, role=HOST_A):
    pg.sql(role, f"SELECT pam_mfa.email_unbook('{user}', '{b['use']}', {b['booked_at']}, "
                 f"{str(b['record_existed']).lower()}, {b['enroll_mails']}, "
                 f"{b['enroll_mails_since']})")


def verify_email(pg, user, code, address="alice@example.org", role=HOST_A):
    o, n, locked = pg.one(role, f"SELECT * FROM pam_mfa.verify_email('{user}', '{code}', "
                                f"'{address}', 'sshd', '198.51.100.4')")
    return o, int(n), locked == "t"


def enroll_email(pg, user, version, code, address="alice@example.org", role=HOST_A):
    o, n, locked = pg.one(role, f"SELECT * FROM pam_mfa.enroll_email('{user}', {version}, "
                                f"'{address}', '{code}', 'login', 'h.example')")
    return o, int(n), locked == "t"


def mail_code(pg, user, use="login", version=None, address="alice@example.org"):
    """A code booked and sent, as a host does it; the code."""
    b = book(pg, user, use, version, address)
    check(b["result"] == "ok", f"booked: {b}")
    code = "".join(random.choice("0123456789") for _ in range(6))
    check(sent(pg, user, b, code, version, address) == "ok", "sent")
    return code


def age(pg, user, seconds):
    """Moves the user's email times back: as if seconds had passed."""
    iv = f"pg_catalog.make_interval(secs => {seconds})"
    pg.sql(OWNER, f"UPDATE pam_mfa.email SET booked_at = booked_at - {iv}, "
                  f"code_sent_at = code_sent_at - {iv}, code_expires = code_expires - {iv}, "
                  f"enroll_mails_since = enroll_mails_since - {iv} WHERE user_name = '{user}'")


def other_code(code):
    return f"{(int(code) + 1) % 1000000:06d}"


def email_row(pg, user):
    return pg.sql(OWNER, f"SELECT z FROM pam_mfa.email z WHERE user_name = '{user}'")


def test_email_booking(pg):
    check(pg.one(ADMIN, "SELECT email_code_ttl, email_resend_after, email_enroll_mails, "
                        "email_booking_window FROM pam_mfa.set_settings()")
          == ["300", "30", "5", "15"], "core/config.c's defaults, window = timeout 10 + 5")
    check(book(pg, "alice")["result"] == "stale", "no verified address: no login code")
    pg.sql(ADMIN, "SELECT pam_mfa.provision_email('alice', 'alice@example.org', false)")
    check(book(pg, "alice", address="eve@example.org")["result"] == "stale",
          "a login code to another address")
    # A booking in flight holds every other back, on any host.
    b = book(pg, "alice")
    check(b["result"] == "ok" and abs(b["booked_at"] - time.time()) < 60, f"booked {b}")
    b2 = book(pg, "alice", role=HOST_B)
    check(b2["result"] == "wait" and b2["sending"] and 0 < b2["wait"] <= 15, f"in flight: {b2}")
    check(sent(pg, "alice", b, "123456") == "ok", "sent")
    # One login code per resend_after while it is valid.
    b3 = book(pg, "alice", role=HOST_B)
    check(b3["result"] == "wait" and not b3["sending"] and 0 < b3["wait"] <= 30, f"resend: {b3}")
    age(pg, "alice", 31)
    b4 = book(pg, "alice")
    check(b4["result"] == "ok", f"after resend_after: {b4}")
    # A booking whose process died stops counting after the window.
    age(pg, "alice", 16)
    b5 = book(pg, "alice", role=HOST_B)
    check(b5["result"] == "ok", f"a dead booking holds nothing back: {b5}")
    check(sent(pg, "alice", b5, "654321", role=HOST_B) == "ok", "sent b5")
    # A spent code is no code: the next may go at once.
    check(verify_email(pg, "alice", "654321")[0] == "ok", "login")
    check(book(pg, "alice")["result"] == "ok", "after the code was used")

    # Enrollment mails: at most email_enroll_mails a day, counted at booking.
    check(book(pg, "bob", "enroll", 3, "bob@example.org")["result"] == "stale", "stale basis")
    for i in range(5):
        b = book(pg, "bob", "enroll", 0, "bob@example.org")
        check(b["result"] == "ok" and b["enroll_mails"] == i, f"enroll mail {i}: {b}")
        check(sent(pg, "bob", b, f"{i:06d}", 0, "bob@example.org") == "ok", "sent")
        b = book(pg, "bob", "enroll", 0, "bob@example.org")
        check(b["result"] == "wait" and 0 < b["wait"] <= 30, f"resend_after for enrolling: {b}")
        age(pg, "bob", 31)
    b = book(pg, "bob", "enroll", 0, "bob@example.org")
    check(b["result"] == "wait" and not b["sending"] and 86400 - 5 * 31 - 60 < b["wait"] <= 86400,
          f"the sixth mail of the day: {b}")
    check(summary(pg, "bob")["factors_version"] == "0", "an unverified address is no factor")
    age(pg, "bob", 86400)
    b = book(pg, "bob", "enroll", 0, "bob@example.org")
    check(b["result"] == "ok", f"a new day: {b}")
    check(int(owner_value(pg, "SELECT enroll_mails FROM pam_mfa.email WHERE user_name = 'bob'"))
          == 1, "the day's count starts over")
    # Once an address is verified, no enrollment mail.
    pg.sql(ADMIN, "SELECT pam_mfa.provision_email('bob', 'bob@example.org', true)")
    v = summary(pg, "bob")["factors_version"]
    check(book(pg, "bob", "enroll", v, "bob@example.org")["result"] == "stale", "verified")
    expect_error(lambda: book(pg, "bob", "enroll", None, "bob@example.org"), "factors_version")
    expect_error(lambda: book(pg, "bob", "sms"), "login or enroll")
    print("ok: one code in flight, resend_after, a dead booking expires, enroll mails a day")


def test_email_verify(pg):
    secret = os.urandom(20)
    provision(pg, "alice", secret)
    check(pg.one(ADMIN, "SELECT pam_mfa.provision_email('alice', 'alice@example.org', false)")
          == ["provisioned"], "provisioned")
    code = mail_code(pg, "alice")
    s = summary(pg, "alice")
    check(s["email_code_pending"] == "t" and int(s["email_code_expires"]) - time.time() > 250,
          f"pending for 300 s: {s}")
    check(not any("\\x" in v for v in s.values()), "no hash in the summary")
    # The database keeps core/code_hash.c's HMAC-SHA256(salt, code), never the code.
    salt, h = pg.one(OWNER, "SELECT encode(code_salt, 'hex'), encode(code_hash, 'hex') "
                            "FROM pam_mfa.email WHERE user_name = 'alice'")
    check(len(salt) == 32 and hmac.new(bytes.fromhex(salt), code.encode(), hashlib.sha256)
          .hexdigest() == h, "hash as core/code_hash.c")
    # The code of another address is refused, and not counted.
    check(verify_email(pg, "alice", code, "eve@example.org") == ("not_enrolled", 0, False),
          "another address")
    check(verify_email(pg, "nobody", code) == ("not_enrolled", 0, False), "unknown user")
    # Wrong codes count toward the lockout TOTP shares; the pending code stays.
    check(verify_email(pg, "alice", other_code(code)) == ("wrong", 1, False), "wrong")
    check(verify(pg, HOST_B, "alice", wrong_code(secret))[1] == 2, "a wrong TOTP code adds up")
    check(verify_email(pg, "alice", "12ab56", role=HOST_B) == ("wrong", 3, False), "malformed")
    o, n, _ = verify_email(pg, "alice", code, role=HOST_B)
    check((o, n) == ("ok", 3), f"right code after wrong ones, failures kept: {o} {n}")
    check(pg.one(ADMIN, "SELECT pam_mfa.unlock('alice')") == ["3"], "the admin clears them")
    s = summary(pg, "alice")
    check(s["last_service"] == "sshd" and s["last_host"] == f"{HOST_B}@127.0.0.1"
          and s["email_code_pending"] == "f", f"login recorded, code spent: {s}")
    # Single use: the same code again is no code.
    check(verify_email(pg, "alice", code) == ("expired", 1, False), "used twice")
    # Expired: refused, counted, spent.
    age(pg, "alice", 31)
    code = mail_code(pg, "alice")
    age(pg, "alice", 301)
    check(verify_email(pg, "alice", code) == ("expired", 2, False), "past its ttl")
    check(summary(pg, "alice")["email_code_pending"] == "f", "an expired code is spent")
    # Locked: a right code is refused, uncounted, and not spent.
    code = mail_code(pg, "alice")
    for n in (3, 4):
        verify_email(pg, "alice", other_code(code))
    check(verify(pg, HOST_A, "alice", wrong_code(secret))[2], "the fifth failure locks")
    check(verify_email(pg, "alice", code) == ("locked", 5, False), "locked")
    check(summary(pg, "alice")["email_code_pending"] == "t", "a locked check spends nothing")
    pg.sql(ADMIN, "SELECT pam_mfa.unlock('alice')")
    check(verify_email(pg, "alice", code)[0] == "ok", "after unlock")
    expect_error(lambda: verify_email(pg, "alice", "1" * 65), "invalid code")
    print("ok: verify_email once, wrong counted with TOTP, expired, another address refused")


def test_email_launder(pg):
    """A host makes, so knows, every code it mails: a compromised host must
    not clear the failures other hosts counted by mailing itself one."""
    secret = os.urandom(20)
    provision(pg, "alice", secret)
    pg.sql(ADMIN, "SELECT pam_mfa.provision_email('alice', 'alice@example.org', false)")
    # Guesses spread over the fleet, each host below the lockout alone.
    for role in (HOST_A, HOST_A, HOST_B, HOST_B):
        verify(pg, role, "alice", wrong_code(secret))
    check(summary(pg, "alice")["fail_count"] == "4", "four failures")
    # The compromised host mails itself a code and logs in with it.
    code = mail_code(pg, "alice")
    check(verify_email(pg, "alice", code) == ("ok", 4, False), "email login, failures kept")
    s = summary(pg, "alice")
    check(s["fail_count"] == "4" and s["locked_until"] == "0", f"nothing forgiven: {s}")
    # So the fifth guess, on another host, locks as if nothing happened.
    o, n, locked, _ = verify(pg, HOST_B, "alice", wrong_code(secret))
    check((o, n, locked) == ("wrong", 5, True), f"the fifth failure locks: {o} {n} {locked}")
    # A lock refuses an email code, and no email success lifts it.
    age(pg, "alice", 31)
    code = mail_code(pg, "alice")
    check(verify_email(pg, "alice", code) == ("locked", 5, False), "locked")
    check(int(summary(pg, "alice")["locked_until"]) > time.time() + 800, "still locked")
    # The admin's unlock clears it; a TOTP success forgives.
    check(pg.one(ADMIN, "SELECT pam_mfa.unlock('alice')") == ["5"], "unlock")
    check(verify(pg, HOST_A, "alice", wrong_code(secret))[1] == 1, "one failure")
    o, n, _, _ = verify(pg, HOST_A, "alice", code_now(secret))
    check((o, n) == ("ok", 0), f"a TOTP success forgives: {o} {n}")
    # Proving an address by email forgives nothing either.
    mail = "bob@example.org"
    code = mail_code(pg, "bob", "enroll", 0, mail)
    check(enroll_email(pg, "bob", 0, other_code(code), mail) == ("wrong", 1, False), "wrong")
    check(enroll_email(pg, "bob", 0, code, mail) == ("ok", 1, False), "proved, failure kept")
    check(summary(pg, "bob")["fail_count"] == "1", "kept")
    print("ok: an email code forgives no failure; a TOTP code or the admin does")


def test_email_unbook(pg):
    # A first enrollment mail that could not go leaves nothing behind.
    b = book(pg, "carol", "enroll", 0, "carol@example.org")
    check(b["result"] == "ok" and not b["record_existed"], f"booked: {b}")
    check(pg.sql(ADMIN, "SELECT pam_mfa.list()") == [["carol"]], "the booking made a row")
    unbook(pg, "carol", b)
    check(pg.sql(ADMIN, "SELECT pam_mfa.list()") == [], "unbook removed what it made")
    # A user with state keeps it; only the email row the booking made goes.
    provision(pg, "carol", os.urandom(20))
    v = summary(pg, "carol")["factors_version"]
    b = book(pg, "carol", "enroll", v, "carol@example.org")
    check(b["record_existed"], "the user's row was there")
    # A booking is no email state: a reset finds none and moves nothing.
    check(pg.one(ADMIN, "SELECT * FROM pam_mfa.reset('carol', 'email')") == ["f", "f", ""],
          "nothing to reset")
    check(summary(pg, "carol")["factors_version"] == v, "basis kept")
    unbook(pg, "carol", b)
    check(email_row(pg, "carol") == [] and summary(pg, "carol")["totp_enrolled"] == "t",
          "the email row went, the rest stayed")
    # The day's count is as it was.
    mail_code(pg, "carol", "enroll", v, "carol@example.org")
    age(pg, "carol", 31)
    b = book(pg, "carol", "enroll", v, "carol@example.org")
    check(b["result"] == "ok" and b["enroll_mails"] == 1, f"second mail: {b}")
    unbook(pg, "carol", b)
    mails, booked = pg.one(OWNER, "SELECT enroll_mails, booked_at IS NULL FROM pam_mfa.email "
                                  "WHERE user_name = 'carol'")
    check((mails, booked) == ("1", "t"), f"restored: {mails} {booked}")
    check(summary(pg, "carol")["email_address"] == "carol@example.org", "the sent code's state stays")
    # A booking that timed out and was followed by another is not ours to end.
    old = book(pg, "carol", "enroll", v, "carol@example.org")
    age(pg, "carol", 16)
    old["booked_at"] -= 16  # the host's handle ages with the clock too
    new = book(pg, "carol", "enroll", v, "carol@example.org")
    check(new["result"] == "ok" and new["booked_at"] != old["booked_at"], f"rebooked {new}")
    unbook(pg, "carol", old)
    b = book(pg, "carol", "enroll", v, "carol@example.org")
    check(b["result"] == "wait" and b["sending"], f"the newer booking still holds: {b}")
    check(int(owner_value(pg, "SELECT enroll_mails FROM pam_mfa.email WHERE user_name = 'carol'"))
          == 3, "the count is the newer booking's")
    # Login bookings end too.
    pg.sql(ADMIN, "SELECT pam_mfa.provision_email('dan', 'dan@example.org', false)")
    b = book(pg, "dan", address="dan@example.org")
    unbook(pg, "dan", b)
    check(book(pg, "dan", address="dan@example.org")["result"] == "ok", "unbooked login code")
    print("ok: unbook restores the count and removes only what the booking made")


def test_email_enroll(pg):
    addr = "dave@example.org"
    code = mail_code(pg, "dave", "enroll", 0, addr)
    s = summary(pg, "dave")
    check(s["email_address"] == addr and s["email_verified"] == "f"
          and s["factors_version"] == "0", f"an address to prove: {s}")
    before = pg.sql(OWNER, "SELECT u, z FROM pam_mfa.users u JOIN pam_mfa.email z USING (user_name)")
    # A stale basis saves nothing, counts nothing, spends nothing.
    check(enroll_email(pg, "dave", 7, code, addr) == ("not_enrolled", 0, False), "stale basis")
    check(enroll_email(pg, "dave", 0, code, "eve@example.org")[0] == "not_enrolled", "other address")
    after = pg.sql(OWNER, "SELECT u, z FROM pam_mfa.users u JOIN pam_mfa.email z USING (user_name)")
    check(before == after, "nothing written")
    check(enroll_email(pg, "dave", 0, other_code(code), addr) == ("wrong", 1, False), "wrong")
    check(pg.one(HOST_A, "SELECT pam_mfa.skip('dave', 0, true)") == ["ok"], "skip remembered")
    check(enroll_email(pg, "dave", 0, code, addr) == ("ok", 1, False), "proved, failure kept")
    s = summary(pg, "dave")
    v1 = s["factors_version"]
    check(s["email_verified"] == "t" and v1 != "0" and s["skip_since"] == "0"
          and s["email_by_admin"] == "f" and s["email_code_pending"] == "f", f"enrolled: {s}")
    check(verify_email(pg, "dave", code, addr)[0] == "expired", "the proving code is spent")
    check(enroll_email(pg, "dave", v1, code, addr)[0] == "not_enrolled", "already verified")
    # Administrators: a code on a verified address only with replace.
    check(pg.one(ADMIN, f"SELECT pam_mfa.email_code_by_admin('dave', 'd2@example.org', '111111', "
                        "false)") == ["stale"], "no replace")
    check(summary(pg, "dave")["factors_version"] == v1, "unchanged")
    check(pg.one(ADMIN, "SELECT pam_mfa.email_code_by_admin('dave', 'd2@example.org', '111111', "
                        "true)") == ["ok"], "replace")
    s = summary(pg, "dave")
    v2 = s["factors_version"]
    check(s["email_verified"] == "f" and s["email_by_admin"] == "t" and v2 not in (v1, "0"),
          f"the verified address gave way: {s}")
    check(enroll_email(pg, "dave", v2, "111111", "d2@example.org")[0] == "ok", "admin's code")
    v3 = summary(pg, "dave")["factors_version"]
    check(v3 not in (v1, v2) and summary(pg, "dave")["email_by_admin"] == "t", "by admin, bumped")
    check(pg.one(ADMIN, "SELECT pam_mfa.provision_email('dave', 'd3@example.org', false)")
          == ["exists"], "exists")
    check(summary(pg, "dave")["factors_version"] == v3, "exists writes nothing")
    check(pg.one(ADMIN, "SELECT pam_mfa.provision_email('dave', 'd3@example.org', true)")
          == ["replaced"], "replaced")
    v4 = summary(pg, "dave")["factors_version"]
    check(v4 not in (v1, v2, v3), "provisioning bumps")
    # Resets: an unverified address is no factor, the basis stays.
    pg.sql(ADMIN, "SELECT pam_mfa.email_code_by_admin('fay', 'fay@example.org', '222222', false)")
    vf = summary(pg, "fay")["factors_version"]
    check(pg.one(ADMIN, "SELECT * FROM pam_mfa.reset('fay', 'email')") == ["t", "f", ""],
          "reset of an unverified address")
    check(summary(pg, "fay")["factors_version"] == vf, "no factor went, no bump")
    check(pg.one(ADMIN, "SELECT * FROM pam_mfa.reset('dave', 'email')")
          == ["t", "t", "d3@example.org"], "reset of a verified address")
    check(summary(pg, "dave")["factors_version"] not in (v1, v2, v3, v4), "bumped")
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
        check(pg.one(ADMIN, f"SELECT pam_mfa.provision_email('gil', {quote(a)}, true)")[0]
              in ("provisioned", "replaced"), f"accepted {a}")
    for a in bad:
        expect_error(lambda: pg.sql(ADMIN, "\\set VERBOSITY verbose\n"
                                           f"SELECT pam_mfa.provision_email('gil', {quote(a)}, true)"),
                     "22023: invalid email address")
    expect_error(lambda: pg.sql(ADMIN, "SELECT pam_mfa.email_code_by_admin('gil', "
                                       "'gil@example.org', '12345', true)"), "invalid email code")
    # Settings within pam_mfa.conf's bounds only.
    for arg in ("p_email_code_ttl => 29", "p_email_resend_after => 3601",
                "p_email_enroll_mails => 0", "p_email_booking_window => 5",
                "p_lockout_attempts => 0", "p_totp_window => 11"):
        expect_error(lambda: pg.sql(ADMIN, f"SELECT pam_mfa.set_settings({arg})"), "bounds")
    check(pg.one(ADMIN, "SELECT email_code_ttl, lockout_attempts FROM "
                        "pam_mfa.set_settings(p_email_code_ttl => 600)") == ["600", "5"],
          "one setting changed, the rest kept")
    print("ok: enroll_email on its basis only, admin codes and provisioning, addresses, settings")


def quote(s):
    return "'" + s.replace("'", "''") + "'"


def test_email_race(pg):
    pg.sql(ADMIN, "SELECT pam_mfa.provision_email('racer', 'racer@example.org', false)")
    code = mail_code(pg, "racer", address="racer@example.org")
    start = time.time() + 3

    def one(i):
        role = HOST_A if i % 2 else HOST_B
        rows = pg.sql(role, f"SELECT pg_catalog.pg_sleep_until(pg_catalog.to_timestamp({start}));\n"
                            f"SELECT outcome FROM pam_mfa.verify_email('racer', '{code}', "
                            "'racer@example.org', 'sshd', '')")
        return rows[-1][0]

    with ThreadPoolExecutor(16) as ex:
        outcomes = list(ex.map(one, range(16)))
    check(outcomes.count("ok") == 1, f"exactly one ok of 16: {outcomes}")
    check(set(outcomes) <= {"ok", "expired", "locked"}, f"outcomes {outcomes}")
    print(f"ok: 16 racing email logins, one accepted: {sorted(outcomes)}")


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
