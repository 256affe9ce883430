"""What `deploy` reads from its target before it runs anything: earlier runs of a plan, who
holds the migration lock, the plan from the database as it is now, whether Wesley ever
deployed to it, and whether it holds tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from wesley.db.dsn import connect_error
from wesley.db.facts import gather
from wesley.db.introspect import introspect
from wesley.db.migration_lock import holder
from wesley.db.roles import affected_roles
from wesley.db.session import connect
from wesley.errors import ExitCode, WesleyError
from wesley.ir import IR
from wesley.plan.build import DEFAULT_BATCH_SIZE, build_plan
from wesley.plan.models import Plan

_HAS_RUNS = "SELECT to_regclass('wesley.migration_runs')"


def stored_run(dsn: str, plan_hash: str) -> tuple[Plan, str] | None:
    """The stored plan and status of the latest run of `plan_hash` on the target, if any."""
    try:
        with connect(dsn) as conn:
            if conn.execute(_HAS_RUNS).fetchone() == (None,):
                return None
            # the runs that deploy the plan (not its --complete or --abort), a finished one
            # first (a two-stage plan's deploy run ends `completed`)
            row = conn.execute(
                "SELECT plan, CASE status WHEN 'completed' THEN 'applied' ELSE status END FROM "
                "wesley.migration_runs WHERE plan_hash = %s AND plan IS NOT NULL AND mode NOT "
                "LIKE '%% --%%' ORDER BY status IN ('applied', 'completed') DESC, run_id DESC "
                "LIMIT 1",
                (plan_hash,),
            ).fetchone()
    except psycopg.OperationalError as exc:
        raise connect_error(exc, dsn) from None
    if not row:
        return None
    try:
        return Plan.model_validate(row[0]), str(row[1])
    except ValueError:  # not even a plan any more: it was edited
        raise WesleyError(
            "STORED_PLAN_MISMATCH",
            "the plan stored in wesley.migration_runs is not a valid plan: it was changed in "
            "the database",
            "nothing was run; find out who edited wesley.migration_runs",
            exit_code=ExitCode.CERT_INVALID,
        ) from None


def plan_now(dsn: str, new: IR, summary: dict[str, Any], version: int | None = None) -> Plan:
    """The plan from the target as it is now (introspected) to the schema, built as the
    certificate's plan was (`summary`: its batch size, destructive or not) for `version` (the
    major it was rehearsed on: its lock facts are that version's), else the target's own."""
    try:
        with connect(dsn) as conn:
            old = introspect(conn)
            version = version or int(summary.get("server_version") or conn.info.server_version)
            facts = gather(conn, old, new)
    except psycopg.OperationalError as exc:
        raise connect_error(exc, dsn) from None
    # pre-flight: a change the data makes impossible stops the deploy before any step (the
    # counts never change the plan itself, so it stays comparable with the certified one)
    blocked = build_plan(old, new, server_version=version, data=facts).blocked
    if blocked:
        raise WesleyError(
            "PLAN_BLOCKED",
            "deploy refused before any step: "
            + "; ".join(f"{r.change} {r.table}: {r.risk}" for r in blocked),
            "change the data on the target first; nothing was applied",
            exit_code=ExitCode.EXECUTION_FAILED,
        )
    # --force skips the certificate, never the rule against destructive changes: only a
    # plan certified with --allow-destructive may drop or rewrite
    return build_plan(
        old,
        new,
        server_version=version,
        allow_destructive=bool(summary.get("allow_destructive")),
        batch_size=int(summary.get("batch_size") or DEFAULT_BATCH_SIZE),
    )


def lock_holder(dsn: str) -> int | None:
    with connect(dsn) as conn:
        return holder(conn)


def deployed_by_wesley(dsn: str) -> bool:
    """Whether any Wesley run (deploy, up, baseline) was applied to this database."""
    with connect(dsn) as conn:
        if conn.execute(_HAS_RUNS).fetchone() == (None,):
            return False
        row = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM wesley.migration_runs WHERE status = 'applied')"
        ).fetchone()
        return bool(row and row[0])


def has_tables(dsn: str) -> bool:
    with connect(dsn) as conn:
        row = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_class WHERE relnamespace = 'public'::regnamespace "
            "AND relkind IN ('r', 'p'))"
        ).fetchone()
        return bool(row and row[0])


def last_applied(dsn: str, plan_hash: str) -> tuple[int, datetime] | None:
    """The run that applied `plan_hash`, and when."""
    with connect(dsn) as conn:
        row = conn.execute(
            "SELECT run_id, finished_at FROM wesley.migration_runs WHERE plan_hash = %s AND "
            "status = 'applied' ORDER BY run_id DESC LIMIT 1",
            (plan_hash,),
        ).fetchone()
    return (int(row[0]), row[1]) if row else None


def behaviour_changes(dsn: str, plan: Plan) -> list[str]:
    """The plan's behaviour changes in words, naming the roles on the target they reach."""
    lines: list[str] = []
    if not plan.behaviour_changes:
        return lines
    with connect(dsn) as conn:
        for b in plan.behaviour_changes:
            if b.kind != "enable_rls":
                lines.append(b.message)
                continue
            roles = affected_roles(conn, b.table, b.force)
            who = ", ".join(roles) if roles else "no role holds a privilege on it yet"
            lines.append(f"{b.message}; roles affected: {who}")
    return lines
