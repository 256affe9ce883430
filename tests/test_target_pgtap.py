"""tests.sql passes on the database the schema builds, and fails on the matching assertion
when the database is broken on purpose."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.helpers import REPO, VALID_FIXTURES
from wesley.db.apply import apply_script
from wesley.db.pgtap import TapResult, parse_tap, run_suite
from wesley.ir import IR
from wesley.sdl import parse_sdl
from wesley.targets.pgtap import pgtap
from wesley.targets.postgres import postgres
from wesley.targets.rls import rls

TEMPLATE = REPO / "src" / "wesley" / "templates" / "schema.graphql"
SCHEMAS = [*VALID_FIXTURES, TEMPLATE]


def ir_of(path: Path) -> IR:
    return parse_sdl(path.read_text(encoding="utf-8")).ir


def build_and_test(ir: IR, dsn: str, sabotage: str | None = None) -> TapResult:
    with psycopg.connect(dsn, autocommit=True) as conn:
        apply_script(conn, postgres(ir)[0].text, "schema.sql")
        apply_script(conn, rls(ir)[0].text, "rls.sql")
        if sabotage:
            conn.execute(sabotage.encode())
        return run_suite(conn, pgtap(ir)[0].text)


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_suite_passes_with_a_matching_plan(path: Path, pg_dsn: str) -> None:
    ir = ir_of(path)
    result = build_and_test(ir, pg_dsn)
    if not ir.tables:
        assert result.planned == 0
        return
    assert result.failed == 0, result.failures
    assert result.planned == result.ran == result.passed + result.skipped
    assert result.skipped == 0
    columns = sum(len(t.columns) for t in ir.tables)
    assert result.planned >= 1 + 4 * columns  # has_table + 4 per column, at least


def test_rls_probes_run_for_tenant_tables(pg_dsn: str) -> None:
    result = build_and_test(ir_of(TEMPLATE), pg_dsn)
    assert result.ok
    probes = [ln for ln in result.tap.splitlines() if "RLS member:" in ln]
    assert len(probes) == 6 and all(ln.startswith("ok") for ln in probes)


@pytest.mark.parametrize(
    ("sabotage", "failing"),
    [
        ("DROP INDEX member_org_id_created_at_idx", "index member_org_id_created_at_idx exists"),
        ("ALTER TABLE member ALTER COLUMN email TYPE varchar(200)", "member.email is text"),
        ("ALTER TABLE org ALTER COLUMN created_at DROP DEFAULT", "org.created_at has a default"),
        ("ALTER TABLE member ALTER COLUMN tags SET NOT NULL", "member.tags is nullable"),
        ("ALTER TABLE member DROP CONSTRAINT member_org_id_fkey", "member_org_id_fkey"),
        ("ALTER TABLE org DROP CONSTRAINT org_name_key", "unique org_name_key holds"),
        (
            "DROP POLICY member_tenant ON member; CREATE POLICY member_open ON member USING (true)",
            "RLS member: tenant A cannot see tenant B rows",
        ),
    ],
)
def test_a_broken_database_fails_the_matching_assertion(
    sabotage: str, failing: str, pg_dsn: str
) -> None:
    result = build_and_test(ir_of(TEMPLATE), pg_dsn, sabotage)
    assert not result.ok
    assert any(failing in f for f in result.failures), result.failures


def test_parse_tap() -> None:
    tap = '1..4\nok 1 - a\nnot ok 2 - b\n# Failed test 2: "b"\n#   have: 1\nok 3 - # SKIP no\nok 4'
    result = parse_tap(tap)
    assert (result.planned, result.passed, result.failed, result.skipped) == (4, 2, 1, 1)
    assert result.failures[0].startswith("b\n# Failed test 2")
    assert not result.ok


def test_suite_is_deterministic() -> None:
    for path in SCHEMAS:
        assert pgtap(ir_of(path)) == pgtap(ir_of(path))
