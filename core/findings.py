"""One finding, the unit every checker reports: the IP record check, static verification, config
validation, the zone-policy analysis and the business/office separation check.

A finding names the rule it breaks, the subject it is about (a record key, a device or devices, a site;
empty when the caller holds the subject, e.g. the config a validator was given), a one-line message, and
domain facts in `detail` (an example packet, a rule line, a pool). Each domain's JSON is a contract other
tools read, so each keeps its own shape: a `Shape` that says which JSON key comes from which field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]
Shape = tuple[tuple[str, str], ...]  # (JSON key, field name or detail key), in output order


@dataclass(frozen=True)
class Finding:
    rule: str
    subject: str
    message: str
    detail: Mapping[str, Any] = field(default_factory=dict)
    severity: Severity = "error"  # every checker today reports errors: a finding fails the command

    def as_dict(self, shape: Shape) -> dict[str, Any]:
        """This finding in a domain's JSON shape (fields first, then `detail` keys)."""
        return {key: getattr(self, name) if name in _FIELDS else self.detail[name] for key, name in shape}


_FIELDS = frozenset(("rule", "subject", "message", "severity"))
