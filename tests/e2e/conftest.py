# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab tests need the lab and release that scripts/demo.sh leaves (make demo-check)."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request

import pytest

from labkit import BASE, DEMO, PORT, ROOT


def pytest_collection_modifyitems(config, items):  # pylint: disable=unused-argument
    if not (DEMO / "www" / "demo" / "manifest.yaml").is_file():
        skip = pytest.mark.skip(reason="needs the lab of scripts/demo.sh (make demo-check runs it first)")
        for item in items:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def release_server():
    """The demo's own server on 127.0.0.1:18081 (demo.sh stops its copy when it ends)."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "bundle_server.py"), "--root", str(DEMO / "www"),
                             "--port", str(PORT), "--log", str(DEMO / "e2e-requests.jsonl")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for dummy in range(50):
        try:
            urllib.request.urlopen(BASE + "/demo/manifest.yaml", timeout=2).close()
            break
        except OSError:
            time.sleep(0.2)
    yield
    proc.terminate()
    proc.wait(timeout=10)
