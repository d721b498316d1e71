# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end: one signed release with amd64 and arm64 builds, delivered with the real ansible-playbook.

The release is built by groundwork.infra.bundle_build from per-architecture inputs, served by
the real HTTP server on 127.0.0.1 and delivered by groundwork.infra.bundle_fetch to
destinations on localhost: as an arm64 host (the architecture option), as this machine's own
architecture from its gathered facts and from what the host reports without facts, and as an
armhf host, which the release does not carry and which is refused with nothing written.

The amd64 build is this machine's real /bin/true. The arm64 build is a stand-in: an ELF header
for aarch64 followed by text, enough for bundle_build to tell it is an arm64 file; nothing runs it.
"""

from __future__ import annotations

import hashlib
import platform
import shutil
import struct
import subprocess

import pytest

from test_bundle_playbooks import MINISIGN, failed_with, succeeded


def sha256_file(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def release(tmp_path, bundle_server):
    if platform.machine() != "x86_64":
        pytest.fail("this test uses /bin/true as the amd64 build and expects an x86_64 machine, not %s" % platform.machine())
    src = tmp_path / "src"
    for arch in ("amd64", "arm64"):
        (src / arch).mkdir(parents=True)
    shutil.copy("/bin/true", src / "amd64" / "hello")
    # Stand-in arm64 build: a 64-bit little-endian ELF header for EM_AARCH64 (183), then text.
    (src / "arm64" / "hello").write_bytes(b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) + struct.pack("<HH", 2, 183)
                                          + b"stand-in arm64 build of hello\n")
    (src / "common").mkdir()
    (src / "common" / "hello.conf").write_text("greeting = hello\n")
    return {"src": src, "dir": bundle_server.root / tmp_path.name / "mixed", "url": None}


def test_one_release_gives_each_host_its_architecture(tmp_path, release, bundle_server, minisign_keys, playbook_runner):
    src, site = release["src"], release["dir"]
    url = bundle_server.url_for(site / "manifest.yaml")
    key = minisign_keys["a"]
    run = playbook_runner(tmp_path / "ansible")

    def fetch(name, dest, **options):
        args = dict({"manifest": url, "trusted_keys": [key["pub"]], "dest": str(tmp_path / dest),
                     "cache_dir": str(tmp_path / "cache"), "retries": 0, "timeout": 10}, **options)
        return {"name": name, "groundwork.infra.bundle_fetch": args, "ignore_errors": True}

    build = {"name": "build", "groundwork.infra.bundle_build": {
        "dest": str(site), "release": "2026.12.0", "valid_days": 10, "signing_key": key["key"],
        "components": [{"name": "hello", "version": "1.0.0", "kind": "systemd", "files": [str(src / "common" / "hello.conf")],
                        "per_arch": {"amd64": {"files": [str(src / "amd64" / "hello")]},
                                     "arm64": {"files": [str(src / "arm64" / "hello")]}}}]}}
    plays = [
        {"hosts": "localhost", "gather_facts": True, "gather_subset": ["!all"], "tasks": [
            build,
            fetch("as arm64", "arm64", architecture="arm64"),
            fetch("from facts", "facts"),
            fetch("as armhf", "armhf", architecture="armhf"),
            {"name": "info arm64", "ignore_errors": True, "groundwork.infra.bundle_info": {
                "manifest": url, "trusted_keys": [key["pub"]], "dest": str(tmp_path / "arm64"), "architecture": "arm64"}},
            {"name": "info facts", "ignore_errors": True, "groundwork.infra.bundle_info": {
                "manifest": url, "trusted_keys": [key["pub"]], "dest": str(tmp_path / "arm64")}},
            {"name": "info armhf", "ignore_errors": True, "groundwork.infra.bundle_info": {
                "manifest": url, "trusted_keys": [key["pub"]], "architecture": "armhf"}},
        ]},
        {"hosts": "localhost", "gather_facts": False, "tasks": [fetch("reported by the host", "reported")]},
    ]
    result = run(plays=plays, name="arch")
    built = succeeded(result["build"])
    assert built["format"] == 2
    assert (site / "manifest.yaml").read_text().startswith("# content-sha256: ")
    # The real minisign accepts the signature over the manifest that carries the labels.
    subprocess.run([MINISIGN, "-V", "-p", key["pub"], "-m", str(site / "manifest.yaml")], check=True, capture_output=True,
                   stdin=subprocess.DEVNULL, timeout=60)

    arm64 = succeeded(result["as arm64"])
    assert arm64["architecture"] == "arm64"
    assert [(c["name"], c["architecture"], c["action"]) for c in arm64["components"]] == [("hello", "arm64", "install")]
    installed = tmp_path / "arm64" / "hello" / "current"
    assert sha256_file(installed / "hello") == sha256_file(src / "arm64" / "hello")
    assert (installed / "hello.conf").read_text() == "greeting = hello\n"

    for task, dest in (("from facts", "facts"), ("reported by the host", "reported")):
        native = succeeded(result[task])
        assert native["architecture"] == "amd64", task
        assert sha256_file(tmp_path / dest / "hello" / "current" / "hello") == sha256_file(src / "amd64" / "hello"), task
    # The amd64 build is the real program, and it runs here (placed files are 0644, so through the loader).
    placed = tmp_path / "facts" / "hello" / "current" / "hello"
    assert placed.stat().st_mode & 0o777 == 0o644
    assert subprocess.run(["/lib64/ld-linux-x86-64.so.2", str(placed)], check=False, timeout=30).returncode == 0

    refused = failed_with(result["as armhf"], "compatibility")
    assert refused["problems"] == ["hello 1.0.0 has no build for it (it is built for amd64, arm64), but the host is armhf "
                                   "(the architecture option); release 2026.12.0 carries amd64, arm64"]
    assert not (tmp_path / "armhf").exists()

    info = succeeded(result["info arm64"])
    assert info["architecture"] == "arm64" and info["compatible"] is True
    assert info["release"]["format"] == 2 and info["release"]["architectures"] == ["amd64", "arm64"]
    assert info["installed"]["hello"]["architecture"] == "arm64"
    assert info["components"][0]["architectures"] == ["amd64", "arm64"]
    assert [u["action"] for u in info["upgrade"]] == ["none"]
    # Judged as what this machine is (its facts), the arm64 build there is not the one it would get.
    native = succeeded(result["info facts"])
    assert native["architecture"] == "amd64"
    assert native["architecture_source"] == "amd64 (ansible_architecture x86_64)"
    assert [(u["action"], u["architecture"]) for u in native["upgrade"]] == [("install", "amd64")]
    not_carried = succeeded(result["info armhf"])
    assert not_carried["compatible"] is False and "release 2026.12.0 carries amd64, arm64" in not_carried["problems"][0]
