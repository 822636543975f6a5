#!/bin/sh
# Checks that the C sources are formatted as .clang-format says: prints
# what clang-format-14 would change, as a unified diff per file, and exits
# 1 if it would change anything.  store/crc32_tables.h is generated (see
# store.c) and stays as its generator writes it.
#
# usage: sh scripts/check-format.sh [FILE...]   (default: every tracked .c and .h)
set -eu
cd "$(dirname "$0")/.."
CLANG_FORMAT=${CLANG_FORMAT:-clang-format-14}
if ! command -v "$CLANG_FORMAT" >/dev/null; then
	echo "check-format: $CLANG_FORMAT not found (sh scripts/install-deps.sh)" >&2
	exit 2
fi
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

# The file names, one a line (none of them has a newline in it).
sources() {
	if [ $# -gt 0 ]; then
		printf '%s\n' "$@"
	else
		git ls-files '*.c' '*.h' | grep -v -x 'store/crc32_tables\.h'
	fi
}

status=0
sources "$@" | {
	bad=0
	while IFS= read -r f; do
		# An explicit style file: a missing one is an error, not LLVM's style.
		if ! "$CLANG_FORMAT" --style="file:$PWD/.clang-format" "$f" >"$tmp"; then
			echo "check-format: $CLANG_FORMAT failed on $f" >&2
			bad=1
		elif ! diff -u --label "a/$f" --label "b/$f" "$f" "$tmp"; then
			bad=1
		fi
	done
	exit $bad
} || status=1
if [ $status -ne 0 ]; then
	echo "check-format: not formatted as .clang-format says (above: what clang-format would change)" >&2
fi
exit $status
