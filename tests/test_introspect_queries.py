"""Introspection costs the same number of catalog queries whatever the number of tables
(issue 13: `plan --from-db` made ~5 round trips a table before), grants, updated-at triggers
and functions included, and reads every table's parts back."""

from __future__ import annotations

from typing import Any

import psycopg

from wesley.db.introspect import introspect
from wesley.sdl import parse_sdl
from wesley.targets.postgres import postgres
from wesley.targets.rls import rls
from wesley.targets.rpc import rpc


def _sdl(n: int) -> str:
    return "\n".join(
        f'type T{i} @wes_table @wes_rpc @wes_grant(roles: ["PUBLIC"]) {{\n'
        f"  id: Int! @wes_pk\n  name: String! @wes_unique\n"
        f'  updatedAt: DateTime! @wes_updatedAt @wes_default(expr: "now()")\n}}'
        for i in range(n)
    )


class _Counting:
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.queries = 0

    def execute(self, *args: Any, **kw: Any) -> Any:
        self.queries += 1
        return self.conn.execute(*args, **kw)


def test_the_number_of_queries_does_not_grow_with_the_tables(pg_dsn: str) -> None:
    counts = []
    for n in (1, 6):
        ir = parse_sdl(_sdl(n), "<sdl>").ir
        sql = "".join(a.text for a in [*postgres(ir), *rls(ir), *rpc(ir)])
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            conn.execute(sql)
            counting = _Counting(conn)
            got = introspect(counting)  # type: ignore[arg-type]
        counts.append(counting.queries)
        assert [t.name for t in got.tables] == [t.name for t in ir.tables]
        assert len(got.functions) == len(ir.functions) == 5 * n
        for table in got.tables:
            assert table.grants and [c.name for c in table.columns if c.updated_at] == [
                "updated_at"
            ]
    assert counts[0] == counts[1]
