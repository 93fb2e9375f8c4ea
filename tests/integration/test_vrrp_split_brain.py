"""A split brain that heals for every client, in both arrival orders (needs root; skipped otherwise).

The topology of test_vrrp: lb1 (priority 150, the winner) and lb2 (100), VRRP blocked on lb2 with
nftables until both hold the VIP and the client's neighbour entry points at lb2 (its gratuitous
ARP as it became master). The block is then lifted in one nft transaction that also decides which
side's advert crosses first, with no timing luck:

- winner first: lb2 sends no advert until lb1's has come in (an nft set remembers it arrived), so
  lb2 yields before lb1 has heard anything from it: only lb2's last advert tells lb1;
- loser first: lb2 accepts no advert until its own has gone out, so lb1 hears lb2 first.

Either way the client must reach the VIP through lb1 within a second of the heal, every time.
"""

import os
import subprocess
import time
import unittest

import netns
from harness import http_get
from test_vrrp import KEEPALIVED, SETTLE, VIP, Keepalived, VrrpTopology, keepalived_config

HEALS_PER_ORDER = 10

BLOCK = """
table inet cplbt {
  chain input { type filter hook input priority 0; meta l4proto vrrp drop; }
  chain output { type filter hook output priority 0; meta l4proto vrrp drop; }
}"""

# The heal: the first advert through is lb1's (arrives on input) or lb2's own (leaves on output).
# A set of the advert's destination (224.0.0.18) fills when that advert passes; until then the
# other direction still drops.
HEAL = {
    "winner_first": """
delete table inet cplbt
table inet cplbt {
  set crossed { type ipv4_addr; flags dynamic; }
  chain input { type filter hook input priority 0; ip protocol vrrp add @crossed { ip daddr }; }
  chain output { type filter hook output priority 0; ip protocol vrrp ip daddr != @crossed drop; }
}""",
    "loser_first": """
delete table inet cplbt
table inet cplbt {
  set crossed { type ipv4_addr; flags dynamic; }
  chain output { type filter hook output priority 0; ip protocol vrrp add @crossed { ip daddr }; }
  chain input { type filter hook input priority 0; ip protocol vrrp ip daddr != @crossed drop; }
}""",
}


class SplitBrainHealTest(VrrpTopology):

    def split(self):
        """Blocks VRRP on lb2 until both hold the VIP and the client's entry points at lb2."""
        netns.nft(self.lb["lb2"], BLOCK)
        self.wait_holders(["lb1", "lb2"], SETTLE, "both hold the VIP while VRRP is blocked")
        self.until(lambda: netns.neighbour(self.client, VIP) == self.mac["lb2"], SETTLE,
                   "the client's neighbour entry follows lb2's gratuitous ARP")

    def heal(self, order):
        """Lifts the block in `order`; returns how long until the client reached the VIP through lb1."""
        netns.nft(self.lb["lb2"], HEAL[order])
        healed = time.monotonic()

        def through_lb1():  # lb2 may serve for a moment longer: only lb1's MAC counts
            if netns.neighbour(self.client, VIP) != self.mac["lb1"] or self.roundtrip(0.3)[0] != "ok":
                return None
            return time.monotonic()

        reached = self.until(through_lb1, SETTLE, f"client reaches the VIP through lb1 after the heal ({order})")
        self.wait_holders(["lb1"], SETTLE, "one master after the heal")
        subprocess.run([*netns.exec_prefix(self.lb["lb2"]), "nft", "delete", "table", "inet", "cplbt"],
                       check=True)
        return reached - healed

    def test_every_heal_moves_the_client_to_the_winner_within_a_second(self):
        lb1, lb2 = self.start_pair()
        self.wait_client(SETTLE, "client reaches the VIP through lb1")  # gratuitous ARP updates entries only
        took = {order: [] for order in HEAL}
        for _ in range(HEALS_PER_ORDER):
            for order in HEAL:
                with self.subTest(order=order):
                    self.split()
                    took[order].append(self.heal(order))
        slow = {order: [f"{t:.3f}" for t in times if t >= 1.0] for order, times in took.items()}
        self.assertEqual(slow, {order: [] for order in HEAL}, f"heals slower than 1 s: {took}\n{self.logs()}")
        # The winner saw, logged and counted every one; the loser's last advert told it in the
        # winner-first order, where it heard no other advert from lb2.
        heals = len(HEAL) * HEALS_PER_ORDER
        self.assertEqual(lb1.log_text().count("vrrp split brain"), heals, self.logs())
        self.assertEqual(lb2.log_text().count("vrrp split brain"), 0, self.logs())
        metrics = self.admin_get("lb1", "/metrics")
        self.assertRegex(metrics, rf'cplb_vrrp_split_brains_total\{{instance="VI_1"\}} {heals}\b')
        self.assertRegex(self.admin_get("lb2", "/metrics"), r'cplb_vrrp_split_brains_total\{instance="VI_1"\} 0\b')

    def admin_get(self, role, path):
        """GET http://127.0.0.1:9100{path} inside the namespace of `role`."""
        _, body = netns.run_in(self.lb[role], http_get, "127.0.0.1", 9100, path)
        return body

    @unittest.skipUnless(os.access(KEEPALIVED, os.X_OK), f"{KEEPALIVED} is not installed")
    def test_a_keepalived_winner_hears_cplbs_last_advert_and_reasserts(self):
        """keepalived on lb1 (150) wins, cplb on lb2 (100) loses, in the winner-first order: keepalived
        yields no advert of its own to hear, so only cplb's last advert makes it send gratuitous ARP."""
        keepalived = Keepalived(self.lan, "lb1", keepalived_config("lb1", 150, version=3, interval="0.1",
                                                                     unicast=False))
        self.processes.append(("keepalived lb1", keepalived))
        self.addCleanup(keepalived.close)
        self.wait_holders(["lb1"], SETTLE)
        self.start_cplb("lb2", 100)
        self.roundtrip(0.3)  # nothing serves on lb1: refused, but the client's ARP entry is made
        self.until(lambda: netns.neighbour(self.client, VIP) == self.mac["lb1"], SETTLE, "the client's entry on lb1")
        took = []
        for _ in range(3):
            self.split()
            netns.nft(self.lb["lb2"], HEAL["winner_first"])
            healed = time.monotonic()
            self.until(lambda: netns.neighbour(self.client, VIP) == self.mac["lb1"], SETTLE,
                       "the client's entry back on keepalived's lb1")
            took.append(time.monotonic() - healed)
            self.wait_holders(["lb1"], SETTLE)
            subprocess.run([*netns.exec_prefix(self.lb["lb2"]), "nft", "delete", "table", "inet", "cplbt"],
                           check=True)
        self.assertEqual([t for t in took if t >= 1.0], [], f"heals: {took}\n{self.logs()}")


if __name__ == "__main__":
    unittest.main()
