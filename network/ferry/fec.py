"""Forward error correction: the object cut into shards, k data shards per block plus Reed-Solomon parity.

zfec is Luigi Rizzo's Vandermonde Reed-Solomon erasure code (the same code family udpcast's `--fec` uses):
any k of a block's n shards rebuild it, so a block survives the loss of up to n-k of its datagrams.
Sending interleaves blocks (shard i of every block in a window before shard i+1) so a burst of loss costs
each block one shard instead of wiping out one block.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import zfec


@dataclass(frozen=True)
class Geometry:
    object_len: int
    shard_size: int
    k: int  # data shards per full block
    parity: int  # parity shards per full block

    @property
    def nshards(self) -> int:
        return max(1, math.ceil(self.object_len / self.shard_size))

    @property
    def nblocks(self) -> int:
        return math.ceil(self.nshards / self.k)

    def block_kn(self, block: int) -> tuple[int, int]:
        """(k, n) of one block: the last block is shorter and carries proportionally fewer parity shards."""
        kb = min(self.k, self.nshards - block * self.k)
        pb = math.ceil(self.parity * kb / self.k) if self.parity else 0
        return kb, kb + pb

    def block_span(self, block: int) -> tuple[int, int]:
        """Byte offsets [start, end) of a block inside the object."""
        start = block * self.k * self.shard_size
        return start, min(self.object_len, start + self.k * self.shard_size)


def block_shards(data: bytes | memoryview, geo: Geometry, block: int) -> list[bytes]:
    """All n shards of a block: its k data shards (the last one zero-padded) then its parity shards."""
    kb, nb = geo.block_kn(block)
    start, end = geo.block_span(block)
    chunk = bytes(data[start:end]).ljust(kb * geo.shard_size, b"\0")
    shards = [chunk[i * geo.shard_size:(i + 1) * geo.shard_size] for i in range(kb)]
    if nb > kb:
        shards += zfec.Encoder(kb, nb).encode(shards, list(range(kb, nb)))
    return shards


def rebuild_block(have: dict[int, bytes], k: int, n: int) -> bytes:
    """The k data shards of a block, joined, from any k of its shards (index -> shard)."""
    if all(i in have for i in range(k)):  # systematic code: nothing lost, nothing to compute
        return b"".join(have[i] for i in range(k))
    if len(have) < k:
        raise ValueError(f"need {k} shards, have {len(have)}")
    # zfec wants each data shard that is present at its own position; parity shards fill the gaps
    spare = iter(sorted(i for i in have if i >= k))
    idx = [i if i in have else next(spare) for i in range(k)]
    out = zfec.Decoder(k, n).decode([have[i] for i in idx], idx)
    return b"".join(bytes(s) for s in out)


def send_order(geo: Geometry, window: int) -> Iterator[tuple[int, list[int]]]:
    """Yield (first block of a window, blocks) windows; the caller interleaves shards inside each window."""
    for first in range(0, geo.nblocks, window):
        yield first, list(range(first, min(geo.nblocks, first + window)))
