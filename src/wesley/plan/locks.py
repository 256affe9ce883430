"""What one DDL statement does to the tables it touches: the lock classifier (DESIGN §5).

`classify(sql)` parses the statement with pglast (PostgreSQL's own parser) and reads the lock
mode per relation, whether the table is rewritten or scanned, and whether it may run in a
transaction block from the parse tree. Nothing here matches strings in the SQL text.

The rules were checked against a real PostgreSQL 15 by `tests/test_locks_observed.py`, which
runs each statement and reads `pg_locks` and `pg_class.relfilenode`; where PostgreSQL and the
DESIGN table disagreed, PostgreSQL won (see docs/locks.md).

Some facts are not in the statement: whether a column has a validated `CHECK (c IS NOT NULL)`,
a column's current type, which constraint is a foreign key, which table an index belongs to.
The caller passes those per table as `TableContext`; without them the classifier is
conservative and says so in `notes`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pglast import ast, parse_sql, visitors
from pglast.enums import AlterTableType as AT
from pglast.enums import (
    ConstrType,
    DropBehavior,
    GrantTargetType,
    NullTestType,
    ObjectType,
    ReindexObjectType,
)
from pglast.parser import ParseError

from wesley.plan.lockmodes import LockMode, blocks_reads, blocks_writes, strength


@dataclass(frozen=True)
class RelationLock:
    relation: str  # table or index name as written: unquoted, without schema
    mode: LockMode


@dataclass(frozen=True)
class LockFacts:
    locks: tuple[RelationLock, ...]  # strongest mode per relation, sorted by relation name
    rewrite: bool  # the table is rewritten (its relfilenode changes)
    scan: bool  # the whole table is read under the lock (validation, index build, rewrite)
    transactional: bool  # False: must run outside a transaction block (CONCURRENTLY)
    blocks_reads: bool  # of the strongest lock on the statement's target table
    blocks_writes: bool
    notes: tuple[str, ...]  # caveats in plain words: version rules, assumptions made


@dataclass(frozen=True)
class TableContext:
    """What the classifier cannot see in the statement, for one table (keyed by its name).

    `indexes` answers "which table does this index belong to" for DROP INDEX: the table is the
    context entry whose `indexes` holds the index name.
    """

    # columns with a VALIDATED `CHECK (col IS NOT NULL)`: SET NOT NULL then skips its scan
    valid_not_null_checks: frozenset[str] = frozenset()
    # current column types (`varchar(10)`, `numeric(10,2)`...), for ALTER COLUMN TYPE
    column_types: Mapping[str, str] = field(default_factory=dict)
    # foreign keys of this table: constraint name -> referenced table
    foreign_keys: Mapping[str, str] = field(default_factory=dict)
    # referencing columns of each foreign key; a key missing here may involve any column
    foreign_key_columns: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # tables whose foreign keys reference this one (reached by DROP ... CASCADE)
    referenced_by: frozenset[str] = frozenset()
    # names of this table's indexes
    indexes: frozenset[str] = frozenset()
    # the columns of each index (for PRIMARY KEY USING INDEX) and the NOT NULL columns
    index_columns: Mapping[str, frozenset[str]] = field(default_factory=dict)
    not_null_columns: frozenset[str] = frozenset()


def classify(
    sql: str, server_version: int = 150000, context: Mapping[str, TableContext] | None = None
) -> LockFacts:
    """The lock facts of one SQL statement on a server of `server_version` (`150004` = 15.4).

    Raises ValueError unless `sql` is exactly one statement PostgreSQL can parse.
    """
    try:
        stmts = parse_sql(sql)
    except ParseError as exc:
        raise ValueError(f"not valid SQL: {exc}") from None
    if len(stmts) != 1:
        raise ValueError(f"expected one statement, got {len(stmts)}")
    facts = _Facts(server_version, context or {})
    stmt = stmts[0].stmt
    handler = _HANDLERS.get(type(stmt))
    if handler is None:
        _unknown(facts, stmt, type(stmt).__name__)
    else:
        handler(facts, stmt)
    return facts.build()


def not_null_check_column(definition: str) -> str | None:
    """The column a check constraint proves NOT NULL, from `pg_get_constraintdef` output
    (`CHECK ((email IS NOT NULL))`), or None when it is any other check."""
    try:
        stmts = parse_sql(f"ALTER TABLE t ADD {definition}")
    except ParseError:
        return None
    stmt: Any = stmts[0].stmt if len(stmts) == 1 else None
    cmd = stmt.cmds[0] if stmt is not None else None
    con = getattr(cmd, "def_", None)
    if not isinstance(con, ast.Constraint) or con.contype != ConstrType.CONSTR_CHECK:
        return None
    return _not_null_test_column(con.raw_expr)


# --- building the answer -------------------------------------------------------------------


class _Facts:
    def __init__(self, version: int, context: Mapping[str, TableContext]) -> None:
        self.version = version
        self.context = context
        self.locks: dict[str, LockMode] = {}
        self.target: str | None = None
        self.rewrite = False
        self.scan = False
        self.transactional = True
        self.notes: list[str] = []

    def lock(self, relation: str, mode: LockMode) -> None:
        held = self.locks.get(relation)
        if held is None or strength(mode) > strength(held):
            self.locks[relation] = mode

    def lock_target(self, relation: str, mode: LockMode) -> None:
        if self.target is None:
            self.target = relation
        self.lock(relation, mode)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def table(self, name: str) -> TableContext | None:
        return self.context.get(name)

    def build(self) -> LockFacts:
        mode = self.locks.get(self.target) if self.target else None
        return LockFacts(
            locks=tuple(RelationLock(r, m) for r, m in sorted(self.locks.items())),
            rewrite=self.rewrite,
            # a rewrite reads every row, so it is a scan too
            scan=self.scan or self.rewrite,
            transactional=self.transactional,
            blocks_reads=mode is not None and blocks_reads(mode),
            blocks_writes=mode is not None and blocks_writes(mode),
            notes=tuple(self.notes),
        )


# --- parse-tree helpers --------------------------------------------------------------------


class _Collector(visitors.Visitor):
    """Every node of a subtree, in document order."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []

    def visit(self, ancestors: Any, node: Any) -> None:
        self.nodes.append(node)


def _walk(node: Any) -> Iterator[Any]:
    collector = _Collector()
    collector(node)
    yield from collector.nodes


def _strings(items: Any) -> list[str]:
    return [str(item.sval) for item in items or () if isinstance(item, ast.String)]


def _last_name(names: Any) -> str:
    return _strings(names)[-1].lower()


def _named_relations(node: Any) -> list[str]:
    """Tables a statement names through RangeVars (FROM, targets, references), CTEs left out."""
    nodes = list(_walk(node))
    ctes = {n.ctename for n in nodes if isinstance(n, ast.CommonTableExpr)}
    seen: list[str] = []
    for n in nodes:
        if isinstance(n, ast.RangeVar) and n.relname not in seen:
            if n.schemaname is None and n.relname in ctes:
                continue
            seen.append(_rel(n))
    return seen


def _rel(range_var: Any) -> str:
    """The relation name of a RangeVar (the grammar guarantees one where we read it)."""
    return str(range_var.relname)


def _not_null_test_column(expr: Any) -> str | None:
    if (
        isinstance(expr, ast.NullTest)
        and expr.nulltesttype == NullTestType.IS_NOT_NULL
        and isinstance(expr.arg, ast.ColumnRef)
    ):
        fields = _strings(expr.arg.fields)
        if len(fields) == len(expr.arg.fields or ()):
            return fields[-1]
    return None


def _is_null_literal(expr: Any) -> bool:
    return isinstance(expr, ast.A_Const) and bool(expr.isnull)


# --- volatility of a DEFAULT ----------------------------------------------------------------

# provolatile = 'v' in PostgreSQL (checked against pg_proc by the harness where they exist):
# a default calling one is evaluated per row, so ADD COLUMN rewrites the table.
VOLATILE_FUNCTIONS = frozenset(
    {
        "random",
        "random_normal",
        "setseed",
        "gen_random_uuid",
        "uuidv4",
        "uuidv7",
        "uuid_generate_v1",
        "uuid_generate_v1mc",
        "uuid_generate_v4",
        "gen_random_bytes",
        "clock_timestamp",
        "timeofday",
        "nextval",
        "currval",
        "lastval",
    }
)

# Stable or immutable (no volatile overload in PostgreSQL 15): evaluated once at ALTER time.
# `txid_current()` is STABLE, not volatile, although it is often listed with the volatile ones.
NON_VOLATILE_FUNCTIONS = frozenset(
    {
        "now",
        "transaction_timestamp",
        "statement_timestamp",
        "txid_current",
        "pg_current_xact_id",
        "current_setting",
        "lower",
        "upper",
        "btrim",
        "ltrim",
        "rtrim",
        "concat",
        "concat_ws",
        "format",
        "md5",
        "length",
        "replace",
        "left",
        "right",
        "abs",
        "round",
        "floor",
        "ceil",
        "make_date",
        "make_time",
        "make_interval",
        "make_timestamp",
        "make_timestamptz",
        "date_trunc",
        "to_char",
        "to_date",
        "to_timestamp",
        "to_json",
        "to_jsonb",
        "json_build_object",
        "json_build_array",
        "jsonb_build_object",
        "jsonb_build_array",
        "array_fill",
    }
)

_SERIAL_TYPES = frozenset({"serial", "serial2", "serial4", "serial8", "smallserial", "bigserial"})


def _default_is_volatile(facts: _Facts, expr: Any) -> bool:
    """True when the expression calls a volatile function, or one whose volatility we don't
    know (assumed volatile, with a note)."""
    volatile = False
    for node in _walk(expr):
        if not isinstance(node, ast.FuncCall):
            continue
        name = _last_name(node.funcname)
        if name in VOLATILE_FUNCTIONS:
            volatile = True
        elif name not in NON_VOLATILE_FUNCTIONS:
            facts.note(f"volatility of {name}() is unknown: assumed volatile (table rewrite)")
            volatile = True
    return volatile


# --- column types, for ALTER COLUMN TYPE ---------------------------------------------------


@dataclass(frozen=True)
class _Type:
    name: str  # last name component, lower case, as pglast canonicalises it (int4, varchar)
    mods: tuple[int, ...]
    array: bool


def _type_of(type_name: Any) -> _Type | None:
    if not isinstance(type_name, ast.TypeName) or type_name.setof or type_name.pct_type:
        return None
    mods: list[int] = []
    for mod in type_name.typmods or ():
        if not (isinstance(mod, ast.A_Const) and isinstance(mod.val, ast.Integer)):
            return None
        mods.append(int(mod.val.ival or 0))
    return _Type(_last_name(type_name.names), tuple(mods), bool(type_name.arrayBounds))


def _parse_type(text: str) -> _Type | None:
    try:
        stmts = parse_sql(f"SELECT NULL::{text}")
    except ParseError:
        return None
    if len(stmts) != 1 or not isinstance(stmts[0].stmt, ast.SelectStmt):
        return None
    targets: Any = stmts[0].stmt.targetList or ()
    cast = targets[0].val if len(targets) == 1 else None
    return _type_of(cast.typeName) if isinstance(cast, ast.TypeCast) else None


_PRECISION_TYPES = frozenset({"timestamp", "timestamptz", "time", "timetz"})


def _binary_coercible(old: _Type, new: _Type) -> bool:
    """Whether PostgreSQL changes the type without rewriting: the same type, or a widening it
    knows to be a no-op (varchar length, numeric precision at equal scale, varbit length,
    time precision), or varchar <-> text. Anything else rewrites."""
    if old == new:
        return True
    if old.array or new.array:
        return False
    if old.name == new.name and old.name in {"varchar", "varbit", *_PRECISION_TYPES}:
        return not new.mods or (bool(old.mods) and new.mods[0] >= old.mods[0])
    if old.name == new.name == "numeric":
        if not new.mods:
            return True
        if not old.mods:
            return False
        old_scale = old.mods[1] if len(old.mods) > 1 else 0
        new_scale = new.mods[1] if len(new.mods) > 1 else 0
        return new_scale == old_scale and new.mods[0] >= old.mods[0]
    if old.name == "varchar" and new.name == "text":
        return True
    return old.name == "text" and new.name == "varchar" and not new.mods


def _is_plain_column(expr: Any, column: str, new: Any) -> bool:
    """`USING col` or `USING col::newtype`: PostgreSQL treats these like no USING at all."""
    if isinstance(expr, ast.TypeCast):
        if _type_of(expr.typeName) != _type_of(new) or _type_of(new) is None:
            return False
        expr = expr.arg
    return isinstance(expr, ast.ColumnRef) and _strings(expr.fields) == [column]


# --- CREATE TABLE --------------------------------------------------------------------------


def _create_table(facts: _Facts, stmt: Any) -> None:
    table = _rel(stmt.relation)
    facts.lock_target(table, "ACCESS EXCLUSIVE")
    for parent in stmt.inhRelations or ():
        if stmt.partbound is not None:
            facts.lock(_rel(parent), "ACCESS EXCLUSIVE")  # PARTITION OF
        else:
            facts.lock(_rel(parent), "SHARE UPDATE EXCLUSIVE")  # INHERITS
    for elt in stmt.tableElts or ():
        if isinstance(elt, ast.TableLikeClause):
            facts.lock(_rel(elt.relation), "ACCESS SHARE")
        constraints = elt.constraints if isinstance(elt, ast.ColumnDef) else (elt,)
        for con in constraints or ():
            # the FK adds triggers on the referenced table (like CREATE TRIGGER)
            if (
                isinstance(con, ast.Constraint)
                and con.contype == ConstrType.CONSTR_FOREIGN
                and _rel(con.pktable) != table
            ):
                facts.lock(_rel(con.pktable), "SHARE ROW EXCLUSIVE")


# --- ALTER TABLE ---------------------------------------------------------------------------

# Per PostgreSQL 15 AlterTableGetLockLevel, for subcommands with a fixed lock and no work.
_SHARE_UPDATE_EXCLUSIVE_CMDS = frozenset(
    {AT.AT_SetStatistics, AT.AT_SetOptions, AT.AT_ResetOptions, AT.AT_ClusterOn, AT.AT_DropCluster}
)
_TRIGGER_CMDS = frozenset(
    {
        AT.AT_EnableTrig,
        AT.AT_EnableAlwaysTrig,
        AT.AT_EnableReplicaTrig,
        AT.AT_DisableTrig,
        AT.AT_EnableTrigAll,
        AT.AT_DisableTrigAll,
        AT.AT_EnableTrigUser,
        AT.AT_DisableTrigUser,
    }
)
_CATALOG_ONLY_CMDS = frozenset(
    {
        AT.AT_ColumnDefault,
        AT.AT_DropNotNull,
        AT.AT_EnableRowSecurity,
        AT.AT_DisableRowSecurity,
        AT.AT_ForceRowSecurity,
        AT.AT_NoForceRowSecurity,
        AT.AT_ChangeOwner,
        AT.AT_SetStorage,
        AT.AT_SetCompression,
        AT.AT_AddIdentity,
        AT.AT_SetIdentity,
        AT.AT_DropIdentity,
        AT.AT_DropExpression,
        AT.AT_ReplicaIdentity,
        AT.AT_EnableRule,
        AT.AT_EnableAlwaysRule,
        AT.AT_EnableReplicaRule,
        AT.AT_DisableRule,
        AT.AT_GenericOptions,
    }
)
# Storage moves to a new relfilenode.
_REWRITE_CMDS = frozenset(
    {AT.AT_SetTableSpace, AT.AT_SetLogged, AT.AT_SetUnLogged, AT.AT_SetAccessMethod}
)
# Table storage parameters PostgreSQL 15 changes under SHARE UPDATE EXCLUSIVE (reloptions.c).
_SUE_RELOPTIONS = frozenset(
    {
        "fillfactor",
        "parallel_workers",
        "toast_tuple_target",
        "vacuum_index_cleanup",
        "vacuum_truncate",
        "log_autovacuum_min_duration",
        "autovacuum_enabled",
        "autovacuum_vacuum_threshold",
        "autovacuum_vacuum_insert_threshold",
        "autovacuum_analyze_threshold",
        "autovacuum_vacuum_scale_factor",
        "autovacuum_vacuum_insert_scale_factor",
        "autovacuum_analyze_scale_factor",
        "autovacuum_vacuum_cost_delay",
        "autovacuum_vacuum_cost_limit",
        "autovacuum_freeze_min_age",
        "autovacuum_freeze_max_age",
        "autovacuum_freeze_table_age",
        "autovacuum_multixact_freeze_min_age",
        "autovacuum_multixact_freeze_max_age",
        "autovacuum_multixact_freeze_table_age",
    }
)


def _since(facts: _Facts, version: int, what: str) -> None:
    """`what` first exists in PostgreSQL `version`: older servers reject the statement."""
    if facts.version < version:
        facts.note(f"{what} needs PostgreSQL {version // 10000}: this server rejects it")


_PG18_NOT_NULL = (
    "PostgreSQL 18 can add a NOT NULL constraint NOT VALID and VALIDATE it later, "
    "without the CHECK (c IS NOT NULL) detour"
)


def _alter_table(facts: _Facts, stmt: Any) -> None:
    if stmt.objtype != ObjectType.OBJECT_TABLE:
        _unknown(facts, stmt, f"ALTER {stmt.objtype.name.removeprefix('OBJECT_')}")
        return
    table = _rel(stmt.relation)
    cmds = list(stmt.cmds or ())
    drops_constraint = any(cmd.subtype == AT.AT_DropConstraint for cmd in cmds)
    facts.target = table
    for cmd in cmds:
        _alter_table_cmd(facts, table, cmd, drops_constraint)


def _alter_table_cmd(facts: _Facts, table: str, cmd: Any, drops: bool) -> None:
    kind = cmd.subtype
    ctx = facts.table(table)
    if kind == AT.AT_AddColumn:
        facts.lock(table, "ACCESS EXCLUSIVE")
        _add_column(facts, table, cmd.def_)
    elif kind == AT.AT_AlterColumnType:
        facts.lock(table, "ACCESS EXCLUSIVE")
        _alter_column_type(facts, table, cmd.name, cmd.def_)
    elif kind == AT.AT_SetNotNull:
        facts.lock(table, "ACCESS EXCLUSIVE")
        _set_not_null(facts, table, cmd.name, drops)
    elif kind == AT.AT_AddConstraint:
        _add_constraint(facts, table, cmd.def_)
    elif kind == AT.AT_AlterConstraint:
        _alter_constraint(facts, table, cmd.def_)
    elif kind in (AT.AT_AttachPartition, AT.AT_DetachPartition, AT.AT_DetachPartitionFinalize):
        _partition(facts, table, kind, cmd.def_)
    elif kind == AT.AT_SetExpression:
        facts.lock(table, "ACCESS EXCLUSIVE")
        facts.rewrite = True  # a stored generated column is recomputed for every row
        _since(facts, 170000, "ALTER COLUMN ... SET EXPRESSION")
    elif kind == AT.AT_ValidateConstraint:
        facts.lock(table, "SHARE UPDATE EXCLUSIVE")
        facts.scan = True
        if ctx is None:
            facts.note(
                f"no context for {table}: if {cmd.name} is a foreign key, VALIDATE also "
                "takes ROW SHARE on its referenced table"
            )
        elif cmd.name in ctx.foreign_keys:
            facts.lock(ctx.foreign_keys[cmd.name], "ROW SHARE")
    elif kind == AT.AT_DropConstraint:
        facts.lock(table, "ACCESS EXCLUSIVE")
        if ctx is None:
            facts.note(
                f"no context for {table}: if {cmd.name} is a foreign key, dropping it also "
                "takes ACCESS EXCLUSIVE on its referenced table"
            )
        elif cmd.name in ctx.foreign_keys:
            # removing the FK's triggers from the referenced table
            facts.lock(ctx.foreign_keys[cmd.name], "ACCESS EXCLUSIVE")
        _cascade(facts, table, cmd.behavior)
    elif kind == AT.AT_DropColumn:
        facts.lock(table, "ACCESS EXCLUSIVE")
        _drop_column(facts, table, cmd.name)
        _cascade(facts, table, cmd.behavior)
    elif kind in _SHARE_UPDATE_EXCLUSIVE_CMDS:
        facts.lock(table, "SHARE UPDATE EXCLUSIVE")
    elif kind in _TRIGGER_CMDS:
        facts.lock(table, "SHARE ROW EXCLUSIVE")
    elif kind in _CATALOG_ONLY_CMDS:
        facts.lock(table, "ACCESS EXCLUSIVE")
    elif kind in _REWRITE_CMDS:
        facts.lock(table, "ACCESS EXCLUSIVE")
        facts.rewrite = True
    elif kind in (AT.AT_SetRelOptions, AT.AT_ResetRelOptions):
        names = {opt.defname for opt in cmd.def_ or ()}
        known = names <= _SUE_RELOPTIONS
        facts.lock(table, "SHARE UPDATE EXCLUSIVE" if known else "ACCESS EXCLUSIVE")
    else:
        facts.lock(table, "ACCESS EXCLUSIVE")
        for relation in _named_relations(cmd):
            facts.lock(relation, "ACCESS EXCLUSIVE")
        facts.rewrite = facts.scan = True
        facts.note(
            f"ALTER TABLE subcommand {kind.name} is not classified: assumed ACCESS EXCLUSIVE "
            "on every relation it names, with a rewrite"
        )


def _add_column(facts: _Facts, table: str, col: Any) -> None:
    constraints = [c for c in col.constraints or () if isinstance(c, ast.Constraint)]
    kinds = {c.contype for c in constraints}
    default = next(
        (c.raw_expr for c in constraints if c.contype == ConstrType.CONSTR_DEFAULT), None
    )
    if default is not None and _is_null_literal(default):
        default = None
    # PostgreSQL 18's virtual generated columns (its default) are computed when read
    virtual = [c for c in constraints if c.contype == ConstrType.CONSTR_GENERATED]
    virtual = [c for c in virtual if c.generated_kind == "v"]
    if virtual:
        _since(facts, 180000, "a VIRTUAL generated column (GENERATED ALWAYS AS without STORED)")
    # every row gets its own value: identity, serial (nextval), stored generated column
    per_row = (
        ConstrType.CONSTR_IDENTITY in kinds
        or (ConstrType.CONSTR_GENERATED in kinds and not virtual)
        or _last_name(col.typeName.names) in _SERIAL_TYPES
    )
    if per_row:
        facts.rewrite = True
    elif default is not None:
        if facts.version < 110000:
            facts.rewrite = True
            facts.note("before PostgreSQL 11, ADD COLUMN with any DEFAULT rewrites the table")
        elif _default_is_volatile(facts, default):
            facts.rewrite = True
    has_values = per_row or default is not None
    if (ConstrType.CONSTR_NOTNULL in kinds or col.is_not_null) and not has_values:
        facts.scan = True
        facts.note("ADD COLUMN NOT NULL without a DEFAULT fails on a table that has rows")
    for con in constraints:
        if con.contype in (
            ConstrType.CONSTR_CHECK,
            ConstrType.CONSTR_PRIMARY,
            ConstrType.CONSTR_UNIQUE,
            ConstrType.CONSTR_EXCLUSION,
        ):
            facts.scan = True  # the check is verified / the index is built
        elif con.contype == ConstrType.CONSTR_FOREIGN:
            if _rel(con.pktable) != table:
                facts.lock(_rel(con.pktable), "SHARE ROW EXCLUSIVE")
            # PostgreSQL skips validating an FK on a new all-NULL column
            if has_values:
                facts.scan = True


def _alter_column_type(facts: _Facts, table: str, column: str, col: Any) -> None:
    ctx = facts.table(table)
    using = col.raw_default
    current = ctx.column_types.get(column) if ctx else None
    old = _parse_type(current) if current else None
    new = _type_of(col.typeName)
    rewrites = True
    if using is not None and not _is_plain_column(using, column, col.typeName):
        facts.note(f"ALTER COLUMN {column} TYPE ... USING an expression: assumed to rewrite")
    elif old is None or new is None:
        facts.note(f"current type of {table}.{column} is unknown: assumed to rewrite")
    else:
        rewrites = not _binary_coercible(old, new)
    facts.rewrite = facts.rewrite or rewrites
    if col.collClause is not None:
        facts.scan = True
        facts.note(f"COLLATE on {column}: indexes on the column may be rebuilt")
    if not rewrites:
        if ctx is not None and column in ctx.valid_not_null_checks:
            facts.scan = True  # its CHECK constraints are dropped, re-added and re-checked
        facts.note(f"without a rewrite, CHECK constraints that use {column} are re-validated")


def _set_not_null(facts: _Facts, table: str, column: str, drops_constraint: bool) -> None:
    ctx = facts.table(table)
    proven = ctx is not None and column in ctx.valid_not_null_checks
    if facts.version < 120000:
        facts.scan = True
        facts.note("before PostgreSQL 12, SET NOT NULL always scans the table")
    elif proven and drops_constraint:
        # the constraint is dropped before the NOT NULL is proven: PostgreSQL scans
        facts.scan = True
        facts.note(
            "DROP CONSTRAINT in the same ALTER TABLE as SET NOT NULL makes it scan: drop the "
            "CHECK in a separate statement"
        )
    elif not proven:
        facts.scan = True
    if facts.version >= 180000:
        facts.note(_PG18_NOT_NULL)


def _add_constraint(facts: _Facts, table: str, con: Any) -> None:
    kind = con.contype
    if kind in (ConstrType.CONSTR_FOREIGN, ConstrType.CONSTR_CHECK) and not con.is_enforced:
        _since(facts, 180000, "a NOT ENFORCED constraint")  # never checked: no scan
    if kind == ConstrType.CONSTR_FOREIGN:
        facts.lock(table, "SHARE ROW EXCLUSIVE")
        if _rel(con.pktable) != table:
            facts.lock(_rel(con.pktable), "SHARE ROW EXCLUSIVE")
        facts.scan = facts.scan or not con.skip_validation
        return
    facts.lock(table, "ACCESS EXCLUSIVE")
    if kind == ConstrType.CONSTR_CHECK:
        facts.scan = facts.scan or not con.skip_validation
        if (
            facts.version >= 180000
            and con.skip_validation
            and _not_null_test_column(con.raw_expr) is not None
        ):
            facts.note(_PG18_NOT_NULL)
    elif kind == ConstrType.CONSTR_NOTNULL:
        _since(facts, 180000, "ADD CONSTRAINT ... NOT NULL")
        ctx = facts.table(table)
        columns = _strings(con.keys)
        proven = ctx is not None and set(columns) <= ctx.valid_not_null_checks
        # NOT VALID: existing rows are not checked; else a valid CHECK (c IS NOT NULL) proves it
        facts.scan = facts.scan or not (con.skip_validation or proven)
    elif kind in (ConstrType.CONSTR_PRIMARY, ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_EXCLUSION):
        if con.indexname is None:
            facts.scan = True  # index build
        elif kind == ConstrType.CONSTR_PRIMARY:
            ctx = facts.table(table)
            indexed = ctx.index_columns.get(con.indexname) if ctx else None
            if ctx is None or indexed is None or not indexed <= ctx.not_null_columns:
                facts.scan = True
                facts.note(
                    "PRIMARY KEY USING INDEX sets its columns NOT NULL: a scan unless they are "
                    "NOT NULL already"
                )
    else:
        facts.scan = True
        facts.note(f"constraint kind {kind.name} is not classified: assumed to scan")


def _alter_constraint(facts: _Facts, table: str, alter: Any) -> None:
    """ALTER CONSTRAINT: deferrability is catalog only; [NOT] ENFORCED (PostgreSQL 18) drops or
    adds a foreign key's triggers on the referenced table, and ENFORCED validates the rows."""
    facts.lock(table, "ACCESS EXCLUSIVE")
    if not getattr(alter, "alterEnforceability", False):
        return
    _since(facts, 180000, "ALTER CONSTRAINT ... [NOT] ENFORCED")
    ctx = facts.table(table)
    name = str(alter.conname)
    if ctx is None:
        facts.note(
            f"no context for {table}: if {name} is a foreign key, its referenced table gets "
            "ACCESS EXCLUSIVE too"
        )
    elif name in ctx.foreign_keys:
        facts.lock(ctx.foreign_keys[name], "ACCESS EXCLUSIVE")
    if alter.is_enforced:
        facts.scan = True


def _partition(facts: _Facts, table: str, kind: Any, cmd: Any) -> None:
    """ATTACH / DETACH PARTITION: the partitioned table `table` and the partition."""
    partition = _rel(cmd.name)
    facts.lock(partition, "ACCESS EXCLUSIVE")
    if kind == AT.AT_AttachPartition:
        if facts.version < 120000:
            facts.lock(table, "ACCESS EXCLUSIVE")
            facts.note("before PostgreSQL 12, ATTACH PARTITION locks the parent ACCESS EXCLUSIVE")
        else:
            facts.lock(table, "SHARE UPDATE EXCLUSIVE")
        facts.scan = True  # the partition's rows are checked against the bound
        facts.note(
            f"{partition} is scanned to prove its rows fit the bound, unless a valid CHECK "
            "constraint already implies it; a DEFAULT partition is scanned and locked too"
        )
    elif kind == AT.AT_DetachPartitionFinalize or cmd.concurrent:
        facts.lock(table, "SHARE UPDATE EXCLUSIVE")
        if kind == AT.AT_DetachPartition:
            facts.transactional = False
            facts.note(
                "DETACH ... CONCURRENTLY runs two transactions and waits for every query that "
                f"uses {table} in between; if interrupted, finish it with DETACH ... FINALIZE"
            )
        _since(facts, 140000, "DETACH PARTITION ... CONCURRENTLY / FINALIZE")
    else:
        facts.lock(table, "ACCESS EXCLUSIVE")


def _drop_column(facts: _Facts, table: str, column: str) -> None:
    ctx = facts.table(table)
    if ctx is None:
        facts.note(
            f"no context for {table}: a foreign key that uses {column} is dropped with it and "
            "takes ACCESS EXCLUSIVE on its referenced table"
        )
        return
    for name, referenced in ctx.foreign_keys.items():
        columns = ctx.foreign_key_columns.get(name)
        if columns is None or column in columns:
            facts.lock(referenced, "ACCESS EXCLUSIVE")
            if columns is None:
                facts.note(f"columns of foreign key {name} unknown: assumed to use {column}")


def _cascade(facts: _Facts, table: str, behavior: Any) -> None:
    if behavior != DropBehavior.DROP_CASCADE:
        return
    ctx = facts.table(table)
    for referencing in sorted(ctx.referenced_by if ctx else ()):
        facts.lock(referencing, "ACCESS EXCLUSIVE")
    facts.note(
        f"CASCADE drops what depends on it (foreign keys in other tables, views) and locks "
        f"those tables ACCESS EXCLUSIVE{'' if ctx else f'; no context for {table}'}"
    )


# --- indexes -------------------------------------------------------------------------------

_CIC_BUG = (
    "PostgreSQL 14.0-14.3 can silently corrupt indexes built or rebuilt CONCURRENTLY: "
    "upgrade to 14.4 or later (then REINDEX such indexes)"
)


def _create_index(facts: _Facts, stmt: Any) -> None:
    table = _rel(stmt.relation)
    facts.scan = True
    if stmt.concurrent:
        facts.lock_target(table, "SHARE UPDATE EXCLUSIVE")
        facts.transactional = False
        facts.note(
            "CONCURRENTLY waits for transactions that use the table; a failed build leaves an "
            "INVALID index to drop before retrying"
        )
        if 140000 <= facts.version < 140004:
            facts.note(_CIC_BUG)
    else:
        facts.lock_target(table, "SHARE")


def _reindex(facts: _Facts, stmt: Any) -> None:
    concurrent = any(
        isinstance(p, ast.DefElem) and p.defname == "concurrently" for p in stmt.params or ()
    )
    facts.scan = True
    if stmt.relation is None:  # REINDEX SCHEMA / DATABASE / SYSTEM
        _unknown(facts, stmt, "REINDEX of a schema or database")
        return
    name = _rel(stmt.relation)
    table: str | None = name
    if stmt.kind == ReindexObjectType.REINDEX_OBJECT_INDEX:
        table = _index_table(facts, name)
    if concurrent:
        facts.transactional = False
        _since(facts, 120000, "REINDEX ... CONCURRENTLY")
        if 140000 <= facts.version < 140004:
            facts.note(_CIC_BUG)
    mode: LockMode = "SHARE UPDATE EXCLUSIVE" if concurrent else "SHARE"
    if table is None:
        facts.lock_target(name, "ACCESS EXCLUSIVE")
        facts.note(f"table of index {name} unknown (no context lists it): the table gets {mode}")
        return
    facts.lock_target(table, mode)
    if not concurrent:
        if stmt.kind == ReindexObjectType.REINDEX_OBJECT_INDEX:
            facts.lock(name, "ACCESS EXCLUSIVE")
        facts.note(
            f"the rebuilt indexes are locked ACCESS EXCLUSIVE: queries that plan over {table} "
            "wait too; REINDEX ... CONCURRENTLY does not block them"
        )


def _grant(facts: _Facts, stmt: Any) -> None:
    """GRANT / REVOKE on tables: catalog rows only up to 15; PostgreSQL 18 (observed) opens
    the table with ACCESS SHARE. 16 and 17 are not observed here: assumed like 18, the
    stronger of the two."""
    if (
        facts.version < 160000
        or stmt.objtype != ObjectType.OBJECT_TABLE
        or stmt.targtype != GrantTargetType.ACL_TARGET_OBJECT
    ):
        return
    for obj in stmt.objects or ():
        # a view of another schema (a version schema) is no table of the application's
        if isinstance(obj, ast.RangeVar) and obj.schemaname in (None, "public"):
            facts.lock(_rel(obj), "ACCESS SHARE")
    if facts.version < 180000:
        facts.note("GRANT/REVOKE on 16 and 17 is assumed to lock like 18 (ACCESS SHARE)")


def _index_table(facts: _Facts, index: str) -> str | None:
    for table, ctx in facts.context.items():
        if index in ctx.indexes:
            return table
    return None


def _drop_index(facts: _Facts, stmt: Any) -> None:
    mode: LockMode = "SHARE UPDATE EXCLUSIVE" if stmt.concurrent else "ACCESS EXCLUSIVE"
    if stmt.concurrent:
        facts.transactional = False
    for names in stmt.objects or ():
        index = _strings(names)[-1]
        table = _index_table(facts, index)
        if table is None:
            # without the table, the index's own lock is all we can name
            facts.lock_target(index, "ACCESS EXCLUSIVE")
            facts.note(
                f"table of index {index} unknown (no context lists it): the table gets {mode} too"
            )
        else:
            facts.lock_target(table, mode)
    _cascade_unknown(facts, stmt)


def _cascade_unknown(facts: _Facts, stmt: Any) -> None:
    if stmt.behavior == DropBehavior.DROP_CASCADE:
        facts.note("CASCADE drops whatever depends on it, locking those objects too")


# --- DROP ----------------------------------------------------------------------------------


def _drop(facts: _Facts, stmt: Any) -> None:
    kind = stmt.removeType
    objects = [_strings(names) for names in stmt.objects or ()]
    if kind == ObjectType.OBJECT_INDEX:
        _drop_index(facts, stmt)
    elif kind == ObjectType.OBJECT_TABLE:
        for names in objects:
            table = names[-1]
            facts.lock_target(table, "ACCESS EXCLUSIVE")
            ctx = facts.table(table)
            if ctx is None:
                facts.note(
                    f"no context for {table}: the tables its foreign keys reference are "
                    "locked ACCESS EXCLUSIVE too"
                )
                continue
            for referenced in ctx.foreign_keys.values():
                facts.lock(referenced, "ACCESS EXCLUSIVE")
            if stmt.behavior == DropBehavior.DROP_CASCADE:
                for referencing in ctx.referenced_by:
                    facts.lock(referencing, "ACCESS EXCLUSIVE")
        _cascade_unknown(facts, stmt)
    elif kind in (ObjectType.OBJECT_POLICY, ObjectType.OBJECT_TRIGGER, ObjectType.OBJECT_RULE):
        for names in objects:
            facts.lock_target(names[-2], "ACCESS EXCLUSIVE")
    elif kind in (ObjectType.OBJECT_VIEW, ObjectType.OBJECT_MATVIEW, ObjectType.OBJECT_SEQUENCE):
        for names in objects:
            if _in_public(names):  # a view of another schema is no table of the application's
                facts.lock_target(names[-1], "ACCESS EXCLUSIVE")
        _cascade_unknown(facts, stmt)
    elif kind == ObjectType.OBJECT_SCHEMA:
        if stmt.behavior == DropBehavior.DROP_CASCADE:
            facts.note("DROP SCHEMA ... CASCADE drops what is in it, locking those objects")
    elif kind in (ObjectType.OBJECT_TYPE, ObjectType.OBJECT_DOMAIN, ObjectType.OBJECT_FUNCTION):
        if stmt.behavior == DropBehavior.DROP_CASCADE:
            facts.note("CASCADE drops the columns that use it: those tables get ACCESS EXCLUSIVE")
    else:
        _unknown(facts, stmt, f"DROP {kind.name.removeprefix('OBJECT_')}")


# --- other statements ----------------------------------------------------------------------


def _rename(facts: _Facts, stmt: Any) -> None:
    kind = stmt.renameType
    if kind in (
        ObjectType.OBJECT_TABLE,
        ObjectType.OBJECT_COLUMN,
        ObjectType.OBJECT_TABCONSTRAINT,
        ObjectType.OBJECT_POLICY,
        ObjectType.OBJECT_TRIGGER,
    ):
        facts.lock_target(_rel(stmt.relation), "ACCESS EXCLUSIVE")
    elif kind == ObjectType.OBJECT_INDEX:
        facts.lock_target(_rel(stmt.relation), "SHARE UPDATE EXCLUSIVE")
    elif kind in (ObjectType.OBJECT_TYPE, ObjectType.OBJECT_DOMAIN, ObjectType.OBJECT_FUNCTION):
        pass  # catalog rows only; no table lock
    else:
        _unknown(facts, stmt, f"RENAME {kind.name.removeprefix('OBJECT_')}")


def _policy(facts: _Facts, stmt: Any) -> None:
    facts.lock_target(_rel(stmt.table), "ACCESS EXCLUSIVE")


def _trigger(facts: _Facts, stmt: Any) -> None:
    facts.lock_target(_rel(stmt.relation), "SHARE ROW EXCLUSIVE")


def _comment(facts: _Facts, stmt: Any) -> None:
    kind = stmt.objtype
    names = _strings(stmt.object) if isinstance(stmt.object, tuple | list) else []
    if kind in (
        ObjectType.OBJECT_TABLE,
        ObjectType.OBJECT_INDEX,
        ObjectType.OBJECT_VIEW,
        ObjectType.OBJECT_MATVIEW,
        ObjectType.OBJECT_SEQUENCE,
    ):
        facts.lock_target(names[-1], "SHARE UPDATE EXCLUSIVE")
    elif kind == ObjectType.OBJECT_COLUMN:
        facts.lock_target(names[-2], "SHARE UPDATE EXCLUSIVE")
    elif kind in (
        ObjectType.OBJECT_TABCONSTRAINT,
        ObjectType.OBJECT_POLICY,
        ObjectType.OBJECT_TRIGGER,
        ObjectType.OBJECT_RULE,
    ):
        # objects that live on a table: the table is only opened to find them
        facts.lock_target(names[-2], "ACCESS SHARE")
    # comments on types, functions, schemas... lock no table


def _in_public(names: list[str]) -> bool:
    return len(names) < 2 or names[-2] == "public"


def _view(facts: _Facts, stmt: ast.ViewStmt) -> None:
    """CREATE VIEW reads the tables of its query (ACCESS SHARE, while it is analysed); the
    view itself is locked ACCESS EXCLUSIVE, which is reported only for a view in public."""
    view = stmt.view
    if view is not None and view.relname and view.schemaname in (None, "public"):
        facts.lock_target(view.relname, "ACCESS EXCLUSIVE")
    for relation in _named_relations(stmt.query):
        facts.lock(relation, "ACCESS SHARE")


def _alter_sequence(facts: _Facts, stmt: ast.AlterSeqStmt) -> None:
    """ALTER SEQUENCE ... OWNED BY t.c opens the owning table (ACCESS SHARE); the sequence's
    own lock is no table's."""
    for opt in stmt.options or ():
        if isinstance(opt, ast.DefElem) and opt.defname == "owned_by":
            names = _strings(opt.arg)
            if len(names) >= 2:
                facts.lock(names[-2], "ACCESS SHARE")


def _select(facts: _Facts, stmt: ast.SelectStmt) -> None:
    """A query (a probe step): ACCESS SHARE on what it reads."""
    for relation in _named_relations(stmt):
        facts.lock(relation, "ACCESS SHARE")


def _no_table_lock(facts: _Facts, stmt: Any) -> None:
    """CREATE TYPE/DOMAIN/EXTENSION, SET: catalog rows only, no relation lock."""


def _create_function(facts: _Facts, stmt: Any) -> None:
    """A LANGUAGE sql body is parsed and analysed at CREATE time (check_function_bodies), which
    opens the tables it reads: ACCESS SHARE. Other languages' bodies lock nothing then."""
    options = {opt.defname: opt.arg for opt in stmt.options or () if isinstance(opt, ast.DefElem)}
    language = options.get("language")
    if not (isinstance(language, ast.String) and language.sval == "sql"):
        return
    bodies: list[Any] = [stmt.sql_body] if stmt.sql_body is not None else []
    for text in _strings(options.get("as"))[:1]:
        try:
            bodies.extend(raw.stmt for raw in parse_sql(text))
        except ParseError:
            facts.note("the SQL function body does not parse: the tables it reads are unknown")
    for body in bodies:
        for relation in _named_relations(body):
            facts.lock(relation, "ACCESS SHARE")


def _create_schema(facts: _Facts, stmt: Any) -> None:
    if stmt.schemaElts:
        _unknown(facts, stmt, "CREATE SCHEMA with elements")


def _alter_enum(facts: _Facts, stmt: Any) -> None:
    if stmt.oldVal is not None:
        return  # RENAME VALUE
    if facts.version < 120000:
        facts.transactional = False
        facts.note("before PostgreSQL 12, ALTER TYPE ... ADD VALUE cannot run in a transaction")
    else:
        facts.note("the new enum value cannot be used until the transaction commits")


def _update(facts: _Facts, stmt: Any) -> None:
    table = _rel(stmt.relation)
    facts.lock_target(table, "ROW EXCLUSIVE")
    for relation in _named_relations(stmt):
        facts.lock(relation, "ACCESS SHARE")
    ctx = facts.table(table)
    if ctx is None:
        facts.note(
            f"no context for {table}: changing a foreign key column takes ROW SHARE on the "
            "referenced table"
        )
        return
    assigned = {t.name for t in stmt.targetList or () if isinstance(t, ast.ResTarget)}
    for name, referenced in ctx.foreign_keys.items():
        columns = ctx.foreign_key_columns.get(name)
        # the RI check runs SELECT ... FOR KEY SHARE on the referenced table
        if columns is None or assigned & columns:
            facts.lock(referenced, "ROW SHARE")
    if ctx.referenced_by:
        facts.note(
            f"changing key columns of {table} checks the referencing tables "
            f"({', '.join(sorted(ctx.referenced_by))}) and locks them"
        )


def _unknown(facts: _Facts, stmt: Any, what: str) -> None:
    relations = _named_relations(stmt)
    for relation in relations:
        facts.lock_target(relation, "ACCESS EXCLUSIVE")
    facts.rewrite = facts.scan = True
    facts.note(
        f"{what} is not a statement kind the classifier knows: assumed ACCESS EXCLUSIVE on "
        "every relation it names, with a rewrite"
    )


_HANDLERS: dict[type, Any] = {
    ast.CreateStmt: _create_table,
    ast.AlterTableStmt: _alter_table,
    ast.IndexStmt: _create_index,
    ast.DropStmt: _drop,
    ast.RenameStmt: _rename,
    ast.CreatePolicyStmt: _policy,
    ast.AlterPolicyStmt: _policy,
    ast.CreateTrigStmt: _trigger,
    ast.CommentStmt: _comment,
    ast.CreateEnumStmt: _no_table_lock,
    ast.CompositeTypeStmt: _no_table_lock,
    ast.CreateDomainStmt: _no_table_lock,
    ast.AlterEnumStmt: _alter_enum,
    ast.CreateFunctionStmt: _create_function,
    ast.CreateExtensionStmt: _no_table_lock,
    ast.CreateSchemaStmt: _create_schema,
    ast.GrantStmt: _grant,
    ast.ReindexStmt: _reindex,
    ast.VariableSetStmt: _no_table_lock,
    ast.UpdateStmt: _update,
    ast.ViewStmt: _view,
    ast.AlterSeqStmt: _alter_sequence,
    ast.SelectStmt: _select,
}
