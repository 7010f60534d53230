#!/bin/sh
#  run-fuzz.sh - build the libFuzzer targets with clang and run each briefly
#  SPDX-License-Identifier: MPL-2.0
#
#  Usage: tests/fuzz/run-fuzz.sh [--build | --run] [SECONDS per target, default 20]
#  Builds in build-fuzz/ (or $JADUGAR_FUZZ_BUILD) under ASan/UBSan, runs
#  every target on a scratch copy of its committed seed corpus
#  (tests/fuzz/corpus/NAME/), and fails on the first crash, leak or
#  sanitizer report. New crashers are left in the build dir. The plan
#  seeds are made by the encoders (tests/fuzz/fuzz_seeds.c, checked by
#  ctest's fuzz.seeds). --build only builds, --run only runs what was
#  built (tests/run.sh builds beside the
#  test run and runs after it).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
step=all
case "${1:-}" in
    --build | --run)
        step=${1#--}
        shift
        ;;
    *) ;;
esac
seconds=${1:-20}
build=${JADUGAR_FUZZ_BUILD:-$top/build-fuzz}
targets="fuzz_wire fuzz_envelope fuzz_config fuzz_archive"
#  The product and the tests too: this build is also CI's clang build of
#  every binary and test program (warnings are errors; the tests run in
#  the GCC builds), with ASan and coverage instrumentation.
if [ "$step" != run ]; then
    CC=clang cmake -S "$top" -B "$build" -DJADUGAR_FUZZ=ON -DJADUGAR_SANITIZE=ON \
        -DJADUGAR_TESTS=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_COMPILE_WARNING_AS_ERROR=ON >/dev/null
    cmake --build "$build" -j"$(nproc)"
fi
[ "$step" != build ] || exit 0

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
#  one target: its log and stats, or its crash and exit 1
run_target () {
    name=$1
    scratch="$build/tests/fuzz/$name.corpus"
    artifacts="$build/tests/fuzz/$name.crashes/"
    rm -rf "$scratch"
    mkdir -p "$scratch" "$artifacts"
    "$build/tests/fuzz/$name" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
        -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts" \
        "$scratch" "$top/tests/fuzz/corpus/$name" 2>"$build/tests/fuzz/$name.log" || {
        tail -n 60 "$build/tests/fuzz/$name.log"
        echo "fuzz: $name FAILED (crashers in $artifacts)" >&2
        return 1
    }
    echo "fuzz: $name ran ${seconds}s: $(grep -E "stat::number_of_executed_runs|stat::new_units_added" \
        "$build/tests/fuzz/$name.log" | tr -s ' \n' ' ')"
}
#  as many targets at once as there are cores
jobs=$(nproc)
failed=0
# shellcheck disable=SC2086 # the list of targets, split
set -- $targets
while [ $# -gt 0 ]; do
    pids=""
    count=0
    while [ $# -gt 0 ] && [ "$count" -lt "$jobs" ]; do
        run_target "$1" &
        pids="$pids $!"
        count=$((count + 1))
        shift
    done
    for pid in $pids; do
        wait "$pid" || failed=1
    done
done
[ "$failed" -eq 0 ] || exit 1
echo "fuzz: all targets ran clean"
