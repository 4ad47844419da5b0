"""Load the GB/T 2260 region table (regions.csv) plus local additions, rejecting duplicates."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

from core.errors import JinbaoError
from core.text import control_problem
from inventory.model import Region
from inventory.naming import REGION_CODE_RE
from inventory.schema import ExtraRegionDoc

COLUMNS = ["code", "name_zh", "name_en", "level", "province"]
LEVELS = {"province", "municipality", "city", "county-city"}


def load_regions(path: Path, extra: Iterable[ExtraRegionDoc], extra_file: str) -> dict[str, Region]:
    regions: dict[str, Region] = {}
    reader = csv.reader(io.StringIO(_read_text(path), newline=""))
    header = next(reader, None)
    if header != COLUMNS:
        raise JinbaoError(f"header must be {','.join(COLUMNS)}", file=str(path), entry="line 1")
    for row in reader:
        lineno = reader.line_num
        if len(row) != len(COLUMNS):
            raise JinbaoError(f"expected {len(COLUMNS)} columns, got {len(row)}",
                              file=str(path), entry=f"line {lineno}")
        for name, value in zip(COLUMNS, row, strict=True):
            problem = control_problem(value)
            if problem:  # names reach records, configs and terminals: the one free-text rule
                raise JinbaoError(f"{name} {problem}", file=str(path), entry=f"line {lineno}")
        _add(regions, Region(*row), str(path), f"line {lineno}")
    for i, doc in enumerate(extra):
        _add(regions, Region(doc.code, doc.name_zh, doc.name_en, doc.level, doc.province),
             extra_file, f"regions.extra.{i}")
    for code, r in regions.items():
        if r.level in ("city", "county-city") and r.province not in regions:
            raise JinbaoError(f"region {code} names unknown province {r.province!r}", file=str(path))
    return regions


def _read_text(path: Path) -> str:
    """The table as text; a missing, unreadable or non-UTF-8 file (a GBK export, say) is a one-line error."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise JinbaoError("region table not found", file=str(path)) from None
    except OSError as e:
        raise JinbaoError(f"cannot read the region table: {e.strerror or e}", file=str(path)) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        lineno = data.count(b"\n", 0, e.start) + 1
        raise JinbaoError(f"not UTF-8 text (byte 0x{data[e.start]:02x}; save the table as UTF-8, not GBK)",
                          file=str(path), entry=f"line {lineno}") from None


def _add(regions: dict[str, Region], r: Region, file: str, entry: str) -> None:
    if not REGION_CODE_RE.fullmatch(r.code):
        raise JinbaoError(f"region code {r.code!r} must be six digits", file=file, entry=entry)
    if r.level not in LEVELS:
        raise JinbaoError(f"region {r.code}: unknown level {r.level!r}", file=file, entry=entry)
    if r.code in regions:
        raise JinbaoError(f"duplicate region code {r.code}", file=file, entry=entry)
    if r.level in ("city", "county-city") and r.province[:2] != r.code[:2]:
        raise JinbaoError(f"region {r.code} lies outside its province {r.province}", file=file, entry=entry)
    regions[r.code] = r
