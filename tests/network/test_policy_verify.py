"""Analysis: allowed flows permitted, nothing else permitted (with an example flow naming site, zones and
port), no dead rule lines — over generated rulesets, and over rulesets changed the way a hand edit on a
device would change them (the negative tests of issue 11, item 7)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from network.policy.analyze import analyze
from network.policy.generate import render_site
from network.policy.parse import parse_cisco
from network.policy.service import verify_sites, verify_texts
from network.policy.space import contains, minus, subtract
from tests.conftest import jinbao

SITE = "140100-DC"
PROD, EXCH = "10.26.0.0", "10.26.1.0"  # Taiyuan's production and exchange zones in the record


@pytest.fixture(scope="module")
def texts(world, defs) -> dict[str, str]:
    return render_site(world, defs, SITE)


# An extra line opening production to exchange on tcp/8080, in each platform's own syntax, placed just
# before the default deny (where a hurried hand edit would put it).
EXTRA = {
    "nftables": ("        jump default-deny", f"        ip saddr {PROD}/24 ip daddr {EXCH}/24 tcp dport 8080 "
                 "ct state new accept\n        jump default-deny"),
    "cisco": (" remark default-deny\n deny ip any any",
              f" permit tcp {PROD} 0.0.0.255 {EXCH} 0.0.0.255 eq 8080\n remark default-deny\n deny ip any any"),
    "huawei": (" rule 75 deny ip\n", f" rule 73 permit tcp source {PROD} 0.0.0.255 destination {EXCH} 0.0.0.255 "
               "destination-port eq 8080\n rule 75 deny ip\n"),
    "h3c": (" rule 75 deny ip\n", f" rule 73 permit tcp source {PROD} 0.0.0.255 destination {EXCH} 0.0.0.255 "
            "destination-port eq 8080\n rule 75 deny ip\n"),
}


def test_generated_rulesets_of_a_site_are_clean(world, texts):
    rep = verify_texts(world, SITE, texts)
    assert rep.findings == []
    assert all(n > 20 for n in rep.lines.values())


@pytest.mark.parametrize("platform", list(EXTRA))
def test_an_unplanned_port_from_production_to_exchange_is_reported(world, texts, platform):
    old, new = EXTRA[platform]
    assert old in texts[platform]
    rep = verify_texts(world, SITE, {platform: texts[platform].replace(old, new, 1)})
    [f] = [f for f in rep.findings if f.rule == "unplanned"]
    # VRP / Comware: the hand-added ACL line is in no zone policy rule either, and that is reported too
    assert [g.rule for g in rep.findings if g is not f] == (["zone-policy"] if platform in ("huawei", "h3c") else [])
    ex = f.detail["example"]
    assert ex["src_zone"] == f"{SITE} production" and ex["dst_zone"] == f"{SITE} exchange"
    assert (ex["protocol"], ex["port"]) == ("tcp", 8080)
    assert f"{SITE} production -> {SITE} exchange tcp/8080" in f.message


def test_a_shadowed_rule_is_reported_unreachable(world, texts):
    # the same SSH rule again, after the original: it can never match
    dup = f"permit tcp 100.65.160.0 0.0.0.31 {PROD} 0.0.0.255 eq 22"
    text = texts["cisco"].replace(" remark default-deny", f" remark copy-of-ssh\n {dup}\n remark default-deny", 1)
    [f] = verify_texts(world, SITE, {"cisco": text}).findings
    assert f.rule == "unreachable" and "copy-of-ssh" in f.message and "shadowed" in f.message
    assert "management-access-management-production-tcp" in f.message


def test_a_rule_that_matches_nothing_is_reported_empty(world, texts):
    text = texts["cisco"].replace(" remark default-deny", " permit tcp any any range 100 50\n remark default-deny", 1)
    [f] = verify_texts(world, SITE, {"cisco": text}).findings
    assert f.rule == "unreachable" and "matches no packet" in f.message


def test_a_missing_flow_is_reported_with_a_dropped_example(world, texts):
    text = "\n".join(ln for ln in texts["nftables"].splitlines() if "tcp dport 8444" not in ln)
    fs = verify_texts(world, SITE, {"nftables": text}).findings
    assert {f.rule for f in fs} == {"missing"} and len(fs) == 2  # IPv4 and IPv6
    assert "exchange-upload (140100-DC exchange -> 140000-DC exchange)" in fs[0].message
    assert fs[0].detail["example"]["port"] == 8444


def test_an_accepting_default_policy_is_found(world, texts):
    text = texts["nftables"].replace("policy drop;", "policy accept;").replace("        jump default-deny\n", "")
    fs = verify_texts(world, SITE, {"nftables": text}).findings
    assert fs and all(f.rule == "unplanned" for f in fs)
    assert "the default policy (accept)" in fs[0].message


def test_a_vendor_acl_without_its_final_deny_lets_the_rest_through(world, texts):
    text = texts["huawei"].replace(" rule 75 deny ip\n rule 75 description default-deny\n", "", 1)
    found = verify_texts(world, SITE, {"huawei": text}).findings
    fs = [f for f in found if f.rule == "unplanned"]
    assert fs and "the default policy (accept)" in fs[0].message
    assert all("." in f.detail["example"]["src"] for f in fs)  # IPv4 only: the IPv6 ACL still ends in deny
    # and the zone policy, which still denies the rest, no longer means the ACL
    assert [f.message for f in found if f.rule != "unplanned"] == [
        "rule default-deny: matches other IPv4 packets than the ACL's lines of that name"]


def test_a_family_without_a_forward_chain_is_open(world, texts):
    """An IPv4-only ruleset leaves IPv6 forwarding unfiltered: the audit says so instead of trusting it."""
    v4_only = texts["nftables"][:texts["nftables"].index("table ip6 filtering_policies")]
    fs = verify_texts(world, SITE, {"nftables": v4_only}).findings
    assert fs and all(f.rule == "unplanned" and ":" in f.detail["example"]["src"] for f in fs)


def test_two_forward_chains_are_refused_not_misjudged(world, texts):
    from core.errors import JinbaoError

    twice = texts["nftables"] + texts["nftables"].replace("table ip filtering_policies", "table ip other", 1)
    with pytest.raises(JinbaoError, match="more than one IPv4 forward base chain"):
        verify_texts(world, SITE, {"nftables": twice})


def test_an_empty_accepting_forward_chain_is_neutral(world, texts):
    debian = "table inet filter {\n\tchain forward {\n\t\ttype filter hook forward priority filter;\n\t}\n}\n"
    assert verify_texts(world, SITE, {"nftables": debian + texts["nftables"]}).findings == []


def test_cli_audits_a_device_file(tmp_path: Path, texts):
    old, new = EXTRA["nftables"]
    f = tmp_path / "running.nft"
    f.write_text(texts["nftables"].replace(old, new, 1))
    r = jinbao("policy", "verify", "--scope", SITE, "--platform", "linux_nftables", "--config", str(f), "--json")
    assert r.returncode == 1, r.stderr
    [finding] = json.loads(r.stdout)["findings"]
    assert finding["kind"] == "unplanned" and finding["example"]["port"] == 8080
    f.write_text(texts["nftables"])
    r = jinbao("policy", "verify", "--scope", SITE, "--platform", "nftables", "--config", str(f))
    assert r.returncode == 0 and "ok" in r.stdout


def test_cli_audit_of_an_unreadable_rule_is_a_one_line_error(tmp_path: Path, texts):
    f = tmp_path / "running.acl"
    f.write_text(texts["cisco"].replace("eq 5432", "neq 5432", 1))
    r = jinbao("policy", "verify", "--scope", SITE, "--platform", "cisco", "--config", str(f))
    assert r.returncode == 2 and "running.acl: line" in r.stderr and "unsupported port match 'neq'" in r.stderr


def test_a_province_verifies_clean_in_parallel(world):
    sites = [s for s in world.firewall_sites if s.startswith("14")]
    rep = verify_sites(world, sites, workers=2)
    assert rep.findings == [] and len(rep.sites) == len(sites) > 10
    assert rep.rule_lines > 1000


@pytest.mark.slow
def test_the_nation_verifies_clean():
    r = jinbao("policy", "verify", "--json")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    rep = json.loads(r.stdout)
    assert rep["ok"] and rep["sites_checked"] == 356 and rep["rule_lines"] > 30000


# -- the interval arithmetic itself, against brute force on a small universe -------------------------
def _points(boxes):
    return {(a, b, c, d) for a in range(8) for b in range(8) for c in range(3) for d in range(3)
            if any(contains(x, (a, b, c, d)) for x in boxes)}


def _box(rnd):
    def iv(top):
        lo = rnd.randrange(top)
        return lo, rnd.randrange(lo, top)
    return (iv(8), iv(8), iv(3), iv(3))


def test_subtraction_matches_brute_force():
    rnd = random.Random(11)
    for _ in range(300):
        a, cuts = _box(rnd), [_box(rnd) for _ in range(rnd.randrange(1, 4))]
        rest = minus([a], cuts)
        assert _points(rest) == _points([a]) - _points(cuts)
        assert sum(len(_points([r])) for r in rest) == len(_points(rest))  # pieces are disjoint
    assert subtract(((0, 7),) * 4, ((2, 3),) * 4)  # a box minus a box inside it is not empty


def test_the_example_flow_is_really_accepted_by_the_line_named(world, texts):
    """Evaluated packet by packet (first match): the example packet of an unplanned finding is accepted,
    and by the very line the finding names."""
    old, new = EXTRA["cisco"]
    rs = parse_cisco(texts["cisco"].replace(old, new, 1))
    [f] = analyze(world, SITE, "cisco", rs)
    import ipaddress
    ex = f.detail["example"]
    pkt = (int(ipaddress.ip_address(ex["src"])), int(ipaddress.ip_address(ex["dst"])), 6, 8080)
    first = next(ln for ln in rs.lines[4] if any(contains(b, pkt) for b in ln.boxes))
    assert first.lineno == f.detail["line"] and first.action == "accept"
