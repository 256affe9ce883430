"""A check that reads several columns (issue 9, item 2): `@wes_check(expr: "lo <= hi")` on
`hi` is a check PostgreSQL records on {hi, lo}; the generated test expects exactly that, and
fails when the check is missing or reads other columns."""

from __future__ import annotations

import psycopg
import pytest

from wesley.db.apply import apply_script
from wesley.db.pgtap import TapResult, run_suite
from wesley.sdl import parse_sdl
from wesley.targets.pgtap import pgtap
from wesley.targets.postgres import postgres

SCHEMA = """
type Range @wes_table @wes_check(expr: "lo + hi < 1000", name: "range_sum") {
  id: Int! @wes_pk
  lo: Int!
  hi: Int! @wes_check(expr: "lo <= hi")
  at: DateTime @wes_check(expr: "at > '2000-01-01'")
}
"""


def _run(dsn: str, sabotage: str | None = None) -> TapResult:
    ir = parse_sdl(SCHEMA).ir
    with psycopg.connect(dsn, autocommit=True) as conn:
        apply_script(conn, postgres(ir)[0].text)
        if sabotage:
            conn.execute(sabotage.encode())
        return run_suite(conn, pgtap(ir)[0].text)


def test_the_suite_expects_what_postgresql_records(pg_dsn: str) -> None:
    result = _run(pg_dsn)
    assert result.ok, result.failures
    checks = [ln.split(" - ", 1)[1] for ln in result.tap.splitlines() if " - check " in ln]
    assert checks == [
        "check range_hi_check exists on {hi,lo}",
        "check range_at_check exists on {at}",
        "check range_sum exists on {hi,lo}",
    ]


@pytest.mark.parametrize(
    "sabotage",
    [
        "ALTER TABLE range DROP CONSTRAINT range_hi_check",
        "ALTER TABLE range DROP CONSTRAINT range_hi_check, "
        "ADD CONSTRAINT range_hi_check CHECK (hi > 0)",
    ],
)
def test_a_missing_or_different_check_fails(pg_dsn: str, sabotage: str) -> None:
    result = _run(pg_dsn, sabotage)
    assert [f.splitlines()[0] for f in result.failures] == [
        "check range_hi_check exists on {hi,lo}"
    ]
