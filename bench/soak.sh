#!/usr/bin/env bash
# cplb's soak (not in CI): SOAK_MINUTES of mixed load through cplb in front of three fake
# apiservers (bench/lib/slowread.py backends: /who, /watch, /bulk, /readyz), with a reload every
# 30 s, one apiserver flapping every 2 minutes and, with SOAK_UPGRADE=1, an upgrade (SIGUSR2) every
# SOAK_UPGRADE_EVERY minutes. Prints one line a minute (cplb's RSS, descriptors, CPU; the loads'
# successes and failures; the reloads) and a verdict at the end; exits 1 when it fails. See
# bench/README.md ("Soak") for the method and the verdict's rules.
#
#   bench/soak.sh                       30 minutes
#   SOAK_MINUTES=3 bench/soak.sh        a short check of the script
#
# Environment (defaults in brackets):
#   CPLB_BIN             cplb binary [build-release/src/app/cplb, else build/src/app/cplb]
#   SOAK_MINUTES         minutes of load [30]
#   SOAK_WATCHES         long streams (watches), each re-opened when it ends [50]
#   SOAK_CONNECT_MS      ms between two new connections (one GET /who each) [10]
#   SOAK_BULK_EVERY      s between two bulk downloads [60]
#   SOAK_BULK_MIB        MiB per bulk download, every byte checked [64]
#   SOAK_RELOAD_EVERY    s between two reloads (SIGHUP; the config alternates between three
#                        servers and two: a3 removed, a2's weight 2) [30]
#   SOAK_FLAP_EVERY      s between two flaps of a2, the first one at half of it; flaps alternate
#                        between stopping its process and failing its /readyz [120]
#   SOAK_FLAP_DOWN       s a flap lasts [20]
#   SOAK_UPGRADE         1: a binary upgrade every SOAK_UPGRADE_EVERY minutes: SIGUSR2 to cplb,
#                        then follow the new PID from the admin /status "pid" field; 0: none [1]
#   SOAK_UPGRADE_EVERY   minutes between two upgrades [5]
#   SOAK_WORKERS         cplb workers [2]
#   SOAK_LOG             also copy the per-minute table and the verdict to this file
# shellcheck disable=SC2317  # functions called through trap
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
lib=$root/bench/lib

say() { printf '%s\n' "$*"; }
fail() { printf 'soak: FAILED: %s\n' "$*" >&2; exit 1; }

case ${1:-} in
  "") ;;
  -h | --help) sed -n '2,/^# shellcheck/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) fail "unknown argument: $1 (try --help)" ;;
esac

minutes=${SOAK_MINUTES:-30}
watches=${SOAK_WATCHES:-50}
connect_ms=${SOAK_CONNECT_MS:-10}
bulk_every=${SOAK_BULK_EVERY:-60}
bulk_mib=${SOAK_BULK_MIB:-64}
reload_every=${SOAK_RELOAD_EVERY:-30}
flap_every=${SOAK_FLAP_EVERY:-120}
flap_down=${SOAK_FLAP_DOWN:-20}
upgrade=${SOAK_UPGRADE:-1}
upgrade_every=${SOAK_UPGRADE_EVERY:-5}
workers=${SOAK_WORKERS:-2}
for v in minutes watches connect_ms bulk_every bulk_mib reload_every flap_every flap_down upgrade_every workers; do
  [[ ${!v} =~ ^[0-9]+$ && ${!v} -ge 1 ]] || fail "$v=${!v}: a whole number, at least 1"
done
[ "$flap_down" -lt "$flap_every" ] || fail "SOAK_FLAP_DOWN ($flap_down) must be under SOAK_FLAP_EVERY ($flap_every)"

for tool in python3 curl timeout; do command -v "$tool" >/dev/null || fail "$tool not found"; done
python=$(python3 -c 'import sys; print(sys.executable)')
if [ -z "${CPLB_BIN:-}" ]; then
  CPLB_BIN=$root/build-release/src/app/cplb
  [ -x "$CPLB_BIN" ] || CPLB_BIN=$root/build/src/app/cplb
fi
[ -x "$CPLB_BIN" ] || fail "CPLB_BIN=$CPLB_BIN is not an executable (scripts/build)"
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# --- processes: everything started here is stopped by PID on exit ---------------------------------

tmp=$(mktemp -d /tmp/cplb-soak.XXXXXX)
started=()   # our children
adopted=()   # processes we did not fork but own: cplb's upgraded successors

is_running() {
  local state
  state=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
  [ "$state" != Z ]
}

stop_pid() {
  local pid=$1 i
  is_running "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do is_running "$pid" || break; sleep 0.1; done
  is_running "$pid" && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$? i
  trap - EXIT INT TERM
  for ((i = ${#adopted[@]} - 1; i >= 0; i--)); do stop_pid "${adopted[i]}"; done
  for ((i = ${#started[@]} - 1; i >= 0; i--)); do stop_pid "${started[i]}"; done
  if [ "$rc" -ne 0 ]; then
    for log in "$tmp"/*.log; do
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
  "$@" >>"$tmp/$name.log" 2>&1 &
  last_pid=$!
  started+=("$last_pid")
}

forget() {
  local pid=$1 i
  for i in "${!started[@]}"; do [ "${started[i]}" = "$pid" ] && unset 'started[i]'; done
  started=("${started[@]}")
}

now() { printf '%s' "$EPOCHREALTIME"; }  # wall clock, s.us: the load generator's clock too
# fault START END KIND: a window in which failures are the fault's doing (see soak.py verdict).
fault() { printf '%s %s %s\n' "$1" "$2" "$3" >>"$tmp/faults"; }

# --- backends and cplb ------------------------------------------------------------------------------

read -r p1 p2 p3 fe admin <<<"$("$python" "$lib/util.py" ports 5)"
declare -A api_port=([a1]=$p1 [a2]=$p2 [a3]=$p3) api_pid=()
start_api() {
  start "api-$1" "$python" "$lib/slowread.py" backend --port "${api_port[$1]}" --name "$1"
  api_pid[$1]=$last_pid
  "$python" "$lib/util.py" wait-listen 10 "${api_port[$1]}" --pid "$last_pid" || fail "apiserver $1 did not start"
}
for name in a1 a2 a3; do start_api "$name"; done

# Config A: three servers of weight 1. Config B: a3 removed, a2 of weight 2. Reloads alternate.
write_config() {
  local servers
  if [ "$1" = A ]; then
    servers="{name: a1, address: 127.0.0.1:$p1}, {name: a2, address: 127.0.0.1:$p2}, {name: a3, address: 127.0.0.1:$p3}"
  else
    servers="{name: a1, address: 127.0.0.1:$p1}, {name: a2, address: 127.0.0.1:$p2, weight: 2}"
  fi
  cat >"$tmp/cplb.yaml.new" <<EOF
global: {workers: $workers, shutdown_grace: 2s}
admin: {listen: 127.0.0.1:$admin}
frontends:
  - {name: api, listen: 127.0.0.1:$fe, backend: api, idle_timeout: 1h, retries: 2}
backends:
  - name: api
    balance: least_conn
    on_server_down: drain
    drain: {grace: 2s, spread: 5s, not_ready_grace: 5s}
    rebalance: {threshold: 1.25, spread: 10s, quiet: 2s}
    servers: [$servers]
    health_check: {protocol: http, path: /readyz, interval: 1s, timeout: 1s, fast_interval: 250ms, rise: 2, fall: 2}
EOF
  mv "$tmp/cplb.yaml.new" "$tmp/cplb.yaml"
}
write_config A
config=A
"$CPLB_BIN" --config "$tmp/cplb.yaml" --check >/dev/null || fail "config A does not pass --check"
write_config B
"$CPLB_BIN" --config "$tmp/cplb.yaml" --check >/dev/null || fail "config B does not pass --check"
write_config A
start cplb "$CPLB_BIN" --config "$tmp/cplb.yaml"
cplb=$last_pid
"$python" "$lib/util.py" wait-listen 10 "$fe" "$admin" --pid "$cplb" || fail "cplb did not start listening"
for ((i = 0; i < 100; i++)); do
  curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$fe/who" && break
  sleep 0.1
done
[ "$i" -lt 100 ] || fail "cplb passes no request after 10 s"
sleep 3  # every server has passed its checks

metric() {  # metric REGEX: the sum of cplb's /metrics samples whose line starts with REGEX
  local text
  text=$(curl -sf --max-time 2 "http://127.0.0.1:$admin/metrics") || return 1
  awk -v re="^$1" '$0 ~ re { sum += $NF } END { print sum + 0 }' <<<"$text"
}
fds() { find "/proc/$cplb/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
idle_fds_before=$(fds)

# --- the schedule -------------------------------------------------------------------------------------

reloads_ok=0 reloads_failed=0
reload() {
  local before after i t
  t=$(now)
  before=$(metric 'cplb_config_reloads_total[{]result="success"') || before=-1
  if [ "$config" = A ]; then config=B; else config=A; fi
  write_config "$config"
  kill -HUP "$cplb"
  for ((i = 0; i < 50; i++)); do
    sleep 0.1
    after=$(metric 'cplb_config_reloads_total[{]result="success"') || after=-1
    [ "$after" -gt "$before" ] && break
  done
  if [ "$before" -ge 0 ] && [ "$after" -gt "$before" ]; then
    reloads_ok=$((reloads_ok + 1))
  else
    reloads_failed=$((reloads_failed + 1))
    say "  reload to config $config failed (cplb_config_reloads_total success $before -> $after)"
  fi
  fault "$t" "$(now)" "reload-$config"
}

flaps=0 flap_mode="" flap_began=""
flap_start() {
  flap_began=$(now)
  if [ $((flaps % 2)) = 0 ]; then
    flap_mode=stop
    stop_pid "${api_pid[a2]}"
    forget "${api_pid[a2]}"
  else
    flap_mode=readyz
    curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$p2/ready?mode=500" || say "  flap: a2's control does not answer"
  fi
  flaps=$((flaps + 1))
}
flap_end() {
  if [ "$flap_mode" = stop ]; then start_api a2
  else curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$p2/ready?mode=ok" || say "  flap: a2's control does not answer"; fi
  fault "$flap_began" "$(now)" "flap-$flap_mode"
  flap_mode=""
}

upgrades=0 upgrades_failed=0
upgrade_now() {
  local t old=$cplb new="" i
  t=$(now)
  kill -USR2 "$old"
  for ((i = 0; i < 300; i++)); do
    sleep 0.1
    new=$(curl -sf --max-time 1 "http://127.0.0.1:$admin/status" |
      "$python" -c 'import json, sys; print(json.load(sys.stdin).get("pid", ""))' 2>/dev/null) || new=""
    [ -n "$new" ] && [ "$new" != "$old" ] && break
  done
  if [ -n "$new" ] && [ "$new" != "$old" ] && is_running "$new"; then
    adopted+=("$new")
    cplb=$new
    # CPU is counted per process: the minute's figure covers the new one from here on.
    read -r _ cpu_prev <<<"$("$python" "$lib/util.py" stat "$cplb")"
    upgrades=$((upgrades + 1))
    for ((i = 0; i < 100; i++)); do is_running "$old" || break; sleep 0.1; done
    is_running "$old" && say "  upgrade: the old cplb $old still runs 10 s after its successor $new took over"
  else
    upgrades_failed=$((upgrades_failed + 1))
    say "  upgrade failed: /status names no new pid (was $old, now '${new}') in 30 s"
  fi
  fault "$t" "$(now)" upgrade
}

# --- run ------------------------------------------------------------------------------------------------

: >"$tmp/faults"
: >"$tmp/events"
start load "$python" "$lib/soak.py" load --frontend "$fe" --status "$tmp/status" --events "$tmp/events" \
  --watches "$watches" --every "$(awk "BEGIN { print $connect_ms / 1000 }")" --bulk-every "$bulk_every" \
  --bulk-bytes $((bulk_mib << 20))
load=$last_pid

say "cplb soak - $(date -u '+%Y-%m-%d %H:%M UTC'), $minutes minutes"
say "machine: $(nproc) CPUs, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
say "cplb:    $CPLB_BIN ($("$CPLB_BIN" --version)), pid $cplb, $workers workers"
say "load:    a new connection every ${connect_ms} ms (GET /who), $watches watches, ${bulk_mib} MiB bulk every ${bulk_every} s"
say "faults:  reload every ${reload_every} s (config A: 3 servers / B: a3 removed, a2 weight 2); a2 flaps" \
  "every ${flap_every} s for ${flap_down} s (process stopped / readyz 500, alternately);" \
  "$([ "$upgrade" = 1 ] && echo "upgrade (SIGUSR2) every $upgrade_every min" || echo "upgrade off (SOAK_UPGRADE=0)")"
say "idle:    cplb holds $idle_fds_before descriptors before the load"
say ""
header=$(printf '%6s %9s %5s %6s %11s %6s %7s %6s %5s %6s %9s %6s  %s' minute rss_kib fds cpu_pct \
  connects_ok failed watch_brk w_fail bulk b_fail reloads r_fail faults)
say "$header"
printf '%s\n' "$header" >"$tmp/samples"

begin=${EPOCHSECONDS}
end_at=$((begin + 60 * minutes))
next_reload=$((begin + reload_every))
next_flap=$((begin + flap_every / 2))
flap_until=0
next_upgrade=$((begin + 60 * upgrade_every))
minute=0
read -r _ cpu_prev <<<"$("$python" "$lib/util.py" stat "$cplb")"
declare -A prev=([connects_ok]=0 [connects_failed]=0 [watch_breaks]=0 [watch_open_failed]=0 [bulk_ok]=0 [bulk_failed]=0)
prev_reloads_ok=0 prev_reloads_failed=0 minute_faults=""

sample() {
  local rss cpu line cpu_pct
  minute=$((minute + 1))
  read -r rss cpu <<<"$("$python" "$lib/util.py" stat "$cplb")" || fail "cplb (pid $cplb) is gone"
  cpu_pct=$(awk "BEGIN { printf \"%.1f\", 100 * ($cpu - $cpu_prev) / 60 }")
  cpu_prev=$cpu
  [ -s "$tmp/status" ] || fail "the load generator writes no status"
  local -A now_counts
  while read -r k v; do now_counts[$k]=$v; done < <("$python" -c '
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("connects_ok", "connects_failed", "watch_breaks", "watch_open_failed", "bulk_ok", "bulk_failed"):
    print(k, d[k])' "$tmp/status")
  line=$(printf '%6d %9d %5d %6s %11d %6d %7d %6d %5d %6d %9d %6d  %s' "$minute" "$rss" "$(fds)" "$cpu_pct" \
    $((now_counts[connects_ok] - prev[connects_ok])) $((now_counts[connects_failed] - prev[connects_failed])) \
    $((now_counts[watch_breaks] - prev[watch_breaks])) $((now_counts[watch_open_failed] - prev[watch_open_failed])) \
    $((now_counts[bulk_ok] - prev[bulk_ok])) $((now_counts[bulk_failed] - prev[bulk_failed])) \
    $((reloads_ok - prev_reloads_ok)) $((reloads_failed - prev_reloads_failed)) "${minute_faults:--}")
  for k in "${!prev[@]}"; do prev[$k]=${now_counts[$k]}; done
  prev_reloads_ok=$reloads_ok prev_reloads_failed=$reloads_failed minute_faults=""
  say "$line"
  printf '%s\n' "$line" >>"$tmp/samples"
}

next_sample=$((begin + 60))
while :; do
  t=${EPOCHSECONDS}
  is_running "$cplb" || fail "cplb (pid $cplb) exited"
  is_running "$load" || fail "the load generator exited"
  if [ "$t" -ge "$next_sample" ]; then
    sample
    next_sample=$((next_sample + 60))
    [ "$t" -ge "$end_at" ] && break
  fi
  if [ -n "$flap_mode" ] && [ "$t" -ge "$flap_until" ]; then
    flap_end
  fi
  if [ "$t" -ge "$next_reload" ] && [ "$t" -lt "$end_at" ]; then
    reload
    minute_faults+="${minute_faults:+,}R$config"
    next_reload=$((next_reload + reload_every))
  fi
  # A flap starts only if it ends before the run does.
  if [ -z "$flap_mode" ] && [ "$t" -ge "$next_flap" ] && [ $((t + flap_down + 5)) -lt "$end_at" ]; then
    flap_start
    minute_faults+="${minute_faults:+,}F$flap_mode"
    flap_until=$((t + flap_down))
    next_flap=$((next_flap + flap_every))
  fi
  if [ "$upgrade" = 1 ] && [ "$t" -ge "$next_upgrade" ] && [ $((t + 30)) -lt "$end_at" ]; then
    upgrade_now
    minute_faults+="${minute_faults:+,}U"
    next_upgrade=$((next_upgrade + 60 * upgrade_every))
  fi
  sleep 0.2
done
[ -z "$flap_mode" ] || flap_end

# The load ends; once its sessions have closed, cplb should hold what it held before it began.
stop_pid "$load"
forget "$load"
sleep 5
idle_fds_after=$(fds)
rebalanced=$(metric cplb_rebalance_closed_sessions_total) || rebalanced="?"
ends=$(curl -sf --max-time 2 "http://127.0.0.1:$admin/metrics" | grep '^cplb_session_ends_total' |
  sed 's/.*reason="\([a-z_]*\)".*} */\1=/' | awk -F= '$2 > 0 { printf "%s%s=%s", sep, $1, $2; sep=" " }') || ends="?"
say ""
say "cplb session ends by reason: $ends; rebalance closes: $rebalanced"
say "load totals: $("$python" -c '
import json, sys
d = json.load(open(sys.argv[1]))
print("{connects_ok} connects ok, {connects_failed} failed; {watch_opens} watch opens, {watch_breaks} breaks,"
      " {watch_open_failed} failed opens; {bulk_ok} bulk ok ({bulk_mib:.0f} MiB), {bulk_failed} failed;"
      " answers {answers}".format(**d))' "$tmp/status")"
[ "$upgrade" = 1 ] && say "upgrades: $upgrades ok, $upgrades_failed failed"
set +e
"$python" "$lib/soak.py" verdict --samples "$tmp/samples" --faults "$tmp/faults" --events "$tmp/events" \
  --idle-fds "$idle_fds_before" "$idle_fds_after" | tee "$tmp/verdict"
rc=${PIPESTATUS[0]}
set -e
[ "$upgrades_failed" = 0 ] || { say "FAIL: $upgrades_failed upgrades failed"; rc=1; }
[ -n "${SOAK_LOG:-}" ] && cat "$tmp/samples" "$tmp/verdict" >"$SOAK_LOG"
exit "$rc"
