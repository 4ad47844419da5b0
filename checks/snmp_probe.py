"""The two must-get-nothing probes (v2c community `public`, SNMPv3 noAuthNoPriv as the real user), as raw
datagrams: profiling showed they cost about 40% of the poller's CPU through pysnmp (a target configured in
its LCD tables, BER coding through pyasn1, an engine-ID discovery) for messages that a compliant agent
answers with nothing or with a report. Here they are a few hand-encoded bytes, and a reply is parsed only
as far as needed to tell data from a refusal.

- v2c: GetRequest(sysName.0) with community `public`. Any Response with error-status 0 and a value that is
  not noSuchObject/noSuchInstance/endOfMibView = the agent answered (a failure).
- v3 noAuthNoPriv: RFC 3414 discovery (empty engine ID) gives the agent's engine ID, boots and time in a
  Report; then GetRequest(sysName.0) as the real user, noAuthNoPriv. A Report (unsupported security level,
  unknown user) or a Response carrying an error or no value = refused; a value = answered (a failure).
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass

from core.errors import JinbaoError

SYS_NAME_OID = (1, 3, 6, 1, 2, 1, 1, 5, 0)
_ids = itertools.count(0x4A420000)  # request and message ids: distinct per probe in a run


# -- BER, just what these messages need ------------------------------------------------------------------
def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _len(len(body)) + body


def _int(v: int) -> bytes:
    return _tlv(0x02, v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big", signed=True))


def _oct(v: bytes) -> bytes:
    return _tlv(0x04, v)


def _seq(*parts: bytes) -> bytes:
    return _tlv(0x30, b"".join(parts))


def _oid(oid: tuple[int, ...]) -> bytes:
    body = bytearray([40 * oid[0] + oid[1]])
    for arc in oid[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return _tlv(0x06, bytes(body))


def _get_pdu(request_id: int, oids: tuple[tuple[int, ...], ...]) -> bytes:
    binds = _seq(*(_seq(_oid(o), b"\x05\x00") for o in oids))
    return _tlv(0xA0, _int(request_id) + _int(0) + _int(0) + binds)


def v2c_get(community: bytes, request_id: int) -> bytes:
    return _seq(_int(1), _oct(community), _get_pdu(request_id, (SYS_NAME_OID,)))


def v3_noauth_get(msg_id: int, engine_id: bytes, boots: int, time_: int, user: bytes,
                  oids: tuple[tuple[int, ...], ...] = (SYS_NAME_OID,)) -> bytes:
    """SNMPv3, USM, noAuthNoPriv, reportable. Empty engine ID, user and oids = RFC 3414 discovery."""
    usm = _seq(_oct(engine_id), _int(boots), _int(time_), _oct(user), _oct(b""), _oct(b""))
    header = _seq(_int(msg_id), _int(65507), _oct(b"\x04"), _int(3))
    scoped = _seq(_oct(engine_id), _oct(b""), _get_pdu(msg_id, oids))
    return _seq(_int(3), header, _oct(usm), scoped)


class BerError(JinbaoError, ValueError):
    pass


def _read(buf: bytes, pos: int) -> tuple[int, bytes, int]:
    """(tag, value, next position) of the TLV at `pos`."""
    if pos + 2 > len(buf):
        raise BerError("truncated")
    tag, n = buf[pos], buf[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(buf[pos:pos + k], "big")
        pos += k
    if pos + n > len(buf):
        raise BerError("truncated")
    return tag, buf[pos:pos + n], pos + n


def _children(body: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos < len(body):
        tag, value, pos = _read(body, pos)
        out.append((tag, value))
    return out


def _pdu_answers(tag: int, pdu: bytes) -> bool:
    """A Response PDU with error-status 0 and at least one real value (not an exception) = data."""
    if tag != 0xA2:
        return False  # a Report (0xA8) or anything else: a refusal
    kids = _children(pdu)
    if len(kids) < 4 or int.from_bytes(kids[1][1], "big") != 0:
        return False
    return any(vtag not in (0x80, 0x81, 0x82) for _, vb in _children(kids[3][1])
               for vtag, _v in _children(vb)[1:2])


def v2c_reply_answers(datagram: bytes) -> bool:
    _tag, msg, _ = _read(datagram, 0)
    kids = _children(msg)
    return len(kids) >= 3 and _pdu_answers(*kids[2])


@dataclass(frozen=True)
class V3Reply:
    engine_id: bytes
    boots: int
    time: int
    answers: bool  # carries data
    context_engine_id: bytes = b""  # of a plaintext scoped PDU (a discovery Report's); else empty


def parse_v3(datagram: bytes) -> V3Reply:
    _tag, msg, _ = _read(datagram, 0)
    kids = _children(msg)
    if len(kids) < 4 or kids[0][1] != b"\x03":
        raise BerError("not an SNMPv3 message")
    _t, usm_body, _ = _read(kids[2][1], 0)
    usm = _children(usm_body)
    flags = _children(kids[1][1])[2][1]
    answers, context = False, b""
    if kids[3][0] == 0x30 and not (flags and flags[0] & 0x02):  # plaintext scoped PDU (a noPriv reply)
        scoped = _children(kids[3][1])
        if scoped:
            context = scoped[0][1]
        if len(scoped) >= 3:
            answers = _pdu_answers(*scoped[2])
    return V3Reply(usm[0][1], int.from_bytes(usm[1][1], "big"), int.from_bytes(usm[2][1], "big"), answers,
                   context)


# -- the probes ------------------------------------------------------------------------------------------
class _Udp(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.queue.put_nowait(data)


async def _exchange(host: str, port: int, datagram: bytes, timeout: float) -> list[bytes]:
    """Send one datagram; every reply within `timeout` (a compliant agent may send none)."""
    loop = asyncio.get_running_loop()
    # Not connected: an agent on a wildcard address may answer from another of its addresses, which a
    # connected socket would drop (a refusal seen where there was an answer). One socket per probe, so
    # whatever arrives on it is the reply.
    local = ("::", 0) if ":" in host else ("0.0.0.0", 0)
    transport, proto = await loop.create_datagram_endpoint(_Udp, local_addr=local)
    try:
        transport.sendto(datagram, (host, port))
        try:
            first = await asyncio.wait_for(proto.queue.get(), timeout)
        except TimeoutError:
            return []
        return [first]
    finally:
        transport.close()


async def v2c_public_answers(host: str, port: int, timeout: float) -> bool:
    for reply in await _exchange(host, port, v2c_get(b"public", next(_ids)), timeout):
        try:
            if v2c_reply_answers(reply):
                return True
        except (BerError, IndexError):
            continue  # garbage is not an answer
    return False


async def v3_discover(host: str, port: int, timeout: float) -> V3Reply | None:
    """RFC 3414 discovery: the agent's engine ID, boots and time (its Report), or None (no or bad reply)."""
    replies = await _exchange(host, port, v3_noauth_get(next(_ids), b"", 0, 0, b"", ()), timeout)
    if not replies:
        return None
    try:
        disc = parse_v3(replies[0])
    except (BerError, IndexError):
        return None
    return disc if disc.engine_id else None


async def v3_noauth_answers(host: str, port: int, user: str, timeout: float,
                            discovery: asyncio.Future[V3Reply | None] | None = None) -> bool:
    """`discovery`: the agent's discovery already under way (the poller shares it with pysnmp)."""
    disc = await (discovery if discovery is not None else v3_discover(host, port, timeout))
    if disc is None:
        return False
    get = v3_noauth_get(next(_ids), disc.engine_id, disc.boots, disc.time, user.encode())
    for reply in await _exchange(host, port, get, timeout):
        try:
            if parse_v3(reply).answers:
                return True
        except (BerError, IndexError):
            continue
    return False
