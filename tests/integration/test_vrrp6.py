"""VRRPv3 over IPv6 through the real binary, in network namespaces (needs root; skipped otherwise).

The topology of test_vrrp, with 2001:db8::11 and ::12 on lb1 and lb2, 2001:db8::50 on the client,
and the VIP 2001:db8::100 (the apiservers stay IPv4: cplb proxies between the families). Adverts
go to ff02::12 from each node's link-local address; the client follows the master through its
neighbour cache (`ip -6 neigh`), which the new master's unsolicited neighbour advertisements
update.
"""

import os
import signal
import socket
import struct
import subprocess
import time
import unittest

import netns
from harness import Cplb, http_get
from test_vrrp import (FAST, KEEPALIVED, LB_ADDRESS, SETTLE, VIP, Keepalived, VrrpTopology, cplb_config,
                       echo_roundtrip, internet_checksum, master_down, skew_time)

VIP6 = "2001:db8::100"
LB6 = {"lb1": "2001:db8::11", "lb2": "2001:db8::12"}
CLIENT6 = "2001:db8::50"


def cplb6_config(priority, **options):
    """test_vrrp's config with the VIP and the frontend moved to IPv6."""
    return (cplb_config(priority, **options)
            .replace(f"listen: '{VIP}:6443'", f"listen: '[{VIP6}]:6443'")
            .replace(f"virtual_ips: [{VIP}/24]", f"virtual_ips: ['{VIP6}/64']"))


def dual_config(priority, **options):
    """test_vrrp's config with both VIPs in one instance and a frontend on each."""
    return (cplb_config(priority, **options)
            .replace(f"virtual_ips: [{VIP}/24]", f"virtual_ips: [{VIP}/24, '{VIP6}/64']")
            .replace("backends:\n", f"  - {{name: kube-apiserver-v6, listen: '[{VIP6}]:6443', backend: control-plane,\n"
                                     "     connect_timeout: 1s, first_data_timeout: 0s}\n"
                                     "backends:\n", 1))


def keepalived6_config(role, priority, dual=False, interval=FAST):
    """keepalived's VRRPv3 IPv6 instance for the VIP; with `dual`, an IPv4 instance of the same VRID
    too, the two kept together by a vrrp_sync_group (keepalived runs one instance per family)."""
    def instance(name, vip):
        return f"""
vrrp_instance {name} {{
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority {priority}
  advert_int {interval:g}
  version 3
  virtual_ipaddress {{
    {vip} dev eth0
  }}
}}
"""
    conf = f"global_defs {{\n  router_id cplbt_{role}\n}}\n" + instance("VI_6", f"{VIP6}/64")
    if dual:
        conf += instance("VI_4", f"{VIP}/24") + "vrrp_sync_group VG_1 {\n  group {\n    VI_4\n    VI_6\n  }\n}\n"
    return conf


def echo_roundtrip6(timeout):
    """One client session through the IPv6 VIP; ("ok", greeting) or (what failed, error)."""
    return echo_roundtrip(timeout, VIP6)


def forged_advert6(priority, source, destination="ff02::12"):
    """A VRRPv3 advert for VRID 51 and the IPv6 VIP from `source` to `destination` (RFC 5798 5.1, 5.2.8)."""
    message = struct.pack("!BBBBHH", 0x31, 51, priority, 1, 10, 0) + socket.inet_pton(socket.AF_INET6, VIP6)
    pseudo = (socket.inet_pton(socket.AF_INET6, source) + socket.inet_pton(socket.AF_INET6, destination)
              + struct.pack("!IxxxB", len(message), 112))
    return message[:6] + struct.pack("!H", internet_checksum(pseudo + message)) + message[8:]


def send_multicast6(packet, hop_limit, source, destination="ff02::12"):
    """Sends a VRRP message from `source` to `destination` (ff02::12, or a link-local unicast address)
    out of the calling namespace's eth0 with `hop_limit`."""
    index = socket.if_nametoindex(netns.IFNAME)
    with socket.socket(socket.AF_INET6, socket.SOCK_RAW, 112) as sock:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, hop_limit)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, hop_limit)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
        sock.bind((source, 0, 0, index))
        sock.sendto(packet, (destination, 0, 0, index))


class Vrrp6Topology(VrrpTopology):
    """VrrpTopology with IPv6 addresses on the load balancers and the client."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for role, address in LB6.items():
            netns.ip("-n", cls.lb[role], "addr", "add", f"{address}/64", "dev", "eth0", "nodad")
        netns.ip("-n", cls.client, "addr", "add", f"{CLIENT6}/64", "dev", "eth0", "nodad")
        cls.link_local = {role: netns.link_local_address(ns) for role, ns in cls.lb.items()}
        cls.client_link_local = netns.link_local_address(cls.client)

    def reset_lan(self):
        super().reset_lan()
        for ns in self.lb.values():
            netns.ip("-n", ns, "addr", "del", f"{VIP6}/64", "dev", "eth0", check=False)
        netns.ip("-n", self.client, "-6", "neigh", "flush", "dev", "eth0", check=False)

    def start_cplb6(self, role, priority, config=cplb6_config, **options):
        cplb = Cplb(config(priority, **options), wait_ports=[6443, 9100],
                    command_prefix=netns.exec_prefix(self.lb[role]))
        cplb.start()
        self.lan.adopt(cplb.pid)
        self.processes.append((f"cplb {role}", cplb))
        self.addCleanup(lambda: (cplb.kill(), cplb.__exit__(None, None, None)))
        return cplb

    def start_pair6(self, first_priority=150, second_priority=100, **options):
        """lb1 becomes master (started first), then lb2 joins as backup."""
        first = self.start_cplb6("lb1", first_priority, **options)
        self.wait_holders6(["lb1"], SETTLE)
        if options.get("config") is dual_config:
            self.wait_holders(["lb1"], SETTLE)
        second = self.start_cplb6("lb2", second_priority, **options)
        second.wait_log(r"instance=VI_1 from=init to=backup")
        return first, second

    def holders6(self):
        return sorted(role for role, ns in self.lb.items() if VIP6 in netns.ipv6_addresses(ns))

    def wait_holders6(self, expected, timeout, what=None):
        self.until(lambda: self.holders6() == expected, timeout, what or f"IPv6 VIP held by {expected}")

    def roundtrip6(self, timeout=1.0):
        return netns.run_in(self.client, echo_roundtrip6, timeout)

    def wait_client6(self, timeout, what="client reaches the IPv6 VIP"):
        def works():
            return time.monotonic() if self.roundtrip6(0.3)[0] == "ok" else None
        return self.until(works, timeout, what)

    def metrics(self, role):
        _, body = netns.run_in(self.lb[role], http_get, "127.0.0.1", 9100, "/metrics")
        return body


class Vrrp6Test(Vrrp6Topology):

    def test_elect_the_higher_priority_and_serve_on_the_ipv6_vip(self):
        lb2 = self.start_cplb6("lb2", 100)
        lb1 = self.start_cplb6("lb1", 150)
        self.wait_holders6(["lb1"], SETTLE)
        self.assert_holders6_stay(["lb1"], 5 * FAST)
        status, detail = self.roundtrip6()
        self.assertEqual(status, "ok", detail)
        self.assertRegex(lb1.log_text(), rf"vrrp instance starting\" instance=VI_1 interface=eth0 "
                                         rf"primary_ip={self.link_local['lb1']}")
        self.assertRegex(lb2.log_text(), r"instance=VI_1 from=init to=backup cause=startup")
        self.assertNotRegex(lb1.log_text() + lb2.log_text(), r"level=(warn|error) msg=\"?vrrp")
        # Added without duplicate address detection: usable at once, never tentative.
        vip = netns.ip("-n", self.lb["lb1"], "-6", "addr", "show", "dev", "eth0", "to", VIP6)
        self.assertIn("nodad", vip)
        self.assertNotIn("tentative", vip)
        self.assertIn('cplb_vrrp_state{instance="VI_1",state="master"} 1', self.metrics("lb1"))
        self.assertIn('cplb_vrrp_state{instance="VI_1",state="backup"} 1', self.metrics("lb2"))

    def assert_holders6_stay(self, expected, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.assertEqual(self.holders6(), expected, self.logs())
            time.sleep(0.05)

    def test_sigkill_failover_moves_the_clients_neighbour_entry(self):
        lb1, _ = self.start_pair6()
        self.assertEqual(self.roundtrip6()[0], "ok")
        self.assertEqual(netns.neighbour(self.client, VIP6), self.mac["lb1"])
        with netns.AddressWatch(self.lb["lb2"], "-6") as watch:
            killed = time.monotonic()
            lb1.kill()
            self.until(lambda: watch.first(VIP6, after=killed), 2.0, "lb2 adds the IPv6 VIP")
            took = watch.first(VIP6, after=killed) - killed
        limit = master_down(100)
        self.assertLess(took, limit + 0.15, f"takeover took {took:.3f}s; master-down interval {limit:.3f}s")
        # No client traffic from here: only lb2's unsolicited neighbour advertisements can change it.
        self.until(lambda: netns.neighbour(self.client, VIP6) == self.mac["lb2"], 2.0,
                   "the client's neighbour entry for the IPv6 VIP points at lb2")
        self.wait_client6(SETTLE, "client reaches the IPv6 VIP through lb2")
        # The SIGKILLed master left its copy: a restarted cplb removes it, then preempts.
        self.assertIn(VIP6, netns.ipv6_addresses(self.lb["lb1"]))
        again = self.start_cplb6("lb1", 150)
        again.wait_log(r"removed a stale virtual IP")
        self.wait_holders6(["lb1"], SETTLE, "the restarted lb1 takes the IPv6 VIP back (preempt)")
        self.until(lambda: netns.neighbour(self.client, VIP6) == self.mac["lb1"], 2.0,
                   "the client's neighbour entry follows lb1 back")

    def test_sigterm_hands_over_after_the_skew_time(self):
        lb1, _ = self.start_pair6()
        self.assertEqual(self.roundtrip6()[0], "ok")
        with netns.AddressWatch(self.lb["lb2"], "-6") as watch:
            stopped = time.monotonic()
            os.kill(lb1.pid, signal.SIGTERM)
            self.until(lambda: watch.first(VIP6, after=stopped), 2.0, "lb2 adds the IPv6 VIP")
            took = watch.first(VIP6, after=stopped) - stopped
        self.assertLess(took, skew_time(100) + 0.1, f"graceful takeover took {took:.3f}s")
        self.assertEqual(lb1.process.wait(5), 0)
        self.assertEqual(self.holders6(), ["lb2"])
        self.assertIn("cause=handover_done", lb1.log_text())
        self.until(lambda: netns.neighbour(self.client, VIP6) == self.mac["lb2"], 2.0,
                   "the client's neighbour entry for the IPv6 VIP points at lb2")

    def test_adverts_without_hop_limit_255_are_dropped_and_counted(self):
        lb1, _ = self.start_pair6()
        for _ in range(3):
            netns.run_in(self.client, send_multicast6, forged_advert6(200, self.client_link_local), 64,
                         self.client_link_local)
            time.sleep(FAST)
        lb1.wait_log(rf"vrrp packet dropped\" instance=VI_1 reason=bad_ttl source={self.client_link_local}")
        self.assertEqual(self.holders6(), ["lb1"], self.logs())
        self.assertRegex(self.metrics("lb1"), r'cplb_vrrp_dropped_adverts_total\{instance="VI_1",reason="bad_ttl"\} [1-9]')
        # The same advert with hop limit 255 is a better master: the hop limit was the reason.
        netns.run_in(self.client, send_multicast6, forged_advert6(200, self.client_link_local), 255,
                     self.client_link_local)
        lb1.wait_log(r"from=master to=backup cause=higher_priority_advert")

    def test_unicast_to_link_local_peers_and_strangers_dropped(self):
        lb1 = self.start_cplb6("lb1", 150, unicast_peers=[f"'{self.link_local['lb2']}'"])
        self.wait_holders6(["lb1"], SETTLE)
        lb2 = self.start_cplb6("lb2", 100, unicast_peers=[f"'{self.link_local['lb1']}'"])
        lb2.wait_log(r"instance=VI_1 from=init to=backup")
        self.assert_holders6_stay(["lb1"], 5 * FAST)
        lb1_address = self.link_local["lb1"]
        netns.run_in(self.client, send_multicast6, forged_advert6(255, self.client_link_local, lb1_address), 255,
                     self.client_link_local, lb1_address)
        lb1.wait_log(rf"reason=not_a_peer source={self.client_link_local}")
        self.assertNotIn("from=master to=backup", lb1.log_text())
        lb1.kill()
        self.wait_holders6(["lb1", "lb2"], SETTLE)  # the SIGKILLed lb1 leaves its copy
        self.wait_client6(SETTLE, "client reaches the IPv6 VIP through lb2")

    def test_split_brain_heals_for_the_client_in_both_orders(self):
        self.start_pair6()
        self.wait_client6(SETTLE)
        block = """table inet cplbt {
          chain input { type filter hook input priority 0; meta l4proto vrrp drop; }
          chain output { type filter hook output priority 0; meta l4proto vrrp drop; }
        }"""
        heal = {  # as in test_vrrp_split_brain: the set decides which advert crosses first
            "winner_first": """delete table inet cplbt
                table inet cplbt {
                  set crossed { type ipv6_addr; flags dynamic; }
                  chain input { type filter hook input priority 0; meta l4proto vrrp add @crossed { ip6 daddr }; }
                  chain output { type filter hook output priority 0; meta l4proto vrrp ip6 daddr != @crossed drop; }
                }""",
            "loser_first": """delete table inet cplbt
                table inet cplbt {
                  set crossed { type ipv6_addr; flags dynamic; }
                  chain output { type filter hook output priority 0; meta l4proto vrrp add @crossed { ip6 daddr }; }
                  chain input { type filter hook input priority 0; meta l4proto vrrp ip6 daddr != @crossed drop; }
                }""",
        }
        took = []
        for _ in range(5):
            for order, script in heal.items():
                netns.nft(self.lb["lb2"], block)
                self.wait_holders6(["lb1", "lb2"], SETTLE, "both hold the IPv6 VIP while VRRP is blocked")
                self.until(lambda: netns.neighbour(self.client, VIP6) == self.mac["lb2"], SETTLE,
                           "the client follows lb2's neighbour advertisements")
                netns.nft(self.lb["lb2"], script)
                healed = time.monotonic()

                def through_lb1():
                    if netns.neighbour(self.client, VIP6) != self.mac["lb1"] or self.roundtrip6(0.3)[0] != "ok":
                        return None
                    return time.monotonic()

                took.append((order, self.until(through_lb1, SETTLE, f"client back on lb1 ({order})") - healed))
                self.wait_holders6(["lb1"], SETTLE)
                subprocess.run([*netns.exec_prefix(self.lb["lb2"]), "nft", "delete", "table", "inet", "cplbt"],
                               check=True)
        self.assertEqual([t for t in took if t[1] >= 1.0], [], f"heals slower than 1 s: {took}\n{self.logs()}")
        self.assertRegex(self.metrics("lb1"), rf'cplb_vrrp_split_brains_total\{{instance="VI_1"\}} {len(took)}\b')



class DualStackTest(Vrrp6Topology):
    """One instance with 192.0.2.100 and 2001:db8::100: a router per family, kept in one state."""

    def both_holders(self):
        return self.holders(), self.holders6()

    def wait_both(self, expected, timeout, what):
        self.until(lambda: self.both_holders() == (expected, expected), timeout, what)

    def test_both_vips_on_the_elected_node_and_served(self):
        lb1, lb2 = self.start_pair6(config=dual_config)
        self.wait_both(["lb1"], SETTLE, "lb1 holds both VIPs")
        self.assertEqual(self.roundtrip()[0], "ok")
        self.assertEqual(self.roundtrip6()[0], "ok")
        self.assertRegex(lb1.log_text(), r"vrrp instance starting.*family=ipv4")
        self.assertRegex(lb1.log_text(), r"vrrp instance starting.*family=ipv6")
        self.assertRegex(lb1.log_text(), r"state=master cause=sibling .*family=ipv6")  # it followed IPv4
        metrics = self.metrics("lb1")
        self.assertRegex(metrics, r'cplb_vrrp_transitions_total\{instance="VI_1",to="master"\} 1\b',
                         "one instance, one transition, whatever its families")
        self.assertIn('cplb_vrrp_state{instance="VI_1",state="backup"} 1', self.metrics("lb2"))

    def test_sigkill_moves_both_families_within_one_advert_interval(self):
        lb1, _ = self.start_pair6(config=dual_config)
        self.wait_both(["lb1"], SETTLE, "lb1 holds both VIPs")
        self.assertEqual(self.roundtrip()[0], "ok")
        self.assertEqual(self.roundtrip6()[0], "ok")
        with netns.AddressWatch(self.lb["lb2"], None) as watch:
            killed = time.monotonic()
            lb1.kill()
            self.until(lambda: watch.first(VIP, after=killed) and watch.first(VIP6, after=killed), 2.0,
                       "lb2 adds both VIPs")
            v4, v6 = watch.first(VIP, after=killed), watch.first(VIP6, after=killed)
        self.assertLess(abs(v4 - v6), FAST, f"the families moved {abs(v4 - v6):.3f}s apart")
        self.assertLess(max(v4, v6) - killed, master_down(100) + 0.15)
        self.until(lambda: netns.neighbour(self.client, VIP) == self.mac["lb2"], 2.0, "ARP entry on lb2")
        self.until(lambda: netns.neighbour(self.client, VIP6) == self.mac["lb2"], 2.0, "neighbour entry on lb2")
        self.wait_client(SETTLE, "client reaches the IPv4 VIP through lb2")
        self.wait_client6(SETTLE, "client reaches the IPv6 VIP through lb2")

    def test_unicast_with_a_peer_per_family(self):
        peers = {role: [f"'{LB_ADDRESS[other]}'", f"'{self.link_local[other]}'"]
                 for role, other in (("lb1", "lb2"), ("lb2", "lb1"))}
        lb1 = self.start_cplb6("lb1", 150, config=dual_config, unicast_peers=peers["lb1"])
        self.wait_both(["lb1"], SETTLE, "lb1 holds both VIPs")
        lb2 = self.start_cplb6("lb2", 100, config=dual_config, unicast_peers=peers["lb2"])
        lb2.wait_log(r"instance=VI_1 from=init to=backup")
        end = time.monotonic() + 5 * FAST
        while time.monotonic() < end:  # lb2 hears lb1 in both families
            self.assertEqual(self.both_holders(), (["lb1"], ["lb1"]), self.logs())
            time.sleep(0.05)
        self.assertRegex(lb1.log_text(), r"mode=unicast .*family=ipv6")
        lb1.kill()
        self.wait_both(["lb1", "lb2"], SETTLE, "lb2 takes both VIPs (the SIGKILLed lb1 leaves its copies)")
        self.wait_client6(SETTLE, "client reaches the IPv6 VIP through lb2")

    def test_losing_one_familys_adverts_moves_nothing(self):
        lb1, lb2 = self.start_pair6(config=dual_config)
        self.wait_both(["lb1"], SETTLE, "lb1 holds both VIPs")
        netns.nft(self.lb["lb2"], """table inet cplbt {
          chain input { type filter hook input priority 0; meta nfproto ipv6 meta l4proto vrrp drop; }
          chain output { type filter hook output priority 0; meta nfproto ipv6 meta l4proto vrrp drop; }
        }""")
        end = time.monotonic() + 5 * master_down(100)
        while time.monotonic() < end:  # lb2's IPv6 router times out again and again, but waits
            self.assertEqual(self.both_holders(), (["lb1"], ["lb1"]), self.logs())
            time.sleep(0.05)
        lb2.wait_log(r"state=backup cause=held_by_sibling .*family=ipv6")
        self.assertNotIn("to=master", lb2.log_text())
        self.assertNotIn("split brain", lb1.log_text())
        subprocess.run([*netns.exec_prefix(self.lb["lb2"]), "nft", "delete", "table", "inet", "cplbt"], check=True)
        lb1.kill()  # and a real failure still moves both
        self.wait_both(["lb1", "lb2"], SETTLE, "lb2 takes both VIPs")

    def test_sigterm_hands_both_over(self):
        lb1, _ = self.start_pair6(config=dual_config)
        self.wait_both(["lb1"], SETTLE, "lb1 holds both VIPs")
        os.kill(lb1.pid, signal.SIGTERM)
        self.wait_both(["lb2"], SETTLE, "lb2 holds both VIPs")
        self.assertEqual(lb1.process.wait(5), 0)
        for family in ("ipv4", "ipv6"):  # each router released its VIPs on hearing lb2's
            self.assertRegex(lb1.log_text(), rf"state=init cause=handover_done .*family={family}")
        self.assertRegex(lb1.log_text(), r"vrrp virtual IPs removed.*family=ipv6")

    def test_tracking_moves_both_and_preemption_brings_both_back(self):
        self.start_pair6(config=dual_config)
        self.wait_both(["lb1"], SETTLE, "lb1 holds both VIPs")
        netns.nft(self.lb["lb1"], """
            table inet cplbt {
              chain output { type filter hook output priority 0; ip daddr { 192.0.2.21, 192.0.2.22, 192.0.2.23 } drop; }
            }""")
        self.wait_both(["lb2"], SETTLE, "both VIPs move to lb2 while lb1 has no healthy apiserver")
        subprocess.run([*netns.exec_prefix(self.lb["lb1"]), "nft", "delete", "table", "inet", "cplbt"], check=True)
        self.wait_both(["lb1"], SETTLE, "lb1 preempts in both families")

    def test_binary_upgrade_keeps_both_families_master(self):
        import json  # noqa: PLC0415  (this test alone reads /status as JSON)

        lb1, lb2 = self.start_pair6(config=dual_config)
        self.wait_both(["lb1"], SETTLE, "lb1 holds both VIPs")
        self.addCleanup(lb1.kill_all)
        self.addCleanup(lambda: [self.lan.adopt(pid) for pid in lb1.successor_pids()])

        def lb1_status():
            code, body = netns.run_in(self.lb["lb1"], http_get, "127.0.0.1", 9100, "/status", 1.0, timeout=5)
            if code != 200:
                raise RuntimeError(f"/status answered {code}")
            return json.loads(body)

        before = len(lb1.log_text())
        try:
            lb1.upgrade(status=lb1_status)
        except TimeoutError as error:
            self.fail(f"{error}\n{self.logs()}")
        finally:
            for pid in lb1.successor_pids():
                self.lan.adopt(pid)
        after = lb1.log_text()[before:]
        self.assertRegex(after, r"state=master cause=inherited .*family=ipv4")
        self.assertRegex(after, r"state=master cause=inherited .*family=ipv6")
        self.assertNotIn("to=backup", after, f"the successor ran an election\n{self.logs()}")
        self.assertEqual(self.both_holders(), (["lb1"], ["lb1"]))
        self.assertNotIn("to=master", lb2.log_text())
        self.assertEqual(self.roundtrip6()[0], "ok")

    def test_split_brain_heals_both_families_for_the_client(self):
        lb1, _ = self.start_pair6(config=dual_config)
        self.wait_both(["lb1"], SETTLE, "lb1 holds both VIPs")
        self.wait_client(SETTLE)
        self.wait_client6(SETTLE)
        for _ in range(3):
            netns.nft(self.lb["lb2"], """table inet cplbt {
              chain input { type filter hook input priority 0; meta l4proto vrrp drop; }
              chain output { type filter hook output priority 0; meta l4proto vrrp drop; }
            }""")
            self.wait_both(["lb1", "lb2"], SETTLE, "both hold both VIPs while VRRP is blocked")
            self.until(lambda: (netns.neighbour(self.client, VIP), netns.neighbour(self.client, VIP6))
                       == (self.mac["lb2"], self.mac["lb2"]), SETTLE, "the client follows lb2 in both families")
            netns.lift_vrrp_block(self.lb["lb2"])  # lb1 hears lb2 as it yields: one heal, one split brain
            healed = time.monotonic()

            def back_on_lb1():
                if (netns.neighbour(self.client, VIP), netns.neighbour(self.client, VIP6)) != (self.mac["lb1"],) * 2:
                    return None
                if self.roundtrip(0.3)[0] != "ok" or self.roundtrip6(0.3)[0] != "ok":
                    return None
                return time.monotonic()

            self.assertLess(self.until(back_on_lb1, SETTLE, "the client back on lb1") - healed, 1.0)
            self.wait_both(["lb1"], SETTLE, "one master after the heal")
        self.assertRegex(self.metrics("lb1"), r'cplb_vrrp_split_brains_total\{instance="VI_1"\} 3\b',
                         f"one split brain per heal, though both families saw it\n{self.logs()}")



@unittest.skipUnless(os.access(KEEPALIVED, os.X_OK), f"{KEEPALIVED} is not installed")
class Keepalived6InteropTest(Vrrp6Topology):
    """cplb and keepalived 2.x over IPv6 in one virtual router (same VRID, VIP list and interval)."""

    def start_kind(self, kind, role, priority, dual):
        if kind == "cplb":
            return self.start_cplb6(role, priority, config=dual_config if dual else cplb6_config)
        keepalived = Keepalived(self.lan, role, keepalived6_config(role, priority, dual))
        self.processes.append((f"keepalived {role}", keepalived))
        self.addCleanup(keepalived.close)
        return keepalived

    def holders_of(self, dual):
        return (self.holders(), self.holders6()) if dual else self.holders6()

    def interop(self, stop_signal, dual=False):
        """Both arrangements: priority 150 on lb1 is master, 100 on lb2 backup; stopping the master
        with `stop_signal` moves the VIP (both, with `dual`) to the other."""
        one = lambda roles: (roles, roles) if dual else roles  # noqa: E731
        for higher, lower in (("cplb", "keepalived"), ("keepalived", "cplb")):
            with self.subTest(master=higher):
                master = self.start_kind(higher, "lb1", 150, dual)
                backup = self.start_kind(lower, "lb2", 100, dual)
                self.until(lambda: self.holders_of(dual) == one(["lb1"]), SETTLE, f"{higher} (150) is master")
                end = time.monotonic() + 2 * FAST * 5
                while time.monotonic() < end:
                    self.assertEqual(self.holders_of(dual), one(["lb1"]), self.logs())
                    time.sleep(0.05)
                for process in (master, backup):  # neither rejected the other's adverts
                    self.assertNotRegex(process.log_text(),
                                        r"(?i)checksum|mismatch|not present|invalid ttl|packet dropped|differently")
                if higher == "cplb":
                    self.assertEqual(self.roundtrip6()[0], "ok")
                stopped = time.monotonic()
                if higher == "cplb":
                    os.kill(master.pid, stop_signal)
                else:
                    master.signal(stop_signal)
                self.until(lambda: VIP6 in netns.ipv6_addresses(self.lb["lb2"]), master_down(100) + 1.5,
                           f"{lower} takes the IPv6 VIP over from {higher}")
                took = time.monotonic() - stopped
                if dual:
                    self.until(lambda: VIP in netns.ipv4_addresses(self.lb["lb2"]), FAST + 0.5,
                               f"{lower} takes the IPv4 VIP too, within an advert interval")
                if stop_signal == signal.SIGTERM:
                    self.until(lambda: self.holders_of(dual) == one(["lb2"]), SETTLE, f"{higher} released")
                if lower == "cplb":
                    self.wait_client6(SETTLE, "client reaches the IPv6 VIP through cplb on lb2")
                self.assertLess(took, master_down(100) + 1.5)
                self.doCleanups()  # stop both and reset the namespaces before the other arrangement
                self.setUp()

    def test_a_keepalived_winner_reasserts_with_neighbour_advertisements_on_cplbs_last_advert(self):
        """keepalived (150) on lb1 wins a healed split brain against cplb (100) on lb2, in the order
        where keepalived's advert crosses first: only cplb's last advert tells keepalived."""
        self.start_kind("keepalived", "lb1", 150, dual=False)
        self.wait_holders6(["lb1"], SETTLE)
        self.start_cplb6("lb2", 100)
        self.roundtrip6(0.3)  # nothing serves on lb1: refused, but the client's neighbour entry is made
        self.until(lambda: netns.neighbour(self.client, VIP6) == self.mac["lb1"], SETTLE, "the entry on lb1")
        for _ in range(3):
            netns.nft(self.lb["lb2"], """table inet cplbt {
              chain input { type filter hook input priority 0; meta l4proto vrrp drop; }
              chain output { type filter hook output priority 0; meta l4proto vrrp drop; }
            }""")
            self.wait_holders6(["lb1", "lb2"], SETTLE, "both hold the VIP while VRRP is blocked")
            self.until(lambda: netns.neighbour(self.client, VIP6) == self.mac["lb2"], SETTLE, "the entry on lb2")
            netns.nft(self.lb["lb2"], """delete table inet cplbt
                table inet cplbt {
                  set crossed { type ipv6_addr; flags dynamic; }
                  chain input { type filter hook input priority 0; meta l4proto vrrp add @crossed { ip6 daddr }; }
                  chain output { type filter hook output priority 0; meta l4proto vrrp ip6 daddr != @crossed drop; }
                }""")
            healed = time.monotonic()
            self.until(lambda: netns.neighbour(self.client, VIP6) == self.mac["lb1"], SETTLE,
                       "the client's entry back on keepalived's lb1")
            self.assertLess(time.monotonic() - healed, 1.0, self.logs())
            self.wait_holders6(["lb1"], SETTLE)
            subprocess.run([*netns.exec_prefix(self.lb["lb2"]), "nft", "delete", "table", "inet", "cplbt"],
                           check=True)

    def test_ipv6_sigterm(self):
        self.interop(signal.SIGTERM)

    def test_ipv6_sigkill(self):
        self.interop(signal.SIGKILL)

    def test_dual_stack_against_a_sync_group_sigkill(self):
        self.interop(signal.SIGKILL, dual=True)

    def test_dual_stack_against_a_sync_group_sigterm(self):
        self.interop(signal.SIGTERM, dual=True)


if __name__ == "__main__":
    unittest.main()
