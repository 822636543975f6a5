"""A real SMTP server on loopback for the tests: aiosmtpd, storing every
message as a file in a Maildir, with STARTTLS (required when a certificate
is given) and AUTH PLAIN/LOGIN (required when a user is given).

usage: python3 smtp_server.py PORT MAILDIR [--tls CERT KEY] [--auth USER PASS]
Prints "ready" once it listens; runs until killed.
"""
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult


def main():
    port, maildir = int(sys.argv[1]), sys.argv[2]
    args = sys.argv[3:]
    kwargs = {}
    if "--tls" in args:
        i = args.index("--tls")
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args[i + 1], args[i + 2])
        kwargs.update(tls_context=ctx, require_starttls=True)
    if "--auth" in args:
        i = args.index("--auth")
        user, password = args[i + 1].encode(), args[i + 2].encode()

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (getattr(auth_data, "login", None) == user and
                  getattr(auth_data, "password", None) == password)
            # handled=False on failure, or aiosmtpd never answers the client.
            return AuthResult(success=ok, handled=False)

        kwargs.update(authenticator=authenticator, auth_required=True,
                      auth_require_tls="--tls" in args)
    controller = Controller(Mailbox(maildir), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


main()
