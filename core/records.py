"""Committed TSV records (the IP record, the port record, and the DR, policy and compliance records to come).

One reader, one writer and one change report for every record jinbao keeps in git, so they all behave the
same way: comment lines first, then a header row that must match the record's columns exactly, then one
tab-separated row per entry. Every way a file can be wrong is a one-line JinbaoError naming the file and
the line. Every field is strict text: no tab, newline or other control character may be read or written,
so a note or a name can never break a row (a tab would add a column, a newline a row). Saving is atomic
(temporary file + rename): readers see the old record or the new one, never half of either.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import JinbaoError
from core.fsutil import atomic_write_text
from core.text import control_problem, has_control_besides_tab


@dataclass(frozen=True)
class RecordFormat:
    """A record's shape: its file name (for messages), its leading comment and its columns."""

    name: str
    comment: str  # the leading "# …" lines, each ending in a newline
    columns: tuple[str, ...]

    def error(self, path: Path | str, lineno: int | None, message: str) -> JinbaoError:
        return JinbaoError(message, file=str(path), entry=None if lineno is None else f"line {lineno}")


def read_rows(path: Path, fmt: RecordFormat) -> Iterator[tuple[int, list[str]]] | None:
    """The rows of a record as (line number, fields), header checked and every field strict text.
    A missing file is None (an empty record); anything unreadable is a one-line error."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise fmt.error(path, None, "is a directory, not a record file") from None
    except OSError as e:
        raise fmt.error(path, None, f"cannot read: {e.strerror or e}") from None
    return _rows(path, data, fmt)


def _rows(path: Path, data: bytes, fmt: RecordFormat) -> Iterator[tuple[int, list[str]]]:
    try:  # the whole file at once: the IP record has 77,000 rows and every command reads it
        lines: list[str] | None = data.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        lines = None  # line by line below, to name the line and column of the bad byte
    seen_header = False
    for lineno, raw in enumerate(lines if lines is not None else data.split(b"\n"), start=1):
        if isinstance(raw, bytes):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise fmt.error(path, lineno, f"not UTF-8 text (byte 0x{raw[e.start]:02x} at column {e.start + 1})"
                                ) from None
        else:
            line = raw
        if not line or line.startswith("#"):
            continue
        cols = line.split("\t")
        if not seen_header:
            if tuple(cols) != fmt.columns:
                raise fmt.error(path, lineno, f"header must be {' '.join(fmt.columns)}")
            seen_header = True
            continue
        if len(cols) != len(fmt.columns):
            raise fmt.error(path, lineno, f"expected {len(fmt.columns)} tab-separated columns, got {len(cols)}")
        if has_control_besides_tab(line):  # one search per row; field by field only to name the problem
            for name, value in zip(fmt.columns, cols, strict=True):
                problem = control_problem(value)
                if problem:
                    raise fmt.error(path, lineno, f"{name} {problem}")
        yield lineno, cols


def render_rows(fmt: RecordFormat, rows: Iterable[Sequence[str]]) -> str:
    """The record's text. A field that would break its row is refused (nothing is written): the inputs are
    validated long before, so this is the last line of defence, not the place users meet the rule."""
    out = [fmt.comment, "\t".join(fmt.columns), "\n"]
    for row in rows:
        for name, value in zip(fmt.columns, row, strict=True):
            problem = control_problem(value)
            if problem:
                raise JinbaoError(f"refusing to record {name} {value!r}: it {problem}", file=fmt.name,
                                  entry=" ".join(row[:1]))
        out.append("\t".join(row))
        out.append("\n")
    return "".join(out)


class TsvRecord(ABC):
    """A committed record kept as one TSV file: the record renders its rows (`render`, through `render_rows`);
    `save` writes them atomically (temporary file + rename). The IP and port records are ones; the records that
    come next will be too."""

    @abstractmethod
    def render(self) -> str: ...

    def save(self, path: Path) -> None:
        atomic_write_text(path, self.render())


@dataclass
class Report:
    """What an allocation run changed in a record, in the words every record uses."""

    added: list[str] = field(default_factory=list)
    reactivated: list[str] = field(default_factory=list)
    decommissioned: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)  # same entry, new description (a reservation's note)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.reactivated or self.decommissioned or self.updated)

    def as_counts(self) -> dict[str, int]:
        return {"added": len(self.added), "reactivated": len(self.reactivated),
                "decommissioned": len(self.decommissioned), "updated": len(self.updated)}
