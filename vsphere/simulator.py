"""VMware's vCenter simulator for tests and benchmarks: built offline from Debian's govmomi sources, run on
loopback, stopped by the caller (a context manager; the process is killed by its own PID only)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from core.errors import JinbaoError

SOURCE = Path(__file__).resolve().parent / "vcsim" / "main.go"
BINARY = Path(__file__).resolve().parents[1] / "lab" / ".cache" / "vcsim"  # the project's build cache (ignored)
GOPATH = "/usr/share/gocode"  # Debian's tree: golang-github-vmware-govmomi-dev installs the library here


@dataclass(frozen=True)
class Simulator:
    host: str
    port: int
    username: str
    password: str
    pid: int

    def env(self) -> dict[str, str]:
        """The environment `jinbao vm` reads its vCenter connection from."""
        return {"JINBAO_VCENTER_HOST": self.host, "JINBAO_VCENTER_PORT": str(self.port),
                "JINBAO_VCENTER_USER": self.username, "JINBAO_VCENTER_PASSWORD": self.password,
                "JINBAO_VCENTER_PROTOCOL": "http"}


def build() -> Path:
    """Build the binary once (GOPATH mode, offline; ~15 s idle, longer on a busy machine). Callers in parallel
    (make run beside a test) wait for the one build under a lock."""
    BINARY.parent.mkdir(parents=True, exist_ok=True)
    with open(BINARY.parent / "vcsim.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if BINARY.exists() and BINARY.stat().st_mtime >= SOURCE.stat().st_mtime:
            return BINARY
        if not Path(GOPATH, "src/github.com/vmware/govmomi/simulator").is_dir():
            raise JinbaoError("golang-github-vmware-govmomi-dev is not installed (scripts/setup-host.sh installs it)")
        tmp = BINARY.with_suffix(".tmp")
        env = {**os.environ, "GO111MODULE": "off", "GOPATH": GOPATH, "GOCACHE": str(BINARY.parent / "go-build")}
        r = subprocess.run(["go", "build", "-o", str(tmp), str(SOURCE)], env=env, capture_output=True, text=True,
                           timeout=900)
        if r.returncode != 0:
            raise JinbaoError(f"building the vSphere simulator failed: {r.stderr.strip().splitlines()[-1:]}")
        tmp.rename(BINARY)
        return BINARY


@contextmanager
def running(*, datacenters: int = 1, clusters: int = 1, portgroups: int = 4, vms: int = 1,
            username: str = "jinbao", password: str = "LAB-ONLY-vcsim") -> Iterator[Simulator]:
    """A simulator on a free loopback port (vSphere's VPX model: DC0, cluster DC0_C0, port groups
    DC0_DVPG0.., VMs DC0_C0_RP0_VM0..), stopped and reaped on exit."""
    binary = build()
    proc = subprocess.Popen([str(binary), "-listen", "127.0.0.1:0", "-username", username, "-password", password,
                             "-dc", str(datacenters), "-cluster", str(clusters), "-pg", str(portgroups),
                             "-vm", str(vms)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line:
            raise JinbaoError(f"the vSphere simulator did not start: {proc.stderr.read() if proc.stderr else ''}")
        url = urlsplit(line)
        sim = Simulator(url.hostname or "127.0.0.1", url.port or 0, username, password, proc.pid)
        _wait_listening(sim)
        yield sim
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_listening(sim: Simulator, timeout: float = 10.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((sim.host, sim.port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def shape(sim: Simulator, datacenter: str, sites: list[str], zones: tuple[str, ...] = (
        "production", "exchange", "decision", "management"), template: str = "debian-12-jinbao") -> None:
    """Make the simulator's VPX model look like a province's vCenter under jinbao's default mapping
    (docs/vsphere.md): datacenter DC0 -> `datacenter`, its clusters DC0_C<i> -> the site ids, a port group
    `<site>-<zone>` per site and zone on the distributed switch, and the first cluster VM powered off,
    renamed to `template` and marked as a template. Done through the vSphere API, as an admin would."""
    from pyVim.connect import Disconnect, SmartConnect
    from pyVmomi import vim

    from vsphere.provision import wait_task

    si = SmartConnect(host=sim.host, port=sim.port, user=sim.username, pwd=sim.password, protocol="http")
    try:
        content = si.RetrieveContent()
        dc = next(d for d in content.rootFolder.childEntity if isinstance(d, vim.Datacenter) and d.name == "DC0")
        clusters = sorted((c for c in dc.hostFolder.childEntity if isinstance(c, vim.ClusterComputeResource)),
                          key=lambda c: c.name)
        if len(clusters) < len(sites):
            raise ValueError(f"the simulator has {len(clusters)} clusters for {len(sites)} sites")
        vm = next(v for v in content.viewManager.CreateContainerView(dc, [vim.VirtualMachine], True).view
                  if v.name == "DC0_C0_RP0_VM0")
        if vm.runtime.powerState != vim.VirtualMachinePowerState.poweredOff:
            wait_task(vm.PowerOffVM_Task(), "power off")
        wait_task(vm.Rename_Task(template), "rename template")
        vm.MarkAsTemplate()
        for cluster, site in zip(clusters, sites, strict=False):
            wait_task(cluster.Rename_Task(site), "rename cluster")
        dvs = next(n for n in dc.networkFolder.childEntity if isinstance(n, vim.DistributedVirtualSwitch))
        specs = [vim.dvs.DistributedVirtualPortgroup.ConfigSpec(name=f"{s}-{z}", type="earlyBinding", numPorts=8)
                 for s in sites for z in zones]
        wait_task(dvs.AddDVPortgroup_Task(specs), "add port groups")
        wait_task(dc.Rename_Task(datacenter), "rename datacenter")
    finally:
        Disconnect(si)
