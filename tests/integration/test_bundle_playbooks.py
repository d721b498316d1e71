# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end: real ansible-playbook runs against a real HTTP server on 127.0.0.1.

Releases are built with groundwork.infra.bundle_build and signed with keys made by the
real ``minisign -G -W``; groundwork.infra.bundle_fetch and bundle_info deliver and
inspect them on localhost (local connection, destinations under tmp_path). Threat
numbers refer to docs/bundle-threats.md (shared docs).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import re
import shutil
import stat
import subprocess
import sys
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
    """Same as SNAPSHOT_SCRIPT, in this process."""
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
    """What a test needs: the server, the keys, the built releases and a playbook runner."""

    def __init__(self, server, keys, releases, runner, tmp_path):
        self.server = server
        self.keys = keys
        self.releases = releases  # key -> {"dir": Path, "result": bundle_build result}
        self.run = runner
        self.tmp = tmp_path
        self.dest = tmp_path / "dest"
        self.cache = tmp_path / "cache"
        self.snap_script = tmp_path / "snapshot.py"
        self.snap_script.write_text(SNAPSHOT_SCRIPT)

    # -- releases on the server ------------------------------------------------
    def publish(self, key, as_name=None, signature=True):
        """Copy a built release to a directory of its own under the server root (isolated request counts)."""
        name = as_name or key
        target = self.server.root / self.tmp.name / name
        shutil.copytree(self.releases[key]["dir"], target)
        if not signature:
            (target / "manifest.yaml.minisig").unlink()
        return target

    def url(self, directory):
        return self.server.url_for(Path(directory) / "manifest.yaml")

    def base_url(self, key):
        return self.url(self.releases[key]["dir"])

    def artifact_requests(self, directory):
        prefix = Path(directory).resolve().relative_to(self.server.root.resolve()).as_posix() + "/artifacts/"
        return self.server.requests(prefix)

    def artifact_paths(self, key):
        return ["artifacts/%s/%s/%s" % (c["name"], c["version"], a["name"])
                for c in self.releases[key]["result"]["components"] for a in c["artifacts"]]

    def artifact_bytes(self, key, names=None):
        return sum(a["size"] for c in self.releases[key]["result"]["components"] if not names or c["name"] in names
                   for a in c["artifacts"])

    # -- tasks -------------------------------------------------------------------
    def fetch(self, name, manifest, keys=("a",), dest="default", cache=None, **options):
        args = {"manifest": manifest, "cache_dir": str(cache or self.cache), "retries": 0, "timeout": 10}
        if dest == "default":
            dest = self.dest
        if dest is not None:
            args["dest"] = str(dest)
        if keys:
            args["trusted_keys"] = [self.keys[k]["pub"] for k in keys]
        check_mode = options.pop("check_mode", None)
        args.update(options)
        task = {"name": name, "groundwork.infra.bundle_fetch": args, "ignore_errors": True}
        if check_mode is not None:
            task["check_mode"] = check_mode
        return task

    def info(self, name, manifest=None, keys=("a",), dest=None, **options):
        args = dict(options)
        if manifest:
            args["manifest"] = manifest
        if dest:
            args["dest"] = str(dest)
        if keys and manifest:
            args["trusted_keys"] = [self.keys[k]["pub"] for k in keys]
        return {"name": name, "groundwork.infra.bundle_info": args, "ignore_errors": True}

    def snapshot_task(self, name, root=None):
        return {"name": name, "ansible.builtin.command": {"argv": [sys.executable, str(self.snap_script), str(root or self.dest)]},
                "changed_when": False}

    def install_r1(self, dest=None):
        """A destination where release r1 is installed (a copy of one made by a real delivery)."""
        dest = dest or self.dest
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


@pytest.fixture(scope="session")
def built(tmp_path_factory, bundle_server, minisign_keys, session_runner):
    """Build every release once (one playbook run), then deliver r1 once to make a destination template."""
    src = make_sources(tmp_path_factory.mktemp("src"))
    specs = release_specs(src, minisign_keys)
    base = bundle_server.root / "base"
    tasks = []
    for key, spec in specs.items():
        tasks.append({"name": "build %s" % key, "groundwork.infra.bundle_build": dict(spec, dest=str(base / key))})
    run = session_runner(tasks, name="build-releases")
    releases = {}
    for key in specs:
        result = run["build %s" % key]
        assert not result.get("failed"), run.explain()
        releases[key] = {"dir": base / key, "result": result}
    template = tmp_path_factory.mktemp("r1-template") / "dest"
    run = session_runner([{
        "name": "deliver r1",
        "groundwork.infra.bundle_fetch": {
            "manifest": bundle_server.url_for(base / "r1" / "manifest.yaml"), "dest": str(template),
            "cache_dir": str(template.parent / "cache"), "trusted_keys": [minisign_keys["a"]["pub"]]},
    }], name="r1-template")
    assert run.rc == 0 and run["deliver r1"]["changed"], run.explain()
    releases["_r1_dest"] = template
    return {"src": src, "releases": releases}


@pytest.fixture
def lab(built, bundle_server, minisign_keys, run_playbook, tmp_path):
    return Lab(bundle_server, minisign_keys, built["releases"], run_playbook, tmp_path)


# =========================================================================== delivery


def test_deliver_signed_release(lab):
    """Threat 18: a delivery says what it verified; the layout on the host is the documented one."""
    site = lab.publish("r1")
    run = lab.run([lab.fetch("deliver", lab.url(site))])
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
    # app unpacks to bin/run.sh, etc/app.conf, share/data.bin; tool is one plain file
    assert verified["files"] == 4
    assert verified["bytes"] == lab.artifact_bytes("r1") > 0
    assert sorted((a["component"], a["name"]) for a in verified["artifacts"]) == [
        ("app", "app-1.0.0.tar.gz"), ("tool", "tool")]
    assert res["downloaded_bytes"] == lab.artifact_bytes("r1")
    assert sorted(lab.artifact_requests(site).values()) == [1, 1]

    dest = lab.dest
    assert os.readlink(dest / "app" / "current") == "1.0.0"
    assert os.readlink(dest / "tool" / "current") == "1.0.0"
    assert (dest / "app" / "current" / "bin" / "run.sh").read_text() == "#!/bin/sh\necho app 1.0.0\n"
    assert os.stat(dest / "app" / "1.0.0" / "bin" / "run.sh").st_mode & 0o777 == 0o755
    assert (dest / "app" / "1.0.0" / "share" / "data.bin").read_bytes() == _payload("app-1.0.0", 96 * 1024)
    assert (dest / "tool" / "1.0.0" / "tool").read_bytes() == _payload("tool-1.0.0", 160 * 1024)
    assert os.stat(dest / "tool" / "1.0.0" / "tool").st_mode & 0o777 == 0o644
    state = json.loads((dest / ".groundwork" / "state.json").read_text())
    assert state["highest_release"] == "2026.1.0" and state["release"] == "2026.1.0"
    assert json.loads((dest / ".groundwork" / "records" / "app" / "1.0.0.json").read_text())["release"] == "2026.1.0"
    assert list((dest / ".groundwork" / "staging").iterdir()) == []


def test_rerun_downloads_nothing_and_full_verify_repairs(lab):
    """Threat 17 and idempotence: a re-run changes nothing and downloads nothing; verify=full re-hashes."""
    site = lab.publish("r1")
    conf = lab.dest / "app" / "1.0.0" / "etc" / "app.conf"
    run = lab.run([
        lab.fetch("first", lab.url(site)),
        lab.fetch("second", lab.url(site)),
        lab.snapshot_task("after second"),
        {"name": "damage an installed file", "ansible.builtin.copy": {"dest": str(conf), "content": "version = evil\n"}},
        lab.fetch("fast after damage", lab.url(site)),
        lab.fetch("full after damage", lab.url(site), verify="full"),
        lab.fetch("full again", lab.url(site), verify="full"),
    ])
    assert succeeded(run["first"])["changed"] is True
    second = succeeded(run["second"])
    assert second["changed"] is False
    assert second.get("downloaded_bytes", 0) == 0
    assert {c["action"] for c in second["components"]} == {"none"}
    assert second["verified"]["signed"] is True and second["verified"]["files"] == 0
    # fast mode trusts the install record; full mode notices the damage and re-delivers from the cache
    assert succeeded(run["fast after damage"])["changed"] is False
    full = succeeded(run["full after damage"])
    assert full["changed"] is True
    assert {c["name"]: c["action"] for c in full["components"]} == {"app": "install", "tool": "none"}
    assert full["downloaded_bytes"] == 0 and full["cache_hits"] == 1
    assert conf.read_text() == "version = 1.0.0\n"
    assert succeeded(run["full again"])["changed"] is False
    # every artifact was requested exactly once over all five deliveries
    assert lab.artifact_requests(site) == {"/%s/r1/%s" % (lab.tmp.name, p): 1 for p in lab.artifact_paths("r1")}
    assert snapshot(lab.dest) == json.loads(run["after second"]["stdout"])


def test_check_and_diff_mode_plan_new_release_and_write_nothing(lab):
    """--check reports the plan of a new release, --diff the versions before and after; nothing is written."""
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
    assert "app: 1.0.0" in diff["before"] and "app: 1.1.0" in diff["after"]
    assert "tool: 1.0.0" in diff["before"] and "tool: 1.0.0" in diff["after"]
    assert "2026.1.0" in diff["before_header"] and "2026.2.0" in diff["after_header"]
    assert snapshot(lab.dest) == before
    assert lab.artifact_requests(site) == {}
    assert not lab.cache.exists() or not any(p.is_file() for p in lab.cache.rglob("*"))


def test_bundle_build_idempotent_and_reproducible(lab, built, tmp_path):
    """Same sources -> same archives (any time, any directory); an unchanged rebuild changes nothing."""
    src = built["src"]
    work = tmp_path / "src"
    shutil.copytree(src["app-1.0.0"], work / "app")
    shutil.copy(src["tool-1.0.0"], work / "tool")
    comps = [{"name": "app", "version": "1.0.0", "kind": "files", "src": str(work / "app")},
             {"name": "tool", "version": "1.0.0", "kind": "files", "files": [str(work / "tool")]}]
    key = lab.keys["a"]

    def build(name, dest):
        return {"name": name, "groundwork.infra.bundle_build": {
            "dest": str(dest), "release": "2026.9.0", "valid_days": 10, "signing_key": key["key"], "components": comps}}

    run = lab.run([build("first", tmp_path / "out1")])
    first = succeeded(run["first"])
    manifest1 = (tmp_path / "out1" / "manifest.yaml").read_bytes()
    sig1 = (tmp_path / "out1" / "manifest.yaml.minisig").read_bytes()
    archive = "artifacts/app/1.0.0/app-1.0.0.tar.gz"
    digest1 = sha256_file(tmp_path / "out1" / archive)

    # Later, with every source file touched and group-writable: the archive must not change.
    time.sleep(1.1)
    later = time.time() + 3600
    for path in (work / "app").rglob("*"):
        os.utime(path, (later, later))
        if path.is_file():
            path.chmod(path.stat().st_mode | 0o020)
    run = lab.run([
        build("again", tmp_path / "out1"),
        build("elsewhere", tmp_path / "out2"),
        {"name": "change a source", "ansible.builtin.copy": {"dest": str(work / "app" / "etc" / "app.conf"),
                                                              "content": "version = changed\n"}},
        build("changed", tmp_path / "out1"),
    ])
    again = succeeded(run["again"])
    assert first["changed"] is True and again["changed"] is False
    assert again["issued"] == first["issued"]
    assert again["key_id"] == first["key_id"] == key["key_id"]
    assert again["components"] == first["components"]
    elsewhere = succeeded(run["elsewhere"])
    assert elsewhere["components"] == first["components"]
    assert elsewhere["issued"] != first["issued"]  # built at another time ...
    assert sha256_file(tmp_path / "out2" / archive) == digest1  # ... from the same sources: same bytes
    assert first["components"][0]["artifacts"][0]["sha256"] == digest1
    # the idempotent rebuild left the release alone; the changed source did not
    changed = succeeded(run["changed"])
    assert changed["changed"] is True
    assert changed["components"][0]["artifacts"][0]["sha256"] != digest1
    assert sha256_file(tmp_path / "out1" / archive) != digest1
    assert sha256_file(tmp_path / "out1" / "artifacts/tool/1.0.0/tool") == sha256_file(src["tool-1.0.0"])
    assert manifest1 != (tmp_path / "out1" / "manifest.yaml").read_bytes()
    # the real minisign accepts what bundle_build signed
    for out in ("out1", "out2"):
        proc = subprocess.run([MINISIGN, "-V", "-p", key["pub"], "-m", str(tmp_path / out / "manifest.yaml")],
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sig1 and manifest1


# =========================================================================== signatures


def test_tampered_manifest_with_old_signature_refused(lab):
    """Threat 2: checksums swapped beside the artifact, old signature kept -> refused, nothing changes."""
    lab.install_r1()
    site = lab.publish("r2", as_name="tampered")
    evil = _payload("evil", 4096)
    art = site / "artifacts" / "tool" / "1.0.0" / "tool"
    old_sha, old_size = sha256_file(art), art.stat().st_size
    art.write_bytes(evil)
    text = (site / "manifest.yaml").read_text()
    assert old_sha in text
    text = text.replace(old_sha, hashlib.sha256(evil).hexdigest()).replace("size: %d" % old_size, "size: %d" % len(evil))
    (site / "manifest.yaml").write_text(text)
    before = snapshot(lab.dest)
    run = lab.run([lab.fetch("tampered", lab.url(site)), lab.fetch("tampered, no keys", lab.url(site), keys=(), dest=None,
                                                                     check_mode=True)])
    error = failed_with(run["tampered"], "signature")
    assert "does not match" in error["reason"]
    assert snapshot(lab.dest) == before
    assert lab.artifact_requests(site) == {}
    # the same bytes are a well-formed manifest: only the signature check stopped them
    assert succeeded(run["tampered, no keys"])["verified"]["signed"] is False


def test_stripped_signature_refused(lab):
    """Threat 3: an unsigned manifest where a key is configured is refused."""
    lab.install_r1()
    site = lab.publish("r2", as_name="stripped", signature=False)
    before = snapshot(lab.dest)
    run = lab.run([lab.fetch("stripped", lab.url(site))])
    error = failed_with(run["stripped"], "signature")
    assert "trusted_keys" in error["reason"] and "unsigned" in error["reason"]
    assert error["file"].endswith("/stripped/manifest.yaml.minisig")
    assert snapshot(lab.dest) == before
    assert lab.artifact_requests(site) == {}


def test_unsigned_release_accepted_without_keys(lab):
    """Without trusted_keys (a lab) an unsigned release is delivered and the result says so."""
    site = lab.publish("unsigned")
    run = lab.run([lab.fetch("unsigned", lab.url(site), keys=())])
    res = succeeded(run["unsigned"])
    assert res["changed"] is True
    assert res["verified"]["signed"] is False and res["verified"]["key_id"] is None
    assert res["verified"]["files"] == 4 and res["verified"]["bytes"] == lab.artifact_bytes("unsigned")
    assert os.readlink(lab.dest / "app" / "current") == "1.0.0"


def test_signature_by_other_key_refused(lab):
    """A release validly signed by an untrusted key is refused, naming both key ids."""
    lab.install_r1()
    before = snapshot(lab.dest)
    run = lab.run([lab.fetch("key b", lab.base_url("keyb"), keys=("a",))])
    error = failed_with(run["key b"], "signature")
    assert lab.keys["b"]["key_id"] in error["reason"] and lab.keys["a"]["key_id"] in error["reason"]
    assert snapshot(lab.dest) == before


# =========================================================================== rollback and expiry


def test_downgrade_refused_unless_allowed(lab):
    """Threat 4: an older, validly signed release is refused; allow_downgrade installs it, highest stays."""
    lab.install_r1()
    url = lab.base_url("old")
    run = lab.run([
        lab.snapshot_task("before"),
        lab.fetch("downgrade", url),
        lab.snapshot_task("after refusal"),
        lab.fetch("allowed downgrade", url, allow_downgrade=True),
        {"name": "state after downgrade", "ansible.builtin.slurp": {"src": str(lab.dest / ".groundwork" / "state.json")}},
        lab.fetch("downgrade again without allow", url),
        lab.fetch("back up to r1", lab.base_url("r1")),
    ])
    error = failed_with(run["downgrade"], "rollback")
    assert "2025.12.0" in error["reason"] and "2026.1.0" in error["reason"]
    assert "allow_downgrade" in error["reason"]
    assert run["before"]["stdout"] == run["after refusal"]["stdout"]
    allowed = succeeded(run["allowed downgrade"])
    assert allowed["changed"] is True
    assert {c["name"]: (c["previous"], c["version"]) for c in allowed["components"]}["app"] == ("1.0.0", "0.9.0")
    # The host runs 0.9.0 now, but still remembers 2026.1.0 as the highest release it accepted.
    state = json.loads(base64.b64decode(run["state after downgrade"]["content"]))
    assert state["release"] == "2025.12.0" and state["highest_release"] == "2026.1.0"
    failed_with(run["downgrade again without allow"], "rollback")
    back = succeeded(run["back up to r1"])
    assert {c["name"]: c["action"] for c in back["components"]} == {"app": "switch", "tool": "none"}
    state = json.loads((lab.dest / ".groundwork" / "state.json").read_text())
    assert state["highest_release"] == "2026.1.0" and state["release"] == "2026.1.0"


def test_expired_manifest_refused_unless_allowed(lab):
    """Threat 5: a manifest past its expiry is refused; allow_expired accepts it."""
    lab.install_r1()
    url = lab.base_url("expired")
    run = lab.run([
        lab.snapshot_task("before"),
        lab.fetch("expired", url),
        lab.snapshot_task("after refusal"),
        lab.fetch("allow expired", url, allow_expired=True),
    ])
    error = failed_with(run["expired"], "manifest")
    assert "expired" in error["reason"] and "2020-03-01T00:00:00Z" in error["reason"]
    assert "allow_expired" in error["reason"]
    assert run["before"]["stdout"] == run["after refusal"]["stdout"]
    res = succeeded(run["allow expired"])
    assert res["changed"] is True and res["release"] == "2026.4.0"
    assert os.readlink(lab.dest / "app" / "current") == "1.1.0"


# =========================================================================== compatibility


def test_incompatible_release_reports_every_problem(lab):
    """Threats 6 and 16: every unmet requirement at once (host capabilities, facts, components), nothing changes."""
    lab.install_r1()
    site = lab.publish("incompat")
    before = snapshot(lab.dest)
    run = lab.run([lab.fetch("incompatible", lab.url(site), host_capabilities={"docker_engine": "20.10.24+dfsg1"})],
                  gather_facts=True)
    error = failed_with(run["incompatible"], "compatibility")
    problems = error["problems"]
    assert len(problems) == 3, problems
    text = "\n".join(problems)
    assert "app 2.0.0 requires host docker_engine >=24.0, but the host has 20.10.24+dfsg1" in text
    assert "app 2.0.0 requires tool >=2.0, but tool 1.0.0 would be installed" in text
    assert "app 2.0.0 requires host python <3, but the host has %d.%d" % sys.version_info[:2] in text  # from facts
    assert "3 unmet requirement(s)" in run["incompatible"]["msg"]
    assert snapshot(lab.dest) == before
    assert lab.artifact_requests(site) == {}


def test_installed_component_constrains_upgrade(lab):
    """An installed component's recorded requirements constrain what another may be upgraded to."""
    lab.install_r1()
    url = lab.base_url("tool2")
    run = lab.run([
        lab.fetch("only tool", url, components=["tool"]),
        lab.fetch("whole release", url),
    ])
    error = failed_with(run["only tool"], "compatibility")
    assert error["problems"] == ["app 1.0.0 requires tool >=1.0,<2, but tool 2.0.0 would be installed"]
    # replacing app too lifts its constraint
    res = succeeded(run["whole release"])
    assert {c["name"]: (c["previous"], c["version"]) for c in res["components"]} == {
        "app": ("1.0.0", "1.2.0"), "tool": ("1.0.0", "2.0.0")}
    assert os.readlink(lab.dest / "tool" / "current") == "2.0.0"


# =========================================================================== artifacts


def test_tampered_artifact_refused(lab):
    """Threat 1: same size, different bytes on the server -> integrity error, previous release stays current."""
    lab.install_r1()
    site = lab.publish("r2", as_name="tampered-artifact")
    archive = site / "artifacts" / "app" / "1.1.0" / "app-1.1.0.tar.gz"
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    digest = next(a["sha256"] for c in lab.releases["r2"]["result"]["components"] for a in c["artifacts"]
                  if a["name"] == "app-1.1.0.tar.gz")
    before = snapshot(lab.dest)
    run = lab.run([lab.fetch("tampered", lab.url(site))])
    error = failed_with(run["tampered"], "integrity")
    assert error["component"] == "app" and error["file"] == "app-1.1.0.tar.gz"
    assert "sha256 mismatch" in error["reason"] and digest in error["reason"]
    assert "app" in run["tampered"]["msg"] and "app-1.1.0.tar.gz" in run["tampered"]["msg"]
    assert snapshot(lab.dest) == before
    assert os.readlink(lab.dest / "app" / "current") == "1.0.0"
    assert not (lab.dest / "app" / "1.1.0").exists()
    cached = lab.cache / "sha256" / digest[:2]
    assert not (cached / digest).exists() and not (cached / (digest + ".part")).exists()


def test_host_side_check_refuses_wrong_artifact(lab, tmp_path):
    """Threat 1, second layer: bundle_install re-checks size and digest on the host before anything moves."""
    lab.install_r1()
    wrong = tmp_path / "delivered.tar.gz"
    wrong.write_bytes(_payload("not the archive", 2048))
    art = lab.releases["r2"]["result"]["components"][0]["artifacts"][0]
    before = snapshot(lab.dest)
    run = lab.run([{
        "name": "install", "ignore_errors": True,
        "groundwork.infra.bundle_install": {
            "dest": str(lab.dest), "release": "2026.2.0",
            "components": [{"name": "app", "version": "1.1.0", "artifacts": [
                {"name": art["name"], "src": str(wrong), "sha256": art["sha256"], "size": 2048, "unpack": True}]}]},
    }])
    error = failed_with(run["install"], "integrity")
    assert error["component"] == "app" and error["file"] == art["name"]
    after = snapshot(lab.dest)
    after.pop(".groundwork/lock", None)
    before.pop(".groundwork/lock", None)
    assert after == before
    assert os.readlink(lab.dest / "app" / "current") == "1.0.0"


def test_oversized_truncated_and_endless_artifacts(lab):
    """Threats 7 and 8: more bytes than declared, fewer bytes, or a body without end -> download error."""
    site = lab.publish("r1", as_name="sizes")
    archive = site / "artifacts" / "app" / "1.0.0" / "app-1.0.0.tar.gz"
    archive.write_bytes(archive.read_bytes() + b"\0" * 1024)
    binary = site / "artifacts" / "tool" / "1.0.0" / "tool"
    binary.write_bytes(binary.read_bytes()[:-1000])
    endless = lab.publish("r1", as_name="endless")
    lab.server.stream_endless("/%s/endless/artifacts/app/1.0.0/app-1.0.0.tar.gz" % lab.tmp.name)
    run = lab.run([
        lab.fetch("larger", lab.url(site), components=["app"]),
        lab.fetch("truncated", lab.url(site), components=["tool"]),
        lab.fetch("endless", lab.url(endless), components=["app"]),
    ])
    error = failed_with(run["larger"], "download")
    assert error["component"] == "app" and error["file"] == "app-1.0.0.tar.gz"
    assert "larger than the declared" in error["reason"]
    error = failed_with(run["truncated"], "download")
    assert error["component"] == "tool" and error["file"] == "tool"
    assert "truncated" in error["reason"]
    error = failed_with(run["endless"], "download")
    assert error["component"] == "app" and "larger than the declared" in error["reason"]
    assert not lab.dest.exists()
    finals = [p for p in lab.cache.rglob("*") if p.is_file() and re.match(r"^[0-9a-f]{64}$", p.name)]
    assert finals == []


def test_manifest_size_capped_before_parsing(lab):
    """Threat 7: a manifest over max_manifest_size is refused while reading, before the YAML parser sees it."""
    site = lab.server.root / lab.tmp.name / "huge"
    site.mkdir(parents=True)
    (site / "manifest.yaml").write_text("format: [[[ not yaml\n" * 400)  # ~8 KiB of garbage
    run = lab.run([
        lab.fetch("huge", lab.url(site), keys=(), max_manifest_size=4096),
        lab.fetch("garbage within the cap", lab.url(site), keys=(), max_manifest_size=65536),
        lab.fetch("real manifest over a small cap", lab.base_url("r1"), max_manifest_size=256),
    ])
    error = failed_with(run["huge"], "download")
    assert "larger than the 4096 byte limit" in error["reason"]
    failed_with(run["garbage within the cap"], "manifest")  # the parser would have said this
    error = failed_with(run["real manifest over a small cap"], "download")
    assert "256 byte limit" in error["reason"]
    assert not lab.dest.exists()


def test_component_name_escaping_dest_refused(lab):
    """Threat 11: a manifest naming a component '../../etc' is refused, even when validly signed."""
    digest = sha256_file(lab.releases["r1"]["dir"] / "artifacts/tool/1.0.0/tool")
    site = lab.server.root / lab.tmp.name / "escape"
    art_dir = site / "artifacts"
    art_dir.mkdir(parents=True)
    shutil.copy(lab.releases["r1"]["dir"] / "artifacts/tool/1.0.0/tool", art_dir / "tool")
    manifest = {
        "format": 1, "release": "2026.7.0", "issued": "2026-01-01T00:00:00Z",
        "components": [{"name": "../../etc", "version": "1.0.0", "kind": "files", "artifacts": [
            {"name": "tool", "url": "artifacts/tool", "sha256": digest, "size": 160 * 1024, "unpack": False}]}],
    }
    (site / "manifest.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    subprocess.run([MINISIGN, "-S", "-s", lab.keys["a"]["key"], "-m", str(site / "manifest.yaml")],
                   check=True, capture_output=True, stdin=subprocess.DEVNULL)
    dest = lab.tmp / "deep" / "er" / "dest"
    run = lab.run([
        lab.fetch("signed", lab.url(site), dest=dest),
        lab.fetch("unsigned", lab.url(site), dest=dest, keys=()),
    ])
    for task in ("signed", "unsigned"):
        error = failed_with(run[task], "manifest")
        assert "../../etc" in error["reason"] and "invalid name" in error["reason"]
    assert not (lab.tmp / "deep").exists()
    assert lab.artifact_requests(site) == {}


# =========================================================================== concurrency


def test_two_runs_at_once(lab):
    """Threat 13: two ansible-playbook runs on one destination and cache: no corruption, one download each."""
    site = lab.publish("r1", as_name="concurrent")
    first = lab.run.start([lab.fetch("deliver", lab.url(site))])
    second = lab.run.start([lab.fetch("deliver", lab.url(site))])
    runs = [lab.run.finish(first), lab.run.finish(second)]
    results = [r["deliver"] for r in runs]
    ok = [r for r in results if not r.get("failed")]
    assert ok, [r.get("msg") for r in results]
    for res in results:
        if res.get("failed"):
            assert res["error"]["kind"] in ("lock", "rollback"), res
            assert re.search(r"lock|another run", res["msg"]), res["msg"]
    assert sum(1 for r in ok if r["changed"]) == 1 or len(ok) == 1
    # one download of each artifact, whatever the interleaving
    assert sorted(lab.artifact_requests(site).values()) == [1, 1]
    # a consistent destination: r1 current, intact, nothing left in staging, no stray links
    assert os.readlink(lab.dest / "app" / "current") == "1.0.0"
    assert (lab.dest / "app" / "current" / "share" / "data.bin").read_bytes() == _payload("app-1.0.0", 96 * 1024)
    assert (lab.dest / "tool" / "current" / "tool").read_bytes() == _payload("tool-1.0.0", 160 * 1024)
    assert list((lab.dest / ".groundwork" / "staging").iterdir()) == []
    assert not list(lab.dest.glob("*/.current.tmp-*"))
    assert not list(lab.cache.rglob("*.part"))
    state = json.loads((lab.dest / ".groundwork" / "state.json").read_text())
    assert state["highest_release"] == state["release"] == "2026.1.0"
    # and a third run finds everything in place
    rerun = lab.run([lab.fetch("deliver", lab.url(site), verify="full")])
    assert succeeded(rerun["deliver"])["changed"] is False


# =========================================================================== bundle_info and cache


def test_bundle_info_list_show_and_upgrade_dry_run(lab):
    """list/show needs only the controller; with dest it plans an upgrade, flags downgrades and incompatibility."""
    show = lab.run([lab.info("show", lab.base_url("r2"))], hosts="nomodules")
    res = succeeded(show["show@nomodules"])
    assert res["release"]["release"] == "2026.2.0" and res["release"]["expires"]
    assert [(c["name"], c["version"]) for c in res["components"]] == [("app", "1.1.0"), ("tool", "1.0.0")]
    assert res["components"][0]["requires"]["components"] == {"tool": ">=1.0,<2"}
    assert res["components"][0]["artifacts"][0]["url"].startswith(lab.server.url + "/")
    assert res["verified"]["signed"] is True and res["verified"]["key_id"] == lab.keys["a"]["key_id"]
    assert res["compatible"] is True and "installed" not in res
    # the same task refuses a manifest signed by another key, still without touching the host
    refused = lab.run([lab.info("other key", lab.base_url("keyb"))], hosts="nomodules")
    failed_with(refused["other key@nomodules"], "signature")

    lab.install_r1()
    before = snapshot(lab.dest)
    run = lab.run([
        lab.info("installed", dest=lab.dest),
        lab.info("upgrade", lab.base_url("r2"), dest=lab.dest),
        lab.info("downgrade", lab.base_url("old"), dest=lab.dest),
        lab.info("incompatible", lab.base_url("incompat"), dest=lab.dest, host_capabilities={"docker_engine": "20.10.24"}),
    ])
    installed = succeeded(run["installed"])
    assert installed["state"] == {"highest_release": "2026.1.0", "release": "2026.1.0"}
    assert installed["installed"]["app"]["current"] == "1.0.0" and installed["installed"]["app"]["versions"] == ["1.0.0"]
    upgrade = succeeded(run["upgrade"])
    assert upgrade["downgrade"] is False and upgrade["compatible"] is True and upgrade["problems"] == []
    assert {u["name"]: (u["previous"], u["version"], u["action"]) for u in upgrade["upgrade"]} == {
        "app": ("1.0.0", "1.1.0", "install"), "tool": ("1.0.0", "1.0.0", "none")}
    downgrade = succeeded(run["downgrade"])
    assert downgrade["downgrade"] is True
    assert any("2025.12.0" in p and "2026.1.0" in p for p in downgrade["problems"])
    incompatible = succeeded(run["incompatible"])
    assert incompatible["compatible"] is False and len(incompatible["problems"]) >= 2
    assert any("docker_engine" in p for p in incompatible["problems"])
    assert any("requires tool >=2.0" in p for p in incompatible["problems"])
    assert all(r["changed"] is False for r in (installed, upgrade, downgrade, incompatible))
    assert snapshot(lab.dest) == before


def test_cache_only_fill_then_offline_delivery(lab):
    """Without dest, bundle_fetch fills the controller cache; the delivery after it downloads nothing."""
    site = lab.publish("r2", as_name="cache-fill")
    run = lab.run([
        lab.fetch("fill", lab.url(site), dest=None),
        lab.fetch("fill again", lab.url(site), dest=None),
        lab.fetch("deliver", lab.url(site)),
    ])
    fill = succeeded(run["fill"])
    assert fill["dest"] is None
    assert {c["name"]: c["action"] for c in fill["components"]} == {"app": "fetch", "tool": "fetch"}
    assert fill["downloaded_bytes"] == lab.artifact_bytes("r2")
    assert fill["verified"]["signed"] is True and fill["verified"]["files"] == 2
    for comp in lab.releases["r2"]["result"]["components"]:
        digest = comp["artifacts"][0]["sha256"]
        assert sha256_file(lab.cache / "sha256" / digest[:2] / digest) == digest
    assert not lab.dest.exists()
    again = succeeded(run["fill again"])
    assert again["downloaded_bytes"] == 0 and again["cache_hits"] == 2
    deliver = succeeded(run["deliver"])
    assert deliver["changed"] is True
    assert deliver["downloaded_bytes"] == 0 and deliver["cache_hits"] == 2
    assert os.readlink(lab.dest / "app" / "current") == "1.1.0"
    assert sorted(lab.artifact_requests(site).values()) == [1, 1]
