"""One lab node: overlay root filesystem, private namespaces, and its init process.

A node = network namespace ``jb-<lab>-<node>`` (made by runtime/links) + an overlay mount (lower: the
shared base, upper/work: per node under /var/lib/jinbao/lab/<lab>/nodes/<node>/) + a process started as

    nsenter --net=/run/netns/NS -- unshare --mount --uts --ipc --pid --fork --mount-proc=MERGED/proc
        /bin/sh -c 'cd MERGED && pivot_root . .jinbao-oldroot && exec chroot . /usr/local/sbin/jinbao-init'

pivot_root (rather than a bare chroot) lets the init detach the host's mount tree, so a node holds no
copy of the host's or other nodes' mounts and cannot reach the host filesystem.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from lab import names, procs
from lab.sh import LabError, run

OLDROOT = ".jinbao-oldroot"
READY = "run/jinbao/ready"
INIT_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
PIVOT = 'cd "$1" && pivot_root . {old} && exec chroot . {init}'
# Popen objects of the node wrappers this process started (kept so they are reaped, not leaked).
_wrappers: dict[int, subprocess.Popen[bytes]] = {}


def paths(lab: str, node: str) -> dict[str, Path]:
    base = names.node_dir(lab, node)
    return {
        "dir": base,
        "upper": base / "upper",
        "work": base / "work",
        "merged": base / "merged",
        "console": base / "console.log",
    }


def mounted(path: Path) -> bool:
    target = str(path)
    with open("/proc/mounts") as fh:
        return any(line.split()[1] == target for line in fh)


def mount_overlay(lower: Path, lab: str, node: str) -> Path:
    p = paths(lab, node)
    if mounted(p["merged"]):
        return p["merged"]
    for key in ("upper", "work", "merged"):
        p[key].mkdir(parents=True, exist_ok=True)
    opts = f"lowerdir={lower},upperdir={p['upper']},workdir={p['work']}"
    run(["mount", "-t", "overlay", f"jinbao-{lab}-{node}", "-o", opts, str(p["merged"])])
    return p["merged"]


def unmount(path: Path) -> None:
    if mounted(path) and run(["umount", str(path)], check=False).returncode != 0:
        run(["umount", "-l", str(path)], check=False)


def write_files(merged: Path, files: dict[str, tuple[str, int]]) -> None:
    """Write rendered files into the node's own layer (through the overlay)."""
    for inner, (content, mode) in files.items():
        path = merged / inner.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        if inner.startswith("/root/.ssh/"):
            path.parent.chmod(0o700)
        path.write_text(content)
        path.chmod(mode)
    (merged / OLDROOT).mkdir(exist_ok=True)


def ensure_host_keys(merged: Path, hostname: str) -> dict[str, str]:
    """Per-node SSH host keys (made once, kept in the node's layer); returns type -> public key line."""
    pub = {}
    for kind in ("ed25519", "ecdsa"):
        key = merged / f"etc/ssh/ssh_host_{kind}_key"
        if not key.exists():
            run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", f"root@{hostname}", "-f", str(key)])
        pub[kind] = " ".join(Path(f"{key}.pub").read_text().split()[:2])
    return pub


def start(lab: str, node: str, netns: str) -> tuple[int, int, int]:
    """Start the node's init; return (init pid, its start time, wrapper pid). Does not wait for services."""
    p = paths(lab, node)
    merged = p["merged"]
    script = PIVOT.format(old=OLDROOT, init="/usr/local/sbin/jinbao-init")
    argv = [
        "nsenter", f"--net={names.NETNS_DIR / netns}", "--",
        "unshare", "--mount", "--uts", "--ipc", "--pid", "--fork", "--propagation", "private",
        f"--mount-proc={merged}/proc",
        "/bin/sh", "-c", script, "jinbao-node", str(merged),
    ]  # fmt: skip
    with open(p["console"], "ab") as console:
        wrapper = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
            env=INIT_ENV, start_new_session=True,
        )  # fmt: skip
    _wrappers[wrapper.pid] = wrapper
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        kids = procs.children(wrapper.pid)
        if kids:
            started = procs.start_time(kids[0])
            if started is not None:
                return kids[0], started, wrapper.pid
        if wrapper.poll() is not None:
            break
        time.sleep(0.01)
    raise LabError(f"node {node}: init did not start; console:\n{console_tail(lab, node)}")


def wait_ready(lab: str, node: str, pid: int, started: int, timeout: float = 60.0) -> dict[str, Any]:
    """Wait until the init reports its services (``/run/jinbao/ready`` inside the node)."""
    ready = Path(f"/proc/{pid}/root") / READY
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not procs.alive(pid, started):
            raise LabError(f"node {node}: init exited during start; console:\n{console_tail(lab, node)}")
        try:
            return json.loads(ready.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            time.sleep(0.05)
    raise LabError(f"node {node}: not ready after {timeout}s; console:\n{console_tail(lab, node)}")


def stop(records: list[dict[str, Any]], grace: float = 3.0) -> list[int]:
    """Stop nodes given their process records (``pid``, ``start``, ``wrapper``): SIGTERM every init, which
    stops its node's processes, then SIGKILL after ``grace``. Returns the init PIDs that were running.

    Killing an init, PID 1 of its node's PID namespace, makes the kernel kill every process in it.
    """
    stopped = procs.terminate_all([(r["pid"], r["start"]) for r in records], grace)
    for rec in records:
        popen = _wrappers.pop(rec.get("wrapper") or -1, None)
        if popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                popen.wait(timeout=5)
        elif rec.get("wrapper"):
            procs.reap(rec["wrapper"])
    return stopped


def console_tail(lab: str, node: str, lines: int = 20) -> str:
    try:
        return "\n".join(paths(lab, node)["console"].read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no console log)"


def nsenter_argv(pid: int) -> list[str]:
    """Prefix that runs a command in a node like ``docker exec``: its namespaces and root filesystem."""
    return ["nsenter", "-t", str(pid), "-m", "-u", "-i", "-n", "-p", "-r", "-w", "--"]


def listening_tcp(pid: int, ip: str, port: int) -> bool:
    """Whether the node of ``pid`` has a TCP socket listening on ip:port (read from its /proc/net)."""
    want_port = f"{port:04X}"
    want_ip = "".join(f"{int(b):02X}" for b in reversed(ip.split(".")))
    try:
        table = Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]
    except (FileNotFoundError, ProcessLookupError):
        return False
    for row in table:
        local, st = row.split()[1], row.split()[3]
        addr, _, prt = local.partition(":")
        if st == "0A" and prt == want_port and addr in (want_ip, "00000000"):
            return True
    return False


def env_for_exec() -> dict[str, str]:
    return {**INIT_ENV, "HOME": "/root", "TERM": os.environ.get("TERM", "dumb"), "USER": "root"}
