"""Make `network.ferry` importable from this checkout.

pytest puts `tests/` on sys.path (rootdir conftest without __init__.py), so `import network` finds the test
package `tests/network/` first, and its submodules then resolve through the shared venv's editable install
(another checkout). Extending that package's path with this checkout's `network/` makes `network.ferry`
come from here whichever `network` won. Remove once the test packages stop shadowing source packages.
"""

from __future__ import annotations

from pathlib import Path

import network

_SRC = str(Path(__file__).resolve().parents[2] / "network")
if _SRC not in list(network.__path__):
    network.__path__.insert(0, _SRC)
