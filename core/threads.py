"""What code that reports from worker threads shares."""

from __future__ import annotations

import threading
from collections.abc import Callable

Progress = Callable[[str, str], None]  # progress(name, message): a device's or a VM's step


def serialised(progress: Progress | None) -> Progress:
    """The caller's progress callback, made safe to call from worker threads (one message at a time: a
    console or a list must not interleave); None becomes a no-op."""
    lock = threading.Lock()

    def say(name: str, message: str) -> None:
        if progress is not None:
            with lock:
                progress(name, message)

    return say
