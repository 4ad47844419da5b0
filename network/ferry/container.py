"""A batch as one byte string: the manifest bytes and every file as read, in name order.

The sender packs what it finds, whether or not it matches the manifest: judging is the receiver's job (the
decision side is the one that must not trust the exchange side), so a tampered batch reaches quarantine there
with its reason instead of vanishing silently on the sending side.
"""

from __future__ import annotations

import struct

from core.errors import JinbaoError

MAGIC = b"JBFC1\n"
_LEN = struct.Struct("!HQ")  # name length, data length


class ContainerError(JinbaoError, ValueError):
    pass


def pack(entries: list[tuple[str, bytes]]) -> bytes:
    parts = [MAGIC, struct.pack("!I", len(entries))]
    for name, data in entries:
        raw = name.encode("utf-8")
        parts += [_LEN.pack(len(raw), len(data)), raw, data]
    return b"".join(parts)


def unpack(blob: bytes) -> list[tuple[str, bytes]]:
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 4:
        raise ContainerError("not a ferry container (bad magic)")
    view = memoryview(blob)
    pos = len(MAGIC)
    (count,) = struct.unpack_from("!I", blob, pos)
    pos += 4
    out: list[tuple[str, bytes]] = []
    for i in range(count):
        if pos + _LEN.size > len(blob):
            raise ContainerError(f"entry {i}: header runs past the end")
        nlen, dlen = _LEN.unpack_from(blob, pos)
        pos += _LEN.size
        if pos + nlen + dlen > len(blob):
            raise ContainerError(f"entry {i}: data runs past the end")
        try:
            name = bytes(view[pos:pos + nlen]).decode("utf-8")
        except UnicodeDecodeError:
            raise ContainerError(f"entry {i}: name is not UTF-8") from None
        pos += nlen
        out.append((name, bytes(view[pos:pos + dlen])))
        pos += dlen
    if pos != len(blob):
        raise ContainerError(f"{len(blob) - pos} trailing bytes after the last entry")
    return out
