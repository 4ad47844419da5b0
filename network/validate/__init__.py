"""Static validation of rendered configurations before anything is pushed.

`render` runs the platform's validator (named in inventory/platforms.py) on every config it writes and
writes nothing if one fails; `deploy` pushes only configs that carry a matching validation stamp.
"""

from __future__ import annotations

import hashlib

from core.errors import JinbaoError
from core.findings import Finding
from inventory.platforms import platform as platform_facts
from network.validate.frr import FrrCheckerUnavailable, validate_frr, validate_frr_many
from network.validate.ios_like import validate_ios_like


class ValidationFailed(JinbaoError, ValueError):
    """A rendered config failed its platform's validator; the message is one line naming the device."""

    def __init__(self, hostname: str, platform: str, findings: list[Finding]) -> None:
        self.hostname = hostname
        self.findings = findings
        first = findings[0]
        more = f" (+{len(findings) - 1} more)" if len(findings) > 1 else ""
        super().__init__(f"{hostname}: {platform} config fails validation: {first.rule}: {first.message}{more}")


def validator_name(platform: str) -> str:
    name = platform_facts(platform).validator
    if name is None:
        raise ValueError(f"platform {platform!r} has no validator")
    return name


def validate_config(text: str, platform: str) -> list[Finding]:
    """Dispatch to the platform's checker (registry); empty list = clean."""
    if validator_name(platform) == "frr":  # FRR's own parser, then the same structural rules as the others
        return validate_frr(text) + validate_ios_like(text, platform)
    return validate_ios_like(text, platform)


def validate_many(items: list[tuple[str, str]]) -> list[list[Finding]]:
    """Findings for each (text, platform); FRR configs are checked together in one vtysh run."""
    out: list[list[Finding]] = [[] for _ in items]
    frr = [i for i, (_, p) in enumerate(items) if validator_name(p) == "frr"]
    for i, found in zip(frr, validate_frr_many([items[i][0] for i in frr]), strict=True):
        out[i] = found
    for i, (text, p) in enumerate(items):
        out[i] = out[i] + validate_ios_like(text, p)
    return out


def stamp(text: str) -> str:
    """What a validated config is known by: the sha256 of its text (also the manifest's sha256)."""
    return hashlib.sha256(text.encode()).hexdigest()


def validated(text: str, platform: str, hostname: str) -> str:
    """Validate `text`; return its stamp, or raise ValidationFailed."""
    findings = validate_config(text, platform)
    if findings:
        raise ValidationFailed(hostname, platform, findings)
    return stamp(text)


__all__ = ["Finding", "FrrCheckerUnavailable", "ValidationFailed", "stamp", "validate_config", "validate_frr",
           "validate_frr_many", "validate_ios_like", "validate_many", "validated", "validator_name"]
