#!/bin/sh
#  run.sh - install what is missing, build with sanitizers, run every test
#  SPDX-License-Identifier: MPL-2.0
#
#  Usage: tests/run.sh [ctest arguments, e.g. -L unit or -R envelope]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

started=$(date +%s)
#  how long each step took, for the run's log (CI has 20 minutes in all)
step () {
    echo "run.sh: $1 at $(($(date +%s) - started)) s"
}

./deploy/install-deps.sh --tests
step "dependencies installed"

#  Every build here treats warnings as errors (a plain cmake build only
#  warns, see CMakeLists.txt).
werror=-DCMAKE_COMPILE_WARNING_AS_ERROR=ON

#  The sanitizer build is GCC -O1 (Debug's -g with it): ASan's advice for
#  speed, and -O1 brings GCC's flow-based warnings to the tests and the
#  product (-O0 has only the front end's warnings, which every level has).
build=${JADUGAR_TEST_BUILD:-$top/build-tests}
cmake -S . -B "$build" -DJADUGAR_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O1" \
    $werror >/dev/null
cmake --build "$build" -j"$(nproc)"
step "sanitizer build done"

#  Valgrind, in CI: the decoders of what other hosts send over the network
#  (wire messages, signed envelopes), which run in the test process
#  itself; the rest (the engine's decisions, the daemons, the stores, the
#  archive and config parsers, which fuzz targets also run under ASan, the
#  attestation, key and policy parsers) is left to the sanitizer build:
#  valgrind's start in each of Criterion's workers (about 1 s of CPU a
#  test) costs CI's two cores more than its check adds there, and the
#  integration suite's PostgreSQL twins need that room.
#  JADUGAR_VALGRIND_ONLY= (empty) runs every unit test binary,
#  JADUGAR_VALGRIND=0 none.
valgrind_default="test_envelope test_wire"

full=no
[ $# -eq 0 ] && full=yes
fuzz_seconds=${JADUGAR_FUZZ_SECONDS:-10}
valgrind_on=${JADUGAR_VALGRIND:-1}

#  Beside the test run, at the lowest CPU priority (most tests wait on
#  sockets and timers, and get the CPU first), only for a full run unless
#  JADUGAR_BUILDS=0; the run fails if one of them does:
#  - every compiler and optimisation level: the flow-based warnings of GCC
#    (format-truncation, stringop-*, maybe-uninitialized) come only with
#    optimisation, clang's with clang. GCC -O1 is the build above (the
#    product and every test); GCC RelWithDebInfo (the product, and the
#    unit tests valgrind runs) is built here in build-gcc-relwithdebinfo;
#    clang builds the product, the tests and the fuzz targets in build-fuzz (ASan,
#    coverage instrumentation: tests/fuzz/run-fuzz.sh); GCC Release (-O3)
#    is package.build's (tests/package/build-packages.sh);
#  - valgrind on the unit tests of the GCC RelWithDebInfo build (below);
#  - the integration suite once more with the controllers' state in
#    PostgreSQL (the integration_pg label, tests/CMakeLists.txt) in the
#    GCC RelWithDebInfo build, beside one test server (tests/pg_run), at
#    full priority: its waits are timed;
#  - the fuzz targets, each for JADUGAR_FUZZ_SECONDS.
#  CI's two cores have no time for the whole suite twice more under the
#  sanitizers.
builds_pid=
if [ "$full" = yes ] && [ "${JADUGAR_BUILDS:-1}" != 0 ]; then
    (
        dir=$top/build-gcc-relwithdebinfo
        echo "build: gcc RelWithDebInfo in $dir"
        cmake -S . -B "$dir" -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            -DJADUGAR_TESTS=ON $werror >/dev/null || exit 1
        #  the product and the integration tests here, valgrind.sh builds
        #  its unit tests
        integration=$(for file in tests/integration/test_*.c; do
            name=${file##*/}
            echo "integration_${name%.c}"
        done)
        # shellcheck disable=SC2086 # the list of targets, split
        nice -n 10 cmake --build "$dir" -j"$(nproc)" --target jadugar-controller jadugar-agent \
            jadugar-apply jadctl pg_run jt_nocurve $integration >"$dir/build.log" 2>&1 || {
            cat "$dir/build.log"
            echo "build: gcc RelWithDebInfo FAILED"
            exit 1
        }
        step "build: gcc RelWithDebInfo done"
        #  but test_security's (keys, frames and sessions, most of it; run
        #  them with `ctest -L integration_pg`): CI's two cores have no
        #  room for them
        (cd "$dir" && ./tests/pg_run ctest --output-on-failure -j2 -L integration_pg \
            -E 'test_security\.[12]\.pg') >"$dir/pg.log" 2>&1 &
        pg_pid=$!
        nice -n 19 ./tests/fuzz/run-fuzz.sh --build >"$top/fuzz-build.log" 2>&1 || {
            cat "$top/fuzz-build.log"
            echo "build: clang (the product, the tests and the fuzz targets) FAILED"
            exit 1
        }
        step "build: clang, the product, the tests and the fuzz targets, done"
        if [ "$valgrind_on" != 0 ]; then
            #  the valgrind run's own build step finds it built
            JADUGAR_VALGRIND_ONLY=${JADUGAR_VALGRIND_ONLY-"$valgrind_default"} \
                nice -n 19 ./tests/valgrind.sh "$dir" || exit 1
            step "valgrind done"
        fi
        if [ "$fuzz_seconds" != 0 ]; then
            nice -n 19 ./tests/fuzz/run-fuzz.sh --run "$fuzz_seconds" || exit 1
            step "fuzzing done"
        fi
        wait "$pg_pid" || {
            cat "$dir/pg.log"
            echo "the integration suite on PostgreSQL FAILED"
            exit 1
        }
        tail -n 3 "$dir/pg.log"
        step "the integration suite on PostgreSQL done"
    ) >"$build/configs.log" 2>&1 &
    builds_pid=$!
    trap 'kill "$builds_pid" 2>/dev/null || true' EXIT
fi

#  The sanitizers' options (first report fails, leaks are errors) are the
#  tests' own (tests/CMakeLists.txt): a plain ctest uses them too.
#  One test more than cores: many tests spend most of their time waiting on
#  sockets, timers and other processes.
#  The integration suite's PostgreSQL twins run beside (above) when the
#  other builds do.
[ -n "$builds_pid" ] && set -- -LE integration_pg "$@"
(cd "$build" && ctest --output-on-failure -j"$(($(nproc) + 1))" "$@")

step "tests done"

if [ -n "$builds_pid" ]; then
    status=0
    wait "$builds_pid" || status=$?
    trap - EXIT
    cat "$build/configs.log"
    [ "$status" -eq 0 ] || { echo "build: a compiler, level, valgrind or a fuzz target failed (above)" >&2; exit 1; }
    step "builds, valgrind and fuzzing done"
elif [ "$full" = yes ] && [ "$valgrind_on" != 0 ]; then
    #  JADUGAR_BUILDS=0: valgrind in a build of its own, after the tests
    JADUGAR_VALGRIND_ONLY=${JADUGAR_VALGRIND_ONLY-"$valgrind_default"} \
        ./tests/valgrind.sh "${JADUGAR_VALGRIND_BUILD:-$top/build-valgrind}"
    step "valgrind done"
fi

#  Fuzzing: each libFuzzer target briefly, only for a full run unless
#  JADUGAR_FUZZ_SECONDS=0 (beside the tests above when it could be).
if [ "$full" = yes ] && [ "$fuzz_seconds" != 0 ] && [ -z "$builds_pid" ]; then
    ./tests/fuzz/run-fuzz.sh "$fuzz_seconds"
    step "fuzzing done"
fi
