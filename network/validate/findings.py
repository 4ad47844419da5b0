"""A validator's finding (core.findings.Finding): about the config the validator was given, so it names no
subject; its message says what is wrong and where (a line, a neighbour, an interface)."""

from __future__ import annotations

from core.findings import Finding


def finding(rule: str, message: str) -> Finding:
    return Finding(rule, "", message)
