"""A throwaway decision database for the ferry's tests: a real PostgreSQL 15 cluster (tests/disaster/pgpair.py)
holding `jb_decision` as roles/postgresql builds it for the decision zone — a NOLOGIN owner role owning the
database and schema `warehouse`, the ETL role `dss_etl` with CONNECT, USAGE and default privileges only, PUBLIC
stripped of CONNECT and TEMPORARY. Set up over the cluster's Unix socket, which any network namespace reaches."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.disaster.pgpair import PASSWORD, Node, build_single

ETL_PASSWORD = "LAB-ONLY-ferry-load-test"  # a throwaway cluster, deleted after the tests


@dataclass(frozen=True)
class DecisionDb:
    node: Node
    root: Path
    passfile: Path  # the loader's password, where libpq looks for it (PGPASSFILE)

    @property
    def admin(self) -> str:
        """Superuser over the Unix socket: reachable from the test process whatever namespace the server is in."""
        return f"host={self.root} port={self.node.port} user=postgres password={PASSWORD} dbname=jb_decision"

    @property
    def etl(self) -> str:
        """The loader's connection string as an operator gives it: TCP, no password (the passfile has it)."""
        return f"host=127.0.0.1 port={self.node.port} dbname=jb_decision user=dss_etl"


@contextmanager
def decision_db(port: int, netns: str | None = None) -> Iterator[DecisionDb]:
    import psycopg

    root = Path(tempfile.mkdtemp(prefix="jbferry-db-"))
    os.chmod(root, 0o755)  # user postgres must reach it
    node = Node(root, "decision", port, netns)
    try:
        node = build_single(root, port, "decision", netns=netns)
        sock = f"host={root} port={port} user=postgres password={PASSWORD}"
        with psycopg.connect(f"{sock} dbname=postgres", autocommit=True) as c:
            c.execute("CREATE ROLE jb_decision_owner NOLOGIN")
            c.execute("CREATE DATABASE jb_decision OWNER jb_decision_owner")
            c.execute(f"CREATE ROLE dss_etl LOGIN PASSWORD '{ETL_PASSWORD}'")
        with psycopg.connect(f"{sock} dbname=jb_decision", autocommit=True) as c:
            c.execute("REVOKE CONNECT, TEMPORARY ON DATABASE jb_decision FROM PUBLIC")
            c.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            c.execute("GRANT CONNECT ON DATABASE jb_decision TO dss_etl")
            c.execute("CREATE SCHEMA warehouse AUTHORIZATION jb_decision_owner")
            c.execute("GRANT USAGE ON SCHEMA warehouse TO dss_etl")
            c.execute("ALTER DEFAULT PRIVILEGES FOR ROLE jb_decision_owner IN SCHEMA warehouse "
                      "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO dss_etl")
        passfile = root / "pgpass"
        passfile.write_text(f"127.0.0.1:{port}:jb_decision:dss_etl:{ETL_PASSWORD}\n")
        os.chmod(passfile, 0o600)
        yield DecisionDb(node, root, passfile)
    finally:
        node.stop()
        shutil.rmtree(root, ignore_errors=True)


def run_schema(db: DecisionDb) -> None:
    """The DBA's one-time step: `jinbao ferry schema`'s script as the superuser (tables owned by the owner)."""
    import psycopg

    from network.ferry.load import schema_sql

    with psycopg.connect(db.admin, autocommit=True) as c:
        c.execute(schema_sql())  # no parameters: the simple protocol, which runs a whole script as psql does


def query(db: DecisionDb, sql: str, *args: object) -> list[tuple]:
    import psycopg

    with psycopg.connect(db.admin) as c:
        return c.execute(sql, list(args)).fetchall()
