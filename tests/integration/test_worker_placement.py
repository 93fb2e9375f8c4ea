"""New connections go to the worker with the fewest sessions (reuseport BPF), not by address hash.

The test learns which worker took each session from cplb_worker_active_connections, empties one
worker, and checks that the next connections all land on it: by hash, six in a row would do so
one time in 64. Needs root (CAP_BPF) like cplb's placement itself; without it the test is skipped.
"""

import os
import socket
import unittest

from harness import Cplb, FakeApiserver, free_port, wait_until, with_data_path
from test_metrics import config, samples, scrape


def worker_sessions(admin):
    text = scrape(admin)
    return {dict(labels)["worker"]: int(v) for labels, v in samples(text, "cplb_worker_active_connections").items()}


@unittest.skipUnless(os.geteuid() == 0, "placement by load needs CAP_BPF (root)")
class WorkerPlacementTest(unittest.TestCase):
    def setUp(self):
        self.port, self.admin = free_port(), free_port()
        server = self.enterContext(FakeApiserver(name="s1", echo=True))
        self.cplb = self.enterContext(Cplb(config(self.port, self.admin, [("s1", server.address)]),
                                           wait_ports=[self.port, self.admin]))
        self.cplb.wait_log(r'msg="server up".*server=s1\b')
        self.held = {}  # socket -> the worker that serves it
        self.addCleanup(lambda: [s.close() for s in self.held])

    def open_session(self):
        """Opens one session and returns the worker that took it, once its count shows it."""
        before = worker_sessions(self.admin)
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        sock.sendall(b"x")  # echoed: the session is established end to end
        self.assertEqual(sock.recv(1), b"x")
        after = wait_until(lambda: (w := worker_sessions(self.admin)) and sum(w.values()) == sum(before.values()) + 1
                           and w, what="the session counted")
        [worker] = [w for w in after if after[w] == before.get(w, 0) + 1]
        self.held[sock] = worker
        return worker

    def close_sessions_of(self, worker):
        for sock in [s for s, w in self.held.items() if w == worker]:
            sock.close()
            del self.held[sock]
        wait_until(lambda: worker_sessions(self.admin)[worker] == 0, what=f"worker {worker} emptied")

    def test_the_log_says_connections_are_placed_by_load(self):
        self.cplb.wait_log(r'msg="new connections go to the worker with the fewest sessions \(reuseport BPF\)"')

    def test_sessions_split_evenly_when_opened_one_after_another(self):
        for _ in range(12):
            self.open_session()
        self.assertEqual(worker_sessions(self.admin), {"0": 6, "1": 6})

    def test_ties_take_turns_after_an_idle_session(self):
        # iperf3 -P 4: a control connection, then four streams. Each opened once the one before is
        # counted, so every placement sees settled counts and the ties (the second and fourth
        # stream) fall to the rule alone: by hash, the fourth stream joins the other two on the
        # same worker half the time, so four rounds pass by chance one time in sixteen.
        for round_ in range(4):
            idle = self.open_session()
            streams = [self.open_session() for _ in range(4)]
            other = "1" if idle == "0" else "0"
            self.assertEqual(streams, [other, idle, other, idle], f"round {round_}")
            self.close_sessions_of("0")
            self.close_sessions_of("1")

    def empty_one_worker_and_refill_it(self):
        for _ in range(12):
            self.open_session()
        self.close_sessions_of("0")
        self.assertEqual([self.open_session() for _ in range(6)], ["0"] * 6)
        self.assertEqual(worker_sessions(self.admin), {"0": 6, "1": 6})

    def test_an_emptied_worker_takes_every_new_connection_until_it_catches_up(self):
        self.empty_one_worker_and_refill_it()

    def test_after_a_binary_upgrade_the_new_process_places_by_its_own_counts(self):
        # The old process's program, left on the inherited sockets, would read counts nobody updates.
        self.cplb.upgrade(self.admin)
        self.empty_one_worker_and_refill_it()


@unittest.skipUnless(os.geteuid() == 0, "dropping CAP_BPF needs root to begin with")
class WithoutBpfTest(unittest.TestCase):
    def test_without_cap_bpf_connections_spread_by_hash_and_are_served(self):
        port, admin = free_port(), free_port()
        server = self.enterContext(FakeApiserver(name="s1", echo=True))
        # Root without CAP_BPF and CAP_SYS_ADMIN, as in a container that does not grant them; the
        # data path is `auto` whatever the suite runs on, as sockmap is not to be had either.
        cfg = with_data_path(config(port, admin, [("s1", server.address)]), "auto")
        cplb = self.enterContext(Cplb(cfg, wait_ports=[port, admin],
                                      command_prefix=["setpriv", "--bounding-set=-bpf,-sys_admin"]))
        cplb.wait_log(r'msg="new connections spread over workers by address hash" reason=".*needs CAP_BPF')
        cplb.wait_log(r'msg="server up".*server=s1\b')
        for _ in range(4):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"x")
                self.assertEqual(sock.recv(1), b"x")


if __name__ == "__main__":
    unittest.main()
