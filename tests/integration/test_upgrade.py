"""Binary upgrade on SIGUSR2 through the real binary, under load: the successor takes over the listening
sockets, every session with its unforwarded bytes, health state and counters; a successor that
cannot start leaves the old process serving.

cplb runs from a copy of the binary in a temporary directory (so a test can replace it, as a package
upgrade does: a new file renamed over the path) in front of three stream_peers backends. The load
(stream_peers.Load) runs through every upgrade: 50 streams with a counter each way every 20 ms, a
new connection every 10 ms, and four 8 MiB downloads read slowly through small receive buffers; it
notices a byte lost, duplicated, reordered or cross-wired, a refused or reset connect, a stall.

The test process is the child subreaper of its descendants (harness.become_subreaper()), so each
successor, orphaned when its parent hands over and exits, is reaped by the test and its exit code
(0) checked. Every process is ended by PID at teardown, successors included (Cplb's cleanup).
"""

import os
import re
import shutil
import signal
import tempfile
import threading
import time
import unittest
from pathlib import Path

from harness import (UPGRADE_TIMEOUT, Cplb, admin_status, become_subreaper, cplb_binary, http_get,
                     metric_samples, server_status, stable_port, wait_until)
from stream_peers import CounterBackend, Load

SERVERS = ("s1", "s2", "s3")
STREAMS = 50
FAILED_LINE = 'msg="upgrade failed: the old process keeps serving"'
REFUSED_LINE = 'msg="upgrade refused: one is already in progress"'
TOOK_OVER_LINE = 'msg="took over from the previous process"'
DONE_LINE = 'msg="upgrade done: exiting"'
STARTED_LINE = 'msg="upgrade started"'
LOAD_BETWEEN = 1.0  # seconds of load between two upgrades (and at least some progress of each part)

SUBREAPER = False


def setUpModule():
    global SUBREAPER  # noqa: PLW0603
    SUBREAPER = become_subreaper()


def config(port, admin, servers, *, weights=None):
    lines = "\n".join(f"      - {{name: {name}, address: '{address}', weight: {(weights or {}).get(name, 1)}}}"
                      for name, address in servers)
    return f"""
global: {{workers: 2, shutdown_grace: 1s}}
admin: {{listen: 127.0.0.1:{admin}}}
frontends:
  - {{name: fe, listen: 127.0.0.1:{port}, backend: be, connect_timeout: 1s}}
backends:
  - name: be
    balance: round_robin
    servers:
{lines}
    health_check: {{protocol: tcp, interval: 200ms, timeout: 150ms, fast_interval: 100ms, rise: 1, fall: 2}}
"""


def distinct_ports(count):
    ports = []
    while len(ports) < count:
        port = stable_port()
        if port not in ports:
            ports.append(port)
    return ports


def field(line, name):
    """The value of logfmt field `name` in `line` (quotes removed), or None."""
    match = re.search(rf'(?:^|\s){re.escape(name)}=("(?:[^"\\]|\\.)*"|\S*)', line)
    if not match:
        return None
    value = match.group(1)
    return value[1:-1].replace('\\"', '"') if value.startswith('"') else value


def write_replacing(path, data, mode=0o755):
    """Writes a new file beside `path` and renames it over `path`, as a package manager does (the
    running process keeps the old inode)."""
    tmp = path.with_name(f".{path.name}.new")
    if isinstance(data, Path):
        shutil.copyfile(data, tmp)
    else:
        tmp.write_bytes(data)
    os.chmod(tmp, mode)
    os.rename(tmp, path)


class MetricsWatch(threading.Thread):
    """Scrapes /metrics every 100 ms and keeps (time, cplb_frontend_connections_total) in order."""

    def __init__(self, admin):
        super().__init__(daemon=True, name="metrics-watch")
        self.admin = admin
        self.values = []
        self.errors = []
        self._halt = threading.Event()
        self._lock = threading.Lock()

    def scrape(self):
        # One scrape at a time (the test thread scrapes too): values are kept in the order cplb
        # computed them.
        with self._lock:
            status, body = http_get("127.0.0.1", self.admin, "/metrics", timeout=2.0)
            if status != 200:
                raise RuntimeError(f"/metrics answered {status}")
            samples = metric_samples(body, "cplb_frontend_connections_total")
            value = sum(v for labels, v in samples.items() if ("frontend", "fe") in labels or not labels)
            self.values.append((time.monotonic(), value))
        return body

    def run(self):
        while not self._halt.is_set():
            try:
                self.scrape()
            except Exception as error:  # noqa: BLE001  (reported by the test)
                self.errors.append(repr(error))
            self._halt.wait(0.1)

    def stop(self):
        self._halt.set()
        if self.is_alive():
            self.join(5)

    def decreases(self):
        """[(before, after)] of every scrape that saw a lower value than the one before it."""
        with self._lock:
            values = [v for _, v in self.values]
        return [(a, b) for a, b in zip(values, values[1:]) if b < a]


class UpgradeTest(unittest.TestCase):

    def setUp(self):
        self.port, self.admin, *backend_ports = distinct_ports(2 + len(SERVERS))
        self.backends = [self.enterContext(CounterBackend(name, port)) for name, port in zip(SERVERS, backend_ports)]
        self.servers = [(b.name, b.address) for b in self.backends]
        self.bindir = Path(tempfile.mkdtemp(prefix="cplb-upgrade-bin-"))
        self.addCleanup(shutil.rmtree, self.bindir, True)
        self.binary = self.bindir / "cplb"
        shutil.copyfile(cplb_binary(), self.binary)
        os.chmod(self.binary, 0o755)
        self.cplb = self.enterContext(Cplb(config(self.port, self.admin, self.servers),
                                           wait_ports=[self.port, self.admin], log_level="info",
                                           binary=self.binary))
        self.cplb.track_pid(self.cplb.pid, current=True)
        try:
            wait_until(lambda: {s: self.state(s) for s in SERVERS} == {s: "up" for s in SERVERS}, 5,
                       what="every server up")
        except TimeoutError as error:
            self.fail(f"{error}\n{self.context()}")
        self.metrics = MetricsWatch(self.admin)
        self.metrics.start()
        self.addCleanup(self.metrics.stop)
        self.load = Load("127.0.0.1", self.port, streams=STREAMS, bulks=4)
        self.addCleanup(self.load.finish)
        self.load.start()
        try:
            self.load.wait_ready(10)
        except TimeoutError as error:
            self.fail(f"{error}\n{self.context()}")

    # --- observations ----------------------------------------------------------------------------

    def status(self):
        return admin_status(self.admin, timeout=2.0)

    def state(self, server):
        return server_status(self.status(), "be", server)["state"]

    def metric(self, name, **labels):
        """The sum of the samples of `name` whose labels include `labels` (0 when there is none)."""
        status, body = http_get("127.0.0.1", self.admin, "/metrics", timeout=2.0)
        self.assertEqual(status, 200, body)
        wanted = set(labels.items())
        return sum(v for k, v in metric_samples(body, name).items() if wanted <= k)

    def upgrades(self, result):
        return self.metric("cplb_upgrades_total", result=result)

    def lines(self, marker):
        return [line for line in self.cplb.log_text().splitlines() if marker in line]

    def context(self):
        """What a failure message shows: the load, the cplb log tail, the backends' complaints."""
        log = [line for line in self.cplb.log_text().splitlines() if "probe" not in line]
        parts = [f"load: {self.load.summary()}" if hasattr(self, "load") else "",
                 f"load problems: {self.load.problems[:20]}" if hasattr(self, "load") else "",
                 f"pids: {self.cplb.pids}, exit codes: {self.cplb.exit_codes}",
                 "--- cplb log tail ---", *log[-80:]]
        for backend in getattr(self, "backends", []):
            text = backend.log_text().strip()
            if text:
                parts += [f"--- backend {backend.name} ---", *text.splitlines()[-20:]]
        return "\n".join(parts)

    def assert_load_clean(self, what):
        self.assertEqual(self.load.problems, [], f"{what}\n{self.context()}")

    def run_load(self, seconds=LOAD_BETWEEN):
        """`seconds` of load, then waits (bounded) until every part of it made progress."""
        since = self.load.snapshot()
        time.sleep(seconds)
        try:
            self.load.wait_progress(since, timeout=10)
        except TimeoutError as error:
            self.fail(f"{error}\n{self.context()}")

    def upgrade(self):
        """One successful upgrade (SIGUSR2 to the serving pid), checked: /status names the successor
        and the old process exited (0, when the test could reap it) within UPGRADE_TIMEOUT; its log
        lines name each other's pids. Returns (old, new, seconds)."""
        took_over_before = len(self.lines(TOOK_OVER_LINE))
        try:
            old, new, seconds = self.cplb.upgrade(self.admin)
        except TimeoutError as error:
            self.fail(f"{error}\n{self.context()}")
        self.assertLess(seconds, UPGRADE_TIMEOUT)
        code = self.cplb.exit_code(old)
        if SUBREAPER:
            self.assertIsNotNone(code, f"the old process {old} was not reaped by the test")
        if code is not None:
            self.assertEqual(code, 0, f"the old process {old} exited {code}\n{self.context()}")
        try:
            wait_until(lambda: len(self.lines(TOOK_OVER_LINE)) > took_over_before, 2,
                       what="the successor's `took over` line")
        except TimeoutError as error:
            self.fail(f"{error}\n{self.context()}")
        took_over = self.lines(TOOK_OVER_LINE)[-1]
        self.assertEqual(field(took_over, "pid"), str(old), took_over)
        sessions = field(took_over, "sessions")
        self.assertIsNotNone(sessions, took_over)
        self.assertGreaterEqual(int(sessions), self.load.open_streams(),
                                f"the successor took over fewer sessions than the streams open: {took_over}")
        started = [line for line in self.lines(STARTED_LINE) if field(line, "pid") == str(new)]
        self.assertEqual(len(started), 1, f"no `upgrade started` line names pid {new}\n{self.context()}")
        status = self.status()
        self.assertEqual(status.get("pid"), new)
        self.assertIn("started_at", status)
        return old, new, seconds

    def assert_failed_upgrade_keeps_serving(self, old, reason_pattern):
        """After a SIGUSR2 whose successor cannot take over: one error line (whose reason matches
        `reason_pattern`), the same pid serving, the failure counted, nothing lost."""
        try:
            self.cplb.wait_log(re.escape(FAILED_LINE), timeout=UPGRADE_TIMEOUT)
        except TimeoutError as error:
            self.fail(f"{error}\n{self.context()}")
        self.run_load(0.5)  # a second line would have come by now
        failed = self.lines(FAILED_LINE)
        self.assertEqual(len(failed), 1, "\n".join(failed))
        self.assertIn("level=error", failed[0])
        reason = field(failed[0], "reason")
        self.assertTrue(reason, failed[0])
        self.assertRegex(reason, reason_pattern, failed[0])
        self.assertFalse(self.cplb.pid_exited(old), f"the old process exited\n{self.context()}")
        self.assertEqual(self.status().get("pid"), old)
        self.assertEqual(self.cplb.current_pid, old)
        self.assertEqual(self.upgrades("failure"), 1)
        self.assertEqual(self.upgrades("success"), 0)
        self.assertEqual(self.lines(TOOK_OVER_LINE), [])
        self.assertEqual(self.lines(DONE_LINE), [])
        self.assertEqual(self.load.open_streams(), STREAMS, self.context())
        self.assert_load_clean("the load saw a failure during the failed upgrade")

    def assert_upgrade_works_after_the_failure(self):
        """Once what failed the upgrade is put right: an upgrade succeeds, the load ends clean,
        both upgrades are counted and no health was relearned."""
        self.upgrade()
        self.run_load(0.5)
        self.finish_load()
        self.assertEqual(self.upgrades("success"), 1)
        self.assertEqual(self.upgrades("failure"), 1)
        self.assert_health_kept()

    def finish_load(self):
        problems = self.load.finish()
        self.assertEqual(problems, [], f"the load did not end cleanly\n{self.context()}")

    def assert_health_kept(self):
        log = self.cplb.log_text()
        first_up = log.find('msg="server up"')
        self.assertGreaterEqual(first_up, 0)
        self.assertNotIn('msg="server down"', log[first_up:], self.context())
        for server in SERVERS:
            ups = re.findall(rf'msg="server up"[^\n]*\bserver={server}\b', log)
            self.assertEqual(len(ups), 1, f"{server}'s health was relearned\n{self.context()}")

    # --- the tests -------------------------------------------------------------------------------

    def test_five_upgrades_lose_nothing(self):
        seen = [self.cplb.current_pid]
        for _ in range(5):
            old, new, _seconds = self.upgrade()
            self.assertEqual(old, seen[-1])
            self.assertNotIn(new, seen)
            seen.append(new)
            self.metrics.scrape()
            self.run_load()
            self.assert_load_clean(f"the load saw a failure by upgrade {len(seen) - 1}")
        self.assertEqual(self.load.open_streams(), STREAMS, self.context())
        # The sessions taken over are dealt to the workers by load: the long-lived ones end up
        # split about evenly (a few short connections come and go meanwhile).
        split = [self.metric("cplb_worker_active_connections", worker=str(w)) for w in (0, 1)]
        self.assertLessEqual(abs(split[0] - split[1]), 8, f"sessions per worker after the upgrades: {split}")
        self.finish_load()
        self.assertTrue(all(self.cplb.pid_exited(pid) for pid in seen[:-1]))
        self.assertFalse(self.cplb.pid_exited(seen[-1]))
        self.assertEqual(self.upgrades("success"), 5)
        self.assertEqual(self.upgrades("failure"), 0)
        self.assertEqual(len(self.lines(TOOK_OVER_LINE)), 5)
        self.assertEqual(len(self.lines(DONE_LINE)), 5)
        self.assertEqual(self.lines(FAILED_LINE), [])
        self.metrics.scrape()
        self.metrics.stop()
        self.assertEqual(self.metrics.decreases(), [],
                         f"cplb_frontend_connections_total went down: a counter was reset (scrape errors: "
                         f"{self.metrics.errors[:5]})")
        self.assertGreater(len(self.metrics.values), 10)
        self.assert_health_kept()
        self.assertNotIn("level=error", self.cplb.log_text())

    def test_a_binary_that_exits_at_once_leaves_the_old_one_serving(self):
        old = self.cplb.current_pid
        write_replacing(self.binary, b"#!/bin/sh\nexit 3\n")
        self.cplb.signal_current(signal.SIGUSR2)
        self.assert_failed_upgrade_keeps_serving(old, r"(?i)exit|status|code|3")
        # The real binary back: an upgrade works, and the failure is still counted.
        write_replacing(self.binary, cplb_binary())
        self.assert_upgrade_works_after_the_failure()

    def test_an_invalid_config_on_disk_fails_the_upgrade_and_keeps_serving(self):
        old = self.cplb.current_pid
        good = self.cplb.config_path.read_text()
        self.cplb.write_config("frontends: [ {name: fe, listen: 127.0.0.1:1\nbackends: : :\n")
        self.cplb.signal_current(signal.SIGUSR2)
        self.assert_failed_upgrade_keeps_serving(
            old, r"(?i)config|\.yaml|(status|code|exit(ed)?( with)?)[ =:]*1\b")
        self.cplb.write_config(good)
        self.assert_upgrade_works_after_the_failure()

    def test_a_second_sigusr2_during_an_upgrade_is_refused(self):
        # Two SIGUSR2 sent before cplb handles the first are one signal to the kernel (standard
        # signals do not queue), so the second is sent once the old process has logged `upgrade
        # started`, and the successor is held for a second by a wrapper that then execs the real
        # binary (the same pid): the second signal lands while the upgrade is in progress.
        real = self.bindir / "cplb.real"
        write_replacing(real, cplb_binary())
        write_replacing(self.binary, f'#!/bin/sh\nsleep 1\nexec "{real}" "$@"\n'.encode())
        old = self.cplb.current_pid
        signalled = time.monotonic()
        os.kill(old, signal.SIGUSR2)
        try:
            self.cplb.wait_log(re.escape(STARTED_LINE), timeout=2)
        except TimeoutError as error:
            self.fail(f"{error}\n{self.context()}")
        os.kill(old, signal.SIGUSR2)
        try:
            self.cplb.wait_log(re.escape(REFUSED_LINE), timeout=2)
            old_pid, new, _seconds = self.cplb.wait_upgraded(old, signalled, self.admin)
        except TimeoutError as error:
            self.fail(f"{error}\n{self.context()}")
        self.assertEqual(old_pid, old)
        self.run_load()
        self.finish_load()
        self.assertEqual(len(self.lines(REFUSED_LINE)), 1, self.context())
        self.assertEqual(len(self.lines(STARTED_LINE)), 1, self.context())
        self.assertEqual(len(self.lines(TOOK_OVER_LINE)), 1, self.context())
        self.assertEqual(len(self.lines(DONE_LINE)), 1, self.context())
        self.assertEqual(self.lines(FAILED_LINE), [])
        self.assertEqual(self.upgrades("success"), 1)
        self.assertEqual(self.upgrades("failure"), 0)
        self.assertEqual(self.status().get("pid"), new)
        code = self.cplb.exit_code(old)
        if code is not None:
            self.assertEqual(code, 0)
        self.assert_health_kept()

    def test_sighup_during_an_upgrade_is_applied_by_the_new_process(self):
        self.assertEqual(server_status(self.status(), "be", "s1")["weight"], 1)
        self.cplb.write_config(config(self.port, self.admin, self.servers, weights={"s1": 7}))
        old = self.cplb.current_pid
        signalled = time.monotonic()
        os.kill(old, signal.SIGUSR2)
        try:
            os.kill(old, signal.SIGHUP)
        except ProcessLookupError:
            pass  # already handed over: the successor read the new file itself
        try:
            _, new, _seconds = self.cplb.wait_upgraded(old, signalled, self.admin)
            wait_until(lambda: server_status(self.status(), "be", "s1")["weight"] == 7, 5,
                       what="s1 at weight 7 in the new process's /status")
        except TimeoutError as error:
            self.fail(f"{error}\n{self.context()}")
        self.assertEqual(self.status().get("pid"), new)
        code = self.cplb.exit_code(old)
        if code is not None:
            self.assertEqual(code, 0, "the old process did not exit cleanly (killed by SIGHUP?)")
        self.run_load()
        self.finish_load()
        self.assertEqual(self.upgrades("success"), 1)
        self.assertNotRegex(self.cplb.log_text(), r"level=error", self.context())
        self.assert_health_kept()


if __name__ == "__main__":
    unittest.main()
