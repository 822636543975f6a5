#!/bin/sh
# The second command of the README, and what CI runs: installs what is
# needed, checks the formatting of the C sources (clang-format), builds
# with warnings as errors under ASan and UBSan and runs the
# whole suite, measuring line coverage (the module and what it links, core/ store/ enroll/, must reach 85 %); runs
# clang's static analyzer over a clean build (scan-build); then builds
# optimised (warnings as errors again: -O2 and _FORTIFY_SOURCE find what a
# debug build cannot) and runs the PAM-stack suites once more under
# valgrind's memcheck; then mfactl under ThreadSanitizer and the libFuzzer
# targets, with the packages and the SELinux policy module built and
# checked alongside them.  Each stage's title says when it started.
set -eu
cd "$(dirname "$0")/.."

sh scripts/install-deps.sh

BUILD=${BUILD:-build-ci}
rm -rf "$BUILD" "$BUILD-release"
status=0
started=$(date +%s)
# A stage's title, with the seconds since the start.
stage() {
	echo "== [+$(($(date +%s) - started)) s] $*"
}

stage "clang-format: every C source as .clang-format says"
sh scripts/check-format.sh || status=1

stage "ASan/UBSan build with line coverage, the whole suite"
# Coverage rides on this run rather than a second one.  Atomic counters:
# the core runs on threads (mfactl status), and counts lost in a race
# leave gcov with negative branch counts, which gcovr refuses.  Each
# program writes its .gcda files into this build tree as it exits: all run
# as root (mfa-setup setuid root), and those in mount namespaces
# (pam-hardening, e2e) see the tree at its own path.  The one run as
# nobody without the setuid bit cannot write them: it prints "profiling:
# ...: Cannot open" and keeps its exit status; it stops at the setuid check.
meson setup "$BUILD" -Dwerror=true -Db_sanitize=address,undefined -Dbuildtype=debug \
	-Db_coverage=true -Dc_args=-fprofile-update=atomic
ninja -C "$BUILD"
meson test -C "$BUILD" --print-errorlogs --num-processes 2 || status=$?
stage "Line coverage of the module and core (pam_mfa/ core/ store/ enroll/) in that run; at least 85 %"
sh scripts/coverage.sh "$BUILD" || status=1

stage "scan-build: clang 14's static analyzer over a clean build; any report fails"
# Set up under scan-build too, so that meson takes its compiler wrapper
# (CC) for every file; the tests are analysed with the rest.
# The reports also go to $BUILD-scan/scan-build as HTML.
rm -rf "$BUILD-scan"
scan-build-14 -o "$BUILD-scan/scan-build" meson setup "$BUILD-scan" -Dbuildtype=debug >/dev/null
scan-build-14 --status-bugs -o "$BUILD-scan/scan-build" ninja -C "$BUILD-scan" || status=1

stage "Release build; the PAM-stack suites under valgrind memcheck"
meson setup "$BUILD-release" -Dwerror=true -Dbuildtype=release >/dev/null
ninja -C "$BUILD-release" || status=1
# mfa-setup is setuid, which valgrind cannot follow; its suite runs above.
MFATEST_VALGRIND=1 meson test -C "$BUILD-release" --print-errorlogs --num-processes 2 \
	--timeout-multiplier 3 pam-login pam-policy pam-email pam-enroll-races || status=$?
# The release module loads libcurl only to send mail and text messages
# (core/meson.build): mail through the real sshd, text messages to the
# test gateway, and the check that it is not linked.
meson test -C "$BUILD-release" --print-errorlogs --num-processes 2 \
	e2e-sshd demo unit-lazy-libs unit-sms-gateway || status=$?

# The packages need neither core much (dpkg, rpmbuild, lintian and the
# policy tools wait on the disk or run on one): they go alongside the
# sanitizer and fuzzing stages, their output kept for the end.
pkglog=$(mktemp)
pkgstatus=$(mktemp)
trap 'rm -f "$pkglog" "$pkgstatus"' EXIT
(
	s=0
	echo "== RPM: meson dist, rpmbuild"
	sh tests/pkg/test_rpm.sh || s=1
	echo "== Debian package: build, lintian, install into a throwaway root"
	sh tests/pkg/test_deb.sh || s=1
	echo "== SELinux policy module: build, a throwaway policy store, who may do what"
	sh tests/pkg/test_selinux.sh || s=1
	echo "$s" >"$pkgstatus"
) >"$pkglog" 2>&1 </dev/null &
packages=$!

stage "ThreadSanitizer: mfactl, whose status reads records on threads"
rm -rf "$BUILD-tsan"
meson setup "$BUILD-tsan" -Dwerror=true -Db_sanitize=thread -Dbuildtype=debug >/dev/null
ninja -C "$BUILD-tsan" mfactl/mfactl tests/pam/pamrun pam_mfa/pam_mfa.so || status=1
# nss_wrapper (the tests' passwd) unlocks its mutexes in its destructor
# in a way TSan reports as misuse; data races are still reported, and any
# report stops mfactl with TSan's exit status, which fails the test.
TSAN_OPTIONS="report_mutex_bugs=0 halt_on_error=1" \
	meson test -C "$BUILD-tsan" --no-rebuild --print-errorlogs mfactl || status=$?

stage "libFuzzer (clang): record parser, config parser, pam_sm_authenticate, 45 s each"
rm -rf "$BUILD-fuzz"
CC=clang-14 meson setup "$BUILD-fuzz" -Dfuzz=true -Db_sanitize=address,undefined \
	-Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link -Dbuildtype=debugoptimized >/dev/null
ninja -C "$BUILD-fuzz" || status=1
meson test -C "$BUILD-fuzz" --suite fuzz --print-errorlogs --num-processes 2 || status=$?

stage "Packages (RPM, Debian, SELinux), run alongside the stages above"
wait "$packages" || true
cat "$pkglog"
[ "$(cat "$pkgstatus")" = 0 ] || status=1
stage "done: exit status $status"
exit $status
