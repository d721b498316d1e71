# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rows and table of playbooks/status.yml (plugins/filter/status.py)."""

from __future__ import annotations

import json

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.groundwork.infra.plugins.filter.status import status_rows, status_table

SVC = {"name": "hello-svc", "component": "hello", "health_check": {"http": "http://127.0.0.1:8080/"}}
INSTALLED = {"hello": {"current": "1.1.0", "release": "2026.1"}, "motd": {"current": "1.0.0", "release": "2026.1"}}
STARTED = 1767225600  # 2026-01-01T00:00:00Z


def _unit(state="active", sub="running"):
    return {"item": SVC, "status": {"ActiveState": state, "SubState": sub}}


def _probe(*lines):
    return {"item": SVC, "stdout_lines": list(lines)}


def _rows(**kwargs):
    return {row["component"]: row for row in status_rows(INSTALLED, "web1", "prod", **kwargs)}


def test_installed_components_without_a_unit_are_files():
    rows = status_rows(INSTALLED, "web1", "prod")
    assert [r["component"] for r in rows] == ["hello", "motd"]
    assert rows[1] == {"host": "web1", "environment": "prod", "component": "motd", "version": "1.0.0", "architecture": "-",
                       "build": "-", "release": "2026.1", "runs_as": "files", "state": "-", "health": "-", "running": "-",
                       "stale": False, "last_rollback": "-"}


def test_every_row_shows_the_hosts_architecture_and_the_build_installed():
    installed = {"hello": {"current": "1.1.0", "release": "2026.12.0", "architecture": "arm64"},
                 "motd": {"current": "1.0.0", "release": "2026.12.0", "architecture": "all"}}
    rows = {r["component"]: r for r in status_rows(installed, "pi1", "lab", units=[_unit()], architecture="arm64",
                                                   k3s={"role": "agent", "unit": {}, "node": {}})}
    assert [(n, r["architecture"], r["build"]) for n, r in sorted(rows.items())] == [
        ("hello", "arm64", "arm64"), ("k3s", "arm64", "-"), ("motd", "arm64", "all")]
    lines = status_table(list(rows.values()))
    assert lines[0].split()[3:5] == ["VERSION", "ARCH"]
    assert [line.split()[3:5] for line in lines[1:3]] == [["1.1.0", "arm64"], ["1.0.0", "arm64"]]
    assert "not installed  arm64  -" in lines[3]


def test_the_arch_column_names_a_build_for_another_architecture_and_an_unknown_host():
    # A record saying arm64 on an amd64 host (a restored backup, a copied disk): shown, not hidden.
    odd = {"hello": {"current": "1.1.0", "release": "2026.12.0", "architecture": "arm64"}}
    line = status_table(status_rows(odd, "nas", "", architecture="amd64"))[1]
    assert "1.1.0          amd64 (build arm64) 2026.12.0" in line
    # bundle_info could not tell the host's architecture: the build, else a dash.
    assert status_table(status_rows(odd, "nas", ""))[1].split()[3:5] == ["1.1.0", "arm64"]
    assert status_table(status_rows(INSTALLED, "nas", ""))[1].split()[3:5] == ["1.1.0", "-"]


def test_a_service_row_shows_its_unit_state_and_health():
    row = _rows(units=[_unit()])["hello"]
    assert (row["runs_as"], row["state"], row["health"]) == ("hello-svc.service", "active/running", "ok")
    assert _rows(units=[_unit("failed", "failed")])["hello"]["health"] == "down"


def test_the_process_runs_the_current_version():
    row = _rows(units=[_unit()], processes=[_probe("started=%d" % STARTED, "runs=1.1.0", "moved=%d" % (STARTED - 5))])["hello"]
    assert row["running"] == "1.1.0 since 2026-01-01T00:00:00Z"
    assert row["stale"] is False


def test_a_process_started_from_another_version_is_stale():
    row = _rows(units=[_unit()], processes=[_probe("started=%d" % STARTED, "runs=1.0.0")])["hello"]
    assert row["stale"] is True
    assert row["running"] == "1.0.0 since 2026-01-01T00:00:00Z (stale: started before current moved to 1.1.0)"


def test_without_the_version_directory_current_moving_after_the_start_is_stale():
    after = _rows(units=[_unit()], processes=[_probe("started=%d" % STARTED, "moved=%d" % (STARTED + 60))])["hello"]
    assert after["stale"] is True and after["running"].startswith("? since ")
    before = _rows(units=[_unit()], processes=[_probe("started=%d" % STARTED, "moved=%d" % (STARTED - 60))])["hello"]
    assert before["stale"] is False and before["running"].startswith("1.1.0 since ")


def test_a_process_that_never_started_shows_a_dash():
    row = _rows(units=[_unit("inactive", "dead")], processes=[_probe("started=", "moved=%d" % STARTED)])["hello"]
    assert (row["running"], row["stale"]) == ("-", False)


def test_the_last_rolled_back_attempt():
    record = {"attempted": "1.2.0", "restored": "1.1.0", "time": "2026-01-01T00:00:00Z"}
    row = _rows(units=[_unit()], processes=[_probe("rollback=" + json.dumps(record))])["hello"]
    assert row["last_rollback"] == "1.2.0 -> back to 1.1.0 at 2026-01-01T00:00:00Z"
    first = {"attempted": "1.0.0", "restored": None, "first_install": True, "time": "T"}
    row = _rows(units=[_unit()], processes=[_probe("rollback=" + json.dumps(first))])["hello"]
    assert row["last_rollback"] == "1.0.0 (first install, removed) at T"


def test_a_broken_rollback_record_is_named():
    with pytest.raises(AnsibleFilterError, match="last-rollback.json"):
        _rows(units=[_unit()], processes=[_probe("rollback={not json")])


def test_a_failing_health_check_is_shown_with_its_message():
    rows = _rows(units=[_unit()], health=[{"item": SVC, "status": 500, "msg": "Status code was 500 and not [200]: HTTP Error 500"}])
    assert rows["hello"]["health"] == "failing (Status code was 500 and not [200]:...)"
    ok = _rows(units=[_unit()], health=[{"item": dict(SVC, health_check={"http": "x", "status_code": 204}), "status": 204}])
    assert ok["hello"]["health"] == "ok"


def test_a_k3s_node_ready_or_unknown():
    node = {"resources": [{"status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.31.4+k3s1"}}}]}
    unit = {"status": {"ActiveState": "active", "SubState": "running"}}
    rows = _rows(k3s={"role": "server", "component": "k3s", "unit": unit, "node": node})
    assert rows["k3s"]["runs_as"] == "k3s.service"
    assert rows["k3s"]["state"] == "active/running server"
    assert rows["k3s"]["health"] == "node Ready v1.31.4+k3s1"
    assert rows["k3s"]["version"] == "not installed"
    gone = _rows(k3s={"role": "agent", "component": "k3s", "unit": unit, "node": {"resources": [], "msg": "connection refused"}})
    assert (gone["k3s"]["runs_as"], gone["k3s"]["health"]) == ("k3s-agent.service", "node unknown to the API: connection refused")
    assert "k3s" not in _rows(k3s={"role": "", "component": "k3s", "unit": {}, "node": {}})


def _container(name, state, status, project="photos"):
    # As the Docker API's /containers/json lists them (docker_host_info, verbose_output).
    return {"Names": ["/" + name], "State": state, "Status": status, "Labels": {"com.docker.compose.project": project}}


def test_compose_projects_healthy_unhealthy_and_down():
    up = _container("photos-db-1", "running", "Up 2 minutes (healthy)")
    plain = _container("photos-cache-1", "running", "Up 2 minutes")
    sick = _container("photos-app-1", "running", "Up 2 minutes (unhealthy)")
    gone = _container("photos-app-1", "exited", "Exited (1) 3 seconds ago")
    starting = _container("photos-app-1", "running", "Up 1 second (health: starting)")
    other = _container("blog-app-1", "exited", "Exited (1) 3 seconds ago", project="blog")

    def row(*containers):
        return _rows(containers=list(containers), projects=["photos"])["photos"]

    assert (row(up, plain, other)["state"], row(up, plain, other)["health"]) == ("running 2/2", "ok")
    assert row(up, plain)["runs_as"] == "compose project photos"
    assert row(up, sick)["health"] == "unhealthy: photos-app-1"
    assert row(up, starting)["health"] == "unhealthy: photos-app-1"
    assert (row(up, gone)["state"], row(up, gone)["health"]) == ("running 1/2", "down")
    assert row(other)["health"] == "down"
    assert "blog" not in _rows(containers=[other], projects=["photos"])


def _release_container(name, version, created=STARTED, state="running"):
    container = _container(name, state, "Up 2 minutes (healthy)")
    container["Labels"]["com.docker.compose.project.working_dir"] = "/opt/groundwork/bundles/photos/" + version
    container["Created"] = created
    return container


def test_compose_projects_show_the_release_their_containers_run_and_the_last_rollback():
    installed = {"photos": {"current": "2.0.0", "release": "2026.11.1"}}

    def row(*containers, rollbacks=None):
        rows = status_rows(installed, "web1", "", containers=list(containers), projects=["photos"], rollbacks=rollbacks)
        return {r["component"]: r for r in rows}["photos"]

    steady = row(_release_container("photos-db-1", "2.0.0", STARTED + 60), _release_container("photos-app-1", "2.0.0"))
    assert (steady["running"], steady["stale"]) == ("2.0.0 since 2026-01-01T00:00:00Z", False)
    old = row(_release_container("photos-app-1", "1.0.0"))
    assert old["stale"] and old["running"] == "1.0.0 since 2026-01-01T00:00:00Z (stale: current is 2.0.0)"
    mixed = row(_release_container("photos-app-1", "1.0.0"), _release_container("photos-db-1", "2.0.0"))
    assert mixed["stale"] and mixed["running"].startswith("1.0.0,2.0.0 since")
    # Exited containers run nothing; containers without the label (not started by compose_app) say so.
    assert row(_release_container("photos-app-1", "2.0.0", state="exited"))["running"] == "-"
    assert row(_container("photos-app-1", "running", "Up 1 minute"))["running"] == "-"
    record = json.dumps({"attempted": "3.0.0", "restored": "2.0.0", "time": "2026-12-06T23:00:00Z"})
    assert row(rollbacks={"photos": record})["last_rollback"] == "3.0.0 -> back to 2.0.0 at 2026-12-06T23:00:00Z"
    assert row(rollbacks={"blog": record})["last_rollback"] == "-"


def test_the_table_keeps_its_columns():
    rows = status_rows(INSTALLED, "web1", "")
    lines = status_table(rows)
    assert lines[0].split() == ["HOST", "ENV", "COMPONENT", "VERSION", "ARCH", "RELEASE", "RUNS", "AS", "STATE", "HEALTH",
                                "RUNNING", "LAST", "ROLLED", "BACK"]
    assert lines[1].split() == ["web1", "-", "hello", "1.1.0", "-", "2026.1", "files", "-", "-", "-", "-"]
    column = len("%-22s %-8s %-16s %-14s %-6s %-11s %-30s %-14s %-16s " % (("",) * 9))
    assert lines[0][column:].startswith("RUNNING ")
    assert lines[1][column:].startswith("- ")
