"""What differs between platforms *outside* CLI syntax: template, file naming, how secrets are stored.

CLI syntax itself lives only in `network/templates/<platform>/macros.j2`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

# How a platform stores the local user's login password.
LoginHash = Literal["cisco", "vendor_hash", "none"]
# How it stores reversible keys (BGP MD5, TACACS+): device-encrypted values from the secret source,
# Cisco type 7 computed here, or plaintext (FRR has no encrypted form in frr.conf).
ReversibleKey = Literal["vendor_cipher", "cisco_type7", "plain"]
# How SNMPv3 keys are written: RFC 3414 localised keys (pinned engine ID), vendor ciphertext, or not at all
# (FRR: snmpd is a Linux service configured elsewhere).
SnmpKey = Literal["localized", "vendor_cipher", "none"]


@dataclass(frozen=True, slots=True)
class PlatformSpec:
    name: str
    template: str
    macros: str
    login_hash: LoginHash
    reversible_key: ReversibleKey
    snmp_key: SnmpKey
    snmp_enterprise: int  # IANA PEN used for the pinned SNMP engine ID
    snmp_key_sep: str  # how localised keys are printed (IOS wants colon-separated hex)


PLATFORMS: dict[str, PlatformSpec] = {
    "huawei_vrp": PlatformSpec(
        "huawei_vrp", "huawei_vrp/device.j2", "huawei_vrp/macros.j2",
        "vendor_hash", "vendor_cipher", "vendor_cipher", 2011, "",
    ),
    "h3c_comware": PlatformSpec(
        "h3c_comware", "h3c_comware/device.j2", "h3c_comware/macros.j2",
        "vendor_hash", "vendor_cipher", "localized", 25506, "",
    ),
    "cisco_ios": PlatformSpec(
        "cisco_ios", "cisco_ios/device.j2", "cisco_ios/macros.j2",
        "cisco", "cisco_type7", "localized", 9, ":",
    ),
    "frr": PlatformSpec(
        "frr", "frr/device.j2", "frr/macros.j2",
        "none", "plain", "none", 30065, "",
    ),
}
# A Linux firewall: addressing and static routing by FRR (zebra/staticd), so it renders and deploys like an
# FRR router; its zone policy is an nftables ruleset of its own (roadmap: zone isolation).
PLATFORMS["linux_nftables"] = replace(PLATFORMS["frr"], name="linux_nftables")
