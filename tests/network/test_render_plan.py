"""Real intents from the plan, rendered for every platform and checked by real parsers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from network.plan import build_intents
from network.render import RenderError, render_device, render_many
from network.secrets import LabTestSecrets
from network.validate import validate_config
from tests.conftest import jinbao

HOSTS = ("JB-140000-DC-WR01", "JB-140100-DC-WR01", "JB-140100-AS001-AR01", "JB-100000-DC-WR02",
         "JB-140000-DR-WR01", "JB-310000-DC-WR02", "JB-100000-DR-WR01", "JB-100000-DC-WR01")
# JB-140000-DR-WR01 and JB-310000-DC-WR02: both ends of DR lines; JB-100000-DR-WR01: the national DR router,
# every province's last-resort parent, with the ministry's table from JB-100000-DC-WR01


@pytest.mark.parametrize("platform", ["huawei_vrp", "h3c_comware", "cisco_ios", "frr"])
def test_plan_renders_and_validates(plan, platform: str) -> None:
    intents = build_intents(plan, set(HOSTS), platform)
    for h in HOSTS:
        text = render_device(intents[h], LabTestSecrets())
        assert h in text
        findings = validate_config(text, platform)
        assert findings == [], (h, findings[:3])


def test_render_cli_scope_manifest(tmp_path: Path) -> None:
    out = tmp_path / "cfg"
    r = jinbao("render", "--scope", "140100", "--lab-secrets", "--out", str(out))
    assert r.returncode == 0, r.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    hosts = {d["hostname"] for d in manifest["devices"]}
    assert "JB-140100-DC-WR01" in hosts and "JB-140100-AS001-AR01" in hosts
    assert all(h.startswith("JB-140100-") for h in hosts)
    assert not any(h.endswith(("FW01", "DB01")) for h in hosts)  # routers only, for now
    for d in manifest["devices"]:
        data = (out / d["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == d["sha256"] and d["platform"] == "huawei_vrp"


def test_render_unknown_platform_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "cfg"
    r = jinbao("render", "--scope", "140100-DC", "--platform", "junos", "--lab-secrets", "--out", str(out))
    assert r.returncode != 0 and not out.exists()
    line = r.stderr.strip().splitlines()[-1]
    assert "JB-140100-DC-WR01" in line and "junos" in line


def test_missing_link_allocation_names_device_and_field(plan, tmp_path: Path) -> None:
    """A link whose endpoints lack addresses: the plan refuses, naming the device and the link."""
    from ipplan.registry import Registry
    from network.addressing import Addressing
    from network.plan import PlanInput

    reg = Registry(dict(plan.addr.reg.records))
    key = next(k for k in reg.records if k.startswith("p2p/4/140100-DC/primary:"))
    del reg.records[key]
    broken = PlanInput(inv=plan.inv, addr=Addressing(reg, "ip-registry.tsv"), routing=plan.routing,
                       mgmt_pools=plan.mgmt_pools, ports=plan.ports)
    with pytest.raises(Exception) as exc:
        build_intents(broken, {"JB-140100-DC-WR01"})
    msg = str(exc.value)
    assert "JB-140100-DC-WR01" in msg and "primary:JB-140100-DC-WR01" in msg
    assert "\n" not in msg


def test_render_many_real_intents_is_all_or_nothing(plan, tmp_path: Path) -> None:
    intents = build_intents(plan, {"JB-140100-DC-WR01", "JB-140200-DC-WR01"})
    bad = intents["JB-140200-DC-WR01"].model_copy(update={"platform": "junos"})
    with pytest.raises(RenderError):
        render_many([intents["JB-140100-DC-WR01"], bad], LabTestSecrets(), tmp_path / "x")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(("platform", "line"), [
    ("huawei_vrp", "peer {} default-route-advertise"), ("h3c_comware", "peer {} default-route-advertise"),
    ("cisco_ios", "neighbor {} default-originate"), ("frr", "neighbor {} default-originate")])
def test_parent_sends_default_only_to_children(plan, platform: str, line: str) -> None:
    intent = build_intents(plan, {"JB-140000-DC-WR01"}, platform)["JB-140000-DC-WR01"]
    text = render_device(intent, LabTestSecrets())
    for n in intent.bgp.neighbors:
        assert (line.format(n.address) in text) == (n.role == "downstream"), n.address
