"""postgresql_role_in_place: whether a role already has the attributes and password community.postgresql's
postgresql_user would set, judged from one read of pg_authid (tasks/databases.yml), so an unchanged server is
checked in one round trip instead of one module run per role.

It answers True only when it is sure: the role exists, every flag holds, and the password matches (the same
SCRAM-SHA-256 check the module makes). Anything it cannot judge (an unknown flag, a non-ASCII password that
SASLprep might change, an MD5 or missing verifier) is False, and the module runs and decides as before.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any

SCRAM = re.compile(r"^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$")
# postgresql_user's role_attr_flags -> pg_authid columns
FLAGS = {"LOGIN": "rolcanlogin", "SUPERUSER": "rolsuper", "CREATEDB": "rolcreatedb", "CREATEROLE": "rolcreaterole",
         "REPLICATION": "rolreplication", "INHERIT": "rolinherit", "BYPASSRLS": "rolbypassrls"}


def scram_matches(verifier: str | None, password: str) -> bool:
    """The module's own test: ServerKey = HMAC(PBKDF2-SHA256(password, salt, iterations), "Server Key")."""
    m = SCRAM.match(verifier or "")
    if m is None:
        return False
    if SCRAM.match(password):  # a verifier given as the password is compared as is
        return password == verifier
    if not password.isascii() or not password.isprintable():  # SASLprep leaves printable ASCII unchanged
        return False
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(m.group(2)), int(m.group(1)))
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return hmac.compare_digest(server_key, base64.b64decode(m.group(4)))


def postgresql_role_in_place(rows: list[dict[str, Any]], name: str, flags: str = "",
                             password: str | None = None) -> bool:
    """``rows``: pg_authid rows (rolname, the flag columns, rolpassword); ``flags``: role_attr_flags."""
    row = next((r for r in rows or [] if r.get("rolname") == name), None)
    if row is None:
        return False
    for flag in filter(None, (f.strip().upper() for f in flags.split(","))):
        wanted = not flag.startswith("NO")
        column = FLAGS.get(flag[2:] if not wanted else flag)
        if column is None or column not in row or bool(row[column]) != wanted:
            return False
    if password is None:
        return True
    if password == "":
        return row.get("rolpassword") is None
    return scram_matches(row.get("rolpassword"), password)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"postgresql_role_in_place": postgresql_role_in_place}
