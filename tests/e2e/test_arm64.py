# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's arm64 host: Debian arm64 run under qemu-user emulation on this amd64 machine.

``lab-arm64-emulated`` (started by ``scripts/demo.sh`` from ``groundwork/debian-systemd:bookworm-arm64``
plus openssh-server, which ``make images`` and the demo build with ``debootstrap --arch=arm64``)
stands in for a Raspberry Pi. Its programs are Debian's arm64 builds, executed by Debian's
``qemu-aarch64-static`` through a ``binfmt_misc`` registration (``scripts/emulation.sh``).

The demo's one signed release carries busybox-httpd (Debian's busybox-static, its httpd as a
systemd service) with an amd64 and an arm64 build (``per_arch``). ``make demo`` deployed it over
SSH as ``ops`` with become: the tests check that Ansible sees an aarch64 host beside an x86_64 one,
that the release carries both builds, and that each host runs, from the artifact of its own
architecture, a program of its own architecture that answers. What runs on the emulated host is
trimmed to that (every module call there costs several times an amd64 one, docs/lab.md): one
module call here, the rest is read with ``docker exec`` and HTTP.
"""

from __future__ import annotations

import hashlib
import io
import struct
import subprocess
import tarfile

import pytest
import yaml

from labkit import ARM64_EMULATED, BIN, DEMO, ansible_env, http_get, run

pytestmark = pytest.mark.skipif(
    not ARM64_EMULATED, reason="the lab was started without its arm64 host (LAB_ARM64_EMULATED=0)")

HOST = "lab-arm64-emulated"
EM_AARCH64 = 183  # ELF e_machine of an AArch64 program
EM_X86_64 = 62
# host -> (its Debian architecture, the ELF machine of its programs)
BUILDS = {"lab-bookworm": ("amd64", EM_X86_64), HOST: ("arm64", EM_AARCH64)}
PROGRAM = "/opt/groundwork/bundles/busybox-httpd/current/bin/busybox"


def elf_machine(data):
    assert data[:4] == b"\x7fELF", "not an ELF file"
    return struct.unpack("<H", data[18:20])[0]


def host_file(host, path):
    """The bytes of PATH on HOST (read with cat: no tool on the host decides anything)."""
    return subprocess.run(["docker", "exec", host, "cat", path], stdout=subprocess.PIPE, check=True).stdout


def emulated_program(host, pid):
    """The program a process on HOST runs: the kernel's command line starts with the qemu-user
    interpreter binfmt_misc gave it (the P flag keeps the program's own argv[0] after the program)."""
    argv = run("docker", "exec", host, "sh", "-c", "tr '\\0' '\\n' </proc/%s/cmdline" % pid).stdout.splitlines()
    assert argv and argv[0].endswith("/qemu-binfmt/aarch64-binfmt-P"), "pid %s on %s is not run by qemu-aarch64: %r" % (
        pid, host, argv)
    return argv[1]


def busybox_httpd_artifacts():
    """{arch: artifact} of busybox-httpd in the demo's signed manifest."""
    manifest = yaml.safe_load((DEMO / "www" / "demo" / "manifest.yaml").read_text())
    (component,) = [c for c in manifest["components"] if c["name"] == "busybox-httpd"]
    return manifest, dict((a["arch"], a) for a in component["artifacts"])


def test_ansible_sees_an_aarch64_host_beside_the_amd64_ones():
    proc = run(str(BIN / "ansible"), "-i", "inventories/lab", "%s:lab-bookworm" % HOST, "-m", "ansible.builtin.setup",
               "-a", "filter=ansible_architecture", "-o", env=ansible_env())
    lines = dict(line.split(" | ", 1) for line in proc.stdout.splitlines() if " | " in line)
    assert '"ansible_architecture": "aarch64"' in lines[HOST], proc.stdout
    assert '"ansible_architecture": "x86_64"' in lines["lab-bookworm"], proc.stdout


def test_one_signed_release_carries_an_amd64_and_an_arm64_build():
    manifest, artifacts = busybox_httpd_artifacts()
    assert manifest["format"] == 2
    assert (DEMO / "www" / "demo" / "manifest.yaml.minisig").is_file()
    assert sorted(artifacts) == ["amd64", "arm64"]
    for arch, machine in BUILDS.values():
        data = (DEMO / "www" / "demo" / artifacts[arch]["url"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == artifacts[arch]["sha256"]
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            member = [m for m in tar.getmembers() if m.name.endswith("bin/busybox")][0]
            assert elf_machine(tar.extractfile(member).read(20)) == machine, "the %s artifact holds another build" % arch


@pytest.mark.parametrize("host", sorted(BUILDS))
def test_each_host_runs_the_build_of_its_own_architecture_and_it_answers(host):
    arch, machine = BUILDS[host]
    staged = (DEMO / "stage" / "busybox-httpd" / arch / "bin" / "busybox").read_bytes()
    deployed = host_file(host, PROGRAM)
    assert elf_machine(deployed) == machine
    assert hashlib.sha256(deployed).hexdigest() == hashlib.sha256(staged).hexdigest(), (
        "%s runs another busybox than the staged %s build" % (host, arch))
    answer = http_get(host, 8082)
    assert answer.startswith("busybox-httpd: Debian busybox-static ") and answer.rstrip().endswith(", %s build" % arch), answer
    pid = run("docker", "exec", host, "systemctl", "show", "-p", "MainPID", "--value", "busybox-httpd.service").stdout.strip()
    assert pid not in ("", "0"), "busybox-httpd has no main process on %s" % host
    if machine == EM_AARCH64:
        assert emulated_program(host, pid).startswith("/opt/groundwork/bundles/busybox-httpd/")
    else:
        # The command line, not /proc/PID/exe: readlink of another process's exe needs
        # CAP_SYS_PTRACE, which `docker exec` does not have in the lab's containers.
        argv = run("docker", "exec", host, "sh", "-c", "tr '\\0' '\\n' </proc/%s/cmdline" % pid).stdout.splitlines()
        assert argv and argv[0].startswith("/opt/groundwork/bundles/busybox-httpd/"), argv
