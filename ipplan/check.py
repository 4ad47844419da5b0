"""Consistency checks of the registration record, O(n log n): one sort and one sweep per pool and family.

CIDR blocks either nest or are disjoint, so a sweep over blocks sorted by start (larger first) with a
stack of open blocks finds, for every block, the smallest block containing it. That must be exactly the
parent the registry recorded: anything else is an overlap (or a block outside its aggregate).
"""

from __future__ import annotations

from collections import defaultdict

from core.findings import Finding, Shape
from ipplan.addr import BITS, parse
from ipplan.allocator import RESERVED_PREFIX, is_container
from ipplan.config import PlanDoc
from ipplan.demand import Request
from ipplan.registry import Record, Registry

# `jinbao ipplan check --json` and the run summary: the subject is the record key
JSON: Shape = (("rule", "rule"), ("key", "subject"), ("message", "message"))


def check_registry(reg: Registry, plan: PlanDoc) -> list[Finding]:
    findings: list[Finding] = []
    groups: dict[tuple[str, int], list[Record]] = defaultdict(list)
    for r in reg.records.values():
        groups[(r.pool, r.af)].append(r)
    depth, cycles = _depths(reg)
    findings.extend(Finding("cycle", k, f"its parent chain loops back on itself: {_loop_text(*at)}")
                    for k, at in sorted(cycles.items()))
    for (pool, af), recs in sorted(groups.items()):
        configured = getattr(plan.pools[pool], f"ipv{af}") if pool in plan.pools else None
        recs.sort(key=lambda r: (r.start, r.plen, depth.get(r.key, 0)))
        stack: list[Record] = []
        for r in recs:
            while stack and stack[-1].end <= r.start:
                stack.pop()
            top = stack[-1] if stack else None
            if r.key not in cycles:  # a record on a loop has no true parent to judge it against
                findings.extend(_judge(r, top, reg))
            stack.append(r)
        if configured:
            _, pool_start, pool_plen = parse(configured)
            pool_end = pool_start + (1 << (BITS[af] - pool_plen))
            findings.extend(Finding("reservation-outside-pool", r.key, f"reservation {r.prefix} lies outside pool"
                                                                       f" {pool} ({configured})")
                            for r in recs if r.key.startswith(RESERVED_PREFIX)
                            and not (pool_start <= r.start and r.end <= pool_end))
        roots = [r for r in recs if not r.parent and not r.key.startswith(RESERVED_PREFIX)]
        for r in roots:
            if configured and (r.af, r.start, r.plen) != parse(configured):
                findings.append(Finding("pool-changed", r.key,
                                        f"registry holds {r.prefix} but ipplan.yaml says {configured}"))
    return findings


def _judge(r: Record, top: Record | None, reg: Registry) -> list[Finding]:
    if r.key.startswith(RESERVED_PREFIX):
        if top is not None and not is_container(top):
            return [Finding("reservation-overlap", r.key, f"reservation {r.prefix} overlaps {top.prefix} ({top.key})")]
        return []
    if top is not None and top.key.startswith(RESERVED_PREFIX):
        return [Finding("overlap", r.key, f"{r.prefix} lies inside reservation {top.prefix}")]
    if not r.parent:
        if top is not None:
            return [Finding("overlap", r.key, f"pool {r.prefix} lies inside {top.prefix} ({top.key})")]
        return []
    if top is None:
        return [Finding("containment", r.key, f"{r.prefix} lies outside its parent {r.parent}")]
    if top.key != r.parent:
        parent = reg.get(r.parent)
        if parent is None:
            return [Finding("orphan", r.key, f"parent {r.parent} is not in the registry")]
        if not (parent.start <= r.start and r.end <= parent.end):
            return [Finding("containment", r.key, f"{r.prefix} lies outside its parent {parent.prefix}"
                                                  f" ({parent.key})")]
        return [Finding("overlap", r.key, f"{r.prefix} overlaps {top.prefix} ({top.key})")]
    if r.status == "active" and top.status == "decommissioned":
        return [Finding("status", r.key, f"active inside decommissioned {top.key}")]
    return []


def _depths(reg: Registry) -> tuple[dict[str, int], dict[str, tuple[list[str], int]]]:
    """Depth of every record in its parent chain, and the records on a loop: {key: (the loop, its index)}.
    Each record is visited once (O(n)); a record on or above a loop gets the depth of its walk."""
    depth: dict[str, int] = {}
    cycles: dict[str, tuple[list[str], int]] = {}
    for key in reg.records:
        chain: list[str] = []
        on_chain: dict[str, int] = {}
        k = key
        while k and k not in depth:
            if k in on_chain:  # the walk came back to a record of this chain: a loop
                loop = chain[on_chain[k]:]
                for i, c in enumerate(loop):
                    cycles[c] = (loop, i)
                k = ""
                break
            on_chain[k] = len(chain)
            chain.append(k)
            rec = reg.get(k)
            k = rec.parent if rec is not None else ""
        d = depth.get(k, -1) if k else -1
        for c in reversed(chain):
            d += 1
            depth[c] = d
    return depth, cycles


def _loop_text(loop: list[str], i: int, shown: int = 6) -> str:
    """The loop read from its i-th record: `a -> b -> a`, cut short (with its length) when long."""
    n = len(loop)
    walk = [loop[(i + j) % n] for j in range(min(n + 1, shown))]
    return " -> ".join(walk) + ("" if n + 1 <= shown else f" … ({n} records)")


def check_coverage(reg: Registry, demand: list[Request]) -> list[Finding]:
    """Does the registry hold everything the inventory needs, and nothing active it no longer needs?"""
    findings: list[Finding] = []
    wanted: set[str] = set()
    stack = list(demand)
    while stack:
        req = stack.pop()
        wanted.add(req.key)
        stack.extend(req.children)
        rec = reg.get(req.key)
        if rec is None:
            findings.append(Finding("unallocated", req.key, "needed by the inventory but not allocated"))
        elif rec.status != "active":
            findings.append(Finding("unallocated", req.key, f"needed by the inventory but {rec.status}"))
    for rec in reg.records.values():
        if rec.status == "active" and rec.key not in wanted:
            findings.append(Finding("stale", rec.key, "active but no longer in the inventory"))
    return sorted(findings, key=lambda f: (f.rule, f.subject))
