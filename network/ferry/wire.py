"""The datagram: a fixed header naming the transfer, block and shard, a CRC32, then one shard.

Every datagram is self-describing (transfer key, object length, block geometry), so a receiver that starts or
restarts in the middle of a transfer can use whatever it catches from then on: there is no session set-up,
because nothing can ever travel back to set one up.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from core.errors import JinbaoError

MAGIC = b"JBF1"
VERSION = 1
_HEAD = struct.Struct("!4sBB16sQIIHHH")  # magic ver flags key object_len block nblocks index k n
_CRC = struct.Struct("!I")
HEADER_SIZE = _HEAD.size + _CRC.size
MAX_DATAGRAM = 1472  # 1500-byte Ethernet MTU minus IPv4 and UDP headers
DEFAULT_SHARD = 1400


@dataclass(frozen=True, slots=True)
class Shard:
    key: bytes  # first 16 bytes of SHA-256 of the whole container: the transfer's identity
    object_len: int
    block: int
    nblocks: int
    index: int  # 0..k-1 data, k..n-1 parity
    k: int
    n: int
    payload: bytes


class WireError(JinbaoError, ValueError):
    pass


def encode(s: Shard) -> bytes:
    head = _HEAD.pack(MAGIC, VERSION, 0, s.key, s.object_len, s.block, s.nblocks, s.index, s.k, s.n)
    crc = zlib.crc32(s.payload, zlib.crc32(head))
    return head + _CRC.pack(crc) + s.payload


def decode(dgram: bytes) -> Shard:
    if len(dgram) < HEADER_SIZE:
        raise WireError("short datagram")
    magic, ver, _flags, key, olen, block, nblocks, index, k, n = _HEAD.unpack_from(dgram)
    if magic != MAGIC or ver != VERSION:
        raise WireError("bad magic or version")
    (crc,) = _CRC.unpack_from(dgram, _HEAD.size)
    payload = dgram[HEADER_SIZE:]
    if zlib.crc32(payload, zlib.crc32(dgram[:_HEAD.size])) != crc:
        raise WireError("CRC mismatch")
    if not (0 < k <= n <= 256) or index >= n or block >= nblocks or not payload:
        raise WireError("impossible block geometry")
    return Shard(key, olen, block, nblocks, index, k, n, payload)
