"""One scope resolver (inventory/scope.py) for every command with `--scope` and for the pipeline: the same
forms mean the same sites everywhere, and an unknown scope is the same one-line error everywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.errors import JinbaoError
from inventory.load import load
from inventory.scope import normalise_scope, sites_in_scope
from tests.conftest import INVENTORY, ROOT


@pytest.fixture(scope="module")
def inv():
    return load(INVENTORY).inventory


@pytest.mark.parametrize(("short", "full"), [("14", "140000"), ("1401", "140100"), ("ministry", "100000"),
                                             (" 140100-DC ", "140100-DC"), ("MINISTRY", "100000")])
def test_forms_name_the_same_sites(inv, short: str, full: str) -> None:
    assert normalise_scope(short) == full.strip()
    assert sites_in_scope(inv, short) == sites_in_scope(inv, full) != set()


def test_scope_forms(inv) -> None:
    assert sites_in_scope(inv, "100000") == {s.id for s in inv.sites if s.tier == "ministry"}
    shanxi = sites_in_scope(inv, "140000")
    assert {"140000-DC", "140100-DC", "140000-DR"} <= shanxi and not any(s.startswith("41") for s in shanxi)
    assert sites_in_scope(inv, "140100") == {s.id for s in inv.sites if s.city == "140100" and s.tier != "province"}
    assert sites_in_scope(inv, None) == {s.id for s in inv.sites}


@pytest.mark.parametrize("bad", ["99", "999999", "1499", "nation", "140100-XX"])
def test_unknown_scope_is_one_error(inv, bad: str) -> None:
    with pytest.raises(JinbaoError) as e:
        sites_in_scope(inv, bad)
    assert str(e.value) == f"--scope {bad!r}: no site id or region code like that in the inventory"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JINBAO_")}  # no device credentials
    return subprocess.run([sys.executable, "-m", "jinbao.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=300)


# every command that takes --scope, with what else it needs to run
COMMANDS = {
    "inventory show": ["inventory", "show", "--json"],
    "render": ["render", "--lab-secrets", "--json", "--out", "{tmp}/configs"],
    "verify": ["verify", "--json"],
    "diagram": ["diagram", "--out", "{tmp}/d.dot"],
    "deploy": ["deploy", "--dry-run"],
    "backup": ["backup", "--repo", "{tmp}/backups"],
    "drift": ["drift"],
}


def _args(cmd: str, tmp: Path, scope: str) -> list[str]:
    return [a.replace("{tmp}", str(tmp)) for a in COMMANDS[cmd]] + ["--scope", scope]


@pytest.mark.parametrize("cmd", list(COMMANDS))
def test_unknown_scope_same_error_in_every_command(cmd: str, tmp_path: Path) -> None:
    r = _cli(*_args(cmd, tmp_path, "99"))
    assert (r.returncode, r.stdout) == (2, ""), (cmd, r.stdout[:500], r.stderr)
    assert r.stderr.strip() == "error: --scope '99': no site id or region code like that in the inventory"
    assert not (tmp_path / "configs").exists() and not (tmp_path / "d.dot").exists()


# the other commands with --scope, run in-process (the CLI's entry point, exit code and stderr as a process sees
# them; a subprocess each would cost seconds): they take nothing else needed to reach the scope
IN_PROCESS = ("policy verify", "check network", "check config", "check servers", "check dr", "check all",
              "check isolation", "report coverage", "servers build", "vm provision", "vm list", "dr plan")


def _scope_commands() -> set[str]:
    """Every command of the CLI with a --scope option, from its command tree."""
    import typer.main

    from jinbao.cli import app

    def walk(cmd: Any, path: tuple[str, ...]) -> Iterator[str]:
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, (*path, name))
        if not hasattr(cmd, "commands") and any("--scope" in p.opts for p in cmd.params):
            yield " ".join(path)

    return set(walk(typer.main.get_command(app), ()))


def test_every_scope_command_is_tested() -> None:
    """A new command with --scope joins these tests (or this fails)."""
    assert _scope_commands() == set(COMMANDS) | set(IN_PROCESS)


@pytest.mark.parametrize("cmd", IN_PROCESS)
def test_unknown_scope_first_in_every_other_command(cmd: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Bad input before anything else: before the vault, the Ansible inventory, a lab that is not up."""
    from jinbao.cli import main

    for k in [k for k in os.environ if k.startswith("JINBAO_")]:
        monkeypatch.delenv(k)  # no device credentials
    monkeypatch.setattr(sys, "argv", ["jinbao", "--inventory", str(INVENTORY), *cmd.split(), "--scope", "99"])
    with pytest.raises(SystemExit) as e:
        main()
    got = capsys.readouterr()
    assert (e.value.code, got.out) == (2, ""), (cmd, got.out[:500], got.err)
    assert got.err.strip() == "error: --scope '99': no site id or region code like that in the inventory"


def _result(cmd: str, tmp: Path, scope: str) -> tuple[int, str]:
    """What a command produced for a scope, with the output location made comparable."""
    r = _cli(*_args(cmd, tmp, scope))
    if cmd == "diagram":
        return r.returncode, (tmp / "d.dot").read_text()
    if cmd == "render":
        manifest = json.loads(r.stdout)
        return r.returncode, json.dumps(manifest["devices"], sort_keys=True)
    return r.returncode, r.stdout or r.stderr


@pytest.mark.parametrize("cmd", ["inventory show", "render", "verify", "diagram"])
def test_short_form_means_the_same_in_every_command(cmd: str, tmp_path: Path) -> None:
    short, full = _result(cmd, tmp_path / "a", "1401"), _result(cmd, tmp_path / "b", "140100")
    assert short[0] == 0 and short == full
    assert "140100-DC" in full[1] if cmd != "verify" else json.loads(full[1])["checked"]["bgp-session"] > 0


@pytest.mark.parametrize("cmd", ["deploy", "backup", "drift"])
def test_device_commands_accept_the_short_form(cmd: str, tmp_path: Path) -> None:
    """Past scope resolution, these stop at the missing device credentials: the scope was understood."""
    for scope in ("14", "140000"):
        r = _cli(*_args(cmd, tmp_path, scope))
        assert r.returncode == 2 and "JINBAO_SSH_USER" in r.stderr, (scope, r.stderr)


def test_pipeline_takes_its_diagram_scope(tmp_path: Path) -> None:
    """The pipeline's regional diagram is a parameter; a bad one stops the run at its first step."""
    r = _cli("run", "--static", "--out", str(tmp_path / "out"), "--diagram-scope", "99")
    assert r.returncode == 2 and "--scope '99'" in r.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert (summary["failed_step"], summary["steps"]) == ("inventory", [])
