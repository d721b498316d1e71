# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection builds into a Galaxy tarball that installs offline and works.

ansible-galaxy collection build -> tarball (without development files)
ansible-galaxy collection install <tarball> --offline -p <dir>
ansible-doc for every module, from the installed copy only.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GALAXY = yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))
NAMESPACE = GALAXY["namespace"]
NAME = GALAXY["name"]
FQCN = "%s.%s" % (NAMESPACE, NAME)
MODULES = sorted(
    p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if p.name != "__init__.py"
)

# Paths that must never ship in the tarball (development files).
FORBIDDEN = (".venv", "build", ".git", "tests/output", ".ci", ".pytest_cache", ".ansible")


def _tool(name):
    """The ansible-* command of the interpreter running the tests."""
    path = BIN / name
    if not path.exists():
        pytest.fail("%s not found next to %s: run the tests from the project virtualenv" % (name, sys.executable))
    return str(path)


def _env(collections_path, cwd):
    """Environment that sees only the given collections directory for groundwork.*.

    No ansible.cfg from the checkout (cwd is a scratch dir and ANSIBLE_CONFIG
    points at an empty file), no PYTHONPATH that could expose the checkout.
    """
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    cfg = Path(cwd) / "ansible.cfg"
    cfg.write_text("[defaults]\n", encoding="utf-8")
    env["ANSIBLE_CONFIG"] = str(cfg)
    env["ANSIBLE_COLLECTIONS_PATH"] = str(collections_path)
    env["ANSIBLE_NOCOLOR"] = "1"
    # ansible-galaxy must not try to reach a server.
    env["ANSIBLE_GALAXY_SERVER"] = "http://127.0.0.1:9/"
    return env


def _run(cmd, env, cwd):
    proc = subprocess.run(cmd, env=env, cwd=str(cwd), capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, "%s failed (rc=%s)\nstdout:\n%s\nstderr:\n%s" % (
        " ".join(cmd), proc.returncode, proc.stdout, proc.stderr)
    return proc


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Build the tarball once and install it offline; yield the paths."""
    work = tmp_path_factory.mktemp("galaxy")
    dist = work / "dist"
    dist.mkdir()
    env = _env(work / "collections", work)
    _run([_tool("ansible-galaxy"), "collection", "build", str(ROOT), "--output-path", str(dist)], env, work)
    tarballs = sorted(dist.glob("%s-%s-*.tar.gz" % (NAMESPACE, NAME)))
    assert len(tarballs) == 1, "expected one tarball in %s, found %s" % (dist, tarballs)
    install = work / "collections"
    proc = _run([_tool("ansible-galaxy"), "collection", "install", "--offline", "-p", str(install), str(tarballs[0])],
                env, work)
    return {"work": work, "tarball": tarballs[0], "install": install, "env": env, "log": proc.stdout}


def test_tarball_name_matches_galaxy_yml(built):
    assert built["tarball"].name == "%s-%s-%s.tar.gz" % (NAMESPACE, NAME, GALAXY["version"])


def test_tarball_has_no_development_files(built):
    with tarfile.open(built["tarball"]) as tar:
        names = [m.name.lstrip("./") for m in tar.getmembers()]
    assert "MANIFEST.json" in names and "FILES.json" in names
    leaked = sorted(
        n for n in names
        if any(n == f or n.startswith(f + "/") for f in FORBIDDEN) or "__pycache__" in n.split("/")
    )
    assert not leaked, "development files in the tarball: %s" % leaked[:20]


def test_installed_tree(built):
    installed = built["install"] / "ansible_collections" / NAMESPACE / NAME
    assert installed.is_dir(), "install did not create %s:\n%s" % (installed, built["log"])
    for rel in ("MANIFEST.json", "FILES.json", "meta/runtime.yml", "plugins/module_utils/_bundle_errors.py"):
        assert (installed / rel).is_file(), "%s missing from the installed collection" % rel
    manifest = json.loads((installed / "MANIFEST.json").read_text(encoding="utf-8"))
    info = manifest["collection_info"]
    assert (info["namespace"], info["name"], info["version"]) == (NAMESPACE, NAME, GALAXY["version"])
    files = json.loads((installed / "FILES.json").read_text(encoding="utf-8"))
    listed = {f["name"] for f in files["files"]}
    assert "plugins/module_utils/_bundle_errors.py" in listed


def test_collection_list_sees_the_install(built):
    proc = _run([_tool("ansible-galaxy"), "collection", "list", FQCN, "--format", "json",
                 "-p", str(built["install"])], built["env"], built["work"])
    found = json.loads(proc.stdout)
    versions = {v["version"] for coll in found.values() for name, v in coll.items() if name == FQCN}
    assert versions == {GALAXY["version"]}, proc.stdout


@pytest.mark.skipif(not MODULES, reason="plugins/modules holds no module yet")
@pytest.mark.parametrize("module", MODULES)
def test_module_doc_from_installed_collection(built, module):
    proc = _run([_tool("ansible-doc"), "-t", "module", "--json", "%s.%s" % (FQCN, module)],
                built["env"], built["work"])
    doc = json.loads(proc.stdout)
    key = "%s.%s" % (FQCN, module)
    assert key in doc, proc.stdout[:500]
    # The documentation came from the installed copy, not the checkout.
    filename = doc[key]["doc"].get("filename", "")
    assert str(built["install"]) in filename, filename


# ---- ansible-doc for every plugin file --------------------------------------------------------------
# Plugin types ansible-doc documents, by directory under plugins/ (modules documented as "module").
DOC_TYPES = {
    "modules": "module", "lookup": "lookup", "filter": "filter", "test": "test", "inventory": "inventory",
    "callback": "callback", "connection": "connection", "become": "become", "cache": "cache", "vars": "vars",
    "strategy": "strategy", "shell": "shell", "cliconf": "cliconf", "httpapi": "httpapi", "netconf": "netconf",
}
# Directories without documentation of their own, and why that is right.
UNDOCUMENTED = {
    "action": "the controller side of the module of the same name, which holds the documentation",
    "doc_fragments": "shared documentation, rendered inside the modules that extend it",
    "module_utils": "private helpers (underscore names)",
    "plugin_utils": "private helpers (underscore names)",
}
PLUGIN_FILES = sorted(
    p.relative_to(ROOT / "plugins") for p in (ROOT / "plugins").rglob("*.py") if p.name != "__init__.py")
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "meta" / "argument_specs.yml").is_file())


def _doc(built, plugin_type, name):
    proc = _run([_tool("ansible-doc"), "-t", plugin_type, "--json", "%s.%s" % (FQCN, name)], built["env"], built["work"])
    return json.loads(proc.stdout)["%s.%s" % (FQCN, name)]


def test_every_plugin_directory_is_known():
    unknown = sorted({str(p.parts[0]) for p in PLUGIN_FILES} - set(DOC_TYPES) - set(UNDOCUMENTED))
    assert not unknown, "plugins/%s: add the directory to DOC_TYPES or UNDOCUMENTED" % unknown


# Filter and test plugin files may hold several plugins, each documented by a YAML file of its name
# beside the Python file (ansible-doc looks them up by plugin name, not by file).
SIDECAR_TYPES = ("filter", "test")
DOCUMENTED = sorted(
    [p for p in PLUGIN_FILES if p.parts[0] in DOC_TYPES and p.parts[0] not in SIDECAR_TYPES]
    + [p.relative_to(ROOT / "plugins") for kind in SIDECAR_TYPES for p in (ROOT / "plugins" / kind).glob("*.yml")])


@pytest.mark.parametrize("path", DOCUMENTED, ids=str)
def test_ansible_doc_for_plugin(built, path):
    doc = _doc(built, DOC_TYPES[path.parts[0]], path.stem)
    assert doc["doc"].get("short_description"), doc
    assert doc.get("examples"), "%s has no EXAMPLES" % path
    assert str(built["install"]) in doc["doc"].get("filename", "")


@pytest.mark.parametrize("path", [p for p in PLUGIN_FILES if p.parts[0] == "action"], ids=str)
def test_action_plugin_is_documented_by_its_module(built, path):
    assert (ROOT / "plugins" / "modules" / path.name).is_file(), "%s has no module of the same name" % path
    assert _doc(built, "module", path.stem)["doc"]["short_description"]


@pytest.mark.parametrize("path", [p for p in PLUGIN_FILES if p.parts[0] == "doc_fragments"], ids=str)
def test_doc_fragment_reaches_ansible_doc(built, path):
    """Each section of a fragment (DOCUMENTATION, and NAME as <fragment>.name) is used by a module and
    its options and attributes show in that module's ansible-doc (a module may narrow an attribute's values)."""
    namespace = {}
    exec(compile((ROOT / "plugins" / path).read_text(encoding="utf-8"), str(path), "exec"), namespace)  # pylint: disable=exec-used
    cls = namespace["ModuleDocFragment"]
    for section in [name for name in vars(cls) if name.isupper()]:
        fragment = "%s.%s" % (FQCN, path.stem) + ("" if section == "DOCUMENTATION" else "." + section.lower())
        listed = re.compile(r"^\s*-\s*%s\s*$" % re.escape(fragment), re.M)
        users = [p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if listed.search(p.read_text(encoding="utf-8"))]
        assert users, "no module extends %s" % fragment
        text = yaml.safe_load(getattr(cls, section))
        for module in users:
            documented = _doc(built, "module", module)["doc"]
            assert set(text.get("options", {})) <= set(documented.get("options", {})), "%s lacks options of %s" % (module, fragment)
            for attr, value in text.get("attributes", {}).items():
                assert set(value) <= set(documented.get("attributes", {}).get(attr, {})), "%s lacks %s of %s" % (module, attr, fragment)


@pytest.mark.parametrize("path", [p for p in PLUGIN_FILES if p.parts[0] in ("module_utils", "plugin_utils")], ids=str)
def test_helpers_are_private(path):
    assert path.name.startswith("_"), "%s: helpers are private to the collection (underscore names)" % path


@pytest.mark.parametrize("role", ROLES)
def test_ansible_doc_for_role(built, role):
    proc = _run([_tool("ansible-doc"), "-t", "role", "--json", "%s.%s" % (FQCN, role)], built["env"], built["work"])
    doc = json.loads(proc.stdout)["%s.%s" % (FQCN, role)]
    assert doc["entry_points"]["main"]["short_description"]
    assert doc["entry_points"]["main"].get("options")


PLAYBOOKS = sorted(p.stem for p in (ROOT / "playbooks").glob("*.yml"))


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_playbook_by_fqcn_from_installed_collection(built, playbook):
    """`ansible-playbook groundwork.infra.<name>` finds the installed copy, and it parses."""
    proc = _run([_tool("ansible-playbook"), "%s.%s" % (FQCN, playbook), "--syntax-check", "-i", "localhost,"],
                built["env"], built["work"])
    installed = built["install"] / "ansible_collections" / NAMESPACE / NAME / "playbooks" / ("%s.yml" % playbook)
    assert "playbook: %s" % installed in proc.stdout, proc.stdout


def test_every_filter_has_its_documentation():
    """Each name a FilterModule exports has its YAML documentation (else ansible-doc cannot show it)."""
    missing = []
    for path in sorted((ROOT / "plugins" / "filter").glob("*.py")):
        module = importlib.import_module("ansible_collections.groundwork.infra.plugins.filter.%s" % path.stem)
        for name in module.FilterModule().filters():
            if not (path.parent / ("%s.yml" % name)).is_file():
                missing.append("%s (in %s)" % (name, path.name))
    assert not missing, "filters without plugins/filter/<name>.yml: %s" % ", ".join(missing)
