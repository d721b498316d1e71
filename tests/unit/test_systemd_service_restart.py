# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where roles/systemd_service/tasks/restart.yml reads the restart counter it judges against.

NRestarts counts automatic restarts since the unit was loaded and a restart by systemctl does not
reset it, so the role keeps a baseline and counts only what comes after it. Read before the
restart (as it once was), the baseline misses any automatic restart of the old process between
the read and the restart (a crash-looping old release, Restart=always), and a good new release
is then judged unsteady and rolled back. The baseline must be the counter of the process this
run started: read after the restart task, before the watch that judges it, and it must be what
the watch and the final check compare against.
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RESTART = ROOT / "roles" / "systemd_service" / "tasks" / "restart.yml"


def _block():
    tasks = yaml.safe_load(RESTART.read_text(encoding="utf-8"))
    blocks = [t for t in tasks if "block" in t and "rescue" in t]
    assert len(blocks) == 1, "restart.yml has one block/rescue"
    return blocks[0]


def _index(tasks, predicate, what):
    found = [i for i, task in enumerate(tasks) if predicate(task)]
    assert len(found) == 1, "restart.yml: expected one task that %s, found %d" % (what, len(found))
    return found[0]


def _module(task):
    return task.get("ansible.builtin.systemd_service") or {}


def test_the_baseline_is_read_after_the_restart_and_before_the_watch():
    block = _block()
    tasks = block["block"]
    restart = _index(tasks, lambda t: _module(t).get("state") == "restarted", "restarts the service")
    watch = _index(tasks, lambda t: "steadiness" in str(t.get("until", "")), "watches the unit")
    baseline_var = block["vars"]["systemd_service__restarts_then"]
    # "{{ systemd_service__<register>.status.NRestarts | default(0) }}" -> the registered name
    register = baseline_var.split("{{", 1)[1].split(".status.NRestarts", 1)[0].strip()
    read = _index(tasks, lambda t: t.get("register") == register and _module(t) and "state" not in _module(t),
                  "registers %s (a read of the unit's status)" % register)
    assert restart < read < watch, (
        "the restart counter (%s) must be read after the restart (task %d) and before the watch (task %d), "
        "not at task %d" % (register, restart, watch, read))
    # The read is of the service, whose counter it is, with the same conditions as the watch.
    assert _module(tasks[read])["name"].endswith(".service")
    # The watch and the final check both judge against this baseline.
    checks = [t for t in tasks if "systemd_service__restarts_then" in str(t)]
    assert len(checks) == 2, "the watch and the final check compare against systemd_service__restarts_then"
