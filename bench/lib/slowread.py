#!/usr/bin/env python3
"""The slowread scenario: a fast stream, read slowly by many clients (stdlib only).

  slowread.py backend --port PORT [--name NAME]
      HTTP/1.1 on PORT, one request per connection (then Connection: close):
        GET /stream?bytes=N&start=S  200, Content-Length N: the pattern from word S on, sent
                                     as fast as the peer takes it (/bulk is the same)
        GET /watch                   200, chunked: a small JSON event line every 200 ms, until
                                     the client closes (the header X-Backend names NAME)
        GET /small                   200, "ok"
        GET /who                     200, NAME
        GET /readyz                  200 "ok", or 500 while not ready
        GET /ready?mode=ok|500       switches /readyz (a control, for the bench itself)
        GET /stats                   200, JSON: streams opened, still sending, body bytes sent,
                                     streams cut before their end, open watches
      The pattern is a counter: bytes 4k..4k+3 of the sequence are k mod 2^32, big-endian.
      Each stream starts at its own word, so bytes of one stream in another also show.
      Runs until killed.

  slowread.py client --connect PORT --backend PORT --clients N --bytes B --seconds S --pids PID...
                     [--read 16384] [--every 0.1] [--admin PORT] [--fresh-every 1.0]
                     [--timeout 120]
      Opens N connections to PORT, each asking for a B-byte stream, and reads each one slowly:
      `read` bytes every `every` s, for S s. Meanwhile it samples the RSS of the PIDs' process
      trees every 0.1 s (and, with --admin, cplb_buffer_memory_bytes from cplb's /metrics), and
      every `fresh-every` s times a fresh connection's GET /small from connect to its last byte.
      Then it reads every stream to its end at full speed, checking every byte against the
      pattern, and prints one JSON line. Exits 1 when the streams cannot be set up or nothing
      arrives (a wrong byte is reported in the JSON, not an exit status).

  slowread.py summary JSON TARGET CAP_MIB
      bench/run.sh's lines for one client JSON: "record METRIC VALUE", "say TEXT", "bad N".
"""
import argparse
import json
import os
import selectors
import socket
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from util import process_tree, rss_kb  # noqa: E402

BLOCK_WORDS = 1 << 16
BLOCK = 4 * BLOCK_WORDS  # bytes per block of the pattern (256 KiB)
STREAM_SPREAD = 1031  # words between the starts of two consecutive streams
_base = b"".join(k.to_bytes(4, "big") for k in range(BLOCK_WORDS))
_blocks = {}


def block(b):
    """Block b of the pattern: words b * 2^16 ... (b + 1) * 2^16 - 1 (mod 2^32)."""
    data = _blocks.get(b)
    if data is None:
        arr = bytearray(_base)
        arr[0::4] = bytes([(b >> 8) & 0xFF]) * BLOCK_WORDS
        arr[1::4] = bytes([b & 0xFF]) * BLOCK_WORDS
        data = _blocks[b] = bytes(arr)
        if len(_blocks) > 512:  # 128 MiB: forget the oldest
            del _blocks[next(iter(_blocks))]
    return data


def pattern(offset, n):
    """n bytes of the pattern from byte `offset` on, as memoryviews (no copy)."""
    out = []
    while n > 0:
        b, at = divmod(offset, BLOCK)
        take = min(n, BLOCK - at)
        out.append(memoryview(block(b))[at:at + take])
        offset += take
        n -= take
    return out


def matches(offset, data):
    """Whether data is the pattern from byte `offset` on."""
    pos = 0
    for piece in pattern(offset, len(data)):
        if not data.startswith(piece, pos):  # a memcmp, no copy
            return False
        pos += len(piece)
    return True


# --- backend ------------------------------------------------------------------------------------


WATCH_EVERY = 0.2  # seconds between two events of a watch
WATCH_MAX_UNSENT = 1 << 20  # a watch whose client leaves this much unread is closed


class Conn:
    """A stream (`end` > `offset`: the pattern's bytes offset..end) or a watch (`watch`)."""

    def __init__(self, sock, head, offset=0, end=0, watch=False):
        self.sock = sock
        self.head = head  # bytes to send before the body (a watch's events are added here)
        self.offset = offset  # next pattern byte of the body
        self.end = end  # pattern byte after the body's last
        self.watch = watch
        self.writable = True


class Backend:
    """An acceptor thread reads each request and answers the small ones itself, so that a fresh
    request is not queued behind the streams; the main loop pumps the streams and watches."""

    def __init__(self, port, name="backend"):
        self.name = name
        self.ready = True
        self.sel = selectors.DefaultSelector()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(4096)
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        self.sel.register(self.wake_r, selectors.EVENT_READ, None)
        self.lock = threading.Lock()
        self.incoming = []
        self.watches = set()
        self.events = 0
        self.sending = 0  # streams not yet sent in full
        self.opened = 0
        self.sent = 0  # body bytes sent, all streams
        self.cut = 0  # streams whose peer went away before their end

    def stats(self):
        with self.lock:
            return json.dumps({"streams": self.opened, "sending": self.sending, "sent": self.sent,
                               "cut": self.cut, "watches": len(self.watches)})

    def accept_loop(self):
        while True:
            try:
                s, _ = self.listener.accept()
            except OSError as e:
                print(f"slowread backend: accept: {e}", file=sys.stderr)
                time.sleep(0.1)
                continue
            threading.Thread(target=self.serve, args=(s,), daemon=True).start()

    def hand_over(self, c, stream):
        c.sock.setblocking(False)
        with self.lock:
            self.incoming.append(c)
            if stream:
                self.opened += 1
                self.sending += 1
        os.write(self.wake_w, b"x")

    def serve(self, s):
        s.settimeout(10)
        buf = b""
        try:
            while b"\r\n\r\n" not in buf and len(buf) < 65536:
                data = s.recv(65536)
                if not data:
                    s.close()
                    return
                buf += data
        except OSError:
            s.close()
            return
        line = buf.split(b"\r\n", 1)[0].decode("latin-1").split()
        path, _, query = (line[1] if len(line) > 1 else "/").partition("?")
        args = dict(p.partition("=")[::2] for p in query.split("&") if p)
        if path in ("/stream", "/bulk"):
            offset = 4 * int(args.get("start", "0"))
            n = int(args.get("bytes", "0"))
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nX-Backend: {self.name}\r\nConnection: close\r\n\r\n"
            self.hand_over(Conn(s, head.encode(), offset, offset + n), True)
            return
        if path == "/watch":
            head = ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                    f"X-Backend: {self.name}\r\n\r\n")
            self.hand_over(Conn(s, head.encode(), watch=True), False)
            return
        status, body = "404 Not Found", b""
        if path == "/small":
            status, body = "200 OK", b"ok"
        elif path == "/who":
            status, body = "200 OK", self.name.encode()
        elif path == "/readyz":
            status, body = ("200 OK", b"ok") if self.ready else ("500 Internal Server Error", b"not ready")
        elif path == "/ready" and args.get("mode") in ("ok", "500"):
            self.ready = args["mode"] == "ok"
            status, body = "200 OK", f"{self.name} ready={self.ready}".encode()
        elif path == "/stats":
            status, body = "200 OK", self.stats().encode()
        try:
            s.sendall(f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                      .encode() + body)
        except OSError:
            pass
        s.close()

    def close(self, c, complete):
        self.sel.unregister(c.sock)
        c.sock.close()
        with self.lock:
            if c.watch:
                self.watches.discard(c)
            else:
                self.sending -= 1
                self.cut += not complete

    def pump(self, c):
        """Sends what the peer takes, at most one block a turn so that every stream moves."""
        sent = 0
        try:
            while c.head:
                c.head = c.head[c.sock.send(c.head):]
            if c.offset < c.end:
                piece = pattern(c.offset, min(c.end - c.offset, BLOCK))[0]
                sent = c.sock.send(piece)
                c.offset += sent
        except (BlockingIOError, InterruptedError):
            self.want_write(c, True)
            return
        except OSError:
            self.close(c, False)
            return
        finally:
            with self.lock:
                self.sent += sent
        if c.watch:
            self.want_write(c, False)  # all sent: wait for the next event (or the client's FIN)
        elif c.offset >= c.end:
            self.close(c, True)  # all sent: the kernel delivers the rest, then FIN

    def want_write(self, c, write):
        if c.watch and c.writable != write:
            c.writable = write
            self.sel.modify(c.sock, selectors.EVENT_WRITE if write else selectors.EVENT_READ, c)

    def tick(self):
        for c in list(self.watches):
            self.events += 1
            line = json.dumps({"type": "BOOKMARK", "backend": self.name, "n": self.events}) + "\n"
            c.head += f"{len(line):x}\r\n{line}\r\n".encode()
            if len(c.head) > WATCH_MAX_UNSENT:
                self.close(c, False)
            else:
                self.pump(c)

    def readable(self, c):
        """A watch's client sent something: its FIN (or a reset) ends the watch."""
        try:
            data = c.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.close(c, True)

    def run(self):
        threading.Thread(target=self.accept_loop, daemon=True).start()
        next_tick = time.monotonic() + WATCH_EVERY
        while True:
            for key, mask in self.sel.select(max(0.0, next_tick - time.monotonic())):
                c = key.data
                if c is None:
                    try:
                        os.read(self.wake_r, 4096)
                    except BlockingIOError:
                        pass
                    with self.lock:
                        new, self.incoming = self.incoming, []
                    for c in new:
                        self.sel.register(c.sock, selectors.EVENT_WRITE, c)
                        if c.watch:
                            with self.lock:
                                self.watches.add(c)
                        self.pump(c)
                elif mask & selectors.EVENT_READ:
                    self.readable(c)
                else:
                    self.pump(c)
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + WATCH_EVERY
                self.tick()


# --- client -------------------------------------------------------------------------------------


class Failure(Exception):
    """The scenario cannot be set up or passes no traffic."""


class Stream:
    def __init__(self, index, sock, start):
        self.index = index
        self.sock = sock
        self.start = 4 * start  # pattern byte of the body's first
        self.head = b""
        self.status = None
        self.length = None  # Content-Length
        self.got = 0  # body bytes received and checked
        self.bad = None  # why the stream is wrong, once it is
        self.eof = False

    def feed(self, data):
        if self.status is None:
            self.head += data
            head, sep, rest = self.head.partition(b"\r\n\r\n")
            if not sep:
                if len(self.head) > 65536:
                    self.bad = "no response header"
                return
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split()
            self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
            for line in lines[1:]:
                k, _, v = line.partition(":")
                if k.strip().lower() == "content-length" and v.strip().isdigit():
                    self.length = int(v.strip())
            self.head = b""
            if self.status != 200 or self.length is None:
                self.bad = f"status {self.status}, length {self.length}"
                return
            data = rest
        if not data or self.bad:
            return
        if self.got + len(data) > self.length:
            self.bad = f"more than Content-Length {self.length}"
        elif not matches(self.start + self.got, data):
            self.bad = f"wrong bytes in {self.got}..{self.got + len(data)}"
        self.got += len(data)


class Sampler(threading.Thread):
    """Peak RSS of the process trees and peak cplb_buffer_memory_bytes, every `every` s."""

    def __init__(self, pids, admin, every=0.1):
        super().__init__(daemon=True)
        self.pids, self.admin, self.every = pids, admin, every
        self.peak_kb = 0
        self.peak_buffer = None
        self.stopped = False

    @staticmethod
    def rss(pids):
        total = 0
        for pid in process_tree(pids):
            try:
                total += rss_kb(pid)
            except OSError:
                pass
        return total

    def buffer_bytes(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/metrics", timeout=1) as r:
                text = r.read().decode()
        except OSError:
            return None
        for line in text.splitlines():
            if line.startswith("cplb_buffer_memory_bytes"):
                return float(line.split()[-1])
        return None

    def run(self):
        n = 0
        while not self.stopped:
            self.peak_kb = max(self.peak_kb, self.rss(self.pids))
            if self.admin and n % 2 == 0:  # every 0.2 s: the scrape costs cplb a little
                value = self.buffer_bytes()
                if value is not None:
                    self.peak_buffer = max(self.peak_buffer or 0, value)
            n += 1
            time.sleep(self.every)


def backend_stats(port):
    """The backend's /stats: {"streams", "sending", "sent", "cut"}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=5) as r:
        return json.loads(r.read())


def fresh_request(port, timeout=5.0):
    """ms from connect to the last byte of GET /small; None when it fails."""
    t = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(max(0.1, timeout - (time.monotonic() - t)))
            s.sendall(b"GET /small HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            buf = b""
            while True:
                data = s.recv(4096)
                if not data:
                    break
                buf += data
    except OSError:
        return None
    if not buf.startswith(b"HTTP/1.1 200") or not buf.endswith(b"\r\n\r\nok"):
        return None
    return (time.monotonic() - t) * 1000


class Prober(threading.Thread):
    """A fresh GET /small every `every` s (the first after half of that) until `until`."""

    def __init__(self, port, every, until):
        super().__init__(daemon=True)
        self.port, self.every, self.until = port, every, until
        self.ms, self.failed = [], 0

    def run(self):
        t = time.monotonic() + self.every / 2
        while t < self.until:
            time.sleep(max(0.0, t - time.monotonic()))
            ms = fresh_request(self.port)
            if ms is None:
                self.failed += 1
            else:
                self.ms.append(ms)
            t += self.every


def client(args):
    pids = args.pids
    # Until the proxy serves (its health checks have passed), then warm it up: its first sessions
    # allocate what any session needs.
    answered, deadline = 0, time.monotonic() + 15
    while answered < 3:
        if fresh_request(args.connect, timeout=1) is not None:
            answered += 1
        elif time.monotonic() > deadline:
            raise Failure("the proxy answers no GET /small in 15 s")
        else:
            time.sleep(0.1)
    time.sleep(0.2)
    base_kb = Sampler.rss(pids)
    sampler = Sampler(pids, args.admin)

    sel = selectors.DefaultSelector()
    streams = []
    deadline = time.monotonic() + 30
    for i in range(args.clients):
        s = socket.socket()
        s.settimeout(5)
        try:
            s.connect(("127.0.0.1", args.connect))
            s.sendall(f"GET /stream?bytes={args.bytes}&start={i * STREAM_SPREAD} HTTP/1.1\r\n"
                      "Host: bench\r\n\r\n".encode())
        except OSError as e:
            raise Failure(f"stream {i}: cannot open: {e}")
        s.setblocking(False)
        streams.append(Stream(i, s, i * STREAM_SPREAD))
        if time.monotonic() > deadline:
            raise Failure(f"opened only {i + 1} of {args.clients} streams in 30 s")
    sampler.start()

    def take(st, limit):
        """Reads at most `limit` bytes of st now (None: as much as there is)."""
        want = limit
        while (want is None or want > 0) and not st.eof:
            try:
                data = st.sock.recv(65536 if want is None else min(want, 65536))
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                st.bad = st.bad or f"recv: {e}"
                data = b""
            if not data:
                st.eof = True
                return
            st.feed(data)
            if want is not None:
                want -= len(data)

    # Slow phase: `read` bytes per stream every `every` s.
    began = time.monotonic()
    slow_end = began + args.seconds
    next_tick = began
    prober = Prober(args.connect, args.fresh_every, slow_end)
    prober.start()
    while time.monotonic() < slow_end:
        for st in streams:
            take(st, args.read)
        next_tick += args.every
        time.sleep(max(0.0, min(next_tick, slow_end) - time.monotonic()))
    slow_seconds = time.monotonic() - began
    backend_at_end = backend_stats(args.backend)
    prober.join(10)
    fresh_ms, fresh_failed = prober.ms, prober.failed
    slow_bytes = sum(st.got for st in streams)
    sampler.stopped = True
    sampler.join(2)
    peak_kb, peak_buffer = sampler.peak_kb, sampler.peak_buffer
    if slow_bytes == 0:
        raise Failure("no byte arrived in the slow phase")

    # Drain phase: everything else, as fast as it comes.
    for st in streams:
        if not st.eof:
            sel.register(st.sock, selectors.EVENT_READ, st)
    drain_began = time.monotonic()
    drain_deadline = drain_began + args.timeout
    while sel.get_map():
        if time.monotonic() > drain_deadline:
            break
        for key, _ in sel.select(1.0):
            st = key.data
            take(st, None)
            if st.eof:
                sel.unregister(st.sock)
    drain_seconds = time.monotonic() - drain_began
    for st in streams:
        st.sock.close()
    time.sleep(0.5)
    after_kb = Sampler.rss(pids)

    bad = []
    for st in streams:
        if st.bad is None and not st.eof:
            st.bad = f"not ended after {args.timeout:g} s ({st.got} of {args.bytes} bytes)"
        elif st.bad is None and st.got != args.bytes:
            st.bad = f"ended after {st.got} of {args.bytes} bytes"
        if st.bad:
            bad.append(f"stream {st.index}: {st.bad}")
    backend_after = backend_stats(args.backend)
    delivered = sum(st.got for st in streams)
    if delivered == 0:
        raise Failure("no stream delivered a byte")
    growth = max(0, peak_kb - base_kb)
    print(json.dumps({
        "clients": args.clients, "base_kb": base_kb, "peak_kb": peak_kb, "after_kb": after_kb,
        "growth_mib": growth / 1024, "kib_per_client": growth / args.clients,
        "after_growth_mib": (after_kb - base_kb) / 1024,
        "peak_buffer_mib": None if peak_buffer is None else peak_buffer / 2**20,
        "slow_seconds": slow_seconds, "slow_mib": slow_bytes / 2**20,
        "slow_kib_s_per_client": slow_bytes / 1024 / slow_seconds / args.clients,
        "drain_seconds": drain_seconds, "delivered_mib": delivered / 2**20,
        "expected_mib": args.clients * args.bytes / 2**20,
        "bad_streams": len(bad), "bad": bad[:5],
        # streams whose backend still had bytes to send when the slow phase ended: the proxy
        # was holding a full pipe the whole time
        "backend_sending_at_end": backend_at_end["sending"],
        "backend_sent_at_end_mib": backend_at_end["sent"] / 2**20,
        "backend_cut": backend_after["cut"],
        "fresh_ms": fresh_ms, "fresh_failed": fresh_failed,
        "fresh_max_ms": max(fresh_ms) if fresh_ms else None,
    }))


def summary(text, target, cap_mib):
    """run.sh's lines for one target's client JSON: "record METRIC VALUE", "say TEXT", "bad N"."""
    d = json.loads(text)
    fresh = d["fresh_ms"] + [5000.0] * d["fresh_failed"]  # a failed one counts as its 5 s timeout
    bad = d["bad_streams"] + d["backend_cut"]
    rec = {"sr_rss_growth_mib": d["growth_mib"], "sr_kib_per_client": d["kib_per_client"],
           "sr_after_growth_mib": d["after_growth_mib"], "sr_read_kib_s": d["slow_kib_s_per_client"],
           "sr_backend_sending": d["backend_sending_at_end"], "sr_drain_s": d["drain_seconds"],
           "sr_delivered_mib": d["delivered_mib"], "sr_bad_streams": bad}
    if fresh:
        rec["sr_fresh_median_ms"] = sorted(fresh)[len(fresh) // 2]
        rec["sr_fresh_max_ms"] = max(fresh)
    buf = ""
    if d["peak_buffer_mib"] is not None:
        rec["sr_peak_buffer_mib"] = d["peak_buffer_mib"]
        buf = f", cplb_buffer_memory_bytes peak {d['peak_buffer_mib']:.2f} MiB"
    if target == "cplb-cap":
        rec["sr_growth_minus_cap_mib"] = d["growth_mib"] - cap_mib
    for k, v in rec.items():
        print("record", k, f"{v:.6g}" if isinstance(v, float) else v)
    print("say", f"{target:8} RSS +{d['growth_mib']:.2f} MiB at the peak ({d['kib_per_client']:.1f} KiB per"
          f" client{buf}), +{d['after_growth_mib']:.2f} MiB after the streams ended; read"
          f" {d['slow_kib_s_per_client']:.0f} KiB/s per client, {d['backend_sending_at_end']}/{d['clients']}"
          f" streams still sending when the slow phase ended")
    print("say", f"{'':8} {d['delivered_mib']:.0f}/{d['expected_mib']:.0f} MiB delivered in order,"
          f" {d['bad_streams']} bad streams, {d['backend_cut']} cut at the backend; rest read in"
          f" {d['drain_seconds']:.1f} s; fresh GET during the load: {' '.join('%.0f' % v for v in fresh)} ms"
          f" ({d['fresh_failed']} failed)")
    for why in d["bad"]:
        print("say", f"{'':8} {why}")
    print("bad", bad)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("backend")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--name", default="backend")
    p = sub.add_parser("client")
    p.add_argument("--connect", type=int, required=True)
    p.add_argument("--backend", type=int, required=True)
    p.add_argument("--clients", type=int, required=True)
    p.add_argument("--bytes", type=int, required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--pids", type=int, nargs="+", required=True)
    p.add_argument("--read", type=int, default=16384)
    p.add_argument("--every", type=float, default=0.1)
    p.add_argument("--admin", type=int)
    p.add_argument("--fresh-every", type=float, default=1.0)
    p.add_argument("--timeout", type=float, default=120)
    p = sub.add_parser("summary")
    p.add_argument("json")
    p.add_argument("target")
    p.add_argument("cap_mib", type=float)
    args = parser.parse_args()
    if args.mode == "summary":
        summary(args.json, args.target, args.cap_mib)
        return 0
    if args.mode == "backend":
        Backend(args.port, args.name).run()
        return 0
    # A hard bound on the whole scenario, whatever hangs.
    bound = args.seconds + 2 * args.timeout + 60
    timer = threading.Timer(bound, lambda: (print(f"slowread: timed out after {bound:g} s", file=sys.stderr),
                                            os._exit(1)))
    timer.daemon = True
    timer.start()
    try:
        client(args)
    except (Failure, OSError) as e:
        print(f"slowread: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
