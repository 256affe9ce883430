"""The `zod` target (DESIGN §4): `zod.ts`, runtime validators for the rows `types.ts` describes.

Per table a row schema, an insert schema (columns with a default or nullable are optional)
and an update schema (every column optional). `z.infer` of each is exactly the matching
interface of `types.ts`: both files take their scalar kinds from the same function, and the
tests check the equality with `tsc --strict` and parse good and bad rows under node.
"""

from __future__ import annotations

import json

from wesley.errors import ExitCode, WesleyError
from wesley.ir import IR, Column, Table
from wesley.targets.base import Artifact, TextBuilder
from wesley.targets.typescript import (
    HEADER,
    INSERT_DOC,
    JSON_VALUE,
    ROW_DOC,
    UPDATE_DOC,
    Scalar,
    check_names,
    column_doc,
    doc_comment,
    enum_of,
    is_optional_on_insert,
    property_key,
    scalar_of,
    table_doc,
)

JSON_SCHEMA = f"{JSON_VALUE}Schema"

_ZOD: dict[Scalar, str] = {
    # PostgreSQL's uuid accepts any 32 hex digits; zod 4's .uuid() wants RFC 9562 version and
    # variant bits and would reject ids the database holds, so one pattern for both majors
    Scalar.UUID: "z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    "[0-9a-fA-F]{12}$/)",
    Scalar.TEXT: "z.string()",
    # what PostgreSQL's JSON output and every ISO-8601 client send: always with an offset
    Scalar.TIMESTAMPTZ: "z.string().datetime({ offset: true })",
    Scalar.DATE: "z.string().date()",
    Scalar.TIME: "z.string().time()",
    # bounded like the column, so a value PostgreSQL would reject fails here first
    Scalar.INT16: "z.number().int().min(-32768).max(32767)",
    Scalar.INT32: "z.number().int().min(-2147483648).max(2147483647)",
    # bigint and numeric arrive as strings (see types.ts); check they are numbers all the same
    Scalar.BIGINT: "z.string().regex(/^-?\\d+$/)",
    Scalar.NUMERIC: "z.string().regex(/^-?\\d+(\\.\\d+)?$/)",
    Scalar.FLOAT: "z.number()",
    Scalar.BOOLEAN: "z.boolean()",
    Scalar.JSON: JSON_SCHEMA,
}


# Zod 3 reads `input[key]` for every key of the shape, so when an optional property with one of
# these names is left out it sees the inherited member (a function) and rejects a valid row.
# `__proto__` cannot even be written as a key of the shape object.
_OBJECT_MEMBERS = frozenset(
    {
        "constructor",
        "hasOwnProperty",
        "isPrototypeOf",
        "propertyIsEnumerable",
        "toLocaleString",
        "toString",
        "valueOf",
        "__proto__",
        "__defineGetter__",
        "__defineSetter__",
        "__lookupGetter__",
        "__lookupSetter__",
    }
)


def check_fields(ir: IR) -> None:
    for t in ir.tables:
        for c in t.columns:
            if c.field in _OBJECT_MEMBERS:
                raise WesleyError(
                    "ZOD_RESERVED_FIELD",
                    f"field {t.type_name}.{c.field} shadows a member of every JavaScript "
                    "object: its Zod schema would reject valid rows",
                    f"rename the GraphQL field; @wes_column(name: {json.dumps(c.name)}) keeps "
                    "the column's SQL name",
                    exit_code=ExitCode.GENERATION,
                )


def zod_type(ir: IR, column: Column) -> str:
    scalar = scalar_of(column)
    base = f"{enum_of(ir, column).type_name}Schema" if scalar is Scalar.ENUM else _ZOD[scalar]
    typed = f"z.array({base})" if column.array else base
    return typed + ".nullable()" if column.nullable else typed


def zod(ir: IR) -> list[Artifact]:
    check_names(ir)
    check_fields(ir)
    b = TextBuilder()
    b.line(HEADER)
    b.line('import { z } from "zod";')
    b.line(f'import type {{ {JSON_VALUE} }} from "./types";')
    b.line()
    b.line("/** Any JSON value: what a jsonb column holds. */")
    # recursive, so z.lazy; the annotation is what lets TypeScript type a recursive schema
    b.line(f"export const {JSON_SCHEMA}: z.ZodType<{JSON_VALUE}> = z.lazy(() =>")
    b.line("  z.union([")
    b.line("    z.string(),")
    b.line("    z.number(),")
    b.line("    z.boolean(),")
    b.line("    z.null(),")
    b.line(f"    z.array({JSON_SCHEMA}),")
    # the key schema is required by zod 4 and accepted by zod 3
    b.line(f"    z.record(z.string(), {JSON_SCHEMA}),")
    b.line("  ]),")
    b.line(");")
    for e in ir.enums:
        b.line()
        with b.block(e.uid):
            b.line(doc_comment(f"uid: {e.uid}", f"enum {e.name}"))
            values = ", ".join(json.dumps(v) for v in e.values)
            b.line(f"export const {e.type_name}Schema = z.enum([{values}]);")
    for t in ir.tables:
        _table(b, ir, t)
    return [b.artifact("zod.ts", "zod")]


def _table(b: TextBuilder, ir: IR, t: Table) -> None:
    n = t.type_name
    b.line()
    with b.block(t.uid):
        b.line(table_doc(t, ROW_DOC.format(t.name)))
        b.line(f"export const {n}Schema = z.object({{")
        for c in t.columns:
            with b.block(c.uid):
                b.line("  " + column_doc(c))
                b.line(f"  {property_key(c.field)}: {zod_type(ir, c)},")
        b.line("});")
        b.line(f"export type {n}Row = z.infer<typeof {n}Schema>;")
    b.line()
    with b.block(t.uid):
        b.line(table_doc(t, INSERT_DOC.format(t.name)))
        b.line(f"export const {n}InsertSchema = z.object({{")
        for c in t.columns:
            with b.block(c.uid):
                b.line("  " + column_doc(c))
                optional = ".optional()" if is_optional_on_insert(c) else ""
                b.line(f"  {property_key(c.field)}: {zod_type(ir, c)}{optional},")
        b.line("});")
    b.line()
    with b.block(t.uid):
        b.line(table_doc(t, UPDATE_DOC.format(t.name)))
        b.line(f"export const {n}UpdateSchema = {n}Schema.partial();")
