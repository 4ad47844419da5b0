"""The raw must-get-nothing probes (checks/snmp_probe.py) against real snmpd agents: a compliant agent
(v3 authPriv only) gives nothing to either probe; an agent with a v2c community or a noAuth access answers
the matching probe, and only that one."""

from __future__ import annotations

import asyncio
import os

import pytest

from checks.agent_pool import SnmpdPool
from checks.snmp_probe import BerError, parse_v3, v2c_get, v2c_public_answers, v3_noauth_answers, v3_noauth_get
from lab.spec import SnmpUser
from network.secrets import LabTestSecrets

S = LabTestSecrets()
USER = SnmpUser("jinbao-nms", S.get("snmp_auth") or "", S.get("snmp_priv") or "")


def test_encoding_is_what_pyasn1_decodes() -> None:
    from pyasn1.codec.ber import decoder
    from pysnmp.proto import api
    from pysnmp.proto.mpmod.rfc3412 import SNMPv3Message

    msg, rest = decoder.decode(v2c_get(b"public", 300), asn1Spec=api.PROTOCOL_MODULES[api.SNMP_VERSION_2C].Message())
    assert rest == b"" and str(msg["community"]) == "public"
    v3, rest = decoder.decode(v3_noauth_get(70000, b"\x80\x00\x1f\x88\x01", 7, 123456, b"jinbao-nms"),
                              asn1Spec=SNMPv3Message())
    assert rest == b"" and int(v3["msgVersion"]) == 3 and int(v3["msgGlobalData"]["msgID"]) == 70000
    # what the poller seeds pysnmp with (engine ID, boots, time, the scoped PDU's context engine ID)
    back = parse_v3(v3_noauth_get(70000, b"\x80\x00\x1f\x88\x01", 7, 123456, b"jinbao-nms"))
    assert (back.engine_id, back.boots, back.time, back.context_engine_id, back.answers) == \
        (b"\x80\x00\x1f\x88\x01", 7, 123456, b"\x80\x00\x1f\x88\x01", False)
    with pytest.raises(BerError):
        parse_v3(b"\x30\x10\x02")


async def _probe(host: str, port: int) -> tuple[bool, bool]:
    return (await v2c_public_answers(host, port, 1.0), await v3_noauth_answers(host, port, USER.name, 1.0))


@pytest.mark.integration
@pytest.mark.skipif(os.geteuid() != 0, reason="binds snmpd agents on 127.0.0.x")
def test_probes_tell_compliant_from_open_agents() -> None:
    with SnmpdPool(USER, base_port=24161) as ok_pool, SnmpdPool(USER, base_port=24261) as v2c_pool, \
            SnmpdPool(USER, base_port=24361) as noauth_pool:
        ok = ok_pool.start([("JB-PROBE-OK", "x")])[0]
        v2c = v2c_pool.start([("JB-PROBE-V2C", "x")], extra_conf="rocommunity public 127.0.0.0/8\n")[0]
        noauth = noauth_pool.start([("JB-PROBE-NOAUTH", "x")], extra_conf=f"rouser {USER.name} noauth\n")[0]
        assert asyncio.run(_probe(ok.host, ok.port)) == (False, False)
        assert asyncio.run(_probe(v2c.host, v2c.port)) == (True, False)
        assert asyncio.run(_probe(noauth.host, noauth.port)) == (False, True)
