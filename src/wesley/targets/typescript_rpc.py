"""The `@wes_rpc` part of `types.ts`: per table its JSON row (`<Type>RpcRow`), the input of
`create_` (`<Type>RpcInput`) and the patch of `update_` (`<Type>RpcPatch`), keyed by field
names like the functions' jsonb; and `RpcFunctions`, every function's named arguments and
result, in the `{ Args; Returns }` shape Supabase's generated types use.

The rows are JSON (`to_jsonb`): bigint and numeric come back as JSON numbers (not the strings
the drivers give for columns), and are accepted as numbers or strings."""

from __future__ import annotations

from wesley.ir import IR, Column, Function, Table
from wesley.targets.base import TextBuilder


def _scalar_ts(ir: IR, col: Column, output: bool) -> str:
    from wesley.targets.typescript import Scalar, scalar_of, ts_type

    if scalar_of(col) in (Scalar.BIGINT, Scalar.NUMERIC):
        base = "number" if output else "number | string"
        return f"({base})[]" if col.array else base
    return ts_type(ir, col)


def _auto(table: Table, col: Column) -> bool:
    """Filled from the session when left out: the tenant or owner column."""
    return col.name == table.tenant_by or (
        table.owner is not None and col.name == table.owner.column
    )


def _interface(b: TextBuilder, name: str, doc: str, props: list[tuple[Column, str, str]]) -> None:
    from wesley.targets.typescript import column_doc, doc_comment, property_key

    b.line()
    b.line(doc_comment(doc))
    b.line(f"export interface {name} {{")
    for col, optional, type_text in props:
        with b.block(col.uid):
            b.line("  " + column_doc(col))
            b.line(f"  {property_key(col.field)}{optional}: {type_text};")
    b.line("}")


def _arg_name(part: str) -> str:
    name = part.split(" ", 1)[0]
    return name[1:-1].replace('""', '"') if name.startswith('"') else name


def _args(ir: IR, table: Table, f: Function) -> str:
    from wesley.targets.typescript import property_key

    n = table.type_name
    out: list[str] = []
    for part in f.identity.split(", ") if f.identity else []:
        name = _arg_name(part)
        col = table.column(name)
        if col is not None and name in table.primary_key:
            out.append(f"{property_key(name)}: {_scalar_ts(ir, col, False)}")
        elif f.kind == "create":
            out.append(f"{property_key(name)}: {n}RpcInput")
        elif f.kind == "update":
            out.append(f"{property_key(name)}: {n}RpcPatch")
        elif name in ("limit", "offset"):
            out.append(f"{name}?: number")
        else:
            out.append(f"{property_key(name)}?: Partial<{n}RpcRow>")
    return "{ " + "; ".join(out) + " }" if out else "Record<string, never>"


_RETURNS = {
    "create": "{}RpcRow",
    "get": "{}RpcRow | null",
    "update": "{}RpcRow | null",
    "delete": "boolean",
    "list": "{}RpcRow[]",
}


def rpc_types(b: TextBuilder, ir: IR) -> None:
    from wesley.targets.typescript import is_optional_on_insert

    for table in ir.tables:
        functions = [f for f in ir.functions if f.table == table.name]
        if not functions:
            continue
        cols = [c for c in table.columns if not c.no_rpc]
        n = table.type_name

        def null(c: Column) -> str:
            return " | null" if c.nullable else ""

        with b.block(table.uid):
            _interface(
                b,
                f"{n}RpcRow",
                f"a row of {table.name} as its @wes_rpc functions return it",
                [(c, "", _scalar_ts(ir, c, True) + null(c)) for c in cols],
            )
            _interface(
                b,
                f"{n}RpcInput",
                f"input of create_{table.name}: fields with a default, nullable, or taken "
                "from the session (tenant, owner) may be left out; generated and computed "
                "ones are not accepted",
                [
                    (
                        c,
                        "?" if is_optional_on_insert(c) or _auto(table, c) else "",
                        _scalar_ts(ir, c, False) + null(c),
                    )
                    for c in cols
                    if not c.read_only
                ],
            )
            if not any(f.kind == "update" for f in functions):
                continue
            _interface(
                b,
                f"{n}RpcPatch",
                f"patch of update_{table.name}: any subset of the fields but the key and "
                "the generated and computed ones",
                [
                    (c, "?", _scalar_ts(ir, c, False) + null(c))
                    for c in cols
                    if c.name not in table.primary_key and not c.read_only
                ],
            )
    b.line()
    b.line("/** The @wes_rpc functions: named arguments and result, per function. */")
    b.line("export interface RpcFunctions {")
    for f in ir.functions:
        owner = ir.table(f.table)
        assert owner is not None
        returns = _RETURNS[f.kind].format(owner.type_name)
        with b.block(f.uid):
            b.line(f"  {f.name}: {{ Args: {_args(ir, owner, f)}; Returns: {returns} }};")
    b.line("}")
