"""`wesley introspect --dsn`: the Wesley SDL of an existing database."""

from __future__ import annotations

import json
import sys

import click

from wesley.api import introspect
from wesley.cli.common import global_options, output


@click.command("introspect")
@click.option("--dsn", required=True, help="The database to read (schema public).")
@click.option("--out", "out_path", help="Write the SDL to this file instead of stdout.")
@global_options
@click.pass_context
def introspect_cmd(ctx: click.Context, dsn: str, out_path: str | None) -> None:
    """Print the Wesley SDL (with @wes_* directives) of an existing database."""
    out = output(ctx)
    result = introspect(dsn, out_path)
    if out_path is None and not out.json_mode:
        sys.stdout.write(result.sdl)
    elif out_path is not None:
        out.info(f"wrote {out_path}: {result.tables} tables, {result.enums} enums")
    if result.scalars and not out.json_mode:
        lines = "\n".join(f"{s} = {json.dumps(sql)}" for s, sql in sorted(result.scalars.items()))
        out.log(f"add to wesley.toml:\n[scalars]\n{lines}")
    out.result(
        {
            "database": result.database,
            "sdl": result.sdl,
            "scalars": result.scalars,
            "tables": result.tables,
            "enums": result.enums,
            "path": result.path,
        }
    )
