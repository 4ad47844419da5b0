"""Hand-made, realistic device intents for the rendering tests (Shanxi 140000 slice of the network).

Addressing (documentation-style, clear of the host's 192.0.2.0/24):
- national pool 10.0.0.0/8, 2001:db8::/32; Shanxi 10.14.0.0/16, 2001:db8:14::/48;
- Taiyuan 140100 10.14.16.0/20, 2001:db8:14:1000::/52; Datong 140200 10.14.32.0/20, 2001:db8:14:2000::/52;
- ministry<->province links 10.0.14.0/29 (/31s), province<->city 10.14.0.0/24 (/31s);
- management 10.250.0.0/16 in VRF MGMT.

Each builder takes the platform and uses that platform's real interface names, so the same intent
exercises every template.
"""

from __future__ import annotations

from network.intent_model import (
    Aaa,
    AclEntry,
    BfdProfile,
    Bgp,
    BgpNeighbor,
    BgpTimers,
    CommunityList,
    DeviceIntent,
    Interface,
    Management,
    PrefixList,
    PrefixListEntry,
    RouteMap,
    RouteMapEntry,
    SecretRef,
    Snmp,
    StaticRoute,
)

PLATFORMS = ("huawei_vrp", "h3c_comware", "cisco_ios", "frr")

MINISTRY_AS = 4200100000
SHANXI_AS = 4200140000
TAIYUAN_AS = 4200140100
DATONG_AS = 4200140200
XIAODIAN_AS = 4200140105  # access site under Taiyuan (county-level code)
SHANXI_DR_AS = 4201140000  # Shanxi's DR centre in Datong (DR centres: asn_base + 1,000,000 + code/100 x 1000)

# Standard communities: 64600:<region/100> marks the origin of a prefix (16-bit halves only).
ORIGIN = {140000: "64600:1400", 140100: "64600:1401", 140200: "64600:1402", 140105: "64600:14015",
          1400: "64600:1499"}  # 1400: Shanxi's DR centre

_NAMES = {
    "huawei_vrp": {"lo": "LoopBack0", "mgmt": "GigabitEthernet0/0/0", "eth": "GigabitEthernet0/0/{}"},
    "h3c_comware": {"lo": "LoopBack0", "mgmt": "M-GigabitEthernet0/0/0", "eth": "GigabitEthernet1/0/{}"},
    "cisco_ios": {"lo": "Loopback0", "mgmt": "GigabitEthernet0", "eth": "GigabitEthernet0/0/{}"},
    "frr": {"lo": "lo", "mgmt": "eth0", "eth": "eth{}"},
}


def ifname(platform: str, which: str, n: int = 0) -> str:
    names = _NAMES[platform]
    return names["eth"].format(n) if which == "eth" else names[which]


def mgmt_vrf(platform: str) -> str:
    from inventory.platforms import platform as facts

    return facts(platform).mgmt_vrf or "MGMT"  # IOS-XE hardware fixes its management port in Mgmt-intf


def _management(platform: str, addr: str) -> Management:
    return Management(
        vrf=mgmt_vrf(platform),
        interface=ifname(platform, "mgmt"),
        address=addr,
        gateway="10.250.14.1",
        ntp_servers=("10.250.0.11", "10.250.0.12"),
        syslog_hosts=("10.250.0.21",),
        acl_name="JB-MGMT",
        acl_v4=(AclEntry(seq=10, action="permit", source="10.250.0.0/24"),
                AclEntry(seq=20, action="permit", source="10.250.14.0/24")),
        acl_v6=(AclEntry(seq=10, action="permit", source="2001:db8:250::/48"),),
        banner="Golden Social-Security WAN (jinbao). Authorised use only.\nAll sessions are logged.",
        domain="jb.example.cn",
    )


def _snmp() -> Snmp:
    return Snmp(user="jbnms", auth_protocol="SHA", priv_protocol="AES",
                auth_key=SecretRef(name="jb-snmp-auth"), priv_key=SecretRef(name="jb-snmp-priv"),
                location="Taiyuan, Shanxi", contact="noc@jb.example.cn",
                trap_hosts=("10.250.0.31",), acl="JB-MGMT")


def _aaa() -> Aaa:
    return Aaa(local_user="jbadmin", local_password=SecretRef(name="jb-local-admin"),
               tacacs_servers=("10.250.0.41", "10.250.0.42"), tacacs_key=SecretRef(name="jb-tacacs"))


def _bfd() -> BfdProfile:
    return BfdProfile(name="WAN-100MS", min_rx_ms=100, min_tx_ms=100, multiplier=3)


def _pl(name: str, afi: str, *entries: tuple[str, int | None, int | None]) -> PrefixList:
    return PrefixList(name=name, afi=afi, entries=tuple(  # type: ignore[arg-type]
        PrefixListEntry(seq=10 * (i + 1), action="permit", prefix=p, ge=ge, le=le)
        for i, (p, ge, le) in enumerate(entries)))


def _rm(name: str, *entries: RouteMapEntry) -> RouteMap:
    return RouteMap(name=name, entries=entries)


def _permit(seq: int, pl: str | None = None, **sets: object) -> RouteMapEntry:
    return RouteMapEntry(seq=seq, action="permit", match_prefix_list=pl, **sets)  # type: ignore[arg-type]


def _deny(seq: int = 1000) -> RouteMapEntry:
    return RouteMapEntry(seq=seq, action="deny")


def _upstream_policies(own_v4: str, own_v6: str, own_as: int, origin: str) -> tuple[
        tuple[PrefixList, ...], tuple[RouteMap, ...]]:
    """Lower tier: prefer the primary line in both directions; accept only default + parent aggregate."""
    pls = (
        _pl("PL4-FROM-UP", "ipv4", ("0.0.0.0/0", None, None), ("10.0.0.0/8", None, None)),
        _pl("PL6-FROM-UP", "ipv6", ("::/0", None, None), ("2001:db8::/32", None, None)),
        _pl("PL4-OWN-AGG", "ipv4", (own_v4, None, None)),
        _pl("PL6-OWN-AGG", "ipv6", (own_v6, None, None)),
    )
    rms = (
        _rm("RM4-UP-PRI-IN", _permit(10, "PL4-FROM-UP", set_local_preference=200), _deny()),
        _rm("RM4-UP-BAK-IN", _permit(10, "PL4-FROM-UP", set_local_preference=50), _deny()),
        _rm("RM6-UP-PRI-IN", _permit(10, "PL6-FROM-UP", set_local_preference=200), _deny()),
        _rm("RM6-UP-BAK-IN", _permit(10, "PL6-FROM-UP", set_local_preference=50), _deny()),
        _rm("RM4-UP-PRI-OUT", _permit(10, "PL4-OWN-AGG", set_community=(origin,)), _deny()),
        _rm("RM4-UP-BAK-OUT", _permit(10, "PL4-OWN-AGG", set_as_path_prepend=(own_as, own_as),
                                      set_community=(origin,)), _deny()),
        _rm("RM6-UP-PRI-OUT", _permit(10, "PL6-OWN-AGG", set_community=(origin,)), _deny()),
        _rm("RM6-UP-BAK-OUT", _permit(10, "PL6-OWN-AGG", set_as_path_prepend=(own_as, own_as),
                                      set_community=(origin,)), _deny()),
    )
    return pls, rms


def _nb(address: str, afi: str, remote_as: int, peer: str, role: str, link: str, rm_in: str, rm_out: str,
        max_prefix: int, kind: str = "ebgp", **kw: object) -> BgpNeighbor:
    kw = {"max_prefix_restart_minutes": 5, **kw}  # a max-prefix teardown heals itself, everywhere
    if kind == "ebgp":  # every eBGP session is keyed and GTSM-protected
        kw = {"password": SecretRef(name=f"jb-bgp-{peer.lower()}"), "ttl_security_hops": 1, **kw}
    return BgpNeighbor(address=address, afi=afi, remote_as=remote_as,  # type: ignore[arg-type]
                       description=f"{role} {link} {peer}", peer=peer, kind=kind, role=role,  # type: ignore[arg-type]
                       link_kind=link, route_map_in=rm_in, route_map_out=rm_out, max_prefix=max_prefix, **kw)


def province_wr(platform: str = "huawei_vrp") -> DeviceIntent:
    """Shanxi WAN router 1: primary+backup to the ministry, two cities below, iBGP to its twin."""
    eth = lambda n: ifname(platform, "eth", n)  # noqa: E731
    lo = ifname(platform, "lo")
    md5 = SecretRef(name="bgp-md5-100000-140000")
    ifaces = (
        Interface(name=lo, kind="loopback", description="router-id and iBGP source",
                  ipv4="10.14.255.1/32", ipv6="2001:db8:14:ffff::1/128"),
        Interface(name=ifname(platform, "mgmt"), kind="mgmt", description="management (OOB)",
                  ipv4="10.250.14.11/24", vrf=mgmt_vrf(platform)),
        Interface(name=eth(1), kind="wan", description="primary line to JB-100000-DC-WR01",
                  ipv4="10.0.14.1/31", ipv6="2001:db8:0:14::1/127", peer="JB-100000-DC-WR01",
                  link_kind="primary", bfd=True),
        Interface(name=eth(2), kind="wan", description="backup line to JB-100000-DC-WR02",
                  ipv4="10.0.14.3/31", ipv6="2001:db8:0:14::3/127", peer="JB-100000-DC-WR02",
                  link_kind="backup", bfd=True),
        Interface(name=eth(3), kind="wan", description="to Taiyuan JB-140100-DC-WR01",
                  ipv4="10.14.0.0/31", ipv6="2001:db8:14::/127", peer="JB-140100-DC-WR01",
                  link_kind="primary", bfd=True),
        Interface(name=eth(4), kind="wan", description="to Datong JB-140200-DC-WR01",
                  ipv4="10.14.0.2/31", ipv6="2001:db8:14::2/127", peer="JB-140200-DC-WR01",
                  link_kind="primary", bfd=True),
        Interface(name=eth(5), kind="transit", description="intra-site link to twin JB-140000-DC-WR02",
                  ipv4="10.14.254.0/31", ipv6="2001:db8:14:fffe::/127", peer="JB-140000-DC-WR02",
                  link_kind="internal"),
    )
    up_pls, up_rms = _upstream_policies("10.14.0.0/16", "2001:db8:14::/48", SHANXI_AS, ORIGIN[140000])
    pls = (*up_pls,
           _pl("PL4-FROM-140100", "ipv4", ("10.14.16.0/20", None, 24)),
           _pl("PL6-FROM-140100", "ipv6", ("2001:db8:14:1000::/52", None, 64)),
           _pl("PL4-FROM-140200", "ipv4", ("10.14.32.0/20", None, 24)),
           _pl("PL6-FROM-140200", "ipv6", ("2001:db8:14:2000::/52", None, 64)),
           _pl("PL4-DEFAULT", "ipv4", ("0.0.0.0/0", None, None)),
           _pl("PL6-DEFAULT", "ipv6", ("::/0", None, None)))
    cls = (CommunityList(name="CL-ORIGIN-SHANXI", communities=(ORIGIN[140100], ORIGIN[140200])),)
    rms = (*up_rms,
           _rm("RM4-DOWN-140100-IN", _permit(10, "PL4-FROM-140100", set_community=(ORIGIN[140100],)), _deny()),
           _rm("RM6-DOWN-140100-IN", _permit(10, "PL6-FROM-140100", set_community=(ORIGIN[140100],)), _deny()),
           _rm("RM4-DOWN-140200-IN", _permit(10, "PL4-FROM-140200", set_community=(ORIGIN[140200],)), _deny()),
           _rm("RM6-DOWN-140200-IN", _permit(10, "PL6-FROM-140200", set_community=(ORIGIN[140200],)), _deny()),
           _rm("RM4-DOWN-OUT", _permit(10, "PL4-DEFAULT"), _deny()),
           _rm("RM6-DOWN-OUT", _permit(10, "PL6-DEFAULT"), _deny()),
           _rm("RM-IBGP-IN", RouteMapEntry(seq=10, action="permit", match_community_list="CL-ORIGIN-SHANXI",
                                           set_local_preference=150), _permit(20)),
           _rm("RM-IBGP-OUT", _permit(10)))
    neighbors = (
        _nb("10.0.14.0", "ipv4", MINISTRY_AS, "JB-100000-DC-WR01", "upstream", "primary",
            "RM4-UP-PRI-IN", "RM4-UP-PRI-OUT", 100, password=md5),
        _nb("10.0.14.2", "ipv4", MINISTRY_AS, "JB-100000-DC-WR02", "upstream", "backup",
            "RM4-UP-BAK-IN", "RM4-UP-BAK-OUT", 100, password=md5),
        _nb("2001:db8:0:14::", "ipv6", MINISTRY_AS, "JB-100000-DC-WR01", "upstream", "primary",
            "RM6-UP-PRI-IN", "RM6-UP-PRI-OUT", 100, password=md5),
        _nb("2001:db8:0:14::2", "ipv6", MINISTRY_AS, "JB-100000-DC-WR02", "upstream", "backup",
            "RM6-UP-BAK-IN", "RM6-UP-BAK-OUT", 100, password=md5),
        _nb("10.14.0.1", "ipv4", TAIYUAN_AS, "JB-140100-DC-WR01", "downstream", "primary",
            "RM4-DOWN-140100-IN", "RM4-DOWN-OUT", 200),
        _nb("2001:db8:14::1", "ipv6", TAIYUAN_AS, "JB-140100-DC-WR01", "downstream", "primary",
            "RM6-DOWN-140100-IN", "RM6-DOWN-OUT", 200),
        _nb("10.14.0.3", "ipv4", DATONG_AS, "JB-140200-DC-WR01", "downstream", "primary",
            "RM4-DOWN-140200-IN", "RM4-DOWN-OUT", 200),
        _nb("2001:db8:14::3", "ipv6", DATONG_AS, "JB-140200-DC-WR01", "downstream", "primary",
            "RM6-DOWN-140200-IN", "RM6-DOWN-OUT", 200),
        _nb("10.14.255.2", "ipv4", SHANXI_AS, "JB-140000-DC-WR02", "internal", "internal",
            "RM-IBGP-IN", "RM-IBGP-OUT", 2000, kind="ibgp", update_source=lo, next_hop_self=True),
        _nb("2001:db8:14:ffff::2", "ipv6", SHANXI_AS, "JB-140000-DC-WR02", "internal", "internal",
            "RM-IBGP-IN", "RM-IBGP-OUT", 2000, kind="ibgp", update_source=lo, next_hop_self=True),
    )
    return DeviceIntent(
        hostname="JB-140000-DC-WR01", site="DC", role="WR", platform=platform, tier="province",
        asn=SHANXI_AS, loopback_v4="10.14.255.1/32", loopback_v6="2001:db8:14:ffff::1/128",
        interfaces=ifaces,
        bgp=Bgp(asn=SHANXI_AS, router_id="10.14.255.1", timers=BgpTimers(keepalive=3, hold=9),
                neighbors=neighbors, networks_v4=("10.14.0.0/16",), networks_v6=("2001:db8:14::/48",)),
        bfd_profile=_bfd(), prefix_lists=pls, community_lists=cls, route_maps=rms,
        static_routes=(
            StaticRoute(prefix="10.14.0.0/16", description="anchor for the Shanxi aggregate"),
            StaticRoute(prefix="2001:db8:14::/48", description="anchor for the Shanxi aggregate"),
            StaticRoute(prefix="10.14.255.2/32", next_hop="10.14.254.1", description="twin loopback"),
            StaticRoute(prefix="2001:db8:14:ffff::2/128", next_hop="2001:db8:14:fffe::1",
                        description="twin loopback"),
        ),
        snmp=_snmp(), aaa=_aaa(), management=_management(platform, "10.250.14.11/24"),
        tags={"province": "140000"},
    )


def city_wr(platform: str = "huawei_vrp") -> DeviceIntent:
    """Taiyuan WAN router: primary to Shanxi WR01, backup to WR02, one access site below."""
    eth = lambda n: ifname(platform, "eth", n)  # noqa: E731
    lo = ifname(platform, "lo")
    up_pls, up_rms = _upstream_policies("10.14.16.0/20", "2001:db8:14:1000::/52", TAIYUAN_AS, ORIGIN[140100])
    pls = (*up_pls,
           _pl("PL4-FROM-140105", "ipv4", ("10.14.17.0/24", None, None)),
           _pl("PL4-DEFAULT", "ipv4", ("0.0.0.0/0", None, None)))
    rms = (*up_rms,
           _rm("RM4-DOWN-140105-IN", _permit(10, "PL4-FROM-140105", set_community=(ORIGIN[140105],)), _deny()),
           _rm("RM4-DOWN-OUT", _permit(10, "PL4-DEFAULT"), _deny()))
    neighbors = (
        _nb("10.14.0.0", "ipv4", SHANXI_AS, "JB-140000-DC-WR01", "upstream", "primary",
            "RM4-UP-PRI-IN", "RM4-UP-PRI-OUT", 50),
        _nb("2001:db8:14::", "ipv6", SHANXI_AS, "JB-140000-DC-WR01", "upstream", "primary",
            "RM6-UP-PRI-IN", "RM6-UP-PRI-OUT", 50),
        _nb("10.14.0.128", "ipv4", SHANXI_AS, "JB-140000-DC-WR02", "upstream", "backup",
            "RM4-UP-BAK-IN", "RM4-UP-BAK-OUT", 50),
        _nb("2001:db8:14::80", "ipv6", SHANXI_AS, "JB-140000-DC-WR02", "upstream", "backup",
            "RM6-UP-BAK-IN", "RM6-UP-BAK-OUT", 50),
        _nb("10.14.16.1", "ipv4", XIAODIAN_AS, "JB-140100-AS001-AR01", "downstream", "access",
            "RM4-DOWN-140105-IN", "RM4-DOWN-OUT", 20),
    )
    return DeviceIntent(
        hostname="JB-140100-DC-WR01", site="DC", role="WR", platform=platform, tier="city", asn=TAIYUAN_AS,
        loopback_v4="10.14.31.255/32", interfaces=(
            Interface(name=lo, kind="loopback", description="router-id", ipv4="10.14.31.255/32"),
            Interface(name=eth(1), kind="wan", description="primary line to JB-140000-DC-WR01",
                      ipv4="10.14.0.1/31", ipv6="2001:db8:14::1/127", link_kind="primary", bfd=True),
            Interface(name=eth(2), kind="wan", description="backup line to JB-140000-DC-WR02",
                      ipv4="10.14.0.129/31", ipv6="2001:db8:14::81/127", link_kind="backup", bfd=True),
            Interface(name=eth(3), kind="access", description="to access site JB-140100-AS001-AR01",
                      ipv4="10.14.16.0/31", link_kind="access", bfd=True),
        ),
        bgp=Bgp(asn=TAIYUAN_AS, router_id="10.14.31.255", timers=BgpTimers(keepalive=3, hold=9),
                neighbors=neighbors, networks_v4=("10.14.16.0/20",), networks_v6=("2001:db8:14:1000::/52",)),
        bfd_profile=_bfd(), prefix_lists=pls, route_maps=rms,
        static_routes=(StaticRoute(prefix="10.14.16.0/20", description="anchor for the Taiyuan aggregate"),
                       StaticRoute(prefix="2001:db8:14:1000::/52", description="anchor for the Taiyuan aggregate")),
        snmp=_snmp(), aaa=_aaa(), management=_management(platform, "10.250.14.21/24"),
    )


def access_router(platform: str = "huawei_vrp") -> DeviceIntent:
    """Xiaodian district agency access router: one line up to the Taiyuan city WAN router."""
    eth = lambda n: ifname(platform, "eth", n)  # noqa: E731
    lo = ifname(platform, "lo")
    pls = (_pl("PL4-FROM-UP", "ipv4", ("0.0.0.0/0", None, None)),
           _pl("PL4-OWN-AGG", "ipv4", ("10.14.17.0/24", None, None)))
    rms = (_rm("RM4-UP-IN", _permit(10, "PL4-FROM-UP", set_local_preference=200), _deny()),
           _rm("RM4-UP-OUT", _permit(10, "PL4-OWN-AGG", set_community=(ORIGIN[140105],)), _deny()))
    aaa = Aaa(local_user="jbadmin", local_password=SecretRef(name="jb-local-admin"))  # no TACACS at sites
    return DeviceIntent(
        hostname="JB-140100-AS001-AR01", site="AS001", role="AR", platform=platform, tier="access",
        asn=XIAODIAN_AS, loopback_v4="10.14.17.255/32", interfaces=(
            Interface(name=lo, kind="loopback", description="router-id", ipv4="10.14.17.255/32"),
            Interface(name=eth(1), kind="wan", description="uplink to JB-140100-DC-WR01",
                      ipv4="10.14.16.1/31", link_kind="access", bfd=True),
            Interface(name=eth(2), kind="lan", description="agency LAN", ipv4="10.14.17.1/25",
                      ipv6="2001:db8:14:1100::1/64", ipv6_ra=True),
        ),
        bgp=Bgp(asn=XIAODIAN_AS, router_id="10.14.17.255", timers=BgpTimers(keepalive=3, hold=9),
                neighbors=(_nb("10.14.16.0", "ipv4", TAIYUAN_AS, "JB-140100-DC-WR01", "upstream", "access",
                               "RM4-UP-IN", "RM4-UP-OUT", 10),),
                networks_v4=("10.14.17.0/24",)),
        bfd_profile=_bfd(), prefix_lists=pls, route_maps=rms,
        static_routes=(StaticRoute(prefix="10.14.17.0/24", description="anchor for the site aggregate"),),
        snmp=_snmp(), aaa=aaa, management=_management(platform, "10.250.14.31/24"),
    )


def dr_wr(platform: str = "huawei_vrp") -> DeviceIntent:
    """Shanxi's DR centre router (Datong): primary and backup to the Shanxi data centre it backs up, and a
    line of its own (kind dr) to the ministry's second router, which survives the loss of that data centre:
    the last resort both ways (local-pref 30 on the default learned over it, its own AS prepended out)."""
    eth = lambda n: ifname(platform, "eth", n)  # noqa: E731
    lo = ifname(platform, "lo")
    own_v4, own_v6 = "10.14.48.0/22", "2001:db8:14:3000::/52"
    up_pls, up_rms = _upstream_policies(own_v4, own_v6, SHANXI_DR_AS, ORIGIN[1400])
    rms = (*up_rms,
           _rm("RM4-DR-LINE-IN", _permit(10, "PL4-FROM-UP", set_local_preference=30), _deny()),
           _rm("RM6-DR-LINE-IN", _permit(10, "PL6-FROM-UP", set_local_preference=30), _deny()),
           _rm("RM4-DR-LINE-OUT", _permit(10, "PL4-OWN-AGG", set_as_path_prepend=(SHANXI_DR_AS,) * 3,
                                          set_community=(ORIGIN[1400],)), _deny()),
           _rm("RM6-DR-LINE-OUT", _permit(10, "PL6-OWN-AGG", set_as_path_prepend=(SHANXI_DR_AS,) * 3,
                                          set_community=(ORIGIN[1400],)), _deny()))
    neighbors = (
        _nb("10.14.0.4", "ipv4", SHANXI_AS, "JB-140000-DC-WR01", "upstream", "primary",
            "RM4-UP-PRI-IN", "RM4-UP-PRI-OUT", 50),
        _nb("2001:db8:14::4", "ipv6", SHANXI_AS, "JB-140000-DC-WR01", "upstream", "primary",
            "RM6-UP-PRI-IN", "RM6-UP-PRI-OUT", 50),
        _nb("10.14.0.130", "ipv4", SHANXI_AS, "JB-140000-DC-WR02", "upstream", "backup",
            "RM4-UP-BAK-IN", "RM4-UP-BAK-OUT", 50),
        _nb("2001:db8:14::82", "ipv6", SHANXI_AS, "JB-140000-DC-WR02", "upstream", "backup",
            "RM6-UP-BAK-IN", "RM6-UP-BAK-OUT", 50),
        _nb("10.0.14.8", "ipv4", MINISTRY_AS, "JB-100000-DC-WR02", "upstream", "dr",
            "RM4-DR-LINE-IN", "RM4-DR-LINE-OUT", 50),
        _nb("2001:db8:0:14::8", "ipv6", MINISTRY_AS, "JB-100000-DC-WR02", "upstream", "dr",
            "RM6-DR-LINE-IN", "RM6-DR-LINE-OUT", 50),
    )
    return DeviceIntent(
        hostname="JB-140000-DR-WR01", site="DR", role="WR", platform=platform, tier="dr", asn=SHANXI_DR_AS,
        loopback_v4="10.14.51.255/32", loopback_v6="2001:db8:14:3fff::1/128", interfaces=(
            Interface(name=lo, kind="loopback", description="router-id", ipv4="10.14.51.255/32",
                      ipv6="2001:db8:14:3fff::1/128"),
            Interface(name=ifname(platform, "mgmt"), kind="mgmt", description="management (OOB)",
                      ipv4="10.250.14.41/24", vrf=mgmt_vrf(platform)),
            Interface(name=eth(1), kind="wan", description="primary line to JB-140000-DC-WR01",
                      ipv4="10.14.0.5/31", ipv6="2001:db8:14::5/127", peer="JB-140000-DC-WR01",
                      link_kind="primary", bfd=True),
            Interface(name=eth(2), kind="wan", description="backup line to JB-140000-DC-WR02",
                      ipv4="10.14.0.131/31", ipv6="2001:db8:14::83/127", peer="JB-140000-DC-WR02",
                      link_kind="backup", bfd=True),
            Interface(name=eth(4), kind="wan", description="DR line to JB-100000-DC-WR02",
                      ipv4="10.0.14.9/31", ipv6="2001:db8:0:14::9/127", peer="JB-100000-DC-WR02",
                      link_kind="dr", bfd=True),
        ),
        bgp=Bgp(asn=SHANXI_DR_AS, router_id="10.14.51.255", timers=BgpTimers(keepalive=3, hold=9),
                neighbors=neighbors, networks_v4=(own_v4,), networks_v6=(own_v6,)),
        bfd_profile=_bfd(), prefix_lists=up_pls, route_maps=rms,
        static_routes=(StaticRoute(prefix=own_v4, description="anchor for the DR centre aggregate"),
                       StaticRoute(prefix=own_v6, description="anchor for the DR centre aggregate")),
        snmp=_snmp(), aaa=_aaa(), management=_management(platform, "10.250.14.41/24"),
    )


NATIONAL_DR_AS = 4201100000  # the national DR centre (Shanghai), which backs up the ministry


def national_dr_wr(platform: str = "huawei_vrp") -> DeviceIntent:
    """The national DR centre's router: primary and backup to the ministry, from which it takes the default
    and the ministry's whole table (so it keeps using the ministry while it stands), and the last-resort
    parent of the provinces over their DR lines (here Shanxi's second router): a default sent
    (default-originate), exactly the province's aggregates accepted at local-pref 30."""
    eth = lambda n: ifname(platform, "eth", n)  # noqa: E731
    lo = ifname(platform, "lo")
    own_v4, own_v6 = "10.0.192.0/22", "2001:db8:0:c000::/52"
    pls = (
        _pl("PL4-DEFAULT", "ipv4", ("0.0.0.0/0", None, None)),
        _pl("PL6-DEFAULT", "ipv6", ("::/0", None, None)),
        _pl("PL4-MINISTRY-TABLE", "ipv4", ("10.0.0.0/20", None, None), ("10.14.0.0/16", None, None)),
        _pl("PL6-MINISTRY-TABLE", "ipv6", ("2001:db8:0:1000::/52", None, None), ("2001:db8:14::/48", None, None)),
        _pl("PL4-OWN-AGG", "ipv4", (own_v4, None, None)),
        _pl("PL6-OWN-AGG", "ipv6", (own_v6, None, None)),
        _pl("PL4-SITE-140000", "ipv4", ("10.14.0.0/16", None, None)),
        _pl("PL6-SITE-140000", "ipv6", ("2001:db8:14::/48", None, None)),
    )
    rms = []
    for v in ("4", "6"):
        rms += [
            _rm(f"RM{v}-UP-PRI-IN", _permit(10, f"PL{v}-DEFAULT", set_local_preference=200),
                _permit(20, f"PL{v}-MINISTRY-TABLE", set_local_preference=200), _deny()),
            _rm(f"RM{v}-UP-PRI-OUT", _permit(10, f"PL{v}-OWN-AGG", set_community=("64600:1099",)), _deny()),
            _rm(f"RM{v}-DR-LINE-140000-IN", _permit(10, f"PL{v}-SITE-140000", set_local_preference=30), _deny()),
            _rm(f"RM{v}-TO-CHILD", _permit(10, f"PL{v}-DEFAULT"), _deny()),
        ]
    neighbors = (
        _nb("10.0.10.0", "ipv4", MINISTRY_AS, "JB-100000-DC-WR01", "upstream", "primary",
            "RM4-UP-PRI-IN", "RM4-UP-PRI-OUT", 100),
        _nb("2001:db8:0:10::", "ipv6", MINISTRY_AS, "JB-100000-DC-WR01", "upstream", "primary",
            "RM6-UP-PRI-IN", "RM6-UP-PRI-OUT", 100),
        _nb("10.0.14.11", "ipv4", SHANXI_AS, "JB-140000-DC-WR02", "downstream", "dr",
            "RM4-DR-LINE-140000-IN", "RM4-TO-CHILD", 10, default_originate=True),
        _nb("2001:db8:0:14::b", "ipv6", SHANXI_AS, "JB-140000-DC-WR02", "downstream", "dr",
            "RM6-DR-LINE-140000-IN", "RM6-TO-CHILD", 10, default_originate=True),
    )
    return DeviceIntent(
        hostname="JB-100000-DR-WR01", site="100000-DR", role="WR", platform=platform, tier="dr",
        asn=NATIONAL_DR_AS, loopback_v4="10.0.195.255/32", loopback_v6="2001:db8:0:cfff::1/128", interfaces=(
            Interface(name=lo, kind="loopback", description="router-id", ipv4="10.0.195.255/32",
                      ipv6="2001:db8:0:cfff::1/128"),
            Interface(name=ifname(platform, "mgmt"), kind="mgmt", description="management (OOB)",
                      ipv4="10.250.10.41/24", vrf=mgmt_vrf(platform)),
            Interface(name=eth(1), kind="wan", description="primary uplink to JB-100000-DC-WR01",
                      ipv4="10.0.10.1/31", ipv6="2001:db8:0:10::1/127", peer="JB-100000-DC-WR01",
                      link_kind="primary", bfd=True),
            Interface(name=eth(5), kind="wan", description="DR line to JB-140000-DC-WR02",
                      ipv4="10.0.14.10/31", ipv6="2001:db8:0:14::a/127", peer="JB-140000-DC-WR02",
                      link_kind="dr", bfd=True),
        ),
        bgp=Bgp(asn=NATIONAL_DR_AS, router_id="10.0.195.255", timers=BgpTimers(keepalive=3, hold=9),
                neighbors=neighbors, networks_v4=(own_v4,), networks_v6=(own_v6,)),
        bfd_profile=_bfd(), prefix_lists=pls, route_maps=tuple(rms),
        static_routes=(StaticRoute(prefix=own_v4, description="anchor for the DR centre aggregate"),
                       StaticRoute(prefix=own_v6, description="anchor for the DR centre aggregate")),
        snmp=_snmp(), aaa=_aaa(), management=_management(platform, "10.250.10.41/24"),
    )


ROLES = {"WR": province_wr, "CWR": city_wr, "AR": access_router, "DR": dr_wr, "NDR": national_dr_wr}
