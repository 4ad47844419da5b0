"""pg_replica's service-address part (roles/pg_replica/tasks/service.yml), its variables and templates rendered
by Ansible itself on localhost for both ends of a pair (nothing on the host is changed): each server redirects
<service address>:5432 to the cluster it runs for the pair (production 5432, the DR centre its standby's own
port), holds both addresses on its own interface, and its certificate names them (inventory/group_vars)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dr.ansible_vars import dr_vars, standby_port
from dr.plan import Pair

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0",
       "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
PAIR = Pair("JB-140000-DC-DB01", "JB-100000-DR-DB01", "sync", "140000-DC", "100000-DR", "jb_140000_dc_db01",
            "100.112.3.86/32", "fd4a:7000::10:b00/128")
OTHER = Pair("JB-140100-DC-DB01", "JB-140000-DR-DB01", "async", "140100-DC", "140000-DR", "jb_140100_dc_db01",
             "100.112.3.90/32", "fd4a:7000::10:c00/128")
HOSTS = (PAIR.primary, PAIR.replica, OTHER.primary)
MGMT = ["100.64.0.0/10"]
SHANXI_EX = ["10.14.2.0/24", "fd4a:14::2:0/64"]  # Shanxi's exchange zone: the pair's clients by its address
# the inventory plugin's variables (plugins/hostvars.py) the roles read, as it gives them to these servers
INVENTORY_VARS: dict[str, dict[str, object]] = {
    PAIR.primary: {"jinbao_mgmt_nets": MGMT, "jinbao_db_client_nets": ["10.14.1.0/24", *SHANXI_EX],
                   "jinbao_db_pair_client_nets": {}},
    PAIR.replica: {"jinbao_mgmt_nets": MGMT, "jinbao_db_client_nets": ["10.10.9.0/24"],
                   "jinbao_db_pair_client_nets": {PAIR.primary_site: SHANXI_EX,
                                                  "110000-DC": ["10.11.2.0/24"]}},  # a pair not in the plan
    OTHER.primary: {"jinbao_mgmt_nets": MGMT, "jinbao_db_client_nets": ["10.141.1.0/24"],
                    "jinbao_db_pair_client_nets": {}},
}

PLAYBOOK = """---
- name: Render pg_replica's service-address files
  hosts: dbs
  gather_facts: false
  vars_files:
    - {root}/roles/baseline/defaults/main.yml
    - {root}/roles/postgresql/defaults/main.yml
    - {root}/roles/pg_replica/defaults/main.yml
    - {root}/roles/pg_replica/vars/main.yml
    - {root}/inventory/group_vars/all/main.yml
    - {root}/inventory/group_vars/zone_production.yml
    - {root}/inventory/group_vars/databases.yml
  vars:
    ansible_managed: rendered by a test
  tasks:
    - name: The redirect
      ansible.builtin.template:
        src: {root}/roles/pg_replica/templates/service.nft.j2
        dest: "{out}/{{{{ inventory_hostname }}}}.nft"
        mode: "0644"
      when: pg_replica_service_entries | length > 0
    - name: The boot stanza
      ansible.builtin.template:
        src: {root}/roles/pg_replica/templates/service-interface.j2
        dest: "{out}/{{{{ inventory_hostname }}}}.if"
        mode: "0644"
      when: pg_replica_service_entries | length > 0
    - name: The host firewall (the baseline's, with the databases' group_vars)
      ansible.builtin.template:
        src: {root}/roles/baseline/templates/nftables.conf.j2
        dest: "{out}/{{{{ inventory_hostname }}}}.host.nft"
        mode: "0644"
    - name: The production cluster's client rules (the postgresql role's)
      ansible.builtin.template:
        src: {root}/roles/postgresql/templates/pg_hba.conf.j2
        dest: "{out}/{{{{ inventory_hostname }}}}.hba"
        mode: "0644"
    - name: As the role reads them
      ansible.builtin.set_fact:
        pg_replica_main_hba: {{content: "{{{{ lookup('file', '{out}/' ~ inventory_hostname ~ '.hba') | b64encode }}}}"}}
    - name: Each standby cluster's client rules
      ansible.builtin.template:
        src: {root}/roles/pg_replica/templates/standby-pg_hba.conf.j2
        dest: "{out}/{{{{ inventory_hostname }}}}.{{{{ pair.slot }}}}.hba"
        mode: "0644"
      loop: "{{{{ pg_replica_pairs | selectattr('replica', 'equalto', inventory_hostname) | list }}}}"
      loop_control:
        loop_var: pair
    - name: The variables
      ansible.builtin.copy:
        content: "{{{{ {{'entries': pg_replica_service_entries, 'addresses': pg_replica_service_addresses,
                      'sans': postgresql_cert_sans}} | to_json }}}}"
        dest: "{out}/{{{{ inventory_hostname }}}}.json"
        mode: "0644"
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("svc")
    out = work / "out"
    out.mkdir()
    variables = dr_vars([PAIR, OTHER], {h: f"10.0.0.{i}" for i, h in enumerate(
        (PAIR.primary, PAIR.replica, OTHER.primary, OTHER.replica), start=1)})
    (work / "vars.json").write_text(json.dumps(variables))
    inv = {"dbs": {"hosts": {h: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                                 **INVENTORY_VARS[h]} for h in HOSTS}}}
    (work / "hosts.yml").write_text(yaml.safe_dump(inv))
    (work / "play.yml").write_text(PLAYBOOK.format(root=ROOT, out=out))
    r = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(work / "hosts.yml"), str(work / "play.yml"),
                        "-e", f"@{work / 'vars.json'}"], capture_output=True, text=True, env=ENV, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    return out


def test_each_end_redirects_to_the_cluster_it_runs_for_the_pair(rendered: Path) -> None:
    primary = json.loads((rendered / f"{PAIR.primary}.json").read_text())
    replica = json.loads((rendered / f"{PAIR.replica}.json").read_text())
    assert [(e["slot"], e["port"]) for e in primary["entries"]] == [(PAIR.slot, 5432)]
    assert [(e["slot"], e["port"]) for e in replica["entries"]] == [(PAIR.slot, standby_port(PAIR.slot))]
    nft = (rendered / f"{PAIR.replica}.nft").read_text()
    assert f"ip daddr 100.112.3.86 tcp dport 5432 redirect to :{standby_port(PAIR.slot)}" in nft
    assert "100.112.3.90" not in nft  # another pair's address stays with its own servers
    assert "ip daddr 100.112.3.86 tcp dport 5432 redirect to :5432" in (rendered / f"{PAIR.primary}.nft").read_text()


def test_both_addresses_on_the_interface_and_in_the_certificate(rendered: Path) -> None:
    for host in (PAIR.primary, PAIR.replica):
        v = json.loads((rendered / f"{host}.json").read_text())
        assert v["addresses"] == ["100.112.3.86/32", "fd4a:7000::10:b00/128"]
        assert v["sans"] == ["IP:100.112.3.86", "IP:fd4a:7000::10:b00"]
        stanza = (rendered / f"{host}.if").read_text()
        assert "type dummy" in stanza and "addr add 100.112.3.86/32 dev jbsvc0" in stanza
        assert "-6 addr add fd4a:7000::10:b00/128 dev jbsvc0 nodad" in stanza
    other = json.loads((rendered / f"{OTHER.primary}.json").read_text())
    assert other["addresses"] == ["100.112.3.90/32", "fd4a:7000::10:c00/128"]


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="nft -c needs root and nftables")
def test_the_redirect_file_is_one_nft_accepts_and_replaces_its_table(rendered: Path) -> None:
    path = rendered / f"{PAIR.replica}.nft"
    r = subprocess.run(["nft", "-c", "-f", str(path)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert path.read_text().count("delete table ip jinbao_service") == 1


def test_every_setting_is_declared_in_the_argument_specs() -> None:
    defaults = yaml.safe_load((ROOT / "roles/pg_replica/defaults/main.yml").read_text())
    spec = yaml.safe_load((ROOT / "roles/pg_replica/meta/argument_specs.yml").read_text())
    options = spec["argument_specs"]["main"]["options"]
    assert {k for k in defaults if k.startswith("pg_replica_service_")} <= set(options)
    assert all(k.startswith("pg_replica_") for k in defaults)


def test_the_host_firewall_loads_only_jinbaos_own_nftables_files(rendered: Path) -> None:
    """A stray file in /etc/nftables.d is not loaded with the host firewall; pg_replica's file is named so it is."""
    import fnmatch

    nft = (rendered / f"{PAIR.replica}.host.nft").read_text()
    includes = [ln.split('"')[1] for ln in nft.splitlines() if ln.startswith("include ")]
    assert includes == ["/etc/nftables.d/jinbao-*.nft"]
    defaults = yaml.safe_load((ROOT / "roles/pg_replica/defaults/main.yml").read_text())
    assert fnmatch.fnmatch(defaults["pg_replica_service_nft_file"], includes[0])
    assert not fnmatch.fnmatch("/etc/nftables.d/local-test.nft", includes[0])


def _hba(path: Path) -> list[list[str]]:
    return [ln.split() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def test_a_pairs_clients_reach_that_pairs_standby_alone(rendered: Path) -> None:
    """The DR server's shared client rules (its production cluster's pg_hba, the zone's firewall rule) leave the
    pairs' clients out; the pair's standby cluster admits its own clients before the final rejects, and the
    firewall lets them reach its port by the pair's service address only."""
    port = standby_port(PAIR.slot)
    shared = _hba(rendered / f"{PAIR.replica}.hba")
    assert not [f for f in shared if set(f) & {*SHANXI_EX, "10.11.2.0/24"}]
    standby = _hba(rendered / f"{PAIR.replica}.{PAIR.slot}.hba")
    first_reject = next(i for i, f in enumerate(standby) if f[-1] == "reject")
    mine = [i for i, f in enumerate(standby) if f[3] in SHANXI_EX]
    assert [standby[i][:3] + standby[i][4:] for i in mine] == [["hostssl", "jb_business", "all", "scram-sha-256"]] * 2
    assert max(mine) < first_reject
    assert standby[:first_reject - 2] + standby[first_reject:] == shared  # the production rules, unchanged
    assert "10.11.2.0/24" not in {f[3] for f in standby if len(f) > 3}  # another site's clients: not here
    host = (rendered / f"{PAIR.replica}.host.nft").read_text()
    zone = next(ln for ln in host.splitlines() if "the zone's clients" in ln and "ip saddr" in ln)
    assert not set(SHANXI_EX) & set(zone.replace(",", " ").split())
    assert (f"ip saddr {{ 10.14.2.0/24 }} ct original ip daddr {{ 100.112.3.86 }} tcp dport {{ {port} }} accept "
            f'comment "postgresql from the clients of {PAIR.slot} by its service address"') in host
    assert (f"ip6 saddr {{ fd4a:14::2:0/64 }} ct original ip6 daddr {{ fd4a:7000::10:b00 }} tcp dport {{ {port} }}"
            in host)
    assert "10.11.2.0/24" not in host  # a site with no pair here opens nothing
    # the primary's server has no pair clients of its own: its site's clients are its zone's
    assert "ct original" not in (rendered / f"{PAIR.primary}.host.nft").read_text()


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="nft -c needs root and nftables")
def test_the_host_firewall_with_the_pair_rules_is_one_nft_accepts(rendered: Path) -> None:
    r = subprocess.run(["nft", "-c", "-f", str(rendered / f"{PAIR.replica}.host.nft")], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
