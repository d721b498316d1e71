# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""k3s version reading and downgrade decisions (plugins/filter/k3s.py)."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.groundwork.infra.plugins.filter.k3s import k3s_downgrade, k3s_version

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
