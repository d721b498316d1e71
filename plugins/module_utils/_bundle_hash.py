# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to groundwork.infra: streaming sha256/sha512 checks and verified stamps. Runs on managed hosts: standard library only."""

from __future__ import annotations

import errno
import hashlib
import hmac
import os
import time

from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import IntegrityError, StorageError

SUPPORTED_ALGORITHMS = ("sha256", "sha512")
BLOCK_SIZE = 1024 * 1024

# A stamp taken less than this long after the file's last change is not trusted:
# file timestamps come from a coarse kernel clock (one tick, up to 10 ms), so a
# rewrite in the same tick would keep mtime and ctime ("racy git" problem).
RACY_WINDOW_NS = 20 * 1000 * 1000
# File systems that only store whole seconds (ext3, some network mounts) need more.
RACY_WINDOW_COARSE_NS = 2 * 1000 * 1000 * 1000

_CONSTRUCTORS = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}
_HEX_LENGTH = {"sha256": 64, "sha512": 128}
_HEX_DIGITS = frozenset("0123456789abcdef")
_STAMP_STAT_FIELDS = ("size", "mtime_ns", "ino", "dev", "ctime_ns")
_SPACE_ERRNOS = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def new_hash(algorithm, component=None, file=None):
    """Return a fresh hashlib object; anything but sha256/sha512 fails closed."""
    if not isinstance(algorithm, str) or algorithm not in _CONSTRUCTORS:
        raise IntegrityError(
            "unsupported hash algorithm '%s' (sha256 or sha512 only)" % (algorithm,),
            component=component, file=file,
        )
    return _CONSTRUCTORS[algorithm]()


def _expected_digest(expected_digest, algorithm, component, file):
    """Validate and lower-case a digest from a manifest before anything is read."""
    if not isinstance(expected_digest, str):
        raise IntegrityError("expected %s digest is missing or not a string" % algorithm, component=component, file=file)
    digest = expected_digest.strip().lower()
    if len(digest) != _HEX_LENGTH[algorithm] or not _HEX_DIGITS.issuperset(digest):
        raise IntegrityError(
            "expected %s digest '%s' is not %d hexadecimal characters" % (algorithm, expected_digest, _HEX_LENGTH[algorithm]),
            component=component, file=file,
        )
    return digest


def _expected_size(expected_size, component, file):
    if isinstance(expected_size, bool) or not isinstance(expected_size, int) or expected_size < 0:
        raise IntegrityError("expected size '%s' is not a non-negative integer" % (expected_size,), component=component, file=file)
    return expected_size


def digests_equal(expected, actual):
    """Case-insensitive, constant-time comparison of two hex digests."""
    if not isinstance(expected, str) or not isinstance(actual, str):
        return False
    return hmac.compare_digest(expected.strip().lower().encode("ascii", "replace"), actual.strip().lower().encode("ascii", "replace"))


def _storage_error(exc, target, component, file):
    if exc.errno in _SPACE_ERRNOS:
        return StorageError("no space left on device while writing %s (%s)" % (target, exc.strerror or exc), component=component, file=file)
    return StorageError("write failed for %s: %s" % (target, exc), component=component, file=file)


def _write_all(dst, view):
    """Write a whole memoryview; raw (unbuffered) files may write less than asked."""
    while len(view):
        written = dst.write(view)
        if written is None:
            # Non-blocking raw stream that would block: not something we use.
            raise OSError(errno.EAGAIN, "destination would block")
        view = view[written:]


def _stream(src, dst, hasher, limit, target, component, file):
    """Copy/hash at most ``limit`` bytes from src; return the count.

    ``dst`` may be None (hash only). Reads never ask for more than ``limit``
    bytes in total, so an endless source is cut off right after the limit.
    """
    view = memoryview(bytearray(BLOCK_SIZE))
    total = 0
    readinto = getattr(src, "readinto", None)
    while total < limit:
        want = min(BLOCK_SIZE, limit - total)
        if readinto is not None:
            count = readinto(view[:want])
            if not count:
                break
            chunk = view[:count]
        else:
            data = src.read(want)
            if not data:
                break
            count = len(data)
            chunk = memoryview(data)
        hasher.update(chunk)
        total += count
        if dst is not None:
            try:
                _write_all(dst, chunk)
            except OSError as exc:
                raise _storage_error(exc, target, component, file) from exc
    if dst is not None:
        try:
            dst.flush()
        except OSError as exc:
            raise _storage_error(exc, target, component, file) from exc
    return total


def _check_result(algorithm, digest, got, total, expected_size, component, file):
    if total > expected_size:
        raise IntegrityError("larger than the declared %d bytes" % expected_size, component=component, file=file)
    if total < expected_size:
        raise IntegrityError("truncated: got %d of %d bytes" % (total, expected_size), component=component, file=file)
    if not hmac.compare_digest(digest.encode("ascii"), got.encode("ascii")):
        raise IntegrityError("%s mismatch: expected %s, got %s" % (algorithm, digest, got), component=component, file=file)


def hash_file(path, algorithm="sha256"):
    """Hash a whole file; return ``(hexdigest, size)``."""
    hasher = new_hash(algorithm, file=path)
    buf = bytearray(BLOCK_SIZE)
    view = memoryview(buf)
    size = 0
    with open(path, "rb", buffering=0) as handle:
        if hasattr(os, "posix_fadvise"):
            try:
                os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)  # larger read-ahead when not cached
            except OSError:
                pass
        readinto = handle.readinto
        update = hasher.update
        while True:
            count = readinto(buf)
            if not count:
                break
            if count == BLOCK_SIZE:
                update(buf)
            else:
                update(view[:count])
            size += count
    return hasher.hexdigest(), size


def copy_verified(src, dst, expected_digest, expected_size, algorithm="sha256", component=None, file=None):
    """Copy src to dst (open binary files) while hashing; fail unless size and digest match.

    Never reads more than ``expected_size + 1`` bytes from ``src``. Bytes past the
    declared size are not written. The caller owns both files (and removes dst on error).
    """
    hasher = new_hash(algorithm, component=component, file=file)
    digest = _expected_digest(expected_digest, algorithm, component, file)
    expected_size = _expected_size(expected_size, component, file)
    target = getattr(dst, "name", None)
    target = "'%s'" % target if isinstance(target, (str, bytes)) else "the destination"

    class _Capped:
        """Write-through that refuses to write past the declared size."""

        def __init__(self):
            self.written = 0

        def write(self, view):
            room = expected_size - self.written
            if len(view) > room:
                raise IntegrityError("larger than the declared %d bytes" % expected_size, component=component, file=file)
            _write_all(dst, view)
            self.written += len(view)
            return len(view)

        def flush(self):
            dst.flush()

    total = _stream(src, _Capped(), hasher, expected_size + 1, target, component, file)
    got = hasher.hexdigest()
    _check_result(algorithm, digest, got, total, expected_size, component, file)
    return {"bytes": total, "digest": got}


def verify_file(path, expected_digest, expected_size, algorithm="sha256", component=None, file=None):
    """Check a file on disk: size by stat first (fast fail), then the digest."""
    new_hash(algorithm, component=component, file=file)
    digest = _expected_digest(expected_digest, algorithm, component, file)
    expected_size = _expected_size(expected_size, component, file)
    try:
        actual = os.stat(path).st_size
    except FileNotFoundError:
        raise IntegrityError("missing: %s does not exist" % path, component=component, file=file) from None
    if actual > expected_size:
        raise IntegrityError("larger than the declared %d bytes (file has %d)" % (expected_size, actual), component=component, file=file)
    if actual < expected_size:
        raise IntegrityError("truncated: got %d of %d bytes" % (actual, expected_size), component=component, file=file)
    hasher = new_hash(algorithm, component=component, file=file)
    with open(path, "rb", buffering=0) as handle:
        total = _stream(handle, None, hasher, expected_size + 1, path, component, file)
    got = hasher.hexdigest()
    _check_result(algorithm, digest, got, total, expected_size, component, file)
    return {"bytes": total, "digest": got}


def make_stamp(path, digest, algorithm="sha256"):
    """Record what was verified so a later run can skip re-hashing an unchanged file.

    Take it once the file is at its final path with its final mode: a rename or
    chmod changes ctime and so invalidates the stamp. Besides size, mtime_ns,
    ino, dev, ctime_ns, algorithm and digest the stamp holds ``stamped_ns``
    (when it was taken), used to distrust stamps taken within one timestamp
    tick of the file's last change.
    """
    new_hash(algorithm, file=path)
    digest = _expected_digest(digest, algorithm, None, path)
    st = os.stat(path)
    return {
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "ino": st.st_ino,
        "dev": st.st_dev,
        "ctime_ns": st.st_ctime_ns,
        "algorithm": algorithm,
        "digest": digest,
        "stamped_ns": time.time_ns(),
    }


def _racy(stamp):
    """True when the file changed too shortly before the stamp to trust timestamps."""
    stamped = stamp.get("stamped_ns")
    if isinstance(stamped, bool) or not isinstance(stamped, int):
        return False  # stamp from elsewhere without the field: trust the stat fields alone
    changed = max(stamp["mtime_ns"], stamp["ctime_ns"])
    window = RACY_WINDOW_NS
    if stamp["mtime_ns"] % 1000000000 == 0 and stamp["ctime_ns"] % 1000000000 == 0:
        window = RACY_WINDOW_COARSE_NS
    return stamped - changed < window


def stamp_matches(path, stamp, digest, algorithm="sha256"):
    """True only if ``path`` is the very file (same stat fields) the stamp recorded with this digest."""
    if not isinstance(stamp, dict) or algorithm not in _CONSTRUCTORS or stamp.get("algorithm") != algorithm:
        return False
    if not isinstance(digest, str) or len(digest.strip()) != _HEX_LENGTH[algorithm] or not digests_equal(stamp.get("digest"), digest):
        return False
    for field in _STAMP_STAT_FIELDS:
        value = stamp.get(field)
        if isinstance(value, bool) or not isinstance(value, int):
            return False
    try:
        st = os.stat(path)
    except OSError:
        return False
    current = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev, st.st_ctime_ns)
    if current != tuple(stamp[field] for field in _STAMP_STAT_FIELDS):
        return False
    return not _racy(stamp)
