"""`make run`'s last step: `out/index.html` as a browser sees it. Headless Chromium renders the page to
`out/index.png` (a real PNG of the window's size, not a blank page), and every local link of the page, as
Chromium parsed it, resolves to a file under `out/`. Anything else is a one-line JinbaoError naming the link
or what Chromium said; no Chromium is one too (`make setup` installs it: scripts/setup-host.sh).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from core.errors import JinbaoError

WINDOW = (1280, 1600)
MIN_PNG_BYTES = 20_000  # a rendered page; a blank one of this size is a few kB
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def chromium() -> str:
    """The chromium binary, or the one-line error that says how to get it."""
    path = shutil.which("chromium")
    if path is None:
        raise JinbaoError("chromium is not installed (the index is checked in headless Chromium): run `make setup` "
                          "(make run's setup installs it, scripts/setup-host.sh)")
    return path


def run_chromium(binary: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Headless Chromium at the window size the screenshot is checked against (no sandbox: it runs as root)."""
    try:
        return subprocess.run([binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                               f"--window-size={WINDOW[0]},{WINDOW[1]}", *args],
                              capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise JinbaoError(f"headless chromium failed: {' '.join(str(e).split())}") from None


def _said(r: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in (r.stderr or "").splitlines() if ln.strip()]
    return lines[-1].strip()[:300] if lines else f"exit {r.returncode}"


def screenshot(binary: str, index: Path, shot: Path) -> int:
    """Render `index` to `shot` (through a temporary file: no partial screenshot); its size in bytes."""
    tmp = shot.with_name(f".{shot.stem}-{os.getpid()}.png")  # .png: chromium picks the format by extension
    tmp.unlink(missing_ok=True)
    try:
        r = run_chromium(binary, f"--screenshot={tmp}", index.as_uri())
        if not tmp.is_file():
            raise JinbaoError(f"chromium wrote no screenshot of the page: {_said(r)}", file=str(index))
        head = tmp.read_bytes()[:24]
        size = tmp.stat().st_size
        if head[:8] != PNG_MAGIC or struct.unpack(">II", head[16:24]) != WINDOW:
            raise JinbaoError(f"chromium's screenshot is not a {WINDOW[0]}x{WINDOW[1]} PNG", file=str(index))
        if size < MIN_PNG_BYTES:
            raise JinbaoError(f"chromium's screenshot is {size} bytes: a blank page, not the index",
                              file=str(index))
        os.replace(tmp, shot)
        return size
    finally:
        tmp.unlink(missing_ok=True)


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [v for k, v in attrs if k == "href" and v]


def local_links(dom: str) -> list[str]:
    """The page's links that are not web addresses, as hrefs (entities decoded), wherever `href` sits among an
    anchor's attributes."""
    parser = _Anchors()
    parser.feed(dom)
    parser.close()
    return [h for h in parser.hrefs if urlsplit(h).scheme not in ("http", "https", "mailto")]


def check_links(index: Path, dom: str) -> list[str]:
    """Every local link resolves to a file under the index's directory; the paths, in page order."""
    root = index.parent.resolve()
    paths = []
    for href in local_links(dom):
        rel = unquote(urlsplit(href).path)
        target = (root / rel).resolve()
        if not rel or not target.is_relative_to(root) or not target.is_file():
            raise JinbaoError(f"links {href}, which is not a file in {root}", file=str(index))
        paths.append(rel)
    return paths


def check_index(index: Path, shot: Path | None = None) -> dict[str, object]:
    """The step: the links in the DOM Chromium built, then the screenshot (default: index.png beside the page;
    written only for a page that passed, so a failed check leaves none). Returns the summary's figures: how
    many links were checked, the screenshot's path and size."""
    binary = chromium()
    index = index.resolve()  # `make run`'s out/ is relative; Chromium takes file URIs, which must be absolute
    shot = shot.resolve() if shot else index.with_suffix(".png")
    if not index.is_file():
        raise JinbaoError("no index page to check", file=str(index))
    r = run_chromium(binary, "--dump-dom", index.as_uri())
    if r.returncode != 0 or "<h1>jinbao run" not in r.stdout:
        raise JinbaoError(f"chromium did not render the index page: {_said(r)}", file=str(index))
    links = check_links(index, r.stdout)
    size = screenshot(binary, index, shot)
    return {"links_checked": len(links), "screenshot": str(shot), "screenshot_bytes": size}
