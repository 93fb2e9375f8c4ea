"""Helpers for cplb's integration tests (stdlib only, unittest-friendly).

The build directory comes from the environment variable CPLB_BUILD_DIR (the CTest entries set it).
Every wait here is bounded, and every process a helper starts is stopped, by PID, when its `with`
block ends, whether the block passed or failed. The certificate helpers of tests/support/certs.py
are re-exported as `harness.certs`.
"""

import http.client
import json
import os
import re
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
    "free_port", "wait_until", "tls_client_context", "http_get", "https_get",
    "echo_roundtrip",
]

START_TIMEOUT = 10.0  # seconds for a started process to be ready
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
    """fake-apiserver as a context manager, on a free port chosen by itself.

    `tls` is a certs.Pair for the server certificate (None = plain HTTP), `client_ca` a CA file that
    turns on mTLS. With `control=True` (the default) a control listener lets the test switch readiness
    and read stats.
    """

    def __init__(self, name="apiserver", host="127.0.0.1", port=0, tls=None, client_ca=None, control=True,
                 echo=False, echo_greeting=False, readiness="ok", require_token=None):
        self.name = name
        self.host = host
        self.port = None  # the data-plane port, once started
        self.control_port = None  # the control port, once started
        self.process = None
        args = [str(fake_apiserver_binary()), "--listen", format_address(host, port), "--name", name,
                "--readiness", readiness]
        if tls:
            args += ["--cert", str(tls.cert), "--key", str(tls.key)]
        if client_ca:
            args += ["--client-ca", str(client_ca)]
        if control:
            args += ["--control", format_address("127.0.0.1", 0)]
        if echo:
            args.append("--echo")
        if echo_greeting:
            args.append("--echo-greeting")
        if require_token:
            args += ["--require-token", require_token]
        self._args = args
        self._control = control
        self._stderr = None

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
        """{"connections": accepted total, "requests": total, "active": open now} of the data plane."""
        status, body = self._control_get("/stats")
        if status != 200:
            raise RuntimeError(f"stats: {status} {body}")
        return json.loads(body)

    def toggle_readiness(self):
        """Sends SIGUSR1: readiness goes from ok to 500, or from anything else to ok."""
        os.kill(self.process.pid, signal.SIGUSR1)

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
        self._stderr.close()
        return code

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Cplb:
    """The cplb daemon as a context manager.

    Writes `config_yaml` to cplb.yaml in a temporary directory, starts
    `cplb --config FILE --log-level debug` with stderr in cplb.log there, and waits until every port in
    `wait_ports` listens (without connecting to it) or the process exits (then raises with its log).
    On exit the process is stopped by PID whatever happened, and on a failure the log tail is printed.
    """

    def __init__(self, config_yaml, wait_ports=(), extra_args=(), log_level="debug", command_prefix=()):
        self.tmpdir = Path(tempfile.mkdtemp(prefix="cplb-test-"))
        self.config_path = self.tmpdir / "cplb.yaml"
        self.log_path = self.tmpdir / "cplb.log"
        self.stdout_path = self.tmpdir / "cplb.stdout"
        self.config_path.write_text(config_yaml)
        self._args = [*command_prefix, str(cplb_binary()), "--config", str(self.config_path),
                      "--log-level", log_level, *extra_args]
        self._wait_ports = tuple(wait_ports)
        self.process = None

    @property
    def pid(self):
        """The process id."""
        return self.process.pid

    def start(self):
        """Starts cplb and waits for its ports; raises with the log if it exits or times out first."""
        with open(self.log_path, "wb") as log, open(self.stdout_path, "wb") as out:
            self.process = subprocess.Popen(self._args, stdout=out, stderr=log)
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
        self.config_path.write_text(config_yaml)

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
        if self.process:
            _stop_process(self.process)
        sanitizer_report = _sanitizer_report(self.log_text())
        if exc_type is not None or sanitizer_report:
            sys.stderr.write(f"\n--- cplb log tail ({self.log_path}) ---\n{_tail(self.log_path)}\n---\n")
        self._cleanup()
        if sanitizer_report and exc_type is None:
            raise AssertionError(f"cplb reported a sanitizer error:\n{sanitizer_report}")

    def _cleanup(self):
        if self.process and self.process.poll() is None:
            _kill_process(self.process)
        shutil.rmtree(self.tmpdir, ignore_errors=True)


def run_check(config_yaml, timeout=STOP_TIMEOUT):
    """Runs `cplb --config FILE --check` on config_yaml; returns (rc, stdout, stderr)."""
    with tempfile.TemporaryDirectory(prefix="cplb-check-") as work:
        path = Path(work) / "cplb.yaml"
        path.write_text(config_yaml)
        result = subprocess.run([str(cplb_binary()), "--config", str(path), "--check"], capture_output=True,
                                text=True, timeout=timeout)
        return result.returncode, result.stdout, result.stderr
