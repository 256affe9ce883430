"""Grants deploy (issue 9, item 4): `@wes_grant` is part of the IR, introspected from the
ACLs, diffed, planned as catalog-only GRANT / REVOKE steps, tested by the pgTAP suite, and a
database at the schema re-plans to nothing. A role the target lacks stops `deploy` (and `up`)
before any step with ROLE_MISSING; a rehearsal creates it NOLOGIN in its shadow and says so.

Roles are cluster-wide and the test clusters are shared by the session: every role here has
a name of its own, and is dropped at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from tests.helpers import cli
from tests.lifecycle import SIGNERS, TOML_KEYS, has_run_records, ok, scratch_database, wes
from wesley.db.introspect import introspect
from wesley.db.pgtap import ensure_pgtap, run_suite
from wesley.errors import WesleyError
from wesley.ir import IR, Grant
from wesley.plan.build import build_plan
from wesley.plan.diff import diff
from wesley.sdl import parse_sdl
from wesley.targets.pgtap import pgtap


def _ir(text: str) -> IR:
    return parse_sdl(text, "doc.graphql").ir


def _doc(table_roles: list[str], title_roles: list[str], body_roles: list[str]) -> str:
    def grant(roles: list[str]) -> str:
        if not roles:
            return ""
        return " @wes_grant(roles: [" + ", ".join(f'"{r}"' for r in roles) + "])"

    return (
        f"type Doc @wes_table{grant(table_roles)} {{\n"
        "  id: Int! @wes_pk\n"
        f"  title: String{grant(title_roles)}\n"
        f"  body: String{grant(body_roles)}\n"
        "}\n"
    )


@contextmanager
def _roles(admin_dsn: str, dsn: str, *names: str, create: bool = True) -> Iterator[list[str]]:
    """Roles of this test's own (created unless told not to), dropped with their privileges at
    the end."""
    if create:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            for name in names:
                conn.execute(f'CREATE ROLE "{name}" NOLOGIN')
    try:
        yield list(names)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            for name in names:
                if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
                    conn.execute(f'DROP OWNED BY "{name}"')
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP ROLE IF EXISTS "{name}"')


def _can(dsn: str, role: str, sql: str) -> bool:
    """Whether `role` may run `sql` (in a transaction that rolls back)."""
    with psycopg.connect(dsn) as conn:
        conn.execute(f'SET ROLE "{role}"')
        try:
            conn.execute(sql)
        except psycopg.errors.InsufficientPrivilege:
            return False
        finally:
            conn.rollback()
    return True


def _suite_passes(dsn: str, ir: IR) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        ensure_pgtap(conn)
        tap = run_suite(conn, pgtap(ir)[0].text)
    assert tap.ok, tap.tap


def test_grants_are_in_the_ir_as_written() -> None:
    ir = _ir(_doc(["app", "app", "Public"], ["reader"], []))
    doc = ir.tables[0]
    assert doc.grants == [
        Grant(role="app", privileges=["SELECT", "INSERT", "UPDATE", "DELETE"]),
        Grant(role="PUBLIC", privileges=["SELECT", "INSERT", "UPDATE", "DELETE"]),
    ]
    assert doc.column("title") and doc.column("title").grants == [  # type: ignore[union-attr]
        Grant(role="reader", privileges=["SELECT"])
    ]
    # an IR written before grants carried privileges still reads
    old = IR.model_validate(
        {**ir.to_json_data(), "tables": [{**ir.to_json_data()["tables"][0], "grants": ["app"]}]}
    )
    assert old.tables[0].grants == [doc.grants[0]]


def test_a_grant_without_roles_is_a_coded_error() -> None:
    with pytest.raises(WesleyError) as err:
        parse_sdl("type T @wes_table @wes_grant(roles: []) { id: Int! @wes_pk }", "t.graphql")
    assert err.value.code == "MISSING_ARGUMENT"
    assert err.value.location is not None and err.value.location.column == 19


def test_the_diff_grants_revokes_and_grants_a_column_again_after_a_table_revoke() -> None:
    old = _ir(_doc(["a", "b"], ["b"], []))
    new = _ir(_doc(["a"], ["b"], ["PUBLIC"]))
    got = [(c.kind, c.column, (c.new or c.old).role, c.detail) for c in diff(old, new)]
    assert got == [
        ("revoke", None, "b", ""),
        ("grant", "body", "PUBLIC", ""),
        ("grant", "title", "b", "regrant"),  # REVOKE ... ON doc took it off the column too
    ]
    plan = build_plan(old, new)
    assert [(s.phase, s.op, s.sql) for s in plan.steps] == [
        ("switch", "grant", "GRANT SELECT (body) ON doc TO PUBLIC"),
        ("contract", "revoke", "REVOKE SELECT, INSERT, UPDATE, DELETE ON doc FROM b"),
        ("contract", "regrant", "GRANT SELECT (title) ON doc TO b"),
    ]
    assert not plan.two_stage  # catalog only: nothing the old version needs is removed


def test_grants_and_revokes_deploy_and_replan_to_nothing(
    pg_admin_dsn: str, pg_dsn: str, pg_major: int, capsys: pytest.CaptureFixture[str]
) -> None:
    tag = uuid.uuid4().hex[:8]
    app, reader = f"app_{tag}", f"Reader_{tag}"  # a name that needs quoting, too
    with _roles(pg_admin_dsn, pg_dsn, app, reader):
        versions = [
            _doc([], [], []),
            _doc([app], [reader], ["public"]),
            _doc([reader], [reader], []),
            _doc([], [reader], []),
        ]
        expected_ops = [
            ["create_table", "comment", "comment", "comment", "comment"],
            ["grant", "grant", "grant"],
            ["grant", "revoke", "revoke"],
            ["revoke", "regrant"],
        ]
        for n, (sdl, ops) in enumerate(zip(versions, expected_ops, strict=True)):
            Path("doc.graphql").write_text(sdl, encoding="utf-8")
            plan = cli(capsys, "plan", "--schema", "doc.graphql", "--from-db", pg_dsn, "--json")
            assert plan.code == 0, plan.stderr
            steps = plan.json()["plan"]["steps"]
            assert [s["op"] for s in steps] == ops, (n, [s["sql"] for s in steps])
            for s in steps:
                if s["op"] in ("grant", "revoke", "regrant"):
                    # catalog only; PostgreSQL 18 opens the table with ACCESS SHARE
                    assert not s["rewrite"] and not s["scan"] and not s["blocks"]["writes"]
                    want = [] if pg_major < 16 else [{"relation": "doc", "mode": "ACCESS SHARE"}]
                    assert s["locks"] == want, s
            up = cli(capsys, "up", "--dsn", pg_dsn, "--schema", "doc.graphql")
            assert up.code == 0, up.stderr
            again = cli(capsys, "plan", "--schema", "doc.graphql", "--from-db", pg_dsn, "--json")
            assert again.json()["plan"]["steps"] == [], (n, again.stdout)
            _suite_passes(pg_dsn, _ir(sdl))
            with psycopg.connect(pg_dsn, autocommit=True) as conn:
                assert [t.grants for t in introspect(conn).tables] == [
                    t.grants for t in _ir(sdl).tables
                ]
            # what the roles may do, as each of them
            assert _can(pg_dsn, app, "SELECT * FROM doc") == (n == 1)
            assert _can(pg_dsn, app, "DELETE FROM doc") == (n == 1)
            assert _can(pg_dsn, reader, "SELECT title FROM doc") == (n >= 1)
            assert _can(pg_dsn, reader, "SELECT body FROM doc") == (n in (1, 2))  # PUBLIC, table
            assert _can(pg_dsn, reader, "INSERT INTO doc (id) VALUES (1)") == (n == 2)


def test_the_pgtap_suite_fails_when_a_grant_is_missing(pg_admin_dsn: str, pg_dsn: str) -> None:
    """The generated assertion can fail: a privilege revoked by hand, or one granted beyond the
    schema, is named."""
    tag = uuid.uuid4().hex[:8]
    app = f"app_{tag}"
    with _roles(pg_admin_dsn, pg_dsn, app):
        sdl = _doc([app], [], [])
        assert cli_ok_up(pg_dsn, sdl)
        _suite_passes(pg_dsn, _ir(sdl))
        for change, undo in (
            (f"REVOKE DELETE ON doc FROM {app}", f"GRANT DELETE ON doc TO {app}"),
            ("GRANT SELECT (title) ON doc TO PUBLIC", "REVOKE SELECT (title) ON doc FROM PUBLIC"),
        ):
            with psycopg.connect(pg_dsn, autocommit=True) as conn:
                conn.execute(change)
                ensure_pgtap(conn)
                tap = run_suite(conn, pgtap(_ir(sdl))[0].text)
                conn.execute(undo)
            assert tap.failed == 1, tap.tap
            assert "privileges granted are the schema grants" in tap.failures[0]


def cli_ok_up(dsn: str, sdl: str) -> bool:
    Path("doc.graphql").write_text(sdl, encoding="utf-8")
    result = wes("up", "--dsn", dsn, "--schema", "doc.graphql")
    assert result.code == 0, result.stderr
    return True


def test_up_refuses_a_missing_role_before_any_step(pg_dsn: str) -> None:
    missing = f"nobody_{uuid.uuid4().hex[:8]}"
    Path("doc.graphql").write_text(_doc([missing], [], []), encoding="utf-8")
    result = wes("up", "--dsn", pg_dsn, "--schema", "doc.graphql", "--json")
    assert result.code == 13
    error = result.json()["error"]
    assert error["code"] == "ROLE_MISSING" and missing in error["message"]
    assert error["details"]["roles"] == [missing]
    assert f"CREATE ROLE {missing} NOLOGIN" in error["hint"]
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        assert introspect(conn).tables == []  # nothing applied
    assert not has_run_records(pg_dsn)


SUPABASE = ["anon", "authenticated", "service_role"]


def test_rehearse_creates_the_missing_roles_and_deploy_refuses_without_them(
    pg_admin_dsn: str, pg_dsn: str, pg_bin: Path
) -> None:
    """Supabase's roles: the rehearsal's shadow (an ephemeral cluster) lacks them, creates them
    NOLOGIN and says so in realm.json; the target lacks one of them, and deploy stops before
    any step, naming it (exit 13); with the role there, the same certificate deploys and the
    database re-plans to nothing."""
    own = f"editor_{uuid.uuid4().hex[:8]}"
    sdl = (
        'type Doc @wes_table @wes_grant(roles: ["authenticated", "service_role"]) {\n'
        "  id: Int! @wes_pk\n"
        f'  title: String @wes_grant(roles: ["anon", "{own}"])\n'
        "}\n"
    )
    Path("schema.graphql").write_text(sdl, encoding="utf-8")
    Path("wesley.toml").write_text(TOML_KEYS, encoding="utf-8")
    ok("transform", "--quiet")
    rehearsed = ok("rehearse", "--json")
    realm = rehearsed.json()["realm"]
    assert realm["verdict"] == "PASS" and realm["replan_empty"] is True
    assert realm["ephemeral"] is True
    assert realm["roles_created"] == sorted([*SUPABASE, own])
    assert any("roles created NOLOGIN in the shadow" in n for n in realm["notes"])
    written = Path(".wesley/realm.json").read_text(encoding="utf-8")
    assert f'"{own}"' in written
    for signer in SIGNERS:
        ok("cert", "keygen", "--signer", signer, "--out", f"keys/{signer}", "--quiet")
    ok("cert", "create", "--env", "prod", "--quiet")
    for signer in SIGNERS:
        ok("cert", "sign", "--signer", signer, "--key", f"keys/{signer}", "--quiet")

    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        existing = {
            r[0]
            for r in conn.execute(
                "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (SUPABASE,)
            ).fetchall()
        }
    to_create = [r for r in SUPABASE if r not in existing]
    with _roles(pg_admin_dsn, pg_dsn, *to_create):
        refused = wes("deploy", "--dsn", pg_dsn, "--env", "prod", "--json")
        assert refused.code == 13, refused.stdout + refused.stderr
        error = refused.json()["error"]
        assert error["code"] == "ROLE_MISSING" and error["details"]["roles"] == [own]
        assert own in error["message"]
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            assert introspect(conn).tables == []  # before any step
        assert not has_run_records(pg_dsn)
        with _roles(pg_admin_dsn, pg_dsn, own):
            deployed = ok("deploy", "--dsn", pg_dsn, "--env", "prod")
            assert "applied" in deployed.stdout
            assert _can(pg_dsn, own, "SELECT title FROM doc")
            assert not _can(pg_dsn, own, "SELECT id FROM doc")
            assert _can(pg_dsn, "service_role", "DELETE FROM doc")
            replan = ok("plan", "--from-db", pg_dsn, "--json")
            assert replan.json()["plan"]["steps"] == []


def test_rehearse_of_a_grant_change_passes_with_the_predicted_locks(
    pg_admin_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """v1 → v2 that grants, revokes and grants a column again, rehearsed on a shadow of the
    test server: PASS, the replan is empty, every step's observed locks are the predicted
    ones, and the roles it created are listed."""
    tag = uuid.uuid4().hex[:8]
    a, b = f"a_{tag}", f"b_{tag}"
    Path("v1.graphql").write_text(_doc([a, b], [b], []), encoding="utf-8")
    Path("v2.graphql").write_text(_doc([a], [b], ["public"]), encoding="utf-8")
    with scratch_database(pg_admin_dsn) as shadow, _roles(pg_admin_dsn, shadow, a, b, create=False):
        result = cli(
            capsys,
            "rehearse",
            "--schema",
            "v2.graphql",
            "--from",
            "v1.graphql",
            "--seed-rows",
            "10",
            "--dsn",
            shadow,
            "--json",
        )
        assert result.code == 0, result.stdout + result.stderr
        realm = result.json()["realm"]
        assert realm["verdict"] == "PASS" and realm["replan_empty"] is True
        assert realm["roles_created"] == sorted([a, b])
        ops = [s["op"] for s in realm["steps"]]
        assert ops == ["grant", "revoke", "regrant"], ops
        for step in realm["steps"]:
            assert step["status"] == "applied"
            assert step["observed_locks"] == step["predicted_locks"], step
        assert _can(shadow, b, "SELECT title FROM doc") and not _can(
            shadow, b, "SELECT id FROM doc"
        )
