"""The pysnmp poller (checks/snmp.py): USM master keys computed once and right, and against real snmpd agents
on loopback (requests through pysnmp's message dispatcher) it reads what the checks judge (planned
interfaces, planned BGP peers), tells a wrong user and a dead agent as errors, skips pysnmp's own engine-ID
discovery when the noAuth probe's is seeded (same answers without it), and gives the same answers whether one
process polls or the agents are sharded over forked workers. Without agents: the ifName column is read past the
first GETBULK only when a planned name is not in it (requests counted against an agent's table in memory)."""

from __future__ import annotations

import os

import pytest

from checks import snmp
from checks.agent_pool import SnmpdPool
from checks.snmp import Credentials, poll
from checks.snmp_rules import Expectation, Interface
from lab.spec import SnmpUser
from network.secrets import LabTestSecrets


def test_master_keys_are_rfc3414() -> None:
    creds = Credentials("u", "maplesyrup", "maplesyrup")
    auth, priv = snmp._master_keys(creds)
    # RFC 3414 A.3.2: the SHA master key of "maplesyrup"; AES-128's privacy key is stretched with the auth hash
    assert auth.hex() == "9fb5cc0381497b3793528939ff788d5d79145211" and priv == auth
    sha256 = snmp._master_keys(Credentials("u", "maplesyrup", "maplesyrup", "SHA-256", "AES-256"))
    assert [len(k) for k in sha256] == [32, 32] and sha256[0] != auth


def test_an_interface_name_maps_to_its_first_row() -> None:
    """The ifName column may be read in one GETBULK or two: the first row with a name wins either way."""
    from pysnmp.proto.rfc1902 import OctetString

    column = {"1": OctetString(b"lo"), "2": OctetString(b"eth0"), "7": OctetString(b"eth0")}  # as decoded
    assert snmp._by_name(column) == {"lo": "1", "eth0": "2"}


class _Agent:
    """An agent's MIB as a sorted table, answering the poller's GETBULK and GET as RFC 3416 says (non-repeaters
    first, then `max-repetitions` rounds over the repeaters; endOfMibView past the last OID), and recording each
    request: (kind, non-repeaters, max-repetitions, OIDs)."""

    def __init__(self, names: list[str]) -> None:
        from pysnmp.proto.rfc1902 import Integer, OctetString

        rows = {snmp.SYS_NAME: OctetString(b"JB-R1"), snmp.SYS_LOCATION: OctetString(b"site"),
                snmp.IF_NUMBER: Integer(len(names))}
        for i, name in enumerate(names, 1):
            rows |= {f"{snmp.IF_DESCR}.{i}": OctetString(name.encode()), f"{snmp.IF_OPER}.{i}": Integer(1 + i % 2),
                     f"{snmp.IF_NAME}.{i}": OctetString(name.encode()),
                     f"{snmp.IF_ALIAS}.{i}": OctetString(f"alias {name}".encode())}
        self.rows = dict(sorted(rows.items(), key=lambda kv: self._key(kv[0])))
        self.requests: list[tuple[str, int, int, list[str]]] = []

    @staticmethod
    def _key(oid: str) -> tuple[int, ...]:
        return tuple(int(x) for x in oid.split("."))

    def _next(self, oid: str) -> tuple[object, object]:
        from pysnmp.proto.rfc1902 import ObjectName
        from pysnmp.proto.rfc1905 import EndOfMibView

        for o, v in self.rows.items():
            if self._key(o) > self._key(oid):
                return ObjectName(o), v
        return ObjectName(oid), EndOfMibView()

    async def bulk(self, _peer: object, non_repeaters: int, rows: int, oids: list[str]) -> tuple[str, list]:
        self.requests.append(("bulk", non_repeaters, rows, list(oids)))
        out = [self._next(o) for o in oids[:non_repeaters]]
        cursor = oids[non_repeaters:]
        for _ in range(rows):
            got = [self._next(o) for o in cursor]
            out += got
            cursor = [str(name) for name, _v in got]
        return "", out

    async def get(self, _peer: object, oids: list[str]) -> tuple[str, list]:
        from pysnmp.proto.rfc1902 import ObjectName
        from pysnmp.proto.rfc1905 import NoSuchInstance

        self.requests.append(("get", 0, 0, list(oids)))
        return "", [(ObjectName(o), self.rows.get(o, NoSuchInstance())) for o in oids]


def _fetch(agent: _Agent, planned: dict[str, str]) -> tuple[str, dict[str, Interface]]:
    import asyncio

    poller = snmp.Poller(Credentials("u", "k" * 8, "k" * 8), engine=object())  # type: ignore[arg-type]
    poller._bulk = agent.bulk  # type: ignore[method-assign]
    poller._get = agent.get  # type: ignore[method-assign]
    exp = Expectation("JB-R1", "192.0.2.1", "DB", "site", planned)
    err, _scalars, ifs, _bgp = asyncio.run(poller._fetch(((1,), ("192.0.2.1", 161)), exp, want_bgp=False))
    return err, ifs


NAMES = ["lo", "eth0", "eth1", "eth2", "eth3", "eth4", "eth5", "eth6", "eth7", "eth8"]


def test_every_planned_name_in_the_first_getbulk_reads_no_further() -> None:
    """The first GETBULK (the scalars and the ifName column, sized from the plan: 2 planned + 3 = 5 rows) holds
    every planned name: no second request for the rest of the column, then the one GET of their status."""
    agent = _Agent(NAMES)
    err, ifs = _fetch(agent, {"lo": "", "eth0": "uplink"})
    assert err == "" and ifs == {"lo": Interface(False, "alias lo"), "eth0": Interface(True, "alias eth0")}
    assert [r[0] for r in agent.requests] == ["bulk", "get"], agent.requests
    assert agent.requests[0] == ("bulk", 3, 5, ["1.3.6.1.2.1.1.5", "1.3.6.1.2.1.1.6", "1.3.6.1.2.1.2.1", snmp.IF_NAME])
    assert agent.requests[1][3] == [f"{snmp.IF_OPER}.1", f"{snmp.IF_ALIAS}.1", f"{snmp.IF_OPER}.2",
                                    f"{snmp.IF_ALIAS}.2"]


def test_a_planned_name_past_the_first_getbulk_continues_the_column() -> None:
    """One planned name (row 9) is not in the first 5 rows: the ifName column goes on from the last row read, in
    one more GETBULK sized by the agent's ifNumber (10 rows - 5 read + 1 = 6), and that name is found; ifDescr
    is never walked (every planned name is an ifName)."""
    agent = _Agent(NAMES)
    err, ifs = _fetch(agent, {"lo": "", "eth7": "far down the table"})
    assert err == "" and ifs == {"lo": Interface(False, "alias lo"), "eth7": Interface(False, "alias eth7")}
    assert [r[0] for r in agent.requests] == ["bulk", "bulk", "get"], agent.requests
    assert agent.requests[1] == ("bulk", 0, 6, [f"{snmp.IF_NAME}.5"])  # from the first page's last row
    assert not any(snmp.IF_DESCR in o for r in agent.requests for o in r[3])
    # a name the agent has nowhere: the column read to its end, then ifDescr, and the name absent, not made up
    agent = _Agent(NAMES)
    err, ifs = _fetch(agent, {"lo": "", "jb-no-such-if0": ""})
    assert err == "" and ifs == {"lo": Interface(False, "alias lo")}
    assert [r[0] for r in agent.requests][:3] == ["bulk", "bulk", "bulk"] and agent.requests[2][3] == [snmp.IF_DESCR]


S = LabTestSecrets()
USER = SnmpUser("jinbao-nms", S.get("snmp_auth") or "", S.get("snmp_priv") or "")
CREDS = Credentials(USER.name, USER.auth_key, USER.priv_key, USER.auth_proto, USER.priv_proto)


@pytest.mark.integration
@pytest.mark.skipif(os.geteuid() != 0, reason="binds snmpd agents on 127.0.0.x")
def test_poller_reads_planned_interfaces_and_peers_sharded_or_not(monkeypatch: pytest.MonkeyPatch) -> None:
    with SnmpdPool(USER, base_port=24461) as pool, SnmpdPool(USER, base_port=24561) as open_pool:
        agents = pool.start([(f"JB-POLL-{i}", f"site {i}") for i in range(5)])
        v2c = open_pool.start([("JB-POLL-V2C", "open")], extra_conf="rocommunity public 127.0.0.0/8\n")[0]
        plan = {"lo": "", "jb-no-such-if0": "planned but absent"}
        exps = [Expectation(a.name, a.host, "DB", a.location, plan, ("192.0.2.1",), port=a.port)
                for a in [*agents, v2c]]
        one = poll(exps, CREDS, workers=1)
        for e in exps:
            a = one[e.hostname]
            assert a.v3_ok and a.sys_name == e.hostname and a.sys_location == e.location, a
            assert a.interfaces == {"lo": Interface(True, "")}  # the absent one is absent, not made up
            assert a.bgp_state == {}  # no BGP4-MIB peer on a host snmpd: the planned peer is absent
            assert (a.v2c_public, a.v3_noauth) == (e.hostname == v2c.name, False)
        wrong = poll(exps[:1], Credentials("jb-no-such-user", USER.auth_key, USER.priv_key), workers=1)
        assert not wrong[exps[0].hostname].v3_ok and "unknown" in wrong[exps[0].hostname].v3_error.lower()
        dead = Expectation("JB-POLL-DEAD", "127.0.0.1", "DB", "x", plan, port=9)  # nothing listens on discard
        gone = poll([dead], CREDS, workers=1, timeout=0.5, retries=1)["JB-POLL-DEAD"]
        assert not gone.v3_ok and "timeout" in gone.v3_error
        # pysnmp skips its own engine-ID discovery when the probe's is seeded, and answers the same without it
        seeded, sent_seeded = _poll_counting(exps[0])
        monkeypatch.setattr(snmp.Poller, "_seed", lambda *_a: None)
        unseeded, sent_unseeded = _poll_counting(exps[0])
        monkeypatch.undo()
        assert seeded == unseeded == one[exps[0].hostname].__class__(**{**one[exps[0].hostname].__dict__,
                                                                       "seconds": 0})
        assert sent_unseeded == sent_seeded + 1, (sent_seeded, sent_unseeded)
        monkeypatch.setattr(snmp, "SHARD_MIN", 2)
        sharded = poll(exps, CREDS, workers=2)
        assert {h: a.__class__(**{**a.__dict__, "seconds": 0}) for h, a in sharded.items()} == \
            {h: a.__class__(**{**a.__dict__, "seconds": 0}) for h, a in one.items()}


def _poll_counting(exp: Expectation) -> tuple[object, int]:
    """One agent polled by a Poller of its own: (its answers with seconds zeroed, pysnmp messages sent)."""
    import asyncio

    async def run() -> tuple[object, int]:
        poller = snmp.Poller(CREDS)
        sent = 0
        send = poller.engine.message_dispatcher.send_pdu

        def counting(*a: object, **kw: object) -> object:
            nonlocal sent
            sent += 1
            return send(*a, **kw)

        poller.engine.message_dispatcher.send_pdu = counting  # type: ignore[method-assign]
        try:
            a = await poller.poll(exp)
        finally:
            poller.close()
        return a.__class__(**{**a.__dict__, "seconds": 0}), sent

    return asyncio.run(run())
