#  lib.sh - shell helpers shared by tests/bench/run.sh, tests/bench/profile.sh
#  and tests/soak/soak.sh (sourced, not run)
#  SPDX-License-Identifier: MPL-2.0

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
    trap bench_cleanup EXIT
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
}
bench_cleanup () {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ -n "${!bench_keep_var:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}

#  A base port whose four ports (BASE..BASE+3) nobody listens on.
free_port () {
    local port
    while :; do
        port=$((20000 + RANDOM % 12000))
        if ! (ss -ltn 2>/dev/null | grep -qE ":($port|$((port + 1))|$((port + 2))|$((port + 3)))\b"); then
            echo "$port"
            return
        fi
    done
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

#  bench_controller BIN ENV...: `init` a controller in $work/controller on a
#  free $port with the environments ENV... (strategy all), export
#  JADUGAR_CONFIG for jadctl; `key NAME` then prints a line of init's output.
bench_controller () {
    local bin=$1 env
    shift
    port=$(free_port)
    "$bin" init --data "$work/controller" --port "$port" > "$work/init.txt"
    export JADUGAR_CONFIG
    JADUGAR_CONFIG=$(key admin-config)
    for env in "$@"; do
        sed -i "/^environments:/a\\  $env: { strategy: all }" "$work/controller/controller.yaml"
    done
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
