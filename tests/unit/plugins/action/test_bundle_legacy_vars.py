# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""groundwork.infra.bundle_legacy_vars: the deprecated role-specific bundle variables.

The warning (the action's table) and the fallback that keeps the old names working
(roles/bundle/defaults/main.yml) must name the same variables, and no role may give an
old name a default (it would then always be "set": always warn, always win)."""

from __future__ import annotations

import re
from pathlib import Path
from unittest import mock

import pytest
import yaml

from ansible_collections.groundwork.infra.plugins.action import bundle_legacy_vars
from ansible_collections.groundwork.infra.plugins.action.bundle_legacy_vars import LEGACY_NAMES, ActionModule, legacy_in_use

ROOT = Path(__file__).resolve().parents[4]
BUNDLE_DEFAULTS = ROOT / "roles" / "bundle" / "defaults" / "main.yml"


def test_only_the_old_names_that_are_set_are_reported_with_their_replacement():
    names = ["bundle_manifest", "docker_host_bundle_trusted_keys", "compose_app_projects",
             "compose_app_bundle_manifest", "docker_host_bundle_components", "compose_app_bundle_keep"]
    assert legacy_in_use(names) == [
        ("compose_app_bundle_keep", "bundle_keep"),
        ("compose_app_bundle_manifest", "bundle_manifest"),
        ("docker_host_bundle_trusted_keys", "bundle_trusted_keys"),
    ]
    assert legacy_in_use(["bundle_manifest", "docker_host_bundle_components"]) == []


def test_message_names_the_old_and_the_new_variable():
    text = bundle_legacy_vars.message("compose_app_bundle_dest", "bundle_dest")
    assert text.startswith("the variable compose_app_bundle_dest is deprecated: set bundle_dest instead")


def test_every_old_name_is_a_fallback_of_its_new_variable_in_the_bundle_defaults():
    defaults = yaml.safe_load(BUNDLE_DEFAULTS.read_text(encoding="utf-8"))
    for old, new in LEGACY_NAMES.items():
        assert re.search(r"\b%s\b" % old, str(defaults[new])), "%s does not fall back to %s" % (new, old)
    mentioned = set()
    for new, value in defaults.items():
        for old in re.findall(r"\b((?:compose_app|docker_host)_bundle_[a-z_]+)\b", str(value)):
            assert LEGACY_NAMES.get(old) == new, "%s falls back to %s, which the warning does not know" % (new, old)
            mentioned.add(old)
    assert mentioned == set(LEGACY_NAMES)


@pytest.mark.parametrize("role", ["compose_app", "docker_host"])
def test_old_names_have_no_default_and_are_documented_as_deprecated(role):
    defaults = yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text(encoding="utf-8")) or {}
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    options = specs["argument_specs"]["main"]["options"]
    for old, new in LEGACY_NAMES.items():
        if not old.startswith(role + "_"):
            continue
        assert old not in defaults, "%s has a default in roles/%s: it would always override %s" % (old, role, new)
        assert "default" not in options[old], old
        text = " ".join(options[old]["description"])
        assert "Deprecated" in text and "C(%s)" % new in text, old


def _action(task_vars_seen=None):
    task = mock.MagicMock()
    task.args = {}
    task.async_val = 0
    task.check_mode = False
    connection = mock.MagicMock()
    connection._shell.tmpdir = None
    return ActionModule(task=task, connection=connection, play_context=mock.MagicMock(), loader=mock.MagicMock(),
                        templar=mock.MagicMock(), shared_loader_obj=mock.MagicMock())


def test_run_warns_once_per_old_name_with_the_collection_and_removal_version():
    calls = []
    with mock.patch.object(bundle_legacy_vars.Display, "deprecated", autospec=True,
                           side_effect=lambda self, msg, **kw: calls.append((msg, kw))):
        result = _action().run(task_vars={"compose_app_bundle_manifest": "https://x/m.yaml", "bundle_timeout": 5,
                                          "docker_host_bundle_signature": ""})
    assert result["changed"] is False
    assert result["legacy"] == [{"name": "compose_app_bundle_manifest", "use": "bundle_manifest"},
                                {"name": "docker_host_bundle_signature", "use": "bundle_signature"}]
    assert [c[1] for c in calls] == [{"version": "0.3.0", "collection_name": "groundwork.infra"}] * 2
    assert "compose_app_bundle_manifest is deprecated: set bundle_manifest" in calls[0][0]


def test_run_is_silent_without_old_names():
    with mock.patch.object(bundle_legacy_vars.Display, "deprecated", autospec=True) as deprecated:
        result = _action().run(task_vars={"bundle_manifest": "https://x/m.yaml", "docker_host_bundle_components": []})
    assert result["legacy"] == []
    deprecated.assert_not_called()
