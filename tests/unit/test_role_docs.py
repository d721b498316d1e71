# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Role READMEs: the variable tables are generated from meta/argument_specs.yml.

scripts/role-docs.py writes them between markers; these tests fail when a README
is not what the script would write (someone edited a spec, a default or the
table by hand), and check the script on a new role such as roles/k3s.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "role-docs.py"
_SPEC = importlib.util.spec_from_file_location("role_docs", SCRIPT)
role_docs = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(role_docs)

ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "meta" / "argument_specs.yml").is_file())


def _options(spec, prefix=""):
    for name, option in (spec or {}).items():
        yield prefix + name
        yield from _options((option or {}).get("options"), "")


def test_every_role_has_an_argument_spec():
    assert sorted(p.name for p in (ROOT / "roles").iterdir() if p.is_dir()) == ROLES


@pytest.mark.parametrize("role", ROLES)
def test_readme_is_up_to_date(role):
    readme = ROOT / "roles" / role / "README.md"
    current = readme.read_text(encoding="utf-8")
    assert role_docs.BEGIN in current, "%s has no generated variables section: run make role-docs" % readme
    assert role_docs.updated(readme.parent, current) == current, (
        "%s differs from meta/argument_specs.yml: run `make role-docs` and commit the result" % readme)


@pytest.mark.parametrize("role", ROLES)
def test_every_option_is_in_the_readme(role):
    base = ROOT / "roles" / role
    specs = yaml.safe_load((base / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))["argument_specs"]
    text = (base / "README.md").read_text(encoding="utf-8")
    block = text[text.index(role_docs.BEGIN):text.index(role_docs.END)]
    for entry_point in specs.values():
        for name in _options(entry_point.get("options")):
            assert "| `%s` |" % name in block, "%s: option %s is not in the generated table" % (role, name)


def test_check_mode_reports_a_stale_readme(tmp_path):
    role = tmp_path / "roles" / "bundle"
    shutil.copytree(ROOT / "roles" / "bundle", role)
    readme = role / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8").replace("| `bundle_keep` | int | `3` |", "| `bundle_keep` | int | `4` |"),
                      encoding="utf-8")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--check", str(role)], capture_output=True, text=True, check=False)
    assert proc.returncode == 1 and "out of date" in proc.stderr, proc.stderr
    proc = subprocess.run([sys.executable, str(SCRIPT), str(role)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "| `bundle_keep` | int | `3` |" in readme.read_text(encoding="utf-8")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--check", str(role)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


NEW_ROLE_SPEC = """\
---
argument_specs:
  main:
    short_description: Install k3s servers and agents
    options:
      k3s_version:
        type: str
        required: true
        description: [k3s release, for example C(v1.30.2+k3s1).]
      k3s_token:
        type: str
        default: ""
        description: [Cluster token; see O(k3s_token_file).]
      k3s_token_file:
        type: path
        description: [Controller file holding the token.]
      k3s_server_args:
        type: list
        elements: str
        default: []
        description: [Extra C(k3s server) arguments | piped.]
        options:
          unused:
            type: str
            description: [Nested key.]
"""
NEW_ROLE_DEFAULTS = """\
---
# --- Version -------------------------------------------------------------
# k3s_version: (required)

# --- Cluster -------------------------------------------------------------
k3s_token: ""
k3s_server_args: []
"""


def test_new_role_without_readme_or_markers(tmp_path):
    role = tmp_path / "k3s"
    (role / "meta").mkdir(parents=True)
    (role / "defaults").mkdir()
    (role / "meta" / "argument_specs.yml").write_text(NEW_ROLE_SPEC, encoding="utf-8")
    (role / "defaults" / "main.yml").write_text(NEW_ROLE_DEFAULTS, encoding="utf-8")
    assert role_docs.main([str(role)]) == 0
    text = (role / "README.md").read_text(encoding="utf-8")
    assert text.startswith("# groundwork.infra.k3s\n")
    version, cluster = text.index("### Version"), text.index("### Cluster")
    assert version < text.index("`k3s_version` | str | (required)") < cluster
    # k3s_token_file has no default: it follows k3s_token, the option before it in the spec.
    assert cluster < text.index("| `k3s_token` |") < text.index("| `k3s_token_file` |") < text.index("| `k3s_server_args` |")
    assert "Cluster token; see `k3s_token_file`." in text
    assert "Extra `k3s server` arguments \\| piped." in text
    assert "#### Keys of `k3s_server_args[]`" in text
    assert role_docs.main(["--check", str(role)]) == 0

    # A hand-written README without markers gets the section appended, the rest kept.
    (role / "README.md").write_text("# groundwork.infra.k3s\n\nHand-written intro.\n", encoding="utf-8")
    assert role_docs.main(["--check", str(role)]) == 1
    assert role_docs.main([str(role)]) == 0
    text = (role / "README.md").read_text(encoding="utf-8")
    assert text.startswith("# groundwork.infra.k3s\n\nHand-written intro.\n\n## Role variables\n\n" + role_docs.BEGIN)


def test_broken_markers_are_an_error(tmp_path):
    role = tmp_path / "bundle"
    shutil.copytree(ROOT / "roles" / "bundle", role)
    readme = role / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8").replace(role_docs.END, ""), encoding="utf-8")
    with pytest.raises(ValueError, match="markers"):
        role_docs.updated(role, readme.read_text(encoding="utf-8"))


@pytest.mark.parametrize("text, expected", [
    ("C(/etc) and V(full)", "`/etc` and `full`"),
    ("see O(bundle_dest) or O(x=1)", "see `bundle_dest` or `x=1`"),
    ("O(groundwork.infra.cloud_bootstrap#role:main:cloud_bootstrap_sshd_allow_groups)", "`cloud_bootstrap_sshd_allow_groups`"),
    ("I(not) B(this) M(groundwork.infra.bundle_fetch)", "*not* **this** `groundwork.infra.bundle_fetch`"),
    ("L(minisign, https://example.invalid/m) U(https://example.invalid)", "[minisign](https://example.invalid/m) https://example.invalid"),
    ("two\n   lines", "two lines"),
])
def test_markup(text, expected):
    assert role_docs.markup(text) == expected
