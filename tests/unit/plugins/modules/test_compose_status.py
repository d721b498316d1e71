# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""groundwork.infra.compose_status: the command lines it runs and how it reads their output and
the background job's results file. `docker compose` is a stand-in here (a function that answers
with Compose's real output format); the real one runs in molecule/compose_app."""

from __future__ import annotations

import json

from ansible_collections.groundwork.infra.plugins.modules import compose_status

PARAMS = {"project_name": "hello", "project_dir": "/b/hello/2.0.0", "files": ["/b/hello/2.0.0/compose.yaml", "/c/g.yaml"],
          "env_files": ["/c/.env"], "job_results_file": None, "log_lines": 0, "log_services": None}
CLI = ["docker", "compose", "--project-name", "hello", "--project-directory", "/b/hello/2.0.0",
       "--file", "/b/hello/2.0.0/compose.yaml", "--file", "/c/g.yaml", "--env-file", "/c/.env"]


def ps_line(service, state, health="", status="Up", workdir="/b/hello/2.0.0"):
    return json.dumps({"Service": service, "Name": "hello-%s-1" % service, "State": state, "Health": health, "ExitCode": 0,
                       "Status": status, "Labels": "com.docker.compose.project.working_dir=%s" % workdir})


class Compose(object):
    """Stand-in for `docker compose`: answers ps and logs, records the command lines."""

    def __init__(self, ps, rc=0, logs="\x1b[2Kstore-1  | refusing to start\n"):
        self.ps, self.rc, self.logs, self.calls = ps, rc, logs, []

    def __call__(self, argv):
        self.calls.append(argv)
        if "ps" in argv:
            return self.rc, self.ps if self.rc == 0 else "", "" if self.rc == 0 else "no configuration file provided"
        return 0, self.logs, ""


def test_healthy_project_reads_ps_once_and_no_logs():
    compose = Compose(ps_line("web", "running", "healthy"))
    out = compose_status.status(dict(PARAMS), compose)
    assert out["verdict"] == "healthy"
    assert compose.calls == [CLI + ["ps", "--all", "--format", "json"]]
    assert out["logs"] == "" and out["log_services"] == []


def test_failed_project_reads_the_logs_of_the_failing_services_without_control_sequences():
    compose = Compose("\n".join([ps_line("store", "exited", status="Exited (3) 1 second ago"), ps_line("web", "created", status="Created")]))
    out = compose_status.status(dict(PARAMS, log_lines=20), compose)
    assert out["verdict"] == "failed" and out["failing"] == ["store"]
    assert compose.calls[1] == CLI + ["logs", "--no-color", "--tail", "20", "store"]
    assert out["logs"] == "store-1  | refusing to start\n"


def test_logs_of_the_services_asked_for_else_of_every_service():
    compose = Compose(ps_line("web", "running", "starting"))
    compose_status.status(dict(PARAMS, log_lines=5), compose)
    assert compose.calls[1][-1:] == ["web"]
    compose = Compose(ps_line("web", "running", "starting"))
    out = compose_status.status(dict(PARAMS, log_lines=5, log_services=["db"]), compose)
    assert compose.calls[1][-1:] == ["db"] and out["log_services"] == ["db"]


def test_a_failing_ps_is_a_failed_verdict_that_says_why():
    out = compose_status.status(dict(PARAMS), Compose("", rc=1))
    assert out["verdict"] == "failed"
    assert out["summary"] == "docker compose ps failed (rc 1): no configuration file provided"


def test_waits_for_the_background_job_and_ignores_the_previous_release_meanwhile(tmp_path):
    job = tmp_path / "job"
    ps = "\n".join([ps_line("web", "running", "unhealthy", workdir="/b/hello/1.0.0"), ps_line("store", "running", "healthy")])
    params = dict(PARAMS, job_results_file=str(job))
    # Not written yet: the job still runs, and only 2.0.0's containers count.
    assert compose_status.status(params, Compose(ps))["verdict"] == "waiting"
    job.write_text(json.dumps({"started": 1, "finished": 0}))
    assert compose_status.status(params, Compose(ps))["verdict"] == "waiting"
    job.write_text(json.dumps({"changed": True, "rc": 0}))
    assert compose_status.status(params, Compose(ps_line("store", "running", "healthy")))["verdict"] == "healthy"
    job.write_text(json.dumps({"failed": True, "msg": "Error response from daemon:\n No such image: x/y:1"}))
    out = compose_status.status(params, Compose(ps_line("store", "running", "healthy")))
    assert out["verdict"] == "failed" and out["compose_error"] == "Error response from daemon: No such image: x/y:1"
