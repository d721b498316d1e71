# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a restarted unit runs steadily (plugins/filter/systemd_service.py)."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.groundwork.infra.plugins.filter.systemd_service import systemd_service_steadiness


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
