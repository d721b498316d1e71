# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions of the groundwork.infra.systemd_service role, kept out of Jinja so that they can be tested.

- ``systemd_service_architecture``: the host's facts -> its architecture in Debian's names (amd64,
  arm64, armhf), the names of the bundle format and of a service's ``exec_per_arch``.
- ``systemd_service_exec``: a service definition, the host's architecture and the release directory
  -> the command line of ``ExecStart=`` (the host's entry of ``exec_per_arch``, else ``exec``).
- ``systemd_service_exec_problems``: the service definitions and the host's architecture -> what
  keeps a present service from having a command line on this host (checked before anything changes).

- ``systemd_service_steadiness``: the state of a unit as ansible.builtin.systemd_service returns it
  (``status``), and the restart counter read right after this run restarted it (the baseline) ->
  whether the service runs steadily (active, no automatic restart since this run's restart), failed,
  and why.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.groundwork.infra.plugins.module_utils._bundle_arch import debian_architecture


def systemd_service_architecture(facts):
    """The host's architecture in Debian's names from its facts (``ansible_facts``), "" when they lack it.

    ``architecture`` is the kernel's name (x86_64, aarch64, armv7l); ``userspace_bits`` turns a
    32-bit userland on a 64-bit kernel into i386 / armhf, the way dpkg counts it.
    """
    if not isinstance(facts, dict):
        raise AnsibleFilterError("systemd_service_architecture: expected the host's facts as a dict, got %s"
                                 % type(facts).__name__)
    return debian_architecture(facts.get("architecture"), facts.get("userspace_bits")) or ""


def _per_arch(service):
    per_arch = service.get("exec_per_arch") or {}
    if not isinstance(per_arch, dict):
        raise AnsibleFilterError("systemd_service: %s: exec_per_arch must be a dict of architecture -> command line, got %s"
                                 % (service.get("name", "?"), type(per_arch).__name__))
    # The argument spec fills the architectures left out with None.
    return dict((arch, cmd) for arch, cmd in per_arch.items() if cmd not in (None, ""))


def _command(service, architecture):
    """The command line for this host, or None; raises nothing."""
    per_arch = _per_arch(service)
    if architecture and architecture in per_arch:
        return to_text(per_arch[architecture])
    if service.get("exec") not in (None, ""):
        return to_text(service["exec"])
    return None


def _problem(service, architecture):
    per_arch = _per_arch(service)
    name = service.get("name", "?")
    if not per_arch:
        return "%s needs exec (or exec_per_arch)" % name
    if not architecture:
        return ("%s: the host's architecture is unknown (no architecture fact), so none of exec_per_arch (%s) can be "
                "chosen and there is no exec to fall back on" % (name, ", ".join(sorted(per_arch))))
    return ("%s has no command line for this host's architecture %s: exec_per_arch names %s only, and there is no "
            "exec to fall back on" % (name, architecture, ", ".join(sorted(per_arch))))


def systemd_service_exec(service, architecture="", release=""):
    """``ExecStart=`` of a service on a host of ``architecture``: its ``exec_per_arch`` entry, else ``exec``.

    A program given relative (no leading ``/``) is relative to ``release``, the release directory
    ``<bundle_dest>/<component>/current``.
    """
    if not isinstance(service, dict):
        raise AnsibleFilterError("systemd_service_exec: expected a service definition as a dict, got %s"
                                 % type(service).__name__)
    command = _command(service, architecture)
    if command is None:
        raise AnsibleFilterError("systemd_service: " + _problem(service, architecture))
    if command.startswith("/") or not release:
        return command
    return "%s/%s" % (to_text(release).rstrip("/"), command)


def systemd_service_exec_problems(services, architecture=""):
    """What keeps each present service of ``services`` from having a command line on this host (a list of texts)."""
    problems = []
    for service in services or []:
        if not isinstance(service, dict):
            raise AnsibleFilterError("systemd_service_exec_problems: expected service definitions as dicts, got %s"
                                     % type(service).__name__)
        if service.get("state") == "absent":
            continue
        if _command(service, architecture) is None:
            problems.append(_problem(service, architecture))
    return problems


def _count(value, what):
    if value in (None, ""):
        return 0
    try:
        return int(value)
    except (TypeError, ValueError):
        raise AnsibleFilterError("systemd_service_steadiness: %s is not a number: %r" % (what, value))


def systemd_service_steadiness(status, baseline=0, main="service"):
    """Whether the unit runs steadily since this run restarted it.

    NRestarts counts automatic restarts since the unit was loaded, and a restart asked for by
    systemctl does not reset it (systemd 252): the counter is steady when it is where it was right
    after this run's restart (``baseline``; read before the restart, it would count automatic
    restarts of the old process too), or 0 where systemd resets it. Timers and sockets have no counter.
    """
    if not isinstance(status, dict):
        raise AnsibleFilterError("systemd_service_steadiness: expected the unit's status as a dict, got %s"
                                 % type(status).__name__)
    active = status.get("ActiveState", "unknown")
    sub = status.get("SubState", "unknown")
    then = _count(baseline, "the restart counter after the restart")
    now = _count(status.get("NRestarts"), "NRestarts")
    if main != "service":
        restarts = 0
    else:
        restarts = now - then if now >= then else now
    steady = active == "active" and restarts == 0
    return {
        "steady": steady,
        "failed": not steady,
        "restarts": restarts,
        "summary": "ActiveState=%s (%s), %d automatic restart(s) since this run restarted it" % (active, sub, restarts),
    }


class FilterModule(object):
    def filters(self):
        return {
            "systemd_service_architecture": systemd_service_architecture,
            "systemd_service_exec": systemd_service_exec,
            "systemd_service_exec_problems": systemd_service_exec_problems,
            "systemd_service_steadiness": systemd_service_steadiness,
        }
