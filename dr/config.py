"""Typed schema of the replication policy (`inventory/dr.yaml`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.yamlio import parse_model, read_yaml

DR_FILE = "dr.yaml"
Mode = Literal["async", "sync"]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DefaultsDoc(_Doc):
    mode: Mode = "async"


class SiteDoc(_Doc):
    mode: Mode | None = None
    replica_site: str | None = Field(None, min_length=1)


class DrDoc(_Doc):
    version: Literal[1]
    defaults: DefaultsDoc = DefaultsDoc()
    sites: dict[str, SiteDoc] = {}


def load_dr_config(directory: Path) -> tuple[DrDoc, Path]:
    """The replication policy of an inventory directory; a missing file means the defaults."""
    path = Path(directory) / DR_FILE
    if not path.exists():
        return DrDoc(version=1), path
    return parse_model(DrDoc, read_yaml(path), path), path
