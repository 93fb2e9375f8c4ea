"""A backend and a load generator that see every lost, duplicated, reordered or cross-wired byte of
the sessions they carry through cplb (stdlib only).

The backend (`python3 stream_peers.py --listen HOST:PORT --name NAME`, or `CounterBackend` from a
test) is one single-threaded selectors loop. A client speaks first, one command line:

- `PING <token>`: answers `PONG <name> <token>` and ends the connection (FIN after the line).
- `STREAM <id>`: sends `S <id> <k>` with k = 0, 1, 2, ... every 20 ms; the client sends `C <id> <k>`
  lines, also counting from 0, and each one is checked (the id and k must be the next one expected)
  and answered `E <id> <k>`. A wrong line is answered `X <what was wrong>` and the connection ends.
  `END <id> <n>` (n: the C lines the client sent) is answered `BYE <id> <S lines sent> <C lines
  received>` and a FIN.
- `BULK <size> <seed>`: sends `size` bytes of `pattern(seed, ...)` (64 KiB blocks of SHAKE-128
  output keyed by the seed and the block number, so each block of each download is distinct), as
  fast as the peer takes them, then a FIN.

`Load` drives all three through one address at once, in threads of the test process, and records
every problem it sees; see its docstring.
"""

import argparse
import hashlib
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TICK = 0.02  # seconds between two counter lines, each way
BLOCK = 65536  # bytes of one block of the bulk pattern
_MAX_PENDING = 4 << 20  # bytes a backend connection may hold for a peer that does not read


def pattern_block(seed, index):
    """Block `index` (64 KiB) of download `seed`."""
    return hashlib.shake_128(b"cplb-bulk:%d:%d" % (seed, index)).digest(BLOCK)


def pattern(seed, offset, size):
    """`size` bytes of download `seed` from `offset`."""
    out = bytearray()
    while size > 0:
        index, start = divmod(offset, BLOCK)
        piece = pattern_block(seed, index)[start:start + size]
        out += piece
        offset += len(piece)
        size -= len(piece)
    return bytes(out)


# --- the backend ------------------------------------------------------------------------------------


class _Conn:
    def __init__(self, sock):
        self.sock = sock
        self.inbuf = b""
        self.out = bytearray()
        self.mode = "command"  # command, ping, stream, bulk, closing, linger
        self.stream_id = None
        self.s_sent = 0
        self.c_next = 0
        self.next_tick = 0.0
        self.bulk_size = 0
        self.bulk_seed = 0
        self.bulk_offset = 0
        self.fin_after_flush = False
        self.close_after_flush = False
        self.events = selectors.EVENT_READ


class _BackendLoop:
    """The backend's event loop on an already bound, listening socket."""

    def __init__(self, listener, name, log=sys.stderr):
        self.listener = listener
        self.name = name.encode()
        self.log = log
        self.sel = selectors.DefaultSelector()
        listener.setblocking(False)
        self.sel.register(listener, selectors.EVENT_READ, None)
        self.conns = {}
        self.streams = set()

    def say(self, text):
        self.log.write(f"stream-peer {self.name.decode()}: {text}\n")
        self.log.flush()

    def run(self, stopping=lambda: False):
        while not stopping():
            now = time.monotonic()
            timeout = 0.1
            if self.streams:
                timeout = max(0.0, min(min(c.next_tick for c in self.streams) - now, timeout))
            for key, mask in self.sel.select(timeout):
                if key.data is None:
                    self._accept()
                    continue
                conn = key.data
                if mask & selectors.EVENT_READ and conn.sock.fileno() >= 0:
                    self._readable(conn)
                if mask & selectors.EVENT_WRITE and conn.sock.fileno() >= 0:
                    self._flush(conn)
            now = time.monotonic()
            for conn in list(self.streams):
                if conn.next_tick <= now:
                    conn.out += b"S %d %d\n" % (conn.stream_id, conn.s_sent)
                    conn.s_sent += 1
                    conn.next_tick = max(conn.next_tick + TICK, now - TICK)  # no burst after a stall
                    self._flush(conn)

    def _accept(self):
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                self.say(f"accept: {error!r}")
                return
            sock.setblocking(False)
            conn = _Conn(sock)
            self.conns[sock.fileno()] = conn
            self.sel.register(sock, selectors.EVENT_READ, conn)

    def _close(self, conn):
        self.streams.discard(conn)
        if conn.sock.fileno() >= 0:
            self.conns.pop(conn.sock.fileno(), None)
            try:
                self.sel.unregister(conn.sock)
            except (KeyError, ValueError):
                pass
            conn.sock.close()
        conn.mode = "closed"

    def _readable(self, conn):
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = None
        if not data:
            if conn.mode == "stream":
                self.say(f"stream {conn.stream_id} ended without END after {conn.c_next} C lines")
            self._close(conn)  # EOF (or a reset): the peer is done, or gone
            return
        if conn.mode in ("linger", "closing", "bulk", "ping"):
            return  # nothing more is expected from the client; ignore
        conn.inbuf += data
        while b"\n" in conn.inbuf and conn.mode in ("command", "stream"):
            line, _, conn.inbuf = conn.inbuf.partition(b"\n")
            self._line(conn, line)

    def _fail(self, conn, what):
        self.say(what)
        conn.out += b"X " + what.encode() + b"\n"
        self.streams.discard(conn)
        conn.mode = "closing"
        conn.close_after_flush = True
        self._flush(conn)

    def _line(self, conn, line):
        words = line.split()
        if conn.mode == "command":
            if len(words) == 2 and words[0] == b"PING":
                conn.mode = "ping"
                conn.out += b"PONG " + self.name + b" " + words[1] + b"\n"
                conn.fin_after_flush = True
                self._flush(conn)
            elif len(words) == 2 and words[0] == b"STREAM" and words[1].isdigit():
                conn.mode = "stream"
                conn.stream_id = int(words[1])
                conn.next_tick = time.monotonic()
                self.streams.add(conn)
            elif len(words) == 3 and words[0] == b"BULK" and words[1].isdigit() and words[2].isdigit():
                conn.mode = "bulk"
                conn.bulk_size, conn.bulk_seed = int(words[1]), int(words[2])
                self._flush(conn)
            else:
                self._fail(conn, f"unknown command {line[:80]!r}")
            return
        # stream mode
        if len(words) == 3 and words[0] == b"C":
            ident, k = int(words[1]), int(words[2])
            if ident != conn.stream_id or k != conn.c_next:
                self._fail(conn, f"stream {conn.stream_id}: got C {ident} {k}, expected C {conn.stream_id} "
                                 f"{conn.c_next}")
                return
            conn.c_next += 1
            conn.out += b"E %d %d\n" % (ident, k)
            self._flush(conn)
        elif len(words) == 3 and words[0] == b"END":
            ident, n = int(words[1]), int(words[2])
            if ident != conn.stream_id or n != conn.c_next:
                self._fail(conn, f"stream {conn.stream_id}: END {ident} {n} but {conn.c_next} C lines received")
                return
            self.streams.discard(conn)
            conn.mode = "closing"
            conn.out += b"BYE %d %d %d\n" % (ident, conn.s_sent, conn.c_next)
            conn.fin_after_flush = True
            self._flush(conn)
        else:
            self._fail(conn, f"stream {conn.stream_id}: bad line {line[:80]!r}")

    def _want(self, conn, events):
        if conn.events != events:
            self.sel.modify(conn.sock, events, conn)
            conn.events = events

    def _flush(self, conn):
        if conn.mode == "closed":
            return
        while True:
            if conn.mode == "bulk":
                while len(conn.out) < 4 * BLOCK and conn.bulk_offset < conn.bulk_size:
                    size = min(BLOCK - conn.bulk_offset % BLOCK, conn.bulk_size - conn.bulk_offset)
                    conn.out += pattern(conn.bulk_seed, conn.bulk_offset, size)
                    conn.bulk_offset += size
                if conn.bulk_offset >= conn.bulk_size:
                    conn.fin_after_flush = True
            if not conn.out:
                break
            try:
                sent = conn.sock.send(conn.out)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as error:
                if conn.mode == "stream":
                    self.say(f"stream {conn.stream_id}: send: {error!r}")
                self._close(conn)
                return
            del conn.out[:sent]
        if len(conn.out) > _MAX_PENDING:
            self.say(f"a peer reads nothing: {len(conn.out)} bytes pending; closing")
            self._close(conn)
            return
        if conn.out:
            self._want(conn, selectors.EVENT_READ | selectors.EVENT_WRITE)
            return
        self._want(conn, selectors.EVENT_READ)
        if conn.close_after_flush:
            self._close(conn)
        elif conn.fin_after_flush:
            try:
                conn.sock.shutdown(socket.SHUT_WR)
            except OSError:
                self._close(conn)
                return
            conn.mode = "linger"  # until the client's EOF
            conn.fin_after_flush = False


def serve(host, port, name):
    """Runs a backend on host:port until SIGTERM; prints `listening HOST:PORT` once it listens."""
    listener = socket.create_server((host, port), backlog=4096, reuse_port=False)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    print(f"listening {host}:{listener.getsockname()[1]}", flush=True)
    _BackendLoop(listener, name).run(lambda: bool(stop))


class CounterBackend:
    """The backend as a subprocess on host:port (pass a harness.stable_port()), stopped by PID. Its
    stderr (anomalies it saw) is kept in a file: `log_text()`. A context manager."""

    def __init__(self, name, port, host="127.0.0.1"):
        self.name, self.host, self.port = name, host, port
        self.process = None
        self._tmp = Path(tempfile.mkdtemp(prefix="cplb-stream-peer-"))
        self.log_path = self._tmp / f"{name}.log"

    @property
    def address(self):
        return f"{self.host}:{self.port}"

    def start(self, timeout=10.0):
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--listen", self.address, "--name", self.name],
                stdout=subprocess.PIPE, stderr=log, text=True)
        banner = {}
        reader = threading.Thread(target=lambda: banner.update(line=self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not banner.get("line", "").startswith("listening "):
            self.stop()
            raise RuntimeError(f"stream peer {self.name} did not start:\n{self.log_text()}")
        return self

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout=5.0):
        if self.process is None:
            return None
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
        if self.process.stdout:
            self.process.stdout.close()
        return self.process.returncode

    def cleanup(self):
        self.stop()
        for path in self._tmp.glob("*"):
            path.unlink()
        self._tmp.rmdir()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


# --- the load ---------------------------------------------------------------------------------------


class _Stream:
    def __init__(self, ident, sock, start_at):
        self.id = ident
        self.sock = sock
        self.inbuf = b""
        self.out = bytearray()
        self.c_sent = 0  # C lines queued (0..c_sent-1)
        self.s_next = 0  # the next S counter expected
        self.e_next = 0  # the next E counter expected
        self.next_tick = start_at
        self.last_s_at = time.monotonic()
        self.max_gap = 0.0  # longest silence between two S lines (s)
        self.state = "open"  # open, ending (END sent), done (BYE + EOF seen), failed
        self.bye = False  # the BYE line came, with the right counts
        self.events = selectors.EVENT_READ
        self.error = None


class _StreamsThread(threading.Thread):
    """Every long stream in one selectors loop."""

    def __init__(self, load, streams):
        super().__init__(daemon=True, name="load-streams")
        self.load = load
        self.streams = streams
        self.sel = selectors.DefaultSelector()
        for stream in streams:
            stream.sock.setblocking(False)
            self.sel.register(stream.sock, selectors.EVENT_READ, stream)
        self.finish = threading.Event()
        self.finish_deadline = None

    def _fail(self, stream, what):
        if stream.state in ("done", "failed"):
            return
        stream.state = "failed"
        stream.error = what
        self.load.problem("stream", f"stream {stream.id}: {what} (S {stream.s_next}, C {stream.c_sent}, "
                                    f"E {stream.e_next})")
        self._close(stream)

    def _close(self, stream):
        try:
            self.sel.unregister(stream.sock)
        except (KeyError, ValueError):
            pass
        stream.sock.close()

    def run(self):
        try:
            self._run()
        except Exception as error:  # noqa: BLE001  (reported by the test)
            self.load.problem("stream", f"the streams thread crashed: {error!r}")
            for stream in self.streams:
                if stream.state in ("open", "ending"):
                    stream.state = "failed"

    def _run(self):
        while True:
            live = [s for s in self.streams if s.state in ("open", "ending")]
            if not live:
                return
            now = time.monotonic()
            if self.finish.is_set():
                if self.finish_deadline is None:
                    self.finish_deadline = now + self.load.finish_timeout
                    for stream in live:
                        if stream.state == "open":
                            stream.state = "ending"
                            stream.out += b"END %d %d\n" % (stream.id, stream.c_sent)
                            self._flush(stream)
                elif now > self.finish_deadline:
                    for stream in live:
                        self._fail(stream, "no BYE and EOF after END")
                    return
            ticking = [s.next_tick for s in live if s.state == "open"]
            timeout = max(0.0, min(min(ticking) - now, 0.05)) if ticking else 0.05
            for key, mask in self.sel.select(timeout):
                stream = key.data
                if mask & selectors.EVENT_READ:
                    self._readable(stream)
                if mask & selectors.EVENT_WRITE and stream.state in ("open", "ending"):
                    self._flush(stream)
            now = time.monotonic()
            for stream in live:
                if stream.state != "open":
                    continue
                if stream.next_tick <= now:
                    stream.out += b"C %d %d\n" % (stream.id, stream.c_sent)
                    stream.c_sent += 1
                    stream.next_tick = max(stream.next_tick + TICK, now - TICK)
                    self._flush(stream)
                gap = now - stream.last_s_at
                if gap > self.load.stall_timeout and stream.state == "open":
                    self._fail(stream, f"stalled: no S line for {gap:.1f}s")

    def _flush(self, stream):
        while stream.out:
            try:
                sent = stream.sock.send(stream.out)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as error:
                self._fail(stream, f"send: {error!r}")
                return
            del stream.out[:sent]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if stream.out else 0)
        if events != stream.events:
            self.sel.modify(stream.sock, events, stream)
            stream.events = events

    def _readable(self, stream):
        try:
            data = stream.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self._fail(stream, f"recv: {error!r}")
            return
        if not data:
            if stream.state == "ending" and stream.inbuf == b"" and stream.bye:
                stream.state = "done"
                self._close(stream)
            else:
                self._fail(stream, "closed (EOF) " + ("before BYE" if stream.state == "ending" else "while open"))
            return
        stream.inbuf += data
        while b"\n" in stream.inbuf and stream.state in ("open", "ending"):
            line, _, stream.inbuf = stream.inbuf.partition(b"\n")
            self._line(stream, line)

    def _line(self, stream, line):
        words = line.split()
        if stream.bye:
            self._fail(stream, f"a line after BYE: {line[:80]!r}")
            return
        if len(words) == 3 and words[0] in (b"S", b"E") and words[1].isdigit() and words[2].isdigit():
            ident, k = int(words[1]), int(words[2])
            if ident != stream.id:
                self._fail(stream, f"cross-wired: got {line[:80]!r}")
            elif words[0] == b"S":
                if k != stream.s_next:
                    self._fail(stream, f"server counter S {k}, expected {stream.s_next} (lost, duplicated or "
                                       f"reordered)")
                    return
                now = time.monotonic()
                if stream.s_next:
                    stream.max_gap = max(stream.max_gap, now - stream.last_s_at)
                stream.last_s_at = now
                stream.s_next += 1
            else:
                if k != stream.e_next or k >= stream.c_sent:
                    self._fail(stream, f"echo E {k}, expected {stream.e_next} of {stream.c_sent} sent (lost, "
                                       f"duplicated or reordered)")
                    return
                stream.e_next += 1
        elif len(words) == 4 and words[0] == b"BYE" and stream.state == "ending":
            ident, s_sent, c_got = (int(w) for w in words[1:])
            if ident != stream.id:
                self._fail(stream, f"cross-wired BYE {line!r}")
            elif s_sent != stream.s_next or c_got != stream.c_sent or stream.e_next != stream.c_sent:
                self._fail(stream, f"BYE: the server sent {s_sent} S (received {stream.s_next}), received "
                                   f"{c_got} C (sent {stream.c_sent}, echoed back {stream.e_next})")
            else:
                stream.bye = True
        elif words[:1] == [b"X"]:
            self._fail(stream, f"the backend saw: {line[2:].decode(errors='replace')}")
        else:
            self._fail(stream, f"unexpected line {line[:80]!r}")


class _ConnectThread(threading.Thread):
    """A new connection every `interval` seconds, each one PING and its PONG."""

    def __init__(self, load, interval):
        super().__init__(daemon=True, name="load-connects")
        self.load = load
        self.interval = interval
        self.stop = threading.Event()
        self.ok = 0
        self.attempts = 0
        self.answers = {}

    def run(self):
        n = 0
        while not self.stop.is_set():
            started = time.monotonic()
            n += 1
            self.attempts += 1
            kind, detail = self._one(n)
            if kind == "ok":
                self.ok += 1
                self.answers[detail] = self.answers.get(detail, 0) + 1
            else:
                self.load.problem("connect", f"#{n} {kind}: {detail}")
            self.stop.wait(max(0.0, started + self.interval - time.monotonic()))

    def _one(self, n):
        token = b"%d-%d" % (os.getpid(), n)
        try:
            sock = socket.create_connection(self.load.address, timeout=self.load.connect_timeout)
        except ConnectionRefusedError as error:
            return "refused", repr(error)
        except OSError as error:
            return "connect error", repr(error)
        try:
            with sock:
                sock.sendall(b"PING " + token + b"\n")
                data = b""
                while True:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                    if len(data) > 4096:
                        break
        except ConnectionResetError as error:
            return "reset", repr(error)
        except socket.timeout:
            return "timeout", f"no reply within {self.load.connect_timeout}s"
        except OSError as error:
            return "error", repr(error)
        words = data.split()
        if len(words) != 3 or words[0] != b"PONG" or words[2] != token or not data.endswith(b"\n"):
            return "wrong reply", repr(data[:200])
        return "ok", words[1].decode()


class _BulkThread(threading.Thread):
    """Downloads of `size` bytes one after the other, read `chunk` bytes every `pause` seconds through
    a small receive buffer; every byte compared with the pattern. After finish() the download in
    progress is read to its end at full speed and no other is started."""

    def __init__(self, load, slot, size, chunk, pause):
        super().__init__(daemon=True, name=f"load-bulk-{slot}")
        self.load, self.slot, self.size, self.chunk, self.pause = load, slot, size, chunk, pause
        self.finish = threading.Event()
        self.completed = 0  # downloads received whole and verified
        self.received = 0  # bytes verified, all downloads
        self.current = 0  # bytes of the download in progress
        self.failed = False

    def run(self):
        download = 0
        while not self.finish.is_set() and not self.failed:
            seed = self.slot * 1000 + download
            download += 1
            try:
                self._download(seed)
            except Exception as error:  # noqa: BLE001  (reported by the test)
                self.failed = True
                self.load.problem("bulk", f"bulk {self.slot} download {seed}: {error!r} at byte {self.current}")

    def _download(self, seed):
        sock = socket.socket(socket.AF_INET6 if ":" in self.load.address[0] else socket.AF_INET)
        try:
            # A small fixed receive buffer (no autotuning): cplb has to hold what this reader does
            # not take yet.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.chunk)
            sock.settimeout(self.load.connect_timeout)
            sock.connect(self.load.address)
            sock.sendall(b"BULK %d %d\n" % (self.size, seed))
            sock.settimeout(self.load.stall_timeout)
            self.current = 0
            block_index, block = -1, b""
            while True:
                want = self.chunk if not self.finish.is_set() else 1 << 20
                data = sock.recv(want)
                if not data:
                    break
                offset = 0
                while offset < len(data):
                    position = self.current
                    if position >= self.size:
                        raise AssertionError(f"{len(data) - offset} bytes past the end of {self.size}")
                    index, start = divmod(position, BLOCK)
                    if index != block_index:
                        block_index, block = index, pattern_block(seed, index)
                    n = min(len(data) - offset, BLOCK - start, self.size - position)
                    if data[offset:offset + n] != block[start:start + n]:
                        raise AssertionError(f"wrong bytes at offset {position} (lost, duplicated or reordered)")
                    offset += n
                    self.current += n
                    self.received += n
                if not self.finish.is_set():
                    time.sleep(self.pause)
            if self.current != self.size:
                raise AssertionError(f"EOF after {self.current} of {self.size} bytes")
            self.completed += 1
        finally:
            sock.close()


class Load:
    """Traffic through `host:port` (cplb's frontend onto CounterBackends) that notices any loss:

    - `streams` long sessions (STREAM), each with a counter every 20 ms each way: a line lost,
      duplicated, reordered or from another session, a silence over `stall_timeout`, or an early close
      fails the stream; finish() ends each with END and checks the backend's BYE counts (every line
      sent arrived, both ways) and the FIN;
    - a new connection every `connect_interval` seconds with one PING/PONG: refused, reset, timed
      out or a wrong answer counts as a failure;
    - `bulks` downloads at a time of `bulk_size` bytes read `bulk_chunk` bytes every `bulk_pause`
      seconds through a receive buffer of `bulk_chunk` bytes (so cplb holds unforwarded bytes), each
      byte compared with the pattern, the length checked at EOF; a finished download is followed by
      the next.

    `problems` lists every failure seen ("kind: what"); start(), wait_ready(), then finish() (bounded)
    and read problems. Also a context manager (finish on exit)."""

    def __init__(self, host, port, *, streams=50, bulks=4, bulk_size=8 << 20, bulk_chunk=64 << 10,
                 bulk_pause=0.05, connect_interval=0.01, connect_timeout=3.0, stall_timeout=4.0,
                 finish_timeout=10.0):
        self.address = (host, port)
        self.connect_timeout = connect_timeout
        self.stall_timeout = stall_timeout
        self.finish_timeout = finish_timeout
        self._lock = threading.Lock()
        self._problems = []
        self._stream_count = streams
        self._streams = []
        self._streams_thread = None
        self._connects = _ConnectThread(self, connect_interval)
        self._bulks = [_BulkThread(self, slot, bulk_size, bulk_chunk, bulk_pause) for slot in range(bulks)]
        self._finished = False

    def problem(self, kind, what):
        with self._lock:
            self._problems.append(f"{kind}: {what}")

    @property
    def problems(self):
        with self._lock:
            return list(self._problems)

    def start(self):
        start_at = time.monotonic()
        for ident in range(self._stream_count):
            sock = socket.create_connection(self.address, timeout=self.connect_timeout)
            sock.sendall(b"STREAM %d\n" % ident)
            # Staggered so the 50 streams do not all tick at the same instant.
            self._streams.append(_Stream(ident, sock, start_at + TICK * ident / max(1, self._stream_count)))
        self._streams_thread = _StreamsThread(self, self._streams)
        self._streams_thread.start()
        self._connects.start()
        for bulk in self._bulks:
            bulk.start()
        return self

    # --- progress

    def snapshot(self):
        """Counters of progress, for wait_progress()."""
        return {
            "s": [s.s_next for s in self._streams],
            "e": [s.e_next for s in self._streams],
            "connects": self._connects.ok,
            "bulk": [b.received for b in self._bulks],
        }

    def progressed(self, since, lines=5, connects=20, bulk_bytes=1):
        """Whether, since snapshot `since`, every open stream got `lines` more S and E lines, `connects`
        more PINGs were answered and every bulk slot received `bulk_bytes` more bytes."""
        now = self.snapshot()
        streams_ok = all(s.state != "open" or (now["s"][i] - since["s"][i] >= lines
                                               and now["e"][i] - since["e"][i] >= lines)
                         for i, s in enumerate(self._streams))
        bulks_ok = all(b.failed or now["bulk"][i] - since["bulk"][i] >= bulk_bytes
                       for i, b in enumerate(self._bulks))
        return streams_ok and bulks_ok and now["connects"] - since["connects"] >= connects

    def wait_progress(self, since, timeout=10.0, **wanted):
        """Waits (bounded) until progressed(since, **wanted); raises TimeoutError saying what lags."""
        deadline = time.monotonic() + timeout
        while not self.progressed(since, **wanted):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the load did not progress within {timeout}s: {self.summary()}; "
                                   f"problems: {self.problems[:10]}")
            time.sleep(0.02)

    def wait_ready(self, timeout=10.0):
        """Waits until every stream, bulk slot and the connector have traffic going."""
        self.wait_progress({"s": [0] * len(self._streams), "e": [0] * len(self._streams), "connects": 0,
                            "bulk": [0] * len(self._bulks)}, timeout, lines=2, connects=5)

    def open_streams(self):
        """How many streams are open and not failed."""
        return sum(s.state == "open" for s in self._streams)

    @property
    def hand_overs(self):
        return self._connects.answers

    def summary(self):
        streams = self._streams
        gaps = [s.max_gap for s in streams]
        return (f"streams {self.open_streams()}/{len(streams)} open, "
                f"{sum(s.state == 'done' for s in streams)} ended cleanly, "
                f"{sum(s.state == 'failed' for s in streams)} failed, longest S gap "
                f"{max(gaps, default=0):.2f}s; connects {self._connects.ok}/{self._connects.attempts} ok; "
                f"bulk {sum(b.completed for b in self._bulks)} downloads done, "
                f"{sum(b.received for b in self._bulks) / (1 << 20):.1f} MiB verified")

    def max_stream_gap(self):
        return max((s.max_gap for s in self._streams), default=0.0)

    # --- the end

    def finish(self, timeout=None):
        """Stops the connector, ends every stream with END/BYE and reads every download in progress to
        its end (bounded); returns problems. A stream not `done` afterwards is a problem."""
        if self._finished:
            return self.problems
        self._finished = True
        timeout = self.finish_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout + 2
        self._connects.stop.set()
        for bulk in self._bulks:
            bulk.finish.set()
        if self._streams_thread:
            self._streams_thread.finish.set()
        threads = [self._connects, *self._bulks] + ([self._streams_thread] if self._streams_thread else [])
        for thread in threads:
            if thread.is_alive():
                thread.join(max(0.1, deadline - time.monotonic()))
            if thread.is_alive():
                self.problem("finish", f"{thread.name} did not end within {timeout}s")
        for stream in self._streams:
            if stream.state != "done" and stream.state != "failed":
                self.problem("stream", f"stream {stream.id} did not end cleanly (state {stream.state})")
            if stream.sock.fileno() >= 0:
                stream.sock.close()
        return self.problems

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.finish()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", required=True, help="HOST:PORT")
    parser.add_argument("--name", required=True)
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(":")
    serve(host.strip("[]"), int(port), args.name)


if __name__ == "__main__":
    main()
