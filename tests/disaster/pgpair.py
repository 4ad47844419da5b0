"""Two real PostgreSQL 15 clusters on loopback, primary and streaming standby, run as user postgres.

A test harness, not the product: the product builds replicas with the Ansible roles on the lab's servers.
This pair exercises what must hold whatever builds it (the witness, the figures, sync vs async).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path

BIN = Path("/usr/lib/postgresql/15/bin")
PASSWORD = "LAB-ONLY-drill-test"  # a throwaway cluster on loopback, deleted after the test


def _as_postgres(*argv: str, env: dict[str, str] | None = None, check: bool = True,
                 netns: str | None = None) -> subprocess.CompletedProcess:
    pw = pwd.getpwnam("postgres")

    def demote() -> None:
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)

    if netns:  # entering a namespace needs root: ip enters it, runuser then drops to postgres
        argv = ("ip", "netns", "exec", netns, "runuser", "-u", "postgres", "--", *argv)
    r = subprocess.run(list(argv), capture_output=True, text=True, preexec_fn=None if netns else demote,
                       env={**os.environ, "HOME": "/tmp", **(env or {})}, cwd="/tmp", timeout=120)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} -> {r.returncode}: {(r.stderr or r.stdout).strip()[-800:]}")
    return r


class Node:
    def __init__(self, root: Path, name: str, port: int, netns: str | None = None) -> None:
        self.data, self.name, self.port, self.netns = root / name, name, port, netns

    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres password={PASSWORD} dbname=postgres"

    def start(self) -> None:
        _as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.data / "log"), "-w", "start",
                     netns=self.netns)

    def pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def kill_hard(self) -> None:
        """What a power cut looks like to the database: the postmaster dies with SIGKILL, its backends too."""
        pid = self.pid()
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        for c in children:  # orphaned backends of this postmaster only
            os.kill(int(c), signal.SIGKILL)

    def promote(self) -> float:
        t0 = time.monotonic()
        _as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-w", "promote")
        return time.monotonic() - t0

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            _as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False,
                         netns=self.netns)


def build_single(root: Path, port: int, name: str = "primary", netns: str | None = None,
                 conf: str = "", hba: str = "") -> Node:
    """One cluster on 127.0.0.1:`port` (of network namespace `netns` when given), password auth only; `conf`
    and `hba` are appended to postgresql.conf and pg_hba.conf before the first start."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.chown(root, "postgres", "postgres")
    pwfile = root / "pw"
    pwfile.write_text(PASSWORD + "\n")
    shutil.chown(pwfile, "postgres", "postgres")
    node = Node(root, name, port, netns)
    _as_postgres(str(BIN / "initdb"), "-A", "scram-sha-256", "-U", "postgres", f"--pwfile={pwfile}",
                 "-D", str(node.data))
    with open(node.data / "postgresql.conf", "a") as fh:
        fh.write(f"listen_addresses = '127.0.0.1'\nport = {node.port}\ncluster_name = '{name}'\n"
                 f"unix_socket_directories = '{root}'\n{conf}")
    with open(node.data / "pg_hba.conf", "a") as fh:
        fh.write(hba)
    node.start()
    return node


def build_pair(root: Path, base_port: int, sync: bool) -> tuple[Node, Node]:
    sync_conf = "synchronous_standby_names = 'FIRST 1 (standby)'\n" if sync else ""
    primary = build_single(root, base_port, "primary", conf="wal_level = replica\nmax_wal_senders = 4\n" + sync_conf,
                           hba="host replication postgres 127.0.0.1/32 scram-sha-256\n")
    standby = Node(root, "standby", base_port + 1)
    passfile = root / "pgpass"  # the replication password never lands in postgresql.auto.conf
    passfile.write_text(f"127.0.0.1:{primary.port}:*:postgres:{PASSWORD}\n")
    os.chmod(passfile, 0o600)
    shutil.chown(passfile, "postgres", "postgres")
    _as_postgres(str(BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
                 "-X", "stream", "-C", "-S", "standby", "-D", str(standby.data),
                 env={"PGPASSFILE": str(passfile)})
    with open(standby.data / "postgresql.conf", "a") as fh:
        fh.write(f"port = {standby.port}\ncluster_name = 'standby'\nsynchronous_standby_names = ''\n"
                 f"primary_conninfo = 'host=127.0.0.1 port={primary.port} user=postgres "
                 f"passfile={passfile} application_name=standby'\nprimary_slot_name = 'standby'\n")
    (standby.data / "standby.signal").touch()
    shutil.chown(standby.data / "standby.signal", "postgres", "postgres")
    standby.start()
    return primary, standby
