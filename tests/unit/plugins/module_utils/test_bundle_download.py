# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for _bundle_download against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import datetime
import fcntl
import errno
import hashlib
import json
import os
import random
import signal
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ansible_collections.groundwork.infra.plugins.module_utils import _bundle_download as dl
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_errors import (
    DownloadError,
    IntegrityError,
    LockError,
    StorageError,
)

# .../collections/ansible_collections/groundwork/infra/plugins/module_utils/_bundle_download.py
COLLECTIONS_ROOT = str(Path(dl.__file__).parents[5])
MIB = 1024 * 1024


# --------------------------------------------------------------------------- test server


class Route:
    """What the server does for one path, and what it counted.

    mode: file (Range support), status, stall, endless, short (Content-Length full,
    body cut, close), short_cl (Content-Length itself short).
    """

    def __init__(self, body=b"", mode="file", status=200, fail_first=0, cut=None, cut_first=False,
                 delay=0.0, chunk=64 * 1024, send_length=True, ranges=True, sndbuf=None, reject_ranges=False):
        self.body = body
        self.mode = mode
        self.status = status
        self.fail_first = fail_first
        self.cut = cut
        self.cut_first = cut_first
        self.delay = delay
        self.chunk = chunk
        self.send_length = send_length
        self.ranges_supported = ranges
        self.reject_ranges = reject_ranges  # answer every Range with 416
        self.sndbuf = sndbuf  # small kernel send buffer: "bytes sent" close to "bytes read"
        self.requests = 0
        self.bytes_sent = 0
        self.ranges = []
        self.statuses = []
        self.authorization = []  # the Authorization header of each request (None when absent)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _head(self, route, status, length, extra=None):
        route.statuses.append(status)
        self.send_response(status)
        self.send_header("Connection", "close")
        if length is not None:
            self.send_header("Content-Length", str(length))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()

    def _send(self, route, data):
        """Send data in chunks (with the route's delay); stop quietly when the client left."""
        view = memoryview(data)
        try:
            for start in range(0, len(view), route.chunk):
                if self.server.stop.is_set():
                    return False
                piece = view[start:start + route.chunk]
                self.wfile.write(piece)
                with self.server.lock:
                    route.bytes_sent += len(piece)
                if route.delay:
                    time.sleep(route.delay)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            return False
        return True

    def do_GET(self):  # noqa: N802 (http.server naming)
        self.close_connection = True
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        with self.server.lock:
            route.requests += 1
            number = route.requests
            route.ranges.append(self.headers.get("Range"))
            route.authorization.append(self.headers.get("Authorization"))
        if route.sndbuf:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, route.sndbuf)
        getattr(self, "_mode_" + route.mode)(route, number)

    def _mode_status(self, route, number):
        self._head(route, route.status, 0)

    def _mode_redirect(self, route, number):
        self._head(route, 302, 0, {"Location": route.body.decode()})

    def _mode_file(self, route, number):
        if number <= route.fail_first:
            self._head(route, 500, 0)
            return
        body = route.body
        wanted = self.headers.get("Range")
        if wanted and route.ranges_supported:
            start = int(wanted.split("=", 1)[1].split("-", 1)[0])
            if start >= len(body) or route.reject_ranges:
                self._head(route, 416, 0, {"Content-Range": "bytes */%d" % len(body)})
                return
            part = body[start:]
            self._head(route, 206, len(part), {"Content-Range": "bytes %d-%d/%d" % (start, len(body) - 1, len(body))})
            self._send(route, part)
            return
        if route.cut_first and number == 1:
            self._head(route, 200, len(body))
            self._send(route, body[:route.cut])
            return
        self._head(route, 200, len(body) if route.send_length else None)
        self._send(route, body)

    def _mode_stall(self, route, number):
        self._head(route, 200, len(route.body))
        self._send(route, route.body[:route.cut or 0])
        self.server.stop.wait(30)

    def _mode_endless(self, route, number):
        self._head(route, 200, None)
        block = b"x" * route.chunk
        for dummy in range(4096):  # safety net: 256 MiB at the default chunk
            if not self._send(route, block):
                return

    def _mode_short(self, route, number):
        self._head(route, 200, len(route.body))
        self._send(route, route.body[:route.cut])

    def _mode_short_cl(self, route, number):
        self._head(route, 200, route.cut)
        self._send(route, route.body[:route.cut])


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, tls_context=None):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.scheme = "http"
        if tls_context is not None:
            self.socket = tls_context.wrap_socket(self.socket, server_side=True)
            self.scheme = "https"

    def handle_error(self, request, client_address):
        pass  # failed TLS handshakes and clients that hang up are part of the tests

    def add(self, path, route):
        self.routes[path] = route
        return "%s://127.0.0.1:%d%s" % (self.scheme, self.server_address[1], path)


def _run(server):
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    return server


def _shutdown(server):
    server.stop.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def server():
    srv = _run(_Server())
    yield srv
    _shutdown(srv)


@pytest.fixture(autouse=True, params=["sequential", "pipelined"])
def pump_mode(request, monkeypatch):
    """Every download test runs twice: hashing inline, and hashing in the helper thread
    (which big artifacts use, from PIPELINE_MIN_SIZE bytes on)."""
    if request.param == "pipelined":
        monkeypatch.setattr(dl, "PIPELINE_MIN_SIZE", 0)
    return request.param


@pytest.fixture(autouse=True)
def fast_retries_no_proxy(monkeypatch):
    monkeypatch.setattr(dl, "RETRY_BACKOFF", 0.01)
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)  # the test server is on 127.0.0.1


@pytest.fixture
def cache(tmp_path):
    return dl.ArtifactCache(str(tmp_path / "cache"))


def _blob(size, seed=1):
    """Deterministic pseudo-random test data."""
    return random.Random(seed).randbytes(size)


def _sha(data, algorithm="sha256"):
    return hashlib.new(algorithm, data).hexdigest()


def _leftovers(path):
    """Every file below path (directories are fine)."""
    return sorted(str(p.relative_to(path)) for p in Path(path).rglob("*") if not p.is_dir())


def _hash_spy(monkeypatch):
    calls = []
    real = dl.hash_file

    def spy(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(dl, "hash_file", spy)
    return calls


# --------------------------------------------------------------------------- ArtifactCache: normal use


def test_happy_path_content_modes_and_stamp(server, cache, tmp_path):
    body = _blob(3 * MIB + 123)
    url = server.add("/a.tar.gz", Route(body))
    old_umask = os.umask(0)  # modes must not depend on the umask
    try:
        result = cache.ensure(url, _sha(body), len(body), component="app", file="a.tar.gz")
    finally:
        os.umask(old_umask)
    final = Path(result["path"])
    assert result == dict(path=str(final), downloaded_bytes=len(body), cached=False, rehashed=False, resumed=False)
    assert final == Path(cache.path_for(_sha(body)))
    assert final.parent == tmp_path / "cache" / "sha256" / _sha(body)[:2]
    assert final.read_bytes() == body
    assert stat.S_IMODE(final.stat().st_mode) == 0o600
    stamp_path = Path(str(final) + ".stamp")
    assert stat.S_IMODE(stamp_path.stat().st_mode) == 0o600
    stamp = json.loads(stamp_path.read_text())
    assert stamp["digest"] == _sha(body) and stamp["size"] == len(body)
    for directory in (tmp_path / "cache", final.parent, final.parent.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert _leftovers(tmp_path / "cache") == sorted([
        "sha256/%s/%s" % (_sha(body)[:2], _sha(body)),
        "sha256/%s/%s.stamp" % (_sha(body)[:2], _sha(body)),
    ])  # no .part, no .lock
    assert server.routes["/a.tar.gz"].requests == 1


@pytest.mark.usefixtures("slow_writes")
def test_big_download_is_written_back_while_it_arrives(server, cache, pump_mode, monkeypatch):
    """From PIPELINE_MIN_SIZE on, a helper thread asks for write-back every WRITE_BEHIND_STEP bytes,
    so the fsync before the file is committed has little left to write; the bytes are the same."""
    monkeypatch.setattr(dl, "WRITE_BEHIND_STEP", MIB)
    synced = []
    real = os.fdatasync
    monkeypatch.setattr(dl.os, "fdatasync", lambda fd: synced.append(os.fstat(fd).st_size) or real(fd))
    body = _blob(6 * MIB + 5)
    result = cache.ensure(server.add("/wb", Route(body)), _sha(body), len(body))
    assert Path(result["path"]).read_bytes() == body
    if pump_mode == "sequential":
        assert synced == []  # small downloads: the commit's fsync alone
    else:
        assert synced and all(MIB <= size <= len(body) for size in synced)


@pytest.mark.usefixtures("slow_writes")
def test_write_back_failure_is_not_lost(server, cache, monkeypatch, tmp_path):
    """Linux reports a write-back error to one fsync only: the helper thread's failure fails the
    download even though the commit's own fsync would then succeed."""
    monkeypatch.setattr(dl, "PIPELINE_MIN_SIZE", 0)
    monkeypatch.setattr(dl, "WRITE_BEHIND_STEP", MIB)

    def failing(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(dl.os, "fdatasync", failing)
    body = _blob(3 * MIB)
    with pytest.raises(StorageError, match="flushing the download to disk failed: Input/output error"):
        cache.ensure(server.add("/eio", Route(body)), _sha(body), len(body), component="app", file="a.tar")
    assert _leftovers(tmp_path / "cache") == []  # no final file, no stamp, no part


def test_sha512_layout(server, cache):
    body = _blob(5000)
    url = server.add("/b", Route(body))
    result = cache.ensure(url, _sha(body, "sha512"), len(body), algorithm="sha512")
    assert "/sha512/%s/" % _sha(body, "sha512")[:2] in result["path"]
    assert Path(result["path"]).read_bytes() == body


def test_second_ensure_downloads_nothing_and_does_not_rehash(server, cache, monkeypatch):
    body = _blob(2 * MIB)
    route = Route(body)
    url = server.add("/c", route)
    calls = _hash_spy(monkeypatch)
    cache.ensure(url, _sha(body), len(body))
    again = cache.ensure(url, _sha(body), len(body))
    assert again["cached"] is True and again["downloaded_bytes"] == 0
    assert again["rehashed"] is False and calls == []
    assert route.requests == 1


def test_full_verify_rehashes_cached_file(server, cache, monkeypatch):
    body = _blob(MIB)
    route = Route(body)
    url = server.add("/d", route)
    cache.ensure(url, _sha(body), len(body))
    calls = _hash_spy(monkeypatch)
    result = cache.ensure(url, _sha(body), len(body), verify="full")
    assert result["cached"] is True and result["rehashed"] is True and result["downloaded_bytes"] == 0
    assert len(calls) == 1 and route.requests == 1


def test_tampered_cache_file_caught_by_stat_stamp(server, cache):
    body = _blob(MIB)
    route = Route(body)
    url = server.add("/e", route)
    final = cache.ensure(url, _sha(body), len(body))["path"]
    info = os.stat(final)
    with open(final, "r+b") as handle:  # same size, mtime put back: ctime still changes
        handle.write(b"EVIL")
    os.utime(final, ns=(info.st_atime_ns, info.st_mtime_ns))
    result = cache.ensure(url, _sha(body), len(body))
    assert result["cached"] is False and result["rehashed"] is True
    assert result["downloaded_bytes"] == len(body) and route.requests == 2
    assert Path(final).read_bytes() == body


def test_forged_stamp_is_trusted_by_fast_but_caught_by_full(server, cache):
    body = _blob(MIB)
    route = Route(body)
    url = server.add("/f", route)
    final = cache.ensure(url, _sha(body), len(body))["path"]
    with open(final, "r+b") as handle:
        handle.write(b"EVIL")
    time.sleep(0.05)  # outside the racy window, like an attacker who waits
    forged = dl.make_stamp(final, _sha(body), "sha256")
    Path(final + ".stamp").write_text(json.dumps(forged))
    fast = cache.ensure(url, _sha(body), len(body))
    assert fast["cached"] is True and fast["rehashed"] is False  # the documented trade-off of "fast"
    full = cache.ensure(url, _sha(body), len(body), verify="full")
    assert full["cached"] is False and full["rehashed"] is True and full["downloaded_bytes"] == len(body)
    assert Path(final).read_bytes() == body
    assert route.requests == 2


def test_missing_stamp_rehashes_once_then_fast(server, cache, monkeypatch):
    body = _blob(MIB)
    url = server.add("/g", Route(body))
    final = cache.ensure(url, _sha(body), len(body))["path"]
    os.unlink(final + ".stamp")
    calls = _hash_spy(monkeypatch)
    first = cache.ensure(url, _sha(body), len(body))
    assert first["cached"] is True and first["rehashed"] is True and len(calls) == 1
    second = cache.ensure(url, _sha(body), len(body))
    assert second["cached"] is True and second["rehashed"] is False and len(calls) == 1


# --------------------------------------------------------------------------- ArtifactCache: HTTP failures


def test_404_fails_at_once(server, cache, tmp_path):
    route = Route(mode="status", status=404)
    url = server.add("/missing", route)
    started = time.monotonic()
    with pytest.raises(DownloadError) as err:
        cache.ensure(url, "a" * 64, 10, component="app", file="missing.tgz", retries=5)
    assert "not found (HTTP 404)" in str(err.value)
    assert err.value.component == "app" and err.value.file == "missing.tgz"
    assert url in str(err.value)
    assert route.requests == 1 and time.monotonic() - started < 2
    assert _leftovers(tmp_path / "cache") == []


def test_403_fails_at_once(server, cache):
    route = Route(mode="status", status=403)
    url = server.add("/forbidden", route)
    with pytest.raises(DownloadError, match="HTTP 403"):
        cache.ensure(url, "a" * 64, 10, retries=5)
    assert route.requests == 1


def test_500_retried_then_succeeds(server, cache):
    body = _blob(100000)
    route = Route(body, fail_first=2)
    url = server.add("/flaky", route)
    result = cache.ensure(url, _sha(body), len(body), retries=3)
    assert route.requests == 3 and route.statuses == [500, 500, 200]
    assert Path(result["path"]).read_bytes() == body


def test_500_forever_names_url_and_last_error(server, cache):
    route = Route(mode="status", status=503)
    url = server.add("/down", route)
    with pytest.raises(DownloadError) as err:
        cache.ensure(url, "a" * 64, 10, retries=2)
    assert route.requests == 3
    message = str(err.value)
    assert url in message and "3 attempt(s)" in message and "HTTP 503" in message


def test_connection_refused_is_retried_and_reported(cache):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    with pytest.raises(DownloadError, match="2 attempt\\(s\\).*connection failed"):
        cache.ensure("http://127.0.0.1:%d/x" % port, "a" * 64, 10, retries=1)


def test_stall_after_headers_ends_by_timeout_and_keeps_part(server, cache):
    body = _blob(4 * MIB)
    cut = 2 * MIB + 100000
    route = Route(body, mode="stall", cut=cut)
    url = server.add("/stall", route)
    started = time.monotonic()
    with pytest.raises(DownloadError, match="timed out"):
        cache.ensure(url, _sha(body), len(body), timeout=0.3, retries=1)
    assert time.monotonic() - started < 4
    assert route.requests == 2
    final = cache.path_for(_sha(body))
    assert not os.path.exists(final)
    # Transient failure: what arrived is kept (up to the last whole block read) for a resume.
    kept = os.path.getsize(final + ".part")
    assert MIB <= kept <= cut
    assert route.ranges == [None, "bytes=%d-" % kept]


def test_endless_body_stops_at_declared_size(server, cache, tmp_path):
    declared = MIB
    route = Route(mode="endless", sndbuf=128 * 1024)
    url = server.add("/endless", route)
    with pytest.raises(DownloadError, match="response larger than the declared %d bytes" % declared):
        cache.ensure(url, "a" * 64, declared)
    time.sleep(0.2)  # let the handler notice the closed connection
    # Kernel socket buffers let the server push a little more than was read, nothing like "endless".
    assert declared <= route.bytes_sent < declared + 4 * MIB
    assert route.requests == 1
    assert _leftovers(tmp_path / "cache") == []


def test_oversized_body_with_content_length_fails_before_reading(server, cache, tmp_path):
    body = _blob(2 * MIB)
    route = Route(body)
    url = server.add("/big", route)
    with pytest.raises(DownloadError, match="response larger than the declared 1000 bytes"):
        cache.ensure(url, _sha(body[:1000]), 1000)
    assert route.requests == 1
    assert _leftovers(tmp_path / "cache") == []


def test_oversized_body_without_content_length(server, cache, tmp_path):
    body = _blob(16 * MIB)
    route = Route(body, send_length=False, sndbuf=128 * 1024)
    url = server.add("/big-nolength", route)
    with pytest.raises(DownloadError, match="response larger than the declared"):
        cache.ensure(url, _sha(body[:MIB]), MIB)
    time.sleep(0.2)
    assert route.bytes_sent < MIB + 4 * MIB
    assert _leftovers(tmp_path / "cache") == []


@pytest.mark.parametrize("mode", ["short", "short_cl"])
def test_truncated_body_is_retried_then_reported(server, cache, mode):
    body = _blob(500000)
    route = Route(body, mode=mode, cut=200000)
    url = server.add("/trunc-" + mode, route)
    with pytest.raises(DownloadError, match="truncated: got 200000 of 500000 bytes"):
        cache.ensure(url, _sha(body), len(body), retries=1)
    assert route.requests == 2
    assert not os.path.exists(cache.path_for(_sha(body)))


def test_truncated_first_response_is_resumed_with_range(server, cache):
    body = _blob(3 * MIB)
    route = Route(body, cut=MIB + 5, cut_first=True)
    url = server.add("/resume-inline", route)
    result = cache.ensure(url, _sha(body), len(body), retries=1)
    assert result["resumed"] is True and result["downloaded_bytes"] == len(body)
    assert route.ranges == [None, "bytes=%d-" % (MIB + 5)]
    assert route.statuses == [200, 206]
    assert Path(result["path"]).read_bytes() == body


def test_digest_mismatch_leaves_nothing(server, cache, tmp_path):
    body = _blob(MIB)
    evil = _blob(MIB, seed=2)
    route = Route(evil)
    url = server.add("/evil", route)
    with pytest.raises(IntegrityError) as err:
        cache.ensure(url, _sha(body), len(body), component="app", file="app.tgz")
    assert "sha256 mismatch: expected %s, got %s" % (_sha(body), _sha(evil)) in str(err.value)
    assert err.value.component == "app" and err.value.file == "app.tgz"
    assert route.requests == 1
    assert _leftovers(tmp_path / "cache") == []


def test_stale_part_from_earlier_run_is_replaced(server, cache):
    body = _blob(2 * MIB)
    route = Route(body)
    url = server.add("/stale", route)
    final = cache.path_for(_sha(body))
    os.makedirs(os.path.dirname(final))
    Path(final + ".part").write_bytes(b"\0" * MIB)  # wrong bytes from some earlier attempt
    result = cache.ensure(url, _sha(body), len(body))
    assert Path(result["path"]).read_bytes() == body
    assert route.ranges == ["bytes=%d-" % MIB, None]  # resume, mismatch, one clean download
    assert result["resumed"] is False


def test_server_ignoring_range_starts_over(server, cache):
    body = _blob(2 * MIB)
    route = Route(body, ranges=False)
    url = server.add("/norange", route)
    final = cache.path_for(_sha(body))
    os.makedirs(os.path.dirname(final))
    Path(final + ".part").write_bytes(body[:MIB])
    result = cache.ensure(url, _sha(body), len(body))
    assert result["resumed"] is False and result["downloaded_bytes"] == len(body)
    assert route.ranges == ["bytes=%d-" % MIB] and route.statuses == [200]
    assert Path(result["path"]).read_bytes() == body


def test_range_not_satisfiable_starts_over(server, cache):
    body = _blob(2 * MIB)
    route = Route(body, reject_ranges=True)
    url = server.add("/416", route)
    final = cache.path_for(_sha(body))
    os.makedirs(os.path.dirname(final))
    Path(final + ".part").write_bytes(body[:MIB])
    result = cache.ensure(url, _sha(body), len(body), retries=0)
    assert route.ranges == ["bytes=%d-" % MIB, None] and route.statuses == [416, 200]
    assert result["resumed"] is False and Path(final).read_bytes() == body


def test_empty_artifact(server, cache):
    route = Route(b"")
    url = server.add("/empty", route)
    result = cache.ensure(url, _sha(b""), 0)
    assert Path(result["path"]).read_bytes() == b"" and route.requests == 0


def test_complete_part_is_finished_without_network(server, cache):
    body = _blob(MIB)
    route = Route(body)
    url = server.add("/complete-part", route)
    final = cache.path_for(_sha(body))
    os.makedirs(os.path.dirname(final))
    Path(final + ".part").write_bytes(body)
    result = cache.ensure(url, _sha(body), len(body))
    assert route.requests == 0 and result["downloaded_bytes"] == 0
    assert Path(final).read_bytes() == body


# --------------------------------------------------------------------------- processes: kill and concurrency

_CHILD = r"""
import json, os, sys, time
from ansible_collections.groundwork.infra.plugins.module_utils._bundle_download import ArtifactCache
args = json.loads(sys.argv[1])
if args.get("ready"):
    open(args["ready"], "w").close()
    while not os.path.exists(args["go"]):
        time.sleep(0.002)
result = ArtifactCache(args["cache"]).ensure(args["url"], args["digest"], args["size"], timeout=10, retries=0)
print(json.dumps(result))
"""


def _child(**args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [COLLECTIONS_ROOT, os.environ.get("PYTHONPATH")])))
    return subprocess.Popen(  # pylint: disable=consider-using-with
        [sys.executable, "-c", _CHILD, json.dumps(args)], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_killed_download_leaves_no_final_file_and_rerun_resumes(server, cache):
    body = _blob(4 * MIB)
    route = Route(body, delay=0.02)  # about 1.3 s for the whole body
    url = server.add("/slow", route)
    final = cache.path_for(_sha(body))
    proc = _child(cache=cache.cache_dir, url=url, digest=_sha(body), size=len(body))
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if os.path.exists(final + ".part") and os.path.getsize(final + ".part") >= MIB:
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.01)
        else:
            pytest.fail("the child never got 1 MiB into the download")
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert not os.path.exists(final) and not os.path.exists(final + ".stamp")
    kept = os.path.getsize(final + ".part")
    assert MIB <= kept < len(body)

    route.delay = 0.0
    result = cache.ensure(url, _sha(body), len(body))
    assert result["resumed"] is True
    assert result["downloaded_bytes"] == len(body) - kept
    assert route.ranges[-1] == "bytes=%d-" % kept and route.statuses[-1] == 206
    assert Path(final).read_bytes() == body
    assert not os.path.exists(final + ".part")


def test_two_processes_download_exactly_once(server, cache, tmp_path):
    body = _blob(2 * MIB)
    route = Route(body, delay=0.01)  # about 0.3 s: the second process has to wait
    url = server.add("/shared", route)
    go = str(tmp_path / "go")
    procs = [
        _child(cache=cache.cache_dir, url=url, digest=_sha(body), size=len(body),
               ready=str(tmp_path / ("ready%d" % i)), go=go)
        for i in range(2)
    ]
    try:
        deadline = time.monotonic() + 10
        while not all(os.path.exists(tmp_path / ("ready%d" % i)) for i in range(2)):
            assert time.monotonic() < deadline, "children did not start"
            time.sleep(0.005)
        Path(go).touch()
        outputs = [proc.communicate(timeout=15) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    results = [json.loads(output[0]) for output in outputs]
    assert route.requests == 1
    assert sorted(r["cached"] for r in results) == [False, True]
    assert sum(r["downloaded_bytes"] for r in results) == len(body)
    assert Path(results[0]["path"]).read_bytes() == body


def test_lock_held_elsewhere_times_out(server, cache):
    body = _blob(1000)
    url = server.add("/locked", Route(body))
    final = cache.path_for(_sha(body))
    os.makedirs(os.path.dirname(final))
    with open(final + ".lock", "w") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        started = time.monotonic()
        with pytest.raises(LockError) as err:
            cache.ensure(url, _sha(body), len(body), lock_timeout=0.3, component="app", file="x.tgz")
        assert 0.25 < time.monotonic() - started < 3
    assert _sha(body) in str(err.value) and err.value.component == "app"
    assert server.routes["/locked"].requests == 0


# --------------------------------------------------------------------------- local sources, validation, disk full


def test_file_url_and_plain_path(cache, tmp_path, monkeypatch):
    body = _blob(MIB + 7)
    source = tmp_path / "src.bin"
    source.write_bytes(body)
    result = cache.ensure(source.as_uri(), _sha(body), len(body))
    assert result["cached"] is False and result["downloaded_bytes"] == len(body)
    assert Path(result["path"]).read_bytes() == body
    assert stat.S_IMODE(os.stat(result["path"]).st_mode) == 0o600
    calls = _hash_spy(monkeypatch)
    again = cache.ensure(str(source), _sha(body), len(body))
    assert again["cached"] is True and calls == []


def test_local_source_wrong_size_or_content(cache, tmp_path):
    body = _blob(10000)
    source = tmp_path / "src.bin"
    source.write_bytes(body)
    with pytest.raises(DownloadError, match="larger than the declared 9999 bytes"):
        cache.ensure(str(source), _sha(body[:9999]), 9999)
    with pytest.raises(DownloadError, match="truncated: got 10000 of 10001 bytes"):
        cache.ensure(str(source), _sha(body + b"x"), 10001)
    with pytest.raises(IntegrityError, match="sha256 mismatch"):
        cache.ensure(str(source), _sha(b"y" * 10000), 10000)
    with pytest.raises(DownloadError, match="not found"):
        cache.ensure(str(tmp_path / "nope"), _sha(body), len(body))
    assert _leftovers(tmp_path / "cache") == []


def test_special_files_are_refused(cache, tmp_path):
    with pytest.raises(DownloadError, match="not a regular file"):
        cache.ensure("/dev/zero", "a" * 64, 10)
    with pytest.raises(DownloadError, match="not a regular file"):
        dl.fetch_bytes("/dev/zero", 10)


@pytest.mark.parametrize("algorithm", ["md5", "sha1", "SHA-256", "", None])
def test_unsupported_algorithm_fails_closed(server, cache, tmp_path, algorithm):
    body = b"data"
    route = Route(body)
    url = server.add("/alg", route)
    with pytest.raises(IntegrityError, match="unsupported hash algorithm"):
        cache.ensure(url, hashlib.md5(body).hexdigest(), len(body), algorithm=algorithm)
    assert route.requests == 0 and not (tmp_path / "cache").exists()


@pytest.mark.parametrize("digest", ["../../../../etc/passwd", "A" * 63, "g" * 64, None, "a" * 128])
def test_bad_digest_rejected_before_any_path_is_built(cache, digest):
    with pytest.raises(IntegrityError, match="digest"):
        cache.path_for(digest)


@pytest.mark.parametrize("kwargs, match", [
    (dict(size=-1), "non-negative"),
    (dict(size="10"), "non-negative"),
    (dict(size=True), "non-negative"),
    (dict(verify="sometimes"), "verify must be one of"),
])
def test_bad_arguments(cache, kwargs, match):
    args = dict(url="http://127.0.0.1:9/x", digest="a" * 64, size=10)
    args.update(kwargs)
    with pytest.raises(IntegrityError, match=match):
        cache.ensure(**args)


def test_unsupported_scheme(cache):
    with pytest.raises(DownloadError, match="unsupported URL scheme 'ftp'"):
        cache.ensure("ftp://127.0.0.1/x", "a" * 64, 10)


def test_redirects_followed_but_never_to_local_files(server, cache, tmp_path):
    body = _blob(3000)
    target = server.add("/real", Route(body))
    hop = server.add("/hop", Route(target.encode(), mode="redirect"))
    assert Path(cache.ensure(hop, _sha(body), len(body))["path"]).read_bytes() == body
    secret = tmp_path / "secret"
    secret.write_bytes(body)
    evil = server.add("/evil-hop", Route(secret.as_uri().encode(), mode="redirect"))
    with pytest.raises(DownloadError, match="HTTP 302"):
        dl.fetch_bytes(evil, 10000, retries=3)
    assert server.routes["/evil-hop"].requests == 1


def test_credentials_are_not_echoed(server, cache):
    route = Route(mode="status", status=404)
    url = server.add("/secret", route).replace("http://", "http://user:hunter2@")
    with pytest.raises(DownloadError) as err:
        cache.ensure(url, "a" * 64, 10)
    assert "hunter2" not in str(err.value)


@pytest.fixture
def tiny_tmpfs(tmp_path):
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(mount_point)],
                       check=True, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip("cannot mount a tmpfs here (needs root and mount permission): %s" % exc)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False, capture_output=True, timeout=10)


def test_disk_full_raises_storage_error_and_cleans_up(server, tiny_tmpfs):
    body = _blob(MIB)
    route = Route(body)
    url = server.add("/too-big-for-disk", route)
    cache = dl.ArtifactCache(str(tiny_tmpfs / "cache"))
    with pytest.raises(StorageError, match="no space left") as err:
        cache.ensure(url, _sha(body), len(body), component="app", file="big.tgz")
    assert err.value.component == "app"
    assert _leftovers(tiny_tmpfs) == []  # no part, no final file, no stamp, no lock
    # And the filesystem is usable again: the space went back.
    small = _blob(1000)
    result = cache.ensure(server.add("/small", Route(small)), _sha(small), len(small))
    assert Path(result["path"]).read_bytes() == small


def test_disk_full_local_copy(tiny_tmpfs, tmp_path):
    body = _blob(MIB)
    source = tmp_path / "big.bin"
    source.write_bytes(body)
    cache = dl.ArtifactCache(str(tiny_tmpfs / "cache"))
    with pytest.raises(StorageError):
        cache.ensure(str(source), _sha(body), len(body))
    assert _leftovers(tiny_tmpfs) == []


# --------------------------------------------------------------------------- TLS


def _self_signed(tmp_path):
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path = tmp_path / "cert.pem"
    key_path = tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert_path), str(key_path))
    return context


def test_tls_verified_by_default(tmp_path, cache):
    srv = _run(_Server(tls_context=_self_signed(tmp_path)))
    try:
        body = _blob(5000)
        route = Route(body)
        url = srv.add("/tls", route)
        started = time.monotonic()
        with pytest.raises(DownloadError, match="certificate verify failed|TLS certificate verification failed"):
            cache.ensure(url, _sha(body), len(body), retries=3)
        assert time.monotonic() - started < 3 and route.requests == 0  # not retried
        with pytest.raises(DownloadError, match="certificate"):
            dl.fetch_bytes(url, 10000)
        result = cache.ensure(url, _sha(body), len(body), validate_certs=False)
        assert Path(result["path"]).read_bytes() == body
    finally:
        _shutdown(srv)


# --------------------------------------------------------------------------- fetch_bytes


def test_fetch_bytes_http_file_and_path(server, tmp_path):
    body = b'{"release": "1.0"}'
    url = server.add("/manifest.json", Route(body))
    assert dl.fetch_bytes(url, 1000) == body
    source = tmp_path / "m.json"
    source.write_bytes(body)
    assert dl.fetch_bytes(source.as_uri(), 1000) == body
    assert dl.fetch_bytes(str(source), len(body)) == body


def test_fetch_bytes_limit(server, tmp_path):
    body = _blob(5000)
    route = Route(body)
    url = server.add("/big.json", route)
    with pytest.raises(DownloadError, match="larger than the 4999 byte limit"):
        dl.fetch_bytes(url, 4999, retries=3, file="manifest.json")
    assert route.requests == 1
    source = tmp_path / "big.json"
    source.write_bytes(body)
    with pytest.raises(DownloadError, match="larger than the 100 byte limit"):
        dl.fetch_bytes(str(source), 100)


def test_fetch_bytes_endless_is_capped(server):
    route = Route(mode="endless", sndbuf=128 * 1024)
    url = server.add("/endless.json", route)
    with pytest.raises(DownloadError, match="larger than the 65536 byte limit"):
        dl.fetch_bytes(url, 65536)
    time.sleep(0.2)
    assert route.bytes_sent < 65536 + 4 * MIB and route.requests == 1


def test_fetch_bytes_404_500_and_stall(server):
    missing = Route(mode="status", status=404)
    with pytest.raises(DownloadError, match="not found \\(HTTP 404\\)") as err:
        dl.fetch_bytes(server.add("/nope.json", missing), 100, file="release.json")
    assert missing.requests == 1 and err.value.file == "release.json"

    flaky = Route(b"ok", fail_first=1)
    assert dl.fetch_bytes(server.add("/flaky.json", flaky), 100) == b"ok"
    assert flaky.requests == 2

    stalled = Route(b"x" * 100, mode="stall")
    started = time.monotonic()
    with pytest.raises(DownloadError, match="timed out"):
        dl.fetch_bytes(server.add("/stall.json", stalled), 1000, timeout=0.3, retries=0)
    assert time.monotonic() - started < 3


def test_fetch_bytes_truncated(server):
    route = Route(b"z" * 1000, mode="short", cut=10)
    with pytest.raises(DownloadError, match="truncated"):
        dl.fetch_bytes(server.add("/short.json", route), 10000, retries=1)
    assert route.requests == 2


# -- threat 20: not a regular file ------------------------------------------------------------------

@pytest.mark.parametrize("where", ["source", "cache entry", "partial download"])
def test_row20_fifo_in_the_artifact_path_never_blocks(tmp_path, no_hang, where):
    """Row 20 on the controller: a FIFO at an artifact's file:// location, at the cache's final
    path or at its .part is refused with a clear error instead of blocking the run."""
    import hashlib as _hashlib
    from ansible_collections.groundwork.infra.plugins.module_utils._bundle_download import ArtifactCache as _Cache
    data = b""  # declared size 0: the FIFO's size matches, so only its type can stop a hash of it
    digest = _hashlib.sha256(data).hexdigest()
    source = tmp_path / "art.bin"
    cache = _Cache(str(tmp_path / "cache"))
    final = cache.path_for(digest)
    os.makedirs(os.path.dirname(final))
    if where == "source":
        os.mkfifo(str(source))
    else:
        source.write_bytes(data)
        os.mkfifo(final if where == "cache entry" else final + ".part")
    with pytest.raises((DownloadError, StorageError)) as info:
        cache.ensure(source.as_uri(), digest, len(data), component="web", file="art.bin")
    assert "is a FIFO, not a regular file" in info.value.reason
    assert (info.value.component, info.value.file) == ("web", "art.bin")


# -- threat 21: credentials only for their origin -------------------------------------------------

@pytest.fixture
def other_server():
    """A second server: another port of 127.0.0.1 is another origin."""
    srv = _run(_Server())
    yield srv
    _shutdown(srv)


@pytest.fixture
def netrc_for_localhost(tmp_path, monkeypatch):
    path = tmp_path / "netrc"
    path.write_text("machine 127.0.0.1 login deploy password s3cret-netrc\n")
    path.chmod(0o600)
    monkeypatch.setenv("NETRC", str(path))
    return "Basic " + __import__("base64").b64encode(b"deploy:s3cret-netrc").decode()


@pytest.mark.parametrize("call", ["fetch_bytes", "ensure"])
def test_row21_netrc_credentials_do_not_follow_a_redirect_to_another_origin(
        server, other_server, cache, netrc_for_localhost, call):
    """Row 21: .netrc credentials for the release server went along after a 302 to another host
    (same for manifest, signature and artifact requests). Now the other origin gets none, while
    the release server itself still gets them."""
    body = _blob(3000)
    elsewhere = other_server.add("/mirror/art", Route(body))
    hop = server.add("/art", Route(elsewhere.encode(), mode="redirect"))
    if call == "fetch_bytes":
        assert dl.fetch_bytes(hop, 10000) == body
    else:
        assert Path(cache.ensure(hop, _sha(body), len(body))["path"]).read_bytes() == body
    assert server.routes["/art"].authorization == [netrc_for_localhost]
    assert other_server.routes["/mirror/art"].authorization == [None]


def test_row21_same_origin_redirect_keeps_credentials_and_user_in_url_stays_home(server, other_server, netrc_for_localhost):
    """Row 21: a redirect within the origin keeps the credentials; user:password written in the
    URL never reaches another origin either (nor does a user:password in the Location)."""
    body = _blob(100)
    same = server.add("/real", Route(body))
    server.add("/hop", Route(same.encode(), mode="redirect"))
    assert dl.fetch_bytes(same.replace("/real", "/hop"), 1000) == body
    assert server.routes["/real"].authorization == [netrc_for_localhost]
    elsewhere = other_server.add("/x", Route(body)).replace("http://", "http://thief:pw@")
    away = server.add("/away", Route(elsewhere.encode(), mode="redirect"))
    assert dl.fetch_bytes(away.replace("http://", "http://user:hunter2@"), 1000, retries=0) == body
    assert other_server.routes["/x"].authorization == [None]


def test_row21_redirect_loops_are_bounded(server):
    """Row 21: redirects are followed by us now; a loop ends with a download error."""
    url = server.add("/loop", Route(b"", mode="redirect"))
    server.routes["/loop"].body = url.encode()
    with pytest.raises(DownloadError, match="more than 10 redirects"):
        dl.fetch_bytes(url, 1000, retries=0)


# -- threat 24: drip-feeding servers ----------------------------------------------------------------

@pytest.mark.parametrize("call", ["fetch_bytes", "ensure"])
def test_row24_a_drip_feeding_server_hits_the_deadline(server, cache, call):
    """Row 24: one byte every 50 ms never trips the 1 s silence timeout, so this ran for minutes
    (and a 1-byte-per-0.5-s server for ever). The per-transfer deadline (timeout + size /
    min_download_rate) stops it with a download error that says it was too slow."""
    body = _blob(4000)
    url = server.add("/drip", Route(body, chunk=1, delay=0.05))
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        if call == "fetch_bytes":
            dl.fetch_bytes(url, len(body), timeout=1, retries=2, min_rate=4000)
        else:
            cache.ensure(url, _sha(body), len(body), component="web", file="drip.bin", timeout=1, retries=2, min_rate=4000)
    elapsed = time.monotonic() - start
    assert "too slow" in info.value.reason and "deadline of 2 s" in info.value.reason
    assert "min_download_rate 4000 bytes/s" in info.value.reason
    assert elapsed < 15, "the deadline did not stop the transfer (%.1f s)" % elapsed
    assert server.routes["/drip"].requests == 1  # a deadline is not retried
    if call == "ensure":
        assert (info.value.component, info.value.file) == ("web", "drip.bin")
        assert not any(p.is_file() for p in Path(cache.cache_dir).rglob("*") if not p.name.endswith(".lock"))


def test_row24_slow_but_steady_downloads_pass_and_zero_turns_the_deadline_off(server, cache):
    """Row 24, the other side: a transfer above the minimum rate completes; min_rate 0 = no deadline."""
    body = _blob(40000)
    url = server.add("/steady", Route(body, chunk=4096, delay=0.01))
    assert Path(cache.ensure(url, _sha(body), len(body), timeout=2, min_rate=16384)["path"]).read_bytes() == body
    slow = server.add("/slow", Route(body[:300], chunk=1, delay=0.005))
    assert dl.fetch_bytes(slow, 300, timeout=2, min_rate=0) == body[:300]
