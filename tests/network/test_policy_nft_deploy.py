"""The ruleset artifact's deploy path against the real nftables, inside a network namespace created for
the test (never the host's ruleset): check, dry-run diff, atomic apply that leaves other tables alone,
commit-confirm with automatic rollback, explicit rollback, refusal of a second pending commit."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest

from network.policy.generate import render_site
from network.policy.nft_deploy import CmdResult, NftError, NftRulesetAdapter

pytestmark = pytest.mark.integration
SITE = "140100-DC"
OTHER = "table inet jbpo_mgmt {\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n\t}\n}\n"


@pytest.fixture
def ns(tmp_path: Path):
    name = f"jbpo-nft-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    state = tmp_path / "state"
    try:
        yield name, str(state)
    finally:
        pid = state / "revert.pid"
        if pid.exists():  # a revert timer this test started and did not see through
            subprocess.run(["kill", pid.read_text().strip()], check=False)
        subprocess.run(["ip", "netns", "del", name], check=True)


def _runner(name: str):
    def run(argv: list[str], stdin: str | None) -> CmdResult:
        r = subprocess.run(["ip", "netns", "exec", name, *argv], input=stdin, capture_output=True, text=True,
                           timeout=60)
        return CmdResult(r.returncode, r.stdout, r.stderr)
    return run


def _nft(name: str, *args: str) -> str:
    return subprocess.run(["ip", "netns", "exec", name, "nft", *args], capture_output=True, text=True,
                          check=True).stdout


@pytest.fixture(scope="module")
def candidate(world, defs) -> str:
    return render_site(world, defs, SITE, ("nftables",))["nftables"]


def test_diff_apply_and_idempotence(ns, candidate, world):
    name, state = ns
    subprocess.run(["ip", "netns", "exec", name, "nft", "-f", "-"], input=OTHER, text=True, check=True)
    fw = NftRulesetAdapter(_runner(name), state)
    d = fw.diff(candidate)
    assert "+table ip filtering_policies" in d and "tcp dport 5432" in d
    assert "filtering_policies" not in _nft(name, "list", "ruleset")  # a dry run changes nothing
    assert fw.commit(candidate, None, "test") is None
    rules = _nft(name, "list", "ruleset")
    assert "table ip filtering_policies" in rules and "table ip6 filtering_policies" in rules
    assert "table inet jbpo_mgmt" in rules  # other tables untouched
    assert fw.diff(candidate) == ""  # applied: nothing left to change
    # the running ruleset, as `nft list` prints it, audits clean against the policy
    from network.policy.service import verify_texts

    assert verify_texts(world, SITE, {"nftables": _nft(name, "list", "ruleset")}).findings == []
    fw.commit(candidate, None, "again")  # re-applying replaces, never duplicates
    # prod->exch, replication and exchange->database service address, v4 and v6
    assert _nft(name, "list", "ruleset").count("tcp dport 5432") == 6


def test_a_bad_candidate_changes_nothing(ns, candidate):
    name, state = ns
    fw = NftRulesetAdapter(_runner(name), state)
    fw.commit(candidate, None, "good")
    before = _nft(name, "list", "ruleset")
    with pytest.raises(NftError, match="nft commit"):
        fw.commit(candidate.replace("tcp dport 5432", "tcp dport 99999", 1), None, "bad")
    assert _nft(name, "list", "ruleset") == before


def test_unconfirmed_commit_reverts_by_itself(ns, candidate):
    name, state = ns
    fw = NftRulesetAdapter(_runner(name), state)
    fw.commit(candidate, None, "base")
    changed = candidate.replace("tcp dport 8443", "tcp dport 8446")
    t0 = time.monotonic()
    assert fw.commit(changed, 8, "try") == 8
    assert fw.pending() and "8446" in _nft(name, "list", "ruleset")
    with pytest.raises(NftError, match="awaits confirmation"):
        fw.commit(candidate, 8, "second")  # someone else's pending change is never taken over
    assert time.monotonic() - t0 < 8, "the machine is too slow for this window"
    deadline = time.monotonic() + 20
    while fw.pending() and time.monotonic() < deadline:
        time.sleep(0.2)
    rules = _nft(name, "list", "ruleset")
    assert not fw.pending() and "8446" not in rules and "8443" in rules


def test_confirm_keeps_and_rollback_restores(ns, candidate):
    name, state = ns
    fw = NftRulesetAdapter(_runner(name), state)
    fw.commit(candidate, None, "base")
    changed = candidate.replace("tcp dport 8443", "tcp dport 8446")
    fw.commit(changed, 3, "try")
    fw.confirm()
    assert not fw.pending()
    time.sleep(3.5)  # past the window: confirmed means kept
    assert "8446" in _nft(name, "list", "ruleset")
    fw.rollback()  # back to the ruleset before the last commit
    rules = _nft(name, "list", "ruleset")
    assert "8446" not in rules and "8443" in rules
