# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""groundwork.infra.docker_versions_info: parsing of dpkg-query, apt-cache policy and Docker's
version output (as Debian's packages print them), and one run of the module against the real
dpkg and apt of the machine the tests run on (Debian)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.groundwork.infra.plugins.modules import docker_versions_info as dvi

POLICY = """docker.io:
  Installed: (none)
  Candidate: 26.1.5+dfsg1-9+b1
  Version table:
     26.1.5+dfsg1-9+b1 500
        500 http://deb.example/debian trixie/main amd64 Packages
docker-compose:
  Installed: 2.26.1-4
  Candidate: 2.26.1-4
  Version table:
 *** 2.26.1-4 500
        100 /var/lib/dpkg/status
"""


def test_dpkg_counts_only_installed_packages():
    out = dvi.parse_dpkg("docker.io installed 26.1.5+dfsg1-9+b1\ndocker-cli:amd64 installed 26.1.5+dfsg1-9+b1\n"
                         "docker-compose config-files 2.26.1-4\n", ["docker.io", "docker-cli", "docker-compose", "python3-yaml"])
    assert out == {"docker.io": {"installed": True, "version": "26.1.5+dfsg1-9+b1"},
                   "docker-cli": {"installed": True, "version": "26.1.5+dfsg1-9+b1"},
                   "docker-compose": {"installed": False, "version": None},
                   "python3-yaml": {"installed": False, "version": None}}


def test_policy_reads_installed_and_candidate_per_package():
    out = dvi.parse_policy(POLICY, ["docker.io", "docker-compose", "docker-ce"])
    assert out == {"docker.io": {"installed": None, "candidate": "26.1.5+dfsg1-9+b1"},
                   "docker-compose": {"installed": "2.26.1-4", "candidate": "2.26.1-4"},
                   "docker-ce": {"installed": None, "candidate": None}}


def test_policy_of_an_empty_index_has_no_candidate():
    out = dvi.parse_policy("docker.io:\n  Installed: (none)\n  Candidate: (none)\n  Version table:\n", ["docker.io"])
    assert out == {"docker.io": {"installed": None, "candidate": None}}


@pytest.mark.parametrize("text, version, validate", [
    ("Docker version 26.1.5+dfsg1, build a72d7cd\n", "26.1.5+dfsg1", True),
    ("Docker version 20.10.24+dfsg1, build 5d6db84\n", "20.10.24+dfsg1", False),
    ("Docker version 23.0.0, build e92dd87\n", "23.0.0", True),
    ("", None, False),
])
def test_dockerd_version_and_whether_it_can_validate(text, version, validate):
    assert dvi.parse_dockerd_version(text) == version
    assert dvi.at_least(version, 23, 0) is validate


def test_short_versions_lose_a_leading_v_only():
    assert dvi.parse_short_version("v2.26.1\n") == "2.26.1"
    assert dvi.parse_short_version("2.26.1\n") == "2.26.1"
    assert dvi.parse_short_version("26.1.5+dfsg1\n") == "26.1.5+dfsg1"
    assert dvi.parse_short_version("") is None


class Reader(object):
    """Stand-in for the host's programs: argv[0] -> (rc, stdout); a program not listed is missing."""

    def __init__(self, answers):
        self.answers, self.calls = answers, []

    def run(self, argv):
        self.calls.append(argv)
        rc, out = self.answers.get(" ".join(argv[:3]), (None, None))
        return out if rc == 0 else None

    def run_any_rc(self, argv):
        self.calls.append(argv)
        return self.answers.get(argv[0], (1, ""))[1]


def test_engine_versions_fall_back_to_the_v1_compose_program():
    reader = Reader({"dockerd --version": (0, "Docker version 26.1.5+dfsg1, build a\n"),
                     "docker version --format": (0, "26.1.5+dfsg1\n"),
                     "docker compose version": (1, ""),
                     "docker-compose version --short": (0, "1.29.2\n")})
    out = dvi.versions_info({"packages": [], "candidates": [], "engine": True}, reader)
    assert (out["dockerd_version"], out["server_version"], out["compose_version"]) == ("26.1.5+dfsg1", "26.1.5+dfsg1", "1.29.2")
    assert out["validate_config"] is True
    assert out["all_installed"] is True and out["packages"] == {}


def test_a_host_without_docker_answers_with_nulls():
    out = dvi.versions_info({"packages": ["docker.io"], "candidates": ["docker.io"], "engine": True}, Reader({}))
    assert out["packages"] == {"docker.io": {"installed": False, "version": None}} and out["all_installed"] is False
    assert out["candidates_known"] is False
    assert (out["dockerd_version"], out["server_version"], out["compose_version"], out["validate_config"]) == (None, None, None, False)


@pytest.mark.skipif(shutil.which("dpkg-query") is None or shutil.which("apt-cache") is None, reason="needs Debian's dpkg and apt")
def test_the_module_reads_the_real_dpkg_and_apt(capsys):
    expected = subprocess.run(["dpkg-query", "--show", "--showformat", "${Version}", "bash"],
                              capture_output=True, text=True, check=True).stdout
    with patch_module_args({"packages": ["bash", "no-such-package-groundwork"], "candidates": ["bash"], "engine": False}):
        with pytest.raises(SystemExit):
            dvi.main()
    out = json.loads(capsys.readouterr().out)
    assert out["packages"] == {"bash": {"installed": True, "version": expected},
                               "no-such-package-groundwork": {"installed": False, "version": None}}
    assert out["all_installed"] is False
    assert out["candidates"]["bash"]["installed"] == expected
