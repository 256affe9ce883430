"""Supabase: `transform --supabase` migrations applied as the Supabase CLI applies them (each
file in one transaction, in version order), the roles shimmed only where missing, and the
user taken from the JWT as PostgREST sets it."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from tests.helpers import cli
from wesley.api._supabase import write_migration
from wesley.db.apply import apply_script
from wesley.db.introspect import introspect
from wesley.db.pgtap import run_suite
from wesley.ir import IR
from wesley.plan.build import build_plan
from wesley.sdl import parse_sdl
from wesley.targets.pgtap import pgtap
from wesley.targets.rls import rls

V1 = """
type Org @wes_table { id: ID! @wes_pk  name: String! }
type Doc @wes_table @wes_tenant(by: "orgId") {
  id: ID! @wes_pk @wes_default(expr: "gen_random_uuid()")
  orgId: ID! @wes_fk(ref: "Org.id")
  deletedAt: DateTime
}
"""
# a preset, an index on an existing table (CONCURRENTLY under deploy) and a backfilled column
V2 = V1.replace(
    '@wes_tenant(by: "orgId")', '@wes_tenant(by: "orgId") @wes_rls(preset: "soft-delete")'
).replace(
    "deletedAt: DateTime",
    "deletedAt: DateTime @wes_index\n"
    '  title: String! @wes_default(expr: "gen_random_uuid()::text")',
)
NAME = re.compile(r"^\d{14}_wesley_[0-9a-f]{12}\.sql$")  # the CLI's <version>_<name>.sql


def ir(text: str) -> IR:
    return parse_sdl(text).ir


def apply_like_the_cli(conn: psycopg.Connection[tuple[object, ...]], files: list[Path]) -> None:
    for path in sorted(files, key=lambda p: int(p.name.split("_")[0])):
        with conn.transaction():  # one transaction per file, as `supabase db push`
            conn.execute(path.read_text(encoding="utf-8").encode())


def test_migrations_follow_the_schema_and_apply_in_one_transaction_each(
    tmp_path: Path, pg_dsn: str
) -> None:
    root, bundle = tmp_path / "supabase" / "migrations", tmp_path / ".wesley"
    first = write_migration(ir(V1), bundle, root, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert first.path is not None and Path(first.path).name.startswith("20260102030405_")
    # the clock says the same second again: the next version still sorts after
    second = write_migration(ir(V2), bundle, root, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert second.path is not None and Path(second.path).name.startswith("20260102030406_")
    assert {w.code for w in second.warnings} == {"W_SUPABASE_IN_TRANSACTION"}
    assert len(second.warnings) == 2  # the index built plainly, the backfill in one go
    assert write_migration(ir(V2), bundle, root).path is None  # nothing changed
    files = sorted(root.iterdir())
    assert [NAME.match(p.name) is not None for p in files] == [True, True]
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS probe_rows_before (x int)")
        apply_like_the_cli(conn, files[:1])
        conn.execute("INSERT INTO org (id, name) VALUES (gen_random_uuid(), 'o')")
        conn.execute("INSERT INTO doc (org_id) SELECT id FROM org")
        conn.commit()
        apply_like_the_cli(conn, files[1:])
        conn.commit()
        # the existing row got its value; the database is the schema
        assert conn.execute("SELECT count(*) FROM doc WHERE title IS NULL").fetchone() == (0,)
        live = introspect(conn)
        assert [s.sql for s in build_plan(live, ir(V2)).steps if s.op != "ensure_helpers"] == []
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        result = run_suite(conn, pgtap(ir(V2))[0].text)
    assert result.ok, result.failures


def test_transform_supabase_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("schema.graphql").write_text(V1, encoding="utf-8")
    done = cli(capsys, "transform", "--supabase", "--json")
    assert done.code == 0, done.stderr
    path = json.loads(done.stdout)["supabase_migration"]
    assert path.startswith("supabase/migrations/") and NAME.match(Path(path).name)
    again = cli(capsys, "transform", "--supabase", "--json")
    assert json.loads(again.stdout)["supabase_migration"] is None
    # a destructive change is not written into a migration behind the user's back
    Path("schema.graphql").write_text(V1.replace("  deletedAt: DateTime\n", ""), "utf-8")
    refused = cli(capsys, "transform", "--supabase")
    assert refused.code == 5 and "PLAN_DESTRUCTIVE" in refused.stderr
    assert len(list(Path("supabase/migrations").iterdir())) == 1


SCHEMA_WITH_ROLES = """
type Note @wes_table @wes_rls(preset: "authenticated", roles: ["authenticated"])
  @wes_grant(roles: ["anon", "authenticated", "service_role"]) { id: ID! @wes_pk }
"""


def test_supabase_roles_are_created_only_where_missing(pg_dsn: str) -> None:
    schema = ir(SCHEMA_WITH_ROLES)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        for role in ("anon", "authenticated", "service_role"):
            conn.execute(f"DROP ROLE IF EXISTS {role}")
        # a real one (as Supabase has it) stays exactly as it is
        conn.execute("CREATE ROLE authenticated NOLOGIN NOINHERIT")
        before = conn.execute("SELECT oid FROM pg_roles WHERE rolname = 'authenticated'").fetchone()
        conn.execute("CREATE TABLE note (id uuid PRIMARY KEY)")
        apply_script(conn, rls(schema)[0].text, "rls.sql")
        apply_script(conn, rls(schema)[0].text, "rls.sql again")
        roles: dict[str, bool] = dict(
            conn.execute(
                "SELECT rolname, rolcanlogin OR rolinherit IS FALSE FROM pg_roles WHERE rolname "
                "IN ('anon', 'authenticated', 'service_role')"
            ).fetchall()
        )
        after = conn.execute("SELECT oid FROM pg_roles WHERE rolname = 'authenticated'").fetchone()
        assert before == after
        assert roles == {"anon": False, "authenticated": True, "service_role": False}
        privs = conn.execute(
            "SELECT count(*) FROM information_schema.role_table_grants WHERE table_name = 'note'"
            " AND grantee IN ('anon', 'authenticated', 'service_role')"
        ).fetchone()
        assert privs is not None and privs[0] == 12
        for role in ("anon", "authenticated", "service_role"):
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def test_the_user_is_the_jwt_subject_when_the_application_sets_none(pg_dsn: str) -> None:
    schema = ir(
        'type Note @wes_table @wes_rls(preset: "owner", options: {column: "authorId"}) '
        "{ id: ID! @wes_pk authorId: ID! }"
    )
    alice, bob = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        from wesley.targets.postgres import postgres

        apply_script(conn, postgres(schema)[0].text, "schema.sql")
        apply_script(conn, rls(schema)[0].text, "rls.sql")
        conn.execute(f"INSERT INTO note VALUES (gen_random_uuid(), '{alice}')")
        conn.execute(f"INSERT INTO note VALUES (gen_random_uuid(), '{bob}')")
        conn.execute("CREATE ROLE wesley_jwt_app NOLOGIN")
        conn.execute("GRANT SELECT ON note TO wesley_jwt_app")
        conn.execute("SET ROLE wesley_jwt_app")
        claims = json.dumps({"sub": alice, "role": "authenticated"})
        conn.execute("SELECT set_config('request.jwt.claims', %s, false)", (claims,))
        assert conn.execute("SELECT author_id::text FROM note").fetchall() == [(alice,)]
        conn.execute("SELECT set_config('request.jwt.claims', '', false)")
        conn.execute("SELECT set_config('request.jwt.claim.sub', %s, false)", (bob,))
        assert conn.execute("SELECT author_id::text FROM note").fetchall() == [(bob,)]
        conn.execute("SELECT set_config('app.user_id', %s, false)", (alice,))  # the app wins
        assert conn.execute("SELECT author_id::text FROM note").fetchall() == [(alice,)]
        conn.execute("RESET ROLE")
        conn.execute("DROP OWNED BY wesley_jwt_app")
        conn.execute("DROP ROLE wesley_jwt_app")
