"""Wait for a condition by polling: the one poller the drills and `make run` share."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(pred: Callable[[], object], timeout: float, interval: float = 0.05) -> bool:
    """True as soon as `pred()` is truthy; False once `timeout` seconds have passed without it."""
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            return False
        time.sleep(interval)
    return True
