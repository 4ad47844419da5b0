"""The platform registry is the one home of platform facts; the inventory refuses what jinbao cannot do."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from core.errors import JinbaoError
from inventory.platforms import (
    PLATFORMS,
    ROUTER_PLATFORMS,
    IfNaming,
    Platform,
    network_platform_problem,
    zone_firewall_platforms,
)
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


def test_every_platform_states_every_fact() -> None:
    """Adding a platform is one entry: the facts the inventory plugins and the policy compiler read are fields
    of the entry (an entry without network_os/nornir_platform does not even construct)."""
    with pytest.raises(TypeError, match="network_os"):
        Platform("x", "router", IfNaming("lo", "eth{n}", "mgmt0"), "!", nornir_platform="x")  # type: ignore[call-arg]
    for name, p in PLATFORMS.items():
        assert p.nornir_platform, name
        # None only for a Linux host (plain SSH): the network devices Ansible drives over network_cli have one
        assert (p.network_os is None) == (p.nornir_platform == "linux"), name
        if p.kind == "firewall":
            assert p.zone_firewall_target, f"{name}: a firewall without an Aerleon target"
    targets = [p.zone_firewall_target for p in PLATFORMS.values() if p.zone_firewall_target]
    assert len(targets) == len(set(targets)), "one platform per Aerleon target"


def test_the_old_call_sites_read_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    from network.policy import compile as policy_compile
    from plugins import hostvars

    # the values the call sites held before they moved here (behaviour unchanged)
    assert {n: hostvars.network_os(n) for n in PLATFORMS} == {
        "huawei_vrp": "community.network.ce", "huawei_usg": "community.network.ce", "cisco_ios": "cisco.ios.ios",
        "h3c_comware": "community.network.comware", "frr": "frr.frr.frr", "linux_nftables": None, "linux": None,
        "nftables": None}
    assert {n: hostvars.nornir_platform(n) for n in PLATFORMS} == {
        "huawei_vrp": "huawei_vrp", "huawei_usg": "huawei", "cisco_ios": "ios", "h3c_comware": "hp_comware",
        "frr": "frr", "linux_nftables": "linux", "linux": "linux", "nftables": "linux"}
    assert policy_compile.TARGET_DEVICE == {"nftables": "linux_nftables", "huawei": "huawei_usg",
                                            "h3c": "h3c_comware"} == zone_firewall_platforms()
    from network.policy.generate import PLATFORM_TARGET

    assert PLATFORM_TARGET == {"linux_nftables": "nftables", "nftables": "nftables", "cisco_ios": "cisco",
                               "cisco": "cisco", "huawei_vrp": "huawei", "huawei": "huawei", "h3c_comware": "h3c",
                               "h3c": "h3c"}  # `policy --platform`: every documented name and alias
    # and they follow an entry that changes
    monkeypatch.setitem(PLATFORMS, "huawei_vrp", replace(PLATFORMS["huawei_vrp"], network_os="v.nos",
                                                         nornir_platform="v.nornir"))
    assert hostvars.network_os("huawei_vrp") == "v.nos" and hostvars.nornir_platform("huawei_vrp") == "v.nornir"
    assert hostvars.nornir_platform("junos") == "junos" and hostvars.network_os("junos") is None
