"""The expanded source of truth: every site, device and link of the network, as plain immutable data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Tier = Literal["ministry", "province", "municipality", "city", "access"]
Kind = Literal["dc", "dr", "access"]

ROUTER_ROLES = frozenset({"WR", "AR"})
SERVER_ROLES = frozenset({"DB", "EX", "DS", "NM"})
# role -> (address pool, zone): where a device of the role has its LAN address (the host view's jinbao_zone, the
# lab's segments, the isolation checks' zone hosts). Management servers live on the out-of-band management network.
ZONE_OF_ROLE: dict[str, tuple[str, str]] = {
    "DB": ("business", "production"), "EX": ("business", "exchange"), "DS": ("office", "decision"),
    "NM": ("management", "management"), "WR": ("management", "wan"), "AR": ("management", "wan"),
    "FW": ("business", "transit"),
}
ZONE_HOST_ROLES = ("DB", "EX", "DS")  # the servers that stand in a business or office zone, one zone LAN each


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    name_zh: str
    name_en: str
    level: str  # province | municipality | city | county-city
    province: str  # province code ("" for provinces)


@dataclass(frozen=True, slots=True)
class Site:
    id: str
    code: str  # region code of the site (access sites: their city's code)
    tier: Tier
    kind: Kind
    parent: str | None
    name_zh: str
    name_en: str
    province: str  # province code (ministry: its own code)
    city: str  # region code of the city the site stands in
    access_kind: str | None = None

    @property
    def suffix(self) -> str:
        """The site part of hostnames: DC, DR or AS<nnn>."""
        return self.id.split("-", 1)[1]


@dataclass(frozen=True, slots=True)
class Device:
    hostname: str
    site: str
    role: str
    index: int
    platform: str

    @property
    def is_router(self) -> bool:
        return self.role in ROUTER_ROLES


@dataclass(frozen=True, slots=True)
class Link:
    """A point-to-point link. `a` is the upper-tier end (or the lower-numbered router inside a site)."""

    a: str
    b: str
    # primary | backup | access | internal | dr (a DR centre's own line, `b` its router; or a provincial-level
    # data centre's line to the national DR centre, `a` the national DR router)
    kind: str
    a_site: str
    b_site: str
    numbered_in: str = ""  # the site whose p2p space holds its /31s when not the lower site (DR lines)

    @property
    def p2p_site(self) -> str:
        """The site whose p2p aggregate holds the link's addresses (the registry files the /31 there)."""
        return self.numbered_in or self.b_site

    @property
    def id(self) -> str:
        """Stable identity (it keys the link's addresses in the registry): a line up to a lower site is named
        by its kind and the lower router alone, so re-homing it on another parent router keeps its /31."""
        if self.a_site == self.b_site:
            return f"{self.kind}:{self.a}--{self.b}"
        return f"{self.kind}:{self.b}"


@dataclass(frozen=True, slots=True)
class Inventory:
    sites: tuple[Site, ...]
    devices: tuple[Device, ...]
    links: tuple[Link, ...]
    asn_base: int
    source: str = ""
    _site_index: dict[str, Site] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._site_index.update({s.id: s for s in self.sites})

    def site(self, site_id: str) -> Site:
        return self._site_index[site_id]

    def has_site(self, site_id: str) -> bool:
        return site_id in self._site_index

    def children(self) -> dict[str, list[Site]]:
        out: dict[str, list[Site]] = {s.id: [] for s in self.sites}
        for s in self.sites:
            if s.parent is not None:
                out[s.parent].append(s)
        return out

    def devices_of(self) -> dict[str, list[Device]]:
        out: dict[str, list[Device]] = {s.id: [] for s in self.sites}
        for d in self.devices:
            out[d.site].append(d)
        return out

    def restrict(self, site_ids: set[str]) -> Inventory:
        """The same network with only these sites, their devices and the links between them: a slice
        to build first (the lab, a staged roll-out). Addresses stay those of the whole plan."""
        missing = site_ids - self._site_index.keys()
        if missing:
            raise KeyError(f"unknown sites {sorted(missing)}")
        return Inventory(
            sites=tuple(s for s in self.sites if s.id in site_ids),
            devices=tuple(d for d in self.devices if d.site in site_ids),
            links=tuple(lk for lk in self.links if lk.a_site in site_ids and lk.b_site in site_ids),
            asn_base=self.asn_base, source=self.source)

    def asn(self, site: Site) -> int:
        """A data centre: asn_base + region code (docs/routing.md). DR centres and access sites share a region
        code with a data centre, so they take their own ASN above that range (eBGP between sites):
        asn_base + 1,000,000 + <first four digits of the code> x 1000 + <site number> (DR: 000)."""
        if site.kind == "access":
            return self.asn_base + 1_000_000 + (int(site.code) // 100) * 1000 + int(site.id[-3:])
        if site.kind == "dr":
            return self.asn_base + 1_000_000 + (int(site.code) // 100) * 1000
        return self.asn_base + int(site.code)
