# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Architectures in the bundle format (format 2): names, per-host selection, refusal, and format 1 still read."""

from __future__ import annotations

import copy
import hashlib
import os
import struct

import pytest
import yaml

from ansible_collections.groundwork.infra.plugins.module_utils._bundle_arch import (
    debian_architecture,
    elf_architecture,
    file_architecture,
    recorded_architecture,
)
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import ManifestError
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_manifest import load_manifest, select_architecture
from ansible_collections.groundwork.infra.plugins.plugin_utils._bundle_plan import plan_components, republished
from ansible_collections.groundwork.infra.plugins.plugin_utils._bundle_source import host_architecture

SOURCE = "https://releases.example.invalid/bundles/2026.12.0/manifest.yaml"
A, B, C, D = ("a1" * 32, "b2" * 32, "c3" * 32, "d4" * 32)


def v1():
    return {
        "format": 1, "release": "2026.11.0", "issued": "2026-11-23T10:00:00Z",
        "components": [
            {"name": "hello-web", "version": "1.0.0", "kind": "compose",
             "artifacts": [{"name": "hello-web-1.0.0.tar.gz", "sha256": A, "size": 10}]},
            {"name": "k3s", "version": "1.30.2+k3s1", "kind": "k3s",
             "artifacts": [{"name": "k3s", "sha256": B, "size": 20}]},
        ],
    }


def v2():
    return {
        "format": 2, "release": "2026.12.0", "issued": "2026-12-01T10:00:00Z",
        "components": [
            {"name": "hello", "version": "1.0.0", "kind": "systemd",
             "artifacts": [
                 {"name": "hello.conf", "sha256": A, "size": 10},
                 {"name": "hello", "arch": "amd64", "url": "amd64/hello", "sha256": B, "size": 20},
                 {"name": "hello", "arch": "arm64", "url": "arm64/hello", "sha256": C, "size": 30},
             ]},
            {"name": "site", "version": "2.0.0", "kind": "files",
             "artifacts": [{"name": "site.tar.gz", "sha256": D, "size": 40}]},
        ],
    }


def load(data):
    return load_manifest(yaml.safe_dump(data, sort_keys=False).encode("utf-8"), source=SOURCE, base_url=SOURCE)


# -- names -----------------------------------------------------------------------------------

@pytest.mark.parametrize("machine, bits, expected", [
    ("x86_64", None, "amd64"), ("aarch64", None, "arm64"), ("armv7l", None, "armhf"), ("arm64", "64", "arm64"),
    ("armv8l", "32", "armhf"), ("aarch64", "32", "armhf"), ("x86_64", "32", "i386"), ("i686", None, "i386"),
    ("amd64", None, "amd64"), ("riscv64", "64", "riscv64"), ("  AARCH64 ", None, "arm64"), ("", None, None), (None, None, None),
])
def test_debian_names_of_machines(machine, bits, expected):
    assert debian_architecture(machine, bits) == expected


def elf(machine, elf_class=2, data=1):
    header = b"\x7fELF" + bytes([elf_class, data, 1]) + bytes(9)
    return header + struct.pack("<HH" if data == 1 else ">HH", 2, machine)


@pytest.mark.parametrize("header, expected", [
    (elf(62), "amd64"), (elf(183), "arm64"), (elf(40, elf_class=1), "armhf"), (elf(3, elf_class=1), "i386"),
    (elf(243), "ELF machine 243"), (elf(183, elf_class=1), "ELF machine 183 with 32-bit class"),
    (elf(183, data=2), "arm64"), (b"#!/bin/sh\necho hello world\n", None), (b"\x7fELF", None),
])
def test_elf_architecture(header, expected):
    assert elf_architecture(header) == expected


def test_a_real_executable_of_this_machine_is_read(tmp_path):
    import platform
    assert file_architecture("/bin/true") == debian_architecture(platform.machine())
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    assert file_architecture(str(script)) is None


def test_recorded_architecture():
    assert recorded_architecture([{"name": "a"}, {"name": "b", "arch": "arm64"}]) == "arm64"
    assert recorded_architecture([{"name": "a"}]) == "all"
    assert recorded_architecture(None) == "all"


# -- the host's architecture -------------------------------------------------------------------

def test_host_architecture_prefers_the_option_then_facts_then_the_host():
    facts = {"ansible_facts": {"architecture": "aarch64", "userspace_bits": "64"}}
    reported = {"machine": "x86_64", "userspace_bits": "64"}
    assert host_architecture(facts, "armhf", reported) == ("armhf", "armhf (the architecture option)")
    assert host_architecture(facts, None, reported) == ("arm64", "arm64 (ansible_architecture aarch64)")
    assert host_architecture({}, None, reported) == ("amd64", "amd64 (uname -m x86_64 on the host)")
    assert host_architecture({}, None, {})[0] is None


# -- format 1 still reads; format 2 adds arch --------------------------------------------------

def test_a_format_1_manifest_still_reads_and_every_artifact_is_for_all():
    manifest = load(v1())
    assert manifest.format == 1 and manifest.carried == []
    assert [c.architectures for c in manifest.components] == [None, None]
    assert all(a.arch is None and "arch" not in a.to_dict() for c in manifest.components for a in c.artifacts)
    assert manifest.to_dict()["format"] == 1
    # Any host gets everything, whatever it is, known or not.
    for arch in ("amd64", "arm64", "armhf", "riscv64", None):
        selected, problems = select_architecture(manifest.components, arch, manifest.release)
        assert problems == []
        assert [[a.name for a in c.artifacts] for c in selected] == [["hello-web-1.0.0.tar.gz"], ["k3s"]]


@pytest.mark.parametrize("where", ["artifact", "requires"])
def test_format_1_refuses_the_format_2_fields(where):
    data = v1()
    if where == "artifact":
        data["components"][1]["artifacts"][0]["arch"] = "arm64"
    else:
        data["components"][1]["requires"] = {"architecture": ["arm64"]}
    with pytest.raises(ManifestError, match="a format 1 manifest does not have: architectures need format: 2"):
        load(data)


def test_format_2_parses_architectures():
    manifest = load(v2())
    assert manifest.format == 2
    assert manifest.carried == ["amd64", "arm64"]
    hello, site = manifest.components
    assert hello.carried == ["amd64", "arm64"] and hello.architectures == ["amd64", "arm64"]
    assert site.architectures is None
    assert [a.arch for a in hello.artifacts] == [None, "amd64", "arm64"]
    assert hello.to_dict()["architectures"] == ["amd64", "arm64"] and site.to_dict()["architectures"] == ["all"]
    assert hello.artifacts[2].to_dict()["arch"] == "arm64"
    assert hello.artifacts[2].url == "https://releases.example.invalid/bundles/2026.12.0/arm64/hello"


@pytest.mark.parametrize("arch, digests", [("amd64", [A, B]), ("arm64", [A, C])])
def test_each_host_gets_the_artifacts_of_its_architecture(arch, digests):
    manifest = load(v2())
    selected, problems = select_architecture(manifest.components, arch, manifest.release)
    assert problems == []
    hello, site = selected
    assert [a.digest for a in hello.artifacts] == digests
    assert [a.digest for a in site.artifacts] == [D]
    # The manifest itself is not changed by selecting.
    assert len(manifest.components[0].artifacts) == 3


@pytest.mark.parametrize("arch, host", [("armhf", "armhf (ansible_architecture armv7l)"), ("riscv64", None), (None, None)])
def test_a_host_the_release_does_not_carry_is_refused_naming_what_it_carries(arch, host):
    manifest = load(v2())
    selected, problems = select_architecture(manifest.components, arch, manifest.release, host)
    assert [c.name for c in selected] == ["site"]
    assert problems == ["hello 1.0.0 has no build for it (it is built for amd64, arm64), but the host is %s; "
                        "release 2026.12.0 carries amd64, arm64" % (host or arch or "of an unknown architecture")]


def test_requires_architecture_is_part_of_the_compatibility_matrix():
    data = v2()
    data["components"][1]["requires"] = {"architecture": ["arm64", "amd64"]}
    manifest = load(data)
    site = manifest.components[1]
    assert site.requires["architecture"] == ["amd64", "arm64"] and site.architectures == ["amd64", "arm64"]
    assert select_architecture([site], "arm64", manifest.release)[1] == []
    _selected, problems = select_architecture([site], "armhf", manifest.release)
    assert problems == ["site 2.0.0 requires architecture amd64, arm64, but the host is armhf; release 2026.12.0 carries amd64, arm64"]
    # Narrowing a component's builds: built for amd64 and arm64, but said to run on arm64 only.
    data["components"][0]["requires"] = {"architecture": ["arm64"]}
    hello = load(data).components[0]
    assert hello.architectures == ["arm64"]
    assert "hello 1.0.0 requires architecture arm64, but the host is amd64" in select_architecture([hello], "amd64", "r")[1][0]


@pytest.mark.parametrize("change, message", [
    (lambda d: d["components"][0]["artifacts"][1].update(arch="x86_64"),
     "artifact 'hello' arch 'x86_64' is not an architecture the bundle format names: amd64, arm64, armhf "
     "(the Debian name of x86_64 is amd64)"),
    (lambda d: d["components"][0]["artifacts"][1].update(arch="all"), "arch 'all' is not an architecture"),
    (lambda d: d["components"][0]["artifacts"][2].update(arch="amd64"), "artifact 'hello' is listed twice for amd64"),
    (lambda d: d["components"][0]["artifacts"].append({"name": "hello", "sha256": A, "size": 1}),
     "artifact 'hello' is listed for all architectures and for amd64, arm64: a host would get both"),
    (lambda d: d["components"][0]["artifacts"].append({"name": "hello.conf", "arch": "armhf", "sha256": A, "size": 1}),
     "artifact 'hello.conf' is listed for all architectures and for armhf"),
    (lambda d: d["components"][0].update(requires={"architecture": "arm64"}), "requires.architecture must list"),
    (lambda d: d["components"][0].update(requires={"architecture": ["arm64", "arm64"]}), "lists arm64 twice"),
    (lambda d: d["components"][0].update(requires={"architecture": ["armhf"]}),
     "requires.architecture (armhf) and the architectures of the artifacts (amd64, arm64) have none in common"),
])
def test_invalid_architectures(change, message):
    data = copy.deepcopy(v2())
    change(data)
    with pytest.raises(ManifestError) as info:
        load(data)
    assert message in info.value.message


# -- what the host records: a re-labelled artifact is not the installed one ------------------

def test_a_relabelled_artifact_under_the_same_version_is_republished():
    """Threat 27: the arm64 build offered as the amd64 one (same bytes, other label) under an unchanged version."""
    manifest = load(v2())
    amd64 = select_architecture(manifest.components, "amd64", manifest.release)[0][0]
    installed = {"hello": {"current": "1.0.0", "versions": ["1.0.0"], "artifacts": [a.to_dict() for a in amd64.artifacts]}}
    assert plan_components([amd64], installed)[0]["action"] == "none"
    assert republished([amd64], installed) == []
    relabelled = copy.deepcopy(v2())
    relabelled["components"][0]["artifacts"][1]["arch"] = "arm64"
    relabelled["components"][0]["artifacts"][2]["arch"] = "amd64"
    swapped = select_architecture(load(relabelled).components, "amd64", manifest.release)[0][0]
    assert plan_components([swapped], installed)[0]["action"] == "install"
    assert republished([swapped], installed) == [
        "hello 1.0.0 is already installed from other artifacts than this release offers under the same version "
        "(artifact hello has sha256 %s instead of %s)" % (C, B)]
    # Same bytes, only the label changed: the record's arch still tells them apart.
    label_only = copy.deepcopy(installed)
    label_only["hello"]["artifacts"][1]["arch"] = "arm64"
    assert republished([amd64], label_only) == [
        "hello 1.0.0 is already installed from other artifacts than this release offers under the same version "
        "(artifact hello is for amd64 instead of arm64)"]
    assert plan_components([amd64], label_only)[0]["action"] == "install"
    assert plan_components([amd64], installed)[0]["architecture"] == "amd64"


def test_this_host_reports_its_own_platform():
    import platform as stdlib_platform
    from ansible_collections.groundwork.infra.plugins.module_utils._bundle_arch import host_platform
    reported = host_platform()
    assert reported["machine"] == stdlib_platform.machine()
    assert reported["userspace_bits"] == "64"
    assert reported["architecture"] == debian_architecture(stdlib_platform.machine(), "64")


# -- on the host: a plain file labelled for one architecture that holds a program for another ----

def _component(tmp_path, body, arch, version="1.0.0"):
    src = tmp_path / ("hello-%s-%s" % (arch, version))
    src.write_bytes(body)
    return {"name": "hello", "version": version, "kind": "systemd", "requires": {},
            "artifacts": [{"name": "hello", "src": str(src), "sha256": hashlib.sha256(body).hexdigest(),
                           "size": len(body), "unpack": False, "arch": arch}]}


def test_the_host_refuses_a_program_labelled_for_another_architecture(tmp_path):
    """Threat 27 on the host: signed and intact, but the arm64 label sits on an amd64 program."""
    from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import IntegrityError
    from ansible_collections.groundwork.infra.plugins.module_utils._bundle_release import Destination, install_release
    dest = tmp_path / "dest"
    arm64 = elf(183) + b"arm64 build"
    install_release(str(dest), "2026.12.0", [_component(tmp_path, arm64, "arm64")])
    assert (dest / "hello" / "current" / "hello").read_bytes() == arm64
    assert Destination(str(dest)).installed()["hello"]["architecture"] == "arm64"
    with pytest.raises(IntegrityError) as info:
        install_release(str(dest), "2026.12.1", [_component(tmp_path, elf(62) + b"amd64 build", "arm64", version="1.0.1")])
    assert info.value.message == "component 'hello', file 'hello': artifact is labelled arm64 but is an executable for amd64"
    assert os.readlink(dest / "hello" / "current") == "1.0.0"
    assert not (dest / "hello" / "1.0.1").exists()
    # A file that is no ELF program (a script, data) is judged by its label alone.
    install_release(str(dest), "2026.12.2", [_component(tmp_path, b"#!/bin/sh\necho hello\n", "armhf", version="1.0.2")])
    assert os.readlink(dest / "hello" / "current") == "1.0.2"
