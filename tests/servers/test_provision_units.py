"""Pure parts of the server build: the play recap, the scope limit, the lab's generated inventory."""

from __future__ import annotations

from pathlib import Path

from jinbao.provision import BuildResult, format_recap, limit_for_sites, recap_from_stats
from lab.servers import MGMT_NODE, ansible_inventory, server_lab, servers_of
from tests.conftest import INVENTORY


def test_recap_from_runner_stats() -> None:
    stats = {"ok": {"a": 10, "b": 9}, "changed": {"a": 2}, "dark": {"b": 1}, "failures": {}, "skipped": {"a": 3},
             "processed": {"a": 1, "b": 1}, "rescued": {}, "ignored": {}}
    recap = recap_from_stats(stats)
    assert recap["a"] == {"ok": 10, "changed": 2, "unreachable": 0, "failed": 0, "skipped": 3, "rescued": 0,
                          "ignored": 0}
    assert recap["b"]["unreachable"] == 1
    result = BuildResult("site.yml", "failed", 4, 1.0, 20, True, recap)
    assert result.changed == 2 and not result.ok
    assert "b " in format_recap(result) and "unreachable=1" in format_recap(result)
    assert BuildResult("site.yml", "successful", 0, 1.0, 20, True, {"a": recap["a"]}).ok


def test_limit_names_site_groups() -> None:
    assert limit_for_sites({"140100-DC", "100000-DR"}) == "site_100000_dr:site_140100_dc"


def test_lab_inventory_has_what_the_roles_expect() -> None:
    spec = server_lab(INVENTORY, "minimal", "jbunit", "100.126.234.0/24", ("100000-DC",))
    assert MGMT_NODE in {n.name for n in spec.nodes}
    inv = ansible_inventory(spec)["all"]["children"]
    servers = {n.hostname for n in servers_of(spec)}
    assert set(inv["servers"]["hosts"]) == servers == set(inv["databases"]["hosts"])
    assert set(inv["zone_production"]["hosts"]) == {"JB-100000-DC-DB01"}
    assert set(inv["zone_exchange"]["hosts"]) == {"JB-100000-DC-EX01"}
    assert set(inv["zone_decision"]["hosts"]) == {"JB-100000-DC-DS01"}
    assert set(inv["site_100000_dc"]["hosts"]) == servers
    hv = inv["lab"]["hosts"]["JB-100000-DC-DB01"]
    mgmt_ip = next(n.mgmt_ip for n in spec.nodes if n.name == MGMT_NODE).split("/")[0]
    assert hv["ansible_user"] == "jbadmin" and hv["ansible_host"].startswith("100.126.234.")
    assert hv["jb_ntp_servers"] == [mgmt_ip] == hv["jb_log_servers"]
    assert hv["jb_mgmt_nets"] == ["100.126.234.0/24"]
    assert hv["jb_zone"] == "production" and hv["jb_site"] == "100000-DC"
    assert len(hv["jb_listen_addresses"]) == 2  # management and zone LAN
    assert Path(hv["ansible_ssh_private_key_file"]).name == "id_ed25519"
