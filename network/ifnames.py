"""Interface names per platform. Intents carry real names; the facts live in the platform registry."""

from __future__ import annotations

from inventory.platforms import IfNaming, platform


def naming(name: str) -> IfNaming:
    return platform(name).ifnames


__all__ = ["IfNaming", "naming"]
