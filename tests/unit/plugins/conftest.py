"""Fixtures shared by the plugin tests (module_utils, plugin_utils, modules)."""

import signal

import pytest


@pytest.fixture
def no_hang():
    """Fail a test that blocks (for example on a FIFO) instead of hanging the run."""
    def timeout(_signum, _frame):
        raise AssertionError("blocked for 10 s")
    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)
