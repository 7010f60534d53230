#!/bin/sh
#  install-controller.sh - install and start a Jadugar controller on this host
#  SPDX-License-Identifier: MPL-2.0
#
#  Usage: deploy/install-controller.sh [--listen ADDR] [--port BASE]
#             [--advertise HOST] [--data DIR]
#             [--package FILE.deb | --binary FILE] [--no-start]
#
#  1. installs the jadugar-controller package (and jadctl: --package FILE.deb,
#     or the packages built next to this script in build-pkg/, or those
#     already installed) or, with --binary, just the binary and the unit;
#  2. runs `jadugar-controller init` once, as the jadugar user, in DIR
#     (default /var/lib/jadugar/controller); its output is kept in
#     DIR/install.txt (0600) so that running this again prints it again;
#  3. checks the configuration, enables and starts the service, and prints
#     the line to install an agent and the jadctl client file to use.
#  Exit status: 0 done, 1 a step failed, 2 bad arguments.
set -eu

me=install-controller
usage="usage: deploy/install-controller.sh [--listen ADDR] [--port BASE] [--advertise HOST]
       [--data DIR] [--package FILE.deb | --binary FILE] [--no-start]"

bad () {
    echo "$me: $*" >&2
    echo "$usage" >&2
    exit 2
}
fail () {
    echo "$me: $*" >&2
    exit 1
}
say () { echo "$me: $*"; }

listen=0.0.0.0 port=7400 advertise="" data=/var/lib/jadugar/controller
package="" binary="" start=yes
while [ $# -gt 0 ]; do
    option=$1
    case $option in
        --no-start) start=no; shift; continue ;;
        -h|--help) echo "$usage"; exit 0 ;;
        --listen|--port|--advertise|--data|--package|--binary)
            [ $# -ge 2 ] || bad "$option needs a value"
            value=$2
            shift 2 ;;
        *) bad "unknown argument '$option'" ;;
    esac
    case $option in
        --listen) listen=$value ;;
        --port) port=$value ;;
        --advertise) advertise=$value ;;
        --data) data=$value ;;
        --package) package=$value ;;
        --binary) binary=$value ;;
    esac
done

printf '%s' "$listen" | grep -Eq '^[0-9A-Za-z.:*-]{1,255}$' ||
    bad "--listen '$listen' is not an address (e.g. 0.0.0.0 or 10.0.0.5)"
if ! printf '%s' "$port" | grep -Eq '^[0-9]{1,5}$' || [ "$port" -lt 1 ] || [ "$port" -gt 65532 ]; then
    bad "--port '$port' is not a base port (1-65532; BASE..BASE+3 are used)"
fi
if [ -n "$advertise" ]; then
    printf '%s' "$advertise" | grep -Eq '^[0-9A-Za-z.:-]{1,255}$' ||
        bad "--advertise '$advertise' is not a host name or address"
fi
case $data in /*) ;; *) bad "--data '$data' is not an absolute path" ;; esac
[ -z "$package" ] || [ -z "$binary" ] || bad "--package and --binary exclude each other"
[ -z "$package" ] || [ -f "$package" ] || bad "--package '$package': no such file"
[ -z "$binary" ] || [ -x "$binary" ] || bad "--binary '$binary': not an executable file"

[ "$(id -u)" -eq 0 ] || fail "run me as root (I install a package and a system service)"
here=$(cd "$(dirname "$0")" && pwd)
systemd=no
[ -d /run/systemd/system ] && systemd=yes
absolute () { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }

#  1. the packages or the binary
controller=/usr/bin/jadugar-controller
if [ -n "$binary" ]; then
    install -m 0755 "$binary" /usr/local/bin/jadugar-controller
    controller=/usr/local/bin/jadugar-controller
    sed "s|/usr/bin/jadugar-controller|$controller|g" \
        "$here/systemd/jadugar-controller.service" > /etc/systemd/system/jadugar-controller.service
    getent group jadugar >/dev/null || addgroup --quiet --system jadugar
    getent passwd jadugar >/dev/null || adduser --quiet --system --ingroup jadugar \
        --home /var/lib/jadugar --no-create-home --shell /usr/sbin/nologin jadugar
    install -d -m 0755 -o jadugar -g jadugar /var/lib/jadugar
    install -d -m 0755 /etc/jadugar
    say "installed $controller and /etc/systemd/system/jadugar-controller.service"
else
    packages=""
    if [ -n "$package" ]; then
        packages=$(absolute "$package")
        for candidate in "$(dirname "$packages")"/jadctl_*.deb; do
            [ -f "$candidate" ] && packages="$packages $candidate"
        done
    else
        for candidate in "$here"/../build-pkg/jadugar-controller_*.deb "$here"/../build-pkg/jadctl_*.deb; do
            [ -f "$candidate" ] && packages="$packages $(absolute "$candidate")"
        done
    fi
    if [ -n "$packages" ]; then
        say "installing$(for file in $packages; do printf ' %s' "$(basename "$file")"; done)"
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null ||
            fail "apt-get could not install $packages"
    elif dpkg-query -W -f='${Status}' jadugar-controller 2>/dev/null | grep -q "ok installed"; then
        say "package jadugar-controller is installed"
    else
        fail "no jadugar-controller package: pass --package FILE.deb (build it with: cmake -S . -B build-pkg -DCMAKE_BUILD_TYPE=Release -DJADUGAR_TESTS=OFF && cmake --build build-pkg && (cd build-pkg && cpack -G DEB)) or --binary FILE"
    fi
fi
[ -x "$controller" ] || fail "$controller is missing after the installation"

#  2. init, once, as the user the service runs as
if [ -f "$data/controller.yaml" ]; then
    say "$data is already initialised: leaving it as it is"
else
    install -d -m 0755 -o jadugar -g jadugar "$(dirname "$data")"
    runuser -u jadugar -- "$controller" init --data "$data" --listen "$listen" --port "$port" \
        > "$data.init.$$" || { rm -f "$data.init.$$"; fail "jadugar-controller init failed"; }
    install -m 0600 -o jadugar -g jadugar "$data.init.$$" "$data/install.txt"
    rm -f "$data.init.$$"
fi
runuser -u jadugar -- "$controller" check --data "$data" >/dev/null || {
    runuser -u jadugar -- "$controller" check --data "$data" >&2 || true
    fail "the configuration in $data has problems (above)"
}
if [ "$data" != /var/lib/jadugar/controller ]; then
    if grep -q '^JADUGAR_DATA=' /etc/jadugar/controller.env 2>/dev/null; then
        sed -i "s|^JADUGAR_DATA=.*|JADUGAR_DATA=$data|" /etc/jadugar/controller.env
    else
        echo "JADUGAR_DATA=$data" >> /etc/jadugar/controller.env
    fi
fi

#  3. the service
if [ "$start" = no ]; then
    say "not started (--no-start). Start it with: systemctl enable --now jadugar-controller"
elif [ "$systemd" = yes ]; then
    systemctl daemon-reload
    systemctl enable --now jadugar-controller.service >/dev/null 2>&1 ||
        fail "systemctl could not start jadugar-controller (see: journalctl -u jadugar-controller)"
    say "jadugar-controller is enabled and running (journalctl -u jadugar-controller -f)"
else
    say "systemd is not running here: start the controller with"
    say "  runuser -u jadugar -- $controller run --data $data --syslog"
fi

value () { sed -n "s/^$1: //p" "$data/install.txt" 2>/dev/null | head -1; }
[ -n "$advertise" ] || advertise=$(hostname -f 2>/dev/null || hostname)
port=$(sed -n 's/^port: *//p' "$data/controller.yaml" | head -1)
echo
cat "$data/install.txt" 2>/dev/null || true
echo
echo "To use jadctl here (as root):"
echo "  export JADUGAR_CONFIG=$data/admin.jadctl.yaml"
echo "To install an agent on a host (with the jadugar-agent package next to it):"
echo "  deploy/install-agent.sh --controller $advertise:$port --controller-key '$(value curve-key)' \\"
echo "      --signing-key $(value signing-key) --env ENV --token $(value enroll-token)"
