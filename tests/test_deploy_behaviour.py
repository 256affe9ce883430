"""`wesley deploy` and what the data decides: a behaviour change (row-level security on a table
that has readers) names the roles it reaches; a change the data makes impossible is refused
before any step."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg

from tests.lifecycle import build_old, has_run_records, wes
from wesley.sdl import parse_sdl

OLD = """
type Org @wes_table { id: ID! @wes_pk  name: String! }
type Item @wes_table {
  id: ID! @wes_pk
  orgId: ID!
  qty: Int
}
"""
RLS = OLD.replace("type Item @wes_table {", 'type Item @wes_table @wes_tenant(by: "orgId") {')
TIGHT = OLD.replace("  qty: Int\n", "  qty: Int!\n")


def test_deploy_names_the_roles_enabling_rls_affects(pg_dsn: str) -> None:
    build_old(pg_dsn, parse_sdl(OLD).ir)
    suffix = uuid.uuid4().hex[:8]
    reader, bypass, other = (f"w_reader_{suffix}", f"w_bypass_{suffix}", f"w_other_{suffix}")
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {reader} NOLOGIN")
        conn.execute(f"CREATE ROLE {bypass} NOLOGIN BYPASSRLS")
        conn.execute(f"CREATE ROLE {other} NOLOGIN")
        conn.execute(f"GRANT SELECT, INSERT ON item TO {reader}, {bypass}")
        conn.execute(f"GRANT SELECT ON org TO {other}")  # not on item: not affected
    try:
        Path("new.graphql").write_text(RLS, encoding="utf-8")
        plan = wes("plan", "--from-db", pg_dsn, "--schema", "new.graphql", "--explain")
        assert plan.code == 0, plan.stderr
        assert "behaviour changes" in plan.stdout and "row-level security on item" in plan.stdout
        result = wes(
            "deploy", "--dsn", pg_dsn, "--env", "dev", "--schema", "new.graphql", "--force"
        )
        assert result.code == 0, result.stderr
        [line] = [x for x in result.stderr.splitlines() if x.startswith("behaviour change:")]
        assert "row-level security on item" in line
        assert f"roles affected: {reader}" in line
        assert bypass not in line and other not in line  # BYPASSRLS, no privilege on item
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            enabled = conn.execute(
                "SELECT relrowsecurity FROM pg_class WHERE oid = 'item'::regclass"
            ).fetchone()
        assert enabled == (True,)
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            for role in (reader, bypass, other):
                conn.execute(f"DROP OWNED BY {role}")
                conn.execute(f"DROP ROLE {role}")


def test_deploy_refuses_a_tightening_the_rows_make_impossible_before_any_step(
    pg_dsn: str,
) -> None:
    build_old(pg_dsn, parse_sdl(OLD).ir)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO org (id, name) VALUES (gen_random_uuid(), 'o')")
        conn.execute(
            "INSERT INTO item (id, org_id) SELECT gen_random_uuid(), id FROM org, "
            "generate_series(1, 4)"
        )
    Path("new.graphql").write_text(TIGHT, encoding="utf-8")
    result = wes("deploy", "--dsn", pg_dsn, "--env", "dev", "--schema", "new.graphql", "--force")
    assert result.code == 13, result.stderr
    assert "error[PLAN_BLOCKED]" in result.stderr
    assert "4 rows of item.qty are NULL" in result.stderr
    assert not has_run_records(pg_dsn)  # nothing was applied, not even the run record
