"""One module per kind of change; this table maps a change kind to its operation. Adding an
operation is one new function and one line here."""

from __future__ import annotations

from wesley.plan.operations import columns, constraints, enums, indexes, rls, tables
from wesley.plan.operations.base import Context, Draft, Operation, Refused

# add_column and alter_column_type need a lock fact first (volatile default, rewrite): the
# builder asks the classifier and calls them itself.
OPERATIONS: dict[str, Operation] = {
    "create_enum": enums.create_enum,
    "add_enum_value": enums.add_enum_value,
    "drop_enum": enums.drop_enum,
    "drop_enum_value": enums.drop_enum_value,
    "create_table": tables.create_table,
    "drop_table": tables.drop_table,
    "rename_table": tables.rename_table,
    "drop_column": columns.drop_column,
    "rename_column": columns.rename_column,
    "set_not_null": columns.set_not_null,
    "drop_not_null": columns.drop_not_null,
    "set_default": columns.set_default,
    "drop_default": columns.drop_default,
    "set_column_comment": columns.set_column_comment,
    "set_table_comment": columns.set_table_comment,
    "add_index": indexes.add_index,
    "drop_index": indexes.drop_index,
    "add_unique": constraints.add_unique,
    "drop_unique": constraints.drop_unique,
    "add_fk": constraints.add_fk,
    "drop_fk": constraints.drop_fk,
    "add_check": constraints.add_check,
    "drop_check": constraints.drop_check,
    "set_primary_key": constraints.set_primary_key,
    "enable_rls": rls.enable_rls,
    "add_policy": rls.add_policy,
    "drop_policy": rls.drop_policy,
    "disable_rls": rls.disable_rls,
    "alter_policy": rls.alter_policy,
    "rename_policy": rls.rename_policy,
    "rename_constraint": constraints.rename_constraint,
    "rename_index": constraints.rename_index,
}

__all__ = ["OPERATIONS", "Context", "Draft", "Refused"]
