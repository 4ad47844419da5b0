"""Provision the servers' VMs: resolve placement (all names checked before anything is made), clone from the
template, reconfigure, customise the guest address, power on, wait for the guest to report it.

Idempotent by name: a VM that exists is never touched (reported `unchanged`, or `differs` with what
differs - resizing a running database is a change for a maintenance window, not for a provisioning run).
A clone that fails after it was created is powered off and destroyed: no half-built VM stays behind.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pyVmomi import vim, vmodl

from core.errors import JinbaoError
from core.threads import Progress, serialised
from vsphere.client import MANAGED_MARK, collect, fault_text, read_vms
from vsphere.config import VsphereConfig
from vsphere.plan import VmSpec, VmState, differences


@dataclass
class VmResult:
    name: str
    action: str  # created | unchanged | differs | would-create | failed
    detail: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


@dataclass
class Target:
    """A wanted VM with the vCenter objects it goes to (resolved up front)."""

    spec: VmSpec
    template: Any
    datacenter: Any
    pool: Any
    network: Any
    datastore: Any | None


class VcenterError(JinbaoError):
    """vCenter refused or did not finish a task; a VM's result carries it as its error."""


def wait_task(task: Any, what: str, timeout: float = 600.0) -> Any:
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        info = task.info
        if info.state == vim.TaskInfo.State.success:
            return info.result
        if info.state == vim.TaskInfo.State.error:
            raise VcenterError(f"{what}: {fault_text(info.error)}")
        if time.monotonic() > deadline:
            raise VcenterError(f"{what}: no result within {timeout:.0f}s")
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


class Resolver:
    """Looks names up once per run; a wrong name is one line naming the VM, the key and the value."""

    def __init__(self, si: Any, label: str, config_source: str) -> None:
        self.si = si
        self.label = label
        self.source = config_source
        self.dcs = {p["name"]: (o, p) for o, p in collect(si, vim.Datacenter, ["name", "network", "datastore"])}
        self.templates = {p["name"]: o for o, p in collect(si, vim.VirtualMachine, ["name", "config.template"])
                          if p.get("config.template")}
        self._clusters: dict[str, dict[str, Any]] = {}

    def _bad(self, spec: VmSpec, key: str, value: str, where: str, known: Sequence[str]) -> JinbaoError:
        hint = f" (has: {', '.join(sorted(known)[:8])}{', …' if len(known) > 8 else ''})" if known else ""
        return JinbaoError(f"{spec.name}: {key} {value!r} not found {where}{hint}", file=self.source, entry=key)

    def resolve(self, spec: VmSpec) -> Target:
        tpl = self.templates.get(spec.template)
        if tpl is None:
            raise self._bad(spec, "template", spec.template, f"in {self.label}", list(self.templates))
        if spec.datacenter not in self.dcs:
            raise self._bad(spec, "datacenter", spec.datacenter, f"in {self.label}", list(self.dcs))
        dc, props = self.dcs[spec.datacenter]
        if spec.datacenter not in self._clusters:
            self._clusters[spec.datacenter] = {p["name"]: p.get("resourcePool") for _, p in collect(
                self.si, vim.ClusterComputeResource, ["name", "resourcePool"], root=dc)}
        clusters = self._clusters[spec.datacenter]
        if spec.cluster not in clusters:
            raise self._bad(spec, "cluster", spec.cluster, f"in datacenter {spec.datacenter!r}", list(clusters))
        nets = {n.name: n for n in props.get("network") or []}
        if spec.port_group not in nets:
            raise self._bad(spec, "port_group", spec.port_group, f"in datacenter {spec.datacenter!r}", list(nets))
        ds = None
        if spec.datastore:
            stores = {d.name: d for d in props.get("datastore") or []}
            if spec.datastore not in stores:
                raise self._bad(spec, "datastore", spec.datastore, f"in datacenter {spec.datacenter!r}", list(stores))
            ds = stores[spec.datastore]
        return Target(spec, tpl, dc, clusters[spec.cluster], nets[spec.port_group], ds)


def provision(si: Any, label: str, wanted: Sequence[VmSpec], cfg: VsphereConfig, config_source: str, *,
              dry_run: bool = False, workers: int = 4, progress: Progress | None = None,
              wait_seconds: float | None = None) -> list[VmResult]:
    say = serialised(progress)
    existing = read_vms(si)
    resolver = Resolver(si, label, config_source)
    todo: list[Target] = []
    results: dict[str, VmResult] = {}
    for spec in wanted:
        have = existing.get(spec.name)
        if have is not None:
            diffs = differences(spec, have)
            results[spec.name] = VmResult(spec.name, "differs" if diffs else "unchanged", diffs)
            continue
        todo.append(resolver.resolve(spec))  # every placement checked before the first clone
    if dry_run:
        for t in todo:
            results[t.spec.name] = VmResult(t.spec.name, "would-create", [
                f"{t.spec.datacenter}/{t.spec.cluster} folder {t.spec.folder} port group {t.spec.port_group}",
                f"{t.spec.cpu} cpu {t.spec.memory_mb} MB {t.spec.disk_gb} GB, {t.spec.ip} gw {t.spec.gateway}"])
    else:
        folders = _Folders(si)
        wait = wait_seconds if wait_seconds is not None else cfg.wait_seconds

        def one(t: Target) -> VmResult:
            return _create(si, t, cfg, folders, wait, say)

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for r in pool.map(one, todo):
                results[r.name] = r
    return [results[s.name] for s in wanted]


class _Folders:
    """VM folders by path below a datacenter's VM folder, created on first use (once, under a lock)."""

    def __init__(self, si: Any) -> None:
        self.si = si
        self.lock = threading.Lock()
        self.cache: dict[tuple[str, str], Any] = {}

    def get(self, dc: Any, path: str) -> Any:
        key = (dc._moId, path)
        with self.lock:
            if key in self.cache:
                return self.cache[key]
            folder = dc.vmFolder
            for part in [p for p in path.split("/") if p]:
                child = next((c for c in folder.childEntity if isinstance(c, vim.Folder) and c.name == part), None)
                if child is None:
                    try:
                        child = folder.CreateFolder(part)
                    except vim.fault.DuplicateName:  # made by someone else meanwhile
                        child = next(c for c in folder.childEntity if isinstance(c, vim.Folder) and c.name == part)
                folder = child
            self.cache[key] = folder
            return folder


def _device_changes(t: Target) -> list[Any]:
    devices = t.template.config.hardware.device
    nic = next((d for d in devices if isinstance(d, vim.vm.device.VirtualEthernetCard)), None)
    disk = next((d for d in devices if isinstance(d, vim.vm.device.VirtualDisk)), None)
    if nic is None:
        raise VcenterError(f"template {t.spec.template!r} has no network adapter")
    if disk is None:
        raise VcenterError(f"template {t.spec.template!r} has no disk")
    net = t.network
    if isinstance(net, vim.dvs.DistributedVirtualPortgroup):
        nic.backing = vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo(
            port=vim.dvs.PortConnection(portgroupKey=net.key,
                                        switchUuid=net.config.distributedVirtualSwitch.uuid))
    else:
        nic.backing = vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(deviceName=net.name, network=net)
    nic.connectable = vim.vm.device.VirtualDevice.ConnectInfo(startConnected=True, allowGuestControl=True,
                                                              connected=True)
    edit = vim.vm.device.VirtualDeviceSpec.Operation.edit
    changes = [vim.vm.device.VirtualDeviceSpec(operation=edit, device=nic)]
    want_kb = t.spec.disk_gb * 1024 * 1024
    if disk.capacityInKB > want_kb:
        raise VcenterError(f"template {t.spec.template!r} disk is {disk.capacityInKB // 1048576} GB, larger than "
                           f"the {t.spec.role} size ({t.spec.disk_gb} GB): disks cannot shrink")
    if disk.capacityInKB < want_kb:
        disk.capacityInKB = want_kb
        changes.append(vim.vm.device.VirtualDeviceSpec(operation=edit, device=disk))
    return changes


def customization(spec: VmSpec, cfg: VsphereConfig) -> Any:
    c = vim.vm.customization
    adapter = c.IPSettings(ip=c.FixedIp(ipAddress=spec.address), subnetMask=spec.netmask,
                           gateway=[spec.gateway] if spec.gateway else [])
    return c.Specification(
        identity=c.LinuxPrep(hostName=c.FixedName(name=spec.name), domain=cfg.domain, hwClockUTC=True,
                             timeZone="Asia/Shanghai"),
        globalIPSettings=c.GlobalIPSettings(dnsServerList=cfg.dns_servers or None),
        nicSettingMap=[c.AdapterMapping(adapter=adapter)])


def _create(si: Any, t: Target, cfg: VsphereConfig, folders: _Folders, wait: float, say: Progress) -> VmResult:
    t0 = time.monotonic()
    s = t.spec
    res = VmResult(s.name, "failed")
    vm = None
    try:
        folder = folders.get(t.datacenter, s.folder)
        annotation = f"{MANAGED_MARK}\nsite: {s.site}\nrole: {s.role}\nzone: {s.zone}"
        config = vim.vm.ConfigSpec(numCPUs=s.cpu, memoryMB=s.memory_mb, annotation=annotation,
                                   deviceChange=_device_changes(t))
        clone = vim.vm.CloneSpec(location=vim.vm.RelocateSpec(pool=t.pool, datastore=t.datastore), config=config,
                                 powerOn=False, template=False)
        say(s.name, f"cloning {s.template} into {s.datacenter}/{s.cluster}/{s.folder}")
        vm = wait_task(t.template.CloneVM_Task(folder=folder, name=s.name, spec=clone), "clone")
        # Some vCenters (and the simulator) take only part of a clone's config spec: set what did not stick.
        hw = vm.config.hardware
        if hw.numCPU != s.cpu or hw.memoryMB != s.memory_mb or (vm.config.annotation or "") != annotation:
            wait_task(vm.ReconfigVM_Task(vim.vm.ConfigSpec(numCPUs=s.cpu, memoryMB=s.memory_mb,
                                                           annotation=annotation)), "reconfigure")
        say(s.name, f"customising guest address {s.ip}")
        wait_task(vm.CustomizeVM_Task(customization(s, cfg)), "guest customisation")
        say(s.name, "powering on")
        wait_task(vm.PowerOnVM_Task(), "power on")
        _wait_for_address(vm, s.address, wait)
        res.action = "created"
        res.detail = [f"{s.datacenter}/{s.cluster}/{s.folder}", s.port_group, s.ip]
        return res
    except (JinbaoError, vmodl.MethodFault) as e:  # VcenterError included
        res.error = str(e) if not isinstance(e, vmodl.MethodFault) else fault_text(e)
        if vm is not None:
            res.error += "; " + _remove(vm)
        return res
    finally:
        res.seconds = round(time.monotonic() - t0, 3)
        say(s.name, f"{res.action} in {res.seconds:.1f}s" + (f": {res.error}" if res.error else ""))


def _wait_for_address(vm: Any, address: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        if vm.guest.ipAddress == address:
            return
        if time.monotonic() > deadline:
            raise VcenterError(f"the guest did not report {address} within {timeout:.0f}s "
                               f"(reports {vm.guest.ipAddress or 'nothing'}; VMware Tools running?)")
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def _remove(vm: Any) -> str:
    """Undo a clone that failed half-way: power off, destroy. Says what happened."""
    try:
        if vm.runtime.powerState != vim.VirtualMachinePowerState.poweredOff:
            wait_task(vm.PowerOffVM_Task(), "power off")
        wait_task(vm.Destroy_Task(), "destroy")
        return "the half-built VM was removed"
    except (VcenterError, vmodl.MethodFault) as e:
        return f"removing the half-built VM failed ({e}): remove it by hand"


def existing_states(si: Any) -> dict[str, VmState]:
    return read_vms(si)
