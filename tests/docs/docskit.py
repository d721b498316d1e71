# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared helpers of tests/docs (`make docs-check`); conftest.py holds the fixtures.

The documentation and release tools (antsibull-changelog, ansible-builder,
galaxy-importer) live in their own virtualenv, DOCS_VENV (default
<repo>/.venv-docs, made by `make docs-venv` from requirements/docs.txt); the
tests themselves run from the project virtualenv. A missing tool is a failure,
not a skip: `make docs-check` creates the virtualenv first.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS_VENV = Path(os.environ.get("DOCS_VENV", str(ROOT / ".venv-docs")))
PROJECT_BIN = Path(sys.executable).parent
GALAXY = yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))
TARBALL_NAME = "%s-%s-%s.tar.gz" % (GALAXY["namespace"], GALAXY["name"], GALAXY["version"])


def docs_tool(name):
    path = DOCS_VENV / "bin" / name
    if not path.exists():
        pytest.fail("%s not found in DOCS_VENV=%s: run `make docs-venv`" % (name, DOCS_VENV))
    return str(path)


def project_tool(name):
    path = PROJECT_BIN / name
    if not path.exists():
        pytest.fail("%s not found next to %s: run the tests from the project virtualenv" % (name, sys.executable))
    return str(path)


def clean_env(**extra):
    """Environment without the checkout's Ansible settings (the Makefile exports some)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANSIBLE_", "GALAXY_IMPORTER_")) and k != "PYTHONPATH"}
    env.update({"ANSIBLE_NOCOLOR": "1", "NO_COLOR": "1"})
    env.update(extra)
    return env


def run(cmd, cwd, env=None, timeout=300, check=True):
    proc = subprocess.run([str(c) for c in cmd], cwd=str(cwd), env=env if env is not None else clean_env(),
                          capture_output=True, text=True, timeout=timeout, check=False)
    if check:
        assert proc.returncode == 0, "%s failed (rc=%s)\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(str(c) for c in cmd), proc.returncode, proc.stdout[-4000:], proc.stderr[-4000:])
    return proc


def build_collection(dist):
    """Build the collection with ansible-galaxy into dist, as a release would be; return the tarball."""
    cfg = dist / "ansible.cfg"
    cfg.write_text("[defaults]\n", encoding="utf-8")
    run([project_tool("ansible-galaxy"), "collection", "build", ROOT, "--output-path", dist], dist,
        env=clean_env(ANSIBLE_CONFIG=str(cfg)))
    tarball = dist / TARBALL_NAME
    assert tarball.is_file(), sorted(p.name for p in dist.iterdir())
    return tarball
