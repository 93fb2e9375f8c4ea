"""Rebalancing through the real binary with real HTTP/2 clients over TLS: an over-full server's
quiet sessions (watches that only receive, while their client keeps acknowledging and pinging)
are moved with a FIN, and a session whose client sends requests is left alone."""

import re
import tempfile
import time
import unittest
from pathlib import Path

from harness import Cplb, certs, free_port, http_get, wait_until

try:
    from h2_peers import H2Apiserver, H2Requester, H2Watcher
except ImportError:  # scripts/deps installs python3-h2
    H2Apiserver = None


def config(port, admin, servers):
    lines = "\n".join(f"      - {{name: {name}, address: '{address}'}}" for name, address in servers)
    return f"""
global: {{workers: 2}}
admin: {{listen: 127.0.0.1:{admin}}}
frontends:
  - {{name: fe, listen: '127.0.0.1:{port}', backend: be}}
backends:
  - name: be
    balance: least_conn
    rebalance: {{threshold: 1.25, spread: 1s, quiet: 1s}}
    servers:
{lines}
    health_check: {{protocol: tcp, interval: 200ms, timeout: 150ms, rise: 1, fall: 1}}
"""


def metric(admin, name, **labels):
    _, body = http_get("127.0.0.1", admin, "/metrics")
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in body.splitlines():
        if line.startswith(name + "{"):
            got = ",".join(sorted(line[len(name) + 1:line.index("}")].split(",")))
            if got == want:
                return float(line.rsplit(" ", 1)[1])
    return 0.0


@unittest.skipIf(H2Apiserver is None, "python3-h2 is not installed")
class RebalanceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.certs = certs.make_test_set(Path(cls.tmp.name))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def started(self, thing):
        thing.start()
        self.addCleanup(thing.stop)
        return thing

    def test_quiet_http2_watches_move_and_busy_sessions_stay(self):
        port, admin = free_port(), free_port()
        s1 = H2Apiserver("s1", self.certs.server)
        self.addCleanup(s1.stop)
        s2_port = free_port()
        cplb = self.enterContext(Cplb(config(port, admin, [("s1", s1.address), ("s2", f"127.0.0.1:{s2_port}")]),
                                      wait_ports=[port]))
        cplb.wait_log(r'msg="server up".*server=s1\b')
        cplb.wait_log(r'msg="server down".*server=s2\b')

        # Everything lands on s1 while s2 is down.
        watchers = [self.started(H2Watcher(port, self.certs.ca.cert)) for _ in range(6)]
        requesters = [self.started(H2Requester(port, self.certs.ca.cert)) for _ in range(2)]
        wait_until(lambda: all(w.servers for w in watchers) and all(r.answers for r in requesters),
                   timeout=10, what="every client served")
        self.assertEqual({w.servers[0] for w in watchers}, {"s1"})

        # s2 comes up: s1 holds 8 of 8 sessions, twice its share. Its quiet watches must move.
        s2 = H2Apiserver("s2", self.certs.server, port=s2_port)
        self.addCleanup(s2.stop)
        cplb.wait_log(r'msg="server up".*server=s2\b')
        wait_until(lambda: sum(len(w.servers) > 1 for w in watchers) >= 3, timeout=10,
                   what="three watches re-opened elsewhere")
        time.sleep(1.5)  # one more spread: nothing else should move now
        moved = [w for w in watchers if len(w.servers) > 1]
        for w in moved:
            self.assertEqual(w.ends[0], "eof", "a rebalanced watch was reset instead of closed with a FIN")
            self.assertEqual(w.servers[1], "s2")
            self.assertLess(w.gaps[0], 1.0)
        for r in requesters:
            self.assertEqual((r.cut, r.connections, r.errors), (0, 1, []),
                             "a session whose client kept sending requests was closed")
            self.assertGreater(r.answers, 5)
        closed = metric(admin, "cplb_rebalance_closed_sessions_total", backend="be", server="s1")
        self.assertEqual(closed, len(moved))
        self.assertEqual(metric(admin, "cplb_session_ends_total", frontend="fe", reason="rebalanced"), closed)
        self.assertLessEqual(closed, 4, "more than the surplus over the fair share was closed")
        # One log line per episode, not one per session.
        self.assertEqual(len(re.findall(r'msg="?rebalancing\b', cplb.log_text())), 1, cplb.log_text()[-3000:])


if __name__ == "__main__":
    unittest.main()
