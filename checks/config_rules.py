"""Configuration rules of the catalogue, on one configuration text (rendered or backed-up running).

`validator` rules are the findings of network/validate (called, never copied); `require`/`forbid` are line
regexes per platform; the per-neighbour BGP rules the validators do not have for FRR are here. eBGP session
protection (key AND GTSM) is network/validate/hardening.py's `session_protection`, called on every platform.
Pure functions: text in, verdicts out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from checks.catalogue import ConfigRule, Control
from network.validate import validate_config
from network.validate.hardening import session_protection

VALIDATOR_PLATFORMS = ("cisco_ios", "huawei_vrp", "h3c_comware")


@dataclass(frozen=True)
class Neighbour:
    address: str
    remote_as: str
    ebgp: bool
    inbound: bool = False
    max_prefix: bool = False
    bfd: bool = False


# Per platform: the BGP process line (group 1 = local AS), the neighbour line (1 = address, 2 = AS),
# and per-neighbour property regexes (group 1 = address).
_BGP = {
    "frr": (r"^router bgp (\d+)", r"^\s*neighbor (\S+) remote-as (\S+)",
            {"inbound": r"^\s*neighbor (\S+) (?:route-map \S+|prefix-list \S+|filter-list \S+) in\s*$",
             "max_prefix": r"^\s*neighbor (\S+) maximum-prefix \d+",
             "bfd": r"^\s*neighbor (\S+) bfd(?:\s|$)"}),
    "cisco_ios": (r"^router bgp (\d+)", r"^\s*neighbor (\S+) remote-as (\d+)", {}),
    "huawei_vrp": (r"^bgp (\d+)", r"^\s*peer (\S+) as-number (\d+)", {}),
    "h3c_comware": (r"^bgp (\d+)", r"^\s*peer (\S+) as-number (\d+)", {}),
}


def neighbours(text: str, platform: str) -> list[Neighbour]:
    """Every BGP neighbour with the properties the rules look at (line-based: the BGP block is flat)."""
    proc_rx, nb_rx, props = _BGP[platform]
    local = next((m.group(1) for line in text.splitlines() if (m := re.match(proc_rx, line))), None)
    if local is None:
        return []
    found: dict[str, dict[str, object]] = {}
    flags: dict[str, set[str]] = {k: set() for k in props}
    for line in text.splitlines():
        if m := re.match(nb_rx, line):
            ras = m.group(2)
            ebgp = ras != local and ras != "internal"
            found[m.group(1)] = {"remote_as": ras, "ebgp": ebgp}
        for key, rx in props.items():
            if m := re.match(rx, line):
                flags[key].add(m.group(1))
    return [Neighbour(a, str(v["remote_as"]), bool(v["ebgp"]),
                      **{k: a in flags[k] for k in props}) for a, v in found.items()]


def _builtin(name: str, text: str, platform: str) -> list[str]:
    """Evidence lines (empty = pass) of a per-neighbour rule."""
    nbs = neighbours(text, platform)
    if name == "bgp-session-protection":  # the render validators' rule, not a copy (network/validate)
        return [f.message for f in session_protection(platform, text.splitlines(), [n.address for n in nbs if n.ebgp])]
    if name == "bgp-import-filter":
        return [f"neighbour {n.address} has no inbound route-map/prefix-list" for n in nbs if not n.inbound]
    if name == "bgp-max-prefix":
        return [f"eBGP neighbour {n.address} has no maximum-prefix" for n in nbs if n.ebgp and not n.max_prefix]
    if name == "bgp-bfd":
        return [f"eBGP neighbour {n.address} has no BFD" for n in nbs if n.ebgp and not n.bfd]
    raise ValueError(f"unknown builtin config rule {name!r}")


def _lines(text: str) -> list[str]:
    return text.splitlines()


def _regex_rule(rule: ConfigRule, text: str, platform: str) -> list[str]:
    lines = _lines(text)
    out = [f"missing /{rx}/" for rx in rule.require.get(platform, ())
           if not any(re.search(rx, line) for line in lines)]
    for rx in rule.forbid.get(platform, ()):
        hit = next((line for line in lines if re.search(rx, line)), None)
        if hit is not None:
            out.append(f"forbidden /{rx}/ present")
    return out


def evaluate(control: Control, text: str, platform: str, findings: dict[str, list[str]] | None = None
             ) -> tuple[str, str]:
    """(status, evidence) of one config control on one configuration. `findings` = validator findings by
    rule (computed once per configuration by `validator_findings`)."""
    rule = control.rule
    assert rule is not None
    evidence: list[str] = []
    if rule.validator and platform in VALIDATOR_PLATFORMS:
        found = findings if findings is not None else validator_findings(text, platform)
        evidence += found.get(rule.validator, [])
    elif rule.builtin_frr and platform == "frr":
        evidence += _builtin(rule.builtin_frr, text, platform)
    if rule.builtin:
        evidence += _builtin(rule.builtin, text, platform)
    evidence += _regex_rule(rule, text, platform)
    if evidence:
        more = f" (+{len(evidence) - 5} more)" if len(evidence) > 5 else ""
        return "fail", "; ".join(evidence[:5]) + more
    return "pass", _pass_evidence(rule, text, platform)


def _pass_evidence(rule: ConfigRule, text: str, platform: str) -> str:
    if rule.validator or rule.builtin or rule.builtin_frr:
        n = len(neighbours(text, platform)) if platform in _BGP else 0
        what = rule.validator or rule.builtin or rule.builtin_frr
        return f"{what}: clean" + (f" ({n} BGP neighbours)" if n and "bgp" in str(what) else "")
    return "present: " + ", ".join(f"/{rx}/" for rx in rule.require.get(platform, ()))


def validator_findings(text: str, platform: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in validate_config(text, platform):
        out.setdefault(f.rule, []).append(f.message)
    return out


def applicable(controls: Iterable[Control], role: str, platform: str) -> list[Control]:
    return [c for c in controls if c.kind == "config" and c.applies_to.matches(role, platform)]
