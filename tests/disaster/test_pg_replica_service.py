"""pg_replica's service-address part (roles/pg_replica/tasks/service.yml), its variables and templates rendered
by Ansible itself on localhost for both ends of a pair (nothing on the host is changed): each server redirects
<service address>:5432 to the cluster it runs for the pair (production 5432, the DR centre its standby's own
port), holds both addresses on its own interface, and its certificate names them (inventory/group_vars)."""

from __future__ import annotations

import dataclasses
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
                   "jinbao_db_pair_client_nets": {}, "jinbao_listen_addresses": ["100.65.0.1", "10.14.1.2"],
                   "jinbao_zone_ipv6": "fd4a:14::1:2/64"},
    PAIR.replica: {"jinbao_mgmt_nets": MGMT, "jinbao_db_client_nets": ["10.10.9.0/24"],
                   "jinbao_db_pair_client_nets": {PAIR.primary_site: SHANXI_EX,
                                                  "110000-DC": ["10.11.2.0/24"]},  # a pair not in the plan
                   "jinbao_listen_addresses": ["100.65.0.2", "10.10.9.2"], "jinbao_zone_ipv6": "fd4a:10::9:2/64"},
    OTHER.primary: {"jinbao_mgmt_nets": MGMT, "jinbao_db_client_nets": ["10.141.1.0/24"],
                    "jinbao_db_pair_client_nets": {}, "jinbao_listen_addresses": ["100.65.0.3", "10.141.1.2"],
                    "jinbao_zone_ipv6": "fd4a:141::1:2/64"},
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
                      'sans': postgresql_cert_sans, 'listen': postgresql_listen_addresses}} | to_json }}}}"
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
    # IPv6 too, in the same (inet) table: the v6 address the servers hold and the routers announce is answered
    assert f"ip6 daddr fd4a:7000::10:b00 tcp dport 5432 redirect to :{standby_port(PAIR.slot)}" in nft
    assert "table inet jinbao_service {" in nft and "table ip " not in nft


def test_both_addresses_on_the_interface_and_in_the_certificate(rendered: Path) -> None:
    for host in (PAIR.primary, PAIR.replica):
        v = json.loads((rendered / f"{host}.json").read_text())
        assert v["addresses"] == ["100.112.3.86/32", "fd4a:7000::10:b00/128"]
        assert v["sans"] == ["IP:100.112.3.86", "IP:fd4a:7000::10:b00"]
        stanza = (rendered / f"{host}.if").read_text()
        # `replace`: ifup does not fail on an address the role already put there; ifdown removes the link
        assert "type dummy" in stanza and "up ip addr replace 100.112.3.86/32 dev jbsvc0" in stanza
        assert "up ip -6 addr replace fd4a:7000::10:b00/128 dev jbsvc0 nodad" in stanza
        assert " add 100.112.3.86" not in stanza and "post-down ip link del dev jbsvc0" in stanza
        # the redirect answers on IPv6 too: PostgreSQL listens on the zone's IPv6 address it hands it to
        assert v["listen"] == ["localhost", *INVENTORY_VARS[host]["jinbao_listen_addresses"],  # type: ignore[misc]
                               str(INVENTORY_VARS[host]["jinbao_zone_ipv6"]).split("/")[0]]
    other = json.loads((rendered / f"{OTHER.primary}.json").read_text())
    assert other["addresses"] == ["100.112.3.90/32", "fd4a:7000::10:c00/128"]


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="nft -c needs root and nftables")
def test_the_redirect_file_is_one_nft_accepts_and_replaces_its_table(rendered: Path) -> None:
    path = rendered / f"{PAIR.replica}.nft"
    r = subprocess.run(["nft", "-c", "-f", str(path)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert path.read_text().count("delete table inet jinbao_service") == 1


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


LIFECYCLE = """---
- name: pg_replica's service-address tasks, as main.yml includes them
  hosts: dbs
  gather_facts: false
  vars_files:
    - {root}/roles/pg_replica/defaults/main.yml
    - {root}/roles/pg_replica/vars/main.yml
  vars:
    ansible_managed: rendered by a test
  tasks:
    - name: Present
      ansible.builtin.include_role: {{name: {root}/roles/pg_replica, tasks_from: service}}
      when: pg_replica_service_entries | length > 0
    - name: Absent
      ansible.builtin.include_role: {{name: {root}/roles/pg_replica, tasks_from: service_absent}}
      when: pg_replica_service_entries | length == 0
"""

# one private network namespace (its own links and nftables, nothing of the host's): each run of the tasks, then
# what the kernel holds after it
LIFECYCLE_SH = """
set -u
ip link set lo up
for run in with with moved moved none none; do
  echo "=== $run"
  {playbook} -i {work}/hosts.yml {work}/play.yml -e @{work}/$run.json > {work}/$run.log 2>&1
  grep -E '^{host} +:' {work}/$run.log || echo FAILED
  echo "--- link"; ip link show dev jbsvc0 >/dev/null 2>&1 && echo present || echo absent
  echo "--- addr"; ip -o addr show dev jbsvc0 scope global 2>/dev/null | awk '{{print $4}}'
  echo "--- nft"; nft list table inet jinbao_service 2>&1 | grep -E 'redirect|No such' || true
  echo "--- files"; ls {work}/etc/network/interfaces.d {work}/etc/nftables.d 2>/dev/null | grep jinbao || true
done
"""


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("unshare"),
                    reason="a private network namespace needs root, nftables and unshare")
def test_the_service_address_comes_moves_and_goes_idempotently(tmp_path: Path) -> None:
    """In a network namespace of its own: the tasks put the addresses and redirect there, change nothing when
    run again, drop an address no pair has any more, and when the server has no pair remove the file, the table
    and the link (the stale state a server left out of the plan kept before), again idempotently."""
    addr = {PAIR.primary: "10.0.0.1", PAIR.replica: "10.0.0.2"}
    moved = dataclasses.replace(PAIR, service_v4="100.112.3.87/32", service_v6="")
    for name, pairs in (("with", [PAIR]), ("moved", [moved]), ("none", [])):
        v = dr_vars(pairs, addr) if pairs else {"jb_dr_pairs": []}
        (tmp_path / f"{name}.json").write_text(json.dumps({  # extra vars: above the role's defaults
            "pg_replica_pairs": v["jb_dr_pairs"], "pg_replica_service_link_kind": "bridge",  # any kernel has it
            "pg_replica_service_ifupdown_file": f"{tmp_path}/etc/network/interfaces.d/jinbao-service",
            "pg_replica_service_nft_file": f"{tmp_path}/etc/nftables.d/jinbao-service.nft"}))
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump({"dbs": {"hosts": {PAIR.replica: {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    (tmp_path / "play.yml").write_text(LIFECYCLE.format(root=ROOT, work=tmp_path))
    script = LIFECYCLE_SH.format(playbook=BIN / "ansible-playbook", work=tmp_path, host=PAIR.replica)
    r = subprocess.run(["unshare", "--net", "sh", "-c", script], capture_output=True, text=True, env=ENV,
                       timeout=600)
    logs = "".join((tmp_path / f"{n}.log").read_text()[-1500:] for n in ("with", "moved", "none")
                   if (tmp_path / f"{n}.log").exists())
    assert r.returncode == 0 and "FAILED" not in r.stdout, r.stdout[-3000:] + r.stderr[-2000:] + logs
    runs = [chunk.splitlines() for chunk in r.stdout.split("=== ")[1:]]
    recap = [next(ln for ln in run if ln.startswith(PAIR.replica)) for run in runs]
    assert [("changed=0" in x, "failed=0" in x) for x in recap] == [
        (False, True), (True, True), (False, True), (True, True), (False, True), (True, True)], recap
    port = standby_port(PAIR.slot)

    def part(run: list[str], name: str) -> list[str]:
        import itertools

        rest = run[run.index(f"--- {name}") + 1:]
        return [ln.strip() for ln in itertools.takewhile(lambda ln: not ln.startswith("--- "), rest)]

    with_, moved_, none_ = runs[1], runs[3], runs[5]
    assert part(with_, "addr")[:2] == ["100.112.3.86/32", "fd4a:7000::10:b00/128"]
    assert any(f"ip6 daddr fd4a:7000::10:b00 tcp dport 5432 redirect to :{port}" in ln for ln in with_)
    assert "100.112.3.87/32" in part(moved_, "addr") and "100.112.3.86/32" not in "".join(moved_)
    assert "fd4a:7000::10:b00" not in "".join(moved_)  # the address no pair has any more: gone
    assert not any("redirect" in ln for ln in none_)  # the table
    assert part(with_, "link")[0] == part(moved_, "link")[0] == "present"
    assert part(none_, "link")[0] == "absent"
    assert not [ln for ln in part(none_, "files") if ln.startswith("jinbao")]  # the stanza and the nft file
