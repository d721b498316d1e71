# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/security.md covers every row of the bundle threat list and names tests that exist.

The threat table of docs/security.md must have rows 1 to 25 (the bundle threat list),
each naming at least one test. Every ``test_file.py::test_name`` (or ``::test_name``
continuing the file named before it) must be a test function in that file under
tests/, and every molecule scenario named must exist, so a renamed or removed test
cannot leave the security model pointing at nothing.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
THREATS = 27
ROW = re.compile(r"^\| (?P<number>\d+) \|(?P<rest>.*)\|\s*$", re.M)
REFERENCE = re.compile(r"`(?P<file>[\w/]*test_\w+\.py)?(?:::(?P<function>\w+))?`")


def _rows():
    return {int(m.group("number")): m.group("rest").split("|")[-1] for m in ROW.finditer(DOC)}


def _test_functions(name):
    matches = [p for p in (ROOT / "tests").rglob(Path(name).name) if str(p).endswith(name)]
    assert len(matches) == 1, "%s names %d files under tests/" % (name, len(matches))
    tree = ast.parse(matches[0].read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


def references(cell):
    """(file, function) pairs of a tests cell; ``::name`` continues the file named before it."""
    found, current = [], None
    for match in REFERENCE.finditer(cell):
        if match.group("file"):
            current = match.group("file")
        if match.group("function") or match.group("file"):
            found.append((current, match.group("function")))
    return found


def test_every_threat_has_a_row_with_tests():
    rows = _rows()
    assert sorted(rows) == list(range(1, THREATS + 1))
    for number, cell in rows.items():
        assert references(cell) or "molecule" in cell, "threat %d names no test" % number


@pytest.mark.parametrize("number", range(1, THREATS + 1))
def test_named_tests_exist(number):
    cell = _rows()[number]
    for name, function in references(cell):
        assert name, "threat %d: ::%s follows no file name" % (number, function)
        if function:
            assert function in _test_functions(name), "threat %d: %s::%s does not exist" % (number, name, function)
    for scenario in re.findall(r"molecule `(\w+)`", cell):
        assert (ROOT / "molecule" / scenario / "molecule.yml").is_file(), "threat %d: no molecule/%s" % (number, scenario)


def test_references_parser():
    assert references("`a/test_x.py::test_one`, `::test_two`, `test_y.py`") == [
        ("a/test_x.py", "test_one"), ("a/test_x.py", "test_two"), ("test_y.py", None)]
