# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Air-gap proof: deploy.yml succeeds on a host with no route out, and the host reaches nothing.

Two lab hosts sit alone on an internal Docker network: ``lab-airgap`` (Debian bookworm
amd64 with systemd) and ``lab-airgap-arm64-emulated`` (the same for arm64, run under
qemu-user like the lab's ``lab-arm64-emulated``). Docker drops everything they send beyond
the bridge. A counting rule at the top of the controller's iptables FORWARD chain sees
every packet a host sends towards anything but the controller (traffic to the controller
itself never crosses FORWARD). The test first proves the tripwire fires for each host (a
connection attempt to a documentation address), resets it, runs ``deploy.yml`` on both with
the demo release (bundles and the hello-svc systemd service), and fails if the counter
moved.

Limits, stated plainly: the compose host is not part of this proof, because
``docker_host`` installs Docker Engine from an apt source, which an air-gapped host must
have locally (a mirror) or pre-installed. DNS queries to Docker's embedded resolver do not
cross the bridge and are not counted.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest

from labkit import BIN, ROOT, recap, run

NETWORK = "groundwork-airgap"
# Host -> (base image, what `uname -m` prints there).
HOSTS = {
    "lab-airgap": ("groundwork/debian-systemd:bookworm", "x86_64"),
    "lab-airgap-arm64-emulated": ("groundwork/debian-systemd:bookworm-arm64", "aarch64"),
}
COMMENT = "groundwork-airgap-tripwire"


def tripwire_packets(bridge):
    out = run("iptables", "-L", "FORWARD", "-n", "-v", "-x").stdout
    for line in out.splitlines():
        if COMMENT in line and bridge in line:
            return int(line.split()[0])
    raise AssertionError("the tripwire rule on %s is gone:\n%s" % (bridge, out))


def cleanup(bridge=None):
    if bridge:
        while run("iptables", "-D", "FORWARD", "-i", bridge, "-m", "comment", "--comment", COMMENT, check=False).returncode == 0:
            pass
    run("docker", "rm", "-f", "-v", *HOSTS, check=False)
    run("docker", "network", "rm", NETWORK, check=False)


@pytest.fixture(scope="module")
def airgapped_host():
    cleanup()
    run("docker", "network", "create", "--internal", NETWORK)
    bridge = "br-" + run("docker", "network", "inspect", "-f", "{{.Id}}", NETWORK).stdout.strip()[:12]
    try:
        for host, (image, dummy) in HOSTS.items():
            run("docker", "run", "-d", "--name", host, "--hostname", host, "--network", NETWORK,
                "--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
                "--cgroupns=host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/run", "--tmpfs", "/run/lock",
                image, "/lib/systemd/systemd")
        for host in HOSTS:
            for dummy in range(60):
                state = run("docker", "exec", host, "systemctl", "is-system-running", check=False).stdout.strip()
                if state in ("running", "degraded"):
                    break
                time.sleep(1)
            # As in scripts/demo.sh: a booted host has / shared, which LoadCredential= needs.
            run("docker", "exec", host, "mount", "--make-rshared", "/")
        run("iptables", "-I", "FORWARD", "1", "-i", bridge, "-m", "comment", "--comment", COMMENT)
        yield bridge
    finally:
        cleanup(bridge)


@pytest.fixture(scope="module")
def airgap_inventory():
    """An inventory of the air-gapped hosts, with the lab's group_vars (same release, key, services)."""
    inv = ROOT / "build" / "airgap-inventory"
    inv.mkdir(parents=True, exist_ok=True)
    hosts = "".join("        %s:\n" % host for host in HOSTS)
    emulated = "".join("        %s:\n" % host for host in HOSTS if host.endswith("-emulated"))
    (inv / "hosts.yml").write_text(
        "all:\n  children:\n    bundle_hosts:\n      hosts:\n%s    systemd_hosts:\n      hosts:\n%s"
        "    emulated_hosts:\n      hosts:\n%s      vars:\n        ansible_group_priority: 10\n"
        "  vars:\n    ansible_connection: community.docker.docker\n    ansible_python_interpreter: /usr/bin/python3\n"
        % (hosts, hosts, emulated))
    link = inv / "group_vars"
    if not link.is_symlink():
        link.symlink_to(Path("..") / ".." / "inventories" / "lab" / "group_vars")
    return inv


@pytest.mark.parametrize("host", sorted(HOSTS))
def test_the_tripwire_sees_an_attempt_to_leave(airgapped_host, host):
    machine = run("docker", "exec", host, "uname", "-m").stdout.strip()
    assert machine == HOSTS[host][1]
    run("iptables", "-Z", "FORWARD", "1")
    attempt = run("docker", "exec", host, "python3", "-c",
                  "import socket; socket.create_connection(('192.0.2.1', 80), timeout=3)", check=False)
    assert attempt.returncode != 0, "an internal network must not let %s out" % host
    assert tripwire_packets(airgapped_host) > 0
    run("iptables", "-Z", "FORWARD", "1")
    assert tripwire_packets(airgapped_host) == 0


def test_deploy_succeeds_without_a_route_out_and_reaches_nothing(airgapped_host, airgap_inventory):
    assert tripwire_packets(airgapped_host) == 0
    env = dict(os.environ, PATH="%s:%s" % (BIN, os.environ.get("PATH", "")))
    env.setdefault("ANSIBLE_PYTHON_INTERPRETER", sys.executable)
    proc = run(str(BIN / "ansible-playbook"), "playbooks/deploy.yml", "-i", str(airgap_inventory), env=env)
    for host in HOSTS:
        assert recap(proc.stdout)[host]["failed"] == 0
        assert recap(proc.stdout)[host]["changed"] > 0
        answer = run("docker", "exec", host, "python3", "-c",
                     "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8080/', timeout=5).read().decode())")
        assert re.search(r"^hello-svc 1\.\d+\.\d+: ", answer.stdout), (host, answer.stdout)
    packets = tripwire_packets(airgapped_host)
    assert packets == 0, "%s sent %d packet(s) towards something other than the controller during deploy.yml" % (
        " and ".join(HOSTS), packets)
