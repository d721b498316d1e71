# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rows of playbooks/status.yml, kept out of Jinja so that they can be tested.

- ``status_rows``: what status.yml read on one host (its architecture, installed components, the
  state, process and health check of each systemd service, the k3s unit and node, the containers
  of the compose projects) -> one row per component.
- ``status_table``: the rows of every host -> the lines of the printed table.
"""

from __future__ import annotations

import json
import re
import time

from ansible.errors import AnsibleFilterError

COLUMNS = ("HOST", "ENV", "COMPONENT", "VERSION", "ARCH", "RELEASE", "RUNS AS", "STATE", "HEALTH", "RUNNING",
           "LAST ROLLED BACK")
LINE_FORMAT = "%-22s %-8s %-16s %-14s %-6s %-11s %-30s %-14s %-16s %-44s %s"
HEALTHY = re.compile(r"\(healthy\)")
PROJECT_LABEL = "com.docker.compose.project"
WORKING_DIR_LABEL = "com.docker.compose.project.working_dir"


def _truncate(text, length=40, end="...", leeway=5):
    """Jinja's truncate(40) as status.yml used it: cut at a word, with a leeway of 5."""
    text = str(text)
    if len(text) <= length + leeway:
        return text
    return text[:length - len(end)].rsplit(" ", 1)[0] + end


def _number(text):
    try:
        return int(str(text).strip() or 0)
    except ValueError:
        return 0


def _key(service):
    return service.get("component") or service["name"]


def _state(status, suffix=""):
    status = status or {}
    return "%s/%s%s" % (status.get("ActiveState", "unknown"), status.get("SubState", "unknown"), suffix)


def _probe(lines):
    """``key=value`` lines of the process probe -> dict (the value may hold '=')."""
    found = {}
    for line in lines or []:
        key, sep, value = line.partition("=")
        if sep:
            found[key] = value
    return found


def _rolled_back(text):
    if not text:
        return "-"
    try:
        record = json.loads(text)
    except ValueError as exc:
        raise AnsibleFilterError("status_rows: last-rollback.json is not JSON: %s" % exc)
    if not record:
        return "-"
    if record.get("restored"):
        how = " -> back to %s" % record["restored"]
    elif record.get("first_install"):
        how = " (first install, removed)"
    else:
        how = ""
    return "%s%s at %s" % (record.get("attempted") or "?", how, record.get("time", "?"))


def _running(probe, current):
    """What the service's process runs, since when, and whether it started before current moved."""
    started = _number(probe.get("started", ""))
    moved = _number(probe.get("moved", ""))
    runs = probe.get("runs", "")
    if started == 0:
        return "-", False
    stale = bool(runs and runs != current) or (not runs and moved > started)
    version = runs or (current if 0 < moved <= started else "?")
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))
    text = "%s since %s" % (version, since)
    if stale:
        text += " (stale: started before current moved to %s)" % current
    return text, stale


def _k3s(k3s):
    status = (k3s.get("unit") or {}).get("status") or {}
    node_info = k3s.get("node") or {}
    node = (node_info.get("resources") or [{}])[0] or {}
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = next((c.get("status") for c in conditions if c.get("type") == "Ready"), "")
    if ready == "True":
        health = "node Ready " + ((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "")
    elif node:
        health = "node NotReady"
    else:
        msg = node_info.get("msg") or ""
        health = "node unknown to the API" + (": " + _truncate(msg) if msg else "")
    return {
        "unit": ("k3s" if k3s["role"] == "server" else "k3s-agent") + ".service",
        "state": _state(status, " " + k3s["role"]),
        "health": health,
    }


def _names(container):
    names = container.get("Names") or []
    if isinstance(names, str):
        names = names.split(",")
    return ",".join(name.lstrip("/") for name in names) or "?"


def _project_running(containers, current):
    """What the running containers of a project run: the release directory compose_app started
    them from (the basename of their working_dir label, <bundle_dest>/<project>/<version>) and
    since when (the oldest container's creation time), against ``current``."""
    running = [c for c in containers if c.get("State") == "running"]
    versions = sorted(set(((c.get("Labels") or {}).get(WORKING_DIR_LABEL) or "").rstrip("/").rpartition("/")[2]
                          for c in running))
    if not running or versions == [""]:
        return "-", False
    version = ",".join(v or "?" for v in versions)
    stale = bool(current) and versions != [current]
    created = min(_number(str(c.get("Created", ""))) for c in running)
    text = version
    if created:
        text += " since " + time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created))
    if stale:
        text += " (stale: current is %s)" % current
    return text, stale


def _project(name, containers):
    """The containers of one compose project (the Docker API's /containers/json) -> its row."""
    running = [c for c in containers if c.get("State") == "running"]
    unhealthy = [c for c in containers if "(" in (c.get("Status") or "") and not HEALTHY.search(c.get("Status") or "")]
    if not containers or len(running) < len(containers):
        health = "down"
    elif unhealthy:
        health = "unhealthy: " + ",".join(_names(c) for c in unhealthy)
    else:
        health = "ok"
    return {
        "unit": "compose project " + name,
        "state": "running %d/%d" % (len(running), len(containers)),
        "health": health,
    }


def _architecture(host_arch, build):
    """The ARCH column: the host's architecture, and the build installed when it is for another one
    (or the build alone when the host's architecture is unknown)."""
    specific = build not in (None, "", "-", "all")
    if host_arch in (None, "", "-"):
        return build if specific else "-"
    if specific and build != host_arch:
        return "%s (build %s)" % (host_arch, build)
    return host_arch


def status_rows(installed, host, environment="", units=None, processes=None, health=None, k3s=None, containers=None,
                projects=None, rollbacks=None, architecture=None):
    """One host's rows: every installed component, then what runs without being installed.

    ``units``, ``processes`` and ``health`` are the ``results`` of the looped tasks of status.yml
    (each with its ``item``: the service definition); ``k3s`` is ``{role, component, unit, node}`` on
    a k3s node (the registered unit state and node info); ``containers`` are the host's containers as
    the Docker API lists them (with their labels), ``projects`` the names of its compose projects,
    ``rollbacks`` the text of each project's last-rollback.json by project name (compose_app writes it).
    ``architecture`` is the host's, in Debian's names (bundle_info's ``architecture``); each installed
    component's ``architecture`` is the build installed (an architecture, or ``all``).
    """
    installed = installed or {}
    if not isinstance(installed, dict):
        raise AnsibleFilterError("status_rows: expected the installed components as a dict, got %s" % type(installed).__name__)
    found = {}
    for result in units or []:
        status = result.get("status") or {}
        found[_key(result["item"])] = {
            "unit": result["item"]["name"] + ".service",
            "state": _state(status),
            "health": "ok" if status.get("ActiveState", "") == "active" else "down",
        }
    for result in processes or []:
        key = _key(result["item"])
        if key not in found:
            continue
        probe = _probe(result.get("stdout_lines"))
        current = (installed.get(key) or {}).get("current") or ""
        running, stale = _running(probe, current)
        found[key].update(running=running, stale=stale, last_rollback=_rolled_back(probe.get("rollback", "")))
    for result in health or []:
        key = _key(result["item"])
        if key not in found:
            continue
        wanted = (result["item"].get("health_check") or {}).get("status_code", [200])
        wanted = wanted if isinstance(wanted, list) else [wanted]
        good = result.get("status", -1) in [int(code) for code in wanted]
        found[key]["health"] = "ok" if good else "failing (%s)" % _truncate(result.get("msg", "no answer"))
    if k3s and k3s.get("role"):
        found[k3s.get("component") or "k3s"] = _k3s(k3s)
    for name in projects or []:
        mine = [c for c in containers or [] if (c.get("Labels") or {}).get(PROJECT_LABEL) == name]
        found[name] = _project(name, mine)
        running, stale = _project_running(mine, ((installed or {}).get(name) or {}).get("current") or "")
        found[name].update(running=running, stale=stale, last_rollback=_rolled_back((rollbacks or {}).get(name, "")))

    rows = []
    for name in sorted(installed):
        info = installed[name] or {}
        unit = found.get(name, {})
        rows.append(_row(host, environment, name, info.get("current") or "-", info.get("release") or "-", unit, "files",
                         architecture, info.get("architecture") or "-"))
    for name, unit in found.items():
        if name not in installed:
            rows.append(_row(host, environment, name, "not installed", "-", unit, unit["unit"], architecture, "-"))
    return rows


def _row(host, environment, name, version, release, unit, runs_as, architecture, build):
    return {
        "host": host,
        "environment": environment or "",
        "component": name,
        "version": version,
        "architecture": architecture or "-",
        "build": build,
        "release": release,
        "runs_as": unit.get("unit", runs_as),
        "state": unit.get("state", "-"),
        "health": unit.get("health", "-"),
        "running": unit.get("running", "-"),
        "stale": unit.get("stale", False),
        "last_rollback": unit.get("last_rollback", "-"),
    }


def status_table(rows):
    """Rows of every host -> the header and one line per row, in fixed-width columns."""
    lines = [LINE_FORMAT % COLUMNS]
    for row in rows or []:
        lines.append(LINE_FORMAT % (row["host"], row["environment"] or "-", row["component"], row["version"],
                                    _architecture(row.get("architecture"), row.get("build")), row["release"],
                                    row["runs_as"], row["state"], row["health"], row["running"], row["last_rollback"]))
    return lines


class FilterModule(object):
    def filters(self):
        return {"status_rows": status_rows, "status_table": status_table}
