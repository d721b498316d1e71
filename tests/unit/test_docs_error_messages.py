# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The error messages quoted in docs/troubleshooting.md still exist in the code.

Each ```text block there follows ``<!-- message-from: FILE ... -->``. Every line of the
block is a message, with ``<...>`` where the code fills in a value. The text between
placeholders must appear in the named files: in a string constant of a Python file
(implicit concatenation joined, as the parser does), or in a YAML file with its
whitespace folded (``>-`` scalars). A reworded message makes this test fail until the
guide is updated.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "troubleshooting.md"
_SPEC = importlib.util.spec_from_file_location("docskit", ROOT / "tests" / "docs" / "docskit.py")
docskit = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(docskit)

PLACEHOLDER = re.compile(r"<[^<>]+>")


def _texts(path):
    """The strings a message can come from: string constants (Python) or folded text (YAML, Jinja)."""
    source = path.read_text(encoding="utf-8")
    if path.suffix == ".py":
        return [" ".join(node.value.split()) for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    return [" ".join(source.split())]


def fragments(message):
    return [f.strip() for f in PLACEHOLDER.split(message) if f.strip()]


def found(message, paths):
    """True when every fragment of the message is in one string of the named files."""
    texts = [t for p in paths for t in _texts(p)]
    parts = fragments(message)
    return bool(parts) and all(any(part in text for text in texts) for part in parts)


MESSAGES = [(block, line) for block in docskit.blocks(DOC) if block.lang == "text"
            for line in block.text.splitlines() if line.strip()]


def test_troubleshooting_quotes_messages():
    assert len(MESSAGES) >= 20


@pytest.mark.parametrize("block", [b for b in docskit.blocks(DOC) if b.lang == "text"], ids=repr)
def test_every_quote_names_existing_files(block):
    assert block.kind == "message-from", "%r: a quoted message needs <!-- message-from: FILE --> before it" % block
    for name in block.value.split():
        assert (ROOT / name).is_file(), "%r: %s does not exist" % (block, name)


@pytest.mark.parametrize("block, message", MESSAGES, ids=lambda v: v if isinstance(v, str) else repr(v))
def test_message_exists_in_the_code(block, message):
    assert max(len(f) for f in fragments(message)) >= 12, "%r: too little fixed text to check: %s" % (block, message)
    paths = [ROOT / name for name in block.value.split()]
    assert found(message, paths), "%r: not found in %s:\n%s" % (block, block.value, message)


def test_a_reworded_message_is_caught():
    paths = [ROOT / "plugins" / "module_utils" / "_minisign.py"]
    assert found("signature does not match the manifest contents (signed by key <id>)", paths)
    assert not found("signature does not match the manifest (signed by key <id>)", paths)
    assert not found("signature does not match the manifest contents (signed by key <id>)",
                     [ROOT / "plugins" / "module_utils" / "_bundle_hash.py"])
