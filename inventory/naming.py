"""The device-naming rule: JB-<region code>-<site>-<role><nn>, e.g. JB-140100-DC-WR01."""

from __future__ import annotations

import re

ROLES = ("WR", "FW", "DB", "EX", "DS", "NM", "AR")
# full matches only (`fullmatch`): `$` would also match before a trailing newline
HOSTNAME_RE = re.compile(r"JB-(?P<code>\d{6})-(?P<site>DC|DR|AS\d{3})-(?P<role>WR|FW|DB|EX|DS|NM|AR)(?P<nn>\d{2})")
SITE_ID_RE = re.compile(r"(?P<code>\d{6})-(?P<site>DC|DR|AS\d{3})")
REGION_CODE_RE = re.compile(r"\d{6}")


def hostname(site_id: str, role: str, index: int) -> str:
    return f"JB-{site_id}-{role}{index:02d}"


def parse_hostname(name: str) -> tuple[str, str, int]:
    """Return (site id, role, index) or raise ValueError saying what breaks the rule."""
    m = HOSTNAME_RE.fullmatch(name)
    if not m:
        raise ValueError(f"hostname {name!r} breaks the rule JB-<6-digit code>-<DC|DR|ASnnn>-<ROLE><nn>"
                         f" (roles {', '.join(ROLES)})")
    if m["role"] == "AR" and not m["site"].startswith("AS"):
        raise ValueError(f"hostname {name!r}: access routers (AR) belong to access sites (ASnnn)")
    if m["nn"] == "00":
        raise ValueError(f"hostname {name!r}: device numbers start at 01")
    return f"{m['code']}-{m['site']}", m["role"], int(m["nn"])
