"""`wesley up --dsn`: the development loop. No certificate; a fresh database is created, a
used one migrated by the deploy executor; destructive changes only when asked."""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

import psycopg
import pytest

from tests.helpers import UPSTREAM
from tests.lifecycle import checksums, insert_users, ir_of, ok, runs, wes
from tests.schema_compare import assert_database_matches
from wesley.db.introspect import introspect
from wesley.plan.build import build_plan

BLADE_V1 = UPSTREAM / "blade-v1.graphql"
BLADE_V2 = UPSTREAM / "blade-v2.graphql"


def _matches(dsn: str, sdl: Path) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert_database_matches(ir_of(sdl), introspect(conn), ordered=False)


def test_up_creates_then_migrates_then_refuses_destructive(pg_dsn: str) -> None:
    shutil.copy(BLADE_V1, "v1.graphql")
    shutil.copy(BLADE_V2, "v2.graphql")
    assert not Path("SHIPME.md").exists()  # no certificate anywhere
    created = ok("up", "--dsn", pg_dsn, "--schema", "v1.graphql")
    assert "steps applied" in created.stdout, created.stdout
    _matches(pg_dsn, Path("v1.graphql"))
    same = ok("up", "--dsn", pg_dsn, "--schema", "v1.graphql", "--json").json()
    assert same["up_to_date"] is True and same["applied"] == 0

    insert_users(pg_dsn, 300)
    before = checksums(pg_dsn, ir_of(BLADE_V1))
    migrated = ok("up", "--dsn", pg_dsn, "--schema", "v2.graphql", "--json").json()
    assert migrated["applied"] == len(build_plan(ir_of(BLADE_V1), ir_of(BLADE_V2)).steps) > 0
    _matches(pg_dsn, Path("v2.graphql"))
    assert checksums(pg_dsn, ir_of(BLADE_V1)) == before
    assert [r["mode"] for r in runs(pg_dsn)] == ["up", "up"]
    assert all(r["status"] == "applied" for r in runs(pg_dsn))
    assert not Path(".wesley/deployed.json").exists()  # a dev database is not a deploy

    # a column added, then taken away again: the drop is refused, then applied when asked
    Path("v3.graphql").write_text(
        BLADE_V2.read_text(encoding="utf-8").replace("}", "  note: String\n}", 1),
        encoding="utf-8",
    )
    ok("up", "--dsn", pg_dsn, "--schema", "v3.graphql")
    _matches(pg_dsn, Path("v3.graphql"))
    refused = wes("up", "--dsn", pg_dsn, "--schema", "v2.graphql")
    assert refused.code == 5, refused.stderr
    assert "error[PLAN_DESTRUCTIVE]" in refused.stderr and "drop_column user.note" in (
        refused.stderr
    )
    _matches(pg_dsn, Path("v3.graphql"))
    ok("up", "--dsn", pg_dsn, "--schema", "v2.graphql", "--allow-destructive")
    _matches(pg_dsn, Path("v2.graphql"))
    assert checksums(pg_dsn, ir_of(BLADE_V1)) == before


def test_up_reads_the_schema_from_stdin(pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(BLADE_V2.read_text(encoding="utf-8")))
    ok("up", "--dsn", pg_dsn, "--schema", "-")
    _matches(pg_dsn, BLADE_V2)


def test_schema_dash_reads_stdin_in_every_command(monkeypatch: pytest.MonkeyPatch) -> None:
    text = BLADE_V2.read_text(encoding="utf-8")
    for argv in (
        ("transform", "--schema", "-"),
        ("plan", "--schema", "-", "--from", str(BLADE_V1)),
        ("rehearse", "--schema", "-", "--dry-run", "--from", str(BLADE_V1)),
    ):
        monkeypatch.setattr(sys, "stdin", io.StringIO(text))
        ok(*argv)
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    assert ok("plan", "--schema", "-", "--json").json()["plan"]["steps"]
    # a bad schema on stdin is located as <stdin>
    monkeypatch.setattr(sys, "stdin", io.StringIO("type A @wes_table { id: ID! @wes_pk\n"))
    bad = wes("transform", "--schema", "-")
    assert bad.code == 2 and "<stdin>:" in bad.stderr, bad.stderr
    for argv in (  # the schema is read (and located) before any database is asked
        ("deploy", "--dsn", "postgresql://nobody@127.0.0.1:1/x", "--env", "prod"),
        ("baseline", "--dsn", "postgresql://nobody@127.0.0.1:1/x"),
        ("up", "--dsn", "postgresql://nobody@127.0.0.1:1/x"),
    ):
        monkeypatch.setattr(sys, "stdin", io.StringIO("type A @wes_table { id: ID @wes_pk }\n"))
        bad = wes(*argv, "--schema", "-")
        assert bad.code == 2 and "error[PK_NULLABLE]: <stdin>:" in bad.stderr, (argv, bad.stderr)
