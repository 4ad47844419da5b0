"""The one rule for free text: every name, note or description that reaches a record, a config or a terminal
is one line without control characters.

A tab would add a column to a TSV record, a newline a row (or a line to a router config), an escape sequence
would move a terminal's cursor. Patterns elsewhere are full matches (`re.fullmatch`, never `$`, which also
matches before a final newline), and every string field of the YAML documents passes `check_text`
through `StrictDoc`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

# C0 controls (tab, newline, carriage return included), DEL, C1 controls, and the Unicode line and paragraph
# separators: anything that would split a row, a config line or a terminal line, or move a terminal's cursor.
CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_BUT_TAB_RE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def has_control_besides_tab(line: str) -> bool:
    """Whether a tab-separated row holds a control character other than its separators (one search per row
    instead of one per field: the fields are then checked one by one to name the problem)."""
    return _CONTROL_BUT_TAB_RE.search(line) is not None


def control_problem(value: str) -> str | None:
    """What is wrong with a free-text value (None if nothing): its first control character, named."""
    m = CONTROL_RE.search(value)
    if m is None:
        return None
    ch = m.group()
    name = unicodedata.name(ch, "") or {"\t": "tab", "\n": "newline", "\r": "carriage return"}.get(ch, "control")
    return f"contains a control character (U+{ord(ch):04X} {name.lower()}) at position {m.start()}"


def check_text(value: str) -> str:
    """The one rule for every free-text field that reaches a record, a config or a terminal (pydantic
    validators call this): a ValueError naming the offending character."""
    problem = control_problem(value)
    if problem:
        raise ValueError(f"{value!r} {problem}; free text is one line without control characters")
    return value


def check_lines(value: str) -> str:
    """The same rule for the rare text that is several lines by nature (a login banner): newlines allowed,
    every other control character refused."""
    for line in value.split("\n"):
        check_text(line)
    return value


def _walk(value: Any, check: Callable[[str], str]) -> None:
    if isinstance(value, str):
        check(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            _walk(k, check_text)
            _walk(v, check)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _walk(v, check)


class StrictDoc(BaseModel):
    """Base of every YAML document model: unknown keys refused, frozen, and every string (dict keys
    included) one line without control characters."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    MULTILINE: ClassVar[frozenset[str]] = frozenset()  # fields that may hold several lines (check_lines)

    @field_validator("*", mode="after")
    @classmethod
    def _one_line_text(cls, v: Any, info: ValidationInfo) -> Any:
        _walk(v, check_lines if info.field_name in cls.MULTILINE else check_text)
        return v
