"""A minimal plan applier for tests (the production executor is `wesley rehearse`): guard,
then the statement, each transactional step in its own transaction, CONCURRENTLY in
autocommit, backfills repeated until they update nothing.

With `observe=True` every step but the backfills is checked against PostgreSQL itself, and a
difference raises `LockMismatch`:
- the locks it holds (pg_locks) must equal the plan's prediction, relation for relation;
- a table rewritten (relfilenode changed) exactly when the plan says `rewrite`;
- the step's table read by a sequential scan exactly when the plan says `scan`, and no other
  existing table scanned when it says no scan.
A transactional step is read before its transaction commits (pg_stat_xact_user_tables for
its scans). A non-transactional step (CONCURRENTLY) runs while another session holds ROW
EXCLUSIVE on its table, so it must wait: its locks are read from a third session while it
waits (as tests/lock_harness.py does); its scans are the difference in
pg_stat_user_tables.seq_scan over the statement, the backend's statistics flushed before and
after (PostgreSQL ≥ 15: pg_stat_force_next_flush).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
from psycopg import sql

from tests.lock_harness import TABLE_KINDS, WAIT_TIMEOUT_S, _locks, _relations, _rewritten
from wesley.db.backfill import Backfiller
from wesley.plan.models import Plan, Step
from wesley.plan.timeouts import Pacing, Timeouts

_XACT_SCANS = "SELECT relid::int8 FROM pg_stat_xact_user_tables WHERE seq_scan > 0"
_SCANS = "SELECT relid::int8, seq_scan FROM pg_stat_user_tables"


class LockMismatch(AssertionError):
    pass


def _check(
    step: Step,
    observed: dict[str, str],
    kinds: dict[str, str],
    rewritten: frozenset[str],
    scanned: frozenset[str],
) -> None:
    predicted = {lk.relation: lk.mode for lk in step.locks}
    # tables, and other relations (an index being renamed) where the plan names them
    tables = {
        name: mode
        for name, mode in observed.items()
        if kinds.get(name) in TABLE_KINDS or name in predicted
    }
    where = f"{step.id} ({'' if step.transactional else 'non-'}transactional)"
    if tables != predicted:
        raise LockMismatch(f"{where}: predicted {predicted}, PostgreSQL took {tables}\n{step.sql}")
    if bool(rewritten) != step.rewrite:
        raise LockMismatch(
            f"{where}: predicted rewrite={step.rewrite}, observed {set(rewritten)}\n{step.sql}"
        )
    # a rewrite reads the table too; the step's own table is the one the plan speaks of
    own = step.table in scanned
    if own != step.scan or (not step.scan and scanned):
        raise LockMismatch(
            f"{where}: predicted scan={step.scan} of {step.table}, PostgreSQL scanned "
            f"{sorted(scanned) or 'nothing'}\n{step.sql}"
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


def _seq_scans(conn: psycopg.Connection[Any]) -> dict[int, int]:
    """Sequential scans per table so far, this backend's own counted (flushed first)."""
    _flush_stats(conn)
    conn.execute("SELECT pg_stat_clear_snapshot()")
    return {int(oid): int(n) for oid, n in conn.execute(_SCANS)}


def _flush_stats(conn: psycopg.Connection[Any]) -> None:
    """Hand this backend's pending statistics to the server: pg_stat_xact_* report what was
    not yet flushed, earlier transactions' scans included, unless flushed first."""
    conn.execute("SELECT pg_stat_force_next_flush()")
    conn.execute("SELECT 1")  # the flush happens when the backend goes idle


def _observe_transactional(conn: psycopg.Connection[Any], step: Step) -> None:
    _flush_stats(conn)
    before = _relations(conn)
    with conn.transaction():
        conn.execute(step.sql.encode())
        locks, kinds = _locks(conn, conn.info.backend_pid, before)
        scanned = frozenset(before[o][0] for (o,) in conn.execute(_XACT_SCANS) if o in before)
        _check(step, dict(locks), kinds, _rewritten(before, _relations(conn)), scanned)


def _observe_concurrently(conn: psycopg.Connection[Any], step: Step) -> None:
    """Run `step` (not in a transaction block) on `conn` while a session holds ROW EXCLUSIVE
    on its table; read its locks from a watcher while it waits for that session."""
    before = _relations(conn)
    table = step.table or ""
    exists = bool(table) and any(
        name == table and kind in TABLE_KINDS for name, kind, _ in before.values()
    )
    scans_before = _seq_scans(conn)
    dsn = conn.info.dsn
    pid = conn.info.backend_pid
    locks: dict[str, str] = {}
    kinds: dict[str, str] = {}
    with (
        psycopg.connect(dsn) as holder,
        psycopg.connect(dsn, autocommit=True) as watcher,
    ):
        if exists:
            holder.execute(
                sql.SQL("LOCK TABLE {} IN ROW EXCLUSIVE MODE").format(sql.Identifier(table))
            )
        failures: list[BaseException] = []

        def run() -> None:
            try:
                conn.execute(step.sql.encode())
            except BaseException as exc:  # re-raised below
                failures.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            if exists:
                _wait_until_waiting(watcher, pid, thread)
                got, kinds = _locks(watcher, pid, before, waiting=True)
                locks = dict(got)
        finally:
            holder.commit()
            thread.join(WAIT_TIMEOUT_S * 3)
        if failures:
            raise failures[0]
        if thread.is_alive():
            raise LockMismatch(f"{step.id}: still running after {WAIT_TIMEOUT_S * 3} s")
    after = _relations(conn)
    scans_after = _seq_scans(conn)
    scanned = frozenset(
        before[oid][0]
        for oid, n in scans_after.items()
        if oid in before and n > scans_before.get(oid, 0)
    )
    if not exists:
        raise LockMismatch(f"{step.id}: a non-transactional step on no existing table\n{step.sql}")
    _check(step, locks, kinds, _rewritten(before, after), scanned)


def _wait_until_waiting(
    watcher: psycopg.Connection[Any], pid: int, thread: threading.Thread
) -> None:

    deadline = time.monotonic() + WAIT_TIMEOUT_S
    while time.monotonic() < deadline:
        row = watcher.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = %s AND NOT granted)", (pid,)
        ).fetchone()
        if row and row[0]:
            return
        if not thread.is_alive():
            raise LockMismatch(f"backend {pid}: the statement did not wait for the table's writer")
        time.sleep(0.002)
    raise LockMismatch(f"backend {pid} never waited for the table's writer")


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
            if observe:
                _observe_transactional(conn, step)
            else:
                with conn.transaction():
                    conn.execute(step.sql.encode())
        elif observe:
            _observe_concurrently(conn, step)
        else:
            conn.execute(step.sql.encode())
        ran.append(step.id)
    return ran
