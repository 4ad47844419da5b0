"""A one-way link for the ferry: two namespaces, one veth, nothing can come back.

Sender namespace `jbfy-<tag>-tx`, receiver namespace `jbfy-<tag>-rx`, veth `jbfy<tag>t` <-> `jbfy<tag>r`.
The reverse direction is cut at layer 2, below IP: the sender end's netdev ingress hook drops every frame
(`policy drop`, counted). Neighbours are static (the sender end resolves nothing: ARP off, a permanent
entry for the receiver), and the receiver has a /32 address and no route at all, so even its IP layer has
no way back. Loss for tests is injected on the receiver end's ingress with `numgen random mod 100 < N`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from lab.sh import LabError, run

TX_ADDR, RX_ADDR = "198.18.77.1", "198.18.77.2"  # RFC 2544 benchmarking range, clear of the host's nets
PREFIX = "jbfy-"


@dataclass(frozen=True)
class OneWayLink:
    tag: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9]{1,6}", self.tag):
            raise LabError(f"ferry link tag {self.tag!r}: 1-6 of [a-z0-9] (interface names are 15 bytes at most)")

    @property
    def tx_ns(self) -> str:
        return f"{PREFIX}{self.tag}-tx"

    @property
    def rx_ns(self) -> str:
        return f"{PREFIX}{self.tag}-rx"

    @property
    def tx_dev(self) -> str:
        return f"jbfy{self.tag}t"

    @property
    def rx_dev(self) -> str:
        return f"jbfy{self.tag}r"

    def ns(self, side: str) -> list[str]:
        """argv prefix that runs a command in the sender ("tx") or receiver ("rx") namespace."""
        return ["ip", "netns", "exec", self.tx_ns if side == "tx" else self.rx_ns]

    def up(self) -> None:
        self.down()
        tx, rx = self.ns("tx"), self.ns("rx")
        try:
            run(["ip", "netns", "add", self.tx_ns])
            run(["ip", "netns", "add", self.rx_ns])
            run(["ip", "link", "add", self.tx_dev, "netns", self.tx_ns, "type", "veth",
                 "peer", "name", self.rx_dev, "netns", self.rx_ns])
            # the cut first, before the link carries anything: every frame into the sender end is dropped
            run([*tx, "nft", "-f", "-"], input=(
                "table netdev jbfy_oneway {\n"
                f"  chain in {{ type filter hook ingress device \"{self.tx_dev}\" priority -500; policy drop;\n"
                "    counter\n  }\n}\n"))
            run([*rx, "nft", "-f", "-"], input=(
                "table netdev jbfy_loss {\n"
                f"  chain in {{ type filter hook ingress device \"{self.rx_dev}\" priority -500; policy accept;\n"
                "    counter\n  }\n}\n"))
            for side, dev, addr in (("tx", self.tx_dev, TX_ADDR), ("rx", self.rx_dev, RX_ADDR)):
                run([*self.ns(side), "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0",
                     f"net.ipv4.conf.{dev}.rp_filter=0", "net.ipv6.conf.all.disable_ipv6=1"])
                run([*self.ns(side), "ip", "link", "set", "lo", "up"])
                run([*self.ns(side), "ip", "addr", "add", f"{addr}/32", "dev", dev])
                run([*self.ns(side), "ip", "link", "set", dev, "arp", "off", "up"])
            rx_mac = json.loads(run([*rx, "ip", "-j", "link", "show", self.rx_dev]).stdout)[0]["address"]
            run([*tx, "ip", "neigh", "replace", RX_ADDR, "lladdr", rx_mac, "dev", self.tx_dev, "nud", "permanent"])
            run([*tx, "ip", "route", "add", f"{RX_ADDR}/32", "dev", self.tx_dev])
        except BaseException:
            self.down()
            raise

    def down(self) -> None:
        for ns in (self.tx_ns, self.rx_ns):  # deleting a namespace deletes its veth end, and so the pair
            run(["ip", "netns", "delete", ns], check=False)

    def exists(self) -> bool:
        names = run(["ip", "netns", "list"]).stdout.split()
        return self.tx_ns in names or self.rx_ns in names

    def set_loss(self, percent: int) -> None:
        """Drop `percent` % of frames arriving at the receiver, at random (0 removes the rule)."""
        rx = self.ns("rx")
        run([*rx, "nft", "flush", "chain", "netdev", "jbfy_loss", "in"])
        rule = "counter" if percent <= 0 else f"numgen random mod 100 < {int(percent)} counter drop"
        run([*rx, "nft", "add", "rule", "netdev", "jbfy_loss", "in", *rule.split()])
        if percent > 0:
            run([*rx, "nft", "add", "rule", "netdev", "jbfy_loss", "in", "counter"])

    def counters(self, side: str) -> list[int]:
        """Packet counters of the rules in the one-way (tx) or loss (rx) chain, in rule order."""
        table = "jbfy_oneway" if side == "tx" else "jbfy_loss"
        doc = json.loads(run([*self.ns(side), "nft", "-j", "list", "table", "netdev", table]).stdout)
        out = []
        for item in doc["nftables"]:
            for expr in item.get("rule", {}).get("expr", []):
                if "counter" in expr:
                    out.append(int(expr["counter"]["packets"]))
        return out
