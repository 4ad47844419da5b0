"""The push path of each platform, against device output (tests/deploy/data): which commands go to the
device, in which order, and how the answers are read. FRR's path runs against real routers in
test_deploy_lab.py; these are the platforms this machine has no device for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from network.deploy.platforms import ComwareAdapter, NapalmAdapter, StaticScope, VrpAdapter, config_lines, views_open

DATA = Path(__file__).parent / "data"
CONFIG = ("# JB-140000-DC-WR01\n#\nsysname JB-140000-DC-WR01\n#\nbgp 4200140000\n"
          " peer 100.100.104.64 valid-ttl-hops 1\n#\nreturn\n")


def data(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


class FakeConn:
    """A Netmiko connection that answers from recorded output and records everything sent."""

    def __init__(self, answers: dict[str, list[str]] | None = None) -> None:
        self.answers = {k: list(v) for k, v in (answers or {}).items()}
        self.sent: list[str] = []

    def _answer(self, command: str) -> str:
        queue = self.answers.get(command)
        return queue.pop(0) if queue else ""

    def send_command(self, command: str, **_: Any) -> str:
        self.sent.append(command)
        return self._answer(command)

    send_command_timing = send_command

    def send_config_set(self, lines: list[str], **kw: Any) -> str:
        self.sent.append(f"<config {len(lines)} lines exit={kw.get('exit_config_mode', True)}>")
        self.sent.extend(lines)
        return self._answer("<config>")

    def config_mode(self) -> str:
        self.sent.append("<system-view>")
        return ""

    def exit_config_mode(self) -> str:
        self.sent.append("<return>")
        return ""

    def save_config(self) -> str:
        self.sent.append("<save_config>")
        return ""


def vrp(**answers: list[str]) -> tuple[VrpAdapter, FakeConn]:
    base = {"save": [data("vrp-save.txt")] * 3, "Y": [data("vrp-save-yes.txt")] * 3}
    conn = FakeConn({**base, **answers})
    return VrpAdapter(conn), conn


def test_vrp_trial_commit_then_confirm_then_save() -> None:
    a, conn = vrp(**{"commit trial 60": [data("vrp-commit-trial.txt")]})
    a.diff(CONFIG)  # as the engine does: its running config is the commit's (nothing to undo here)
    conn.sent.clear()
    assert a.commit(CONFIG, confirm_seconds=45, message="t") == 60  # VRP's shortest trial is 60 s
    lines = config_lines(CONFIG, "#")
    assert conn.sent == [f"<config {len(lines)} lines exit=False>", *lines, "commit trial 60", "<return>"]
    assert "save" not in conn.sent  # nothing persisted while the trial runs
    conn.sent.clear()
    a.confirm()
    assert conn.sent == ["<system-view>", "commit", "<return>", "save", "Y"]


def test_vrp_trial_rollback_aborts_the_trial() -> None:
    a, conn = vrp(**{"commit trial 120": [data("vrp-commit-trial.txt")]})
    a.commit(CONFIG, confirm_seconds=120, message="t")
    conn.sent.clear()
    a.rollback()
    assert conn.sent == ["<system-view>", "abort trial", "<return>"]


def test_vrp_plain_commit_saves_and_rollback_uses_the_last_checkpoint() -> None:
    a, conn = vrp()
    assert a.commit(CONFIG, confirm_seconds=None, message="t") is None
    assert conn.sent[-4:] == ["commit", "<return>", "save", "Y"]
    conn.sent.clear()
    a.rollback()
    assert conn.sent[:1] == ["rollback configuration last 1"] and conn.sent[-2:] == ["save", "Y"]


def test_vrp_rejected_line_discards_the_candidate() -> None:
    a, conn = vrp(**{"<config>": [data("vrp-candidate-error.txt")]})
    with pytest.raises(RuntimeError, match="Wrong parameter"):
        a.commit(CONFIG, confirm_seconds=60, message="t")
    assert conn.sent[-2:] == ["clear configuration candidate", "<return>"]
    assert not any(s.startswith("commit") for s in conn.sent)


def test_vrp_reads_bgp_and_ping() -> None:
    a, _ = vrp(**{"display bgp peer": [data("vrp-display-bgp-peer.txt")],
                  "display bgp ipv6 peer": [data("vrp-display-bgp-ipv6-peer.txt")],
                  "ping -c 2 -t 1000 -a 10.14.255.1 10.14.255.2": [data("vrp-ping.txt")]})
    assert a.bgp_established() == {"100.100.104.64": True, "100.100.104.66": False, "fd4a:5000::100:1000": True}
    assert a.ping("10.14.255.2", "10.14.255.1") == (True, "2/2 replies")


def test_comware_commit_delay_confirm_and_replace_rollback() -> None:
    conn = FakeConn({"configuration replace file flash:/jinbao-rollback.cfg": [data("comware-replace.txt")],
                     "Y": [data("comware-replace-yes.txt")],
                     "display bgp peer ipv4": [data("comware-display-bgp-peer-ipv4.txt")]})
    a = ComwareAdapter(conn)
    a.diff(CONFIG)  # as the engine does: its running config is the commit's (nothing to undo here)
    conn.sent.clear()
    assert a.commit(CONFIG, confirm_seconds=90, message="t") == 120  # whole minutes, rounded up
    assert conn.sent[0] == "save flash:/jinbao-rollback.cfg"  # checkpoint first
    assert conn.sent[2] == "configuration commit delay 2"  # the first line of the change
    assert "<save_config>" not in conn.sent  # `save force` only once confirmed
    conn.sent.clear()
    a.confirm()
    assert conn.sent == ["<config 1 lines exit=True>", "configuration commit", "<save_config>"]
    a.rollback()
    assert "configuration replace file flash:/jinbao-rollback.cfg" in conn.sent and conn.sent[-1] == "<save_config>"
    assert a.bgp_established() == {"100.100.104.64": True, "100.100.104.66": False}


RUNNING = ("#\nsysname JB-140000-DC-WR01\n#\nip route-static 100.112.3.86 255.255.255.255 10.26.182.3 description sa\n"
           "ipv6 route-static fd4a:7000::10:b00 128 fd4a:1000:100:b102::3 description sa\n#\nbgp 4200140000\n"
           " peer 100.100.104.64 valid-ttl-hops 1\n#\nreturn\n")
UNDO = ["undo ip route-static 100.112.3.86 255.255.255.255 10.26.182.3",
        "undo ipv6 route-static fd4a:7000::10:b00 128 fd4a:1000:100:b102::3"]


SERVICE = StaticScope(("100.112.3.86/32", "fd4a:7000::10:b00/128"))  # the plan's service address here


@pytest.mark.parametrize("make", [VrpAdapter, ComwareAdapter])
def test_a_static_route_gone_from_the_intent_is_undone_after_the_merge(make: Any) -> None:
    """A merge would leave the route (the DR service address would stay announced): the commit undoes it, after
    the intended lines (a route moving to a new next hop has the new one before the old one goes), from the
    running config read by the diff (no second read in the commit: a staged deploy's outage window holds the
    commit alone)."""
    conn = FakeConn({"display current-configuration": [RUNNING], "save": [data("vrp-save.txt")],
                     "Y": [data("vrp-save-yes.txt")]})
    a = make(conn, scope=SERVICE)
    assert a.diff(CONFIG).splitlines()[-2:] == [
        "- ip route-static 100.112.3.86 255.255.255.255 10.26.182.3 description sa",
        "- ipv6 route-static fd4a:7000::10:b00 128 fd4a:1000:100:b102::3 description sa"]
    assert a.removals() == UNDO
    conn.sent.clear()
    a.commit(CONFIG, confirm_seconds=None, message="t")
    assert "display current-configuration" not in conn.sent
    at = next(i for i, s in enumerate(conn.sent) if s.startswith("<config "))
    lines = config_lines(CONFIG, "#")
    # CONFIG ends inside `bgp`: one `quit` back to system view, where `undo ip route-static` is a command
    assert conn.sent[at + 1:at + 1 + len(lines) + 3] == [*lines, "quit", *UNDO]
    # without a diff first (another intended), the commit reads running itself: never a stale undo list
    conn2 = FakeConn({"display current-configuration": [RUNNING]})
    assert make(conn2, scope=SERVICE).change_lines(CONFIG) == [*config_lines(CONFIG, "#"), "quit", *UNDO]
    assert conn2.sent == ["display current-configuration"]
    # the same running config, but the service address is not the plan's: an operator's routes, never undone
    conn3 = FakeConn({"display current-configuration": [RUNNING]})
    plain = make(conn3)
    assert not any(ln.startswith("- ") for ln in plain.diff(CONFIG).splitlines()) and plain.removals() == []
    assert plain.change_lines(CONFIG) == config_lines(CONFIG, "#")


NESTED = ("#\nsysname JB-140000-DC-WR01\n#\ninterface GigabitEthernet0/0/1\n undo shutdown\n#\nbgp 4200140000\n"
          " peer 100.100.104.64 as-number 4200000000\n #\n ipv4-family unicast\n  peer 100.100.104.64 enable\n"
          "#\nreturn\n")


def test_vrp_undoes_static_routes_from_system_view_after_a_nested_section() -> None:
    """`undo ip route-static` is a system-view command: after a change ending two views deep (`bgp` ->
    `ipv4-family unicast`) the session goes back with one `quit` per view, not `return` (VRP would ask whether
    to commit the candidate), and only then undoes; `commit` follows in system view."""
    conn = FakeConn({"display current-configuration": [RUNNING], "save": [data("vrp-save.txt")],
                     "Y": [data("vrp-save-yes.txt")]})
    a = VrpAdapter(conn, scope=SERVICE)
    a.diff(NESTED)
    conn.sent.clear()
    a.commit(NESTED, confirm_seconds=None, message="t")
    assert conn.sent[:13] == [
        "<config 11 lines exit=False>", "sysname JB-140000-DC-WR01", "interface GigabitEthernet0/0/1",
        " undo shutdown", "bgp 4200140000", " peer 100.100.104.64 as-number 4200000000", " ipv4-family unicast",
        "  peer 100.100.104.64 enable", "quit", "quit", *UNDO, "commit"]


def test_comware_undoes_static_routes_from_system_view_after_a_nested_section() -> None:
    """The same on Comware, inside its `configuration commit delay` change (Comware refuses `undo ip
    route-static` in some views)."""
    conn = FakeConn({"display current-configuration": [RUNNING]})
    a = ComwareAdapter(conn, scope=SERVICE)
    a.diff(NESTED)
    conn.sent.clear()
    a.commit(NESTED, confirm_seconds=60, message="t")
    assert conn.sent == [
        "save flash:/jinbao-rollback.cfg", "<config 12 lines exit=True>", "configuration commit delay 1",
        "sysname JB-140000-DC-WR01", "interface GigabitEthernet0/0/1", " undo shutdown", "bgp 4200140000",
        " peer 100.100.104.64 as-number 4200000000", " ipv4-family unicast", "  peer 100.100.104.64 enable",
        "quit", "quit", *UNDO]


@pytest.mark.parametrize("make", [VrpAdapter, ComwareAdapter])
def test_no_quit_when_the_change_ends_in_system_view_or_undoes_nothing(make: Any) -> None:
    """A quit too many would leave system view (VRP: a question about the uncommitted candidate): none when the
    change's last line is a system-view command, none when nothing is undone."""
    top = NESTED.replace("#\nreturn\n", "#\nsnmp-agent\n#\nreturn\n")
    assert make(FakeConn({"display current-configuration": [RUNNING]}), scope=SERVICE).change_lines(top) == [
        *config_lines(top, "#"), *UNDO]
    plain = make(FakeConn({"display current-configuration": [RUNNING]}))  # the routes are not the plan's
    assert plain.change_lines(NESTED) == config_lines(NESTED, "#")


def test_views_open_counts_sections_not_comments_or_banner_text() -> None:
    """Views by indentation; a comment or a banner's text (its lines may start with spaces) opens none; every
    rendered VRP and Comware configuration (tests/render/golden) ends in system view, banner last."""
    assert views_open(config_lines(NESTED, "#")) == 2
    assert views_open(["bgp 1", " peer 10.0.0.1 as-number 2", "# a comment"]) == 1
    assert views_open(["interface X", " undo shutdown", "header login information \"Authorised only.",
                       "   indented text line", "  last line\""]) == 0
    assert views_open(["header login %one line only%", "interface Y", " undo shutdown"]) == 1  # no text after it
    assert views_open(["sysname A", "bfd"]) == 0  # a bare view command last: not known to be one (docstring)
    golden = Path(__file__).parents[1] / "render" / "golden"
    configs = sorted([*golden.glob("huawei_vrp/*.cfg"), *golden.glob("h3c_comware/*.cfg")])
    assert len(configs) == 8
    for cfg in configs:
        assert views_open(config_lines(cfg.read_text(encoding="utf-8"), "#")) == 0, cfg


def test_a_merge_target_carries_its_scope_to_the_adapter() -> None:
    """open_adapter gives a merge platform's adapter the target's owned prefixes and prune flag (what the plan
    put there: network/targets.py), a replace platform's nothing."""
    from network.deploy.model import DeployTarget
    from network.deploy.platforms import open_adapter

    class Host:
        def get_connection(self, *_a: Any) -> Any:
            return FakeConn({})

    class Task:
        host = Host()
        nornir = type("N", (), {"config": None})()

    for name, prune in (("huawei_vrp", False), ("h3c_comware", True)):
        t = DeployTarget(hostname="r", platform=name, host="h", username="u", key_file=None, config_text="x",
                         owned_static_prefixes=("100.112.3.86/32",), prune_static_routes=prune)
        adapter = open_adapter(Task(), t)  # type: ignore[arg-type]
        assert adapter.scope == StaticScope(("100.112.3.86/32",), prune)  # type: ignore[attr-defined]


class FakeNapalm:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kw: Any) -> Any:
            self.calls.append((name, kw))
            return False if name == "has_pending_commit" else None
        return call


def test_ios_configure_replace_with_a_revert_timer_then_confirm() -> None:
    dev = FakeNapalm()
    a = NapalmAdapter(dev, "cisco_ios")
    assert a.replace  # configure replace, never merge
    assert a.commit("hostname x\n", confirm_seconds=90, message="t") == 120
    # napalm ios: `configure replace <file> force revert timer 2`; then `configure confirm` + write memory
    assert [c for c, _ in dev.calls] == ["load_replace_candidate", "commit_config"]
    assert dev.calls[1][1] == {"revert_in": 120}
    a.confirm()
    assert dev.calls[-1][0] == "confirm_commit"


def test_every_removal_is_in_the_dry_run_and_said_before_the_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The static routes a merge deploy would undo are in the dry run's result (the diff's `- ` lines and
    `removals`, what `jinbao deploy --dry-run` prints), and a real deploy says each before it commits (`jinbao
    deploy` prints those messages), so no route leaves a device unannounced."""
    import hashlib

    from network.deploy import engine
    from network.deploy.model import REMOVING, DeployTarget

    target = DeployTarget(hostname="JB-140000-DC-WR01", platform="huawei_vrp", host="h", username="u", key_file=None,
                          config_text=CONFIG, validated_sha256=hashlib.sha256(CONFIG.encode()).hexdigest(),
                          owned_static_prefixes=SERVICE.prefixes)
    conn = FakeConn({"display current-configuration": [RUNNING, RUNNING], "save": [data("vrp-save.txt")],
                     "Y": [data("vrp-save-yes.txt")]})
    monkeypatch.setattr(engine, "open_adapter", lambda _task, t: VrpAdapter(conn, t.platform, StaticScope.of(t)))
    said: list[str] = []
    res, adapter = engine._open_one(None, target, True, lambda _h, m: said.append(m))  # type: ignore[arg-type]
    assert res.status == "dry-run" and adapter is None and res.removals == UNDO
    assert [ln for ln in res.diff.splitlines() if ln.startswith("- ")] == [
        "- ip route-static 100.112.3.86 255.255.255.255 10.26.182.3 description sa",
        "- ipv6 route-static fd4a:7000::10:b00 128 fd4a:1000:100:b102::3 description sa"]
    res, adapter = engine._open_one(None, target, False, lambda _h, m: said.append(m))  # type: ignore[arg-type]
    assert adapter is not None
    said.clear()
    conn.sent.clear()
    orig = adapter.commit

    def commit(*a: Any) -> Any:
        said.append("<commit>")
        return orig(*a)

    monkeypatch.setattr(adapter, "commit", commit)
    monkeypatch.setattr(adapter, "pending", lambda: False)
    opts = engine.ApplyOptions(None, None, 0.01, "t", lambda _h, m: said.append(m))
    assert engine._apply_one(adapter, res, target, opts).status == "committed"
    assert said[:4] == [*(REMOVING + u for u in UNDO), "committing", "<commit>"], said


def test_jinbao_deploy_prints_every_removal_and_passes_the_prune_flag(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """`jinbao deploy` (the CLI): a real deploy prints each removal the engine says before a commit (not only in
    the status line that the next message overwrites); the dry run prints each as `would send`; `--json` carries
    them; `--prune-static-routes` reaches the targets, and without it they do not prune."""
    from typer.testing import CliRunner

    import network.deploy
    import network.fleet
    from jinbao.cli import app
    from jinbao.commands import deploy as cmd
    from network.deploy.model import REMOVING, DeviceResult

    monkeypatch.setenv("JINBAO_DEPLOY_LOCK", str(tmp_path / "deploy.lock"))
    fleet = type("F", (), {"where": "test"})()
    monkeypatch.setattr(cmd, "_fleet", lambda *_a: fleet)
    seen: dict[str, Any] = {}
    monkeypatch.setattr(network.fleet, "fleet_targets", lambda _f, **kw: seen.update(kw) or ["t"])

    def fake_deploy(_targets: Any, dry_run: bool, confirm_seconds: Any, progress: Any, **_kw: Any) -> Any:
        if not dry_run:
            for u in UNDO:
                progress("R1", REMOVING + u)
            progress("R1", "committing")
        return [DeviceResult("R1", "dry-run" if dry_run else "committed", diff="- ip route-static x", removals=UNDO)]

    monkeypatch.setattr(network.deploy, "deploy", fake_deploy)
    runner = CliRunner()
    r = runner.invoke(app, ["deploy"])
    assert r.exit_code == 0, r.output
    assert all(f"R1: {REMOVING}{u}" in r.output for u in UNDO) and seen["prune_static_routes"] is False
    r = runner.invoke(app, ["deploy", "--dry-run", "--prune-static-routes"])
    assert r.exit_code == 0 and all(f"R1: would send {u}" in r.output for u in UNDO), r.output
    assert seen["prune_static_routes"] is True
    r = runner.invoke(app, ["deploy", "--dry-run", "--json"])
    assert json.loads(r.stdout[r.stdout.index("{"):])["devices"][0]["removals"] == UNDO
