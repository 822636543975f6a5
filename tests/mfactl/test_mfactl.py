"""mfactl end to end: enroll, status, reset, unlock, check, --help, against a
private config, state directory and user database.  The files store only:
users' factors are read from their record files (a factor a line, see
core/record.c) and through mfactl status --json."""
import atexit
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse

from mfatest import T0, WorldTest, main, oathtool, parse_uri

try:
    # The HTTPS SMS gateway on loopback, of the SMS tests.
    from sms_gateway import Pki, SmsGateway
except ImportError:
    Pki = SmsGateway = None


def factor_lines(w, user):
    """The factors of user's record file, each a dict of its fields (the
    method as "method", the label, which runs to the end of the line, as
    "label")."""
    path = os.path.join(w.state_dir, user)
    if not os.path.exists(path):
        return []
    out = []
    for line in w.record_text(user).splitlines():
        if not line.startswith("factor="):
            continue
        head, _, label = line.partition(" label=")
        words = head.split(" ")
        f = {"id": words[0].split("=", 1)[1], "method": words[1], "label": label}
        f.update(w_.split("=", 1) for w_ in words[2:])
        out.append(f)
    return out


def app_secrets(w, user):
    """The base32 secrets of user's apps, in the record's order."""
    return [f["secret"] for f in factor_lines(w, user) if f["method"] == "totp"]


def table_rows(text):
    """A status table's rows by user (the header and the method lines, which
    start with spaces, left out)."""
    return {l.split()[0]: l.split() for l in text.splitlines()[1:] if l and not l[0].isspace()}


def snapshot(path):
    """Every entry below path with its mode, size and mtime."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            out[p] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


class Enroll(WorldTest):
    def test_uri_secret_and_oathtool(self):
        proc = self.w.mfactl("enroll", "alice", "--method", "totp", "--qr", "none", at=T0)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        uri, params = parse_uri(proc.stdout)
        self.assertEqual((uri.scheme, uri.netloc), ("otpauth", "totp"))
        label = urllib.parse.unquote(uri.path[1:])
        self.assertEqual(label, "Example Corp:alice@" + socket.gethostname())
        self.assertEqual(params["issuer"], "Example Corp")
        self.assertEqual(params["algorithm"], "SHA1")
        self.assertEqual(params["digits"], "6")
        self.assertEqual(params["period"], "30")
        secret = params["secret"]
        raw = base64.b32decode(secret + "=" * (-len(secret) % 8))
        self.assertEqual(len(raw), 20)
        self.assertEqual(app_secrets(self.w, "alice"), [secret])
        st = os.stat(os.path.join(self.w.state_dir, "alice"))
        self.assertEqual((st.st_mode & 0o777, st.st_uid), (0o600, 0))
        # The secret grouped for typing by hand is the same secret.
        typed = re.search(r"^Secret \(for typing in by hand\): ([A-Z2-7 ]+)$", proc.stdout, re.M)
        self.assertEqual(typed.group(1).replace(" ", ""), secret)
        # oathtool, the independent implementation, computes a code pam_mfa accepts.
        res = self.w.login("alice", [oathtool(secret, T0)])
        self.assertEqual(res.pam, "PAM_SUCCESS", res)
        self.assertTrue(any("action=enroll user=alice method=totp" in l for l in proc.log),
                        proc.log)

    def test_sha512_parameters_in_uri(self):
        self.w.write_config({"totp": '{ digits = 8; period = 60; window = 1; algorithm = "sha512"; }'})
        proc = self.w.mfactl("enroll", "bob", "--qr", "none")
        _, params = parse_uri(proc.stdout)
        self.assertEqual((params["algorithm"], params["digits"], params["period"]),
                         ("SHA512", "8", "60"))
        secret = params["secret"]
        self.assertEqual(len(base64.b32decode(secret + "=" * (-len(secret) % 8))), 64)

    def test_refuses_to_replace_without_force(self):
        first = self.w.enroll("alice")
        before = self.w.record_text("alice")
        proc = self.w.mfactl("enroll", "alice", "--qr", "none")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("already has TOTP enrolled; use --add for another app or --force to "
                      "replace it", proc.stderr)
        self.assertNotIn("otpauth://", proc.stdout)
        self.assertEqual(self.w.record_text("alice"), before)
        second = self.w.enroll("alice", "--force")
        self.assertNotEqual(first, second)
        self.assertEqual(app_secrets(self.w, "alice"), [second])

    def test_qr_styles(self):
        utf8 = self.w.mfactl("enroll", "alice", "--qr", "utf8").stdout
        self.assertTrue(set("\u2580\u2584\u2588") & set(utf8))
        lines = [l for l in utf8.splitlines() if set(l) <= set(" \u2580\u2584\u2588") and l]
        self.assertGreater(len(lines), 10)
        self.assertEqual(len({len(l) for l in lines}), 1, "QR rows of unequal width")
        ansi = self.w.mfactl("enroll", "alice", "--qr", "ansi", "--force").stdout
        self.assertIn("\033[", ansi)
        parse_uri(ansi)

    def test_qr_images_scan(self):
        png = os.path.join(self.w.root, "alice.png")
        proc = self.w.mfactl("enroll", "alice", "--qr", "png:" + png)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        uri = [l for l in proc.stdout.splitlines() if l.startswith("otpauth://")][0]
        st = os.stat(png)
        self.assertEqual((st.st_mode & 0o777, st.st_uid), (0o600, 0))
        read = subprocess.run(["zbarimg", "-q", "--raw", png], capture_output=True, text=True)
        self.assertEqual(read.stdout.strip(), uri)
        svg = os.path.join(self.w.root, "alice.svg")
        proc = self.w.mfactl("enroll", "alice", "--force", "--qr", "svg:" + svg)
        uri = [l for l in proc.stdout.splitlines() if l.startswith("otpauth://")][0]
        self.assertEqual(os.stat(svg).st_mode & 0o777, 0o600)
        raster = os.path.join(self.w.root, "svg.png")
        subprocess.run(["rsvg-convert", svg, "-o", raster], check=True, capture_output=True)
        read = subprocess.run(["zbarimg", "-q", "--raw", raster], capture_output=True, text=True)
        self.assertEqual(read.stdout.strip(), uri)

    def test_qr_image_never_overwrites(self):
        before = self.w.enroll("alice")
        target = os.path.join(self.w.root, "exists.png")
        with open(target, "w") as f:
            f.write("keep me")
        link = os.path.join(self.w.root, "link.png")
        os.symlink(os.path.join(self.w.root, "elsewhere.png"), link)
        for path in (target, link):
            proc = self.w.mfactl("enroll", "alice", "--force", "--qr", "png:" + path)
            self.assertEqual(proc.returncode, 1)
            self.assertIn(path, proc.stderr)
            # No image, no new enrollment.
            self.assertEqual(app_secrets(self.w, "alice"), [before])
        with open(target) as f:
            self.assertEqual(f.read(), "keep me")
        self.assertFalse(os.path.exists(os.path.join(self.w.root, "elsewhere.png")))
        self.assertEqual(self.w.mfactl("enroll", "alice", "--qr", "png:").returncode, 2)

    def test_bad_arguments(self):
        number = "+15555550100"
        for args, code in ((["enroll"], 2), (["enroll", "alice", "--qr", "png"], 2),
                           (["enroll", "alice", "--method", "sms"], 2),
                           (["enroll", "alice", "--method", "fax"], 2),
                           (["enroll", "alice", "--add", "--force"], 2),
                           (["enroll", "alice", "--phone", number], 2),
                           (["enroll", "alice", "--method", "email", "--phone", number], 2),
                           (["enroll", "alice", "--address", "a@example.org"], 2),
                           (["enroll", "alice", "--verified"], 2),
                           (["enroll", "alice", "--method", "sms", "--phone", number, "--add"], 2),
                           (["enroll", "alice", "bob"], 2), (["enroll", "mallory"], 1),
                           (["enroll", "../etc/passwd"], 1), (["enroll", "a\nb"], 1),
                           (["enroll", "x" * 300], 1)):
            with self.subTest(args=args):
                proc = self.w.mfactl(*args)
                self.assertEqual(proc.returncode, code, proc.stderr)
                self.assertTrue(proc.stderr.strip())
        self.assertEqual(os.listdir(self.w.state_dir), [])

    def test_creates_missing_state_dir(self):
        os.rmdir(self.w.state_dir)
        self.w.enroll("alice")
        st = os.stat(self.w.state_dir)
        self.assertEqual((st.st_mode & 0o777, st.st_uid), (0o700, 0))

    def test_refuses_insecure_state_dir(self):
        os.chmod(self.w.state_dir, 0o755)
        proc = self.w.mfactl("enroll", "alice", "--qr", "none")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("must have mode 0700", proc.stderr)
        self.assertEqual(os.listdir(self.w.state_dir), [])


class Status(WorldTest):
    def test_table_lists_every_account_and_store_user(self):
        self.w.enroll("alice")
        self.w.enroll("carol")
        # A record whose account has since left the passwd database.
        with open(self.w.passwd) as f:
            lines = f.readlines()
        with open(self.w.passwd, "w") as f:
            f.writelines(l for l in lines if not l.startswith("carol:"))
        proc = self.w.mfactl("status")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        rows = table_rows(proc.stdout)
        self.assertEqual(set(rows), {"root", "alice", "bob", "carol", "dave", "erin"})
        self.assertEqual(rows["alice"][1:3], ["optional", "totp"])
        self.assertEqual(rows["bob"][1:3], ["optional", "none"])
        # Outside the passwd database the policy cannot be known.
        self.assertEqual(rows["carol"][1:3], ["?", "totp"])
        self.assertEqual(proc.stdout.splitlines()[0].split()[:3], ["USER", "POLICY", "METHODS"])

    def test_json(self):
        secret = self.w.enroll("alice")
        self.w.login("alice", [oathtool(secret, T0)], rhost="203.0.113.5")
        self.w.login("alice", ["bad"], at="2030-01-01 00:00:50")
        proc = self.w.mfactl("status", "--json", at="2030-01-01 00:01:00")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        doc = json.loads(proc.stdout)
        users = {u["user"]: u for u in doc["users"]}
        a = users["alice"]
        self.assertEqual(a["methods"], ["totp"])
        self.assertEqual(a["totp"]["algorithm"], "sha1")
        self.assertEqual(a["last_login"], {"time": 1893456010, "service": "pam_mfa_test",
                                           "rhost": "203.0.113.5"})
        self.assertEqual(a["failures"], 1)
        self.assertFalse(a["locked"])
        self.assertTrue(a["in_passwd"])
        self.assertEqual(users["bob"]["methods"], [])
        self.assertIsNone(users["bob"]["totp"])
        self.assertIsNone(users["bob"]["error"])

    def test_selected_users_and_lock(self):
        secret = self.w.enroll("alice")
        for _ in range(3):
            self.w.login("alice", ["nope"])
        doc = json.loads(self.w.mfactl("status", "--json", "alice", at=T0).stdout)
        self.assertEqual([u["user"] for u in doc["users"]], ["alice"])
        self.assertTrue(doc["users"][0]["locked"])
        self.assertEqual(doc["users"][0]["locked_until"], 1893456010 + 600)
        self.assertNotIn(secret, self.w.mfactl("status", "--json").stdout)

    def test_listing_creates_and_changes_nothing(self):
        self.w.enroll("alice")
        before = snapshot(self.w.root)
        for args in (["status"], ["status", "--json"], ["status", "bob", "alice"], ["check"]):
            self.assertEqual(self.w.mfactl(*args).returncode, 0)
        after = snapshot(self.w.root)
        after = {k: v for k, v in after.items() if not os.path.basename(k).startswith("syslog.")}
        before = {k: v for k, v in before.items() if not os.path.basename(k).startswith("syslog.")}
        self.assertEqual(before, after)
        # A missing state directory is reported, not created.
        for name in os.listdir(self.w.state_dir):
            os.unlink(os.path.join(self.w.state_dir, name))
        os.rmdir(self.w.state_dir)
        proc = self.w.mfactl("status")
        self.assertEqual(proc.returncode, 0)
        self.assertIn("does not exist yet", proc.stderr)
        self.assertFalse(os.path.exists(self.w.state_dir))

    def test_long_listing_in_order_rows_match_their_records(self):
        # Records are read by worker threads in chunks of 256 users, up to
        # 8 chunks ahead: 2,600 accounts cross both.  Every row must be
        # the one of its own user, in order, once.
        n = 2600
        with open(self.w.passwd, "a") as f:
            for i in range(n):
                f.write("x%05d:x:%d:100::/nonexistent:/bin/sh\n" % (i, 10000 + i))
        enrolled = {"x%05d" % i for i in range(0, n, 7)} | {"zorphan"}
        path = os.path.join(self.w.root, "users.oath")
        with open(path, "w") as f:
            for u in sorted(enrolled):
                f.write("HOTP/T30 %s - %s\n" % (u, KEY1))
        os.chmod(path, 0o600)
        self.assertEqual(self.w.mfactl("import", "--from", "oath", path, at=T0).returncode, 0)
        bad = os.path.join(self.w.state_dir, "x01234")
        with open(bad, "w") as f:
            f.write("version=9\n")
        os.chmod(bad, 0o600)
        proc = self.w.mfactl("status", "--json")
        self.assertEqual(proc.returncode, 1, proc.stderr)
        users = json.loads(proc.stdout)["users"]
        names = [u["user"] for u in users]
        self.assertEqual(names, sorted(set(names)))
        self.assertEqual(len(names), n + 7)   # root, alice..erin, x*, zorphan
        for u in users:
            if u["user"] == "x01234":
                self.assertIn("corrupt record", u["error"])
                continue
            self.assertIsNone(u["error"], u["user"])
            want = ["totp"] if u["user"] in enrolled else []
            self.assertEqual(u["methods"], want, u["user"])
            self.assertEqual(u["in_passwd"], u["user"] != "zorphan", u["user"])
        # The same rows as asking for the users one at a time.
        for u in (users[1], users[300], users[1800], users[-1]):
            one = json.loads(self.w.mfactl("status", "--json", u["user"]).stdout)
            self.assertEqual(one["users"], [u])
        missing = table_rows(self.w.mfactl("status", "--missing").stdout)
        self.assertEqual(len(missing), n + 6 - (len(enrolled) - 1))

    def test_corrupt_record_reported(self):
        self.w.enroll("alice")
        self.w.enroll("bob")
        with open(os.path.join(self.w.state_dir, "alice"), "w") as f:
            f.write("version=9\n")
        proc = self.w.mfactl("status", "--json")
        self.assertEqual(proc.returncode, 1)
        users = {u["user"]: u for u in json.loads(proc.stdout)["users"]}
        self.assertIn("corrupt record", users["alice"]["error"])
        self.assertEqual(users["bob"]["methods"], ["totp"])
        table = self.w.mfactl("status")
        self.assertEqual(table.returncode, 1)
        self.assertRegex(table.stdout, r"(?m)^alice\s+optional\s+ERROR\s+.*corrupt record")


class ResetUnlock(WorldTest):
    def test_reset(self):
        secret = self.w.enroll("alice")
        proc = self.w.mfactl("reset", "alice")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("must enroll again", proc.stdout)
        self.assertEqual(os.listdir(self.w.state_dir), [])
        self.assertTrue(any("action=reset user=alice" in l for l in proc.log), proc.log)
        # Not enrolled any more: offered enrollment again (default: optional).
        res = self.w.login("alice", ["skip"])
        self.assertIn("prompt-on: Press Enter to set it up now, or type skip: ", res.stdout)
        self.assertIn("info: pam_mfa-ignored", res.stdout, res)
        # Again: nothing to reset, not an error.
        proc = self.w.mfactl("reset", "alice")
        self.assertEqual(proc.returncode, 0)
        self.assertIn("nothing to reset", proc.stdout)
        self.assertEqual(os.listdir(self.w.state_dir), [])

    def test_reset_only_totp(self):
        secret = self.w.enroll("alice")
        self.w.login("alice", [oathtool(secret, T0)], rhost="192.0.2.9")
        self.w.login("alice", ["bad"], at="2030-01-01 00:00:50")
        proc = self.w.mfactl("reset", "alice", "--method", "totp")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("Reset alice: removed 1 TOTP factor; other state is kept.", proc.stdout)
        rec = self.w.record("alice")
        self.assertEqual(app_secrets(self.w, "alice"), [])
        self.assertEqual(rec["fail.count"], "0")
        self.assertEqual(rec["login.rhost"], "192.0.2.9")
        self.assertTrue(any("action=reset user=alice method=totp factors=1" in l
                            for l in proc.log), proc.log)
        again = self.w.mfactl("reset", "alice", "--method", "totp")
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn("no TOTP enrollment", again.stdout)
        self.assertFalse(any("action=reset" in l for l in again.log), again.log)
        sms = self.w.mfactl("reset", "alice", "--method", "sms")
        self.assertEqual(sms.returncode, 0, sms.stderr)
        self.assertIn("alice has no SMS enrollment; nothing to reset.", sms.stdout)
        for args in (["--method", "fax"], ["--method", "totp", "--factor", "phone"]):
            self.assertEqual(self.w.mfactl("reset", "alice", *args).returncode, 2, args)

    def test_unlock_without_state(self):
        proc = self.w.mfactl("unlock", "bob")
        self.assertEqual(proc.returncode, 0)
        self.assertIn("nothing to unlock", proc.stdout)
        self.assertEqual(os.listdir(self.w.state_dir), [])

    def test_unlock_keeps_enrollment(self):
        secret = self.w.enroll("alice")
        for _ in range(3):
            self.w.login("alice", ["x"])
        proc = self.w.mfactl("unlock", "alice")
        self.assertEqual(proc.returncode, 0)
        self.assertIn("cleared 3 failures", proc.stdout)
        after = self.w.record("alice")
        self.assertEqual((after["fail.count"], after["lock.until"]), ("0", "0"))
        self.assertEqual(app_secrets(self.w, "alice"), [secret])
        self.assertTrue(any("action=unlock user=alice failures=3" in l for l in proc.log))

    def test_corrupt_record_not_touched(self):
        self.w.enroll("alice")
        path = os.path.join(self.w.state_dir, "alice")
        with open(path, "w") as f:
            f.write("garbage")
        proc = self.w.mfactl("unlock", "alice")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("corrupt record", proc.stderr)
        with open(path) as f:
            self.assertEqual(f.read(), "garbage")
        # reset is the way out of a corrupt record.
        self.assertEqual(self.w.mfactl("reset", "alice").returncode, 0)
        self.assertFalse(os.path.exists(path))

    def test_bad_names(self):
        for verb in ("reset", "unlock"):
            for name in ("../x", ".lock.alice", "a/b", ""):
                with self.subTest(verb=verb, name=name):
                    proc = self.w.mfactl(verb, name)
                    self.assertEqual(proc.returncode, 1)
                    self.assertIn("not a valid user name", proc.stderr)


class Check(WorldTest):
    def test_good(self):
        self.w.enroll("alice")
        proc = self.w.mfactl("check")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("(1 record)", proc.stdout)

    def test_bad_configs(self):
        cases = [
            ({"totp": '{ digits = 5; period = 30; window = 1; algorithm = "sha1"; }'},
             r":2: totp\.digits: 5 is out of range \(6 to 8\)"),
            ({"totp": '{ digits = 6; period = 30; window = 1; algorithm = "md5"; }'},
             r":2: totp\.algorithm: \"md5\" is not one of"),
            ({"lockout": "{ attempts = 0; interval = 900; unlock_after = 60; }"},
             r":3: lockout\.attempts: 0 is out of range"),
            ({"fail_delay_ms": "2.5"}, r":4: fail_delay_ms: expected an integer"),
            ({"unknown_key": "1"}, r":6: unknown_key: unknown key"),
            ({"issuer": '"A:B"'}, r":1: issuer: must not contain ':'"),
            ({"issuer": '"x"', "fail_delay_ms": "1 2"}, r":4: syntax error"),
        ]
        for overrides, pattern in cases:
            with self.subTest(pattern=pattern):
                self.w.write_config(overrides)
                proc = self.w.mfactl("check")
                self.assertEqual(proc.returncode, 1)
                self.assertRegex(proc.stderr, re.escape(self.w.config_path) + pattern)
                # The module logs the very same message and fails closed.
                res = self.w.login("alice", ["123456"])
                self.assertEqual(res.pam, "PAM_SERVICE_ERR")
                msg = proc.stderr.strip().split("mfactl: ", 1)[1]
                self.assertTrue(any(msg in l for l in res.log), (msg, res.log))

    def test_insecure_config_and_dir(self):
        os.chmod(self.w.config_path, 0o666)
        proc = self.w.mfactl("check")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("writable by group or others", proc.stderr)
        os.chmod(self.w.config_path, 0o600)
        os.chmod(self.w.state_dir, 0o750)
        proc = self.w.mfactl("check")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("must have mode 0700", proc.stderr)

    def test_entries_that_do_not_belong(self):
        self.w.enroll("alice")
        os.symlink("/etc/passwd", os.path.join(self.w.state_dir, "bob"))
        proc = self.w.mfactl("check")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("bob: is a symbolic link", proc.stderr)
        os.unlink(os.path.join(self.w.state_dir, "bob"))
        open(os.path.join(self.w.state_dir, "notes.txt~"), "w").close()
        proc = self.w.mfactl("check")
        self.assertEqual(proc.returncode, 1)
        self.assertIn('"notes.txt~" does not belong in the state directory', proc.stderr)
        os.unlink(os.path.join(self.w.state_dir, "notes.txt~"))
        # What a crash between write and rename leaves is harmless.
        with open(os.path.join(self.w.state_dir, ".tmp.alice.0badf00d"), "w") as f:
            f.write("version=1\n")
        proc = self.w.mfactl("check")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("left from an interrupted write", proc.stderr)

    def test_policy_without_state_dir(self):
        os.rmdir(self.w.state_dir)
        proc = self.w.mfactl("policy", "alice")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("next login: refused: the state directory does not exist", proc.stdout)
        self.assertFalse(os.path.exists(self.w.state_dir))

    def test_policy_says_what_the_module_does(self):
        """The next-login line of a user who holds only an address, and of
        one whose factors the policy does not allow."""
        # No server listens on port 9: the confirmation mail is only noted.
        email = '{ smtp_url = "smtp://127.0.0.1:9"; from = "mfa@example.org"; timeout = 2; }'
        self.w.write_config({"methods": '[ "totp", "email" ]', "email": email})
        proc = self.w.mfactl("enroll", "alice", "--method", "email",
                             "--address", "alice@example.org", "--verified")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        out = self.w.mfactl("policy", "alice")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("enrolled:  email\n", out.stdout)
        self.assertIn("next login: sends a code by email\n", out.stdout)
        self.w.write_config({"methods": '[ "totp" ]', "email": email})
        out = self.w.mfactl("policy", "alice")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("next login: refused: enrolled only in methods the policy does not "
                      "allow\n", out.stdout)

    def test_trailing_slash_in_state_dir(self):
        self.w.write_config({"state_dir": '"%s/"' % self.w.state_dir})
        proc = self.w.mfactl("check")
        self.assertEqual(proc.returncode, 1)
        self.assertIn('state_dir: must not contain "//" or end in "/"', proc.stderr)

    def test_corrupt_record(self):
        self.w.enroll("alice")
        with open(os.path.join(self.w.state_dir, "alice"), "a") as f:
            f.write("more\n")
        proc = self.w.mfactl("check")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("1 of 1 records are unreadable", proc.stderr)


NUMBER = "+15555550100"      # masked: +1******0100
NUMBER2 = "+447700900123"    # masked: +4*******0123
# No gateway listens on port 9: numbers are enrolled --verified, and no
# SMTP server either: the confirmation and reset mails are only noted.
SMS_GROUP = ('{ url = "https://127.0.0.1:9/v1/messages"; format = "form"; '
             'fields = { To = "%{phone}"; Body = "%{message}"; }; timeout = 2; }')
EMAIL_GROUP = ('{ smtp_url = "smtp://127.0.0.1:9"; from = "mfa@example.org"; '
               'address = "%u@example.org"; timeout = 2; }')
FACTORS_CONFIG = {"methods": '[ "totp", "email", "sms" ]', "sms": SMS_GROUP,
                  "email": EMAIL_GROUP, "factors_per_method": "2"}
T0_UNIX = 1893456010
OFFER = "prompt-on: Press Enter to set it up now"


class Factors(WorldTest):
    """Several factors a user: apps, numbers and addresses, with labels,
    within factors_per_method; status, reset --factor/--method/--all."""
    config = FACTORS_CONFIG

    def dest(self, user, method, dest, *extra, at=T0):
        flag = "--phone" if method == "sms" else "--address"
        proc = self.w.mfactl("enroll", user, "--method", method, flag, dest, "--verified",
                             *extra, at=at)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc

    def status_json(self, user, at=T0):
        proc = self.w.mfactl("status", "--json", user, at=at)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return json.loads(proc.stdout)["users"][0]

    def method_lines(self, text, user):
        """The lines under user's row of a status table."""
        lines = text.splitlines()
        i = next(i for i, l in enumerate(lines) if l.split()[:1] == [user])
        out = []
        for l in lines[i + 1:]:
            if not l.startswith("  "):
                break
            out.append(l)
        return out

    def test_sms_verified_with_label(self):
        proc = self.dest("alice", "sms", NUMBER, "--label", "work")
        self.assertIn('Enrolled alice for SMS codes to +15555550100, labelled "work" '
                      "(verified by the administrator).", proc.stdout)
        self.assertTrue(any("action=enroll user=alice method=sms verified=admin" in l
                            for l in proc.log), proc.log)
        self.assertFalse(any(NUMBER[1:] in l for l in proc.log), proc.log)
        self.assertEqual([(f["method"], f["dest"], f["verified"], f["by_admin"], f["label"])
                          for f in factor_lines(self.w, "alice")],
                         [("sms", NUMBER, "1", "1", "work")])
        doc = self.status_json("alice")
        self.assertEqual(doc["methods"], ["sms"])
        self.assertEqual(doc["counts"], {"totp": 0, "email": 0, "sms": 1})
        f = doc["factors"]
        self.assertEqual(len(f), 1)
        self.assertIsInstance(f[0]["id"], int)
        del f[0]["id"]
        self.assertEqual(f[0], {"method": "sms", "label": "work", "dest": NUMBER,
                                "verified": True, "by_admin": True, "added": T0_UNIX,
                                "last_used": None, "totp": None})
        self.assertIsNone(doc["email"])
        self.assertIsNone(doc["totp"])
        # The table masks the number.
        table = self.w.mfactl("status", "alice").stdout
        self.assertRegex(table, r"(?m)^alice\s+optional\s+sms\s+2030-01-01 00:00:10Z\s")
        self.assertEqual(self.method_lines(table, "alice"), [
            '  phone: verified +1******0100 "work"',
            "  recovery codes: 10 of 10 left (made by an administrator 2030-01-01 00:00:10Z)",
        ])
        self.assertNotIn(NUMBER[2:], table)
        # The same number again, and another without --add, are refused.
        for extra, why in ((["--add"], "alice already has +15555550100 enrolled"),
                           ([], "alice already has sms enrolled (+1******0100); use --add "
                                "for another or --force to replace it")):
            before = self.w.record_text("alice")
            proc = self.w.mfactl("enroll", "alice", "--method", "sms", "--phone",
                                 NUMBER if extra else NUMBER2, "--verified", *extra)
            self.assertEqual(proc.returncode, 1, proc.stdout)
            self.assertIn(why, proc.stderr)
            self.assertEqual(self.w.record_text("alice"), before)
        # policy tells what the next login does with a number alone.
        out = self.w.mfactl("policy", "alice").stdout
        self.assertIn("enrolled:  sms\n", out)
        self.assertIn("next login: sends a code by text message\n", out)

    def test_two_apps_with_add_and_the_bound(self):
        phone = self.w.enroll("alice", "--label", "phone")
        before = self.w.record_text("alice")
        proc = self.w.mfactl("enroll", "alice", "--qr", "none", "--label", "tablet")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("use --add for another app", proc.stderr)
        self.assertEqual(self.w.record_text("alice"), before)
        proc = self.w.mfactl("enroll", "alice", "--add", "--label", "tablet", "--qr", "none",
                             at=T0)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn('(sha1, 6 digits, 30-second period, labelled "tablet"), beside the apps '
                      "the user has.", proc.stdout)
        self.assertTrue(any("action=enroll user=alice method=totp added=yes" in l
                            for l in proc.log), proc.log)
        tablet = parse_uri(proc.stdout)[1]["secret"]
        self.assertEqual(app_secrets(self.w, "alice"), [phone, tablet])
        self.assertEqual([f["label"] for f in factor_lines(self.w, "alice")], ["phone", "tablet"])
        # A code of either app logs in, each once.
        self.assertPam(self.w.login("alice", [oathtool(phone, T0)]), "PAM_SUCCESS")
        self.assertPam(self.w.login("alice", [oathtool(tablet, T0)]), "PAM_SUCCESS")
        # factors_per_method = 2: a third is refused, nothing shown or saved.
        before = self.w.record_text("alice")
        proc = self.w.mfactl("enroll", "alice", "--add", "--qr", "none")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("alice already has 2 TOTP factors (factors_per_method is 2)", proc.stderr)
        self.assertNotIn("otpauth://", proc.stdout)
        self.assertEqual(self.w.record_text("alice"), before)
        # --force replaces both.
        later = "2030-01-01 00:01:10"
        new = self.w.enroll("alice", "--force", at=later)
        self.assertEqual(app_secrets(self.w, "alice"), [new])
        self.assertPam(self.w.login("alice", [oathtool(phone, later)], at=later),
                       "PAM_AUTH_ERR")
        self.assertPam(self.w.login("alice", [oathtool(new, later)], at=later), "PAM_SUCCESS")

    def test_status_with_several_factors(self):
        phone = self.w.enroll("alice", "--label", "phone")
        tablet = self.w.enroll("alice", "--add", "--label", "tablet")
        self.dest("alice", "sms", NUMBER, "--label", "work")
        self.dest("alice", "sms", NUMBER2, "--add")
        proc = self.dest("alice", "email", "alice@example.org")
        self.assertIn("no confirmation email", proc.stderr)
        self.assertPam(self.w.login("alice", [oathtool(phone, T0)], rhost="192.0.2.7"),
                       "PAM_SUCCESS")
        table = self.w.mfactl("status", at=T0)
        self.assertEqual(table.returncode, 0, table.stderr)
        self.assertRegex(table.stdout, r"(?m)^alice\s+optional\s+totp,email,sms\s+"
                                       r"2030-01-01 00:00:10Z\s+-\s+2030-01-01 00:00:10Z\s")
        self.assertEqual(self.method_lines(table.stdout, "alice"), [
            "  authenticator app: 2 configured (phone, last used 2030-01-01 00:00:10Z; tablet)",
            '  phone: 2 verified (+1******0100 "work"; +4*******0123)',
            "  email: verified a***@example.org",
            # Made by the first enrollment, kept by the others (unused).
            "  recovery codes: 10 of 10 left (made by an administrator 2030-01-01 00:00:10Z)",
        ])
        self.assertEqual(self.method_lines(table.stdout, "bob"), [])
        for whole in (NUMBER, NUMBER2, "alice@example.org"):
            self.assertNotIn(whole, table.stdout)
        self.assertEqual(set(table_rows(table.stdout)),
                         {"root", "alice", "bob", "carol", "dave", "erin"})
        doc = self.status_json("alice")
        self.assertEqual(doc["methods"], ["totp", "email", "sms"])
        self.assertEqual(doc["counts"], {"totp": 2, "email": 1, "sms": 2})
        factors = sorted(doc["factors"], key=lambda f: f["id"])
        self.assertEqual([(f["method"], f["label"], f["dest"], f["verified"], f["by_admin"])
                          for f in factors],
                         [("totp", "phone", None, True, True),
                          ("totp", "tablet", None, True, True),
                          ("sms", "work", NUMBER, True, True),
                          ("sms", None, NUMBER2, True, True),
                          ("email", None, "alice@example.org", True, True)])
        self.assertEqual([f["last_used"] for f in factors], [T0_UNIX, None, None, None, None])
        self.assertEqual(factors[0]["totp"], {"algorithm": "sha1", "digits": 6, "period": 30})
        self.assertEqual(doc["email"], {"address": "alice@example.org", "verified": True,
                                        "enrolled_at": T0_UNIX})
        self.assertEqual(doc["totp"]["digits"], 6)
        self.assertEqual(doc["last_login"]["rhost"], "192.0.2.7")
        everyone = self.w.mfactl("status", "--json").stdout
        for secret in (phone, tablet):
            self.assertNotIn(secret, everyone)
        # None of it is missing; bob is.
        missing = self.w.mfactl("status", "--missing").stdout
        self.assertNotRegex(missing, r"(?m)^alice\s")
        self.assertRegex(missing, r"(?m)^bob\s")

    def test_reset_factor_leaves_the_others(self):
        phone = self.w.enroll("alice", "--label", "phone")
        tablet = self.w.enroll("alice", "--add", "--label", "tablet")
        self.dest("alice", "sms", NUMBER, "--label", "work")
        proc = self.w.mfactl("reset", "alice", "--factor", "tablet")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn('Reset alice: removed 1 factor labelled "tablet"; other state is kept.',
                      proc.stdout)
        self.assertTrue(any('action=reset user=alice label="tablet" factors=1' in l
                            for l in proc.log), proc.log)
        # The user is told (no server here: noted).
        self.assertIn("mfactl: note: no email to alice about the reset", proc.stderr)
        self.assertEqual([f["label"] for f in factor_lines(self.w, "alice")], ["phone", "work"])
        self.assertEqual(app_secrets(self.w, "alice"), [phone])
        self.assertPam(self.w.login("alice", [oathtool(tablet, T0)]), "PAM_AUTH_ERR")
        self.assertPam(self.w.login("alice", [oathtool(phone, T0)]), "PAM_SUCCESS")
        # A label alice has no factor of, or none may have: an error, no change.
        before = self.w.record_text("alice")
        for label, why in (("tablet", 'alice has no factor labelled "tablet"; nothing was reset'),
                           ("Phone", 'alice has no factor labelled "Phone"'),
                           ("", "is not a label"), ("a\nb", "is not a label"),
                           (" phone", "is not a label"), ("x" * 33, "is not a label"),
                           ('a"b', "is not a label")):
            with self.subTest(label=label):
                proc = self.w.mfactl("reset", "alice", "--factor", label)
                self.assertEqual(proc.returncode, 1, proc.stdout)
                self.assertIn(why, proc.stderr)
                self.assertNotIn("\n", proc.stderr.rstrip("\n"))
                self.assertFalse(any("action=reset" in l for l in proc.log), proc.log)
                self.assertEqual(self.w.record_text("alice"), before)
        proc = self.w.mfactl("reset", "bob", "--factor", "phone")
        self.assertEqual(proc.returncode, 1)
        self.assertIn('bob has no factor labelled "phone"', proc.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.w.state_dir, "bob")))

    def test_reset_method_sms(self):
        secret = self.w.enroll("alice")
        self.dest("alice", "sms", NUMBER)
        self.dest("alice", "sms", NUMBER2, "--add")
        proc = self.w.mfactl("reset", "alice", "--method", "sms")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("Reset alice: removed 2 SMS factors; other state is kept.", proc.stdout)
        self.assertTrue(any("action=reset user=alice method=sms factors=2" in l
                            for l in proc.log), proc.log)
        self.assertEqual([f["method"] for f in factor_lines(self.w, "alice")], ["totp"])
        self.assertEqual(self.status_json("alice")["methods"], ["totp"])
        self.assertPam(self.w.login("alice", [oathtool(secret, T0)]), "PAM_SUCCESS")
        again = self.w.mfactl("reset", "alice", "--method", "sms")
        self.assertEqual(again.returncode, 0)
        self.assertIn("alice has no SMS enrollment; nothing to reset.", again.stdout)

    def test_reset_all(self):
        self.w.write_config(dict(FACTORS_CONFIG, default_policy='"opt-out"'))
        self.w.enroll("alice", "--label", "phone")
        self.w.enroll("alice", "--add", "--label", "tablet")
        self.dest("bob", "sms", NUMBER)
        self.assertIgnored(self.w.login("erin", ["skip"]))
        self.assertEqual(self.w.users_with_state(), ["alice", "bob", "erin"])
        before = snapshot(self.w.state_dir)
        # Without --yes, or with what it does not take: refused, nothing changed.
        for args in (["--all"], ["--all", "alice", "--yes"], ["alice", "--all"],
                     ["--all", "--method", "totp", "--yes"], ["--all", "--factor", "phone"]):
            with self.subTest(args=args):
                proc = self.w.mfactl("reset", *args)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertEqual(proc.stdout, "")
                self.assertFalse(any("action=reset" in l for l in proc.log), proc.log)
                self.assertEqual(snapshot(self.w.state_dir), before)
        proc = self.w.mfactl("reset", "--all")
        self.assertIn("--all would forget all devices of every user", proc.stderr)
        self.assertIn("remembered skips", proc.stderr)
        self.assertIn("Give --yes to do it.", proc.stderr)
        # With --yes: everyone's state goes, and no mail.
        proc = self.w.mfactl("reset", "--all", "--yes", extra_env={"SUDO_USER": "carol"})
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("Forgot all devices: reset 3 users", proc.stdout)
        self.assertIn("no notice was sent", proc.stdout)
        self.assertNotIn("note:", proc.stderr)
        logged = [l for l in proc.log if "action=reset" in l]
        self.assertEqual(len(logged), 1, proc.log)
        self.assertIn("admin=root sudo_user=carol action=reset-all users=3", logged[0])
        self.assertEqual(self.w.users_with_state(), [])
        for user in ("alice", "bob"):
            self.assertEqual(self.status_json(user)["factors"], [])
        # erin's skip is forgotten: the next login offers enrollment again.
        self.assertIn(OFFER, self.w.login("erin", ["skip"]).stdout)
        again = self.w.mfactl("reset", "--all", "--yes")
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn("reset 1 user ", again.stdout)   # erin's new skip

    def test_hostile_numbers_refused(self):
        for number in ("+1 555", "+1555abc0100", "+" + "1" * 40, NUMBER + "\r\n",
                       "\r\n" + NUMBER, NUMBER[:5] + "\n" + NUMBER[5:], "15555550100",
                       "+05555550100", "", "+", "++15555550100", "+1555",
                       "+1555555\u0660100", NUMBER + ";id", "$(id)"):
            for verified in (["--verified"], []):
                with self.subTest(number=number, verified=verified):
                    proc = self.w.mfactl("enroll", "alice", "--method", "sms", "--phone",
                                         number, *verified)
                    self.assertEqual(proc.returncode, 1, proc.stdout)
                    self.assertIn("is not a phone number this system accepts", proc.stderr)
                    self.assertNotIn("\r", proc.stderr)
                    self.assertEqual(proc.stderr.count("\n"), 1, proc.stderr)
                    self.assertEqual(proc.stdout, "")
                    self.assertFalse(any("action=" in l for l in proc.log), proc.log)
        self.assertEqual(os.listdir(self.w.state_dir), [])

    def test_hostile_labels_refused(self):
        for label in ("", " phone", "phone ", "x" * 33, "a\nb", "a\rb", 'a"b', "tab\there",
                      "a;b", "$(id)", "a/b", "\u00e9t\u00e9"):
            for args in (["--qr", "none"], ["--method", "sms", "--phone", NUMBER, "--verified"],
                         ["--method", "email", "--address", "a@example.org", "--verified"]):
                with self.subTest(label=label, args=args):
                    proc = self.w.mfactl("enroll", "alice", "--label", label, *args)
                    self.assertEqual(proc.returncode, 1, proc.stdout)
                    self.assertIn("is not a label this system accepts", proc.stderr)
                    self.assertEqual(proc.stderr.count("\n"), 1, proc.stderr)
                    self.assertNotIn("otpauth://", proc.stdout)
        self.assertEqual(os.listdir(self.w.state_dir), [])
        # The longest label there may be is taken.
        self.w.enroll("alice", "--label", "Work phone (old) +1_a.b-c@d 0123")

    def test_sms_method_not_enabled(self):
        self.w.write_config({"methods": '[ "totp", "email" ]', "email": EMAIL_GROUP})
        proc = self.w.mfactl("enroll", "alice", "--method", "sms", "--phone", NUMBER,
                             "--verified")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("the sms method is not enabled in %s (methods, sms.url)"
                      % self.w.config_path, proc.stderr)
        self.assertEqual(os.listdir(self.w.state_dir), [])


_pki = None


def sms_pki():
    """One throwaway CA for the process: making certificates takes a while."""
    global _pki
    if _pki is None:
        where = tempfile.mkdtemp(prefix="mfactl-sms-pki.")
        atexit.register(shutil.rmtree, where, True)
        _pki = Pki(os.path.join(where, "pki"))
    return _pki


@unittest.skipIf(SmsGateway is None, "tests/lib/sms_gateway.py is not there")
class SmsByGateway(WorldTest):
    """enroll --method sms without --verified: the code goes out through a
    real HTTPS gateway on loopback before anything is written."""

    def setUp(self):
        super().setUp()
        password = os.path.join(self.w.root, "sms.password")
        with open(password, "w", opener=lambda p, f: os.open(p, f, 0o600)) as f:
            f.write("gateway-password\n")
        self.gw = SmsGateway(os.path.join(self.w.root, "gw"), basic=("AC123", "gateway-password"),
                             pki=sms_pki()).start()
        self.addCleanup(self.gw.stop)
        sms = ('{ url = "%s"; format = "form"; fields = { To = "%%{phone}"; From = "+15550100"; '
               'Body = "%%{message}"; }; username = "AC123"; password_file = "%s"; '
               'ca_file = "%s"; timeout = 5; }' % (self.gw.url(), password, self.gw.ca_file))
        self.w.write_config({"methods": '[ "totp", "sms" ]', "sms": sms})

    def test_code_sent_then_number_on_record(self):
        proc = self.w.mfactl("enroll", "alice", "--method", "sms", "--phone", NUMBER,
                             "--label", "mobile", at=T0)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("Sent a verification code to +15555550100. alice proves the number by "
                      "typing it at the next login within 5 minutes", proc.stdout)
        self.assertEqual(len(self.gw.requests()), 1)
        req = self.gw.last()
        self.assertTrue(req["auth_ok"])
        self.assertEqual(SmsGateway.fields(req)["To"], NUMBER)
        code = self.gw.last_code("Body")
        self.assertNotIn(code, proc.stdout + proc.stderr + "\n".join(proc.log))
        self.assertTrue(any("action=enroll user=alice method=sms verified=pending" in l
                            for l in proc.log), proc.log)
        doc = self.status_json_of("alice")
        self.assertEqual(doc["methods"], [])
        self.assertEqual([(f["method"], f["dest"], f["verified"], f["by_admin"], f["label"])
                          for f in doc["factors"]], [("sms", NUMBER, False, True, "mobile")])
        table = self.w.mfactl("status", "alice").stdout
        self.assertRegex(table, r"(?m)^alice\s+optional\s+sms\?\s")
        self.assertIn('\n  phone: not verified +1******0100 "mobile"\n', table)
        self.assertRegex(self.w.mfactl("status", "--missing").stdout, r"(?m)^alice\s")

    def test_gateway_failure_and_hostile_numbers_change_nothing(self):
        self.gw.behave(mode="error")
        proc = self.w.mfactl("enroll", "bob", "--method", "sms", "--phone", NUMBER2)
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(len(self.gw.requests()), 1)
        self.assertFalse(os.path.exists(os.path.join(self.w.state_dir, "bob")))
        self.assertFalse(any("action=" in l for l in proc.log), proc.log)
        self.gw.behave(mode="ok")
        for number in ("+1 555", NUMBER + "\r\n", "+" + "1" * 40, "+1555abc0100"):
            proc = self.w.mfactl("enroll", "bob", "--method", "sms", "--phone", number)
            self.assertEqual(proc.returncode, 1, number)
        self.assertEqual(len(self.gw.requests()), 1)
        self.assertEqual(os.listdir(self.w.state_dir), [])

    def status_json_of(self, user):
        proc = self.w.mfactl("status", "--json", user)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return json.loads(proc.stdout)["users"][0]


def hex_to_b32(hexkey):
    return base64.b32encode(bytes.fromhex(hexkey)).decode().rstrip("=")


KEY1 = "3132333435363738393031323334353637383930"  # RFC 6238's SHA-1 key
KEY2 = "00112233445566778899aabbccddeeff00112233"
KEY3 = "ffeeddccbbaa99887766554433221100ffeeddcc"


class ImportOath(WorldTest):
    def usersfile(self, text, mode=0o600):
        path = os.path.join(self.w.root, "users.oath")
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def test_totp_lines_imported_hotp_and_bad_lines_reported(self):
        path = self.usersfile(
            "# pam_oath usersfile\n"
            "\n"
            "HOTP/T30 alice - %s\n"                       # 3: TOTP, 6 digits, 30 s
            "HOTP/T60/8 bob 1234 %s\n"                    # 4: 8 digits, 60 s, a PIN
            "HOTP carol - %s 7\n"                         # 5: HOTP: skipped
            "HOTP/T30 dave - 0011zz\n"                    # 6: bad secret
            "TOTP/X erin - %s\n"                          # 7: bad type
            "HOTP/T30 ../etc - %s\n"                      # 8: hostile name
            "HOTP/T30 alice - %s\n"                       # 9: alice again
            "HOTP/T30 erin - %s 0 123456 2029-12-31T23:59:59L extra\n"  # 10: 8 fields
            % (KEY1, KEY2, KEY3, KEY1, KEY1, KEY3, KEY3))
        proc = self.w.mfactl("import", "--from", "oath", path, at=T0)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("imported 2 users", proc.stdout)
        self.assertIn("skipped, HOTP (counter) tokens: 1", proc.stdout)
        self.assertIn("skipped, user repeated: 1", proc.stdout)
        self.assertIn("bad lines: 4", proc.stdout)
        for line, what in ((4, "PIN is not imported"), (5, "carol: skipped: an HOTP"),
                           (6, "secret is not"), (7, "unknown token type"),
                           (8, "not a valid user name"), (9, "alice: skipped"),
                           (10, "8 fields")):
            self.assertRegex(proc.stderr, r"(?m)^%s:%d: .*%s" % (re.escape(path), line,
                                                                 re.escape(what)))
        # The secret never reaches the output.
        self.assertNotIn(KEY1, proc.stdout + proc.stderr)
        self.assertNotIn(hex_to_b32(KEY1), proc.stdout + proc.stderr)
        for user in ("carol", "dave", "erin"):
            self.assertFalse(os.path.exists(os.path.join(self.w.state_dir, user)), user)
        bob = factor_lines(self.w, "bob")
        self.assertEqual([(f["digits"], f["period"], f["secret"], f["label"]) for f in bob],
                         [("8", "60", hex_to_b32(KEY2), "")])
        # Codes from oathtool, from the same hex secrets, log both in.
        res = self.w.login("alice", [oathtool(hex_to_b32(KEY1), T0)])
        self.assertPam(res, "PAM_SUCCESS")
        res = self.w.login("bob", [oathtool(hex_to_b32(KEY2), T0, digits=8, period=60)])
        self.assertPam(res, "PAM_SUCCESS")
        self.assertTrue(any("action=import user=alice method=totp from=oath" in l
                            for l in proc.log), proc.log)
        self.assertTrue(any("action=import from=oath imported=2" in l for l in proc.log))

    def test_last_code_stays_refused(self):
        # pam_oath accepted this code at 23:59:40 local time (UTC here).
        last = oathtool(hex_to_b32(KEY1), "2030-01-01 00:00:05")
        path = self.usersfile("HOTP/T30 alice - %s 0 %s 2030-01-01T00:00:06L\n"
                              % (KEY1, last))
        proc = self.w.mfactl("import", "--from", "oath", path, at=T0)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        res = self.w.login("alice", [last], at=T0)
        self.assertPam(res, "PAM_AUTH_ERR")
        self.assertTrue(any("replay" in l for l in res.log), res.log)
        nxt = "2030-01-01 00:00:31"
        res = self.w.login("alice", [oathtool(hex_to_b32(KEY1), nxt)], at=nxt)
        self.assertPam(res, "PAM_SUCCESS")

    def test_enrolled_users_kept_unless_force(self):
        secret = self.w.enroll("alice")
        path = self.usersfile("HOTP/T30 alice - %s\nHOTP/T30 bob - %s\n" % (KEY1, KEY2))
        proc = self.w.mfactl("import", "--from", "oath", path, at=T0)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("imported 1 user\n", proc.stdout)
        self.assertIn("skipped, already enrolled: 1", proc.stdout)
        self.assertRegex(proc.stderr, r":1: alice: skipped: already enrolled")
        self.assertEqual(app_secrets(self.w, "alice"), [secret])
        # --force replaces every app the user has with the imported one.
        self.w.enroll("alice", "--add", "--label", "tablet")
        proc = self.w.mfactl("import", "--from", "oath", "--force", path, at=T0)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("imported 2 users", proc.stdout)
        self.assertEqual(app_secrets(self.w, "alice"), [hex_to_b32(KEY1)])

    def test_dry_run_changes_nothing(self):
        self.w.enroll("alice")
        before = snapshot(self.w.state_dir)
        path = self.usersfile("HOTP/T30 alice - %s\nHOTP/T30 bob - %s\nbad\n" % (KEY1, KEY2))
        proc = self.w.mfactl("import", "--from", "oath", "--dry-run", path, at=T0)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("would import 1 user\n", proc.stdout)
        self.assertIn("skipped, already enrolled: 1", proc.stdout)
        self.assertIn("bad lines: 1", proc.stdout)
        self.assertEqual(snapshot(self.w.state_dir), before)

    def test_untrusted_files_refused(self):
        before = snapshot(self.w.state_dir)
        path = self.usersfile("HOTP/T30 alice - %s\n" % KEY1, mode=0o622)
        proc = self.w.mfactl("import", "--from", "oath", path)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("writable by group or others", proc.stderr)
        os.chmod(path, 0o600)
        link = os.path.join(self.w.root, "link.oath")
        os.symlink(path, link)
        proc = self.w.mfactl("import", "--from", "oath", link)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("symbolic link", proc.stderr)
        os.chown(path, 2001, 2001)
        proc = self.w.mfactl("import", "--from", "oath", path)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("owned by uid 2001", proc.stderr)
        self.assertEqual(snapshot(self.w.state_dir), before)

    def test_garbage_and_long_lines(self):
        path = os.path.join(self.w.root, "garbage")
        with open(path, "wb") as f:
            f.write(b"HOTP/T30 alice - " + b"a" * 5000 + b"\n\x00\x01\xff\n"
                    b"HOTP/T30 bob - " + KEY2.encode() + b"\n")
        os.chmod(path, 0o600)
        proc = self.w.mfactl("import", "--from", "oath", path, at=T0)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("bad lines: 2", proc.stdout)
        self.assertIn("imported 1 user\n", proc.stdout)
        self.assertEqual(sorted(u for u in os.listdir(self.w.state_dir) if not u.startswith(".")),
                         ["bob"])

    def test_many_users(self):
        names = ["u%05d" % i for i in range(3000)]
        self.w.users = names
        self.w._write_nss()
        path = self.usersfile("".join("HOTP/T30 %s - %040x\n" % (n, i + 1)
                                      for i, n in enumerate(names)))
        proc = self.w.mfactl("import", "--from", "oath", path, at=T0)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("imported 3000 users", proc.stdout)
        self.assertEqual(app_secrets(self.w, "u02999"), [hex_to_b32("%040x" % 3000)])

    def test_usage(self):
        for args in (["import"], ["import", "--from", "oath"],
                     ["import", "--from", "pam_duo", "f"],
                     ["import", "--from", "google-authenticator", "f"]):
            proc = self.w.mfactl(*args)
            self.assertEqual(proc.returncode, 2, args)
        proc = self.w.mfactl("import", "--help")
        self.assertEqual(proc.returncode, 0)
        self.assertTrue(proc.stdout.startswith("usage: mfactl import"))


GA_SECRET = "JBSWY3DPEHPK3PXP"  # 80 bits, as google-authenticator makes them


class ImportGoogleAuthenticator(WorldTest):
    def gafile(self, text, owner=2001, mode=0o400):
        path = os.path.join(self.w.root, "google_authenticator")
        with open(path, "w") as f:
            f.write(text)
        os.chown(path, owner, owner)
        os.chmod(path, mode)
        return path

    def test_totp_file_imported(self):
        used = "2030-01-01 00:00:10"
        step = 1893456010 // 30
        path = self.gafile('%s\n" RATE_LIMIT 3 30\n" WINDOW_SIZE 17\n" DISALLOW_REUSE %d %d\n'
                           '" TOTP_AUTH\n12345678\n87654321\n' % (GA_SECRET, step - 3, step))
        proc = self.w.mfactl("import", "--from", "google-authenticator", "alice", path, at=T0)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("imported 1 user\n", proc.stdout)
        self.assertIn("alice: imported 2 scratch codes as recovery codes", proc.stderr)
        rec = factor_lines(self.w, "alice")
        self.assertEqual([(f["secret"], f["period"], f["digits"]) for f in rec],
                         [(GA_SECRET, "30", "6")])
        # The code of the step google-authenticator saw last is a replay.
        res = self.w.login("alice", [oathtool(GA_SECRET, used)], at=used)
        self.assertPam(res, "PAM_AUTH_ERR")
        nxt = "2030-01-01 00:00:40"
        res = self.w.login("alice", [oathtool(GA_SECRET, nxt)], at=nxt)
        self.assertPam(res, "PAM_SUCCESS")

    def test_step_size_kept(self):
        path = self.gafile('%s\n" STEP_SIZE 60\n" TOTP_AUTH\n' % GA_SECRET)
        proc = self.w.mfactl("import", "--from", "google-authenticator", "alice", path, at=T0)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        res = self.w.login("alice", [oathtool(GA_SECRET, T0, period=60)])
        self.assertPam(res, "PAM_SUCCESS")

    def test_hotp_and_bad_files_import_nothing(self):
        before = snapshot(self.w.state_dir)
        path = self.gafile('%s\n" HOTP_COUNTER 4\n' % GA_SECRET)
        proc = self.w.mfactl("import", "--from", "google-authenticator", "alice", path)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("skipped, HOTP (counter) tokens: 1", proc.stdout)
        os.unlink(path)
        path = self.gafile('%s\n" TOTP_AUTH\n" STEP_SIZE 5\n' % GA_SECRET)
        proc = self.w.mfactl("import", "--from", "google-authenticator", "alice", path)
        self.assertEqual(proc.returncode, 1)
        self.assertRegex(proc.stderr, r":3: bad line: STEP_SIZE")
        os.unlink(path)
        path = self.gafile('NOT-BASE32!\n" TOTP_AUTH\n')
        proc = self.w.mfactl("import", "--from", "google-authenticator", "alice", path)
        self.assertEqual(proc.returncode, 1)
        self.assertRegex(proc.stderr, r":1: bad line: the secret")
        os.unlink(path)
        # Another user's file is not alice's to import.
        path = self.gafile('%s\n" TOTP_AUTH\n' % GA_SECRET, owner=2002)
        proc = self.w.mfactl("import", "--from", "google-authenticator", "alice", path)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("owned by uid 2002", proc.stderr)
        self.assertEqual(snapshot(self.w.state_dir), before)

    def test_unknown_user(self):
        path = self.gafile('%s\n" TOTP_AUTH\n' % GA_SECRET)
        proc = self.w.mfactl("import", "--from", "google-authenticator", "nosuchuser", path)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("no such user", proc.stderr)


# A recovery or bypass code as mfactl shows it: three groups of four symbols
# of the alphabet without look-alikes (core/recovery.c).
CODE_RE = r"[2-9a-hjkmnp-z]{4}-[2-9a-hjkmnp-z]{4}-[2-9a-hjkmnp-z]{4}"


def shown_codes(text):
    """The recovery codes printed, each on a line of its own, indented."""
    return re.findall(r"(?m)^    (%s)$" % CODE_RE, text)


def backup_json(w, user, at=T0):
    """user's "recovery" and "bypass" as mfactl status --json has them."""
    proc = w.mfactl("status", "--json", user, at=at)
    if proc.returncode != 0:
        raise AssertionError("status failed: %s" % proc.stderr)
    row = json.loads(proc.stdout)["users"][0]
    return row["recovery"], row["bypass"]


class RecoveryCodes(WorldTest):
    def test_new_set_replaces_the_old(self):
        self.w.enroll("alice", "--no-recovery-codes")
        self.assertEqual(backup_json(self.w, "alice"), (None, None))
        proc = self.w.mfactl("recovery-codes", "alice", at=T0)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        first = shown_codes(proc.stdout)
        self.assertEqual(len(first), 10, proc.stdout)
        self.assertEqual(len(set(first)), 10)
        self.assertIn("New recovery codes for alice: 10, each good for one login", proc.stdout)
        self.assertIn("alice had no recovery codes before.", proc.stdout)
        self.assertIn("they are not shown again", proc.stdout)
        self.assertTrue(any("action=recovery-codes user=alice codes=10 source=admin" in l
                            for l in proc.log), proc.log)
        # Never a code in the log, nor its canonical form.
        for code in first:
            for form in (code, code.replace("-", "")):
                self.assertFalse(any(form in l for l in proc.log), proc.log)
        self.assertEqual(backup_json(self.w, "alice"),
                         ({"left": 10, "made": 10, "since": T0_UNIX, "source": "admin"}, None))
        # Again, later: a new set, and the old one is said to be void.
        later = "2030-01-01 00:05:10"
        proc = self.w.mfactl("recovery-codes", "alice", at=later)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        second = shown_codes(proc.stdout)
        self.assertEqual(len(second), 10)
        self.assertFalse(set(first) & set(second))
        self.assertIn("The previous set (10 of 10 unused) no longer works.", proc.stdout)
        self.assertEqual(backup_json(self.w, "alice", at=later)[0],
                         {"left": 10, "made": 10, "since": T0_UNIX + 300, "source": "admin"})
        # Recovery codes are no factor: alice's factors are unchanged.
        self.assertEqual(len(factor_lines(self.w, "alice")), 1)

    def test_set_size_from_the_config(self):
        self.w.write_config({"recovery": "{ codes = 5; }"})
        self.w.enroll("alice", "--no-recovery-codes")
        proc = self.w.mfactl("recovery-codes", "alice")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(len(shown_codes(proc.stdout)), 5)
        self.assertEqual(backup_json(self.w, "alice")[0]["made"], 5)

    def test_refused_without_a_factor_or_codes(self):
        # bob has no state at all; carol only an address waiting to be proved.
        proc = self.w.mfactl("recovery-codes", "bob")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("bob holds no verified factor", proc.stderr)
        self.assertEqual(shown_codes(proc.stdout), [])
        self.assertFalse(any("action=recovery-codes" in l for l in proc.log), proc.log)
        self.assertEqual(backup_json(self.w, "bob"), (None, None))
        # recovery.codes = 0: none are made, for anyone.
        self.w.enroll("alice", "--no-recovery-codes")
        self.w.write_config({"recovery": "{ codes = 0; }"})
        proc = self.w.mfactl("recovery-codes", "alice")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("recovery.codes is 0", proc.stderr)
        self.assertEqual(shown_codes(proc.stdout), [])
        self.assertEqual(backup_json(self.w, "alice"), (None, None))
        for args, code in ((["recovery-codes"], 2), (["recovery-codes", "alice", "bob"], 2),
                           (["recovery-codes", "--bogus", "alice"], 2),
                           (["recovery-codes", "../etc"], 1)):
            with self.subTest(args=args):
                proc = self.w.mfactl(*args)
                self.assertEqual(proc.returncode, code, proc.stderr)
                self.assertTrue(proc.stderr.strip())

    def test_enroll_makes_a_set_once(self):
        proc = self.w.mfactl("enroll", "alice", "--qr", "none", at=T0)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        codes = shown_codes(proc.stdout)
        self.assertEqual(len(codes), 10, proc.stdout)
        self.assertIn("Recovery codes for alice: 10, each good for one login", proc.stdout)
        # After the factor, which is saved first.
        self.assertLess(proc.stdout.index("otpauth://"), proc.stdout.index("Recovery codes"))
        self.assertEqual(backup_json(self.w, "alice")[0],
                         {"left": 10, "made": 10, "since": T0_UNIX, "source": "admin"})
        # Another app for a user who keeps unused codes: the set stays.
        proc = self.w.mfactl("enroll", "alice", "--add", "--qr", "none")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(shown_codes(proc.stdout), [])
        self.assertNotIn("Recovery codes", proc.stdout)
        # --no-recovery-codes: none.
        proc = self.w.mfactl("enroll", "bob", "--qr", "none", "--no-recovery-codes")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(shown_codes(proc.stdout), [])
        self.assertEqual(backup_json(self.w, "bob"), (None, None))
        # After a reset the next enrollment makes a new set.
        self.assertEqual(self.w.mfactl("reset", "alice").returncode, 0)
        self.assertEqual(backup_json(self.w, "alice"), (None, None))
        proc = self.w.mfactl("enroll", "alice", "--qr", "none")
        self.assertEqual(len(shown_codes(proc.stdout)), 10)
        self.assertFalse(set(codes) & set(shown_codes(proc.stdout)))


class Bypass(WorldTest):
    def setUp(self):
        super().setUp()
        self.w.enroll("alice", "--no-recovery-codes")

    def test_defaults_one_use_one_hour(self):
        proc = self.w.mfactl("bypass", "alice", at=T0)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        m = re.search(r"(?m)^Bypass code for alice: (%s)$" % CODE_RE, proc.stdout)
        self.assertTrue(m, proc.stdout)
        self.assertIn("It works once, until 2030-01-01 01:00:10Z (1 hour from now)", proc.stdout)
        self.assertIn("alice's factors and recovery codes stay", proc.stdout)
        self.assertTrue(any("action=bypass user=alice uses=1 expires=%d" % (T0_UNIX + 3600) in l
                            for l in proc.log), proc.log)
        code = m.group(1)
        for form in (code, code.replace("-", "")):
            self.assertFalse(any(form in l for l in proc.log), proc.log)
        self.assertEqual(backup_json(self.w, "alice"),
                         (None, {"uses_left": 1, "expires": T0_UNIX + 3600, "made": T0_UNIX}))
        # The table says so under alice's row.
        table = self.w.mfactl("status", "alice", at=T0).stdout
        self.assertIn("\n  bypass code: 1 use left, until 2030-01-01 01:00:10Z\n", table)
        # Past its time it is no longer outstanding.
        self.assertEqual(backup_json(self.w, "alice", at="2030-01-01 01:00:10")[1], None)
        # A new one replaces it.
        proc = self.w.mfactl("bypass", "alice", "--uses", "3", "--valid", "2d", at=T0)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("It works 3 times, until 2030-01-03 00:00:10Z (2 days from now)",
                      proc.stdout)
        self.assertNotIn(code, proc.stdout)
        self.assertEqual(backup_json(self.w, "alice")[1],
                         {"uses_left": 3, "expires": T0_UNIX + 2 * 86400, "made": T0_UNIX})

    def test_durations_and_bounds(self):
        for valid, seconds in (("60", 60), ("90s", 90), ("30m", 1800), ("2h", 7200),
                               ("1d", 86400), ("30d", 30 * 86400), ("2592000", 2592000)):
            with self.subTest(valid=valid):
                proc = self.w.mfactl("bypass", "alice", "--valid", valid, at=T0)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertEqual(backup_json(self.w, "alice")[1]["expires"], T0_UNIX + seconds)
        for uses in ("1", "100"):
            proc = self.w.mfactl("bypass", "alice", "--uses", uses, at=T0)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertEqual(backup_json(self.w, "alice")[1]["uses_left"], int(uses))
        before = backup_json(self.w, "alice")
        for args in (["--uses", "0"], ["--uses", "101"], ["--uses", "-1"], ["--uses", "x"],
                     ["--uses", ""], ["--uses", "01"], ["--uses", "1e2"],
                     ["--valid", "59"], ["--valid", "59s"], ["--valid", "31d"],
                     ["--valid", "2592001"], ["--valid", "1w"], ["--valid", "1h "],
                     ["--valid", ""], ["--valid", "h"], ["--valid", "1.5h"], ["--valid", "+60"],
                     ["--valid", "0x100"], ["--valid", "1hh"], ["--valid", "-1h"],
                     ["--valid", "99999999999999999999999d"], ["--valid", "1H"],
                     ["--revoke", "--uses", "2"], ["--revoke", "--valid", "1h"],
                     ["--uses"], []):
            with self.subTest(args=args):
                proc = self.w.mfactl("bypass", *(["alice"] if args != [] else []), *args,
                                     at=T0)
                self.assertEqual(proc.returncode, 2, proc.stdout)
                self.assertTrue(proc.stderr.strip())
                self.assertNotRegex(proc.stdout, CODE_RE)
        self.assertEqual(backup_json(self.w, "alice"), before)

    def test_revoke(self):
        self.assertEqual(self.w.mfactl("bypass", "alice", at=T0).returncode, 0)
        proc = self.w.mfactl("bypass", "alice", "--revoke", at=T0)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("Revoked alice's bypass code: it no longer works.", proc.stdout)
        self.assertTrue(any("action=bypass-revoke user=alice outstanding=yes" in l
                            for l in proc.log), proc.log)
        self.assertEqual(backup_json(self.w, "alice"), (None, None))
        proc = self.w.mfactl("bypass", "alice", "--revoke", at=T0)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("alice had no outstanding bypass code; nothing to revoke.", proc.stdout)
        # Revoking is fine for anyone; a new code needs a factor to stand in for.
        proc = self.w.mfactl("bypass", "bob", "--revoke")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        proc = self.w.mfactl("bypass", "bob")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("bob holds no verified factor", proc.stderr)
        self.assertNotRegex(proc.stdout, CODE_RE)
        self.assertEqual(backup_json(self.w, "bob"), (None, None))


class StatusBackup(WorldTest):
    def test_table_and_json(self):
        self.w.enroll("alice", "--no-recovery-codes")
        self.assertEqual(self.w.mfactl("recovery-codes", "alice", at=T0).returncode, 0)
        self.assertEqual(self.w.mfactl("bypass", "alice", "--uses", "2", at=T0).returncode, 0)
        proc = self.w.mfactl("status", at=T0)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        lines = proc.stdout.splitlines()
        i = next(i for i, l in enumerate(lines) if l.startswith("alice "))
        self.assertEqual(lines[i + 1:i + 4], [
            "  authenticator app: 1 configured (unlabelled)",
            "  recovery codes: 10 of 10 left (made by an administrator 2030-01-01 00:00:10Z)",
            "  bypass code: 2 uses left, until 2030-01-01 01:00:10Z",
        ])
        self.assertEqual(set(table_rows(proc.stdout)),
                         {"root", "alice", "bob", "carol", "dave", "erin"})
        doc = json.loads(self.w.mfactl("status", "--json", at=T0).stdout)
        users = {u["user"]: u for u in doc["users"]}
        self.assertEqual(users["alice"]["recovery"],
                         {"left": 10, "made": 10, "since": T0_UNIX, "source": "admin"})
        self.assertEqual(users["alice"]["bypass"],
                         {"uses_left": 2, "expires": T0_UNIX + 3600, "made": T0_UNIX})
        self.assertIsNone(users["bob"]["recovery"])
        self.assertIsNone(users["bob"]["bypass"])
        # A reset forgets both with the factors.
        self.assertEqual(self.w.mfactl("reset", "alice").returncode, 0)
        self.assertEqual(backup_json(self.w, "alice"), (None, None))


class ImportScratchCodes(WorldTest):
    def gafile(self, text, owner=2001):
        path = os.path.join(self.w.root, "google_authenticator")
        with open(path, "w") as f:
            f.write(text)
        os.chown(path, owner, owner)
        os.chmod(path, 0o400)
        return path

    def test_scratch_codes_become_recovery_codes(self):
        scratch = ["12345678", "87654321", "00001111"]
        path = self.gafile('%s\n" TOTP_AUTH\n%s\n' % (GA_SECRET, "\n".join(scratch)))
        proc = self.w.mfactl("import", "--from", "google-authenticator", "--dry-run", "alice",
                             path, at=T0)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("alice: would import 3 scratch codes as recovery codes", proc.stderr)
        self.assertEqual(backup_json(self.w, "alice"), (None, None))
        proc = self.w.mfactl("import", "--from", "google-authenticator", "alice", path, at=T0)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("alice: imported 3 scratch codes as recovery codes", proc.stderr)
        self.assertNotIn("not imported", proc.stderr)
        self.assertTrue(any("action=recovery-codes user=alice codes=3 source=imported" in l
                            for l in proc.log), proc.log)
        for code in scratch:
            self.assertFalse(any(code in l for l in proc.log), proc.log)
            if not self.w.pg:
                self.assertNotIn(code, self.w.record_text("alice"))
        self.assertEqual(backup_json(self.w, "alice")[0],
                         {"left": 3, "made": 3, "since": T0_UNIX, "source": "imported"})
        table = self.w.mfactl("status", "alice", at=T0).stdout
        self.assertIn("\n  recovery codes: 3 of 3 left (imported 2030-01-01 00:00:10Z)\n", table)

    def test_at_most_a_set_and_bad_lines_refused(self):
        scratch = ["%08d" % (10000000 + i) for i in range(23)]
        path = self.gafile('%s\n" TOTP_AUTH\n%s\n%s\n' % (GA_SECRET, "\n".join(scratch),
                                                          scratch[0]))
        proc = self.w.mfactl("import", "--from", "google-authenticator", "alice", path)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("the file has 23 scratch codes; only the first 20 are imported",
                      proc.stderr)
        self.assertIn("1 scratch code repeated, imported once", proc.stderr)
        self.assertEqual(backup_json(self.w, "alice")[0]["made"], 20)
        os.unlink(path)
        # A bad scratch line imports nothing, the secret included.
        path = self.gafile('%s\n" TOTP_AUTH\n12345678\n1234567\n' % GA_SECRET, owner=2002)
        before = self.w.mfactl("status", "--json", "bob").stdout
        proc = self.w.mfactl("import", "--from", "google-authenticator", "bob", path)
        self.assertEqual(proc.returncode, 1)
        self.assertRegex(proc.stderr, r":4: bad line: neither an option nor an 8-digit")
        self.assertEqual(self.w.mfactl("status", "--json", "bob").stdout, before)


def uid_pids(uid):
    """The live processes (not zombies) whose real or effective uid is uid."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/status" % name) as f:
                status = f.read()
        except OSError:
            continue
        state = re.search(r"^State:\s+(\S)", status, re.M).group(1)
        real, eff = re.search(r"^Uid:\s+(\d+)\s+(\d+)", status, re.M).groups()
        if state not in "ZX" and uid in (int(real), int(eff)):
            out.append(int(name))
    return out


def unused_uid():
    """A uid no process runs as, for a throwaway user whose processes may be
    ended without hitting anybody else's (other suites use 2001 and up)."""
    import random
    while True:
        uid = random.randrange(40000, 60000)
        if not uid_pids(uid):
            return uid


class Logout(WorldTest):
    """reset --logout: a real process under a throwaway uid, ended."""

    def setUp(self):
        super().setUp()
        self.uid = unused_uid()
        with open(self.w.passwd, "a") as f:
            f.write("tossed:x:%d:%d::/nonexistent:/bin/sh\n" % (self.uid, self.uid))
            f.write("svc:x:999:999::/nonexistent:/bin/sh\n")
        self.procs = []
        self.addCleanup(self.kill_leftovers)

    def kill_leftovers(self):
        for pid in uid_pids(self.uid):
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()

    def start(self, *argv):
        """argv under the throwaway uid, in a session of its own (setsid)."""
        p = subprocess.Popen(["setsid"] + list(argv), user=self.uid, group=self.uid,
                             extra_groups=[], cwd="/", stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(p)
        return p

    def wait_for(self, n):
        for _ in range(100):
            if len(uid_pids(self.uid)) == n:
                return
            time.sleep(0.05)
        self.fail("expected %d processes of uid %d, found %s" % (n, self.uid,
                                                                  uid_pids(self.uid)))

    def test_a_root_process_acting_as_the_user_is_spared(self):
        """A root daemon that takes on the user's effective uid for a
        moment (mail delivery, cron) is not the user's session."""
        self.w.enroll("tossed", "--no-recovery-codes")
        uid = self.uid
        daemon = subprocess.Popen(["sleep", "303"], preexec_fn=lambda: os.setresuid(0, uid, 0),
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        self.procs.append(daemon)
        mine = self.start("sleep", "304")
        self.wait_for(2)
        proc = self.w.mfactl("reset", "tossed", "--logout")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("tossed: 1 session ended on this host (1 process).", proc.stdout)
        self.assertEqual(mine.wait(timeout=10), -15)
        self.assertIsNone(daemon.poll())

    def test_ends_sessions_after_the_reset(self):
        self.w.enroll("tossed", "--no-recovery-codes")
        # Two sessions: a shell with a job in the background, and a sleep.
        one = self.start("sh", "-c", "sleep 300 & exec sleep 301")
        two = self.start("sleep", "302")
        self.wait_for(3)
        proc = self.w.mfactl("reset", "tossed", "--logout")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("Reset tossed: removed 1 factor", proc.stdout)
        self.assertIn("tossed: 2 sessions ended on this host (3 processes).", proc.stdout)
        # The reset was durable before any process was touched.
        self.assertLess(proc.stdout.index("Reset tossed"), proc.stdout.index("sessions ended"))
        self.assertNotIn("Only this host's sessions", proc.stdout)
        self.assertTrue(any("action=logout user=tossed sessions=2 processes=3 survivors=0" in l
                            for l in proc.log), proc.log)
        self.assertEqual(one.wait(timeout=10), -15)
        self.assertEqual(two.wait(timeout=10), -15)
        self.assertEqual(uid_pids(self.uid), [])
        self.assertEqual(self.w.users_with_state(), [])
        # Nothing left: nothing ended, not an error.
        proc = self.w.mfactl("reset", "tossed", "--logout")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("tossed: 0 sessions ended on this host (0 processes).", proc.stdout)

    def test_sigterm_ignored_then_killed(self):
        stubborn = self.start("sh", "-c", "trap '' TERM; exec sleep 300")
        self.wait_for(1)
        started = time.monotonic()
        proc = self.w.mfactl("reset", "tossed", "--method", "totp", "--logout")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("tossed: 1 session ended on this host (1 process).", proc.stdout)
        self.assertEqual(stubborn.wait(timeout=10), -9)
        # Its grace time, then SIGKILL: not much more.
        self.assertLess(time.monotonic() - started, 30)
        self.assertEqual(uid_pids(self.uid), [])

    def test_refused_before_anything_is_reset(self):
        self.w.enroll("root", "--no-recovery-codes")
        victim = self.start("sleep", "300")
        self.wait_for(1)
        for args, why in ((["root"], "--logout refused for root: root's processes"),
                          (["svc"], "uid 999 is a system account"),
                          (["ghost"], "ghost is not in the passwd database"),
                          (["tossed"], "runs this mfactl")):
            with self.subTest(args=args):
                env = {"SUDO_UID": str(self.uid)} if args == ["tossed"] else None
                proc = self.w.mfactl("reset", *args, "--logout", extra_env=env)
                self.assertEqual(proc.returncode, 1, proc.stdout)
                self.assertIn(why, proc.stderr)
                self.assertIn("nothing was reset", proc.stderr)
                self.assertEqual(proc.stdout, "")
                self.assertFalse(any("action=reset" in l or "action=logout" in l
                                     for l in proc.log), proc.log)
        self.assertEqual(self.w.users_with_state(), ["root"])
        self.assertIsNone(victim.poll())
        proc = self.w.mfactl("reset", "--all", "--yes", "--logout")
        self.assertEqual(proc.returncode, 2)
        self.assertIn("--logout", proc.stderr)
        # A reset that fails ends nothing.
        proc = self.w.mfactl("reset", "tossed", "--factor", "phone", "--logout")
        self.assertEqual(proc.returncode, 1)
        self.assertIsNone(victim.poll())

    @unittest.skipUnless(os.path.isdir("/run/systemd/system"),
                         "systemd-logind does not run on this machine (/run/systemd/system "
                         "does not exist): the logind path of reset --logout is not exercised")
    def test_logind_session_ended(self):
        # A real account (logind and pam_systemd look the user up in the
        # machine's passwd), with a logind session opened by PAMName=login.
        name = "mfatl%d" % self.uid
        subprocess.run(["useradd", "-M", "-u", str(self.uid), "-s", "/bin/sh", name],
                       check=True)
        self.addCleanup(subprocess.run, ["userdel", name], check=False)
        with open(self.w.passwd, "a") as f:
            f.write("%s:x:%d:%d::/nonexistent:/bin/sh\n" % (name, self.uid, self.uid))
        unit = "mfatest-logout-%d" % self.uid
        subprocess.run(["systemd-run", "--unit", unit, "-p", "PAMName=login", "-p",
                        "User=" + name, "sleep", "300"], check=True, capture_output=True)
        self.addCleanup(subprocess.run, ["systemctl", "stop", unit], check=False,
                        capture_output=True)
        for _ in range(100):
            got = subprocess.run(["loginctl", "show-user", str(self.uid), "-p", "Sessions",
                                  "--value"], capture_output=True, text=True)
            if got.returncode == 0 and got.stdout.split():
                break
            time.sleep(0.1)
        else:
            self.skipTest("no logind session could be opened for a throwaway user here")
        proc = self.w.mfactl("reset", name, "--logout")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertRegex(proc.stdout, r"%s: [1-9]\d* sessions? ended on this host "
                                      r"\(\d+ process(es)?; through systemd-logind\)\." % name)
        for _ in range(100):
            if not uid_pids(self.uid):
                break
            time.sleep(0.1)
        self.assertEqual(uid_pids(self.uid), [])


class Help(WorldTest):
    def test_help_and_usage(self):
        top = self.w.mfactl("--help")
        self.assertEqual(top.returncode, 0)
        for verb in ("enroll", "status", "reset", "unlock", "check", "import",
                     "recovery-codes", "bypass"):
            self.assertRegex(top.stdout, r"(?m)^\s+mfactl %s\b" % verb)
            proc = self.w.mfactl(verb, "--help")
            self.assertEqual(proc.returncode, 0, verb)
            self.assertTrue(proc.stdout.startswith("usage: mfactl " + verb), proc.stdout)
        for form in ("enroll USER --method sms --phone NUMBER", "reset --all --yes",
                     "bypass USER --revoke"):
            self.assertRegex(top.stdout, r"(?m)^\s+mfactl %s" % re.escape(form))
        self.assertEqual(self.w.mfactl("help").returncode, 0)
        self.assertIn("mfactl", self.w.mfactl("--version").stdout)
        for args in (["frobnicate"], [], ["status", "--bogus"]):
            proc = self.w.mfactl(*args)
            self.assertEqual(proc.returncode, 2, args)
            self.assertTrue(proc.stderr)

    def test_relative_config_refused(self):
        proc = self.w._run([os.environ["MFACTL"], "--config", "pam_mfa.conf", "check"])
        self.assertEqual(proc.returncode, 2)


if __name__ == "__main__":
    main()
