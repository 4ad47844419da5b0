"""Header space with interval arithmetic: a set of packets of one address family is a union of boxes, each
box a product of four inclusive intervals (source address, destination address, IP protocol, destination
port). Ports are meaningful only for TCP and UDP; a rule without ports spans the whole port axis.

Only what the analysis needs: intersection, subtraction (a box minus a box is at most 8 disjoint boxes)
and witnesses (one concrete packet of a non-empty set, for example flows)."""

from __future__ import annotations

from collections.abc import Iterable

Interval = tuple[int, int]
Box = tuple[Interval, Interval, Interval, Interval]  # src, dst, proto, dport

PROTO = {"tcp": 6, "udp": 17, "icmp": 1, "ipv6-icmp": 58, "icmpv6": 58}
PROTO_NAME = {v: k for k, v in PROTO.items()}
ANY_PROTO: Interval = (0, 255)
ANY_PORT: Interval = (0, 65535)


def full(af: int) -> Box:
    top = (1 << (32 if af == 4 else 128)) - 1
    return ((0, top), (0, top), ANY_PROTO, ANY_PORT)


def intersect(a: Box, b: Box) -> Box | None:
    out = []
    for (alo, ahi), (blo, bhi) in zip(a, b, strict=True):
        lo, hi = max(alo, blo), min(ahi, bhi)
        if lo > hi:
            return None
        out.append((lo, hi))
    return tuple(out)  # type: ignore[return-value]


def subtract(a: Box, b: Box) -> list[Box]:
    """a minus b as disjoint boxes: peel off the parts of a outside b, one axis at a time."""
    if intersect(a, b) is None:
        return [a]
    out: list[Box] = []
    cur = list(a)
    for i, ((lo, hi), (blo, bhi)) in enumerate(zip(a, b, strict=True)):
        if lo < blo:
            piece = cur.copy()
            piece[i] = (lo, blo - 1)
            out.append(tuple(piece))  # type: ignore[arg-type]
        if bhi < hi:
            piece = cur.copy()
            piece[i] = (bhi + 1, hi)
            out.append(tuple(piece))  # type: ignore[arg-type]
        cur[i] = (max(lo, blo), min(hi, bhi))
    return out


def contains(b: Box, point: tuple[int, int, int, int]) -> bool:
    return all(lo <= p <= hi for (lo, hi), p in zip(b, point, strict=True))


def minus(pieces: Iterable[Box], cuts: Iterable[Box]) -> list[Box]:
    """Union of `pieces` minus union of `cuts` (only cuts that touch a piece do any work)."""
    out = list(pieces)
    for c in cuts:
        nxt: list[Box] = []
        for p in out:
            nxt.extend(subtract(p, c))
        out = nxt
        if not out:
            break
    return out


def witness(box: Box, cuts: list[Box]) -> tuple[int, int, int, int] | None:
    """A packet in `box` outside every cut, or None. Tries the box's low corner and the points just past
    each cut first (cheap, and almost always enough), then falls back to exact subtraction."""
    low = tuple(lo for lo, _ in box)
    touching = [c for c in cuts if intersect(box, c) is not None]
    if not touching:
        return low  # type: ignore[return-value]
    candidates = [low]
    for c in touching:
        for i in range(4):
            if c[i][1] < box[i][1]:
                p = list(low)
                p[i] = c[i][1] + 1
                candidates.append(tuple(p))
    for p in candidates:
        if not any(contains(c, p) for c in touching):
            return p  # type: ignore[return-value]
    rest = minus([box], touching)
    return tuple(lo for lo, _ in rest[0]) if rest else None  # type: ignore[return-value]
