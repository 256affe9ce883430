"""Step drafts more than one operation needs (a new table's foreign keys are the same
steps as a foreign key added later), and shared text."""

from __future__ import annotations

from typing import Any

from wesley.ir import IR, Check, Column, ForeignKey, Policy, Table, Unique
from wesley.naming import constraint_name
from wesley.plan.diff import Change
from wesley.plan.models import Backfill, Phase
from wesley.plan.operations.base import (
    Draft,
    guard_constraint,
    guard_not_null,
    guard_policy,
    guard_valid_index,
    guard_validated,
    lit,
    rel,
)
from wesley.sqltext import quote_ident
from wesley.targets.postgres import fk_clause, trigger_sql
from wesley.targets.rls import (
    AUTH_SCHEMA,
    HELPERS,
    auth_calls,
    auth_exists,
    auth_function,
    policy_sql,
)
from wesley.targets.sqlnames import ident_list


def trigger_drafts(t: Table, column: str) -> list[Draft]:
    helper, trigger = trigger_sql(t, column)
    return [
        Draft("expand", "ensure_helpers", sql, "SELECT false", "the updated-at trigger function")
        for sql in helper
    ] + [
        Draft(
            "expand",
            "create_trigger",
            trigger.sql,
            f"SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '{trigger.name}')",
            f"{t.name}.{column} is set on every update",
            table=t.name,
            column=column,
        )
    ]


VOLATILE_HINT = "a volatile default would rewrite the table under an ACCESS EXCLUSIVE lock"


def not_null_drafts(t: Table, col: Column, why: str) -> list[Draft]:
    """SET NOT NULL without a long lock: a NOT VALID check (instant), VALIDATE (no write
    block), then SET NOT NULL, which PostgreSQL ≥ 12 proves from the valid check without a
    scan, then the helper check goes.

    The check is added in the validate phase, after every backfill: a NOT VALID check is
    enforced on every UPDATE of every row, so added earlier it would reject the application's
    updates of rows not yet filled (and a backfill of another column of the same table). If
    VALIDATE still finds a NULL (the application wrote one since), the executor drops the
    check again, so writes go on while the data is fixed, and --resume adds it again."""
    table, c = quote_ident(t.name), quote_ident(col.name)
    check = constraint_name(t.name, [col.name], "not_null")
    add = (
        f"ALTER TABLE {table} ADD CONSTRAINT {quote_ident(check)} CHECK ({c} IS NOT NULL) NOT VALID"
    )
    drop = f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {quote_ident(check)}"
    return [
        Draft(
            "validate",
            "add_check",
            add,
            f"{guard_constraint(t.name, check)} OR ({guard_not_null(t.name, col.name)[7:]})",
            f"{why}: a NOT VALID check, added after the backfill, rejects new NULLs at once",
            table=t.name,
            column=col.name,
        ),
        Draft(
            "validate",
            "validate_check",
            f"ALTER TABLE {table} VALIDATE CONSTRAINT {quote_ident(check)}",
            f"{guard_validated(t.name, check)} OR ({guard_not_null(t.name, col.name)[7:]})",
            "prove existing rows have a value without blocking writes",
            table=t.name,
            column=col.name,
            notes=("if a row is NULL after all, the check is dropped again and the run stops",),
            undo=(drop, add),
        ),
        Draft(
            "switch",
            "set_not_null",
            f"ALTER TABLE {table} ALTER COLUMN {c} SET NOT NULL",
            guard_not_null(t.name, col.name),
            "catalog only: the valid check already proves it (PostgreSQL >= 12)",
            table=t.name,
            column=col.name,
            valid_not_null=frozenset({col.name}),
        ),
        Draft(
            "switch",
            "drop_not_null_check",
            drop,
            guard_constraint(t.name, check, exists=False),
            "the helper check is redundant once the column is NOT NULL",
            table=t.name,
            column=col.name,
        ),
    ]


def backfill_drafts(t: Table, col: Column, expr: str, batch: int, why: str) -> list[Draft]:
    """Fill the NULLs of an existing column with `expr` in batches (see models.Backfill)."""
    table, c = quote_ident(t.name), quote_ident(col.name)
    sweep, spec = backfill_spec(t, col, expr, batch)
    return [
        Draft(
            "backfill",
            "backfill",
            sweep,
            f"SELECT NOT EXISTS (SELECT 1 FROM {table} WHERE {c} IS NULL)",
            why,
            table=t.name,
            column=col.name,
            backfill=spec,
        )
    ]


def backfill_spec(
    t: Table, col: Column, expr: str, batch: int, pending: str | None = None
) -> tuple[str, Backfill]:
    """`pending`: the SQL condition of a row still to fill (default: the column is NULL)."""
    table, c = quote_ident(t.name), quote_ident(col.name)
    todo = pending or f"{c} IS NULL"
    estimate = (
        "SELECT CASE WHEN c.reltuples < 0 THEN NULL ELSE (c.reltuples * COALESCE((SELECT "
        "s.null_frac FROM pg_stats s WHERE s.schemaname = n.nspname AND s.tablename = "
        f"c.relname AND s.attname = {lit(col.name)}), 1))::bigint END FROM pg_class c JOIN "
        f"pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = {rel(t.name)}"
    )
    if t.primary_key:
        key = ", ".join(quote_ident(k) for k in t.primary_key)
        sweep = (
            f"UPDATE {table} SET {c} = {expr} WHERE ({key}) IN (SELECT {key} FROM {table} "
            f"WHERE {todo} ORDER BY {key} LIMIT {batch} FOR UPDATE SKIP LOCKED)"
        )
    else:
        sweep = (
            f"UPDATE {table} SET {c} = {expr} WHERE ctid IN (SELECT ctid FROM {table} "
            f"WHERE {todo} LIMIT {batch} FOR UPDATE SKIP LOCKED)"
        )
    if len(t.primary_key) != 1:
        return sweep, Backfill(batch_size=batch, estimate_sql=estimate)
    k = quote_ident(t.primary_key[0])

    def bound(lower: str) -> str:
        # the keys only: an index (only) scan of the primary key, whatever the column holds;
        # ORDER BY, not min()/max(), so that any key type works (uuid has no max())
        keys = f"SELECT {k} FROM {table}{lower} ORDER BY {k}"
        return (
            f"SELECT ({keys} LIMIT 1), (SELECT {k} FROM ({keys} LIMIT {batch}) AS keys "
            f"ORDER BY {k} DESC LIMIT 1)"
        )

    # the range bounds the scan on both sides, so the planner walks the primary key index
    # even without statistics on the column (it has none when the column is new)
    span = f"{k} >= %(lo)s AND {k} <= %(hi)s"
    return sweep, Backfill(
        batch_size=batch,
        key=t.primary_key[0],
        first_bound_sql=bound(""),
        next_bound_sql=bound(f" WHERE {k} > %(after)s"),
        batch_sql=(
            f"UPDATE {table} SET {c} = {expr} WHERE {span} AND {k} IN (SELECT {k} FROM {table} "
            f"WHERE {span} AND {todo} ORDER BY {k} FOR UPDATE SKIP LOCKED)"
        ),
        estimate_sql=estimate,
    )


def fk_index_note(t: Table, columns: list[str]) -> str | None:
    """A note when no index of `t` starts with the foreign key's columns."""
    n = len(columns)
    leading = [ix.columns[:n] for ix in t.indexes if ix.where is None]
    leading += [u.columns[:n] for u in t.uniques] + [t.primary_key[:n]]
    if any(sorted(cols) == sorted(columns) for cols in leading):
        return None
    fields = ", ".join(c.field for c in t.columns if c.name in columns) or ", ".join(columns)
    return (
        f"no index on {t.name}({', '.join(columns)}): a delete or key update in the referenced "
        f"table scans {t.name}, and joins cannot use one; consider @wes_index on {fields}"
    )


def fk_drafts(t: Table, fk: ForeignKey) -> list[Draft]:
    name, table = quote_ident(fk.name), quote_ident(t.name)
    note = fk_index_note(t, fk.columns)
    return [
        Draft(
            "expand",
            "add_fk",
            f"ALTER TABLE {table} ADD {fk_clause(fk)} NOT VALID",
            guard_constraint(t.name, fk.name),
            f"new foreign key {fk.name}; NOT VALID skips checking existing rows under the lock",
            table=t.name,
            notes=(note,) if note else (),
        ),
        Draft(
            "validate",
            "validate_fk",
            f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}",
            guard_validated(t.name, fk.name),
            f"check existing rows of {t.name} against {fk.ref_table} without blocking writes",
            table=t.name,
        ),
    ]


def check_drafts(t: Table, ck: Check) -> list[Draft]:
    """Added after the backfills, like the NOT NULL helper: a NOT VALID check is enforced on
    every UPDATE, so a backfill must not run into it."""
    name, table = quote_ident(ck.name), quote_ident(t.name)
    return [
        Draft(
            "validate",
            "add_check",
            f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({ck.expr}) NOT VALID",
            guard_constraint(t.name, ck.name),
            f"new check {ck.name}; enforced for new and updated rows at once",
            table=t.name,
            column=ck.column,
        ),
        Draft(
            "validate",
            "validate_check",
            f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}",
            guard_validated(t.name, ck.name),
            f"check existing rows of {t.name} without blocking writes",
            table=t.name,
            column=ck.column,
        ),
    ]


def index_phase(new: IR, table: str, columns: list[str]) -> Phase:
    """Where an index on an existing table is built: after the backfills (validate phase), so
    a backfill's batches update only the indexes the table already had and hold their rows
    for less time; in expand only when a new foreign key references these columns (the
    referenced unique index must exist when the key is added)."""
    for t in new.tables:
        for fk in t.foreign_keys:
            if fk.ref_table == table and sorted(fk.ref_columns) == sorted(columns):
                return "expand"
    return "validate"


def unique_drafts(t: Table, u: Unique, phase: Phase = "expand") -> list[Draft]:
    name, table = quote_ident(u.name), quote_ident(t.name)
    return [
        Draft(
            phase,
            "create_index",
            f"CREATE UNIQUE INDEX CONCURRENTLY {name} ON {table} ({ident_list(u.columns)})",
            guard_valid_index(u.name),
            f"build the index behind unique {u.name} without blocking writes",
            table=t.name,
        ),
        Draft(
            "switch",
            "add_unique",
            f"ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE USING INDEX {name}",
            guard_constraint(t.name, u.name),
            "turn the ready index into the constraint: catalog only",
            table=t.name,
        ),
    ]


def drop_constraint_drafts(change: Change, what: str, extra: str = "") -> list[Draft]:
    item: Any = change.old
    table = quote_ident(change.table)
    return [
        Draft(
            "contract",
            "drop_constraint",
            f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {quote_ident(item.name)}",
            guard_constraint(change.table, item.name, exists=False),
            f"{what} {item.name} is no longer in the schema{extra}",
            table=change.table,
        )
    ]


def pk_is(t: Table) -> str:
    """SQL: the pg_constraint row in scope has exactly `t`'s primary key columns, in order."""
    names = ", ".join(lit(c) for c in t.primary_key)
    return (
        f"conkey = ARRAY(SELECT a.attnum FROM unnest(ARRAY[{names}]::name[]) WITH ORDINALITY "
        f"u(n, i) JOIN pg_attribute a ON a.attrelid = {rel(t.name)} AND a.attname = u.n "
        "ORDER BY u.i)::int2[]"
    )


def enable_drafts(t: Table) -> list[Draft]:
    if t.rls is None or not t.rls.enabled:
        return []
    name = quote_ident(t.name)
    drafts = [
        Draft(
            "switch",
            "enable_rls",
            f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY",
            f"SELECT relrowsecurity FROM pg_class WHERE oid = {rel(t.name)}",
            f"row-level security on {t.name}",
            table=t.name,
        )
    ]
    if t.rls.force:
        drafts.append(
            Draft(
                "switch",
                "enable_rls",
                f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY",
                f"SELECT relforcerowsecurity FROM pg_class WHERE oid = {rel(t.name)}",
                f"row-level security applies to the owner of {t.name} too",
                table=t.name,
            )
        )
    return drafts


def helper_drafts(policies: list[Policy]) -> list[Draft]:
    """The functions policies call; CREATE OR REPLACE / IF NOT EXISTS: always safe to run."""
    drafts = [
        Draft(
            "expand",
            "ensure_helpers",
            sql.removesuffix(";"),
            "SELECT false",
            "helper functions the policies call",
        )
        for sql in HELPERS
    ]
    auth = auth_calls([e for p in policies for e in (p.using, p.check) if e])
    if auth:
        drafts += [
            Draft(
                "expand",
                "ensure_helpers",
                sql.removesuffix(";"),
                "SELECT false",
                "the auth schema for " + ", ".join(f"{name}()" for name in auth),
            )
            for sql in AUTH_SCHEMA
        ]
    drafts += [
        Draft(
            "expand",
            "ensure_helpers",
            auth_function(name),
            auth_exists(name),
            f"{name}() from the request.jwt settings, where none exists (Supabase has one)",
        )
        for name in auth
    ]
    return drafts


def policy_drafts(t: Table, policy: Policy) -> list[Draft]:
    create = policy_sql(t, policy)[1].removesuffix(";")
    return [
        Draft(
            "switch",
            "create_policy",
            create,
            guard_policy(t.name, policy.name),
            f"policy {policy.name} ({policy.command})",
            table=t.name,
        ),
    ]
