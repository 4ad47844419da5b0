"""Network plumbing with iproute2: namespaces, veth pairs, bridges, addresses, routes, the mgmt plane.

Every function is idempotent (``ensure_*``): it checks what exists and creates only what is missing,
so a repeated ``up`` is fast and changes nothing.

Management plane. This kernel has no VRF support (CONFIG_NET_VRF unset), so a node's OOB port is
emulated with policy routing: ``mgmt0`` gets its address with ``noprefixroute`` (no route in the main
table, which is the table FRR's zebra owns); the management subnet lives in table ``mgmt``
(100) and rules send to it only: traffic arriving on mgmt0, traffic sourced from the management
address, and locally originated traffic to the management net. Forwarded traffic to the management
net is prohibited, and table ``mgmt`` ends in ``unreachable default``, so the management plane neither
carries data-plane traffic nor becomes reachable through the data plane.
"""

from __future__ import annotations

import ipaddress
import json

from lab import names
from lab.sh import LabError, ok, run

MGMT_RULE_PREFS = (1000, 1001, 1002, 1003)


def _ip(netns: str | None) -> list[str]:
    return ["ip", "-n", netns] if netns else ["ip"]


def netns_exists(name: str) -> bool:
    return (names.NETNS_DIR / name).exists()


def ensure_netns(name: str) -> bool:
    """Create a named network namespace; True when it was created."""
    if netns_exists(name):
        return False
    run(["ip", "netns", "add", name])
    run(["ip", "-n", name, "link", "set", "lo", "up"])
    return True


def delete_netns(name: str) -> None:
    if netns_exists(name):
        run(["ip", "netns", "delete", name], check=False)


def list_netns() -> list[str]:
    if not names.NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in names.NETNS_DIR.iterdir())


def link_exists(ifname: str, netns: str | None = None) -> bool:
    if netns and not netns_exists(netns):
        return False
    return ok([*_ip(netns), "link", "show", "dev", ifname])


def delete_link(ifname: str, netns: str | None = None) -> None:
    if link_exists(ifname, netns):
        run([*_ip(netns), "link", "delete", "dev", ifname], check=False)


def root_links_with_alias(prefix: str) -> list[str]:
    """Root-namespace interfaces whose alias starts with ``prefix`` (how the lab labels its own)."""
    out = run(["ip", "-j", "link", "show"]).stdout
    return [link["ifname"] for link in json.loads(out or "[]") if link.get("ifalias", "").startswith(prefix)]


def ensure_veth(ns_a: str | None, if_a: str, ns_b: str | None, if_b: str) -> bool:
    """A veth pair with one end in each namespace (None = the root namespace); True when created."""
    have_a, have_b = link_exists(if_a, ns_a), link_exists(if_b, ns_b)
    if have_a and have_b:
        return False
    if have_a:  # half of a pair left by an interrupted up: start over
        delete_link(if_a, ns_a)
    if have_b:
        delete_link(if_b, ns_b)
    argv = ["ip", "link", "add", "name", if_a]
    argv += ["netns", ns_a] if ns_a else []
    argv += ["type", "veth", "peer", "name", if_b]
    argv += ["netns", ns_b] if ns_b else []
    run(argv)
    return True


def ensure_bridge(name: str, netns: str | None = None) -> bool:
    created = False
    if not link_exists(name, netns):
        run([*_ip(netns), "link", "add", "name", name, "type", "bridge"])
        created = True
    run([*_ip(netns), "link", "set", "dev", name, "up"])
    return created


def set_master(ifname: str, bridge: str, netns: str | None = None) -> None:
    run([*_ip(netns), "link", "set", "dev", ifname, "master", bridge])


def set_up(ifname: str, netns: str | None = None) -> None:
    run([*_ip(netns), "link", "set", "dev", ifname, "up"])


def set_alias(ifname: str, alias: str, netns: str | None = None) -> None:
    run([*_ip(netns), "link", "set", "dev", ifname, "alias", alias])


def add_addrs(netns: str | None, ifname: str, addrs: tuple[str, ...] | list[str], *extra: str) -> None:
    """Assign addresses (``replace``: idempotent); IPv6 without duplicate address detection."""
    for addr in addrs:
        family = ipaddress.ip_interface(addr).version
        flags = ["nodad"] if family == 6 else []
        run([*_ip(netns), f"-{family}", "addr", "replace", addr, "dev", ifname, *flags, *extra])


def sysctl(netns: str, key: str, value: str) -> None:
    """Set a per-network-namespace sysctl from the host (before any node process exists)."""
    run(["nsenter", f"--net={names.NETNS_DIR / netns}", "--", "sysctl", "-q", "-w", f"{key}={value}"])


def ensure_route(netns: str, dst: str, via: str) -> None:
    family = ipaddress.ip_address(via).version
    target = "default" if dst in ("default", "default6") else dst
    run(["ip", "-n", netns, f"-{family}", "route", "replace", target, "via", via])


def ensure_mgmt_bridge(lab: str, host_ip: str, mgmt_net: str) -> bool:
    """The root-namespace bridge of the lab's management network, holding the host's address."""
    bridge = names.mgmt_bridge(lab)
    created = ensure_bridge(bridge)
    if created:
        set_alias(bridge, f"jinbao lab {lab}: management network (lab only)")
        run(["sysctl", "-q", "-w", f"net.ipv6.conf.{bridge}.disable_ipv6=1"], check=False)
    prefix = ipaddress.ip_network(mgmt_net).prefixlen
    add_addrs(None, bridge, [f"{ipaddress.ip_interface(host_ip).ip}/{prefix}"])
    return created


def ensure_mgmt_port(lab: str, node: str, netns: str, mgmt_ip: str, mgmt_net: str) -> bool:
    """Connect a node to the management bridge: host end enslaved, node end ``mgmt0`` (OOB-style)."""
    host_end = names.host_veth(lab, node)
    created = ensure_veth(None, host_end, netns, names.MGMT_IFNAME)
    if created:
        set_alias(host_end, f"jinbao lab {lab}: {node} mgmt0")
    set_master(host_end, names.mgmt_bridge(lab))
    set_up(host_end)
    sysctl(netns, f"net.ipv6.conf.{names.MGMT_IFNAME}.disable_ipv6", "1")
    add_addrs(netns, names.MGMT_IFNAME, [mgmt_ip], "noprefixroute")
    set_up(names.MGMT_IFNAME, netns)
    ip = str(ipaddress.ip_interface(mgmt_ip).ip)
    net = str(ipaddress.ip_network(mgmt_net))
    table = str(names.MGMT_TABLE)
    run(["ip", "-n", netns, "route", "replace", net, "dev", names.MGMT_IFNAME, "src", ip, "table", table])
    run(["ip", "-n", netns, "route", "replace", "unreachable", "default", "table", table])
    rules = (
        ["iif", names.MGMT_IFNAME, "lookup", table],
        ["from", ip, "lookup", table],
        ["to", net, "iif", "lo", "lookup", table],
        ["to", net, "prohibit"],
    )
    for pref, rule in zip(MGMT_RULE_PREFS, rules, strict=True):
        if not run(["ip", "-n", netns, "rule", "show", "pref", str(pref)]).stdout.strip():
            run(["ip", "-n", netns, "rule", "add", "pref", str(pref), *rule])
    return created


def ensure_link(ns_a: str, if_a: str, addrs_a: tuple[str, ...], ns_b: str, if_b: str,
                addrs_b: tuple[str, ...]) -> bool:  # fmt: skip
    """A point-to-point veth between two node namespaces, addressed and up."""
    created = ensure_veth(ns_a, if_a, ns_b, if_b)
    for ns, ifname, addrs in ((ns_a, if_a, addrs_a), (ns_b, if_b, addrs_b)):
        add_addrs(ns, ifname, addrs)
        set_up(ifname, ns)
    return created


def ensure_segment_member(seg_ns: str, index: int, node_ns: str, ifname: str, addrs: tuple[str, ...]) -> bool:
    """Attach one node interface to a segment's bridge (which lives in the segment's namespace)."""
    port = names.segment_port(index)
    created = ensure_veth(node_ns, ifname, seg_ns, port)
    set_master(port, names.SEGMENT_BRIDGE, seg_ns)
    set_up(port, seg_ns)
    add_addrs(node_ns, ifname, addrs)
    set_up(ifname, node_ns)
    return created


def check_mgmt_net_free(lab: str, mgmt_net: str) -> None:
    """Refuse a management net that overlaps an address of the host not on this lab's own bridge."""
    net = ipaddress.ip_network(mgmt_net)
    own = names.mgmt_bridge(lab)
    out = run(["ip", "-o", "addr", "show"]).stdout
    for line in out.splitlines():
        words = line.split()
        if len(words) > 3 and words[2] == "inet" and words[1] != own:
            iface = ipaddress.ip_interface(words[3])
            if iface.network.overlaps(net) and not iface.ip.is_loopback:
                raise LabError(f"mgmt_net {net} overlaps {iface} on host interface {words[1]}")
