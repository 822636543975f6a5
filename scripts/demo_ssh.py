"""One ssh login of the demo, typed by a program instead of a person: the
real OpenSSH client on a terminal (pexpect) answers the prompts the way a
user would, and once logged in types COMMAND at the shell prompt, then
exit.  What the user's terminal shows is printed as it comes (each line
marked "  | ") and appended to the TRANSCRIPT file; what the user does is
told on "  > " lines, since passwords and codes are not echoed.

usage: demo_ssh.py PORT USER PASSWORD TRANSCRIPT [--code CODE] [--secret-to FILE] COMMAND

At the enrollment prompt this plays the phone: it reads the otpauth://
URI the server showed, asks oathtool for the current code of its secret,
types it, and saves the secret to FILE (--secret-to) for later logins.
At "Verification code:" it types CODE.  Exits with ssh's status (255 when
the login is refused).
"""
import argparse
import re
import subprocess
import sys
import urllib.parse

import pexpect

# What the server may show, and what the user does about it.
PROMPTS = [
    ("password", r"Password: ?"),
    ("offer", r"Press Enter to set it up now[^:]*: ?"),
    ("confirm", r"Code shown by the app, to confirm: ?"),
    ("saved", r"Press Enter once you have written them down: ?"),
    ("code", r"Verification code[^:]*: ?"),
    ("shell", r"\$ "),
]


class Screen:
    """The user's terminal: printed live, marked, and kept."""

    def __init__(self, transcript):
        self.transcript = transcript
        self.seen = ""
        self.line_open = False

    def write(self, text):
        text = text.replace("\r\n", "\n").replace("\r", "")
        self.seen += text
        self.transcript.write(text)
        out = ""
        for ch in text:
            if not self.line_open:
                out += "  | "
                self.line_open = True
            out += ch
            if ch == "\n":
                self.line_open = False
        sys.stdout.write(out)
        sys.stdout.flush()

    def note(self, text):
        """Says what the user does, on a line of its own."""
        if self.line_open:
            sys.stdout.write("\n")
            self.line_open = False
        sys.stdout.write("  > %s\n" % text)
        sys.stdout.flush()

    def flush(self):
        pass


def phone_code(seen):
    """The authenticator app: the code of the secret in the otpauth:// URI."""
    uris = re.findall(r"otpauth://\S+", seen)
    if not uris:
        sys.exit("demo_ssh: no otpauth:// URI was shown")
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(uris[-1]).query))
    secret = params["secret"]
    code = subprocess.run(["oathtool", "--totp", "-b", secret], check=True,
                          capture_output=True, text=True).stdout.strip()
    return secret, code


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port")
    ap.add_argument("user")
    ap.add_argument("password")
    ap.add_argument("transcript")
    ap.add_argument("--code")
    ap.add_argument("--secret-to")
    ap.add_argument("command")
    args = ap.parse_args()
    sys.stdout.reconfigure(errors="replace")

    # The machine's and the caller's ssh_config are left out (-F /dev/null),
    # and the demo's host key is new each run: nothing to remember about it.
    # One round of keyboard-interactive: a refused login ends, as it would
    # for a person who gives up (ssh would otherwise ask again).
    argv = ["-F", "/dev/null", "-p", args.port,
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "PreferredAuthentications=keyboard-interactive",
            "-o", "NumberOfPasswordPrompts=1", "%s@127.0.0.1" % args.user]
    shown = "ssh -p %s %s@127.0.0.1" % (args.port, args.user)
    print("  $ " + shown)
    # A UTF-8 terminal, as a person's would be: the QR code is drawn with
    # block characters, which ssh shows only under a UTF-8 locale.
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "TERM": "dumb"}
    with open(args.transcript, "a", encoding="utf-8") as transcript:
        transcript.write("$ %s\n" % shown)
        screen = Screen(transcript)
        child = pexpect.spawn("ssh", argv, env=env, encoding="utf-8", codec_errors="replace",
                              timeout=30, dimensions=(50, 120))
        child.logfile_read = screen
        patterns = [p for _, p in PROMPTS] + [pexpect.EOF]
        in_shell = False
        while True:
            i = child.expect(patterns)
            if i == len(PROMPTS):
                break
            kind = PROMPTS[i][0]
            if kind == "password":
                screen.note("types the password")
                child.sendline(args.password)
            elif kind == "offer":
                screen.note("presses Enter")
                child.sendline("")
            elif kind == "confirm":
                secret, code = phone_code(screen.seen)
                screen.note("scans the QR code; the app (here: oathtool --totp -b %s) "
                            "shows %s; types it" % (secret, code))
                if args.secret_to:
                    with open(args.secret_to, "w") as f:
                        f.write(secret + "\n")
                child.sendline(code)
            elif kind == "saved":
                screen.note("writes the recovery codes down; presses Enter")
                child.sendline("")
            elif kind == "code":
                if args.code is None:
                    sys.exit("demo_ssh: asked for a code, and none was given")
                screen.note("types the code %s" % args.code)
                child.sendline(args.code)
            elif not in_shell:
                in_shell = True
                child.sendline(args.command)
            else:
                child.sendline("exit")
        child.close()
        status = child.exitstatus if child.exitstatus is not None else 128 + child.signalstatus
        transcript.write("[ssh exit status %d]\n\n" % status)
    if screen.line_open:
        print()
    print("  (ssh exit status %d%s)" % (status, ": the login was refused"
                                         if status == 255 and not in_shell else ""))
    sys.exit(status)


main()
