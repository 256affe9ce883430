"""`wesley rehearse`: apply the plan on a shadow database with the real executor, observe its
locks, run the pgTAP suite; PASS exits 0, FAIL exits 13 naming the step or test."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from types import FrameType

import click

from wesley.cli.common import global_options, output
from wesley.cli.plan_cmd import BUNDLE_DIR, deployed_ir, load_ir_file
from wesley.cli.progress import progress_for
from wesley.cli.run_options import run_options, run_settings
from wesley.config import load_config
from wesley.errors import ExitCode, WesleyError
from wesley.files import read_schema_file, write_atomic
from wesley.holmes.moriarty import check_config, record_rehearsal
from wesley.ir import IR
from wesley.realm.rehearse import RehearseOptions, rehearse
from wesley.sdl import parse_sdl


def _sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # so the ephemeral cluster is torn down as on Ctrl-C


@click.command("rehearse")
@click.option("--schema", "schema_path", help="The new SDL file (default: from wesley.toml).")
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
    allow_destructive: bool,
    resume: bool,
    wait: bool,
    timeout_flags: dict[str, int | None],
) -> None:
    """Apply the plan on a shadow database, observe locks, run pgTAP."""
    out = output(ctx)
    config = load_config()
    check_config(config.raw)
    options = config.parse_options()
    timeouts, pacing = run_settings(config, timeout_flags)
    schema_file = schema_path or config.schema
    parsed = parse_sdl(read_schema_file(schema_file), schema_file, options)
    out.warn(parsed.warnings)
    old: IR | None = None
    if fresh:
        old = None
    elif from_path:
        old = load_ir_file(from_path, options)
    else:
        old = deployed_ir(options)
    previous = signal.signal(signal.SIGTERM, _sigterm)
    try:
        with progress_for(out) as progress:
            realm, plan = rehearse(
                old,
                parsed.ir,
                RehearseOptions(
                    dsn=dsn or None,
                    allow_destructive=allow_destructive,
                    seed_rows=seed_rows,
                    dry_run=dry_run,
                    timeout_ms=timeout_ms,
                    timeouts=timeouts,
                    pacing=pacing,
                    batch_size=batch_size,
                    resume=resume,
                    wait=wait,
                    progress=progress,
                ),
            )
    finally:
        signal.signal(signal.SIGTERM, previous)
    data = realm.to_json_data()
    write_atomic(BUNDLE_DIR / "realm.json", json.dumps(data, indent=2, sort_keys=True) + "\n")
    write_atomic(
        BUNDLE_DIR / "plan.json", json.dumps(plan.to_json_data(), indent=2, sort_keys=True) + "\n"
    )
    noted = record_rehearsal(BUNDLE_DIR, parsed.ir, plan, realm, config.raw)
    out.warn([noted] if noted else [])
    applied = sum(1 for s in realm.steps if s.status == "applied")
    out.info(
        f"[REALM] {realm.verdict} — {applied}/{len(plan.steps)} steps applied, pgTAP "
        f"{realm.tests.passed}/{realm.tests.planned} passed, "
        f"{realm.timings.get('total_ms', 0)} ms on {realm.database}"
    )
    if realm.failure is None:
        out.result({"realm": data})
        return
    err = WesleyError(
        realm.failure.code,
        realm.failure.message,
        realm.failure.hint,
        exit_code=ExitCode.EXECUTION_FAILED,
        details={"realm": str(Path(BUNDLE_DIR / "realm.json"))},
    )
    if out.json_mode:
        err.details["realm"] = data
    raise err
