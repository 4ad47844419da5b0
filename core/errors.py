"""One error type for bad input: always a single line naming the file, the entry and what is wrong."""

from __future__ import annotations


class JinbaoError(Exception):
    """Bad input or an impossible request. `str()` is the one-line message the CLI prints."""

    def __init__(self, message: str, *, file: str | None = None, entry: str | None = None) -> None:
        self.file = file
        self.entry = entry
        self.message = message
        where = ": ".join(p for p in (file, entry) if p)
        super().__init__(f"{where}: {message}" if where else message)


class PoolExhausted(JinbaoError):
    """No room left for an allocation inside its parent block."""
