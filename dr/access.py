"""How the DR commands reach the databases (I/O edge): addresses from the Ansible inventory, the DR
operator's credentials from the environment or the vault, libpq connection strings over verified TLS.

- Address of a database server: its ``ansible_host`` (``jb_replication_address`` when set) as the Ansible
  inventory gives it (``ansible-inventory --list``: the lab's generated file or the source-of-truth plugin).
- Password of the DR operator role (``jb_drill``): ``JINBAO_DR_PASSWORD``, else ``vault_pg_drill_password``
  from the vault (``ansible-vault view`` with the vault password file). Never written anywhere.
- TLS: ``sslmode=verify-full`` against the project CA (``JINBAO_PG_CA``, default ``~/.jinbao/pki/ca.crt``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from core.errors import JinbaoError
from dr.ansible_vars import standby_port
from dr.plan import Pair

ROOT = Path(__file__).resolve().parent.parent
VAULT_FILE = ROOT / "inventory" / "group_vars" / "all" / "vault.yml"
DRILL_USER = "jb_drill"
DRILL_DB = "jb_business"
PRIMARY_PORT = 5432


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def addresses(inventory: Path, vault_password_file: Path | None) -> dict[str, str]:
    """hostname -> replication/management address, from any inventory Ansible can read."""
    vault = ["--vault-password-file", str(vault_password_file)] if vault_password_file else []
    r = subprocess.run([_bin("ansible-inventory"), "-i", str(inventory), "--list", *vault], capture_output=True,
                       text=True,
                       cwd=ROOT, env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}, timeout=120)
    if r.returncode != 0:
        raise JinbaoError(f"ansible-inventory failed: {(r.stderr or r.stdout).strip().splitlines()[-1:]}",
                          file=str(inventory))
    hostvars = json.loads(r.stdout).get("_meta", {}).get("hostvars", {})
    return {h: str(v.get("jb_replication_address") or v["ansible_host"]) for h, v in hostvars.items()
            if "ansible_host" in v}


def drill_password(vault_password_file: Path | None) -> str:
    env = os.environ.get("JINBAO_DR_PASSWORD")
    if env:
        return env
    if vault_password_file is None:
        raise JinbaoError("no DR operator password: set JINBAO_DR_PASSWORD or give --vault-password-file")
    r = subprocess.run([_bin("ansible-vault"), "view", "--vault-password-file", str(vault_password_file),
                        str(VAULT_FILE)], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise JinbaoError("cannot open the vault", file=str(VAULT_FILE))
    value = (yaml.safe_load(r.stdout) or {}).get("vault_pg_drill_password")
    if not value:
        raise JinbaoError("vault_pg_drill_password missing", file=str(VAULT_FILE))
    return str(value)


def ca_file(lab: str | None = None) -> str:
    """The project CA the servers' certificates are signed by: `JINBAO_PG_CA`, else where the build keeps it
    (a lab's own directory for a lab, `postgresql_ca_dir` in lab/servers.py; ~/.jinbao/pki otherwise)."""
    if os.environ.get("JINBAO_PG_CA"):
        return os.environ["JINBAO_PG_CA"]
    if lab:
        from lab import names

        return str(names.lab_dir(lab) / "pki" / "ca.crt")
    return str(Path.home() / ".jinbao" / "pki" / "ca.crt")


@dataclass(frozen=True)
class PairAccess:
    """Both ends of a pair: the production cluster (port 5432) and the DR centre's standby cluster."""

    pair: Pair
    primary_address: str
    replica_address: str
    password: str
    ca: str
    # the service address is routed (the drill moves it on a network: a lab with routers, the real one):
    # clients then use it alone; otherwise the multi-host string stands in for it
    routed: bool = False

    @property
    def replica_port(self) -> int:
        return standby_port(self.pair.slot)

    def _dsn(self, hosts: str, ports: str, extra: str = "") -> str:
        return (f"host={hosts} port={ports} dbname={DRILL_DB} user={DRILL_USER} password={self.password} "
                f"sslmode=verify-full sslrootcert={self.ca} application_name=jinbao-dr {extra}").strip()

    def primary_dsn(self) -> str:
        return self._dsn(self.primary_address, str(PRIMARY_PORT))

    def replica_dsn(self) -> str:
        return self._dsn(self.replica_address, str(self.replica_port))

    def service_dsn(self) -> str:
        """What an application is given: the service address on port 5432 where it is routed (whichever
        site announces it leads to the end accepting writes; a redirect on the DR server reaches its standby
        cluster's own port); otherwise a libpq multi-host string that picks the end accepting writes."""
        if self.routed and self.pair.service_v4:
            return self._dsn(self.pair.service_v4.split("/")[0], str(PRIMARY_PORT))
        return self._dsn(f"{self.primary_address},{self.replica_address}", f"{PRIMARY_PORT},{self.replica_port}",
                         "target_session_attrs=read-write")


def access_for(pairs: list[Pair], addr: dict[str, str], password: str, lab: str | None = None,
               routed: bool = False) -> list[PairAccess]:
    out = []
    for p in pairs:
        for h in (p.primary, p.replica):
            if h not in addr:
                raise JinbaoError(f"{h} is not in the Ansible inventory", entry=p.slot)
        out.append(PairAccess(p, addr[p.primary], addr[p.replica], password, ca_file(lab), routed))
    return out
