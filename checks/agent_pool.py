"""Extra snmpd agents on host loopback addresses (127.0.0.x, distinct ports) for benchmarks and tests that
need many real agents without a lab node each. Started and stopped by PID; nothing else is touched.

Each agent: SNMPv3 authPriv only (the lab's user), its own sysName/sysLocation, its own persistent dir
(so its own engine ID), listening on 127.0.0.<n>:<port> only.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from lab.spec import SnmpUser


@dataclass
class Agent:
    name: str
    host: str
    port: int
    location: str
    proc: subprocess.Popen[bytes] | None = None


@dataclass
class SnmpdPool:
    user: SnmpUser
    base_port: int = 21161
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="jinbao-snmpd-pool-")))
    agents: list[Agent] = field(default_factory=list)

    def address(self, i: int) -> tuple[str, int]:
        # 127.0.0.2 .. 127.0.0.201 and one port per agent: distinct sockets whatever the count.
        return f"127.0.0.{2 + i % 200}", self.base_port + i

    def start(self, names: list[tuple[str, str]], timeout: float = 60.0, extra_conf: str = "") -> list[Agent]:
        """Start one agent per (sysName, sysLocation); wait until every one listens. `extra_conf`: more
        snmpd.conf lines (tests plant non-compliant agents with it)."""
        u = self.user
        for name, location in names:
            i = len(self.agents)
            host, port = self.address(i)
            d = self.root / f"a{i}"
            d.mkdir(parents=True)
            (d / "snmpd.conf").write_text(
                f"agentaddress udp:{host}:{port}\n"
                f'createUser {u.name} {u.auth_proto} "{u.auth_key}" {u.priv_proto} "{u.priv_key}"\n'
                f"rouser {u.name} priv\nsysName {name}\nsysLocation {location}\n{extra_conf}", encoding="utf-8")
            env = {**os.environ, "MIBS": "", "SNMP_PERSISTENT_DIR": str(d)}
            proc = subprocess.Popen(["/usr/sbin/snmpd", "-f", "-C", "-c", str(d / "snmpd.conf"), "-Lf",
                                     str(d / "snmpd.log"), "-p", str(d / "snmpd.pid")],
                                    env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
            self.agents.append(Agent(name, host, port, location, proc))
        self._wait_listening(timeout)
        return self.agents

    def _wait_listening(self, timeout: float) -> None:
        want = {f"{a.host}:{a.port}" for a in self.agents}
        deadline = time.monotonic() + timeout
        while True:
            out = subprocess.run(["ss", "-Hlun"], capture_output=True, text=True, check=False).stdout
            have = {line.split()[3] for line in out.splitlines() if len(line.split()) > 3}
            dead = [a.name for a in self.agents if a.proc and a.proc.poll() is not None]
            if dead:
                raise RuntimeError(f"snmpd exited for {dead[:3]} (see {self.root}/a*/snmpd.log)")
            if want <= have:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(want - have)} snmpd agents not listening after {timeout} s")
            time.sleep(0.2)

    def stop(self, agent: Agent) -> None:
        if agent.proc and agent.proc.poll() is None:
            os.kill(agent.proc.pid, signal.SIGTERM)  # by PID: only the process this pool started
            try:
                agent.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(agent.proc.pid, signal.SIGKILL)
                agent.proc.wait(timeout=10)

    def close(self) -> None:
        for a in self.agents:
            self.stop(a)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> SnmpdPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
