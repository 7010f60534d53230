#!/bin/sh
#  install-deps.sh - install the Debian packages Jadugar builds and tests with
#  SPDX-License-Identifier: MPL-2.0
#
#  Installs only what is missing; needs root (or sudo) when something is.
#  Usage: deploy/install-deps.sh [--tests]
set -eu

packages="build-essential cmake pkg-config git tar gzip ca-certificates
libzmq3-dev libczmq-dev libprotobuf-c-dev protobuf-c-compiler libsodium-dev
libsqlite3-dev libarchive-dev libfyaml-dev libjansson-dev libcurl4-openssl-dev
libssl-dev libmicrohttpd-dev libpq-dev tzdata"
#  tzdata: the controller reads environments' time zones from /usr/share/zoneinfo
if [ "${1:-}" = "--tests" ]; then
    #  package tests: cpack + dpkg-shlibdeps (dpkg-dev, file), systemd-analyze, man;
    #  iproute2 (ss) for the benchmarks; netns fault tests: iproute2 (ip netns,
    #  tc), iptables (random drops when the kernel has no netem), faketime
    #  (agent clock skew); valgrind for the unit tests; clang for the clang
    #  build and the fuzz targets; util-linux (flock) for the test port locks;
    #  openssl (an independent Ed25519 signer for the release-check tests);
    #  postgresql-15 (the store tests start a PostgreSQL of their own);
    #  python3-aiosmtpd (the SMTP sink the email notification tests send to)
    packages="$packages libcriterion-dev clang-format clang libclang-rt-14-dev sqlite3
    dpkg-dev file systemd man-db iproute2 curl prometheus chromium
    iptables faketime valgrind util-linux openssl postgresql-15 python3-aiosmtpd"
fi

missing=""
for package in $packages; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $package"
    fi
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
else
    echo "install-deps: these packages are missing and I am not root:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
