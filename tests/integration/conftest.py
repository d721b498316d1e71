# -*- coding: utf-8 -*-
# Copyright: groundwork.infra contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for end-to-end tests that run real ansible-playbook processes.

* ``bundle_server``: a real threaded HTTP server on 127.0.0.1 that serves a directory
  and counts the requests per path (and can stream endless data on chosen paths);
* ``minisign_keys``: two key pairs made by the real ``minisign -G -W``;
* ``playbook_runner`` / ``session_runner``: write a playbook, run the real
  ``ansible-playbook`` against localhost (local connection, the test interpreter) and
  return the per-task results of the ``ansible.posix.json`` stdout callback.
"""

from __future__ import annotations

import collections
import functools
import http.server
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import threading
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# The collection is found through build/collections (tests/conftest.py makes the link),
# community collections (ansible.posix for the json callback) through the venv's site-packages.
COLLECTIONS = ROOT / "build" / "collections"
SITE_PACKAGES = sysconfig.get_paths()["purelib"]
MINISIGN = shutil.which("minisign") or "/usr/bin/minisign"
PLAYBOOK_TIMEOUT = 240


# --------------------------------------------------------------------------- HTTP server


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves files; records every request path; streams endless bytes on ``endless`` paths."""

    server_version = "bundle-test"

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    def _record(self):
        with self.server.counts_lock:
            self.server.counts[self.path.split("?", 1)[0]] += 1

    def do_GET(self):
        self._record()
        if self.path in self.server.endless:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()  # no Content-Length: the body ends when the connection closes
            block = b"\0" * 65536
            try:
                for dummy in range(16 * 1024):  # at most 1 GiB, far more than any declared size
                    self.wfile.write(block)
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
            return
        super().do_GET()

    def do_HEAD(self):
        self._record()
        super().do_HEAD()


class BundleServer:
    """A real HTTP server on 127.0.0.1 in a background thread."""

    def __init__(self, root):
        self.root = Path(root)
        handler = functools.partial(_Handler, directory=str(self.root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.counts = collections.Counter()
        self.httpd.counts_lock = threading.Lock()
        self.httpd.endless = set()
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="bundle-server", daemon=True)
        self.thread.start()

    def url_for(self, path):
        """URL of a file under the served root (a Path or a path relative to the root)."""
        rel = Path(path).resolve().relative_to(self.root.resolve()) if Path(path).is_absolute() else Path(path)
        return "%s/%s" % (self.url, rel.as_posix())

    def requests(self, prefix=""):
        """{path: count} of the requests whose path starts with ``/prefix``."""
        want = "/" + prefix.lstrip("/")
        with self.httpd.counts_lock:
            return {p: n for p, n in self.httpd.counts.items() if p.startswith(want)}

    def stream_endless(self, path):
        self.httpd.endless.add("/" + str(path).lstrip("/"))

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def bundle_server(tmp_path_factory):
    server = BundleServer(tmp_path_factory.mktemp("www"))
    yield server
    server.close()


# --------------------------------------------------------------------------- minisign keys


@pytest.fixture(scope="session")
def minisign_keys(tmp_path_factory):
    """Two unencrypted key pairs made by the real minisign: {"a": {...}, "b": {...}}."""
    if not os.path.exists(MINISIGN):
        pytest.fail("the minisign binary is required (apt-get install minisign)")
    base = tmp_path_factory.mktemp("keys")
    keys = {}
    for name in ("a", "b"):
        pub, sec = base / ("%s.pub" % name), base / ("%s.key" % name)
        subprocess.run([MINISIGN, "-G", "-W", "-p", str(pub), "-s", str(sec)], check=True, capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=60)
        comment, key_line = pub.read_text().splitlines()[:2]
        # "untrusted comment: minisign public key 86828CBC08C18EBF"; minisign prints the id with %X, so
        # an id with leading zeros is shorter: pad it to the 16 digits the collection reports.
        key_id = comment.rsplit(" ", 1)[-1].zfill(16)
        assert re.match(r"^[0-9A-F]{16}$", key_id), comment
        keys[name] = {"pub": str(pub), "key": str(sec), "key_id": key_id, "line": key_line}
    return keys


# --------------------------------------------------------------------------- ansible-playbook


class PlaybookRun:
    def __init__(self, proc, path):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.path = path
        try:
            self.data = json.loads(proc.stdout)
        except ValueError:
            self.data = None
        self.tasks = collections.OrderedDict()
        for play in (self.data or {}).get("plays", []):
            for task in play.get("tasks", []):
                name = task["task"]["name"]
                for host, result in task["hosts"].items():
                    self.tasks[name if host == "localhost" else "%s@%s" % (name, host)] = result

    def __getitem__(self, name):
        if name not in self.tasks:
            raise AssertionError("task %r did not run; ran %s\nrc=%s\nstdout:\n%s\nstderr:\n%s" % (
                name, list(self.tasks), self.rc, self.stdout[-6000:], self.stderr[-4000:]))
        return self.tasks[name]

    def explain(self):
        return "rc=%s\nstdout:\n%s\nstderr:\n%s" % (self.rc, self.stdout[-8000:], self.stderr[-4000:])


def tool_env(home):
    """Environment for ansible-* processes: the test venv first, no pyenv shims, private state dirs."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    parts = [str(BIN)] + [p for p in env.get("PATH", "").split(os.pathsep) if p and "/.pyenv/" not in p]
    cfg = Path(home) / "ansible.cfg"
    if not cfg.exists():
        cfg.write_text("[defaults]\nretry_files_enabled = false\n", encoding="utf-8")
    env.update(
        PATH=os.pathsep.join(parts),
        ANSIBLE_CONFIG=str(cfg),
        ANSIBLE_COLLECTIONS_PATH="%s:%s" % (COLLECTIONS, SITE_PACKAGES),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_NOCOWS="1",
        ANSIBLE_HOME=str(Path(home) / "ansible-home"),
        ANSIBLE_LOCAL_TEMP=str(Path(home) / "ansible-tmp"),
        ANSIBLE_REMOTE_TEMP=str(Path(home) / "ansible-remote-tmp"),
        HOME=str(home),
    )
    return env


_COUNTER = itertools.count(1)


class PlaybookRunner:
    """Write a playbook for localhost and run it with the real ansible-playbook."""

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.inventory = self.workdir / "inventory.ini"
        self.inventory.write_text(
            "localhost ansible_connection=local ansible_python_interpreter=%s\n"
            "# A host on which no module can run: its Python does not exist.\n"
            "nomodules ansible_connection=local ansible_python_interpreter=/nonexistent/bin/python3\n"
            "[pair]\n"
            "host1 ansible_connection=local ansible_python_interpreter=%s\n"
            "host2 ansible_connection=local ansible_python_interpreter=%s\n" % ((sys.executable,) * 3),
            encoding="utf-8")
        self.env = tool_env(self.workdir)

    def write(self, tasks=None, hosts="localhost", gather_facts=False, name=None, plays=None):
        """One play of ``tasks`` on ``hosts``, or the given ``plays`` (dicts with hosts, tasks, ...)."""
        path = self.workdir / ("%s-%03d.yml" % (name or "play", next(_COUNTER)))
        if plays is None:
            plays = [{"hosts": hosts, "gather_facts": gather_facts, "tasks": tasks}]
        plays = [dict({"name": name or "test", "gather_facts": False}, **play) for play in plays]
        path.write_text(yaml.safe_dump(plays, sort_keys=False), encoding="utf-8")
        return path

    def command(self, path, check=False, diff=False, extra=()):
        cmd = [str(BIN / "ansible-playbook"), "-i", str(self.inventory), str(path)]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        return cmd + list(extra)

    def start(self, tasks=None, check=False, diff=False, **kwargs):
        path = self.write(tasks, **kwargs)
        proc = subprocess.Popen(self.command(path, check, diff), env=self.env, cwd=str(self.workdir),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        return proc, path

    @staticmethod
    def finish(started):
        proc, path = started
        try:
            stdout, stderr = proc.communicate(timeout=PLAYBOOK_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
        return PlaybookRun(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), path)

    def __call__(self, tasks=None, check=False, diff=False, **kwargs):
        return self.finish(self.start(tasks, check=check, diff=diff, **kwargs))


@pytest.fixture(scope="session")
def playbook_runner():
    """The PlaybookRunner class: ``playbook_runner(workdir)`` makes a runner with its own inventory and config."""
    return PlaybookRunner


@pytest.fixture(scope="session")
def session_runner(tmp_path_factory):
    return PlaybookRunner(tmp_path_factory.mktemp("ansible-session"))
