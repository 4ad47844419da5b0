"""Diagrams: tiers, primary vs backup lines, DR centres, readable scopes."""

from __future__ import annotations

from pathlib import Path

from inventory.scope import sites_in_scope
from network.diagram import build_graph, draw
from tests.conftest import jinbao


def test_dot_source_distinguishes_lines_and_dr(plan) -> None:
    sites = sites_in_scope(plan.inv, "140000") | {"100000-DC"}
    src = build_graph(plan.inv, sites, draw_access=True).source
    assert '"100000-DC" -> "140000-DC" [color="#1f4e9c" penwidth=2 style=solid]' in src
    assert '"100000-DC" -> "140000-DC" [color="#c0392b" penwidth=1.2 style=dashed]' in src
    assert '"140000-DR" [label="140000-DR' in src and "shape=box3d" in src
    # the DR centre's own line, to the ministry and not through the data centre it backs up: dotted purple
    assert '"100000-DC" -> "140000-DR" [color="#8e44ad" constraint=false penwidth=1.5 style=dotted]' in src
    nation_dr = build_graph(plan.inv, {"100000-DC", "100000-DR", "310000-DC"}, draw_access=False).source
    assert '"310000-DC" -> "100000-DR" [color="#8e44ad" constraint=false penwidth=1.5 style=dotted]' in nation_dr
    # and every province's line to the national DR centre, drawn the same way (issue 9 item 1)
    nation_dr = build_graph(plan.inv, {"100000-DC", "100000-DR", "140000-DC"}, draw_access=False).source
    assert '"100000-DR" -> "140000-DC" [color="#8e44ad" constraint=false penwidth=1.5 style=dotted]' in nation_dr
    assert "140100-AS001" in src  # a province drawing includes its access sites
    nation = build_graph(plan.inv, sites_in_scope(plan.inv, None), draw_access=False).source
    assert "140100-AS001" not in nation and "+8 access sites" in nation


def test_scope_rules(plan) -> None:
    assert sites_in_scope(plan.inv, "140100-DC") == {"140100-DC"}
    city = sites_in_scope(plan.inv, "140100")
    assert "140100-DC" in city and "140100-AS001" in city and "140000-DC" not in city
    prov = sites_in_scope(plan.inv, "140000")
    assert {"140000-DC", "140000-DR", "140200-DC", "140200-AS900"} <= prov and "410000-DC" not in prov
    assert sites_in_scope(plan.inv, "100000") == {"100000-DC", "100000-DR"}


def test_draw_svg_and_png(plan, tmp_path: Path) -> None:
    svg = draw(plan.inv, sites_in_scope(plan.inv, "140000"), tmp_path / "shanxi.svg")
    text = svg.read_text(encoding="utf-8")
    assert text.startswith("<?xml") and "太原市数据中心" in text and "stroke-dasharray" in text
    png = draw(plan.inv, sites_in_scope(plan.inv, "410000"), tmp_path / "henan.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_diagram_cli_bad_format(tmp_path: Path) -> None:
    r = jinbao("diagram", "--out", str(tmp_path / "x.bmp"))
    assert r.returncode != 0 and "diagram format" in r.stderr and not (tmp_path / "x.bmp").exists()
