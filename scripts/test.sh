#!/bin/sh
# The second command of the README, and what CI runs: installs what is
# needed, builds with warnings as errors under ASan and UBSan, runs the whole
# suite, then checks that an optimised build is warning-free too.
set -eu
cd "$(dirname "$0")/.."

sh scripts/install-deps.sh

BUILD=${BUILD:-build-ci}
rm -rf "$BUILD" "$BUILD-release"
meson setup "$BUILD" -Dwerror=true -Db_sanitize=address,undefined -Dbuildtype=debug
ninja -C "$BUILD"
status=0
meson test -C "$BUILD" --print-errorlogs --num-processes 2 || status=$?

# -O2 and _FORTIFY_SOURCE find warnings a debug build cannot.
meson setup "$BUILD-release" -Dwerror=true -Dbuildtype=release >/dev/null
ninja -C "$BUILD-release" || status=1
exit $status
