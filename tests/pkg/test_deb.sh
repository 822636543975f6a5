#!/bin/sh
# The Debian package, end to end: builds libpam-mfa from a copy of the
# committed tree (packaging/debian becomes debian/), runs lintian (errors
# fail), then installs it into a throwaway root and checks the
# pam-auth-update profile, a real login through pamtester, remove and purge
# (tests/pkg/deb_in_root.sh).  The throwaway root is an overlay over / in a
# private mount namespace, its writes on a tmpfs that vanishes with the
# namespace: the machine's own /etc/pam.d, passwd and dpkg database are
# never written.  Run as root: sh tests/pkg/test_deb.sh
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
started=$(date +%s)
failures=0

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
finish() {
	echo "test_deb: $failures failure(s), $(($(date +%s) - started)) s"
	[ "$failures" -eq 0 ]
	exit $?
}

if [ "$(id -u)" -ne 0 ]; then
	echo "test_deb: run as root (dpkg -i, mount and chroot in a namespace)" >&2
	exit 1
fi

work=$(mktemp -d /tmp/pam_mfa-deb.XXXXXX) || exit 1
cleanup() {
	if [ -n "${TEST_DEB_KEEP:-}" ]; then
		echo "test_deb: kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# What the machine's PAM configuration and users are now, to prove at the end that
# nothing here changed it.
host_pam_before=$(cat /etc/pam.d/* /etc/passwd /usr/share/pam-configs/* 2>/dev/null | sha256sum)

# A copy of what is committed, with the packaging where dpkg expects it.
mkdir "$work/src"
if ! git -C "$top" archive --format=tar HEAD | tar -x -C "$work/src"; then
	fail "git archive HEAD of $top"
	finish
fi
if [ ! -d "$work/src/packaging/debian" ]; then
	fail "packaging/debian is not committed"
	finish
fi
mv "$work/src/packaging/debian" "$work/src/debian"

echo "-- [$(($(date +%s) - started)) s] dpkg-buildpackage -us -uc -b (log: build.log)"
# -Jauto: as many build jobs as processors (it only sets parallel= in
# DEB_BUILD_OPTIONS).
if (cd "$work/src" && dpkg-buildpackage -us -uc -b -Jauto) >"$work/build.log" 2>&1; then
	pass "dpkg-buildpackage -us -uc -b"
else
	tail -n 60 "$work/build.log"
	fail "dpkg-buildpackage -us -uc -b (log above)"
	finish
fi
version=$(cd "$work/src" && dpkg-parsechangelog -S Version)
deb=$(ls "$work"/libpam-mfa_"$version"_*.deb 2>/dev/null | head -n 1)
changes=$(ls "$work"/pam-mfa_"$version"_*.changes 2>/dev/null | head -n 1)
if [ -n "$deb" ] && [ -n "$changes" ]; then
	pass "built $(basename "$deb")"
else
	fail "no libpam-mfa_${version}_*.deb or .changes in $work"
	finish
fi
grep -E '^(Ok|Fail|Skipped): ' "$work/build.log" | sed 's/^/   unit tests in the build: /'

# The SELinux module, built for Debian's policy, and its interface file;
# postinst adds it to the store only where selinux-policy-default is.
dpkg-deb -c "$deb" >"$work/contents"
for f in usr/share/selinux/packages/default/pam_mfa.pp.bz2 \
	usr/share/selinux/devel/include/distributed/pam_mfa.if; do
	if grep -q "^-rw-r--r-- root/root .* \./$f\$" "$work/contents"; then
		pass "the package ships /$f"
	else
		fail "the package does not ship /$f, 0644 root"
	fi
done

echo "-- [$(($(date +%s) - started)) s] lintian"
# Warnings and infos are shown; errors fail.  lintian grumbles about root.
lintian --info --fail-on error "$changes" >"$work/lintian.log" 2>&1
lintian_rc=$?
grep -v 'running with root privileges' "$work/lintian.log" | sed 's/^/   | /'
if [ "$lintian_rc" -eq 0 ]; then
	pass "lintian: no errors"
else
	fail "lintian reports errors (above)"
fi

echo "-- [$(($(date +%s) - started)) s] the throwaway root: overlay over /, private mount namespace, chroot"
cp "$here/deb_in_root.sh" "$work/"
unshare --mount --propagation private sh "$work/deb_in_root.sh" "$work" "$(basename "$deb")"
rc=$?
if [ "$rc" -ne 0 ]; then
	fail "checks in the throwaway root ($rc failed; lines above)"
fi

host_pam_after=$(cat /etc/pam.d/* /etc/passwd /usr/share/pam-configs/* 2>/dev/null | sha256sum)
if [ "$host_pam_before" = "$host_pam_after" ]; then
	pass "the machine's /etc/pam.d, /etc/passwd and pam-configs are untouched"
else
	fail "the machine's /etc/pam.d, /etc/passwd or pam-configs changed during the test"
fi
finish
