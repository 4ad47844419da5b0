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
    monkeypatch.setattr(m, "ZEBRA_VTY", "/nonexistent/zebra.vty")  # no zebra socket here: vtysh is asked
    first = m.read_table()
    assert "router ID" in first.values()
    assert m.read_table() == first  # timed out: last good read
    assert m.read_table() == first  # no answer at all: likewise


def test_the_table_is_read_on_demand_and_a_request_after_a_quiet_spell_waits_a_bounded_time(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """No vtysh call while nobody asks; the first request after a quiet spell waits for a fresh read, but never
    longer than SYNC_WAIT_S (snmpd is blocked meanwhile): then it answers from the last table."""
    import threading
    import time

    m = _shim()
    monkeypatch.setattr(m, "REFRESH_S", 0.05)
    monkeypatch.setattr(m, "STALE_S", 0.3)
    monkeypatch.setattr(m, "SYNC_WAIT_S", 0.5)
    reads: list[float] = []
    slow = [0.0]

    def read_table() -> dict[int, str]:
        time.sleep(slow[0])
        reads.append(1)
        return {1: f"read {len(reads)}"}

    monkeypatch.setattr(m, "read_table", read_table)
    threading.Thread(target=m._refresh_on_request, daemon=True).start()
    time.sleep(0.2)
    assert reads == []  # nothing read while nobody asks
    assert m.aliases() == {1: "read 1"}  # never read: waited for the read
    assert m.aliases() == {1: "read 1"} and len(reads) == 1  # fresh: from the table, no read
    time.sleep(0.1)
    assert m.aliases() == {1: "read 1"}  # a little old: answered at once, re-read behind
    time.sleep(0.1)
    assert len(reads) == 2
    time.sleep(0.4)
    assert m.aliases() == {1: "read 3"}  # after a quiet spell: waited for the read
    slow[0] = 2.0
    time.sleep(0.4)
    t0 = time.monotonic()
    assert m.aliases() == {1: "read 3"}  # vtysh hangs: the last table after SYNC_WAIT_S, not after vtysh
    assert 0.4 < time.monotonic() - t0 < 1.5
    t0 = time.monotonic()
    assert m.aliases() == {1: "read 3"}  # the next request of the walk does not wait again for that read
    assert time.monotonic() - t0 < 0.2


def test_before_the_first_read_the_kernel_aliases_answer(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A cold start on a loaded host: while the first vtysh read runs, every interface answers with its kernel
    ifalias (net-snmp's own answer), never an empty column; a read that raises does not stop the refresher."""
    import os
    import threading
    import time

    m = _shim()
    monkeypatch.setattr(m, "SYNC_WAIT_S", 0.2)
    calls: list[int] = []

    def read_table() -> dict[int, str]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bad read")
        time.sleep(5)
        return {}

    monkeypatch.setattr(m, "read_table", read_table)
    threading.Thread(target=m._refresh_on_request, daemon=True).start()
    table = m.aliases()
    assert table and len(table) == len(os.listdir("/sys/class/net"))  # every interface of this host
    time.sleep(0.1)
    m.aliases()
    time.sleep(0.3)
    assert len(calls) == 2  # the refresher lived on after the bad read and took this request's wake-up


def _fake_zebra(tmp_path, replies: list[bytes]):  # type: ignore[no-untyped-def]
    """A unix socket that answers each NUL-terminated command with the next reply, as zebra's vty does."""
    import socket
    import threading

    path = str(tmp_path / "zebra.vty")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(4)
    got: list[bytes] = []

    def serve() -> None:
        for reply in replies:
            conn, _ = srv.accept()
            with conn:
                buf = b""
                while not buf.endswith(b"\0"):
                    buf += conn.recv(4096)
                got.append(buf)
                for i in range(0, len(reply), 7):  # in small pieces: the reader must reassemble
                    conn.sendall(reply[i:i + 7])
        srv.close()

    threading.Thread(target=serve, daemon=True).start()
    return path, got


def test_descriptions_come_from_zebras_vty_socket(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The read asks zebra over its vty socket (vtysh's protocol): the command NUL-terminated, the output ended
    by three NULs and a status byte. A non-zero status or a closed socket is no answer, never an empty table."""
    import json

    m = _shim()
    out = json.dumps({"lo": {"description": "router ID"}, "eth1": {}}).encode()
    path, got = _fake_zebra(tmp_path, [out + b"\0\0\0\0", b"% Unknown command\0\0\0\1", b"{"])
    monkeypatch.setattr(m, "ZEBRA_VTY", path)
    monkeypatch.setattr(m.subprocess, "run", lambda *a, **k: (_ for _ in ()).throw(AssertionError("vtysh run")))
    assert m._frr_descriptions() == {"lo": "router ID", "eth1": ""}
    assert got == [b"show interface json\0"]
    assert m.zebra_command("show interface json", path) is None  # status 1
    assert m.zebra_command("show interface json", path, timeout=2) is None  # closed before the end marker


def test_the_first_read_starts_with_the_shim(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """snmpd starts the shim; the read starts then, so the first request finds a table, not blanks."""
    import io
    import time

    m = _shim()
    reads: list[float] = []
    monkeypatch.setattr(m, "read_table", lambda: reads.append(time.monotonic()) or {1: "router ID"})
    monkeypatch.setattr(m.sys, "stdin", io.StringIO(""))  # snmpd closes at once
    m.main()
    deadline = time.monotonic() + 5
    while not reads and time.monotonic() < deadline:
        time.sleep(0.01)
    assert reads, "no read at start"
