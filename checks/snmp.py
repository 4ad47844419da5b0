"""The SNMP poller: every agent at once (pysnmp 7, asyncio), one `Answers` per node.

Per agent, concurrently: sysName + sysLocation (SNMPv3 authPriv), the interface table (ifDescr, ifName,
ifOperStatus, ifAlias) and BGP4-MIB bgpPeerState (GETBULK walks), and the two probes that must get
nothing: v2c community `public` and v3 noAuthNoPriv, sent as raw datagrams (checks/snmp_probe.py), so the
real user's keys are never mixed with a keyless entry. Credentials come from a SecretSource.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from pysnmp.hlapi.v3arch.asyncio import (
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
    bulk_cmd,
    usmAesCfb128Protocol,
    usmAesCfb256Protocol,
    usmHMAC192SHA256AuthProtocol,
    usmHMACSHAAuthProtocol,
)
from pysnmp.proto.rfc1905 import EndOfMibView, NoSuchInstance, NoSuchObject

from checks.snmp_probe import v2c_public_answers, v3_noauth_answers
from checks.snmp_rules import Answers, Expectation, Interface
from core import procpool

SYS_NAME = "1.3.6.1.2.1.1.5.0"
SYS_LOCATION = "1.3.6.1.2.1.1.6.0"
IF_NUMBER = "1.3.6.1.2.1.2.1.0"
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_OPER = "1.3.6.1.2.1.2.2.1.8"
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
IF_ALIAS = "1.3.6.1.2.1.31.1.1.1.18"
BGP_PEER_STATE = "1.3.6.1.2.1.15.3.1.2"
_END = (EndOfMibView.tagSet, NoSuchObject.tagSet, NoSuchInstance.tagSet)
AUTH = {"SHA": usmHMACSHAAuthProtocol, "SHA-256": usmHMAC192SHA256AuthProtocol}
PRIV = {"AES": usmAesCfb128Protocol, "AES128": usmAesCfb128Protocol, "AES-256": usmAesCfb256Protocol}


@dataclass(frozen=True)
class Credentials:
    user: str
    auth_key: str
    priv_key: str
    auth_proto: str = "SHA"
    priv_proto: str = "AES"

    def usm(self) -> UsmUserData:
        return UsmUserData(self.user, authKey=self.auth_key, privKey=self.priv_key,
                           authProtocol=AUTH[self.auth_proto], privProtocol=PRIV[self.priv_proto])


def _text(value: object) -> str:
    raw = value.asOctets() if hasattr(value, "asOctets") else str(value).encode()
    return raw.decode("utf-8", errors="replace")


class Poller:
    """One poll run. `timeout`/`retries` per request; `negative_timeout` bounds the must-not-answer probes."""

    def __init__(self, creds: Credentials, timeout: float = 3.0, retries: int = 2,
                 negative_timeout: float = 1.0) -> None:
        self.creds = creds
        self.timeout, self.retries, self.negative_timeout = timeout, retries, negative_timeout
        self.engine = SnmpEngine()
        self.usm = creds.usm()
        self.gate: asyncio.Semaphore | None = None  # bounds the authPriv exchanges in flight (poll_all sets it)

    def close(self) -> None:
        self.engine.close_dispatcher()

    async def _target(self, exp: Expectation, timeout: float, retries: int) -> UdpTransportTarget:
        return await UdpTransportTarget.create((exp.address, exp.port), timeout=timeout, retries=retries)

    @staticmethod
    def _consume(binds: list, idx: list[int], columns: tuple[str, ...], out: list[dict[str, object]],
                 cursor: dict[int, str]) -> dict[int, str]:
        """Spread the repeated varbinds of a GETBULK over their columns; the cursors still inside their column."""
        nxt: dict[int, str] = {}
        done: set[int] = set()
        for n, (name, value) in enumerate(binds):
            col = idx[n % len(idx)]
            oid, prefix = str(name), columns[col] + "."
            if col not in done and oid.startswith(prefix) and value.tagSet not in _END:
                out[col][oid[len(prefix):]] = value
                nxt[col] = oid
            else:
                done.add(col)
        return {c: o for c, o in nxt.items() if c not in done and o != cursor.get(c)}

    async def _fetch(self, target: UdpTransportTarget, scalars: tuple[str, ...], columns: tuple[str, ...],
                     rows: int) -> tuple[str, dict[str, object], list[dict[str, object]]]:
        """Scalars and whole table columns in one GETBULK (scalars as non-repeaters: the GETNEXT of their
        parent OID), `rows` repetitions sized from the plan; a longer table costs more round trips, never a
        wrong answer. Returns (error, scalars, columns). A generic walk would fetch 50 varbinds past the end
        of every column: most of the CPU went there."""
        out: list[dict[str, object]] = [{} for _ in columns]
        req = [ObjectType(ObjectIdentity(x.rsplit(".", 1)[0])) for x in scalars]
        req += [ObjectType(ObjectIdentity(c)) for c in columns]
        err_ind, err_st, _i, binds = await bulk_cmd(self.engine, self.usm, target, ContextData(), len(scalars),
                                                    rows, *req, lookupMib=False)
        if err_ind or int(err_st or 0):
            return str(err_ind or err_st), {}, out
        values = {x: v for x, (name, v) in zip(scalars, binds[:len(scalars)], strict=False) if str(name) == x}
        cursor = self._consume(list(binds[len(scalars):]), list(range(len(columns))), columns, out,
                               dict(enumerate(columns)))
        with contextlib.suppress(KeyError, TypeError, ValueError):
            # the agent's own row count (ifNumber): the rest of the table in one more request
            rows = max(rows, int(values[IF_NUMBER]) - len(out[0]) + 1)  # type: ignore[call-overload]
        while cursor:
            idx = list(cursor)
            err_ind, err_st, _i, binds = await bulk_cmd(
                self.engine, self.usm, target, ContextData(), 0, rows,
                *(ObjectType(ObjectIdentity(cursor[i])) for i in idx), lookupMib=False)
            if err_ind or int(err_st or 0) or not binds:
                break
            cursor = self._consume(list(binds), idx, columns, out, cursor)
        return "", values, out

    async def poll(self, exp: Expectation, want_bgp: bool = True) -> Answers:
        start = time.perf_counter()
        # One transport target per agent: pysnmp configures each new target in its LCD (slow).
        # The must-get-nothing probes as raw datagrams (checks/snmp_probe.py): through pysnmp they cost ~40%
        # of the CPU (a target in the LCD, pyasn1 coding, a discovery) for messages answered by nothing.
        neg = asyncio.gather(v2c_public_answers(exp.address, exp.port, self.negative_timeout),
                             v3_noauth_answers(exp.address, exp.port, self.creds.user, self.negative_timeout))
        target = await self._target(exp, self.timeout, self.retries)
        columns = (IF_DESCR, IF_NAME, IF_OPER, IF_ALIAS)
        if want_bgp and exp.bgp_peers_v4:
            columns += (BGP_PEER_STATE,)
        # Interfaces the plan names + lo + the management port + one to see the end of the table.
        rows = max(len(exp.interfaces) + 3, len(exp.bgp_peers_v4) + 1, 4)
        async with self.gate or contextlib.nullcontext():
            error, scalars, tables = await self._fetch(target, (SYS_NAME, SYS_LOCATION, IF_NUMBER), columns, rows)
        if error or SYS_NAME not in scalars:
            v2c, noauth = await neg
            return Answers(False, v3_error=error or "no sysName", v2c_public=v2c, v3_noauth=noauth,
                           seconds=time.perf_counter() - start)
        sys_name, sys_location = _text(scalars[SYS_NAME]), _text(scalars.get(SYS_LOCATION, b""))
        descr, names, oper, alias = tables[:4]
        bgp = {k: int(v) for k, v in tables[4].items()} if len(tables) > 4 else {}  # type: ignore[call-overload]
        ifs: dict[str, Interface] = {}
        for idx in descr:
            iface = Interface(int(oper.get(idx, 2)) == 1, _text(alias.get(idx, b"")))  # type: ignore[call-overload]
            for label in {_text(descr[idx]), _text(names.get(idx, descr[idx]))}:
                ifs[label] = iface
        v2c, noauth = await neg
        return Answers(True, sys_name=sys_name, sys_location=sys_location, interfaces=ifs, bgp_state=bgp,
                       v2c_public=v2c, v3_noauth=noauth, seconds=time.perf_counter() - start)


async def poll_all(exps: Iterable[Expectation], creds: Credentials, progress: Callable[[str], None] | None = None,
                   concurrency: int = 64, **kw: float) -> dict[str, Answers]:
    """Every agent concurrently: one slow or dead agent costs its own timeout, never the others'. At most
    `concurrency` SNMPv3 exchanges in flight, so a CPU-bound event loop is not flooded with more replies than
    it can decode within the timeouts; the must-not-answer probes only wait, so they are not gated."""
    poller = Poller(creds, **kw)
    exps = list(exps)
    poller.gate = asyncio.Semaphore(max(1, concurrency))
    try:
        async def one(e: Expectation) -> tuple[str, Answers]:
            try:
                a = await poller.poll(e)
            except Exception as ex:  # one agent's failure is its own error result
                a = Answers(False, v3_error=f"{type(ex).__name__}: {ex}")
            if progress:
                progress(e.hostname)
            return e.hostname, a
        return dict(await asyncio.gather(*(one(e) for e in exps)))
    finally:
        poller.close()


def _poll_shard(args: tuple[list[Expectation], Credentials, dict[str, float]]) -> dict[str, Answers]:
    exps, creds, kw = args
    return asyncio.run(poll_all(exps, creds, **kw))  # type: ignore[arg-type]


SHARD_MIN = 24  # below this many agents a second process costs more (start, imports) than it saves


def poll(exps: Iterable[Expectation], creds: Credentials, workers: int | None = None,
         progress: Callable[[str], None] | None = None, **kw: float) -> dict[str, Answers]:
    """Poll every agent. The poller is CPU-bound in pysnmp/pyasn1 (BER coding, ~20-40 ms of CPU per agent),
    so with many agents the work is sharded over `workers` processes (default: the CPUs this process may
    use), each with its own event loop and SnmpEngines; with few agents, or one CPU, one process."""
    exps = list(exps)
    n = workers if workers is not None else len(os.sched_getaffinity(0))
    n = max(1, min(n, len(exps) // SHARD_MIN))
    if n == 1:
        return asyncio.run(poll_all(exps, creds, progress=progress, **kw))  # type: ignore[arg-type]
    shards = [exps[i::n] for i in range(n)]  # interleaved: lab agents and loopback agents spread evenly
    out: dict[str, Answers] = {}
    # fork where safe: the children inherit the imported pysnmp (a fresh process re-imports it, ~1 s each)
    with ProcessPoolExecutor(n, mp_context=procpool.context()) as ex:
        for part in ex.map(_poll_shard, [(sh, creds, kw) for sh in shards]):
            out.update(part)
            for h in part:
                if progress:
                    progress(h)
    return {e.hostname: out[e.hostname] for e in exps}
