#!/usr/bin/env bash
# cplb's benchmark: cplb against HAProxy, nginx (stream) and no proxy at all ("direct"), all on
# 127.0.0.1, in four speed scenarios: throughput (iperf3), connrate (wrk, Connection: close),
# reqrate (wrk, keep-alive) and idlemem (idle sessions, RSS growth); and cplb against HAProxy,
# side by side, in four behaviour scenarios: rollingrestart (where watches end up after a rolling
# restart of the backends), detection (how soon a failing /readyz stops new connections),
# slowread (memory under clients that read a fast stream slowly; HAProxy, cplb with
# max_buffer_memory and cplb without, one after another) and upgrade (cplb's binary upgrade
# against HAProxy's seamless reload under load). See bench/README.md for the method.
#
#   bench/run.sh           full run (about 7 minutes with the defaults)
#   bench/run.sh --smoke   one short round (CI): fails if a target cannot be set up or passes no
#                          traffic; asserts nothing about speed
#   bench/run.sh storm     the reconnect storm only (not in the default list: about 100 s more)
#
# Environment (defaults in brackets; --smoke changes those marked "smoke"):
#   CPLB_BIN                     cplb binary [build-release/src/app/cplb, built if missing; with
#                                --smoke or only behaviour scenarios, build/src/app/cplb if present]
#   BENCH_SCENARIOS              scenarios to run ["idlemem throughput connrate reqrate
#                                rollingrestart detection slowread"]
#   BENCH_ROUNDS                 rounds of the speed scenarios; targets rotate each round [3; smoke 1]
#   BENCH_SECONDS                seconds per load [5; smoke 1]
#   BENCH_IDLE_SESSIONS          idle sessions [5000; smoke 200]
#   BENCH_WATCHES                watches per proxy in rollingrestart [60; smoke 12]
#   BENCH_RESTART_SETTLE         seconds after the last restart before counting [15; smoke 8]
#   BENCH_DETECTION_TRIALS       trials in detection [7; smoke 2]
#   BENCH_SLOW_CLIENTS           slow readers in slowread [300; smoke 30]
#   BENCH_SLOW_SECONDS           seconds they read slowly (16 KiB every 100 ms) [6; smoke 2]
#   BENCH_SLOW_STREAM_MIB        MiB in each stream (the rest is read at full speed after) [12; smoke 4]
#   BENCH_SLOW_CAP               cplb's max_buffer_memory in slowread's capped run [32MiB]
#   BENCH_UPGRADES               upgrades (cplb) and seamless reloads (HAProxy) in upgrade [5; smoke 1]
#   BENCH_UPGRADE_IDLE           idle sessions held through them [5000; smoke 200]
#   BENCH_STORM_CLIENTS          clients of the storm scenario (bench/run.sh storm) [8000; smoke 300]
#   BENCH_TARGETS                targets to run ["direct haproxy nginx cplb"; the behaviour
#                                scenarios run those of haproxy and cplb in it]
#   BENCH_CPLB_DATA_PATH         cplb's global.data_path: auto, sockmap or epoll [epoll, its default]
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

say() { printf '%s\n' "$*"; }
fail() { printf 'bench: FAILED: %s\n' "$*" >&2; exit 1; }

smoke=0 only_storm=0
for arg in "$@"; do
  case $arg in
    --smoke) smoke=1 ;;
    storm) only_storm=1 ;;  # bench/run.sh storm: the storm scenario only
    -h | --help) sed -n '2,/^# shellcheck/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown argument: $arg (try --help)" >&2; exit 1 ;;
  esac
done

if [ "$smoke" = 1 ]; then
  rounds=${BENCH_ROUNDS:-1} seconds=${BENCH_SECONDS:-1} idle_sessions=${BENCH_IDLE_SESSIONS:-200}
  watches=${BENCH_WATCHES:-12} restart_settle=${BENCH_RESTART_SETTLE:-8}
  detection_trials=${BENCH_DETECTION_TRIALS:-2}
  slow_clients=${BENCH_SLOW_CLIENTS:-30} slow_seconds=${BENCH_SLOW_SECONDS:-2}
  slow_stream_mib=${BENCH_SLOW_STREAM_MIB:-4}
  upgrades=${BENCH_UPGRADES:-1} upgrade_idle=${BENCH_UPGRADE_IDLE:-200}
  storm_clients=${BENCH_STORM_CLIENTS:-300}
  settle=0.3 max_other_cpu=100
else
  rounds=${BENCH_ROUNDS:-3} seconds=${BENCH_SECONDS:-5} idle_sessions=${BENCH_IDLE_SESSIONS:-5000}
  watches=${BENCH_WATCHES:-60} restart_settle=${BENCH_RESTART_SETTLE:-15}
  detection_trials=${BENCH_DETECTION_TRIALS:-7}
  slow_clients=${BENCH_SLOW_CLIENTS:-300} slow_seconds=${BENCH_SLOW_SECONDS:-6}
  slow_stream_mib=${BENCH_SLOW_STREAM_MIB:-12}
  upgrades=${BENCH_UPGRADES:-5} upgrade_idle=${BENCH_UPGRADE_IDLE:-5000}
  storm_clients=${BENCH_STORM_CLIENTS:-8000}
  settle=1 max_other_cpu=${BENCH_MAX_OTHER_CPU:-10}
fi
slow_cap=${BENCH_SLOW_CAP:-32MiB}
retries_left=${BENCH_RETRIES:-4}
read -r -a targets <<<"${BENCH_TARGETS:-direct haproxy nginx cplb}"
read -r -a scenarios <<<"${BENCH_SCENARIOS:-idlemem throughput connrate reqrate rollingrestart detection slowread upgrade}"
[ "$only_storm" = 1 ] && scenarios=(storm)
speed=0  # any speed scenario selected: the rounds, their backends and a Release build
for scenario in "${scenarios[@]}"; do
  case $scenario in
    idlemem | throughput | connrate | reqrate) speed=1 ;;
    rollingrestart | detection | slowread | upgrade | storm) ;;
    *) fail "unknown scenario $scenario in BENCH_SCENARIOS" ;;
  esac
done
selected() { [[ " ${scenarios[*]} " == *" $1 "* ]]; }
# The behaviour scenarios run HAProxy and cplb side by side, in front of the same backends.
side_by_side=()
for target in haproxy cplb; do [[ " ${targets[*]} " == *" $target "* ]] && side_by_side+=("$target"); done
[ "$watches" -ge 3 ] || fail "BENCH_WATCHES=$watches: at least one watch per backend"
[ "$detection_trials" -ge 1 ] || fail "BENCH_DETECTION_TRIALS=$detection_trials: at least 1"
[[ $slow_clients =~ ^[0-9]+$ && $slow_clients -ge 1 ]] || fail "BENCH_SLOW_CLIENTS=$slow_clients: at least 1"
[[ $slow_seconds =~ ^[0-9]+$ && $slow_seconds -ge 1 ]] || fail "BENCH_SLOW_SECONDS=$slow_seconds: whole seconds, at least 1"
[[ $slow_stream_mib =~ ^[0-9]+$ && $slow_stream_mib -ge 1 ]] || fail "BENCH_SLOW_STREAM_MIB=$slow_stream_mib: at least 1"
[[ $slow_cap =~ ^[0-9]+MiB$ ]] || fail "BENCH_SLOW_CAP=$slow_cap: a size in MiB, as 32MiB"
workers=${BENCH_WORKERS:-2}
streams=${BENCH_STREAMS:-4}
connrate_connections=${BENCH_CONNRATE_CONNECTIONS:-32}
reqrate_connections=${BENCH_REQRATE_CONNECTIONS:-32}
load_timeout=$((seconds + 20))  # hard bound on every load generator

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
  # The smoke run checks the script, and the behaviour scenarios measure no speed: any existing
  # build will do.
  { [ "$smoke" = 1 ] || { [ "$speed" = 0 ] && ! selected storm; }; } && [ ! -x "$CPLB_BIN" ] && [ -x "$root/build/src/app/cplb" ] &&
    CPLB_BIN=$root/build/src/app/cplb
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
[ "$fd_limit" -ge $((2 * slow_clients + 200)) ] ||
  fail "open-files limit $fd_limit is too low for $slow_clients slow readers (BENCH_SLOW_CLIENTS)"
[ "$fd_limit" -ge $((2 * upgrade_idle + 300)) ] ||
  fail "open-files limit $fd_limit is too low for $upgrade_idle idle sessions (BENCH_UPGRADE_IDLE)"
proxy_maxconn=$(((fd_limit - 200) / 2))  # sessions that fit in the proxy's descriptors
[[ $storm_clients =~ ^[0-9]+$ && $storm_clients -ge 1 ]] || fail "BENCH_STORM_CLIENTS=$storm_clients: at least 1"
! selected storm || [ "$fd_limit" -ge $((2 * storm_clients + 200)) ] ||
  fail "open-files limit $fd_limit is too low for $storm_clients storm clients (BENCH_STORM_CLIENTS): 2 descriptors each in the proxy"

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

# --- backends of the speed scenarios (shared by every target) ------------------------------------

# Starts one nginx (HTTP, three ports), one iperf3 server and the idle echo server (three ports).
start_speed_backends() {
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
}

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
global: {workers: $workers, max_connections: 20000, shutdown_grace: 1s, data_path: ${BENCH_CPLB_DATA_PATH:-epoll}}
admin: {listen: 127.0.0.1:$admin_port}
frontends:
  - {name: http, listen: 127.0.0.1:$fe_http, backend: http, idle_timeout: 1h}
  - {name: iperf, listen: 127.0.0.1:$fe_iperf, backend: iperf, idle_timeout: 1h}
  - {name: idle, listen: 127.0.0.1:$fe_idle, backend: idle, idle_timeout: 1h,
     first_data_timeout: 0s}  # connect at once, as HAProxy and nginx do: idlemem counts
                              # sessions established at the backend before a byte is sent
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
  local target=$1 round=$2 cpu0 cpu1 attempt ok=0 gbps bytes threads0=""
  for attempt in 1 2 3; do
    cpu0=$(proxy_cpu)
    # How the worker threads shared the work (HAProxy and cplb run threads; nginx processes).
    [ -n "$proxy_pid" ] && [ "$target" != nginx ] && threads0=$("$python" "$lib/util.py" threads "$proxy_pid")
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
  local split=n/a
  if [ -n "$threads0" ]; then
    split=$("$python" "$lib/util.py" busiest-share "$threads0" "$("$python" "$lib/util.py" threads "$proxy_pid")" "$workers")
    [ "$split" != n/a ] && record "$target" "$round" tp_busiest_worker_share "$split"
  fi
  printf '  %-8s throughput %.2f Gbit/s, proxy CPU %s s/GB, busiest worker %s of the CPU\n' "$target" "$gbps" \
    "$(num "$cpu_gb" 3)" "$split"
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

# --- behaviour scenarios: HAProxy and cplb side by side, in front of the same backends ------------

declare -A api_port api_control fe_port side_pid
api_pids=()

# start_apiservers SCENARIO NAME...: one fake apiserver (bench/lib/failover.py backend: /readyz,
# /watch, /who, and a control port that fails /readyz or restarts it) per NAME; sets
# api_port[NAME], api_control[NAME] and api_pids.
start_apiservers() {
  local scenario=$1 name
  local -a p
  shift
  read -r -a p <<<"$(ports $((2 * $#)))"
  mkdir -p "$tmp/$scenario"
  api_pids=()
  for name in "$@"; do
    api_port[$name]=${p[0]} api_control[$name]=${p[1]}
    p=("${p[@]:2}")
    start "$scenario/$name" "$python" "$lib/failover.py" backend --name "$name" \
      --port "${api_port[$name]}" --control "${api_control[$name]}"
    api_pids+=("$last_pid")
  done
  for name in "$@"; do
    wait_listen "${api_port[$name]}" "${api_control[$name]}" || fail "$scenario: apiserver $name did not start"
  done
}

# write_side_configs SCENARIO CPLB_KEYS CPLB_CHECK HAPROXY_CHECK NAME...: the HAProxy and cplb
# configs, in $tmp/SCENARIO, of one frontend (fe_port[TARGET]) and one least-connections backend
# over the apiservers NAME..., checked with GET /readyz; cplb's admin on $side_admin.
write_side_configs() {
  local dir=$tmp/$1 cplb_keys=$2 cplb_check=$3 haproxy_check=$4 name servers="" lines=""
  shift 4
  for name in "$@"; do
    servers+="${servers:+, }{name: $name, address: 127.0.0.1:${api_port[$name]}}"
    lines+="  server $name 127.0.0.1:${api_port[$name]} $haproxy_check"$'\n'
  done
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
frontend api
  bind 127.0.0.1:${fe_port[haproxy]}
  default_backend api
backend api
  balance leastconn
  option httpchk GET /readyz
$lines
EOF
  cat >"$dir/cplb.yaml" <<EOF
global: {workers: $workers, max_connections: 20000, shutdown_grace: 1s, data_path: ${BENCH_CPLB_DATA_PATH:-epoll}}
admin: {listen: 127.0.0.1:$side_admin}
frontends:
  - {name: api, listen: 127.0.0.1:${fe_port[cplb]}, backend: api, idle_timeout: 1h}
backends:
  - name: api
    balance: least_conn
$cplb_keys
    servers: [$servers]
    health_check: {protocol: http, path: /readyz, timeout: 1s, $cplb_check}
EOF
}

# start_side_by_side SCENARIO CONFIG_ARGS...: allocates the frontend ports, writes the configs
# (write_side_configs SCENARIO CONFIG_ARGS...), starts every target of side_by_side and waits
# until each listens.
start_side_by_side() {
  local scenario=$1 target h c
  shift
  read -r h c side_admin <<<"$(ports 3)"
  fe_port[haproxy]=$h fe_port[cplb]=$c
  write_side_configs "$scenario" "$@"
  for target in "${side_by_side[@]}"; do
    case $target in
      haproxy) start "$scenario/haproxy" haproxy -db -f "$tmp/$scenario/haproxy.cfg" ;;
      cplb) start "$scenario/cplb" "$CPLB_BIN" --config "$tmp/$scenario/cplb.yaml" ;;
    esac
    side_pid[$target]=$last_pid
  done
  for target in "${side_by_side[@]}"; do
    wait_listen "${fe_port[$target]}" --pid "${side_pid[$target]}" || fail "$scenario: $target did not start listening"
  done
}

# stop_side_by_side SCENARIO: checks that every proxy still runs, stops the proxies and apiservers.
stop_side_by_side() {
  local target pid
  for target in "${side_by_side[@]}"; do
    is_running "${side_pid[$target]}" || fail "$1: $target exited during the scenario"
    stop "${side_pid[$target]}"
  done
  for pid in "${api_pids[@]}"; do stop "$pid"; done
  side_pid=()
}

# "(haproxy and cplb side by side)", or "(cplb only)".
side_note() {
  if [ ${#side_by_side[@]} -eq 2 ]; then echo "(haproxy and cplb side by side)"; else echo "(${side_by_side[0]} only)"; fi
}

frontend_args() {
  local target
  for target in "${side_by_side[@]}"; do printf -- '--frontend %s=%s ' "$target" "${fe_port[$target]}"; done
}

# cplb_metric REGEX: the sum of the samples in cplb's /metrics whose line starts with REGEX.
cplb_metric() {
  local text
  text=$(curl -sf --max-time 2 "http://127.0.0.1:$side_admin/metrics") || return 1
  awk -v re="^$1" '$0 ~ re { sum += $NF } END { print sum + 0 }' <<<"$text"
}

# other_cpu A B: % of the machine's CPU that other processes took between two `util.py cpu` samples.
other_cpu() {
  local -a a b
  read -r -a a <<<"$1"
  read -r -a b <<<"$2"
  calc "100 * ((${b[0]} - ${a[0]}) - (${b[2]} - ${a[2]})) / (${b[1]} - ${a[1]})"
}

run_rollingrestart() {
  local s=rollingrestart gap=7 out a b other rebalanced=0 drained=0
  local target final mm closed by_backend by_proxy failed timeline extra
  say ""
  say "rollingrestart: $watches watches per proxy over 3 apiservers restarted one after another," \
    "${gap}s apart, counted ${restart_settle}s after the last $(side_note)"
  start_apiservers "$s" a1 a2 a3
  start_side_by_side "$s" \
    "    on_server_down: drain
    drain: {grace: 0s, spread: 1s, not_ready_grace: 2s}
    slow_start: 0s
    rebalance: {threshold: 1.25, spread: 5s, quiet: 1s}" \
    "interval: 1s, fast_interval: 250ms, rise: 1, fall: 2" \
    "check inter 1s fall 2 rise 1" a1 a2 a3
  sleep 2  # every proxy has checked every apiserver (HAProxy spreads its first checks over inter)
  : >"$pending"
  a=$("$python" "$lib/util.py" cpu $$)
  # shellcheck disable=SC2046  # frontend_args is a list of words
  out=$(timeout $((90 + restart_settle)) "$python" "$lib/failover.py" rollingrestart $(frontend_args) \
    --control "a1=${api_control[a1]}" --control "a2=${api_control[a2]}" --control "a3=${api_control[a3]}" \
    --watches "$watches" --gap "$gap" --settle "$restart_settle") ||
    fail "rollingrestart: the watches could not be set up or did not all come back (see above)"
  b=$("$python" "$lib/util.py" cpu $$)
  if [ -n "${side_pid[cplb]:-}" ]; then
    rebalanced=$(cplb_metric cplb_rebalance_closed_sessions_total) || fail "$s: cplb serves no /metrics"
    drained=$(cplb_metric 'cplb_session_ends_total[{].*reason="drained"') || fail "$s: cplb serves no /metrics"
  fi
  stop_side_by_side "$s"
  other=$(other_cpu "$a" "$b")
  while read -r target final mm closed by_backend by_proxy failed timeline; do
    record "$target" 1 rs_final "$final"
    record "$target" 1 rs_max_over_mean "$mm"
    record "$target" 1 rs_closed "$closed"
    record "$target" 1 rs_closed_by_backend "$by_backend"
    record "$target" 1 rs_closed_by_proxy "$by_proxy"
    record "$target" 1 rs_failed_opens "$failed"
    record "$target" 1 rs_other_cpu_pct "$other"
    extra=""
    if [ "$target" = cplb ]; then
      record cplb 1 rs_rebalanced "$rebalanced"
      record cplb 1 rs_drained "$drained"
      extra=" (cplb's metrics: $rebalanced rebalanced, $drained drained)"
    fi
    printf '  %-8s %s, end %s: max/mean %.2f; %d sessions closed: %d by the restarts, %d by the proxy%s; %d failed opens\n' \
      "$target" "$timeline" "$final" "$mm" "$closed" "$by_backend" "$by_proxy" "$extra" "$failed"
  done <<<"$("$python" -c '
import json, sys
for target, d in json.loads(sys.argv[1]).items():
    timeline = ", ".join(label + " " + "/".join(map(str, c)) for label, c in d["snapshots"])
    print(target, "/".join(map(str, d["final"])), d["max_over_mean"], d["closed"], d["closed_by_backend"],
          d["closed_by_proxy"], d["failed_opens"], timeline)' "$out")"
  cat "$pending" >>"$results"
  if awk "BEGIN { exit !($other > $max_other_cpu) }"; then
    say "  WARNING: other processes used $(num "$other" 0)% of the CPUs during rollingrestart" \
      "(not run again: it counts sessions, not time)"
  fi
  return 0
}

run_detection() {
  local s=detection out kind rest
  local -a line
  say ""
  say "detection: /readyz of one of 2 apiservers turns 500 at a random phase, a new connection" \
    "every 10 ms per proxy, $detection_trials trials $(side_note)"
  start_apiservers "$s" d1 d2
  start_side_by_side "$s" "" "interval: 1s, fast_interval: 250ms, rise: 2, fall: 2" \
    "check inter 1s fall 2 rise 2" d1 d2
  : >"$pending"
  # shellcheck disable=SC2046  # frontend_args is a list of words
  out=$(timeout $((60 + 45 * detection_trials)) "$python" "$lib/failover.py" detection $(frontend_args) \
    --control "d1=${api_control[d1]}" --control "d2=${api_control[d2]}" --trials "$detection_trials" \
    --noise-root $$ --max-other-cpu "$max_other_cpu" --retries "$retries_left") ||
    fail "detection: could not be set up, or a proxy kept sending to a failing apiserver (see above)"
  stop_side_by_side "$s"
  while read -r kind rest; do
    case $kind in
      retries) retries_left=$((retries_left - rest)) ;;
      record) read -r -a line <<<"$rest" && record "${line[@]}" ;;
      say) say "  $rest" ;;
    esac
  done <<<"$("$python" -c '
import json, statistics, sys
d = json.loads(sys.argv[1])
print("retries", d["retries"])
for target, ms in d["ms"].items():
    for i, v in enumerate(ms):
        print("record", target, i + 1, "det_ms", f"{v:.1f}")
        print("record", target, i + 1, "det_other_cpu_pct", "%.2f" % d["other_cpu_pct"][i])
    errors = d["errors"][target]
    print("record", target, 1, "det_failed_connections", errors)
    answers = ", ".join(f"{n} from {b}" for b, n in sorted(d["answers"][target].items()))
    trials = " ".join("%.0f" % v for v in ms)
    print("say", f"{target:8} median {statistics.median(ms):.0f} ms [{min(ms):.0f}-{max(ms):.0f}]",
          f"over {len(ms)} trials: {trials} ms ({answers}; {errors} failed connections)")
noisy = max(d["other_cpu_pct"])
if noisy > float(sys.argv[2]):
    print("say", f"WARNING: other processes used up to {noisy:.0f}% of the CPUs during a kept trial")
' "$out" "$max_other_cpu")"
  cat "$pending" >>"$results"
  return 0
}

# slowread: a fast stream read slowly by many clients; the proxies one after another (their RSS
# is the measurement: nothing else runs beside the one measured), in front of one backend.
run_slowread() {
  local s=slowread backend_port admin fe target pid out a b other bad=0
  local -a runs=()
  for target in "${side_by_side[@]}"; do
    if [ "$target" = cplb ]; then runs+=(cplb-cap cplb); else runs+=("$target"); fi
  done
  say ""
  say "slowread: $slow_clients clients each read a fast ${slow_stream_mib} MiB stream, 16 KiB every 100 ms" \
    "for ${slow_seconds}s, then the rest at full speed; ${runs[*]} one after another" \
    "(cplb-cap: max_buffer_memory $slow_cap; cplb: the default 256MiB)"
  mkdir -p "$tmp/$s"
  read -r backend_port <<<"$(ports 1)"
  start "$s/backend" "$python" "$lib/slowread.py" backend --port "$backend_port"
  local backend_pid=$last_pid
  wait_listen "$backend_port" --pid "$backend_pid" || fail "$s: the backend did not start"
  for target in "${runs[@]}"; do
    read -r fe admin <<<"$(ports 2)"
    case $target in
      haproxy)
        cat >"$tmp/$s/haproxy.cfg" <<CFG
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
frontend api
  bind 127.0.0.1:$fe
  default_backend api
backend api
  option httpchk GET /readyz
  server s1 127.0.0.1:$backend_port check inter 2s
CFG
        start "$s/haproxy" haproxy -db -f "$tmp/$s/haproxy.cfg"
        ;;
      cplb | cplb-cap)
        local cap=""
        [ "$target" = cplb-cap ] && cap=", max_buffer_memory: $slow_cap"
        cat >"$tmp/$s/$target.yaml" <<CFG
global: {workers: $workers, max_connections: 20000, shutdown_grace: 1s, data_path: ${BENCH_CPLB_DATA_PATH:-epoll}$cap}
admin: {listen: 127.0.0.1:$admin}
frontends:
  - {name: api, listen: 127.0.0.1:$fe, backend: api, idle_timeout: 1h}
backends:
  - name: api
    servers: [{name: s1, address: 127.0.0.1:$backend_port}]
    health_check: {protocol: http, path: /readyz, interval: 2s, timeout: 1s}
CFG
        start "$s/$target" "$CPLB_BIN" --config "$tmp/$s/$target.yaml"
        ;;
    esac
    pid=$last_pid
    wait_listen "$fe" --pid "$pid" || fail "$s: $target did not start listening"
    local -a admin_arg=()
    [ "$target" != haproxy ] && admin_arg=(--admin "$admin")
    : >"$pending"
    a=$("$python" "$lib/util.py" cpu $$)
    out=$(timeout $((slow_seconds + 300)) "$python" "$lib/slowread.py" client --connect "$fe" \
      --backend "$backend_port" --clients "$slow_clients" --bytes $((slow_stream_mib << 20)) \
      --seconds "$slow_seconds" --pids "$pid" "${admin_arg[@]}" --timeout 120) ||
      fail "$s: $target: the streams could not be set up or passed no byte (see above)"
    b=$("$python" "$lib/util.py" cpu $$)
    other=$(other_cpu "$a" "$b")
    is_running "$pid" || fail "$s: $target exited during the scenario"
    stop "$pid"
    local kind rest key value
    while IFS= read -r rest; do
      kind=${rest%% *} rest=${rest#* }
      case $kind in
        record) read -r key value <<<"$rest" && record "$target" 1 "$key" "$value" ;;
        say) say "  $rest" ;;
        bad) bad=$((bad + rest)) ;;
      esac
    done <<<"$("$python" "$lib/slowread.py" summary "$out" "$target" "${slow_cap%MiB}")"
    record "$target" 1 sr_other_cpu_pct "$other"
    cat "$pending" >>"$results"
  done
  stop "$backend_pid"
  [ "$bad" -eq 0 ] || fail "$s: $bad streams lost, reordered or added bytes (see above)"
  return 0
}

# upgrade: cplb's binary upgrade (SIGUSR2) and HAProxy's seamless reload (-W, SIGUSR2 to the
# master) side by side, alternating, under the same load (bench/lib/upgrade.py).
run_upgrade() {
  local s=upgrade
  local -a args=(--upgrades "$upgrades" --idle "$upgrade_idle" --workers "$workers" --cplb "$CPLB_BIN"
    --targets "${side_by_side[*]}" --tsv "$tmp/$s/results.tsv")
  [ "$smoke" = 1 ] && args+=(--smoke)
  say ""
  say "upgrade: $upgrades binary upgrade(s) of cplb and seamless reload(s) of HAProxy, alternating 3 s apart," \
    "under $upgrade_idle idle sessions, streams, bulk readers and a connect every 10 ms $(side_note)"
  mkdir -p "$tmp/$s"
  if ! timeout 300 "$python" "$lib/upgrade.py" run "${args[@]}" >"$tmp/$s/out.txt" 2>&1; then
    sed 's/^/  /' "$tmp/$s/out.txt" >&2
    fail "$s: a proxy could not be set up, passed no traffic or did not upgrade (see above)"
  fi
  sed -n '/^| metric/,/^raw /p' "$tmp/$s/out.txt" | sed '$d; s/^/  /'
  cat "$tmp/$s/results.tsv" >>"$results"
  return 0
}

# storm: a reconnect storm, what a VIP failover or an LB restart does to a control plane
# (bench/lib/storm.py, with its own backend and fresh targets): storm_clients clients connect
# within 1 s, then as fast as one client thread opens them, one GET with Connection: close each.
run_storm() {
  local client=$tmp/storm_client status=0
  command -v g++ >/dev/null || fail "storm: g++ not found (it builds bench/storm/storm_client.cpp)"
  g++ -O2 -std=c++20 -o "$client" "$root/bench/storm/storm_client.cpp" ||
    fail "storm: cannot build bench/storm/storm_client.cpp"
  say ""
  say "storm: $storm_clients clients connect within 1 s (paced) and as fast as the client opens them" \
    "(unpaced), one request each; $rounds round(s) x targets [${targets[*]}]"
  timeout 330 "$python" "$lib/storm.py" --client "$client" --cplb "$CPLB_BIN" --clients "$storm_clients" \
    --rounds "$rounds" --targets "${targets[*]}" --workers "$workers" --max-other-cpu "$max_other_cpu" \
    --retries "$retries_left" --budget 240 --tsv "$tmp/storm.tsv" || status=$?
  [ "$status" -eq 0 ] || fail "storm: a target could not be set up or served no client (exit $status, see above)"
  cat "$tmp/storm.tsv" >>"$results"
}

# --- main -------------------------------------------------------------------------------------------

begin=$(date +%s)
say "cplb benchmark $([ "$smoke" = 1 ] && echo '(smoke)') - $(date -u '+%Y-%m-%d %H:%M UTC')"
say "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(uname -r)"
say "peers:   $(haproxy -v | head -1 | cut -d' ' -f1-3), $(nginx -v 2>&1 | cut -d' ' -f3), $(iperf3 --version | head -1 | cut -d' ' -f1-2), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
say "cplb:    $CPLB_BIN ($("$CPLB_BIN" --version))"
setup="scenarios [${scenarios[*]}]"
[ "$speed" = 1 ] && setup+=", $rounds round(s) x targets [${targets[*]}], ${seconds}s per load, $idle_sessions idle sessions"
selected rollingrestart && setup+=", $watches watches"
selected detection && setup+=", $detection_trials detection trials"
selected slowread && setup+=", $slow_clients slow readers"
selected upgrade && setup+=", $upgrades upgrades under $upgrade_idle idle sessions"
selected storm && setup+=", $storm_clients storm clients"
say "setup:   $setup, $workers workers, open files $fd_limit"
check_load "before the run"

if [ "$speed" = 1 ]; then
  start_speed_backends
  for ((round = 1; round <= rounds; round++)); do
    order=()
    for ((i = 0; i < ${#targets[@]}; i++)); do order+=("${targets[(i + round - 1) % ${#targets[@]}]}"); done
    say ""
    say "round $round/$rounds: ${order[*]}"
    for target in "${order[@]}"; do
      start_target "$target" "$round"
      if selected idlemem; then
        : >"$pending"
        run_idlemem "$target" "$round"  # first, on a fresh process; memory, not CPU: no retry
        cat "$pending" >>"$results"
      fi
      if selected throughput; then measure "$target" "$round" run_throughput; fi
      if selected connrate; then measure "$target" "$round" run_wrk cr "$connrate_connections" -H 'Connection: close'; fi
      if selected reqrate; then measure "$target" "$round" run_wrk rr "$reqrate_connections"; fi
      if [ -n "$proxy_pid" ]; then
        is_running "$proxy_pid" || fail "$target exited during the run"
        stop "$proxy_pid"
      fi
    done
  done
fi

if selected rollingrestart || selected detection || selected slowread || selected upgrade; then
  if [ ${#side_by_side[@]} -eq 0 ]; then
    say ""
    say "rollingrestart, detection, slowread, upgrade: skipped (they compare haproxy and cplb; BENCH_TARGETS has neither)"
  else
    if [ "$speed" = 1 ]; then check_load "before the behaviour scenarios"; fi
    if selected rollingrestart; then run_rollingrestart; fi
    if selected detection; then run_detection; fi
    if selected slowread; then run_slowread; fi
    if selected upgrade; then run_upgrade; fi
  fi
fi

if selected storm; then
  check_load "before the storm"
  run_storm
fi

say ""
say "results ($([ "$speed" = 1 ] && echo "$rounds round(s), ")$(($(date +%s) - begin)) s):"
"$python" "$lib/report.py" "$results"
[ -n "${BENCH_RESULTS:-}" ] && cp "$results" "$BENCH_RESULTS"
exit 0
