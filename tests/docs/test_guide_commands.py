# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the commands of the guides in docs/ as a reader would type them.

For every document with blocks marked ``<!-- tested-by: tests/docs/test_guide_commands.py -->``
the blocks run in document order, in one fresh scratch directory, with bash -euo pipefail;
exported variables and the working directory carry over from one block to the next, as in
the reader's shell. Blocks marked ``<!-- file: NAME -->`` are written to NAME first, when reached. The scratch
directory stands in for the reader's working directory:

- ``groundwork-infra`` is the checkout: a copy of the files git knows about (tracked, and
  untracked but not ignored), so a guide may change it (a changelog release) without
  touching this repository; ``inventories`` and ``docs`` are links to this repository's,
  for commands that only read them;
- HOME is private, so ``ansible-galaxy collection install`` lands in ~/.ansible/collections
  of the scratch directory and nothing of the checkout's Ansible settings leaks in. A guide
  that does not install the collection itself (it says it assumes getting-started.md was
  followed) finds it installed there already, from the tarball this session built;
- PATH holds the project virtualenv (ansible-core and the community collections of the
  ``ansible`` package, as ``pip install ansible`` gives a reader), the docs virtualenv
  (antsibull-changelog, ansible-builder) and the system (minisign).
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from docskit import DOCS_VENV, PROJECT_BIN, ROOT, RUNNER, blocks, clean_env, guide_documents, project_tool, run


def _copy_checkout(dest):
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=str(ROOT),
                            capture_output=True, check=True).stdout.decode("utf-8").split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file() or source.is_symlink():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name, follow_symlinks=False)


DOCS = [doc for doc in guide_documents() if any(RUNNER in b.targets for b in blocks(doc))]


def test_some_guides_are_executed():
    assert len(DOCS) >= 3, DOCS


@pytest.fixture(scope="module")
def installed_home(tmp_path_factory, collection_tarball):
    """A HOME whose ~/.ansible/collections holds the collection, as after getting-started.md."""
    home = tmp_path_factory.mktemp("home-with-collection")
    run([project_tool("ansible-galaxy"), "collection", "install", "--offline", collection_tarball], home,
        env=clean_env(HOME=str(home), ANSIBLE_CONFIG=str(home / "none.cfg")))
    assert (home / ".ansible" / "collections" / "ansible_collections" / "groundwork" / "infra").is_dir()
    return home


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: str(d.relative_to(ROOT)))
def test_guide(doc, tmp_path, request):
    work, home, state = tmp_path / "work", tmp_path / "home", tmp_path / "shell-state"
    work.mkdir()
    if "ansible-galaxy collection install" in doc.read_text(encoding="utf-8"):
        home.mkdir()
    else:
        shutil.copytree(request.getfixturevalue("installed_home"), home, symlinks=True)
    _copy_checkout(work / "groundwork-infra")
    for name in ("inventories", "docs"):
        (work / name).symlink_to(ROOT / name, target_is_directory=True)
    # Carries exports and the working directory from one block to the next.
    prologue = 'if [[ -f %(s)s ]]; then source %(s)s; cd "$(cat %(s)s.cwd)"; fi\n' % {"s": state}
    epilogue = '\nexport -p >%(s)s; pwd >%(s)s.cwd\n' % {"s": state}
    env = clean_env(HOME=str(home), PATH="%s:%s:/usr/local/bin:/usr/bin:/bin" % (PROJECT_BIN, DOCS_VENV / "bin"),
                    LANG="C.UTF-8")
    ran = 0
    for block in blocks(doc):
        if block.kind == "file":
            path = work / block.value
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block.text, encoding="utf-8")
            continue
        if RUNNER not in block.targets:
            continue
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", prologue + block.text + epilogue], cwd=str(work), env=env,
                              capture_output=True, text=True, timeout=600, check=False)
        assert proc.returncode == 0, "%r failed (rc=%d):\n%s\nstdout:\n%s\nstderr:\n%s" % (
            block, proc.returncode, block.text, proc.stdout[-5000:], proc.stderr[-5000:])
        ran += 1
    assert ran, "no block of %s ran" % doc
