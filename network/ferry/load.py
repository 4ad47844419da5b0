"""The decision zone's loader: delivered, verified batches from the inbox into the decision database.

The decision database is the decision zone's PostgreSQL 15 (`jb_decision` on the zone's DS server, built by
the `postgresql` role: docs/servers.md), loaded by its ETL role `dss_etl` into schema `warehouse`.

A batch is loaded only when all of this holds, checked before anything touches the database:
- it is a directory of the inbox (never the quarantine: a directory holding REASON.txt is refused);
- the receiver's journal records it as delivered, and what is on disk now is what the receiver verified
  (its transfer key recomputed from the files; each file's size and SHA-256 against manifest.json);
- its batch id names a known dataset, and every file is a CSV whose header is exactly the dataset's
  columns, with every row the header's width and every value of its column's type.
Then one transaction per batch: the batch id goes into the load log (`warehouse.ferry_load_log`), the rows
go in with COPY, the row count is checked against the CSV, and only then it commits. A batch already in the
load log is not loaded again (same content: skipped; different content: refused); concurrent loaders of one
batch are serialised by an advisory lock. Nothing of a failing batch stays.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from core.errors import JinbaoError
from core.text import CONTROL_RE
from network.ferry import journal
from network.ferry.manifest import MANIFEST_NAME, Manifest, ManifestError, parse_manifest
from network.ferry.receiver import JOURNAL, REASON, delivered_key

DECISION_DB = "jb_decision"  # inventory/group_vars/zone_decision.yml
LOADER_ROLE = "dss_etl"
DB_OWNER = "jb_decision_owner"
SCHEMA = "warehouse"
LOG_TABLE = f"{SCHEMA}.ferry_load_log"
_INT = re.compile(r"-?[0-9]{1,19}")  # fullmatch: `$` would also accept a final newline (a quoted CSV field)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ROLE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_BIGINT = 2**63


class LoadError(JinbaoError, ValueError):
    """Why a batch is not loaded: one line naming the batch, file and line where there is one."""


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # date | int | numeric | text (every column NOT NULL)

    @property
    def sql_type(self) -> str:
        return {"date": "date", "int": "bigint", "numeric": "numeric", "text": "text"}[self.kind]


@dataclass(frozen=True)
class Dataset:
    name: str
    batch_prefix: str  # batch ids of this dataset start with it
    table: str  # in SCHEMA
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # one row per key across all batches

    @property
    def qualified(self) -> str:
        return f"{SCHEMA}.{self.table}"

    @property
    def header(self) -> list[str]:
        return [c.name for c in self.columns]


# jinbao/labrun.py pension_upload() writes this: per region (city) and quarter-hour slot, the fund's aggregates
PENSION_MACRO = Dataset(
    "pension-macro", "pension-macro-", "pension_macro",
    (Column("date", "date"), Column("slot", "int"), Column("region", "text"), Column("contributors", "int"),
     Column("retirees", "int"), Column("contributions_cny", "int"), Column("payouts_cny", "int"),
     Column("fund_balance_cny", "int"), Column("avg_pension_cny", "int"), Column("dependency_ratio", "numeric"),
     Column("arrears_cny", "int")),
    ("date", "slot", "region"))
DATASETS: tuple[Dataset, ...] = (PENSION_MACRO,)


def dataset_for(batch_id: str) -> Dataset | None:
    return next((d for d in DATASETS if batch_id.startswith(d.batch_prefix)), None)


def ddl(ds: Dataset = PENSION_MACRO) -> list[str]:
    """Idempotent statements for the schema, the load log and a dataset's table."""
    cols = ",\n  ".join(f"{c.name} {c.sql_type} NOT NULL" for c in ds.columns)
    return [
        f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
        f"CREATE TABLE IF NOT EXISTS {LOG_TABLE} (\n  batch_id text PRIMARY KEY,\n  dataset text NOT NULL,\n"
        "  batch_key text NOT NULL,\n  files integer NOT NULL,\n  rows bigint NOT NULL,\n"
        "  loaded_at timestamptz NOT NULL DEFAULT now(),\n  loaded_by text NOT NULL DEFAULT current_user,\n"
        "  seconds double precision\n)",
        f"CREATE TABLE IF NOT EXISTS {ds.qualified} (\n  {cols},\n"
        f"  batch_id text NOT NULL REFERENCES {LOG_TABLE} (batch_id),\n"
        "  source_file text NOT NULL,\n  source_line integer NOT NULL,\n"
        f"  PRIMARY KEY ({', '.join(ds.key)})\n)",
        f"CREATE INDEX IF NOT EXISTS {ds.table}_batch_id ON {ds.qualified} (batch_id)",
    ]


def schema_sql(datasets: tuple[Dataset, ...] = DATASETS, owner: str | None = DB_OWNER) -> str:
    """The DDL as one psql script, run as `owner` (the database's owner role, so the role build's default
    privileges give `dss_etl` its rights on the tables). `jinbao ferry schema` prints it for the DBA."""
    if owner and not _ROLE.fullmatch(owner):  # it goes into the script unquoted: a plain role name only
        raise LoadError(f"{owner!r} is not a plain PostgreSQL role name (lower-case letters, digits, _)")
    stmts = ["BEGIN", *([f"SET LOCAL ROLE {owner}"] if owner else [])]
    for ds in datasets:
        stmts += [x for x in ddl(ds) if x not in stmts]
    return ";\n".join([*stmts, "COMMIT"]) + ";\n"


# -- checks before the database (pure apart from reading the batch) -----------------------------------------------
@dataclass
class Checked:
    """A batch that passed every check: its rows, each with its file and line, ready for COPY."""

    batch_id: str
    directory: Path
    dataset: Dataset
    key: str
    manifest: Manifest
    rows: list[tuple[Any, ...]] = field(default_factory=list)  # values..., file, line
    per_file: dict[str, int] = field(default_factory=dict)


def delivered_batches(state: Path) -> tuple[dict[str, str], dict[str, str]]:
    """From the receiver's journal: (batch id -> key delivered, batch id -> reason of a final quarantine)."""
    delivered: dict[str, str] = {}
    quarantined: dict[str, str] = {}
    for rec in journal.load(state / JOURNAL):
        bid = rec.get("batch_id")
        if not isinstance(bid, str):
            continue
        if rec.get("event") == "delivered":
            delivered[bid] = str(rec.get("key"))
        elif rec.get("event") == "quarantined" and rec.get("final", True):
            quarantined[bid] = str(rec.get("reason"))
    return delivered, quarantined


def _value(col: Column, raw: str) -> Any:
    if raw == "":
        raise ValueError("empty")
    if col.kind == "int":
        if not _INT.fullmatch(raw) or not -_BIGINT <= int(raw) < _BIGINT:
            raise ValueError(f"{raw!r} is not an integer")
        return int(raw)
    if col.kind == "numeric":
        try:
            v = Decimal(raw)
        except InvalidOperation:
            raise ValueError(f"{raw!r} is not a number") from None
        if not v.is_finite() or raw.strip() != raw:
            raise ValueError(f"{raw!r} is not a finite number")
        return v
    if col.kind == "date":
        try:
            if not _DATE.fullmatch(raw):
                raise ValueError
            return dt.date.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"{raw!r} is not a date (YYYY-MM-DD)") from None
    if raw.strip() != raw or CONTROL_RE.search(raw):
        raise ValueError(f"{raw!r} has surrounding blanks or control characters")
    return raw


def parse_csv(name: str, data: bytes, ds: Dataset, seen: dict[tuple[Any, ...], str],
              rows: list[tuple[Any, ...]]) -> int:
    """Check one CSV file against the dataset and append its rows (values, file, line) to `rows`; `seen` maps
    each key already read to where. Returns the file's row count; raises LoadError naming file and line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise LoadError(f"{name}:{line}: not UTF-8 (byte {e.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    keyidx = [ds.header.index(k) for k in ds.key]
    count = 0
    try:
        header = next(reader, None)
        if header is None:
            raise LoadError(f"{name}:1: empty file, expected the header {','.join(ds.header)}")
        if header != ds.header:
            missing = [c for c in ds.header if c not in header]
            extra = [c for c in header if c not in ds.header]
            what = (f"missing column {missing[0]!r}" if missing else f"unexpected column {extra[0]!r}" if extra
                    else "columns out of order")
            raise LoadError(f"{name}:1: header {','.join(header)!r}: {what} (expected {','.join(ds.header)})")
        width = len(ds.columns)
        for fields in reader:
            line = reader.line_num
            if len(fields) != width:
                raise LoadError(f"{name}:{line}: {len(fields)} fields, the header has {width}")
            values = []
            for col, raw in zip(ds.columns, fields, strict=True):
                try:
                    values.append(_value(col, raw))
                except ValueError as e:
                    raise LoadError(f"{name}:{line}: column {col.name}: {e}") from None
            key = tuple(values[i] for i in keyidx)
            if key in seen:
                raise LoadError(f"{name}:{line}: a second row for {','.join(ds.key)} = "
                                f"{','.join(map(str, key))} (first at {seen[key]})")
            seen[key] = f"{name}:{line}"
            rows.append((*values, name, line))
            count += 1
    except csv.Error as e:
        raise LoadError(f"{name}:{reader.line_num}: {e}") from None
    return count


def check_batch(inbox: Path, state: Path, batch: Path) -> Checked | None:
    """Every check of a batch that needs no database. None: not a dataset this loader knows (left alone)."""
    bid = batch.name
    if (batch / REASON).exists():  # a quarantine directory, wherever it is
        raise LoadError(f"{bid}: quarantined ({(batch / REASON).read_text(errors='replace').strip()}), never loaded")
    if batch.resolve().parent != inbox.resolve() or bid.startswith("."):
        raise LoadError(f"{batch}: not a batch directory of the inbox {inbox}, never loaded")
    if not batch.is_dir():
        raise LoadError(f"{bid}: no such batch in the inbox {inbox}")
    delivered, quarantined = delivered_batches(state)
    if bid not in delivered:
        if bid in quarantined:
            raise LoadError(f"{bid}: quarantined by the receiver ({quarantined[bid]}), never loaded")
        raise LoadError(f"{bid}: not delivered by the receiver ({state / JOURNAL} has no delivery of it), "
                        "never loaded")
    try:
        man = parse_manifest((batch / MANIFEST_NAME).read_bytes())
    except (OSError, ManifestError) as e:
        raise LoadError(f"{bid}/{MANIFEST_NAME}: {e}") from None
    if man.batch_id != bid:
        raise LoadError(f"{bid}/{MANIFEST_NAME}: batch_id {man.batch_id!r} is not the directory's name")
    present = sorted(p.name for p in batch.iterdir() if not p.name.startswith(".") and p.name != MANIFEST_NAME)
    listed = sorted(f.name for f in man.files)
    if present != listed:
        odd = sorted(set(present) ^ set(listed))[0]
        raise LoadError(f"{bid}/{odd}: {'not listed in' if odd in present else 'missing, listed in'} "
                        f"{MANIFEST_NAME} (changed since delivery), never loaded")
    files: dict[str, bytes] = {}
    for f in man.files:
        data = (batch / f.name).read_bytes()
        if len(data) != f.size or hashlib.sha256(data).hexdigest() != f.sha256:
            raise LoadError(f"{bid}/{f.name}: size or SHA-256 does not match {MANIFEST_NAME} (changed since "
                            "delivery), never loaded")
        files[f.name] = data
    key = delivered_key(batch)
    if key != delivered[bid]:
        raise LoadError(f"{bid}: not the batch the receiver verified (key {key}, journal says {delivered[bid]}),"
                        " never loaded")
    ds = dataset_for(bid)
    if ds is None:
        return None
    out = Checked(bid, batch, ds, key, man)
    seen: dict[tuple[Any, ...], str] = {}
    for name in listed:
        if not name.endswith(".csv"):
            raise LoadError(f"{bid}/{name}: not a CSV file (dataset {ds.name} takes *.csv only)")
        try:
            out.per_file[name] = parse_csv(name, files[name], ds, seen, out.rows)
        except LoadError as e:
            raise LoadError(f"{bid}/{e}") from None
    return out


# -- the database ---------------------------------------------------------------------------------------------------
@dataclass
class Result:
    batch: str
    status: str  # loaded | already-loaded | skipped | failed
    rows: int = 0
    seconds: float = 0.0
    table: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def ensure_tables(conn: Any, ds: Dataset) -> bool:
    """Create the load log and the dataset's table when missing (True if it did). The check comes first: the
    loader role may use the tables but not create them (the role build grants it no CREATE)."""
    import psycopg

    have = conn.execute("SELECT to_regclass(%s), to_regclass(%s)", [LOG_TABLE, ds.qualified]).fetchone()
    conn.commit()
    if have[0] and have[1]:
        return False
    try:
        for stmt in ddl(ds):
            conn.execute(stmt)
        conn.commit()
    except psycopg.errors.InsufficientPrivilege:
        conn.rollback()
        user = conn.info.user
        raise LoadError(f"{ds.qualified} does not exist and role {user} may not create it: run "
                        f"`jinbao ferry schema | psql -d {conn.info.dbname}` as the database owner") from None
    return True


def _dup_location(checked: Checked, detail: str) -> str:
    """Which file and line hold the row a unique violation names ('Key (a, b)=(x, y) already exists.')."""
    m = re.search(r"\)=\((.*)\) already exists", detail or "")
    if not m:
        return checked.batch_id
    want = [v.strip() for v in m.group(1).split(",")]
    idx = [checked.dataset.header.index(k) for k in checked.dataset.key]
    for r in checked.rows:
        if [str(r[i]) for i in idx] == want:
            return f"{checked.batch_id}/{r[-2]}:{r[-1]}"
    return checked.batch_id


def load_checked(conn: Any, checked: Checked) -> Result:
    """One transaction: lock, load-log row, COPY, count check, commit. Rolls back completely on any failure."""
    import psycopg

    ds, bid = checked.dataset, checked.batch_id
    t0 = time.perf_counter()
    cols = [*ds.header, "batch_id", "source_file", "source_line"]
    try:
        with conn.transaction():
            # two loaders of one batch (the delivery hook and an operator): the second waits, then finds it logged
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"jinbao.ferry.load:{bid}"])
            prev = conn.execute(f"SELECT batch_key FROM {LOG_TABLE} WHERE batch_id = %s", [bid]).fetchone()
            if prev is not None:
                if prev[0] != checked.key:
                    raise LoadError(f"{bid}: already loaded with different content (key {prev[0]}, this delivery "
                                    f"{checked.key}), not loaded again")
                return Result(bid, "already-loaded", 0, round(time.perf_counter() - t0, 3), ds.qualified)
            conn.execute(f"INSERT INTO {LOG_TABLE} (batch_id, dataset, batch_key, files, rows) "
                         "VALUES (%s, %s, %s, %s, %s)", [bid, ds.name, checked.key, len(checked.per_file),
                                                         len(checked.rows)])
            with conn.cursor() as cur:
                with cur.copy(f"COPY {ds.qualified} ({', '.join(cols)}) FROM STDIN") as cp:
                    for r in checked.rows:
                        cp.write_row((*r[:-2], bid, r[-2], r[-1]))
                copied = cur.rowcount
            counted = conn.execute(f"SELECT count(*) FROM {ds.qualified} WHERE batch_id = %s", [bid]).fetchone()[0]
            if copied != len(checked.rows) or counted != len(checked.rows):
                raise LoadError(f"{bid}: {len(checked.rows)} rows in the CSV files, COPY loaded {copied} and the "
                                f"table holds {counted}: rolled back")
            seconds = round(time.perf_counter() - t0, 3)
            conn.execute(f"UPDATE {LOG_TABLE} SET seconds = %s WHERE batch_id = %s", [seconds, bid])
        return Result(bid, "loaded", len(checked.rows), seconds, ds.qualified)
    except psycopg.errors.UniqueViolation as e:
        where = _dup_location(checked, e.diag.message_detail or "")
        raise LoadError(f"{where}: a row with the same {','.join(ds.key)} is already in {ds.qualified} "
                        f"(loaded by another batch), nothing of {bid} loaded") from None


def candidates(inbox: Path, only: list[str] | None) -> Iterator[Path]:
    """The inbox's batches in name order, or the ones asked for (ids, or directories as the hook passes them)."""
    if only:
        for b in only:
            p = Path(b)
            yield p if p.is_absolute() or p.parent != Path(".") else inbox / b
        return
    if not inbox.is_dir():
        raise LoadError(f"{inbox}: the inbox is not a directory")
    yield from sorted(p for p in inbox.iterdir() if p.is_dir() and not p.name.startswith("."))


def load_inbox(connect: Callable[[], Any], inbox: Path, state: Path, only: list[str] | None = None,
               log: Callable[[str], None] = lambda _m: None) -> list[Result]:
    """Check and load every batch (or those in `only`), one transaction each. A failing batch is reported and
    leaves nothing behind; the others still load."""
    import psycopg

    results: list[Result] = []
    conn = None
    ensured: set[str] = set()
    try:
        for batch in candidates(inbox, only):
            t0 = time.perf_counter()
            try:
                checked = check_batch(inbox, state, batch)
                if checked is None:
                    why = f"no dataset of this loader ({', '.join(d.batch_prefix + '*' for d in DATASETS)})"
                    results.append(Result(batch.name, "skipped", error=why))
                    log(f"{batch.name}: skipped: {why}")
                    continue
                if conn is None:
                    conn = connect()
                if checked.dataset.name not in ensured:
                    if ensure_tables(conn, checked.dataset):
                        log(f"created {LOG_TABLE} and {checked.dataset.qualified}")
                    ensured.add(checked.dataset.name)
                r = load_checked(conn, checked)
                r.seconds = round(time.perf_counter() - t0, 3)
                results.append(r)
                log(f"{r.batch}: {r.status}, {r.rows} rows into {r.table} in {r.seconds} s")
            except LoadError as e:
                results.append(Result(batch.name, "failed", error=str(e)))
                log(str(e))
            except psycopg.Error as e:
                msg = " ".join(str(e).split()) or type(e).__name__
                results.append(Result(batch.name, "failed", error=f"{batch.name}: database: {msg}"))
                log(f"{batch.name}: database: {msg}")
                if conn is not None and conn.closed:
                    conn = None
                elif conn is not None:
                    conn.rollback()  # an error outside the batch's own transaction must not fail the next ones
    finally:
        if conn is not None:
            conn.close()
    return results


def region_totals(conn: Any, batch_id: str, ds: Dataset = PENSION_MACRO) -> dict[str, int]:
    """The decision side's first question of a pension upload: contributors per region (summed over slots)."""
    rows = conn.execute(f"SELECT region, sum(contributors)::bigint FROM {ds.qualified} WHERE batch_id = %s "
                        "GROUP BY region ORDER BY region", [batch_id]).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def decision_dsn(host: str, port: int = 5432, ca: str | None = None) -> str:
    """libpq connection string of a decision server's database for the loader role: verified TLS when a CA is
    given. No password: libpq takes it from PGPASSWORD or the passfile (PGPASSFILE, ~/.pgpass)."""
    tls = f" sslmode=verify-full sslrootcert={ca}" if ca else ""
    return f"host={host} port={port} dbname={DECISION_DB} user={LOADER_ROLE}{tls} application_name=jinbao-ferry-load"
