# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private to groundwork.infra: bounded downloads and the verified artifact cache. Controller side."""

from __future__ import annotations

import fcntl
import http.client
import json
import os
import queue
import socket
import ssl
import stat
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager

from ansible.module_utils.urls import Request, make_context

from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import (
    BundleError,
    DownloadError,
    IntegrityError,
    LockError,
    StorageError,
    storage_error,
)
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_hash import (
    BLOCK_SIZE,
    PIPELINE_BUFFERS,
    PIPELINE_MIN_SIZE,
    WRITE_BEHIND_STEP,
    HashWorker,
    WriteBehind,
    fsync_dir,
    hash_file,
    file_type_name,
    make_stamp,
    new_hash,
    open_regular,
    read_private_stamp,
    stamp_matches,
)

# Seconds slept before retry number N is RETRY_BACKOFF * N (tests set it to almost 0).
RETRY_BACKOFF = 0.5
# Seconds between two attempts to take a busy cache lock.
LOCK_POLL_INTERVAL = 0.05
# A stamp taken in the same clock tick as the file's last change is not trusted by
# stamp_matches(); wait up to this many seconds for the stamp to become trustworthy.
STAMP_SETTLE_MAX = 0.1
HTTP_AGENT = "groundwork.infra"
MAX_REDIRECTS = 10
_REDIRECT_CODES = (301, 302, 303, 307, 308)
VERIFY_MODES = ("fast", "full")
# Default minimum average rate, bytes per second, of a transfer (see _Deadline): 16 KiB/s.
MIN_DOWNLOAD_RATE = 16 * 1024
_DIGEST_LENGTHS = {"sha256": 64, "sha512": 128}
_HEX = frozenset("0123456789abcdef")
_DIR_MODE = 0o700
_TLS_CONTEXTS = {}
_FILE_MODE = 0o600


class _Transient(Exception):
    """A failure worth another attempt (5xx, connection error, timeout, short body)."""


class _RangeNotSatisfiable(Exception):
    """HTTP 416: the bytes kept for a resume do not fit the resource."""


class _Exhausted(DownloadError):
    """Every attempt failed with a transient error; a partial download is worth keeping."""


# --------------------------------------------------------------------------- helpers


def _redact(url):
    """The URL without user:password, for messages."""
    try:
        parts = urllib.parse.urlsplit(url)
        if "@" not in parts.netloc:
            return url
        host = parts.netloc.rsplit("@", 1)[1]
    except (TypeError, ValueError):
        return "<unparsable URL>"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _source(url, component=None, file=None):
    """Return ("http", url) or ("file", local path) for a supported source."""
    if not isinstance(url, str) or not url:
        raise DownloadError("source URL must be a non-empty string", component=component, file=file)
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError as exc:
        raise DownloadError("invalid URL: %s" % exc, component=component, file=file) from None
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return "http", url
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise DownloadError("file:// URL names a remote host, which is not supported: %s" % _redact(url),
                                component=component, file=file)
        return "file", urllib.request.url2pathname(parts.path)
    if scheme == "":
        return "file", url
    raise DownloadError("unsupported URL scheme '%s' in %s (use http, https, file or a local path)" % (scheme, _redact(url)),
                        component=component, file=file)


def _tls_context(validate_certs):
    """One TLS context per process and mode: building one reads every CA certificate."""
    key = bool(validate_certs)
    context = _TLS_CONTEXTS.get(key)
    if context is None:
        context = _TLS_CONTEXTS[key] = make_context(validate_certs=key)
    return context


def _origin(url):
    """(scheme, host, port) of an http(s) URL: credentials are meant for exactly one origin."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme)


def _with_userinfo(url, userinfo):
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urllib.parse.urlunsplit((parts.scheme, "%s@%s" % (userinfo, host) if userinfo else host,
                                    parts.path, parts.query, parts.fragment))


def _http_open(url, timeout, validate_certs, headers=None):
    """GET url; the socket timeout bounds connecting and every read.

    Redirects (at most MAX_REDIRECTS, to http or https only) are followed here rather than by
    urllib, so that credentials go only to the origin they were meant for (threat 21): the
    URL's user:password and the .netrc entry are used while the scheme, host and port stay
    those of ``url``; after a redirect to another origin the request carries neither (as curl
    and requests do), and a user:password in a redirect's Location is ignored.
    """
    origin = _origin(url)
    userinfo = urllib.parse.urlsplit(url).netloc.rsplit("@", 1)[0] if "@" in urllib.parse.urlsplit(url).netloc else ""
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        same = _origin(current) == origin
        target = _with_userinfo(current, userinfo if same else "")
        try:
            return Request(
                http_agent=HTTP_AGENT,
                follow_redirects="none",
                decompress=False,
                use_netrc=same,
            ).open("GET", target, headers=headers or {}, timeout=timeout, validate_certs=validate_certs,
                   context=_tls_context(validate_certs))
        except urllib.error.HTTPError as exc:
            if exc.code not in _REDIRECT_CODES:
                raise
            location = exc.headers.get("Location") if exc.headers is not None else None
            exc.close()
            if not location:
                raise DownloadError("HTTP %d redirect without a Location" % exc.code) from None
            following = urllib.parse.urljoin(_redact(current), location.strip())
            if urllib.parse.urlsplit(following).scheme.lower() not in ("http", "https"):
                raise DownloadError("HTTP %d redirect to %s, which is not an http or https URL" % (exc.code, _redact(following))) from None
            current = _redact(following)
    raise DownloadError("more than %d redirects" % MAX_REDIRECTS)


def _http_failure(exc, timeout):
    """Map an exception from opening or reading a response to _Transient or a fatal DownloadError."""
    if isinstance(exc, urllib.error.HTTPError):
        code = exc.code
        try:
            exc.close()
        except Exception:  # pylint: disable=broad-except
            pass
        if code == 404:
            return DownloadError("not found (HTTP 404)")
        if code == 416:
            return _RangeNotSatisfiable("HTTP 416 range not satisfiable")
        text = "HTTP %d %s" % (code, (exc.reason or "").strip())
        if code >= 500 or code in (408, 429):
            return _Transient(text.strip())
        return DownloadError(text.strip())
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        if isinstance(reason, ssl.SSLCertVerificationError):
            return DownloadError("TLS certificate verification failed: %s" % reason)
        if isinstance(reason, socket.timeout):
            return _Transient("timed out after %s s" % timeout)
        return _Transient("connection failed: %s" % reason)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return DownloadError("TLS certificate verification failed: %s" % exc)
    if isinstance(exc, socket.timeout):
        return _Transient("timed out after %s s without data" % timeout)
    if isinstance(exc, ValueError):
        return DownloadError("invalid request: %s" % exc)
    return _Transient("%s: %s" % (type(exc).__name__, exc))


def _status(resp):
    return getattr(resp, "status", None) or resp.getcode()


class _Deadline:
    """A per-artifact deadline against drip-feeding servers (threat 24).

    The socket timeout only measures silence, so one byte every half second kept a run going
    for ever. The whole transfer of ``size`` bytes, over every attempt, may take ``timeout``
    seconds plus ``size / min_rate`` (a minimum average rate); ``min_rate`` 0 turns this off.
    While a response is read, a timer shuts its socket down at the deadline (a read blocked on a
    trickle returns at once), and the transfer fails with a DownloadError that says so.
    """

    def __init__(self, size, timeout, min_rate):
        self.min_rate = min_rate
        self.seconds = None if not min_rate else float(timeout) + float(size) / min_rate
        self.start = time.monotonic()
        self.expired = False

    def error(self, done, size, component, file):
        return DownloadError(
            "too slow: %d of %d bytes after %.0f s, over this transfer's deadline of %.0f s (timeout %s s plus "
            "size / min_download_rate %d bytes/s); the server sends data, but too slowly"
            % (done, size, time.monotonic() - self.start, self.seconds, self.seconds - float(size) / self.min_rate,
               self.min_rate), component=component, file=file)

    @contextmanager
    def watching(self, resp, done, size, component, file):
        """Run the body of one response under the deadline; raise its error once it has passed."""
        if self.seconds is None:
            yield
            return
        left = self.start + self.seconds - time.monotonic()
        if left <= 0:
            raise self.error(done(), size, component, file)
        timer = threading.Timer(left, self._expire, (resp,))
        timer.daemon = True
        timer.start()
        try:
            yield
        except (BundleError, _Transient, http.client.HTTPException, OSError, ValueError):
            if self.expired:
                raise self.error(done(), size, component, file) from None
            raise
        finally:
            timer.cancel()
        if self.expired:
            raise self.error(done(), size, component, file)

    def _expire(self, resp):
        self.expired = True
        sock = getattr(getattr(getattr(resp, "fp", None), "raw", None), "_sock", None)
        try:
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _retrying(attempt, url, retries, component, file):
    """Call attempt() up to 1 + retries times while it raises _Transient."""
    attempts = 1 + max(0, int(retries))
    last = None
    for number in range(attempts):
        if number:
            time.sleep(RETRY_BACKOFF * number)
        try:
            return attempt()
        except _Transient as exc:
            last = exc
    raise _Exhausted(
        "%s failed after %d attempt(s): %s" % (_redact(url), attempts, last),
        component=component, file=file)


def _call_http(url, timeout, validate_certs, headers, body, component, file):
    """Open url and run body(resp); network exceptions become _Transient or DownloadError."""
    resp = None
    try:
        resp = _http_open(url, timeout, validate_certs, headers)
        return body(resp)
    except BundleError as exc:
        if isinstance(exc, DownloadError) and exc.component is None and exc.file is None:
            raise DownloadError("%s: %s" % (_redact(url), exc.reason), component=component, file=file) from None
        raise
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        failure = _http_failure(exc, timeout)
        if isinstance(failure, _RangeNotSatisfiable) and not headers:
            failure = DownloadError(str(failure))
        if isinstance(failure, DownloadError):
            raise DownloadError("%s: %s" % (_redact(url), failure.reason), component=component, file=file) from None
        raise failure from None
    finally:
        if resp is not None:
            resp.close()


def _open_local(path, component, file):
    """Open a local regular file for reading: looked at before it is opened, never blocking on a
    FIFO, and refused unless it is a regular file (devices and FIFOs could be endless; threat 20)."""
    try:
        handle = open_regular(path, DownloadError, component=component, file=file)
    except FileNotFoundError:
        raise DownloadError("not found: %s" % path, component=component, file=file) from None
    except OSError as exc:
        raise DownloadError("cannot read %s: %s" % (path, exc.strerror or exc), component=component, file=file) from None
    return handle, os.fstat(handle.fileno()).st_size


def _write_all(fd, view, component, file):
    try:
        while view:
            written = os.write(fd, view)
            view = view[written:]
    except OSError as exc:
        raise _storage_error(exc, "writing", component, file) from None


def _storage_error(exc, doing, component, file):
    return storage_error(exc, doing, component, file, where="the cache filesystem")


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _fsync_dir(path):
    """Best effort: the downloaded file itself was fsynced; its directory entry may lag."""
    try:
        fsync_dir(path)
    except OSError:
        pass


def _private_dirs(path):
    """Create path and missing parents with mode 0700 whatever the umask; existing ones are left alone."""
    path = os.path.abspath(path)
    missing = []
    while not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, _DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(directory, _DIR_MODE)


def _check_size(value, what, component, file):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise IntegrityError("%s must be a non-negative integer, got %r" % (what, value), component=component, file=file)
    return value


# --------------------------------------------------------------------------- fetch_bytes


def fetch_bytes(url, max_size, timeout=30, retries=3, validate_certs=True, file=None, min_rate=MIN_DOWNLOAD_RATE):
    """Return the body at url (http, https, file:// or local path), at most max_size bytes.

    Meant for manifests and signatures: the cap is enforced while reading, before anything
    parses the data. 4xx fails at once; 5xx, connection errors and timeouts are retried.
    """
    max_size = _check_size(max_size, "max_size", None, file)
    kind, target = _source(url, None, file)
    too_big = "larger than the %d byte limit" % max_size

    if kind == "file":
        handle = _open_local(target, None, file)[0]
        with handle:
            try:
                data = _read_capped(handle.read, max_size + 1)
            except OSError as exc:
                raise DownloadError("cannot read %s: %s" % (target, exc.strerror or exc), file=file) from None
        if len(data) > max_size:
            raise DownloadError("%s is %s" % (target, too_big), file=file)
        return data

    deadline = _Deadline(max_size, timeout, min_rate)

    def body(resp):
        status = _status(resp)
        if not 200 <= status < 300 or status in (204, 206):
            raise DownloadError("%s: unexpected HTTP status %d" % (_redact(url), status), file=file)
        announced = getattr(resp, "length", None)
        if announced is not None and announced > max_size:
            raise DownloadError("%s is %s (Content-Length %d)" % (_redact(url), too_big, announced), file=file)
        chunks = []
        with deadline.watching(resp, lambda: sum(len(c) for c in chunks), max_size, None, file):
            data = _read_capped(resp.read, max_size + 1, chunks)
        if len(data) > max_size:
            raise DownloadError("%s is %s" % (_redact(url), too_big), file=file)
        left = getattr(resp, "length", None)
        if left:
            raise _Transient("truncated: got %d bytes, %d more announced" % (len(data), left))
        return data

    return _retrying(
        lambda: _call_http(url, timeout, validate_certs, None, body, None, file),
        url, retries, None, file)


def _read_capped(read, limit, chunks=None):
    chunks = [] if chunks is None else chunks
    total = 0
    while total < limit:
        chunk = read(min(BLOCK_SIZE, limit - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


# --------------------------------------------------------------------------- cache


class _CacheLock:
    """Exclusive flock on <digest>.lock, polled until a deadline.

    The lock file is removed while still held on release; a waiter that then wins the
    old, unlinked inode notices (inode check) and locks the path afresh.
    """

    def __init__(self, path, timeout, what, component, file):
        self.path = path
        self.timeout = timeout
        self.what = what
        self.component = component
        self.file = file
        self.fd = None

    def __enter__(self):
        deadline = time.monotonic() + max(0.0, float(self.timeout))
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, _FILE_MODE)
            except OSError as exc:
                raise _storage_error(exc, "creating the cache lock", self.component, self.file) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if time.monotonic() >= deadline:
                    raise LockError(
                        "timed out after %s s waiting for another run to release the cache lock on %s (%s)"
                        % (self.timeout, self.what, self.path),
                        component=self.component, file=self.file) from None
                time.sleep(LOCK_POLL_INTERVAL)
                continue
            try:
                held = os.fstat(fd)
                current = os.stat(self.path)
                same = (held.st_dev, held.st_ino) == (current.st_dev, current.st_ino)
            except FileNotFoundError:
                same = False
            except OSError as exc:
                os.close(fd)
                raise _storage_error(exc, "checking the cache lock", self.component, self.file) from None
            if same:
                self.fd = fd
                return self
            os.close(fd)  # the holder removed it while we waited: lock the new one

    def __exit__(self, *exc_info):
        try:
            _unlink(self.path)
        finally:
            os.close(self.fd)
            self.fd = None
        return False


class _Part:
    """The .part file of one artifact with the running hash of what it holds."""

    def __init__(self, path, algorithm, component, file):
        self.path = path
        self.algorithm = algorithm
        self.component = component
        self.file = file
        self.fd = None
        self.hasher = None
        self.size = 0
        # True while the part holds bytes from more than one response (or an earlier run).
        self.mixed = False
        self.buffer = bytearray(BLOCK_SIZE)

    def open(self, resume_limit):
        """Open (creating) the part. Keep existing bytes if there are at most resume_limit of them."""
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC, _FILE_MODE)
            info = os.fstat(self.fd)
            if not stat.S_ISREG(info.st_mode):
                os.close(self.fd)
                self.fd = None
                raise StorageError("the partial download %s is %s, not a regular file; remove it and run again"
                                   % (self.path, file_type_name(info.st_mode)), component=self.component, file=self.file)
            os.set_blocking(self.fd, True)
            os.fchmod(self.fd, _FILE_MODE)
            existing = info.st_size
        except OSError as exc:
            raise _storage_error(exc, "opening the partial download", self.component, self.file) from None
        self.hasher = new_hash(self.algorithm, self.component, self.file)
        self.size = 0
        if existing and existing <= resume_limit:
            self._rehash_existing(existing)
        else:
            self.reset()

    def _rehash_existing(self, existing):
        view = memoryview(self.buffer)
        update = self.hasher.update
        fd = self.fd
        done = 0
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            with open(fd, "rb", buffering=0, closefd=False) as reader:
                readinto = reader.readinto
                while done < existing:
                    count = readinto(view)
                    if not count:
                        break
                    update(view[:count])
                    done += count
        except OSError as exc:
            raise _storage_error(exc, "reading the partial download", self.component, self.file) from None
        if done != existing:
            self.reset()
            return
        self.size = done
        self.mixed = True

    def reset(self):
        """Throw away what the part holds and start from byte 0."""
        try:
            os.ftruncate(self.fd, 0)
            os.lseek(self.fd, 0, os.SEEK_SET)
        except OSError as exc:
            raise _storage_error(exc, "truncating the partial download", self.component, self.file) from None
        self.hasher = new_hash(self.algorithm, self.component, self.file)
        self.size = 0
        self.mixed = False

    def pump(self, readinto, limit):
        """Copy up to limit bytes from readinto into the part, hashing on the way. Returns the count.

        From PIPELINE_MIN_SIZE bytes on, a helper thread hashes each block while this
        thread writes it and reads the next one (buffers in rotation).
        """
        if limit >= PIPELINE_MIN_SIZE:
            return self._pump_pipelined(readinto, limit)
        view = memoryview(self.buffer)
        update = self.hasher.update
        fd = self.fd
        component = self.component
        file = self.file
        copied = 0
        while copied < limit:
            want = limit - copied
            chunk = view if want >= BLOCK_SIZE else view[:want]
            count = readinto(chunk)
            if not count:
                break
            data = chunk if count == len(chunk) else chunk[:count]
            update(data)
            _write_all(fd, data, component, file)
            copied += count
            self.size += count
        return copied

    def _pump_pipelined(self, readinto, limit):
        free = queue.Queue()
        free.put(self.buffer)
        for _index in range(PIPELINE_BUFFERS - 1):
            free.put(bytearray(BLOCK_SIZE))
        worker = HashWorker(depth=PIPELINE_BUFFERS)
        flusher = WriteBehind(self.fd, WRITE_BEHIND_STEP)
        hasher = self.hasher
        fd = self.fd
        copied = 0
        try:
            while copied < limit:
                buf = free.get()
                want = limit - copied
                chunk = memoryview(buf) if want >= BLOCK_SIZE else memoryview(buf)[:want]
                count = readinto(chunk)
                if not count:
                    break
                data = chunk if count == len(chunk) else chunk[:count]
                # The worker only reads the buffer; it comes back to ``free`` once hashed,
                # and this thread has finished writing it before it asks for another.
                worker.update(hasher, data, lambda buf=buf: free.put(buf))
                _write_all(fd, data, self.component, self.file)
                copied += count
                self.size += count
                flusher.wrote(count)
        finally:
            try:
                worker.close()
            finally:
                failure = flusher.close()
        if isinstance(failure, OSError):
            raise _storage_error(failure, "flushing the download to disk", self.component, self.file)
        if failure is not None:
            raise failure
        return copied

    def hexdigest(self):
        return self.hasher.hexdigest()

    def commit(self, final):
        """fsync, close and move the part into place."""
        try:
            os.fsync(self.fd)
        except OSError as exc:
            raise _storage_error(exc, "flushing the download to disk", self.component, self.file) from None
        self.close()
        try:
            os.replace(self.path, final)
        except OSError as exc:
            raise _storage_error(exc, "moving the download into the cache", self.component, self.file) from None
        _fsync_dir(os.path.dirname(final))

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def discard(self):
        self.close()
        _unlink(self.path)


class ArtifactCache:
    """Content-addressed cache: <cache_dir>/<algorithm>/<digest[:2]>/<digest>.

    Beside each artifact: <digest>.stamp (size, mtime, inode, digest of the verified file),
    <digest>.part (download in progress, kept after a transient failure or a kill so the
    next run resumes it) and <digest>.lock (flock, exists only while a run works on it).
    Directories are created 0700 and files 0600 whatever the umask.
    """

    def __init__(self, cache_dir):
        self.cache_dir = os.path.abspath(os.path.expanduser(cache_dir))

    def path_for(self, digest, algorithm="sha256", component=None, file=None):
        """Final cache path of an artifact; validates algorithm and digest (they become path parts)."""
        algorithm, digest = self._validate(digest, algorithm, component, file)
        return os.path.join(self.cache_dir, algorithm, digest[:2], digest)

    @staticmethod
    def _validate(digest, algorithm, component, file):
        new_hash(algorithm, component, file)  # fails closed on anything but sha256 / sha512
        length = _DIGEST_LENGTHS.get(algorithm)
        if length is None:
            raise IntegrityError("unsupported hash algorithm '%s'" % algorithm, component=component, file=file)
        digest = digest.lower() if isinstance(digest, str) else ""
        if len(digest) != length or not _HEX.issuperset(digest):
            raise IntegrityError(
                "%s digest must be %d hex characters" % (algorithm, length), component=component, file=file)
        return algorithm, digest

    def ensure(self, url, digest, size, algorithm="sha256", component=None, file=None, timeout=30, retries=3,
               validate_certs=True, verify="fast", lock_timeout=600, min_rate=MIN_DOWNLOAD_RATE):
        """Make sure the artifact is in the cache, verified; download it if needed.

        Returns dict(path, downloaded_bytes, cached, rehashed, resumed).
        """
        if verify not in VERIFY_MODES:
            raise IntegrityError("verify must be one of %s, got %r" % (", ".join(VERIFY_MODES), verify), component=component, file=file)
        algorithm, digest = self._validate(digest, algorithm, component, file)
        size = _check_size(size, "declared size", component, file)
        kind, target = _source(url, component, file)
        final = self.path_for(digest, algorithm)
        try:
            _private_dirs(os.path.dirname(final))
        except OSError as exc:
            raise _storage_error(exc, "creating the cache directory", component, file) from None

        with _CacheLock(final + ".lock", lock_timeout, "%s:%s" % (algorithm, digest), component, file):
            result = dict(path=final, downloaded_bytes=0, cached=False, rehashed=False, resumed=False)
            if self._cached(final, digest, size, algorithm, verify, result, component, file):
                result["cached"] = True
                return result
            part = _Part(final + ".part", algorithm, component, file)
            if kind == "file":
                self._copy_local(part, target, final, digest, size, algorithm, result, component, file)
            else:
                self._download(part, url, final, digest, size, algorithm, result, timeout, retries, validate_certs,
                               component, file, _Deadline(size, timeout, min_rate))
            self._write_stamp(final, digest, algorithm)
            return result

    # -- cached file ---------------------------------------------------------------

    def _cached(self, final, digest, size, algorithm, verify, result, component, file):
        """True when final holds the verified artifact. A mismatching file is removed."""
        try:
            info = os.lstat(final)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise _storage_error(exc, "checking the cached file", component, file) from None
        if not stat.S_ISREG(info.st_mode):
            # Only this user can write the 0700 cache; never hash (and so block on) whatever this is (threat 20).
            raise StorageError("the cache entry %s is %s, not a regular file; remove it and run again"
                               % (final, file_type_name(info.st_mode)), component=component, file=file)
        stamp_path = final + ".stamp"
        if info.st_size != size:
            # Cannot be this artifact; a verified download replaces it, a failed one leaves it.
            return False
        if verify == "fast":
            stamp = self._read_stamp(stamp_path)
            if stamp is not None and stamp_matches(final, stamp, digest, algorithm):
                return True
        result["rehashed"] = True
        try:
            actual, actual_size = hash_file(final, algorithm)
        except OSError as exc:
            raise _storage_error(exc, "re-hashing the cached file", component, file) from None
        if actual_size == size and actual == digest:
            self._write_stamp(final, digest, algorithm)
            return True
        _unlink(stamp_path)
        _unlink(final)
        return False

    @staticmethod
    def _read_stamp(path):
        return read_private_stamp(path)

    @staticmethod
    def _write_stamp(final, digest, algorithm):
        """Best effort: without a stamp the next run re-hashes, nothing worse."""
        stamp_path = final + ".stamp"
        temp = stamp_path + ".tmp"
        try:
            stamp = make_stamp(final, digest, algorithm)
            deadline = time.monotonic() + STAMP_SETTLE_MAX
            while not stamp_matches(final, stamp, digest, algorithm) and time.monotonic() < deadline:
                time.sleep(0.005)
                stamp = make_stamp(final, digest, algorithm)
            data = json.dumps(stamp, sort_keys=True).encode("utf-8")
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, _FILE_MODE)
            try:
                os.fchmod(fd, _FILE_MODE)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, stamp_path)
        except OSError:
            _unlink(temp)
            _unlink(stamp_path)

    # -- filling the cache -----------------------------------------------------------

    def _finish(self, part, final, digest, size, algorithm, component, file):
        """Size and digest must match before the part may become the final file."""
        if part.size != size:
            raise DownloadError("truncated: got %d of %d bytes" % (part.size, size), component=component, file=file)
        actual = part.hexdigest()
        if actual != digest:
            raise IntegrityError("%s mismatch: expected %s, got %s" % (algorithm, digest, actual), component=component, file=file)
        part.commit(final)

    def _copy_local(self, part, path, final, digest, size, algorithm, result, component, file):
        handle, actual_size = _open_local(path, component, file)
        done = False
        try:
            with handle:
                if actual_size > size:
                    raise DownloadError("%s is larger than the declared %d bytes (%d)" % (path, size, actual_size),
                                        component=component, file=file)
                part.open(0)
                try:
                    copied = part.pump(handle.readinto, size)
                    extra = handle.read(1) if copied == size else b""
                except OSError as exc:
                    raise DownloadError("cannot read %s: %s" % (path, exc.strerror or exc), component=component, file=file) from None
                if extra:
                    raise DownloadError("%s is larger than the declared %d bytes" % (path, size), component=component, file=file)
                result["downloaded_bytes"] = copied
                self._finish(part, final, digest, size, algorithm, component, file)
                done = True
        finally:
            if not done:
                part.discard()

    def _download(self, part, url, final, digest, size, algorithm, result, timeout, retries, validate_certs,
                  component, file, deadline=None):
        keep = False
        done = False
        try:
            part.open(size)
            clean_retry = True
            while True:
                if part.size < size:
                    self._transfer(part, url, size, result, timeout, retries, validate_certs, component, file,
                                   deadline or _Deadline(size, timeout, 0))
                try:
                    self._finish(part, final, digest, size, algorithm, component, file)
                except IntegrityError:
                    # Bytes kept from an earlier run or stitched from two responses may be
                    # stale; one clean download from byte 0 settles it.
                    if not (part.mixed and clean_retry):
                        raise
                    clean_retry = False
                    result["resumed"] = False
                    part.reset()
                    continue
                done = True
                return
        except (_Exhausted, KeyboardInterrupt, SystemExit):
            keep = True  # transient trouble or an interrupt: a re-run resumes from the part
            raise
        finally:
            if not done:
                if keep:
                    part.close()
                else:
                    part.discard()

    def _transfer(self, part, url, size, result, timeout, retries, validate_certs, component, file, deadline):
        """Fill the part up to size bytes over HTTP, resuming with Range where possible."""
        redacted = _redact(url)
        larger = "response larger than the declared %d bytes" % size

        def body(resp):
            status = _status(resp)
            offset = part.size
            if offset and status == 206:
                start = _content_range_start(resp.headers.get("Content-Range"))
                if start != offset:
                    part.reset()
                    raise _Transient("server answered a range request with the wrong range (%s)" % resp.headers.get("Content-Range"))
                result["resumed"] = True
                part.mixed = True
            elif status == 200:
                if offset:
                    part.reset()  # server ignored Range: start over
            else:
                raise DownloadError("%s: unexpected HTTP status %d" % (redacted, status), component=component, file=file)
            remaining = size - part.size
            announced = getattr(resp, "length", None)
            if announced is not None and announced > remaining:
                raise DownloadError("%s: %s (Content-Length %d, %d expected)" % (redacted, larger, announced, remaining),
                                    component=component, file=file)
            before = part.size
            try:
                with deadline.watching(resp, lambda: part.size, size, component, file):
                    part.pump(resp.readinto, remaining)
            finally:
                result["downloaded_bytes"] += part.size - before
            if part.size < size:
                raise _Transient("truncated: got %d of %d bytes" % (part.size, size))
            try:
                extra = resp.read(1)
            except (http.client.HTTPException, OSError):
                extra = b""  # all declared bytes are here; the hash decides
            if extra:
                raise DownloadError("%s: %s" % (redacted, larger), component=component, file=file)

        def attempt():
            headers = {"Range": "bytes=%d-" % part.size} if part.size else None
            try:
                return _call_http(url, timeout, validate_certs, headers, body, component, file)
            except _RangeNotSatisfiable:
                part.reset()  # what we hold does not fit the resource any more
                return _call_http(url, timeout, validate_certs, None, body, component, file)

        _retrying(attempt, url, retries, component, file)


def _content_range_start(value):
    """First byte of a "bytes START-END/TOTAL" Content-Range, or None."""
    if not value:
        return None
    value = value.strip()
    if not value.lower().startswith("bytes "):
        return None
    first = value[6:].split("-", 1)[0].strip()
    return int(first) if first.isdigit() else None
