#!/bin/bash
#  failover.sh - two controllers on PostgreSQL: ingestion beside a COPY
#  floor, and a kill -9 of the leader under N simulated agents
#  SPDX-License-Identifier: MPL-2.0
#
#  Usage: tests/bench/failover.sh [N]             N simulated agents (default 1000)
#         tests/bench/failover.sh --smoke BUILD   a small, quick run with the
#                                                 binaries of BUILD (a ctest)
#  JADBENCH_BUILD=DIR runs the binaries already built in DIR;
#  JADBENCH_KEEP=1 keeps the work directory. JADBENCH_PG_STATEMENTS=1 loads
#  pg_stat_statements and prints the statements PostgreSQL ran from the
#  kill until all agents acknowledged, most called first (what the new
#  leader asks of the store per reconnecting agent).
#
#  Starts a PostgreSQL 15 of its own (initdb and postgres as the
#  `postgres` user when run as root, in a temp dir, on a free port, as
#  tests/support/jad_testpg.c does), two controllers on it the documented
#  way (init --store, export-keys, init --join: DESIGN §9), and N
#  simulated agents (jadsim) connected to both, as agents of a pair are
#  (agent.yaml `controller: H1:B1,H2:B2`: the agent's own link, signed
#  heartbeats read and their epoch checked). Then:
#  1. metrics ingestion on PostgreSQL: 50 simulated agents stream to the
#     leader at a fixed offered rate, as run.sh measures on SQLite; then a
#     COPY floor in the same run, against the same server: pgcopy writes
#     the same number of rows in the same batches (1000 samples over 20
#     series of one host, one COPY per batch, each its own transaction)
#     into a table LIKE the controller's `samples` (its identity key and
#     index included), partitioned by day as `samples` is on PostgreSQL
#     (yesterday, today, tomorrow and a DEFAULT partition). Ratio and
#     target (DESIGN §7: >= 70 %).
#  2. failover: once every agent acknowledged a plan, kill -9 the leader,
#     and measure from the kill: the standby's "leads" line; each agent's
#     first signed heartbeat of the new epoch (the first agent, p50, p99,
#     all); a plan deployed through the new leader as soon as it answers,
#     acknowledged by every agent ("all agents back and acknowledged").
#     Targets (DESIGN §7): first heartbeat < 5 s, all back and acked < 15 s.
#  Every process it started is stopped by its pid at exit, PostgreSQL
#  last, and the work directory removed, on success and on failure.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)

smoke=0
count=1000
metric_agents=50
metric_rate=8000          #  samples/s per agent offered: 400k/s in all
metric_seconds=10
metric_settle=2           #  s past the first burst before measuring
signed_heartbeat=         #  controller.yaml signed-heartbeat (empty: the default, 5 s)
if [ "${1:-}" = "--smoke" ]; then
    smoke=1
    build=${2:?usage: failover.sh --smoke BUILD_DIR}
    count=10
    metric_agents=2
    metric_rate=2000
    metric_seconds=1
    metric_settle=0
    #  the smoke checks that every figure comes out, not what they are:
    #  faster heartbeats shorten its waits
    signed_heartbeat=1s
else
    count=${1:-1000}
    case "$count" in
        '' | *[!0-9]* | 0) echo "usage: failover.sh [N] (N a number of agents)" >&2; exit 2 ;;
    esac
    build=${JADBENCH_BUILD:-$top/build-bench}
    if [ -z "${JADBENCH_BUILD:-}" ]; then
        "$top/deploy/install-deps.sh" --tests
        cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DJADUGAR_SANITIZE=OFF \
            -DJADUGAR_TESTS=ON >/dev/null
        cmake --build "$build" -j"$(nproc)" --target jadugar-controller jadctl jadsim pgcopy \
            >/dev/null
    fi
fi
per_proc=2500                                    #  simulated agents per process at most
sim_procs=$(( (count + per_proc - 1) / per_proc ))
[ "$sim_procs" -ge "$(nproc)" ] || sim_procs=$(nproc)
[ "$sim_procs" -le "$count" ] || sim_procs=$count
fd_limit=$(ulimit -Hn)
[ "$fd_limit" = unlimited ] && fd_limit=1048576
if [ $((2 * count + 512)) -gt $((fd_limit * 7 / 8)) ]; then
    echo "failover.sh: $count agents need two connections each, more than this descriptor limit ($fd_limit) holds" >&2
    exit 2
fi
controller_bin="$build/controller/jadugar-controller"
jadctl_bin="$build/controller/jadctl"
jadsim="$build/tests/bench/jadsim"
pgcopy="$build/tests/bench/pgcopy"
pg_bin=${JADUGAR_PG_BIN:-/usr/lib/postgresql/15/bin}
for binary in "$controller_bin" "$jadctl_bin" "$jadsim" "$pgcopy" "$pg_bin/initdb" "$pg_bin/postgres"; do
    [ -x "$binary" ] || { echo "failover.sh: $binary is missing" >&2; exit 2; }
done

. "$top/tests/bench/lib.sh"
bench_workdir jadfailover JADBENCH_KEEP
pg_pid=
#  The controllers and simulators first, then PostgreSQL (fast shutdown),
#  then the directory (bench_cleanup).
#  A process that has not ended 20 s after its signal gets SIGKILL.
stop_pids () {                      #  SIGNAL PID...
    local signal=$1 pid waited=0
    shift
    for pid in "$@"; do kill "-$signal" "$pid" 2>/dev/null || true; done
    for pid in "$@"; do
        while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 200 ]; do
            sleep 0.1
            waited=$((waited + 1))
        done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
failover_cleanup () {
    stop_pids TERM "${pids[@]}"
    pids=()
    [ -z "$pg_pid" ] || stop_pids INT "$pg_pid"
    bench_cleanup
}
trap failover_cleanup EXIT
#  interrupted or terminated: exit, so that the cleanup runs
trap 'exit 130' INT
trap 'exit 143' TERM
jadctl () { "$jadctl_bin" "$@"; }
fail () { echo "failover.sh: $*" >&2; exit 1; }
run_start=$(now_ms)
#  section TITLE: a header, with the seconds since the start
section () { echo "== $* (at $(( ($(now_ms) - run_start) / 1000 )) s)"; }

section "machine"
echo "host: $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2/1048576 }' /proc/meminfo)"
echo "cpu: $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
echo "agents: $count simulated ($sim_procs processes), each connected to both controllers"
echo "load average at start: $(loadavg)"

#  -------------------------------------------------------------------------
section "PostgreSQL"
#  PostgreSQL refuses to run as root: as the postgres user then, which
#  must be able to reach its directory.
#  setpriv execs the server: $! is the postmaster's pid.
as_pg=()
mkdir "$work/pg"
if [ "$(id -u)" = 0 ]; then
    as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups)
    chmod 711 "$work"
    chown postgres: "$work/pg"
fi
"${as_pg[@]}" "$pg_bin/initdb" -D "$work/pg/data" -U jadugar -A trust -E UTF8 --locale=C --no-sync \
    --no-instructions > "$work/pg/initdb.log" 2>&1 || { cat "$work/pg/initdb.log" >&2; fail "initdb failed"; }
free_port
pg_port=$port
pg_flags=(-c listen_addresses=127.0.0.1 -c max_connections=50)
statements=${JADBENCH_PG_STATEMENTS:-}
[ -z "$statements" ] || pg_flags+=(-c shared_preload_libraries=pg_stat_statements)
"${as_pg[@]}" "$pg_bin/postgres" -D "$work/pg/data" -p "$pg_port" -k "$work/pg" "${pg_flags[@]}" \
    > "$work/pg/postgres.log" 2>&1 &
pg_pid=$!
psql_ () { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U jadugar "$@"; }
wait_for 60 psql_ -d postgres -c 'SELECT 1' >/dev/null 2>&1 ||
    { cat "$work/pg/postgres.log" >&2; fail "PostgreSQL did not start"; }
psql_ -d postgres -c 'CREATE DATABASE jadugar'
[ -z "$statements" ] || psql_ -d jadugar -c 'CREATE EXTENSION pg_stat_statements'
store="postgresql://jadugar@127.0.0.1:$pg_port/jadugar"
echo "PostgreSQL $(psql_ -d jadugar -Atc 'SHOW server_version') on port $pg_port (defaults but max_connections)"

#  -------------------------------------------------------------------------
section "two controllers on it"
#  The leader: the fleet's environments; `key NAME` reads its init output.
bench_init_flags=(--store "$store")
bench_controller "$controller_bin" bench metrics
leader_port=$port
"$controller_bin" export-keys --data "$work/controller" --out "$work/keys" > /dev/null
free_port
standby_port=$port
"$controller_bin" init --data "$work/controller2" --port "$standby_port" --store "$store" \
    --join "$work/keys" > "$work/init2.txt"
rm -f "$work/keys"
bench_environments "$work/controller2/controller.yaml" bench metrics
if [ -n "$signed_heartbeat" ]; then
    sed -i "s/^signed-heartbeat: .*$/signed-heartbeat: $signed_heartbeat/" \
        "$work/controller/controller.yaml" "$work/controller2/controller.yaml"
fi
for data in controller controller2; do
    "$controller_bin" check --data "$work/$data" > "$work/check.txt" 2>&1 ||
        { cat "$work/check.txt" >&2; fail "check of $data failed"; }
done
#  jadctl tries both APIs in order (a refused connection moves on)
sed -i "s/^controller: .*$/controller: 127.0.0.1:$((leader_port + 2)),127.0.0.1:$((standby_port + 2))/" \
    "$JADUGAR_CONFIG"
log_has () { grep -q "$2" "$1" 2>/dev/null; }
"$controller_bin" run --data "$work/controller" > "$work/controller.log" 2>&1 &
leader_pid=$!
pids+=("$leader_pid")
wait_for 60 log_has "$work/controller.log" "leads name=" || fail "the first controller does not lead"
"$controller_bin" run --data "$work/controller2" > "$work/controller2.log" 2>&1 &
standby_pid=$!
pids+=("$standby_pid")
wait_for 60 log_has "$work/controller2.log" "standing by" || fail "the second controller is no standby"
wait_for 30 jadctl status >/dev/null 2>&1 || fail "the leader's API does not answer"
old_epoch=$(sed -n 's/.*leads name=.* epoch=\([0-9]*\).*/\1/p' "$work/controller.log" | tail -n 1)
echo "leader 127.0.0.1:$leader_port (epoch $old_epoch), standby 127.0.0.1:$standby_port;" \
    "signed heartbeats every ${signed_heartbeat:-5s}"
endpoints="127.0.0.1:$leader_port,127.0.0.1:$standby_port"

#  -------------------------------------------------------------------------
section "$count simulated agents on both endpoints"
join_start=$(now_ms)
sim_pids=()
for proc in $(seq 1 "$sim_procs"); do
    share=$(( count / sim_procs + (proc <= count % sim_procs ? 1 : 0) ))
    "$jadsim" --controller "$endpoints" --controller-key "$(key curve-key)" \
        --signing-key "$(key signing-key)" --token "$(key enroll-token)" --env bench \
        --count "$share" --prefix "sim$proc" --state "$work/sim$proc" --root "$work/sim-root" \
        --apply switch > "$work/sim-$proc.out" 2> "$work/sim-$proc.err" &
    pids+=("$!")
    sim_pids+=("$!")
done
sims_joined () { [ "$(cat "$work"/sim-*.out 2>/dev/null | grep -c '^joined ')" -ge "$sim_procs" ]; }
online () {
    [ "$(jadctl --json status --env bench 2>/dev/null | grep -c '"state": "online"')" -ge "$count" ]
}
#  beats_of EPOCH: one line per agent that heard EPOCH ("beat EPOCH N MS")
beats_of () { cat "$work"/sim-*.out | awk -v epoch="$1" '$1 == "beat" && $2 == epoch'; }
all_beat () { [ "$(beats_of "$1" | wc -l)" -ge "$count" ]; }
wait_for $((300 + count * 30 / 1000)) sims_joined || fail "agents were not all accepted"
wait_for 120 online || fail "agents did not all come online"
wait_for $((60 + count * 30 / 1000)) all_beat "$old_epoch" ||
    fail "agents did not all hear the leader's heartbeat: $(beats_of "$old_epoch" | wc -l) of $count"
echo "all $count agents online and hearing epoch $old_epoch after $(($(now_ms) - join_start)) ms"

#  A plan acknowledged by all before anything else: every agent has
#  taken a plan of the first epoch.
bench_small_releases "$jadctl_bin" app
deploy () {                         #  VERSION: prints the plan id
    jadctl --json deploy app "$1" --env bench 2>/dev/null | sed -n 's/.*"id": "\([^"]*\)".*/\1/p' | head -n 1
}
plan=$(deploy 1)
[ -n "$plan" ] || fail "the first deploy was refused"
wait_for 120 plan_done "$plan" || fail "plan $plan did not finish"
wait_for 60 plan_settled "$plan" || fail "plan $plan never succeeded"

#  -------------------------------------------------------------------------
section "metrics ingestion on PostgreSQL: $metric_agents agents offering $((metric_agents * metric_rate)) samples/s"
"$jadsim" --controller "$endpoints" --controller-key "$(key curve-key)" \
    --signing-key "$(key signing-key)" --token "$(key enroll-token)" --env metrics \
    --count "$metric_agents" --prefix metric --state "$work/metric" --root "$work/metric-root" \
    --metrics-rate "$metric_rate" > "$work/metric.out" 2> "$work/metric.err" &
metric_pid=$!
pids+=("$metric_pid")
metric_online () {
    [ "$(jadctl --json status --env metrics 2>/dev/null | grep -c '"state": "online"')" -ge "$metric_agents" ]
}
wait_for 120 metric_online || fail "metric agents did not come online"
sleep "$metric_settle"                    #  past the first burst
samples_before=$(bench_samples_total $((leader_port + 3)))
ticks_before=$(cpu_ticks "$leader_pid")
ingest_start=$(now_ms)
sleep "$metric_seconds"
samples_after=$(bench_samples_total $((leader_port + 3)))
ingest_ms=$(($(now_ms) - ingest_start))
ingest_ticks=$(($(cpu_ticks "$leader_pid") - ticks_before))
ingest_load=$(loadavg)
kill "$metric_pid" 2>/dev/null || true
wait "$metric_pid" 2>/dev/null || true
ingest_rows=$((samples_after - samples_before))
[ "$ingest_rows" -gt 0 ] || fail "the leader stored no samples"
ingest_rate=$(awk -v n="$ingest_rows" -v ms="$ingest_ms" 'BEGIN { printf "%d", n / (ms / 1000) }')
ingest_cpu=$(awk -v t="$ingest_ticks" -v hz="$(getconf CLK_TCK)" -v ms="$ingest_ms" 'BEGIN { printf "%.0f", 100 * t / hz / (ms / 1000) }')
echo "stored $ingest_rows samples in $ingest_ms ms: $ingest_rate samples/s (controller CPU $ingest_cpu%)"

section "COPY floor: $ingest_rows rows into a table like samples, same server"
psql_ -d jadugar -c 'CREATE TABLE bench_copy_floor (LIKE samples INCLUDING ALL) PARTITION BY RANGE (ts)'
psql_ -d jadugar -c 'CREATE TABLE bench_copy_floor_default PARTITION OF bench_copy_floor DEFAULT'
psql_ -d jadugar -c "DO \$\$ DECLARE day BIGINT := CAST (extract (epoch FROM now ()) * 1000 AS BIGINT) / 86400000 * 86400000;
BEGIN FOR i IN -1..1 LOOP
  EXECUTE format ('CREATE TABLE bench_copy_floor_%s PARTITION OF bench_copy_floor FOR VALUES FROM (%s) TO (%s)',
    i + 1, day + i * 86400000, day + (i + 1) * 86400000);
END LOOP; END \$\$"
"$pgcopy" --conninfo "host=127.0.0.1 port=$pg_port user=jadugar dbname=jadugar" \
    --table bench_copy_floor --rows "$ingest_rows" --batch 1000 --hosts "$metric_agents" \
    > "$work/copy.txt" || fail "pgcopy failed"
floor_load=$(loadavg)
floor_rate=$(sed -n 's/.* rate=\([0-9]*\).*/\1/p' "$work/copy.txt")
floor_rows=$(psql_ -d jadugar -Atc 'SELECT count(*) FROM bench_copy_floor')
[ "$floor_rows" = "$ingest_rows" ] || fail "the floor stored $floor_rows rows, not $ingest_rows"
psql_ -d jadugar -c 'DROP TABLE bench_copy_floor'
cat "$work/copy.txt"
ingest_ratio=$(awk -v a="$ingest_rate" -v b="$floor_rate" 'BEGIN { printf "%.0f", (b > 0 ? 100 * a / b : 0) }')

#  -------------------------------------------------------------------------
section "kill -9 of the leader under $count agents"
sleep 1
kill_load=$(loadavg)
#  CPU from the kill until all acked: the new leader, PostgreSQL (all its
#  processes), the simulators
#  (the postmaster's own, its reaped backends' and its live children's)
pg_ticks () {
    local pid total
    total=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pg_pid/stat")
    for pid in $(pgrep -P "$pg_pid"); do total=$((total + $(cpu_ticks "$pid" 2>/dev/null || echo 0))); done
    echo "$total"
}
sims_ticks () {
    local pid total=0
    for pid in "${sim_pids[@]}"; do total=$((total + $(cpu_ticks "$pid"))); done
    echo "$total"
}
ticks_standby=$(cpu_ticks "$standby_pid")
ticks_pg=$(pg_ticks)
ticks_sims=$(sims_ticks)
[ -z "$statements" ] || psql_ -d jadugar -Atc 'SELECT pg_stat_statements_reset ()' > /dev/null
kill_ms=$(now_ms)
kill -9 "$leader_pid"
wait "$leader_pid" 2>/dev/null || true
#  the standby's takeover, seen in its log (polled every 20 ms)
until log_has "$work/controller2.log" "leads name="; do
    [ $(($(now_ms) - kill_ms)) -lt 60000 ] || fail "the standby did not take over within 60 s"
    sleep 0.02
done
takeover_ms=$(($(now_ms) - kill_ms))
new_epoch=$(sed -n 's/.*leads name=.* epoch=\([0-9]*\).*/\1/p' "$work/controller2.log" | tail -n 1)
echo "standby leads (epoch $new_epoch) after $takeover_ms ms"
#  a plan through the new leader as soon as its API answers
plan=
until [ -n "$plan" ]; do
    [ $(($(now_ms) - kill_ms)) -lt 60000 ] || fail "the new leader took no deploy within 60 s"
    plan=$(deploy 2)
    [ -n "$plan" ] || sleep 0.05
done
deploy_ms=$(($(now_ms) - kill_ms))
echo "plan $plan deployed through the new leader $deploy_ms ms after the kill"
wait_for $((120 + count * 30 / 1000)) all_beat "$new_epoch" || fail "agents did not all hear epoch $new_epoch: $(beats_of "$new_epoch" | wc -l) of $count"
plan_acked () { [ "$(cat "$work"/sim-*.out | grep -c "^acked $1 ")" -ge "$sim_procs" ]; }
wait_for $((120 + count * 30 / 1000)) plan_acked "$plan" || fail "plan $plan was not acknowledged by all agents"
end_load=$(loadavg)
window_ms=$(($(now_ms) - kill_ms))
cpu_pct () { awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v ms="$window_ms" 'BEGIN { printf "%.0f", 100 * t / hz / (ms / 1000) }'; }
cpu_standby=$(cpu_pct $(($(cpu_ticks "$standby_pid") - ticks_standby)))
cpu_pg=$(cpu_pct $(($(pg_ticks) - ticks_pg)))
cpu_sims=$(cpu_pct $(($(sims_ticks) - ticks_sims)))
handshakes=$(bench_events_total $((standby_port + 3)) zap_allowed)
if [ -n "$statements" ]; then
    echo "statements from the kill until all acked (calls, ms in all, statement):"
    psql_ -d jadugar -Atc "SELECT calls, round (total_exec_time), left (regexp_replace (query, '\s+', ' ', 'g'), 110)
        FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'jadugar')
        ORDER BY calls DESC LIMIT 25" | sed 's/^/  /'
fi
beats_after () { beats_of "$new_epoch" | awk -v kill="$kill_ms" '{ print $4 - kill }'; }
beat_first=$(beats_after | percentile 0)
beat_p50=$(beats_after | percentile 50)
beat_p99=$(beats_after | percentile 99)
beat_all=$(beats_after | percentile 100)
#  the slowest simulator's last ack ("acked PLAN N MS first F last L at WALL":
#  WALL is the last field)
acked_all=$(cat "$work"/sim-*.out | awk -v plan="$plan" -v kill="$kill_ms" \
    '$1 == "acked" && $2 == plan && $NF - kill > max { max = $NF - kill } END { print max + 0 }')
wait_for 120 plan_settled "$plan" || fail "plan $plan never succeeded under the new leader"
#  the simulators' counters (printed as they stop): no plan or heartbeat
#  of the dead leader's epoch may have been taken after the new one
for pid in "${sim_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
for pid in "${sim_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
stale=$(cat "$work"/sim-*.out | awk '$1 == "stale_epoch:" { n += $2 } END { print n + 0 }')
refused=$(cat "$work"/sim-*.out | awk '$1 == "beats_refused:" { n += $2 } END { print n + 0 }')
echo "simulators: $stale stale-epoch refusals, $refused heartbeats refused otherwise"
echo "run time: $(( ($(now_ms) - run_start) / 1000 )) s"

#  -------------------------------------------------------------------------
echo
echo "== results (N = $count; times in ms from the kill -9; load average 1/5/15 min beside each)"
printf '%-46s %-22s %-16s %s\n' "measure" "jadugar" "target" "load average"
printf '%-46s %-22s %-16s %s\n' "PostgreSQL ingestion, samples/s stored" "$ingest_rate" \
    "-" "$ingest_load"
printf '%-46s %-22s %-16s %s\n' "  COPY floor, same rows and batches, samples/s" "$floor_rate" \
    "-" "$floor_load"
printf '%-46s %-22s %-16s %s\n' "  ingestion / floor" "${ingest_ratio}%" ">= 70%" "-"
printf '%-46s %-22s %-16s %s\n' "  controller CPU while ingesting" "${ingest_cpu}%" "-" "-"
printf '%-46s %-22s %-16s %s\n' "standby leads (its log line)" "$takeover_ms" "-" "$kill_load"
printf '%-46s %-22s %-16s %s\n' "first heartbeat of epoch $new_epoch, first agent" "$beat_first" \
    "< 5000" "$end_load"
printf '%-46s %-22s %-16s %s\n' "  p50 / p99 / all $count agents" \
    "$beat_p50 / $beat_p99 / $beat_all" "-" "$end_load"
printf '%-46s %-22s %-16s %s\n' "plan through the new leader, deploy accepted" "$deploy_ms" "-" \
    "$end_load"
printf '%-46s %-22s %-16s %s\n' "all agents back and acknowledged" "$acked_all" "< 15000" \
    "$end_load"
printf '%-46s %-22s %-16s %s\n' "  CPU: new leader / PostgreSQL / simulators" \
    "$cpu_standby% / $cpu_pg% / $cpu_sims%" "-" "over $window_ms ms"
printf '%-46s %-22s %-16s %s\n' "  handshakes the new leader let in" "${handshakes:-0}" \
    "$((2 * count)) connections" "-"

if [ "$smoke" = 1 ]; then
    for figure in "$ingest_rate" "$floor_rate" "$ingest_ratio" "$takeover_ms" "$beat_first" \
        "$beat_p99" "$beat_all" "$deploy_ms" "$acked_all" "$cpu_standby" "$cpu_pg" "$handshakes"; do
        case "$figure" in
            ''|-|*[!0-9]*) echo "failover smoke: a figure is missing or not a number: '$figure'" >&2; exit 1 ;;
        esac
    done
    [ "$acked_all" -gt 0 ] || { echo "failover smoke: no acknowledgement time" >&2; exit 1; }
    [ "$new_epoch" -gt "$old_epoch" ] || { echo "failover smoke: epoch $new_epoch after $old_epoch" >&2; exit 1; }
    [ "$stale" = 0 ] || { echo "failover smoke: $stale stale-epoch refusals" >&2; exit 1; }
    echo "failover smoke: ok"
fi
