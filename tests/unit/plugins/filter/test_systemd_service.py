# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a restarted unit runs steadily, and the command line per architecture (plugins/filter/systemd_service.py)."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.groundwork.infra.plugins.filter.systemd_service import (
    systemd_service_architecture, systemd_service_exec, systemd_service_exec_problems, systemd_service_steadiness)


def _status(active="active", restarts="0", sub="running"):
    return {"ActiveState": active, "SubState": sub, "NRestarts": restarts}


def test_active_without_restarts_is_steady():
    verdict = systemd_service_steadiness(_status(), "0")
    assert verdict["steady"] and not verdict["failed"]
    assert verdict["summary"] == "ActiveState=active (running), 0 automatic restart(s) since this run restarted it"


def test_restarts_before_this_run_do_not_count():
    # issue 16 item 2: a failed first install left NRestarts=13; systemctl restart does not reset it.
    assert systemd_service_steadiness(_status(restarts="13"), "13")["steady"]


def test_a_counter_reset_by_systemd_is_steady():
    assert systemd_service_steadiness(_status(restarts="0"), "13")["steady"]


def test_automatic_restarts_since_this_run_fail():
    verdict = systemd_service_steadiness(_status(restarts="15"), "13")
    assert verdict["failed"] and verdict["restarts"] == 2
    assert "2 automatic restart(s)" in verdict["summary"]
    after_reset = systemd_service_steadiness(_status(restarts="3"), "13")
    assert after_reset["failed"] and after_reset["restarts"] == 3


def test_not_active_fails():
    verdict = systemd_service_steadiness(_status("activating", sub="auto-restart"), "0")
    assert verdict["failed"]
    assert verdict["summary"].startswith("ActiveState=activating (auto-restart), ")
    assert systemd_service_steadiness(_status("failed", sub="failed"), 0)["failed"]


def test_timers_and_sockets_have_no_counter():
    assert systemd_service_steadiness({"ActiveState": "active", "SubState": "waiting"}, 0, "timer")["steady"]
    assert systemd_service_steadiness(_status(restarts="4"), 0, "socket")["steady"]


def test_missing_counter_reads_as_zero():
    assert systemd_service_steadiness({"ActiveState": "active"}, "")["steady"]
    assert systemd_service_steadiness({"ActiveState": "active"}, None)["steady"]


def test_bad_input_is_named():
    with pytest.raises(AnsibleFilterError, match="NRestarts"):
        systemd_service_steadiness(_status(restarts="many"), 0)
    with pytest.raises(AnsibleFilterError, match="status as a dict"):
        systemd_service_steadiness("ActiveState=active", 0)


# --- the command line per architecture (exec_per_arch) -------------------------------------------

RELEASE = "/opt/groundwork/bundles/foo/current"
PER_ARCH = {"name": "foo", "exec_per_arch": {"amd64": "bin/foo --port 8080", "arm64": "bin/foo-arm64 --port 8080"}}


@pytest.mark.parametrize("facts, expected", [
    ({"architecture": "x86_64", "userspace_bits": "64"}, "amd64"),
    ({"architecture": "aarch64", "userspace_bits": "64"}, "arm64"),
    ({"architecture": "aarch64", "userspace_bits": "32"}, "armhf"),
    ({"architecture": "armv7l"}, "armhf"),
    ({}, ""),
])
def test_the_hosts_architecture_in_debians_names(facts, expected):
    assert systemd_service_architecture(facts) == expected


def test_each_host_runs_the_command_line_of_its_architecture():
    assert systemd_service_exec(PER_ARCH, "amd64", RELEASE) == RELEASE + "/bin/foo --port 8080"
    assert systemd_service_exec(PER_ARCH, "arm64", RELEASE) == RELEASE + "/bin/foo-arm64 --port 8080"


def test_exec_is_the_command_line_of_every_other_architecture():
    svc = dict(PER_ARCH, exec="bin/foo-generic")
    assert systemd_service_exec(svc, "armhf", RELEASE) == RELEASE + "/bin/foo-generic"
    assert systemd_service_exec(svc, "arm64", RELEASE) == RELEASE + "/bin/foo-arm64 --port 8080"
    # Without exec_per_arch, exec everywhere: the builds land at the same path.
    assert systemd_service_exec({"name": "foo", "exec": "bin/foo"}, "arm64", RELEASE) == RELEASE + "/bin/foo"
    assert systemd_service_exec({"name": "foo", "exec": "bin/foo"}, "", RELEASE) == RELEASE + "/bin/foo"


def test_architectures_left_out_by_the_argument_spec_do_not_count():
    svc = {"name": "foo", "exec": "bin/foo", "exec_per_arch": {"amd64": None, "arm64": "bin/foo-arm64", "armhf": ""}}
    assert systemd_service_exec(svc, "amd64", RELEASE) == RELEASE + "/bin/foo"
    assert systemd_service_exec_problems([dict(svc, exec=None)], "armhf") == [
        "foo has no command line for this host's architecture armhf: exec_per_arch names arm64 only, "
        "and there is no exec to fall back on"]


def test_an_absolute_program_stays_as_given():
    svc = {"name": "foo", "exec_per_arch": {"arm64": "/usr/bin/foo-arm64 -v"}}
    assert systemd_service_exec(svc, "arm64", RELEASE) == "/usr/bin/foo-arm64 -v"


def test_a_host_without_a_command_line_is_named_with_the_architectures_given():
    with pytest.raises(AnsibleFilterError, match="foo has no command line for this host's architecture armhf: "
                                                 "exec_per_arch names amd64, arm64 only"):
        systemd_service_exec(PER_ARCH, "armhf", RELEASE)
    with pytest.raises(AnsibleFilterError, match="architecture is unknown"):
        systemd_service_exec(PER_ARCH, "", RELEASE)


def test_problems_of_the_present_services_only():
    services = [PER_ARCH, {"name": "bar", "exec": "bin/bar"}, {"name": "gone", "state": "absent"},
                {"name": "noexec"}, dict(PER_ARCH, name="other")]
    assert systemd_service_exec_problems(services, "amd64") == ["noexec needs exec (or exec_per_arch)"]
    problems = systemd_service_exec_problems(services, "armhf")
    assert [p.split(" ", 1)[0] for p in problems] == ["foo", "noexec", "other"]
    assert systemd_service_exec_problems(services[1:3], "") == []


def test_bad_definitions_are_named():
    with pytest.raises(AnsibleFilterError, match="exec_per_arch must be a dict"):
        systemd_service_exec({"name": "foo", "exec_per_arch": "bin/foo"}, "amd64", RELEASE)
    with pytest.raises(AnsibleFilterError, match="service definition as a dict"):
        systemd_service_exec("bin/foo", "amd64", RELEASE)
    with pytest.raises(AnsibleFilterError, match="facts as a dict"):
        systemd_service_architecture(None)
