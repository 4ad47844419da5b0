"""The SNMP poller: every agent at once (pysnmp 7, asyncio), one `Answers` per node.

Per agent, concurrently: sysName + sysLocation (SNMPv3 authPriv), the planned interfaces' ifOperStatus and
ifAlias (found by name in an ifName walk) and the planned IPv4 peers' BGP4-MIB bgpPeerState, and the two
probes that must get nothing: v2c community `public` and v3 noAuthNoPriv, sent as raw datagrams
(checks/snmp_probe.py), so the real user's keys are never mixed with a keyless entry. Credentials come from
a SecretSource."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import os
import random
import socket
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from pyasn1.type import univ
from pysnmp.carrier.asyncio.dgram import udp, udp6
from pysnmp.entity import config
from pysnmp.entity.rfc3413 import config as target_config
from pysnmp.hlapi.v3arch.asyncio import (
    SnmpEngine,
    usmAesCfb128Protocol,
    usmAesCfb256Protocol,
    usmHMAC192SHA256AuthProtocol,
    usmHMACSHAAuthProtocol,
    usmKeyTypeMaster,
)
from pysnmp.proto import errind
from pysnmp.proto.api import v2c
from pysnmp.proto.error import StatusInformation
from pysnmp.proto.rfc1905 import EndOfMibView, NoSuchInstance, NoSuchObject

from checks.snmp_probe import V3Reply, v2c_public_answers, v3_discover, v3_noauth_answers
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


@functools.cache
def _master_keys(creds: Credentials) -> tuple[bytes, bytes]:
    """The RFC 3414 master keys (passphrase stretched over 1 MB of hashing, a Python loop in pysnmp: ~12 ms
    each), once per credential set and process, by pysnmp's own functions. Given as usmKeyTypeMaster, pysnmp
    only localizes them (one hash) per agent engine ID; given as passphrases, every SnmpEngine (one per
    poll run and shard) hashed both again. Forked shards inherit the cache."""
    auth, priv = AUTH[creds.auth_proto], PRIV[creds.priv_proto]
    return (bytes(config.AUTH_SERVICES[auth].hash_passphrase(creds.auth_key)),
            bytes(config.PRIV_SERVICES[priv].hash_passphrase(auth, creds.priv_key)))


def _text(value: object) -> str:
    raw = value.asOctets() if hasattr(value, "asOctets") else str(value).encode()
    return raw.decode("utf-8", errors="replace")


def _by_name(column: dict[str, object]) -> dict[str, str]:
    """Name -> ifIndex, the first row with a name winning (IF-MIB: ifName is the device's own name for the
    interface, so one row each; first-wins keeps the answer the same however far the column was read)."""
    out: dict[str, str] = {}
    for i, v in column.items():
        out.setdefault(_text(v), i)
    return out


def _answered(_eng: object, _mp: object, _sm: object, _sn: object, _sl: object, _ce: object, _cn: object,
              _pv: object, rsp: object, status: object, _handle: object, done: asyncio.Future) -> None:
    """pysnmp's response (or timeout/report) callback: hands the outcome to the waiting request."""
    if not done.done():
        done.set_result((status, rsp))


class Poller:
    """One poll run. `timeout`/`retries` per request; `negative_timeout` bounds the must-not-answer probes."""

    def __init__(self, creds: Credentials, timeout: float = 3.0, retries: int = 2,
                 negative_timeout: float = 1.0, engine: SnmpEngine | None = None) -> None:
        self.creds = creds
        self.timeout, self.retries, self.negative_timeout = timeout, retries, negative_timeout
        self.engine = engine or SnmpEngine()
        self.gate: asyncio.Semaphore | None = None  # bounds the authPriv exchanges in flight (poll_all sets it)
        self._params: tuple | None = None
        self._domains: set[tuple[int, ...]] = set()

    def close(self) -> None:
        self.engine.close_dispatcher()

    def _setup(self) -> tuple:
        """The user and one set of target parameters, once per engine; no target row per agent."""
        if self._params is None:
            auth_master, priv_master = _master_keys(self.creds)
            config.add_v3_user(self.engine, self.creds.user, AUTH[self.creds.auth_proto], auth_master,
                               PRIV[self.creds.priv_proto], priv_master,
                               authKeyType=usmKeyTypeMaster, privKeyType=usmKeyTypeMaster)
            config.add_target_parameters(self.engine, "jinbao", self.creds.user, "authPriv", 3)
            self._params = tuple(target_config.get_target_parameters(self.engine, "jinbao"))
        return self._params

    async def _address(self, exp: Expectation) -> tuple[tuple[int, ...], tuple[str, int]]:
        try:
            ip = ipaddress.ip_address(exp.address)
        except ValueError:  # a name: resolved as pysnmp's UdpTransportTarget does (IPv4)
            info = await asyncio.get_running_loop().getaddrinfo(exp.address, exp.port, family=socket.AF_INET,
                                                                type=socket.SOCK_DGRAM)
            ip = ipaddress.ip_address(info[0][4][0])
        if ip.version == 6:
            domain, addr = udp6.DOMAIN_NAME, udp6.Udp6TransportAddress((str(ip), exp.port, 0, 0))
            transport = udp6.Udp6AsyncioTransport
        else:
            domain, addr, transport = udp.DOMAIN_NAME, udp.UdpTransportAddress((str(ip), exp.port)), \
                udp.UdpAsyncioTransport
        if domain not in self._domains:
            config.add_transport(self.engine, domain, transport().open_client_mode())
            self._domains.add(domain)
        return domain, addr

    def _seed(self, peer: tuple[tuple[int, ...], tuple[str, int]], disc: V3Reply | None) -> None:
        """What pysnmp's own engine-ID discovery would learn, taken from the noAuth probe's discovery of the
        same agent (the same RFC 3414 message): its engine ID in the message processor's peer cache and its
        boots/time in USM's timeline, as pysnmp stores them from a discovery Report. pysnmp then skips its
        discovery round trip: one message less per agent to encode, send and decode (~2 ms of CPU, ~15% of an
        agent's). These are pysnmp 7's private tables: if they are not there (another version), nothing is
        seeded and pysnmp discovers as before; the answers are the same either way."""
        if disc is None:
            return
        mp, usm = self.engine.message_processing_subsystems.get(3), self.engine.security_models.get(3)
        cache = getattr(mp, "_SnmpV3MessageProcessingModel__engineIdCache", None)
        timeline = getattr(usm, "_SnmpUSMSecurityModel__timeline", None)
        if not isinstance(cache, dict) or not isinstance(timeline, dict) or peer in cache:
            return
        engine_id = univ.OctetString(disc.engine_id)
        cache[peer] = {"securityEngineId": engine_id,
                       "contextEngineId": univ.OctetString(disc.context_engine_id or disc.engine_id),
                       "contextName": univ.OctetString(b"")}
        if engine_id not in timeline:
            timeline[engine_id] = (univ.Integer(disc.boots), univ.Integer(disc.time), univ.Integer(disc.time),
                                   int(time.time()))

    async def _request(self, peer: tuple[tuple[int, ...], tuple[str, int]], pdu: object) -> tuple[str, object]:
        """One authPriv request through pysnmp's message dispatcher (RFC 3412 sendPdu): message processing,
        USM (keys, engine-ID discovery, time window), BER and the timeouts stay pysnmp's. What is skipped is
        the hlapi's SNMP-TARGET-MIB row per agent: its MIB writes were ~15% of the poller's CPU (profiled).
        Retries as pysnmp's command generator does: a timeout costs a try, a discovery or time-window report
        is answered by resending at once (at most 4 times). Returns (error, response PDU)."""
        mp, sec_model, sec_name, sec_level = self._setup()
        loop = asyncio.get_running_loop()
        tries = reports = 0
        while True:
            done: asyncio.Future[tuple[object, object]] = loop.create_future()
            ticks = self.timeout / self.engine.transport_dispatcher.get_timer_resolution()
            try:
                self.engine.message_dispatcher.send_pdu(self.engine, peer[0], peer[1], mp, sec_model, sec_name,
                                                        sec_level, None, b"", 1, pdu, True, ticks, _answered, done)
            except StatusInformation as ex:
                return str(ex["errorIndication"]), None
            status, rsp = await done
            if status:
                ind = status["errorIndication"]  # type: ignore[index]
                if ind in (errind.notInTimeWindow, errind.unknownEngineID):
                    reports += 1
                    if reports <= 4:
                        continue
                elif ind == errind.requestTimedOut:
                    tries += 1
                    if tries <= self.retries:
                        continue
                return str(ind), None
            if v2c.apiPDU.get_request_id(rsp) != v2c.apiPDU.get_request_id(pdu):
                return "badResponse", None
            err = v2c.apiPDU.get_error_status(rsp)
            return ("" if not int(err) else err.prettyPrint()), rsp

    async def _bulk(self, peer: tuple[tuple[int, ...], tuple[str, int]], non_repeaters: int, rows: int,
                    oids: list[str]) -> tuple[str, list]:
        pdu = v2c.GetBulkRequestPDU()
        v2c.apiBulkPDU.set_defaults(pdu)
        v2c.apiBulkPDU.set_non_repeaters(pdu, non_repeaters)
        v2c.apiBulkPDU.set_max_repetitions(pdu, rows)
        v2c.apiBulkPDU.set_varbinds(pdu, [(o, v2c.null) for o in oids])
        err, rsp = await self._request(peer, pdu)
        return err, (list(v2c.apiBulkPDU.get_varbinds(rsp)) if rsp is not None and not err else [])

    async def _get(self, peer: tuple[tuple[int, ...], tuple[str, int]], oids: list[str]) -> tuple[str, list]:
        pdu = v2c.GetRequestPDU()
        v2c.apiPDU.set_defaults(pdu)
        v2c.apiPDU.set_varbinds(pdu, [(o, v2c.null) for o in oids])
        err, rsp = await self._request(peer, pdu)
        return err, (list(v2c.apiPDU.get_varbinds(rsp)) if rsp is not None and not err else [])

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

    async def _walk(self, peer: tuple[tuple[int, ...], tuple[str, int]], columns: tuple[str, ...], rows: int,
                    out: list[dict[str, object]], cursor: dict[int, str]) -> str:
        """Walk on from `cursor` (column -> last OID read) to the end of each column, `rows` per GETBULK."""
        while cursor:
            idx = list(cursor)
            err, binds = await self._bulk(peer, 0, rows, [cursor[i] for i in idx])
            if err:
                return err
            if not binds:
                break
            cursor = self._consume(binds, idx, columns, out, cursor)
        return ""

    async def _fetch(self, peer: tuple[tuple[int, ...], tuple[str, int]], exp: Expectation,
                     want_bgp: bool) -> tuple[str, dict[str, object], dict[str, Interface], dict[str, int]]:
        """(error, scalars, planned interfaces found, planned IPv4 BGP peers found).

        The checks only judge what the plan names, and decoding varbinds is most of the CPU (pyasn1), so:
        1. one GETBULK: sysName, sysLocation, ifNumber as non-repeaters (the GETNEXT of their parent OID)
           and the ifName column, sized from the plan; only if a planned name is not in those rows, the rest
           of the column in one more GETBULK sized by ifNumber. ifDescr is walked only when a planned name is
           not an ifName (on FRR/Linux both are the kernel name; other platforms may differ).
        2. one GET: ifOperStatus + ifAlias of the planned interfaces, bgpPeerState of the planned peers.
        Walking all four interface columns instead cost 4 varbinds per row of the agent's table (the host's
        ~80 rows on a lab machine: 4-5 GETBULK responses of ~100 varbinds per agent)."""
        scalars = (SYS_NAME, SYS_LOCATION, IF_NUMBER)
        rows = max(len(exp.interfaces) + 3, 4)  # the planned ones + lo + the management port + the end
        err, binds = await self._bulk(peer, len(scalars), rows, [x.rsplit(".", 1)[0] for x in scalars] + [IF_NAME])
        if err:
            return err, {}, {}, {}
        values = {x: v for x, (name, v) in zip(scalars, binds[:len(scalars)], strict=False) if str(name) == x}
        if SYS_NAME not in values:
            return "no sysName", values, {}, {}
        ifs: dict[str, Interface] = {}
        bgp: dict[str, int] = {}
        peers = exp.bgp_peers_v4 if want_bgp else ()
        if not exp.interfaces and not peers:
            return "", values, ifs, bgp
        names: list[dict[str, object]] = [{}, {}]
        cols = (IF_NAME, IF_DESCR)
        cursor = self._consume(list(binds[len(scalars):]), [0], cols, names, {0: IF_NAME})
        index = _by_name(names[0])
        if any(n not in index for n in exp.interfaces):
            # Not all found in the first rows: the rest of the column, in one more request sized by the
            # agent's own row count. When every planned name is already there the rest is not read: its
            # rows are what decoding costs (a host's 80-row table was ~2/3 of an agent's CPU).
            with contextlib.suppress(KeyError, TypeError, ValueError):
                rows = max(rows, int(values[IF_NUMBER]) - len(names[0]) + 1)  # type: ignore[call-overload]
            err = await self._walk(peer, cols, rows, names, cursor)
            index = _by_name(names[0])
        if not err and any(n not in index for n in exp.interfaces):
            err = await self._walk(peer, cols, max(rows, len(names[0]) + 1), names, {1: IF_DESCR})
            index = _by_name(names[1]) | index
        if err:
            return err, values, ifs, bgp
        planned = [(n, index[n]) for n in exp.interfaces if n in index]
        oids = [f"{c}.{i}" for _n, i in planned for c in (IF_OPER, IF_ALIAS)] + [f"{BGP_PEER_STATE}.{p}" for p in peers]
        if not oids:
            return "", values, ifs, bgp
        err, binds = await self._get(peer, oids)
        if err:
            return err, values, ifs, bgp
        got = {str(name): v for name, v in binds if v.tagSet not in _END}
        for n, i in planned:
            oper = got.get(f"{IF_OPER}.{i}")
            ifs[n] = Interface(oper is not None and int(oper) == 1,  # type: ignore[call-overload]
                               _text(got.get(f"{IF_ALIAS}.{i}", b"")))
        for p in peers:
            if f"{BGP_PEER_STATE}.{p}" in got:
                bgp[p] = int(got[f"{BGP_PEER_STATE}.{p}"])  # type: ignore[call-overload]
        return "", values, ifs, bgp

    async def poll(self, exp: Expectation, want_bgp: bool = True) -> Answers:
        start = time.perf_counter()
        # The must-get-nothing probes as raw datagrams (checks/snmp_probe.py): through pysnmp they cost ~40%
        # of the CPU (a target in the LCD, pyasn1 coding, a discovery) for messages answered by nothing.
        # Sent first, so that their wait (negative_timeout, 1 s: net-snmp's own default, what the sequential
        # tools wait too) runs beside the authPriv exchanges: with ~100 agents or more per process the CPU of
        # those takes longer than the wait, which then costs no wall time. A shorter wait would gain only on
        # small polls and would count an agent that answers `public` slowly (a loaded device) as compliant.
        # The noAuth probe's discovery also serves pysnmp (_seed): the authPriv exchange waits for it, at most
        # negative_timeout; without a reply pysnmp discovers on its own, with its timeouts and retries.
        disc = asyncio.ensure_future(v3_discover(exp.address, exp.port, self.negative_timeout))
        neg = asyncio.gather(v2c_public_answers(exp.address, exp.port, self.negative_timeout),
                             v3_noauth_answers(exp.address, exp.port, self.creds.user, self.negative_timeout, disc))
        peer = await self._address(exp)
        self._seed(peer, await disc)
        async with self.gate or contextlib.nullcontext():
            error, scalars, ifs, bgp = await self._fetch(peer, exp, want_bgp)
        v2c, noauth = await neg
        if error:
            return Answers(False, v3_error=error, v2c_public=v2c, v3_noauth=noauth,
                           seconds=time.perf_counter() - start)
        return Answers(True, sys_name=_text(scalars[SYS_NAME]), sys_location=_text(scalars.get(SYS_LOCATION, b"")),
                       interfaces=ifs, bgp_state=bgp, v2c_public=v2c, v3_noauth=noauth,
                       seconds=time.perf_counter() - start)


async def poll_all(exps: Iterable[Expectation], creds: Credentials, progress: Callable[[str], None] | None = None,
                   concurrency: int = 64, engine: SnmpEngine | None = None, **kw: float) -> dict[str, Answers]:
    """Every agent concurrently: one slow or dead agent costs its own timeout, never the others'. At most
    `concurrency` SNMPv3 exchanges in flight, so a CPU-bound event loop is not flooded with more replies than
    it can decode within the timeouts; the must-not-answer probes only wait, so they are not gated."""
    poller = Poller(creds, engine=engine, **kw)
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


_ENGINE: SnmpEngine | None = None  # built by poll() before it forks: a forked shard inherits it


def _poll_shard(args: tuple[list[Expectation], Credentials, dict[str, float]]) -> dict[str, Answers]:
    exps, creds, kw = args
    engine, forked = _ENGINE, _ENGINE is not None
    if forked:
        # pysnmp draws the AES salt counter once per import: a forked shard would reuse the parent's sequence
        for svc in config.PRIV_SERVICES.values():
            if hasattr(svc, "local_int"):
                svc.local_int = random.randrange(0, 0xFFFFFFFFFFFFFFFF)
    return asyncio.run(poll_all(exps, creds, engine=engine, **kw))  # type: ignore[arg-type]


SHARD_MIN = 24  # below this many agents a second process costs more (start, imports) than it saves


def poll(exps: Iterable[Expectation], creds: Credentials, workers: int | None = None,
         progress: Callable[[str], None] | None = None, **kw: float) -> dict[str, Answers]:
    """Poll every agent. The poller is CPU-bound in pysnmp/pyasn1 (BER decoding of the replies, a few ms
    of CPU per agent), so with many agents the work is sharded over `workers` processes (default: the CPUs
    this process may use): this process polls the first shard, worker processes the others, each with its
    own event loop and SnmpEngine; with few agents, or one CPU, this process alone."""
    global _ENGINE
    exps = list(exps)
    n = workers if workers is not None else len(os.sched_getaffinity(0))
    n = max(1, min(n, len(exps) // SHARD_MIN))
    _master_keys(creds)
    # SnmpEngine() loads (compiles) pysnmp's MIB modules: ~150 ms of CPU. Built once here, before any fork,
    # so forked shards inherit it loaded (it opens no socket and binds no event loop until its first request).
    engine = SnmpEngine()
    if n == 1:
        return asyncio.run(poll_all(exps, creds, progress=progress, engine=engine, **kw))  # type: ignore[arg-type]
    shards = [exps[i::n] for i in range(n)]  # interleaved: lab agents and loopback agents spread evenly
    out: dict[str, Answers] = {}
    ctx = procpool.context()
    _ENGINE = engine if ctx.get_start_method() == "fork" else None
    try:
        # fork where safe: the children inherit the imported pysnmp and the engine (a fresh process re-imports
        # pysnmp, ~1 s each); the submit forks them before this process's own shard opens a socket
        with ProcessPoolExecutor(n - 1, mp_context=ctx) as ex:
            futures = [ex.submit(_poll_shard, (sh, creds, kw)) for sh in shards[1:]]
            out.update(asyncio.run(poll_all(shards[0], creds, progress=progress, engine=engine,
                                            **kw)))  # type: ignore[arg-type]
            for f in futures:
                part = f.result()
                out.update(part)
                for h in part:
                    if progress:
                        progress(h)
    finally:
        _ENGINE = None
    return {e.hostname: out[e.hostname] for e in exps}
