# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k3s version reading and downgrade decisions (plugins/filter/k3s.py)."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.groundwork.infra.plugins.filter.k3s import k3s_downgrade, k3s_release_files, k3s_version

OUTPUT = "k3s version v1.31.5+k3s1 (56ec5dd4)\ngo version go1.22.10\n"


def test_version_from_k3s_version_output():
    assert k3s_version(OUTPUT) == "v1.31.5+k3s1"
    assert k3s_version("") == ""
    assert k3s_version(None) == ""
    assert k3s_version("go version go1.22.10") == ""


def test_newer_patch_and_build_are_upgrades():
    assert not k3s_downgrade("v1.31.5+k3s1", "v1.31.4+k3s1")
    assert not k3s_downgrade("1.31.4+k3s2", "v1.31.4+k3s1")
    assert not k3s_downgrade("v1.31.4+k3s1", "v1.31.4+k3s1")


def test_numbers_compare_as_numbers_not_text():
    assert not k3s_downgrade("v1.31.10+k3s1", "v1.31.9+k3s1")
    assert k3s_downgrade("v1.31.9+k3s1", "v1.31.10+k3s1")
    assert k3s_downgrade("v1.31.4+k3s2", "v1.31.4+k3s10")
    assert not k3s_downgrade("v1.32.0+k3s1", "v1.31.99+k3s9")


def test_older_versions_are_downgrades():
    # molecule/k3s: the release carries 1.31.3+k3s2 while the node runs 1.31.5+k3s1.
    assert k3s_downgrade("1.31.3+k3s2", "v1.31.5+k3s1")
    assert k3s_downgrade("v1.31.5+k3s1", "v1.31.5+k3s2")
    assert k3s_downgrade("v1.30.9+k3s1", "v1.31.0+k3s1")


def test_nothing_running_is_never_a_downgrade():
    assert not k3s_downgrade("v1.31.4+k3s1", "")
    assert not k3s_downgrade("v1.31.4+k3s1", None)


def test_a_version_that_is_not_k3s_is_named():
    with pytest.raises(AnsibleFilterError, match="'1.31' is not a k3s version"):
        k3s_downgrade("1.31", "v1.31.4+k3s1")
    with pytest.raises(AnsibleFilterError, match="'latest' is not a k3s version"):
        k3s_downgrade("v1.31.4+k3s1", "latest")


def test_a_release_candidate_comes_before_its_release():
    assert k3s_downgrade("v1.31.10-rc1+k3s1", "v1.31.10+k3s1")
    assert not k3s_downgrade("v1.31.10-rc2+k3s1", "v1.31.10-rc1+k3s1")
    assert not k3s_downgrade("v1.31.10-rc1+k3s1", "v1.31.9+k3s1")


@pytest.mark.parametrize("architecture, arch, debian, binary", [
    ("x86_64", "amd64", "amd64", "k3s"),
    ("amd64", "amd64", "amd64", "k3s"),
    ("aarch64", "arm64", "arm64", "k3s-arm64"),
    ("arm64", "arm64", "arm64", "k3s-arm64"),
    ("armv7l", "arm", "armhf", "k3s-armhf"),
    ("armhf", "arm", "armhf", "k3s-armhf"),
    ("arm", "arm", "armhf", "k3s-armhf"),
])
def test_release_files_of_each_architecture_as_upstream_names_them(architecture, arch, debian, binary):
    files = k3s_release_files(architecture)
    assert files == {"arch": arch, "debian": debian, "binary": binary, "checksums": "sha256sum-%s.txt" % arch,
                     "images": "k3s-airgap-images-%s." % arch}


def test_an_arm64_host_never_gets_the_amd64_names():
    files = k3s_release_files("aarch64")
    assert "amd64" not in " ".join(files.values())
    assert files["binary"] != k3s_release_files("x86_64")["binary"]


def test_an_architecture_without_k3s_is_named_with_those_k3s_is_built_for():
    with pytest.raises(AnsibleFilterError, match=r"'riscv64' has no k3s release files; k3s is built for amd64, arm, arm64"):
        k3s_release_files("riscv64")
    with pytest.raises(AnsibleFilterError, match="'' has no k3s release files"):
        k3s_release_files("")
