"""The drill moving the service address (docs/dr.md), without a lab: which phase runs where in each drill kind,
what a stopped run does with the address, the state record written and removed, the client path, and the
variables the servers get (certificate names, database clients by the service address).

The drill runs here with its I/O edges replaced (the playbooks, the pair's state, the witness, the deploys):
what is checked is the order of the steps and what is asked of the network and the record."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from core.poll import wait_until
from dr import drill as drill_mod
from dr.access import PairAccess
from dr.announce import NOWHERE, with_active
from dr.ansible_vars import dr_vars
from dr.drill import (
    PLAYBOOKS,
    PROMOTED_TASK,
    PROMOTES,
    START_PLAYS,
    START_TASKS,
    DrillSettings,
    announce_after_stop,
    move_sites,
    promoted,
    run_drill,
)
from dr.measure import Ack
from dr.network import ServiceNetwork, active_in, active_site
from dr.plan import Pair
from dr.status import PairStatus
from inventory.drpolicy import ACTIVE_FILE, active_entries, load_active, record_active

ROOT = Path(__file__).resolve().parents[2]
PAIR = Pair("JB-140000-DC-DB01", "JB-100000-DR-DB01", "sync", "140000-DC", "100000-DR", "jb_140000_dc_db01",
            "100.112.3.86/32", "fd4a:7000::10:b00/128")
ACC = PairAccess(PAIR, "10.0.0.1", "10.0.0.2", "pw", "/ca.crt")


def status(active: str | None, state: str = "streaming") -> PairStatus:
    return PairStatus(PAIR.primary, PAIR.replica, PAIR.mode, state, None, 0, 0.0, None, active)


# -- pure: phases per drill kind, what a stopped run announces -----------------------------------------------

def test_the_withdrawal_precedes_the_playbook_that_promotes() -> None:
    promoting = {k: PLAYBOOKS[k][PROMOTES[k]][0] for k in PLAYBOOKS}
    assert promoting == {"switchover": "switchover.yml", "failover": "failover.yml", "failback": "switchover.yml"}
    assert PLAYBOOKS["failback"][0][0] == "rebuild.yml"  # clients do not wait for the rebuild
    assert move_sites("switchover", PAIR) == move_sites("failover", PAIR) == ("140000-DC", "100000-DR")
    assert move_sites("failback", PAIR) == ("100000-DR", "140000-DC")


@pytest.mark.parametrize(("kind", "st", "done", "where"), [
    ("switchover", status("primary"), False, "140000-DC"),  # stopped before the promotion: the old site again
    ("switchover", status("replica", "down"), True, "100000-DR"),  # promoted, the old primary not following yet
    ("failover", status("replica", "two-primaries"), True, "100000-DR"),  # promoted, the old one not fenced
    ("failback", status("primary", "down"), True, "140000-DC"),
    ("failback", status("replica"), False, "100000-DR"),
    ("switchover", status(None, "unreachable"), None, None),  # neither end answers: announced nowhere
])
def test_a_stopped_run_announces_where_the_database_accepts_writes(kind: str, st: PairStatus, done: bool | None,
                                                                   where: str | None) -> None:
    assert promoted(kind, st) is done
    assert announce_after_stop(kind, PAIR, st) == where


# -- the state record --------------------------------------------------------------------------------------------

def test_the_record_is_written_atomically_and_removed_on_the_way_back(tmp_path: Path) -> None:
    assert active_entries({"110000-DC": "100000-DR"}, "140000-DC", "100000-DR") == {
        "110000-DC": "100000-DR", "140000-DC": "100000-DR"}
    path = record_active(tmp_path, "140000-DC", "100000-DR")
    assert path == tmp_path / ACTIVE_FILE
    doc = yaml.safe_load(path.read_text())
    assert doc == {"version": 1, "active": {"140000-DC": "100000-DR"}}
    assert path.read_text().startswith("#")  # says what it is
    assert load_active(tmp_path)[0] == {"140000-DC": "100000-DR"}  # the workspace's reader accepts it
    record_active(tmp_path, "110000-DC", "100000-DR")
    record_active(tmp_path, "140000-DC", "140000-DC")  # a failback: its entry goes, the other stays
    assert load_active(tmp_path)[0] == {"110000-DC": "100000-DR"}
    record_active(tmp_path, "110000-DC", "110000-DC")
    assert not path.exists()  # nothing moved: no record at all (every database at its primary)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no temporary file left behind


# -- the client path ---------------------------------------------------------------------------------------------

def test_the_client_path_is_the_service_address_where_it_is_routed() -> None:
    multi = ACC.service_dsn()
    assert "host=10.0.0.1,10.0.0.2 port=5432," in multi and "target_session_attrs=read-write" in multi
    routed = dataclasses.replace(ACC, routed=True).service_dsn()
    assert "host=100.112.3.86 port=5432 " in routed and "," not in routed.split("password")[0]
    assert "sslmode=verify-full" in routed  # the certificate names the service address (below)
    unrouted = dataclasses.replace(ACC, routed=True, pair=dataclasses.replace(PAIR, service_v4="")).service_dsn()
    assert unrouted == dataclasses.replace(ACC, pair=dataclasses.replace(PAIR, service_v4="")).service_dsn()


# -- the drill with its edges replaced ----------------------------------------------------------------------------

class FakeNetwork:
    """Stands in for dr.network.ServiceNetwork: remembers each push (the plan's state, the sites, the hosts)."""

    def __init__(self, plan: Any, fail: set[str] | None = None) -> None:
        self.plan, self.pushes, self.fail = plan, [], fail or set()
        self.delay: dict[str, float] = {}  # seconds a push to that state takes
        self.times: list[tuple[str, float, float]] = []  # (state, started, ended) per push
        self.staged: list[Any] = []  # what the drill connected to and diffed before the witness started
        self.witness_netns, self.where, self.client, self.lab = None, "lab test", "the control node", None

    def move(self, state: Any, primary_site: str, to: str) -> Any:
        from dr.announce import plan_move

        return plan_move(state, primary_site, to, "frr")

    def prepare(self, state: Any, sites: tuple[str, ...], hosts: set[str] | None) -> Any:
        return (active_site(state, PAIR.primary_site) or "nowhere", sites, sorted(hosts or []))

    def push_targets(self, prepared: Any, message: str, progress: Any = None) -> tuple[bool, str]:
        start = time.monotonic()
        time.sleep(self.delay.get(prepared[0], 0.0))
        self.pushes.append(prepared)
        self.times.append((prepared[0], start, time.monotonic()))
        return (prepared[0] if prepared[0] != "nowhere" else NOWHERE) not in self.fail, "fake"

    def stage(self, prepared: Any, message: str, progress: Any = None, must_change: bool = False) -> Any:
        self.staged.append(prepared)
        self.must_change = [*getattr(self, "must_change", []), must_change]
        return prepared

    def push_staged(self, staged: Any, deadline: float | None = None) -> tuple[bool, str]:
        self.deadlines = [*getattr(self, "deadlines", []), (deadline or 0) - time.monotonic()]
        return self.push_targets(staged, "staged")

    def push(self, state: Any, sites: tuple[str, ...], hosts: set[str] | None, message: str,
             progress: Any = None) -> tuple[bool, str]:
        return self.push_targets(self.prepare(state, sites, hosts), message, progress)


class FakeWriter(threading.Thread):
    """Acknowledges on the old primary until the promotion, then on the new one."""

    server = "15/main"
    made: ClassVar[list[FakeWriter]] = []  # every witness a drill started, to see that it was stopped

    def __init__(self, dsn: str, netns: str | None = None, **_: Any) -> None:
        super().__init__(daemon=True)
        FakeWriter.made.append(self)
        self.acks: list[Ack] = []
        self.errors: list[Any] = []
        self._halt = threading.Event()

    def run(self) -> None:
        n = 0
        while not self._halt.is_set():
            n += 1
            self.acks.append(Ack(n, FakeWriter.server, time.time()))
            time.sleep(0.002)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def _plan() -> Any:
    """A small PlanInput with the pair's service address: the minimal lab slice's plan."""
    from lab.slice import build_lab

    return build_lab(ROOT / "inventory", "minimal", "jbunit", "100.126.223.0/24").plan


@pytest.fixture(scope="module")
def slice_plan() -> Any:
    return _plan()


def _drill(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, plan: Any, kind: str, ok: dict[str, bool] | None = None,
           after: PairStatus | None = None, fail: set[str] | None = None,
           explode: str | None = None, delay: dict[str, float] | None = None,
           early_promotion: bool = False, tail: Any = None, kill_event: str = "runner_on_ok",
           gate_timeout: int | None = None) -> tuple[Any, FakeNetwork, list[str]]:
    ok = ok or {}
    ran: list[str] = []
    before = status("replica" if kind == "failback" else "primary")

    def fake_playbook(name: str, extra: dict[str, Any], settings: Any, steps: Any) -> bool:
        ran.append(name)
        if name == explode:
            raise KeyboardInterrupt  # the operator's ^C in the middle of the playbook
        step = steps.report.begin(f"playbook {name}")
        good = ok.get(name, True)
        if PLAYBOOKS[kind][PROMOTES[kind]][0] == name:
            steps({"event": "playbook_on_play_start", "event_data": {"play": START_PLAYS[kind]}})
            if kind in START_TASKS:  # a failover: its kill ran (or failed)
                steps({"event": kill_event, "event_data": {"task": f"{START_TASKS[kind]} (SIGKILL)", "host": "p"}})
            # the playbooks' own variable (vars/ends.yml) decides, unless --gate-timeout said otherwise
            assert extra.get("dr_gate_timeout") == gate_timeout
            if "dr_gate" in extra and not early_promotion:  # the playbook's gate task, as tasks/gate.yml
                gate = Path(extra["dr_gate"])
                assert wait_until(lambda: gate.exists(), 10)
                good = good and gate.read_text().strip() == "withdrawn"
            if good:
                FakeWriter.server = "15/jb_140000_dc_db01"  # the promotion: writes go to the other end
                steps({"event": "runner_on_ok", "event_data": {"task": f"{PROMOTED_TASK} (polled)", "host": "x"}})
                if tail is not None:
                    tail(net)  # the rest of the playbook (re-pointing the old primary)
        steps.report.end(step, good)
        return good

    monkeypatch.setenv("JINBAO_DEPLOY_LOCK", str(tmp_path / "deploy.lock"))  # not the machine's
    FakeWriter.server = "15/main"
    FakeWriter.made.clear()
    states = iter([before, after or before])
    monkeypatch.setattr(drill_mod, "run_playbook", fake_playbook)
    monkeypatch.setattr(drill_mod, "current_status", lambda *a: next(states))
    monkeypatch.setattr(drill_mod.witness, "prepare", lambda dsn, netns=None: None)
    monkeypatch.setattr(drill_mod.witness, "Writer", FakeWriter)
    monkeypatch.setattr(drill_mod.witness, "survivors", lambda dsn, netns=None: set(range(1, 100000)))
    net = FakeNetwork(plan, fail)
    net.delay = delay or {}
    settings = DrillSettings(tmp_path, None, warmup_acks=3, settle_s=5, network=net,  # type: ignore[arg-type]
                             record_dir=tmp_path, gate_timeout=gate_timeout)
    report = run_drill(kind, dataclasses.replace(ACC, routed=True), {}, settings)
    names = [s.name for s in report.steps]
    return report, net, names


def test_switchover_withdraws_then_promotes_then_records_and_announces(monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path, slice_plan: Any) -> None:
    monkeypatch.setattr(drill_mod, "NETWORK_SETTLE_S", 5.0)
    report, net, names = _drill(monkeypatch, tmp_path, slice_plan, "switchover")
    assert names[:3] == ["pre-checks: replication state",
                         "service address: both phases rendered, validated, connected and diffed",
                         "witness: first acknowledged writes through the client path"]
    # inside the promoting playbook: withdrawn once its pre-checks passed, announced once the new primary took writes
    assert names[3:7] == ["playbook switchover.yml", "service address: withdraw at 140000-DC",
                          "record: 140000-DC's database runs at 100000-DR (dr-active.yaml)",
                          "service address: announce at 100000-DR"], names
    # the withdrawal reaches Shanxi's WAN routers and firewall only, the announcement the DR centre's only
    (w_at, w_sites, w_hosts), (a_at, a_sites, a_hosts) = net.pushes
    assert (w_at, w_sites, a_at, a_sites) == ("nowhere", ("140000-DC",), "100000-DR", ("100000-DR",))
    assert net.staged == net.pushes  # both phases were connected and diffed before the witness started
    assert net.must_change == [False, True]  # the announcement's devices must all change (not yet announcing)
    assert w_hosts and all(h.startswith("JB-140000-DC-") and h[-4:-2] in ("WR", "FW") for h in w_hosts)
    assert a_hosts and all(h.startswith("JB-100000-DR-") and h[-4:-2] in ("WR", "FW") for h in a_hosts)
    assert load_active(tmp_path)[0] == {"140000-DC": "100000-DR"}
    assert report.outcome in ("passed", "failed") and not [s for s in report.steps if s.ok is False]
    assert report.figures is not None and report.figures.rpo_commits == 0
    assert "withdrawn at 140000-DC" in report.service_address and "announced at 100000-DR" in report.service_address
    assert json.loads(json.dumps(report.as_dict()))["service_address"] == report.service_address


def test_failback_withdraws_after_the_rebuild_and_removes_the_record(monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Path, slice_plan: Any) -> None:
    monkeypatch.setattr(drill_mod, "NETWORK_SETTLE_S", 5.0)
    record_active(tmp_path, "140000-DC", "100000-DR")  # where the switchover left it
    at_dr = active_in(slice_plan, load_active(tmp_path)[0])
    assert active_site(at_dr, "140000-DC") == "100000-DR"
    _, net, names = _drill(monkeypatch, tmp_path, at_dr, "failback")
    # rendered before the witness starts, connected and diffed after the rebuild (not idle across it)
    assert names[1] == "service address: both phases rendered and validated"
    assert names[3:9] == ["playbook rebuild.yml", "service address: both phases connected and diffed",
                          "playbook switchover.yml", "service address: withdraw at 100000-DR",
                          "record: 140000-DC's database runs at 140000-DC (dr-active.yaml)",
                          "service address: announce at 140000-DC"], names
    assert [p[:2] for p in net.pushes] == [("nowhere", ("100000-DR",)), ("140000-DC", ("140000-DC",))]
    assert not (tmp_path / ACTIVE_FILE).exists()


def test_a_run_stopped_before_the_promotion_announces_at_the_old_site_again(monkeypatch: pytest.MonkeyPatch,
                                                                            tmp_path: Path, slice_plan: Any) -> None:
    report, net, names = _drill(monkeypatch, tmp_path, slice_plan, "switchover", ok={"switchover.yml": False},
                                after=status("primary"))
    assert names[-2:] == ["service address: withdraw at 140000-DC", "service address: announce at 140000-DC again "
                                                                    "(nothing was promoted)"], names
    assert [p[:2] for p in net.pushes] == [("nowhere", ("140000-DC",)), ("140000-DC", ("140000-DC",))]
    assert report.outcome == "failed" and not (tmp_path / ACTIVE_FILE).exists()


def test_a_run_stopped_after_the_promotion_records_and_announces_at_the_new_site(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, slice_plan: Any) -> None:
    report, _, names = _drill(monkeypatch, tmp_path, slice_plan, "failover", ok={"failover.yml": False},
                                after=status("replica", "two-primaries"))
    assert names[-2:] == ["record: 140000-DC's database runs at 100000-DR (dr-active.yaml)",
                          "service address: announce at 100000-DR"], names
    assert report.outcome == "failed" and "--resume" in report.reason
    assert load_active(tmp_path)[0] == {"140000-DC": "100000-DR"}


def test_a_failed_withdrawal_switches_nothing_and_announces_at_the_old_site(monkeypatch: pytest.MonkeyPatch,
                                                                            tmp_path: Path, slice_plan: Any) -> None:
    report, _, names = _drill(monkeypatch, tmp_path, slice_plan, "switchover", fail={NOWHERE})
    assert FakeWriter.server == "15/main" and not (tmp_path / ACTIVE_FILE).exists()  # the gate held the promotion
    assert names[-1] == "service address: announce at 140000-DC again", names
    assert report.outcome == "failed" and "withdrawing" in report.reason


def test_without_a_network_the_drill_runs_as_before_and_says_so(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path, slice_plan: Any) -> None:
    monkeypatch.setattr(drill_mod, "run_playbook", lambda *a: True)
    monkeypatch.setattr(drill_mod, "current_status", lambda *a: status("primary"))
    monkeypatch.setattr(drill_mod.witness, "prepare", lambda dsn, netns=None: None)
    seen: list[str] = []

    class Writer(FakeWriter):
        def __init__(self, dsn: str, netns: str | None = None, **kw: Any) -> None:
            seen.append(dsn)
            super().__init__(dsn)

    monkeypatch.setattr(drill_mod.witness, "Writer", Writer)
    monkeypatch.setattr(drill_mod.witness, "survivors", lambda dsn, netns=None: set())
    settings = DrillSettings(tmp_path, None, warmup_acks=3, settle_s=0.2, no_network="lab jbdr has no routers")
    report = run_drill("switchover", ACC, {}, settings)
    assert [s.name for s in report.steps][2:] == ["witness: writes acknowledged by the new primary"]
    assert "host=10.0.0.1,10.0.0.2" in seen[0]
    assert report.service_address.startswith("not moved (lab jbdr has no routers)")
    assert "dr-active.yaml not written" in report.service_address
    assert not (tmp_path / ACTIVE_FILE).exists()


def test_the_lab_plan_follows_the_record(slice_plan: Any) -> None:
    assert active_site(slice_plan, "140000-DC") == "140000-DC"
    moved = active_in(slice_plan, {"140000-DC": "100000-DR"})
    assert active_site(moved, "140000-DC") == "100000-DR"
    assert active_site(with_active(moved, "140000-DC", NOWHERE), "140000-DC") == NOWHERE
    assert isinstance(ServiceNetwork, type)


# -- the servers' variables -----------------------------------------------------------------------------------------

def test_both_ends_get_the_service_addresses_for_their_certificates() -> None:
    hosts = dr_vars([PAIR], {PAIR.primary: "10.0.0.1", PAIR.replica: "10.0.0.2"})["jb_dr_hosts"]
    for h in (PAIR.primary, PAIR.replica):
        assert hosts[h]["service_addresses"] == ["100.112.3.86/32", "fd4a:7000::10:b00/128"]
    bare = dataclasses.replace(PAIR, service_v4="", service_v6="")
    none = dr_vars([bare], {PAIR.primary: "1", PAIR.replica: "2"})["jb_dr_hosts"]
    assert none[PAIR.primary]["service_addresses"] == []


def test_database_clients_by_the_service_address_follow_the_zone_policy() -> None:
    """Shanxi's exchange zone reaches its production database by the service address (exchange-to-database),
    and the national DR centre's server after a move (exchange-to-database-dr): both admit its blocks."""

    from plugins.hostvars import load_view

    shanxi = load_view(ROOT / "inventory", scope="140000").hosts
    national = load_view(ROOT / "inventory", scope="100000").hosts
    ex_net = str(ipaddress.ip_interface(shanxi["JB-140000-DC-EX01"].vars["jinbao_zone_ipv4"]).network)
    assert ex_net in shanxi["JB-140000-DC-DB01"].vars["jinbao_db_client_nets"]
    dr = national["JB-100000-DR-DB01"].vars
    # at the DR centre, per pair: Shanxi's pair's standby alone, never the server's shared client list
    assert ex_net not in dr["jinbao_db_client_nets"]
    assert ex_net in dr["jinbao_db_pair_client_nets"]["140000-DC"]
    assert [s for s, nets in dr["jinbao_db_pair_client_nets"].items() if ex_net in nets] == ["140000-DC"]
    assert len(dr["jinbao_db_pair_client_nets"]) > 1  # every province it backs, each with its own clients
    # a neighbour's database is not reached by this site's clients (its own service address only)
    assert ex_net not in national["JB-100000-DC-DB01"].vars["jinbao_db_client_nets"]
    assert shanxi["JB-140000-DC-DB01"].vars["jinbao_db_pair_client_nets"] == {}


SITE_A, SITE_B = "140000-DC", "100000-DR"


@pytest.fixture(scope="module")
def replace_inv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The national inventory with the two sites' routers on Cisco IOS, a platform deployed by replace."""
    return _on_platform(tmp_path_factory.mktemp("replace"), "cisco_ios")


def _on_platform(tmp: Path, name: str) -> Path:
    """The national inventory with the two sites' routers on platform `name`."""
    from tests.conftest import copy_inventory

    inv = copy_inventory(tmp / "inventory")
    conf = inv / "jinbao.yaml"
    text = conf.read_text()
    old = "  sites: {}                     # e.g."
    assert old in text
    conf.write_text(text.replace(old, f'  sites: {{"{SITE_A}": {name}, "{SITE_B}": {name}}}  # e.g.'))
    return inv


@pytest.mark.parametrize("name", ["huawei_vrp", "h3c_comware", "cisco_ios"])
def test_the_withdrawal_removes_the_service_route_on_every_router_platform(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str) -> None:
    """The withdrawal's deploy, at the diff level, per router platform: what the device would be told against a
    running config that announces the address (the phase before's render). Merge platforms (VRP, Comware: a
    merge only adds lines, so this diffed as nothing and the old site kept announcing) undo the service
    address's routes and nothing else; Cisco's replace drops them from the config `configure replace` loads
    (the device sends the `no ip route` itself)."""
    from dr.announce import with_active
    from dr.network import real_network
    from network.deploy.platforms import StaticScope, VrpAdapter, config_lines, merge_diff
    from network.secrets import secret_source
    from tests.deploy.test_push_paths import FakeConn

    monkeypatch.setenv("JINBAO_SSH_USER", "jbops")
    monkeypatch.setenv("JINBAO_SSH_KEY", "/nonexistent/key")
    inv = ROOT / "inventory" if name == "huawei_vrp" else _on_platform(tmp_path, name)  # VRP: the default
    net = real_network(inv, SITE_A, SITE_B)  # no refusal: every router platform can withdraw
    # LAB-ONLY secrets to render with (no vault here), so the access is marked as the lab's
    fleet = net.fleet
    net = dataclasses.replace(net, fleet=dataclasses.replace(fleet, secrets=secret_source(True),
                                                             access=dataclasses.replace(fleet.access, lab=True)))
    move = net.move(net.plan, SITE_A, SITE_B)
    routers = {c.host for c in move.withdraw if "-WR" in c.host}
    assert routers
    before = {t.hostname: t for t in net.prepare(net.plan, (SITE_A,), routers)}
    after = {t.hostname: t for t in net.prepare(with_active(net.plan, SITE_A, NOWHERE), (SITE_A,), routers)}
    sv = move.service
    v4, v6 = ipaddress.ip_interface(sv.v4), ipaddress.ip_interface(sv.v6)
    for host in routers:
        assert before[host].platform == after[host].platform == name
        old, new = before[host].config_text, after[host].config_text
        if name == "cisco_ios":
            gone = [ln for ln in old.splitlines() if ln not in new.splitlines()]
            assert gone == [f"ip route {v4.ip} 255.255.255.255 {_next_hop(move, host, 4)} name {_token(move, host)}",
                            f"ipv6 route {sv.v6} {_next_hop(move, host, 6)} name {_token(move, host)}"], gone
            continue
        plen4 = "255.255.255.255" if name == "huawei_vrp" else "32"
        routes = [f"ip route-static {v4.ip} {plen4} {_next_hop(move, host, 4)}",
                  f"ipv6 route-static {v6.ip} 128 {_next_hop(move, host, 6)}"]
        # the address is the plan's (its site holds an end of the pair): the target says so, withdrawn or not
        scope = StaticScope.of(after[host])
        assert {str(v4.network), str(v6.network)} <= set(scope.prefixes) and not scope.prune
        diff = merge_diff(old, new, "#", scope).splitlines()
        assert [ln.split(" description ")[0] for ln in diff] == [f"- {r}" for r in routes], diff
        assert merge_diff(new, new, "#", scope) == ""  # once withdrawn, nothing more to do
        conn = FakeConn({"display current-configuration": [old]})
        adapter = VrpAdapter(conn, name, scope)  # the undo lines are the same on both vendors' adapters
        adapter.diff(new)
        # the merge's lines, then the undo (a moving route is never absent in between)
        assert adapter.change_lines(new) == [*config_lines(new, "#"), *(f"undo {r}" for r in routes)]


def _next_hop(move: Any, host: str, v: int) -> str:
    return next(c.route.next_hop for c in move.withdraw if c.host == host and (":" in c.route.prefix) == (v == 6))


def _token(move: Any, host: str) -> str:
    import re

    desc = next(c.route.description for c in move.withdraw if c.host == host)
    return re.sub(r"[^A-Za-z0-9_.-]", "_", desc)[:60]


def test_the_real_network_is_the_two_sites_wan_routers_and_firewalls(monkeypatch: pytest.MonkeyPatch,
                                                                     replace_inv: Path) -> None:
    from dr.announce import site_intents
    from dr.network import real_network

    monkeypatch.setenv("JINBAO_SSH_USER", "jbops")
    monkeypatch.setenv("JINBAO_SSH_KEY", "/nonexistent/key")
    net = real_network(replace_inv, SITE_A, SITE_B)
    assert net.platform is None and net.witness_netns is None and net.where == str(replace_inv)
    roles = {h[-4:-2] for h in net.fleet.hosts}
    assert roles == {"WR", "FW"} and {h.split("-")[1] + "-" + h.split("-")[2] for h in net.fleet.hosts} == {
        SITE_A, SITE_B}
    assert all(net.fleet.hosts.values())  # every one has a management address in the record
    # what a phase deploys there: each router on its own platform (a vendor's template), no lab platform
    planned = site_intents(net.plan, SITE_A, None)
    assert planned and set(planned) <= set(net.fleet.hosts)
    assert {i.platform for h, i in planned.items() if "-WR" in h} != {"frr"}



def test_a_drill_acts_on_one_network() -> None:
    from tests.conftest import jinbao

    r = jinbao("dr", "drill", "--site", SITE_A, "--mode", "switchover", "--lab", "jbnone", "--real-network")
    assert r.returncode != 0 and "--real-network and --lab" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_failed_announcement_after_the_promotion_says_how_to_finish(monkeypatch: pytest.MonkeyPatch,
                                                                      tmp_path: Path, slice_plan: Any) -> None:
    report, _, names = _drill(monkeypatch, tmp_path, slice_plan, "switchover", fail={"100000-DR"})
    assert names[-1] == "service address: announce at 100000-DR" and report.steps[-1].ok is False
    assert report.outcome == "failed" and "--resume" in report.reason
    assert load_active(tmp_path)[0] == {"140000-DC": "100000-DR"}  # the database did move


def _stopped() -> bool:
    """The drill's witness was stopped (its thread ended), not left writing into the database."""
    assert len(FakeWriter.made) == 1
    return not FakeWriter.made[0].is_alive()


@pytest.mark.parametrize(("ok", "fail", "after"), [
    ({}, {NOWHERE}, None),  # the withdrawal failed
    ({"switchover.yml": False}, set(), status("primary")),  # the promoting playbook failed
    ({}, {"100000-DR"}, None),  # the announcement after the promotion failed
])
def test_the_witness_is_stopped_on_every_failed_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                    slice_plan: Any, ok: dict[str, bool], fail: set[str],
                                                    after: PairStatus | None) -> None:
    report, _, _ = _drill(monkeypatch, tmp_path, slice_plan, "switchover", ok=ok, fail=fail, after=after)
    assert report.outcome == "failed"
    assert _stopped()


def test_the_witness_is_stopped_when_the_run_is_interrupted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                           slice_plan: Any) -> None:
    with pytest.raises(KeyboardInterrupt):
        _drill(monkeypatch, tmp_path, slice_plan, "switchover", explode="switchover.yml", after=status("primary"))
    assert _stopped()


def test_a_failed_withdrawal_whose_announcement_fails_too_is_reported_as_an_outage(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, slice_plan: Any) -> None:
    report, net, _ = _drill(monkeypatch, tmp_path, slice_plan, "switchover", fail={NOWHERE, SITE_A})
    assert [p[0] for p in net.pushes] == ["nowhere", SITE_A]
    assert "is announced at" not in report.reason
    assert "outage" in report.reason and f"`jinbao deploy --scope {SITE_A}`" in report.reason, report.reason
    assert "FAILED" in report.service_address


def test_a_stopped_run_whose_announcement_fails_names_the_recovery(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                                  slice_plan: Any) -> None:
    """Nothing promoted: a deploy of the old site's devices (the record still says it); promoted: --resume."""
    report, _, _ = _drill(monkeypatch, tmp_path, slice_plan, "switchover", ok={"switchover.yml": False},
                          after=status("primary"), fail={SITE_A})
    assert "outage" in report.reason and f"`jinbao deploy --scope {SITE_A}`" in report.reason, report.reason
    report, _, _ = _drill(monkeypatch, tmp_path, slice_plan, "failover", ok={"failover.yml": False},
                          after=status("replica", "two-primaries"), fail={SITE_B})
    assert "outage" in report.reason and "--mode failover --resume" in report.reason, report.reason


def test_a_router_without_a_management_address_is_refused_before_the_drill(monkeypatch: pytest.MonkeyPatch,
                                                                           replace_inv: Path) -> None:
    """Found at a phase, the address would already be withdrawn: refused while nothing has moved."""
    import ipplan.inventory_export as export
    from core.errors import JinbaoError
    from dr.network import real_network

    real = export.mgmt_address
    monkeypatch.setenv("JINBAO_SSH_USER", "jbops")
    monkeypatch.setenv("JINBAO_SSH_KEY", "/nonexistent/key")
    monkeypatch.setattr(export, "mgmt_address", lambda reg, site, host, af=4: None if host == "JB-100000-DR-FW01"
                        else real(reg, site, host, af))
    with pytest.raises(JinbaoError) as e:
        real_network(replace_inv, SITE_A, SITE_B)
    assert "JB-100000-DR-FW01 has no management address" in str(e.value) and "ip-registry.tsv" in str(e.value)
    assert "\n" not in str(e.value)


def test_the_view_loads_the_zone_policy_once(monkeypatch: pytest.MonkeyPatch, slice_plan: Any) -> None:
    """Both the zone database's clients and the service address's come from one load of policy.yaml."""
    import network.policy.model as model
    from plugins.hostvars import context

    loads: list[Path] = []
    real = model.load_policy
    monkeypatch.setattr(model, "load_policy", lambda d: loads.append(d) or real(d))
    ctx = context(slice_plan, ROOT / "inventory")
    assert len(loads) == 1
    assert ctx.db_sources["production"][0] == "production"
    assert "exchange" in ctx.svc_sources["production"]["same"] and ctx.svc_sources["production"]["replica"]


# -- the phases inside the promoting playbook (dr/drill.py _Switch, playbooks/dr/tasks/gate.yml) -----------------

def test_the_announcement_is_committed_only_after_the_withdrawal_even_when_the_promotion_comes_early(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, slice_plan: Any) -> None:
    """Never announced by two sites: the playbook reports the promotion while the withdrawal's deploy is still
    running (it ignored the gate); the announcement's deploy still starts only once the withdrawal's has ended."""
    monkeypatch.setattr(drill_mod, "NETWORK_SETTLE_S", 5.0)
    report, net, names = _drill(monkeypatch, tmp_path, slice_plan, "switchover", delay={"nowhere": 0.5},
                                early_promotion=True)
    (w, w_start, w_end), (a, a_start, _) = net.times
    assert (w, a) == ("nowhere", "100000-DR")
    assert w_end - w_start >= 0.5 and a_start >= w_end, net.times
    steps = {s.name: s for s in report.steps}
    assert steps["service address: withdraw at 140000-DC"].ended <= steps[  # type: ignore[operator]
        "service address: announce at 100000-DR"].started
    assert not [s for s in report.steps if s.ok is False], names


def test_the_announcement_starts_with_the_promotion_not_after_the_playbook(monkeypatch: pytest.MonkeyPatch,
                                                                          tmp_path: Path, slice_plan: Any) -> None:
    """The rest of the playbook (re-pointing the old primary) runs beside the announcement, not before it."""
    monkeypatch.setattr(drill_mod, "NETWORK_SETTLE_S", 5.0)
    seen: list[list[str]] = []

    def repoint(net: FakeNetwork) -> None:  # still inside the playbook: the announcement must not wait for it
        wait_until(lambda: len(net.pushes) == 2, 5)
        seen.append([p[0] for p in net.pushes])

    report, _, _ = _drill(monkeypatch, tmp_path, slice_plan, "switchover", tail=repoint)
    assert seen == [["nowhere", "100000-DR"]]
    assert report.figures is not None and not [s for s in report.steps if s.ok is False]


def test_failed_pre_checks_shut_the_gate_and_withdraw_nothing(tmp_path: Path, slice_plan: Any) -> None:
    net = FakeNetwork(slice_plan)
    report = drill_mod.DrillReport(PAIR.primary_site, "switchover", "async", PAIR.primary, PAIR.replica)
    settings = DrillSettings(tmp_path, None, network=net)  # type: ignore[arg-type]
    address = drill_mod._Address(report, PAIR, "switchover", settings, None)
    switch = drill_mod._Switch(address, "switchover", tmp_path / "gate")
    switch({"event": "runner_on_failed", "event_data": {"task": "The current primary accepts writes"}})
    switch({"event": "playbook_on_play_start", "event_data": {"play": START_PLAYS["switchover"]}})
    switch.join()
    assert (tmp_path / "gate").read_text().strip() == "failed" and net.pushes == [] and not address.withdrawn


def _play_tasks(path: Path) -> dict[str, list[str]]:
    """Task names per play (blocks flattened, imported task files inlined) of a drill playbook."""
    def flat(tasks: list[dict[str, Any]]) -> list[str]:
        out: list[str] = []
        for t in tasks:
            if "ansible.builtin.import_tasks" in t:
                out += flat(yaml.safe_load((path.parent / t["ansible.builtin.import_tasks"]).read_text()))
            out.append(t.get("name", ""))
            out += flat(t.get("block", []))
        return out

    return {play["name"]: flat(play.get("tasks", [])) for play in yaml.safe_load(path.read_text()) if "tasks" in play}


def test_the_playbooks_hold_the_promotion_at_the_gate_and_name_the_drills_events() -> None:
    """The events the drill acts on exist, and nothing makes a second writable end before the gate: a switchover
    gates the promotion (after stopping writes and the catch-up), a failover too (after the kill)."""
    gate = "The service address is withdrawn at the old site (the drill's gate)"
    d = ROOT / "playbooks" / "dr"
    sw = _play_tasks(d / "switchover.yml")
    tasks = sw[START_PLAYS["switchover"]]
    assert tasks.index("Wait until the standby has replayed the old primary's last checkpoint (polled every 0.1 s)") \
        < tasks.index(gate) < tasks.index("Promote")
    assert gate not in sw["Switchover pre-checks"]
    fo = _play_tasks(d / "failover.yml")
    assert gate not in fo[START_PLAYS["failover"]]  # the kill is not held: withdrawing first would hide the loss
    assert [t for t in fo[START_PLAYS["failover"]] if t.startswith(START_TASKS["failover"])]  # the kill's event
    # the promotion's preparation runs before the kill, outside the window (promote.yml skips it then)
    plays = list(fo)
    assert plays.index("Ready to promote") < plays.index(START_PLAYS["failover"]) < plays.index("Promote the standby")
    assert fo["Ready to promote"] == ["Before the promotion, while writes still flow", "Promotion prepared"]
    assert fo["Promote the standby"].index(gate) < fo["Promote the standby"].index("Promote")
    promote = [t["name"] for t in yaml.safe_load((d / "tasks" / "promote.yml").read_text())]
    assert [n for n in promote if n.startswith(PROMOTED_TASK)] == [
        "It accepts writes (promoted, polled every 0.1 s for 15 s) - {{ dr_new.cluster }}"]
    assert START_PLAYS["failback"] == START_PLAYS["switchover"] and PLAYBOOKS["failback"][1][0] == "switchover.yml"


class _FakeStaged:
    """network.deploy.Staged with fixed diffs (no device)."""

    diffs_now: ClassVar[dict[str, str]] = {}
    closed: ClassVar[list[bool]] = []

    def __init__(self, targets: Any, **_: Any) -> None:
        pass

    def stage(self) -> None:
        pass

    def failed(self) -> list[Any]:
        return []

    def diffs(self) -> dict[str, str]:
        return dict(self.diffs_now)

    def close(self) -> None:
        self.closed.append(True)


def test_an_announcement_that_would_change_nothing_is_refused_at_the_stage(monkeypatch: pytest.MonkeyPatch,
                                                                          slice_plan: Any) -> None:
    """A device of the new site whose announcement diffs as nothing already announces the address: committing
    the move would leave it at two sites until the old one withdrew (or measure a move that did not happen).
    Refused at the stage, while nothing has moved; its connections closed. A withdrawal may find nothing to do."""
    import network.deploy
    from core.errors import JinbaoError
    from network.fleet import Fleet

    monkeypatch.setattr(network.deploy, "Staged", _FakeStaged)
    net = ServiceNetwork(slice_plan, "frr", Fleet({}, {}, None, None, "test"))  # type: ignore[arg-type]
    _FakeStaged.diffs_now, _FakeStaged.closed = {"R1": "+ ip route 1.2.3.4/32 10.0.0.1", "R2": ""}, []
    with pytest.raises(JinbaoError, match=r"^R2 already announce"):
        net.stage(["t"], "m", must_change=True)  # type: ignore[list-item]
    assert _FakeStaged.closed == [True]
    assert net.stage(["t"], "m") is not None  # a withdrawal: an empty diff is allowed (nothing announced there)
    _FakeStaged.diffs_now = {"R1": "+ x", "R2": "+ y"}
    assert net.stage(["t"], "m", must_change=True) is not None


def test_a_drill_is_refused_while_a_deploy_holds_the_lock(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                          slice_plan: Any) -> None:
    """A `jinbao deploy` running (the deploy lock held) could put the address's route back at the old site
    between the drill's phases: the drill is refused before anything, naming the holder, nothing pushed."""
    from network.deploy.lock import deploy_lock

    with deploy_lock("jinbao deploy --scope 140000-DC", tmp_path / "deploy.lock"):
        report, net, names = _drill(monkeypatch, tmp_path, slice_plan, "switchover")
    assert report.outcome == "refused" and "jinbao deploy --scope 140000-DC (pid" in report.reason, report.reason
    assert net.pushes == [] and net.staged == [] and names == ["deploy lock (no deploy beside the service "
                                                               "address's move)"]
    assert FakeWriter.made == []  # no witness either
    # and the lock is the drill's while it runs: a deploy started then is refused
    seen: list[str] = []

    def tail(_: Any) -> None:
        from core.errors import JinbaoError

        try:
            with deploy_lock("jinbao deploy", tmp_path / "deploy.lock"):
                seen.append("deployed")
        except JinbaoError as e:
            seen.append(str(e))

    report, _, _ = _drill(monkeypatch, tmp_path, slice_plan, "switchover", tail=tail)
    assert len(seen) == 1 and "jinbao dr drill --site 140000-DC --mode switchover (pid" in seen[0], seen


def test_a_failback_whose_devices_cannot_be_staged_after_the_rebuild_switches_nothing(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, slice_plan: Any) -> None:
    from core.errors import JinbaoError

    def unreachable(self: Any, *a: Any, **k: Any) -> Any:
        raise JinbaoError("cannot reach the devices that move the service address: R1: failed")

    monkeypatch.setattr(FakeNetwork, "stage", unreachable)
    record_active(tmp_path, "140000-DC", "100000-DR")
    report, net, names = _drill(monkeypatch, tmp_path, active_in(slice_plan, load_active(tmp_path)[0]), "failback")
    assert names[-2:] == ["playbook rebuild.yml", "service address: both phases connected and diffed"], names
    assert report.steps[-1].ok is False and net.pushes == [] and _stopped()
    assert report.outcome == "failed" and "rebuild.yml ran, nothing was switched" in report.reason, report.reason
    assert load_active(tmp_path)[0] == {"140000-DC": "100000-DR"}  # the record unchanged


def test_the_gate_file_is_in_the_users_run_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                     slice_plan: Any) -> None:
    """The gate lives in XDG_RUNTIME_DIR (the user's own run directory) when there is one, not in /tmp."""
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    gates: list[str] = []
    real = drill_mod._Switch.__init__

    def spy(self: Any, address: Any, kind: str, gate: Path) -> None:
        gates.append(str(gate))
        real(self, address, kind, gate)

    monkeypatch.setattr(drill_mod._Switch, "__init__", spy)
    report, _, _ = _drill(monkeypatch, tmp_path, slice_plan, "switchover")
    assert not [st for st in report.steps if st.ok is False]  # the gate opened: the drill went through
    assert len(gates) == 1 and gates[0].startswith(str(run) + "/jinbao-dr-gate-"), gates
    assert list(run.iterdir()) == []  # removed after the run
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert drill_mod.run_dir() is None


# -- a failover through the service address; the gate's wait (--gate-timeout) -------------------------------------

def _switch(tmp_path: Path, plan: Any, kind: str) -> tuple[Any, FakeNetwork, Any]:
    net = FakeNetwork(plan)
    report = drill_mod.DrillReport(PAIR.primary_site, kind, "async", PAIR.primary, PAIR.replica)
    address = drill_mod._Address(report, PAIR, kind, DrillSettings(tmp_path, None, network=net),  # type: ignore[arg-type]
                                 None)
    return drill_mod._Switch(address, kind, tmp_path / "gate"), net, address


def test_a_failovers_withdrawal_starts_once_the_kill_has_run(tmp_path: Path, slice_plan: Any) -> None:
    """Not when its play starts (beside the kill): the address could be withdrawn before the primary died, the
    witness's writes stopped by the network rather than by the disaster, and an asynchronous failover's loss
    hidden. The kill skipped (dr_kill=false, a real disaster) starts it too; a failed kill shuts the gate."""
    assert START_TASKS == {"failover": "Kill the primary hard"}
    switch, net, _ = _switch(tmp_path, slice_plan, "failover")
    switch({"event": "playbook_on_play_start", "event_data": {"play": START_PLAYS["failover"]}})
    switch({"event": "playbook_on_task_start", "event_data": {"task": "Kill the primary hard (SIGKILL)"}})
    assert switch.withdrawing is None and not (tmp_path / "gate").exists() and net.pushes == []
    switch({"event": "runner_on_ok", "event_data": {"task": "Kill the primary hard (SIGKILL)", "host": "p"}})
    switch.join()
    assert (tmp_path / "gate").read_text().strip() == "withdrawn" and [p[:2] for p in net.pushes] == [
        ("nowhere", ("140000-DC",))]

    skipped, net, _ = _switch(tmp_path, slice_plan, "failover")
    skipped({"event": "runner_on_skipped", "event_data": {"task": "Kill the primary hard (SIGKILL)", "host": "p"}})
    skipped.join()
    assert skipped.withdrawn_ok is True and len(net.pushes) == 1

    failed, net, address = _switch(tmp_path, slice_plan, "failover")
    (tmp_path / "gate").unlink()
    failed({"event": "runner_on_unreachable", "event_data": {"task": "Kill the primary hard (SIGKILL)", "host": "p"}})
    failed({"event": "runner_on_ok", "event_data": {"task": "Kill the primary hard (SIGKILL)", "host": "p"}})
    failed.join()
    assert (tmp_path / "gate").read_text().strip() == "failed" and net.pushes == [] and not address.withdrawn


def test_failover_withdraws_after_the_kill_then_promotes_records_and_announces(monkeypatch: pytest.MonkeyPatch,
                                                                              tmp_path: Path, slice_plan: Any) -> None:
    monkeypatch.setattr(drill_mod, "NETWORK_SETTLE_S", 5.0)
    report, net, names = _drill(monkeypatch, tmp_path, slice_plan, "failover")
    assert names[3:7] == ["playbook failover.yml", "service address: withdraw at 140000-DC",
                          "record: 140000-DC's database runs at 100000-DR (dr-active.yaml)",
                          "service address: announce at 100000-DR"], names
    assert [p[:2] for p in net.pushes] == [("nowhere", ("140000-DC",)), ("100000-DR", ("100000-DR",))]
    assert net.staged == net.pushes and load_active(tmp_path)[0] == {"140000-DC": "100000-DR"}
    assert report.figures is not None and not [s for s in report.steps if s.ok is False]
    assert report.targets is not None and report.targets.rto_s == 10.0  # the failover's target

    # the kill failed: the gate is shut, nothing moves, nothing is promoted
    again = tmp_path / "again"
    again.mkdir()
    report, net, names = _drill(monkeypatch, again, slice_plan, "failover", kill_event="runner_on_failed")
    assert net.pushes == [] and FakeWriter.server == "15/main" and report.outcome == "failed", names


def test_the_gate_timeout_reaches_the_playbook_and_bounds_each_phases_commit(monkeypatch: pytest.MonkeyPatch,
                                                                            tmp_path: Path, slice_plan: Any) -> None:
    """--gate-timeout is the playbooks' dr_gate_timeout; a phase's staged commit (its reconnects) gets the gate's
    wait less a margin, the playbooks' 120 s when none was given, never the deploy's own minutes."""
    monkeypatch.setattr(drill_mod, "NETWORK_SETTLE_S", 5.0)
    assert drill_mod.playbook_gate_timeout() == 120
    _, net, _ = _drill(monkeypatch, tmp_path, slice_plan, "switchover")
    assert len(net.deadlines) == 2 and all(113 < d <= 115 for d in net.deadlines), net.deadlines
    _, net, _ = _drill(monkeypatch, tmp_path, slice_plan, "switchover", gate_timeout=300)
    assert all(293 < d <= 295 for d in net.deadlines), net.deadlines


def test_the_gate_timeout_is_checked() -> None:
    from dr.drill import gate_timeout_refusal

    assert [s for s in (9, 10, 120, 1800, 1801, 0, -5) if gate_timeout_refusal(s)] == [9, 1801, 0, -5]
    assert gate_timeout_refusal(5) == ("5: between 10 and 1800 seconds (the gate holds the promotion while the old "
                                       "site's devices commit the withdrawal)")


@pytest.mark.parametrize(("args", "said"), [
    (("--gate-timeout", "5"), "--gate-timeout: 5: between 10 and 1800 seconds"),
    (("--gate-timeout", "abc"), "Invalid value for '--gate-timeout'"),
    (("--gate-timeout", "60"), "--gate-timeout: no gate without a network"),
])
def test_the_drill_command_refuses_a_bad_gate_timeout(args: tuple[str, ...], said: str, tmp_path: Path) -> None:
    """Refused before anything is read or run: one line naming the option, exit non-zero, no report written."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "jinbao.cli", "dr", "drill", "--site", "140000-DC", "--mode",
                        "failover", "--out", str(tmp_path / "out"), *args], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    text = " ".join(r.stderr.replace("│", " ").split())  # typer's usage errors come in a box, wrapped
    assert r.returncode != 0 and said in text, (r.returncode, r.stdout, r.stderr)
    assert not (tmp_path / "out").exists()
