"""Run statuses in `wesley.migration_runs` that tell the truth after the fact.

A run is `running` only while its process holds the migration lock; whoever takes the lock
next marks a `running` row it finds `interrupted` (its process died: SIGKILL, a lost
connection). When a run finishes a plan, the earlier runs of that plan that stopped
(`interrupted`, `failed`) become `superseded`, with `superseded_by` naming the run that
finished the work.
"""

from __future__ import annotations

from typing import Any

import psycopg

RECORDS_DDL = (
    "ALTER TABLE wesley.migration_runs ADD COLUMN IF NOT EXISTS superseded_by bigint",
    # the schema a `baseline` adopted (deploys keep their plan, which names it)
    "ALTER TABLE wesley.migration_runs ADD COLUMN IF NOT EXISTS snapshot jsonb",
)


# a statement and its parameters, for wesley.db.session.run_batch
Statement = tuple[str, tuple[Any, ...]]


def close_dead_runs_sql() -> Statement:
    """The `running` rows become `interrupted`: sent holding the migration lock, before the
    new run's own row is inserted, when no other run is alive, whatever its row says."""
    return (
        "UPDATE wesley.migration_runs SET status = 'interrupted', "
        "finished_at = COALESCE(finished_at, now()), "
        "error = COALESCE(error, 'the run stopped without finishing (process killed or "
        "connection lost)') WHERE status = 'running'",
        (),
    )


def supersede_sql(plan_hash: str, run_id: int) -> Statement:
    """`run_id` finished `plan_hash`: the earlier runs of it that stopped are superseded."""
    return (
        "UPDATE wesley.migration_runs SET status = 'superseded', superseded_by = %s, "
        "finished_at = COALESCE(finished_at, now()) WHERE plan_hash = %s AND run_id < %s "
        "AND status IN ('running', 'interrupted', 'failed')",
        (run_id, plan_hash, run_id),
    )


def record_baseline(
    conn: psycopg.Connection[Any],
    *,
    plan_hash: str,
    ir_hash: str,
    snapshot: str,
    operator: str | None,
) -> int:
    """An adoption (`wesley baseline`): an applied run of the empty plan, with the schema the
    database was found to match. Called holding the migration lock, with the record tables
    made."""
    row = conn.execute(
        "INSERT INTO wesley.migration_runs (plan_hash, ir_hash, mode, status, operator, "
        "finished_at, snapshot) VALUES (%s, %s, 'baseline', 'applied', %s, now(), %s) "
        "RETURNING run_id",
        (plan_hash, ir_hash, operator, snapshot),
    ).fetchone()
    assert row is not None
    return int(row[0])
