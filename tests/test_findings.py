"""One Finding class, each domain's JSON unchanged: every line below was recorded from the code before the
classes were unified (main at fd1ca57: `ipplan check --json`, `verify --json`, `policy verify --json` on a
tampered copy of the real inventory), and each domain's builder and shape must give it back byte for byte."""

from __future__ import annotations

import json

import pytest

from core.findings import Finding

IPPLAN = [
    '{"rule": "orphan", "key": "business/4/370500-AS001", "message": "parent business/4/370500-DC is not in the '
    'registry"}',
    '{"rule": "unallocated", "key": "business/4/370300-AS501", "message": "needed by the inventory but not '
    'allocated"}',
]
VERIFY = [
    '{"rule": "session-protection", "devices": ["JB-140300-DC-WR01", "JB-140000-DC-WR01"], "message": "eBGP '
    'session JB-140300-DC-WR01 -> 100.100.104.128 has no key"}',
    '{"rule": "unique", "devices": [], "message": "x"}',
]
POLICY = [
    '{"site": "140100-DC", "platform": "nftables", "kind": "unplanned", "message": "line 53 (root0) permits '
    '140100-DC production -> 140100-DC exchange tcp/8080 (e.g. 10.26.0.0 -> 10.26.1.0), which the policy does '
    'not allow", "line": 53, "example": {"src": "10.26.0.0", "dst": "10.26.1.0", "protocol": "tcp", "port": 8080, '
    '"src_zone": "140100-DC production", "dst_zone": "140100-DC exchange"}}',
    '{"site": "140100-DC", "platform": "huawei", "kind": "unreachable", "message": "line 31 (-) can never match: '
    'shadowed by earlier lines (first: line 4, production-to-exchange-production-exchange)", "line": 31, '
    '"example": {}}',
    '{"site": "140100-DC", "platform": "h3c", "kind": "missing", "message": "flow x (y) is not permitted: a is '
    'dropped", "line": null, "example": {"src": "10.26.0.1", "dst": "10.26.1.1", "protocol": "udp", "port": 53, '
    '"src_zone": "a", "dst_zone": "b"}}',
]
SEPARATION = [
    '{"device": "JB-140100-DC-WR01", "site": "140100-DC", "kind": "filter", "what": "prefix-list STRAY seq 5 '
    'permits 172.19.64.0/24", "pool": "172.16.0.0/12", "message": "JB-140100-DC-WR01 (140100-DC): filter '
    'prefix-list STRAY seq 5 permits 172.19.64.0/24 lies in the office network 172.16.0.0/12"}',
]


@pytest.mark.parametrize("line", IPPLAN)
def test_ipplan_json_is_unchanged(line: str) -> None:
    from ipplan.check import JSON

    d = json.loads(line)
    assert json.dumps(Finding(d["rule"], d["key"], d["message"]).as_dict(JSON)) == line


@pytest.mark.parametrize("line", VERIFY)
def test_verify_json_is_unchanged(line: str) -> None:
    from network.verify import Report

    d = json.loads(line)
    rep = Report()
    rep.add(d["rule"], tuple(d["devices"]), d["message"])
    assert json.dumps(rep.as_dict()["findings"][0]) == line
    assert rep.findings[0].subject == ", ".join(d["devices"])  # what the text output prints


@pytest.mark.parametrize("line", POLICY)
def test_policy_json_is_unchanged(line: str) -> None:
    from network.policy.analyze import JSON, finding_at

    d = json.loads(line)
    f = finding_at(d["site"], d["platform"], d["kind"], d["message"], d["example"], d["line"])
    assert json.dumps(f.as_dict(JSON)) == line


@pytest.mark.parametrize("line", SEPARATION)
def test_separation_json_is_unchanged(line: str) -> None:
    from network.policy.separation import JSON, _path

    d = json.loads(line)
    assert json.dumps(_path(d["device"], d["site"], d["kind"], d["what"], d["pool"]).as_dict(JSON)) == line


def test_a_shape_names_only_fields_and_detail_keys() -> None:
    f = Finding("r", "s", "m", {"extra": 1})
    assert f.as_dict((("a", "rule"), ("b", "extra"), ("c", "severity"))) == {"a": "r", "b": 1, "c": "error"}
    with pytest.raises(KeyError):
        f.as_dict((("a", "missing"),))
