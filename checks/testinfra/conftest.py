"""testinfra suites for the server roles. Run against an Ansible inventory (real or the lab's):

    pytest checks/testinfra --hosts='ansible://servers' --ansible-inventory=INVENTORY --sudo

Each test reads the host's inventory variables (host.ansible.get_variables()), so the same suite checks a
real server and a lab one.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="module")
def hostvars(host: Any) -> dict[str, Any]:
    return host.ansible.get_variables()


def in_group(hostvars: dict[str, Any], group: str) -> bool:
    return group in hostvars.get("group_names", [])
