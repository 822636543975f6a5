#!/bin/sh
# The README's first command: installs what is needed, builds, and shows the
# main job on a throwaway setup that touches nothing of the machine's PAM
# configuration, passwd or /dev/log:
#   enroll a demo user with mfactl, log in through a real PAM stack with a
#   code from an "authenticator app" (oathtool), and see a replay refused.
# Everything lives in a temporary directory that is removed at the end
# (keep it with --keep).
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
KEEP=no
[ "${1:-}" = "--keep" ] && KEEP=yes

sh scripts/install-deps.sh >/dev/null
BUILD=build-demo
[ -d "$BUILD" ] || meson setup "$BUILD" -Dbuildtype=release >/dev/null
ninja -C "$BUILD" >/dev/null

DEMO=$(mktemp -d /tmp/pam_mfa-demo.XXXXXX)
cleanup() { [ "$KEEP" = yes ] || rm -rf "$DEMO"; }
trap cleanup EXIT

# A private user database (nss_wrapper), config, state directory and stack.
printf 'root:x:0:0:root:/root:/bin/sh\ndemo:x:4242:4242:Demo User:/home/demo:/bin/sh\n' >"$DEMO/passwd"
printf 'root:x:0:\ndemo:x:4242:\n' >"$DEMO/group"
cat >"$DEMO/pam_mfa.conf" <<CONF
state_dir = "$DEMO/state";
issuer = "pam_mfa demo";
totp = { digits = 6; period = 30; window = 1; algorithm = "sha1"; };
lockout = { attempts = 5; interval = 900; unlock_after = 900; };
fail_delay_ms = 0;
CONF
chmod 600 "$DEMO/pam_mfa.conf"
mkdir "$DEMO/pam.d"
cat >"$DEMO/pam.d/demo-login" <<STACK
auth     required  $ROOT/$BUILD/pam_mfa/pam_mfa.so config=$DEMO/pam_mfa.conf
account  required  pam_permit.so
STACK
echo 'auth required pam_deny.so' >"$DEMO/pam.d/other"

export NSS_WRAPPER_PASSWD="$DEMO/passwd" NSS_WRAPPER_GROUP="$DEMO/group"
MFACTL="$ROOT/$BUILD/mfactl/mfactl --config $DEMO/pam_mfa.conf"
if [ -t 1 ]; then
	say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	say() { printf '\n== %s\n' "$*"; }
fi
# Each login runs with a private /dev/log, so the module's syslog lines are
# shown here and nowhere else.
login() {
	printf '%s\n' "$1" | unshare -m --propagation private /usr/bin/python3 \
		"$ROOT/tests/lib/syslog_ns.py" "$DEMO/syslog" \
		env LD_PRELOAD=libnss_wrapper.so "$ROOT/$BUILD/tests/pam/pamrun" \
		--confdir "$DEMO/pam.d" --service demo-login --user demo --rhost 192.0.2.10 |
		sed 's/^/    /'
	sed 's/^/    syslog: /' "$DEMO/syslog"
}

say "The admin enrolls user 'demo' (mfactl enroll demo)"
LD_PRELOAD=libnss_wrapper.so $MFACTL enroll demo | tee "$DEMO/enroll.txt"
SECRET=$(sed -n 's/^otpauth:.*[?&]secret=\([A-Z2-7]*\).*/\1/p' "$DEMO/enroll.txt")

say "The user's authenticator app shows a code (here: oathtool)"
CODE=$(oathtool --totp -b "$SECRET")
echo "    $CODE"

say "Login through the PAM stack $DEMO/pam.d/demo-login with that code"
login "$CODE"

say "The same code again: a replay, refused"
login "$CODE"

say "A wrong code: refused and counted toward the lockout"
login "000000"

say "What the admin sees (mfactl status demo)"
LD_PRELOAD=libnss_wrapper.so $MFACTL status demo

if [ "$KEEP" = yes ]; then
	say "Kept the demo setup in $DEMO"
else
	say "Done; the throwaway setup in $DEMO is removed"
fi
