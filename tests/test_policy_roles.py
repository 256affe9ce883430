"""@wes_rls(selectRoles:, insertRoles:, updateRoles:, deleteRoles:) on real PostgreSQL: each
command's policy is TO its own roles (pg_policies shows them, the roles see what they
should), the pgTAP suite checks them, a change of roles plans an ALTER POLICY and re-plans
to nothing, and the introspected IR equals the schema's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.helpers import cli
from tests.plan_apply import apply_plan
from tests.schema_compare import assert_database_matches
from wesley.db.apply import apply_script
from wesley.db.introspect import introspect
from wesley.db.pgtap import run_suite
from wesley.plan.build import build_plan
from wesley.sdl import parse_sdl
from wesley.targets.pgtap import pgtap
from wesley.targets.postgres import postgres
from wesley.targets.rls import rls

ROLES = ("w9_reader", "w9_writer", "w9_admin", "w9_auditor")

SCHEMA = """
type Note @wes_table @wes_rls(
  select: "true", selectRoles: ["w9_reader", "w9_admin"],
  insert: "length(body) > 0", insertRoles: ["w9_writer"],
  update: "true",
  delete: "false",
  roles: ["w9_admin"]
) {
  id: Int! @wes_pk
  body: String!
}
"""


def _conn(dsn: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(dsn, autocommit=True)
    for role in ROLES:  # roles are the cluster's: create them once, whoever comes first
        conn.execute(
            f"DO $$ BEGIN CREATE ROLE {role} NOLOGIN; "
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )
    return conn


def _build(conn: psycopg.Connection[Any], text: str) -> None:
    ir = parse_sdl(text).ir
    apply_script(conn, postgres(ir)[0].text, "schema.sql")
    apply_script(conn, rls(ir)[0].text, "rls.sql")


def _pg_policies(conn: psycopg.Connection[Any]) -> dict[str, tuple[str, list[str]]]:
    rows = conn.execute(
        "SELECT policyname, cmd, roles::text[] FROM pg_policies WHERE tablename = 'note'"
    ).fetchall()
    return {name: (cmd, sorted(roles)) for name, cmd, roles in rows}


def test_each_command_is_to_its_own_roles(pg_dsn: str) -> None:
    with _conn(pg_dsn) as conn:
        _build(conn, SCHEMA)
        assert _pg_policies(conn) == {
            "note_select": ("SELECT", ["w9_admin", "w9_reader"]),
            "note_insert": ("INSERT", ["w9_writer"]),
            "note_update": ("UPDATE", ["w9_admin"]),  # roles: where the command has none
            "note_delete": ("DELETE", ["w9_admin"]),
        }
        conn.execute("INSERT INTO note VALUES (1, 'hello')")
        conn.execute("GRANT SELECT, INSERT ON note TO w9_reader, w9_writer")
        conn.execute("SET ROLE w9_reader")
        assert conn.execute("SELECT count(*) FROM note").fetchone() == (1,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # no insert policy for it
            conn.execute("INSERT INTO note VALUES (2, 'x')")
        conn.execute("RESET ROLE")
        conn.execute("SET ROLE w9_writer")
        assert conn.execute("SELECT count(*) FROM note").fetchone() == (0,)  # not TO writer
        conn.execute("INSERT INTO note VALUES (3, 'mine')")
        conn.execute("RESET ROLE")
        # the grants above were the test's, not the schema's (grants are in the IR since 9b)
        conn.execute("REVOKE ALL ON note FROM w9_reader, w9_writer")
        assert_database_matches(parse_sdl(SCHEMA).ir, introspect(conn), policies=True)


def test_the_suite_checks_the_roles_of_each_policy(pg_dsn: str) -> None:
    ir = parse_sdl(SCHEMA).ir
    with _conn(pg_dsn) as conn:
        _build(conn, SCHEMA)
        assert run_suite(conn, pgtap(ir)[0].text).ok
        conn.execute("ALTER POLICY note_insert ON note TO PUBLIC")
        result = run_suite(conn, pgtap(ir)[0].text)
    assert not result.ok
    assert [f.splitlines()[0] for f in result.failures] == ["note_insert is TO w9_writer"]


def test_a_change_of_roles_is_planned_and_replans_to_nothing(pg_dsn: str) -> None:
    v2 = SCHEMA.replace('insertRoles: ["w9_writer"]', 'insertRoles: ["w9_auditor", "w9_writer"]')
    v2 = v2.replace('  roles: ["w9_admin"]\n', "")
    old, new = parse_sdl(SCHEMA).ir, parse_sdl(v2).ir
    with _conn(pg_dsn) as conn:
        _build(conn, SCHEMA)
        plan = build_plan(introspect(conn), new)
        assert {s.op for s in plan.steps} == {"alter_policy"}
        assert len(plan.steps) == 3  # insert gains a role; update and delete go to PUBLIC
        apply_plan(conn, plan)
        assert _pg_policies(conn)["note_insert"] == ("INSERT", ["w9_auditor", "w9_writer"])
        assert _pg_policies(conn)["note_delete"] == ("DELETE", ["public"])
        assert build_plan(introspect(conn), new).steps == []
        assert build_plan(old, new).steps  # from the IR too, not only from the database
        assert run_suite(conn, pgtap(new)[0].text).ok


def test_rehearse_passes_with_per_command_roles(
    pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _conn(pg_dsn).close()
    monkeypatch.chdir(tmp_path)
    Path("schema.graphql").write_text(SCHEMA, encoding="utf-8")
    result = cli(capsys, "rehearse", "--schema", "schema.graphql", "--dsn", pg_dsn, "--json")
    assert result.code == 0, result.stdout + result.stderr
    assert result.json()["realm"]["verdict"] == "PASS"
