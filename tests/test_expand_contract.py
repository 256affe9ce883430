"""Type changes and renames with two application versions live at once (issue 11), on
PostgreSQL, under writes: the old version writes through `compat.old_search_path` from before
`deploy` until it is retired, the new one through `compat.new_search_path` from the end of the
switch through `deploy --complete`. No write fails, no acknowledged write is lost (every row
holds, in the final schema, the last value its writer was told it wrote), the database ends
as the new schema, and every step took the locks the plan predicted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest

from tests.traffic import TwoVersions, Version, VersionWorkload, two_versions
from wesley.db.apply import apply_script
from wesley.sdl import ParseOptions, parse_sdl
from wesley.targets.postgres import postgres

ROWS = 2000
OLD_FIRST, NEW_FIRST = 100_000, 200_000  # keys each version inserts from


def old_writer(
    table: str, column: str, values: tuple[Any, ...], extra: tuple[tuple[str, Any], ...] = ()
) -> VersionWorkload:
    return VersionWorkload("", table, "id", column, values, OLD_FIRST, (1, ROWS // 2), extra)


def new_writer(
    table: str, column: str, values: tuple[Any, ...], extra: tuple[tuple[str, Any], ...] = ()
) -> VersionWorkload:
    return VersionWorkload("", table, "id", column, values, NEW_FIRST, (ROWS // 2 + 1, ROWS), extra)


@dataclass(frozen=True)
class Scenario:
    id: str
    old: str
    new: str
    seed: tuple[str, ...]
    old_version: Version
    new_version: Version
    final: tuple[str, str, str]  # table, key, column in the new schema
    initial_sql: str  # every existing key, and its value as the new schema holds it (text)
    options: ParseOptions = field(default_factory=ParseOptions)


ACCOUNTS = "INSERT INTO account SELECT g, 'a' || g FROM generate_series(1, 50) g"
INT_VALUES = tuple(range(1, 51))

SCENARIOS = [
    Scenario(
        "int-to-bigint-with-index-unique-and-fk-pointing-at-it",
        """
type Account @wes_table { id: Int! @wes_pk  name: String! }
type Item @wes_table {
  id: Int! @wes_pk
  accountId: Int! @wes_fk(ref: "Account.id") @wes_index
  code: Int @wes_unique
  qty: Int!
}""",
        """
type Account @wes_table { id: BigInt! @wes_pk  name: String! }
type Item @wes_table {
  id: Int! @wes_pk
  accountId: BigInt! @wes_fk(ref: "Account.id") @wes_index
  code: BigInt @wes_unique
  qty: Int!
}""",
        (
            ACCOUNTS,
            f"INSERT INTO item SELECT g, 1 + g % 50, g * 3, g FROM generate_series(1, {ROWS}) g",
        ),
        Version(
            old_writer("item", "account_id", INT_VALUES, (("qty", 1),)),
            tuple(str(v) for v in INT_VALUES),
        ),
        Version(
            new_writer("item", "account_id", INT_VALUES, (("qty", 2),)),
            tuple(str(v) for v in INT_VALUES),
        ),
        ("item", "id", "account_id"),
        "SELECT id, account_id::text FROM item",
    ),
    Scenario(
        "text-to-int-with-a-using-expression",
        """
type Ticket @wes_table { id: Int! @wes_pk  code: String  title: String! }""",
        """
type Ticket @wes_table {
  id: Int! @wes_pk
  code: Int @wes_cast(using: "NULLIF(trim(code), '')::integer")
  title: String!
}""",
        (
            "INSERT INTO ticket SELECT g, CASE WHEN g % 7 = 0 THEN '' ELSE ' ' || g || ' ' END, "
            f"'t' || g FROM generate_series(1, {ROWS}) g",
        ),
        Version(
            old_writer("ticket", "code", (" 12", "7 ", "", " 30 "), (("title", "old"),)),
            ("12", "7", None, "30"),
        ),
        Version(new_writer("ticket", "code", (12, 7, 30), (("title", "new"),)), ("12", "7", "30")),
        ("ticket", "id", "code"),
        "SELECT id, NULLIF(trim(code), '')::integer::text FROM ticket",
    ),
    Scenario(
        "varchar-narrowing-with-a-validating-check",
        """
type Ticket @wes_table { id: Int! @wes_pk  title: String! }""",
        """
scalar Short
type Ticket @wes_table { id: Int! @wes_pk  title: Short! }""",
        (f"INSERT INTO ticket SELECT g, 'title ' || g FROM generate_series(1, {ROWS}) g",),
        Version(
            old_writer("ticket", "title", ("old a", "old bb", "x" * 20)),
            ("old a", "old bb", "x" * 20),
        ),
        Version(new_writer("ticket", "title", ("new a", "new bb")), ("new a", "new bb")),
        ("ticket", "id", "title"),
        "SELECT id, title FROM ticket",
        ParseOptions(scalars={"Short": "varchar(20)"}),
    ),
    Scenario(
        "column-rename",
        """
type Ticket @wes_table { id: Int! @wes_pk  note: String @wes_unique  title: String! }""",
        """
type Ticket @wes_table {
  id: Int! @wes_pk
  memo: String @wes_unique @wes_renamedFrom(name: "note")
  title: String!
}""",
        (f"INSERT INTO ticket SELECT g, 'n' || g, 't' || g FROM generate_series(1, {ROWS}) g",),
        Version(
            old_writer("ticket", "title", ("old x", "old y"), ()),
            ("old x", "old y"),
        ),
        Version(new_writer("ticket", "title", ("new x", "new y"), ()), ("new x", "new y")),
        ("ticket", "id", "title"),
        "SELECT id, title FROM ticket",
    ),
    Scenario(
        "table-rename",
        """
type Org @wes_table { id: Int! @wes_pk  name: String! }""",
        """
type Company @wes_table @wes_renamedFrom(name: "Org") { id: Int! @wes_pk  name: String! }""",
        (f"INSERT INTO org SELECT g, 'org ' || g FROM generate_series(1, {ROWS}) g",),
        Version(old_writer("org", "name", ("old a", "old b")), ("old a", "old b")),
        Version(new_writer("company", "name", ("new a", "new b")), ("new a", "new b")),
        ("company", "id", "name"),
        "SELECT id, name FROM org",
    ),
    Scenario(
        "enum-to-text",
        """
enum Status { OPEN CLOSED }
type Ticket @wes_table { id: Int! @wes_pk  status: Status! @wes_default(value: "OPEN") }""",
        """
type Ticket @wes_table { id: Int! @wes_pk  status: String! @wes_default(value: "OPEN") }""",
        (
            "INSERT INTO ticket SELECT g, CASE WHEN g % 2 = 0 THEN 'OPEN' ELSE 'CLOSED' END::status"
            f" FROM generate_series(1, {ROWS}) g",
        ),
        Version(old_writer("ticket", "status", ("OPEN", "CLOSED")), ("OPEN", "CLOSED")),
        Version(new_writer("ticket", "status", ("OPEN", "CLOSED")), ("OPEN", "CLOSED")),
        ("ticket", "id", "status"),
        "SELECT id, status::text FROM ticket",
    ),
]


def _run(dsn: str, sc: Scenario) -> TwoVersions:
    old, new = parse_sdl(sc.old).ir, parse_sdl(sc.new, options=sc.options).ir
    with psycopg.connect(dsn, autocommit=True) as conn:
        apply_script(conn, postgres(old)[0].text, "old schema.sql")
        for sql in sc.seed:
            conn.execute(sql.encode())
        conn.execute("ANALYZE")
        initial = {int(k): v for k, v in conn.execute(sc.initial_sql.encode())}
    return two_versions(dsn, new, sc.old_version, sc.new_version, sc.final, initial)


@pytest.mark.parametrize("sc", SCENARIOS, ids=lambda sc: sc.id)
def test_two_versions_write_through_the_migration(pg_dsn: str, sc: Scenario) -> None:
    out = _run(pg_dsn, sc)
    assert out.plan.destructive == []  # no --allow-destructive needed
    # both versions really wrote, the new one through its version schema
    assert len(out.old.acks) > 20 and len(out.new.acks) > 20, (len(out.old.acks), len(out.new.acks))
    assert out.failed == 0, out.examples
    assert out.desync == 0
    assert out.lost == [] and out.rows == out.expected_rows, (out.lost, out.rows, out.expected_rows)
    assert out.leftover == []
    tables = {t.name for t in parse_sdl(sc.old).ir.tables} | {
        t.name for t in parse_sdl(sc.new, options=sc.options).ir.tables
    }
    assert out.lock_mismatches(tables) == []
    applied = {r.id for r in out.steps if r.status == "applied"}
    assert {s.id for s in out.plan.steps if s.phase == "contract"} <= applied | {
        r.id for r in out.steps
    }
