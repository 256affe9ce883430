"""Hardening (issue 12) of runs against a real target: `deploy --resume` runs only the
certified plan (item 1), a terminated backend is DB_CONNECTION_LOST (item 6), run records
tell the truth afterwards (item 14), and a second deploy during a first says
MIGRATION_LOCKED (item 15). A deploy is held mid-plan by a lock on the table of its second
step, so every moment is deterministic."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.lifecycle import Flow, certify, ir_of, ok, runs, use, wes
from tests.schema_compare import assert_database_matches
from wesley.db.apply import apply_script
from wesley.db.executor import ExecOptions, Executor, StepFailed
from wesley.db.introspect import introspect
from wesley.plan.build import build_plan
from wesley.plan.models import Blocks, Plan, Step, with_hash
from wesley.targets.postgres import postgres

V1 = """type Alpha @wes_table {
  id: ID! @wes_pk
}

type Beta @wes_table {
  id: ID! @wes_pk
}
"""
V2 = V1.replace("@wes_pk\n", "@wes_pk\n  note: String\n")  # alpha.note, then beta.note
ROWS = 50


@functools.cache
def _flow(admin_dsn: str) -> Flow:
    src = Path(tempfile.mkdtemp(prefix="wesley-harden-"))
    (src / "v1.graphql").write_text(V1)
    (src / "v2.graphql").write_text(V2)
    return certify(admin_dsn, src / "v1.graphql", src / "v2.graphql", seed_rows=5)


@pytest.fixture
def target(pg_admin_dsn: str, pg_dsn: str) -> str:
    """A certified directory as cwd, and a target holding v1 with ROWS rows in alpha."""
    use(_flow(pg_admin_dsn))
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        apply_script(conn, postgres(ir_of("v1.graphql"))[0].text)
        conn.execute(
            "INSERT INTO alpha (id) SELECT gen_random_uuid() FROM generate_series(1, %s)", (ROWS,)
        )
    return pg_dsn


def _deploy(dsn: str, *extra: str) -> list[str]:
    return ["deploy", "--dsn", dsn, "--env", "prod", "--schema", "v2.graphql", *extra]


def _alpha_rows(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM alpha").fetchone()
    return int(row[0]) if row else -1


@contextmanager
def _beta_locked(dsn: str) -> Iterator[psycopg.Connection[Any]]:
    """An open transaction that has read beta: ALTER TABLE beta waits for it."""
    conn = psycopg.connect(dsn)
    conn.execute("SELECT FROM beta LIMIT 0")
    try:
        yield conn
    finally:
        conn.rollback()
        conn.close()


def _start(dsn: str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "wesley", *_deploy(dsn, "--lock-timeout", "60000", *extra)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def _waiting_backend(dsn: str, proc: subprocess.Popen[bytes], log: Path) -> int:
    """The pid of the deploy's backend once it waits for beta's lock (step 2 of 4)."""
    deadline = time.monotonic() + 60
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            row = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'wesley' "
                "AND wait_event_type = 'Lock' AND query LIKE 'ALTER TABLE beta%'"
            ).fetchone()
            if row:
                return int(row[0])
            time.sleep(0.02)
    raise AssertionError("the deploy never waited for beta: " + log.read_text())


def _assert_deployed(dsn: str) -> None:
    new = ir_of("v2.graphql")
    with psycopg.connect(dsn, autocommit=True) as conn:
        have = introspect(conn)
    assert_database_matches(new, have, ordered=False)
    assert build_plan(have, new, allow_destructive=True).steps == []
    assert _alpha_rows(dsn) == ROWS


def _interrupted(dsn: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """A deploy whose backend is terminated while it waits in step 2: (exit code, output)."""
    log = tmp_path / "deploy.log"
    with _beta_locked(dsn):
        proc = _start(dsn, log)
        pid = _waiting_backend(dsn, proc, log)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        code = proc.wait(timeout=60)
    return subprocess.CompletedProcess(proc.args, code, log.read_text(), "")


# ---- item 6 (and 14): a terminated backend ------------------------------------------------


def test_a_terminated_backend_is_connection_lost_then_resume(target: str, tmp_path: Path) -> None:
    result = _interrupted(target, tmp_path)
    assert result.returncode == 13, result.stdout
    assert "error[DB_CONNECTION_LOST]" in result.stdout, result.stdout
    assert "rerun with --resume" in result.stdout
    assert "Traceback" not in result.stdout and "INTERNAL" not in result.stdout
    [killed] = runs(target)
    assert killed["status"] == "running"  # nobody could record the end
    # without --resume: refused, nothing runs
    again = wes(*_deploy(target))
    assert again.code == 8 and "interrupted: rerun with --resume" in again.stderr, again.stderr
    done = ok(*_deploy(target, "--resume", "--json")).json()
    assert done["applied"] == 3  # step 1 was recorded before the backend was terminated
    _assert_deployed(target)
    first, last = runs(target)
    assert (first["status"], last["status"]) == ("superseded", "applied")
    with psycopg.connect(target, autocommit=True) as conn:
        by = conn.execute(
            "SELECT superseded_by FROM wesley.migration_runs WHERE run_id = %s",
            (first["run_id"],),
        ).fetchone()
    assert by == (last["run_id"],)


# ---- item 14: a LOCK_TIMEOUT run is superseded by the run that finishes it -----------------


def test_a_lock_timeout_run_is_superseded(target: str) -> None:
    with _beta_locked(target):
        failed = wes(*_deploy(target, "--lock-timeout", "1"))
    assert failed.code == 13 and "error[LOCK_TIMEOUT]" in failed.stderr, failed.stderr
    assert [r["status"] for r in runs(target)] == ["failed"]
    ok(*_deploy(target, "--resume"))
    _assert_deployed(target)
    assert [r["status"] for r in runs(target)] == ["superseded", "applied"]


# ---- item 1: --resume runs the certified plan or nothing -----------------------------------


def _tamper(dsn: str, change: Any) -> dict[str, Any]:
    """Edit the stored plan of the run in place; returns the original."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT run_id, plan FROM wesley.migration_runs").fetchone()
        assert row is not None
        original: dict[str, Any] = row[1]
        edited = change(json.loads(json.dumps(original)))
        conn.execute(
            "UPDATE wesley.migration_runs SET plan = %s WHERE run_id = %s",
            (json.dumps(edited), row[0]),
        )
    return original


def _guard(plan: dict[str, Any]) -> dict[str, Any]:
    # one statement, so the extended protocol does not stop it: a data-modifying CTE
    plan["steps"][1]["guard"] = "WITH gone AS (DELETE FROM alpha RETURNING 1) SELECT false"
    return plan


def _step_sql(plan: dict[str, Any]) -> dict[str, Any]:
    plan["steps"][1]["sql"] = "ALTER TABLE beta ADD COLUMN note text, ADD COLUMN pwned text"
    return plan


def _rehashed(plan: dict[str, Any]) -> dict[str, Any]:
    """The guard attack, with the stored plan_hash recomputed to match it."""
    edited = with_hash(Plan.model_validate(_guard(plan)))
    return edited.to_json_data()


@pytest.mark.parametrize("change", [_guard, _step_sql, _rehashed], ids=lambda f: f.__name__)
def test_resume_refuses_a_stored_plan_edited_in_the_database(
    target: str, tmp_path: Path, change: Any
) -> None:
    assert _interrupted(target, tmp_path).returncode == 13
    certified = json.loads(Path(".wesley/plan.json").read_text())["plan_hash"]
    original = _tamper(target, change)
    refused = wes(*_deploy(target, "--resume"))
    assert refused.code == 8, refused.stdout + refused.stderr
    assert "error[STORED_PLAN_MISMATCH]" in refused.stderr, refused.stderr
    assert f"not to the certified plan_hash {certified[:12]}" in refused.stderr
    forced = wes(*_deploy(target, "--resume", "--force"))
    assert forced.code == 8 and "STORED_PLAN_MISMATCH" in forced.stderr, forced.stderr
    assert _alpha_rows(target) == ROWS, "the edited guard ran"
    with psycopg.connect(target, autocommit=True) as conn:
        cols = conn.execute(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'beta'::regclass AND attnum > 0 "
            "AND NOT attisdropped"
        ).fetchone()
    assert cols == (1,), "the edited step ran"
    assert len(runs(target)) == 1, "a refused resume started a run"
    _tamper(target, lambda _: original)
    ok(*_deploy(target, "--resume"))
    _assert_deployed(target)


# ---- item 15: two deploys at once ----------------------------------------------------------


def test_a_second_deploy_during_a_first_says_migration_locked(target: str, tmp_path: Path) -> None:
    with _beta_locked(target) as blocker:
        first = _start(target, tmp_path / "first.log")
        _waiting_backend(target, first, tmp_path / "first.log")  # alpha.note is applied
        with psycopg.connect(target, autocommit=True) as conn:
            holder = conn.execute(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            ).fetchone()
        assert holder is not None
        second = wes(*_deploy(target))
        assert second.code == 13, second.stderr
        assert "error[MIGRATION_LOCKED]" in second.stderr, second.stderr
        assert f"(backend pid {holder[0]})" in second.stderr
        assert "interrupted" not in second.stderr and "drifted" not in second.stderr
        # --wait: waits for the first to finish, then sees the plan is deployed
        waiting = subprocess.Popen(
            [sys.executable, "-m", "wesley", *_deploy(target, "--wait")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(0.5)
        assert waiting.poll() is None, waiting.communicate()
        blocker.rollback()
        assert first.wait(timeout=60) == 0, (tmp_path / "first.log").read_text()
        out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, out + err
    assert "already deployed" in out and "nothing was run" in out, out
    _assert_deployed(target)
    assert [r["status"] for r in runs(target)] == ["applied"]


# ---- item 1: a failure's hint shows the statement that ran --------------------------------


def test_a_failing_guard_is_the_statement_shown(pg_dsn: str) -> None:
    step = Step(
        id="001-demo",
        phase="expand",
        op="demo",
        sql="CREATE TABLE demo (id int)",
        guard="SELECT to_regclass('demo') IS NOT NULL AND 1 / 0 = 1",
        blocks=Blocks(reads=False, writes=False),
        risk=0,
        why="demo",
    )
    plan = with_hash(Plan(from_ir_hash=None, to_ir_hash="x", server_version=150000, steps=[step]))
    with pytest.raises(StepFailed) as caught, Executor(pg_dsn, plan, "x", ExecOptions()) as ex:
        ex.run()
    assert "division by zero" in caught.value.message
    assert "the statement was: SELECT to_regclass('demo')" in caught.value.hint, caught.value.hint
    assert "CREATE TABLE demo" not in caught.value.hint
