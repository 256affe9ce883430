"""The batched backfill loop (the plan's `Backfill`, see wesley.plan.models).

Each batch costs the same at any table size: the bound query reads the next `batch_size` keys
from the primary key index, and the update touches the rows between them through the same
index, in its own short transaction, skipping rows the application holds locked. Then the
closing sweep fills what was skipped.

Between batches it paces itself (wesley.plan.timeouts.Pacing): just before a batch commits it
asks which application sessions wait on it (`pg_blocking_pids`) and how far standbys lag
(`pg_stat_replication`); waiting sessions double the pause, none halve it, lag holds the next
batch back. Both views need pg_read_all_stats (or superuser) to see other roles' sessions;
without it the pause stays at its base.

A lock timeout (55P03) on a batch is retried with the step's backoff; after the last retry it
propagates, and the executor retries the step (the walk is idempotent: filled rows are no
longer NULL).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg

from wesley.db.session import Params, run_one
from wesley.plan.models import Backfill, Step
from wesley.plan.timeouts import Pacing, Timeouts

# sessions waiting on a lock this backend holds, and the worst standby replay lag (ms)
CONTENTION_SQL = (
    "SELECT (SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
    "AND pg_backend_pid() = ANY (pg_blocking_pids(pid))), "
    "(SELECT COALESCE(max(EXTRACT(epoch FROM replay_lag)) * 1000, 0) FROM pg_stat_replication)"
)
LAG_SQL = "SELECT COALESCE(max(EXTRACT(epoch FROM replay_lag)) * 1000, 0) FROM pg_stat_replication"
LAG_POLL_S = 0.2

T = TypeVar("T")


@dataclass
class BackfillStats:
    started: float = field(default_factory=time.monotonic)
    rows: int = 0
    total: int | None = None  # estimated rows to fill, from the catalog
    batches: int = 0
    contended: int = 0  # batches application sessions waited on
    pause_ms: float = 0.0  # the pause now
    max_batch_ms: float = 0.0  # the longest batch: the longest a write waited on its rows
    paused_s: float = 0.0  # time spent pausing (pacing and replication lag)
    retries: int = 0

    def elapsed(self) -> float:
        return max(time.monotonic() - self.started, 1e-9)

    def rate(self) -> float:
        """Rows per second so far."""
        return self.rows / self.elapsed()

    def eta_s(self) -> float | None:
        if self.total is None or self.rows == 0 or self.total <= self.rows:
            return None
        return (self.total - self.rows) / self.rate()


Run = Callable[[str, Params], "psycopg.Cursor[Any]"]


def _estimate(run: Run, spec: Backfill) -> int | None:
    if not spec.estimate_sql:
        return None
    row = run(spec.estimate_sql, None).fetchone()
    return int(row[0]) if row and row[0] is not None else None


class Backfiller:
    def __init__(
        self,
        conn: psycopg.Connection[Any],
        step: Step,
        timeouts: Timeouts,
        pacing: Pacing,
        limit: Callable[[int], None],
        report: Callable[[BackfillStats], None],
        check_deadline: Callable[[], None],
        run: Run | None = None,
    ) -> None:
        """`limit(ms)` sets the session's statement_timeout (the executor caps it by the run's
        deadline); `report` is called after every batch; `check_deadline` raises when the
        run's time is up; `run(sql, params)` sends one statement (default: run_one on `conn`,
        one prepared statement through the extended protocol)."""
        assert step.backfill is not None
        self.conn, self.step, self.spec = conn, step, step.backfill
        self.run_sql: Run = run or (lambda sql, params: run_one(conn, sql, params))
        self.timeouts, self.pacing = timeouts, pacing
        self.limit, self.report, self.check_deadline = limit, report, check_deadline
        self.stats = BackfillStats()
        self.rng = random.Random()

    def run(self) -> BackfillStats:
        self.stats.total = _estimate(self.run_sql, self.spec)
        self.stats.pause_ms = float(self.pacing.pause_ms)
        spec = self.spec
        if spec.first_bound_sql and spec.next_bound_sql and spec.batch_sql:
            self.limit(self.timeouts.statement_ms)
            self._walk(spec.first_bound_sql, spec.next_bound_sql, spec.batch_sql)
        # rows skipped because the application held them, and tables without a single-column
        # key: each pass finds its rows with a scan, so it runs under the long limit
        self.limit(self.timeouts.scan_ms)
        while (n := self._retrying(self._sweep)) > 0:
            self.stats.rows += n
            self.stats.batches += 1
            self.report(self.stats)
        return self.stats

    def _walk(self, first: str, following: str, batch: str) -> None:
        after: Any = None
        while True:
            self.check_deadline()
            if after is None:
                sql, params = first, {}
            else:
                sql, params = following, {"after": after}
            bounds = self._retrying(self._bounds, sql, params)
            if bounds is None or bounds[0] is None:
                return
            lo, hi = bounds
            t0 = time.monotonic()
            n, waiting, lag = self._retrying(self._batch, batch, lo, hi)
            batch_ms = (time.monotonic() - t0) * 1000
            self.stats.max_batch_ms = max(self.stats.max_batch_ms, batch_ms)
            self.stats.rows += n
            self.stats.batches += 1
            after = hi
            self._pace(waiting, batch_ms)
            self.report(self.stats)
            self._sleep(self.stats.pause_ms / 1000)
            if lag > self.pacing.max_lag_ms:
                self._wait_for_standbys()

    def _sweep(self) -> int:
        return max(self.run_sql(self.step.sql, None).rowcount, 0)

    def _bounds(self, sql: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
        # bounded by keys on both sides, its generic plan is an index range scan too
        return self.run_sql(sql, params).fetchone()

    def _batch(self, sql: str, lo: Any, hi: Any) -> tuple[int, int, float]:
        with self.conn.transaction():
            n = self.run_sql(sql, {"lo": lo, "hi": hi}).rowcount
            row = self.run_sql(CONTENTION_SQL, None).fetchone() if n else None
        waiting, lag = (int(row[0]), float(row[1])) if row else (0, 0.0)
        return max(n, 0), waiting, lag

    def _pace(self, waiting: int, batch_ms: float) -> None:
        s = self.stats
        if waiting:
            s.contended += 1
            s.pause_ms = min(float(self.pacing.max_pause_ms), max(s.pause_ms * 2, batch_ms, 1.0))
        else:
            s.pause_ms = max(float(self.pacing.pause_ms), s.pause_ms / 2)
            if s.pause_ms < 1.0:
                s.pause_ms = float(self.pacing.pause_ms)

    def _wait_for_standbys(self) -> None:
        while True:
            self.check_deadline()
            row = self.run_sql(LAG_SQL, None).fetchone()
            if row is None or float(row[0]) <= self.pacing.max_lag_ms / 2:
                return
            self._sleep(LAG_POLL_S)

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)
            self.stats.paused_s += seconds

    def _retrying(self, action: Callable[..., T], *args: Any) -> T:
        attempt = 0
        while True:
            attempt += 1
            try:
                return action(*args)
            except psycopg.errors.LockNotAvailable:
                if attempt > self.timeouts.retries:
                    raise
                self.stats.retries += 1
                self.check_deadline()
                self._sleep(self.timeouts.backoff(attempt, self.rng.random()) / 1000)
