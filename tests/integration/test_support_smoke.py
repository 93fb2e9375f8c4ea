"""Smoke tests of the test support pieces: fake-apiserver, certs.py and harness.py (cplb not needed).

Run: CPLB_BUILD_DIR=<build> python3 -m unittest discover -s tests/integration -p 'test_support_smoke.py'
"""

import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import FakeApiserver, certs, http_get, https_get, wait_until  # noqa: E402

# What a client sees when the server refuses or drops the connection (but not a timeout).
REFUSED = (ssl.SSLError, ConnectionError, http.client.RemoteDisconnected)


def _has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


class FakeApiserverTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="cplb-support-")
        cls.certs = certs.make_test_set(cls.workdir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.workdir, ignore_errors=True)

    def tls_server(self, **kwargs):
        return FakeApiserver(tls=self.certs.server, **kwargs)

    def test_version_names_the_instance_over_verified_tls(self):
        with self.tls_server(name="master-1") as api:
            status, body = https_get("127.0.0.1", api.port, "/version", ca=self.certs.ca.cert)
            self.assertEqual(status, 200)
            version = json.loads(body)
            self.assertEqual(version["name"], "master-1")
            self.assertEqual(version["gitVersion"], "v1.30.0-fake")
            self.assertEqual(https_get("localhost", api.port, "/version", ca=self.certs.ca.cert)[0], 200)

    def test_probe_endpoints_answer_ok_and_others_404(self):
        with self.tls_server() as api:
            for path in ("/healthz", "/readyz", "/livez"):
                self.assertEqual(https_get("127.0.0.1", api.port, path), (200, "ok"), path)
            self.assertEqual(https_get("127.0.0.1", api.port, "/api/v1/pods")[0], 404)

    def test_readiness_switches_at_run_time(self):
        with self.tls_server() as api:
            api.set_readiness("500")
            self.assertEqual(https_get("127.0.0.1", api.port, "/readyz"), (500, "[-]etcd failed"))
            self.assertEqual(https_get("127.0.0.1", api.port, "/healthz")[0], 500)
            self.assertEqual(https_get("127.0.0.1", api.port, "/livez"), (200, "ok"))

            api.set_readiness("hang")
            with self.assertRaises(TimeoutError):
                https_get("127.0.0.1", api.port, "/readyz", timeout=0.5)

            api.set_readiness("close")
            with self.assertRaises(REFUSED):
                https_get("127.0.0.1", api.port, "/readyz", timeout=5)

            api.set_readiness("ok")
            self.assertEqual(https_get("127.0.0.1", api.port, "/readyz"), (200, "ok"))
            # The hung and the closed connections are gone once their clients went.
            wait_until(lambda: api.stats()["active"] == 0, what="no connection left open")

    def test_hang_keeps_the_connection_open_until_the_client_goes(self):
        with FakeApiserver(readiness="hang") as api:
            with socket.create_connection(("127.0.0.1", api.port), timeout=5) as sock:
                sock.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
                wait_until(lambda: api.stats()["requests"] == 1, what="request read")
                sock.settimeout(0.3)
                with self.assertRaises(TimeoutError):
                    sock.recv(1)
                self.assertEqual(api.stats()["active"], 1)
            wait_until(lambda: api.stats()["active"] == 0, what="hung connection released")

    def test_sigusr1_toggles_readiness(self):
        with FakeApiserver() as api:
            api.toggle_readiness()
            wait_until(lambda: http_get("127.0.0.1", api.port, "/readyz")[0] == 500, what="readyz 500")
            api.toggle_readiness()
            wait_until(lambda: http_get("127.0.0.1", api.port, "/readyz")[0] == 200, what="readyz 200")

    def test_stats_count_connections_requests_and_keep_alive(self):
        with FakeApiserver() as api:
            connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
            for _ in range(3):
                connection.request("GET", "/livez")
                self.assertEqual(connection.getresponse().read(), b"ok")
            self.assertEqual(api.stats(), {"connections": 1, "requests": 3, "active": 1, "watches": 0})
            connection.close()
            wait_until(lambda: api.stats()["active"] == 0, what="connection closed")
            self.assertEqual(api.stats()["connections"], 1)

    def test_holds_a_thousand_connections(self):
        with FakeApiserver(echo=True) as api:
            sockets = []
            try:
                for _ in range(1000):
                    sockets.append(socket.create_connection(("127.0.0.1", api.port), timeout=5))
                wait_until(lambda: api.stats()["active"] == 1000, what="1000 connections open")
            finally:
                for sock in sockets:
                    sock.close()
            wait_until(lambda: api.stats()["active"] == 0, what="all connections released")

    def test_mtls_requires_a_client_certificate_from_the_ca(self):
        with self.tls_server(client_ca=self.certs.ca.cert) as api:
            with self.assertRaises(REFUSED):
                https_get("127.0.0.1", api.port, "/readyz", ca=self.certs.ca.cert)
            other_client = certs.make_client_cert(self.workdir, self.certs.other_ca, name="other-client")
            with self.assertRaises(REFUSED):
                https_get("127.0.0.1", api.port, "/readyz", ca=self.certs.ca.cert,
                          cert=other_client.cert, key=other_client.key)
            status, _ = https_get("127.0.0.1", api.port, "/readyz", ca=self.certs.ca.cert,
                                  cert=self.certs.client.cert, key=self.certs.client.key)
            self.assertEqual(status, 200)

    def test_bearer_token_guards_readyz_and_healthz(self):
        with self.tls_server(require_token="s3cret") as api:
            good = {"Authorization": "Bearer s3cret"}
            self.assertEqual(https_get("127.0.0.1", api.port, "/readyz")[0], 401)
            self.assertEqual(https_get("127.0.0.1", api.port, "/healthz")[0], 401)
            self.assertEqual(https_get("127.0.0.1", api.port, "/readyz",
                                       headers={"Authorization": "Bearer wrong"})[0], 401)
            self.assertEqual(https_get("127.0.0.1", api.port, "/readyz", headers=good), (200, "ok"))
            self.assertEqual(https_get("127.0.0.1", api.port, "/healthz", headers=good), (200, "ok"))
            self.assertEqual(https_get("127.0.0.1", api.port, "/livez")[0], 200)

    def test_echo_echoes_and_propagates_half_close(self):
        payload = os.urandom(1 << 20)
        with FakeApiserver(echo=True) as api:
            self.assertEqual(harness.echo_roundtrip("127.0.0.1", api.port, payload), payload)
        with FakeApiserver(name="master-2", echo=True, echo_greeting=True) as api:
            self.assertEqual(harness.echo_roundtrip("127.0.0.1", api.port, b"hello"), b"master-2\nhello")

    def test_echo_keeps_sending_after_the_client_half_closes(self):
        with FakeApiserver(echo=True) as api:
            with socket.create_connection(("127.0.0.1", api.port), timeout=5) as sock:
                sock.sendall(b"ping")
                sock.shutdown(socket.SHUT_WR)
                received = b""
                while chunk := sock.recv(100):
                    received += chunk
                self.assertEqual(received, b"ping")

    @unittest.skipUnless(_has_ipv6_loopback(), "no IPv6 loopback on this machine")
    def test_plain_http_on_ipv6_loopback(self):
        with FakeApiserver(name="v6", host="::1") as api:
            self.assertEqual(api.address, f"[::1]:{api.port}")
            status, body = http_get("::1", api.port, "/version")
            self.assertEqual((status, json.loads(body)["name"]), (200, "v6"))

    def test_stop_exits_zero_even_with_a_hung_connection(self):
        api = FakeApiserver(readiness="hang").start()
        try:
            with socket.create_connection(("127.0.0.1", api.port), timeout=5) as sock:
                sock.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
                wait_until(lambda: api.stats()["requests"] == 1, what="request read")
                self.assertEqual(api.stop(), 0)
        finally:
            api.kill()

    def test_bad_arguments_exit_1(self):
        for args in ([], ["--listen", "127.0.0.1:0"], ["--listen", "nowhere", "--name", "a"],
                     ["--listen", "127.0.0.1:0", "--name", "a", "--readiness", "maybe"],
                     ["--listen", "127.0.0.1:0", "--name", "a", "--cert", "x"],
                     ["--listen", "127.0.0.1:0", "--name", "a", "--watch-interval", "fast"],
                     ["--listen", "127.0.0.1:0", "--name", "a", "--watch-interval", "0ms"],
                     ["--listen", "127.0.0.1:0", "--name", "a", "--shutdown-delay", "-1s"],
                     ["--listen", "127.0.0.1:0", "--name", "a", "--shutdown-delay", "1h"]):
            result = subprocess.run([str(harness.fake_apiserver_binary()), *args], capture_output=True,
                                    timeout=10)
            self.assertEqual(result.returncode, 1, args)
            self.assertIn(b"usage:", result.stderr)


def read_watch_events(sock, count):
    """Reads a watch response from `sock` up to `count` events; returns (head bytes, [event dicts])."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    head, _, rest = data.partition(b"\r\n\r\n")
    events = []
    while len(events) < count:
        while rest.count(b"\r\n") < 2:
            rest += sock.recv(4096)
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        while len(rest) < size + 2:
            rest += sock.recv(4096)
        events.append(json.loads(rest[:size]))
        assert rest[size:size + 2] == b"\r\n"
        rest = rest[size + 2:]
    return head, events


class WatchAndShutdownTest(unittest.TestCase):
    """fake-apiserver's watch streams and graceful shutdown, and the harness clients that use them."""

    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="cplb-watch-")
        cls.certs = certs.make_test_set(cls.workdir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.workdir, ignore_errors=True)

    def test_watch_streams_events_after_keep_alive_requests(self):
        with FakeApiserver(name="w1", watch_interval="50ms") as api:
            with socket.create_connection(("127.0.0.1", api.port), timeout=5) as sock:
                sock.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
                reply = b""
                while b'"w1"}' not in reply:
                    reply += sock.recv(4096)
                started = time.monotonic()
                sock.sendall(b"GET /watch?watch=true HTTP/1.1\r\nHost: x\r\n\r\n")
                head, events = read_watch_events(sock, 4)
                elapsed = time.monotonic() - started
                self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)
                self.assertIn(b"Transfer-Encoding: chunked", head)
                self.assertEqual(events, [{"type": "BOOKMARK", "server": "w1", "seq": n} for n in range(4)])
                self.assertGreaterEqual(elapsed, 0.14)  # one at once, then one every 50 ms
                self.assertLess(elapsed, 2.0)
                self.assertEqual(api.stats()["watches"], 1)
                self.assertEqual(api.stats()["requests"], 2)
            wait_until(lambda: (api.stats()["active"], api.stats()["watches"]) == (0, 0), what="watch gone")

    def test_watch_client_over_tls_names_the_server_and_sees_the_clean_end(self):
        context = harness.tls_client_context(ca=self.certs.ca.cert)
        with FakeApiserver(name="tls-1", tls=self.certs.server) as api:
            with harness.WatchClient("127.0.0.1", api.port, tls_context=context) as client:
                self.assertEqual(client.wait_established(), "tls-1")
                wait_until(lambda: client.current.events >= 3, what="3 events")
                self.assertEqual(api.stats()["watches"], 1)
            self.assertEqual(client.errors, [])
            self.assertEqual([s.end for s in client.streams], ["stopped"])
            wait_until(lambda: api.stats()["watches"] == 0, what="watch gone")
            with harness.WatchClient("127.0.0.1", api.port, tls_context=context) as client:
                client.wait_established()
                self.assertEqual(api.stop(), 0)
                self.assertEqual(client.streams[0].end, "terminator")

    def test_sigterm_fails_readyz_for_the_delay_then_ends_watches_cleanly_and_exits_0(self):
        api = FakeApiserver(name="g1", shutdown_delay="1s", watch_interval="100ms").start()
        self.addCleanup(api.kill)
        with harness.WatchClient("127.0.0.1", api.port) as client, \
                harness.RequestClient("127.0.0.1", api.port, interval=0.03) as requests:
            client.wait_established()
            wait_until(lambda: requests.requests >= 3, what="requests answered")
            self.assertEqual(http_get("127.0.0.1", api.port, "/readyz")[0], 200)
            signalled = time.monotonic()
            api.terminate()
            wait_until(lambda: http_get("127.0.0.1", api.port, "/readyz")[0] == 500, timeout=0.5,
                       what="readyz 500")
            self.assertEqual(http_get("127.0.0.1", api.port, "/version")[0], 200)  # still serving
            self.assertEqual(api.stats()["watches"], 1)
            self.assertEqual(api.wait(5), 0)
            exited = time.monotonic()
            first = client.streams[0]
            self.assertEqual(first.end, "terminator")
            self.assertGreaterEqual(first.ended_at - signalled, 0.95)
            self.assertLess(first.ended_at - signalled, 1.5)
            self.assertLess(exited - first.ended_at, 1.2)
            self.assertEqual(requests.failures, [])
            self.assertGreaterEqual(requests.server_closes, 1)  # Connection: close, then a clean close
            self.assertEqual(set(requests.answers), {"g1"})

    def test_default_shutdown_ends_watches_at_once(self):
        api = FakeApiserver(name="g2").start()
        self.addCleanup(api.kill)
        with harness.WatchClient("127.0.0.1", api.port) as client:
            client.wait_established()
            signalled = time.monotonic()
            self.assertEqual(api.stop(), 0)
            self.assertLess(time.monotonic() - signalled, 1.0)
            self.assertEqual(client.streams[0].end, "terminator")

    def test_restart_on_the_same_port_and_the_watch_client_reopens(self):
        api = FakeApiserver(name="r1", port=harness.stable_port(), control_port=harness.stable_port())
        self.enterContext(api)
        port, control_port = api.port, api.control_port
        with harness.WatchClient("127.0.0.1", port, retry_pause=0.02) as client:
            client.wait_established()
            self.assertEqual(api.stop(), 0)
            wait_until(lambda: client.errors, what="refused reconnects counted")
            api.restart()
            self.assertEqual((api.port, api.control_port), (port, control_port))
            wait_until(lambda: len([s for s in client.streams if s.established]) == 2, what="re-established")
            self.assertEqual(api.stats()["watches"], 1)
        (ended, gap), = client.reopen_gaps()
        self.assertEqual(ended.end, "terminator")
        self.assertGreater(gap, 0)
        self.assertTrue(all("connect" in text for _, text in client.errors), client.errors)

    def test_request_client_counts_a_request_cut_in_flight(self):
        with FakeApiserver(name="c1", readiness="close") as api:
            with harness.RequestClient("127.0.0.1", api.port, interval=0.02, path="/readyz") as requests:
                wait_until(lambda: len(requests.failures) >= 2, what="failures recorded")
            self.assertEqual(requests.requests, 0)
            self.assertEqual({f.stage for f in requests.failures}, {"head"})
            self.assertEqual({f.received for f in requests.failures}, {0})


class CertsTest(unittest.TestCase):
    """The certificates fail client verification for the reason their names promise."""

    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="cplb-certs-")
        cls.certs = certs.make_test_set(cls.workdir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.workdir, ignore_errors=True)

    def verify_error(self, server_pair):
        """The reason a client trusting certs.ca rejects a server presenting server_pair."""
        with FakeApiserver(tls=server_pair) as api:
            with self.assertRaises(ssl.SSLCertVerificationError) as caught:
                https_get("127.0.0.1", api.port, "/readyz", ca=self.certs.ca.cert)
            return caught.exception.verify_message

    def test_untrusted_ca_is_rejected(self):
        self.assertIn("unable to get local issuer certificate", self.verify_error(self.certs.other_server))

    def test_wrong_name_is_rejected(self):
        self.assertIn("mismatch", self.verify_error(self.certs.wrong_name))

    def test_expired_is_rejected(self):
        self.assertIn("expired", self.verify_error(self.certs.expired))

    def test_cli_writes_the_demo_set(self):
        with tempfile.TemporaryDirectory() as out:
            support = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support", "certs.py")
            subprocess.run([sys.executable, support, out], check=True, capture_output=True, timeout=60)
            for name in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key"):
                self.assertTrue(os.path.getsize(os.path.join(out, name)) > 0, name)
            demo = certs.Pair(certs.Path(out, "server.crt"), certs.Path(out, "server.key"))
            with FakeApiserver(tls=demo) as api:
                status, _ = https_get("localhost", api.port, "/readyz", ca=os.path.join(out, "ca.crt"))
                self.assertEqual(status, 200)


if __name__ == "__main__":
    unittest.main()
