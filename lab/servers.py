"""A server-only lab for the Ansible roles, and the Ansible inventory of a running lab's servers.

The lab harness gives each server a bare host (sshd on its management address, Python, the deploy account
``jbadmin`` with the lab's LAB-ONLY key); ``playbooks/site.yml`` builds everything else over SSH. One extra
node stands in for the site's management zone (NTP and syslog servers), which the lab otherwise leaves to the
host. Until the source-of-truth inventory plugin exists, ``ansible_inventory()`` writes the inventory from
the lab's own state, with the host variables the plugin will provide (see docs/servers.md).
"""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
from typing import Any

from inventory.naming import parse_hostname
from jinbao.errors import JinbaoError
from lab import names, nodefiles, runtime, state
from lab.slice import ZONE_OF_ROLE, build_lab
from lab.spec import LabSpec, NodeSpec

MGMT_NODE = "mgmt-nm01"
MGMT_HOSTNAME = "lab-mgmt-nm01"
ROOT = Path(__file__).resolve().parent.parent
GROUP_VARS = ROOT / "inventory" / "group_vars"

NTP_SERVER_CONF = """# jinbao lab: stand-in for the management zone's NTP server (serves its clock, never sets it)
local stratum 8
allow {net}
bindaddress {ip}
driftfile /var/lib/chrony/lab-server.drift
cmdport 0
"""
LOG_SERVER_CONF = """# jinbao lab: stand-in for the management zone's log server (TCP 514, one file per sending host)
module(load="imtcp")
input(type="imtcp" port="514" address="{ip}")
template(name="perhost" type="string" string="/var/log/remote/%HOSTNAME%.log")
*.* action(type="omfile" dynaFile="perhost")
"""


def server_lab(inventory_dir: Path, slice_name: str, lab_name: str, mgmt_net: str,
               sites: tuple[str, ...] | None = None) -> LabSpec:
    """The servers (DB, EX, DS) of a lab slice, each alone on its zone LAN, plus the management stand-in."""
    lp = build_lab(inventory_dir, slice_name, lab_name, mgmt_net)
    keep = {n.name for n in lp.spec.nodes if n.kind == "server"
            and (sites is None or parse_hostname(n.hostname)[0] in sites)}
    if not keep:
        raise JinbaoError(f"lab slice {slice_name}: no servers at sites {', '.join(sites or ())}")
    net = ipaddress.ip_network(mgmt_net)
    nodes = [n for n in lp.spec.nodes if n.name in keep]
    used = {ipaddress.ip_interface(n.mgmt_ip).ip for n in lp.spec.nodes}
    free = next(ip for ip in net.hosts() if ip not in used and str(ip) != lp.spec.mgmt_host_ip)
    nodes.append(NodeSpec(MGMT_NODE, MGMT_HOSTNAME, "NM", "server", f"{free}/{net.prefixlen}", ("sshd",)))
    segments = tuple(
        type(s)(s.name, tuple(m for m in s.members if m.node in keep))
        for s in lp.spec.segments if any(m.node in keep for m in s.members)
    )
    routes = tuple(r for r in lp.spec.routes if r.node in keep)
    return LabSpec(name=lab_name, mgmt_net=mgmt_net, mgmt_host_ip=lp.spec.mgmt_host_ip, nodes=tuple(nodes),
                   segments=segments, routes=routes, snmp_user=lp.spec.snmp_user,
                   frr_defaults=lp.spec.frr_defaults).validate()


def start_mgmt_services(lab_name: str) -> str:
    """Start the NTP and log server stand-ins on the management node; return its address."""
    spec = running_spec(lab_name)
    node = spec.node(MGMT_NODE)
    ip = str(ipaddress.ip_interface(node.mgmt_ip).ip)

    def sh(*argv: str, stdin: str | None = None) -> None:
        r = runtime.exec(lab_name, MGMT_NODE, list(argv), input=stdin, timeout=30)
        if r.returncode != 0:
            raise JinbaoError(f"lab {lab_name}: {MGMT_NODE}: {' '.join(argv)}: {(r.stderr or r.stdout).strip()}")

    sh("tee", "/etc/jinbao-lab/ntp-server.conf", stdin=NTP_SERVER_CONF.format(net=spec.mgmt_net, ip=ip))
    sh("tee", "/etc/jinbao-lab/log-server.conf", stdin=LOG_SERVER_CONF.format(ip=ip))
    sh("mkdir", "-p", "/var/log/remote", "/run/chrony", "/var/lib/chrony")
    if runtime.exec(lab_name, MGMT_NODE, ["test", "-e", "/run/jinbao-lab-mgmt.started"]).returncode != 0:
        sh("/usr/sbin/chronyd", "-x", "-f", "/etc/jinbao-lab/ntp-server.conf")
        sh("/usr/sbin/rsyslogd", "-f", "/etc/jinbao-lab/log-server.conf", "-i", "/run/rsyslogd-lab.pid")
        sh("touch", "/run/jinbao-lab-mgmt.started")
    return ip


def running_spec(lab_name: str) -> LabSpec:
    st = state.load(lab_name)
    if st is None:
        raise JinbaoError(f"lab {lab_name!r} is not up (no state in {names.lab_dir(lab_name)})", entry="--lab")
    return LabSpec.from_dict(st["spec"])


def servers_of(spec: LabSpec) -> list[NodeSpec]:
    """The lab's zone servers (the hosts the playbooks build): DB, EX and DS nodes."""
    return [n for n in spec.nodes if n.kind == "server" and n.role in ZONE_OF_ROLE]


def ansible_inventory(spec: LabSpec) -> dict[str, Any]:
    """The lab's servers as an Ansible YAML inventory, with the host variables and groups the roles expect."""
    mgmt = next((n for n in spec.nodes if n.name == MGMT_NODE), None)
    mgmt_ip = str(ipaddress.ip_interface(mgmt.mgmt_ip).ip) if mgmt else spec.mgmt_host_ip
    lans: dict[str, list[str]] = {}
    for seg in spec.segments:
        for m in seg.members:
            lans.setdefault(m.node, []).extend(m.addrs)
    hosts: dict[str, dict[str, Any]] = {}
    groups: dict[str, set[str]] = {"lab": set(), "servers": set(), "databases": set()}
    for n in servers_of(spec):
        site, role, _ = parse_hostname(n.hostname)
        zone = ZONE_OF_ROLE[n.role][1]
        ip = str(ipaddress.ip_interface(n.mgmt_ip).ip)
        lan = [str(ipaddress.ip_interface(a).ip) for a in lans.get(n.name, []) if ":" not in a]
        lan_nets = [str(ipaddress.ip_interface(a).network) for a in lans.get(n.name, []) if ":" not in a]
        hosts[n.hostname] = {
            "ansible_host": ip,
            "ansible_user": nodefiles.ADMIN_USER,
            "ansible_ssh_private_key_file": runtime.ssh_key(spec.name),
            "ansible_ssh_common_args": f"-o UserKnownHostsFile={runtime.known_hosts(spec.name)} "
                                       "-o StrictHostKeyChecking=yes",
            "jb_site": site,
            "jb_role": role,
            "jb_zone": zone,
            "jb_lab_node": n.name,
            "jb_mgmt_nets": [spec.mgmt_net],
            "jb_ntp_servers": [mgmt_ip],
            "jb_log_servers": [mgmt_ip],
            "jb_listen_addresses": [ip, *lan],
            # The zone's own LAN, and the lab host (it stands in for the management zone's tools and tests).
            "jb_db_client_nets": [*lan_nets, f"{spec.mgmt_host_ip}/32"],
            "jb_snmp_user": spec.snmp_user.name if spec.snmp_user else "jinbao-nms",
        }
        for g in ("lab", "servers", "databases", f"zone_{zone}", f"role_{role.lower()}",
                  f"site_{site.lower().replace('-', '_')}"):
            groups.setdefault(g, set()).add(n.hostname)
    return {"all": {"children": {g: {"hosts": {h: hosts[h] if g == "lab" else {} for h in sorted(members)}}
                                 for g, members in sorted(groups.items())}}}


def write_inventory(spec: LabSpec, dest: Path) -> Path:
    """Write the lab inventory as ``dest/hosts.yml`` beside a link to the project's group_vars (which Ansible
    reads relative to the inventory file). Atomic: a half-written inventory is never read."""
    dest.mkdir(parents=True, exist_ok=True)
    link = dest / "group_vars"
    if not link.is_symlink():
        link.symlink_to(GROUP_VARS)
    path = dest / "hosts.yml"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(ansible_inventory(spec), indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path
