#!/bin/sh
# Line coverage of pam_mfa/ (the module, pam_mfa.c, and the core library it
# shares with mfactl and mfa-setup: the rest) after the suite has run in a
# build set up with -Db_coverage=true; scripts/test.sh runs it after the
# ASan suite.  Prints the module and the core apart, then gcovr's table per
# file, and fails if pam_mfa/ as a whole is below COVERAGE_MIN_LINES percent.
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

# The lines: summary of the files that match $1, except those matching $2.
lines() {
	gcovr -r . --object-directory "$build" --filter "$1" ${2:+--exclude "$2"} \
		--print-summary --txt "$table" "$build" | grep '^lines:'
}

echo "module (pam_mfa/pam_mfa.c):  $(lines 'pam_mfa/pam_mfa\.c$')"
echo "core (the rest of pam_mfa/): $(lines 'pam_mfa/' 'pam_mfa/pam_mfa\.c$')"
# gcovr exits 2, after its table, when the total is below the minimum.
gcovr -r . --object-directory "$build" --filter 'pam_mfa/' --print-summary \
	--fail-under-line "$min" "$build"
