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
            self.assertEqual(api.stats(), {"connections": 1, "requests": 3, "active": 1})
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
                     ["--listen", "127.0.0.1:0", "--name", "a", "--cert", "x"]):
            result = subprocess.run([str(harness.fake_apiserver_binary()), *args], capture_output=True,
                                    timeout=10)
            self.assertEqual(result.returncode, 1, args)
            self.assertIn(b"usage:", result.stderr)


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
