#!/bin/bash
#  profile.sh - profile the controller (and the simulated fleet) during
#  plan fan-out rounds
#  SPDX-License-Identifier: MPL-2.0
#
#  Usage: tests/bench/profile.sh [N] [ROUNDS]          (default 1000 agents, 10 rounds)
#  Environment:
#    JADBENCH_BUILD=DIR  binaries (default build-bench, as run.sh builds it)
#    PROFILE=perf        perf record the controller with call graphs
#    PROFILE=perf-all    perf record the whole machine (which thread uses the cores)
#    PROFILE_OUT=FILE    where the profile goes (default /tmp/jadugar-profile.*)
#
#  Starts a real controller and N simulated agents (one jadsim process),
#  runs ROUNDS deploys (each on a settled controller), and prints the
#  controller's RSS after the join and every 5 rounds, its CPU per round,
#  the fan-out per round, and where the profile went. Then read it with
#  `perf report -i FILE`. (For the controller's heap, run it by hand under
#  `heaptrack -o FILE` and read `heaptrack_print -f FILE.zst`.)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
count=${1:-1000}
rounds=${2:-10}
build=${JADBENCH_BUILD:-$top/build-bench}
profile=${PROFILE:-}
out=${PROFILE_OUT:-/tmp/jadugar-profile.${profile:-none}}
for binary in controller/jadugar-controller controller/jadctl tests/bench/jadsim; do
    [ -x "$build/$binary" ] || { echo "profile: $build/$binary is missing (run tests/bench/run.sh once, or set JADBENCH_BUILD)" >&2; exit 2; }
done
case "$profile" in
    ''|perf|perf-all) ;;
    *) echo "profile: PROFILE='$profile' is not perf or perf-all" >&2; exit 2 ;;
esac
case "$profile" in perf*) command -v perf >/dev/null || { echo "profile: perf is not installed (apt-get install linux-perf)" >&2; exit 2; } ;; esac

shm=/dev/shm
[ -d "$shm" ] && [ -w "$shm" ] || shm=${TMPDIR:-/tmp}
work=$(mktemp -d "$shm/jadprofile.XXXXXX")
pids=()
cleanup () {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
jadctl () { "$build/controller/jadctl" "$@"; }
wait_for () {                       #  TIMEOUT_S COMMAND...
    local deadline=$(($(date +%s) + $1))
    shift
    until "$@"; do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

port=$((20000 + RANDOM % 12000))
while ss -ltn 2> /dev/null | grep -qE ":($port|$((port + 1))|$((port + 2))|$((port + 3)))\b"; do
    port=$((20000 + RANDOM % 12000))
done
"$build/controller/jadugar-controller" init --data "$work/c" --port "$port" > "$work/init.txt"
key () { sed -n "s/^$1: //p" "$work/init.txt"; }
export JADUGAR_CONFIG
JADUGAR_CONFIG=$(key admin-config)
sed -i '/^environments:/a\  bench: { strategy: all }' "$work/c/controller.yaml"
"$build/controller/jadugar-controller" run --data "$work/c" > "$work/c.log" 2>&1 &
pids+=("$!")
cpid=$!
"$build/tests/bench/jadsim" --controller "127.0.0.1:$port" --controller-key "$(key curve-key)" \
    --signing-key "$(key signing-key)" --token "$(key enroll-token)" --env bench \
    --count "$count" --prefix sim --state "$work/sim" --root "$work/sim-root" --apply switch \
    > "$work/sim.out" 2> "$work/sim.err" &
pids+=("$!")
rss () { awk '/^VmRSS:/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$cpid/status"; }
online () { [ "$(jadctl --json status --env bench 2>/dev/null | grep -c '"state": "online"')" -ge "$count" ]; }
wait_for 300 online || { echo "profile: the agents did not all come online" >&2; exit 1; }
echo "joined: controller RSS $(rss)"
mkdir -p "$work/rel"
printf 'hooks: {}\n' > "$work/rel/jadugar.yaml"
tar -C "$work/rel" -czf "$work/small.tar.gz" .
jadctl release add app 1 "$work/small.tar.gz" > /dev/null
jadctl release add app 2 "$work/small.tar.gz" > /dev/null
settled () {
    jadctl --json plans --env bench 2>/dev/null | tr -d ' \n' | grep -o "\"id\":\"$1\"[^}]*" |
        grep -q '"state":"succeeded"'
}
deploy () {
    local plan
    plan=$(jadctl --json deploy app "$1" --env bench | sed -n 's/.*"id": "\([^"]*\)".*/\1/p' | head -n 1)
    wait_for 60 settled "$plan" || { echo "profile: plan $plan did not succeed" >&2; exit 1; }
    echo "$plan"
}
deploy 1 > /dev/null                #  warm-up
case "$profile" in
    perf) perf record -F 999 -g --call-graph dwarf,16384 -o "$out" -p "$cpid" 2> /dev/null & ;;
    perf-all) perf record -F 999 -g -a -o "$out" 2> /dev/null & ;;
esac
recorder=$!
ticks=$(awk '{ print $14 + $15 }' "/proc/$cpid/stat")
: > "$work/fanout.txt"
for round in $(seq 1 "$rounds"); do
    plan=$(deploy $((round % 2 + 1)))
    grep "^acked $plan " "$work/sim.out" | awk '{ print $4 }' >> "$work/fanout.txt"
    [ $((round % 5)) -eq 0 ] && echo "round $round: controller RSS $(rss)"
done
ticks=$(($(awk '{ print $14 + $15 }' "/proc/$cpid/stat") - ticks))
case "$profile" in perf*) kill -INT "$recorder"; wait "$recorder" || true ;; esac
echo "controller CPU per round: $((ticks * 1000 / $(getconf CLK_TCK) / rounds)) ms"
echo "fan-out per round (ms): $(tr '\n' ' ' < "$work/fanout.txt")"
[ -n "$profile" ] && echo "profile: $out"
exit 0
