"""`@wes_computed` columns: the trigger functions and triggers that maintain them, shared by
`schema.sql` and the planner. Every statement is idempotent (CREATE OR REPLACE), so a plan may
run them again.

Each computed column has one trigger on its own table, `<table>_<column>_compute`, whose
comment (`wesley:computed=<json>`) records what it maintains: introspection reads it back, so
a database Wesley built re-plans empty.
"""

from __future__ import annotations

import json

from wesley.ir import IR, Column, Computed, Table
from wesley.naming import constraint_name
from wesley.sdl.expressions import column_refs, rename_columns
from wesley.sqltext import quote_ident, quote_literal

COMPUTED_PREFIX = "wesley:computed="
SCHEMA_SQL = "CREATE SCHEMA IF NOT EXISTS wesley"
ZERO_SQL = (
    "CREATE OR REPLACE FUNCTION wesley.start_count() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN NEW := jsonb_populate_record(NEW, jsonb_build_object(TG_ARGV[0], 0)); "
    "RETURN NEW; END $$"
)
# AFTER a row of the counted table is inserted, deleted or moved to another parent: one up or
# down on the parent row (the row lock serialises concurrent writers; a recount would not see
# rows other transactions have not committed yet). TG_ARGV: parent table, its key column, the
# counting column, the referring column, the key's type.
COUNT_SQL = """CREATE OR REPLACE FUNCTION wesley.maintain_count() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  old_ref text;
  new_ref text;
  sql text := format('UPDATE %I SET %I = %I + $1 WHERE %I = $2::%s',
                     TG_ARGV[0], TG_ARGV[2], TG_ARGV[2], TG_ARGV[1], TG_ARGV[4]);
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN old_ref := to_jsonb(OLD) ->> TG_ARGV[3]; END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN new_ref := to_jsonb(NEW) ->> TG_ARGV[3]; END IF;
  IF old_ref IS NOT DISTINCT FROM new_ref THEN RETURN NULL; END IF;
  IF old_ref IS NOT NULL THEN EXECUTE sql USING -1, old_ref; END IF;
  IF new_ref IS NOT NULL THEN EXECUTE sql USING 1, new_ref; END IF;
  RETURN NULL;
END $$"""


def trigger_name(table: str, column: str) -> str:
    return constraint_name(table, [column], "compute")


def count_trigger_name(table: str, column: str) -> str:
    """The trigger on the counted table (named after the counting column)."""
    return constraint_name(table, [column], "count")


def function_name(table: str, column: str) -> str:
    return "wesley." + quote_ident(trigger_name(table, column))


def marker(computed: Computed) -> str:
    data = computed.model_dump(mode="json", exclude_none=True)
    return COMPUTED_PREFIX + json.dumps(data, sort_keys=True, separators=(",", ":"))


def parse_marker(comment: str | None) -> Computed | None:
    if not comment or not comment.startswith(COMPUTED_PREFIX):
        return None
    try:
        return Computed.model_validate(json.loads(comment[len(COMPUTED_PREFIX) :]))
    except ValueError:
        return None


def _parent_key(ir: IR, t: Table, c: Computed) -> tuple[str, str]:
    child = ir.table(c.table or "")
    assert child is not None and c.column is not None
    fk = next(f for f in child.foreign_keys if f.columns == [c.column] and f.ref_table == t.name)
    key = fk.ref_columns[0]
    col = t.column(key)
    assert col is not None
    return key, quote_ident(col.enum) if col.enum else col.type


def statements(ir: IR, t: Table, col: Column) -> list[str]:
    """Everything that maintains `col`, in order (helpers first)."""
    c = col.computed
    assert c is not None
    table, name = quote_ident(t.name), trigger_name(t.name, col.name)
    out = [SCHEMA_SQL]
    if c.kind == "expr":
        assert c.expr is not None
        body = rename_columns(c.expr, {r: r for r in column_refs(c.expr)}, qualifier="new")
        out.append(
            f"CREATE OR REPLACE FUNCTION {function_name(t.name, col.name)}() RETURNS trigger "
            f"LANGUAGE plpgsql AS $wesley$ BEGIN NEW.{quote_ident(col.name)} := {body}; "
            "RETURN NEW; END $wesley$"
        )
        out.append(
            f"CREATE OR REPLACE TRIGGER {quote_ident(name)} BEFORE INSERT OR UPDATE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {function_name(t.name, col.name)}()"
        )
    else:
        assert c.table is not None and c.column is not None
        key, key_type = _parent_key(ir, t, c)
        out += [ZERO_SQL, COUNT_SQL]
        out.append(
            f"CREATE OR REPLACE TRIGGER {quote_ident(name)} BEFORE INSERT ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION wesley.start_count({quote_literal(col.name)})"
        )
        args = ", ".join(quote_literal(a) for a in (t.name, key, col.name, c.column, key_type))
        out.append(
            f"CREATE OR REPLACE TRIGGER {quote_ident(count_trigger_name(t.name, col.name))} "
            f"AFTER INSERT OR DELETE OR UPDATE OF {quote_ident(c.column)} ON "
            f"{quote_ident(c.table)} FOR EACH ROW EXECUTE FUNCTION wesley.maintain_count({args})"
        )
    out.append(f"COMMENT ON TRIGGER {quote_ident(name)} ON {table} IS {quote_literal(marker(c))}")
    return out


def drop_statements(t: Table, col: Column) -> list[str]:
    c = col.computed
    assert c is not None
    out = [
        f"DROP TRIGGER IF EXISTS {quote_ident(trigger_name(t.name, col.name))} ON "
        f"{quote_ident(t.name)}"
    ]
    if c.kind == "count" and c.table:
        out.append(
            f"DROP TRIGGER IF EXISTS {quote_ident(count_trigger_name(t.name, col.name))} ON "
            f"{quote_ident(c.table)}"
        )
    return out


def recount_expr(ir: IR, t: Table, col: Column) -> str | None:
    """The value of `col` computed from the data (a backfill sets existing rows to it), or None
    when it cannot be (a volatile expression: the trigger sets it on the next write)."""
    c = col.computed
    assert c is not None
    if c.kind == "count":
        assert c.table is not None and c.column is not None
        key, _ = _parent_key(ir, t, c)
        return (
            f"(SELECT count(*) FROM {quote_ident(c.table)} x WHERE x.{quote_ident(c.column)} = "
            f"{quote_ident(t.name)}.{quote_ident(key)})"
        )
    from wesley.sdl.derived import is_volatile

    assert c.expr is not None
    return None if is_volatile(c.expr) else c.expr
