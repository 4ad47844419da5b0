"""Expand the inventory document + region table into every site, device and link (a pure function)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

from core.errors import JinbaoError
from inventory.model import Device, Inventory, Link, Region, Site
from inventory.naming import ROLES, SITE_ID_RE, hostname, parse_hostname
from inventory.platforms import PLATFORMS, ROUTER_PLATFORMS, network_platform_problem
from inventory.schema import AccessSitesDoc, InventoryDoc, ProvinceDoc

__all__ = ["PLATFORMS", "ROUTER_PLATFORMS", "expand"]


class _Ctx:
    """Collects sites in tree order and reports errors against the inventory file."""

    def __init__(self, doc: InventoryDoc, regions: dict[str, Region], file: str) -> None:
        self.doc = doc
        self.regions = regions
        self.file = file
        self.sites: dict[str, Site] = {}
        self.access_cities: set[str] = set()  # cities whose access sites were generated

    def err(self, entry: str, message: str) -> JinbaoError:
        return JinbaoError(message, file=self.file, entry=entry)

    def add(self, site: Site, entry: str) -> None:
        if site.id in self.sites:
            raise self.err(entry, f"duplicate site id {site.id}")
        if site.parent is not None and site.parent not in self.sites:
            raise self.err(entry, f"site {site.id} names unknown parent {site.parent}")
        self.sites[site.id] = site


def expand(doc: InventoryDoc, regions: dict[str, Region], file: str) -> Inventory:
    ctx = _Ctx(doc, regions, file)
    _national_sites(ctx)
    for code in doc.provinces:
        r = regions.get(code)
        if r is None or r.level not in ("province", "municipality"):
            raise ctx.err(f"provinces.{code}", f"unknown province {code}")
    for r in sorted(regions.values(), key=lambda r: r.code):
        if r.level == "municipality":
            _municipality(ctx, r)
        elif r.level == "province":
            _province(ctx, r, doc.provinces.get(r.code, ProvinceDoc()))
    _extra_sites(ctx)
    for code in doc.access_sites.overrides:
        if code not in ctx.access_cities:  # a typo would otherwise be ignored silently
            raise ctx.err(f"access_sites.overrides.{code}", f"unknown city {code}: not a city centre or"
                          " municipality with access sites")
    for sid in doc.site_overrides:
        if sid not in ctx.sites:
            raise ctx.err(f"site_overrides.{sid}", f"unknown site {sid}")
    sites = tuple(ctx.sites.values())
    devices = _devices(ctx)
    links = _links(sites, devices, file) + _dr_lines(ctx, devices)
    inv = Inventory(sites=sites, devices=devices, links=links, asn_base=doc.network.asn_base, source=file)
    _check_asns(inv, file)
    return inv


def _check_asns(inv: Inventory, file: str) -> None:
    """Every site its own 32-bit ASN: eBGP between sites depends on it."""
    seen: dict[int, str] = {}
    for s in inv.sites:
        asn = inv.asn(s)
        if asn > 4294967295:
            raise JinbaoError(f"site {s.id}: ASN {asn} exceeds 32 bits (lower network.asn_base)", file=file,
                              entry="network.asn_base")
        other = seen.setdefault(asn, s.id)
        if other != s.id:
            raise JinbaoError(f"sites {other} and {s.id} would share ASN {asn}", file=file, entry=f"site {s.id}")


def _national_sites(ctx: _Ctx) -> None:
    m = ctx.doc.network.ministry
    if m.city not in ctx.regions:
        raise ctx.err("network.ministry.city", f"unknown region {m.city}")
    ctx.add(Site(f"{m.code}-DC", m.code, "ministry", "dc", None, m.name_zh, m.name_en, m.code, m.city),
            "network.ministry")
    dr_city = ctx.doc.network.national_dr.city
    if dr_city is None:
        return
    if dr_city not in ctx.regions:
        raise ctx.err("network.national_dr.city", f"unknown region {dr_city}")
    if dr_city == m.city:
        raise ctx.err("network.national_dr.city",
                      f"DR centre {m.code}-DR is in the same city ({dr_city}) as its primary centre {m.code}-DC")
    ctx.add(Site(f"{m.code}-DR", m.code, "ministry", "dr", f"{m.code}-DC", "国家灾备中心",
                 "National DR centre", m.code, dr_city), "network.national_dr")


def _municipality(ctx: _Ctx, r: Region) -> None:
    ministry = f"{ctx.doc.network.ministry.code}-DC"
    dc = f"{r.code}-DC"
    ctx.add(Site(dc, r.code, "municipality", "dc", ministry, f"{r.name_zh}数据中心",
                 f"{r.name_en} data centre", r.code, r.code), f"regions:{r.code}")
    pdoc = ctx.doc.provinces.get(r.code, ProvinceDoc())
    _dr(ctx, r, pdoc, centre_city=r.code, tier="municipality")
    _access_sites(ctx, r, dc)


def _province(ctx: _Ctx, r: Region, pdoc: ProvinceDoc) -> None:
    entry = f"provinces.{r.code}"
    capital = pdoc.capital or f"{r.code[:2]}0100"
    cities = {c.code: c for c in ctx.regions.values() if c.province == r.code and c.level == "city"}
    if capital not in cities:
        raise ctx.err(f"{entry}.capital", f"capital {capital} is not a city of province {r.code}")
    dc = f"{r.code}-DC"
    ctx.add(Site(dc, r.code, "province", "dc", f"{ctx.doc.network.ministry.code}-DC", f"{r.name_zh}数据中心",
                 f"{r.name_en} provincial data centre", r.code, capital), entry)
    _dr(ctx, r, pdoc, centre_city=capital, tier="province")
    for code in pdoc.extra_city_centres:
        c = ctx.regions.get(code)
        if c is None or c.province != r.code:
            raise ctx.err(f"{entry}.extra_city_centres", f"{code} is not a region of province {r.code}")
        cities[code] = c
    for code in pdoc.excluded_city_centres:
        if cities.pop(code, None) is None:
            raise ctx.err(f"{entry}.excluded_city_centres", f"{code} is not a city of province {r.code}")
    for c in sorted(cities.values(), key=lambda c: c.code):
        if pdoc.centralised:
            _access_sites(ctx, c, dc)  # cities served straight from the provincial centre
            continue
        city_dc = f"{c.code}-DC"
        ctx.add(Site(city_dc, c.code, "city", "dc", dc, f"{c.name_zh}数据中心", f"{c.name_en} data centre",
                     r.code, c.code), f"regions:{c.code}")
        _access_sites(ctx, c, city_dc)


def _dr(ctx: _Ctx, r: Region, pdoc: ProvinceDoc, centre_city: str, tier: str) -> None:
    if pdoc.dr_city is None:
        return
    entry = f"provinces.{r.code}.dr_city"
    c = ctx.regions.get(pdoc.dr_city)
    if c is None:
        raise ctx.err(entry, f"unknown region {pdoc.dr_city}")
    if pdoc.dr_city == centre_city:
        raise ctx.err(entry, f"DR centre {r.code}-DR is in the same city ({centre_city}) as its primary centre"
                             f" {r.code}-DC")
    if tier == "province" and c.province != r.code:
        raise ctx.err(entry, f"DR city {pdoc.dr_city} is outside province {r.code}")
    ctx.add(Site(f"{r.code}-DR", r.code, tier, "dr", f"{r.code}-DC", f"{r.name_zh}灾备中心",  # type: ignore[arg-type]
                 f"{r.name_en} DR centre", r.code, pdoc.dr_city), entry)


def _access_sites(ctx: _Ctx, city: Region, parent: str) -> None:
    cfg: AccessSitesDoc = ctx.doc.access_sites
    ctx.access_cities.add(city.code)
    counts = cfg.overrides.get(city.code, cfg.per_city)
    province = city.province or city.code
    for kind, n in counts.items():
        k = cfg.kinds.get(kind)
        if k is None:
            raise ctx.err(f"access_sites.overrides.{city.code}", f"unknown access-site kind {kind!r}")
        if n > k.last - k.first + 1:
            raise ctx.err(f"access_sites.overrides.{city.code}.{kind}",
                          f"{n} sites do not fit the number range {k.first}..{k.last}")
        for i in range(n):
            sid = f"{city.code}-AS{k.first + i:03d}"
            ctx.add(Site(sid, city.code, "access", "access", parent, f"{city.name_zh}{k.name_zh}{i + 1}",
                         f"{city.name_en} {k.name_en} {i + 1}", province, city.code, kind), f"regions:{city.code}")


def _access_kind(ctx: _Ctx, number: int) -> str | None:
    for name, k in ctx.doc.access_sites.kinds.items():
        if k.first <= number <= k.last:
            return name
    return None


def _extra_sites(ctx: _Ctx) -> None:
    """Sites declared by hand obey the same rules as generated ones: a DR centre hangs off a data centre in
    another city, an access site off a data centre of its own province, with a known access kind."""
    kinds = ctx.doc.access_sites.kinds
    for i, s in enumerate(ctx.doc.sites):
        entry = f"sites.{i}"
        m = SITE_ID_RE.fullmatch(s.id)
        if not m:
            raise ctx.err(entry, f"site id {s.id!r} must be <6-digit code>-<DC|DR|ASnnn>")
        parent = ctx.sites.get(s.parent)
        if parent is None:
            raise ctx.err(entry, f"site {s.id} names unknown parent {s.parent}")
        if parent.kind != "dc":
            raise ctx.err(entry, f"site {s.id}: parent {s.parent} is not a data centre")
        code = m["code"]
        region = ctx.regions.get(code)
        if m["site"].startswith("AS"):
            kind = s.access_kind or _access_kind(ctx, int(m["site"][2:]))
            if kind not in kinds:
                raise ctx.err(entry, f"site {s.id}: unknown access kind {kind!r} (known: {', '.join(kinds)})")
            if region is None or (region.province or region.code) != parent.province:
                raise ctx.err(entry, f"site {s.id}: {code} is not a region of {parent.id}'s province")
            site = Site(s.id, code, "access", "access", s.parent, s.name_zh, s.name_en, parent.province, code, kind)
        elif m["site"] == "DR":
            if region is None:
                raise ctx.err(entry, f"site {s.id}: unknown region {code}")
            if code == parent.city:
                raise ctx.err(entry, f"DR centre {s.id} is in the same city ({code}) as its primary centre"
                                     f" {parent.id}")
            site = Site(s.id, code, parent.tier, "dr", s.parent, s.name_zh, s.name_en, parent.province, code)
        else:
            raise ctx.err(entry, "extra DC sites come from regions (regions.extra), not from sites")
        ctx.add(site, entry)


def _role_counts(ctx: _Ctx, site: Site) -> dict[str, int]:
    key = "dr" if site.kind == "dr" else site.tier
    counts = dict(ctx.doc.device_roles.get(key, {}))
    override = ctx.doc.site_overrides.get(site.id)
    if override:
        counts.update(override.devices)
    return counts


def _platform(ctx: _Ctx, host: str, site: Site, role: str, entry: str) -> str:
    p = ctx.doc.platforms
    site_platform = (ctx.doc.site_overrides.get(site.id) or None)
    platform = (p.devices.get(host)
                or (site_platform.platform if site_platform and role in ("WR", "AR") else None)
                or (p.sites.get(site.id) if role in ("WR", "AR") else None)
                or p.default.get(role))
    if platform is None:
        raise ctx.err(entry, f"{host}: no platform for role {role} (platforms.default)")
    if entry == "platforms":  # name the entry the platform came from
        entry = (f"platforms.devices.{host}" if host in p.devices
                 else f"site_overrides.{site.id}.platform" if site_platform and site_platform.platform == platform
                 else f"platforms.sites.{site.id}" if p.sites.get(site.id) == platform
                 else f"platforms.default.{role}")
    _check_platform(ctx, host, role, platform, entry)
    return platform


def _check_platform(ctx: _Ctx, host: str, role: str, platform: str, entry: str) -> None:
    kind = "router" if role in ("WR", "AR") else "firewall" if role == "FW" else "server"
    problem = network_platform_problem(platform, kind)
    if problem:
        raise ctx.err(entry, f"{host}: {problem}")


def _devices(ctx: _Ctx) -> tuple[Device, ...]:
    devices: dict[str, Device] = {}
    for site in ctx.sites.values():
        counts = _role_counts(ctx, site)
        for role in ROLES:
            for i in range(1, counts.get(role, 0) + 1):
                host = hostname(site.id, role, i)
                devices[host] = Device(host, site.id, role, i, _platform(ctx, host, site, role, "platforms"))
    for i, d in enumerate(ctx.doc.devices):
        entry = f"devices.{i}"
        try:
            site_id, role, nn = parse_hostname(d.hostname)
        except ValueError as e:
            raise ctx.err(entry, str(e)) from None
        site = ctx.sites.get(site_id)
        if site is None:
            raise ctx.err(entry, f"{d.hostname}: unknown site {site_id}")
        if d.hostname in devices:
            raise ctx.err(entry, f"duplicate hostname {d.hostname}")
        platform = d.platform or _platform(ctx, d.hostname, site, role, entry)
        _check_platform(ctx, d.hostname, role, platform, f"{entry}.platform")
        devices[d.hostname] = Device(d.hostname, site_id, role, nn, platform)
    for host in ctx.doc.platforms.devices:
        if host not in devices:
            raise ctx.err(f"platforms.devices.{host}", f"unknown device {host}")
    for sid in ctx.doc.platforms.sites:
        if sid not in ctx.sites:
            raise ctx.err(f"platforms.sites.{sid}", f"unknown site {sid}")
    order = {sid: n for n, sid in enumerate(ctx.sites)}
    return tuple(sorted(devices.values(), key=lambda d: (order[d.site], ROLES.index(d.role), d.index)))


def _links(sites: tuple[Site, ...], devices: tuple[Device, ...], file: str) -> tuple[Link, ...]:
    routers: dict[str, list[str]] = {s.id: [] for s in sites}
    for d in devices:
        if d.is_router:
            routers[d.site].append(d.hostname)
    links: list[Link] = []
    for s in sites:
        links.extend(_internal_links(s, routers[s.id]))
        if s.parent is None:
            continue
        up, low = routers[s.parent], routers[s.id]
        if not up or not low:
            missing = s.parent if not up else s.id
            raise JinbaoError(f"site {missing} has no router to terminate the {s.id} uplink",
                              file=file, entry=f"site {s.id}")
        if s.kind == "access":
            # by the site's own number, so adding or removing other access sites moves nothing
            n = int(s.id[-3:]) - 1
            links.append(Link(up[n % len(up)], low[0], "access", s.parent, s.id))
            continue
        links.append(Link(up[0], low[0], "primary", s.parent, s.id))
        links.append(Link(up[1 % len(up)], low[1 % len(low)], "backup", s.parent, s.id))
    return tuple(links)


def _dr_lines(ctx: _Ctx, devices: tuple[Device, ...]) -> tuple[Link, ...]:
    """Every DR centre's own WAN line (kind dr), one that does not pass through the data centre it backs up:
    to the ministry's second WAN router, or, for the DR centre of the ministry itself (the national one), to
    the second WAN router of `network.national_dr.line_to`. After every other link, so adding them moves no
    port; numbered from the ministry's p2p space, the common root of both ends, so the DR centres' own
    aggregates (sized without the line) need not grow."""
    ministry = f"{ctx.doc.network.ministry.code}-DC"
    entry = "network.national_dr.line_to"
    national = ctx.doc.network.national_dr.line_to
    if national is None and ctx.doc.network.national_dr.city is not None:
        default = f"{ctx.doc.network.national_dr.city}-DC"  # the data centre of the national DR's city
        national = default if default in ctx.sites and ctx.sites[default].kind == "dc" else None
    elif national is not None and (national not in ctx.sites or ctx.sites[national].kind != "dc"
                                   or national == ministry):
        raise ctx.err(entry, f"{national} is not a data centre other than the ministry's {ministry}")
    routers: dict[str, list[str]] = {}
    for d in devices:
        if d.is_router:
            routers.setdefault(d.site, []).append(d.hostname)
    out: list[Link] = []
    for s in ctx.sites.values():
        if s.kind != "dr":
            continue
        target = ministry if s.parent != ministry else national
        if target is None:
            raise ctx.err(entry, f"DR centre {s.id} backs up {ministry}: name the data centre its own WAN line"
                                 " lands on")
        up, low = routers.get(target, []), routers.get(s.id, [])
        if not up or not low:
            raise ctx.err(entry if target == national else f"site {s.id}",
                          f"site {target if not up else s.id} has no router to terminate {s.id}'s DR line")
        out.append(Link(up[1 % len(up)], low[1 % len(low)], "dr", target, s.id, numbered_in=ministry))
    return tuple(out) + _national_dr_lines(ctx, routers, out)


def _national_dr_lines(ctx: _Ctx, routers: dict[str, list[str]], dr_lines: list[Link]) -> tuple[Link, ...]:
    """The national DR centre backs up the ministry and every provincial-level data centre: with the ministry
    gone (and every province single-homed to it) each of them still needs a way there. Every provincial-level
    data centre's second WAN router gets a line (kind dr) to the national DR centre's router, which is the
    upper end (`a`): the line is named by the province's router, so it never collides with the national DR
    centre's own line. A province whose router already ends such a line (`line_to`) gets no second one. After
    every other line and numbered from the ministry's p2p space, as the other DR lines (docs/routing.md)."""
    ministry = f"{ctx.doc.network.ministry.code}-DC"
    national = next((s for s in ctx.sites.values() if s.kind == "dr" and s.parent == ministry), None)
    if national is None or not routers.get(national.id):
        return ()
    nd = routers[national.id][0]
    joined = {lk.a_site for lk in dr_lines if lk.b_site == national.id}
    out: list[Link] = []
    for s in ctx.sites.values():
        if s.kind != "dc" or s.parent != ministry or s.id in joined or not routers.get(s.id):
            continue
        low = routers[s.id]
        out.append(Link(nd, low[1 % len(low)], "dr", national.id, s.id, numbered_in=ministry))
    return tuple(out)


def _internal_links(site: Site, routers: list[str]) -> Iterator[Link]:
    for a, b in pairwise(routers):
        yield Link(a, b, "internal", site.id, site.id)
