"""What to check and where: expectations for every SNMP agent and configurations for the config rules,
from the inventory (real network) or from a lab built with `jinbao lab up`. I/O at the edge: reads the
inventory, the lab metadata and the secret source; everything it returns is plain data.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from checks.snmp import Credentials
from checks.snmp_rules import Expectation
from core.errors import JinbaoError
from network.intent_model import DeviceIntent
from network.secrets import LabTestSecrets, SecretSource, require_secret

if TYPE_CHECKING:
    from lab.slice import LabPlan

SNMP_ROLES = ("WR", "AR", "FW", "DB", "EX", "DS", "NM")
HOST_MANAGED = ("frr", "linux_nftables")  # Linux routers: the management port is the host's, not FRR's


@dataclass(frozen=True)
class Network:
    """Everything a check run needs about the nodes in scope."""

    where: str
    expectations: list[Expectation]
    intents: dict[str, DeviceIntent]  # routers and firewalls, by hostname
    roles: dict[str, str]
    credentials: Credentials
    lab: str | None = None


def expectation(hostname: str, address: str, role: str, location: str, intent: DeviceIntent | None) -> Expectation:
    if intent is None:
        return Expectation(hostname, address, role, location)
    ifs = {i.name: i.description for i in intent.interfaces
           if not (i.kind == "mgmt" and intent.platform in HOST_MANAGED)}
    peers = [n.address for n in (intent.bgp.neighbors if intent.bgp else ())]
    v4 = tuple(p for p in peers if ipaddress.ip_address(p).version == 4)
    v6 = tuple(p for p in peers if ipaddress.ip_address(p).version == 6)
    return Expectation(hostname, address, role, location, ifs, v4, v6)


def credentials(user: str, auth_proto: str, priv_proto: str, secrets: SecretSource) -> Credentials:
    return Credentials(user, require_secret(secrets, "snmp_auth", "snmp poller"),
                       require_secret(secrets, "snmp_priv", "snmp poller"), auth_proto, priv_proto)


def lab_network(lab_name: str, scope: str | None) -> Network:
    from lab.fleet import lab_plan

    return lab_network_of(*lab_plan(lab_name), scope)


def lab_network_of(lp: LabPlan, info: dict[str, str], scope: str | None) -> Network:
    """The check targets of a lab plan already built (`lab.fleet.lab_plan`, or `jinbao run`'s own)."""
    from inventory.scope import hosts_in_scope

    lab_name = lp.name
    keep = hosts_in_scope(lp.plan.inv, scope)
    exps = [expectation(n.hostname, str(ipaddress.ip_interface(n.mgmt_ip).ip), n.role, n.location,
                        lp.intents.get(n.hostname))
            for n in lp.spec.nodes if "snmpd" in n.services and n.hostname in keep]
    m = lp.plan.routing.management
    return Network(f"lab {lab_name} ({info['slice']} slice)", exps,
                   {h: i for h, i in lp.intents.items() if h in keep}, {n.hostname: n.role for n in lp.spec.nodes},
                   credentials(m.snmp_user, m.snmp_auth, m.snmp_priv, LabTestSecrets()), lab_name)


def real_network(inventory_dir: Path, scope: str | None, secrets: SecretSource) -> Network:
    from inventory.scope import hosts_in_scope
    from ipplan.inventory_export import mgmt_address
    from network.plan import build_firewall_intents, build_intents, site_location
    from network.service import open_network

    p = open_network(inventory_dir)
    keep = hosts_in_scope(p.inv, scope)
    intents = build_intents(p, keep) | build_firewall_intents(p, keep)
    sites = {s.id: s for s in p.inv.sites}
    exps = []
    for d in p.inv.devices:
        if d.hostname not in keep or d.role not in SNMP_ROLES:
            continue
        addr = mgmt_address(p.addr.reg, d.site, d.hostname)
        if not addr:
            raise JinbaoError(f"{d.hostname}: no management address in the registration record "
                              "(run `jinbao ipplan allocate`)")
        exps.append(expectation(d.hostname, addr, d.role, site_location(sites[d.site]), intents.get(d.hostname)))
    m = p.routing.management
    return Network(str(inventory_dir), exps, intents, {d.hostname: d.role for d in p.inv.devices},
                   credentials(m.snmp_user, m.snmp_auth, m.snmp_priv, secrets))
