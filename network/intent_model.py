"""Vendor-neutral device intent: what one device must be, independent of its CLI syntax.

The routing plan produces one `DeviceIntent` per device; templates turn it into a platform's
configuration; static verification reads it. Everything here is plain data (JSON-serialisable) so
`jinbao intent HOST --json` can show it and tests can compare it. Secrets never appear here: only
*references* (`SecretRef`) that the renderer resolves from the secret source at render time.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Afi = Literal["ipv4", "ipv6"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SecretRef(_Model):
    """Names a secret in the secret source (ansible-vault file or JINBAO_SECRET_* environment)."""

    name: str


class Interface(_Model):
    name: str  # platform interface name, e.g. GigabitEthernet0/0/1, eth1, LoopBack0
    kind: Literal["loopback", "wan", "access", "lan", "mgmt", "transit"]
    description: str
    ipv4: str | None = None  # CIDR, e.g. 10.1.0.1/31
    ipv6: str | None = None
    peer: str | None = None  # hostname at the other end (p2p links)
    link_kind: str | None = None  # primary | backup | internal | access | dr ...
    bfd: bool = False
    vrf: str | None = None  # mgmt interfaces live in the management VRF
    ipv6_ra: bool = False  # send IPv6 router advertisements (user LANs only: SLAAC hosts need a gateway)


class PrefixListEntry(_Model):
    seq: int
    action: Literal["permit", "deny"]
    prefix: str
    ge: int | None = None
    le: int | None = None


class PrefixList(_Model):
    name: str
    afi: Afi
    entries: tuple[PrefixListEntry, ...]


class CommunityList(_Model):
    name: str
    communities: tuple[str, ...]  # "4200:1" style standard communities


class RouteMapEntry(_Model):
    seq: int
    action: Literal["permit", "deny"]
    match_prefix_list: str | None = None
    match_community_list: str | None = None
    set_local_preference: int | None = None
    set_med: int | None = None
    set_as_path_prepend: tuple[int, ...] = ()
    set_community: tuple[str, ...] = ()  # additive


class RouteMap(_Model):
    name: str
    entries: tuple[RouteMapEntry, ...]


class BgpNeighbor(_Model):
    address: str
    afi: Afi
    remote_as: int
    description: str
    peer: str  # peer hostname
    kind: Literal["ebgp", "ibgp"]
    role: Literal["upstream", "downstream", "internal"]
    link_kind: str | None = None  # primary | backup | internal | access | dr
    update_source: str | None = None  # interface name (iBGP over loopbacks)
    bfd: bool = True
    route_map_in: str | None = None
    route_map_out: str | None = None
    max_prefix: int | None = None
    max_prefix_restart_minutes: int | None = None  # re-establish after a max-prefix teardown
    ttl_security_hops: int | None = None  # GTSM: accept only packets from this many hops away
    next_hop_self: bool = False
    default_originate: bool = False  # a parent sends its children a default route
    password: SecretRef | None = None  # TCP MD5 key of the session (the same name on both ends)


class BfdProfile(_Model):
    name: str
    min_rx_ms: int
    min_tx_ms: int
    multiplier: int


class BgpTimers(_Model):
    keepalive: int
    hold: int


class Bgp(_Model):
    asn: int
    router_id: str
    timers: BgpTimers
    neighbors: tuple[BgpNeighbor, ...]
    # Prefixes this device originates into BGP (aggregates), per address family.
    networks_v4: tuple[str, ...] = ()
    networks_v6: tuple[str, ...] = ()


class StaticRoute(_Model):
    prefix: str
    next_hop: str | None = None  # None = discard (Null0 / blackhole): anchors an aggregate
    vrf: str | None = None
    description: str = ""


class Snmp(_Model):
    user: str
    auth_protocol: Literal["SHA", "SHA-256"]
    priv_protocol: Literal["AES", "AES-256"]
    auth_key: SecretRef
    priv_key: SecretRef
    location: str
    contact: str
    trap_hosts: tuple[str, ...] = ()
    acl: str | None = None  # name of the management ACL that guards SNMP too


class Aaa(_Model):
    local_user: str
    local_password: SecretRef  # rendered as a platform hash, never in clear
    tacacs_servers: tuple[str, ...] = ()
    tacacs_key: SecretRef | None = None


class AclEntry(_Model):
    seq: int
    action: Literal["permit", "deny"]
    source: str  # CIDR


class Management(_Model):
    vrf: str
    interface: str
    address: str  # CIDR
    gateway: str | None = None
    ntp_servers: tuple[str, ...]
    syslog_hosts: tuple[str, ...]
    acl_name: str
    acl_v4: tuple[AclEntry, ...]
    acl_v6: tuple[AclEntry, ...] = ()
    ssh_only: bool = True
    banner: str
    domain: str
    timezone: str = "Asia/Shanghai"


class DeviceIntent(_Model):
    hostname: str
    site: str
    role: str  # WR, AR, FW ...
    platform: str
    tier: str
    asn: int
    loopback_v4: str | None = None
    loopback_v6: str | None = None
    interfaces: tuple[Interface, ...]
    bgp: Bgp | None = None
    bfd_profile: BfdProfile | None = None
    prefix_lists: tuple[PrefixList, ...] = ()
    community_lists: tuple[CommunityList, ...] = ()
    route_maps: tuple[RouteMap, ...] = ()
    static_routes: tuple[StaticRoute, ...] = ()
    snmp: Snmp
    aaa: Aaa
    management: Management
    tags: dict[str, str] = Field(default_factory=dict)
