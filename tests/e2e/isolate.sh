#!/bin/sh
# Runs the end-to-end tests with the machine out of their reach.  A real
# sshd records logins in /run and /var/log, and pam_wrapper copies the test's
# PAM stack to /tmp/pam.X (a path compiled into it, in every process that
# starts PAM; sshd's per-connection children exit without removing theirs),
# so these three get private, throwaway mounts.
#
# usage: sh isolate.sh [--keep DIR]... -- CMD...
#
# It runs itself again under `unshare -n -m --propagation private`, so that
# it never mounts anything where the machine would see it.
# In the new network namespace: the loopback, up (ports clash with nothing).
# In the new mount namespace (propagation private: no mount reaches the
# machine, and all of them go with the last process):
#   /run      an empty tmpfs, with /run/sshd (sshd's privilege separation
#             directory) in it; utmp is there too
#   /var/log  an empty tmpfs (wtmp, btmp, lastlog)
#   /tmp      an empty tmpfs, with each --keep DIR that lies under /tmp (the
#             build tree, whose tests/pam/tmp holds the tests' worlds) bound
#             back at its own path
#   $MFATEST_MACHINE_TMP  the machine's /tmp, read-only, for the test to
#             check that nothing of its own appeared there
set -eu
if [ "${1:-}" != --in-namespace ]; then
	exec unshare -n -m --propagation private sh "$0" --in-namespace "$@"
fi
shift
keep=
while [ $# -gt 0 ]; do
	case $1 in
	--keep) keep="$keep$(realpath -e "$2")
"; shift 2 ;;
	--) shift; break ;;
	*) echo "isolate.sh: usage: isolate.sh [--keep DIR]... -- CMD..." >&2; exit 2 ;;
	esac
done
[ $# -gt 0 ] || { echo "isolate.sh: no command" >&2; exit 2; }
ip link set lo up
mount -t tmpfs -o mode=755,nosuid,nodev mfatest-run /run
mkdir -m 755 /run/sshd
mount -t tmpfs -o mode=755,nosuid,nodev mfatest-log /var/log
machine_tmp=/run/mfatest/machine-tmp
mkdir -p "$machine_tmp"
mount --bind /tmp "$machine_tmp"
mount -t tmpfs -o mode=1777,nosuid,nodev mfatest-tmp /tmp
nl='
'
IFS=$nl
set -f
for dir in $keep; do
	case $dir in
	/tmp) echo "isolate.sh: cannot keep all of /tmp" >&2; exit 2 ;;
	/tmp/*)
		mkdir -p "$dir"
		mount --bind "$machine_tmp/${dir#/tmp/}" "$dir"
		;;
	esac
done
unset IFS
set +f
# Only this mount of it is read-only; the binds above stay writable.
mount -o remount,bind,ro "$machine_tmp"
export MFATEST_MACHINE_TMP="$machine_tmp"
exec "$@"
