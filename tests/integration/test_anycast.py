"""Anycast through the real binary, real BIRD 2 and the kernel, in network namespaces the test builds
(needs root and /usr/sbin/bird; skipped otherwise).

Topology: one LAN (198.51.100.0/24, 2001:db8:1::/64) with a top-of-rack router `router` (.1), two
cplb nodes lb1 (.11) and lb2 (.12) and the apiservers (198.51.100.21 behind lb1, .22 behind lb2,
TCP echo servers that greet with their name, so a client sees which node it reached); a client on
its own link to the router (192.0.2.0/24, 2001:db8:2::/64). Every node runs cplb and its own BIRD
(`kernel table 198; learn;` importing `krt_source = 248`, eBGP to the router with BFD 100 ms x 3);
the router's BIRD merges the nodes' paths into one ECMP route in its kernel (`merge paths`,
`fib_multipath_hash_policy=1`). The VIPs are 203.0.113.100 and 2001:db8:ffff::100.

Each event is timed from the signal (or link or backend change) until the router's kernel route
lost the node, while a client opens new connections back to back; the figures are printed at the
end (`python3 -m unittest -v test_anycast` in tests/integration, as root).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

import netns
from harness import Cplb, FakeApiserver, admin_status, become_subreaper, cplb_binary, http_get, metric_samples, wait_until

BIRD = "/usr/sbin/bird"
BIRDC = "/usr/sbin/birdc"
FRR = Path("/usr/lib/frr")
VTYSH = "/usr/bin/vtysh"
VIP = {4: "203.0.113.100", 6: "2001:db8:ffff::100"}
ROUTER = {4: "198.51.100.1", 6: "2001:db8:1::1"}
NODES = {
    "lb1": {4: "198.51.100.11", 6: "2001:db8:1::11", "asn": 64501, "api": "api-1"},
    "lb2": {4: "198.51.100.12", 6: "2001:db8:1::12", "asn": 64502, "api": "api-2"},
}
APISERVERS = {"api-1": "198.51.100.21", "api-2": "198.51.100.22"}
CLIENT = {4: "192.0.2.2", 6: "2001:db8:2::2"}
CLIENT_GATEWAY = {4: "192.0.2.1", 6: "2001:db8:2::1"}
TABLE = 198
MAIN_TABLE = 254  # where an FRR node's cplb puts its routes: FRR exports them with `redistribute kernel`
SETTLE = 20.0  # bound (s) of waits that measure nothing: BGP sessions (re)establishing
CONVERGE = 5.0  # bound (s) of waits for the router to drop or regain a node
WITHDRAW_DELAY = 1.0  # s: cplb's withdraw_delay in these tests

SUBREAPER = become_subreaper()  # the upgrade test's successor becomes a child of the test

# Event name -> (seconds until the router dropped the node, failed connects, slow connects,
# established sessions lost on the node that left / of those it had, lost on the others / of those).
FIGURES = {}
SESSIONS = 16  # established sessions held through each event


def cplb_config(role, withdraw_delay=f"{int(WITHDRAW_DELAY * 1000)}ms", extra_vips=(), table=TABLE):
    api = NODES[role]["api"]
    vips = ", ".join([f"{VIP[4]}/32", f"'{VIP[6]}/128'", *extra_vips])
    return f"""
global: {{workers: 1, shutdown_grace: 2s}}
admin: {{listen: 127.0.0.1:9100}}
frontends:
  - {{name: api4, listen: '{VIP[4]}:6443', backend: control-plane, connect_timeout: 1s, first_data_timeout: 0s}}
  - {{name: api6, listen: '[{VIP[6]}]:6443', backend: control-plane, connect_timeout: 1s, first_data_timeout: 0s}}
backends:
  - name: control-plane
    servers: [{{name: {api}, address: '{APISERVERS[api]}:6443'}}]
    health_check: {{protocol: tcp, interval: 200ms, timeout: 150ms, fast_interval: 100ms, rise: 1, fall: 1}}
anycast:
  - name: api
    virtual_ips: [{vips}]
    table: {table}
    track_backends: [control-plane]
    withdraw_delay: {withdraw_delay}
"""


BFD = """
protocol bfd {
  interface "eth0" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; };
}
"""

# Quick reconnects after BFD or a link took a session down, so the next test finds it up again.
BGP_TIMERS = "connect delay time 1; connect retry time 2; error wait time 1, 4; hold time 9; keepalive time 3;"


def node_bird_config(role, log):
    node = NODES[role]
    return f"""
log "{log}" all;
router id {node[4]};
protocol device {{ scan time 10; }}
# cplb's routes: table {TABLE}, protocol 248. `learn` imports routes another program put there;
# BIRD rescans at once when an interface goes down (cplb's device vanishing with the process).
protocol kernel anycast4 {{
  kernel table {TABLE};
  learn;
  ipv4 {{ import where krt_source = 248; export none; }};
}}
protocol kernel anycast6 {{
  kernel table {TABLE};
  learn;
  ipv6 {{ import where krt_source = 248; export none; }};
}}
{BFD}
protocol bgp tor4 {{
  local {node[4]} as {node["asn"]};
  neighbor {ROUTER[4]} as 64500;
  bfd on;
  {BGP_TIMERS}
  ipv4 {{ import none; export where proto = "anycast4"; next hop self; }};
}}
protocol bgp tor6 {{
  local {node[6]} as {node["asn"]};
  neighbor {ROUTER[6]} as 64500;
  bfd on;
  {BGP_TIMERS}
  ipv6 {{ import none; export where proto = "anycast6"; next hop self; }};
}}
"""


def router_bird_config(log):
    peers = ""
    for role, node in NODES.items():
        for family in (4, 6):
            peers += f"""
protocol bgp {role}_{family} {{
  local {ROUTER[family]} as 64500;
  neighbor {node[family]} as {node["asn"]};
  bfd on;
  {BGP_TIMERS}
  ipv{family} {{ import all; export none; }};
}}
"""
    return f"""
log "{log}" all;
router id {ROUTER[4]};
protocol device {{ scan time 10; }}
# One ECMP route per VIP, a next hop per node that announces it.
protocol kernel {{ merge paths on; ipv4 {{ import none; export where source = RTS_BGP; }}; }}
protocol kernel {{ merge paths on; ipv6 {{ import none; export where source = RTS_BGP; }}; }}
{BFD}
{peers}
"""


class Bird:
    """BIRD 2 inside a namespace with its own config, control socket (-s) and pid file (-P) in a temp
    dir, in the foreground (so the PID is BIRD's); stopped by PID."""

    def __init__(self, lan, role, make_config):
        self.dir = Path(tempfile.mkdtemp(prefix="cplbt-bird-"))
        self.log_path = self.dir / "bird.log"
        self.socket = self.dir / "bird.ctl"
        config = self.dir / "bird.conf"
        config.write_text(make_config(self.log_path))
        self.process = subprocess.Popen(
            [*netns.exec_prefix(lan.ns(role)), BIRD, "-f", "-c", str(config), "-s", str(self.socket),
             "-P", str(self.dir / "bird.pid")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        lan.adopt(self.process.pid)
        try:
            wait_until(lambda: self.socket.exists() or self.process.poll() is not None, 10, what="BIRD control socket")
        except TimeoutError:
            self.close()
            raise
        if self.process.poll() is not None:
            raise RuntimeError(f"bird in {role} exited: {self.process.stderr.read().decode(errors='replace')}")

    def birdc(self, *command):
        return subprocess.run([BIRDC, "-s", str(self.socket), *command], capture_output=True, text=True,
                              timeout=5).stdout

    def established(self, protocol):
        return "Established" in self.birdc("show", "protocols", protocol)

    def alive(self):
        return self.process.poll() is None

    def log_text(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def close(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def node_frr_configs(role):
    """zebra, bfdd and bgpd configs of a node as docs/anycast.md gives them: cplb's routes in the main
    table, exported as kernel routes (IPv4 here, as the router's IPv6 session to it stays down)."""
    node = NODES[role]
    zebra = "\n"
    bfdd = """
bfd
 profile fast
  receive-interval 100
  transmit-interval 100
  detect-multiplier 3
 !
!
"""
    bgpd = f"""
ip prefix-list cplb-vips seq 10 permit {VIP[4]}/32
route-map cplb-vips permit 10
 match ip address prefix-list cplb-vips
 set origin igp
!
route-map deny-all deny 10
!
router bgp {node["asn"]}
 bgp router-id {node[4]}
 no bgp ebgp-requires-policy
 neighbor {ROUTER[4]} remote-as 64500
 neighbor {ROUTER[4]} bfd profile fast
 neighbor {ROUTER[4]} timers 3 9
 neighbor {ROUTER[4]} timers connect 2
 address-family ipv4 unicast
  redistribute kernel route-map cplb-vips
  neighbor {ROUTER[4]} route-map cplb-vips out
  neighbor {ROUTER[4]} route-map deny-all in
 exit-address-family
!
"""
    return {"zebra": zebra, "bfdd": bfdd, "bgpd": bgpd}


class Frr:
    """FRR's zebra, bfdd and bgpd inside a namespace, each in the foreground with its own config, pid
    file, zebra socket and vty sockets in a temp dir (so it touches nothing of the host's); stopped by
    PID."""

    DAEMONS = ("zebra", "bfdd", "bgpd")  # zebra first: the others connect to it

    def __init__(self, lan, role, configs):
        # The daemons drop to the package's frr user (which must be in the frrvty group), keeping
        # the capabilities they need: the directory and configs are theirs.
        self.dir = Path(tempfile.mkdtemp(prefix="cplbt-frr-"))
        shutil.chown(self.dir, "frr", "frr")
        zserv = self.dir / "zserv.api"
        self.processes = {}
        try:
            for daemon in self.DAEMONS:
                config = self.dir / f"{daemon}.conf"
                config.write_text(configs[daemon])
                shutil.chown(config, "frr", "frr")
                command = [str(FRR / daemon), "-f", str(config), "-i", str(self.dir / f"{daemon}.pid"),
                           "-z", str(zserv), "--vty_socket", str(self.dir), "-P", "0",
                           "--log", f"file:{self.dir / (daemon + '.log')}"]
                if daemon == "bfdd":
                    command += ["--bfdctl", str(self.dir / "bfdd.sock")]
                process = subprocess.Popen([*netns.exec_prefix(lan.ns(role)), *command], stdout=subprocess.DEVNULL,
                                           stderr=subprocess.PIPE)
                lan.adopt(process.pid)
                self.processes[daemon] = process
                vty = self.dir / f"{daemon}.vty"
                wait_until(lambda: vty.exists() or process.poll() is not None, 10, what=f"FRR {daemon} vty socket")
                if process.poll() is not None:
                    raise RuntimeError(f"FRR {daemon} in {role} exited: {process.stderr.read().decode(errors='replace')}")
        except BaseException:
            self.close()
            raise

    def vtysh(self, command):
        return subprocess.run([VTYSH, "--vty_socket", str(self.dir), "-c", command], capture_output=True, text=True,
                              timeout=5).stdout

    def established(self):
        return "Established" in self.vtysh(f"show bgp neighbors {ROUTER[4]}")

    def alive(self):
        return all(p.poll() is None for p in self.processes.values())

    def log_text(self):
        return "\n".join((self.dir / f"{d}.log").read_text(errors="replace") for d in self.DAEMONS
                         if (self.dir / f"{d}.log").exists())

    def close(self):
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
            process.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def next_hops(ns, address):
    """The gateways of `ns`'s main-table route to `address` (several for an ECMP route)."""
    family = "-6" if ":" in address else "-4"
    routes = json.loads(netns.ip("-n", ns, "-j", family, "route", "show", address) or "[]")
    hops = set()
    for route in routes:
        if "gateway" in route:
            hops.add(route["gateway"])
        for hop in route.get("nexthops", []):
            hops.add(hop["gateway"])
    return frozenset(hops)


class RouteWatch:
    """Polls the router's route to one VIP every 10 ms on a thread: (monotonic time, nodes) at each
    change, the nodes named by role."""

    def __init__(self, ns, vip, role_of):
        self.changes = []
        self._ns, self._vip, self._role_of = ns, vip, role_of
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        wait_until(lambda: self.changes, 5, what="first route sample")

    def _run(self):
        last = None
        while not self._stop.is_set():
            nodes = frozenset(self._role_of(g) for g in next_hops(self._ns, self._vip))
            if nodes != last:
                self.changes.append((time.monotonic(), nodes))
                last = nodes
            self._stop.wait(0.01)

    def first(self, predicate, after=0.0):
        """Monotonic time of the first sample after `after` whose nodes satisfy `predicate`, or None."""
        for at, nodes in list(self.changes):
            if at >= after and predicate(nodes):
                return at
        return None

    def close(self):
        self._stop.set()
        self._thread.join(5)


def session_through(vip, timeout):
    """One new connection to the VIP: the greeting names the apiserver (so the node) that answered.
    Returns (apiserver name or None, error or None, seconds the connect took)."""
    started = time.monotonic()
    try:
        sock = socket.create_connection((vip, 6443), timeout=timeout)
    except OSError as error:
        return None, repr(error), time.monotonic() - started
    took = time.monotonic() - started
    try:
        with sock:
            sock.sendall(b"ping")
            sock.shutdown(socket.SHUT_WR)
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
        if not data.endswith(b"ping"):
            return None, f"unexpected reply {data!r}", took
        return data.split(b"\n")[0].decode(), None, took
    except OSError as error:
        return None, repr(error), took


def open_sessions(vip, count, timeout=3.0):
    """`count` established sessions through the VIP, left open: [(apiserver that greeted, socket)]."""
    sessions = []
    for _ in range(count):
        sock = socket.create_connection((vip, 6443), timeout=timeout)
        greeting = b""
        while not greeting.endswith(b"\n"):
            chunk = sock.recv(1)
            if not chunk:
                raise ConnectionError("closed before its greeting")
            greeting += chunk
        sessions.append((greeting.decode().strip(), sock))
    return sessions


def still_echoes(sock, timeout=1.0):
    """Whether an established session still works end to end (the echo answers)."""
    try:
        sock.settimeout(timeout)
        sock.sendall(b"ping")
        data = b""
        while len(data) < 4:
            chunk = sock.recv(4 - len(data))
            if not chunk:
                return False
            data += chunk
        return data == b"ping"
    except OSError:
        return False


class ClientLoad:
    """New connections to a VIP from the client namespace, back to back (10 ms apart), on a thread:
    records (monotonic start, apiserver or None, error, connect seconds, monotonic end)."""

    SLOW = 0.5  # s: a connect this slow had its SYN retransmitted (sent to a node that was gone)

    def __init__(self, ns, vip, timeout=3.0):
        self.records = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ns, vip, timeout), daemon=True)
        self._thread.start()

    def _run(self, ns, vip, timeout):
        netns.enter(ns)
        while not self._stop.is_set():
            started = time.monotonic()
            server, error, took = session_through(vip, timeout)
            self.records.append((started, server, error, took, time.monotonic()))
            self._stop.wait(0.01)

    def between(self, start, end=float("inf")):
        return [r for r in list(self.records) if start <= r[0] < end]

    def failures(self, start, end=float("inf")):
        return [r for r in self.between(start, end) if r[2] is not None]

    SAMPLED = 0.05  # s: how late RouteWatch may see a change (its 10 ms polls of `ip route`)

    def failures_but_in_flight(self, start, moved):
        """Failures after `start` but those of connections open when the router sent the node's
        packets elsewhere (seen at `moved`): plain ECMP resets an established flow then, new or
        not (docs/anycast.md), and no withdraw_delay prevents it."""
        return [r for r in self.failures(start) if not (r[0] <= moved and r[4] >= moved - self.SAMPLED)]

    def slow(self, start, end=float("inf")):
        return [r for r in self.between(start, end) if r[2] is None and r[3] > self.SLOW]

    def servers(self, start, end=float("inf")):
        return {r[1] for r in self.between(start, end) if r[1]}

    def wait_count(self, count, after, timeout=10.0):
        wait_until(lambda: len(self.between(after)) >= count, timeout, what=f"{count} client connections")

    def close(self):
        self._stop.set()
        self._thread.join(10)


@unittest.skipUnless(os.path.exists(BIRD), f"{BIRD} is missing (scripts/deps installs bird2)")
class AnycastTopology(unittest.TestCase):
    """The namespaces, apiservers and routing daemons, built once per class; cplb started on both
    nodes per test. Nodes in FRR_NODES run FRR, the others BIRD."""

    FRR_NODES = ()

    @classmethod
    def setUpClass(cls):
        netns.require_namespaces()
        cls.lan = netns.Lan()
        cls.addClassCleanup(cls.lan.close)
        cls.router = cls.lan.add_host("router", f"{ROUTER[4]}/24")
        cls.lb = {role: cls.lan.add_host(role, f"{node[4]}/24") for role, node in NODES.items()}
        cls.api = cls.lan.add_host("api", *(f"{a}/24" for a in APISERVERS.values()))
        cls.client = cls.lan.add_peer("client", "router", "c0")
        for ns, address in [(cls.router, ROUTER[6]), *((cls.lb[r], n[6]) for r, n in NODES.items())]:
            netns.ip("-n", ns, "addr", "add", f"{address}/64", "dev", "eth0", "nodad")
        netns.ip("-n", cls.router, "addr", "add", f"{CLIENT_GATEWAY[4]}/24", "dev", "c0")
        netns.ip("-n", cls.router, "addr", "add", f"{CLIENT_GATEWAY[6]}/64", "dev", "c0", "nodad")
        netns.ip("-n", cls.client, "addr", "add", f"{CLIENT[4]}/24", "dev", "eth0")
        netns.ip("-n", cls.client, "addr", "add", f"{CLIENT[6]}/64", "dev", "eth0", "nodad")
        for family in (4, 6):
            netns.ip("-n", cls.client, f"-{family}", "route", "add", "default", "via", CLIENT_GATEWAY[family])
            for ns in cls.lb.values():
                netns.ip("-n", ns, f"-{family}", "route", "add", "default", "via", ROUTER[family])
        subprocess.run([*netns.exec_prefix(cls.router), "sysctl", "-q", "-w", "net.ipv4.ip_forward=1",
                        "net.ipv6.conf.all.forwarding=1", "net.ipv4.fib_multipath_hash_policy=1",
                        "net.ipv6.fib_multipath_hash_policy=1"], check=True, capture_output=True)
        cls.gateways = {}
        cls.apiservers = {}
        for name, address in APISERVERS.items():
            server = FakeApiserver(name=name, host=address, port=6443, control=False, echo=True, echo_greeting=True,
                                   command_prefix=netns.exec_prefix(cls.api))
            server.start()
            cls.lan.adopt(server.pid)
            cls.addClassCleanup(server.kill)
            cls.apiservers[name] = server
        # IPv6 BGP needs each end's link-local address, usable once duplicate address detection ends.
        for ns in (cls.router, *cls.lb.values()):
            wait_until(lambda ns=ns: "inet6 fe80" in netns.ip("-n", ns, "-6", "addr", "show", "dev", "eth0") and
                       "tentative" not in netns.ip("-n", ns, "-6", "addr", "show", "dev", "eth0"), 10,
                       what=f"a link-local address in {ns}")
        cls.router_bird = Bird(cls.lan, "router", router_bird_config)
        cls.addClassCleanup(cls.router_bird.close)
        cls.birds, cls.frrs = {}, {}
        for role in NODES:
            if role in cls.FRR_NODES:
                cls.frrs[role] = Frr(cls.lan, role, node_frr_configs(role))
                cls.addClassCleanup(cls.frrs[role].close)
            else:
                cls.birds[role] = Bird(cls.lan, role, lambda log, role=role: node_bird_config(role, log))
                cls.addClassCleanup(cls.birds[role].close)

    @classmethod
    def announcing(cls, family):
        """The nodes that announce `family` (FRR 8 announces IPv4 only)."""
        return {role for role in NODES if family == 4 or role not in cls.FRR_NODES}

    @classmethod
    def role_of(cls, gateway):
        """The node a next hop of the router names, by its global or its link-local address."""
        if gateway not in cls.gateways:
            for role, node in NODES.items():
                cls.gateways[node[4]] = cls.gateways[node[6]] = role
                for entry in json.loads(netns.ip("-n", cls.lb[role], "-j", "-6", "addr", "show", "dev", "eth0")):
                    for info in entry.get("addr_info", []):
                        if "local" in info:
                            cls.gateways[info["local"]] = role
        return cls.gateways.get(gateway, gateway)

    def setUp(self):
        self.cplbs = {}
        self.closers = []
        self.addCleanup(self._close_all)
        for role in NODES:
            self.start_cplb(role)
        for family in (4, 6):
            self.wait_nodes(family, self.announcing(family), SETTLE, "every node is a next hop")

    def _close_all(self):
        for close in reversed(self.closers):
            close()
        for role in NODES:
            self.lan.set_link(role, True)
        for server in self.apiservers.values():
            if server.process.poll() is not None:
                server.restart()
                self.lan.adopt(server.pid)

    def start_cplb(self, role, config=None):
        table = MAIN_TABLE if role in self.FRR_NODES else TABLE
        cplb = Cplb(config or cplb_config(role, table=table), wait_ports=[6443, 9100], command_prefix=netns.exec_prefix(self.lb[role]))
        cplb.start()
        self.lan.adopt(cplb.pid)
        self.cplbs[role] = cplb
        self.closers.append(lambda: cplb.__exit__(None, None, None))
        return cplb

    def watch(self, family):
        w = RouteWatch(self.router, VIP[family], self.role_of)
        self.closers.append(w.close)
        return w

    def load(self, family):
        load = ClientLoad(self.client, VIP[family])
        self.closers.append(load.close)
        return load

    def logs(self):
        parts = []
        for role, cplb in self.cplbs.items():
            lines = [line for line in cplb.log_text().splitlines() if "probe" not in line and "session" not in line]
            parts.append(f"--- cplb {role} ---\n" + "\n".join(lines[-40:]))
        for role, bird in [("router", self.router_bird), *self.birds.items()]:
            parts.append(f"--- bird {role} ---\n" + "\n".join(bird.log_text().splitlines()[-25:]))
        for role, frr in self.frrs.items():
            parts.append(f"--- frr {role} ---\n" + "\n".join(frr.log_text().splitlines()[-25:]))
        return "\n".join(parts)

    def until(self, predicate, timeout, what):
        try:
            return wait_until(predicate, timeout, interval=0.02, what=what)
        except TimeoutError as error:
            self.fail(f"{error}\n{self.logs()}")

    def nodes(self, family):
        return {self.role_of(g) for g in next_hops(self.router, VIP[family])}

    def wait_nodes(self, family, expected, timeout, what):
        self.until(lambda: self.nodes(family) == expected, timeout, f"{what} (IPv{family}: {expected})")

    def node_table(self, role, family):
        return netns.ip("-n", self.lb[role], f"-{family}", "route", "show", "table", str(TABLE), "proto", "248")

    def local_table(self, role, family):
        """cplb's routes in the kernel's local table (the VIPs the node accepts)."""
        return netns.ip("-n", self.lb[role], f"-{family}", "route", "show", "table", "local", "proto", "248")

    def status(self, role):
        return netns.run_in(self.lb[role], admin_status, 9100)

    def metrics(self, role):
        return netns.run_in(self.lb[role], http_get, "127.0.0.1", 9100, "/metrics")[1]

    def hold_sessions(self, family):
        sessions = netns.run_in(self.client, open_sessions, VIP[family], SESSIONS)
        self.closers.append(lambda: [sock.close() for _, sock in sessions])
        return sessions

    def sessions_lost(self, sessions, leaving):
        """(lost on `leaving`'s apiserver, held there, lost elsewhere, held elsewhere)."""
        api = NODES[leaving]["api"] if leaving in NODES else None
        mine = [sock for name, sock in sessions if name == api]
        others = [sock for name, sock in sessions if name != api]
        return (sum(not still_echoes(s) for s in mine), len(mine), sum(not still_echoes(s) for s in others),
                len(others))

    def measure(self, name, family, act, lost, *, until_nodes={"lb2"}):
        """Runs `act()` under client load, with established sessions held, and returns (seconds
        until the router's route had only `until_nodes`, the load, the time act started). Records
        the figures as `name`."""
        sessions = self.hold_sessions(family)
        watch = self.watch(family)
        load = self.load(family)
        load.wait_count(20, 0.0)
        started = time.monotonic()
        act()
        self.until(lambda: watch.first(lambda nodes: nodes == until_nodes, started), CONVERGE,
                   f"router drops {lost} ({name})")
        dropped = watch.first(lambda nodes: nodes == until_nodes, started)
        load.wait_count(50, dropped)  # connections after the router converged, all on the others
        failed = load.failures(started)
        FIGURES[name] = (dropped - started, len(failed), len(load.slow(started)), *self.sessions_lost(sessions, lost))
        return dropped - started, load, started

    def sigterm_withdraws_first(self, name, family, role, others):
        """SIGTERM on `role` under load: the router drops it within withdraw_delay, cplb exits 0,
        and no new connection fails but those in flight when the router moved. Returns the
        seconds until it moved, the load and when the signal went."""
        cplb = self.cplbs[role]
        seconds, load, started = self.measure(name, family, lambda: os.kill(cplb.pid, signal.SIGTERM), role,
                                              until_nodes=others)
        self.assertLess(seconds, WITHDRAW_DELAY, f"the route went first, within withdraw_delay\n{self.logs()}")
        self.assertEqual(cplb.process.wait(10), 0)
        self.assertEqual(load.failures_but_in_flight(started, started + seconds), [],
                         f"no new connection failed\n{self.logs()}")
        return seconds, load, started


class AnycastTest(AnycastTopology):

    def test_both_nodes_are_next_hops_and_share_new_connections(self):
        for family in (4, 6):
            self.assertIn(VIP[family], self.node_table("lb1", family))
            self.assertIn("dev cplb-any0", self.node_table("lb1", family))
            self.assertRegex(self.local_table("lb1", family), rf"local {VIP[family]} dev cplb-any0")
            self.assertNotIn(VIP[family], netns.ip("-n", self.lb["lb1"], "addr", "show", "dev", "cplb-any0"),
                             "local by a route, not an address (which FRR would take for a connected route)")
            load = self.load(family)
            load.wait_count(100, 0.0)
            load.close()
            self.assertEqual(load.failures(0.0), [], self.logs())
            self.assertEqual(load.servers(0.0), {"api-1", "api-2"}, f"IPv{family}: new connections land on both")
        status = self.status("lb1")
        self.assertEqual(
            [(a["name"], a["vip"], a["table"], a["announced"], a["reason"]) for a in status["anycast"]],
            [("api", VIP[4], TABLE, True, None), ("api", VIP[6], TABLE, True, None)])
        samples = metric_samples(self.metrics("lb1"), "cplb_anycast_announced")
        self.assertEqual(samples[frozenset({("name", "api"), ("vip", VIP[6])})], 1.0)
        table = subprocess.run([*netns.exec_prefix(self.lb["lb1"]), str(cplb_binary()), "status", "--admin",
                                "127.0.0.1:9100"], capture_output=True, text=True, timeout=10)
        self.assertEqual(table.returncode, 0, table.stderr)
        self.assertRegex(table.stdout, rf"api\s+{VIP[4]}\s+{TABLE}\s+announced")
        self.assertRegex(self.cplbs["lb1"].log_text(), rf'msg="anycast announced" name=api vip={VIP[4]} table={TABLE}')

    def test_sigterm_withdraws_first_and_loses_no_new_connection(self):
        seconds, load, started = self.sigterm_withdraws_first("SIGTERM", 4, "lb1", {"lb2"})
        self.assertEqual(load.servers(started + seconds + 0.2), {"api-2"})
        log = self.cplbs["lb1"].log_text()
        self.assertLess(log.index('msg="anycast withdrawn" name=api vip=203.0.113.100 table=198 reason="shutting down"'),
                        log.index('msg="shutting down: no new connections"'))

    def test_sigkill_removes_the_next_hop_within_a_second(self):
        lb1 = self.cplbs["lb1"]
        seconds, load, started = self.measure("SIGKILL", 4, lb1.kill, "lb1")
        self.assertLess(seconds, 1.0, self.logs())
        self.assertTrue(self.birds["lb1"].alive(), "BIRD still runs on lb1")
        self.assertTrue(self.birds["lb1"].established("tor4"), self.birds["lb1"].birdc("show", "protocols"))
        self.assertEqual(self.node_table("lb1", 4).strip(), "", "the route went with the process")

    def test_all_tracked_backends_down_withdraws_the_node(self):
        api = self.apiservers["api-1"]
        seconds, load, started = self.measure("backend loss", 4, api.kill, "lb1")
        self.assertEqual(self.status("lb1")["anycast"][0]["reason"], "backend control-plane has no server up")
        api.restart()
        self.lan.adopt(api.pid)
        self.wait_nodes(4, {"lb1", "lb2"}, CONVERGE, "lb1 announces again once its backend is up")

    def test_link_down_is_detected_by_bfd(self):
        seconds, load, started = self.measure("link down (BFD)", 4, lambda: self.lan.set_link("lb1", False), "lb1")
        bfd = self.router_bird.birdc("show", "bfd", "sessions")
        self.assertRegex(bfd, rf"{NODES['lb1'][4]}\s+eth0\s+Down", "the router's BFD session to lb1 went down")
        self.assertFalse(self.router_bird.established("lb1_4"))
        self.lan.set_link("lb1", True)
        self.wait_nodes(4, {"lb1", "lb2"}, SETTLE, "lb1 back once its link is")

    def test_ipv6_sigkill_and_backend_loss(self):
        self.measure("IPv6 backend loss", 6, self.apiservers["api-2"].kill, "lb2", until_nodes={"lb1"})
        self.apiservers["api-2"].restart()
        self.lan.adopt(self.apiservers["api-2"].pid)
        self.wait_nodes(6, {"lb1", "lb2"}, CONVERGE, "lb2 announces again")
        seconds, load, started = self.measure("IPv6 SIGKILL", 6, self.cplbs["lb1"].kill, "lb1")
        self.assertLess(seconds, 1.0, self.logs())

    def test_ipv6_sigterm_withdraws_first_and_loses_no_new_connection(self):
        self.sigterm_withdraws_first("IPv6 SIGTERM", 6, "lb1", {"lb2"})

    def test_ipv6_link_down_is_detected_by_bfd(self):
        self.measure("IPv6 link down (BFD)", 6, lambda: self.lan.set_link("lb1", False), "lb1")
        bfd = self.router_bird.birdc("show", "bfd", "sessions")
        self.assertRegex(bfd, rf"{NODES['lb1'][6]}\s+eth0\s+Down", "the router's IPv6 BFD session to lb1 went down")
        self.assertFalse(self.router_bird.established("lb1_6"))
        self.lan.set_link("lb1", True)
        self.wait_nodes(6, {"lb1", "lb2"}, SETTLE, "lb1 back once its link is")

    def test_a_node_joining_rehashes_flows(self):
        """lb1 comes back: the router rehashes, and sessions opened on lb2 meanwhile that now hash to
        lb1 are reset there (plain ECMP: what docs/anycast.md says about joins)."""
        lb1 = self.cplbs["lb1"]
        self.assertEqual(lb1.terminate(), 0)
        self.wait_nodes(4, {"lb2"}, CONVERGE, "lb1 gone")
        self.measure("join (lb1 back)", 4, lambda: self.start_cplb("lb1"), "lb1", until_nodes={"lb1", "lb2"})
        lost_on_lb2 = FIGURES["join (lb1 back)"][5]
        self.assertGreater(lost_on_lb2, 0, "some of lb2's flows moved to lb1 (if none, the hash did not spread)")

    def test_binary_upgrade_keeps_the_route(self):
        if not SUBREAPER:
            self.skipTest("PR_SET_CHILD_SUBREAPER is not available")
        lb1 = self.cplbs["lb1"]
        sessions = self.hold_sessions(4)
        watch = self.watch(4)
        load = self.load(4)
        load.wait_count(20, 0.0)
        started = time.monotonic()
        lb1.upgrade(status=lambda: self.status("lb1"))
        load.wait_count(50, time.monotonic())
        FIGURES["SIGUSR2 (upgrade)"] = (float("nan"), len(load.failures(started)), len(load.slow(started)),
                                        *self.sessions_lost(sessions, "lb1"))
        self.assertEqual(FIGURES["SIGUSR2 (upgrade)"][3], 0, "no session lost")
        self.assertIsNone(watch.first(lambda nodes: "lb1" not in nodes, started), f"lb1 never left\n{self.logs()}")
        self.assertEqual(load.failures(started), [], self.logs())
        self.assertIn(VIP[4], self.node_table("lb1", 4))
        self.assertNotIn("anycast withdrawn", lb1.log_text()[lb1.log_text().index("upgrade started"):])

    def test_reload_adds_and_removes_announcements(self):
        lb1 = self.cplbs["lb1"]
        extra = "203.0.113.101/32"
        lb1.reload(cplb_config("lb1", extra_vips=[extra]))
        self.until(lambda: "203.0.113.101" in self.node_table("lb1", 4), CONVERGE, "the added VIP is announced")
        self.until(lambda: self.router_bird.birdc("show", "route", "203.0.113.101/32").count("via") >= 1, CONVERGE,
                   "the router learns it")
        lb1.reload("not: [valid")
        lb1.wait_log(r"reload failed")
        self.assertIn("203.0.113.101", self.node_table("lb1", 4), "an invalid reload changes nothing")
        lb1.reload(cplb_config("lb1"))
        self.until(lambda: "203.0.113.101" not in self.node_table("lb1", 4), CONVERGE, "the removed VIP is withdrawn")
        self.assertNotIn("203.0.113.101", self.local_table("lb1", 4), "and no longer local")
        self.assertIn(VIP[4], self.node_table("lb1", 4))
        self.assertRegex(lb1.log_text(), r'msg="anycast removed" name=api vip=203\.0\.113\.101')
        self.assertEqual(self.nodes(4), {"lb1", "lb2"})

    @classmethod
    def tearDownClass(cls):
        if FIGURES:
            lines = ["", "anycast: seconds from the event until the router's route changed, new connections failed "
                     "and slowed (SYN resent) meanwhile (one every 10 ms), established sessions lost",
                     f"{'event':<22} {'seconds':>8} {'failed':>7} {'slow':>5} {'lost: leaving node':>19} "
                     f"{'lost: others':>13}"]
            for name, (seconds, failed, slow, lost, held, lost_others, held_others) in FIGURES.items():
                lines.append(f"{name:<22} {seconds:>8.3f} {failed:>7} {slow:>5} {f'{lost}/{held}':>19} "
                             f"{f'{lost_others}/{held_others}':>13}")
            sys.stderr.write("\n".join(lines) + "\n")
        super().tearDownClass()


@unittest.skipUnless((FRR / "zebra").exists(), f"FRR is missing under {FRR} (scripts/deps installs frr)")
class AnycastFrrTest(AnycastTopology):
    """lb2 runs FRR 8 with docs/anycast.md's node config (cplb's routes in the main table, bgpd
    `redistribute kernel` with a route map, bfdd), lb1 BIRD, against the same BIRD router."""

    FRR_NODES = ("lb2",)

    def test_both_nodes_are_next_hops_and_share_new_connections(self):
        self.assertRegex(self.frrs["lb2"].vtysh("show ip route"), rf"K>\* {VIP[4]}/32 .*cplb-any0")
        load = self.load(4)
        load.wait_count(100, 0.0)
        load.close()
        self.assertEqual(load.failures(0.0), [], self.logs())
        self.assertEqual(load.servers(0.0), {"api-1", "api-2"}, "new connections land on both")

    def test_sigkill_removes_the_next_hop_within_a_second(self):
        lb2 = self.cplbs["lb2"]
        seconds, load, started = self.measure("FRR SIGKILL", 4, lb2.kill, "lb2", until_nodes={"lb1"})
        self.assertLess(seconds, 1.0, self.logs())
        self.assertTrue(self.frrs["lb2"].alive(), "FRR still runs on lb2")
        self.assertTrue(self.frrs["lb2"].established(), self.frrs["lb2"].vtysh("show bgp summary"))

    def test_sigterm_withdraws_first_and_loses_no_new_connection(self):
        self.sigterm_withdraws_first("FRR SIGTERM", 4, "lb2", {"lb1"})

    def test_all_tracked_backends_down_withdraws_the_node(self):
        api = self.apiservers["api-2"]
        self.measure("FRR backend loss", 4, api.kill, "lb2", until_nodes={"lb1"})
        api.restart()
        self.lan.adopt(api.pid)
        self.wait_nodes(4, {"lb1", "lb2"}, CONVERGE, "lb2 announces again once its backend is up")


class SingleNodeTest(unittest.TestCase):
    """One namespace, no BIRD: what cplb keeps in the node's own tables."""

    def setUp(self):
        netns.require_namespaces()
        self.lan = netns.Lan()
        self.addCleanup(self.lan.close)

    def test_leftover_routes_go_at_start_and_flushed_ones_come_back(self):
        lan = self.lan
        ns = lan.add_host("lb1", f"{NODES['lb1'][4]}/24")
        netns.ip("-n", ns, "route", "add", "203.0.113.99/32", "dev", "eth0", "table", str(TABLE), "proto", "248")
        netns.ip("-n", ns, "route", "add", "203.0.113.98/32", "dev", "eth0", "table", str(TABLE), "proto", "static")
        config = cplb_config("lb1").replace("track_backends: [control-plane]", "track_backends: []")
        with Cplb(config, wait_ports=[9100], command_prefix=netns.exec_prefix(ns)) as cplb:
            lan.adopt(cplb.pid)
            table = lambda: netns.ip("-n", ns, "route", "show", "table", str(TABLE))  # noqa: E731
            wait_until(lambda: VIP[4] in table(), 5, what="the VIP announced (no tracked backend)")
            self.assertNotIn("203.0.113.99", table())
            self.assertIn("203.0.113.98", table(), "another protocol's route is not cplb's")
            netns.ip("-n", ns, "route", "flush", "table", str(TABLE), "proto", "248")
            wait_until(lambda: VIP[4] in table(), 10, what="a route flushed by hand put back")
            cplb.wait_log(r'msg="anycast: put back routes removed behind cplb.s back" count=1')

    def test_beside_a_vrrp_instance_the_route_goes_before_the_vrrp_vip(self):
        ns = self.lan.add_host("lb1", f"{NODES['lb1'][4]}/24")
        config = cplb_config("lb1").replace("track_backends: [control-plane]", "track_backends: []") + f"""
vrrp_instances:
  - {{name: VI_1, interface: eth0, virtual_router_id: 51, priority: 150, advert_interval: 100ms,
     virtual_ips: [198.51.100.100/24]}}
"""
        with Cplb(config, wait_ports=[9100], command_prefix=netns.exec_prefix(ns)) as cplb:
            self.lan.adopt(cplb.pid)
            cplb.wait_log(r"instance=VI_1 from=backup to=master")
            wait_until(lambda: VIP[4] in netns.ip("-n", ns, "route", "show", "table", str(TABLE)), 5,
                       what="the anycast VIP announced")
            self.assertIn("198.51.100.100", netns.ipv4_addresses(ns))
            self.assertEqual(cplb.terminate(), 0)
            log = cplb.log_text()
            withdrawn = log.index('msg="anycast withdrawn" name=api vip=203.0.113.100 table=198 reason="shutting down"')
            self.assertLess(withdrawn, log.index('msg="shutting down: handing the virtual IPs over first"'))
            self.assertNotIn("198.51.100.100", netns.ipv4_addresses(ns))


if __name__ == "__main__":
    unittest.main()
