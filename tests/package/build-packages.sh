#!/bin/sh
#  build-packages.sh - build the Debian packages for the package tests
#  SPDX-License-Identifier: MPL-2.0
#
#  Usage: tests/package/build-packages.sh SOURCE_DIR BUILD_DIR [WERROR]
#  The documented command (README), into its own Release build directory:
#  packages are never made from the sanitizer build the tests use. WERROR
#  ON (as tests/run.sh builds): warnings are errors, so this is also the
#  run's GCC -O3 build.
set -eu
source_dir=$1
build_dir=$2
werror=${3:-OFF}
rm -f "$build_dir"/*.deb
cmake -S "$source_dir" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DJADUGAR_TESTS=OFF \
    -DCMAKE_COMPILE_WARNING_AS_ERROR="$werror" >/dev/null
#  a failed build shows its errors (and nothing when it succeeds)
cmake --build "$build_dir" -j2 >"$build_dir/build.log" 2>&1 || {
    cat "$build_dir/build.log"
    exit 1
}
cd "$build_dir"
cpack -G DEB >/dev/null
ls "$build_dir"/jadugar-controller_*.deb "$build_dir"/jadugar-agent_*.deb "$build_dir"/jadctl_*.deb
