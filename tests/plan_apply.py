"""A minimal plan applier for tests (the production executor is `wesley rehearse`): guard,
then the statement, each transactional step in its own transaction, CONCURRENTLY in
autocommit, backfills repeated until they update nothing.

With `observe=True` every transactional step is also checked against PostgreSQL itself:
before its transaction commits, the locks it holds (pg_locks) and whether a table was
rewritten (relfilenode) must equal what the plan predicted. CONCURRENTLY steps cannot be
observed from inside; the lock harness (tests/lock_harness.py) covers their statement kinds.
"""

from __future__ import annotations

from typing import Any

import psycopg

from tests.lock_harness import TABLE_KINDS, _locks, _relations, _rewritten
from wesley.db.backfill import Backfiller
from wesley.plan.models import Plan, Step
from wesley.plan.timeouts import Pacing, Timeouts


class LockMismatch(AssertionError):
    pass


def _check(
    step: Step, observed: dict[str, str], kinds: dict[str, str], rewritten: frozenset[str]
) -> None:
    predicted = {lk.relation: lk.mode for lk in step.locks}
    # tables, and other relations (an index being renamed) where the plan names them
    tables = {
        name: mode
        for name, mode in observed.items()
        if kinds.get(name) in TABLE_KINDS or name in predicted
    }
    if tables != predicted:
        raise LockMismatch(
            f"{step.id}: predicted {predicted}, PostgreSQL took {tables}\n{step.sql}"
        )
    if bool(rewritten) != step.rewrite:
        raise LockMismatch(
            f"{step.id}: predicted rewrite={step.rewrite}, observed {set(rewritten)}"
        )


def run_backfill(conn: psycopg.Connection[Any], step: Step) -> int:
    """The executor's backfill loop (keyset batches, then the sweep); returns rows filled."""

    def limit(ms: int) -> None:
        conn.execute(f"SET statement_timeout = {int(ms)}")

    stats = Backfiller(
        conn, step, Timeouts(), Pacing(), limit, lambda _stats: None, lambda: None
    ).run()
    limit(0)
    return stats.rows


def apply_plan(conn: psycopg.Connection[Any], plan: Plan, observe: bool = False) -> list[str]:
    """Returns the ids of the steps that ran (guards skip the rest)."""
    ran: list[str] = []
    assert conn.autocommit
    if observe and plan.server_version // 10000 != conn.info.server_version // 10000:
        raise AssertionError(
            f"a plan for PostgreSQL {plan.server_version} is checked against a "
            f"{conn.info.server_version} server: build it with "
            "server_version=conn.info.server_version (lock facts depend on the major)"
        )
    begun = plan.compat is not None and bool(
        (conn.execute(plan.compat.contract_begun.encode()).fetchone() or (False,))[0]
    )
    for step in plan.steps:
        if begun and step.phase != "contract":
            continue  # --complete has run: these were done, their names may be gone
        row = conn.execute(step.guard.encode()).fetchone()
        if row is not None and row[0]:
            continue
        if step.backfill:
            run_backfill(conn, step)
        elif step.transactional:
            before = _relations(conn) if observe else {}
            with conn.transaction():
                conn.execute(step.sql.encode())
                if observe:
                    locks, kinds = _locks(conn, conn.info.backend_pid, before)
                    _check(step, dict(locks), kinds, _rewritten(before, _relations(conn)))
        else:
            conn.execute(step.sql.encode())
        ran.append(step.id)
    return ran
