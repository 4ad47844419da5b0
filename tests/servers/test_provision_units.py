"""Pure parts of the server build: the play recap, the scope limit, the lab's spec."""

from __future__ import annotations

from pathlib import Path

from jinbao.provision import BuildResult, format_recap, limit_for_sites, recap_from_stats
from lab.servers import MGMT_NODE, server_lab, servers_of
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


def test_lab_server_spec_has_the_management_standin() -> None:
    spec = server_lab(INVENTORY, "minimal", "jbunit", "100.126.234.0/24", ("100000-DC",))
    assert MGMT_NODE in {n.name for n in spec.nodes}
    assert {n.hostname for n in servers_of(spec)} == {"JB-100000-DC-DB01", "JB-100000-DC-EX01", "JB-100000-DC-DS01"}


def test_lab_nodes_get_lsb_scripts_and_a_deploy_account(tmp_path: Path) -> None:
    """The harness's bare host: LSB scripts for the systemd-only services, the deploy account with sudo."""
    import subprocess

    from lab.nodefiles import ADMIN_USER, render

    spec = server_lab(INVENTORY, "minimal", "jbunit", "100.126.234.0/24", ("100000-DC",))
    files = render(spec, spec.nodes[0], "ssh-ed25519 AAAA lab-only", None)
    for name in ("rsyslog", "nftables"):
        text, mode = files[f"/etc/init.d/{name}"]
        assert mode == 0o755 and "### BEGIN INIT INFO" in text and f"Provides:          {name}" in text
        script = tmp_path / name
        script.write_text(text)
        assert subprocess.run(["sh", "-n", str(script)]).returncode == 0
    assert files[f"/etc/sudoers.d/jinbao-lab-{ADMIN_USER}"][0].rstrip().endswith("NOPASSWD: ALL")


def test_bad_input_is_one_line_and_exit_2() -> None:
    from tests.conftest import jinbao

    for args, words in ((("--lab", "nosuchlab", "--playbook", "bogus"), "--playbook 'bogus'"),
                        (("--lab", "nosuchlab"), "lab 'nosuchlab' is not up")):
        r = jinbao("servers", "build", *args)
        assert r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert r.stdout == ""
