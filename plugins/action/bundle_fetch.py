# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for groundwork.infra.bundle_fetch: the controller side of bundle delivery.

1. read the manifest (size-capped), verify its signature, check expiry, parse it;
2. ask the host what it has (groundwork.infra.bundle_info, read-only);
3. keep the artifacts of the host's architecture; refuse a host whose architecture the release
   does not carry, a downgrade and every unmet requirement before anything changes;
4. download each needed artifact once into the controller cache (hash while streaming);
5. copy it to the host and let groundwork.infra.bundle_install verify, unpack and switch.
"""

from __future__ import annotations

import os

from ansible_collections.groundwork.infra.plugins.module_utils._bundle_download import ArtifactCache
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import BundleError, CompatibilityError
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_manifest import select_architecture
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_spec import FETCH_SPEC
from ansible_collections.groundwork.infra.plugins.plugin_utils._bundle_action import BundleAction
from ansible_collections.groundwork.infra.plugins.plugin_utils._bundle_plan import (
    cache_fill_compatibility,
    compatibility,
    plan_components,
    refuse_republished,
    rollback_check,
)
from ansible_collections.groundwork.infra.plugins.plugin_utils._bundle_source import (
    download_rate,
    host_architecture,
    host_capabilities,
    load_release,
)


class ActionModule(BundleAction):

    NAME = "bundle_fetch"
    ARGUMENT_SPEC = FETCH_SPEC
    TRANSFERS_FILES = True
    _supports_check_mode = True
    _supports_diff = True

    # ------------------------------------------------------------------
    def _host_reads_controller_files(self):
        """True for a local connection without become: the module runs here, as us."""
        transport = getattr(self._connection, "transport", "") or ""
        return transport.split(".")[-1] == "local" and not self._play_context.become

    def _host_state(self, args, task_vars):
        info = self._execute_module(
            module_name="groundwork.infra.bundle_info",
            module_args={"dest": args["dest"], "verify": args["verify"]},
            task_vars=task_vars,
        )
        if info.get("failed"):
            raise BundleError("could not read the installed state at %s: %s" % (args["dest"], info.get("msg")))
        return info

    def _fetch_artifacts(self, cache, components, args):
        paths, downloaded, cached = {}, 0, 0
        for comp in components:
            for art in comp.artifacts:
                got = cache.ensure(
                    art.url, art.digest, art.size, algorithm=art.algorithm, component=comp.name, file=art.name,
                    timeout=args["timeout"], retries=args["retries"], validate_certs=args["validate_certs"],
                    verify=args["verify"], min_rate=download_rate(args),
                )
                paths[(comp.name, art.name, art.arch)] = got["path"]
                downloaded += got.get("downloaded_bytes", 0)
                cached += 1 if got.get("cached") else 0
        return paths, downloaded, cached

    def _run(self, args, task_vars):
        manifest, audit = load_release(args)
        selected = manifest.select(args["components"])
        cache = ArtifactCache(os.path.expanduser(args["cache_dir"]))
        out = {"changed": False, "release": manifest.release, "dest": args["dest"]}

        if not args["dest"]:
            # Controller cache fill only (run once before delivering to many hosts, or before going offline):
            # every architecture's artifacts, unless the architecture option names one.
            problems = []
            if args["architecture"]:
                selected, problems = select_architecture(selected, args["architecture"], manifest.release,
                                                         "%s (the architecture option)" % args["architecture"])
            problems += cache_fill_compatibility(selected)
            if problems:
                raise CompatibilityError(problems, file=audit["manifest"])
            if self._task.check_mode:
                out["components"] = [{"name": c.name, "version": c.version, "kind": c.kind, "action": "fetch"} for c in selected]
                out["verified"] = audit
                return out
            paths, downloaded, cached = self._fetch_artifacts(cache, selected, args)
            audit.update(files=len(paths), bytes=sum(a.size for c in selected for a in c.artifacts))
            out.update(components=[{"name": c.name, "version": c.version, "kind": c.kind, "action": "fetch"} for c in selected],
                       verified=audit, downloaded_bytes=downloaded, cache_hits=cached, cache_dir=cache.cache_dir)
            return out

        state = self._host_state(args, task_vars)
        arch, described = host_architecture(task_vars, args["architecture"], state.get("host"))
        # The host's build of each component, or a refusal naming what the release carries.
        selected, arch_problems = select_architecture(selected, arch, manifest.release, described)
        out["architecture"] = arch
        installed = state.get("installed") or {}
        caps = host_capabilities(task_vars, args["host_capabilities"])
        if arch_problems:
            raise CompatibilityError(arch_problems + compatibility(selected, installed, caps), file=audit["manifest"])
        highest = (state.get("state") or {}).get("highest_release")
        record_highest = rollback_check(manifest.release, highest, args["allow_downgrade"], args["dest"],
                                        recorded=(state.get("state") or {}).get("release"))
        refuse_republished(selected, installed, args["allow_republish"], args["dest"])
        problems = compatibility(selected, installed, caps)
        if problems:
            raise CompatibilityError(problems, file=audit["manifest"])

        plan = plan_components(selected, installed, full=args["verify"] == "full")
        host_state = state.get("state") or {}
        state_changes = host_state.get("release") != manifest.release or host_state.get("highest_release") != record_highest
        changed = state_changes or any(p["action"] != "none" for p in plan)
        for item in plan:
            item["path"] = os.path.join(args["dest"], item["name"], item["version"])
        out.update(changed=changed, components=plan, host_capabilities=caps)
        if self._task.diff:
            out["diff"] = {
                "before_header": "%s (release %s)" % (args["dest"], host_state.get("release")),
                "after_header": "%s (release %s)" % (args["dest"], manifest.release),
                "before": "".join("%s: %s\n" % (p["name"], p["previous"]) for p in plan),
                "after": "".join("%s: %s\n" % (p["name"], p["version"]) for p in plan),
            }
        if not changed or self._task.check_mode:
            audit.update(files=0, bytes=0)
            out["verified"] = audit
            return out

        needed = [c for c, p in zip(selected, plan) if p["action"] == "install"]
        paths, downloaded, cached = self._fetch_artifacts(cache, needed, args)

        tmpdir = self._connection._shell.tmpdir or self._make_tmp_path()
        remote = {}
        if self._host_reads_controller_files():
            # The host is this machine, as this user: bundle_install reads the verified cache file
            # directly (read-only), saving a full copy. An archive is unpacked from it in place; the
            # stamp the cache wrote after verifying it spares a second hash unless verify=full.
            remote = dict(paths)
        else:
            for comp in needed:
                for art in comp.artifacts:
                    target = self._connection._shell.join_path(tmpdir, "%s--%s" % (comp.name, art.name))
                    self._transfer_file(paths[(comp.name, art.name, art.arch)], target)
                    remote[(comp.name, art.name, art.arch)] = target
            if remote:
                self._fixup_perms2([tmpdir] + list(remote.values()), execute=False)

        components = []
        for comp in selected:
            arts = []
            for art in comp.artifacts:
                entry = {"name": art.name, "src": remote.get((comp.name, art.name, art.arch), os.path.join(tmpdir, "not-transferred")),
                         art.algorithm: art.digest, "size": art.size, "unpack": art.unpack}
                if art.unpacked_size is not None:
                    entry["unpacked_size"] = art.unpacked_size
                if art.arch is not None:
                    entry["arch"] = art.arch
                arts.append(entry)
            components.append({"name": comp.name, "version": comp.version, "kind": comp.kind,
                               "requires": comp.requires, "artifacts": arts})
        installed_result = self._execute_module(
            module_name="groundwork.infra.bundle_install",
            module_args={
                "dest": args["dest"],
                "release": manifest.release,
                "components": components,
                "verify": args["verify"],
                "expected_highest_release": highest,
                "record_highest_release": record_highest,
                "keep": args["keep"],
                "lock_timeout": args["lock_timeout"],
                "max_unpacked_size": args["max_unpacked_size"],
                "max_members": args["max_members"],
            },
            task_vars=task_vars,
        )
        if installed_result.get("failed"):
            out.update(failed=True, msg=installed_result.get("msg"), error=installed_result.get("error"), changed=False)
            return out
        host_verified = installed_result.get("verified") or {}
        audit.update(files=host_verified.get("files", 0), bytes=host_verified.get("bytes", 0),
                     artifacts=host_verified.get("artifacts", []))
        done = dict((p["name"], p) for p in installed_result.get("plan") or [])
        for item in plan:
            item["action"] = (done.get(item["name"]) or item)["action"]
        out.update(changed=installed_result.get("changed", True), components=plan, verified=audit,
                   downloaded_bytes=downloaded, cache_hits=cached, pruned=installed_result.get("pruned") or {})
        return out
