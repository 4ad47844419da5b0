"""The README's worked examples, computed from the code and the committed records.

Each example sits in README.md between `<!-- example:NAME -->` and `<!-- /example:NAME -->`; this module
computes its text. `python tools/readme_examples.py --write` rewrites them in place;
tests/test_readme_examples.py fails when one is stale (a changed record, template or plan).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
INVENTORY = ROOT / "inventory"
BLOCK = re.compile(r"(<!-- example:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /example:(?P=name) -->)", re.S)


def _registry_rows() -> list[list[str]]:
    lines = (INVENTORY / "ip-registry.tsv").read_text(encoding="utf-8").splitlines()
    return [ln.split("\t") for ln in lines if ln and not ln.startswith("#")][1:]


def taiyuan_record() -> str:
    """Taiyuan's data centre in the IP record: its aggregates and subnets (host rows left out)."""
    cmd = ("""awk -F'\\t' '$3 == "140100-DC" && $2 ~ /^(business|office)$/ && $1 !~ /\\/(32|128)$/'"""
           """ inventory/ip-registry.tsv | cut -f1,4""")
    rows = [f"{r[0]:<24}{r[3]}" for r in _registry_rows()
            if r[2] == "140100-DC" and r[1] in ("business", "office") and not r[0].endswith(("/32", "/128"))]
    from inventory.load import load
    from ipplan.config import REGISTRY_FILE
    from ipplan.inventory_export import inventory_dict
    from ipplan.registry import load_registry

    reg = load_registry(INVENTORY / REGISTRY_FILE)
    dev = inventory_dict(load(INVENTORY).inventory, reg, "140100-DC")["devices"][0]
    show = "$ jinbao inventory show --scope 140100-DC --json | jq -c '.devices[0]'"
    return "```\n" + "\n".join([f"$ {cmd}", *rows, show, json.dumps(dev, ensure_ascii=False)]) + "\n```\n"


def taiyuan_access_site() -> str:
    rows = _registry_rows()
    lan = next(r[0] for r in rows if r[2] == "140100-AS001" and r[3].endswith("LAN") and "." in r[0])
    lan6 = next(r[0] for r in rows if r[2] == "140100-AS001" and r[3].endswith("LAN") and ":" in r[0])
    return (f"Its access site `140100-AS001` (an agency) has `{lan}` and `{lan6}` inside the city aggregates;"
            " its link to the city\nrouter is a /31 from the city's point-to-point block; its router's loopback"
            " `/32` from the city's loopback\nblock.\n")


def _block(text: str, header: str, children: str | None = None) -> list[str]:
    """The first top-level line matching `header` with its children matching `children` (all if None)."""
    lines = text.splitlines()
    for i, ln in enumerate(lines):
        if re.match(header, ln):
            out = [ln]
            for c in lines[i + 1:]:
                if not c.startswith(" "):
                    break
                if children is None or re.match(children, c):
                    out.append(c)
            return out
    raise LookupError(f"no line matching {header!r}")


def datong_table() -> str:
    """Datong's router rendered for its own platform (Huawei VRP) and for FRR, side by side."""
    from network.plan import build_intents
    from network.render import render_device
    from network.secrets import LabTestSecrets
    from network.service import open_network

    host = "JB-140200-DC-WR01"
    p = open_network(INVENTORY)
    texts, parents = {}, {}
    for platform in ("huawei_vrp", "frr"):
        intent = build_intents(p, {host}, platform)[host]
        texts[platform] = render_device(intent, LabTestSecrets())
        assert intent.bgp is not None
        parents[platform] = next(n.address for n in intent.bgp.neighbors
                                 if n.role == "upstream" and n.link_kind == "primary" and n.afi == "ipv4")
    vrp, frr = texts["huawei_vrp"], texts["frr"]
    nb = re.escape(parents["huawei_vrp"])
    addr = r"^ (?:description|ip address|ipv6 address) "
    rows: list[tuple[list[str], list[str]]] = [
        (_if_block(vrp, addr), _if_block(frr, addr)),
        ([ln for ln in vrp.splitlines() if ln.startswith("ip ip-prefix OWN-V4 ")],
         [ln for ln in frr.splitlines() if ln.startswith("ip prefix-list OWN-V4 ")]),
        (_block(vrp, r"^route-policy FROM-PARENT-BACKUP-V4 "), _block(frr, r"^route-map FROM-PARENT-BACKUP-V4 ")),
        (_block(vrp, r"^route-policy TO-PARENT-BACKUP-V4 "), _block(frr, r"^route-map TO-PARENT-BACKUP-V4 ")),
        (_block(vrp, r"^bgp ", rf"^ (?:peer {nb} (?:as-number|valid-ttl-hops|bfd enable)|ipv4-family)|"
                               rf"^  peer {nb} (?:route-policy \S+ import|route-limit)"),
         _block(frr, r"^router bgp ",
                rf"^ (?:neighbor {nb} (?:remote-as|ttl-security|bfd profile)|address-family ipv4)|"
                rf"^  neighbor {nb} (?:route-map \S+ in|maximum-prefix)")),
    ]

    def cell(lines: list[str]) -> str:
        return "<br>".join(f"`{ln}`" for ln in lines)

    out = ["| Huawei VRP | FRR |", "|---|---|"]
    out += [f"| {cell(a)} | {cell(b)} |" for a, b in rows]
    return "\n".join(out) + "\n"


def _if_block(text: str, children: str) -> list[str]:
    lines = text.splitlines()
    for i, ln in enumerate(lines):
        if ln.startswith("interface ") and lines[i + 1].startswith(" description primary uplink"):
            return _block("\n".join(lines[i:]), r"^interface ", children)
    raise LookupError("no primary uplink interface")


EXAMPLES: dict[str, Callable[[], str]] = {
    "taiyuan-record": taiyuan_record,
    "taiyuan-access-site": taiyuan_access_site,
    "datong-table": datong_table,
}


def regenerate(text: str) -> str:
    """README text with every example block recomputed."""
    def one(m: re.Match[str]) -> str:
        name = m.group("name")
        if name not in EXAMPLES:
            raise KeyError(f"README.md: unknown example {name!r} (known: {', '.join(EXAMPLES)})")
        return m.group(1) + EXAMPLES[name]() + m.group(4)
    return BLOCK.sub(one, text)


def main(argv: list[str]) -> int:
    text = README.read_text(encoding="utf-8")
    new = regenerate(text)
    if "--write" in argv:
        README.write_text(new, encoding="utf-8")
        return 0
    if new != text:
        print("README.md examples are stale: run `python tools/readme_examples.py --write`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main(sys.argv[1:]))
