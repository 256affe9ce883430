"""One module per kind of change; this table maps a change kind to its operation. Adding an
operation is one new file and one line here."""

from __future__ import annotations

from wesley.plan.operations.add_check import add_check
from wesley.plan.operations.add_column import add_column
from wesley.plan.operations.add_enum_value import add_enum_value
from wesley.plan.operations.add_fk import add_fk
from wesley.plan.operations.add_index import add_index
from wesley.plan.operations.add_policy import add_policy
from wesley.plan.operations.add_unique import add_unique
from wesley.plan.operations.alter_column_type import alter_column_type
from wesley.plan.operations.alter_generated import alter_generated
from wesley.plan.operations.alter_policy import alter_policy
from wesley.plan.operations.base import Context, Draft, Operation, Refused
from wesley.plan.operations.create_enum import create_enum
from wesley.plan.operations.create_function import create_function
from wesley.plan.operations.create_table import create_table
from wesley.plan.operations.disable_rls import disable_rls
from wesley.plan.operations.drop_check import drop_check
from wesley.plan.operations.drop_column import drop_column
from wesley.plan.operations.drop_default import drop_default
from wesley.plan.operations.drop_enum import drop_enum
from wesley.plan.operations.drop_enum_value import drop_enum_value
from wesley.plan.operations.drop_fk import drop_fk
from wesley.plan.operations.drop_function import drop_function
from wesley.plan.operations.drop_index import drop_index
from wesley.plan.operations.drop_not_null import drop_not_null
from wesley.plan.operations.drop_policy import drop_policy
from wesley.plan.operations.drop_table import drop_table
from wesley.plan.operations.drop_unique import drop_unique
from wesley.plan.operations.enable_rls import enable_rls
from wesley.plan.operations.grant import grant
from wesley.plan.operations.rename_column import rename_column
from wesley.plan.operations.rename_constraint import rename_constraint
from wesley.plan.operations.rename_index import rename_index
from wesley.plan.operations.rename_policy import rename_policy
from wesley.plan.operations.rename_table import rename_table
from wesley.plan.operations.replace_function import replace_function
from wesley.plan.operations.revoke import revoke
from wesley.plan.operations.set_column_comment import set_column_comment
from wesley.plan.operations.set_computed import set_computed
from wesley.plan.operations.set_default import set_default
from wesley.plan.operations.set_function_grants import set_function_grants
from wesley.plan.operations.set_not_null import set_not_null
from wesley.plan.operations.set_primary_key import set_primary_key
from wesley.plan.operations.set_table_comment import set_table_comment

# add_column and alter_column_type need a lock fact first (volatile default, rewrite): the
# builder asks the classifier and calls them itself.
OPERATIONS: dict[str, Operation] = {
    "create_enum": create_enum,
    "add_enum_value": add_enum_value,
    "drop_enum": drop_enum,
    "drop_enum_value": drop_enum_value,
    "create_table": create_table,
    "drop_table": drop_table,
    "rename_table": rename_table,
    "drop_column": drop_column,
    "rename_column": rename_column,
    "set_not_null": set_not_null,
    "drop_not_null": drop_not_null,
    "set_default": set_default,
    "drop_default": drop_default,
    "set_column_comment": set_column_comment,
    "set_table_comment": set_table_comment,
    "add_index": add_index,
    "drop_index": drop_index,
    "add_unique": add_unique,
    "drop_unique": drop_unique,
    "add_fk": add_fk,
    "drop_fk": drop_fk,
    "add_check": add_check,
    "drop_check": drop_check,
    "set_primary_key": set_primary_key,
    "enable_rls": enable_rls,
    "add_policy": add_policy,
    "drop_policy": drop_policy,
    "disable_rls": disable_rls,
    "alter_policy": alter_policy,
    "rename_policy": rename_policy,
    "rename_constraint": rename_constraint,
    "rename_index": rename_index,
    "alter_generated": alter_generated,
    "set_computed": set_computed,
    "grant": grant,
    "revoke": revoke,
    "create_function": create_function,
    "replace_function": replace_function,
    "drop_function": drop_function,
    "set_function_grants": set_function_grants,
}

__all__ = ["OPERATIONS", "Context", "Draft", "Refused", "add_column", "alter_column_type"]
