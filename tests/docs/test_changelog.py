# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""changelogs/ is antsibull-changelog's format and CHANGELOG.md is generated from it.

A fragment with a wrong section or shape fails `antsibull-changelog lint`; a
CHANGELOG.md edited by hand, or not regenerated after changelogs/changelog.yaml
changed, differs from `antsibull-changelog generate` and fails here.
"""

from __future__ import annotations

import shutil

from docskit import ROOT, docs_tool, run


def _copy(tmp_path):
    """The files antsibull-changelog reads, in a scratch copy it may write to."""
    dest = tmp_path / "collection"
    dest.mkdir()
    for name in ("galaxy.yml", "CHANGELOG.md"):
        shutil.copy2(ROOT / name, dest / name)
    for name in ("changelogs", "meta", "plugins"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", ".plugin-cache.yaml"))
    return dest


def test_fragments_and_changelog_yaml_lint_clean():
    proc = run([docs_tool("antsibull-changelog"), "lint"], ROOT)
    assert proc.stdout.strip() == "", proc.stdout
    run([docs_tool("antsibull-changelog"), "lint-changelog-yaml", "--strict", ROOT / "changelogs" / "changelog.yaml"], ROOT)


def test_lint_rejects_a_bad_fragment(tmp_path):
    copy = _copy(tmp_path)
    (copy / "changelogs" / "fragments" / "bad.yml").write_text("new_stuff:\n  - not a section\n", encoding="utf-8")
    proc = run([docs_tool("antsibull-changelog"), "lint"], copy, check=False)
    assert "bad.yml" in proc.stdout + proc.stderr and "new_stuff" in proc.stdout + proc.stderr, proc.stdout


def test_changelog_md_is_what_generate_writes(tmp_path):
    copy = _copy(tmp_path)
    out = tmp_path / "CHANGELOG.generated.md"
    run([docs_tool("antsibull-changelog"), "generate", "--output", out, "--output-format", "md"], copy)
    assert out.read_text(encoding="utf-8") == (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), (
        "CHANGELOG.md is not what antsibull-changelog generates from changelogs/: run `make changelog`")


def test_every_release_is_in_changelog_md():
    import yaml  # pylint: disable=import-outside-toplevel
    releases = yaml.safe_load((ROOT / "changelogs" / "changelog.yaml").read_text(encoding="utf-8"))["releases"]
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    for version in releases:
        assert "## v%s" % version.replace(".", "\\.") in text, version
