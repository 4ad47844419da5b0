"""One validation finding: (rule, detail). Shared by every validator."""

from __future__ import annotations

from typing import NamedTuple


class Finding(NamedTuple):
    rule: str
    detail: str
