# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lock-out guard's inputs and the swap areas of cloud_bootstrap (plugins/filter/cloud_bootstrap.py)."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.groundwork.infra.plugins.filter.cloud_bootstrap import (
    cloud_bootstrap_login,
    cloud_bootstrap_missing_keys,
    cloud_bootstrap_swap_areas,
)

ED = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHlo ops@laptop"
RSA = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQC deploy"
ECDSA = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY ci"


def test_login_user_and_groups_from_id():
    out = "uid=1000(ops) gid=1000(ops) groups=1000(ops),27(sudo),998(ssh-users)\n"
    assert cloud_bootstrap_login(out) == {"user": "ops", "groups": ["ops", "sudo", "ssh-users"]}


def test_login_as_root_without_supplementary_groups():
    assert cloud_bootstrap_login("uid=0(root) gid=0(root) groups=0(root)") == {"user": "root", "groups": ["root"]}


def test_the_primary_group_counts_even_when_groups_omits_it():
    assert cloud_bootstrap_login("uid=1001(ci) gid=1001(builders) groups=27(sudo)")["groups"] == ["builders", "sudo"]


def test_unreadable_id_output_is_named():
    with pytest.raises(AnsibleFilterError, match="login user"):
        cloud_bootstrap_login("id: cannot find name for user ID 1234")


def test_keys_in_place_whatever_the_comment_and_options():
    on_host = 'from="10.0.0.0/8" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHlo other-comment\n' + RSA + "\n"
    assert cloud_bootstrap_missing_keys([ED, RSA], on_host) == []


def test_a_missing_key_is_listed():
    assert cloud_bootstrap_missing_keys([ED, ECDSA], ED + "\n") == [ECDSA]
    assert cloud_bootstrap_missing_keys([ED], "") == [ED]


def test_a_commented_out_key_is_not_in_place():
    assert cloud_bootstrap_missing_keys([ED], "# " + ED + "\n") == [ED]


def test_a_key_prefix_is_not_the_key():
    assert cloud_bootstrap_missing_keys(["ssh-ed25519 AAAAC3Nz"], ED + "\n") == ["ssh-ed25519 AAAAC3Nz"]


def test_a_wanted_value_that_is_no_key_is_named():
    with pytest.raises(AnsibleFilterError, match="not an SSH public key"):
        cloud_bootstrap_missing_keys(["AAAAC3NzaC1lZDI1NTE5"], ED)


def test_swap_areas_from_proc_swaps():
    text = ("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
            "/swapfile                               file\t\t1048572\t\t0\t\t-2\n"
            "/dev/sda2                               partition\t2097148\t\t0\t\t-3\n"
            "/var/swap\\040file                       file\t\t1024\t\t0\t\t-4\n")
    assert cloud_bootstrap_swap_areas(text) == ["/swapfile", "/dev/sda2", "/var/swap file"]


def test_no_swap_is_an_empty_list():
    assert cloud_bootstrap_swap_areas("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n") == []


def test_text_that_is_not_proc_swaps_is_named():
    with pytest.raises(AnsibleFilterError, match="/proc/swaps"):
        cloud_bootstrap_swap_areas("NAME\n/swapfile\n")
