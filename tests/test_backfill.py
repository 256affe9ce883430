"""The batched backfill fills every row, in batches, and ends while the application keeps
inserting."""

from __future__ import annotations

import threading
import time

import psycopg

from tests.plan_apply import apply_plan, run_backfill
from wesley.db.apply import apply_script
from wesley.plan.build import build_plan
from wesley.sdl import parse_sdl
from wesley.targets.postgres import postgres

OLD = "type Event @wes_table { id: Int! @wes_pk  name: String }"
NEW = (
    "type Event @wes_table { id: Int! @wes_pk  name: String\n"
    '  token: UUID! @wes_default(expr: "gen_random_uuid()") }'
)


def test_backfill_under_concurrent_inserts(pg_dsn: str) -> None:
    old, new = parse_sdl(OLD).ir, parse_sdl(NEW).ir
    plan = build_plan(old, new, batch_size=100)
    step = next(s for s in plan.steps if s.backfill)
    assert step.backfill is not None and step.backfill.key == "id"
    assert "LIMIT 100" in str(step.backfill.next_bound_sql)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        apply_script(conn, postgres(old)[0].text)
        conn.execute("INSERT INTO event (id) SELECT g FROM generate_series(1, 2500) g")
        before = [s for s in plan.steps if s.phase == "expand"]
        apply_plan(conn, plan.model_copy(update={"steps": before}))
        stop = threading.Event()
        inserted = 0

        def writer() -> None:
            nonlocal inserted
            with psycopg.connect(pg_dsn, autocommit=True) as w:
                n = 100_000
                while not stop.is_set():
                    w.execute("INSERT INTO event (id) VALUES (%s)", (n,))
                    n += 1
                    inserted += 1
                    time.sleep(0.001)

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            filled = run_backfill(conn, step)
        finally:
            stop.set()
            thread.join()
        assert filled == 2500  # new rows got the default, not the backfill
        assert inserted > 0
        assert conn.execute("SELECT count(*) FROM event WHERE token IS NULL").fetchone() == (0,)
        assert conn.execute(step.guard.encode()).fetchone() == (True,)
