"""Typed schema of the IP plan rules (`ipplan.yaml`)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, field_validator

from core.errors import JinbaoError
from core.text import StrictDoc as _Doc  # unknown keys refused; every string one line, no control characters
from core.yamlio import parse_model, read_yaml, require_exactly
from inventory.naming import ROLES

PLAN_FILE = "ipplan.yaml"
REGISTRY_FILE = "ip-registry.tsv"
# service: the DR service addresses (docs/dr.md): one host route per production database, announced by
# whichever site runs it as the primary, never as a pool aggregate
POOLS = ("business", "office", "management", "loopback", "p2p", "dmz", "service")
HEADROOM_TIERS = ("ministry", "province", "municipality", "city", "dr", "access")




def _prefix(v: str) -> str:
    try:
        return str(ipaddress.ip_network(v, strict=True))
    except ValueError as e:
        raise ValueError(f"not a network prefix: {e}") from None


def _pool(v: str) -> str:
    if v not in POOLS:
        raise ValueError(f"unknown pool {v!r} (one of {', '.join(POOLS)})")
    return v


def _roles(v: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [r for r in v if r not in ROLES]
    if unknown:
        raise ValueError(f"unknown role {unknown[0]!r} (known: {', '.join(ROLES)})")
    return v


class PoolDoc(_Doc):
    ipv4: str
    ipv6: str

    _net = field_validator("ipv4", "ipv6")(_prefix)


class SubnetDoc(_Doc):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    pool: str
    ipv4: int = Field(ge=8, le=32)
    ipv6: int = Field(ge=16, le=128)
    gateway: bool = False  # the first host is the subnet's gateway (the firewall's zone interface)
    hosts: tuple[str, ...] = ()  # device roles with an address here, in this order (e.g. [WR, FW])

    _p = field_validator("pool")(_pool)
    _r = field_validator("hosts")(_roles)


class LoopbackDoc(_Doc):
    roles: tuple[str, ...]
    ipv4: int = Field(32, ge=24, le=32)
    ipv6: int = Field(128, ge=64, le=128)

    _r = field_validator("roles")(_roles)


class ServiceDoc(_Doc):
    """The service address of each replicated production database (a data centre's first DB server)."""
    ipv4: int = Field(32, ge=32, le=32)  # a host route: the one address a client is given
    ipv6: int = Field(128, ge=128, le=128)


class P2pDoc(_Doc):
    ipv4: int = Field(31, ge=24, le=31)
    ipv6: int = Field(127, ge=64, le=127)


class MgmtDoc(_Doc):
    ipv6: int = Field(64, ge=48, le=120)
    headroom: int = Field(2, ge=1, le=16)


class SubnetsDoc(_Doc):
    dc: tuple[SubnetDoc, ...]
    dr: tuple[SubnetDoc, ...]
    access: dict[str, tuple[SubnetDoc, ...]]


class ReservationDoc(_Doc):
    prefix: str
    pool: str
    note: str = ""

    _net = field_validator("prefix")(_prefix)
    _p = field_validator("pool")(_pool)


class PlanDoc(_Doc):
    version: int = Field(1, ge=1, le=1)
    pools: dict[str, PoolDoc]
    headroom: dict[str, int]
    subnets: SubnetsDoc
    loopback: LoopbackDoc
    p2p: P2pDoc = P2pDoc()
    service: ServiceDoc = ServiceDoc()
    management: MgmtDoc = MgmtDoc()
    reservations: tuple[ReservationDoc, ...] = ()

    @field_validator("pools")
    @classmethod
    def _pools(cls, v: dict[str, PoolDoc]) -> dict[str, PoolDoc]:
        require_exactly(v, POOLS, "pools must be exactly")
        return v

    @field_validator("headroom")
    @classmethod
    def _headroom(cls, v: dict[str, int]) -> dict[str, int]:
        for k, n in v.items():
            if k not in HEADROOM_TIERS:
                raise ValueError(f"unknown tier {k!r} (known: {', '.join(HEADROOM_TIERS)})")
            if n < 1 or n & (n - 1):
                raise ValueError(f"{k}: headroom {n} must be a power of two >= 1")
        return v


def load_plan(directory: Path) -> PlanDoc:
    path = Path(directory) / PLAN_FILE
    plan = parse_model(PlanDoc, read_yaml(path), path)
    _check_reservations(plan, str(path))
    return plan


def _check_reservations(plan: PlanDoc, file: str) -> None:
    """A reservation is a hole in its own pool: one outside the pool would be recorded and never matter, and a
    second entry for the same prefix would silently replace the first one's note."""
    seen: dict[tuple[str, str], int] = {}
    for i, res in enumerate(plan.reservations):
        net = ipaddress.ip_network(res.prefix)
        pool = ipaddress.ip_network(getattr(plan.pools[res.pool], f"ipv{net.version}"))
        if not net.subnet_of(pool):  # type: ignore[arg-type]
            raise JinbaoError(f"reservation {res.prefix} lies outside pool {res.pool} ({pool})", file=file,
                              entry=f"reservations.{i}")
        first = seen.setdefault((res.pool, res.prefix), i)
        if first != i:
            raise JinbaoError(f"reservation {res.prefix} in pool {res.pool} is already reservations.{first}",
                              file=file, entry=f"reservations.{i}")
