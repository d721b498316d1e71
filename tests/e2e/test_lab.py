# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whole lab, end to end, as a user drives it (``make demo-check`` runs this).

Expects the lab that ``scripts/demo.sh`` leaves running: ``lab-bookworm`` (systemd host,
hello-svc and busybox-httpd), ``lab-trixie`` (compose host, hello-compose), release 2026.11.0 of
the demo deployed and its files under ``build/demo``. Every playbook reaches the hosts as
inventories/lab says: over SSH as the non-root user ``ops``, with sudo and become; ``docker exec``
only sets up or inspects. The tests run in file order and share the lab: SSH, validate, status,
an upgrade dry run checked against the real upgrade that follows, an idempotent re-run, a
refused downgrade, then reset. They drive the amd64 hosts only (``--limit '!emulated_hosts'``):
the emulated arm64 host has its own, trimmed tests in test_arm64.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import time

import pytest

from labkit import AMD64_HOSTS as HOSTS
from labkit import BASE, BIN, DEMO, ROOT, SYSTEMD_HOSTS, ansible_env, http_get, playbook, recap, run, status

NEXT_RELEASE = "2026.11.1"
NEXT_MANIFEST = "%s/demo-next/manifest.yaml" % BASE


@pytest.fixture(scope="module")
def next_release():
    """Release 2026.11.1 (hello-svc 1.1.0), built and signed by scripts/demo-next.sh as ``make demo-next`` does."""
    run(str(ROOT / "scripts" / "demo-next.sh"), env=dict(os.environ, VENV=str(BIN.parent)))
    assert (DEMO / "www" / "demo-next" / "manifest.yaml").is_file()
    return NEXT_MANIFEST


def test_the_lab_is_reached_over_ssh_as_a_non_root_user_with_become():
    """The modules run as root through sudo, after an SSH login as ops with the demo's key: sshd
    logged such logins (read with docker exec, which only inspects), and never one as root."""
    ansible = [str(BIN / "ansible"), "-i", "inventories/lab", ":".join(HOSTS), "-m", "ansible.builtin.command",
               "-a", "id -un", "-o"]
    become = run(*ansible, env=ansible_env()).stdout
    plain = run(*(ansible + ["-e", "ansible_become=false"]), env=ansible_env()).stdout
    for host in HOSTS:
        assert re.search(r"^%s \| CHANGED \| rc=0 \| \(stdout\) root$" % host, become, re.M), become
        assert re.search(r"^%s \| CHANGED \| rc=0 \| \(stdout\) ops$" % host, plain, re.M), plain
    logins = run("docker", "exec", "lab-bookworm", "journalctl", "-u", "ssh", "-o", "cat").stdout
    assert "Accepted publickey for ops from" in logins, logins
    assert "Accepted publickey for root" not in logins


def test_a_host_that_offers_another_key_is_refused(tmp_path):
    """The lab's SSH settings (scripts/lab-ssh-config.sh) check host keys: with known_hosts giving
    lab-bookworm the key of lab-trixie, ssh refuses lab-bookworm; with the lab's own known_hosts it logs in."""
    known = dict(line.split(" ", 1) for line in (DEMO / "known_hosts").read_text().splitlines() if line.strip())
    assert known["lab-bookworm"] != known["lab-trixie"]
    wrong = tmp_path / "known_hosts"
    wrong.write_text("".join("%s %s\n" % (host, known["lab-trixie"] if host == "lab-bookworm" else key)
                             for host, key in known.items()))
    ssh = ["ssh", "-F", str(DEMO / "ssh_config"), "-o", "ControlPath=none"]
    refused = run(*ssh, "-o", "UserKnownHostsFile=%s" % wrong, "lab-bookworm", "true", check=False)
    assert refused.returncode == 255, refused.stdout
    assert "Host key verification failed" in refused.stdout
    assert run(*ssh, "lab-bookworm", "id", "-un").stdout.strip() == "ops"


def test_validate_finds_nothing_wrong_with_the_lab():
    proc = playbook("validate.yml")
    assert "validate: %d host(s) checked, no problem found" % len(HOSTS) in proc.stdout
    assert all(r["changed"] == 0 for r in recap(proc.stdout).values())


def test_validate_limited_to_one_host_checks_that_host_only():
    proc = playbook("validate.yml", "--limit", "lab-bookworm")
    assert "validate: 1 host(s) checked, no problem found" in proc.stdout


def test_validate_reports_every_problem_at_once_and_changes_nothing():
    proc = playbook("validate.yml", "-e", '{"bundle_keep": "many", "compose_app_projects": "not-a-list"}',
                    "-e", "bundle_manifest=%s/missing/manifest.yaml" % BASE, check=False)
    assert proc.returncode != 0
    assert "validate: 5 problem(s) on 2 of 2 host(s)" in proc.stdout
    assert "role bundle: argument 'bundle_keep' is of type str" in proc.stdout
    assert "role compose_app:" in proc.stdout and "compose_app_projects" in proc.stdout
    assert proc.stdout.count("missing/manifest.yaml: not found (HTTP 404)") >= 2
    assert all(recap(proc.stdout)[h]["changed"] == 0 for h in HOSTS)


def test_status_shows_every_component_version_state_and_health(tmp_path):
    proc, rows = status(tmp_path)
    svc = rows[("lab-bookworm", "hello-svc")]
    assert (svc["version"], svc["release"], svc["runs_as"], svc["state"], svc["health"]) == (
        "1.0.0", "2026.11.0", "hello-svc.service", "active/running", "ok")
    web = rows[("lab-trixie", "hello-compose")]
    assert (web["version"], web["state"], web["health"]) == ("1.0.0", "running 1/1", "ok")
    assert rows[("lab-trixie", "motd")]["runs_as"] == "files"
    assert set(key[0] for key in rows) == set(HOSTS)
    assert re.search(r"lab-bookworm\s+lab\s+hello-svc\s+1\.0\.0\s+amd64\s+2026\.11\.0\s+hello-svc\.service\s+active/running\s+ok",
                     proc.stdout)


def test_status_reports_a_stopped_service(tmp_path):
    subprocess.run(["docker", "exec", "lab-bookworm", "systemctl", "stop", "hello-svc.service"], check=True)
    try:
        rows = status(tmp_path)[1]
        assert rows[("lab-bookworm", "hello-svc")]["state"] == "inactive/dead"
        assert rows[("lab-bookworm", "hello-svc")]["health"].startswith("failing")
    finally:
        subprocess.run(["docker", "exec", "lab-bookworm", "systemctl", "start", "hello-svc.service"], check=True)
    http_get("lab-bookworm")


def test_status_tells_an_unhealthy_container_from_a_healthy_one(tmp_path):
    """docker ps says "(healthy)" or "(unhealthy)" in a container's Status: a probe container of the
    project whose health check always fails must be named in the health column, the healthy web not."""
    probe = "hello-compose-probe"
    subprocess.run(["docker", "exec", "lab-trixie", "docker", "run", "--detach", "--name", probe,
                    "--label", "com.docker.compose.project=hello-compose", "--health-cmd", "false",
                    "--health-interval", "1s", "--health-retries", "1", "groundwork/hello-compose:1.0.0", "sleep", "600"],
                   stdout=subprocess.DEVNULL, check=True)
    try:
        for dummy in range(60):
            health = subprocess.run(["docker", "exec", "lab-trixie", "docker", "inspect", "--format",
                                     "{{.State.Health.Status}}", probe],
                                    stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.strip()
            if health == "unhealthy":
                break
            time.sleep(0.5)
        assert health == "unhealthy"
        proc, rows = status(tmp_path)
        web = rows[("lab-trixie", "hello-compose")]
        assert (web["state"], web["health"]) == ("running 2/2", "unhealthy: %s" % probe)
        # The table as printed (the YAML callback may wrap a line anywhere between the columns).
        assert re.search(r"lab-trixie\s+lab\s+hello-compose\s+1\.0\.0\s+amd64\s+\S+\s+compose\s+project\s+hello-compose\s+running\s+2/2\s+"
                         r"unhealthy:\s+%s" % probe, proc.stdout), proc.stdout
    finally:
        subprocess.run(["docker", "exec", "lab-trixie", "docker", "rm", "--force", probe], stdout=subprocess.DEVNULL, check=True)
    web = status(tmp_path)[1][("lab-trixie", "hello-compose")]
    assert (web["state"], web["health"]) == ("running 1/1", "ok")


def test_upgrade_dry_run_predicts_exactly_what_the_upgrade_changes(next_release, tmp_path):
    before = status(tmp_path)[1]
    dry = playbook("upgrade.yml", "-e", "bundle_manifest=%s" % next_release, "--check", "--diff")
    planned = sorted(re.findall(r"upgrade: (\S+): (\S+) (\S+) -> (\S+) \(", dry.stdout))
    # hello-svc runs on lab-bookworm (and the emulated arm64 host when the lab has it).
    assert planned == [(host, "hello-svc", "1.0.0", "1.1.0") for host in SYSTEMD_HOSTS]
    # The dry run changed nothing.
    assert "hello-svc 1.0.0" in http_get("lab-bookworm")
    unchanged = status(tmp_path)[1]
    assert unchanged == before

    real = playbook("upgrade.yml", "-e", "bundle_manifest=%s" % next_release)
    assert sorted(re.findall(r"upgrade: (\S+): (\S+) (\S+) -> (\S+) \(", real.stdout)) == planned
    after = status(tmp_path)[1]
    moved = sorted((h, c, before[(h, c)]["version"], after[(h, c)]["version"])
                   for (h, c) in after if after[(h, c)]["version"] != before.get((h, c), {}).get("version"))
    assert moved == planned
    assert after[("lab-bookworm", "hello-svc")]["release"] == NEXT_RELEASE
    for host in SYSTEMD_HOSTS:
        assert "hello-svc 1.1.0" in http_get(host)
    assert "hello-compose 1.0.0" in http_get("lab-trixie")


def test_upgrade_again_changes_nothing(next_release):
    proc = playbook("upgrade.yml", "-e", "bundle_manifest=%s" % next_release)
    assert "upgrade: nothing to change" in proc.stdout
    assert all(r["changed"] == 0 for r in recap(proc.stdout).values())


def test_downgrade_is_refused_before_anything_changes(tmp_path):
    before = status(tmp_path)[1]
    proc = playbook("upgrade.yml", check=False)
    assert proc.returncode != 0
    assert "release 2026.11.0 is lower than release %s, the highest accepted on lab-bookworm" % NEXT_RELEASE in proc.stdout
    assert "Deliver verified bundles" not in proc.stdout
    after = status(tmp_path)[1]
    assert after == before
    assert "hello-svc 1.1.0" in http_get("lab-bookworm")


def test_reset_needs_confirmation_then_removes_every_deployment(tmp_path):
    refused = playbook("reset.yml", check=False)
    assert refused.returncode != 0 and "groundwork_reset_confirm=true" in refused.stdout
    # A --limit must not skip the confirmation.
    limited = playbook("reset.yml", "--limit", "lab-bookworm", check=False)
    assert limited.returncode != 0 and "groundwork_reset_confirm=true" in limited.stdout
    assert all(r["changed"] == 0 for r in recap(limited.stdout).values())
    assert "hello-svc 1.1.0" in http_get("lab-bookworm")

    playbook("reset.yml", "-e", "groundwork_reset_confirm=true")
    for host in HOSTS:
        probe = subprocess.run(["docker", "exec", host, "test", "-e", "/opt/groundwork/bundles"], check=False)
        assert probe.returncode == 1, "%s still has /opt/groundwork/bundles" % host
    unit = subprocess.run(["docker", "exec", "lab-bookworm", "systemctl", "show", "-p", "LoadState", "--value",
                           "hello-svc.service"], stdout=subprocess.PIPE, universal_newlines=True, check=True)
    assert unit.stdout.strip() == "not-found"
    containers = subprocess.run(["docker", "exec", "lab-trixie", "docker", "ps", "-aq", "--filter",
                                 "label=com.docker.compose.project=hello-compose"],
                                stdout=subprocess.PIPE, universal_newlines=True, check=True)
    assert containers.stdout.strip() == ""
    rows = status(tmp_path)[1]
    assert not [r for r in rows.values() if r["version"] != "not installed"]
