"""Review findings: nothing existing moves when the network grows; hand-declared sites obey the rules."""

from __future__ import annotations

from pathlib import Path

import yaml

from ipplan.service import allocate_and_save, open_plan
from network.bgpsim import Simulator
from network.plan import build_intents
from network.service import open_network
from tests.conftest import jinbao


def _edit(path: Path, change) -> None:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_new_agency_moves_no_port_and_no_address(inv_dir: Path) -> None:
    before = build_intents(open_network(inv_dir), {"JB-140100-DC-WR01"})["JB-140100-DC-WR01"]
    _edit(inv_dir / "jinbao.yaml", lambda d: d["access_sites"]["overrides"].update(
        {"140100": {"agency": 4, "community": 2, "township": 2, "partner": 1}}))
    _, report, _, ports = allocate_and_save(open_plan(inv_dir))
    assert report.added and not report.decommissioned and not ports.decommissioned
    after = build_intents(open_network(inv_dir), {"JB-140100-DC-WR01"})["JB-140100-DC-WR01"]
    old = {(i.name, i.ipv4) for i in before.interfaces}
    assert old <= {(i.name, i.ipv4) for i in after.interfaces}  # every cable and address where it was
    assert len(after.interfaces) == len(before.interfaces) + 1


def test_second_city_router_keeps_access_addresses(inv_dir: Path) -> None:
    _edit(inv_dir / "jinbao.yaml", lambda d: d.update(site_overrides={"140100-DC": {"devices": {"WR": 2}}}))
    _, report, _, ports = allocate_and_save(open_plan(inv_dir))
    # issue 10: existing lines stay where the port record has them (the backup line too); only new lines
    # (the internal link, the new router's own addresses) are added
    assert report.added and not report.decommissioned and not ports.decommissioned


def test_extra_sites_obey_the_rules(inv_dir: Path) -> None:
    cases = {
        "same city": ({"id": "140100-DR", "parent": "140100-DC", "name_zh": "x", "name_en": "x"}, "same city"),
        "under access": ({"id": "140100-AS150", "parent": "140100-AS001", "name_zh": "x", "name_en": "x"},
                         "not a data centre"),
        "other province": ({"id": "410100-AS150", "parent": "140100-DC", "name_zh": "x", "name_en": "x"},
                           "province"),
        "bad kind": ({"id": "140100-AS150", "parent": "140100-DC", "name_zh": "x", "name_en": "x",
                      "access_kind": "nosuch"}, "unknown access kind"),
    }
    path = inv_dir / "jinbao.yaml"
    original = path.read_text(encoding="utf-8")
    for name, (site, needle) in cases.items():
        path.write_text(original, encoding="utf-8")
        _edit(path, lambda d, site=site: d.update(sites=[site]))
        r = jinbao("--inventory", str(inv_dir), "inventory", "validate")
        assert r.returncode == 2 and needle in r.stderr and "sites.0" in r.stderr, (name, r.stderr)


def test_simulator_pairs_each_session_with_its_own_statement() -> None:
    p = open_network(Path("inventory"))
    hosts = {d.hostname for d in p.inv.devices if d.site in ("140000-DC", "100000-DC") and d.is_router}
    intents = build_intents(p, hosts)
    sim = Simulator(intents, partial=True)
    assert sim.problems == []
    wr2 = intents["JB-140000-DC-WR02"]
    nbrs = tuple(n for n in wr2.bgp.neighbors if not (n.link_kind == "transit" and n.afi == "ipv4"))
    intents[wr2.hostname] = wr2.model_copy(update={"bgp": wr2.bgp.model_copy(update={"neighbors": nbrs})})
    sim = Simulator(intents, partial=True)
    assert any("JB-140000-DC-WR01" in devs and "no ipv4 neighbor statement" in msg for _, devs, msg in sim.problems)


def test_dr_lines_were_only_added_to_the_records() -> None:
    """Issue 9 item 1, records additions only: the committed records are exactly those of the network without
    the DR centres' own lines (allocation from scratch reproduces that record) plus the DR lines' rows, filed
    in the ministry's p2p space; the port record minus the DR lines' ports is already complete without them."""
    import dataclasses

    from ipplan.allocator import allocate
    from ipplan.demand import build_demand
    from ipplan.ports import PortRegistry, allocate_ports, port_demand
    from ipplan.registry import Registry
    from tests.conftest import INVENTORY

    state = open_plan(INVENTORY)
    inv = state.loaded.inventory
    bare = dataclasses.replace(inv, links=tuple(lk for lk in inv.links if lk.kind != "dr"), _site_index={})
    assert len(bare.links) == len(inv.links) - 3 - 30  # the DR centres' own lines, the provinces' national ones
    scratch, _ = allocate(build_demand(bare, state.plan), Registry({}), state.plan)
    dr_rows = {k: r for k, r in state.registry.records.items() if "/dr:" in k}
    assert len(dr_rows) == 66 and all(k.startswith(("p2p/4/100000-DC/dr:", "p2p/6/100000-DC/dr:")) for k in dr_rows)
    assert all(r.status == "active" and r.parent in ("p2p/4/100000-DC", "p2p/6/100000-DC") for r in dr_rows.values())

    def rows(reg: Registry, skip: set[str]) -> dict[str, tuple]:
        return {k: (r.prefix, r.pool, r.site, r.purpose, r.status, r.parent) for k, r in reg.records.items()
                if k not in skip}

    assert rows(state.registry, set(dr_rows)) == rows(scratch, set())
    dr_ports = {k for k, r in state.ports.records.items() if r.key.startswith("dr:")}
    assert len(dr_ports) == 66
    without = PortRegistry({k: r for k, r in state.ports.records.items() if k not in dr_ports})
    _, report = allocate_ports(port_demand(bare), without)
    assert not report.changed


def test_national_dr_lines_were_only_added_to_the_records() -> None:
    """Issue 9 item 1, the provinces' lines to the national DR centre: the records without their rows are
    exactly what the network without those lines needs (allocating it on them changes nothing, IP and port
    record alike), so every existing row (the earlier DR lines' included) stayed as it was."""
    import dataclasses

    from ipplan.allocator import allocate
    from ipplan.demand import build_demand
    from ipplan.ports import PortRegistry, allocate_ports, port_demand
    from ipplan.registry import Registry
    from tests.conftest import INVENTORY

    state = open_plan(INVENTORY)
    inv = state.loaded.inventory
    national = [lk for lk in inv.links if lk.kind == "dr" and lk.a_site == "100000-DR"]
    assert len(national) == 30 and all(lk.b.endswith("-DC-WR02") for lk in national)
    before = dataclasses.replace(inv, links=tuple(lk for lk in inv.links if lk not in national), _site_index={})
    ids = {lk.id for lk in national}
    new_rows = {k for k in state.registry.records if k.split("/")[-1] in ids}
    assert len(new_rows) == 60 and all(k.startswith(("p2p/4/100000-DC/dr:", "p2p/6/100000-DC/dr:")) for k in new_rows)
    old = Registry({k: r for k, r in state.registry.records.items() if k not in new_rows})
    _, report = allocate(build_demand(before, state.plan), old, state.plan)
    assert not report.added and not report.decommissioned and not report.reactivated
    new_ports = {k for k, r in state.ports.records.items() if r.key in ids}
    assert len(new_ports) == 60  # one on the national DR router and one on the province's per line
    assert sorted(r.port for k, r in state.ports.records.items()
                  if k in new_ports and r.device == "JB-100000-DR-WR01") == list(range(5, 35))
    _, preport = allocate_ports(port_demand(before), PortRegistry(
        {k: r for k, r in state.ports.records.items() if k not in new_ports}))
    assert not preport.changed


def test_national_dr_line_must_avoid_the_ministry(inv_dir: Path) -> None:
    path = inv_dir / "jinbao.yaml"
    original = path.read_text(encoding="utf-8")
    for target, needle in (("100000-DC", "not a data centre other than the ministry"),
                           ("999999-DC", "999999-DC is not a data centre"), ("310000-AS001", "not a data centre")):
        path.write_text(original, encoding="utf-8")
        _edit(path, lambda d, t=target: d["network"]["national_dr"].update(line_to=t))
        r = jinbao("--inventory", str(inv_dir), "inventory", "validate")
        assert r.returncode == 2 and needle in r.stderr and "network.national_dr.line_to" in r.stderr, r.stderr
        assert r.stderr.count("\n") == 1
