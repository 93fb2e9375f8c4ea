#!/usr/bin/env python3
"""The `upgrade` scenario: cplb's binary upgrade (SIGUSR2) and HAProxy's seamless reload (master-worker
`-W`, SIGUSR2 to the master) side by side, under the same load, in front of the same backends (stdlib
only).

  upgrade.py run [--smoke] [--upgrades N] [--idle N] [--streams N] [--bulks N] [--gap SECS]
                 [--cplb BIN] [--targets "haproxy cplb"] [--workers N] [--tsv FILE] [--keep]
      Everything on 127.0.0.1: three stream_peers backends (tests/integration/stream_peers.py: watch-like
      counter streams, PING/PONG, verified bulk downloads), cplb (run from a copy of BIN in a temp dir:
      the upgrade re-executes the file it was started from) and HAProxy (`haproxy -W -db -S`), and one
      load client per proxy (`upgrade.py client`, its own process). Upgrades alternate, `gap` seconds
      apart: cplb, HAProxy, cplb, ... Prints a markdown table and the raw numbers (TSV: TARGET ROUND
      METRIC VALUE, the format of bench/run.sh's results), and writes the TSV to FILE with --tsv.
      Exit status 1 when a proxy cannot be set up or passes no traffic (and, with --smoke, when an
      upgrade did not happen); the numbers themselves are not judged.
  upgrade.py client --port PORT --idle N --streams N --bulks N --bulk-size BYTES
      The load through one proxy (internal; JSON lines on stdin and stdout).

Defaults come from BENCH_UPGRADES (5; smoke 1), BENCH_UPGRADE_IDLE (5000; smoke 200), CPLB_BIN,
BENCH_WORKERS (2). Every process started is stopped by PID at the end (HAProxy's old workers and
cplb's successors included); the driver is the child subreaper of its descendants, so cplb's
successors, orphaned when their parent hands over and exits, are its children and reaped by it.
"""
import argparse
import ctypes
import json
import os
import resource
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
STREAM_PEERS = os.path.join(ROOT, "tests", "integration", "stream_peers.py")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(STREAM_PEERS))
from util import alive, free_ports, listening_ports, rss_kb  # noqa: E402

TICK = 0.02  # the backend's counter lines, and the client's, every 20 ms
PROBE_EVERY = 0.01  # a new connection every 10 ms during a hand-over window
WINDOW = (-0.5, 2.0)  # the hand-over window, from the signal
PROBE_TIMEOUT = 3.0
SETTLE = 10.0  # seconds from the last upgrade to the count of old processes
GAP_RECORD = 0.035  # gaps between two S lines over this are reported by the client (normal: 20 ms)
BULK_CHUNK = 64 << 10
BULK_PAUSE = 0.05


def now():
    return time.monotonic()  # CLOCK_MONOTONIC: the same clock in every process


# --- the load client (one per proxy, its own process) --------------------------------------------


class Stream:
    def __init__(self, ident, sock):
        self.id, self.sock = ident, sock
        self.inbuf = b""
        self.out = bytearray()
        self.s_next = self.e_next = self.c_sent = 0
        self.next_tick = now()
        self.last_s = None
        self.state = "open"  # open, ending, done, failed
        self.bye = False
        self.writing = False


class Probe:
    def __init__(self, n, start):
        self.n, self.start = n, start
        self.sock = socket.socket()
        self.sock.setblocking(False)
        self.data = b""
        self.connected = False


class Bulk:
    def __init__(self, slot, size):
        self.slot, self.size = slot, size
        self.download = 0
        self.sock = None
        self.pos = 0
        self.next_read = 0.0
        self.block_index, self.block = -1, b""
        self.completed = 0
        self.failed = None


class Client:
    def __init__(self, args):
        from stream_peers import pattern_block
        self.pattern_block = pattern_block
        self.args = args
        self.address = ("127.0.0.1", args.port)
        self.sel = selectors.DefaultSelector()
        self.idle = []
        self.streams = []
        self.bulks = [Bulk(i, args.bulk_size) for i in range(args.bulks)]
        self.gaps = []  # [stream, start, end] of every S gap over GAP_RECORD
        self.failures = []  # [time, kind, what]
        self.probes = []  # [start, latency or None, result]
        self.windows = []
        self.next_probe = None
        self.probe_n = 0
        self.open_probes = {}
        self.stdin_buf = b""
        self.finishing = False

    def fail(self, kind, what):
        self.failures.append([now(), kind, what])

    # streams
    def open_streams(self):
        for ident in range(self.args.streams):
            sock = socket.create_connection(self.address, timeout=5)
            sock.sendall(b"STREAM %d\n" % ident)
            sock.setblocking(False)
            stream = Stream(ident, sock)
            stream.next_tick = now() + TICK * ident / max(1, self.args.streams)
            self.streams.append(stream)
            self.sel.register(sock, selectors.EVENT_READ, ("stream", stream))

    def stream_fail(self, stream, what):
        if stream.state in ("done", "failed"):
            return
        stream.state = "failed"
        self.fail("stream", f"stream {stream.id}: {what} (S {stream.s_next}, C {stream.c_sent}, E {stream.e_next})")
        try:
            self.sel.unregister(stream.sock)
        except (KeyError, ValueError):
            pass
        stream.sock.close()

    def stream_flush(self, stream):
        try:
            while stream.out:
                sent = stream.sock.send(stream.out)
                del stream.out[:sent]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as error:
            self.stream_fail(stream, f"send: {error!r}")
            return
        want = selectors.EVENT_READ | (selectors.EVENT_WRITE if stream.out else 0)
        if bool(stream.out) != stream.writing:
            stream.writing = bool(stream.out)
            self.sel.modify(stream.sock, want, ("stream", stream))

    def stream_read(self, stream):
        try:
            data = stream.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self.stream_fail(stream, f"recv: {error!r}")
            return
        if not data:
            if stream.state == "ending" and stream.bye:
                stream.state = "done"
                self.sel.unregister(stream.sock)
                stream.sock.close()
            else:
                self.stream_fail(stream, "EOF " + ("before BYE" if stream.state == "ending" else "while open"))
            return
        stream.inbuf += data
        while b"\n" in stream.inbuf and stream.state in ("open", "ending"):
            line, _, stream.inbuf = stream.inbuf.partition(b"\n")
            self.stream_line(stream, line)

    def stream_line(self, stream, line):
        words = line.split()
        if len(words) == 3 and words[0] in (b"S", b"E") and words[1] == b"%d" % stream.id:
            k = int(words[2])
            if words[0] == b"S":
                if k != stream.s_next:
                    self.stream_fail(stream, f"S {k}, expected {stream.s_next}")
                    return
                t = now()
                if stream.last_s is not None and t - stream.last_s > GAP_RECORD:
                    self.gaps.append([stream.id, stream.last_s, t])
                stream.last_s = t
                stream.s_next += 1
            else:
                if k != stream.e_next or k >= stream.c_sent:
                    self.stream_fail(stream, f"E {k}, expected {stream.e_next} of {stream.c_sent}")
                    return
                stream.e_next += 1
        elif len(words) == 4 and words[0] == b"BYE" and stream.state == "ending":
            s_sent, c_got = int(words[2]), int(words[3])
            if s_sent != stream.s_next or c_got != stream.c_sent or stream.e_next != stream.c_sent:
                self.stream_fail(stream, f"BYE: server sent {s_sent} S (got {stream.s_next}), got {c_got} C "
                                         f"(sent {stream.c_sent}, echoed {stream.e_next})")
            else:
                stream.bye = True
        else:
            self.stream_fail(stream, f"unexpected line {line[:80]!r}")

    # probes: a new connection every 10 ms in each window, PING and its PONG
    def probe_start(self, t):
        self.probe_n += 1
        probe = Probe(self.probe_n, t)
        err = probe.sock.connect_ex(self.address)
        if err not in (0, 115):  # EINPROGRESS
            self.probes.append([t, None, f"connect errno {err}"])
            probe.sock.close()
            return
        self.open_probes[probe.sock.fileno()] = probe
        self.sel.register(probe.sock, selectors.EVENT_WRITE, ("probe", probe))

    def probe_end(self, probe, result):
        latency = now() - probe.start if result == "ok" else None
        self.probes.append([probe.start, latency, result])
        self.open_probes.pop(probe.sock.fileno(), None)
        try:
            self.sel.unregister(probe.sock)
        except (KeyError, ValueError):
            pass
        probe.sock.close()

    def probe_event(self, probe, mask):
        if not probe.connected:
            err = probe.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self.probe_end(probe, "refused" if err == 111 else f"connect errno {err}")
                return
            probe.connected = True
            try:
                probe.sock.send(b"PING p%d\n" % probe.n)
            except OSError as error:
                self.probe_end(probe, f"send {error!r}")
                return
            self.sel.modify(probe.sock, selectors.EVENT_READ, ("probe", probe))
            return
        try:
            data = probe.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except ConnectionResetError:
            self.probe_end(probe, "reset")
            return
        except OSError as error:
            self.probe_end(probe, f"recv {error!r}")
            return
        probe.data += data
        if data and not probe.data.endswith(b"\n"):
            return
        words = probe.data.split()
        if len(words) == 3 and words[0] == b"PONG" and words[2] == b"p%d" % probe.n:
            self.probe_end(probe, "ok")
        else:
            self.probe_end(probe, f"wrong reply {probe.data[:60]!r}" if probe.data else "closed without reply")

    # bulk downloads, read slowly through a small receive buffer, every byte verified
    def bulk_open(self, bulk):
        bulk.download += 1
        bulk.pos = 0
        bulk.block_index = -1
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BULK_CHUNK)
        sock.settimeout(5)
        sock.connect(self.address)
        sock.sendall(b"BULK %d %d\n" % (bulk.size, self.seed(bulk)))
        sock.setblocking(False)
        bulk.sock = sock

    def seed(self, bulk):
        return bulk.slot * 10000 + bulk.download

    def bulk_read(self, bulk, want):
        """Reads once; returns False when the download is over (done or failed)."""
        try:
            data = bulk.sock.recv(want)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError as error:
            bulk.failed = f"bulk {bulk.slot}/{bulk.download}: {error!r} at byte {bulk.pos}"
        else:
            if not data:
                if bulk.pos != bulk.size:
                    bulk.failed = f"bulk {bulk.slot}/{bulk.download}: EOF at byte {bulk.pos} of {bulk.size}"
                else:
                    bulk.completed += 1
                bulk.sock.close()
                bulk.sock = None
                return False
            offset = 0
            while offset < len(data) and not bulk.failed:
                index, start = divmod(bulk.pos, 65536)
                if bulk.pos >= bulk.size:
                    bulk.failed = f"bulk {bulk.slot}/{bulk.download}: bytes past the end"
                    break
                if index != bulk.block_index:
                    bulk.block_index, bulk.block = index, self.pattern_block(self.seed(bulk), index)
                n = min(len(data) - offset, 65536 - start, bulk.size - bulk.pos)
                if data[offset:offset + n] != bulk.block[start:start + n]:
                    bulk.failed = f"bulk {bulk.slot}/{bulk.download}: wrong bytes at offset {bulk.pos}"
                offset += n
                bulk.pos += n
        if bulk.failed:
            self.fail("bulk", bulk.failed)
            bulk.sock.close()
            bulk.sock = None
            return False
        return True

    def bulks_tick(self, t):
        for bulk in self.bulks:
            if bulk.failed or self.finishing:
                continue
            if bulk.sock is None:
                try:
                    self.bulk_open(bulk)
                except OSError as error:
                    bulk.failed = f"bulk {bulk.slot}: connect {error!r}"
                    self.fail("bulk", bulk.failed)
                    continue
            if t >= bulk.next_read:
                bulk.next_read = t + BULK_PAUSE
                self.bulk_read(bulk, BULK_CHUNK)

    # the loop
    def say(self, obj):
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    def command(self, line):
        msg = json.loads(line)
        if "windows" in msg:
            self.windows = sorted(msg["windows"])
        if msg.get("finish"):
            self.finishing = True

    def next_window_time(self, t):
        """The next probe time at or after t, or None."""
        while self.windows and self.windows[0][1] < t:
            self.windows.pop(0)
        if not self.windows:
            return None
        return max(t, self.windows[0][0])

    def loop_once(self, t):
        timeout = 0.005
        for key, mask in self.sel.select(timeout):
            kind, obj = key.data
            if kind == "stdin":
                try:
                    data = os.read(0, 65536)
                except BlockingIOError:
                    continue
                if not data:
                    self.finishing = True
                    self.sel.unregister(0)
                    continue
                self.stdin_buf += data
                while b"\n" in self.stdin_buf:
                    line, _, self.stdin_buf = self.stdin_buf.partition(b"\n")
                    if line.strip():
                        self.command(line)
            elif kind == "stream":
                if mask & selectors.EVENT_READ:
                    self.stream_read(obj)
                if mask & selectors.EVENT_WRITE and obj.state in ("open", "ending"):
                    self.stream_flush(obj)
            elif kind == "probe":
                self.probe_event(obj, mask)
        t = now()
        for stream in self.streams:
            if stream.state == "open" and stream.next_tick <= t:
                stream.out += b"C %d %d\n" % (stream.id, stream.c_sent)
                stream.c_sent += 1
                stream.next_tick = max(stream.next_tick + TICK, t - TICK)
                self.stream_flush(stream)
        for probe in list(self.open_probes.values()):
            if t - probe.start > PROBE_TIMEOUT:
                self.probe_end(probe, "timeout")
        if not self.finishing:
            if self.next_probe is None or self.next_probe < t - 1:
                self.next_probe = self.next_window_time(t)
            while self.next_probe is not None and self.next_probe <= t:
                self.probe_start(self.next_probe)
                self.next_probe = self.next_window_time(self.next_probe + PROBE_EVERY)
        self.bulks_tick(t)

    def run(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        os.set_blocking(0, False)
        self.sel.register(0, selectors.EVENT_READ, ("stdin", None))
        t0 = now()
        idle_errors = 0
        for i in range(self.args.idle):
            try:
                sock = socket.create_connection(self.address, timeout=5)
            except OSError as error:
                idle_errors += 1
                if idle_errors <= 5:
                    self.fail("idle", f"idle {i}: connect {error!r}")
                continue
            self.idle.append(sock)
            # Paced, so the single-threaded backends accept them as they come: a connect left in
            # an overflowing accept queue is never served (and a proxy with TCP keepalive, as
            # cplb, rightly ends it after tcp_user_timeout).
            if i % 250 == 249:
                time.sleep(0.1)
        self.open_streams()
        opened = now() - t0
        # Ready once every stream got 2 lines and every bulk slot some bytes.
        deadline = now() + 30
        while now() < deadline:
            self.loop_once(now())
            if all(s.s_next >= 2 for s in self.streams) and all(b.pos > 0 or b.completed for b in self.bulks):
                break
        self.say({"ready": {"idle": len(self.idle), "idle_errors": idle_errors, "streams": len(self.streams),
                            "open_s": round(opened, 3),
                            "streams_flowing": sum(s.s_next >= 2 for s in self.streams)}})
        while not self.finishing:
            self.loop_once(now())
        self.finish()

    def finish(self):
        # Probes still open end (bounded), the idle sessions each PING and expect their PONG, the
        # streams END and expect BYE and EOF, the downloads in progress are read to their end.
        for stream in self.streams:
            if stream.state == "open":
                stream.state = "ending"
                stream.out += b"END %d %d\n" % (stream.id, stream.c_sent)
                self.stream_flush(stream)
        idle_ok = idle_broken = 0
        pending = {}
        for i, sock in enumerate(self.idle):
            try:
                sock.sendall(b"PING i%d\n" % i)
                sock.setblocking(False)
                pending[sock.fileno()] = [sock, i, b""]
                self.sel.register(sock, selectors.EVENT_READ, ("idle", sock))
            except OSError:
                idle_broken += 1
                sock.close()
        deadline = now() + 20
        while now() < deadline:
            busy = (pending or self.open_probes or any(s.state == "ending" for s in self.streams)
                    or any(b.sock is not None for b in self.bulks))
            if not busy:
                break
            for key, mask in self.sel.select(0.01):
                kind, obj = key.data
                if kind == "stream":
                    if mask & selectors.EVENT_READ:
                        self.stream_read(obj)
                    if mask & selectors.EVENT_WRITE and obj.state in ("open", "ending"):
                        self.stream_flush(obj)
                elif kind == "probe":
                    self.probe_event(obj, mask)
                elif kind == "idle":
                    entry = pending.get(obj.fileno())
                    try:
                        data = obj.recv(4096)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        data = b""
                    entry[2] += data
                    if data and not entry[2].endswith(b"\n"):
                        continue
                    words = entry[2].split()
                    if len(words) == 3 and words[0] == b"PONG" and words[2] == b"i%d" % entry[1]:
                        idle_ok += 1
                    else:
                        idle_broken += 1
                        if idle_broken <= 5:
                            self.fail("idle", f"idle {entry[1]}: {entry[2][:60]!r}")
                    pending.pop(obj.fileno())
                    self.sel.unregister(obj)
                    obj.close()
            for bulk in self.bulks:
                if bulk.sock is not None:
                    self.bulk_read(bulk, 1 << 20)
            for probe in list(self.open_probes.values()):
                if now() - probe.start > PROBE_TIMEOUT:
                    self.probe_end(probe, "timeout")
        idle_broken += len(pending)
        for stream in self.streams:
            if stream.state not in ("done", "failed"):
                self.stream_fail(stream, f"no BYE and EOF after END (state {stream.state})")
        self.say({"result": {
            "gaps": self.gaps, "failures": self.failures, "probes": self.probes,
            "streams": len(self.streams), "streams_done": sum(s.state == "done" for s in self.streams),
            "streams_failed": sum(s.state == "failed" for s in self.streams),
            "s_lines": sum(s.s_next for s in self.streams), "e_lines": sum(s.e_next for s in self.streams),
            "idle": len(self.idle), "idle_ok": idle_ok, "idle_broken": idle_broken,
            "bulk_completed": sum(b.completed for b in self.bulks),
            "bulk_failed": sum(1 for b in self.bulks if b.failed),
            "bulk_mib": sum(b.completed * b.size + b.pos for b in self.bulks) / (1 << 20),
        }})


def client_main(argv):
    parser = argparse.ArgumentParser(prog="upgrade.py client")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--idle", type=int, default=0)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--bulks", type=int, default=2)
    parser.add_argument("--bulk-size", type=int, default=4 << 20)
    Client(parser.parse_args(argv)).run()
    return 0


# --- the driver ---------------------------------------------------------------------------------------


class Failed(Exception):
    pass


def ppid_of(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[1])


def children(parent):
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit() and ppid_of(int(name)) == parent:
            out.append(int(name))
    return out


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def rss_mib(pids):
    total = 0
    for pid in pids:
        try:
            total += rss_kb(pid)
        except OSError:
            pass
    return total / 1024


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(p / 100 * len(values) + 0.5)) - 1))
    return values[k]


class Driver:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="cplb-upgrade-bench.")
        self.procs = []  # Popen objects we started (backends, proxies, clients)
        self.pids = set()  # every process of ours, successors and workers included
        self.exit_codes = {}
        self.logs = []
        self.records = []  # (target, round, metric, value)
        self.notes = []
        self.bufs = {}

    # processes
    def start(self, name, argv, **kw):
        log = open(os.path.join(self.tmp, name + ".log"), "wb")
        self.logs.append(log)
        proc = subprocess.Popen(argv, stdout=kw.pop("stdout", log), stderr=log, **kw)
        self.procs.append(proc)
        self.pids.add(proc.pid)
        return proc

    def reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.exit_codes[pid] = os.waitstatus_to_exitcode(status)
            for proc in self.procs:
                if proc.pid == pid:
                    proc.returncode = self.exit_codes[pid]

    def stop_all(self):
        """TERM to every live process of ours (newest first), then KILL after 5 s, by PID."""
        self.reap()
        live = [p for p in self.pids if alive(p)]
        # HAProxy's workers and cplb's successors first found from /proc (not tracked yet).
        for root in list(live):
            for child in children(root):
                if child not in self.pids and alive(child):
                    self.pids.add(child)
                    live.append(child)
        for pid in sorted(live, reverse=True):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = now() + 5
        while now() < deadline and any(alive(p) for p in live):
            self.reap()
            time.sleep(0.05)
        for pid in live:
            if alive(pid):
                self.notes.append(f"process {pid} ({b' '.join(cmdline(pid)[:3]).decode(errors='replace')}) "
                                  f"did not exit on SIGTERM within 5 s: SIGKILL")
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        time.sleep(0.1)
        self.reap()
        for proc in self.procs:
            try:
                proc.wait(timeout=2)
            except (subprocess.TimeoutExpired, ChildProcessError):
                pass
        for log in self.logs:
            log.close()

    def record(self, target, rnd, metric, value):
        self.records.append((target, rnd, metric, value))

    def wait_listen(self, ports, proc, timeout=10):
        deadline = now() + timeout
        while not set(ports) <= listening_ports():
            if proc is not None and proc.poll() is not None:
                raise Failed(f"{proc.args[0]} exited ({proc.returncode})")
            if now() > deadline:
                raise Failed(f"ports {sorted(set(ports) - listening_ports())} not listening after {timeout}s")
            time.sleep(0.05)

    def log_text(self, name):
        try:
            with open(os.path.join(self.tmp, name + ".log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def status(self, timeout=1.0):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/status", timeout=timeout) as r:
            return json.loads(r.read())

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/metrics", timeout=2) as r:
            return r.read().decode()

    # setup
    def setup(self):
        a = self.args
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        need = 2 * (a.idle + a.streams + a.bulks) + 300
        if hard < need:
            raise Failed(f"open-files hard limit {hard} < {need} for {a.idle} idle sessions (BENCH_UPGRADE_IDLE)")
        self.fd_limit = hard
        try:  # PR_SET_CHILD_SUBREAPER: cplb's orphaned successors become our children
            self.subreaper = ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0
        except (OSError, AttributeError):
            self.subreaper = False
        ports = free_ports(6)
        self.backend_ports = ports[:3]
        self.fe = {"cplb": ports[3], "haproxy": ports[4]}
        self.admin = ports[5]
        for i, port in enumerate(self.backend_ports):
            proc = self.start(f"backend-s{i + 1}", [sys.executable, STREAM_PEERS, "--listen", f"127.0.0.1:{port}",
                                                     "--name", f"s{i + 1}"], stdout=subprocess.DEVNULL)
            self.backend_procs = getattr(self, "backend_procs", []) + [proc]
        for proc, port in zip(self.backend_procs, self.backend_ports):
            self.wait_listen([port], proc)
        maxconn = (self.fd_limit - 200) // 2
        servers = "\n".join(f"  server s{i + 1} 127.0.0.1:{p} check inter 2s" for i, p in enumerate(self.backend_ports))
        with open(os.path.join(self.tmp, "haproxy.cfg"), "w") as f:
            f.write(f"""global
  nbthread {a.workers}
  maxconn {maxconn}
defaults
  mode tcp
  maxconn {maxconn}
  timeout connect 3s
  timeout client 1h
  timeout server 1h
  timeout check 1s
frontend api
  bind 127.0.0.1:{self.fe['haproxy']}
  default_backend api
backend api
  balance leastconn
{servers}
""")
        cplb_servers = ", ".join(f"{{name: s{i + 1}, address: 127.0.0.1:{p}}}" for i, p in enumerate(self.backend_ports))
        with open(os.path.join(self.tmp, "cplb.yaml"), "w") as f:
            f.write(f"""global: {{workers: {a.workers}, max_connections: 20000, shutdown_grace: 1s}}
admin: {{listen: 127.0.0.1:{self.admin}}}
frontends:
  - {{name: api, listen: 127.0.0.1:{self.fe['cplb']}, backend: api, idle_timeout: 1h, first_data_timeout: 0s,
     tcp_keepalive: 0s, tcp_user_timeout: 0s}}  # as HAProxy by default: no keepalive probes
backends:
  - name: api
    balance: least_conn
    servers: [{cplb_servers}]
    health_check: {{protocol: tcp, interval: 2s, timeout: 1s}}
""")
        self.proxy = {}
        if "cplb" in a.targets:
            bindir = os.path.join(self.tmp, "bin")
            os.mkdir(bindir)
            self.cplb_bin = os.path.join(bindir, "cplb")
            shutil.copyfile(a.cplb, self.cplb_bin)
            os.chmod(self.cplb_bin, 0o755)
            self.cplb_conf = os.path.join(self.tmp, "cplb.yaml")
            self.proxy["cplb"] = self.start("cplb", [self.cplb_bin, "--config", self.cplb_conf])
        if "haproxy" in a.targets:
            # Master-worker mode: on SIGUSR2 the master re-executes itself with `-x sockpair@FD` and the
            # new worker takes the listening sockets from the old one over the master's socketpair
            # (HAProxy >= 2.6: no `stats socket ... expose-fd listeners` needed). The old worker gets
            # SIGUSR1 (soft stop): it stops listening and lingers while it has sessions; no
            # hard-stop-after (unset: lingers as long as they last).
            self.proxy["haproxy"] = self.start("haproxy", ["haproxy", "-W", "-db", "-f",
                                                           os.path.join(self.tmp, "haproxy.cfg"),
                                                           "-S", os.path.join(self.tmp, "master.sock")])
        for target, proc in self.proxy.items():
            self.wait_listen([self.fe[target]], proc)
        self.current = {}
        if "cplb" in self.proxy:
            self.current["cplb"] = self.proxy["cplb"].pid
            deadline = now() + 10
            while True:
                try:
                    st = self.status()
                    states = [s["state"] for b in st["backends"] for s in b["servers"]]
                    if states and all(s == "up" for s in states):
                        break
                except OSError:
                    pass
                if now() > deadline:
                    raise Failed("cplb: not every server up after 10 s")
                time.sleep(0.1)
        if "haproxy" in self.proxy:
            deadline = now() + 5
            while not children(self.proxy["haproxy"].pid):
                if now() > deadline:
                    raise Failed("haproxy: no worker")
                time.sleep(0.05)
            self.current["haproxy"] = children(self.proxy["haproxy"].pid)[0]
            self.pids.add(self.current["haproxy"])
            time.sleep(1.0)  # its first health checks (spread over inter)
        # one PING through each
        for target in self.proxy:
            with socket.create_connection(("127.0.0.1", self.fe[target]), timeout=3) as s:
                s.sendall(b"PING hello\n")
                s.settimeout(3)
                reply = s.recv(100)
            if not reply.startswith(b"PONG"):
                raise Failed(f"{target}: no PONG through it: {reply!r}")

    def backend_established(self):
        ports = set(self.backend_ports)
        n = 0
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                parts = line.split()
                if parts[3] == "01" and int(parts[1].rsplit(":", 1)[1], 16) in ports:
                    n += 1
        return n

    def client_sessions(self, port):
        """Client-side connections to 127.0.0.1:port in ESTABLISHED (the proxy has neither closed nor
        reset them)."""
        n = 0
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                parts = line.split()
                if parts[3] == "01" and int(parts[2].rsplit(":", 1)[1], 16) == port:
                    n += 1
        return n

    def stacks(self, pid, name):
        """The threads' stacks of a process that did not exit (gdb, when installed), into the temp dir."""
        if not shutil.which("gdb"):
            return None
        path = os.path.join(self.tmp, f"{name}-{pid}.stacks")
        with open(path, "wb") as out:
            subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt"], stdout=out,
                           stderr=subprocess.STDOUT, timeout=60, check=False)
        return path

    def proxy_pids(self, target):
        """Every live process of the proxy: cplb's current and old ones, HAProxy's master and workers."""
        if target == "cplb":
            return [p for p in self.cplb_all if alive(p)]
        master = self.proxy["haproxy"].pid
        return [master] + [p for p in children(master) if alive(p)]

    def run(self):
        a = self.args
        self.setup()
        targets = list(self.proxy)
        clients = {}
        for target in targets:
            clients[target] = self.start(f"client-{target}", [
                sys.executable, os.path.abspath(__file__), "client", "--port", str(self.fe[target]),
                "--idle", str(a.idle), "--streams", str(a.streams), "--bulks", str(a.bulks),
                "--bulk-size", str(a.bulk_size)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        ready = {}
        for target, proc in clients.items():
            line = self.readline(proc, 120)
            if not line:
                raise Failed(f"{target}: the load client did not start: {self.log_text('client-' + target)[-2000:]}")
            ready[target] = json.loads(line)["ready"]
            r = ready[target]
            print(f"  {target:8} load: {r['idle']} idle sessions ({r['idle_errors']} failed, opened with the "
                  f"streams in {r['open_s']:.1f} s), {r['streams_flowing']}/{r['streams']} streams flowing, "
                  f"{a.bulks} bulk readers")
            if r["idle"] < a.idle or r["streams_flowing"] < r["streams"]:
                raise Failed(f"{target}: the load could not be set up: {r}")
        # Bulk downloads restart one after another, so one may be between sessions: not counted.
        expected = len(targets) * (a.idle + a.streams)
        deadline = now() + 30
        while self.backend_established() < expected:
            if now() > deadline:
                raise Failed(f"only {self.backend_established()} of {expected} sessions established at the backends")
            time.sleep(0.1)
        time.sleep(1.0)
        self.cplb_all = [self.current["cplb"]] if "cplb" in self.current else []
        rss_before = {t: rss_mib(self.proxy_pids(t)) for t in targets}

        # The schedule: cplb, haproxy, cplb, haproxy, ... `gap` seconds apart.
        start = now() + 1.0
        schedule = []
        for i in range(a.upgrades):
            for j, target in enumerate(targets):
                schedule.append((start + (i * len(targets) + j) * a.gap, target, i + 1))
        for target, proc in clients.items():
            windows = [[t + WINDOW[0], t + WINDOW[1]] for t, tg, _ in schedule if tg == target]
            proc.stdin.write((json.dumps({"windows": windows}) + "\n").encode())
            proc.stdin.flush()
        events = []  # dicts: target, round, signal, old, new, new_at, old_exit_at
        pending = list(schedule)
        end_at = schedule[-1][0] + SETTLE
        samples = []  # (time, event) for the session count 2.4 s after each signal
        while now() < end_at:
            t = now()
            while pending and pending[0][0] <= t:
                when, target, rnd = pending.pop(0)
                events.append(self.signal(target, rnd))
                samples.append((when + 2.4, events[-1]))
            while samples and samples[0][0] <= t:
                _, e = samples.pop(0)
                e["sessions_after"] = self.client_sessions(self.fe[e["target"]])
            self.watch(events)
            time.sleep(0.01)
        alive_after = {}
        for target in targets:
            olds = {e["old"] for e in events if e["target"] == target}
            if target == "haproxy":
                olds |= {p for p in children(self.proxy["haproxy"].pid) if p != self.current["haproxy"]}
            alive_after[target] = sorted(p for p in olds if p != self.current[target] and alive(p))
        rss_after = {t: rss_mib(self.proxy_pids(t)) for t in targets}
        for pid in alive_after.get("cplb", []):
            path = self.stacks(pid, "cplb")
            with open(f"/proc/{pid}/status") as f:
                state = [line.strip() for line in f if line.startswith(("State:", "Threads:"))]
            self.notes.append(f"cplb: old process {pid} still alive ({', '.join(state)}); "
                              f"its stacks: {path or 'no gdb'}")
        procs_after = {t: len(self.proxy_pids(t)) for t in targets}
        settle_time = now()

        # Each client ends its load (idle PING/PONG, streams END/BYE, downloads to their end).
        results = {}
        self.finish_sent = now()
        for target, proc in clients.items():
            proc.stdin.write(b'{"finish": true}\n')
            proc.stdin.flush()
        for target, proc in clients.items():
            line = self.readline(proc, 60)
            if not line:
                raise Failed(f"{target}: the load client gave no result: {self.log_text('client-' + target)[-2000:]}")
            results[target] = json.loads(line)["result"]
        closed_at = now()
        # HAProxy's old workers, once the sessions they held have closed (bounded).
        linger = {}
        if "haproxy" in targets:
            olds = alive_after["haproxy"]
            deadline = now() + 10
            while now() < deadline and any(alive(p) for p in olds):
                self.watch(events, closing=True)
                time.sleep(0.01)
            self.watch(events, closing=True)
            linger = {"left": [p for p in olds if alive(p)], "s": now() - closed_at}
        metrics_text = ""
        if "cplb" in targets:
            try:
                metrics_text = self.metrics()
            except OSError as error:
                self.notes.append(f"cplb /metrics: {error!r}")
            try:
                st_pid = self.status().get("pid")
                if st_pid != self.current["cplb"]:
                    self.notes.append(f"cplb /status pid {st_pid}, expected {self.current['cplb']}")
            except OSError as error:
                self.notes.append(f"cplb /status: {error!r}")
        self.report(targets, schedule, events, results, rss_before, rss_after, procs_after, alive_after,
                    settle_time, linger, metrics_text)

    def readline(self, proc, timeout):
        """One line from the client's stdout, or None at EOF or after `timeout` seconds."""
        buf = self.bufs.setdefault(proc.pid, bytearray())
        deadline = now() + timeout
        fd = proc.stdout.fileno()
        while b"\n" not in buf:
            left = deadline - now()
            if left <= 0:
                return None
            sel = selectors.DefaultSelector()
            sel.register(fd, selectors.EVENT_READ)
            ready = sel.select(min(left, 0.5))
            sel.close()
            if ready:
                chunk = os.read(fd, 1 << 22)
                if not chunk:
                    return None
                buf += chunk
        line, _, rest = bytes(buf).partition(b"\n")
        buf[:] = rest
        return line

    def signal(self, target, rnd):
        event = {"target": target, "round": rnd, "old": self.current[target], "new": None, "new_at": None,
                 "old_exit_at": None}
        if target == "cplb":
            event["before"] = set(children(event["old"]))
            event["signal"] = now()
            os.kill(event["old"], signal.SIGUSR2)
        else:
            master = self.proxy["haproxy"].pid
            event["before"] = set(children(master))
            event["signal"] = now()
            os.kill(master, signal.SIGUSR2)
        return event

    def watch(self, events, closing=False):
        """Notes new processes and exits; once `closing` (after the count of old processes, while the
        clients close their sessions), an exit is noted as `exit_after_close_at`."""
        self.reap()
        t = now()
        for e in events:
            if e["new"] is None:
                parent = e["old"] if e["target"] == "cplb" else self.proxy["haproxy"].pid
                for pid in children(parent):
                    if pid not in e["before"] and pid not in self.pids:
                        if e["target"] == "cplb" and self.cplb_conf.encode() not in cmdline(pid):
                            continue  # not yet exec'd
                        e["new"], e["new_at"] = pid, t
                        self.pids.add(pid)
                        self.current[e["target"]] = pid
                        if e["target"] == "cplb":
                            self.cplb_all.append(pid)
                if e["new"] is None and e["target"] == "cplb" and not alive(e["old"]):
                    # the old one exited before we saw its child: the new one is ours now (subreaper)
                    for pid in children(os.getpid()):
                        if pid not in self.pids and self.cplb_conf.encode() in cmdline(pid):
                            e["new"], e["new_at"] = pid, t
                            self.pids.add(pid)
                            self.current["cplb"] = pid
                            self.cplb_all.append(pid)
            if e["old_exit_at"] is None and e.get("exit_after_close_at") is None and not alive(e["old"]):
                e["exit_after_close_at" if closing else "old_exit_at"] = t

    # the report
    def report(self, targets, schedule, events, results, rss_before, rss_after, procs_after, alive_after,
               settle_time, linger, metrics_text):
        a = self.args
        rows = {}  # metric -> {target: [values per upgrade]}
        table = []  # (label, {target: cell})
        bad = []
        for target in targets:
            res = results[target]
            evs = [e for e in events if e["target"] == target]
            windows = [(e["signal"] + WINDOW[0], e["signal"] + WINDOW[1]) for e in evs]
            for e in evs:
                rnd = e["round"]
                w0, w1 = e["signal"] + WINDOW[0], e["signal"] + WINDOW[1]
                gaps = [g[2] - g[1] for g in res["gaps"] if g[2] >= w0 and g[1] <= w1]
                stall = max(gaps, default=TICK) * 1000
                probes = [p for p in res["probes"] if w0 - 0.001 <= p[0] <= w1 + 0.001]
                ok = [p[1] * 1000 for p in probes if p[2] == "ok"]
                failed = [p for p in probes if p[2] != "ok"]
                self.record(target, rnd, "up_stall_ms", f"{stall:.1f}")
                self.record(target, rnd, "up_connects", len(probes))
                self.record(target, rnd, "up_connect_failed", len(failed))
                if ok:
                    self.record(target, rnd, "up_connect_p50_ms", f"{percentile(ok, 50):.2f}")
                    self.record(target, rnd, "up_connect_p99_ms", f"{percentile(ok, 99):.2f}")
                    self.record(target, rnd, "up_connect_max_ms", f"{max(ok):.2f}")
                if "sessions_after" in e:
                    self.record(target, rnd, "up_sessions_after", e["sessions_after"])
                if e["new_at"] is not None:
                    self.record(target, rnd, "up_new_process_s", f"{e['new_at'] - e['signal']:.3f}")
                if e["old_exit_at"] is not None:
                    self.record(target, rnd, "up_old_exit_s", f"{e['old_exit_at'] - e['signal']:.3f}")
                else:
                    self.record(target, rnd, "up_old_alive_after_s", f"{settle_time - e['signal']:.1f}")
                    if e.get("exit_after_close_at") is not None:
                        self.record(target, rnd, "up_old_exit_after_close_s",
                                    f"{e['exit_after_close_at'] - self.finish_sent:.2f}")
                for p in failed[:5]:
                    bad.append(f"{target} upgrade {rnd}: connect at signal{p[0] - e['signal']:+.3f}s: {p[2]}")
                if e["new"] is None:
                    bad.append(f"{target} upgrade {rnd}: no new process seen")
            # outside the windows: the client's own jitter (and the backends')
            span = (schedule[0][0] - 1.0, settle_time)
            outside = [g[2] - g[1] for g in res["gaps"] if span[0] <= g[1] and g[2] <= span[1]
                       and all(g[2] < w0 or g[1] > w1 for w0, w1 in windows)]
            self.record(target, 1, "up_stall_outside_ms", f"{max(outside, default=TICK) * 1000:.1f}")
            all_ok = [p[1] * 1000 for p in res["probes"] if p[2] == "ok"]
            self.record(target, 1, "up_connect_all_p50_ms", f"{percentile(all_ok, 50) or 0:.2f}")
            self.record(target, 1, "up_connect_all_p99_ms", f"{percentile(all_ok, 99) or 0:.2f}")
            self.record(target, 1, "up_connect_all_max_ms", f"{max(all_ok, default=0):.2f}")
            self.record(target, 1, "up_connect_all_failed", sum(p[2] != "ok" for p in res["probes"]))
            self.record(target, 1, "up_broken_streams", res["streams_failed"])
            self.record(target, 1, "up_broken_bulk", res["bulk_failed"])
            self.record(target, 1, "up_bulk_mib", f"{res['bulk_mib']:.1f}")
            self.record(target, 1, "up_idle_broken", res["idle_broken"])
            self.record(target, 1, "up_old_alive_10s", len(alive_after[target]))
            self.record(target, 1, "up_rss_before_mib", f"{rss_before[target]:.1f}")
            self.record(target, 1, "up_rss_after_mib", f"{rss_after[target]:.1f}")
            self.record(target, 1, "up_procs_after", procs_after[target])
            for f in res["failures"][:10]:
                bad.append(f"{target}: {f[1]}: {f[2]} (at {self.rel(f[0], events)})")
            if res["s_lines"] == 0 or not all_ok or res["idle_ok"] == 0 and a.idle:
                raise Failed(f"{target}: no traffic passed ({res['s_lines']} stream lines, {len(all_ok)} connects, "
                             f"{res['idle_ok']} idle PONGs)")
        if "haproxy" in targets and linger:
            self.record("haproxy", 1, "up_old_left_after_close", len(linger["left"]))
        cplb_log = self.log_text("cplb") if "cplb" in targets else ""
        if "cplb" in targets:
            took = [line for line in cplb_log.splitlines() if 'msg="took over from the previous process"' in line]
            done = [line for line in cplb_log.splitlines() if 'msg="upgrade done: exiting"' in line]
            failed = [line for line in cplb_log.splitlines() if "upgrade failed" in line or "refused" in line]
            errors = [line for line in cplb_log.splitlines() if ("level=error" in line or "level=warn" in line)
                      and "max_connections lowered to fit" not in line]
            for i, line in enumerate(took):
                sessions = line.split("sessions=")[1].split()[0] if "sessions=" in line else "?"
                self.record("cplb", i + 1, "up_sessions_taken_over", sessions)
            self.record("cplb", 1, "up_done_lines", len(done))
            for line in failed + errors[:10]:
                bad.append(f"cplb log: {line}")
            codes = {pid: self.exit_codes.get(pid) for pid in self.cplb_all[:-1]}
            for pid, code in codes.items():
                if code not in (0, None):
                    bad.append(f"cplb: old process {pid} exited with {code}")
            for line in metrics_text.splitlines():
                if line.startswith("cplb_upgrades_total") or (
                        line.startswith("cplb_session_ends_total") and not line.rstrip().endswith(" 0")):
                    self.notes.append(f"cplb /metrics: {line}")
        # the table
        label = {
            "up_stall_ms": "longest stall on a stream, ms (normal: 20)",
            "up_stall_outside_ms": "longest stall outside the windows, ms (the client's and backends' own jitter)",
            "up_connect_p50_ms": "connect + PING/PONG during hand-over, p50 ms",
            "up_connect_p99_ms": "connect + PING/PONG during hand-over, p99 ms",
            "up_connect_max_ms": "connect + PING/PONG during hand-over, max ms",
            "up_connect_failed": "failed connects per window",
            "up_connect_all_failed": "failed connects, all windows",
            "up_broken_streams": "broken streams",
            "up_broken_bulk": "broken bulk downloads",
            "up_idle_broken": "idle sessions broken (no PONG at the end)",
            "up_sessions_after": "client sessions still established 2.4 s after the signal",
            "up_new_process_s": "signal to new process, s",
            "up_old_exit_s": "signal to old process gone, s",
            "up_old_alive_after_s": "old process still alive after, s",
            "up_old_exit_after_close_s": "... which exited this long after the clients began to close their sessions, s",
            "up_old_alive_10s": f"old processes alive {SETTLE:.0f} s after the last",
            "up_old_left_after_close": "old processes alive 10 s after the client closed its sessions",
            "up_rss_before_mib": "RSS of all proxy processes before, MiB",
            "up_rss_after_mib": "RSS of all proxy processes after, MiB",
            "up_procs_after": "proxy processes after",
            "up_sessions_taken_over": "sessions taken over by each new process",
        }
        data = {}
        for target, rnd, metric, value in self.records:
            data.setdefault(metric, {}).setdefault(target, []).append(value)

        def cell(values):
            if not values:
                return "n/a"
            nums = [float(v) for v in values]
            fmt = (lambda v: f"{v:.0f}") if all(v == int(v) for v in nums) else (lambda v: f"{v:.3g}" if v < 10 else f"{v:.0f}")
            if len(nums) == 1:
                return fmt(nums[0])
            return f"{fmt(statistics.median(nums))} [{fmt(min(nums))}-{fmt(max(nums))}]"
        print()
        print(f"upgrade: {a.upgrades} upgrade(s) per proxy, {a.gap:g} s apart, alternating "
              f"{' and '.join(targets)}; {a.idle} idle sessions, {a.streams} streams, {a.bulks} bulk readers "
              f"per proxy; windows {WINDOW[0]:+g}..{WINDOW[1]:+g} s around each signal, a connect every "
              f"{PROBE_EVERY * 1000:.0f} ms in them")
        print()
        print("| metric (median [min-max] over the upgrades) | " + " | ".join(targets) + " |")
        print("|---|" + "---|" * len(targets))
        for metric, text in label.items():
            if metric in data:
                print(f"| {text} | " + " | ".join(cell(data[metric].get(t)) for t in targets) + " |")
        print()
        if bad:
            print("seen:")
            for line in bad[:40]:
                print(f"  {line}")
        for note in self.notes:
            print(f"  note: {note}")
        if "haproxy" in targets and alive_after.get("haproxy"):
            print(f"  haproxy: old workers {alive_after['haproxy']} alive {SETTLE:.0f} s after the last reload "
                  f"(hard-stop-after unset); after the clients closed every session: "
                  f"{len(linger.get('left', []))} left {linger.get('s', 0):.1f} s later")
        print()
        print("raw (TARGET\tROUND\tMETRIC\tVALUE):")
        tsv = "".join(f"{t}\t{r}\t{m}\t{v}\n" for t, r, m, v in self.records)
        sys.stdout.write(tsv)
        if a.tsv:
            with open(a.tsv, "w") as f:
                f.write(tsv)
        if a.smoke:
            for e in events:
                if e["new"] is None:
                    raise Failed(f"{e['target']}: upgrade {e['round']} did not start a new process")

    def rel(self, t, events):
        best = min(events, key=lambda e: abs(t - e["signal"]), default=None)
        if best is None:
            return f"{t:.3f}"
        return f"{best['target']} upgrade {best['round']} signal{t - best['signal']:+.3f}s"


def run_main(argv):
    parser = argparse.ArgumentParser(prog="upgrade.py run")
    parser.add_argument("--smoke", action="store_true", help="1 upgrade, 200 idle sessions, 10 streams")
    parser.add_argument("--upgrades", type=int)
    parser.add_argument("--idle", type=int)
    parser.add_argument("--streams", type=int)
    parser.add_argument("--bulks", type=int)
    parser.add_argument("--bulk-size", type=int, default=4 << 20)
    parser.add_argument("--gap", type=float, default=3.0, help="seconds between two signals")
    parser.add_argument("--cplb", default=os.environ.get("CPLB_BIN", os.path.join(ROOT, "build-release/src/app/cplb")))
    parser.add_argument("--targets", default="haproxy cplb")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", "2")))
    parser.add_argument("--tsv")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (configs, logs)")
    a = parser.parse_args(argv)
    env = os.environ.get
    a.upgrades = a.upgrades or int(env("BENCH_UPGRADES", "1" if a.smoke else "5"))
    a.idle = a.idle if a.idle is not None else int(env("BENCH_UPGRADE_IDLE", "200" if a.smoke else "5000"))
    a.streams = a.streams or (10 if a.smoke else 50)
    a.bulks = a.bulks if a.bulks is not None else (1 if a.smoke else 2)
    a.targets = [t for t in ("cplb", "haproxy") if t in a.targets.split()]
    if not a.targets:
        print("upgrade: no target (haproxy, cplb)", file=sys.stderr)
        return 1
    if "cplb" in a.targets and not os.access(a.cplb, os.X_OK):
        print(f"upgrade: {a.cplb} is not an executable (CPLB_BIN)", file=sys.stderr)
        return 1
    driver = Driver(a)
    def interrupted(*_):
        raise KeyboardInterrupt()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, interrupted)
    rc = 0
    try:
        driver.run()
    except (Failed, KeyboardInterrupt) as error:
        print(f"upgrade: FAILED: {error}", file=sys.stderr)
        for name in ("cplb", "haproxy", "client-cplb", "client-haproxy"):
            text = driver.log_text(name).strip().splitlines()
            if text:
                print(f"--- {name}.log (last lines)", file=sys.stderr)
                print("\n".join(text[-15:]), file=sys.stderr)
        rc = 1
    finally:
        driver.stop_all()
        for note in driver.notes:
            if "SIGKILL" in note:
                print(f"  note: {note}")
        if a.keep:
            print(f"upgrade: kept {driver.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(driver.tmp, ignore_errors=True)
    return rc


def main(argv):
    if argv[:1] == ["client"]:
        return client_main(argv[1:])
    if argv[:1] == ["run"]:
        return run_main(argv[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
