# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side planning: rollback check (threat 4), per-component actions, compatibility of the resulting set."""

from __future__ import annotations

import hashlib
import os

import pytest

from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import RollbackError
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_manifest import Artifact, Component
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_release import Destination, install_release
from ansible_collections.groundwork.infra.plugins.plugin_utils._bundle_plan import (
    compatibility,
    plan_components,
    rollback_check,
)

DEST = "/srv/bundles"
SHA_A = "aa" * 32
SHA_B = "bb" * 32


# -- rollback_check --------------------------------------------------------------

@pytest.mark.parametrize("release, highest", [
    ("1.0", "2.0"),
    ("2026.2.0", "2026.11.0"),
    ("2.0.0rc1", "2.0.0"),
    ("1.9", "1.10"),
])
def test_rollback_refused(release, highest):
    with pytest.raises(RollbackError) as info:
        rollback_check(release, highest, False, DEST)
    text = str(info.value)
    assert "release %s is lower than release %s, the highest already accepted at %s" % (release, highest, DEST) in text
    assert "allow_downgrade" in text
    assert info.value.to_dict()["kind"] == "rollback"


@pytest.mark.parametrize("release, highest", [("1.0", "2.0"), ("2.0.0rc1", "2.0.0")])
def test_allowed_downgrade_keeps_highest(release, highest):
    # The record of the highest accepted release never goes down.
    assert rollback_check(release, highest, True, DEST) == highest


@pytest.mark.parametrize("release, highest, expected", [
    ("2.0", "2.0", "2.0"),
    ("2.0.0", "2.0", "2.0.0"),
    ("2.1", "2.0", "2.1"),
    ("2.0.0", "2.0.0rc1", "2.0.0"),
    ("1.10", "1.9", "1.10"),
    ("1.0", None, "1.0"),
    ("1.0", "", "1.0"),
])
def test_equal_or_higher_passes(release, highest, expected):
    assert rollback_check(release, highest, False, DEST) == expected
    assert rollback_check(release, highest, True, DEST) == expected


# -- plan_components -----------------------------------------------------------

def comp(name, version, digest=SHA_A, requires=None):
    artifact = Artifact(name + ".tar.gz", "https://x.invalid/" + name + ".tar.gz", "sha256", digest, 100, True)
    return Component(name, version, "files", [artifact], requires or {}, {})


def record_artifacts(name, digest=SHA_A):
    # As bundle_install records them: no src, plus the module's defaults.
    return [{"name": name + ".tar.gz", "sha256": digest, "sha512": None, "size": 100, "unpack": True,
             "unpacked_size": None, "executable": False}]


def host(name, current, versions, digest=SHA_A, version_digests=None, **extra):
    info = {"current": current, "versions": versions, "artifacts": record_artifacts(name, digest) if current else [],
            "version_artifacts": dict((v, record_artifacts(name, (version_digests or {}).get(v, digest))) for v in versions)}
    info.update(extra)
    return info


@pytest.mark.parametrize("installed, selected, full, action, previous", [
    ("nothing", comp("web", "1.0"), False, "install", None),
    ("same", comp("web", "1.0"), False, "none", "1.0"),
    ("same", comp("web", "1.0"), True, "none", "1.0"),
    ("damaged", comp("web", "1.0"), False, "none", "1.0"),
    ("damaged", comp("web", "1.0"), True, "install", "1.0"),
    ("same", comp("web", "1.0", digest=SHA_B), False, "install", "1.0"),
    ("same", comp("web", "2.0"), False, "install", "1.0"),
    ("kept", comp("web", "0.9"), False, "switch", "1.0"),
    # A kept copy of the version with other artifacts (republished) cannot be switched to.
    ("kept", comp("web", "0.9", digest=SHA_B), False, "install", "1.0"),
    # Full verification checks only current copies on the controller: a kept copy gets its artifacts sent.
    ("kept", comp("web", "0.9"), True, "install", "1.0"),
])
def test_plan_actions(installed, selected, full, action, previous):
    hosts = {
        "nothing": {},
        "same": {"web": host("web", "1.0", ["1.0"])},
        "damaged": {"web": host("web", "1.0", ["1.0"], intact=False, problems=["missing: index.html"])},
        "kept": {"web": host("web", "1.0", ["0.9", "1.0"])},
    }
    plan = plan_components([selected], hosts[installed], full=full)
    assert plan == [{"name": "web", "version": selected.version, "kind": "files", "previous": previous, "action": action,
                    "architecture": "all"}]


def test_plan_keeps_manifest_order():
    installed = {"db": host("db", "2.0", ["2.0"]), "web": host("web", "1.0", ["0.9", "1.0"])}
    plan = plan_components([comp("web", "0.9"), comp("db", "2.0"), comp("cache", "1.0")], installed)
    assert [(p["name"], p["action"]) for p in plan] == [("web", "switch"), ("db", "none"), ("cache", "install")]


def _host_artifact(tmp_path, name, content):
    path = str(tmp_path / name)
    with open(path, "wb") as handle:
        handle.write(content)
    return {"name": name, "src": path, "sha256": hashlib.sha256(content).hexdigest(), "size": len(content), "unpack": False,
            "sha512": None, "unpacked_size": None, "executable": False}


def test_plan_matches_what_the_host_records(tmp_path):
    """Round trip: the controller's plan from Destination.installed agrees with the host's own decision."""
    dest = str(tmp_path / "dest")
    v1 = _host_artifact(tmp_path, "app-1.bin", b"one")
    v2 = _host_artifact(tmp_path, "app-2.bin", b"two")
    install_release(dest, "1", [{"name": "app", "version": "1.0", "kind": "files", "artifacts": [v1]}], now=1)
    install_release(dest, "2", [{"name": "app", "version": "2.0", "kind": "files", "artifacts": [v2]}], now=2)

    def manifest_comp(version, art):
        return Component("app", version, "files", [Artifact(art["name"], art["name"], "sha256", art["sha256"], art["size"], False)],
                         {}, {})

    installed = Destination(dest).installed()
    cases = [(manifest_comp("2.0", v2), "none"), (manifest_comp("1.0", v1), "switch"),
             (manifest_comp("1.0", v2), "install"), (manifest_comp("3.0", v2), "install")]
    for selected, action in cases:
        assert plan_components([selected], installed)[0]["action"] == action
        host_side = install_release(dest, "3", [{"name": "app", "version": selected.version, "kind": "files",
                                                 "artifacts": [dict(a.to_dict(), src="/nonexistent") for a in selected.artifacts]}],
                                    check_mode=True)
        assert host_side["plan"][0]["action"] == action
    # After damage, full verification agrees too.
    with open(os.path.join(dest, "app", "2.0", "app-2.bin"), "wb") as handle:
        handle.write(b"TWO")
    damaged = Destination(dest).installed(full=True)
    assert plan_components([manifest_comp("2.0", v2)], damaged, full=True)[0]["action"] == "install"
    assert plan_components([manifest_comp("2.0", v2)], damaged, full=False)[0]["action"] == "none"


# -- compatibility of the resulting set ------------------------------------------

def test_compatibility_ignores_replaced_components():
    installed = {
        "redis": {"current": "6.2", "versions": ["6.2"], "requires": {}},
        "app": {"current": "1.0", "versions": ["1.0"], "requires": {"components": {"redis": "<7"}}},
    }
    # The selection replaces both: the old app's "redis<7" no longer matters.
    selected = [comp("redis", "7.2"), comp("app", "2.0", requires={"redis": ">=7"})]
    assert compatibility(selected, installed, {}) == []
    # Replacing only redis: the installed app still constrains the set.
    assert compatibility([comp("redis", "7.2")], installed, {}) == ["app 1.0 requires redis <7, but redis 7.2 would be installed"]
    # Replacing only app: the installed redis is checked against the new app.
    assert compatibility([comp("app", "2.0", requires={"redis": ">=7"})], installed, {}) == [
        "app 2.0 requires redis >=7, but redis 6.2 is installed"]


def test_compatibility_ignores_components_without_current():
    installed = {"old": {"current": None, "versions": ["1.0"], "requires": {"components": {"web": "<1"}}}}
    assert compatibility([comp("web", "1.0")], installed, {}) == []


def test_compatibility_host_capabilities():
    web = Component("web", "1.0", "compose", [], {}, {"docker": ">=24"})
    assert compatibility([web], {}, {"docker": "20.10.24+dfsg1"}) == [
        "web 1.0 requires host docker >=24, but the host has 20.10.24+dfsg1"]
    assert compatibility([web], {}, {}, check_host=False) == []


# -- issue 16 item 8: how to go on after a rollback; changed content under an unchanged version ------

def test_downgrade_refusal_says_how_to_go_on_and_names_the_recorded_release():
    """Issue 16 item 8 (a): after a rollback (or an upgrade run with another manifest) the next plain
    deploy was refused as a downgrade with no hint. The message names the release recorded at the
    destination, the option that allows it (and its role variable) and the release to deliver instead."""
    with pytest.raises(RollbackError) as info:
        rollback_check("2026.1.0", "2026.2.0", False, DEST, recorded="2026.1.0")
    text = info.value.reason
    assert "release 2026.1.0 is lower than release 2026.2.0, the highest already accepted at %s" % DEST in text
    assert "the release recorded there now is 2026.1.0" in text
    assert "deliver release 2026.2.0 or later" in text
    assert "set allow_downgrade: true (bundle_allow_downgrade=true" in text
    assert "the highest accepted release stays 2026.2.0" in text
    # Without a rollback in between the recorded release is the highest: not repeated.
    with pytest.raises(RollbackError) as info:
        rollback_check("2026.1.0", "2026.2.0", False, DEST, recorded="2026.2.0")
    assert "recorded there now" not in info.value.reason and "deliver release 2026.2.0 or later" in info.value.reason


def test_changed_artifacts_under_an_unchanged_version_are_refused(tmp_path):
    """Issue 16 item 8 (b): a release rebuilt with the same release and component versions but other
    content was re-delivered silently. Refused with an integrity error naming the component, the
    version and the artifact (current and kept versions), unless allow_republish."""
    from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import IntegrityError
    from ansible_collections.groundwork.infra.plugins.plugin_utils._bundle_plan import refuse_republished, republished

    dest = str(tmp_path / "dest")
    v1 = _host_artifact(tmp_path, "app.bin", b"one")
    install_release(dest, "1", [{"name": "app", "version": "1.0", "kind": "files", "artifacts": [v1]}], now=1)
    installed = Destination(dest).installed()

    def offered(version, content, name="app.bin"):
        return Component("app", version, "files", [Artifact(name, name, "sha256", hashlib.sha256(content).hexdigest(),
                                                            len(content), False)], {}, {})

    assert republished([offered("1.0", b"one")], installed) == []  # the same release again: fine
    assert republished([offered("2.0", b"two")], installed) == []  # a new version: fine
    rebuilt = offered("1.0", b"ONE")
    with pytest.raises(IntegrityError) as info:
        refuse_republished([rebuilt], installed, False, dest)
    err = info.value
    assert err.component == "app" and err.to_dict()["kind"] == "integrity"
    assert "app 1.0 is already installed from other artifacts than this release offers under the same version" in err.reason
    assert "artifact app.bin has sha256 %s instead of %s" % (hashlib.sha256(b"ONE").hexdigest(), v1["sha256"]) in err.reason
    assert "set allow_republish: true" in err.reason
    assert refuse_republished([rebuilt], installed, True, dest) == republished([rebuilt], installed)
    # An artifact added under the same version, and a kept (not current) version rebuilt.
    assert "artifact extra.bin is new" in republished(
        [Component("app", "1.0", "files", rebuilt.artifacts[:0] + offered("1.0", b"one").artifacts +
                   offered("1.0", b"x", name="extra.bin").artifacts, {}, {})], installed)[0]
    v2 = _host_artifact(tmp_path, "app2.bin", b"two")
    install_release(dest, "2", [{"name": "app", "version": "2.0", "kind": "files", "artifacts": [v2]}], now=2)
    with pytest.raises(IntegrityError, match="app 1.0 is already installed"):
        refuse_republished([rebuilt], Destination(dest).installed(), False, dest)
