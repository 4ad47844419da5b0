"""Nornir inventory plugin: the same hosts, groups and data as the Ansible plugin (plugins/hostvars.py).

    from nornir import InitNornir
    nr = InitNornir(inventory={"plugin": "JinbaoInventory",
                               "options": {"inventory_dir": "inventory", "scope": "140000"}})
    nr.filter(F(groups__contains="zone_production"))

Registered under Nornir's entry point ``nornir.plugins.inventory`` (pyproject.toml), like nornir_netbox.
Host data: every ``jinbao_*`` variable (site, tier, province, zone, platform, DR partner, zone addresses...);
groups: tier_*, province_*, city_*, site_*, role_*, zone_*, kind_*, platform_*, servers, network (+ lab).
Credentials: the lab's (``lab=NAME``) or JINBAO_SSH_USER / JINBAO_SSH_PASSWORD / JINBAO_SSH_KEY.

``targets`` (the deploy engine's DeployTargets): the hosts are exactly these, reached the way each target
says (address, platform, credentials, connection options); groups and data still come from the source of
truth for every target it knows.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nornir.core.inventory import (
    ConnectionOptions,
    Defaults,
    Group,
    Groups,
    Host,
    Hosts,
    Inventory,
    ParentGroups,
)

from plugins.hostvars import HostView, load_view, nornir_platform


class JinbaoInventory:
    def __init__(self, inventory_dir: str | Path | None = None, lab: str | None = None, scope: str | None = None,
                 username: str | None = None, password: str | None = None, key_file: str | None = None,
                 targets: Sequence[Any] | None = None, connect_timeout: float = 10.0) -> None:
        self.inventory_dir = inventory_dir
        self.lab = lab if lab is not None else (os.environ.get("JINBAO_LAB") or None)
        self.scope = scope
        self.username = username or os.environ.get("JINBAO_SSH_USER")
        self.password = password or os.environ.get("JINBAO_SSH_PASSWORD")
        self.key_file = key_file or os.environ.get("JINBAO_SSH_KEY")
        self.targets = targets
        self.connect_timeout = connect_timeout

    def load(self) -> Inventory:
        view = load_view(self.inventory_dir, self.lab, None if self.targets is not None else self.scope)
        groups = Groups({name: Group(name=name, data=dict(data)) for name, data in view.groups.items()})
        hosts = Hosts()
        if self.targets is None:
            for name, hv in view.hosts.items():
                hosts[name] = self._host(hv, groups)
        else:
            for t in self.targets:
                hosts[t.hostname] = self._target_host(t, view.hosts.get(t.hostname), groups)
        return Inventory(hosts=hosts, groups=groups, defaults=Defaults())

    def _host(self, hv: HostView, groups: Groups) -> Host:
        v = hv.vars
        key = v.get("ansible_ssh_private_key_file") or self.key_file
        extras: dict[str, Any] = {"use_keys": key is not None, "key_file": key} if key else {}
        return Host(name=hv.name, hostname=v.get("ansible_host"), port=22,
                    username=v.get("ansible_user") or self.username, password=self.password,
                    platform=nornir_platform(v["jinbao_platform"]),
                    groups=ParentGroups([groups[g] for g in hv.groups]), data=_data(v),
                    connection_options={"netmiko": ConnectionOptions(extras=extras)} if extras else {})

    def _target_host(self, t: Any, hv: HostView | None, groups: Groups) -> Host:
        from network.deploy.platforms import connection_options
        from network.deploy.platforms import nornir_platform as deploy_platform

        data = _data(hv.vars) if hv is not None else {}
        data["jinbao_platform"] = t.platform  # the platform this run speaks (a lab's FRR, say)
        return Host(name=t.hostname, hostname=t.host, port=t.port, username=t.username, password=t.password or "",
                    platform=deploy_platform(t.platform),
                    groups=ParentGroups([groups[g] for g in hv.groups]) if hv is not None else ParentGroups(),
                    data=data, connection_options=connection_options(t, self.connect_timeout))


def _data(v: dict[str, Any]) -> dict[str, Any]:
    return {k: val for k, val in v.items() if not k.startswith("ansible_")}


def register() -> None:
    """Register the plugin by name without the installed entry point (a checkout not pip-installed)."""
    from nornir.core.plugins.inventory import InventoryPluginRegister

    if "JinbaoInventory" not in InventoryPluginRegister.available:
        InventoryPluginRegister.register("JinbaoInventory", JinbaoInventory)
