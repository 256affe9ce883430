"""pgTAP tests of the `@wes_rpc` functions (part of `tests.sql`): each function exists and is
SECURITY INVOKER; then a row goes through create → get → update → list → delete. On a tenant
(or owner) table this runs as the unprivileged probe role, as tenant A, and tenant B's calls
must neither see, change nor delete A's row: row-level security applies through the
functions."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from wesley.ir import IR, Column, Function, Table
from wesley.samples import Infeasible, RowPlan, sample_literal
from wesley.sqltext import column_type, quote_ident, quote_literal

if TYPE_CHECKING:
    from wesley.targets.pgtap import Suite

RPC_SALT = 1_200_000  # rows of these tests live in their own number range (rule probes: 800_000+)
PROBE_ROLE = "wesley_rls_probe"
UNKNOWN_FIELD = "wesleyNoSuchField"
EMPTY = "'{}'::jsonb"


def arg_types(f: Function) -> list[str]:
    """The argument types of `identity` (`id uuid, patch jsonb` → uuid, jsonb)."""
    return [part.split(" ", 1)[1] for part in f.identity.split(", ")] if f.identity else []


def _typed(col: Column, literal: str) -> str:
    return f"{literal}::{column_type(col)}"


def _object(pairs: list[tuple[Column, str]]) -> str:
    """jsonb with GraphQL keys; chunks of 40 pairs stay under the 100 arguments a function
    call may have."""
    if not pairs:
        return "'{}'::jsonb"
    chunks = [pairs[i : i + 40] for i in range(0, len(pairs), 40)]
    return " || ".join(
        "jsonb_build_object("
        + ", ".join(f"{quote_literal(c.field)}, {_typed(c, v)}" for c, v in chunk)
        + ")"
        for chunk in chunks
    )


def _scope(table: Table) -> tuple[str, str] | None:
    """(session setting, column) that separates the two callers, if row-level security does."""
    if not (table.rls and table.rls.enabled):
        return None
    if table.tenant_by:
        return "app.tenant_id", table.tenant_by
    if table.owner:
        return "app.user_id", table.owner.column
    return None


def rpc_suite(s: Suite, table: Table, functions: list[Function], ir: IR) -> None:
    by_kind: dict[str, Function] = {f.kind: f for f in functions}
    t = table.name
    for f in functions:
        with s.b.block(f.uid):
            types = "ARRAY[" + ", ".join(quote_literal(a) for a in arg_types(f)) + "]::name[]"
            s.test(
                f"has_function('public'::name, {quote_literal(f.name)}::name, {types}, "
                f"{quote_literal(f'{f.name} exists')})"
            )
            s.test(
                f"isnt_definer('public'::name, {quote_literal(f.name)}::name, {types}, "
                f"{quote_literal(f'{f.name} is SECURITY INVOKER (row-level security applies)')})"
            )
    scope = _scope(table)
    rows = RowPlan(ir, salt=RPC_SALT)
    scope_col = table.column(scope[1]) if scope else None
    a = b = None
    if scope_col is not None:
        a = sample_literal(t, scope_col, ir, 910001)
        b = sample_literal(t, scope_col, ir, 910002)
    try:
        fixed = {scope_col.name: a} if scope_col is not None and a is not None else {}
        values = rows.row(table, fixed, tenant=a if table.tenant_by else None)
    except Infeasible as why:
        s.count += 1
        s.b.line(f"SELECT skip({quote_literal(f'RPC calls on {t}: {why}')}, 1);")
        return
    parents, own = rows.inserts[:-1], rows.inserts[-1]
    label = f"RPC {t}:"
    pk = [c for c in table.columns if c.name in table.primary_key]
    key_args = ", ".join(_typed(c, values[c.name]) for c in pk)

    def call(kind: str, *args: str) -> str:
        return f"public.{quote_ident(by_kind[kind].name)}({', '.join(a for a in args if a)})"

    def scope_to(value: str | None) -> None:
        if scope is not None and value is not None:
            s.b.line(f"SET LOCAL {scope[0]} = {value};")

    with s.b.block(by_kind[next(iter(by_kind))].uid):
        s.b.line(f"-- {label} create, get, update, list, delete through the functions")
        setup = "; ".join(
            [*([f"SET LOCAL {scope[0]} = {a}"] if scope else [])]
            + parents
            + ([] if "create" in by_kind else [own])
        )
        s.test(
            f"lives_ok({quote_literal(setup or 'SELECT 1')}, {quote_literal(f'{label} set-up')})"
        )
        if scope is not None:
            s.b.line(f"GRANT USAGE ON SCHEMA public, wesley TO {PROBE_ROLE};")
            s.b.line(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {quote_ident(t)} TO {PROBE_ROLE};")
            for f in functions:
                s.b.line(
                    f"GRANT EXECUTE ON FUNCTION public.{quote_ident(f.name)}({f.identity}) "
                    f"TO {PROBE_ROLE};"
                )
            s.b.line(f"SET LOCAL ROLE {PROBE_ROLE};")
            scope_to(a)
        if "create" in by_kind:
            given = [
                (c, values[c.name])
                for c in table.columns
                if c.name in values
                and not c.no_rpc
                and not c.read_only
                and (scope is None or c.name != scope[1])
            ]
            s.test(
                f"isnt({call('create', _object(given))}, NULL, "
                f"{quote_literal(f'{label} create_{t} returns the new row')})"
            )
            bad = call("create", quote_literal(json.dumps({UNKNOWN_FIELD: 1})) + "::jsonb")
            s.test(
                f"throws_ok({quote_literal('SELECT ' + bad)}, '22023', NULL, "
                f"{quote_literal(f'{label} create_{t} rejects an unknown field')})"
            )
        if not pk:
            if "list" in by_kind:
                s.test(
                    f"ok((SELECT count(*) FROM {call('list', EMPTY)}) > 0, "
                    f"{quote_literal(f'{label} list_{t} lists rows')})"
                )
            if scope is not None:
                s.b.line("RESET ROLE;")
            return
        first = pk[0]
        if "get" in by_kind:
            s.test(
                f"is({call('get', key_args)} -> {quote_literal(first.field)}, "
                f"to_jsonb({_typed(first, values[first.name])}), "
                f"{quote_literal(f'{label} get_{t} finds the row')})"
            )
        target = next(
            (
                c
                for c in table.columns
                if c.name not in table.primary_key
                and not c.no_rpc
                and not c.read_only
                and (scope is None or c.name != scope[1])
                and not c.enum
                and not c.array
                and c.name not in {col for fk in table.foreign_keys for col in fk.columns}
            ),
            None,
        )
        patch = "'{}'::jsonb"
        if "update" in by_kind and target is not None:
            new_value = sample_literal(t, target, ir, RPC_SALT + 99)
            patch = _object([(target, new_value)])
            s.test(
                f"is({call('update', key_args, patch)} -> {quote_literal(target.field)}, "
                f"to_jsonb({_typed(target, new_value)}), "
                f"{quote_literal(f'{label} update_{t} changes {target.field}')})"
            )
        key_filter = _object([(c, values[c.name]) for c in pk if not c.no_rpc])
        if "list" in by_kind:
            s.test(
                f"is((SELECT count(*)::int FROM {call('list', key_filter)}), 1, "
                f"{quote_literal(f'{label} list_{t} filters by field')})"
            )
        if scope is not None:
            scope_to(b)
            other = "another tenant" if table.tenant_by else "another user"
            if "get" in by_kind:
                s.test(
                    f"is({call('get', key_args)}, NULL, "
                    f"{quote_literal(f'{label} {other} cannot get the row')})"
                )
            if "update" in by_kind:
                s.test(
                    f"is({call('update', key_args, patch)}, NULL, "
                    f"{quote_literal(f'{label} {other} cannot update the row')})"
                )
            if "list" in by_kind:
                s.test(
                    f"is((SELECT count(*)::int FROM {call('list', key_filter)}), 0, "
                    f"{quote_literal(f'{label} {other} does not list the row')})"
                )
            if "delete" in by_kind:
                s.test(
                    f"is({call('delete', key_args)}, false, "
                    f"{quote_literal(f'{label} {other} cannot delete the row')})"
                )
            scope_to(a)
        if "delete" in by_kind:
            s.test(
                f"is({call('delete', key_args)}, true, "
                f"{quote_literal(f'{label} delete_{t} deletes the row')})"
            )
            if "get" in by_kind:
                s.test(
                    f"is({call('get', key_args)}, NULL, "
                    f"{quote_literal(f'{label} the deleted row is gone')})"
                )
        if scope is not None:
            s.b.line("RESET ROLE;")
