"""Polling for tests that watch another process (a background run, a server) reach a state."""
from __future__ import annotations

import time


def wait_until(pred, timeout: float = 300.0, every: float = 0.2):
    """``pred()``'s first truthy value, polled every ``every`` seconds; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s")
