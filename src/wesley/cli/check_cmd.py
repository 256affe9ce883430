"""`wesley check`: pinned ORM files (Prisma, Drizzle) still match the schema."""

from __future__ import annotations

import click

from wesley.api import check
from wesley.cli.common import global_options, output


@click.command("check")
@click.argument("paths", nargs=-1, type=click.Path(dir_okay=False))
@click.option(
    "--schema", "schema_path", help="The SDL file, - for stdin (default: from wesley.toml)."
)
@global_options
@click.pass_context
def check_cmd(ctx: click.Context, paths: tuple[str, ...], schema_path: str | None) -> None:
    """Fail (exit 5) when a pinned ORM file (PATHS, default: every pinned .prisma/.ts file
    in the project) no longer matches the schema."""
    out = output(ctx)
    result = check(list(paths) or None, schema_path)
    if not result.files:
        out.info("no pinned files found (wesley transform --target prisma,drizzle writes them)")
    for f in result.files:
        out.info(f"ok {f.path} ({f.target}, ir_hash {f.pinned_hash[:12]})")
    out.result(
        {
            "ir_hash": result.ir_hash,
            "files": [
                {"path": f.path, "target": f.target, "status": f.status} for f in result.files
            ],
        }
    )
