# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to groundwork.infra: streaming sha256/sha512 checks, verified stamps, write-back and fsync. Runs on managed hosts: standard library only."""

from __future__ import annotations

import errno
import hashlib
import hmac
import json
import os
import queue
import stat
import threading
import time

from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import IntegrityError, StorageError, storage_error

SUPPORTED_ALGORITHMS = ("sha256", "sha512")
BLOCK_SIZE = 1024 * 1024
# Big files being written are written back to disk in steps of this many bytes (WriteBehind).
WRITE_BEHIND_STEP = 32 * BLOCK_SIZE
# Files at least this big are hashed in a pipeline: this thread copies the next block
# out of the page cache while a helper thread hashes the previous one (both release
# the GIL), so reading costs almost nothing on top of hashing when a second core is free.
PIPELINE_MIN_SIZE = 8 * BLOCK_SIZE
PIPELINE_BUFFERS = 3
_UNLIMITED = 1 << 62

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
# A stamp is a few hundred bytes; anything bigger is not one.
STAMP_MAX = 64 * 1024


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
                raise storage_error(exc, "writing %s" % target, component, file) from exc
    if dst is not None:
        try:
            dst.flush()
        except OSError as exc:
            raise storage_error(exc, "writing %s" % target, component, file) from exc
    return total


def _check_result(algorithm, digest, got, total, expected_size, component, file):
    if total > expected_size:
        raise IntegrityError("larger than the declared %d bytes" % expected_size, component=component, file=file)
    if total < expected_size:
        raise IntegrityError("truncated: got %d of %d bytes" % (total, expected_size), component=component, file=file)
    if not hmac.compare_digest(digest.encode("ascii"), got.encode("ascii")):
        raise IntegrityError("%s mismatch: expected %s, got %s" % (algorithm, digest, got), component=component, file=file)


class HashWorker:
    """A helper thread that applies ``hasher.update(data)`` in the order given.

    ``data`` must not change until the worker is done with it: pass immutable
    ``bytes``, or a buffer plus a ``done`` callback that hands it back. ``close()``
    waits for every update and re-raises the first failure. Standard library only.
    """

    def __init__(self, depth=4):
        self._queue = queue.Queue(depth)
        self._failure = None
        self._thread = threading.Thread(target=self._run, name="groundwork-hash", daemon=True)
        self._thread.start()

    def _run(self):
        while True:
            item = self._queue.get()
            if item is None:
                return
            hasher, data, done = item
            if self._failure is None and hasher is not None:
                try:
                    hasher.update(data)
                except BaseException as exc:  # pylint: disable=broad-except
                    self._failure = exc
            if done is not None:
                done()

    def update(self, hasher, data, done=None):
        if self._failure is not None:
            raise self._failure
        self._queue.put((hasher, data, done))

    def drain(self):
        """Wait until every update queued so far is applied; raise the first failure."""
        if self._thread is not None:
            applied = threading.Event()
            self._queue.put((None, None, applied.set))
            applied.wait()
        if self._failure is not None:
            raise self._failure

    def close(self):
        """Wait for the queued updates; raise the first failure. Safe to call twice."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if self._failure is not None:
            raise self._failure


class WriteBehind:
    """A helper thread that writes a file's dirty pages back to disk while the file is still being written.

    Call ``wrote(count)`` after each write: every ``step`` bytes it asks for one
    fdatasync() of everything written so far (requests that come while one runs are
    folded into the next). The fsync that makes the file durable then has almost
    nothing left to write, instead of the whole file. ``close()`` returns the first
    failure instead of dropping it: Linux reports a write-back error to one fsync
    only, so the caller's own fsync might not see it again. Standard library only.
    """

    def __init__(self, fd, step):
        self._fd = fd
        self._step = step
        self._unflushed = 0
        self._wanted = threading.Event()
        self._stop = False
        self._failure = None
        self._thread = threading.Thread(target=self._run, name="groundwork-write-behind", daemon=True)
        self._thread.start()

    def _run(self):
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._stop:
                return
            if self._failure is None:
                try:
                    os.fdatasync(self._fd)
                except BaseException as exc:  # pylint: disable=broad-except
                    self._failure = exc

    def wrote(self, count):
        self._unflushed += count
        if self._unflushed >= self._step:
            self._unflushed = 0
            self._wanted.set()

    def close(self):
        """Stop the thread (after the fdatasync under way, if any); return its first failure or None."""
        if self._thread is not None:
            self._stop = True
            self._wanted.set()
            self._thread.join()
            self._thread = None
        return self._failure


def fsync_dir(path):
    """Make the entries of a directory (and its mode) durable. Raises OSError."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_SYNCFS = []  # [libc syncfs function, or None when this system has none usable]


def _syncfs_function():
    """libc's syncfs(2), when the kernel reports write-back errors through it (Linux 5.8 and later)."""
    if not _SYNCFS:
        function = None
        try:
            release = os.uname().release.split("-")[0].split(".")
            if os.uname().sysname == "Linux" and (int(release[0]), int(release[1])) >= (5, 8):
                import ctypes  # pylint: disable=import-outside-toplevel
                function = ctypes.CDLL(None, use_errno=True).syncfs
                function.argtypes = [ctypes.c_int]
                function.restype = ctypes.c_int
        except (ImportError, OSError, AttributeError, ValueError, IndexError):
            function = None
        _SYNCFS.append(function)
    return _SYNCFS[0]


def syncfs(fd):
    """Write back everything of the filesystem that holds ``fd`` (data, metadata, journal): syncfs(2).

    Returns False when that is not available here (not Linux, or a kernel before 5.8,
    whose syncfs did not report write-back errors); raises OSError when it fails. Since
    Linux 5.8 syncfs reports a write-back error of that filesystem that happened after
    ``fd`` was opened, so the caller opens ``fd`` before it writes.
    """
    function = _syncfs_function()
    if function is None:
        return False
    if function(fd) != 0:
        import ctypes  # pylint: disable=import-outside-toplevel
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return True


def sync_tree(root, root_fd):
    """Make a directory tree this run wrote durable: its files' data and modes, its directories' entries.

    One syncfs() of the filesystem when it is available (``root_fd``: the tree's root,
    opened before the first write); otherwise one fsync per file and directory, after
    all of them are written (the file system can then write them back together instead
    of one blocking flush per file while extracting). Raises OSError.
    """
    if syncfs(root_fd):
        return "syncfs"
    for directory, dirs, files in os.walk(root, topdown=False):
        for name in files:
            path = os.path.join(directory, name)
            if os.path.islink(path):
                continue
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        for name in dirs:
            if not os.path.islink(os.path.join(directory, name)):
                fsync_dir(os.path.join(directory, name))
    os.fsync(root_fd)
    return "fsync"


def _hash_sequential(readinto, update, limit):
    buf = bytearray(BLOCK_SIZE)
    view = memoryview(buf)
    size = 0
    while size < limit:
        want = limit - size
        count = readinto(buf if want >= BLOCK_SIZE else view[:want])
        if not count:
            break
        update(buf if count == BLOCK_SIZE else view[:count])
        size += count
    return size


def _hash_pipelined(readinto, hasher, limit):
    """Like _hash_sequential, with the hashing in a HashWorker and PIPELINE_BUFFERS buffers in rotation."""
    free = queue.Queue()
    for _index in range(PIPELINE_BUFFERS):
        free.put(bytearray(BLOCK_SIZE))
    worker = HashWorker(depth=PIPELINE_BUFFERS)
    size = 0
    try:
        while size < limit:
            buf = free.get()
            want = limit - size
            count = readinto(buf if want >= BLOCK_SIZE else memoryview(buf)[:want])
            if not count:
                break
            worker.update(hasher, buf if count == BLOCK_SIZE else memoryview(buf)[:count],
                          lambda buf=buf: free.put(buf))
            size += count
    finally:
        worker.close()
    return size


def hash_stream(readinto, hasher, limit, size_hint=None):
    """Feed at most ``limit`` bytes from ``readinto`` to ``hasher``; return the count.

    Pipelined (see PIPELINE_MIN_SIZE) when ``size_hint`` says the source is big.
    """
    if size_hint is not None and size_hint >= PIPELINE_MIN_SIZE:
        return _hash_pipelined(readinto, hasher, limit)
    return _hash_sequential(readinto, hasher.update, limit)


def _sequential_advice(handle):
    if hasattr(os, "posix_fadvise"):
        try:
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)  # larger read-ahead when not cached
        except OSError:
            pass


def hash_file(path, algorithm="sha256"):
    """Hash a whole file; return ``(hexdigest, size)``."""
    hasher = new_hash(algorithm, file=path)
    with open(path, "rb", buffering=0) as handle:
        _sequential_advice(handle)
        try:
            hint = os.fstat(handle.fileno()).st_size
        except (OSError, AttributeError):
            hint = None
        size = hash_stream(handle.readinto, hasher, _UNLIMITED, size_hint=hint)
    return hasher.hexdigest(), size


_TYPE_NAMES = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
               (stat.S_ISDIR, "a directory"), (stat.S_ISSOCK, "a socket"))


def file_type_name(mode):
    """'a FIFO', 'a directory', ... for a non-regular st_mode (for messages)."""
    for test, name in _TYPE_NAMES:
        if test(mode):
            return name
    return "not a regular file"


def open_regular(path, error=StorageError, component=None, file=None, what="file"):
    """Open ``path`` for reading without ever blocking on it; refuse anything but a regular file (threat 20).

    Looks first (stat, following symlinks as open would), then opens with ``O_NONBLOCK`` (a FIFO
    swapped in after the look cannot make open() wait for a writer) and checks the opened file
    again with fstat before clearing ``O_NONBLOCK``. Returns an unbuffered binary file object.
    Raises ``error`` naming the type found. ``FileNotFoundError`` and other OSErrors of open()
    pass through for the caller to word.
    """
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise error("%s '%s' is %s, not a regular file" % (what, path, file_type_name(info.st_mode)), component=component, file=file)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise error("%s '%s' is %s, not a regular file" % (what, path, file_type_name(info.st_mode)), component=component, file=file)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise


def _private(info):
    """A regular file that only the effective user (and root) can change."""
    return stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o022


def read_private_stamp(path):
    """The stamp at ``path`` if it is a private file of ours (see _private), else None. Never follows a symlink."""
    try:
        # O_NONBLOCK: a FIFO put where the stamp belongs must not stall the run (threat 20); _private() refuses it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        if not _private(os.fstat(fd)):
            return None
        raw = os.read(fd, STAMP_MAX + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(raw) > STAMP_MAX:
        return None
    try:
        stamp = json.loads(raw.decode("utf-8"))
    except ValueError:
        return None
    return stamp if isinstance(stamp, dict) else None


def open_verified_in_place(path, expected_digest, expected_size, algorithm="sha256", component=None, file=None, stamp_path=None):
    """Verify a file where it is; return ``(open handle, {bytes, digest, checked})``, or ``(None, None)`` if it may not be trusted in place.

    Only a regular file owned by the effective user and not writable by group or
    others qualifies: nobody but this user (and root) can change it between the
    check and the caller's use of the returned handle, exactly as for a private copy.
    The size is checked by fstat before any byte is read, and reads stop at the
    declared size + 1. Raises IntegrityError on a mismatch (the handle is closed).

    ``stamp_path``: a verified stamp (make_stamp) that may spare the hashing. It
    counts only if it is a private file of this user too and records this digest for
    the very file held open (size, mtime, inode, device and ctime of the handle, not
    of the path); ``checked`` then says "stamp" instead of the algorithm's name. The
    bundle cache on the controller writes such stamps once a download is verified,
    so a host that reads the cache directly (a local connection) does not hash the
    same bytes a second time.
    """
    new_hash(algorithm, component=component, file=file)
    digest = _expected_digest(expected_digest, algorithm, component, file)
    expected_size = _expected_size(expected_size, component, file)
    handle = open_regular(path, IntegrityError, component=component, file=file, what="artifact")
    try:
        info = os.fstat(handle.fileno())
        if not _private(info):
            handle.close()
            return None, None
        if info.st_size > expected_size:
            raise IntegrityError("larger than the declared %d bytes (file has %d)" % (expected_size, info.st_size), component=component, file=file)
        if info.st_size < expected_size:
            raise IntegrityError("truncated: got %d of %d bytes" % (info.st_size, expected_size), component=component, file=file)
        if stamp_path is not None and stamp_matches_stat(info, read_private_stamp(stamp_path), digest, algorithm):
            return handle, {"bytes": info.st_size, "digest": digest, "checked": "stamp"}
        _sequential_advice(handle)
        hasher = new_hash(algorithm, component=component, file=file)
        total = hash_stream(handle.readinto, hasher, expected_size + 1, size_hint=expected_size)
        got = hasher.hexdigest()
        _check_result(algorithm, digest, got, total, expected_size, component, file)
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    return handle, {"bytes": total, "digest": got, "checked": algorithm}


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
        _sequential_advice(handle)
        total = hash_stream(handle.readinto, hasher, expected_size + 1, size_hint=expected_size)
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
    try:
        st = os.stat(path)
    except OSError:
        return False
    return stamp_matches_stat(st, stamp, digest, algorithm)


def stamp_matches_stat(st, stamp, digest, algorithm="sha256"):
    """True only if the stat result ``st`` is of the very file the stamp recorded with this digest."""
    if not isinstance(stamp, dict) or algorithm not in _CONSTRUCTORS or stamp.get("algorithm") != algorithm:
        return False
    if not isinstance(digest, str) or len(digest.strip()) != _HEX_LENGTH[algorithm] or not digests_equal(stamp.get("digest"), digest):
        return False
    for field in _STAMP_STAT_FIELDS:
        value = stamp.get(field)
        if isinstance(value, bool) or not isinstance(value, int):
            return False
    current = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev, st.st_ctime_ns)
    if current != tuple(stamp[field] for field in _STAMP_STAT_FIELDS):
        return False
    return not _racy(stamp)
