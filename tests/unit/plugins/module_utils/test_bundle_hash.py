# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for _bundle_hash: fail-closed algorithms, size/digest checks, disk full, stamps."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import subprocess
import threading
import time

import pytest

from ansible_collections.groundwork.infra.plugins.module_utils import _bundle_hash as bh
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import IntegrityError, StorageError

MIB = 1024 * 1024


def sha(data, algorithm="sha256"):
    return hashlib.new(algorithm, data).hexdigest()


def settle():
    """Let the racy-stamp window pass after the last write to a file."""
    time.sleep(bh.RACY_WINDOW_NS / 1e9 * 1.5)


class CountingSource:
    """A source that would give ``available`` bytes (None = endless); records how much was read."""

    def __init__(self, available=None, byte=b"A", readinto=True):
        self.available = available
        self.byte = byte
        self.read_total = 0
        self.largest_request = 0
        if not readinto:
            self.readinto = None

    def _take(self, want):
        self.largest_request = max(self.largest_request, want)
        if self.available is not None:
            want = min(want, self.available - self.read_total)
        self.read_total += want
        return want

    def readinto(self, buf):  # pylint: disable=method-hidden
        count = self._take(len(buf))
        buf[:count] = self.byte * count
        return count

    def read(self, size):
        return self.byte * self._take(size)


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


# --------------------------------------------------------------------------- algorithms


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_new_hash_supported(algorithm):
    hasher = bh.new_hash(algorithm)
    hasher.update(b"abc")
    assert hasher.hexdigest() == sha(b"abc", algorithm)
    assert bh.SUPPORTED_ALGORITHMS == ("sha256", "sha512")


@pytest.mark.parametrize(
    "algorithm",
    ["md5", "sha1", "sha224", "sha384", "SHA256", "SHA-256", "SHA-256 ", " sha256", "sha256 ", "sha-256", "blake2b", "blake2s",
     "sha3_256", "", None, 256, b"sha256"],
)
def test_unsupported_algorithm_fails_closed(algorithm, tmp_path):
    with pytest.raises(IntegrityError, match=r"unsupported hash algorithm '.*' \(sha256 or sha512 only\)") as err:
        bh.new_hash(algorithm, component="web", file="app.tar.gz")
    assert err.value.component == "web" and err.value.file == "app.tar.gz"
    path = tmp_path / "f"
    path.write_bytes(b"data")
    good = sha(b"data")
    for call in (
        lambda: bh.hash_file(str(path), algorithm),
        lambda: bh.copy_verified(io.BytesIO(b"data"), io.BytesIO(), good, 4, algorithm=algorithm),
        lambda: bh.verify_file(str(path), good, 4, algorithm=algorithm),
        lambda: bh.make_stamp(str(path), good, algorithm),
    ):
        with pytest.raises(IntegrityError, match="unsupported hash algorithm"):
            call()
    assert bh.stamp_matches(str(path), {"algorithm": algorithm}, good, algorithm) is False


# --------------------------------------------------------------------------- hash_file


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
@pytest.mark.parametrize("size", [0, 1, bh.BLOCK_SIZE - 1, bh.BLOCK_SIZE, bh.BLOCK_SIZE + 1, 3 * bh.BLOCK_SIZE + 5])
def test_hash_file_matches_hashlib(tmp_path, size, algorithm):
    data = os.urandom(size)
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert bh.hash_file(str(path), algorithm) == (sha(data, algorithm), size)


def test_hash_file_reads_whole_blocks_into_one_buffer(tmp_path, monkeypatch):
    """The hot path: readinto() of BLOCK_SIZE into one preallocated buffer, never read()."""
    path = tmp_path / "big"
    path.write_bytes(os.urandom(3 * bh.BLOCK_SIZE + 10))
    buffers = []

    class Recorder(io.FileIO):
        def readinto(self, buf):
            buffers.append((id(buf), len(buf)))
            return super().readinto(buf)

        def read(self, *_args):
            raise AssertionError("hash_file must use readinto, not read")

    monkeypatch.setattr(bh, "open", lambda name, *_a, **_k: Recorder(name, "rb"), raising=False)
    assert bh.hash_file(str(path)) == (sha(path.read_bytes()), 3 * bh.BLOCK_SIZE + 10)
    assert len(buffers) == 5  # 4 reads with data + the one that sees EOF
    assert {size for _ident, size in buffers} == {bh.BLOCK_SIZE}
    assert len({ident for ident, _size in buffers}) == 1


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
@pytest.mark.parametrize("size", [0, 1, bh.BLOCK_SIZE - 1, bh.BLOCK_SIZE, bh.BLOCK_SIZE + 1, 7 * bh.BLOCK_SIZE + 5])
def test_hash_file_pipelined_matches_hashlib(tmp_path, size, algorithm, monkeypatch):
    """Big files: read here, hashed by the helper thread, buffers in rotation; same digest."""
    monkeypatch.setattr(bh, "PIPELINE_MIN_SIZE", 0)
    data = os.urandom(size)
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert bh.hash_file(str(path), algorithm) == (sha(data, algorithm), size)


def test_hash_file_pipeline_used_from_the_threshold(tmp_path, monkeypatch):
    used = []
    real = bh._hash_pipelined
    monkeypatch.setattr(bh, "_hash_pipelined", lambda *a: used.append(1) or real(*a))
    small = tmp_path / "small"
    small.write_bytes(b"x" * (bh.PIPELINE_MIN_SIZE - 1))
    big = tmp_path / "big"
    big.write_bytes(b"y" * bh.PIPELINE_MIN_SIZE)
    assert bh.hash_file(str(small))[0] == sha(small.read_bytes())
    assert used == []
    assert bh.hash_file(str(big))[0] == sha(big.read_bytes())
    assert used == [1]


def test_pipelined_read_error_propagates_and_the_helper_stops():
    calls = []

    def readinto(buf):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(errno.EIO, "Input/output error")
        buf[:] = b"a" * len(buf)
        return len(buf)

    before = threading.active_count()
    with pytest.raises(OSError, match="Input/output error"):
        bh._hash_pipelined(readinto, hashlib.sha256(), 1 << 40)
    assert threading.active_count() == before


def test_hash_worker_reports_a_failing_update():
    class Broken:
        def update(self, _data):
            raise ValueError("boom")

    worker = bh.HashWorker()
    worker.update(Broken(), b"x")
    with pytest.raises(ValueError, match="boom"):
        worker.close()


# --------------------------------------------------------------------------- open_verified_in_place


def test_open_verified_in_place_good(tmp_path):
    data = os.urandom(9 * bh.BLOCK_SIZE + 3)
    path = tmp_path / "a.tar"
    path.write_bytes(data)
    os.chmod(path, 0o600)
    handle, info = bh.open_verified_in_place(str(path), sha(data), len(data))
    with handle:
        assert info == {"bytes": len(data), "digest": sha(data), "checked": "sha256"}
        assert handle.tell() == 0
        assert handle.read() == data


@pytest.mark.parametrize("change, rule", [
    (lambda d: d[:-1] + bytes([d[-1] ^ 1]), "sha256 mismatch: expected"),  # same size, one bit
    (lambda d: d[:-1], "truncated: got"),
    (lambda d: d + b"\0", "larger than the declared"),
])
def test_open_verified_in_place_detects_changes(tmp_path, change, rule):
    data = os.urandom(2 * bh.BLOCK_SIZE)
    path = tmp_path / "a.tar"
    path.write_bytes(change(data))
    fds = len(os.listdir("/proc/self/fd"))
    with pytest.raises(IntegrityError, match=rule):
        bh.open_verified_in_place(str(path), sha(data), len(data), component="c", file="a.tar")
    assert len(os.listdir("/proc/self/fd")) == fds  # the handle was closed


@pytest.mark.parametrize("mode", [0o620, 0o602, 0o666])
def test_open_verified_in_place_refuses_files_others_can_write(tmp_path, mode):
    data = b"payload"
    path = tmp_path / "a.tar"
    path.write_bytes(data)
    os.chmod(path, mode)
    assert bh.open_verified_in_place(str(path), sha(data), len(data)) == (None, None)


def test_open_verified_in_place_refuses_other_owners(tmp_path, monkeypatch):
    data = b"payload"
    path = tmp_path / "a.tar"
    path.write_bytes(data)
    os.chmod(path, 0o644)
    monkeypatch.setattr(bh.os, "geteuid", lambda: os.stat(path).st_uid + 1)
    assert bh.open_verified_in_place(str(path), sha(data), len(data)) == (None, None)


# --------------------------------------------------------------------------- copy_verified

PAYLOAD = os.urandom(3 * MIB + 123)


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
@pytest.mark.parametrize("readinto", [True, False], ids=["readinto", "read-only-source"])
def test_copy_verified_good(algorithm, readinto):
    src = io.BytesIO(PAYLOAD)
    if not readinto:
        src = CountingSourceFromBytes(PAYLOAD)
    dst = io.BytesIO()
    digest = sha(PAYLOAD, algorithm)
    result = bh.copy_verified(src, dst, digest.upper(), len(PAYLOAD), algorithm=algorithm)
    assert result == {"bytes": len(PAYLOAD), "digest": digest}
    assert dst.getvalue() == PAYLOAD


class CountingSourceFromBytes:
    """read()-only file object (no readinto), like some HTTP response wrappers."""

    def __init__(self, data):
        self._io = io.BytesIO(data)

    def read(self, size=-1):
        return self._io.read(size)


def test_copy_verified_digest_mismatch_names_both():
    data = b"tampered content"
    expected = sha(b"original content")
    with pytest.raises(IntegrityError) as err:
        bh.copy_verified(io.BytesIO(data), io.BytesIO(), expected, len(data), component="web", file="web.tar.gz")
    message = str(err.value)
    assert "sha256 mismatch: expected %s, got %s" % (expected, sha(data)) in message
    assert "component 'web'" in message and "file 'web.tar.gz'" in message


def test_copy_verified_sha512_mismatch():
    data = b"x" * 10
    expected = sha(b"y" * 10, "sha512")
    with pytest.raises(IntegrityError, match="sha512 mismatch: expected %s, got %s" % (expected, sha(data, "sha512"))):
        bh.copy_verified(io.BytesIO(data), io.BytesIO(), expected, 10, algorithm="sha512")


def test_copy_verified_truncated():
    data = b"0123456789"
    with pytest.raises(IntegrityError, match=r"truncated: got 5 of 10 bytes"):
        bh.copy_verified(io.BytesIO(data[:5]), io.BytesIO(), sha(data), 10)


@pytest.mark.parametrize("readinto", [True, False])
@pytest.mark.parametrize("expected_size", [0, 1, 1000, bh.BLOCK_SIZE, 2 * bh.BLOCK_SIZE + 7])
def test_copy_verified_oversize_reads_at_most_one_extra_byte(expected_size, readinto):
    src = CountingSource(available=None, readinto=readinto)  # endless data
    dst = io.BytesIO()
    with pytest.raises(IntegrityError, match=r"larger than the declared %d bytes" % expected_size):
        bh.copy_verified(src, dst, sha(b"A" * expected_size), expected_size)
    assert src.read_total <= expected_size + 1
    assert len(dst.getvalue()) <= expected_size


def test_copy_verified_larger_file_stops_early(tmp_path):
    path = tmp_path / "big"
    path.write_bytes(b"B" * (5 * MIB))
    with open(path, "rb") as src:
        with pytest.raises(IntegrityError, match="larger than the declared 1000 bytes"):
            bh.copy_verified(src, io.BytesIO(), sha(b"B" * 1000), 1000)
        assert src.tell() <= 1001


@pytest.mark.parametrize("digest", ["", "abc", "z" * 64, "a" * 63, "a" * 65, "a" * 128, None, 42])
def test_copy_verified_malformed_expected_digest_reads_nothing(digest):
    src = CountingSource(available=100)
    with pytest.raises(IntegrityError, match="digest"):
        bh.copy_verified(src, io.BytesIO(), digest, 100)
    assert src.read_total == 0


@pytest.mark.parametrize("size", [-1, None, "10", 1.5, True])
def test_copy_verified_bad_expected_size(size):
    with pytest.raises(IntegrityError, match="expected size"):
        bh.copy_verified(io.BytesIO(b""), io.BytesIO(), sha(b""), size)


def test_copy_verified_compares_in_constant_time(monkeypatch):
    calls = []
    real = bh.hmac.compare_digest

    def spy(left, right):
        calls.append((left, right))
        return real(left, right)

    monkeypatch.setattr(bh.hmac, "compare_digest", spy)
    bh.copy_verified(io.BytesIO(b"abc"), io.BytesIO(), sha(b"abc").upper(), 3)
    assert calls, "digest comparison must go through hmac.compare_digest"


class FullDisk(io.RawIOBase):
    name = "/srv/out.part"

    def writable(self):
        return True

    def write(self, _b):
        raise OSError(errno.ENOSPC, "No space left on device")


def test_copy_verified_enospc_becomes_storage_error():
    with pytest.raises(StorageError, match="no space left on device while writing '/srv/out.part'") as err:
        bh.copy_verified(io.BytesIO(b"x" * 100), FullDisk(), sha(b"x" * 100), 100, component="web", file="w.tgz")
    assert err.value.component == "web"


def test_copy_verified_disk_full_on_real_tmpfs(small_tmpfs):
    data = os.urandom(MIB)
    dst_path = small_tmpfs / "artifact.part"
    with pytest.raises(StorageError, match="no space left on device while writing"):
        with open(dst_path, "wb") as dst:
            bh.copy_verified(io.BytesIO(data), dst, sha(data), len(data))
    # The caller removes its temp file; afterwards nothing is left and the space is back.
    dst_path.unlink()
    assert not os.listdir(small_tmpfs)
    stats = os.statvfs(small_tmpfs)
    assert stats.f_bfree * stats.f_frsize >= 500 * 1024


# --------------------------------------------------------------------------- verify_file


def test_verify_file_good(tmp_path):
    path = tmp_path / "a"
    path.write_bytes(PAYLOAD)
    assert bh.verify_file(str(path), sha(PAYLOAD), len(PAYLOAD)) == {"bytes": len(PAYLOAD), "digest": sha(PAYLOAD)}


@pytest.mark.parametrize("actual,expected,rule", [
    (b"x" * 11, 10, "larger than the declared 10 bytes"),
    (b"x" * 9, 10, "truncated: got 9 of 10 bytes"),
])
def test_verify_file_size_checked_before_hashing(tmp_path, monkeypatch, actual, expected, rule):
    path = tmp_path / "a"
    path.write_bytes(actual)

    def no_hashing(*_args, **_kwargs):
        raise AssertionError("hashed although the size was already wrong")

    monkeypatch.setattr(bh, "_stream", no_hashing)
    with pytest.raises(IntegrityError, match=rule):
        bh.verify_file(str(path), sha(b"x" * expected), expected)


def test_verify_file_digest_mismatch(tmp_path):
    path = tmp_path / "a"
    path.write_bytes(b"evil")
    with pytest.raises(IntegrityError, match="sha256 mismatch: expected %s, got %s" % (sha(b"good"), sha(b"evil"))):
        bh.verify_file(str(path), sha(b"good"), 4, component="c", file="a")


def test_verify_file_missing(tmp_path):
    with pytest.raises(IntegrityError, match="missing"):
        bh.verify_file(str(tmp_path / "nope"), sha(b""), 0)


# --------------------------------------------------------------------------- stamps


@pytest.fixture
def stamped(tmp_path):
    path = tmp_path / "artifact.tar.gz"
    path.write_bytes(b"release-1" * 1000)
    settle()
    digest = sha(path.read_bytes())
    return path, digest, bh.make_stamp(str(path), digest)


def test_make_stamp_fields(stamped):
    path, digest, stamp = stamped
    st = os.stat(path)
    assert stamp["size"] == st.st_size
    assert stamp["mtime_ns"] == st.st_mtime_ns
    assert stamp["ctime_ns"] == st.st_ctime_ns
    assert (stamp["ino"], stamp["dev"]) == (st.st_ino, st.st_dev)
    assert stamp["algorithm"] == "sha256" and stamp["digest"] == digest


def test_stamp_matches_unchanged_file_and_survives_json(stamped):
    path, digest, stamp = stamped
    assert bh.stamp_matches(str(path), stamp, digest)
    assert bh.stamp_matches(str(path), json.loads(json.dumps(stamp)), digest.upper())


def _rewrite_same_size(path):
    st = os.stat(path)
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    with open(path, "r+b") as handle:
        handle.write(bytes(data))
    # Even an attacker who restores the mtime cannot restore the ctime.
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _replace_with_copy(path):
    st = os.stat(path)
    other = path.with_name("other")
    other.write_bytes(path.read_bytes())
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(other, path)


def _append(path):
    with open(path, "ab") as handle:
        handle.write(b"x")


def _truncate(path):
    os.truncate(path, 5)


def _touch(path):
    os.utime(path, ns=(0, 123456789))


def _chmod(path):
    os.chmod(path, 0o600)


def _delete(path):
    path.unlink()


@pytest.mark.parametrize("change", [_rewrite_same_size, _replace_with_copy, _append, _truncate, _touch, _chmod, _delete])
def test_stamp_no_longer_matches_after_change(stamped, change):
    path, digest, stamp = stamped
    change(path)
    assert bh.stamp_matches(str(path), stamp, digest) is False


def test_stamp_rewrite_in_the_same_clock_tick_is_not_trusted(tmp_path):
    """A stamp taken within one timestamp tick of the last write is never trusted."""
    path = tmp_path / "a"
    path.write_bytes(b"abcdef")
    digest = sha(b"abcdef")
    st = os.stat(path)
    stamp = bh.make_stamp(str(path), digest)
    stamp["stamped_ns"] = max(st.st_mtime_ns, st.st_ctime_ns) + 1000  # as if stamped right after the write
    assert bh.stamp_matches(str(path), stamp, digest) is False
    stamp["stamped_ns"] = max(st.st_mtime_ns, st.st_ctime_ns) + bh.RACY_WINDOW_NS + 1
    assert bh.stamp_matches(str(path), stamp, digest) is True


@pytest.mark.parametrize("mutate", [
    lambda s, d: (s, sha(b"other")),
    lambda s, d: (dict(s, algorithm="sha512"), d),
    lambda s, d: (dict(s, digest=sha(b"other")), d),
    lambda s, d: (dict(s, size=str(s["size"])), d),
    lambda s, d: (dict(s, ino=s["ino"] + 1), d),
    lambda s, d: (dict(s, dev=s["dev"] + 1), d),
    lambda s, d: (dict(s, size=s["size"] + 1), d),
    lambda s, d: ({k: v for k, v in s.items() if k != "ino"}, d),
    lambda s, d: (None, d),
    lambda s, d: ("not a dict", d),
    lambda s, d: (s, None),
    lambda s, d: (s, d[:10]),
], ids=["other-digest", "other-algorithm", "stamp-digest", "bad-field", "other-inode", "other-device", "other-size",
        "missing-field", "none", "str", "no-digest", "short-digest"])
def test_stamp_mismatch_on_bad_stamp_or_digest(stamped, mutate):
    path, digest, stamp = stamped
    stamp, digest = mutate(stamp, digest)
    assert bh.stamp_matches(str(path), stamp, digest) is False


def test_stamp_sha512(tmp_path):
    path = tmp_path / "a"
    path.write_bytes(b"z" * 100)
    settle()
    digest = sha(b"z" * 100, "sha512")
    stamp = bh.make_stamp(str(path), digest, "sha512")
    assert bh.stamp_matches(str(path), stamp, digest, "sha512")
    assert not bh.stamp_matches(str(path), stamp, digest, "sha256")


# --------------------------------------------------------------------------- a stamp read beside a file verified in place


@pytest.fixture
def stamped_in_place(tmp_path):
    """A private archive and its private stamp, as the controller's artifact cache leaves them."""
    data = os.urandom(2 * bh.BLOCK_SIZE + 7)
    path = tmp_path / "a.tar"
    path.write_bytes(data)
    os.chmod(path, 0o600)
    settle()
    stamp = tmp_path / "a.tar.stamp"
    stamp.write_text(json.dumps(bh.make_stamp(str(path), sha(data))))
    os.chmod(stamp, 0o600)
    return path, stamp, data


def test_matching_private_stamp_spares_the_hash(stamped_in_place, monkeypatch):
    path, stamp, data = stamped_in_place
    monkeypatch.setattr(bh, "hash_stream", lambda *args, **kwargs: pytest.fail("hashed although the stamp vouches for the file"))
    handle, info = bh.open_verified_in_place(str(path), sha(data), len(data), stamp_path=str(stamp))
    with handle:
        assert info == {"bytes": len(data), "digest": sha(data), "checked": "stamp"}
        assert handle.read() == data


def _rewrite_same_size(path, stamp, data):
    path.write_bytes(bytes([data[0] ^ 1]) + data[1:])  # same size: only mtime and ctime tell


def _other_digest(path, stamp, data):
    record = json.loads(stamp.read_text())
    record["digest"] = sha(b"other")
    stamp.write_text(json.dumps(record))


def _stamp_others_can_write(path, stamp, data):
    os.chmod(stamp, 0o666)


def _stamp_of_another_user(path, stamp, data):
    os.chown(stamp, 4242, 4242)


def _stamp_is_a_symlink(path, stamp, data):
    real = stamp.with_name("elsewhere.stamp")
    os.replace(stamp, real)
    stamp.symlink_to(real)


def _stamp_is_garbage(path, stamp, data):
    stamp.write_text("{not json")


def _stamp_too_big(path, stamp, data):
    record = json.loads(stamp.read_text())
    record["padding"] = "x" * bh.STAMP_MAX
    stamp.write_text(json.dumps(record))


@pytest.mark.parametrize("change", [_rewrite_same_size, _other_digest, _stamp_others_can_write, _stamp_of_another_user,
                                    _stamp_is_a_symlink, _stamp_is_garbage, _stamp_too_big])
def test_a_stamp_that_does_not_vouch_means_hashing(stamped_in_place, change):
    """The file is hashed whenever the stamp is not a private file of ours recording this very file
    with this digest; a file changed after its stamp is then caught by the hash."""
    if change is _stamp_of_another_user and os.geteuid() != 0:
        pytest.skip("chown to another user needs root")
    path, stamp, data = stamped_in_place
    change(path, stamp, data)
    if change is _rewrite_same_size:
        with pytest.raises(IntegrityError, match="sha256 mismatch"):
            bh.open_verified_in_place(str(path), sha(data), len(data), stamp_path=str(stamp))
        return
    handle, info = bh.open_verified_in_place(str(path), sha(data), len(data), stamp_path=str(stamp))
    with handle:
        assert info["checked"] == "sha256"


def test_stamp_vouches_for_the_open_file_not_the_path(stamped_in_place, tmp_path, monkeypatch):
    """The stamp is compared with the handle that is returned: a path swapped to another file of
    ours between open and fstat cannot borrow the stamp of the file it replaced."""
    path, stamp, data = stamped_in_place
    other = tmp_path / "b.tar"
    other.write_bytes(data)
    os.chmod(other, 0o600)
    real_open = os.open

    def open_other(name, *args, **kwargs):
        # The path is looked at (stat) first, then opened: the swap happens in between.
        return real_open(str(other) if str(name) == str(path) else name, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_other)
    handle, info = bh.open_verified_in_place(str(path), sha(data), len(data), stamp_path=str(stamp))
    with handle:
        assert info["checked"] == "sha256"  # same bytes, but not the file the stamp describes
