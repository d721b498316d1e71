# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for groundwork.infra.bundle_build: before building, check each compose component
for what would fail at deploy time (plugin_utils/_compose.py), then run the module."""

from __future__ import annotations

import os

import yaml

from ansible_collections.groundwork.infra.plugins.plugin_utils._bundle_action import BundleAction
from ansible_collections.groundwork.infra.plugins.plugin_utils._compose import check_compose_source


class ActionModule(BundleAction):

    NAME = "bundle_build"
    _supports_check_mode = True

    def _run(self, args, task_vars):
        # The sources are read where the module runs; the checks need them on the controller,
        # which is where releases are built (the module's documented use: delegate_to localhost).
        if self._connection.transport.rsplit(".", 1)[-1] == "local":
            problems = []
            for comp in args.get("components") or []:
                if isinstance(comp, dict) and comp.get("kind") == "compose" and comp.get("src"):
                    src = os.path.expanduser(os.path.expandvars(str(comp["src"])))
                    if os.path.isdir(src):
                        per_arch = dict((arch, os.path.expanduser(os.path.expandvars(str(given["src"]))))
                                        for arch, given in (comp.get("per_arch") or {}).items()
                                        if isinstance(given, dict) and given.get("src"))
                        problems.extend("component %s: %s" % (comp.get("name"), p)
                                        for p in check_compose_source(src, yaml.safe_load, per_arch))
            if problems:
                return dict(failed=True, changed=False, problems=problems,
                            msg="bundle_build: these compose components would fail at deploy time, nothing was built: "
                                + "; ".join(problems))
        return self._execute_module(module_name="groundwork.infra.bundle_build", module_args=args, task_vars=task_vars)
