"""Issue 13 items 5 and 6 in the lab: a database's service address moves from its site to its replica's
through the real FRR routers and nftables firewalls of both sites (the `minimal` slice, every firewall
enforcing its zone ruleset), never announced by two sites at once, and a client in the exchange zone
reconnects to the same address.

The pair is Shanxi's provincial centre (140000-DC) -> the national DR centre (100000-DR), both in the slice.
The database servers stand in for PostgreSQL with a TCP listener on the service address, port 5432, that
answers with its hostname: what is tested here is where the address leads; the drill's databases are tested
in test_dr_lab.py. The session's deployed `minimal` slice (tests/conftest.py `minimal_lab`), left as found:
the address back at Shanxi, the listeners stopped and the addresses removed.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from dr.announce import frr_commands, plan_move
from lab import runtime
from lab.slice import LabPlan, node_name
from tests.conftest import MINIMAL_LAB
from tests.lab_e2e.conftest import wait_for

LAB = MINIMAL_LAB
PRIMARY_SITE = "140000-DC"
MINISTRY = "JB-100000-DC-WR01"
CLIENT = "JB-140000-DC-EX01"  # the exchange zone of the database's own site
PORT = 5432

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (namespaces, mounts)")]

LISTENER = """
import socket, sys, threading
def serve(fam, addr):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, PORT))
    s.listen(16)
    while True:
        c, _ = s.accept()
        c.sendall(socket.gethostname().encode() + b"\\n")
        c.close()
threading.Thread(target=serve, args=(socket.AF_INET6, sys.argv[2]), daemon=True).start()
serve(socket.AF_INET, sys.argv[1])
""".replace("PORT", str(PORT))

CLIENT_SCRIPT = """
import socket, sys
try:
    with socket.create_connection((sys.argv[1], PORT), timeout=1) as c:
        c.settimeout(1)
        print(c.recv(100).decode().strip())
except OSError as e:
    print("ERR", e)
""".replace("PORT", str(PORT))


def sh(host: str, *argv: str, timeout: float = 30, check: bool = True) -> Any:
    r = runtime.exec(LAB, node_name(host), list(argv), timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"{host}: {' '.join(argv)} -> {r.returncode}: {r.stderr or r.stdout}")
    return r


def answer(addr: str) -> str:
    """Who answers the client on the service address (a hostname, or ERR ...)."""
    return sh(CLIENT, "python3", "-c", CLIENT_SCRIPT, addr, check=False).stdout.strip()


def origins(prefix: str) -> set[str]:
    """The origin ASNs of the ministry's paths to `prefix` (empty: nobody announces it)."""
    afi = "ipv6" if ":" in prefix else "ipv4"
    data = json.loads(sh(MINISTRY, "vtysh", "-c", f"show bgp {afi} unicast {prefix} json").stdout or "{}")
    return {p["aspath"]["string"].split()[-1] for p in data.get("paths", []) if p.get("aspath", {}).get("string")}


def apply(changes, check: bool = True) -> None:
    for host, lines in frr_commands(changes).items():
        args = ["vtysh", "-c", "configure terminal"]
        for line in lines:
            args += ["-c", line]
        sh(host, *args, check=check)


@pytest.fixture
def lab(minimal_lab: LabPlan) -> LabPlan:
    return minimal_lab  # routing and every firewall's zone ruleset deployed


def test_client_in_the_exchange_zone_reconnects_to_the_same_address_after_a_switchover(lab: LabPlan) -> None:
    move = plan_move(lab.plan, PRIMARY_SITE, "100000-DR", platform="frr")
    sv = move.service
    assert sv.replica_site == "100000-DR" and move.withdraw and move.announce
    asn = {s: str(lab.plan.inv.asn(lab.plan.inv.site(s))) for s in (sv.primary_site, sv.replica_site)}
    pids: dict[str, str] = {}
    back = plan_move(_moved(lab.plan, sv.replica_site), PRIMARY_SITE, PRIMARY_SITE, platform="frr")
    done = False
    try:
        for db in (sv.db, sv.replica_db):  # the address on both servers: routing alone decides who answers
            sh(db, "ip", "addr", "add", sv.v4, "dev", "lo")
            sh(db, "ip", "-6", "addr", "add", sv.v6, "dev", "lo")
            pids[db] = sh(db, "sh", "-c", 'setsid python3 -c "$0" "$1" "$2" </dev/null >/dev/null 2>&1 & echo $!',
                          LISTENER, sv.v4.split("/")[0], sv.v6.split("/")[0]).stdout.strip()
        addrs = (sv.v4.split("/")[0], sv.v6.split("/")[0])
        # before: Shanxi announces it, alone, and the client reaches Shanxi's database through its firewall
        for pfx in (sv.v4, sv.v6):
            assert wait_for(lambda p=pfx: origins(p) == {asn[PRIMARY_SITE]}, 60, what=f"{pfx} from {PRIMARY_SITE}")
        for a in addrs:
            assert wait_for(lambda a=a: answer(a) == sv.db, 30, what=f"{sv.db} on {a}")

        # withdraw at the old site first: then nobody announces it, and the client gets no answer at all
        apply(move.withdraw)
        for pfx in (sv.v4, sv.v6):
            wait_for(lambda p=pfx: origins(p) == set(), 30, what=f"{pfx} withdrawn everywhere")
        for a in addrs:
            assert answer(a).startswith("ERR"), a  # neither the old database nor (yet) the new one

        # (the promotion happens here in a drill) then announce at the new site
        apply(move.announce)
        for pfx in (sv.v4, sv.v6):
            assert wait_for(lambda p=pfx: origins(p) == {asn[sv.replica_site]}, 60, what=f"{pfx} from the DR site")
        for a in addrs:  # the same address, now the DR centre's server, through both sites' firewalls
            assert wait_for(lambda a=a: answer(a) == sv.replica_db, 30, what=f"{sv.replica_db} on {a}")
        # never two: the old site's routers have no route to originate it from
        for wr in (d.hostname for d in lab.plan.devices(PRIMARY_SITE) if d.role == "WR"):
            local = json.loads(sh(wr, "vtysh", "-c", f"show ip route {sv.v4} json").stdout or "{}")
            assert all(r.get("protocol") != "static" for rs in local.values() for r in rs), (wr, local)

        # and back (a failback's last step), in the same order
        apply(back.withdraw)
        wait_for(lambda: origins(sv.v4) == set(), 30, what="withdrawn at the DR site")
        apply(back.announce)
        for a in addrs:
            assert wait_for(lambda a=a: answer(a) == sv.db, 60, what=f"{sv.db} on {a} again")
        done = True
    finally:
        if not done:  # the shared slice as it was for the tests after this one: the address at Shanxi alone
            apply(back.withdraw, check=False)
            apply(back.announce, check=False)
        for db, pid in pids.items():
            if pid.isdigit():
                sh(db, "kill", pid, check=False)
        for db in (sv.db, sv.replica_db):  # the shared lab as it was (other tests use it after this one)
            sh(db, "ip", "addr", "del", sv.v4, "dev", "lo", check=False)
            sh(db, "ip", "-6", "addr", "del", sv.v6, "dev", "lo", check=False)


def _moved(plan, active: str):
    from dr.announce import with_active

    return with_active(plan, PRIMARY_SITE, active)
