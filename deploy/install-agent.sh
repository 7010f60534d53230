#!/bin/sh
#  install-agent.sh - install and enrol a Jadugar agent on this host
#  SPDX-License-Identifier: MPL-2.0
#
#  Usage: deploy/install-agent.sh --controller HOST:PORT --controller-key KEY
#             --signing-key KEY --env ENV [--token TOKEN] [--name NAME]
#             [--root DIR] [--hook-user USER] [--data DIR]
#             [--package FILE.deb | --binary FILE] [--no-start]
#
#  1. installs the jadugar-agent package (--package FILE.deb, or a package
#     built next to this script in build-pkg/, or the one already installed)
#     or, with --binary, just the binary (and its apply helper
#     jadugar-apply, which must sit beside it) plus the systemd unit;
#  2. runs `jadugar-agent init` once (a host already set up for the same
#     controller and environment is left as it is: running this again is
#     safe);
#  3. checks the configuration, enables and starts jadugar-agent.service.
#  The values come from `jadugar-controller init` (or install-controller.sh):
#  endpoint, curve-key, signing-key, enroll-token.
#  Exit status: 0 done, 1 a step failed, 2 bad arguments.
set -eu

me=install-agent
usage="usage: deploy/install-agent.sh --controller HOST:PORT --controller-key KEY
       --signing-key KEY --env ENV [--token TOKEN] [--name NAME] [--root DIR]
       [--hook-user USER] [--data DIR] [--package FILE.deb | --binary FILE] [--no-start]"

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

controller="" controller_key="" signing_key="" env="" token="" name=""
root=/srv/jadugar hook_user=jadugar data=/var/lib/jadugar/agent
package="" binary="" start=yes
while [ $# -gt 0 ]; do
    option=$1
    case $option in
        --no-start) start=no; shift; continue ;;
        -h|--help) echo "$usage"; exit 0 ;;
        --controller|--controller-key|--signing-key|--env|--token|--name|--root|\
        --hook-user|--data|--package|--binary)
            [ $# -ge 2 ] || bad "$option needs a value"
            value=$2
            shift 2 ;;
        *) bad "unknown argument '$option'" ;;
    esac
    case $option in
        --controller) controller=$value ;;
        --controller-key) controller_key=$value ;;
        --signing-key) signing_key=$value ;;
        --env) env=$value ;;
        --token) token=$value ;;
        --name) name=$value ;;
        --root) root=$value ;;
        --hook-user) hook_user=$value ;;
        --data) data=$value ;;
        --package) package=$value ;;
        --binary) binary=$value ;;
    esac
done

#  Every argument is checked before anything is changed.
valid_name () {
    printf '%s' "$1" | grep -Eq '^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$'
}
[ -n "$controller" ] || bad "--controller HOST:PORT is required"
host=${controller%:*}
port=${controller##*:}
if [ "$host" = "$controller" ] || [ -z "$host" ] ||
    ! printf '%s' "$port" | grep -Eq '^[0-9]{1,5}$' || [ "$port" -lt 1 ] || [ "$port" -gt 65532 ]; then
    bad "--controller '$controller' is not HOST:PORT (the controller's base port, e.g. deploy.example.com:7400)"
fi
[ -n "$controller_key" ] || bad "--controller-key KEY is required (curve-key from jadugar-controller init)"
if [ ${#controller_key} -ne 40 ] ||
    ! printf '%s' "$controller_key" | grep -Eq '^[]0-9A-Za-z.:+=^!/*?&<>()@{}%$#[-]+$'; then
    bad "--controller-key is not a 40-character Z85 CURVE public key (curve-key from jadugar-controller init)"
fi
[ -n "$signing_key" ] || bad "--signing-key KEY is required (signing-key from jadugar-controller init)"
printf '%s' "$signing_key" | grep -Eq '^[0-9a-fA-F]{64}$' ||
    bad "--signing-key is not 64 hex digits (signing-key from jadugar-controller init)"
[ -n "$env" ] || bad "--env ENV is required (dev, staging, prod ...)"
valid_name "$env" || bad "--env '$env' is not a valid name ([A-Za-z0-9._-], 1-64)"
if [ -n "$name" ]; then
    valid_name "$name" || bad "--name '$name' is not a valid name ([A-Za-z0-9._-], 1-64)"
fi
if [ -n "$token" ]; then
    printf '%s' "$token" | grep -Eq '^[!-~]{1,256}$' ||
        bad "--token must be 1-256 printable characters without spaces"
fi
case $root in /*) ;; *) bad "--root '$root' is not an absolute path" ;; esac
case $data in /*) ;; *) bad "--data '$data' is not an absolute path" ;; esac
valid_name "$hook_user" || bad "--hook-user '$hook_user' is not a valid user name"
[ -z "$package" ] || [ -z "$binary" ] || bad "--package and --binary exclude each other"
[ -z "$package" ] || [ -f "$package" ] || bad "--package '$package': no such file"
[ -z "$binary" ] || [ -x "$binary" ] || bad "--binary '$binary': not an executable file"
helper=""
[ -z "$binary" ] || helper=$(dirname "$binary")/jadugar-apply
[ -z "$helper" ] || [ -x "$helper" ] ||
    bad "--binary '$binary': its apply helper $helper is missing (build it with the agent)"

[ "$(id -u)" -eq 0 ] || fail "run me as root (I install a package and a system service)"
here=$(cd "$(dirname "$0")" && pwd)
systemd=no
[ -d /run/systemd/system ] && systemd=yes

#  1. the package or the binary
agent=/usr/bin/jadugar-agent
if [ -n "$binary" ]; then
    install -m 0755 "$binary" /usr/local/bin/jadugar-agent
    #  the agent runs its helper from <bin>/../lib/jadugar/
    install -d -m 0755 /usr/local/lib/jadugar
    install -m 0755 "$helper" /usr/local/lib/jadugar/jadugar-apply
    agent=/usr/local/bin/jadugar-agent
    sed "s|/usr/bin/jadugar-agent|$agent|g" "$here/systemd/jadugar-agent.service" \
        > /etc/systemd/system/jadugar-agent.service
    getent group jadugar >/dev/null || addgroup --quiet --system jadugar
    getent passwd jadugar >/dev/null || adduser --quiet --system --ingroup jadugar \
        --home /var/lib/jadugar --no-create-home --shell /usr/sbin/nologin jadugar
    install -d -m 0755 -o jadugar -g jadugar /var/lib/jadugar
    install -d -m 0755 /etc/jadugar /srv/jadugar
    say "installed $agent, /usr/local/lib/jadugar/jadugar-apply and /etc/systemd/system/jadugar-agent.service"
else
    if [ -z "$package" ]; then
        for candidate in "$here"/../build-pkg/jadugar-agent_*.deb; do
            [ -f "$candidate" ] && package=$candidate
        done
    fi
    if [ -n "$package" ]; then
        say "installing $package"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$(cd "$(dirname "$package")" && pwd)/$(basename "$package")" >/dev/null ||
            fail "apt-get could not install $package"
    elif dpkg-query -W -f='${Status}' jadugar-agent 2>/dev/null | grep -q "ok installed"; then
        say "package jadugar-agent is installed"
    else
        fail "no jadugar-agent package: pass --package FILE.deb (build it with: cmake -S . -B build-pkg -DCMAKE_BUILD_TYPE=Release -DJADUGAR_TESTS=OFF && cmake --build build-pkg && (cd build-pkg && cpack -G DEB)) or --binary FILE"
    fi
fi
[ -x "$agent" ] || fail "$agent is missing after the installation"
getent passwd "$hook_user" >/dev/null ||
    fail "--hook-user '$hook_user' does not exist on this host (create it, or pass another)"
mkdir -p "$root"

#  2. init, once
if [ -f "$data/agent.yaml" ]; then
    grep -q "^controller: \"$controller\"\$" "$data/agent.yaml" &&
        grep -q "^environment: \"$env\"\$" "$data/agent.yaml" ||
        fail "$data is already set up for another controller or environment; to enrol again: stop jadugar-agent, remove $data, run me again"
    say "$data is already set up for $controller ($env): leaving it as it is"
else
    set -- --data "$data" --controller "$controller" --controller-key "$controller_key" \
        --signing-key "$signing_key" --env "$env" --root "$root" --hook-user "$hook_user"
    [ -n "$name" ] && set -- "$@" --name "$name"
    [ -n "$token" ] && set -- "$@" --token "$token"
    "$agent" init "$@" || fail "jadugar-agent init failed"
fi
"$agent" check --data "$data" >/dev/null || {
    "$agent" check --data "$data" >&2 || true
    fail "the configuration in $data has problems (above)"
}
if [ "$data" != /var/lib/jadugar/agent ]; then
    if grep -q '^JADUGAR_DATA=' /etc/jadugar/agent.env 2>/dev/null; then
        sed -i "s|^JADUGAR_DATA=.*|JADUGAR_DATA=$data|" /etc/jadugar/agent.env
    else
        echo "JADUGAR_DATA=$data" >> /etc/jadugar/agent.env
    fi
fi

#  3. the service
if [ "$start" = no ]; then
    say "done; not started (--no-start). Start it with: systemctl enable --now jadugar-agent"
elif [ "$systemd" = yes ]; then
    systemctl daemon-reload
    systemctl enable --now jadugar-agent.service >/dev/null 2>&1 ||
        fail "systemctl could not start jadugar-agent (see: journalctl -u jadugar-agent)"
    say "jadugar-agent is enabled and running (journalctl -u jadugar-agent -f)"
else
    say "systemd is not running here: start the agent with"
    say "  $agent run --data $data --syslog"
fi
say "on the controller, \`jadctl status\` lists this host once it has connected"
