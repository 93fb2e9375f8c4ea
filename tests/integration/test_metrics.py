"""Metrics and the admin API through the real binary: promtool, a real Prometheus scrape, exact
counters, /healthz and /status."""

import json
import os
import re
import socket
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.request
from pathlib import Path

from harness import Cplb, FakeApiserver, echo_roundtrip, free_port, http_get, wait_until

FAMILIES = {
    "cplb_server_up": ("gauge", {"backend", "server"}),
    "cplb_server_active_connections": ("gauge", {"backend", "server"}),
    "cplb_server_connections_total": ("counter", {"backend", "server"}),
    "cplb_server_connect_failures_total": ("counter", {"backend", "server"}),
    "cplb_server_bytes_sent_total": ("counter", {"backend", "server"}),
    "cplb_server_bytes_received_total": ("counter", {"backend", "server"}),
    "cplb_health_check_duration_seconds": ("histogram", {"backend", "server"}),
    "cplb_health_checks_total": ("counter", {"backend", "server", "result"}),
    "cplb_frontend_connections_total": ("counter", {"frontend"}),
    "cplb_frontend_active_connections": ("gauge", {"frontend"}),
    "cplb_frontend_rejected_connections_total": ("counter", {"frontend", "reason"}),
    "cplb_backend_all_down": ("gauge", {"backend"}),
    "cplb_config_reloads_total": ("counter", {"result"}),
    "cplb_config_last_reload_success_timestamp_seconds": ("gauge", set()),
}
# The cplb_vrrp_* families appear once vrrp_instances are configured: test_vrrp checks them.


def config(port, admin, servers, connect_timeout="1s"):
    lines = "\n".join(f"      - {{name: {name}, address: '{address}'}}" for name, address in servers)
    return f"""
global: {{workers: 2, shutdown_grace: 1s}}
admin: {{listen: 127.0.0.1:{admin}}}
frontends:
  - {{name: fe, listen: 127.0.0.1:{port}, backend: be, connect_timeout: {connect_timeout}}}
backends:
  - name: be
    balance: round_robin
    servers:
{lines}
    health_check: {{protocol: tcp, interval: 200ms, timeout: 150ms, rise: 1, fall: 1}}
"""


def scrape(admin):
    status, body = http_get("127.0.0.1", admin, "/metrics")
    assert status == 200, status
    return body


def samples(text, name):
    """{frozenset(labels.items()): value} of the samples of `name`."""
    out = {}
    for line in text.splitlines():
        m = re.match(rf"^{name}(?:{{(.*)}})? (\S+)$", line)
        if m:
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(1) or ""))
            out[labels] = float(m.group(2))
    return out


def value(text, name, **labels):
    return samples(text, name).get(frozenset(labels.items()))


def exchange(port, payload, reply_size):
    """One session: send payload, half-close, read until EOF; returns the bytes received."""
    got = echo_roundtrip("127.0.0.1", port, payload)
    assert len(got) == reply_size, (len(got), reply_size)
    return got


class MetricsTest(unittest.TestCase):
    def setUp(self):
        self.port, self.admin = free_port(), free_port()
        self.s1 = self.enterContext(FakeApiserver(name="s1", echo=True))
        self.s2 = self.enterContext(FakeApiserver(name="s2", echo=True))
        self.servers = [("s1", self.s1.address), ("s2", self.s2.address)]

    def start(self):
        cplb = self.enterContext(Cplb(config(self.port, self.admin, self.servers),
                                      wait_ports=[self.port, self.admin]))
        cplb.wait_log(r'msg="server up".*server=s2\b')
        cplb.wait_log(r'msg="server up".*server=s1\b')
        return cplb

    def test_counters_are_exact(self):
        self.start()
        sizes = [1000, 20000, 333, 70000, 5, 123456]
        for size in sizes:
            exchange(self.port, os.urandom(size), size)
        text = wait_until(lambda: (t := scrape(self.admin)) and
                          sum(samples(t, "cplb_server_connections_total").values()) == len(sizes) and t,
                          what="connection totals")
        total = sum(sizes)
        self.assertEqual(sum(samples(text, "cplb_server_bytes_sent_total").values()), total)
        self.assertEqual(sum(samples(text, "cplb_server_bytes_received_total").values()), total)
        self.assertEqual(value(text, "cplb_frontend_connections_total", frontend="fe"), len(sizes))
        self.assertEqual(value(text, "cplb_server_connections_total", backend="be", server="s1"), 3)
        self.assertEqual(value(text, "cplb_server_connections_total", backend="be", server="s2"), 3)
        self.assertEqual(value(text, "cplb_frontend_active_connections", frontend="fe"), 0)
        self.assertEqual(value(text, "cplb_server_up", backend="be", server="s1"), 1)

    def test_per_worker_sessions_bytes_and_cpu(self):
        self.start()
        sizes = [50000, 70000, 90000, 110000]
        for size in sizes:
            exchange(self.port, os.urandom(size), size)
        held = [socket.create_connection(("127.0.0.1", self.port), timeout=5) for _ in range(6)]
        self.addCleanup(lambda: [s.close() for s in held])
        for s in held:  # a client that speaks gets its session (first_data_timeout)
            s.sendall(b"x")
        text = wait_until(lambda: (t := scrape(self.admin)) and
                          value(t, "cplb_frontend_active_connections", frontend="fe") == 6 and t,
                          what="six sessions held")
        active = samples(text, "cplb_worker_active_connections")
        self.assertEqual(set(active), {frozenset({("worker", "0")}), frozenset({("worker", "1")})})
        self.assertEqual(sum(active.values()), 6)
        # Both ways, every closed session's bytes: the workers together passed on what the servers saw.
        self.assertEqual(sum(samples(text, "cplb_worker_bytes_total").values()), 2 * sum(sizes))
        self.assertTrue(all(v > 0 for v in samples(text, "cplb_worker_cpu_seconds_total").values()))

    def test_every_family_passes_promtool_after_traffic_health_changes_and_a_reload(self):
        cplb = self.start()
        for size in (10, 2000):
            exchange(self.port, os.urandom(size), size)
        self.s2.kill()
        cplb.wait_log(r'msg="server down".*server=s2\b')
        cplb.reload(config(self.port, self.admin, self.servers + [("s3", "127.0.0.1:1")]))
        cplb.wait_log(r'msg="reload done"')
        cplb.reload("frontends: nonsense\n")
        cplb.wait_log(r'msg="reload rejected"')
        text = scrape(self.admin)
        result = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True,
                                timeout=30)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        for name, (kind, labels) in FAMILIES.items():
            with self.subTest(family=name):
                self.assertIn(f"# TYPE {name} {kind}\n", text)
                sample_name = name + "_count" if kind == "histogram" else name
                found = samples(text, sample_name)
                self.assertTrue(found, f"no samples of {sample_name}")
                for label_set in found:
                    self.assertEqual({k for k, _ in label_set}, labels)
        self.assertEqual(value(text, "cplb_server_up", backend="be", server="s2"), 0)
        self.assertEqual(value(text, "cplb_config_reloads_total", result="success"), 1)
        self.assertEqual(value(text, "cplb_config_reloads_total", result="failure"), 1)
        self.assertGreater(value(text, "cplb_config_last_reload_success_timestamp_seconds"), time.time() - 60)
        self.assertGreaterEqual(value(text, "cplb_health_checks_total", backend="be", server="s2", result="failure"), 1)

    def test_healthz_and_status(self):
        self.start()
        status, body = http_get("127.0.0.1", self.admin, "/healthz")
        self.assertEqual((status, body.strip()), (200, "ok"))
        status, body = http_get("127.0.0.1", self.admin, "/status")
        self.assertEqual(status, 200)
        doc = json.loads(body)
        text = json.dumps(doc)
        for word in ("fe", "be", "s1", "s2", "cplb.yaml"):
            self.assertIn(word, text)
        self.s1.kill()
        self.s2.kill()
        wait_until(lambda: http_get("127.0.0.1", self.admin, "/healthz")[0] == 503, what="/healthz 503")
        status, body = http_get("127.0.0.1", self.admin, "/status")
        self.assertIn("refused", body)
        self.assertEqual(http_get("127.0.0.1", self.admin, "/nope")[0], 404)


@unittest.skipUnless(shutil.which("prometheus"), "Debian's prometheus package is not installed")
class PrometheusScrapeTest(unittest.TestCase):
    def test_a_real_prometheus_scrapes_server_up(self):
        port, admin, prom_port = free_port(), free_port(), free_port()
        s1 = self.enterContext(FakeApiserver(name="s1", echo=True))
        dead = ("dead", f"127.0.0.1:{free_port()}")
        cplb = self.enterContext(Cplb(config(port, admin, [("s1", s1.address), dead]), wait_ports=[port, admin]))
        cplb.wait_log(r'msg="server up".*server=s1\b')
        work = Path(self.enterContext(tempfile.TemporaryDirectory(prefix="cplb-prom-")))
        (work / "prometheus.yml").write_text(f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: cplb
    static_configs: [{{targets: ['127.0.0.1:{admin}']}}]
""")
        log = open(work / "prometheus.log", "wb")
        self.addCleanup(log.close)
        prom = subprocess.Popen(["prometheus", f"--config.file={work / 'prometheus.yml'}",
                                 f"--storage.tsdb.path={work / 'data'}", f"--web.listen-address=127.0.0.1:{prom_port}"],
                                stdout=log, stderr=log)
        self.addCleanup(lambda: (prom.kill(), prom.wait(10)))

        def query():
            url = f"http://127.0.0.1:{prom_port}/api/v1/query?query=cplb_server_up"
            with urllib.request.urlopen(url, timeout=2) as response:
                result = json.load(response)["data"]["result"]
            return {r["metric"]["server"]: r["value"][1] for r in result} if len(result) == 2 else None

        values = wait_until(query, timeout=30, interval=0.5, what="Prometheus to scrape cplb_server_up")
        self.assertEqual(values, {"s1": "1", "dead": "0"})


if __name__ == "__main__":
    unittest.main()
