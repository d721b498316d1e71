"""Fixtures shared by the module_utils tests."""

import os
import time

import pytest


@pytest.fixture
def slow_writes(monkeypatch):
    """Writes that give a write-back thread (WriteBehind) time to run between them."""
    real = os.write

    def slow(fd, data):
        time.sleep(0.02)
        return real(fd, data)

    monkeypatch.setattr(os, "write", slow)


class _Durable(set):
    """What a power cut would keep: (dev, ino, size, mode) of every file and directory as it was
    when made durable, and the calls that did it (``calls``: "fsync" or "syncfs")."""

    def __init__(self):
        super().__init__()
        self.calls = []


@pytest.fixture
def durable(monkeypatch):
    """durable(root) -> a _Durable set, kept up to date by spies on os.fsync and _bundle_hash.syncfs.

    An fsync makes one file durable: its state at that moment is added. A syncfs that
    succeeds makes the whole file system durable: the state of every entry below ``root``
    on that file system at that moment is added. A file written or changed after the call
    that covered it does not match what was recorded, so a test that compares against the
    set (dev, ino, size, mode) sees it.
    """
    from ansible_collections.groundwork.infra.plugins.module_utils import _bundle_hash  # pylint: disable=import-outside-toplevel

    def install(root):
        seen = _Durable()
        real_fsync = os.fsync
        real_syncfs = _bundle_hash.syncfs

        def fsync(fd):
            st = os.fstat(fd)
            seen.add((st.st_dev, st.st_ino, st.st_size, st.st_mode))
            seen.calls.append("fsync")
            return real_fsync(fd)

        def syncfs(fd):
            done = real_syncfs(fd)
            if done:
                dev = os.fstat(fd).st_dev
                for directory, dirs, files in os.walk(str(root)):
                    for name in [""] + dirs + files:
                        st = os.lstat(os.path.join(directory, name) if name else directory)
                        if st.st_dev == dev:
                            seen.add((st.st_dev, st.st_ino, st.st_size, st.st_mode))
                seen.calls.append("syncfs")
            return done

        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(_bundle_hash, "syncfs", syncfs)
        return seen

    return install
