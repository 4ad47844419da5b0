"""The view's shape: the vendor-neutral values a template reads (addresses with their masks, interfaces,
policy objects, BGP, BFD, management, SNMP, AAA), built by network/render/view.py."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Addr:
    afi: str
    ip: str
    plen: int
    cidr: str  # ip/plen (host address with its prefix length)
    network: str  # network address
    mask: str  # dotted mask (IPv4) or "" (IPv6)
    wildcard: str  # inverse mask (IPv4) or ""


@dataclass(frozen=True, slots=True)
class Net:
    afi: str
    network: str
    plen: int
    cidr: str
    mask: str
    wildcard: str


@dataclass(frozen=True, slots=True)
class IfView:
    name: str
    kind: str
    description: str
    v4: Addr | None
    v6: Addr | None
    vrf: str | None
    bfd: bool  # single-hop BFD timers needed on this interface
    is_loopback: bool
    is_mgmt: bool
    ipv6_ra: bool = False  # send router advertisements here (user LANs); suppressed everywhere else


@dataclass(frozen=True, slots=True)
class AclEntryView:
    seq: int
    action: str
    net: Net


@dataclass(frozen=True, slots=True)
class PrefixEntryView:
    seq: int
    action: str
    net: Net
    ge: int | None
    le: int | None


@dataclass(frozen=True, slots=True)
class PrefixListView:
    name: str
    afi: str
    entries: tuple[PrefixEntryView, ...]


@dataclass(frozen=True, slots=True)
class CommunityListView:
    name: str
    communities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RouteMapEntryView:
    seq: int
    action: str
    match_prefix_list: str | None
    match_prefix_afi: str | None  # decides `ip` vs `ipv6` match keywords
    match_community_list: str | None
    set_local_preference: int | None
    set_med: int | None
    prepend: tuple[int, ...]
    set_community: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RouteMapView:
    name: str
    entries: tuple[RouteMapEntryView, ...]


@dataclass(frozen=True, slots=True)
class StaticView:
    afi: str
    net: Net
    next_hop: str | None
    discard: bool
    vrf: str | None
    description: str
    name_token: str  # description squeezed into one token (IOS `name`)


@dataclass(frozen=True, slots=True)
class NeighborView:
    address: str
    afi: str
    remote_as: int
    description: str
    peer: str
    kind: str
    role: str
    link_kind: str | None
    update_source: str | None  # interface name to source the session from (loopback iBGP)
    local_address: str  # resolved local address of the session
    local_interface: str  # interface carrying it (connected) or the update-source interface
    bfd: bool
    bfd_multihop: bool
    route_map_in: str | None
    route_map_out: str | None
    max_prefix: int | None
    next_hop_self: bool
    default_originate: bool  # send this neighbour a default route (parents to children)
    password: str | None  # platform-stored form (see credentials.py)
    ttl_security_hops: int | None = None  # GTSM
    max_prefix_restart: int | None = None  # minutes (Comware templates multiply by 60: it counts seconds)


@dataclass(frozen=True, slots=True)
class AfView:
    afi: str
    networks: tuple[Net, ...]
    neighbors: tuple[NeighborView, ...]


@dataclass(frozen=True, slots=True)
class BgpView:
    asn: int
    router_id: str
    keepalive: int
    hold: int
    neighbors: tuple[NeighborView, ...]
    afs: tuple[AfView, ...]  # ipv4 first, then ipv6; only families with neighbours or networks


@dataclass(frozen=True, slots=True)
class BfdView:
    name: str
    min_rx_ms: int
    min_tx_ms: int
    multiplier: int
    peers: tuple[NeighborView, ...]  # BFD-enabled neighbours (one session per address)
    any_multihop: bool
    multihop_template: str  # name for platforms that need a named multi-hop template (IOS)


@dataclass(frozen=True, slots=True)
class MgmtView:
    vrf: str
    interface: str
    address: Addr
    gateway: str | None
    ntp_servers: tuple[str, ...]
    syslog_hosts: tuple[str, ...]
    acl_name: str
    acl_entries: tuple[AclEntryView, ...]
    acl6_entries: tuple[AclEntryView, ...]  # the same ACL for IPv6 (named <acl_name>-V6 where names count)
    ssh_only: bool
    banner_lines: tuple[str, ...]
    domain: str
    tz_name: str
    tz_sign: str  # "add" / "minus"
    tz_hours: int
    tz_minutes: int


@dataclass(frozen=True, slots=True)
class SnmpView:
    user: str
    group: str
    view: str
    auth_protocol: str
    priv_protocol: str
    auth_key: str | None
    priv_key: str | None
    engine_id: str | None
    location: str
    contact: str
    trap_hosts: tuple[str, ...]
    acl: str


@dataclass(frozen=True, slots=True)
class AaaView:
    local_user: str
    password_hash: str | None
    tacacs_servers: tuple[str, ...]
    tacacs_key: str | None
    tacacs_group: str


@dataclass(frozen=True, slots=True)
class DeviceView:
    hostname: str
    platform: str
    role: str
    site: str
    tier: str
    asn: int
    loopback_v4: str | None
    loopback_v6: str | None
    interfaces: tuple[IfView, ...]
    vrfs: tuple[str, ...]
    static_routes: tuple[StaticView, ...]  # all, global table first
    global_static_routes: tuple[StaticView, ...]  # for syntaxes that nest VRF routes (FRR `vrf` block)
    vrf_static_routes: dict[str, tuple[StaticView, ...]]
    prefix_lists: tuple[PrefixListView, ...]
    community_lists: tuple[CommunityListView, ...]
    route_maps: tuple[RouteMapView, ...]
    bgp: BgpView | None
    bfd: BfdView | None
    mgmt: MgmtView
    snmp: SnmpView
    aaa: AaaView
    header: tuple[str, ...]
