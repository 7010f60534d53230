#!/bin/sh
#  install-agent.sh - install and enrol a Jadugar agent on this host
#  SPDX-License-Identifier: MPL-2.0
#
#  Usage: deploy/install-agent.sh --controller HOST:PORT --controller-key KEY
#             --signing-key KEY --env ENV [--token TOKEN] [--name NAME]
#             [--root DIR] [--hook-user USER] [--data DIR] [--instance NAME]
#             [--package FILE.deb | --binary FILE] [--no-start] [--dry-run]
#
#  One agent per host is jadugar-agent.service with its data in
#  /var/lib/jadugar/agent, releases under /srv/jadugar and settings in
#  /etc/jadugar/agent.env. Several agents on one host (another environment
#  or controller, another team) are instances: --instance NAME sets up
#  jadugar-agent@NAME.service with its own data dir
#  /var/lib/jadugar/agent@NAME, release root /srv/jadugar/@NAME, settings
#  /etc/jadugar/agent@NAME.env and agent name HOSTNAME-NAME (unless --data,
#  --root or --name say otherwise). Two agents never share a data dir or a
#  release root: that is refused. --dry-run checks everything and prints
#  what would be done, changing nothing.
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
       [--hook-user USER] [--data DIR] [--instance NAME]
       [--package FILE.deb | --binary FILE] [--no-start] [--dry-run]"

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
root="" hook_user=jadugar data="" instance=""
package="" binary="" start=yes dry_run=no
while [ $# -gt 0 ]; do
    option=$1
    case $option in
        --no-start) start=no; shift; continue ;;
        --dry-run) dry_run=yes; shift; continue ;;
        -h|--help) echo "$usage"; exit 0 ;;
        --controller|--controller-key|--signing-key|--env|--token|--name|--root|\
        --hook-user|--data|--package|--binary|--instance)
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
        --instance) instance=$value ;;
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
#  One agent, or instance NAME of several: its unit, settings and defaults.
if [ -n "$instance" ]; then
    printf '%s' "$instance" | grep -Eq '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$' ||
        bad "--instance '$instance' is not an instance name ([A-Za-z0-9_.-], 1-32, not starting with . or -)"
    unit="jadugar-agent@$instance.service"
    envfile="/etc/jadugar/agent@$instance.env"
    [ -n "$data" ] || data="/var/lib/jadugar/agent@$instance"
    [ -n "$root" ] || root="/srv/jadugar/@$instance"
    if [ -z "$name" ]; then
        name="$(uname -n)-$instance"
        valid_name "$name" ||
            bad "the agent name '$name' (HOSTNAME-INSTANCE) is not a valid name; pass --name NAME"
    fi
else
    unit=jadugar-agent.service
    envfile=/etc/jadugar/agent.env
    [ -n "$data" ] || data=/var/lib/jadugar/agent
    [ -n "$root" ] || root=/srv/jadugar
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

#  Every agent on this host: its data dir (from /etc/jadugar/agent*.env, or
#  the default) where an agent.yaml is; one a line.
other_agents () {
    {
        [ -f /var/lib/jadugar/agent/agent.yaml ] && echo /var/lib/jadugar/agent
        for dir in /var/lib/jadugar/agent@*; do
            [ -f "$dir/agent.yaml" ] && echo "$dir"
        done
        for file in /etc/jadugar/agent.env /etc/jadugar/agent@*.env; do
            [ -f "$file" ] || continue
            dir=$(sed -n 's/^JADUGAR_DATA=//p' "$file" | tail -n 1)
            [ -n "$dir" ] && [ -f "$dir/agent.yaml" ] && echo "$dir"
        done
    } | sort -u
}
#  Two agents must not share a release root: each switches ROOT/APP/current.
for other in $(other_agents); do
    [ "$other" = "$data" ] && continue
    if grep -qx "root: \"$root\"" "$other/agent.yaml" 2>/dev/null; then
        bad "the release root $root belongs to the agent in $other already; give this agent its own (--instance NAME, or --root DIR)"
    fi
done

if [ "$dry_run" = yes ]; then
    say "dry run: nothing is changed"
    if [ -n "$binary" ]; then say "would install $binary and its apply helper"
    elif [ -n "$package" ]; then say "would install $package"
    else say "would install (or use the installed) jadugar-agent package"; fi
    say "agent: ${name:-(the hostname)} in $env, controller $controller"
    say "data: $data"
    say "release root: $root"
    say "hook user: $hook_user"
    say "unit: $unit"
    say "settings: $envfile"
    [ -f "$data/agent.yaml" ] && say "$data is set up already: it would be checked and kept"
    exit 0
fi

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
    sed "s|/usr/bin/jadugar-agent|$agent|g" "$here/systemd/jadugar-agent@.service" \
        > /etc/systemd/system/jadugar-agent@.service
    getent group jadugar >/dev/null || addgroup --quiet --system jadugar
    getent passwd jadugar >/dev/null || adduser --quiet --system --ingroup jadugar \
        --home /var/lib/jadugar --no-create-home --shell /usr/sbin/nologin jadugar
    install -d -m 0755 -o jadugar -g jadugar /var/lib/jadugar
    install -d -m 0755 /etc/jadugar /srv/jadugar
    say "installed $agent, /usr/local/lib/jadugar/jadugar-apply and /etc/systemd/system/jadugar-agent{,@}.service"
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
if [ -n "$instance" ]; then
    found=no
    for dir in /etc/systemd/system /lib/systemd/system /usr/lib/systemd/system; do
        [ -f "$dir/jadugar-agent@.service" ] && found=yes
    done
    [ "$found" = yes ] ||
        fail "no jadugar-agent@.service unit on this host: the installed jadugar-agent package predates instances; install a newer one (--package FILE.deb)"
fi
getent passwd "$hook_user" >/dev/null ||
    fail "--hook-user '$hook_user' does not exist on this host (create it, or pass another)"
mkdir -p "$root"

#  2. init, once
if [ -f "$data/agent.yaml" ]; then
    if ! grep -q "^controller: \"$controller\"\$" "$data/agent.yaml" ||
        ! grep -q "^environment: \"$env\"\$" "$data/agent.yaml"; then
        fail "$data is already set up for another controller or environment. For a second agent on this host add --instance NAME (its own data dir, release root and unit jadugar-agent@NAME); to enrol this one again: stop ${unit%.service}, remove $data, run me again"
    fi
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
install -d -m 0755 /etc/jadugar
if [ -n "$instance" ] && [ ! -f "$envfile" ]; then
    cat > "$envfile" <<ENV
#  $envfile - settings of $unit
#  (written by install-agent.sh; yours to edit)
JADUGAR_DATA=$data
#  Extra options for \`jadugar-agent run\`, e.g. --verbose
JADUGAR_OPTS=
ENV
elif [ -n "$instance" ] || [ "$data" != /var/lib/jadugar/agent ]; then
    if grep -q '^JADUGAR_DATA=' "$envfile" 2>/dev/null; then
        sed -i "s|^JADUGAR_DATA=.*|JADUGAR_DATA=$data|" "$envfile"
    else
        echo "JADUGAR_DATA=$data" >> "$envfile"
    fi
fi

#  3. the service
if [ "$start" = no ]; then
    say "done; not started (--no-start). Start it with: systemctl enable --now $unit"
elif [ "$systemd" = yes ]; then
    systemctl daemon-reload
    systemctl enable --now "$unit" >/dev/null 2>&1 ||
        fail "systemctl could not start $unit (see: journalctl -u $unit)"
    say "$unit is enabled and running (journalctl -u $unit -f)"
else
    say "systemd is not running here: start the agent with"
    say "  $agent run --data $data --syslog"
fi
say "on the controller, \`jadctl status\` lists this host once it has connected"
