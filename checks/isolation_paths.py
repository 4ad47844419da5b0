"""What decides an isolation probe, from the plan's forwarding (issue 11 item 4, review finding 8b).

A probe tests the zone ruleset only if packets can travel between its two hosts both ways when the ruleset lets
them: the request to the destination and the reply back. Where the plan routes no such path (another site's
DMZ or management block is announced by no router; the office network has no router at all), the probe is
closed whatever the ruleset says, and counting it as a proof of the ruleset would claim too much.

The answer comes from the lab's own intents (the configs the lab runs), not from guesses about zones: a BGP
simulation of its routers (network/bgpsim.py: the same route-maps, prefix-lists, aggregates and discard
anchors), plus each WAN-side probe host's lab stand-in (lab/zoneprobe.py: a connected subnet on the router it
hangs off, announced by nothing, exactly as the check plumbs it). A host's first hop is the device that has
the host's address on a connected subnet (its firewall's zone port, or the probe host's router end); a path
follows longest-prefix matches hop by hop (connected, static next hops, BGP best paths) until it reaches a
device with the destination on a connected subnet. IPv4 only, as the probes."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from network.bgpsim import Route, Simulator, parse_prefix
from network.intent_model import DeviceIntent, Interface

if TYPE_CHECKING:
    from lab.slice import LabPlan
    from lab.zoneprobe import ProbeHost
    from network.policy.zones import World

MAX_HOPS = 64


class Paths:
    """The plan's IPv4 forwarding between zone hosts of a lab."""

    def __init__(self, intents: Mapping[str, DeviceIntent], stand_ins: Sequence[ProbeHost] = ()) -> None:
        from lab.zoneprobe import router_ifname

        devices = dict(intents)
        for p in stand_ins:  # the router end of a probe host's veth, as lab/zoneprobe.py plumbs it
            r = devices[p.router]
            itf = Interface(name=router_ifname(p), kind="lan", ipv4=p.gateway,
                            description=f"lab stand-in: {p.site} {p.zone} probe host")
            devices[p.router] = r.model_copy(update={"interfaces": (*r.interfaces, itf)})
        self.intents = devices
        self._sim: Simulator | None = None
        self._lans = [(ipaddress.ip_interface(itf.ipv4).network, h, itf.ipv4.split("/")[0])
                      for h, i in devices.items() for itf in i.interfaces
                      if itf.ipv4 and not itf.vrf and itf.kind != "loopback"]
        self._traces: dict[tuple[str, str], str | None] = {}

    @classmethod
    def of_lab(cls, lp: LabPlan, world: World) -> Paths:
        from lab import zoneprobe

        return cls(lp.intents, zoneprobe.plan(lp, world))

    def gateway(self, address: str) -> tuple[str, str] | None:
        """(device, its address) of the device with `address` on a connected subnet (the host's first hop);
        None when no device of the lab has it (the office LAN: no router in the plan)."""
        ip = ipaddress.ip_address(address)
        hits = [(net, h, gw) for net, h, gw in self._lans if ip in net and gw != address]
        if not hits:
            return None
        _net, h, gw = max(hits, key=lambda x: x[0].prefixlen)
        return h, gw

    @property
    def sim(self) -> Simulator:
        if self._sim is None:  # built on first use: planning hosts needs only the subnets
            self._sim = Simulator(self.intents, partial=True)
            self._sim.converge()
        return self._sim

    def trace(self, start: str, address: str) -> str | None:
        """None when packets from device `start` reach `address` (a device has it on a connected subnet);
        else where and why they stop."""
        key = (start, address)
        if key not in self._traces:
            self._traces[key] = self._trace(start, address)
        return self._traces[key]

    def _trace(self, start: str, address: str) -> str | None:
        sim, dst = self.sim, parse_prefix(address)
        cur, seen = start, [start]
        for _ in range(MAX_HOPS):
            hit = sim.lookup(cur, dst)
            if hit is None:
                return f"no route to {address} at {cur}"
            kind, data = hit
            if kind == "connected":
                return None
            if kind == "static":
                nh = data.next_hop  # type: ignore[attr-defined]
                if nh is None:
                    return f"{address} discarded at {cur} (a null route: {data.prefix})"  # type: ignore[attr-defined]
                owner = sim.owner.get(nh)
                if owner is None:
                    return f"{cur}'s next hop {nh} towards {address} is on no device"
                nxt = owner[0]
            else:
                r: Route = data  # type: ignore[assignment]
                nxt = r.peer  # type: ignore[assignment]
            if nxt in seen:
                return f"forwarding loop towards {address}: {' -> '.join([*seen, nxt])}"
            seen.append(nxt)
            cur = nxt
        return f"more than {MAX_HOPS} hops towards {address}"

    def gap(self, src: str, dst: str) -> str | None:
        """None when the plan carries packets from address `src` to `dst` and the replies back (the ruleset
        alone decides); else the first break, named by direction."""
        for way, a, b in (("forward", src, dst), ("return", dst, src)):
            first = self.gateway(a)
            if first is None:
                return f"{way}: {a} is on no subnet of the lab's routers and firewalls (no first hop)"
            stop = self.trace(first[0], b)
            if stop is not None:
                return f"{way}: {stop}"
        return None
