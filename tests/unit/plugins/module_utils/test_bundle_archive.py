# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for _bundle_archive: a corpus of hostile archives, safe extraction, reproducible builds."""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
import time
import tracemalloc

import pytest

from ansible_collections.groundwork.infra.plugins.module_utils import _bundle_archive as ba
from ansible_collections.groundwork.infra.plugins.module_utils import _bundle_hash
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import ArchiveError, StorageError

MIB = 1024 * 1024


# --------------------------------------------------------------------------- helpers


def reg(name, data=b"content\n", mode=0o644, mtime=1700000000):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = mtime
    return info, data


def directory(name, mode=0o755):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    return info, None


def symlink(name, target):
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    info.mode = 0o777
    return info, None


def hardlink(name, target):
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE
    info.linkname = target
    return info, None


def special(name, kind, mode=0o644):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    return info, None


def write_tar(path, members, mode="w", fmt=tarfile.PAX_FORMAT, **kwargs):
    with tarfile.open(str(path), mode, format=fmt, **kwargs) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def open_fds():
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def staging(tmp_path):
    path = tmp_path / "staging"
    path.mkdir(mode=0o700)
    return path


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 512 KiB tmpfs, to run into a real ENOSPC. Skips where mounting is not permitted."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mnt)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root/CAP_SYS_ADMIN): %s" % (proc.stderr.strip() or proc.returncode))
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


# --------------------------------------------------------------------------- hostile corpus
# id -> (members, member named in the error, rule text, Limits kwargs)

HOSTILE = {
    "absolute-path": ([reg("/etc/cron.d/evil")], "/etc/cron.d/evil", "absolute path", {}),
    "dotdot-escape": ([reg("../evil")], "../evil", "'..' component", {}),
    "nested-dotdot": ([directory("a"), reg("a/../../x")], "a/../../x", "'..' component", {}),
    "harmless-looking-dotdot": ([reg("a/../b")], "a/../b", "'..' component", {}),
    "symlink-absolute": ([symlink("etc", "/etc")], "etc", "is absolute", {}),
    "symlink-relative-escape": ([directory("sub"), symlink("sub/link", "../../x")], "sub/link", "resolves outside the archive root", {}),
    "symlink-via-earlier-symlink": ([symlink("here", "."), symlink("up", "here/..")], "up", "resolves outside the archive root", {}),
    "symlink-made-unsafe-by-later-symlink": (
        [symlink("l", "d/../x"), symlink("d", ".")], "l", "resolves outside the archive root", {}),
    "symlink-loop": ([symlink("a", "b"), symlink("b", "a")], "b", "loops", {}),
    "write-through-symlink": (
        [directory("sub"), symlink("link", "sub"), reg("link/evil")], "link/evil", "writing through a symlink", {}),
    "symlink-outside-then-write": (
        [symlink("out", "../outside"), reg("out/evil")], "out", "resolves outside the archive root", {}),
    "hardlink-absolute": ([hardlink("passwd", "/etc/passwd")], "passwd", "absolute path in hardlink target", {}),
    "hardlink-dotdot": ([hardlink("passwd", "../../etc/passwd")], "passwd", "'..' component in hardlink target", {}),
    "hardlink-not-in-archive": ([hardlink("h", "nothere")], "h", "not an earlier regular file", {}),
    "hardlink-before-target": ([hardlink("h", "f"), reg("f")], "h", "not an earlier regular file", {}),
    "hardlink-to-directory": ([directory("d"), hardlink("h", "d")], "h", "not an earlier regular file", {}),
    "hardlink-to-symlink": ([symlink("s", "x"), hardlink("h", "s")], "h", "not an earlier regular file", {}),
    "char-device": ([special("dev/null", tarfile.CHRTYPE)], "dev/null", "character device is not allowed", {}),
    "block-device": ([special("sda", tarfile.BLKTYPE)], "sda", "block device is not allowed", {}),
    "fifo": ([special("pipe", tarfile.FIFOTYPE)], "pipe", "FIFO is not allowed", {}),
    "contiguous": ([special("cont", tarfile.CONTTYPE)], "cont", "contiguous file is not allowed", {}),
    "unknown-type": ([special("odd", b"Z")], "odd", "unknown member type", {}),
    "setuid": ([reg("bin/su", mode=0o4755)], "bin/su", "setuid/setgid/sticky", {}),
    "setgid": ([reg("bin/sg", mode=0o2755)], "bin/sg", "setuid/setgid/sticky", {}),
    "sticky-dir": ([directory("tmp", mode=0o1777)], "tmp", "setuid/setgid/sticky", {}),
    "duplicate-name": ([reg("a", b"one"), reg("a", b"two")], "a", "duplicate member", {}),
    "duplicate-after-normalisation": ([reg("a/./b", b"one"), reg("a/b", b"two")], "a/b", "duplicate member", {}),
    "duplicate-double-slash": ([reg("a//b", b"one"), reg("./a/b", b"two")], "./a/b", "duplicate member", {}),
    "file-then-used-as-dir": ([reg("a"), reg("a/b")], "a/b", "is a file in this archive but used here as a directory", {}),
    "dir-then-file": ([reg("a/b"), reg("a")], "a", "is a directory in this archive", {}),
    "dir-then-symlink": ([reg("a/b"), symlink("a", "c")], "a", "is a directory in this archive", {}),
    "backslash": ([reg("..\\..\\evil")], "..\\..\\evil", "backslash in name", {}),
    "nul-in-pax-name": ([reg("\u00e9\x00/../evil")], "\\x00", "NUL byte in name", {}),
    "control-char": ([reg("a\nb")], "a\\nb", "control character in name", {}),
    "empty-name": ([reg("")], "''", "empty name", {}),
    "dot-as-file": ([reg("./")], "./", "empty name", {}),
    "file-with-trailing-slash": ([reg("a/")], "a/", "not a directory", {}),
    "name-too-long": ([reg("d/" + "n" * 300)], "...(302 characters)", "longer than 100 characters (max_name_length)", {"max_name_length": 100}),
    "component-too-long": ([reg("n" * 256)], "nnn", "longer than 255 bytes", {}),
    "too-many-members": ([reg("f%d" % i) for i in range(6)], "f5", "more than 5 members", {"max_members": 5}),
    "too-many-bytes": ([reg("a", b"x" * 600), reg("b", b"y" * 600)], "'b'", "exceeds 1000 bytes (max_bytes)", {"max_bytes": 1000}),
}


def _bomb(path):
    """16 MiB of zeros in one member: a few KiB compressed, far over the 1 MiB limit used below."""
    info = tarfile.TarInfo("bomb.bin")
    info.size = 16 * MIB
    with tarfile.open(str(path), "w:gz", compresslevel=1) as tar:
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    return path


def _bomb_without_body(path):
    """Header declaring 10 GiB, then a gzip stream that ends after 1 MiB.

    Skipping that member would need the missing data (an EOF error), so the max_bytes
    error proves the scan stopped on the header instead of decompressing the body.
    """
    info = tarfile.TarInfo("huge.img")
    info.size = 10 * 1024 ** 3
    header = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
    with gzip.open(str(path), "wb", compresslevel=1) as handle:
        handle.write(header + bytes(MIB))
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Every hostile archive of the corpus, built once: id -> (path, member, rule, limits)."""
    base = tmp_path_factory.mktemp("corpus")
    built = {}
    for ident, (members, member, rule, limits) in HOSTILE.items():
        built[ident] = (write_tar(base / (ident + ".tar"), members), member, rule, ba.Limits(**limits))
    built["gzip-bomb"] = (_bomb(base / "bomb.tar.gz"), "bomb.bin", "exceeds 1048576 bytes (max_bytes)", ba.Limits(max_bytes=MIB))
    built["gzip-bomb-body-never-read"] = (
        _bomb_without_body(base / "nobody.tar.gz"), "huge.img", "exceeds 8589934592 bytes (max_bytes)", ba.Limits())
    built["many-members-bomb"] = (
        write_tar(base / "many.tar.xz", [reg("m/%05d" % i, b"") for i in range(2000)], mode="w:xz"),
        "m/00100", "more than 100 members", ba.Limits(max_members=100))
    with tarfile.open(str(base / "pax-bomb.tar"), "w", format=tarfile.PAX_FORMAT, pax_headers={"comment": "x" * (2 * MIB)}) as tar:
        tar.addfile(*_fileobj(reg("a")))
    built["pax-header-bomb"] = (base / "pax-bomb.tar", "", "header asks for", ba.Limits())
    corrupt = base / "corrupt.tar"
    corrupt.write_bytes(os.urandom(4096))
    built["corrupt-random"] = (corrupt, "", "not a readable tar archive", ba.Limits())
    corrupt_gz = base / "corrupt.tar.gz"
    corrupt_gz.write_bytes(b"\x1f\x8b\x08\x00" + os.urandom(4096))
    built["corrupt-gzip"] = (corrupt_gz, "", "not a readable tar archive", ba.Limits())
    empty = base / "empty.tar"
    empty.write_bytes(b"")
    built["empty-file"] = (empty, "", "not a readable tar archive", ba.Limits())
    good = write_tar(base / "for-truncation.tar.gz", [reg("a", os.urandom(200000)), reg("b", os.urandom(200000))], mode="w:gz")
    truncated_gz = base / "truncated.tar.gz"
    truncated_gz.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    built["truncated-gzip"] = (truncated_gz, "", "not a readable tar archive", ba.Limits())
    plain = write_tar(base / "for-truncation.tar", [reg("a", b"a" * 5000), reg("b", b"b" * 5000)])
    truncated = base / "truncated.tar"
    truncated.write_bytes(plain.read_bytes()[:7000])
    built["truncated-plain"] = (truncated, "", "not a readable tar archive", ba.Limits())
    garbage = base / "garbage-after-first.tar"
    raw = bytearray(plain.read_bytes())
    second = 512 + 5120  # header + padded data of the first member
    raw[second:second + 512] = os.urandom(512)
    garbage.write_bytes(bytes(raw))
    built["garbage-header-after-first"] = (garbage, "after member 'a'", "invalid header", ba.Limits())
    return built


def _fileobj(member):
    info, data = member
    return info, io.BytesIO(data)


CORPUS_IDS = sorted(HOSTILE) + [
    "gzip-bomb", "gzip-bomb-body-never-read", "many-members-bomb", "pax-header-bomb", "corrupt-random", "corrupt-gzip", "empty-file",
    "truncated-gzip", "truncated-plain", "garbage-header-after-first",
]


@pytest.mark.parametrize("ident", CORPUS_IDS)
def test_hostile_archive_rejected_before_anything_is_written(corpus, staging, ident):
    path, member, rule, limits = corpus[ident]
    fds = open_fds()
    with pytest.raises(ArchiveError) as err:
        ba.scan_archive(str(path), limits, component="web", file=path.name)
    assert rule in err.value.reason
    assert member in err.value.reason
    assert str(err.value).startswith("component 'web', file '%s': " % path.name)
    with pytest.raises(ArchiveError) as err:
        ba.extract_archive(str(path), str(staging), limits, component="web", file=path.name)
    assert rule in err.value.reason and member in err.value.reason
    assert os.listdir(staging) == [], "something was written for %s" % ident
    assert open_fds() == fds, "a file handle was left open"


def test_unsafe_member_message_names_member_and_rule(corpus):
    path, _member, _rule, limits = corpus["write-through-symlink"]
    with pytest.raises(ArchiveError) as err:
        ba.scan_archive(str(path), limits)
    assert err.value.reason == "unsafe member 'link/evil': writing through a symlink ('link' is a symlink member)"


def test_bomb_fails_fast(corpus, staging):
    path, _member, _rule, limits = corpus["gzip-bomb"]
    start = time.monotonic()
    with pytest.raises(ArchiveError, match="max_bytes"):
        ba.extract_archive(str(path), str(staging), limits)
    assert time.monotonic() - start < 2
    assert os.listdir(staging) == []


# --------------------------------------------------------------------------- good archives

GOOD_MEMBERS = [
    directory("bin", mode=0o775),
    reg("bin/tool", b"#!/bin/sh\necho hi\n", mode=0o777, mtime=1600000000),
    reg("bin/private", b"secret-ish\n", mode=0o700),
    directory("etc"),
    reg("etc/app.conf", b"key=value\n", mode=0o666, mtime=1500000000),
    reg("etc/readonly.conf", b"ro\n", mode=0o640),
    reg("lib/deep/nested/file.txt", b"implicit parents\n"),  # no directory members for lib/...
    symlink("bin/app-link", "../etc/app.conf"),
    symlink("current", "etc"),
    symlink("self", "."),
    hardlink("etc/app-hardlink.conf", "etc/app.conf"),
    reg("big.bin", bytes(range(256)) * 9000),
    reg("empty", b""),
    reg("./dot-prefixed", b"dot\n"),
]


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"], ids=["tar", "gzip", "bzip2", "xz"])
@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT], ids=["pax", "gnu", "ustar"])
def test_good_archive_extracts_exactly(tmp_path, staging, mode, fmt):
    path = write_tar(tmp_path / "good.tar", GOOD_MEMBERS, mode=mode, fmt=fmt)
    plans = ba.scan_archive(str(path), ba.Limits())
    assert [plan["name"] for plan in plans] == [
        "bin", "bin/tool", "bin/private", "etc", "etc/app.conf", "etc/readonly.conf", "lib/deep/nested/file.txt",
        "bin/app-link", "current", "self", "etc/app-hardlink.conf", "big.bin", "empty", "dot-prefixed",
    ]
    fds = open_fds()
    result = ba.extract_archive(str(path), str(staging), ba.Limits())
    assert open_fds() == fds
    files = [m for m in GOOD_MEMBERS if m[0].isreg()]
    digests = result.pop("sha256")
    assert result == {
        "files": len(files) + 1,  # + the hardlink
        "dirs": 5,  # bin, etc, lib, lib/deep, lib/deep/nested
        "symlinks": 3,
        "bytes": sum(len(data) for _info, data in files),
    }
    # Hashed while writing: every regular file and the hardlink, matching the bytes on disk.
    expected = {}
    for info, data in files:
        expected[info.name.lstrip("./")] = (hashlib.sha256(data).hexdigest(), len(data))
    expected["etc/app-hardlink.conf"] = expected["etc/app.conf"]
    assert digests == expected
    for name, (digest, size) in digests.items():
        assert ba.hash_file(str(staging / name)) == (digest, size)
    for info, data in files:
        target = staging / info.name
        assert target.read_bytes() == data
    modes = {
        "bin": 0o755, "bin/tool": 0o755, "bin/private": 0o700, "etc": 0o755, "etc/app.conf": 0o644,
        "etc/readonly.conf": 0o640, "lib/deep/nested/file.txt": 0o644, "lib": 0o755, "empty": 0o644,
    }
    for name, want in modes.items():
        assert stat.S_IMODE(os.lstat(staging / name).st_mode) == want, name
    assert os.readlink(staging / "bin/app-link") == "../etc/app.conf"
    assert (staging / "bin/app-link").read_bytes() == b"key=value\n"
    assert os.readlink(staging / "current") == "etc"
    assert os.readlink(staging / "self") == "."
    assert os.stat(staging / "etc/app-hardlink.conf").st_ino == os.stat(staging / "etc/app.conf").st_ino
    assert os.lstat(staging / "bin/tool").st_mtime == 1600000000
    assert os.lstat(staging / "etc/app.conf").st_mtime == 1500000000
    assert os.lstat(staging / "bin").st_mtime == 0  # directory mtimes are applied last
    for root, dirs, names in os.walk(staging):
        for name in dirs + names:
            st = os.lstat(os.path.join(root, name))
            if not stat.S_ISLNK(st.st_mode):
                assert st.st_mode & 0o7022 == 0, "special bit or group/other write on %s" % name


class CountingFile(io.FileIO):
    """The archive file, counting the bytes read from it."""

    read_bytes = 0

    def read(self, size=-1):
        data = super().read(size)
        self.read_bytes += len(data)
        return data

    def readinto(self, buffer):
        count = super().readinto(buffer)
        self.read_bytes += count or 0
        return count


@pytest.mark.parametrize("mode", ["w:gz", "w:xz"], ids=["gzip", "xz"])
def test_a_compressed_archive_is_read_and_decompressed_once(tmp_path, staging, mode):
    """Members are judged and written in one pass: the compressed file is read once, not scanned
    and then read again from the start."""
    members = [reg("d/f%d.bin" % index, os.urandom(300 * 1024 + index)) for index in range(8)]
    path = write_tar(tmp_path / "a.tar", members, mode=mode)
    with CountingFile(str(path), "rb") as handle:
        result = ba.extract_archive(str(path), str(staging), ba.Limits(), fileobj=handle)
        assert handle.read_bytes <= os.path.getsize(path) + 6  # the first 6 bytes are read twice (the format magic)
    assert result["files"] == 8
    for info, data in members:
        assert (staging / info.name).read_bytes() == data


def plain_tar_bytes(members):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return raw.getvalue()


def test_concatenated_gzip_members_and_zero_padding_are_read_like_gzip(tmp_path, staging):
    """`cat a.gz b.gz` is one gzip stream to gzip(1) and Python's gzip module; zero bytes after
    the last member are padding. The one-pass reader reads both the same way."""
    members = [reg("a/one.bin", os.urandom(200000)), reg("a/two.txt", b"two\n" * 5000)]
    data = plain_tar_bytes(members)
    cut = 70000
    path = tmp_path / "cat.tar.gz"
    path.write_bytes(gzip.compress(data[:cut]) + gzip.compress(data[cut:], compresslevel=1) + b"\x00" * 1024)
    result = ba.extract_archive(str(path), str(staging), ba.Limits())
    assert result["files"] == 2
    for info, content in members:
        assert (staging / info.name).read_bytes() == content


@pytest.mark.parametrize("where", ["crc", "length", "data"])
def test_a_damaged_gzip_stream_is_refused_and_leaves_nothing(tmp_path, staging, where):
    """The gzip trailer (CRC-32 and length of the data) is checked, as gzip(1) does: damage found
    only at the end of the stream, after every member was written, still refuses the archive."""
    data = plain_tar_bytes([reg("a.txt", b"alpha\n" * 1000), reg("b/c.txt", b"gamma\n" * 1000)])
    packed = bytearray(gzip.compress(data))
    offset = {"crc": len(packed) - 8, "length": len(packed) - 4, "data": len(packed) // 2}[where]
    packed[offset] ^= 0x01
    path = tmp_path / "damaged.tar.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(ArchiveError, match="not a readable tar archive"):
        ba.extract_archive(str(path), str(staging), ba.Limits(), component="web", file="damaged.tar.gz")
    assert os.listdir(staging) == []


@pytest.mark.parametrize("mode", ["w", "w:gz"], ids=["tar", "gzip"])
def test_block_boundaries_and_the_plain_copier(tmp_path, staging, mode, monkeypatch):
    """Uncompressed archives are copied from the archive file itself, gzip ones from the decompressed
    stream (not through tarfile's file objects): the same bytes and digests either way, at every
    size around the block size."""
    block = ba.BLOCK_SIZE
    sizes = [0, 1, block - 1, block, block + 1, 3 * block + 5]
    members = [reg("f%d.bin" % index, os.urandom(size)) for index, size in enumerate(sizes)]
    path = write_tar(tmp_path / "sizes.tar", members, mode=mode)
    through_tarfile = []
    real = tarfile.TarFile.extractfile
    monkeypatch.setattr(tarfile.TarFile, "extractfile", lambda self, member: through_tarfile.append(member.name) or real(self, member))
    result = ba.extract_archive(str(path), str(staging), ba.Limits())
    assert through_tarfile == []
    assert result["bytes"] == sum(sizes)
    for info, data in members:
        assert (staging / info.name).read_bytes() == data
        assert result["sha256"][info.name] == (hashlib.sha256(data).hexdigest(), len(data))


@pytest.mark.parametrize("mode", ["w", "w:gz"], ids=["tar", "gzip"])
def test_digests_keep_the_block_order_when_hashing_lags(tmp_path, staging, mode, monkeypatch):
    """A helper thread that hashes slowly must still see every block of a file in order."""

    class SlowWorker(ba.HashWorker):
        def update(self, hasher, data, done=None):
            def late():
                time.sleep(0.02)
                if done is not None:
                    done()
            super().update(_Slow(hasher), data, late)

    class _Slow:
        def __init__(self, hasher):
            self.hasher = hasher

        def update(self, data):
            time.sleep(0.02)
            self.hasher.update(data)

    monkeypatch.setattr(ba, "HashWorker", SlowWorker)
    data = os.urandom(3 * ba.BLOCK_SIZE + 5)
    path = write_tar(tmp_path / "a.tar", [reg("a.bin", data)], mode=mode)
    result = ba.extract_archive(str(path), str(staging), ba.Limits())
    assert result["sha256"]["a.bin"] == (hashlib.sha256(data).hexdigest(), len(data))


@pytest.mark.parametrize("mode", ["w", "w:gz"], ids=["tar", "gzip"])
@pytest.mark.usefixtures("slow_writes")
@pytest.mark.parametrize("syncfs", [True, False], ids=["syncfs", "fsync-each"])
def test_big_files_are_written_back_while_extracted_and_synced(tmp_path, staging, mode, syncfs, durable, monkeypatch):
    """Big members are written back to disk while they are written; every file and directory is
    made durable once all are written, before extract_archive returns: by one syncfs of the file
    system, or (no usable syncfs) by an fsync of each."""
    monkeypatch.setattr(ba, "PIPELINE_MIN_SIZE", 2 * MIB)
    monkeypatch.setattr(ba, "WRITE_BEHIND_STEP", MIB)
    if not syncfs:
        monkeypatch.setattr(_bundle_hash, "syncfs", lambda fd: False)
    written_back = []
    real_fdatasync = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: written_back.append(os.fstat(fd).st_size) or real_fdatasync(fd))
    synced = durable(tmp_path)
    data = os.urandom(5 * MIB + 1)
    path = write_tar(tmp_path / "a.tar", [reg("big.bin", data), reg("sub/small.txt", b"small")], mode=mode)
    ba.extract_archive(str(path), str(staging), ba.Limits())
    assert (staging / "big.bin").read_bytes() == data
    assert written_back and all(MIB <= size <= len(data) for size in written_back)
    for entry in (staging / "big.bin", staging / "sub" / "small.txt", staging / "sub", staging):
        st = os.stat(entry)
        assert (st.st_dev, st.st_ino, st.st_size, st.st_mode) in synced, entry
    assert synced.calls == (["syncfs"] if syncfs else ["fsync"] * 4)


def test_a_failed_tree_sync_fails_the_extraction_and_leaves_nothing(tmp_path, staging, monkeypatch):
    """syncfs reports a write-back error of the file system (Linux 5.8+): the archive is refused,
    nothing stays in staging."""
    def failing(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(_bundle_hash, "syncfs", failing)
    path = write_tar(tmp_path / "a.tar.gz", [reg("a", b"x" * 3000), reg("sub/b", b"y")], mode="w:gz")
    with pytest.raises(StorageError, match="writing '.' failed: Input/output error"):
        ba.extract_archive(str(path), str(staging), ba.Limits(), component="web", file="a.tar.gz")
    assert os.listdir(staging) == []


@pytest.mark.usefixtures("slow_writes")
def test_write_back_failure_while_extracting_is_reported(tmp_path, staging, monkeypatch):
    monkeypatch.setattr(ba, "PIPELINE_MIN_SIZE", 2 * MIB)
    monkeypatch.setattr(ba, "WRITE_BEHIND_STEP", MIB)

    def failing(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", failing)
    path = write_tar(tmp_path / "a.tar", [reg("ok", b"fine"), reg("big.bin", os.urandom(3 * MIB))])
    with pytest.raises(StorageError, match="writing 'big.bin' failed: Input/output error"):
        ba.extract_archive(str(path), str(staging), ba.Limits(), component="web", file="a.tar")
    assert os.listdir(staging) == []  # the partial file and everything before it are removed


def test_plain_copier_read_error_names_the_member(tmp_path, staging, monkeypatch):
    path = write_tar(tmp_path / "a.tar", [reg("ok", b"fine"), reg("big.bin", os.urandom(2 * MIB))])
    real = os.preadv

    def failing(fd, buffers, offset):
        if offset > MIB:
            raise OSError(errno.EIO, "Input/output error")
        return real(fd, buffers, offset)

    monkeypatch.setattr(ba.os, "preadv", failing)
    with pytest.raises(ArchiveError, match="cannot read member 'big.bin': .*Input/output error"):
        ba.extract_archive(str(path), str(staging), ba.Limits(), component="web", file="a.tar")
    assert os.listdir(staging) == []  # the partial file and everything before it are removed


def test_extract_requires_an_empty_directory(tmp_path, staging):
    path = write_tar(tmp_path / "a.tar", [reg("a")])
    (staging / "old").write_text("x")
    with pytest.raises(ArchiveError, match="not empty"):
        ba.extract_archive(str(path), str(staging), ba.Limits())
    link = tmp_path / "link"
    link.symlink_to(staging)
    with pytest.raises(ArchiveError, match="not a directory"):
        ba.extract_archive(str(path), str(link), ba.Limits())


def test_data_filter_is_a_second_layer(tmp_path, staging, monkeypatch):
    """If our own checks missed something, the tarfile data filter still stops it before any write."""
    if not hasattr(tarfile, "data_filter"):
        pytest.skip("this Python has no tarfile.data_filter")
    calls = []

    def fake_filter(member, dest):
        calls.append((member.name, dest))
        if member.name == "d/b":
            raise tarfile.FilterError("pretend d/b is unsafe")
        return member

    monkeypatch.setattr(tarfile, "data_filter", fake_filter)
    path = write_tar(tmp_path / "a.tar", [reg("a"), reg("d/b")])
    with pytest.raises(ArchiveError, match="unsafe member 'd/b': rejected by the tarfile data filter: pretend d/b is unsafe"):
        ba.extract_archive(str(path), str(staging), ba.Limits())
    assert [name for name, _dest in calls] == ["a", "d/b"]
    assert calls[0][1] == str(staging)
    assert os.listdir(staging) == []


def test_data_filter_runs_on_every_member_but_the_later_files_of_a_directory_it_passed(tmp_path, staging, monkeypatch):
    """The filter's realpath walks are skipped only for a regular file whose directory the filter
    has passed (a file or directory there) with no symlink or hardlink written since; every
    directory change, directory, symlink and hardlink member goes through it, and a member it
    refuses still leaves nothing."""
    if not hasattr(tarfile, "data_filter"):
        pytest.skip("this Python has no tarfile.data_filter")
    calls = []
    real_filter = tarfile.data_filter

    def spy(member, dest):
        calls.append(member.name)
        return real_filter(member, dest)

    monkeypatch.setattr(tarfile, "data_filter", spy)
    members = [directory("d"), reg("d/a"), reg("d/b"), symlink("d/l", "a"), reg("d/c"), reg("d/e"),
               reg("x/f"), hardlink("x/h", "x/f"), reg("x/g"), reg("top"), reg("x/i")]
    path = write_tar(tmp_path / "a.tar", members)
    assert ba.extract_archive(str(path), str(staging), ba.Limits())["files"] == 9
    assert calls == ["d", "d/a", "d/l", "d/c", "x/f", "x/h", "x/g", "top", "x/i"]

    def refuse(member, dest):
        if member.name == "x/i":
            raise tarfile.FilterError("pretend x/i is unsafe")
        return real_filter(member, dest)

    monkeypatch.setattr(tarfile, "data_filter", refuse)
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(ArchiveError, match="unsafe member 'x/i': rejected by the tarfile data filter"):
        ba.extract_archive(str(path), str(other), ba.Limits())
    assert os.listdir(other) == []


def test_extract_works_without_data_filter(tmp_path, staging, monkeypatch):
    """Pythons before 3.9.17/3.10.12/3.11.4 have no data filter: our own checks still apply."""
    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    path = write_tar(tmp_path / "a.tar", [reg("a", b"ok")])
    assert ba.extract_archive(str(path), str(staging), ba.Limits())["files"] == 1
    bad = write_tar(tmp_path / "bad.tar", [symlink("x", "/etc")])
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(ArchiveError, match="is absolute"):
        ba.extract_archive(str(bad), str(other), ba.Limits())


def test_written_bytes_are_capped_even_if_the_scan_was_fooled(tmp_path, staging, monkeypatch):
    """max_bytes is enforced on the bytes actually written, not only on the declared sizes."""
    path = write_tar(tmp_path / "a.tar", [reg("a", b"x" * 3000), reg("b", b"y" * 3000)])
    real_scan = ba._scan  # pylint: disable=protected-access

    def fooled_scan(tar, bounded, _limits, component, file):
        return real_scan(tar, bounded, ba.Limits(), component, file)

    monkeypatch.setattr(ba, "_scan", fooled_scan)
    with pytest.raises(ArchiveError, match="exceeds max_bytes while writing 'b'"):
        ba.extract_archive(str(path), str(staging), ba.Limits(max_bytes=4000))
    assert os.listdir(staging) == []  # the partial 'b' and the complete 'a' were removed


@pytest.mark.parametrize("mode", ["w", "w:gz"], ids=["tar", "gzip"])
def test_extract_disk_full_on_real_tmpfs(tmp_path, small_tmpfs, mode):
    path = write_tar(tmp_path / "big.tar.gz", [reg("small", b"s" * 100), reg("big.bin", os.urandom(MIB))], mode=mode)
    target = small_tmpfs / "staging"
    target.mkdir(mode=0o700)
    fds = open_fds()
    with pytest.raises(StorageError, match="no space left on device while writing 'big.bin'") as err:
        ba.extract_archive(str(path), str(target), ba.Limits(), component="web", file="big.tar.gz")
    assert err.value.component == "web"
    assert open_fds() == fds, "a file handle was left open"
    assert sorted(os.listdir(target)) == []  # the partial file and 'small' are removed
    shutil.rmtree(target)  # what the caller does with its staging directory
    assert os.listdir(small_tmpfs) == []
    stats = os.statvfs(small_tmpfs)
    assert stats.f_bfree * stats.f_frsize >= 500 * 1024


def many_members_archive(path, members):
    """A gzip tar of ``members`` small files, 100 per directory (the layout of the bench's memory figure)."""
    with tarfile.open(str(path), "w:gz", compresslevel=1) as tar:
        for index in range(members):
            info = tarfile.TarInfo("d%04d/member-%06d.txt" % (index // 100, index))
            info.size = 4
            tar.addfile(info, io.BytesIO(b"%04d" % (index % 10000)))
    return path


def extract_peak_bytes(tmp_path, members):
    archive = many_members_archive(tmp_path / ("many-%d.tar.gz" % members), members)
    target = tmp_path / ("staging-%d" % members)
    target.mkdir(mode=0o700)
    with open(str(tmp_path / ("inventory-%d.jsonl" % members)), "w") as inventory:
        tracemalloc.start()
        try:
            result = ba.extract_archive(str(archive), str(target), ba.Limits(), inventory=inventory)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert result["files"] == members and result["dirs"] == members // 100
    return peak


def test_extract_memory_does_not_grow_with_the_members(tmp_path):
    """Threat 26: what the scan keeps per member (to refuse duplicates, a file used as a directory,
    writing through a symlink) is a slot of a flat name table, not a tuple of names: 9,000 more
    members cost well under 1 MiB of Python memory (about 2.4 MiB with tuples of components)."""
    small = extract_peak_bytes(tmp_path, 1000)
    large = extract_peak_bytes(tmp_path, 10000)
    assert large - small < 1024 * 1024, "peak Python memory grew by %d KiB from 1,000 to 10,000 members" % ((large - small) // 1024)


def test_name_table_keeps_every_name_and_its_flags_as_it_grows():
    table = ba._NameTable(capacity=4)
    for index in range(3000):
        table.add("d%d/f%d" % (index // 10, index), ba._FILE if index % 2 else ba._SYMLINK)
        table.add("d%d" % (index // 10), ba._IMPLIED)
    table.add("d7", ba._DIR)
    assert len(table) == 3300
    assert table.get("d0/f1") == ba._FILE and table.get("d0/f2") == ba._SYMLINK
    assert table.get("d299/f2999") == ba._FILE
    assert table.get("d7") == ba._DIR | ba._IMPLIED and table.get("d8") == ba._IMPLIED
    assert table.get("d0/f3000") == 0 and table.get("d300") == 0 and table.get("") == 0


def test_limits_defaults_and_validation():
    limits = ba.Limits()
    assert (limits.max_members, limits.max_bytes, limits.max_name_length) == (50000, 8 * 1024 ** 3, 4096)
    for bad in ({"max_members": -1}, {"max_bytes": "1"}, {"max_name_length": True}):
        with pytest.raises(ValueError):
            ba.Limits(**bad)


# --------------------------------------------------------------------------- build_archive


def make_tree(root, order=1):
    items = [
        ("bin/tool", b"#!/bin/sh\necho tool\n", 0o4775),
        ("etc/app.conf", b"a=1\n", 0o600),
        ("etc/other.conf", b"b=2\n", 0o664),
        ("share/doc/README", b"read me\n" * 100, 0o644),
        ("a-b", b"sorting\n", 0o644),
        ("\u00fcml\u00e4ut", b"utf-8 name\n", 0o644),
        ("n" * 150, b"long name\n", 0o644),
    ]
    for name, data, mode in items[::order]:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.chmod(path, mode)
    (root / "empty-dir").mkdir()
    os.symlink("../etc/app.conf", root / "bin" / "conf-link")
    return root


@pytest.mark.parametrize("compression", ["gz", "xz", "none"])
def test_build_is_reproducible(tmp_path, compression):
    one = make_tree(tmp_path / "one")
    two = make_tree(tmp_path / "elsewhere" / "two", order=-1)
    for path in [two / "bin" / "tool", two / "etc", two / "etc" / "app.conf", two]:
        os.utime(path, (1234567, 7654321))
        os.chown(path, 1234, 5678)
    os.chmod(two / "etc", 0o2775)
    first = ba.build_archive(str(one), str(tmp_path / "a.out"), compression=compression)
    time.sleep(0.01)
    os.utime(one / "etc" / "app.conf")  # touch
    again = ba.build_archive(str(one), str(tmp_path / "b.out"), compression=compression)
    other = ba.build_archive(str(two), str(tmp_path / "c.out"), compression=compression)
    assert first == again == other
    assert (tmp_path / "a.out").read_bytes() == (tmp_path / "b.out").read_bytes() == (tmp_path / "c.out").read_bytes()
    assert first["sha256"] == hashlib.sha256((tmp_path / "a.out").read_bytes()).hexdigest()
    assert first["size"] == (tmp_path / "a.out").stat().st_size
    assert first["unpacked_size"] == sum(len(p.read_bytes()) for p in one.rglob("*") if p.is_file() and not p.is_symlink())
    assert first["members"] == 13  # 7 files, 5 directories (bin, etc, share, share/doc, empty-dir), 1 symlink
    different = ba.build_archive(str(one), str(tmp_path / "d.out"), compression=compression, mtime=1700000000)
    assert different["sha256"] != first["sha256"]


def test_build_normalises_metadata(tmp_path):
    src = make_tree(tmp_path / "src")
    result = ba.build_archive(str(src), str(tmp_path / "out.tar.gz"), mtime=1700000000)
    raw = (tmp_path / "out.tar.gz").read_bytes()
    assert raw[:3] == b"\x1f\x8b\x08"
    assert raw[3] == 0, "gzip header must carry no file name (FLG must be 0)"
    assert raw[4:8] == b"\x00\x00\x00\x00", "gzip header mtime must be 0"
    with tarfile.open(str(tmp_path / "out.tar.gz")) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names, key=lambda n: n.split("/"))
    assert len(members) == result["members"]
    for member in members:
        assert (member.uid, member.gid, member.uname, member.gname, member.mtime) == (0, 0, "", "", 1700000000)
        assert not member.mode & 0o7000
        if member.isdir():
            assert member.mode == 0o755
    modes = {m.name: m.mode for m in members}
    assert modes["bin/tool"] == 0o755  # setuid stripped, exec kept
    assert modes["etc/app.conf"] == 0o644
    assert modes["etc/other.conf"] == 0o644
    assert {m.name: m.linkname for m in members if m.issym()} == {"bin/conf-link": "../etc/app.conf"}
    assert not list(tmp_path.glob(".out.tar.gz.*"))


@pytest.mark.parametrize("compression", ["gz", "xz", "none"])
def test_build_round_trip(tmp_path, compression):
    src = make_tree(tmp_path / "src")
    os.chmod(src / "bin" / "tool", 0o755)
    os.chmod(src / "etc" / "app.conf", 0o644)
    os.chmod(src / "etc" / "other.conf", 0o644)
    ba.build_archive(str(src), str(tmp_path / "out"), compression=compression)
    target = tmp_path / "staging"
    target.mkdir(mode=0o700)
    ba.extract_archive(str(tmp_path / "out"), str(target), ba.Limits())
    expected = ba.tree_inventory(str(src))
    assert ba.tree_inventory(str(target)) == expected
    assert ba.verify_tree(str(target), expected) == []


@pytest.mark.parametrize("setup,rule", [
    (lambda root: os.symlink("/etc/passwd", root / "abs"), "is absolute"),
    (lambda root: os.symlink("../../outside", root / "sub" / "esc"), "resolves outside"),
    (lambda root: os.mkfifo(root / "fifo"), "only files, directories and symlinks"),
    (lambda root: (root / "back\\slash").write_text("x"), "backslash"),
])
def test_build_refuses_unsafe_trees(tmp_path, setup, rule):
    root = tmp_path / "src"
    (root / "sub").mkdir(parents=True)
    (root / "ok").write_text("ok")
    setup(root)
    with pytest.raises(ArchiveError, match=rule):
        ba.build_archive(str(root), str(tmp_path / "out.tar.gz"))
    assert os.listdir(tmp_path) == ["src"], "no output or temp file may be left"


def test_build_refuses_output_inside_source_and_bad_options(tmp_path):
    root = make_tree(tmp_path / "src")
    with pytest.raises(ArchiveError, match="must not be inside"):
        ba.build_archive(str(root), str(root / "out.tar.gz"))
    with pytest.raises(ArchiveError, match="unsupported compression"):
        ba.build_archive(str(root), str(tmp_path / "o"), compression="zip")
    with pytest.raises(ArchiveError, match="mtime"):
        ba.build_archive(str(root), str(tmp_path / "o"), mtime=-1)


def test_build_replaces_existing_output_atomically(tmp_path):
    root = make_tree(tmp_path / "src")
    out = tmp_path / "out.tar.gz"
    out.write_bytes(b"old")
    result = ba.build_archive(str(root), str(out))
    assert hashlib.sha256(out.read_bytes()).hexdigest() == result["sha256"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


# --------------------------------------------------------------------------- inventory


def test_tree_inventory_shape(tmp_path):
    root = tmp_path / "r"
    (root / "d").mkdir(parents=True)
    (root / "d" / "f").write_bytes(b"abc")
    os.chmod(root / "d" / "f", 0o640)
    os.symlink("d/f", root / "l")
    inventory = ba.tree_inventory(str(root))
    assert inventory == [
        {"path": "d", "type": "dir", "size": 0, "mode": stat.S_IMODE(os.lstat(root / "d").st_mode), "sha256": None, "target": None},
        {"path": "d/f", "type": "file", "size": 3, "mode": 0o640, "sha256": hashlib.sha256(b"abc").hexdigest(), "target": None},
        {"path": "l", "type": "symlink", "size": 3, "mode": stat.S_IMODE(os.lstat(root / "l").st_mode), "sha256": None, "target": "d/f"},
    ]


def _same_size_edit(root):
    (root / "etc" / "app.conf").write_bytes(b"a=2\n")


def _grow(root):
    (root / "etc" / "app.conf").write_bytes(b"a=22\n")


def _remove(root):
    (root / "etc" / "other.conf").unlink()


def _add(root):
    (root / "etc" / "new.conf").write_text("n")


def _chmod(root):
    os.chmod(root / "bin" / "tool", 0o700)


def _retarget(root):
    os.unlink(root / "bin" / "conf-link")
    os.symlink("../etc/other.conf", root / "bin" / "conf-link")


def _file_to_dir(root):
    (root / "a-b").unlink()
    (root / "a-b").mkdir()


@pytest.mark.parametrize("change,expected", [
    (_same_size_edit, ["content changed: etc/app.conf"]),
    (_grow, ["size changed: etc/app.conf (expected 4 bytes, found 5)"]),
    (_remove, ["missing: etc/other.conf"]),
    (_add, ["extra: etc/new.conf (file)"]),
    (_chmod, ["mode changed: bin/tool (expected 0755, found 0700)"]),
    (_retarget, ["symlink target changed: bin/conf-link (expected '../etc/app.conf', found '../etc/other.conf')"]),
    (_file_to_dir, ["type changed: a-b (expected file, found dir)"]),
])
def test_verify_tree_reports_each_difference(tmp_path, change, expected):
    root = make_tree(tmp_path / "src")
    os.chmod(root / "bin" / "tool", 0o755)
    inventory = ba.tree_inventory(str(root))
    assert ba.verify_tree(str(root), inventory) == []
    change(root)
    problems = ba.verify_tree(str(root), inventory)
    assert len(problems) == len(expected)
    for problem, want in zip(problems, expected):
        assert problem.startswith(want)


def test_verify_tree_missing_root(tmp_path):
    assert ba.verify_tree(str(tmp_path / "gone"), []) == ["missing: root directory '%s'" % (tmp_path / "gone")]


@pytest.mark.parametrize("path, kind, size, mode, sha256, target", [
    ("a", "file", 0, 0o644, "0" * 64, None),
    ('dir "quoted"/back\\slash', "dir", 0, 0o755, None, None),
    ("caf\u00e9/\u65e5\u672c/\U0001f600", "symlink", 12, 0o777, None, "../t\u00e9/\"x\""),
    ("bad-\udcff-utf8", "file", 2 ** 40, 0o600, "f" * 64, None),
])
def test_inventory_lines_are_what_json_dumps_writes(path, kind, size, mode, sha256, target):
    """The inventory line is formatted by hand (no encoder per member); it must stay byte for byte
    the line json.dumps(sort_keys=True) writes, for any name tarfile can give (surrogate escapes too)."""
    out = io.StringIO()
    ba._inventory_line(out, path, kind, size, mode, sha256=sha256, target=target)
    entry = {"path": path, "type": kind, "size": size, "mode": mode, "sha256": sha256, "target": target}
    assert out.getvalue() == json.dumps(entry, sort_keys=True) + "\n"
    assert json.loads(out.getvalue()) == entry
