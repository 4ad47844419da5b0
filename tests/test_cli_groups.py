"""Every command module under jinbao/commands/ is mounted on the root CLI (a merge cannot drop one silently)."""

from __future__ import annotations

import importlib
from pathlib import Path

import typer

from jinbao.cli import app

COMMANDS = Path(__file__).resolve().parent.parent / "jinbao" / "commands"


def test_every_command_module_is_mounted() -> None:
    mounted = {id(g.typer_instance) for g in app.registered_groups}
    modules = sorted(p.stem for p in COMMANDS.glob("*.py") if p.stem not in ("__init__", "base"))
    assert len(modules) >= 12
    missing = [m for m in modules
               if isinstance(getattr(importlib.import_module(f"jinbao.commands.{m}"), "app", None), typer.Typer)
               and id(importlib.import_module(f"jinbao.commands.{m}").app) not in mounted]
    assert missing == []
