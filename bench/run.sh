#!/usr/bin/env bash
# cplb's benchmark: cplb against HAProxy, nginx (stream) and no proxy at all ("direct"), all on
# 127.0.0.1, in four scenarios: throughput (iperf3), connrate (wrk, Connection: close), reqrate
# (wrk, keep-alive) and idlemem (idle sessions, RSS growth). See bench/README.md for the method.
#
#   bench/run.sh           full run (about 5 minutes with the defaults)
#   bench/run.sh --smoke   one short round (CI): fails if a target cannot be set up or passes no
#                          traffic; asserts nothing about speed
#
# Environment (defaults in brackets; --smoke changes the first three):
#   CPLB_BIN                     cplb binary [build-release/src/app/cplb, built if missing]
#   BENCH_ROUNDS                 rounds; targets rotate each round [3; smoke 1]
#   BENCH_SECONDS                seconds per load [5; smoke 1]
#   BENCH_IDLE_SESSIONS          idle sessions [5000; smoke 200]
#   BENCH_TARGETS                targets to run ["direct haproxy nginx cplb"]
#   BENCH_WORKERS                proxy worker threads/processes [2]
#   BENCH_STREAMS                iperf3 parallel streams [4]
#   BENCH_CONNRATE_CONNECTIONS   wrk connections for connrate [32]
#   BENCH_REQRATE_CONNECTIONS    wrk connections for reqrate [32]
#   BENCH_MAX_OTHER_CPU          a load during which other processes used more than this % of
#                                the machine's CPU is run again, once [10; smoke: never] ...
#   BENCH_RETRIES                ... at most this many times in the whole run [4]
#   BENCH_RESULTS                also copy the raw results (TSV) to this file
# shellcheck disable=SC2317  # functions called through trap and measure()
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
lib=$root/bench/lib

smoke=0
for arg in "$@"; do
  case $arg in
    --smoke) smoke=1 ;;
    -h | --help) sed -n '2,/^# shellcheck/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown argument: $arg (try --help)" >&2; exit 1 ;;
  esac
done

if [ "$smoke" = 1 ]; then
  rounds=${BENCH_ROUNDS:-1} seconds=${BENCH_SECONDS:-1} idle_sessions=${BENCH_IDLE_SESSIONS:-200}
  settle=0.3 max_other_cpu=100
else
  rounds=${BENCH_ROUNDS:-3} seconds=${BENCH_SECONDS:-5} idle_sessions=${BENCH_IDLE_SESSIONS:-5000}
  settle=1 max_other_cpu=${BENCH_MAX_OTHER_CPU:-10}
fi
retries_left=${BENCH_RETRIES:-4}
read -r -a targets <<<"${BENCH_TARGETS:-direct haproxy nginx cplb}"
workers=${BENCH_WORKERS:-2}
streams=${BENCH_STREAMS:-4}
connrate_connections=${BENCH_CONNRATE_CONNECTIONS:-32}
reqrate_connections=${BENCH_REQRATE_CONNECTIONS:-32}
load_timeout=$((seconds + 20))  # hard bound on every load generator

say() { printf '%s\n' "$*"; }
fail() { printf 'bench: FAILED: %s\n' "$*" >&2; exit 1; }

# --- dependencies, binary, limits -----------------------------------------------------------------

scripts/deps haproxy nginx-light libnginx-mod-stream wrk iperf3
for tool in haproxy nginx wrk iperf3 ss curl python3 timeout; do
  command -v "$tool" >/dev/null || fail "$tool not found"
done
# The interpreter itself, once: wrappers such as pyenv's shims cost seconds per call under load.
python=$(python3 -c 'import sys; print(sys.executable)')
nginx_stream_module=/usr/lib/nginx/modules/ngx_stream_module.so
[ -f "$nginx_stream_module" ] || fail "$nginx_stream_module missing (libnginx-mod-stream)"

if [ -z "${CPLB_BIN:-}" ]; then
  CPLB_BIN=$root/build-release/src/app/cplb
  # The smoke run checks the script, not speed: any existing build will do.
  [ "$smoke" = 1 ] && [ ! -x "$CPLB_BIN" ] && [ -x "$root/build/src/app/cplb" ] && CPLB_BIN=$root/build/src/app/cplb
  if [ ! -x "$CPLB_BIN" ]; then
    say "building cplb (Release) into build-release"
    BUILD_DIR=build-release BUILD_TYPE=Release scripts/build
  fi
fi
[ -x "$CPLB_BIN" ] || fail "CPLB_BIN=$CPLB_BIN is not an executable"

# 5,000 sessions: 10,000 descriptors in the proxy, 5,000 each in client and backend.
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fd_limit=$(ulimit -n)
[ "$fd_limit" -ge $((2 * idle_sessions + 200)) ] ||
  fail "open-files limit $fd_limit is too low for $idle_sessions idle sessions (BENCH_IDLE_SESSIONS)"
proxy_maxconn=$(((fd_limit - 200) / 2))  # sessions that fit in the proxy's descriptors

# --- processes: everything started here is stopped by PID on exit ---------------------------------

tmp=$(mktemp -d /tmp/cplb-bench.XXXXXX)
chmod 755 "$tmp"  # nginx workers run as nobody and read the static file from here
results=$tmp/results.tsv   # accepted measurements
pending=$tmp/pending.tsv   # the current load's, until accepted
: >"$results"
started=()

is_running() {
  local state
  state=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
  [ "$state" != Z ]
}

# Stops the process PID and whatever it forked (nginx workers), TERM first, then KILL.
stop_tree() {
  local pid=$1 tree i
  is_running "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
  read -r -a tree <<<"$("$python" -c 'import sys; sys.path.insert(0, sys.argv[1]); from util import process_tree; print(*process_tree([int(sys.argv[2])]))' "$lib" "$pid" 2>/dev/null || echo "$pid")"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do is_running "$pid" || break; sleep 0.1; done
  for p in "${tree[@]}"; do is_running "$p" && kill -KILL "$p" 2>/dev/null; done
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$? i
  trap - EXIT INT TERM
  for ((i = ${#started[@]} - 1; i >= 0; i--)); do stop_tree "${started[i]}"; done
  if [ "$rc" -ne 0 ] && [ -d "$tmp" ]; then
    for log in "$tmp"/*.log "$tmp"/*/*.log; do
      [ -s "$log" ] && { echo "--- ${log#"$tmp"/} (last lines)"; tail -n 15 "$log"; } >&2
    done
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME CMD...: runs CMD in the background, logging to $tmp/NAME.log; sets $last_pid.
start() {
  local name=$1
  shift
  "$@" >"$tmp/$name.log" 2>&1 &
  last_pid=$!
  started+=("$last_pid")
}

stop() {
  local pid=$1 i
  stop_tree "$pid"
  for i in "${!started[@]}"; do [ "${started[i]}" = "$pid" ] && unset 'started[i]'; done
  started=("${started[@]}")
}

ports() { "$python" "$lib/util.py" ports "$1"; }
wait_listen() { "$python" "$lib/util.py" wait-listen 10 "$@"; }
calc() { awk "BEGIN { printf \"%.6g\", $1 }"; }
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$pending"; }
num() { if [ "$1" = n/a ]; then echo n/a; else printf "%.${2:-2}f" "$1"; fi; }
# Warns when something else keeps the CPUs busy: the numbers would measure that too.
check_load() {
  local load
  load=$(cut -d' ' -f1 /proc/loadavg)
  awk "BEGIN { exit !($load > 0.5) }" &&
    say "WARNING: load average $load $1: other processes compete for the CPUs (see the noise row)"
  return 0
}

# --- backends (shared by every target) -------------------------------------------------------------

read -r http1 http2 http3 iperf_port idle1 idle2 idle3 <<<"$(ports 7)"

mkdir -p "$tmp/http/www" "$tmp/http/logs"
chmod 755 "$tmp/http" "$tmp/http/www"
head -c 100 /dev/zero | tr '\0' 'x' >"$tmp/http/www/index.html"
chmod 644 "$tmp/http/www/index.html"
cat >"$tmp/http/nginx.conf" <<EOF
worker_processes $workers;
pid $tmp/http/nginx.pid;
error_log $tmp/http/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $tmp/http/body;
  proxy_temp_path $tmp/http/proxy;
  fastcgi_temp_path $tmp/http/fastcgi;
  uwsgi_temp_path $tmp/http/uwsgi;
  scgi_temp_path $tmp/http/scgi;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$http1;
    listen 127.0.0.1:$http2;
    listen 127.0.0.1:$http3;
    root $tmp/http/www;
  }
}
EOF
start http-backend nginx -p "$tmp/http" -c "$tmp/http/nginx.conf" -g 'daemon off;'
start iperf3-server iperf3 -s -B 127.0.0.1 -p "$iperf_port"
start idle-backend "$python" "$lib/idle.py" server "$idle1" "$idle2" "$idle3"
wait_listen "$http1" "$http2" "$http3" "$iperf_port" "$idle1" "$idle2" "$idle3" ||
  fail "backends did not start"
curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$http1/" || fail "the nginx HTTP backend does not serve"

# --- proxies ----------------------------------------------------------------------------------------

# Writes TARGET's config into $dir for frontends on $fe_http, $fe_iperf, $fe_idle.
write_config() {
  local target=$1
  case $target in
    haproxy)
      cat >"$dir/haproxy.cfg" <<EOF
global
  nbthread $workers
  maxconn $proxy_maxconn
defaults
  mode tcp
  maxconn $proxy_maxconn
  timeout connect 3s
  timeout client 1h
  timeout server 1h
  timeout check 1s
  default-server check inter 2s
frontend http
  bind 127.0.0.1:$fe_http
  default_backend http
frontend iperf
  bind 127.0.0.1:$fe_iperf
  default_backend iperf
frontend idle
  bind 127.0.0.1:$fe_idle
  default_backend idle
backend http
  balance leastconn
  server s1 127.0.0.1:$http1
  server s2 127.0.0.1:$http2
  server s3 127.0.0.1:$http3
backend iperf
  balance leastconn
  server s1 127.0.0.1:$iperf_port
backend idle
  balance leastconn
  server s1 127.0.0.1:$idle1
  server s2 127.0.0.1:$idle2
  server s3 127.0.0.1:$idle3
EOF
      ;;
    nginx)
      cat >"$dir/nginx.conf" <<EOF
load_module $nginx_stream_module;
worker_processes $workers;
worker_rlimit_nofile $((fd_limit - 100));
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections $((2 * proxy_maxconn)); }
stream {
  proxy_connect_timeout 3s;
  proxy_timeout 1h;
  upstream http { least_conn; server 127.0.0.1:$http1; server 127.0.0.1:$http2; server 127.0.0.1:$http3; }
  upstream iperf { least_conn; server 127.0.0.1:$iperf_port; }
  upstream idle { least_conn; server 127.0.0.1:$idle1; server 127.0.0.1:$idle2; server 127.0.0.1:$idle3; }
  server { listen 127.0.0.1:$fe_http; proxy_pass http; }
  server { listen 127.0.0.1:$fe_iperf; proxy_pass iperf; }
  server { listen 127.0.0.1:$fe_idle; proxy_pass idle; }
}
EOF
      ;;
    cplb)
      local check='health_check: {protocol: tcp, interval: 2s, timeout: 1s}'
      cat >"$dir/cplb.yaml" <<EOF
global: {workers: $workers, max_connections: 20000, shutdown_grace: 1s}
admin: {listen: 127.0.0.1:$admin_port}
frontends:
  - {name: http, listen: 127.0.0.1:$fe_http, backend: http, idle_timeout: 1h}
  - {name: iperf, listen: 127.0.0.1:$fe_iperf, backend: iperf, idle_timeout: 1h}
  - {name: idle, listen: 127.0.0.1:$fe_idle, backend: idle, idle_timeout: 1h}
backends:
  - name: http
    balance: least_conn
    servers: [{name: s1, address: 127.0.0.1:$http1}, {name: s2, address: 127.0.0.1:$http2}, {name: s3, address: 127.0.0.1:$http3}]
    $check
  - name: iperf
    balance: least_conn
    servers: [{name: s1, address: 127.0.0.1:$iperf_port}]
    $check
  - name: idle
    balance: least_conn
    servers: [{name: s1, address: 127.0.0.1:$idle1}, {name: s2, address: 127.0.0.1:$idle2}, {name: s3, address: 127.0.0.1:$idle3}]
    $check
EOF
      ;;
  esac
}

# Starts TARGET for round ROUND; sets $proxy_pid (empty for direct) and the frontend ports.
start_target() {
  local target=$1 round=$2 i
  proxy_pid=""
  if [ "$target" = direct ]; then
    fe_http=$http1 fe_iperf=$iperf_port fe_idle=""
    return 0
  fi
  read -r fe_http fe_iperf fe_idle admin_port <<<"$(ports 4)"
  dir=$tmp/$target-$round
  mkdir -p "$dir"
  write_config "$target"
  case $target in
    haproxy) start "$target-$round/proxy" haproxy -db -f "$dir/haproxy.cfg" ;;
    nginx) start "$target-$round/proxy" nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' ;;
    cplb) start "$target-$round/proxy" "$CPLB_BIN" --config "$dir/cplb.yaml" ;;
    *) fail "unknown target $target" ;;
  esac
  proxy_pid=$last_pid
  wait_listen "$fe_http" "$fe_iperf" "$fe_idle" --pid "$proxy_pid" || fail "$target did not start listening"
  for ((i = 0; i < 100; i++)); do
    curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$fe_http/" && break
    is_running "$proxy_pid" || fail "$target exited"
    sleep 0.1
  done
  [ "$i" -lt 100 ] || fail "$target passes no HTTP request after 10 s"
  sleep "$settle"  # health checks of every server have completed
}

proxy_cpu() {
  if [ -z "$proxy_pid" ]; then echo 0; return; fi
  "$python" "$lib/util.py" stat "$proxy_pid" | cut -d' ' -f2
}

# --- scenarios --------------------------------------------------------------------------------------

run_idlemem() {
  local target=$1 round=$2 out
  [ -n "$proxy_pid" ] || return 0  # no proxy, no proxy memory
  out=$(timeout 120 "$python" "$lib/idle.py" client --connect "$fe_idle" --sessions "$idle_sessions" \
    --backend-ports "$idle1,$idle2,$idle3" --pids "$proxy_pid" --timeout 60) ||
    fail "$target: idle sessions could not be set up"
  read -r est byte <<<"$("$python" -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["kb_per_session_established"], d["kb_per_session_after_byte"])' "$out")"
  record "$target" "$round" idle_kb_established "$est"
  record "$target" "$round" idle_kb_after_byte "$byte"
  printf '  %-8s idlemem    %d sessions: %.2f KB/session established, %.2f KB after 1 byte each way\n' \
    "$target" "$idle_sessions" "$est" "$byte"
}

run_throughput() {
  local target=$1 round=$2 cpu0 cpu1 attempt ok=0 gbps bytes
  for attempt in 1 2 3; do
    cpu0=$(proxy_cpu)
    if timeout "$load_timeout" iperf3 -c 127.0.0.1 -p "$fe_iperf" -P "$streams" -t "$seconds" -J \
      >"$tmp/iperf.json" 2>&1; then
      ok=1
      break
    fi
    # A health-check connection can take the iperf3 server's single test slot: retry.
    say "  $target: iperf3 attempt $attempt failed: $(grep -o '"error":.*' "$tmp/iperf.json" | head -1)"
    sleep 1
  done
  [ "$ok" = 1 ] || fail "$target: iperf3 failed"
  cpu1=$(proxy_cpu)
  read -r gbps bytes <<<"$("$python" -c 'import json,sys; s=json.load(open(sys.argv[1]))["end"]["sum_received"]; print(s["bits_per_second"]/1e9, s["bytes"])' "$tmp/iperf.json")"
  awk "BEGIN { exit !($bytes > 0) }" || fail "$target: iperf3 moved no data"
  record "$target" "$round" tp_gbps "$gbps"
  local cpu_gb="n/a"
  if [ -n "$proxy_pid" ]; then
    cpu_gb=$(calc "($cpu1 - $cpu0) / ($bytes / 1e9)")
    record "$target" "$round" tp_cpu_s_per_gb "$cpu_gb"
  fi
  printf '  %-8s throughput %.2f Gbit/s, proxy CPU %s s/GB\n' "$target" "$gbps" "$(num "$cpu_gb" 3)"
}

# run_wrk TARGET ROUND PREFIX CONNECTIONS [wrk args...]
run_wrk() {
  local target=$1 round=$2 prefix=$3 connections=$4 cpu0 cpu1 json
  shift 4
  cpu0=$(proxy_cpu)
  timeout "$load_timeout" wrk -t 2 -c "$connections" -d "${seconds}s" --timeout 5s \
    -s "$lib/wrk_json.lua" "$@" "http://127.0.0.1:$fe_http/" >"$tmp/wrk.out" 2>&1 ||
    fail "$target: wrk failed: $(tail -n 3 "$tmp/wrk.out")"
  cpu1=$(proxy_cpu)
  json=$(sed -n 's/^WRK //p' "$tmp/wrk.out")
  [ -n "$json" ] || fail "$target: no wrk summary: $(tail -n 3 "$tmp/wrk.out")"
  read -r requests rate p50 p99 errors status_errors <<<"$("$python" -c '
import json, sys
d = json.loads(sys.argv[1])
errors = d["connect_errors"] + d["read_errors"] + d["write_errors"] + d["timeouts"]
print(d["requests"], d["requests"] / (d["duration_us"] / 1e6), d["p50_us"] / 1e3, d["p99_us"] / 1e3,
      errors, d["status_errors"])' "$json")"
  [ "$requests" -gt 0 ] || fail "$target: $prefix passed no request"
  [ "$status_errors" -eq 0 ] || fail "$target: $prefix: $status_errors responses were not 2xx/3xx"
  record "$target" "$round" "${prefix}_rate" "$rate"
  record "$target" "$round" "${prefix}_p50_ms" "$p50"
  record "$target" "$round" "${prefix}_p99_ms" "$p99"
  local cpu="n/a" unit=us/conn
  [ "$prefix" = rr ] && unit=us/req
  if [ -n "$proxy_pid" ]; then
    cpu=$(calc "($cpu1 - $cpu0) * 1e6 / $requests")
    if [ "$prefix" = cr ]; then record "$target" "$round" cr_cpu_us_per_conn "$cpu"
    else record "$target" "$round" rr_cpu_us_per_req "$cpu"; fi
  fi
  local name=connrate
  [ "$prefix" = rr ] && name=reqrate
  printf '  %-8s %-10s %.0f/s, p50 %.3f ms, p99 %.3f ms, proxy CPU %s %s%s\n' "$target" "$name" \
    "$rate" "$p50" "$p99" "$(num "$cpu" 1)" "$unit" "$([ "$errors" -gt 0 ] && echo ", $errors socket errors")"
}

# measure TARGET ROUND LOAD ARGS...: runs the load function LOAD and keeps its measurements,
# running it once more if other processes took more than max_other_cpu % of the machine (while
# the run's retry budget lasts: the run stays bounded in time).
measure() {
  local target=$1 round=$2 load=$3 attempt a b other
  shift 3
  for attempt in 1 2; do
    : >"$pending"
    read -r -a a <<<"$("$python" "$lib/util.py" cpu $$)"
    "$load" "$target" "$round" "$@"
    read -r -a b <<<"$("$python" "$lib/util.py" cpu $$)"
    # Busy time of the machine that is not ours (proxies, backends, load generators, helpers).
    other=$(calc "100 * ((${b[0]} - ${a[0]}) - (${b[2]} - ${a[2]})) / (${b[1]} - ${a[1]})")
    awk "BEGIN { exit !($other > $max_other_cpu) }" || break
    [ "$attempt" = 2 ] || [ "$retries_left" -le 0 ] && break
    retries_left=$((retries_left - 1))
    say "  $target: other processes used $(num "$other" 0)% of the CPUs during that load: running it again"
  done
  record "$target" "$round" other_cpu_pct "$other"
  cat "$pending" >>"$results"
}

# --- main -------------------------------------------------------------------------------------------

begin=$(date +%s)
say "cplb benchmark $([ "$smoke" = 1 ] && echo '(smoke)') - $(date -u '+%Y-%m-%d %H:%M UTC')"
say "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(uname -r)"
say "peers:   $(haproxy -v | head -1 | cut -d' ' -f1-3), $(nginx -v 2>&1 | cut -d' ' -f3), $(iperf3 --version | head -1 | cut -d' ' -f1-2), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
say "cplb:    $CPLB_BIN ($("$CPLB_BIN" --version))"
say "setup:   $rounds round(s) x targets [${targets[*]}], ${seconds}s per load, $workers workers," \
  "$idle_sessions idle sessions, open files $fd_limit"
check_load "before the run"

for ((round = 1; round <= rounds; round++)); do
  order=()
  for ((i = 0; i < ${#targets[@]}; i++)); do order+=("${targets[(i + round - 1) % ${#targets[@]}]}"); done
  say ""
  say "round $round/$rounds: ${order[*]}"
  for target in "${order[@]}"; do
    start_target "$target" "$round"
    : >"$pending"
    run_idlemem "$target" "$round"  # first, on a fresh process; memory, not CPU: no retry
    cat "$pending" >>"$results"
    measure "$target" "$round" run_throughput
    measure "$target" "$round" run_wrk cr "$connrate_connections" -H 'Connection: close'
    measure "$target" "$round" run_wrk rr "$reqrate_connections"
    if [ -n "$proxy_pid" ]; then
      is_running "$proxy_pid" || fail "$target exited during the run"
      stop "$proxy_pid"
    fi
  done
done

say ""
say "results ($rounds round(s), $(($(date +%s) - begin)) s):"
"$python" "$lib/report.py" "$results"
[ -n "${BENCH_RESULTS:-}" ] && cp "$results" "$BENCH_RESULTS"
exit 0
