"""The render facts of every platform jinbao renders, looked up in the platform registry.

CLI syntax itself lives only in `network/templates/<platform>/macros.j2`; everything else that differs
(template, secret formats, comment style) is in `inventory/platforms.py`.
"""

from __future__ import annotations

from inventory.platforms import LoginHash, ReversibleKey, SnmpKey, renderable
from inventory.platforms import RenderSpec as PlatformSpec

PLATFORMS: dict[str, PlatformSpec] = renderable()

__all__ = ["PLATFORMS", "LoginHash", "PlatformSpec", "ReversibleKey", "SnmpKey"]
