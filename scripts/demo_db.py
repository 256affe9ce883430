"""Demo helper until `wesley rehearse` exists: apply out/schema.sql and out/rls.sql to
$WESLEY_DSN or an ephemeral PostgreSQL cluster and run out/tests.sql there."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psycopg

from wesley.db.apply import apply_script
from wesley.db.cluster import EphemeralCluster, create_database
from wesley.db.dsn import redact
from wesley.db.pgtap import run_suite
from wesley.errors import WesleyError


def run(dsn: str) -> int:
    print(f"database: {redact(dsn)}")
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name in ("schema.sql", "rls.sql"):
            n = apply_script(conn, Path("out", name).read_text(encoding="utf-8"), name)
            print(f"applied out/{name}: {n} statements")
        result = run_suite(conn, Path("out/tests.sql").read_text(encoding="utf-8"))
    print(
        f"pgTAP: {result.passed} passed, {result.failed} failed, {result.skipped} skipped "
        f"(plan {result.planned})"
    )
    for failure in result.failures:
        print(f"  not ok: {failure}")
    return 0 if result.ok else 13


def main() -> int:
    try:
        if os.environ.get("WESLEY_DSN"):
            return run(os.environ["WESLEY_DSN"])
        with EphemeralCluster() as cluster:
            print(f"ephemeral PostgreSQL {cluster.server_version} on port {cluster.port}")
            return run(create_database(cluster.dsn, "wesley_demo"))
    except WesleyError as err:
        print(err.render(), file=sys.stderr)
        return int(err.exit_code)


if __name__ == "__main__":
    sys.exit(main())
