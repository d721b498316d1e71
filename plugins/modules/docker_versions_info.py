#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: docker_versions_info
short_description: Read the Docker packages, apt's candidates and the running engine and Compose versions
version_added: 0.2.0
description:
  - Reads in one call on a Debian-family host what the groundwork.infra.docker_host role decides
    from - which packages dpkg has installed and at which version, the versions apt would
    install, and the versions of the installed C(dockerd), the running engine and Compose.
  - The package manager's and Docker's own commands answer (C(dpkg-query), C(apt-cache policy),
    C(dockerd --version), C(docker version), C(docker compose version)); their output is parsed
    here, in tested Python, not in the role. A command that is missing or fails gives V(null)
    values, not an error, so the module also answers on a host without Docker.
  - M(ansible.builtin.package_facts) needs C(python3-apt) and lists every package of the host;
    no module reports apt's candidate versions or the versions of Docker's programs.
  - Changes nothing. Runs on the managed host with the Python standard library only.
author:
  - groundwork.infra maintainers (@groundwork-infra)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - groundwork.infra.attributes
  - groundwork.infra.attributes.info_module
attributes:
  platform:
    platforms: debian
options:
  packages:
    description: Packages whose dpkg status and version to read (RV(packages), RV(all_installed)).
    type: list
    elements: str
    default: []
  candidates:
    description: Packages whose installed and candidate versions to read from C(apt-cache policy) (RV(candidates)).
    type: list
    elements: str
    default: []
  engine:
    description: Whether to read the versions of C(dockerd), the running engine and Compose.
    type: bool
    default: true
seealso:
  - module: ansible.builtin.package_facts
  - module: community.docker.docker_host_info
"""

EXAMPLES = r"""
- name: Read which Docker packages are installed and the engine and Compose versions
  groundwork.infra.docker_versions_info:
    packages: [docker.io, docker-cli, docker-compose]
  register: docker_versions

- name: Read the versions apt would install
  groundwork.infra.docker_versions_info:
    candidates: [docker.io, docker-compose]
    engine: false
  register: docker_candidates
"""

RETURN = r"""
packages:
  description: For each package of O(packages), whether dpkg has it installed and its version (V(null) when not installed).
  returned: success
  type: dict
  sample: {docker.io: {installed: true, version: "26.1.5+dfsg1-9+b1"}, docker-compose: {installed: false, version: null}}
all_installed:
  description: Whether every package of O(packages) is installed.
  returned: success
  type: bool
candidates:
  description:
    - For each package of O(candidates), the C(installed) and C(candidate) versions of C(apt-cache policy),
      V(null) where apt says C((none)) or does not know the package.
  returned: success
  type: dict
  sample: {docker.io: {installed: null, candidate: "26.1.5+dfsg1-9+b1"}}
candidates_known:
  description: Whether apt knows a candidate version for every package of O(candidates).
  returned: success
  type: bool
dockerd_version:
  description: The version of the installed C(dockerd) (C(dockerd --version)), V(null) without one.
  returned: success
  type: str
  sample: 26.1.5+dfsg1
server_version:
  description: The version of the running engine (C(docker version)), V(null) when it does not answer.
  returned: success
  type: str
  sample: 26.1.5+dfsg1
compose_version:
  description: The Compose version (the v2 plugin, else the v1 program), without a leading C(v); V(null) without Compose.
  returned: success
  type: str
  sample: 2.26.1
validate_config:
  description: Whether the installed C(dockerd) can check a configuration file (C(--validate), Docker 23.0 and later).
  returned: success
  type: bool
"""

import re

from ansible.module_utils.basic import AnsibleModule

ARGUMENT_SPEC = dict(
    packages=dict(type="list", elements="str", default=[]),
    candidates=dict(type="list", elements="str", default=[]),
    engine=dict(type="bool", default=True),
)
DPKG_FORMAT = "${Package} ${db:Status-Status} ${Version}\\n"
_DOCKERD_RE = re.compile(r"version\s+v?([0-9][^\s,]*)", re.IGNORECASE)
_POLICY_FIELD_RE = re.compile(r"^\s+(Installed|Candidate):\s*(\S+)\s*$")
_NUMBERS_RE = re.compile(r"^([0-9]+)(?:\.([0-9]+))?")


def parse_dpkg(stdout, packages):
    """``dpkg-query --show`` lines ``<package> <status> <version>`` -> {package: {installed, version}}
    for every package asked (architecture-qualified names such as ``docker.io:amd64`` count for
    ``docker.io``)."""
    found = {}
    for line in (stdout or "").splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        name = fields[0].split(":", 1)[0]
        if fields[1] == "installed":
            found[name] = fields[2]
    return dict((name, {"installed": name in found, "version": found.get(name)}) for name in packages)


def parse_policy(stdout, packages):
    """``apt-cache policy <packages>`` -> {package: {installed, candidate}}; ``(none)`` and a
    package apt does not know give None."""
    sections = {}
    current = None
    for line in (stdout or "").splitlines():
        if line and not line[0].isspace() and line.rstrip().endswith(":"):
            current = line.rstrip()[:-1].split(":", 1)[0]
            sections[current] = {"installed": None, "candidate": None}
            continue
        match = _POLICY_FIELD_RE.match(line)
        if match and current is not None:
            value = match.group(2)
            sections[current][match.group(1).lower()] = None if value == "(none)" else value
    return dict((name, sections.get(name, {"installed": None, "candidate": None})) for name in packages)


def parse_dockerd_version(stdout):
    """``Docker version 26.1.5+dfsg1, build a72d7cd`` -> ``26.1.5+dfsg1``."""
    match = _DOCKERD_RE.search(stdout or "")
    return match.group(1) if match else None


def parse_short_version(stdout):
    """The first line of ``docker version --format`` or ``docker compose version --short``, without a leading v."""
    lines = [line.strip() for line in (stdout or "").splitlines() if line.strip()]
    if not lines:
        return None
    version = lines[0]
    return version[1:] if version[:1] in ("v", "V") and version[1:2].isdigit() else version


def at_least(version, major, minor):
    """Whether ``version`` (``23.0.1``, ``26.1.5+dfsg1``) is ``major.minor`` or later; None is not."""
    match = _NUMBERS_RE.match(version or "")
    if not match:
        return False
    return (int(match.group(1)), int(match.group(2) or 0)) >= (major, minor)


class Reader(object):
    """Runs the commands that answer (None for a missing program or a failed command)."""

    def __init__(self, module):
        self.module = module

    def run(self, argv):
        """stdout of ``argv`` when it succeeds, else None."""
        path = self.module.get_bin_path(argv[0])
        if path is None:
            return None
        rc, out, dummy = self.module.run_command([path] + argv[1:], environ_update={"LC_ALL": "C"})
        return out if rc == 0 else None

    def run_any_rc(self, argv):
        """stdout of ``argv`` whatever its exit status (dpkg-query exits 1 when one package is unknown)."""
        path = self.module.get_bin_path(argv[0])
        if path is None:
            return ""
        dummy, out, dummy2 = self.module.run_command([path] + argv[1:], environ_update={"LC_ALL": "C"})
        return out


def versions_info(params, reader):
    """The module's result."""
    result = {"packages": {}, "all_installed": True, "candidates": {}, "candidates_known": True,
              "dockerd_version": None, "server_version": None, "compose_version": None, "validate_config": False}
    if params["packages"]:
        out = reader.run_any_rc(["dpkg-query", "--show", "--showformat", DPKG_FORMAT, "--"] + params["packages"])
        result["packages"] = parse_dpkg(out, params["packages"])
        result["all_installed"] = all(p["installed"] for p in result["packages"].values())
    if params["candidates"]:
        out = reader.run_any_rc(["apt-cache", "policy", "--"] + params["candidates"])
        result["candidates"] = parse_policy(out, params["candidates"])
        result["candidates_known"] = all(c["candidate"] for c in result["candidates"].values())
    if params["engine"]:
        result["dockerd_version"] = parse_dockerd_version(reader.run(["dockerd", "--version"]))
        result["server_version"] = parse_short_version(reader.run(["docker", "version", "--format", "{{.Server.Version}}"]))
        compose = reader.run(["docker", "compose", "version", "--short"])
        if compose is None:
            compose = reader.run(["docker-compose", "version", "--short"])
        result["compose_version"] = parse_short_version(compose)
        result["validate_config"] = at_least(result["dockerd_version"], 23, 0)
    return result


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.exit_json(changed=False, **versions_info(module.params, Reader(module)))


if __name__ == "__main__":
    main()
