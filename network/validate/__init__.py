"""Static validation of rendered configurations before anything is pushed."""

from __future__ import annotations

from network.validate.frr import FrrCheckerUnavailable, validate_frr
from network.validate.ios_like import Finding, validate_ios_like


def validate_config(text: str, platform: str) -> list[Finding]:
    """Dispatch to the right checker for `platform`; empty list = clean."""
    if platform == "frr":
        return validate_frr(text)
    return validate_ios_like(text, platform)


__all__ = ["Finding", "FrrCheckerUnavailable", "validate_config", "validate_frr", "validate_ios_like"]
