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

from labkit import BASE, DEMO, HOSTS, PORT, ROOT


def pytest_collection_modifyitems(config, items):  # pylint: disable=unused-argument
    """Without the lab there is nothing to check: fail, never skip (a skipped e2e run passed having checked nothing)."""
    if not items:
        return
    missing = []
    manifest = DEMO / "www" / "demo" / "manifest.yaml"
    if not manifest.is_file():
        missing.append("the demo release %s" % manifest.relative_to(ROOT))
    for host in HOSTS:
        probe = subprocess.run(["docker", "inspect", "--format", "{{.State.Running}}", host],
                               capture_output=True, text=True, check=False)
        if probe.stdout.strip() != "true":
            missing.append("a running container %s" % host)
    if missing:
        raise pytest.UsageError(
            "tests/e2e needs the lab of scripts/demo.sh; missing: %s. Run `make demo` first "
            "(or `make demo-check`, which starts a lab, runs these tests and removes it)" % "; ".join(missing))


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
