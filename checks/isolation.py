"""Isolation proved by traffic (issue 11, item 4): from a host in every zone of every lab site, connect to
every other zone host's service ports (same site and across tiers) and compare with the policy.

- TCP: a connect within 1.5 s is "open", a timeout or refusal "closed" (every probed port has a listener,
  started by the check, so "closed" means the network dropped it);
- business <-> office (decision zone) pairs are also probed by ICMP echo and by UDP (a listener echoes;
  no echo = no path), in both directions: those networks must reach nothing of each other;
- probe ports: every policy service port, plus canary ports no flow uses (8080, 3389, 23 by default) so a
  hole on an unplanned port is seen too.

Zone hosts: the lab's production, exchange and decision servers, plus a probe host (a bare namespace,
lab/zoneprobe.py) in every WAN-side zone of every lab data centre: the DMZ, the partners' access LAN, the
management subnet, each on the WAN side of the site's firewall where a real one arrives. Pairs are probed when the
site firewall stands between them (one of the two zones is behind a firewall) or when they are on networks that
must never meet; two WAN-side zones reach each other without crossing any firewall of jinbao's, so they are not.
UDP is probed (every policy UDP port) between business and office and between zones the policy joins by a UDP
service (management <-> the zones: SNMP one way, NTP and syslog the other).

What decides a probe (`decided_by`): the site firewall's ruleset when the plan routes packets between the two hosts
both ways, else routing alone (`route_gap` says where the path breaks: checks/isolation_paths.py, from the lab's
intents). A probe closed by routing is a pass but no proof of the ruleset, and the report counts the two apart.

Every zone host must be shown live, or a host whose plumbing is broken (interface down, wrong address, no route)
would pass on denies alone: at least one of its expected-open probes (from or to it) must connect. A host the
policy allows no flow to or from among the probed hosts (the decision zone: the office network) gets a liveness
probe instead: ICMP to its gateway when a lab device holds it, else (the lab's office LANs have no router) a
local check that its address sits on an interface that is up. A host not shown live is a `not-live` finding
naming it, and fails the check.

Each source host runs all its probes in one process (threads), and several sources run at once, so a lab slice is
probed in seconds. No probe starts before every listener has said it is bound (a `ready` line in its log): a
listener still starting would otherwise read as a closed port; one that cannot start (or is not ready within the
timeout) is an error naming its host."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from checks.isolation_paths import Paths
from core.findings import Finding, Shape
from inventory.model import ZONE_HOST_ROLES, ZONE_OF_ROLE
from network.policy.compile import instances
from network.policy.zones import World

if TYPE_CHECKING:
    from lab.slice import LabPlan
    from lab.zoneprobe import ProbeHost

CANARY_PORTS = (8080, 3389, 23)

LISTENER = r"""
import json, select, socket, sys
addr, tcp, udp = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
ts, us = [], []
for p in tcp:
    s = socket.socket(fam, socket.SOCK_STREAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, p)); s.listen(64); ts.append(s)
for p in udp:
    s = socket.socket(fam, socket.SOCK_DGRAM); s.bind((addr, p)); us.append(s)
print("ready", flush=True)  # every socket bound and listening: the prober may start
while True:
    for s in select.select(ts + us, [], [])[0]:
        if s in ts:
            s.accept()[0].close()
        else:
            data, peer = s.recvfrom(512); s.sendto(data, peer)
"""

PROBER = r"""
import json, socket, subprocess, sys
from concurrent.futures import ThreadPoolExecutor
probes, threads = json.loads(sys.stdin.read()), int(sys.argv[1])
def one(p):
    dst, proto, port = p["dst"], p["proto"], p["port"]
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    try:
        if proto == "link":  # this host's own address on an interface that is up, with carrier
            r = subprocess.run(["ip", "-j", "addr", "show"], capture_output=True, text=True)
            return any(i.get("operstate") == "UP" and "LOWER_UP" in i.get("flags", ())
                       and any(a.get("local") == dst for a in i.get("addr_info", ()))
                       for i in json.loads(r.stdout or "[]"))
        if proto == "tcp":
            s = socket.socket(fam, socket.SOCK_STREAM); s.settimeout(1.5)
            ok = s.connect_ex((dst, port)) == 0; s.close(); return ok
        if proto == "udp":
            s = socket.socket(fam, socket.SOCK_DGRAM); s.settimeout(1.5); s.sendto(b"jinbao-probe", (dst, port))
            try:
                return s.recvfrom(64)[0] == b"jinbao-probe"
            except OSError:
                return False
        return subprocess.run(["ping", "-c", "1", "-W", "1", "-n", "-q", dst], capture_output=True).returncode == 0
    except OSError:
        return False
with ThreadPoolExecutor(threads) as ex:
    print(json.dumps(list(ex.map(one, probes))))
"""

# Start a listener in the background, its output in a fresh log file; print "<pid> <log>".
START = ('log=$(mktemp /tmp/jinbao-listener.XXXXXX) || exit 1\n'
         'setsid python3 -u -c "$0" "$1" "$2" "$3" >"$log" 2>&1 </dev/null &\n'
         'echo "$! $log"')
# Wait until the listener's log says "ready": exit 3 (and its log) if it died, 4 after $3 checks 50 ms apart.
WAIT_READY = ('pid=$1 log=$2 n=$3 i=0\n'
              'until grep -qx ready "$log" 2>/dev/null; do\n'
              '  kill -0 "$pid" 2>/dev/null || { tail -c 400 "$log"; exit 3; }\n'
              '  [ "$i" -ge "$n" ] && exit 4\n'
              '  i=$((i+1)); sleep 0.05\n'
              'done')
READY_TIMEOUT = 15.0  # seconds for every listener to bind (a loaded 2-core host starts ~40 Pythons at once)
THREADS = 64  # concurrent probes per source host
PARALLEL_SOURCES = 8  # source hosts probing at once (each a process with THREADS threads)


@dataclass(frozen=True)
class ZoneHost:
    hostname: str
    site: str
    zone: str
    address: str  # IPv4 address on its zone LAN
    probe: ProbeHost | None = None  # a WAN-side zone's probe host (a bare namespace), None for a lab node
    gateway: str | None = None  # IPv4 address of its first hop, when a lab device holds it
    gateway_device: str | None = None  # hostname of that device


@dataclass
class Probe:
    src: str
    dst: str
    src_zone: str  # "<site> <zone>"
    dst_zone: str
    dst_ip: str
    proto: str  # tcp | udp | icmp | link (a host's own interface, up with its address: a liveness probe)
    port: int | None
    expected: str  # open | closed
    observed: str = ""
    purpose: str = "policy"  # policy: a flow between zones | liveness: shows a host is live (its gateway, link)
    decided_by: str | None = None  # policy probes: "ruleset" | "routing" (no path both ways); None: not known
    route_gap: str | None = None  # decided by routing: where the plan's path breaks

    @property
    def ok(self) -> bool:
        return self.expected == self.observed


def allowed_set(world: World, sites: list[str]) -> set[tuple[str, str, str, str, str, int]]:
    """(src site, src zone, dst site, dst zone, protocol, port) the policy allows, from every firewall."""
    out = set()
    for site in sites:
        for inst in instances(world, site):
            if inst.flow.action != "allow":
                continue
            for svc in inst.flow.services:
                s = world.policy.services[svc]
                for lo, hi in s.ports:
                    out |= {(inst.src_site, inst.flow.src, inst.dst_site, inst.flow.dst, s.protocol, p)
                            for p in range(lo, hi + 1)}
    return out


def plan_probes(world: World, hosts: list[ZoneHost], canaries: tuple[int, ...] = CANARY_PORTS,
                paths: Paths | None = None) -> list[Probe]:
    """Every probe between `hosts` with what the policy expects of it, then a liveness probe for each host no
    expected-open probe involves. With `paths` (the lab's forwarding), each policy probe says what decides it."""
    probes = _policy_probes(world, hosts, canaries)
    if paths is not None:
        ip = {h.hostname: h.address for h in hosts}
        gaps: dict[tuple[str, str], str | None] = {}
        for p in probes:
            if (p.src, p.dst) not in gaps:
                gaps[(p.src, p.dst)] = paths.gap(ip[p.src], ip[p.dst])
            gap = gaps[(p.src, p.dst)]
            p.decided_by, p.route_gap = ("routing", gap) if gap else ("ruleset", None)
    return probes + liveness_probes(hosts, probes)


def liveness_probes(hosts: list[ZoneHost], probes: list[Probe]) -> list[Probe]:
    """For each host that no expected-open probe involves (the policy allows it nothing among these hosts): ICMP
    to its gateway, or, with no gateway in the lab, a check that its address is on an interface that is up."""
    opened = {h for p in probes if p.expected == "open" for h in (p.src, p.dst)}
    out = []
    for h in hosts:
        if h.hostname in opened:
            continue
        zone = f"{h.site} {h.zone}"
        if h.gateway is not None:
            out.append(Probe(h.hostname, h.gateway_device or h.gateway, zone, zone, h.gateway, "icmp", None, "open",
                             purpose="liveness"))
        else:
            out.append(Probe(h.hostname, h.hostname, zone, zone, h.address, "link", None, "open", purpose="liveness"))
    return out


def _policy_probes(world: World, hosts: list[ZoneHost], canaries: tuple[int, ...]) -> list[Probe]:
    allowed = allowed_set(world, sorted({h.site for h in hosts}))
    tcp_ports = sorted({p for s in world.policy.services.values() if s.protocol == "tcp" for lo, hi in s.ports
                        for p in range(lo, hi + 1)} | set(canaries))
    udp_ports = sorted({p for s in world.policy.services.values() if s.protocol == "udp" for lo, hi in s.ports
                        for p in range(lo, hi + 1)})
    net = {z: d.network for z, d in world.policy.zones.items()}
    behind = {z for z, d in world.policy.zones.items() if d.behind_firewall}
    isolated = {frozenset(p) for p in world.policy.isolated}
    # zone pairs a UDP service joins (at any sites): probed on every UDP port, so the wrong direction shows too
    udp_pairs = {(f.src, f.dst) for f in world.policy.flows
                 if any(world.policy.services[s].protocol == "udp" for s in f.services)}
    probes = []
    for a in hosts:
        for b in hosts:
            if a is b:
                continue
            apart = frozenset((net[a.zone], net[b.zone])) in isolated and net[a.zone] != net[b.zone]
            if not apart and a.zone not in behind and b.zone not in behind:
                continue  # no firewall of the policy's between them (two WAN-side zones, or one and the office)
            sz, dz = f"{a.site} {a.zone}", f"{b.site} {b.zone}"
            kinds = [("tcp", p) for p in tcp_ports]
            if apart or (a.zone, b.zone) in udp_pairs:
                kinds += [("udp", p) for p in udp_ports]
            if apart:
                kinds.append(("icmp", None))
            for proto, port in kinds:
                ok = port is not None and (a.site, a.zone, b.site, b.zone, proto, port) in allowed
                probes.append(Probe(a.hostname, b.hostname, sz, dz, b.address, proto, port, "open" if ok else "closed"))
    return probes


# run(host, argv, stdin) -> (returncode, stdout)
Exec = Callable[[str, list[str], str | None], tuple[int, str]]


def run_probes(hosts: list[ZoneHost], probes: list[Probe], run: Exec,
               progress: Callable[[str], None] | None = None, ready_timeout: float = READY_TIMEOUT,
               threads: int = THREADS, parallel: int = PARALLEL_SOURCES) -> list[Probe]:
    """Start a listener on every destination (all probed ports), wait until every one is listening, run each
    source's probes (`parallel` sources at once, `threads` probes at once in each), fill `observed`. The
    listeners this run started are stopped, by PID, whatever happens."""
    tcp = sorted({p.port for p in probes if p.proto == "tcp" and p.port is not None})
    udp = sorted({p.port for p in probes if p.proto == "udp" and p.port is not None})
    started: dict[str, tuple[str, str]] = {}  # host -> (listener PID, its log file)
    try:
        for h in hosts:
            rc, out = run(h.hostname, ["sh", "-c", START, LISTENER, h.address, json.dumps(tcp), json.dumps(udp)],
                          None)
            fields = out.split()
            if rc != 0 or len(fields) != 2 or not fields[0].isdigit():
                raise RuntimeError(f"{h.hostname}: cannot start the probe listener: {out.strip()[-300:]}")
            started[h.hostname] = (fields[0], fields[1])
        checks = max(1, round(ready_timeout / 0.05))
        for host, (pid, log) in started.items():  # started all at once, so they bind in parallel
            rc, out = run(host, ["sh", "-c", WAIT_READY, "jinbao-wait", pid, log, str(checks)], None)
            if rc == 3:  # its last line is the error (a Python traceback ends with it)
                last = (out.strip().splitlines() or ["no output"])[-1]
                raise RuntimeError(f"{host}: the probe listener exited before listening: {last[-300:]}")
            if rc != 0:
                raise RuntimeError(f"{host}: the probe listener is not listening after {ready_timeout:g} s")
        by_src: dict[str, list[Probe]] = {}
        for p in probes:
            by_src.setdefault(p.src, []).append(p)

        def one_source(src: str) -> None:
            ps = by_src[src]
            if progress:
                progress(f"{src}: {len(ps)} probes")
            rc, out = run(src, ["python3", "-c", PROBER, str(threads)],
                          json.dumps([{"dst": p.dst_ip, "proto": p.proto, "port": p.port} for p in ps]))
            if rc != 0:
                raise RuntimeError(f"{src}: probe run failed: {out[-300:]}")
            for p, ok in zip(ps, json.loads(out), strict=True):
                p.observed = "open" if ok else "closed"

        with ThreadPoolExecutor(max(1, parallel)) as ex:  # list(): the first source's error is raised here
            list(ex.map(one_source, by_src))
    finally:
        for host, (pid, log) in started.items():  # the listeners this run started, by PID
            run(host, ["kill", pid], None)
            run(host, ["rm", "-f", log], None)
    return probes


FINDING_SHAPE: Shape = (("rule", "rule"), ("host", "subject"), ("message", "message"))


@dataclass(frozen=True)
class Liveness:
    host: str
    site: str
    zone: str
    address: str
    live: bool
    proof: str  # flow (an allowed probe connected), gateway (it answered), link (interface up), none (no probe)
    open_expected: int  # its expected-open policy probes (from or to it)
    open_observed: int  # how many of them connected
    detail: str


def liveness(hosts: list[ZoneHost], probes: list[Probe]) -> list[Liveness]:
    """Whether each host is shown live by the observed probes, and by what."""
    out = []
    for h in hosts:
        mine = [p for p in probes if p.purpose == "policy" and p.expected == "open" and h.hostname in (p.src, p.dst)]
        checks = [p for p in probes if p.purpose == "liveness" and p.src == h.hostname]
        opened = [p for p in mine if p.observed == "open"]
        if mine:
            live, proof = bool(opened), "flow"
            if opened:
                p = opened[0]
                detail = f"{p.src} -> {p.dst} {_port(p)} connected ({len(opened)} of {len(mine)} allowed probes)"
            else:
                detail = (f"none of its {len(mine)} allowed probes connected: its plumbing (interface, address, "
                          f"route) is broken, or the firewall drops every flow the policy allows it")
        elif checks:
            why = f"the policy allows it no flow to or from the probed hosts ({h.zone})"
            live, proof = all(p.observed == "open" for p in checks), checks[0].proto
            if proof == "icmp":
                proof = "gateway"
                what = f"its gateway {checks[0].dst_ip} ({checks[0].dst})"
                detail = f"{why}: {what} {'answers' if live else 'does not answer'} ICMP"
            else:
                detail = (f"{why} and no lab device holds its gateway: {h.address} "
                          f"{'is' if live else 'is not'} on an interface that is up (a local check, not traffic)")
        else:
            live, proof, detail = False, "none", "no probe from or to it could show it is live"
        out.append(Liveness(h.hostname, h.site, h.zone, h.address, live, proof, len(mine), len(opened), detail))
    return out


def _port(p: Probe) -> str:
    return f"{p.proto}/{p.port}" if p.port is not None else p.proto


def report(probes: list[Probe], hosts: list[ZoneHost]) -> dict[str, Any]:
    """The check's result: every zone-to-zone probe with expected and observed (`probes`: the liveness probes are
    apart, in `liveness_probes`, so `probes` keeps meaning the policy's), each host's liveness, and the findings
    (a host not shown live). The pass: no mismatch and every host live."""
    policy = [p for p in probes if p.purpose == "policy"]
    bad = [p for p in policy if not p.ok]
    live = liveness(hosts, probes)
    findings = [Finding("not-live", x.host, f"{x.host} ({x.site} {x.zone}, {x.address}) is not shown live: {x.detail}")
                for x in live if not x.live]
    decided = {k: sum(p.decided_by == k for p in policy) for k in ("ruleset", "routing")}
    decided["unknown"] = len(policy) - sum(decided.values())
    return {"ok": not bad and not findings, "probes_run": len(policy), "mismatches": len(bad),
            "not_live": len(findings), "decided_by": decided,
            "findings": [f.as_dict(FINDING_SHAPE) for f in findings],
            "hosts": [asdict(x) for x in live],
            "probes": [asdict(p) for p in policy],
            "liveness_probes": [asdict(p) for p in probes if p.purpose != "policy"]}


def lab_zone_hosts(lab_name: str, scope: str | None, inventory_dir: Path | None = None
                   ) -> tuple[World, list[ZoneHost], Paths]:
    """The zone hosts of a running lab (its recorded slice), the policy world of its inventory, and the lab's
    forwarding (what decides each probe).
    `inventory_dir`: where to resolve `scope` when the lab is not up (an unknown scope is bad input, reported
    before the missing lab); a running lab resolves it against its own recorded inventory."""
    from core.errors import JinbaoError
    from inventory.scope import sites_in_scope
    from lab import names
    from lab.fleet import LAB_META, read_lab_meta
    from lab.slice import MGMT_NET, build_lab
    from network.policy.service import open_world

    meta = names.lab_dir(lab_name) / LAB_META
    if not meta.exists():
        if scope and inventory_dir is not None:
            from inventory.load import load

            sites_in_scope(load(inventory_dir).inventory, scope)
        raise JinbaoError(f"lab {lab_name!r} is not up (no {meta}); run `jinbao lab up` first", entry="--lab")
    info = read_lab_meta(meta)
    lp = build_lab(Path(info["inventory"]), info["slice"], lab_name, info.get("mgmt_net", MGMT_NET))
    world = open_world(Path(info["inventory"]))
    paths = Paths.of_lab(lp, world)
    return world, zone_hosts(lp, world, scope, paths), paths


def zone_hosts(lp: LabPlan, world: World, scope: str | None, paths: Paths | None = None) -> list[ZoneHost]:
    """The zone servers of a lab plan in `scope`, each with its zone LAN address, and the WAN-side probe hosts
    of its DMZ, partners and management zones (lab/zoneprobe.py); each with its gateway where a lab device holds
    it (`paths`: the lab's forwarding, built here when not given)."""
    from inventory.scope import sites_in_scope
    from lab import zoneprobe

    paths = paths or Paths.of_lab(lp, world)
    keep = sites_in_scope(lp.plan.inv, scope)
    hosts = []
    for d in lp.plan.inv.devices:
        if d.role in ZONE_HOST_ROLES and d.site in keep:
            pool, zone = ZONE_OF_ROLE[d.role]
            ip = lp.plan.addr.lan_host(d.site, pool, zone, 4, d.hostname, d.hostname).split("/")[0]
            hosts.append(ZoneHost(d.hostname, d.site, zone, ip))
    hosts += [ZoneHost(p.hostname, p.site, p.zone, p.ip, p) for p in zoneprobe.plan(lp, world) if p.site in keep]
    out = []
    for h in hosts:
        gw = paths.gateway(h.address)
        out.append(h if gw is None else replace(h, gateway=gw[1], gateway_device=gw[0]))
    return out


def lab_exec(lab_name: str, hosts: Sequence[ZoneHost] = ()) -> Exec:
    """Run in a lab node, or in the namespace of one of `hosts`' probe hosts."""
    from lab import runtime, zoneprobe
    from lab.slice import node_name

    probe = {h.hostname: h.probe for h in hosts if h.probe is not None}

    def run(host: str, argv: list[str], stdin: str | None) -> tuple[int, str]:
        if host in probe:
            r = zoneprobe.run_in(lab_name, probe[host], argv, stdin)
        else:
            r = runtime.exec(lab_name, node_name(host), argv, input=stdin, timeout=300)
        return r.returncode, (r.stdout or "") + (r.stderr or "" if r.returncode else "")
    return run


def probe_lab(lab_name: str, hosts: list[ZoneHost], probes: list[Probe],
              progress: Callable[[str], None] | None = None, threads: int = THREADS,
              parallel: int = PARALLEL_SOURCES) -> list[Probe]:
    """`run_probes` on a running lab, its WAN-side probe hosts plumbed in for the run and removed after."""
    from lab import zoneprobe

    with zoneprobe.attached(lab_name, [h.probe for h in hosts if h.probe is not None]):
        return run_probes(hosts, probes, lab_exec(lab_name, hosts), progress, threads=threads, parallel=parallel)
