"""The data path through the real cplb binary: byte-exact transfer, half-close, retries, idle
timeout, max_connections, IPv6 and balancing, against fake-apiserver in echo mode."""

import concurrent.futures
import hashlib
import os
import socket
import subprocess
import time
import unittest

from harness import Cplb, FakeApiserver, echo_roundtrip, format_address, free_port, wait_until


def config(listen, servers, balance="round_robin", frontend_extra="", global_extra="", check_port=None):
    lines = [f"      - {{name: {name}, address: '{address}'}}" for name, address in servers]
    check_port_line = f"\n      port: {check_port}" if check_port else ""
    return f"""
global:
  workers: 2
  shutdown_grace: 1s
{global_extra}
admin:
  listen: 127.0.0.1:{free_port()}
frontends:
  - name: fe
    listen: '{listen}'
    backend: be
    connect_timeout: 1s
    first_data_timeout: 0s  # connect at once: some echo servers greet first
{frontend_extra}
backends:
  - name: be
    balance: {balance}
    servers:
{os.linesep.join(lines)}
    health_check:
      protocol: tcp
      interval: 200ms
      timeout: 100ms{check_port_line}
"""


def wait_servers_up(cplb, names):
    for name in names:
        cplb.wait_log(rf'msg="server up".*server={name}\b')


def recv_all(sock):
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


class DataPathTest(unittest.TestCase):
    def setUp(self):
        self.port = free_port()

    def start_echo_servers(self, count, host="127.0.0.1", greeting=False):
        servers = []
        for i in range(count):
            server = FakeApiserver(name=f"s{i + 1}", host=host, echo=True, echo_greeting=greeting)
            self.enterContext(server)
            servers.append(server)
        return servers

    def test_fifty_sessions_move_one_mebibyte_each_way_byte_exact(self):
        servers = self.start_echo_servers(3)
        cfg = config(f"127.0.0.1:{self.port}", [(s.name, s.address) for s in servers])
        with Cplb(cfg, wait_ports=[self.port]) as cplb:
            wait_servers_up(cplb, ["s1", "s2", "s3"])

            def session(_):
                payload = os.urandom(1 << 20)
                with socket.create_connection(("127.0.0.1", self.port), timeout=20) as sock:
                    with concurrent.futures.ThreadPoolExecutor(1) as pool:
                        reader = pool.submit(recv_all, sock)
                        sock.sendall(payload)
                        sock.shutdown(socket.SHUT_WR)
                        echoed = reader.result(timeout=30)
                return hashlib.sha256(payload).digest() == hashlib.sha256(echoed).digest(), len(echoed)

            with concurrent.futures.ThreadPoolExecutor(50) as pool:
                results = list(pool.map(session, range(50)))
        self.assertEqual([r[1] for r in results], [1 << 20] * 50)
        self.assertTrue(all(r[0] for r in results))
        for server in servers:
            self.assertGreater(server.stats()["connections"], 0, f"{server.name} got no session")

    def test_a_bulk_session_moves_through_a_pipe_byte_exact_and_closes_it_after(self):
        servers = self.start_echo_servers(1)
        # Splice is the epoll path's: on the sockmap path the session would join the sockhash.
        cfg = config(f"127.0.0.1:{self.port}", [("s1", servers[0].address)], global_extra="  data_path: epoll")
        with Cplb(cfg, wait_ports=[self.port]) as cplb:
            wait_servers_up(cplb, ["s1"])

            def pipes():
                fds = f"/proc/{cplb.pid}/fd"
                count = 0
                for fd in os.listdir(fds):
                    try:
                        count += os.readlink(f"{fds}/{fd}").startswith("pipe:")
                    except FileNotFoundError:
                        pass  # closed since the listing: a health check's socket, a pipe put back
                return count

            idle_pipes = pipes()  # the signal pipe and the like
            payload = os.urandom(64 << 20)
            most = 0
            with socket.create_connection(("127.0.0.1", self.port), timeout=20) as sock:
                with concurrent.futures.ThreadPoolExecutor(1) as pool:
                    reader = pool.submit(recv_all, sock)
                    for at in range(0, len(payload), 1 << 20):
                        sock.sendall(payload[at:at + (1 << 20)])
                        most = max(most, pipes())
                    sock.shutdown(socket.SHUT_WR)
                    echoed = reader.result(timeout=60)
            self.assertEqual(hashlib.sha256(echoed).digest(), hashlib.sha256(payload).digest())
            # Both directions were bulk: each held a pipe (two descriptors) on the way.
            self.assertGreaterEqual(most, idle_pipes + 2)
            wait_until(lambda: pipes() == idle_pipes, what="the session's pipes closed")

    def test_half_close_still_delivers_the_whole_reply(self):
        servers = self.start_echo_servers(1)
        with Cplb(config(f"127.0.0.1:{self.port}", [("s1", servers[0].address)]), wait_ports=[self.port]) as cplb:
            wait_servers_up(cplb, ["s1"])
            payload = os.urandom(300_000)
            with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
                sock.sendall(payload)
                sock.shutdown(socket.SHUT_WR)  # done writing; the reply must still arrive in full
                self.assertEqual(recv_all(sock), payload)

    def test_refused_server_is_retried_and_the_client_never_sees_it(self):
        live = self.start_echo_servers(1, greeting=True)[0]
        dead_port = free_port()  # nothing listens here: connects are refused
        # Both servers are checked on the live server's port, so the dead one passes its check
        # and only the data path finds it refusing.
        cfg = config(f"127.0.0.1:{self.port}", [("dead", f"127.0.0.1:{dead_port}"), ("live", live.address)],
                     check_port=live.port)
        with Cplb(cfg, wait_ports=[self.port]) as cplb:
            wait_servers_up(cplb, ["dead", "live"])
            for _ in range(20):
                reply = socket_roundtrip(self.port, b"ping")
                self.assertEqual(reply, b"s1\nping")
            self.assertIn("connect failed", cplb.log_text())

    def test_idle_timeout_closes_an_idle_session(self):
        servers = self.start_echo_servers(1)
        cfg = config(f"127.0.0.1:{self.port}", [("s1", servers[0].address)], frontend_extra="    idle_timeout: 500ms")
        with Cplb(cfg, wait_ports=[self.port]) as cplb:
            wait_servers_up(cplb, ["s1"])
            with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
                sock.sendall(b"x")
                self.assertEqual(sock.recv(1), b"x")
                started = time.monotonic()
                self.assertEqual(sock.recv(1), b"")  # EOF from cplb, not our 10 s timeout
                self.assertLess(time.monotonic() - started, 5)
            cplb.wait_log(r"reason=idle_timeout")

    def test_active_session_outlives_idle_timeout(self):
        servers = self.start_echo_servers(1)
        cfg = config(f"127.0.0.1:{self.port}", [("s1", servers[0].address)], frontend_extra="    idle_timeout: 400ms")
        with Cplb(cfg, wait_ports=[self.port]) as cplb:
            wait_servers_up(cplb, ["s1"])
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
                for _ in range(10):  # 1.5 s of traffic, never 400 ms idle
                    sock.sendall(b"y")
                    self.assertEqual(sock.recv(1), b"y")
                    time.sleep(0.15)

    def test_max_connections_rejects_the_excess_and_serves_again(self):
        servers = self.start_echo_servers(1)
        cfg = config(f"127.0.0.1:{self.port}", [("s1", servers[0].address)], global_extra="  max_connections: 5")
        with Cplb(cfg, wait_ports=[self.port]) as cplb:
            wait_servers_up(cplb, ["s1"])
            held = []
            self.addCleanup(lambda: [sock.close() for sock in held])
            for _ in range(5):
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                held.append(sock)
                sock.sendall(b"a")
                self.assertEqual(sock.recv(1), b"a")
            self.assertEqual(excess_connection_outcome(self.port), "closed")
            held.pop().close()
            wait_until(lambda: socket_roundtrip(self.port, b"c") == b"c", timeout=5, what="a free slot")

    def test_ipv6_listener_and_server(self):
        servers = self.start_echo_servers(1, host="::1")
        port = free_port("::1")
        cfg = config(format_address("::1", port), [("s1", servers[0].address)])
        with Cplb(cfg, wait_ports=[port]) as cplb:
            wait_servers_up(cplb, ["s1"])
            with socket.create_connection(("::1", port), timeout=5) as sock:
                sock.sendall(b"six")
                sock.shutdown(socket.SHUT_WR)
                self.assertEqual(recv_all(sock), b"six")

    def test_round_robin_spreads_sessions_over_every_server(self):
        servers = self.start_echo_servers(3, greeting=True)
        cfg = config(f"127.0.0.1:{self.port}", [(s.name, s.address) for s in servers])
        with Cplb(cfg, wait_ports=[self.port]) as cplb:
            wait_servers_up(cplb, ["s1", "s2", "s3"])
            seen = [socket_roundtrip(self.port, b"").decode().strip() for _ in range(30)]
        for name in ("s1", "s2", "s3"):
            self.assertGreaterEqual(seen.count(name), 5, f"{name}: {seen}")

    def test_source_hash_sends_one_client_to_one_server(self):
        servers = self.start_echo_servers(3, greeting=True)
        cfg = config(f"127.0.0.1:{self.port}", [(s.name, s.address) for s in servers], balance="source_hash")
        with Cplb(cfg, wait_ports=[self.port]) as cplb:
            wait_servers_up(cplb, ["s1", "s2", "s3"])
            seen = {socket_roundtrip(self.port, b"") for _ in range(15)}
        self.assertEqual(len(seen), 1, seen)


class ResourceTest(unittest.TestCase):
    def test_running_out_of_descriptors_pauses_accepting_without_spinning_and_recovers(self):
        server = FakeApiserver(name="s1", echo=True)
        self.enterContext(server)
        port = free_port()
        with Cplb(config(f"127.0.0.1:{port}", [("s1", server.address)]), wait_ports=[port]) as cplb:
            wait_servers_up(cplb, ["s1"])
            # Squeeze the running process: a few descriptors beyond what it holds now.
            in_use = len(os.listdir(f"/proc/{cplb.pid}/fd"))
            limit = in_use + 8
            subprocess.run(["prlimit", f"--pid={cplb.pid}", f"--nofile={limit}:20000"], check=True)
            clients = []
            self.addCleanup(lambda: [c.close() for c in clients])
            closed_at_once = 0
            for _ in range(12):  # more sessions than descriptors: the rest wait in the backlog
                try:
                    clients.append(socket.create_connection(("127.0.0.1", port), timeout=5))
                except ConnectionResetError:
                    # Accepted when no upstream socket could be opened, and reset before the
                    # connect call returned: one of the clients the shortage closes.
                    closed_at_once += 1
            self.assertLess(closed_at_once, 12)
            cplb.wait_log(r'msg="accept paused: out of file descriptors', timeout=5)
            cpu_before = process_cpu_seconds(cplb.pid)
            time.sleep(1.0)
            self.assertLess(process_cpu_seconds(cplb.pid) - cpu_before, 0.3, "cplb spins while out of descriptors")
            subprocess.run(["prlimit", f"--pid={cplb.pid}", "--nofile=20000:20000"], check=True)
            self.assertNotIn('msg="server down"', cplb.log_text(), "a local shortage was blamed on the server")
            # Clients accepted while no upstream socket could be opened were closed; those left
            # waiting in the backlog are served now, and so is a new one.
            outcomes = [echo_outcome(c) for c in clients]
            self.assertNotIn("hung", outcomes)
            self.assertIn("served", outcomes)
            self.assertEqual(socket_roundtrip(port, b"fresh"), b"fresh")

    def test_keepalive_is_armed_on_both_legs(self):
        server = FakeApiserver(name="s1", echo=True)
        self.enterContext(server)
        port = free_port()
        cfg = config(f"127.0.0.1:{port}", [("s1", server.address)], frontend_extra="    tcp_keepalive: 7s")
        with Cplb(cfg, wait_ports=[port]) as cplb:
            wait_servers_up(cplb, ["s1"])
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"k")
                self.assertEqual(sock.recv(1), b"k")
                sockets = subprocess.run(["ss", "-tnoH", "-p", "state", "established"], capture_output=True,
                                         text=True, check=True).stdout.splitlines()
                mine = [line for line in sockets if f"pid={cplb.pid}," in line]
                self.assertEqual(len(mine), 2, sockets)  # client leg and server leg
                for line in mine:
                    self.assertIn("timer:(keepalive", line)


def echo_outcome(sock):
    """"served" when the session echoes, "closed" when cplb ended it, "hung" when neither."""
    try:
        sock.settimeout(5)
        sock.sendall(b"z")
        return "served" if sock.recv(1) == b"z" else "closed"
    except socket.timeout:
        return "hung"
    except OSError:
        return "closed"


def process_cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def socket_roundtrip(port, payload):
    return echo_roundtrip("127.0.0.1", port, payload)


def excess_connection_outcome(port):
    """"closed" when cplb closes (or resets) a connection at once, "served" when it proxies it."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"b")
            return "closed" if sock.recv(1) == b"" else "served"
    except (ConnectionResetError, BrokenPipeError):
        return "closed"


if __name__ == "__main__":
    unittest.main()
