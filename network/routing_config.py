"""Typed schema of the routing and management-plane policy (`routing.yaml`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from jinbao.yamlio import parse_model, read_yaml

ROUTING_FILE = "routing.yaml"


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimersDoc(_Doc):
    keepalive: int = Field(ge=1, le=3600)
    hold: int = Field(ge=3, le=65535)


class LocalPrefDoc(_Doc):
    primary: int = Field(ge=0)
    backup: int = Field(ge=0)


class BgpDoc(_Doc):
    timers: TimersDoc
    local_preference: LocalPrefDoc
    backup_prepend: int = Field(ge=1, le=10)
    max_prefix_margin: int = Field(2, ge=1, le=100)
    communities: dict[str, str]
    announced_pools: tuple[str, ...]


class BfdDoc(_Doc):
    profile: str
    min_rx_ms: int = Field(ge=10, le=60000)
    min_tx_ms: int = Field(ge=10, le=60000)
    multiplier: int = Field(ge=2, le=255)


class MgmtDoc(_Doc):
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
