"""RenderError is one line naming the device and the field; render_many writes all or nothing."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from network.intent_model import DeviceIntent
from network.render import RenderError, render_device, render_many
from network.secrets import LabTestSecrets

from .fixtures import access_router, city_wr, province_wr

TEMPLATES = Path(__file__).resolve().parents[2] / "network" / "templates"


def _one_line(exc: RenderError) -> str:
    msg = str(exc)
    assert "\n" not in msg
    return msg


def test_unknown_platform_names_device_and_field() -> None:
    intent = access_router("huawei_vrp").model_copy(update={"platform": "junos"})
    with pytest.raises(RenderError) as ei:
        render_device(intent, LabTestSecrets())
    msg = _one_line(ei.value)
    assert "JB-140100-AS001-AR01" in msg and "'platform'" in msg and "junos" in msg


def test_missing_intent_field_names_device_and_field() -> None:
    # An intent built without validation (as a buggy plan step could) lacking its SNMP block.
    good = access_router("cisco_ios")
    fields = {k: getattr(good, k) for k in DeviceIntent.model_fields if k != "snmp"}
    broken = DeviceIntent.model_construct(**fields)
    with pytest.raises(RenderError) as ei:
        render_device(broken, LabTestSecrets())
    msg = _one_line(ei.value)
    assert "JB-140100-AS001-AR01" in msg and "'snmp'" in msg


def test_missing_bfd_profile_is_named() -> None:
    intent = province_wr("frr").model_copy(update={"bfd_profile": None})
    with pytest.raises(RenderError, match=r"device JB-140000-DC-WR01: field 'bfd_profile'"):
        render_device(intent, LabTestSecrets())


def test_undefined_route_map_is_named() -> None:
    intent = access_router("huawei_vrp")
    nb = intent.bgp.neighbors[0].model_copy(update={"route_map_in": "RM-NOPE"})  # type: ignore[union-attr]
    bgp = intent.bgp.model_copy(update={"neighbors": (nb,)})  # type: ignore[union-attr]
    with pytest.raises(RenderError, match=r"route_map_in'.*RM-NOPE"):
        render_device(intent.model_copy(update={"bgp": bgp}), LabTestSecrets())


def test_missing_template_variable_names_device_and_field(tmp_path: Path) -> None:
    # A template that references a field the view does not have: StrictUndefined must turn that into a
    # RenderError naming the device and the field, not an empty line in a router config.
    tdir = tmp_path / "templates"
    shutil.copytree(TEMPLATES, tdir)
    macros = tdir / "huawei_vrp" / "macros.j2"
    macros.write_text(macros.read_text().replace("sysname {{ d.hostname }}", "sysname {{ d.serial_number }}"))
    with pytest.raises(RenderError) as ei:
        render_device(access_router("huawei_vrp"), LabTestSecrets(), template_dir=tdir)
    msg = _one_line(ei.value)
    assert "JB-140100-AS001-AR01" in msg and "'serial_number'" in msg


def test_missing_secret_names_secret_and_device() -> None:
    with pytest.raises(RenderError) as ei:
        render_device(access_router("cisco_ios"), LabTestSecrets(missing={"jb-snmp-priv"}))
    msg = _one_line(ei.value)
    assert "JB-140100-AS001-AR01" in msg and "jb-snmp-priv" in msg


def test_missing_vendor_hash_names_the_precomputed_secret() -> None:
    with pytest.raises(RenderError, match=r"jb-local-admin_hash_huawei_vrp"):
        render_device(access_router("huawei_vrp"), LabTestSecrets(missing={"jb-local-admin_hash_huawei_vrp"}))


def _intents() -> list[DeviceIntent]:
    return [f(p) for p in ("huawei_vrp", "h3c_comware", "cisco_ios", "frr")
            for f in (province_wr, city_wr, access_router)]


def _distinct(intents: list[DeviceIntent]) -> list[DeviceIntent]:
    # Same hostnames across platforms: suffix the platform so a batch has unique names.
    return [i.model_copy(update={"hostname": f"{i.hostname}-{i.platform.split('_')[0].upper()}"})
            for i in intents]


def test_render_many_writes_configs_and_manifest(tmp_path: Path) -> None:
    out = tmp_path / "out"
    intents = _distinct(_intents())
    manifest = render_many(intents, LabTestSecrets(), out)
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == manifest
    assert len(manifest["devices"]) == len(intents)
    assert [d["hostname"] for d in manifest["devices"]] == sorted(i.hostname for i in intents)
    for dev in manifest["devices"]:
        data = (out / dev["file"]).read_bytes()
        assert dev["file"] == f"{dev['hostname']}.cfg"
        assert hashlib.sha256(data).hexdigest() == dev["sha256"]
    # No temporary directories left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_render_many_one_bad_intent_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    intents = _distinct(_intents())
    bad = intents[3].model_copy(update={"platform": "vyos"})
    with pytest.raises(RenderError) as ei:
        render_many([*intents[:3], bad, *intents[4:]], LabTestSecrets(), out)
    assert bad.hostname in str(ei.value) and "nothing written" in str(ei.value)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_render_many_failure_keeps_previous_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    intents = _distinct(_intents())
    render_many(intents, LabTestSecrets(), out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    changed = [i.model_copy(update={"tier": "changed"}) for i in intents]
    changed[-1] = changed[-1].model_copy(update={"bfd_profile": None})
    with pytest.raises(RenderError):
        render_many(changed, LabTestSecrets(), out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_render_many_rejects_duplicate_hostnames(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="appears twice"):
        render_many([access_router("frr"), access_router("frr")], LabTestSecrets(), tmp_path / "out")
    assert not (tmp_path / "out").exists()
