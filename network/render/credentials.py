"""Turn the secret references of one intent into exactly what its platform stores in its config.

The plaintext of a secret never reaches a Huawei/H3C/Cisco template: only a hash, a localised key or a
value the vendor encrypted. FRR is the exception (frr.conf has no encrypted form for BGP passwords);
its management secrets belong to Linux services and are not resolved at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from network.intent_model import DeviceIntent, SecretRef
from network.render.platforms import PlatformSpec
from network.secrets import (
    SecretSource,
    cisco_type8,
    cisco_type9,
    deterministic_salt,
    platform_secret_name,
    require_secret,
    snmp_engine_id,
    snmp_localized_key,
)

CiscoHashType = Literal[8, 9]


@dataclass(frozen=True, slots=True)
class Credentials:
    login_password: str | None  # platform hash of the local user's password
    tacacs_key: str | None
    snmp_auth_key: str | None
    snmp_priv_key: str | None
    snmp_engine_id: str | None  # hex; pinned because localised keys are bound to it
    bgp_passwords: dict[str, str]  # neighbour address -> stored form


class CredentialResolver:
    """Per-device resolution. Cheap to construct; expensive work (KDFs) is cached in network.secrets."""

    def __init__(
        self, intent: DeviceIntent, spec: PlatformSpec, source: SecretSource, cisco_hash: CiscoHashType
    ) -> None:
        self.intent = intent
        self.spec = spec
        self.source = source
        self.cisco_hash = cisco_hash
        self.host = intent.hostname

    def _plain(self, ref: SecretRef) -> str:
        return require_secret(self.source, ref.name, self.host)

    def _precomputed(self, ref: SecretRef, kind: str) -> str:
        return require_secret(self.source, platform_secret_name(ref.name, kind, self.spec.name), self.host)

    def login_hash(self, ref: SecretRef) -> str | None:
        mode = self.spec.login_hash
        if mode == "none":
            return None
        if mode == "vendor_hash":
            # VRP ($1a$/$1c$ irreversible-cipher) and Comware ($h$6$) formats are proprietary; the value is
            # produced by the device (or the vendor's tool) once and kept in the vault.
            return self._precomputed(ref, "hash")
        password = self._plain(ref)
        # A salt kept in the vault wins (one KDF run for every device sharing the password); otherwise a
        # per-device deterministic salt keeps renders reproducible and hashes distinct across devices.
        salt = self.source.get(f"{ref.name}_salt") or deterministic_salt(self.host, ref.name)
        return cisco_type9(password, salt) if self.cisco_hash == 9 else cisco_type8(password, salt)

    def reversible(self, ref: SecretRef) -> str:
        mode = self.spec.reversible_key
        if mode == "vendor_cipher":
            return self._precomputed(ref, "cipher")
        # IOS keeps TACACS+/BGP keys as type 6 (AES under the device's `key config-key password-encrypt`
        # master key), produced by the device once and stored like the VRP/Comware ciphers; type 7 is a
        # reversible obfuscation and is not used (docs/templates.md).
        return self._plain(ref)

    def snmp_key(self, ref: SecretRef, engine: bytes | None, key_bytes: int | None = None) -> str | None:
        mode = self.spec.snmp_key
        if mode == "none":
            return None
        if mode == "vendor_cipher":
            return self._precomputed(ref, "cipher")
        assert engine is not None
        key = snmp_localized_key(self._plain(ref), engine, self.intent.snmp.auth_protocol)
        if key_bytes is not None:
            # RFC 3826: AES-128 uses the first 16 octets of the localised key (SHA-1 gives 20)
            key = key[:key_bytes]
        hexkey = key.hex().upper()
        sep = self.spec.snmp_key_sep
        return sep.join(hexkey[i : i + 2] for i in range(0, len(hexkey), 2)) if sep else hexkey

    def resolve(self) -> Credentials:
        it = self.intent
        engine = snmp_engine_id(self.host, self.spec.snmp_enterprise) if self.spec.snmp_key == "localized" else None
        tacacs_key = None
        if it.aaa.tacacs_key is not None and it.aaa.tacacs_servers and self.spec.login_hash != "none":
            tacacs_key = self.reversible(it.aaa.tacacs_key)
        bgp_passwords: dict[str, str] = {}
        if it.bgp is not None:
            for nb in it.bgp.neighbors:
                if nb.password is not None:
                    bgp_passwords[nb.address] = self.reversible(nb.password)
        return Credentials(
            login_password=self.login_hash(it.aaa.local_password),
            tacacs_key=tacacs_key,
            snmp_auth_key=self.snmp_key(it.snmp.auth_key, engine),
            snmp_priv_key=self.snmp_key(it.snmp.priv_key, engine, 16 if it.snmp.priv_protocol == "AES" else 32),
            snmp_engine_id=engine.hex().upper() if engine else None,
            bgp_passwords=bgp_passwords,
        )
