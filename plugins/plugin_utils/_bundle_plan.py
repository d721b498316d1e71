# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to groundwork.infra: decide what a release changes on one host. Controller side."""

from __future__ import annotations

import copy

from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import IntegrityError, RollbackError
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_manifest import (
    check_compatibility,
    compare_releases,
)


def artifact_key(artifacts):
    key = []
    for art in artifacts or []:
        algorithm = "sha512" if art.get("sha512") else "sha256"
        key.append((art.get("name"), algorithm, (art.get(algorithm) or "").lower(), art.get("size"), bool(art.get("unpack")),
                    art.get("arch") or ""))
    return sorted(key)


def rollback_check(release, highest, allow_downgrade, dest, recorded=None):
    """Refuse a release lower than the highest accepted at ``dest``; return the highest to record.

    ``recorded``: the release the destination records as delivered last (after a rollback, or an
    upgrade run with another manifest, it differs from ``highest``); the refusal names it and says
    how to go on.
    """
    if not highest:
        return release
    order = compare_releases(release, highest)
    if order < 0 and not allow_downgrade:
        now = ("; the release recorded there now is %s" % recorded) if recorded and recorded != highest else ""
        raise RollbackError(
            "release %s is lower than release %s, the highest already accepted at %s; "
            "a downgrade needs allow_downgrade%s. To go on, deliver release %s or later (point the manifest "
            "at it), or set allow_downgrade: true (bundle_allow_downgrade=true for the roles and playbooks) to "
            "install %s on purpose; the highest accepted release stays %s" % (
                release, highest, dest, now, highest, release, highest))
    return highest if order < 0 else release


def _artifact_changes(kept, wanted):
    """Human-readable differences between the artifacts a version was installed from and the offered ones."""
    def by_name(arts):
        out = {}
        for art in arts or []:
            algorithm = "sha512" if art.get("sha512") else "sha256"
            out[art.get("name")] = (algorithm, (art.get(algorithm) or "").lower(), art.get("size"), bool(art.get("unpack")),
                                    art.get("arch") or "all architectures")
        return out

    before, after = by_name(kept), by_name(wanted)
    changes = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if old is None:
            changes.append("artifact %s is new" % name)
        elif new is None:
            changes.append("artifact %s is gone" % name)
        elif old[:2] != new[:2]:
            changes.append("artifact %s has %s %s instead of %s" % (name, new[0], new[1], old[1]))
        elif old[4] != new[4]:
            changes.append("artifact %s is for %s instead of %s" % (name, new[4], old[4]))
        else:
            changes.append("artifact %s has size %s instead of %s" % (name, new[2], old[2]))
    return changes


def _republished(selected, installed):
    found = []
    for comp in selected:
        info = (installed or {}).get(comp.name) or {}
        kept = (info.get("version_artifacts") or {}).get(comp.version)
        if kept is None and info.get("current") == comp.version:
            kept = info.get("artifacts")
        if kept is None:
            continue
        changes = _artifact_changes(kept, [a.to_dict() for a in comp.artifacts])
        if changes:
            found.append((comp.name, "%s %s is already installed from other artifacts than this release offers under "
                                     "the same version (%s)" % (comp.name, comp.version, "; ".join(changes))))
    return found


def republished(selected, installed):
    """Components whose version is installed (current or kept) from other artifacts than those offered.

    A release rebuilt with different content under unchanged release and component versions was
    re-delivered silently; each such component gives one problem naming the component, the
    version and the artifacts that differ. bundle_fetch refuses them unless allow_republish.
    """
    return [text for _name, text in _republished(selected, installed)]


def refuse_republished(selected, installed, allow_republish, dest):
    """Raise IntegrityError for changed content under an unchanged version unless ``allow_republish``."""
    found = _republished(selected, installed)
    if found and not allow_republish:
        raise IntegrityError(
            "%s at %s; a changed artifact needs a new component version. To replace the installed copy on purpose, "
            "set allow_republish: true" % ("; ".join(text for _name, text in found), dest),
            component=found[0][0] if len(found) == 1 else None)
    return [text for _name, text in found]


def installed_for_compat(installed, selected):
    """What stays installed (and so still constrains the set) once ``selected`` replaces its namesakes."""
    names = set(c.name for c in selected)
    out = {}
    for name, info in (installed or {}).items():
        if name in names or not info.get("current"):
            continue
        out[name] = {"version": info["current"], "requires": info.get("requires") or {}}
    return out


def plan_components(selected, installed, full=False):
    """Per component: previous version and action (none, install, switch).

    "switch" means the host already keeps a copy of this version made from the same artifacts, so
    nothing is transferred; bundle_install decides again on the host and re-installs a copy that
    does not match, which needs the artifacts. So whenever the controller cannot tell that the kept
    copy matches (no per-version record, or ``full`` verification, which the controller only has
    for current versions) the plan is "install" and the artifacts go to the host.
    """
    plan = []
    for comp in selected:
        info = (installed or {}).get(comp.name) or {}
        previous = info.get("current")
        wanted = artifact_key([a.to_dict() for a in comp.artifacts])
        same_current = previous == comp.version and artifact_key(info.get("artifacts")) == wanted
        if full and info.get("intact") is False:
            same_current = False
        kept = (info.get("version_artifacts") or {}).get(comp.version)
        if same_current:
            action = "none"
        elif (comp.version in (info.get("versions") or []) and previous != comp.version and not full
              and kept is not None and artifact_key(kept) == wanted):
            action = "switch"
        else:
            action = "install"
        plan.append({"name": comp.name, "version": comp.version, "kind": comp.kind, "previous": previous, "action": action,
                     "architecture": ", ".join(comp.carried) or "all"})
    return plan


def compatibility(selected, installed, capabilities, check_host=True):
    """Every unmet requirement of the set the host would run after this release."""
    return check_compatibility(selected, installed_for_compat(installed, selected), capabilities, check_host=check_host)


def cache_fill_compatibility(selected):
    """Problems a controller-only cache fill can judge: requirements between the selected components.

    Without a host there is no installed set and no capabilities, so a requirement on a component
    that is not selected (it may well be installed on the hosts) cannot be judged here; the delivery
    checks it against each host.
    """
    names = set(c.name for c in selected)
    judged = []
    for comp in selected:
        comp = copy.copy(comp)
        comp.requires_components = dict((k, v) for k, v in comp.requires_components.items() if k in names)
        judged.append(comp)
    return check_compatibility(judged, {}, {}, check_host=False)
