"""testinfra suites for the server roles. Run against an Ansible inventory (real or the lab's):

    pytest checks/testinfra --hosts='ansible://servers' --ansible-inventory=INVENTORY --sudo

Each test reads the host's inventory variables (host.ansible.get_variables()), so the same suite checks a
real server and a lab one.

Which suite applies to a host is decided by its role in the source of truth (`jinbao_role`, from the
inventory plugin), never by group membership: a host whose variables lack what the source of truth gives, or
a database server missing the variables its suite needs, is an ERROR of every test, never a skip, so a
database that is not set up as one cannot pass unnoticed.
"""

from __future__ import annotations

from typing import Any

import pytest

from plugins.hostvars import DATABASE_ROLES


@pytest.fixture(scope="module")
def hostvars(host: Any) -> dict[str, Any]:
    return host.ansible.get_variables()


def role_of(hostvars: dict[str, Any]) -> str:
    """The host's role from the source of truth; fails (an error of the test using it) when absent."""
    role = hostvars.get("jinbao_role")
    if not role:
        pytest.fail(f"{hostvars.get('inventory_hostname', '?')}: no jinbao_role in its host variables: the"
                    " inventory is not the source of truth's (inventory/jinbao.yml), so what applies is unknown",
                    pytrace=False)
    return str(role)


def require_database(hostvars: dict[str, Any], needs: tuple[str, ...]) -> bool:
    """True when the host is a zone database server by its role; then every variable in `needs` and the
    `databases` group (whose group_vars configure PostgreSQL) must be there, else the test fails as an error."""
    if role_of(hostvars) not in DATABASE_ROLES:
        return False
    missing = [k for k in needs if not hostvars.get(k)]
    if "databases" not in hostvars.get("group_names", []):
        missing.append("group databases")
    if missing:
        pytest.fail(f"{hostvars.get('inventory_hostname', '?')}: role {hostvars['jinbao_role']} is a zone database"
                    f" server but its inventory lacks {', '.join(missing)}", pytrace=False)
    return True
