"""Property: a generated op (filters of every kind, by value or parameter, ordering with
NULLS FIRST/LAST, limit, offset) returns on PostgreSQL exactly the rows a plain evaluation of
the op over the same generated rows gives, in the same order; its view agrees."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from wesley.db.apply import apply_script
from wesley.db.cluster import create_database, drop_database
from wesley.qir import compile_ops
from wesley.sdl import parse_sdl
from wesley.targets.postgres import postgres

SDL = """
type Thing @wes_table {
  id: Int! @wes_pk
  amount: Int
  label: String
  done: Boolean
  tags: [String!]
}
"""
IR = parse_sdl(SDL).ir
_WORD = st.text("abAB", min_size=0, max_size=3)
ROW = st.fixed_dictionaries(
    {
        "amount": st.none() | st.integers(-3, 3),
        "label": st.none() | _WORD,
        "done": st.none() | st.booleans(),
        "tags": st.none() | st.lists(st.sampled_from(["x", "y", "z"]), max_size=3),
    }
)


@dataclass(frozen=True)
class F:
    column: str
    op: str
    value: Any
    as_param: bool


def _filters() -> st.SearchStrategy[F]:
    cmp = st.builds(
        F,
        st.just("amount"),
        st.sampled_from(["eq", "ne", "lt", "lte", "gt", "gte"]),
        st.integers(-3, 3),
        st.booleans(),
    )
    text = st.builds(
        F,
        st.just("label"),
        st.sampled_from(["like", "ilike"]),
        _WORD.map(lambda w: w + "%"),
        st.booleans(),
    )
    null = st.builds(
        F,
        st.sampled_from(["amount", "label", "done", "tags"]),
        st.sampled_from(["isNull", "isNotNull"]),
        st.none(),
        st.just(False),
    )
    eq_null = st.builds(
        F,
        st.sampled_from(["amount", "done"]),
        st.sampled_from(["eq", "ne"]),
        st.none(),
        st.just(False),
    )
    inn = st.builds(
        F, st.just("id"), st.just("in"), st.lists(st.integers(1, 8), max_size=4), st.booleans()
    )
    contains = st.builds(
        F,
        st.just("tags"),
        st.just("contains"),
        st.lists(st.sampled_from(["x", "y"]), max_size=2),
        st.booleans(),
    )
    boolean = st.builds(F, st.just("done"), st.just("eq"), st.booleans(), st.booleans())
    return cmp | text | null | eq_null | inn | contains | boolean


def _like(pattern: str, text: str, fold: bool) -> bool:
    prefix = pattern[:-1]
    return (text.lower().startswith(prefix.lower())) if fold else text.startswith(prefix)


def _holds(f: F, row: dict[str, Any]) -> bool:
    v = row[f.column]
    if f.op == "isNull":
        return v is None
    if f.op == "isNotNull":
        return v is not None
    if f.value is None:  # eq/ne null: IS [NOT] NULL
        return (v is None) == (f.op == "eq")
    if v is None:
        return False
    if f.op == "in":
        return v in f.value
    if f.op == "contains":
        return set(f.value) <= set(v)
    if f.op in ("like", "ilike"):
        return _like(f.value, v, f.op == "ilike")
    a, b = v, f.value
    result: bool = {
        "eq": a == b,
        "ne": a != b,
        "lt": a < b,
        "lte": a <= b,
        "gt": a > b,
        "gte": a >= b,
    }[f.op]
    return result


def _sort_key(column: str, desc: bool, nulls: str | None, row: dict[str, Any]) -> tuple[Any, ...]:
    v = row[column]
    nulls_first = (nulls == "first") if nulls else desc  # PostgreSQL: NULLS LAST for ASC
    if v is None:
        return (0 if nulls_first else 2, 0)
    return (1, -v if desc else v)


@dataclass(frozen=True)
class Case:
    rows: tuple[dict[str, Any], ...]
    filters: tuple[F, ...]
    order: tuple[str, bool, str | None] | None
    limit: int | None
    offset: int | None

    def op(self) -> dict[str, Any]:
        filters = []
        for i, f in enumerate(self.filters):
            item: dict[str, Any] = {"column": f.column, "op": f.op}
            if f.op not in ("isNull", "isNotNull"):
                if f.as_param:
                    item["param"] = {"name": f"p{i}"}
                else:
                    item["value"] = f.value
            filters.append(item)
        op: dict[str, Any] = {
            "name": "probe",
            "table": "thing",
            "columns": ["id"],
            "filters": filters,
        }
        if self.order:
            col, desc, nulls = self.order
            op["orderBy"] = [
                {
                    "column": col,
                    "dir": "desc" if desc else "asc",
                    **({"nulls": nulls} if nulls else {}),
                }
            ]
        if self.limit is not None:
            op["limit"] = self.limit
        if self.offset is not None:
            op["offset"] = self.offset
        return op

    def expected(self) -> list[int]:
        rows = [{**r, "id": i} for i, r in enumerate(self.rows, 1)]
        ids = [r["id"] for r in rows if all(_holds(f, r) for f in self.filters)]
        if self.order:
            col, desc, nulls = self.order
            ids.sort(key=lambda i: (*_sort_key(col, desc, nulls, rows[i - 1]), i))
        ids = ids[self.offset or 0 :]
        return ids[: self.limit] if self.limit is not None else ids


@st.composite
def cases(draw: st.DrawFn) -> Case:
    return Case(
        rows=tuple(draw(st.lists(ROW, max_size=8))),
        filters=tuple(draw(st.lists(_filters(), max_size=3))),
        order=draw(
            st.none()
            | st.tuples(
                st.sampled_from(["amount", "id", "done"]),
                st.booleans(),
                st.sampled_from([None, "first", "last"]),
            )
        ),
        limit=draw(st.none() | st.integers(1, 5)),
        offset=draw(st.none() | st.integers(0, 3)),
    )


def _check(admin: str, case: Case) -> None:
    compiled = compile_ops(IR, [("probe.op.json", json.dumps(case.op()))]).artifacts
    name = f"wesley_q_{uuid.uuid4().hex[:12]}"
    dsn = create_database(admin, name)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            apply_script(conn, postgres(IR)[0].text, "schema.sql")
            for a in compiled:
                if not a.path.endswith("tests.sql"):
                    apply_script(conn, a.text, a.path)
            for i, r in enumerate(case.rows, 1):
                conn.execute(
                    "INSERT INTO thing VALUES (%s, %s, %s, %s, %s)",
                    (i, r["amount"], r["label"], r["done"], r["tags"]),
                )
            args = [
                f.value for f in case.filters if f.as_param and f.op not in ("isNull", "isNotNull")
            ]
            marks = ", ".join(["%s"] * len(args))
            got = [r[0] for r in conn.execute(f"SELECT id FROM wes_ops.op_probe({marks})", args)]
            assert got == case.expected(), (case.op(), case.rows)
    finally:
        drop_database(admin, name)


@seed(int(os.environ.get("WESLEY_PROPERTY_SEED", "20261")))
@settings(
    max_examples=int(os.environ.get("WESLEY_PROPERTY_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=cases())
def test_generated_ops_return_exactly_the_matching_rows(pg_admin_dsn: str, case: Case) -> None:
    _check(pg_admin_dsn, case)
