"""The checks a batch must pass: the receiver's gate into the inbox, and the sender's own early warning.

Pure: bytes in, a verdict out.
"""

from __future__ import annotations

import hashlib

from network.ferry import container
from network.ferry.manifest import MANIFEST_NAME, Manifest, ManifestError, parse_manifest


class Verdict(Exception):
    """Why a transfer goes to quarantine (one line)."""


def check_batch(blob: bytes, key: bytes) -> tuple[Manifest, bytes, dict[str, bytes]]:
    """Verify a reassembled transfer; returns (manifest, manifest bytes, files) or raises Verdict."""
    if hashlib.sha256(blob).digest()[:16] != key:
        raise Verdict("transfer checksum mismatch after reassembly")
    try:
        entries = container.unpack(blob)
    except container.ContainerError as e:
        raise Verdict(f"container: {e}") from None
    if not entries or entries[0][0] != MANIFEST_NAME:
        raise Verdict("container: manifest.json is not the first entry")
    raw = entries[0][1]
    try:
        man = parse_manifest(raw)
    except ManifestError as e:
        raise Verdict(f"manifest.json: {e}") from None
    files = dict(entries[1:])
    if len(files) != len(entries) - 1:
        raise Verdict("container: a file name appears twice")
    listed = {f.name for f in man.files}
    extra = sorted(set(files) - listed)
    if extra:
        raise Verdict(f"{extra[0]}: present but not listed in manifest.json")
    for f in man.files:
        if f.name not in files:
            raise Verdict(f"{f.name}: listed in manifest.json but missing")
        data = files[f.name]
        if len(data) != f.size:
            raise Verdict(f"{f.name}: size {len(data)} bytes, manifest.json says {f.size} (truncated or altered)")
        if hashlib.sha256(data).hexdigest() != f.sha256:
            raise Verdict(f"{f.name}: SHA-256 {hashlib.sha256(data).hexdigest()} does not match manifest.json")
    return man, raw, files
