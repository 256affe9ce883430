"""`wesley plan`: the old schema (--from, --from-db, or the last deploy's snapshot) → the new
one, as a phased zero-downtime migration. Exit 5 when it holds destructive changes and
--allow-destructive was not given, or changes that cannot work on the data as it is (with
--from-db, the rows that are in the way are counted)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click
import psycopg

from wesley.api.plan_files import write_plan_files
from wesley.api.records import BUNDLE_DIR
from wesley.api.schema import deployed_ir, load_ir_file
from wesley.cli.common import global_options, output
from wesley.cli.run_options import run_options, run_settings
from wesley.config import load_config
from wesley.db.dsn import check_dsn, connect_error
from wesley.db.facts import gather
from wesley.db.introspect import introspect
from wesley.db.session import connect
from wesley.errors import ExitCode, WesleyError, input_error
from wesley.files import read_schema_file, schema_location, write_atomic
from wesley.ir import IR
from wesley.plan.build import DEFAULT_BATCH_SIZE, DEFAULT_SERVER_VERSION, build_plan
from wesley.plan.explain import DEFAULT_WIDTH, VersionSource, explain
from wesley.plan.facts import Facts
from wesley.plan.models import Plan
from wesley.plan.script import plan_script
from wesley.sdl import parse_sdl


def old_ir_from_db(dsn: str, new: IR | None = None) -> tuple[IR, int, Facts]:
    """The live schema, the server version, and (given the new schema) the row counts that
    decide whether its changes can work."""
    check_dsn(dsn)
    try:
        with connect(dsn, autocommit=False) as conn:  # one snapshot for the whole catalog
            old = introspect(conn)
            facts = gather(conn, old, new) if new is not None else Facts()
            return old, conn.info.server_version, facts
    except psycopg.OperationalError as exc:
        raise connect_error(exc, dsn) from None


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


def make_plan(
    schema: str | None,
    from_path: str | None,
    from_db: str | None,
    allow_destructive: bool,
    batch_size: int,
    server_version: int | None,
) -> tuple[Plan, list[object], VersionSource]:
    config = load_config()
    options = config.parse_options()
    schema_file = schema or config.schema
    result = parse_sdl(read_schema_file(schema_file), schema_location(schema_file), options)
    if from_path and from_db:
        raise input_error("USAGE", "--from and --from-db exclude each other", "pick one")
    version = server_version or DEFAULT_SERVER_VERSION
    source: VersionSource = "given" if server_version else "assumed"
    old: IR | None = None
    facts: Facts | None = None
    if from_db:
        old, live_version, facts = old_ir_from_db(from_db, result.ir)
        version = server_version or live_version
        source = "given" if server_version else "database"
    elif from_path:
        old = load_ir_file(from_path, options)
    else:
        old = deployed_ir(options)
    plan = build_plan(
        old,
        result.ir,
        server_version=version,
        allow_destructive=allow_destructive,
        batch_size=batch_size,
        data=facts,
    )
    return plan, list(result.warnings), source


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
    timeouts, _pacing = run_settings(load_config(), timeout_flags)
    the_plan, warnings, source = make_plan(
        schema_path, from_path, from_db, allow_destructive, batch_size, server_version
    )
    out.warn(warnings)  # type: ignore[arg-type]
    write_atomic(
        BUNDLE_DIR / "plan.json",
        json.dumps(the_plan.to_json_data(), indent=2, sort_keys=True) + "\n",
    )
    if sql_path:
        write_atomic(Path(sql_path), plan_script(the_plan, timeouts))
    if write_dir is not None:
        written = write_plan_files(the_plan, Path(write_dir), timeouts)
        out.info(f"wrote {len(written)} SQL files to {write_dir}: " + ", ".join(written))
    if show_explain or the_plan.empty:
        width = shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
        out.info(explain(the_plan, width=width, wide=wide, version=source))
    else:
        counts = {p: len(s) for p, s in the_plan.by_phase().items() if s}
        out.info(
            f"plan {the_plan.plan_hash[:12]}: {len(the_plan.steps)} steps "
            + " · ".join(f"{p} {n}" for p, n in counts.items())
            + " (--explain for details)"
        )
    refused = the_plan.refused
    if out.json_mode and not refused:
        out.result({"plan": the_plan.to_json_data()})
    if refused:
        blocked = the_plan.blocked
        names = "; ".join(
            f"{r.change} {'.'.join(x for x in (r.table, r.column) if x)}: {r.risk}"
            for r in (blocked or the_plan.destructive)
        )
        err = (
            WesleyError(
                "PLAN_BLOCKED",
                f"the plan cannot reach the new schema with the data as it is: {names}",
                "nothing is planned for them; change the data (or the schema), then plan again",
                exit_code=ExitCode.REFUSED,
            )
            if blocked
            else WesleyError(
                "PLAN_DESTRUCTIVE",
                f"the plan holds destructive changes: {names}",
                "nothing is planned for them; review, then rerun with --allow-destructive",
                exit_code=ExitCode.REFUSED,
            )
        )
        if out.json_mode:  # one JSON document: the error, carrying the plan
            err.details["plan"] = the_plan.to_json_data()
        raise err
