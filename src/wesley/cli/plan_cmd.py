"""`wesley plan`: the old schema (--from, --from-db, or the last deploy's snapshot) → the new
one, as a phased zero-downtime migration. Exit 5 when it holds destructive changes and
--allow-destructive was not given, or changes that cannot work on the data as it is (with
--from-db, the rows that are in the way are counted)."""

from __future__ import annotations

import shutil

import click

from wesley.api import PlanResult
from wesley.api import plan as make_plan
from wesley.cli.common import global_options, output
from wesley.cli.output import Output
from wesley.cli.run_options import run_options, run_settings
from wesley.config import load_config
from wesley.errors import WesleyError
from wesley.plan.build import DEFAULT_BATCH_SIZE
from wesley.plan.explain import DEFAULT_WIDTH


def server_version_option(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> int | None:
    """`18` → 180000, `18.1` → 180001, `180001` as is (libpq's server_version_num form)."""
    if value is None:
        return None
    major, _, minor = value.strip().partition(".")
    if major.isdigit() and (not minor or minor.isdigit()):
        number = int(major)
        if number >= 10000 and not minor:
            return number
        if 10 <= number < 100:
            return number * 10000 + int(minor or 0)
    raise click.BadParameter(
        f"{value!r} is not a PostgreSQL version: write the major (18), major.minor (18.1) or "
        "the version number (180001)",
        ctx,
        param,
    )


@click.command("plan")
@click.option(
    "--schema", "schema_path", help="The new SDL file, - for stdin (default: from wesley.toml)."
)
@click.option(
    "--from",
    "from_path",
    help="The old schema: SDL, IR JSON or a snapshot "
    "(default: .wesley/deployed.json, written by the last deploy).",
)
@click.option("--from-db", "from_db", help="Introspect the old schema from this database.")
@click.option(
    "--explain", "show_explain", is_flag=True, help="Each step with its locks, risk and why."
)
@click.option(
    "--wide", is_flag=True, help="With --explain: one full line per step, whatever the width."
)
@click.option("--allow-destructive", is_flag=True, help="Plan destructive changes too.")
@click.option(
    "--batch-size",
    type=click.IntRange(1),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Rows per backfill batch.",
)
@click.option(
    "--server-version",
    callback=server_version_option,
    metavar="VERSION",
    help="Target PostgreSQL version: 18, 18.1 or 180001 (default: the --from-db server's, "
    "else 15). Lock facts are predicted for it.",
)
@click.option(
    "--write",
    "write_dir",
    type=click.Path(file_okay=False),
    help="Also write the plan as numbered SQL files per phase into this directory.",
)
@click.option(
    "--sql",
    "sql_path",
    help="Also write the plan as one psql script (guards, timeouts, batched backfills).",
)
@run_options
@global_options
@click.pass_context
def plan(
    ctx: click.Context,
    schema_path: str | None,
    from_path: str | None,
    from_db: str | None,
    show_explain: bool,
    wide: bool,
    allow_destructive: bool,
    batch_size: int,
    server_version: int | None,
    write_dir: str | None,
    sql_path: str | None,
    timeout_flags: dict[str, int | None],
) -> None:
    """Diff two schemas into a phased zero-downtime migration."""
    out = output(ctx)
    try:
        result = make_plan(
            schema_path,
            old=from_path,
            from_db=from_db,
            allow_destructive=allow_destructive,
            batch_size=batch_size,
            server_version=server_version,
            write_dir=write_dir,
            sql_path=sql_path,
            timeouts=run_settings(load_config(), timeout_flags)[0],
        )
    except WesleyError as err:
        if isinstance(err.result, PlanResult):  # refused: still shown, and saved
            _show(out, err.result, show_explain, wide, write_dir)
            if out.json_mode:  # one JSON document: the error, carrying the plan
                err.details["plan"] = err.result.plan.to_json_data()
        raise
    _show(out, result, show_explain, wide, write_dir)
    out.result({"plan": result.plan.to_json_data()})


def _show(
    out: Output, result: PlanResult, show_explain: bool, wide: bool, write_dir: str | None
) -> None:
    out.warn(result.warnings)
    the_plan = result.plan
    if not result.saved:
        out.log(
            "kept .wesley/plan.json: it holds the rehearsed plan the evidence (and a "
            "certificate) is made of; rehearse to replace it"
        )
    if write_dir is not None:
        out.info(f"wrote {len(result.files)} SQL files to {write_dir}: " + ", ".join(result.files))
    if show_explain or the_plan.empty:
        width = shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
        out.info(result.explain(width=width, wide=wide))
    else:
        counts = {p: len(s) for p, s in the_plan.by_phase().items() if s}
        out.info(
            f"plan {the_plan.plan_hash[:12]}: {len(the_plan.steps)} steps "
            + " · ".join(f"{p} {n}" for p, n in counts.items())
            + " (--explain for details)"
        )
