"""Ansible inventory plugin: every server and network device of jinbao's source of truth.

No hand-kept hosts file: hosts, groups and variables come from the inventory directory (jinbao.yaml,
the region table, the IP registration record) through plugins/hostvars.py, the same view the Nornir
plugin and `jinbao vm` use. Configured by inventory/jinbao.yml (`plugin: jinbao`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable

DOCUMENTATION = r"""
    name: jinbao
    short_description: jinbao source of truth (sites, servers, routers, firewalls) as an Ansible inventory
    description:
      - Every server and network device of the jinbao inventory directory, grouped by tier, province, city,
        site, role, zone, kind and platform, with host variables from the model and the IP registration
        record (management address as ansible_host).
      - With O(lab), only the hosts of a running jinbao lab, with the lab's management addresses, SSH user
        and LAB-ONLY key.
      - Supports the constructed options (compose, groups, keyed_groups).
    options:
      plugin:
        description: token that makes this file a source for this plugin.
        required: true
        choices: ['jinbao']
      inventory_dir:
        description: the jinbao inventory directory; relative paths are relative to this config file.
        type: str
        default: '.'
        env:
          - name: JINBAO_INVENTORY_DIR
      lab:
        description: name of a running jinbao lab; when set, only the lab's hosts, reached the lab's way.
        type: str
        default: ''
        env:
          - name: JINBAO_LAB
      scope:
        description: a site id, region code or province code (as `jinbao --scope`); empty for everything.
        type: str
        default: ''
        env:
          - name: JINBAO_SCOPE
    extends_documentation_fragment:
      - constructed
"""

EXAMPLES = r"""
# inventory/jinbao.yml
plugin: jinbao
keyed_groups:
  - key: jinbao_dr_site
    prefix: dr
compose:
  backup_target: jinbao_dr_partner
groups:
  primary_dbs: jinbao_role == 'DB' and jinbao_dr_site is not none
"""

REPO = Path(__file__).resolve().parents[2]

try:  # ansible-core 2.19+: strings are untrusted unless tagged; this data is the project's reviewed repository
    from ansible.template import trust_as_template as _trusted
except ImportError:  # older ansible-core: plain strings are trusted already
    def _trusted(value):  # type: ignore[no-untyped-def]
        return value


def _plain(value):  # type: ignore[no-untyped-def]
    """Trusted strings, so `ansible-inventory --list` (and AWX, which reads it) gets plain JSON values; also
    inside the lists the server roles' inputs are (jinbao_ntp_servers, jinbao_db_client_nets, ...)."""
    if isinstance(value, str):
        return _trusted(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = "jinbao"

    def verify_file(self, path: str) -> bool:
        # inventory/jinbao.yaml is the source of truth itself, not a config file for this plugin.
        return super().verify_file(path) and path.endswith((".yml", ".yaml")) and Path(path).name != "jinbao.yaml"

    def parse(self, inventory, loader, path, cache=True):  # type: ignore[no-untyped-def]
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        # The plugin runs inside ansible-inventory/ansible-playbook: make the project importable.
        if str(REPO) not in sys.path:
            sys.path.insert(0, str(REPO))
        from core.errors import JinbaoError
        from plugins.hostvars import load_view

        directory = Path(self.get_option("inventory_dir"))
        if not directory.is_absolute():
            directory = (Path(path).resolve().parent / directory).resolve()
        try:
            view = load_view(directory, self.get_option("lab") or None, self.get_option("scope") or None)
        except JinbaoError as e:
            raise AnsibleParserError(f"{path}: {e}") from None
        for group in sorted(view.groups):
            self.inventory.add_group(group)
        strict = self.get_option("strict")
        for name, host in view.hosts.items():
            self.inventory.add_host(name)
            hostvars = {key: _plain(value) for key, value in host.vars.items()}
            for key, value in hostvars.items():
                self.inventory.set_variable(name, key, value)
            for group in host.groups:
                self.inventory.add_child(group, name)
            self._set_composite_vars(self.get_option("compose"), hostvars, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), hostvars, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), hostvars, name, strict=strict)
