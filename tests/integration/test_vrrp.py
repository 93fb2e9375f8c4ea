"""VRRP through the real binary, in network namespaces the test builds (needs root; skipped otherwise).

Topology: one bridge; two load balancers lb1 (192.0.2.11) and lb2 (192.0.2.12) running cplb with the
frontend on the VIP 192.0.2.100:6443 (bound before the VIP is local, IP_FREEBIND); three echo apiservers
192.0.2.21-23 (one namespace) checked over TCP; a client 192.0.2.50. keepalived (/usr/sbin/keepalived)
joins the same virtual router for the interop tests.
"""

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

import netns
from harness import Cplb, FakeApiserver, cplb_binary, http_get, wait_until

VIP = "192.0.2.100"
LB_ADDRESS = {"lb1": "192.0.2.11", "lb2": "192.0.2.12"}
APISERVERS = {"api-1": "192.0.2.21", "api-2": "192.0.2.22", "api-3": "192.0.2.23"}
CLIENT_ADDRESS = "192.0.2.50"
KEEPALIVED = "/usr/sbin/keepalived"
FAST = 0.1  # advert interval (s) of the v3 tests
SETTLE = 5.0  # bound (s) of waits that measure nothing: generous for a loaded machine


def master_down(priority, interval=FAST, version=3):
    """RFC 5798: 3 * interval + skew; v2 counts the skew in seconds."""
    skew = (256 - priority) / 256 * (interval if version == 3 else 1.0)
    return 3 * interval + skew


def skew_time(priority, interval=FAST):
    return (256 - priority) / 256 * interval


def cplb_config(priority, *, preempt=True, interval="100ms", version=3, unicast_peers=(), garp_count=5,
                unicast_ttl_check=True):
    servers = "\n".join(f"      - {{name: {name}, address: '{address}:6443'}}" for name, address in APISERVERS.items())
    peers = ", ".join(unicast_peers)
    return f"""
global: {{workers: 1, shutdown_grace: 2s}}
admin: {{listen: 127.0.0.1:9100}}
frontends:
  - {{name: kube-apiserver, listen: '{VIP}:6443', backend: control-plane, connect_timeout: 1s,
     first_data_timeout: 0s}}  # the echo servers greet first
backends:
  - name: control-plane
    balance: round_robin
    servers:
{servers}
    health_check: {{protocol: tcp, interval: 200ms, timeout: 150ms, rise: 1, fall: 1}}
vrrp_instances:
  - name: VI_1
    interface: eth0
    virtual_router_id: 51
    priority: {priority}
    advert_interval: {interval}
    version: {version}
    preempt: {"true" if preempt else "false"}
    unicast_peers: [{peers}]
    unicast_ttl_check: {"true" if unicast_ttl_check else "false"}
    virtual_ips: [{VIP}/24]
    track_backends: [control-plane]
    track_penalty: 60
    garp: {{count: {garp_count}, interval: 200ms}}
"""


def keepalived_config(role, priority, *, version, interval, unicast):
    peer = "lb2" if role == "lb1" else "lb1"
    unicast_lines = (f"unicast_src_ip {LB_ADDRESS[role]}\n  unicast_peer {{\n    {LB_ADDRESS[peer]}\n  }}"
                     if unicast else "")
    return f"""
global_defs {{
  router_id cplbt_{role}
}}
vrrp_instance VI_1 {{
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority {priority}
  advert_int {interval}
  version {version}
  {unicast_lines}
  virtual_ipaddress {{
    {VIP}/24 dev eth0
  }}
}}
"""


def echo_roundtrip(timeout, vip=VIP):
    """One client session through `vip`: connect, send, half-close, read the echo to EOF. Returns
    ("ok", greeting), ("connect", error) or ("session", error)."""
    try:
        sock = socket.create_connection((vip, 6443), timeout=timeout)
    except OSError as error:
        return "connect", repr(error)
    try:
        with sock:
            sock.sendall(b"ping")
            sock.shutdown(socket.SHUT_WR)
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
        if not data.endswith(b"ping"):
            return "session", f"unexpected reply {data!r}"
        return "ok", data.split(b"\n")[0].decode()
    except OSError as error:
        return "session", repr(error)


def internet_checksum(data):
    data += b"\0" * (len(data) % 2)
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def forged_advert(priority, source=CLIENT_ADDRESS, corrupt=False, destination="224.0.0.18"):
    """A VRRPv3 advert for VRID 51 and the VIP, checksummed for `destination` (RFC 5798 5.1, 5.2)."""
    message = struct.pack("!BBBBHH", 0x31, 51, priority, 1, 10, 0) + socket.inet_aton(VIP)
    pseudo = socket.inet_aton(source) + socket.inet_aton(destination) + struct.pack("!BBH", 0, 112, len(message))
    checksum = internet_checksum(pseudo + message) ^ (0xFFFF if corrupt else 0)
    return message[:6] + struct.pack("!H", checksum) + message[8:]


def send_multicast(packet, ttl):
    """Sends a VRRP packet to 224.0.0.18 from the calling namespace with the given TTL."""
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, 112) as sock:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(CLIENT_ADDRESS))
        sock.sendto(packet, ("224.0.0.18", 0))


def password_advert(priority):
    """A VRRPv2 advert for VRID 51 with `auth_type PASS` (1) and password "42", as an old
    keepalived with `authentication { auth_type PASS auth_pass 42 }` sends it (RFC 2338 5.3)."""
    message = struct.pack("!BBBBBBH", 0x21, 51, priority, 1, 1, 1, 0) + socket.inet_aton(VIP) + b"42".ljust(8, b"\0")
    checksum = internet_checksum(message)
    return message[:6] + struct.pack("!H", checksum) + message[8:]


def send_unicast(packet, destination):
    """Sends a VRRP packet to `destination` from the calling namespace, with TTL 255."""
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, 112) as sock:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
        sock.sendto(packet, (destination, 0))


def send_spoofed(packet, source, destination, ttl):
    """Sends a VRRP packet to `destination` with a forged IPv4 header: any `source`, any `ttl`
    (as a host off the link, or one that spoofs a peer, can)."""
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0xC0, 20 + len(packet), 0, 0, ttl, 112, 0,
                         socket.inet_aton(source), socket.inet_aton(destination))
    header = header[:10] + struct.pack("!H", internet_checksum(header)) + header[12:]
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as sock:
        sock.sendto(header + packet, (destination, 0))


class Keepalived:
    """keepalived (VRRP only) inside a namespace, logging to a file; stopped by PID."""

    def __init__(self, lan, role, conf):
        self.tmpdir = Path(tempfile.mkdtemp(prefix="cplbt-keepalived-"))
        (self.tmpdir / "keepalived.conf").write_text(conf)
        self.log_path = self.tmpdir / "keepalived.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [*netns.exec_prefix(lan.ns(role)), KEEPALIVED, "-n", "-l", "-D", "-G", "-P", "-R",
                 "-f", str(self.tmpdir / "keepalived.conf"), "-p", str(self.tmpdir / "keepalived.pid"),
                 "-r", str(self.tmpdir / "vrrp.pid")], stdout=log, stderr=subprocess.STDOUT)
        lan.adopt(self.process.pid)
        self.child = int(wait_until(lambda: self._child_pid(), 10, what="keepalived VRRP child pid"))
        lan.adopt(self.child)

    def _child_pid(self):
        path = self.tmpdir / "vrrp.pid"
        return path.read_text().strip() if path.exists() else None

    def log_text(self):
        return self.log_path.read_text(errors="replace")

    def signal(self, signo):
        """SIGTERM: the parent stops its VRRP child gracefully. SIGKILL: both die at once (child first)."""
        targets = [self.child, self.process.pid] if signo == signal.SIGKILL else [self.process.pid]
        for pid in targets:
            try:
                os.kill(pid, signo)
            except ProcessLookupError:
                pass

    def close(self):
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.process.wait(5)
        try:
            os.kill(self.child, signal.SIGKILL)
        except ProcessLookupError:
            pass
        shutil.rmtree(self.tmpdir, ignore_errors=True)


class VrrpTopology(unittest.TestCase):
    """The namespaces and apiservers, built once per class; cplb and keepalived started per test."""

    @classmethod
    def setUpClass(cls):
        netns.require_namespaces()
        cls.lan = netns.Lan()
        cls.addClassCleanup(cls.lan.close)
        cls.lb = {role: cls.lan.add_host(role, f"{address}/24") for role, address in LB_ADDRESS.items()}
        cls.client = cls.lan.add_host("client", f"{CLIENT_ADDRESS}/24")
        cls.api = cls.lan.add_host("api", *(f"{address}/24" for address in APISERVERS.values()))
        for name, address in APISERVERS.items():
            server = FakeApiserver(name=name, host=address, port=6443, control=False, echo=True, echo_greeting=True,
                                   command_prefix=netns.exec_prefix(cls.api))  # inside the api namespace
            server.start()
            cls.lan.adopt(server.pid)
            cls.addClassCleanup(server.kill)
        cls.mac = {role: netns.mac_address(ns) for role, ns in cls.lb.items()}

    def setUp(self):
        self.processes = []  # (label, object with log_text()) for failure messages
        self.addCleanup(self.reset_lan)

    def reset_lan(self):
        """Leaves the namespaces as setUpClass made them: no VIP, no nft rules, no cached neighbour."""
        for ns in self.lb.values():
            netns.ip("-n", ns, "addr", "del", f"{VIP}/24", "dev", "eth0", check=False)
            subprocess.run([*netns.exec_prefix(ns), "nft", "delete", "table", "inet", "cplbt"], capture_output=True)
        netns.ip("-n", self.client, "neigh", "flush", "dev", "eth0", check=False)

    # --- processes -------------------------------------------------------------------------------

    def start_cplb(self, role, priority, **options):
        cplb = Cplb(cplb_config(priority, **options), wait_ports=[6443, 9100],
                    command_prefix=netns.exec_prefix(self.lb[role]))
        cplb.start()
        self.lan.adopt(cplb.pid)
        self.processes.append((f"cplb {role}", cplb))
        self.addCleanup(lambda: (cplb.kill(), cplb.__exit__(None, None, None)))
        return cplb

    def start_keepalived(self, role, priority, **options):
        keepalived = Keepalived(self.lan, role, keepalived_config(role, priority, **options))
        self.processes.append((f"keepalived {role}", keepalived))
        self.addCleanup(keepalived.close)
        return keepalived

    def logs(self):
        parts = []
        for label, process in self.processes:
            lines = [line for line in process.log_text().splitlines()
                     if "gratuitous ARP sent" not in line and "session end" not in line and "probe" not in line]
            parts.append(f"--- {label} ---\n" + "\n".join(lines[-60:]))
        return "\n".join(parts)

    def until(self, predicate, timeout, what):
        """wait_until, failing the test with the process logs."""
        try:
            return wait_until(predicate, timeout, interval=0.02, what=what)
        except TimeoutError as error:
            self.fail(f"{error}\n{self.logs()}")

    # --- observations ----------------------------------------------------------------------------

    def holders(self):
        """The load balancers with the VIP on eth0, sorted."""
        return sorted(role for role, ns in self.lb.items() if VIP in netns.ipv4_addresses(ns))

    def wait_holders(self, expected, timeout, what=None):
        self.until(lambda: self.holders() == expected, timeout, what or f"VIP held by {expected}")

    def assert_holders_stay(self, expected, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.assertEqual(self.holders(), expected, self.logs())
            time.sleep(0.05)

    def roundtrip(self, timeout=1.0):
        return netns.run_in(self.client, echo_roundtrip, timeout)

    def wait_client(self, timeout, what="client reaches the VIP"):
        """Tries a session through the VIP until one works; returns the monotonic time it did."""
        def works():
            return time.monotonic() if self.roundtrip(0.3)[0] == "ok" else None
        return self.until(works, timeout, what)

    def start_pair(self, first_priority=150, second_priority=100, **options):
        """lb1 becomes master (started first), then lb2 joins as backup."""
        first = self.start_cplb("lb1", first_priority, **options)
        self.wait_holders(["lb1"], SETTLE)
        second = self.start_cplb("lb2", second_priority, **options)
        second.wait_log(r"instance=VI_1 from=init to=backup")
        return first, second


class VrrpTest(VrrpTopology):

    def test_elect_the_higher_priority(self):
        lb2 = self.start_cplb("lb2", 100)
        lb1 = self.start_cplb("lb1", 150)
        self.wait_holders(["lb1"], SETTLE)
        self.assert_holders_stay(["lb1"], 5 * FAST)
        status, detail = self.roundtrip()
        self.assertEqual(status, "ok", detail)
        self.assertIn(detail, APISERVERS)
        lb1.wait_log(r"instance=VI_1 from=backup to=master")
        self.assertRegex(lb2.log_text(), r"instance=VI_1 from=init to=backup cause=startup")
        self.assertNotRegex(lb1.log_text(), r"level=(warn|error) msg=\"?vrrp")
        metrics = self.admin_get("lb1", "/metrics")
        self.assertIn('cplb_vrrp_state{instance="VI_1",state="master"} 1', metrics)
        self.assertIn('cplb_vrrp_state{instance="VI_1",state="backup"} 0', metrics)
        self.assertIn('cplb_vrrp_effective_priority{instance="VI_1"} 150', metrics)
        self.assertRegex(metrics, r'cplb_vrrp_transitions_total\{instance="VI_1",to="master"\} 1')
        self.assertIn('cplb_vrrp_state{instance="VI_1",state="backup"} 1', self.admin_get("lb2", "/metrics"))
        self.assertIn('"VI_1"', self.admin_get("lb1", "/status"))

    def admin_get(self, role, path):
        """GET http://127.0.0.1:9100{path} inside the namespace of `role`."""
        code = ("import urllib.request,sys;"
                f"sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:9100{path}',timeout=5).read().decode())")
        return subprocess.run([*netns.exec_prefix(self.lb[role]), sys.executable, "-c", code], capture_output=True,
                              text=True, timeout=15, check=True).stdout

    def test_failover_after_sigkill_within_the_master_down_interval(self):
        lb1, _ = self.start_pair()
        self.assertEqual(self.roundtrip()[0], "ok")
        with netns.AddressWatch(self.lb["lb2"]) as watch:
            killed = time.monotonic()
            lb1.kill()
            self.until(lambda: watch.first(VIP, after=killed), 2.0, "lb2 adds the VIP")
            took = watch.first(VIP, after=killed) - killed
        limit = master_down(100)
        self.assertLess(took, limit + 0.15, f"takeover took {took:.3f}s; master-down interval {limit:.3f}s")
        self.assertGreater(took, limit - FAST - 0.02, "the backup must wait for the master-down timer")
        self.wait_client(SETTLE, "client reaches the VIP through lb2")
        # The SIGKILLed master left the VIP behind: a restarted cplb removes it before anything else.
        self.assertIn(VIP, netns.ipv4_addresses(self.lb["lb1"]))
        again = self.start_cplb("lb1", 150)
        again.wait_log(r"removed a stale virtual IP")
        self.wait_holders(["lb1"], SETTLE, "the restarted lb1 takes the VIP back (preempt)")

    def test_sigterm_hands_over_after_the_skew_time(self):
        lb1, _ = self.start_pair()
        with netns.AddressWatch(self.lb["lb2"]) as watch:
            stopped = time.monotonic()
            os.kill(lb1.pid, signal.SIGTERM)
            self.until(lambda: watch.first(VIP, after=stopped), 2.0, "lb2 adds the VIP")
            took = watch.first(VIP, after=stopped) - stopped
        self.assertLess(took, skew_time(100) + 0.1, f"graceful takeover took {took:.3f}s; skew {skew_time(100):.3f}s")
        self.assertEqual(lb1.process.wait(5), 0)
        self.assertEqual(self.holders(), ["lb2"])
        log = lb1.log_text()
        self.assertIn("cause=handover_done", log, "lb1 released the VIP on hearing lb2 as master")
        self.assertLess(log.index("vrrp virtual IPs removed"), log.index("shutting down: no new connections"),
                        "lb1 keeps serving until it has handed the VIP over")

    def test_preempt_when_the_old_master_returns(self):
        lb1, _ = self.start_pair()
        lb1.terminate()
        self.wait_holders(["lb2"], SETTLE)
        returned = self.start_cplb("lb1", 150)
        self.wait_holders(["lb1"], SETTLE, "lb1 preempts lb2")
        returned.wait_log(r"to=master cause=preempt")
        self.assert_holders_stay(["lb1"], 3 * FAST)

    def test_no_preempt_keeps_the_running_master(self):
        lb1, _ = self.start_pair(preempt=False)
        lb1.terminate()
        self.wait_holders(["lb2"], SETTLE)
        returned = self.start_cplb("lb1", 150, preempt=False)
        returned.wait_log(r"to=backup cause=startup")
        self.assert_holders_stay(["lb2"], 3 * master_down(150))
        self.assertNotIn("to=master", returned.log_text())

    def test_split_brain_heals_to_one_master_and_the_client_follows(self):
        self.start_pair()
        netns.nft(self.lb["lb2"], """
            table inet cplbt {
              chain input { type filter hook input priority 0; ip protocol vrrp drop; }
              chain output { type filter hook output priority 0; ip protocol vrrp drop; }
            }""")
        self.wait_holders(["lb1", "lb2"], SETTLE, "both hold the VIP while VRRP is blocked")
        time.sleep(1.0)
        netns.lift_vrrp_block(self.lb["lb2"])
        healed = time.monotonic()
        self.wait_holders(["lb1"], SETTLE, "one master after the block")
        reached = self.wait_client(SETTLE)
        self.assertLess(reached - healed, 1.0, "the client reaches the VIP within a second of the heal")

    def test_tracked_backend_down_moves_the_vip(self):
        lb1, _ = self.start_pair()
        # lb1 loses its apiservers (its probes time out); lb2 still reaches them.
        netns.nft(self.lb["lb1"], f"""
            table inet cplbt {{
              chain output {{ type filter hook output priority 0; ip daddr {{ {", ".join(APISERVERS.values())} }} drop; }}
            }}""")
        self.wait_holders(["lb2"], SETTLE, "the VIP moves to lb2 while lb1 has no healthy apiserver")
        self.assertRegex(lb1.log_text(), r"instance=VI_1 state=master cause=priority_change priority=90")
        self.assertEqual(self.roundtrip()[0], "ok")
        subprocess.run([*netns.exec_prefix(self.lb["lb1"]), "nft", "delete", "table", "inet", "cplbt"], check=True)
        self.wait_holders(["lb1"], SETTLE, "lb1 takes the VIP back once its apiservers are healthy")

    def test_graceful_handover_loses_no_connect(self):
        lb1, _ = self.start_pair()
        results = []
        stop = threading.Event()

        def client():
            while not stop.is_set():
                started = time.monotonic()
                status, detail = echo_roundtrip(3.0)
                results.append((started, time.monotonic() - started, status, detail))
                time.sleep(0.02)

        worker = threading.Thread(target=netns.run_in, args=(self.client, client), daemon=True)
        worker.start()
        try:
            self.until(lambda: len(results) >= 5, SETTLE, "round trips through lb1 before the handover")
            os.kill(lb1.pid, signal.SIGTERM)
            self.wait_holders(["lb2"], SETTLE)
            moved = time.monotonic()
            # The loop covers the handover and goes on after it (counted, not timed: a loaded
            # machine makes fewer round trips a second).
            self.until(lambda: sum(r[0] >= moved for r in results) >= 5, SETTLE, "round trips after the handover")
        finally:
            stop.set()
            worker.join(10)
        failed_connects = [r for r in results if r[2] == "connect"]
        self.assertEqual(failed_connects, [], f"{len(failed_connects)} of {len(results)} connects failed\n{self.logs()}")
        self.assertTrue(any(r[2] == "ok" for r in results[-5:]), "sessions go through lb2 after the handover")

    def test_upgrades_keep_the_master_and_the_vip(self):
        """Five binary upgrades (SIGUSR2) of the master: the successor takes over the VRRP state with
        the sockets, so the VIP never leaves lb1, lb2 never becomes master and no client connect fails.
        The successor is a child of the old cplb, so it runs in lb1's namespace; each one is adopted for
        cleanup (and killed by PID at the end of the test)."""
        import json  # noqa: PLC0415  (this test alone reads /status as JSON)

        lb1, lb2 = self.start_pair()
        self.addCleanup(lb1.kill_all)  # every successor, by PID (runs after the adoption below)
        self.addCleanup(lambda: [self.lan.adopt(pid) for pid in lb1.successor_pids()])

        def lb1_status():
            code, body = netns.run_in(self.lb["lb1"], http_get, "127.0.0.1", 9100, "/status", 1.0, timeout=5)
            if code != 200:
                raise RuntimeError(f"/status answered {code}")
            return json.loads(body)

        results, samples = [], []
        stop = threading.Event()

        def client():
            while not stop.is_set():
                started = time.monotonic()
                status, detail = echo_roundtrip(3.0)
                results.append((started, time.monotonic() - started, status, detail))
                time.sleep(0.02)

        def sampler():
            while not stop.is_set():
                samples.append((time.monotonic(), self.holders()))
                time.sleep(0.02)

        workers = [threading.Thread(target=netns.run_in, args=(self.client, client), daemon=True),
                   threading.Thread(target=sampler, daemon=True)]
        for worker in workers:
            worker.start()
        upgrades = []
        try:
            self.until(lambda: len(results) >= 5, SETTLE, "round trips through lb1 before the upgrades")
            before = len(lb1.log_text())  # lb1 went from init to backup to master before this
            for _ in range(5):
                try:
                    old, new, seconds = lb1.upgrade(status=lb1_status)
                except TimeoutError as error:
                    self.fail(f"{error}\n{self.logs()}")
                finally:
                    for pid in lb1.successor_pids():
                        self.lan.adopt(pid)
                upgrades.append((old, new, seconds))
                done = time.monotonic()
                self.until(lambda: sum(r[0] >= done for r in results) >= 10, SETTLE, "round trips after an upgrade")
        finally:
            stop.set()
            for worker in workers:
                worker.join(10)
        self.assertEqual(len({new for _, new, _ in upgrades}), 5, upgrades)
        self.assertTrue(all(lb1.pid_exited(old) for old, _, _ in upgrades), upgrades)
        moved = [(at, holders) for at, holders in samples if holders != ["lb1"]]
        self.assertGreater(len(samples), 20)
        self.assertEqual(moved, [], f"the VIP left lb1 (or lb2 took it too)\n{self.logs()}")
        self.assertNotIn("to=master", lb2.log_text(), self.logs())
        self.assertNotIn("to=backup", lb1.log_text()[before:], f"a successor ran an election\n{self.logs()}")
        failed_connects = [r for r in results if r[2] == "connect"]
        self.assertEqual(failed_connects, [], f"{len(failed_connects)} of {len(results)} connects failed\n{self.logs()}")
        failed_sessions = [r for r in results if r[2] != "ok"]
        self.assertEqual(failed_sessions, [], f"{len(failed_sessions)} of {len(results)} sessions failed\n{self.logs()}")
        metrics = self.admin_get("lb1", "/metrics")
        self.assertIn('cplb_upgrades_total{result="success"} 5', metrics)
        self.assertRegex(metrics, r'cplb_vrrp_transitions_total\{instance="VI_1",to="master"\} 1\b',
                         "the master transition is counted once, across the upgrades")
        self.assertIn('cplb_vrrp_state{instance="VI_1",state="master"} 1', metrics)

    def test_gratuitous_arp_points_the_client_at_the_new_master(self):
        lb1, _ = self.start_pair()
        self.assertEqual(self.roundtrip()[0], "ok")
        self.assertEqual(netns.neighbour(self.client, VIP), self.mac["lb1"])
        lb1.kill()
        self.wait_holders(["lb1", "lb2"], SETTLE)  # the SIGKILLed lb1 leaves its copy behind
        # No client traffic from here: only lb2's gratuitous ARP can change the client's cache.
        self.until(lambda: netns.neighbour(self.client, VIP) == self.mac["lb2"], 2.0,
                   "the client's neighbour entry for the VIP points at lb2")

    def test_adverts_without_ttl_255_or_with_a_bad_checksum_are_dropped(self):
        lb1, _ = self.start_pair()
        for _ in range(3):
            netns.run_in(self.client, send_multicast, forged_advert(200), 64)
            netns.run_in(self.client, send_multicast, forged_advert(200, corrupt=True), 255)
            time.sleep(FAST)
        lb1.wait_log(r"vrrp packet dropped\" instance=VI_1 reason=bad_ttl source=192.0.2.50")
        lb1.wait_log(r"vrrp packet dropped\" instance=VI_1 reason=bad_checksum source=192.0.2.50")
        self.assertEqual(self.holders(), ["lb1"], self.logs())
        # The same advert with TTL 255 is a better master: lb1 steps down (this proves the TTL was the reason).
        netns.run_in(self.client, send_multicast, forged_advert(200), 255)
        lb1.wait_log(r"from=master to=backup cause=higher_priority_advert")

    def test_unicast_adverts_from_a_stranger_are_dropped_however_fast(self):
        lb1 = self.start_cplb("lb1", 150, unicast_peers=[LB_ADDRESS["lb2"]])
        self.wait_holders(["lb1"], SETTLE)
        lb2 = self.start_cplb("lb2", 100, unicast_peers=[LB_ADDRESS["lb1"]])
        lb2.wait_log(r"instance=VI_1 from=init to=backup")
        # Priority 255 from a host that is not a peer, faster than the 100 ms advert interval, to
        # both nodes: neither takes it as a master, and lb1 keeps the VIP throughout.
        forged = {role: forged_advert(255, destination=LB_ADDRESS[role]) for role in LB_ADDRESS}
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            for role, packet in forged.items():
                netns.run_in(self.client, send_unicast, packet, LB_ADDRESS[role])
            self.assertEqual(self.holders(), ["lb1"], self.logs())
            time.sleep(0.05)
        lb1.wait_log(r"vrrp packet dropped\" instance=VI_1 reason=not_a_peer source=192.0.2.50")
        self.assertNotIn("from=master to=backup", lb1.log_text())
        self.assertNotIn("to=master", lb2.log_text())
        _, metrics = netns.run_in(self.lb["lb1"], http_get, "127.0.0.1", 9100, "/metrics")
        self.assertRegex(metrics, r'cplb_vrrp_dropped_adverts_total\{instance="VI_1",reason="not_a_peer"\} [1-9]')

    def forge_peer_adverts(self, ttl, seconds):
        """Priority-255 adverts to lb1 that claim to come from its peer lb2, with `ttl`, faster than
        the 100 ms advert interval."""
        packet = forged_advert(255, source=LB_ADDRESS["lb2"], destination=LB_ADDRESS["lb1"])
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            netns.run_in(self.client, send_spoofed, packet, LB_ADDRESS["lb2"], LB_ADDRESS["lb1"], ttl)
            time.sleep(0.05)

    def test_unicast_adverts_from_a_spoofed_peer_without_ttl_255_are_dropped(self):
        lb1 = self.start_cplb("lb1", 150, unicast_peers=[LB_ADDRESS["lb2"]])
        self.wait_holders(["lb1"], SETTLE)
        self.forge_peer_adverts(ttl=64, seconds=1.5)
        self.assertEqual(self.holders(), ["lb1"], self.logs())
        lb1.wait_log(r"vrrp packet dropped\" instance=VI_1 reason=bad_ttl source=192.0.2.12")
        self.assertNotIn("from=master to=backup", lb1.log_text())
        _, metrics = netns.run_in(self.lb["lb1"], http_get, "127.0.0.1", 9100, "/metrics")
        self.assertRegex(metrics, r'cplb_vrrp_dropped_adverts_total\{instance="VI_1",reason="bad_ttl"\} [1-9]')
        # The same forgery with TTL 255 (an on-link host spoofing the peer) is taken: the TTL was the reason.
        self.forge_peer_adverts(ttl=255, seconds=0.3)
        lb1.wait_log(r"from=master to=backup cause=higher_priority_advert")

    def test_unicast_ttl_check_off_accepts_a_routed_peer(self):
        lb1 = self.start_cplb("lb1", 150, unicast_peers=[LB_ADDRESS["lb2"]], unicast_ttl_check=False)
        self.wait_holders(["lb1"], SETTLE)
        self.forge_peer_adverts(ttl=64, seconds=0.3)
        lb1.wait_log(r"from=master to=backup cause=higher_priority_advert")

    def test_password_adverts_are_ignored_with_one_warning(self):
        lb1 = self.start_cplb("lb1", 150, version=2, interval="1s")
        self.wait_holders(["lb1"], SETTLE)
        for _ in range(5):
            netns.run_in(self.client, send_multicast, password_advert(200), 255)
            time.sleep(0.05)
        lb1.wait_log(r"vrrp packet dropped\" instance=VI_1 reason=bad_auth_type")
        self.assertEqual(lb1.log_text().count("it uses v2 authentication"), 1, self.logs())
        self.assertEqual(self.holders(), ["lb1"], self.logs())

    def test_reload_changes_priority_in_place_and_restarts_a_changed_router(self):
        lb1, _ = self.start_pair()
        lb1.reload(cplb_config(50))
        self.wait_holders(["lb2"], SETTLE, "lb1 at priority 50 gives the VIP to lb2")
        self.assertEqual(lb1.log_text().count("vrrp instance starting"), 1, "a priority change needs no restart")
        lb1.reload(cplb_config(150, garp_count=3, interval="200ms"))
        lb1.wait_log(r"reload done")
        self.wait_holders(["lb1"], SETTLE, "lb1, restarted at priority 150, preempts")
        self.assertEqual(lb1.log_text().count("vrrp instance starting"), 2, "an interval change restarts")

    def test_an_instance_that_cannot_start_exits_2_saying_why(self):
        with tempfile.TemporaryDirectory(prefix="cplbt-") as work:
            path = Path(work) / "cplb.yaml"
            path.write_text(cplb_config(150).replace("interface: eth0", "interface: nosuch0"))
            result = subprocess.run([*netns.exec_prefix(self.lb["lb1"]), str(cplb_binary()), "--config", str(path)],
                                    capture_output=True, text=True, timeout=10)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertRegex(result.stderr, r"vrrp instance VI_1: interface nosuch0 not found")

    def test_link_down_is_a_fault_and_the_peer_takes_over(self):
        lb1, _ = self.start_pair()
        self.lan.set_link("lb1", False)
        self.wait_holders(["lb2"], SETTLE, "lb1 releases the VIP on carrier loss and lb2 takes it")
        lb1.wait_log(r"to=fault cause=interface_down")
        self.lan.set_link("lb1", True)
        lb1.wait_log(r"to=backup cause=interface_up")
        self.wait_holders(["lb1"], SETTLE, "lb1 preempts again once its link is back")


@unittest.skipUnless(os.access(KEEPALIVED, os.X_OK), f"{KEEPALIVED} is not installed")
class KeepalivedInteropTest(VrrpTopology):
    """cplb and keepalived 2.x in one virtual router: same VRID, VIPs and interval (keepalived drops
    adverts whose address list or interval differ from its own)."""

    def interop(self, version, unicast, stop_signal):
        """Both arrangements: the higher priority (150, on lb1) is master and the other stays backup;
        stopping the master with `stop_signal` moves the VIP to the other."""
        seconds = 1.0 if version == 2 else FAST
        for higher, lower in (("cplb", "keepalived"), ("keepalived", "cplb")):
            with self.subTest(master=higher):
                master = self.start_kind(higher, "lb1", 150, version, unicast)
                backup = self.start_kind(lower, "lb2", 100, version, unicast)
                self.wait_holders(["lb1"], max(SETTLE, 2 * master_down(100, seconds, version)),
                                  f"{higher} (priority 150) is master")
                self.assert_holders_stay(["lb1"], 2 * seconds)
                for process in (master, backup):  # neither rejected the other's adverts
                    self.assertNotRegex(process.log_text(),
                                        r"(?i)checksum|mismatch|not present|invalid ttl|packet dropped|differently")
                if higher == "cplb":
                    self.assertEqual(self.roundtrip()[0], "ok")
                with netns.AddressWatch(self.lb["lb2"]) as watch:
                    stopped = time.monotonic()
                    if higher == "cplb":
                        os.kill(master.pid, stop_signal)
                    else:
                        master.signal(stop_signal)
                    bound = master_down(100, seconds, version) + 1.5
                    self.until(lambda: watch.first(VIP, after=stopped), bound, f"{lower} takes over from {higher}")
                if stop_signal == signal.SIGTERM:
                    self.wait_holders(["lb2"], SETTLE, f"{higher} released the VIP")
                if lower == "cplb":
                    self.wait_client(SETTLE, "client reaches the VIP through cplb on lb2")
                self.doCleanups()  # stop both and reset the namespaces before the other arrangement
                self.setUp()

    def start_kind(self, kind, role, priority, version, unicast):
        if kind == "cplb":
            peers = [LB_ADDRESS["lb2" if role == "lb1" else "lb1"]] if unicast else []
            return self.start_cplb(role, priority, interval="1s" if version == 2 else "100ms", version=version,
                                   unicast_peers=peers)
        return self.start_keepalived(role, priority, version=version, interval="1" if version == 2 else "0.1",
                                     unicast=unicast)

    def test_version_3_multicast(self):
        self.interop(3, unicast=False, stop_signal=signal.SIGTERM)

    def test_version_3_unicast(self):
        self.interop(3, unicast=True, stop_signal=signal.SIGKILL)

    def test_version_2_multicast(self):
        self.interop(2, unicast=False, stop_signal=signal.SIGKILL)

    def test_version_2_unicast(self):
        self.interop(2, unicast=True, stop_signal=signal.SIGTERM)


if __name__ == "__main__":
    unittest.main()
