"""The one executor behind `rehearse` and `deploy`.

- One statement at a time. Transactional steps each run in a short transaction *with their
  run record*, so a step is recorded applied exactly when its effect commits; CONCURRENTLY
  steps run in autocommit and are recorded after (their guard covers the gap).
- Three round trips per transactional step (wesley.db.session.run_batch): its limits, guard
  and what the lock observation needs before; BEGIN, the statement and the observation of its
  locks; its run record and COMMIT. A CONCURRENTLY statement is always sent alone.
- `lock_timeout` and `statement_timeout` per step, by kind (wesley.plan.timeouts); SQLSTATE
  55P03 (lock not available) is retried with jittered exponential backoff, a bounded number
  of times. An INVALID index left by a failed concurrent build is dropped (concurrently)
  before the build is tried again. Backfills run batch by batch (wesley.db.backfill).
- A step that fails on the data (VALIDATE finding a NULL) runs its `undo` first, so the run
  leaves no constraint behind that rejects the application's writes; the steps to redo are
  marked `undone`, and --resume runs them again.
- A session-level advisory lock for the whole run: a second run waits (`wait=True`, polling)
  or stops with the holder's pid.
- `wesley.migration_runs` / `wesley.migration_steps` record plan hash, step, status,
  attempts, timings and errors; `resume=True` skips recorded steps, and guards are the second
  line of defence. A plan an earlier run finished is not "interrupted": every step is skipped.
- Every step's locks are observed (pg_locks; relfilenode for rewrites; wesley.db.observe). A
  lock stronger than the plan predicted fails the step by name.
- Sessions come from `wesley.db.session` (standard_conforming_strings on); every guard, step
  and batch is sent as one statement through the extended protocol; a failure's hint shows
  the statement that was running. A lost connection is DB_CONNECTION_LOST, not a step error.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from pglast import ast, parse_sql
from psycopg.pq import TransactionStatus

from wesley.db import run_records, stages
from wesley.db.backfill import Backfiller, BackfillStats
from wesley.db.holders import Holder, holder_queries, holders_of
from wesley.db.migration_lock import ADVISORY_KEY as ADVISORY_KEY  # re-exported
from wesley.db.migration_lock import holder, locked_error
from wesley.db.observe import (
    BY_OID,
    OWN_LOCKS,
    PREDICTED,
    TABLES,
    LockRow,
    LockWatcher,
    Relations,
    as_relations,
    relations,
    rewritten,
    step_observation,
)
from wesley.db.progress import IndexProgress, Meter, builds_index
from wesley.db.records import StepRecord
from wesley.db.session import Params, connect, failed_at, lost, lost_error, run_batch, run_one
from wesley.errors import ExitCode, WesleyError
from wesley.plan.lockmodes import LockMode, strength
from wesley.plan.models import START_PHASES, LockEntry, Plan, Stage, Step
from wesley.plan.timeouts import Pacing, Timeouts, step_kind
from wesley.sqltext import quote_ident

LOCK_POLL_S = 0.2  # how often a run started with --wait tries the migration lock again
INTRANS, INERROR = TransactionStatus.INTRANS, TransactionStatus.INERROR
RECORDS_DDL = (
    "CREATE SCHEMA IF NOT EXISTS wesley",
    """CREATE TABLE IF NOT EXISTS wesley.migration_runs (
  run_id bigserial PRIMARY KEY,
  plan_hash text NOT NULL,
  ir_hash text NOT NULL,
  mode text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  status text NOT NULL DEFAULT 'running',
  operator text,
  cert_hash text,
  forced boolean NOT NULL DEFAULT false,
  error text,
  plan jsonb
)""",
    """CREATE TABLE IF NOT EXISTS wesley.migration_steps (
  plan_hash text NOT NULL,
  step_id text NOT NULL,
  run_id bigint NOT NULL,
  status text NOT NULL,
  attempts integer NOT NULL DEFAULT 1,
  started_at timestamptz NOT NULL,
  finished_at timestamptz NOT NULL DEFAULT now(),
  ms integer NOT NULL,
  observed jsonb,
  error text,
  PRIMARY KEY (plan_hash, step_id)
)""",
    *run_records.RECORDS_DDL,
)


@dataclass(frozen=True)
class ExecOptions:
    mode: str = "rehearse"  # or "deploy": written to the run record
    timeouts: Timeouts = field(default_factory=Timeouts)
    pacing: Pacing = field(default_factory=Pacing)
    wait: bool = False
    resume: bool = False
    deadline: float | None = None  # time.monotonic() value
    operator: str | None = None
    cert_hash: str | None = None
    forced: bool = False


@dataclass
class StepFailed(Exception):
    step: str
    message: str
    hint: str
    code: str = "STEP_FAILED"
    # The run's steps so far, the failed one last (status "failed") when it had started.
    steps: list[StepRecord] = field(default_factory=list)


class _HeldLong(Exception):
    """An old transaction holds a lock the step would queue behind: wait without asking."""


@dataclass
class RunResult:
    run_id: int
    steps: list[StepRecord] = field(default_factory=list)


Progress = Callable[[str, Step, StepRecord | None], None]
Batch = list[tuple[str, Params]]


@dataclass
class _Ahead:
    """What the first round trip of a step found: whether its guard says it is done, old
    transactions it would queue behind, an INVALID index left by a failed build, and the
    relations as they are before it (wesley.db.observe)."""

    done: bool
    holders: list[Holder] | None  # None: not asked
    invalid_index: bool
    before: Relations


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _entries(locks: dict[str, LockMode]) -> list[LockEntry]:
    return [LockEntry(relation=r, mode=m) for r, m in sorted(locks.items())]


# whether the index a failed CREATE INDEX CONCURRENTLY left is INVALID
_INVALID_INDEX = "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)"


def _index_name(sql: str) -> str | None:
    try:
        stmt = parse_sql(sql)[0].stmt
    except Exception:
        return None
    return stmt.idxname if isinstance(stmt, ast.IndexStmt) else None


class Executor:
    def __init__(
        self,
        dsn: str,
        plan: Plan,
        ir_hash: str,
        options: ExecOptions,
        progress: Progress | None = None,
        meter: Meter | None = None,
    ) -> None:
        self.dsn, self.plan, self.ir_hash, self.opt = dsn, plan, ir_hash, options
        self.progress = progress or (lambda event, step, record: None)
        self.meter = meter  # how far an index build is, for the user watching
        self.control: psycopg.Connection[Any] | None = None
        self._limits_set: tuple[int, int] | None = None
        self._holders: list[Holder] = []
        self.work: psycopg.Connection[Any] | None = None
        self._stage: Stage = "all"
        self.statement = ""  # the statement last sent: a failure's hint shows it

    # ---- connections, advisory lock, records -------------------------------------------
    def _connect(self) -> psycopg.Connection[Any]:
        return connect(self.dsn, application_name="wesley")

    def _sql(self, sql: str, params: Params = None) -> psycopg.Cursor[Any]:
        """One statement of the plan (guard, step, batch) on the work connection."""
        assert self.work is not None
        self.statement = sql
        return run_one(self.work, sql, params)

    def _batch(self, batch: Batch) -> list[psycopg.Cursor[Any]]:
        """Statements on the work connection in one round trip; when one fails, a failure's
        hint shows it."""
        assert self.work is not None
        sent: list[psycopg.Cursor[Any]] = []
        try:
            return run_batch(self.work, batch, sent)
        except psycopg.Error:
            failed = batch[failed_at(batch, sent)][0]
            if failed not in ("BEGIN", "COMMIT"):  # else the step's own statement says more
                self.statement = failed
            raise

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """The caller sends BEGIN and COMMIT in its batches; on any exception this rolls back
        what is left open (a failed statement leaves the transaction aborted)."""
        assert self.work is not None
        try:
            yield
        except BaseException:
            if self.work.info.transaction_status in (INTRANS, INERROR):
                with contextlib.suppress(psycopg.Error):  # a lost session: the error says so
                    run_one(self.work, "ROLLBACK")
            raise

    def __enter__(self) -> Executor:
        try:
            self.control = self._connect()
            self._lock()
            self.work = self._connect()
            # statement_timeout is set per step (_limits): the run's own bookkeeping runs
            # without one
            self.work.execute(f"SET lock_timeout = {int(self.opt.timeouts.lock_ms)}")
            self._limits_set = (self.opt.timeouts.lock_ms, 0)
        except BaseException:
            self.__exit__()  # __exit__ is not called when __enter__ raises
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for conn in (self.work, self.control):  # closing the session releases the lock
            if conn is not None:
                conn.close()

    def _lock(self) -> None:
        """Take the migration lock, or say who holds it. `wait` polls with the non-blocking
        pg_try_advisory_lock: a blocking pg_advisory_lock keeps a statement (and its snapshot)
        open while it waits, and the holder's CREATE INDEX CONCURRENTLY waits for every older
        snapshot, so the two runs would wait for each other unseen by deadlock detection."""
        assert self.control is not None
        while True:
            row = self.control.execute(
                "SELECT pg_try_advisory_lock(%s)", (ADVISORY_KEY,)
            ).fetchone()
            if row and row[0]:
                return
            pid = holder(self.control) or "unknown"
            if not self.opt.wait:
                raise locked_error(self.dsn, pid)
            if self.opt.deadline is not None and time.monotonic() > self.opt.deadline:
                raise WesleyError(
                    "TIMEOUT",
                    f"the run's --timeout was reached waiting for the migration lock held by "
                    f"backend pid {pid}",
                    "raise --timeout; nothing was applied",
                    exit_code=ExitCode.EXECUTION_FAILED,
                    details={"holder_pid": pid},
                )
            time.sleep(LOCK_POLL_S)

    def _records(self) -> int:
        """The record tables (made when missing), earlier runs left `running` closed, and this
        run's row, in one round trip (one implicit transaction)."""
        stage = self._stage
        mode = self.opt.mode + ("" if stage in ("all", "start") else f" --{stage}")
        insert = (
            "INSERT INTO wesley.migration_runs (plan_hash, ir_hash, mode, operator, cert_hash, "
            "forced, plan) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING run_id",
            (
                self.plan.plan_hash,
                self.ir_hash,
                mode,
                self.opt.operator,
                self.opt.cert_hash,
                self.opt.forced,
                json.dumps(self.plan.to_json_data()),  # deploy --resume continues this plan
            ),
        )
        batch: Batch = [
            *((ddl, None) for ddl in RECORDS_DDL),
            run_records.close_dead_runs_sql(),
            insert,
        ]
        row = self._batch(batch)[-1].fetchone()
        assert row is not None
        return int(row[0])

    def _done_sql(self, statuses: tuple[str, ...]) -> tuple[str, Params]:
        return (
            "SELECT step_id FROM wesley.migration_steps WHERE plan_hash = %s AND status = ANY(%s)",
            (self.plan.plan_hash, list(statuses)),
        )

    def _finished_before(self, run_id: int) -> bool:
        """Whether an earlier run applied this whole plan (say, the run a --wait waited for),
        or, for a two-stage plan, its expand."""
        assert self.work is not None
        row = self.work.execute(
            "SELECT EXISTS (SELECT 1 FROM wesley.migration_runs WHERE plan_hash = %s "
            "AND status IN ('applied', 'expanded', 'completed') AND run_id <> %s)",
            (self.plan.plan_hash, run_id),
        ).fetchone()
        return bool(row and row[0])

    def _record(self, run_id: int, step: Step, rec: StepRecord, attempts: int) -> None:
        """The run record of a step that ran outside a transaction of its own (skipped,
        CONCURRENTLY, a backfill): one statement in autocommit, its own transaction."""
        self._batch([self._record_sql(run_id, step, rec, attempts)])

    def _record_sql(
        self, run_id: int, step: Step, rec: StepRecord, attempts: int
    ) -> tuple[str, Params]:
        observed = json.dumps([e.model_dump() for e in rec.observed_locks])
        return (
            "INSERT INTO wesley.migration_steps (plan_hash, step_id, run_id, status, attempts, "
            "started_at, ms, observed, error) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (plan_hash, step_id) DO UPDATE SET run_id = EXCLUDED.run_id, "
            "status = EXCLUDED.status, attempts = wesley.migration_steps.attempts + "
            "EXCLUDED.attempts, started_at = EXCLUDED.started_at, finished_at = now(), "
            "ms = EXCLUDED.ms, observed = EXCLUDED.observed, error = EXCLUDED.error",
            (
                self.plan.plan_hash,
                step.id,
                run_id,
                rec.status,
                attempts,
                rec.started,
                rec.ms,
                observed,
                rec.error,
            ),
        )

    def _finish(self, run_id: int, status: str, error: str | None) -> None:
        assert self.work is not None
        self.work.execute(
            "UPDATE wesley.migration_runs SET finished_at = now(), status = %s, error = %s "
            "WHERE run_id = %s",
            (status, error, run_id),
        )

    # ---- running ------------------------------------------------------------------------
    def run(self, stage: Stage = "all") -> RunResult:
        """Run the plan's steps of `stage` (wesley.plan.models.Plan.stage_steps): `all` runs
        every step; a two-stage plan's `start` stops after the switch (its run is recorded
        `expanded`), `complete` runs the contract, `abort` rolls an expand back."""
        try:
            return self._run(stage)
        except psycopg.OperationalError as exc:
            if lost(self.work, exc) or lost(self.control, exc):
                raise lost_error(exc, self.dsn, "the run's bookkeeping") from None
            raise

    def _run(self, stage: Stage) -> RunResult:
        assert self.work is not None
        self._stage = stage
        run_id = self._records()
        steps = self.plan.stage_steps(stage)
        ending = stage in ("complete", "abort")
        batch = [self._done_sql(("applied",))]
        if ending:
            batch.append(self._done_sql(("applied", "skipped")))
        if self.plan.compat is not None:
            # whether --complete already changed names the earlier steps use (then they were
            # all done, and their guards may not run any more)
            batch.append((self.plan.compat.contract_begun, None))
        cursors = self._batch(batch)
        done = {r[0] for r in cursors[0].fetchall()}
        begun = False
        if self.plan.compat is not None:
            row = cursors[-1].fetchone()
            begun = bool(row and row[0])
        if ending:
            try:
                finished = {r[0] for r in cursors[1].fetchall()}
                stages.check_stage(self.work, self.plan, stage, finished, begun)
            except WesleyError as refused:
                self._finish(run_id, "refused", refused.message)
                raise
        elif begun:
            done |= {s.id for s in steps if s.phase in START_PHASES}
        ours = done & {s.id for s in steps}
        resumable = self.opt.resume or stage in ("complete", "abort")
        if ours and not resumable and not self._finished_before(run_id):
            self._finish(run_id, "refused", "an earlier run of this plan did not finish")
            raise WesleyError(
                "RUN_INTERRUPTED",
                f"an earlier run of this plan stopped after {len(ours)} of {len(steps)} steps",
                "rerun with --resume to continue from where it stopped",
                exit_code=ExitCode.EXECUTION_FAILED,
            )
        result = RunResult(run_id)
        try:
            for step in steps:
                self._check_deadline(step)
                if step.id in done:
                    rec = StepRecord(
                        id=step.id,
                        phase=step.phase,
                        op=step.op,
                        status="skipped",
                        predicted_locks=step.locks,
                        predicted_rewrite=step.rewrite,
                    )
                    result.steps.append(rec)
                    self.progress("skipped", step, rec)
                    continue
                self.progress("start", step, None)
                rec = self._run_step(run_id, step)
                result.steps.append(rec)
                self.progress("done", step, rec)
        except StepFailed as failure:
            failure.steps = [*result.steps, *failure.steps]
            if failure.code != "DB_CONNECTION_LOST":  # else there is no session to record it
                self._finish(run_id, "failed", f"{failure.step}: {failure.message}")
            raise
        with self._transaction():
            self._batch(
                [("BEGIN", None), *stages.finish_sql(self.plan, stage, run_id), ("COMMIT", None)]
            )
        return result

    def _check_deadline(self, step: Step) -> None:
        if self.opt.deadline is not None and time.monotonic() > self.opt.deadline:
            raise StepFailed(
                step.id,
                "the run's --timeout was reached before this step",
                "raise --timeout; applied steps are recorded, --resume continues",
                "TIMEOUT",
            )

    def _run_step(self, run_id: int, step: Step) -> StepRecord:
        assert self.work is not None
        rec = StepRecord(
            id=step.id,
            phase=step.phase,
            op=step.op,
            status="applied",
            started=_now(),
            predicted_locks=step.locks,
            predicted_rewrite=step.rewrite,
        )
        start = time.monotonic()
        try:
            return self._attempts(run_id, step, rec, start)
        except StepFailed as failed:
            rec.status, rec.error = "failed", failed.message
            rec.ms = int((time.monotonic() - start) * 1000)
            failed.steps = [rec]
            raise

    def _attempts(self, run_id: int, step: Step, rec: StepRecord, start: float) -> StepRecord:
        assert self.work is not None
        attempts = 0
        while True:
            attempts += 1
            try:
                ahead = self._ahead(step, attempts)
                if ahead.done:
                    rec.status = "skipped"
                    rec.ms = int((time.monotonic() - start) * 1000)
                    self._record(run_id, step, rec, attempts)
                    return rec
                if ahead.holders is not None:
                    self._holders = ahead.holders
                    if ahead.holders:
                        raise _HeldLong
                if ahead.invalid_index:
                    self._drop_invalid_index(step)
                self._execute(run_id, step, rec, attempts, start, ahead.before)
                return rec
            except (psycopg.errors.LockNotAvailable, _HeldLong):
                t = self.opt.timeouts
                if attempts > t.retries:
                    who = "; ".join(h.describe() for h in self._holders[:3])
                    raise StepFailed(
                        step.id,
                        f"could not get its lock within {t.lock_ms} ms, {attempts} times"
                        + (f" ({who})" if who else ""),
                        "a long transaction holds a conflicting lock: find it in pg_stat_activity"
                        ", or raise --lock-timeout / --lock-retries",
                        "LOCK_TIMEOUT",
                    ) from None
                rec.retries += 1
                self._check_deadline(step)
                time.sleep(t.backoff(attempts, random.random()) / 1000)
            except psycopg.errors.QueryCanceled:
                raise StepFailed(
                    step.id,
                    "was cancelled by the time limit",
                    "raise --timeout; applied steps are recorded, --resume continues",
                    "TIMEOUT",
                ) from None
            except psycopg.Error as exc:
                if lost(self.work, exc):
                    err = lost_error(exc, self.dsn, f"step {step.id}")
                    raise StepFailed(
                        step.id,
                        err.message,
                        f"{err.hint}; the statement was: {self.statement[:300]}",
                        err.code,
                    ) from None
                message = exc.diag.message_primary or str(exc)
                if step.undo is not None:
                    raise self._undo(run_id, step, message) from None
                raise StepFailed(
                    step.id,
                    message,
                    f"SQLSTATE {exc.sqlstate}; the statement was: {self.statement[:300]}",
                    "STEP_FAILED",
                ) from None

    def _ahead(self, step: Step, attempts: int) -> _Ahead:
        """The step's first round trip: its limits (wesley.plan.timeouts), its guard; for a
        write-blocking step, old transactions holding a lock it would queue behind
        (wesley.db.holders: it then waits without queueing, so writers go on); for a
        CONCURRENTLY build, whether a failed one left its index INVALID; and what the lock
        observation needs from before the statement (wesley.db.observe). Read-only but for
        the limits, which a failure here takes back (they are sent again)."""
        batch: Batch = self._limit_statements(self.opt.timeouts.statement_for(step_kind(step)))
        guard = len(batch)
        batch.append((step.guard, None))
        asks = attempts <= self.opt.timeouts.retries and step.transactional and step.blocks.writes
        holders = len(batch)
        if asks:
            batch += holder_queries(step, self.opt.timeouts.lock_ms // 2)
        index = _index_name(step.sql) if not step.transactional else None
        invalid = len(batch)
        if index is not None:
            batch.append((_INVALID_INDEX, (quote_ident(index),)))
        before = len(batch)
        if step.backfill is not None:
            pass  # a backfill's batches are not observed
        elif step.transactional:
            batch.append((PREDICTED, ([lk.relation for lk in step.locks],)))
        else:
            batch.append((TABLES, None))  # the watcher's names; a rewrite shows against them
        try:
            cursors = self._batch(batch)
        except BaseException:
            self._limits_set = None
            raise
        row = cursors[guard].fetchone()
        found = cursors[invalid].fetchone() if index is not None else None
        return _Ahead(
            done=bool(row and row[0]),
            holders=(
                [h for cur in cursors[holders:invalid] for h in holders_of(cur.fetchall())]
                if asks
                else None
            ),
            invalid_index=bool(found and found[0]),
            before=as_relations(cursors[before].fetchall()) if before < len(batch) else {},
        )

    def _undo(self, run_id: int, step: Step, message: str) -> StepFailed:
        """Take back what the failed step's change left (the NOT VALID helper check), in one
        transaction with marking the steps that added it `undone` for --resume."""
        assert self.work is not None and step.undo is not None
        undo, conn, attempts = step.undo, self.work, 0
        where = ".".join(x for x in (step.table, step.column) if x)
        nulls = ""
        if step.table and step.column and undo.hint is None:
            with contextlib.suppress(psycopg.Error):
                row = run_one(
                    conn,
                    f"SELECT count(*) FROM {quote_ident(step.table)} "
                    f"WHERE {quote_ident(step.column)} IS NULL",
                ).fetchone()
                nulls = f" ({row[0]} NULL rows now)" if row else ""
        while True:
            attempts += 1
            try:
                with conn.transaction():
                    self._sql(undo.sql)
                    run_one(
                        conn,
                        "UPDATE wesley.migration_steps SET status = 'undone', "
                        "finished_at = now() WHERE plan_hash = %s AND step_id = ANY(%s)",
                        (self.plan.plan_hash, undo.reopen),
                    )
                break
            except psycopg.errors.LockNotAvailable:
                if attempts > self.opt.timeouts.retries:
                    return StepFailed(
                        step.id,
                        f"{message}; taking it back failed too: {undo.sql}",
                        "run that statement yourself, fix the data, then rerun with --resume",
                        "VALIDATION_FAILED",
                    )
                time.sleep(self.opt.timeouts.backoff(attempts, random.random()) / 1000)
        return StepFailed(
            step.id,
            f"{message}{nulls}; the run took its check back ({undo.sql}), so the "
            "application's writes go on",
            undo.hint
            or f"the application wrote a NULL into {where} after the backfill: fill those rows "
            "(or stop writing NULL), then rerun with --resume",
            "VALIDATION_FAILED",
        )

    def _drop_invalid_index(self, step: Step) -> None:
        """A failed CREATE INDEX CONCURRENTLY leaves an INVALID index behind (`_ahead` found
        it): drop it first."""
        name = _index_name(step.sql)
        if name is not None:
            self._sql(f"DROP INDEX CONCURRENTLY IF EXISTS {quote_ident(name)}")

    def _limits(self, statement_ms: int) -> None:
        """The session's lock_timeout and statement_timeout for what runs next (one round
        trip, none when nothing changed)."""
        try:
            self._batch(self._limit_statements(statement_ms))
        except BaseException:
            self._limits_set = None
            raise

    def _limit_statements(self, statement_ms: int) -> Batch:
        """The SETs `_limits` sends; no statement may outlive the run's --timeout. Counted as
        set: whoever sends them resets `_limits_set` when they fail."""
        lock_ms = self.opt.timeouts.lock_ms
        if self.opt.deadline is not None:
            left = max(1, int((self.opt.deadline - time.monotonic()) * 1000))
            statement_ms = min(statement_ms, left) if statement_ms else left
        was = self._limits_set
        out: Batch = []
        if was is None or was[0] != lock_ms:
            out.append((f"SET lock_timeout = {int(lock_ms)}", None))
        if was is None or was[1] != statement_ms:
            out.append((f"SET statement_timeout = {int(statement_ms)}", None))
        self._limits_set = (lock_ms, statement_ms)
        return out

    def _execute(
        self,
        run_id: int,
        step: Step,
        rec: StepRecord,
        attempts: int,
        start: float,
        before: Relations,
    ) -> None:
        assert self.work is not None
        conn = self.work
        if step.backfill is not None:
            stats = self._backfill(step)
            rec.rows, rec.rows_total = stats.rows, stats.total
            rec.rows_per_s = round(stats.rate(), 1)
            rec.batch_ms_max = round(stats.max_batch_ms)
            rec.ms = int((time.monotonic() - start) * 1000)
            self._record(run_id, step, rec, attempts)
            return
        if step.transactional:
            with self._transaction():
                with self._index_progress(step, conn):
                    self.statement = step.sql  # a COMMIT that fails is this statement's
                    cursors = self._batch(
                        [
                            ("BEGIN", None),
                            (step.sql, None),
                            (OWN_LOCKS, (conn.info.backend_pid,)),
                        ]
                    )
                rows: list[LockRow] = cursors[2].fetchall()
                observed, rewrites = step_observation(
                    rows, before, [lk.relation for lk in step.locks], self._as_before
                )
                rec.observed_locks = _entries(observed)
                rec.rewrite = bool(rewrites)
                self._check_locks(step, observed)
                rec.ms = int((time.monotonic() - start) * 1000)
                self._batch([self._record_sql(run_id, step, rec, attempts), ("COMMIT", None)])
            return
        with (
            LockWatcher(self.dsn, conn.info.backend_pid, before) as watcher,
            self._index_progress(step, conn),
        ):
            self._sql(step.sql)
        rec.observed_locks = _entries(watcher.seen)
        rec.rewrite = bool(rewritten(before, relations(conn)))
        self._check_locks(step, watcher.seen)
        rec.ms = int((time.monotonic() - start) * 1000)
        self._record(run_id, step, rec, attempts)

    def _as_before(self, oids: list[int]) -> Relations:
        """Relations a step locked as they were before it: read from the control session,
        which does not see the step's transaction (wesley.db.observe)."""
        assert self.control is not None
        return as_relations(run_one(self.control, BY_OID, (oids,)).fetchall())

    def _index_progress(
        self, step: Step, conn: psycopg.Connection[Any]
    ) -> AbstractContextManager[object]:
        name = builds_index(step.sql) if self.meter is not None else None
        if name is None or self.meter is None:
            return nullcontext()
        return IndexProgress(self.dsn, conn.info.backend_pid, step.id, name, self.meter)

    def _backfill(self, step: Step) -> BackfillStats:
        """Keyset batches, then a sweep; each batch is its own short transaction."""
        assert self.work is not None

        def report(stats: BackfillStats) -> None:
            self.progress(
                "batch",
                step,
                StepRecord(
                    id=step.id,
                    phase=step.phase,
                    op=step.op,
                    status="pending",
                    rows=stats.rows,
                    rows_total=stats.total,
                    rows_per_s=round(stats.rate(), 1),
                ),
            )

        return Backfiller(
            self.work,
            step,
            self.opt.timeouts,
            self.opt.pacing,
            self._limits,
            report,
            lambda: self._check_deadline(step),
            self._sql,
        ).run()

    def _check_locks(self, step: Step, observed: dict[str, LockMode]) -> None:
        predicted = {lk.relation: lk.mode for lk in step.locks}
        for relation, mode in observed.items():
            want = predicted.get(relation)
            if want is None or strength(mode) > strength(want):
                raise StepFailed(
                    step.id,
                    f"took {mode} on {relation}; the plan predicted {want or 'no lock'}",
                    "the lock classifier is wrong for this statement: report it; the step was "
                    "rolled back if it was transactional",
                    "LOCK_STRONGER_THAN_PREDICTED",
                )
