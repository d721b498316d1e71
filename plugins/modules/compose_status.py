#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: compose_status
short_description: Tell whether a compose project came up, and which service failed how
version_added: 0.2.0
description:
  - Reads the containers of a compose project (C(docker compose ps --all --format json)) and
    decides whether the project is V(healthy), still V(waiting) or has V(failed), naming each
    service that exited with a non-zero code, keeps restarting or is unhealthy.
  - With O(job_results_file), also reads the results file of a C(docker compose up) that runs in
    the background (an C(async) task with C(poll) 0). The project is healthy only once that job
    has finished, and has failed as soon as the job failed. While the job runs, only the
    containers made for O(project_dir) count, since the previous release's containers are being
    replaced.
  - With O(log_lines), also returns the last log lines of the failing services (or of
    O(log_services), or of every service when none failed).
  - Changes nothing. Meant for an C(until) loop that waits on the verdict instead of a fixed
    sleep. Runs on the managed host with the Python standard library only.
author:
  - groundwork.infra maintainers (@groundwork-infra)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - groundwork.infra.attributes
  - groundwork.infra.attributes.info_module
options:
  project_name:
    description: The compose project name.
    type: str
    required: true
  project_dir:
    description: The project directory (the release directory), as given to C(docker compose up).
    type: path
    required: true
  files:
    description: The compose files, as given to C(docker compose up) (C(--file)).
    type: list
    elements: path
    default: []
  env_files:
    description: The environment files, as given to C(docker compose up) (C(--env-file)).
    type: list
    elements: path
    default: []
  job_results_file:
    description:
      - The results file of the background C(docker compose up) (RV(ansible.builtin.async_status#module:results_file)
        of the C(async) task). A file that is not written yet counts as a job still running.
    type: path
  log_lines:
    description: How many of the last log lines of each service to return in RV(logs); V(0) reads no logs.
    type: int
    default: 0
  log_services:
    description: The services whose logs to read; default the failing ones, else every service.
    type: list
    elements: str
notes:
  - A C(docker compose ps) that fails gives the verdict V(failed) with its error in RV(summary).
seealso:
  - module: groundwork.infra.compose_release_info
  - module: community.docker.docker_compose_v2
"""

EXAMPLES = r"""
- name: Start the release in the background
  community.docker.docker_compose_v2:
    project_src: /opt/groundwork/bundles/hello-compose/2.0.0
    state: present
  async: 180
  poll: 0
  register: up_job

- name: Wait until the services of the release are healthy
  groundwork.infra.compose_status:
    project_name: hello-compose
    project_dir: /opt/groundwork/bundles/hello-compose/2.0.0
    job_results_file: "{{ up_job.results_file }}"
  register: status
  until: status.verdict | default('failed') != 'waiting'
  retries: 60
  delay: 2
  failed_when: status.verdict | default('failed') != 'healthy'
"""

RETURN = r"""
verdict:
  description: V(healthy), V(waiting) or V(failed) (see the description).
  returned: success
  type: str
  sample: failed
failing:
  description: The services that exited with a non-zero code, keep restarting or are unhealthy.
  returned: success
  type: list
  elements: str
  sample: [store]
waiting:
  description: The services that are neither failing nor ready yet.
  returned: success
  type: list
  elements: str
  sample: [web]
services:
  description: Each container with C(service), C(container), C(state), C(health), C(exit_code), C(status), C(problem) and C(done).
  returned: success
  type: list
  elements: dict
summary:
  description: One sentence per failing or waiting service, or why there is nothing to tell.
  returned: success
  type: str
  sample: "store exited with code 3 (Exited (3) 2 seconds ago); web not ready: created"
compose_error:
  description: The error of the background C(docker compose up), when it failed.
  returned: success
  type: str
  sample: "Error response from daemon: No such image: example/web:2"
logs:
  description: The last O(log_lines) log lines of the services named in RV(log_services), without terminal control sequences.
  returned: success
  type: str
log_services:
  description: The services whose logs RV(logs) holds (empty when no logs were read).
  returned: success
  type: list
  elements: str
"""

import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.groundwork.infra.plugins.module_utils._compose import (
    ComposeError,
    job_state,
    project_health,
    ps_entries,
)

ARGUMENT_SPEC = dict(
    project_name=dict(type="str", required=True),
    project_dir=dict(type="path", required=True),
    files=dict(type="list", elements="path", default=[]),
    env_files=dict(type="list", elements="path", default=[]),
    job_results_file=dict(type="path"),
    log_lines=dict(type="int", default=0),
    log_services=dict(type="list", elements="str"),
)
# Compose writes terminal control sequences (erase line) even without a terminal.
_ANSI_RE = re.compile("\x1b\\[[0-9;]*[A-Za-z]")


def compose_cli(params):
    """The ``docker compose`` command line of the project, without a subcommand."""
    argv = ["docker", "compose", "--project-name", params["project_name"], "--project-directory", params["project_dir"]]
    for path in params["files"]:
        argv += ["--file", path]
    for path in params["env_files"]:
        argv += ["--env-file", path]
    return argv


def read_job(path):
    """job_state of the results file at ``path``; a file not written yet is a job still running."""
    try:
        with open(path, "r") as handle:
            return job_state(handle.read())
    except (OSError, UnicodeDecodeError):
        return False, False, ""


def status(params, run_command):
    """The module's result: the health of the project, and the logs asked for."""
    rc, out, err = run_command(compose_cli(params) + ["ps", "--all", "--format", "json"])
    job = read_job(params["job_results_file"]) if params["job_results_file"] else None
    if rc != 0:
        error = " ".join((err or out or "").split())[:2000]
        result = project_health([], job, params["project_dir"])
        result.update(verdict="failed", summary="docker compose ps failed (rc %s): %s" % (rc, error))
    else:
        try:
            entries = ps_entries(out)
        except ComposeError as exc:
            entries = None
            result = project_health([], job, params["project_dir"])
            result.update(verdict="failed", summary=str(exc))
        if entries is not None:
            result = project_health(entries, job, params["project_dir"] if job is not None else "")
    result.update(logs="", log_services=[])
    if params["log_lines"] > 0 and (result["services"] or params["log_services"]):
        names = params["log_services"] or result["failing"] or sorted(set(s["service"] for s in result["services"]))
        rc, out, err = run_command(compose_cli(params) + ["logs", "--no-color", "--tail", str(params["log_lines"])] + names)
        result.update(logs=_ANSI_RE.sub("", (out or "") + (err or "")), log_services=names)
    return result


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if module.params["log_lines"] < 0:
        module.fail_json(msg="compose_status: log_lines must be 0 or more, not %s" % module.params["log_lines"])
    result = status(module.params, lambda argv: module.run_command(argv, environ_update={"LC_ALL": "C"}))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
