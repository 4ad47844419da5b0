"""A server-only lab for the Ansible roles.

The lab harness gives each server a bare host (sshd on its management address, Python, the deploy account
``jbadmin`` with the lab's LAB-ONLY key); ``playbooks/site.yml`` builds everything else over SSH. One extra
node stands in for the site's management zone (NTP and syslog servers), which the lab otherwise leaves to the
host. The Ansible inventory is the source-of-truth plugin's (``inventory/jinbao.yml`` with ``JINBAO_LAB``):
``up`` records the lab the way ``jinbao lab up`` does, so the plugin sees the running servers; the lab's
differences are variables only (docs/servers.md).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path

from core.errors import JinbaoError
from core.fsutil import atomic_write_text
from inventory.model import ZONE_HOST_ROLES
from inventory.naming import parse_hostname
from lab import names, runtime, state
from lab.fleet import record_lab
from lab.slice import build_lab
from lab.spec import LabSpec, NodeSpec

MGMT_NODE = "mgmt-nm01"
MGMT_HOSTNAME = "lab-mgmt-nm01"
ROOT = Path(__file__).resolve().parent.parent
PLUGIN_CONFIG = ROOT / "inventory" / "jinbao.yml"

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
    # bare hosts (sshd and Python): the baseline role configures snmpd, rsyslog, nftables… as on a real server
    nodes = [dataclasses.replace(n, services=("sshd",)) for n in lp.spec.nodes if n.name in keep]
    nodes.append(mgmt_standin(lp.spec))
    segments = tuple(
        type(s)(s.name, tuple(m for m in s.members if m.node in keep))
        for s in lp.spec.segments if any(m.node in keep for m in s.members)
    )
    routes = tuple(r for r in lp.spec.routes if r.node in keep)
    return LabSpec(name=lab_name, mgmt_net=mgmt_net, mgmt_host_ip=lp.spec.mgmt_host_ip, nodes=tuple(nodes),
                   segments=segments, routes=routes, snmp_user=lp.spec.snmp_user,
                   frr_defaults=lp.spec.frr_defaults).validate()


def mgmt_standin(spec: LabSpec) -> NodeSpec:
    """The management zone's stand-in node (NTP and syslog servers the built servers use), on the first free
    address of the lab's management network."""
    net = ipaddress.ip_network(spec.mgmt_net)
    used = {ipaddress.ip_interface(n.mgmt_ip).ip for n in spec.nodes}
    free = next(ip for ip in net.hosts() if ip not in used and str(ip) != spec.mgmt_host_ip)
    return NodeSpec(MGMT_NODE, MGMT_HOSTNAME, "NM", "server", f"{free}/{net.prefixlen}", ("sshd",))


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
    return [n for n in spec.nodes if n.kind == "server" and n.role in ZONE_HOST_ROLES]


def up(inventory_dir: Path, slice_name: str, lab_name: str, mgmt_net: str,
       sites: tuple[str, ...] | None = None) -> LabSpec:
    """Start a server lab (the caller holds the lab lock and took any previous one down), record it for
    the inventory plugin like `jinbao lab up` does, and start the management zone's stand-in services."""
    spec = server_lab(inventory_dir, slice_name, lab_name, mgmt_net, sites)
    runtime.up(spec)
    record_lab(lab_name, slice_name, inventory_dir, mgmt_net)
    start_mgmt_services(lab_name)
    return spec


def write_inventory(spec: LabSpec, dest: Path) -> Path:
    """An inventory source for a running lab: the project's plugin configuration with the lab selected,
    beside a link to the project's group_vars (Ansible reads them relative to the inventory source). No
    hosts or variables of its own: they come from the plugin, as for the real network. Atomic."""
    running_spec(spec.name)  # one-line error when the lab is not up
    dest.mkdir(parents=True, exist_ok=True)
    link = dest / "group_vars"
    if not link.is_symlink():
        link.symlink_to(PLUGIN_CONFIG.parent / "group_vars")
    path = dest / "jinbao.yml"
    atomic_write_text(path, f"# lab {spec.name}: the source-of-truth plugin, this lab's slice\n"
                            f"plugin: jinbao\ninventory_dir: {PLUGIN_CONFIG.parent}\nlab: {spec.name}\n")
    return path
