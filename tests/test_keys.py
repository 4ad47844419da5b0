"""IP-record keys: their exact spelling, and that no module outside ipplan/keys.py spells one by hand (a key
spelled twice can drift, and a lookup that misses finds nothing rather than failing)."""

from __future__ import annotations

import ast
import re

import pytest

from ipplan import keys
from ipplan.config import POOLS
from tests.conftest import ROOT
from tools.layers import PACKAGES

_POOL = "|".join((*POOLS, keys.RESERVED_PREFIX.rstrip("/")))
# a pool name followed by an address family ("management/4/…", f"service/{af}/…"), or any part followed by
# "/{af}/" (f"{pool}/{af}/{site}")
_KEY = re.compile(rf"\b(?:{_POOL})/(?:[46]|\{{af\}})/|\}}/\{{af\}}/")


def test_keys_are_spelled_as_recorded() -> None:
    """The committed IP record holds keys in exactly this form: a change here orphans every record."""
    assert keys.aggregate("business", 4, "140100-DC") == "business/4/140100-DC"
    assert keys.subnet("business", 6, "140100-DC", "transit") == "business/6/140100-DC/transit"
    assert keys.member(keys.subnet("office", 4, "S", "decision"), "gateway") == "office/4/S/decision/gateway"
    assert keys.mgmt_subnet(4, "S") == "management/4/S/oob"
    assert keys.mgmt_host(6, "S", "h1") == "management/6/S/oob/h1"
    assert keys.loopback(4, "S", "h1") == "loopback/4/S/h1"
    assert keys.service(4, "S", "db1") == "service/4/S/db1"
    assert keys.p2p(6, "S", "L7") == "p2p/6/S/L7"
    assert keys.reservation("business", "10.0.0.0/8") == "reserved/business/10.0.0.0/8"


def hand_spelled(source: str) -> list[int]:
    """Lines of string literals (f-strings whole) that look like a registry key."""
    found: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{" + ast.unparse(v.value) + "}"
                           for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        if _KEY.search(text):
            found.add(node.lineno)
    return sorted(found)


def test_no_module_spells_a_key_by_hand() -> None:
    bad = [f"{p.relative_to(ROOT)}:{line}" for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))
           if p != ROOT / "ipplan" / "keys.py" for line in hand_spelled(p.read_text(encoding="utf-8"))]
    assert not bad, "registry keys spelled outside ipplan/keys.py:\n" + "\n".join(bad)


@pytest.mark.parametrize("line", [
    'rec = reg.get(f"management/{af}/{site}/oob/{host}")',
    'rec = reg.get(f"{pool}/{af}/{site}/{zone}")',
    'msg = f"no address (management/4/{d.site}/oob/{d.hostname})"',
    'k = "service/6/140100-DC/db1"',
])
def test_the_scan_finds_a_hand_spelled_key(line: str) -> None:
    assert hand_spelled(line) == [1]
