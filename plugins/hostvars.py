"""Every server and network device of the source of truth as hosts with variables and groups.

One pure view shared by the Ansible inventory plugin (plugins/ansible_inventory/jinbao.py), the Nornir inventory
plugin (plugins/nornir_inventory.py) and `jinbao vm`: so an engineer's Nornir script, a playbook and the
VM builder all see the same hosts, groups and data. Layer-wise it sits with the plugins (it reads the IP
record and, for a lab, the lab's recorded slice), not with the model below it.

Real network: `ansible_host` is the out-of-band management address from the IP registration record.
A lab (`lab=NAME`): only the hosts the lab built, with the lab's management addresses, SSH user and key,
the lab's platforms (routers run FRR, firewalls Linux) and the lab's management zone - the differences
live in variables only; the roles and playbooks read the same `jinbao_*` variables everywhere.

The server roles' inputs (docs/servers.md) come from here too: management networks, the management zone's
NTP and log servers (the same ones the network devices get, network/plan.py; the ministry's NM server, with
none above it, those of the national DR centre), listen addresses, a zone
database's client networks (the zone's LANs and, from the zone policy, the LANs with a PostgreSQL flow into
it), the NMS's SNMPv3 user; and the groups `databases` and `routers` the playbooks and group_vars use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import JinbaoError
from inventory.drpolicy import DB_ROLE, DrDoc, first_db, load_dr_config, replica_site
from inventory.model import ZONE_OF_ROLE, Device
from inventory.platforms import PLATFORMS
from inventory.scope import sites_in_scope
from ipplan import keys
from network.plan import PlanInput, management_servers

if TYPE_CHECKING:
    from network.policy.model import Policy

KIND_OF_ROLE = {"WR": "router", "AR": "router", "FW": "firewall", "DB": "server", "EX": "server", "DS": "server",
                "NM": "server"}
GROUP_KEYS = ("tier", "province", "city", "site", "role", "zone", "kind", "platform")
DATABASE_ZONES = ("production", "exchange", "decision")  # each has a zone database server (group `databases`)
# the roles of those servers: who the postgresql role builds and its testinfra suite checks (DB, EX, DS)
DATABASE_ROLES = tuple(r for r, (_, z) in ZONE_OF_ROLE.items() if z in DATABASE_ZONES and KIND_OF_ROLE[r] == "server")
LINUX_NETWORK_PLATFORMS = ("frr", "linux_nftables")  # routers/firewalls the baseline can run on (`routers`)
LAB_SERVER_USER = "jbadmin"  # the lab's deploy account on every node (lab/nodefiles.py ADMIN_USER)


@dataclass
class HostView:
    name: str
    vars: dict[str, Any]
    groups: list[str] = field(default_factory=list)


@dataclass
class InventoryView:
    hosts: dict[str, HostView]
    groups: dict[str, dict[str, Any]]  # group -> group vars
    where: str


def group_name(key: str, value: str) -> str:
    """`site` + `140100-DC` -> `site_140100_dc`: valid Ansible group names (letters, digits, underscores),
    lower case - the one form, used by `jinbao servers build --scope` (jinbao/provision.py) too."""
    return f"{key}_{value}".replace("-", "_").replace(".", "_").lower()


@dataclass
class ViewContext:
    """What every host's variables are computed from, read once per view."""

    plan: PlanInput
    dr: DrDoc
    db_sources: dict[str, tuple[str, ...]]  # zone -> zones whose LANs may reach its database (itself first)
    known: set[str]  # hostnames a partner may be (the inventory's, or the lab's)
    devs_of: dict[str, list[Device]] = field(default_factory=dict)
    # zone -> {to_site: zones}: clients reaching the database of that zone by its DR service address
    svc_sources: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.devs_of = self.devs_of or self.plan.inv.devices_of()


def _zone_policy(directory: Path) -> Policy | None:
    """The inventory directory's zone policy (policy.yaml), loaded once per view; None without the file."""
    if not (Path(directory) / "policy.yaml").exists():
        return None
    from network.policy.model import load_policy

    return load_policy(Path(directory))


def db_client_zones(pol: Policy | None) -> dict[str, tuple[str, ...]]:
    """Zone -> the zones whose clients reach its database: itself, and the sources of the zone policy's
    same-site PostgreSQL flows into it (production -> exchange). No policy: the zone itself only."""
    out = {z: (z,) for z in DATABASE_ZONES}
    for f in pol.allowed() if pol else ():
        if f.dst in out and f.to_site == "same" and "postgresql" in f.services and f.src not in out[f.dst]:
            out[f.dst] = (*out[f.dst], f.src)
    return out


def db_service_zones(pol: Policy | None) -> dict[str, dict[str, tuple[str, ...]]]:
    """Zone -> {"same" | "replica": source zones}: the zone policy's PostgreSQL flows into a zone of service
    addresses that sits behind that zone's port (`database-service` behind `production`, docs/dr.md): its own
    site's clients, and the clients of the sites whose replica a DR centre holds. No policy: none."""
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for f in pol.allowed() if pol else ():
        port = pol.zones[f.dst].port
        if port in DATABASE_ZONES and "postgresql" in f.services and f.to_site in ("same", "replica"):
            got = out.setdefault(port, {}).setdefault(f.to_site, ())
            if f.src not in got:
                out[port][f.to_site] = (*got, f.src)
    return out


def _zone_nets(plan: PlanInput, site: str, zones: tuple[str, ...], pool: str) -> list[str]:
    """The active IPv4 and IPv6 blocks of these zones at a site, from the IP record."""
    nets: list[str] = []
    for src in zones:
        src_pool = next((p for p, z in ZONE_OF_ROLE.values() if z == src), pool)
        for af in (4, 6):
            rec = plan.addr.reg.get(keys.subnet(src_pool, af, site, src))
            if rec is not None and rec.status == "active":
                nets.append(rec.prefix)
    return nets


def _service_client_nets(ctx: ViewContext, d: Device, zone: str, pool: str) -> list[str]:
    """The clients of a site's own replicated database by its service address (docs/dr.md), on the site's first
    DB server: its own site's."""
    svc = ctx.svc_sources.get(zone, {})
    if not svc or d.role != DB_ROLE or first_db(ctx.devs_of.get(d.site, [])) != d:
        return []
    return _zone_nets(ctx.plan, d.site, svc.get("same", ()), pool) if ctx.plan.inv.site(d.site).kind == "dc" else []


def _pair_client_nets(ctx: ViewContext, d: Device, zone: str, pool: str) -> dict[str, list[str]]:
    """On a DR centre's first DB server: primary site -> the clients of that site's database by its service
    address (the address moves here with the database). Per pair: they may reach that pair's standby alone,
    never this server's other clusters (the roles keep them out of the shared client lists)."""
    svc = ctx.svc_sources.get(zone, {}).get("replica", ())
    inv = ctx.plan.inv
    if not svc or d.role != DB_ROLE or first_db(ctx.devs_of.get(d.site, [])) != d:
        return {}
    return {s.id: _zone_nets(ctx.plan, s.id, svc, pool) for s in inv.sites
            if s.kind == "dc" and first_db(ctx.devs_of.get(s.id, [])) and replica_site(inv, ctx.dr, s) == d.site}


def dr_partner(ctx: ViewContext, d: Device) -> tuple[str | None, str | None]:
    """(DR centre backing the device's site, the host there it pairs with) - inventory/drpolicy.py's rule,
    the replication plan's: a DB server's partner is the plan's replica (first DB to first DB); other roles
    pair with the same role and number at the DR centre. (None, None) for DR centres and access sites."""
    inv = ctx.plan.inv
    rsid = replica_site(inv, ctx.dr, inv.site(d.site))
    if rsid is None or not inv.has_site(rsid):
        return None, None
    there = ctx.devs_of.get(rsid, [])
    if d.role == DB_ROLE:
        mine, theirs = first_db(ctx.devs_of[d.site]), first_db(there)
        partner = theirs.hostname if theirs and mine and mine.hostname == d.hostname else None
    else:
        partner = next((x.hostname for x in there if x.role == d.role and x.index == d.index), None)
    return rsid, partner if partner in ctx.known else None


def _lan(plan: PlanInput, site: str, pool: str, zone: str, af: int, who: str, member: str) -> str | None:
    sub_key = keys.subnet(pool, af, site, zone)
    rec = plan.addr.reg.get(keys.member(sub_key, member))
    sub = plan.addr.reg.get(sub_key)
    if rec is None or sub is None or rec.status != "active":
        return None
    return f"{rec.prefix.split('/')[0]}/{sub.prefix.split('/')[1]}"


def _mgmt(plan: PlanInput, site: str, host: str, af: int) -> str | None:
    rec = plan.addr.reg.get(keys.mgmt_host(af, site, host))
    return None if rec is None else rec.prefix.split("/")[0]


def network_os(platform: str) -> str | None:
    """Ansible's network_os of a device platform (inventory/platforms.py); None: a Linux host (plain SSH)."""
    p = PLATFORMS.get(platform)
    return p.network_os if p else None


def nornir_platform(platform: str) -> str:
    """The Nornir host platform of a device platform (inventory/platforms.py); an unknown name as it is."""
    p = PLATFORMS.get(platform)
    return p.nornir_platform if p else platform


def _addr(cidr: str | None) -> str | None:
    return cidr.split("/")[0] if cidr else None


def host_vars(ctx: ViewContext, d: Device, platform: str | None = None) -> dict[str, Any]:
    """A device's variables."""
    plan = ctx.plan
    inv = plan.inv
    site = inv.site(d.site)
    platform = platform or d.platform
    kind = KIND_OF_ROLE.get(d.role, "server")
    pool, zone = ZONE_OF_ROLE.get(d.role, ("management", "management"))
    partner_site, partner = dr_partner(ctx, d)
    mgmt4 = _mgmt(plan, d.site, d.hostname, 4)
    v: dict[str, Any] = {
        "ansible_host": mgmt4,
        "jinbao_hostname": d.hostname,
        "jinbao_kind": kind,
        "jinbao_role": d.role,
        "jinbao_index": d.index,
        "jinbao_platform": platform,
        "jinbao_site": d.site,
        "jinbao_site_kind": site.kind,
        "jinbao_site_name_en": site.name_en,
        "jinbao_site_name_zh": site.name_zh,
        "jinbao_tier": site.tier,
        "jinbao_region_code": site.code,
        "jinbao_province": site.province,
        "jinbao_city": site.city,
        "jinbao_zone": zone,
        "jinbao_mgmt_ipv4": mgmt4,
        "jinbao_mgmt_ipv6": _mgmt(plan, d.site, d.hostname, 6),
        "jinbao_dr_site": partner_site,
        "jinbao_dr_partner": partner,
    }
    if kind == "server":
        # the server's address in its zone (management servers: on the out-of-band management LAN)
        lan = "oob" if pool == "management" else zone
        for af, key in ((4, "ipv4"), (6, "ipv6")):
            v[f"jinbao_zone_{key}"] = _lan(plan, d.site, pool, lan, af, d.hostname, d.hostname)
            v[f"jinbao_zone_gateway_{key}"] = _addr(_lan(plan, d.site, pool, lan, af, d.hostname, "gateway"))
    if kind == "router":
        v["jinbao_asn"] = inv.asn(site)
    if kind == "server" or platform in LINUX_NETWORK_PLATFORMS:
        v.update(_baseline_inputs(ctx, d, v, zone, pool))
    nos = network_os(platform)
    if kind != "server" and nos:
        v["ansible_network_os"] = nos
        v["ansible_connection"] = "ansible.netcommon.network_cli"
    return v


def _baseline_inputs(ctx: ViewContext, d: Device, v: dict[str, Any], zone: str, pool: str) -> dict[str, Any]:
    """What the baseline (and, on zone database servers, the postgresql role) reads from the inventory."""
    plan = ctx.plan
    # The management zone's servers: the same list the network devices of the site get (own site, province,
    # ministry); never the host itself (a management server takes its time from the tier above).
    nms = [ip for ip in management_servers(plan, plan.inv.site(d.site)) if ip != v["jinbao_mgmt_ipv4"]]
    if not nms and v["jinbao_dr_site"]:
        # The top of the hierarchy (the ministry's NM server) has no management server above it: it uses
        # those of the DR centre holding its site's replica (drpolicy's rule: the national DR centre), an
        # off-site copy of its logs and its NTP peer. The pair's reference clock is their NTP service's own.
        nms = [ip for ip in management_servers(plan, plan.inv.site(v["jinbao_dr_site"]))
               if ip != v["jinbao_mgmt_ipv4"]]
    out: dict[str, Any] = {
        # The national management prefixes: where the NMS and operators come from (the routers' JB-MGMT ACL).
        "jinbao_mgmt_nets": [plan.mgmt_pools[af] for af in (4, 6) if plan.mgmt_pools.get(af)],
        "jinbao_ntp_servers": nms[-2:],
        "jinbao_log_servers": nms[:2],
        "jinbao_listen_addresses": list(dict.fromkeys(
            a for a in (v["jinbao_mgmt_ipv4"], _addr(v.get("jinbao_zone_ipv4"))) if a)),
        "jinbao_snmp_user": plan.routing.management.snmp_user,
    }
    if zone in DATABASE_ZONES:
        nets = _zone_nets(plan, d.site, ctx.db_sources.get(zone, (zone,)), pool)
        nets += [n for n in _service_client_nets(ctx, d, zone, pool) if n not in nets]
        out["jinbao_db_client_nets"] = nets
        out["jinbao_db_pair_client_nets"] = _pair_client_nets(ctx, d, zone, pool)
    return out


def _groups_of(v: dict[str, Any]) -> list[str]:
    value = {"tier": v["jinbao_tier"], "province": v["jinbao_province"], "site": v["jinbao_site"],
            "city": v["jinbao_city"], "role": v["jinbao_role"].lower(), "zone": v["jinbao_zone"],
            "kind": v["jinbao_kind"], "platform": v["jinbao_platform"]}
    out = [group_name(k, value[k]) for k in GROUP_KEYS]
    out.append("servers" if v["jinbao_kind"] == "server" else "network")
    if v["jinbao_kind"] == "server" and v["jinbao_zone"] in DATABASE_ZONES:
        out.append("databases")
    if v["jinbao_kind"] != "server" and v["jinbao_platform"] in LINUX_NETWORK_PLATFORMS:
        out.append("routers")
    return out


def context(plan: PlanInput, directory: Path | str, known: set[str] | None = None) -> ViewContext:
    """The view's inputs: the plan, and the DR and zone policies of the inventory directory."""
    pol = _zone_policy(Path(directory))
    return ViewContext(plan, load_dr_config(Path(directory))[0], db_client_zones(pol),
                       known if known is not None else {d.hostname for d in plan.inv.devices},
                       svc_sources=db_service_zones(pol))


def build_view(plan: PlanInput, scope: str | None = None, where: str = "",
               directory: Path | str | None = None) -> InventoryView:
    """The real network (or a scope of it): every device, management addresses from the IP record."""
    from inventory.load import default_inventory_dir

    ctx = context(plan, directory or where or default_inventory_dir())
    sites = sites_in_scope(plan.inv, scope)
    hosts: dict[str, HostView] = {}
    for d in plan.inv.devices:
        if d.site not in sites:
            continue
        v = host_vars(ctx, d)
        hosts[d.hostname] = HostView(d.hostname, v, _groups_of(v))
    return InventoryView(hosts, _group_vars(hosts), where)


def _group_vars(hosts: dict[str, HostView]) -> dict[str, dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    for h in hosts.values():
        for g in h.groups:
            groups.setdefault(g, {})
    return groups


def lab_view(lab_name: str, scope: str | None = None) -> InventoryView:
    """The hosts a lab built (as recorded by `jinbao lab up` or lab/servers.py's `up`), reachable the lab's
    way. The lab's differences, all in variables: management addresses, SSH user and key, platforms of
    the routers, and its management zone (the lab's management network; the NTP/log stand-in node of a
    server lab, else the lab host) - see docs/servers.md."""
    import ipaddress

    from lab import names, runtime, state
    from lab.fleet import LAB_META, read_lab_meta
    from lab.servers import MGMT_NODE
    from lab.slice import MGMT_NET, build_lab
    from lab.spec import LabSpec

    meta = names.lab_dir(lab_name) / LAB_META
    if not meta.exists():
        raise JinbaoError(f"lab {lab_name!r} is not up (no {meta}); run `jinbao lab up` first")
    info = read_lab_meta(meta)
    mgmt_net = info.get("mgmt_net", MGMT_NET)
    lp = build_lab(Path(info["inventory"]), info["slice"], lab_name, mgmt_net)
    # A lab built from part of the slice (a server lab) has only some of its nodes: keep what is running.
    st = state.load(lab_name)
    running = LabSpec.from_dict(st["spec"]) if st and "spec" in st else None
    built = {n.hostname for n in running.nodes} if running else set(lp.mgmt)
    standin = next((n for n in running.nodes if n.name == MGMT_NODE), None) if running else None
    lab_host = running.mgmt_host_ip if running else lp.spec.mgmt_host_ip
    mgmt_zone = [str(ipaddress.ip_interface(standin.mgmt_ip).ip)] if standin else [lab_host]
    ctx = context(lp.plan, Path(info["inventory"]), known=set(lp.mgmt) & built)
    sites = sites_in_scope(lp.plan.inv, scope)
    hosts: dict[str, HostView] = {}
    key, known = runtime.ssh_key(lab_name), runtime.known_hosts(lab_name)
    for d in lp.plan.inv.devices:
        if d.hostname not in lp.mgmt or d.hostname not in built or d.site not in sites:
            continue
        platform = {"router": "frr", "firewall": "linux_nftables"}.get(KIND_OF_ROLE.get(d.role, ""), d.platform)
        v = host_vars(ctx, d, platform)
        ip = lp.mgmt[d.hostname]
        v.update({"ansible_host": ip, "jinbao_mgmt_ipv4": ip,
                  "ansible_user": "root", "ansible_ssh_private_key_file": key,
                  "ansible_ssh_common_args": f"-o UserKnownHostsFile={known} -o StrictHostKeyChecking=yes",
                  "jinbao_lab": lab_name, "jinbao_lab_node": lp.nodes[d.hostname],
                  "jinbao_lab_dir": str(names.lab_dir(lab_name))})
        if "jinbao_mgmt_nets" in v:
            v.update({"jinbao_mgmt_nets": [mgmt_net], "jinbao_ntp_servers": mgmt_zone,
                      "jinbao_log_servers": mgmt_zone,
                      "jinbao_listen_addresses": list(dict.fromkeys(
                          a for a in (ip, _addr(v.get("jinbao_zone_ipv4"))) if a))})
        if "jinbao_db_client_nets" in v:
            # the lab host stands in for the management zone's tools (and the tests) as a database client
            v["jinbao_db_client_nets"] = [*v["jinbao_db_client_nets"], f"{lab_host}/32"]
        if v["jinbao_kind"] == "server":
            # servers are reached as on a real network: the deploy account with sudo (root login is refused)
            v["ansible_user"] = LAB_SERVER_USER
        else:
            # The lab's routers are Linux boxes running FRR: SSH to the shell, vtysh inside.
            v.pop("ansible_connection", None)
            v["ansible_network_os"] = "frr.frr.frr"
        hosts[d.hostname] = HostView(d.hostname, v, [*_groups_of(v), "lab"])
    return InventoryView(hosts, _group_vars(hosts), f"lab {lab_name} ({info['slice']} slice)")


def load_view(inventory_dir: Path | str | None = None, lab: str | None = None,
              scope: str | None = None) -> InventoryView:
    """The one entry point: the lab's slice when `lab` is given, else the inventory directory's network."""
    if lab:
        return lab_view(lab, scope)
    from inventory.load import default_inventory_dir

    directory = Path(inventory_dir) if inventory_dir else default_inventory_dir()
    return build_view(_open_network(directory), scope, str(directory), directory)


_PLANS: dict[tuple[str, tuple[float, ...]], PlanInput] = {}


def _plan_key(directory: Path) -> tuple[str, tuple[float, ...]]:
    files = sorted(p for p in directory.iterdir() if p.is_file()) if directory.is_dir() else []
    return str(directory.resolve()), tuple(p.stat().st_mtime for p in files)


def _open_network(directory: Path) -> PlanInput:
    """open_network, remembered per process while the directory's files stay unchanged (the deploy engine
    builds its Nornir through this view once per run; loading the nation takes about a second)."""
    from network.service import open_network

    key = _plan_key(directory)
    if key not in _PLANS:
        _PLANS.clear()
        _PLANS[key] = open_network(directory)
    return _PLANS[key]


def share_network(directory: Path | str, plan: PlanInput) -> None:
    """Hand this process's plugins the directory's plan that the caller holds already (`jinbao run`'s
    workspace, read once): the views built on the directory (the deploy engine's Nornir inventory) use it
    while the directory's files stay unchanged, instead of reading them again."""
    directory = Path(directory)
    _PLANS.clear()
    _PLANS[_plan_key(directory)] = plan


def view_json(view: InventoryView) -> str:
    return json.dumps({"where": view.where, "hosts": {h: {"vars": x.vars, "groups": x.groups}
                                                      for h, x in view.hosts.items()}}, ensure_ascii=False)
