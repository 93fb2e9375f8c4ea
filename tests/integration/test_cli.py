"""The command line of the contract: --version, --check, exit codes, starting under a small
open-files limit, and the migrate and status subcommands."""

import os
import pty
import re
import socket
import subprocess
import tempfile
import unittest
from pathlib import Path

from harness import Cplb, FakeApiserver, admin_status, cplb_binary, free_port, run_check, server_status, wait_until

TESTDATA = Path(__file__).resolve().parent.parent / "unit" / "app" / "testdata"

VALID = """
admin: {{listen: 127.0.0.1:{admin}}}
frontends:
  - {{name: fe, listen: 127.0.0.1:{port}, backend: be}}
backends:
  - name: be
    servers: [{{name: s1, address: 127.0.0.1:1}}]
    health_check: {{protocol: tcp}}
"""


class CliTest(unittest.TestCase):
    def test_version(self):
        result = subprocess.run([str(cplb_binary()), "--version"], capture_output=True, text=True, timeout=10)
        self.assertEqual(result.returncode, 0)
        self.assertRegex(result.stdout, r"^cplb \d+\.\d+\.\d+\n$")

    def test_bad_arguments_exit_1(self):
        for args in (["--bogus"], [], ["--config"], ["-c", "x.yaml", "--log-level", "loud"]):
            result = subprocess.run([str(cplb_binary()), *args], capture_output=True, text=True, timeout=10)
            self.assertEqual(result.returncode, 1, args)
            self.assertIn("usage:", result.stderr)

    def test_check_accepts_a_valid_file(self):
        rc, out, err = run_check(VALID.format(admin=free_port(), port=free_port()))
        self.assertEqual((rc, out.strip(), err), (0, "configuration OK", ""))

    def test_check_reports_every_problem_with_file_line_column_and_key(self):
        rc, out, err = run_check("""
frontends:
  - {name: fe, listen: 127.0.0.1:99999, backend: nowhere}
backends:
  - name: be
    balance: fastest
    servers: [{name: s1, address: 127.0.0.1:1}]
""")
        self.assertEqual(rc, 1)
        lines = err.strip().splitlines()
        self.assertGreaterEqual(len(lines), 3, err)
        for line in lines:
            self.assertRegex(line, r"^\S+cplb\.yaml:\d+:\d+: \S+: .+")
        self.assertRegex(err, r":3:\d+: frontends\[0\]\.listen: ")
        self.assertRegex(err, r":3:\d+: frontends\[0\]\.backend: ")
        self.assertRegex(err, r":6:\d+: backends\[0\]\.balance: ")

    def test_missing_file_is_a_config_error(self):
        result = subprocess.run([str(cplb_binary()), "-c", "/nonexistent/cplb.yaml", "--check"],
                                capture_output=True, text=True, timeout=10)
        self.assertEqual(result.returncode, 1)
        self.assertIn("/nonexistent/cplb.yaml", result.stderr)

    def test_bind_failure_exits_2_and_says_why(self):
        with socket.socket() as taken, tempfile.TemporaryDirectory(prefix="cplb-cli-") as work:
            taken.bind(("127.0.0.1", 0))  # no SO_REUSEPORT: cplb cannot share this port
            taken.listen()
            port = taken.getsockname()[1]
            path = Path(work) / "cplb.yaml"
            path.write_text(VALID.format(admin=free_port(), port=port))
            result = subprocess.run([str(cplb_binary()), "-c", str(path)], capture_output=True, text=True,
                                    timeout=10)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertRegex(result.stderr, rf"cannot start.*fe.*127\.0\.0\.1:{port}.*in use")

    def test_starts_under_a_small_open_files_limit_with_the_cap_lowered(self):
        port = free_port()
        prefix = ["prlimit", "--nofile=1024:1024", "--"]
        with Cplb(VALID.format(admin=free_port(), port=port), wait_ports=[port], command_prefix=prefix) as cplb:
            # Logged once the listening sockets are open, so maybe just after the port listens.
            match = cplb.wait_log(r'msg="max_connections lowered.*configured=50000 effective=(\d+)')
            # Two descriptors a session, besides what this small config needs (well under 256;
            # tests/unit/app/fd_limit_test.cpp pins how it is counted).
            self.assertGreater(int(match.group(1)), (1024 - 256) // 2)
            self.assertLess(int(match.group(1)), 1024 // 2)
            self.assertEqual(cplb.terminate(), 0)

    def test_check_warns_of_a_token_sent_in_clear(self):
        with tempfile.TemporaryDirectory() as work:
            token = Path(work) / "token"
            token.write_text("s3cr3t\n")
            cfg = f"""
frontends: [{{name: fe, listen: '127.0.0.1:{free_port()}', backend: be}}]
backends:
  - name: be
    servers: [{{name: s1, address: '127.0.0.1:1'}}]
    health_check: {{protocol: http, bearer_token_file: {token}}}
"""
            rc, out, err = run_check(cfg)
        self.assertEqual((rc, out.strip()), (0, "configuration OK"))
        self.assertRegex(err, r"cplb\.yaml: backends\[0\]\.health_check\.bearer_token_file: warning: .*clear text")

    def run_cplb(self, *args, **kwargs):
        """Runs cplb with `args`; returns the CompletedProcess with its output as text."""
        return subprocess.run([str(cplb_binary()), *args], capture_output=True, text=True, timeout=10, **kwargs)

    def test_migrate_kubeadm_guide_prints_a_config_that_passes_check(self):
        result = self.run_cplb("migrate", "--haproxy", str(TESTDATA / "kubeadm-haproxy.cfg"),
                               "--keepalived", str(TESTDATA / "kubeadm-keepalived.conf"))
        self.assertEqual((result.returncode, result.stderr), (0, ""))
        self.assertIn("# not carried over: auth_pass (kubeadm-keepalived.conf:21): ", result.stdout)
        self.assertIn("# not carried over: option tcplog (kubeadm-haproxy.cfg:37): ", result.stdout)
        self.assertRegex(result.stdout, r"\n  - name: apiserverbackend +# backend apiserverbackend")
        rc, out, err = run_check(result.stdout)
        self.assertEqual((rc, out.strip(), err), (0, "configuration OK", ""), result.stdout)

    def test_migrate_variants_pass_check(self):
        for name in ("several-frontends.cfg", "check-ssl.cfg", "mtls-check.cfg", "http-check.cfg"):
            with self.subTest(name=name):
                result = self.run_cplb("migrate", "--haproxy", str(TESTDATA / name),
                                       "--keepalived", str(TESTDATA / "unicast-keepalived.conf"))
                self.assertEqual(result.returncode, 0, result.stderr)
                rc, out, err = run_check(result.stdout)
                self.assertEqual((rc, out.strip()), (0, "configuration OK"), err + result.stdout)

    def test_migrate_refuses_what_it_cannot_parse_with_file_and_line(self):
        cases = [
            (["--haproxy", str(TESTDATA / "server-without-address.cfg")],
             r"server-without-address\.cfg:6: server master-1 has no address"),
            (["--haproxy", str(TESTDATA / "check-ssl.cfg"), "--keepalived",
              str(TESTDATA / "unterminated-keepalived.conf")],
             r"unterminated-keepalived\.conf:1: the '\{' of vrrp_instance VI_1 is never closed"),
            (["--haproxy", "/nonexistent/haproxy.cfg"], r"/nonexistent/haproxy\.cfg: cannot read: "),
        ]
        for args, pattern in cases:
            with self.subTest(args=args):
                result = self.run_cplb("migrate", *args)
                self.assertEqual(result.returncode, 1, result.stderr)
                self.assertEqual(result.stdout, "")
                self.assertRegex(result.stderr, pattern)
        self.assertEqual(self.run_cplb("migrate").returncode, 1)

    def test_status_prints_servers_and_states_without_colour_when_not_a_terminal(self):
        admin, port, closed = free_port(), free_port(), free_port()
        with FakeApiserver(name="m1") as up:
            config = f"""
admin: {{listen: 127.0.0.1:{admin}}}
frontends:
  - {{name: kube-apiserver, listen: 127.0.0.1:{port}, backend: control-plane}}
backends:
  - name: control-plane
    servers:
      - {{name: master-1, address: {up.address}}}
      - {{name: master-2, address: 127.0.0.1:{closed}, weight: 2}}
    health_check: {{protocol: http, interval: 200ms, fast_interval: 100ms}}
"""
            with Cplb(config, wait_ports=[port, admin]) as cplb:
                wait_until(lambda: server_status(admin_status(admin), "control-plane", "master-1")["state"] == "up"
                           and server_status(admin_status(admin), "control-plane", "master-2")["state"] == "down",
                           what="master-1 up and master-2 down")
                # NO_COLOR empty allows colour: a pipe is what leaves it out.
                result = self.run_cplb("status", "-c", str(cplb.config_path), env={**os.environ, "NO_COLOR": ""})
                self.assertEqual((result.returncode, result.stderr), (0, ""))
                self.assertNotIn("\x1b[", result.stdout)
                self.assertRegex(result.stdout, rf"kube-apiserver +127\.0\.0\.1:{port} +control-plane +0")
                self.assertRegex(result.stdout, rf"\n  master-1 +{re.escape(up.address)} +up +0 +1 +-\n")
                self.assertRegex(result.stdout, r"\n  master-2 +127\.0\.0\.1:\d+ +down +0 +2 +refused")
                by_address = self.run_cplb("status", "--admin", f"127.0.0.1:{admin}")
                self.assertEqual(by_address.stdout, result.stdout)
                self.assertIn("\x1b[32mup\x1b[0m", self.status_on_a_terminal(admin, NO_COLOR=""))
                self.assertNotIn("\x1b[", self.status_on_a_terminal(admin, NO_COLOR="1"))
                self.assertEqual(cplb.terminate(), 0)

    def status_on_a_terminal(self, admin_port, **env):
        """What `cplb status --admin` prints with a pseudo-terminal as its stdout."""
        primary, secondary = pty.openpty()
        try:
            result = subprocess.run([str(cplb_binary()), "status", "--admin", f"127.0.0.1:{admin_port}"],
                                    stdout=secondary, stderr=subprocess.PIPE, timeout=10, env={**os.environ, **env})
            self.assertEqual(result.returncode, 0, result.stderr)
            return os.read(primary, 65536).decode()  # the table is far below a terminal's buffer
        finally:
            os.close(primary)
            os.close(secondary)

    def test_status_exits_2_naming_the_address_it_cannot_reach(self):
        port = free_port()
        result = self.run_cplb("status", "--admin", f"127.0.0.1:{port}")
        self.assertEqual(result.returncode, 2)
        self.assertEqual(result.stdout, "")
        self.assertRegex(result.stderr, rf"cannot reach the admin endpoint 127\.0\.0\.1:{port}: connect: Connection refused")
        for args in (["status", "--admin", "localhost:9100"], ["status", "--bogus"]):
            with self.subTest(args=args):
                self.assertEqual(self.run_cplb(*args).returncode, 1)


if __name__ == "__main__":
    unittest.main()
