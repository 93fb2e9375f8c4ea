"""The sockmap data path (`global.data_path: sockmap`) through the real cplb binary: a bulk session
joins the sockhash and its bytes move inside the kernel, and every promise of the epoll path still
holds there: byte-exact both ways, half-close, byte counters, idle_timeout, drain at a reload,
rebalancing, a bounded queue for a reader that stops, and the hand-over at a binary upgrade (with the
slot pairs of the sessions the old process keeps coming back once it ends, and the sockhash open again
after a failed upgrade). Also the `auto` fallback without the privileges. Needs root (CAP_BPF, CAP_NET_ADMIN), as CI runs."""

import fcntl
import hashlib
import os
import re
import select
import signal
import socket
import struct
import termios
import threading
import time
import unittest

from harness import Cplb, admin_status, free_port, http_get, metric_samples, wait_until, with_data_path
from tcp_repair import rewound
from test_reload import config as reload_config

JOINED = r'msg="session moves in the kernel"'


def config(port, admin, servers, *, idle="1h", path="sockmap"):
    """test_reload's config (drain on a server's removal after 200 ms) with `path` and `idle`."""
    return with_data_path(reload_config(port, admin, servers, grace="1s", extra_frontend=f"    idle_timeout: {idle}"),
                          path)


class Backend:
    """A TCP server on 127.0.0.1 that runs `handler(conn)` in a thread per connection. Health checks
    connect and close at once: a handler sees them as a connection that sends nothing."""

    def __init__(self, handler, name="s1", port=0):
        self.name = name
        self._handler = handler
        self._listener = socket.create_server(("127.0.0.1", port))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._threads = []
        self._stopping = False

    def __enter__(self):
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc):
        self._stopping = True
        self._listener.close()
        for t in self._threads:
            t.join(10)

    def _accept(self):
        while not self._stopping:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn):
        with conn:
            try:
                self._handler(conn)
            except OSError:
                pass


def echo(conn):
    """Echoes until the client's EOF, then ends its side."""
    while data := conn.recv(1 << 18):
        conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)


def recv_exactly(sock, size, timeout=30):
    sock.settimeout(timeout)
    chunks, have = [], 0
    while have < size:
        chunk = sock.recv(min(1 << 20, size - have))
        if not chunk:
            break
        chunks.append(chunk)
        have += len(chunk)
    return b"".join(chunks)


def recv_to_eof(sock, timeout=30):
    sock.settimeout(timeout)
    chunks = []
    while chunk := sock.recv(1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def digest(data):
    return hashlib.sha256(data).hexdigest()


def difference(got, want):
    """None when `got` is `want`; else where they part and what `got` has there: bytes of `want`
    again, bytes skipped, or bytes that are not in `want`."""
    if got == want:
        return None
    low, high = 0, min(len(got), len(want))
    while low < high:  # the first offset where they differ, by halves
        middle = (low + high) // 2
        if got[low:middle + 1] == want[low:middle + 1]:
            low = middle + 1
        else:
            high = middle
    found = want.find(got[low:low + 64]) if low + 64 <= len(got) else -1
    there = ("nothing (it ends there)" if low == len(got) else
             f"bytes {found}.. of the stream (a repeat of {low - found})" if 0 <= found < low else
             f"bytes {found}.. of the stream ({found - low} skipped)" if found > low else
             "bytes not in the stream")
    return f"{len(got)} bytes for {len(want)}; they part at byte {low}, where the copy has {there}"


@unittest.skipUnless(os.geteuid() == 0, "the sockmap path needs CAP_BPF and CAP_NET_ADMIN")
class SockmapPathTest(unittest.TestCase):
    def setUp(self):
        self.port = free_port()
        self.admin = free_port()

    def start(self, backend, **options):
        cplb = self.enterContext(Cplb(config(self.port, self.admin, [(backend.name, backend.address)], **options),
                                      wait_ports=[self.port, self.admin]))
        cplb.wait_log(rf'msg="server up".*server={backend.name}\b')
        self.assertIn('msg="data path: sockmap"', cplb.log_text())
        return cplb

    def metric(self, name, **labels):
        text = http_get("127.0.0.1", self.admin, "/metrics")[1]
        wanted = frozenset(labels.items())
        return sum(v for k, v in metric_samples(text, name).items() if wanted <= k)

    def echo_session(self, payload):
        """Sends `payload` through cplb to the echo backend, half-closes, returns what came back."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
            result = {}
            reader = threading.Thread(target=lambda: result.update(data=recv_to_eof(sock, 60)))
            reader.start()
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            reader.join(90)
        return result.get("data", b"")

    def test_a_bulk_download_moves_in_the_kernel_byte_exact_and_is_counted(self):
        download = os.urandom(48 << 20)

        def send_download(conn):
            if not conn.recv(16):
                return  # a health check
            conn.sendall(download)

        backend = self.enterContext(Backend(send_download))
        cplb = self.start(backend)
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
            sock.sendall(b"go")
            got = recv_to_eof(sock, 60)
        self.assertEqual(len(got), len(download))
        self.assertIsNone(difference(got, download))
        self.assertRegex(cplb.log_text(), JOINED)
        # Every byte counted once, though the pump saw few of them.
        wait_until(lambda: self.metric("cplb_session_ends_total", reason="server_closed") >= 1,
                   what="the session counted as ended")
        self.assertEqual(self.metric("cplb_server_bytes_received_total", server="s1"), len(download))
        self.assertEqual(self.metric("cplb_server_bytes_sent_total", server="s1"), 2)

    def test_a_retransmission_that_overlaps_what_arrived_passes_on_only_its_new_bytes(self):
        # The kernel hands the program such a segment whole, head and all: without a fix-up its
        # head reached the server twice (seen under load, a 64 KiB segment repeated in 48 MiB).
        head, repeated, rest = os.urandom(4 << 20), 1000, os.urandom(30000)
        got = {}

        def sink(conn):
            chunks = []
            while chunk := conn.recv(1 << 20):
                chunks.append(chunk)
            if chunks:  # not a health check
                got["data"] = b"".join(chunks)

        def unacknowledged(sock):
            return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]

        backend = self.enterContext(Backend(sink))
        cplb = self.start(backend)
        client = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        try:
            client.sendall(head)
            cplb.wait_log(JOINED)
            wait_until(lambda: unacknowledged(client) == 0, what="cplb acknowledging every byte")
            client = rewound(client, repeated)
            client.sendall(head[-repeated:] + rest)  # one segment: its head is a repeat
            client.shutdown(socket.SHUT_WR)
            wait_until(lambda: "data" in got, timeout=15, what="the server's end of stream")
        finally:
            client.close()
        self.assertIsNone(difference(got["data"], head + rest))
        self.assertRegex(cplb.wait_log(r'msg="session end".*').group(0), rf"\brepeated={repeated}\b")

    def test_a_half_close_after_bulk_passes_on_only_once_every_byte_has(self):
        answer = os.urandom(8 << 20)
        got = {}

        def count_then_answer(conn):
            received = recv_to_eof(conn)
            if not received:
                return  # a health check
            got["digest"] = digest(received)
            conn.sendall(answer)

        backend = self.enterContext(Backend(count_then_answer))
        cplb = self.start(backend)
        request = os.urandom(32 << 20)
        reply = self.echo_session(request)
        self.assertEqual(got.get("digest"), digest(request), "the server's EOF came before the last bytes")
        self.assertIsNone(difference(reply, answer))
        self.assertRegex(cplb.log_text(), JOINED)

    def test_a_reader_that_stops_holds_its_server_back_and_then_gets_every_byte(self):
        stream = os.urandom(96 << 20)
        sent = {"bytes": 0}

        def send_stream(conn):
            if not conn.recv(16):
                return  # a health check
            for at in range(0, len(stream), 1 << 16):
                conn.sendall(stream[at:at + (1 << 16)])
                sent["bytes"] = at + (1 << 16)

        backend = self.enterContext(Backend(send_stream))
        cplb = self.start(backend)
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            sock.sendall(b"go")
            head = recv_exactly(sock, 4 << 20)
            cplb.wait_log(JOINED)
            # The client reads nothing now: the kernel's queue is bounded by the credit, so the
            # server stalls with what the sockets' buffers hold, far from the whole stream.
            time.sleep(2)
            stalled_at = sent["bytes"]
            time.sleep(1)
            self.assertEqual(sent["bytes"], stalled_at, "the server was never held back")
            self.assertLess(stalled_at, 48 << 20)
            rest = recv_exactly(sock, len(stream) - len(head), timeout=60)
        self.assertIsNone(difference(head + rest, stream))

    def test_idle_timeout_ends_a_quiet_kernel_session_and_spares_a_moving_one(self):
        def burst_then(conn):
            command = conn.recv(16)
            if command == b"quiet":
                conn.sendall(os.urandom(8 << 20))
                conn.recv(1)  # until cplb closes
            elif command == b"steady":
                for _ in range(16):  # 4 s of bursts, 4 MiB in all: idle_timeout is 1 s
                    conn.sendall(os.urandom(256 << 10))
                    time.sleep(0.25)
                conn.shutdown(socket.SHUT_WR)
                conn.recv(1)

        backend = self.enterContext(Backend(burst_then))
        cplb = self.start(backend, idle="1s")
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as steady, \
                socket.create_connection(("127.0.0.1", self.port), timeout=30) as quiet:
            quiet.sendall(b"quiet")
            self.assertEqual(len(recv_exactly(quiet, 8 << 20)), 8 << 20)
            steady.sendall(b"steady")
            started = time.monotonic()
            self.assertEqual(len(recv_to_eof(steady)), 4 << 20, "the moving session was cut short")
            self.assertGreater(time.monotonic() - started, 3.5)
            # The quiet one ended: at most about two idle timeouts after its last byte.
            quiet.settimeout(5)
            self.assertEqual(quiet.recv(1), b"")
        self.assertEqual(len(re.findall(JOINED, cplb.log_text())), 2)
        self.assertGreaterEqual(self.metric("cplb_session_ends_total", reason="idle_timeout"), 1)

    def test_a_server_removed_by_a_reload_drains_its_kernel_session(self):
        def stream_forever(conn):
            if not conn.recv(16):
                return
            while True:
                conn.sendall(os.urandom(1 << 16))
                time.sleep(0.01)

        backend = self.enterContext(Backend(stream_forever))
        spare = self.enterContext(Backend(echo, name="s2"))
        cplb = self.start(backend)
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
            sock.sendall(b"go")
            recv_exactly(sock, 4 << 20)
            cplb.wait_log(JOINED)
            cplb.reload(config(self.port, self.admin, [(spare.name, spare.address)]))
            sock.settimeout(10)
            with self.assertRaises((ConnectionResetError, EOFError)):
                while sock.recv(1 << 20):
                    pass
                raise EOFError
        wait_until(lambda: self.metric("cplb_session_ends_total", reason="drained") >= 1,
                   what="the session counted as drained")

    def kernel_sessions_to_rebalance(self):
        """Four sessions on s1 that downloaded 4 MiB each in the kernel, then s2 up: a backend that
        rebalances quiet sessions. Returns (cplb, the four clients)."""
        download = os.urandom(4 << 20)

        def send_then_hold(conn):
            if not conn.recv(16):
                return
            conn.sendall(download)
            conn.recv(1)  # until the session leaves

        s1 = self.enterContext(Backend(send_then_hold))
        s2_port = free_port()
        cfg = config(self.port, self.admin, [("s1", s1.address), ("s2", f"127.0.0.1:{s2_port}")])
        self.assertIn("    balance: round_robin\n", cfg)
        cfg = cfg.replace("    balance: round_robin\n",
                          "    balance: least_conn\n    rebalance: {threshold: 1.25, spread: 1s, quiet: 1s}\n")
        cplb = self.enterContext(Cplb(cfg, wait_ports=[self.port, self.admin]))
        cplb.wait_log(r'msg="server up".*server=s1\b')
        clients = [self.enterContext(socket.create_connection(("127.0.0.1", self.port), timeout=30))
                   for _ in range(4)]
        for sock in clients:
            sock.sendall(b"go")
        for sock in clients:
            self.assertIsNone(difference(recv_exactly(sock, len(download)), download))
        wait_until(lambda: len(re.findall(JOINED, cplb.log_text())) == 4, what="all four in the kernel")
        # s2 comes up: s1 holds all four, and the quiet ones leave with a FIN.
        self.enterContext(Backend(send_then_hold, name="s2", port=s2_port))
        return cplb, clients

    def test_rebalancing_moves_a_quiet_kernel_session_after_every_byte_it_was_sent(self):
        _, clients = self.kernel_sessions_to_rebalance()
        wait_until(lambda: self.metric("cplb_rebalance_closed_sessions_total", server="s1") >= 1, timeout=15,
                   what="a session rebalanced")
        ended = 0
        for sock in clients:
            sock.settimeout(0.5)
            try:
                ended += sock.recv(1) == b""
            except TimeoutError:
                pass
        self.assertGreaterEqual(ended, 1)
        self.assertGreaterEqual(self.metric("cplb_session_ends_total", reason="rebalanced"), 1)

    def test_a_binary_upgrade_hands_a_kernel_session_on_without_losing_a_byte(self):
        backend = self.enterContext(Backend(echo))
        cplb = self.start(backend)
        chunks = [os.urandom(1 << 20) for _ in range(48)]
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
            result = {}
            reader = threading.Thread(target=lambda: result.update(data=recv_to_eof(sock, 60)))
            reader.start()
            for i, chunk in enumerate(chunks):
                sock.sendall(chunk)
                time.sleep(0.02)
                if i == 8:
                    cplb.wait_log(JOINED)
                    old, new, _ = cplb.upgrade(admin_port=self.admin)
            sock.shutdown(socket.SHUT_WR)
            reader.join(90)
        payload = b"".join(chunks)
        self.assertIsNone(difference(result.get("data", b""), payload))
        self.assertNotEqual(old, new)
        self.assertIn('msg="data path: sockmap, taken over from the previous process"', cplb.log_text())
        # The next process's own bulk sessions join the same maps beside the handed one's pair.
        again = os.urandom(16 << 20)
        self.assertIsNone(difference(self.echo_session(again), again))
        self.assertEqual(admin_status(self.admin)["pid"], new)

    def test_a_kernel_session_the_old_process_keeps_at_an_upgrade_gives_its_pair_back_when_it_ends(self):
        # A session leaving to rebalance (its FIN sent, the client's awaited) cannot move: the old
        # process keeps it, and its legs stay in the maps the successor took over until it ends.
        cplb, clients = self.kernel_sessions_to_rebalance()
        # The first client told to leave stays open: its session waits for its EOF (2 s).
        ready, _, _ = select.select(clients, [], [], 15)
        self.assertTrue(ready, "no session left to rebalance")
        self.assertEqual(ready[0].recv(1), b"")
        old, new, _ = cplb.upgrade(admin_port=self.admin)
        freed = cplb.wait_log(r'msg="sockmap pairs of the previous process\'s last sessions freed" pairs=(\d+)')
        self.assertGreaterEqual(int(freed.group(1)), 1)
        self.assertNotEqual(old, new)
        self.assertEqual(admin_status(self.admin)["pid"], new)

    def test_after_an_upgrade_that_failed_once_the_maps_were_sent_bulk_joins_the_sockhash_again(self):
        # The old process lets no session join while a successor has its maps; the successor here
        # fails after it took them, at binding a second frontend's port, which a socket holds.
        # A download, not an echo: both legs of an echo can stay midway through a segment for the
        # whole transfer on a busy machine, and such a session never joins.
        download = os.urandom(16 << 20)

        def send_download(conn):
            if conn.recv(16):  # else a health check
                conn.sendall(download)

        backend = self.enterContext(Backend(send_download))
        cplb = self.start(backend)
        blocker = self.enterContext(socket.socket())
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        good = cplb.config_path.read_text()
        self.assertIn("backends:\n", good)
        cplb.write_config(good.replace("backends:\n", f"  - {{name: taken, listen: 127.0.0.1:{blocker.getsockname()[1]}, "
                                                      "backend: be}\nbackends:\n"))
        old = cplb.current_pid
        cplb.signal_current(signal.SIGUSR2)
        cplb.wait_log(r'msg="upgrade failed: the old process keeps serving"', timeout=15)
        self.assertEqual(admin_status(self.admin)["pid"], old)
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
            sock.sendall(b"go")
            self.assertIsNone(difference(recv_to_eof(sock, 60), download))
        self.assertEqual(len(re.findall(JOINED, cplb.log_text())), 1)

    def test_auto_falls_back_to_epoll_without_the_privileges_and_sockmap_refuses_to_start(self):
        backend = self.enterContext(Backend(echo))
        no_bpf = ["setpriv", "--bounding-set=-bpf,-sys_admin,-net_admin,-perfmon", "--"]
        cfg = config(self.port, self.admin, [(backend.name, backend.address)], path="auto")
        with Cplb(cfg, wait_ports=[self.port], command_prefix=no_bpf) as cplb:
            cplb.wait_log(r'msg="server up"')
            self.assertRegex(cplb.log_text(), r'msg="data path: epoll" reason="sockmap is not available: ')
            payload = os.urandom(8 << 20)
            self.assertIsNone(difference(self.echo_session(payload), payload))
            self.assertNotRegex(cplb.log_text(), JOINED)
        cfg = config(self.port, self.admin, [(backend.name, backend.address)], path="sockmap")
        cplb = Cplb(cfg, wait_ports=[self.port], command_prefix=no_bpf)
        with self.assertRaisesRegex(RuntimeError, r"global.data_path: sockmap is not available"):
            with cplb:
                pass


if __name__ == "__main__":
    unittest.main()
