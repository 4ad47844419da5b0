"""Interface names per platform. Intents carry real names; this is the only place that knows them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IfNaming:
    loopback: str
    port: str  # format with {n} = 1, 2, ...
    mgmt: str


IFNAMES: dict[str, IfNaming] = {
    "huawei_vrp": IfNaming("LoopBack0", "GigabitEthernet0/0/{n}", "GigabitEthernet0/0/0"),
    "h3c_comware": IfNaming("LoopBack0", "GigabitEthernet1/0/{n}", "M-GigabitEthernet0/0/0"),
    "cisco_ios": IfNaming("Loopback0", "GigabitEthernet0/0/{n}", "GigabitEthernet0"),
    "frr": IfNaming("lo", "eth{n}", "mgmt0"),
    "linux_nftables": IfNaming("lo", "eth{n}", "mgmt0"),
    "linux": IfNaming("lo", "eth{n}", "mgmt0"),
    "huawei_usg": IfNaming("LoopBack0", "GigabitEthernet1/0/{n}", "GigabitEthernet0/0/0"),
}


def naming(platform: str) -> IfNaming:
    return IFNAMES[platform]
