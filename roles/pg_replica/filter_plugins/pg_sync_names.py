"""synchronous_standby_names read and rewritten (tasks/sync_release.yml): which standbys a list names, the
list without some of them, in its own form, and the configuration file with the line that sets it rewritten.

PostgreSQL's three forms (runtime-config-replication): ``FIRST n (a, b)`` (also ``n (a, b)``), ``ANY n (a, b)``
and a bare ``a, b`` (FIRST 1). A name is an identifier or a double-quoted one (``""`` inside is a quote); ``*``
matches any standby. PostgreSQL compares a name with a standby's application_name case-insensitively
(syncrep.c), and so does this. Removing names never adds one, and n never exceeds the names left: a release
can only make commits wait for fewer standbys.
"""

from __future__ import annotations

import re
from typing import Any

from ansible.errors import AnsibleFilterError

_TOKEN = re.compile(r'\s*(?:"((?:[^"]|"")*)"|([^\s,()"]+)|([,()]))')


def _tokens(value: str) -> list[tuple[str, bool]]:
    """(text, quoted) per token; punctuation as unquoted text."""
    out: list[tuple[str, bool]] = []
    pos = 0
    while pos < len(value):
        if not value[pos:].strip():
            break
        m = _TOKEN.match(value, pos)
        if m is None:
            raise AnsibleFilterError(f"synchronous_standby_names {value!r}: cannot parse it at {value[pos:]!r}")
        quoted, word, punct = m.groups()
        out.append((quoted.replace('""', '"'), True) if quoted is not None else (word or punct, False))
        pos = m.end()
    return out


def parse(value: str) -> tuple[str, int, list[tuple[str, bool]]]:
    """(method "FIRST" | "ANY" | "" for the bare list, n, [(name, quoted)]); "" -> ("", 0, [])."""
    toks = _tokens(value or "")
    if not toks:
        return "", 0, []
    method = ""
    if not toks[0][1] and toks[0][0].upper() in ("FIRST", "ANY") and len(toks) > 1 and toks[1][0].isdigit():
        method, toks = toks[0][0].upper(), toks[1:]
    if toks[0][0].isdigit() and not toks[0][1] and len(toks) > 1 and toks[1] == ("(", False):
        n, inner = int(toks[0][0]), toks[2:]
        if not inner or inner[-1] != (")", False):
            raise AnsibleFilterError(f"synchronous_standby_names {value!r}: no closing parenthesis")
        return method or "FIRST", n, _names(value, inner[:-1])
    if method:
        raise AnsibleFilterError(f"synchronous_standby_names {value!r}: {method} needs a number and a list")
    return "", 1, _names(value, toks)


def _names(value: str, toks: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    names = toks[0::2]
    if any(t == (",", False) for t in names) or any(t != (",", False) for t in toks[1::2]) or not names:
        raise AnsibleFilterError(f"synchronous_standby_names {value!r}: names must be separated by commas")
    return names


def _spell(name: str, quoted: bool) -> str:
    return '"' + name.replace('"', '""') + '"' if quoted else name


def pg_sync_names(value: str) -> list[str]:
    """The standby names a list holds, as written (quotes removed)."""
    return [n for n, _ in parse(value)[2]]


def pg_sync_release(value: str, keep: list[str], only: list[str] | None = None) -> str:
    """`value` without the names not in `keep` (with `only`: without the names in `only` that are not in `keep`;
    any other name stays); `*` always stays. Unchanged text when nothing goes; '' when no name is left."""
    method, n, names = parse(value)
    lower = {k.lower() for k in keep}
    limit = None if only is None else {o.lower() for o in only}
    left = [(nm, q) for nm, q in names
            if (nm == "*" and not q) or nm.lower() in lower or (limit is not None and nm.lower() not in limit)]
    if len(left) == len(names):
        return value
    if not left:
        return ""
    listed = ", ".join(_spell(nm, q) for nm, q in left)
    return listed if not method else f"{method} {min(n, len(left))} ({listed})"


def pg_conf_set_line(content: str, line: int, name: str, value: str, path: str = "") -> str:
    """`content` (a configuration file, `path` for the error) with its line number `line` (1-based:
    pg_settings.sourceline, the line PostgreSQL says is in force) set to ``name = 'value'``, its indentation and a
    trailing ``# comment`` kept, every other line as it was. That line must set `name` (compared
    case-insensitively, as PostgreSQL does): anything else means the file changed since PostgreSQL read it, and
    editing another line (the last that looks like it) could leave the one in force as it was."""
    lines = content.split("\n")  # numbered as PostgreSQL numbers them
    n = int(line)
    setting = re.compile(rf"([ \t]*){re.escape(name)}(?:[ \t]*=|[ \t])", re.I)
    if not 1 <= n <= len(lines) or not (m := setting.match(lines[n - 1])):
        raise AnsibleFilterError(f"{path or 'the file'}: {name} is not set on line {n} any more (changed since "
                                 "PostgreSQL read it?): reload PostgreSQL and run again")
    # the old value (quoted as guc-file.l reads it, or a bare word), then what follows it: a comment is kept
    tail = _TAIL.match(lines[n - 1], m.end())
    comment = (tail.group(1) or "") if tail else ""
    # PostgreSQL reads a quoted value with '' and backslash escapes (guc-file.l): both doubled
    quoted = value.replace("\\", "\\\\").replace("'", "''")
    lines[n - 1] = f"{m.group(1)}{name} = '{quoted}'{comment}" + ("\r" if lines[n - 1].endswith("\r") else "")
    return "\n".join(lines)


_TAIL = re.compile(r"[ \t]*=?[ \t]*(?:'(?:[^'\\]|''|\\.)*'|[^\s#']*)([ \t]*#[^\r]*)?\r?$")


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"pg_sync_names": pg_sync_names, "pg_sync_release": pg_sync_release,
                "pg_conf_set_line": pg_conf_set_line}
