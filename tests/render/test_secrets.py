"""Secret sources, platform hashes/keys checked against published vectors, no plaintext in configs."""

from __future__ import annotations

from pathlib import Path

import pytest

from network.render import render_device
from network.secrets import (
    ChainedSecrets,
    EnvSecrets,
    LabTestSecrets,
    SecretError,
    VaultFileSecrets,
    cisco_type7,
    cisco_type7_decode,
    cisco_type8,
    cisco_type9,
    env_var_name,
    require_secret,
    snmp_localized_key,
)

from .fixtures import PLATFORMS, ROLES


def test_cisco_type8_matches_hashcat_example() -> None:
    # hashcat mode 9200 example hash, password "hashcat".
    assert cisco_type8("hashcat", "TnGX/fE4KGHOVU") == "$8$TnGX/fE4KGHOVU$pEhnEvxrvaynpi8j4f.EMHr6M.FzU8xnZnBr/tJdFWk"


def test_cisco_type9_matches_hashcat_example() -> None:
    # hashcat mode 9300 example hash, password "hashcat".
    assert cisco_type9("hashcat", "2MJBozw/9R3UsU") == "$9$2MJBozw/9R3UsU$2lFhcKvpghcyw8deP25GOfyZaagyUOGBymkryvOdfo6"


def test_cisco_type7_round_trip_and_known_value() -> None:
    assert cisco_type7("password", 4) == "044B0A151C36435C0D"
    assert cisco_type7_decode(cisco_type7("bgp-key-1", 11)) == "bgp-key-1"


def test_snmp_key_localisation_rfc3414_vector() -> None:
    # RFC 3414 A.3.2: "maplesyrup", engine ID 00..02, SHA-1.
    key = snmp_localized_key("maplesyrup", bytes.fromhex("000000000000000000000002"), "SHA")
    assert key.hex() == "6695febc9288e36282235fc7151f128497b38f3f"


def test_env_secrets() -> None:
    assert env_var_name("bgp-md5.prov") == "JINBAO_SECRET_BGP_MD5_PROV"
    src = EnvSecrets({"JINBAO_SECRET_JB_TACACS": "k1"})
    assert src.get("jb-tacacs") == "k1"
    assert src.get("other") is None


def test_missing_secret_message_names_secret_and_device() -> None:
    with pytest.raises(SecretError, match=r"device JB-1: secret 'jb-x' not found in environment"):
        require_secret(EnvSecrets({}), "jb-x", "JB-1")


def test_vault_file_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vault = tmp_path / "secrets.vault.yaml"
    vault.write_bytes(VaultFileSecrets.encrypt_mapping({"jb-tacacs": "t0p", "num": "42"}, "vault-pw"))
    assert b"t0p" not in vault.read_bytes()
    monkeypatch.setenv("JINBAO_VAULT_PASSWORD", "vault-pw")
    src = VaultFileSecrets(vault)
    assert src.get("jb-tacacs") == "t0p" and src.get("missing") is None
    pwfile = tmp_path / "pw"
    pwfile.write_text("vault-pw\n")
    monkeypatch.delenv("JINBAO_VAULT_PASSWORD")
    assert VaultFileSecrets(vault, password_file=pwfile).get("num") == "42"
    with pytest.raises(SecretError, match="cannot decrypt"):
        VaultFileSecrets(vault, password="wrong").get("jb-tacacs")


def test_vault_refuses_plaintext_file(tmp_path: Path) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text("jb-tacacs: t0p\n")
    with pytest.raises(SecretError, match="not ansible-vault encrypted"):
        VaultFileSecrets(plain, password="x").get("jb-tacacs")


def test_chained_sources_first_wins() -> None:
    chain = ChainedSecrets(EnvSecrets({"JINBAO_SECRET_A": "env"}), LabTestSecrets())
    assert chain.get("a") == "env"
    assert "LAB-ONLY" in (chain.get("b") or "")


def test_lab_secrets_are_marked() -> None:
    src = LabTestSecrets()
    assert "LAB-ONLY" in (src.get("anything") or "")
    assert "LABONLY" in (src.get("x_hash_huawei_vrp") or "")


@pytest.mark.parametrize("role", sorted(ROLES))
@pytest.mark.parametrize("platform", [p for p in PLATFORMS if p != "frr"])
def test_no_plaintext_secret_in_vendor_configs(platform: str, role: str) -> None:
    src = LabTestSecrets()
    text = render_device(ROLES[role](platform), src)
    # Every plaintext LabTestSecrets hands out contains this marker; pre-hashed values use "LABONLY".
    assert "LAB-ONLY" not in text
    for name in ("jb-local-admin", "jb-snmp-auth", "jb-snmp-priv", "jb-tacacs", "bgp-md5-100000-140000"):
        assert (src.get(name) or "") not in text


def test_cisco_login_uses_type9_and_vault_salt_wins() -> None:
    intent = ROLES["AR"]("cisco_ios")
    text = render_device(intent, LabTestSecrets())
    assert "username jbadmin privilege 15 secret 9 $9$" in text
    salted = LabTestSecrets(overrides={"jb-local-admin_salt": "abcdefghijklmn"})
    pw = salted.get("jb-local-admin") or ""
    assert cisco_type9(pw, "abcdefghijklmn") in render_device(intent, salted)
    assert "secret 8 $8$" in render_device(intent, LabTestSecrets(), cisco_hash=8)


def test_frr_is_the_only_platform_with_plain_bgp_password() -> None:
    # frr.conf has no encrypted form for neighbour passwords; the file is 0640 frr:frr on the router.
    text = render_device(ROLES["WR"]("frr"), LabTestSecrets())
    assert "password LAB-ONLY-bgp-md5-100000-140000" in text
    assert "jb-local-admin" not in text and "snmp" not in text.split("Management plane")[0]
