"""Running host commands for the lab: one place for errors, logging and progress."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence

from core.errors import JinbaoError

Progress = Callable[[str], None]


class LabError(JinbaoError, RuntimeError):
    """A lab operation failed; the message says what and how to recover."""


def quiet(_msg: str) -> None:
    """Default progress callback: say nothing."""


def run(
    argv: Sequence[str],
    *,
    check: bool = True,
    input: str | None = None,
    timeout: float | None = 60.0,
) -> subprocess.CompletedProcess[str]:
    """Run a host command, capturing text output; raise LabError with stderr when check fails."""
    try:
        proc = subprocess.run(list(argv), input=input, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise LabError(f"command not found: {argv[0]} (run scripts/setup-host.sh)") from exc
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        raise LabError(f"{' '.join(argv)} failed ({proc.returncode}): {detail}")
    return proc


def ok(argv: Sequence[str], timeout: float | None = 30.0) -> bool:
    """True when the command exits 0 (used for existence checks)."""
    return run(argv, check=False, timeout=timeout).returncode == 0
