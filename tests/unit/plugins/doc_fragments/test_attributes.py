# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The attributes of every module as ansible-doc shows them, with the doc fragments applied
(plugins/doc_fragments/attributes.py): what each module claims must match what it is."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible.parsing.plugin_docs import read_docstring
from ansible.plugins.doc_fragments import action_common_attributes
from ansible.utils.plugin_docs import add_fragments

from ansible_collections.groundwork.infra.plugins.doc_fragments import attributes, bundle_source
from ansible_collections.groundwork.infra.plugins.doc_fragments.attributes import ModuleDocFragment

ROOT = Path(__file__).resolve().parents[4]
MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
ACTION_BACKED = {p.stem for p in (ROOT / "plugins" / "action").glob("*.py")}
# Modules that change nothing on any host.
READ_ONLY = {"bundle_info", "bundle_legacy_vars", "compose_release_info", "compose_status", "docker_versions_info", "paths_info"}


class Fragments(object):
    """The doc fragments the modules use, found by name like ansible-doc's fragment loader finds them."""
    CLASSES = {
        "ansible.builtin.action_common_attributes": action_common_attributes.ModuleDocFragment,
        "groundwork.infra.attributes": attributes.ModuleDocFragment,
        "groundwork.infra.bundle_source": bundle_source.ModuleDocFragment,
    }

    def get(self, name):
        cls = self.CLASSES.get(name)
        return type(name, (cls,), {"ansible_name": name}) if cls else None


@pytest.fixture(scope="module")
def docs():
    """Each module's documentation as ansible-doc shows it: Ansible's own add_fragments merges the fragments."""
    rendered = {}
    for name in MODULES:
        path = str(ROOT / "plugins" / "modules" / ("%s.py" % name))
        doc = read_docstring(path)["doc"]
        add_fragments(doc, path, Fragments(), is_module=True)
        rendered[name] = doc
    return rendered


def own(name):
    """The module's DOCUMENTATION as written, before the fragments are applied."""
    return yaml.safe_load(getattr(__import__("ansible_collections.groundwork.infra.plugins.modules.%s" % name,
                                             fromlist=["DOCUMENTATION"]), "DOCUMENTATION"))


def test_every_module_is_checked():
    assert len(MODULES) >= 9 and ACTION_BACKED <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_check_diff_and_platform_are_stated_and_described(docs, name):
    attrs = docs[name]["attributes"]
    for attr in ("check_mode", "diff_mode"):
        assert attrs[attr]["support"] in ("full", "partial", "none"), (name, attr)
        assert attrs[attr]["description"], (name, attr)
    assert attrs["platform"]["platforms"] in ("posix", "debian"), name


@pytest.mark.parametrize("name", MODULES)
def test_action_support_matches_the_action_plugins(docs, name):
    attrs = docs[name]["attributes"]
    if name in ACTION_BACKED:
        assert attrs["action"]["support"] == "full", name
        assert attrs["async"]["support"] == "none" and attrs["bypass_host_loop"]["support"] == "none", name
        assert attrs["action"]["description"], name
    else:
        assert "action" not in attrs, "%s has no action plugin but documents one" % name


@pytest.mark.parametrize("name", MODULES)
def test_read_only_modules_say_so(docs, name):
    attrs = docs[name]["attributes"]
    if name in READ_ONLY:
        assert attrs["check_mode"] == dict(attrs["check_mode"], support="full", details="The module never changes anything.")
        assert attrs["diff_mode"]["support"] == "none", name
    else:
        assert attrs["diff_mode"]["support"] == "full", "%s changes hosts and shows a diff" % name


@pytest.mark.parametrize("name", MODULES)
def test_modules_do_not_repeat_the_shared_text(name):
    """A module's own attributes: entries only add to or narrow the fragments (no copied block)."""
    doc = own(name)
    fragments = doc["extends_documentation_fragment"]
    shared = {}
    for fragment in fragments:
        if fragment.startswith("groundwork.infra.attributes"):
            section = fragment.rpartition(".")[2].upper() if fragment != "groundwork.infra.attributes" else "DOCUMENTATION"
            for attr, value in yaml.safe_load(getattr(ModuleDocFragment, section))["attributes"].items():
                shared.setdefault(attr, {}).update(value)
    assert "groundwork.infra.attributes" in fragments, name
    for attr, value in (doc.get("attributes") or {}).items():
        for key, item in value.items():
            assert shared.get(attr, {}).get(key) != item, "%s repeats %s.%s of the attributes fragment" % (name, attr, key)
