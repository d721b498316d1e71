# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end: real ansible-playbook runs against a real HTTP server on 127.0.0.1.

Releases are built with groundwork.infra.bundle_build and signed with keys made by the
real ``minisign -G -W``; groundwork.infra.bundle_fetch and bundle_info deliver and
inspect them on localhost (local connection, destinations under tmp_path). "Threat N"
refers to row N of the bundle threat list (bundle-threats.md).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import random
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
import yaml


MINISIGN = shutil.which("minisign") or "/usr/bin/minisign"
KEY_ID_RE = re.compile(r"^[0-9A-F]{16}$")

# Snapshot of a directory tree, run as a task on the host so a play can compare states between tasks.
SNAPSHOT_SCRIPT = r'''
import hashlib, json, os, sys
root = sys.argv[1]
out = {}
if os.path.lexists(root):
    for base, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(dirs + files):
            path = os.path.join(base, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            if os.path.islink(path):
                out[rel] = ["link", os.readlink(path)]
            elif os.path.isdir(path):
                out[rel] = ["dir", oct(st.st_mode & 0o7777)]
            else:
                with open(path, "rb") as handle:
                    out[rel] = ["file", oct(st.st_mode & 0o7777), hashlib.sha256(handle.read()).hexdigest()]
print(json.dumps(out, sort_keys=True))
'''


def snapshot(root):
    """SNAPSHOT_SCRIPT run from the test: {relative path: [type, mode, sha256 or link target]}."""
    proc = subprocess.run([sys.executable, "-c", SNAPSHOT_SCRIPT, str(root)], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def sha256_file(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _payload(seed, size):
    return random.Random(seed).randbytes(size)


# --------------------------------------------------------------------------- release sources


def make_sources(base):
    """Component sources: app (a directory -> archive) in several versions, tool (a plain file)."""
    src = {}
    for version in ("0.9.0", "1.0.0", "1.1.0", "1.2.0", "2.0.0"):
        root = base / ("app-%s" % version)
        (root / "bin").mkdir(parents=True)
        (root / "etc").mkdir()
        (root / "share").mkdir()
        (root / "bin" / "run.sh").write_text("#!/bin/sh\necho app %s\n" % version)
        (root / "bin" / "run.sh").chmod(0o755)
        (root / "etc" / "app.conf").write_text("version = %s\n" % version)
        (root / "share" / "data.bin").write_bytes(_payload("app-" + version, 96 * 1024))
        src["app-" + version] = root
    for version in ("1.0.0", "2.0.0"):
        root = base / ("tool-%s" % version)
        root.mkdir()
        (root / "tool").write_bytes(_payload("tool-" + version, 160 * 1024))
        src["tool-" + version] = root / "tool"
    return src


def app(src, version, requires=None):
    return {"name": "app", "version": version, "kind": "files", "src": str(src["app-" + version]),
            "requires": requires or {}}


def tool(src, version, requires=None):
    return {"name": "tool", "version": version, "kind": "files", "files": [str(src["tool-" + version])],
            "requires": requires or {}}


TOOL_1 = {"components": {"tool": ">=1.0,<2"}}


def release_specs(src, keys):
    """Every release the tests deliver, built once per session: key -> bundle_build arguments."""
    a, b = keys["a"]["key"], keys["b"]["key"]
    return {
        "r1": dict(release="2026.1.0", signing_key=a, valid_days=30,
                   components=[app(src, "1.0.0", TOOL_1), tool(src, "1.0.0")]),
        "r2": dict(release="2026.2.0", signing_key=a, valid_days=30,
                   components=[app(src, "1.1.0", TOOL_1), tool(src, "1.0.0")]),
        "old": dict(release="2025.12.0", signing_key=a, valid_days=30,
                    components=[app(src, "0.9.0", TOOL_1), tool(src, "1.0.0")]),
        "expired": dict(release="2026.4.0", signing_key=a, issued="2020-01-01T00:00:00Z", expires="2020-03-01T00:00:00Z",
                        components=[app(src, "1.1.0", TOOL_1), tool(src, "1.0.0")]),
        "unsigned": dict(release="2026.1.0", valid_days=30, components=[app(src, "1.0.0", TOOL_1), tool(src, "1.0.0")]),
        "keyb": dict(release="2026.2.0", signing_key=b, valid_days=30,
                     components=[app(src, "1.1.0", TOOL_1), tool(src, "1.0.0")]),
        # app 2.0.0 needs a Docker Engine the host lacks, a Python no host has, and a tool the release does not ship.
        "incompat": dict(release="2026.5.0", signing_key=a, valid_days=30,
                         components=[app(src, "2.0.0", {"components": {"tool": ">=2.0"},
                                                        "host": {"docker_engine": ">=24.0", "python": "<3"}}),
                                     tool(src, "1.0.0")]),
        # tool 2.0.0 with an app that accepts it; the installed app 1.0.0 (from r1) does not.
        "tool2": dict(release="2026.6.0", signing_key=a, valid_days=30,
                      components=[app(src, "1.2.0", {"components": {"tool": ">=2,<3"}}), tool(src, "2.0.0")]),
    }


class Lab:
    """What a test needs: the server, the keys, the built releases, a playbook runner and a scratch dir."""

    def __init__(self, server, keys, releases, runner_class, tmp_path):
        self.server = server
        self.keys = keys
        self.releases = releases  # key -> {"dir": Path, "result": bundle_build result}
        self.tmp = tmp_path
        self.run = runner_class(tmp_path / "ansible")
        self.dest = tmp_path / "dest"
        self.cache = tmp_path / "cache"
        self.snap_script = tmp_path / "snapshot.py"
        self.snap_script.write_text(SNAPSHOT_SCRIPT)

    # -- releases on the server ------------------------------------------------
    def site(self, name):
        """A directory of its own under the server root (request counts per test stay apart)."""
        return self.server.root / self.tmp.name / name

    def publish(self, key, as_name=None, signature=True):
        """Copy a built release to a directory of its own under the server root."""
        target = self.site(as_name or key)
        shutil.copytree(self.releases[key]["dir"], target)
        if not signature:
            (target / "manifest.yaml.minisig").unlink()
        return target

    def url(self, directory):
        return self.server.url_for(Path(directory) / "manifest.yaml")

    def base_url(self, key):
        """URL of a built release as the session built it (shared by tests that download nothing)."""
        return self.url(self.releases[key]["dir"])

    def artifact_requests(self, directory):
        prefix = Path(directory).resolve().relative_to(self.server.root.resolve()).as_posix() + "/artifacts/"
        return self.server.requests(prefix)

    def artifact(self, key, component):
        comp = next(c for c in self.releases[key]["result"]["components"] if c["name"] == component)
        return comp["artifacts"][0]

    def artifact_paths(self, key):
        return ["artifacts/%s/%s/%s" % (c["name"], c["version"], a["name"])
                for c in self.releases[key]["result"]["components"] for a in c["artifacts"]]

    def artifact_bytes(self, key):
        return sum(a["size"] for c in self.releases[key]["result"]["components"] for a in c["artifacts"])

    # -- tasks -------------------------------------------------------------------
    def fetch(self, name, manifest, keys=("a",), dest="default", cache=None, check_mode=None, **options):
        args = {"manifest": manifest, "cache_dir": str(cache or self.cache), "retries": 0, "timeout": 10}
        if dest == "default":
            dest = self.dest
        if dest is not None:
            args["dest"] = str(dest)
        if keys:
            args["trusted_keys"] = [self.keys[k]["pub"] for k in keys]
        args.update(options)
        task = {"name": name, "groundwork.infra.bundle_fetch": args, "ignore_errors": True}
        if check_mode is not None:
            task["check_mode"] = check_mode
        return task

    def info(self, name, manifest=None, keys=("a",), dest=None, **options):
        args = dict(options)
        if manifest:
            args["manifest"] = manifest
            if keys:
                args["trusted_keys"] = [self.keys[k]["pub"] for k in keys]
        if dest:
            args["dest"] = str(dest)
        return {"name": name, "groundwork.infra.bundle_info": args, "ignore_errors": True}

    def snapshot_task(self, name, root=None):
        return {"name": name, "changed_when": False,
                "ansible.builtin.command": {"argv": [sys.executable, str(self.snap_script), str(root or self.dest)]}}

    def read_json_task(self, name, path):
        return {"name": name, "ansible.builtin.slurp": {"src": str(path)}}

    def install_r1(self, dest=None):
        """A destination where release r1 is installed (a copy of the one a real delivery made)."""
        dest = Path(dest or self.dest)
        shutil.copytree(self.releases["_r1_dest"], dest, symlinks=True)
        return dest


def failed_with(result, kind):
    assert result.get("failed") is True, "expected a %s failure, got %s" % (kind, json.dumps(result, indent=1)[:3000])
    error = result.get("error") or {}
    assert error.get("kind") == kind, "expected error kind %s, got %s: %s" % (kind, error.get("kind"), result.get("msg"))
    return error


def succeeded(result):
    assert not result.get("failed"), "task failed: %s" % json.dumps(result, indent=1)[:4000]
    return result


def slurped_json(result):
    return json.loads(base64.b64decode(succeeded(result)["content"]))


def payload_only(snap):
    """A snapshot without the install records (they hold install times)."""
    return {k: v for k, v in snap.items() if not k.startswith(".groundwork/records/")}


@pytest.fixture(scope="session")
def built(tmp_path_factory, bundle_server, minisign_keys, session_runner):
    """Build every release once (one playbook run), then deliver r1 once to make a destination template."""
    src = make_sources(tmp_path_factory.mktemp("src"))
    specs = release_specs(src, minisign_keys)
    base = bundle_server.root / "base"
    tasks = [{"name": "build %s" % key, "groundwork.infra.bundle_build": dict(spec, dest=str(base / key))}
             for key, spec in specs.items()]
    template = tmp_path_factory.mktemp("r1-template") / "dest"
    tasks.append({"name": "deliver r1", "groundwork.infra.bundle_fetch": {
        "manifest": bundle_server.url_for(base / "r1" / "manifest.yaml"), "dest": str(template),
        "cache_dir": str(template.parent / "cache"), "trusted_keys": [minisign_keys["a"]["pub"]]}})
    run = session_runner(tasks, name="build-releases")
    assert run.rc == 0, run.explain()
    releases = {key: {"dir": base / key, "result": run["build %s" % key]} for key in specs}
    assert run["deliver r1"]["changed"] is True
    releases["_r1_dest"] = template
    return {"src": src, "releases": releases}


@pytest.fixture
def lab(built, bundle_server, minisign_keys, playbook_runner, tmp_path):
    return Lab(bundle_server, minisign_keys, built["releases"], playbook_runner, tmp_path)


# =========================================================================== refusals
#
# Every refusal below must leave the host exactly as it was. They share one playbook run
# (ansible-playbook start-up dominates their cost) against one destination running r1;
# each test checks its own task and that nothing on the host changed.


def _tampered_manifest_site(lab):
    """r2 with the tool swapped for other bytes and the manifest's checksum and size updated, old signature kept."""
    site = lab.publish("r2", as_name="tampered-manifest")
    art = site / "artifacts" / "tool" / "1.0.0" / "tool"
    old_sha, old_size = sha256_file(art), art.stat().st_size
    evil = _payload("evil", 4096)
    art.write_bytes(evil)
    text = (site / "manifest.yaml").read_text()
    assert old_sha in text and "size: %d" % old_size in text
    text = text.replace(old_sha, hashlib.sha256(evil).hexdigest()).replace("size: %d" % old_size, "size: %d" % len(evil))
    (site / "manifest.yaml").write_text(text)
    return site


def _tampered_artifact_site(lab, name, change):
    site = lab.publish("r2", as_name=name)
    archive = site / "artifacts" / "app" / "1.1.0" / "app-1.1.0.tar.gz"
    archive.write_bytes(change(archive.read_bytes()))
    return site


def _flip_middle_byte(data):
    data = bytearray(data)
    data[len(data) // 2] ^= 0xFF
    return bytes(data)


def _escape_site(lab):
    """A manifest naming a component '../../etc' (its artifact is real), signed by the trusted key."""
    tool_path = lab.releases["r1"]["dir"] / "artifacts/tool/1.0.0/tool"
    site = lab.site("escape")
    (site / "artifacts").mkdir(parents=True)
    shutil.copy(tool_path, site / "artifacts" / "tool")
    manifest = {
        "format": 1, "release": "2026.7.0", "issued": "2026-01-01T00:00:00Z",
        "components": [{"name": "../../etc", "version": "1.0.0", "kind": "files", "artifacts": [
            {"name": "tool", "url": "artifacts/tool", "sha256": sha256_file(tool_path),
             "size": tool_path.stat().st_size, "unpack": False}]}],
    }
    (site / "manifest.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    subprocess.run([MINISIGN, "-S", "-s", lab.keys["a"]["key"], "-m", str(site / "manifest.yaml")],
                   check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
    return site


def _evil_archive_site(lab):
    """A signed release whose archive matches its digest but holds a member that climbs out ('../')."""
    site = lab.site("evil-archive")
    art_dir = site / "artifacts"
    art_dir.mkdir(parents=True)
    archive = art_dir / "evil-1.5.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, body in (("ok.txt", b"fine\n"), ("../../escaped.txt", b"gotcha\n")):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    manifest = {
        "format": 1, "release": "2026.8.0", "issued": "2026-01-01T00:00:00Z",
        "components": [{"name": "app", "version": "1.5.0", "kind": "files", "artifacts": [
            {"name": archive.name, "url": "artifacts/" + archive.name, "sha256": sha256_file(archive),
             "size": archive.stat().st_size}]}],
    }
    (site / "manifest.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    subprocess.run([MINISIGN, "-S", "-s", lab.keys["a"]["key"], "-m", str(site / "manifest.yaml")],
                   check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
    return site


def _signed_site(lab, name, manifest):
    site = lab.site(name)
    site.mkdir(parents=True, exist_ok=True)
    (site / "manifest.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    subprocess.run([MINISIGN, "-S", "-s", lab.keys["a"]["key"], "-m", str(site / "manifest.yaml")],
                   check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
    return site


def _controller_file_site(lab):
    """Threat 23: a signed manifest served over HTTP that names a file of the controller (file://)
    with its true digest, so the controller would ship it to the host."""
    secret = lab.tmp / "controller-secret.txt"
    secret.write_bytes(b"controller-only secret\n")
    return _signed_site(lab, "controller-file", {
        "format": 1, "release": "2026.9.0", "issued": "2026-01-01T00:00:00Z",
        "components": [{"name": "app", "version": "1.6.0", "kind": "files", "artifacts": [
            {"name": "secret.txt", "url": secret.as_uri(), "sha256": sha256_file(secret),
             "size": secret.stat().st_size, "unpack": False}]}],
    })


def _split_links_site(lab):
    """Threat 19: two archives of one component, each safe alone; together x/p points at /etc."""
    site = lab.site("split-links")
    (site / "artifacts").mkdir(parents=True)
    up = 12
    members = {"a.tar.xz": [("x", None), ("x/p", "../" + "q/" * up + "../" * up + "etc")], "b.tar.gz": [("q", ".")]}
    artifacts = []
    for name, entries in members.items():
        path = site / "artifacts" / name
        with tarfile.open(path, "w:xz" if name.endswith("xz") else "w:gz") as tar:
            for member, link in entries:
                info = tarfile.TarInfo(member)
                if link is None:
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                else:
                    info.type, info.linkname = tarfile.SYMTYPE, link
                tar.addfile(info)
        artifacts.append({"name": name, "url": "artifacts/" + name, "sha256": sha256_file(path), "size": path.stat().st_size})
    return _signed_site(lab, "split-links", {
        "format": 1, "release": "2026.9.1", "issued": "2026-01-01T00:00:00Z",
        "components": [{"name": "app", "version": "1.7.0", "kind": "files", "artifacts": artifacts}],
    })


@pytest.fixture(scope="module")
def refusals(built, bundle_server, minisign_keys, playbook_runner, tmp_path_factory):
    lab = Lab(bundle_server, minisign_keys, built["releases"], playbook_runner, tmp_path_factory.mktemp("refusals"))
    lab.install_r1()
    sites = {
        "tampered-manifest": _tampered_manifest_site(lab),
        "stripped": lab.publish("r2", as_name="stripped", signature=False),
        "incompat": lab.publish("incompat"),
        "tool2": lab.publish("tool2"),
        "tampered-artifact": _tampered_artifact_site(lab, "tampered-artifact", _flip_middle_byte),
        "larger": _tampered_artifact_site(lab, "larger", lambda data: data + b"\0" * 1024),
        "truncated": _tampered_artifact_site(lab, "truncated", lambda data: data[:-1000]),
        "endless": lab.publish("r2", as_name="endless"),
        "huge": lab.site("huge"),
        "escape": _escape_site(lab),
        "evil-archive": _evil_archive_site(lab),
        "controller-file": _controller_file_site(lab),
        "split-links": _split_links_site(lab),
    }
    lab.server.stream_endless("/%s/endless/artifacts/app/1.1.0/app-1.1.0.tar.gz" % lab.tmp.name)
    sites["huge"].mkdir(parents=True)
    (sites["huge"] / "manifest.yaml").write_text("format: [[[ not yaml\n" * 400)  # 8.4 KB that no YAML parser accepts
    wrong = lab.tmp / "delivered-by-hand.tar.gz"
    wrong.write_bytes(_payload("not the archive", 2048))
    app2 = lab.artifact("r2", "app")
    escape_dest = lab.tmp / "deep" / "er" / "dest"
    before = snapshot(lab.dest)
    tasks = [
        lab.fetch("tampered manifest", lab.url(sites["tampered-manifest"])),
        lab.fetch("tampered manifest, no keys, check mode", lab.url(sites["tampered-manifest"]), keys=(), dest=None,
                  check_mode=True),
        lab.fetch("stripped signature", lab.url(sites["stripped"])),
        lab.fetch("other key", lab.base_url("keyb")),
        lab.fetch("downgrade", lab.base_url("old")),
        lab.fetch("expired", lab.base_url("expired")),
        lab.fetch("incompatible", lab.url(sites["incompat"]), host_capabilities={"docker_engine": "20.10.24+dfsg1"}),
        lab.fetch("tool 2 alone", lab.url(sites["tool2"]), components=["tool"]),
        lab.fetch("tampered artifact", lab.url(sites["tampered-artifact"])),
        lab.fetch("larger artifact", lab.url(sites["larger"])),
        lab.fetch("truncated artifact", lab.url(sites["truncated"])),
        lab.fetch("endless artifact", lab.url(sites["endless"])),
        lab.fetch("huge manifest", lab.url(sites["huge"]), keys=(), max_manifest_size=4096),
        lab.fetch("garbage manifest within the cap", lab.url(sites["huge"]), keys=(), max_manifest_size=65536),
        lab.fetch("real manifest over a small cap", lab.base_url("r1"), max_manifest_size=256),
        lab.fetch("escape, signed", lab.url(sites["escape"]), dest=escape_dest),
        lab.fetch("escape, unsigned", lab.url(sites["escape"]), dest=escape_dest, keys=()),
        lab.fetch("evil archive", lab.url(sites["evil-archive"])),
        lab.fetch("controller file", lab.url(sites["controller-file"])),
        lab.fetch("split links", lab.url(sites["split-links"])),
        {"name": "host-side check", "ignore_errors": True, "groundwork.infra.bundle_install": {
            "dest": str(lab.dest), "release": "2026.2.0",
            "components": [{"name": "app", "version": "1.1.0", "artifacts": [
                {"name": app2["name"], "src": str(wrong), "sha256": app2["sha256"], "size": 2048, "unpack": True}]}]}},
    ]
    run = lab.run(plays=[{"hosts": "localhost", "gather_facts": True, "gather_subset": ["min"], "tasks": tasks}])
    return {"lab": lab, "run": run, "sites": sites, "before": before, "after": snapshot(lab.dest),
            "escape_dest": escape_dest}


def _refused(refusals, task, kind, site=None):
    """The task failed with ``kind``, the host is unchanged and (for a site) no artifact was requested."""
    error = failed_with(refusals["run"][task], kind)
    assert refusals["after"] == refusals["before"]
    assert os.readlink(refusals["lab"].dest / "app" / "current") == "1.0.0"
    if site:
        assert refusals["lab"].artifact_requests(refusals["sites"][site]) == {}
    return error


def test_row23_remote_manifest_naming_a_controller_file_refused(refusals):
    """Threat 23 through a playbook: a signed manifest from the HTTP server names a controller file
    (file://) with its true digest. Refused as a manifest error before anything is read; nothing of
    the file (digest, size, content) in the message; the host unchanged."""
    error = _refused(refusals, "controller file", "manifest", site="controller-file")
    assert "is a controller file, but the manifest was not read from one" in error["reason"]
    secret = refusals["lab"].tmp / "controller-secret.txt"
    assert sha256_file(secret) not in json.dumps(refusals["run"]["controller file"])


def test_row19_archives_that_escape_together_refused(refusals):
    """Threat 19 through a playbook: two archives of one component (xz and gz), each safe alone, whose
    links together lead to /etc. An archive error naming the link; nothing installed, current kept."""
    error = _refused(refusals, "split links", "archive")
    assert "unsafe symlink 'x/p'" in error["reason"] and "unpacked side by side" in error["reason"]
    assert error["component"] == "app" and error["file"] == "b.tar.gz"


def test_tampered_manifest_with_old_signature_refused(refusals):
    """Threat 2: checksums swapped beside the artifact, old signature kept -> refused, nothing changes."""
    error = _refused(refusals, "tampered manifest", "signature", site="tampered-manifest")
    assert "does not match the manifest" in error["reason"]
    assert error["file"].endswith("/tampered-manifest/manifest.yaml.minisig")
    # The same bytes are a well-formed manifest: only the signature check stopped them.
    res = succeeded(refusals["run"]["tampered manifest, no keys, check mode"])
    assert res["verified"]["signed"] is False and res["release"] == "2026.2.0"


def test_stripped_signature_refused(refusals):
    """Threat 3: an unsigned manifest where a key is configured is refused."""
    error = _refused(refusals, "stripped signature", "signature", site="stripped")
    assert "trusted_keys are configured" in error["reason"] and "unsigned" in error["reason"]
    assert error["file"].endswith("/stripped/manifest.yaml.minisig")


def test_signature_by_other_key_refused(refusals):
    """A release validly signed by an untrusted key is refused, naming both key ids."""
    error = _refused(refusals, "other key", "signature")
    keys = refusals["lab"].keys
    assert keys["b"]["key_id"] != keys["a"]["key_id"]
    assert "made by key %s" % keys["b"]["key_id"] in error["reason"]
    assert keys["a"]["key_id"] in error["reason"]


def test_downgrade_refused(refusals):
    """Threat 4: an older, validly signed release is refused, naming both releases."""
    error = _refused(refusals, "downgrade", "rollback")
    assert "release 2025.12.0 is lower than release 2026.1.0" in error["reason"]
    assert "allow_downgrade" in error["reason"]


def test_expired_manifest_refused(refusals):
    """Threat 5: a manifest past its expiry is refused."""
    error = _refused(refusals, "expired", "manifest")
    assert "expired at 2020-03-01T00:00:00Z" in error["reason"] and "allow_expired" in error["reason"]


def test_incompatible_release_reports_every_problem(refusals):
    """Threats 6 and 16: every unmet requirement at once (capabilities given, facts, components)."""
    error = _refused(refusals, "incompatible", "compatibility", site="incompat")
    problems = error["problems"]
    assert len(problems) == 3, problems
    assert "app 2.0.0 requires host docker_engine >=24.0, but the host has 20.10.24+dfsg1" in problems
    assert "app 2.0.0 requires tool >=2.0, but tool 1.0.0 would be installed" in problems
    python = "%d.%d.%d" % sys.version_info[:3]  # gathered facts of localhost, where the test's Python runs
    assert "app 2.0.0 requires host python <3, but the host has %s" % python in problems
    assert "3 unmet requirement(s)" in refusals["run"]["incompatible"]["msg"]


def test_installed_component_constrains_upgrade(refusals):
    """The installed app 1.0.0 (tool >=1.0,<2) forbids upgrading tool alone to 2.0.0."""
    error = _refused(refusals, "tool 2 alone", "compatibility", site="tool2")
    assert error["problems"] == ["app 1.0.0 requires tool >=1.0,<2, but tool 2.0.0 would be installed"]


def test_tampered_artifact_refused(refusals):
    """Threat 1: same size, different bytes on the server -> integrity error naming component and file."""
    error = _refused(refusals, "tampered artifact", "integrity")
    digest = refusals["lab"].artifact("r2", "app")["sha256"]
    assert error["component"] == "app" and error["file"] == "app-1.1.0.tar.gz"
    assert "sha256 mismatch" in error["reason"] and digest in error["reason"]
    assert "component 'app', file 'app-1.1.0.tar.gz'" in refusals["run"]["tampered artifact"]["msg"]
    lab = refusals["lab"]
    assert not (lab.dest / "app" / "1.1.0").exists()
    cached = lab.cache / "sha256" / digest[:2]
    assert not (cached / digest).exists() and not (cached / (digest + ".part")).exists()


def test_host_side_check_refuses_wrong_artifact(refusals):
    """Threat 1, second layer: bundle_install checks size and digest on the host before anything moves."""
    error = _refused(refusals, "host-side check", "integrity")
    assert error["component"] == "app" and error["file"] == "app-1.1.0.tar.gz"
    assert not (refusals["lab"].dest / "app" / "1.1.0").exists()


def test_oversized_truncated_and_endless_artifacts(refusals):
    """Threats 7 and 8: more bytes than declared, fewer, or a body without end -> download error."""
    lab = refusals["lab"]
    art = lab.artifact("r2", "app")
    size, digest = art["size"], art["sha256"]
    for task, words in (
            # the server announces the larger size: refused before reading the body
            ("larger artifact", "larger than the declared %d bytes (Content-Length %d, %d expected)" % (
                size, size + 1024, size)),
            ("truncated artifact", "truncated: got %d of %d bytes" % (size - 1000, size)),
            # no Content-Length and no end: reading stops one byte past the declared size
            ("endless artifact", "response larger than the declared %d bytes" % size)):
        error = _refused(refusals, task, "download")
        assert error["component"] == "app" and error["file"] == "app-1.1.0.tar.gz", task
        assert words in error["reason"], (task, error["reason"])
    assert "Content-Length" not in refusals["run"]["endless artifact"]["error"]["reason"]
    assert not (lab.cache / "sha256" / digest[:2] / digest).exists()


def test_manifest_size_capped_before_parsing(refusals):
    """Threat 7: a manifest over max_manifest_size is refused while reading, before any parser sees it."""
    error = _refused(refusals, "huge manifest", "download")
    assert "larger than the 4096 byte limit" in error["reason"]
    # Within the cap the same bytes reach the parser, which says something else entirely.
    failed_with(refusals["run"]["garbage manifest within the cap"], "manifest")
    error = _refused(refusals, "real manifest over a small cap", "download")
    assert "larger than the 256 byte limit" in error["reason"]


def test_unsafe_archive_refused_on_the_host(refusals):
    """Threat 9: an archive with the right digest but a '../' member is refused as a whole on the host."""
    error = _refused(refusals, "evil archive", "archive")
    assert error["component"] == "app" and error["file"] == "evil-1.5.0.tar.gz"
    assert "../../escaped.txt" in error["reason"]
    assert refusals["run"]["evil archive"]["changed"] is False
    lab = refusals["lab"]
    assert not (lab.dest / "app" / "1.5.0").exists()
    assert not list(lab.tmp.rglob("escaped.txt")) and not (lab.tmp.parent / "escaped.txt").exists()
    assert list((lab.dest / ".groundwork" / "staging").iterdir()) == []
    # it did reach the host: the download and the digest were fine
    assert len(lab.artifact_requests(refusals["sites"]["evil-archive"])) == 1


def test_component_name_escaping_dest_refused(refusals):
    """Threat 11: a component named '../../etc' is refused, even in a validly signed manifest."""
    for task in ("escape, signed", "escape, unsigned"):
        error = _refused(refusals, task, "manifest", site="escape")
        assert "invalid name '../../etc'" in error["reason"]
    assert not refusals["escape_dest"].parent.parent.exists()


# =========================================================================== delivery


def test_deliver_signed_release(lab):
    """Threat 18: a delivery says what it verified; the host gets the documented layout."""
    site = lab.publish("r1")
    # the trusted key as text (what a lookup of the .pub file gives), not a path
    run = lab.run([lab.fetch("deliver", lab.url(site), trusted_keys=[Path(lab.keys["a"]["pub"]).read_text()])])
    res = succeeded(run["deliver"])
    assert res["changed"] is True
    assert res["release"] == "2026.1.0"
    assert {c["name"]: (c["action"], c["version"], c["previous"]) for c in res["components"]} == {
        "app": ("install", "1.0.0", None), "tool": ("install", "1.0.0", None)}

    verified = res["verified"]
    assert verified["release"] == "2026.1.0"
    assert verified["signed"] is True
    assert KEY_ID_RE.match(verified["key_id"]) and verified["key_id"] == lab.keys["a"]["key_id"]
    assert verified["manifest_sha256"] == sha256_file(site / "manifest.yaml")
    assert verified["trusted_comment"] == "release:2026.1.0 manifest-sha256:%s" % verified["manifest_sha256"]
    assert verified["files"] == 4  # app unpacks to bin/run.sh, etc/app.conf, share/data.bin; tool is one file
    assert verified["bytes"] == lab.artifact_bytes("r1") > 0
    assert sorted((a["component"], a["name"], a["digest"]) for a in verified["artifacts"]) == [
        ("app", "app-1.0.0.tar.gz", lab.artifact("r1", "app")["sha256"]),
        ("tool", "tool", lab.artifact("r1", "tool")["sha256"])]
    # A local connection reads the controller cache: the archive is unpacked from the cache file,
    # vouched for by the stamp written when its download was verified; the placed file is a copy,
    # hashed while copied.
    assert sorted((a["name"], a["checked"]) for a in verified["artifacts"]) == [("app-1.0.0.tar.gz", "stamp"), ("tool", "sha256")]
    assert res["downloaded_bytes"] == lab.artifact_bytes("r1")
    assert sorted(lab.artifact_requests(site).values()) == [1, 1]

    dest = lab.dest
    assert os.readlink(dest / "app" / "current") == "1.0.0"
    assert os.readlink(dest / "tool" / "current") == "1.0.0"
    assert (dest / "app" / "current" / "bin" / "run.sh").read_text() == "#!/bin/sh\necho app 1.0.0\n"
    assert stat.S_IMODE(os.stat(dest / "app" / "1.0.0" / "bin" / "run.sh").st_mode) == 0o755
    assert (dest / "app" / "1.0.0" / "share" / "data.bin").read_bytes() == _payload("app-1.0.0", 96 * 1024)
    assert (dest / "tool" / "1.0.0" / "tool").read_bytes() == _payload("tool-1.0.0", 160 * 1024)
    assert stat.S_IMODE(os.stat(dest / "tool" / "1.0.0" / "tool").st_mode) == 0o644
    state = json.loads((dest / ".groundwork" / "state.json").read_text())
    assert state["highest_release"] == "2026.1.0" and state["release"] == "2026.1.0"
    assert json.loads((dest / ".groundwork" / "records" / "app" / "1.0.0.json").read_text())["release"] == "2026.1.0"
    assert list((dest / ".groundwork" / "staging").iterdir()) == []


def test_rerun_downloads_nothing_and_full_verify_repairs(lab):
    """Threat 17 and idempotence: a re-run changes and downloads nothing; verify=full re-hashes and repairs."""
    site = lab.publish("r1")
    conf = lab.dest / "app" / "1.0.0" / "etc" / "app.conf"
    run = lab.run([
        lab.fetch("first", lab.url(site)),
        lab.fetch("second", lab.url(site)),
        lab.snapshot_task("after second"),
        {"name": "damage an installed file", "ansible.builtin.copy": {"dest": str(conf), "content": "version = evil\n"}},
        lab.fetch("fast after damage", lab.url(site)),
        lab.info("inspect after damage", dest=lab.dest, verify="full"),
        lab.fetch("full after damage", lab.url(site), verify="full"),
        lab.fetch("full again", lab.url(site), verify="full"),
    ])
    assert succeeded(run["first"])["changed"] is True
    second = succeeded(run["second"])
    assert second["changed"] is False
    assert second.get("downloaded_bytes", 0) == 0
    assert {c["action"] for c in second["components"]} == {"none"}
    assert second["verified"]["signed"] is True and second["verified"]["files"] == 0
    # fast trusts the install record; full re-hashes, notices the damage and re-delivers from the cache
    assert succeeded(run["fast after damage"])["changed"] is False
    inspected = succeeded(run["inspect after damage"])["installed"]
    assert inspected["app"]["intact"] is False and inspected["tool"]["intact"] is True
    assert any("etc/app.conf" in p for p in inspected["app"]["problems"]), inspected["app"]["problems"]
    full = succeeded(run["full after damage"])
    assert full["changed"] is True
    assert {c["name"]: c["action"] for c in full["components"]} == {"app": "install", "tool": "none"}
    assert full["downloaded_bytes"] == 0 and full["cache_hits"] == 1
    assert [(a["name"], a["checked"]) for a in full["verified"]["artifacts"]] == [("app-1.0.0.tar.gz", "sha256")]  # no stamp trusted
    assert conf.read_text() == "version = 1.0.0\n"
    assert succeeded(run["full again"])["changed"] is False
    # each artifact was requested once over all five deliveries
    assert lab.artifact_requests(site) == {"/%s/r1/%s" % (lab.tmp.name, p): 1 for p in lab.artifact_paths("r1")}
    assert payload_only(snapshot(lab.dest)) == payload_only(json.loads(run["after second"]["stdout"]))


def test_check_and_diff_mode_plan_new_release_and_write_nothing(lab):
    """--check reports the plan for a new release, --diff the versions before and after; nothing is written."""
    lab.install_r1()
    site = lab.publish("r2")
    before = snapshot(lab.dest)
    run = lab.run([lab.fetch("plan r2", lab.url(site))], check=True, diff=True)
    res = succeeded(run["plan r2"])
    assert res["changed"] is True
    assert {c["name"]: (c["previous"], c["version"], c["action"]) for c in res["components"]} == {
        "app": ("1.0.0", "1.1.0", "install"), "tool": ("1.0.0", "1.0.0", "none")}
    diff = res["diff"]
    diff = diff[0] if isinstance(diff, list) else diff
    assert diff["before"] == "app: 1.0.0\ntool: 1.0.0\n"
    assert diff["after"] == "app: 1.1.0\ntool: 1.0.0\n"
    assert "release 2026.1.0" in diff["before_header"] and "release 2026.2.0" in diff["after_header"]
    assert snapshot(lab.dest) == before
    assert lab.artifact_requests(site) == {}
    assert not lab.cache.exists() or not [p for p in lab.cache.rglob("*") if p.is_file()]


def test_bundle_build_idempotent_and_reproducible(lab, built, tmp_path):
    """Same sources give the same archives (another time, another directory); an unchanged rebuild changes nothing."""
    src = built["src"]
    work = tmp_path / "src"
    shutil.copytree(src["app-1.0.0"], work / "app")
    shutil.copy(src["tool-1.0.0"], work / "tool")
    comps = [{"name": "app", "version": "1.0.0", "kind": "files", "src": str(work / "app")},
             {"name": "tool", "version": "1.0.0", "kind": "files", "files": [str(work / "tool")]}]
    key = lab.keys["a"]
    archive = "artifacts/app/1.0.0/app-1.0.0.tar.gz"

    def build(name, dest):
        return {"name": name, "groundwork.infra.bundle_build": {
            "dest": str(dest), "release": "2026.9.0", "valid_days": 10, "signing_key": key["key"], "components": comps}}

    started = time.time()
    first = succeeded(lab.run([build("first", tmp_path / "out1")])["first"])
    manifest1 = (tmp_path / "out1" / "manifest.yaml").read_bytes()
    signature1 = (tmp_path / "out1" / "manifest.yaml.minisig").read_bytes()
    digest1 = sha256_file(tmp_path / "out1" / archive)
    assert first["changed"] is True and first["key_id"] == key["key_id"]
    assert first["components"][0]["artifacts"][0]["sha256"] == digest1

    # Later, with every source touched and made group-writable: archives must not change.
    time.sleep(max(0.0, 1.1 - (time.time() - started)))
    later = time.time() + 3600
    for path in (work / "app").rglob("*"):
        os.utime(path, (later, later))
        if path.is_file():
            path.chmod(path.stat().st_mode | 0o020)
    run = lab.run([
        build("again", tmp_path / "out1"),
        build("elsewhere", tmp_path / "out2"),
        {"name": "change a source",
         "ansible.builtin.copy": {"dest": str(work / "app" / "etc" / "app.conf"), "content": "version = changed\n"}},
        build("changed", tmp_path / "out3"),
    ])
    again = succeeded(run["again"])
    assert again["changed"] is False
    assert again["issued"] == first["issued"] and again["components"] == first["components"]
    assert (tmp_path / "out1" / "manifest.yaml").read_bytes() == manifest1
    assert (tmp_path / "out1" / "manifest.yaml.minisig").read_bytes() == signature1
    elsewhere = succeeded(run["elsewhere"])
    assert elsewhere["issued"] != first["issued"]  # built at another time ...
    assert elsewhere["components"] == first["components"]  # ... from the same sources: same digests
    assert sha256_file(tmp_path / "out2" / archive) == digest1
    assert sha256_file(tmp_path / "out2" / "artifacts/tool/1.0.0/tool") == sha256_file(src["tool-1.0.0"])
    changed = succeeded(run["changed"])  # the digests do follow the content
    assert changed["components"][0]["artifacts"][0]["sha256"] == sha256_file(tmp_path / "out3" / archive) != digest1
    # the real minisign accepts what bundle_build signed
    for out in ("out1", "out2", "out3"):
        proc = subprocess.run([MINISIGN, "-V", "-p", key["pub"], "-m", str(tmp_path / out / "manifest.yaml")],
                              capture_output=True, text=True, check=False, timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr


# =========================================================================== explicit overrides
#
# Each override gets a destination of its own; one playbook run serves them all.


@pytest.fixture(scope="module")
def overrides(built, bundle_server, minisign_keys, playbook_runner, tmp_path_factory):
    lab = Lab(bundle_server, minisign_keys, built["releases"], playbook_runner, tmp_path_factory.mktemp("overrides"))
    dests = {name: lab.tmp / name for name in ("downgrade", "expired", "constraint", "unsigned")}
    for name in ("downgrade", "expired", "constraint"):
        lab.install_r1(dests[name])
    unsigned = lab.publish("unsigned")
    old = lab.base_url("old")
    run = lab.run([
        lab.fetch("allowed downgrade", old, dest=dests["downgrade"], allow_downgrade=True),
        lab.read_json_task("state after downgrade", dests["downgrade"] / ".groundwork" / "state.json"),
        lab.fetch("downgrade again without allow", old, dest=dests["downgrade"]),
        lab.fetch("back up to r1", lab.base_url("r1"), dest=dests["downgrade"]),
        lab.fetch("allow expired", lab.base_url("expired"), dest=dests["expired"], allow_expired=True),
        lab.fetch("tool 2 with its app", lab.base_url("tool2"), dest=dests["constraint"]),
        lab.fetch("unsigned without keys", lab.url(unsigned), dest=dests["unsigned"], keys=()),
    ])
    return {"lab": lab, "run": run, "dests": dests}


def test_downgrade_allowed_keeps_highest_release(overrides):
    """Threat 4: allow_downgrade installs the older release; the recorded highest release stays the higher one."""
    run, dest = overrides["run"], overrides["dests"]["downgrade"]
    allowed = succeeded(run["allowed downgrade"])
    assert allowed["changed"] is True
    assert {c["name"]: (c["previous"], c["version"], c["action"]) for c in allowed["components"]} == {
        "app": ("1.0.0", "0.9.0", "install"), "tool": ("1.0.0", "1.0.0", "none")}
    state = slurped_json(run["state after downgrade"])
    assert state["release"] == "2025.12.0" and state["highest_release"] == "2026.1.0"
    # so the same downgrade without the flag is still refused, and r1 comes back as a switch
    error = failed_with(run["downgrade again without allow"], "rollback")
    assert "2025.12.0" in error["reason"] and "2026.1.0" in error["reason"]
    back = succeeded(run["back up to r1"])
    assert {c["name"]: c["action"] for c in back["components"]} == {"app": "switch", "tool": "none"}
    assert os.readlink(dest / "app" / "current") == "1.0.0"


def test_expired_manifest_allowed_explicitly(overrides):
    """Threat 5: allow_expired accepts a manifest past its expiry."""
    res = succeeded(overrides["run"]["allow expired"])
    assert res["changed"] is True and res["release"] == "2026.4.0"
    assert os.readlink(overrides["dests"]["expired"] / "app" / "current") == "1.1.0"


def test_upgrading_the_constraining_component_too_lifts_its_constraint(overrides):
    """tool 2.0.0 is refused alone (see test_installed_component_constrains_upgrade) but fits with app 1.2.0."""
    res = succeeded(overrides["run"]["tool 2 with its app"])
    assert {c["name"]: (c["previous"], c["version"]) for c in res["components"]} == {
        "app": ("1.0.0", "1.2.0"), "tool": ("1.0.0", "2.0.0")}
    assert os.readlink(overrides["dests"]["constraint"] / "tool" / "current") == "2.0.0"


def test_unsigned_release_accepted_without_keys(overrides):
    """Without trusted_keys (a lab) an unsigned release is delivered and the result says so."""
    res = succeeded(overrides["run"]["unsigned without keys"])
    assert res["changed"] is True
    assert res["verified"]["signed"] is False and res["verified"]["key_id"] is None
    assert res["verified"]["files"] == 4 and res["verified"]["bytes"] == overrides["lab"].artifact_bytes("unsigned")
    assert os.readlink(overrides["dests"]["unsigned"] / "app" / "current") == "1.0.0"


# =========================================================================== concurrency


def test_two_runs_at_once(lab):
    """Threat 13: two ansible-playbook runs on one destination and cache: no corruption, one download each."""
    site = lab.publish("r1", as_name="concurrent")
    first = lab.run.start([lab.fetch("deliver", lab.url(site))])
    second = lab.run.start([lab.fetch("deliver", lab.url(site))])
    results = [lab.run.finish(first)["deliver"], lab.run.finish(second)["deliver"]]
    ok = [r for r in results if not r.get("failed")]
    assert ok, [r.get("msg") for r in results]
    assert [r["changed"] for r in ok].count(True) == 1
    for res in results:
        if res.get("failed"):  # the loser may be told to run again, never left with a broken host
            assert res["error"]["kind"] in ("lock", "rollback"), (res.get("msg"), res["error"])
            assert re.search(r"lock|another run", res["msg"]), res["msg"]
    assert sorted(lab.artifact_requests(site).values()) == [1, 1]
    assert os.readlink(lab.dest / "app" / "current") == "1.0.0"
    assert (lab.dest / "app" / "current" / "share" / "data.bin").read_bytes() == _payload("app-1.0.0", 96 * 1024)
    assert (lab.dest / "tool" / "current" / "tool").read_bytes() == _payload("tool-1.0.0", 160 * 1024)
    assert list((lab.dest / ".groundwork" / "staging").iterdir()) == []
    assert not list(lab.dest.glob("*/.current.tmp-*"))
    assert not list(lab.cache.rglob("*.part"))
    state = json.loads((lab.dest / ".groundwork" / "state.json").read_text())
    assert state["highest_release"] == state["release"] == "2026.1.0"
    # a third run re-hashes everything and finds it in place
    rerun = lab.run([lab.fetch("deliver", lab.url(site), verify="full")])
    assert succeeded(rerun["deliver"])["changed"] is False


def test_parallel_hosts_share_one_download(lab):
    """Two hosts of one play (forks) deliver the same release: one download, both hosts served."""
    site = lab.publish("r1", as_name="pair")
    task = lab.fetch("deliver", lab.url(site), dest=str(lab.tmp / "{{ inventory_hostname }}"))
    run = lab.run([task], hosts="pair")
    results = [succeeded(run["deliver@host1"]), succeeded(run["deliver@host2"])]
    assert all(r["changed"] for r in results)
    assert sum(r["downloaded_bytes"] for r in results) == lab.artifact_bytes("r1")
    assert sum(r["cache_hits"] for r in results) == 2  # each artifact: one download, one cache hit
    assert sorted(lab.artifact_requests(site).values()) == [1, 1]
    for host in ("host1", "host2"):
        assert (lab.tmp / host / "tool" / "current" / "tool").read_bytes() == _payload("tool-1.0.0", 160 * 1024)


# =========================================================================== bundle_info and the cache


def test_bundle_info_list_show_and_upgrade_dry_run(lab):
    """list/show runs on the controller only; with dest it plans an upgrade and flags downgrades and incompatibility."""
    lab.install_r1()
    before = snapshot(lab.dest)
    run = lab.run(plays=[
        # 'nomodules' has no Python: anything that ran a module on it would fail.
        {"hosts": "nomodules", "tasks": [
            lab.info("show", lab.base_url("r2")),
            lab.info("show, other key", lab.base_url("keyb")),
        ]},
        {"hosts": "localhost", "tasks": [
            lab.info("installed", dest=lab.dest),
            lab.info("upgrade", lab.base_url("r2"), dest=lab.dest),
            lab.info("downgrade", lab.base_url("old"), dest=lab.dest),
            lab.info("incompatible", lab.base_url("incompat"), dest=lab.dest,
                     host_capabilities={"docker_engine": "20.10.24", "python": "3.11.2"}),
        ]},
    ])
    show = succeeded(run["show@nomodules"])
    assert show["release"]["release"] == "2026.2.0" and show["release"]["expires"]
    assert [(c["name"], c["version"]) for c in show["components"]] == [("app", "1.1.0"), ("tool", "1.0.0")]
    assert show["components"][0]["requires"]["components"] == {"tool": ">=1.0,<2"}
    assert show["components"][0]["artifacts"][0]["url"].startswith(lab.server.url + "/base/r2/artifacts/")
    assert show["verified"]["signed"] is True and show["verified"]["key_id"] == lab.keys["a"]["key_id"]
    assert show["compatible"] is True and "installed" not in show
    failed_with(run["show, other key@nomodules"], "signature")

    installed = succeeded(run["installed"])
    assert installed["state"] == {"highest_release": "2026.1.0", "release": "2026.1.0"}
    assert installed["installed"]["app"]["current"] == "1.0.0" and installed["installed"]["app"]["versions"] == ["1.0.0"]
    assert "release" not in installed and "upgrade" not in installed
    upgrade = succeeded(run["upgrade"])
    assert upgrade["downgrade"] is False and upgrade["compatible"] is True and upgrade["problems"] == []
    assert {u["name"]: (u["previous"], u["version"], u["action"]) for u in upgrade["upgrade"]} == {
        "app": ("1.0.0", "1.1.0", "install"), "tool": ("1.0.0", "1.0.0", "none")}
    downgrade = succeeded(run["downgrade"])
    assert downgrade["downgrade"] is True
    assert any("release 2025.12.0 is lower than release 2026.1.0" in p for p in downgrade["problems"])
    incompatible = succeeded(run["incompatible"])
    assert incompatible["compatible"] is False
    assert sorted(incompatible["problems"]) == [
        "app 2.0.0 requires host docker_engine >=24.0, but the host has 20.10.24",
        "app 2.0.0 requires host python <3, but the host has 3.11.2",  # given capabilities win over facts
        "app 2.0.0 requires tool >=2.0, but tool 1.0.0 would be installed"]
    assert incompatible["host_capabilities"]["docker_engine"] == "20.10.24"
    assert all(r["changed"] is False for r in (show, installed, upgrade, downgrade, incompatible))
    assert snapshot(lab.dest) == before


def test_cache_only_fill_then_offline_delivery(lab):
    """Without dest bundle_fetch only fills the controller cache; the delivery after it downloads nothing."""
    site = lab.publish("r2", as_name="cache-fill")
    run = lab.run([
        lab.fetch("fill", lab.url(site), dest=None),
        {"name": "dest after fill", "ansible.builtin.stat": {"path": str(lab.dest)}},
        lab.fetch("fill again", lab.url(site), dest=None),
        lab.fetch("deliver", lab.url(site)),
        # app requires tool, which the hosts may already run: a fill of app alone cannot judge that
        lab.fetch("fill app alone", lab.base_url("r2"), dest=None, components=["app"], cache=lab.tmp / "app-cache"),
        lab.fetch("fill an incompatible set", lab.base_url("incompat"), dest=None, cache=lab.tmp / "app-cache"),
    ])
    fill = succeeded(run["fill"])
    assert fill["dest"] is None
    assert {c["name"]: c["action"] for c in fill["components"]} == {"app": "fetch", "tool": "fetch"}
    assert fill["downloaded_bytes"] == lab.artifact_bytes("r2")
    assert fill["verified"]["signed"] is True and fill["verified"]["files"] == 2
    assert fill["verified"]["bytes"] == lab.artifact_bytes("r2")
    assert run["dest after fill"]["stat"]["exists"] is False
    for comp in ("app", "tool"):
        digest = lab.artifact("r2", comp)["sha256"]
        assert sha256_file(lab.cache / "sha256" / digest[:2] / digest) == digest
    again = succeeded(run["fill again"])
    assert again["downloaded_bytes"] == 0 and again["cache_hits"] == 2
    deliver = succeeded(run["deliver"])
    assert deliver["changed"] is True
    assert deliver["downloaded_bytes"] == 0 and deliver["cache_hits"] == 2
    assert os.readlink(lab.dest / "app" / "current") == "1.1.0"
    assert sorted(lab.artifact_requests(site).values()) == [1, 1]
    alone = succeeded(run["fill app alone"])
    assert [c["name"] for c in alone["components"]] == ["app"]
    assert alone["downloaded_bytes"] == lab.artifact("r2", "app")["size"]
    # between the components it fetches, a fill still checks requirements (host ones need a host)
    error = failed_with(run["fill an incompatible set"], "compatibility")
    assert error["problems"] == ["app 2.0.0 requires tool >=2.0, but tool 1.0.0 would be installed"]
