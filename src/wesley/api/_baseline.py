"""`baseline`: adopt a database Wesley did not deploy (built from `schema.sql` by hand, or by
another tool). It is introspected and compared with the schema; when they are equal, the
adoption is recorded in the database (`wesley.migration_runs`, mode `baseline`, with the
schema) and in `.wesley/deployed.json`, so the next plan and rehearsal start from it and
`deploy` finds the certified starting point. When they differ, nothing is written and every
difference is named (exit 5)."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from pathlib import Path

from wesley.api.records import snapshot_json, write_deployed
from wesley.api.schema import load_schema
from wesley.db.dsn import check_dsn, redact
from wesley.db.executor import RECORDS_DDL
from wesley.db.introspect import introspect
from wesley.db.migration_lock import try_acquire
from wesley.db.run_records import record_baseline
from wesley.db.session import connect
from wesley.errors import ExitCode, WesleyError
from wesley.ir import ir_hash
from wesley.plan.build import build_plan
from wesley.plan.explain import differences


@dataclass(frozen=True)
class BaselineResult:
    database: str  # redacted
    ir_hash: str
    run_id: int
    tables: int
    snapshot: str  # the file written, .wesley/deployed.json


def baseline(
    dsn: str,
    schema: str | Path | None = None,
    *,
    sdl: str | None = None,
    wait: bool = False,
) -> BaselineResult:
    """Adopt the database at `dsn` as deployed at `schema`; raises WesleyError
    BASELINE_DIFFERS (exit 5, `details["differences"]`) when it is not at that schema."""
    check_dsn(dsn)
    parsed = load_schema(schema, sdl=sdl)
    new = parsed.ir
    with connect(dsn) as conn:
        try_acquire(conn, dsn, wait=wait)  # no run migrates it while we look
        live = introspect(conn)
        plan = build_plan(
            live, new, server_version=conn.info.server_version, allow_destructive=True
        )
        diffs = differences(plan)
        if diffs:
            listed = "\n".join(f"  - {d}" for d in diffs)
            raise WesleyError(
                "BASELINE_DIFFERS",
                f"{redact(dsn)} is not at the schema: {len(diffs)} difference(s):\n{listed}",
                "nothing was recorded; make the database match (e.g. apply the missing parts "
                "of out/schema.sql and out/rls.sql), or baseline with the schema it was built "
                "from (--schema)",
                exit_code=ExitCode.REFUSED,
                details={"differences": diffs},
            )
        with conn.transaction():
            for ddl in RECORDS_DDL:
                conn.execute(ddl)
            run_id = record_baseline(
                conn,
                plan_hash=plan.plan_hash,
                ir_hash=ir_hash(new),
                snapshot=snapshot_json(new),
                operator=getpass.getuser(),
            )
    path = write_deployed(new)
    return BaselineResult(redact(dsn), ir_hash(new), run_id, len(new.tables), str(path))
