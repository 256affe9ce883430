"""`wesley rehearse`: apply the plan on a shadow database with the real executor, observe its
locks, run the pgTAP suite; PASS exits 0, FAIL exits 13 naming the step or test."""

from __future__ import annotations

import click

from wesley.api import RehearseResult, rehearse
from wesley.cli.common import global_options, output, sigterm_as_interrupt
from wesley.cli.output import Output
from wesley.cli.progress import progress_for
from wesley.cli.run_options import run_options, run_settings
from wesley.config import load_config
from wesley.errors import WesleyError


@click.command("rehearse")
@click.option(
    "--schema", "schema_path", help="The new SDL file, - for stdin (default: from wesley.toml)."
)
@click.option(
    "--from",
    "from_path",
    help="The old schema (default: .wesley/deployed.json from the last deploy).",
)
@click.option(
    "--dsn",
    envvar="SHADOW_DSN",
    help="Shadow database (default: an ephemeral local cluster). Also read from SHADOW_DSN.",
)
@click.option("--fresh", is_flag=True, help="No old schema: rehearse creating everything.")
@click.option("--dry-run", is_flag=True, help="Execute nothing; record verdict DRY_RUN.")
@click.option("--timeout", "timeout_ms", type=click.IntRange(1), help="Bound the whole run (ms).")
@click.option(
    "--seed-rows",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Rows generated per table of the old schema before the plan runs.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1),
    default=1000,
    show_default=True,
    help="Rows per backfill batch (recorded in the plan and the certificate).",
)
@click.option(
    "--pg-bin",
    help="Server for the ephemeral shadow: embedded (the PostgreSQL 18 wheel), system, or a "
    "bin directory (default: WESLEY_PG_BIN, then [postgres] bin in wesley.toml, then the "
    "machine's PostgreSQL, else the embedded one).",
)
@click.option("--allow-destructive", is_flag=True, help="Rehearse destructive changes too.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run (with --dsn).")
@click.option("--wait", is_flag=True, help="Wait for another run's migration lock.")
@run_options
@global_options
@click.pass_context
def rehearse_cmd(
    ctx: click.Context,
    schema_path: str | None,
    from_path: str | None,
    dsn: str | None,
    fresh: bool,
    dry_run: bool,
    timeout_ms: int | None,
    seed_rows: int,
    batch_size: int,
    pg_bin: str | None,
    allow_destructive: bool,
    resume: bool,
    wait: bool,
    timeout_flags: dict[str, int | None],
) -> None:
    """Apply the plan on a shadow database, observe locks, run pgTAP."""
    out = output(ctx)
    timeouts, pacing = run_settings(load_config(), timeout_flags)
    try:
        with sigterm_as_interrupt(), progress_for(out) as progress:
            result = rehearse(
                schema_path,
                old=from_path,
                fresh=fresh,
                dsn=dsn,
                dry_run=dry_run,
                timeout_ms=timeout_ms,
                timeouts=timeouts,
                pacing=pacing,
                seed_rows=seed_rows,
                batch_size=batch_size,
                allow_destructive=allow_destructive,
                resume=resume,
                wait=wait,
                pg_bin=pg_bin,
                progress=progress,
                meter=progress.meter,
                seed_report=progress.seed,
            )
    except WesleyError as err:
        failed = err.result
        if isinstance(failed, RehearseResult):
            _show(out, failed)
            if out.json_mode:
                err.details["realm"] = failed.realm.to_json_data()
        raise
    _show(out, result)
    out.result({"realm": result.realm.to_json_data()})


def _show(out: Output, result: RehearseResult) -> None:
    out.warn(result.warnings)
    for note in result.realm.notes:
        out.info(f"note: {note}")
    out.info(result.summary())
    if len(result.realm.rehearsals) > 1:
        out.info(
            "rehearsed on: "
            + ", ".join(f"PostgreSQL {r.major} {r.verdict}" for r in result.realm.rehearsals)
        )
