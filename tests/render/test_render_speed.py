"""Thousands of configs must render in seconds; the parallel path must not change a byte."""

from __future__ import annotations

import time
from pathlib import Path

from network.intent_model import DeviceIntent
from network.render import render_many
from network.render.engine import PARALLEL_MIN
from network.secrets import LabTestSecrets

from .fixtures import PLATFORMS, access_router, city_wr, province_wr


def _batch(n: int) -> list[DeviceIntent]:
    base = [f(p) for p in PLATFORMS for f in (province_wr, city_wr, access_router)]
    return [base[i % len(base)].model_copy(update={"hostname": f"JB-{i:06d}-DC-WR01"}) for i in range(n)]


def test_parallel_render_is_identical_to_serial(tmp_path: Path) -> None:
    batch = _batch(PARALLEL_MIN + 40)
    serial = render_many(batch, LabTestSecrets(), tmp_path / "serial", workers=1)
    parallel = render_many(batch, LabTestSecrets(), tmp_path / "parallel", workers=2)
    assert serial == parallel


def test_render_1200_mixed_devices_quickly(tmp_path: Path) -> None:
    # A vault-held salt makes the Cisco scrypt hash one computation for all devices (docs/templates.md);
    # the budget is generous because CI shares two cores with other jobs.
    secrets = LabTestSecrets(overrides={"jb-local-admin_salt": "Jb7Salt0fVault"})
    batch = _batch(1200)
    start = time.perf_counter()
    manifest = render_many(batch, secrets, tmp_path / "out")
    elapsed = time.perf_counter() - start
    assert len(manifest["devices"]) == 1200
    assert elapsed < 20, f"1200 configs took {elapsed:.1f}s"
