"""From intents to deploy targets: the rendered config, how to reach the device, what must hold after.

Post-checks follow the plan: every planned BGP session of the device is Established, and every BGP
neighbour's loopback answers a ping from the device. A firewall checks that its default gateway answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.errors import JinbaoError
from inventory.platforms import PLATFORMS
from network.deploy import DeployTarget, PostCheck
from network.intent_model import DeviceIntent
from network.render import RenderError, render_device
from network.secrets import SecretSource
from network.validate import ValidationFailed, validated

LAB_MARKERS = ("LAB-ONLY", "LABONLY")


@dataclass(frozen=True)
class Access:
    """How to log in: the same for every device of a run (per-device differences go in the inventory)."""

    username: str
    key_file: str | None = None
    password: str | None = None
    known_hosts: str | None = None
    lab: bool = False  # LAB-ONLY secrets are allowed only when deploying into the lab


def post_checks(intent: DeviceIntent, intents: Mapping[str, DeviceIntent]) -> list[PostCheck]:
    checks: list[PostCheck] = []
    if intent.bgp is not None and intent.bgp.neighbors:
        checks.append(PostCheck.bgp_established(*(n.address for n in intent.bgp.neighbors)))
        peers = dict.fromkeys(n.peer for n in intent.bgp.neighbors)
        loops = [intents[p].loopback_v4.split("/")[0] for p in peers if p in intents and intents[p].loopback_v4]
        if loops:
            checks.append(PostCheck.reachable(*loops))
    else:
        gws = [r.next_hop for r in intent.static_routes if r.next_hop and r.vrf is None and r.prefix == "0.0.0.0/0"]
        if gws:
            checks.append(PostCheck.reachable(*gws))
    return checks


RULESET_SUFFIX = ":ruleset"  # target name of a firewall's second artifact (its zone ruleset)
RULESET_PLATFORM = "nftables"  # the artifact's registry entry (inventory/platforms.py)


def build_targets(intents: Mapping[str, DeviceIntent], secrets: SecretSource, hosts: Mapping[str, str],
                  access: Access, rulesets: Mapping[str, str] | None = None, *,
                  owned_static: Mapping[str, tuple[str, ...]] | None = None,
                  prune_static_routes: bool = False) -> list[DeployTarget]:
    """One target per device; a firewall named in `rulesets` gets a second one for its zone ruleset
    (`<hostname>:ruleset`, platform nftables): the same login, its own diff, commit-confirm and rollback,
    applied by the engine after the routing config (one device, one artifact at a time). `owned_static`: per
    device, the destinations besides its own static routes whose stale static routes a merge deploy removes
    (the service addresses); `prune_static_routes`: every stale static route (DeployTarget's fields)."""
    targets = []
    for h, intent in intents.items():
        facts = PLATFORMS.get(intent.platform)
        if facts is None or facts.deploy is None:
            raise JinbaoError(f"{h}: platform {intent.platform!r} cannot be deployed yet")
        if not hosts.get(h):
            raise JinbaoError(f"{h}: no management address to reach it (run `jinbao ipplan allocate`)")
        try:
            text = render_device(intent, secrets)
        except RenderError as e:
            raise JinbaoError(str(e)) from None
        try:  # the same check `render` makes: nothing is pushed that its platform's validator rejects
            stamp = validated(text, intent.platform, h)
        except ValidationFailed as e:
            raise JinbaoError(str(e)) from None
        if not access.lab and any(m in text for m in LAB_MARKERS):
            raise JinbaoError(f"{h}: the rendered config holds LAB-ONLY secrets; refusing to deploy it to a"
                              f" real device")
        targets.append(DeployTarget(
            hostname=h, platform=intent.platform, host=hosts[h], username=access.username, key_file=access.key_file,
            password=access.password, known_hosts=access.known_hosts, config_text=text,
            post_checks=post_checks(intent, intents), validated_sha256=stamp,
            owned_static_prefixes=tuple((owned_static or {}).get(h, ())), prune_static_routes=prune_static_routes))
        if rulesets and h in rulesets:
            targets.append(DeployTarget(
                hostname=h + RULESET_SUFFIX, platform=RULESET_PLATFORM, host=hosts[h], username=access.username,
                key_file=access.key_file, password=access.password, known_hosts=access.known_hosts,
                config_text=rulesets[h], post_checks=post_checks(intent, intents), device=h))
    return targets
