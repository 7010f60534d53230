#!/bin/bash
#  soak.sh - 200 simulated agents streaming metrics for minutes, with random
#  agent restarts, deploys and one controller kill -9; nothing is lost
#  SPDX-License-Identifier: MPL-2.0
#
#  Usage: tests/soak/soak.sh BUILD_DIR [SECONDS] [AGENTS]
#         (ctest: soak.metrics_and_reports; SECONDS defaults to 100)
#
#  A real controller process and jadsim (tests/bench/jadsim.c: N agents in
#  one process with real CURVE, Ed25519 checks, the agent's report outbox
#  and its acknowledged metric stream, agt_mstream, both kept across
#  restarts as the agent keeps them in its database) run for SECONDS:
#    - every agent streams 100 samples/s in batches of 100;
#    - 2 random agents per second restart all along, also while the
#      controller is away (drain unacked batches for at most 2 s, new
#      sockets, enrollment again; the same stream resumes and its unacked
#      batches go again);
#    - deploys at 20 %, 55 % and 80 % of the run (apply=switch), so agents
#      send reports;
#    - at 30 % the controller is frozen (SIGSTOP) for 2 s while the agents
#      keep sending, then killed with SIGKILL (no chance to flush; what sat
#      in its buffers and queues is lost and must be sent again) and
#      started again on the same data dir.
#  Then jadsim stops streaming, waits for the last acks and prints its
#  counters. The test asserts that some agents restarted with batches
#  unacked (their drain gave up while the controller was away) and, from
#  the controller's SQLite file:
#    samples stored == samples jadsim sent == samples acked, none
#    abandoned; reports stored (reports_seen and events) == reports sent ==
#    reports acked, none abandoned;
#  and that the restarted controller's RSS, sampled every 2 s, is flat:
#  the highest sample of the last third is at most the highest of the first
#  third x 1.25 + 8 MiB. The first third starts after 200 agents have
#  reconnected and resent (the connection, CURVE and SQLite page-cache
#  working set is in place by then); a leak per batch or per report (about
#  20k samples/s, thousands of reports) would grow well past that bound in
#  the remaining minute, while allocator noise and the page cache's last
#  growth stay within it.
set -euo pipefail
build=${1:?usage: soak.sh BUILD_DIR [SECONDS] [AGENTS]}
seconds=${2:-${JADUGAR_SOAK_SECONDS:-100}}
count=${3:-200}
rate=100          #  samples/s per agent
batch=100         #  samples per batch
restart_rate=2    #  agent restarts per second, fleet-wide

controller_bin="$build/controller/jadugar-controller"
jadctl_bin="$build/controller/jadctl"
jadsim="$build/tests/bench/jadsim"

. "$(cd "$(dirname "$0")/.." && pwd)/bench/lib.sh"
bench_workdir jadsoak JADSOAK_KEEP
fail () { echo "FAIL: $*" >&2; for log in controller.log controller2.log sim.err; do
          [ -f "$work/$log" ] && { echo "--- $log (tail)" >&2; tail -n 20 "$work/$log" >&2; }; done; exit 1; }
now_s () { date +%s; }

#  Under AddressSanitizer the freed-memory quarantine (256 MiB by default)
#  would fill up and hide the heap's own growth: keep it small for the
#  controller so that its RSS says something about the heap.
if grep -q __asan_init "$controller_bin" 2>/dev/null; then
    export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}quarantine_size_mb=16"
fi

bench_controller "$controller_bin" soak
jadctl () { "$jadctl_bin" "$@"; }
"$controller_bin" run --data "$work/controller" > "$work/controller.log" 2>&1 &
controller_pid=$!
pids+=("$controller_pid")
controller_up () { jadctl status >/dev/null 2>&1; }
wait_for 60 controller_up || fail "the controller did not start"

bench_small_releases "$jadctl_bin" app

start=$(now_s)
"$jadsim" --controller "127.0.0.1:$port" --controller-key "$(key curve-key)" \
    --signing-key "$(key signing-key)" --token "$(key enroll-token)" --env soak \
    --count "$count" --prefix soak --state "$work/sim" --root "$work/sim-root" --apply switch \
    --heartbeat 2000 --metrics-rate "$rate" --batch "$batch" --restart-rate "$restart_rate" \
    --duration "$seconds" --drain-ms 30000 > "$work/sim.out" 2> "$work/sim.err" &
sim_pid=$!
pids+=("$sim_pid")
online () {
    [ "$(jadctl --json status --env soak 2>/dev/null | grep -c '"state": "online"')" -ge "$count" ]
}
wait_for 90 online || fail "the $count simulated agents did not come online"
echo "soak: $count agents online after $(($(now_s) - start)) s; running ${seconds} s"

: > "$work/rss.txt"
at () { local due=$((start + seconds * $1 / 100)); while [ "$(now_s)" -lt "$due" ]; do sleep 1; done; }
deploy () { jadctl deploy app "$1" --env soak >/dev/null || fail "deploy app $1 refused"; echo "soak: deploy app $1 at +$(($(now_s) - start)) s"; }
sample_rss () {                     #  PID FILE, every 2 s while PID lives
    while kill -0 "$1" 2>/dev/null; do
        echo "$(($(now_s) - start)) $(rss_kib "$1")" >> "$2"
        sleep 2
    done
}
sample_rss "$controller_pid" "$work/rss1.txt" &
pids+=("$!")

at 20; deploy 1
at 30
#  Agents go on restarting while the controller is away (a restart then
#  gives up its drain after 2 s and resumes its stream).
#  Frozen first, so that batches and reports pile up in its socket buffers
#  and queues: the kill loses them for certain, and only the agents'
#  resending brings them back.
kill -STOP "$controller_pid"
sleep 2
kill -9 "$controller_pid"
kill -CONT "$controller_pid" 2>/dev/null || true
wait "$controller_pid" 2>/dev/null || true
echo "soak: controller frozen 2 s, then killed (SIGKILL) at +$(($(now_s) - start)) s; starting it again"
"$controller_bin" run --data "$work/controller" > "$work/controller2.log" 2>&1 &
controller_pid=$!
pids+=("$controller_pid")
wait_for 60 controller_up || fail "the controller did not start again"
wait_for 60 online || fail "the agents did not come back online"
sample_rss "$controller_pid" "$work/rss.txt" &
pids+=("$!")
at 55; deploy 2
at 80; deploy 1

#  jadsim stops streaming at SECONDS and waits for the last acks.
wait "$sim_pid" || fail "jadsim exited with an error"
echo "soak: jadsim done at +$(($(now_s) - start)) s"
kill -TERM "$controller_pid"
wait "$controller_pid" || fail "the controller did not stop cleanly"

value () { sed -n "s/^$1: //p" "$work/sim.out"; }
db="$work/controller/state.db"
[ -f "$db" ] || db=$(ls "$work"/controller/*.db | head -n 1)
sql () { sqlite3 "$db" "$1"; }
stored_rows=$(sql "SELECT count (*) FROM samples s JOIN metric_hosts h ON h.id = s.host WHERE h.name LIKE 'soak-%'")
stored_counted=$(sql "SELECT coalesce (sum (samples), 0) FROM metric_hosts WHERE name LIKE 'soak-%'")
reports_seen=$(sql "SELECT count (*) FROM reports_seen WHERE agent LIKE 'soak-%'")
reports_events=$(sql "SELECT count (*) FROM events WHERE agent LIKE 'soak-%'")

echo "== jadsim counters"
grep -E '^[a-z_]+: ' "$work/sim.out"
echo "== controller store"
echo "samples_stored_rows: $stored_rows"
echo "samples_stored_counted: $stored_counted"
echo "reports_stored: $reports_seen"
echo "report_events_stored: $reports_events"
echo "== controller RSS (KiB) every 2 s, first process (killed at 30 %)"
awk '{ printf "%s%s:%s", (NR > 1 ? " " : ""), $1, $2 } END { print "" }' "$work/rss1.txt"
echo "== controller RSS (KiB) every 2 s, restarted process"
awk '{ printf "%s%s:%s", (NR > 1 ? " " : ""), $1, $2 } END { print "" }' "$work/rss.txt"

sent=$(value samples_sent)
[ "$(value restarts)" -gt 0 ] || fail "no agent restarted"
#  restarts that gave up their drain (the controller away) and resumed
[ "$(value restarts_unacked)" -gt 0 ] || fail "no agent restarted with unacked batches"
[ "$sent" -gt 0 ] || fail "no samples sent"
[ "$(value samples_abandoned)" -eq 0 ] || fail "samples abandoned: $(value samples_abandoned)"
[ "$(value samples_acked)" -eq "$sent" ] || fail "samples acked $(value samples_acked) != sent $sent"
[ "$stored_rows" -eq "$sent" ] || fail "samples stored $stored_rows != sent $sent (lost or duplicated)"
[ "$stored_counted" -eq "$sent" ] || fail "samples counted by the controller $stored_counted != sent $sent"
reports=$(value reports_sent)
[ "$reports" -gt 0 ] || fail "no reports sent"
[ "$(value reports_abandoned)" -eq 0 ] || fail "reports abandoned: $(value reports_abandoned)"
[ "$(value reports_acked)" -eq "$reports" ] || fail "reports acked $(value reports_acked) != sent $reports"
[ "$reports_seen" -eq "$reports" ] || fail "reports stored $reports_seen != sent $reports"
[ "$reports_events" -eq "$reports" ] || fail "report events stored $reports_events != sent $reports"

#  RSS flat: last third's max <= first third's max x 1.25 + 8 MiB.
verdict=$(awk '{ v[NR] = $2 } END {
    if (NR < 9) { print "too few samples " NR; exit }
    third = int(NR / 3); first = 0; last = 0
    for (i = 1; i <= third; i++) if (v[i] > first) first = v[i]
    for (i = NR - third + 1; i <= NR; i++) if (v[i] > last) last = v[i]
    bound = first * 1.25 + 8192
    printf "%s first-third max %d KiB, last-third max %d KiB, bound %d KiB\n", (last <= bound ? "flat" : "growing"), first, last, bound }' "$work/rss.txt")
echo "rss: $verdict"
case "$verdict" in flat*) ;; *) fail "controller RSS not flat: $verdict" ;; esac
echo "soak: PASS (controller restart: SIGKILL; samples $sent sent = stored, reports $reports sent = stored)"
