"""`wesley drift --dsn`: a live database compared with the schema (or the last deploy)."""

from __future__ import annotations

from pathlib import Path

import click

from wesley.api import DriftResult, WesleyError, drift
from wesley.cli.common import global_options, output
from wesley.cli.output import Output
from wesley.files import write_atomic


@click.command("drift")
@click.option("--dsn", required=True, help="The database to compare.")
@click.option(
    "--schema", "schema_path", help="The SDL file, - for stdin (default: from wesley.toml)."
)
@click.option(
    "--deployed",
    is_flag=True,
    help="Compare with the last deploy's snapshot (.wesley/deployed.json), not the schema.",
)
@click.option("--report", "report", help="Also write the Markdown report to this file.")
@global_options
@click.pass_context
def drift_cmd(
    ctx: click.Context, dsn: str, schema_path: str | None, deployed: bool, report: str | None
) -> None:
    """Compare a live database with the schema: Markdown report, exit 0 when equal, exit 5
    (DRIFT) listing every difference when not."""
    out = output(ctx)
    try:
        result = drift(dsn, schema_path, deployed=deployed)
    except WesleyError as err:
        if isinstance(err.result, DriftResult):
            _report(out, err.result, report)
        raise
    _report(out, result, report)
    out.result(
        {
            "database": result.database,
            "against": result.against,
            "ir_hash": result.ir_hash,
            "equal": True,
            "drift": [],
        }
    )


def _report(out: Output, result: DriftResult, path: str | None) -> None:
    """The Markdown report on stdout (with --json the document says it all) and in `path`."""
    text = result.markdown()
    if path:
        write_atomic(Path(path), text)
    out.info(text.rstrip("\n"))
