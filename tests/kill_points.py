"""Kill points taken from a run's own progress, not from the clock: `wesley rehearse` and
`wesley deploy` record each finished step in `wesley.migration_steps`, so "kill once k steps
are recorded" (and, inside a backfill, "once this share of its rows is filled") lands at the
same place of the plan however loaded the machine is. Used by test_rehearse_kill.py and
test_deploy_kill.py."""

from __future__ import annotations

import random
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import psycopg

from wesley.plan.models import Plan
from wesley.sqltext import quote_ident

POLL_S = 0.002
WAIT_S = 120.0


@dataclass(frozen=True)
class KillPoint:
    steps: int  # kill once this many steps are recorded; -1: at once, before the run starts
    filled: float | None = None  # and, when step `steps` is a backfill, this share of it

    def describe(self, plan: Plan) -> str:
        if self.steps < 0:
            return "at launch"
        if self.steps >= len(plan.steps):
            return f"after all {len(plan.steps)} steps (tests, replan)"
        where = f"after {self.steps} steps, in {plan.steps[self.steps].id}"
        return where + (f" at {self.filled:.0%} filled" if self.filled is not None else "")


def kill_points(plan: Plan, kills: int, seed: int, launch: int = 0) -> list[KillPoint]:
    """`launch` kills at once, the others stratified over 0..len(steps) recorded steps (the
    end: the tests and replan after the last step), with a random share of a backfill."""
    rng = random.Random(seed)
    n = len(plan.steps)
    out = [KillPoint(-1) for _ in range(launch)]
    rest = kills - launch
    for i in range(rest):
        k = min(n, int((i + rng.random()) * (n + 1) / rest))
        backfill = k < n and plan.steps[k].backfill is not None
        out.append(KillPoint(k, rng.uniform(0.05, 0.9) if backfill else None))
    return out


def _recorded(conn: psycopg.Connection[Any]) -> int:
    """Steps recorded so far; -1 before the run made its tables."""
    row = conn.execute("SELECT to_regclass('wesley.migration_steps') IS NOT NULL").fetchone()
    if not (row and row[0]):
        return -1
    row = conn.execute("SELECT count(*) FROM wesley.migration_steps").fetchone()
    return int(row[0]) if row else -1


def _filled_sql(plan: Plan, point: KillPoint) -> str | None:
    """The share (0..1) of the rows whose column the backfill at `point` has filled."""
    if point.filled is None or point.steps >= len(plan.steps):
        return None
    step = plan.steps[point.steps]
    if step.backfill is None or step.table is None or step.column is None:
        return None
    col, table = quote_ident(step.column), quote_ident(step.table)
    return f"SELECT count({col})::float8 / greatest(count(*), 1) FROM {table}"


def wait_for(dsn: str, proc: subprocess.Popen[bytes], point: KillPoint, plan: Plan) -> bool:
    """Block until the run reached `point` (True) or ended first (False)."""
    if point.steps < 0:
        return proc.poll() is None
    filled_sql = _filled_sql(plan, point)
    deadline = time.monotonic() + WAIT_S
    with psycopg.connect(dsn, autocommit=True) as conn:
        while proc.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"the run never reached {point}")
            if _recorded(conn) >= point.steps:
                if point.filled is None or filled_sql is None:
                    return True
                try:
                    row = conn.execute(filled_sql).fetchone()
                except psycopg.errors.UndefinedColumn:
                    return True  # not there yet: the step has not begun
                if row and row[0] is not None and float(row[0]) >= point.filled:
                    return True
                time.sleep(POLL_S)
                continue
            time.sleep(POLL_S)
    return False
