#!/bin/sh
#  quickstart.sh - build Jadugar and run a local demo fleet
#  SPDX-License-Identifier: MPL-2.0
#
#  Starts a controller and three agents (dev, staging, prod) on loopback,
#  ships a sample release through dev -> staging -> prod, shows the fleet
#  and prod's release calendar, rolls a schema change back on staging on
#  its own (db-rollback) under an incident it opens, notes, closes and
#  reports, then deploys a broken release that fails its smoke test and
#  one whose error rate makes the controller roll dev back. Everything is
#  left running. Running it again restarts the demo.
#
#  Usage: deploy/quickstart.sh [--stop]
#  Environment: JADUGAR_DEMO_DIR (default /tmp/jadugar-demo),
#               JADUGAR_PORT (default 7400),
#               JADUGAR_BUILD_DIR (default build/ in the source tree),
#               JADUGAR_NO_BUILD=1 (use the binaries already in the build
#               directory: no package installation, no build)
#
#  --stop (and a restart) signal only the demo's own processes: a pid from
#  run/NAME.pid is signalled only while /proc/PID/cmdline is exactly the
#  command this script started (the demo's binary, `run --data` and that
#  host's data directory in the demo). A stale pid file, or a pid the
#  system has given to another process since, is reported and left alone.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
demo=${JADUGAR_DEMO_DIR:-/tmp/jadugar-demo}
port=${JADUGAR_PORT:-7400}
build=${JADUGAR_BUILD_DIR:-$top/build}
case $build in /*) ;; *) build="$PWD/$build" ;; esac
controller_bin="$build/controller/jadugar-controller"
agent_bin="$build/agent/jadugar-agent"

say () { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

#  The command line run/NAME.pid must belong to, NUL-separated as in
#  /proc/PID/cmdline (one argument a line here).
expected_cmdline () {
    case $1 in
        controller) printf '%s\nrun\n--data\n%s\n' "$controller_bin" "$demo/controller" ;;
        *) printf '%s\nrun\n--data\n%s\n' "$agent_bin" "$demo/hosts/$1/agent" ;;
    esac
}

#  Is PID (a number) the demo process NAME? Prints nothing.
is_ours () {
    [ -r "/proc/$1/cmdline" ] || return 1
    [ "$(tr '\0' '\n' < "/proc/$1/cmdline" 2>/dev/null)" = "$(expected_cmdline "$2")" ]
}

#  The pids of the demo's processes still running, "NAME:PID" a word;
#  reports and forgets pid files that point elsewhere.
demo_pids () {
    for pidfile in "$demo"/run/*.pid; do
        [ -f "$pidfile" ] || continue
        name=$(basename "$pidfile" .pid)
        pid=$(cat "$pidfile" 2>/dev/null || true)
        case $pid in
            ''|*[!0-9]*)
                echo "quickstart: $pidfile holds '$pid', not a pid; removing the file" >&2
                rm -f "$pidfile"
                continue ;;
        esac
        if is_ours "$pid" "$name"; then
            echo "$name:$pid"
        else
            if [ -r "/proc/$pid/cmdline" ]; then
                echo "quickstart: $pidfile: pid $pid is not the demo's $name ($(tr '\0' ' ' < "/proc/$pid/cmdline" | cut -c1-80)); leaving it alone" >&2
            else
                echo "quickstart: $pidfile: pid $pid is gone (stale pid file)" >&2
            fi
            rm -f "$pidfile"
        fi
    done
}

stop_demo () {
    [ -d "$demo/run" ] || return 0
    running=$(demo_pids)
    for entry in $running; do
        kill "${entry#*:}" 2>/dev/null || true
    done
    #  daemons stop cleanly on SIGTERM; give them 15 s, then SIGKILL
    #  whichever of ours is left (checked again: pids get reused)
    tries=0
    while [ $tries -lt 150 ]; do
        left=""
        for entry in $running; do
            is_ours "${entry#*:}" "${entry%%:*}" && left="$left $entry"
        done
        [ -n "$left" ] || break
        tries=$((tries + 1))
        sleep 0.1
    done
    for entry in $running; do
        if is_ours "${entry#*:}" "${entry%%:*}"; then
            echo "quickstart: ${entry%%:*} (pid ${entry#*:}) did not stop on SIGTERM; killing it" >&2
            kill -9 "${entry#*:}" 2>/dev/null || true
        fi
        rm -f "$demo/run/${entry%%:*}.pid"
    done
}

if [ "${1:-}" = "--stop" ]; then
    stop_demo
    echo "quickstart: demo stopped (its files stay in $demo)"
    exit 0
fi
if [ $# -gt 0 ]; then
    echo "usage: deploy/quickstart.sh [--stop]" >&2
    exit 2
fi

if [ "${JADUGAR_NO_BUILD:-}" != 1 ]; then
    say "Installing missing packages"
    "$top/deploy/install-deps.sh"

    say "Building"
    cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJADUGAR_TESTS=OFF >/dev/null
    cmake --build "$build" -j"$(nproc)" >/dev/null
fi
for binary in "$controller_bin" "$agent_bin" "$build/controller/jadctl"; do
    if [ ! -x "$binary" ]; then
        echo "quickstart: $binary is missing (build first, or unset JADUGAR_NO_BUILD)" >&2
        exit 1
    fi
done
jadctl="$build/controller/jadctl"

say "Starting a fresh demo in $demo"
stop_demo
rm -rf "$demo"
mkdir -p "$demo/run" "$demo/logs" "$demo/releases"

"$controller_bin" init --data "$demo/controller" --port "$port" > "$demo/controller.init"
cat "$demo/controller.init"
value () { sed -n "s/^$1: //p" "$demo/controller.init"; }
signing_key=$(value signing-key)
curve_key=$(value curve-key)
endpoint=$(value endpoint)
enroll_token=$(value enroll-token)
JADUGAR_CONFIG=$(value admin-config)
export JADUGAR_CONFIG
#  The demo heartbeats fast so that status reacts quickly.
sed -i 's/^heartbeat: 5s/heartbeat: 1s/' "$demo/controller/controller.yaml"
#  ... and bakes prod's canary for 10 seconds instead of 10 minutes.
sed -i 's/^    bake: 10m/    bake: 10s/' "$demo/controller/controller.yaml"
#  Production releases every other Tuesday at 10:00 Berlin time: a release
#  added with --branch main waits for that slot (deploys by hand do not).
sed -i '/^    track: main$/a\
    auto_deploy: true\
    timezone: Europe/Berlin\
    schedule: "every 2 weeks Tue 10:00 from 2026-12-08"' "$demo/controller/controller.yaml"
#  Roll dev back by itself when a release raises the error rate after a
#  deploy: a rule in init's `alerts:` list (beside its security rule).
rule='  - { env: dev, metric: http_error_rate, above: 0.05, for: 3s, window: 3s, min_samples: 2, action: rollback }'
if grep -q '^alerts:$' "$demo/controller/controller.yaml"; then
    sed -i "/^alerts:\$/a\\
$rule" "$demo/controller/controller.yaml"
else
    printf 'alerts:\n%s\n' "$rule" >> "$demo/controller/controller.yaml"
fi
"$controller_bin" check --data "$demo/controller" >/dev/null

"$controller_bin" run --data "$demo/controller" > "$demo/logs/controller.log" 2>&1 &
echo $! > "$demo/run/controller.pid"

for host in dev-1:dev staging-1:staging prod-1:prod; do
    name=${host%%:*}
    env=${host#*:}
    "$agent_bin" init --data "$demo/hosts/$name/agent" --controller "$endpoint" \
        --controller-key "$curve_key" --signing-key "$signing_key" --env "$env" \
        --name "$name" --root "$demo/hosts/$name/srv" --token "$enroll_token" >/dev/null
    sed -i 's/^heartbeat: .*/heartbeat: 1s/' "$demo/hosts/$name/agent/agent.yaml"
    "$agent_bin" run --data "$demo/hosts/$name/agent" > "$demo/logs/$name.log" 2>&1 &
    echo $! > "$demo/run/$name.pid"
done

say "Waiting for three agents"
tries=0
until [ "$("$jadctl" status --json 2>/dev/null | grep -c '"state": "online"')" -ge 3 ]; do
    tries=$((tries + 1))
    if [ $tries -gt 60 ]; then
        echo "quickstart: agents did not come online; see $demo/logs/" >&2
        exit 1
    fi
    sleep 0.5
done
"$jadctl" status

make_release () {                   #  VERSION [broken-reason [error-rate]]
    dir="$demo/releases/hello-$1"
    mkdir -p "$dir"
    cp -R "$top/deploy/demo/hello/." "$dir/"
    echo "$1" > "$dir/VERSION"
    [ -n "${2:-}" ] && echo "$2" > "$dir/BROKEN"
    [ -n "${3:-}" ] && echo "$3" > "$dir/ERROR_RATE"
    tar -C "$dir" -czf "$demo/releases/hello-$1.tar.gz" .
}

say "Adding release hello 1.0"
make_release 1.0
"$jadctl" release add hello 1.0 "$demo/releases/hello-1.0.tar.gz" --branch main
for env in dev staging prod; do
    say "Deploying hello 1.0 to $env"
    "$jadctl" deploy hello 1.0 --env "$env" --wait
done

say "Fleet status"
"$jadctl" status

say "prod's release calendar (schedule: every 2 weeks Tue 10:00, Europe/Berlin)"
"$jadctl" schedule --env prod --count 3

say "A schema change on staging: hello 1.0.1 adds a column (its migrate_up)"
make_release 1.0.1
"$jadctl" release add hello 1.0.1 "$demo/releases/hello-1.0.1.tar.gz"
"$jadctl" deploy hello 1.0.1 --env staging --wait
schema="$demo/hosts/staging-1/srv/hello/shared/schema"
echo "staging's schema: $(tr '\n' ' ' < "$schema")"

say "The new column breaks the reports: an incident, and the schema goes back to 1.0"
"$jadctl" incident open --env staging --since 10m \
    "reports fail after hello 1.0.1's schema change" | tee "$demo/incident.txt"
incident=$(sed -n 's/^incident: //p' "$demo/incident.txt")
"$jadctl" incident note "$incident" "1.0.1's code is fine: roll back only its migration"
if "$jadctl" db-rollback hello --env staging --to 1.0; then
    echo "quickstart: db-rollback under an active 1.0.1 was not refused" >&2
    exit 1
else
    echo "(refused, exit $?: 1.0.1 is active on staging; --force says we know it copes)"
fi
"$jadctl" db-rollback hello --env staging --to 1.0 --force --wait
echo "staging's schema: $(tr '\n' ' ' < "$schema")(the code stays 1.0.1)"
"$jadctl" incident note "$incident" "schema back to 1.0, reports work again"
"$jadctl" incident close "$incident"

say "The incident's post-mortem: jadctl incident report $incident"
"$jadctl" incident report "$incident"

say "Deploying a broken release hello 1.1 to dev (its smoke test fails)"
make_release 1.1 "database connection refused"
#  (no --branch develop here: dev tracks develop with auto_deploy, so that
#  would start the deploy by itself; we want to --wait on it)
"$jadctl" release add hello 1.1 "$demo/releases/hello-1.1.tar.gz"
if "$jadctl" deploy hello 1.1 --env dev --wait; then
    echo "quickstart: the broken release was not caught" >&2
    exit 1
else
    echo "(deploy exited $? as expected: dev-1 rolled itself back to 1.0)"
fi

say "Fleet status after the rollback"
"$jadctl" status

#  The id of dev's newest rollback plan ("" if none): plans are newest first.
newest_rollback () {
    "$jadctl" --json plans --env dev | tr -d ' \n' |
        grep -o '"id":"[^"]*","kind":"rollback"' |
        head -n 1 | sed 's/^"id":"\([^"]*\)".*/\1/'
}

say "Deploying hello 1.2 to dev: its smoke test passes, but its error rate is 30%"
make_release 1.2 "" 0.3
"$jadctl" release add hello 1.2 "$demo/releases/hello-1.2.tar.gz"
#  (1.1's failed deploy was rolled back too: wait for a rollback after it)
before=$(newest_rollback)
"$jadctl" deploy hello 1.2 --env dev --wait
say "Waiting for the controller to notice (rule: avg http_error_rate > 0.05 for 3s)"
tries=0
until rollback=$(newest_rollback) && [ -n "$rollback" ] && [ "$rollback" != "$before" ]; do
    tries=$((tries + 1))
    if [ $tries -gt 120 ]; then
        echo "quickstart: the controller did not roll dev back; see $demo/logs/" >&2
        exit 1
    fi
    sleep 0.5
done
"$jadctl" plan show "$rollback"
"$jadctl" alerts

#  --stop must see the same demo and build directories as this run
again=""
[ -z "${JADUGAR_DEMO_DIR:-}" ] || again="JADUGAR_DEMO_DIR=$demo "
[ -z "${JADUGAR_BUILD_DIR:-}" ] || again="${again}JADUGAR_BUILD_DIR=$build "
cat <<MSG

The demo fleet is running. To use jadctl against it:

    export JADUGAR_CONFIG=$JADUGAR_CONFIG
    export PATH=$build/controller:\$PATH
    jadctl status
    jadctl plans
    jadctl release list
    jadctl alerts
    jadctl metrics --env dev --name http_error_rate --since 10m
    jadctl metrics --env prod --name smoke_ok --since 10m   # smoke test every 10s
    jadctl schedule             # the coming release slots
    jadctl incident list        # the rollback of hello 1.2 opened one
    jadctl incident report ID   # its post-mortem timeline, Markdown
    jadctl plans --env staging  # the db-rollback is a plan of its own

The status page is at http://127.0.0.1:$((port + 3))/ (and /metrics for Prometheus).

Logs are in $demo/logs/. Stop the demo with:

    ${again}$top/deploy/quickstart.sh --stop

(run quickstart.sh again to restart it from scratch).
MSG
