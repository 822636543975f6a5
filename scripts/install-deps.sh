#!/bin/sh
# Installs what pam_mfa needs to build, test and run its demo on Debian 12.
# Asks apt only for what is missing, so a prepared machine pays nothing.
set -eu

PACKAGES="build-essential pkg-config meson ninja-build
  libpam0g-dev liboath-dev libconfig-dev libqrencode-dev zlib1g-dev libcmocka-dev
  libpam-modules libpam-runtime oathtool faketime libnss-wrapper
  python3 util-linux mandoc e2fsprogs zbar-tools librsvg2-bin
  libcurl4-openssl-dev libssl-dev python3-aiosmtpd openssl
  openssh-server openssh-client python3-pexpect pamtester libpam-wrapper iproute2 valgrind clang-14
  clang-tools-14 gcovr clang-format-14
  postgresql-15 postgresql-contrib libpq-dev
  rpm git bash-completion
  debhelper dpkg-dev fakeroot lintian debconf passwd
  selinux-policy-dev checkpolicy semodule-utils policycoreutils selinux-utils setools bzip2"

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: run as root (apt-get install)" >&2
	exit 1
fi

missing=""
updated=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
# postgresql-15's first install makes and starts Debian's main cluster (a
# server on port 5432 for good).  The tests bring their own throwaway one
# (tests/pg/pgrig.py), so a machine that has no postgresql-15 yet gets none:
# a drop-in that postgresql-common's createcluster.conf includes says so
# before the package is installed.  A machine that has the package keeps
# its clusters and its configuration untouched.
case " $missing " in
*" postgresql-15 "*)
	nomain=/etc/postgresql-common/createcluster.d/50-pam_mfa-no-main-cluster.conf
	if [ ! -e "$nomain" ]; then
		echo "install-deps: postgresql-15 will not create a main cluster ($nomain)"
		mkdir -p /etc/postgresql-common/createcluster.d
		printf '%s\n' "# pam_mfa's install-deps.sh: its tests make their own throwaway cluster" \
			"create_main_cluster = false" >"$nomain"
	fi
	;;
esac
if [ -n "$missing" ]; then
	echo "install-deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	updated=yes
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
fi

# tests/pkg/test_selinux.sh builds a throwaway policy store from Debian's
# policy, selinux-policy-default, under a temporary root.  Installing that
# package would build the machine's own store (its postinst runs semodule),
# so it is only downloaded into apt's cache, where the test finds it.
if ! ls /var/cache/apt/archives/selinux-policy-default_*.deb >/dev/null 2>&1; then
	echo "install-deps: downloading selinux-policy-default (not installed)"
	export DEBIAN_FRONTEND=noninteractive
	[ -n "$updated" ] || apt-get update -q
	apt-get install -y -q --no-install-recommends --download-only selinux-policy-default
fi
