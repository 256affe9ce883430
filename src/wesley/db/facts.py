"""Runs the planner's questions (wesley.plan.facts) against a live database: the counts that
decide whether a change can work. Plain counts, each bounded in time; a count that takes
too long stays unknown (the planner then assumes the worst and says so)."""

from __future__ import annotations

from typing import Any

import psycopg

from wesley.db.session import run_one
from wesley.ir import IR
from wesley.plan.facts import Facts, Question, facts_from, questions

COUNT_TIMEOUT_MS = 60_000


def gather(conn: psycopg.Connection[Any], old: IR | None, new: IR) -> Facts:
    answers: dict[Question, int] = {}
    for q in questions(old, new):
        try:
            with conn.transaction():  # a savepoint when the caller's transaction is open
                run_one(conn, f"SET LOCAL statement_timeout = {COUNT_TIMEOUT_MS}")
                row = run_one(conn, q.sql).fetchone()
        except psycopg.errors.QueryCanceled:
            continue
        if row is not None:
            answers[q] = int(row[0])
    return facts_from(answers)
