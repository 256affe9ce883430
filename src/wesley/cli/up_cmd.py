"""`wesley up --dsn`: bring a development database to the schema, without a certificate."""

from __future__ import annotations

import click

from wesley.api import up
from wesley.cli.common import global_options, output
from wesley.cli.progress import progress_for
from wesley.cli.run_options import run_options, run_settings
from wesley.config import load_config
from wesley.plan.build import DEFAULT_BATCH_SIZE


@click.command("up")
@click.option("--dsn", required=True, help="The development database.")
@click.option(
    "--schema", "schema_path", help="The SDL file, - for stdin (default: from wesley.toml)."
)
@click.option("--allow-destructive", is_flag=True, help="Apply destructive changes too.")
@click.option(
    "--batch-size",
    type=click.IntRange(1),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Rows per backfill batch.",
)
@click.option("--wait", is_flag=True, help="Wait for another run's migration lock.")
@run_options
@global_options
@click.pass_context
def up_cmd(
    ctx: click.Context,
    dsn: str,
    schema_path: str | None,
    allow_destructive: bool,
    batch_size: int,
    wait: bool,
    timeout_flags: dict[str, int | None],
) -> None:
    """Bring a development database to the schema (no certificate; exit 5 on destructive
    changes unless --allow-destructive)."""
    out = output(ctx)
    timeouts, pacing = run_settings(load_config(), timeout_flags)
    with progress_for(out) as progress:
        result = up(
            dsn,
            schema_path,
            allow_destructive=allow_destructive,
            timeouts=timeouts,
            pacing=pacing,
            batch_size=batch_size,
            wait=wait,
            progress=progress,
            meter=progress.meter,
        )
    if result.up_to_date:
        out.info(f"{result.database} is up to date with the schema (ir_hash {result.ir_hash[:12]})")
    else:
        out.info(
            f"up: {result.applied} of {len(result.plan.steps)} steps applied to "
            f"{result.database} (plan {result.plan.plan_hash[:12]}, ir_hash "
            f"{result.ir_hash[:12]})"
        )
    out.result(
        {
            "database": result.database,
            "ir_hash": result.ir_hash,
            "plan_hash": result.plan.plan_hash,
            "applied": result.applied,
            "up_to_date": result.up_to_date,
        }
    )
