# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's arm64 host: Debian arm64 run under qemu-user emulation on this amd64 machine.

``lab-arm64-emulated`` (started by ``scripts/demo.sh`` from ``groundwork/debian-systemd:bookworm-arm64``,
which ``make images`` builds with ``debootstrap --arch=arm64``) stands in for a Raspberry Pi. Its
programs are Debian's arm64 builds, executed by Debian's ``qemu-aarch64-static`` through a
``binfmt_misc`` registration (``scripts/emulation.sh``). The tests check that Ansible sees an
aarch64 host, that the demo's hello-svc runs there on arm64 Python, and that one signed
release carrying Debian's amd64 and arm64 builds of a program (busybox-static's httpd; the
arm64 build comes from the arm64 image) puts the arm64 build on the emulated host and runs it
as a systemd service with the systemd_service role, on a throwaway emulated host so the lab's
release history is left alone. They run when the lab has its arm64 host (LAB_ARM64_EMULATED=1).
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import time

import pytest

from labkit import ARM64_EMULATED, BASE, BIN, DEMO, http_get, recap, run

pytestmark = pytest.mark.skipif(
    not ARM64_EMULATED, reason="the lab has no emulated arm64 host: LAB_ARM64_EMULATED=1 make demo e2e (or demo-check)")

HOST = "lab-arm64-emulated"
IMAGE = "groundwork/debian-systemd:bookworm-arm64"
EM_AARCH64 = 183  # ELF e_machine of an AArch64 program
EM_X86_64 = 62


def elf_machine(host, path):
    """The ELF e_machine of PATH on HOST (read with cat: no tool on the host decides it)."""
    data = subprocess.run(["docker", "exec", host, "cat", path], stdout=subprocess.PIPE, check=True).stdout[:20]
    assert data[:4] == b"\x7fELF", "%s on %s is not an ELF file" % (path, host)
    return struct.unpack("<H", data[18:20])[0]


def emulated_program(host, pid):
    """The program a process on HOST runs: the kernel's command line starts with the qemu-user
    interpreter binfmt_misc gave it (the P flag keeps the program's own argv[0] after the program)."""
    argv = run("docker", "exec", host, "sh", "-c", "tr '\\0' '\\n' </proc/%s/cmdline" % pid).stdout.splitlines()
    assert argv and argv[0].endswith("/qemu-binfmt/aarch64-binfmt-P"), "pid %s on %s is not run by qemu-aarch64: %r" % (
        pid, host, argv)
    return argv[1]


def ansible_env():
    env = dict(os.environ, PATH="%s:%s" % (BIN, os.environ.get("PATH", "")))
    env.setdefault("ANSIBLE_PYTHON_INTERPRETER", sys.executable)
    return env


def test_ansible_sees_an_aarch64_host_beside_the_amd64_ones():
    proc = run(str(BIN / "ansible"), "-i", "inventories/lab", "%s:lab-bookworm" % HOST, "-m", "ansible.builtin.setup",
               "-a", "filter=ansible_architecture", "-o", env=ansible_env())
    lines = dict(line.split(" | ", 1) for line in proc.stdout.splitlines() if " | " in line)
    assert '"ansible_architecture": "aarch64"' in lines[HOST], proc.stdout
    assert '"ansible_architecture": "x86_64"' in lines["lab-bookworm"], proc.stdout


def test_hello_svc_answers_on_the_emulated_host_from_arm64_python():
    answer = http_get(HOST)
    assert answer.startswith("hello-svc 1."), answer
    pid = run("docker", "exec", HOST, "systemctl", "show", "-p", "MainPID", "--value", "hello-svc.service").stdout.strip()
    assert pid not in ("", "0"), "hello-svc has no main process on %s" % HOST
    argv0 = emulated_program(HOST, pid)
    program = run("docker", "exec", HOST, "sh", "-c", "readlink -f \"$(command -v %s)\"" % argv0).stdout.strip()
    assert elf_machine(HOST, program) == EM_AARCH64, "%s (hello-svc's %s) is not an aarch64 program" % (program, argv0)
    assert elf_machine("lab-bookworm", "/usr/bin/python3") == EM_X86_64


@pytest.fixture(scope="module")
def throwaway_arm64_host():
    name = "lab-arm64-emulated-deploy"
    run("docker", "rm", "-f", "-v", name, check=False)
    run("docker", "run", "-d", "--name", name, "--hostname", name, "--cap-add", "SYS_ADMIN",
        "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined", "--cgroupns=host",
        "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/run", "--tmpfs", "/run/lock", IMAGE, "/lib/systemd/systemd")
    try:
        for dummy in range(60):
            if run("docker", "exec", name, "systemctl", "is-system-running", check=False).stdout.strip() == "running":
                break
            time.sleep(1)
        run("docker", "exec", name, "mount", "--make-rshared", "/")
        yield name
    finally:
        run("docker", "rm", "-f", "-v", name, check=False)


def test_the_arm64_build_of_a_debian_program_deploys_as_a_systemd_service(throwaway_arm64_host, tmp_path):
    """busybox-static's httpd in one signed release with Debian's amd64 build (this machine's /bin/busybox)
    and arm64 build (from the image debootstrap made): the emulated host gets and runs the arm64 one."""
    host = throwaway_arm64_host
    for arch in ("amd64", "arm64"):
        (tmp_path / arch / "bin").mkdir(parents=True)
        (tmp_path / arch / "share").mkdir()
        (tmp_path / arch / "share" / "index.html").write_text("busybox httpd, %s build\n" % arch)
    run("cp", "/bin/busybox", str(tmp_path / "amd64" / "bin" / "busybox"))
    container = run("docker", "create", IMAGE).stdout.strip()
    try:
        run("docker", "cp", "%s:/bin/busybox" % container, str(tmp_path / "arm64" / "bin" / "busybox"))
    finally:
        run("docker", "rm", container)
    assert (tmp_path / "arm64" / "bin" / "busybox").read_bytes()[18:20] == struct.pack("<H", EM_AARCH64)
    assert (tmp_path / "amd64" / "bin" / "busybox").read_bytes()[18:20] == struct.pack("<H", EM_X86_64)
    release = tmp_path / "release.yml"
    release.write_text(
        "groundwork_build_release: '2026.11.0'\n"
        "groundwork_build_components:\n"
        "  - name: busybox-httpd\n    version: '1.35.0'\n    kind: systemd\n"
        "    description: Debian's busybox-static, its httpd as a service\n"
        "    per_arch:\n      amd64: {src: %s}\n      arm64: {src: %s}\n" % (tmp_path / "amd64", tmp_path / "arm64"))
    dest = DEMO / "www" / "arm64-program"
    run(str(BIN / "ansible-playbook"), "playbooks/build.yml", "-e", "@%s" % release, "-e", "groundwork_build_dest=%s" % dest,
        "-e", "groundwork_build_signing_key=%s" % (DEMO / "keys" / "demo.key"), env=ansible_env())

    inv = tmp_path / "inventory"
    inv.mkdir()
    (inv / "hosts.yml").write_text(
        "all:\n  children:\n    systemd_hosts:\n      hosts:\n        %s:\n"
        "  vars:\n    ansible_connection: community.docker.docker\n    ansible_python_interpreter: /usr/bin/python3\n"
        % host)
    (inv / "group_vars").mkdir()
    (inv / "group_vars" / "all.yml").write_text(
        "bundle_manifest: %s/arm64-program/manifest.yaml\n"
        "bundle_trusted_keys: [%s]\n"
        "bundle_cache_dir: %s\n"
        "bundle_dest: /opt/groundwork/bundles\n"
        # What qemu-user cannot set up, as in inventories/lab/group_vars/emulated_hosts.yml.
        "systemd_service_hardening: {private_users: false, private_ipc: false}\n"
        "systemd_service_services:\n"
        "  - name: busybox-httpd\n    component: busybox-httpd\n"
        "    exec: bin/busybox httpd -f -p 8081 -h /opt/groundwork/bundles/busybox-httpd/current/share\n"
        "    health_check: {http: 'http://127.0.0.1:8081/'}\n"
        % (BASE, DEMO / "keys" / "demo.pub", tmp_path / "cache"))
    started = time.monotonic()
    proc = run(str(BIN / "ansible-playbook"), "playbooks/deploy.yml", "-i", str(inv), "--tags", "systemd", env=ansible_env())
    print("systemd_service deploy of busybox-httpd on %s: %.1f s" % (host, time.monotonic() - started))
    assert recap(proc.stdout)[host]["failed"] == 0
    assert recap(proc.stdout)[host]["changed"] > 0

    page = run("docker", "exec", host, "python3", "-c",
               "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8081/', timeout=5).read().decode())")
    assert "busybox httpd, arm64 build" in page.stdout
    deployed = "/opt/groundwork/bundles/busybox-httpd/current/bin/busybox"
    assert elf_machine(host, deployed) == EM_AARCH64
    pid = run("docker", "exec", host, "systemctl", "show", "-p", "MainPID", "--value", "busybox-httpd.service").stdout.strip()
    assert emulated_program(host, pid).startswith("/opt/groundwork/bundles/busybox-httpd/")
