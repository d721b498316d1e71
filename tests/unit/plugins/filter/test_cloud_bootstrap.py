# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lock-out guard's inputs and the swap areas of cloud_bootstrap (plugins/filter/cloud_bootstrap.py)."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.groundwork.infra.plugins.filter.cloud_bootstrap import (
    cloud_bootstrap_lockout,
    cloud_bootstrap_login,
    cloud_bootstrap_missing_keys,
    cloud_bootstrap_swap_areas,
)

ED = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHlo ops@laptop"
RSA = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQC deploy"
ECDSA = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY ci"


# getent_passwd / getent_group facts as ansible.builtin.getent returns them.
PASSWD = {
    "root": ["x", "0", "0", "root", "/root", "/bin/bash"],
    "toor": ["x", "0", "0", "second root", "/root", "/bin/sh"],
    "debian": ["x", "1000", "1000", "", "/home/debian", "/bin/bash"],
    "ops": ["x", "1001", "1001", "", "/home/ops", "/bin/bash"],
}
GROUP = {
    "root": ["x", "0", ""],
    "sudo": ["x", "27", "debian,ops"],
    "debian": ["x", "1000", ""],
    "ops": ["x", "1001", ""],
    "ssh-users": ["x", "998", "ops"],
}


def status(uid, gid, groups):
    return ("Name:\tpython3\nUmask:\t0022\nState:\tR (running)\nTgid:\t4242\nPid:\t4242\n"
            "Uid:\t{0}\t{0}\t{0}\t{0}\nGid:\t{1}\t{1}\t{1}\t{1}\nFDSize:\t64\nGroups:\t{2} \nNStgid:\t4242\n"
            .format(uid, gid, " ".join(groups)))


def test_login_user_groups_and_home_from_proc_status():
    login = cloud_bootstrap_login(status(1000, 1000, ["27", "1000"]), PASSWD, GROUP)
    assert login == {"user": "debian", "groups": ["debian", "sudo"], "home": "/home/debian"}


def test_login_as_root_takes_the_first_name_of_uid_0():
    assert cloud_bootstrap_login(status(0, 0, ["0"]), PASSWD, GROUP) == {"user": "root", "groups": ["root"], "home": "/root"}


def test_the_primary_group_counts_even_when_groups_omits_it():
    assert cloud_bootstrap_login(status(1001, 1001, ["27", "998"]), PASSWD, GROUP)["groups"] == ["ops", "sudo", "ssh-users"]


def test_a_process_without_supplementary_groups():
    assert cloud_bootstrap_login(status(1001, 1001, []), PASSWD, GROUP)["groups"] == ["ops"]


def test_a_group_the_database_does_not_name_keeps_its_number():
    assert cloud_bootstrap_login(status(1000, 1000, ["4321"]), PASSWD, GROUP)["groups"] == ["debian", "4321"]


def test_the_real_uid_counts_not_the_effective_one():
    text = status(1000, 1000, []).replace("Uid:\t1000\t1000", "Uid:\t1000\t0")
    assert cloud_bootstrap_login(text, PASSWD, GROUP)["user"] == "debian"


def test_an_unknown_uid_is_named():
    with pytest.raises(AnsibleFilterError, match="uid 1234 is not in the account database"):
        cloud_bootstrap_login(status(1234, 1234, []), PASSWD, GROUP)


def test_text_without_uid_is_named():
    with pytest.raises(AnsibleFilterError, match="no Uid/Gid lines"):
        cloud_bootstrap_login("uid=1000(debian) gid=1000(debian)", PASSWD, GROUP)


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


# ---- the lock-out guard ----------------------------------------------------------------------


def facts(**changes):
    """A safe run: the admin user's key is in place and the login user (debian) has keys and is in sudo."""
    base = {
        "login": {"user": "debian", "groups": ["debian", "sudo"], "home": "/home/debian"},
        "login_keys_stat": {"exists": True, "size": 96},
        "admin_user": "ops",
        "admin_keys": [ED],
        "admin_authorized_keys": ED + "\n",
        "admin_keys_task": {"changed": False},
        "check_mode": False,
        "permit_root_login": "no",
        "password_authentication": False,
        "allow_groups": [],
    }
    base.update(changes)
    return base


def as_root(**changes):
    return facts(login={"user": "root", "groups": ["root"], "home": "/root"}, **changes)


def test_a_safe_change_locks_nobody_out():
    assert cloud_bootstrap_lockout(facts()) == []


def test_a_missing_admin_key_locks_the_admin_user_out():
    reasons = cloud_bootstrap_lockout(facts(admin_keys=[ED, RSA]))
    assert reasons == ["the admin user ops (1 of its 2 keys are not in its authorized_keys)"]


def test_no_authorized_keys_file_for_the_admin_user():
    assert len(cloud_bootstrap_lockout(facts(admin_authorized_keys=""))) == 1


@pytest.mark.parametrize("task", [{"changed": True}, {"skipped": True, "changed": False}], ids=["keys-added", "user-created"])
def test_check_mode_counts_the_keys_the_run_would_install(task):
    assert cloud_bootstrap_lockout(facts(admin_authorized_keys="", admin_keys_task=task, check_mode=True)) == []


def test_outside_check_mode_a_changed_keys_task_is_not_a_prediction():
    assert cloud_bootstrap_lockout(facts(admin_authorized_keys="", admin_keys_task={"changed": True}))


def test_check_mode_with_keys_already_written_still_reads_the_file():
    assert cloud_bootstrap_lockout(facts(admin_authorized_keys="", admin_keys_task={"changed": False}, check_mode=True))


def test_root_is_locked_out_by_permit_root_login_no():
    assert cloud_bootstrap_lockout(as_root()) == ["this connection (user root): PermitRootLogin no"]


def test_root_may_stay_with_prohibit_password_and_a_key():
    assert cloud_bootstrap_lockout(as_root(permit_root_login="prohibit-password")) == []


def test_root_without_keys_and_prohibit_password_cannot_fall_back_to_a_password():
    stat = {"exists": True, "size": 0}
    reasons = cloud_bootstrap_lockout(as_root(permit_root_login="prohibit-password", password_authentication=True, login_keys_stat=stat))
    assert reasons == ["this connection (user root): PermitRootLogin prohibit-password and root has no keys in its authorized_keys"]


def test_root_without_keys_may_keep_its_password_with_permit_root_login_yes():
    stat = {"exists": False}
    assert cloud_bootstrap_lockout(as_root(permit_root_login="yes", password_authentication=True, login_keys_stat=stat)) == []


@pytest.mark.parametrize("stat", [{"exists": False}, {"exists": True, "size": 0}], ids=["no-file", "empty-file"])
def test_a_login_user_without_keys_is_locked_out_when_passwords_go_off(stat):
    reasons = cloud_bootstrap_lockout(facts(login_keys_stat=stat))
    assert reasons == ["this connection (user debian): password logins go off and it has no keys in its authorized_keys"]
    assert cloud_bootstrap_lockout(facts(login_keys_stat=stat, password_authentication=True)) == []


def test_password_authentication_given_as_text_is_read_as_a_boolean():
    assert cloud_bootstrap_lockout(facts(login_keys_stat={"exists": False}, password_authentication="false"))


def test_the_admin_user_needs_no_keys_of_its_own_as_login_user():
    ops = {"user": "ops", "groups": ["ops"], "home": "/home/ops"}
    assert cloud_bootstrap_lockout(facts(login=ops, login_keys_stat={"exists": False}, allow_groups=["ssh-users"])) == []


def test_allow_groups_without_the_login_users_groups_lock_it_out():
    reasons = cloud_bootstrap_lockout(facts(allow_groups=["ssh-users", "admins"]))
    assert reasons == ["this connection (user debian): AllowGroups ssh-users admins holds none of its groups (debian, sudo)"]
    assert cloud_bootstrap_lockout(facts(allow_groups=["ssh-users", "sudo"])) == []


def test_every_reason_is_given_at_once():
    reasons = cloud_bootstrap_lockout(facts(admin_authorized_keys="", login_keys_stat={"exists": False}, allow_groups=["admins"]))
    assert [r.split(" (")[0].split(":")[0] for r in reasons] == ["the admin user ops", "this connection", "this connection"]


def test_facts_left_out_are_named():
    incomplete = facts()
    del incomplete["allow_groups"], incomplete["login"]
    with pytest.raises(AnsibleFilterError, match="lack login, allow_groups"):
        cloud_bootstrap_lockout(incomplete)
