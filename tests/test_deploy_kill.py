"""`wesley deploy` killed with SIGKILL at random points of a certified multi-step plan over
100k rows, then `wesley deploy --resume`: every resume completes, no step is applied twice, no
row is lost, and the database ends equal to the target schema."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.helpers import UPSTREAM
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


def _startup_s() -> float:
    """Before this the process is still loading Python: a kill there hits nothing."""
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-m", "wesley", "--version"], check=True, capture_output=True)
    return time.monotonic() - t0


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

    # one uninterrupted run, to know how long a deploy lasts and when its phases run
    dsn = _copy(pg_admin_dsn, template_db, copies)
    launched, t0 = time.time(), time.monotonic()
    proc = _start(dsn, tmp_path / "full.log")
    assert proc.wait(timeout=120) == 0, (tmp_path / "full.log").read_text()
    duration = time.monotonic() - t0
    _check_final(dsn, plan, new, before, "uninterrupted")
    run_start, backfill, steps_end = _timeline(dsn, launched)
    startup = min(_startup_s(), run_start)
    assert backfill[1] - backfill[0] > 0.5, f"the backfill is too short to kill: {backfill}"

    # Random kill points over the whole run, stratified so that every part of it is hit:
    # loading and checking the certificate and the expand steps, the backfill (delays from
    # the launch); then validate, switch and pgTAP on the target (delays from the moment the
    # backfill is recorded: the backfill's length varies from run to run).
    rest, tail = steps_end - backfill[1], duration - backfill[1]
    rng = random.Random(SEED)
    points = [("launch", rng.uniform(startup, run_start)) for _ in range(2)]
    points += [("launch", rng.uniform(run_start, backfill[0])) for _ in range(6)]
    points += [("launch", rng.uniform(*backfill)) for _ in range(7)]
    points += [("backfill", rng.uniform(0, rest)) for _ in range(2)]
    points += [("backfill", rng.uniform(rest, tail)) for _ in range(KILLS - len(points))]
    counts: list[int] = []
    for i, (anchor, at) in enumerate(points):
        dsn = _copy(pg_admin_dsn, template_db, copies)
        proc = _start(dsn, tmp_path / f"kill{i}.log")
        if anchor == "backfill":
            _wait_for_backfill(dsn, proc)
        time.sleep(at)
        proc.kill()
        killed = proc.wait(timeout=30) == -9  # else it had finished already
        recorded = _recorded(dsn)
        counts.append(len(recorded) if killed else -1)
        where = (
            f"kill {i} {at:.2f}s after the {anchor} (run {duration:.2f}s, seed {SEED}): "
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


def _wait_for_backfill(dsn: str, proc: subprocess.Popen[bytes]) -> None:
    """Until the deploy records its backfill step."""
    deadline = time.monotonic() + 60
    with psycopg.connect(dsn, autocommit=True) as conn:
        while proc.poll() is None and time.monotonic() < deadline:
            row = conn.execute(
                "SELECT to_regclass('wesley.migration_steps') IS NOT NULL"
            ).fetchone()
            if row and row[0]:
                done = conn.execute(
                    "SELECT count(*) FROM wesley.migration_steps WHERE step_id LIKE %s",
                    ("%-backfill-%",),
                ).fetchone()
                if done and done[0]:
                    return
            time.sleep(0.005)
    raise AssertionError("the deploy never recorded its backfill")


def _timeline(dsn: str, launched: float) -> tuple[float, tuple[float, float], float]:
    """Seconds after launch: the run record made, the backfill's start and end, the last
    step's end."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT extract(epoch FROM min(r.started_at)), "
            "extract(epoch FROM min(s.started_at) FILTER (WHERE s.step_id LIKE %s)), "
            "extract(epoch FROM min(s.finished_at) FILTER (WHERE s.step_id LIKE %s)), "
            "extract(epoch FROM max(s.finished_at)) "
            "FROM wesley.migration_runs r, wesley.migration_steps s",
            ("%-backfill-%", "%-backfill-%"),
        ).fetchone()
    assert row is not None and None not in row, row
    run_start, bf_start, bf_end, steps_end = (float(x) - launched for x in row)
    return run_start, (bf_start, bf_end), steps_end
