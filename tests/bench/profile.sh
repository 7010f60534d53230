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

. "$top/tests/bench/lib.sh"
bench_workdir jadprofile JADPROFILE_KEEP
jadctl () { "$build/controller/jadctl" "$@"; }
bench_controller "$build/controller/jadugar-controller" bench
"$build/controller/jadugar-controller" run --data "$work/controller" > "$work/controller.log" 2>&1 &
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
bench_small_releases "$build/controller/jadctl" app
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
ticks=$(cpu_ticks "$cpid")
: > "$work/fanout.txt"
for round in $(seq 1 "$rounds"); do
    plan=$(deploy $((round % 2 + 1)))
    grep "^acked $plan " "$work/sim.out" | awk '{ print $4 }' >> "$work/fanout.txt"
    [ $((round % 5)) -eq 0 ] && echo "round $round: controller RSS $(rss)"
done
ticks=$(($(cpu_ticks "$cpid") - ticks))
case "$profile" in perf*) kill -INT "$recorder"; wait "$recorder" || true ;; esac
echo "controller CPU per round: $((ticks * 1000 / $(getconf CLK_TCK) / rounds)) ms"
echo "fan-out per round (ms): $(tr '\n' ' ' < "$work/fanout.txt")"
[ -n "$profile" ] && echo "profile: $out"
exit 0
