"""`@wes_generated(expr:)`: a column PostgreSQL computes from the row (GENERATED ALWAYS AS
(expr) STORED). The expression is parsed by pglast like every other; it may read only other,
ordinary columns of its own table and must give the same result every time (PostgreSQL
requires an immutable expression: `now()` or `random()` are refused here, with a hint)."""

from __future__ import annotations

from typing import Any

from pglast import parse_sql, visitors

from wesley.errors import input_error
from wesley.ir import Column
from wesley.sdl.document import DirectiveValue, first
from wesley.sdl.expressions import ExprKind, column_refs, normalize_expression

# functions whose value changes between calls or rows: PostgreSQL refuses them in a
# generation expression ("generation expression is not immutable")
_VOLATILE = frozenset(
    {
        "now",
        "random",
        "clock_timestamp",
        "statement_timestamp",
        "transaction_timestamp",
        "timeofday",
        "gen_random_uuid",
        "uuid_generate_v4",
        "uuid_generate_v1",
        "nextval",
        "currval",
        "setseed",
        "txid_current",
        "pg_current_xact_id",
        "current_setting",
    }
)


class _Calls(visitors.Visitor):
    def __init__(self) -> None:
        self.names: set[str] = set()
        self.sql_value = False

    def visit_FuncCall(self, ancestors: Any, node: Any) -> None:
        self.names.add(str(node.funcname[-1].sval).lower())

    def visit_SQLValueFunction(self, ancestors: Any, node: Any) -> None:
        self.sql_value = True


def generated_expr(values: list[DirectiveValue], what: str) -> str | None:
    d = first(values, "wes_generated")
    if d is None:
        return None
    sql = normalize_expression(d.need("expr"), ExprKind.CHECK, d.location, f"generated {what}")
    calls = _Calls()
    stmt: Any = parse_sql(f"SELECT ({sql})")[0].stmt
    calls(stmt.targetList[0].val)
    volatile = sorted(calls.names & _VOLATILE) + (["CURRENT_*"] if calls.sql_value else [])
    if volatile:
        raise input_error(
            "INVALID_EXPRESSION",
            f"@{d.spelled} on {what} calls {', '.join(volatile)}, whose value changes from call "
            "to call: PostgreSQL computes a generated column once per write from the row alone",
            "a generated column reads only the row's columns through immutable functions; for "
            "a time of the last change use @wes_updatedAt",
            d.location,
        )
    return sql


def check_generated(
    columns: list[Column],
    by_name: dict[str, Column],
    values: dict[str, list[DirectiveValue]],
    type_name: str,
) -> None:
    """What PostgreSQL refuses about generated columns, said at the directive."""
    for col in columns:
        if col.generated is None:
            continue
        d = first(values[col.name], "wes_generated")
        assert d is not None
        what = f"{type_name}.{col.field}"
        problem = None
        refs = column_refs(col.generated)
        if col.name in refs:
            problem = "reads itself"
        elif any(by_name[r].generated for r in refs if r in by_name):
            problem = "reads another generated column"
        elif col.default is not None:
            problem = "also has a @wes_default"
        elif col.updated_at:
            problem = "is also @wes_updatedAt"
        elif first(values[col.name], "wes_cast") is not None:
            problem = "is also @wes_cast (a generated column converts by its expression)"
        if problem:
            raise input_error(
                "INVALID_EXPRESSION",
                f"@{d.spelled} on {what} {problem}",
                "a generated column is computed from other, ordinary columns of its row",
                d.location,
            )
