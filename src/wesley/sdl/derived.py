"""`@wes_generated(expr:)`: a column PostgreSQL computes from the row (GENERATED ALWAYS AS
(expr) STORED). The expression is parsed by pglast like every other; it may read only other,
ordinary columns of its own table and must give the same result every time (PostgreSQL
requires an immutable expression: `now()` or `random()` are refused here, with a hint)."""

from __future__ import annotations

from typing import Any

from pglast import parse_sql, visitors

from wesley.errors import Location, input_error
from wesley.ir import Column, Computed, Table
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


def volatile_calls(sql: str) -> list[str]:
    """The functions of `sql` whose value changes from call to call (a known list)."""
    calls = _Calls()
    stmt: Any = parse_sql(f"SELECT ({sql})")[0].stmt
    calls(stmt.targetList[0].val)
    return sorted(calls.names & _VOLATILE) + (["CURRENT_*"] if calls.sql_value else [])


def is_volatile(sql: str) -> bool:
    return bool(volatile_calls(sql))


def generated_expr(values: list[DirectiveValue], what: str) -> str | None:
    d = first(values, "wes_generated")
    if d is None:
        return None
    sql = normalize_expression(d.need("expr"), ExprKind.CHECK, d.location, f"generated {what}")
    volatile = volatile_calls(sql)
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


def computed_of(values: list[DirectiveValue], what: str) -> Computed | None:
    """`@wes_computed(expr:)` or `@wes_computed(count: "Type.field")` (the count is resolved
    once every table is known: `resolve_counts`)."""
    d = first(values, "wes_computed")
    if d is None:
        return None
    expr, count = d.args.get("expr"), d.args.get("count")
    if (expr is None) == (count is None):
        raise input_error(
            "INVALID_ARGUMENT",
            f"@{d.spelled} on {what} needs exactly one of expr: or count:",
            'expr: an SQL expression over the row (expr: "lower(email)"); count: the rows of '
            'another type referring here (count: "Comment.postId")',
            d.location,
        )
    for other, why in (
        ("wes_generated", "a column is either generated or computed"),
        ("wes_updatedAt", "@wes_updatedAt already sets it on every update"),
    ):
        if first(values, other) is not None:
            raise input_error(
                "INVALID_ARGUMENT", f"@{d.spelled} on {what} with @{other}", why, d.location
            )
    if expr is not None:
        sql = normalize_expression(str(expr), ExprKind.CHECK, d.location, f"computed {what}")
        if "$wesley$" in sql:
            raise input_error(
                "INVALID_EXPRESSION",
                f"@{d.spelled} on {what} contains $wesley$",
                "Wesley quotes the trigger body with it: write the text another way",
                d.location,
            )
        return Computed(kind="expr", expr=sql)
    return Computed(kind="count", table=str(count))


def resolve_counts(tables: list[Table], file: str | None) -> list[Table]:
    """`count: "Comment.postId"` → the counted table and its column, which must be a foreign
    key to this table's single-column key; the counting column must be an integer."""
    out = []
    for t in tables:
        cols = []
        for col in t.columns:
            c = col.computed
            if c is None or c.kind != "count" or c.column is not None:
                cols.append(col)
                continue
            where = Location(file, col.source.line, col.source.column)
            what = f"@wes_computed(count: {c.table!r}) on {t.name}.{col.name}"
            type_name, _, field = (c.table or "").partition(".")
            child = next((x for x in tables if type_name in (x.type_name, x.name)), None)
            child_col = None
            if child is not None:
                child_col = next((x for x in child.columns if field in (x.field, x.name)), None)
            if child is None or child_col is None:
                raise input_error(
                    "UNKNOWN_COLUMN",
                    f"{what}: no field {c.table!r}",
                    'name the referring field as "Type.field", e.g. count: "Comment.postId"',
                    where,
                )
            fk = next(
                (
                    f
                    for f in child.foreign_keys
                    if f.columns == [child_col.name] and f.ref_table == t.name
                ),
                None,
            )
            if fk is None:
                raise input_error(
                    "INVALID_ARGUMENT",
                    f"{what}: {child.name}.{child_col.name} is not a foreign key to {t.name}",
                    f'mark it @wes_fk(ref: "{t.type_name}.<key>")',
                    where,
                )
            if col.type not in ("integer", "bigint") or col.array:
                raise input_error(
                    "INVALID_ARGUMENT",
                    f"{what}: a count needs an Int or BigInt field, not {col.type}",
                    "declare it Int! (or BigInt!)",
                    where,
                )
            computed = Computed(kind="count", table=child.name, column=child_col.name)
            cols.append(col.model_copy(update={"computed": computed}))
        changed = any(a is not b for a, b in zip(cols, t.columns, strict=True))
        out.append(t.model_copy(update={"columns": cols}) if changed else t)
    return out
