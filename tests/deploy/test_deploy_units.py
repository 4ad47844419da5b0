"""Deploy engine logic that needs no device: confirm-window arithmetic, diffs for merge platforms,
backup cleaning, target validation, the NAPALM registration."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from napalm import get_network_driver

from network.deploy import DeployTarget, PostCheck
from network.deploy.backup import clean
from network.deploy.engine import _check_deadline, confirm_margin
from network.deploy.platforms import (
    NapalmAdapter,
    StaticScope,
    VrpAdapter,
    canonical_address,
    connection_options,
    merge_diff,
    nornir_platform,
    text_diff,
    undo_static_routes,
)
from network.deploy.runner import build_nornir
from network.drivers import register
from network.drivers.frr import FrrDriver


def tgt(platform: str = "frr", **kw: object) -> DeployTarget:
    args: dict[str, object] = dict(
        hostname="JB-140100-DC-WR01", platform=platform, host="100.126.240.11", username="root",
        key_file="/k", config_text="hostname x\n", known_hosts="/kh",
    )  # fmt: skip
    args.update(kw)
    return DeployTarget(**args)  # type: ignore[arg-type]


def test_register_makes_platform_frr_resolvable() -> None:
    register()
    register()  # idempotent
    assert get_network_driver("frr") is FrrDriver
    assert get_network_driver("custom_napalm.frr") is FrrDriver


def test_confirm_margin_bounds() -> None:
    assert confirm_margin(5) == 2.0
    assert confirm_margin(30) == 6.0
    assert confirm_margin(600) == 15.0


def test_check_deadline_stays_inside_the_window() -> None:
    now = time.monotonic()
    assert _check_deadline(now, 30, 30, None) == pytest.approx(now + 24)
    # IOS rounds a 30 s window up to a 60 s timer: the caller's 30 s still bounds the checks
    assert _check_deadline(now, 30, 60, None) == pytest.approx(now + 24)
    assert _check_deadline(now, 30, 30, 5) == pytest.approx(time.monotonic() + 5, abs=0.1)
    assert _check_deadline(now, None, None, None) == pytest.approx(time.monotonic() + 60, abs=0.1)


def test_device_timer_per_platform() -> None:
    assert NapalmAdapter(None, "frr").revert_seconds(7) == 7
    assert NapalmAdapter(None, "cisco_ios").revert_seconds(30) == 60  # whole minutes, rounded up
    assert NapalmAdapter(None, "cisco_ios").revert_seconds(61) == 120
    assert NapalmAdapter(None, "cisco_ios").revert_seconds(10**6) == 7200  # Cisco's maximum
    assert VrpAdapter(None).revert_seconds(30) == 60  # `commit trial` takes 60 s at least
    assert VrpAdapter(None).revert_seconds(10**6) == 65535
    assert NapalmAdapter(None, "frr").revert_seconds(None) is None


def test_merge_diff_lists_only_missing_lines() -> None:
    running = "#\nsysname A\n#\ninterface GE0/0/1\n description old\n ip address 10.0.0.1 31\n#\n"
    intended = (
        "sysname A\ninterface GE0/0/1\n description new\n ip address 10.0.0.1 31\nbgp 1\n peer 10.0.0.0 as-number 2\n"
    )
    assert merge_diff(running, intended, "#").splitlines() == [
        "  interface GE0/0/1",
        "+  description new",
        "+ bgp 1",
        "+  peer 10.0.0.0 as-number 2",
    ]
    assert merge_diff(running, running, "#") == ""


VRP_RUNNING = """#
sysname A
#
ip route-static 0.0.0.0 0.0.0.0 10.0.0.1 description management default
ip route-static 100.112.3.86 255.255.255.255 10.26.182.3 description service address: active here
ip route-static vpn-instance MGMT 10.9.0.0 255.255.0.0 10.9.0.1
ipv6 route-static fd4a:7000::10:b00 128 fd4a:1000:100:b102::3 description service address: active here
#
bgp 1
 peer 10.0.0.0 as-number 2
#
"""


SERVICE = StaticScope(("100.112.3.86/32", "fd4a:7000::10:b00/128"))  # the plan's service address (its site's)


def test_merge_diff_undoes_the_static_routes_the_intent_no_longer_has() -> None:
    """A merge adds lines only: a static route gone from the intent (a DR drill's service address moving away)
    is undone by route (VPN instance, destination, mask, next hop); its description does not matter. The diff
    lists the removals after the merge's lines, in the order the commit sends them."""
    intended = ("sysname A\nip route-static 0.0.0.0 0.0.0.0 10.0.0.1 description renamed\n"
                "ip route-static vpn-instance MGMT 10.9.0.0 255.255.0.0 10.9.0.1\nbgp 1\n peer 10.0.0.0 as-number 2\n")
    assert merge_diff(VRP_RUNNING, intended, "#", SERVICE).splitlines() == [
        "+ ip route-static 0.0.0.0 0.0.0.0 10.0.0.1 description renamed",  # merged over the old one, not undone
        "- ip route-static 100.112.3.86 255.255.255.255 10.26.182.3 description service address: active here",
        "- ipv6 route-static fd4a:7000::10:b00 128 fd4a:1000:100:b102::3 description service address: active here",
    ]
    assert undo_static_routes(VRP_RUNNING, intended, "#", SERVICE) == [
        "undo ip route-static 100.112.3.86 255.255.255.255 10.26.182.3",
        "undo ipv6 route-static fd4a:7000::10:b00 128 fd4a:1000:100:b102::3",
    ]
    # a moved next hop is a different route: the old one goes, the new one comes (the destination is the
    # intent's own: no scope needed)
    moved = VRP_RUNNING.replace("10.26.182.3 description", "10.26.182.9 description")
    assert undo_static_routes(VRP_RUNNING, moved, "#") == [
        "undo ip route-static 100.112.3.86 255.255.255.255 10.26.182.3"]
    assert merge_diff(VRP_RUNNING, VRP_RUNNING, "#") == ""


def test_an_operators_static_route_is_left_alone_unless_pruning() -> None:
    """A real network's devices carry static routes the plan never had (an operator's, added by hand): a normal
    deploy must not remove them; it removes only stale routes to the plan's own destinations (those the intent
    routes, in that VPN instance, and the service addresses the target names). `--prune-static-routes` removes
    every static route the intent lacks."""
    running = ("ip route-static 192.0.2.0 255.255.255.0 10.0.0.9 description operator: partner network\n"
               "ip route-static vpn-instance MGMT 0.0.0.0 0 10.9.0.254 description operator: second gateway\n"
               "ip route-static 0.0.0.0 0 10.9.0.254\n"
               "ipv6 route-static 2001:db8:77:: 48 NULL0\n"
               "ip route-static 100.112.3.86 32 10.26.182.3\n")
    intended = "ip route-static vpn-instance MGMT 0.0.0.0 0.0.0.0 10.9.0.1\n"
    # the management default is the plan's (its VPN instance): the other next hop there goes; the global
    # default, the partner network and the /48 are not the plan's destinations: kept
    assert undo_static_routes(running, intended, "#") == [
        "undo ip route-static vpn-instance MGMT 0.0.0.0 0 10.9.0.254"]
    assert undo_static_routes(running, intended, "#", SERVICE) == [
        "undo ip route-static vpn-instance MGMT 0.0.0.0 0 10.9.0.254",
        "undo ip route-static 100.112.3.86 32 10.26.182.3"]
    assert not any("192.0.2.0" in ln for ln in merge_diff(running, intended, "#", SERVICE).splitlines())
    pruned = undo_static_routes(running, intended, "#", StaticScope(prune=True))
    assert pruned == [f"undo {' '.join(ln.split(' description ')[0].split())}" for ln in running.splitlines()]
    # only top-level route lines: nothing else that merely reads like one is touched
    assert undo_static_routes(" ip route-static 1.1.1.1 32 NULL0\n", "", "#") == []


def test_static_route_removal_compares_routes_not_spellings_and_never_touches_settings() -> None:
    """One route spelled two ways is one route (address case and zeros, dotted mask or length, interface
    case): nothing undone, no endless drift. Device-wide settings that share the keyword are not routes:
    never undone (a bare `undo ip route-static` would be refused and block every later deploy)."""
    running = ("ipv6 route-static 2001:DB8:14:: 48 NULL0\n"
               "ip route-static 10.9.9.0 24 NULL0\n"
               "ip route-static bfd 10.0.0.2 local-address 10.0.0.1\n"
               "ip route-static default-bfd min-rx-interval 100\n"
               "ip route-static recursive-lookup tunnel\n"
               "ip route-static fast-reroute auto\n"
               "ipv6 route-static vpn-instance MGMT 2001:DB8:FF:: 64 2001:DB8:0:0::1\n")
    intended = ("ipv6 route-static 2001:db8:14:: 48 null0\n"
                "ip route-static 10.9.9.0 255.255.255.0 NULL0\n"
                "ipv6 route-static vpn-instance MGMT 2001:db8:ff:: 64 2001:db8::1\n")
    assert undo_static_routes(running, intended, "#") == []
    assert not any(ln.startswith("- ") for ln in merge_diff(running, intended, "#").splitlines())
    # the aggregate gone from the intent: no longer a destination the plan knows, so kept unless pruning; then
    # undone as the device spells it
    assert undo_static_routes(running, intended.split("\n", 1)[1], "#") == []
    assert undo_static_routes(running, intended.split("\n", 1)[1], "#", StaticScope(prune=True)) == [
        "undo ipv6 route-static 2001:DB8:14:: 48 NULL0"]


def test_text_diff_ignores_comments_blanks_and_trailing_space() -> None:
    assert text_diff("h", "#\nsysname A  \n\n#\n", "sysname A\n", "#") == ""
    diff = text_diff("h", "sysname A\n", "sysname B\n", "#")
    assert "-sysname A" in diff and "+sysname B" in diff and "h running" in diff


def test_backup_clean_masks_secrets_and_drops_volatile_lines() -> None:
    ios = (
        "! Last configuration change at 10:00:00 UTC\n"
        "enable secret 9 $9$abc\n"
        "username a privilege 15 secret 9 $9$x\n"
        "hostname r\n"
    )
    out = clean("cisco_ios", ios, sanitize=True)
    assert "Last configuration change" not in out and "$9$" not in out
    assert "enable secret <removed>" in out and "hostname r" in out
    frr = "router bgp 1\n neighbor 10.0.0.1 password s3cret\n"
    assert "s3cret" not in clean("frr", frr, sanitize=True)
    assert "s3cret" in clean("frr", frr, sanitize=False)


def test_targets_and_checks_are_validated() -> None:
    with pytest.raises(ValueError, match="platform"):
        tgt(platform="junos")
    with pytest.raises(ValueError, match="kind"):
        PostCheck("ospf_full", ("10.0.0.1",))  # type: ignore[arg-type]
    assert PostCheck("reachable", "10.0.0.1").targets == ("10.0.0.1",)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="duplicate"):
        build_nornir([tgt(), tgt()], workers=2, connect_timeout=1)
    assert canonical_address("fd20:0::1") == "fd20::1" and canonical_address("eth1") == "eth1"


def test_nornir_inventory_from_targets() -> None:
    nr = build_nornir([tgt(), tgt("h3c_comware", hostname="JB-140100-AS001-AR01")], workers=5, connect_timeout=3)
    frr, comware = nr.inventory.hosts["JB-140100-DC-WR01"], nr.inventory.hosts["JB-140100-AS001-AR01"]
    assert frr.platform == "frr" and frr.hostname == "100.126.240.11"
    args = frr.connection_options["napalm"].extras["optional_args"]  # type: ignore[index]
    assert args["key_file"] == "/k" and args["known_hosts"] == "/kh"
    assert comware.platform == "hp_comware" and nornir_platform("h3c_comware") == "hp_comware"
    netmiko = comware.connection_options["netmiko"].extras
    assert netmiko is not None and netmiko["ssh_strict"] is True and netmiko["alt_key_file"] == "/kh"
    ios = connection_options(tgt("cisco_ios", options={"global_delay_factor": 2}), 5)["napalm"].extras
    assert ios is not None and ios["optional_args"]["global_delay_factor"] == 2


def test_deploy_refuses_a_config_without_a_matching_validation_stamp() -> None:
    from network.deploy import deploy
    from network.validate import stamp

    unstamped = tgt(host="127.0.0.1", port=1)
    edited = tgt(host="127.0.0.1", port=1, validated_sha256=stamp("hostname y\n"))  # stamp of another text
    for target in (unstamped, edited):
        [res] = deploy([target], dry_run=True, confirm_seconds=None, connect_timeout=1)
        assert res.status == "failed" and "not validated" in (res.error or ""), res
        assert "connect" not in res.timings  # refused before any connection


def test_adapters_follow_the_registry() -> None:
    from inventory.platforms import PLATFORMS
    from network.deploy.platforms import ADAPTERS

    for name in ("frr", "linux_nftables", "cisco_ios"):
        a = NapalmAdapter(None, name)
        assert a.replace == (PLATFORMS[name].deploy.load == "replace")  # type: ignore[union-attr]
    for name, p in PLATFORMS.items():
        if p.deploy is not None:
            assert p.deploy.adapter in ADAPTERS, name
    assert nornir_platform("cisco_ios") == "ios" and nornir_platform("linux_nftables") == "frr"
    assert nornir_platform("huawei_vrp") == "huawei_vrpv8"  # Netmiko's VRP V8 (two-stage commit)


class _FakeAdapter:
    """A device that records what the engine asked of it (no network)."""

    method = "fake"

    def __init__(self, running: str, calls: list[tuple[str, str]], name: str) -> None:
        self.running, self.calls, self.name = running, calls, name
        self.up = True  # the session answers

    def alive(self) -> bool:
        return self.up

    def diff(self, intended: str) -> str:
        self.calls.append((self.name, "diff"))
        return "" if intended == self.running else f"-{self.running}+{intended}"

    def pending(self) -> bool:
        return False

    def commit(self, intended: str, confirm_seconds: int | None, message: str) -> None:
        self.calls.append((self.name, "commit"))
        self.running = intended

    def confirm(self) -> None:
        self.calls.append((self.name, "confirm"))

    def rollback(self) -> None:
        self.calls.append((self.name, "rollback"))


def test_a_staged_deploy_connects_and_diffs_first_and_commits_later(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a DR drill's outage window holds: the commit (and post-checks) alone; nothing changes at stage."""
    from network.deploy import Staged, engine
    from network.validate import stamp

    calls: list[tuple[str, str]] = []
    opened: list[str] = []
    running = {"A": "hostname x\n", "B": "hostname old\n"}

    def fake_open(task: object, target: DeployTarget, attempt: float | None = None) -> _FakeAdapter:
        opened.append(target.hostname)
        return _FakeAdapter(running[target.hostname], calls, target.hostname)

    monkeypatch.setattr(engine, "open_adapter", fake_open)
    targets = [tgt(hostname=h, host="127.0.0.1", validated_sha256=stamp("hostname x\n")) for h in ("A", "B")]
    staged = Staged(targets, message="t")
    staged.stage()
    assert sorted(calls) == [("A", "diff"), ("B", "diff")] and staged.failed() == []
    assert staged.diffs()["A"] == "" and staged.diffs()["B"]
    calls.clear()
    results = staged.commit()
    assert [(r.hostname, r.status) for r in results] == [("A", "unchanged"), ("B", "committed")]
    # A, unchanged at the stage, is diffed again (nothing since): B alone commits, one connection each
    assert sorted(calls) == [("A", "diff"), ("B", "commit"), ("B", "confirm")] and sorted(opened) == ["A", "B"]
    assert "commit" in results[1].timings and "connect" in results[1].timings
    with pytest.raises(RuntimeError, match="closed"):
        staged.commit()  # committed once at most

    calls.clear()
    unused = Staged(targets, message="t")
    unused.stage()
    unused.close()  # a drill that stopped before its phase: nothing was changed
    assert all(c[1] == "diff" for c in calls)


def test_a_staged_deploy_diffs_again_what_was_unchanged_and_reconnects_a_dropped_session(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A staged deploy waits (a failback's rebuild runs between stage and commit): a device found unchanged at the
    stage but changed since (another deploy) is committed, not skipped on the stale empty diff; a device whose
    session dropped meanwhile is connected again and diffed afresh, not committed over a dead session."""
    from network.deploy import Staged, engine
    from network.validate import stamp

    calls: list[tuple[str, str]] = []
    made: dict[str, list[_FakeAdapter]] = {}
    running = {"A": "hostname x\n", "B": "hostname old\n"}

    def fake_open(task: object, target: DeployTarget, attempt: float | None = None) -> _FakeAdapter:
        a = _FakeAdapter(running[target.hostname], calls, target.hostname)
        made.setdefault(target.hostname, []).append(a)
        return a

    monkeypatch.setattr(engine, "open_adapter", fake_open)
    targets = [tgt(hostname=h, host="127.0.0.1", validated_sha256=stamp("hostname x\n")) for h in ("A", "B")]
    staged = Staged(targets, message="t")
    staged.stage()
    assert staged.diffs()["A"] == "" and staged.diffs()["B"]
    made["A"][0].running = "hostname changed-meanwhile\n"  # someone changed A after the stage
    made["B"][0].up = False  # B's session dropped
    calls.clear()
    results = {r.hostname: r for r in staged.commit()}
    assert results["A"].status == "committed" and "rediff" in results["A"].timings
    assert results["B"].status == "committed" and len(made["B"]) == 2  # a second connection
    assert ("B", "commit") in calls and made["B"][1].running == "hostname x\n"  # committed on the new one
    assert made["B"][0].running == "hostname old\n"  # never on the dead one
    assert "reconnect" in results["B"].timings and "connect" in results["B"].timings  # both halves kept


def test_a_dropped_session_is_reconnected_in_short_attempts_within_the_deadline(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside a drill's window a device whose session dropped must not cost the deploy's own timeouts (the FRR
    driver's probe waited up to 120 s, as long as the drill's gate): each attempt is bounded (connect, login,
    probe: RECONNECT_ATTEMPT_S at most, less when less is left), repeated until the deadline, never past it."""
    from network.deploy import Staged, engine
    from network.validate import stamp

    calls: list[tuple[str, str]] = []
    attempts: list[tuple[str, float | None]] = []
    made: dict[str, list[_FakeAdapter]] = {}
    refuse = {"A": 2, "B": 10**6}  # reconnects refused: A twice, B always

    def fake_open(task: object, target: DeployTarget, attempt: float | None = None,
                  fresh: list[object] | None = None) -> _FakeAdapter:
        attempts.append((target.hostname, attempt))
        if attempt is not None and refuse[target.hostname] > 0:
            refuse[target.hostname] -= 1
            raise ConnectionError("refused")
        a = _FakeAdapter("hostname old\n", calls, target.hostname)
        made.setdefault(target.hostname, []).append(a)
        return a

    monkeypatch.setattr(engine, "open_adapter", fake_open)
    monkeypatch.setattr(engine, "RECONNECT_PAUSE_S", 0.05)
    targets = [tgt(hostname=h, host="127.0.0.1", validated_sha256=stamp("hostname x\n")) for h in ("A", "B")]
    staged = Staged(targets, message="t")
    staged.stage()
    for h in ("A", "B"):
        made[h][0].up = False  # both sessions dropped while the drill's playbook ran
    attempts.clear()
    t0 = time.monotonic()
    results = {r.hostname: r for r in staged.commit(deadline=t0 + 3.0)}
    took = time.monotonic() - t0
    a_tries = [a for h, a in attempts if h == "A"]
    assert results["A"].status == "committed" and len(a_tries) == 3, (results["A"], attempts)  # refused twice
    assert made["A"][-1].running == "hostname x\n" and "reconnect" in results["A"].timings  # on the new session
    b = [a for h, a in attempts if h == "B"]
    assert results["B"].status == "failed" and "reconnect attempt(s) failed within the window" in results["B"].error
    assert "refused" in results["B"].error and len(b) > 3, (results["B"].error, b)
    # every attempt bounded by the per-attempt limit and by what was left; none begun with under a second left
    assert all(a is not None and a <= engine.RECONNECT_ATTEMPT_S for _, a in attempts), attempts
    assert b == sorted(b, reverse=True) and b[-1] >= engine.RECONNECT_MIN_S, b
    assert took < 3.0 + 1.0, took  # never past the deadline (plus one pause)
    assert ("B", "commit") not in calls

    # without a deadline: one attempt with the deploy's usual timeouts (a deploy's own staged use)
    attempts.clear()
    refuse["A"] = 0
    staged = Staged(targets[:1], message="t")
    staged.stage()
    made["A"][-1].up = False
    attempts.clear()
    assert staged.commit()[0].status == "committed" and attempts == [("A", None)]


class _Blocking(_FakeAdapter):
    """A session that opens, then hangs on its first liveness exercise (a half-open path, a prompt that never
    comes) until released."""

    def __init__(self, *args: object, release: threading.Event, started: list[float]) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.release, self.started = release, started

    def alive(self) -> bool:
        self.started.append(time.monotonic())
        self.release.wait(60)
        return True


class _Plugin:
    """A Nornir connection plugin as open_adapter(fresh=...) leaves it: `close` releases what blocks on it."""

    def __init__(self, release: threading.Event) -> None:
        self.connection, self.release, self.closed = object(), release, 0

    def close(self) -> None:
        self.closed += 1
        self.release.set()


def _blocking_reconnects(monkeypatch: pytest.MonkeyPatch, plugin: Callable[[threading.Event], _Plugin],
                         calls: list[tuple[str, str]], started: list[float], plugins: list[_Plugin],
                         made: list[_FakeAdapter]) -> None:
    """open_adapter faked: the stage's sessions answer; every reconnect attempt's session blocks in its liveness
    call until its plugin (made by `plugin`) is closed. Short attempt bounds."""
    from network.deploy import engine

    def fake_open(task: object, target: DeployTarget, attempt: float | None = None,
                  fresh: list[object] | None = None) -> _FakeAdapter:
        if attempt is None:  # the stage
            made.append(_FakeAdapter("hostname old\n", calls, target.hostname))
            return made[-1]
        assert fresh is not None  # a reconnect attempt opens a connection it can close at any time
        release = threading.Event()
        plugins.append(plugin(release))
        fresh.append(plugins[-1])
        return _Blocking("hostname old\n", calls, target.hostname, release=release, started=started)

    monkeypatch.setattr(engine, "open_adapter", fake_open)
    monkeypatch.setattr(engine, "RECONNECT_ATTEMPT_S", 0.6)
    monkeypatch.setattr(engine, "RECONNECT_PAUSE_S", 0.05)
    monkeypatch.setattr(engine, "RECONNECT_MIN_S", 0.2)


def test_a_reconnect_attempt_is_bounded_as_a_whole_with_its_liveness(monkeypatch: pytest.MonkeyPatch) -> None:
    """The open bounded wait by wait, and then the new session's liveness call blocking: each attempt still ends
    within its bound (the attempt's connection closed, which ends the blocked call), attempts go on until the
    deadline and never past it, and the device fails as unreachable; nothing is committed."""
    from network.deploy import Staged
    from network.validate import stamp

    calls: list[tuple[str, str]] = []
    started: list[float] = []
    plugins: list[_Plugin] = []
    made: list[_FakeAdapter] = []
    _blocking_reconnects(monkeypatch, _Plugin, calls, started, plugins, made)
    staged = Staged([tgt(hostname="A", host="127.0.0.1", validated_sha256=stamp("hostname x\n"))], message="t")
    staged.stage()
    made[0].up = False  # dropped while the drill's playbook ran
    t0 = time.monotonic()
    result = staged.commit(deadline=t0 + 2.0)[0]
    took = time.monotonic() - t0
    assert result.status == "failed" and "reconnect attempt(s) failed within the window" in result.error
    assert "no answering session within" in result.error, result.error
    assert took < 2.0 + 1.0, took  # the deadline holds (plus a pause), every liveness call blocking
    assert len(started) >= 2, started  # more than one attempt: each given up on at its own bound
    assert all(p.closed >= 1 for p in plugins), [p.closed for p in plugins]  # none left open
    assert ("A", "commit") not in calls


class _SlowClose(_Plugin):
    """A netmiko-based plugin: `close` ends what blocks on the session, then logs out politely (a newline, then
    a wait for a prompt that never comes) until `logout` is set."""

    def __init__(self, release: threading.Event, logout: threading.Event) -> None:
        super().__init__(release)
        self.logout, self.entered = logout, threading.Event()

    def close(self) -> None:
        super().close()
        self.entered.set()
        self.logout.wait(30)
        raise OSError("Socket is closed")  # what netmiko says closing a dead session


def test_a_reconnect_attempt_never_waits_for_a_session_to_close(monkeypatch: pytest.MonkeyPatch) -> None:
    """Closing a netmiko session waits for its polite logout (~10 s on a dead path): neither the old half-open
    session's close nor a timed-out attempt's is waited for, so each attempt ends within its bound and the
    deploy at its deadline; both are still closed (behind, their errors swallowed)."""
    from network.deploy import Staged
    from network.deploy.platforms import connection_name
    from network.validate import stamp

    calls: list[tuple[str, str]] = []
    started: list[float] = []
    plugins: list[_SlowClose] = []
    made: list[_FakeAdapter] = []
    logout = threading.Event()
    _blocking_reconnects(monkeypatch, lambda release: _SlowClose(release, logout), calls, started, plugins, made)
    target = tgt(hostname="A", host="127.0.0.1", validated_sha256=stamp("hostname x\n"))
    staged = Staged([target], message="t")
    staged.stage()
    made[0].up = False
    old = _SlowClose(threading.Event(), logout)  # the staged session, half-open: its logout hangs too
    host = staged._nr.inventory.hosts["A"]
    host.connections[connection_name(target.platform)] = old
    try:
        t0 = time.monotonic()
        result = staged.commit(deadline=t0 + 2.0)[0]
        took = time.monotonic() - t0
        assert result.status == "failed" and "no answering session within" in result.error, result.error
        assert took < 2.0 + 1.0, took  # a waited-for logout alone would have taken 30 s
        assert len(started) >= 2, started  # attempts went on: none waited for a close
        assert old.entered.wait(5) and all(p.entered.wait(5) for p in plugins)  # all closed, behind
        assert connection_name(target.platform) not in host.connections  # the old one is no longer the host's
        assert ("A", "commit") not in calls
    finally:
        logout.set()


def test_a_reconnect_attempt_in_time_adopts_its_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """An attempt whose session answers in time: its connection becomes the host's (closed with the deploy's),
    the device is diffed on it and committed."""
    from network.deploy import Staged, engine
    from network.validate import stamp

    calls: list[tuple[str, str]] = []
    made: list[_FakeAdapter] = []
    plugins: list[_Plugin] = []

    def fake_open(task: Any, target: DeployTarget, attempt: float | None = None,
                  fresh: list[object] | None = None) -> _FakeAdapter:
        if fresh is not None:
            plugins.append(_Plugin(threading.Event()))
            fresh.append(plugins[-1])
        made.append(_FakeAdapter("hostname old\n", calls, target.hostname))
        return made[-1]

    monkeypatch.setattr(engine, "open_adapter", fake_open)
    staged = Staged([tgt(hostname="A", host="127.0.0.1", validated_sha256=stamp("hostname x\n"))], message="t")
    staged.stage()
    made[0].up = False
    host = staged._nr.inventory.hosts["A"]
    assert staged.commit(deadline=time.monotonic() + 5.0)[0].status == "committed"
    assert len(plugins) == 1 and made[1].running == "hostname x\n" and made[0].running == "hostname old\n"
    assert plugins[0].closed == 1 and host.connections == {}  # adopted by the host, closed with the deploy


def test_a_stale_sessions_blocking_liveness_check_is_given_up_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The staged session's own liveness check (before any reconnect) blocks: with a deadline it is given up on
    after RECONNECT_ATTEMPT_S and the device reconnected, not the window spent waiting on the old session."""
    from network.deploy import Staged, engine
    from network.validate import stamp

    calls: list[tuple[str, str]] = []
    release = threading.Event()
    stale: list[float] = []
    made: list[_FakeAdapter] = []

    def fake_open(task: object, target: DeployTarget, attempt: float | None = None,
                  fresh: list[object] | None = None) -> _FakeAdapter:
        made.append(_Blocking("hostname old\n", calls, target.hostname, release=release, started=stale)
                    if attempt is None else _FakeAdapter("hostname old\n", calls, target.hostname))
        return made[-1]

    monkeypatch.setattr(engine, "open_adapter", fake_open)
    monkeypatch.setattr(engine, "RECONNECT_ATTEMPT_S", 0.5)
    try:
        staged = Staged([tgt(hostname="A", host="127.0.0.1", validated_sha256=stamp("hostname x\n"))], message="t")
        staged.stage()
        t0 = time.monotonic()
        assert staged.commit(deadline=t0 + 30.0)[0].status == "committed"
        assert time.monotonic() - t0 < 5.0 and len(stale) == 1 and len(made) == 2
        assert made[1].running == "hostname x\n" and made[0].running == "hostname old\n"  # on the new session
    finally:
        release.set()


def test_a_fresh_attempt_connection_is_the_callers_until_adopted(monkeypatch: pytest.MonkeyPatch) -> None:
    """open_adapter(attempt, fresh): the connection plugin is handed to the caller before it opens (so a given-up
    attempt can close it), opened with the attempt's bounds and the host's address, and not made the host's."""
    from network.deploy import platforms

    seen: list[str] = []

    class Plugin:
        connection: object | None = None

        def open(self, **kw: Any) -> None:
            seen.append("open")
            assert fresh == [self]  # the caller holds it already
            self.kw, self.connection = kw, object()

    monkeypatch.setattr(platforms.ConnectionPluginRegister, "get_plugin", lambda name: Plugin)
    nr = build_nornir([tgt()], workers=1, connect_timeout=10)
    host = nr.inventory.hosts["JB-140100-DC-WR01"]
    task = type("T", (), {"host": host, "nornir": nr})()
    fresh: list[object] = []
    adapter = platforms.open_adapter(task, tgt(), 2.5, fresh)  # type: ignore[arg-type]
    assert seen == ["open"] and host.connections == {}
    plugin = fresh[0]
    assert isinstance(plugin, Plugin) and adapter.device is plugin.connection  # type: ignore[attr-defined]
    assert plugin.kw["hostname"] == "100.126.240.11" and plugin.kw["platform"] == "frr"
    assert plugin.kw["extras"]["timeout"] == 3 and plugin.kw["extras"]["optional_args"]["probe_timeout"] == 2.5


def test_a_reconnect_attempt_bounds_every_wait_of_the_open() -> None:
    """connection_options(attempt=N): the FRR driver's connect/banner/login timeout and its vtysh probe, and
    Netmiko's conn/banner/auth timeouts (over the target's own options), all N."""
    frr = connection_options(tgt("frr", options={"command_timeout": 120}), 10.0, 2.5)["napalm"].extras
    assert frr is not None and frr["timeout"] == 3 and frr["optional_args"]["probe_timeout"] == 2.5
    assert frr["optional_args"]["command_timeout"] == 120  # the commit's own bound is unchanged
    usual = connection_options(tgt("frr"), 10.0)["napalm"].extras
    assert usual is not None and usual["timeout"] == 10 and "probe_timeout" not in usual["optional_args"]
    vendor = connection_options(tgt("h3c_comware", options={"conn_timeout": 60}), 10.0, 4.0)["netmiko"].extras
    assert vendor is not None and (vendor["conn_timeout"], vendor["banner_timeout"], vendor["auth_timeout"]) == (
        4.0, 4.0, 4.0)


class _Chan:
    """A paramiko channel whose command has ended (exit status 0, nothing printed)."""

    def __init__(self, log: list[str]) -> None:
        self.log, self.closed, self.eof_received = log, False, True

    def exec_command(self, cmd: str) -> None:
        self.log.append(cmd)

    def shutdown_write(self) -> None:
        pass

    def recv_ready(self) -> bool:
        return False

    def recv_stderr_ready(self) -> bool:
        return False

    def exit_status_ready(self) -> bool:
        return True

    def recv_exit_status(self) -> int:
        return 0

    def close(self) -> None:
        self.closed = True


class _Transport:
    def __init__(self, answers: bool) -> None:
        self.answers, self.log, self.waits = answers, [], []  # type: ignore[var-annotated]

    def is_active(self) -> bool:
        return True  # what a half-open session says too

    def open_session(self, timeout: float | None = None) -> _Chan:
        self.waits.append(timeout)
        if not self.answers:
            import paramiko

            raise paramiko.SSHException("Timeout opening channel.")
        return _Chan(self.log)


class _Client:
    def __init__(self, transport: _Transport) -> None:
        self.transport = transport

    def get_transport(self) -> _Transport:
        return self.transport


def test_the_frr_drivers_is_alive_exercises_the_session() -> None:
    """A half-open session (the router or the path gone without a FIN) keeps paramiko's transport "active": is_alive
    must run a no-op command, bounded, and say False when it gets no answer, so a staged commit reconnects
    instead of sending the commit into it."""
    dev = FrrDriver("r1", "root", optional_args={"host_key_checking": False})
    half_open = _Transport(answers=False)
    dev._client = _Client(half_open)  # type: ignore[assignment]
    assert dev.is_alive() == {"is_alive": False}
    assert half_open.waits == [10.0]  # ALIVE_PROBE_S, not the 60 s connect timeout
    live = _Transport(answers=True)
    dev._client = _Client(live)  # type: ignore[assignment]
    assert dev.is_alive() == {"is_alive": True} and live.log == ["true"]
    quick = FrrDriver("r1", "root", optional_args={"probe_timeout": 2.5})
    quick._client = _Client(half_open)  # type: ignore[assignment]
    assert quick.is_alive() == {"is_alive": False} and half_open.waits[-1] == 2.5
    dev._client = None
    assert dev.is_alive() == {"is_alive": False}


class _Netmiko:
    """A Netmiko session whose transport looks alive and which may or may not give a prompt back."""

    def __init__(self, prompt: bool) -> None:
        self.prompt = prompt

    def is_alive(self) -> bool:
        return True

    def find_prompt(self) -> str:
        if not self.prompt:
            raise ValueError("Unable to find prompt")
        return "<JB-R1>"


class _Napalm:
    def __init__(self, alive: bool, cli: object | None) -> None:
        self.alive, self.device = alive, cli

    def is_alive(self) -> dict[str, bool]:
        return {"is_alive": self.alive}


def test_the_vendor_adapters_want_a_prompt_not_just_a_transport() -> None:
    assert VrpAdapter(_Netmiko(prompt=True), "huawei_vrp").alive()
    assert not VrpAdapter(_Netmiko(prompt=False), "huawei_vrp").alive()
    assert NapalmAdapter(_Napalm(True, _Netmiko(prompt=True)), "cisco_ios").alive()
    assert not NapalmAdapter(_Napalm(True, _Netmiko(prompt=False)), "cisco_ios").alive()
    assert not NapalmAdapter(_Napalm(False, None), "frr").alive()
    assert NapalmAdapter(_Napalm(True, None), "frr").alive()  # the FRR driver's is_alive ran its own no-op
