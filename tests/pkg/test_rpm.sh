#!/bin/sh
# Builds the RPM the way a Fedora packager would, from the tarball of
# "meson dist", with Debian's rpmbuild in a private _topdir, then checks
# what the package holds: the module, mfactl, mfa-setup setuid root, the
# configuration as %config(noreplace), the man pages, the completion, and
# the state directory 0700 root.  --nodeps: Debian has no database of
# Fedora's build dependencies (the libraries are there under Debian names).
# The SELinux subpackage: its module, its interface file and the
# scriptlets that install it and relabel.
# Usage: sh tests/pkg/test_rpm.sh   (from anywhere; builds HEAD, not the
# work tree: meson dist packs what git has committed)
set -eu

src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pam_mfa-rpm.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
failures=0
fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

for tool in git meson rpmbuild rpm bzip2 semodule_unpackage; do
	command -v "$tool" >/dev/null || { echo "test_rpm: $tool is missing (scripts/install-deps.sh)"; exit 1; }
done

echo "== meson dist"
git clone -q "$src" "$tmp/src"
version=$(meson introspect --projectinfo "$tmp/src/meson.build" |
	/usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
if ! { meson setup "$tmp/dist-build" "$tmp/src" -Dtests=false &&
	meson dist -C "$tmp/dist-build" --no-tests --formats gztar; } >"$tmp/dist.log" 2>&1; then
	cat "$tmp/dist.log"
	echo "FAIL: meson dist"
	exit 1
fi
tarball=$tmp/dist-build/meson-dist/pam_mfa-$version.tar.gz
[ -f "$tarball" ] || { echo "FAIL: no $tarball"; ls "$tmp/dist-build/meson-dist"; exit 1; }

echo "== rpmbuild -bb --nodeps, the spec from the tarball"
top=$tmp/rpmbuild
mkdir -p "$top/SOURCES" "$top/SPECS"
cp "$tarball" "$top/SOURCES/"
tar -xzf "$tarball" -O "pam_mfa-$version/packaging/rpm/pam_mfa.spec" >"$top/SPECS/pam_mfa.spec" ||
	{ echo "FAIL: packaging/rpm/pam_mfa.spec is not in the dist tarball"; exit 1; }
spec_version=$(rpmspec -q --srpm --qf '%{VERSION}' "$top/SPECS/pam_mfa.spec" 2>/dev/null ||
	sed -n 's/^Version:[[:space:]]*//p' "$top/SPECS/pam_mfa.spec")
[ "$spec_version" = "$version" ] ||
	fail "the spec's Version is $spec_version, meson.build's version is $version"
if ! rpmbuild -bb --nodeps \
	--define "_topdir $top" --define "_tmppath $tmp/tmp" \
	"$top/SPECS/pam_mfa.spec" >"$tmp/rpmbuild.log" 2>&1; then
	tail -n 60 "$tmp/rpmbuild.log"
	echo "FAIL: rpmbuild"
	exit 1
fi
grep -i 'warning' "$tmp/rpmbuild.log" | grep -v -e 'Wno-' -e '^ *-W' | sed 's/^/rpmbuild: /' || true
set -- "$top"/RPMS/*/pam_mfa-"$version"-*.rpm
[ -f "$1" ] || { echo "FAIL: no binary rpm"; find "$top/RPMS"; exit 1; }
rpmfile=$1
echo "built $(basename "$rpmfile")"

echo "== the package's files and modes"
rpm -qlvp "$rpmfile" >"$tmp/list"
sed 's/^/  /' "$tmp/list"
# has MODE OWNER PATH_REGEX: one entry with that mode string and owner.
has() {
	awk -v mode="$1" -v owner="$2" -v re="^$3\$" \
		'$1 == mode && $3 " " $4 == owner && $NF ~ re { found = 1 } END { exit !found }' \
		"$tmp/list" || fail "no $3 of mode $1, owned by $2"
}
libdir=$(rpm --eval '%{_libdir}')
has -rwxr-xr-x 'root root' "$libdir/security/pam_mfa\\.so"
has -rwxr-xr-x 'root root' '/usr/sbin/mfactl'
has -rwsr-xr-x 'root root' '/usr/bin/mfa-setup'
has -rw-r--r-- 'root root' '/etc/security/pam_mfa\.conf'
has -rw-r--r-- 'root root' '/etc/pam\.d/mfa-setup'
has drwx------ 'root root' '/var/lib/pam_mfa'
has -rw-r--r-- 'root root' '/usr/lib/tmpfiles\.d/pam_mfa\.conf'
has -rw-r--r-- 'root root' '/usr/share/bash-completion/completions/mfactl'
for page in man1/mfa-setup.1 man5/pam_mfa.conf.5 man8/mfactl.8 man8/pam_mfa.8; do
	has -rw-r--r-- 'root root' "/usr/share/man/$page(\\.gz)?"
done
has -rw-r--r-- 'root root' '/usr/share/doc/pam_mfa/examples/pam_mfa\.conf'
has -rw-r--r-- 'root root' '/usr/share/doc/pam_mfa/README\.md'
if grep -q -e 'mfa-setup-test' -e '/tests/' "$tmp/list"; then
	fail "test programs in the package"
fi

# %config(noreplace): flags "c" and "n"; %doc: "d".
rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$rpmfile" >"$tmp/flags"
for f in /etc/security/pam_mfa.conf /etc/pam.d/mfa-setup; do
	grep -q "^cn $f\$" "$tmp/flags" || fail "$f is not %config(noreplace): $(grep " $f\$" "$tmp/flags")"
done
grep -q '^d /usr/share/doc/pam_mfa/README.md$' "$tmp/flags" || fail "README.md is not %doc"
# %license: flag "l"; the license meson.build and debian/copyright declare.
# Fedora's rpm puts it in licenses/NAME, Debian's in licenses/NAME-VERSION.
grep -Eq "^l /usr/share/licenses/pam_mfa(-$version)?/LICENSE\$" "$tmp/flags" ||
	fail "no LICENSE as %license: $(grep LICENSE "$tmp/flags")"

echo "== the payload"
# rpm2archive (in Debian's rpm2cpio package, which rpm depends on) turns
# the payload into a tarball; cpio need not be installed.
mkdir "$tmp/root"
rpm2archive - <"$rpmfile" | tar -xzf - -C "$tmp/root" || fail "rpm2archive | tar"
module=$tmp/root$libdir/security/pam_mfa.so
exported=$(nm -D --defined-only "$module" 2>/dev/null | awk '$2 == "T" { print $3 }' | sort | tr '\n' ' ')
[ "$exported" = "pam_sm_authenticate pam_sm_setcred " ] ||
	fail "pam_mfa.so exports [$exported], not just pam_sm_authenticate and pam_sm_setcred"
cmp -s "$tmp/root/etc/security/pam_mfa.conf" "$src/conf/pam_mfa.conf" ||
	fail "/etc/security/pam_mfa.conf is not conf/pam_mfa.conf"
"$tmp/root/usr/sbin/mfactl" --version | grep -qx "mfactl $version" ||
	fail "the packaged mfactl does not say version $version"
grep -q '^d /var/lib/pam_mfa 0700 root root' "$tmp/root/usr/lib/tmpfiles.d/pam_mfa.conf" ||
	fail "the tmpfiles.d snippet does not make /var/lib/pam_mfa 0700 root"

echo "== the SELinux subpackage"
# Built with Debian's policy headers (selinux-policy-dev) where Fedora's
# would be; the spec's fallbacks stand in for selinux-policy-devel's
# %selinux_* macros, which Debian's rpm lacks.
set -- "$top"/RPMS/noarch/pam_mfa-selinux-"$version"-*.noarch.rpm
if [ -f "$1" ]; then
	serpm=$1
	echo "built $(basename "$serpm")"
	rpm -qlvp "$serpm" >"$tmp/list"
	sed 's/^/  /' "$tmp/list"
	has -rw-r--r-- 'root root' '/usr/share/selinux/packages/targeted/pam_mfa\.pp\.bz2'
	has -rw-r--r-- 'root root' '/usr/share/selinux/devel/include/distributed/pam_mfa\.if'
	rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$serpm" |
		grep -q '^g /var/lib/selinux/targeted/active/modules/200/pam_mfa$' ||
		fail "the installed module is not a %ghost of the selinux subpackage"
	rpm -qp --scripts "$serpm" >"$tmp/scripts"
	grep -q 'semodule -n -s ${_policytype} -X 200 -i /usr/share/selinux/packages/targeted/pam_mfa.pp.bz2' "$tmp/scripts" ||
		fail "%post does not install the module with semodule"
	grep -q 'restorecon -R /var/lib/pam_mfa' "$tmp/scripts" ||
		fail "%post does not relabel /var/lib/pam_mfa"
	grep -q 'semodule -n -X 200 -s ${_policytype} -r pam_mfa' "$tmp/scripts" ||
		fail "%postun does not remove the module"
	grep -q 'fixfiles -C' "$tmp/scripts" || fail "%posttrans does not relabel what the module changed"
	mkdir "$tmp/seroot"
	rpm2archive - <"$serpm" | tar -xzf - -C "$tmp/seroot" || fail "rpm2archive | tar (selinux)"
	pp=$tmp/seroot/usr/share/selinux/packages/targeted/pam_mfa.pp.bz2
	if bzip2 -dc "$pp" >"$tmp/pam_mfa.pp" 2>/dev/null &&
		(cd "$tmp" && semodule_unpackage pam_mfa.pp pam_mfa.mod pam_mfa.fc) 2>/dev/null; then
		grep -q '^/var/lib/pam_mfa(/\.\*)?.*pam_mfa_var_lib_t' "$tmp/pam_mfa.fc" ||
			fail "the packaged module does not label /var/lib/pam_mfa"
	else
		fail "$pp is not a bzip2-compressed policy package"
	fi
else
	fail "no pam_mfa-selinux noarch rpm"
	find "$top/RPMS"
fi
rpm -qp --recommends "$rpmfile" | grep -q 'pam_mfa-selinux if selinux-policy-targeted' ||
	fail "pam_mfa does not recommend pam_mfa-selinux where selinux-policy-targeted is"

if [ "$failures" -gt 0 ]; then
	echo "test_rpm: $failures failure(s)"
	exit 1
fi
echo "test_rpm: OK"
