# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make e2e` without a lab must fail, not pass having skipped every test.

The e2e suite is copied into an empty tree (its labkit finds the demo release
relative to its own file), so the lab is missing whatever runs on this machine.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_e2e_without_a_lab_fails_and_says_what_is_missing(tmp_path):
    shutil.copytree(ROOT / "tests" / "e2e", tmp_path / "tests" / "e2e",
                    ignore=shutil.ignore_patterns("__pycache__"))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/e2e"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "missing: the demo release build/demo/www/demo/manifest.yaml" in out, out
    assert "make demo" in out, out
    assert " skipped" not in out, out
