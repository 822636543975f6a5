"""Crash safety, races and a full disk, against the real store and module.
Run inside `unshare -m` (see meson.build): the full-disk test mounts a small
tmpfs over its own state directory, which nobody else then sees."""
import os
import random
import signal
import subprocess
import threading
import time

from mfatest import T0, WorldTest, files_only, main, oathtool, record_text

STRESS = os.environ["STORE_STRESS"]


def parse_record(path):
    text = record_text(path)
    assert text.endswith("\nend\n"), path
    return dict(l.split("=", 1) for l in text.splitlines() if "=" in l)


class CrashSafety(WorldTest):
    @files_only("record files written by store_stress, killed mid-write")
    def test_sigkill_during_updates(self):
        confirmed = {}          # user -> (counter, enrolled) the store promised
        updates = 0
        deadline = time.monotonic() + 45
        kills = 0
        while kills < 150 and time.monotonic() < deadline:
            proc = subprocess.Popen([STRESS, self.w.state_dir, "6", "100000"],
                                    stdout=subprocess.PIPE, text=True)
            time.sleep(random.uniform(0.05, 0.4))
            proc.send_signal(signal.SIGKILL)
            out, _ = proc.communicate()
            kills += 1
            for line in out.splitlines():
                parts = line.split()
                if len(parts) != 3:
                    continue    # a line cut by the kill promised nothing
                user, counter, enrolled = parts[0], int(parts[1]), parts[2] == "1"
                updates += 1
                confirmed[user] = max(confirmed.get(user, (0, False)),
                                      (counter, enrolled))
            # After every kill: every record parses, and nothing the store
            # confirmed is lost.
            for user, (counter, enrolled) in confirmed.items():
                rec = parse_record(os.path.join(self.w.state_dir, user))
                self.assertGreaterEqual(int(rec["login.time"]), counter, user)
                if enrolled:
                    self.assertIn(" totp verified=1 ", rec.get("factor", ""), user)
        self.assertGreater(updates, 500, "too few updates to mean anything")
        # Temporary files left by the kills are never taken for records.
        status = self.w.mfactl("status", "--json")
        self.assertEqual(status.returncode, 0, status.stderr)
        self.assertNotIn(".tmp.", status.stdout)
        check = self.w.mfactl("check")
        self.assertEqual(check.returncode, 0, check.stderr)
        print("%d kills, %d confirmed updates, %d leftover temporary files" % (
            kills, updates, len([n for n in os.listdir(self.w.state_dir)
                                 if n.startswith(".tmp.")])))


class Races(WorldTest):
    config = {"lockout": "{ attempts = 1000; interval = 900; unlock_after = 600; }"}

    def parallel(self, n, fn):
        results = []
        threads = [threading.Thread(target=lambda: results.append(fn())) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results

    def test_concurrent_failures_all_counted(self):
        self.w.enroll("alice")
        results = self.parallel(16, lambda: self.w.login("alice", ["abcdef"]).pam)
        self.assertEqual(results, ["PAM_AUTH_ERR"] * 16)
        self.assertEqual(self.w.state("alice")["fail_count"], 16)

    def test_one_code_raced_wins_once(self):
        """Logins that all wait at the code prompt, past the module's
        unlocked first look at the record, then answer the same valid code
        at once: the lock, and the record read afresh under it, must let
        exactly one through, as one sshd per connection would race."""
        secret = self.w.enroll("alice")
        code = oathtool(secret, T0)
        n = 8
        barrier = threading.Barrier(n, timeout=120)

        def respond(prompt, transcript):
            barrier.wait()
            return code

        results = self.parallel(n, lambda: self.w.login_interactive("alice", respond))
        pams = sorted(r.pam for r in results)
        self.assertEqual(pams, ["PAM_AUTH_ERR"] * (n - 1) + ["PAM_SUCCESS"], pams)
        replayed = [r for r in results if any("reason=replayed-code" in l for l in r.log)]
        self.assertEqual(len(replayed), n - 1, [r.log for r in results])
        self.assertEqual(self.w.state("alice")["totp_last_step"], 1893456010 // 30)
        self.assertEqual(self.w.state("alice")["fail_count"], n - 1)

    def test_reset_during_logins(self):
        secret = self.w.enroll("alice")
        stop = time.monotonic() + 8

        def logins():
            n = 0
            while time.monotonic() < stop:
                self.w.login("alice", ["abcdef"])
                n += 1
            return n

        def resets():
            n = 0
            while time.monotonic() < stop:
                self.w.mfactl("enroll", "alice", "--force", "--qr", "none")
                self.w.mfactl("reset", "alice")
                n += 1
            return n

        threads = [threading.Thread(target=f) for f in (logins, logins, resets)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # Consistent afterwards: the record, if any, parses; no temp files.
        self.assertStoreChecks()
        self.assertFalse([n for n in os.listdir(self.w.state_dir) if n.startswith(".tmp.")])
        self.assertTrue(secret)


@files_only("a full file system under the state directory (a tiny tmpfs)")
class FullDisk(WorldTest):
    def fill_state_dir(self, files):
        """Mounts a tiny tmpfs (this test runs in its own mount namespace)
        as the state directory, holding files, then fills it up."""
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700,uid=0,gid=0",
                        "tmpfs", self.w.state_dir], check=True)
        for name, data in files.items():
            with open(os.path.join(self.w.state_dir, name), "wb") as f:
                f.write(data)
            os.chmod(os.path.join(self.w.state_dir, name), 0o600)
        filler = os.path.join(self.w.state_dir, ".tmp.filler.00000000")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"\0" * 512) > 0:
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        return filler

    def saved_files(self):
        out = {}
        for n in os.listdir(self.w.state_dir):
            with open(os.path.join(self.w.state_dir, n), "rb") as f:
                out[n] = f.read()
        return out

    def test_login_that_cannot_write_fails_closed(self):
        # A record of the single-text form must be replaced by a new file
        # to be updated, which a full disk refuses.
        secret = self.w.enroll("alice")
        files = self.saved_files()
        files["alice"] = self.w.record_text("alice").encode()
        before = files["alice"]
        lock = os.path.join(self.w.state_dir, ".lock.alice")
        filler = self.fill_state_dir(files)
        try:
            res = self.w.login("alice", [oathtool(secret, T0)])
            self.assertEqual(res.pam, "PAM_AUTHINFO_UNAVAIL", res)
            self.assertTrue(any("cannot write the record" in l and "No space left" in l
                                for l in res.log), res)
            self.assertTrue(any("reason=store-write" in l for l in res.log), res)
            with open(os.path.join(self.w.state_dir, "alice"), "rb") as f:
                self.assertEqual(f.read(), before)
            self.assertTrue(os.path.exists(lock))
            # With room again, the same code works: nothing was half-done.
            os.unlink(filler)
            self.assertEqual(self.w.login("alice", [oathtool(secret, T0)]).pam, "PAM_SUCCESS")
        finally:
            subprocess.run(["umount", self.w.state_dir], check=False)

    def test_login_on_full_disk_updates_in_place(self):
        # A two-slot record has its blocks from the start: a full disk does
        # not keep a login from recording its step, so a replay stays refused.
        secret = self.w.enroll("alice")
        self.fill_state_dir(self.saved_files())
        try:
            code = oathtool(secret, T0)
            self.assertEqual(self.w.login("alice", [code]).pam, "PAM_SUCCESS")
            self.assertEqual(self.w.login("alice", [code]).pam, "PAM_AUTH_ERR")
            self.assertEqual(self.w.record("alice")["fail.count"], "1")
            # A new record needs room, and fails closed without it.
            proc = self.w.mfactl("enroll", "bob", "--qr", "none")
            self.assertEqual(proc.returncode, 1)
            self.assertIn("No space left", proc.stderr)
            self.assertFalse(os.path.exists(os.path.join(self.w.state_dir, "bob")))
        finally:
            subprocess.run(["umount", self.w.state_dir], check=False)


if __name__ == "__main__":
    main()
