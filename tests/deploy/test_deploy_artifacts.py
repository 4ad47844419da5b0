"""A device with two artifacts (a firewall's FRR routing config and its zone ruleset): the engine applies them
one after the other on that device - routing first, a failure of it skips the ruleset - while devices still
run in parallel. Fake adapters stand in for the connections (the engine's own Nornir runner runs for real);
the lab half is tests/network/test_policy_lab.py."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest

from network.deploy import DeployTarget, PostCheck, deploy
from network.deploy import engine as engine_mod
from network.deploy.engine import device_groups
from network.validate import stamp

ROUTING = "interface eth0\n ip address 10.0.0.2/31\n"
RULESET = "table ip filtering_policies {\n}\n"


def routing(host: str, addr: str = "127.0.0.1") -> DeployTarget:
    return DeployTarget(hostname=host, platform="linux_nftables", host=addr, username="root", key_file="/k",
                        config_text=ROUTING, validated_sha256=stamp(ROUTING),
                        post_checks=[PostCheck.reachable("10.0.0.1")])


def ruleset(host: str, addr: str = "127.0.0.1", **kw: object) -> DeployTarget:
    args: dict[str, object] = dict(hostname=host + ":ruleset", platform="nftables", host=addr, username="root",
                                   key_file="/k", config_text=RULESET, post_checks=[PostCheck.reachable("10.0.0.1")],
                                   device=host)
    args.update(kw)
    return DeployTarget(**args)  # type: ignore[arg-type]


@dataclass
class Device:
    """What the fake devices saw: (target hostname, operation) in the order it happened, across threads."""

    events: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    busy: dict[str, str] = field(default_factory=dict)  # device -> artifact hostname working on it now
    overlaps: list[str] = field(default_factory=list)
    fail: dict[str, str] = field(default_factory=dict)  # target hostname -> "commit" | "ping"
    barrier: threading.Barrier | None = None  # both devices' routing commits must meet here: parallel

    def log(self, target: DeployTarget, op: str) -> None:
        with self.lock:
            self.events.append((target.hostname, op))
            other = self.busy.get(target.device_name)
            if other is not None and other != target.hostname:
                self.overlaps.append(f"{target.hostname} {op} while {other} was busy")
            self.busy[target.device_name] = target.hostname
        time.sleep(0.05)  # long enough for a racing artifact of the same device to show up
        with self.lock:
            if self.busy.get(target.device_name) == target.hostname:
                del self.busy[target.device_name]


class FakeAdapter:
    method = "fake"

    def __init__(self, dev: Device, target: DeployTarget) -> None:
        self.dev, self.t = dev, target

    def running(self) -> str:
        return ""

    def diff(self, intended: str) -> str:
        self.dev.log(self.t, "diff")
        return "+" + intended

    def pending(self) -> bool:
        return False

    def commit(self, intended: str, confirm_seconds: int | None, message: str) -> int | None:
        self.dev.log(self.t, "commit")
        if self.dev.barrier is not None and self.t.platform == "linux_nftables":
            self.dev.barrier.wait(timeout=5)  # BrokenBarrierError (a failed deploy) if devices ran serially
        if self.dev.fail.get(self.t.hostname) == "commit":
            raise RuntimeError("vtysh: configuration rejected")
        return confirm_seconds

    def confirm(self) -> None:
        self.dev.log(self.t, "confirm")

    def rollback(self) -> None:
        self.dev.log(self.t, "rollback")

    def bgp_established(self) -> dict[str, bool]:
        return {}

    def ping(self, address: str, source: str | None) -> tuple[bool, str]:
        self.dev.log(self.t, "ping")
        ok = self.dev.fail.get(self.t.hostname) != "ping"
        return ok, "2/2 replies" if ok else "0/2 replies"


@pytest.fixture
def dev(monkeypatch: pytest.MonkeyPatch) -> Device:
    d = Device()
    monkeypatch.setattr(engine_mod, "open_adapter", lambda task, target: FakeAdapter(d, target))
    return d


def run(targets: list[DeployTarget], dry_run: bool = False) -> dict[str, tuple[str, str | None]]:
    res = deploy(targets, dry_run=dry_run, confirm_seconds=None, check_timeout=0.5, check_interval=0.05,
                 connect_timeout=1)
    assert [r.hostname for r in res] == [t.hostname for t in targets]  # results in target order
    return {r.hostname: (r.status, r.error) for r in res}


def ops(dev: Device, hostname: str) -> list[str]:
    return [op for h, op in dev.events if h == hostname]


def test_routing_then_ruleset_per_device_devices_in_parallel(dev: Device) -> None:
    dev.barrier = threading.Barrier(2)
    # the ruleset given first on purpose: the engine still applies the routing config first
    targets = [ruleset("FW-A"), routing("FW-A"), routing("FW-B"), ruleset("FW-B")]
    got = run(targets)
    assert {s for s, _ in got.values()} == {"committed"}, got
    assert dev.overlaps == []
    for fw in ("FW-A", "FW-B"):
        order = [h for h, _ in dev.events if h.startswith(fw)]
        last_routing = max(i for i, h in enumerate(order) if h == fw)
        first_ruleset = order.index(fw + ":ruleset")
        assert last_routing < first_ruleset, order  # the routing artifact confirmed before the ruleset's diff
        assert ops(dev, fw) == ["diff", "commit", "ping", "confirm"]
        assert ops(dev, fw + ":ruleset") == ["diff", "commit", "ping", "confirm"]
    assert dev.barrier.broken is False  # both routing commits were in flight at once: devices in parallel


def test_a_failed_routing_commit_skips_the_ruleset(dev: Device) -> None:
    dev.fail["FW-A"] = "commit"
    got = run([routing("FW-A"), ruleset("FW-A"), routing("FW-B"), ruleset("FW-B")])
    assert got["FW-A"][0] == "rolled-back" and "configuration rejected" in (got["FW-A"][1] or "")
    status, error = got["FW-A:ruleset"]
    assert status == "skipped" and error == "not attempted: FW-A (applied first on the same device) rolled-back"
    assert ops(dev, "FW-A:ruleset") == []  # never touched: not even a diff
    assert got["FW-B"][0] == got["FW-B:ruleset"][0] == "committed"  # the other device is not held back


def test_failed_post_checks_skip_the_ruleset_and_the_ruleset_failing_leaves_routing(dev: Device) -> None:
    dev.fail["FW-A"] = "ping"
    dev.fail["FW-B:ruleset"] = "ping"
    got = run([routing("FW-A"), ruleset("FW-A"), routing("FW-B"), ruleset("FW-B")])
    assert got["FW-A"][0] == "rolled-back" and got["FW-A:ruleset"][0] == "skipped"
    assert ops(dev, "FW-A")[-1] == "rollback" and ops(dev, "FW-A:ruleset") == []
    # the second artifact failing rolls back only itself: the routing config was confirmed before it began
    assert got["FW-B"][0] == "committed" and got["FW-B:ruleset"][0] == "rolled-back"
    assert ops(dev, "FW-B")[-1] == "confirm"


def test_a_device_that_cannot_be_reached_skips_every_later_artifact(dev: Device) -> None:
    unstamped = DeployTarget(hostname="FW-A", platform="linux_nftables", host="127.0.0.1", username="root",
                             key_file="/k", config_text=ROUTING)  # no validation stamp: refused, "failed"
    got = run([unstamped, ruleset("FW-A")])
    assert got["FW-A"][0] == "failed" and got["FW-A:ruleset"] == (
        "skipped", "not attempted: FW-A (applied first on the same device) failed")
    assert dev.events == []


def test_dry_run_diffs_both_artifacts(dev: Device) -> None:
    got = run([routing("FW-A"), ruleset("FW-A")], dry_run=True)
    assert got == {"FW-A": ("dry-run", None), "FW-A:ruleset": ("dry-run", None)}
    assert [op for _, op in dev.events] == ["diff", "diff"] and dev.events[0][0] == "FW-A"


def test_artifacts_of_one_device_share_one_login() -> None:
    assert [t.hostname for t in device_groups([ruleset("FW-A"), routing("FW-A")])["FW-A"]] == [
        "FW-A", "FW-A:ruleset"]
    with pytest.raises(ValueError, match="FW-A: artifacts FW-A and FW-A:ruleset must share one login"):
        device_groups([routing("FW-A"), ruleset("FW-A", username="admin")])
    with pytest.raises(ValueError, match="duplicate"):
        deploy([routing("FW-A"), routing("FW-A")], dry_run=True, confirm_seconds=None)
