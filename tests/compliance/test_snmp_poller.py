"""The pysnmp poller (checks/snmp.py): USM master keys computed once and right, and against real snmpd agents
on loopback (requests through pysnmp's message dispatcher) it reads what the checks judge (planned
interfaces, planned BGP peers), tells a wrong user and a dead agent as errors, skips pysnmp's own engine-ID
discovery when the noAuth probe's is seeded (same answers without it), and gives the same answers whether one
process polls or the agents are sharded over forked workers."""

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
