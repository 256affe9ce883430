"""What an operation returns: step drafts. The builder adds lock facts (from the one
classifier), risk, ids and the plan hash."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wesley.ir import IR, PUBLIC, Column, Table
from wesley.plan.diff import Change
from wesley.plan.facts import Facts
from wesley.plan.models import Backfill, BehaviourChange, Phase
from wesley.sqltext import quote_ident, quote_literal

if TYPE_CHECKING:
    from wesley.plan.compat import Flight

# order of operations inside a phase: what others depend on comes first
RANK = {
    "ensure_helpers": 0,
    "check_cast": 0,
    "create_schema": 1,
    # a narrower type: proven to fit before anything else is installed
    "add_fit_check": 2,
    "validate_fit_check": 3,
    "create_enum": 1,
    "add_enum_value": 2,
    "create_table": 3,
    "add_column": 6,
    "set_default": 7,
    "create_index": 8,
    "drop_function": 7,  # an rpc function redefined: dropped just before it is created again
    "create_function": 8,
    "create_trigger": 9,
    "add_fk": 10,
    "add_check": 11,
    "comment": 12,
    "grant_function": 12,
    "backfill": 13,
    "validate_fk": 14,
    "validate_check": 15,
    "set_not_null": 20,
    "drop_not_null_check": 21,
    "alter_column_type": 22,
    "drop_not_null": 23,
    "drop_default": 24,
    "add_unique": 25,
    "drop_primary_key": 25,
    "set_primary_key": 26,
    "alter_policy": 29,
    "enable_rls": 27,
    "drop_policy": 28,
    "create_policy": 29,
    "grant": 32,
    "revoke": 38,
    "regrant": 39,
    "drop_constraint": 40,
    "drop_index": 41,
    "drop_column": 42,
    "drop_table": 43,
    "disable_rls": 44,
    "drop_enum": 45,
    "rename_enum": 46,
    # two versions live (wesley.plan.compat): the new version's views come last in the switch;
    # --complete swaps the shadow columns in, then renames, then drops the views
    "create_view": 30,
    "grant_view": 31,
    "move_sequence": 60,
    "swap_drop_fk": 61,
    "swap_column": 62,
    "rename_shadow": 63,
    "rename_shadow_object": 64,
    "drop_sync_trigger": 65,
    "drop_sync_function": 66,
    "rename_table": 70,
    "rename_column": 71,
    "rename_constraint": 72,
    "rename_index": 72,
    "rename_policy": 72,
    "retire_enum": 75,
    "drop_view": 90,
    "drop_schema": 91,
}
# the order of deploy --abort: the new version's way in first, then what keeps the two in
# sync, then the shadow columns
ABORT_RANK = {
    "drop_view": 1,
    "drop_trigger": 2,
    "drop_function": 3,
    "drop_constraint": 4,
    "drop_column": 5,
    "drop_schema": 7,
}


@dataclass(frozen=True)
class Draft:
    phase: Phase
    op: str
    sql: str
    guard: str
    why: str
    table: str | None = None
    column: str | None = None
    destructive: bool = False
    backfill: Backfill | None = None
    notes: tuple[str, ...] = ()
    risk: int = 0  # op-specific points (DESIGN §7 MRI); lock points are added by the builder
    # what the lock classifier cannot see in the statement (see wesley.plan.locks)
    valid_not_null: frozenset[str] = frozenset()
    # (SQL that takes the step's change back when it fails, SQL of the earlier step that
    # --resume must then run again): see models.Undo
    undo: tuple[str, str] | None = None
    undo_hint: str | None = None
    behaviour: BehaviourChange | None = None
    # foreign keys an earlier step of the plan dropped: the lock classifier leaves them out
    gone_fks: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Refused:
    """A destructive change: explained always, planned only with --allow-destructive."""

    change: str
    table: str
    column: str | None
    risk: str
    blocking: bool = False


@dataclass
class Context:
    old: IR
    new: IR
    allow_destructive: bool
    batch_size: int
    server_version: int = 150000
    facts: Facts = field(default_factory=Facts)
    refused: list[Refused] = field(default_factory=list)
    flight: Flight | None = None  # two versions live: see wesley.plan.compat

    def refuse(self, change: Change, risk: str) -> bool:
        """Record the refusal; True when the change may be planned anyway."""
        self.refused.append(Refused(change.kind, change.table, change.column, risk))
        return self.allow_destructive

    def block(self, change: Change, risk: str) -> None:
        """Record a change that cannot be planned, whatever the flags (see Refusal.blocking)."""
        self.refused.append(Refused(change.kind, change.table, change.column, risk, True))


Operation = Callable[[Change, Context], list[Draft]]


def lit(text: str) -> str:
    return quote_literal(text)


def rel(name: str) -> str:
    """`to_regclass` argument for a relation name (quoted the way SQL would need it)."""
    return f"to_regclass({lit(quote_ident(name))})"


def guard_relation(name: str) -> str:
    return f"SELECT {rel(name)} IS NOT NULL"


def guard_no_relation(name: str) -> str:
    return f"SELECT {rel(name)} IS NULL"


def guard_column(table: str, column: str, exists: bool = True) -> str:
    q = (
        f"EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = {rel(table)} "
        f"AND attname = {lit(column)} AND NOT attisdropped)"
    )
    return f"SELECT {q}" if exists else f"SELECT NOT {q}"


def guard_constraint(table: str, name: str, exists: bool = True) -> str:
    q = (
        f"EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = {rel(table)} "
        f"AND conname = {lit(name)})"
    )
    return f"SELECT {q}" if exists else f"SELECT NOT {q}"


def guard_validated(table: str, name: str) -> str:
    return (
        f"SELECT COALESCE((SELECT convalidated FROM pg_constraint WHERE conrelid = {rel(table)} "
        f"AND conname = {lit(name)}), false)"
    )


def guard_valid_index(name: str) -> str:
    return f"SELECT EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = {rel(name)} AND indisvalid)"


def guard_not_null(table: str, column: str) -> str:
    return (
        f"SELECT COALESCE((SELECT attnotnull FROM pg_attribute WHERE attrelid = {rel(table)} "
        f"AND attname = {lit(column)}), false)"
    )


def guard_policy(table: str, name: str, exists: bool = True) -> str:
    q = f"EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = {rel(table)} AND polname = {lit(name)})"
    return f"SELECT {q}" if exists else f"SELECT NOT {q}"


def guard_table_comment(table: str, text: str) -> str:
    return f"SELECT obj_description({rel(table)}, 'pg_class') IS NOT DISTINCT FROM {lit(text)}"


def guard_column_comment(table: str, column: str, text: str) -> str:
    return (
        f"SELECT COALESCE((SELECT col_description(attrelid, attnum) = {lit(text)} "
        f"FROM pg_attribute WHERE attrelid = {rel(table)} AND attname = {lit(column)}), false)"
    )


def guard_privileges(
    table: str, column: str | None, role: str, privileges: Sequence[str], held: bool
) -> str:
    """Done when the role holds every privilege (held) or none of them (not held) directly,
    as the table's (or the column's) ACL lists it; PUBLIC is grantee 0."""
    acl = (
        f"(SELECT attacl FROM pg_attribute WHERE attrelid = {rel(table)} AND attname = "
        f"{lit(column)} AND NOT attisdropped)"
        if column
        else f"(SELECT relacl FROM pg_class WHERE oid = {rel(table)})"
    )
    grantee = (
        "0"
        if role == PUBLIC
        else f"COALESCE((SELECT oid FROM pg_roles WHERE rolname = {lit(role)}), -1)"
    )
    privs = ", ".join(lit(p) for p in privileges)
    count = (
        f"(SELECT count(DISTINCT x.privilege_type) FROM aclexplode({acl}) x "
        f"WHERE x.grantee = {grantee} AND x.privilege_type IN ({privs}))"
    )
    return f"SELECT {count} = {len(privileges)}" if held else f"SELECT {count} = 0"


IDEMPOTENT = "SELECT false"  # the statement itself is idempotent: running it again is harmless


def table_of(ir: IR, name: str) -> Table:
    t = ir.table(name)
    assert t is not None, name
    return t


def column_of(table: Table, name: str) -> Column:
    c = table.column(name)
    assert c is not None, name
    return c
