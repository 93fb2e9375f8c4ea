"""Helpers for cplb's integration tests (stdlib only, unittest-friendly).

The build directory comes from the environment variable CPLB_BUILD_DIR (the CTest entries set it).
Every wait here is bounded, and every process a helper starts is stopped, by PID, when its `with`
block ends, whether the block passed or failed. The certificate helpers of tests/support/certs.py
are re-exported as `harness.certs`.
"""

import collections
import dataclasses
import http.client
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))
import certs  # noqa: E402  (tests/support/certs.py)

__all__ = [
    "certs", "build_dir", "cplb_binary", "fake_apiserver_binary", "FakeApiserver", "Cplb", "run_check",
    "free_port", "stable_port", "wait_until", "tls_client_context", "http_get", "https_get",
    "echo_roundtrip", "admin_status", "server_status", "metric_samples", "WatchClient", "WatchStream",
    "RequestClient", "become_subreaper", "UPGRADE_TIMEOUT",
]

START_TIMEOUT = 10.0  # seconds for a started process to be ready
UPGRADE_TIMEOUT = 5.0  # seconds from SIGUSR2 until the old cplb has handed over and exited
STOP_TIMEOUT = 10.0  # seconds for a signalled process to exit before SIGKILL
_LOG_TAIL_LINES = 200  # lines of a process log shown when a test fails


def build_dir():
    """The cplb build directory from CPLB_BUILD_DIR; raises when it is not set or missing."""
    value = os.environ.get("CPLB_BUILD_DIR")
    if not value:
        raise RuntimeError("CPLB_BUILD_DIR is not set: point it at the cplb build directory")
    path = Path(value).resolve()
    if not path.is_dir():
        raise RuntimeError(f"CPLB_BUILD_DIR={value} is not a directory")
    return path


def cplb_binary():
    """Path of the cplb daemon in the build directory."""
    return build_dir() / "src" / "app" / "cplb"


def fake_apiserver_binary():
    """Path of fake-apiserver in the build directory."""
    return build_dir() / "tests" / "support" / "fake-apiserver"


def format_address(host, port):
    """`127.0.0.1:80` or `[::1]:80`, as cplb configs and fake-apiserver flags take it."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _parse_address(text):
    """(host, port) from `127.0.0.1:80` or `[::1]:80`."""
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def wait_until(predicate, timeout=5.0, interval=0.05, what="condition"):
    """Calls predicate until it returns something truthy and returns that; raises TimeoutError after timeout
    seconds, naming `what` and the last exception predicate raised, if any."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as error:  # noqa: BLE001  (reported if the wait times out)
            last_error = error
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(f"{what} not met within {timeout}s{detail}")
        time.sleep(interval)


def free_port(host="127.0.0.1"):
    """A TCP port that was free a moment ago (bind port 0, read it, close)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _ephemeral_port_range():
    """The kernel's range of ports for outgoing connections (and port 0 binds)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def stable_port(host="127.0.0.1"):
    """A free TCP port below the ephemeral range, so no outgoing connection can take it while its
    server is down: for a server that restarts on the same port. Raises after 200 tries."""
    low = _ephemeral_port_range()[0]
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(10000, max(low, 10001))
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


def _listening_ports(pid):
    """The TCP ports in LISTEN state in the network namespace of process `pid`."""
    ports = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[3] == "0A":  # 0A = LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def tls_client_context(ca=None, cert=None, key=None, insecure=False):
    """A client TLS context: verifies the server against `ca` (a file; None = the system store) unless
    `insecure`, and presents `cert`/`key` when given (mTLS)."""
    context = ssl.create_default_context(cafile=str(ca) if ca else None)
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert:
        context.load_cert_chain(str(cert), str(key))
    return context


def _request(connection, path, headers):
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def http_get(host, port, path, timeout=5.0, headers=None):
    """GET over plain HTTP on a new connection; returns (status, body)."""
    return _request(http.client.HTTPConnection(host, port, timeout=timeout), path, headers)


def https_get(host, port, path, ca=None, insecure=None, timeout=5.0, cert=None, key=None, headers=None,
              server_hostname=None):
    """GET over HTTPS on a new connection; returns (status, body). Verifies the server against `ca` when
    given; `insecure` defaults to "no ca given". `server_hostname` sets SNI and the name verified (default
    host). TLS errors (bad certificate, handshake refused) raise ssl.SSLError or OSError."""
    if insecure is None:
        insecure = ca is None
    context = tls_client_context(ca, cert, key, insecure)
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        tls_sock = context.wrap_socket(sock, server_hostname=server_hostname or host)
    except BaseException:
        sock.close()
        raise
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    connection.sock = tls_sock  # http.client uses a socket already set instead of connecting
    return _request(connection, path, headers)


def echo_roundtrip(host, port, payload, timeout=5.0):
    """Connects, sends payload, half-closes, and returns every byte received until the server's EOF
    (an echo server with --echo-greeting puts `NAME\\n` first)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def _stop_process(process, timeout=STOP_TIMEOUT):
    """SIGTERM, wait up to timeout, then SIGKILL; returns the exit code."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill_process(process)
    return process.returncode


def _kill_process(process):
    """SIGKILL and reap; returns the exit code."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(STOP_TIMEOUT)
    return process.returncode


def _sanitizer_report(log_text):
    """The first AddressSanitizer, LeakSanitizer or UBSan report in a log, or None."""
    match = re.search(r"==\d+==ERROR: (Address|Leak)Sanitizer|runtime error: ", log_text)
    if not match:
        return None
    start = log_text.rfind("\n", 0, match.start()) + 1
    return log_text[start:start + 4000]


def _tail(path, lines=_LOG_TAIL_LINES):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class FakeApiserver:
    """fake-apiserver as a context manager, on a free port chosen by itself (or `port`).

    `tls` is a certs.Pair for the server certificate (None = plain HTTP), `client_ca` a CA file that
    turns on mTLS. With `control=True` (the default) a control listener lets the test switch readiness
    and read stats. `watch_interval` and `shutdown_delay` are durations (`200ms`, `1s`) passed as
    --watch-interval and --shutdown-delay (None = the server's defaults, 200ms and 0s). After stop(),
    kill() or terminate() + wait(), restart() starts it again on the same data port (and the same
    control port when `control_port` was given): pass a `stable_port()` as `port` for that.
    `command_prefix` runs it through another command, e.g. `ip netns exec NS` (which execs, so
    the PID stays the server's).
    """

    def __init__(self, name="apiserver", host="127.0.0.1", port=0, tls=None, client_ca=None, control=True,
                 echo=False, echo_greeting=False, readiness="ok", require_token=None, watch_interval=None,
                 shutdown_delay=None, control_port=0, command_prefix=()):
        self.name = name
        self.host = host
        self.port = None  # the data-plane port, once started
        self.control_port = None  # the control port, once started
        self.process = None
        self._listen_port = port
        self._control_listen_port = control_port
        options = ["--name", name, "--readiness", readiness]
        if tls:
            options += ["--cert", str(tls.cert), "--key", str(tls.key)]
        if client_ca:
            options += ["--client-ca", str(client_ca)]
        if echo:
            options.append("--echo")
        if echo_greeting:
            options.append("--echo-greeting")
        if require_token:
            options += ["--require-token", require_token]
        if watch_interval is not None:
            options += ["--watch-interval", watch_interval]
        if shutdown_delay is not None:
            options += ["--shutdown-delay", shutdown_delay]
        self._options = options
        self._prefix = list(command_prefix)
        self._control = control
        self._stderr = None

    @property
    def _args(self):
        args = [*self._prefix, str(fake_apiserver_binary()), "--listen",
                format_address(self.host, self._listen_port), *self._options]
        if self._control:
            args += ["--control", format_address("127.0.0.1", self._control_listen_port)]
        return args

    @property
    def address(self):
        """`host:port` of the data plane, as a cplb server address."""
        return format_address(self.host, self.port)

    @property
    def pid(self):
        """The process id."""
        return self.process.pid

    def start(self):
        """Starts the process and waits (bounded) for its `listening` line."""
        if self.process and self.process.poll() is None:
            raise RuntimeError(f"fake-apiserver {self.name} is running already")
        self._stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(self._args, stdout=subprocess.PIPE, stderr=self._stderr, text=True)
        lines = {}
        reader = threading.Thread(target=self._read_banner, args=(lines,), daemon=True)
        reader.start()
        reader.join(START_TIMEOUT)
        if "listening" not in lines or (self._control and "control" not in lines):
            code = _kill_process(self.process)
            self._stderr.seek(0)
            output = self._stderr.read().decode(errors="replace")
            self.kill()
            raise RuntimeError(f"fake-apiserver {self.name} did not start (exit {code}): "
                               f"{' '.join(self._args)}\n{output}")
        self.port = _parse_address(lines["listening"])[1]
        if self._control:
            self.control_port = _parse_address(lines["control"])[1]
        return self

    def restart(self):
        """Starts the stopped (or killed, or terminated and waited for) server again on the same data
        port; the control port is the same one only when it was given. Raises when it is running."""
        if self.port is None:
            raise RuntimeError("restart() before start()")
        if self.process.poll() is not None:
            self._release(lambda process: process.returncode)  # pipes of a terminate() + wait()
        self._listen_port = self.port
        return self.start()

    def _read_banner(self, lines):
        for line in self.process.stdout:
            word, _, address = line.strip().partition(" ")
            lines[word] = address
            if word == "listening":
                return

    def _control_get(self, path):
        if not self._control:
            raise RuntimeError("started with control=False")
        return http_get("127.0.0.1", self.control_port, path)

    def set_readiness(self, mode):
        """Sets how /readyz and /healthz answer: ok, 500, hang or close."""
        status, body = self._control_get(f"/readiness?mode={mode}")
        if status != 200:
            raise RuntimeError(f"set_readiness({mode}): {status} {body}")

    def stats(self):
        """{"connections": accepted total, "requests": total, "active": open now, "watches": watch streams
        open now} of the data plane."""
        status, body = self._control_get("/stats")
        if status != 200:
            raise RuntimeError(f"stats: {status} {body}")
        return json.loads(body)

    def toggle_readiness(self):
        """Sends SIGUSR1: readiness goes from ok to 500, or from anything else to ok."""
        os.kill(self.process.pid, signal.SIGUSR1)

    def terminate(self):
        """Sends SIGTERM and returns at once: the graceful shutdown (readyz 500 for --shutdown-delay,
        then the watches end and the process exits) runs while the test watches; see wait()."""
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)

    def wait(self, timeout=STOP_TIMEOUT):
        """Waits up to timeout for the process to exit; returns the exit code, None if still running."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """SIGTERM, wait (bounded), then SIGKILL; returns the exit code."""
        return self._release(_stop_process)

    def kill(self):
        """SIGKILL at once, like a crashed apiserver; returns the exit code."""
        return self._release(_kill_process)

    def _release(self, end):
        if not self.process:
            return None
        code = end(self.process)
        self.process.stdout.close()
        if not self._stderr.closed:
            self._stderr.close()
        return code

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def with_data_path(config_yaml, path=None):
    """`config_yaml` with `global.data_path` set to `path` (default $CPLB_TEST_DATA_PATH), unless
    neither is set or the config chooses its own: CTest runs the integration suite on each data
    path this way."""
    path = path or os.environ.get("CPLB_TEST_DATA_PATH")
    if not path or "data_path:" in config_yaml:
        return config_yaml
    flow = re.compile(r"^global:\s*\{", re.M)
    if flow.search(config_yaml):
        return flow.sub(f"global: {{data_path: {path}, ", config_yaml, count=1)
    block = re.compile(r"^global:[ \t]*$", re.M)
    if block.search(config_yaml):
        return block.sub(f"global:\n  data_path: {path}", config_yaml, count=1)
    return f"global:\n  data_path: {path}\n{config_yaml}"


class Cplb:
    """The cplb daemon as a context manager.

    Writes `config_yaml` to cplb.yaml in a temporary directory, starts
    `cplb --config FILE --log-level debug` with stderr in cplb.log there, and waits until every port in
    `wait_ports` listens (without connecting to it) or the process exits (then raises with its log).
    The config gets $CPLB_TEST_DATA_PATH as its data path (with_data_path).
    `env` adds variables to the process's environment. On exit the process is stopped by PID whatever
    happened, and on a failure the log tail is printed.
    """

    def __init__(self, config_yaml, wait_ports=(), extra_args=(), log_level="debug", command_prefix=(),
                 env=None, binary=None):
        self.tmpdir = Path(tempfile.mkdtemp(prefix="cplb-test-"))
        self.config_path = self.tmpdir / "cplb.yaml"
        self.log_path = self.tmpdir / "cplb.log"
        self.stdout_path = self.tmpdir / "cplb.stdout"
        self.config_path.write_text(with_data_path(config_yaml))
        self._args = [*command_prefix, str(binary or cplb_binary()), "--config", str(self.config_path),
                      "--log-level", log_level, *extra_args]
        self._wait_ports = tuple(wait_ports)
        self._env = {**os.environ, **env} if env else None
        self.process = None
        # Binary upgrades (SIGUSR2): every cplb pid seen, oldest first, and the exit codes known.
        self.pids = []
        self.exit_codes = {}
        self._current_pid = None

    @property
    def pid(self):
        """The process id."""
        return self.process.pid

    def start(self):
        """Starts cplb and waits for its ports; raises with the log if it exits or times out first."""
        with open(self.log_path, "wb") as log, open(self.stdout_path, "wb") as out:
            self.process = subprocess.Popen(self._args, stdout=out, stderr=log, env=self._env)
        try:
            wait_until(lambda: self.process.poll() is not None or self._wait_ports_listening(),
                       START_TIMEOUT, what="cplb ports listening")
        except TimeoutError:
            _kill_process(self.process)
            raise RuntimeError(f"cplb did not listen on {list(self._wait_ports)} within {START_TIMEOUT}s:\n"
                               f"{self.log_text()}") from None
        if self.process.poll() is not None:
            raise RuntimeError(f"cplb exited with {self.process.returncode} at start:\n{self.log_text()}")
        return self

    def _wait_ports_listening(self):
        return set(self._wait_ports) <= _listening_ports(self.process.pid)

    def log_text(self):
        """Everything cplb wrote to stderr so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_log(self, pattern, timeout=5.0):
        """Waits until a log line matches the regex `pattern`; returns the match."""
        regex = re.compile(pattern)
        return wait_until(lambda: regex.search(self.log_text()), timeout,
                          what=f"log line matching {pattern!r}")

    def write_config(self, config_yaml):
        """Replaces the config file (takes effect at the next reload)."""
        self.config_path.write_text(with_data_path(config_yaml))

    def reload(self, config_yaml=None):
        """Sends SIGHUP, first replacing the config file when `config_yaml` is given."""
        if config_yaml is not None:
            self.write_config(config_yaml)
        os.kill(self.process.pid, signal.SIGHUP)

    def terminate(self, timeout=STOP_TIMEOUT):
        """SIGTERM and wait up to timeout; returns the exit code, or None if cplb is still running."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        """SIGKILL; returns the exit code."""
        return _kill_process(self.process)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self._cleanup()
            raise

    def __exit__(self, exc_type, exc, tb):
        successors = self.successor_pids() if self.process else []
        if self.process:
            _stop_process(self.process)
        self._stop_successors(successors)
        sanitizer_report = _sanitizer_report(self.log_text())
        if exc_type is not None or sanitizer_report:
            sys.stderr.write(f"\n--- cplb log tail ({self.log_path}) ---\n{_tail(self.log_path)}\n---\n")
        self._cleanup()
        if sanitizer_report and exc_type is None:
            raise AssertionError(f"cplb reported a sanitizer error:\n{sanitizer_report}")

    def _cleanup(self):
        successors = self.successor_pids() if self.process else []
        if self.process and self.process.poll() is None:
            _kill_process(self.process)
        self._stop_successors(successors, signal.SIGKILL)
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    # --- binary upgrades (SIGUSR2) -------------------------------------------------------------------
    #
    # The successor of an upgrade is a child of the old process, not of the test: it is found by its
    # pid in /status, in the old process's `upgrade started pid=N` line and among the children of
    # the cplb processes known; it is only ever signalled after /proc/PID/cmdline shows this
    # instance's config file (so a reused pid is never hit). It writes to the same log file.

    @property
    def current_pid(self):
        """The pid of the cplb process serving now: the started one, then the newest one /status named
        in upgrade()."""
        return self._current_pid or self.process.pid

    def track_pid(self, pid, current=False):
        """Records a cplb pid of this instance (stopped at cleanup); `current`: it serves now."""
        if pid not in self.pids:
            self.pids.append(pid)
        if current:
            self._current_pid = pid

    def signal_current(self, sig):
        """Sends `sig` to current_pid."""
        os.kill(self.current_pid, sig)

    def pid_exited(self, pid):
        """Whether cplb process `pid` has exited (reaps it, and records its exit code, when it is a child
        of the test: the started one, or a successor reparented to a subreaper test; see
        become_subreaper())."""
        if pid in self.exit_codes:
            return True
        if self.process is not None and pid == self.process.pid:
            if self.process.poll() is None:
                return False
            self.exit_codes[pid] = self.process.returncode
            return True
        try:
            reaped, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            state = _process_state(pid)
            return state is None or state in "ZX"  # a zombie of another parent has exited too
        if reaped == 0:
            return False
        self.exit_codes[pid] = os.waitstatus_to_exitcode(status)
        return True

    def exit_code(self, pid):
        """The exit code of cplb process `pid` when known (see pid_exited()), else None."""
        self.pid_exited(pid)
        return self.exit_codes.get(pid)

    def upgrade_started_pids(self):
        """The pids named by the `upgrade started` lines of the log, in order."""
        return [int(m) for m in re.findall(r'msg="upgrade started"[^\n]*?\bpid=(\d+)', self.log_text())]

    def _is_ours(self, pid):
        try:
            arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return str(self.config_path).encode() in arguments

    def successor_pids(self):
        """The live processes of this instance other than the started one: every pid tracked or named
        in an `upgrade started` line, and the children of those and of the started process (an
        upgrade in flight), transitively."""
        known = set(self.pids) | set(self.upgrade_started_pids())
        if self.process is not None:
            known.add(self.process.pid)
        known |= _descendants(known)
        started = self.process.pid if self.process is not None else None
        return sorted(pid for pid in known if pid != started and self._is_ours(pid) and not self.pid_exited(pid))

    def _stop_successors(self, pids=(), first_signal=signal.SIGTERM):
        """Ends the successor processes (and `pids`): `first_signal`, up to STOP_TIMEOUT, then SIGKILL."""
        pending = set(pids) | set(self.successor_pids())
        pending = {pid for pid in pending if self._is_ours(pid)}
        for sig in (first_signal, signal.SIGKILL):
            for pid in sorted(pending):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + (STOP_TIMEOUT if sig != signal.SIGKILL else 5.0)
            while pending and time.monotonic() < deadline:
                pending = {pid for pid in pending if not self.pid_exited(pid)}
                pending |= set(self.successor_pids())  # one started meanwhile
                if pending:
                    time.sleep(0.02)
            if not pending:
                return

    def kill_all(self):
        """SIGKILL to the started process and every successor; waits (bounded) for them to exit."""
        successors = self.successor_pids() if self.process else []
        if self.process is not None:
            _kill_process(self.process)
        self._stop_successors(successors, signal.SIGKILL)

    def upgrade(self, admin_port=None, timeout=UPGRADE_TIMEOUT, status=None):
        """Sends SIGUSR2 to current_pid and waits (bounded by `timeout` from the signal) until /status
        shows another pid and the old process has exited; returns (old_pid, new_pid, seconds from the
        signal until both were seen). /status comes from `status()` (a dict) when given, else from
        127.0.0.1:admin_port. Raises TimeoutError saying what was not seen."""
        old = self.current_pid
        self.track_pid(old)
        signalled = time.monotonic()
        os.kill(old, signal.SIGUSR2)
        return self.wait_upgraded(old, signalled, admin_port, timeout, status)

    def wait_upgraded(self, old, signalled, admin_port=None, timeout=UPGRADE_TIMEOUT, status=None):
        """The waiting half of upgrade(), for a test that sent SIGUSR2 to `old` itself at monotonic time
        `signalled`; returns (old_pid, new_pid, seconds)."""
        get_status = status or (lambda: admin_status(admin_port, timeout=1.0))
        self.track_pid(old)
        new, old_exited, last_error = None, False, None
        while True:
            for pid in self.upgrade_started_pids():
                self.track_pid(pid)
            try:
                pid = get_status().get("pid")
                if isinstance(pid, int) and pid != old:
                    new = pid
                    self.track_pid(new, current=True)
            except Exception as error:  # noqa: BLE001  (an admin socket in the middle of a hand-over)
                last_error = error
            old_exited = old_exited or self.pid_exited(old)
            if new is not None and old_exited:
                return old, new, time.monotonic() - signalled
            if time.monotonic() - signalled >= timeout:
                seen = f"/status names pid {new}" if new else "/status still names the old pid"
                detail = f"; last /status error: {last_error!r}" if last_error and not new else ""
                code = self.exit_codes.get(old)
                ended = f"exited{f' ({code})' if code is not None else ''}" if old_exited else "still running"
                raise TimeoutError(f"upgrade of pid {old} not done within {timeout}s: {seen}, old process "
                                   f"{ended}{detail}")
            time.sleep(0.02)


def become_subreaper():
    """Makes this process the child subreaper of its descendants (prctl PR_SET_CHILD_SUBREAPER): an
    orphan, such as the successor of an upgraded cplb whose parent exited, becomes a child of the test,
    so Cplb.pid_exited() can reap it and read its exit code. Returns whether it worked."""
    import ctypes  # noqa: PLC0415  (only tests of binary upgrades need it)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def _process_state(pid):
    """The state letter of /proc/PID/stat (R, S, Z, ...), or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return fields[0] if fields else None


def _descendants(pids):
    """Every live process whose parent, grandparent, ... is in `pids` (from /proc)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()
            parents[int(entry)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = set(), set(pids)
    while frontier:
        children = {child for child, parent in parents.items() if parent in frontier and child not in found}
        found |= children
        frontier = children
    return found


def run_check(config_yaml, timeout=STOP_TIMEOUT):
    """Runs `cplb --config FILE --check` on config_yaml; returns (rc, stdout, stderr)."""
    with tempfile.TemporaryDirectory(prefix="cplb-check-") as work:
        path = Path(work) / "cplb.yaml"
        path.write_text(config_yaml)
        result = subprocess.run([str(cplb_binary()), "--config", str(path), "--check"], capture_output=True,
                                text=True, timeout=timeout)
        return result.returncode, result.stdout, result.stderr


def admin_status(admin_port, timeout=5.0):
    """cplb's GET /status on 127.0.0.1:admin_port, as a dict."""
    status, body = http_get("127.0.0.1", admin_port, "/status", timeout=timeout)
    if status != 200:
        raise RuntimeError(f"/status answered {status}: {body}")
    return json.loads(body)


def server_status(status, backend, server):
    """The entry of `server` in `backend` of a /status dict (state, reason, active_sessions, ...)."""
    for b in status["backends"]:
        if b["name"] == backend:
            for s in b["servers"]:
                if s["name"] == server:
                    return s
    raise KeyError(f"no server {backend}/{server} in /status")


def metric_samples(text, name):
    """{frozenset(labels.items()): value} of the samples of metric `name` in Prometheus text."""
    out = {}
    for line in text.splitlines():
        match = re.match(rf"^{re.escape(name)}(?:{{(.*)}})? (\S+)$", line)
        if match:
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
            out[labels] = float(match.group(2))
    return out


class _Stopped(Exception):
    """The client was asked to stop while it waited for bytes."""


class _Reader:
    """Reads lines and exact byte counts from a socket (plain or TLS) with a short poll timeout, so a
    stop request is seen within `poll` seconds; raises EOFError at the peer's close, TimeoutError when
    no byte came for `stall_timeout` seconds, _Stopped when `stopping()` turns true."""

    def __init__(self, sock, stall_timeout, stopping=lambda: False, poll=0.1):
        self._sock = sock
        self._stall_timeout = stall_timeout
        self._stopping = stopping
        self._buffer = b""
        self.received = 0  # bytes received so far
        sock.settimeout(poll)

    def _fill(self):
        deadline = time.monotonic() + self._stall_timeout
        while True:
            if self._stopping():
                raise _Stopped()
            try:
                data = self._sock.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"no byte for {self._stall_timeout}s") from None
                continue
            if not data:
                raise EOFError("the peer closed the connection")
            self.received += len(data)
            self._buffer += data
            return

    def line(self):
        """The next line without its CRLF."""
        while b"\r\n" not in self._buffer:
            self._fill()
        line, _, self._buffer = self._buffer.partition(b"\r\n")
        return line

    def exact(self, size):
        """The next `size` bytes."""
        while len(self._buffer) < size:
            self._fill()
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def head(self):
        """(status code, {lowercase header: value}) of the next response."""
        status_line = self.line().decode("latin-1")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ValueError(f"bad status line {status_line!r}")
        headers = {}
        while line := self.line():
            key, _, value = line.decode("latin-1").partition(":")
            headers[key.strip().lower()] = value.strip()
        return int(parts[1]), headers


def _connect(host, port, tls_context, server_hostname, timeout):
    """A connected socket, TLS-wrapped when `tls_context` is given."""
    sock = socket.create_connection((host, port), timeout=timeout)
    if tls_context is None:
        return sock
    try:
        return tls_context.wrap_socket(sock, server_hostname=server_hostname or host)
    except BaseException:
        sock.close()
        raise


def _close(sock):
    try:
        sock.close()
    except OSError:
        pass


@dataclasses.dataclass
class WatchStream:
    """One watch attempt of a WatchClient; times are time.monotonic()."""
    opened_at: float  # the connect began
    established_at: float = None  # the first event arrived (None: never)
    server: str = None  # the server named by the events
    events: int = 0  # events received
    ended_at: float = None  # the stream ended (None: still open)
    end: str = None  # terminator (clean `0` chunk), eof, reset, stalled, error, stopped

    @property
    def established(self):
        return self.established_at is not None


class _LoadThread(threading.Thread):
    """A daemon thread that runs until stop(): a context manager whose exit stops it (bounded)."""

    def __init__(self, name):
        super().__init__(daemon=True, name=name)
        self._stop_event = threading.Event()

    def _stop_timeout(self):
        return 5.0

    def stop(self, timeout=None):
        """Ends the thread (bounded); raises if it does not end in time."""
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout if timeout is not None else self._stop_timeout())
            if self.is_alive():
                raise RuntimeError(f"{type(self).__name__} did not stop")

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


class WatchClient(_LoadThread):
    """A watch like client-go's: a keep-alive connection to host:port, `GET /watch`, events read as they
    come; whenever the stream ends (the last chunk, EOF, a reset) it is re-opened at once on a new
    connection. Every attempt is kept as a WatchStream: which server answered (from the events), when it
    was established (first event) and when and how it ended. A failed attempt (refused, no first event,
    a status other than 200, a stream silent for `stall_timeout`) is counted in `errors` and retried
    after `retry_pause`. start() it, then stop() it (bounded); also a context manager."""

    def __init__(self, host, port, *, path="/watch", tls_context=None, server_hostname=None,
                 connect_timeout=2.0, stall_timeout=5.0, retry_pause=0.05):
        super().__init__(f"watch-client-{port}")
        self._address = (host, port)
        self._request = (f"GET {path}?watch=true HTTP/1.1\r\nHost: {format_address(host, port)}\r\n"
                         "Accept: application/json\r\nUser-Agent: watch-client\r\n\r\n").encode()
        self._tls_context = tls_context
        self._server_hostname = server_hostname
        self._connect_timeout = connect_timeout
        self._stall_timeout = stall_timeout
        self._retry_pause = retry_pause
        self._lock = threading.Lock()
        self._streams = []
        self._errors = []

    # --- what a test reads (copies, safe while the thread runs)

    @property
    def streams(self):
        """Every attempt so far, oldest first (copies)."""
        with self._lock:
            return [dataclasses.replace(s) for s in self._streams]

    @property
    def errors(self):
        """[(monotonic time, description)] of the failed attempts."""
        with self._lock:
            return list(self._errors)

    @property
    def current(self):
        """The stream open and established now, or None."""
        with self._lock:
            last = self._streams[-1] if self._streams else None
            return dataclasses.replace(last) if last and last.established and last.ended_at is None else None

    @property
    def current_server(self):
        """The server of the stream open now, or None."""
        current = self.current
        return current.server if current else None

    def reopen_gaps(self):
        """[(ended stream, seconds until the next stream was established, or None if none was yet)] for
        every established stream that ended (not by stop())."""
        streams = self.streams
        gaps = []
        for i, stream in enumerate(streams):
            if not stream.established or stream.ended_at is None or stream.end == "stopped":
                continue
            following = next((s for s in streams[i + 1:] if s.established), None)
            gaps.append((stream, following.established_at - stream.ended_at if following else None))
        return gaps

    def wait_established(self, timeout=5.0):
        """Waits (bounded) until a stream is open and established; returns its server."""
        return wait_until(lambda: self.current_server, timeout, what="watch established")

    # --- the thread

    def request_stop(self):
        """Asks the thread to end (within 0.1 s, or a connect timeout) without waiting for it."""
        self._stop_event.set()


    def run(self):
        while not self._stop_event.is_set():
            stream = WatchStream(opened_at=time.monotonic())
            with self._lock:
                self._streams.append(stream)
            stream_end, problem = self._watch(stream)
            with self._lock:
                stream.ended_at = time.monotonic()
                stream.end = stream_end
                if problem and stream_end != "stopped":
                    self._errors.append((stream.ended_at, problem))
            if not stream.established and stream_end != "stopped":
                self._stop_event.wait(self._retry_pause)

    def _watch(self, stream):
        """Runs one attempt; returns (how it ended, a problem to count as an error or None)."""
        try:
            sock = _connect(*self._address, self._tls_context, self._server_hostname, self._connect_timeout)
        except OSError as error:
            return "error", f"connect: {error!r}"
        try:
            sock.sendall(self._request)
            reader = _Reader(sock, self._stall_timeout, self._stop_event.is_set)
            status, headers = reader.head()
            if status != 200 or headers.get("transfer-encoding", "").lower() != "chunked":
                return "error", f"answered {status} {headers}"
            self._read_events(reader, stream)
            return "terminator", None if stream.established else "ended before the first event"
        except _Stopped:
            return "stopped", None
        except EOFError:
            return "eof", None if stream.established else "closed before the first event"
        except ConnectionResetError:
            return "reset", None if stream.established else "reset before the first event"
        except TimeoutError as error:
            return "stalled", f"stalled: {error}"
        except (OSError, ValueError) as error:
            return "error", repr(error)
        finally:
            _close(sock)

    def _read_events(self, reader, stream):
        """Reads chunks until the last one, recording the events."""
        pending = b""
        while True:
            size = int(reader.line().split(b";")[0], 16)
            if size == 0:
                while reader.line():  # trailers, then the empty line
                    pass
                return
            pending += reader.exact(size)
            if reader.exact(2) != b"\r\n":
                raise ValueError("chunk not followed by CRLF")
            *lines, pending = pending.split(b"\n")
            for line in lines:
                event = json.loads(line)
                with self._lock:
                    stream.events += 1
                    if not stream.established:
                        stream.server = event.get("server")
                        stream.established_at = time.monotonic()


def _peer_closed(sock):
    """True when the peer has closed (or reset) an idle connection; reads no byte of a plain socket."""
    pending = isinstance(sock, ssl.SSLSocket) and sock.pending()
    if not pending and not select.select([sock], [], [], 0)[0]:
        return False
    timeout = sock.gettimeout()
    sock.settimeout(0)
    try:
        data = sock.recv(1) if isinstance(sock, ssl.SSLSocket) else sock.recv(1, socket.MSG_PEEK)
    except (BlockingIOError, ssl.SSLWantReadError):
        return False
    except OSError:
        return True
    finally:
        sock.settimeout(timeout)
    return not data or isinstance(sock, ssl.SSLSocket)  # TLS: a byte read is lost, start afresh


@dataclasses.dataclass
class RequestFailure:
    """A request cut in flight: sent, then the connection ended before the whole response came."""
    at: float  # time.monotonic() of the failure
    stage: str  # send, head or body
    received: int  # response bytes received before it ended
    error: str  # what ended it


class RequestClient(_LoadThread):
    """Sends `GET path` every `interval` seconds on one keep-alive connection, as kubectl does, and a new
    connection when the server has closed the old one (after `Connection: close`, or idle: checked
    before each request, not a failure). Records in `failures` every request cut in flight: sent, then
    the connection ended (EOF, reset, `timeout` seconds of silence) before the whole response came,
    and any status other than 200. Each request is one write of more than 128 bytes (kubectl's headers
    and a bearer token), so a load balancer counts it as a request. start(), then stop() (bounded)."""

    TOKEN = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImZha2UifQ.fake-service-account-token"

    def __init__(self, host, port, *, interval=0.05, path="/version", tls_context=None, server_hostname=None,
                 timeout=5.0):
        super().__init__(f"request-client-{port}")
        self._address = (host, port)
        self._request = (f"GET {path} HTTP/1.1\r\nHost: {format_address(host, port)}\r\n"
                         "User-Agent: kubectl/v1.30.0 (linux/amd64) kubernetes/7c48c2b\r\n"
                         "Accept: application/json, */*\r\n"
                         f"Authorization: Bearer {self.TOKEN}\r\n\r\n").encode()
        assert len(self._request) > 128, len(self._request)
        self._interval = interval
        self._tls_context = tls_context
        self._server_hostname = server_hostname
        self._timeout = timeout
        self._lock = threading.Lock()
        self._failures = []
        self.requests = 0  # answered with a whole 200 response
        self.connections = 0  # connections opened
        self.idle_closes = 0  # connections the server closed between two requests (not failures)
        self.server_closes = 0  # connections ended after a `Connection: close` response
        self.connect_errors = []  # [(monotonic time, description)]
        self.answers = collections.Counter()  # server name (from /version) -> answers

    @property
    def failures(self):
        """The RequestFailures so far."""
        with self._lock:
            return list(self._failures)

    def _stop_timeout(self):
        return self._timeout + 2  # the request in progress ends first

    def run(self):
        sock = None
        try:
            while not self._stop_event.is_set():
                started = time.monotonic()
                if sock is not None and _peer_closed(sock):
                    self.idle_closes += 1
                    _close(sock)
                    sock = None
                if sock is None:
                    try:
                        sock = _connect(*self._address, self._tls_context, self._server_hostname, self._timeout)
                        self.connections += 1
                    except OSError as error:
                        self.connect_errors.append((time.monotonic(), repr(error)))
                        self._stop_event.wait(self._interval)
                        continue
                if not self._exchange(sock):
                    _close(sock)
                    sock = None
                self._stop_event.wait(max(0.0, started + self._interval - time.monotonic()))
        finally:
            if sock is not None:
                _close(sock)

    def _exchange(self, sock):
        """One request and its response; returns whether the connection may carry another."""
        stage = "send"
        reader = None
        try:
            sock.settimeout(self._timeout)
            sock.sendall(self._request)
            reader = _Reader(sock, self._timeout)
            stage = "head"
            status, headers = reader.head()
            stage = "body"
            body = reader.exact(int(headers.get("content-length", "0")))
        except (OSError, EOFError, ValueError) as error:
            with self._lock:
                self._failures.append(RequestFailure(time.monotonic(), stage, reader.received if reader else 0,
                                                     repr(error)))
            return False
        if status != 200:
            with self._lock:
                self._failures.append(RequestFailure(time.monotonic(), "status", reader.received,
                                                     f"status {status}"))
        else:
            self.requests += 1
            try:
                self.answers[json.loads(body).get("name")] += 1
            except ValueError:
                pass
        if headers.get("connection", "").lower() == "close":
            self.server_closes += 1
            return False
        return True
