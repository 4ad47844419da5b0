"""Golden files: one WAN router, one access router, a DR centre's router (with its own DR line) and the national DR
centre's (the ministry's table from above, a province's DR line below) per platform.

Regenerate after an intended change with `JINBAO_UPDATE_GOLDEN=1 pytest tests/render`, then review the
diff like any other code change.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from network.render import render_device
from network.secrets import LabTestSecrets

from .fixtures import PLATFORMS, access_router, dr_wr, national_dr_wr, province_wr

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("JINBAO_UPDATE_GOLDEN") == "1"
BUILDERS = {"WR": province_wr, "AR": access_router, "DR": dr_wr, "NDR": national_dr_wr}


@pytest.mark.parametrize("role", sorted(BUILDERS))
@pytest.mark.parametrize("platform", PLATFORMS)
def test_golden(platform: str, role: str) -> None:
    text = render_device(BUILDERS[role](platform), LabTestSecrets())
    path = GOLDEN / platform / f"{role}.cfg"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with JINBAO_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{platform}/{role} differs from {path}"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_render_is_reproducible(platform: str) -> None:
    a = render_device(province_wr(platform), LabTestSecrets())
    b = render_device(province_wr(platform), LabTestSecrets())
    assert a == b
