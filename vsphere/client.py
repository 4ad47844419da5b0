"""The vCenter edge: connect (credentials from the environment), read what exists, translate faults.

Connection: JINBAO_VCENTER_HOST, JINBAO_VCENTER_USER, JINBAO_VCENTER_PASSWORD (from the environment or an
ansible-vault file decrypted into it: never in the repository), JINBAO_VCENTER_PORT (443),
JINBAO_VCENTER_PROTOCOL (https; the simulator serves http), JINBAO_VCENTER_INSECURE=1 to skip certificate
checks (lab only), JINBAO_VCENTER_CA: a CA bundle to verify vCenter's certificate against.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim, vmodl

from core.errors import JinbaoError
from vsphere.plan import VmState

MANAGED_MARK = "managed-by: jinbao"  # first line of the annotation of every VM jinbao creates


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    user: str
    password: str
    protocol: str = "https"
    insecure: bool = False
    ca_file: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Endpoint:
        e = os.environ if env is None else env
        missing = [k for k in ("JINBAO_VCENTER_HOST", "JINBAO_VCENTER_USER", "JINBAO_VCENTER_PASSWORD") if not e.get(k)]
        if missing:
            raise JinbaoError(f"set {', '.join(missing)} (environment or ansible-vault) to reach vCenter")
        try:
            port = int(e.get("JINBAO_VCENTER_PORT", "443"))
        except ValueError:
            raise JinbaoError(f"JINBAO_VCENTER_PORT {e['JINBAO_VCENTER_PORT']!r}: not a port number") from None
        return cls(e["JINBAO_VCENTER_HOST"], port, e["JINBAO_VCENTER_USER"], e["JINBAO_VCENTER_PASSWORD"],
                   e.get("JINBAO_VCENTER_PROTOCOL", "https"), e.get("JINBAO_VCENTER_INSECURE", "") in ("1", "yes"),
                   e.get("JINBAO_VCENTER_CA") or None)

    def __post_init__(self) -> None:
        # plain http sends the vCenter password in clear: only the simulator on this host may be reached so
        if self.protocol != "https" and not _is_loopback(self.host):
            raise JinbaoError(f"JINBAO_VCENTER_PROTOCOL {self.protocol!r} for {self.host}: only https is allowed "
                              "beyond loopback (plain http is for the local simulator)")

    @property
    def label(self) -> str:
        return f"vCenter {self.host}:{self.port}"


@contextmanager
def connect(ep: Endpoint) -> Iterator[Any]:
    """A logged-in ServiceInstance; every way of failing is one line naming the vCenter."""
    kwargs: dict[str, Any] = {"host": ep.host, "port": ep.port, "user": ep.user, "pwd": ep.password,
                              "protocol": ep.protocol, "connectionPoolTimeout": 30}
    if ep.protocol == "https":
        if ep.insecure:
            kwargs["disableSslCertValidation"] = True
        else:
            kwargs["sslContext"] = ssl.create_default_context(cafile=ep.ca_file)
    try:
        si = SmartConnect(**kwargs)
    except vim.fault.InvalidLogin:
        raise JinbaoError(f"{ep.label}: bad credentials for user {ep.user!r}") from None
    except OSError as e:  # refused, timed out, no such host
        raise JinbaoError(f"{ep.label}: unreachable ({type(e).__name__}: {e})") from None
    except vmodl.MethodFault as e:
        raise JinbaoError(f"{ep.label}: login failed ({fault_text(e)})") from None
    try:
        yield si
    finally:
        with contextlib.suppress(Exception):  # the session may already be gone; nothing left to clean up
            Disconnect(si)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def fault_text(e: BaseException) -> str:
    msg = getattr(e, "msg", None) or str(e)
    return f"{type(e).__name__.split('.')[-1]}: {msg}".strip()


def collect(si: Any, vimtype: type, props: list[str], root: Any = None) -> list[tuple[Any, dict[str, Any]]]:
    """(object, {property: value}) for every object of a type below root, in one property-collector call."""
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(root or content.rootFolder, [vimtype], True)
    try:
        traversal = vmodl.query.PropertyCollector.TraversalSpec(name="view", path="view", skip=False,
                                                                type=vim.view.ContainerView)
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=view, skip=True, selectSet=[traversal])],
            propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vimtype, pathSet=props, all=False)])
        out = []
        result = content.propertyCollector.RetrievePropertiesEx([spec], vmodl.query.PropertyCollector.RetrieveOptions())
        while result:
            for oc in result.objects:
                out.append((oc.obj, {p.name: p.val for p in (oc.propSet or [])}))
            result = content.propertyCollector.ContinueRetrievePropertiesEx(result.token) if result.token else None
        return out
    finally:
        view.Destroy()


def _names(si: Any) -> tuple[dict[str, tuple[str, Any]], dict[str, str], dict[str, str]]:
    """moId -> (name, parent) of folders and datacenters; port group key -> name; resource pool -> cluster."""
    tree: dict[str, tuple[str, Any]] = {}
    for vimtype in (vim.Folder, vim.Datacenter):
        for obj, p in collect(si, vimtype, ["name", "parent"]):
            tree[obj._moId] = (p.get("name", ""), p.get("parent"))
    pgs = {p.get("key", ""): p.get("name", "") for _, p in collect(si, vim.dvs.DistributedVirtualPortgroup,
                                                                  ["key", "name"])}
    pools: dict[str, str] = {}
    for _, p in collect(si, vim.ClusterComputeResource, ["name", "resourcePool"]):
        if p.get("resourcePool") is not None:
            pools[p["resourcePool"]._moId] = p["name"]
    return tree, pgs, pools


def _place(tree: dict[str, tuple[str, Any]], parent: Any) -> tuple[str, str]:
    """(datacenter name, folder path below the datacenter's VM folder) of a VM's parent folder."""
    parts: list[str] = []
    node = parent
    while node is not None and node._moId in tree:
        name, up = tree[node._moId]
        if isinstance(node, vim.Datacenter):
            return name, "/".join(reversed(parts[:-1]))  # parts[-1] is the datacenter's hidden "vm" folder
        parts.append(name)
        node = up
    return "", "/".join(reversed(parts))


VM_PROPS = ["name", "parent", "resourcePool", "config.template", "config.annotation", "config.hardware.numCPU",
            "config.hardware.memoryMB", "config.hardware.device", "runtime.powerState", "guest.ipAddress"]


def read_vms(si: Any) -> dict[str, VmState]:
    """Every VM and template vCenter has, by name."""
    tree, pgs, pools = _names(si)
    out: dict[str, VmState] = {}
    for _, p in collect(si, vim.VirtualMachine, VM_PROPS):
        devices = p.get("config.hardware.device") or []
        disks = [d for d in devices if isinstance(d, vim.vm.device.VirtualDisk)]
        nets: list[str] = []
        for d in devices:
            if not isinstance(d, vim.vm.device.VirtualEthernetCard):
                continue
            b = d.backing
            if isinstance(b, vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo):
                nets.append(pgs.get(b.port.portgroupKey, b.port.portgroupKey))
            elif isinstance(b, vim.vm.device.VirtualEthernetCard.NetworkBackingInfo):
                nets.append(b.deviceName)
        dc, folder = _place(tree, p.get("parent"))
        pool = p.get("resourcePool")
        out[p["name"]] = VmState(
            name=p["name"], datacenter=dc, folder=folder, cluster=pools.get(pool._moId) if pool is not None else None,
            port_groups=nets, cpu=p.get("config.hardware.numCPU") or 0,
            memory_mb=p.get("config.hardware.memoryMB") or 0,
            disk_gb=(disks[0].capacityInKB // (1024 * 1024)) if disks else 0, power=str(p.get("runtime.powerState")),
            ip=p.get("guest.ipAddress"), template=bool(p.get("config.template")),
            managed=(p.get("config.annotation") or "").startswith(MANAGED_MARK))
    return out
