"""Traffic between zone hosts that the zone policy allows. `jinbao deploy` enforces every firewall's ruleset, so
ICMP between zones (and from the WAN routers into them) is denied; what crosses the firewalls end to end is
proved with TCP connections on the policy's own flows, made by the isolation check's listener and prober."""

from __future__ import annotations

from checks.isolation import Probe, ZoneHost, lab_exec, run_probes
from lab.slice import ZONE_OF_ROLE, LabPlan
from tests.lab_e2e.conftest import LAB


def zone_address(lab: LabPlan, host: str, af: int) -> str:
    d = next(x for x in lab.plan.inv.devices if x.hostname == host)
    pool, zone = ZONE_OF_ROLE[d.role]
    return lab.plan.addr.lan_host(d.site, pool, zone, af, host, host).split("/")[0]


def _zone_host(lab: LabPlan, host: str, af: int) -> ZoneHost:
    d = next(x for x in lab.plan.inv.devices if x.hostname == host)
    return ZoneHost(host, d.site, ZONE_OF_ROLE[d.role][1], zone_address(lab, host, af))


def failed_connections(lab: LabPlan, flows: list[tuple[str, str, int]], afs: tuple[int, ...] = (4, 6),
                       ) -> list[tuple[str, str, int, int]]:
    """(src, dst, port, af) of every TCP flow `src -> dst:port` that does not connect, in each family."""
    failed = []
    for af in afs:
        dsts = {d: _zone_host(lab, d, af) for _, d, _ in flows}
        probes = [Probe(s, d, "", "", dsts[d].address, "tcp", port, "open") for s, d, port in flows]
        run_probes(list(dsts.values()), probes, lab_exec(LAB))
        failed += [(p.src, p.dst, p.port, af) for p in probes if p.observed != "open"]
    return failed
