"""Silent and greedy clients through the real binary: a silent connection costs no apiserver
connection and is closed after first_data_timeout; one address cannot hold more than
max_connections_per_source sessions; a legitimate client is served meanwhile."""

import os
import re
import signal
import socket
import time
import unittest

from harness import Cplb, FakeApiserver, http_get, stable_port, wait_until


def config(port, admin, server, extra=""):
    return f"""
global: {{workers: 2}}
admin: {{listen: 127.0.0.1:{admin}}}
frontends:
  - name: fe
    listen: 127.0.0.1:{port}
    backend: be
{extra}
backends:
  - name: be
    servers: [{{name: s1, address: '{server}'}}]
    health_check: {{protocol: http, path: /readyz, interval: 1s}}
"""


def metric(admin, name, labels):
    _, body = http_get("127.0.0.1", admin, "/metrics")
    want = "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    match = re.search(rf"^{re.escape(name + want)} (\S+)$", body, re.M)
    return float(match.group(1)) if match else None


def version_from(port, source="127.0.0.1"):
    """GET /version through cplb from `source`; the body (the server's name)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0)) as s:
        s.sendall(b"GET /version HTTP/1.1\r\nHost: cplb\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := s.recv(4096):
            reply += chunk
    return reply


class HostileClientsTest(unittest.TestCase):
    # Ports below the ephemeral range: these tests open hundreds of client connections, whose
    # ephemeral ports could otherwise take a port picked for cplb before it binds it.
    def setUp(self):
        self.port, self.admin = stable_port(), stable_port()
        self.server = self.enterContext(FakeApiserver(name="s1"))

    def test_sigpipe_does_not_end_the_process(self):
        # A library's write to a closed peer raises SIGPIPE; the process must outlive it.
        cplb = self.enterContext(Cplb(config(self.port, self.admin, self.server.address), wait_ports=[self.port]))
        cplb.wait_log(r'msg="server up"')
        for _ in range(3):
            os.kill(cplb.pid, signal.SIGPIPE)
        time.sleep(0.2)
        self.assertIsNone(cplb.process.poll(), cplb.log_text())
        self.assertIn(b"s1", version_from(self.port))

    def test_silent_connections_cost_no_apiserver_connection_and_are_closed(self):
        cplb = self.enterContext(Cplb(config(self.port, self.admin, self.server.address,
                                             "    first_data_timeout: 1s"), wait_ports=[self.port]))
        cplb.wait_log(r'msg="server up"')
        silent = [socket.create_connection(("127.0.0.1", self.port), timeout=5) for _ in range(300)]
        self.addCleanup(lambda: [s.close() for s in silent])
        wait_until(lambda: metric(self.admin, "cplb_frontend_active_connections", {"frontend": "fe"}) == 300,
                   what="300 sessions held")
        self.assertIn(b"200 OK", version_from(self.port), "a legitimate client was not served")
        self.assertEqual(metric(self.admin, "cplb_server_connections_total", {"backend": "be", "server": "s1"}), 1,
                         "silent clients opened apiserver connections")
        started = time.monotonic()
        for s in silent:
            s.settimeout(5)
            try:
                self.assertEqual(s.recv(1), b"")
            except ConnectionResetError:
                pass
        self.assertLess(time.monotonic() - started, 3)
        self.assertEqual(metric(self.admin, "cplb_session_ends_total",
                                {"frontend": "fe", "reason": "first_data_timeout"}), 300)

    def test_one_address_holds_at_most_max_connections_per_source(self):
        cplb = self.enterContext(Cplb(config(self.port, self.admin, self.server.address,
                                             "    max_connections_per_source: 5"), wait_ports=[self.port]))
        cplb.wait_log(r'msg="server up"')
        held = [socket.create_connection(("127.0.0.1", self.port), timeout=5) for _ in range(5)]
        self.addCleanup(lambda: [s.close() for s in held])
        for s in held:
            s.sendall(b"GET /version HTTP/1.1\r\nHost: cplb\r\n\r\n")
            self.assertIn(b"200 OK", s.recv(4096))
        with self.assertRaises((ConnectionResetError, AssertionError)):
            self.assertIn(b"200 OK", version_from(self.port))
        self.assertEqual(metric(self.admin, "cplb_frontend_rejected_connections_total",
                                {"frontend": "fe", "reason": "per_source"}), 1)
        self.assertIn(b"200 OK", version_from(self.port, source="127.0.0.2"), "another address was refused")
        held.pop().close()

        def served():
            try:
                return b"200 OK" in version_from(self.port)
            except ConnectionResetError:
                return False
        wait_until(served, what="a slot freed by a closed session")



class DescriptorsTest(unittest.TestCase):
    """Under `ulimit -n 256` (prlimit): the headroom is sized from the config, not fixed."""

    def test_256_descriptors_serve_at_least_100_sessions_and_recover_after_saturation(self):
        port, admin = stable_port(), stable_port()
        server = self.enterContext(FakeApiserver(name="s1"))
        cfg = config(port, admin, server.address)
        cplb = self.enterContext(Cplb(cfg, wait_ports=[port], command_prefix=["prlimit", "--nofile=256:256", "--"]))
        match = cplb.wait_log(r'msg="cplb started".* max_connections=(\d+)')
        self.assertGreaterEqual(int(match.group(1)), 100)
        cplb.wait_log(r'msg="server up"')
        held, served = [], 0
        for _ in range(150):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                held.append(s)
                s.sendall(b"GET /version HTTP/1.1\r\nHost: cplb\r\n\r\n")
                served += b"200 OK" in s.recv(4096)
            except (ConnectionResetError, BrokenPipeError):
                pass  # over the cap: reset at once
        self.assertGreaterEqual(served, 100)
        for s in held:
            s.close()
        wait_until(lambda: metric(admin, "cplb_frontend_active_connections", {"frontend": "fe"}) == 0,
                   what="the saturating sessions gone")
        # A closed client frees its slot before the next accept is judged.
        ok = 0
        for _ in range(20):
            try:
                ok += b"200 OK" in version_from(port)
            except ConnectionResetError:
                pass
        self.assertEqual(ok, 20)


if __name__ == "__main__":
    unittest.main()
