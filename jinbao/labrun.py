"""`make run`'s lab half: the steps that act on an emulated slice of the network, each through the functions
the matching CLI command calls (`jinbao lab up`, `vm provision`, `servers build`, `deploy`, `check …`,
`ferry …`; `dr build` + `dr drill` are in jinbao/labdr.py). Every step returns its headline figures and writes
its report under `out/`; a step that does not pass raises a one-line JinbaoError, which the pipeline records as
the failed step.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import JinbaoError
from core.fsutil import atomic_write_text
from core.playbooks import LAB_VAULT_PASSWORD
from core.poll import wait_until

if TYPE_CHECKING:
    from dr.plan import Pair
    from lab.slice import LabPlan
    from network.policy.zones import World
    from network.workspace import Workspace

Say = Callable[[str], None]


@dataclass(frozen=True)
class LabRun:
    """Which lab `make run` builds: the smallest slice with every role (WAN routers, firewalls, DB/EX/DS servers,
    the national DR centre), a name and a management network clear of other labs."""

    # not `jinbao lab up`'s default lab (jinbao, 100.127.0.0/24): `make run` must never replace an operator's lab
    name: str = "jbrun"
    mgmt_net: str = "100.126.200.0/24"
    slice: str = "minimal"
    keep: bool = False  # KEEP_LAB=1: leave the lab up after the run (also after a failure)
    confirm_seconds: int = 90


def _write_json(path: Path, data: object) -> None:
    atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=1, default=str) + "\n")


def preflight(run: LabRun, ws: Workspace) -> str:
    """What the lab needs, checked before any work: root, a slice that exists, a replication pair with both
    ends in it for the DR drill (returned as `primary -> replica`), and chromium for the index check."""
    from jinbao.indexcheck import chromium
    from jinbao.labdr import slice_pair
    from lab.slice import SLICES

    if os.geteuid() != 0:
        raise JinbaoError("the lab needs root (namespaces, mounts): run `make run` as root, or `jinbao run --static`"
                          " for the offline half")
    if run.slice not in SLICES:
        raise JinbaoError(f"--slice {run.slice!r}: unknown slice (one of {', '.join(SLICES)})")
    pair = slice_pair(ws, run.slice)
    chromium()  # the last step checks the index in it: no chromium fails here, not after the lab work
    return f"{pair.primary} -> {pair.replica}"


RUN_MARK = "built-by-jinbao-run"


def refuse_foreign_lab(name: str) -> None:
    """A lab of this name that `jinbao lab up` built (someone's working lab) is never replaced by a run."""
    from lab import names
    from lab.fleet import LAB_META

    d = names.lab_dir(name)
    if (d / LAB_META).exists() and not (d / RUN_MARK).exists():
        raise JinbaoError(f"lab {name} exists and was not built by `jinbao run`: take it down "
                          f"(`jinbao lab down --name {name}`) or give the run another --lab-name", entry="--lab-name")


def lab_plan(ws: Workspace, run: LabRun) -> tuple[LabPlan, dict[str, str]]:
    """The run's lab plan, built on the run's workspace (the inventory, records and plan read once), and the
    record `lab_up` writes of it: every lab step acts on these rather than re-reading the lab's record."""
    from lab.fleet import lab_meta
    from lab.slice import build_lab

    return (build_lab(ws.directory, run.slice, run.name, run.mgmt_net, plan=ws.network),
            lab_meta(run.slice, ws.directory, run.mgmt_net))


def lab_up(inventory_dir: Path, run: LabRun, lp: LabPlan, say: Say) -> dict[str, Any]:
    """`jinbao lab up`: the slice's nodes, links, LANs and management network (replacing a leftover lab), and
    the management zone's NTP and syslog stand-in that the servers step points the servers at (the audit
    checks that their clocks follow it)."""
    import dataclasses

    from lab import names, runtime
    from lab.fleet import record_lab
    from lab.servers import mgmt_standin, start_mgmt_services

    spec = dataclasses.replace(lp.spec, nodes=(*lp.spec.nodes, mgmt_standin(lp.spec))).validate()
    refuse_foreign_lab(run.name)
    runtime.down(run.name)  # whatever an aborted earlier run left: re-running starts clean
    runtime.up(spec, progress=say)
    record_lab(run.name, run.slice, inventory_dir, run.mgmt_net)
    atomic_write_text(names.lab_dir(run.name) / RUN_MARK, "built by jinbao run\n")
    start_mgmt_services(run.name)
    roles = sorted({n.role for n in lp.spec.nodes})
    return {"lab": run.name, "slice": run.slice, "nodes": len(spec.nodes), "roles": ",".join(roles),
            "links": len(lp.spec.links)}


def lab_down(run: LabRun) -> dict[str, Any]:
    from lab import runtime

    runtime.down(run.name)
    return {"lab": run.name}


def _slice_sites(run: LabRun) -> set[str]:
    from lab.slice import SLICES

    return set(SLICES[run.slice])


def vm_provision(ws: Workspace, run: LabRun, out_dir: Path, say: Say) -> dict[str, Any]:
    """`jinbao vm provision` for the servers of the slice's sites, against VMware's vSphere simulator shaped like
    each of the slice's provinces' vCenter under the default mapping (docs/vsphere.md); then a second pass that
    must change nothing."""
    from plugins.hostvars import build_view
    from vsphere import simulator as vcsim
    from vsphere.client import Endpoint, connect
    from vsphere.config import CONFIG_FILE, load_config
    from vsphere.plan import wanted_vms
    from vsphere.provision import provision

    cfg, source = load_config(ws.directory / CONFIG_FILE)
    view = build_view(ws.network, None, str(ws.directory), ws.directory)  # plugins.hostvars.load_view's
    sites = _slice_sites(run)
    hosts = {h: v for h, v in view.hosts.items() if v.vars.get("jinbao_site") in sites}
    wanted = wanted_vms(hosts, cfg, source)
    by_dc: dict[str, list[str]] = {}
    for w in wanted:
        if w.cluster not in by_dc.setdefault(w.datacenter, []):
            by_dc[w.datacenter].append(w.cluster)
    first, again = [], []
    for dc, clusters in sorted(by_dc.items()):  # one simulated vCenter per province, as each runs its own
        mine = [w for w in wanted if w.datacenter == dc]
        say(f"vSphere simulator {dc}: {len(clusters)} clusters, {len(mine)} VMs")
        with vcsim.running(clusters=len(clusters)) as sim:
            vcsim.shape(sim, dc, sorted(clusters))
            ep = Endpoint.from_env(sim.env())
            with connect(ep) as si:
                first += provision(si, ep.label, mine, cfg, source, wait_seconds=30,
                                   progress=lambda n, m: say(f"vm {n}: {m}"))
                again += provision(si, ep.label, mine, cfg, source, wait_seconds=30)
    created = sum(r.action == "created" for r in first)
    unchanged = sum(r.action == "unchanged" for r in again)
    _write_json(out_dir / "vsphere.json", {"vcenter": "vSphere simulator (govmomi vcsim)", "wanted": len(wanted),
                                           "first": [asdict(r) for r in first], "second": [asdict(r) for r in again],
                                           "vms": [asdict(w) for w in wanted]})
    bad = [r for r in first if r.action != "created"] + [r for r in again if r.action != "unchanged"]
    if bad:
        raise JinbaoError(f"{bad[0].name}: {bad[0].action} {bad[0].error or '; '.join(bad[0].detail)}"
                          f" ({len(bad)} VMs not as wanted; out/vsphere.json)")
    return {"vms": len(wanted), "created": created, "second_pass_unchanged": unchanged, "datacenters": len(by_dc)}


def servers_build(run: LabRun, out_dir: Path, say: Say, extra_vars: dict[str, Any] | None = None,
                  ) -> dict[str, Any]:
    """`jinbao servers build --lab`: playbooks/site.yml over SSH on the lab's DB, EX and DS servers. `extra_vars`:
    the replication plan's variables (`jinbao dr vars`) for the pair the run drills: with them the DB servers'
    pg_hba and host firewall admit the replication peer and the DR centre's standby port (the replication build
    re-runs the postgresql role but not the baseline that writes the firewall)."""
    from jinbao import provision
    from lab.servers import running_spec, write_inventory

    with tempfile.TemporaryDirectory(prefix="jinbao-run-") as tmp:
        inventory = write_inventory(running_spec(run.name), Path(tmp) / "inventory")
        result = provision.run_playbook("site", inventory, vault_password_file=LAB_VAULT_PASSWORD,
                                        progress=say, extra_vars=extra_vars)
    _write_json(out_dir / "servers.json", result.to_dict())
    atomic_write_text(out_dir / "servers-recap.txt", provision.format_recap(result) + "\n")
    if not result.ok:
        bad = [h for h, c in result.recap.items() if c["failed"] or c["unreachable"]]
        raise JinbaoError(f"playbooks/site.yml: {result.status} (rc {result.rc}) on {', '.join(bad) or 'no host'}"
                          " (out/servers-recap.txt)")
    return {"servers": len(result.recap), "changed": result.changed, "seconds_ansible": result.seconds}


def deploy(ws: Workspace, run: LabRun, lab: tuple[LabPlan, dict[str, str]], out_dir: Path, say: Say,
           ) -> dict[str, Any]:
    """`jinbao deploy --lab --confirm N --rulesets`: every router and firewall config, and each firewall's zone
    ruleset, with commit-confirm (devices revert unless the post-checks pass)."""
    from lab.fleet import fleet_of
    from network.deploy import deploy as push
    from network.deploy.lock import deploy_lock
    from network.fleet import fleet_targets

    fleet = fleet_of(*lab, None)
    targets = fleet_targets(fleet, rulesets=True, world=ws.zone_world)
    with deploy_lock(f"jinbao run (lab {run.name})", lab=run.name):  # as `jinbao deploy --lab` does
        results = push(targets, dry_run=False, confirm_seconds=run.confirm_seconds,
                       progress=lambda h, m: say(f"deploy {h}: {m}"), message="jinbao run",
                       inventory_dir=ws.directory)
    rows = [{"hostname": r.hostname, "status": r.status, "error": r.error, "seconds": round(r.seconds, 2),
             "checks": [c.__dict__ for c in r.checks]} for r in results]
    _write_json(out_dir / "deploy.json", {"where": fleet.where, "confirm_seconds": run.confirm_seconds,
                                          "devices": rows})
    bad = [r for r in results if r.status not in ("committed", "unchanged")]
    if bad:
        raise JinbaoError(f"{bad[0].hostname}: {bad[0].status}: {bad[0].error or ''}".rstrip(": ")
                          + f" ({len(bad)} of {len(results)} not committed; out/deploy.json)")
    return {"targets": len(results), "committed": sum(r.status == "committed" for r in results),
            "rulesets": sum(r.hostname.endswith(":ruleset") for r in results)}


def _exec(run: LabRun, host: str, argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    from lab import runtime
    from lab.slice import node_name

    return runtime.exec(run.name, node_name(host), argv, timeout=timeout)


def _ping(run: LabRun, src: str, dst: str, wait: float = 1) -> bool:
    return _exec(run, src, ["ping", "-c", "1", "-W", str(wait), "-n", "-q", dst]).returncode == 0


def _bgp_states(run: LabRun, host: str) -> dict[str, str]:
    r = _exec(run, host, ["vtysh", "-c", "show bgp neighbors json"])
    try:
        data = json.loads(r.stdout or "{}") if r.returncode == 0 else {}
    except json.JSONDecodeError:
        data = {}
    return {addr: n.get("bgpState", "") for addr, n in data.items() if isinstance(n, dict)}


def verify_routing(run: LabRun, lp: LabPlan, out_dir: Path, say: Say, settle: float = 90) -> dict[str, Any]:
    """Every planned BGP session Established; the ministry reaches every router loopback (both families) and
    every site's router every other site's; the decision (office) zone is reached by nobody and no router has
    a route into it. (Host to host reachability is the zone policy's: the isolation step proves it.)"""
    import ipaddress

    from inventory.model import ZONE_OF_ROLE

    routers = [h for h, i in lp.intents.items() if i.bgp is not None]
    planned = {h: {str(ipaddress.ip_address(n.address)) for n in lp.intents[h].bgp.neighbors} for h in routers}
    deadline = time.monotonic() + settle
    states: dict[str, dict[str, str]] = {}
    while True:
        states = {h: _bgp_states(run, h) for h in routers}
        down = [(h, a) for h in routers for a in planned[h] if states[h].get(a) != "Established"]
        if not down or time.monotonic() > deadline:
            break
        say(f"routing: {len(down)} sessions not yet established")
        time.sleep(2)
    total = sum(len(p) for p in planned.values())

    def loopback(host: str, af: int = 4) -> str:
        return str(getattr(lp.intents[host], f"loopback_v{af}")).split("/")[0]

    offices = []
    for d in lp.plan.inv.devices:
        if d.role == "DS":
            pool, zone = ZONE_OF_ROLE[d.role]
            offices.append((d.hostname, lp.plan.addr.lan_host(d.site, pool, zone, 4, d.hostname, d.hostname)))
    ministry = next(h for h in routers if h.startswith("JB-100000-DC-WR"))
    firsts: dict[str, str] = {}
    for h in routers:
        firsts.setdefault(lp.intents[h].site, h)
    expect: list[tuple[str, str, str, bool]] = []  # source, destination, address, should reach
    expect += [(ministry, h, loopback(h, af), True) for h in routers for af in (4, 6)]
    expect += [(a, b, loopback(b), True) for a in firsts.values() for b in firsts.values() if a != b]
    expect += [(ministry, h, addr.split("/")[0], False) for h, addr in offices]
    probes = []
    for src, dst, addr, want in expect:
        say(f"routing: {src} -> {dst} {addr}")
        got = _ping(run, src, addr, 1 if want else 0.5)
        if want and not got:  # a route can still be settling right after the sessions came up
            got = _ping(run, src, addr, 3)
        probes.append({"from": src, "to": dst, "address": addr, "expected": want, "observed": got})
    office_nets = [ipaddress.ip_interface(a).network for _, a in offices]
    office_routes = []
    for h in routers:
        r = _exec(run, h, ["vtysh", "-c", "show ip route json"])
        table = json.loads(r.stdout or "{}") if r.returncode == 0 else {}
        office_routes += [{"router": h, "prefix": p} for p in table if p != "0.0.0.0/0"
                          and any(ipaddress.ip_network(p).overlaps(n) for n in office_nets)]
    reach = [p for p in probes if p["expected"]]
    reached = sum(p["observed"] for p in reach)
    isolated = sum(not p["observed"] for p in probes if not p["expected"])
    report = {"sessions_planned": total, "sessions_up": total - len(down),
              "sessions_down": [{"router": h, "neighbor": a, "state": states[h].get(a, "absent")} for h, a in down],
              "reachability": {"expected": len(reach), "reached": reached}, "probes": probes,
              "routes_into_office": office_routes}
    _write_json(out_dir / "routing.json", report)
    wrong = [p for p in probes if p["observed"] != p["expected"]]
    if down or wrong or office_routes:
        first = (f"{down[0][0]}: session to {down[0][1]} {states[down[0][0]].get(down[0][1], 'absent')}" if down
                 else f"{wrong[0]['from']} -> {wrong[0]['to']} {wrong[0]['address']}: "
                      f"{'unreachable' if wrong[0]['expected'] else 'reachable, must not be'}" if wrong
                 else f"{office_routes[0]['router']} has a route into the office zone: {office_routes[0]['prefix']}")
        raise JinbaoError(f"{first} ({len(down)} sessions down, {len(wrong)} reachability mismatches, "
                          f"{len(office_routes)} routes into the office zone; out/routing.json)")
    return {"sessions": f"{total - len(down)}/{total}", "reachable": f"{reached}/{len(reach)}",
            "office_isolated": isolated}


def verify_isolation(run: LabRun, world: World, lp: LabPlan, out_dir: Path, say: Say) -> dict[str, Any]:
    """`jinbao check isolation --lab`: from every zone host (the DMZ, partners and management zones' probe hosts
    too) to every other, allowed flows connect and denied ones fail (TCP service and canary ports; UDP where a
    flow is UDP; ICMP and UDP between business and office)."""
    from checks.isolation import plan_probes, probe_lab, report, zone_hosts
    from checks.isolation_paths import Paths

    paths = Paths.of_lab(lp, world)
    hosts = zone_hosts(lp, world, None, paths)
    probes = plan_probes(world, hosts, (8080, 3389, 23), paths)
    probe_lab(run.name, hosts, probes, progress=lambda m: say(f"isolation: {m}"))
    rep = report(probes, hosts)
    _write_json(out_dir / "isolation.json", rep)
    passed = rep["probes_run"] - rep["mismatches"]
    if not rep["ok"]:
        p = next((x for x in probes if not x.ok), None)
        first = (f"{p.src_zone} -> {p.dst_zone} {p.proto}/{p.port}: expected {p.expected}, observed {p.observed}"
                 if p else rep["findings"][0]["message"])
        raise JinbaoError(f"{first} ({rep['mismatches']} mismatches, {rep['not_live']} hosts not shown live; "
                          f"out/isolation.json)")
    return {"probes": rep["probes_run"], "pass": passed, "fail": rep["mismatches"], "zone_hosts": len(hosts),
            "by_ruleset": rep["decided_by"]["ruleset"], "by_routing": rep["decided_by"]["routing"]}


def verify_compliance(run: LabRun, lab: tuple[LabPlan, dict[str, str]], out_dir: Path, say: Say,
                      pairs: Sequence[Pair] = (), pause_s: float = 5.0) -> dict[str, Any]:
    """`jinbao check all --lab` (`--json --junit --html`) on the built lab: SNMPv3 checks of every agent (routers,
    firewalls and the servers' own snmpd as site.yml configured it), the configuration rules, the testinfra
    suites on every server (in parallel, as `check servers`) and, for the replication pairs the run built
    (`pairs`), `check dr`; every result mapped to its MLPS 2.0 level-3 control, in one report. A failing
    control fails the step, named with its node."""
    from checks.catalogue import default_catalogue
    from checks.collect import server_results
    from checks.report import to_json, to_junit, write_html
    from checks.run import config_results, confirmed_network_results
    from checks.snmp import poll
    from checks.targets import lab_network_of
    from jinbao.dr_audit import dr_pair_results
    from lab.servers import running_spec, write_inventory
    from network.render import render_device
    from network.secrets import LabTestSecrets

    net = lab_network_of(*lab, None)
    cat = default_catalogue()
    say(f"compliance: polling {len(net.expectations)} SNMP agents")
    results = confirmed_network_results(cat, net.expectations, lambda exps: poll(exps, net.credentials))
    secrets = LabTestSecrets()
    configs = {h: (i.role, i.platform, render_device(i, secrets)) for h, i in sorted(net.intents.items())}
    results += config_results(cat, configs)
    with tempfile.TemporaryDirectory(prefix="jinbao-run-check-") as tmp:
        inventory = write_inventory(running_spec(run.name), Path(tmp) / "inventory")
        say("compliance: testinfra on the servers")
        results += server_results(inventory, LAB_VAULT_PASSWORD, progress=lambda m: say(f"compliance: {m}"), cat=cat)
        if pairs:
            say(f"compliance: {len(pairs)} replication pairs")
            dr = dr_pair_results(list(pairs), inventory, LAB_VAULT_PASSWORD, run.name, cat=cat)
            if any(r.status != "pass" for r in dr):  # as the SNMP re-poll: a pair's state just after its
                time.sleep(pause_s)  # build (the archiver's first segment) is judged on a second look
                dr = dr_pair_results(list(pairs), inventory, LAB_VAULT_PASSWORD, run.name, cat=cat)
            results += dr
    kinds = ("snmp", "config", "testinfra", "dr")
    title = f"jinbao compliance report — network/config/servers/dr — {net.where}"
    write_html(out_dir / "compliance.html", results, cat, title)
    _write_json(out_dir / "compliance.json", to_json(results))
    atomic_write_text(out_dir / "compliance.junit.xml", to_junit(results))
    counts = {s: sum(r.status == s for r in results) for s in ("pass", "fail", "error")}
    score = round(100 * counts["pass"] / len(results), 1) if results else 0.0
    if not results or counts["fail"] or counts["error"]:
        r = next((x for x in results if x.status != "pass"), None)
        first = f"{r.node} {r.control}: {r.status}: {r.evidence}" if r else "no results"
        raise JinbaoError(f"{first} ({counts['fail']} fail, {counts['error']} error of {len(results)};"
                          " out/compliance.html)")
    return {"results": len(results), **counts, "score_pct": score,
            **{f"{k}_results": sum(r.kind == k for r in results) for k in kinds},
            "servers": len({r.node for r in results if r.kind == "testinfra"})}


# --- the ferry -------------------------------------------------------------------------------------------------

PENSION_METRICS = ("contributors", "retirees", "contributions_cny", "payouts_cny", "fund_balance_cny",
                   "avg_pension_cny", "dependency_ratio", "arrears_cny")


def pension_upload(dest: Path, day: str, regions: list[str], rows_per_region: int = 96) -> list[Path]:
    """A day's pension macro-analysis upload from the exchange zone: per region (city) and quarter-hour, the
    fund's aggregate figures (deterministic synthetic values: no personal data ever crosses the ferry)."""
    import random

    rng = random.Random(day)
    dest.mkdir(parents=True, exist_ok=True)
    header = "date,slot,region," + ",".join(PENSION_METRICS) + "\n"
    files = []
    for part in range(4):
        lines = [header]
        for region in regions[part::4]:
            for slot in range(rows_per_region):
                vals = [rng.randint(10_000, 9_000_000), rng.randint(1_000, 3_000_000),
                        rng.randint(10**6, 10**10), rng.randint(10**6, 10**10), rng.randint(10**8, 10**12),
                        rng.randint(1_500, 9_000), round(rng.uniform(0.2, 0.9), 4), rng.randint(0, 10**7)]
                lines.append(f"{day},{slot:02d},{region}," + ",".join(map(str, vals)) + "\n")
        path = dest / f"pension-macro-{day}-part{part}.csv"
        path.write_text("".join(lines), encoding="utf-8")
        files.append(path)
    return files


# the ministry's decision zone: where the nation's pension macro-analysis is analysed (jb_decision, servers step)
DECISION_SERVER = "JB-100000-DC-DS01"


def _load_decision(run: LabRun, work: Path, inbox: Path, rstate: Path, batch: str) -> dict[str, Any]:
    """`jinbao ferry load` into the decision database the servers step built on the lab's decision server: the
    tables by the DBA's one-time step (`jinbao ferry schema`, psql as postgres on the server), then the loader as
    `dss_etl` over verified TLS, its password from the vault in a passfile; then the decision side's question."""
    import psycopg
    import yaml

    from dr.access import VAULT_FILE, addresses, ca_file
    from lab import runtime
    from lab.servers import running_spec, write_inventory
    from lab.slice import node_name
    from network.ferry.load import DECISION_DB, LOADER_ROLE, PENSION_MACRO, decision_dsn, region_totals, schema_sql

    ddl = runtime.exec(run.name, node_name(DECISION_SERVER), ["runuser", "-u", "postgres", "--", "psql", "-q", "-v",
                                                              "ON_ERROR_STOP=1", "-d", DECISION_DB],
                       input=schema_sql(), timeout=60)
    if ddl.returncode != 0:
        raise JinbaoError(f"{DECISION_SERVER}: jinbao ferry schema | psql: {ddl.stderr.strip()[-300:]}")
    addr = addresses(write_inventory(running_spec(run.name), work / "inventory"), LAB_VAULT_PASSWORD)
    vault = subprocess.run([str(Path(sys.executable).parent / "ansible-vault"), "view", "--vault-password-file",
                            str(LAB_VAULT_PASSWORD), str(VAULT_FILE)], capture_output=True, text=True, timeout=60)
    password = ((yaml.safe_load(vault.stdout) or {}).get("vault_pg_passwords") or {}).get(LOADER_ROLE) \
        if vault.returncode == 0 else None
    if not password or DECISION_SERVER not in addr:
        raise JinbaoError(f"no {LOADER_ROLE} password in the vault or no {DECISION_SERVER} in the lab's inventory",
                          file=str(VAULT_FILE))
    passfile = work / "pgpass"  # libpq's passfile: the password is never on a command line or in the report
    esc = str(password).replace("\\", "\\\\").replace(":", "\\:")
    passfile.write_text(f"*:5432:{DECISION_DB}:{LOADER_ROLE}:{esc}\n")
    passfile.chmod(0o600)
    dsn = decision_dsn(addr[DECISION_SERVER], ca=ca_file(run.name))
    env = {**os.environ, "PGPASSFILE": str(passfile)}
    ld = subprocess.run([sys.executable, "-m", "jinbao.cli", "ferry", "load", "--inbox", str(inbox), "--state",
                         str(rstate), "--dsn", dsn, "--json", batch], capture_output=True, text=True, cwd=_ROOT,
                        env=env, timeout=600)
    if ld.returncode != 0:
        raise JinbaoError(f"ferry load: {(ld.stderr.strip().splitlines() or [str(ld.returncode)])[-1]}")
    [res] = json.loads(ld.stdout)["batches"]
    with psycopg.connect(dsn, passfile=str(passfile), connect_timeout=10) as conn:
        totals = region_totals(conn, batch)
        in_db = conn.execute(f"SELECT count(*) FROM {PENSION_MACRO.qualified} WHERE batch_id = %s",
                             [batch]).fetchone()[0]
    # a lab kept from an earlier run (KEEP_LAB=1) may hold the batch already: "already-loaded", not loaded twice
    return {"server": DECISION_SERVER, "address": addr[DECISION_SERVER], "database": DECISION_DB,
            "role": LOADER_ROLE, "table": PENSION_MACRO.qualified, "status": res["status"], "rows": int(in_db),
            "seconds": res["seconds"],
            "query": {"what": "contributors per region, summed over the day's slots", "regions": len(totals),
                      "contributors": sum(totals.values()), "per_region": totals}}


def ferry(ws: Workspace, run: LabRun, out_dir: Path, say: Say, day: str = "2026-12-01") -> dict[str, Any]:
    """`jinbao ferry stage|send|receive` across a real one-way link (lab/ferry_link.py): the exchange zone's
    outbox -> UDP with FEC -> the decision zone's inbox, checked byte for byte. The two ends are separate
    processes in their own network namespaces (as on their two hosts), started as the ferry's CLI. Then
    `jinbao ferry load` puts the batch into the decision database of the lab's decision server."""
    from lab.ferry_link import RX_ADDR, OneWayLink
    from network.ferry.outbox import stage_paths

    regions = sorted({s.city for s in ws.source.inventory.sites if getattr(s, "city", None)})
    link = OneWayLink(run.name[:6].lower())
    work = Path(tempfile.mkdtemp(prefix="jinbao-ferry-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        link.up()
        files = pension_upload(work / "upload", day, regions)
        size = sum(f.stat().st_size for f in files)
        outbox, inbox = work / "exchange" / "outbox", work / "decision" / "inbox"
        outbox.mkdir(parents=True)
        batch = f"pension-macro-{day}"
        stage_paths(outbox, batch, files, "jinbao run")
        cli = [sys.executable, "-m", "jinbao.cli", "ferry"]
        rstate = work / "decision" / "state"
        with open(work / "receiver.log", "wb") as rlog:
            rx = subprocess.Popen([*link.ns("rx"), *cli, "receive", "--listen", f"{RX_ADDR}:9400", "--inbox",
                                   str(inbox), "--quarantine", str(work / "decision" / "quarantine"), "--state",
                                   str(rstate)], stdout=rlog, stderr=subprocess.STDOUT, cwd=_ROOT)
        procs.append(rx)
        wait_until(lambda: (rstate / "receiver-status.json").exists() or rx.poll() is not None, 30, 0.1)
        if rx.poll() is not None:
            raise JinbaoError(f"ferry receiver exited: {(work / 'receiver.log').read_text()[-300:]}")
        say(f"ferry: sending {size} bytes")
        t0 = time.perf_counter()
        tx = subprocess.run([*link.ns("tx"), *cli, "send", "--outbox", str(outbox), "--to", f"{RX_ADDR}:9400",
                             "--state", str(work / "exchange" / "state"), "--round-gap", "0.2", "--json"],
                            capture_output=True, text=True, cwd=_ROOT, timeout=600)
        if tx.returncode != 0:
            raise JinbaoError(f"ferry send failed: {tx.stderr.strip().splitlines()[-1:] or tx.returncode}")
        delivered = inbox / batch
        wait_until(lambda: delivered.is_dir(), 60, 0.1)
        seconds = time.perf_counter() - t0
        if not delivered.is_dir():
            raise JinbaoError(f"batch {batch} not delivered ({(work / 'receiver.log').read_text()[-300:]})")
        same = all(hashlib.sha256(f.read_bytes()).digest() == hashlib.sha256((delivered / f.name).read_bytes()
                                                                                ).digest() for f in files)
        if not same:
            raise JinbaoError(f"batch {batch}: delivered files differ from the ones staged")
        sent = json.loads(tx.stdout)
        say(f"ferry: loading {batch} into {DECISION_SERVER}")
        db = _load_decision(run, work, inbox, rstate, batch)
        rows = sum(len(f.read_text(encoding="utf-8").splitlines()) - 1 for f in files)
        if db["rows"] != rows:
            raise JinbaoError(f"batch {batch}: {db['status']}, {db['rows']} rows in {db['table']}, the upload has "
                              f"{rows}")
    finally:
        for p in procs:  # the receiver this step started, by its PID
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        link.down()
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    mbit = round(size * 8 / seconds / 1e6, 1)
    report = {"batch": batch, "files": [f.name for f in files], "bytes": size, "seconds": round(seconds, 3),
              "throughput_mbit_s": mbit, "sender": sent, "verified": "sha256 of every file",
              "measured": "from starting the sender process to the verified batch in the inbox (every round, FEC)",
              "decision_db": db}
    _write_json(out_dir / "ferry.json", report)
    return {"batch": batch, "bytes": size, "transfer_s": round(seconds, 2), "throughput_mbit_s": mbit,
            "rows_loaded": db["rows"], "regions": db["query"]["regions"]}


_ROOT = Path(__file__).resolve().parent.parent


