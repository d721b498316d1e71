# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The docker_host role's version decisions: what a run will leave on the host, what runs after it."""

from __future__ import annotations

import re

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.groundwork.infra.plugins.filter.docker_host import docker_host_capabilities, docker_host_planned

PKG = {"engine": "docker-ce", "compose": "docker-compose-plugin"}
SKIPPED = {"skipped": True, "changed": False}


def dpkg(**versions):
    return {"packages": dict((name.replace("_", "-"), {"installed": v is not None, "version": v}) for name, v in versions.items())}


def policy(engine=(None, None), compose=(None, None)):
    return {"candidates": {"docker-ce": {"installed": engine[0], "candidate": engine[1]},
                           "docker-compose-plugin": {"installed": compose[0], "candidate": compose[1]}}}


def test_installed_versions_without_epoch_when_apt_was_not_asked():
    out = docker_host_planned(dpkg(docker_ce="5:27.3.1-1~debian.13~trixie", docker_compose_plugin="2.29.7-1~debian.13~trixie"), SKIPPED, PKG)
    assert out == {"docker_engine": "27.3.1-1~debian.13~trixie", "docker_compose": "2.29.7-1~debian.13~trixie"}


def test_candidates_on_a_new_host():
    out = docker_host_planned(dpkg(docker_ce=None, docker_compose_plugin=None), policy((None, "5:28.0.1-1"), (None, "2.33.1-1")), PKG)
    assert out == {"docker_engine": "28.0.1-1", "docker_compose": "2.33.1-1"}


def test_a_pin_wins_over_installed_and_candidate():
    out = docker_host_planned(dpkg(docker_ce="5:27.3.1-1", docker_compose_plugin=None), policy(("5:27.3.1-1", "5:28.0.1-1"), (None, "2.33.1-1")),
                              PKG, "5:26.1.4-1", "")
    assert out == {"docker_engine": "26.1.4-1", "docker_compose": "2.33.1-1"}


def test_installed_wins_over_candidate():
    out = docker_host_planned(dpkg(docker_ce="5:27.3.1-1"), policy(("5:27.3.1-1", "5:28.0.1-1")), PKG)
    assert out["docker_engine"] == "27.3.1-1"


def test_apt_installed_wins_over_candidate_when_dpkg_was_not_read():
    out = docker_host_planned(SKIPPED, policy(("5:27.3.1-1", "5:28.0.1-1"), ("2.29.7-1", "2.33.1-1")), PKG)
    assert out == {"docker_engine": "27.3.1-1", "docker_compose": "2.29.7-1"}


def test_nothing_known_is_empty():
    assert docker_host_planned(dpkg(), policy(), PKG) == {"docker_engine": "", "docker_compose": ""}


def test_packages_must_name_engine_and_compose():
    with pytest.raises(AnsibleFilterError, match="must name the engine and compose packages"):
        docker_host_planned(dpkg(), policy(), {"engine": "docker.io"})


def test_capabilities_are_the_running_versions_else_the_planned():
    planned = {"docker_engine": "26.1.5+dfsg1-9", "docker_compose": "2.26.1-4"}
    assert docker_host_capabilities({"server_version": "26.1.5+dfsg1", "compose_version": "2.26.1"}, planned) == {
        "docker_engine": "26.1.5+dfsg1", "docker_compose": "2.26.1"}
    assert docker_host_capabilities({"server_version": None, "compose_version": None}, planned) == planned


# --- daemon.json --------------------------------------------------------------------------------

from ansible_collections.groundwork.infra.plugins.filter.docker_host import docker_host_daemon_config, docker_host_subid_range  # noqa: E402

DEFAULTS = {"log_driver": "json-file", "log_max_size": "10m", "log_max_file": 3, "live_restore": True, "data_root": "",
            "registry_mirrors": [], "insecure_registries": [], "default_address_pools": [], "dns": [], "extra": {}}


def settings(**changes):
    out = dict(DEFAULTS)
    out.update(changes)
    return out


def test_daemon_config_of_the_defaults_rotates_json_file_logs():
    assert docker_host_daemon_config(settings()) == {"log-driver": "json-file", "live-restore": True,
                                                     "log-opts": {"max-size": "10m", "max-file": "3"}}


def test_log_opts_are_strings_and_only_for_rotating_drivers():
    assert docker_host_daemon_config(settings(log_driver="local", log_max_size=5, log_max_file=2))["log-opts"] == {"max-size": "5", "max-file": "2"}
    assert "log-opts" not in docker_host_daemon_config(settings(log_driver="journald"))


def test_optional_keys_appear_only_when_set():
    out = docker_host_daemon_config(settings(data_root="/srv/docker", registry_mirrors=["https://mirror.example.lan"],
                                             insecure_registries=["reg.lan:5000"], default_address_pools=[{"base": "172.30.0.0/16", "size": 24}],
                                             dns=["10.0.0.53"]))
    assert out["data-root"] == "/srv/docker"
    assert out["registry-mirrors"] == ["https://mirror.example.lan"]
    assert out["insecure-registries"] == ["reg.lan:5000"]
    assert out["default-address-pools"] == [{"base": "172.30.0.0/16", "size": 24}]
    assert out["dns"] == ["10.0.0.53"]
    assert set(docker_host_daemon_config(settings())) == {"log-driver", "live-restore", "log-opts"}


def test_extra_wins_and_merges_recursively():
    out = docker_host_daemon_config(settings(extra={"log-opts": {"max-size": "1m", "compress": "true"}, "live-restore": False, "iptables": False}))
    assert out["log-opts"] == {"max-size": "1m", "max-file": "3", "compress": "true"}
    assert out["live-restore"] is False
    assert out["iptables"] is False


def test_daemon_config_refuses_settings_it_cannot_read():
    with pytest.raises(AnsibleFilterError, match="settings lack live_restore"):
        docker_host_daemon_config({"log_driver": "json-file"})
    with pytest.raises(AnsibleFilterError, match="extra must be a dict"):
        docker_host_daemon_config(settings(extra=["iptables"]))


# --- subordinate ids ----------------------------------------------------------------------------

def test_the_users_own_range_is_kept():
    out = docker_host_subid_range("ops:100000:65536\napp:165536:65536\n", "app")
    assert out == {"start": 165536, "count": 65536, "line": "app:165536:65536", "existing": True}


def test_a_range_named_by_uid_counts_as_the_users():
    assert docker_host_subid_range("1001:300000:70000\n", "app", uid=1001)["line"] == "1001:300000:70000"


def test_a_new_range_starts_after_every_other_users_range():
    out = docker_host_subid_range("# comment\n\nops:100000:65536\nci:400000:1000\n", "app")
    assert out == {"start": 401000, "count": 65536, "line": "app:401000:65536", "existing": False}


def test_a_too_small_range_of_the_user_is_replaced_not_extended():
    out = docker_host_subid_range("app:100000:1000\n", "app")
    assert out == {"start": 100000, "count": 65536, "line": "app:100000:65536", "existing": False}


def test_an_empty_file_gives_the_first_range():
    assert docker_host_subid_range("", "app", 70000, 200000)["line"] == "app:200000:70000"


def test_a_broken_line_is_named():
    with pytest.raises(AnsibleFilterError, match="line 2 is not name:start:count: 'app:x:65536'"):
        docker_host_subid_range("ops:100000:65536\napp:x:65536\n", "app")


# --- ports a rootless engine cannot publish -----------------------------------------------------

from ansible_collections.groundwork.infra.plugins.filter.docker_host import docker_host_privileged_ports  # noqa: E402

COMPOSE = """
services:
  web:
    image: example/web:1
    ports:
      - "${HTTP_PORT:-8080}:8080"
      - "127.0.0.1:${ADMIN_PORT}:9000/tcp"
      - "9090"
  dns:
    image: example/dns:1
    ports:
      - target: 53
        published: "${DNS_PORT-53}"
        protocol: udp
      - "[::1]:443-444:8443-8444"
  worker:
    image: example/worker:1
"""


def test_ports_below_the_start_are_named_after_interpolation():
    assert docker_host_privileged_ports(COMPOSE, {"HTTP_PORT": "80", "ADMIN_PORT": "8081"}, 1024) == [
        "service dns: 53", "service dns: 443-444", "service web: 80"]


def test_defaults_and_env_both_count():
    assert docker_host_privileged_ports(COMPOSE, {"ADMIN_PORT": 999, "DNS_PORT": "5353"}, 1024) == [
        "service dns: 443-444", "service web: 999"]


def test_a_lower_start_allows_them():
    assert docker_host_privileged_ports(COMPOSE, {"HTTP_PORT": "80", "ADMIN_PORT": "8081"}, 0) == []
    assert docker_host_privileged_ports(COMPOSE, {"HTTP_PORT": "80", "ADMIN_PORT": "8081"}, 80) == ["service dns: 53"]


def test_plain_and_alternative_variables():
    ports = {"services": {"a": {"ports": ["$P:80", "${TLS:+443}:8443", "${NO_TLS:+444}8444:8444"]}}}
    assert docker_host_privileged_ports(ports, {"P": "22", "TLS": "yes"}, 1024) == ["service a: 22", "service a: 443"]


def test_a_port_that_is_no_number_is_named():
    with pytest.raises(AnsibleFilterError, match="service web publishes port 'http', which is not a number"):
        docker_host_privileged_ports({"services": {"web": {"ports": ["http:80"]}}}, {}, 1024)


# --- where a user's rootless engine lives -----------------------------------------------------

from ansible_collections.groundwork.infra.plugins.filter.docker_host import docker_host_rootless_engine  # noqa: E402


def test_the_rootless_engine_of_a_passwd_entry():
    # As ansible.builtin.getent reads `app:x:1001:1002::/home/app:/bin/sh`.
    engine = docker_host_rootless_engine(["x", "1001", "1002", "", "/home/app", "/bin/sh"])
    assert engine == {
        "uid": 1001, "group": "1002", "home": "/home/app", "runtime_dir": "/run/user/1001",
        "socket": "unix:///run/user/1001/docker.sock",
        "environment": {"XDG_RUNTIME_DIR": "/run/user/1001", "DOCKER_HOST": "unix:///run/user/1001/docker.sock"}}


@pytest.mark.parametrize("passwd", [None, "x:1001:1002::/home/app:/bin/sh", ["x", "1001", "1002"], ["x", "app", "1002", "", "/home/app"]])
def test_what_is_no_passwd_entry_is_shown(passwd):
    with pytest.raises(AnsibleFilterError, match=r"docker_host_rootless_engine: expected a passwd entry .*, not %s" % re.escape(repr(passwd))):
        docker_host_rootless_engine(passwd)
