"""The decision zone's loader: checks before the database (bad CSV, quarantined, undelivered or changed batches)
without one, then loading into a real PostgreSQL 15 set up as the `postgresql` role sets up `jb_decision`
(owner role, schema `warehouse`, least-privilege `dss_etl` with default privileges)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jinbao.labrun import pension_upload
from network.ferry import journal
from network.ferry.load import LOG_TABLE, LoadError, check_batch, load_inbox, region_totals
from network.ferry.manifest import build_manifest
from network.ferry.receiver import JOURNAL, REASON, delivered_key
from tests.ferry.decisiondb import DecisionDb, decision_db, query, run_schema

ROOT = Path(__file__).resolve().parents[2]
HEADER = "date,slot,region,contributors,retirees,contributions_cny,payouts_cny,fund_balance_cny,avg_pension_cny," \
         "dependency_ratio,arrears_cny\n"
ROW = "2026-12-01,{slot},{region},100,20,3000,2000,90000,2500,0.3000,0\n"


def deliver(inbox: Path, state: Path, batch_id: str, files: dict[str, bytes]) -> Path:
    """What the receiver does on delivery: the directory with its manifest, then the journal line."""
    d = inbox / batch_id
    d.mkdir(parents=True)
    for name, data in files.items():
        (d / name).write_bytes(data)
    (d / "manifest.json").write_bytes(build_manifest(batch_id, "2026-12-02T00:00:00Z", files))
    state.mkdir(parents=True, exist_ok=True)
    journal.append(state / JOURNAL, {"event": "delivered", "batch_id": batch_id, "key": delivered_key(d)})
    return d


def csv_of(*regions: str, slots: int = 2) -> bytes:
    return (HEADER + "".join(ROW.format(slot=s, region=r) for r in regions for s in range(slots))).encode()


@pytest.fixture
def box(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "inbox", tmp_path / "state"


# -- bad CSV: one line naming batch, file and line; nothing reaches the database ---------------------------------
BAD = [
    (HEADER.replace("slot,", "") + "x\n", "a.csv:1: header 'date,region,contributors,retirees,contributions_cny,"
     "payouts_cny,fund_balance_cny,avg_pension_cny,dependency_ratio,arrears_cny': missing column 'slot'"),
    (HEADER.replace("region,", "") .replace("date,", "date,region,"), "a.csv:1: header"),
    (HEADER + ROW.format(slot=0, region="A").replace(",0\n", "\n"), "a.csv:2: 10 fields, the header has 11"),
    (HEADER + ROW.format(slot=0, region="A") + ROW.format(slot=1, region="A") + "2026-12-01,2,A,1,2\n",
     "a.csv:4: 5 fields, the header has 11"),
    (HEADER + ROW.format(slot=0, region="A").replace(",100,", ",1e5,"), "a.csv:2: column contributors: '1e5' is not"
     " an integer"),
    (HEADER + ROW.format(slot=0, region="A").replace("2026-12-01", "2026-13-01"), "a.csv:2: column date: "
     "'2026-13-01' is not a date (YYYY-MM-DD)"),
    (HEADER + ROW.format(slot=0, region="A").replace("0.3000", "NaN"), "a.csv:2: column dependency_ratio: 'NaN' "
     "is not a finite number"),
    (HEADER + ROW.format(slot=0, region=""), "a.csv:2: column region: empty"),
    (HEADER + ROW.format(slot=0, region="A") + "\n", "a.csv:3: 0 fields, the header has 11"),
    (HEADER + ROW.format(slot=0, region="A") + ROW.format(slot=0, region="A"),
     "a.csv:3: a second row for date,slot,region = 2026-12-01,0,A (first at a.csv:2)"),
    ("", "a.csv:1: empty file, expected the header"),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[m.split(": ", 1)[1][:40] for _, m in BAD])
def test_bad_csv_is_one_line_naming_file_and_line(box: tuple[Path, Path], text: str, message: str) -> None:
    inbox, state = box
    d = deliver(inbox, state, "pension-macro-2026-12-01", {"a.csv": text.encode()})
    with pytest.raises(LoadError) as e:
        check_batch(inbox, state, d)
    assert str(e.value).startswith(f"pension-macro-2026-12-01/{message}"), str(e.value)
    assert "\n" not in str(e.value)


def test_not_utf8_and_a_second_file_with_the_first_rows_key(box: tuple[Path, Path]) -> None:
    inbox, state = box
    d = deliver(inbox, state, "pension-macro-x", {"a.csv": HEADER.encode() + b"2026-12-01,0,\xff,1\n"})
    with pytest.raises(LoadError, match=r"^pension-macro-x/a\.csv:2: not UTF-8 \(byte 144\)$"):
        check_batch(inbox, state, d)
    d = deliver(inbox, state, "pension-macro-y", {"a.csv": csv_of("A"), "b.csv": csv_of("B", "A")})
    with pytest.raises(LoadError, match=r"^pension-macro-y/b\.csv:4: a second row .* \(first at a\.csv:2\)$"):
        check_batch(inbox, state, d)


def test_a_good_upload_passes_with_every_row_placed(box: tuple[Path, Path], tmp_path: Path) -> None:
    inbox, state = box
    files = pension_upload(tmp_path / "up", "2026-12-01", ["太原", "大同", "阳泉", "长治", "晋城"], rows_per_region=4)
    d = deliver(inbox, state, "pension-macro-2026-12-01", {f.name: f.read_bytes() for f in files})
    c = check_batch(inbox, state, d)
    assert c is not None and len(c.rows) == 5 * 4 and sum(c.per_file.values()) == 20
    assert c.rows[0][-2:] == ("pension-macro-2026-12-01-part0.csv", 2)


# -- only delivered, verified, unchanged batches ------------------------------------------------------------------
def test_quarantined_undelivered_and_changed_batches_are_refused(box: tuple[Path, Path], tmp_path: Path) -> None:
    inbox, state = box
    # the receiver quarantined it; someone copied what arrived into the inbox by hand
    state.mkdir(parents=True)
    journal.append(state / JOURNAL, {"event": "quarantined", "batch_id": "pension-macro-q", "key": "00" * 16,
                                     "final": True, "reason": "a.csv: size 1234 bytes, manifest.json says 5000 "
                                                              "(truncated or altered)"})
    q = inbox / "pension-macro-q"
    q.mkdir(parents=True)
    (q / "a.csv").write_bytes(csv_of("A"))
    (q / "manifest.json").write_bytes(build_manifest("pension-macro-q", "now", {"a.csv": csv_of("A")}))
    with pytest.raises(LoadError, match=r"^pension-macro-q: quarantined by the receiver \(a\.csv: size 1234 bytes.*"
                                        r"never loaded$"):
        check_batch(inbox, state, q)
    # a quarantine directory itself, however it got here
    (q / REASON).write_text("a.csv: SHA-256 0123 does not match manifest.json\n")
    with pytest.raises(LoadError, match=r"^pension-macro-q: quarantined \(a\.csv: SHA-256 0123 does not match"):
        check_batch(inbox, state, q)
    # a batch the receiver never delivered (placed by hand: no journal line)
    (q / REASON).unlink()
    journal.append(state / JOURNAL, {"event": "delivered", "batch_id": "other", "key": "11" * 16})
    state2 = tmp_path / "state2"
    state2.mkdir()
    with pytest.raises(LoadError, match=r"^pension-macro-q: not delivered by the receiver"):
        check_batch(inbox, state2, q)
    # delivered, then changed in the inbox: a file, or the manifest rewritten to match the new file
    d = deliver(inbox, state, "pension-macro-c", {"a.csv": csv_of("A")})
    (d / "a.csv").write_bytes(csv_of("B"))
    with pytest.raises(LoadError, match=r"^pension-macro-c/a\.csv: size or SHA-256 does not match manifest\.json"):
        check_batch(inbox, state, d)
    (d / "manifest.json").write_bytes(build_manifest("pension-macro-c", "now", {"a.csv": csv_of("B")}))
    with pytest.raises(LoadError, match=r"^pension-macro-c: not the batch the receiver verified"):
        check_batch(inbox, state, d)
    (d / "extra.csv").write_bytes(b"x")
    with pytest.raises(LoadError, match=r"^pension-macro-c/extra\.csv: not listed in manifest\.json"):
        check_batch(inbox, state, d)
    # outside the inbox (e.g. the quarantine directory passed by mistake)
    with pytest.raises(LoadError, match="not a batch directory of the inbox"):
        check_batch(inbox, state, tmp_path / "quarantine" / "pension-macro-q")


def test_refusals_never_connect_and_other_datasets_are_left_alone(box: tuple[Path, Path]) -> None:
    inbox, state = box
    deliver(inbox, state, "pension-macro-bad", {"a.csv": b"nope\n"})
    deliver(inbox, state, "b00", {"payload.bin": b"x"})

    def connect() -> None:
        raise AssertionError("connected although nothing was loadable")

    res = {r.batch: r for r in load_inbox(connect, inbox, state)}
    assert res["b00"].status == "skipped"
    assert res["pension-macro-bad"].status == "failed"
    assert res["pension-macro-bad"].error and res["pension-macro-bad"].error.startswith("pension-macro-bad/a.csv:1:")


def test_cli_refuses_a_password_on_the_command_line(box: tuple[Path, Path]) -> None:
    inbox, state = box
    state.mkdir(parents=True)
    r = subprocess.run([sys.executable, "-m", "jinbao.cli", "ferry", "load", "--inbox", str(inbox), "--state",
                        str(state), "--dsn", "host=127.0.0.1 dbname=jb_decision password=secret"],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip() == ("error: --dsn: no password in the connection string (it would show in the process list "
                                "and shell history): use PGPASSFILE or PGPASSWORD")


# -- real PostgreSQL 15 -------------------------------------------------------------------------------------------
PORT = 55532  # clear of tests/disaster (55432-55443)


@pytest.fixture(scope="module")
def pg() -> Iterator[DecisionDb]:
    if os.geteuid() != 0:
        pytest.skip("runs PostgreSQL as user postgres (needs root)")
    with decision_db(PORT) as db:
        yield db


def _count(db: DecisionDb, sql: str, *args: object) -> int:
    return int(query(db, sql, *args)[0][0])


def _etl(db: DecisionDb) -> Callable[[], Any]:
    import psycopg

    return lambda: psycopg.connect(f"{db.etl} passfile={db.passfile}")


@pytest.mark.integration
def test_load_into_the_decision_database(pg: DecisionDb, tmp_path: Path) -> None:
    inbox, state = tmp_path / "inbox", tmp_path / "state"
    files = pension_upload(tmp_path / "up", "2026-12-01", ["太原", "大同", "阳泉", "长治", "晋城", "朔州"],
                           rows_per_region=96)
    deliver(inbox, state, "pension-macro-2026-12-01", {f.name: f.read_bytes() for f in files})

    etl = _etl(pg)
    # the loader role may not create tables (as built): one line saying what to do, nothing loaded
    [r] = load_inbox(etl, inbox, state)
    assert r.status == "failed" and r.error == (
        "warehouse.pension_macro does not exist and role dss_etl may not create it: run "
        "`jinbao ferry schema | psql -d jb_decision` as the database owner"), r
    # the DBA's one-time step, as `jinbao ferry schema` prints it (tables owned by the owner role)
    run_schema(pg)
    [r] = load_inbox(etl, inbox, state)
    assert (r.status, r.rows, r.table) == ("loaded", 6 * 96, "warehouse.pension_macro"), r
    expect: dict[str, int] = {}
    for f in files:
        for line in f.read_text().splitlines()[1:]:
            v = line.split(",")
            expect[v[2]] = expect.get(v[2], 0) + int(v[3])
    with _etl(pg)() as c:
        assert region_totals(c, "pension-macro-2026-12-01") == expect
        log = c.execute(f"SELECT dataset, files, rows, loaded_by FROM {LOG_TABLE} WHERE batch_id = %s",
                        ["pension-macro-2026-12-01"]).fetchone()
    assert log == ("pension-macro", 4, 6 * 96, "dss_etl")

    # a re-run, and the same batch delivered again (a receiver whose state was lost): never loaded twice
    [r] = load_inbox(etl, inbox, state)
    assert r.status == "already-loaded" and r.rows == 0
    assert _count(pg, "SELECT count(*) FROM warehouse.pension_macro") == 6 * 96


@pytest.mark.integration
def test_duplicate_batch_and_overlapping_rows_leave_nothing(pg: DecisionDb, tmp_path: Path) -> None:
    run_schema(pg)
    before = _count(pg, "SELECT count(*) FROM warehouse.pension_macro")
    inbox, state = tmp_path / "inbox", tmp_path / "state"

    etl = _etl(pg)
    # same batch id, different content (delivered by a receiver that had lost its journal): refused
    deliver(inbox, state, "pension-macro-dup", {"a.csv": csv_of("甲", "乙").replace(b"2026-12-01", b"2026-11-01")})
    assert [r.status for r in load_inbox(etl, inbox, state)] == ["loaded"]
    inbox2, state2 = tmp_path / "inbox2", tmp_path / "state2"
    deliver(inbox2, state2, "pension-macro-dup", {"a.csv": csv_of("丙").replace(b"2026-12-01", b"2026-11-01")})
    [r] = load_inbox(etl, inbox2, state2)
    assert r.status == "failed" and r.error and r.error.startswith(
        "pension-macro-dup: already loaded with different content (key "), r
    # another batch carrying a row already loaded (same date, slot, region): named by file and line, all rolled back
    deliver(inbox2, state2, "pension-macro-overlap",
            {"a.csv": csv_of("丁", slots=3).replace(b"2026-12-01", b"2026-11-01"),
             "b.csv": (HEADER + ROW.format(slot=1, region="乙")).replace("2026-12-01", "2026-11-01").encode()})
    [r] = load_inbox(etl, inbox2, state2, ["pension-macro-overlap"])
    assert r.status == "failed" and r.error == (
        "pension-macro-overlap/b.csv:2: a row with the same date,slot,region is already in warehouse.pension_macro "
        "(loaded by another batch), nothing of pension-macro-overlap loaded"), r
    assert _count(pg, "SELECT count(*) FROM warehouse.pension_macro") == before + 4
    assert _count(pg, f"SELECT count(*) FROM {LOG_TABLE} WHERE batch_id = %s", "pension-macro-overlap") == 0
    assert _count(pg, "SELECT count(*) FROM warehouse.pension_macro WHERE region = '丁'") == 0


@pytest.mark.integration
def test_cli_loads_with_the_passfile_and_reports_json(pg: DecisionDb, tmp_path: Path) -> None:
    run_schema(pg)
    inbox, state = tmp_path / "inbox", tmp_path / "state"
    d = deliver(inbox, state, "pension-macro-cli", {"a.csv": csv_of("戊", slots=5).replace(b"2026-12-01",
                                                                                          b"2026-10-01")})
    deliver(inbox, state, "pension-macro-cli-bad", {"a.csv": csv_of("己").replace(b",100,", b",x,")})
    env = {**os.environ, "PGPASSFILE": str(pg.passfile), "JINBAO_DECISION_DSN": pg.etl}
    cmd = [sys.executable, "-m", "jinbao.cli", "ferry", "load", "--inbox", str(inbox), "--state", str(state), "--json"]
    r = subprocess.run([*cmd, str(d)], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    [b] = json.loads(r.stdout)["batches"]
    assert (b["batch"], b["status"], b["rows"]) == ("pension-macro-cli", "loaded", 5) and b["seconds"] > 0
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert r.returncode == 2
    assert [(x["batch"], x["status"]) for x in json.loads(r.stdout)["batches"]] == [
        ("pension-macro-cli", "already-loaded"), ("pension-macro-cli-bad", "failed")]
    assert r.stderr.strip().splitlines()[-1] == ("error: pension-macro-cli-bad/a.csv:2: column contributors: 'x' is "
                                                 "not an integer")
    assert _count(pg, "SELECT count(*) FROM warehouse.pension_macro WHERE region = '己'") == 0


def test_values_and_owner_are_read_exactly() -> None:
    """A quoted CSV field may hold a newline: `12\\n` is no integer (a `$` anchor would have taken it), a C1
    control or a line separator is refused like a C0 one, and the DDL's owner is a plain role name only."""
    from network.ferry.load import PENSION_MACRO, LoadError, _value, schema_sql

    kinds = {c.kind: c for c in PENSION_MACRO.columns}
    for kind, raw in (("int", "12\n"), ("date", "2026-12-01\n"), ("text", "a\x85b"), ("text", "a\u2028b")):
        with pytest.raises(ValueError):
            _value(kinds[kind], raw)
    assert _value(kinds["int"], "12") == 12
    with pytest.raises(LoadError, match="not a plain PostgreSQL role name"):
        schema_sql(owner="jb_decision_owner; DROP TABLE x")
    assert "SET LOCAL ROLE jb_decision_owner" in schema_sql()
