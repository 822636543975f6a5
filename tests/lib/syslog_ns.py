"""Runs a command with a private /dev/log and saves what it logs.

usage: unshare -m --propagation private python3 syslog_ns.py LOGFILE CMD...

Inside a private mount namespace, /dev becomes an empty tmpfs holding only
our datagram socket, so the real syslog() of the command under test (glibc
writes to /dev/log) lands here, and the machine's /dev is never touched.
MFATEST_CHILD_LD_PRELOAD and MFATEST_CHILD_FAKETIME become LD_PRELOAD and
FAKETIME for the command alone, not for this wrapper.  The command's stdin, stdout and stderr are passed through; the exit status
is the command's.
"""
import os
import socket
import subprocess
import sys


def main():
    logfile, argv = sys.argv[1], sys.argv[2:]
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", "/dev"], check=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("/dev/log")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    env = dict(os.environ)
    for name in ("LD_PRELOAD", "FAKETIME"):
        value = env.pop("MFATEST_CHILD_" + name, None)
        if value is not None:
            env[name] = value
    child = subprocess.Popen(argv, env=env)
    lines = []
    sock.settimeout(0.05)
    while True:
        try:
            lines.append(sock.recv(65536).decode("utf-8", "replace"))
            continue
        except socket.timeout:
            pass
        if child.poll() is not None:
            break
    sock.setblocking(False)
    while True:
        try:
            lines.append(sock.recv(65536).decode("utf-8", "replace"))
        except BlockingIOError:
            break
    with open(logfile, "w") as f:
        for line in lines:
            f.write(line.replace("\n", " ") + "\n")
    sys.exit(child.returncode)


main()
