"""RLS policy rules are checked at SDL → IR time (issue 9, item 5): unknown columns and
tables, a qualifier that names no table in scope and misused policy keywords
are coded errors at the directive's line:col; rules reading other tables through subqueries,
Supabase's auth.* helpers and other schemas pass. auth.uid(), auth.role() and auth.jwt() are
shims on plain PostgreSQL and never replace real ones."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.helpers import cli
from wesley.db.apply import apply_script
from wesley.errors import WesleyError
from wesley.sdl import parse_sdl
from wesley.targets.postgres import postgres
from wesley.targets.rls import rls

SCHEMA = """type Org @wes_table {
  id: ID! @wes_pk
  name: String!
}
type Member @wes_table @wes_tenant(by: "orgId")
  @wes_rls(%s) {
  id: ID! @wes_pk
  orgId: ID! @wes_fk(ref: "Org.id")
  userId: ID
  role: String
}
"""
LINE, COLUMN = 6, 3  # where @wes_rls is


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        ('select: "no_such_col = 1"', "UNKNOWN_COLUMN", "no_such_col"),
        ('select: "userId = auth.uid()"', "UNKNOWN_COLUMN", "the field userId of Member is"),
        ('select: "other_table.x = 1"', "INVALID_EXPRESSION", "no table 'other_table'"),
        ('update: "EXISTS (SELECT 1 FROM nope WHERE id = org_id)"', "INVALID_EXPRESSION", "nope"),
        ("delete: \"EXISTS (SELECT 1 FROM org o WHERE o.nam = 'x')\"", "UNKNOWN_COLUMN", "o.nam"),
        ('insert: "org_id IN (SELECT id FROM org WHERE titl = 1)"', "UNKNOWN_COLUMN", "titl"),
        ("using: \"org.name = 'x'\"", "INVALID_EXPRESSION", "no table 'org'"),
        # keywords are rules now (issue 15): one that needs an owner column on a table without
        ('update: "owner_or_admin"', "OWNER_COLUMN_MISSING", "owner_or_admin"),
        ('insert: "tenant_and_owner"', "OWNER_COLUMN_MISSING", "tenant_and_owner"),
        ('using: "tenant"', "UNKNOWN_POLICY_KEYWORD", "per command"),
        ('select: "1; DROP TABLE org"', "INVALID_EXPRESSION", "';'"),
        ('preset: "nope"', "UNKNOWN_PRESET", "preset"),
        ('select: "true", name: "p"', "ARGUMENT_UNSUPPORTED", "name"),
        ('select: "true", options: {a: 1}', "INVALID_PRESET_OPTION", "'a'"),
        ('selectRoles: ["anon"]', "INVALID_ARGUMENT", "no select: rule"),
    ],
)
def test_a_bad_rule_is_a_coded_error_at_the_directive(args: str, code: str, words: str) -> None:
    with pytest.raises(WesleyError) as caught:
        parse_sdl(SCHEMA % args, "schema.graphql")
    err = caught.value
    assert err.code == code, err.render()
    assert words in err.message + (err.hint or ""), err.render()
    assert err.location is not None
    assert (err.location.file, err.location.line, err.location.column) == (
        "schema.graphql",
        LINE,
        COLUMN,
    )
    assert err.hint


@pytest.mark.parametrize(
    "args",
    [
        'select: "user_id = auth.uid()"',
        "select: \"member.user_id = auth.uid() OR auth.role() = 'service_role'\"",
        "select: \"(auth.jwt() ->> 'org') = org_id::text\"",
        "select: \"EXISTS (SELECT 1 FROM org o WHERE o.id = member.org_id AND o.name <> '')\"",
        'select: "org_id IN (SELECT id FROM org WHERE name = role)"',  # outer column inside
        'select: "user_id IN (SELECT id FROM auth.users WHERE email IS NOT NULL)"',
        'select: "EXISTS (WITH x AS (SELECT 1 AS k) SELECT k FROM x)"',
        'select: "EXISTS (SELECT 1 FROM org JOIN member m2 ON m2.org_id = org.id)"',
        'select: "org_id IN (SELECT id FROM org UNION SELECT org_id FROM member)"',
    ],
)
def test_good_rules_pass(args: str) -> None:
    parse_sdl(SCHEMA % args, "schema.graphql")


def test_a_column_named_like_a_keyword_is_a_column() -> None:
    text = SCHEMA.replace("role: String", "tenant: Boolean") % 'select: "tenant"'
    ir = parse_sdl(text).ir
    assert ir.tables[1].rls is not None and ir.tables[1].rls.select == "tenant"


AUTH = """
type Doc @wes_table @wes_rls(
  select: "owner = auth.uid() OR auth.role() = 'service_role'",
  insert: "(auth.jwt() ->> 'tier') = 'pro'"
) {
  id: Int! @wes_pk
  owner: UUID!
}
"""


def test_auth_helpers_are_shims_on_plain_postgresql(pg_dsn: str) -> None:
    ir = parse_sdl(AUTH).ir
    me, other = str(uuid.uuid4()), str(uuid.uuid4())
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        apply_script(conn, postgres(ir)[0].text)
        apply_script(conn, rls(ir)[0].text)
        apply_script(conn, rls(ir)[0].text)  # again: the shims are not created twice
        conn.execute("INSERT INTO doc VALUES (1, %s), (2, %s)", (me, other))
        conn.execute("DROP ROLE IF EXISTS w9_app")
        conn.execute("CREATE ROLE w9_app NOLOGIN")
        conn.execute("GRANT SELECT, INSERT ON doc TO w9_app")
        conn.execute("SET ROLE w9_app")
        conn.execute("SELECT set_config('request.jwt.claim.sub', %s, false)", (me,))
        assert conn.execute("SELECT id FROM doc").fetchall() == [(1,)]
        claims = json.dumps({"role": "service_role", "tier": "free"})
        conn.execute("SELECT set_config('request.jwt.claims', %s, false)", (claims,))
        assert conn.execute("SELECT count(*) FROM doc").fetchone() == (2,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO doc VALUES (3, %s)", (me,))
        claims = json.dumps({"role": "authenticated", "tier": "pro"})
        conn.execute("SELECT set_config('request.jwt.claims', %s, false)", (claims,))
        conn.execute("INSERT INTO doc VALUES (3, %s)", (me,))
        conn.execute("RESET ROLE")
        conn.execute("DROP OWNED BY w9_app")
        conn.execute("DROP ROLE w9_app")


def test_real_auth_helpers_are_never_replaced(pg_dsn: str) -> None:
    ir = parse_sdl(AUTH).ir
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA auth")
        conn.execute("CREATE FUNCTION auth.role() RETURNS text LANGUAGE sql AS $$ SELECT 'x' $$")
        conn.execute(
            "CREATE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$"
        )
        apply_script(conn, postgres(ir)[0].text)
        apply_script(conn, rls(ir)[0].text)
        assert conn.execute("SELECT auth.role(), auth.jwt()::text").fetchone() == ("x", "{}")
        assert conn.execute("SELECT to_regprocedure('auth.uid()') IS NOT NULL").fetchone() == (
            True,
        )


def test_a_schema_calling_every_auth_helper_rehearses_to_pass(
    pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The plan creates the shims (only where missing) with the locks it predicted."""
    monkeypatch.chdir(tmp_path)
    Path("schema.graphql").write_text(AUTH, encoding="utf-8")
    result = cli(capsys, "rehearse", "--schema", "schema.graphql", "--dsn", pg_dsn, "--json")
    assert result.code == 0, result.stdout + result.stderr
    realm = result.json()["realm"]
    assert realm["verdict"] == "PASS"
    with psycopg.connect(pg_dsn) as conn:  # the shadow it rehearsed on
        row = conn.execute(
            "SELECT to_regprocedure('auth.uid()'), to_regprocedure('auth.role()'), "
            "to_regprocedure('auth.jwt()')"
        ).fetchone()
    assert row is not None and all(row), row
