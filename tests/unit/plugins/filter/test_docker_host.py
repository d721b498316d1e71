# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The docker_host role's version decisions: what a run will leave on the host, what runs after it."""

from __future__ import annotations

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
