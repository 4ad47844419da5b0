"""Probe hosts for the zones a lab data centre has no node in (issue 11 item 4): the DMZ, the partners' access
LANs and the management subnet. Each is a bare network namespace (no daemons: the isolation check's listener
and prober run in it) that exists only while `jinbao check isolation` runs.

Where it sits: these zones reach a site's firewall through its transit port, from the WAN side (docs/policy.md),
so a probe host hangs off the WAN router the firewall's rendered default route points at, by a veth of its own.
That router end is a lab stand-in: the plan gives none of these zones a port on the lab's routers (the DMZ and
management pools are not announced; a partner LAN sits behind an access router the lab does not build), so
the stand-in holds the zone's gateway address (the block's first host, as for every zone LAN: for a partner
LAN it is the access router's planned LAN address) and the kernel's connected route to the block. Nothing is
announced (FRR originates only its `network` statements). The firewall is not touched: traffic from and to a
probe host crosses it exactly as a real one's would, in and out of its transit port, under its deployed ruleset.

Addresses come from the IP registration record: the zone's IPv4 block (`World.blocks`, the same blocks the
rulesets are compiled from); the probe host is the management server's (NM) recorded address in the management
subnet, else the block's second host. Namespaces are named under the lab's prefix (`jb-<lab>-zp-…`), so
`lab down` removes any a crash left (processes in them first). Removal goes by exact name, never by that prefix:
`jb-<lab>-zp-` also starts a node namespace of a node named `zp-…`, or of a lab named `<lab>-zp`; the names a
check creates are recorded in the lab's directory before they exist, so a killed check's are found too."""

from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.fsutil import atomic_write_text
from lab import links, names
from lab.sh import LabError, run

if TYPE_CHECKING:
    from lab.slice import LabPlan
    from network.policy.zones import World

PROBE_IF = "eth0"  # the probe namespace's end of its veth


@dataclass(frozen=True)
class ProbeHost:
    hostname: str  # how the check names it: probe-<site>-<zone>
    site: str
    zone: str
    address: str  # IPv4 with the block's length
    gateway: str  # the router end's address, same length
    router: str  # hostname of the WAN router it hangs off

    @property
    def ip(self) -> str:
        return self.address.split("/")[0]


def netns(lab: str, h: ProbeHost) -> str:
    return names.node_netns(lab, f"zp-{h.site.lower()}-{h.zone}")


def netns_prefix(lab: str) -> str:
    """What every probe namespace of the lab starts with: how `lab down` may recognise one, never what removal
    matches (remove: exact names only)."""
    return names.node_netns(lab, "zp-")


def record_path(lab: str) -> Path:
    """The probe namespaces a check of the lab created (one name a line): written before they exist."""
    return names.lab_dir(lab) / "zoneprobe.netns"


def recorded(lab: str) -> list[str]:
    try:
        text = record_path(lab).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [ln for ln in text.splitlines() if ln.startswith(netns_prefix(lab))]


def router_ifname(h: ProbeHost) -> str:
    """The router end: `zp-<zone>` (one per zone on a router), hashed when the zone name is too long."""
    name = f"zp-{h.zone}"
    return name if len(name) <= 15 else "zp-" + hashlib.sha1(h.zone.encode()).hexdigest()[:12]


def wan_side_zones(world: World) -> list[str]:
    """The policy's zones that reach a firewall from its WAN side and have no lab node: not behind the firewall,
    and not a zone whose servers the lab builds (the decision zone has its own node, on the office network)."""
    from inventory.model import ZONE_HOST_ROLES, ZONE_OF_ROLE

    built = {ZONE_OF_ROLE[r][1] for r in ZONE_HOST_ROLES}
    return [z for z, d in world.policy.zones.items() if not d.behind_firewall and z not in built]


def plan(lp: LabPlan, world: World) -> list[ProbeHost]:
    """One probe host per lab data centre (a site with a firewall) and WAN-side zone with an IPv4 block there."""
    from network.plan import DEFAULT

    out = []
    inv = lp.plan.inv
    for fw in (d for d in inv.devices if d.role == "FW" and d.hostname in lp.intents):
        gw_ip = next((s.next_hop for s in lp.intents[fw.hostname].static_routes
                      if s.prefix == DEFAULT[4] and s.vrf is None), None)
        router = next((h for h, i in lp.intents.items() for itf in i.interfaces
                       if gw_ip and itf.kind == "transit" and itf.ipv4 and itf.ipv4.split("/")[0] == gw_ip), None)
        if router is None:
            continue  # a firewall without a WAN router: nothing reaches it from the WAN side
        for zone in wan_side_zones(world):
            block = next((b for b in world.blocks.get((fw.site, zone), ()) if b[0] == 4), None)
            if block is None:
                continue  # a DR centre has no DMZ, most sites no partners
            net = ipaddress.ip_network((block[1], block[2]))
            hosts = list(itertools.islice(net.hosts(), 2))
            if len(hosts) < 2:
                raise LabError(f"{fw.site} {zone}: block {net} has no room for a gateway and a probe host")
            me = hosts[1]
            if zone == "management":  # the site's management server (NTP, syslog, the NMS), where the record has it
                nm = next((d for d in inv.devices if d.site == fw.site and d.role == "NM"), None)
                if nm is not None:
                    ip = ipaddress.ip_interface(lp.plan.addr.mgmt(nm, 4)[0]).ip
                    me = ip if ip in net and ip != hosts[0] else me
            out.append(ProbeHost(f"probe-{fw.site}-{zone}", fw.site, zone, f"{me}/{net.prefixlen}",
                                 f"{hosts[0]}/{net.prefixlen}", router))
    return out


def _add(lab: str, h: ProbeHost) -> None:
    from lab.slice import node_name

    ns, rns = netns(lab, h), names.node_netns(lab, node_name(h.router))
    if not links.netns_exists(rns):
        raise LabError(f"lab {lab}: router {h.router} has no namespace {rns}: is the lab up?")
    links.ensure_netns(ns)
    rif = router_ifname(h)
    links.ensure_veth(rns, rif, ns, PROBE_IF)
    links.add_addrs(rns, rif, [h.gateway])
    links.set_up(rif, rns)
    links.add_addrs(ns, PROBE_IF, [h.address])
    links.set_up(PROBE_IF, ns)
    links.ensure_route(ns, "default", h.gateway.split("/")[0])


def remove(lab: str, hosts: list[ProbeHost] | tuple[ProbeHost, ...] = ()) -> list[str]:
    """Remove the lab's probe namespaces: those recorded (a killed check's too) and those of `hosts`, each by its
    exact name (their veths, so the router ends and connected routes, go with them), stopping first what the
    check started in them (by PID). Returns the namespaces removed."""
    wanted = set(recorded(lab)) | {netns(lab, h) for h in hosts}
    gone = []
    for ns in links.list_netns():
        if ns not in wanted:
            continue
        pids = run(["ip", "netns", "pids", ns], check=False).stdout.split()
        for pid in pids:  # a listener a killed check left behind: ours, in our namespace
            run(["kill", "-9", pid], check=False)
        # the veth first, both ends at once: a namespace's own teardown is asynchronous in the kernel
        links.delete_link(PROBE_IF, ns)
        links.delete_netns(ns)
        gone.append(ns)
    record_path(lab).unlink(missing_ok=True)
    return gone


@contextmanager
def attached(lab: str, hosts: list[ProbeHost]) -> Iterator[None]:
    """The probe hosts plumbed into a running lab for the duration of the block, then removed (even on error).
    One check at a time per lab (a lock file in the lab's directory): two would share the namespaces."""
    if not hosts:
        yield
        return
    lock_path = names.lab_dir(lab) / "zoneprobe.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        remove(lab)  # whatever a killed check left
        try:
            atomic_write_text(record_path(lab), "".join(f"{netns(lab, h)}\n" for h in hosts))  # before they exist
            for h in hosts:
                _add(lab, h)
            yield
        finally:
            remove(lab, hosts)


def exec_argv(lab: str, h: ProbeHost) -> list[str]:
    return ["ip", "netns", "exec", netns(lab, h)]


def run_in(lab: str, h: ProbeHost, argv: list[str], stdin: str | None, timeout: float = 300
           ) -> subprocess.CompletedProcess[str]:
    """Run a host command inside the probe host's namespace (the host's filesystem and tools; `python3` is this
    interpreter, not whatever shim the PATH holds)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    return subprocess.run([*exec_argv(lab, h), *argv], input=stdin, capture_output=True, text=True,
                          timeout=timeout, check=False, env=env)
