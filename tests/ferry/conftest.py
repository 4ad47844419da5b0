"""Make this checkout's `network.ferry` and `lab.ferry_link` importable.

pytest puts `tests/` on sys.path (rootdir conftest without __init__.py), so `import network` / `import lab`
find the test packages `tests/network/` and `tests/lab/` first, and their submodules then resolve through the
shared venv's editable install (another checkout). Putting this checkout's source directories first in those
packages' paths makes the ferry code come from here whichever package won. Remove once the test packages
stop shadowing source packages.
"""

from __future__ import annotations

import importlib
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
for _name in ("network", "lab"):
    _pkg = importlib.import_module(_name)
    _src = str(_ROOT / _name)
    if _src not in list(_pkg.__path__):
        _pkg.__path__.insert(0, _src)
