#!/bin/sh
#  valgrind.sh - every unit test binary under valgrind (memcheck): no
#  invalid access, no uninitialised use, no definite or indirect leak
#  SPDX-License-Identifier: MPL-2.0
#
#  Usage: tests/valgrind.sh [BUILD_DIR]   (default build-valgrind)
#  A build without sanitizers (valgrind and ASan do not mix), GCC
#  RelWithDebInfo unless JADUGAR_VALGRIND_TYPE says otherwise: tests/run.sh
#  hands it the GCC RelWithDebInfo build it has made already;
#  Criterion's test workers are followed (--trace-children) and run without
#  early exit, so each worker's leaks are checked when it ends. A worker
#  with a valgrind error exits 99, but Criterion has its result by then:
#  any error marker in the output fails the binary.
#  Two binaries at a time; about 4 minutes on 2 cores. valgrind 3.19 does
#  not know pidfd_open (syscall 434) and says so; jad_hook falls back to
#  polling then.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build-valgrind}
cmake -S "$top" -B "$build" -DJADUGAR_SANITIZE=OFF -DCMAKE_BUILD_TYPE="${JADUGAR_VALGRIND_TYPE:-RelWithDebInfo}" \
    -DCMAKE_COMPILE_WARNING_AS_ERROR=ON >/dev/null
#  only the unit tests it runs when told which (tests/run.sh: the product
#  is built already), else everything
if [ -n "${JADUGAR_VALGRIND_ONLY:-}" ]; then
    targets=""
    for name in $JADUGAR_VALGRIND_ONLY; do
        targets="$targets unit_$name"
    done
    # shellcheck disable=SC2086 # the list of targets, split
    cmake --build "$build" -j"$(nproc)" --target $targets >/dev/null
else
    cmake --build "$build" -j"$(nproc)" >/dev/null
fi

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
export CRITERION_NO_EARLY_EXIT=1
#  Criterion runs each test in a re-executed worker: trace those, but not
#  what the tests start (system tools, PostgreSQL, hook scripts in
#  temporary dirs, the daemons): under valgrind they are too slow for the
#  tests' timeouts.
tmp=${TMPDIR:-/tmp}
skip="/bin/*,/usr/bin/*,/sbin/*,/usr/sbin/*,/usr/lib/*,$tmp/*,*/jadugar-agent,*/jadugar-controller,*/jadctl"
run_one () {
    name=$(basename "$1")
    status=0
    valgrind --quiet --error-exitcode=99 --error-markers=VALGRIND-ERROR-BEGIN,VALGRIND-ERROR-END \
        --leak-check=full \
        --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
        --trace-children=yes --trace-children-skip="$skip" \
        --vgdb=no \
        "$1" --jobs 1 --verbose=0 >"$logs/$name.log" 2>&1 || status=$?
    #  a worker's leaks are found after it reported its test passed, so its
    #  exit status is lost: the error markers in the log are the verdict
    if [ "$status" -eq 0 ] && ! grep -q VALGRIND-ERROR-BEGIN "$logs/$name.log"; then
        echo "valgrind: $name ok"
    else
        echo "valgrind: $name FAILED"
        cat "$logs/$name.log"
        return 1
    fi
}
failed=0
#  POSIX sh has no exported functions: a small loop, two at a time
#  JADUGAR_VALGRIND_SKIP: test files (e.g. "test_daemon test_server") left
#  out, those whose subject runs in processes valgrind does not follow;
#  JADUGAR_VALGRIND_ONLY: if set, only these test files
set --
for binary in "$build"/tests/unit_*; do
    name=${binary##*/unit_}
    case " ${JADUGAR_VALGRIND_SKIP:-} " in
        *" $name "*) echo "valgrind: ${binary##*/} left out (JADUGAR_VALGRIND_SKIP)" ;;
        *)
            if [ -n "${JADUGAR_VALGRIND_ONLY:-}" ]; then
                case " $JADUGAR_VALGRIND_ONLY " in
                    *" $name "*) set -- "$@" "$binary" ;;
                    *) ;;
                esac
            else
                set -- "$@" "$binary"
            fi
            ;;
    esac
done
while [ $# -gt 0 ]; do
    first=$1
    shift
    second=""
    if [ $# -gt 0 ]; then
        second=$1
        shift
    fi
    run_one "$first" &
    pid1=$!
    pid2=""
    if [ -n "$second" ]; then
        run_one "$second" &
        pid2=$!
    fi
    wait "$pid1" || failed=1
    [ -z "$pid2" ] || wait "$pid2" || failed=1
done
[ "$failed" -eq 0 ] && echo "valgrind: every unit test binary is clean"
exit "$failed"
