# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions of the groundwork.infra.systemd_service role, kept out of Jinja so that they can be tested.

- ``systemd_service_steadiness``: the state of a unit as ansible.builtin.systemd_service returns it
  (``status``), and the restart counter read right after this run restarted it (the baseline) ->
  whether the service runs steadily (active, no automatic restart since this run's restart), failed,
  and why.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


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
        return {"systemd_service_steadiness": systemd_service_steadiness}
