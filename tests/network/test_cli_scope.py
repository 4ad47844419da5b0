"""`jinbao verify --scope`: a scope is verified together with every site above it up to the ministry."""

from __future__ import annotations

import json

import pytest

from tests.conftest import jinbao


@pytest.mark.parametrize("scope", ["140100", "140100-DC", "140000-DR", "410100"])
def test_verify_scope_below_a_province_passes(scope: str) -> None:
    r = jinbao("verify", "--scope", scope, "--json")
    assert r.returncode == 0, (r.stderr, r.stdout[:2000])
    report = json.loads(r.stdout)
    assert report["ok"] is True and report["findings"] == []
    assert sum(report["checked"].values()) > 0


def test_verify_unknown_scope_is_an_error() -> None:
    r = jinbao("verify", "--scope", "999999", "--json")
    assert r.returncode == 2 and not r.stdout
    assert r.stderr.strip().startswith("error: --scope '999999'"), r.stderr
