"""Stateful, stable allocation: place every new request inside its parent block; never move what exists.

Rules (docs/ipplan.md):
- a key already in the registry keeps its prefix forever (re-activated if it had been decommissioned);
- a registered key no longer demanded is marked decommissioned; its space is never handed out again;
- a new block goes to the lowest free aligned offset of its parent, biggest first, ties in demand order,
  so an empty registry always produces the same plan;
- reservations are holes nobody may be placed on.
The function is pure: it returns a new Registry and a report; writing it is the caller's business.
"""

from __future__ import annotations

import bisect
import copy
from collections import defaultdict

from core.errors import JinbaoError, PoolExhausted
from core.records import Report
from ipplan import keys
from ipplan.addr import BITS, fmt, parse, plen_for
from ipplan.config import PlanDoc
from ipplan.demand import Request
from ipplan.registry import Record, Registry

CONTAINER_PURPOSES_SUFFIX = ("aggregate", "national pool")
RESERVED_PREFIX = keys.RESERVED_PREFIX


def is_container(rec: Record) -> bool:
    """Blocks that legitimately hold other allocations (and may hold reservations)."""
    return rec.purpose.endswith(CONTAINER_PURPOSES_SUFFIX)


class _Allocator:
    def __init__(self, registry: Registry, plan: PlanDoc, plan_file: str) -> None:
        # copy every record: the caller's registry stays untouched whatever happens here
        self.reg = Registry({k: copy.copy(r) for k, r in registry.records.items()})
        self.plan = plan
        self.plan_file = plan_file
        self.report = Report()
        # occupied intervals per parent key, sorted by start
        self.occupied: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.reserved: dict[tuple[str, int], list[tuple[int, int]]] = defaultdict(list)
        for r in self.reg.records.values():
            if r.key.startswith(RESERVED_PREFIX):  # released reservations stay holes too
                self.reserved[(r.pool, r.af)].append((r.start, r.end))
            elif r.parent:
                self.occupied[r.parent].append((r.start, r.end))
        for lst in (*self.occupied.values(), *self.reserved.values()):
            lst.sort()
        self._sizes: dict[str, int] = {}

    # -- sizes -------------------------------------------------------------------------------------
    def plen(self, req: Request) -> int:
        existing = self.reg.get(req.key)
        if existing is not None:
            return existing.plen
        if req.plen is not None:
            return req.plen
        cached = self._sizes.get(req.key)
        if cached is not None:
            return cached
        bits = BITS[req.af]
        total = sum(1 << (bits - self.plen(c)) for c in req.children)
        plen = plen_for(req.af, total) - (req.headroom.bit_length() - 1)
        if req.af == 6 and req.headroom > 1:
            # IPv6 aggregates on nibble boundaries (readable, delegable), with one nibble of growth: rounding
            # alone can make a block exactly as big as its children, leaving no room for a new one
            plen = plen - plen % 4 - 4
        self._sizes[req.key] = plen
        return plen

    # -- placement ---------------------------------------------------------------------------------
    def root(self, req: Request) -> Record:
        pool_prefix = getattr(self.plan.pools[req.pool], f"ipv{req.af}")
        af, start, plen = parse(pool_prefix)
        rec = self.reg.get(req.key)
        if rec is not None:
            if (rec.start, rec.plen) != (start, plen):
                raise JinbaoError(f"pool {req.pool} IPv{af} is {pool_prefix} here but the registry holds"
                                  f" {rec.prefix}; changing a pool is a manual renumbering",
                                  file=self.plan_file, entry=f"pools.{req.pool}.ipv{af}")
            return rec
        rec = Record(req.key, req.pool, af, start, plen, req.site, req.purpose, "active", "")
        self.reg.add(rec)
        self.report.added.append(req.key)
        return rec

    def place(self, parent: Record, req: Request) -> None:
        # biggest block first; ties in demand order (gateway before hosts, WR before FW ...)
        order = {c.key: i for i, c in enumerate(req.children)}
        new = [c for c in req.children if self.reg.get(c.key) is None]
        new.sort(key=lambda c: (self.plen(c), order[c.key]))
        occ = self.occupied[parent.key]
        if req.host_subnet:
            self._fence_host_subnet(parent, occ)
        res = self.reserved.get((parent.pool, parent.af), [])
        for c in new:
            plen = self.plen(c)
            if plen < parent.plen:
                raise PoolExhausted(
                    f"{c.key} needs a /{plen}, larger than its parent {parent.prefix} ({parent.key})",
                    file=self.plan_file, entry=c.site)
            start = _first_fit(occ, res, parent.start, parent.end, 1 << (BITS[parent.af] - plen))
            if start is None:
                raise PoolExhausted(
                    f"no free /{plen} for {c.key} in {parent.prefix} ({parent.key}, {parent.purpose}):"
                    f" pool exhausted; enlarge the pool or headroom for a new plan",
                    file=self.plan_file, entry=c.site)
            rec = Record(c.key, c.pool, c.af, start, plen, c.site, c.purpose, "active", parent.key)
            self.reg.add(rec)
            bisect.insort(occ, (rec.start, rec.end))
            self.report.added.append(c.key)
        for c in req.children:
            rec = self.reg.records[c.key]
            if rec.status == "decommissioned":
                rec.status = "active"
                self.report.reactivated.append(c.key)
            if c.children or c.plen is None:
                self.place(rec, c)

    @staticmethod
    def _fence_host_subnet(parent: Record, occ: list[tuple[int, int]]) -> None:
        """Never hand out a LAN's network address, nor its IPv4 broadcast address."""
        fences = [(parent.start, parent.start + 1)]
        if parent.af == 4 and parent.plen < 31:
            fences.append((parent.end - 1, parent.end))
        for f in fences:
            if f not in occ:
                bisect.insort(occ, f)


def _first_fit(occ: list[tuple[int, int]], reserved: list[tuple[int, int]],
               lo: int, hi: int, size: int) -> int | None:
    cand = lo
    for s, e in _merged(occ, reserved, lo, hi):
        if e <= cand:
            continue
        if s >= cand + size:
            break
        cand = -(-e // size) * size  # align up past this block
    return cand if cand + size <= hi else None


def _merged(occ: list[tuple[int, int]], reserved: list[tuple[int, int]], lo: int, hi: int):
    if not reserved:
        return occ
    i = bisect.bisect_left(reserved, (lo, lo))
    if i:
        i -= 1
    extra = [(s, e) for s, e in reserved[i:] if s < hi and e > lo]
    return sorted(occ + extra) if extra else occ


def allocate(demand: list[Request], registry: Registry, plan: PlanDoc, plan_file: str = "ipplan.yaml",
             ) -> tuple[Registry, Report]:
    a = _Allocator(registry, plan, plan_file)
    _apply_reservations(a)
    wanted: set[str] = set()

    def collect(r: Request) -> None:
        wanted.add(r.key)
        for c in r.children:
            collect(c)

    for root_req in demand:
        collect(root_req)
        a.place(a.root(root_req), root_req)
    for rec in a.reg.records.values():
        if rec.status == "active" and rec.key not in wanted:
            rec.status = "decommissioned"
            a.report.decommissioned.append(rec.key)
    return a.reg, a.report


def _apply_reservations(a: _Allocator) -> None:
    configured = set()
    by_pool: dict[tuple[str, int], list[Record]] = defaultdict(list)
    for r in a.reg.records.values():
        if r.status != "reserved":
            by_pool[(r.pool, r.af)].append(r)
    for i, res in enumerate(a.plan.reservations):
        af, start, plen = parse(res.prefix)
        key = keys.reservation(res.pool, res.prefix)
        configured.add(key)
        existing = a.reg.get(key)
        if existing is not None:
            if existing.status != "reserved":  # released earlier, configured again: reserved once more
                existing.status = "reserved"
                a.report.reactivated.append(key)
            purpose = f"reserved: {res.note}".strip()
            if existing.purpose != purpose:
                existing.purpose = purpose
                a.report.updated.append(key)
            continue
        if res.pool not in a.plan.pools:
            raise JinbaoError(f"unknown pool {res.pool!r}", file=a.plan_file, entry=f"reservations.{i}")
        end = start + (1 << (BITS[af] - plen))
        for r in by_pool[(res.pool, af)]:
            overlaps = r.start < end and start < r.end
            inside_container = is_container(r) and r.start <= start and end <= r.end
            if overlaps and not inside_container:
                raise JinbaoError(f"reservation {res.prefix} overlaps allocation {r.prefix} ({r.key}, {r.status})",
                                  file=a.plan_file, entry=f"reservations.{i}")
        rec = Record(key, res.pool, af, start, plen, "", f"reserved: {res.note}".strip(), "reserved", "")
        a.reg.add(rec)
        bisect.insort(a.reserved[(res.pool, af)], (rec.start, rec.end))
        a.report.added.append(key)
    for r in a.reg.records.values():
        if r.status == "reserved" and r.key not in configured:
            r.status = "decommissioned"  # a released reservation is not handed out again either
            a.report.decommissioned.append(r.key)


__all__ = ["Report", "allocate", "fmt", "is_container"]
