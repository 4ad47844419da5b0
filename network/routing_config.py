"""Typed schema of the routing and management-plane policy (`routing.yaml`)."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from core.text import StrictDoc as _Doc  # unknown keys refused; every string one line, no control characters
from core.yamlio import parse_model, read_yaml
from ipplan.config import POOLS

ROUTING_FILE = "routing.yaml"
TIERS = ("ministry", "province", "municipality", "city", "dr", "access")  # a community per origin tier
_COMMUNITY_RE = re.compile(r"(\d{1,5}):(\d{1,5})")




class TimersDoc(_Doc):
    keepalive: int = Field(ge=1, le=3600)
    hold: int = Field(ge=3, le=65535)


class LocalPrefDoc(_Doc):
    primary: int = Field(ge=0)
    backup: int = Field(ge=0)
    dr: int = Field(30, ge=0)  # routes learned over a DR centre's own line: the last resort

    @model_validator(mode="after")
    def _order(self) -> LocalPrefDoc:
        if not self.primary > self.backup > self.dr:
            raise ValueError(f"local preferences must fall primary > backup > dr (have {self.primary},"
                             f" {self.backup}, {self.dr})")
        return self


class BgpDoc(_Doc):
    timers: TimersDoc
    local_preference: LocalPrefDoc
    backup_prepend: int = Field(ge=1, le=10)
    max_prefix_margin: int = Field(2, ge=1, le=100)
    # after a max-prefix teardown the session comes back on its own after this long, on every platform
    # (VRP idle-timeout and IOS/FRR restart count minutes, Comware reconnect seconds)
    max_prefix_restart_minutes: int = Field(5, ge=1, le=1200)
    communities: dict[str, str]
    announced_pools: tuple[str, ...]

    @field_validator("communities")
    @classmethod
    def _communities(cls, v: dict[str, str]) -> dict[str, str]:
        missing = [t for t in TIERS if t not in v]
        unknown = [t for t in v if t not in TIERS]
        if missing or unknown:
            raise ValueError(f"communities must name exactly the tiers {', '.join(TIERS)}"
                             f" (missing {missing or 'none'}, unknown {unknown or 'none'})")
        for tier, c in v.items():
            m = _COMMUNITY_RE.fullmatch(c) if isinstance(c, str) else None
            if not m or int(m[1]) > 65535 or int(m[2]) > 65535:
                raise ValueError(f"{tier}: community {c!r} must be <0-65535>:<0-65535>")
        return v

    @field_validator("announced_pools")
    @classmethod
    def _announced(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for p in v:
            if p not in POOLS:
                raise ValueError(f"unknown pool {p!r} (one of {', '.join(POOLS)})")
        if len(set(v)) != len(v):
            raise ValueError("a pool is listed twice")
        return v


class BfdDoc(_Doc):
    profile: str
    min_rx_ms: int = Field(ge=10, le=60000)
    min_tx_ms: int = Field(ge=10, le=60000)
    multiplier: int = Field(ge=2, le=255)
    # the lab's routers only (lab/slice.py): FRR's bfdd costs CPU per packet, and a lab of 34 FRR routers at
    # 100 ms used a whole core of the control host; None: the lab runs the production timers
    lab_interval_ms: int | None = Field(None, ge=10, le=60000)


class MgmtDoc(_Doc):
    MULTILINE = frozenset({"banner"})  # a login banner is several lines; no other control character
    vrf: str
    snmp_user: str
    snmp_auth: str = Field(pattern="^(SHA|SHA-256)$")
    snmp_priv: str = Field(pattern="^(AES|AES-256)$")
    local_user: str
    domain: str
    banner: str


class RoutingDoc(_Doc):
    version: int = Field(1, ge=1, le=1)
    bgp: BgpDoc
    bfd: BfdDoc
    management: MgmtDoc


def load_routing(directory: Path) -> RoutingDoc:
    path = Path(directory) / ROUTING_FILE
    return parse_model(RoutingDoc, read_yaml(path), path)
