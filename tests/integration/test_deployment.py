"""How cplb is deployed: the static pod, the image and the systemd unit say what the contract asks
(liveness on /livez, least privilege, Type=notify), and the real binary behaves as they assume:
/livez stays 200 while every backend is down, a stuck worker turns it 503, and it tells systemd
READY=1 with its MAINPID once it listens."""

import ctypes
import os
import re
import socket
import subprocess
import tempfile
import unittest
from pathlib import Path

import yaml  # Debian's python3-yaml (scripts/deps)

import harness
from harness import Cplb, cplb_binary, free_port, http_get, wait_until

ROOT = Path(__file__).resolve().parents[2]
STATIC_POD = ROOT / "docker" / "static-pod.yaml"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
UNIT = ROOT / "conf" / "cplb.service"
SHIPPED_CONFIG = ROOT / "conf" / "cplb.yaml"

CAPABILITIES = {"NET_ADMIN", "NET_RAW", "BPF"}
# Shared libraries of the Debian 12 slim base: the image need not install them.
BASE_PACKAGES = {"libc6", "libstdc++6", "libgcc-s1"}
# The sanitizers' runtimes, linked by a CPLB_SANITIZE build but not by the image's Release build.
SANITIZER_PACKAGE = re.compile(r"^lib(a|ub|l|t|hwa)san\d+$")


def pod_container():
    pod = yaml.safe_load(STATIC_POD.read_text())
    (container,) = [c for c in pod["spec"]["containers"] if c["name"] == "cplb"]
    return pod, container


def admin_address():
    """(host, port) of admin.listen in conf/cplb.yaml."""
    listen = yaml.safe_load(SHIPPED_CONFIG.read_text())["admin"]["listen"]
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def unit_sections():
    """{section: [(key, value)]} of conf/cplb.service (keys repeat, as systemd allows)."""
    sections, current = {}, None
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
        else:
            key, _, value = line.partition("=")
            current.append((key.strip(), value.strip()))
    return sections


def runtime_stage(dockerfile_text):
    """The Dockerfile's last stage (from its last FROM), continuation lines joined."""
    text = dockerfile_text.replace("\\\n", " ")
    return text[text.rindex("\nFROM "):]


def _run(*args):
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def needed_packages(binary):
    """The Debian packages that ship the shared libraries `binary` links itself (readelf's NEEDED),
    found by the file the loader picks (ldd) among those dpkg knows by that name."""
    resolved = dict(re.findall(r"^\s*(\S+) => (\S+)", _run("ldd", str(binary)), re.M))
    packages = set()
    for library in re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", _run("readelf", "-d", str(binary))):
        for line in _run("dpkg", "-S", f"*/{library}").splitlines():
            package, _, path = line.partition(": ")
            if os.path.realpath(path) == os.path.realpath(resolved[library]):
                packages.add(package.split(":")[0])
    return packages


def down_config(frontend, admin, dead):
    """One frontend whose only server is an address nothing listens on."""
    return f"""
global: {{workers: 2, shutdown_grace: 1s}}
admin: {{listen: 127.0.0.1:{admin}}}
frontends:
  - {{name: fe, listen: 127.0.0.1:{frontend}, backend: be, connect_timeout: 200ms}}
backends:
  - name: be
    servers: [{{name: gone, address: '127.0.0.1:{dead}'}}]
    health_check: {{protocol: tcp, interval: 200ms, timeout: 200ms, rise: 1, fall: 1}}
"""


class StaticPodTest(unittest.TestCase):
    def test_liveness_probes_livez_on_the_admin_port(self):
        _, container = pod_container()
        host, port = admin_address()
        probe = container["livenessProbe"]["httpGet"]
        self.assertEqual(probe["path"], "/livez")
        self.assertEqual(probe["port"], port)
        self.assertEqual(probe.get("host"), host)
        readiness = container.get("readinessProbe")
        if readiness:
            self.assertEqual(readiness["httpGet"]["path"], "/healthz")

    def test_runs_as_non_root_with_two_capabilities_on_a_read_only_root(self):
        _, container = pod_container()
        context = container["securityContext"]
        self.assertIsInstance(context["runAsUser"], int)
        self.assertGreater(context["runAsUser"], 0)
        self.assertIsInstance(context["runAsGroup"], int)
        self.assertGreater(context["runAsGroup"], 0)
        self.assertIs(context["allowPrivilegeEscalation"], False)
        self.assertIs(context["readOnlyRootFilesystem"], True)
        self.assertEqual(context["seccompProfile"], {"type": "RuntimeDefault"})
        self.assertEqual(set(context["capabilities"]["add"]), CAPABILITIES)
        self.assertEqual(context["capabilities"]["drop"], ["ALL"])

    def test_mounts_the_cluster_ca_alone_not_the_pki_directory(self):
        pod, container = pod_container()
        host_paths = {v["name"]: v["hostPath"] for v in pod["spec"]["volumes"] if "hostPath" in v}
        pki = Path("/etc/kubernetes/pki")
        for name, source in host_paths.items():
            path = Path(os.path.normpath(source["path"]))
            with self.subTest(volume=name, path=str(path)):
                self.assertFalse(path == pki or path in pki.parents, "mounts the kubeadm keys")
        ca = [n for n, s in host_paths.items() if s["path"] == "/etc/kubernetes/pki/ca.crt"]
        self.assertEqual(len(ca), 1)
        self.assertEqual(host_paths[ca[0]].get("type"), "File")
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        self.assertTrue(mounts[ca[0]]["readOnly"])


class ImageTest(unittest.TestCase):
    def test_user_is_numeric_and_the_pod_s(self):
        _, container = pod_container()
        context = container["securityContext"]
        users = re.findall(r"^USER\s+(\S+)\s*$", DOCKERFILE.read_text(), re.M)
        self.assertEqual(len(users), 1, users)
        user, _, group = users[0].partition(":")
        self.assertTrue(user.isdigit() and group.isdigit(), f"USER {users[0]} is not uid:gid")
        self.assertEqual((int(user), int(group)), (context["runAsUser"], context["runAsGroup"]))

    def test_binary_carries_exactly_the_three_file_capabilities(self):
        stage = runtime_stage(DOCKERFILE.read_text())
        entrypoint = re.search(r'^ENTRYPOINT \["([^"]+)"', stage, re.M).group(1)
        self.assertRegex(stage, rf"setcap cap_net_admin,cap_net_raw,cap_bpf\+ep {re.escape(entrypoint)}(\s|$)")

    def test_installs_the_shared_libraries_the_binary_needs(self):
        stage = runtime_stage(DOCKERFILE.read_text())
        installed = set()
        for command in re.findall(r"apt-get install ([^&]+)", stage):
            installed |= {w for w in command.split() if not w.startswith("-")}
        libraries = {p for p in installed if p.startswith("lib") and p != "libcap2-bin"}
        needed = {p for p in needed_packages(cplb_binary()) - BASE_PACKAGES if not SANITIZER_PACKAGE.match(p)}
        self.assertEqual(libraries, needed)


class UnitTest(unittest.TestCase):
    def test_notify_type_and_no_bind_capability(self):
        sections = unit_sections()
        service = dict(sections["Service"])
        self.assertEqual(service["Type"], "notify")
        # The new process of a binary upgrade reports MAINPID= itself: systemd takes it only so.
        self.assertEqual(service["NotifyAccess"], "all")
        self.assertIn(("StartLimitIntervalSec", "0"), sections["Unit"])
        for key, value in sections["Service"]:
            with self.subTest(key=key):
                self.assertNotIn("CAP_NET_BIND_SERVICE", value)
        self.assertTrue(service["ExecStart"].startswith("/usr/sbin/cplb "))
        caps = set(service["AmbientCapabilities"].split())
        self.assertEqual(caps, {f"CAP_{c}" for c in CAPABILITIES})
        self.assertEqual(set(service["CapabilityBoundingSet"].split()), caps)


class NotifySocket:
    """A Unix datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self):
        self._dir = tempfile.TemporaryDirectory(prefix="cplb-notify-")
        self.path = str(Path(self._dir.name) / "notify")
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(self.path)

    def receive(self, timeout=10.0):
        """The next message as {field: value}."""
        self._sock.settimeout(timeout)
        message = self._sock.recv(4096).decode()
        return dict(line.split("=", 1) for line in message.splitlines() if "=" in line)

    def close(self):
        self._sock.close()
        self._dir.cleanup()


class _Ptrace:
    """Stops and resumes one thread of another process (PTRACE_SEIZE + PTRACE_INTERRUPT), the way a
    worker stuck in a long computation would look."""

    SEIZE, INTERRUPT, DETACH = 0x4206, 0x4207, 17
    WALL = 0x40000000

    def __init__(self):
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
        self._libc.ptrace.restype = ctypes.c_long

    def stop(self, tid):
        """True once `tid` is stopped; False when ptrace is not allowed here."""
        if self._libc.ptrace(self.SEIZE, tid, None, None) != 0:
            return False
        if self._libc.ptrace(self.INTERRUPT, tid, None, None) != 0:
            self._libc.ptrace(self.DETACH, tid, None, None)
            return False
        os.waitpid(tid, self.WALL)
        return True

    def resume(self, tid):
        self._libc.ptrace(self.DETACH, tid, None, None)


def thread_named(pid, name):
    """The id of the thread of `pid` called `name`, or None."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        if (task / "comm").read_text().strip() == name:
            return int(task.name)
    return None


class LivenessTest(unittest.TestCase):
    def start(self, **kwargs):
        self.frontend, self.admin = free_port(), free_port()
        cplb = Cplb(down_config(self.frontend, self.admin, free_port()), **kwargs)
        self.enterContext(cplb)
        return cplb

    def get(self, path):
        return http_get("127.0.0.1", self.admin, path)

    def test_livez_is_ok_while_every_backend_is_down(self):
        cplb = self.start(wait_ports=())
        wait_until(lambda: self.get("/healthz")[0] == 503 and harness.server_status(
            harness.admin_status(self.admin), "be", "gone")["state"] == "down", what="the server down")
        self.assertEqual(self.get("/healthz"), (503, "no frontend has a backend with a server up\n"))
        self.assertEqual(self.get("/livez"), (200, "ok\n"))
        self.assertEqual(cplb.terminate(), 0)

    def test_livez_names_a_stuck_worker_and_recovers(self):
        cplb = self.start(wait_ports=())
        wait_until(lambda: self.get("/livez")[0] == 200, what="/livez up")
        tid = wait_until(lambda: thread_named(cplb.pid, "cplb-worker-1"), what="worker 1's thread")
        tracer = _Ptrace()
        if not tracer.stop(tid):
            self.skipTest("ptrace is not allowed here")
        try:
            def failing():
                answer = self.get("/livez")
                return answer if answer[0] == 503 else None

            _, body = wait_until(failing, timeout=15, what="/livez 503")
            self.assertRegex(body, r"^worker 1 has not run posted work for \d+ms\n$")
            self.assertEqual(self.get("/metrics")[0], 200)  # the control thread still answers
            cplb.wait_log(r'msg="worker stuck: its event loop has not turned" worker=1 ')
        finally:
            tracer.resume(tid)
        wait_until(lambda: self.get("/livez") == (200, "ok\n"), timeout=5, what="/livez ok again")
        cplb.wait_log(r'msg="worker turns again" worker=1')

    def test_tells_systemd_ready_with_its_pid_once_it_listens(self):
        notify = NotifySocket()
        self.addCleanup(notify.close)
        cplb = self.start(wait_ports=(), env={"NOTIFY_SOCKET": notify.path})
        ready = notify.receive()
        self.assertEqual(ready.get("READY"), "1")
        self.assertEqual(ready.get("MAINPID"), str(cplb.pid))
        # READY came after the frontend and the admin server listened, not before.
        self.assertLessEqual({self.frontend, self.admin}, harness._listening_ports(cplb.pid))

        cplb.reload()
        self.assertEqual(notify.receive().get("RELOADING"), "1")
        self.assertEqual(notify.receive().get("READY"), "1")
        self.assertEqual(cplb.terminate(), 0)
        self.assertEqual(notify.receive().get("STOPPING"), "1")  # queued in the socket

    def test_upgrade_tells_systemd_the_new_main_pid_and_the_old_one_says_nothing(self):
        notify = NotifySocket()
        self.addCleanup(notify.close)
        cplb = self.start(wait_ports=(), env={"NOTIFY_SOCKET": notify.path})
        self.assertEqual(notify.receive().get("MAINPID"), str(cplb.pid))
        old, new, _ = cplb.upgrade(self.admin)
        ready = notify.receive()
        self.assertEqual((ready.get("READY"), ready.get("MAINPID")), ("1", str(new)))
        # The old process exits without STOPPING=1, which systemd would take for the unit's stop.
        with self.assertRaises(socket.timeout):
            notify.receive(timeout=1.0)
        self.assertNotEqual(old, new)


if __name__ == "__main__":
    unittest.main()
