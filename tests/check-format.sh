#!/bin/sh
#  check-format.sh - fail if any C file differs from clang-format's output
#  SPDX-License-Identifier: MPL-2.0
top=${1:-.}
cd "$top" || exit 2
status=0
for file in $(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]'); do
    if ! clang-format --style=file "$file" | cmp -s - "$file"; then
        echo "not formatted: $file (run: clang-format -i $file)"
        status=1
    fi
done
exit $status
