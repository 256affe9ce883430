"""schema.sql applies to a real PostgreSQL and builds exactly what the IR says."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.helpers import REPO, VALID_FIXTURES
from tests.schema_compare import assert_database_matches
from wesley.db.apply import apply_script
from wesley.db.introspect import introspect
from wesley.ir import IR
from wesley.sdl import parse_sdl
from wesley.targets.postgres import postgres

SCHEMAS = [*VALID_FIXTURES, REPO / "src" / "wesley" / "templates" / "schema.graphql"]


def build(ir: IR, dsn: str) -> IR:
    (artifact,) = postgres(ir)
    with psycopg.connect(dsn, autocommit=True) as conn:
        apply_script(conn, artifact.text, "schema.sql")
        return introspect(conn)


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_schema_sql_builds_what_the_ir_says(path: Path, pg_dsn: str) -> None:
    ir = parse_sdl(path.read_text(encoding="utf-8"), str(path)).ir
    assert_database_matches(ir, build(ir, pg_dsn))


CYCLE = """
type A @wes_table { id: ID! @wes_pk  bId: ID @wes_fk(ref: "B.id") }
type B @wes_table {
  id: ID! @wes_pk  aId: ID @wes_fk(ref: "A.id")  parentId: ID @wes_fk(ref: "B.id")
}
type C @wes_table { id: ID! @wes_pk  aId: ID! @wes_fk(ref: "A.id", onDelete: SET_NULL) }
"""


def test_fk_cycles_and_self_references(pg_dsn: str) -> None:
    ir = parse_sdl(CYCLE).ir
    assert_database_matches(ir, build(ir, pg_dsn))


HOSTILE = """
enum User { A B }
type Order @wes_table(name: "order") {
  id: ID! @wes_pk
  user: String @wes_column(name: "user")
  select: Int! @wes_default(value: 1)
  quote: String @wes_column(name: "we\\"ird'; DROP TABLE victim; --")
    @wes_default(value: "it's; DROP TABLE victim; --")
  unicode: String @wes_column(name: "naïve_名前") @wes_index
  long: Int @wes_column(name: "%s") @wes_unique
  mixed: Int @wes_column(name: "MixedCase") @wes_check(expr: "\\"MixedCase\\" > 0")
  at: User @wes_default(value: "B")
}
type Victim @wes_table { id: ID! @wes_pk  orderId: ID @wes_fk(ref: "Order.id") @wes_index }
""" % ("x" * 63)


def test_hostile_identifiers_and_literals_do_exactly_what_the_schema_says(pg_dsn: str) -> None:
    ir = parse_sdl(HOSTILE).ir
    have = build(ir, pg_dsn)
    assert_database_matches(ir, have)
    assert {t.name for t in have.tables} == {"order", "victim"}  # nothing dropped
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute('INSERT INTO "order" (id) VALUES (gen_random_uuid())')
        row = conn.execute(
            'SELECT "we""ird\'; DROP TABLE victim; --", "select", at::text FROM "order"'
        ).fetchone()
        assert row == ("it's; DROP TABLE victim; --", 1, "B")
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute('INSERT INTO "order" (id, "MixedCase") VALUES (gen_random_uuid(), -1)')


def test_output_is_deterministic() -> None:
    for path in SCHEMAS:
        ir = parse_sdl(path.read_text(encoding="utf-8")).ir
        assert postgres(ir) == postgres(ir)


def test_every_column_uid_has_evidence_lines() -> None:
    path = REPO / "src" / "wesley" / "templates" / "schema.graphql"
    ir = parse_sdl(path.read_text(encoding="utf-8")).ir
    (artifact,) = postgres(ir)
    lines = artifact.text.splitlines()
    for table in ir.tables:
        for col in table.columns:
            spans = [s for s in artifact.spans if s.uid == col.uid]
            assert spans, col.uid
            assert any(col.name in lines[s.start - 1] for s in spans), col.uid
