#!/usr/bin/env python3
"""Idle-session memory scenario (stdlib only).

  idle.py server PORT...   echo backend: accepts on every port, echoes what it reads, never
                           closes first; runs until killed.
  idle.py client --connect PORT --sessions N --backend-ports P1,P2,P3 [--pids PID...]
                 [--timeout SECS]
      Opens N connections to 127.0.0.1:PORT, waits until N are established at the backend
      (counted with `ss` on the backend ports), samples the RSS of the --pids process trees,
      sends one byte on each session and reads its echo, samples again. Prints one JSON line.
"""
import argparse
import errno
import json
import os
import select
import selectors
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from util import tree_stat  # noqa: E402


def serve(ports):
    sel = selectors.DefaultSelector()
    for port in ports:
        lsock = socket.socket()
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(("127.0.0.1", port))
        lsock.listen(4096)
        lsock.setblocking(False)
        sel.register(lsock, selectors.EVENT_READ, None)
    while True:
        for key, _ in sel.select():
            if key.data is None:
                while True:
                    try:
                        conn, _ = key.fileobj.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError as e:
                        if e.errno in (errno.EMFILE, errno.ENFILE):
                            print("idle server: out of file descriptors", file=sys.stderr)
                            time.sleep(0.05)
                        break
                    conn.setblocking(False)
                    sel.register(conn, selectors.EVENT_READ, True)
                continue
            conn = key.fileobj
            try:
                data = conn.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if data:
                try:
                    conn.send(data)
                except OSError:
                    pass
            else:
                sel.unregister(conn)
                conn.close()


def count_established(ports, *states):
    expr = " or ".join(f"sport = :{p}" for p in ports)
    wanted = [arg for state in ("established", *states) for arg in ("state", state)]
    out = subprocess.run(["ss", "-Htn", *wanted, f"( {expr} )"],
                         check=True, capture_output=True, text=True).stdout
    return sum(1 for line in out.splitlines() if line.strip())


def open_sessions(port, n, deadline, batch=200):
    socks = []
    while len(socks) < n:
        pending = {}
        for _ in range(min(batch, n - len(socks))):
            s = socket.socket()
            s.setblocking(False)
            err = s.connect_ex(("127.0.0.1", port))
            if err not in (0, errno.EINPROGRESS):
                raise RuntimeError(f"connect: {os.strerror(err)}")
            pending[s.fileno()] = s
        poller = select.poll()
        for fd in pending:
            poller.register(fd, select.POLLOUT)
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"timed out connecting ({len(socks)} of {n} connected)")
            for fd, _ in poller.poll(left * 1000):
                s = pending.pop(fd)
                poller.unregister(fd)
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise RuntimeError(f"connect: {os.strerror(err)}")
                socks.append(s)
    return socks


def echo_one_byte(socks, deadline):
    for s in socks:
        if s.send(b"x") != 1:
            raise RuntimeError("short send")
    poller = select.poll()
    by_fd = {s.fileno(): s for s in socks}
    for fd in by_fd:
        poller.register(fd, select.POLLIN)
    while by_fd:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError(f"timed out waiting for echoes ({len(by_fd)} missing)")
        for fd, _ in poller.poll(left * 1000):
            data = by_fd[fd].recv(16)
            if data != b"x":
                raise RuntimeError(f"session closed or wrong echo: {data!r}")
            poller.unregister(fd)
            del by_fd[fd]


def client(args):
    deadline = time.monotonic() + args.timeout
    backend_ports = [int(p) for p in args.backend_ports.split(",")]
    pids = args.pids or []
    settle = 0.5

    def sample():
        return tree_stat(pids)[0] if pids else 0

    baseline = count_established(backend_ports)
    rss0 = sample()
    socks = open_sessions(args.connect, args.sessions, deadline)
    while True:
        established = count_established(backend_ports) - baseline
        if established >= args.sessions:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {established} of {args.sessions} sessions reached the backend")
        time.sleep(0.1)
    time.sleep(settle)
    rss1 = sample()
    echo_one_byte(socks, deadline)
    time.sleep(settle)
    rss2 = sample()
    n = args.sessions
    print(json.dumps({
        "sessions": n, "established": established,
        "rss_before_kb": rss0, "rss_established_kb": rss1, "rss_after_byte_kb": rss2,
        "kb_per_session_established": (rss1 - rss0) / n,
        "kb_per_session_after_byte": (rss2 - rss0) / n,
    }))
    for s in socks:
        s.close()
    # Leave once the proxy has closed them too, so that the next scenario does not start while
    # thousands of sessions are still ending unevenly on the proxy's workers.
    while count_established(backend_ports, "close-wait") > baseline and time.monotonic() < deadline:
        time.sleep(0.1)


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "server":
        serve([int(p) for p in sys.argv[2:]])
        return 0
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["client"])
    parser.add_argument("--connect", type=int, required=True)
    parser.add_argument("--sessions", type=int, required=True)
    parser.add_argument("--backend-ports", required=True)
    parser.add_argument("--pids", type=int, nargs="*")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    try:
        client(args)
    except (RuntimeError, OSError) as e:
        print(f"idle client: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
