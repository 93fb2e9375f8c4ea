"""Failover time of cplb and of keepalived in the same namespaces (not a test: prints a table).

For each implementation, advert interval (1s, 100ms; VRRPv3) and way of stopping the master (SIGKILL,
SIGTERM): lb1 (priority 150) is master, lb2 (priority 100) backup; the master is stopped and the time
until lb2 has the VIP (`ip monitor address` in lb2) is measured. Median of RUNS runs. `--ipv6` does
the same with the IPv6 VIP of test_vrrp6 (keepalived's VRRPv3 IPv6 instance).

    sudo CPLB_BUILD_DIR=build python3 tests/integration/vrrp_failover_bench.py [--runs N] [--ipv6]
"""

import argparse
import os
import select
import signal
import socket
import statistics
import sys
import time
import unittest

import netns
from test_vrrp import APISERVERS, KEEPALIVED, VIP, Keepalived, master_down, skew_time
from test_vrrp6 import VIP6, Vrrp6Topology, keepalived6_config


class Bench(Vrrp6Topology):
    """Reuses the test topology and process helpers outside unittest's runner."""

    ipv6 = False  # measure the IPv6 VIP instead of the IPv4 one

    def runTest(self):  # unittest.TestCase needs one; never run
        pass

    def one(self, kind, interval, signo):
        version = 3
        master = self.start_kind(kind, "lb1", 150, version, unicast=False, interval=interval)
        self.start_kind(kind, "lb2", 100, version, unicast=False, interval=interval)
        if self.ipv6:
            self.wait_holders6(["lb1"], 10 * interval + 5)
        else:
            self.wait_holders(["lb1"], 10 * interval + 5)
        time.sleep(2 * interval)
        vip = VIP6 if self.ipv6 else VIP
        with netns.AddressWatch(self.lb["lb2"], "-6" if self.ipv6 else "-4") as watch:
            stopped = time.monotonic()
            if kind == "cplb":
                os.kill(master.pid, signo)
            else:
                master.signal(signo)
            self.until(lambda: watch.first(vip, after=stopped), 5 * interval + 5, "lb2 takes over")
            took = watch.first(vip, after=stopped) - stopped
        self.doCleanups()
        self.setUp()
        return took

    def announcements(self, kind, seconds=7.0):
        """How many unsolicited neighbour advertisements (IPv6) or gratuitous ARPs (IPv4) for the
        VIP the client sees from the new master within `seconds` of a SIGKILL takeover at 100 ms
        (long enough for keepalived's second burst, garp_master_delay 5 s)."""
        master = self.start_kind(kind, "lb1", 150, 3, unicast=False, interval=0.1)
        self.start_kind(kind, "lb2", 100, 3, unicast=False, interval=0.1)
        (self.wait_holders6 if self.ipv6 else self.wait_holders)(["lb1"], 5)
        lb2_mac = bytes.fromhex(self.mac["lb2"].replace(":", ""))
        target = socket.inet_pton(socket.AF_INET6, VIP6) if self.ipv6 else socket.inet_aton(VIP)

        def count():
            seen = 0
            with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003)) as sniffer:
                sniffer.bind((netns.IFNAME, 0))
                if kind == "cplb":
                    os.kill(master.pid, signal.SIGKILL)
                else:
                    master.signal(signal.SIGKILL)
                end = time.monotonic() + seconds
                while (left := end - time.monotonic()) > 0:
                    if not select.select([sniffer], [], [], left)[0]:
                        continue
                    frame = sniffer.recv(2048)
                    if frame[6:12] != lb2_mac:
                        continue
                    if self.ipv6 and frame[12:14] == b"\x86\xdd" and frame[20] == 58 and frame[54] == 136:
                        seen += frame[62:78] == target
                    elif not self.ipv6 and frame[12:14] == b"\x08\x06":
                        seen += frame[28:32] == target and frame[38:42] == target
            return seen

        seen = netns.run_in(self.client, count, timeout=seconds + 10)
        self.doCleanups()
        self.setUp()
        return seen

    def start_kind(self, kind, role, priority, version, unicast, interval):
        if kind == "cplb" and self.ipv6:
            return self.start_cplb6(role, priority, interval=f"{int(interval * 1000)}ms")
        if kind == "cplb":
            return self.start_cplb(role, priority, interval=f"{int(interval * 1000)}ms", version=version)
        if self.ipv6:
            keepalived = Keepalived(self.lan, role, keepalived6_config(role, priority, interval=interval))
            self.processes.append((f"keepalived {role}", keepalived))
            self.addCleanup(keepalived.close)
            return keepalived
        return self.start_keepalived(role, priority, version=version, interval=f"{interval:g}", unicast=unicast)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ipv6", action="store_true", help="the IPv6 VIP (VRRPv3 over IPv6)")
    args = parser.parse_args()
    Bench.ipv6 = args.ipv6
    try:
        Bench.setUpClass()
    except unittest.SkipTest as why:
        sys.exit(f"skipped: {why}")
    bench = Bench()
    kinds = ["cplb"] + (["keepalived"] if os.access(KEEPALIVED, os.X_OK) else [])
    rows = []
    try:
        for interval in (1.0, 0.1):
            for signo in (signal.SIGKILL, signal.SIGTERM):
                expected = master_down(100, interval) if signo == signal.SIGKILL else skew_time(100, interval)
                for kind in kinds:
                    bench.setUp()
                    times = [bench.one(kind, interval, signo) for _ in range(args.runs)]
                    bench.doCleanups()
                    rows.append((kind, f"{interval * 1000:g}ms", signal.Signals(signo).name, statistics.median(times),
                                 min(times), max(times), expected))
                    print(f"{kind} {interval}s {signal.Signals(signo).name}: {[round(t, 3) for t in times]}",
                          file=sys.stderr)
        announced = {}
        for kind in kinds:
            bench.setUp()
            announced[kind] = bench.announcements(kind)
            bench.doCleanups()
    finally:
        Bench.doClassCleanups()
    print(f"VRRPv3 failover over {'IPv6' if args.ipv6 else 'IPv4'}, lb1 priority 150 -> lb2 priority 100, "
          f"{len(APISERVERS)} apiservers, "
          f"median of {args.runs} runs (seconds until the backup holds the VIP)\n")
    print("| implementation | advert interval | master stopped by | median | min | max | RFC bound (master-down or skew) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for kind, interval, how, median, low, high, expected in rows:
        print(f"| {kind} | {interval} | {how} | {median:.3f} | {low:.3f} | {high:.3f} | {expected:.3f} |")
    what = "unsolicited neighbour advertisements" if args.ipv6 else "gratuitous ARPs"
    print(f"\n{what} the client saw within 7 s of a takeover: " +
          ", ".join(f"{kind} {n}" for kind, n in announced.items()))


if __name__ == "__main__":
    main()
