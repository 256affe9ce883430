"""`wesley rehearse`: apply the plan on a shadow database with the real executor, observe its
locks, run the pgTAP suite; PASS exits 0, FAIL exits 13 naming the step or test."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from types import FrameType
from typing import Any

import click

from wesley.cli.common import global_options, output
from wesley.cli.plan_cmd import BUNDLE_DIR, deployed_ir, load_ir_file
from wesley.cli.progress import progress_for
from wesley.cli.run_options import run_options, run_settings
from wesley.config import load_config
from wesley.errors import ExitCode, WesleyError, input_error
from wesley.files import read_schema_file, schema_location, write_atomic
from wesley.holmes.moriarty import check_config, record_rehearsal
from wesley.ir import IR
from wesley.realm.models import Realm
from wesley.realm.rehearse import RehearseOptions, rehearse
from wesley.sdl import parse_sdl


def _pg_bin_choice(flag: str | None, raw: dict[str, Any]) -> tuple[str | None, str]:
    """The shadow's server: --pg-bin, else WESLEY_PG_BIN, else `[postgres] bin`."""
    if flag:
        return flag, "--pg-bin"
    if os.environ.get("WESLEY_PG_BIN"):
        return os.environ["WESLEY_PG_BIN"], "WESLEY_PG_BIN"
    section = raw.get("postgres", {})
    value = section.get("bin") if isinstance(section, dict) else None
    if value is not None and not isinstance(value, str):
        raise input_error(
            "CONFIG_INVALID",
            f"wesley.toml: [postgres] bin = {value!r}",
            'use "embedded", "system" or the path of a PostgreSQL bin directory',
        )
    return value or None, "[postgres] bin in wesley.toml"


def _previous_realm() -> Realm | None:
    """The last rehearsal's realm.json, for its rehearsals on other majors; None if absent or
    unreadable (then only this run's rehearsal is recorded)."""
    path = BUNDLE_DIR / "realm.json"
    try:
        return Realm.model_validate_json(path.read_bytes())
    except (OSError, ValueError):
        return None


def _sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # so the ephemeral cluster is torn down as on Ctrl-C


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
    config = load_config()
    check_config(config.raw)
    options = config.parse_options()
    timeouts, pacing = run_settings(config, timeout_flags)
    schema_file = schema_path or config.schema
    parsed = parse_sdl(read_schema_file(schema_file), schema_location(schema_file), options)
    out.warn(parsed.warnings)
    old: IR | None = None
    if fresh:
        old = None
    elif from_path:
        old = load_ir_file(from_path, options)
    else:
        old = deployed_ir(options)
    if pg_bin and dsn:
        raise input_error(
            "USAGE",
            "--pg-bin chooses the server of the ephemeral shadow, and --dsn gives a shadow",
            "drop one of them",
        )
    choice, source = _pg_bin_choice(pg_bin, config.raw)
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
                    pg_bin=choice,
                    pg_bin_source=source,
                    previous=_previous_realm(),
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
    for note in realm.notes:
        out.info(f"note: {note}")
    applied = sum(1 for s in realm.steps if s.status == "applied")
    version = (
        f" (PostgreSQL {realm.server_version // 10000}.{realm.server_version % 10000})"
        if realm.server_version
        else ""
    )
    out.info(
        f"[REALM] {realm.verdict} — {applied}/{len(plan.steps)} steps applied, pgTAP "
        f"{realm.tests.passed}/{realm.tests.planned} passed, "
        f"{realm.timings.get('total_ms', 0)} ms on {realm.database}{version}"
    )
    if len(realm.rehearsals) > 1:
        out.info(
            "rehearsed on: "
            + ", ".join(f"PostgreSQL {r.major} {r.verdict}" for r in realm.rehearsals)
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
