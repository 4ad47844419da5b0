"""The platform registry: every fact jinbao knows about a device platform, in one place, data only.

One entry per platform, one name per platform (the inventory's: `cisco_ios`, never `ios`). Code that
differs per platform looks its facts up here; code *adapters* (deploy adapter, validator) are named
here and resolved by the layer that owns them (`network/deploy`, `network/validate`), so this module
imports nothing above the inventory.

Adding a platform = one entry below + its templates in `network/templates/<template>/`.

A network device (router or firewall) must be on a platform jinbao can both render and deploy: the
inventory refuses any other at load time (`check_network_platform`), rather than at render time.
Servers (`linux`) are configured by Ansible, not rendered.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

Kind = Literal["router", "firewall", "server", "artifact"]  # artifact: a second thing deployed to a device
# How a platform stores the local user's login password.
LoginHash = Literal["cisco", "vendor_hash", "none"]
# How it stores reversible keys (BGP MD5, TACACS+): values the device encrypted once (VRP/Comware `cipher`,
# IOS type 6 under `key config-key password-encrypt`), kept in the secret source; or plaintext (frr.conf
# has no encrypted form).
ReversibleKey = Literal["vendor_cipher", "plain"]
# How SNMPv3 keys are written: RFC 3414 localised keys (pinned engine ID), vendor ciphertext, or not at all
# (FRR: snmpd is a Linux service configured elsewhere).
SnmpKey = Literal["localized", "vendor_cipher", "none"]
# How a deploy loads a config: replace the whole running config, or merge lines into it.
LoadMode = Literal["replace", "merge"]
# The device-side revert timer a commit-confirm can arm: any seconds, whole minutes, or none at all.
RevertTimer = Literal["seconds", "minutes", "none"]


@dataclass(frozen=True, slots=True)
class IfNaming:
    loopback: str
    port: str  # format with {n} = 1, 2, ...
    mgmt: str


@dataclass(frozen=True, slots=True)
class RenderSpec:
    """What rendering needs beyond CLI syntax (which lives only in the platform's macros.j2)."""

    name: str
    template: str
    macros: str
    login_hash: LoginHash
    reversible_key: ReversibleKey
    snmp_key: SnmpKey
    snmp_enterprise: int  # IANA PEN used for the pinned SNMP engine ID
    snmp_key_sep: str  # how localised keys are printed (IOS wants colon-separated hex)
    comment: str  # the comment / section separator the templates write


@dataclass(frozen=True, slots=True)
class DeploySpec:
    """How network/deploy reaches and changes a device of this platform."""

    adapter: str  # name of the adapter class in network/deploy/platforms.py (ADAPTERS)
    connection: Literal["napalm", "netmiko"]  # Nornir connection plugin
    driver: str  # NAPALM driver name or Netmiko device_type
    load: LoadMode
    native_diff: bool  # the device/driver computes the diff (else a text diff of running -> intended)
    diff_method: str  # how diffs are made, for reports
    revert: RevertTimer
    revert_max_seconds: int | None = None  # the longest timer the device accepts


@dataclass(frozen=True, slots=True)
class Platform:
    name: str
    kind: Kind
    ifnames: IfNaming
    comment: str  # how drift/backup recognise comment lines
    render: RenderSpec | None = None  # None: jinbao cannot render it
    deploy: DeploySpec | None = None  # None: jinbao cannot deploy it
    validator: str | None = None  # "frr" (vtysh --dryrun) or "ios_like" (structural rules, dialect = name)
    mgmt_vrf: str | None = None  # a management VRF the hardware fixes (None: the network's own name)
    # The Aerleon target compiling the zone firewall of a device of this platform (network/policy/compile.py):
    # the zone interfaces are named this platform's way. One platform per target; None: no zone firewall.
    zone_firewall_target: str | None = None
    # The Aerleon target that writes a zone ruleset (ACL) for a device of this platform: `jinbao policy render|
    # verify --platform <name>` (network/policy/generate.py; the target's own name is accepted too). Several
    # platforms may share a target (huawei_vrp's ACL is huawei's). None: not a `--platform` of the policy.
    policy_target: str | None = None
    # Stated by every entry (keyword-only, no default: an entry without them does not construct).
    # Ansible's network_os for the device (plugins/hostvars.py); None: a Linux host, reached over plain SSH.
    network_os: str | None = field(kw_only=True)
    # The Nornir host platform of the inventory plugins (plugins/nornir_inventory.py): the name NAPALM's
    # get_network_driver knows where there is a driver (nornir-netmiko maps `ios` itself), else Netmiko's
    # device_type. The deploy engine sets its own per connection from `deploy.driver`.
    nornir_platform: str = field(kw_only=True)

    @property
    def can_render(self) -> bool:
        return self.render is not None

    @property
    def can_deploy(self) -> bool:
        return self.deploy is not None


def _render(name: str, login: LoginHash, rev: ReversibleKey, snmp: SnmpKey, pen: int, sep: str,
            comment: str) -> RenderSpec:
    return RenderSpec(name, f"{name}/device.j2", f"{name}/macros.j2", login, rev, snmp, pen, sep, comment)


_NAPALM_FRR = DeploySpec("napalm", "napalm", "frr", "replace", True, "frr-reload --test", "seconds")
_FRR = Platform(
    "frr", "router", IfNaming("lo", "eth{n}", "mgmt0"), "!",
    render=_render("frr", "none", "plain", "none", 30065, "", "!"),
    deploy=_NAPALM_FRR, validator="frr", network_os="frr.frr.frr", nornir_platform="frr",
)

PLATFORMS: dict[str, Platform] = {p.name: p for p in (
    Platform(
        "huawei_vrp", "router", IfNaming("LoopBack0", "GigabitEthernet0/0/{n}", "GigabitEthernet0/0/0"), "#",
        render=_render("huawei_vrp", "vendor_hash", "vendor_cipher", "vendor_cipher", 2011, "", "#"),
        # VRP V8 two-stage configuration over Netmiko: candidate, `commit trial N` / `commit`, `save`
        # (napalm-huawei-vrp has no trial commit and its load_replace_candidate is an empty stub)
        deploy=DeploySpec("vrp", "netmiko", "huawei_vrpv8", "merge", False,
                          "text (candidate lines not in running; static routes to undo)", "seconds", 65535),
        validator="ios_like", policy_target="huawei", network_os="community.network.ce",
        # NAPALM's community driver name; Netmiko maps it to its VRP V5 class (fine for show commands)
        nornir_platform="huawei_vrp",
    ),
    Platform(
        "h3c_comware", "router", IfNaming("LoopBack0", "GigabitEthernet1/0/{n}", "M-GigabitEthernet0/0/0"), "#",
        render=_render("h3c_comware", "vendor_hash", "vendor_cipher", "localized", 25506, "", "#"),
        deploy=DeploySpec("comware", "netmiko", "hp_comware", "merge", False,
                          "text (candidate lines not in running; static routes to undo)", "minutes", 65535 * 60),
        validator="ios_like", zone_firewall_target="h3c", policy_target="h3c",
        network_os="community.network.comware", nornir_platform="hp_comware",
    ),
    Platform(
        "cisco_ios", "router", IfNaming("Loopback0", "GigabitEthernet0/0/{n}", "GigabitEthernet0"), "!",
        render=_render("cisco_ios", "cisco", "vendor_cipher", "localized", 9, ":", "!"),
        deploy=DeploySpec("napalm", "napalm", "ios", "replace", True, "napalm compare_config (replace)",
                          "minutes", 120 * 60),
        validator="ios_like", policy_target="cisco",
        mgmt_vrf="Mgmt-intf",  # ASR1000/ISR4000/C8000 fix GigabitEthernet0 in this VRF
        network_os="cisco.ios.ios", nornir_platform="ios",
    ),
    _FRR,
    # A Linux firewall: addressing and static routing by FRR (zebra/staticd), so it renders and deploys
    # like an FRR router; its zone policy is an nftables ruleset of its own (roadmap: zone isolation).
    replace(_FRR, name="linux_nftables", kind="firewall",
            render=replace(_FRR.render, name="linux_nftables"),  # type: ignore[arg-type]
            zone_firewall_target="nftables", policy_target="nftables", network_os=None, nornir_platform="linux"),
    # Known by name so the inventory can say why it is refused: no templates, no deploy adapter yet.
    Platform("huawei_usg", "firewall", IfNaming("LoopBack0", "GigabitEthernet1/0/{n}", "GigabitEthernet0/0/0"), "#",
             zone_firewall_target="huawei", network_os="community.network.ce", nornir_platform="huawei"),
    Platform("linux", "server", IfNaming("lo", "eth{n}", "mgmt0"), "#", network_os=None, nornir_platform="linux"),
    # A linux_nftables firewall's zone ruleset (network/policy): deployed beside its FRR config over the same
    # SSH login, `nft -c` before an atomic swap of jinbao's tables, an on-device revert timer. No device is on it.
    Platform("nftables", "artifact", IfNaming("lo", "eth{n}", "mgmt0"), "#",
             deploy=DeploySpec("nftables", "napalm", "frr", "replace", False, "nft canonical form (private netns)",
                               "seconds"),
             # checked where it will run: `nft -c` on the firewall before the atomic swap (NftRulesetAdapter)
             validator="on-device", network_os=None, nornir_platform="linux"),
)}

ROUTER_PLATFORMS = frozenset(n for n, p in PLATFORMS.items() if p.kind == "router")


def platform(name: str) -> Platform:
    """The registry entry of `name`; KeyError naming the known platforms if there is none."""
    try:
        return PLATFORMS[name]
    except KeyError:
        raise KeyError(f"unknown platform {name!r} (known: {', '.join(sorted(PLATFORMS))})") from None


def zone_firewall_platforms() -> dict[str, str]:
    """Aerleon target -> the platform whose zone firewall it compiles."""
    return {p.zone_firewall_target: n for n, p in PLATFORMS.items() if p.zone_firewall_target}


def policy_targets() -> dict[str, str]:
    """Device platform -> the Aerleon target of its zone ruleset (`policy_target`)."""
    return {n: p.policy_target for n, p in PLATFORMS.items() if p.policy_target}


def renderable() -> dict[str, RenderSpec]:
    return {n: p.render for n, p in PLATFORMS.items() if p.render is not None}


def deployable() -> tuple[str, ...]:
    return tuple(n for n, p in PLATFORMS.items() if p.deploy is not None)


def network_platform_problem(name: str, role_kind: Kind) -> str | None:
    """Why a device of `role_kind` cannot be on platform `name` (None: it can)."""
    p = PLATFORMS.get(name)
    if p is None:
        return f"unknown platform {name!r} (known: {', '.join(sorted(PLATFORMS))})"
    if role_kind == "router" and p.kind != "router":
        return f"platform {name!r} is not a router platform"
    if role_kind in ("router", "firewall") and not (p.can_render and p.can_deploy):
        lacks = " and ".join(w for w, ok in (("rendered", p.can_render), ("deployed", p.can_deploy)) if not ok)
        return f"platform {name!r} cannot be {lacks} by jinbao (no entry in inventory/platforms.py)"
    return None
