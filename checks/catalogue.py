"""The control catalogue: MLPS 2.0 (GB/T 22239-2019, level 3) clauses and the controls that serve them.

Data lives in `checks/controls/*.yaml` (clauses.yaml = the standard's clause tree; every other file holds
`controls:`). This module loads and validates it (pydantic), and computes the clause -> controls view an
auditor reads to see what is covered. Bad data is a one-line JinbaoError naming the file and the entry.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.errors import JinbaoError

CONTROLS_DIR = Path(__file__).parent / "controls"
Kind = Literal["snmp", "config", "testinfra", "isolation", "dr"]
KINDS: tuple[str, ...] = ("snmp", "config", "testinfra", "isolation", "dr")
# `jinbao check <group>` -> the kinds it runs. `all` runs every group.
GROUPS: dict[str, tuple[str, ...]] = {"network": ("snmp",), "config": ("config",), "servers": ("testinfra",),
                                      "isolation": ("isolation",), "dr": ("dr",)}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Clause(_Model):
    id: str
    zh: str
    en: str


class AppliesTo(_Model):
    roles: tuple[str, ...] = ()  # empty = every role
    platforms: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()

    def matches(self, role: str, platform: str | None = None, zone: str | None = None) -> bool:
        return ((not self.roles or role in self.roles)
                and (not self.platforms or platform is None or platform in self.platforms)
                and (not self.zones or zone is None or zone in self.zones))


class Remediation(_Model):
    template: str | None = None
    role: str | None = None
    variable: str | None = None

    def text(self) -> str:
        return "; ".join(f"{k}: {v}" for k, v in self.model_dump().items() if v)


class Scenarios(_Model):
    pass_: dict[str, Any] = Field(alias="pass")
    fail: dict[str, Any]


class ConfigRule(_Model):
    validator: str | None = None  # a network/validate finding rule name
    builtin: str | None = None  # a rule in checks/config_rules.py, every platform
    builtin_frr: str | None = None  # the FRR counterpart of a validator rule the validator lacks for FRR
    require: dict[str, tuple[str, ...]] = {}
    forbid: dict[str, tuple[str, ...]] = {}

    @model_validator(mode="after")
    def _one(self) -> ConfigRule:
        if not (self.validator or self.builtin or self.require or self.forbid):
            raise ValueError("rule needs validator, builtin, require or forbid")
        return self


class Control(_Model):
    id: str
    title: str
    clause: str
    kind: Kind
    check: str | None = None
    rule: ConfigRule | None = None
    applies_to: AppliesTo = AppliesTo()
    remediation: Remediation
    scenarios: Scenarios

    @model_validator(mode="after")
    def _kind_fields(self) -> Control:
        if self.kind == "config" and self.rule is None:
            raise ValueError("a config control needs `rule`")
        if self.kind != "config" and not self.check:
            raise ValueError(f"a {self.kind} control needs `check`")
        return self


class Catalogue(_Model):
    standard: str
    level: int
    clauses: tuple[Clause, ...]
    controls: tuple[Control, ...]

    def control(self, cid: str) -> Control:
        for c in self.controls:
            if c.id == cid:
                return c
        raise KeyError(cid)

    def of_kind(self, *kinds: str) -> list[Control]:
        return [c for c in self.controls if c.kind in kinds]

    def clause(self, cid: str) -> Clause:
        return next(c for c in self.clauses if c.id == cid)

    def coverage(self) -> list[dict[str, Any]]:
        """Clause -> controls, every clause of the standard in order, covered or not."""
        rows = []
        for cl in self.clauses:
            ctl = [c for c in self.controls if c.clause == cl.id]
            rows.append({"clause": cl.id, "zh": cl.zh, "en": cl.en, "covered": bool(ctl),
                         "controls": [{"id": c.id, "kind": c.kind, "title": c.title} for c in ctl]})
        return rows


def _load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise JinbaoError(f"cannot read: {str(e).splitlines()[0]}", file=str(path)) from None


def _where(e: ValidationError) -> tuple[str, str]:
    err = e.errors()[0]
    return ".".join(str(x) for x in err["loc"]), err["msg"]


def load_catalogue(directory: Path = CONTROLS_DIR) -> Catalogue:
    """Every control file of `directory`; ids unique, clauses known. One-line JinbaoError otherwise."""
    clauses_file = directory / "clauses.yaml"
    head = _load_yaml(clauses_file)
    try:
        clauses = tuple(Clause(**c) for c in head["clauses"])
    except (KeyError, TypeError, ValidationError) as e:
        raise JinbaoError(f"bad clause list ({e.__class__.__name__})", file=str(clauses_file)) from None
    known = {c.id for c in clauses}
    controls: list[Control] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.yaml")):
        if path == clauses_file:
            continue
        data = _load_yaml(path)
        if not isinstance(data, dict) or not isinstance(data.get("controls"), list):
            raise JinbaoError("expected a mapping with a `controls:` list", file=str(path))
        for i, raw in enumerate(data["controls"]):
            name = raw.get("id", f"#{i}") if isinstance(raw, dict) else f"#{i}"
            try:
                c = Control.model_validate(raw)
            except ValidationError as e:
                loc, msg = _where(e)
                raise JinbaoError(f"{loc}: {msg}", file=str(path), entry=f"controls.{i} ({name})") from None
            if c.clause not in known:
                raise JinbaoError(f"clause {c.clause!r} is not a GB/T 22239-2019 level-3 clause in clauses.yaml",
                                  file=str(path), entry=f"controls.{i} ({name})")
            if c.id in seen:
                raise JinbaoError(f"duplicate control id (first in {seen[c.id]})", file=str(path),
                                  entry=f"controls.{i} ({name})")
            seen[c.id] = path.name
            controls.append(c)
    return Catalogue(standard=head.get("standard", ""), level=int(head.get("level", 3)), clauses=clauses,
                     controls=tuple(controls))


@lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    return load_catalogue()


def controls_for(cat: Catalogue, kinds: Iterable[str]) -> list[Control]:
    return cat.of_kind(*kinds)
