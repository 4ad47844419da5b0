"""Registry keys: one function per kind of allocation, the only place a key is spelled.

A key is an allocation's identity in the IP record (its prefix may never change once recorded), so the
allocator that creates keys and every reader that looks them up (addressing, the inventory export) must
agree byte for byte: they all build keys here.
"""

from __future__ import annotations

RESERVED_PREFIX = "reserved/"


def aggregate(pool: str, af: int, site: str) -> str:
    """A site's aggregate in a pool (the national pool for the ministry)."""
    return f"{pool}/{af}/{site}"


def subnet(pool: str, af: int, site: str, name: str) -> str:
    """A site subnet of the plan's `subnets:` (production, transit, lan …)."""
    return f"{aggregate(pool, af, site)}/{name}"


def member(subnet_key: str, who: str) -> str:
    """A host inside a subnet: a hostname, or "gateway"."""
    return f"{subnet_key}/{who}"


def mgmt_subnet(af: int, site: str) -> str:
    """A site's out-of-band management subnet."""
    return subnet("management", af, site, "oob")


def mgmt_host(af: int, site: str, who: str) -> str:
    """A device's (or the gateway's) management address."""
    return member(mgmt_subnet(af, site), who)


def loopback(af: int, site: str, hostname: str) -> str:
    return f"loopback/{af}/{site}/{hostname}"


def service(af: int, site: str, hostname: str) -> str:
    """The service address of a production database, filed under its primary's site (where it is first
    announced; it follows the database to the DR centre, its prefix never changes)."""
    return f"service/{af}/{site}/{hostname}"


def p2p(af: int, lower_site: str, link_id: str) -> str:
    """A point-to-point link, filed under its lower site (a DR line: the site it is numbered in) and named by
    the link's stable id."""
    return f"p2p/{af}/{lower_site}/{link_id}"


def reservation(pool: str, prefix: str) -> str:
    return f"{RESERVED_PREFIX}{pool}/{prefix}"
