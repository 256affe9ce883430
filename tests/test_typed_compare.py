"""A literal beside a date/time column is compared as a value of that type: what PostgreSQL
stores for `seen_at > '2000-01-01'` ('2000-01-01 00:00:00+00'::timestamptz) and what the
schema says meet, on a server whose time zone is not UTC too; on a text column they do not."""

from __future__ import annotations

import psycopg
import pytest

from wesley.db.apply import apply_script
from wesley.db.introspect import introspect
from wesley.db.session import connect
from wesley.plan.build import build_plan
from wesley.sdl import parse_sdl
from wesley.sdl.typed_compare import datetime_columns, typed_comparable
from wesley.targets.postgres import postgres

TZ = datetime_columns({"at": "timestamptz"})
TS = datetime_columns({"at": "timestamp"})
DAY = datetime_columns({"at": "date"})


@pytest.mark.parametrize(
    ("schema", "stored", "columns"),
    [
        ("at > '2000-01-01'", "at > '2000-01-01 00:00:00+00'", TZ),
        ("at > '2000-01-01T02:00:00+02:00'", "at > '2000-01-01 00:00:00+00'", TZ),
        (
            "at >= '2000-01-01' AND at < '2001-01-01'",
            "at >= '2000-01-01 00:00:00+00' AND at < '2001-01-01 00:00:00+00'",
            TZ,
        ),
        ("at < 'infinity'", "at < 'infinity'", TZ),
        ("'2000-01-01' < at", "'2000-01-01 00:00:00' < at", TS),
        ("at <> '2000-01-01 10:00'", "at <> '2000-01-01'", DAY),
    ],
)
def test_the_same_value_compares_equal(schema: str, stored: str, columns: object) -> None:
    assert typed_comparable(schema, columns) == typed_comparable(stored, columns)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("schema", "stored", "columns"),
    [
        ("at > '2000-01-01'", "at > '2000-01-02 00:00:00+00'", TZ),
        ("at > '2000-01-01'", "at >= '2000-01-01 00:00:00+00'", TZ),
        # a text column: PostgreSQL compares the strings, so must we
        ("at > '2000-01-01'", "at > '2000-01-01 00:00:00'", datetime_columns({"at": "text"})),
        # another column beside the literal: not re-read
        ("other > '2000-01-01'", "other > '2000-01-01 00:00:00'", TZ),
    ],
)
def test_a_different_value_compares_different(schema: str, stored: str, columns: object) -> None:
    assert typed_comparable(schema, columns) != typed_comparable(stored, columns)  # type: ignore[arg-type]


SDL = """
type Event @wes_table {
  id: ID! @wes_pk
  seenAt: DateTime @wes_check(expr: "seen_at > '2000-01-01'")
  day: Date @wes_check(expr: "day BETWEEN '2000-01-01' AND '2099-12-31'")
  note: String @wes_check(expr: "note > '2000-01-01'") @wes_index(where: "seen_at > '2001-01-01'")
}
"""


def test_a_replan_is_empty_on_a_server_in_another_time_zone(pg_dsn: str) -> None:
    """The database's default time zone is New York; Wesley's sessions say UTC, so the
    instant stored is UTC midnight and a plan from the database is empty."""
    ir = parse_sdl(SDL, "event.graphql").ir
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        dbname = conn.info.dbname
        conn.execute(f"ALTER DATABASE \"{dbname}\" SET timezone = 'America/New_York'")
    with connect(pg_dsn) as conn:
        apply_script(conn, postgres(ir)[0].text, "schema.sql")
        have = introspect(conn)
        version = conn.info.server_version
        stored = conn.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname LIKE '%seen_at%'"
        ).fetchone()
    assert stored is not None and "2000-01-01 00:00:00+00" in stored[0], stored
    plan = build_plan(have, ir, allow_destructive=True, server_version=version)
    assert [s.sql for s in plan.steps] == []
    changed = parse_sdl(SDL.replace("'2000-01-01'\")", "'2000-01-02'\")", 1), "e.graphql").ir
    again = build_plan(have, changed, allow_destructive=True, server_version=version)
    assert any("2000-01-02" in s.sql for s in again.steps), [s.sql for s in again.steps]
