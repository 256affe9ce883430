"""Operation `version_schema`: the new application version's way in while the old one still
runs (wesley.plan.compat).

expand    the version schema (USAGE to PUBLIC: the sync triggers recognise a new-version
          session by it in its search_path)
switch    one view per table the new version sees differently (a new name, a renamed column,
          a shadowed column), named and typed as the new schema says, over the physical table;
          simple views, so PostgreSQL writes through them (INSERT, UPDATE, DELETE, RETURNING)
          with the table's defaults, constraints and triggers; `security_invoker` (PostgreSQL
          >= 15), so the caller's privileges and the table's row-level security apply
contract  (deploy --complete) the enum types only old columns used go; last, the views and the
          schema: the same names then resolve to public, which now is the new schema
abort     (deploy --abort) the views and the schema
"""

from __future__ import annotations

from wesley.plan.compat import Flight, View
from wesley.plan.diff import Change
from wesley.plan.operations.base import IDEMPOTENT, Context, Draft, lit
from wesley.sqltext import quote_ident

INVOKER_SINCE = 150000


def _qualified(flight: Flight, name: str) -> str:
    return f"{quote_ident(flight.schema)}.{quote_ident(name)}"


def view_sql(flight: Flight, view: View, server_version: int) -> str:
    cols = ", ".join(
        quote_ident(src) if src == name else f"{quote_ident(src)} AS {quote_ident(name)}"
        for name, src in view.columns
    )
    options = " WITH (security_invoker = true)" if server_version >= INVOKER_SINCE else ""
    return (
        f"CREATE VIEW {_qualified(flight, view.name)}{options} AS SELECT {cols} "
        f"FROM public.{quote_ident(view.table)}"
    )


def version_schema(change: Change, ctx: Context) -> list[Draft]:
    flight = ctx.flight
    assert flight is not None
    schema = quote_ident(flight.schema)
    exists = f"SELECT to_regnamespace({lit(schema)}) IS NOT NULL"
    out = [
        Draft(
            "expand",
            "create_schema",
            f"CREATE SCHEMA IF NOT EXISTS {schema}",
            exists,
            f"the new version's schema {flight.schema}: its views, and the sync functions",
        ),
        Draft(
            "expand",
            "create_schema",
            f"GRANT USAGE ON SCHEMA {schema} TO PUBLIC",
            IDEMPOTENT,
            "every role may put it in its search_path (the views check the caller's own "
            "privileges on the tables)",
        ),
    ]
    invoker = ctx.server_version >= INVOKER_SINCE
    for view in flight.views:
        qualified = _qualified(flight, view.name)
        renamed = [f"{src} AS {name}" for name, src in view.columns if src != name]
        out.append(
            Draft(
                "switch",
                "create_view",
                view_sql(flight, view, ctx.server_version),
                f"SELECT to_regclass({lit(qualified)}) IS NOT NULL",
                f"the new version's {view.name} over {view.table}"
                + (f" ({', '.join(renamed)})" if renamed else ""),
                table=view.table,
                notes=()
                if invoker
                else (
                    "PostgreSQL < 15 has no security_invoker: the view runs with its owner's "
                    "privileges; grant access to it yourself",
                ),
            )
        )
        if invoker:
            out.append(
                Draft(
                    "switch",
                    "grant_view",
                    f"GRANT SELECT, INSERT, UPDATE, DELETE ON {qualified} TO PUBLIC",
                    IDEMPOTENT,
                    f"{view.name}: the caller's privileges on {view.table} still decide",
                )
            )
    for e in flight.retired_enums:
        out.append(
            Draft(
                "contract",
                "retire_enum",
                f"DROP TYPE IF EXISTS {quote_ident(e.name)}",
                f"SELECT to_regtype({lit(quote_ident(e.name))}) IS NULL",
                f"enum {e.name}: the columns that used it have their new type now",
            )
        )
    for view in flight.views:
        qualified = _qualified(flight, view.name)
        drop = Draft(
            "contract",
            "drop_view",
            f"DROP VIEW IF EXISTS {qualified}",
            f"SELECT to_regclass({lit(qualified)}) IS NULL",
            f"{view.name} is a table of public by that name now: the new version's sessions "
            "resolve to it",
        )
        out += [drop, _abort(drop, f"the new version's {view.name} goes")]
    drop_schema = Draft(
        "contract",
        "drop_schema",
        f"DROP SCHEMA IF EXISTS {schema}",
        f"SELECT to_regnamespace({lit(schema)}) IS NULL",
        f"{flight.schema} is empty: public is the new schema",
    )
    out += [drop_schema, _abort(drop_schema, f"{flight.schema} goes")]
    return out


def _abort(draft: Draft, why: str) -> Draft:
    from dataclasses import replace

    return replace(draft, phase="abort", why=why)
