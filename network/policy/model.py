"""The zone policy as typed data (`inventory/policy.yaml`) and its validation.

Every way the file can be wrong is a one-line `JinbaoError` naming the file and the entry: an unknown zone
or service, a flow joining networks that must never meet, two flows that conflict (allow and deny on the
same traffic) or a flow that adds nothing because earlier flows already cover it (shadowed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.errors import JinbaoError
from core.yamlio import parse_model, read_yaml

POLICY_FILE = "policy.yaml"
# replica: the site holding the source site's database replica (inventory/dr.yaml's rule, docs/dr.md)
Relation = Literal["same", "parent", "dr", "replica"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ZoneDoc(_Strict):
    network: str
    record: str  # purpose of the zone's blocks in the IP registration record
    behind_firewall: bool = False  # a segment of the site's own firewall (else reached over its WAN side)
    access_kind: str | None = None  # the zone is made of access sites of this kind (their LANs)
    # a zone without a subnet of its own sits behind another zone's firewall port (the DR service addresses
    # live on the database servers of the production zone)
    port: str | None = None
    # with to_site replica, the zone is the source site's own blocks, reached at its replica's site (a DR
    # service address moves with its database)
    follows_replica: bool = False
    description: str = ""


class ServiceDoc(_Strict):
    protocol: Literal["tcp", "udp"]
    ports: list[int | str] = Field(min_length=1)  # 22 or "8000-8010"

    @field_validator("ports")
    @classmethod
    def _ports(cls, v: list[int | str]) -> list[int | str]:
        for p in v:
            lo, hi = _port_range(p)
            if not 1 <= lo <= hi <= 65535:
                raise ValueError(f"port {p!r} is not within 1-65535")
        return v


class FlowDoc(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")
    from_: str | list[str] = Field(alias="from")
    to: str | list[str]
    to_site: Relation = "same"
    services: list[str] = Field(min_length=1)
    action: Literal["allow", "deny"] = "allow"
    why: str = ""


class PolicyDoc(_Strict):
    isolated: list[tuple[str, str]] = []
    zones: dict[str, ZoneDoc]
    services: dict[str, ServiceDoc]
    flows: list[FlowDoc]


def _port_range(p: int | str) -> tuple[int, int]:
    if isinstance(p, int):
        return p, p
    lo, _, hi = str(p).partition("-")
    try:
        return int(lo), int(hi or lo)
    except ValueError:
        raise ValueError(f"port {p!r} is neither a number nor a range a-b") from None


# -- the validated model ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Service:
    name: str
    protocol: str  # tcp | udp
    ports: tuple[tuple[int, int], ...]  # inclusive ranges


@dataclass(frozen=True, slots=True)
class Flow:
    index: int  # position in the file (flows.N)
    name: str
    src: str  # zone
    dst: str  # zone
    to_site: str
    services: tuple[str, ...]
    action: str

    @property
    def entry(self) -> str:
        return f"flows.{self.index} ({self.name})"


@dataclass(frozen=True)
class Policy:
    zones: dict[str, ZoneDoc]
    services: dict[str, Service]
    flows: tuple[Flow, ...]  # one per (source zone, destination zone) of each flow entry
    isolated: tuple[tuple[str, str], ...]
    source: str = ""

    def allowed(self) -> tuple[Flow, ...]:
        return tuple(f for f in self.flows if f.action == "allow")


def _as_list(v: str | list[str]) -> list[str]:
    return [v] if isinstance(v, str) else list(v)


def build_policy(doc: PolicyDoc, source: str = "") -> Policy:
    """Check the document's cross-references and flows; return the model or raise a one-line error."""
    def fail(entry: str, msg: str) -> JinbaoError:
        return JinbaoError(msg, file=source, entry=entry)

    networks = {z.network for z in doc.zones.values()}
    for i, pair in enumerate(doc.isolated):
        for n in pair:
            if n not in networks:
                raise fail(f"isolated.{i}", f"unknown network {n!r} (zones use: {', '.join(sorted(networks))})")
    services = {name: Service(name, s.protocol, tuple(_port_range(p) for p in s.ports))
                for name, s in doc.services.items()}
    for name, z in doc.zones.items():
        if z.port is not None and (z.port not in doc.zones or not doc.zones[z.port].behind_firewall
                                   or doc.zones[z.port].port is not None or not z.behind_firewall):
            raise fail(f"zones.{name}", f"port {z.port!r}: needs a zone behind the firewall with a port of its own,"
                                        " and the zone itself behind the firewall")
    flows: list[Flow] = []
    seen_names: set[str] = set()
    for i, f in enumerate(doc.flows):
        entry = f"flows.{i} ({f.name})"
        if f.name in seen_names:
            raise fail(entry, f"duplicate flow name {f.name!r}")
        seen_names.add(f.name)
        for z in (*_as_list(f.from_), *_as_list(f.to)):
            if z not in doc.zones:
                raise fail(entry, f"unknown zone {z!r} (known: {', '.join(sorted(doc.zones))})")
        for s in f.services:
            if s not in services:
                raise fail(entry, f"unknown service {s!r} (known: {', '.join(sorted(services))})")
        if len(set(f.services)) != len(f.services):
            raise fail(entry, "a service is listed twice")
        for a in _as_list(f.from_):
            for b in _as_list(f.to):
                na, nb = doc.zones[a].network, doc.zones[b].network
                if f.action == "allow" and ({na, nb} in [set(p) for p in doc.isolated] and na != nb):
                    raise fail(entry, f"{a} -> {b} connects the {na} network to the {nb} network, which must "
                                      "never be connected")
                if f.to_site != "same" and not (doc.zones[a].behind_firewall and doc.zones[b].behind_firewall):
                    raise fail(entry, f"to_site {f.to_site!r} needs zones behind the firewall at both ends "
                                      f"({a} -> {b})")
                flows.append(Flow(i, f.name, a, b, f.to_site, tuple(f.services), f.action))
    _check_overlaps(flows, services, fail)
    return Policy(dict(doc.zones), services, tuple(flows), tuple(tuple(p) for p in doc.isolated), source)


def _check_overlaps(flows: list[Flow], services: dict[str, Service], fail) -> None:
    """Conflicting flows (allow and deny on common traffic) and shadowed ones (every port they open is
    already opened by earlier flows between the same zones) are errors: the policy must read one way."""
    def ports(f: Flow) -> set[tuple[str, int, int]]:
        return {(services[s].protocol, lo, hi) for s in f.services for lo, hi in services[s].ports}

    by_pair: dict[tuple[str, str, str], list[Flow]] = {}
    for f in flows:
        by_pair.setdefault((f.src, f.dst, f.to_site), []).append(f)
    for group in by_pair.values():
        for j, f in enumerate(group):
            mine = ports(f)
            covered: list[tuple[str, int, int]] = []
            for g in group[:j]:
                if g.index == f.index:
                    continue
                theirs = ports(g)
                common = [(p, max(a, c), min(b, d)) for p, a, b in mine for q, c, d in theirs
                          if p == q and max(a, c) <= min(b, d)]
                if common and g.action != f.action:
                    p, lo, hi = common[0]
                    port = f"{lo}" if lo == hi else f"{lo}-{hi}"
                    raise fail(f.entry, f"conflicts with {g.entry}: {f.src} -> {f.dst} {p}/{port} is both "
                                        "allowed and denied")
                if g.action == f.action:
                    covered += list(theirs)
            if covered and all(_covered(p, lo, hi, covered) for p, lo, hi in mine):
                raise fail(f.entry, f"shadowed: {f.src} -> {f.dst} ({f.to_site} site) adds nothing that earlier "
                                    "flows do not already allow")


def _covered(proto: str, lo: int, hi: int, ranges: list[tuple[str, int, int]]) -> bool:
    at = lo
    for _, a, b in sorted(r for r in ranges if r[0] == proto):
        if a <= at <= b:
            at = b + 1
        if at > hi:
            return True
    return at > hi


def load_policy(directory: Path) -> Policy:
    path = Path(directory) / POLICY_FILE
    doc = parse_model(PolicyDoc, read_yaml(path), path)
    return build_policy(doc, str(path))
