"""Addresses of things, read from the IP registration record. Every lookup names what is missing."""

from __future__ import annotations

from functools import lru_cache

from core.errors import JinbaoError
from inventory.model import Device, Link
from ipplan import keys
from ipplan.addr import BITS, fmt, host
from ipplan.registry import Record, Registry


class Addressing:
    def __init__(self, reg: Registry, source: str = "ip-registry.tsv") -> None:
        self.reg = reg
        self.source = source
        # the plan asks the same questions many times (a parent per child, every NMS per device)
        self.mgmt = lru_cache(maxsize=None)(self._mgmt)  # type: ignore[method-assign]
        self.aggregate = lru_cache(maxsize=None)(self._aggregate)  # type: ignore[method-assign]

    def record(self, key: str, who: str, what: str) -> Record:
        rec = self.reg.get(key)
        if rec is None or rec.status != "active":
            raise JinbaoError(f"{who}: {what} has no active allocation ({key}); run `jinbao ipplan allocate`",
                              file=self.source)
        return rec

    def loopback(self, d: Device, af: int) -> str:
        r = self.record(keys.loopback(af, d.site, d.hostname), d.hostname, f"loopback IPv{af}")
        return fmt(af, r.start, r.plen)

    def _mgmt(self, d: Device, af: int) -> tuple[str, str]:
        """(interface address with the subnet's length, gateway address)."""
        sub = self.record(keys.mgmt_subnet(af, d.site), d.hostname, f"management subnet IPv{af}")
        me = self.record(keys.mgmt_host(af, d.site, d.hostname), d.hostname, f"management IPv{af}")
        gw = self.record(keys.mgmt_host(af, d.site, "gateway"), d.hostname, f"management gateway IPv{af}")
        return host(af, me.start, sub.plen, 0), fmt(af, gw.start, BITS[af]).split("/")[0]

    def link(self, link: Link, end: str, af: int) -> str:
        """The address of end 'a' (offset 0) or 'b' (offset 1) of a point-to-point link."""
        who = link.a if end == "a" else link.b
        r = self.record(keys.p2p(af, link.p2p_site, link.id), who, f"link {link.id} IPv{af}")
        return host(af, r.start, r.plen, 0 if end == "a" else 1)

    def service(self, site: str, hostname: str, af: int) -> str:
        """The service address of a production database (a host route, docs/dr.md), filed under its primary's site."""
        r = self.record(keys.service(af, site, hostname), hostname, f"service address IPv{af}")
        return fmt(af, r.start, r.plen)

    def subnet(self, site: str, pool: str, name: str, af: int, who: str) -> Record:
        return self.record(keys.subnet(pool, af, site, name), who, f"{name} subnet IPv{af}")

    def in_subnet(self, rec: Record, offset: int) -> str:
        return host(rec.af, rec.start, rec.plen, offset)

    def lan_host(self, site: str, pool: str, name: str, af: int, who: str, member: str = "gateway") -> str:
        """A registered host address inside a LAN (`member`: a hostname or "gateway"), with the LAN's length."""
        lan = self.subnet(site, pool, name, af, who)
        me = self.record(keys.member(lan.key, member), who, f"{name} address of {member} IPv{af}")
        return host(af, me.start, lan.plen, 0)

    def _aggregate(self, site: str, pool: str, af: int, who: str = "") -> str | None:
        r = self.reg.get(keys.aggregate(pool, af, site))
        return None if r is None or r.status != "active" else r.prefix
