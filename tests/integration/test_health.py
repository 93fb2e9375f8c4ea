"""Health detection through the real binary: TLS checks of /readyz against fake apiservers with
certificates generated here, passive detection, on_server_down and all_down."""

import concurrent.futures
import http.client
import json
import re
import socket
import ssl
import tempfile
import threading
import time
import unittest
from pathlib import Path

from harness import Cplb, FakeApiserver, certs, free_port, https_get, wait_until

CHECK_FAST = "interval: 300ms\n      timeout: 250ms\n      rise: 2\n      fall: 2"


def config(port, servers, *, ca, backend_extra="", check_extra="", tls_extra="", frontend_extra=""):
    server_lines = "\n".join(f"      - {{name: {name}, address: '{address}'}}" for name, address in servers)
    return f"""
global: {{workers: 2, shutdown_grace: 2s}}
admin: {{listen: 127.0.0.1:{free_port()}}}
frontends:
  - name: fe
    listen: 127.0.0.1:{port}
    backend: be
    connect_timeout: 500ms
{frontend_extra}
backends:
  - name: be
    balance: round_robin
{backend_extra}
    servers:
{server_lines}
    health_check:
      protocol: https
      path: /readyz
      {CHECK_FAST}
{check_extra}
      tls:
        ca_file: {ca}
{tls_extra}
"""


class SilentListener:
    """A TCP listener that accepts (and closes) every connection until go_silent(); then it takes
    none: its accept queue (backlog 0) is kept full, so the kernel drops every later SYN and a
    connect to it hangs, as to a host that is gone."""

    def __init__(self):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(0)
        self._sock.settimeout(0.05)
        self.address = "127.0.0.1:%d" % self._sock.getsockname()[1]
        self._filler = None
        self._silent = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while not self._silent.is_set():
            try:
                self._sock.accept()[0].close()
            except TimeoutError:
                pass

    def go_silent(self):
        self._silent.set()
        self._thread.join(5)
        # The queue's one place taken (by this connect, or a health check's just before it).
        self._filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._filler.setblocking(False)
        self._filler.connect_ex(("127.0.0.1", self._sock.getsockname()[1]))

    def close(self):
        self._silent.set()
        self._thread.join(5)
        if self._filler:
            self._filler.close()
        self._sock.close()


def wait_log_count(cplb, pattern, count, timeout=5):
    """Waits until `pattern` has matched `count` log lines (a later occurrence, not the first)."""
    regex = re.compile(pattern)
    wait_until(lambda: len(regex.findall(cplb.log_text())) >= count, timeout, what=f"{count} x {pattern!r}")


def version_via(port, ca, timeout=3):
    """The name of the apiserver that answered GET /version through cplb."""
    status, body = https_get("127.0.0.1", port, "/version", ca=ca, timeout=timeout)
    if status != 200:
        raise AssertionError(f"status {status}")
    import json
    return json.loads(body)["name"]


class HealthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="cplb-health-")
        cls.certs = certs.make_test_set(Path(cls.tmp.name))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def apiserver(self, name, tls=None, **kwargs):
        server = FakeApiserver(name=name, tls=tls or self.certs.server, **kwargs)
        self.enterContext(server)
        return server

    def test_each_failure_mode_marks_the_server_down_with_its_reason(self):
        c = self.certs
        bad_500 = self.apiserver("bad-500", readiness="500")
        hang = self.apiserver("hang", readiness="hang")
        other_ca = self.apiserver("other-ca", tls=c.other_server)
        wrong_name = self.apiserver("wrong-name", tls=c.wrong_name)
        expired = self.apiserver("expired", tls=c.expired)
        needs_cert = self.apiserver("needs-cert", client_ca=c.ca.cert)
        refused_port = free_port()
        servers = [(s.name, s.address) for s in (bad_500, hang, other_ca, wrong_name, expired, needs_cert)]
        servers.append(("refused", f"127.0.0.1:{refused_port}"))
        port = free_port()
        with Cplb(config(port, servers, ca=c.ca.cert), wait_ports=[port]) as cplb:
            # An unexpected status means alive but not serving; everything else, down.
            expected = {
                "bad-500": r"reason=http_status detail=500",
                "hang": r"reason=timeout",
                "other-ca": r"reason=tls_handshake detail=.*(issuer|unable to get local)",
                "wrong-name": r"reason=tls_handshake detail=.*(hostname|IP address) mismatch",
                "expired": r"reason=tls_handshake detail=.*expired",
                "needs-cert": r"reason=tls_handshake",
                "refused": r"reason=refused",
            }
            for name, reason in expected.items():
                with self.subTest(server=name):
                    state = "not ready" if name == "bad-500" else "down"
                    cplb.wait_log(rf'msg="server {state}" backend=be server={name} {reason}', timeout=5)
            self.assertNotIn('msg="server up"', cplb.log_text())

    def test_server_comes_back_after_rise_passes(self):
        server = self.apiserver("flaky", readiness="500")
        port = free_port()
        with Cplb(config(port, [("flaky", server.address)], ca=self.certs.ca.cert), wait_ports=[port]) as cplb:
            cplb.wait_log(r'msg="server not ready" backend=be server=flaky reason=http_status')
            server.set_readiness("ok")
            cplb.wait_log(r'msg="server up" backend=be server=flaky', timeout=5)
            self.assertEqual(version_via(port, self.certs.ca.cert), "flaky")

    def test_mtls_and_bearer_token_checks_pass(self):
        c = self.certs
        token_file = Path(self.tmp.name) / "token"
        token_file.write_text("s3cret-token\n")
        mtls = self.apiserver("mtls", client_ca=c.ca.cert, require_token="s3cret-token")
        port = free_port()
        cfg = config(port, [("mtls", mtls.address)], ca=c.ca.cert,
                     check_extra=f"      bearer_token_file: {token_file}",
                     tls_extra=f"        cert_file: {c.client.cert}\n        key_file: {c.client.key}")
        with Cplb(cfg, wait_ports=[port]) as cplb:
            cplb.wait_log(r'msg="server up" backend=be server=mtls')
            self.assertNotIn('msg="server down"', cplb.log_text())

    def test_a_failing_server_gets_no_new_sessions_until_it_rises_again(self):
        servers = [self.apiserver(f"m{i}") for i in (1, 2, 3)]
        port = free_port()
        cfg = config(port, [(s.name, s.address) for s in servers], ca=self.certs.ca.cert)
        with Cplb(cfg, wait_ports=[port]) as cplb:
            for s in servers:
                cplb.wait_log(rf'msg="server up" backend=be server={s.name}\b')
            servers[1].set_readiness("500")
            cplb.wait_log(r'msg="server not ready" backend=be server=m2 reason=http_status', timeout=5)
            seen = [version_via(port, self.certs.ca.cert) for _ in range(30)]
            self.assertNotIn("m2", seen)
            self.assertEqual(set(seen), {"m1", "m3"})
            servers[1].set_readiness("ok")
            wait_log_count(cplb, r'msg="server up" backend=be server=m2', 2)
            seen = [version_via(port, self.certs.ca.cert) for _ in range(30)]
            self.assertIn("m2", seen)

    def test_killed_backend_is_invisible_to_clients(self):
        servers = [self.apiserver(f"k{i}") for i in (1, 2, 3)]
        port = free_port()
        cfg = config(port, [(s.name, s.address) for s in servers], ca=self.certs.ca.cert)
        with Cplb(cfg, wait_ports=[port]) as cplb:
            for s in servers:
                cplb.wait_log(rf'msg="server up" backend=be server={s.name}\b')
            failures = []
            deadline = time.monotonic() + 3
            killed = False
            count = 0
            while time.monotonic() < deadline:
                if not killed and count == 20:
                    servers[0].kill()
                    killed = True
                try:
                    version_via(port, self.certs.ca.cert)
                except Exception as error:  # noqa: BLE001  (collected and reported)
                    failures.append(repr(error))
                count += 1
            self.assertTrue(killed)
            self.assertGreater(count, 40)
            self.assertEqual(failures, [])
            cplb.wait_log(r'msg="server down" backend=be server=k1', timeout=5)

    def _open_sessions(self, port, n):
        """n TLS sessions through cplb that stay open; returns the raw sockets."""
        import ssl
        context = ssl.create_default_context(cafile=str(self.certs.ca.cert))
        socks = []
        for _ in range(n):
            raw = socket.create_connection(("127.0.0.1", port), timeout=10)
            tls = context.wrap_socket(raw, server_hostname="127.0.0.1")
            socks.append(tls)
        self.addCleanup(lambda: [s.close() for s in socks])
        return socks

    def _policy_run(self, policy, extra="", readiness="hang", state="down"):
        """Opens 6 sessions to one server, then its /readyz turns to `readiness`: a hang (the
        probe times out) takes it `down`, a 500 makes it `not ready`."""
        server = self.apiserver("victim")
        port = free_port()
        cfg = config(port, [("victim", server.address)], ca=self.certs.ca.cert,
                     backend_extra=f"    on_server_down: {policy}\n{extra}")
        cplb = self.enterContext(Cplb(cfg, wait_ports=[port]))
        cplb.wait_log(r'msg="server up" backend=be server=victim')
        socks = self._open_sessions(port, 6)
        server.set_readiness(readiness)
        cplb.wait_log(rf'msg="server {state}" backend=be server=victim', timeout=5)
        return cplb, socks, time.monotonic()

    @staticmethod
    def _closed_at(socks, timeout):
        """When each socket saw EOF or a reset (monotonic time), None if still open at timeout."""
        def watch(s):
            s.settimeout(timeout)
            try:
                s.recv(1)
            except socket.timeout:
                return None
            except OSError:
                pass
            return time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(len(socks)) as pool:
            return list(pool.map(watch, socks))

    def test_on_server_down_keep_leaves_sessions_open(self):
        _, socks, _ = self._policy_run("keep")
        self.assertEqual(self._closed_at(socks, 1.5), [None] * len(socks))

    def test_on_server_down_close_resets_sessions_at_once(self):
        _, socks, down_at = self._policy_run("close")
        closed = self._closed_at(socks, 3)
        self.assertNotIn(None, closed)
        self.assertLess(max(closed) - down_at, 1.0)

    def test_on_server_down_drain_closes_after_grace_spread_over_the_window(self):
        _, socks, down_at = self._policy_run("drain", "    drain: {grace: 1s, spread: 2s}")
        closed = sorted(self._closed_at(socks, 6))
        self.assertNotIn(None, closed)
        self.assertGreaterEqual(closed[0] - down_at, 0.9, "closed before the grace ended")
        self.assertGreaterEqual(closed[-1] - closed[0], 0.8, f"not spread: {closed}")
        self.assertLess(closed[-1] - down_at, 4.5)

    def test_a_drain_spares_a_session_that_failed_over_while_connecting(self):
        # A server that stops answering SYNs (a host gone, no RST) goes down while sessions are
        # connecting to it; the drain meets them there. When their connects time out they move to
        # the healthy server, and there they must stay: the drain was for the server they left.
        healthy = self.apiserver("healthy")
        gone = SilentListener()
        self.addCleanup(gone.close)
        port = free_port()
        cfg = f"""
global: {{workers: 2, shutdown_grace: 1s}}
frontends:
  - {{name: fe, listen: 127.0.0.1:{port}, backend: be, connect_timeout: 3s, retries: 2}}
backends:
  - name: be
    balance: round_robin
    on_server_down: drain
    drain: {{grace: 0s, spread: 300ms}}
    servers:
      - {{name: gone, address: '{gone.address}'}}
      - {{name: healthy, address: '{healthy.address}'}}
    health_check: {{protocol: tcp, interval: 500ms, timeout: 300ms, rise: 1, fall: 2}}
"""
        cplb = self.enterContext(Cplb(cfg, wait_ports=[port]))
        for name in ("gone", "healthy"):
            cplb.wait_log(rf'msg="server up" backend=be server={name}\b')
        gone.go_silent()
        context = ssl.create_default_context(cafile=str(self.certs.ca.cert))

        def two_requests():
            """Opens a session (its connect reaches cplb at once), asks /version, and asks again on
            the same connection 1.5 s later; returns the two answers' server names."""
            conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
            try:
                names = []
                for pause in (0, 1.5):
                    time.sleep(pause)
                    conn.request("GET", "/version")
                    response = conn.getresponse()
                    names.append(json.loads(response.read())["name"])
                return names
            finally:
                conn.close()

        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            answers = [pool.submit(two_requests) for _ in range(6)]
            # Round robin sent half of them to `gone`: the drain found them connecting there.
            drained = cplb.wait_log(r'msg="draining sessions" backend=be server=gone sessions=(\d+)', timeout=5)
            self.assertGreater(int(drained.group(1)), 0, "no session was connecting when the drain began")
            self.assertEqual([a.result(timeout=15) for a in answers], [["healthy", "healthy"]] * 6)

    def test_slow_start_ramps_a_returning_server_not_one_at_start(self):
        servers = [self.apiserver(f"r{i}") for i in (1, 2)]
        port = free_port()
        cfg = config(port, [(s.name, s.address) for s in servers], ca=self.certs.ca.cert,
                     backend_extra="    slow_start: 2s")
        with Cplb(cfg, wait_ports=[port]) as cplb:
            for s in servers:
                cplb.wait_log(rf'msg="server up" backend=be server={s.name}\b')
            self.assertNotIn('msg="slow start"', cplb.log_text(), "servers ramped at cplb's own start")
            servers[1].set_readiness("hang")
            cplb.wait_log(r'msg="server down" backend=be server=r2', timeout=5)
            servers[1].set_readiness("ok")
            cplb.wait_log(r'msg="slow start" backend=be server=r2 window=2s', timeout=5)

    def test_a_not_ready_server_keeps_its_sessions_for_not_ready_grace_then_drains(self):
        _, socks, not_ready_at = self._policy_run(
            "drain", "    drain: {grace: 0s, spread: 500ms, not_ready_grace: 2s}", readiness="500",
            state="not ready")
        closed = sorted(self._closed_at(socks, 5))
        self.assertNotIn(None, closed)
        self.assertGreaterEqual(closed[0] - not_ready_at, 1.9, "closed before not_ready_grace ended")
        self.assertLess(closed[-1] - not_ready_at, 3.5)

    def test_all_down_any_reachable_keeps_serving(self):
        servers = [self.apiserver(f"q{i}") for i in (1, 2)]
        port = free_port()
        cfg = config(port, [(s.name, s.address) for s in servers], ca=self.certs.ca.cert,
                     backend_extra="    all_down: any_reachable")
        with Cplb(cfg, wait_ports=[port]) as cplb:
            cplb.wait_log(r'msg="server up" backend=be server=q2')
            for s in servers:
                s.set_readiness("500")  # say etcd lost quorum: every /readyz fails
            cplb.wait_log(r'msg="backend all down" backend=be', timeout=5)
            self.assertIn(version_via(port, self.certs.ca.cert), {"q1", "q2"})
            for s in servers:
                s.set_readiness("ok")
            cplb.wait_log(r'msg="backend recovered" backend=be', timeout=5)

    def test_all_down_reject_rejects(self):
        server = self.apiserver("r1")
        port = free_port()
        cfg = config(port, [("r1", server.address)], ca=self.certs.ca.cert, backend_extra="    all_down: reject")
        with Cplb(cfg, wait_ports=[port]) as cplb:
            cplb.wait_log(r'msg="server up" backend=be server=r1')
            server.set_readiness("500")
            cplb.wait_log(r'msg="backend all down" backend=be', timeout=5)
            with self.assertRaises(OSError):
                version_via(port, self.certs.ca.cert)


if __name__ == "__main__":
    unittest.main()
