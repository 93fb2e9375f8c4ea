#!/usr/bin/env python3
"""Reconnect storm: N clients connect within one second through a proxy, one request each
(stdlib only; the load comes from bench/storm/storm_client, a C++ epoll client).

  storm.py --client BIN --cplb BIN [--clients 8000] [--spread-ms 1000] [--rounds 3]
           [--targets "direct haproxy nginx cplb"] [--variant NAME=CPLB_BIN]... [--workers 2]
           [--timeout-ms 10000] [--modes "paced unpaced"] [--budget 300] [--tsv FILE]
           [--gap 1] [--max-other-cpu 10] [--retries 8] [--keep-tmp] [--json FILE]
           [--attach CMD [--attach-targets cplb] [--attach-dir DIR]]

What a VIP failover or an LB restart does to a control plane: every kubelet reconnects in the
same second. Backend: one nginx (HTTP, 2 workers, three ports, a 100-byte page, worker_connections
and listen backlogs large enough that the backend is never the bottleneck). Targets, as in
bench/run.sh (2 workers/threads, least connections over the three ports, TCP health checks every
2 s, each product's defaults otherwise, listen backlog included): direct (the backend itself),
haproxy, nginx (stream), cplb; --variant NAME=BIN adds a cplb target running another binary (to
measure a patch: same config). Each round starts every target afresh, in rotated order, and runs
on it a paced storm (N connects evenly over --spread-ms) and an unpaced one (N connects as fast as
the client opens them), --gap seconds apart.

Per storm: served, failures by kind, the time from the first connect to the last client served,
p50/p99/max of connect and first-byte latency (from connect()), the proxy's CPU seconds
(utime + stime over its process tree, /proc/PID/stat; per thread for cplb), the kernel's
listen-queue overflows and SYN retransmissions during it (/proc/net/netstat, machine-wide:
nothing else uses loopback here), the deepest accept queue of the target's listeners
(sock_diag, sampled every 10 ms), the CPU other processes took (% of all CPUs; a storm during
which they took more than --max-other-cpu is run once more, at most --retries times per run)
and the load average. Prints a markdown table of the medians over the rounds ([min-max] for the
times) and a TSV (TARGET ROUND METRIC VALUE, as bench/run.sh's results; printed when --tsv
names no file). Exits 3 when a storm served no client at all (a target that passes no traffic),
1 on a setup error. Every process started here is stopped by PID.

Profiling: --attach 'strace -c -f -o {out} -p {pid}' (or 'perf record -e cpu-clock -g -o {out}
-p {pid}') runs that command on the proxy during each storm of the --attach-targets.
"""
import argparse
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from util import alive, free_ports, listening_ports, machine_jiffies, process_tree, tree_jiffies  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
NGINX_STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"

started = []  # Popen objects, in start order


def say(*args):
    print(*args, flush=True)


def start(name, argv, tmp):
    log = open(os.path.join(tmp, name.replace("/", "-") + ".log"), "w")
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    started.append(p)
    return p


def stop(p):
    """TERM to the process, then KILL to whatever of its tree is left (nginx workers)."""
    if p.poll() is not None:
        return
    tree = process_tree([p.pid])
    try:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=5)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        pass
    for pid in tree:
        if alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    try:
        p.wait(timeout=2)
    except subprocess.TimeoutExpired:
        pass
    if p in started:
        started.remove(p)


def stop_all():
    for p in reversed(list(started)):
        stop(p)


def wait_listen(ports, proc, seconds=10):
    deadline = time.monotonic() + seconds
    while not set(ports) <= listening_ports():
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.pid} exited (see its log)")
        if time.monotonic() > deadline:
            raise RuntimeError(f"ports {ports} not listening after {seconds}s")
        time.sleep(0.05)


def http_ok(port, timeout=1.0):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            return data.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def tree_cpu_seconds(pid):
    """utime + stime over PID's live process tree (nginx: master and workers)."""
    total = 0
    for p in process_tree([pid]):
        try:
            with open(f"/proc/{p}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def thread_cpu(pid):
    """{thread name: CPU seconds} of the process's threads (cplb-worker-N, ...)."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        key = name if name not in out else f"{name}/{tid}"
        out[key] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


def netstat():
    """TcpExt counters of /proc/net/netstat."""
    out = {}
    with open("/proc/net/netstat") as f:
        lines = f.read().splitlines()
    for names, values in zip(lines[::2], lines[1::2]):
        n, v = names.split(), values.split()
        if n[0] == "TcpExt:":
            out.update(zip(n[1:], (int(x) for x in v[1:])))
    return out


def _listen_queues():
    """{port: [accept queue length of each listener]} of every TCP LISTEN socket (sock_diag)."""
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 4)  # NETLINK_SOCK_DIAG
    try:
        out = {}
        for family in (socket.AF_INET, socket.AF_INET6):
            # inet_diag_req_v2: family, protocol, ext, pad, states; then an empty inet_diag_sockid.
            req = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, 1 << 10) + bytes(48)
            hdr = struct.pack("=IHHII", 16 + len(req), 20, 0x301, 1, 0)  # SOCK_DIAG_BY_FAMILY, REQUEST|DUMP
            s.send(hdr + req)
            done = False
            while not done:
                data = s.recv(65536)
                off = 0
                while off + 16 <= len(data):
                    length, kind = struct.unpack_from("=IH", data, off)
                    if kind == 3 or kind == 2:  # NLMSG_DONE, NLMSG_ERROR
                        done = True
                        break
                    body = off + 16
                    sport = struct.unpack_from("!H", data, body + 4)[0]
                    rqueue = struct.unpack_from("=I", data, body + 4 + 48 + 4)[0]
                    out.setdefault(sport, []).append(rqueue)
                    off += (length + 3) & ~3
                if not data:
                    break
        return out
    finally:
        s.close()


class QueueSampler(threading.Thread):
    """Deepest accept queue seen on PORT's listeners, every 5 ms, until stopped."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.peak_one, self.peak_sum, self.error = port, 0, 0, None
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            try:
                q = _listen_queues().get(self.port, [])
            except OSError as e:
                self.error = str(e)
                return
            if q:
                self.peak_one = max(self.peak_one, max(q))
                self.peak_sum = max(self.peak_sum, sum(q))
            self.halt.wait(0.01)


# --- configs ---------------------------------------------------------------------------------------


def backend_config(tmp, ports, workers, fd_limit):
    d = os.path.join(tmp, "http")
    os.makedirs(os.path.join(d, "www"), exist_ok=True)
    os.makedirs(os.path.join(d, "logs"), exist_ok=True)
    for p in (tmp, d, os.path.join(d, "www")):
        os.chmod(p, 0o755)
    with open(os.path.join(d, "www", "index.html"), "w") as f:
        f.write("x" * 100)
    os.chmod(os.path.join(d, "www", "index.html"), 0o644)
    # Not the bench's backend verbatim: 8,000 connections at once need worker_connections and a
    # listen backlog above nginx's 512 default, or the backend, not the proxy, is measured.
    listens = "\n".join(f"    listen 127.0.0.1:{p} backlog=4096;" for p in ports)
    conf = f"""worker_processes {workers};
worker_rlimit_nofile {fd_limit - 100};
pid {d}/nginx.pid;
error_log {d}/logs/error.log warn;
events {{ worker_connections {fd_limit - 200}; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  keepalive_requests 100000000;
  server {{
{listens}
    root {d}/www;
  }}
}}
"""
    path = os.path.join(d, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf)
    return d, path


def target_config(kind, d, fe, admin, backends, workers, fd_limit):
    """Writes the config of KIND (haproxy, nginx, cplb) into D; returns its argv tail."""
    maxconn = (fd_limit - 200) // 2
    b1, b2, b3 = backends
    if kind == "haproxy":
        path = os.path.join(d, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(f"""global
  nbthread {workers}
  maxconn {maxconn}
defaults
  mode tcp
  maxconn {maxconn}
  timeout connect 3s
  timeout client 1h
  timeout server 1h
  timeout check 1s
  default-server check inter 2s
frontend http
  bind 127.0.0.1:{fe}
  default_backend http
backend http
  balance leastconn
  server s1 127.0.0.1:{b1}
  server s2 127.0.0.1:{b2}
  server s3 127.0.0.1:{b3}
""")
        return ["haproxy", "-db", "-f", path]
    if kind == "nginx":
        path = os.path.join(d, "nginx.conf")
        with open(path, "w") as f:
            f.write(f"""load_module {NGINX_STREAM_MODULE};
worker_processes {workers};
worker_rlimit_nofile {fd_limit - 100};
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections {2 * maxconn}; }}
stream {{
  proxy_connect_timeout 3s;
  proxy_timeout 1h;
  upstream http {{ least_conn; server 127.0.0.1:{b1}; server 127.0.0.1:{b2}; server 127.0.0.1:{b3}; }}
  server {{ listen 127.0.0.1:{fe}; proxy_pass http; }}
}}
""")
        return ["nginx", "-p", d, "-c", path, "-g", "daemon off;"]
    path = os.path.join(d, "cplb.yaml")
    with open(path, "w") as f:
        f.write(f"""global: {{workers: {workers}, max_connections: 20000, shutdown_grace: 1s}}
admin: {{listen: 127.0.0.1:{admin}}}
frontends:
  - {{name: http, listen: 127.0.0.1:{fe}, backend: http, idle_timeout: 1h}}
backends:
  - name: http
    balance: least_conn
    servers: [{{name: s1, address: 127.0.0.1:{b1}}}, {{name: s2, address: 127.0.0.1:{b2}}}, {{name: s3, address: 127.0.0.1:{b3}}}]
    health_check: {{protocol: tcp, interval: 2s, timeout: 1s}}
""")
    return ["--config", path]


# --- one storm -------------------------------------------------------------------------------------


def attach(args, target, mode, rnd, pid):
    """Starts --attach's command on PID for this storm (strace, perf); returns it or None."""
    if not args.attach or not pid or target not in args.attach_targets.split():
        return None
    os.makedirs(args.attach_dir, exist_ok=True)
    out = os.path.join(args.attach_dir, f"{target}-{mode}-{rnd}.txt")
    argv = [a.replace("{pid}", str(pid)).replace("{out}", out) for a in args.attach.split()]
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(out + ".err", "w"))
    time.sleep(args.attach_settle)  # attached before the first connect
    return p


def detach(p):
    if p is None:
        return
    p.send_signal(signal.SIGINT)  # strace -c and perf write their summary on SIGINT
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def run_storm(args, port, pid, unpaced):
    cmd = [args.client, "--connect", f"127.0.0.1:{port}", "--clients", str(args.clients),
           "--timeout-ms", str(args.timeout_ms)]
    cmd += ["--unpaced"] if unpaced else ["--spread-ms", str(args.spread_ms)]
    if args.sources:
        cmd += ["--sources", str(args.sources)]
    sampler = QueueSampler(port)
    net0, cpu0 = netstat(), tree_cpu_seconds(pid) if pid else 0.0
    threads0 = thread_cpu(pid) if pid else {}
    busy0, total0 = machine_jiffies()
    ours0 = tree_jiffies(os.getpid())
    sampler.start()
    limit = (args.spread_ms / 1000 if not unpaced else 0) + args.timeout_ms / 1000 + 20
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=limit)
    sampler.halt.set()
    sampler.join()
    busy1, total1 = machine_jiffies()
    ours1 = tree_jiffies(os.getpid())
    net1, cpu1 = netstat(), tree_cpu_seconds(pid) if pid else 0.0
    threads1 = thread_cpu(pid) if pid else {}
    line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    if not line.startswith("{"):
        raise RuntimeError(f"storm_client printed no result (rc {out.returncode}): {out.stderr.strip()}")
    r = json.loads(line)
    r["proxy_cpu_s"] = cpu1 - cpu0 if pid else None
    r["threads_cpu_s"] = {k: round(threads1[k] - threads0.get(k, 0), 2) for k in threads1
                          if threads1[k] - threads0.get(k, 0) > 0}
    r["listen_overflows"] = net1.get("ListenOverflows", 0) - net0.get("ListenOverflows", 0)
    r["listen_drops"] = net1.get("ListenDrops", 0) - net0.get("ListenDrops", 0)
    r["syn_retrans"] = net1.get("TCPSynRetrans", 0) - net0.get("TCPSynRetrans", 0)
    r["accept_queue_peak"] = sampler.peak_one
    r["accept_queue_peak_sum"] = sampler.peak_sum
    # Jiffies: a storm of a few hundred ms is a few dozen of them; clamped at 0.
    r["other_cpu_pct"] = max(0.0, 100 * ((busy1 - busy0) - (ours1 - ours0)) / max(1, total1 - total0))
    r["loadavg"] = float(open("/proc/loadavg").read().split()[0])
    return r


# --- report ----------------------------------------------------------------------------------------

# key in the storm result -> (TSV metric suffix, label, format)
FIELDS = [
    ("served", "served", "served", "{:.0f}"),
    ("failed", "failed", "failed", "{:.0f}"),
    ("last_served_ms", "last_ms", "last served, ms", "{:.0f}"),
    ("connect_p50", "connect_p50_ms", "connect p50", "{:.2f}"),
    ("connect_p99", "connect_p99_ms", "connect p99", "{:.1f}"),
    ("connect_max", "connect_max_ms", "connect max", "{:.0f}"),
    ("first_p50", "first_byte_p50_ms", "first byte p50", "{:.2f}"),
    ("first_p99", "first_byte_p99_ms", "first byte p99", "{:.1f}"),
    ("first_max", "first_byte_max_ms", "first byte max", "{:.0f}"),
    ("proxy_cpu_s", "proxy_cpu_s", "proxy CPU s", "{:.2f}"),
    ("listen_overflows", "listen_overflows", "listen overflows", "{:.0f}"),
    ("syn_retrans", "syn_retrans", "SYN retrans", "{:.0f}"),
    ("accept_queue_peak", "accept_queue_peak", "accept queue peak", "{:.0f}"),
    ("other_cpu_pct", "other_cpu_pct", "other CPU %", "{:.0f}"),
    ("loadavg", "loadavg", "load", "{:.1f}"),
]


def flatten(r):
    f = dict(r)
    for key, short in (("connect_ms", "connect"), ("first_byte_ms", "first")):
        for p in ("p50", "p99", "max"):
            v = r[key][p]
            f[f"{short}_{p}"] = v if v is not None else float("nan")
    return f


def fmt(fmtstr, v):
    if v is None or v != v:
        return "n/a"
    return fmtstr.format(v)


def report(results, targets, modes, clients):
    """results: {(target, mode): [flattened result per round]}"""
    say("")
    say(f"storm: {clients} clients, median over the rounds [min-max]; latencies in ms from connect()")
    cols = ["target", "mode"] + [label for _, _, label, _ in FIELDS] + ["failures"]
    say("| " + " | ".join(cols) + " |")
    say("|" + "---|" * len(cols))
    spread_keys = {"last_served_ms", "first_p99", "first_p50"}
    for mode in modes:
        for target in targets:
            rs = results.get((target, mode), [])
            if not rs:
                continue
            cells = [target, mode]
            for key, _, _, f in FIELDS:
                vals = [r[key] for r in rs if r.get(key) is not None and r[key] == r[key]]
                if not vals:
                    cells.append("n/a")
                    continue
                cell = fmt(f, statistics.median(vals))
                if key in spread_keys and len(vals) > 1:
                    cell += f" [{fmt(f, min(vals))}-{fmt(f, max(vals))}]"
                cells.append(cell)
            kinds = {}
            for r in rs:
                for k, n in r["failures"].items():
                    if n:
                        kinds[k] = kinds.get(k, 0) + n
            cells.append(", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) or "-")
            say("| " + " | ".join(cells) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--client", required=True, help="the storm_client binary")
    ap.add_argument("--cplb", help="the cplb binary (target cplb)")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=BIN",
                    help="another cplb binary as target NAME (same config)")
    ap.add_argument("--targets", default="direct haproxy nginx cplb")
    ap.add_argument("--modes", default="paced unpaced")
    ap.add_argument("--clients", type=int, default=8000)
    ap.add_argument("--spread-ms", type=float, default=1000)
    ap.add_argument("--timeout-ms", type=float, default=10000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--gap", type=float, default=1.0, help="seconds between storms")
    ap.add_argument("--sources", type=int, default=0, help="storm_client --sources")
    ap.add_argument("--max-other-cpu", type=float, default=10,
                    help="run a storm once more when other processes took more than this %% of the CPUs")
    ap.add_argument("--retries", type=int, default=8, help="... at most this many times in the run")
    ap.add_argument("--budget", type=float, default=300, help="stop starting rounds after this many s")
    ap.add_argument("--tsv", help="also write the measurements here (TARGET ROUND METRIC VALUE)")
    ap.add_argument("--json", help="also write every storm's full result here (JSON lines)")
    ap.add_argument("--keep-tmp", action="store_true")
    ap.add_argument("--attach", help="profile each storm: a command run on the proxy's PID during it, "
                    "stopped with SIGINT after; {pid} and {out} (a file in --attach-dir) are replaced, "
                    "e.g. 'strace -c -f -o {out} -p {pid}' or 'perf record -g -o {out} -p {pid}'")
    ap.add_argument("--attach-targets", default="cplb", help="targets --attach applies to [cplb]")
    ap.add_argument("--attach-dir", default="storm-profile")
    ap.add_argument("--attach-settle", type=float, default=1.0, help="seconds from attaching to the storm")
    args = ap.parse_args()

    variants = dict(v.split("=", 1) for v in args.variant)
    targets = args.targets.split() + [v for v in variants if v not in args.targets.split()]
    modes = args.modes.split()
    for t in targets:
        if t == "cplb" and not args.cplb:
            ap.error("target cplb needs --cplb")
        if t not in ("direct", "haproxy", "nginx", "cplb") and t not in variants:
            ap.error(f"unknown target {t}")
    for m in modes:
        if m not in ("paced", "unpaced"):
            ap.error(f"unknown mode {m}")

    # Proxies need ~2 descriptors per session, the client and backend one: all of the hard limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    fd_limit = hard
    if fd_limit < 2 * args.clients + 200:
        ap.error(f"open-files limit {fd_limit} is too low for {args.clients} sessions through a proxy")

    begin = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="cplb-storm.")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    results, tsv, raw = {}, [], []
    retries_left = args.retries
    try:
        backends = free_ports(3)
        d, conf = backend_config(tmp, backends, args.workers, fd_limit)
        backend = start("http-backend", ["nginx", "-p", d, "-c", conf, "-g", "daemon off;"], tmp)
        wait_listen(backends, backend)
        if not http_ok(backends[0]):
            raise RuntimeError("the nginx backend does not serve")
        say(f"storm: {args.clients} clients, paced over {args.spread_ms:.0f} ms and unpaced; "
            f"{args.rounds} round(s) x [{' '.join(targets)}], {args.workers} workers; "
            f"somaxconn {open('/proc/sys/net/core/somaxconn').read().strip()}, "
            f"tcp_max_syn_backlog {open('/proc/sys/net/ipv4/tcp_max_syn_backlog').read().strip()}, "
            f"open files {fd_limit}; load {open('/proc/loadavg').read().split()[0]}")
        for rnd in range(1, args.rounds + 1):
            if time.monotonic() - begin > args.budget:
                say(f"storm: time budget of {args.budget:.0f}s used up: {rnd - 1} round(s)")
                break
            order = targets[rnd - 1:] + targets[:rnd - 1]
            say(f"round {rnd}/{args.rounds}: {' '.join(order)}")
            for target in order:
                proc, pid = None, None
                if target == "direct":
                    port = backends[0]
                else:
                    port, admin = free_ports(2)
                    tdir = os.path.join(tmp, f"{target}-{rnd}")
                    os.makedirs(tdir)
                    kind = "cplb" if target in variants else target
                    tail = target_config(kind, tdir, port, admin, backends, args.workers, fd_limit)
                    if kind == "cplb":
                        argv = [variants.get(target, args.cplb)] + tail
                    else:
                        argv = tail
                    proc = start(f"{target}-{rnd}", argv, tmp)
                    pid = proc.pid
                    wait_listen([port], proc)
                    for _ in range(100):
                        if http_ok(port):
                            break
                        if proc.poll() is not None:
                            raise RuntimeError(f"{target} exited")
                        time.sleep(0.1)
                    else:
                        raise RuntimeError(f"{target} passes no request after 10 s")
                    time.sleep(1)  # every server health-checked
                for mode in modes:
                    for attempt in (1, 2):
                        tracer = attach(args, target, mode, rnd, pid)
                        try:
                            r = run_storm(args, port, pid, mode == "unpaced")
                        finally:
                            detach(tracer)
                        if proc is not None and proc.poll() is not None:
                            raise RuntimeError(f"{target} exited during the storm")
                        if r["other_cpu_pct"] <= args.max_other_cpu or attempt == 2 or retries_left <= 0:
                            break
                        retries_left -= 1
                        say(f"  {target:8} {mode:8} other processes took {r['other_cpu_pct']:.0f}% of the CPUs: "
                            f"once more")
                        time.sleep(args.gap)
                    f = flatten(r)
                    results.setdefault((target, mode), []).append(f)
                    raw.append({"target": target, "round": rnd, "mode": mode, **r})
                    prefix = "storm" if mode == "paced" else "ustorm"
                    for key, suffix, _, _ in FIELDS:
                        if f.get(key) is not None and f[key] == f[key]:
                            tsv.append((target, rnd, f"{prefix}_{suffix}", f[key]))
                    fails = ", ".join(f"{k} {n}" for k, n in r["failures"].items() if n) or "no failures"
                    threads = ""
                    if r["threads_cpu_s"] and kind_of(target, variants) == "cplb":
                        threads = " (" + ", ".join(f"{k} {v:.2f}" for k, v in sorted(r["threads_cpu_s"].items())) + ")"
                    cpu = f", proxy CPU {r['proxy_cpu_s']:.2f} s{threads}" if pid else ""
                    say(f"  {target:8} {mode:8} {r['served']}/{r['clients']} served in {r['last_served_ms']:.0f} ms "
                        f"(opened over {r['opened_ms']:.0f} ms), connect p50/p99/max "
                        f"{fmt('{:.2f}', f['connect_p50'])}/{fmt('{:.1f}', f['connect_p99'])}/{fmt('{:.0f}', f['connect_max'])}, "
                        f"first byte {fmt('{:.2f}', f['first_p50'])}/{fmt('{:.1f}', f['first_p99'])}/{fmt('{:.0f}', f['first_max'])} ms"
                        f"{cpu}; {fails}; overflows {r['listen_overflows']}, SYN retrans {r['syn_retrans']}, "
                        f"accept queue peak {r['accept_queue_peak']}; other CPU {r['other_cpu_pct']:.0f}%, load {r['loadavg']:.1f}")
                    time.sleep(args.gap)
                if proc is not None:
                    stop(proc)
        report(results, targets, modes, args.clients)
        if args.tsv:
            with open(args.tsv, "w") as f:
                for row in tsv:
                    f.write("\t".join(str(x) for x in row) + "\n")
        else:
            say("")
            say("TSV (target round metric value):")
            for row in tsv:
                say("\t".join(str(x) for x in row))
        if args.json:
            with open(args.json, "w") as f:
                for r in raw:
                    f.write(json.dumps(r) + "\n")
        say(f"storm: {time.monotonic() - begin:.0f} s")
        unserved = sorted({f"{t} {m}" for (t, m), rs in results.items() if any(r["served"] == 0 for r in rs)})
        if unserved:
            say(f"storm: FAILED: no client served in: {', '.join(unserved)}")
            return 3
        return 0
    finally:
        stop_all()
        if not args.keep_tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            say(f"storm: logs and configs kept in {tmp}")


def kind_of(target, variants):
    return "cplb" if target == "cplb" or target in variants else target


if __name__ == "__main__":
    sys.exit(main())
