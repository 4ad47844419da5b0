"""Secret sources and platform password/key derivation.

Intents only carry *names* of secrets (`SecretRef`); the renderer resolves them here, at render time, from
one of these sources:

- `EnvSecrets`        `JINBAO_SECRET_<NAME>` environment variables (CI, one-off renders);
- `VaultFileSecrets`  a YAML mapping encrypted as a whole with ansible-vault (the production store);
- `ChainedSecrets`    first source that knows a name wins (e.g. environment overrides over the vault);
- `LabTestSecrets`    LAB ONLY: fixed, obviously fake values for tests and the emulated lab. Never use it
                      for a real device: every value it returns says so.

Derivation helpers turn a plaintext into what a platform stores, so the plaintext never reaches a
rendered Cisco/H3C configuration:

- Cisco type 8 (PBKDF2-HMAC-SHA256, 20000 iterations) and type 9 (scrypt N=16384 r=1 p=1), both encoded
  with Cisco's base64 alphabet; checked against hashcat's published example hashes in the tests.
- Cisco type 7 (reversible obfuscation; only used where IOS accepts nothing better, see docs/templates.md).
- RFC 3414 SNMPv3 key localisation (Cisco `encrypted`, H3C `cipher` keys are localised keys).

Huawei VRP and H3C Comware login-password hashes (`$1a$`/`$1c$`, `$h$6$`) use proprietary formats, and
Huawei's reversible `cipher` form uses a device key: those values are produced once by the device or the
vendor's tool and stored pre-computed in the secret source (see `platform_secret_name`).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Protocol, runtime_checkable

import yaml

from core.errors import JinbaoError

ENV_PREFIX = "JINBAO_SECRET_"
VAULT_PASSWORD_ENV = "JINBAO_VAULT_PASSWORD"
VAULT_PASSWORD_FILE_ENV = "JINBAO_VAULT_PASSWORD_FILE"

# Cisco's "base64" is the crypt(3) alphabet; the bit layout is standard base64, only the symbols differ.
_STD_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
CISCO64_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_TO_CISCO64 = str.maketrans(_STD_B64, CISCO64_ALPHABET)


class SecretError(JinbaoError, LookupError):
    """A secret could not be resolved; the message names the secret and the device that needs it."""


@runtime_checkable
class SecretSource(Protocol):
    """Anything that can look a secret up by name. `None` means "not here" (not an empty secret)."""

    def get(self, name: str) -> str | None: ...

    def describe(self) -> str: ...


def require_secret(source: SecretSource, name: str, device: str) -> str:
    """Look `name` up or fail with a message an operator can act on."""
    value = source.get(name)
    if value is None or value == "":
        raise SecretError(f"device {device}: secret '{name}' not found in {source.describe()}")
    return value


def env_var_name(name: str) -> str:
    """`bgp-md5.prov` -> `JINBAO_SECRET_BGP_MD5_PROV` (environment names allow only [A-Z0-9_])."""
    return ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


class EnvSecrets:
    """Secrets from `JINBAO_SECRET_<NAME upper>` environment variables."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        # Read at lookup time by default so a test or wrapper can set variables after construction.
        self._environ = environ

    def get(self, name: str) -> str | None:
        env = os.environ if self._environ is None else self._environ
        return env.get(env_var_name(name))

    def describe(self) -> str:
        return f"environment ({ENV_PREFIX}*)"


def _vault_password(password: str | None, password_file: str | Path | None) -> bytes:
    if password is not None:
        return password.encode()
    if password_file is None and os.environ.get(VAULT_PASSWORD_ENV):
        return os.environ[VAULT_PASSWORD_ENV].encode()
    password_file = password_file or os.environ.get(VAULT_PASSWORD_FILE_ENV)
    if password_file:
        # Same convention as ansible's --vault-password-file: first line, surrounding whitespace dropped.
        text = Path(password_file).read_text(encoding="utf-8").strip()
        if not text:
            raise SecretError(f"vault password file {password_file} is empty")
        return text.encode()
    raise SecretError(
        f"no vault password: set {VAULT_PASSWORD_ENV} or {VAULT_PASSWORD_FILE_ENV}, or pass password_file"
    )


class VaultFileSecrets:
    """A flat YAML mapping `name: value`, encrypted as a whole file with ansible-vault.

    The file is decrypted once, lazily, on the first lookup. A file that is *not* vault-encrypted is
    refused: a plaintext secrets file on disk is exactly what the security baseline forbids.
    """

    def __init__(
        self,
        path: str | Path,
        password: str | None = None,
        password_file: str | Path | None = None,
    ) -> None:
        self.path = Path(path)
        self._password = password
        self._password_file = password_file
        self._data: dict[str, str] | None = None

    def _load(self) -> dict[str, str]:
        # Imported here: ansible pulls in a lot, and only vault users need it.
        from ansible.parsing.vault import AnsibleVaultError, VaultLib, VaultSecret, is_encrypted

        raw = self.path.read_bytes()
        if not is_encrypted(raw):
            raise SecretError(f"{self.path} is not ansible-vault encrypted; refusing a plaintext secrets file")
        secret = VaultSecret(_vault_password(self._password, self._password_file))
        try:
            plain = VaultLib([("default", secret)]).decrypt(raw)
        except AnsibleVaultError as exc:
            raise SecretError(f"cannot decrypt {self.path}: {exc}") from None
        data = yaml.safe_load(plain) or {}
        if not isinstance(data, dict):
            raise SecretError(f"{self.path}: expected a mapping of secret names to values")
        # Numbers and booleans in YAML are still secrets: keep their text form.
        return {str(k): str(v) for k, v in data.items() if v is not None}

    def get(self, name: str) -> str | None:
        if self._data is None:
            self._data = self._load()
        return self._data.get(name)

    def describe(self) -> str:
        return f"vault file {self.path}"

    @staticmethod
    def encrypt_mapping(data: Mapping[str, str], password: str) -> bytes:
        """Vault-encrypt a mapping (used by tooling and tests to produce a vault file)."""
        from ansible.parsing.vault import VaultLib, VaultSecret

        text = yaml.safe_dump(dict(data), sort_keys=True, allow_unicode=True).encode()
        return VaultLib([("default", VaultSecret(password.encode()))]).encrypt(text)


class ChainedSecrets:
    """Ask each source in order; the first that knows the name wins."""

    def __init__(self, *sources: SecretSource) -> None:
        self.sources: tuple[SecretSource, ...] = sources

    def get(self, name: str) -> str | None:
        for src in self.sources:
            value = src.get(name)
            if value is not None:
                return value
        return None

    def describe(self) -> str:
        return " -> ".join(s.describe() for s in self.sources) or "no sources"


class LabTestSecrets:
    """LAB ONLY — fixed, obviously fake secrets for unit tests and the emulated FRR lab.

    Every value contains `LAB-ONLY` (plaintexts) or `LABONLY` (pre-hashed/pre-encrypted placeholders) so a
    config rendered from it can never be mistaken for, or pushed as, a production config (the deploy path
    is expected to refuse any config containing those markers). Never use for real devices.

    Plaintexts are derived from the name; pre-computed platform values (`*_hash_<platform>`,
    `*_cipher_<platform>`) are placeholders shaped like the vendor's format. `missing` lets a test
    simulate an absent secret.
    """

    MARKER = "LAB-ONLY"

    def __init__(self, missing: Iterable[str] = (), overrides: Mapping[str, str] | None = None) -> None:
        self.missing = frozenset(missing)
        self.overrides = dict(overrides or {})

    def get(self, name: str) -> str | None:
        if name in self.missing:
            return None
        if name in self.overrides:
            return self.overrides[name]
        if name.endswith("_salt"):
            return None  # exercise the deterministic per-device salt path
        digest = hashlib.sha256(name.encode()).hexdigest()
        if "_hash_huawei_vrp" in name:
            return f"$1c$LABONLY{digest[:24]}$"
        if "_hash_h3c_comware" in name:
            return f"$h$6$LABONLY{digest[:16]}$LABONLY{digest[16:56]}=="
        if "_cipher_huawei_vrp" in name:
            return f"%^%#LABONLY{digest[:32]}%^%#"
        if "_cipher_h3c_comware" in name:
            return f"$c$3$LABONLY{digest[:32]}=="
        if "_cipher_cisco_ios" in name:  # shaped like an IOS type 6 value
            return f"LABONLY{digest[:24].upper()}AAB"
        return f"{self.MARKER}-{name}-not-a-real-secret"

    def describe(self) -> str:
        return "LabTestSecrets (LAB ONLY, fake values)"


def platform_secret_name(name: str, kind: str, platform: str) -> str:
    """Name of a pre-computed per-platform value: `<name>_hash_<platform>` / `<name>_cipher_<platform>`."""
    return f"{name}_{kind}_{platform}"


# --------------------------------------------------------------------------------------------------
# Cisco password encodings


def cisco64(data: bytes) -> str:
    """Base64 in Cisco's alphabet, without padding (as stored in type 8/9 hashes)."""
    return base64.b64encode(data).decode().rstrip("=").translate(_TO_CISCO64)


def deterministic_salt(*parts: str, length: int = 14) -> str:
    """A salt in Cisco's alphabet derived from e.g. (hostname, secret name).

    Reproducible renders need a stable salt; deriving it per device keeps two devices sharing a password
    from sharing a hash. A salt stored in the secret source (`<name>_salt`) is preferred when present.
    """
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return cisco64(digest)[:length]


def _check_salt(salt: str) -> None:
    if not 1 <= len(salt) <= 14 or any(c not in CISCO64_ALPHABET for c in salt):
        raise ValueError("Cisco salt must be 1-14 characters of [./0-9A-Za-z]")


@lru_cache(maxsize=8192)
def cisco_type8(password: str, salt: str) -> str:
    """Cisco type 8: PBKDF2-HMAC-SHA256, 20000 iterations, salt used as its ASCII text."""
    _check_salt(salt)
    dk = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 20000, dklen=32)
    return f"$8${salt}${cisco64(dk)}"


@lru_cache(maxsize=8192)
def cisco_type9(password: str, salt: str) -> str:
    """Cisco type 9: scrypt N=16384, r=1, p=1, 32-byte key, salt used as its ASCII text."""
    _check_salt(salt)
    dk = hashlib.scrypt(password.encode(), salt=salt.encode(), n=16384, r=1, p=1, dklen=32)
    return f"$9${salt}${cisco64(dk)}"


_TYPE7_KEY = b"dsfd;kfoA,.iyewrkldJKDHSUBsgvca69834ncxv9873254k;fg87"


def cisco_type7(password: str, seed: int) -> str:
    """Cisco type 7 (Vigenère-style obfuscation, NOT encryption). Seed 0-15 makes it deterministic."""
    if not 0 <= seed <= 15:
        raise ValueError("type 7 seed must be 0-15")
    out = [f"{seed:02d}"]
    for i, ch in enumerate(password.encode()):
        out.append(f"{ch ^ _TYPE7_KEY[(seed + i) % len(_TYPE7_KEY)]:02X}")
    return "".join(out)


def cisco_type7_decode(encoded: str) -> str:
    """Inverse of `cisco_type7` (used by tests and audits to show type 7 is reversible)."""
    seed = int(encoded[:2])
    data = bytes.fromhex(encoded[2:])
    return bytes(b ^ _TYPE7_KEY[(seed + i) % len(_TYPE7_KEY)] for i, b in enumerate(data)).decode()


# --------------------------------------------------------------------------------------------------
# SNMPv3 (RFC 3414 A.2, RFC 7860 for SHA-2)

_SNMP_HASHES = {"SHA": "sha1", "SHA-256": "sha256"}


@lru_cache(maxsize=1024)
def _snmp_ku(password: str, hash_name: str) -> bytes:
    """Password-to-key: hash of 1 MiB of the repeated password. Independent of the engine, so cached."""
    pw = password.encode()
    if not pw:
        raise ValueError("empty SNMP password")
    stream = (pw * (1048576 // len(pw) + 1))[:1048576]
    return hashlib.new(hash_name, stream).digest()


def snmp_localized_key(password: str, engine_id: bytes, auth_protocol: str) -> bytes:
    """RFC 3414 key localisation: H(Ku || engineID || Ku) with the auth protocol's hash."""
    hash_name = _SNMP_HASHES[auth_protocol]
    ku = _snmp_ku(password, hash_name)
    return hashlib.new(hash_name, ku + engine_id + ku).digest()


def snmp_engine_id(hostname: str, enterprise: int) -> bytes:
    """A stable 12-byte SNMP engine ID: RFC 3411 format 5 (octets) under the vendor's IANA enterprise
    number, the rest a hash of the hostname.

    Localised keys are bound to the engine ID, so it must be pinned in the config (a device-generated
    one changes with the chassis MAC). 12 bytes because IOS takes at most 24 hex digits.
    """
    head = (0x80000000 | enterprise).to_bytes(4, "big") + b"\x05"
    return head + hashlib.sha256(hostname.encode()).digest()[:7]


def secret_source(lab: bool = False, environ: Mapping[str, str] | None = None) -> SecretSource:
    """The secrets a render or deploy uses: LAB-ONLY test values when asked, else the environment, over the
    ansible-vault file named by JINBAO_VAULT_FILE when there is one."""
    if lab:
        return LabTestSecrets()
    vault = (os.environ if environ is None else environ).get("JINBAO_VAULT_FILE")
    return ChainedSecrets(EnvSecrets(), VaultFileSecrets(Path(vault))) if vault else EnvSecrets()
