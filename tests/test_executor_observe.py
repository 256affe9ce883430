"""The executor's lock observation (wesley.db.observe): one query in the step's transaction,
relations named as they were before the step, the ones it did not predict read from the run's
control session; and the statements it sends together (wesley.db.session.run_batch), the
pgTAP suite's among them."""

from __future__ import annotations

import psycopg
import pytest

from wesley.db.executor import ExecOptions, Executor, RunResult, StepFailed
from wesley.db.pgtap import run_suite
from wesley.db.records import StepRecord
from wesley.db.session import connect, failed_at, run_batch
from wesley.ir import IR, ir_hash
from wesley.plan.build import build_plan
from wesley.plan.locks import classify
from wesley.plan.models import Blocks, LockEntry, Step, with_hash


def _step(sql: str, version: int, locks: list[LockEntry] | None = None) -> Step:
    facts = classify(sql, version)
    return Step(
        id="001-test",
        phase="expand",
        op="test",
        sql=sql,
        locks=(
            [LockEntry(relation=lk.relation, mode=lk.mode) for lk in facts.locks]
            if locks is None
            else locks
        ),
        blocks=Blocks(reads=facts.blocks_reads, writes=facts.blocks_writes),
        risk=0,
        why="a test",
        guard="SELECT false",
    )


def _run(dsn: str, setup: str, sql: str, locks: list[LockEntry] | None = None) -> RunResult:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(setup.encode())
        version = conn.info.server_version
    empty = build_plan(None, IR(), server_version=version)
    plan = with_hash(empty.model_copy(update={"steps": [_step(sql, version, locks)]}))
    with Executor(dsn, plan, ir_hash(IR()), ExecOptions(), None) as ex:
        return ex.run()


def _observed(rec: StepRecord) -> dict[str, str]:
    return {e.relation: e.mode for e in rec.observed_locks}


def test_a_dropped_table_keeps_its_name(pg_dsn: str) -> None:
    (rec,) = _run(pg_dsn, "CREATE TABLE gone (id serial PRIMARY KEY)", "DROP TABLE gone").steps
    assert _observed(rec) == {"gone": "ACCESS EXCLUSIVE"}
    assert rec.status == "applied" and not rec.rewrite


def test_a_renamed_table_is_named_as_before(pg_dsn: str) -> None:
    (rec,) = _run(pg_dsn, "CREATE TABLE a (id int)", "ALTER TABLE a RENAME TO b").steps
    assert _observed(rec) == {"a": "ACCESS EXCLUSIVE"}


def test_a_new_table_and_a_rewrite_are_seen(pg_dsn: str) -> None:
    (new,) = _run(pg_dsn, "SELECT 1", "CREATE TABLE fresh (id int PRIMARY KEY, t text)").steps
    assert _observed(new) == {"fresh": "ACCESS EXCLUSIVE"} and not new.rewrite
    (rewrite,) = _run(
        pg_dsn,
        "CREATE TABLE r (id int, v int); INSERT INTO r VALUES (1, 1)",
        "ALTER TABLE r ALTER COLUMN v TYPE bigint",
    ).steps
    assert _observed(rewrite) == {"r": "ACCESS EXCLUSIVE"} and rewrite.rewrite


@pytest.mark.parametrize(
    ("sql", "table"),
    [
        ("DROP TABLE other", "other"),  # dropped: gone from the step's own pg_class
        ("ALTER TABLE other RENAME TO moved", "other"),  # renamed: named as it was
        ("ALTER TABLE other SET SCHEMA elsewhere", "other"),  # out of public
    ],
)
def test_a_lock_the_plan_did_not_predict_names_the_table_as_it_was(
    pg_dsn: str, sql: str, table: str
) -> None:
    setup = "CREATE TABLE other (id int); CREATE TABLE mine (id int); CREATE SCHEMA elsewhere"
    with pytest.raises(StepFailed) as info:
        _run(pg_dsn, setup, sql, [LockEntry(relation="mine", mode="ACCESS EXCLUSIVE")])
    assert info.value.code == "LOCK_STRONGER_THAN_PREDICTED"
    assert info.value.message == f"took ACCESS EXCLUSIVE on {table}; the plan predicted no lock"
    with psycopg.connect(pg_dsn) as conn:  # rolled back, and not recorded applied
        assert conn.execute("SELECT to_regclass('public.other') IS NOT NULL").fetchone() == (True,)
        assert conn.execute(
            "SELECT count(*) FROM wesley.migration_steps WHERE status = 'applied'"
        ).fetchone() == (0,)


def test_statements_sent_together_fail_at_the_one_that_failed(pg_dsn: str) -> None:
    with connect(pg_dsn) as conn:
        batch = [("SELECT 1", None), ("SELECT 1/0", None), ("SELECT 3", None)]
        sent: list[psycopg.Cursor[object]] = []
        with pytest.raises(psycopg.errors.DivisionByZero):
            run_batch(conn, batch, sent)
        assert failed_at(batch, sent) == 1
        two = run_batch(conn, [("SELECT 1", None), ("SELECT 2", None)])
        assert [c.fetchall() for c in two] == [[(1,)], [(2,)]]
        with pytest.raises(psycopg.errors.SyntaxError, match="multiple commands"):
            run_batch(conn, [("SELECT 1; SELECT 2", None)])


SUITE_HEAD = "SET application_name = 'wesley suite'; BEGIN; SELECT plan(3);"


def test_a_suite_runs_its_transaction_in_one_go_and_stops_where_a_statement_fails(
    pg_dsn: str,
) -> None:
    with connect(pg_dsn) as conn:
        done = run_suite(
            conn,
            SUITE_HEAD + "SELECT ok(true, 'a'); SELECT ok(true, 'b'); SELECT ok(false, 'c');"
            " SELECT * FROM finish(); ROLLBACK;",
        )
        assert (done.planned, done.passed, done.failed) == (3, 2, 1)
        assert done.failures[0].startswith("c")
        # a SET before the suite's BEGIN is its own statement: it outlives the ROLLBACK
        assert conn.execute("SHOW application_name").fetchone() == ("wesley suite",)
        stopped = run_suite(
            conn,
            SUITE_HEAD + "SELECT ok(true, 'a'); SELECT 1/0; SELECT ok(true, 'b');"
            " SELECT * FROM finish(); ROLLBACK;",
        )
        assert (stopped.planned, stopped.passed, stopped.failed) == (3, 1, 0)
        assert "not ok - the suite stopped: division by zero" in stopped.tap
        assert not stopped.ok
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
