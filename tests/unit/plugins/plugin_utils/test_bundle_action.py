# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run() wrapper every bundle action plugin shares (plugin_utils/_bundle_action.py)."""

from __future__ import annotations

import pytest

from ansible_collections.groundwork.infra.plugins.action import bundle_build, bundle_fetch, bundle_info
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import CompatibilityError, IntegrityError
from ansible_collections.groundwork.infra.plugins.plugin_utils._bundle_action import BundleAction, guarded


class Cleanup(object):
    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1


def test_a_result_passes_through_and_cleanup_runs():
    cleanup = Cleanup()
    assert guarded("bundle_x", lambda: {"changed": True, "release": "1"}, cleanup) == {"changed": True, "release": "1"}
    assert cleanup.calls == 1


def test_a_bundle_error_becomes_a_failed_result_with_its_kind():
    def body():
        raise IntegrityError("sha256 mismatch", component="web", file="web.tgz")

    cleanup = Cleanup()
    result = guarded("bundle_x", body, cleanup)
    assert result["failed"] is True
    assert result["msg"] == "component 'web', file 'web.tgz': sha256 mismatch"
    assert result["error"] == {"kind": "integrity", "component": "web", "file": "web.tgz", "reason": "sha256 mismatch",
                               "message": result["msg"]}
    assert "exception" not in result
    assert cleanup.calls == 1


def test_compatibility_problems_are_kept():
    def body():
        raise CompatibilityError(["a", "b"])

    assert guarded("bundle_x", body)["error"]["problems"] == ["a", "b"]


def test_anything_else_fails_with_the_plugin_name_and_a_traceback():
    def body():
        raise KeyError("dest")

    cleanup = Cleanup()
    result = guarded("bundle_fetch", body, cleanup)
    assert result["failed"] is True
    assert result["msg"] == "bundle_fetch failed unexpectedly: 'dest'"
    assert "Traceback" in result["exception"] and "KeyError" in result["exception"]
    assert cleanup.calls == 1


@pytest.mark.parametrize("plugin, name", [(bundle_build, "bundle_build"), (bundle_fetch, "bundle_fetch"), (bundle_info, "bundle_info")])
def test_every_bundle_action_uses_the_shared_run(plugin, name):
    assert issubclass(plugin.ActionModule, BundleAction)
    assert plugin.ActionModule.run is BundleAction.run
    assert plugin.ActionModule.NAME == name
