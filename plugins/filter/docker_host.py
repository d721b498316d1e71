# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions of the groundwork.infra.docker_host role, kept out of Jinja so that they can be tested.

- ``docker_host_planned``: which engine and Compose versions a run will leave on the host (the
  pinned version, else the installed one, else apt's candidate), for the bundles' compatibility
  check before anything is installed.
- ``docker_host_capabilities``: the versions that run after the role, for the bundles'
  compatibility checks of later roles (the running engine and Compose, else the planned ones).

Both read the result of groundwork.infra.docker_versions_info.
"""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

_EPOCH_RE = re.compile(r"^[0-9]+:")


def _upstream(version):
    """A Debian version without its epoch (``5:27.3.1-1~debian.13~trixie`` -> ``27.3.1-1~debian.13~trixie``)."""
    return _EPOCH_RE.sub("", version or "")


def _planned(package, pin, installed, candidates):
    if pin:
        return _upstream(pin)
    dpkg = (installed or {}).get(package) or {}
    if dpkg.get("installed") and dpkg.get("version"):
        return _upstream(dpkg["version"])
    policy = (candidates or {}).get(package) or {}
    return _upstream(policy.get("installed") or policy.get("candidate") or "")


def docker_host_planned(installed, candidates, packages, engine_pin="", compose_pin=""):
    """{docker_engine, docker_compose}: the versions this run will leave; '' where apt knows none.

    ``installed`` and ``candidates``: results of groundwork.infra.docker_versions_info (the
    ``packages`` and the ``candidates`` read; a skipped read counts as nothing known).
    ``packages``: {engine, compose} package names.
    """
    if not isinstance(packages, dict) or not packages.get("engine") or not packages.get("compose"):
        raise AnsibleFilterError("docker_host_planned: packages must name the engine and compose packages, not %r" % (packages,))
    dpkg = (installed or {}).get("packages") or {}
    policy = (candidates or {}).get("candidates") or {}
    return {"docker_engine": _planned(packages["engine"], engine_pin, dpkg, policy),
            "docker_compose": _planned(packages["compose"], compose_pin, dpkg, policy)}


def docker_host_capabilities(running, planned):
    """{docker_engine, docker_compose}: the running engine's and Compose's versions from a
    groundwork.infra.docker_versions_info result, the planned ones where they do not answer
    (check mode on a host where nothing is installed yet)."""
    running = running or {}
    planned = planned or {}
    return {"docker_engine": running.get("server_version") or planned.get("docker_engine", ""),
            "docker_compose": running.get("compose_version") or planned.get("docker_compose", "")}


class FilterModule(object):
    def filters(self):
        return {"docker_host_planned": docker_host_planned, "docker_host_capabilities": docker_host_capabilities}
