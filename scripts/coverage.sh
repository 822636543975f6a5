#!/bin/sh
# Line coverage of what pam_mfa.so is made of: the module (pam_mfa/), and
# the parts it shares with mfactl and mfa-setup (core/, store/, enroll/),
# after the suite has run in a build set up with -Db_coverage=true;
# scripts/test.sh runs it after the ASan suite.  Prints the module and the
# shared parts apart, then gcovr's table per file, and fails if they are
# below COVERAGE_MIN_LINES percent as a whole.
#
# usage: sh scripts/coverage.sh BUILDDIR
set -eu
cd "$(dirname "$0")/.."
build=${1:?usage: sh scripts/coverage.sh BUILDDIR}
min=${COVERAGE_MIN_LINES:-85}

# The table goes to a scratch file, never to /dev/null: gcovr replaces its
# output file, and would leave a regular file where /dev/null was.
table=$(mktemp)
trap 'rm -f "$table"' EXIT

# The lines: summary of the files that match $1.
lines() {
	gcovr -r . --object-directory "$build" --filter "$1" \
		--print-summary --txt "$table" "$build" | grep '^lines:'
}

echo "module (pam_mfa/):             $(lines 'pam_mfa/')"
echo "core (core/, store/, enroll/): $(lines '(core|store|enroll)/')"
# gcovr exits 2, after its table, when the total is below the minimum.
gcovr -r . --object-directory "$build" --filter '(pam_mfa|core|store|enroll)/' --print-summary \
	--fail-under-line "$min" "$build"
