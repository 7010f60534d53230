#!/bin/sh
#  check-format.sh - fail if any C file differs from clang-format's output
#  SPDX-License-Identifier: MPL-2.0
#
#  One clang-format process checks every file (--dry-run --Werror): a
#  process per file took minutes on a loaded 2-core machine.
top=${1:-.}
cd "$top" || exit 2
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]')
[ -n "$files" ] || exit 0
report=$(mktemp) || exit 2
trap 'rm -f "$report"' EXIT
#  shellcheck disable=SC2086 # one word per file: the names have no spaces
if clang-format --style=file --dry-run --Werror $files >"$report" 2>&1; then
    exit 0
fi
bad=$(sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' "$report" |
    sort -u)
if [ -z "$bad" ]; then
    cat "$report"  #  clang-format failed for another reason: say it
    exit 1
fi
for file in $bad; do
    echo "not formatted: $file (run: clang-format -i $file)"
done
exit 1
