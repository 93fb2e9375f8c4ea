"""The command line of the contract: --version, --check, exit codes, and starting under a small
open-files limit."""

import re
import socket
import subprocess
import tempfile
import unittest
from pathlib import Path

from harness import Cplb, cplb_binary, free_port, run_check

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
            match = re.search(r'msg="max_connections lowered.*configured=50000 effective=(\d+)', cplb.log_text())
            self.assertIsNotNone(match, cplb.log_text())
            self.assertEqual(int(match.group(1)), (1024 - 256) // 2)
            self.assertEqual(cplb.terminate(), 0)


if __name__ == "__main__":
    unittest.main()
