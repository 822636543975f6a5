#!/bin/sh
# The throwaway root of tests/pkg/test_deb.sh, and the checks run in it.
#
#   unshare --mount --propagation private sh deb_in_root.sh WORKDIR DEBFILE
#
# mounts a tmpfs on WORKDIR/ovl, an overlay over / whose writes go to that
# tmpfs, binds /proc, /dev and /sys into it, gives it its own /tmp and /run,
# and runs this script again inside it with chroot ("--checks").  All of it
# lives only in this mount namespace: when the script ends, every write
# (dpkg's database, /etc/pam.d, the test user) is gone with the tmpfs.
set -u

if [ "${1:-}" != --checks ]; then
	work=$1
	debname=$2
	ovl=$work/ovl
	root=$ovl/merged
	mkdir -p "$ovl" || exit 1
	mount -t tmpfs -o mode=0755 pam_mfa-deb "$ovl" || exit 1
	mkdir "$ovl/upper" "$ovl/work" "$root" || exit 1
	if ! mount -t overlay pam_mfa-deb \
		-o "lowerdir=/,upperdir=$ovl/upper,workdir=$ovl/work" "$root"; then
		echo "FAIL: cannot mount an overlay over / (is the overlay module there?)"
		exit 1
	fi
	for d in proc dev sys; do
		mount --rbind "/$d" "$root/$d" || exit 1
	done
	mount -t tmpfs -o mode=1777 pam_mfa-deb-tmp "$root/tmp" || exit 1
	mount -t tmpfs -o mode=0755 pam_mfa-deb-run "$root/run" || exit 1
	cp "$work/$debname" "$work/deb_in_root.sh" "$root/tmp/" || exit 1
	exec chroot "$root" /usr/bin/env -i \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LC_ALL=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive \
		/bin/sh /tmp/deb_in_root.sh --checks "/tmp/$debname"
fi

# From here on, inside the throwaway root.
deb=$2
failures=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
finish() {
	[ "$failures" -gt 100 ] && failures=100
	exit "$failures"
}
show() { sed 's/^/   | /' "$@"; }
started=$(date +%s)
section() { echo "-- [+$(($(date +%s) - started)) s in the root] $*"; }

# Never run dpkg on the real machine, whatever went wrong above.
if [ "$(stat -f -c %T /)" != overlayfs ]; then
	echo "FAIL: / is not the throwaway overlay; refusing to go on"
	exit 1
fi

user=mfadebtest
password='Deb-test-Passw0rd'
code_prompt='Verification code'

# The machine may have the package already: begin from a system without it.
if dpkg-query -W -f='${db:Status-Abbrev}' libpam-mfa 2>/dev/null | grep -q '^[a-z][a-zA-Z]'; then
	echo "   libpam-mfa is on the machine; purging it in the throwaway root first"
	dpkg -P libpam-mfa >/dev/null 2>&1
fi

# man-db's trigger rebuilds the whole manual index at each dpkg run, many
# seconds that test nothing of ours; without this flag file it does not
# (what man-db/auto-update=false does).
rm -f /var/lib/man-db/auto-update

before=/tmp/common-before
mkdir "$before" && cp -p /etc/pam.d/common-* "$before/"
# The common-* files are byte for byte what they were before the install,
# and there are no new ones.
common_as_before() {
	for f in "$before"/*; do
		cmp -s "$f" "/etc/pam.d/${f##*/}" || return 1
	done
	for f in /etc/pam.d/common-*; do
		[ -e "$before/${f##*/}" ] || return 1
	done
}

# login USER ANSWER...: the login service through pamtester, each answer
# one line of the conversation.  Sets $out (the prompts and the verdict)
# and $rc.
login() {
	login_user=$1
	shift
	out=$(printf '%s\n' "$@" | pamtester login "$login_user" authenticate 2>&1)
	rc=$?
}
asks_code() { case $out in *"$code_prompt"*) return 0 ;; esac; return 1; }
# The password prompt comes first, the code prompt after it.
password_then_code() {
	case $out in *Password:*"$code_prompt"*) return 0 ;; esac
	return 1
}

# Whether Debian's SELinux policy store is there before the install.
had_store=no
[ -e /var/lib/selinux/default ] && had_store=yes

section "dpkg -i $(basename "$deb")"
if dpkg -i "$deb" >/tmp/dpkg-i.log 2>&1; then
	pass "dpkg -i"
else
	show /tmp/dpkg-i.log
	fail "dpkg -i (log above)"
	finish
fi
if common_as_before; then
	pass "installing leaves /etc/pam.d/common-* as they were (profile is Default: no)"
else
	diff -r "$before" /etc/pam.d | show
	fail "installing changed /etc/pam.d/common-*"
fi
if grep -q '^Default: no$' /usr/share/pam-configs/mfa 2>/dev/null; then
	pass "profile /usr/share/pam-configs/mfa, Default: no"
else
	fail "no /usr/share/pam-configs/mfa with Default: no"
fi
st=$(stat -c '%a %U %G' /var/lib/pam_mfa 2>&1)
if [ "$st" = "700 root root" ]; then
	pass "postinst made /var/lib/pam_mfa, 0700 root root"
else
	fail "/var/lib/pam_mfa: $st (expected 700 root root)"
fi
if dpkg -S /var/lib/pam_mfa >/dev/null 2>&1; then
	fail "/var/lib/pam_mfa is in the package's file list: dpkg -r would remove it when empty"
else
	pass "/var/lib/pam_mfa is not in dpkg's file list (tmpfiles.d makes it)"
fi
st=$(stat -c '%a %U %G' /usr/bin/mfa-setup 2>&1)
if [ "$st" = "4755 root root" ]; then
	pass "/usr/bin/mfa-setup is 4755 root root"
else
	fail "/usr/bin/mfa-setup: $st (expected 4755 root root)"
fi
# Without selinux-policy-default the SELinux module is only a file.
if [ ! -f /usr/share/selinux/packages/default/pam_mfa.pp.bz2 ]; then
	fail "no /usr/share/selinux/packages/default/pam_mfa.pp.bz2"
elif [ "$had_store" = no ] && [ -e /var/lib/selinux/default ]; then
	fail "postinst made a policy store where selinux-policy-default is not installed"
else
	pass "the SELinux module is shipped; no policy store was made (there was one: $had_store)"
fi
conffiles=$(dpkg-query -W -f='${Conffiles}\n' libpam-mfa)
for f in /etc/security/pam_mfa.conf /etc/pam.d/mfa-setup; do
	case $conffiles in
	*" $f "*) pass "conffile $f" ;;
	*) fail "$f is not a conffile" ;;
	esac
done
if ls /usr/lib/*/security/pam_mfa.so >/dev/null 2>&1; then
	pass "pam_mfa.so in $(ls -d /usr/lib/*/security/pam_mfa.so)"
else
	fail "pam_mfa.so is not in /usr/lib/*/security"
fi
if mfactl check >/tmp/check.log 2>&1; then
	pass "mfactl check accepts the shipped /etc/security/pam_mfa.conf"
else
	show /tmp/check.log
	fail "mfactl check rejects the shipped /etc/security/pam_mfa.conf"
fi

section "pam-auth-update --enable mfa"
if pam-auth-update --enable mfa >/tmp/pau.log 2>&1; then
	pass "pam-auth-update --enable mfa"
else
	show /tmp/pau.log
	fail "pam-auth-update --enable mfa"
fi
if debconf-show libpam-runtime 2>/dev/null | grep 'libpam-runtime/profiles' | grep -qw mfa; then
	pass "debconf lists mfa among the enabled profiles"
else
	fail "debconf does not list mfa among the enabled profiles"
fi
sed -n '/per-package modules/,/end of pam-auth-update config/p' /etc/pam.d/common-auth |
	grep -v '^#' | show
# pam_mfa after pam_permit (the Additional block: the password has
# succeeded), right after the pam_succeed_if line that skips it for
# mfa-setup's own password check.
if awk '
	/^auth[ \t]/ && /pam_permit\.so/ { permit = NR }
	/^auth[ \t]/ && /pam_succeed_if\.so service = mfa-setup/ { skip = NR }
	/^auth[ \t]+requisite[ \t]+pam_mfa\.so/ { mfa = NR }
	END { exit !(permit && skip > permit && mfa == skip + 1) }' /etc/pam.d/common-auth; then
	pass "common-auth: pam_mfa.so requisite after pam_permit, skipped for mfa-setup"
else
	fail "common-auth does not have pam_mfa.so where expected"
fi

section "a user, enrolled with mfactl; logins through the login service"
cat >/etc/security/pam_mfa.conf <<'EOF'
state_dir = "/var/lib/pam_mfa";
issuer = "pam_mfa package test";
fail_delay_ms = 0;
default_policy = "optional";
methods = [ "totp" ];
EOF
if mfactl check >/tmp/check.log 2>&1; then
	pass "mfactl check: the test's config"
else
	show /tmp/check.log
	fail "mfactl check: the test's config"
fi
if ! useradd -M -s /bin/sh "$user" || ! echo "$user:$password" | chpasswd; then
	fail "useradd $user, chpasswd"
fi
mfactl enroll --qr none "$user" >/tmp/enroll.log 2>&1
secret=$(sed -n 's/.*[?&]secret=\([A-Z2-7]*\).*/\1/p' /tmp/enroll.log | head -n 1)
if [ -n "$secret" ]; then
	pass "mfactl enroll $user"
else
	show /tmp/enroll.log
	fail "mfactl enroll $user: no secret in its output"
	finish
fi

login "$user" "$password" "$(oathtool --totp -b "$secret")"
show_out() { printf '%s\n' "$out" | show; }
show_out
if [ "$rc" -eq 0 ] && password_then_code; then
	pass "login: password, then a right code: accepted"
else
	fail "login: password, then a right code: rc=$rc (expected 0, password prompt then code prompt)"
fi

# A code outside the module's window (one step either side), so surely wrong.
now=$(date +%s)
window=" $(oathtool --totp -b -N "@$((now - 30))" "$secret") $(oathtool --totp -b -N "@$now" "$secret") $(oathtool --totp -b -N "@$((now + 30))" "$secret") "
wrong=123456
while case $window in *" $wrong "*) true ;; *) false ;; esac; do
	wrong=$(printf '%06d' $(((1$wrong - 1000000 + 1) % 1000000)))
done
login "$user" "$password" "$wrong"
show_out
if [ "$rc" -ne 0 ] && password_then_code; then
	pass "login: password, then a wrong code: refused"
else
	fail "login: password, then a wrong code: rc=$rc (expected a refusal after the code prompt)"
fi

login "$user" "not-$password" "$(oathtool --totp -b "$secret")"
show_out
if [ "$rc" -ne 0 ] && ! asks_code; then
	pass "login: a wrong password is refused before any code is asked"
else
	fail "login: wrong password: rc=$rc, code asked: $(asks_code && echo yes || echo no)"
fi

# mfa-setup's own stack @includes common-auth and must check the password
# only (conf/pam.d/mfa-setup).
out=$(printf '%s\n' "$password" | pamtester mfa-setup "$user" authenticate 2>&1)
rc=$?
show_out
if [ "$rc" -eq 0 ] && ! asks_code; then
	pass "the mfa-setup service asks for the password only"
else
	fail "the mfa-setup service: rc=$rc, code asked: $(asks_code && echo yes || echo no)"
fi

section "pam-auth-update --disable mfa"
pam-auth-update --disable mfa >/tmp/pau.log 2>&1 || { show /tmp/pau.log; fail "pam-auth-update --disable mfa"; }
if common_as_before; then
	pass "--disable restores /etc/pam.d/common-* byte for byte"
else
	diff -r "$before" /etc/pam.d | show
	fail "--disable leaves /etc/pam.d/common-* changed"
fi
login "$user" "$password"
show_out
if [ "$rc" -eq 0 ] && ! asks_code; then
	pass "login after --disable: the password alone, no code asked"
else
	fail "login after --disable: rc=$rc, code asked: $(asks_code && echo yes || echo no)"
fi

section "dpkg -r with the profile enabled"
pam-auth-update --enable mfa >/tmp/pau.log 2>&1 || { show /tmp/pau.log; fail "pam-auth-update --enable mfa (again)"; }
grep -q 'pam_mfa\.so' /etc/pam.d/common-auth || fail "pam_mfa.so not in common-auth after enabling again"
if dpkg -r libpam-mfa >/tmp/dpkg-r.log 2>&1; then
	pass "dpkg -r libpam-mfa"
else
	show /tmp/dpkg-r.log
	fail "dpkg -r libpam-mfa (log above)"
fi
if common_as_before; then
	pass "dpkg -r (prerm: pam-auth-update --package --remove mfa) restores /etc/pam.d/common-*"
else
	diff -r "$before" /etc/pam.d | show
	fail "dpkg -r leaves /etc/pam.d/common-* changed"
fi
if [ -d /var/lib/pam_mfa ] && [ -n "$(ls -A /var/lib/pam_mfa)" ]; then
	pass "dpkg -r keeps /var/lib/pam_mfa and the enrollment in it"
else
	fail "dpkg -r removed /var/lib/pam_mfa or emptied it"
fi
if [ ! -e /usr/share/pam-configs/mfa ] && ! ls /usr/lib/*/security/pam_mfa.so >/dev/null 2>&1; then
	pass "dpkg -r removes the profile and the module"
else
	fail "dpkg -r leaves the profile or the module"
fi
if debconf-show libpam-runtime 2>/dev/null | grep 'libpam-runtime/profiles' | grep -qw mfa; then
	fail "debconf still lists mfa among the enabled profiles"
else
	pass "debconf no longer lists mfa among the enabled profiles"
fi
login "$user" "$password"
show_out
if [ "$rc" -eq 0 ] && ! asks_code; then
	pass "login after dpkg -r: the password alone works"
else
	fail "login after dpkg -r: rc=$rc"
fi

section "dpkg -P"
if dpkg -P libpam-mfa >/tmp/dpkg-p.log 2>&1; then
	pass "dpkg -P libpam-mfa"
else
	show /tmp/dpkg-p.log
	fail "dpkg -P libpam-mfa (log above)"
fi
if [ ! -e /var/lib/pam_mfa ]; then
	pass "dpkg -P removes /var/lib/pam_mfa"
else
	fail "dpkg -P leaves /var/lib/pam_mfa"
fi
if [ ! -e /etc/security/pam_mfa.conf ] && [ ! -e /etc/pam.d/mfa-setup ] &&
	[ ! -e /usr/share/pam-configs/mfa ]; then
	pass "dpkg -P removes the conffiles and the profile"
else
	fail "dpkg -P leaves a conffile or the profile"
fi
if common_as_before; then
	pass "after dpkg -P, /etc/pam.d/common-* are as before the install"
else
	diff -r "$before" /etc/pam.d | show
	fail "after dpkg -P, /etc/pam.d/common-* differ from before the install"
fi
finish
