"""Render device intents to configuration text with one cached Jinja2 environment."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from core import procpool
from network.intent_model import DeviceIntent
from network.render.credentials import CiscoHashType
from network.render.errors import RenderError
from network.render.platforms import PLATFORMS, PlatformSpec
from network.render.view import build_view
from network.secrets import SecretSource
from network.validate import ValidationFailed, validate_many, validator_name

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"


@lru_cache(maxsize=8)
def environment(template_dir: str = str(TEMPLATE_DIR)) -> jinja2.Environment:
    """Built once per template directory: compiling templates is the expensive part of Jinja."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir),
        undefined=jinja2.StrictUndefined,  # a missing variable is a bug, never an empty line
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # router CLI, not HTML
        cache_size=-1,  # never evict compiled templates
        auto_reload=False,  # no stat() per render
    )
    return env


@lru_cache(maxsize=64)
def _template(template_dir: str, name: str) -> jinja2.Template:
    return environment(template_dir).get_template(name)


_UNDEF = [
    re.compile(r"has no attribute '([^']+)'"),
    re.compile(r"'([^']+)' is undefined"),
    re.compile(r"no element '?([^']+)'?"),
]


def _undefined_field(exc: jinja2.UndefinedError) -> str:
    msg = str(exc)
    for rx in _UNDEF:
        m = rx.search(msg)
        if m:
            return m.group(1)
    return msg


def _spec(intent: DeviceIntent) -> PlatformSpec:
    platform = getattr(intent, "platform", None)
    spec = PLATFORMS.get(platform or "")
    if spec is None:
        known = ", ".join(sorted(PLATFORMS))
        raise RenderError(getattr(intent, "hostname", "<no hostname>"),
                          f"unknown platform {platform!r} (known: {known})", "platform")
    return spec


def render_device(
    intent: DeviceIntent,
    secrets: SecretSource,
    *,
    cisco_hash: CiscoHashType = 9,
    template_dir: str | Path | None = None,
) -> str:
    """The full configuration of one device in its platform's syntax.

    Raises RenderError (one line, naming the device and the field) on an unknown platform, an
    inconsistent or incomplete intent, a missing secret, or a template referencing a missing variable.
    """
    spec = _spec(intent)
    view = build_view(intent, spec, secrets, cisco_hash)
    tdir = str(template_dir) if template_dir is not None else str(TEMPLATE_DIR)
    ctx: dict[str, Any] = {"d": view}
    try:
        text = _template(tdir, spec.template).render(ctx)
    except jinja2.UndefinedError as exc:
        raise RenderError(view.hostname, f"template {spec.template} needs it", _undefined_field(exc)) from exc
    except jinja2.TemplateError as exc:
        raise RenderError(view.hostname, f"template {spec.template}: {exc}") from exc
    # Collapse runs of blank lines that conditional blocks leave behind; configs are diffed by humans.
    return re.sub(r"\n{3,}", "\n\n", text)


# The batch a worker renders from, set by _set_batch: forked children share it copy-on-write, so thousands of
# intents are never pickled (core/procpool: fork whenever it is safe). Only (start, stop) ranges and the
# results cross processes.
_BATCH: tuple[list[DeviceIntent], SecretSource, CiscoHashType, bool] | None = None
PARALLEL_MIN = 256  # below this, forking costs more than it saves


def _set_batch(batch: tuple[list[DeviceIntent], SecretSource, CiscoHashType, bool] | None) -> None:
    global _BATCH
    _BATCH = batch


def _render_range(bounds: tuple[int, int]) -> list[str | RenderError]:
    assert _BATCH is not None
    intents, secrets, cisco_hash, check = _BATCH
    out: list[str | RenderError] = []
    for i in range(*bounds):
        try:
            out.append(render_device(intents[i], secrets, cisco_hash=cisco_hash))
        except RenderError as exc:
            out.append(exc)
    if check:  # the platform's validator on every rendered text, FRR ones in one vtysh run
        done = [(k, i) for k, i in enumerate(range(*bounds)) if isinstance(out[k], str)]
        found = validate_many([(str(out[k]), intents[i].platform) for k, i in done])
        for (k, i), findings in zip(done, found, strict=True):
            if findings:
                exc = ValidationFailed(intents[i].hostname, intents[i].platform, findings)
                out[k] = RenderError(exc.hostname, str(exc).split(": ", 1)[1], "validation")
    return out


def _render_all(intents: list[DeviceIntent], secrets: SecretSource, cisco_hash: CiscoHashType,
                workers: int | None, check: bool) -> list[str | RenderError]:
    n = len(intents)
    if workers is None:
        workers = min(os.cpu_count() or 1, 8) if n >= PARALLEL_MIN else 1
    batch = (intents, secrets, cisco_hash, check)
    if workers <= 1:
        _set_batch(batch)
        try:
            return _render_range((0, n))
        finally:
            _set_batch(None)
    # Compile every template once in the parent so each forked child inherits them instead of compiling again.
    for spec in {_spec(i).name: _spec(i) for i in intents if getattr(i, "platform", None) in PLATFORMS}.values():
        _template(str(TEMPLATE_DIR), spec.template)
    step = max(1, -(-n // (workers * 4)))  # a few chunks per worker evens out big and small devices
    ranges = [(a, min(a + step, n)) for a in range(0, n, step)]
    with ProcessPoolExecutor(workers, mp_context=procpool.context(), initializer=_set_batch,
                             initargs=(batch,)) as pool:
        return [r for chunk in pool.map(_render_range, ranges) for r in chunk]


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    hostname: str
    platform: str
    file: str
    sha256: str
    validator: str


def render_many(
    intents: Iterable[DeviceIntent],
    secrets: SecretSource,
    out_dir: str | Path,
    *,
    cisco_hash: CiscoHashType = 9,
    workers: int | None = None,
    validate: bool = True,
) -> dict[str, list[dict[str, str]]]:
    """Render every intent to `<out_dir>/<hostname>.cfg` plus `manifest.json`, all or nothing.

    Everything is rendered in memory and written to a temporary directory next to `out_dir` first; only
    when every device succeeded are the files renamed into place (same filesystem, so each rename is
    atomic), manifest last. If any device fails, RenderError is raised and `out_dir` is untouched.
    Configurations an earlier render left there are the caller's business (`previous_files`, `remove_stale`).

    Large batches are rendered by `workers` forked processes (default: one per CPU, up to 8, for
    batches of PARALLEL_MIN or more); `workers=1` forces a single process.

    Each config is checked by its platform's validator (inventory/platforms.py: FRR `vtysh --dryrun`,
    the ios_like structural rules) before anything is written; a failing config fails the batch like a
    render error. The manifest names the validator; its sha256 is the stamp deploy checks.
    `validate=False` is for benchmarks and tests that measure rendering alone.
    """
    out = Path(out_dir)
    batch = list(intents)
    rendered: list[tuple[ManifestEntry, bytes]] = []
    failures: list[RenderError] = []
    seen: set[str] = set()
    for intent, text in zip(batch, _render_all(batch, secrets, cisco_hash, workers, validate), strict=True):
        if isinstance(text, RenderError):
            failures.append(text)
            continue
        if intent.hostname in seen:
            failures.append(RenderError(intent.hostname, "appears twice in the batch", "hostname"))
            continue
        seen.add(intent.hostname)
        data = text.encode()
        fname = f"{intent.hostname}.cfg"
        rendered.append((ManifestEntry(intent.hostname, intent.platform, fname, hashlib.sha256(data).hexdigest(),
                                       validator_name(intent.platform) if validate else "none"), data))
    if failures:
        first = failures[0]
        more = f" (+{len(failures) - 1} more failing devices)" if len(failures) > 1 else ""
        err = RenderError(first.hostname, f"{first.detail}{more}; nothing written", first.field)
        err.failures = failures  # type: ignore[attr-defined]  # every failure, for callers that list them
        raise err

    rendered.sort(key=lambda r: r[0].hostname)
    manifest = {"devices": [
        {"hostname": e.hostname, "platform": e.platform, "file": e.file, "sha256": e.sha256,
         "validator": e.validator}
        for e, _ in rendered
    ]}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.render-", dir=out.parent))
    try:
        for entry, data in rendered:
            (tmp / entry.file).write_bytes(data)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        out.mkdir(parents=True, exist_ok=True)
        for entry, _ in rendered:
            os.replace(tmp / entry.file, out / entry.file)
        os.replace(tmp / "manifest.json", out / "manifest.json")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def previous_files(out: str | Path) -> set[str]:
    """The configurations the last render into `out` wrote (its manifest.json), plain file names only."""
    out = Path(out)
    try:
        data = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        files = {d["file"] for d in data["devices"]}
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    return {f for f in files if isinstance(f, str) and f.endswith(".cfg") and Path(f).name == f}


def remove_stale(out: str | Path, previous: set[str], manifest: dict) -> tuple[list[str], list[str]]:
    """After a render into `out`, which holds one rendered set: remove the configurations the previous render
    wrote (`previous`) that are not in this set (devices no longer in scope). Any other `*.cfg` there was not
    written by jinbao and is left alone. Returns (removed, foreign) file names, for the caller to report."""
    out = Path(out)
    current = {d["file"] for d in manifest["devices"]}
    removed = sorted(f for f in previous - current if (out / f).is_file())
    for f in removed:
        (out / f).unlink()
    foreign = sorted(p.name for p in out.glob("*.cfg") if p.name not in current)
    return removed, foreign
