"""Issue 13 item 5 in the lab: `jinbao dr drill` moves a database's service address with the database.

On the session's deployed `minimal` slice (lab `jbck`, tests/conftest.py `minimal_lab`: real FRR routers, every
firewall enforcing its zone ruleset), Shanxi's provincial database (140000-DC) and its replica at the national
DR centre (100000-DR) are built for real (`playbooks/databases.yml`, then `playbooks/dr/replication.yml`: the
postgresql and pg_replica roles, so both servers hold the service address and the DR server redirects it to
its standby's port). A switchover drill, with the witness writing through the service address from Shanxi's
exchange zone, withdraws the address at Shanxi before the promotion and announces it at the DR centre after it
(the ministry's router sees it from Shanxi's AS, then from the DR centre's), and records where the database
runs in a copy of the inventory; the failback brings everything back and removes the record. Then a failover
(production's PostgreSQL killed hard) moves the address to the DR centre the same way, the withdrawal only once
the kill has run; the teardown puts the address back at Shanxi (no second failback: the suite's time).

Left as found for the slice's later users: the address announced by Shanxi alone, PostgreSQL stopped on both
servers (the zone policy's probes listen on port 5432 there), the service interface and redirect removed, the
record only ever in a temporary copy of the inventory.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab import runtime
from lab.slice import LabPlan, node_name
from tests.conftest import INVENTORY, MINIMAL_LAB, ROOT, copy_inventory
from tests.lab_e2e.conftest import wait_for

LAB = MINIMAL_LAB
SITE, DR_SITE = "140000-DC", "100000-DR"
MINISTRY = "JB-100000-DC-WR01"

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (namespaces, mounts)")]


def jinbao(*args: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jinbao.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout)


def sh(host: str, *argv: str, timeout: float = 60, check: bool = True) -> Any:
    r = runtime.exec(LAB, node_name(host), list(argv), timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"{host}: {' '.join(argv)} -> {r.returncode}: {r.stderr or r.stdout}")
    return r


def origins(prefix: str) -> set[str]:
    """The origin ASNs of the ministry's paths to `prefix` (empty: nobody announces it)."""
    afi = "ipv6" if ":" in prefix else "ipv4"
    data = json.loads(sh(MINISTRY, "vtysh", "-c", f"show bgp {afi} unicast {prefix} json").stdout or "{}")
    return {p["aspath"]["string"].split()[-1] for p in data.get("paths", []) if p.get("aspath", {}).get("string")}


def static_origin(host: str, prefix: str) -> bool:
    """The router has the static route that lets it originate `prefix` (the gate, network/plan.py)."""
    data = json.loads(sh(host, "vtysh", "-c", f"show ip route {prefix} json").stdout or "{}")
    return any(r.get("protocol") == "static" for rs in data.values() for r in rs)


def failed_steps(rep: dict[str, Any]) -> list[str]:
    return [f"{s['name']}: {s['detail'][:300]}" for s in rep["steps"] if s["ok"] is False]


def step_index(rep: dict[str, Any], prefix: str) -> int:
    return next(i for i, s in enumerate(rep["steps"]) if s["name"].startswith(prefix))


@pytest.fixture(scope="module")
def pair_lab(minimal_lab: LabPlan, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The pair's two database servers built on the shared slice; everything they got removed afterwards."""
    from core.playbooks import LAB_VAULT_PASSWORD
    from dr.sources import plan_pairs
    from jinbao import provision
    from lab.servers import running_spec, write_inventory

    work = tmp_path_factory.mktemp("svcdrill")
    inventory_copy = copy_inventory(work / "inventory")  # the drill's record goes here, never into the repo
    [pair] = [p for p in plan_pairs(INVENTORY) if p.primary_site == SITE]
    assert pair.replica_site == DR_SITE and pair.service_v4, pair
    # built asynchronous, as the DR lab builds its pair (the DR lab builds the synchronous one, test_dr_lab.py)
    pair = dataclasses.replace(pair, mode="async")
    plan = work / "plan.json"
    plan.write_text(json.dumps({"pairs": [pair.as_dict()]}))
    r = jinbao("dr", "vars", "--lab", LAB, "--plan", str(plan), "--out", str(work / "dr.json"))
    assert r.returncode == 0, r.stderr[-2000:]
    variables = json.loads((work / "dr.json").read_text())
    ansible_inv = write_inventory(running_spec(LAB), work / "ansible")
    hosts = (pair.primary, pair.replica)
    lp = minimal_lab
    asn = {s: str(lp.plan.inv.asn(lp.plan.inv.site(s))) for s in (SITE, DR_SITE)}
    try:
        # `jinbao servers build --playbook databases` and `jinbao dr build`, limited to the pair's two servers:
        # the slice's other database servers (exchange, decision zones) stay bare, as its later users expect
        t0 = time.monotonic()
        for name in ("databases", "dr-replication"):
            res = provision.run_playbook(name, ansible_inv, limit=":".join(hosts), extra_vars=variables,
                                         vault_password_file=LAB_VAULT_PASSWORD)
            assert res.ok, (name, res.to_dict())
        print(f"{pair.primary} -> {pair.replica} built in {time.monotonic() - t0:.0f} s")

        def status() -> dict[str, Any]:
            r = jinbao("dr", "status", "--lab", LAB, "--plan", str(plan), "--json", timeout=120)
            return json.loads(r.stdout or '{"pairs": [{}]}')["pairs"][0]

        wait_for(lambda: status().get("state") == "streaming", 120, 2, "the pair streaming after the build")
        for pfx in (pair.service_v4, pair.service_v6):
            wait_for(lambda p=pfx: origins(p) == {asn[SITE]}, 60, what=f"{pfx} announced by {SITE} alone")
        yield {"work": work, "plan": plan, "inventory": inventory_copy, "pair": pair, "asn": asn, "lab": lp,
               "status": status}
    finally:
        _restore(lp, pair, work)


def _restore(lp: LabPlan, pair: Any, work: Path) -> None:
    """The slice as the other tests expect it, whatever the test left."""
    from dr.announce import with_active
    from dr.network import lab_network

    empty = work / "no-record"
    empty.mkdir(exist_ok=True)
    net = lab_network(LAB, empty, SITE)
    assert net is not None
    ok, detail = net.push(with_active(net.plan, SITE, SITE), (SITE, DR_SITE), None, "test restore")
    for host in (pair.primary, pair.replica):
        # every cluster the build made there (both servers run their own production cluster `main`; the DR
        # centre's also the pair's standby)
        sh(host, "sh", "-c", "pg_lsclusters -h | while read v c rest; do pg_ctlcluster \"$v\" \"$c\" stop -m fast;"
                             " done; true", check=False, timeout=180)
        sh(host, "sh", "-c", "nft delete table inet jinbao_service 2>/dev/null; ip link del jbsvc0 2>/dev/null; "
                             "rm -f /etc/nftables.d/jinbao-service.nft /etc/network/interfaces.d/jinbao-service")
    for host in (pair.primary, pair.replica):
        # the node's own /proc (a PID namespace of its own): no process named postgres left
        left = sh(host, "sh", "-c", "cat /proc/[0-9]*/comm 2>/dev/null | grep -x postgres || true").stdout.strip()
        assert not left, f"{host}: PostgreSQL still running: {left}"
        assert sh(host, "ip", "link", "show", "jbsvc0", check=False).returncode != 0
        assert sh(host, "nft", "list", "table", "inet", "jinbao_service", check=False).returncode != 0
    assert ok, detail
    assert not (INVENTORY / "dr-active.yaml").exists()  # the repo's inventory was never written


def timeline(rep: dict[str, Any]) -> str:
    """The report's steps in seconds from the old primary's last acknowledged write (where the RTO goes)."""
    t0 = (rep.get("figures") or {}).get("last_ack_old") or rep["steps"][0]["started"]
    return "\n".join(f"{s['started'] - t0:7.2f} {(s['ended'] or s['started']) - s['started']:6.2f} "
                     f"{'ok' if s['ok'] else 'FAILED'} {s['name'][:80]}"
                     + (f" | {s['detail'][:300]}" if s["name"].startswith("service address") else "")
                     for s in rep["steps"])


def drill(lab: dict[str, Any], mode: str) -> tuple[int, dict[str, Any]]:
    r = jinbao("--inventory", str(lab["inventory"]), "dr", "drill", "--lab", LAB, "--plan", str(lab["plan"]),
               "--site", SITE, "--mode", mode, "--json", "--out", str(lab["work"] / "reports"))
    try:
        return r.returncode, json.loads(r.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"no JSON from dr drill (rc {r.returncode}): {r.stderr[-4000:]}") from None


def test_switchover_moves_the_service_address_with_the_database_and_the_failback_brings_it_back(
        pair_lab: dict[str, Any]) -> None:
    pair, asn, lp = pair_lab["pair"], pair_lab["asn"], pair_lab["lab"]
    record = pair_lab["inventory"] / "dr-active.yaml"
    shanxi_wrs = [d.hostname for d in lp.plan.devices(SITE) if d.role == "WR"]

    rc, rep = drill(pair_lab, "switchover")
    print("switchover:", rep["outcome"], rep["reason"], rep["figures"], rep["service_address"])
    assert failed_steps(rep) == [] and rep["figures"], (rep["outcome"], rep["reason"], failed_steps(rep))
    f = rep["figures"]
    assert f["rpo_commits"] == 0 and f["acks_old"] > 0 and f["acks_new"] >= 5, f  # every acknowledged write kept
    assert f["rto_s"] < 120, f  # a hang, not a figure: the RTO now includes both deploys and BGP convergence
    # over its target the RTO is said honestly (outcome failed, exit 1), and is then the only thing it fails on
    assert rep["outcome"] == "passed" or rep["reason"].startswith("RTO"), (rep["outcome"], rep["reason"])
    assert rc == (0 if rep["outcome"] == "passed" else 1)
    # the witness wrote through the service address from Shanxi's exchange zone (the control node has no route
    # to it: only the management network), from the old primary to the new one
    assert "JB-140000-DC-EX01" in rep["service_address"], rep["service_address"]
    # the phases around the promotion, each a step on the report's timeline
    withdraw = step_index(rep, f"service address: withdraw at {SITE}")
    announce = step_index(rep, f"service address: announce at {DR_SITE}")
    promote = step_index(rep, "Promote")
    assert withdraw < promote < step_index(rep, "record: ") < announce, [s["name"] for s in rep["steps"]]
    # never announced by two sites: the withdrawal's deploy came back committed before the announcement began
    assert rep["steps"][withdraw]["ended"] <= rep["steps"][announce]["started"], timeline(rep)
    print(timeline(rep))
    assert yaml.safe_load(record.read_text()) == {"version": 1, "active": {SITE: DR_SITE}}
    # the DR centre announces it, alone; Shanxi's routers have no route to originate it from
    for pfx in (pair.service_v4, pair.service_v6):
        assert wait_for(lambda p=pfx: origins(p) == {asn[DR_SITE]}, 60, what=f"{pfx} from {DR_SITE} alone")
    assert not any(static_origin(wr, pair.service_v4) for wr in shanxi_wrs)
    assert pair_lab["status"]().get("active") == "replica"

    # the old primary follows the new one before the failback rebuilds it
    wait_for(lambda: pair_lab["status"]().get("state") == "streaming", 120, 2, "streaming from the DR centre")
    rc, rep = drill(pair_lab, "failback")
    print("failback:", rep["outcome"], rep["reason"], rep["figures"], rep["service_address"])
    assert failed_steps(rep) == [] and rep["figures"], (rep["outcome"], rep["reason"], failed_steps(rep))
    assert rc == (0 if rep["outcome"] == "passed" else 1) and (rep["outcome"] == "passed" or
                                                               rep["reason"].startswith("RTO")), rep["reason"]
    assert rep["figures"]["rpo_commits"] == 0, rep["figures"]
    withdraw, announce = (step_index(rep, f"service address: withdraw at {DR_SITE}"),
                          step_index(rep, f"service address: announce at {SITE}"))
    assert withdraw < announce and rep["steps"][withdraw]["ended"] <= rep["steps"][announce]["started"], timeline(rep)
    print(timeline(rep))
    assert not record.exists()  # back at its primary: no record at all
    for pfx in (pair.service_v4, pair.service_v6):
        assert wait_for(lambda p=pfx: origins(p) == {asn[SITE]}, 60, what=f"{pfx} from {SITE} alone again")
    assert any(static_origin(wr, pair.service_v4) for wr in shanxi_wrs)
    wait_for(lambda: (s := pair_lab["status"]()).get("state") == "streaming" and s.get("active") == "primary",
             120, 2, "production the primary again, its standby streaming")


def via_service_address(lab: dict[str, Any], sql: str) -> tuple[Any, ...]:
    """One row of `sql` as a client in Shanxi's exchange zone gets it on the pair's service address (the path
    the witness takes: its thread enters that server's network namespace)."""
    import psycopg

    from core.playbooks import LAB_VAULT_PASSWORD
    from dr.access import PairAccess, ca_file, drill_password
    from dr.writer import CONNECT_OPTS, in_netns
    from lab import names

    lp = lab["lab"]
    netns = f"/run/netns/{names.node_netns(LAB, lp.node('JB-140000-DC-EX01'))}"
    dsn = PairAccess(lab["pair"], "", "", drill_password(LAB_VAULT_PASSWORD), ca_file(LAB), routed=True).service_dsn()

    def query() -> tuple[Any, ...]:
        with psycopg.connect(dsn, autocommit=True, **CONNECT_OPTS) as conn:  # type: ignore[arg-type]
            row = conn.execute(sql).fetchone()
            assert row is not None
            return tuple(row)

    return in_netns(netns, query)


def test_failover_moves_the_service_address_to_the_surviving_site(pair_lab: dict[str, Any]) -> None:
    """Unplanned: production's PostgreSQL killed hard, the DR centre's standby promoted, the old primary fenced;
    the address withdrawn at Shanxi once the kill has run (not before: the loss must show), announced at the DR
    centre once the standby takes writes. Runs after the switchover and failback above (the pair back at
    production, streaming); the module's teardown puts the address back at Shanxi and stops both servers."""
    pair, asn, lp = pair_lab["pair"], pair_lab["asn"], pair_lab["lab"]
    shanxi_wrs = [d.hostname for d in lp.plan.devices(SITE) if d.role == "WR"]
    st = pair_lab["status"]()
    assert st.get("state") == "streaming" and st.get("active") == "primary", f"not where the failover starts: {st}"
    # the client reaches production on the service address before the disaster
    assert via_service_address(pair_lab, "SELECT current_setting('cluster_name'), pg_is_in_recovery()") == (
        "15/main", False)

    rc, rep = drill(pair_lab, "failover")
    print("failover:", rep["outcome"], rep["reason"], rep["figures"], rep["service_address"])
    print(timeline(rep))
    assert failed_steps(rep) == [] and rep["figures"], (rep["outcome"], rep["reason"], failed_steps(rep))
    f = rep["figures"]
    assert f["acks_old"] > 0 and f["acks_new"] >= 5, f
    assert f["rto_s"] < 120, f  # a hang, not a figure
    # asynchronous: the report counts what was lost (no RPO target); over its RTO target the run says so
    assert rep["outcome"] == "passed" or rep["reason"].startswith("RTO"), (rep["outcome"], rep["reason"])
    assert rc == (0 if rep["outcome"] == "passed" else 1)
    # RTO and RPO recorded in the drill report written to disk, JSON and HTML
    saved = json.loads(Path(rep["report_json"]).read_text())
    assert saved["kind"] == "failover" and saved["figures"]["rto_s"] == f["rto_s"] > 0, saved["figures"]
    assert saved["figures"]["rpo_commits"] == f["rpo_commits"] >= 0 and saved["figures"]["rpo_s"] >= 0, saved
    assert saved["figures"]["rpo_commits"] == len(saved["figures"]["lost"]), saved["figures"]
    html = Path(rep["report_html"]).read_text()
    assert "RTO" in html and "RPO" in html
    # the kill, then the withdrawal (begun once the kill had run), the promotion behind the gate, the record and
    # the announcement; the withdrawal's deploy came back committed before the announcement's began
    kill = step_index(rep, "Kill the primary hard")
    withdraw = step_index(rep, f"service address: withdraw at {SITE}")
    gate = step_index(rep, "The service address is withdrawn at the old site")
    promoted = step_index(rep, "It accepts writes")
    announce = step_index(rep, f"service address: announce at {DR_SITE}")
    assert kill < withdraw < gate < promoted < step_index(rep, "record: ") < announce, [s["name"] for s in rep["steps"]]
    assert rep["steps"][withdraw]["started"] >= rep["steps"][kill]["started"], timeline(rep)
    assert rep["steps"][withdraw]["ended"] <= rep["steps"][announce]["started"], timeline(rep)
    assert yaml.safe_load((pair_lab["inventory"] / "dr-active.yaml").read_text()) == {
        "version": 1, "active": {SITE: DR_SITE}}
    # the old site no longer announces: the ministry sees the address from the DR centre's AS alone, and
    # Shanxi's WAN routers have no route to originate it from
    for pfx in (pair.service_v4, pair.service_v6):
        assert wait_for(lambda p=pfx: origins(p) == {asn[DR_SITE]}, 60, what=f"{pfx} from {DR_SITE} alone")
    assert not any(static_origin(wr, pair.service_v4) for wr in shanxi_wrs)
    # a client's connection on the same address reaches the new primary, which takes writes
    name, in_recovery = via_service_address(pair_lab, "SELECT current_setting('cluster_name'), pg_is_in_recovery()")
    assert (name, in_recovery) == (f"15/{pair.slot}", False)
    # a transaction id is assigned only where writes are accepted (a standby refuses: read-only transaction)
    assert via_service_address(pair_lab, "SELECT txid_current() > 0") == (True,)
    # the old primary is fenced: it can never take writes again, even when started
    sh(pair.primary, "ls", "/var/lib/postgresql/15/main/standby.signal", "/var/lib/postgresql/15/main/jinbao.fenced")
    assert pair_lab["status"]().get("active") == "replica"
