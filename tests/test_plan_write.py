"""`plan --write DIR`: the plan as numbered SQL files per phase, with lock and statement
timeouts, CONCURRENTLY and batch-committing steps in files of their own, each headed by what
it locks. Applied in order with psql, they give the database `deploy`'s executor gives: both
are introspected and compared, rows included."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg
import pytest

from tests.helpers import UPSTREAM
from tests.lifecycle import build_old, checksums, ir_of, ok, scratch_database
from wesley.db.cluster import find_pg_bindir
from wesley.db.executor import ExecOptions, Executor
from wesley.db.introspect import introspect
from wesley.ir import IR, ir_hash
from wesley.plan.build import build_plan
from wesley.plan.models import Plan
from wesley.sdl import parse_sdl

EVENT_OLD = "type Event @wes_table {\n  id: Int! @wes_pk\n  name: String\n}\n"
EVENT_NEW = (
    "type Event @wes_table {\n  id: Int! @wes_pk\n  name: String @wes_index\n"
    '  token: UUID! @wes_default(expr: "gen_random_uuid()")\n}\n'
)
PAIRS = {
    "blade": ((UPSTREAM / "blade-v1.graphql").read_text(), (UPSTREAM / "blade-v2.graphql").read_text(), False),  # noqa: E501
    "ecommerce": ((UPSTREAM / "ecommerce.graphql").read_text(), (UPSTREAM / "ecommerce-v2.graphql").read_text(), True),  # noqa: E501
    "backfill": (EVENT_OLD, EVENT_NEW, False),
    "fresh with RLS": ("", (UPSTREAM / "schema.graphql").read_text(), False),
}  # fmt: skip


def _psql(dsn: str, files: list[Path]) -> None:
    psql = find_pg_bindir() / "psql"
    for f in files:
        proc = subprocess.run(
            [str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-f", str(f)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, f"{f.name}: {proc.stderr}"


def _introspect(dsn: str) -> IR:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return introspect(conn)


def _counts(dsn: str, old: IR) -> dict[str, int]:
    return {t: n for t, (n, _) in checksums(dsn, old).items()} if old.tables else {}


@pytest.mark.parametrize("name", list(PAIRS))
def test_files_applied_with_psql_give_the_deployed_database(
    name: str, pg_admin_dsn: str, pg_dsn: str
) -> None:
    old_sdl, new_sdl, destructive = PAIRS[name]
    Path("new.graphql").write_text(new_sdl, encoding="utf-8")
    args = ["plan", "--schema", "new.graphql", "--write", "migrations", "--json"]
    if old_sdl:
        Path("old.graphql").write_text(old_sdl, encoding="utf-8")
        args += ["--from", "old.graphql"]
    if destructive:
        args.append("--allow-destructive")
    plan = Plan.model_validate(ok(*args).json()["plan"])
    files = sorted(Path("migrations").glob("*.sql"))
    assert [f.name[:3] for f in files] == [f"{n:03d}" for n in range(1, len(files) + 1)]
    for f in files:  # each file says what it locks and sets both timeouts for every step
        text = f.read_text()
        assert text.startswith("-- Wesley plan ") and "-- Locks" in text.split("SET")[0]
        assert text.count("SET lock_timeout") == text.count("SET statement_timeout") >= 1
        if "CONCURRENTLY" in text or "DO $wesley$" in text:
            assert "OUTSIDE a transaction" in text and text.count("\n-- 0") == 1
    assert sum(f.read_text().count("\n-- 0") for f in files) == len(plan.steps)

    old = parse_sdl(old_sdl).ir if old_sdl else IR()
    new = ir_of("new.graphql")
    with scratch_database(pg_admin_dsn) as by_files:
        before = {}
        if old.tables:
            build_old(by_files, old, rows=300)
            build_old(pg_dsn, old, rows=300)
            before = checksums(by_files, old)
        _psql(by_files, files)
        with Executor(pg_dsn, plan, ir_hash(new), ExecOptions(mode="deploy")) as ex:
            ex.run()
        files_ir, deploy_ir = _introspect(by_files), _introspect(pg_dsn)
        assert (
            _counts(by_files, old) == _counts(pg_dsn, old) == {t: n for t, (n, _) in before.items()}
        )
        if not destructive:  # every row kept as it was
            assert checksums(by_files, old) == before
    assert files_ir == deploy_ir
    assert build_plan(files_ir, new, allow_destructive=True).steps == []


def test_write_replaces_an_earlier_plans_files_only() -> None:
    Path("old.graphql").write_text(EVENT_OLD, encoding="utf-8")
    Path("new.graphql").write_text(EVENT_NEW, encoding="utf-8")
    ok("plan", "--schema", "new.graphql", "--from", "old.graphql", "--write", "m")
    first = sorted(p.name for p in Path("m").iterdir())
    Path("m/999-mine.sql").write_text("SELECT 1;\n")
    ok("plan", "--schema", "new.graphql", "--from", "new.graphql", "--write", "m")
    assert sorted(p.name for p in Path("m").iterdir()) == ["999-mine.sql"]  # nothing to do
    assert len(first) >= 4
