"""Every playbook passes --syntax-check and the roles and playbooks pass ansible-lint's production profile."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PLAYBOOKS = sorted((ROOT / "playbooks").glob("*.yml"))
ENV = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
# ansible-lint's syntax check runs `ansible-playbook --syntax-check` once per playbook and role without `-i`:
# with ansible.cfg's inventory that loads the whole nation through the jinbao plugin each time (~6 s apiece, a
# syntax check reads no inventory). An empty inventory leaves the implicit localhost, what test_syntax_check's
# `-i localhost,` gives; the inventory plugin has its own tests (tests/inventory_plugins/).
NO_INVENTORY = Path(__file__).with_name("fixtures") / "empty-inventory.ini"
LINT_ENV = {**ENV, "ANSIBLE_INVENTORY": str(NO_INVENTORY)}


def test_there_are_playbooks() -> None:
    assert {p.name for p in PLAYBOOKS} >= {"site.yml", "servers.yml", "databases.yml"}


@pytest.mark.parametrize("playbook", PLAYBOOKS, ids=lambda p: p.name)
def test_syntax_check(playbook: Path) -> None:
    r = subprocess.run([str(BIN / "ansible-playbook"), "--syntax-check", "-i", "localhost,", str(playbook)],
                       cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.slow
def test_ansible_lint_production() -> None:
    r = subprocess.run([str(BIN / "ansible-lint"), "--profile", "production", "--nocolor", "playbooks", "roles"],
                       cwd=ROOT, env=LINT_ENV, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]


def test_lint_catches_a_bad_role(tmp_path: Path) -> None:
    """The lint run can fail: a task without a name using a shell where a module exists is refused."""
    role = tmp_path / "roles" / "bad" / "tasks"
    role.mkdir(parents=True)
    (role / "main.yml").write_text("---\n- ansible.builtin.shell: apt-get install -y curl\n")
    r = subprocess.run([str(BIN / "ansible-lint"), "--profile", "production", "--nocolor", "roles"],
                       cwd=tmp_path, env=LINT_ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    assert "name[missing]" in r.stdout + r.stderr


def test_vault_is_encrypted_and_opens_with_the_lab_password() -> None:
    vault = ROOT / "inventory" / "group_vars" / "all" / "vault.yml"
    assert vault.read_text().startswith("$ANSIBLE_VAULT;1.1;AES256")
    r = subprocess.run([str(BIN / "ansible-vault"), "view", "--vault-password-file",
                        str(ROOT / "inventory" / "vault-password.LAB-ONLY"), str(vault)],
                       cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "vault_pki_ca_passphrase:" in r.stdout and "LAB-ONLY" in r.stdout


def test_no_trust_possible_in_pg_hba() -> None:
    """The role's argument spec refuses trust/password/md5 client rules."""
    import yaml

    spec = yaml.safe_load((ROOT / "roles/postgresql/meta/argument_specs.yml").read_text())
    method = spec["argument_specs"]["main"]["options"]["postgresql_hba_entries"]["options"]["method"]
    assert not {"trust", "password", "md5"} & set(method["choices"])
    lines = (ROOT / "roles/postgresql/templates/pg_hba.conf.j2").read_text().splitlines()
    assert not [line for line in lines if not line.startswith("#") and "trust" in line.split()]
