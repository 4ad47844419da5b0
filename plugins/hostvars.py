"""Every server and network device of the source of truth as hosts with variables and groups.

One pure view shared by the Ansible inventory plugin (plugins/ansible_inventory/jinbao.py), the Nornir inventory
plugin (plugins/nornir_inventory.py) and `jinbao vm`: so an engineer's Nornir script, a playbook and the
VM builder all see the same hosts, groups and data. Layer-wise it sits with the plugins (it reads the IP
record and, for a lab, the lab's recorded slice), not with the model below it.

Real network: `ansible_host` is the out-of-band management address from the IP registration record.
A lab (`lab=NAME`): only the hosts the lab built, with the lab's management addresses, SSH user and key,
and the lab's platforms (routers run FRR, firewalls Linux) - the differences live in variables only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import JinbaoError
from inventory.model import Device, Inventory, Site
from inventory.scope import sites_in_scope
from network.plan import PlanInput

# role -> (address pool, zone). Management servers live on the out-of-band management network.
ZONE_OF_ROLE: dict[str, tuple[str, str]] = {
    "DB": ("business", "production"), "EX": ("business", "exchange"), "DS": ("office", "decision"),
    "NM": ("management", "management"), "WR": ("management", "wan"), "AR": ("management", "wan"),
    "FW": ("business", "transit"),
}
KIND_OF_ROLE = {"WR": "router", "AR": "router", "FW": "firewall", "DB": "server", "EX": "server", "DS": "server",
                "NM": "server"}
# inventory platform -> Ansible network_os (network devices only; Linux hosts take plain SSH)
NETWORK_OS = {"huawei_vrp": "community.network.ce", "huawei_usg": "community.network.ce",
              "cisco_ios": "cisco.ios.ios", "h3c_comware": "community.network.comware", "frr": "frr.frr.frr",
              "linux_nftables": None, "linux": None}
# Nornir platform names (napalm / netmiko drivers)
NORNIR_PLATFORM = {"huawei_vrp": "huawei_vrp", "huawei_usg": "huawei", "cisco_ios": "ios",
                   "h3c_comware": "hp_comware", "frr": "frr", "linux_nftables": "linux", "linux": "linux"}
GROUP_KEYS = ("tier", "province", "city", "site", "role", "zone", "kind", "platform")


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
    """`site` + `140100-DC` -> `site_140100_DC`: valid Ansible group names (letters, digits, underscores)."""
    return f"{key}_{value}".replace("-", "_").replace(".", "_")


def dr_site(inv: Inventory, site: Site) -> str | None:
    """The DR centre that backs a site up: the ministry -> the national DR centre; a province's sites -> the
    provincial DR centre when there is one; a DR centre -> the data centre it protects."""
    if site.kind == "dr":
        dc = f"{site.code}-DC"
        return dc if inv.has_site(dc) else None
    if site.kind == "access":
        return None
    candidate = f"{site.province}-DR"
    return candidate if inv.has_site(candidate) else None


def _lan(plan: PlanInput, site: str, pool: str, zone: str, af: int, who: str, member: str) -> str | None:
    rec = plan.addr.reg.get(f"{pool}/{af}/{site}/{zone}/{member}")
    sub = plan.addr.reg.get(f"{pool}/{af}/{site}/{zone}")
    if rec is None or sub is None or rec.status != "active":
        return None
    return f"{rec.prefix.split('/')[0]}/{sub.prefix.split('/')[1]}"


def _mgmt(plan: PlanInput, site: str, host: str, af: int) -> str | None:
    rec = plan.addr.reg.get(f"management/{af}/{site}/oob/{host}")
    return None if rec is None else rec.prefix.split("/")[0]


def host_vars(plan: PlanInput, d: Device, platform: str | None = None, known: set[str] | None = None,
              ) -> dict[str, Any]:
    """A device's variables. `known`: every hostname of the inventory (computed once by the caller)."""
    inv = plan.inv
    site = inv.site(d.site)
    platform = platform or d.platform
    kind = KIND_OF_ROLE.get(d.role, "server")
    pool, zone = ZONE_OF_ROLE.get(d.role, ("management", "management"))
    partner_site = dr_site(inv, site)
    partner = f"JB-{partner_site}-{d.role}{d.index:02d}" if partner_site else None
    if known is None:
        known = {x.hostname for x in inv.devices}
    if partner not in known:
        partner = None
    v: dict[str, Any] = {
        "ansible_host": _mgmt(plan, d.site, d.hostname, 4),
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
        "jinbao_mgmt_ipv4": _mgmt(plan, d.site, d.hostname, 4),
        "jinbao_mgmt_ipv6": _mgmt(plan, d.site, d.hostname, 6),
        "jinbao_dr_site": partner_site,
        "jinbao_dr_partner": partner,
    }
    if kind == "server":
        # the server's address in its zone (management servers: on the out-of-band management LAN)
        lan = "oob" if pool == "management" else zone
        for af, key in ((4, "ipv4"), (6, "ipv6")):
            v[f"jinbao_zone_{key}"] = _lan(plan, d.site, pool, lan, af, d.hostname, d.hostname)
            gw = _lan(plan, d.site, pool, lan, af, d.hostname, "gateway")
            v[f"jinbao_zone_gateway_{key}"] = gw.split("/")[0] if gw else None
    if kind == "router":
        v["jinbao_asn"] = inv.asn(site)
    nos = NETWORK_OS.get(platform)
    if kind != "server" and nos:
        v["ansible_network_os"] = nos
        v["ansible_connection"] = "ansible.netcommon.network_cli"
    return v


def _groups_of(v: dict[str, Any]) -> list[str]:
    keys = {"tier": v["jinbao_tier"], "province": v["jinbao_province"], "site": v["jinbao_site"],
            "city": v["jinbao_city"], "role": v["jinbao_role"].lower(), "zone": v["jinbao_zone"],
            "kind": v["jinbao_kind"], "platform": v["jinbao_platform"]}
    out = [group_name(k, keys[k]) for k in GROUP_KEYS]
    out.append("servers" if v["jinbao_kind"] == "server" else "network")
    return out


def build_view(plan: PlanInput, scope: str | None = None, where: str = "") -> InventoryView:
    """The real network (or a scope of it): every device, management addresses from the IP record."""
    sites = sites_in_scope(plan.inv, scope)
    hosts: dict[str, HostView] = {}
    known = {d.hostname for d in plan.inv.devices}
    for d in plan.inv.devices:
        if d.site not in sites:
            continue
        v = host_vars(plan, d, known=known)
        hosts[d.hostname] = HostView(d.hostname, v, _groups_of(v))
    return InventoryView(hosts, _group_vars(hosts), where)


def _group_vars(hosts: dict[str, HostView]) -> dict[str, dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    for h in hosts.values():
        for g in h.groups:
            groups.setdefault(g, {})
    return groups


def lab_view(lab_name: str, scope: str | None = None) -> InventoryView:
    """The hosts a lab built (as recorded by `jinbao lab up`), reachable the lab's way."""
    from lab import names, runtime
    from lab.fleet import LAB_META, read_lab_meta
    from lab.slice import MGMT_NET, build_lab

    meta = names.lab_dir(lab_name) / LAB_META
    if not meta.exists():
        raise JinbaoError(f"lab {lab_name!r} is not up (no {meta}); run `jinbao lab up` first")
    info = read_lab_meta(meta)
    lp = build_lab(Path(info["inventory"]), info["slice"], lab_name, info.get("mgmt_net", MGMT_NET))
    sites = sites_in_scope(lp.plan.inv, scope)
    hosts: dict[str, HostView] = {}
    key, known = runtime.ssh_key(lab_name), runtime.known_hosts(lab_name)
    for d in lp.plan.inv.devices:
        if d.hostname not in lp.mgmt or d.site not in sites:
            continue
        platform = {"router": "frr", "firewall": "linux_nftables"}.get(KIND_OF_ROLE.get(d.role, ""), d.platform)
        v = host_vars(lp.plan, d, platform, known=set(lp.mgmt))
        v.update({"ansible_host": lp.mgmt[d.hostname], "jinbao_mgmt_ipv4": lp.mgmt[d.hostname],
                  "ansible_user": "root", "ansible_ssh_private_key_file": key,
                  "ansible_ssh_common_args": f"-o UserKnownHostsFile={known} -o StrictHostKeyChecking=yes",
                  "jinbao_lab": lab_name, "jinbao_lab_node": lp.nodes[d.hostname]})
        if v["jinbao_kind"] != "server":
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
    return build_view(_open_network(directory), scope, str(directory))


_PLANS: dict[tuple[str, tuple[float, ...]], PlanInput] = {}


def _open_network(directory: Path) -> PlanInput:
    """open_network, remembered per process while the directory's files stay unchanged (the deploy engine
    builds its Nornir through this view once per run; loading the nation takes about a second)."""
    from network.service import open_network

    files = sorted(p for p in directory.iterdir() if p.is_file()) if directory.is_dir() else []
    key = (str(directory.resolve()), tuple(p.stat().st_mtime for p in files))
    if key not in _PLANS:
        _PLANS.clear()
        _PLANS[key] = open_network(directory)
    return _PLANS[key]


def view_json(view: InventoryView) -> str:
    return json.dumps({"where": view.where, "hosts": {h: {"vars": x.vars, "groups": x.groups}
                                                      for h, x in view.hosts.items()}}, ensure_ascii=False)
