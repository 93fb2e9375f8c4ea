#!/usr/bin/env python3
"""bench/soak.sh's load generator and verdict (stdlib only).

  soak.py load --frontend PORT --status FILE --events FILE [--watches 50] [--every 0.01]
               [--bulk-every 60] [--bulk-bytes N]
      Through the proxy on PORT, until SIGTERM:
        - a new connection every `every` s, each one GET /who (Connection: close), read to EOF;
          it fails on a connect error, a reset, a status other than 200, an empty body or no
          end within 3 s;
        - `watches` watches (GET /watch, chunked events every 200 ms), each re-opened at once
          when it ends (a watch's backend never ends it: every end is a break); an open fails
          when no 200 and first event arrive within 3 s;
        - every `bulk-every` s one download of `bulk-bytes` (GET /bulk, bench/lib/slowread.py's
          counter pattern), every byte checked.
      Every second it replaces FILE with its cumulative counters (JSON), and appends each failure
      to EVENTS as one line: "WALLCLOCK_START WALLCLOCK_END KIND DETAIL" (KIND connect, watch_break,
      watch_open, bulk).

  soak.py verdict --samples FILE --faults FILE --events FILE --idle-fds BEFORE AFTER
      The end of the soak: FILE has one line a minute (the columns soak.sh prints), FAULTS one
      line per fault "START END KIND" (wall clock). Prints the verdict and exits 1 when it fails:
        - RSS flat: every minute from the reference minute on (the 5th; the middle one in a run
          under 10 minutes), up to the last 10, within max(2 MiB, 5 %) of the reference value;
        - descriptors flat: the same with a band of max(16, 10 %), and once the load has ended the
          descriptors are back to what they were before it began (+/- 2);
        - every failed connect, bulk download and broken or failed watch falls in a fault's window
          (see soak.sh: a connect within the fault +5 s, a watch within the fault +30 s, which
          covers the drain and the rebalance that follow it); none while no fault was active;
        - no reload failed.
"""
import argparse
import errno
import json
import os
import selectors
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from slowread import matches  # noqa: E402

CONNECT_TIMEOUT = 3.0
WATCH_OPEN_TIMEOUT = 3.0
BULK_TIMEOUT = 60.0


class Load:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.counts = {"connects_ok": 0, "connects_failed": 0, "watch_opens": 0, "watch_open_failed": 0,
                       "watch_breaks": 0, "watch_events": 0, "watches_open": 0, "bulk_ok": 0,
                       "bulk_failed": 0, "bulk_mib": 0.0, "answers": {}}
        self.events = open(args.events, "a", buffering=1)

    def failure(self, start, end, kind, detail):
        with self.lock:
            self.events.write(f"{start:.3f} {end:.3f} {kind} {detail}\n")

    def add(self, key, n=1):
        with self.lock:
            self.counts[key] += n

    # --- new connections ----------------------------------------------------------------------

    def connects(self):
        sel = selectors.DefaultSelector()
        port = self.args.frontend
        next_launch = time.monotonic()
        request = b"GET /who HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n"

        def done(conn, ok, why=""):
            s, t, wall, buf = conn
            sel.unregister(s)
            s.close()
            head, _, body = bytes(buf).partition(b"\r\n\r\n")
            if ok and head.startswith(b"HTTP/1.1 200") and body:
                with self.lock:
                    self.counts["connects_ok"] += 1
                    name = body.decode("latin-1")
                    self.counts["answers"][name] = self.counts["answers"].get(name, 0) + 1
                return
            self.add("connects_failed")
            self.failure(wall, time.time(), "connect", why or f"answer {head[:40]!r}")

        while not self.stopped.is_set():
            for key, mask in sel.select(max(0.0, next_launch - time.monotonic())):
                conn = key.data
                s = conn[0]
                if mask & selectors.EVENT_WRITE:
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        done(conn, False, f"connect: {os.strerror(err)}")
                        continue
                    try:
                        s.send(request)
                    except OSError as e:
                        done(conn, False, f"send: {e.strerror}")
                        continue
                    sel.modify(s, selectors.EVENT_READ, conn)
                    continue
                try:
                    data = s.recv(4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as e:
                    done(conn, False, f"recv: {e.strerror}")
                    continue
                if data:
                    conn[3] += data
                else:
                    done(conn, True)
            now = time.monotonic()
            if now >= next_launch:
                for key in list(sel.get_map().values()):
                    if now - key.data[1] > CONNECT_TIMEOUT:
                        done(key.data, False, f"no answer in {CONNECT_TIMEOUT:g} s")
                s = socket.socket()
                s.setblocking(False)
                wall = time.time()
                err = s.connect_ex(("127.0.0.1", port))
                if err not in (0, errno.EINPROGRESS):
                    s.close()
                    self.add("connects_failed")
                    self.failure(wall, wall, "connect", f"connect: {os.strerror(err)}")
                else:
                    sel.register(s, selectors.EVENT_WRITE, [s, now, wall, bytearray()])
                next_launch = max(next_launch + self.args.every, now)

    # --- watches ------------------------------------------------------------------------------

    def watches(self):
        sel = selectors.DefaultSelector()
        port = self.args.frontend

        class Watch:
            pass

        def open_watch(w):
            w.sock = socket.socket()
            w.sock.setblocking(False)
            w.buf, w.status, w.events, w.t, w.wall = b"", None, 0, time.monotonic(), time.time()
            err = w.sock.connect_ex(("127.0.0.1", port))
            if err not in (0, errno.EINPROGRESS):
                w.sock.close()
                w.sock = None
                self.add("watch_open_failed")
                self.failure(w.wall, w.wall, "watch_open", f"connect: {os.strerror(err)}")
                w.retry = time.monotonic() + 0.1
                return
            sel.register(w.sock, selectors.EVENT_WRITE, w)

        def end(w, why):
            sel.unregister(w.sock)
            w.sock.close()
            w.sock = None
            if w.events == 0:
                self.add("watch_open_failed")
                self.failure(w.wall, time.time(), "watch_open", why)
                w.retry = time.monotonic() + 0.1  # as a reflector backs off a little
            else:
                with self.lock:
                    self.counts["watch_breaks"] += 1
                    self.counts["watches_open"] -= 1
                self.failure(time.time(), time.time(), "watch_break", f"{why} after {w.events} events")
                w.retry = 0.0
                open_watch(w)  # at once, as a reflector does

        def parse(w):
            if w.status is None:
                head, sep, rest = w.buf.partition(b"\r\n\r\n")
                if not sep:
                    return True
                parts = head.split(b"\r\n", 1)[0].split()
                w.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
                w.buf = rest
                if w.status != 200:
                    return False
            while True:
                size_line, sep, rest = w.buf.partition(b"\r\n")
                if not sep:
                    return True
                size = int(size_line.split(b";")[0], 16)
                if size == 0 or len(rest) < size + 2:
                    return size != 0
                w.buf = rest[size + 2:]
                if w.events == 0:
                    with self.lock:
                        self.counts["watch_opens"] += 1
                        self.counts["watches_open"] += 1
                w.events += 1
                self.add("watch_events")

        all_watches = []
        for _ in range(self.args.watches):
            w = Watch()
            w.retry = 0.0
            all_watches.append(w)
            open_watch(w)
        while not self.stopped.is_set():
            for key, mask in sel.select(0.1):
                w = key.data
                if mask & selectors.EVENT_WRITE:
                    err = w.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        end(w, f"connect: {os.strerror(err)}")
                        continue
                    try:
                        w.sock.send(b"GET /watch?watch=true HTTP/1.1\r\nHost: soak\r\n\r\n")
                    except OSError as e:
                        end(w, f"send: {e.strerror}")
                        continue
                    sel.modify(w.sock, selectors.EVENT_READ, w)
                    continue
                try:
                    data = w.sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as e:
                    end(w, f"recv: {e.strerror}")
                    continue
                if not data:
                    end(w, "closed")
                    continue
                w.buf += data
                if not parse(w):
                    end(w, f"status {w.status}")
            now = time.monotonic()
            for w in all_watches:
                if w.sock is None and now >= w.retry:
                    open_watch(w)
                elif w.sock is not None and w.events == 0 and now - w.t > WATCH_OPEN_TIMEOUT:
                    end(w, f"no event in {WATCH_OPEN_TIMEOUT:g} s")

    # --- bulk ---------------------------------------------------------------------------------

    def bulk_once(self):
        wall, t = time.time(), time.monotonic()
        n = self.args.bulk_bytes
        got, head = 0, b""
        try:
            with socket.create_connection(("127.0.0.1", self.args.frontend), timeout=10) as s:
                s.sendall(f"GET /bulk?bytes={n} HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n".encode())
                while True:
                    if time.monotonic() - t > BULK_TIMEOUT:
                        raise OSError(f"not done in {BULK_TIMEOUT:g} s")
                    data = s.recv(1 << 20)
                    if not data:
                        break
                    if head is not None:
                        head += data
                        h, sep, rest = head.partition(b"\r\n\r\n")
                        if not sep:
                            continue
                        if not h.startswith(b"HTTP/1.1 200"):
                            raise OSError(f"answer {h[:40]!r}")
                        head, data = None, rest
                    if not matches(got, data):
                        raise OSError(f"wrong bytes in {got}..{got + len(data)}")
                    got += len(data)
            if got != n:
                raise OSError(f"ended after {got} of {n} bytes")
        except OSError as e:
            self.add("bulk_failed")
            self.failure(wall, time.time(), "bulk", str(e).replace("\n", " "))
            return
        with self.lock:
            self.counts["bulk_ok"] += 1
            self.counts["bulk_mib"] += n / 2**20

    def bulks(self):
        while not self.stopped.wait(self.args.bulk_every):
            self.bulk_once()

    # --- status -------------------------------------------------------------------------------

    def write_status(self):
        with self.lock:
            text = json.dumps(self.counts)
        tmp = self.args.status + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.args.status)

    def run(self):
        signal.signal(signal.SIGTERM, lambda *_: self.stopped.set())
        threads = [threading.Thread(target=f, daemon=True) for f in (self.connects, self.watches, self.bulks)]
        for t in threads:
            t.start()
        while not self.stopped.wait(1.0):
            self.write_status()
        for t in threads:
            t.join(5)
        self.write_status()


# --- verdict ------------------------------------------------------------------------------------

COLUMNS = ["minute", "rss_kib", "fds", "cpu_pct", "connects_ok", "connects_failed", "watch_breaks",
           "watch_open_failed", "bulk_ok", "bulk_failed", "reloads_ok", "reloads_failed", "faults"]
CONNECT_GRACE = 5.0  # s after a fault in which failed connects are its doing
WATCH_GRACE = 30.0  # s after a fault in which broken watches are its doing (drain, rebalance)


def verdict(args):
    rows = []
    with open(args.samples) as f:
        for line in f:
            parts = line.split()
            if parts and parts[0].isdigit():
                rows.append(dict(zip(COLUMNS, parts)))
    faults = []
    with open(args.faults) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3:
                faults.append((float(parts[0]), float(parts[1]), parts[2]))
    events = []
    with open(args.events) as f:
        for line in f:
            parts = line.split(maxsplit=3)
            if len(parts) >= 3:
                events.append((float(parts[0]), float(parts[1]), parts[2], parts[3].strip() if len(parts) > 3 else ""))
    ok = True
    out = []
    minutes = len(rows)
    if minutes < 2:
        print("verdict: FAIL: fewer than 2 minutes sampled")
        return 1
    ref = 5 if minutes >= 10 else max(1, minutes // 2)
    last = [r for r in rows if int(r["minute"]) >= ref][-10:]
    for key, band_of, unit in (("rss_kib", lambda v: max(2048, 0.05 * v), " KiB"),
                               ("fds", lambda v: max(16, 0.10 * v), "")):
        base = float(rows[ref - 1][key])
        band = band_of(base)
        values = [float(r[key]) for r in last]
        worst = max(values, key=lambda v: abs(v - base))
        flat = all(abs(v - base) <= band for v in values)
        ok &= flat
        name = "RSS" if key == "rss_kib" else "descriptors"
        out.append(f"  {'PASS' if flat else 'FAIL'}  {name} flat: minutes {last[0]['minute']}-{last[-1]['minute']}"
                   f" within {band:.0f}{unit} of minute {ref}'s {base:.0f}{unit} (furthest {worst:.0f},"
                   f" {worst - base:+.0f}); minute 1 {rows[0][key]}, last {rows[-1][key]}")
    before, after = args.idle_fds
    back = abs(after - before) <= 3  # a health check in flight per server
    ok &= back
    out.append(f"  {'PASS' if back else 'FAIL'}  descriptors after the load ended: {after} (before it began: {before})")

    def explained(start, end, grace):
        return any(f0 - 0.5 <= end and start <= f1 + grace for f0, f1, _ in faults)

    counts = {}
    unexplained = []
    for start, end, kind, detail in events:
        grace = CONNECT_GRACE if kind in ("connect", "bulk") else WATCH_GRACE
        good = explained(start, end, grace)
        c = counts.setdefault(kind, [0, 0])
        c[0 if good else 1] += 1
        if not good:
            unexplained.append(f"{time.strftime('%H:%M:%S', time.localtime(start))} {kind} {detail}")
    labels = {"connect": "failed connects", "bulk": "failed bulk downloads", "watch_break": "broken watches",
              "watch_open": "failed watch opens"}
    for kind, label in labels.items():
        good, bad = counts.get(kind, [0, 0])
        ok &= bad == 0
        out.append(f"  {'PASS' if bad == 0 else 'FAIL'}  {label}: {good + bad}, {good} during a fault,"
                   f" {bad} while none was active")
    for line in unexplained[:10]:
        out.append(f"          {line}")
    kinds = {}
    for _, _, kind in faults:
        kinds[kind] = kinds.get(kind, 0) + 1
    reloads_failed = sum(int(r["reloads_failed"]) for r in rows)
    reloads_ok = sum(int(r["reloads_ok"]) for r in rows)
    ok &= reloads_failed == 0
    out.append(f"  {'PASS' if reloads_failed == 0 else 'FAIL'}  reloads: {reloads_ok} ok, {reloads_failed} failed")
    out.append("  faults: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
    print(f"verdict: {'PASS' if ok else 'FAIL'}")
    print("\n".join(out))
    return 0 if ok else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("load")
    p.add_argument("--frontend", type=int, required=True)
    p.add_argument("--status", required=True)
    p.add_argument("--events", required=True)
    p.add_argument("--watches", type=int, default=50)
    p.add_argument("--every", type=float, default=0.01)
    p.add_argument("--bulk-every", type=float, default=60)
    p.add_argument("--bulk-bytes", type=int, default=64 << 20)
    p = sub.add_parser("verdict")
    p.add_argument("--samples", required=True)
    p.add_argument("--faults", required=True)
    p.add_argument("--events", required=True)
    p.add_argument("--idle-fds", type=int, nargs=2, required=True)
    args = parser.parse_args()
    if args.mode == "load":
        Load(args).run()
        return 0
    return verdict(args)


if __name__ == "__main__":
    sys.exit(main())
