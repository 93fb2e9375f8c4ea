#!/usr/bin/env python3
"""Rolling-restart and detection scenarios (stdlib only).

  failover.py backend --name NAME --port PORT --control PORT
      One fake apiserver, HTTP/1.1 on PORT:
        GET /readyz  200 "ok", or 500 while not ready
        GET /watch   200, chunked: one small JSON event line naming the backend every 200 ms,
                     forever; the response header X-Backend names it too
        GET /who     200, the backend's name (Connection: close)
      and a control port (answers when the action is done):
        GET /ready?mode=ok|500     switches /readyz
        GET /restart?not_ready=2&down=1
                     /readyz answers 500 for `not_ready` s (kube-apiserver's
                     --shutdown-delay-duration), then every watch ends cleanly (its last chunk,
                     then FIN) and PORT stops listening; `down` s later it listens again, ready.
      Runs until killed.

  failover.py rollingrestart --frontend NAME=PORT... --control NAME=PORT... --watches N
                             [--gap S] [--settle S] [--timeout S]
      Opens N watches through each frontend (the proxies run side by side, in front of the same
      backends) and re-opens each one at once whenever it ends (after a failed open: 100 ms
      later). Restarts the --control backends one after another, `gap` s apart, waits `settle` s
      after the last one and prints one JSON line: per frontend the open watches per backend
      at the start, before each later restart and at the end, and how the watches ended:
      with the last chunk (the backend closed it) or without (the proxy closed it).

  failover.py detection --frontend NAME=PORT... --control NAME=PORT NAME=PORT --trials N
                        [--every S] [--quiet S] [--noise-root PID] [--max-other-cpu PCT]
                        [--retries N] [--timeout S]
      Through each frontend, opens a new connection every `every` s (GET /who). Per trial: waits
      until every frontend serves both backends, sleeps a random 0-1 s, switches one backend's
      /readyz to 500, and takes as detection time the last connection (by its connect time) that
      the flipped backend answered, minus the flip; the trial ends when no frontend has sent the
      flipped backend a connection for `quiet` s. Then /readyz is ok again and the next trial
      waits until it serves again; trials alternate between the two backends. A trial during
      which other processes (not in --noise-root's tree) took more than --max-other-cpu % of the
      machine is run again, once, at most --retries times in all. Prints one JSON line.
"""
import argparse
import errno
import heapq
import json
import os
import random
import selectors
import socket
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from util import machine_jiffies, tree_jiffies  # noqa: E402

EVENT_EVERY = 0.2  # seconds between two events of a watch
REOPEN_AFTER_FAILURE = 0.1  # seconds before a watch whose open failed is tried again


class Failure(Exception):
    """The scenario cannot be set up or passes no traffic."""


# --- backend ------------------------------------------------------------------------------------


class Conn:
    """One accepted connection of the backend."""

    def __init__(self, sock, kind):
        self.sock = sock
        self.kind = kind  # "api" or "control"
        self.inbuf = b""
        self.out = b""
        self.watch = False
        self.closing = False  # close once `out` is sent


class Backend:
    def __init__(self, name, port, control_port):
        self.name = name
        self.port = port
        self.ready = True
        self.sel = selectors.DefaultSelector()
        self.timers = []  # heap of (when, seq, callback)
        self.seq = 0
        self.watches = set()
        self.events = 0
        self.listener = None
        self.listen()
        control = self.bind(control_port)
        self.sel.register(control, selectors.EVENT_READ, ("listener", "control"))

    @staticmethod
    def bind(port):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(1024)
        sock.setblocking(False)
        return sock

    def listen(self):
        self.listener = self.bind(self.port)
        self.sel.register(self.listener, selectors.EVENT_READ, ("listener", "api"))

    def stop_listening(self):
        self.sel.unregister(self.listener)
        self.listener.close()
        self.listener = None

    def later(self, delay, callback):
        self.seq += 1
        heapq.heappush(self.timers, (time.monotonic() + delay, self.seq, callback))

    def send(self, conn, data):
        conn.out += data
        self.flush(conn)

    def flush(self, conn):
        try:
            while conn.out:
                n = conn.sock.send(conn.out)
                conn.out = conn.out[n:]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self.close(conn)
            return
        if not conn.out and conn.closing:
            self.close(conn)
            return
        want = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.out else 0)
        if self.sel.get_key(conn.sock).events != want:
            self.sel.modify(conn.sock, want, conn)

    def close(self, conn):
        if conn.sock.fileno() < 0:
            return
        self.watches.discard(conn)
        self.sel.unregister(conn.sock)
        conn.sock.close()

    def reply(self, conn, status, body, close=True):
        reason = {200: "OK", 404: "Not Found", 500: "Internal Server Error"}[status]
        head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
        conn.closing = close
        self.send(conn, (head + "Connection: close\r\n\r\n" + body).encode())

    def handle_request(self, conn, target):
        path, _, query = target.partition("?")
        args = dict(p.partition("=")[::2] for p in query.split("&") if p)
        if conn.kind == "control":
            if path == "/ready" and args.get("mode") in ("ok", "500"):
                self.ready = args["mode"] == "ok"
                self.reply(conn, 200, f"{self.name} ready={self.ready}\n")
            elif path == "/restart":
                self.restart(conn, float(args.get("not_ready", 2)), float(args.get("down", 1)))
            else:
                self.reply(conn, 404, "unknown control\n")
        elif path == "/readyz":
            self.reply(conn, 200 if self.ready else 500, "ok" if self.ready else "shutting down")
        elif path == "/who":
            self.reply(conn, 200, self.name)
        elif path == "/watch":
            conn.watch = True
            self.watches.add(conn)
            self.send(conn, ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             f"Transfer-Encoding: chunked\r\nX-Backend: {self.name}\r\n\r\n").encode())
            self.event(conn)
        else:
            self.reply(conn, 404, "not found\n")

    def event(self, conn):
        self.events += 1
        line = json.dumps({"type": "BOOKMARK", "backend": self.name, "n": self.events}) + "\n"
        self.send(conn, f"{len(line):x}\r\n{line}\r\n".encode())

    def restart(self, control, not_ready, down):
        self.ready = False

        def stop():
            for conn in list(self.watches):
                conn.closing = True
                self.send(conn, b"0\r\n\r\n")  # the response's last chunk, then FIN
            self.watches.clear()
            self.stop_listening()
            self.later(down, start)

        def start():
            self.listen()
            self.ready = True
            self.reply(control, 200, f"{self.name} restarted\n")

        self.later(not_ready, stop)

    def readable(self, conn):
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.close(conn)
            return
        if conn.watch or conn.closing:
            return  # a watch only sends; anything more is ignored
        conn.inbuf += data
        if b"\r\n\r\n" in conn.inbuf:
            line = conn.inbuf.split(b"\r\n", 1)[0].decode("latin-1").split()
            conn.inbuf = b""
            if len(line) < 2:
                self.reply(conn, 404, "bad request\n")
            else:
                self.handle_request(conn, line[1])
        elif len(conn.inbuf) > 65536:
            self.close(conn)

    def accept(self, sock, kind):
        while True:
            try:
                s, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                if e.errno in (errno.EMFILE, errno.ENFILE):
                    print(f"backend {self.name}: out of file descriptors", file=sys.stderr)
                return
            s.setblocking(False)
            conn = Conn(s, kind)
            self.sel.register(s, selectors.EVENT_READ, conn)

    def run(self):
        next_tick = time.monotonic() + EVENT_EVERY
        while True:
            now = time.monotonic()
            wake = min(next_tick, self.timers[0][0] if self.timers else next_tick)
            for key, mask in self.sel.select(max(0.0, wake - now)):
                data = key.data
                if isinstance(data, tuple):
                    self.accept(key.fileobj, data[1])
                    continue
                if data.sock.fileno() < 0:
                    continue
                if mask & selectors.EVENT_WRITE:
                    self.flush(data)
                if mask & selectors.EVENT_READ and data.sock.fileno() >= 0:
                    self.readable(data)
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                heapq.heappop(self.timers)[2]()
            if now >= next_tick:
                next_tick = now + EVENT_EVERY
                for conn in list(self.watches):
                    self.event(conn)


# --- watch client -------------------------------------------------------------------------------


class Watch:
    """One watch through one frontend; re-opened whenever it ends."""

    def __init__(self, frontend):
        self.frontend = frontend
        self.sock = None
        self.buf = b""
        self.status = None  # HTTP status, once the headers are in
        self.backend = None
        self.last_event = 0.0
        self.finished = False  # the last chunk arrived


class WatchClient:
    def __init__(self, frontends, watches):
        self.frontends = frontends  # {name: port}
        self.lock = threading.Lock()
        self.sel = selectors.DefaultSelector()
        self.stopped = False
        self.retry = []  # (when, watch)
        self.watches = [Watch(f) for f in frontends for _ in range(watches)]
        zero = {"closed_by_backend": 0, "closed_by_proxy": 0, "failed_opens": 0, "events": 0}
        self.stats = {f: dict(zero, closed_by_proxy_from={}) for f in frontends}
        for w in self.watches:
            self.open(w)

    def open(self, w):
        w.buf, w.status, w.backend, w.finished = b"", None, None, False
        w.sock = socket.socket()
        w.sock.setblocking(False)
        err = w.sock.connect_ex(("127.0.0.1", self.frontends[w.frontend]))
        if err not in (0, errno.EINPROGRESS):
            w.sock.close()
            self.stats[w.frontend]["failed_opens"] += 1
            self.retry.append((time.monotonic() + REOPEN_AFTER_FAILURE, w))
            return
        self.sel.register(w.sock, selectors.EVENT_WRITE, w)

    def end(self, w):
        self.sel.unregister(w.sock)
        w.sock.close()
        st = self.stats[w.frontend]
        if w.status != 200:
            st["failed_opens"] += 1
            self.retry.append((time.monotonic() + REOPEN_AFTER_FAILURE, w))
            return
        if w.finished:
            st["closed_by_backend"] += 1
        else:
            st["closed_by_proxy"] += 1
            per = st["closed_by_proxy_from"]
            per[w.backend] = per.get(w.backend, 0) + 1
        self.open(w)  # at once, as a reflector does after a watch ends

    def parse(self, w):
        if w.status is None:
            head, sep, rest = w.buf.partition(b"\r\n\r\n")
            if not sep:
                return True
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split()
            w.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
            for line in lines[1:]:
                k, _, v = line.partition(":")
                if k.strip().lower() == "x-backend":
                    w.backend = v.strip()
            w.buf = rest
            if w.status != 200:
                return False
        while True:
            size_line, sep, rest = w.buf.partition(b"\r\n")
            if not sep:
                return True
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                w.finished = True
                return True
            if len(rest) < size + 2:
                return True
            w.buf = rest[size + 2:]
            w.last_event = time.monotonic()
            self.stats[w.frontend]["events"] += 1

    def step(self, timeout):
        for key, mask in self.sel.select(timeout):
            w = key.data
            with self.lock:
                if mask & selectors.EVENT_WRITE:
                    if w.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                        self.end(w)
                        continue
                    try:
                        w.sock.send(b"GET /watch?watch=true HTTP/1.1\r\nHost: bench\r\n\r\n")
                    except OSError:
                        self.end(w)
                        continue
                    self.sel.modify(w.sock, selectors.EVENT_READ, w)
                    continue
                try:
                    data = w.sock.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""  # a reset ends the watch like a FIN
                if not data:
                    self.end(w)
                    continue
                w.buf += data
                if not self.parse(w):
                    self.end(w)
        with self.lock:
            now = time.monotonic()
            due = [w for when, w in self.retry if when <= now]
            self.retry = [(when, w) for when, w in self.retry if when > now]
            for w in due:
                self.open(w)

    def run(self):
        while not self.stopped:
            self.step(0.05)

    def counts(self, backends):
        """{frontend: {backend: open watches}}: watches that have their headers, have not ended
        and had an event in the last second."""
        now = time.monotonic()
        with self.lock:
            out = {f: {b: 0 for b in backends} for f in self.frontends}
            for w in self.watches:
                if w.status == 200 and not w.finished and now - w.last_event < 1.0 and w.backend:
                    out[w.frontend][w.backend] = out[w.frontend].get(w.backend, 0) + 1
            return out


def control(port, path, timeout=10):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        return r.read().decode()


def wait_until(cond, timeout, what):
    """Waits until cond() holds; raises Failure after `timeout` s, naming `what` (or what())."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {timeout:g} s waiting for {what() if callable(what) else what}")
        time.sleep(0.05)


def rollingrestart(args):
    frontends = dict(args.frontend)
    controls = dict(args.control)
    backends = list(controls)
    client = WatchClient(frontends, args.watches)
    thread = threading.Thread(target=client.run, daemon=True)
    thread.start()

    def all_open():
        return all(sum(c.values()) == args.watches for c in client.counts(backends).values())

    try:
        wait_until(all_open, 15, f"{args.watches} watches open with events through every frontend")
    except Failure:
        raise Failure(f"watches not open: {client.counts(backends)}; {client.stats}")
    snapshots = [("start", client.counts(backends))]
    for i, name in enumerate(backends):
        control(controls[name], "/restart?not_ready=2&down=1", timeout=30)
        if i + 1 < len(backends):
            time.sleep(args.gap)
            snapshots.append((f"before {backends[i + 1]}", client.counts(backends)))
    time.sleep(args.settle)
    final = client.counts(backends)
    client.stopped = True
    thread.join(5)
    out = {}
    for f in frontends:
        counts = [final[f][b] for b in backends]
        mean = sum(counts) / len(counts)
        st = client.stats[f]
        out[f] = dict(
            st, backends=backends, final=counts, open=sum(counts),
            max_over_mean=max(counts) / mean if mean else 0.0,
            closed=st["closed_by_backend"] + st["closed_by_proxy"],
            snapshots=[[label, [snap[f][b] for b in backends]] for label, snap in snapshots])
    print(json.dumps(out))
    bad = {f: o["open"] for f, o in out.items() if o["open"] != args.watches}
    if bad:
        raise Failure(f"watches open at the end (of {args.watches}): {bad}")


# --- detection client ---------------------------------------------------------------------------


class WhoClient:
    """Opens a connection every `every` s through each frontend: GET /who, read to EOF."""

    def __init__(self, frontends, every):
        self.frontends = frontends
        self.every = every
        self.lock = threading.Lock()
        self.sel = selectors.DefaultSelector()
        self.stopped = False
        self.last = {f: {} for f in frontends}  # frontend -> backend -> connect time of the last answer
        self.answers = {f: {} for f in frontends}
        self.errors = {f: 0 for f in frontends}

    def launch(self, frontend):
        s = socket.socket()
        s.setblocking(False)
        t = time.monotonic()
        err = s.connect_ex(("127.0.0.1", self.frontends[frontend]))
        if err not in (0, errno.EINPROGRESS):
            s.close()
            self.errors[frontend] += 1
            return
        self.sel.register(s, selectors.EVENT_WRITE, [frontend, t, b"", s])

    def done(self, conn, ok):
        frontend, t, buf, s = conn
        self.sel.unregister(s)
        s.close()
        head, _, body = buf.partition(b"\r\n\r\n")
        if not ok or not head.startswith(b"HTTP/1.1 200") or not body:
            self.errors[frontend] += 1
            return
        name = body.decode()
        last = self.last[frontend]
        last[name] = max(last.get(name, 0.0), t)
        self.answers[frontend][name] = self.answers[frontend].get(name, 0) + 1

    def run(self):
        next_launch = time.monotonic()
        while not self.stopped:
            for key, mask in self.sel.select(max(0.0, next_launch - time.monotonic())):
                conn = key.data
                with self.lock:
                    s = conn[3]
                    if mask & selectors.EVENT_WRITE:
                        if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                            self.done(conn, False)
                            continue
                        try:
                            s.send(b"GET /who HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                        except OSError:
                            self.done(conn, False)
                            continue
                        self.sel.modify(s, selectors.EVENT_READ, conn)
                        continue
                    try:
                        data = s.recv(4096)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        self.done(conn, False)
                        continue
                    if data:
                        conn[2] += data
                    else:
                        self.done(conn, True)
            now = time.monotonic()
            if now >= next_launch:
                with self.lock:
                    # a connection open for 2 s is an error
                    for key in list(self.sel.get_map().values()):
                        if now - key.data[1] > 2.0:
                            self.done(key.data, False)
                    for f in self.frontends:
                        self.launch(f)
                next_launch = max(next_launch + self.every, now)

    def last_from(self, frontend, backend):
        with self.lock:
            return self.last[frontend].get(backend, 0.0)


def cpu_sample(root):
    busy, total = machine_jiffies()
    return busy, total, tree_jiffies(root) if root else 0


def other_pct(a, b):
    """% of the machine's CPU time between samples a and b that processes outside the tree took
    (at least 0: the two counters are read a moment apart)."""
    total = b[1] - a[1]
    return max(0.0, 100.0 * ((b[0] - a[0]) - (b[2] - a[2])) / total) if total > 0 else 0.0


def detection(args):
    frontends = dict(args.frontend)
    controls = dict(args.control)
    backends = list(controls)
    if len(backends) != 2:
        raise Failure("detection needs two --control backends")
    client = WhoClient(frontends, args.every)
    thread = threading.Thread(target=client.run, daemon=True)
    thread.start()
    rng = random.Random()

    def serving(backend, within=0.5):
        now = time.monotonic()
        return all(now - client.last_from(f, backend) < within for f in frontends)

    wait_until(lambda: serving(backends[0]) and serving(backends[1]), 15,
               lambda: f"every frontend to answer from both backends (answers {client.answers},"
                       f" failed connections {client.errors})")
    results = {f: [] for f in frontends}
    noise, retries, trial, again = [], 0, 0, False
    while trial < args.trials:
        flip = backends[trial % 2]
        wait_until(lambda: serving(backends[0]) and serving(backends[1]), 20,
                   "every frontend to send connections to both backends again")
        a = cpu_sample(args.noise_root)
        time.sleep(rng.uniform(0, 1))  # a random phase against the probes
        control(controls[flip], "/ready?mode=500")
        t_flip = time.monotonic()

        def detected():
            now = time.monotonic()
            return all(now - max(t_flip, client.last_from(f, flip)) >= args.quiet for f in frontends)

        try:
            wait_until(detected, 10 + args.quiet, f"every frontend to stop sending connections to {flip}")
        except Failure:
            late = {f: round(time.monotonic() - client.last_from(f, flip), 3) for f in frontends}
            raise Failure(f"{flip}'s /readyz fails but connections still reach it (s since last: {late})")
        b = cpu_sample(args.noise_root)
        control(controls[flip], "/ready?mode=ok")
        other = other_pct(a, b)
        if args.max_other_cpu is not None and other > args.max_other_cpu and retries < args.retries and not again:
            retries += 1
            again = True
            print(f"  detection trial {trial + 1}: other processes used {other:.0f}% of the CPUs: running it again",
                  file=sys.stderr)
            continue
        for f in frontends:
            results[f].append(max(0.0, client.last_from(f, flip) - t_flip) * 1000)
        noise.append(other)
        trial += 1
        again = False
    client.stopped = True
    thread.join(5)
    print(json.dumps({"ms": results, "other_cpu_pct": noise, "retries": retries,
                      "answers": client.answers, "errors": client.errors}))


# --- main ---------------------------------------------------------------------------------------


def pair(text):
    name, _, port = text.partition("=")
    if not name or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected NAME=PORT, got {text!r}")
    return name, int(port)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("backend")
    p.add_argument("--name", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--control", type=int, required=True)
    for mode in ("rollingrestart", "detection"):
        p = sub.add_parser(mode)
        p.add_argument("--frontend", type=pair, action="append", required=True)
        p.add_argument("--control", type=pair, action="append", required=True)
        p.add_argument("--timeout", type=float, default=300)
    p = sub.choices["rollingrestart"]
    p.add_argument("--watches", type=int, required=True)
    p.add_argument("--gap", type=float, default=5)
    p.add_argument("--settle", type=float, default=15)
    p = sub.choices["detection"]
    p.add_argument("--trials", type=int, required=True)
    p.add_argument("--every", type=float, default=0.01)
    p.add_argument("--quiet", type=float, default=1.0)
    p.add_argument("--noise-root", type=int, default=0)
    p.add_argument("--max-other-cpu", type=float)
    p.add_argument("--retries", type=int, default=0)
    args = parser.parse_args()
    if args.mode == "backend":
        Backend(args.name, args.port, args.control).run()
        return 0
    # A hard bound on the whole scenario, whatever hangs.
    timer = threading.Timer(args.timeout, lambda: (print(f"{args.mode}: timed out after {args.timeout:g} s",
                                                         file=sys.stderr), os._exit(1)))
    timer.daemon = True
    timer.start()
    try:
        (rollingrestart if args.mode == "rollingrestart" else detection)(args)
    except (Failure, OSError) as e:
        print(f"{args.mode}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
