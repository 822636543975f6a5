"""sms_send() against a real HTTPS gateway on loopback (tests/lib/sms_gateway.py):
a form POST with basic auth as Twilio takes it, a JSON PUT with a bearer
token, the code read back from the recorded request; wrong credentials, an
error status, a slow gateway, an answer that is not JSON, an answer too
long, a redirect, a gateway that is down, certificates of another CA or for
another name; hostile numbers and credential files that are not root's
alone.  No run shows the code, the password, the token or the number in
its output, and no request carries any of them in its URL.

usage: test_sms_gateway.py DRIVER (tests/unit/sms_send_driver)
The scratch directories go under $PAM_MFA_TEST_TMPDIR, whose path must pass
pam_mfa's trust checks (root-owned, not writable by others).
"""
import errno
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

from sms_gateway import Pki, SmsGateway

DRIVER = None
NUMBER = "+15555550100"
CODE = "480213"
PASSWORD = "s3cret-Twilio-auth-token"
TOKEN = "tok_9f8e7d6c5b4a39281706"
PKI = None          # made once: openssl takes a while


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Run:
    def __init__(self, proc, elapsed):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr
        self.elapsed = elapsed

    @property
    def errno(self):
        """The -errno sms_send() returned, as a positive number."""
        for line in self.err.splitlines():
            if line.startswith("sms_send: "):
                return -int(line.split(":")[1])
        return None


class GatewayTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sms.", dir=os.environ["PAM_MFA_TEST_TMPDIR"])
        self.config = os.path.join(self.dir, "pam_mfa.conf")
        self.password_file = os.path.join(self.dir, "sms.password")
        self.token_file = os.path.join(self.dir, "sms.token")
        self.write_secret(self.password_file, PASSWORD + "\n")
        self.write_secret(self.token_file, TOKEN + "\n")
        self.secrets = [CODE, PASSWORD, TOKEN, NUMBER, NUMBER[1:]]

    def tearDown(self):
        shutil.rmtree(self.dir)

    @staticmethod
    def write_secret(path, text, mode=0o600):
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)

    def gateway(self, **kwargs):
        return SmsGateway(os.path.join(self.dir, "gw"), pki=PKI, **kwargs)

    def configure(self, gw=None, url=None, **settings):
        """pam_mfa.conf with an sms group: Twilio's form with basic auth
        unless settings say otherwise (a value of None leaves a key out)."""
        sms = {
            "url": '"%s"' % (url or gw.url("/2010-04-01/Accounts/AC123/Messages.json")),
            "format": '"form"',
            "fields": '{ To = "%{phone}"; From = "+15550100"; Body = "%{message}"; }',
            "username": '"AC123"',
            "password_file": '"%s"' % self.password_file,
            "ca_file": '"%s"' % PKI.ca_file,
            "timeout": "5",
        }
        sms.update(settings)
        body = "\n".join("  %s = %s;" % kv for kv in sms.items() if kv[1] is not None)
        with open(self.config, "w") as f:
            f.write('methods = [ "totp", "sms" ];\nsms = {\n%s\n};\n' % body)
        os.chmod(self.config, 0o600)

    def send(self, number=NUMBER, code=CODE, env=None, expect=None):
        """Runs the driver; expect: True (sent), an errno (failed so), or
        None (either).  Whatever happens, its output shows no secret."""
        start = time.monotonic()
        proc = subprocess.run([DRIVER, self.config, number, code], capture_output=True,
                              text=True, timeout=60, env=env)
        run = Run(proc, time.monotonic() - start)
        self.assertNotEqual(run.rc, 2, run.err)
        for secret in self.secrets + [code]:
            if secret:
                self.assertNotIn(secret, run.out + run.err)
        if expect is True:
            self.assertEqual((run.rc, run.out), (0, "sent\n"), run.err)
            self.assertEqual(run.err, "")
        elif expect is not None:
            self.assertEqual(run.rc, 1, run.out)
            self.assertEqual(run.errno, expect, run.err)
        return run

    def assert_urls_clean(self, gw):
        for req in gw.requests():
            for secret in self.secrets:
                self.assertNotIn(secret, req["path"])

    # ---- sent

    def test_form_basic_auth_as_twilio(self):
        with self.gateway(basic=("AC123", PASSWORD)) as gw:
            self.configure(gw)
            self.send(expect=True)
            req = gw.last()
        self.assertEqual(len(gw.requests()), 1)
        self.assertTrue(req["auth_ok"])
        self.assertEqual(req["method"], "POST")
        self.assertEqual(req["path"], "/2010-04-01/Accounts/AC123/Messages.json")
        self.assertEqual(req["headers"]["Content-Type"], "application/x-www-form-urlencoded")
        self.assertTrue(req["headers"]["User-Agent"].startswith("pam_mfa/"))
        self.assertNotIn("Expect", req["headers"])
        self.assertEqual(req["form"], {
            "To": NUMBER, "From": "+15550100",
            "Body": CODE + " is your login code for testhost. It expires in 5 minutes."})
        self.assertEqual(gw.last_code(), CODE)
        self.assertEqual(gw.last_code("Body"), CODE)
        self.assert_urls_clean(gw)

    def test_json_bearer_put(self):
        with self.gateway(bearer=TOKEN) as gw:
            self.configure(gw, url=gw.url("/v1/otp?api=2"), method='"PUT"', format='"json"',
                           fields='{ to = "%{phone}"; text = "%{message}"; otp = "%{code}";'
                                  ' meta = "for %{user} \\"q\\" \\\\ caf\\xc3\\xa9 100%%"; }',
                           message='"Code: %{code} (%{ttl_minutes} min)\\n\\n@testhost #%{code}"',
                           code_ttl="90", username=None, password_file=None,
                           bearer_token_file='"%s"' % self.token_file, success_status="[ 202 ]")
            gw.behave(status=202, body='{"id": 7, "queued": true}')
            self.send(expect=True)
            req = gw.last()
        self.assertTrue(req["auth_ok"])
        self.assertEqual(req["headers"]["Authorization"], "Bearer " + TOKEN)
        self.assertEqual(req["method"], "PUT")
        self.assertEqual(req["path"], "/v1/otp?api=2")
        self.assertEqual(req["headers"]["Content-Type"], "application/json")
        self.assertEqual(req["headers"]["Accept"], "application/json")
        self.assertEqual(req["json"], {
            "to": NUMBER, "otp": CODE,
            "text": "Code: %s (2 min)\n\n@testhost #%s" % (CODE, CODE),
            "meta": 'for alice "q" \\ caf\u00e9 100%'})
        self.assertTrue(all(isinstance(v, str) for v in req["json"].values()))
        self.assertEqual(gw.last_code("text"), CODE)
        self.assert_urls_clean(gw)

    def test_accepted_answers(self):
        """What sms.response and sms.success_contains accept."""
        with self.gateway() as gw:
            self.configure(gw, username=None, password_file=None)
            gw.behave(mode="empty")
            self.send(expect=True)
            gw.behave(status=204, body="")
            self.send(expect=errno.EIO)
            self.configure(gw, username=None, password_file=None, success_status="[ 204 ]")
            self.send(expect=True)
            self.configure(gw, username=None, password_file=None,
                           success_contains='"\\"status\\": \\"queued\\""')
            gw.behave(body='{"status": "queued"}')
            self.send(expect=True)
            gw.behave(body='{"status": "failed"}')
            run = self.send(expect=errno.EIO)
            self.assertIn("does not contain sms.success_contains", run.err)

    def test_no_proxy_from_the_environment(self):
        env = dict(os.environ, https_proxy="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9",
                   all_proxy="http://127.0.0.1:9", ALL_PROXY="http://127.0.0.1:9")
        with self.gateway(basic=("AC123", PASSWORD)) as gw:
            self.configure(gw)
            self.send(env=env, expect=True)

    def test_user_and_host_in_templates(self):
        with self.gateway() as gw:
            self.configure(gw, username=None, password_file=None,
                           fields='{ To = "%{phone}"; Body = "%{message}"; Ref = "%{user}@%{host}"; }')
            proc = subprocess.run([DRIVER, self.config, NUMBER, CODE, "o'brien", "web&1=x"],
                                  capture_output=True, text=True, timeout=60)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertEqual(gw.last()["form"]["Ref"], "o'brien@web&1=x")
            self.assertEqual(set(gw.last()["form"]), {"To", "Body", "Ref"})

    # ---- refused by the gateway

    def test_wrong_password(self):
        with self.gateway(basic=("AC123", "the-right-one")) as gw:
            self.configure(gw)
            run = self.send(expect=errno.EIO)
            self.assertFalse(gw.last()["auth_ok"])
        self.assertIn("the SMS gateway answered HTTP 401", run.err)
        self.assertIn("credentials", run.err)

    def test_wrong_token(self):
        with self.gateway(bearer="the-right-one") as gw:
            self.configure(gw, username=None, password_file=None,
                           bearer_token_file='"%s"' % self.token_file)
            run = self.send(expect=errno.EIO)
            self.assertEqual(gw.last()["headers"]["Authorization"], "Bearer " + TOKEN)
        self.assertIn("HTTP 401", run.err)

    def test_no_credentials_sent_to_a_gateway_that_wants_them(self):
        with self.gateway(bearer=TOKEN) as gw:
            self.configure(gw, username=None, password_file=None)
            run = self.send(expect=errno.EIO)
            self.assertNotIn("Authorization", gw.last()["headers"])
        self.assertIn("HTTP 401", run.err)

    def test_server_error(self):
        with self.gateway(mode="error") as gw:
            self.configure(gw)
            run = self.send(expect=errno.EIO)
        self.assertIn("the SMS gateway answered HTTP 500", run.err)

    def test_slow_gateway(self):
        with self.gateway(mode="slow", delay=8) as gw:
            self.configure(gw, timeout="2")
            run = self.send(expect=errno.ETIMEDOUT)
            self.assertEqual(len(gw.requests()), 1)
        self.assertIn("the SMS gateway did not answer within 2 s", run.err)
        # Within the timeout and a margin for the process itself.
        self.assertLess(run.elapsed, 2 + 2.5)
        self.assertGreater(run.elapsed, 1.5)

    def test_nonsense_answer(self):
        with self.gateway(mode="nonsense") as gw:
            self.configure(gw)
            run = self.send(expect=errno.EIO)
            self.assertIn("the SMS gateway answered 200 with a body that is not JSON", run.err)
            self.configure(gw, response='"any"')
            self.send(expect=True)
            # Not JSON even if it says so; and a JSON array is not an object.
            gw.behave(status=200, body="OK: queued", content_type="application/json")
            self.configure(gw)
            self.send(expect=errno.EIO)
            gw.behave(status=200, body='["queued"]')
            self.send(expect=errno.EIO)

    def test_answer_too_long(self):
        with self.gateway() as gw:
            self.configure(gw, response='"any"')
            gw.behave(status=200, body="x" * 1024, repeat=64)
            self.send(expect=True)
            gw.behave(status=200, body="x" * 1024, repeat=65)
            run = self.send(expect=errno.EIO)
        self.assertIn("over 64 KiB", run.err)

    def test_redirect_not_followed(self):
        with self.gateway() as gw:
            self.configure(gw)
            gw.behave(status=302, body="", headers={"Location": gw.url("/elsewhere")})
            run = self.send(expect=errno.EIO)
            self.assertEqual([r["path"] for r in gw.requests()],
                             ["/2010-04-01/Accounts/AC123/Messages.json"])
        self.assertIn("HTTP 302", run.err)

    # ---- no gateway to talk to

    def test_gateway_down(self):
        self.configure(url="https://127.0.0.1:%d/v1/messages" % free_port())
        run = self.send(expect=errno.EIO)
        self.assertIn("cannot connect to the SMS gateway: ", run.err)
        self.assertLess(run.elapsed, 5)

    def test_certificate_of_another_ca(self):
        with self.gateway(cert="other-ca") as gw:
            self.configure(gw)
            run = self.send(expect=errno.EIO)
            self.assertEqual(gw.requests(), [])
        self.assertIn("cannot connect to the SMS gateway: ", run.err)
        self.assertIn("certificate", run.err)
        self.assertTrue(gw.tls_failures)

    def test_system_cas_do_not_trust_the_test_ca(self):
        with self.gateway() as gw:
            self.configure(gw, ca_file=None)
            run = self.send(expect=errno.EIO)
            self.assertEqual(gw.requests(), [])
        self.assertIn("certificate", run.err)

    def test_certificate_for_another_name(self):
        with self.gateway(cert="wrong-name") as gw:
            self.configure(gw)
            run = self.send(expect=errno.EIO)
            self.assertEqual(gw.requests(), [])
        self.assertIn("cannot connect to the SMS gateway: ", run.err)

    # ---- refused before anything is sent

    def test_hostile_numbers(self):
        hostile = ["+1 555 555 0100", "+1555555010a", "+" + "7" * 40, "+1555\r\n5550100",
                   "+15555550100\r\nX-Evil: 1", "", "+", "+0123456789", "15555550100",
                   "+15555550100&To=+19995550100", "+1%0A5555550100", "tel:+15555550100"]
        with self.gateway() as gw:
            self.configure(gw)
            for number in hostile:
                with self.subTest(number=number):
                    run = self.send(number=number, expect=errno.EINVAL)
                    self.assertIn("invalid phone number", run.err)
                    if len(number) > 4:
                        self.assertNotIn(number, run.err)
            self.assertEqual(gw.requests(), [])

    def test_hostile_codes(self):
        with self.gateway() as gw:
            self.configure(gw)
            for code in ["12345a", "123&To=+19995550100", "", "1" * 11, "123 456"]:
                with self.subTest(code=code):
                    self.send(code=code, expect=errno.EINVAL)
            self.assertEqual(gw.requests(), [])

    def test_credential_files(self):
        with self.gateway(basic=("AC123", PASSWORD)) as gw:
            self.configure(gw)
            # Readable by others.
            os.chmod(self.password_file, 0o640)
            run = self.send(expect=errno.EIO)
            self.assertIn("must not be readable by group or others", run.err)
            os.chmod(self.password_file, 0o604)
            self.send(expect=errno.EIO)
            os.chmod(self.password_file, 0o400)
            self.send(expect=True)
            # Not root's.
            os.chown(self.password_file, 65534, 0)
            run = self.send(expect=errno.EIO)
            self.assertIn("not owned by root", run.err)
            os.chown(self.password_file, 0, 0)
            # A symbolic link to a good file.
            link = os.path.join(self.dir, "sms.link")
            os.symlink(self.password_file, link)
            self.configure(gw, password_file='"%s"' % link)
            run = self.send(expect=errno.EIO)
            self.assertIn("symbolic link", run.err)
            # Missing.
            self.configure(gw, password_file='"%s"' % os.path.join(self.dir, "nope"))
            self.send(expect=errno.EIO)
            self.assertEqual(len(gw.requests()), 1)

    def test_token_files(self):
        with self.gateway(bearer=TOKEN) as gw:
            self.configure(gw, username=None, password_file=None,
                           bearer_token_file='"%s"' % self.token_file)
            # CR/LF and controls inside, or spaces, could end or add a header.
            for text in [TOKEN + "\r\nX-Evil: 1\n", TOKEN + "\nsecond line\n",
                         "Bearer " + TOKEN, TOKEN + "\x1b", "\n", ""]:
                with self.subTest(token=text):
                    self.write_secret(self.token_file, text)
                    run = self.send(expect=errno.EIO)
                    self.assertIn("token", run.err)
            self.write_secret(self.token_file, TOKEN + "\x00more\n")
            self.send(expect=errno.EIO)
            self.assertEqual(gw.requests(), [])
            # The line end at its end is not part of it.
            self.write_secret(self.token_file, TOKEN + "\r\n")
            self.send(expect=True)
            self.write_secret(self.token_file, TOKEN + "\n", mode=0o644)
            self.send(expect=errno.EIO)
            self.assertEqual(len(gw.requests()), 1)

    def test_ca_file_must_be_roots(self):
        ca = os.path.join(self.dir, "ca.pem")
        shutil.copy(PKI.ca_file, ca)
        with self.gateway() as gw:
            self.configure(gw, ca_file='"%s"' % ca)
            os.chmod(ca, 0o644)
            self.send(expect=True)
            os.chmod(ca, 0o666)
            run = self.send(expect=errno.EIO)
            self.assertIn("writable by group or others", run.err)
            self.assertEqual(len(gw.requests()), 1)


def main():
    global DRIVER, PKI
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    DRIVER = sys.argv.pop(1)
    if os.geteuid() != 0:
        print("skipped: needs root (the credential files must be root's)", file=sys.stderr)
        return 77
    pki_dir = tempfile.mkdtemp(prefix="sms-pki.", dir=os.environ["PAM_MFA_TEST_TMPDIR"])
    try:
        PKI = Pki(pki_dir)
        ok = unittest.main(verbosity=2, exit=False).result.wasSuccessful()
    finally:
        shutil.rmtree(pki_dir)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
