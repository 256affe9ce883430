"""Operation `change_type`: a type change that would rewrite the table, done through a shadow
column while the old and the new application version both run (wesley.plan.compat).

expand    prove both conversions exist; for a narrower type, a check that the old column's
          values fit (NOT VALID, then VALIDATE: no write blocked); the shadow column (new type,
          nullable, the new default, the uid comment); a trigger on the table that keeps the
          two equal: a write by the new version (its session's search_path holds the version
          schema) sets the old column from the new one, any other write the new from the old
backfill  every existing row, in keyset batches (`shadow IS DISTINCT FROM up(old)`)
validate  the column's indexes, uniques and primary key built CONCURRENTLY on the shadow, its
          checks and foreign keys (those pointing at it too) added NOT VALID and validated,
          NOT NULL through a validated check
switch    SET NOT NULL (catalog only); then the version schema's views show the shadow
contract  (deploy --complete, once the old version is retired) a sequence the old column owns
          moves to the shadow; foreign keys pointing at the old column go; one catalog-only
          ALTER TABLE per table disables the trigger, drops the old columns and makes the
          shadow's unique indexes the primary key and unique constraints; the shadow takes the
          column's name, its indexes and constraints their names; trigger and function go
abort     (deploy --abort) trigger, function, the shadow's foreign keys, the shadow column and
          the fit check go: the old column always held every value, so nothing is lost
"""

from __future__ import annotations

from pglast import ast, parse_sql

from wesley.ir import Column, ForeignKey, Table
from wesley.naming import constraint_name
from wesley.plan.compat import Flight, Shadow, mid_index, prefixed
from wesley.plan.diff import Change
from wesley.plan.operations.base import (
    IDEMPOTENT,
    Context,
    Draft,
    guard_column,
    guard_column_comment,
    guard_constraint,
    guard_valid_index,
    guard_validated,
    lit,
    rel,
    table_of,
)
from wesley.plan.operations.grant import grant
from wesley.plan.operations.shared import backfill_spec, not_null_drafts
from wesley.sdl.expressions import column_refs, rename_columns
from wesley.sqltext import column_type, quote_ident
from wesley.targets.postgres import create_index
from wesley.targets.sqlnames import (
    UID_COMMENT_PREFIX,
    format_type,
    ident_list,
    pk_name,
    uid_comment,
)

SYNC_WHY = "keeps the old and the new column equal while both versions write"


def change_type(change: Change, ctx: Context) -> list[Draft]:
    flight = ctx.flight
    assert flight is not None and change.column is not None
    s = flight.shadow(change.table, change.column)
    assert s is not None
    new_t = table_of(ctx.new, s.table)
    mid_t = table_of(flight.mid, s.phys)
    # the new version reads the shadow through its view (security_invoker): it needs the new
    # column's privileges there, and the shadow keeps them when it becomes the column
    grants = [d for g in s.new.grants for d in grant(Change("grant", s.phys, s.shadow, new=g), ctx)]
    return [
        *_expand(s, flight, mid_t),
        *grants,
        *_backfill(s, mid_t, ctx.batch_size),
        *_validate(s, flight, new_t, ctx),
        *_contract(s, flight, new_t, ctx),
        *_abort(s, flight, ctx),
    ]


def _type_of(col: Column) -> str:
    return column_type(col)


def _attr(table: str, column: str) -> str:
    return (
        f"EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = {rel(table)} "
        f"AND attname = {lit(column)} AND NOT attisdropped)"
    )


def _attr_typed(table: str, col: Column) -> str:
    """The column exists with this type (the old column, before the swap)."""
    return (
        f"EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = {rel(table)} "
        f"AND attname = {lit(col.name)} AND NOT attisdropped "
        f"AND format_type(atttypid, atttypmod) = {lit(format_type(col))})"
    )


def _trigger_exists(table: str, trigger: str) -> str:
    return (
        f"EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = {rel(table)} "
        f"AND tgname = {lit(trigger)})"
    )


def function_sql(s: Shadow, schema: str) -> str:
    """The trigger function: which version wrote the row is read from the session's
    search_path (the new version's holds its version schema). On INSERT by the new version,
    an empty shadow with a value in the old column (a sequence or identity default the old
    column owns) is filled from it instead."""
    old, shadow = quote_ident(s.old.name), quote_ident(s.shadow)
    fill_from_old = (
        f"    IF TG_OP = 'INSERT' AND new.{shadow} IS NULL AND new.{old} IS NOT NULL THEN\n"
        f"      new.{shadow} := {s.up_in_trigger()};\n"
        f"    ELSIF TG_OP = 'INSERT' OR new.{shadow} IS DISTINCT FROM old.{shadow} THEN\n"
        if not s.new.nullable
        else f"    IF TG_OP = 'INSERT' OR new.{shadow} IS DISTINCT FROM old.{shadow} THEN\n"
    )
    body = (
        "BEGIN\n"
        f"  IF {lit(schema)} = ANY (current_schemas(false)) THEN\n"
        f"{fill_from_old}"
        f"      new.{old} := {s.down_in_trigger()};\n"
        "    END IF;\n"
        "  ELSE\n"
        f"    new.{shadow} := {s.up_in_trigger()};\n"
        "  END IF;\n"
        "  RETURN new;\n"
        "END\n"
    )
    return (
        f"CREATE OR REPLACE FUNCTION {quote_ident(schema)}.{quote_ident(s.function)}() "
        f"RETURNS trigger LANGUAGE plpgsql AS $wesley_sync$\n{body}$wesley_sync$"
    )


def _expand(s: Shadow, flight: Flight, mid_t: Table) -> list[Draft]:
    table, shadow = quote_ident(s.phys), quote_ident(s.shadow)
    old, new = quote_ident(s.old.name), quote_ident(s.new.name)
    probe = (
        f"SELECT (SELECT {s.up} FROM (SELECT NULL::{_type_of(s.old)} AS {old}) AS probe), "
        f"(SELECT {s.down} FROM (SELECT NULL::{_type_of(s.new)} AS {new}) AS probe)"
    )
    out = [
        Draft(
            "expand",
            "check_cast",
            probe,
            IDEMPOTENT,
            f"{s.where}: prove the conversion {s.old.type} -> {s.new.type} and back exists "
            "before anything is installed",
            table=s.phys,
            column=s.old.name,
        )
    ]
    if s.fits is not None:
        name = constraint_name(s.phys, [s.old.name], "fits")
        add = f"ALTER TABLE {table} ADD CONSTRAINT {quote_ident(name)} CHECK ({s.fits}) NOT VALID"
        drop = f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {quote_ident(name)}"
        out += [
            Draft(
                "expand",
                "add_fit_check",
                add,
                guard_constraint(s.phys, name),
                f"{s.where} becomes {s.new.type}: the old version's writes must fit it from now "
                "on (a NOT VALID check: no scan under the lock)",
                table=s.phys,
                column=s.old.name,
            ),
            Draft(
                "expand",
                "validate_fit_check",
                f"ALTER TABLE {table} VALIDATE CONSTRAINT {quote_ident(name)}",
                guard_validated(s.phys, name),
                f"prove every row of {s.where} fits {s.new.type} before copying, without "
                "blocking writes",
                table=s.phys,
                column=s.old.name,
                notes=(
                    "if a row does not fit, the check is dropped again and the run stops, "
                    "before anything else is installed",
                ),
                undo=(drop, add),
                undo_hint=f"rows of {s.where} do not fit {s.new.type} (SELECT ... WHERE NOT "
                f"({s.fits})): change them, or convert with @wes_cast(using:), then rerun with "
                "--resume",
            ),
        ]
    out.append(
        Draft(
            "expand",
            "add_column",
            f"ALTER TABLE {table} ADD COLUMN {shadow} {_type_of(s.new)}",
            guard_column(s.phys, s.shadow),
            f"shadow column for {s.where} in its new type {s.new.type}: catalog only",
            table=s.phys,
            column=s.shadow,
        )
    )
    if s.new.default is not None:
        out.append(
            Draft(
                "expand",
                "set_default",
                f"ALTER TABLE {table} ALTER COLUMN {shadow} SET DEFAULT {s.new.default.sql}",
                IDEMPOTENT,
                f"the new default of {s.where}, for rows the new version inserts",
                table=s.phys,
                column=s.shadow,
            )
        )
    out += [
        Draft(
            "expand",
            "comment",
            f"COMMENT ON COLUMN {table}.{shadow} IS {uid_comment(s.new.uid)}",
            guard_column_comment(s.phys, s.shadow, UID_COMMENT_PREFIX + s.new.uid),
            f"record the uid of {s.where} on the column that becomes it",
            table=s.phys,
            column=s.shadow,
        ),
        Draft(
            "expand",
            "create_function",
            function_sql(s, flight.schema),
            IDEMPOTENT,
            f"{s.where}: the conversion both ways ({SYNC_WHY})",
            table=s.phys,
            column=s.old.name,
        ),
        Draft(
            "expand",
            "create_trigger",
            f"CREATE TRIGGER {quote_ident(s.trigger)} BEFORE INSERT OR UPDATE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {quote_ident(flight.schema)}."
            f"{quote_ident(s.function)}()",
            f"SELECT {_trigger_exists(s.phys, s.trigger)}",
            f"{s.where}: every write from now on {SYNC_WHY}",
            table=s.phys,
            column=s.old.name,
            notes=(
                "from here on, a value the old version writes that the new type cannot hold "
                "fails that write",
            ),
        ),
    ]
    return out


def _backfill(s: Shadow, mid_t: Table, batch: int) -> list[Draft]:
    table = quote_ident(s.phys)
    shadow_col = s.new.model_copy(update={"name": s.shadow})
    pending = f"{quote_ident(s.shadow)} IS DISTINCT FROM {s.up}"
    sweep, spec = backfill_spec(mid_t, shadow_col, s.up, batch, pending)
    return [
        Draft(
            "backfill",
            "backfill",
            sweep,
            f"SELECT NOT EXISTS (SELECT 1 FROM {table} WHERE {pending})",
            f"copy {s.where} into {s.new.type} in batches of {batch}",
            table=s.phys,
            column=s.shadow,
            backfill=spec,
        )
    ]


def _phys_cols(flight: Flight, table: str, cols: list[str]) -> list[str]:
    return [flight.phys_column(table, c) for c in cols]


def _phys_expr(flight: Flight, table: str, sql: str) -> str:
    return rename_columns(sql, {c: flight.phys_column(table, c) for c in column_refs(sql)})


def fks_involving(ctx: Context, s: Shadow) -> list[tuple[Table, ForeignKey]]:
    """Foreign keys of the new schema that use the column, on either side."""
    out = []
    for t in ctx.new.tables:
        for fk in t.foreign_keys:
            local = t.name == s.table and s.new.name in fk.columns
            remote = fk.ref_table == s.table and s.new.name in fk.ref_columns
            if local or remote:
                out.append((t, fk))
    return out


def _fk_sql(flight: Flight, t: Table, fk: ForeignKey) -> str:
    clause = (
        f"CONSTRAINT {quote_ident(prefixed(fk.name))} FOREIGN KEY "
        f"({ident_list(_phys_cols(flight, t.name, fk.columns))}) REFERENCES "
        f"{quote_ident(flight.phys_table(fk.ref_table))} "
        f"({ident_list(_phys_cols(flight, fk.ref_table, fk.ref_columns))})"
    )
    if fk.on_delete != "NO ACTION":
        clause += f" ON DELETE {fk.on_delete}"
    if fk.on_update != "NO ACTION":
        clause += f" ON UPDATE {fk.on_update}"
    return f"ALTER TABLE {quote_ident(flight.phys_table(t.name))} ADD {clause} NOT VALID"


def _validate(s: Shadow, flight: Flight, t: Table, ctx: Context) -> list[Draft]:
    table = quote_ident(s.phys)
    col = s.new.name
    out: list[Draft] = []
    if not s.new.nullable:
        shadow_col = s.new.model_copy(update={"name": s.shadow})
        mid_named = t.model_copy(update={"name": s.phys})
        out += not_null_drafts(mid_named, shadow_col, f"{s.where} is NOT NULL")
    if col in t.primary_key:
        name = prefixed(pk_name(t))
        cols = ident_list(_phys_cols(flight, t.name, t.primary_key))
        out.append(
            Draft(
                "validate",
                "create_index",
                f"CREATE UNIQUE INDEX CONCURRENTLY {quote_ident(name)} ON {table} ({cols})",
                guard_valid_index(name),
                f"the primary key of {t.name} on {s.new.type}, built without blocking writes",
                table=s.phys,
            )
        )
    for u in t.uniques:
        if col in u.columns:
            name = prefixed(u.name)
            cols = ident_list(_phys_cols(flight, t.name, u.columns))
            out.append(
                Draft(
                    "validate",
                    "create_index",
                    f"CREATE UNIQUE INDEX CONCURRENTLY {quote_ident(name)} ON {table} ({cols})",
                    guard_valid_index(name),
                    f"unique {u.name} on {s.new.type}, built without blocking writes",
                    table=s.phys,
                )
            )
    for ix in t.indexes:
        if col in ix.columns or (ix.where and col in column_refs(ix.where)):
            phys = mid_index(t, ix, flight)
            out.append(
                Draft(
                    "validate",
                    "create_index",
                    create_index(t.model_copy(update={"name": s.phys}), phys, concurrently=True),
                    guard_valid_index(phys.name),
                    f"index {ix.name} on {s.new.type}, built without blocking writes",
                    table=s.phys,
                )
            )
    for ck in t.checks:
        if ck.column == col or col in column_refs(ck.expr):
            name = quote_ident(prefixed(ck.name))
            out += [
                Draft(
                    "validate",
                    "add_check",
                    f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK "
                    f"({_phys_expr(flight, t.name, ck.expr)}) NOT VALID",
                    guard_constraint(s.phys, prefixed(ck.name)),
                    f"check {ck.name} on the new column; enforced for new and updated rows",
                    table=s.phys,
                    column=s.shadow,
                ),
                Draft(
                    "validate",
                    "validate_check",
                    f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}",
                    guard_validated(s.phys, prefixed(ck.name)),
                    f"check existing rows against {ck.name} without blocking writes",
                    table=s.phys,
                    column=s.shadow,
                ),
            ]
    for owner, fk in fks_involving(ctx, s):
        fk_table = flight.phys_table(owner.name)
        out += [
            Draft(
                "validate",
                "add_fk",
                _fk_sql(flight, owner, fk),
                guard_constraint(fk_table, prefixed(fk.name)),
                f"foreign key {fk.name} between the new columns; NOT VALID skips checking "
                "existing rows under the lock",
                table=fk_table,
            ),
            Draft(
                "validate",
                "validate_fk",
                f"ALTER TABLE {quote_ident(fk_table)} VALIDATE CONSTRAINT "
                f"{quote_ident(prefixed(fk.name))}",
                guard_validated(fk_table, prefixed(fk.name)),
                f"check existing rows against {fk.name} without blocking writes",
                table=fk_table,
            ),
        ]
    return out


def _sequence(default_sql: str | None) -> str | None:
    """The sequence a `nextval('seq'::regclass)` default draws from, or None."""
    if not default_sql:
        return None
    try:
        stmt = parse_sql(f"SELECT {default_sql}")[0].stmt
    except Exception:
        return None
    if not isinstance(stmt, ast.SelectStmt) or not stmt.targetList:
        return None
    node = stmt.targetList[0].val
    if not isinstance(node, ast.FuncCall) or [n.sval for n in node.funcname or ()][-1:] != [
        "nextval"
    ]:
        return None
    arg = node.args[0] if node.args else None
    while isinstance(arg, ast.TypeCast):
        arg = arg.arg
    if isinstance(arg, ast.A_Const) and isinstance(arg.val, ast.String):
        return str(arg.val.sval)
    return None


def old_fks_at(ctx: Context, flight: Flight, s: Shadow) -> list[tuple[str, ForeignKey]]:
    """Foreign keys of the old schema (on any table) that point at the old column."""
    return [
        (t.name, fk)
        for t in ctx.old.tables
        for fk in t.foreign_keys
        if fk.ref_table == s.phys and s.old.name in fk.ref_columns
    ]


def _contract(s: Shadow, flight: Flight, t: Table, ctx: Context) -> list[Draft]:
    table, shadow = quote_ident(s.phys), quote_ident(s.shadow)
    out: list[Draft] = []
    seq = _sequence(s.old.default.sql if s.old.default else None)
    if seq is not None:
        owned = (
            "EXISTS (SELECT 1 FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid "
            f"AND a.attnum = d.refobjsubid WHERE d.classid = 'pg_class'::regclass AND d.objid = "
            f"to_regclass({lit(seq)}) AND d.refobjid = {rel(s.phys)} AND a.attname = "
            f"{lit(s.old.name)} AND d.deptype = 'a')"
        )
        out.append(
            Draft(
                "contract",
                "move_sequence",
                f"ALTER SEQUENCE {seq} OWNED BY {table}.{shadow}",
                f"SELECT NOT {owned}",
                f"sequence {seq} belongs to the new {s.where} from now on",
                table=s.phys,
                column=s.shadow,
            )
        )
    for owner, fk in old_fks_at(ctx, flight, s):
        out.append(
            Draft(
                "contract",
                "swap_drop_fk",
                f"ALTER TABLE {quote_ident(owner)} DROP CONSTRAINT IF EXISTS "
                f"{quote_ident(fk.name)}",
                f"{guard_constraint(owner, fk.name, exists=False)} OR NOT "
                f"{_attr_typed(s.phys, s.old)}",
                f"{fk.name} points at the old {s.where}; its copy on the new column stays",
                table=owner,
            )
        )
    shadows = flight.shadowed(s.table)
    if shadows[0] is s:
        out.append(_swap(shadows, flight, t, ctx))
    out.append(
        Draft(
            "contract",
            "rename_shadow",
            f"ALTER TABLE {table} RENAME COLUMN {shadow} TO {quote_ident(s.new.name)}",
            guard_column(s.phys, s.shadow, exists=False),
            f"the new {s.where} takes its name: catalog only",
            table=s.phys,
            column=s.new.name,
        )
    )
    for ix in t.indexes:
        if s.new.name in ix.columns or (ix.where and s.new.name in column_refs(ix.where)):
            temp = prefixed(ix.name)
            out.append(
                Draft(
                    "contract",
                    "rename_shadow_object",
                    f"ALTER INDEX {quote_ident(temp)} RENAME TO {quote_ident(ix.name)}",
                    f"SELECT {rel(temp)} IS NULL",
                    f"index {ix.name} takes its name",
                    table=s.phys,
                )
            )
    constraints = [
        (s.phys, ck.name)
        for ck in t.checks
        if ck.column == s.new.name or s.new.name in column_refs(ck.expr)
    ] + [(flight.phys_table(owner.name), fk.name) for owner, fk in fks_involving(ctx, s)]
    for phys, name in constraints:
        temp = prefixed(name)
        out.append(
            Draft(
                "contract",
                "rename_shadow_object",
                f"ALTER TABLE {quote_ident(phys)} RENAME CONSTRAINT {quote_ident(temp)} TO "
                f"{quote_ident(name)}",
                guard_constraint(phys, temp, exists=False),
                f"constraint {name} takes its name",
                table=phys,
            )
        )
    out += [
        Draft(
            "contract",
            "drop_sync_trigger",
            f"DROP TRIGGER IF EXISTS {quote_ident(s.trigger)} ON {table}",
            f"SELECT NOT {_trigger_exists(s.phys, s.trigger)}",
            f"{s.where}: only one column is left, nothing to keep in sync",
            table=s.phys,
        ),
        Draft(
            "contract",
            "drop_sync_function",
            f"DROP FUNCTION IF EXISTS {quote_ident(flight.schema)}.{quote_ident(s.function)}()",
            f"SELECT to_regprocedure({lit(_function_ref(flight, s))}) IS NULL",
            f"{s.where}: the conversion is no longer needed",
        ),
    ]
    return out


def _function_ref(flight: Flight, s: Shadow) -> str:
    return f"{quote_ident(flight.schema)}.{quote_ident(s.function)}()"


def _swap(shadows: list[Shadow], flight: Flight, t: Table, ctx: Context) -> Draft:
    """One ALTER TABLE for all shadowed columns of a table: the triggers stop, the old
    columns go (with their indexes and constraints), the shadows' unique indexes become the
    primary key and unique constraints. Catalog only; atomic, so no write sees a table without
    its key or with a column that nothing keeps in sync."""
    first = shadows[0]
    phys = first.phys
    names = {s.new.name for s in shadows}
    cmds = [f"DISABLE TRIGGER {quote_ident(s.trigger)}" for s in shadows]
    cmds += [f"DROP COLUMN {quote_ident(s.old.name)}" for s in shadows]
    old_t = next(o for o in ctx.old.tables if o.name == phys)
    olds = {s.old.name for s in shadows}
    if any(c in names for c in t.primary_key):
        if not any(c in olds for c in old_t.primary_key) and old_t.primary_key:
            cmds.append(f"DROP CONSTRAINT {quote_ident(pk_name(old_t))}")
        cmds.append(
            f"ADD CONSTRAINT {quote_ident(pk_name(t))} PRIMARY KEY USING INDEX "
            f"{quote_ident(prefixed(pk_name(t)))}"
        )
    for u in t.uniques:
        if any(c in names for c in u.columns):
            cmds.append(
                f"ADD CONSTRAINT {quote_ident(u.name)} UNIQUE USING INDEX "
                f"{quote_ident(prefixed(u.name))}"
            )
    # every swap_drop_fk step runs before every swap: those keys are gone by now
    gone = frozenset(fk.name for s in flight.shadows for _, fk in old_fks_at(ctx, flight, s))
    done = f"SELECT NOT {_attr(phys, first.shadow)} OR NOT {_attr(phys, first.old.name)}"
    cols = ", ".join(s.new.name for s in shadows)
    return Draft(
        "contract",
        "swap_column",
        f"ALTER TABLE {quote_ident(phys)} " + ", ".join(cmds),
        done,
        f"swap in the new {t.name}.{cols}: the old column goes, the shadow's indexes become its "
        "keys; catalog only",
        table=phys,
        notes=("the old application version must be retired before this step",),
        gone_fks=gone,
    )


def _abort(s: Shadow, flight: Flight, ctx: Context) -> list[Draft]:
    table = quote_ident(s.phys)
    out = [
        Draft(
            "abort",
            "drop_trigger",
            f"DROP TRIGGER IF EXISTS {quote_ident(s.trigger)} ON {table}",
            f"SELECT NOT {_trigger_exists(s.phys, s.trigger)}",
            f"{s.where}: stop keeping the shadow column in sync",
            table=s.phys,
        ),
        Draft(
            "abort",
            "drop_function",
            f"DROP FUNCTION IF EXISTS {quote_ident(flight.schema)}.{quote_ident(s.function)}()",
            f"SELECT to_regprocedure({lit(_function_ref(flight, s))}) IS NULL",
            f"{s.where}: the conversion goes",
        ),
    ]
    temp_fks: set[str] = set()
    for owner, fk in fks_involving(ctx, s):
        phys = flight.phys_table(owner.name)
        temp = prefixed(fk.name)
        if phys == s.phys:
            temp_fks.add(temp)
        out.append(
            Draft(
                "abort",
                "drop_constraint",
                f"ALTER TABLE {quote_ident(phys)} DROP CONSTRAINT IF EXISTS {quote_ident(temp)}",
                guard_constraint(phys, temp, exists=False),
                f"the copy of {fk.name} on the shadow column goes",
                table=phys,
            )
        )
    out.append(
        Draft(
            "abort",
            "drop_column",
            f"ALTER TABLE {table} DROP COLUMN IF EXISTS {quote_ident(s.shadow)}",
            guard_column(s.phys, s.shadow, exists=False),
            f"the shadow of {s.where} goes, with its indexes; the old column holds every value",
            table=s.phys,
            column=s.shadow,
            gone_fks=frozenset(temp_fks),
        )
    )
    if s.fits is not None:
        name = constraint_name(s.phys, [s.old.name], "fits")
        out.append(
            Draft(
                "abort",
                "drop_constraint",
                f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {quote_ident(name)}",
                guard_constraint(s.phys, name, exists=False),
                f"the old version may write values of {s.old.type} again",
                table=s.phys,
                column=s.old.name,
            )
        )
    return out
