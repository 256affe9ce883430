"""Facts about the data that only a live database knows, as input to the pure planner.

Some changes are safe or impossible depending on rows, not on schemas: `Int` → `Int!` without
a default works only when no row is NULL; removing an enum value works only when no row holds
it. `questions(old, new)` says which counts would decide; the edge (`plan --from-db`, deploy's
pre-flight) runs them against the database and hands the answers back as `Facts`. Without an
answer the planner assumes the worst and says what to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from wesley.ir import IR, Column
from wesley.plan.diff import diff, match_tables
from wesley.sqltext import quote_ident, quote_literal

Key = tuple[str, str]  # (table, column) as named in the new schema


@dataclass(frozen=True)
class Facts:
    # rows where the column is NULL, for columns that become NOT NULL without a default
    null_rows: Mapping[Key, int] = field(default_factory=dict)
    # rows holding a value of an enum that the new schema removes
    value_rows: Mapping[Key, int] = field(default_factory=dict)
    # identity columns whose type change would need a shadow column
    identity: frozenset[Key] = frozenset()


@dataclass(frozen=True)
class Question:
    kind: Literal["null_rows", "value_rows", "identity"]
    key: Key
    sql: str  # one statement returning one count, against the old (current) database


def _holding(col: Column, values: list[str]) -> str:
    items = ", ".join(quote_literal(v) for v in values)
    c = quote_ident(col.name)
    if col.array:
        return f"{c}::text[] && ARRAY[{items}]::text[]"
    return f"{c}::text IN ({items})"


def questions(old: IR | None, new: IR) -> list[Question]:
    if old is None:
        return []
    old_name = {t.name: o.name for o, t in match_tables(old, new) if o is not None and t}
    out: list[Question] = []
    for change in diff(old, new):
        if change.kind == "set_not_null" and change.new.default is None:
            table = quote_ident(old_name.get(change.table, change.table))
            column = quote_ident(change.old.name)
            out.append(
                Question(
                    "null_rows",
                    (change.table, change.new.name),
                    f"SELECT count(*) FROM {table} WHERE {column} IS NULL",
                )
            )
        elif change.kind == "alter_column_type":
            table = old_name.get(change.table, change.table)
            out.append(
                Question(
                    "identity",
                    (change.table, change.new.name),
                    "SELECT count(*) FROM pg_attribute WHERE attrelid = "
                    f"to_regclass({quote_literal(quote_ident(table))}) AND attname = "
                    f"{quote_literal(change.old.name)} AND attidentity <> ''",
                )
            )
        elif change.kind == "drop_enum_value":
            removed = [v for v in change.old.values if v not in change.new.values]
            for o, t in match_tables(old, new):
                if o is None or t is None:
                    continue
                for col in o.columns:
                    if col.enum != change.table:
                        continue
                    # the same column in the new schema, by uid or name
                    now = next((c for c in t.columns if c.uid == col.uid), t.column(col.name))
                    out.append(
                        Question(
                            "value_rows",
                            (t.name, now.name if now else col.name),
                            f"SELECT count(*) FROM {quote_ident(o.name)} "
                            f"WHERE {_holding(col, removed)}",
                        )
                    )
    return out


def facts_from(answers: Mapping[Question, int]) -> Facts:
    nulls: dict[Key, int] = {}
    values: dict[Key, int] = {}
    identity: set[Key] = set()
    for q, n in answers.items():
        if q.kind == "identity":
            if n:
                identity.add(q.key)
            continue
        (nulls if q.kind == "null_rows" else values)[q.key] = n
    return Facts(null_rows=nulls, value_rows=values, identity=frozenset(identity))
