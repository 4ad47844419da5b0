"""Typed schema of the inventory document (`jinbao.yaml`). Validation errors name the entry path."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from core.text import StrictDoc
from inventory.naming import REGION_CODE_RE, ROLES


class _Doc(StrictDoc, BaseModel):  # BaseModel named for linters; StrictDoc: every string one line, no control chars
    pass


Count = Annotated[int, Field(ge=0, le=999)]


def _code(v: str) -> str:
    if not REGION_CODE_RE.fullmatch(v):
        raise ValueError(f"region code {v!r} must be six digits (GB/T 2260)")
    return v


class MinistryDoc(_Doc):
    code: str = "100000"
    name_zh: str
    name_en: str
    city: str

    _c = field_validator("code", "city")(_code)


class NationalDrDoc(_Doc):
    city: str | None = None
    # the data centre the national DR centre's own WAN line (kind dr) lands on: not the ministry it backs
    # up. Default: the data centre of its city, when there is one.
    line_to: str | None = None

    @field_validator("city")
    @classmethod
    def _city(cls, v: str | None) -> str | None:
        return None if v is None else _code(v)


# The highest ASN a site can take above asn_base: DR centres and access sites use
# asn_base + 1,000,000 + <first four digits of the code> x 1000 + <site number> (Inventory.asn).
MAX_ASN_OFFSET = 1_000_000 + 9999 * 1000 + 999


class NetworkDoc(_Doc):
    name_zh: str
    name_en: str
    asn_base: int = Field(4200000000, ge=4200000000, le=4294967295 - MAX_ASN_OFFSET)
    ministry: MinistryDoc
    national_dr: NationalDrDoc = NationalDrDoc()


class ExtraRegionDoc(_Doc):
    code: str
    name_zh: str
    name_en: str
    level: str = Field(pattern="^(province|municipality|city|county-city)$")
    province: str = ""

    _c = field_validator("code")(_code)


class RegionsDoc(_Doc):
    file: str = "regions.csv"
    extra: tuple[ExtraRegionDoc, ...] = ()


class ProvinceDoc(_Doc):
    capital: str | None = None  # default <pp>0100
    dr_city: str | None = None
    centralised: bool = False
    extra_city_centres: tuple[str, ...] = ()
    excluded_city_centres: tuple[str, ...] = ()


class AccessKindDoc(_Doc):
    first: int = Field(ge=1, le=999)
    last: int = Field(ge=1, le=999)
    name_zh: str
    name_en: str


class AccessSitesDoc(_Doc):
    kinds: dict[str, AccessKindDoc]
    per_city: dict[str, Count]
    overrides: dict[str, dict[str, Count]] = {}


class PlatformsDoc(_Doc):
    default: dict[str, str]
    sites: dict[str, str] = {}
    devices: dict[str, str] = {}


class SiteOverrideDoc(_Doc):
    devices: dict[str, Annotated[int, Field(ge=0, le=99)]] = {}
    platform: str | None = None


class ExtraSiteDoc(_Doc):
    id: str
    parent: str
    name_zh: str
    name_en: str
    access_kind: str | None = None


class ExtraDeviceDoc(_Doc):
    hostname: str
    platform: str | None = None


class InventoryDoc(_Doc):
    version: int = Field(1, ge=1, le=1)
    network: NetworkDoc
    regions: RegionsDoc = RegionsDoc()
    provinces: dict[str, ProvinceDoc] = {}
    device_roles: dict[str, dict[str, int]]
    platforms: PlatformsDoc
    access_sites: AccessSitesDoc
    site_overrides: dict[str, SiteOverrideDoc] = {}
    sites: tuple[ExtraSiteDoc, ...] = ()
    devices: tuple[ExtraDeviceDoc, ...] = ()

    @field_validator("device_roles")
    @classmethod
    def _roles(cls, v: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        for tier, roles in v.items():
            for role, n in roles.items():
                if role not in ROLES:
                    raise ValueError(f"{tier}: unknown role {role!r} (known: {', '.join(ROLES)})")
                if n < 0 or n > 99:
                    raise ValueError(f"{tier}.{role}: count {n} out of range 0..99")
        return v
