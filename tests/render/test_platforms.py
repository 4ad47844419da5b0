"""The platform registry is the one home of platform facts; the inventory refuses what jinbao cannot do."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.errors import JinbaoError
from inventory.platforms import PLATFORMS, ROUTER_PLATFORMS, network_platform_problem
from network.ifnames import naming
from network.render.engine import TEMPLATE_DIR
from network.render.platforms import PLATFORMS as RENDER
from network.validate import validator_name

ROOT = Path(__file__).resolve().parent.parent.parent


def test_every_renderable_platform_has_templates_a_validator_and_a_deploy_path() -> None:
    for name, p in PLATFORMS.items():
        assert naming(name) is p.ifnames
        if p.render is None:
            continue
        assert (TEMPLATE_DIR / p.render.template).is_file() and (TEMPLATE_DIR / p.render.macros).is_file()
        assert validator_name(name) in ("frr", "ios_like")
        assert p.deploy is not None, f"{name} renders but cannot be deployed"
        assert RENDER[name] is p.render


def test_one_name_per_platform() -> None:
    assert "ios" not in PLATFORMS and "cisco_ios" in ROUTER_PLATFORMS
    assert PLATFORMS["cisco_ios"].deploy.driver == "ios"  # type: ignore[union-attr]  # NAPALM's name is a fact


def test_network_platform_problems() -> None:
    assert network_platform_problem("huawei_vrp", "router") is None
    assert network_platform_problem("linux_nftables", "firewall") is None
    assert "cannot be rendered and deployed" in (network_platform_problem("huawei_usg", "firewall") or "")
    assert "not a router platform" in (network_platform_problem("linux_nftables", "router") or "")
    assert "unknown platform" in (network_platform_problem("junos", "router") or "")
    assert network_platform_problem("linux", "server") is None


def test_inventory_load_refuses_a_firewall_jinbao_cannot_render(tmp_path: Path) -> None:
    from inventory.load import load

    for f in ("regions.csv", "jinbao.yaml"):
        (tmp_path / f).write_text((ROOT / "inventory" / f).read_text(encoding="utf-8"), encoding="utf-8")
    doc = yaml.safe_load((tmp_path / "jinbao.yaml").read_text(encoding="utf-8"))
    doc["platforms"]["default"]["FW"] = "huawei_usg"
    (tmp_path / "jinbao.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(JinbaoError, match=r"FW01: platform 'huawei_usg' cannot be rendered and deployed") as e:
        load(tmp_path)
    assert "\n" not in str(e.value) and "jinbao.yaml" in str(e.value)
