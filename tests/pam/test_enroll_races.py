"""Enrollment never adds a second factor behind the user's back: an attacker
who has the password and holds a login (or mfa-setup) at a prompt while the
user enrolls elsewhere must not get a factor of their own saved beside the
user's.  Two real conversations through the real libpam: the second is
driven to its end while the first waits at its prompt.  Also: the address
template cannot be bypassed, a failed conversation at the offer takes the
skip's re-check, unknown names never reach the log, a lock held by a
stopped process costs a bounded wait, and the mails that prove an address
are rate-limited per user, even for logins racing each other."""
import os
import re
import signal
import socket
import subprocess
import threading
import time

from mfatest import ON_PG, T0, VALGRIND, WorldTest, files_only, main, oathtool, parse_uri
from test_email import EmailTest

OFFER = "Press Enter"
METHOD = "Type 1"
TOTP_CONFIRM = "Code shown by the app, to confirm: "
ADDRESS = "Email address for your login codes"
EMAIL_CONFIRM = "Code from the email, to confirm: "
CHANGED = "second factor changed while you were setting it up"
ATTACKER = "mallory@evil.example"
STORE_STRESS = os.environ.get("STORE_STRESS", "")


def mails_to(test, address):
    return [m for m in test.messages() if m["To"].addresses[0].addr_spec == address]


def code_in(message):
    return re.search(r"^    (\d{6,10})$", message.get_content(), re.M).group(1)


def email_enroller(test, address=ATTACKER, prompts=None, code=None, at_address=None):
    """Answers an enrollment by email: Enter at the offer, 2, address if
    one is asked (after at_address() has run), then code(), by default the
    latest code mailed; code returning None ends the conversation.  Every
    prompt is kept in prompts."""
    def respond(prompt, transcript):
        if prompts is not None:
            prompts.append(prompt)
        if prompt.startswith(OFFER):
            return ""
        if prompt.startswith(METHOD):
            return "2"
        if prompt.startswith(ADDRESS):
            if at_address is not None:
                at_address()
            return address
        return code() if code is not None else test.last_code()
    return respond


def kill_pamrun(pamd):
    """SIGKILLs the pamrun (or valgrind running it) of this world, not the
    wrapper that collects its log: what a dropped ssh connection does."""
    for pid in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        words = [a.decode(errors="replace") for a in argv]
        if pamd in words and any(w.endswith("/pamrun") for w in words) and \
                not any(w.endswith("syslog_ns.py") or w == "unshare" for w in words):
            os.kill(int(pid), signal.SIGKILL)


def uri_secret(transcript):
    _, params = parse_uri("\n".join(l[len("info: "):] for l in transcript
                                    if l.startswith("info: ")))
    return params["secret"]


class Races(EmailTest):
    """Policy optional, methods totp and email, a real SMTP server."""

    def user_enrolls_totp(self, user):
        """The real user enrolls an authenticator app in another login."""
        shown = {}

        def respond(prompt, transcript):
            if prompt.startswith(OFFER):
                return ""
            if prompt.startswith(METHOD):
                return "1"
            shown["secret"] = uri_secret(transcript)
            return oathtool(shown["secret"], T0)

        res = self.w.login_interactive(user, respond)
        self.assertPam(res, "PAM_SUCCESS")
        return shown["secret"]

    def user_enrolls_email(self, user, address):
        """The real user proves their own address in another login."""
        res = self.w.login_interactive(user, email_enroller(self, address))
        self.assertPam(res, "PAM_SUCCESS")
        self.assertTrue(self.w.state(user)["email_verified"])

    def attacker(self, method, meanwhile, at_prompt):
        """The attacker's login: Enter, the method, their own address, the
        codes they receive or compute; meanwhile() runs while the attacker
        waits at the first prompt that starts with at_prompt."""
        state = {"done": False}

        def respond(prompt, transcript):
            if prompt.startswith(at_prompt) and not state["done"]:
                state["done"] = True
                meanwhile()
            if prompt.startswith(OFFER):
                return ""
            if prompt.startswith(METHOD):
                return method
            if prompt.startswith(ADDRESS):
                return ATTACKER
            if prompt.startswith(TOTP_CONFIRM):
                return oathtool(uri_secret(transcript), T0)
            if prompt.startswith(EMAIL_CONFIRM):
                return code_in(mails_to(self, ATTACKER)[-1])
            raise AssertionError("unexpected prompt %r" % prompt)
        return respond

    def assertChanged(self, res, user):
        self.assertPam(res, "PAM_AUTH_ERR")
        self.assertIn(CHANGED, res.stdout)
        self.assertTrue(any("user=%s " % user in l and "reason=enrolled-meanwhile" in l
                            for l in res.log), res)

    def test_email_beside_totp_enrolled_at_method_prompt(self):
        secret = {}
        res = self.w.login_interactive("alice", self.attacker(
            "2", lambda: secret.update(s=self.user_enrolls_totp("alice")), METHOD))
        self.assertChanged(res, "alice")
        st = self.w.state("alice")
        self.assertEqual(st["totp_secret"], secret["s"])
        self.assertFalse(st["email_verified"])
        self.assertNotEqual(st["email_address"], ATTACKER)
        self.assertEqual(mails_to(self, ATTACKER), [])

    def test_email_beside_totp_enrolled_at_code_prompt(self):
        # The attacker has their code already when the user enrolls.
        secret = {}
        res = self.w.login_interactive("alice", self.attacker(
            "2", lambda: secret.update(s=self.user_enrolls_totp("alice")), EMAIL_CONFIRM))
        self.assertChanged(res, "alice")
        st = self.w.state("alice")
        self.assertEqual(st["totp_secret"], secret["s"])
        self.assertFalse(st["email_verified"])

    def test_totp_beside_email_enrolled_at_qr_prompt(self):
        res = self.w.login_interactive("bob", self.attacker(
            "1", lambda: self.user_enrolls_email("bob", "bob@example.org"), TOTP_CONFIRM))
        self.assertChanged(res, "bob")
        st = self.w.state("bob")
        self.assertIsNone(st["totp_secret"])
        self.assertEqual((st["email_address"], st["email_verified"]), ("bob@example.org", True))

    def test_totp_beside_email_enrolled_at_method_prompt(self):
        res = self.w.login_interactive("bob", self.attacker(
            "1", lambda: self.user_enrolls_email("bob", "bob@example.org"), METHOD))
        self.assertChanged(res, "bob")
        self.assertIsNone(self.w.state("bob")["totp_secret"])

    def test_skip_after_email_enrolled_elsewhere(self):
        # A skip is a decision on the same basis: with the address proved
        # meanwhile, it does not let the password alone through.
        def respond(prompt, transcript):
            self.user_enrolls_email("carol", "carol@example.org")
            return "skip"

        res = self.w.login_interactive("carol", respond)
        self.assertChanged(res, "carol")


class Template(EmailTest):
    email_extra = {"address": '"%u@corp.example.org"'}

    def abandon_email_enrollment(self, user):
        # Walks away at the code prompt.
        res = self.w.login_interactive(user, email_enroller(self, code=lambda: None))
        self.assertPam(res, "PAM_CONV_ERR")

    def test_template_address_cannot_be_replaced(self):
        self.abandon_email_enrollment("alice")
        st = self.w.state("alice")
        self.assertEqual((st["email_address"], st["email_verified"]),
                         ("alice@corp.example.org", False))
        prompts = []
        respond = email_enroller(self, prompts=prompts)

        later = "2030-01-01 00:02:00"
        res = self.w.login_interactive("alice", respond, at=later)
        self.assertPam(res, "PAM_SUCCESS")
        self.assertFalse([p for p in prompts if p.startswith(ADDRESS)], prompts)
        self.assertEqual(mails_to(self, ATTACKER), [])
        st = self.w.state("alice")
        self.assertEqual((st["email_address"], st["email_verified"]),
                         ("alice@corp.example.org", True))

    def test_admin_address_used_without_asking(self):
        proc = self.w.mfactl("enroll", "bob", "--method", "email", "--address",
                             "bob.private@example.net")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        prompts = []
        respond = email_enroller(self, prompts=prompts)

        # The admin's code, sent moments ago, is the one to type.
        res = self.w.login_interactive("bob", respond, at=None)
        self.assertPam(res, "PAM_SUCCESS")
        self.assertFalse([p for p in prompts if p.startswith(ADDRESS)], prompts)
        self.assertEqual(mails_to(self, ATTACKER), [])
        st = self.w.state("bob")
        self.assertEqual((st["email_address"], st["email_verified"], st["email_by_admin"]),
                         ("bob.private@example.net", True, True))


class AdminAddressNoTemplate(EmailTest):
    def test_admin_address_cannot_be_replaced(self):
        # No template: an address the admin set is still used as it is,
        # once its code has expired too (a new code goes to it).
        proc = self.w.mfactl("enroll", "bob", "--method", "email", "--address",
                             "bob.private@example.net", at=T0)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        prompts = []
        respond = email_enroller(self, prompts=prompts)

        res = self.w.login_interactive("bob", respond, at="2030-01-01 01:00:00")
        self.assertPam(res, "PAM_SUCCESS")
        self.assertFalse([p for p in prompts if p.startswith(ADDRESS)], prompts)
        self.assertEqual(mails_to(self, ATTACKER), [])
        self.assertEqual(self.w.state("bob")["email_address"], "bob.private@example.net")


class TemplateMakesNoAddress(EmailTest):
    email_extra = {"address": '"%u@corp.example.org"'}

    def test_no_address_asked(self):
        # "j..doe@corp.example.org" is no valid address: the user is not
        # asked for another, an administrator sets it.
        self.w.users.append("j..doe")
        self.w._write_nss()
        prompts = []
        respond = email_enroller(self, prompts=prompts)

        res = self.w.login_interactive("j..doe", respond)
        self.assertPam(res, "PAM_PERM_DENIED")
        self.assertIn("Ask your administrator to set it with mfactl", res.stdout)
        self.assertTrue(any("reason=no-address" in l for l in res.log), res)
        self.assertFalse([p for p in prompts if p.startswith(ADDRESS)], prompts)
        self.assertEqual(self.messages(), [])


class FactorNotAllowed(EmailTest):
    def test_no_enrollment_beside_a_factor_the_policy_excludes(self):
        secret = self.w.enroll("alice")
        self.methods = '[ "email" ]'
        self.configure()
        res = self.w.login_interactive("alice", lambda p, t: ATTACKER if p.startswith(ADDRESS)
                                       else "2" if p.startswith(METHOD) else "")
        self.assertPam(res, "PAM_PERM_DENIED")
        self.assertNotIn("prompt", res.stdout)
        # Not sent to mfa-setup, which no factor of this user can satisfy.
        self.assertIn("Contact your administrator.", res.stdout)
        self.assertNotIn("mfa-setup", res.stdout)
        self.assertTrue(any("outcome=denied reason=factor-not-allowed" in l for l in res.log), res)
        st = self.w.state("alice")
        self.assertEqual((st["totp_secret"], st["email_address"]), (secret, ""))
        self.assertEqual(self.messages(), [])


class LoginCodeRace(EmailTest):
    def test_racing_logins_send_one_login_code(self):
        # A password holder answering "email" in four logins at once gets
        # one mail to the user, not four: the code is booked under the lock.
        self.enroll_email("alice", "alice@example.org")
        self.w.enroll("alice")
        before = len(self.messages())
        n = 4
        barrier = threading.Barrier(n)
        results = [None] * n

        def one(i):
            def respond(prompt, transcript):
                if prompt.startswith("Verification code"):
                    barrier.wait(timeout=120)
                    return "email"
                return None
            results[i] = self.w.login_interactive("alice", respond)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        self.assertEqual(len(self.messages()) - before, 1, [r.stdout for r in results])
        # The others find it on its way, or sent already.
        self.assertEqual(sum("A code is on its way" in r.stdout or
                             "less than 30 seconds ago: use it" in r.stdout for r in results),
                         n - 1)


class KilledWhileMailing(EmailTest):
    def test_user_code_survives_a_killed_login(self):
        # A password holder answers "email" and kills the login while it
        # talks to the mail server: the user's last code must still work,
        # and nobody is told to use a code that was never sent.
        self.enroll_email()
        self.assertPam(self.w.login_interactive("alice", lambda p, t: None), "PAM_CONV_ERR")
        mine = self.last_code()
        hang = socket.socket()
        hang.bind(("127.0.0.1", 0))
        hang.listen(5)      # accepts connections, never says a word
        self.configure(smtp_url='"smtp://127.0.0.1:%d"' % hang.getsockname()[1], timeout="60")

        def attacker():
            # Past resend_after, so that a new code may go out.
            try:
                self.w.login_interactive("alice", lambda p, t: None, at="2030-01-01 00:00:50")
            except AssertionError:
                pass        # killed: pamrun has no result to print

        thread = threading.Thread(target=attacker)
        thread.start()
        try:
            for _ in range(600):
                if self.w.state("alice")["email_code_booked"]:
                    break
                time.sleep(0.1)
            else:
                self.fail("the code was never booked")
            kill_pamrun(self.w.pamd)
            thread.join(timeout=60)
        finally:
            hang.close()
        self.configure(timeout="60")
        sent = len(self.messages())
        res = self.w.login_interactive("alice", lambda p, t: mine, at="2030-01-01 00:00:55")
        self.assertPam(res, "PAM_SUCCESS")
        self.assertIn("A code is on its way to a***@example.org", res.stdout)
        self.assertEqual(len(self.messages()), sent)


class MailLimit(EmailTest):
    email_extra = {"enroll_mails": "2"}

    def try_address(self, user, address, at):
        return self.w.login_interactive(user, email_enroller(self, address, code=lambda: None),
                                        at=at)

    def test_codes_to_new_addresses_per_day(self):
        sent = []
        for i, at in enumerate(["2030-01-01 00:00:10", "2030-01-01 00:01:00"]):
            res = self.try_address("alice", "victim%d@example.org" % i, at)
            self.assertIn("A code was sent to", res.stdout, res)
            sent.append(len(self.messages()))
        self.assertEqual(sent, [1, 2])
        res = self.try_address("alice", "victim9@example.org", "2030-01-01 00:02:00")
        self.assertPam(res, "PAM_AUTH_ERR")
        self.assertIn("Too many codes were sent to set up an address lately", res.stdout)
        self.assertTrue(any("reason=enroll-mail-limit" in l for l in res.log), res)
        self.assertEqual(len(self.messages()), 2)
        # A day after the first, codes go out again.
        res = self.try_address("alice", "victim9@example.org", "2030-01-02 00:00:11")
        self.assertIn("A code was sent to", res.stdout, res)
        self.assertEqual(len(self.messages()), 3)

    def test_racing_logins_send_one_code(self):
        # Four logins wait at the address prompt and answer at once: the
        # limits are checked under the lock, so one mail goes out.
        n = 4
        barrier = threading.Barrier(n)
        results = [None] * n

        def one(i):
            results[i] = self.w.login_interactive("carol", email_enroller(
                self, "target%d@example.org" % i, code=lambda: None,
                at_address=lambda: barrier.wait(timeout=120)))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        self.assertEqual(len(self.messages()), 1, [r.stdout for r in results])
        self.assertEqual(sum("A code was sent moments ago" in r.stdout for r in results), n - 1)


class OfferConversationFails(WorldTest):
    def test_eof_at_offer_after_enrolling_elsewhere(self):
        # Ctrl-D at the offer (su, login, sudo) is a skip, with its re-check.
        for policy in ("optional", "opt-out"):
            with self.subTest(policy=policy):
                self.w.write_config({"default_policy": '"%s"' % policy})

                def respond(prompt, transcript):
                    self.w.enroll("dave", "--force")
                    return None

                res = self.w.login_interactive("dave", respond)
                self.assertPam(res, "PAM_AUTH_ERR")
                self.assertIn(CHANGED, res.stdout)
                self.assertTrue(any("reason=enrolled-meanwhile" in l for l in res.log), res)
                self.assertEqual(self.w.state("dave")["skip_since"], 0)
                self.w.mfactl("reset", "dave")

    def test_eof_at_offer_still_skips(self):
        self.w.write_config({"default_policy": '"opt-out"'})
        res = self.w.login_interactive("dave", lambda p, t: None)
        self.assertIgnored(res)
        self.assertTrue(any("outcome=skipped reason=non-interactive" in l for l in res.log))
        # Not remembered: nobody answered the offer.
        self.assertEqual(self.w.users_with_state(), [])


# A name the system does not know that looks like a password typed at the
# user prompt.
SECRETISH = "Tr0ub4dor3xyz"


class UnknownNamesNotLogged(WorldTest):
    def assertNotLogged(self, res):
        self.assertNotIn(SECRETISH, "\n".join(res.log), res)

    def test_store_open_error(self):
        self.w.break_store()
        res = self.w.login(SECRETISH, ["123456"])
        self.assertPam(res, "PAM_AUTHINFO_UNAVAIL")
        self.assertNotLogged(res)
        self.assertTrue(any("user=? " in l and "reason=store" in l for l in res.log), res)
        # A known user is named.
        res = self.w.login("bob", ["123456"])
        self.assertTrue(any("user=bob " in l and "reason=store" in l for l in res.log), res)

    @files_only("a record file of garbage")
    def test_store_read_error(self):
        for name in (SECRETISH, "bob"):
            path = os.path.join(self.w.state_dir, name)
            with open(path, "w") as f:
                f.write("garbage\n")
            os.chmod(path, 0o600)
        res = self.w.login(SECRETISH, ["123456"])
        self.assertPam(res, "PAM_AUTHINFO_UNAVAIL")
        self.assertNotLogged(res)
        self.assertTrue(any("user=? " in l and "reason=store" in l for l in res.log), res)
        res = self.w.login("bob", ["123456"])
        self.assertTrue(any("/bob: corrupt record" in l for l in res.log), res)

    def test_debug_and_unknown_user(self):
        self.w.write_stack("pam_mfa_test", args="debug")
        for policy in ("required", "exempt"):
            self.w.write_config({"default_policy": '"%s"' % policy})
            res = self.w.login(SECRETISH, ["123456"])
            self.assertPam(res, "PAM_USER_UNKNOWN")
            self.assertNotLogged(res)
        self.w.write_config({"default_policy": '"required"',
                             "rules": '( { group = "staff"; policy = "optional"; } )'})
        res = self.w.login(SECRETISH, ["123456"])
        self.assertPam(res, "PAM_USER_UNKNOWN")
        self.assertNotLogged(res)


class StoppedLockHolder(WorldTest):
    def test_bounded_wait_then_works(self):
        secret = self.w.enroll("alice")
        if ON_PG:
            self.w.write_config({"store": self.w.pg_store_section(timeout=5)})
            holder = self.w.pg_hold_row_lock("alice")
        else:
            holder = subprocess.Popen([STORE_STRESS, self.w.state_dir, "--hold", "alice"],
                                      stdout=subprocess.PIPE, text=True)
        try:
            if not ON_PG:
                self.assertEqual(holder.stdout.readline().strip(), "holding")
            # It stopped itself in the middle of its commit, lock held.
            for _ in range(100):
                with open("/proc/%d/stat" % holder.pid) as f:
                    if f.read().split(") ", 1)[1].startswith("T"):
                        break
                time.sleep(0.05)
            else:
                self.fail("the holder did not stop")
            start = time.monotonic()
            res = self.w.login("alice", [oathtool(secret, T0)])
            waited = time.monotonic() - start
            self.assertPam(res, "PAM_AUTHINFO_UNAVAIL")
            if ON_PG:
                # store.timeout bounds the call, whatever the server does.
                self.assertTrue(any("no answer within store.timeout" in l for l in res.log), res)
            else:
                self.assertTrue(any("still locked by another process after 5 seconds (pid %d,"
                                    % holder.pid in l for l in res.log), res)
            self.assertGreaterEqual(waited, 5)
            self.assertLess(waited, 60 if VALGRIND else 20)
        finally:
            holder.kill()
            holder.wait()
        # Once the stopped process is gone, logins work again.
        later = "2030-01-01 00:00:40"
        self.assertPam(self.w.login("alice", [oathtool(secret, later)], at=later), "PAM_SUCCESS")


if __name__ == "__main__":
    main()
