# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for groundwork.infra.bundle_info: manifest on the controller, installed state from the host."""

from __future__ import annotations

from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import BundleError, RollbackError
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_manifest import format_time, select_architecture
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_spec import INFO_SPEC
from ansible_collections.groundwork.infra.plugins.plugin_utils._bundle_action import BundleAction
from ansible_collections.groundwork.infra.plugins.plugin_utils._bundle_plan import (
    compatibility,
    plan_components,
    republished,
    rollback_check,
)
from ansible_collections.groundwork.infra.plugins.plugin_utils._bundle_source import host_architecture, host_capabilities, load_release


class ActionModule(BundleAction):

    NAME = "bundle_info"
    ARGUMENT_SPEC = INFO_SPEC
    VALIDATION = {"required_one_of": [["manifest", "dest"]]}
    _supports_check_mode = True

    def _run(self, args, task_vars):
        out = {"changed": False}
        installed, state, reported = {}, {}, {}
        if args["dest"]:
            host = self._execute_module(
                module_name="groundwork.infra.bundle_info",
                module_args={"dest": args["dest"], "verify": args["verify"], "components": args["components"]},
                task_vars=task_vars,
            )
            if host.get("failed"):
                raise BundleError("could not read the installed state at %s: %s" % (args["dest"], host.get("msg")))
            installed, state, reported = host.get("installed") or {}, host.get("state") or {}, host.get("host") or {}
            out.update(installed=installed, state=state)
        arch = None
        if args["dest"] or args["architecture"]:
            # The architecture of the host (or the one named): what it would get, and whether the release carries it.
            arch, described = host_architecture(task_vars, args["architecture"], reported)
            out.update(architecture=arch, architecture_source=described)
        if not args["manifest"]:
            return out
        manifest, audit = load_release(args)
        offered = manifest.select(args["components"])
        selected, problems = offered, []
        if "architecture" in out:
            selected, problems = select_architecture(offered, arch, manifest.release, out["architecture_source"])
        caps = host_capabilities(task_vars, args["host_capabilities"])
        problems = problems + compatibility(selected, installed, caps, check_host=bool(args["dest"] or args["host_capabilities"]))
        out.update(
            release={"release": manifest.release, "issued": format_time(manifest.issued),
                     "expires": format_time(manifest.expires) if manifest.expires else None,
                     "description": manifest.description, "format": manifest.format,
                     "architectures": manifest.carried or ["all"]},
            components=[c.to_dict() for c in offered],
            verified=audit,
            compatible=not problems,
            problems=problems,
            host_capabilities=caps,
        )
        if args["dest"]:
            try:
                rollback_check(manifest.release, state.get("highest_release"), False, args["dest"], recorded=state.get("release"))
                out["downgrade"] = False
            except RollbackError as exc:
                out["downgrade"] = True
                out["problems"] = out["problems"] + [exc.reason]
            changed_content = republished(selected, installed)
            out["republished"] = changed_content
            out["problems"] = out["problems"] + changed_content
            out["upgrade"] = plan_components(selected, installed, full=args["verify"] == "full")
        return out
