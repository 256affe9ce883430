"""A GraphQL field → an IR column: type mapping (DESIGN §2) and defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import GraphQLSchema
from graphql.language import FieldDefinitionNode, ListTypeNode, NamedTypeNode, NonNullTypeNode
from graphql.type import GraphQLEnumType, GraphQLScalarType

from wesley.errors import Diagnostic, Location, input_error
from wesley.ir import Default
from wesley.sdl.expressions import ExprKind, is_function_call, normalize_expression
from wesley.sdl.literals import json_literal, type_kind, typed_literal
from wesley.sdl.registry import BUILTIN_SCALARS
from wesley.sqltext import quote_literal


@dataclass(frozen=True)
class FieldType:
    named: str  # the GraphQL named type, e.g. "String"
    nullable: bool  # outer nullability
    array: bool

    @property
    def graphql(self) -> str:
        inner = f"[{self.named}]" if self.array else self.named
        return inner if self.nullable else inner + "!"


def field_type(node: FieldDefinitionNode, where: Location | None) -> FieldType:
    t = node.type
    nullable = not isinstance(t, NonNullTypeNode)
    if isinstance(t, NonNullTypeNode):
        t = t.type
    array = isinstance(t, ListTypeNode)
    if isinstance(t, ListTypeNode):
        t = t.type
        if isinstance(t, NonNullTypeNode):
            t = t.type
    if not isinstance(t, NamedTypeNode):
        raise input_error(
            "UNSUPPORTED_TYPE",
            f"field {node.name.value!r} is a list of lists, which has no column type",
            "use JSON for nested data, or a separate table",
            where,
        )
    return FieldType(t.name.value, nullable, array)


@dataclass(frozen=True)
class SqlType:
    sql: str  # without [] for arrays
    enum: str | None = None


def sql_type(
    ft: FieldType,
    schema: GraphQLSchema,
    enum_names: dict[str, str],
    scalars: dict[str, str],
    where: Location | None,
) -> SqlType:
    named = schema.get_type(ft.named)
    if isinstance(named, GraphQLEnumType):
        return SqlType(enum_names[ft.named], enum_names[ft.named])
    if isinstance(named, GraphQLScalarType):
        mapped = scalars.get(ft.named) or BUILTIN_SCALARS.get(ft.named)
        if mapped:
            return SqlType(mapped)
    raise input_error(
        "UNMAPPED_TYPE",
        f"type {ft.named!r} has no PostgreSQL mapping",
        f'map it in wesley.toml, e.g. [scalars] {ft.named} = "text", or use a built-in: '
        + ", ".join(BUILTIN_SCALARS),
        where,
    )


# types whose upstream `value: "now()"`-style defaults mean the function, not a string
_CALLABLE_DEFAULT_TYPES = {"timestamptz", "timestamp", "date", "time", "timetz", "uuid"}
_NUMBER_KINDS = {"int", "float", "real", "numeric"}


def literal_default(
    value: Any,
    column_type: SqlType,
    array: bool,
    enum_values: list[str] | None,
    where: Location | None,
    what: str,
    warnings: list[Diagnostic],
) -> Default:
    """`@wes_default(value:)`: typed by the column (`"3"` on an integer is 3, see
    `wesley.sdl.literals`), INVALID_DEFAULT when it is no value of that type.

    Upstream wrote `value: "now()"` for timestamps; a string that parses as a bare function
    call on a non-text column is taken as that expression, with a warning to write `expr:`.
    """
    sql = column_type.sql
    bad = input_error(
        "INVALID_DEFAULT",
        f"{what}: default {value!r} does not fit type {sql}{'[]' if array else ''}",
        "give a value of the column's type, or write an SQL expression with expr:",
        where,
    )
    if value is None:
        return Default(kind="literal", sql="NULL")
    if array:
        raise input_error(
            "INVALID_DEFAULT",
            f"{what}: a literal default for an array column is not supported",
            "write it as an expression, e.g. expr: \"ARRAY['a','b']\" or expr: \"'{}'\"",
            where,
        )
    kind = type_kind(sql)
    if kind == "jsonb" and not isinstance(value, str):
        try:
            return Default(kind="literal", sql=json_literal(value))
        except ValueError:
            raise bad from None
    if isinstance(value, bool):
        if kind != "bool":
            raise bad
        return Default(kind="literal", sql="true" if value else "false")
    if isinstance(value, int | float):
        if kind not in _NUMBER_KINDS or (isinstance(value, float) and kind == "int"):
            raise bad
        text = str(value) if isinstance(value, int) else repr(value)
    elif isinstance(value, str):
        text = value
    else:
        raise bad
    if (
        isinstance(value, str)
        and sql.split("(")[0] in _CALLABLE_DEFAULT_TYPES
        and is_function_call(value)
    ):
        warnings.append(
            Diagnostic(
                "W_DEFAULT_VALUE_IS_EXPR",
                f"{what}: value: {value!r} is read as the SQL expression {value}",
                where,
                f'write @wes_default(expr: "{value}") to say so',
            )
        )
        return Default(kind="expr", sql=normalize_expression(value, ExprKind.DEFAULT, where, what))
    if enum_values is not None and value not in enum_values:
        raise input_error(
            "INVALID_DEFAULT",
            f"{what}: default {value!r} is not a value of the enum",
            "one of: " + ", ".join(enum_values),
            where,
        )
    if enum_values is not None:
        return Default(kind="literal", sql=quote_literal(text))
    try:
        return Default(kind="literal", sql=typed_literal(text, sql))
    except (ValueError, TypeError) as exc:
        raise input_error(
            "INVALID_DEFAULT",
            f"{what}: default {value!r} is not a value of type {sql} ({exc})",
            _HINTS.get(kind, "give a value of the column's type, or an SQL expression with expr:"),
            where,
        ) from None


_HINTS = {
    "int": 'an integer in range, e.g. value: 3 or value: "3"',
    "float": 'a number, e.g. value: 1.5 or value: "1.5"',
    "real": "a number in single-precision range, e.g. value: 1.5",
    "numeric": 'a decimal number, e.g. value: "12.50"',
    "bool": "true or false",
    "uuid": 'a UUID, e.g. value: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"',
    "jsonb": 'JSON text, e.g. value: "[1, 2]", or a GraphQL object: value: {a: 1}',
    "timestamptz": 'an ISO 8601 timestamp with its offset, e.g. value: "2024-01-01T00:00:00Z", '
    'or expr: "now()" for the time of the insert',
    "timestamp": 'an ISO 8601 timestamp without offset, e.g. value: "2024-01-01T12:00:00"',
    "date": 'an ISO 8601 date, e.g. value: "2024-01-01", or expr: "CURRENT_DATE"',
    "time": 'an ISO 8601 time, e.g. value: "12:30:00"',
    "timetz": 'an ISO 8601 time with its offset, e.g. value: "12:30:00+02:00"',
    "inet": 'an IP address, e.g. value: "10.0.0.1" or "10.0.0.0/8"',
    "cidr": 'a network, e.g. value: "10.0.0.0/8"',
}
