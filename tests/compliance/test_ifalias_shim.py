"""The lab's ifAlias pass_persist shim speaks snmpd's protocol: get, getnext across the column, end of column."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

from tests.conftest import ROOT

SHIM = ROOT / "lab" / "ifalias_agent.py"


def _shim():  # loaded by path: it is a stand-alone script that runs inside lab nodes
    spec = importlib.util.spec_from_file_location("ifalias_agent", SHIM)
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def test_get_and_getnext_walk_the_column(monkeypatch) -> None:
    m = _shim()
    monkeypatch.setattr(m, "aliases", lambda: {1: "router ID", 3: "primary uplink to X", 4: ""})
    base = ".1.3.6.1.2.1.31.1.1.1.18"
    assert m.answer("get", m._oid(base + ".3")) == f"{base}.3\nstring\nprimary uplink to X\n"
    assert m.answer("get", m._oid(base + ".2")) == "NONE\n"
    assert m.answer("getnext", m._oid(base)) == f"{base}.1\nstring\nrouter ID\n"
    assert m.answer("getnext", m._oid(base + ".1")) == f"{base}.3\nstring\nprimary uplink to X\n"
    assert m.answer("getnext", m._oid(base + ".4")) == "NONE\n"
    assert m.answer("getnext", m._oid(".1.3.6.1.2.1.31.1.1.1.19")) == "NONE\n"


def test_protocol_over_stdin() -> None:
    r = subprocess.run([sys.executable, str(SHIM)], input="PING\nset\n.1.3.6.1.2.1.31.1.1.1.18.1\nstring x\n",
                       capture_output=True, text=True, timeout=30)
    assert r.stdout.splitlines()[:2] == ["PONG", "not-writable"]


def test_a_failed_vtysh_read_keeps_the_last_descriptions(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """On a loaded host vtysh can time out: the table keeps the last descriptions FRR gave, never blanks."""
    import json

    m = _shim()
    answers = iter([json.dumps({"lo": {"description": "router ID"}}), subprocess.TimeoutExpired("vtysh", 10), ""])

    def run(*a, **kw):  # type: ignore[no-untyped-def]
        x = next(answers)
        if isinstance(x, Exception):
            raise x
        return subprocess.CompletedProcess(a, 0, stdout=x, stderr="")

    monkeypatch.setattr(m.subprocess, "run", run)
    first = m.read_table()
    assert "router ID" in first.values()
    assert m.read_table() == first  # timed out: last good read
    assert m.read_table() == first  # no answer at all: likewise


def test_the_table_is_read_on_demand_and_never_stale_after_a_quiet_spell(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """No vtysh call while nobody asks; the first request after a quiet spell reads FRR before it answers."""
    m = _shim()
    reads: list[int] = []
    monkeypatch.setattr(m, "read_table", lambda: reads.append(1) or {1: f"read {len(reads)}"})
    clock = [1000.0]
    monkeypatch.setattr(m.time, "monotonic", lambda: clock[0])
    assert m.aliases() == {1: "read 1"}  # never read: read before answering
    assert m.aliases() == {1: "read 1"} and len(reads) == 1 and not m._wake.is_set()  # fresh: from the table
    clock[0] += m.REFRESH_S + 0.5
    assert m.aliases() == {1: "read 1"} and m._wake.is_set()  # a little old: answered now, re-read behind
    m._wake.clear()
    clock[0] += m.STALE_S + 1
    assert m.aliases() == {1: "read 2"}  # after a quiet spell (a deploy may have changed it): read first
