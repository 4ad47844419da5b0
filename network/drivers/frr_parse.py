"""Pure parsers for the FRR NAPALM driver: FRR's JSON and text output -> NAPALM's data models.

Nothing here talks to a device, so every function is unit-tested against output captured from a
real FRR 8.4.4 (tests/deploy/data/). Shapes measured on FRR 8.4.4:

- ``show bgp vrf all summary json``: ``{vrf: {"ipv4Unicast": {"routerId", "as", "peers": {addr: {
  "remoteAs", "localAs", "state", "peerUptimeMsec", "pfxRcd", "pfxSnt", "desc"}}}, "ipv6Unicast": ...}}``.
  ``state`` is "Established", "Idle", "Idle (Admin)", ...; ``peerUptimeMsec`` is the Up/Down column
  (time in the current state).
- ``show bgp vrf all neighbors json``: ``{vrf: {"vrfId", "vrfName", addr: {"remoteAs", "localAs",
  "bgpState", "remoteRouterId", "nbrDesc", "adminShutDown" (only when true), "addressFamilyInfo": {
  "ipv4Unicast": {"acceptedPrefixCounter", "sentPrefixCounter"}}}}}``.
- ``show interface json``: ``{ifname: {"administrativeStatus", "operationalStatus", "description"
  (only when set), "mtu", "speed" (Mbit/s, 0 = unknown), "hardwareAddress" (not on lo), "ipAddresses":
  [{"address": "10.0.0.1/31"}]}}``. FRR leaves out lo's 127.0.0.1/::1.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

# NAPALM names the default VRF "global".
DEFAULT_VRF = "global"
# FRR's JSON address-family keys -> NAPALM's address_family keys.
AFI_NAMES = {
    "ipv4Unicast": "ipv4",
    "ipv6Unicast": "ipv6",
    "ipv4Multicast": "ipv4 multicast",
    "ipv6Multicast": "ipv6 multicast",
    "ipv4Vpn": "ipv4 vpn",
    "ipv6Vpn": "ipv6 vpn",
    "l2VpnEvpn": "l2vpn evpn",
    "ipv4Flowspec": "ipv4 flowspec",
    "ipv6Flowspec": "ipv6 flowspec",
    "ipv4LabeledUnicast": "ipv4 labeled-unicast",
    "ipv6LabeledUnicast": "ipv6 labeled-unicast",
}


def strip_running_header(text: str) -> str:
    """The configuration proper from ``show running-config``.

    vtysh prints "Building configuration...", "Current configuration:" and a final "end": frr-reload
    cannot parse the first two (vtysh -m fails on line 1) and anything after "end" would be read in
    enable mode, so neither may reach a file that frr-reload or vtysh -f reads.
    """
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Current configuration:"):
            lines = lines[i + 1 :]
            break
    while lines and lines[-1].strip() in ("", "end"):
        lines.pop()
    return "\n".join(lines) + "\n" if lines else ""


def compact_reload_diff(text: str) -> str:
    """frr-reload.py --test output, with the context lines it repeats before every change folded.

    frr-reload prints each change with its full context ("router bgp 1\\n address-family ipv4
    unicast\\n  network ..." for every single line); printing a context line only when it differs
    from the one already open keeps the diff readable without losing any line. An empty diff
    (no changes) stays empty.
    """
    out: list[str] = []
    open_ctx: list[str] = []  # the context path printed last
    path: list[str] = []  # the context path of the current line, from its own block
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip():
            continue
        if line in ("Lines To Delete", "Lines To Add") or set(line) == {"="}:
            if line.startswith("Lines") and out:
                out.append("")
            out.append(line)
            open_ctx, path = [], []
            continue
        depth = len(line) - len(line.lstrip(" "))
        path = [*path[:depth], *([""] * (depth - len(path))), line]
        if open_ctx[: depth + 1] == path:
            continue  # this context is already open above
        open_ctx = list(path)
        out.append(line)
    return "\n".join(out) + "\n" if out else ""


def parse_version(text: str) -> tuple[str, str]:
    """(FRR version, hostname) from ``show version``: "FRRouting 8.4.4 (JBD-R1) on Linux(6.1...)."."""
    m = re.search(r"FRRouting (\S+) \(([^)]*)\)", text)
    if not m:
        raise ValueError(f"not FRR show version output: {text[:120]!r}")
    return m.group(1), m.group(2)


def parse_interfaces(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``show interface json`` -> NAPALM get_interfaces (FRR keeps no last-flap time: -1.0)."""
    out: dict[str, dict[str, Any]] = {}
    for name, i in sorted(data.items()):
        out[name] = {
            "is_up": i.get("operationalStatus") == "up",
            "is_enabled": i.get("administrativeStatus") == "up",
            "description": i.get("description", ""),
            "last_flapped": -1.0,
            "mtu": int(i.get("mtu", 0)),
            "speed": float(i.get("speed", 0) or 0),
            "mac_address": i.get("hardwareAddress", ""),
        }
    return out


def parse_interfaces_ip(data: dict[str, Any]) -> dict[str, dict[str, dict[str, dict[str, int]]]]:
    """``show interface json`` -> NAPALM get_interfaces_ip (interfaces without addresses left out)."""
    out: dict[str, dict[str, dict[str, dict[str, int]]]] = {}
    for name, i in sorted(data.items()):
        for entry in i.get("ipAddresses", []):
            iface = ipaddress.ip_interface(entry["address"])
            family = "ipv4" if iface.version == 4 else "ipv6"
            out.setdefault(name, {}).setdefault(family, {})[str(iface.ip)] = {"prefix_length": iface.network.prefixlen}
    return out


def parse_bgp_neighbors(summary: dict[str, Any], neighbors: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``show bgp vrf all summary json`` + ``show bgp vrf all neighbors json`` -> NAPALM get_bgp_neighbors.

    Every configured peer is in the neighbors output (also peers active in no address family); the
    summary adds the router-id of VRFs and the per-family received count. ``received_prefixes`` is
    FRR's PfxRcd, which counts prefixes after inbound policy: FRR cannot count what policy dropped
    without soft-reconfiguration inbound, so received and accepted are the same number here.
    ``uptime`` is seconds in the current state (FRR's Up/Down column), -1 if FRR does not say.
    """
    out: dict[str, dict[str, Any]] = {}
    vrfs = sorted(set(summary) | set(neighbors))
    for vrf in vrfs:
        vsum = summary.get(vrf) or {}
        vnbr = neighbors.get(vrf) or {}
        key = DEFAULT_VRF if vrf == "default" else vrf
        router_id = ""
        sum_peers: dict[str, dict[str, dict[str, Any]]] = {}  # addr -> afi -> summary entry
        for afi, block in vsum.items():
            if not isinstance(block, dict) or "peers" not in block:
                continue
            router_id = router_id or block.get("routerId", "")
            for addr, p in block["peers"].items():
                sum_peers.setdefault(addr, {})[afi] = p
        peers: dict[str, Any] = {}
        for addr, n in vnbr.items():
            if not isinstance(n, dict) or "bgpState" not in n:
                continue  # vrfId / vrfName entries
            router_id = router_id or n.get("localRouterId", "")
            peers[addr] = _peer(n, sum_peers.get(addr, {}))
        for addr, afis in sum_peers.items():  # in the summary only: should not happen, keep it anyway
            if addr not in peers:
                peers[addr] = _peer_from_summary(afis)
        if peers or router_id:
            out[key] = {"router_id": router_id, "peers": peers}
    return out


def _peer(n: dict[str, Any], afis: dict[str, dict[str, Any]]) -> dict[str, Any]:
    families: dict[str, dict[str, int]] = {}
    for afi, info in (n.get("addressFamilyInfo") or {}).items():
        accepted = int(info.get("acceptedPrefixCounter", 0))
        received = int(afis.get(afi, {}).get("pfxRcd", accepted))
        families[AFI_NAMES.get(afi, afi)] = {
            "received_prefixes": received,
            "accepted_prefixes": accepted,
            "sent_prefixes": int(info.get("sentPrefixCounter", afis.get(afi, {}).get("pfxSnt", 0))),
        }
    uptime = -1
    for entry in afis.values():
        if "peerUptimeMsec" in entry:
            uptime = int(entry["peerUptimeMsec"]) // 1000
            break
    else:
        if "bgpTimerUpMsec" in n:
            uptime = int(n["bgpTimerUpMsec"]) // 1000
        elif "lastResetTimerMsecs" in n:
            uptime = int(n["lastResetTimerMsecs"]) // 1000
    return {
        "local_as": int(n.get("localAs", 0)),
        "remote_as": int(n.get("remoteAs", 0)),
        "remote_id": n.get("remoteRouterId", "0.0.0.0"),
        "is_up": n.get("bgpState") == "Established",
        "is_enabled": not n.get("adminShutDown", False),
        "description": n.get("nbrDesc", ""),
        "uptime": uptime,
        "address_family": families,
    }


def _peer_from_summary(afis: dict[str, dict[str, Any]]) -> dict[str, Any]:
    first = next(iter(afis.values()))
    return {
        "local_as": int(first.get("localAs", 0)),
        "remote_as": int(first.get("remoteAs", 0)),
        "remote_id": "0.0.0.0",
        "is_up": first.get("state") == "Established",
        "is_enabled": "(Admin)" not in str(first.get("state", "")),
        "description": first.get("desc", ""),
        "uptime": int(first.get("peerUptimeMsec", -1000)) // 1000,
        "address_family": {
            AFI_NAMES.get(afi, afi): {
                "received_prefixes": int(p.get("pfxRcd", 0)),
                "accepted_prefixes": int(p.get("pfxRcd", 0)),
                "sent_prefixes": int(p.get("pfxSnt", 0)),
            }
            for afi, p in afis.items()
        },
    }


_PING_STATS = re.compile(r"(\d+) packets transmitted, (\d+) (?:packets )?received")
_PING_RTT = re.compile(r"rtt min/avg/max/mdev = ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms")
_PING_REPLY = re.compile(r"bytes from ([0-9A-Fa-f:.]+?):? .*time=([\d.]+) ms")


def parse_ping(text: str, returncode: int) -> dict[str, Any]:
    """iputils ``ping -n`` output -> NAPALM ping result ({"success": {...}} or {"error": ...}).

    Exit status 1 is "no reply" (a success with 100 % loss, as NAPALM's other drivers report it);
    2 and above is an error such as "Network is unreachable".
    """
    stats = _PING_STATS.search(text)
    if returncode >= 2 or stats is None:
        msg = " ".join(line.strip() for line in text.splitlines() if line.strip()) or f"ping exit {returncode}"
        return {"error": msg}
    sent, received = int(stats.group(1)), int(stats.group(2))
    rtt = _PING_RTT.search(text)
    rmin, ravg, rmax, rdev = (float(x) for x in rtt.groups()) if rtt else (0.0, 0.0, 0.0, 0.0)
    results = [{"ip_address": m.group(1), "rtt": float(m.group(2))} for m in _PING_REPLY.finditer(text)]
    return {
        "success": {
            "probes_sent": sent,
            "packet_loss": sent - received,
            "rtt_min": rmin,
            "rtt_max": rmax,
            "rtt_avg": ravg,
            "rtt_stddev": rdev,
            "results": results,
        }
    }


# FRR lines carrying secrets: BGP/OSPF/ISIS passwords and keys, SNMP communities, enable/line passwords.
_SECRET = re.compile(
    r"^(\s*(?:neighbor \S+ password|password|enable password|ip ospf authentication-key|"
    r"ip ospf message-digest-key \d+ md5|isis password|area-password|domain-password|key-string|"
    r"snmp-server community|ip rip authentication string)\s+)(\S.*)$"
)


def sanitize(config: str) -> str:
    """Replace secrets in an FRR configuration with "<removed>" (NAPALM's get_config(sanitized=True))."""
    return "\n".join(_SECRET.sub(r"\1<removed>", line) for line in config.split("\n"))
