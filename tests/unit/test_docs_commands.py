# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every command in docs/ is exercised by a test.

Each ```sh block of a guide carries a marker naming what runs it (the parser and
the rules are in tests/docs/docskit.py):

- ``<!-- tested-by: tests/docs/test_guide_commands.py -->``: that test executes the
  block for real (make docs-check);
- ``<!-- tested-by: PATH ... -->``: an existing test or script runs the command (the
  lab's e2e tests, scripts/demo.sh). The program, every flag, playbook and ``-e``
  key of each command line must appear in those files, so a guide cannot name a
  flag or a playbook that nothing runs.

A block without a marker, a marker naming a missing file, or a command whose words
are not in the files it names fails here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location("docskit", ROOT / "tests" / "docs" / "docskit.py")
docskit = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(docskit)

COMMAND_BLOCKS = [b for doc in docskit.guide_documents() for b in docskit.blocks(doc) if b.is_command]


def test_the_guides_have_commands():
    assert len(COMMAND_BLOCKS) >= 10
    assert any(docskit.RUNNER in b.targets for b in COMMAND_BLOCKS)


@pytest.mark.parametrize("block", COMMAND_BLOCKS, ids=repr)
def test_block_is_marked_with_existing_tests(block):
    assert block.kind == "tested-by", "%r: a command block needs <!-- tested-by: ... --> on the line before it" % block
    for target in block.targets:
        assert (ROOT / target).is_file(), "%r: %s does not exist" % (block, target)
    assert docskit.commands(block.text), "%r: no command in the block" % block


MAPPED = [b for b in COMMAND_BLOCKS if b.kind == "tested-by" and docskit.RUNNER not in b.targets]


@pytest.mark.parametrize("block", MAPPED, ids=repr)
def test_mapped_commands_appear_in_their_tests(block):
    sources = "\n".join((ROOT / t).read_text(encoding="utf-8") for t in block.targets if (ROOT / t).is_file())
    for command in docskit.commands(block.text):
        missing = [w for w in docskit.significant_words(command) if w not in sources]
        assert not missing, "%r: %s\n  %s not found in %s" % (block, command, missing, " ".join(block.targets))


def test_runner_blocks_are_not_also_mapped():
    for block in COMMAND_BLOCKS:
        if docskit.RUNNER in block.targets:
            assert block.targets == [docskit.RUNNER], "%r: the runner executes the block; name it alone" % block


def test_significant_words():
    words = docskit.significant_words(
        "ansible-playbook groundwork.infra.upgrade -i inventories/lab -e bundle_manifest=http://h/m.yaml --check --diff")
    assert words == ["ansible-playbook", "upgrade.yml", "-i", "-e", "bundle_manifest=", "--check", "--diff"]
    assert docskit.significant_words("X=1 make demo-check") == ["make", "demo-check"]
    assert docskit.commands("a \\\n  b\n# note\n\nc\n") == ["a b", "c"]


def test_a_flag_nothing_runs_is_caught(tmp_path):
    doc = tmp_path / "guide.md"
    doc.write_text("x\n<!-- tested-by: tests/e2e/test_lab.py tests/e2e/labkit.py -->\n```sh\n"
                   "ansible-playbook playbooks/upgrade.yml --check --no-such-flag\n```\n", encoding="utf-8")
    (block,) = docskit.blocks(doc)
    source = "".join((ROOT / "tests" / "e2e" / name).read_text(encoding="utf-8") for name in ("test_lab.py", "labkit.py"))
    missing = [w for c in docskit.commands(block.text) for w in docskit.significant_words(c) if w not in source]
    assert missing == ["--no-such-flag"]
