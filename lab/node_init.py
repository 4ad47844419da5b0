#!/usr/bin/python3
"""PID 1 of a jinbao lab node. Runs *inside* the node (the node's own python3); imports nothing from lab.

The host starts it as the first process of the node's new PID, mount, UTS and IPC namespaces, already
pivoted into the node's overlay root and inside the node's network namespace. It reads
/etc/jinbao-lab/node.json, mounts the node's private /run, /dev and /sys, sets the hostname, brings lo up,
sets forwarding for routers and firewalls, starts the requested services, writes /run/jinbao/ready
(JSON: per-service result) and then reaps children until SIGTERM, when it stops everything and exits.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

CONFIG = "/etc/jinbao-lab/node.json"
READY = "/run/jinbao/ready"
OLDROOT = "/.jinbao-oldroot"
ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/root",
}
# Start order: packet filter first, the AgentX master before FRR's subagents, sshd last.
ORDER = ("nftables", "snmpd", "frr", "postgresql", "sshd")


class Shutdown(Exception):
    pass


def log(msg: str) -> None:
    print(f"jinbao-init: {msg}", flush=True)


def sh(*argv: str, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(argv, env={**ENV, **(env or {})}, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {proc.returncode}: {(proc.stderr or proc.stdout).strip()}")


def mount_private() -> None:
    """Drop the host's mounts and give the node its own /run, /dev, /dev/pts, /dev/shm and /sys."""
    if os.path.isdir(OLDROOT):
        sh("umount", "-l", OLDROOT)
        os.rmdir(OLDROOT)
    sh("mount", "-t", "tmpfs", "-o", "mode=755,nosuid,nodev,size=64m", "tmpfs", "/run")
    os.makedirs("/run/lock", mode=0o1777, exist_ok=True)
    os.chmod("/run/lock", 0o1777)
    sh("mount", "-t", "tmpfs", "-o", "mode=755,nosuid,size=8m", "tmpfs", "/dev")
    for name, major, minor in (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8),
                               ("urandom", 1, 9), ("tty", 5, 0)):  # fmt: skip
        os.mknod(f"/dev/{name}", 0o666 | 0o020000, os.makedev(major, minor))
        os.chmod(f"/dev/{name}", 0o666)
    for d in ("/dev/pts", "/dev/shm"):
        os.makedirs(d, exist_ok=True)
    sh("mount", "-t", "devpts", "-o", "newinstance,ptmxmode=0666,mode=620,gid=5", "devpts", "/dev/pts")
    sh("mount", "-t", "tmpfs", "-o", "mode=1777,nosuid,nodev", "tmpfs", "/dev/shm")
    for link, target in (("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):  # fmt: skip
        os.symlink(target, f"/dev/{link}")
    # sysfs mounted from inside the network namespace shows this node's interfaces only.
    sh("mount", "-t", "sysfs", "-o", "ro,nosuid,nodev,noexec", "sysfs", "/sys")


def set_sysctl(key: str, value: str) -> None:
    with open("/proc/sys/" + key.replace(".", "/"), "w") as fh:
        fh.write(value)


def start_frr(cfg: dict) -> None:
    for d in ("/run/frr", "/var/log/frr", "/var/tmp/frr"):
        os.makedirs(d, exist_ok=True)
    sh("chown", "-R", "frr:frr", "/etc/frr", "/run/frr", "/var/log/frr", "/var/tmp/frr")
    sh("/usr/lib/frr/frrinit.sh", "start")


def start_snmpd(cfg: dict) -> None:
    os.makedirs("/var/lib/snmp", exist_ok=True)
    env = {"MIBS": "", "SNMP_PERSISTENT_DIR": "/var/lib/snmp"}
    sh("/usr/sbin/snmpd", "-C", "-c", "/etc/snmp/jinbao-lab-snmpd.conf", "-Lf", "/var/log/snmpd.log",
       "-p", "/run/snmpd.pid", env=env)  # fmt: skip


def ensure_admin(cfg: dict) -> None:
    """The deploy account (what a VM template or cloud-init gives a real server): key login, sudo."""
    user = cfg.get("admin_user")
    if not user:
        return
    try:
        sh("id", "-u", user)
    except RuntimeError:
        sh("useradd", "--create-home", "--shell", "/bin/bash", "--password", "*", user)
    home = f"/home/{user}"
    os.makedirs(f"{home}/.ssh", mode=0o700, exist_ok=True)
    with open(cfg["admin_keys"]) as src, open(f"{home}/.ssh/authorized_keys", "w") as dst:
        dst.write(src.read())
    os.chmod(f"{home}/.ssh/authorized_keys", 0o600)
    sh("chown", "-R", f"{user}:{user}", f"{home}/.ssh")


def start_sshd(cfg: dict) -> None:
    ensure_admin(cfg)
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    os.chmod("/run/sshd", 0o755)
    sh("/usr/sbin/sshd", "-t")
    sh("/usr/sbin/sshd", "-E", "/var/log/sshd.log")


def start_postgresql(cfg: dict) -> None:
    os.makedirs("/run/postgresql", exist_ok=True)
    sh("chown", "postgres:postgres", "/run/postgresql")
    os.chmod("/run/postgresql", 0o2775)
    for version in sorted(os.listdir("/etc/postgresql")):
        for cluster in sorted(os.listdir(f"/etc/postgresql/{version}")):
            sh("pg_ctlcluster", version, cluster, "start")


def start_nftables(cfg: dict) -> None:
    sh("nft", "-f", "/etc/nftables.conf")


STARTERS = {
    "frr": start_frr,
    "snmpd": start_snmpd,
    "sshd": start_sshd,
    "postgresql": start_postgresql,
    "nftables": start_nftables,
}


def setup(cfg: dict) -> dict[str, str]:
    mount_private()
    socket.sethostname(cfg["hostname"])
    sh("ip", "link", "set", "lo", "up")
    if cfg["forwarding"]:
        set_sysctl("net.ipv4.ip_forward", "1")
        set_sysctl("net.ipv6.conf.all.forwarding", "1")
        # Keep IPv6 addresses when a link goes down (the Linux default flushes them, and zebra does not put
        # them back: the IPv6 BGP session over a line that flapped would never return). FRR's own advice
        # for Linux routers; the server baseline role sets the same on real machines.
        set_sysctl("net.ipv6.conf.all.keep_addr_on_down", "1")
        set_sysctl("net.ipv6.conf.default.keep_addr_on_down", "1")
    results: dict[str, str] = {}
    for name in ORDER:
        if name not in cfg["services"]:
            continue
        try:
            STARTERS[name](cfg)
            results[name] = "ok"
        except Exception as exc:
            results[name] = f"failed: {exc}"
        log(f"{name}: {results[name]}")
    return results


def shutdown() -> None:
    """Stop every process of the node (the lab is being torn down: no state is kept)."""
    log("stopping")
    for sig, grace in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 2.0)):
        try:
            os.kill(-1, sig)  # from PID 1 of a PID namespace: every other process of this node
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                time.sleep(0.02)


def main() -> int:
    def on_term(_sig: int, _frame: object) -> None:
        raise Shutdown

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes signal.pause() below
    with open(CONFIG) as fh:
        cfg = json.load(fh)
    try:
        results = setup(cfg)
        os.makedirs(os.path.dirname(READY), exist_ok=True)
        with open(READY + ".tmp", "w") as fh:
            json.dump({"services": results, "hostname": socket.gethostname()}, fh)
        os.rename(READY + ".tmp", READY)
        log("ready " + json.dumps(results))
        while True:  # reap every child and orphan until told to stop
            try:
                os.wait()
            except ChildProcessError:
                signal.pause()
    except Shutdown:
        shutdown()
        return 0


if __name__ == "__main__":
    sys.exit(main())
