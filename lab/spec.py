"""Pure-data description of a lab: nodes, veth links, LAN segments, static routes, management net.

Nothing here touches the machine. ``LabSpec.to_dict()``/``LabSpec.from_dict()`` round-trip through
JSON, and ``LabSpec.validate()`` rejects specs the runtime could not build (names too long for the
kernel, addresses outside the management net or on the host's own 192.0.2.0/24, unknown nodes).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from lab.sh import LabError

KINDS = ("router", "firewall", "server")
SERVICES = ("sshd", "frr", "snmpd", "postgresql", "nftables")
FRR_DEFAULTS = ("traditional", "datacenter")
# Addresses the lab must never use: the host's own network (docs/lab.md).
RESERVED_NETS = (ipaddress.ip_network("192.0.2.0/24"),)
RESERVED_IFNAMES = ("lo", "mgmt0")

_LAB_RE = re.compile(r"^[a-z][a-z0-9]{0,7}$")  # "jbmgmt-" + 8 chars = 15, the kernel's limit
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_IFNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,14}$")
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME_RE = re.compile(rf"^(?=.{{1,64}}$){_LABEL}(\.{_LABEL})*$")
SNMP_AUTH_PROTOS = ("SHA", "SHA-224", "SHA-256", "SHA-384", "SHA-512")
SNMP_PRIV_PROTOS = ("AES", "AES128")


class SpecError(LabError):
    """The lab spec is inconsistent or cannot be built."""


@dataclass(frozen=True)
class NodeSpec:
    name: str
    hostname: str
    role: str
    kind: str  # "router" | "firewall" | "server"
    mgmt_ip: str  # CIDR, e.g. "100.127.0.5/24"
    services: tuple[str, ...] = ("sshd",)
    location: str = ""  # SNMP sysLocation (the planned site name); "" = the lab's name


@dataclass(frozen=True)
class IfaceSpec:
    node: str
    ifname: str
    addrs: tuple[str, ...] = ()  # CIDRs, IPv4 and IPv6


@dataclass(frozen=True)
class LinkSpec:
    """A point-to-point veth pair between two nodes."""

    name: str
    a: IfaceSpec
    b: IfaceSpec


@dataclass(frozen=True)
class SegmentSpec:
    """A LAN: a Linux bridge in its own namespace; each member attaches by a veth."""

    name: str
    members: tuple[IfaceSpec, ...]


@dataclass(frozen=True)
class RouteSpec:
    """A static kernel route on a node (servers: their default gateway)."""

    node: str
    dst: str  # "default", "default6" or a CIDR
    via: str


@dataclass(frozen=True)
class SnmpUser:
    """The one SNMPv3 user (authPriv only) every snmpd in the lab is given. Lab credentials."""

    name: str
    auth_key: str = field(repr=False)
    priv_key: str = field(repr=False)
    auth_proto: str = "SHA"
    priv_proto: str = "AES"


@dataclass(frozen=True)
class LabSpec:
    name: str
    mgmt_net: str  # e.g. "100.127.0.0/24"
    mgmt_host_ip: str  # the host's address on the management bridge, e.g. "100.127.0.1"
    nodes: tuple[NodeSpec, ...] = ()
    links: tuple[LinkSpec, ...] = ()
    segments: tuple[SegmentSpec, ...] = ()
    routes: tuple[RouteSpec, ...] = ()
    snmp_user: SnmpUser | None = None  # None: taken from JINBAO_LAB_SNMP_* at up time
    frr_defaults: str = "traditional"

    # -- serialisation -------------------------------------------------------------------------
    def to_dict(self, *, redact: bool = False) -> dict[str, Any]:
        data = json.loads(json.dumps(asdict(self)))
        if redact and data["snmp_user"]:
            data["snmp_user"]["auth_key"] = data["snmp_user"]["priv_key"] = "***"
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabSpec:
        def iface(d: dict[str, Any]) -> IfaceSpec:
            return IfaceSpec(d["node"], d["ifname"], tuple(d.get("addrs", ())))

        snmp = data.get("snmp_user")
        return cls(
            name=data["name"],
            mgmt_net=data["mgmt_net"],
            mgmt_host_ip=data["mgmt_host_ip"],
            nodes=tuple(
                NodeSpec(n["name"], n["hostname"], n["role"], n["kind"], n["mgmt_ip"], tuple(n.get("services", ())),
                         n.get("location", ""))
                for n in data.get("nodes", ())
            ),
            links=tuple(LinkSpec(x["name"], iface(x["a"]), iface(x["b"])) for x in data.get("links", ())),
            segments=tuple(
                SegmentSpec(s["name"], tuple(iface(m) for m in s["members"])) for s in data.get("segments", ())
            ),
            routes=tuple(RouteSpec(r["node"], r["dst"], r["via"]) for r in data.get("routes", ())),
            snmp_user=SnmpUser(**snmp) if snmp else None,
            frr_defaults=data.get("frr_defaults", "traditional"),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def digest(self) -> str:
        """Identity of this spec: a second up with the same digest is a no-op."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]

    # -- lookups -------------------------------------------------------------------------------
    def node(self, name: str) -> NodeSpec:
        for n in self.nodes:
            if n.name == name:
                return n
        raise SpecError(f"lab {self.name}: no node {name!r}")

    def ifaces(self) -> list[IfaceSpec]:
        """Every data-plane interface of every node (links and segment members)."""
        out = [i for link in self.links for i in (link.a, link.b)]
        return out + [m for seg in self.segments for m in seg.members]

    # -- validation ----------------------------------------------------------------------------
    def validate(self) -> LabSpec:
        """Raise SpecError for anything the runtime cannot build; return self for chaining."""
        errors: list[str] = []
        if not _LAB_RE.match(self.name):
            errors.append(f"lab name {self.name!r}: 1-8 chars [a-z0-9], starting with a letter")
        if self.frr_defaults not in FRR_DEFAULTS:
            errors.append(f"frr_defaults {self.frr_defaults!r} not in {FRR_DEFAULTS}")
        try:
            mgmt = ipaddress.ip_network(self.mgmt_net)
            host = ipaddress.ip_interface(self.mgmt_host_ip).ip
        except ValueError as exc:
            raise SpecError(f"lab {self.name}: management addressing: {exc}") from exc
        errors += _reserved("mgmt_net", mgmt)
        if mgmt.version != 4 or host not in mgmt:
            errors.append(f"mgmt_host_ip {self.mgmt_host_ip} must be IPv4 inside mgmt_net {mgmt}")
        seen_ips = {host}
        names: set[str] = set()
        for n in self.nodes:
            errors += _check_node(n, mgmt, seen_ips, names)
            names.add(n.name)
        seen_if: set[tuple[str, str]] = set()
        for i in self.ifaces():
            errors += _check_iface(i, names, seen_if, mgmt)
            seen_if.add((i.node, i.ifname))
        for group, items in (("link", self.links), ("segment", self.segments)):
            labels = [x.name for x in items]
            errors += [f"duplicate {group} name {x!r}" for x in set(labels) if labels.count(x) > 1]
            errors += [f"{group} name {x!r}: [a-z0-9-], max 40" for x in labels if not _NAME_RE.fullmatch(x)]
        for seg in self.segments:
            if not seg.members:
                errors.append(f"segment {seg.name}: no members")
        for r in self.routes:
            errors += _check_route(r, names)
        if self.snmp_user and (len(self.snmp_user.auth_key) < 8 or len(self.snmp_user.priv_key) < 8):
            errors.append("snmp_user: net-snmp needs auth and priv passphrases of at least 8 characters")
        if self.snmp_user and any(
            c in v for v in (self.snmp_user.auth_key, self.snmp_user.priv_key) for c in ('"', "\n", "\\")
        ):
            errors.append("snmp_user: passphrases must not contain quotes, backslashes or newlines")
        if self.snmp_user and (
            self.snmp_user.auth_proto not in SNMP_AUTH_PROTOS or self.snmp_user.priv_proto not in SNMP_PRIV_PROTOS
        ):
            errors.append(f"snmp_user: protocols must be one of {SNMP_AUTH_PROTOS} / {SNMP_PRIV_PROTOS}")
        if self.snmp_user and not _NAME_RE.fullmatch(self.snmp_user.name.lower()):
            errors.append(f"snmp_user: user name {self.snmp_user.name!r}: letters, digits, '-'")
        if errors:
            raise SpecError(f"lab {self.name}: " + "; ".join(errors))
        return self


def _reserved(what: str, net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> list[str]:
    return [f"{what} {net} overlaps the host's network {r}" for r in RESERVED_NETS if net.overlaps(r)]


def _check_node(
    n: NodeSpec, mgmt: ipaddress.IPv4Network | ipaddress.IPv6Network, seen: set[Any], names: set[str]
) -> list[str]:
    errors = []
    if not _NAME_RE.fullmatch(n.name):
        errors.append(f"node name {n.name!r}: [a-z0-9-], max 40")
    if n.name in names:
        errors.append(f"duplicate node {n.name!r}")
    if not _HOSTNAME_RE.match(n.hostname):
        errors.append(f"node {n.name}: hostname {n.hostname!r} is not a valid host name")
    if n.kind not in KINDS:
        errors.append(f"node {n.name}: kind {n.kind!r} not in {KINDS}")
    bad = sorted(set(n.services) - set(SERVICES))
    if bad:
        errors.append(f"node {n.name}: unknown services {bad}")
    try:
        ip = ipaddress.ip_interface(n.mgmt_ip)
    except ValueError:
        return [*errors, f"node {n.name}: mgmt_ip {n.mgmt_ip!r} is not an address/prefix"]
    if ip.ip not in mgmt or ip.network != mgmt:
        errors.append(f"node {n.name}: mgmt_ip {n.mgmt_ip} must be an address in {mgmt} with its prefix")
    if ip.ip in seen:
        errors.append(f"node {n.name}: mgmt_ip {ip.ip} used twice")
    seen.add(ip.ip)
    return errors


def _check_iface(
    i: IfaceSpec,
    names: set[str],
    seen: set[tuple[str, str]],
    mgmt: ipaddress.IPv4Network | ipaddress.IPv6Network,
) -> list[str]:
    errors = []
    if i.node not in names:
        errors.append(f"interface {i.ifname} on unknown node {i.node!r}")
    if not _IFNAME_RE.match(i.ifname) or i.ifname in RESERVED_IFNAMES:
        errors.append(f"node {i.node}: interface name {i.ifname!r} invalid (max 15 chars, not lo/mgmt0)")
    if (i.node, i.ifname) in seen:
        errors.append(f"node {i.node}: interface {i.ifname} used twice")
    for addr in i.addrs:
        try:
            net = ipaddress.ip_interface(addr).network
        except ValueError:
            errors.append(f"node {i.node} {i.ifname}: {addr!r} is not an address/prefix")
            continue
        errors += _reserved(f"{i.node} {i.ifname} {addr}", net)
        if net.overlaps(mgmt):
            errors.append(f"node {i.node} {i.ifname}: {addr} overlaps the management net {mgmt}")
    return errors


def _check_route(r: RouteSpec, names: set[str]) -> list[str]:
    errors = [] if r.node in names else [f"route on unknown node {r.node!r}"]
    try:
        via = ipaddress.ip_address(r.via)
        if r.dst not in ("default", "default6"):
            dst = ipaddress.ip_network(r.dst)
            if dst.version != via.version:
                errors.append(f"route {r.dst} via {r.via}: address families differ")
        elif (r.dst == "default6") != (via.version == 6):
            errors.append(f"route {r.dst} via {r.via}: use 'default' for IPv4, 'default6' for IPv6")
    except ValueError as exc:
        errors.append(f"route on {r.node}: {exc}")
    return errors
