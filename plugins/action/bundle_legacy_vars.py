# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for groundwork.infra.bundle_legacy_vars: warn about the old role-specific bundle variables.

The bundle_* variables of the groundwork.infra.bundle role are the one bundle source of the
collection. Until 0.3.0 the older names below still work (roles/bundle/defaults/main.yml falls
back to them when the bundle_* variable is not set); each one that is set gets a real Ansible
deprecation warning naming the variable to set instead. Nothing runs on the managed host.
"""

from __future__ import annotations

from ansible.utils.display import Display

from ansible_collections.groundwork.infra.plugins.plugin_utils._bundle_action import BundleAction

# Old name -> the bundle_* variable that replaces it.
LEGACY_NAMES = {
    "compose_app_bundle_manifest": "bundle_manifest",
    "compose_app_bundle_signature": "bundle_signature",
    "compose_app_bundle_trusted_keys": "bundle_trusted_keys",
    "compose_app_bundle_dest": "bundle_dest",
    "compose_app_bundle_keep": "bundle_keep",
    "compose_app_bundle_allow_downgrade": "bundle_allow_downgrade",
    "compose_app_bundle_allow_expired": "bundle_allow_expired",
    "compose_app_bundle_cache_dir": "bundle_cache_dir",
    "docker_host_bundle_manifest": "bundle_manifest",
    "docker_host_bundle_signature": "bundle_signature",
    "docker_host_bundle_trusted_keys": "bundle_trusted_keys",
}


def legacy_in_use(names):
    """[(old, new), ...] for every deprecated name among ``names`` (the variables defined for the host), sorted."""
    return sorted((old, LEGACY_NAMES[old]) for old in set(names) if old in LEGACY_NAMES)


def message(old, new):
    return ("the variable %s is deprecated: set %s instead, once for every role (the bundle source, "
            "see the groundwork.infra.bundle role's README); %s is used only while %s is not set" % (old, new, old, new))


class ActionModule(BundleAction):

    NAME = "bundle_legacy_vars"
    ARGUMENT_SPEC = {}
    _supports_check_mode = True

    def _run(self, args, task_vars):
        del args
        found = legacy_in_use(task_vars)
        display = Display()
        for old, new in found:
            display.deprecated(message(old, new), version="0.3.0", collection_name="groundwork.infra")
        return {"changed": False, "legacy": [{"name": old, "use": new} for old, new in found]}
