"""The postgresql role, checked inside the running server (settings as PostgreSQL reports them)."""

from __future__ import annotations

from typing import Any

import pytest

from checks.testinfra.conftest import require_database

# the host variables this suite reads (the zone's group_vars give them to every database server)
NEEDS = ("postgresql_databases", "postgresql_app_roles")


@pytest.fixture(scope="module", autouse=True)
def _databases_only(hostvars: dict[str, Any]) -> None:
    """By role (DB, EX, DS), not by group: a database server outside `databases` is an error, not a skip."""
    if not require_database(hostvars, NEEDS):
        pytest.skip(f"role {hostvars['jinbao_role']}: not a zone database server")


def sql(host: Any, query: str, db: str = "postgres") -> str:
    return host.check_output(f"runuser -u postgres -- psql -X -A -t -d {db} -c \"{query}\"").strip()


def test_tls_on_with_project_ca(host: Any) -> None:
    assert sql(host, "show ssl") == "on"
    assert sql(host, "show ssl_min_protocol_version") in ("TLSv1.2", "TLSv1.3")
    assert host.run("openssl verify -CAfile /etc/postgresql/tls/ca.crt /etc/postgresql/tls/server.crt").rc == 0
    assert host.file("/etc/postgresql/tls/server.key").mode == 0o600


def test_scram_only_and_no_trust(host: Any) -> None:
    assert sql(host, "show password_encryption") == "scram-sha-256"
    bad = sql(host, "select count(*) from pg_hba_file_rules where auth_method in ('trust','password','md5')"
                    " or error is not null")
    assert bad == "0"
    methods = set(sql(host, "select distinct auth_method from pg_hba_file_rules").split())
    assert methods <= {"peer", "scram-sha-256", "reject", "cert"}
    net = sql(host, "select count(*) from pg_hba_file_rules where type='host' and auth_method <> 'reject'")
    assert net == "0", "plain (non-TLS) host lines must only reject"
    stored = sql(host, "select count(*) from pg_authid"
                       " where rolpassword is not null and rolpassword not like 'SCRAM-SHA-256$%'")
    assert stored == "0"


def test_roles_and_schemas(host: Any, hostvars: dict[str, Any]) -> None:
    for db in hostvars["postgresql_databases"]:
        got = set(sql(host, "select nspname from pg_namespace", db["name"]).split())
        assert set(db["schemas"]) <= got, f"{db['name']}: missing schemas {set(db['schemas']) - got}"
    for role in hostvars["postgresql_app_roles"]:
        row = sql(host, "select rolcanlogin, rolsuper, rolcreatedb, rolcreaterole from pg_roles"
                        f" where rolname='{role['name']}'")
        assert row == "t|f|f|f", f"{role['name']}: {row or 'missing'}"
        for schema in role["schemas"]:
            usage = f"select has_schema_privilege('{role['name']}', '{schema}', 'USAGE')"
            assert sql(host, usage, role["database"]) == "t", f"{role['name']}: no USAGE on {schema}"
    public = sql(host, "select has_database_privilege('public', current_database(), 'CONNECT')",
                 hostvars["postgresql_databases"][0]["name"])
    assert public == "f"


def test_cis_logging(host: Any) -> None:
    assert sql(host, "show logging_collector") == "on"
    assert sql(host, "show log_connections") == "on"
    assert sql(host, "show log_disconnections") == "on"
    assert sql(host, "show log_file_mode") == "0600"
    assert "pgaudit" in sql(host, "show shared_preload_libraries")


def test_archiving_and_backups(host: Any) -> None:
    assert sql(host, "show archive_mode") == "on"
    assert sql(host, "show wal_level") == "replica"
    assert "cp %p" in sql(host, "show archive_command")
    assert int(sql(host, "select count(*) from pg_stat_archiver where failed_count = 0")) == 1
    assert "jinbao-pg-basebackup" in host.file("/etc/cron.d/jinbao-postgresql").content_string
