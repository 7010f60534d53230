#  lib.sh - shell helpers shared by tests/bench/run.sh, failover.sh,
#  profile.sh and tests/soak/soak.sh (sourced, not run)
#  SPDX-License-Identifier: MPL-2.0
# shellcheck shell=bash

#  bench_workdir NAME KEEP_VAR: a fresh $work in tmpfs when there is one
#  (release roots and simulator state live there), the background
#  processes in $pids stopped and $work removed at exit, unless KEEP_VAR is
#  set in the environment. Raises the open-file limit for the fleet.
bench_workdir () {
    local shm=/dev/shm
    [ -d "$shm" ] && [ -w "$shm" ] || shm=${TMPDIR:-/tmp}
    work=$(mktemp -d "$shm/$1.XXXXXX")
    bench_keep_var=$2
    pids=()
    bench_init_flags=()
    trap bench_cleanup EXIT
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
}
bench_cleanup () {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ -n "${!bench_keep_var:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}

#  free_port: set $port to a base port whose four ports (BASE..BASE+3) no
#  other test holds and nobody uses. The same protocol as the C tests'
#  jt_free_port_base (tests/support/jad_testlib.c): ports 20000-32767 in
#  slots of four, a slot held by an exclusive flock on its lock file
#  /tmp/jadugar-test-ports/BASE ($JADUGAR_TEST_PORT_LOCKS), taken without
#  waiting, never removed, released when the last process holding the
#  descriptor ends (this shell, and the processes it starts afterwards,
#  which inherit it). Sockets of processes that are not tests are seen
#  with ss. Sets $port rather than printing it: in a $(...) subshell the
#  lock would end with the subshell.
free_port () {
    local dir=${JADUGAR_TEST_PORT_LOCKS:-/tmp/jadugar-test-ports}
    local slots=$(((32768 - 20000) / 4)) start step base fd
    if mkdir "$dir" 2>/dev/null; then chmod 1777 "$dir"; fi
    [ -d "$dir" ] || { echo "free_port: cannot make $dir" >&2; return 1; }
    start=$((($$ * 7919 + 10#$(date +%N)) % slots))
    for ((step = 0; step < slots; step++)); do
        base=$((20000 + (start + step) % slots * 4))
        #  another user's lock file is not writable; flock needs no write
        : 2>/dev/null >> "$dir/$base"
        exec {fd}< "$dir/$base" || continue
        if flock -n "$fd" && ! ports_in_use "$base" $((base + 3)); then
            port=$base
            return 0
        fi
        exec {fd}<&-
    done
    echo "free_port: no free port slot in 20000-32767 (locks in $dir)" >&2
    return 1
}

#  ports_in_use FIRST LAST: true if a TCP socket (listening, connected or in
#  TIME_WAIT) has a local port from FIRST to LAST.
ports_in_use () {
    ss -Htan | awk -v first="$1" -v last="$2" '
        { count = split ($4, part, ":"); p = part[count] + 0; if (p >= first && p <= last) found = 1 }
        END { exit !found }'
}

#  wait_for TIMEOUT_S COMMAND...: run COMMAND until it succeeds; 1 on timeout.
wait_for () {
    local deadline=$(($(date +%s) + $1))
    shift
    until "$@"; do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

rss_kib () { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
cpu_ticks () { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
now_ms () { date +%s%3N; }
loadavg () { cut -d' ' -f1-3 /proc/loadavg; }
#  Percentile P (0-100) of the numbers on stdin.
percentile () {
    sort -n | awk -v p="$1" '{ v[NR] = $1 } END {
        if (NR == 0) { print "-"; exit }
        i = int((NR * p + 99) / 100); if (i < 1) i = 1; if (i > NR) i = NR; print v[i] }'
}

#  The simulators' output ($work/sim-*.out, $sim_procs of them; jadsim's
#  top comment): plan_done PLAN when every simulator printed its healthy
#  line for it; plan_time acked|healthy PLAN: its time, the slowest
#  simulator's; plan_settled PLAN when the controller (jadctl) records it
#  as succeeded.
plan_done () { [ "$(cat "$work"/sim-*.out | grep -c "^healthy $1 ")" -ge "$sim_procs" ]; }
plan_time () {
    cat "$work"/sim-*.out | awk -v kind="$1" -v plan="$2" \
        '$1 == kind && $2 == plan && $4 > max { max = $4 } END { print max + 0 }'
}
plan_settled () {
    jadctl --json plans --env bench 2>/dev/null | tr -d ' \n' | grep -o "\"id\":\"$1\"[^}]*" |
        grep -q '"state":"succeeded"'
}
#  bench_events_total HTTP_PORT NAME: a controller event counter (zap_allowed ...).
bench_events_total () {
    curl -s --max-time 5 "http://127.0.0.1:$1/metrics" |
        awk -v name="$2" '$1 == "jadugar_controller_events_total{event=\"" name "\"}" { print $2 }'
}
#  bench_samples_total HTTP_PORT: samples the controller stored since it started.
bench_samples_total () {
    curl -s --max-time 20 "http://127.0.0.1:$1/metrics" |
        awk '/^jadugar_metric_samples_total / { print $2 }' || echo 0
}

#  bench_controller BIN ENV...: `init` a controller in $work/controller on a
#  free $port with the environments ENV... (strategy all), export
#  JADUGAR_CONFIG for jadctl; `key NAME` then prints a line of init's output.
#  The array bench_init_flags, if set, goes to `init` as well (--store URL).
bench_controller () {
    local bin=$1
    shift
    free_port
    "$bin" init --data "$work/controller" --port "$port" "${bench_init_flags[@]}" > "$work/init.txt"
    export JADUGAR_CONFIG
    JADUGAR_CONFIG=$(key admin-config)
    bench_environments "$work/controller/controller.yaml" "$@"
}
#  bench_environments CONTROLLER_YAML ENV...: the bench's environments
#  (strategy all), and no cap on connections per address (the whole
#  simulated fleet connects from one).
bench_environments () {
    local yaml=$1 env
    shift
    for env in "$@"; do
        sed -i "/^environments:/a\\  $env: { strategy: all }" "$yaml"
    done
    echo "connections-per-ip: 0" >> "$yaml"
}
key () { sed -n "s/^$1: //p" "$work/init.txt"; }

#  bench_small_releases JADCTL APP: versions 1 and 2 of APP, a release with
#  no hooks (for switches between releases already on disk).
bench_small_releases () {
    mkdir -p "$work/rel"
    printf 'hooks: {}\n' > "$work/rel/jadugar.yaml"
    tar -C "$work/rel" -czf "$work/small.tar.gz" .
    "$1" release add "$2" 1 "$work/small.tar.gz" > /dev/null
    "$1" release add "$2" 2 "$work/small.tar.gz" > /dev/null
}
