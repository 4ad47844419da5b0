"""Topology diagrams with graphviz: tiers top to bottom, primary, backup and DR lines distinguishable.

The nation is drawn one column per province (its city centres stacked under it) so that 360 sites stay
readable; a province or city scope also draws its access sites. DR centres are marked by shape and colour, and
their own lines (to a site other than the one they back up) are dotted purple, as are the provinces' lines to the
national DR centre.
"""

from __future__ import annotations

from collections import Counter
from itertools import pairwise
from pathlib import Path

import graphviz

from core.errors import JinbaoError
from inventory.model import Inventory, Site

FORMATS = ("svg", "png", "pdf", "dot")
STYLE = {
    "primary": {"style": "solid", "penwidth": "2", "color": "#1f4e9c"},
    "backup": {"style": "dashed", "penwidth": "1.2", "color": "#c0392b"},
    "access": {"style": "solid", "penwidth": "0.8", "color": "#7f8c8d", "arrowhead": "none"},
    # a DR centre's own line crosses the tiers: drawn without pulling the layout (constraint false)
    "dr": {"style": "dotted", "penwidth": "1.5", "color": "#8e44ad", "constraint": "false"},
}
NODE = {
    "ministry": {"shape": "box", "style": "filled,bold", "fillcolor": "#f9e79f"},
    "province": {"shape": "box", "style": "filled", "fillcolor": "#d6eaf8"},
    "municipality": {"shape": "box", "style": "filled", "fillcolor": "#d5f5e3"},
    "city": {"shape": "box", "style": "rounded,filled", "fillcolor": "#fdfefe"},
    "access": {"shape": "ellipse", "style": "filled", "fillcolor": "#f2f3f4", "fontsize": "9"},
    "dr": {"shape": "box3d", "style": "filled", "fillcolor": "#f5b7b1"},
}


def _label(site: Site, access_count: int) -> str:
    extra = f"\n+{access_count} access sites" if access_count else ""
    return f"{site.id}\n{site.name_zh}\n{site.name_en}{extra}"


def build_graph(inv: Inventory, sites: set[str], draw_access: bool) -> graphviz.Digraph:
    g = graphviz.Digraph("jinbao", graph_attr={
        "rankdir": "TB", "newrank": "true", "nodesep": "0.25", "ranksep": "0.6", "fontname": "WenQuanYi Zen Hei",
        "labelloc": "t", "label": "jinbao — business private network (solid: primary, dashed: backup, dotted purple: DR"
                 " centres' own lines)"},
        node_attr={"fontname": "WenQuanYi Zen Hei", "fontsize": "10"}, edge_attr={"arrowsize": "0.5"})
    shown = {s.id for s in inv.sites if s.id in sites and (draw_access or s.kind != "access")}
    access_under = Counter(s.parent for s in inv.sites if s.kind == "access" and s.id in sites and not draw_access)
    children = inv.children()
    for s in inv.sites:
        if s.id not in shown:
            continue
        attrs = NODE["dr"] if s.kind == "dr" else NODE[s.tier]
        g.node(s.id, _label(s, access_under.get(s.id, 0)), **attrs)
    # the lowest tier drawn hangs in a column under its parent (cities under their province for the
    # nation, access sites under their city for a province): a single row of 300 boxes is unreadable
    leaf_tier = "access" if draw_access else "city"
    for s in inv.sites:
        if s.id not in shown:
            continue
        leaves = [c.id for c in children[s.id] if c.id in shown and c.tier == leaf_tier]
        for a, b in pairwise(leaves):
            g.edge(a, b, style="invis", weight="10")
    for link in inv.links:
        if link.a_site == link.b_site or link.a_site not in shown or link.b_site not in shown:
            continue
        g.edge(link.a_site, link.b_site, **STYLE.get(link.kind, STYLE["access"]))
    tiers: dict[str, list[str]] = {}
    for s in inv.sites:
        if s.id in shown:
            tiers.setdefault("top" if s.tier == "ministry" else s.tier, []).append(s.id)
    with g.subgraph(name="rank_top") as sg:
        sg.attr(rank="min")
        for sid in tiers.get("top", []):
            sg.node(sid)
    return g


def draw(inv: Inventory, sites: set[str], out: Path, draw_access: bool | None = None) -> Path:
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise JinbaoError(f"--out {out}: diagram format must be one of {', '.join('.' + f for f in FORMATS)}")
    if draw_access is None:
        draw_access = len(sites) < 400
    g = build_graph(inv, sites, draw_access)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        data = g.source.encode() if fmt == "dot" else g.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise JinbaoError("graphviz's `dot` is not installed (make setup installs it)") from None
    tmp.write_bytes(data)
    tmp.replace(out)
    return out
