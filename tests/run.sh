#!/bin/sh
#  run.sh - install what is missing, build with sanitizers, run every test
#  SPDX-License-Identifier: MPL-2.0
#
#  Usage: tests/run.sh [ctest arguments, e.g. -L unit or -R envelope]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

./deploy/install-deps.sh --tests

#  Every build here treats warnings as errors (a plain cmake build only
#  warns, see CMakeLists.txt).
werror=-DCMAKE_COMPILE_WARNING_AS_ERROR=ON

build=${JADUGAR_TEST_BUILD:-$top/build-tests}
cmake -S . -B "$build" -DJADUGAR_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $werror >/dev/null
cmake --build "$build" -j"$(nproc)"

#  Every compiler and optimisation level: the flow-based warnings of GCC
#  (format-truncation, stringop-*, maybe-uninitialized) come only with
#  optimisation, clang's with clang. Built, tests included, nothing run;
#  each in a directory of its own (build-gcc-relwithdebinfo, build-clang,
#  build-gcc-release). GCC Debug is the build above. They build beside the
#  test run, at the lowest CPU priority (most tests wait on sockets and
#  timers, and get the CPU first), and the run fails if one of them does.
#  Only for a full run unless JADUGAR_BUILDS=0.
builds_pid=
if [ $# -eq 0 ] && [ "${JADUGAR_BUILDS:-1}" != 0 ]; then
    (
        for config in gcc:RelWithDebInfo clang:RelWithDebInfo gcc:Release; do
            compiler=${config%%:*}
            type=${config#*:}
            dir=$top/build-$compiler
            [ "$compiler" = gcc ] && dir=$dir-$(echo "$type" | tr '[:upper:]' '[:lower:]')
            echo "build: $compiler $type in $dir"
            cmake -S . -B "$dir" -DCMAKE_C_COMPILER="$compiler" -DCMAKE_BUILD_TYPE="$type" \
                $werror >/dev/null || exit 1
            nice -n 19 cmake --build "$dir" -j"$(nproc)" >"$dir/build.log" 2>&1 || {
                cat "$dir/build.log"
                echo "build: $compiler $type FAILED"
                exit 1
            }
        done
    ) >"$build/configs.log" 2>&1 &
    builds_pid=$!
    trap 'kill "$builds_pid" 2>/dev/null || true' EXIT
fi

#  Sanitizers: fail on the first report; leaks are errors.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
(cd "$build" && ctest --output-on-failure -j"$(nproc)" "$@")

if [ -n "$builds_pid" ]; then
    status=0
    wait "$builds_pid" || status=$?
    trap - EXIT
    cat "$build/configs.log"
    [ "$status" -eq 0 ] || { echo "build: a compiler or level failed (above)" >&2; exit 1; }
fi

#  Valgrind: the unit test binaries, in a build of their own without
#  sanitizers, only for a full run unless JADUGAR_VALGRIND=0.
if [ $# -eq 0 ] && [ "${JADUGAR_VALGRIND:-1}" != 0 ]; then
    #  the GCC RelWithDebInfo build above when it was made (no second build)
    valgrind_build=$top/build-valgrind
    [ "${JADUGAR_BUILDS:-1}" != 0 ] && valgrind_build=$top/build-gcc-relwithdebinfo
    #  In CI, the code that runs in the test process itself and parses
    #  what others send (common: codecs, configs, archives, envelopes,
    #  attestations; engine: the decisions); the rest runs in daemons
    #  valgrind does not follow, or starts PostgreSQL, and is covered by
    #  the sanitizer build above. JADUGAR_VALGRIND_ONLY= (empty) runs all.
    JADUGAR_VALGRIND_ONLY=${JADUGAR_VALGRIND_ONLY-"test_archive test_attest test_config test_db \
test_envelope test_keys test_log test_role test_util test_version test_wire test_approvals \
test_batches test_deadlines test_door test_reconcile test_rules"} \
        ./tests/valgrind.sh "${JADUGAR_VALGRIND_BUILD:-$valgrind_build}"
fi

#  Fuzzing: each libFuzzer target briefly (clang, separate build dir), only
#  for a full run (no ctest arguments) unless JADUGAR_FUZZ_SECONDS=0.
if [ $# -eq 0 ] && [ "${JADUGAR_FUZZ_SECONDS:-10}" != 0 ]; then
    ./tests/fuzz/run-fuzz.sh "${JADUGAR_FUZZ_SECONDS:-10}"
fi
