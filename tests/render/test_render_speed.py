"""Thousands of configs must render in seconds; the parallel path must not change a byte."""

from __future__ import annotations

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


def test_render_1200_mixed_devices_hashes_each_secret_once(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Speed is measured by bench/render.py; what keeps it fast is structural and tested here: with a
    # vault-held salt the Cisco scrypt hash is one computation per password for all devices (docs/templates.md).
    import hashlib

    from network import secrets as secrets_mod

    calls: list[bytes] = []
    real = hashlib.scrypt

    def counting(password: bytes, **kw):  # type: ignore[no-untyped-def]
        calls.append(password)
        return real(password, **kw)

    monkeypatch.setattr(secrets_mod.hashlib, "scrypt", counting)
    secrets_mod.cisco_type9.cache_clear()
    secrets = LabTestSecrets(overrides={"jb-local-admin_salt": "Jb7Salt0fVault"})
    batch = _batch(1200)
    manifest = render_many(batch, secrets, tmp_path / "out", workers=1)  # one process: the calls are seen here
    assert len(manifest["devices"]) == 1200
    assert calls and len(calls) == len(set(calls)), f"{len(calls)} scrypt computations for {len(set(calls))} passwords"
