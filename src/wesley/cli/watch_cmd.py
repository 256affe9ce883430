"""`wesley watch`: transform again (and with --dsn, `up`) whenever the schema changes."""

from __future__ import annotations

import click

from wesley.api import Round, watch
from wesley.cli.common import global_options, output
from wesley.cli.output import Output


@click.command("watch")
@click.option("--schema", "schema_path", help="The SDL file to watch (default: from wesley.toml).")
@click.option("--dsn", help="Also bring this development database to the schema (wesley up).")
@click.option("--allow-destructive", is_flag=True, help="With --dsn: apply destructive changes.")
@click.option(
    "--debounce",
    "debounce_ms",
    type=click.IntRange(10),
    default=300,
    show_default=True,
    help="Wait this long (ms) for more changes before running.",
)
@global_options
@click.pass_context
def watch_cmd(
    ctx: click.Context,
    schema_path: str | None,
    dsn: str | None,
    allow_destructive: bool,
    debounce_ms: int,
) -> None:
    """Re-run transform (and `up` with --dsn) when the schema changes; Ctrl-C stops."""
    out = output(ctx)
    out.log("watching; Ctrl-C stops")
    rounds = watch(
        schema_path,
        dsn=dsn,
        allow_destructive=allow_destructive,
        on_round=lambda r: _show(out, r),
        debounce_ms=debounce_ms,
    )
    out.log(f"stopped after {rounds} runs")


def _show(out: Output, r: Round) -> None:
    why = f"changed: {', '.join(r.changed)}" if r.changed else "start"
    if r.transform is not None:
        t = r.transform
        written = sum(1 for a in [*t.artifacts, *t.evidence] if a.changed)
        out.info(
            f"[{r.number}] {why}: transform: {t.tables} tables, ir_hash "
            f"{t.ir_hash[:12]}, {written} files written"
        )
        out.warn(t.warnings)
    if r.up is not None:
        state = "up to date" if r.up.up_to_date else f"{r.up.applied} steps applied"
        out.info(f"[{r.number}] up: {r.up.database} {state}")
    if r.error is not None:
        out.info(f"[{r.number}] {why}: {r.error.code}: still watching")
        out.error(r.error)
