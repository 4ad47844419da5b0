"""The inventory plugin is the one source of what the server playbooks need, for every host class.

Every variable the roles of playbooks/site.yml (tasks, handlers, templates, defaults) and the group_vars they
read refer to without a default must resolve for each kind of host: from the role defaults, the group_vars
of the host's groups, the vault, registered results and Ansible's own variables - or from the plugin's host
variables (`ansible-inventory --list`). Checked on the real network and on a lab view (the same plugin).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import jinja2.nodes as jn
import pytest
import yaml

from tests.conftest import INVENTORY, ROOT
from tests.inventory_plugins.test_ansible_plugin import ansible_inventory

SITE_ROLES = {"servers": ("baseline",), "databases": ("baseline", "postgresql")}
# task keywords whose values are bare Jinja expressions
CONDITIONALS = {"when", "changed_when", "failed_when", "until", "that"}
MAGIC = {"inventory_hostname", "inventory_hostname_short", "hostvars", "groups", "group_names", "omit", "item",
         "playbook_dir", "role_path", "ansible_managed", "lookup", "query", "q", "range", "dict", "lipsum",
         "cycler", "joiner", "namespace", "now", "undef", "loop", "true", "false", "True", "False", "None"}
VAULT = ROOT / "inventory" / "vault-password.LAB-ONLY"
ENV = jinja2.Environment()


def _required(expr: str) -> set[str]:
    """Names an expression reads without a default (`x | default(..)` and `x is defined` do not count)."""
    try:
        tree = ENV.parse(expr)
    except jinja2.TemplateSyntaxError:
        tree = ENV.parse("{{ " + expr + " }}")
    guarded: set[int] = set()
    for f in tree.find_all(jn.Filter):
        if f.name in ("default", "d") and isinstance(f.node, jn.Name):
            guarded.add(id(f.node))
    for t in tree.find_all(jn.Test):
        if t.name in ("defined", "undefined") and isinstance(t.node, jn.Name):
            guarded.add(id(t.node))
    assigned = {n.name for n in tree.find_all(jn.Name) if n.ctx == "store"}
    return {n.name for n in tree.find_all(jn.Name)
            if n.ctx == "load" and id(n) not in guarded and n.name not in assigned}


def _strings(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, key)


def _refs(value: Any) -> set[str]:
    out: set[str] = set()
    for key, text in _strings(value):
        if key in CONDITIONALS:
            out |= _required("{{ " + text + " }}")
        elif "{{" in text or "{%" in text:
            out |= _required(text)
    return out


def _bound(tasks: Any) -> set[str]:
    """Names the role's tasks define themselves: registered results, set_fact, task vars, loop variables."""
    out: set[str] = set()
    for key, value in _walk(tasks):
        if key == "register" and isinstance(value, str):
            out.add(value)
        elif key in ("ansible.builtin.set_fact", "set_fact", "vars") and isinstance(value, dict):
            out |= set(value)
        elif key == "loop_var" and isinstance(value, str):
            out.add(value)
    return out


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k), v
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


def role_needs(role: str) -> tuple[set[str], dict[str, Any], set[str]]:
    """(names the role reads, its defaults, names its tasks bind)."""
    base = ROOT / "roles" / role
    defaults = yaml.safe_load((base / "defaults" / "main.yml").read_text()) or {}
    needed, bound = _refs(defaults), set()
    for sub in ("tasks", "handlers"):
        for f in sorted((base / sub).glob("*.yml")):
            doc = yaml.safe_load(f.read_text())
            needed |= _refs(doc)
            bound |= _bound(doc)
    for f in sorted((base / "templates").rglob("*.j2")):
        needed |= _required(f.read_text())
    return needed, defaults, bound


def group_vars(groups: list[str]) -> dict[str, Any]:
    """The plain (unencrypted) group_vars of these groups, from inventory/group_vars/."""
    out: dict[str, Any] = {}
    gv = ROOT / "inventory" / "group_vars"
    for g in ["all", *groups]:
        for f in [gv / f"{g}.yml", *sorted((gv / g).glob("*.yml"))]:
            if f.is_file() and not f.read_text().startswith("$ANSIBLE_VAULT"):
                out |= yaml.safe_load(f.read_text()) or {}
    return out


def unresolved(host: str, hostvars: dict[str, Any], groups: list[str], roles: tuple[str, ...]) -> set[str]:
    """What the roles need on this host that nothing provides (followed through group_vars and defaults)."""
    needed: set[str] = set()
    defaults: dict[str, Any] = {}
    bound: set[str] = set()
    for role in roles:
        n, d, b = role_needs(role)
        needed |= n
        defaults |= d
        bound |= b
    gv = group_vars(groups)
    missing: set[str] = set()
    seen: set[str] = set()
    todo = list(needed | set(defaults))
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in MAGIC or name in bound or name.startswith(("ansible_", "vault_")):
            continue
        if name in hostvars:  # the plugin's host variables (ansible-inventory merges group_vars in too)
            source = gv.get(name, hostvars[name])
        elif name in gv:
            source = gv[name]
        elif name in defaults:
            source = defaults[name]
        else:
            missing.add(name)
            continue
        todo.extend(_refs(source) - seen)
    return missing


def host_classes(data: dict[str, Any]) -> dict[str, str]:
    """One host per (play group, role) present: the classes of host the playbooks build."""
    groups = {g: set(v.get("hosts", [])) for g, v in data.items() if isinstance(v, dict)}
    out: dict[str, str] = {}
    for host in sorted(groups.get("servers", set())):
        role = data["_meta"]["hostvars"][host]["jinbao_role"]
        out.setdefault(role, host)
    return out


def groups_of(data: dict[str, Any], host: str) -> list[str]:
    return sorted(g for g, v in data.items() if isinstance(v, dict) and host in v.get("hosts", []))


def check_every_class(data: dict[str, Any], expect_roles: set[str]) -> None:
    classes = host_classes(data)
    assert set(classes) == expect_roles, classes
    hv = data["_meta"]["hostvars"]
    problems = {}
    for role, host in classes.items():
        groups = groups_of(data, host)
        plays = [p for p in SITE_ROLES if p in groups]
        assert "servers" in plays
        roles = tuple(dict.fromkeys(r for p in plays for r in SITE_ROLES[p]))
        if role in ("DB", "EX", "DS"):
            assert "databases" in groups and "postgresql" in roles
        missing = unresolved(host, hv[host], groups, roles)
        if missing:
            problems[host] = sorted(missing)
    assert problems == {}


def test_the_parser_finds_what_a_role_needs() -> None:
    """The check can fail: a variable without a default is found, a defaulted or defined one is not."""
    assert _required("{{ a | default(1) }} {{ b }} {% for x in c %}{{ x }}{% endfor %} {{ d is defined }}") \
        == {"b", "c"}
    needed, defaults, bound = role_needs("baseline")
    assert {"baseline_chrony_servers", "baseline_ssh_ciphers"} <= needed and "baseline_nftables_loaded" in bound
    assert "baseline_chrony_servers" in defaults
    assert unresolved("h", {}, [], ("baseline",)) >= {"jinbao_ntp_servers", "jinbao_mgmt_nets"}


def test_real_network_provides_every_role_variable(tmp_path: Path) -> None:
    cfg = tmp_path / "jinbao.yml"
    cfg.write_text(f"plugin: jinbao\ninventory_dir: {INVENTORY}\nscope: '140000'\n")
    (tmp_path / "group_vars").symlink_to(INVENTORY / "group_vars")
    r = ansible_inventory("-i", str(cfg), "--list", "--vault-password-file", str(VAULT))
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    check_every_class(data, {"DB", "EX", "DS", "NM"})
    # groups the playbooks and group_vars use
    assert {"JB-140100-DC-DB01", "JB-140100-DC-EX01", "JB-140100-DC-DS01"} <= set(data["databases"]["hosts"])
    assert "JB-140100-DC-NM01" not in data["databases"]["hosts"]
    assert "JB-140100-DC-FW01" in data["routers"]["hosts"]  # Linux (nftables) firewalls
    assert "JB-140100-DC-WR01" not in data["routers"]["hosts"]  # Huawei VRP: not a Linux router
    db = data["_meta"]["hostvars"]["JB-140100-DC-EX01"]
    # the exchange database takes the production zone's clients too (zone policy: production-to-exchange)
    assert db["jinbao_db_client_nets"][:3] == ["10.26.1.0/24", "fd4a:1000:100:1::/64", "10.26.0.0/24"]
    assert db["jinbao_listen_addresses"] == ["100.65.160.5", "10.26.1.2"]
    assert db["jinbao_ntp_servers"] and db["jinbao_log_servers"] and db["jinbao_mgmt_nets"]


@pytest.fixture
def server_lab_view() -> Iterator[str]:
    """A server lab's recorded state as `up` leaves it (no namespaces needed to read it back)."""
    from lab import names, state
    from lab.fleet import record_lab
    from lab.servers import server_lab

    lab = "jbsvunit"
    spec = server_lab(INVENTORY, "minimal", lab, "100.126.234.0/24", ("100000-DC",))
    try:
        state.save(lab, state.new(lab, spec.digest(), spec.to_dict(redact=True)))
        record_lab(lab, "minimal", INVENTORY, "100.126.234.0/24")
        yield lab
    finally:
        shutil.rmtree(names.lab_dir(lab), ignore_errors=True)


@pytest.mark.skipif(not os.access(Path("/var/lib"), os.W_OK), reason="the lab state lives under /var/lib/jinbao")
def test_lab_view_is_the_same_plugin_with_lab_values(server_lab_view: str, tmp_path: Path) -> None:
    from lab.servers import MGMT_NODE, running_spec, write_inventory

    spec = running_spec(server_lab_view)
    cfg = write_inventory(spec, tmp_path)
    assert re.search(r"^plugin: jinbao$", cfg.read_text(), re.M) and "hosts" not in cfg.read_text()
    r = ansible_inventory("-i", str(cfg), "--list", "--vault-password-file", str(VAULT))
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    check_every_class(data, {"DB", "EX", "DS"})
    hv = data["_meta"]["hostvars"]
    servers = {"JB-100000-DC-DB01", "JB-100000-DC-EX01", "JB-100000-DC-DS01"}
    assert set(hv) == servers == set(data["databases"]["hosts"]) == set(data["lab"]["hosts"])
    assert set(data["site_100000_dc"]["hosts"]) == servers
    db = hv["JB-100000-DC-DB01"]
    standin = next(n.mgmt_ip for n in spec.nodes if n.name == MGMT_NODE).split("/")[0]
    node = next(n for n in spec.nodes if n.hostname == "JB-100000-DC-DB01")
    assert db["ansible_user"] == "jbadmin" and db["ansible_host"] == node.mgmt_ip.split("/")[0]
    assert db["jinbao_ntp_servers"] == [standin] == db["jinbao_log_servers"]
    assert db["jinbao_mgmt_nets"] == ["100.126.234.0/24"]
    assert db["jinbao_zone"] == "production" and db["jinbao_site"] == "100000-DC"
    lan = [a.split("/")[0] for s in spec.segments for m in s.members if m.node == node.name for a in m.addrs
           if ":" not in a]
    assert db["jinbao_listen_addresses"] == [db["ansible_host"], *lan]
    assert db["jinbao_db_client_nets"][-1] == f"{spec.mgmt_host_ip}/32"
    assert db["postgresql_ca_dir"] == "{{ jinbao_lab_dir }}/pki"
    assert db["jinbao_lab_dir"] == f"/var/lib/jinbao/lab/{server_lab_view}"
    assert Path(db["ansible_ssh_private_key_file"]).name == "id_ed25519"


def test_every_server_of_the_nation_has_ntp_and_log_servers() -> None:
    """Every server (and Linux router) the baseline builds gets >= 1 NTP server and >= 1 log host from the
    source of truth, never itself; the ministry's NM server, with no management server above it, gets the
    national DR centre's (the rule that picks its DR centre: inventory/drpolicy.py)."""
    from plugins.hostvars import load_view

    view = load_view(INVENTORY)
    baseline = {h: x.vars for h, x in view.hosts.items() if "jinbao_ntp_servers" in x.vars}
    servers = {h for h, x in view.hosts.items() if "servers" in x.groups}
    assert servers <= set(baseline) and len(servers) > 1000
    bad = {h: (v["jinbao_ntp_servers"], v["jinbao_log_servers"]) for h, v in baseline.items()
           if not v["jinbao_ntp_servers"] or not v["jinbao_log_servers"]
           or v["jinbao_mgmt_ipv4"] in v["jinbao_ntp_servers"] + v["jinbao_log_servers"]}
    assert bad == {}
    top, dr = view.hosts["JB-100000-DC-NM01"].vars, view.hosts["JB-100000-DR-NM01"].vars
    assert top["jinbao_ntp_servers"] == top["jinbao_log_servers"] == [dr["jinbao_mgmt_ipv4"]]


def test_the_baseline_refuses_an_empty_ntp_or_log_server_list(tmp_path: Path) -> None:
    """The role's own guard, run by Ansible: an empty NTP or log server list stops the build on that host."""
    import subprocess
    import sys

    play = tmp_path / "play.yml"
    play.write_text(f"""- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - ansible.builtin.include_role: {{name: {ROOT / 'roles' / 'baseline'}, tasks_from: assert.yml}}
""")
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
           "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    results = {}
    for ntp, logs in (([], ["192.0.2.1"]), (["192.0.2.1"], []), (["192.0.2.1"], ["192.0.2.1"])):
        extra = json.dumps({"baseline_chrony_servers": ntp, "baseline_rsyslog_targets": logs,
                            "baseline_snmpd_users": []})
        r = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(play),
                            "-e", extra], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
        results[(len(ntp), len(logs))] = (r.returncode, r.stdout)
    assert results[(0, 1)][0] != 0 and "set baseline_chrony_servers" in results[(0, 1)][1]
    assert results[(1, 0)][0] != 0 and "set baseline_chrony_servers" in results[(1, 0)][1]
    assert results[(1, 1)][0] == 0, results[(1, 1)][1][-2000:]
