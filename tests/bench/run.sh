#!/bin/bash
#  run.sh - Jadugar's benchmarks against a raw-ZeroMQ baseline
#  SPDX-License-Identifier: MPL-2.0
#
#  Usage: tests/bench/run.sh [N]            N simulated agents (default 1000)
#         tests/bench/run.sh --smoke BUILD  a small, quick run with the
#                                           binaries of BUILD (a ctest)
#
#  Builds the controller, agent, jadctl, the fleet simulator (jadsim) and the
#  baseline (zmqbase) in Release, starts a real controller, N simulated
#  agents with real CURVE keys and signature checks, and prints one table.
#  Every figure stands beside its raw-ZeroMQ baseline from the same run.
#
#  Large fleets (docs/performance.md, "10,000 agents"): at most 2,500
#  simulated agents per process (each holds two sockets: two connections
#  and two mailbox descriptors, and libzmq's socket limit is raised to
#  match), so N = 10,000 runs four simulators; when the controller's
#  descriptor limit (the hard `ulimit -n`, which only CAP_SYS_RESOURCE can
#  raise) cannot hold two connections per agent, the simulated agents and
#  the baseline's receivers hold one each, their DEALER (plans travel
#  there since protocol 2; JADBENCH_DEALER_ONLY=1 forces it at any N).
#  JADBENCH_JOIN_SPREAD=MS paces the join: each simulated agent connects
#  first at a random time within MS. JADBENCH_VERBOSE=1: the controller
#  logs at debug level (how long sending each plan took).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)

smoke=0
count=1000
rounds=20
bulk_hosts=100
bulk_mb=10
idle_seconds=60
metric_agents=50
metric_rate=8000          #  samples/s per agent offered: 400k/s in all
metric_seconds=10
sim_procs=$(nproc)        #  simulator processes for the fleet
if [ "${1:-}" = "--smoke" ]; then
    smoke=1
    build=${2:?usage: run.sh --smoke BUILD_DIR}
    count=20
    rounds=3
    bulk_hosts=5
    bulk_mb=1
    idle_seconds=3
    metric_agents=5
    metric_rate=2000
    metric_seconds=3
else
    count=${1:-1000}
    case "$count" in
        '' | *[!0-9]*) echo "usage: run.sh [N] (N a number of agents)" >&2; exit 2 ;;
    esac
    #  JADBENCH_BUILD=DIR runs the binaries already built in DIR (to compare builds).
    build=${JADBENCH_BUILD:-$top/build-bench}
    if [ -z "${JADBENCH_BUILD:-}" ]; then
        "$top/deploy/install-deps.sh" --tests
        cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DJADUGAR_SANITIZE=OFF \
            -DJADUGAR_TESTS=ON >/dev/null
        cmake --build "$build" -j"$(nproc)" --target jadugar-controller jadugar-agent jadctl \
            jadsim zmqbase >/dev/null
    fi
fi
per_proc=2500                                    #  simulated agents per process at most
sim_procs=$(( (count + per_proc - 1) / per_proc ))
base_procs=$sim_procs                            #  the baseline's receiver processes
[ "$sim_procs" -ge "$(nproc)" ] || sim_procs=$(nproc)
[ "$count" -lt 5000 ] || [ "$smoke" = 1 ] || rounds=5    #  < 10 minutes at N = 10,000
fd_limit=$(ulimit -Hn)
[ "$fd_limit" = unlimited ] && fd_limit=1048576
#  the controller keeps an eighth of its descriptors in reserve (ctl_sessions)
dealer_only=${JADBENCH_DEALER_ONLY:-0}
[ $((2 * count + 512)) -le $((fd_limit * 7 / 8)) ] || dealer_only=1
join_spread=${JADBENCH_JOIN_SPREAD:-0}
#  The controller's libzmq I/O threads (czmq reads ZSYS_IO_THREADS): one
#  per core, as the controller itself takes on this machine (its log:
#  "server: io-threads=N"; ctl_sessions_io_threads), and one per 2,500
#  agents beyond. libzmq 4.3.4 cancels a timer by walking all of its I/O
#  thread's timers, and every connection's ZMTP heartbeat cancels one per
#  interval: with one thread that is O(N^2) and saturates it near 5,000
#  agents (docs/performance.md, "From 100 to 10,000 agents"). The
#  baseline's server side gets as many.
ctl_io_threads=$(( (count + per_proc - 1) / per_proc ))
[ "$ctl_io_threads" -ge "$(nproc)" ] || ctl_io_threads=$(nproc)
ctl_io_threads=${JADBENCH_IO_THREADS:-$ctl_io_threads}
sim_flags=(--join-spread "$join_spread")
base_flags=(--procs "$base_procs" --io-threads "$ctl_io_threads")
if [ "$dealer_only" = 1 ]; then
    sim_flags+=(--no-sub)
    base_flags+=(--direct)
fi
controller_bin="$build/controller/jadugar-controller"
agent_bin="$build/agent/jadugar-agent"
jadctl_bin="$build/controller/jadctl"
jadsim="$build/tests/bench/jadsim"
zmqbase="$build/tests/bench/zmqbase"

. "$top/tests/bench/lib.sh"
bench_workdir jadbench JADBENCH_KEEP

rss_anon_kib () { awk '/^RssAnon:/ { print $2 }' "/proc/$1/status"; }

echo "== machine"
echo "host: $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2/1048576 }' /proc/meminfo)"
echo "cpu: $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
echo "agents: $count simulated ($sim_procs processes, real CURVE keys, Ed25519 verify per agent,"
echo "        per-agent sequence state in a SQLite WAL database per process, apply = switch of a"
echo "        release already on disk in tmpfs, or a real fetch+unpack for the bulk deploy)"
if [ "$dealer_only" = 1 ]; then
    echo "shape: one connection per agent (DEALER only; descriptor limit $fd_limit per process)"
else
    echo "shape: two connections per agent (SUB and DEALER)"
fi
echo "join spread: $join_spread ms; controller I/O threads: $ctl_io_threads"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

#  -------------------------------------------------------------------------
if [ "$dealer_only" = 1 ]; then
    echo "== baseline: raw ZeroMQ ROUTER -> $count DEALERs and their acks ($base_procs processes)"
else
    echo "== baseline: raw ZeroMQ PUB -> $count SUB + DEALER acks ($base_procs processes)"
fi
free_port
"$zmqbase" --port "$port" --count "$count" --rounds "$rounds" "${base_flags[@]}" > "$work/base.txt"
free_port
"$zmqbase" --port "$port" --count "$count" --rounds "$rounds" "${base_flags[@]}" --curve \
    > "$work/base-curve.txt"
free_port
"$zmqbase" --port "$port" --count "$count" --rounds "$rounds" "${base_flags[@]}" --zap \
    > "$work/base-zap.txt"
base_line=$(grep '^baseline' "$work/base.txt")
curve_line=$(grep '^baseline' "$work/base-curve.txt")
zap_line=$(grep '^baseline' "$work/base-zap.txt")
echo "plain: $base_line"
echo "curve+ed25519: $curve_line"
echo "curve+ed25519+zap: $zap_line"
value () { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }

#  -------------------------------------------------------------------------
echo "== controller and $count simulated agents"
#  An environment for the simulated fleet, one for the bulk deploy, one
#  for the idle real agent, one for metrics ingestion.
bench_controller "$controller_bin" bench bulk idle metrics
jadctl () { "$jadctl_bin" "$@"; }
#  JADBENCH_VERBOSE=1: the controller logs at debug level (each plan's
#  sending time: "plans: sent ... took=MSms")
ZSYS_IO_THREADS=$ctl_io_threads "$controller_bin" run --data "$work/controller" \
    ${JADBENCH_VERBOSE:+--verbose} > "$work/controller.log" 2>&1 &
controller_pid=$!
pids+=("$controller_pid")

#  The idle real agent, measured over the whole run.
"$agent_bin" init --data "$work/idle-agent" --controller "127.0.0.1:$port" \
    --controller-key "$(key curve-key)" --signing-key "$(key signing-key)" \
    --token "$(key enroll-token)" --env idle \
    --name idle-1 --root "$work/idle-root" >/dev/null
"$agent_bin" run --data "$work/idle-agent" > "$work/idle-agent.log" 2>&1 &
idle_pid=$!
pids+=("$idle_pid")

#  The fleet is spread over one simulator process per core (and at most
#  $per_proc agents per process): real agents verify a plan in parallel on
#  their own hosts, one process would do all N checks one after another.
wait_for 30 jadctl status >/dev/null 2>&1 || { echo "the controller did not start" >&2; exit 1; }
join_start=$(now_ms)
join_ticks_start=$(cpu_ticks "$controller_pid")
for proc in $(seq 1 "$sim_procs"); do
    share=$(( count / sim_procs + (proc <= count % sim_procs ? 1 : 0) ))
    "$jadsim" --controller "127.0.0.1:$port" --controller-key "$(key curve-key)" \
        --signing-key "$(key signing-key)" --token "$(key enroll-token)" --env bench \
        --count "$share" --prefix "sim$proc" --state "$work/sim$proc" --root "$work/sim-root" \
        --apply switch "${sim_flags[@]}" > "$work/sim-$proc.out" 2> "$work/sim-$proc.err" &
    pids+=("$!")
done
#  A plan is done when every simulator printed its line for it; its time
#  is the slowest simulator's (plan_done, plan_time: lib.sh). Each round
#  starts on a settled controller (plan_settled): the previous plan is
#  recorded as finished (its last reports are stored), so a round measures
#  one fan-out, not the tail of the round before it.
online () {
    [ "$(jadctl --json status --env bench 2>/dev/null | grep -c '"state": "online"')" -ge "$count" ]
}
#  Every simulator prints "joined" once all its agents are accepted (a
#  cheap wait: the status of N agents is not); then the controller says
#  they are online.
sims_joined () { [ "$(cat "$work"/sim-*.out 2>/dev/null | grep -c '^joined ')" -ge "$sim_procs" ]; }
wait_for $((300 + count * 30 / 1000)) sims_joined || { echo "agents were not all accepted" >&2; exit 1; }
wait_for 120 online || { echo "agents did not all come online" >&2; exit 1; }
join_ms=$(($(now_ms) - join_start))
join_cpu_us=$(( ($(cpu_ticks "$controller_pid") - join_ticks_start) * 1000000 / $(getconf CLK_TCK) / count ))
#  an agent's first connection to its enrollment reply: the worst simulator's p50 and p99
enroll_p50=$(grep -h '^joined ' "$work"/sim-*.out | awk '$5 > m { m = $5 } END { print m + 0 }')
enroll_p99=$(grep -h '^joined ' "$work"/sim-*.out | awk '$7 > m { m = $7 } END { print m + 0 }')
echo "all $count agents online after $join_ms ms (controller CPU $join_cpu_us us per agent)"
sleep 1
idle_ticks_start=$(cpu_ticks "$idle_pid")
idle_start=$(now_ms)

#  The rounds' first look for the plan's end comes after a quiet pause:
#  the simulators time a plan themselves (issued_at to their last ack), and
#  a harness that forks cat, grep and date every 200 ms meanwhile takes
#  the cores from them (about a tenth in the fan-out window at N = 1000,
#  measured with `perf record -a`), which the baseline's run does not
#  have. The pause, count/4 ms (at least 300), is longer than a round.
quiet_ms=$(( count / 4 > 300 ? count / 4 : 300 ))
quiet () { sleep "$((quiet_ms / 1000)).$(printf %03d $((quiet_ms % 1000)))"; }

#  A small release for the fan-out rounds.
bench_small_releases "$jadctl_bin" app

#  -------------------------------------------------------------------------
echo "== plan fan-out: $rounds deploys to $count agents"
#  One warm-up round first, as the baseline has (first plan after the
#  join: cold caches, every host's first plan row).
plan=$(jadctl --json deploy app 1 --env bench | sed -n 's/.*"id": "\([^"]*\)".*/\1/p' | head -n 1)
wait_for 60 plan_done "$plan" || { echo "warm-up plan $plan did not finish" >&2; exit 1; }
wait_for 60 plan_settled "$plan" || { echo "warm-up plan $plan never succeeded" >&2; exit 1; }
fan_ticks_start=$(cpu_ticks "$controller_pid")
: > "$work/fanout.txt"
for round in $(seq 1 "$rounds"); do
    version=$((round % 2 + 1))
    plan=$(jadctl --json deploy app "$version" --env bench | sed -n 's/.*"id": "\([^"]*\)".*/\1/p' | head -n 1)
    quiet
    wait_for 60 plan_done "$plan" || { echo "round $round: plan $plan did not finish" >&2; exit 1; }
    plan_time acked "$plan" >> "$work/fanout.txt"
    wait_for 60 plan_settled "$plan" || { echo "round $round: plan $plan never succeeded" >&2; exit 1; }
done
fan_cpu_ms=$(( ($(cpu_ticks "$controller_pid") - fan_ticks_start) * 1000 / $(getconf CLK_TCK) / rounds ))
echo "fan-out per round (ms): $(tr '\n' ' ' < "$work/fanout.txt")"
fan_p50=$(percentile 50 < "$work/fanout.txt")
fan_p99=$(percentile 99 < "$work/fanout.txt")

#  -------------------------------------------------------------------------
echo "== environment-wide switch to a release on disk, $count agents"
#  Versions 1 and 2 are both on disk now; every round switches all hosts.
: > "$work/switch.txt"
for round in 1 2 3 4 5; do
    version=$((round % 2 + 1))
    plan=$(jadctl --json deploy app "$version" --env bench | sed -n 's/.*"id": "\([^"]*\)".*/\1/p' | head -n 1)
    quiet
    wait_for 60 plan_done "$plan" || { echo "switch round $round did not finish" >&2; exit 1; }
    plan_time healthy "$plan" >> "$work/switch.txt"
    wait_for 60 plan_settled "$plan" || { echo "switch round $round never succeeded" >&2; exit 1; }
done
switch_p50=$(percentile 50 < "$work/switch.txt")
switch_p99=$(percentile 99 < "$work/switch.txt")

#  -------------------------------------------------------------------------
echo "== controller RSS and status latency with $count agents"
controller_rss=$(rss_kib "$controller_pid")
: > "$work/status.txt"
for run in 1 2 3 4 5 6 7 8 9 10; do
    start=$(now_ms)
    jadctl --json status > /dev/null
    echo $(($(now_ms) - start)) >> "$work/status.txt"
done
status_p50=$(percentile 50 < "$work/status.txt")
status_p99=$(percentile 99 < "$work/status.txt")

#  -------------------------------------------------------------------------
echo "== full deploy of a ${bulk_mb} MB release to $bulk_hosts hosts"
"$jadsim" --controller "127.0.0.1:$port" --controller-key "$(key curve-key)" \
    --signing-key "$(key signing-key)" --token "$(key enroll-token)" --env bulk \
    --count "$bulk_hosts" --prefix bulk \
    --state "$work/bulk" --root "$work/bulk-root" --apply unpack "${sim_flags[@]}" \
    > "$work/bulk.out" 2> "$work/bulk.err" &
pids+=("$!")
bulk_online () {
    [ "$(jadctl --json status --env bulk 2>/dev/null | grep -c '"state": "online"')" -ge "$bulk_hosts" ]
}
wait_for 120 bulk_online || { echo "bulk agents did not come online" >&2; exit 1; }
mkdir -p "$work/big"
printf 'hooks: {}\n' > "$work/big/jadugar.yaml"
head -c $((bulk_mb * 1024 * 1024)) /dev/urandom > "$work/big/payload.bin"
tar -C "$work/big" -czf "$work/big.tar.gz" .
jadctl release add big 1 "$work/big.tar.gz" >/dev/null
bytes_before=$(jadctl --json status | sed -n 's/.*"bytes_sent": \([0-9]*\).*/\1/p')
bulk_start=$(now_ms)
jadctl deploy big 1 --env bulk --wait > "$work/bulk-deploy.txt"
bulk_ms=$(($(now_ms) - bulk_start))
bytes_after=$(jadctl --json status | sed -n 's/.*"bytes_sent": \([0-9]*\).*/\1/p')
bulk_bytes=$((bytes_after - bytes_before))
artifact_bytes=$(stat -c %s "$work/big.tar.gz")

#  -------------------------------------------------------------------------
echo "== metrics ingestion: $metric_agents agents offering $((metric_agents * metric_rate)) samples/s"
samples_total () { bench_samples_total $((port + 3)); }
"$jadsim" --controller "127.0.0.1:$port" --controller-key "$(key curve-key)" \
    --signing-key "$(key signing-key)" --token "$(key enroll-token)" --env metrics \
    --count "$metric_agents" --prefix metric --state "$work/metric" --root "$work/metric-root" \
    --metrics-rate "$metric_rate" "${sim_flags[@]}" > "$work/metric.out" 2> "$work/metric.err" &
metric_pid=$!
pids+=("$metric_pid")
metric_online () {
    [ "$(jadctl --json status --env metrics 2>/dev/null | grep -c '"state": "online"')" -ge "$metric_agents" ]
}
wait_for 120 metric_online || { echo "metric agents did not come online" >&2; exit 1; }
sleep 2                                   #  past the first burst
samples_before=$(samples_total)
ticks_before=$(cpu_ticks "$controller_pid")
ingest_start=$(now_ms)
sleep "$metric_seconds"
samples_after=$(samples_total)
ingest_ms=$(($(now_ms) - ingest_start))
ingest_ticks=$(($(cpu_ticks "$controller_pid") - ticks_before))
kill "$metric_pid" 2>/dev/null || true
ingest_rate=$(awk -v n="$((samples_after - samples_before))" -v ms="$ingest_ms" 'BEGIN { printf "%d", n / (ms / 1000) }')
ingest_cpu=$(awk -v t="$ingest_ticks" -v hz="$(getconf CLK_TCK)" -v ms="$ingest_ms" 'BEGIN { printf "%.0f", 100 * t / hz / (ms / 1000) }')

#  -------------------------------------------------------------------------
elapsed=$(($(now_ms) - idle_start))
if [ "$elapsed" -lt $((idle_seconds * 1000)) ]; then
    sleep $(( (idle_seconds * 1000 - elapsed + 999) / 1000 ))
fi
idle_ms=$(($(now_ms) - idle_start))
idle_ticks=$(($(cpu_ticks "$idle_pid") - idle_ticks_start))
hz=$(getconf CLK_TCK)
idle_cpu=$(awk -v t="$idle_ticks" -v hz="$hz" -v ms="$idle_ms" 'BEGIN { printf "%.3f", 100 * t / hz / (ms / 1000) }')
idle_rss=$(rss_kib "$idle_pid")
idle_anon=$(rss_anon_kib "$idle_pid")

#  -------------------------------------------------------------------------
echo "== controller restart: the fleet reconnects"
#  Every connection comes back at once (each socket's reconnect interval
#  and libzmq's jitter spread them): the storm a restart causes. Done when
#  the ZAP handler has let in as many connections as there are (the fleet,
#  the bulk simulator, the idle agent); more than that means handshakes
#  that failed and started again.
events_total () { bench_events_total $((port + 3)) "$1"; }
per_agent=2
[ "$dealer_only" = 0 ] || per_agent=1
connections=$(( (count + bulk_hosts) * per_agent + 2 ))
rejoined () { [ "$(events_total zap_allowed || echo 0)" -ge "$connections" ] 2>/dev/null; }
kill -TERM "$controller_pid"
wait "$controller_pid" 2>/dev/null || true
rejoin_start=$(now_ms)
ZSYS_IO_THREADS=$ctl_io_threads "$controller_bin" run --data "$work/controller" \
    >> "$work/controller.log" 2>&1 &
controller_pid=$!
pids+=("$controller_pid")
rejoin_ticks_start=$(cpu_ticks "$controller_pid")
wait_for 300 rejoined || { echo "the fleet did not reconnect" >&2; exit 1; }
rejoin_ms=$(($(now_ms) - rejoin_start))
rejoin_cpu_us=$(( ($(cpu_ticks "$controller_pid") - rejoin_ticks_start) * 1000000 / $(getconf CLK_TCK) / (count + bulk_hosts) ))
sleep 2
rejoin_extra=$(( $(events_total zap_allowed) - connections ))
echo "$connections connections back after $rejoin_ms ms ($rejoin_extra handshakes more)"

#  -------------------------------------------------------------------------
kib_mib () { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
echo
echo "== results (N = $count; times in ms; load average at end $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-44s %-26s %-30s %s\n' "measure" "jadugar" "baseline (same run)" "target"
printf '%-44s %-26s %-30s %s\n' "plan fan-out to all acked, p50 / p99" \
    "$fan_p50 / $fan_p99" \
    "zmq $(echo "$base_line" | value p50) / $(echo "$base_line" | value p99); curve+sig $(echo "$curve_line" | value p50) / $(echo "$curve_line" | value p99)" \
    "p99 < 200"
printf '%-44s %-26s %-30s %s\n' "  controller CPU per deploy round" "$fan_cpu_ms" "-" "-"
printf '%-44s %-26s %-30s %s\n' "env-wide switch to release on disk, p50 / p99" \
    "$switch_p50 / $switch_p99" "zmq round trip $(echo "$base_line" | value p50)" "< 1000"
printf '%-44s %-26s %-30s %s\n' "deploy ${bulk_mb} MB to $bulk_hosts hosts, all healthy" \
    "$bulk_ms" "-" "-"
printf '%-44s %-26s %-30s %s\n' "  controller bytes sent" \
    "$bulk_bytes" "$((artifact_bytes * bulk_hosts)) (artifact x hosts)" "-"
printf '%-44s %-26s %-30s %s\n' "controller RSS with $count agents" \
    "$(kib_mib "$controller_rss")" \
    "zmq $(kib_mib "$(echo "$base_line" | value rss_kib)"); curve $(kib_mib "$(echo "$curve_line" | value rss_kib)"); +zap $(kib_mib "$(echo "$zap_line" | value rss_kib)")" \
    "< 64 MiB"
printf '%-44s %-26s %-30s %s\n' "idle agent RSS / RssAnon" \
    "$(kib_mib "$idle_rss") / $(kib_mib "$idle_anon")" "-" "< 12 MiB / < 4 MiB"
printf '%-44s %-26s %-30s %s\n' "idle agent CPU over ${idle_seconds} s" "${idle_cpu}%" "-" "< 0.1%"
printf '%-44s %-26s %-30s %s\n' "jadctl status --json, p50 / p99" \
    "$status_p50 / $status_p99" "-" "-"
printf '%-44s %-26s %-30s %s\n' "agents joined, all online" "$join_ms" \
    "curve+zap handshakes $(echo "$zap_line" | value join_ms)" "-"
printf '%-44s %-26s %-30s %s\n' "  controller CPU per joining agent, us" "$join_cpu_us" \
    "curve+zap server $(echo "$zap_line" | value join_cpu_us)" "-"
printf '%-44s %-26s %-30s %s\n' "  connect to enrollment reply, p50 / p99" \
    "$enroll_p50 / $enroll_p99" "-" "-"
printf '%-44s %-26s %-30s %s\n' "controller restart, all reconnected" "$rejoin_ms" \
    "$connections connections" "-"
printf '%-44s %-26s %-30s %s\n' "  controller CPU per reconnecting agent, us" "$rejoin_cpu_us" \
    "-" "-"
printf '%-44s %-26s %-30s %s\n' "  handshakes beyond one per connection" "$rejoin_extra" "-" "-"
printf '%-44s %-26s %-30s %s\n' "metrics ingestion, samples/s stored" "$ingest_rate" \
    "offered $((metric_agents * metric_rate))" ">= 200000/s"
printf '%-44s %-26s %-30s %s\n' "  controller CPU while ingesting" "${ingest_cpu}%" "-" "-"

#  The smoke run checks that every figure came out.
if [ "$smoke" = 1 ]; then
    for figure in "$fan_p50" "$fan_p99" "$switch_p50" "$bulk_ms" "$controller_rss" "$idle_rss" \
        "$status_p50" "$samples_after" "$join_cpu_us" "$enroll_p99" "$rejoin_ms"; do
        case "$figure" in
            ''|-) echo "bench smoke: a figure is missing" >&2; exit 1 ;;
        esac
    done
    grep -q "plan .* succeeded" "$work/bulk-deploy.txt" || { echo "bulk deploy failed" >&2; exit 1; }
    echo "bench smoke: ok"
fi
