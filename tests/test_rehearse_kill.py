"""`wesley rehearse` killed with SIGKILL at random points of a multi-step plan, then resumed:
every resume PASSes, the database ends equal to the target, and no step is recorded twice."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.helpers import cli
from tests.kill_points import kill_points, wait_for
from tests.schema_compare import assert_database_matches
from wesley.db.apply import apply_script
from wesley.db.cluster import create_database, drop_database
from wesley.db.dsn import with_dbname
from wesley.db.introspect import introspect
from wesley.ir import IR
from wesley.plan.build import build_plan
from wesley.plan.models import Plan
from wesley.sdl import parse_sdl
from wesley.targets.postgres import postgres
from wesley.targets.rls import rls

# SIGKILL x20 is slow: on one major only (the locks it relies on are checked on every major)
pytestmark = pytest.mark.one_major

OLD_SDL = """
type Item @wes_table {
  id: Int! @wes_pk
  name: String!
  qty: Int
}
"""
# Two columns added (one NOT NULL with a volatile default: a batched backfill), a column
# tightened with a default (a backfill of its NULLs), two indexes built CONCURRENTLY, NOT NULL
# by the CHECK trick: 18 steps of every kind.
NEW_SDL = """
type Item @wes_table @wes_index(columns: ["name", "qty"]) {
  id: Int! @wes_pk
  name: String! @wes_index
  qty: Int! @wes_default(value: 0)
  token: UUID! @wes_default(expr: "gen_random_uuid()")
  note: String
}
"""
ROWS = 100_000
BATCH = 250  # 400 batches: a plan long enough to kill at random
KILLS = 20
SEED = int(os.environ.get("WESLEY_KILL_SEED", "20261124"))


def _ir(text: str) -> IR:
    return parse_sdl(text).ir


@pytest.fixture
def template_db(pg_admin_dsn: str) -> Iterator[str]:
    """A database holding the old schema and ROWS rows, to copy for every run."""
    name = f"wesley_t_kill_{uuid.uuid4().hex[:12]}"
    dsn = create_database(pg_admin_dsn, name)
    old = _ir(OLD_SDL)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            apply_script(conn, postgres(old)[0].text)
            apply_script(conn, rls(old)[0].text)
            conn.execute(
                "INSERT INTO item (id, name, qty) "
                "SELECT i, 'n' || (i %% 997), i %% 7 FROM generate_series(1, %s) i",
                (ROWS,),
            )
            conn.execute("VACUUM ANALYZE item")
        yield name
    finally:
        drop_database(pg_admin_dsn, name)


def _copy(admin_dsn: str, template: str) -> tuple[str, str]:
    name = f"wesley_t_run_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    return name, with_dbname(admin_dsn, name)


def _args(dsn: str, *extra: str) -> list[str]:
    return [
        "rehearse",
        "--from",
        "old.graphql",
        "--schema",
        "new.graphql",
        "--dsn",
        dsn,
        "--batch-size",
        str(BATCH),
        *extra,
    ]


def _start(dsn: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "wesley", *_args(dsn)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def _recorded(dsn: str, plan: Plan) -> list[tuple[str, str]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('wesley.migration_steps')").fetchone() == (None,):
            return []
        rows = conn.execute(
            "SELECT step_id, status FROM wesley.migration_steps ORDER BY step_id"
        ).fetchall()
    return [(str(a), str(b)) for a, b in rows]


def _check_final(dsn: str, plan: Plan, new: IR) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        have = introspect(conn)
        assert_database_matches(new, have, policies=True, ordered=False)
        assert build_plan(have, new, allow_destructive=True).steps == []
        nulls = conn.execute("SELECT count(*) FROM item WHERE token IS NULL").fetchone()
        assert nulls == (0,)
        assert conn.execute("SELECT count(*) FROM item").fetchone() == (ROWS,)
    recorded = _recorded(dsn, plan)
    assert [step for step, _ in recorded] == sorted(s.id for s in plan.steps)
    assert {status for _, status in recorded} <= {"applied", "skipped"}, recorded


def test_sigkill_anywhere_then_resume_passes(
    pg_admin_dsn: str, template_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("old.graphql").write_text(OLD_SDL, encoding="utf-8")
    Path("new.graphql").write_text(NEW_SDL, encoding="utf-8")
    new = _ir(NEW_SDL)
    plan = build_plan(_ir(OLD_SDL), new, batch_size=BATCH)
    assert len(plan.steps) >= 15
    assert any(s.backfill for s in plan.steps)
    assert any(not s.transactional for s in plan.steps)

    # One uninterrupted run: the plan passes as a whole.
    name, dsn = _copy(pg_admin_dsn, template_db)
    try:
        proc = _start(dsn, tmp_path / "full.log")
        assert proc.wait(timeout=300) == 0, (tmp_path / "full.log").read_text()
        _check_final(dsn, plan, new)
    finally:
        drop_database(pg_admin_dsn, name)

    # Kill points from the run's own progress (so a loaded machine does not move them past
    # the plan's end): stratified over 0..all steps recorded, inside the backfills at a random
    # share of their rows; the last ones during the tests and the replan after the plan.
    landed: list[int] = []  # steps recorded when each kill struck
    for i, point in enumerate(kill_points(plan, KILLS, SEED)):
        name, dsn = _copy(pg_admin_dsn, template_db)
        try:
            proc = _start(dsn, tmp_path / f"kill{i}.log")
            running = wait_for(dsn, proc, point, plan)
            proc.kill()
            proc.wait(timeout=30)
            before = _recorded(dsn, plan)
            landed.append(len(before))
            where = (
                f"kill {i} {point.describe(plan)} (seed {SEED}), {len(before)} steps recorded"
                + ("" if running else ", but it had finished")
            )
            print(where)
            result = cli(capsys, *_args(dsn, "--resume", "--json"))
            assert result.code == 0, f"{where}: {result.stdout}{result.stderr}"
            realm = result.json()["realm"]
            assert realm["verdict"] == "PASS", where
            assert realm["tests"]["planned"] == realm["tests"]["passed"] > 0, where
            _check_final(dsn, plan, new)
        finally:
            drop_database(pg_admin_dsn, name)
    # Most kills struck inside the plan, not before or after it.
    partial = sum(1 for n in landed if 0 < n < len(plan.steps))
    assert partial >= KILLS // 2, f"steps recorded at each kill: {landed}"
