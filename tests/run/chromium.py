"""The index page as a browser sees it: a screenshot, and every local link resolved (headless Chromium,
through the compliance report's helper)."""

from __future__ import annotations

import re
import struct
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tests.compliance.test_report import _chromium


def check_index(index: Path, shot: Path) -> list[str]:
    """Screenshot the page (asserting a real rendered PNG) and return its local links, each checked to
    resolve to an existing file."""
    r = _chromium(f"--screenshot={shot}", index.as_uri())
    assert shot.exists(), r.stderr[-2000:]
    head = shot.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", head[16:24]) == (1280, 1600)
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
    dom = _chromium("--dump-dom", index.as_uri()).stdout
    assert "<h1>jinbao run" in dom, dom[:500]
    links = re.findall(r'<a href="([^"]+)"', dom)
    local = []
    for href in links:
        url = urlsplit(href.replace("&amp;", "&"))
        if url.scheme in ("http", "https"):
            continue
        target = index.parent / unquote(url.path)
        assert target.is_file(), f"index links {href}, which does not exist"
        local.append(unquote(url.path))
    return local
