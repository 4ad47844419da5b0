"""One check result, the unit every report is made of."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Status = Literal["pass", "fail", "error"]


@dataclass(frozen=True)
class Result:
    node: str  # hostname
    control: str
    clause: str
    status: Status
    evidence: str
    site: str = ""
    kind: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def site_of(hostname: str) -> str:
    """`JB-140100-DC-WR01` -> `140100-DC` (the naming rule); anything else -> ''."""
    parts = hostname.split("-")
    return f"{parts[1]}-{parts[2]}" if len(parts) >= 4 and parts[0] == "JB" else ""
