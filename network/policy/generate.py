"""Site policy -> device text for every platform, through Aerleon's Python API (naming definitions,
policy builder, generators). nftables and Cisco are Aerleon's own generators; Huawei VRP and H3C Comware
come from the project's Aerleon plugin (network/policy/vendor.py), discovered through the `aerleon.plugin`
entry point like any third-party generator."""

from __future__ import annotations

import logging
from functools import cache

from aerleon.lib import aclgenerator, naming, plugin_supervisor, policy, policy_builder

from core.errors import JinbaoError
from inventory.platforms import policy_targets
from network.policy.compile import PLATFORMS, aerleon_policy, site_rules
from network.policy.zones import World, naming_definitions

# `--platform` -> Aerleon target: a device platform (the registry's `policy_target`) or a target by its own name
PLATFORM_TARGET = policy_targets() | {t: t for t in PLATFORMS}


@cache
def generators() -> dict[str, type[aclgenerator.ACLGenerator]]:
    """Aerleon's generator registry after plugin discovery. A checkout whose editable install predates the
    entry point (pip has not re-read pyproject.toml) would miss the plugin: register the same class the
    entry point names, so the checkout and the installed package behave alike."""
    logging.getLogger("absl").setLevel(logging.ERROR)
    plugin_supervisor.PluginSupervisor.Start()
    gens = dict(plugin_supervisor.PluginSupervisor.generators)
    if not {"huawei", "h3c"} <= gens.keys():
        from network.policy.vendor import AerleonPlugin

        gens.update(AerleonPlugin().generators)
    return gens


def definitions(world: World) -> naming.Naming:
    defs = naming.Naming()
    defs.ParseDefinitionsObject(naming_definitions(world), "")
    return defs


def target_of(platform: str) -> str:
    try:
        return PLATFORM_TARGET[platform]
    except KeyError:
        raise JinbaoError(f"unknown platform {platform!r} (known: {', '.join(sorted(PLATFORM_TARGET))})",
                          entry="--platform") from None


def render_site(world: World, defs: naming.Naming, site: str, targets: tuple[str, ...] = PLATFORMS
                ) -> dict[str, str]:
    """{target: text} for one site's firewall. Each target gets its own policy object: generators mutate
    the policy they are given, and building two filters afresh costs no more than deep-copying them."""
    rules = site_rules(world, site)
    gens = generators()
    out = {}
    for t in targets:
        try:
            pol = policy.FromBuilder(policy_builder.PolicyBuilder(aerleon_policy(rules, site, t), defs, False, False))
        except (policy.Error, naming.Error) as e:
            raise JinbaoError(f"Aerleon refused the policy: {e}", entry=site) from None
        try:
            out[t] = str(gens[t](pol, 2))
        except aclgenerator.Error as e:
            raise JinbaoError(f"{t} generator: {e}", entry=site) from None
    return out
