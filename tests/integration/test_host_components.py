# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/vars/host_components.yml, evaluated by real ansible-playbook runs.

Which components deploy.yml's bundles play delivers on a host (never one that a role
delivers itself, so the role sees the release change and restarts the service), and
which ones upgrade.yml's plan and validate.yml look at (a service without
``component:`` counts under its name).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

PLAY = """
- hosts: all
  gather_facts: false
  vars_files:
    - {vars}
  tasks:
    - ansible.builtin.copy:
        dest: "{{{{ out }}}}/{{{{ inventory_hostname }}}}.json"
        content: "{{{{ {{'role': groundwork_host_role_components, 'files': groundwork_host_files,
                        'files_all': groundwork_host_files_all | bool, 'components': groundwork_host_components}} | to_json }}}}"
        mode: "0600"
      delegate_to: localhost
"""


def evaluate(tmp_path, hostvars, groups):
    """Each host's view of host_components.yml: {host: {role, files, files_all, components}}."""
    inventory = {"all": {"children": {}}}
    for group, hosts in groups.items():
        inventory["all"]["children"][group] = {"hosts": {h: hostvars.get(h, {}) for h in hosts}}
    inv = tmp_path / "hosts.yml"
    inv.write_text(yaml.safe_dump(inventory), encoding="utf-8")
    play = tmp_path / "play.yml"
    play.write_text(PLAY.format(vars=ROOT / "playbooks" / "vars" / "host_components.yml"), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(inv), str(play), "-e", "out=%s" % out,
         "-e", "ansible_connection=local", "-e", "ansible_python_interpreter=%s" % sys.executable],
        capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=240, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in out.glob("*.json")}


@pytest.fixture(scope="module")
def views(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("host-components")
    services = [
        {"name": "node-exporter", "exec": "bin/node-exporter"},  # no component: its name
        {"name": "hello-svc", "component": "hello-bin", "exec": "bin/hello"},
        {"name": "old-svc", "state": "absent"},
    ]
    hostvars = {
        "svc-all": {"systemd_service_services": services},
        "svc-list": {"systemd_service_services": services, "bundle_components": ["motd", "hello-bin"]},
        "svc-none": {"systemd_service_services": services, "groundwork_file_components": []},
        "compose": {"compose_app_projects": [{"name": "photos"}], "groundwork_file_components": ["motd", "photos"]},
    }
    groups = {"bundle_hosts": list(hostvars), "systemd_hosts": ["svc-all", "svc-list", "svc-none"],
              "compose_hosts": ["compose"]}
    return evaluate(tmp, hostvars, groups)


def test_service_without_component_counts_under_its_name(views):
    view = views["svc-all"]
    assert view["role"] == ["hello-bin", "node-exporter", "old-svc"]
    # the upgrade plan and validate: present services only, by component or name
    assert sorted(view["components"]) == ["hello-bin", "node-exporter"]


def test_empty_bundle_components_means_the_releases_file_components(views):
    view = views["svc-all"]
    assert view["files_all"] is True
    assert view["files"] == []


def test_bundles_play_never_delivers_a_role_component(views):
    assert views["svc-list"] == {"role": ["hello-bin", "node-exporter", "old-svc"], "files": ["motd"], "files_all": False,
                                 "components": ["motd", "hello-bin", "node-exporter"]}
    # a compose project's component is delivered by compose_app, after docker_host
    assert views["compose"]["files"] == ["motd"]
    assert views["compose"]["files_all"] is False


def test_none_is_an_empty_groundwork_file_components(views):
    view = views["svc-none"]
    assert view["files_all"] is False
    assert view["files"] == []
    assert sorted(view["components"]) == ["hello-bin", "node-exporter"]
