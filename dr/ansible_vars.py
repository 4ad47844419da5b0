"""The replication plan as Ansible variables (pure): what each database host does for each pair.

`jinbao dr vars` writes them as a YAML/JSON file the DR playbooks read with ``-e @FILE``; the inventory
plugin (branch vsphere) can later return the same ``jb_dr`` structure as host variables. Per host:
- ``hba_entries``: a ``hostssl replication`` line for each peer of a pair this host is in (both directions:
  after a switchover the old primary streams from the DR centre);
- ``synchronous_standby_names``: ``FIRST 1 (<slot>)`` on primaries whose pair is synchronous, else '';
- ``standby_ports``: the ports of the standby clusters this host (a DR centre) holds, one per primary;
- ``service_addresses``: the service addresses (docs/dr.md) of the pairs this host is in, either end: its
  TLS certificate names them, since clients verify the server against the address they dialled.
A standby cluster's port is derived from its slot name alone, so it never moves when pairs are added.
"""

from __future__ import annotations

import zlib
from typing import Any

from core.errors import JinbaoError
from dr.plan import Pair

PORT_BASE = 15433
PORT_SPAN = 10000
REPLICATION_USER = "jb_replicator"


def standby_port(slot: str) -> int:
    return PORT_BASE + zlib.crc32(slot.encode()) % PORT_SPAN


def dr_vars(pairs: list[Pair], address: dict[str, str], source: str = "plan") -> dict[str, Any]:
    """`address`: hostname -> the address replication uses (the DB server's management/replication address)."""
    for p in pairs:
        for h in (p.primary, p.replica):
            if h not in address:
                raise JinbaoError(f"{h}: no address for this database server", file=source, entry=p.slot)
    hosts: dict[str, dict[str, Any]] = {}

    def host(h: str) -> dict[str, Any]:
        return hosts.setdefault(h, {"hba_entries": [], "synchronous_standby_names": "", "standby_ports": [],
                                    "service_addresses": []})

    seen_ports: dict[tuple[str, int], str] = {}
    out_pairs = []
    for p in sorted(pairs, key=lambda p: p.slot):
        port = standby_port(p.slot)
        clash = seen_ports.setdefault((p.replica, port), p.slot)
        if clash != p.slot:
            raise JinbaoError(f"standby ports of {clash} and {p.slot} collide on {p.replica} ({port})",
                              file=source, entry=p.slot)
        for me, peer in ((p.primary, p.replica), (p.replica, p.primary)):
            entry = {"type": "hostssl", "database": "replication", "user": REPLICATION_USER,
                     "address": f"{address[peer]}/32" if ":" not in address[peer] else f"{address[peer]}/128",
                     "method": "scram-sha-256"}
            if entry not in host(me)["hba_entries"]:
                host(me)["hba_entries"].append(entry)
        if p.mode == "sync":
            host(p.primary)["synchronous_standby_names"] = f"FIRST 1 ({p.slot})"
        host(p.replica)["standby_ports"].append(port)
        for me in (p.primary, p.replica):
            host(me)["service_addresses"] += [a for a in (p.service_v4, p.service_v6) if a]
        out_pairs.append({**p.as_dict(), "port": port, "primary_address": address[p.primary],
                          "replica_address": address[p.replica]})
    return {"jb_dr_pairs": out_pairs, "jb_dr_hosts": hosts}
