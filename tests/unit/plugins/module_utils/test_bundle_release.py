# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host-side release layout: staging, atomic switch, compare-and-swap, lock, crash and disk-full safety.

Threats 1, 4, 8, 9, 12, 13, 14 and 17 at the layer that writes to the managed host.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tarfile
import textwrap
import time

import pytest

from ansible_collections.groundwork.infra.plugins.module_utils import _bundle_hash, _bundle_release
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_archive import Limits, build_archive
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_download import ArtifactCache
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import (
    ArchiveError,
    BundleError,
    IntegrityError,
    LockError,
    RollbackError,
    StorageError,
)
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_release import Destination, install_release

COLLECTIONS = [p for p in sys.path if p.endswith(os.path.join("build", "collections"))]


# -- helpers ------------------------------------------------------------------

class Builder(object):
    """Makes artifacts under ``root`` and component dicts as bundle_install receives them."""

    def __init__(self, root):
        self.root = root
        self.count = 0
        os.makedirs(root)

    def _path(self, name):
        self.count += 1
        directory = os.path.join(self.root, "a%d" % self.count)
        os.mkdir(directory)
        return os.path.join(directory, name)

    def archive(self, name, files, compression="gz"):
        src = self._path("src")
        for rel, content in files.items():
            path = os.path.join(src, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(content if isinstance(content, bytes) else content.encode("utf-8"))
            if rel.endswith(".sh"):
                os.chmod(path, 0o755)
        out = os.path.join(os.path.dirname(src), name)
        info = build_archive(src, out, compression=compression)
        assert info["sha256"] == sha256_file(out)
        return {"name": name, "src": out, "sha256": info["sha256"], "size": info["size"], "unpack": True}

    def plain(self, name, content):
        path = self._path(name)
        with open(path, "wb") as handle:
            handle.write(content)
        return {"name": name, "src": path, "sha256": hashlib.sha256(content).hexdigest(), "size": len(content),
                "unpack": False}

    def raw_tar(self, name, members):
        """A tar.gz written with tarfile directly: members are (TarInfo kwargs, data or None)."""
        path = self._path(name)
        with tarfile.open(path, "w:gz") as tar:
            for fields, data in members:
                fields = dict(fields)  # the same member spec may build several archives
                info = tarfile.TarInfo(fields.pop("name"))
                for key, value in fields.items():
                    setattr(info, key, value)
                if data is not None:
                    info.size = len(data)
                tar.addfile(info, io.BytesIO(data) if data is not None else None)
        return {"name": name, "src": path, "sha256": sha256_file(path), "size": os.path.getsize(path), "unpack": True}


def sha256_file(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def component(name, version, *artifacts, **extra):
    data = {"name": name, "version": version, "kind": "files", "requires": {}, "artifacts": list(artifacts)}
    data.update(extra)
    return data


def snapshot(root):
    """Everything below root: path -> (type, detail, mtime_ns) for files and links, type for dirs."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            if os.path.islink(path):
                out[rel] = ("link", os.readlink(path), st.st_mtime_ns)
            elif os.path.isdir(path):
                out[rel] = ("dir", oct(st.st_mode & 0o7777))
            else:
                out[rel] = ("file", sha256_file(path), st.st_size, oct(st.st_mode & 0o7777), st.st_mtime_ns, st.st_ino)
    return out


def read(path):
    with open(path, "rb") as handle:
        return handle.read()


def state(dest):
    return json.loads(read(os.path.join(dest, ".groundwork", "state.json")))


def staging_entries(dest):
    path = os.path.join(dest, ".groundwork", "staging")
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def current(dest, name):
    link = os.path.join(dest, name, "current")
    return os.readlink(link) if os.path.islink(link) else None


def find_named(root, name):
    return [os.path.join(d, n) for d, dirs, files in os.walk(root) for n in dirs + files if n == name]


@pytest.fixture
def b(tmp_path):
    return Builder(str(tmp_path / "artifacts"))


@pytest.fixture
def dest(tmp_path):
    return str(tmp_path / "srv" / "bundles")


WEB_V1 = {"index.html": "<h1>v1</h1>\n", "bin/run.sh": "#!/bin/sh\necho v1\n", "conf/app.conf": "port=80\n"}
WEB_V2 = {"index.html": "<h1>v2</h1>\n", "bin/run.sh": "#!/bin/sh\necho v2\n", "conf/app.conf": "port=8080\n"}


def web(b, version, files=None):
    return component("web", version, b.archive("web-%s.tar.gz" % version, files or (WEB_V1 if version == "1.0.0" else WEB_V2)))


def installed_v1(b, dest, **kwargs):
    """Release 1.0 (web 1.0.0) installed and checked; returns the snapshot of dest."""
    result = install_release(dest, "1.0", [web(b, "1.0.0")], now=1, **kwargs)
    assert result["changed"] is True
    assert current(dest, "web") == "1.0.0"
    return snapshot(dest)


def assert_v1_untouched(dest, before):
    """The failed run left the destination exactly as it was (files, links, mtimes, state)."""
    assert current(dest, "web") == "1.0.0"
    assert read(os.path.join(dest, "web", "current", "index.html")) == b"<h1>v1</h1>\n"
    assert not os.path.lexists(os.path.join(dest, "web", "2.0.0"))
    assert not os.path.exists(os.path.join(dest, ".groundwork", "records", "web", "2.0.0.json"))
    assert staging_entries(dest) == []
    assert snapshot(dest) == before


# -- install, idempotence, upgrade, prune --------------------------------------

def test_install_creates_layout(b, dest):
    art = b.archive("web-1.0.0.tar.gz", WEB_V1)
    env = b.plain("web.env", b"MODE=prod\n")
    result = install_release(dest, "1.0", [component("web", "1.0.0", art, env, kind="compose",
                                                     requires={"host": {"docker": ">=20.10"}})], now=1000)
    assert result["changed"] is True
    assert result["plan"] == [{"name": "web", "version": "1.0.0", "previous": None, "action": "install"}]
    assert result["dest"] == dest and result["release"] == "1.0"
    vdir = os.path.join(dest, "web", "1.0.0")
    assert read(os.path.join(vdir, "index.html")) == b"<h1>v1</h1>\n"
    assert read(os.path.join(vdir, "conf", "app.conf")) == b"port=80\n"
    assert os.stat(os.path.join(vdir, "bin", "run.sh")).st_mode & 0o777 == 0o755
    assert read(os.path.join(vdir, "web.env")) == b"MODE=prod\n"
    assert os.stat(os.path.join(vdir, "web.env")).st_mode & 0o777 == 0o644
    # The artifact itself is not kept, only its content.
    assert not os.path.exists(os.path.join(vdir, "web-1.0.0.tar.gz"))
    assert os.readlink(os.path.join(dest, "web", "current")) == "1.0.0"
    record = json.loads(read(os.path.join(dest, ".groundwork", "records", "web", "1.0.0.json")))
    assert record["release"] == "1.0" and record["kind"] == "compose" and record["installed_at"] == 1000
    assert record["requires"] == {"host": {"docker": ">=20.10"}}
    assert [a["name"] for a in record["artifacts"]] == ["web-1.0.0.tar.gz", "web.env"]
    assert all("src" not in a for a in record["artifacts"])
    assert record["artifacts"][0]["sha256"] == art["sha256"]
    inventory = dict((e["path"], e) for e in record["inventory"])
    assert inventory["index.html"]["sha256"] == hashlib.sha256(b"<h1>v1</h1>\n").hexdigest()
    assert set(inventory) == {"bin", "bin/run.sh", "conf", "conf/app.conf", "index.html", "web.env"}
    st = state(dest)
    assert (st["release"], st["highest_release"], st["components"]) == ("1.0", "1.0", {"web": "1.0.0"})
    # Audit: what was verified.
    assert result["verified"]["bytes"] == art["size"] + env["size"]
    assert result["verified"]["files"] == 4
    assert [(a["component"], a["name"], a["algorithm"], a["digest"], a["bytes"]) for a in result["verified"]["artifacts"]] == [
        ("web", "web-1.0.0.tar.gz", "sha256", art["sha256"], art["size"]),
        ("web", "web.env", "sha256", env["sha256"], env["size"])]
    assert staging_entries(dest) == []
    # The read side sees what was written.
    info = Destination(dest).installed()
    assert info["web"]["current"] == "1.0.0" and info["web"]["versions"] == ["1.0.0"]
    assert info["web"]["release"] == "1.0" and info["web"]["kind"] == "compose"


def test_sha512_artifact(b, dest):
    content = b"x" * 1000
    art = b.plain("blob.bin", content)
    del art["sha256"]
    art["sha512"] = hashlib.sha512(content).hexdigest()
    result = install_release(dest, "1.0", [component("blob", "1", art)])
    assert result["verified"]["artifacts"][0]["algorithm"] == "sha512"
    assert read(os.path.join(dest, "blob", "current", "blob.bin")) == content


def test_second_run_changes_nothing(b, dest):
    comps = [web(b, "1.0.0"), component("api", "3.1.0", b.plain("api.bin", b"api"))]
    install_release(dest, "1.0", comps, record_highest_release="1.0")
    before = snapshot(dest)
    time.sleep(0.01)
    again = install_release(dest, "1.0", comps, expected_highest_release="1.0", record_highest_release="1.0")
    assert again["changed"] is False
    assert [p["action"] for p in again["plan"]] == ["none", "none"]
    assert [p["previous"] for p in again["plan"]] == ["1.0.0", "3.1.0"]
    assert again["verified"] == {"files": 0, "bytes": 0, "artifacts": []}
    assert snapshot(dest) == before
    # verify=full re-hashes the installed tree, finds it intact and still changes nothing.
    full = install_release(dest, "1.0", comps, verify="full", expected_highest_release="1.0", record_highest_release="1.0")
    assert full["changed"] is False
    assert snapshot(dest) == before


def test_upgrade_switches_and_prunes(b, dest):
    installed_v1(b, dest)
    up = install_release(dest, "2.0", [web(b, "2.0.0")], keep=2, now=2)
    assert up["plan"] == [{"name": "web", "version": "2.0.0", "previous": "1.0.0", "action": "install"}]
    assert current(dest, "web") == "2.0.0"
    assert read(os.path.join(dest, "web", "current", "index.html")) == b"<h1>v2</h1>\n"
    assert read(os.path.join(dest, "web", "1.0.0", "index.html")) == b"<h1>v1</h1>\n"
    assert up["pruned"] == {}
    assert state(dest)["release"] == "2.0"
    # Back to a version still on disk: a switch, nothing staged or verified.
    back = install_release(dest, "2.1", [web(b, "1.0.0")], keep=2, now=3)
    assert back["plan"][0]["action"] == "switch" and back["plan"][0]["previous"] == "2.0.0"
    assert back["verified"]["bytes"] == 0
    assert current(dest, "web") == "1.0.0"
    # A third version with keep=2: the oldest non-current one goes, record and all.
    v3 = component("web", "3.0.0", b.archive("web-3.0.0.tar.gz", {"index.html": "v3"}))
    third = install_release(dest, "3.0", [v3], keep=2, now=4)
    assert third["pruned"] == {"web": ["1.0.0"]}
    assert sorted(os.listdir(os.path.join(dest, "web"))) == ["2.0.0", "3.0.0", "current"]
    assert sorted(os.listdir(os.path.join(dest, ".groundwork", "records", "web"))) == ["2.0.0.json", "3.0.0.json"]
    assert Destination(dest).installed()["web"]["versions"] == ["2.0.0", "3.0.0"]
    # keep=1 keeps only the current one.
    last = install_release(dest, "3.1", [v3], keep=1, now=5)
    assert last["pruned"] == {"web": ["2.0.0"]}
    assert sorted(os.listdir(os.path.join(dest, "web"))) == ["3.0.0", "current"]


def test_same_version_new_artifact_is_reinstalled(b, dest):
    installed_v1(b, dest)
    again = install_release(dest, "1.1", [web(b, "1.0.0", {"index.html": "republished"})], now=2)
    assert again["plan"][0]["action"] == "install" and again["plan"][0]["previous"] == "1.0.0"
    assert current(dest, "web") == "1.0.0"
    assert os.listdir(os.path.join(dest, "web", "1.0.0")) == ["index.html"]
    assert read(os.path.join(dest, "web", "1.0.0", "index.html")) == b"republished"
    assert staging_entries(dest) == []


# -- verification failures change nothing (threats 1, 8, 9) -------------------

def _tampered(b):
    good = b.archive("web-2.0.0.tar.gz", WEB_V2)
    good["sha256"] = hashlib.sha256(b"something else").hexdigest()
    return good


def _truncated(b):
    good = b.archive("web-2.0.0.tar.gz", WEB_V2)
    with open(good["src"], "r+b") as handle:
        handle.truncate(good["size"] // 2)
    return good


def _oversized(b):
    good = b.archive("web-2.0.0.tar.gz", WEB_V2)
    with open(good["src"], "ab") as handle:
        handle.write(b"\0" * 4096)
    return good


def _declared_too_small(b):
    good = b.archive("web-2.0.0.tar.gz", WEB_V2)
    good["size"] -= 1
    return good


def _hostile(member):
    def build(b):
        return b.raw_tar("web-2.0.0.tar.gz", [({"name": "index.html"}, b"<h1>v2</h1>\n"), member])
    return build


FAILURES = [
    ("tampered", _tampered, IntegrityError, ["sha256 mismatch: expected"]),
    ("truncated", _truncated, IntegrityError, ["truncated: got"]),
    ("oversized", _oversized, IntegrityError, ["larger than the declared"]),
    ("declared-too-small", _declared_too_small, IntegrityError, ["larger than the declared"]),
    ("dotdot", _hostile(({"name": "../evil"}, b"pwned")), ArchiveError, ["unsafe member '../evil'", "'..' component"]),
    ("absolute", _hostile(({"name": "/tmp/evil"}, b"pwned")), ArchiveError, ["unsafe member '/tmp/evil'", "absolute path"]),
    ("symlink-out", _hostile(({"name": "evil", "type": tarfile.SYMTYPE, "linkname": "../../../../etc"}, None)),
     ArchiveError, ["unsafe member 'evil'", "outside the archive root"]),
    ("device", _hostile(({"name": "evil", "type": tarfile.CHRTYPE, "devmajor": 1, "devminor": 3}, None)),
     ArchiveError, ["character device is not allowed"]),
    ("setuid", _hostile(({"name": "evil", "mode": 0o4755}, b"#!/bin/sh\n")), ArchiveError, ["setuid"]),
    ("duplicate", _hostile(({"name": "index.html"}, b"second")), ArchiveError, ["duplicate member"]),
]


@pytest.fixture
def copies(monkeypatch):
    """Counts the private copies stage_component makes (copy_verified calls)."""
    calls = []
    real = _bundle_release.copy_verified

    def spy(*args, **kwargs):
        calls.append(kwargs.get("file"))
        return real(*args, **kwargs)

    monkeypatch.setattr(_bundle_release, "copy_verified", spy)
    return calls


@pytest.mark.parametrize("delivery", ["in-place", "copy"])
@pytest.mark.parametrize("make, error, fragments", [f[1:] for f in FAILURES], ids=[f[0] for f in FAILURES])
def test_bad_artifact_changes_nothing(b, dest, tmp_path, make, error, fragments, delivery, copies):
    """Both ways an archive is verified on the host: in place (owned by us, not group/other
    writable: checked and unpacked through one handle) and on a private copy (anyone else may write it)."""
    before = installed_v1(b, dest)
    del copies[:]
    bad = make(b)
    if delivery == "copy":
        os.chmod(bad["src"], 0o666)
    with pytest.raises(error) as info:
        install_release(dest, "2.0", [component("web", "2.0.0", bad)], now=2)
    assert copies == ([] if delivery == "in-place" else ["web-2.0.0.tar.gz"])
    err = info.value
    assert (err.component, err.file) == ("web", "web-2.0.0.tar.gz")
    text = str(err)
    assert text.startswith("component 'web', file 'web-2.0.0.tar.gz': ")
    for fragment in fragments:
        assert fragment in text
    assert_v1_untouched(dest, before)
    assert find_named(str(tmp_path), "evil") == []


def test_bomb_limits_enforced(b, dest):
    before = installed_v1(b, dest)
    bomb = b.archive("web-2.0.0.tar.gz", {"zeros.bin": b"\0" * (2 * 1024 * 1024)})
    with pytest.raises(ArchiveError, match="exceeds 1048576 bytes"):
        install_release(dest, "2.0", [component("web", "2.0.0", bomb)], limits=Limits(max_bytes=1024 * 1024))
    assert_v1_untouched(dest, before)
    # The manifest's unpacked_size is a tighter cap than the global one.
    bomb["unpacked_size"] = 1000
    with pytest.raises(ArchiveError, match="exceeds 1000 bytes"):
        install_release(dest, "2.0", [component("web", "2.0.0", bomb)])
    many = b.archive("web-2.0.0.tar.gz", dict(("f%d" % i, "x") for i in range(20)))
    with pytest.raises(ArchiveError, match="more than 10 members"):
        install_release(dest, "2.0", [component("web", "2.0.0", many)], limits=Limits(max_members=10))
    assert_v1_untouched(dest, before)


def test_missing_artifact_file(b, dest):
    before = installed_v1(b, dest)
    art = b.plain("web.bin", b"data")
    os.unlink(art["src"])
    with pytest.raises(BundleError) as info:
        install_release(dest, "2.0", [component("web", "2.0.0", art)])
    assert "artifact was not delivered to the host" in str(info.value) and info.value.file == "web.bin"
    assert_v1_untouched(dest, before)


def test_two_artifacts_providing_the_same_path(b, dest):
    before = installed_v1(b, dest)
    one = b.archive("one.tar.gz", {"index.html": "a"})
    two = b.archive("two.tar.gz", {"index.html": "b"})
    with pytest.raises(ArchiveError, match="'index.html' is provided by more than one artifact"):
        install_release(dest, "2.0", [component("web", "2.0.0", one, two)])
    assert_v1_untouched(dest, before)


# -- all or nothing across components ------------------------------------------

def _two_components(b, dest):
    install_release(dest, "1.0", [web(b, "1.0.0"), component("api", "1.0.0", b.plain("api.bin", b"api v1"))], now=1)
    before = snapshot(dest)
    new = [web(b, "2.0.0"), component("api", "2.0.0", b.plain("api.bin", b"api v2"))]
    return before, new


def _links_as_targets(snap):
    return dict((k, v[:2] if v[0] == "link" else v) for k, v in snap.items())


def _assert_two_untouched(dest, before, relinked=False):
    assert (current(dest, "web"), current(dest, "api")) == ("1.0.0", "1.0.0")
    assert not os.path.lexists(os.path.join(dest, "web", "2.0.0"))
    assert not os.path.lexists(os.path.join(dest, "api", "2.0.0"))
    assert staging_entries(dest) == []
    if relinked:
        # The links were moved and put back: same targets, new symlinks.
        assert _links_as_targets(snapshot(dest)) == _links_as_targets(before)
    else:
        assert snapshot(dest) == before


def test_second_component_bad_artifact(b, dest):
    before, new = _two_components(b, dest)
    new[1]["artifacts"][0]["sha256"] = "0" * 64
    with pytest.raises(IntegrityError) as info:
        install_release(dest, "2.0", new)
    assert (info.value.component, info.value.file) == ("api", "api.bin")
    _assert_two_untouched(dest, before)


def test_second_component_fails_while_moving_into_place(b, dest, monkeypatch):
    before, new = _two_components(b, dest)
    real = _bundle_release._write_json_atomic

    def failing(path, data, mode=0o644):
        if os.path.join("records", "api") in path:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, data, mode)

    monkeypatch.setattr(_bundle_release, "_write_json_atomic", failing)
    with pytest.raises(StorageError) as info:
        install_release(dest, "2.0", new)
    assert info.value.component == "api"
    assert "no space left on device while moving the verified release into place" in str(info.value)
    _assert_two_untouched(dest, before)


def test_failure_after_switching_restores_current(b, dest, monkeypatch):
    before, new = _two_components(b, dest)

    def failing(self, data):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(Destination, "write_state", failing)
    with pytest.raises(StorageError) as info:
        install_release(dest, "2.0", new)
    assert "Input/output error" in str(info.value)
    # Both links were moved before the state write failed: both are back on 1.0.0.
    _assert_two_untouched(dest, before, relinked=True)


def test_failure_after_switching_restores_replaced_copy(b, dest, monkeypatch):
    installed_v1(b, dest)

    def broken_write_state(self, data):
        raise OSError(errno.EIO, "EIO")

    monkeypatch.setattr(Destination, "write_state", broken_write_state)
    record_path = os.path.join(dest, ".groundwork", "records", "web", "1.0.0.json")
    record = read(record_path)
    with pytest.raises(StorageError):
        install_release(dest, "1.1", [web(b, "1.0.0", {"index.html": "republished"})])
    assert current(dest, "web") == "1.0.0"
    assert read(os.path.join(dest, "web", "current", "index.html")) == b"<h1>v1</h1>\n"
    # The record that describes the restored copy is back too.
    assert read(record_path) == record
    assert Destination(dest).installed(full=True)["web"]["intact"] is True
    assert staging_entries(dest) == []


def test_prune_failure_does_not_undo_a_committed_install(b, dest, monkeypatch):
    installed_v1(b, dest)

    def failing(self, name, keep):
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(Destination, "prune", failing)
    result = install_release(dest, "2.0", [web(b, "2.0.0")], keep=1)
    assert result["changed"] is True
    assert any("Permission denied" in w for w in result["warnings"])
    assert current(dest, "web") == "2.0.0"
    assert read(os.path.join(dest, "web", "current", "index.html")) == b"<h1>v2</h1>\n"
    assert state(dest)["release"] == "2.0"
    assert staging_entries(dest) == []


# -- compare and swap on the highest accepted release (threat 4) --------------

def test_compare_and_swap(b, dest):
    install_release(dest, "1.0", [web(b, "1.0.0")], record_highest_release="1.0")
    before = snapshot(dest)
    with pytest.raises(RollbackError) as info:
        install_release(dest, "2.0", [web(b, "2.0.0")], expected_highest_release="0.9", record_highest_release="2.0")
    text = str(info.value)
    assert "the highest accepted release at %s is 1.0, but this run compared against 0.9" % dest in text
    assert info.value.file == os.path.join(dest, ".groundwork", "state.json")
    assert snapshot(dest) == before
    # Same with a fresh-destination expectation (None) against a recorded release.
    with pytest.raises(RollbackError, match="is 1.0, but this run compared against None"):
        install_release(dest, "2.0", [web(b, "2.0.0")], expected_highest_release=None, record_highest_release="2.0")
    assert snapshot(dest) == before
    # The matching expectation goes through and records the new highest.
    install_release(dest, "2.0", [web(b, "2.0.0")], expected_highest_release="1.0", record_highest_release="2.0")
    assert state(dest)["highest_release"] == "2.0"
    # A downgrade allowed by the controller keeps the highest where it was.
    install_release(dest, "1.0", [web(b, "1.0.0")], expected_highest_release="2.0", record_highest_release="2.0")
    assert (state(dest)["release"], state(dest)["highest_release"], current(dest, "web")) == ("1.0", "2.0", "1.0.0")


def test_compare_and_swap_rechecked_under_lock(b, dest, monkeypatch):
    install_release(dest, "1.0", [web(b, "1.0.0")], record_highest_release="1.0")
    real_lock = Destination.lock

    def racing_lock(self, timeout=300):
        # Another run wins the race between our first check and our lock.
        st = self.read_state()
        st["highest_release"] = "1.5"
        self.write_state(st)
        return real_lock(self, timeout)

    monkeypatch.setattr(Destination, "lock", racing_lock)
    with pytest.raises(RollbackError) as info:
        install_release(dest, "2.0", [web(b, "2.0.0")], expected_highest_release="1.0", record_highest_release="2.0")
    assert "changed to 1.5 while this run waited for the lock" in str(info.value)
    before_state = state(dest)
    assert before_state["highest_release"] == "1.5" and before_state["release"] == "1.0"
    assert current(dest, "web") == "1.0.0"
    assert not os.path.lexists(os.path.join(dest, "web", "2.0.0"))
    assert staging_entries(dest) == []


# -- check mode -----------------------------------------------------------------

def test_check_mode_writes_nothing(b, dest, tmp_path):
    fresh = install_release(dest, "1.0", [web(b, "1.0.0")], check_mode=True)
    assert fresh["changed"] is True
    assert fresh["plan"] == [{"name": "web", "version": "1.0.0", "previous": None, "action": "install"}]
    assert not os.path.exists(dest) and not os.path.exists(os.path.dirname(dest))
    before = installed_v1(b, dest)
    up = install_release(dest, "2.0", [web(b, "2.0.0")], check_mode=True)
    assert up["changed"] is True
    assert up["plan"] == [{"name": "web", "version": "2.0.0", "previous": "1.0.0", "action": "install"}]
    same = install_release(dest, "1.0", [web(b, "1.0.0")], check_mode=True)
    assert same["changed"] is False and same["plan"][0]["action"] == "none"
    state_only = install_release(dest, "1.1", [web(b, "1.0.0")], check_mode=True)
    assert state_only["changed"] is True and state_only["plan"][0]["action"] == "none"
    assert snapshot(dest) == before


# -- verify=full (threat 17) ---------------------------------------------------

def test_archive_verified_in_place_and_record_matches_the_files(b, dest, copies):
    """An archive owned by us is hashed where it is (no staging copy); the file digests recorded
    while unpacking (and the placed file's artifact digest) are those of the bytes on disk."""
    big = os.urandom(3 * 1024 * 1024 + 17)  # more than one block: hashed by the helper thread
    comp = component("web", "1.0.0", b.archive("web-1.0.0.tar", dict(WEB_V1, **{"data/big.bin": big}), compression="none"),
                     b.plain("extra.txt", b"placed\n"))
    result = install_release(dest, "1.0", [comp], now=1)
    assert result["changed"] is True
    assert copies == ["extra.txt"]  # only the placed file is copied; the archive was verified in place
    assert result["verified"]["bytes"] == sum(a["size"] for a in comp["artifacts"])
    record = json.loads(read(os.path.join(dest, ".groundwork", "records", "web", "1.0.0.json")))
    files = dict((e["path"], e) for e in record["inventory"] if e["type"] == "file")
    assert sorted(files) == ["bin/run.sh", "conf/app.conf", "data/big.bin", "extra.txt", "index.html"]
    for rel, entry in files.items():
        on_disk = read(os.path.join(dest, "web", "1.0.0", rel))
        assert (entry["sha256"], entry["size"]) == (hashlib.sha256(on_disk).hexdigest(), len(on_disk)), rel
    assert files["data/big.bin"]["sha256"] == hashlib.sha256(big).hexdigest()
    # A tampered extracted file is still caught by verify=full, against that record.
    path = os.path.join(dest, "web", "1.0.0", "data", "big.bin")
    with open(path, "r+b") as handle:
        handle.seek(1024 * 1024 + 5)
        handle.write(b"X")
    problems = Destination(dest).installed(full=True)["web"]["problems"]
    assert [p for p in problems if p.startswith("content changed: data/big.bin")], problems
    assert install_release(dest, "1.0", [comp], verify="full")["changed"] is True
    assert read(path) == big


def test_archive_swapped_after_verification_is_not_unpacked(b, dest, monkeypatch):
    """What is unpacked is what was hashed: the same open handle, even if the path is replaced in between."""
    before = installed_v1(b, dest)
    good = b.archive("web-2.0.0.tar.gz", WEB_V2)
    evil = b.archive("evil.tar.gz", {"index.html": "<h1>evil</h1>\n"})
    real = _bundle_release.open_verified_in_place

    def verify_then_swap(path, *args, **kwargs):
        got = real(path, *args, **kwargs)
        os.replace(evil["src"], path)  # the path now names other bytes
        return got

    monkeypatch.setattr(_bundle_release, "open_verified_in_place", verify_then_swap)
    install_release(dest, "2.0", [component("web", "2.0.0", good)], now=2)
    assert read(os.path.join(dest, "web", "current", "index.html")) == b"<h1>v2</h1>\n"
    del before


def test_archive_from_the_controller_cache_is_trusted_by_its_stamp(b, dest, tmp_path, monkeypatch):
    """A local connection hands bundle_install the cache file itself: the stamp the cache wrote
    after verifying the download spares the host a second hash, unless verify=full."""
    art = b.archive("web-1.0.0.tar", WEB_V1, compression="none")
    cache = ArtifactCache(str(tmp_path / "cache"))
    got = cache.ensure(art["src"], art["sha256"], art["size"])  # a plain path: copied and verified like a download
    assert os.path.exists(got["path"] + ".stamp")
    hashed = []
    real = _bundle_hash.hash_stream
    monkeypatch.setattr(_bundle_hash, "hash_stream", lambda *args, **kwargs: hashed.append(1) or real(*args, **kwargs))
    fast = install_release(dest, "1.0", [component("web", "1.0.0", dict(art, src=got["path"]))], now=1)
    assert [a["checked"] for a in fast["verified"]["artifacts"]] == ["stamp"]
    assert hashed == []
    assert read(os.path.join(dest, "web", "current", "index.html")) == b"<h1>v1</h1>\n"
    shutil.rmtree(dest)
    full = install_release(dest, "1.0", [component("web", "1.0.0", dict(art, src=got["path"]))], now=1, verify="full")
    assert [a["checked"] for a in full["verified"]["artifacts"]] == ["sha256"]
    assert hashed == [1]


def test_cache_file_changed_after_its_stamp_is_hashed_and_refused(b, dest, tmp_path):
    before = installed_v1(b, dest)
    art = b.archive("web-2.0.0.tar", WEB_V2, compression="none")
    cache = ArtifactCache(str(tmp_path / "cache"))
    path = cache.ensure(art["src"], art["sha256"], art["size"])["path"]
    with open(path, "r+b") as handle:  # same size, one byte: only the stamp's ctime and mtime tell
        handle.seek(700)
        byte = handle.read(1)
        handle.seek(700)
        handle.write(bytes([byte[0] ^ 1]))
    with pytest.raises(IntegrityError, match="sha256 mismatch"):
        install_release(dest, "2.0", [component("web", "2.0.0", dict(art, src=path))], now=2)
    assert_v1_untouched(dest, before)


def test_full_verification_repairs_modified_file(b, dest):
    installed_v1(b, dest)
    path = os.path.join(dest, "web", "1.0.0", "index.html")
    st = os.stat(path)
    with open(path, "wb") as handle:
        handle.write(b"<h1>XX</h1>\n")  # same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # and same mtime
    with open(os.path.join(dest, "web", "1.0.0", "planted.sh"), "w") as handle:
        handle.write("extra")
    # The fast path trusts the record and does not look at the files.
    fast = install_release(dest, "1.0", [web(b, "1.0.0")])
    assert fast["changed"] is False
    problems = Destination(dest).installed(full=True)["web"]["problems"]
    assert "content changed: index.html (expected sha256 %s, found %s)" % (
        hashlib.sha256(b"<h1>v1</h1>\n").hexdigest(), hashlib.sha256(b"<h1>XX</h1>\n").hexdigest()) in problems
    assert "extra: planted.sh (file)" in problems
    check = install_release(dest, "1.0", [web(b, "1.0.0")], verify="full", check_mode=True)
    assert check["plan"][0]["action"] == "install"
    full = install_release(dest, "1.0", [web(b, "1.0.0")], verify="full")
    assert full["changed"] is True
    assert full["plan"] == [{"name": "web", "version": "1.0.0", "previous": "1.0.0", "action": "install"}]
    assert read(path) == b"<h1>v1</h1>\n"
    assert not os.path.exists(os.path.join(dest, "web", "1.0.0", "planted.sh"))
    assert current(dest, "web") == "1.0.0"
    assert Destination(dest).installed(full=True)["web"]["intact"] is True
    assert staging_entries(dest) == []


# -- durability (threat 12: a power cut, not only a kill) ---------------------------

@pytest.mark.parametrize("syncfs", [True, False], ids=["syncfs", "fsync-each"])
def test_installed_files_and_directories_are_synced_before_the_record(b, dest, syncfs, durable, monkeypatch):
    """Every file, directory and rename of a release reaches the disk before its record and the
    state say it is installed: a power cut cannot leave a recorded release with lost bytes.
    ``durable`` keeps the state (size, mode) each entry had when an fsync or a syncfs covered it:
    an entry written or changed after that does not match."""
    if not syncfs:
        monkeypatch.setattr(_bundle_hash, "syncfs", lambda fd: False)
    synced = durable(dest)
    checked = []
    real_write = _bundle_release._write_json_atomic

    def check_then_write(path, data, mode=0o644):
        if "/records/" in path:
            vdir = os.path.join(dest, data["name"], data["version"])
            for root, dirs, files in os.walk(vdir):
                for entry in [root] + [os.path.join(root, n) for n in files if not os.path.islink(os.path.join(root, n))]:
                    st = os.stat(entry)
                    assert (st.st_dev, st.st_ino, st.st_size, st.st_mode) in synced, "not synced before the record: %s" % entry
            parent = os.stat(os.path.dirname(vdir))
            assert (parent.st_dev, parent.st_ino, parent.st_size, parent.st_mode) in synced, "the rename into place was not synced"
            checked.append(data["name"])
        return real_write(path, data, mode)

    monkeypatch.setattr(_bundle_release, "_write_json_atomic", check_then_write)
    big = os.urandom(2 * 1024 * 1024 + 3)
    comp = component("web", "1.0.0", b.archive("web-1.0.0.tar", dict(WEB_V1, **{"data/big.bin": big}), compression="none"),
                     b.plain("extra.txt", b"placed\n"))
    gz = component("api", "1.0.0", b.archive("api-1.0.0.tar.gz", {"srv/app.py": "print(1)\n"}))
    install_release(dest, "1.0", [comp, gz], now=1)
    assert sorted(checked) == ["api", "web"]
    state_dir = os.stat(os.path.join(dest, ".groundwork"))
    assert (state_dir.st_dev, state_dir.st_ino, state_dir.st_size, state_dir.st_mode) in synced  # the rename of state.json
    assert ("syncfs" in synced.calls) is syncfs


# -- memory (threat 26) ----------------------------------------------------------

MEMORY_CHILD = textwrap.dedent("""
    import gc, hashlib, io, json, os, sys, tarfile
    sys.path.insert(0, sys.argv[1])
    from ansible_collections.groundwork.infra.plugins.module_utils._bundle_release import install_release
    members, work = int(sys.argv[2]), sys.argv[3]
    path = os.path.join(work, "many-1.0.0.tar.gz")
    with tarfile.open(path, "w:gz", compresslevel=1, format=tarfile.PAX_FORMAT) as tar:
        for index in range(members):
            info = tarfile.TarInfo("d%04d/member-%06d.txt" % (index // 100, index))
            info.size = 100
            tar.addfile(info, io.BytesIO(b"%099d\\n" % index))
    del tar, info
    gc.collect()
    with open(path, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()

    def status(field):
        with open("/proc/self/status") as handle:
            return [int(line.split()[1]) for line in handle if line.startswith(field + ":")][0]

    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # the peak (VmHWM) starts again from here: the archive's build does not count
    base = status("VmRSS")
    comp = {"name": "many", "version": "1.0.0", "kind": "files", "requires": {},
            "artifacts": [{"name": "many-1.0.0.tar.gz", "src": path, "sha256": digest, "size": os.path.getsize(path), "unpack": True}]}
    result = install_release(os.path.join(work, "dest"), "1.0", [comp])
    print(json.dumps({"growth_kib": status("VmHWM") - base, "files": result["verified"]["files"]}))
""")


def install_growth_kib(tmp_path, members):
    work = tmp_path / ("m%d" % members)
    work.mkdir()
    out = subprocess.run([sys.executable, "-c", MEMORY_CHILD, COLLECTIONS[0], str(members), str(work)],
                         stdout=subprocess.PIPE, check=True).stdout
    data = json.loads(out.decode())
    assert data["files"] == members
    with open(os.path.join(str(work), "dest", ".groundwork", "records", "many", "1.0.0.json")) as handle:
        assert len(json.load(handle)["inventory"]) == members + members // 100  # every file and directory recorded
    return data["growth_kib"]


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc/self/clear_refs to reset the peak")
def test_install_memory_does_not_grow_with_the_members(tmp_path):
    """Threat 26: the install record's inventory streams to disk, the scan keeps a flat name table
    and prune reads the record without its inventory lines. 9,000 more members cost well under
    2 MiB of peak RSS (about 0.4 MiB measured; 2.8 MiB with the scan's tuples and prune's json.load
    of the whole record, about 18 MiB when the inventory was kept in memory)."""
    small = install_growth_kib(tmp_path, 1000)
    large = install_growth_kib(tmp_path, 10000)
    assert large - small < 2 * 1024, "peak memory grew by %d KiB from 1,000 to 10,000 members" % (large - small)


@pytest.mark.parametrize("writer", ["streamed", "json.dump"])
def test_a_record_read_without_its_inventory_skips_only_the_inventory(tmp_path, writer):
    """Records written by _dump (inventory streamed from JSON lines) and by json.dump (older records)."""
    lines = tmp_path / "inventory.jsonl"
    entries = [{"path": "a/%d" % index, "type": "file", "size": index, "mode": 420, "sha256": "0" * 64, "target": None}
               for index in range(5)]
    lines.write_text("".join(json.dumps(entry, sort_keys=True) + "\n" for entry in entries))
    record = {"name": "web", "version": "1.0.0", "kind": "files", "release": "1.0", "requires": {"inventory": ["x"]},
              "artifacts": [{"name": "web.tar.gz", "sha256": "1" * 64, "size": 3}], "installed_at": 12.5}
    path = str(tmp_path / "1.0.0.json")
    if writer == "streamed":
        _bundle_release._write_json_atomic(path, dict(record, inventory=_bundle_release.JsonLines(str(lines))))
    else:
        with open(path, "w") as handle:
            json.dump(dict(record, inventory=entries), handle, indent=2, sort_keys=True)
    assert _bundle_release._read_json(path) == dict(record, inventory=entries)
    assert _bundle_release._read_json(path, inventory=False) == record
    with open(path) as handle:
        kept = _bundle_release._without_inventory_lines(handle)
    assert '"a/0"' not in kept and json.loads(kept)["inventory"] == []


# -- lock (threat 13) ------------------------------------------------------------

HOLD_LOCK = textwrap.dedent("""
    import fcntl, os, sys, time
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("locked", flush=True)
    time.sleep(60)
""")


def test_lock_held_by_another_process(b, dest):
    before = installed_v1(b, dest)
    lock_path = os.path.join(dest, ".groundwork", "lock")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, lock_path], stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == b"locked\n"
        start = time.monotonic()
        with pytest.raises(LockError) as info:
            install_release(dest, "2.0", [web(b, "2.0.0")], lock_timeout=1)
        assert time.monotonic() - start >= 1
        assert "another run holds the lock on %s for more than 1 s" % dest in str(info.value)
        assert info.value.file == lock_path
        assert_v1_untouched(dest, before)
    finally:
        holder.kill()
        holder.wait()
    # Once the other run is gone the same install goes through.
    assert install_release(dest, "2.0", [web(b, "2.0.0")], lock_timeout=1)["changed"] is True
    assert current(dest, "web") == "2.0.0"


def test_two_first_runs_creating_the_layout_at_once(b, dest, monkeypatch):
    """Two first runs on a fresh destination both find no layout; the one that creates it second must not fail.

    The interleaving of the race, made certain: another run creates every directory between this
    run's check and its mkdir (an integration run once failed here with "creating ... failed: File exists").
    """
    real_isdir = os.path.isdir
    made_by_the_other_run = []

    def isdir_then_the_other_run_makes_it(path):
        if not real_isdir(path) and path.startswith(dest):
            os.makedirs(path, exist_ok=True)
            made_by_the_other_run.append(path)
            return False  # what this run saw just before
        return real_isdir(path)

    monkeypatch.setattr(_bundle_release.os.path, "isdir", isdir_then_the_other_run_makes_it)
    destination = Destination(dest)
    destination.lock(1)
    destination.unlock()
    monkeypatch.undo()
    assert made_by_the_other_run
    assert install_release(dest, "1.0", [web(b, "1.0.0")], lock_timeout=1)["changed"] is True
    assert current(dest, "web") == "1.0.0"


# -- crash in the middle (threat 12) ---------------------------------------------

CRASH_CHILD = textwrap.dedent("""
    import json, os, sys, time
    sys.path.insert(0, sys.argv[1])
    from ansible_collections.groundwork.infra.plugins.module_utils import _bundle_archive, _bundle_release
    point, marker, dest, comps = sys.argv[2], sys.argv[3], sys.argv[4], json.loads(sys.argv[5])

    def stop_here():
        with open(marker, "w") as handle:
            handle.write("here")
        time.sleep(60)

    if point == "extract":
        real = _bundle_archive._write_file
        def slow(*args, **kwargs):
            written = real(*args, **kwargs)
            stop_here()   # one member on disk in staging, the rest not yet
            return written
        _bundle_archive._write_file = slow
    elif point == "switch":
        # New version moved into place, current not yet switched.
        _bundle_release.Destination.switch_current = lambda self, name, version: stop_here()
    elif point == "prune":
        # Committed (state written) but staging not yet cleaned.
        _bundle_release.Destination.prune = lambda self, name, keep: stop_here()
    _bundle_release.install_release(dest, "2.0", comps)
""")


@pytest.mark.parametrize("point", ["extract", "switch", "prune"])
def test_killed_run_leaves_previous_release(b, dest, tmp_path, point):
    before = installed_v1(b, dest)
    before_state = state(dest)
    comps = [web(b, "2.0.0")]
    marker = str(tmp_path / "marker")
    child = subprocess.Popen([sys.executable, "-c", CRASH_CHILD, COLLECTIONS[0], point, marker, dest, json.dumps(comps)])
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(marker):
            assert child.poll() is None, "child exited early"
            assert time.monotonic() < deadline, "child never reached %s" % point
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    # The kill left staging behind ...
    assert staging_entries(dest) != []
    if point == "prune":
        assert current(dest, "web") == "2.0.0" and state(dest)["release"] == "2.0"
    else:
        # ... but the previous release is intact and current.
        assert current(dest, "web") == "1.0.0"
        assert state(dest) == before_state
        for rel, entry in before.items():
            if rel.startswith(os.path.join("web", "1.0.0")) or rel == os.path.join("web", "current"):
                assert snapshot(dest)[rel] == entry
        assert Destination(dest).installed(full=True)["web"]["intact"] is True
    # A re-run completes and cleans the stale staging.
    again = install_release(dest, "2.0", comps)
    expected = {"extract": "install", "switch": "switch", "prune": "none"}[point]
    assert again["plan"][0]["action"] == expected
    assert current(dest, "web") == "2.0.0"
    assert read(os.path.join(dest, "web", "current", "index.html")) == b"<h1>v2</h1>\n"
    assert state(dest)["release"] == "2.0"
    assert staging_entries(dest) == []
    assert [n for n in os.listdir(os.path.join(dest, "web")) if n.startswith(".current.tmp")] == []
    assert Destination(dest).installed(full=True)["web"]["intact"] is True


# -- disk full (threat 14) --------------------------------------------------------

@pytest.fixture
def small_fs(tmp_path):
    mount = str(tmp_path / "small")
    os.mkdir(mount)
    if os.geteuid() != 0:
        pytest.skip("mounting a 1 MiB tmpfs needs root")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", mount],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % proc.stdout.decode(errors="replace").strip())
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", mount], check=False)


def _incompressible(b):
    data = random.Random(14).getrandbits(8 * 2 * 1024 * 1024).to_bytes(2 * 1024 * 1024, "little")
    return b.plain("web.bin", data)


def _unpacks_large(b):
    # A few KiB of gzip that unpacks to 2 MiB of zeros: the copy fits, the extraction does not.
    return b.archive("web-2.0.0.tar.gz", {"index.html": "v2", "zeros.bin": b"\0" * (2 * 1024 * 1024)})


@pytest.mark.parametrize("make, where", [(_incompressible, "copy"), (_unpacks_large, "extract")])
def test_disk_full(b, small_fs, make, where):
    dest = os.path.join(small_fs, "dest")
    before = installed_v1(b, dest)
    art = make(b)
    with pytest.raises(StorageError) as info:
        install_release(dest, "2.0", [component("web", "2.0.0", art)])
    text = str(info.value)
    assert text.startswith("component 'web', file '%s': " % art["name"])
    assert "no space left on device" in text
    assert_v1_untouched(dest, before)
    # The space is given back.
    st = os.statvfs(small_fs)
    assert st.f_bavail * st.f_frsize > 900 * 1024
