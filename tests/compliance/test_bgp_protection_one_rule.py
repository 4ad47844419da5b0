"""eBGP session protection has one definition, network/validate/hardening.py's `session_protection` (the lower
layer, which `render` validates with): the compliance control JB-CFG-BGP-SESSION-PROTECTION calls it, so the
audit and the render validators cannot disagree. Proved on every platform's render with the key, the GTSM, or
both removed (a key without GTSM passed the audit's old rule while the validators refused it)."""

from __future__ import annotations

import re

import pytest

from checks import config_rules
from checks.catalogue import default_catalogue
from network.plan import build_intents
from network.render import render_device
from network.secrets import LabTestSecrets
from network.service import open_network
from network.validate import hardening, validate_config
from tests.conftest import INVENTORY

SAMPLE = "JB-140100-DC-WR01"
CONTROL = default_catalogue().control("JB-CFG-BGP-SESSION-PROTECTION")
KEY = r"(?m)^\s*(?:neighbor|peer) \S+ password .*\n"
GTSM = r"(?m)^\s*(?:neighbor|peer) \S+ (?:ttl-security hops|valid-ttl-hops) 1\n"
EDITS = {"intact": (), "no key": (KEY,), "no GTSM": (GTSM,), "neither": (KEY, GTSM)}


@pytest.fixture(scope="module")
def renders() -> dict[str, str]:
    p = open_network(INVENTORY)
    return {pf: render_device(build_intents(p, {SAMPLE}, platform=pf)[SAMPLE], LabTestSecrets())
            for pf in ("cisco_ios", "huawei_vrp", "h3c_comware", "frr")}


def test_the_audit_calls_the_validators_rule() -> None:
    assert config_rules.session_protection is hardening.session_protection
    assert CONTROL.rule is not None and CONTROL.rule.builtin == "bgp-session-protection"


@pytest.mark.parametrize("edit", list(EDITS))
@pytest.mark.parametrize("platform", ["cisco_ios", "huawei_vrp", "h3c_comware", "frr"])
def test_audit_and_validators_agree(renders: dict[str, str], platform: str, edit: str) -> None:
    text = renders[platform]
    for rx in EDITS[edit]:
        new = re.sub(rx, "", text)
        assert new != text, f"{platform}: /{rx}/ removed nothing: the case no longer tests the rule"
        text = new
    status, evidence = config_rules.evaluate(CONTROL, text, platform)
    if platform == "frr":  # frr.conf is not run through the vendor validators: compare with the rule itself
        ebgp = [n.address for n in config_rules.neighbours(text, platform) if n.ebgp]
        found = [f.message for f in hardening.session_protection(platform, text.splitlines(), ebgp)]
    else:
        found = [f.message for f in validate_config(text, platform) if f.rule in hardening.SESSION_PROTECTION_RULES]
    assert (status == "fail") == bool(found) == (edit != "intact"), (status, evidence, found)
    if found:
        assert evidence.startswith(found[0])
