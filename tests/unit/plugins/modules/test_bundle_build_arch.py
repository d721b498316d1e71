# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bundle_build with per-architecture inputs: format 2, labelled artifacts, reproducible, format 1 unchanged."""

from __future__ import annotations

import hashlib
import shutil
import struct

import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import BundleError
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_manifest import load_manifest, select_architecture
from ansible_collections.groundwork.infra.plugins.modules import bundle_build

ISSUED = "2026-12-01T10:00:00Z"


class Module(object):
    """What BundleBuilder reads of an AnsibleModule: validated params, check mode, diff."""

    def __init__(self, **params):
        result = ArgumentSpecValidator(bundle_build.ARGUMENT_SPEC).validate(params)
        assert not result.error_messages, result.error_messages
        self.params = result.validated_parameters
        self.check_mode = False
        self._diff = False


def build(dest, components, **extra):
    return bundle_build.BundleBuilder(Module(dest=str(dest), release="2026.12.0", issued=ISSUED, components=components, **extra)).run()


def elf(machine, elf_class=2):
    return b"\x7fELF" + bytes([elf_class, 1, 1]) + bytes(9) + struct.pack("<HH", 2, machine) + b"\0" * 100


@pytest.fixture
def inputs(tmp_path):
    src = tmp_path / "in"
    for arch, machine, elf_class in (("amd64", 62, 2), ("arm64", 183, 2), ("armhf", 40, 1)):
        (src / arch).mkdir(parents=True)
        (src / arch / "hello").write_bytes(elf(machine, elf_class) + arch.encode())
        (src / arch / "tree").mkdir()
        (src / arch / "tree" / "lib.txt").write_text("library for %s\n" % arch)
    (src / "common").mkdir()
    (src / "common" / "hello.conf").write_text("port = 8080\n")
    (src / "site").mkdir()
    (src / "site" / "index.html").write_text("<h1>hello</h1>\n")
    return src


def per_arch_components(src):
    return [
        {"name": "hello", "version": "1.0.0", "kind": "systemd", "files": [str(src / "common" / "hello.conf")],
         "per_arch": {"arm64": {"files": [str(src / "arm64" / "hello")], "src": str(src / "arm64" / "tree")},
                      "amd64": {"files": [str(src / "amd64" / "hello")], "src": str(src / "amd64" / "tree")}}},
        {"name": "site", "version": "2.0.0", "kind": "files", "src": str(src / "site")},
    ]


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_per_arch_inputs_give_a_format_2_manifest_with_labelled_artifacts(tmp_path, inputs):
    result = build(tmp_path / "out", per_arch_components(inputs))
    assert result["format"] == 2
    text = (tmp_path / "out" / "manifest.yaml").read_bytes()
    assert b"\nformat: 2\n" in text
    manifest = load_manifest(text, source="file://%s/out/manifest.yaml" % tmp_path, base_url="file://%s/out/manifest.yaml" % tmp_path)
    hello, site = manifest.components
    assert [(a.name, a.arch) for a in hello.artifacts] == [
        ("hello.conf", None), ("hello-1.0.0-amd64.tar.gz", "amd64"), ("hello", "amd64"),
        ("hello-1.0.0-arm64.tar.gz", "arm64"), ("hello", "arm64")]
    assert site.architectures is None
    for arch in ("amd64", "arm64"):
        got = select_architecture(manifest.components, arch, manifest.release)[0][0]
        binary = [a for a in got.artifacts if a.name == "hello"]
        assert len(binary) == 1
        placed = tmp_path / "out" / "artifacts" / "hello" / "1.0.0" / arch / "hello"
        assert binary[0].url.endswith("artifacts/hello/1.0.0/%s/hello" % arch)
        assert binary[0].digest == sha(placed) == sha(inputs / arch / "hello")
    assert select_architecture(manifest.components, "armhf", manifest.release)[1] == [
        "hello 1.0.0 has no build for it (it is built for amd64, arm64), but the host is armhf; release 2026.12.0 carries amd64, arm64"]


def test_without_per_arch_inputs_the_manifest_is_format_1_as_before(tmp_path, inputs):
    comps = [{"name": "site", "version": "2.0.0", "kind": "files", "src": str(inputs / "site"),
              "files": [str(inputs / "amd64" / "hello")]}]
    result = build(tmp_path / "out", comps)
    text = (tmp_path / "out" / "manifest.yaml").read_text()
    assert result["format"] == 1
    assert "\nformat: 1\n" in text and "arch" not in text
    assert load_manifest(text.encode(), source="m").format == 1
    # A universal file is not judged by its ELF header: today's releases build as they did.
    assert (tmp_path / "out" / "artifacts" / "site" / "2.0.0" / "hello").exists()


def test_per_arch_builds_are_reproducible(tmp_path, inputs):
    """Same inputs -> same bytes: another directory, another time, the per_arch keys in another order."""
    first = build(tmp_path / "one", per_arch_components(inputs))
    copy = tmp_path / "copy"
    shutil.copytree(inputs, copy)
    comps = per_arch_components(copy)
    comps[0]["per_arch"] = dict(reversed(list(comps[0]["per_arch"].items())))
    second = build(tmp_path / "two", comps)
    assert first["components"] == second["components"]
    assert (tmp_path / "one" / "manifest.yaml").read_bytes() == (tmp_path / "two" / "manifest.yaml").read_bytes()
    for path in (tmp_path / "one").rglob("*"):
        if path.is_file():
            assert path.read_bytes() == (tmp_path / "two" / path.relative_to(tmp_path / "one")).read_bytes(), path
    # And the digests follow the content of one architecture's input.
    (copy / "arm64" / "tree" / "lib.txt").write_text("changed\n")
    third = build(tmp_path / "three", per_arch_components(copy))
    changed = [(a["name"], a.get("arch")) for c3, c1 in zip(third["components"], first["components"])
               for a, b in zip(c3["artifacts"], c1["artifacts"]) if a["sha256"] != b["sha256"]]
    assert changed == [("hello-1.0.0-arm64.tar.gz", "arm64")]


def test_an_executable_for_another_architecture_is_refused(tmp_path, inputs):
    comps = per_arch_components(inputs)
    comps[0]["per_arch"]["arm64"]["files"] = [str(inputs / "amd64" / "hello")]
    with pytest.raises(BundleError) as info:
        build(tmp_path / "out", comps)
    assert info.value.message == "component 'hello', file '%s': file given for arm64 is an executable for amd64" % (inputs / "amd64" / "hello")
    assert not (tmp_path / "out" / "manifest.yaml").exists()


def test_requires_architecture_is_written_and_read(tmp_path, inputs):
    comps = per_arch_components(inputs)
    comps[1]["requires"] = {"architecture": ["arm64", "amd64", "arm64"]}
    build(tmp_path / "out", comps)
    text = (tmp_path / "out" / "manifest.yaml").read_bytes()
    assert b'      architecture: ["amd64", "arm64"]\n' in text
    site = load_manifest(text, source="m").components[1]
    assert site.requires_architecture == ["amd64", "arm64"]


@pytest.mark.parametrize("change, message", [
    (lambda c, s: c[0]["per_arch"]["arm64"].update(files=[str(s / "common" / "hello.conf")]),
     "two artifacts are named 'hello.conf' for arm64"),
    (lambda c, s: c[0]["per_arch"].update(armhf={"files": []}), "per_arch.armhf needs src or files"),
    (lambda c, s: c[0]["per_arch"]["arm64"].update(src=str(s / "nowhere")), "src for arm64 is not a directory"),
    (lambda c, s: c[0].update(requires={"architecture": ["armhf"]}),
     "requires.architecture (armhf) names none of the per_arch architectures (amd64, arm64)"),
    (lambda c, s: c[1].update(requires={"architecture": ["x86_64"]}), "requires.architecture must list architectures among"),
])
def test_invalid_per_arch_inputs(tmp_path, inputs, change, message):
    comps = per_arch_components(inputs)
    change(comps, inputs)
    with pytest.raises(BundleError) as info:
        build(tmp_path / "out", comps)
    assert message in info.value.message
