#!/bin/sh
# The README's first command: installs what is needed, builds, and shows
# pam_mfa doing its job over ssh.  A private sshd on 127.0.0.1 (a free
# port, its own host key and sshd_config, its PAM stack read from the demo's
# directory through pam_wrapper) with pam_mfa in it; a throwaway user who
# exists only through nss_wrapper; a mail catcher (aiosmtpd) on loopback.
# The real ssh client then logs in as that user: enrollment with the QR
# code, the confirmation mail, a login with a fresh code, a replay and a
# wrong code refused, and what the admin sees.  Nothing of the machine's
# /etc/ssh, /etc/pam.d, passwd, /run or /var/log is touched.
#
# usage: sh scripts/demo.sh [--keep | --interactive | --stop]
#   --keep         keep the demo's directory afterwards (config, state,
#                  caught mail, logs, transcript); sshd and the catcher stop
#   --interactive  leave sshd and the mail catcher running, to log in
#                  yourself with your own authenticator app
#   --stop         stop what --interactive left running, and remove it
#
# For the test (tests/meson.build): MFA_DEMO_BUILD=DIR uses that already
# built tree and skips installing packages and building.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
# Where --interactive tells --stop which demo directory is still running.
RUNNING=/run/pam_mfa-demo
MODE=once
case "${1:-}" in
'') ;;
--keep) MODE=keep ;;
--interactive) MODE=interactive ;;
--stop) MODE=stop ;;
*) echo "usage: sh scripts/demo.sh [--keep | --interactive | --stop]" >&2; exit 2 ;;
esac
if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run as root (it installs packages and starts a private sshd)" >&2
	exit 1
fi

if [ -t 1 ]; then
	say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	say() { printf '\n== %s\n' "$*"; }
fi

# Stops the processes of the demo in directory $1 and removes it.  Only
# pids whose command line names that directory are signalled, so a pid
# reused since by something else is left alone; sessions still open on
# the demo's sshd are found by its mount namespace.
stop_demo() {
	[ -f "$1/pids" ] || return 0
	own_ns=$(readlink /proc/self/ns/mnt)
	for pid in $(cat "$1/pids"); do
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$1" || continue
		ns=$(readlink "/proc/$pid/ns/mnt" 2>/dev/null) || continue
		kill "$pid" 2>/dev/null || true
		[ "$ns" != "$own_ns" ] || continue
		for p in /proc/[0-9]*; do
			if [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$ns" ]; then
				kill "${p#/proc/}" 2>/dev/null || true
			fi
		done
	done
	for pid in $(cat "$1/pids"); do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
	done
	rm -f "$1/pids"
	# pam_wrapper's copies of the demo's stack: sshd's children end without
	# running the destructor that would remove them.
	for d in /tmp/pam.?; do
		if grep -qsF "$1/" "$d/sshd"; then rm -rf "$d"; fi
	done
}

if [ "$MODE" = stop ]; then
	if [ ! -f "$RUNNING" ]; then
		echo "demo: no interactive demo is running"
		exit 0
	fi
	DIR=$(cat "$RUNNING")
	stop_demo "$DIR"
	rm -rf "$DIR" "$RUNNING"
	echo "demo: stopped, and removed $DIR"
	exit 0
fi
if [ -f "$RUNNING" ] && [ "$MODE" = interactive ]; then
	echo "demo: stopping the interactive demo still running in $(cat "$RUNNING")"
	stop_demo "$(cat "$RUNNING")"
	rm -rf "$(cat "$RUNNING")" "$RUNNING"
fi

if [ -n "${MFA_DEMO_BUILD:-}" ]; then
	BUILD=$MFA_DEMO_BUILD
else
	say "Installing what is needed and building (once; quiet)"
	sh scripts/install-deps.sh >/dev/null
	BUILD=$ROOT/build-demo
	[ -d "$BUILD" ] || meson setup "$BUILD" -Dbuildtype=release -Dtests=false >/dev/null
	ninja -C "$BUILD" >/dev/null
fi
MODULE=$BUILD/pam_mfa/pam_mfa.so

DEMO=$(mktemp -d /tmp/pam_mfa-demo.XXXXXX)
chmod 755 "$DEMO"    # the demo user's home is inside
LEAVE_RUNNING=no
cleanup() {
	status=$?
	if [ "$LEAVE_RUNNING" = no ]; then
		stop_demo "$DEMO"
		if [ $status -ne 0 ] && [ $status -ne 130 ] && [ $status -ne 143 ]; then
			echo "demo: failed; its directory is kept: $DEMO" >&2
		elif [ "$MODE" = once ]; then
			rm -rf "$DEMO"
		fi
	fi
	exit $status
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Two free ports on loopback, one for sshd and one for the mail catcher.
PORTS=$(/usr/bin/python3 -c 'import socket
socks = [socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')
SSH_PORT=${PORTS% *}
SMTP_PORT=${PORTS#* }
PASSWORD=demo-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')

# The throwaway user, for nss_wrapper only (sshd needs its privilege
# separation user too).
mkdir -p "$DEMO/home/demo"
chown 4242:4242 "$DEMO/home/demo"
cat >"$DEMO/passwd" <<EOF
root:x:0:0:root:/root:/bin/sh
sshd:x:105:65534::/run/sshd:/usr/sbin/nologin
demo:x:4242:4242:Demo User:$DEMO/home/demo:/bin/sh
EOF
printf 'root:x:0:\nnogroup:x:65534:\ndemo:x:4242:\n' >"$DEMO/group"
NSS="NSS_WRAPPER_PASSWD=$DEMO/passwd NSS_WRAPPER_GROUP=$DEMO/group"
export NSS_WRAPPER_PASSWD="$DEMO/passwd" NSS_WRAPPER_GROUP="$DEMO/group"    # for sshd

# pam_mfa's configuration: everyone must use MFA, by app; email only for
# the notice that MFA was set up, to the caught address demo@demo.invalid.
mkdir -m 755 "$DEMO/var"
mkdir -m 700 "$DEMO/var/pam_mfa"
cat >"$DEMO/pam_mfa.conf" <<EOF
state_dir = "$DEMO/var/pam_mfa";
issuer = "pam_mfa demo";
default_policy = "required";
methods = [ "totp" ];
totp = { digits = 6; period = 30; window = 1; algorithm = "sha1"; };
lockout = { attempts = 5; interval = 900; unlock_after = 900; };
fail_delay_ms = 0;    # 2000 in the README's example; the demo has no time to lose
email = {
    smtp_url = "smtp://127.0.0.1:$SMTP_PORT";
    starttls = "off";    # the catcher on loopback has no TLS; never over a network
    from = "pam_mfa demo <no-reply@demo.invalid>";
    address = "%u@demo.invalid";
    timeout = 5;
};
EOF
chmod 600 "$DEMO/pam_mfa.conf"
# The admin's tool on the demo: its config, its users (nss_wrapper).
cat >"$DEMO/mfactl" <<EOF
#!/bin/sh
LD_PRELOAD=libnss_wrapper.so $NSS exec $BUILD/mfactl/mfactl --config $DEMO/pam_mfa.conf "\$@"
EOF
chmod 755 "$DEMO/mfactl"

# sshd's PAM stack, read through pam_wrapper from here.  The password is
# checked by a script that stands in for pam_unix (the user has no entry in
# /etc/shadow), then pam_mfa asks for the second factor.
cat >"$DEMO/check-password" <<EOF
#!/bin/sh
[ "\$(tr -d '\\000')" = '$PASSWORD' ]
EOF
chmod 700 "$DEMO/check-password"
mkdir "$DEMO/pam.d"
cat >"$DEMO/pam.d/sshd" <<EOF
auth     required  pam_exec.so expose_authtok quiet $DEMO/check-password
auth     required  $MODULE config=$DEMO/pam_mfa.conf
account  required  pam_permit.so
session  required  pam_permit.so
password required  pam_deny.so
EOF
printf 'auth required pam_deny.so\naccount required pam_deny.so\n' >"$DEMO/pam.d/other"

ssh-keygen -q -t ed25519 -N '' -C pam_mfa-demo -f "$DEMO/ssh_host_ed25519_key"
# SetEnv: the user's own commands see the user through nss_wrapper too.
cat >"$DEMO/sshd_config" <<EOF
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $DEMO/ssh_host_ed25519_key
PidFile $DEMO/sshd.pid
UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication no
PubkeyAuthentication no
AuthenticationMethods keyboard-interactive
AllowUsers demo
PermitRootLogin no
AllowTcpForwarding no
X11Forwarding no
PrintMotd no
PrintLastLog no
SetEnv LD_PRELOAD=libnss_wrapper.so $NSS
LogLevel VERBOSE
EOF

# A module built with ASan (the test suite's build) needs its runtimes
# loaded first in sshd, and no leak report when sshd exits.
PRELOAD="libpam_wrapper.so libnss_wrapper.so"
for lib in libubsan.so libasan.so; do
	if ldd "$MODULE" | grep -q "${lib%.so}"; then
		PRELOAD="$(gcc -print-file-name=$lib) $PRELOAD"
		export ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0
		export PAM_WRAPPER_DISABLE_DEEPBIND=1 NSS_WRAPPER_DISABLE_DEEPBIND=1
	fi
done

say "Starting the mail catcher (127.0.0.1:$SMTP_PORT) and sshd (127.0.0.1:$SSH_PORT)"
setsid /usr/bin/python3 tests/lib/smtp_server.py "$SMTP_PORT" "$DEMO/mail" \
	</dev/null >"$DEMO/smtp.out" 2>"$DEMO/smtp.err" &
echo $! >>"$DEMO/pids"
# In a mount namespace of its own, sshd's privilege separation directory
# and the login records it keeps (utmp, wtmp, btmp for failed logins,
# lastlog) are on throwaway tmpfs mounts, not the machine's /run, /var/log.
setsid unshare -m --propagation private sh -c '
	mount -t tmpfs -o mode=755,nosuid,nodev demo-run /run &&
	mount -t tmpfs -o mode=755,nosuid,nodev demo-log /var/log &&
	mkdir /run/sshd && exec "$@"' sh \
	env LD_PRELOAD="$PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$DEMO/pam.d" \
	/usr/sbin/sshd -D -E "$DEMO/sshd.log" -f "$DEMO/sshd_config" \
	</dev/null >"$DEMO/sshd.out" 2>&1 &
echo $! >>"$DEMO/pids"
for _ in $(seq 100); do
	grep -q ready "$DEMO/smtp.out" && grep -q "Server listening" "$DEMO/sshd.log" 2>/dev/null &&
		break
	sleep 0.1
done
if ! grep -q "Server listening" "$DEMO/sshd.log" 2>/dev/null; then
	echo "demo: sshd did not start:" >&2
	cat "$DEMO/sshd.out" "$DEMO/sshd.log" >&2 2>/dev/null
	exit 1
fi
echo "  user 'demo' (uid 4242, password $PASSWORD) exists only for this sshd and mfactl (nss_wrapper)"
echo "  PAM stack: $DEMO/pam.d/sshd; pam_mfa config: $DEMO/pam_mfa.conf"

# One login with the real ssh client, typed by demo_ssh.py; $1 is what
# must happen: "in" (logged in) or "refused".  COMMAND is typed at the
# user's shell, and expanded there.
# shellcheck disable=SC2016
COMMAND='echo "Hello from the demo sshd: logged in as $(id -un), uid $(id -u)."'
ssh_login() {
	want=$1
	shift
	status=0
	/usr/bin/python3 scripts/demo_ssh.py "$SSH_PORT" demo "$PASSWORD" "$DEMO/transcript.txt" \
		"$@" "$COMMAND" || status=$?
	case "$want:$status" in
	in:0 | refused:255) ;;
	*)
		echo "demo: expected the login to be $want, ssh exited with $status" >&2
		tail -n 20 "$DEMO/sshd.log" >&2
		exit 1
		;;
	esac
}

say "1. 'demo' logs in for the first time: not enrolled yet, and policy says required"
ssh_login in --secret-to "$DEMO/secret"
SECRET=$(cat "$DEMO/secret")

say "2. The confirmation mail, caught on its way to demo@demo.invalid"
for _ in $(seq 50); do
	[ -n "$(ls "$DEMO/mail/new" 2>/dev/null)" ] && break
	sleep 0.1
done
if [ -z "$(ls "$DEMO/mail/new" 2>/dev/null)" ]; then
	echo "demo: no confirmation mail arrived" >&2
	exit 1
fi
for mail in "$DEMO"/mail/new/*; do
	grep -v '^X-\(Peer\|MailFrom\|RcptTo\):' "$mail" | sed 's/^/  | /'
done
echo "  (the catcher keeps every mail in $DEMO/mail/new/)"

say "3. 'demo' logs in again: the password and a fresh code from the app"
# The code just used for enrollment is spent, and a code is never accepted
# for an older step than the last one: the app's next code (30 s ahead) is
# fresh, and inside the window of one step of clock drift (totp.window), so
# the demo need not wait for the phone to show it.
CODE=$(oathtool --totp -b -N "now + 30 seconds" "$SECRET")
echo "  the app's next code (oathtool --totp -b -N 'now + 30 seconds' $SECRET): $CODE"
echo "  (one step ahead is within the clock drift pam_mfa allows: no need to wait 30 s)"
ssh_login in --code "$CODE"

say "4. The same code again: a replay, refused"
ssh_login refused --code "$CODE"

say "5. A wrong code: refused, and counted toward the lockout"
ssh_login refused --code 000000

say "6. What sshd logged ($DEMO/sshd.log)"
grep -E 'Accepted|Failed|PAM:' "$DEMO/sshd.log" | sed 's/^/  /'

say "7. What the admin sees: mfactl status demo"
"$DEMO/mfactl" status demo

if [ "$MODE" = interactive ]; then
	# The walkthrough enrolled 'demo' with oathtool; start the person afresh.
	"$DEMO/mfactl" reset demo >/dev/null
	echo "$DEMO" >"$RUNNING"
	LEAVE_RUNNING=yes
	say "Your turn: sshd and the mail catcher keep running"
	cat <<EOF
  'demo' was reset (mfactl reset demo), so your login sets up MFA again:
  scan the QR code with your own authenticator app, then type its code.

    ssh -p $SSH_PORT demo@127.0.0.1
    password: $PASSWORD

  The host key is new ($(ssh-keygen -lf "$DEMO/ssh_host_ed25519_key.pub" | cut -d' ' -f2)):
  ssh asks you to trust it.  If it refuses because an earlier demo used this
  port, add -o UserKnownHostsFile=/dev/null.
  Caught mail lands in $DEMO/mail/new/ (one file per message);
  sshd's log: $DEMO/sshd.log.
  The admin's view: $DEMO/mfactl status   (mfactl on the demo's config and users)

  Stop it:  sh $ROOT/scripts/demo.sh --stop
     (or:   kill \$(cat $DEMO/pids); rm -rf $DEMO $RUNNING)
EOF
elif [ "$MODE" = keep ]; then
	say "Stopped sshd and the mail catcher; kept the demo's directory $DEMO"
	echo "  what the user saw: $DEMO/transcript.txt; mail: $DEMO/mail/new/"
else
	say "Done: sshd and the mail catcher stopped, $DEMO removed"
fi
