"""Zero downtime, measured: while writer processes insert rows and update random old ones
(a share of them rows whose `price` is NULL), Wesley's deploy path (plan from the live
database, the production executor with its default timeouts) adds a NOT NULL column with a
volatile default and one with a stable default, tightens `price` to NOT NULL with a default,
and adds an FK, a unique, a check and indexes. No application write may fail, none may be lost
or applied twice, and the database must end as the new schema. The full-size judge, with the
naive comparison, is bench/traffic.py."""

from __future__ import annotations

from tests.traffic import (
    ItemWorkload,
    build_items,
    migrate_wesley,
    new_ir,
    under_traffic,
    window,
)
from wesley.db.executor import ExecOptions
from wesley.plan.timeouts import Pacing

ROWS = 20_000


def test_no_application_write_fails_or_is_lost_during_a_deploy(pg_dsn: str) -> None:
    build_items(pg_dsn, ROWS)
    new = new_ir()
    outcome = under_traffic(
        pg_dsn,
        "wesley",
        # A pause between batches (the production pacing knob) keeps the backfill long enough
        # for the writers to meet it on any machine: without it a fast one finishes the whole
        # deploy in ~100 writes and the judge sees too little.
        lambda: migrate_wesley(
            pg_dsn, new, ExecOptions(mode="deploy", pacing=Pacing(pause_ms=10)), batch_size=500
        )[1],
        ItemWorkload(rows=ROWS),
        new,
        writers=3,
        rate=100.0,
        warmup_s=0.3,
        baseline_s=0.3,
        tail_s=0.3,
    )
    # the judge saw real traffic, including updates of rows that were NULL
    backfills = [s for s in outcome.steps if s.name.split("-")[1] == "backfill"]
    assert backfills
    met = sum(window(outcome.samples, s.t0, s.t1).writes for s in backfills)
    assert met >= 100, (met, outcome.during)
    assert outcome.failed == 0, (outcome.failures, outcome.examples)
    assert outcome.integrity.ok, outcome.integrity.describe()
    assert outcome.leftover == []
