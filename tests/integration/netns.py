"""Network namespaces for cplb's VRRP tests (stdlib only; needs root).

A `Lan` is one Ethernet segment: a bridge in its own namespace and, for each host, a namespace joined
to the bridge by a veth pair whose inside end is `eth0`. Every namespace is called `cplbt-<tag>-<role>`;
`Lan.close()` kills the processes registered with it (by PID) and deletes every namespace, whatever
state they are in. Only 192.0.2.0/24 (TEST-NET-1) and 2001:db8::/32 (documentation) addresses are
used, plus the fe80::/64 link-local ones the kernel assigns. Duplicate address detection is off on
the hosts' eth0, so their IPv6 addresses (link-local ones too) are usable at once.
"""

import ctypes
import os
import re
import secrets
import subprocess
import threading
import time
import unittest

CLONE_NEWNET = 0x40000000
PREFIX = "cplbt"
IFNAME = "eth0"


def ip(*args, check=True, timeout=10):
    """Runs `ip ARGS`; returns stdout. Raises CalledProcessError (with stderr) when `check` and it fails."""
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise subprocess.CalledProcessError(result.returncode, ["ip", *args], result.stdout, result.stderr)
    return result.stdout


def require_namespaces():
    """Raises unittest.SkipTest unless this process may create network namespaces (root, CAP_NET_ADMIN)."""
    if os.geteuid() != 0:
        raise unittest.SkipTest("VRRP tests need root (CAP_NET_ADMIN, CAP_NET_RAW) to create network namespaces")
    probe = f"{PREFIX}-probe-{secrets.token_hex(3)}"
    try:
        ip("netns", "add", probe)
    except (OSError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", "") or str(error)
        raise unittest.SkipTest(f"cannot create a network namespace (`ip netns add` failed: {detail.strip()})")
    ip("netns", "del", probe, check=False)


def exec_prefix(ns):
    """The command prefix that runs a program inside namespace `ns`."""
    return ["ip", "netns", "exec", ns]


class Lan:
    """A bridge namespace plus host namespaces on it. Use as a context manager or call close()."""

    def __init__(self):
        self.tag = secrets.token_hex(3)
        self.bridge_ns = self.ns("br")
        self._namespaces = []
        self._pids = []
        self._lock = threading.Lock()
        self._add_namespace(self.bridge_ns)
        ip("-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
        ip("-n", self.bridge_ns, "link", "set", "br0", "up")

    def ns(self, role):
        """The namespace name of `role`."""
        return f"{PREFIX}-{self.tag}-{role}"

    def _add_namespace(self, name):
        ip("netns", "add", name)
        self._namespaces.append(name)
        ip("-n", name, "link", "set", "lo", "up")

    def add_host(self, role, *addresses):
        """Creates namespace `role` with `eth0` on the bridge holding `addresses` (`a.b.c.d/len` or
        `2001:db8::x/len`); returns the namespace name."""
        name = self.ns(role)
        self._add_namespace(name)
        outside = f"v-{role}"[:15]
        ip("-n", self.bridge_ns, "link", "add", outside, "type", "veth", "peer", "name", IFNAME, "netns", name)
        ip("-n", self.bridge_ns, "link", "set", outside, "master", "br0")
        ip("-n", self.bridge_ns, "link", "set", outside, "up")
        subprocess.run([*exec_prefix(name), "sysctl", "-qw", f"net.ipv6.conf.{IFNAME}.accept_dad=0"], check=True,
                       capture_output=True, timeout=10)
        for address in addresses:
            ip("-n", name, "addr", "add", address, "dev", IFNAME)
        ip("-n", name, "link", "set", IFNAME, "up")
        return name

    def add_peer(self, role, peer_role, peer_ifname):
        """Creates namespace `role` whose `eth0` is joined by a veth pair straight to interface
        `peer_ifname` of the existing host `peer_role` (a point-to-point link beside the bridge); both
        ends are up, without addresses. Returns the namespace name."""
        name = self.ns(role)
        self._add_namespace(name)
        peer = self.ns(peer_role)
        ip("-n", peer, "link", "add", peer_ifname, "type", "veth", "peer", "name", IFNAME, "netns", name)
        ip("-n", peer, "link", "set", peer_ifname, "up")
        ip("-n", name, "link", "set", IFNAME, "up")
        return name

    def set_link(self, role, up):
        """Sets the bridge side of `role`'s veth up or down (the host sees its carrier come and go)."""
        ip("-n", self.bridge_ns, "link", "set", f"v-{role}"[:15], "up" if up else "down")

    def adopt(self, pid):
        """Registers a process to kill (SIGKILL, by PID) on close."""
        with self._lock:
            self._pids.append(pid)

    def close(self):
        """Kills the adopted processes and deletes every namespace; never raises."""
        for pid in self._pids:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        for name in reversed(self._namespaces):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        self._namespaces.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def ipv4_addresses(ns, ifname=IFNAME):
    """The IPv4 addresses (without prefix length) on `ifname` in `ns`."""
    out = ip("-n", ns, "-4", "-o", "addr", "show", "dev", ifname)
    return set(re.findall(r"inet (\d+\.\d+\.\d+\.\d+)/", out))


def ipv6_addresses(ns, ifname=IFNAME):
    """The global IPv6 addresses (without prefix length) on `ifname` in `ns`."""
    out = ip("-n", ns, "-6", "-o", "addr", "show", "dev", ifname, "scope", "global")
    return set(re.findall(r"inet6 ([0-9a-f:]+)/", out))


def link_local_address(ns, ifname=IFNAME):
    """The fe80:: address of `ifname` in `ns`, or None."""
    out = ip("-n", ns, "-6", "-o", "addr", "show", "dev", ifname, "scope", "link")
    match = re.search(r"inet6 (fe80:[0-9a-f:]+)/", out)
    return match.group(1) if match else None


def mac_address(ns, ifname=IFNAME):
    """The MAC address of `ifname` in `ns`."""
    out = ip("-n", ns, "-o", "link", "show", "dev", ifname)
    return re.search(r"link/ether ([0-9a-f:]{17})", out).group(1)


def neighbour(ns, address, ifname=IFNAME):
    """The MAC `ns` has cached for `address`, or None."""
    out = ip("-n", ns, "neigh", "show", address, "dev", ifname)
    match = re.search(r"lladdr ([0-9a-f:]{17})", out)
    return match.group(1) if match else None


def nft(ns, script):
    """Loads an nft script (`nft -f -`) inside `ns`."""
    subprocess.run([*exec_prefix(ns), "nft", "-f", "-"], input=script, text=True, check=True,
                   capture_output=True, timeout=10)


def lift_vrrp_block(ns):
    """Deletes the `inet cplbt` table that blocks VRRP in `ns`, its output chain first. One table
    delete takes the chains' hooks away one after the other: with input gone first, the node could
    hear its peer and yield while its last advert, which makes the peer reassert, is still dropped."""
    nft(ns, "delete chain inet cplbt output")
    nft(ns, "delete table inet cplbt")


def enter(ns):
    """Moves the calling thread into network namespace `ns` (sockets it opens from now on live there)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {ns}")
    finally:
        os.close(fd)


def run_in(ns, function, *args, timeout=60):
    """Calls function(*args) on a thread that has entered network namespace `ns` (so the sockets it
    opens live there) and returns its result or raises its exception; TimeoutError after `timeout`
    seconds."""
    outcome = {}

    def body():
        try:
            enter(ns)
            outcome["value"] = function(*args)
        except BaseException as error:  # noqa: BLE001  (re-raised on the caller's thread)
            outcome["error"] = error

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"{getattr(function, '__name__', function)} in {ns} still running after {timeout}s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


class AddressWatch:
    """`ip -n NS monitor address` in the background: records (monotonic time, added?, address) for
    every IPv4 (or, with `family="-6"`, IPv6; with None, both) address event in `ns`, so a test can
    time when a VIP came or went."""

    def __init__(self, ns, family="-4"):
        self.events = []
        self._process = subprocess.Popen(["ip", "-n", ns, *([family] if family else []), "monitor", "address"],
                                         stdout=subprocess.PIPE, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        time.sleep(0.05)  # `ip monitor` subscribes right after exec; give it that moment

    def _read(self):
        for line in self._process.stdout:
            match = re.search(r"inet6? ([0-9a-f:.]+)/", line)
            if match:
                self.events.append((time.monotonic(), not line.startswith("Deleted"), match.group(1)))

    def first(self, address, added=True, after=0.0):
        """Monotonic time of the first event for `address` (added or deleted) after `after`, or None."""
        for at, was_added, what in list(self.events):
            if what == address and was_added == added and at >= after:
                return at
        return None

    def close(self):
        """Stops the monitor."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait(5)
        self._process.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
