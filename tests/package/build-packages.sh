#!/bin/sh
#  build-packages.sh - build the Debian packages for the package tests
#  SPDX-License-Identifier: MPL-2.0
#
#  Usage: tests/package/build-packages.sh SOURCE_DIR BUILD_DIR
#  The documented command (README), into its own Release build directory:
#  packages are never made from the sanitizer build the tests use.
set -eu
source_dir=$1
build_dir=$2
rm -f "$build_dir"/*.deb
cmake -S "$source_dir" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DJADUGAR_TESTS=OFF >/dev/null
cmake --build "$build_dir" -j2 >/dev/null
cd "$build_dir"
cpack -G DEB >/dev/null
ls "$build_dir"/jadugar-controller_*.deb "$build_dir"/jadugar-agent_*.deb "$build_dir"/jadctl_*.deb
