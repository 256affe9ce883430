"""A minimal plan applier for tests (the production executor is `wesley rehearse`): guard,
then the statement, each transactional step in its own transaction, CONCURRENTLY in
autocommit, backfills repeated until they update nothing."""

from __future__ import annotations

from typing import Any

import psycopg

from wesley.plan.models import Plan


def apply_plan(conn: psycopg.Connection[Any], plan: Plan) -> list[str]:
    """Returns the ids of the steps that ran (guards skip the rest)."""
    ran: list[str] = []
    assert conn.autocommit
    for step in plan.steps:
        row = conn.execute(step.guard.encode()).fetchone()
        if row is not None and row[0]:
            continue
        if step.backfill:
            while conn.execute(step.sql.encode()).rowcount > 0:
                pass
        elif step.transactional:
            with conn.transaction():
                conn.execute(step.sql.encode())
        else:
            conn.execute(step.sql.encode())
        ran.append(step.id)
    return ran
