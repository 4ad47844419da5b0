"""The zone ruleset enforced in the lab (issue 11, items 3, 4 and 7 in part): `jinbao deploy --rulesets`
pushes each firewall's ruleset like any device config (dry-run diff, commit-confirm), traffic then passes
only the planned flows, the running ruleset audits clean, and a rule added by hand on the device is found
both by a TCP probe and by `jinbao policy verify --config`, naming site, zones and port.

Lab `jbpo` (minimal slice: ministry, national DR, Shanxi, Taiyuan), management net 100.126.231.0/24."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import runtime
from lab.slice import LabPlan, build_lab, node_name
from tests.conftest import INVENTORY, jinbao
from tests.lab.conftest import lab_objects, leftovers, snapshot
from tests.lablock import lab_lock

pytestmark = [pytest.mark.integration, pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")]
LAB, MGMT_NET = "jbpo", "100.126.231.0/24"
DB, EX, FW = "JB-140100-DC-DB01", "JB-140100-DC-EX01", "JB-140100-DC-FW01"
PROV_EX = "JB-140000-DC-EX01"
LISTEN = ("import select, socket\nss = []\nfor p in (5432, 8080, 8443, 8444):\n"
          "    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
          "    s.bind(('0.0.0.0', p)); s.listen(16); ss.append(s)\n"
          "while True:\n    for s in select.select(ss, [], [])[0]:\n        s.accept()[0].close()\n")


def sh(host: str, *argv: str, timeout: float = 30, input: str | None = None):
    return runtime.exec(LAB, node_name(host), list(argv), input=input, timeout=timeout)


def addr(lab: LabPlan, host: str) -> str:
    from lab.slice import ZONE_OF_ROLE

    d = next(x for x in lab.plan.inv.devices if x.hostname == host)
    pool, zone = ZONE_OF_ROLE[d.role]
    return lab.plan.addr.lan_host(d.site, pool, zone, 4, host, host).split("/")[0]


def connects(src: str, dst_ip: str, port: int) -> bool:
    code = f"import socket,sys; s=socket.socket(); s.settimeout(1.5); sys.exit(s.connect_ex(({dst_ip!r}, {port})))"
    return sh(src, "python3", "-c", code).returncode == 0


def deploy(*args: str) -> dict:
    r = jinbao("deploy", "--lab", LAB, *args, "--json")
    assert r.stdout, r.stderr[-2000:]
    return json.loads(r.stdout) | {"rc": r.returncode, "stderr": r.stderr[-2000:]}


@pytest.fixture(scope="module")
def lab() -> Iterator[LabPlan]:
    with lab_lock():
        runtime.down(LAB)
        before = snapshot()
        lp = build_lab(INVENTORY, "minimal", LAB, MGMT_NET)
        r = jinbao("lab", "up", "--name", LAB, "--mgmt-net", MGMT_NET, "--slice", "minimal", "--json")
        assert r.returncode == 0, r.stderr
        try:
            res = deploy("--confirm", "60")
            assert res["rc"] == 0, res
            for host in (EX, PROV_EX):
                assert sh(host, "sh", "-c", "setsid python3 -c \"$0\" >/dev/null 2>&1 </dev/null &", LISTEN
                          ).returncode == 0
            yield lp
        finally:
            recorded = lab_objects(LAB)
            r = jinbao("lab", "down", "--name", LAB)
        assert r.returncode == 0, r.stderr
        assert leftovers(LAB, before, recorded) == {}


def test_rulesets_deploy_and_enforce_the_policy(lab: LabPlan, tmp_path: Path):
    ex, prov_ex = addr(lab, EX), addr(lab, PROV_EX)
    # before: the firewall forwards everything, so the probe itself can connect
    assert connects(DB, ex, 8080) and connects(DB, ex, 5432)

    dry = deploy("--rulesets", "--scope", "140100-DC", "--dry-run")
    [rs] = [d for d in dry["devices"] if d["hostname"] == f"{FW}:ruleset"]
    assert rs["status"] == "dry-run" and "+table ip filtering_policies" in rs["diff"]
    assert connects(DB, ex, 8080)  # a dry run changes nothing

    res = deploy("--rulesets", "--confirm", "30")
    assert res["rc"] == 0, res
    rulesets = {d["hostname"]: d["status"] for d in res["devices"] if d["hostname"].endswith(":ruleset")}
    assert len(rulesets) == 4 and set(rulesets.values()) == {"committed"}, rulesets

    # traffic: planned flows pass, everything else is dropped (same site and across tiers)
    assert connects(DB, ex, 5432)  # production -> exchange postgresql
    assert not connects(DB, ex, 8080)  # production -> exchange on an unplanned port
    assert not connects(DB, ex, 8443)  # the exchange API is for the public-service side only
    assert connects(EX, prov_ex, 8444)  # city exchange -> province exchange upload
    assert not connects(EX, prov_ex, 5432)
    assert not connects(DB, prov_ex, 8444)  # production never uploads

    # the running ruleset, read back from the device, audits clean
    running = tmp_path / "running.nft"
    running.write_text(sh(FW, "nft", "list", "ruleset").stdout)
    r = jinbao("policy", "verify", "--scope", "140100-DC", "--platform", "linux_nftables", "--config", str(running))
    assert r.returncode == 0, r.stdout + r.stderr

    # a rule added by hand on the device: the probe and the audit both report it
    chain = "production-to-exchange-production-exchange"
    hand = f"ip saddr {addr(lab, DB)} ip daddr {ex} tcp dport 8080 accept"
    assert sh(FW, "sh", "-c", f"nft add rule ip filtering_policies {chain} {hand}").returncode == 0
    assert connects(DB, ex, 8080)
    running.write_text(sh(FW, "nft", "list", "ruleset").stdout)
    r = jinbao("policy", "verify", "--scope", "140100-DC", "--platform", "nftables", "--config", str(running),
               "--json")
    assert r.returncode == 1
    [f] = json.loads(r.stdout)["findings"]
    assert f["kind"] == "unplanned" and f["site"] == "140100-DC"
    assert (f["example"]["src_zone"], f["example"]["dst_zone"], f["example"]["port"]) == (
        "140100-DC production", "140100-DC exchange", 8080)

    # deploying again repairs the drift
    res = deploy("--rulesets", "--scope", "140100-DC", "--confirm", "30")
    assert res["rc"] == 0, res
    assert not connects(DB, ex, 8080) and connects(DB, ex, 5432)
