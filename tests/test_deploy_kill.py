"""`wesley deploy` killed with SIGKILL at random points of a certified multi-step plan over
100k rows, then `wesley deploy --resume`: every resume completes, no step is applied twice, no
row is lost, and the database ends equal to the target schema."""

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

from tests.helpers import UPSTREAM
from tests.kill_points import kill_points, wait_for
from tests.lifecycle import TOML_KEYS, build_old, certify, checksums, ir_of, ok, runs, use, wes
from tests.schema_compare import assert_database_matches
from wesley.db.cluster import create_database, drop_database
from wesley.db.dsn import with_dbname
from wesley.db.introspect import introspect
from wesley.ir import IR
from wesley.plan.build import build_plan
from wesley.plan.models import Plan

# SIGKILL x20 is slow: on one major only (the locks it relies on are checked on every major)
pytestmark = pytest.mark.one_major

V1 = UPSTREAM / "blade-v1.graphql"
# A NOT NULL column with a volatile default (a batched backfill over every row), a stable
# default, two indexes built CONCURRENTLY on the big table, NOT NULL by the CHECK trick, a new
# table with a foreign key: expand, backfill, validate and switch steps.
V2 = """
type User @wes_table {
  id: ID! @wes_pk
  email: String! @wes_unique
  created_at: DateTime! @wes_default(expr: "now()") @wes_index
  token: UUID! @wes_default(expr: "gen_random_uuid()")
  nickname: String @wes_index
  posts: [Post!]! @wes_hasMany
}

type Post @wes_table {
  id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")
  authorId: ID! @wes_fk(ref: "User.id", onDelete: CASCADE) @wes_index
  title: String!
  author: User! @wes_belongsTo
}
"""
ROWS = 100_000
BATCH = 2_500  # 40 backfill batches
KILLS = 20
SEED = int(os.environ.get("WESLEY_KILL_SEED", "20261125"))


@pytest.fixture
def template_db(pg_admin_dsn: str) -> Iterator[str]:
    """blade-v1 with ROWS users, copied for every run."""
    name = f"wesley_t_dkill_{uuid.uuid4().hex[:12]}"
    dsn = create_database(pg_admin_dsn, name)
    try:
        build_old(dsn, ir_of(V1))
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                'INSERT INTO "user" (id, email) SELECT gen_random_uuid(), '
                "'user' || i || '@example.com' FROM generate_series(1, %s) i",
                (ROWS,),
            )
            conn.execute('VACUUM ANALYZE "user"')
        yield name
    finally:
        drop_database(pg_admin_dsn, name)


@pytest.fixture
def copies(pg_admin_dsn: str, template_db: str) -> Iterator[list[str]]:
    """Fresh targets from the template; each dropped when the test ends."""
    made: list[str] = []
    yield made
    for name in made:
        drop_database(pg_admin_dsn, name)


def _copy(admin_dsn: str, template: str, made: list[str]) -> str:
    name = f"wesley_t_target_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    made.append(name)
    return with_dbname(admin_dsn, name)


def _deploy_args(dsn: str, *extra: str) -> list[str]:
    return ["deploy", "--dsn", dsn, "--env", "prod", "--schema", "v2.graphql", *extra]


def _start(dsn: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "wesley", *_deploy_args(dsn)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def _recorded(dsn: str) -> list[tuple[str, str, int]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('wesley.migration_steps')").fetchone() == (None,):
            return []
        rows = conn.execute(
            "SELECT step_id, status, attempts FROM wesley.migration_steps ORDER BY step_id"
        ).fetchall()
    return [(str(a), str(b), int(c)) for a, b, c in rows]


def _check_final(dsn: str, plan: Plan, new: IR, before: object, where: str) -> None:
    assert checksums(dsn, ir_of(V1)) == before, f"{where}: rows changed or lost"
    with psycopg.connect(dsn, autocommit=True) as conn:
        have = introspect(conn)
        assert_database_matches(new, have, ordered=False)
        assert build_plan(have, new, allow_destructive=True).steps == [], where
        assert conn.execute('SELECT count(*) FROM "user" WHERE token IS NULL').fetchone() == (0,)
        tokens = conn.execute('SELECT count(DISTINCT token) FROM "user"').fetchone()
        assert tokens == (ROWS,), where
    recorded = _recorded(dsn)
    # exactly one record per plan step, each applied (or found done by its guard) once
    assert [step for step, _, _ in recorded] == sorted(s.id for s in plan.steps), where
    assert {status for _, status, _ in recorded} <= {"applied", "skipped"}, (where, recorded)
    assert all(attempts == 1 for _, _, attempts in recorded), (where, recorded)
    finished = [r for r in runs(dsn) if r["status"] == "applied"]
    assert finished and all(r["mode"] == "deploy" for r in runs(dsn)), where
    assert finished[-1]["plan_hash"] == plan.plan_hash, where


def test_sigkill_deploy_anywhere_then_resume(
    pg_admin_dsn: str, template_db: str, copies: list[str], tmp_path: Path
) -> None:
    # certified once: rehearse with a small batch size (the certified plan's batches)
    Path("v2.graphql").write_text(V2, encoding="utf-8")
    # 26 steps add up to an MRI of 0.65: the gate is raised, as a team would for this release
    toml = "[thresholds]\nmri = 0.7\n" + TOML_KEYS
    flow = certify(pg_admin_dsn, V1, tmp_path / "v2.graphql", batch_size=BATCH, toml=toml)
    use(flow)
    ok("cert", "verify")
    new = ir_of("v2.graphql")
    plan = Plan.model_validate_json(Path(".wesley/plan.json").read_text())
    assert len(plan.steps) >= 12, [s.id for s in plan.steps]
    assert {s.phase for s in plan.steps} >= {"expand", "backfill", "validate", "switch"}
    assert any(s.backfill and s.backfill.batch_size == BATCH for s in plan.steps)
    assert any(not s.transactional for s in plan.steps)
    before = checksums(with_dbname(pg_admin_dsn, template_db), ir_of(V1))
    assert before["user"][0] == ROWS

    # one uninterrupted run: the certified plan deploys as a whole
    dsn = _copy(pg_admin_dsn, template_db, copies)
    proc = _start(dsn, tmp_path / "full.log")
    assert proc.wait(timeout=300) == 0, (tmp_path / "full.log").read_text()
    _check_final(dsn, plan, new, before, "uninterrupted")

    # Kill points from the deploy's own progress, not from the clock (under load a timed kill
    # lands after the plan): two at launch (loading, checking the certificate), the others
    # stratified over 0..all steps recorded, inside the backfill at a random share of its
    # rows, the last ones during pgTAP on the target.
    counts: list[int] = []
    for i, point in enumerate(kill_points(plan, KILLS, SEED, launch=2)):
        dsn = _copy(pg_admin_dsn, template_db, copies)
        proc = _start(dsn, tmp_path / f"kill{i}.log")
        wait_for(dsn, proc, point, plan)
        proc.kill()
        killed = proc.wait(timeout=30) == -9  # else it had finished already
        recorded = _recorded(dsn)
        counts.append(len(recorded) if killed else -1)
        where = (
            f"kill {i} {point.describe(plan)} (seed {SEED}): "
            f"{len(recorded)} of {len(plan.steps)} steps recorded"
            + ("" if killed else ", but it had finished")
        )
        print(where)
        # --wait: the killed client's backend may still finish its statement and hold the
        # migration lock for a moment
        result = wes(*_deploy_args(dsn, "--resume", "--wait", "--json"))
        assert result.code == 0, f"{where}: {result.stdout}{result.stderr}"
        data = result.json()
        assert data["tests"]["planned"] == data["tests"]["passed"] > 0, where
        _check_final(dsn, plan, new, before, where)
        drop_database(pg_admin_dsn, copies.pop())
    # most kills landed inside the deploy (after its run record), and at different steps
    interrupted = sum(1 for n in counts if n > 0)
    assert interrupted >= KILLS // 2, (
        f"only {interrupted} of {KILLS} kills hit the deploy: {counts}"
    )
    assert len(set(counts) - {-1}) >= 4, f"the kills did not spread over the plan: {counts}"
