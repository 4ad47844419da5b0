"""The IP registration record (IP地址备案): every allocation ever made, one line each, committed to git.

A tab-separated file so that diffs are line-per-allocation and reviews are easy. Rows are sorted by pool,
family and address, so the file reads as an address-ordered registration table and an unchanged plan
writes byte-identical output.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import JinbaoError
from core.records import RecordFormat, TsvRecord, read_rows, render_rows
from ipplan.addr import BITS, fmt, parse
from ipplan.config import POOLS, REGISTRY_FILE

HEADER = (
    "# jinbao IP registration record (IP地址备案). Written by `jinbao ipplan allocate`; do not edit by hand.\n"
    "# Rows are never removed or renumbered: a removed site's prefixes stay, marked decommissioned.\n"
)
COLUMNS = ("prefix", "pool", "site", "purpose", "status", "key", "parent")
FORMAT = RecordFormat(REGISTRY_FILE, HEADER, COLUMNS)
STATUSES = ("active", "decommissioned", "reserved")
_POOL_ORDER = {p: i for i, p in enumerate(POOLS)}


@dataclass(slots=True)
class Record:
    key: str
    pool: str
    af: int
    start: int
    plen: int
    site: str
    purpose: str
    status: str
    parent: str  # key of the enclosing block ("" for national pools and reservations)

    @property
    def end(self) -> int:
        return self.start + (1 << (BITS[self.af] - self.plen))

    @property
    def prefix(self) -> str:
        return fmt(self.af, self.start, self.plen)

    def sort_key(self) -> tuple[int, int, int, int]:
        return (_POOL_ORDER.get(self.pool, 99), self.af, self.start, self.plen)


class Registry(TsvRecord):
    def __init__(self, records: dict[str, Record] | None = None) -> None:
        self.records: dict[str, Record] = records or {}

    def __len__(self) -> int:
        return len(self.records)

    def get(self, key: str) -> Record | None:
        return self.records.get(key)

    def add(self, rec: Record) -> None:
        self.records[rec.key] = rec

    def sorted(self) -> list[Record]:
        return sorted(self.records.values(), key=Record.sort_key)

    def render(self) -> str:
        return render_rows(FORMAT, ((r.prefix, r.pool, r.site, r.purpose, r.status, r.key, r.parent)
                                    for r in self.sorted()))


def load_registry(path: Path) -> Registry:
    """Read the registry; a missing file is an empty registry. Any malformed row is a one-line error."""
    rows = read_rows(Path(path), FORMAT)
    if rows is None:
        return Registry()
    records: dict[str, Record] = {}
    lines: dict[str, int] = {}
    for lineno, cols in rows:
        rec = _parse_row(cols, str(path), lineno)
        if rec.key in records:
            raise FORMAT.error(path, lineno, f"duplicate key {rec.key}")
        records[rec.key] = rec
        lines[rec.key] = lineno
    _refuse_cycles(records, lines, str(path))
    return Registry(records)


def _refuse_cycles(records: dict[str, Record], lines: dict[str, int], file: str) -> None:
    """A parent chain must end at a national pool (or a missing parent, which `ipplan check` reports as an
    orphan); one that comes back on itself is a corrupt record. Every record is walked once: O(n)."""
    done: set[str] = set()
    for key in records:
        on_chain: dict[str, None] = {}
        k = key
        while k and k not in done and k in records:
            if k in on_chain:
                chain = list(on_chain)
                loop = chain[chain.index(k):]
                first = min(loop, key=lambda x: lines[x])  # name the loop's earliest line
                i = loop.index(first)
                loop = loop[i:] + loop[:i]
                walk = " -> ".join([*loop[:5], first if len(loop) <= 5 else f"… ({len(loop)} rows)"])
                raise JinbaoError(f"key {first}: its parent chain loops back on itself ({walk})", file=file,
                                  entry=f"line {lines[first]}")
            on_chain[k] = None
            k = records[k].parent
        done.update(on_chain)


def _parse_row(cols: list[str], file: str, lineno: int) -> Record:
    entry = f"line {lineno}"
    prefix, pool, site, purpose, status, key, parent = cols
    try:
        af, start, plen = parse(prefix)
    except ValueError as e:
        raise JinbaoError(f"bad prefix {prefix!r}: {e}", file=file, entry=entry) from None
    if pool not in _POOL_ORDER:
        raise JinbaoError(f"unknown pool {pool!r}", file=file, entry=entry)
    if status not in STATUSES:
        raise JinbaoError(f"unknown status {status!r} (one of {', '.join(STATUSES)})", file=file, entry=entry)
    if not key:
        raise JinbaoError("empty key", file=file, entry=entry)
    return Record(key, pool, af, start, plen, site, purpose, status, parent)
