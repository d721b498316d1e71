# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to groundwork.infra: decide what a release changes on one host. Controller side."""

from __future__ import annotations

import copy

from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import RollbackError
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_manifest import (
    check_compatibility,
    compare_releases,
)


def artifact_key(artifacts):
    key = []
    for art in artifacts or []:
        algorithm = "sha512" if art.get("sha512") else "sha256"
        key.append((art.get("name"), algorithm, (art.get(algorithm) or "").lower(), art.get("size"), bool(art.get("unpack"))))
    return sorted(key)


def rollback_check(release, highest, allow_downgrade, dest):
    """Refuse a release lower than the highest accepted at ``dest``; return the highest to record."""
    if not highest:
        return release
    order = compare_releases(release, highest)
    if order < 0 and not allow_downgrade:
        raise RollbackError(
            "release %s is lower than release %s, the highest already accepted at %s; "
            "a downgrade needs allow_downgrade" % (release, highest, dest))
    return highest if order < 0 else release


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
        plan.append({"name": comp.name, "version": comp.version, "kind": comp.kind, "previous": previous, "action": action})
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
