#!/bin/sh
#  run.sh - install what is missing, build with sanitizers, run every test
#  SPDX-License-Identifier: MPL-2.0
#
#  Usage: tests/run.sh [ctest arguments, e.g. -L unit or -R envelope]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

./deploy/install-deps.sh --tests

build=${JADUGAR_TEST_BUILD:-$top/build-tests}
cmake -S . -B "$build" -DJADUGAR_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j"$(nproc)"

#  Sanitizers: fail on the first report; leaks are errors.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
(cd "$build" && ctest --output-on-failure -j"$(nproc)" "$@")

#  Valgrind: the unit test binaries, in a build of their own without
#  sanitizers, only for a full run unless JADUGAR_VALGRIND=0.
if [ $# -eq 0 ] && [ "${JADUGAR_VALGRIND:-1}" != 0 ]; then
    ./tests/valgrind.sh "${JADUGAR_VALGRIND_BUILD:-$top/build-valgrind}"
fi

#  Fuzzing: each libFuzzer target briefly (clang, separate build dir), only
#  for a full run (no ctest arguments) unless JADUGAR_FUZZ_SECONDS=0.
if [ $# -eq 0 ] && [ "${JADUGAR_FUZZ_SECONDS:-20}" != 0 ]; then
    ./tests/fuzz/run-fuzz.sh "${JADUGAR_FUZZ_SECONDS:-20}"
fi
