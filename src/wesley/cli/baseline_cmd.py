"""`wesley baseline --dsn`: adopt a database that already matches the schema."""

from __future__ import annotations

import click

from wesley.api import baseline
from wesley.cli.common import global_options, output


@click.command("baseline")
@click.option("--dsn", required=True, help="The database to adopt.")
@click.option(
    "--schema",
    "schema_path",
    help="The SDL file it was built from, - for stdin (default: from wesley.toml).",
)
@click.option("--wait", is_flag=True, help="Wait for another run's migration lock.")
@global_options
@click.pass_context
def baseline_cmd(ctx: click.Context, dsn: str, schema_path: str | None, wait: bool) -> None:
    """Adopt a database that already matches the schema (exit 5 listing what differs)."""
    out = output(ctx)
    result = baseline(dsn, schema_path, wait=wait)
    out.info(
        f"adopted {result.database}: it matches the schema ({result.tables} tables, ir_hash "
        f"{result.ir_hash[:12]}); recorded as run {result.run_id} in wesley.migration_runs "
        f"and in {result.snapshot}"
    )
    out.info("next: change the schema, then rehearse, certify and deploy as usual")
    out.result(
        {
            "database": result.database,
            "ir_hash": result.ir_hash,
            "run_id": result.run_id,
            "snapshot": result.snapshot,
        }
    )
