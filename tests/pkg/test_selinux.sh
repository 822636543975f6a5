#!/bin/sh
# The SELinux policy module (packaging/selinux), checked on a machine where
# SELinux does not run: builds it with Debian's reference-policy headers
# (selinux-policy-dev), installs it into a throwaway policy store made from
# selinux-policy-default under a temporary root (semodule --path), asks the
# compiled policy which domains may use the state, the configuration and the
# secrets (setools, the library of sesearch), and the compiled file contexts
# (matchpathcon -f) how the paths are labelled; last, removes it again.
# The machine's own /etc/selinux and /var/lib/selinux are never written.
# It builds the work tree's packaging/selinux, not HEAD.
# Run as root: sh tests/pkg/test_selinux.sh
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
started=$(date +%s)
failures=0

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
step() { echo "-- [$(($(date +%s) - started)) s] $*"; }
finish() {
	echo "test_selinux: $failures failure(s), $(($(date +%s) - started)) s"
	[ "$failures" -eq 0 ]
	exit $?
}

if [ "$(id -u)" -ne 0 ]; then
	echo "test_selinux: run as root (semodule writes a store owned by root)" >&2
	exit 1
fi
devel=/usr/share/selinux/devel/Makefile
for tool in make checkmodule semodule_package semodule sesearch seinfo matchpathcon dpkg-deb; do
	command -v "$tool" >/dev/null ||
		{ echo "test_selinux: $tool is missing (scripts/install-deps.sh)"; exit 1; }
done
[ -f "$devel" ] || { echo "test_selinux: no $devel (selinux-policy-dev)"; exit 1; }
# The newest selinux-policy-default in apt's cache; scripts/install-deps.sh
# downloads it without installing it.
policy_deb=$(ls /var/cache/apt/archives/selinux-policy-default_*_all.deb 2>/dev/null | sort -V | tail -n 1)
[ -n "$policy_deb" ] ||
	{ echo "test_selinux: selinux-policy-default is not in /var/cache/apt/archives (scripts/install-deps.sh)"; exit 1; }

work=$(mktemp -d /tmp/pam_mfa-selinux.XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM HUP
root=$work/root

# What the machine's SELinux configuration and store are now, to prove at the
# end that nothing here changed them.
host_state() {
	find /etc/selinux /var/lib/selinux -printf '%p %s %T@\n' 2>/dev/null | sort | sha256sum
}
host_before=$(host_state)

step "build the module with $devel"
mkdir "$work/module"
cp "$top"/packaging/selinux/pam_mfa.te "$top"/packaging/selinux/pam_mfa.if \
	"$top"/packaging/selinux/pam_mfa.fc "$work/module/"
if make -C "$work/module" -f "$devel" NAME=default pam_mfa.pp >"$work/build.log" 2>&1 &&
	[ -s "$work/module/pam_mfa.pp" ]; then
	pass "pam_mfa.pp builds against Debian's policy headers"
else
	cat "$work/build.log"
	fail "pam_mfa.pp does not build (log above)"
	finish
fi

step "a throwaway store from $(basename "$policy_deb"), with pam_mfa at priority 200"
dpkg-deb -x "$policy_deb" "$root"
set --
for m in $(cat "$root/usr/share/selinux/default/.modules"); do
	set -- "$@" -i "$root/usr/share/selinux/default/$m.pp.bz2"
done
# One transaction: the policy's modules as its postinst installs them, and
# ours as the packages do.  -n: nothing is loaded into a kernel.
if semodule -p "$root" -s default -n -X 100 "$@" -X 200 -i "$work/module/pam_mfa.pp" \
	>"$work/semodule.log" 2>&1; then
	pass "semodule installs pam_mfa into the throwaway store"
else
	cat "$work/semodule.log"
	fail "semodule -i (log above)"
	finish
fi
semodule -p "$root" -s default --list-modules=full 2>/dev/null | grep -q '^200 pam_mfa ' &&
	pass "the store lists pam_mfa at priority 200" ||
	fail "the store does not list pam_mfa at priority 200"
policy=$(ls "$root"/etc/selinux/default/policy/policy.* | sort -V | tail -n 1)
fc=$root/etc/selinux/default/contexts/files/file_contexts
seinfo "$policy" -t pam_mfa_var_lib_t 2>/dev/null | grep -q pam_mfa_var_lib_t ||
	{ fail "the compiled policy $(basename "$policy") has no pam_mfa_var_lib_t"; finish; }

step "who may use the state, the configuration and the secrets (setools)"
# One process for all the queries (tests/pkg/selinux_rules.py says why).
/usr/bin/python3 "$here/selinux_rules.py" "$policy" >"$work/rules.log" 2>&1 || true
cat "$work/rules.log"
grep -q '^PASS: ' "$work/rules.log" || fail "selinux_rules.py checked nothing (output above)"
failures=$((failures + $(grep -c '^FAIL: ' "$work/rules.log" || true)))
echo "   every domain that may write a record, for the record:"
sesearch -A -t pam_mfa_var_lib_t -c file -p write "$policy" | sed 's/^/   | /'

step "file contexts (matchpathcon -f $(basename "$fc"))"
# label MODE PATH TYPE
label() {
	got=$(matchpathcon -m "$1" -f "$fc" "$2" 2>&1 | awk '{ print $2 }' | cut -d: -f3)
	if [ "$got" = "$3" ]; then
		pass "$2 ($1): $3"
	else
		fail "$2 ($1) is $got, not $3"
	fi
}
label dir /var/lib/pam_mfa pam_mfa_var_lib_t
label file /var/lib/pam_mfa/alice pam_mfa_var_lib_t
label file /var/lib/pam_mfa/.lock.alice pam_mfa_var_lib_t
label file /var/lib/pam_mfa/.tmp.alice.0a1b2c3d pam_mfa_var_lib_t
label file /etc/security/pam_mfa.conf pam_mfa_conf_t
label file /etc/security/pam_mfa.smtp pam_mfa_secret_t
label file /etc/security/pam_mfa.sms pam_mfa_secret_t
label file /etc/security/pam_mfa.pgpass pam_mfa_secret_t
label file /usr/bin/mfa-setup pam_mfa_setup_exec_t
# What the module leaves alone.
label dir /var/lib var_lib_t
label dir /var/lib/pam_mfa.old var_lib_t
label file /etc/security/limits.conf etc_t
label file /etc/security/pam_mfa.conf.dpkg-old etc_t
label file /usr/sbin/mfactl bin_t

step "semodule -r pam_mfa: what the packages do on removal"
if semodule -p "$root" -s default -n -X 200 -r pam_mfa >"$work/remove.log" 2>&1; then
	policy=$(ls "$root"/etc/selinux/default/policy/policy.* | sort -V | tail -n 1)
	if seinfo "$policy" -t pam_mfa_var_lib_t 2>/dev/null | grep -q pam_mfa_var_lib_t; then
		fail "pam_mfa_var_lib_t is still in the policy after semodule -r"
	else
		pass "semodule -r removes the module"
	fi
	label dir /var/lib/pam_mfa var_lib_t
else
	cat "$work/remove.log"
	fail "semodule -r pam_mfa (log above)"
fi

if [ "$host_before" = "$(host_state)" ]; then
	pass "the machine's /etc/selinux and /var/lib/selinux are untouched"
else
	fail "the machine's /etc/selinux or /var/lib/selinux changed during the test"
fi
finish
