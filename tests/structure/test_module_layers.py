"""The module graph: arrows only point down the order of src/CMakeLists.txt, and every module
that a module's sources include is declared in its CMake target (so it links what it uses)."""

import re
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INCLUDE = re.compile(r'^\s*#\s*include\s+"cplb/([a-z_]+)/', re.M)
LINKED = re.compile(r"\bcplb_([a-z_]+)\b")
# CMake targets that are a part of a module rather than a module of their own.
TARGET_MODULE = {"vrrp_group": "vrrp", "app_lib": "app", "upgrade_wire": "app", "flags": None, "module": None}


def module_order():
    text = (ROOT / "src" / "CMakeLists.txt").read_text()
    return re.search(r"foreach\(module ([a-z_ ]+)\)", text).group(1).split()


def included_modules(module):
    found = set()
    for base in (ROOT / "src" / module, ROOT / "include" / "cplb" / module):
        for path in base.rglob("*") if base.is_dir() else ():
            if path.suffix in (".cpp", ".hpp"):
                found.update(INCLUDE.findall(path.read_text()))
    found.discard(module)
    return found


def linked_modules(module):
    text = (ROOT / "src" / module / "CMakeLists.txt").read_text()
    text = re.sub(r"#.*", "", text)
    linked = set()
    for target in LINKED.findall(text):
        name = TARGET_MODULE.get(target, target)
        if name and name != module:
            linked.add(name)
    return linked


class ModuleLayersTest(unittest.TestCase):
    def test_order_lists_every_module(self):
        on_disk = {p.name for p in (ROOT / "src").iterdir() if (p / "CMakeLists.txt").exists()}
        self.assertEqual(set(module_order()), on_disk)

    def test_no_module_includes_or_links_a_module_above_it(self):
        order = module_order()
        for module in order:
            below = set(order[:order.index(module)])
            with self.subTest(module=module):
                self.assertEqual(included_modules(module) - below, set(), "includes from above")
                self.assertEqual(linked_modules(module) - below, set(), "links from above")

    def test_every_included_module_is_declared(self):
        for module in module_order():
            with self.subTest(module=module):
                self.assertEqual(included_modules(module) - linked_modules(module), set(),
                                 "included but not in the CMake target's DEPENDS")


if __name__ == "__main__":
    unittest.main()
