"""Rolling restarts of the apiservers behind the real cplb binary: watches (long-lived sessions that
only receive) follow the restarts and are spread again by `rebalance`; not_ready against down;
least_conn under a burst of connects across workers; round_robin across workers.

The fake apiservers serve `GET /watch` like a kube-apiserver and shut down like one on SIGTERM:
/readyz answers 500 for --shutdown-delay, then the watches end with their last chunk."""

import collections
import json
import selectors
import socket
import time
import unittest

from harness import (Cplb, FakeApiserver, RequestClient, WatchClient, admin_status, free_port, http_get,
                     metric_samples, server_status, stable_port, wait_until)

BACKEND = "be"
REOPEN_LIMIT = 1.0  # seconds from a stream's end to the next stream's first event


def config(port, admin, servers, *, balance="least_conn", backend_extra="", check="http"):
    """A cplb config: one frontend on `port`, backend `be` with `servers` [(name, address)]."""
    lines = "\n".join(f"      - {{name: {name}, address: '{address}'}}" for name, address in servers)
    if check == "http":
        health = ("{protocol: http, path: /readyz, interval: 500ms, timeout: 300ms, fast_interval: 100ms,\n"
                  "                   rise: 1, fall: 2}")
    else:
        health = "{protocol: tcp, interval: 200ms, timeout: 150ms, rise: 1, fall: 1}"
    return f"""
global: {{workers: 2, shutdown_grace: 1s}}
admin: {{listen: 127.0.0.1:{admin}}}
frontends:
  - {{name: fe, listen: 127.0.0.1:{port}, backend: {BACKEND}, connect_timeout: 1s,
     first_data_timeout: 0s}}  # connect at once: the echo servers greet first
backends:
  - name: {BACKEND}
    balance: {balance}
{backend_extra}
    servers:
{lines}
    health_check: {health}
"""


def states(admin):
    """{server: state} from /status."""
    backend = next(b for b in admin_status(admin)["backends"] if b["name"] == BACKEND)
    return {s["name"]: s["state"] for s in backend["servers"]}


def sessions(admin):
    """{server: active_sessions} from /status."""
    backend = next(b for b in admin_status(admin)["backends"] if b["name"] == BACKEND)
    return {s["name"]: s["active_sessions"] for s in backend["servers"]}


def wait_state(admin, server, state, timeout=5.0):
    """Waits (bounded) until /status shows `server` in `state`; returns its /status entry."""
    wait_until(lambda: states(admin)[server] == state, timeout, what=f"{server} {state} in /status")
    return server_status(admin_status(admin), BACKEND, server)


def scrape(admin):
    status, body = http_get("127.0.0.1", admin, "/metrics")
    if status != 200:
        raise AssertionError(f"/metrics answered {status}")
    return body


def metric_total(admin, name, **labels):
    """The sum of the samples of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for k, v in metric_samples(scrape(admin), name).items() if wanted <= k)


def by_server(clients):
    """{server: number of clients whose stream is open on it now}."""
    counts = {}
    for client in clients:
        server = client.current_server
        if server:
            counts[server] = counts.get(server, 0) + 1
    return counts


class Watchers:
    """`count` WatchClients to cplb, started together and stopped (bounded) by the test's cleanup."""

    def __init__(self, test, port, count):
        self.clients = [WatchClient("127.0.0.1", port) for _ in range(count)]
        test.addCleanup(self.stop)
        for client in self.clients:
            client.start()

    def stop(self):
        for client in self.clients:
            client.request_stop()  # all at once, then join each (bounded)
        for client in self.clients:
            client.stop()

    def wait_all_established(self, timeout=10.0):
        wait_until(lambda: all(c.current_server for c in self.clients), timeout, what="every watch established")

    def streams(self):
        return [s for c in self.clients for s in c.streams]

    def errors(self):
        return [e for c in self.clients for e in c.errors]

    def slow_reopens(self):
        """(server, end, gap) of every ended stream not re-established within REOPEN_LIMIT."""
        return [(s.server, s.end, gap) for c in self.clients for s, gap in c.reopen_gaps()
                if gap is None or gap > REOPEN_LIMIT]


class RollingRestartTest(unittest.TestCase):
    WATCHES = 60
    THRESHOLD = 1.25

    def test_rolling_restart_keeps_watches_served_and_spreads_them_again(self):
        servers = [FakeApiserver(name=f"m{i}", port=stable_port(), shutdown_delay="1s", watch_interval="200ms")
                   for i in (1, 2, 3)]
        for server in servers:
            self.enterContext(server)
        port, admin = free_port(), free_port()
        extra = ("    on_server_down: drain\n"
                 "    drain: {grace: 0s, spread: 1s, not_ready_grace: 3s}\n"
                 "    rebalance: {threshold: 1.25, spread: 2s, quiet: 1s}")
        cfg = config(port, admin, [(s.name, s.address) for s in servers], backend_extra=extra)
        # info: per-session events (debug) would name every rebalanced session; the test counts the
        # rebalance's own log lines.
        cplb = self.enterContext(Cplb(cfg, wait_ports=[port, admin], log_level="info"))
        wait_until(lambda: set(states(admin).values()) == {"up"}, 5, what="every server up")

        requests = RequestClient("127.0.0.1", port, interval=0.05)
        requests.start()
        self.addCleanup(requests.stop)
        watchers = Watchers(self, port, self.WATCHES)
        watchers.wait_all_established()

        for server in servers:
            with self.subTest(restart=server.name):
                self._restart(admin, server, watchers)

        share = self.WATCHES / len(servers)
        limit = self.THRESHOLD * share

        def spread_settled():
            clients_view = by_server(watchers.clients)
            status_view = sessions(admin)
            total = sum(status_view.values())  # the watches and the request client's session
            return (sum(clients_view.values()) == self.WATCHES
                    and max(clients_view.values()) <= limit
                    and len(clients_view) == len(servers)
                    and max(status_view.values()) <= self.THRESHOLD * total / len(servers))
        try:
            wait_until(spread_settled, 20, interval=0.2, what="watches spread again")
        except TimeoutError:
            self.fail(f"not spread after 20 s: clients {by_server(watchers.clients)}, /status {sessions(admin)}")

        requests.stop()
        watchers.stop()
        self.assertEqual(watchers.slow_reopens(), [], f"streams not re-opened within {REOPEN_LIMIT}s")
        self.assertEqual(watchers.errors(), [])
        self.assertEqual(requests.failures, [], "requests cut in flight")
        self.assertEqual(requests.connect_errors, [])
        self.assertGreater(requests.requests, 50)
        self.assertGreaterEqual(requests.server_closes, 1, "the request client's server never restarted")

        closed = metric_total(admin, "cplb_rebalance_closed_sessions_total", backend=BACKEND)
        self.assertGreater(closed, 0)
        self.assertGreater(metric_total(admin, "cplb_session_ends_total", reason="rebalanced"), 0)
        # Once per episode, not once per session: an episode follows each restart, and may log a
        # start and an end for each over-full server.
        lines = [line for line in cplb.log_text().splitlines() if "rebalanc" in line]
        self.assertGreater(len(lines), 0, "no rebalance logged")
        self.assertLessEqual(len(lines), 2 * len(servers) * len(servers), "\n".join(lines))
        self.assertLess(len(lines), closed, "\n".join(lines))

    def _restart(self, admin, server, watchers):
        """SIGTERM `server` (readyz 500 for 1 s, then its watches end), start it again on the same port,
        wait until cplb has it up; then checks that cplb closed none of its watches while it was
        not_ready (the server ended them itself) and sent it no new session."""
        signalled = time.monotonic()
        server.terminate()
        try:
            entry = wait_state(admin, server.name, "not_ready", timeout=3)
            not_ready_at = time.monotonic()
            rebalanced_before = metric_total(admin, "cplb_rebalance_closed_sessions_total", server=server.name)
        finally:
            code = server.wait(5)
            exited_at = time.monotonic()
            server.restart()  # whatever failed, the next restart starts from three servers
        wait_state(admin, server.name, "up", timeout=5)
        came_up = time.monotonic()
        rebalanced_after = metric_total(admin, "cplb_rebalance_closed_sessions_total", server=server.name)
        self.assertEqual(entry["reason"], "http_status")
        self.assertEqual(code, 0, f"{server.name} did not shut down cleanly")
        self.assertLess(came_up - signalled, 8)
        ended = [s for s in watchers.streams() if s.server == server.name and s.ended_at is not None
                 and s.ended_at > not_ready_at]
        self.assertTrue(ended, f"{server.name} had no watch when it shut down")
        closed_by_cplb = [(s.end, round(s.ended_at - not_ready_at, 3)) for s in ended if s.end != "terminator"]
        self.assertEqual(closed_by_cplb, [], f"{server.name}'s watches closed by cplb while not_ready "
                         "(end, seconds after /status showed not_ready); cplb_rebalance_closed_sessions_total"
                         f" went from {rebalanced_before} to {rebalanced_after} meanwhile")
        self.assertEqual(rebalanced_after, rebalanced_before,
                         f"cplb rebalanced sessions of {server.name} while it was not_ready, down or unchecked")
        late = [s for s in watchers.streams() if s.server == server.name and s.established_at
                and not_ready_at < s.opened_at and s.established_at < exited_at]
        self.assertEqual(late, [], f"{server.name} got sessions while not_ready")


class ServerStateTest(unittest.TestCase):
    def test_not_ready_keeps_its_watches_for_the_grace_and_a_killed_server_is_down(self):
        servers = [FakeApiserver(name=f"n{i}", watch_interval="200ms") for i in (1, 2, 3)]
        for server in servers:
            self.enterContext(server)
        port, admin = free_port(), free_port()
        extra = ("    on_server_down: drain\n"
                 "    drain: {grace: 0s, spread: 500ms, not_ready_grace: 3s}\n"
                 "    rebalance: {threshold: 1.25, spread: 1s, quiet: 500ms}")
        cfg = config(port, admin, [(s.name, s.address) for s in servers], backend_extra=extra)
        self.enterContext(Cplb(cfg, wait_ports=[port, admin]))
        wait_until(lambda: set(states(admin).values()) == {"up"}, 5, what="every server up")
        first = Watchers(self, port, 15)
        first.wait_all_established()
        self.assertEqual(by_server(first.clients), {"n1": 5, "n2": 5, "n3": 5})
        held = [c for c in first.clients if c.current_server == "n1"]
        held_streams = [c.current.opened_at for c in held]

        servers[0].set_readiness("500")
        marked = time.monotonic()
        entry = wait_state(admin, "n1", "not_ready", timeout=3)
        self.assertEqual((entry["reason"], entry["reason_detail"]), ("http_status", "500"))
        samples = metric_samples(scrape(admin), "cplb_server_state")
        self.assertEqual(samples[frozenset({("backend", BACKEND), ("server", "n1"), ("state", "not_ready")})], 1)
        self.assertEqual(samples[frozenset({("backend", BACKEND), ("server", "n1"), ("state", "up")})], 0)

        second = Watchers(self, port, 12)
        second.wait_all_established()
        self.assertNotIn("n1", by_server(second.clients), "a not_ready server got new sessions")

        # Kept for not_ready_grace (3 s from when cplb saw the 500, so at least until marked + 3 s).
        time.sleep(max(0.0, marked + 2.5 - time.monotonic()))
        self.assertEqual([c.current.opened_at if c.current else None for c in held], held_streams,
                         "watches of a not_ready server closed early")
        self.assertEqual(servers[0].stats()["watches"], 5)
        # ... then drained over the spread; their clients re-open elsewhere.
        wait_until(lambda: servers[0].stats()["watches"] == 0, 5, what="n1's watches drained after the grace")
        for opened_at in held_streams:
            ended = next(s for c in held for s in c.streams if s.opened_at == opened_at)
            self.assertEqual(ended.server, "n1")
            self.assertGreaterEqual(ended.ended_at - marked, 2.9, "closed before not_ready_grace")
        wait_until(lambda: all(c.current_server for c in held), 3, what="drained watches re-opened")
        self.assertNotIn("n1", by_server(first.clients + second.clients))
        self.assertEqual(first.slow_reopens() + second.slow_reopens(), [])

        servers[0].set_readiness("ok")
        wait_state(admin, "n1", "up", timeout=3)
        # n1's return sets off a rebalance (spread 1 s): let it finish before killing n2, so that the
        # kill meets settled watches. Finished: no server above the threshold's share, and no watch
        # re-opened for 1.5 s (the quiet alone can hold before the rebalance has begun).
        clients = first.clients + second.clients

        def rebalanced():
            current = [c.current for c in clients]  # copies: one read per client
            if not all(current):
                return False
            most = max(collections.Counter(s.server for s in current).values())
            return (most <= 1.25 * len(clients) / len(servers) and
                    time.monotonic() - max(s.opened_at for s in current) > 1.5)
        wait_until(rebalanced, 10, what="the rebalance finished")

        server_errors = metric_total(admin, "cplb_session_ends_total", reason="server_error")
        killed_at = time.monotonic()
        servers[1].kill()
        entry = wait_state(admin, "n2", "down", timeout=5)
        self.assertIsNotNone(entry["reason"])
        self.assertNotEqual(entry["reason"], "http_status")
        samples = metric_samples(scrape(admin), "cplb_server_state")
        self.assertEqual(samples[frozenset({("backend", BACKEND), ("server", "n2"), ("state", "down")})], 1)
        wait_until(lambda: all(c.current_server for c in first.clients + second.clients), 3,
                   what="the killed server's watches re-opened")
        self.assertNotIn("n2", by_server(first.clients + second.clients))
        # A watch re-opened the moment n2 died can reach it before its listener is gone (the kernel
        # takes the connect while the process is torn down); n2 then resets it before its first
        # event, which n2's death explains, not cplb. Every other failure is cplb's: none before the
        # kill, and after it only such resets, no more of them than sessions n2 reset.
        errors = first.errors() + second.errors()
        self.assertEqual([e for e in errors if e[0] < killed_at], [])
        after = [e for e in errors if e[0] >= killed_at]
        self.assertEqual([e for e in after if e[1] != "reset before the first event"], [])
        reset_by_n2 = metric_total(admin, "cplb_session_ends_total", reason="server_error") - server_errors
        self.assertLessEqual(len(after), reset_by_n2, f"resets before the first event: {after}")


def burst(port, count, timeout=10.0):
    """Opens `count` connections to port as fast as possible (non-blocking connects), reads each one's
    greeting line; returns (sockets, {greeting: number}). The caller closes the sockets."""
    sockets = []
    selector = selectors.DefaultSelector()
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sockets.append(sock)
            sock.connect_ex(("127.0.0.1", port))
        for sock in sockets:
            selector.register(sock, selectors.EVENT_READ, bytearray())
        names = {}
        deadline = time.monotonic() + timeout
        while len(selector.get_map()) and time.monotonic() < deadline:
            for key, _ in selector.select(0.1):
                data = key.fileobj.recv(256)
                key.data.extend(data)
                if b"\n" in key.data or not data:
                    selector.unregister(key.fileobj)
                    name = bytes(key.data).split(b"\n")[0].decode() if data else "<closed>"
                    names[name] = names.get(name, 0) + 1
        if len(selector.get_map()):
            raise TimeoutError(f"{len(selector.get_map())} of {count} connections got no greeting in {timeout}s")
        return sockets, names
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    finally:
        selector.close()


class BalanceTest(unittest.TestCase):
    def test_least_conn_spreads_a_burst_evenly_across_workers(self):
        servers = [FakeApiserver(name=f"e{i}", echo=True, echo_greeting=True) for i in (1, 2, 3)]
        for server in servers:
            self.enterContext(server)
        port, admin = free_port(), free_port()
        cfg = config(port, admin, [(s.name, s.address) for s in servers], check="tcp")
        self.enterContext(Cplb(cfg, wait_ports=[port, admin]))
        wait_until(lambda: set(states(admin).values()) == {"up"}, 5, what="every server up")
        for count in (30, 300):
            with self.subTest(connections=count):
                sockets, names = burst(port, count)
                try:
                    even = count // len(servers)
                    self.assertEqual(sum(names.values()), count, names)
                    for server in servers:
                        self.assertLessEqual(abs(names.get(server.name, 0) - even), 1, names)
                    wait_until(lambda: sessions(admin) == names, 5, what=f"/status agrees with {names}")
                finally:
                    for sock in sockets:
                        sock.close()
                wait_until(lambda: set(sessions(admin).values()) == {0}, 5, what="sessions closed")

    def test_round_robin_rotates_per_backend_not_per_worker(self):
        servers = [FakeApiserver(name=f"r{i}") for i in (1, 2, 3)]
        for server in servers:
            self.enterContext(server)
        names = {s.name for s in servers}
        for run in range(3):  # a fresh cplb each time: the first three answers are never luck
            with self.subTest(run=run):
                port, admin = free_port(), free_port()
                cfg = config(port, admin, [(s.name, s.address) for s in servers], balance="round_robin")
                with Cplb(cfg, wait_ports=[port, admin]):
                    wait_until(lambda: set(states(admin).values()) == {"up"}, 5, what="every server up")
                    seen = [version_name(port) for _ in range(12)]
                self.assertEqual(set(seen[:3]), names, seen)
                for i in range(len(seen) - 2):
                    self.assertEqual(set(seen[i:i + 3]), names, f"requests {i}..{i + 2}: {seen}")


def version_name(port):
    """The server that answered GET /version through cplb (a new connection each time)."""
    status, body = http_get("127.0.0.1", port, "/version")
    if status != 200:
        raise AssertionError(f"/version answered {status}")
    return json.loads(body)["name"]


if __name__ == "__main__":
    unittest.main()
