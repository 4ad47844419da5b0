"""The batch manifest: what the exchange zone promises to deliver. Checked strictly; errors are one line."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from core.errors import JinbaoError

SCHEMA = "jinbao.ferry.manifest/1"
MANIFEST_NAME = "manifest.json"
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_TOP_KEYS = {"schema", "batch_id", "created", "source", "files"}
_FILE_KEYS = {"name", "size", "sha256"}


class ManifestError(JinbaoError, ValueError):
    """The manifest breaks the schema; `str()` names the entry and what is wrong."""


@dataclass(frozen=True)
class FileEntry:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    batch_id: str
    created: str
    source: str | None
    files: tuple[FileEntry, ...]

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


def parse_manifest(raw: bytes) -> Manifest:
    """Parse and schema-check manifest bytes. Raises ManifestError with a one-line reason."""
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ManifestError(f"not valid UTF-8 JSON ({e})") from None
    return check_manifest(doc)


def check_manifest(doc: Any) -> Manifest:
    if not isinstance(doc, dict):
        raise ManifestError("top level must be an object")
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise ManifestError(f"unknown key {unknown[0]!r}")
    for key in ("schema", "batch_id", "created", "files"):
        if key not in doc:
            raise ManifestError(f"missing key {key!r}")
    if doc["schema"] != SCHEMA:
        raise ManifestError(f"schema: expected {SCHEMA!r}, got {doc['schema']!r}")
    batch_id = doc["batch_id"]
    if not isinstance(batch_id, str) or not NAME_RE.match(batch_id):
        raise ManifestError(f"batch_id: {batch_id!r} is not 1-128 of [A-Za-z0-9._-] (not starting with . or -)")
    if not isinstance(doc["created"], str) or not doc["created"]:
        raise ManifestError("created: must be a non-empty string (ISO 8601 time)")
    source = doc.get("source")
    if source is not None and not isinstance(source, str):
        raise ManifestError("source: must be a string")
    files = doc["files"]
    if not isinstance(files, list) or not files:
        raise ManifestError("files: must be a non-empty list")
    seen: set[str] = set()
    entries = []
    for i, f in enumerate(files):
        where = f"files[{i}]"
        if not isinstance(f, dict):
            raise ManifestError(f"{where}: must be an object")
        if set(f) != _FILE_KEYS:
            missing, extra = sorted(_FILE_KEYS - set(f)), sorted(set(f) - _FILE_KEYS)
            what = f"missing key {missing[0]!r}" if missing else f"unknown key {extra[0]!r}"
            raise ManifestError(f"{where}: {what}")
        name, size, digest = f["name"], f["size"], f["sha256"]
        if not isinstance(name, str) or not NAME_RE.match(name) or name == MANIFEST_NAME:
            raise ManifestError(f"{where}.name: {name!r} is not a plain file name of [A-Za-z0-9._-]")
        if name in seen:
            raise ManifestError(f"{where}.name: {name!r} listed twice")
        seen.add(name)
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ManifestError(f"{where}.size: {size!r} is not a non-negative integer")
        if not isinstance(digest, str) or not _HEX64.match(digest):
            raise ManifestError(f"{where}.sha256: not 64 lower-case hex digits")
        entries.append(FileEntry(name, size, digest))
    return Manifest(batch_id, doc["created"], source, tuple(entries))


def build_manifest(batch_id: str, created: str, files: dict[str, bytes], source: str | None = None) -> bytes:
    """Manifest bytes for in-memory files (used by tests, the benchmark and producers written in Python)."""
    import hashlib

    doc: dict[str, Any] = {"schema": SCHEMA, "batch_id": batch_id, "created": created}
    if source is not None:
        doc["source"] = source
    doc["files"] = [{"name": n, "size": len(b), "sha256": hashlib.sha256(b).hexdigest()}
                    for n, b in sorted(files.items())]
    check_manifest(doc)
    return (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
