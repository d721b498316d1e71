# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bundle role's variables are the one bundle source: every option of bundle_fetch and
bundle_info that says where a release comes from and how it is fetched has a documented
bundle_* variable, and the bundle role passes each to every call (main and check entry
points). A module option added without its variable (as min_download_rate and
allow_republish once were) fails here."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.groundwork.infra.plugins.module_utils._bundle_spec import FETCH_SPEC, INFO_SPEC

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "bundle"
# Not part of the bundle source (no variable on purpose): limits with safe defaults, and the
# host's own architecture (its facts give it; a role or play may pass it for one host).
NOT_EXPOSED = {"lock_timeout", "max_manifest_size", "max_members", "max_unpacked_size", "architecture"}
# bundle_info reads the host's state under dest only for the playbooks; the check entry point reads the release.
NOT_IN_CHECK = {"dest", "verify"}


def _load(path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _calls(task_file, module):
    return [t[module] for t in _load(ROLE / "tasks" / task_file) if module in t]


def test_every_source_option_has_a_documented_variable_with_the_module_default():
    specs = _load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]
    defaults = _load(ROLE / "defaults" / "main.yml")
    for name, arg in FETCH_SPEC.items():
        if name in NOT_EXPOSED:
            continue
        var = "bundle_" + name
        assert var in specs["main"]["options"], "bundle_fetch option %s has no variable %s" % (name, var)
        if name in INFO_SPEC and name not in NOT_IN_CHECK:
            assert var in specs["check"]["options"], "the check entry point does not document %s" % var
        assert var in defaults, var
        if arg.get("default") not in (None, "", []):
            assert specs["main"]["options"][var].get("default") == arg["default"], var
            if "{{" not in str(defaults[var]):  # else a deprecated name's fallback, checked in test_bundle_legacy_vars
                assert defaults[var] == arg["default"], var


@pytest.mark.parametrize("task_file, module, spec, skip", [
    ("main.yml", "groundwork.infra.bundle_fetch", FETCH_SPEC, NOT_EXPOSED),
    ("check.yml", "groundwork.infra.bundle_info", INFO_SPEC, NOT_EXPOSED | NOT_IN_CHECK),
])
def test_the_role_passes_every_source_variable_to_each_call(task_file, module, spec, skip):
    calls = _calls(task_file, module)
    assert calls
    delivery = calls[-1]
    for name in set(spec) - skip:
        assert name in delivery, "%s: %s does not pass %s" % (task_file, module, name)
        assert "bundle_" + name in str(delivery[name]), "%s: %s gets %r" % (task_file, name, delivery[name])
    for call in calls:  # the prefetch too: the same TLS and transfer settings
        for name in ("manifest", "trusted_keys", "validate_certs", "timeout", "retries", "min_download_rate"):
            assert "bundle_" + name in str(call.get(name)), "%s: %s" % (task_file, name)


def test_both_entry_points_warn_about_old_names_first():
    for task_file in ("main.yml", "check.yml"):
        assert "groundwork.infra.bundle_legacy_vars" in _load(ROLE / "tasks" / task_file)[0], task_file
