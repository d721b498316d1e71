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
