"""The `zod` target (DESIGN §4): `zod.ts`, runtime validators for the rows `types.ts` describes.

Per table a row schema, an insert schema (columns with a default or nullable are optional)
and an update schema (every column optional). `z.infer` of each is exactly the matching
interface of `types.ts`: both files take their scalar kinds from the same function, and the
tests check the equality with `tsc --strict` and parse good and bad rows under node.
"""

from __future__ import annotations

import json

from wesley.errors import ExitCode, WesleyError
from wesley.ir import IR, Column, Refinement, Table
from wesley.refinements import FORMAT_WORDS, FORMATS, bounds, numeric_kind
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
# a generated column in a write: PostgreSQL computes it, so the only value allowed is none
GENERATED = "z.undefined().optional()"

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
    calls = [_refine(column, scalar, r) for r in column.refinements]
    # zod 3's .refine() returns a wrapper without the string and number methods: those last
    base += "".join(sorted(calls, key=lambda call: call.startswith(".refine(")))
    typed = f"z.array({base})" if column.array else base
    return typed + ".nullable()" if column.nullable else typed


def _message(text: str) -> str:
    return json.dumps(text)


def _refine(column: Column, scalar: Scalar, r: Refinement) -> str:
    """The zod method calls of one refinement: the same test as its CHECK constraint (see
    wesley.refinements), written in what zod 3 and zod 4 both accept."""
    if r.kind in FORMATS or r.kind == "regex":
        pattern = FORMATS.get(r.kind) or r.pattern or ""
        what = FORMAT_WORDS.get(r.kind, f"matching {pattern}")
        return f".regex(new RegExp({json.dumps(pattern)}), {_message('must be ' + what)})"
    if numeric_kind(column) is not None:
        assert r.value is not None
        op, word = (">=", "at least") if r.kind == "min" else ("<=", "at most")
        message = _message(f"must be {word} {r.value}")
        if scalar in (Scalar.BIGINT, Scalar.NUMERIC):  # decimal strings: compared exactly
            return f".refine((v) => compareDecimal(v, {json.dumps(r.value)}) {op} 0, {message})"
        method = "gte" if r.kind == "min" else "lte"
        return f".{method}({r.value}, {message})"
    lo, hi = bounds(r)
    tests = []
    if lo is not None:
        tests.append(f"codePoints(v) >= {lo}")
    if hi is not None:
        tests.append(f"codePoints(v) <= {hi}")
    words = {(True, False): f"at least {lo}", (False, True): f"at most {hi}"}
    span = words.get((lo is not None, hi is not None), f"{lo} to {hi}")
    return f".refine((v) => {' && '.join(tests)}, {_message(f'must be {span} characters')})"


# Emitted only when a refinement needs them. PostgreSQL counts characters as code points
# (char_length), JavaScript's .length UTF-16 units; bigint and numeric arrive as strings.
_CODE_POINTS = (
    "/** Characters as PostgreSQL's char_length counts them (code points, not UTF-16 units). */",
    "const codePoints = (s: string): number => Array.from(s).length;",
)
_COMPARE_DECIMAL = (
    "/** Compares two decimal strings exactly (NaN when either is not one). */",
    "function compareDecimal(a: string, b: string): number {",
    "  const parse = (s: string): [number, string, string] | null => {",
    r"    const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(s);",
    "    if (m === null) return null;",
    '    const int = (m[2] ?? "").replace(/^0+/, "");',
    '    const frac = (m[3] ?? "").replace(/0+$/, "");',
    '    const sign = int === "" && frac === "" ? 0 : m[1] === "-" ? -1 : 1;',
    "    return [sign, int, frac];",
    "  };",
    "  const x = parse(a), y = parse(b);",
    "  if (x === null || y === null) return NaN;",
    "  if (x[0] !== y[0]) return x[0] < y[0] ? -1 : 1;",
    "  const width = Math.max(x[2].length, y[2].length);",
    '  const ka = x[1].padStart(64, "0") + x[2].padEnd(width, "0");',
    '  const kb = y[1].padStart(64, "0") + y[2].padEnd(width, "0");',
    "  const order = ka === kb ? 0 : ka < kb ? -1 : 1;",
    "  return x[0] < 0 ? -order : order;",
    "}",
)


def _helpers(ir: IR) -> list[str]:
    lines: list[str] = []
    cols = [c for t in ir.tables for c in t.columns]
    text = any(
        r.kind in ("min", "max", "length") and numeric_kind(c) is None
        for c in cols
        for r in c.refinements
    )
    decimal = any(scalar_of(c) in (Scalar.BIGINT, Scalar.NUMERIC) and c.refinements for c in cols)
    if text:
        lines += ["", *_CODE_POINTS]
    if decimal:
        lines += ["", *_COMPARE_DECIMAL]
    return lines


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
    for line in _helpers(ir):
        b.line(line)
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
                if c.generated:
                    b.line(f"  {property_key(c.field)}: {GENERATED},")
                else:
                    b.line(f"  {property_key(c.field)}: {zod_type(ir, c)}{optional},")
        b.line("});")
    b.line()
    with b.block(t.uid):
        b.line(table_doc(t, UPDATE_DOC.format(t.name)))
        generated = [c for c in t.columns if c.generated]
        if generated:
            b.line(f"export const {n}UpdateSchema = {n}Schema.partial().extend({{")
            for c in generated:
                b.line(f"  {property_key(c.field)}: {GENERATED},")
            b.line("});")
        else:
            b.line(f"export const {n}UpdateSchema = {n}Schema.partial();")
