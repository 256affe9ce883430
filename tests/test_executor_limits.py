"""The executor's limits and backfill loop against a real PostgreSQL: lock_timeout and
statement_timeout per kind of step, bounded retries, the keyset backfill walking the primary
key index (EXPLAIN), its progress, and its pacing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.helpers import cli
from wesley.cli.run_options import run_settings
from wesley.config import load_config
from wesley.db.apply import apply_script
from wesley.db.backfill import Backfiller, BackfillStats
from wesley.db.executor import ExecOptions, Executor, StepFailed
from wesley.db.records import StepRecord
from wesley.errors import WesleyError
from wesley.ir import ir_hash
from wesley.plan.build import build_plan
from wesley.plan.models import Step
from wesley.plan.timeouts import Pacing, Timeouts
from wesley.sdl import parse_sdl
from wesley.targets.postgres import postgres

OLD = "type Event @wes_table { id: BigInt! @wes_pk  name: String }"
NEW = (
    "type Event @wes_table { id: BigInt! @wes_pk  name: String @wes_index\n"
    '  token: UUID! @wes_default(expr: "gen_random_uuid()") }'
)
ROWS = 20_000


def _event_table(dsn: str, rows: int = ROWS) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        apply_script(conn, postgres(parse_sdl(OLD).ir)[0].text)
        conn.execute(
            "INSERT INTO event (id, name) SELECT g, 'e' || g FROM generate_series(1, %s) g",
            (rows,),
        )
        conn.execute("VACUUM ANALYZE event")


def _run(dsn: str, options: ExecOptions) -> tuple[dict[str, tuple[str, str]], list[StepRecord]]:
    """Runs the plan; per step op, the (lock_timeout, statement_timeout) it ran under, and
    the backfill's progress records."""
    plan = build_plan(parse_sdl(OLD).ir, parse_sdl(NEW).ir, batch_size=1000)
    seen: dict[str, tuple[str, str]] = {}
    batches: list[StepRecord] = []
    holder: list[Executor] = []

    def progress(event: str, step: Step, rec: StepRecord | None) -> None:
        if event == "batch" and rec is not None:
            batches.append(rec)
        if event == "done":
            conn = holder[0].work
            assert conn is not None
            lock = conn.execute("SHOW lock_timeout").fetchone()
            statement = conn.execute("SHOW statement_timeout").fetchone()
            assert lock and statement
            seen[step.op] = (str(lock[0]), str(statement[0]))

    with Executor(dsn, plan, ir_hash(parse_sdl(NEW).ir), options, progress) as ex:
        holder.append(ex)
        ex.run()
    return seen, batches


def test_every_step_runs_under_its_lock_and_statement_timeout(pg_dsn: str) -> None:
    _event_table(pg_dsn)
    seen, batches = _run(pg_dsn, ExecOptions())
    # defaults: lock_timeout 500 ms everywhere; catalog-only steps 5 s, scans 1 h
    assert {lock for lock, _ in seen.values()} == {"500ms"}
    assert seen["add_column"][1] == "5s"
    assert seen["set_not_null"][1] == "5s"
    assert seen["validate_check"][1] == "1h"
    assert seen["create_index"][1] == "1h"  # CONCURRENTLY, outside a transaction
    # progress: rows done of an estimated total, a rate
    assert batches and batches[-1].rows == ROWS
    assert all(b.rows_total == ROWS and b.rows_per_s for b in batches)
    assert [b.rows for b in batches] == sorted(b.rows or 0 for b in batches)


def test_the_limits_come_from_the_options(pg_dsn: str) -> None:
    _event_table(pg_dsn, 100)
    limits = Timeouts(lock_ms=1234, statement_ms=4321, scan_ms=98765)
    seen, _ = _run(pg_dsn, ExecOptions(timeouts=limits))
    assert {lock for lock, _ in seen.values()} == {"1234ms"}
    assert seen["add_column"][1] == "4321ms" and seen["validate_check"][1] == "98765ms"


def _explain(conn: psycopg.Connection[Any], sql: str, params: dict[str, Any]) -> str:
    row = conn.execute(f"EXPLAIN (FORMAT JSON) {sql}".encode(), params, prepare=False).fetchone()
    assert row is not None
    return json.dumps(row[0])


def test_each_backfill_batch_is_an_index_range_scan(pg_dsn: str) -> None:
    """The new column has no statistics: a batch that filtered on it with ORDER BY + LIMIT
    would seq-scan and sort the table every time (quadratic). Bounded by two keys, it walks
    the primary key index whatever the planner knows about the column."""
    _event_table(pg_dsn, 50_000)
    plan = build_plan(parse_sdl(OLD).ir, parse_sdl(NEW).ir)
    step = next(s for s in plan.steps if s.backfill)
    spec = step.backfill
    assert spec is not None and spec.next_bound_sql and spec.first_bound_sql
    assert spec.batch_sql
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        for s in plan.steps:
            if s.phase == "expand" and s.column == "token":
                conn.execute(s.sql.encode())
        plans = [
            _explain(conn, spec.first_bound_sql, {}),
            _explain(conn, spec.next_bound_sql, {"after": 25_000}),
            _explain(conn, spec.batch_sql, {"lo": 25_001, "hi": 26_000}),
        ]
        # the same at the far end, where the walk would be slowest if it rescanned
        plans.append(_explain(conn, spec.batch_sql, {"lo": 49_001, "hi": 50_000}))
        # and once statistics say the column is nearly filled (autovacuum's ANALYZE during a
        # long backfill): a batch that filtered `token IS NULL ... ORDER BY id LIMIT n` then
        # seq-scans and sorts the whole table, twice per batch
        conn.execute("UPDATE event SET token = gen_random_uuid() WHERE id <= 49000")
        conn.execute("ANALYZE event")
        plans.append(_explain(conn, spec.next_bound_sql, {"after": 20_000}))
        plans.append(_explain(conn, spec.batch_sql, {"lo": 20_001, "hi": 21_000}))
        # sent as prepared statements (as before issue 13), after five runs PostgreSQL may use
        # the generic plan, which must walk the index as well
        conn.execute("SET plan_cache_mode = force_generic_plan")
        bound = spec.next_bound_sql.replace("%(after)s", "$1")
        batch = spec.batch_sql.replace("%(lo)s", "$1").replace("%(hi)s", "$2")
        conn.execute(f"PREPARE wesley_bound (bigint) AS {bound}".encode())
        conn.execute(f"PREPARE wesley_batch (bigint, bigint) AS {batch}".encode())
        plans.append(_explain(conn, "EXECUTE wesley_bound (20000)", {}))
        plans.append(_explain(conn, "EXECUTE wesley_batch (20001, 21000)", {}))
    for text in plans:
        assert "Seq Scan" not in text, text
        assert "event_pkey" in text, text
        assert '"Node Type": "Sort"' not in text or "Limit" in text  # only the top-1 of 1,000


def test_a_batch_that_application_sessions_wait_on_makes_the_next_pause_longer() -> None:
    pacing = Pacing(pause_ms=0, max_pause_ms=400)
    backfiller = Backfiller.__new__(Backfiller)  # only the pacing rule, no connection
    backfiller.pacing, backfiller.stats = pacing, BackfillStats()
    pauses = []
    for waiting in (1, 1, 1, 1, 1, 1, 0, 0, 0, 0):
        backfiller._pace(waiting, batch_ms=30.0)
        pauses.append(backfiller.stats.pause_ms)
    assert pauses[:6] == [30.0, 60.0, 120.0, 240.0, 400.0, 400.0]  # doubled, capped
    assert pauses[6:] == [200.0, 100.0, 50.0, 25.0]  # halved back while nobody waits
    assert backfiller.stats.contended == 6


def test_lock_retries_are_bounded(pg_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    _event_table(pg_dsn, 10)
    Path("old.graphql").write_text(OLD, encoding="utf-8")
    Path("new.graphql").write_text(NEW, encoding="utf-8")
    holder = psycopg.connect(pg_dsn)
    try:
        holder.execute("LOCK TABLE event IN ACCESS SHARE MODE")  # blocks ACCESS EXCLUSIVE
        result = cli(
            capsys,
            "rehearse",
            "--from",
            "old.graphql",
            "--schema",
            "new.graphql",
            "--dsn",
            pg_dsn,
            "--lock-timeout",
            "50",
            "--lock-retries",
            "2",
            "--retry-backoff",
            "10",
            "--json",
        )
    finally:
        holder.close()
    assert result.code == 13, result.stdout
    error = result.json()["error"]
    assert error["code"] == "LOCK_TIMEOUT"
    assert "could not get its lock within 50 ms, 3 times" in error["message"]
    # it waited without queueing while the old transaction held the table, and says who
    assert "(client backend) has held AccessShareLock on event" in error["message"]


def test_wesley_toml_sets_the_limits_and_flags_win() -> None:
    Path("wesley.toml").write_text(
        "[timeouts]\nlock_timeout_ms = 800\nlock_retries = 3\nscan_timeout_ms = 60000\n"
        "[backfill]\npause_ms = 5\nmax_replication_lag_ms = 100\n",
        encoding="utf-8",
    )
    timeouts, pacing = run_settings(load_config(), {"lock_ms": None, "retries": 7})
    assert (timeouts.lock_ms, timeouts.retries, timeouts.scan_ms) == (800, 7, 60_000)
    assert timeouts.statement_ms == Timeouts().statement_ms
    assert (pacing.pause_ms, pacing.max_lag_ms) == (5, 100)
    for bad in ('[timeouts]\nlock_timeout_ms = "fast"\n', "[timeouts]\nlock_timout_ms = 1\n"):
        Path("wesley.toml").write_text(bad, encoding="utf-8")
        with pytest.raises(WesleyError) as caught:
            run_settings(load_config(), {})
        assert caught.value.code == "CONFIG_INVALID"


def test_backfill_progress_reads_rows_total_rate_and_eta() -> None:
    from wesley.cli.progress import rows_line

    rec = StepRecord(
        id="008-backfill-user.token",
        phase="backfill",
        op="backfill",
        status="pending",
        rows=120_000,
        rows_total=300_000,
        rows_per_s=52_000.0,
    )
    assert rows_line(rec) == "120,000 / ≈300,000 rows (40%), 52,000 rows/s, ETA 3 s"


def test_a_queued_step_stalls_writers_at_most_its_lock_timeout(pg_dsn: str) -> None:
    """With no retry left, the step asks for its lock behind an old holder and queues: the
    application's writes queue behind it, for no longer than lock_timeout."""
    import threading
    import time

    _event_table(pg_dsn, 10)
    lock_ms, margin_ms = 300, 250
    plan = build_plan(parse_sdl(OLD).ir, parse_sdl(NEW).ir)
    holder = psycopg.connect(pg_dsn)
    holder.execute("LOCK TABLE event IN ACCESS SHARE MODE")
    stop, latencies = threading.Event(), []

    def app() -> None:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            n = 1_000_000
            while not stop.is_set():
                n += 1
                t0 = time.monotonic()
                conn.execute("INSERT INTO event (id) VALUES (%s)", (n,))
                latencies.append((time.monotonic() - t0) * 1000)
                time.sleep(0.005)

    worker = threading.Thread(target=app)
    worker.start()
    options = ExecOptions(timeouts=Timeouts(lock_ms=lock_ms, retries=0))
    try:
        with (
            pytest.raises(StepFailed) as failed,
            Executor(pg_dsn, plan, ir_hash(parse_sdl(NEW).ir), options) as ex,
        ):
            ex.run()
    finally:
        stop.set()
        worker.join(timeout=30)
        holder.close()
    assert failed.value.code == "LOCK_TIMEOUT"
    assert "could not get its lock within 300 ms, 1 times" in failed.value.message
    assert max(latencies) > lock_ms / 2, "the app never queued behind the step"
    assert max(latencies) < lock_ms + margin_ms, sorted(latencies)[-3:]
