# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Air-gap proof: deploy.yml succeeds on hosts with no route out, and the hosts reach nothing.

Three lab hosts sit alone on an internal Docker network: ``lab-airgap`` (Debian bookworm
amd64 with systemd), ``lab-airgap-arm64-emulated`` (the same for arm64, run under
qemu-user like the lab's ``lab-arm64-emulated``) and ``lab-airgap-compose`` (Debian trixie
amd64 with systemd, running Docker inside as the lab's ``lab-trixie`` does). They are
reached as the lab's hosts are (inventories/lab): over SSH as the non-root user ``ops``
with sudo and ``become``, with the project's SSH settings (ansible.cfg: pipelining,
ControlPersist). They start from the lab's images ``groundwork/lab-ssh:<release>``
(openssh-server added, built by scripts/lab-ssh-images.sh: `make images`) and
scripts/ssh-user.sh makes ``ops`` with the demo's controller key (build/demo/keys/ssh) in
each. The fixture writes its own SSH client settings with scripts/lab-ssh-config.sh, as
scripts/demo.sh does for the lab, to build/airgap-inventory/ssh_config (each host's
address on the internal network) and known_hosts (each host's key, read from the
container: the out-of-band check a user does on first contact). ``docker exec`` is used
only to set a host up (the apt sources removed, ssh-user.sh) and to inspect it (the
answers, dpkg-query, the tripwire attempt).

The compose host has no apt source at all (sources and package lists removed):
``docker_host`` installs Docker Engine and Compose from the release, a component of
Debian's .deb files built by ``scripts/package-bundle.sh`` (``docker_host_source:
bundle``). Docker drops everything the hosts send beyond the bridge. A counting rule at the
top of the controller's iptables FORWARD chain sees every packet a host sends towards
anything but the controller. Traffic between the controller and a host never crosses
FORWARD: the controller's SSH connections leave it through OUTPUT and the hosts' answers
reach it through INPUT (the bridge's own address is the controller's), so SSH does not
move the counter; each deploy test checks that, with the counter at 0 before and after its
runs over SSH. The test first proves the tripwire fires for each host (a connection attempt
to a documentation address), resets it, predicts the compose host's Docker install in check
mode, runs ``deploy.yml`` there with the demo release plus the package bundle (bundles,
Docker and the hello-compose project) and again (nothing changes), then runs it on the two
systemd hosts (bundles and the hello-svc systemd service; a run of its own, which keeps each
run within the lab's playbook timeout on a loaded machine), and fails if the counter moved
at any point.

Limits, stated plainly: DNS queries to Docker's embedded resolver do not cross the bridge and
are not counted. The package bundle is downloaded (once, kept in build/package-bundles) on the
controller before the proof starts, as a release is built before it is carried to an air gap.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

import pytest

from labkit import BIN, DEMO, ROOT, recap, run

NETWORK = "groundwork-airgap"
# Host -> (Debian release of its lab image groundwork/lab-ssh:<release>, what `uname -m` prints there).
HOSTS = {
    "lab-airgap": ("bookworm", "x86_64"),
    "lab-airgap-arm64-emulated": ("bookworm-arm64", "aarch64"),
    "lab-airgap-compose": ("trixie", "x86_64"),
}
COMPOSE_HOST = "lab-airgap-compose"
# What Docker inside a systemd container needs beyond systemd's options (as scripts/demo.sh
# starts lab-trixie): more capabilities, and /var/lib/docker on a volume, since overlay2
# cannot sit on the container's own overlay filesystem.
DOCKER_OPTS = ("--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW", "--cap-add", "SYS_PTRACE", "--cap-add", "MKNOD",
               "--cap-add", "AUDIT_WRITE", "--cap-add", "SETFCAP", "--cap-add", "SYS_MODULE", "-v", "/var/lib/docker")
COMMENT = "groundwork-airgap-tripwire"
# The package bundle of the compose host (Debian 13), and the release that carries it
# beside the demo's components, served by the e2e release server (conftest.py).
PACKAGES = ROOT / "build" / "package-bundles" / "trixie"
RELEASE = DEMO / "www" / "airgap"
MANIFEST = "http://127.0.0.1:18081/airgap/manifest.yaml"
# The inventory of the air-gapped hosts and their SSH client settings (not the lab's build/demo files).
INVENTORY = ROOT / "build" / "airgap-inventory"
SSH_CONFIG = INVENTORY / "ssh_config"
SSH_USER = "ops"
# The controller's key of the lab, made by scripts/demo.sh.
SSH_KEY = DEMO / "keys" / "ssh"


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


def lab_images():
    """The lab images of the three hosts; fails, naming the command that makes what is missing."""
    images = dict((host, "groundwork/lab-ssh:%s" % release) for host, (release, dummy) in HOSTS.items())
    missing = sorted(set(image for image in images.values()
                         if run("docker", "image", "inspect", image, check=False).returncode != 0))
    hints = []
    if missing:
        releases = sorted(set(image.split(":", 1)[1] for image in missing))
        hints.append("the lab images %s: run scripts/lab-ssh-images.sh %s (or `make images`)"
                     % (", ".join(missing), " ".join(releases)))
    if not SSH_KEY.is_file():
        hints.append("the controller's SSH key %s: run `make demo` (scripts/demo.sh makes it)" % SSH_KEY.relative_to(ROOT))
    if hints:
        pytest.fail("the air-gap proof needs " + "; ".join(hints))
    return images


def write_ssh_settings():
    """build/airgap-inventory/ssh_config and known_hosts: each host's address and key, the lab's settings
    (scripts/lab-ssh-config.sh, which writes the lab's for scripts/demo.sh)."""
    run(str(ROOT / "scripts" / "lab-ssh-config.sh"), str(SSH_CONFIG), str(INVENTORY / "known_hosts"), SSH_USER, str(SSH_KEY), *HOSTS)


@pytest.fixture(scope="module")
def airgapped_host():
    images = lab_images()
    cleanup()
    INVENTORY.mkdir(parents=True, exist_ok=True)
    # ControlPersist's sockets and the cached facts (ansible.cfg) of a previous run are of removed containers.
    shutil.rmtree(str(INVENTORY / "cp"), ignore_errors=True)
    for host in HOSTS:
        (ROOT / "build" / "facts" / host).unlink(missing_ok=True)
    run("docker", "network", "create", "--internal", NETWORK)
    bridge = "br-" + run("docker", "network", "inspect", "-f", "{{.Id}}", NETWORK).stdout.strip()[:12]
    try:
        for host, image in images.items():
            run("docker", "run", "-d", "--name", host, "--hostname", host, "--network", NETWORK,
                "--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
                "--cgroupns=host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/run", "--tmpfs", "/run/lock",
                *(DOCKER_OPTS if host == COMPOSE_HOST else ()), image, "/lib/systemd/systemd")
        pubkey = SSH_KEY.with_suffix(".pub").read_text().strip()
        for host in HOSTS:
            for dummy in range(60):
                state = run("docker", "exec", host, "systemctl", "is-system-running", check=False).stdout.strip()
                if state in ("running", "degraded"):
                    break
                time.sleep(1)
            # As in scripts/demo.sh: a booted host has / shared, which LoadCredential= needs.
            run("docker", "exec", host, "mount", "--make-rshared", "/")
            # Set-up, as scripts/demo.sh does: sshd, the user ops with sudo and the controller's key.
            with open(str(ROOT / "scripts" / "ssh-user.sh"), encoding="utf-8") as script:
                run("docker", "exec", "-i", host, "sh", "-s", "--", SSH_USER, pubkey, stdin=script)
        # No apt source at all on the compose host: what apt installs there can only come from the bundle.
        run("docker", "exec", COMPOSE_HOST, "sh", "-c",
            "rm -f /etc/apt/sources.list /etc/apt/sources.list.d/* && rm -rf /var/lib/apt/lists/* && apt-get update -qq")
        run("iptables", "-I", "FORWARD", "1", "-i", bridge, "-m", "comment", "--comment", COMMENT)
        write_ssh_settings()
        for host in HOSTS:
            for dummy in range(30):
                login = run("ssh", "-F", str(SSH_CONFIG), host, "id -un && sudo -n id -un", check=False)
                if login.returncode == 0:
                    break
                time.sleep(1)
            assert login.stdout.split() == [SSH_USER, "root"], "ssh -F %s %s: %s" % (SSH_CONFIG, host, login.stdout)
        # SSH between the controller and the hosts does not cross FORWARD: the tripwire saw none of it.
        assert tripwire_packets(bridge) == 0, "SSH to the hosts crossed the FORWARD chain: the tripwire cannot tell it apart"
        yield bridge
    finally:
        cleanup(bridge)


@pytest.fixture(scope="module")
def airgap_release():
    """The demo release plus the compose host's package bundle (the same key), built on the controller.

    The download is the guide's (docs/guides/docker-compose.md, "Offline install")
    ``groundwork-infra/scripts/package-bundle.sh download trixie debs``, kept in build/package-bundles.
    """
    if not (PACKAGES / "Packages").is_file():
        run(str(ROOT / "scripts" / "package-bundle.sh"), "download", "trixie", str(PACKAGES))
    debs = sorted(str(p) for p in PACKAGES.glob("*.deb"))
    engine = [re.match(r"docker\.io_([0-9.]+)", Path(p).name) for p in debs]
    version = [m.group(1) for m in engine if m][0]
    extra = ROOT / "build" / "airgap-packages.json"
    extra.write_text(json.dumps({"groundwork_build_extra_components": [{
        "name": "docker-packages", "version": version, "kind": "files",
        "description": "Docker Engine and Compose from Debian 13, with what a minimal Debian lacks",
        "files": debs + [str(PACKAGES / "Packages")]}]}))
    env = dict(os.environ, PATH="%s:%s" % (BIN, os.environ.get("PATH", "")))
    env.setdefault("ANSIBLE_PYTHON_INTERPRETER", sys.executable)
    run(str(BIN / "ansible-playbook"), "playbooks/build.yml", "-e", "@docs/examples/demo/release.yml", "-e", "@%s" % extra,
        "-e", "groundwork_demo_stage=%s" % (DEMO / "stage"), "-e", "groundwork_build_dest=%s" % RELEASE,
        "-e", "groundwork_build_signing_key=%s" % (DEMO / "keys" / "demo.key"), env=env)
    return version


@pytest.fixture(scope="module")
def airgap_inventory(airgapped_host, airgap_release):  # pylint: disable=unused-argument
    """An inventory of the air-gapped hosts, with the lab's group_vars (same key, services, project),
    the release of airgap_release, and the compose host's Docker from its package bundle. Reached
    as inventories/lab's hosts: over SSH as ops with become, with airgapped_host's SSH settings."""
    inv = INVENTORY
    hosts = "".join("        %s:\n          bundle_manifest: %s\n" % (host, MANIFEST) for host in HOSTS)
    systemd = "".join("        %s:\n" % host for host in HOSTS if host != COMPOSE_HOST)
    emulated = "".join("        %s:\n" % host for host in HOSTS if host.endswith("-emulated"))
    (inv / "hosts.yml").write_text(
        "all:\n  children:\n    bundle_hosts:\n      hosts:\n%s    systemd_hosts:\n      hosts:\n%s"
        "    compose_hosts:\n      hosts:\n        %s:\n          docker_host_source: bundle\n"
        "    emulated_hosts:\n      hosts:\n%s      vars:\n        ansible_group_priority: 10\n"
        "  vars:\n    ansible_connection: ansible.builtin.ssh\n    ansible_user: %s\n    ansible_become: true\n"
        "    ansible_ssh_common_args: -F %s\n    ansible_control_path_dir: %s\n    ansible_python_interpreter: /usr/bin/python3\n"
        % (hosts, systemd, COMPOSE_HOST, emulated, SSH_USER, SSH_CONFIG, inv / "cp"))
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


def playbook(inventory, *args):
    env = dict(os.environ, PATH="%s:%s" % (BIN, os.environ.get("PATH", "")))
    env.setdefault("ANSIBLE_PYTHON_INTERPRETER", sys.executable)
    return run(str(BIN / "ansible-playbook"), "playbooks/deploy.yml", "-i", str(inventory), *args, env=env)


def answer(host, port=8080):
    return run("docker", "exec", host, "python3", "-c",
               "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:%d/', timeout=5).read().decode())" % port,
               check=False).stdout


def test_a_compose_host_with_no_apt_source_gets_docker_from_the_release(airgapped_host, airgap_inventory, airgap_release):
    """The compose host alone (its plays need none of the others): check mode, deploy.yml, a re-run."""
    assert tripwire_packets(airgapped_host) == 0
    # Check mode predicts the offline install and changes nothing: no engine, no apt source written.
    check = playbook(airgap_inventory, "--check", "--limit", COMPOSE_HOST, "--tags", "docker")
    assert recap(check.stdout)[COMPOSE_HOST]["failed"] == 0
    assert "would install docker-cli=%s" % airgap_release in check.stdout, check.stdout[-3000:]
    assert run("docker", "exec", COMPOSE_HOST, "sh", "-c", "command -v dockerd || ls /etc/apt/sources.list.d/*", check=False).returncode != 0

    proc = playbook(airgap_inventory, "--limit", COMPOSE_HOST)
    assert recap(proc.stdout)[COMPOSE_HOST]["failed"] == 0
    assert recap(proc.stdout)[COMPOSE_HOST]["changed"] > 0
    assert re.search(r"^hello-compose 1\.\d+\.\d+", answer(COMPOSE_HOST), re.M), answer(COMPOSE_HOST)
    # The engine came from the package bundle, pinned and held at its version; apt knows no other source.
    installed = run("docker", "exec", COMPOSE_HOST, "sh", "-c",
                    "dpkg-query -W -f '${Version}' docker.io; echo; apt-mark showhold; cat /etc/apt/sources.list.d/*").stdout
    assert installed.splitlines()[0].startswith(airgap_release + "+"), installed
    assert {"docker.io", "docker-cli", "docker-compose"} <= set(installed.splitlines()[1:]), installed
    assert re.search(r"^deb \[trusted=yes\] file:/opt/groundwork/bundles/docker-packages/%s \./$" % re.escape(airgap_release),
                     installed, re.M), installed
    assert len(re.findall(r"^deb ", installed, re.M)) == 1, installed

    # Again: Docker and the project stay as they are.
    again = playbook(airgap_inventory, "--limit", COMPOSE_HOST)
    assert recap(again.stdout)[COMPOSE_HOST] == dict(recap(again.stdout)[COMPOSE_HOST], failed=0, changed=0), again.stdout[-3000:]
    packets = tripwire_packets(airgapped_host)
    assert packets == 0, "%s sent %d packet(s) towards something other than the controller" % (COMPOSE_HOST, packets)


def test_deploy_succeeds_without_a_route_out_and_reaches_nothing(airgapped_host, airgap_inventory):
    """The systemd hosts, amd64 and emulated arm64, in one run (the compose host had its own above)."""
    assert tripwire_packets(airgapped_host) == 0
    hosts = [host for host in HOSTS if host != COMPOSE_HOST]
    proc = playbook(airgap_inventory, "--limit", "!%s" % COMPOSE_HOST)
    for host in hosts:
        assert recap(proc.stdout)[host]["failed"] == 0
        assert recap(proc.stdout)[host]["changed"] > 0
        # The lab's group_vars: busybox-httpd (its per-architecture build, one release) on every
        # systemd host; hello-svc too on the amd64 ones (the emulated host is trimmed, docs/lab.md).
        arch = "arm64" if host.endswith("-emulated") else "amd64"
        assert answer(host, 8082).rstrip().endswith(", %s build" % arch), (host, answer(host, 8082))
        if arch == "amd64":
            assert re.search(r"^hello-svc 1\.\d+\.\d+: ", answer(host)), (host, answer(host))
    packets = tripwire_packets(airgapped_host)
    assert packets == 0, "%s sent %d packet(s) towards something other than the controller during deploy.yml" % (
        " and ".join(HOSTS), packets)
