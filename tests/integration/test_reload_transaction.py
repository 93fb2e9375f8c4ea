"""The reload transaction through the real binary: a reload is prepared in full before anything
live changes, so a failed one leaves every server's health state as it was, and a committed one
reaches every leg of new sessions."""

import json
import re
import socket
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from harness import Cplb, FakeApiserver, free_port, http_get, wait_until


def config(port, admin, servers, *, keepalive="30s", extra_frontend="", token_file=None):
    lines = "\n".join(f"      - {{name: {name}, address: '{address}'}}" for name, address in servers)
    token = f"\n      bearer_token_file: {token_file}" if token_file else ""
    return f"""
global: {{workers: 2}}
admin: {{listen: 127.0.0.1:{admin}}}
frontends:
  - name: fe
    listen: 127.0.0.1:{port}
    backend: be
    tcp_keepalive: {keepalive}
    tcp_user_timeout: 0s
{extra_frontend}
backends:
  - name: be
    balance: round_robin
    servers:
{lines}
    health_check:
      protocol: http
      path: /readyz
      interval: 1s
      timeout: 500ms
      rise: 1
      fall: 3{token}
"""


def accepted_socket_timer(port, client):
    """The `timer:(...)` of cplb's accepted socket for `client` (a connected socket), or ''."""
    client_port = client.getsockname()[1]
    out = subprocess.run(
        ["ss", "-tnoH", "state", "established", f"( sport = :{port} and dport = :{client_port} )"],
        capture_output=True, text=True, timeout=10, check=True).stdout
    match = re.search(r"timer:\(([^)]*)\)", out)
    return match.group(1) if match else ""


def keepalive_seconds(timer):
    """29 from `keepalive,29sec,0` (or from `keepalive,1min2sec,0`: 62); None without keepalive."""
    match = re.match(r"keepalive,(?:(\d+)min)?(?:(\d+)(?:\.\d+)?sec)?", timer)
    if not match:
        return None
    return int(match.group(1) or 0) * 60 + int(match.group(2) or 0)


def status(admin):
    code, body = http_get("127.0.0.1", admin, "/status")
    assert code == 200, body
    return json.loads(body)


def server_state(admin, name):
    for backend in status(admin)["backends"]:
        for server in backend["servers"]:
            if server["name"] == name:
                return server["state"]
    return None


def reload_failures(admin):
    code, body = http_get("127.0.0.1", admin, "/metrics")
    assert code == 200, body
    match = re.search(r'^cplb_config_reloads_total\{result="failure"\} (\S+)$', body, re.M)
    return float(match.group(1)) if match else 0.0


class ReloadTransactionTest(unittest.TestCase):
    def setUp(self):
        self.port, self.admin = free_port(), free_port()

    def apiserver(self, name):
        server = FakeApiserver(name=name)  # plain HTTP, readiness switchable
        self.enterContext(server)
        return server

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.addCleanup(sock.close)
        self.assert_serves(sock)
        return sock

    def assert_serves(self, sock):
        """One keep-alive request on `sock` gets an answer."""
        sock.sendall(b"GET /version HTTP/1.1\r\nHost: cplb\r\n\r\n")
        reply = b""
        while b"\r\n\r\n" not in reply:
            part = sock.recv(4096)
            self.assertTrue(part, "the session was closed")
            reply += part
        self.assertTrue(reply.startswith(b"HTTP/1.1 200"), reply)

    def test_changed_keepalive_reaches_the_client_leg(self):
        s1 = self.apiserver("s1")
        cplb = self.enterContext(Cplb(config(self.port, self.admin, [("s1", s1.address)]),
                                      wait_ports=[self.port]))
        cplb.wait_log(r'msg="server up".*server=s1\b')
        before = self.connect()
        self.assertGreater(keepalive_seconds(accepted_socket_timer(self.port, before)), 20)

        cplb.reload(config(self.port, self.admin, [("s1", s1.address)], keepalive="7s"))
        cplb.wait_log(r'msg="reload done"')
        after = self.connect()
        seconds = keepalive_seconds(accepted_socket_timer(self.port, after))
        self.assertIsNotNone(seconds, "the new session's client leg has no keepalive timer")
        self.assertLessEqual(seconds, 7)
        # The session opened before the reload goes on as it was.
        self.assertGreater(keepalive_seconds(accepted_socket_timer(self.port, before)), 20)

        cplb.reload(config(self.port, self.admin, [("s1", s1.address)], keepalive="0s"))
        wait_until(lambda: len(re.findall(r'msg="reload done"', cplb.log_text())) == 2, what="second reload")
        off = self.connect()
        self.assertIsNone(keepalive_seconds(accepted_socket_timer(self.port, off)),
                          "keepalive switched off still reaches new sessions")

    def test_reload_failing_at_bind_leaves_health_state_and_fall_count(self):
        s1, s2 = self.apiserver("s1"), self.apiserver("s2")
        servers = [("s1", s1.address), ("s2", s2.address)]
        cplb = self.enterContext(Cplb(config(self.port, self.admin, servers), wait_ports=[self.port]))
        cplb.wait_log(r'msg="server up".*server=s2\b')
        cplb.wait_log(r'msg="server up".*server=s1\b')
        held = self.connect()

        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        taken_port = taken.getsockname()[1]
        extra = f"  - {{name: extra, listen: '127.0.0.1:{taken_port}', backend: be}}"

        # s2 fails for 250 ms; the reload in that window would also remove it, and fails to bind.
        s2.set_readiness("500")
        cplb.reload(config(self.port, self.admin, servers[:1], extra_frontend=extra))
        cplb.wait_log(r'msg="reload rejected".*frontend extra: bind 127\.0\.0\.1:' + str(taken_port))
        time.sleep(0.25)
        s2.set_readiness("ok")

        # fall 3 at 1 s: no more than one failed probe fits the window, so s2 never goes down.
        deadline = time.monotonic() + 3.5
        while time.monotonic() < deadline:
            self.assertEqual(server_state(self.admin, "s2"), "up")
            time.sleep(0.1)
        log = cplb.log_text()
        self.assertNotRegex(log, r'msg="server down".*server=s2\b')
        self.assertNotIn('msg="server removed"', log)
        self.assertNotIn('msg="reload done"', log)
        self.assertEqual(len(re.findall(r'msg="server up".*server=s2\b', log)), 1, "s2's health slot was re-created")
        self.assertEqual(reload_failures(self.admin), 1)
        self.assert_serves(held)

    def test_reload_whose_token_cannot_be_used_changes_nothing(self):
        s1, s2 = self.apiserver("s1"), self.apiserver("s2")
        cplb = self.enterContext(Cplb(config(self.port, self.admin, [("s1", s1.address)]), wait_ports=[self.port]))
        cplb.wait_log(r'msg="server up".*server=s1\b')
        # Readable, so the config passes --check; empty, so the probes cannot be prepared.
        token = Path(self.enterContext(tempfile.TemporaryDirectory())) / "token"
        token.write_text("")
        cplb.reload(config(self.port, self.admin, [("s1", s1.address), ("s2", s2.address)], token_file=token))
        cplb.wait_log(r'msg="reload rejected".*backend be: health_check: bearer_token_file.*is empty')
        cplb.wait_log(r'msg="reload failed')
        time.sleep(1.5)  # more than one interval: a probe of s2 would have run by now
        self.assertEqual(s2.stats()["connections"], 0, "the rejected generation's new server was probed")
        self.assertEqual([s["name"] for s in status(self.admin)["backends"][0]["servers"]], ["s1"])
        self.assertEqual(reload_failures(self.admin), 1)


if __name__ == "__main__":
    unittest.main()
