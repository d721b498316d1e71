# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bundle threats 19, 20, 22 and 25 where the host unpacks and installs a release.

Each test names the row of docs/security.md it covers. Every refusal must be a typed
error (``kind``), leave nothing outside ``dest``, nothing half-installed, and the
previous release ``current`` (assert_v1_untouched).
"""

from __future__ import annotations

import io
import json
import os
import tarfile

import pytest

from ansible_collections.groundwork.infra.plugins.module_utils import _bundle_archive as ba
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import ArchiveError, BundleError
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_release import install_release

from test_bundle_release import assert_v1_untouched, component, current, installed_v1, read, sha256_file  # noqa: E402  pylint: disable=import-error

COMPRESSIONS = {"gz": "w:gz", "xz": "w:xz", "plain": "w"}
SUFFIX = {"gz": ".tar.gz", "xz": ".tar.xz", "plain": ".tar"}


def member(name, data=None, link=None):
    info = tarfile.TarInfo(name)
    if link is not None:
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, link, 0o777
    elif data is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
    else:
        info.size, info.mode = len(data), 0o644
    return info, data


def tar_artifact(directory, stem, members, compression="gz"):
    """An archive artifact written with tarfile directly (members as ``member()`` gives them)."""
    name = stem + SUFFIX[compression]
    path = os.path.join(str(directory), name)
    with tarfile.open(path, COMPRESSIONS[compression], format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return {"name": name, "src": path, "sha256": sha256_file(path), "size": os.path.getsize(path), "unpack": True}


def raw_artifact(directory, name, data):
    """An archive artifact from raw tar bytes (compressed as its name says)."""
    path = os.path.join(str(directory), name)
    if name.endswith(".gz"):
        import gzip
        data = gzip.compress(data)
    elif name.endswith(".xz"):
        import lzma
        data = lzma.compress(data)
    with open(path, "wb") as handle:
        handle.write(data)
    return {"name": name, "src": path, "sha256": sha256_file(path), "size": len(data), "unpack": True}


@pytest.fixture
def b(tmp_path):
    from test_bundle_release import Builder  # pylint: disable=import-error
    return Builder(str(tmp_path / "artifacts"))


@pytest.fixture
def dest(tmp_path):
    return str(tmp_path / "srv" / "bundles")


@pytest.fixture
def arts(tmp_path):
    path = tmp_path / "hostile"
    path.mkdir()
    return path


def refused(dest, before, components, error=ArchiveError, release="2.0"):
    """Install must fail with ``error``, leaving release 1.0 exactly as it was; returns the error."""
    with pytest.raises(error) as info:
        install_release(dest, release, components, now=2)
    assert info.value.to_dict()["kind"] == error.kind
    assert_v1_untouched(dest, before)
    return info.value


# -- row 19: links judged against the merged release tree ----------------------------------------

UP = 20
# Safe in archive A alone (lexically x/.. q q ... .. .. ... etc stays inside), but with q -> . from
# archive B every q is the release root and the 20 '..' climb out to the host's /etc.
ESCAPE = "../" + "q/" * UP + "../" * UP + "etc"


@pytest.mark.parametrize("first,second", [("gz", "xz"), ("plain", "gz"), ("xz", "plain")])
def test_row19_links_are_judged_against_the_merged_tree(b, dest, arts, first, second):
    """Row 19: archive A holds x/p -> ../q/q/.../../../etc, archive B holds q -> .; each is safe alone,
    together p would resolve to /etc. Refused before anything becomes current."""
    before = installed_v1(b, dest)
    a = tar_artifact(arts, "web-a", [member("x", None), member("x/p", link=ESCAPE)], first)
    bb = tar_artifact(arts, "web-b", [member("q", link=".")], second)
    for alone in (a, bb):  # each one on its own passes the per-archive scan
        ba.scan_archive(alone["src"], ba.Limits())
    err = refused(dest, before, [component("web", "2.0.0", a, bb)])
    assert err.component == "web" and err.file == bb["name"]  # the archive that completed the escape
    assert "unsafe symlink 'x/p'" in err.reason and "unpacked side by side" in err.reason
    assert "resolves outside the archive root" in err.reason


def test_row19_the_link_it_passes_through_may_come_first(b, dest, arts):
    """Row 19 with the archives in the other order: q -> . is unpacked first, x/p joins it."""
    before = installed_v1(b, dest)
    bb = tar_artifact(arts, "web-b", [member("q", link=".")], "xz")
    a = tar_artifact(arts, "web-a", [member("x", None), member("x/p", link=ESCAPE)], "gz")
    err = refused(dest, before, [component("web", "2.0.0", bb, a)])
    assert err.file == a["name"] and "unsafe symlink 'x/p'" in err.reason


def test_row19_three_artifacts_and_a_plain_file(b, dest, arts):
    """Row 19 with several artifacts: the link (A) and the link it passes through (C) come from
    archives separated by an unrelated archive and a plain file."""
    before = installed_v1(b, dest)
    a = tar_artifact(arts, "web-a", [member("x", None), member("x/p", link="../q/q/..")], "xz")
    other = tar_artifact(arts, "web-other", [member("static", None), member("static/i.html", b"hi\n")], "gz")
    plain = b.plain("web.env", b"A=1\n")
    c = tar_artifact(arts, "web-c", [member("q", link=".")], "plain")
    err = refused(dest, before, [component("web", "2.0.0", a, other, plain, c)])
    assert err.file == c["name"] and "'x/p'" in err.reason


def test_row19_links_between_artifacts_that_stay_inside_are_kept(b, dest, arts):
    """Row 19, the other side: a link into another artifact's tree that stays inside is installed."""
    installed_v1(b, dest)
    a = tar_artifact(arts, "web-a", [member("x", None), member("x/conf", link="../q/app.conf")], "gz")
    c = tar_artifact(arts, "web-c", [member("real", None), member("real/app.conf", b"port=1\n"), member("q", link="real")], "xz")
    install_release(dest, "2.0", [component("web", "2.0.0", a, c)], now=2)
    assert current(dest, "web") == "2.0.0"
    assert read(os.path.join(dest, "web", "current", "x", "conf")) == b"port=1\n"


def test_row19_check_release_tree_refuses_special_files(tmp_path):
    """Row 19/20: the staged release as a whole holds only files, directories and symlinks."""
    root = tmp_path / "tree"
    root.mkdir()
    (root / "ok").write_text("x")
    os.mkfifo(str(root / "pipe"))
    with pytest.raises(ArchiveError, match="'pipe' in the staged release: not a regular file") as info:
        ba.check_release_tree(str(root), component="web", file="web.tar")
    assert info.value.file == "web.tar"
    os.unlink(str(root / "pipe"))
    os.symlink("/etc", str(root / "abs"))
    with pytest.raises(ArchiveError, match="symlink 'abs' -> '/etc'.*is absolute"):
        ba.check_release_tree(str(root), component="web")


# -- row 22: names from archives -----------------------------------------------------------------

@pytest.mark.parametrize("name,shown", [
    ("a\x85b", "C1 control character U+0085"),
    ("a\x9bb", "C1 control character U+009B"),
    ("evil\u202egpj.exe", "non-printable character U+202E"),
    ("line\u2028sep", "non-printable character U+2028"),
    ("zero\u200bwidth", "non-printable character U+200B"),
])
@pytest.mark.parametrize("where", ["name", "symlink target"])
def test_row22_archive_names_with_c1_and_non_printable_characters(tmp_path, name, shown, where):
    """Row 22: C1 controls and other non-printable characters are refused in member names and
    link targets (C0 and DEL were refused before; these passed)."""
    members = [member(name, b"x")] if where == "name" else [member("link", link=name)]
    art = tar_artifact(tmp_path, "names", members, "gz")
    with pytest.raises(ArchiveError) as info:
        ba.scan_archive(art["src"], ba.Limits(), component="web", file=art["name"])
    assert "%s in %s" % (shown, where) in info.value.reason


def test_row22_printable_unicode_names_still_pass(tmp_path):
    """Row 22, the other side: accented letters, CJK and a plain space stay allowed."""
    art = tar_artifact(tmp_path, "names", [member("caf\u00e9 \u65e5\u672c.txt", b"x")], "plain")
    plans = ba.scan_archive(art["src"], ba.Limits())
    assert [p["name"] for p in plans] == ["caf\u00e9 \u65e5\u672c.txt"]


def test_row22_install_refuses_newline_in_archive_name(b, dest, arts):
    """Row 22 end to end: a member named '1.0.0\\n' is refused and nothing changes."""
    before = installed_v1(b, dest)
    art = tar_artifact(arts, "web", [member("1.0.0\n", None), member("ok", b"x")], "xz")
    err = refused(dest, before, [component("web", "2.0.0", art)])
    assert "control character in name" in err.reason


# -- row 25: pathological headers ----------------------------------------------------------------

def chained_headers(count, kind):
    """``count`` extended headers in a row before one small member (raw tar bytes)."""
    if kind == "pax":
        one = tarfile.TarInfo._create_pax_generic_header({"comment": "x"}, tarfile.XHDTYPE, "utf-8")  # pylint: disable=protected-access
    else:
        one = tarfile.TarInfo._create_gnu_long_header("n" * 10, tarfile.GNUTYPE_LONGNAME, "utf-8", "strict")  # pylint: disable=protected-access
    info = tarfile.TarInfo("a")
    info.size = 1
    return one * count + info.tobuf(tarfile.USTAR_FORMAT) + b"a".ljust(512, b"\0") + bytes(1024)


@pytest.mark.parametrize("kind", ["pax", "gnu"])
@pytest.mark.parametrize("suffix", [".tar", ".tar.gz", ".tar.xz"])
def test_row25_thousands_of_chained_headers_are_an_archive_error(b, dest, arts, kind, suffix):
    """Row 25: 3000 chained PAX (or GNU long name) headers made tarfile recurse until RecursionError,
    which surfaced as 'failed unexpectedly'. Now an archive error with its reason."""
    art = raw_artifact(arts, "web-2.0.0" + suffix, chained_headers(3000, kind))
    with pytest.raises(ArchiveError) as info:
        ba.scan_archive(art["src"], ba.Limits(), component="web", file=art["name"])
    assert "too many chained extended headers" in info.value.reason
    before = installed_v1(b, dest)
    err = refused(dest, before, [component("web", "2.0.0", art)])
    assert "too many chained extended headers" in err.reason and err.file == art["name"]


def test_row25_a_few_chained_headers_are_still_read(tmp_path):
    """Row 25, the other side: a handful of extended headers before a member is a normal archive."""
    art = raw_artifact(tmp_path, "few.tar", chained_headers(3, "pax"))
    assert [p["name"] for p in ba.scan_archive(art["src"], ba.Limits())] == ["a"]


def test_row25_path_longer_than_the_filesystem_allows_in_bytes(b, dest, arts):
    """Row 25: a name under max_name_length in characters but over PATH_MAX in bytes (two-byte
    characters) is refused by the scan, not at mkdir as a storage error."""
    part = "\u00e9" * 120  # 240 bytes, 120 characters
    name = "/".join([part] * 18)  # 2177 characters, 4337 bytes
    art = tar_artifact(arts, "web", [member(name, b"x")], "gz")
    before = installed_v1(b, dest)
    err = refused(dest, before, [component("web", "2.0.0", art)])
    assert "longer than 4095 bytes" in err.reason


def test_row25_path_too_long_for_the_destination_is_an_archive_error(tmp_path):
    """Row 25: a name that fits PATH_MAX alone but not below this staging directory: ENAMETOOLONG
    from the kernel becomes an archive error naming the member, not a storage error."""
    staging = tmp_path
    for _level in range(4):
        staging = staging / ("d" * 200)
    staging.mkdir(parents=True)
    name = "/".join(["n" * 200] * 19)  # 3819 bytes, under 4095
    art = tar_artifact(tmp_path, "long", [member(name, b"x")], "plain")
    ba.scan_archive(art["src"], ba.Limits())  # fine on its own
    with pytest.raises(ArchiveError) as info:
        ba.extract_archive(art["src"], str(staging), ba.Limits(), component="web", file=art["name"])
    assert "too long for the filesystem at the destination" in info.value.reason


def test_row22_bundle_install_module_uses_full_match_names(tmp_path):
    """Row 22 at the module: bundle_install (which may be called on its own) refuses a version,
    release, name or artifact name with a trailing newline or a C1 character."""
    from ansible_collections.groundwork.infra.plugins.modules.bundle_install import BundleInstaller

    class Module(object):
        check_mode = True

        def __init__(self, params):
            self.params = params

    def params(**change):
        art = {"name": "web.tar.gz", "src": str(tmp_path / "x"), "sha256": "a" * 64, "size": 1, "unpack": True}
        comp = {"name": "web", "version": "1.0.0", "kind": "files", "requires": {}, "artifacts": [art]}
        data = {"dest": str(tmp_path / "dest"), "release": "1.0", "components": [comp], "verify": "fast",
                "expected_highest_release": None, "record_highest_release": None, "keep": 3, "lock_timeout": 1,
                "max_unpacked_size": 1024, "max_members": 10}
        for key, value in change.items():
            if key == "release":
                data["release"] = value
            elif key == "artifact":
                art["name"] = value
            else:
                comp[key] = value
        return data

    BundleInstaller(Module(params())).run()  # the baseline passes (check mode writes nothing)
    for change, text in ((dict(version="1.0.0\n"), "version '1.0.0\\n'"), (dict(name="web\n"), "name 'web\\n'"),
                         (dict(version="1.0\x85"), "version '1.0\\x85'"), (dict(release="1.0\n"), "release '1.0\\n'"),
                         (dict(artifact="web.tar.gz\n"), "artifact name 'web.tar.gz\\n'")):
        with pytest.raises(BundleError) as info:
            BundleInstaller(Module(params(**change))).run()
        assert text in str(info.value), change
    assert not os.path.exists(str(tmp_path / "dest"))


# -- row 20: a FIFO, device or directory where an artifact is expected -----------------------------

@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
@pytest.mark.parametrize("unpack", [True, False])
def test_row20_artifact_that_is_not_a_regular_file(b, dest, arts, no_hang, kind, unpack):
    """Row 20 on the host: the artifact's src is a FIFO (open() blocked for ever), a directory or a
    device; both ways in (verified in place for an archive, copied for a plain file): an integrity
    error naming what it is, at once, and nothing changes."""
    before = installed_v1(b, dest)
    src = str(arts / "web-2.0.0.tar.gz")
    if kind == "fifo":
        os.mkfifo(src, 0o600)
    elif kind == "directory":
        os.mkdir(src, 0o700)
    else:
        src = "/dev/zero"
    art = {"name": "web-2.0.0.tar.gz", "src": src, "sha256": "a" * 64, "size": 10, "unpack": unpack}
    from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import IntegrityError
    err = refused(dest, before, [component("web", "2.0.0", art)], error=IntegrityError)
    assert "not a regular file" in err.reason and err.file == "web-2.0.0.tar.gz"


def test_row20_a_fifo_where_the_stamp_belongs_does_not_block(b, dest, no_hang):
    """Row 20: <src>.stamp as a FIFO is no stamp (the archive is hashed), not a hang."""
    installed_v1(b, dest)
    art = b.archive("web-2.0.0.tar.gz", {"index.html": "v2\n"})
    os.mkfifo(art["src"] + ".stamp", 0o600)
    result = install_release(dest, "2.0", [component("web", "2.0.0", art)], now=2)
    assert current(dest, "web") == "2.0.0"
    assert result["verified"]["artifacts"][0]["checked"] == "sha256"


# -- issue 14 item 8: the fsync of state.json -------------------------------------------------------

def test_state_json_is_synced_before_it_replaces_the_old_one(b, dest, monkeypatch):
    """Row 12 (crash safety), issue 14 item 8: state.json (highest accepted release: the rollback
    guard) reaches the disk before its rename into place, on the first install and on an upgrade.
    Dropping that fsync was caught by no test."""
    synced = set()
    replaced = []
    real_fsync, real_replace = os.fsync, os.replace

    def spy_fsync(fd):
        st = os.fstat(fd)
        synced.add((st.st_dev, st.st_ino))
        return real_fsync(fd)

    def spy_replace(src, dst, *args, **kwargs):
        if os.path.basename(str(dst)) == "state.json":
            st = os.stat(src)
            replaced.append(((st.st_dev, st.st_ino) in synced, json.loads(read(src))["release"]))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "fsync", spy_fsync)
    monkeypatch.setattr(os, "replace", spy_replace)
    installed_v1(b, dest)
    install_release(dest, "2.0", [component("web", "2.0.0", b.archive("web-2.0.0.tar.gz", {"index.html": "v2\n"}))], now=2)
    assert replaced == [(True, "1.0"), (True, "2.0")]
