# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""docker_host's package bundle: the package versions read from the signed manifest's .deb file names."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.groundwork.infra.plugins.filter.docker_host_bundle import docker_host_bundle_versions

# File names as scripts/package-bundle.sh writes them for Debian 13's packages.
TRIXIE = ["Packages", "adduser_3.152_all.deb", "containerd_1.7.24_7eds1-6+deb13u1_amd64.deb",
          "docker-cli_26.1.5+dfsg1-9+deb13u1+b1_amd64.deb", "docker-compose_2.26.1-4_amd64.deb",
          "docker.io_26.1.5+dfsg1-9+deb13u1+b1_amd64.deb", "python3-yaml_6.0.2-1+b2_amd64.deb"]


def component(*names):
    return {"name": "docker-packages", "version": "26.1.5", "artifacts": [{"name": n, "sha256": "0" * 64} for n in names]}


def test_the_versions_of_the_packages_asked_for():
    out = docker_host_bundle_versions(component(*TRIXIE), ["docker.io", "docker-cli", "docker-compose", "python3-requests"])
    assert out == {"docker.io": "26.1.5+dfsg1-9+deb13u1+b1", "docker-cli": "26.1.5+dfsg1-9+deb13u1+b1",
                   "docker-compose": "2.26.1-4"}


def test_tilde_and_epoch_are_read_back_from_their_escapes():
    out = docker_host_bundle_versions(component("containerd_1.7.24_7eds1-6+deb13u1_amd64.deb",
                                                "docker-ce_5_3a27.3.1-1_7edebian.13_7etrixie_amd64.deb"),
                                      ["containerd", "docker-ce"])
    assert out == {"containerd": "1.7.24~ds1-6+deb13u1", "docker-ce": "5:27.3.1-1~debian.13~trixie"}


def test_a_name_that_only_starts_like_a_package_is_not_that_package():
    out = docker_host_bundle_versions(component("docker.io-doc_26.1.5_all.deb", "docker.io.deb", "docker.io_26.1.5_amd64.tar"),
                                      ["docker.io"])
    assert out == {}


def test_two_versions_of_one_package_are_refused():
    with pytest.raises(AnsibleFilterError, match="two versions of docker.io"):
        docker_host_bundle_versions(component("docker.io_26.1.5_amd64.deb", "docker.io_26.1.4_amd64.deb"), ["docker.io"])


def test_not_a_component():
    with pytest.raises(AnsibleFilterError, match="bundle_info component"):
        docker_host_bundle_versions({"name": "x"}, ["docker.io"])
