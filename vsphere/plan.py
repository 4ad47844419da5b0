"""Pure: the VMs the inventory wants (from the shared host view + the mapping), and wanted versus existing."""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field
from typing import Any

from core.errors import JinbaoError
from plugins.hostvars import HostView
from vsphere.config import VsphereConfig


@dataclass(frozen=True)
class VmSpec:
    name: str
    site: str
    role: str
    zone: str
    template: str
    datacenter: str
    cluster: str
    folder: str
    datastore: str | None
    port_group: str
    cpu: int
    memory_mb: int
    disk_gb: int
    ip: str  # address/prefix
    gateway: str | None

    @property
    def address(self) -> str:
        return self.ip.split("/")[0]

    @property
    def netmask(self) -> str:
        return str(ipaddress.IPv4Network(self.ip, strict=False).netmask)


@dataclass
class VmState:
    """What vCenter has for one VM (read by vsphere.client)."""

    name: str
    datacenter: str
    folder: str
    cluster: str | None
    port_groups: list[str]
    cpu: int
    memory_mb: int
    disk_gb: int
    power: str  # poweredOn | poweredOff | suspended
    ip: str | None
    template: bool = False
    managed: bool = False  # carries jinbao's annotation


@dataclass
class Comparison:
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    differing: dict[str, list[str]] = field(default_factory=dict)
    matching: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fill(template: str, hv: dict[str, Any], what: str, host: str, source: str = "vsphere.yaml") -> str:
    keys = {"hostname": host, "site": hv["jinbao_site"], "province": hv["jinbao_province"],
            "city": hv["jinbao_city"], "region_code": hv["jinbao_region_code"], "tier": hv["jinbao_tier"],
            "zone": hv["jinbao_zone"], "role": hv["jinbao_role"]}
    try:
        return template.format(**keys)
    except (KeyError, IndexError, ValueError) as e:
        raise JinbaoError(f"{what} {template!r}: unknown placeholder {e} (use {', '.join(keys)})",
                          file=source, entry=what) from None


def wanted_vms(hosts: dict[str, HostView], cfg: VsphereConfig, source: str = "vsphere.yaml") -> list[VmSpec]:
    """One VM per server of the view, in inventory order. Bad mapping: one-line JinbaoError."""
    out: list[VmSpec] = []
    for name, h in hosts.items():
        hv = h.vars
        if hv["jinbao_kind"] != "server":
            continue
        size = cfg.sizes.get(hv["jinbao_role"])
        if size is None:
            raise JinbaoError(f"no size for role {hv['jinbao_role']} ({name})", file=source, entry="sizes")
        if not hv.get("jinbao_zone_ipv4"):
            raise JinbaoError(f"{name}: no zone address in the IP record (run `jinbao ipplan allocate`)")
        site = cfg.sites.get(hv["jinbao_site"])

        def pick(key: str, hv: dict[str, Any] = hv, site: Any = site, name: str = name) -> str:
            value = getattr(site, key, None) if site is not None else None
            if value is None and key == "port_group":
                value = cfg.port_groups.get(hv["jinbao_zone"])
            if value is None:
                value = getattr(cfg, key)
            return _fill(value, hv, key, name, source)

        ds = (site.datastore if site is not None and site.datastore else cfg.datastore)
        out.append(VmSpec(
            name=name, site=hv["jinbao_site"], role=hv["jinbao_role"], zone=hv["jinbao_zone"],
            template=pick("template"), datacenter=pick("datacenter"), cluster=pick("cluster"),
            folder=pick("folder").strip("/"), datastore=_fill(ds, hv, "datastore", name, source) if ds else None,
            port_group=pick("port_group"), cpu=size.cpu, memory_mb=size.memory_mb, disk_gb=size.disk_gb,
            ip=hv["jinbao_zone_ipv4"], gateway=hv.get("jinbao_zone_gateway_ipv4")))
    return out


# (label, VmState attribute, VmSpec attribute, unit) compared one to one
_FIELDS = (("datacenter", "datacenter", "datacenter", ""), ("folder", "folder", "folder", ""),
           ("cluster", "cluster", "cluster", ""), ("cpu", "cpu", "cpu", ""),
           ("memory", "memory_mb", "memory_mb", " MB"), ("disk", "disk_gb", "disk_gb", " GB"))


def differences(want: VmSpec, have: VmState) -> list[str]:
    """What differs, one short phrase each (empty: the VM is as wanted)."""
    diffs = ["is a template"] if have.template else []
    for label, mine, theirs, unit in _FIELDS:
        h, w = getattr(have, mine), getattr(want, theirs)
        if h != w:
            diffs.append(f"{label} {h}{unit} (want {w})")
    if have.port_groups[:1] != [want.port_group]:
        diffs.append(f"port group {','.join(have.port_groups) or 'none'} (want {want.port_group})")
    if have.power != "poweredOn":
        diffs.append(f"power {have.power} (want poweredOn)")
    elif have.ip != want.address:
        diffs.append(f"guest address {have.ip or 'none'} (want {want.address})")
    return diffs


def compare(wanted: list[VmSpec], existing: dict[str, VmState], scope_folders: set[str] | None = None) -> Comparison:
    """missing / differing / matching for every wanted VM; extra: VMs jinbao manages (annotation) that the
    inventory does not want, limited to the folders in scope when a scope is given."""
    c = Comparison()
    names = {w.name for w in wanted}
    for w in wanted:
        have = existing.get(w.name)
        if have is None:
            c.missing.append(w.name)
            continue
        d = differences(w, have)
        if d:
            c.differing[w.name] = d
        else:
            c.matching.append(w.name)
    for name, have in sorted(existing.items()):
        if name in names or not have.managed:
            continue
        if scope_folders is None or have.folder in scope_folders:
            c.extra.append(name)
    return c
