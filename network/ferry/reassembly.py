"""Reassembly: shards in, whole transfers out. Pure: no sockets, no files, time passed in."""

from __future__ import annotations

from dataclasses import dataclass, field

from network.ferry import fec, wire


@dataclass
class Transfer:
    key: bytes
    object_len: int
    nblocks: int
    shard_size: int
    first_seen: float
    last_seen: float
    data: bytearray
    pending: dict[int, dict[int, bytes]] = field(default_factory=dict)  # block -> index -> shard
    done: set[int] = field(default_factory=set)
    datagrams: int = 0
    recovered: int = 0  # blocks rebuilt from parity (some data shard was lost)

    def progress(self) -> dict:
        return {"key": self.key.hex(), "bytes": self.object_len, "blocks": self.nblocks,
                "blocks_done": len(self.done), "datagrams": self.datagrams, "recovered_blocks": self.recovered}


class Reassembler:
    def __init__(self, max_bytes: int = 256 * 2**20, max_transfers: int = 8) -> None:
        self.max_bytes = max_bytes
        self.max_transfers = max_transfers
        self.transfers: dict[bytes, Transfer] = {}
        self.inconsistent = 0

    def feed(self, s: wire.Shard, now: float) -> tuple[Transfer | None, list[Transfer]]:
        """Add one shard. Returns (the transfer it completed, transfers evicted to make room)."""
        evicted: list[Transfer] = []
        t = self.transfers.get(s.key)
        if t is None:
            if s.object_len > self.max_bytes:
                self.inconsistent += 1
                return None, []
            shard_size = len(s.payload)
            if fec.Geometry(s.object_len, shard_size, max(s.k, 1), 0).nshards > s.nblocks * 256:
                self.inconsistent += 1
                return None, []
            while len(self.transfers) >= self.max_transfers:
                oldest = min(self.transfers.values(), key=lambda x: x.last_seen)
                evicted.append(self.transfers.pop(oldest.key))
            t = Transfer(s.key, s.object_len, s.nblocks, shard_size, now, now, bytearray(s.object_len))
            self.transfers[s.key] = t
        if s.object_len != t.object_len or s.nblocks != t.nblocks or len(s.payload) != t.shard_size:
            self.inconsistent += 1
            return None, evicted
        t.last_seen = now
        t.datagrams += 1
        if s.block in t.done:
            return None, evicted
        have = t.pending.setdefault(s.block, {})
        have[s.index] = s.payload
        if len(have) < s.k:
            return None, evicted
        start = s.block * s.k * t.shard_size if s.block < t.nblocks - 1 else None
        try:
            data = fec.rebuild_block(have, s.k, s.n)
        except ValueError:
            self.inconsistent += 1
            del t.pending[s.block]
            return None, evicted
        if start is None:  # the last block: its start follows from the full blocks before it
            full_k = (t.object_len // t.shard_size + (1 if t.object_len % t.shard_size else 0)) - s.k
            start = full_k * t.shard_size
        end = min(t.object_len, start + len(data))
        if start < 0 or end <= start or (s.block < t.nblocks - 1 and end - start != len(data)):
            self.inconsistent += 1  # geometry that cannot belong to this object: never let it resize data
            del t.pending[s.block]
            return None, evicted
        t.data[start:end] = data[:end - start]
        if any(i not in have for i in range(s.k)):
            t.recovered += 1
        del t.pending[s.block]
        t.done.add(s.block)
        if len(t.done) == t.nblocks:
            del self.transfers[t.key]
            return t, evicted
        return None, evicted

    def expire(self, now: float, idle: float) -> list[Transfer]:
        """Transfers that have heard nothing for `idle` seconds: given up as incomplete."""
        gone = [t for t in self.transfers.values() if now - t.last_seen >= idle]
        for t in gone:
            del self.transfers[t.key]
        return gone
