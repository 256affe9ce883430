"""Operation `drop_enum_value`: PostgreSQL cannot drop a value from an enum type, so the type
is rebuilt: a new type with the new values, every column switched to it (one ALTER TABLE per
table, which rewrites it under ACCESS EXCLUSIVE: destructive, so only with
--allow-destructive), the old type dropped and the new one renamed to the old name.

It is refused outright when it cannot work: rows hold a removed value (`plan --from-db` counts
them), or a policy, check or partial index reads a column of the type (PostgreSQL cannot
change the type under a policy, and a check's or predicate's literal keeps the old type)."""

from __future__ import annotations

from wesley.ir import Column, Enum, Table
from wesley.naming import constraint_name
from wesley.plan.diff import Change
from wesley.plan.operations.base import Context, Draft, lit, rel
from wesley.sdl.expressions import column_refs
from wesley.sqltext import quote_ident, quote_literal
from wesley.targets.sqlnames import UID_COMMENT_PREFIX, uid_comment


def _readers(t: Table, column: str) -> list[str]:
    """What reads `column` in an expression PostgreSQL re-parses on a type change."""
    found = [f"check {c.name}" for c in t.checks if column in column_refs(c.expr)]
    found += [f"index {i.name}" for i in t.indexes if i.where and column in column_refs(i.where)]
    found += [
        f"policy {p.name}"
        for p in t.policies
        if any(e and column in column_refs(e) for e in (p.using, p.check))
    ]
    return found


def _regtype(name: str) -> str:
    return f"to_regtype({lit(quote_ident(name))})"


def drop_enum_value(change: Change, ctx: Context) -> list[Draft]:
    old: Enum = change.old
    new: Enum = change.new
    removed = [v for v in old.values if v not in new.values]
    gone = ", ".join(removed)
    users: list[tuple[Table, list[Column]]] = [
        (t, cols) for t in ctx.new.tables if (cols := [c for c in t.columns if c.enum == new.name])
    ]
    problems: list[str] = []
    for t, cols in users:
        for col in cols:
            held = ctx.facts.value_rows.get((t.name, col.name))
            if held:
                problems.append(f"{held} row{'s' if held != 1 else ''} of {t.name}.{col.name}")
            problems += [f"{r} reads {t.name}.{col.name}" for r in _readers(t, col.name)]
    if problems:
        ctx.block(
            change,
            f"removing {gone} from enum {new.name} cannot work: {'; '.join(problems)}; "
            "move those rows to another value (or drop what reads the column) first",
        )
        return []
    if not ctx.refuse(
        change,
        f"removes {gone} from enum {new.name}: the type is rebuilt and every table using it "
        f"({', '.join(t.name for t, _ in users) or 'none'}) rewritten under ACCESS EXCLUSIVE; "
        "it fails if a row still holds the value (`plan --from-db` counts them)",
    ):
        return []
    temp = constraint_name(new.name, ["wesley"], "new")
    q_old, q_temp = quote_ident(new.name), quote_ident(temp)
    labels = ", ".join(quote_literal(v) for v in removed)
    # true once the old type no longer has the removed values (rebuilt, or not there at all)
    rebuilt = (
        f"NOT EXISTS (SELECT 1 FROM pg_enum WHERE enumtypid = {_regtype(new.name)} "
        f"AND enumlabel IN ({labels}))"
    )
    drafts = [
        Draft(
            "contract",
            "create_enum",
            f"CREATE TYPE {q_temp} AS ENUM ({', '.join(quote_literal(v) for v in new.values)})",
            f"SELECT {_regtype(temp)} IS NOT NULL OR {rebuilt}",
            f"enum {new.name} without {gone}, built beside the old one",
            destructive=True,
        ),
        Draft(
            "contract",
            "comment",
            f"COMMENT ON TYPE {q_temp} IS {uid_comment(new.uid)}",
            f"SELECT {_regtype(temp)} IS NULL OR obj_description({_regtype(temp)}, 'pg_type') "
            f"IS NOT DISTINCT FROM {lit(UID_COMMENT_PREFIX + new.uid)}",
            f"the uid of enum {new.name} goes with the new type",
        ),
    ]
    for t, cols in users:
        parts: list[str] = []
        for col in cols:
            c = quote_ident(col.name)
            cast = f"{c}::text[]::{q_temp}[]" if col.array else f"{c}::text::{q_temp}"
            target = f"{q_temp}[]" if col.array else q_temp
            # a default of the old type cannot be cast to the new one: dropped and set again
            # in the same statement (PostgreSQL applies DROP DEFAULT before the type change)
            if col.default is not None:
                parts.append(f"ALTER COLUMN {c} DROP DEFAULT")
            parts.append(f"ALTER COLUMN {c} TYPE {target} USING {cast}")
            if col.default is not None:
                parts.append(f"ALTER COLUMN {c} SET DEFAULT {col.default.sql}")
        switched = " AND ".join(
            f"COALESCE((SELECT a.atttypid IN (y.oid, y.typarray) FROM pg_attribute a, pg_type y "
            f"WHERE y.oid = {_regtype(temp)} AND a.attrelid = {rel(t.name)} "
            f"AND a.attname = {lit(col.name)}), false)"
            for col in cols
        )
        drafts.append(
            Draft(
                "contract",
                "alter_column_type",
                f"ALTER TABLE {quote_ident(t.name)} {', '.join(parts)}",
                f"SELECT ({switched}) OR {rebuilt}",
                f"{', '.join(c.name for c in cols)} of {t.name} switch to the rebuilt enum "
                f"{new.name}: the table is rewritten",
                table=t.name,
                column=cols[0].name if len(cols) == 1 else None,
                destructive=True,
                risk=30,
            )
        )
    drafts += [
        Draft(
            "contract",
            "drop_enum",
            f"DROP TYPE {q_old}",
            f"SELECT {rebuilt}",
            f"the old enum {new.name}, with {gone}, is no longer used",
            destructive=True,
        ),
        Draft(
            "contract",
            "rename_enum",
            f"ALTER TYPE {q_temp} RENAME TO {q_old}",
            f"SELECT {_regtype(temp)} IS NULL AND {_regtype(new.name)} IS NOT NULL",
            f"the rebuilt enum takes the name {new.name}",
        ),
    ]
    return drafts
