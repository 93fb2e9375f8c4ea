"""The Debian package: `cpack -G DEB` in the build directory (no second build), its contents and
control data, lintian when installed, then a real install, --version, --check of the shipped
example, and a purge that takes the files and the cplb user away."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

from harness import build_dir

PACKAGE_FILES = ("/usr/sbin/cplb", "/etc/cplb/cplb.yaml", "/lib/systemd/system/cplb.service")
TIMEOUT = 120  # seconds for one cpack, lintian or dpkg run


def project_version():
    """PROJECT_VERSION of the configured build directory."""
    cache = (build_dir() / "CMakeCache.txt").read_text()
    match = re.search(r"^CMAKE_PROJECT_VERSION:STATIC=(\S+)$", cache, re.M)
    if not match:
        raise AssertionError("no CMAKE_PROJECT_VERSION in CMakeCache.txt")
    return match.group(1)


def run(*args, check=True):
    result = subprocess.run(list(args), capture_output=True, text=True, timeout=TIMEOUT)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result


def user_exists(name):
    return subprocess.run(["getent", "passwd", name], capture_output=True).returncode == 0


@unittest.skipUnless(shutil.which("cpack") and shutil.which("dpkg-deb") and shutil.which("dpkg-shlibdeps"),
                     "cpack, dpkg-deb or dpkg-shlibdeps missing: run scripts/deps (dpkg-dev)")
class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.version = project_version()
        cls.out = tempfile.TemporaryDirectory(prefix="cplb-package-")
        run("cpack", "-G", "DEB", "-B", cls.out.name, "--config", str(build_dir() / "CPackConfig.cmake"))
        arch = run("dpkg", "--print-architecture").stdout.strip()
        cls.deb = Path(cls.out.name) / f"cplb_{cls.version}_{arch}.deb"
        if not cls.deb.is_file():
            raise AssertionError(f"cpack made no {cls.deb.name}: {sorted(os.listdir(cls.out.name))}")

    @classmethod
    def tearDownClass(cls):
        cls.out.cleanup()

    def test_contents(self):
        listed = {line.split()[-1].lstrip(".") for line in run("dpkg-deb", "--contents", str(self.deb)).stdout.splitlines()}
        for path in PACKAGE_FILES:
            self.assertIn(path, listed)
        self.assertNotIn("/usr/bin/cplb", listed)

    def test_control_fields(self):
        fields = run("dpkg-deb", "-f", str(self.deb), "Package", "Version", "Section", "Priority", "Depends").stdout
        self.assertIn("Package: cplb\n", fields)
        self.assertIn(f"Version: {self.version}\n", fields)
        self.assertIn("Section: net\n", fields)
        self.assertIn("Priority: optional\n", fields)
        depends = re.search(r"^Depends: (.*)$", fields, re.M)
        self.assertIsNotNone(depends, fields)
        self.assertRegex(depends.group(1), r"\blibssl3\b")
        self.assertRegex(depends.group(1), r"\blibyaml-cpp[0-9.]*\b")
        self.assertRegex(depends.group(1), r"\badduser\b")

    def test_control_files(self):
        with tempfile.TemporaryDirectory(prefix="cplb-control-") as control:
            run("dpkg-deb", "--control", str(self.deb), control)
            self.assertEqual(Path(control, "conffiles").read_text().split(), ["/etc/cplb/cplb.yaml"])
            for script in ("postinst", "prerm", "postrm"):
                self.assertTrue(os.access(Path(control, script), os.X_OK), script)
            # Commands only: the message telling the user how to start cplb names systemctl too.
            commands = [line for line in Path(control, "postinst").read_text().splitlines()
                        if not line.lstrip().startswith(("#", "echo", '"'))]
            for line in commands:
                self.assertNotRegex(line, r"systemctl (enable|start|restart)", "postinst must not start cplb")
                self.assertNotRegex(line, r"deb-systemd-(helper|invoke)", "postinst must not start cplb")

    def test_binary_is_stripped(self):
        with tempfile.TemporaryDirectory(prefix="cplb-extract-") as root:
            run("dpkg-deb", "-x", str(self.deb), root)
            sections = run("readelf", "-S", str(Path(root, "usr/sbin/cplb"))).stdout if shutil.which("readelf") else ""
            if not sections:
                self.skipTest("readelf missing")
            self.assertNotIn(".symtab", sections)
            self.assertNotIn(".debug_info", sections)

    def test_lintian(self):
        if not shutil.which("lintian"):
            self.skipTest("lintian not installed (scripts/deps installs it)")
        result = run("lintian", "--no-tag-display-limit", str(self.deb), check=False)
        findings = [line for line in result.stdout.splitlines() if re.match(r"^[EWIP]: ", line)]
        for line in findings:
            print("lintian:", line)
        self.assertEqual([line for line in findings if line.startswith("E: ")], [], result.stdout + result.stderr)

    def test_install_and_purge(self):
        if os.geteuid() != 0:
            self.skipTest("dpkg -i needs root")
        if subprocess.run(["dpkg-query", "-W", "cplb"], capture_output=True).returncode == 0:
            self.skipTest("a cplb package is installed already; not touching it")
        if user_exists("cplb"):
            self.skipTest("a cplb user exists already; purge would remove it")
        self.addCleanup(subprocess.run, ["dpkg", "--purge", "cplb"], capture_output=True, timeout=TIMEOUT)

        installed = run("dpkg", "-i", str(self.deb))
        self.assertIn("systemctl enable --now cplb", installed.stdout + installed.stderr)
        for path in PACKAGE_FILES:
            self.assertTrue(Path(path).exists(), path)
        self.assertTrue(user_exists("cplb"))
        self.assertEqual(run("getent", "group", "cplb").returncode, 0)
        self.assertEqual(run("/usr/sbin/cplb", "--version").stdout, f"cplb {self.version}\n")
        check = run("/usr/sbin/cplb", "-c", "/etc/cplb/cplb.yaml", "--check")
        self.assertIn("configuration OK", check.stdout + check.stderr)

        run("dpkg", "--purge", "cplb")
        for path in (*PACKAGE_FILES, "/etc/cplb"):
            self.assertFalse(Path(path).exists(), path)
        self.assertFalse(user_exists("cplb"))
        self.assertNotEqual(subprocess.run(["getent", "group", "cplb"], capture_output=True).returncode, 0)
        self.assertNotEqual(subprocess.run(["dpkg-query", "-W", "-f=${Status}", "cplb"], capture_output=True,
                                           text=True).stdout.strip(), "install ok installed")


if __name__ == "__main__":
    unittest.main()
