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
import re
import shlex
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


# ---- command blocks of the guides ------------------------------------------------------------------
# Every ```sh block in docs/ carries a marker on the line before it:
#   <!-- tested-by: tests/docs/test_guide_commands.py -->   executed by that test, in order, per document
#   <!-- tested-by: PATH [PATH ...] -->                     run by those tests/scripts; the program, flags,
#                                                           playbooks and -e keys of every command must
#                                                           appear in them (tests/unit/test_docs_commands.py)
# A fenced block of any language after <!-- file: NAME --> is written to NAME in the scratch directory
# of the executing test before the commands that follow it.
RUNNER = "tests/docs/test_guide_commands.py"
COMMAND_LANGUAGES = ("sh", "bash", "shell", "console")
_FENCE = re.compile(r"^```(?P<lang>[A-Za-z0-9_+-]*)\s*$")
_MARKER = re.compile(r"^<!--\s*(?P<kind>tested-by|file|message-from):\s*(?P<value>.+?)\s*-->\s*$")


class Block:  # pylint: disable=too-few-public-methods
    """A fenced block of a Markdown document and the marker right before it."""

    def __init__(self, doc, line, fence, marker):
        self.doc, self.line = doc, line
        self.lang, self.text = fence
        self.kind, self.value = marker if marker else (None, None)

    @property
    def is_command(self):
        return self.lang in COMMAND_LANGUAGES

    @property
    def targets(self):
        return self.value.split() if self.kind == "tested-by" else []

    def __repr__(self):
        return "%s:%d" % (self.doc.relative_to(ROOT), self.line)


def blocks(doc):
    """Every fenced block of a Markdown file, with its marker (the line right before the fence)."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    found, index = [], 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if not fence:
            index += 1
            continue
        start = index
        index += 1
        body = []
        while index < len(lines) and not lines[index].startswith("```"):
            body.append(lines[index])
            index += 1
        marker = _MARKER.match(lines[start - 1]) if start else None
        found.append(Block(doc, start + 1, (fence.group("lang"), "\n".join(body) + "\n"),
                           (marker.group("kind"), marker.group("value")) if marker else None))
        index += 1
    return found


def guide_documents():
    return sorted((ROOT / "docs").rglob("*.md"))


def commands(text):
    """Command lines of a shell block: continuations joined, comments and blank lines dropped."""
    joined, current = [], ""
    for line in text.splitlines():
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        if current.strip() and not current.strip().startswith("#"):
            joined.append(" ".join(current.split()))
        current = ""
    return joined


def significant_words(command):
    """What must appear in a test that claims to run `command`: program, flags, playbooks, -e keys.

    Paths of inventories, URLs, host names and values are placeholders for the reader's own
    and are not checked.
    """
    words = shlex.split(command, comments=True)
    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
        words.pop(0)
    if not words:
        return []
    wanted = [words[0]]
    previous = None
    for word in words[1:]:
        if word in ("|", "&&", "||", ";"):
            previous = None
            continue
        if word.startswith("-") and not re.match(r"^-\d", word):
            wanted.append(word.split("=", 1)[0])
        elif previous in ("-e", "--extra-vars") and not word.startswith("@"):
            wanted.extend(part.split("=", 1)[0] + "=" for part in word.split() if "=" in part)
        elif re.match(r"^groundwork\.infra\.[a-z_]+$", word) and words[0] == "ansible-playbook":
            wanted.append(word.rsplit(".", 1)[1] + ".yml")
        elif word.endswith((".yml", ".yaml")) and not word.startswith("@"):
            wanted.append(Path(word).name)
        elif words[0] == "make" and re.match(r"^[a-z][a-z-]*$", word):
            wanted.append(word)
        previous = word
    return wanted
