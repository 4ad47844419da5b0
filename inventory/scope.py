"""The one scope resolver: which sites a `--scope` names, for every command that takes one and the pipeline.

Forms (docs/architecture.md): none = the nation; a site id (`140100-DC`, `140100-AS001`); a province code
(`140000`: the province and everything below it); a city code (`140100`: the city's data centre and its
access sites); `100000` or `ministry`: the ministry's own sites. GB/T 2260's short forms name the same
regions (`14` = `140000`, `1401` = `140100`). An unknown scope is a one-line JinbaoError, never an empty answer.
"""

from __future__ import annotations

import re

from core.errors import JinbaoError
from inventory.model import ROUTER_ROLES, Inventory

MINISTRY_CODE = "100000"
ALIASES = {"ministry": MINISTRY_CODE}
_SHORT_CODE_RE = re.compile(r"^(\d{2}|\d{4})$")


def normalise_scope(scope: str | None) -> str | None:
    """The canonical spelling of a scope: short region codes padded to six digits, aliases resolved."""
    if scope is None:
        return None
    scope = ALIASES.get(scope.strip().lower(), scope.strip())
    return scope.ljust(6, "0") if _SHORT_CODE_RE.match(scope) else scope


def sites_in_scope(inv: Inventory, scope: str | None) -> set[str]:
    """None: the nation. `140100-DC`: that site. `140000`: Shanxi and everything below it. `140100`: the
    city's data centre and its access sites. `100000`: the ministry's own sites."""
    if scope is None:
        return {s.id for s in inv.sites}
    given, scope = scope, normalise_scope(scope)
    if inv.has_site(scope):
        return {scope}
    by_code = {s.id for s in inv.sites if s.code == scope}
    if not by_code and not any(s.province == scope for s in inv.sites):
        raise JinbaoError(f"--scope {given!r}: no site id or region code like that in the inventory")
    children = inv.children()
    out: set[str] = set()
    stack = sorted(by_code | {s.id for s in inv.sites if s.province == scope and s.tier != "ministry"})
    while stack:
        sid = stack.pop()
        if sid in out:
            continue
        out.add(sid)
        site = inv.site(sid)
        if site.tier != "ministry":  # the ministry's scope is itself, not the nation
            stack.extend(c.id for c in children[sid])
    return out


def hosts_in_scope(inv: Inventory, scope: str | None, roles: frozenset[str] | None = None) -> set[str]:
    """Hostnames of the devices at the sites in scope (optionally only these roles)."""
    sites = sites_in_scope(inv, scope)
    return {d.hostname for d in inv.devices if d.site in sites and (roles is None or d.role in roles)}


def router_hosts(inv: Inventory, scope: str | None) -> set[str]:
    """The WAN and access routers in scope."""
    return hosts_in_scope(inv, scope, ROUTER_ROLES)


def ancestor_routers(inv: Inventory, scope: str) -> set[str]:
    """WAN routers of every site above the scope's sites, up the parent chain to the ministry."""
    inside = sites_in_scope(inv, scope)
    above: set[str] = set()
    for sid in inside:
        parent = inv.site(sid).parent
        while parent is not None and parent not in above and parent not in inside:
            above.add(parent)
            parent = inv.site(parent).parent
    return {d.hostname for d in inv.devices if d.site in above and d.role in ROUTER_ROLES}


def with_parents(inv: Inventory, sites: set[str]) -> set[str]:
    """The sites and the site each hangs off (to show where a scope is attached)."""
    return sites | {s for s in (inv.site(x).parent for x in list(sites)) if s}
