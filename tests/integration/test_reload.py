"""SIGHUP reload and SIGTERM through the real binary: no dropped session, state kept, bad files
rejected, graceful stop."""

import hashlib
import os
import re
import socket
import threading
import time
import unittest

from harness import Cplb, FakeApiserver, echo_roundtrip, free_port, wait_until


def config(port, admin, servers, *, on_server_down="drain", weight_of=None, grace="5s", extra_frontend=""):
    lines = "\n".join(
        f"      - {{name: {name}, address: '{address}', weight: {(weight_of or {}).get(name, 1)}}}"
        for name, address in servers)
    return f"""
global: {{workers: 2, shutdown_grace: {grace}}}
admin: {{listen: 127.0.0.1:{admin}}}
frontends:
  - name: fe
    listen: 127.0.0.1:{port}
    backend: be
    connect_timeout: 1s
    first_data_timeout: 0s  # connect at once: the echo servers greet first
{extra_frontend}
backends:
  - name: be
    balance: round_robin
    on_server_down: {on_server_down}
    drain: {{grace: 200ms, spread: 200ms}}
    servers:
{lines}
    health_check: {{protocol: tcp, interval: 200ms, timeout: 150ms, rise: 1, fall: 1}}
"""


def roundtrip(port, payload=b"", timeout=5):
    return echo_roundtrip("127.0.0.1", port, payload, timeout)


def count_matches(cplb, pattern):
    return len(re.findall(pattern, cplb.log_text()))


class LongStream(threading.Thread):
    """A session that streams random bytes through cplb to an echo server and checks the echo."""

    def __init__(self, port, stop):
        super().__init__(daemon=True)
        self.port, self.stop, self.error, self.bytes = port, stop, None, 0
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.recv(64)  # the echo server's greeting line

    def run(self):
        sent = hashlib.sha256()
        received = hashlib.sha256()
        try:
            while not self.stop.is_set():
                chunk = os.urandom(4096)
                self.sock.sendall(chunk)
                sent.update(chunk)
                got = b""
                while len(got) < len(chunk):
                    part = self.sock.recv(len(chunk) - len(got))
                    if not part:
                        raise ConnectionError("stream closed by cplb")
                    got += part
                received.update(got)
                self.bytes += len(chunk)
                time.sleep(0.01)
            if sent.digest() != received.digest():
                raise AssertionError("stream corrupted")
        except Exception as error:  # noqa: BLE001  (reported by the test)
            self.error = error
        finally:
            self.sock.close()


class ReloadTest(unittest.TestCase):
    def setUp(self):
        self.port, self.admin = free_port(), free_port()

    def echo(self, name):
        server = FakeApiserver(name=name, echo=True, echo_greeting=True)
        self.enterContext(server)
        return server

    def test_ten_reloads_under_load_drop_nothing(self):
        servers = [self.echo(f"s{i}") for i in (1, 2, 3)]
        addresses = [(s.name, s.address) for s in servers]
        cplb = self.enterContext(Cplb(config(self.port, self.admin, addresses), wait_ports=[self.port]))
        for s in servers:
            cplb.wait_log(rf'msg="server up".*server={s.name}\b')
        stop = threading.Event()
        streams = [LongStream(self.port, stop) for _ in range(50)]
        for stream in streams:
            stream.start()
        failures, shorts = [], 0
        for i in range(10):
            # Change weights each time so every reload really applies a new generation.
            cplb.reload(config(self.port, self.admin, addresses, weight_of={"s1": 1 + i % 3}))
            deadline = time.monotonic() + 0.3
            while time.monotonic() < deadline:
                try:
                    reply = roundtrip(self.port, b"short")
                    if not reply.endswith(b"\nshort"):
                        failures.append(reply)
                except OSError as error:
                    failures.append(repr(error))
                shorts += 1
        wait_until(lambda: count_matches(cplb, r'msg="reload done"') == 10, timeout=5, what="10 reloads")
        stop.set()
        for stream in streams:
            stream.join(10)
        self.assertEqual(failures, [])
        self.assertGreater(shorts, 50)
        self.assertEqual([s.error for s in streams if s.error], [])
        self.assertTrue(all(s.bytes > 0 for s in streams))
        self.assertNotIn('level=error', cplb.log_text())

    def test_reload_adds_a_server_that_gets_traffic_after_its_first_check(self):
        s1, s2 = self.echo("s1"), self.echo("s2")
        cplb = self.enterContext(Cplb(config(self.port, self.admin, [("s1", s1.address)]), wait_ports=[self.port]))
        cplb.wait_log(r'msg="server up".*server=s1\b')
        cplb.reload(config(self.port, self.admin, [("s1", s1.address), ("s2", s2.address)]))
        cplb.wait_log(r'msg="server up".*server=s2\b', timeout=5)
        seen = {roundtrip(self.port).split(b"\n")[0] for _ in range(10)}
        self.assertEqual(seen, {b"s1", b"s2"})
        self.assertEqual(count_matches(cplb, r'msg="server up".*server=s1\b'), 1, "s1's state was reset")

    def test_reload_keeps_a_down_server_down(self):
        s1, s2 = self.echo("s1"), self.echo("s2")
        cplb = self.enterContext(Cplb(config(self.port, self.admin, [("s1", s1.address), ("s2", s2.address)]),
                                      wait_ports=[self.port]))
        cplb.wait_log(r'msg="server up".*server=s2\b')
        s2.kill()
        cplb.wait_log(r'msg="server down".*server=s2\b')
        connections_before = count_matches(cplb, r'msg="connect failed"')
        cplb.reload(config(self.port, self.admin, [("s1", s1.address), ("s2", s2.address)],
                           weight_of={"s2": 5}))
        cplb.wait_log(r'msg="reload done"')
        for _ in range(20):
            self.assertTrue(roundtrip(self.port).startswith(b"s1\n"))
        self.assertEqual(count_matches(cplb, r'msg="connect failed"'), connections_before,
                         "a session was sent to the down server after the reload")

    def test_reload_that_removes_a_server_closes_its_sessions_by_policy(self):
        s1, s2 = self.echo("s1"), self.echo("s2")
        cfg = config(self.port, self.admin, [("s1", s1.address), ("s2", s2.address)], on_server_down="close")
        cplb = self.enterContext(Cplb(cfg, wait_ports=[self.port]))
        cplb.wait_log(r'msg="server up".*server=s2\b')
        socks = [socket.create_connection(("127.0.0.1", self.port), timeout=5) for _ in range(4)]
        self.addCleanup(lambda: [s.close() for s in socks])
        names = [s.recv(16).split(b"\n")[0] for s in socks]
        self.assertIn(b"s2", names)
        cplb.reload(config(self.port, self.admin, [("s1", s1.address)], on_server_down="close"))
        cplb.wait_log(r'msg="server removed".*server=s2\b')
        for sock, name in zip(socks, names):
            sock.settimeout(3)
            if name == b"s2":
                try:
                    self.assertEqual(sock.recv(1), b"")
                except ConnectionResetError:
                    pass
            else:
                sock.sendall(b"k")
                self.assertEqual(sock.recv(1), b"k")

    def test_invalid_reload_keeps_serving_and_names_file_line_and_key(self):
        s1 = self.echo("s1")
        cplb = self.enterContext(Cplb(config(self.port, self.admin, [("s1", s1.address)]), wait_ports=[self.port]))
        cplb.wait_log(r'msg="server up".*server=s1\b')
        cplb.reload(config(self.port, self.admin, [("s1", s1.address)]).replace("connect_timeout: 1s",
                                                                                  "connect_timeout: soon"))
        match = cplb.wait_log(r'msg="reload rejected" problem="([^"]+)"')
        self.assertRegex(match.group(1), r"cplb\.yaml:8:\d+: frontends\[0\]\.connect_timeout: ")
        self.assertTrue(roundtrip(self.port, b"x").endswith(b"\nx"))

    def test_reload_changes_max_connections(self):
        s1 = self.echo("s1")
        cfg = config(self.port, self.admin, [("s1", s1.address)])
        cplb = self.enterContext(Cplb(cfg, wait_ports=[self.port]))
        cplb.wait_log(r'msg="server up".*server=s1\b')
        held = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.addCleanup(held.close)
        self.assertEqual(held.recv(3), b"s1\n")
        cplb.reload(cfg.replace("global: {", "global: {max_connections: 1, "))
        cplb.wait_log(r'msg="reload done"')
        try:  # the held session uses the only slot: the new one is closed at once
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as extra:
                self.assertEqual(extra.recv(3), b"")
        except ConnectionResetError:
            pass
        held.close()
        wait_until(lambda: roundtrip(self.port, b"again").endswith(b"again"), timeout=5, what="a free slot")

    def test_sigterm_stops_accepting_lets_sessions_finish_and_exits_0(self):
        s1 = self.echo("s1")
        cplb = self.enterContext(Cplb(config(self.port, self.admin, [("s1", s1.address)], grace="10s"),
                                      wait_ports=[self.port]))
        cplb.wait_log(r'msg="server up".*server=s1\b')
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.addCleanup(sock.close)
        self.assertEqual(sock.recv(3), b"s1\n")
        started = time.monotonic()
        os.kill(cplb.pid, 15)
        cplb.wait_log(r'msg="shutting down')
        with self.assertRaises(OSError):
            roundtrip(self.port, b"new", timeout=2)
        sock.sendall(b"still here")  # the open session keeps working during the grace
        self.assertEqual(sock.recv(64), b"still here")
        sock.close()
        self.assertEqual(cplb.process.wait(10), 0)
        self.assertLess(time.monotonic() - started, 10)

    def test_sigterm_closes_what_is_left_after_the_grace(self):
        s1 = self.echo("s1")
        cplb = self.enterContext(Cplb(config(self.port, self.admin, [("s1", s1.address)], grace="1s"),
                                      wait_ports=[self.port]))
        cplb.wait_log(r'msg="server up".*server=s1\b')
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.addCleanup(sock.close)
        self.assertEqual(sock.recv(3), b"s1\n")
        started = time.monotonic()
        os.kill(cplb.pid, 15)
        self.assertEqual(cplb.process.wait(10), 0)
        self.assertLess(time.monotonic() - started, 3)


if __name__ == "__main__":
    unittest.main()
