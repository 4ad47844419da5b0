"""The inventory as the JSON contract other tools read (`jinbao inventory show --json`)."""

from __future__ import annotations

from inventory.model import Inventory
from inventory.scope import sites_in_scope
from ipplan import keys
from ipplan.registry import Registry


def mgmt_address(reg: Registry, site: str, host: str, af: int = 4) -> str | None:
    rec = reg.get(keys.mgmt_host(af, site, host))
    return None if rec is None else rec.prefix.split("/")[0]


def inventory_dict(inv: Inventory, reg: Registry, scope: str | None = None) -> dict:
    """The whole network, or a scope (inventory.scope: a site id, a region code and everything under it,
    short forms included). An unknown scope is a JinbaoError, never an empty answer. Links with either end in
    scope are listed."""
    wanted = sites_in_scope(inv, scope)

    def in_scope(site_id: str) -> bool:
        return site_id in wanted

    sites = [{"id": s.id, "code": s.code, "tier": s.tier, "kind": s.kind, "parent": s.parent,
              "name_zh": s.name_zh, "name_en": s.name_en, "province": s.province, "city": s.city,
              "access_kind": s.access_kind, "asn": inv.asn(s)}
             for s in inv.sites if in_scope(s.id)]
    devices = [{"hostname": d.hostname, "site": d.site, "role": d.role, "platform": d.platform,
                "mgmt_ip": mgmt_address(reg, d.site, d.hostname),
                "mgmt_ipv6": mgmt_address(reg, d.site, d.hostname, 6)}
               for d in inv.devices if in_scope(d.site)]
    links = [{"id": link.id, "a": link.a, "b": link.b, "kind": link.kind, "a_site": link.a_site,
              "b_site": link.b_site}
             for link in inv.links if in_scope(link.a_site) or in_scope(link.b_site)]
    return {"sites": sites, "devices": devices, "links": links}
