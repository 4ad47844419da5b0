"""Where each server VM goes on vSphere and how big it is: inventory/vsphere.yaml (docs/vsphere.md).

Every name is a template over the host's inventory variables: {hostname} {site} {province} {city}
{region_code} {tier} {zone} {role}. Per-site overrides replace any of the placement keys.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from core.yamlio import parse_model, read_yaml

CONFIG_FILE = "vsphere.yaml"


class Size(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cpu: int = Field(ge=1, le=768)
    memory_mb: int = Field(ge=256, multiple_of=4)
    disk_gb: int = Field(ge=1)


class Placement(BaseModel):
    model_config = ConfigDict(extra="forbid")
    template: str | None = None
    datacenter: str | None = None
    cluster: str | None = None
    folder: str | None = None
    datastore: str | None = None
    port_group: str | None = None


class VsphereConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    template: str = "debian-12-jinbao"
    datacenter: str = "JB-{province}"
    cluster: str = "{site}"
    folder: str = "jinbao/{site}"
    datastore: str | None = None  # None: the datastore the template's disks are on
    port_group: str = "{site}-{zone}"
    port_groups: dict[str, str] = Field(default_factory=dict)  # zone -> port group name (overrides port_group)
    domain: str = "jinbao.local"
    dns_servers: list[str] = Field(default_factory=list)
    sizes: dict[str, Size] = Field(default_factory=lambda: {
        "DB": Size(cpu=8, memory_mb=32768, disk_gb=500),
        "EX": Size(cpu=4, memory_mb=16384, disk_gb=200),
        "DS": Size(cpu=8, memory_mb=32768, disk_gb=1000),
        "NM": Size(cpu=2, memory_mb=8192, disk_gb=100),
    })
    sites: dict[str, Placement] = Field(default_factory=dict)
    wait_seconds: float = Field(default=600, gt=0)  # power-on until the guest reports its address


def load_config(path: Path | None) -> tuple[VsphereConfig, str]:
    """The mapping file, or the documented defaults when there is none. Returns (config, where)."""
    if path is None or not Path(path).exists():
        if path is not None and Path(path).name != CONFIG_FILE:
            from core.errors import JinbaoError

            raise JinbaoError("file not found", file=str(path))
        return VsphereConfig(), "defaults"
    return parse_model(VsphereConfig, read_yaml(Path(path)), Path(path)), str(path)
